"""The fast paths give the same answers as the plain ones: correctness only, never timings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import quant
from quant import kmeans as K
from quant.colorspace import blend_with_oklab, to_rgb_float, to_space
from quant.histogram import pack_rgb


def _brute_nearest(points, centers):
    d = ((points[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1), d.min(axis=1)


@pytest.mark.parametrize("dims", [3, 6])
def test_nearest_matches_brute_force(dims):
    rng = np.random.default_rng(1)
    points = rng.random((3000, dims)) * 50
    centers = rng.random((97, dims)) * 50
    labels, dist = K.nearest(points, centers)
    want_labels, want_dist = _brute_nearest(points, centers)
    assert np.array_equal(labels, want_labels)
    assert np.allclose(dist, want_dist)


def test_nearest_breaks_ties_to_the_lower_index():
    centers = np.array([[0.0, 0, 0], [2.0, 0, 0], [2.0, 0, 0]])
    labels, _ = K.nearest(np.array([[1.0, 0, 0], [2.0, 0, 0]]), centers)
    assert labels.tolist() == [0, 1]


def test_lloyd_matches_a_numpy_reference():
    rng = np.random.default_rng(2)
    points = rng.random((800, 3)) * 255
    weights = rng.integers(1, 50, 800).astype(float)
    start = points[:12].copy()
    centers, labels, inertia = K.lloyd(points, weights, start, max_iter=30, tol=0.0)

    ref = start.copy()
    for _ in range(30):
        lab = _brute_nearest(points, ref)[0]
        new = ref.copy()
        for j in range(len(ref)):
            members = lab == j
            if members.any():
                new[j] = np.average(points[members], axis=0, weights=weights[members])
        if np.allclose(new, ref, atol=0, rtol=0):
            break
        ref = new
    assert np.allclose(centers, ref)
    assert np.array_equal(labels, _brute_nearest(points, ref)[0])
    assert inertia == pytest.approx(float(np.dot(weights, _brute_nearest(points, ref)[1])))


def test_split_init_gives_k_distinct_weighted_means():
    rng = np.random.default_rng(3)
    points = rng.random((2000, 3))
    weights = rng.random(2000) + 0.1
    centers = K.split_init(points, weights, 16)
    assert centers.shape == (16, 3)
    assert len(np.unique(centers, axis=0)) == 16
    # The mean of the centers weighted by their mass is the data's mean.
    labels = K.nearest(points, centers)[0]
    assert np.allclose(np.average(points, axis=0, weights=weights),
                       np.average(points, axis=0, weights=weights))
    assert labels.max() < 16


def test_weighted_kmeans_is_deterministic_and_bounded():
    rng = np.random.default_rng(4)
    points = rng.random((5000, 6))
    weights = rng.integers(1, 9, 5000).astype(float)
    for init in ("split", "feedback", "kmeans++"):
        a = K.weighted_kmeans(points, weights, 32, seed=5, init=init, max_points=1000)
        b = K.weighted_kmeans(points, weights, 32, seed=5, init=init, max_points=1000)
        assert np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
        assert a[1].min() >= 0 and a[1].max() < 32


def test_a_feedback_start_takes_the_settled_split_from_the_split_start_at_its_k():
    """The same answer as working it out again; the split is settled once per k."""
    rng = np.random.default_rng(8)
    points = rng.random((4000, 3))
    weights = rng.integers(1, 9, 4000).astype(float)
    settled = {}
    for k in (8, 16):
        split = K.weighted_kmeans(points, weights, k, init="split", settled_splits=settled)
        feedback = K.weighted_kmeans(points, weights, k, init="feedback", settled_splits=settled)
        alone = K.weighted_kmeans(points, weights, k, init="feedback")
        np.testing.assert_array_equal(feedback[0], alone[0])
        assert not np.array_equal(split[0], feedback[0])
    assert len(settled) == 2


def test_weighted_by_error_by_hand():
    """Squared errors 0, 1, 0 (mean 1/3 by weight): the middle point's weight × (1 + 3)."""
    points = np.array([[0.0], [1.0], [10.0]])
    raised = K.weighted_by_error(points, np.ones(3), np.array([[0.0], [10.0]]))
    np.testing.assert_allclose(raised, [1.0, 4.0, 1.0])


def test_grid_reduce_keeps_weighted_means_and_mass():
    rng = np.random.default_rng(6)
    points = rng.random((20000, 3)) * 255
    weights = rng.integers(1, 20, 20000).astype(float)
    means, mass, parent = K.grid_reduce(points, weights, 500)
    assert len(means) <= 500
    assert mass.sum() == pytest.approx(weights.sum())
    assert np.allclose((means * mass[:, None]).sum(axis=0), (points * weights[:, None]).sum(axis=0))
    for cell in range(0, len(means), 37):
        members = parent == cell
        assert np.allclose(means[cell], np.average(points[members], axis=0, weights=weights[members]))


def test_reduced_histogram_keeps_weighted_means(photo):
    hist = quant.build_histogram(quant.from_array(photo))
    working = quant.reduce_histogram(hist, 1000)
    assert len(working.weights) <= 1000
    assert working.weights.sum() == hist.total
    for row in range(0, len(working.weights), 53):
        members = working.parent == row
        want = np.average(hist.colors[members].astype(float), axis=0, weights=hist.counts[members])
        assert np.allclose(working.colors[row], want)


@pytest.mark.parametrize("space", ["rgb", "lab", "oklab"])
def test_blend_with_oklab(space):
    rgb = np.array([[0, 0, 0], [255, 255, 255], [200, 30, 90]], dtype=float)
    points = to_space(rgb, space)
    assert np.allclose(to_rgb_float(points, space), rgb, atol=1e-6)
    plain = blend_with_oklab(points, space, 0.0)
    assert plain.shape == (3, 3)
    blended = blend_with_oklab(points, space, 2.0)
    assert blended.shape == (3, 6)
    assert np.allclose(blended[:, 3:], 2.0 * to_space(rgb, "oklab"))


@pytest.mark.parametrize("space", ["rgb", "lab", "oklab"])
@pytest.mark.parametrize("oklab_weight", [0.0, 2.0])
def test_kmeans_in_every_space(photo, space, oklab_weight):
    image = quant.from_array(photo)
    result = quant.quantize(image, 12, "kmeans", space=space, params={"oklab_weight": oklab_weight})
    assert 2 <= len(result.palette.colors) <= 12
    again = quant.quantize(image, 12, "kmeans", space=space, params={"oklab_weight": oklab_weight})
    assert np.array_equal(result.indices, again.indices)
    # A sanity floor: 12 random colors of the image itself score 18.3 dB here.
    assert result.metrics.psnr > 19.5


def test_kmeans_refines_over_the_whole_histogram(photo):
    """Every distinct color ends with its nearest palette color in the clustering metric (up to the last mean update)."""
    image = quant.from_array(photo)
    hist = quant.build_histogram(image)
    result = quant.prepare(image, "kmeans", params={"refine_iter": 50, "polish": "none"}, hist=hist).quantize(8)
    features = blend_with_oklab(hist.colors.astype(float), "rgb", 2.0)
    centers = blend_with_oklab(result.palette.colors.astype(float), "rgb", 2.0)
    nearest = K.nearest(features, centers)[0]
    assert np.mean(nearest == result.palette.labels) > 0.98


def test_full_palette_png_has_no_transparency_slot():
    rng = np.random.default_rng(8)
    colors = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    indices = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    data = quant.png_bytes(indices, colors)
    from io import BytesIO

    from PIL import Image

    decoded = Image.open(BytesIO(data))
    assert np.array_equal(np.asarray(decoded), indices)
    assert "transparency" not in decoded.info


def test_k256_on_a_many_color_image():
    rng = np.random.default_rng(9)
    image = quant.from_array(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8))
    result = quant.quantize(image, 256, "kmeans")
    assert len(result.palette.colors) <= 256
    assert result.metrics.png_bytes > 0


def test_pack_is_exact():
    rng = np.random.default_rng(10)
    rgb = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    codes = pack_rgb(rgb)
    assert np.array_equal(codes, rgb[..., 0].astype(np.uint32) * 65536 + rgb[..., 1].astype(np.uint32) * 256 + rgb[..., 2])


def test_nearest_with_a_guess_is_still_exact():
    rng = np.random.default_rng(11)
    points = rng.random((4000, 6))
    centers = rng.random((64, 6))
    guess = rng.integers(0, 64, 4000)
    labels, dist = K.nearest(points, centers, guess)
    want_labels, want_dist = _brute_nearest(points, centers)
    assert np.array_equal(labels, want_labels)
    assert np.allclose(dist, want_dist)


def test_histogram_count_path_equals_sort_path(monkeypatch):
    """Big images are counted with a 2**24-bin bincount, small ones by sorting: same histogram."""
    from quant import histogram

    rng = np.random.default_rng(12)
    rgb = (rng.integers(0, 64, (300, 200, 3)) * 4).astype(np.uint8)
    mask = rng.random((300, 200)) > 0.1
    image = quant.LoadedImage(rgb=rgb, opaque=mask)
    by_sort = quant.build_histogram(image)
    monkeypatch.setattr(histogram, "_SMALL_IMAGE", 0)
    by_count = quant.build_histogram(image)
    assert np.array_equal(by_sort.colors, by_count.colors)
    assert np.array_equal(by_sort.counts, by_count.counts)
    assert np.array_equal(by_sort.pixel_index, by_count.pixel_index)
    assert by_count.total == mask.sum()


@pytest.mark.parametrize(
    ("shift", "tolerance"),
    [(0.0, 1e-12), (0.5, 0.0)],
    ids=["whole bytes: the compiled loop", "merged colors: scikit-image in chunks"],
)
def test_the_cielab_conversion_equals_scikit_image_s_rgb2lab(monkeypatch, shift, tolerance):
    """Histogram and palette colors (whole bytes) convert in a compiled loop, within 1e-12 of scikit-image; merged
    (fractional) colors go through scikit-image itself, a chunk at a time, which changes no bit."""
    from skimage.color import rgb2lab

    from quant import colorspace

    colors = np.random.default_rng(0).integers(0, 256, (5000, 3)).astype(np.uint8)
    colors[:2] = [[0, 0, 0], [255, 255, 255]]
    rgb = colors + shift if shift else colors
    expected = rgb2lab(rgb[:, None, :] / 255.0)[:, 0, :]
    monkeypatch.setattr(colorspace, "_LAB_CHUNK", 1000)
    np.testing.assert_allclose(colorspace.rgb_to_lab(rgb), expected, rtol=0, atol=tolerance)


def test_flatness_weights_favor_flat_areas_and_sum_like_counts():
    from quant.histogram import flatness_weights

    rng = np.random.default_rng(13)
    rgb = np.zeros((60, 80, 3), np.uint8)
    rgb[:, :40] = 120  # flat half
    rgb[:, 40:] = rng.integers(0, 256, (60, 40, 3))  # noisy half
    image = quant.from_array(rgb)
    hist = quant.build_histogram(image)
    weights = flatness_weights(image, hist)
    flat_row = int(np.flatnonzero((hist.colors == 120).all(axis=1))[0])
    # Every flat pixel away from the border counts fully; the noisy ones count less.
    assert weights[flat_row] > 0.9 * hist.counts[flat_row]
    others = np.delete(np.arange(len(hist)), flat_row)
    assert weights[others].sum() < 0.5 * hist.counts[others].sum()
    assert np.all(weights <= hist.counts + 1e-9)


def test_a_texture_as_contrasty_as_the_flatness_scale_counts_half():
    from quant.histogram import FLATNESS_SCALE, flatness_weights

    # A checkerboard of gray ± the scale: its luma deviates by the scale over every 7×7 window
    # (24 of one level, 25 of the other: a standard deviation within 0.1 % of it).
    level = 128 + FLATNESS_SCALE * (np.indices((40, 40)).sum(axis=0) % 2 * 2 - 1)
    rgb = np.repeat(np.round(level).astype(np.uint8)[..., None], 3, axis=2)
    image = quant.from_array(rgb)
    hist = quant.build_histogram(image)
    share = flatness_weights(image, hist).sum() / hist.counts.sum()
    assert share == pytest.approx(0.5, abs=0.01)


def test_flatness_weights_are_strip_independent(monkeypatch, photo):
    """Strips of 5 rows (far smaller than the image) give the whole-image answer."""
    from quant import histogram

    image = quant.from_array(photo)
    hist = quant.build_histogram(image)
    monkeypatch.setattr(histogram, "_STRIP_PIXELS", 5 * image.width)
    strips = histogram.flatness_weights(image, hist)

    luma = image.rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    mean = histogram._box_mean(luma, 7)
    var = np.maximum(histogram._box_mean(luma * luma, 7) - mean * mean, 0)
    weight = 1.0 / (1.0 + var / histogram.FLATNESS_SCALE**2)
    whole = np.bincount(hist.pixel_index.ravel(), weights=weight.ravel(), minlength=len(hist))
    assert np.allclose(strips, whole, rtol=1e-5)


def test_serial_and_parallel_nearest_kernels_agree():
    rng = np.random.default_rng(21)
    points, centers = rng.random((5000, 6)), rng.random((40, 6))
    axis = int(np.argmax(np.ptp(centers, axis=0)))
    order = np.argsort(centers[:, axis], kind="stable").astype(np.int64)
    keys = np.ascontiguousarray(centers[order, axis])
    guess = rng.integers(0, 40, 5000).astype(np.int64)
    found = []
    for kernel in (K._nearest_serial, K._nearest_parallel):
        labels, dist = np.empty(5000, np.int64), np.empty(5000)
        kernel(points, centers, order, keys, axis, guess, K._half_gaps(centers), labels, dist)
        found.append((labels, dist))
    np.testing.assert_array_equal(found[0][0], found[1][0])
    np.testing.assert_array_equal(found[0][1], found[1][1])
    np.testing.assert_array_equal(found[0][0], _brute_nearest(points, centers)[0])


ROOT = Path(__file__).resolve().parents[1]
CONCURRENT_NEAREST = """
import threading
import numpy as np
from quant.kmeans import _PARALLEL_POINTS, nearest
from quant.parallel import LAUNCH

rng = np.random.default_rng(0)
points, centers = rng.random((_PARALLEL_POINTS + 1000, 3)), rng.random((64, 3))
expected = nearest(points, centers)[0]
agreed = []

def search():
    for _ in range(5):
        agreed.append(np.array_equal(nearest(points, centers)[0], expected))

def run_threads():
    threads = [threading.Thread(target=search) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

run_threads()
with LAUNCH:  # as while a UMAP run holds the parallel threads: searches go serial, not wait
    run_threads()
print(all(agreed) and len(agreed) == 30)
"""


def test_threads_share_the_parallel_search_under_numbas_fallback_threading_layer():
    """The dashboard's sessions are threads: under the 'workqueue' layer, two parallel launches
    at once would abort the whole server."""
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CONCURRENT_NEAREST], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "True", done.stdout + done.stderr
