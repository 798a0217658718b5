"""Faults in the browser: a user changing k while results are still being computed."""

from __future__ import annotations

import numpy as np
import pytest
from playwright.sync_api import Page, TimeoutError as PlaywrightTimeoutError, expect

from cases import photo
from helpers import (
    ERROR, SWATCH_COUNTS, assert_no_exception, hex_to_rgb, main_images, open_page, pick_k, png, swatches, upload,
    wait_for_image, wait_for_query,
)

pytestmark = pytest.mark.browser

NAME, WIDTH, HEIGHT = "busy.png", 320, 240  # tens of thousands of colors: k = 64 takes a while


def describe(page: Page) -> str:
    """What the page shows now, for a failure message."""
    picks = page.get_by_role("radiogroup", name="Quick picks")
    picked = picks.locator('[aria-checked="true"]').all_inner_texts()
    typed = page.get_by_test_id("stNumberInputField").first.input_value()
    return (f"link {page.url.split('?')[-1]}; k input {typed}; quick pick {picked}; "
            f"palette sizes {[len(p) for p in swatches(page)]}; "
            f"status {page.get_by_test_id('stStatusWidget').all_inner_texts()}")


def wait_for_k(page: Page, k: int, fewest: int) -> None:
    """Until the page shows complete results for `k`: the link, the input, and every palette."""
    try:
        wait_for_query(page, "k", str(k))
    except PlaywrightTimeoutError:
        raise AssertionError(f"the page never settled on k={k}: {describe(page)}") from None
    expect(page.get_by_test_id("stNumberInputField").first).to_have_value(str(k))
    page.wait_for_function(
        f"""([k, fewest]) => {{
            const sizes = ({SWATCH_COUNTS})();
            return sizes.length === 3 && sizes.every(n => n >= fewest && n <= k);
        }}""", arg=[k, fewest])
    wait_for_image(page, NAME, WIDTH, HEIGHT)


def assert_results_are_for(page: Page, k: int, fewest: int) -> None:
    palettes = swatches(page)
    assert len(palettes) == 3 and all(fewest <= len(p) <= k for p in palettes), [len(p) for p in palettes]
    for picture, palette in zip(main_images(page)[1:4], palettes):
        colors = {tuple(c) for c in np.unique(picture[..., :3].reshape(-1, 3), axis=0)}
        assert colors <= {hex_to_rgb(code) for code in palette}, "a result image from another k"
    expect(page.get_by_role("radiogroup", name="Quick picks").get_by_role("radio", name=str(k), exact=True)
           ).to_be_checked()
    expect(page.get_by_test_id(ERROR)).to_have_count(0)
    assert_no_exception(page)


def test_changing_k_mid_computation_leaves_the_results_of_the_last_k(page: Page, app_url, artifacts):
    open_page(page, app_url)
    upload(page, NAME, png(photo(HEIGHT, WIDTH, seed=11)))
    wait_for_image(page, NAME, WIDTH, HEIGHT)

    progress = page.get_by_test_id("stProgress")
    pick_k(page, 64)
    expect(progress).to_be_visible()  # k = 64 is being computed...
    pick_k(page, 128)  # ...when the user changes their mind,
    pick_k(page, 4)  # and again, before anything settles.

    wait_for_k(page, 4, fewest=2)
    assert_results_are_for(page, 4, fewest=2)
    page.screenshot(path=artifacts / "interrupted-rerun.png", full_page=True)

    # Whatever the interrupted runs left in the caches is whole: going back to 64 gives full results.
    pick_k(page, 64)
    wait_for_k(page, 64, fewest=5)
    assert_results_are_for(page, 64, fewest=5)
