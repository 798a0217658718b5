"""The sidebar: the image (an upload or the sample) and the quantization settings."""

from __future__ import annotations

import hashlib

import streamlit as st

import quant
from dashboard.model.formatting import escape_markdown, method_label, space_label
from dashboard.model.settings import K_PICKS, SEED_MAX, Settings

from .cache import cached_decode, cached_sample
from .page import Source

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"]


def image_ui() -> Source:
    """The uploader; returns the image to show, keeping the last good one when an upload is refused."""
    st.header("Image", anchor=False)
    upload = st.file_uploader(
        "Upload an image",
        type=UPLOAD_TYPES,
        key="upload",
        help="PNG, JPEG, WebP, BMP, TIFF or GIF, up to "
        f"{quant.DEFAULT_MAX_PIXELS / 1e6:g} megapixels. Without one, the page shows a sample.",
    )
    if upload is None:
        source = sample_source()
    else:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        decoded = cached_decode(digest, data)
        if isinstance(decoded, quant.ImageError):
            st.error(
                f"This file can't be used: {escape_markdown(str(decoded))}. The previous image is still shown.",
                icon=":material/broken_image:",
            )
            return st.session_state.get("last_upload") or sample_source()
        source = Source(f"sha256:{digest}", upload.name, decoded)
        # Only uploads are remembered: replacing a file reruns once with no file at all, and that
        # passing sample must not displace the upload a refused file falls back to.
        st.session_state.last_upload = source
    for notice in source.image.notices:
        st.info(escape_markdown(notice), icon=":material/info:")
    return source


def sample_source() -> Source:
    name = quant.DEFAULT_SAMPLE
    return Source(f"sample:{name}", quant.SAMPLES[name], cached_sample(name))


def settings_ui() -> Settings:
    st.header("Quantization", anchor=False)
    methods = st.multiselect(
        "Methods",
        list(quant.METHODS),
        key="methods",
        format_func=method_label,
        help="The study compares k-means, a Gaussian mixture and agglomerative clustering; "
        "the classical quantizers are there as baselines.",
    )
    k = st.number_input(
        "Colors (k)",
        min_value=quant.K_MIN,
        max_value=quant.K_MAX,
        step=1,
        key="k",
        help="How many colors the palette may have.",
    )
    # The picks show k as it is now. Deriving them here, rather than syncing both ways in callbacks,
    # means a stale number sent by a rerun that a click interrupted can't overwrite the pick.
    st.session_state.k_pick = k if k in K_PICKS else None
    st.pills("Quick picks", K_PICKS, key="k_pick", on_change=apply_k_pick, label_visibility="collapsed")
    space = st.segmented_control(
        "Color space",
        list(quant.SPACES),
        key="space",
        required=True,
        format_func=space_label,
        help=" · ".join(map(str, quant.SPACES.values())) + ". Baselines always work in RGB.",
    )
    seed = st.number_input(
        "Seed", min_value=0, max_value=SEED_MAX, step=1, key="seed", help="The same seed gives the same palette."
    )
    st.caption("Change one setting and only what depends on it is computed again.")
    assert space is not None, "required=True: a segmented control always has a choice"
    return Settings(tuple(methods), int(k), space, int(seed), st.session_state.view)


def apply_k_pick() -> None:
    if st.session_state.k_pick is not None:  # clicking the selected pick unselects it: k stays
        st.session_state.k = st.session_state.k_pick
