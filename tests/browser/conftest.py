"""Browser fixtures: the real app under `streamlit run`, driven by the system Chromium.

Playwright's own browser download is not used: the tests launch the Chromium
that the OS package manager installed (`.ci/run` installs it) at
/usr/bin/chromium, or wherever QUANT_CHROMIUM points. Without it the tests skip
with a message, unless QUANT_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SERVER_START_SECONDS = 90


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"streamlit exited with status {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)  # polling interval of a readiness probe, not a wait for page state
    pytest.fail(f"streamlit did not answer /_stcore/health within {SERVER_START_SECONDS} s:\n"
                f"{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """`streamlit run app.py` on a free port, healthy before the first test uses it."""
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false",
               # Nothing edits app.py during a run: without watchdog, Streamlit would poll every
               # module the app imports for changes, on the cores the tests need.
               "--server.fileWatcherType", "none"]
    with open(log, "w") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    try:
        _wait_until_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


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
