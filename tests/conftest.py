"""Shared fixtures, and the switch for the long runs (`make test-long`)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import quant


def pytest_addoption(parser):
    parser.addoption("--run-long", action="store_true", help="run tests marked `long`")


def pytest_collection_modifyitems(config, items):
    # Browser tests last: their server starts when collection ends (tests/browser/conftest.py)
    # and warms up while the other tests run. The sort is stable, so each group keeps its order.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
    if config.getoption("--run-long"):
        return
    skip = pytest.mark.skip(reason="long run: use `make test-long`")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """Encode a Pillow image to bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A small photo-like RGB image: smooth gradients plus texture, many distinct colors."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:96, 0:128]
    base = np.stack([x * 2, y * 2.5, (x + y)], axis=-1).astype(np.float64)
    noise = rng.normal(0, 12, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def image(photo) -> quant.LoadedImage:
    """`photo`, loaded."""
    return quant.from_array(photo)


@pytest.fixture(scope="session")
def hist(image) -> quant.Histogram:
    """The histogram of `image`."""
    return quant.build_histogram(image)
