"""The hot path stays outside Django's request stack and the ORM (DESIGN.md, STYLE.md)."""
import ast
from pathlib import Path

DATAPLANE = Path(__file__).resolve().parents[3] / "gateway" / "dataplane"
FORBIDDEN = ("django.http", "django.contrib.sessions", "django.db.models", "gateway.models", "billing.models")
# Off the request path: builds snapshots in a worker thread.
ALLOWED = {"snapshot_builder.py"}


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_it_keeps_django_requests_and_the_orm_off_the_hot_path():
    offenders = []
    for path in DATAPLANE.rglob("*.py"):
        if path.name in ALLOWED:
            continue
        for module in imported_modules(path):
            if module.startswith(FORBIDDEN):
                offenders.append(f"{path.relative_to(DATAPLANE)} imports {module}")
    assert not offenders, offenders
