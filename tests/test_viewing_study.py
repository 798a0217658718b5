"""The viewing-metric study (`bench.viewing`): its reference models distance, and its checks count what they say."""

from __future__ import annotations

import numpy as np
import pytest

from bench import viewing


def checkerboard(first, second, size=16) -> np.ndarray:
    """Two colors alternating pixel by pixel: a dither that merges into one color from a distance."""
    board = np.indices((size, size)).sum(axis=0) % 2 == 0
    return np.where(board[..., None], np.array(first, np.uint8), np.array(second, np.uint8)).astype(np.uint8)


def test_the_far_viewer_sees_a_checkerboard_as_its_mean_light_and_an_offset_as_an_error():
    board = checkerboard((40, 90, 160), (200, 120, 30))
    # The flat color a far viewer sees: the mean of the two colors' light, back in sRGB.
    light = viewing._to_linear(board[:2, :2].reshape(-1, 3) / 255.0).mean(axis=0)
    flat = np.broadcast_to(np.round(viewing._to_srgb(light) * 255), board.shape).astype(np.uint8)
    assert viewing.far_delta_e(board, board) == 0.0
    assert viewing.far_delta_e(board, flat) < 0.5  # rounding to 8 bits only
    assert viewing.delta_e(board, flat) > 20  # per pixel, the grain is all error
    assert viewing.far_delta_e(flat, np.clip(flat.astype(int) + 12, 0, 255).astype(np.uint8)) > 2


@pytest.mark.parametrize("metric", viewing.CANDIDATES)
def test_each_candidate_scores_an_image_against_itself_best_and_a_worse_copy_worse(metric):
    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    slightly = np.clip(original.astype(int) + rng.integers(-4, 5, original.shape), 0, 255).astype(np.uint8)
    badly = np.clip(original.astype(int) + rng.integers(-40, 41, original.shape), 0, 255).astype(np.uint8)
    judge = viewing.METRICS[metric]
    assert judge(original, original) == pytest.approx(0.0, abs=1e-6)
    assert 0 < judge(original, slightly) < judge(original, badly)


def case(**scores_by_way) -> dict:
    """One photo and k: each way's scores, a metric "m" and the far viewer's."""
    return {way: {"m": m, "far": far} for way, (m, far) in scores_by_way.items()}


def test_the_checks_count_the_orderings_they_name():
    photos = {
        ("a", 16): case(x=(3.0, 3.0), y=(2.0, 2.5), z=(4.0, 3.5)),
        ("a", 64): case(x=(2.0, 2.0), y=(2.0, 1.5), z=(3.0, 1.0)),
        ("a", 256): case(x=(1.0, 1.0), y=(1.5, 1.2), z=(2.0, 0.5)),
    }
    # x and z improve at each larger k; y doesn't from 16 to 64 (2.0 both).
    assert viewing.more_colors_better(photos, "m") == (2, 3)
    assert viewing.preferred(photos, "m", "y", "x", 16) == (1, 1)
    assert viewing.preferred(photos, "m", "y", "x", 64) == (0, 1)  # a tie is not a preference
    banding = {"none": {"m": 2.0}, "fs": {"m": 1.0}, "bayer2": {"m": 2.5}}
    assert viewing.banding_preferred(banding, "m") == (1, 2)
    # Kendall's τ-b per k: the same order at 16; at 64 one tie and two discordant pairs; at 256 one concordant
    # pair and two discordant.
    assert viewing.agreement_with_far(photos, "m") == pytest.approx((1 - 2 / np.sqrt(6) - 1 / 3) / 3)
