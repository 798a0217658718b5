"""Several people at once: concurrent browser sessions, each with its own image and its own k.

Each session uploads an image made of four colors no other session uses (plus
a little noise, so the methods have real work), then changes k. Every palette
swatch on its page must sit next to one of its own four colors, the original
it is shown must be its own image pixel for pixel, and every result image
must use only the colors of the palette shown with it: any cross-talk through
the shared caches would put another session's colors on the page.

The server's memory is sampled throughout (proportional set size of the server
and its child processes), the caches are read back from Streamlit's metrics endpoint,
and the figures go to artifacts/load-<n>-sessions.json.

Two sessions run in `make test`: every check above, at two thirds of the work of three (which
took 95 s of the suite on two shared cores). The eight-session run is `make test-long`.
"""

from __future__ import annotations

import ast
import asyncio
import itertools
import io
import json
import re
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import CHROMIUM, CHROMIUM_ARGS, ERROR, EXCEPTION, SWATCH_COUNTS, SWATCHES, UPLOADER, hex_to_rgb, png

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 600_000  # eight sessions computing at once on two shared cores
PEAK_MEMORY_BOUND = 3 * 1024**3
LEVELS = (30, 100, 170, 240)  # 4³ = 64 colors at least 70 apart: each session takes four of them
KS = (4, 16, 32)  # the k each session moves to; never below its four colors, so palettes stay near them

# The session's own image is on the page: its name, its size, five decoded images, the three cards'
# swatches drawn (a component draws them a moment after its card), no run in progress, and no image left
# from before (`old` holds the sources of the images that must change).
SHOWS = f"""([name, dims, old]) => {{
    const main = document.querySelector('[data-testid="stMain"]');
    if (!main) return false;
    const captions = [...main.querySelectorAll('[data-testid="stCaptionContainer"]')]
        .map(c => c.innerText.trim());
    const imgs = [...main.querySelectorAll('[data-testid="stImage"] img')];
    const running = document.querySelector('[data-testid="stStatusWidget"]')?.innerText.includes('Running');
    return captions.includes(name) && captions.some(c => c.startsWith(dims)) && !running
        && imgs.length === 5 && imgs.every(i => i.complete && i.naturalWidth > 0)
        && imgs.slice(0, 4).every(i => !old.includes(i.src)) && ({SWATCH_COUNTS})().length === 3;
}}"""
SOURCES = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img')]
    .map(i => i.src)"""


@dataclass(frozen=True)
class Session:
    name: str
    rgb: np.ndarray
    colors: np.ndarray  # (4, 3): the colors only this session's image is made of
    k: int

    @property
    def dims(self) -> str:
        return f"{self.rgb.shape[1]} × {self.rgb.shape[0]} px"


def sessions(n: int) -> list[Session]:
    """`n` images, each of four colors of its own in quadrants, with noise; each a different size."""
    rng = np.random.default_rng(2026)
    grid = np.array(list(itertools.product(LEVELS, repeat=3)))
    order = rng.permutation(len(grid))
    made = []
    for i in range(n):
        colors = grid[order[4 * i: 4 * i + 4]]
        height, width = 96, 128 + 8 * i
        y, x = np.mgrid[0:height, 0:width]
        quadrant = (y >= height // 2) * 2 + (x >= width // 2)
        rgb = np.clip(colors[quadrant] + rng.normal(0, 5, (height, width, 3)), 0, 255).astype(np.uint8)
        made.append(Session(f"session-{i}.png", rgb, colors, KS[i % len(KS)]))
    return made


def assert_own_colors(session: Session, everyone: np.ndarray, palettes: list[list[str]], k: int) -> None:
    """Every swatch is nearest to one of this session's colors, and close to it."""
    assert len(palettes) == 3, f"{session.name}: {len(palettes)} palettes"
    for palette in palettes:
        assert 1 <= len(palette) <= k, f"{session.name}: {len(palette)} colors at k={k}"
        for code in palette:
            distance = np.linalg.norm(everyone - np.array(hex_to_rgb(code)), axis=1)
            nearest = everyone[distance.argmin()]
            assert any((nearest == own).all() for own in session.colors) and distance.min() < 40, (
                f"{session.name} shows {code}, nearest to {nearest.tolist()}: not one of its own colors "
                f"{session.colors.tolist()}")


async def run_session(browser, url: str, session: Session, everyone: np.ndarray, log: dict) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        start = time.monotonic()
        await page.goto(url)
        await page.wait_for_function(SHOWS, arg=["Chelsea the cat (scikit-image)", "451 × 300 px", []])
        log["opened"] = round(time.monotonic() - start, 1)

        for step, k in enumerate([8, session.k]):
            old = (await page.evaluate(SOURCES))[0 if step == 0 else 1:4]  # k leaves the original as it is
            if step == 0:
                await page.locator(UPLOADER).set_input_files(
                    {"name": session.name, "mimeType": "image/png", "buffer": png(session.rgb)})
            else:
                await (page.get_by_role("radiogroup", name="Quick picks")
                       .get_by_role("radio", name=str(k), exact=True).click())
                await page.wait_for_function(
                    "k => new URLSearchParams(location.search).get('k') === k", arg=str(k))
            await page.wait_for_function(SHOWS, arg=[session.name, session.dims, old])
            log[f"k={k}"] = round(time.monotonic() - start, 1)

            assert await page.locator(EXCEPTION).count() == 0, f"{session.name}: a traceback"
            assert await page.get_by_test_id(ERROR).count() == 0, f"{session.name}: an error"
            for _ in range(3):  # a rerun between reading the sources and fetching them replaces the files
                palettes = await page.evaluate(SWATCHES)
                responses = [await page.request.get(source) for source in await page.evaluate(SOURCES)]
                if all(response.ok for response in responses):
                    break
                log["media 404"] = log.get("media 404", 0) + 1
                await page.wait_for_function(SHOWS, arg=[session.name, session.dims, []])
            missing = [(r.url, r.status) for r in responses if not r.ok]
            assert not missing, f"{session.name}: images on the page are not served: {missing}"
            assert_own_colors(session, everyone, palettes, k)
            pictures = [np.asarray(Image.open(io.BytesIO(await r.body())).convert("RGB")) for r in responses]
            np.testing.assert_array_equal(pictures[0], session.rgb,
                                          err_msg=f"{session.name}: the original shown is not its image")
            for picture, palette in zip(pictures[1:4], palettes):
                used = {tuple(c) for c in np.unique(picture.reshape(-1, 3), axis=0)}
                shown = {hex_to_rgb(code) for code in palette}
                assert used <= shown, f"{session.name}: a result image from elsewhere"
    finally:
        await context.close()


async def run_all(url: str, chosen: list[Session], logs: list[dict]) -> list[BaseException | None]:
    from playwright.async_api import async_playwright

    everyone = np.concatenate([s.colors for s in sessions(8)])
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            return await asyncio.gather(
                *(run_session(browser, url, s, everyone, log) for s, log in zip(chosen, logs)),
                return_exceptions=True)
        finally:
            await browser.close()


# --- the server, seen from outside: memory and caches ---------------------------------------


def server_pid(url: str) -> int:
    """The `streamlit run` process serving `url` (started by conftest.py, a child of this one)."""
    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(argv) and b"--server.port" in argv \
                and argv[argv.index(b"--server.port") + 1] == port.encode():
            return int(proc.name)
    raise AssertionError(f"no streamlit process on port {port}")


def _status_kb(pid: int, field: str, source: str = "status") -> int:
    """A kB figure from /proc/<pid>/status (VmRSS, VmHWM) or smaps_rollup (Pss)."""
    for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (the budget's forkserver children count too)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


class Sampler(threading.Thread):
    """Samples the server's memory and its active sessions until stopped.

    The server's forked children share most of their pages with their parent,
    so resident sets summed over the tree count those pages several times;
    the proportional set sizes (Pss) add up to what the tree really holds.
    """

    def __init__(self, pid: int, url: str):
        super().__init__(daemon=True)
        self.pid, self.url = pid, url
        self.peak_pss_kb = self.peak_rss_sum_kb = self.peak_sessions = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            pss = rss = 0
            for pid in _tree(self.pid):
                try:
                    pss += _status_kb(pid, "Pss", "smaps_rollup")
                    rss += _status_kb(pid, "VmRSS")
                except OSError:
                    pass
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.peak_rss_sum_kb = max(self.peak_rss_sum_kb, rss)
            active = re.search(r"^active_sessions (\d+)", metrics(self.url, "active_sessions"), re.M)
            self.peak_sessions = max(self.peak_sessions, int(active.group(1)) if active else 0)
            self.stopped.wait(0.25)  # sampling period of a meter, not a wait for page state


def metrics(url: str, family: str | None = None) -> str:
    query = f"?families={family}" if family else ""
    with urllib.request.urlopen(f"{url}/_stcore/metrics{query}", timeout=30) as response:
        return response.read().decode()


def cache_bounds() -> dict[str, int | None]:
    """Each cached function of the page's cache layer and its `max_entries` (None when it has none)."""
    bounds = {}
    for node in ast.walk(ast.parse((ROOT / "dashboard" / "views" / "cache.py").read_text())):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if isinstance(target, ast.Attribute) and target.attr in ("cache_data", "cache_resource"):
                limits = [kw.value for kw in (call.keywords if call else []) if kw.arg == "max_entries"]
                bounds[node.name] = ast.literal_eval(limits[0]) if limits else None
                if bounds[node.name] is None:
                    assert not node.args.args, f"{node.name} takes arguments but its cache has no max_entries"
    return bounds


def cache_entries(text: str) -> dict[str, int]:
    """Entries per cached function, as far as the metrics tell.

    Resource caches report their entry count. Data caches report only bytes,
    so their count is bounded from above by misses − evictions: a key that
    several sessions missed at the same moment counts once per session.
    """
    entries: dict[str, int] = {}
    for name, value in re.findall(
            r'^cache_memory_bytes\{cache_type="st_cache_resource",cache="[^"]*\.(\w+)"\} (\d+)', text, re.M):
        entries[name] = int(value)
    misses = dict(re.findall(r'^cache_lookups_total\{cache="[^"]*\.(\w+)",cache_type="st_cache_data",'
                             r'result="miss"\} (\d+)', text, re.M))
    for name, count in misses.items():
        evictions = (rf'^cache_evictions_total\{{cache="[^"]*\.{name}",cache_type="st_cache_data",'
                     r'reason="\w+"\} (\d+)')
        evicted = sum(int(v) for v in re.findall(evictions, text, re.M))
        entries[name] = int(count) - evicted
    return entries


@pytest.mark.parametrize("count", [2, pytest.param(8, marks=pytest.mark.long)])
def test_concurrent_sessions_each_see_their_own_image(browser, app_url, artifacts, count):
    chosen = sessions(count)
    bounds = cache_bounds()
    pid = server_pid(app_url)
    sampler = Sampler(pid, app_url)
    logs: list[dict] = [{"session": s.name, "k": s.k} for s in chosen]
    sampler.start()
    start = time.monotonic()
    outcomes: list = []
    worker = threading.Thread(target=lambda: outcomes.extend(asyncio.run(run_all(app_url, chosen, logs))))
    worker.start()  # its own thread: asyncio.run must not share a thread with the sync Playwright fixtures
    worker.join(timeout=TIMEOUT_MS / 1000 + 120)
    wall = time.monotonic() - start
    sampler.stopped.set()
    sampler.join(timeout=30)
    assert not worker.is_alive(), f"the sessions did not finish within {TIMEOUT_MS / 1000 + 120:.0f} s"

    text = metrics(app_url)
    entries = cache_entries(text)
    figures = {
        "sessions": count,
        "peak_active_sessions": sampler.peak_sessions,
        "wall_seconds": round(wall, 1),
        "peak_server_pss_mb": round(sampler.peak_pss_kb / 1024),
        "peak_server_rss_summed_over_processes_mb": round(sampler.peak_rss_sum_kb / 1024),
        "server_main_process_vmhwm_mb": round(_status_kb(pid, "VmHWM") / 1024),
        "cache_entries": entries,
        "cache_max_entries": bounds,
        "per_session_seconds": logs,
        "failures": [repr(o) for o in outcomes if o is not None],
    }
    (artifacts / f"load-{count}-sessions.json").write_text(json.dumps(figures, indent=2))
    print(f"\nload: {count} sessions (peak {sampler.peak_sessions} at once) in {wall:.0f} s; "
          f"server peak {figures['peak_server_pss_mb']} MB (Pss, with children; main process VmHWM "
          f"{figures['server_main_process_vmhwm_mb']} MB); "
          f"cache entries {entries}")

    failures = [(s.name, o) for s, o in zip(chosen, outcomes) if o is not None]
    assert not failures, "\n".join(f"{name}: {type(o).__name__}: {o}" for name, o in failures)
    assert len(outcomes) == count
    assert sampler.peak_sessions >= count, "the sessions were not all connected at once"
    assert sampler.peak_pss_kb * 1024 < PEAK_MEMORY_BOUND
    # (The per-image data is bounded by bytes, in dashboard.views.cache.PER_IMAGE: test_memory_load.py.)
    for name, limit in bounds.items():
        if limit is not None and name in entries:
            assert entries[name] <= limit, f"{name}: {entries[name]} entries, max_entries={limit}"
