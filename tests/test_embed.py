"""Pixel samples and embeddings: proportional, seeded, and umap loaded only when used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import quant
from quant import embed

ROOT = Path(__file__).resolve().parents[1]


def two_color_histogram(first_share: float = 0.9, pixels: int = 10_000):
    """A 100-pixel-wide image: `first_share` of it red, the rest blue."""
    rgb = np.zeros((pixels // 100, 100, 3), np.uint8)
    rgb[..., 2] = 255
    red_rows = round(first_share * pixels) // 100
    rgb[:red_rows] = (255, 0, 0)
    return quant.build_histogram(quant.from_array(rgb))


def counts_of(sample, n):
    return np.bincount(sample.entries, minlength=n)


def test_a_90_10_image_gives_90_10_points():
    hist = two_color_histogram(0.9)
    red = int(np.flatnonzero((hist.colors == (255, 0, 0)).all(axis=1))[0])
    sample = embed.sample_pixels(hist, 1_000, seed=3)
    assert len(sample) == 1_000
    assert abs(counts_of(sample, len(hist))[red] - 900) <= 1


def test_every_color_gets_its_share_within_one_point(photo):
    hist = quant.build_histogram(quant.from_array(photo))
    size = 2_000
    sample = embed.sample_pixels(hist, size, seed=11)
    expected = hist.counts * size / hist.total
    drawn = counts_of(sample, len(hist))
    assert np.all(drawn >= np.floor(expected)) and np.all(drawn <= np.ceil(expected))


def test_small_images_give_every_pixel_once():
    hist = two_color_histogram(0.7, pixels=500)
    sample = embed.sample_pixels(hist, 5_000)
    np.testing.assert_array_equal(counts_of(sample, len(hist)), hist.counts)
    assert sample.total == 500 and sample.caption().startswith("500 of 500 pixels")


def test_sample_is_seeded_and_shuffled(photo):
    hist = quant.build_histogram(quant.from_array(photo))
    a = embed.sample_pixels(hist, 1_000, seed=1)
    b = embed.sample_pixels(hist, 1_000, seed=1)
    c = embed.sample_pixels(hist, 1_000, seed=2)
    np.testing.assert_array_equal(a.entries, b.entries)
    assert not np.array_equal(a.entries, c.entries)
    # Not in color order, or the last-drawn (topmost) points would all be blue.
    assert np.any(np.diff(a.entries) < 0)


def test_transparent_pixels_are_never_drawn():
    rgb = np.zeros((10, 10, 3), np.uint8)
    rgb[:, 5:] = (0, 255, 0)
    opaque = np.ones((10, 10), bool)
    opaque[:, 5:] = False  # all green pixels are transparent
    hist = quant.build_histogram(quant.from_array(rgb, opaque))
    sample = embed.sample_pixels(hist, 1_000)
    assert sample.total == 50
    assert (hist.colors[sample.entries] == 0).all()


@pytest.mark.parametrize("size", [0, -5, 2.5, True])
def test_sample_size_is_validated(size):
    with pytest.raises(ValueError, match="size"):
        embed.sample_pixels(two_color_histogram(), size)


def test_pca_is_deterministic_and_separates_colors():
    hist = two_color_histogram(0.6)
    first = embed.embed(hist, method="pca", size=400, seed=5)
    second = embed.embed(hist, method="pca", size=400, seed=5)
    np.testing.assert_array_equal(first.points, second.points)
    np.testing.assert_array_equal(first.sample.entries, second.sample.entries)
    assert first.points.shape == (400, 2) and first.method == "pca"
    red = (hist.colors[first.sample.entries] == (255, 0, 0)).all(axis=1)
    gap = np.linalg.norm(first.points[red].mean(axis=0) - first.points[~red].mean(axis=0))
    spread = max(first.points[red].std(axis=0).max(), first.points[~red].std(axis=0).max())
    assert gap > 20 * spread


def test_umap_embeds_a_small_sample_reproducibly():
    hist = two_color_histogram(0.5)
    first = embed.embed(hist, method="umap", size=300, seed=0)
    second = embed.embed(hist, method="umap", size=300, seed=0)
    assert first.points.shape == (300, 2) and np.isfinite(first.points).all()
    np.testing.assert_array_equal(first.points, second.points)
    # UMAP keeps neighborhoods: each point's nearest neighbor on the map has its color.
    red = (hist.colors[first.sample.entries] == (255, 0, 0)).all(axis=1)
    distances = np.linalg.norm(first.points[:, None] - first.points[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (red[distances.argmin(axis=1)] == red).mean() > 0.98


def test_embed_validates_its_options():
    hist = two_color_histogram()
    with pytest.raises(ValueError, match="unknown embedding"):
        embed.embed(hist, method="tsne")
    with pytest.raises(ValueError, match="size"):
        embed.embed(hist, method="pca", size=embed.MAX_SIZE + 1)
    with pytest.raises(ValueError, match="color space"):
        embed.embed(hist, method="pca", space="hsv")
    with pytest.raises(ValueError, match="neighbors"):
        embed.embed(hist, method="umap", neighbors=1)
    nothing_visible = quant.from_array(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), bool))
    transparent = quant.build_histogram(nothing_visible)
    with pytest.raises(ValueError, match="no visible pixels"):
        embed.embed(transparent, method="pca")


def test_progress_is_reported():
    calls = []
    embed.embed(two_color_histogram(), method="pca", size=100, progress=lambda f, m: calls.append(f))
    assert calls[0] == 0.0 and calls[-1] == 1.0


def test_importing_the_views_loads_neither_umap_nor_streamlit():
    code = (
        "import sys, quant, quant.embed, quant.sweep, dashboard.model.figures, dashboard.model.selection; "
        "print(sorted(m for m in ('umap', 'numba', 'streamlit') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_umap_waits_for_a_running_warm_up_instead_of_racing_it(monkeypatch):
    """While the lock is held (as warm_up holds it), an embedding in this process cannot start."""
    import threading

    monkeypatch.setattr(embed, "_WORKER", [])  # no worker process, even if an earlier test started one
    hist = two_color_histogram()
    finished = threading.Event()
    with embed._UMAP_LOCK:
        worker = threading.Thread(
            target=lambda: (embed.embed(hist, method="umap", size=50), finished.set()), daemon=True
        )
        worker.start()
        assert not finished.wait(0.5)
    assert finished.wait(120)


@pytest.mark.long
def test_warm_up_compiles_once_then_returns_at_once():
    seconds = embed.warm_up()
    assert embed.is_warm() and seconds >= 0
    assert embed.warm_up() == 0.0


def test_the_worker_gives_the_same_map_as_this_process_and_survives_being_killed(monkeypatch):
    """`start_worker` moves UMAP to another process: same coordinates, and a dead worker costs no map."""
    hist = two_color_histogram(0.5)
    here = embed.embed(hist, method="umap", size=300, seed=0)
    embed.start_worker()
    try:
        embed.start_worker()  # a second call is a no-op
        worker = embed._WORKER[0]
        there = embed.embed(hist, method="umap", size=300, seed=0)
        assert embed.is_warm() and worker.warm_seconds is not None
        np.testing.assert_array_equal(here.points, there.points)
        worker.process.kill()
        worker.process.wait()
        monkeypatch.setattr(embed, "_umap", lambda *args, **kwargs: pytest.fail("UMAP ran in this process"))
        again = embed.embed(hist, method="umap", size=300, seed=0)  # by a new worker, never compiled here
        np.testing.assert_array_equal(here.points, again.points)
        assert embed._WORKER and embed._WORKER[0] is not worker and embed._WORKER[0].warm_seconds is not None
    finally:
        embed.stop_worker()
    assert not embed._WORKER


def test_umap_never_compiles_pynndescent():
    """Neighbors come from a k-d tree: pynndescent's kernels, which numba cannot cache, are never compiled."""
    code = (
        "import quant, numpy as np; from quant import embed; from numba.core.registry import CPUDispatcher; import gc\n"
        "hist = quant.build_histogram(quant.sample_image())\n"
        "embed.embed(hist, method='umap', size=5000)\n"
        "print(sorted({o.py_func.__qualname__ for o in gc.get_objects() if isinstance(o, CPUDispatcher)"
        " and o.py_func.__module__ == 'pynndescent.pynndescent_' and o.signatures}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "nn_descent" not in out.stdout, out.stdout
