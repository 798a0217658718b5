"""Quality versus k: the sweep measures every k on one histogram, and the knee is found."""

from __future__ import annotations

import numpy as np
import pytest

import quant
from quant import sweep


@pytest.fixture(scope="module")
def chelsea():
    return quant.sample_image("chelsea")


@pytest.fixture(scope="module")
def kmeans_sweep(chelsea):
    fractions = []
    rows = sweep.sweep(quant.prepare(chelsea, "kmeans"), progress=lambda fraction, message: fractions.append(fraction))
    return rows, fractions


def test_ssim_does_not_fall_as_k_grows_on_a_sample_image(kmeans_sweep):
    rows, _ = kmeans_sweep
    assert [row.k for row in rows] == list(quant.DOUBLING_KS)
    ssims = [row.ssim for row in rows]
    assert all(later >= earlier for earlier, later in zip(ssims, ssims[1:])), ssims
    assert ssims[0] < 0.8 < ssims[-1]  # and it really moves: 2 colors are poor, 256 good


def test_more_colors_cost_bytes_and_lower_the_error(kmeans_sweep):
    rows, _ = kmeans_sweep
    assert rows[-1].png_bytes > rows[0].png_bytes
    assert rows[-1].delta_e < rows[0].delta_e and rows[-1].psnr > rows[0].psnr
    assert all(row.colors <= row.k for row in rows)


def test_rows_match_a_single_quantize(chelsea, kmeans_sweep):
    rows, _ = kmeans_sweep
    single = quant.quantize(chelsea, 16, "kmeans").metrics
    row = next(r for r in rows if r.k == 16)
    assert (row.ssim, row.psnr, row.delta_e, row.png_bytes) == \
        (single.ssim, single.psnr, single.delta_e, single.png_bytes)


def test_a_sweep_one_k_at_a_time_on_a_shared_preparation_matches_the_whole_sweep(chelsea, kmeans_sweep):
    rows, _ = kmeans_sweep
    prepared = quant.prepare(chelsea, "kmeans")
    for row in rows[::3]:
        single = sweep.sweep(prepared, [row.k])[0]
        assert (single.colors, single.ssim, single.delta_e, single.png_bytes) == \
            (row.colors, row.ssim, row.delta_e, row.png_bytes)


def test_thumbnails_are_small_and_use_only_palette_colors(chelsea, kmeans_sweep):
    rows, _ = kmeans_sweep
    for row in rows:
        assert max(row.thumbnail.shape[:2]) == sweep.THUMBNAIL_SIZE
        assert row.thumbnail.dtype == np.uint8
    assert len(np.unique(rows[0].thumbnail.reshape(-1, 3), axis=0)) <= 2


def test_progress_rises_to_one(kmeans_sweep):
    _, fractions = kmeans_sweep
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert fractions == sorted(fractions) and len(fractions) == len(quant.DOUBLING_KS) + 1


def test_sweep_takes_custom_ks_in_order_and_validates(photo):
    image = quant.from_array(photo)
    prepared = quant.prepare(image, "median-cut")
    rows = sweep.sweep(prepared, [8, 2, 8], thumbnail_size=32)
    assert [row.k for row in rows] == [2, 8]
    assert rows[0].thumbnail.shape == (24, 32, 3)
    with pytest.raises(ValueError, match="k must be"):
        sweep.sweep(prepared, [1])
    with pytest.raises(ValueError, match="thumbnail_size"):
        sweep.sweep(prepared, [2], thumbnail_size=4)
    with pytest.raises(ValueError, match="seed must be"):
        sweep.sweep(prepared, [2], seed=-1)


KS = [2, 4, 8, 16, 32, 64, 128, 256]


def test_knee_of_a_saturating_curve():
    ssims = [0.60, 0.75, 0.85, 0.90, 0.905, 0.908, 0.910, 0.911]
    assert sweep.knee(KS, ssims, threshold=0.01) == 16
    assert sweep.knee(KS, ssims, threshold=0.06) == 8
    assert sweep.knee(KS, ssims, threshold=0.2) == 2


def test_knee_skips_a_flat_step_before_a_jump():
    ssims = [0.60, 0.80, 0.805, 0.90, 0.902, 0.903, 0.904, 0.905]
    assert sweep.knee(KS, ssims, threshold=0.01) == 16


def test_no_knee_while_the_curve_still_climbs():
    ssims = list(np.linspace(0.5, 0.99, len(KS)))
    assert sweep.knee(KS, ssims, threshold=0.01) is None
    assert sweep.knee([16], [0.9]) is None


def test_knee_tolerates_a_dip():
    # k-means may lose a little SSIM at one step; a dip is no gain.
    ssims = [0.60, 0.75, 0.85, 0.848, 0.86, 0.862, 0.863, 0.864]
    assert sweep.knee(KS, ssims, threshold=0.01) == 32


def test_knee_of_rows_uses_their_k_and_ssim(kmeans_sweep):
    rows, _ = kmeans_sweep
    assert sweep.knee_of(rows, threshold=0.005) == sweep.knee(
        [r.k for r in rows], [r.ssim for r in rows], threshold=0.005)


def test_knee_validates():
    with pytest.raises(ValueError, match="length"):
        sweep.knee([2, 4], [0.5])
    with pytest.raises(ValueError, match="increasing"):
        sweep.knee([4, 2], [0.5, 0.6])
    with pytest.raises(ValueError, match="threshold"):
        sweep.knee([2, 4], [0.5, 0.6], threshold=0)
