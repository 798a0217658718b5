"""Dithering, your own palette and locked colors in headless Chromium, as a user drives them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import SWATCHES, assert_no_exception, drag, swatches, wait_for_query, wait_for_results
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

BRAND = ["#000000", "#ffffff", "#e30613", "#3366cc"]
#: Where the screenshots are also copied for a person to look at: never into the repository.
LOOK_AT = Path("/tmp/quant-screenshots")


def card_titles(page: Page) -> list[str]:
    return page.locator('[data-testid="stMain"] [class*="st-key-card-"] strong').all_inner_texts()


def test_a_link_with_dithering_and_a_palette_shows_the_custom_card(page: Page, app_url, artifacts):
    query = "methods=kmeans,octree&dither=floyd-steinberg&strength=0.8&palette=" + ",".join(
        code[1:] for code in BRAND
    )
    page.goto(f"{app_url}/?{query}")
    expect(page.get_by_text("Quality across methods")).to_be_visible()
    wait_for_results(page, 5)  # the original, three results, the full-size view
    assert card_titles(page) == ["Original", "k-means", "Octree (Pillow) · baseline", "Your own palette"]
    assert sorted(swatches(page)[-1]) == sorted(BRAND)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Strength")).to_be_visible()
    expect(sidebar.get_by_test_id("stTextArea").locator("textarea")).to_have_value(", ".join(BRAND))
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()
    assert_no_exception(page)
    page.set_viewport_size({"width": 1440, "height": 1500})
    page.screenshot(path=artifacts / "dither-and-palette.png")
    LOOK_AT.mkdir(exist_ok=True)
    shutil.copy(artifacts / "dither-and-palette.png", LOOK_AT)

    box = sidebar.get_by_test_id("stTextArea").locator("textarea")
    box.fill("#000000, #notahex")
    box.press("Control+Enter")
    expect(sidebar.get_by_test_id("stAlertContentError")).to_contain_text("notahex")
    expect(sidebar.get_by_test_id("stAlertContentError")).to_contain_text("previous palette is still used")
    wait_for_results(page, 5)
    assert card_titles(page)[-1] == "Your own palette" and sorted(swatches(page)[-1]) == sorted(BRAND)
    assert_no_exception(page)


def test_locking_a_swatch_keeps_it_at_another_k(page: Page, app_url, artifacts):
    page.goto(f"{app_url}/?methods=kmeans,gmm&k=8")
    expect(page.get_by_text("Quality across methods")).to_be_visible()
    wait_for_results(page, 4)
    # The first color: its option shows without scrolling the list, where a click under load can land on a
    # moved row and be lost (the list then closes with nothing picked).
    chosen = swatches(page)[0][0]
    card = page.locator('[class*="st-key-result-kmeans"]')
    card.get_by_test_id("stMultiSelect").click()
    page.get_by_role("option", name=chosen, exact=True).click()
    expect(card.get_by_test_id("stMultiSelect").first).to_contain_text(chosen)
    page.keyboard.press("Escape")
    wait_for_query(page, "lock", chosen[1:])
    page.goto(page.url.replace("k=8", "k=16"))  # the link carries the lock
    expect(page.get_by_text("Quality across methods")).to_be_visible()
    wait_for_results(page, 4)
    for palette in swatches(page):
        assert f"{chosen} locked" in palette and len(palette) <= 16
    expect(page.get_by_test_id("stSidebar").get_by_text("Locked colors")).to_be_visible()
    assert_no_exception(page)
    page.screenshot(path=artifacts / "locked.png")
    LOOK_AT.mkdir(exist_ok=True)
    shutil.copy(artifacts / "locked.png", LOOK_AT)


def test_clicking_a_swatch_locks_its_color_and_clicking_it_again_unlocks_it(page: Page, app_url, artifacts):
    page.goto(f"{app_url}/?methods=kmeans,gmm&k=8")
    expect(page.get_by_text("Quality across methods")).to_be_visible()
    wait_for_results(page, 4)
    chosen = swatches(page)[0][-1]  # k-means' rarest color
    kmeans = page.locator('[class*="st-key-result-kmeans"] .quant-swatches')
    kmeans.get_by_role("button", name=chosen, exact=True).click()
    wait_for_query(page, "lock", chosen[1:])
    wait_for_results(page, 4)
    locked = kmeans.get_by_role("button", name=f"{chosen} locked", exact=True)
    expect(locked).to_have_attribute("aria-pressed", "true")
    page.wait_for_function(
        f"code => ({SWATCHES})().every(palette => palette.includes(code))", arg=f"{chosen} locked"
    )  # both methods keep it
    page.screenshot(path=artifacts / "locked-by-click.png")
    locked.click()
    wait_for_query(page, "lock", "")
    wait_for_results(page, 4)
    expect(page.get_by_role("button", name=f"{chosen} locked")).to_have_count(0)
    assert_no_exception(page)


#: The label of the element that has keyboard focus, looked for through shadow roots.
_FOCUSED_LABEL = """() => { let at = document.activeElement;
    while (at?.shadowRoot?.activeElement) at = at.shadowRoot.activeElement;
    return at?.getAttribute('aria-label') ?? at?.tagName; }"""


def test_a_swatch_locked_from_the_keyboard_keeps_focus_when_its_card_is_drawn_anew(page: Page, app_url):
    """Enter locks the focused swatch; the card recomputes and its new strip gives focus back to it."""
    page.goto(f"{app_url}/?methods=kmeans,gmm&k=8")
    wait_for_results(page, 4)
    chosen = swatches(page)[0][2]
    kmeans = page.locator('[class*="st-key-result-kmeans"] .quant-swatches')
    kmeans.get_by_role("button", name=chosen, exact=True).focus()
    page.keyboard.press("Enter")
    wait_for_query(page, "lock", chosen[1:])
    wait_for_results(page, 4)
    page.wait_for_function(f"label => ({_FOCUSED_LABEL})() === label", arg=f"{chosen} locked")
    page.keyboard.press("Enter")  # and unlocks it, still from the keyboard
    wait_for_query(page, "lock", "")
    wait_for_results(page, 4)
    page.wait_for_function(f"label => ({_FOCUSED_LABEL})() === label", arg=chosen)
    assert_no_exception(page)


#: Where each palette marker of the first Color space projection is on screen, in page pixels.
_MARKERS = """() => {
    const chart = document.querySelector('.js-plotly-plot');
    const trace = chart._fullData.find(t => (t.legendgroup || '').startsWith('palette:'));
    const x = chart._fullLayout[trace.xaxis.replace('x', 'xaxis')], y = chart._fullLayout[trace.yaxis.replace('y', 'yaxis')];
    const box = chart.getBoundingClientRect();
    return Array.from(trace.x, (v, i) => [box.left + x._offset + x.l2p(v), box.top + y._offset + y.l2p(trace.y[i])]);
}"""

#: The first chart's pixel traces are hidden (a legend click), so a selection can't pick them.
_PIXELS_HIDDEN = """() => document.querySelector('.js-plotly-plot')._fullData
    .filter(t => t.legendgroup === 'pixels').every(t => t.visible === 'legendonly')"""


def test_a_palette_marker_in_color_space_picks_the_pixels_the_dithered_result_draws_in_it(
    page: Page, app_url, artifacts
):
    """Not the pixels its palette's labels give (the undithered assignment): those of its PNG."""
    import re

    import quant
    from dashboard.model import outcomes
    from dashboard.model.settings import settings_from_query

    query = {"view": "color-space", "methods": "kmeans", "dither": "floyd-steinberg", "strength": "1"}
    page.set_viewport_size({"width": 1440, "height": 2000})
    page.goto(f"{app_url}/?" + "&".join(f"{key}={value}" for key, value in query.items()))
    chart = page.locator(".js-plotly-plot").first
    expect(chart.locator(".legend .traces").filter(has_text="k-means")).to_be_visible()
    chart.locator(".legend .traces").filter(has_text="pixels").click()  # hidden: the box picks the marker only
    page.wait_for_function(_PIXELS_HIDDEN)
    row = 2
    x, y = page.evaluate(_MARKERS)[row]
    drag(page, (x - 4, y - 4), (x + 4, y + 4))
    caption = page.get_by_test_id("stImageCaption").filter(has_text=re.compile(r"pixels \(.* %\) selected"))
    expect(caption).to_be_visible()

    settings, *_ = settings_from_query(query, views=[query["view"]])
    sample = quant.sample_image(quant.DEFAULT_SAMPLE)
    hist = quant.build_histogram(sample)
    method = quant.get_method("kmeans")
    shown = outcomes.measure(sample, hist, settings.k, method, outcomes.Recipe.for_method(settings, method.name))
    undithered = shown.palette.pixel_counts(hist.counts)[row]
    assert shown.pixel_counts[row] != undithered  # dithering moved pixels between colors
    expect(caption).to_have_text(f"{shown.pixel_counts[row]:,} pixels ({100 * shown.pixel_counts[row] / hist.total:.1f} %)"
                                 " selected, as the dithered result draws them")
    assert_no_exception(page)
    caption.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "color-space-dithered-marker.png")
    LOOK_AT.mkdir(exist_ok=True)
    shutil.copy(artifacts / "color-space-dithered-marker.png", LOOK_AT)
