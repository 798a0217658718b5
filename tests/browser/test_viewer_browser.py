"""The Inspect view's comparison viewer in headless Chromium: synchronized zoom and pan, 1:1 crops of a
12 MP upload, the split wipe and the ΔE2000 maps."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from helpers import assert_no_exception, drag, upload
from PIL import Image
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

CANVASES = "canvas[data-panel]"  # Playwright's CSS locators reach into the component's shadow root


def open_inspect(page: Page, url: str, query: str = "", panels: int = 4) -> None:
    page.goto(f"{url}/?view=inspect{query}")
    expect(page.locator(CANVASES)).to_have_count(panels)
    wait_until_drawn(page)


def wait_until_drawn(page: Page) -> None:
    """Until every panel has drawn its preview (or better)."""
    page.locator(CANVASES).first.wait_for()
    page.wait_for_function(
        """() => { const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot?.querySelector('canvas'));
            const canvases = host ? [...host.shadowRoot.querySelectorAll('canvas[data-panel]')] : [];
            return canvases.length && canvases.every(c => c.dataset.source && c.dataset.zoom); }"""
    )


def views(page: Page) -> list[tuple[str, str, str]]:
    """Each panel's zoom and the image point at its top-left corner, as drawn."""
    drawn = page.locator(CANVASES).evaluate_all("cs => cs.map(c => [c.dataset.zoom, c.dataset.x, c.dataset.y])")
    return [tuple(view) for view in drawn]


def wait_for_new_view(page: Page, old: list) -> list:
    """Until the first panel shows another view than `old`'s; then every panel's view."""
    page.wait_for_function(
        """old => { const c = [...document.querySelectorAll('*')].find(e => e.shadowRoot?.querySelector('canvas'))
            ?.shadowRoot.querySelector('canvas[data-panel]');
            return c && [c.dataset.zoom, c.dataset.x, c.dataset.y].join() !== old.join(); }""",
        arg=list(old[0]),
    )
    return views(page)


def pixels(page: Page, index: int) -> np.ndarray:
    """What panel `index` shows, read back from its canvas, H×W×4."""
    url = page.locator(CANVASES).nth(index).evaluate("c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA"))


def wait_for_full_resolution(page: Page) -> None:
    """Until every panel draws only full-resolution pixels from the server's crop."""
    expect(page.locator(f"{CANVASES}:not([data-source='full'])")).to_have_count(0)


def test_zooming_or_panning_one_result_moves_every_panel(page: Page, app_url, artifacts):
    open_inspect(page, app_url)
    before = views(page)
    assert len(set(before)) == 1
    result = page.locator(CANVASES).nth(2)  # the second method's result
    box = result.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4)
    page.mouse.wheel(0, -600)  # four times closer, about the pointer
    zoomed = wait_for_new_view(page, before)
    assert len(set(zoomed)) == 1, zoomed
    assert float(zoomed[0][0]) == pytest.approx(4 * float(before[0][0]), rel=1e-3)

    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3 - 120, box["y"] + box["height"] * 0.4 - 60, steps=4)
    page.mouse.up()
    panned = wait_for_new_view(page, zoomed)
    assert len(set(panned)) == 1, panned
    zoom = float(zoomed[0][0])
    assert float(panned[0][1]) == pytest.approx(float(zoomed[0][1]) + 120 / zoom, abs=1 / zoom)
    assert float(panned[0][2]) == pytest.approx(float(zoomed[0][2]) + 60 / zoom, abs=1 / zoom)
    expect(page.locator(".position")).to_contain_text("x ")  # the pointer's image pixel
    assert_no_exception(page)
    page.screenshot(path=artifacts / "inspect-zoomed.png")


def test_a_double_click_goes_to_one_to_one_and_another_back_to_the_fit(page: Page, app_url):
    """Even where the fit is above 100 %: a double-click there used to stay at the fit."""
    page.set_viewport_size({"width": 1400, "height": 1000})
    open_inspect(page, app_url)
    fit = views(page)
    assert float(fit[0][0]) > 1  # the sample's panels at this width: the case that went wrong
    canvas = page.locator(CANVASES).nth(1)
    canvas.dblclick()
    one_to_one = wait_for_new_view(page, fit)
    assert float(one_to_one[0][0]) == 1 and len(set(one_to_one)) == 1
    canvas.dblclick()
    assert wait_for_new_view(page, one_to_one)[0][0] == fit[0][0]
    assert_no_exception(page)


@pytest.fixture()
def twelve_megapixels(tmp_path):
    """A 4000 × 3000 PNG: gradients under seeded noise, so every crop is unlike its neighbours."""
    rng = np.random.default_rng(12)
    y, x = np.mgrid[0:3000, 0:4000].astype(np.float32)
    rgb = np.stack([x / 4000 * 255, y / 3000 * 255, (x + y) / 7000 * 150 + 60], axis=-1)
    rgb += rng.normal(0, 4, rgb.shape).astype(np.float32)
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    path = tmp_path / "twelve megapixels.png"
    Image.fromarray(rgb).save(path, compress_level=1)
    return path, rgb


def test_a_12_mp_upload_at_one_to_one_shows_the_file_s_own_pixels(page: Page, app_url, artifacts, twelve_megapixels):
    path, rgb = twelve_megapixels
    open_inspect(page, app_url, "&methods=octree&k=16", panels=2)
    upload(page, path.name, path.read_bytes())
    expect(page.locator("canvas[data-panel^='original:sha256:']")).to_have_count(1, timeout=600_000)
    wait_until_drawn(page)
    page.get_by_role("button", name="1:1", exact=True).click()
    wait_for_full_resolution(page)
    # Somewhere off-center: drag the view toward the image's top-left part.
    box = page.locator(CANVASES).first.bounding_box()
    drag(page, (box["x"] + 50, box["y"] + 50), (box["x"] + box["width"] - 50, box["y"] + box["height"] - 50))
    wait_for_full_resolution(page)
    zoom, x, y = views(page)[0]
    assert float(zoom) == 1 and float(x).is_integer() and float(y).is_integer()
    shown = pixels(page, 0)
    top, left = int(float(y)), int(float(x))
    height, width = shown.shape[:2]
    assert (left, top) != (0, 0) and left + width <= 4000 and top + height <= 3000
    np.testing.assert_array_equal(shown[..., :3], rgb[top : top + height, left : left + width])
    # The result beside it is drawn from full resolution too: its palette's colors only, no preview's blend.
    result = pixels(page, 1)[..., :3].reshape(-1, 3)
    assert len(np.unique(result, axis=0)) <= 16
    assert_no_exception(page)
    page.screenshot(path=artifacts / "inspect-12mp-one-to-one.png")


def test_the_split_wipes_between_the_original_and_a_result(page: Page, app_url, artifacts):
    open_inspect(page, app_url)
    page.get_by_text("Split", exact=True).click()
    wipe = page.locator("canvas[data-panel*='|']")
    expect(wipe).to_have_count(1)
    expect(page.locator(CANVASES)).to_have_count(1)
    wait_until_drawn(page)
    slider = page.get_by_label("Split position")
    sides = {}
    for position in ("1000", "0", "500"):
        slider.fill(position)
        sides[position] = pixels(page, 0)
    half = sides["500"].shape[1] // 2
    assert not np.array_equal(sides["1000"], sides["0"])  # the original is not the result
    np.testing.assert_array_equal(sides["500"][:, : half - 2], sides["1000"][:, : half - 2])
    np.testing.assert_array_equal(sides["500"][:, half + 2 :], sides["0"][:, half + 2 :])
    assert_no_exception(page)
    page.screenshot(path=artifacts / "inspect-split.png")


def test_the_difference_mode_draws_a_delta_e_map_per_result_on_one_scale(page: Page, app_url, artifacts):
    open_inspect(page, app_url)
    page.get_by_text("Difference (ΔE2000)", exact=True).click()
    expect(page.locator("canvas[data-panel^='delta-e:']")).to_have_count(3)
    wait_until_drawn(page)
    legend = page.locator(".legend")
    expect(legend).to_contain_text("ΔE2000 to the original")
    expect(legend.locator(".ticks span")).to_have_count(5)
    expect(legend.locator(".ticks span").last).to_contain_text("≥")
    for index in (1, 2, 3):
        heat = pixels(page, index)
        assert heat[..., 3].min() == 255 and len(np.unique(heat[..., :3].reshape(-1, 3), axis=0)) > 16
    assert_no_exception(page)
    page.set_viewport_size({"width": 1440, "height": 1500})
    page.screenshot(path=artifacts / "inspect-difference.png")
