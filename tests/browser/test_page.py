"""The dashboard in headless Chromium, as a user sees it: first sight, upload, bad file, link, download."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from helpers import (
    STUDY_TITLES,
    assert_no_exception,
    drag,
    open_page,
    pick_k,
    size_caption,
    wait_for_query,
    wait_for_results,
)
from playwright.sync_api import Page, expect

import quant

pytestmark = pytest.mark.browser

@pytest.fixture()
def photo_file(tmp_path, photo):
    path = tmp_path / "holiday photo.png"
    Image.fromarray(photo).save(path)
    return path


def test_the_page_opens_on_the_sample_results(page: Page, app_url, artifacts):
    open_page(page, app_url)
    for title in ["Original", *STUDY_TITLES]:
        expect(page.get_by_text(title, exact=True).first).to_be_visible()
    expect(size_caption(page)).to_contain_text("451 × 300 px")
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    assert "k=8" in page.url and "methods=kmeans%2Cgmm%2Cagglomerative" in page.url
    assert_no_exception(page)
    page.set_viewport_size({"width": 1440, "height": 2300})
    page.screenshot(path=artifacts / "first-sight.png")


def test_uploading_a_file_gives_new_results(page: Page, app_url, artifacts, photo_file):
    open_page(page, app_url)
    page.locator('[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]').set_input_files(photo_file)
    expect(size_caption(page)).to_contain_text("128 × 96 px")
    wait_for_results(page, 5)
    expect(page.get_by_test_id("stCaptionContainer").get_by_text("holiday photo.png")).to_be_visible()
    assert "photo" not in page.url
    assert_no_exception(page)
    page.screenshot(path=artifacts / "uploaded.png", full_page=True)


def test_a_bad_file_shows_an_error_and_keeps_the_previous_results(page: Page, app_url, artifacts, tmp_path):
    open_page(page, app_url)
    garbage = tmp_path / "broken.png"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    page.locator('[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]').set_input_files(garbage)
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("can't be used")
    wait_for_results(page, 5)
    expect(size_caption(page)).to_contain_text("451 × 300 px")
    for title in STUDY_TITLES:
        expect(page.get_by_text(title, exact=True).first).to_be_visible()
    assert_no_exception(page)
    page.screenshot(path=artifacts / "bad-file.png")


def test_a_quick_pick_recomputes_and_updates_the_link(page: Page, app_url):
    open_page(page, app_url)
    page.get_by_role("radiogroup", name="Quick picks").get_by_role("radio", name="16", exact=True).click()
    page.wait_for_url("**k=16**")
    wait_for_results(page, 5)
    expect(page.get_by_test_id("stNumberInputField").first).to_have_value("16")
    assert_no_exception(page)


def test_the_first_click_after_removing_a_method_takes_effect(page: Page, app_url):
    """The Methods box keeps its height as it loses focus: the click that blurs it lands where it was aimed."""
    open_page(page, app_url)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_role("button", name="Remove Agglomerative (fastcluster)").click()
    wait_for_query(page, "methods", "kmeans,gmm")
    wait_for_results(page, 4)
    pick_k(page, 16)  # once
    wait_for_query(page, "k", "16")
    assert_no_exception(page)


def test_every_chosen_method_shows_in_the_methods_box(page: Page, app_url):
    page.goto(f"{app_url}/?methods={','.join(quant.METHODS)}&k=4")
    box = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").first
    expect(box.get_by_role("button", name=re.compile("^Remove "))).to_have_count(len(quant.METHODS))
    outline = box.bounding_box()
    for chip in box.get_by_role("button", name=re.compile("^Remove ")).all():
        chip_box = chip.bounding_box()
        assert outline["y"] <= chip_box["y"] and chip_box["y"] + chip_box["height"] <= outline["y"] + outline["height"]


def test_a_link_restores_its_settings_and_explains_bad_values(page: Page, app_url, artifacts):
    page.goto(f"{app_url}/?methods=octree,nonsense&k=4&space=oklab&seed=3")
    expect(page.get_by_text("Octree (Pillow) · baseline", exact=True).first).to_be_visible()
    wait_for_results(page, 3)
    expect(page.get_by_test_id("stNumberInputField").first).to_have_value("4")
    expect(page.get_by_test_id("stAlertContentWarning")).to_contain_text("nonsense")
    assert_no_exception(page)
    page.screenshot(path=artifacts / "link-with-bad-values.png")


def test_the_png8_download_is_the_quantized_image(page: Page, app_url):
    open_page(page, app_url)
    with page.expect_download() as download_info:
        page.get_by_test_id("stDownloadButton").filter(has_text="PNG8").first.click()
    download = download_info.value
    assert download.suggested_filename == "chelsea.k8.kmeans.png"
    image = Image.open(io.BytesIO(open(download.path(), "rb").read()))
    assert image.mode == "P" and image.size == (451, 300)
    assert len(image.getcolors()) == 8


@pytest.mark.parametrize("view, label, charts", [
    ("color-space", "Color space", 2), ("cluster-maps", "Cluster maps", 1), ("quality-vs-k", "Quality vs k", 2),
])
def test_every_view_draws_its_charts(page: Page, app_url, artifacts, view, label, charts):
    open_page(page, app_url)
    page.get_by_role("radiogroup", name="View").get_by_role("radio", name=label, exact=True).click()
    page.wait_for_url(f"**view={view}**")
    expect(page.locator(".js-plotly-plot")).to_have_count(charts)
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    assert_no_exception(page)
    page.set_viewport_size({"width": 1440, "height": 2000})
    page.screenshot(path=artifacts / f"view-{view}.png")


def test_a_box_selection_in_color_space_highlights_those_pixels(page: Page, app_url, artifacts):
    page.goto(f"{app_url}/?view=color-space")
    chart = page.locator(".js-plotly-plot").first
    expect(chart.locator(".main-svg").first).to_be_visible()
    drag_area = chart.locator(".nsewdrag").first  # the first projection's plotting area
    box = drag_area.bounding_box()
    start = (box["x"] + box["width"] * 0.05, box["y"] + box["height"] * 0.05)
    drag(page, start, (box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.95), steps=8)
    expect(page.get_by_text("pixels (", exact=False).filter(has_text="selected")).to_be_visible()
    wait_for_results(page, 1)
    assert_no_exception(page)
    page.set_viewport_size({"width": 1440, "height": 2000})
    page.screenshot(path=artifacts / "color-space-selection.png")


def test_clicking_a_palette_color_highlights_its_pixels(page: Page, app_url, artifacts):
    open_page(page, app_url)
    strip = page.locator(".js-plotly-plot").filter(has_text="its colors by share of the pixels")
    expect(strip.locator(".trace.bars .point path")).to_have_count(8)
    bar = strip.locator(".trace.bars .point path").nth(3)
    bar.scroll_into_view_if_needed()
    box = bar.bounding_box()  # plotly draws a drag layer over its bars: click where the bar is
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
    expect(page.get_by_text("pixels (", exact=False).filter(has_text="selected")).to_be_visible()
    wait_for_results(page, 6)  # the highlighted picture joins the five
    assert_no_exception(page)
    page.set_viewport_size({"width": 1440, "height": 3000})
    page.screenshot(path=artifacts / "palette-click.png")


_SHOWN = """() => {
    const main = document.querySelector('[data-testid="stMain"]');
    return {
        captions: [...main.querySelectorAll('[data-testid="stCaptionContainer"]')].map(c => c.innerText).join(' | '),
        images: [...main.querySelectorAll('[data-testid="stImage"] img')].map(i => i.src),
    };
}"""


def test_a_big_upload_never_shows_the_previous_images_results_under_its_name(page: Page, app_url, tmp_path):
    """From the moment a 12 MP photo is chosen until its own results arrive, nothing of the sample stays."""
    open_page(page, app_url)
    wait_for_results(page)
    sample_images = set(page.evaluate(_SHOWN)["images"])
    y, x = np.mgrid[0:3000, 0:4000]
    smooth = np.stack([x * 255 // 3999, y * 255 // 2999, (x + y) * 255 // 6998], axis=-1).astype(np.uint8)
    path = tmp_path / "big holiday.png"
    Image.fromarray(smooth).save(path, compress_level=1)
    page.locator('[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]').set_input_files(path)
    # The rerun the upload starts clears the old results first, long before 12 MP are read and counted.
    page.wait_for_function(
        "old => ![...document.querySelectorAll('[data-testid=\"stMain\"] [data-testid=\"stImage\"] img')]"
        ".some(i => old.includes(i.src))", arg=sorted(sample_images), timeout=10_000)
    while True:  # from then on, each look at the page must hold no sample caption and no sample image
        shown = page.evaluate(_SHOWN)
        assert "451 × 300 px" not in shown["captions"] and "Chelsea" not in shown["captions"], shown["captions"]
        assert not sample_images & set(shown["images"]), "a result of the sample is still on the page"
        if "4000 × 3000 px" in shown["captions"]:
            break
        page.wait_for_timeout(100)
    wait_for_results(page)
    expect(page.get_by_test_id("stCaptionContainer").get_by_text("big holiday.png")).to_be_visible()
    assert_no_exception(page)


#: The second card (the first method's) while it computes: whether it shows its previous result dimmed,
#: and how many metric tables and download buttons it holds.
_SECOND_CARD = """() => {
    const card = document.querySelectorAll('.st-key-cards > *')[1];
    return {dimmed: card.innerText.includes('Dimmed: the previous result'),
            metrics: (card.innerText.match(/Blurred ΔE2000/g) || []).length,
            downloads: card.querySelectorAll('[data-testid="stDownloadButton"]').length};
}"""


def test_a_card_computing_shows_its_previous_result_once_with_nothing_of_it_left_over(page: Page, app_url):
    """The dimmed previous result used to sit above that result's own metrics and downloads, left from the last run."""
    page.goto(f"{app_url}/?methods=gmm&k=8")
    wait_for_results(page, 3)
    pick_k(page, 256)  # seconds of EM for the Gaussian mixture: the card shows its previous result meanwhile
    page.get_by_text("Dimmed: the previous result").first.wait_for()
    assert page.evaluate(_SECOND_CARD) == {"dimmed": True, "metrics": 1, "downloads": 0}
    expect(page.get_by_text("Dimmed: the previous result")).to_have_count(0, timeout=120_000)
    wait_for_results(page, 3)
    assert page.evaluate(_SECOND_CARD) == {"dimmed": False, "metrics": 1, "downloads": 3}
    assert_no_exception(page)
