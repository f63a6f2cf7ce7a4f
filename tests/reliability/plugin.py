"""The reliability report as a pytest plugin (`-p tests.reliability.plugin` in pyproject's addopts),
so tests outside tests/reliability/ marked `reliability` (read timeouts, refused-request memory,
schemathesis) add their rows too. The table is printed at the end of the run and written to
$SWITCHYARD_VAR_DIR/reliability-report.md; under pytest-xdist (`make test`) each worker keeps its
own rows and the controller has none to print, so the table comes from `make reliability`.
"""
from pathlib import Path

import pytest

from tests.reliability import scale
from tests.reliability.report import Recorder, Report

_REPORT = Report(scale.current().name)


@pytest.fixture
def reliability_report(request) -> Recorder:
    return Recorder(_REPORT, request.node.nodeid)


@pytest.fixture(scope="module")
def module_report(request) -> Recorder:
    """For rows that sum a module's many tests (one row, judged by the test that records it)."""
    return Recorder(_REPORT, request.node.nodeid)


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
    from django.conf import settings

    table = _REPORT.markdown()
    terminalreporter.section(f"reliability report (RELIABILITY_SCALE={_REPORT.scale_name})")
    terminalreporter.write_line(table)
    path = Path(settings.VAR_DIR) / "reliability-report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"RELIABILITY_SCALE={_REPORT.scale_name}\n\n{table}\n")
    terminalreporter.write_line(f"(written to {path})")
