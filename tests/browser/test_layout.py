"""The compare view at 1400, 800 and 400 px: cards reflow 4 → 2 → 1, nothing cut, nothing overlapping.

Each test measures the page as laid out (bounding boxes, scroll and client
widths) and keeps a screenshot in artifacts/ (ignored by git) to look at.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from helpers import assert_no_exception, png, size_caption, upload, wait_for_results
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

#: Five methods, two of them baselines, at a k where the cards carry a full palette: six cards.
METHODS = "kmeans,libimagequant,octree,median-cut,agglomerative"
TITLES = ["Original", "k-means", "libimagequant · baseline", "Octree (Pillow) · baseline",
          "Median cut (Pillow) · baseline", "Agglomerative (fastcluster)"]
CARDS = ".st-key-cards > *"

#: Per card: its box, its title's text and whether the title is cut, and anything sticking out of it.
_MEASURE = """cards => cards.map(card => {
    const box = card.getBoundingClientRect();
    const title = card.querySelector('strong');
    const titleBlock = title?.closest('[data-testid="stMarkdownContainer"]');
    const image = card.querySelector('[data-testid="stImage"]');
    const downloads = [...card.querySelectorAll('[data-testid="stDownloadButton"]')];
    const overflowing = [...card.querySelectorAll('*')]
        .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
        .filter(e => { const r = e.getBoundingClientRect(); return r.width && (r.left < box.left - 1 || r.right > box.right + 1); })
        .map(e => e.getAttribute('data-testid') || e.tagName);
    return {left: box.left, top: box.top, right: box.right, width: box.width, imageTop: image?.getBoundingClientRect().top,
            downloadLines: new Set(downloads.map(d => Math.round(d.getBoundingClientRect().top))).size,
            title: title?.innerText, titleCut: titleBlock ? titleBlock.scrollWidth > titleBlock.clientWidth : null,
            overflowing};
})"""

#: Per metrics grid, per row: the label's right edge and the value's left edge, and the value's lines.
_METRIC_ROWS = """() => [...document.querySelectorAll('.st-key-cards [data-testid="stHtml"] div[style*="grid-template-columns"]')]
    .map(grid => { const cells = [...grid.children]; const rows = [];
        for (let i = 0; i < cells.length; i += 2) {
            const label = cells[i].getBoundingClientRect(), value = cells[i + 1].getBoundingClientRect();
            const range = document.createRange(); range.selectNodeContents(cells[i + 1]);
            rows.push({label: cells[i].innerText, labelRight: label.right, valueLeft: value.left,
                       valueLines: new Set([...range.getClientRects()].map(r => Math.round(r.top))).size});
        }
        return rows; })"""

#: The lines each "Hex codes" expander label takes.
_EXPANDER_LINES = """() => [...document.querySelectorAll('.st-key-cards [data-testid="stExpander"] summary')]
    .map(summary => { const text = [...summary.querySelectorAll('p')].find(p => p.innerText.includes('Hex'));
        const range = document.createRange(); range.selectNodeContents(text);
        return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; })"""


def open_cards(page: Page, url: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(f"{url}/?methods={METHODS}&k=16")
    wait_for_results(page, 1 + len(TITLES))  # the six cards and the full-size view


def screenshot_whole(page: Page, path) -> None:
    """The whole page at this width: the main area scrolls inside itself, so the window is made as tall."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": min(height, 8000)})
    page.screenshot(path=path)


def rows_of(cards: list[dict]) -> list[int]:
    """Cards per row, from where their boxes start."""
    tops: dict[int, int] = {}
    for card in cards:
        tops[round(card["top"])] = tops.get(round(card["top"]), 0) + 1
    return [tops[top] for top in sorted(tops)]


@pytest.mark.parametrize("width, per_row", [(1400, 4), (800, 2), (400, 1)])
def test_cards_reflow_and_show_everything_whole(page: Page, app_url, artifacts, width, per_row):
    open_cards(page, app_url, width)
    cards = page.locator(CARDS).evaluate_all(_MEASURE)

    assert len(cards) == len(TITLES)
    rows = rows_of(cards)
    assert rows[0] == per_row and all(count <= per_row for count in rows), rows
    assert len({round(card["width"]) for card in cards}) == 1  # the last row's cards are as wide as the others
    assert [card["title"] for card in cards] == TITLES
    assert not [card["title"] for card in cards if card["titleCut"]]
    for row in set(round(card["top"]) for card in cards):  # a two-line title doesn't push its image down
        assert len({round(card["imageTop"]) for card in cards if round(card["top"]) == row}) == 1, cards
    assert {card["downloadLines"] for card in cards[1:]} == {1}  # PNG8, .gpl and JSON side by side
    assert not [(card["title"], card["overflowing"]) for card in cards if card["overflowing"]]
    main = page.get_by_test_id("stMain").bounding_box()
    assert all(card["right"] <= main["x"] + main["width"] + 1 for card in cards)  # the fourth card isn't cut off

    for grid in page.evaluate(_METRIC_ROWS):
        for row in grid:
            assert row["labelRight"] <= row["valueLeft"], row  # "0.832SSIM"
            assert row["valueLines"] == 1, row
    assert set(page.evaluate(_EXPANDER_LINES)) == {1}  # "Hex codes" on one line
    assert_no_exception(page)
    screenshot_whole(page, artifacts / f"layout-{width}.png")


def test_the_upload_button_is_in_sight_on_a_phone(page: Page, app_url, artifacts):
    open_cards(page, app_url, 400)
    uploader = page.get_by_test_id("stMain").get_by_test_id("stFileUploader")
    expect(uploader.get_by_test_id("stBaseButton-secondary")).to_be_in_viewport()
    page.screenshot(path=artifacts / "layout-400-top.png")


def test_sizes_are_written_one_way(page: Page, app_url):
    open_cards(page, app_url, 1400)
    text = page.locator(CARDS).all_inner_texts()
    sizes = re.findall(r"\d[\d,.]*[ \u00a0](?:B|kB|MB|GB)\b", "\n".join(text))  # the caption's unit can't wrap
    assert sizes and all(re.fullmatch(r"\d{1,3}\.\d[ \u00a0](?:kB|MB|GB)|\d{1,3}[ \u00a0]B", size) for size in sizes), sizes
    assert any("\u00a0" in size for size in sizes)  # the original's "PNG 220.8 kB"


def test_a_very_tall_image_is_letterboxed_not_drawn_metres_long(page: Page, app_url, artifacts):
    """A 2 × 5000 px upload: every picture fits 480 px in a card and the window's height at full size."""
    rng = np.random.default_rng(5)
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(app_url)
    upload(page, "tall.png", png(rng.integers(0, 256, (5000, 2, 3), dtype=np.uint8)))
    expect(size_caption(page)).to_contain_text("2 × 5000 px")
    wait_for_results(page, 5)
    heights = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').evaluate_all(
        "imgs => imgs.map(i => i.getBoundingClientRect().height)")
    assert max(heights[:-1]) <= 480.5 and heights[-1] <= 1000, heights  # the cards, then the full-size view
    assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight") < 5000
    assert_no_exception(page)
    page.screenshot(path=artifacts / "layout-tall-image.png")


def test_clicking_a_baselines_palette_color_shows_its_pixels(page: Page, app_url, artifacts):
    open_cards(page, app_url, 1400)
    page.get_by_role("radiogroup", name="Show").get_by_role("radio", name="libimagequant · baseline").click()
    strip = page.locator(".js-plotly-plot").filter(has_text="libimagequant: its colors by share of the pixels")
    bars = strip.locator(".barlayer .point path")
    expect(bars).to_have_count(16)
    heights = [bars.nth(i).bounding_box()["height"] for i in range(16)]
    assert min(heights) >= 10, heights  # rare colors still get a bar to click
    strip.scroll_into_view_if_needed()
    rarest = bars.nth(heights.index(min(heights))).bounding_box()
    # plotly's drag layer lies over the bars and takes the click, as it does a user's; plotly clicks
    # what the pointer hovers, so the pointer rests on the bar until its hover label shows
    x, y = rarest["x"] + rarest["width"] / 2, rarest["y"] + rarest["height"] / 2
    page.mouse.move(x, y)
    expect(strip.locator(".hoverlayer .hovertext")).to_have_count(1)
    page.mouse.click(x, y)
    selected = page.get_by_test_id("stImageCaption").filter(has_text=re.compile(r"pixels \(.* %\) selected"))
    expect(selected).to_be_visible()
    screenshot_whole(page, artifacts / "palette-click-baseline.png")


#: Each subplot title (a plotly annotation over a subplot) that its subplot's background covers in part.
_COVERED_TITLES = """chart => {
    const backgrounds = [...chart.querySelectorAll('.bglayer rect.bg')].map(r => r.getBoundingClientRect());
    return [...chart.querySelectorAll('.annotation')].flatMap(title => {
        const t = title.getBoundingClientRect(), middle = (t.left + t.right) / 2;
        const under = backgrounds.find(b => b.left <= middle && middle <= b.right && b.top >= t.top - 1);
        return under && t.bottom > under.top + 0.5 ? [[title.textContent, t.bottom, under.top]] : [];
    });
}"""


@pytest.mark.parametrize("view", ["color-space", "cluster-maps"])
def test_no_subplot_title_is_covered_by_its_plot(page: Page, app_url, artifacts, view):
    """Streamlit's chart theme pads each plot area beyond its axes: it slid over the titles' lower half."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{app_url}/?view={view}")
    chart = page.locator(".js-plotly-plot").filter(has=page.locator(".annotation")).first
    expect(chart.locator(".annotation").first).to_be_visible(timeout=120_000)
    expect(chart.locator(".bglayer rect.bg").first).to_be_attached()
    assert chart.evaluate(_COVERED_TITLES) == []
    chart.screenshot(path=artifacts / f"subplot-titles-{view}.png")
