"""What the robustness tests do to the page and read back from it, in one place.

Every wait here is on the page's state (an element, a caption, the script's
status), never a fixed sleep.
"""

from __future__ import annotations

import io
import mimetypes
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

CHROMIUM = Path(os.environ.get("QUANT_CHROMIUM", "/usr/bin/chromium"))  # e.g. /usr/bin/chromium-browser
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

UPLOADER = '[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]'
#: The result cards' titles on the default page: the study's three methods.
STUDY_TITLES = ["k-means", "Gaussian mixture", "Agglomerative (fastcluster)"]
EXCEPTION = '[data-testid="stException"]'
ERROR = "stAlertContentError"

#: Where the cards' swatches are: a card's clickable strip (a component, drawn in a shadow root of its
#: own), or the HTML one of a card shown dimmed while the next settings compute. A swatch's label is its
#: hex code (and " locked").
_SWATCH_STRIPS = """[...document.querySelectorAll(
    '[data-testid="stMain"] [data-testid="stBidiComponentIsolated"], [data-testid="stMain"] [data-testid="stHtml"]'
)].map(h => h.shadowRoot || h)"""
#: Each result card's palette, as the hex codes of its swatches, in card order.
SWATCHES = f"""() => {_SWATCH_STRIPS}
    .map(h => [...h.querySelectorAll('[aria-label^="#"]')].map(s => s.getAttribute('aria-label')))
    .filter(hexes => hexes.length)"""
#: How many swatches each card shows, in card order.
SWATCH_COUNTS = f"""() => {_SWATCH_STRIPS}.map(h => h.querySelectorAll('[aria-label^="#"]').length).filter(n => n)"""

#: The results are in: `n` pictures decoded, each card's swatches drawn (a component draws them a moment
#: after its card), and the script no longer running.
_RESULTS_READY = f"""n => {{
    const imgs = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img')];
    const cards = document.querySelectorAll('[data-testid="stMain"] [class*="st-key-result-"] [data-testid="stImage"]');
    const running = document.querySelector('[data-testid="stStatusWidget"]')?.innerText.includes('Running');
    return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0) && !running
        && ({SWATCH_COUNTS})().length >= cards.length;
}}"""

MIME = {".heic": "image/heic", ".webp": "image/webp", ".svg": "image/svg+xml"}


def png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def mime_type(name: str) -> str:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return MIME.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or "application/octet-stream"


def upload(page: Page, name: str, data: bytes) -> None:
    """Put a file on the sidebar's uploader, as a user choosing it would."""
    page.locator(UPLOADER).set_input_files({"name": name, "mimeType": mime_type(name), "buffer": data})


def wait_for_results(page: Page, images: int = 5) -> None:
    """Until `images` pictures are in the main area, all decoded, and the script has finished running.

    Five is the default page: the original, three methods, and the full-size view.
    """
    page.wait_for_function(_RESULTS_READY, arg=images)


def size_caption(page: Page):
    """The original card's caption: "W × H px · colors · PNG size"."""
    return page.get_by_test_id("stMain").get_by_test_id("stCaptionContainer").filter(has_text=" px · ")


def shown_literally(text: str) -> str:
    """A regex for `text` as the page shows it: the app puts zero-width spaces inside URLs so they stay text."""
    return "\u200b?".join(re.escape(char) for char in text)


def wait_for_image(page: Page, name: str, width: int, height: int, images: int = 5) -> None:
    """Until the page shows the results of the image `name` of `width` × `height` pixels."""
    main = page.get_by_test_id("stMain")
    expect(size_caption(page)).to_contain_text(f"{width} × {height} px")
    expect(main.get_by_test_id("stCaptionContainer").filter(has_text=re.compile(f"^{shown_literally(name)}$"))
           ).to_have_count(1)
    wait_for_results(page, images)


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_text("Quality across methods")).to_be_visible()
    wait_for_results(page)


def assert_no_exception(page: Page) -> None:
    expect(page.locator(EXCEPTION)).to_have_count(0)


def swatches(page: Page) -> list[list[str]]:
    """The hex codes of every result card's palette swatches, card by card."""
    return page.evaluate(SWATCHES)


def hex_to_rgb(code: str) -> tuple[int, int, int]:
    code = code.lstrip("#")
    return tuple(int(code[i:i + 2], 16) for i in (0, 2, 4))


def main_images(page: Page, images: int = 5) -> list[np.ndarray]:
    """Every picture in the main area, fetched as the browser fetched it, as H×W×4 RGBA arrays.

    A rerun that lands between reading the sources and fetching them replaces
    the media files; then the page is read again, a bounded number of times.
    """
    for _ in range(3):
        wait_for_results(page, images)
        sources = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').evaluate_all(
            "imgs => imgs.map(i => i.src)")
        responses = [page.request.get(source) for source in sources]
        if all(response.ok for response in responses):
            return [np.asarray(Image.open(io.BytesIO(r.body())).convert("RGBA")) for r in responses]
    raise AssertionError(f"images not served: {[(r.url, r.status) for r in responses if not r.ok]}")


def drag(page: Page, start: tuple[float, float], end: tuple[float, float], steps: int = 5) -> None:
    """Press the mouse at `start`, move to `end` in `steps` moves, release: a box, a lasso or a pan."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.up()


def pick_k(page: Page, k: int) -> None:
    """Click the quick pick for `k` (2, 4, … 256)."""
    page.get_by_role("radiogroup", name="Quick picks").get_by_role("radio", name=str(k), exact=True).click()


def wait_for_query(page: Page, key: str, value: str, timeout: float | None = None) -> None:
    """Until the page's link has `key=value`; the page rewrites it with the History API, not by navigating."""
    page.wait_for_function("([key, value]) => new URLSearchParams(location.search).get(key) === value",
                           arg=[key, value], timeout=timeout)


def result_sources(page: Page) -> list[str]:
    """The sources of the three result cards' images, to tell new results from the ones before."""
    return page.locator('[data-testid="stMain"] [data-testid="stImage"] img').evaluate_all(
        "imgs => imgs.slice(1, 4).map(i => i.src)")


def wait_for_new_results(page: Page, old: list[str]) -> None:
    """Until none of the result images is one of `old`: a caption can change before the images do."""
    page.wait_for_function(
        """old => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img')]
            .slice(1, 4).every(i => !old.includes(i.src))""", arg=old)
