"""Browser tests: Playwright (sync API) driving Debian's headless Chromium at /usr/bin/chromium.

Nothing here downloads a browser. If Chromium is missing or cannot start, the tests FAIL with the
reason (install it with `make browser-deps`); they are never skipped.

Fixtures:
- `browser`: one Chromium per module;
- `gateway_server`: a real uvicorn process (console + data plane) on the test database;
- `page`: a fresh browser context and page per test, collecting JavaScript errors (uncaught exceptions
  and console errors) on every page it visits; `page.js_errors.assert_clean()` asserts there are none.
A failed test leaves a full-page screenshot under var/test-artifacts/browser/.
"""
from __future__ import annotations

import os
import re

import httpx
import pytest
import redis
from django.conf import settings

from tests.servers import ROOT, GatewayServer, wait_until

CHROMIUM = os.environ.get("SWITCHYARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"
TIMEOUT_MS = 15_000



@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.fail(f"the Python package playwright is not installed (pip install -e '.[dev]'): {exc}")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser-deps` "
                    "(apt-get install chromium chromium-driver); browser tests never download a browser")
    # Playwright's sync API runs its event loop in a greenlet of this thread, which trips Django's
    # "async unsafe" guard on ORM calls the test itself makes. Only while this module's browser is
    # up, and only in this process: `gateway_server` removes it from the server's environment.
    allow_before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # launch() gives Chromium a fresh, empty --user-data-dir of its own (a temporary profile) each time.
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                             timeout=60_000)
    except PlaywrightError as exc:
        playwright.stop()
        _restore_env("DJANGO_ALLOW_ASYNC_UNSAFE", allow_before)
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {exc}")
    yield browser
    browser.close()
    playwright.stop()
    _restore_env("DJANGO_ALLOW_ASYNC_UNSAFE", allow_before)


def _restore_env(name, value):
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()  # a fresh config version and usage stream per test
    yield client
    client.flushdb()


@pytest.fixture
def gateway_server(transactional_db, redis_client):
    """The whole gateway (console and data plane) in a real process, so the browser talks to both."""
    server = GatewayServer(SECURE_COOKIES="0")  # plain http on 127.0.0.1: no Secure cookies
    server.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    with server:
        yield server


# Known product issues, each to be fixed and then removed from here (never a broad pattern):
# - the console's layout has no <link rel="icon">, so Chromium's automatic /favicon.ico request
#   gets a 404 and logs "Failed to load resource" on every page.
KNOWN_CONSOLE_ERRORS = [re.compile(r"^Failed to load resource: the server responded with a status of 404 .*"
                                   r"\(http://127\.0\.0\.1:\d+/favicon\.ico\)$")]


class JsErrors:
    """Uncaught page errors and console errors, with the page they happened on."""

    def __init__(self):
        self.errors: list[str] = []
        self.visited: list[str] = []

    def attach(self, page):
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror on {page.url}: {exc}"))
        page.on("console", lambda msg: self._console(page, msg))
        page.on("framenavigated", lambda frame: frame == page.main_frame and self.visited.append(frame.url))

    def _console(self, page, msg):
        if msg.type != "error":
            return
        text = f"{msg.text} ({msg.location.get('url', '')})"
        if not any(pattern.match(text) for pattern in KNOWN_CONSOLE_ERRORS):
            self.errors.append(f"console error on {page.url}: {text}")

    def assert_clean(self):
        assert self.visited, "no page was visited"
        assert not self.errors, "JavaScript errors:\n" + "\n".join(self.errors)


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # a laptop screen
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.js_errors = JsErrors()
    page.js_errors.attach(page)
    yield page
    reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
    # An expected failure (xfail) counts as failed here: it gets its screenshot, and no second report.
    failed = any(r is not None and (r.failed or hasattr(r, "wasxfail")) for r in reports)
    if failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            (ARTIFACTS / f"{name}.html").write_text(page.content())
            print(f"\nbrowser artifacts: {ARTIFACTS / name}.png (page {page.url})")
        except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the test's own failure
            print(f"\nno screenshot: {exc}")
    context.close()
    # The page's JS errors are asserted by each test; a test that forgot still must not pass silently.
    if not failed and page.js_errors.errors:
        pytest.fail("JavaScript errors:\n" + "\n".join(page.js_errors.errors))


def wait_until_key_is_live(server, secret, model, timeout=5.0):
    """The data plane reads keys and routes from a snapshot refreshed within ~0.5 s of a change
    (gateway/dataplane/runtime.py); wait for it instead of racing it."""
    def answered():
        response = httpx.post(server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                              json={"model": model, "messages": [{"role": "user", "content": "ping"}]}, timeout=5)
        return response.status_code == 200
    assert wait_until(answered, timeout=timeout), f"the data plane did not accept the new key for {model!r}"


def sign_in(page, base_url, email, password, area="console"):
    """Sign in through the login form of the console or the developer portal."""
    page.goto(f"{base_url}/{area}/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf".*/{area}/(?!login/).*"))
    assert page.locator("#sign-out").is_visible(), "not signed in"

