"""kmeans' last pass (`quant.polish`): what it minimises, that it lowers it, and the exact gray solution."""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import quant
from quant import polish as P
from quant.ciede2000 import ciede2000
from quant.colorspace import rgb_to_lab


def costs(rgb: np.ndarray, colors: np.ndarray, weight: float = P.RGB_WEIGHT) -> np.ndarray:
    """ΔE2000 + weight × RGB distance of every color (rows) to every palette color (columns), by brute force."""
    rgb = np.asarray(rgb, np.float64)
    lab, palette_lab = rgb_to_lab(rgb), rgb_to_lab(colors)
    pairs = [ciede2000(lab, np.repeat(palette_lab[j : j + 1], len(lab), axis=0)) for j in range(len(colors))]
    spread = np.sqrt(((rgb[:, None, :] - colors[None].astype(np.float64)) ** 2).sum(axis=2))
    return np.stack(pairs, axis=1) + weight * spread


def total(rgb, counts, colors, labels) -> float:
    return float((counts * costs(rgb, colors)[np.arange(len(rgb)), labels]).sum())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=6, max_size=6))
def test_the_lightness_term_never_exceeds_delta_e(channels):
    """The assignment dismisses a candidate on the RGB term plus this term: it must be a lower bound of ΔE2000."""
    lab = rgb_to_lab(np.array(channels, np.uint8).reshape(2, 3))
    assert P._lightness_term(lab[0, 0], lab[1, 0]) <= ciede2000(lab[:1], lab[1:])[0] + 1e-9


def test_the_cost_is_exact_below_its_bound():
    rgb = np.array([[10.0, 200.0, 30.0]])
    color = np.array([12.0, 190.0, 40.0])
    exact = costs(rgb, color[None].astype(np.uint8))[0, 0]
    assert P._cost(rgb, rgb_to_lab(rgb), 0, color, rgb_to_lab(color[None])[0], P.RGB_WEIGHT, np.inf) == pytest.approx(
        exact, abs=1e-9
    )


def test_default_kmeans_labels_every_color_with_its_palette_color_of_least_cost(image, hist):
    palette = quant.prepare(image, "kmeans", hist=hist).quantize(16).palette
    every = costs(hist.colors, palette.colors)
    np.testing.assert_allclose(every[np.arange(len(hist)), palette.labels], every.min(axis=1), atol=1e-9)


@pytest.mark.parametrize("parallel", [False, True])
def test_the_summed_cost_is_the_brute_force_sum_for_each_color_s_own_palette_color(image, hist, monkeypatch, parallel):
    """What starts are judged by: each color to its labelled palette color (not its nearest), × its pixels."""
    monkeypatch.setattr(P, "_PARALLEL_COLORS", 0 if parallel else 1 << 40)
    palette = quant.prepare(image, "kmeans", hist=hist, params={"polish": "none"}).quantize(8).palette
    labels = np.roll(palette.labels, 1)  # not every color's nearest
    counts = hist.counts.astype(np.float64)
    got = P.summed_cost(hist.colors, hist.lab, counts, palette.colors, labels)
    assert got == pytest.approx(total(hist.colors, counts, palette.colors, labels), rel=1e-9)


@pytest.mark.parametrize("k", [4, 16])
def test_polish_lowers_the_summed_cost_of_the_clustering_palette(image, hist, k):
    plain = quant.prepare(image, "kmeans", hist=hist, params={"polish": "none"}).quantize(k).palette
    polished = quant.prepare(image, "kmeans", hist=hist).quantize(k).palette
    counts = hist.counts.astype(np.float64)
    before = total(hist.colors, counts, plain.colors, plain.labels)
    assert total(hist.colors, counts, polished.colors, polished.labels) < before


def test_polish_keeps_locked_colors_and_their_rows(photo):
    rgb = photo.reshape(-1, 3).astype(np.float64)
    colors = np.array([[0, 0, 0], [255, 255, 255], [120, 80, 40], [30, 160, 90]], np.uint8)
    labels = np.argmin(costs(rgb, colors), axis=1)
    moved, _ = P.polish(rgb, rgb_to_lab(rgb), np.ones(len(rgb)), colors, labels, fixed=2)
    np.testing.assert_array_equal(moved[:2], colors[:2])


def test_a_gray_image_gets_the_exact_optimum():
    """Against every palette of 3 grays among the levels' range: no other has a lower summed cost."""
    levels = np.array([0, 3, 7, 8, 20, 21, 22, 40, 41, 60])
    counts = np.array([5, 1, 2, 9, 3, 3, 1, 4, 6, 2], np.float64)
    rgb = np.repeat(levels[:, None], 3, axis=1).astype(np.float64)
    solved = P.solve_gray(levels.astype(np.uint8)[:, None].repeat(3, axis=1), counts, 3)
    assert solved is not None
    colors, labels = solved
    assert np.all(colors[:, 0] == colors[:, 1]) and np.all(colors[:, 1] == colors[:, 2])
    found = total(rgb, counts, colors, labels)
    grays = np.arange(61)
    per_gray = costs(rgb, np.repeat(grays[:, None], 3, axis=1).astype(np.uint8)) * counts[:, None]
    best = min(per_gray[:, list(trio)].min(axis=1).sum() for trio in itertools.combinations(range(61), 3))
    assert found == pytest.approx(best, rel=1e-12)


def test_kmeans_on_a_gray_photo_keeps_it_gray(photo):
    gray = np.repeat(photo.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    result = quant.quantize(quant.from_array(gray), 8, "kmeans")
    colors = result.palette.colors
    assert len(colors) == 8 and np.all(colors == colors[:, :1])


def test_a_gray_image_is_solved_without_clustering_unless_dithered_locked_or_unpolished(photo):
    """The exact solution is asked before clustering; whatever leaves out the polish still clusters."""
    kmeans, calls = quant.METHODS["kmeans"], []

    @functools.wraps(kmeans.cluster)
    def counted(*args, **kwargs):
        calls.append(args[2])
        return kmeans.cluster(*args, **kwargs)

    counting = dataclasses.replace(kmeans, cluster=counted)
    gray = quant.from_array(np.repeat(photo.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2))
    hist = quant.build_histogram(gray)
    cases = [({}, "none", False), ({"params": {"polish": "none"}}, "none", True)]
    cases += [({"lock": "#000000"}, "none", True), ({}, "floyd-steinberg", True)]
    for settings, dither, clusters in cases:
        calls.clear()
        quant.prepare(gray, counting, hist=hist, **settings).quantize(8, dither=dither)
        assert bool(calls) is clusters, (settings, dither)
    solved = P.solve_gray(hist.colors, hist.counts, 8)
    assert solved is not None
    palette = quant.prepare(gray, "kmeans", hist=hist).quantize(8).palette
    np.testing.assert_array_equal(np.sort(palette.colors[:, 0]), np.sort(solved[0][:, 0]))


def test_polish_none_is_the_clustering_palette(image, hist):
    """``polish="none"`` leaves kmeans' own palette, which the polish moves, lowering mean ΔE2000."""
    plain = quant.prepare(image, "kmeans", hist=hist, params={"polish": "none"}).quantize(16)
    polished = quant.prepare(image, "kmeans", hist=hist).quantize(16)
    assert not np.array_equal(plain.palette.colors, polished.palette.colors)
    assert polished.delta_e < plain.delta_e


def test_a_dithered_result_is_fitted_from_the_clustering_palette_not_the_polished_one(image, hist):
    """The polish fits a palette to undithered output; a dithered result's fit starts from the clustering's own."""
    from quant.dither import fit_palette

    prepared = quant.prepare(image, "kmeans", hist=hist)
    result = prepared.quantize(8, dither="floyd-steinberg")
    fitted, _ = fit_palette(hist, prepared.palette(8, polish=False), "floyd-steinberg", 1.0)
    np.testing.assert_array_equal(result.palette.colors, fitted.colors)
    assert not np.array_equal(prepared.palette(8, polish=False).colors, prepared.palette(8).colors)


def test_a_flat_area_s_color_is_never_left_out_of_the_sample():
    """One color of many pixels among thousands of single-pixel ones: it must pull its palette color to itself."""
    rng = np.random.default_rng(3)
    noise = np.clip(rng.normal((90, 90, 160), 25, (4000, 3)), 0, 255)
    for position in (0, 1, 2, 1999):  # wherever the heavy color falls in histogram order
        rgb = np.insert(noise, position, (140, 60, 60), axis=0)
        counts = np.ones(len(rgb))
        counts[position] = 200_000
        colors = np.array([[120, 70, 90]], np.uint8)
        moved, _ = P.polish(rgb, rgb_to_lab(rgb), counts, colors, np.zeros(len(rgb), np.int64))
        assert np.abs(moved[0].astype(int) - (140, 60, 60)).max() <= 2, position


def test_a_sample_stands_for_every_pixel_of_its_cluster():
    labels = np.repeat(np.arange(3), [10, 5000, 300])
    counts = np.random.default_rng(0).integers(1, 50, len(labels)).astype(np.float64)
    sample, stands_for, start, end = P.pixel_sample(labels, counts, 3, 256)
    for label in range(3):
        taken = sample[start[label] : end[label]]
        assert np.all(labels[taken] == label) and len(taken) <= 256
        assert stands_for[start[label] : end[label]].sum() == pytest.approx(counts[labels == label].sum())
    assert end[0] - start[0] == 10  # a small cluster keeps every color


def test_a_cluster_that_lost_its_colors_takes_none_back():
    """A palette row no color uses (an empty cluster's placeholder, black) is not offered to the assignment."""
    rgb = np.array([[1.0, 1, 1], [2, 2, 2], [240, 240, 240]])
    colors = np.array([[60, 60, 60], [0, 0, 0], [240, 240, 240]], np.uint8)  # row 0 locked, row 1 nobody's
    _, labels = P.polish(rgb, rgb_to_lab(rgb), np.ones(3), colors, np.array([0, 0, 2]), fixed=1)
    assert list(labels) == [0, 0, 2]


def test_the_working_colors_cielab_is_computed_only_when_the_last_pass_runs(image, hist, monkeypatch):
    """polish="none" makes no last pass, so neither `ready` nor a palette converts the working colors."""
    from quant.palette import PaletteWork

    converted, convert = [], PaletteWork._working_lab
    monkeypatch.setattr(PaletteWork, "_working_lab", lambda work: converted.append(1) or convert(work))
    plain = quant.prepare(image, "kmeans", hist=hist, params={"polish": "none"}).ready()
    plain.quantize(8)
    assert plain.last_pass is None and not converted
    polished = quant.prepare(image, "kmeans", hist=hist).ready()
    assert polished.last_pass is not None and converted
