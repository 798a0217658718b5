"""Figure builders: the right traces, points in their true colors, palettes on top, titled axes."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from concurrent.futures import Future

import numpy as np
import pytest

import quant
from dashboard.model import figures
from dashboard.model.sweeps import SweepPoint
from quant import embed
from quant.sweep import SweepRow


@pytest.fixture(scope="module")
def palettes(image, hist):
    return {
        "k-means": quant.prepare(image, "kmeans", hist=hist).quantize(6).palette,
        "Median cut": quant.prepare(image, "median-cut", hist=hist).quantize(4).palette,
    }


@pytest.fixture(scope="module")
def sample(hist):
    return embed.sample_pixels(hist, 3_000, seed=0)


def hex_of(rgb):
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in np.asarray(rgb).tolist()]


def entries_of(trace):
    return np.asarray(trace.customdata)[:, 0].astype(int)


def test_projections_have_one_pixel_trace_per_plane_and_one_palette_trace_per_method(hist, sample, palettes):
    fig = figures.projections_figure(hist, sample, palettes=palettes)
    assert len(fig.data) == 3 * (1 + len(palettes))
    assert {trace.type for trace in fig.data} == {"scattergl"}
    pixel_traces = [t for t in fig.data if t.legendgroup == figures.PIXEL_GROUP]
    assert len(pixel_traces) == 3
    for label in palettes:
        named = [t for t in fig.data if t.name == label]
        assert len(named) == 3 and all(t.legendgroup == figures.palette_group(label) for t in named)
        assert sum(bool(t.showlegend) for t in named) == 1  # one legend entry per method


def test_projection_points_are_drawn_in_their_true_color_at_their_coordinates(hist, sample):
    fig = figures.projections_figure(hist, sample)
    for trace, (x, y) in zip(fig.data, figures.PROJECTIONS):
        entries = entries_of(trace)
        np.testing.assert_array_equal(np.sort(entries), np.sort(sample.entries))
        true_rgb = hist.colors[entries]
        assert list(trace.marker.color) == hex_of(true_rgb)
        np.testing.assert_array_equal(trace.x, true_rgb[:, x])
        np.testing.assert_array_equal(trace.y, true_rgb[:, y])
        # Hover shows the pixel count of each point's color.
        np.testing.assert_array_equal(np.asarray(trace.customdata)[:, 4], hist.counts[entries])
        assert "pixels" in trace.hovertemplate and ":02x" in trace.hovertemplate


def test_projection_axes_are_the_study_planes(hist, sample):
    layout = figures.projections_figure(hist, sample).layout
    titles = [(layout[f"xaxis{n}"].title.text, layout[f"yaxis{n}"].title.text) for n in ("", 2, 3)]
    assert titles == [("Red", "Green"), ("Green", "Blue"), ("Red", "Blue")]


def test_palette_markers_are_the_palette_colors_larger_and_outlined(hist, sample, palettes):
    fig = figures.projections_figure(hist, sample, palettes=palettes)
    pixel_size = fig.data[0].marker.size
    for label, palette in palettes.items():
        trace = next(t for t in fig.data if t.name == label)
        assert list(trace.marker.color) == hex_of(palette.colors)
        assert trace.marker.size > pixel_size and trace.marker.line.width > 0
        np.testing.assert_array_equal(trace.x, palette.colors[:, 0])
        np.testing.assert_array_equal(np.asarray(trace.customdata)[:, 0], np.arange(len(palette.colors)))
        # Each marker's pixel count is what its cluster covers.
        covered = np.bincount(palette.labels, weights=hist.counts, minlength=len(palette.colors))
        np.testing.assert_array_equal(np.asarray(trace.customdata)[:, 4], covered)


def test_a_dithered_result_s_markers_tell_the_pixels_its_image_draws_in_each_color(hist, sample, palettes):
    """Dithering moves pixels between colors: the page passes the result's own counts, the markers' hover."""
    label, palette = next(iter(palettes.items()))
    shown = np.arange(len(palette.colors)) * 10 + 1  # made up: anything but the labels' counts
    for fig in (figures.projections_figure(hist, sample, palettes=palettes, pixel_counts={label: shown}),
                figures.rgb_cube_figure(hist, sample, palettes=palettes, pixel_counts={label: shown})):
        for trace in (t for t in fig.data if t.legendgroup == figures.palette_group(label)):
            np.testing.assert_array_equal(np.asarray(trace.customdata)[:, 4], shown)
            assert "customdata[4]" in trace.hovertemplate


def test_points_follow_pixel_counts():
    rgb = np.zeros((100, 100, 3), np.uint8)
    rgb[:90] = (200, 30, 30)
    rgb[90:] = (30, 30, 200)
    hist = quant.build_histogram(quant.from_array(rgb))
    fig = figures.projections_figure(hist, embed.sample_pixels(hist, 1_000, seed=4))
    drawn = Counter(fig.data[0].marker.color)
    assert abs(drawn["#c81e1e"] - 900) <= 1 and abs(drawn["#1e1ec8"] - 100) <= 1


def test_figures_keep_zoom_and_allow_box_and_lasso_selection(hist, sample, palettes):
    fig = figures.projections_figure(hist, sample, palettes=palettes, uirevision="cat.png")
    assert fig.layout.uirevision == "cat.png"
    assert fig.layout.dragmode == "select" and "select" in fig.layout.clickmode
    assert fig.layout.title.text
    lasso = figures.projections_figure(hist, sample, dragmode="lasso")
    assert lasso.layout.dragmode == "lasso"
    with pytest.raises(ValueError, match="dragmode"):
        figures.projections_figure(hist, sample, dragmode="spin")


def test_rgb_cube_is_3d_with_true_colors_and_palettes(hist, sample, palettes):
    fig = figures.rgb_cube_figure(hist, sample, palettes=palettes)
    assert [t.type for t in fig.data] == ["scatter3d"] * (1 + len(palettes))
    pixels = fig.data[0]
    true_rgb = hist.colors[entries_of(pixels)]
    assert list(pixels.marker.color) == hex_of(true_rgb)
    np.testing.assert_array_equal(np.column_stack([pixels.x, pixels.y, pixels.z]), true_rgb)
    assert [t.name for t in fig.data[1:]] == list(palettes)
    scene = fig.layout.scene
    titles = (scene.xaxis.title.text, scene.yaxis.title.text, scene.zaxis.title.text)
    assert titles == ("Red", "Green", "Blue")
    assert fig.layout.uirevision and fig.layout.title.text


def test_palettes_must_label_this_histogram(hist, sample, palettes):
    other = quant.build_histogram(quant.from_array(np.zeros((4, 4, 3), np.uint8)))
    with pytest.raises(ValueError, match="histogram"):
        figures.projections_figure(other, embed.sample_pixels(other, 10), palettes=palettes)
    with pytest.raises(ValueError, match="another histogram"):
        figures.projections_figure(other, sample)


@pytest.fixture(scope="module")
def embedding(hist):
    return embed.embed(hist, method="pca", size=1_500, seed=0)


def test_cluster_map_has_one_map_per_method_colored_by_palette(embedding, hist, palettes):
    fig = figures.cluster_map_figure(embedding, hist, palettes)
    assert len(fig.data) == len(palettes)
    for trace, (label, palette) in zip(fig.data, palettes.items()):
        assert trace.name == label and trace.type == "scattergl"
        entries = entries_of(trace)
        np.testing.assert_array_equal(entries, embedding.sample.entries)  # the shared sample
        np.testing.assert_array_equal(trace.x, embedding.points[:, 0])
        assert list(trace.marker.color) == hex_of(palette.colors[palette.labels[entries]])
    assert [a.text for a in fig.layout.annotations] == list(palettes)
    assert fig.layout.xaxis.title.text == "PC 1" and fig.layout.yaxis.title.text == "PC 2"
    assert fig.layout.xaxis2.matches == "x"  # the maps zoom together


def test_cluster_map_can_color_by_cluster_id(embedding, hist, palettes):
    fig = figures.cluster_map_figure(embedding, hist, palettes, color_by="cluster")
    for trace, palette in zip(fig.data, palettes.values()):
        clusters = palette.labels[entries_of(trace)]
        color_of = {}
        for cluster, color in zip(clusters.tolist(), trace.marker.color):
            assert color_of.setdefault(cluster, color) == color  # one color per cluster
        assert len(set(color_of.values())) == len(color_of)  # and distinct ones
    with pytest.raises(ValueError, match="color_by"):
        figures.cluster_map_figure(embedding, hist, palettes, color_by="hue")


def sweep_rows(ssims=(0.6, 0.75, 0.85, 0.9, 0.91, 0.915, 0.918, 0.92)):
    """A page's sweep (`SweepPoint`s, with the blurred ΔE) of made-up values."""
    ks = [2**e for e in range(1, len(ssims) + 1)]
    return [SweepPoint(k=k, colors=k, ssim=s, psnr=20 + e, delta_e=10 - e, blurred_delta_e=5 - e / 2,
                       png_bytes=1000 * k, seconds=0.1, dither="none", thumbnail=np.zeros((2, 2, 3), np.uint8))
            for e, (k, s) in enumerate(zip(ks, ssims))]


def sweeps_of_three():
    return {"k-means": sweep_rows(),
            "Octree": sweep_rows((0.5, 0.6, 0.7, 0.8, 0.85, 0.87, 0.88, 0.89)),
            "libimagequant": sweep_rows((0.55, 0.7, 0.8, 0.88, 0.9, 0.91, 0.912, 0.915))}


def test_quality_figure_draws_every_method_on_the_same_five_log2_panels():
    sweeps = sweeps_of_three()
    fig = figures.quality_figure(sweeps, reference="libimagequant")
    assert len(fig.data) == 5 * len(sweeps)
    for number, (label, rows) in enumerate(sweeps.items()):
        curves = fig.data[5 * number: 5 * number + 5]
        assert {t.legendgroup for t in curves} == {label} and sum(bool(t.showlegend) for t in curves) == 1
        assert [list(t.x) for t in curves] == [[r.k for r in rows]] * 5
        assert list(curves[0].y) == [r.ssim for r in rows]
        assert list(curves[3].y) == [r.blurred_delta_e for r in rows]
        assert list(curves[4].y) == [r.png_bytes / 1000 for r in rows]
        assert [t.xaxis for t in curves] == ["x", "x2", "x3", "x4", "x5"]  # the same axes for every method
    reference = [t for t in fig.data if t.legendgroup == "libimagequant"]
    assert all(t.line.dash == "dash" for t in reference) and "(reference)" in reference[0].name
    assert all(t.line.dash is None for t in fig.data if t.legendgroup != "libimagequant")
    assert len({t.line.color for t in fig.data}) == 3  # one color per method, the same on every panel
    for axis in ("xaxis", "xaxis2", "xaxis3", "xaxis4", "xaxis5"):
        assert fig.layout[axis].type == "log"
        assert list(fig.layout[axis].tickvals) == [2, 4, 8, 16, 32, 64, 128, 256]
    assert [fig.layout[f"yaxis{n}"].title.text for n in ("", 2, 3, 4, 5)] == \
        ["SSIM", "PSNR, dB", "ΔE2000", "Blurred ΔE2000", "PNG8 size, kB"]
    assert [a.text for a in fig.layout.annotations][:2] == ["SSIM<br>higher is better", "PSNR (dB)<br>higher is better"]
    assert fig.layout.title.text == "Quality versus k"  # the legend names the methods: no title cut on a phone
    assert fig.layout.uirevision


def test_an_engine_sweep_row_leaves_the_blurred_panel_empty():
    row = sweep_rows()[0]
    engine_row = SweepRow(**{f.name: getattr(row, f.name) for f in dataclasses.fields(SweepRow)})
    fig = figures.quality_figure({"k-means": [engine_row]})
    assert math.isnan(fig.data[3].y[0]) and fig.data[4].y[0] == engine_row.png_bytes / 1000


def test_a_one_point_sweep_is_a_marked_point_not_a_curve():
    sweeps = {**sweeps_of_three(), "Your own palette": sweep_rows()[2:3]}
    fig = figures.quality_figure(sweeps)
    own = [t for t in fig.data if t.legendgroup == "Your own palette"]
    assert len(own) == 5 and {t.mode for t in own} == {"markers"} and {t.marker.symbol for t in own} == {"diamond"}
    assert {t.mode for t in fig.data if t.legendgroup == "k-means"} == {"lines+markers"}
    rate = figures.rate_distortion_figure(sweeps)
    assert rate.data[-1].mode == "markers" and list(rate.data[-1].x) == [sweep_rows()[2].png_bytes / 1000]
    # a point has no curve to average over sizes: it doesn't take part in the best quality per byte
    assert figures.best_quality_per_byte(sweeps) == figures.best_quality_per_byte(sweeps_of_three())
    assert figures.best_quality_per_byte({"k-means": sweep_rows(), "Your own palette": sweep_rows()[:1]}) is None


def test_each_curve_keeps_its_knee():
    sweeps = sweeps_of_three()
    fig = figures.quality_figure(sweeps, knees={"k-means": 16, "Octree": None, "libimagequant": 8})
    stars = [t for t in fig.data if t.marker.symbol == "star"]
    assert len(stars) == 10  # on each of the five panels, for the two methods that have a knee
    kmeans = [t for t in stars if t.legendgroup == "k-means"]
    assert [list(t.x) for t in kmeans] == [[16]] * 5 and list(kmeans[0].y) == [0.9]
    curve = next(t for t in fig.data if t.legendgroup == "k-means")
    assert {t.marker.color for t in kmeans} == {curve.line.color}
    reference = [t for t in stars if t.legendgroup == "libimagequant"]  # a later method: smaller, drawn over
    assert reference[0].marker.size < kmeans[0].marker.size and fig.data.index(reference[0]) > fig.data.index(kmeans[0])
    with pytest.raises(ValueError, match="knee_k"):
        figures.quality_figure(sweeps, knees={"k-means": 24})
    with pytest.raises(ValueError, match="at least one"):
        figures.quality_figure({})


def test_best_quality_per_byte_is_the_highest_mean_ssim_over_the_shared_sizes():
    sweeps = sweeps_of_three()
    assert figures.best_quality_per_byte(sweeps) == "k-means"  # above the others at every size
    cheaper = [dataclasses.replace(r, png_bytes=r.png_bytes // 8) for r in sweeps["Octree"]]
    assert figures.best_quality_per_byte({**sweeps, "Octree": cheaper}) == "Octree"  # an eighth of the bytes
    assert figures.best_quality_per_byte({"k-means": sweep_rows()}) is None  # nothing to compare with
    far = [dataclasses.replace(r, png_bytes=10**9 + r.k) for r in sweep_rows()]
    assert figures.best_quality_per_byte({"k-means": sweep_rows(), "far": far}) is None  # no size in common


def test_rate_distortion_draws_every_sweep_and_marks_the_best():
    sweeps = sweeps_of_three()
    fig = figures.rate_distortion_figure(sweeps, reference="libimagequant", best="k-means")
    assert [t.legendgroup or t.name.split(" ")[0] for t in fig.data][:1] == ["k-means"]
    assert len(fig.data) == 3
    assert list(fig.data[0].y) == [r.ssim for r in sweeps["k-means"]]
    assert list(fig.data[0].x) == [r.png_bytes / 1000 for r in sweeps["k-means"]]
    assert "best quality per byte" in fig.data[0].name and fig.data[0].line.width > fig.data[1].line.width
    assert fig.data[2].line.dash == "dash"
    assert "SSIM" in fig.layout.yaxis.title.text and "kB" in fig.layout.xaxis.title.text


def test_a_fully_transparent_image_draws_empty_views():
    hist = quant.build_histogram(quant.from_array(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), bool)))
    sample = embed.sample_pixels(hist, 100)
    assert sample.caption() == "0 of 0 pixels shown (0 distinct colors)"
    assert [len(t.x) for t in figures.projections_figure(hist, sample).data] == [0, 0, 0]
    assert len(figures.rgb_cube_figure(hist, sample).data[0].x) == 0


def test_palette_strip_has_a_bar_per_color_sized_by_share_and_clicks_select_a_cluster(hist, palettes):
    from dashboard.model import selection

    label, palette = next(iter(palettes.items()))
    counts = np.bincount(palette.labels, weights=hist.counts, minlength=len(palette.colors))
    fig = figures.palette_strip_figure(label, palette, counts)
    (bar,) = fig.data
    assert list(bar.marker.color) == quant.hex_colors(palette.colors)
    share = 100 * counts / counts.sum()
    np.testing.assert_allclose(np.asarray(bar.customdata)[:, 2].astype(float), share)  # hover's true share
    np.testing.assert_allclose(bar.y, np.maximum(share, figures.MIN_BAR_FRACTION * share.max()))
    assert fig.layout.clickmode == "event+select"
    # A click on bar 2, as Streamlit delivers it, selects every color that palette color replaces.
    clicked = {"selection": {"points": [{"curve_number": 0, "point_index": 2, "legendgroup": bar.legendgroup,
                                         "customdata": {"0": 2, "1": quant.hex_colors(palette.colors)[2]}}]}}
    entries = selection.entries_from_event(clicked, len(hist), labels_by_group={label: palette.labels})
    np.testing.assert_array_equal(entries, palette.labels == 2)
    with pytest.raises(ValueError, match="one count per palette color"):
        figures.palette_strip_figure(label, palette, counts[:-1])


def test_rare_colors_get_bars_tall_enough_to_click(hist, palettes):
    label, palette = next(iter(palettes.items()))
    counts = np.full(len(palette.colors), 1_000)
    counts[0] = 1  # 0.02 % of the pixels: a bar of a pixel or less at its true height
    (bar,) = figures.palette_strip_figure(label, palette, counts).data
    assert min(bar.y) == pytest.approx(figures.MIN_BAR_FRACTION * max(bar.y))
    assert "customdata[2]" in bar.hovertemplate  # hover tells the true share, not the bar's height


@pytest.mark.parametrize("method", list(quant.METHODS))
def test_a_click_on_any_methods_palette_strip_selects_its_pixels(image, hist, method):
    """The compare view's strip, clicked, read back as `page.palettes` files the palettes: baselines too."""
    from dashboard.model import selection

    palette = quant.prepare(image, method, hist=hist).quantize(4).palette
    counts = palette.pixel_counts(hist.counts)
    page_palettes = {quant.METHODS[method].label: palette}  # how Page.palettes keys a method's palette
    fig = figures.palette_strip_figure(selection.method_palette_label(method), palette, counts)
    clicked = {"selection": {"points": [{"curve_number": 0, "point_index": 0, "legendgroup": fig.data[0].legendgroup,
                                         "customdata": {"0": 0}}]}}
    labels = {label: p.labels for label, p in page_palettes.items()}
    entries = selection.entries_from_event(clicked, len(hist), labels_by_group=labels)
    assert entries.any()
    np.testing.assert_array_equal(entries, palette.labels == 0)


# --- the quality-vs-k view, through AppTest -------------------------------------------------------


def test_the_sweep_view_draws_as_each_method_arrives_and_sweeps_the_page_s_recipe(monkeypatch):
    """Every point arrives late, so the figures are redrawn after each method, the last one included,
    and once more at the end only if something new came: a key drawn twice in a run would fail it."""
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from dashboard.model import sweeps
    from dashboard.views import quality_vs_k

    made = []
    computing = ThreadPoolExecutor(1)

    def late_point(image_key, image, hist, method, k, recipe):
        made.append((method, k, recipe))
        return computing.submit(sweeps.measure_point, image_key, image, hist, k, method, recipe)

    monkeypatch.setattr(quality_vs_k, "sweep_point", late_point)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=300)
    at.query_params.update(view="quality-vs-k", methods="octree", dither="atkinson", strength="0.5",
                           lock="e30613", palette="000000,ffffff,e30613")
    at.run()
    computing.shutdown()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert len([c for c in at.main if c.type == "plotly_chart"]) == 2
    assert at.selectbox(key="sweep_method").options == ["Octree (Pillow) · baseline", "libimagequant · baseline",
                                                        "Your own palette"]
    assert {(recipe.dither, recipe.strength) for _, _, recipe in made} == {("atkinson", 0.5)}
    assert {recipe.lock for method, _, recipe in made if method != "custom"} == {("#e30613",)}
    assert [k for method, k, _ in made if method == "custom"] == [3]  # one point, at the palette's size
    assert "dithered as the cards are (Atkinson, strength 0.5), keeping the 1 locked color" in \
        " ".join(c.value for c in at.main.caption)


def test_a_sweep_point_that_failed_and_is_computed_on_a_later_run_is_in_the_figures(monkeypatch):
    """The cached figures are named by the points that arrived: named by the k asked for, the second run
    would find the first run's figures, drawn without the point that failed, and show them again."""
    import json
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from dashboard.model import sweeps
    from dashboard.model.workers import WorkFailed
    from dashboard.views import cache, quality_vs_k

    class FlakyPool:
        """Computes in this process, at once; octree's point at k = 16 fails the first time, as a lost worker."""

        failures = 0

        def submit(self, budget, work, *args):
            job: Future = Future()
            if work is sweeps.measure_point and args[3:5] == (16, "octree") and not self.failures:
                self.failures += 1
                job.set_exception(WorkFailed("the worker was lost"))
            else:
                job.set_result(work(*args))
            return job

        def stop(self, job):
            job.cancel()

    def octree_ks(at) -> list[int]:
        quality = json.loads(at.get("plotly_chart")[0].proto.spec)
        (ssim, *_) = [trace for trace in quality["data"] if trace.get("legendgroup") == "Octree (Pillow)"]
        return ssim["x"]

    pool = FlakyPool()
    monkeypatch.setattr(cache, "worker_pool", lambda: pool)
    quality_vs_k.cached_figures.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=300)
    at.query_params.update(view="quality-vs-k", methods="octree", seed="4216")  # a seed no other test's points have
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert pool.failures == 1
    assert [w.value for w in at.warning] == [r"Octree (Pillow) · baseline failed at k = 16\: the worker was lost"]
    assert octree_ks(at) == [2, 4, 8, 32, 64, 128, 256]
    at.run()  # the next run (a rerun, the knee slider, another session) asks for k = 16 again
    assert not at.exception and not at.warning, [w.value for w in at.warning]
    assert octree_ks(at) == [2, 4, 8, 16, 32, 64, 128, 256]


class QueueingPool:
    """A worker pool whose every job stays queued until the test finishes it."""

    def __init__(self):
        self.queued: list[Future] = []

    def submit(self, budget, work, *args):
        self.queued.append(Future())
        return self.queued[-1]


@pytest.fixture
def queueing_pool(monkeypatch):
    """The page's cache computing sweep points in a `QueueingPool`, with no point, job or session state of
    another test."""
    import streamlit as st

    from dashboard.model.memory import BoundedCache
    from dashboard.model.outcomes import InFlight
    from dashboard.views import cache

    pool = QueueingPool()
    monkeypatch.setattr(cache, "worker_pool", lambda: pool)
    monkeypatch.setattr(cache, "PER_IMAGE", BoundedCache(2**20))
    monkeypatch.setattr(cache, "IN_FLIGHT", InFlight())
    monkeypatch.setattr(st, "session_state", {})
    return pool


def test_sweep_points_asked_for_twice_share_one_job_and_a_dropped_one_is_asked_for_anew(queueing_pool, image, hist):
    """A rerun joins a point's running job; the next run's start takes queued points back from the
    workers (`drop_queued_sweep_points`), and asking again queues a new job, not the dropped one."""
    from dashboard.model.outcomes import Recipe
    from dashboard.views import cache

    pool = queueing_pool
    recipe = Recipe()
    first = cache.sweep_point("photo", image, hist, "octree", 8, recipe)
    assert cache.sweep_point("photo", image, hist, "octree", 8, recipe) is first
    assert pool.queued == [first]
    cache.drop_queued_sweep_points()
    assert first.cancelled()
    again = cache.sweep_point("photo", image, hist, "octree", 8, recipe)
    assert again is not first and pool.queued == [first, again]
    point = object()
    again.set_result(point)  # the worker finished: kept, so the next ask needs no job
    assert cache.sweep_point("photo", image, hist, "octree", 8, recipe).result() is point
    assert pool.queued == [first, again]
    cache.drop_queued_sweep_points()


def test_a_session_s_dropped_sweep_point_stays_queued_while_another_session_waits_for_it(
    queueing_pool, monkeypatch, image, hist
):
    """Two sessions sweep the same point; one's rerun drops it: the other still waits, so it stays queued.
    Cancelled once no session wants it."""
    import streamlit as st

    from dashboard.model.outcomes import Recipe
    from dashboard.views import cache

    sessions: dict[str, dict] = {"alice": {}, "bob": {}}

    def in_session(name, act):
        monkeypatch.setattr(st, "session_state", sessions[name])
        return act()

    def ask():
        return cache.sweep_point("photo", image, hist, "octree", 8, Recipe())

    job = in_session("alice", ask)
    assert in_session("bob", ask) is job  # bob joins alice's job
    in_session("alice", cache.drop_queued_sweep_points)  # alice's rerun: she left the sweep
    assert not job.cancelled()  # bob still waits for it
    assert in_session("bob", ask) is job  # and finds the same job on his next ask
    in_session("alice", cache.drop_queued_sweep_points)  # a second drop gives nothing more up
    assert not job.cancelled()
    in_session("bob", cache.drop_queued_sweep_points)  # nobody wants it any more: taken back
    assert job.cancelled()
    assert in_session("bob", ask) is not job and len(queueing_pool.queued) == 2


def test_the_rate_distortion_size_axis_writes_every_tick_in_full():
    """plotly labels a log axis's minor ticks by their mantissa ("2 3 4"): here they read 20, 30, 40 kB."""
    xaxis = figures.rate_distortion_figure(sweeps_of_three()).layout.xaxis
    assert xaxis.type == "log" and xaxis.minorloglabels == "complete"
