"""Dithering in the remap stage: the kernels, the threshold maps, the edge-aware mode, and the metrics for dithered output."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from cases import BAD_DITHER_OPTIONS
from test_cli import run_cli

from bench.dither import gradient, longest_run, widest_band

import quant
from quant.blue_noise import load_map, void_and_cluster
from quant.dither import DITHERS, bayer_matrix, dither_points, threshold_map
from quant.metrics import blurred_delta_e

GRAY = np.array([1, 0, 0], np.float32)  # grays in Oklab, the working space, differ in L only
BLACK_WHITE = np.array([[0, 0, 0], [1, 0, 0]], np.float32)


def dither_grays(levels: np.ndarray, dither: str, palette: np.ndarray = BLACK_WHITE, strength: float = 1.0):
    """Dither an H×W array of gray levels (working-space values) to `palette`: one histogram entry per pixel."""
    colors = levels.reshape(-1, 1).astype(np.float32) * GRAY
    pixel_index = np.arange(levels.size, dtype=np.int32).reshape(levels.shape)
    return dither_points(pixel_index, colors, palette, dither, strength)


# --- error diffusion: the kernels as the literature prints them, and by hand ----------------------

#: Each kernel as printed: rows of weights, the current pixel at the centre of the first row, and the divisor.
PRINTED = {
    "floyd-steinberg": (16, [[0, 0, 7], [3, 5, 1]]),
    "jarvis-judice-ninke": (48, [[0, 0, 0, 7, 5], [3, 5, 7, 5, 3], [1, 3, 5, 3, 1]]),
    "stucki": (42, [[0, 0, 0, 8, 4], [2, 4, 8, 4, 2], [1, 2, 4, 2, 1]]),
    "atkinson": (8, [[0, 0, 0, 1, 1], [0, 1, 1, 1, 0], [0, 0, 1, 0, 0]]),
    "burkes": (32, [[0, 0, 0, 8, 4], [2, 4, 8, 4, 2]]),
    "sierra": (32, [[0, 0, 0, 5, 3], [2, 4, 5, 4, 2], [0, 2, 3, 2, 0]]),
    "sierra-2row": (16, [[0, 0, 0, 4, 3], [1, 2, 3, 2, 1]]),
    "sierra-lite": (4, [[0, 0, 2], [1, 1, 0]]),
    "edge-aware": (16, [[0, 0, 7], [3, 5, 1]]),
}


def reference_diffusion(levels: np.ndarray, divisor: int, rows: list[list[int]]) -> np.ndarray:
    """Serpentine error diffusion of gray levels to black and white, written as plainly as possible."""
    height, width = levels.shape
    values = levels.astype(np.float64).copy()
    out = np.zeros(levels.shape, np.uint8)
    half = len(rows[0]) // 2
    for y in range(height):
        forward = y % 2 == 0
        for x in range(width) if forward else range(width - 1, -1, -1):
            out[y, x] = values[y, x] > 0.5
            error = values[y, x] - out[y, x]
            for dy, row in enumerate(rows):
                for column, weight in enumerate(row):
                    dx = column - half if forward else half - column
                    if weight and 0 <= x + dx < width and y + dy < height and (dy or (dx > 0) == forward):
                        values[y + dy, x + dx] += error * weight / divisor
    return out


@pytest.mark.parametrize("name", [name for name, kind in DITHERS.items() if kind.family == "diffusion"])
def test_each_kernel_spreads_the_error_as_printed(name):
    divisor, rows = PRINTED[name]
    levels = np.random.default_rng(5).uniform(0.2, 0.8, (6, 7))
    assert np.array_equal(dither_grays(levels, name), reference_diffusion(levels, divisor, rows))


def test_every_tap_lands_within_the_error_buffer():
    """The diffusion loop writes its taps without bounds checks, into padding as wide as TAP_REACH."""
    from quant.dither_kernels import TAP_REACH

    for name, kind in DITHERS.items():
        for dy, dx, _ in kind.taps:
            assert 0 <= dy <= TAP_REACH and abs(dx) <= TAP_REACH, name


def test_every_diffusion_kernel_is_in_the_printed_table():
    diffusing = {name for name, kind in DITHERS.items() if kind.taps}
    assert diffusing == set(PRINTED)
    for name in diffusing:
        total = sum(weight for _, _, weight in DITHERS[name].taps)
        assert total == pytest.approx(0.75 if name == "atkinson" else 1.0)  # Atkinson passes on 3/4


def test_floyd_steinberg_by_hand():
    # A 3×2 image of 0.4 to black (0) and white (1):
    # row 0 →  0.4 → 0, error 0.4: right +0.175, below-left —, below +0.125, below-right +0.025
    #          0.575 → 1, error −0.425: right −0.1859, below-left −0.0797, below −0.1328, below-right −0.0266
    #          0.2141 → 0, error 0.2141: below-left +0.0401, below +0.0669
    # row 1 ←  0.4 + 0.0403 = 0.4403 → 0, error 0.4403: left +0.1926
    #          0.4 − 0.0676 + 0.1926 = 0.5251 → 1, error −0.4749: left −0.2078
    #          0.4 + 0.0453 − 0.2078 = 0.2375 → 0
    assert dither_grays(np.full((2, 3), 0.4), "floyd-steinberg").tolist() == [[0, 1, 0], [0, 1, 0]]


def test_rows_are_scanned_in_alternate_directions():
    # A 2×2 image of 0.4. Row 0 gives [0, 1] and leaves row 1 at 0.4453 and 0.2922.
    # Right to left (serpentine): 0.2922 → 0, error 0.2922, 7/16 of it left: 0.5731 → 1.
    # Left to right would give 0.4453 → 0, then 0.4453·7/16 + 0.2922 = 0.487 → 0.
    assert dither_grays(np.full((2, 2), 0.4), "floyd-steinberg").tolist() == [[0, 1], [1, 0]]


def test_a_flat_gray_dithers_to_its_share_of_white():
    levels = np.full((32, 32), 0.25)
    for name in ("floyd-steinberg", "stucki", "sierra-lite", "bayer4", "blue-noise"):
        white = dither_grays(levels, name).mean()
        assert white == pytest.approx(0.25, abs=0.04), name


def test_strength_zero_is_the_undithered_result():
    prepared = quant.prepare(quant.sample_image(), "kmeans")
    plain = prepared.quantize(16)
    for name in DITHERS:
        result = prepared.quantize(16, dither=name, dither_strength=0)
        assert np.array_equal(result.indices, plain.indices), name
        assert not result.dithered and result.delta_e == plain.delta_e


def test_strength_scales_the_dithering():
    levels = np.full((16, 16), 0.3)
    half = dither_grays(levels, "floyd-steinberg", strength=0.5)
    assert 0 < half.mean() < 0.3  # some error passed on, not all of it


def test_transparent_pixels_stay_transparent_and_carry_no_error():
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (24, 30, 3)).astype(np.uint8)
    opaque = np.ones((24, 30), bool)
    opaque[:, 10:13] = False  # a transparent band
    colors = np.array([[0, 0, 0], [255, 255, 255], [200, 30, 30], [30, 30, 200]], np.uint8)
    results = []
    for hidden in (0, 255):  # what lies under the transparency must not matter
        rgb[:, 10:13] = hidden
        hist = quant.build_histogram(quant.from_array(rgb, opaque))
        results.append(quant.remap(hist, quant.assign_palette(hist, colors), dither="floyd-steinberg"))
    for indices in results:
        assert (indices[:, 10:13] == len(colors)).all()
        assert (np.delete(indices, [10, 11, 12], axis=1) < len(colors)).all()
    assert np.array_equal(results[0], results[1])


def test_a_transparent_pixel_takes_no_error_from_its_neighbours():
    levels = np.full((1, 3), 0.4)
    pixel_index = np.array([[0, -1, 1]], np.int32)
    colors = np.array([[0.4, 0, 0], [0.4, 0, 0]], np.float32)
    # The first pixel's error would push the third to white through the second; it is dropped instead.
    out = dither_points(pixel_index, colors, BLACK_WHITE, "floyd-steinberg", 1.0)
    assert out.tolist() == [[0, 2, 0]]
    assert dither_grays(levels, "floyd-steinberg").tolist() == [[0, 1, 0]]


# --- ordered dithering: the threshold maps ---------------------------------------------------------


@pytest.mark.parametrize("size", [2, 4, 8])
def test_bayer_matrices_are_the_recursive_permutations(size):
    matrix = bayer_matrix(size)
    assert sorted(matrix.ravel()) == list(range(size * size))
    if size > 2:  # M₂ₙ = [[4Mₙ, 4Mₙ+2], [4Mₙ+3, 4Mₙ+1]]
        half, smaller = size // 2, bayer_matrix(size // 2)
        for (rows, cols), add in {(0, 0): 0, (0, 1): 2, (1, 0): 3, (1, 1): 1}.items():
            quarter = matrix[rows * half : (rows + 1) * half, cols * half : (cols + 1) * half]
            assert np.array_equal(quarter, 4 * smaller + add)
    assert bayer_matrix(2).tolist() == [[0, 2], [3, 1]]
    assert bayer_matrix(4).tolist() == [[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]


def test_threshold_maps_are_centred_within_a_half():
    for name in ("bayer2", "bayer4", "bayer8", "blue-noise"):
        offsets = threshold_map(name)
        assert abs(offsets.mean()) < 1e-6 and offsets.min() > -0.5 and offsets.max() < 0.5


def test_the_blue_noise_map_is_a_permutation_made_by_the_shipped_script():
    shipped = load_map()
    assert shipped.shape == (64, 64)
    assert sorted(shipped.ravel().tolist()) == list(range(64 * 64))
    assert np.array_equal(void_and_cluster(), shipped)


def _low_frequency_share(binary: np.ndarray) -> float:
    spectrum = np.abs(np.fft.fft2(binary - binary.mean())) ** 2
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(binary.shape[0]), np.fft.fftfreq(binary.shape[1]), indexing="ij"))
    return spectrum[(radius > 0) & (radius < 0.15)].sum() / spectrum.sum()


def test_blue_noise_has_little_low_frequency_energy():
    shipped = load_map()
    white = np.random.default_rng(0).permutation(64 * 64).reshape(64, 64)
    for level in (512, 2048, 3584):  # thresholded at 1/8, 1/2 and 7/8
        assert _low_frequency_share(shipped < level) < _low_frequency_share(white < level) / 5


# --- edge-aware ------------------------------------------------------------------------------------


def test_edge_aware_leaves_a_hard_edge_undithered_and_dithers_flat_areas():
    levels = np.where(np.arange(24) < 12, 0.3, 0.8)[None, :].repeat(16, axis=0)
    palette = np.array([[0, 0, 0], [0.5, 0, 0], [1, 0, 0]], np.float32)
    nearest = np.where(levels < 0.55, 1, 2)  # 0.3 → 0.5, 0.8 → 1: what no dithering gives
    edge_aware = dither_grays(levels, "edge-aware", palette)
    floyd = dither_grays(levels, "floyd-steinberg", palette)
    edge = slice(10, 14)
    assert np.array_equal(edge_aware[:, edge], nearest[:, edge])
    assert not np.array_equal(floyd[:, edge], nearest[:, edge])
    assert not np.array_equal(edge_aware[:, :8], nearest[:, :8])  # the flat area is dithered


def test_edge_aware_leaves_noise_undithered():
    rng = np.random.default_rng(1)
    levels = 0.3 + rng.normal(0, 0.08, (20, 20))
    palette = np.array([[0, 0, 0], [0.5, 0, 0], [1, 0, 0]], np.float32)
    edge_aware = dither_grays(levels, "edge-aware", palette)
    floyd = dither_grays(levels, "floyd-steinberg", palette)
    nearest = np.abs(levels[..., None] - palette[:, 0]).argmin(axis=-1)
    assert (edge_aware == nearest).mean() > 0.95
    assert (floyd == nearest).mean() < 0.9


# --- banding, determinism, the API -----------------------------------------------------------------


def test_dithering_breaks_up_bands():
    image = gradient()
    prepared = quant.prepare(quant.from_array(image), "kmeans")
    plain = prepared.quantize(16)
    band, run = widest_band(plain.rgb()), longest_run(plain.indices)
    assert band >= 30 and run >= 30
    for name, kind in DITHERS.items():
        if kind.dithers:
            result = prepared.quantize(16, dither=name)
            assert widest_band(result.rgb()) <= band / 2, name
            assert longest_run(result.indices) < run, name
    floyd = prepared.quantize(16, dither="floyd-steinberg")
    assert widest_band(floyd.rgb()) <= band / 4


def test_the_banding_measures_count_what_they_say():
    indices = np.array([[0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3]])
    assert longest_run(indices) == 5  # the middle 12 columns: 0 | 1 1 1 1 1 | 2 2 2 | 3 3 3
    rendered = np.repeat(indices[..., None], 3, axis=2).astype(np.uint8)
    assert widest_band(rendered) == 5


def test_images_with_nothing_to_dither_still_dither():
    flat = quant.from_array(np.full((5, 6, 3), 77, np.uint8))
    clear = quant.from_array(np.zeros((5, 6, 3), np.uint8), np.zeros((5, 6), bool))
    for name in DITHERS:
        assert quant.quantize(flat, 4, dither=name).metrics.blurred_delta_e == 0.0
        assert (quant.quantize(clear, 4, dither=name).indices == 0).all()  # slot 0: an empty palette's transparency


def test_dithering_is_deterministic():
    image = quant.sample_image()
    for name in ("floyd-steinberg", "blue-noise", "edge-aware"):
        first = quant.quantize(image, 12, dither=name)
        again = quant.quantize(image, 12, dither=name)
        assert np.array_equal(first.indices, again.indices) and first.png == again.png


def test_the_result_records_its_dither():
    result = quant.prepare(quant.sample_image()).quantize(8, dither="bayer4", dither_strength=0.5)
    assert (result.dither, result.dither_strength, result.dithered) == ("bayer4", 0.5, True)
    assert quant.quantize(quant.sample_image(), 8).dither == "none"


def test_baselines_dither_through_the_remap():
    image = quant.sample_image()
    for method in ("libimagequant", "octree"):
        plain = quant.quantize(image, 16, method)
        dithered = quant.quantize(image, 16, method, dither="floyd-steinberg")
        assert len(plain.palette.colors) == len(dithered.palette.colors) and dithered.refitted
        assert not np.array_equal(plain.indices, dithered.indices)
        assert dithered.blurred_delta_e < plain.blurred_delta_e


# --- the palette refitted to its dithered output ---------------------------------------------------


def test_the_fit_terms_are_the_blurred_error_s_normal_equations():
    """G and R against their definition, pair by pair, and P·GP − 2P·R + const against the error itself."""
    from quant.dither import _twice_blurred_taps
    from quant.dither_kernels import blurred_colors, blurred_fit_terms

    rng = np.random.default_rng(5)
    height, width, m = 12, 14, 3
    pixel_index = rng.integers(0, 20, (height, width)).astype(np.int32)
    pixel_index[2, 3] = pixel_index[5, 0] = -1  # transparent: no part in the fit
    colors = rng.random((20, 3)).astype(np.float32)
    indices = rng.integers(0, m, (height, width)).astype(np.uint8)
    indices[pixel_index < 0] = m
    taps = _twice_blurred_taps()
    gram, target = blurred_fit_terms(indices, blurred_colors(pixel_index, colors, taps), m, taps)
    radius = len(taps) // 2
    expected_gram, expected_target = np.zeros((m, m)), np.zeros((m, 3))
    visible = list(zip(*np.nonzero(pixel_index >= 0), strict=True))
    for y, x in visible:
        for v, u in visible:
            if abs(y - v) <= radius and abs(x - u) <= radius:
                weight = taps[radius + v - y] * taps[radius + u - x]
                expected_gram[indices[y, x], indices[v, u]] += weight
                expected_target[indices[y, x]] += weight * colors[pixel_index[v, u]]
    np.testing.assert_allclose(gram, expected_gram, rtol=1e-12)
    np.testing.assert_allclose(target, expected_target, rtol=1e-5)

    def blurred_error_pairs(palette):
        """Σ over pixel pairs within the blur of tap × tap × (their errors' dot product), by brute force."""
        error = np.zeros((height, width, 3))
        error[pixel_index >= 0] = palette[indices[pixel_index >= 0]] - colors[pixel_index[pixel_index >= 0]]
        return sum(
            taps[radius + v - y] * taps[radius + u - x] * error[y, x] @ error[v, u]
            for y, x in visible
            for v, u in visible
            if abs(y - v) <= radius and abs(x - u) <= radius
        )

    palette = rng.random((m, 3))
    constant = blurred_error_pairs(palette) - (
        np.einsum("jl,jc,lc->", gram, palette, palette) - 2 * np.sum(palette * target)
    )
    other = rng.random((m, 3))  # the constant doesn't depend on the palette
    other_pairs = blurred_error_pairs(other)
    assert other_pairs == pytest.approx(
        np.einsum("jl,jc,lc->", gram, other, other) - 2 * np.sum(other * target) + constant
    )


def test_the_refit_s_solve_matches_lapack():
    from quant.dither_kernels import solve_positive_definite

    rng = np.random.default_rng(8)
    for m in (1, 3, 40):
        a = rng.random((m, m))
        a = a @ a.T + 0.1 * np.eye(m)
        b = rng.random((m, 3))
        np.testing.assert_allclose(solve_positive_definite(a, b), np.linalg.solve(a, b), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dither", ["floyd-steinberg", "atkinson", "blue-noise", "edge-aware"])
def test_a_dithered_result_s_palette_is_refitted_and_looks_closer(dither):
    prepared = quant.prepare(quant.sample_image(), "kmeans")
    plain = prepared.quantize(8)
    unfitted = quant.remap(plain.hist, plain.palette, dither=dither)
    dithered = prepared.quantize(8, dither=dither)
    assert dithered.refitted and not plain.refitted
    assert not np.array_equal(dithered.palette.colors, plain.palette.colors)
    unfitted_error = blurred_delta_e(plain.image.rgb, plain.palette.colors[unfitted], np.ones(unfitted.shape, bool))
    assert dithered.blurred_delta_e < unfitted_error
    # Its labels are each color's nearest refitted color: the same palette, undithered.
    nearest = quant.assign_palette(plain.hist, dithered.palette.colors, space="oklab").labels
    assert np.mean(nearest == dithered.palette.labels) > 0.99
    assert len(np.unique(dithered.palette.colors, axis=0)) == len(dithered.palette.colors)


def test_without_dithering_the_palette_is_the_method_s_own():
    prepared = quant.prepare(quant.sample_image(), "kmeans")
    for k in (4, 16):
        own = prepared.palette(k, 3)
        for result in (prepared.quantize(k, seed=3), prepared.quantize(k, seed=3, dither="bayer4", dither_strength=0)):
            assert np.array_equal(result.palette.colors, own.colors) and not result.refitted
            assert np.array_equal(result.palette.labels, own.labels)


def test_locked_colors_and_your_own_palette_are_kept_exactly_when_dithering():
    image = quant.sample_image()
    locked = quant.quantize(image, 8, lock="#000000, #e30613", dither="floyd-steinberg")
    codes = quant.hex_colors(locked.palette.colors)
    assert {"#000000", "#e30613"} <= set(codes) and locked.refitted
    assert sorted(codes[i] for i in np.flatnonzero(locked.palette.locked)) == ["#000000", "#e30613"]
    given = ["#000000", "#ff0000", "#ffffff", "#2040a0"]
    custom = quant.quantize(image, palette=given, dither="floyd-steinberg")
    assert quant.hex_colors(custom.palette.colors) == given and not custom.refitted


def test_a_refitted_palette_keeps_its_order():
    result = quant.quantize(quant.sample_image(), 12, order="lightness", dither="floyd-steinberg")
    lightness = quant.colorspace.to_space(result.palette.colors, "lab")[:, 0]
    assert result.refitted and (np.diff(lightness) >= 0).all()
    result = quant.quantize(quant.sample_image(), 12, dither="sierra-lite")
    assert (np.diff(result.pixel_counts) <= 0).all()  # by frequency: the sample is the whole image here


def test_a_big_image_is_fitted_on_tiles_spread_over_it(monkeypatch):
    import quant.dither as dither

    monkeypatch.setattr(dither, "FIT_PIXELS", 64 * 64)
    pixel_index = np.arange(300 * 200, dtype=np.int32).reshape(300, 200)
    sample = dither._fit_sample(pixel_index)
    assert sample.size <= 1.2 * dither.FIT_PIXELS
    rows, columns = np.unique(sample // 200), np.unique(sample % 200)
    assert rows[0] == 0 and rows[-1] == 299 and columns[0] == 0 and columns[-1] == 199
    assert np.array_equal(dither._fit_sample(pixel_index[:60, :60]), pixel_index[:60, :60])  # small: all of it


def test_a_pixel_equally_near_two_colors_gets_the_same_one_whatever_the_palette_s_order():
    """Ties go the same way in any order, so the fit's dithered image, renumbered, is the remap's."""
    mid_gray = np.zeros((1, 1), np.int32), np.array([[0.5, 0, 0]], np.float32)
    for dither in ("floyd-steinberg", "edge-aware", "bayer2"):
        black_first = dither_points(*mid_gray, BLACK_WHITE, dither, 1.0)
        white_first = dither_points(*mid_gray, BLACK_WHITE[::-1], dither, 1.0)
        assert black_first[0, 0] == 1 - white_first[0, 0], dither


def _with_a_hole() -> quant.LoadedImage:
    """A crop of the sample image with a transparent square in it."""
    rgb = quant.sample_image().rgb[100:160, 150:240]
    opaque = np.ones(rgb.shape[:2], bool)
    opaque[20:30, 40:55] = False
    return quant.from_array(rgb, opaque)


@pytest.mark.parametrize("dither", [name for name, kind in DITHERS.items() if kind.dithers])
def test_a_dithered_result_s_indices_are_its_palette_s_remap_in_any_order(dither):
    """The result reuses the fit's dithered image, renumbered to the palette's order: what the remap gives."""
    lock = "#000000, #e30613"
    for image, options in (
        (quant.sample_image(), {"order": "hue"}),
        (_with_a_hole(), {"order": "frequency", "dither_strength": 0.5}),
        (_with_a_hole(), {"order": "lightness", "lock": lock}),
        (quant.sample_image(), {"order": "given", "lock": lock}),
        (_with_a_hole(), {"palette": "#000000 #ff0000 #ffffff #2040a0"}),
    ):
        k = None if "palette" in options else 16
        result = quant.quantize(image, k, dither=dither, **options)
        strength = result.dither_strength
        assert np.array_equal(
            result.indices, quant.remap(result.hist, result.palette, dither=dither, strength=strength)
        )
        m = len(result.palette.colors)
        backwards = dataclasses.replace(result.palette, colors=result.palette.colors[::-1])
        again = quant.remap(result.hist, backwards, dither=dither, strength=strength)
        assert np.array_equal(np.append(np.arange(m)[::-1], m)[again], result.indices), options


@pytest.mark.parametrize("dither", ["floyd-steinberg", "bayer4"])
def test_a_dithered_image_is_dithered_once_per_palette_tried(monkeypatch, dither):
    """Each palette the fit tries is dithered once, and the best one's image is the result's: none again."""
    import quant.dither_kernels as kernels

    calls = {"dithers": 0, "tries": 0}

    def counted(function, key):
        def wrapper(*args):
            calls[key] += 1
            return function(*args)

        return wrapper

    loop = "ordered" if dither == "bayer4" else "diffuse"
    monkeypatch.setattr(kernels, loop, counted(getattr(kernels, loop), "dithers"))
    monkeypatch.setattr(kernels, "blurred_fit_terms", counted(kernels.blurred_fit_terms, "tries"))
    result = quant.quantize(_with_a_hole(), 8, dither=dither)
    assert result.refitted and calls["dithers"] == calls["tries"] >= 2


def test_a_big_image_fitted_on_tiles_is_dithered_whole(monkeypatch):
    import quant.dither as dither

    monkeypatch.setattr(dither, "FIT_PIXELS", 32 * 32)
    result = quant.quantize(_with_a_hole(), 8, order="lightness", dither="floyd-steinberg")
    assert result.refitted and result.indices.shape == result.hist.pixel_index.shape
    assert np.array_equal(result.indices, quant.remap(result.hist, result.palette, dither="floyd-steinberg"))


@pytest.mark.parametrize("dither, strength, words", BAD_DITHER_OPTIONS)
def test_bad_dither_options_are_refused(dither, strength, words):
    prepared = quant.prepare(quant.sample_image())
    with pytest.raises(ValueError, match=words):
        prepared.quantize(4, dither=dither, dither_strength=strength)
    with pytest.raises(ValueError, match=words):
        quant.quantize(quant.sample_image(), 4, dither=dither, dither_strength=strength)


def test_the_cli_dithers_and_refuses_bad_options(tmp_path):
    from PIL import Image

    Image.fromarray(gradient()).save(tmp_path / "ramp.png")
    done = run_cli("ramp.png", "-k", "8", "--dither", "floyd-steinberg", "--json", "--metrics", "all", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '"blurred_delta_e"' in done.stdout
    written = Image.open(tmp_path / "ramp.k8.kmeans.png").convert("RGB")
    plain = quant.quantize(quant.from_array(gradient()), 8)
    assert widest_band(np.asarray(written)) <= widest_band(plain.rgb()) / 4
    for args, words in [
        (["--dither-strength", "1.5"], "--dither-strength must be from 0 to 1, not 1.5"),
        (["--dither-strength", "-0.1"], "--dither-strength must be from 0 to 1"),
        (["--dither-strength", "nan"], "--dither-strength must be from 0 to 1"),
        (["--dither", "ordered"], "invalid choice: 'ordered'"),
    ]:
        refused = run_cli("ramp.png", *args, cwd=tmp_path)
        assert refused.returncode == 2 and words in refused.stderr, refused.stderr
        assert len([line for line in refused.stderr.splitlines() if line.startswith("quant: error")]) == 1
    listed = run_cli("--list-methods", cwd=tmp_path)
    assert all(name in listed.stdout for name in DITHERS)


# --- the metrics of dithered output ---------------------------------------------------------------


def test_dithered_psnr_and_delta_e_are_counted_pixel_by_pixel():
    from skimage.color import deltaE_ciede2000, rgb2lab

    image = quant.sample_image()
    result = quant.quantize(image, 8, dither="floyd-steinberg")
    original, rendered = image.rgb.astype(np.float64), result.rgb().astype(np.float64)
    mse = ((original - rendered) ** 2).mean()
    assert result.psnr == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-9)
    per_pixel = deltaE_ciede2000(rgb2lab(image.rgb), rgb2lab(result.rgb())).mean()
    assert result.delta_e == pytest.approx(per_pixel, rel=1e-6)
    assert result.pixel_counts.sum() == image.visible_count
    assert np.array_equal(result.pixel_counts, np.bincount(result.indices.ravel(), minlength=8)[:8])


def test_blurred_delta_e_matches_a_gaussian_blur_then_ciede2000():
    from scipy.ndimage import gaussian_filter
    from skimage.color import deltaE_ciede2000, rgb2lab

    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (20, 27, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 40, a.shape), 0, 255).astype(np.uint8)

    def viewed(image):
        x = image / 255.0
        linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
        blurred = np.stack([gaussian_filter(linear[..., c], 1.0, mode="nearest", truncate=3) for c in range(3)], -1)
        return rgb2lab(np.where(blurred <= 0.0031308, 12.92 * blurred, 1.055 * blurred ** (1 / 2.4) - 0.055))

    expected = deltaE_ciede2000(viewed(a), viewed(b)).mean()
    assert blurred_delta_e(a, b, np.ones(a.shape[:2], bool)) == pytest.approx(expected, rel=1e-6)


def test_the_blurred_delta_e_has_the_same_bits_on_one_core_or_all():
    """Large images sum their strips in parallel; the serial build, used when another thread holds the cores, agrees."""
    from quant import similarity
    from quant.parallel import LAUNCH

    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (601, 480, 3), dtype=np.uint8)  # over the parallel threshold; a partial last strip
    b = (a // 32 * 32).astype(np.uint8)
    visible = rng.random(a.shape[:2]) < 0.9
    assert a.shape[0] * a.shape[1] >= similarity._PARALLEL_PIXELS
    parallel = blurred_delta_e(a, b, visible)
    with LAUNCH:
        serial = blurred_delta_e(a, b, visible)
    assert parallel == serial
    assert parallel == pytest.approx(blurred_delta_e(a[:300], b[:300], visible[:300]), rel=0.05)


def test_the_blurred_delta_e_favours_dithering_where_per_pixel_delta_e_does_not():
    prepared = quant.prepare(quant.from_array(gradient()), "kmeans")
    plain, dithered = prepared.quantize(8), prepared.quantize(8, dither="floyd-steinberg")
    assert dithered.delta_e > plain.delta_e
    assert dithered.blurred_delta_e < plain.blurred_delta_e
    assert dithered.metrics.blurred_delta_e == dithered.blurred_delta_e


def test_the_working_space_is_oklab_as_colorspace_computes_it():
    from quant.colorspace import to_space
    from quant.dither import working_colors

    colors = np.random.default_rng(3).integers(0, 256, (5000, 3)).astype(np.uint8)
    colors[:2] = [[0, 0, 0], [255, 255, 255]]
    assert np.abs(working_colors(colors) - to_space(colors, "oklab")).max() < 1e-6
