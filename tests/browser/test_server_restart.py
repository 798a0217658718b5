"""A server restart with the page open (issue 15, item 7).

After a restart the browser reconnects to a new session, whose first run
comes from the person's first click and carries every widget's value. Two
things used to drop that click: Streamlit calls a widget's ``on_change`` only
if an earlier run of the same session drew it, so the quick pick's callback
never ran; and the session's first run wrote the URL's settings (from before
the click) into the widgets' state. The link's values are now only the
widgets' defaults (`link.first_value`), and a pick clicked in a session's first
run is read from its value (`sidebar.k_ui`).
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
from helpers import pick_k, wait_for_query, wait_for_results
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

_CONNECTION_ERROR = "() => document.body.innerText.includes('Connection error')"


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


def restart_with_the_page_open(page, port: int, server: subprocess.Popen) -> subprocess.Popen:
    """Stop the server under the open page, start it again, and wait until the page has reconnected."""
    server.terminate()
    server.wait()
    page.wait_for_function(_CONNECTION_ERROR)
    server = start_server(port)
    page.wait_for_function(f"() => !({_CONNECTION_ERROR})()", timeout=120_000)
    return server


def wait_for_link(page, key: str, value: str) -> None:
    with contextlib.suppress(PlaywrightTimeoutError):  # the assertion below says what the page shows
        wait_for_query(page, key, value, timeout=60_000)
    shown = page.evaluate("(key) => new URLSearchParams(location.search).get(key)", key)
    assert shown == value, f"the click setting {key} = {value} after the reconnect was dropped: the page stays at {shown}"


def test_after_a_restart_the_first_pick_counts_and_so_do_later_ones(page):
    """The page comes back by itself after a restart; the quick pick clicked first is applied, and so are later ones."""
    port = _free_port()
    server = start_server(port)
    try:
        page.goto(f"http://localhost:{port}/?k=8")
        wait_for_results(page)
        server = restart_with_the_page_open(page, port, server)
        expect(page.get_by_role("radiogroup", name="Quick picks").get_by_role("radio", name="16")).to_be_enabled()
        for k in (16, 32):  # the new session's first run, then a later one
            pick_k(page, k)
            wait_for_link(page, "k", str(k))
            expect(page.get_by_role("spinbutton", name="Colors (k)")).to_have_value(str(k))
            wait_for_results(page)
    finally:
        server.terminate()
        server.wait()


def test_after_a_restart_a_first_change_of_any_setting_counts(page):
    """Not only the picks: the link's values never undo what the first click after a restart sent."""
    port = _free_port()
    server = start_server(port)
    try:
        page.goto(f"http://localhost:{port}/?k=8&space=rgb")
        wait_for_results(page)
        server = restart_with_the_page_open(page, port, server)
        space = page.get_by_role("radiogroup", name="Color space")
        space.get_by_role("radio", name="Oklab").click()
        wait_for_link(page, "space", "oklab")
        expect(space.get_by_role("radio", name="Oklab")).to_be_checked()
        wait_for_link(page, "k", "8")
        wait_for_results(page)
    finally:
        server.terminate()
        server.wait()
