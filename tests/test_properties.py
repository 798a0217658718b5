"""Invariants that hold on every input, checked on generated images (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import quant

sides = st.integers(1, 64)


@st.composite
def images(draw, with_alpha=st.booleans()):
    height, width = draw(sides), draw(sides)
    # Few distinct values per channel make repeated colors, as in real images.
    levels = draw(st.sampled_from([2, 5, 17, 256]))
    rgb = draw(arrays(np.uint8, (height, width, 3), elements=st.integers(0, levels - 1)))
    rgb = (rgb.astype(np.uint16) * (255 // max(levels - 1, 1))).astype(np.uint8)
    opaque = None
    if draw(with_alpha):
        opaque = draw(arrays(np.bool_, (height, width)))
    return quant.from_array(rgb, opaque)


common = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(image=images(), k=st.integers(2, 256), method=st.sampled_from(sorted(quant.METHODS)),
       seed=st.integers(0, 2**16))
def test_quantize_invariants(image, k, method, seed):
    result = quant.quantize(image, k, method, seed=seed)
    colors = result.palette.colors
    transparent = image.opaque is not None and not image.opaque.all()
    assert len(colors) <= (min(k, 255) if transparent else k)
    assert result.indices.shape == image.rgb.shape[:2]
    visible = np.ones(image.rgb.shape[:2], bool) if image.opaque is None else image.opaque
    assert (result.indices[visible] < len(colors)).all()
    assert (result.indices[~visible] == len(colors)).all()
    rendered = result.rgb()
    distinct_visible = len(np.unique(image.rgb[visible].reshape(-1, 3), axis=0))
    if distinct_visible <= min(k, 255):
        np.testing.assert_array_equal(rendered, image.rgb)  # nothing to lose: exact copy
    assert -1 <= result.metrics.ssim <= 1
    assert result.metrics.delta_e >= 0


@common
@given(image=images(with_alpha=st.just(False)), k=st.integers(2, 64),
       method=st.sampled_from(["kmeans", "gmm", "agglomerative", "median-cut"]), seed=st.integers(0, 99))
def test_same_seed_same_output(image, k, method, seed):
    first = quant.quantize(image, k, method, seed=seed)
    second = quant.quantize(image, k, method, seed=seed)
    np.testing.assert_array_equal(first.indices, second.indices)
    np.testing.assert_array_equal(first.palette.colors, second.palette.colors)


@common
@given(image=images())
def test_histogram_accounts_for_every_visible_pixel(image):
    hist = quant.build_histogram(image)
    visible = image.visible_count
    assert hist.total == visible
    assert (hist.counts > 0).all()
    mapped = hist.pixel_index >= 0
    assert mapped.sum() == visible
    np.testing.assert_array_equal(hist.colors[hist.pixel_index[mapped]], image.rgb[mapped])


@common
@given(pair=st.integers(3, 24).flatmap(lambda h: st.integers(3, 24).flatmap(
    lambda w: st.tuples(*[arrays(np.uint8, (h, w, 3), elements=st.integers(0, 255))] * 2))))
def test_streaming_ssim_equals_scikit_image(pair):
    from skimage.metrics import structural_similarity

    a, b = pair
    window = min(7, *a.shape[:2])
    window -= 1 - window % 2
    expected = structural_similarity(a, b, channel_axis=-1, data_range=255, win_size=window)
    assert abs(quant.ssim(a, b) - expected) <= 1e-12


@common
@given(labs=arrays(np.float64, (50, 6), elements=st.floats(-128, 128, allow_nan=False)))
def test_compiled_ciede2000_equals_scikit_image(labs):
    from skimage.color import deltaE_ciede2000

    from quant.ciede2000 import ciede2000

    lab1, lab2 = labs[:, :3].copy(), labs[:, 3:].copy()
    lab1[:, 0] = np.abs(lab1[:, 0]) % 100  # lightness lives in 0…100
    lab2[:, 0] = np.abs(lab2[:, 0]) % 100
    np.testing.assert_allclose(ciede2000(lab1, lab2), deltaE_ciede2000(lab1, lab2), rtol=1e-9, atol=1e-9)
