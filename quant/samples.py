"""Sample images that ship with scikit-image and scikit-learn: no download needed."""

from __future__ import annotations

from .load import LoadedImage, from_array

SAMPLES = {
    "chelsea": "Chelsea the cat (scikit-image)",
    "astronaut": "Eileen Collins (scikit-image)",
    "coffee": "A cup of coffee (scikit-image)",
    "china": "A temple in China (scikit-learn)",
    "flower": "A flower (scikit-learn)",
}
DEFAULT_SAMPLE = "chelsea"


def sample_image(name: str = DEFAULT_SAMPLE) -> LoadedImage:
    """Load a bundled sample image by name (see `SAMPLES`)."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose one of: {', '.join(SAMPLES)}")
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return from_array(load_sample_image(f"{name}.jpg"))
    import skimage.data

    return from_array(getattr(skimage.data, name)())
