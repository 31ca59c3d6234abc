"""Layer rules (README, Contributing), checked on the import statements of the product code."""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

import pytest

ROOTS = {name: Path(str(resources.files(name))) for name in ("widget_api", "knowledge")}


# Plain modules under the HTTP layer: they raise DomainError, the edge maps it (app, WebSocket).
BELOW_HTTP = ("tokens", "admission", "rate_limit", "sessions", "conversation", "crm_conversation")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str, under: str = "") -> list[Path]:
    return sorted((ROOTS[package] / under).rglob("*.py"))


def _offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.name}: {name}"
        for path in files
        for name in sorted(_imports(path))
        if name.split(".")[0] in forbidden or name.startswith(forbidden)
    ]


@pytest.mark.parametrize("package", ["widget_api", "knowledge"])
def test_product_code_never_imports_scripts_or_tests(package: str) -> None:
    assert _offenders(_modules(package), ("scripts", "tests")) == []


def test_knowledge_imports_neither_flask_sqlalchemy_nor_widget_api() -> None:
    assert _offenders(_modules("knowledge"), ("flask", "sqlalchemy", "widget_api")) == []


def test_the_local_engine_does_not_reach_into_the_relay() -> None:
    files = _modules("widget_api", "local_engine")
    assert _offenders(files, ("widget_api.relay", "flask")) == []


def test_the_relay_reaches_the_crm_and_tools_only_through_contracts() -> None:
    files = _modules("widget_api", "relay")
    forbidden = ("widget_api.crm", "widget_api.tools", "widget_api.crm_conversation", "sqlalchemy")
    assert _offenders(files, forbidden) == []


def test_tools_and_the_relay_never_import_flask() -> None:
    files = _modules("widget_api", "tools") + _modules("widget_api", "relay")
    assert _offenders(files, ("flask",)) == []


def test_code_below_http_raises_domain_errors_not_http_errors() -> None:
    below_http = [ROOTS["widget_api"] / f"{name}.py" for name in BELOW_HTTP]
    offenders = []
    for path in _modules("widget_api", "crm") + _modules("widget_api", "relay") + below_http:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "widget_api.errors":
                offenders += [f"{path.name}: {a.name}" for a in node.names if a.name == "ApiError"]
    assert offenders == []
