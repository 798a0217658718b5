"""Hostile strings on the real page: file names and links are text, downloads get safe names, XSRF is on."""

from __future__ import annotations

import re
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cases import photo
from helpers import assert_no_exception, open_page, png, shown_literally, upload, wait_for_image

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
#: What a download name may be: no path separators, no leading dot, no spaces or markup.
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: Markup that would prove a string was rendered as HTML or Markdown instead of text.
INJECTED = """() => ({
    images: document.querySelectorAll('img[src="x"], img[src$="/x"]').length,
    handlers: document.querySelectorAll('[onerror], [onload]:not(iframe)').length,
    scripts: [...document.querySelectorAll('script')].filter(s => s.textContent.includes('alert(')).length,
    links: document.querySelectorAll('a[href*="evil.invalid"]').length,
    bold: [...document.querySelectorAll('[data-testid="stMain"] strong, [data-testid="stMain"] b')]
        .filter(b => b.textContent.includes('shout')).length,
})"""
NOTHING_INJECTED = {"images": 0, "handlers": 0, "scripts": 0, "links": 0, "bold": 0}

HOSTILE_NAMES = {
    "HTML": "<img src=x onerror=alert(1)>.png",
    "script": "<script>alert(1)</script>.png",
    "Markdown": "[click](http://evil.invalid/x) **shout** `code`.png",
    "path": "../../.ssh/evil name.png",
}


@pytest.fixture()
def dialogs(page: Page) -> list[str]:
    """Every alert/confirm/prompt the page opens: there must be none."""
    opened: list[str] = []
    page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
    return opened


@pytest.mark.parametrize("kind", HOSTILE_NAMES)
def test_an_uploaded_file_name_is_shown_as_text_and_downloads_get_safe_names(page: Page, app_url, dialogs,
                                                                          kind, artifacts):
    name = HOSTILE_NAMES[kind]
    open_page(page, app_url)
    upload(page, name, png(photo(30, 40, seed=9)))
    wait_for_image(page, name, 40, 30)  # the name is shown, as the literal text it is
    assert page.evaluate(INJECTED) == NOTHING_INJECTED, "a user's string became markup (a URL becomes a link)"
    assert dialogs == []
    assert_no_exception(page)
    if kind == "HTML":
        page.screenshot(path=artifacts / "security-html-file-name.png")

    card = page.get_by_test_id("stMain").locator('[data-testid="stDownloadButton"]')
    expect(card.first).to_be_visible()
    names = []
    for label in ["PNG8", ".gpl", "JSON"]:
        with page.expect_download() as download_info:
            card.filter(has_text=label).first.click()
        download = download_info.value
        names.append(download.suggested_filename)
        if label == ".gpl":
            palette = Path(download.path()).read_text()
            assert "<" not in palette and "(" not in palette.split("\n", 2)[1], palette[:200]
    for filename in names:
        assert SAFE_NAME.fullmatch(filename), filename
        assert ".." not in filename and len(filename) <= 100, filename
    assert [n.rsplit(".", 1)[-1] for n in names] == ["png", "gpl", "json"]
    assert all(".k8.kmeans." in n for n in names), names


def test_link_values_are_shown_as_text(page: Page, app_url, dialogs):
    page.goto(f"{app_url}/?methods=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E,kmeans"
              "&view=**shout**[x](http://evil.invalid)")
    warning = page.get_by_test_id("stAlertContentWarning")
    expect(warning).to_contain_text("'<img src=x onerror=alert(1)>'")
    expect(warning).to_contain_text(re.compile(shown_literally("**shout**[x](http://evil.invalid)")))
    expect(page.get_by_test_id("stMain").get_by_text("k-means", exact=True).first).to_be_visible()
    assert page.evaluate(INJECTED) == NOTHING_INJECTED, "a link's value became markup (a URL becomes a link)"
    assert dialogs == []
    assert_no_exception(page)


def test_xsrf_protection_is_on_in_the_config_and_on_the_server(app_url):
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    # An upload without the XSRF token is turned away before the server looks at the session.
    request = urllib.request.Request(f"{app_url}/_stcore/upload_file/some-session/some-file", method="PUT",
                                     data=b"--b\r\n\r\nx\r\n--b--\r\n",
                                     headers={"Content-Type": "multipart/form-data; boundary=b"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert "XSRF" in refused.value.read().decode()
    with urllib.request.urlopen(f"{app_url}/_stcore/health", timeout=10) as health:
        assert "_streamlit_xsrf=" in (health.headers.get("Set-Cookie") or "")
