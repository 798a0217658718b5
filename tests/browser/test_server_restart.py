"""A server restart with the page open (issue 15, item 7).

The first click after the reconnect is usually lost, and why: after a restart
the browser reconnects to a new session whose first run comes from that first click. Streamlit calls a
widget's ``on_change`` only if the widget was created in an earlier run of
the same session (`SessionState._call_callbacks` skips widgets without
metadata), so the quick pick's callback never runs; and the session's first
run seeds the widgets from the URL (`link.restore_settings`), which still
says the old k. The click was lost in 7 of 8 tries (once it landed, when
the new session's first run came before it). A fix needs the values the
browser sent before the widgets exist in the run, which Streamlit's public API
doesn't give: derive a clicked pick without a callback, and let a first run
keep the values the browser sent.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import ROOT, _free_port
from helpers import pick_k, wait_for_results
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

_CONNECTION_ERROR = "() => document.body.innerText.includes('Connection error')"
_RUNNING = "document.querySelector('[data-testid=\"stStatusWidget\"]')?.innerText.includes('Running')"


def start_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "serve.py", "--server.headless", "true", "--server.port",
         str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2):
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)  # readiness probe
    server.kill()
    raise AssertionError("the restarted server did not answer")


def test_after_a_restart_the_page_reconnects_and_takes_clicks(page):
    """The page comes back by itself after a restart, and from its second interaction on, a pick is applied.

    The first pick clicked after the reconnect is usually dropped (see the module docstring): it is
    clicked here but not asserted, since it lands at times, and a test of it could only be flaky.
    """
    port = _free_port()
    server = start_server(port)
    try:
        page.goto(f"http://localhost:{port}/?k=8")
        wait_for_results(page)
        server.terminate()
        server.wait()
        page.wait_for_function(_CONNECTION_ERROR)
        server = start_server(port)
        page.wait_for_function(f"() => !({_CONNECTION_ERROR})()", timeout=120_000)
        picks = page.get_by_role("radiogroup", name="Quick picks")
        expect(picks.get_by_role("radio", name="16")).to_be_enabled()
        pick_k(page, 16)  # the new session's first run: usually dropped
        # That first run redraws the same page and leaves no mark of its own to wait for: give it time to start.
        page.wait_for_timeout(5_000)
        wait_for_results(page)
        pick_k(page, 32)
        with contextlib.suppress(PlaywrightTimeoutError):  # the assertion below says what the page shows
            page.wait_for_function("() => new URLSearchParams(location.search).get('k') === '32'", timeout=60_000)
        shown = page.evaluate("() => new URLSearchParams(location.search).get('k')")
        assert shown == "32", f"a pick after the reconnect's first run was dropped: the page stays at k = {shown}"
        wait_for_results(page)
    finally:
        server.terminate()
        server.wait()
