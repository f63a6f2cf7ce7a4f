"""The reliability suite (issue 14, RELIABILITY.md B5, B6, B8): its fixtures and its report table.

Every test here is marked `reliability`; `make reliability` runs them at RELIABILITY_SCALE=full,
`make test` at the default ci scale. The table is printed at the end and written to
$SWITCHYARD_VAR_DIR/reliability-report.md.
"""
from pathlib import Path

import pytest
from django.conf import settings

from tests.fakes.fixtures import fake_anthropic, fake_openai  # noqa: F401
from tests.integration.dataplane.conftest import api_key, redis_client, tenant  # noqa: F401
from tests.reliability import scale
from tests.reliability.report import Recorder, Report
from tests.reliability.stack import PrivateStack

_REPORT = Report(scale.current().name)


@pytest.fixture
def reliability_report(request) -> Recorder:
    return Recorder(_REPORT, request.node.nodeid)


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory):
    """Server, worker and beat on PostgreSQL and Redis of their own, started once for the session."""
    stack = PrivateStack(tmp_path_factory.mktemp("private-stack"))
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        _REPORT.outcomes[item.nodeid] = "FAIL" if report.when == "call" else "error"
    elif report.when == "call" and report.passed:
        _REPORT.outcomes.setdefault(item.nodeid, "pass")
    return report


def pytest_terminal_summary(terminalreporter):
    if not _REPORT.rows:
        return
    table = _REPORT.markdown()
    terminalreporter.section(f"reliability report (RELIABILITY_SCALE={_REPORT.scale_name})")
    terminalreporter.write_line(table)
    path = Path(settings.VAR_DIR) / "reliability-report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"RELIABILITY_SCALE={_REPORT.scale_name}\n\n{table}\n")
    terminalreporter.write_line(f"(written to {path})")
