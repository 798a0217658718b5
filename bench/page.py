"""The page-latency section: a real `streamlit run serve.py`, driven by Chromium, beside the engine's own time.

One fresh server on a free port, one browser, then in order (each step after the previous one's
results, as one user would go):

* ``cold_open``: open the page; from the sidebar's first paint to the first results (the default
  page: the original, three result cards and the full-size view, all decoded, script finished);
* ``k_first`` / ``k_all``: once the page is drawn (its chart too), click the k = 16 quick pick;
  from the click event to the first card that shows a new picture, and to all of them;
* ``revisit``: reload the page (every result is in the server's cache); navigation to results;
* ``umap_first``: click the Cluster maps view, the first UMAP map since the server started; click
  to the map and its "embedded in" caption;
* ``umap_warm``: open the cluster maps of seed 1, whose results were computed just before (on the
  Compare view), so only a new map is made: navigation to the map;
* ``gmm_sweep``: open Quality vs k with gmm only (its k = 8 result is cached); navigation until
  k = 2…64 are done (the progress bar moves on to k = 128), and ``gmm_sweep_all`` to k = 256.

Page times are taken in the browser (``performance.now()``, polled every animation frame), so
the Python side's latency doesn't count. The engine's time for the same work is measured in a
fresh process (`engine`): the histogram, the original's PNG and three `measure` calls (what
`cached_outcome` runs) for the open, the same at k = 16, a UMAP embedding cold (import and
compile included) and warm, and `sweep(prepare(image, "gmm"), [2, 4, …, 64])`. The 1-minute
load average is recorded before and after every step: the 2 cores are shared.

``python -m bench.page`` runs only this section and prints its table; ``python -m bench.page
--engine`` only the engine's part, as JSON.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("QUANT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
#: Each step: what the report calls it, its limit in seconds, and the engine figure beside it.
STEPS = {
    "cold_open": ("cold open: sidebar's first paint → first results", 4.0, "open"),
    "k_first": ("k change 8 → 16: click → first new card", 1.0, None),
    "k_all": ("k change 8 → 16: click → all cards", 3.0, "k16"),
    "revisit": ("cached revisit: reload → results", 2.0, None),
    "umap_first": ("first UMAP map after server start: click → map", 20.0, "umap_cold"),
    "umap_warm": ("warm UMAP map (seed 1, results cached): open → map", 5.0, "umap_warm"),
    "gmm_sweep": ("gmm quality vs k, k = 2…64: open → k = 128 begins", 10.0, "gmm_sweep"),
    "gmm_sweep_all": ("gmm quality vs k, k = 2…256: open → gallery", None, None),
}
ENGINE_LABELS = {
    "open": "histogram + original PNG + kmeans, gmm, agglomerative at k=8 (warm)",
    "k16": "kmeans, gmm, agglomerative at k=16 (warm)",
    "umap_cold": "UMAP of 5,000 pixels, new process (import and compile included)",
    "umap_warm": "UMAP of 5,000 pixels, seed 1, warm",
    "gmm_sweep": "sweep(prepare(image, 'gmm'), [2, 4, …, 64])",
}
SERVER_START_SECONDS = 120
STEP_TIMEOUT_MS = 240_000

_CAPTIONS = '[data-testid="stMain"] [data-testid="stCaptionContainer"]'
_MAIN_IMGS = '[...document.querySelectorAll(\'[data-testid="stMain"] [data-testid="stImage"] img\')]'
_RUNNING = "document.querySelector('[data-testid=\"stStatusWidget\"]')?.innerText.includes('Running')"
#: performance.now() once `n` pictures are in the main area, all decoded, and the script is done; else false.
_RESULTS_AT = f"""n => {{
    const imgs = {_MAIN_IMGS};
    return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0) && !{_RUNNING}
        && performance.now();
}}"""
#: performance.now() once `count` of the three result cards show a picture not in `old`.
_NEW_CARDS_AT = f"""([old, count]) => {{
    const cards = {_MAIN_IMGS}.slice(1, 4);
    return cards.filter(i => !old.includes(i.src) && i.complete && i.naturalWidth > 0).length >= count
        && performance.now();
}}"""
_SIDEBAR_AT = """() => document.querySelector('[data-testid="stSidebar"] [data-testid="stMultiSelect"]')
    && performance.now()"""
#: performance.now() once the cluster map is drawn and captioned, and the script is done.
_MAP_AT = f"""() => {{
    const caption = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stCaptionContainer"]')]
        .find(c => c.innerText.includes('embedded in'));
    return caption && document.querySelector('.js-plotly-plot .main-svg') && !{_RUNNING}
        && performance.now();
}}"""
#: performance.now() once the page's chart (the Compare view's metrics) is drawn and the script is done.
_CHART_AT = f"() => document.querySelector('.js-plotly-plot .main-svg') && !{_RUNNING} && performance.now()"
#: Remembers when the next click reaches the page (performance.now()), for `_click`.
_ON_NEXT_CLICK = """() => {
    window.__quantClick = null;
    const remember = () => { window.__quantClick = performance.now(); };
    document.addEventListener('click', remember, {capture: true, once: true});
}"""
_TEXT_AT = "text => document.querySelector('[data-testid=\"stMain\"]')?.innerText.includes(text) && performance.now()"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _start_server(log: Path) -> tuple[subprocess.Popen, str, float]:
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "serve.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    started = time.perf_counter()
    with open(log, "w") as out:
        server = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    deadline = started + SERVER_START_SECONDS
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {server.returncode}: {log.read_text()[-500:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return server, url, time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"streamlit did not answer /_stcore/health within {SERVER_START_SECONDS} s")


def _at(page, script: str, arg=None) -> float:
    """Seconds on the page's clock (performance.now()) when `script` first returned true."""
    return page.wait_for_function(script, arg=arg, timeout=STEP_TIMEOUT_MS).json_value() / 1000.0


def _click(page, locator) -> float:
    """Click `locator` as a user would; the page's clock (s) when the click event reached it.

    Timed from the event, not from the call: Playwright's own checks before a click (visible,
    stable, not covered) take up to half a second on a loaded machine, and no user waits for them.
    """
    page.evaluate(_ON_NEXT_CLICK)
    locator.click()
    return page.evaluate("window.__quantClick") / 1000.0


def _card_sources(page) -> list[str]:
    return page.evaluate(f"() => {_MAIN_IMGS}.slice(1, 4).map(i => i.src)")


def drive(url: str, server_started: float, record) -> None:
    """Every step on one browser page; `record(step, seconds, **extra)` is called after each."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)

            load = _load()
            page.goto(url, wait_until="commit")
            sidebar = _at(page, _SIDEBAR_AT)
            results = _at(page, _RESULTS_AT, 5)
            # A person clicks on a page that is drawn: Chromium draws the metrics chart after the
            # results (loading plotly.js the first time: 2 s of its main thread on a loaded machine),
            # and a click made before then waits for it.
            drawn = _at(page, _CHART_AT)
            record(
                "cold_open",
                results - sidebar,
                load=load,
                sidebar_paint=round(sidebar, 3),
                since_navigation=round(results, 3),
                chart_drawn=round(drawn - sidebar, 3),
            )

            load, old = _load(), _card_sources(page)
            quick_pick = page.get_by_role("radiogroup", name="Quick picks").get_by_role("radio", name="16", exact=True)
            clicked = _click(page, quick_pick)
            first = _at(page, _NEW_CARDS_AT, [old, 1])
            record("k_first", first - clicked, load=load)
            _at(page, _NEW_CARDS_AT, [old, 3])
            record("k_all", _at(page, _RESULTS_AT, 5) - clicked, load=load)

            load = _load()
            page.reload(wait_until="commit")
            record("revisit", _at(page, _RESULTS_AT, 5), load=load)

            load = _load()
            since_start = time.perf_counter() - server_started
            clicked = _click(
                page, page.get_by_role("radiogroup", name="View").get_by_role("radio", name="Cluster maps", exact=True)
            )
            record(
                "umap_first",
                _at(page, _MAP_AT) - clicked,
                load=load,
                clicked_after_server_start=round(since_start, 1),
                caption=_map_caption(page),
            )

            # Seed 1's results first (Compare view), so that opening its cluster maps makes only a new map.
            page.goto(f"{url}/?seed=1&k=16", wait_until="commit")
            _at(page, _RESULTS_AT, 5)
            load = _load()
            page.goto(f"{url}/?seed=1&k=16&view=cluster-maps", wait_until="commit")
            record("umap_warm", _at(page, _MAP_AT), load=load, caption=_map_caption(page))

            load = _load()
            page.goto(f"{url}/?methods=gmm&k=8&seed=0&view=quality-vs-k", wait_until="commit")
            record("gmm_sweep", _at(page, _TEXT_AT, "k = 128…"), load=load)
            record("gmm_sweep_all", _at(page, _RESULTS_AT, 8), load=load)
        finally:
            browser.close()


def _map_caption(page) -> str:
    return page.evaluate(f"""() => [...document.querySelectorAll('{_CAPTIONS}')]
        .map(c => c.innerText).find(t => t.includes('embedded in')) || ''""")


def bench_page(args=None) -> dict:
    """Run the page steps against a fresh server, and the engine's part in a fresh process."""
    result = {"load_before": [round(x, 2) for x in os.getloadavg()], "steps": {}, "engine": {}}
    if not CHROMIUM.exists():
        result["status"] = f"skipped: no Chromium at {CHROMIUM} (QUANT_CHROMIUM)"
        return result
    try:
        import playwright  # noqa: F401
    except ImportError:
        result["status"] = "skipped: playwright is not installed (requirements-dev.txt)"
        return result

    def record(step, seconds, **extra):
        result["steps"][step] = {"seconds": round(seconds, 3), "load_after": _load(), **extra}
        print(
            f"page {step:<14} {seconds:7.2f} s  (load {extra.get('load')} → {_load()})  "
            + " ".join(f"{k}={v}" for k, v in extra.items() if k != "load"),
            flush=True,
        )

    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "server.log"
        try:
            server, url, ready = _start_server(log)
        except RuntimeError as error:
            result["status"] = f"server did not start: {error}"
            return result
        server_started = time.perf_counter() - ready
        result["server_ready_seconds"] = round(ready, 2)
        try:
            drive(url, server_started, record)
            result["status"] = "ok"
        except Exception as error:  # noqa: BLE001 — the section reports what it measured and why it stopped
            result["status"] = f"stopped: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
    result["engine"] = engine_in_child()
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def engine_in_child() -> dict:
    """The engine's part, in a fresh process (so the UMAP figure includes its compile)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.page", "--engine"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        return {"status": "error: " + done.stderr.strip()[-300:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def engine() -> dict:
    """The engine's own time for each step's work, in this process, with the load beside each."""
    import quant
    from dashboard.model.outcomes import Recipe, measure, original_png, preview_png
    from quant import embed, sweep

    image = quant.sample_image()
    methods = [quant.get_method(name) for name in quant.STUDY_METHODS]
    out: dict = {"status": "ok"}

    def timed(name, work):
        load = _load()
        started = time.perf_counter()
        work()
        out[name] = {"seconds": round(time.perf_counter() - started, 3), "load": load}

    def open_page(k):
        hist = quant.build_histogram(image)
        preview_png(original_png(image))
        for method in methods:
            measure(image, hist, k, method, Recipe())

    open_page(8)  # imports, numba's on-disk cache: the server has them loaded by the time a user waits
    timed("open", lambda: open_page(8))
    timed("k16", lambda: open_page(16))
    hist = quant.build_histogram(image)
    timed("umap_cold", lambda: embed.embed(hist, method="umap", seed=0))
    timed("umap_warm", lambda: embed.embed(hist, method="umap", seed=1))
    timed("gmm_sweep", lambda: sweep.sweep(quant.prepare(image, "gmm"), [2, 4, 8, 16, 32, 64]))
    return out


def verdicts(page: dict) -> list[tuple[str, float | None, float | None, float | None, str | None]]:
    """(label, page seconds, engine seconds, limit, engine label) per step, in order; None where not measured."""
    rows = []
    for step, (label, limit, engine_key) in STEPS.items():
        measured = page.get("steps", {}).get(step)
        engine_figure = page.get("engine", {}).get(engine_key) if engine_key else None
        rows.append(
            (
                label,
                measured["seconds"] if measured else None,
                engine_figure["seconds"] if isinstance(engine_figure, dict) else None,
                limit,
                ENGINE_LABELS.get(engine_key) if engine_key else None,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--engine" in argv:
        print(json.dumps(engine()))
        return 0
    from .report import page_section

    print("\n".join(page_section(bench_page())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
