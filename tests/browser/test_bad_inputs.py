"""The bad-input matrix (tests/cases.py) through the real page, plus the upload limit and bad links.

Every refused file must show a clear message, no traceback, and leave the
previous image's results on the page and usable. Every awkward file must give
results that show exactly what the engine loaded. One browser page serves the
whole module (the server and its caches are shared anyway), and each case
starts from the same good image, so a message on the page is always the one
this case caused.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, expect

import quant
from cases import AWKWARD, REFUSALS, photo
from helpers import (
    ERROR, STUDY_TITLES, SWATCH_COUNTS, UPLOADER, assert_no_exception, hex_to_rgb, main_images, open_page, pick_k, png, size_caption,
    result_sources, swatches, upload, wait_for_image, wait_for_new_results, wait_for_query, wait_for_results,
)

pytestmark = pytest.mark.browser

BASE_NAME, BASE = "base.png", photo(30, 40, seed=5)  # 40 × 30 px: no case in the matrix has that size
ROOT = Path(__file__).resolve().parents[2]
SAMPLE_NAME = quant.SAMPLES[quant.DEFAULT_SAMPLE]


@pytest.fixture(scope="module")
def shared_page(browser_context, app_url, artifacts):
    """One tab for the module, opened on the sample."""
    expect.set_options(timeout=120_000)  # a cold cache computes three methods on shared cores
    page = browser_context.new_page()
    page.set_default_timeout(120_000)
    open_page(page, app_url)
    page.screenshot(path=artifacts / "robustness-default.png", full_page=True)
    yield page
    page.close()


def show_base(page: Page) -> None:
    """Upload the good image and wait for its results, with no error on the page."""
    upload(page, BASE_NAME, png(BASE))
    expect(page.get_by_test_id(ERROR)).to_have_count(0)
    wait_for_image(page, BASE_NAME, 40, 30)


def show_sample(page: Page) -> None:
    """Remove whatever file the uploader holds, as a user would, and wait for the sample's results."""
    remove = page.get_by_test_id("stMain").get_by_test_id("stFileUploader").get_by_role("button", name=re.compile("^Remove "))
    for left in range(remove.count(), 0, -1):  # a file the uploader turned down keeps its own chip
        remove.first.click()
        expect(remove).to_have_count(left - 1)
    dismiss = page.get_by_role("button", name="Dismiss")  # a refused file's message outlives the file
    if dismiss.count():
        dismiss.click()
    expect(page.get_by_test_id(ERROR)).to_have_count(0)
    wait_for_image(page, SAMPLE_NAME, 451, 300)


def assert_still_shown_and_usable(page: Page, name: str, width: int, height: int) -> None:
    """The previous image's results are on the page, and changing k still recomputes them."""
    wait_for_image(page, name, width, height)
    for title in STUDY_TITLES:
        expect(page.get_by_test_id("stMain").get_by_text(title, exact=True).first).to_be_visible()
    k = 8 if re.search(r"[?&]k=4(&|$)", page.url) else 4
    pick_k(page, k)
    wait_for_query(page, "k", str(k))
    page.wait_for_function(f"k => ({SWATCH_COUNTS})().every(n => n <= k)", arg=k)
    wait_for_image(page, name, width, height)
    palettes = swatches(page)
    assert len(palettes) == 3 and all(1 <= len(p) <= k for p in palettes), palettes
    expect(page.get_by_test_id("stDownloadButton")).to_have_count(9)  # nothing left over from a stale run
    assert_no_exception(page)


def assert_sample_still_shown_and_usable(page: Page) -> None:
    assert_still_shown_and_usable(page, SAMPLE_NAME, 451, 300)


def accepted_suffixes(page: Page) -> set[str] | None:
    """The extensions the uploader takes (others never reach the engine), or None: it takes any file."""
    accept = page.locator(UPLOADER).get_attribute("accept") or ""
    return {part.strip().lower() for part in accept.split(",") if part.strip().startswith(".")} or None


def assert_uploader_empty(page: Page) -> None:
    """A refused file doesn't linger in the uploader's list."""
    expect(page.get_by_test_id("stFileUploaderFile")).to_have_count(0)


@pytest.mark.parametrize("name", REFUSALS)
def test_a_refused_file_shows_the_engines_message_and_keeps_the_previous_results(shared_page: Page, name,
                                                                              artifacts):
    page, case = shared_page, REFUSALS[name]
    data = case.data()
    stem, suffix = case.filename.rsplit(".", 1)
    show_sample(page)

    accepted = accepted_suffixes(page)
    if accepted is not None and f".{suffix.lower()}" not in accepted:
        # The uploader turns the file down by its extension before the server sees it...
        upload(page, case.filename, data)
        expect(page.get_by_test_id("stMain").get_by_test_id("stFileUploader").get_by_role("alert")).to_contain_text(
            "files are not allowed")
        assert_sample_still_shown_and_usable(page)
        expect(page.get_by_test_id(ERROR)).to_have_count(0)
        if name == "SVG":
            page.screenshot(path=artifacts / "robustness-refused-by-uploader.png")
        # ...so a user renaming it gets past the uploader and meets the engine's message.
        show_sample(page)
        upload(page, f"{stem}.png", data)
    else:
        upload(page, case.filename, data)

    error = page.get_by_test_id(ERROR)
    expect(error).to_have_count(1)
    expect(error).to_contain_text("This file can't be used")
    expect(error).to_contain_text(re.compile(case.words))
    expect(error).to_contain_text("The previous image is still shown")
    assert_uploader_empty(page)
    assert_no_exception(page)
    if name == "random bytes":
        page.screenshot(path=artifacts / "robustness-refused.png")
    assert_sample_still_shown_and_usable(page)
    expect(error).to_contain_text(re.compile(case.words))  # still said after the rerun


def test_a_refused_file_after_an_upload_keeps_that_upload(shared_page: Page, artifacts):
    """Replacing the file in the uploader reruns once with no file at all, before the new file arrives.

    That rerun must not make the sample the "previous image": the user's own
    upload is what the page promises to keep.
    """
    page = shared_page
    show_sample(page)
    show_base(page)
    page.screenshot(path=artifacts / "robustness-after-upload.png", full_page=True)
    upload(page, "random.png", REFUSALS["random bytes"].data())
    expect(page.get_by_test_id(ERROR)).to_contain_text("The previous image is still shown")
    wait_for_results(page)
    expect(page.get_by_test_id("stMain")).to_contain_text(BASE_NAME, timeout=10_000)  # cached: no wait needed
    assert_still_shown_and_usable(page, BASE_NAME, 40, 30)


def test_an_svg_after_an_upload_is_refused_by_the_engine_and_keeps_that_upload(shared_page: Page):
    """The uploader takes any file, so an SVG meets the engine's message and leaves the uploader."""
    page = shared_page
    show_sample(page)
    show_base(page)
    upload(page, "drawing.svg", REFUSALS["SVG"].data())
    expect(page.get_by_test_id(ERROR)).to_contain_text(re.compile("SVG is a vector format.*export it as PNG"))
    assert_uploader_empty(page)
    assert_still_shown_and_usable(page, BASE_NAME, 40, 30)


@pytest.mark.parametrize("name", AWKWARD)
def test_an_awkward_file_gives_results_that_show_what_the_engine_loaded(shared_page: Page, name, artifacts):
    page, case = shared_page, AWKWARD[name]
    data = case.data()
    loaded = quant.load_image(data)
    show_sample(page)

    old = result_sources(page)
    upload(page, case.filename, data)
    wait_for_new_results(page, old)
    wait_for_image(page, case.filename, loaded.width, loaded.height)
    expect(page.get_by_test_id(ERROR)).to_have_count(0)
    assert_no_exception(page)
    for notice in loaded.notices:  # e.g. the animated GIF's "first of its 3 frames"
        expect(page.get_by_test_id("stAlertContentInfo").filter(has_text=notice)).to_be_visible()

    palettes = swatches(page)
    assert len(palettes) == 3, palettes
    for palette in palettes:
        assert 1 <= len(palette) <= 8
        if case.colors:
            assert len(palette) == case.colors, palette
    visible = loaded.opaque if loaded.opaque is not None else np.ones(loaded.rgb.shape[:2], bool)
    pictures = main_images(page)
    original, results = pictures[0], pictures[1:4]
    assert original.shape[:2] == loaded.rgb.shape[:2]  # upright, e.g. after EXIF rotation
    np.testing.assert_array_equal(original[..., :3][visible], loaded.rgb[visible])
    np.testing.assert_array_equal(original[..., 3] > 0, visible)
    for result, palette in zip(results, palettes):
        assert result.shape[:2] == loaded.rgb.shape[:2]
        np.testing.assert_array_equal(result[..., 3] > 0, visible)  # transparency kept in the output
        shown = {tuple(c) for c in result[..., :3][visible].reshape(-1, 3)}
        assert shown <= {hex_to_rgb(code) for code in palette}, "result pixels outside the palette shown"
    if name == "animated GIF":
        page.screenshot(path=artifacts / "robustness-animated-gif.png")


@pytest.fixture(scope="session")
def upload_limit_mb() -> int:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    return config["server"]["maxUploadSize"]


@pytest.fixture(scope="session")
def file_over_the_limit(tmp_path_factory, upload_limit_mb):
    """A PNG signature and zeros, one kilobyte over the limit: made on demand, never committed."""
    path = tmp_path_factory.mktemp("over-limit") / "too-big.png"
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.truncate(upload_limit_mb * 1024 * 1024 + 1024)
    return path


def test_a_file_over_the_upload_limit_is_refused_with_a_clear_message(shared_page: Page, upload_limit_mb,
                                                                      file_over_the_limit, artifacts):
    page = shared_page
    show_sample(page)
    # Playwright passes files over 50 MB by path, not as an in-memory buffer.
    page.locator(UPLOADER).set_input_files(file_over_the_limit)
    expect(page.get_by_test_id("stMain").get_by_test_id("stFileUploader").get_by_role("alert")).to_contain_text(
        re.compile(rf"must be {upload_limit_mb}(\.0)?\s*MB or smaller"))
    expect(page.get_by_test_id("stMain").get_by_test_id("stFileUploader")).to_contain_text("too-big.png")
    page.screenshot(path=artifacts / "robustness-over-upload-limit.png")
    assert_sample_still_shown_and_usable(page)
    expect(page.get_by_test_id(ERROR)).to_have_count(0)


BAD_LINKS = {
    "k too big": ("k=999", ["k='999'", "using k=8"]),
    "k too small": ("k=1", ["k='1'"]),
    "k not a number": ("k=eight&seed=-1", ["k='eight'", "seed='-1'", "using seed=0"]),
    "k with a sign and a huge seed": ("k=%2B16&seed=99999999999999999999999", ["k='+16'", "seed='9999"]),
    "unknown methods only": ("methods=nonsense,bogus", ["unknown methods 'nonsense', 'bogus' left out",
                                                        "no known method in the link"]),
    "unknown space and view": ("space=cmyk&view=nope", ["unknown color space 'cmyk'", "unknown view 'nope'"]),
}


@pytest.mark.parametrize("name", BAD_LINKS)
def test_a_link_with_bad_values_falls_back_to_defaults_and_says_so(shared_page: Page, app_url, name):
    page = shared_page
    query, phrases = BAD_LINKS[name]
    page.goto(f"{app_url}/?{query}")
    warning = page.get_by_test_id("stAlertContentWarning")
    expect(warning).to_contain_text("could not be used, so defaults stand in")
    for phrase in phrases:
        expect(warning).to_contain_text(phrase)
    wait_for_results(page)
    expect(size_caption(page)).to_contain_text("451 × 300 px")  # the sample, as every link opens
    expect(page.get_by_test_id("stNumberInputField").first).to_have_value("8")
    expect(page.get_by_test_id("stNumberInputField").nth(1)).to_have_value("0")
    space = page.get_by_role("radiogroup", name="Color space")
    expect(space.get_by_role("radio", name="RGB")).to_be_checked()
    expect(page.get_by_role("radiogroup", name="View").get_by_role("radio", name="Compare")).to_be_checked()
    for title in STUDY_TITLES:
        expect(page.get_by_test_id("stMain").get_by_text(title, exact=True).first).to_be_visible()
    wait_for_query(page, "k", "8")  # the page rewrites the link to what it shows
    assert "methods=kmeans%2Cgmm%2Cagglomerative" in page.url and "space=rgb" in page.url
    assert_no_exception(page)
