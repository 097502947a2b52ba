"""The shape of the code base, held by a test (STYLE §9.2, house-review §1 and §2.1).

* Layers point down: ``payouts → cooperatives → ledger``; nothing imports upward, not even inside a
  function.
* Flask and its extensions appear only in web modules (``*/web/*``, ``*/web.py``, ``*_web.py``), command
  modules (``cli.py``, ``*_cli.py``) and the app factory; WeasyPrint only in the statements renderer.
* The features of ``payouts`` (runs, statements, reports, oversight, admin) never import one another's web
  modules, and never the root modules but ``models`` and ``settings`` (the app, the CLI, Celery and WSGI
  entries import features, not the other way round).
* No import cycle between modules, counting imports inside functions (a lazy import hides a cycle; it
  does not remove it).
"""

from __future__ import annotations

import ast
import pathlib
from functools import cache

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("ledger", "cooperatives", "payouts")
FORBIDDEN = {"ledger": {"cooperatives", "payouts"}, "cooperatives": {"payouts"}, "payouts": set()}
FLASK = {"flask", "flask_babel", "flask_login", "flask_wtf", "flask_smorest", "flask_limiter", "werkzeug"}
FEATURES = ("runs", "statements", "batches", "reports", "oversight", "admin")
ROOT_MODULES_A_FEATURE_MAY_IMPORT = {"payouts.models", "payouts.settings"}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, pathlib.Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


@cache
def imports_of(name: str) -> tuple[str, ...]:
    """Every module ``name`` imports, anywhere in it (top level or inside a function)."""
    path = modules()[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.append(base)
            found += [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules()]
    return tuple(found)


def is_web(name: str) -> bool:
    parts = name.split(".")
    return "web" in parts or parts[-1] in ("cli", "app", "wsgi") or parts[-1].endswith(("_web", "_cli"))


def feature_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "payouts" and parts[1] in FEATURES else None


@pytest.mark.parametrize("package", PACKAGES)
def test_layers_only_import_downward(package):
    wrong = [(name, target) for name in modules() if name.split(".")[0] == package
             for target in imports_of(name) if target.split(".")[0] in FORBIDDEN[package]]
    assert wrong == []


def test_flask_only_in_web_and_command_modules_and_weasyprint_only_in_the_renderer():
    flask = [(name, t) for name in modules() for t in imports_of(name)
             if t.split(".")[0] in FLASK and not is_web(name)]
    weasy = [name for name in modules() for t in imports_of(name)
             if t.split(".")[0] == "weasyprint" and name != "payouts.statements.render"]
    assert flask == [] and weasy == []


def test_features_never_import_another_features_web_modules_nor_the_root():
    wrong = []
    for name in modules():
        feature = feature_of(name)
        if feature is None:
            continue
        for target in imports_of(name):
            other = feature_of(target)
            if other is not None and other != feature and is_web(target):
                wrong.append((name, target))
            root = target.split(".")[:2]
            if (target.startswith("payouts.") and feature_of(target) is None and len(root) == 2
                    and ".".join(root) not in ROOT_MODULES_A_FEATURE_MAY_IMPORT):
                wrong.append((name, target))
    assert wrong == []


def _cycle_from(start: str, graph: dict[str, set[str]]) -> list[str] | None:
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_no_import_cycles():
    names = set(modules())
    # a package's __init__ importing its own submodules (to register routes) is not a cycle of design
    graph = {name: {t for t in imports_of(name) if t in names and t != name and not t.startswith(name + ".")}
             for name in names}
    cycles = {tuple(sorted(c)) for name in names if (c := _cycle_from(name, graph))}
    assert cycles == set()
