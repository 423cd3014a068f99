"""A Binance-signing client for the in-process tests (the facade through the ASGI app)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient

from tests.exchange.server.conftest import Server


class Bot:
    def __init__(self, client: TestClient, user: dict[str, Any]) -> None:
        self.client = client
        self.user = user["user"]
        self.api_key = user["api_key"]
        self.secret = user["secret"]

    def call(self, method: str, path: str, params: dict[str, Any] | None = None, *,
             body: bool | None = None, timestamp: int | None = None,
             secret: str | None = None, key: str | None = None, sign: bool = True) -> Any:
        values = {k: ("true" if v is True else "false" if v is False else v)
                  for k, v in (params or {}).items()}
        if sign:
            values.setdefault("timestamp", timestamp or time.time_ns() // 1_000_000)
        query = urlencode(values)
        if sign:
            signature = hmac.new((secret or self.secret).encode(), query.encode(),
                                 hashlib.sha256).hexdigest()
            query = f"{query}&signature={signature}" if query else f"signature={signature}"
        headers = {"X-MBX-APIKEY": key if key is not None else self.api_key}
        in_body = body if body is not None else method in ("POST", "PUT")
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self.client.request(method, path, content=query, headers=headers)
        return self.client.request(method, f"{path}?{query}" if query else path,
                                   headers=headers)

    def ok(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        answer = self.call(method, path, params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def error(self, method: str, path: str, params: dict[str, Any] | None = None,
              **kwargs: Any) -> tuple[int, int, str]:
        answer = self.call(method, path, params, **kwargs)
        body = answer.json()
        assert set(body) == {"code", "msg"}, body
        assert isinstance(body["code"], int) and body["code"] < 0 and body["msg"], body
        return answer.status_code, body["code"], body["msg"]


def bot(server: Server, name: str, deposit: str = "100000") -> Bot:
    answer = server.client.post("/api/v1/admin/users", json={"name": name, "deposit": deposit},
                                headers={"X-ADMIN-KEY": server.exchange.admin_key})
    assert answer.status_code == 200, answer.text
    return Bot(server.client, answer.json())
