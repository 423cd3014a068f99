"""A Binance USDⓈ-M futures compatible facade over the same venue: REST under /fapi (and the
two /sapi lookups ccxt makes), websocket streams under /fstream. Bots written for Binance, and
ccxt's ``binanceusdm`` / ccxt.pro, connect by changing their base URLs (see README.md here)."""

from exchange.server.binance.mount import install

__all__ = ["install"]
