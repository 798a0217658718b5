"""Browser fixtures: the real app under `streamlit run`, driven by the system Chromium.

Playwright's own browser download is not used: the tests launch the Chromium
that the OS package manager installed (`.ci/run` installs it) at
/usr/bin/chromium, or wherever QUANT_CHROMIUM points. Without it the tests skip
with a message, unless QUANT_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SERVER_START_SECONDS = 90
FIRST_VISIT_SECONDS = 600  # a cold server on two shared cores


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: The page is ready for tests: the first results are in (the sample, at the default settings).
_FIRST_RESULTS = """() => {
    const imgs = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img')];
    const running = document.querySelector('[data-testid="stStatusWidget"]')?.innerText.includes('Running');
    return imgs.length === 5 && imgs.every(i => i.complete && i.naturalWidth > 0) && !running;
}"""


class Server:
    """The session's one `streamlit run serve.py` (app.py, its workers started with the server),
    started as soon as collection finds browser tests.

    The browser tests run last (tests/conftest.py), so the server starts, and a first
    visitor opens the default page, while the other tests run: the server's cold start
    (imports, the sample's three methods, and the UMAP compile the app starts in the
    background after its first results) overlaps with them instead of delaying the
    first browser test.
    """

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://localhost:{self.port}"
        self.log = Path(tempfile.mkdtemp(prefix="quant-streamlit-")) / "server.log"
        command = [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless", "true",
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--browser.gatherUsageStats", "false",
                   # Nothing edits app.py during a run: without watchdog, Streamlit would poll every
                   # module the app imports for changes, on the cores the tests need.
                   "--server.fileWatcherType", "none"]
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        self.first_visit_error: BaseException | None = None
        self.first_visit = threading.Thread(target=self._visit_once, name="first-visitor", daemon=True)
        self.first_visit.start()

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"streamlit exited with status {self.process.returncode}:\n"
                            f"{self.log.read_text()[-3000:]}")
            if self.healthy():
                return
            time.sleep(0.2)  # polling interval of a readiness probe, not a wait for page state
        pytest.fail(f"streamlit did not answer /_stcore/health within {SERVER_START_SECONDS} s:\n"
                    f"{self.log.read_text()[-3000:]}")

    def _visit_once(self) -> None:
        """Open the default page once and wait for its results, in a browser of this thread's own."""
        try:
            deadline = time.monotonic() + SERVER_START_SECONDS
            while not self.healthy():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    return  # the app_url fixture reports it, with the server's log
                time.sleep(0.2)  # readiness probe, as above
            if CHROMIUM.exists():
                asyncio.run(self._open_default_page())
        except BaseException as error:  # noqa: BLE001 — the tests themselves will meet any real fault
            self.first_visit_error = error

    async def _open_default_page(self) -> None:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                await page.goto(self.url, timeout=FIRST_VISIT_SECONDS * 1000)
                await page.wait_for_function(_FIRST_RESULTS, timeout=FIRST_VISIT_SECONDS * 1000)
            finally:
                await browser.close()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.first_visit.join(timeout=30)


_server: Server | None = None


def pytest_collection_finish(session):
    global _server
    if _server is None and not session.config.option.collectonly \
            and any(item.get_closest_marker("browser") for item in session.items):
        _server = Server()


def pytest_unconfigure(config):
    if _server is not None:
        _server.stop()


@pytest.fixture(scope="session")
def app_url():
    """The session's server, healthy and past its first page of results before the first test uses it."""
    global _server
    if _server is None:  # a browser test collected without the marker
        _server = Server()
    _server.wait_until_healthy()
    _server.first_visit.join(timeout=FIRST_VISIT_SECONDS)  # waits on the page's state (see _visit_once)
    return _server.url


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"browser tests need Chromium at {CHROMIUM} (e.g. `apt-get install chromium`)"
        if os.environ.get("QUANT_REQUIRE_BROWSER") == "1":
            pytest.fail(message + "; QUANT_REQUIRE_BROWSER=1 forbids skipping them")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def browser_context(browser):
    """One browser context for the session: its HTTP and code caches keep Streamlit's scripts.

    A fresh context per test downloaded and compiled the whole front end again, several
    seconds each on shared cores. Each test still gets a tab of its own, and each tab is its
    own Streamlit session (the session lives in the tab, not in a cookie), so tests don't see
    each other's uploads or settings.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=120_000)  # a cold cache computes three methods on shared cores
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    yield context
    context.close()


@pytest.fixture()
def page(browser_context, app_url):
    """A new tab for each test, in the session's context."""
    from playwright.sync_api import expect

    expect.set_options(timeout=120_000)
    page = browser_context.new_page()
    page.set_default_timeout(120_000)
    yield page
    page.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
