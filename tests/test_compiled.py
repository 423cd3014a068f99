"""The two forms of the core: pure Python by default, mypyc-compiled on request (setup.py).

``.ci/compiled`` runs the whole suite against the compiled build with
``PAPER_EXCHANGE_EXPECT_COMPILED=1``: then every module setup.py compiles must load as an
extension, so that the run cannot silently test the source tree instead. Otherwise (the
default install) every one of them must load from its .py file: no stray extension in the
source tree shadows the code under edit.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def compiled_modules() -> list[str]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "COMPILED":
            return list(ast.literal_eval(node.value))
    raise AssertionError("setup.py has no COMPILED list")


MODULES = compiled_modules()


def test_setup_compiles_files_that_exist() -> None:
    assert "matching/book.py" in MODULES and "exchange/core/venue.py" in MODULES
    for path in MODULES:
        assert (ROOT / path).is_file(), path


def test_the_default_build_needs_no_mypy() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert not [r for r in requires if "mypy" in r.lower()]
    assert 'os.environ.get("PAPER_EXCHANGE_MYPYC") == "1"' in (ROOT / "setup.py").read_text()


@pytest.mark.parametrize("path", MODULES)
def test_each_module_loads_in_the_expected_form(path: str) -> None:
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    loaded = str(module.__file__)
    extension = loaded.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))
    if os.environ.get("PAPER_EXCHANGE_EXPECT_COMPILED") == "1":
        assert extension, f"{loaded}: the compiled run is importing the source"
    else:
        assert not extension, f"{loaded}: a compiled module where pure Python is expected"
