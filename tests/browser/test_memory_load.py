"""Server memory over 20 uploads of 12 MP photos, one after another, in one page (issue 15, item 9).

A server of its own (so nothing else has filled its caches), one browser page,
20 photo-like 4000 × 3000 JPEGs, each different (another base picture, seed,
light and noise). After each upload's results are on the page, the server's
memory is read from /proc: the `streamlit run` process's resident set
(VmRSS), and, separately, the resident sets of its children (the method
workers, their forkserver and UMAP's worker). The per-image caches are bounded
by bytes (QUANT_CACHE_MB); the server process must stay under 2 GB.

Figures go to artifacts/memory-load.json. A `long` run: `make test-long`.
"""

from __future__ import annotations

import io
import json
import time

import pytest
from conftest import Server
from helpers import CHROMIUM, CHROMIUM_ARGS, wait_for_image
from PIL import Image
from test_load import _status_kb, _tree

from bench.images import generated_photo, load

pytestmark = [pytest.mark.browser, pytest.mark.long]

UPLOADS = 20
WIDTH, HEIGHT = 4000, 3000
SERVER_LIMIT_MB = 2048
BASES = ("china", "flower", "chelsea", "coffee", "astronaut", "rocket", "hubble_deep_field")
STEP_TIMEOUT_MS = 900_000  # three methods on a 12 MP photo, on two shared cores


def photo_jpeg(i: int) -> bytes:
    """The i-th upload: a different base picture or seed each time, as a camera JPEG."""
    rgb = generated_photo(load(BASES[i % len(BASES)]), WIDTH, HEIGHT, seed=100 + i)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def memory_mb(pid: int) -> tuple[float, float]:
    """(the server process's VmRSS, its children's VmRSS summed), in MB."""
    children = 0
    for child in _tree(pid)[1:]:
        try:
            children += _status_kb(child, "VmRSS")
        except OSError:
            pass
    return _status_kb(pid, "VmRSS") / 1024, children / 1024


@pytest.fixture()
def fresh_server():
    server = Server()
    server.wait_until_healthy()
    server.first_visit.join(timeout=600)
    yield server
    server.stop()


def test_twenty_12_mp_uploads_keep_the_server_under_2_gb(fresh_server, artifacts):
    from playwright.sync_api import expect, sync_playwright

    pid = fresh_server.process.pid
    rows = [{"upload": 0, "seconds": 0.0, "server_mb": memory_mb(pid)[0], "children_mb": memory_mb(pid)[1]}]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(STEP_TIMEOUT_MS)
            expect.set_options(timeout=STEP_TIMEOUT_MS)
            page.goto(fresh_server.url)
            for i in range(1, UPLOADS + 1):
                data, name = photo_jpeg(i), f"photo-{i:02}.jpg"
                started = time.monotonic()
                page.locator('[data-testid="stMain"] [data-testid="stFileUploader"] input[type="file"]').set_input_files(
                    {"name": name, "mimeType": "image/jpeg", "buffer": data})
                wait_for_image(page, name, WIDTH, HEIGHT)
                server_mb, children_mb = memory_mb(pid)
                rows.append({"upload": i, "seconds": round(time.monotonic() - started, 1),
                             "server_mb": round(server_mb), "children_mb": round(children_mb)})
                print(f"upload {i:2}: {rows[-1]['seconds']:5.1f} s, server {server_mb:6.0f} MB, "
                      f"children {children_mb:6.0f} MB", flush=True)
        finally:
            browser.close()
    figures = {"uploads": rows, "server_peak_vmhwm_mb": round(_status_kb(pid, "VmHWM") / 1024),
               "image": f"{WIDTH} × {HEIGHT} JPEG, quality 90"}
    (artifacts / "memory-load.json").write_text(json.dumps(figures, indent=2))
    worst = max(row["server_mb"] for row in rows)
    assert worst < SERVER_LIMIT_MB, f"the server reached {worst} MB: {rows}"
