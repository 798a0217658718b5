"""The dashboard's non-UI logic: outcomes, previews, metrics, names and escaping."""

from __future__ import annotations

import dataclasses
import io
import math
import re

import numpy as np
import pytest
from PIL import Image

import quant
from dashboard.model import outcomes, sweeps
from dashboard.model.formatting import (
    LOCKED_RING, card_title_html, download_name, escape_markdown, file_stem, human_size, method_label, metrics_html,
    swatches_html,
)
from dashboard.model.metric_display import COLUMN_BY_KEY, COLUMNS, compression_ratio, metric_row, metrics_table
from dashboard.model.outcomes import (
    Done, Failed, Recipe, describe_failure, original_png, outcome_key, preview_png, run_method, run_methods,
)
from dashboard.model.selection import method_palette_label
from dashboard.model.settings import Settings


def test_run_method_gives_everything_a_column_shows(image, hist):
    outcome = run_method(image, hist, 8, "kmeans", Recipe(space="lab", seed=3))
    assert isinstance(outcome, Done) and outcome.ok
    assert 2 <= len(outcome.colors) <= 8
    assert outcome.pixel_counts.sum() == image.pixel_count
    decoded = Image.open(io.BytesIO(outcome.png))
    assert decoded.mode == "P" and decoded.size == (image.width, image.height)
    assert outcome.metrics.png_bytes == len(outcome.png)
    assert outcome.preview == outcome.png  # narrow image: shown as is
    same = quant.quantize(image, 8, "kmeans", space="lab", seed=3)
    assert np.array_equal(outcome.colors, same.palette.colors)
    assert outcome.metrics.ssim == pytest.approx(same.metrics.ssim)


def test_a_failing_method_becomes_an_error_not_an_exception(image, hist):
    outcome = run_method(image, hist, 999, "kmeans", Recipe())
    assert isinstance(outcome, Failed) and not outcome.ok
    assert outcome.error.startswith("ValueError: k must be")
    assert not hasattr(outcome, "png") and not hasattr(outcome, "metrics")  # a failure carries no result


def test_describe_failure_is_one_short_line():
    assert describe_failure(MemoryError()) == "MemoryError"
    text = describe_failure(RuntimeError("line one\nline two " + "x" * 500))
    assert "\n" not in text and len(text) <= 200 and text.startswith("RuntimeError: line one line two")


def test_original_png_keeps_pixels_and_transparency(photo):
    opaque = np.ones(photo.shape[:2], bool)
    opaque[:10] = False
    decoded = Image.open(io.BytesIO(original_png(quant.from_array(photo, opaque))))
    rgba = np.asarray(decoded.convert("RGBA"))
    assert np.array_equal(rgba[10:, :, :3], photo[10:])
    assert (rgba[:10, :, 3] == 0).all() and (rgba[10:, :, 3] == 255).all()


def test_preview_shrinks_only_wide_images():
    wide = io.BytesIO()
    Image.new("RGB", (3000, 1000), "teal").save(wide, format="PNG")
    preview = Image.open(io.BytesIO(preview_png(wide.getvalue(), max_width=1460)))
    assert preview.size == (1460, 487)


@pytest.mark.parametrize("size, text", [(0, "0 B"), (999, "999 B"), (218_916, "218.9 kB"),
                                        (13_514_800, "13.5 MB"), (2_000_000_000, "2.0 GB")])
def test_human_size(size, text):
    assert human_size(size) == text


def test_compression_ratio():
    assert compression_ratio(100_000, 25_000) == 4.0
    assert math.isnan(compression_ratio(100, 0))


def test_metrics_table_and_row(image, hist):
    good = run_method(image, hist, 4, "octree", Recipe())
    bad = run_method(image, hist, 4, "no-such-method", Recipe())
    rows = metrics_table([good, bad], original_bytes=40_000)
    assert len(rows) == 1
    row = rows[0]
    assert row["method"] == "Octree (Pillow)" and row["baseline"] is True
    assert row["ratio"] == pytest.approx(40_000 / good.metrics.png_bytes)
    assert row["png_kb"] == pytest.approx(good.metrics.png_bytes / 1000)
    assert set(metric_row(good, 40_000)) == {column.key for column in COLUMNS}


def test_metrics_html_formats_every_metric():
    row = {"ssim": 0.83456, "psnr": math.inf, "delta_e": 4.5, "blurred_delta_e": 3.214, "png_kb": 23.61, "ratio": 9.26,
           "seconds": 1.234}
    text = metrics_html(row)
    for expected in ("0.835", "∞", "4.50", "3.21", "Blurred ΔE2000", "23.6 kB", "9.3×", "1.23 s", "ΔE2000"):
        assert expected in text


def test_swatches_carry_hex_and_share_on_hover():
    colors = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)
    text = swatches_html(colors, np.array([3, 1]))
    assert re.findall(r'title="([^"]+)"', text) == ["#ff0000 · 75.0% of pixels", "#0000ff · 25.0% of pixels"]
    assert "background:#ff0000" in text


def test_card_titles_are_whole_and_escaped():
    text = card_title_html("Agglomerative <fastcluster> & co")
    assert text == '<div class="quant-card-title"><strong>Agglomerative &lt;fastcluster&gt; &amp; co</strong></div>'
    assert "ellipsis" not in text and "nowrap" not in text  # a narrow card wraps its title, never cuts it


def test_metric_values_never_wrap_into_their_labels():
    text = metrics_html({"ssim": 0.83, "psnr": 28.0, "delta_e": 4.5, "blurred_delta_e": 3.9, "png_kb": 23.2,
                         "ratio": 9.5, "seconds": 1.3})
    assert "grid-template-columns:minmax(0,1fr) auto" in text
    assert text.count("white-space:nowrap") == len(COLUMNS)


def test_sizes_are_written_one_way_everywhere():
    png = COLUMN_BY_KEY["png_kb"]
    assert png.format(2_812.5) == human_size(2_812_500) == "2.8 MB"  # was "2,812.5 kB" beside "16.5 MB"
    assert png.format(23.61) == "23.6 kB"


@pytest.mark.parametrize("name, stem", [
    ("photo.jpg", "photo"),
    ("../My Photo (1).JPG", "My-Photo-1"),
    ("C:\\Users\\me\\cat.png", "cat"),
    ('<img src=x onerror="alert(1)">.png', "img-src-x-onerror-alert-1"),
    (".bashrc", "bashrc"),
    ("...", "image"),
    ("фото.png", "image"),
    ("a" * 200 + ".png", "a" * 60),
    ("archive.tar.gz", "archive.tar"),
])
def test_file_stem_is_safe_for_a_download_name(name, stem):
    assert file_stem(name) == stem
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", file_stem(name))


def test_download_name_matches_the_cli():
    assert download_name("chelsea", 8, "kmeans", "png") == "chelsea.k8.kmeans.png"


def test_escape_markdown_leaves_nothing_active():
    text = escape_markdown("![x](http://evil/) **bold** <b>hi</b> :red[alert] $x$\nnext")
    assert "\n" not in text
    for active in ("![", "](", "**", "<b>", ":red[", "$x$"):
        assert active not in text


def test_escape_markdown_stops_bare_urls_and_addresses_becoming_links():
    """GFM links bare URLs after escapes are resolved; a zero-width space must break each pattern."""
    original = "see http://evil.invalid/x, HTTPS://a.b, www.evil.invalid and me@evil.invalid"
    visible = re.sub(r"\\(.)", r"\1", escape_markdown(original))  # as shown once escapes are resolved
    for pattern in (r"https?://", r"www\.", r"[\w.+-]@"):
        assert not re.search(pattern, visible, re.IGNORECASE), (pattern, visible)
    assert visible.replace("\u200b", "") == original


# ---- dithering, locked colors, palette order and your own palette ------------------------------------


def settings(**changes) -> Settings:
    return dataclasses.replace(Settings(view="compare"), **changes)


def test_an_outcome_for_another_dither_lock_order_or_palette_has_another_key():
    base = outcome_key("sample:chelsea", "kmeans", settings())
    for changed in (
        settings(dither="floyd-steinberg"),
        settings(dither="floyd-steinberg", strength=0.5),
        settings(lock=("#000000",)),
        settings(order="hue"),
        settings(space="lab"),
        settings(seed=1),
        settings(k=16),
    ):
        assert outcome_key("sample:chelsea", "kmeans", changed) != base, changed
    assert outcome_key("upload", "kmeans", settings()) != base
    # What a method doesn't use doesn't split the cache: a strength without dithering, a palette for k-means.
    assert outcome_key("sample:chelsea", "kmeans", settings(strength=0.3, palette=("#000000", "#ffffff"))) == base


def test_the_custom_palette_s_key_follows_its_colors_not_k_or_the_locks():
    palette = ("#000000", "#ffffff", "#e30613")
    key = outcome_key("img", quant.CUSTOM.name, settings(palette=palette))
    assert key[3] == 3  # k is the palette's size
    assert outcome_key("img", quant.CUSTOM.name, settings(palette=palette, k=64, lock=("#00ff00",))) == key
    assert outcome_key("img", quant.CUSTOM.name, settings(palette=palette[:2])) != key
    assert outcome_key("img", quant.CUSTOM.name, settings(palette=palette, dither="bayer8")) != key


def test_a_run_adds_the_custom_palette_after_the_chosen_methods_only_when_one_is_given():
    assert run_methods(settings(methods=("gmm", "kmeans", "gmm"))) == ("gmm", "kmeans")
    assert run_methods(settings(methods=("octree",), palette=("#000000", "#ffffff"))) == ("octree", "custom")
    assert run_methods(settings(methods=(), palette=("#000000", "#ffffff"))) == ("custom",)


def test_a_custom_palette_outcome_has_exactly_its_colors(image, hist):
    colors = ("#000000", "#ffffff", "#e30613", "#3366cc")
    outcome = run_method(image, hist, 8, quant.CUSTOM.name, Recipe(palette=colors, order="given"))
    assert isinstance(outcome, Done), outcome
    assert quant.hex_colors(outcome.colors) == list(colors)
    assert outcome.palette.locked is not None and outcome.palette.locked.all()
    assert outcome.metrics.colors == 4 and Image.open(io.BytesIO(outcome.png)).size == (image.width, image.height)


def test_locked_colors_stay_in_a_clustering_palette_at_any_k(image, hist):
    for k in (4, 16):
        outcome = run_method(image, hist, k, "kmeans", Recipe(lock=("#e30613",)))
        assert isinstance(outcome, Done)
        codes = quant.hex_colors(outcome.colors)
        assert "#e30613" in codes and len(codes) <= k
        assert outcome.palette.locked[codes.index("#e30613")] and outcome.palette.locked.sum() == 1


def test_a_dithered_outcome_records_its_dither_and_differs_from_the_undithered(image, hist):
    plain = run_method(image, hist, 8, "kmeans", Recipe())
    dithered = run_method(image, hist, 8, "kmeans", Recipe(dither="floyd-steinberg", strength=1.0))
    assert isinstance(plain, Done) and isinstance(dithered, Done)
    assert (plain.dither, dithered.dither) == ("none", "floyd-steinberg")
    assert not np.array_equal(plain.colors, dithered.colors)  # refitted to its dithered output (quant.dither)
    assert dithered.metrics.blurred_delta_e != plain.metrics.blurred_delta_e
    assert dithered.png != plain.png
    assert Recipe(dither="atkinson", strength=0.4).undithered == Recipe()


def test_palette_order_reaches_the_outcome(image, hist):
    outcome = run_method(image, hist, 8, "kmeans", Recipe(order="lightness"))
    assert isinstance(outcome, Done) and outcome.palette.order == "lightness"
    lightness = quant.colorspace.to_space(outcome.colors, "lab")[:, 0]
    assert (np.diff(lightness) >= 0).all()


def test_the_custom_method_has_a_label_everywhere_the_page_looks_one_up(image, hist):
    outcome = run_method(image, hist, 8, quant.CUSTOM.name, Recipe(palette=("#000000", "#ffffff")))
    assert method_label("custom") == method_palette_label("custom") == quant.CUSTOM.label
    row = metrics_table([outcome], 10_000)[0]
    assert row["method"] == quant.CUSTOM.label and row["baseline"] is False


def test_locked_swatches_are_ringed_and_named():
    colors = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)
    text = swatches_html(colors, np.array([3, 1]), locked=np.array([False, True]))
    assert re.findall(r'aria-label="([^"]+)"', text) == ["#ff0000", "#0000ff locked"]
    assert text.count(LOCKED_RING) == 1 and "locked" in re.findall(r'title="([^"]+)"', text)[1]


# --- quality versus k: points made with the page's recipe ------------------------------------------


def test_a_sweep_point_is_made_with_the_dither_and_locks_the_cards_use(image, hist):
    recipe = Recipe(dither="floyd-steinberg", strength=0.8, lock=("#e30613",), seed=2)
    point = sweeps.measure_point("photo", image, hist, 8, "kmeans", recipe)
    card = quant.quantize(image, 8, "kmeans", lock="#e30613", seed=2, dither="floyd-steinberg", dither_strength=0.8)
    assert point.dither == "floyd-steinberg" and point.k == 8 and point.colors == len(card.palette.colors)
    measured = (point.ssim, point.psnr, point.delta_e, point.png_bytes)
    assert measured == (card.ssim, card.psnr, card.delta_e, len(card.png))
    assert point.blurred_delta_e == pytest.approx(card.blurred_delta_e)
    plain = sweeps.measure_point("photo", image, hist, 8, "kmeans", Recipe(lock=("#e30613",), seed=2))
    assert plain.dither == "none" and plain.ssim != point.ssim  # the undithered sweep is another curve
    assert point.thumbnail.shape == (96, 128, 3)  # small images keep their size


def test_the_custom_palette_s_sweep_is_one_point_at_its_own_size(image, hist):
    colors = ("#000000", "#ffffff", "#e30613")
    point = sweeps.measure_point("photo", image, hist, 64, quant.CUSTOM.name, Recipe(palette=colors))
    assert point.k == point.colors == 3


def test_a_worker_reuses_its_preparation_for_the_next_k_of_the_same_recipe(image, hist):
    recipe = Recipe(dither="atkinson")
    sweeps.measure_point("photo", image, hist, 4, "kmeans", recipe)
    prepared = sweeps._last_prepared[1]
    sweeps.measure_point("photo", image, hist, 16, "kmeans", dataclasses.replace(recipe, strength=0.5))
    assert sweeps._last_prepared[1] is prepared  # dithering acts after the preparation
    sweeps.measure_point("photo", image, hist, 16, "kmeans", dataclasses.replace(recipe, lock=("#000000",)))
    assert sweeps._last_prepared[1] is not prepared  # locks change what is prepared


def test_a_sweep_plan_is_the_cards_recipe_at_every_doubling_k_and_your_own_palette_at_its_size():
    chosen = settings(dither="atkinson", lock=("#e30613",), palette=("#000000", "#ffffff", "#e30613"))
    kmeans = sweeps.SweepPlan.of(chosen, "kmeans")
    assert kmeans.recipe == Recipe.for_method(chosen, "kmeans") and kmeans.ks == tuple(quant.DOUBLING_KS)
    custom = sweeps.SweepPlan.of(chosen, quant.CUSTOM.name)
    assert custom.recipe == Recipe.for_method(chosen, quant.CUSTOM.name) and custom.ks == (3,)
    assert repr(kmeans) != repr(sweeps.SweepPlan.of(settings(lock=("#e30613",)), "kmeans"))  # another sweep's name


def test_a_sweep_point_s_key_follows_the_recipe():
    plain, dithered = Recipe(), Recipe(dither="bayer4")
    assert sweeps.point_key("img", "kmeans", 8, plain) != sweeps.point_key("img", "kmeans", 8, dithered)
    assert sweeps.point_key("img", "kmeans", 8, plain) != sweeps.point_key("img", "kmeans", 16, plain)


def test_a_workers_warm_up_loads_the_parallel_builds_too():
    """They run only on large inputs: without the warm-up, a user's first big upload would pay their loading."""
    from quant import kmeans, polish, similarity

    for _ in outcomes.warm_up():
        pass
    assert kmeans._nearest_parallel.signatures
    assert similarity._strip_totals_parallel.signatures
    assert polish._assign_parallel.signatures and polish._search_parallel.signatures
    assert polish._gray_optimum.signatures  # a gray image's exact palette


@pytest.mark.parametrize(
    ("method", "recipe", "warm"),
    [
        ("kmeans", Recipe(space="oklab", dither="atkinson"), ("kmeans", "oklab", "diffusion")),
        ("gmm", Recipe(dither="bayer4", strength=0.0), ("gmm", "rgb", None)),  # strength 0: not dithered
        (quant.CUSTOM.name, Recipe(palette=("#000000", "#ffffff"), dither="edge-aware"), ("custom", "rgb", "edge-aware")),
    ],
)
def test_a_result_is_timed_only_after_its_method_has_run_once_in_the_process(monkeypatch, method, recipe, warm):
    """A worker that takes a task before its warm-up reached the method must not count kernel loading as its time."""
    calls = []
    monkeypatch.setattr(outcomes, "warmed", lambda method, *args: calls.append(("warmed", method.name, *args)))
    timed = outcomes.quantized
    monkeypatch.setattr(outcomes, "quantized", lambda *args: calls.append(("timed",)) or timed(*args))
    image = quant.from_array(np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8))
    outcomes.measure(image, quant.build_histogram(image), 4, quant.get_method(method), recipe)
    assert calls == [("warmed", *warm), ("timed",)]


def test_warming_kmeans_loads_the_polish_s_parallel_search_that_any_photo_takes():
    """Else a worker's first photo pays its loading (seconds, compiling on a fresh clone) inside its timed quantize.

    Kernels only large images take (2**18 colors or more) are left to the warm-up's last step."""
    import subprocess
    import sys

    # In a fresh process: this one's kernels may already be loaded by other tests.
    script = (
        "from dashboard.model import outcomes; from quant import polish; outcomes.warmed(outcomes.get_method('kmeans'), 'rgb'); "
        "print(len(polish._search_parallel.signatures))"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600)
    assert loaded.stdout.split() == ["1"]


def test_warming_a_method_runs_it_once_per_process_even_for_each_task_s_pickled_copy():
    import pickle

    outcomes.warmed.cache_clear()
    octree = quant.get_method("octree")
    outcomes.warmed(octree, "rgb", "ordered")
    outcomes.warmed(pickle.loads(pickle.dumps(octree)), "rgb", "ordered")  # as a worker receives it
    assert outcomes.warmed.cache_info().misses == 1 and outcomes.warmed.cache_info().hits == 1


def test_a_failing_warm_up_leaves_the_result_to_report_it(monkeypatch):
    def broken_warm_up(*_):
        raise RuntimeError("no warm-up today")

    monkeypatch.setattr(outcomes, "warmed", broken_warm_up)
    image = quant.from_array(np.random.default_rng(1).integers(0, 256, (8, 8, 3), dtype=np.uint8))
    done = outcomes.measure(image, quant.build_histogram(image), 4, quant.get_method("octree"), Recipe())
    assert len(done.colors) == 4


def test_the_table_writes_sizes_in_the_unit_its_largest_is_written_in():
    from dashboard.model.metric_display import table_in_one_size_unit

    tiny = [{"method": "a", "png_kb": 0.085, "ratio": 2.0}, {"method": "b", "png_kb": 0.322, "ratio": 1.0}]
    table, size_format = table_in_one_size_unit(tiny)
    assert size_format == "%d B" and [row["png_size"] for row in table] == pytest.approx([85, 322])  # as the cards
    assert list(table[0]) == ["method", "png_size", "ratio"]  # the same columns, in place
    assert tiny[0]["png_kb"] == 0.085  # the chart's rows are left as they were
    table, size_format = table_in_one_size_unit([{"png_kb": 950.0}, {"png_kb": 2_450.0}])
    assert size_format == "%.1f MB" and [row["png_size"] for row in table] == pytest.approx([0.95, 2.45])


def test_counts_and_engine_notes_read_as_sentences_on_the_page():
    from dashboard.model.formatting import as_sentence, count_of

    assert [count_of(n, "color") for n in (0, 1, 2, 1024)] == ["0 colors", "1 color", "2 colors", "1,024 colors"]
    assert as_sentence("the image is fully transparent") == "The image is fully transparent"
    assert as_sentence("") == ""


def test_a_one_color_image_s_note_is_in_the_singular():
    flat = quant.from_array(np.full((4, 4, 3), 90, np.uint8))
    assert "the image has only 1 distinct color, so it is kept" in quant.quantize(flat, 8).palette.notices
