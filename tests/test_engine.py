"""Histogram, palette methods, remap, metrics and export, checked against what they promise."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

import quant
from quant.histogram import pack_rgb, unpack_rgb

ALL_METHODS = list(quant.METHODS)


def image_of(rgb, opaque=None) -> quant.LoadedImage:
    return quant.from_array(np.asarray(rgb, dtype=np.uint8), opaque)


# --- histogram --------------------------------------------------------------------------------


def test_histogram_counts_every_distinct_color(photo):
    hist = quant.build_histogram(image_of(photo))
    flat = photo.reshape(-1, 3)
    expected, counts = np.unique(flat, axis=0, return_counts=True)
    np.testing.assert_array_equal(hist.colors, expected)
    np.testing.assert_array_equal(hist.counts, counts)
    np.testing.assert_array_equal(hist.colors[hist.pixel_index], photo)


@pytest.mark.parametrize("threshold", [1, 1 << 30], ids=["2**24-bin count", "sort"])
def test_large_and_small_histogram_paths_agree(monkeypatch, threshold):
    """Images above the sort threshold use a 2**24-bin count, smaller ones a sort: both must be exact.

    The threshold is moved rather than the image grown past it, so each path runs on a small image.
    """
    import quant.histogram

    monkeypatch.setattr(quant.histogram, "_SMALL_IMAGE", threshold)
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 40, size=(60, 50, 3), dtype=np.uint8)
    hist = quant.build_histogram(image_of(rgb))
    expected, counts = np.unique(rgb.reshape(-1, 3), axis=0, return_counts=True)
    np.testing.assert_array_equal(hist.colors, expected)
    np.testing.assert_array_equal(hist.counts, counts)
    np.testing.assert_array_equal(hist.colors[hist.pixel_index], rgb)


def test_transparent_pixels_are_not_counted():
    rgb = np.array([[[1, 2, 3], [9, 9, 9]], [[1, 2, 3], [7, 7, 7]]])
    opaque = np.array([[True, False], [True, False]])
    hist = quant.build_histogram(image_of(rgb, opaque))
    np.testing.assert_array_equal(hist.colors, [[1, 2, 3]])
    np.testing.assert_array_equal(hist.counts, [2])
    np.testing.assert_array_equal(hist.pixel_index, [[0, -1], [0, -1]])


def test_pack_and_unpack_are_inverse():
    colors = np.array([[0, 0, 0], [255, 255, 255], [1, 2, 3], [200, 100, 50]], np.uint8)
    np.testing.assert_array_equal(unpack_rgb(pack_rgb(colors)), colors)
    assert pack_rgb(np.array([1, 2, 3], np.uint8)) == 0x010203


def test_reduced_histogram_keeps_weighted_means_and_mass(photo):
    hist = quant.build_histogram(image_of(photo))
    reduced = quant.reduce_histogram(hist, 500)
    assert len(reduced.weights) <= 500
    assert reduced.weights.sum() == hist.total
    # Each merged bin's color is the count-weighted mean of its members.
    for row in (0, len(reduced.weights) // 2, len(reduced.weights) - 1):
        members = reduced.parent == row
        expected = np.average(hist.colors[members].astype(float), axis=0, weights=hist.counts[members])
        np.testing.assert_allclose(reduced.colors[row], expected)


def test_reduction_is_a_no_op_when_small_enough(photo):
    hist = quant.build_histogram(image_of(photo))
    reduced = quant.reduce_histogram(hist, len(hist))
    np.testing.assert_array_equal(reduced.colors, hist.colors)
    np.testing.assert_array_equal(reduced.parent, np.arange(len(hist)))


# --- palette methods: invariants --------------------------------------------------------------


@pytest.mark.parametrize("method", ALL_METHODS)
def test_every_method_keeps_shape_and_uses_at_most_k_colors(photo, method):
    image = image_of(photo)
    result = quant.quantize(image, 8, method)
    assert result.indices.shape == photo.shape[:2]
    assert result.indices.dtype == np.uint8
    assert 1 <= len(result.palette.colors) <= 8
    assert result.palette.colors.dtype == np.uint8
    assert len(np.unique(result.rgb().reshape(-1, 3), axis=0)) <= 8
    assert result.indices.max() < len(result.palette.colors)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_same_seed_same_output(photo, method):
    image = image_of(photo)
    first = quant.quantize(image, 6, method, seed=3)
    second = quant.quantize(image, 6, method, seed=3)
    np.testing.assert_array_equal(first.palette.colors, second.palette.colors)
    np.testing.assert_array_equal(first.indices, second.indices)


@pytest.mark.parametrize("space", sorted(quant.SPACES))
def test_every_color_space_gives_a_valid_palette(photo, space):
    """A broken conversion back to sRGB would make 8 colors worse than 2."""
    image = image_of(photo)
    eight = quant.quantize(image, 8, "kmeans", space=space)
    two = quant.quantize(image, 2, "kmeans", space="rgb")
    assert 1 <= len(eight.palette.colors) <= 8
    assert eight.metrics.delta_e < two.metrics.delta_e
    assert eight.metrics.psnr > two.metrics.psnr


def test_labels_map_each_color_to_a_nearby_palette_entry(photo):
    """k-means labels are nearest-center assignments, so no color maps to a far-off entry."""
    image = image_of(photo)
    hist = quant.build_histogram(image)
    palette = quant.prepare(image, hist=hist).quantize(16).palette
    chosen = np.linalg.norm(hist.colors.astype(float) - palette.colors[palette.labels], axis=1)
    nearest = np.min(np.linalg.norm(hist.colors[:, None].astype(float) - palette.colors[None], axis=2), axis=1)
    assert np.mean(chosen - nearest) < 2.0


@pytest.mark.parametrize("method", ALL_METHODS)
def test_two_color_image_at_k8_keeps_both_colors_and_says_so(method):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:, 2:] = [250, 10, 30]
    result = quant.quantize(image_of(rgb), 8, method)
    np.testing.assert_array_equal(result.rgb(), rgb)
    assert len(result.palette.colors) == 2
    assert any("only 2 distinct colors" in notice for notice in result.notices)
    assert result.metrics.ssim == 1.0
    assert result.metrics.delta_e == 0.0


def test_one_pixel_image():
    rgb = np.array([[[12, 34, 56]]])
    result = quant.quantize(image_of(rgb), 2)
    np.testing.assert_array_equal(result.rgb(), rgb)
    assert result.metrics.ssim == 1.0


def test_transparent_image_keeps_a_slot_for_transparency(photo):
    opaque = np.ones(photo.shape[:2], bool)
    opaque[:10] = False
    image = image_of(photo, opaque)
    result = quant.quantize(image, 256)
    assert len(result.palette.colors) <= 255
    assert (result.indices[:10] == len(result.palette.colors)).all()
    assert (result.indices[10:] < len(result.palette.colors)).all()
    assert any("transparency" in notice for notice in result.notices)


def test_fully_transparent_image():
    image = image_of(np.zeros((3, 3, 3)), np.zeros((3, 3), bool))
    result = quant.quantize(image, 4)
    assert len(result.palette.colors) == 0
    assert (result.indices == 0).all()  # every pixel is the transparency slot


def test_bad_arguments_are_refused_with_a_clear_message(photo):
    image = image_of(photo)
    with pytest.raises(ValueError, match="k must be an integer from 2 to 256"):
        quant.quantize(image, 1)
    with pytest.raises(ValueError, match="k must be"):
        quant.quantize(image, 257)
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        quant.quantize(image, 8, "nope")
    with pytest.raises(ValueError, match="unknown color space"):
        quant.quantize(image, 8, space="hsv")
    with pytest.raises(ValueError, match="has no parameter bogus"):
        quant.quantize(image, 8, params={"bogus": 1})
    with pytest.raises(ValueError, match="linkage must be one of"):
        quant.quantize(image, 8, "agglomerative", params={"linkage": "nope"})


@pytest.mark.parametrize("linkage", ["ward", "average", "complete", "single"])
def test_agglomerative_linkages(photo, linkage):
    result = quant.quantize(image_of(photo), 8, "agglomerative", params={"linkage": linkage, "sample_size": 800})
    assert 1 <= len(result.palette.colors) <= 8


def test_registry_entries_are_complete():
    for name, method in quant.METHODS.items():
        assert method.name == name
        assert method.label and method.description and method.complexity
        assert isinstance(method, (quant.ClusteringMethod, quant.BaselineMethod))
        assert callable(method.palette if method.is_baseline else method.cluster)
        for param in method.params:
            assert param.validate(param.default) == param.default
    assert set(quant.STUDY_METHODS) <= set(quant.METHODS)
    assert {name for name, method in quant.METHODS.items() if method.is_baseline} == {
        "median-cut",
        "octree",
        "libimagequant",
    }


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "1.0", True])
def test_float_parameters_must_be_finite_numbers(image, value):
    with pytest.raises(ValueError, match="oklab_weight must be a finite number"):
        quant.prepare(image, params={"oklab_weight": value})


# --- quality ----------------------------------------------------------------------------------


def test_kmeans_beats_median_cut_on_the_sample():
    image = quant.sample_image()
    hist = quant.build_histogram(image)
    kmeans = quant.prepare(image, "kmeans", hist=hist).quantize(16)
    median_cut = quant.prepare(image, "median-cut", hist=hist).quantize(16)
    assert kmeans.metrics.psnr > median_cut.metrics.psnr


@pytest.mark.parametrize(("k", "converged"), [(8, 5.522), (16, 4.192)])
def test_gmm_stopped_early_is_as_good_as_converged_on_the_sample(k, converged):
    """gmm stops EM at a loose tolerance for speed (`quant.methods._GMM_TOL`); its mean ΔE2000 on the
    sample must stay within 2 % of what the fully converged fit (scikit-learn's tol=1e-3) gave, seed 0."""
    result = quant.quantize(quant.sample_image(), k, "gmm")
    assert result.delta_e <= converged * 1.02


def test_more_colors_never_hurt_kmeans_much(photo):
    image = image_of(photo)
    prepared = quant.prepare(image)
    psnrs = [prepared.quantize(k).psnr for k in (2, 8, 32)]
    assert psnrs == sorted(psnrs)


@pytest.mark.parametrize("method", list(quant.METHODS))
def test_a_prepared_input_gives_the_same_palettes_as_a_fresh_one(image, hist, method):
    prepared = quant.prepare(image, method, space="oklab", hist=hist)
    for k in (4, 16):
        reused = prepared.quantize(k).palette
        fresh = quant.quantize(image, k, method, space="oklab").palette
        np.testing.assert_array_equal(reused.colors, fresh.colors)
        np.testing.assert_array_equal(reused.labels, fresh.labels)


def test_kmeans_precomputed_features_match_its_own_path(image, hist):
    """`Method.precompute` must stay the work `cluster` would otherwise do itself."""
    prepared = quant.prepare(image, "kmeans", space="lab", hist=hist)
    method = quant.METHODS["kmeans"]
    args = {name: value for name, value in prepared.cluster_args.items() if name not in ("features", "working_set")}
    by_itself = method.cluster(prepared.points, prepared.working.weights, 12, seed=0, **args)
    with_precomputed = method.cluster(prepared.points, prepared.working.weights, 12, seed=0, **prepared.cluster_args)
    np.testing.assert_array_equal(by_itself, with_precomputed)


def test_kmeans_palette_colors_are_geometric_medians_and_labels_their_nearest(image, hist):
    """kmeans unpolished: each color goes to its nearest palette color in kmeans' metric (the space plus Oklab)."""
    from quant.colorspace import blend_with_oklab

    prepared = quant.prepare(image, "kmeans", hist=hist, params={"starts": 1, "polish": "none"})
    palette = prepared.quantize(16).palette
    weight = prepared.params["oklab_weight"]
    colors = blend_with_oklab(hist.colors.astype(float), "rgb", weight)
    entries = blend_with_oklab(palette.colors.astype(float), "rgb", weight)
    distances = ((colors[:, None] - entries[None]) ** 2).sum(axis=2)
    np.testing.assert_allclose(distances[np.arange(len(colors)), palette.labels], distances.min(axis=1))


def test_kmeans_with_mean_centers_and_one_start_is_textbook_kmeans(image, hist):
    """center="mean": every palette color is the rounded weighted mean of the colors labelled with it."""
    params = {"center": "mean", "starts": 1, "importance": "counts", "polish": "none"}
    palette = quant.prepare(image, "kmeans", hist=hist, params=params).quantize(16).palette
    for row in range(len(palette.colors)):
        members = palette.labels == row
        mean = np.average(hist.colors[members].astype(float), axis=0, weights=hist.counts[members])
        np.testing.assert_array_equal(palette.colors[row], np.clip(np.rint(mean), 0, 255))


@pytest.fixture(scope="module")
def china():
    """The held-out photo whose temple's reds the split leaves one color at k = 16: the feedback start wins."""
    from sklearn.datasets import load_sample_image

    image = quant.from_array(np.ascontiguousarray(load_sample_image("china.jpg")))
    return image, quant.build_histogram(image)


@pytest.mark.parametrize("photo_name, k, winner", [("photo", 4, None), ("photo", 16, None), ("china", 16, "feedback")])
def test_kmeans_polishes_the_start_that_serves_the_pixels_best(request, photo_name, k, winner):
    """Two starts: the split's palette, unless the feedback split's is 1 % better by the polish's sum over the
    judging sample (china has more colors than the sample: the sampled judge)."""
    from quant.methods import START_MARGIN

    image, hist = request.getfixturevalue("china") if photo_name == "china" else (
        request.getfixturevalue("image"), request.getfixturevalue("hist"))

    def palette(init, starts=1, polish="perceptual"):
        params = {"init": init, "starts": starts, "polish": polish}
        return quant.prepare(image, "kmeans", hist=hist, params=params).quantize(k).palette

    judge = quant.prepare(image, "kmeans", hist=hist)
    cost = {init: judge._start_cost(unpolished.colors, unpolished.labels, judge.last_pass)
            for init in ("split", "feedback") for unpolished in [palette(init, polish="none")]}
    expected = "feedback" if cost["feedback"] < cost["split"] * (1 - START_MARGIN) else "split"
    assert winner is None or expected == winner
    np.testing.assert_array_equal(palette("split", starts=2).colors, palette(expected).colors)


def test_kmeans_makes_one_start_above_its_multi_start_k(image, hist):
    from quant.methods import MULTI_START_MAX_K

    def palette(init, starts):
        params = {"init": init, "starts": starts}
        return quant.prepare(image, "kmeans", hist=hist, params=params).quantize(MULTI_START_MAX_K + 1).palette

    np.testing.assert_array_equal(palette("feedback", 2).colors, palette("feedback", 1).colors)


@pytest.mark.parametrize(
    "costs, kept", [((100.0, 99.5), 0), ((100.0, 98.0), 1), ((100.0, 98.0, 97.5), 1), ((100.0, 101.0, 90.0), 2)]
)
def test_a_later_start_is_kept_only_when_it_is_better_by_the_margin(image, hist, costs, kept):
    """Judged by the last pass's cost before the pass, which then runs once, on the kept start's palette."""
    from quant.methods import ClusteringMethod, LastPass

    judged, polished = [], []

    def cluster(points, weights, k, *, seed, axis):  # each start splits the colors along another axis
        return (points[:, axis] > np.median(points[:, axis])).astype(np.int64)

    def cost(rgb, lab, counts, colors, labels):
        judged.append(colors.copy())
        return costs[len(judged) - 1]

    def run(rgb, lab, counts, colors, labels, *, fixed):
        polished.append(colors.copy())
        return colors, labels

    method = ClusteringMethod(
        name="by-axis", label="By axis", description="Splits along one axis.", complexity="O(n)",
        cluster=cluster, starts=lambda k, seed: [{"axis": axis} for axis in range(len(costs))],
        last_pass=lambda: LastPass(run=run, cost=cost),
    )
    quant.prepare(image, method, hist=hist).quantize(2)
    assert len(judged) == len(costs) and len(polished) == 1
    np.testing.assert_array_equal(polished[0], judged[kept])


def test_a_palette_with_fewer_colors_than_k_says_why():
    """A method that can't fix colors makes k − L; one of them equal to a locked color merges into it."""
    from quant.methods import ClusteringMethod

    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:, :2] = (250, 0, 0)  # a red half and a blue half, with a few other colors
    rgb[:, 2:] = (0, 0, 250)
    rgb[0, :3] = [(240, 10, 10), (10, 10, 240), (120, 120, 120)]

    def red_and_blue(points, weights, labels, n_labels, *, lock, **_):  # pure red and blue, whatever the clusters
        return np.vstack([lock, [[250, 0, 0], [0, 0, 250]]]).astype(np.uint8), labels + len(lock)

    method = ClusteringMethod(
        name="by-red", label="By red", description="Red or not.", complexity="O(n)",
        cluster=lambda points, weights, k, *, seed: (points[:, 0] < points[:, 0].mean()).astype(np.int64),
        colors=red_and_blue,
    )
    palette = quant.prepare(quant.from_array(rgb), method, lock="#fa0000").quantize(3).palette
    assert len(palette.colors) == 2
    assert palette.notices == ("2 of the 3 colors are used: 1 was left with no pixels or equal to another "
                               "(a locked color takes every pixel nearest it)",)
    unlocked = quant.prepare(quant.from_array(rgb), method).quantize(3).palette  # 2 clusters, no lock: no word of one
    assert unlocked.notices == ("2 of the 3 colors are used: 1 was left with no pixels or equal to another",)


def test_kmeans_tries_its_extra_starts_only_at_small_k():
    from quant.methods import MULTI_START_MAX_K, _kmeans_starts

    assert _kmeans_starts(MULTI_START_MAX_K, 3, starts=4, init="split") == [
        {},
        {"init": "feedback"},
        {"init": "kmeans++", "n_init": 1, "seed": 5},
        {"init": "kmeans++", "n_init": 1, "seed": 6},
    ]
    assert _kmeans_starts(MULTI_START_MAX_K, 3, starts=2, init="feedback") == [{}, {"init": "split"}]
    assert _kmeans_starts(MULTI_START_MAX_K, 3, starts=1, init="split") == [{}]
    assert _kmeans_starts(MULTI_START_MAX_K + 1, 3, starts=4, init="split") == [{}]


def test_geometric_medians_by_hand():
    """Three points on a line, the middle one heaviest: the median moves from the mean (1.0) to the middle (0.5)."""
    from quant.kmeans import geometric_medians

    points = np.array([[0.0, 0, 0], [0.5, 0, 0], [3.0, 0, 0], [9.0, 9, 9]])
    weights = np.array([1.0, 2.0, 1.0, 5.0])
    labels = np.array([0, 0, 0, 2])
    medians = geometric_medians(points, weights, labels, 3, steps=50, floor=1e-9)
    np.testing.assert_allclose(medians[0], [0.5, 0, 0], atol=1e-3)
    np.testing.assert_array_equal(medians[1], [0, 0, 0])  # no member: zero, as weighted_means
    np.testing.assert_array_equal(medians[2], [9, 9, 9])
    one_step = geometric_medians(points, weights, labels, 3, steps=1, floor=1e-9)
    # One Weiszfeld step from the mean 1.0: weights 1/1, 2/0.5, 1/2 → (0 + 2 + 1.5) / 5.5.
    np.testing.assert_allclose(one_step[0], [3.5 / 5.5, 0, 0])


def test_a_histogram_of_another_image_is_refused(photo, image, hist):
    other = image_of(photo[:50].copy())
    with pytest.raises(ValueError, match="not this image's histogram"):
        quant.prepare(other, hist=hist)
    with pytest.raises(ValueError, match="not this image's histogram"):  # same shape, fewer visible pixels
        quant.prepare(image_of(photo, opaque=np.indices(photo.shape[:2])[1] % 2 == 0), hist=hist)


def test_a_result_keeps_what_it_computed(image):
    result = quant.prepare(image).quantize(8)
    assert result.png is result.png  # encoded once
    assert quant.evaluate(result) == result.metrics
    assert result.metrics.png_bytes == len(result.png)
    assert result.pixel_counts.sum() == image.visible_count


def test_seeds_outside_the_scikit_learn_range_are_refused(image):
    prepared = quant.prepare(image)
    for seed in (-1, quant.SEED_MAX + 1, 1.5, True):
        with pytest.raises(ValueError, match="seed must be an integer from 0"):
            prepared.quantize(8, seed=seed)
    prepared.quantize(8, seed=quant.SEED_MAX)


# --- metrics ----------------------------------------------------------------------------------


def test_ssim_of_an_image_with_itself_is_one(photo):
    assert quant.ssim(photo, photo) == 1.0


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (2, 9), (7, 7), (40, 31)])
def test_ssim_handles_tiny_images(shape):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + 20, 0, 255).astype(np.uint8)
    value = quant.ssim(a, b)
    assert -1.0 <= value < 1.0


@pytest.mark.parametrize(
    "crop",
    [(slice(None), slice(None)), (slice(0, 5), slice(0, 40)), (slice(0, 3), slice(0, 3))],
    ids=["7x7 window", "5x5 window", "3x3 window"],
)
def test_streaming_ssim_matches_scikit_image(photo, crop):
    noisy = np.clip(photo.astype(int) + np.random.default_rng(2).integers(-30, 30, photo.shape), 0, 255)
    a, b = photo[crop], noisy.astype(np.uint8)[crop]
    window = min(7, *a.shape[:2])
    expected = structural_similarity(a, b, channel_axis=-1, data_range=255, win_size=window)
    assert quant.ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_known_psnr():
    """Every pixel off by 5 in one channel: MSE = 25/3, PSNR = 10·log10(255²·3/25)."""
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[::2, :, 0] = 5  # two colors: (0,0,0) and (5,0,0)
    image = image_of(rgb)
    hist = quant.build_histogram(image)
    palette = quant.Palette(np.array([[0, 0, 0]], np.uint8), np.zeros(2, np.intp), "kmeans", "rgb", 2, 0, {}, (), 0.0)
    indices = quant.remap(hist, palette)
    metrics = quant.Result(image, hist, palette, indices, 0.0).metrics
    mse = (8 * 25) / (16 * 3)
    assert metrics.psnr == pytest.approx(10 * np.log10(255**2 / mse))
    from skimage.metrics import peak_signal_noise_ratio

    assert metrics.psnr == pytest.approx(peak_signal_noise_ratio(rgb, np.zeros_like(rgb), data_range=255))


def test_histogram_delta_e_equals_the_per_pixel_mean(photo):
    from skimage.color import deltaE_ciede2000, rgb2lab

    image = image_of(photo)
    result = quant.quantize(image, 8, "kmeans")
    per_pixel = deltaE_ciede2000(rgb2lab(photo), rgb2lab(result.rgb())).mean()
    assert result.metrics.delta_e == pytest.approx(per_pixel, rel=1e-9)


def test_a_histogram_converts_its_colors_to_lab_once_and_keeps_them_out_of_pickles(hist):
    import pickle

    assert hist.lab is hist.lab
    np.testing.assert_array_equal(hist.lab, quant.colorspace.rgb_to_lab(hist.colors))
    assert "_lab" not in pickle.loads(pickle.dumps(hist)).__dict__


def test_metric_kernels_refuse_mismatched_inputs(photo):
    from quant.ciede2000 import ciede2000, weighted_ciede2000_sum

    with pytest.raises(ValueError, match="one shape"):
        quant.ssim(photo, photo[:-1])
    with pytest.raises(ValueError, match="uint8"):
        quant.ssim(photo.astype(float), photo.astype(float))
    lab = np.zeros((4, 3))
    with pytest.raises(ValueError, match="differ in shape"):
        ciede2000(lab, lab[:3])
    with pytest.raises(ValueError, match="differ in length"):
        weighted_ciede2000_sum(lab, np.ones(3), lab, np.zeros(4, np.intp))
    with pytest.raises(ValueError, match="must index"):
        weighted_ciede2000_sum(lab, np.ones(4), lab[:2], np.array([0, 1, 2, 0]))


def test_compiled_ciede2000_matches_scikit_image_on_edge_cases():
    """Random pairs, plus grays (zero chroma) and hue pairs across the 0/2π seam."""
    from skimage.color import deltaE_ciede2000

    from quant.ciede2000 import ciede2000

    rng = np.random.default_rng(4)
    lab1 = rng.uniform([0, -100, -100], [100, 100, 100], (5000, 3))
    lab2 = lab1 + rng.normal(0, 15, lab1.shape)
    lab1[:500, 1:] = 0
    lab2[500:1000, 1:] = 0
    lab1[1000:1500, 1:] = [30.0, -0.5]
    lab2[1000:1500, 1:] = [30.0, 0.5]
    np.testing.assert_allclose(ciede2000(lab1, lab2), deltaE_ciede2000(lab1, lab2), rtol=1e-12, atol=1e-12)


# --- export -----------------------------------------------------------------------------------


def test_png_is_a_palette_image_with_at_most_k_colors(photo):
    result = quant.quantize(image_of(photo), 16)
    decoded = Image.open(io.BytesIO(quant.png_bytes(result.indices, result.palette.colors)))
    assert decoded.mode == "P"
    np.testing.assert_array_equal(np.asarray(decoded.convert("RGB")), result.rgb())
    assert len(decoded.getcolors()) <= 16
    assert len(decoded.getpalette()) == 3 * len(result.palette.colors)  # no unused entry after the colors
    assert result.metrics.png_bytes == len(quant.png_bytes(result.indices, result.palette.colors))


def test_png_keeps_transparency(photo):
    opaque = np.ones(photo.shape[:2], bool)
    opaque[:, :5] = False
    result = quant.quantize(image_of(photo, opaque), 8)
    decoded = Image.open(io.BytesIO(quant.png_bytes(result.indices, result.palette.colors))).convert("RGBA")
    alpha = np.asarray(decoded)[..., 3]
    assert (alpha[:, :5] == 0).all() and (alpha[:, 5:] == 255).all()
    palette_entries = len(Image.open(io.BytesIO(quant.png_bytes(result.indices, result.palette.colors))).getpalette())
    assert palette_entries == 3 * (len(result.palette.colors) + 1)  # the colors, then the transparent slot


def test_palette_json_hex_and_gpl():
    colors = np.array([[255, 0, 0], [0, 128, 255]], np.uint8)
    assert quant.hex_colors(colors) == ["#ff0000", "#0080ff"]
    parsed = json.loads(quant.palette_json(colors, np.array([10, 5])))
    assert parsed["colors"][1] == {"hex": "#0080ff", "rgb": [0, 128, 255], "pixels": 5}
    gpl = quant.palette_gpl(colors, "my\npalette")
    lines = gpl.splitlines()
    assert lines[0] == "GIMP Palette"
    assert lines[1] == "Name: my palette"
    assert lines[-1].split()[:3] == ["0", "128", "255"]


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 7), (40, 61)])
@pytest.mark.parametrize("window", [3, 7])
def test_the_flatness_box_mean_is_scipys_uniform_filter(shape, window):
    """The flatness weights' box filter stands in for scipy's, which costs the CLI 0.15 s to import."""
    from scipy.ndimage import uniform_filter

    from quant.histogram import _box_mean

    values = (np.random.default_rng(3).random(shape) * 255).astype(np.float32) ** 2
    expected = uniform_filter(values, window, mode="reflect")
    np.testing.assert_allclose(_box_mean(values, window), expected, rtol=1e-6, atol=1e-6 * expected.max())


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_the_gmm_mixture_is_scikit_learns_model_with_its_loops_compiled(photo, covariance):
    """Same EM, same fit and labels as scikit-learn's `GaussianMixture`, to rounding (diag falls back to it)."""
    from sklearn.mixture import GaussianMixture as ScikitLearns

    from quant.mixture import GaussianMixture

    colors = quant.build_histogram(image_of(photo)).colors.astype(np.float64) / 64.0
    args = dict(n_components=24, covariance_type=covariance, reg_covar=1e-4, tol=1e-2, random_state=3)
    ours, theirs = GaussianMixture(**args).fit(colors), ScikitLearns(**args).fit(colors)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours.score_samples(colors), theirs.score_samples(colors), rtol=1e-9)
    np.testing.assert_array_equal(ours.predict(colors), theirs.predict(colors))
