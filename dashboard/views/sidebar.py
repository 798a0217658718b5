"""The page's inputs: the image (an upload or the sample), at the top of the page, and the settings, in the sidebar."""

from __future__ import annotations

import hashlib
from typing import NoReturn

import streamlit as st

import quant
from dashboard.model.formatting import escape_markdown, method_label, space_label
from dashboard.model.settings import K_PICKS, SEED_MAX, Settings

from .cache import cached_decode, cached_sample
from .page import Source

#: What the uploader's help names. The uploader itself takes any file, so that every file is judged by
#: the engine: its refusal says what to do ("SVG is a vector format…; export it as PNG first") and
#: leaves the uploader, where a file turned down by the uploader's own type filter stayed listed.
UPLOAD_FORMATS = "PNG, JPEG, WebP, BMP, TIFF or GIF"


def upload_key() -> str:
    """The uploader's widget key: a refused file is cleared from it by giving it a new key."""
    return st.session_state.get("upload_key", "upload")


def image_ui() -> Source:
    """The uploader, in the main area; returns the image to show, the last good one when a file is refused.

    It sits at the top of the page rather than in the sidebar, so a file can
    be dropped onto the page, and on a narrow screen, where the sidebar folds
    away behind "»", its button is still in sight.
    """
    key = upload_key()
    upload = st.file_uploader(
        f"Upload an image ({UPLOAD_FORMATS}), or drop one here",
        key=key,
        on_change=forget_refusal,
        args=(key,),
        help=f"{UPLOAD_FORMATS}, up to {quant.DEFAULT_MAX_PIXELS / 1e6:g} megapixels. "
        "Without one, the page shows a sample.",
    )
    refusal = st.session_state.get("upload_refusal")
    if refusal is not None:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.error(refusal, icon=":material/broken_image:")
            st.button(
                "Dismiss",
                key="dismiss_refusal",
                on_click=st.session_state.update,
                kwargs={"upload_refusal": None},
                help="Clear this message. With no file in the uploader, the page then shows the sample.",
            )
    if upload is None:
        source = st.session_state.get("last_upload") if refusal is not None else None
        source = source or sample_source()
    else:
        decoded = decode(upload)
        if isinstance(decoded, quant.ImageError):
            refuse(upload.name, decoded)
        source = Source(f"sha256:{upload_digest(upload)}", upload.name, decoded)
        # Only uploads are remembered: replacing a file reruns once with no file at all, and that
        # passing sample must not displace the upload a refused file falls back to.
        st.session_state.last_upload = source
    for notice in source.image.notices:
        st.info(escape_markdown(notice), icon=":material/info:")
    return source


def forget_refusal(key: str) -> None:
    """A new file arrived: the last refused file's message has had its day.

    Only a file in the current uploader counts: the browser can report the
    refused file again, under the key the uploader had before, and an emptied
    uploader may report a change with no file; neither takes the message away.
    """
    if key == upload_key() and st.session_state.get(key) is not None:
        st.session_state.upload_refusal = None


def refuse(name: str, refusal: quant.ImageError) -> NoReturn:
    """Take a file the engine refused out of the uploader, keep its message, and run the page again.

    The message stays, and the previous image stays shown, until the uploader
    changes or the message is dismissed. The uploader is emptied by a new
    key, the one way Streamlit lets a script clear a file uploader. The file
    is read here, in the run, rather than in the uploader's callback: by now
    the run has cleared the previous image's results, and a 12 MP file takes
    seconds to read.
    """
    st.session_state.upload_refusal = refusal_message(name, refusal)
    generation = int(st.session_state.get("upload_generation", 0)) + 1
    st.session_state.update(upload_generation=generation, upload_key=f"upload-{generation}")
    st.rerun()


def upload_digest(upload) -> str:
    return hashlib.sha256(upload.getvalue()).hexdigest()


def decode(upload) -> quant.LoadedImage | quant.ImageError:
    return cached_decode(upload_digest(upload), upload.getvalue())


def refusal_message(name: str, refusal: quant.ImageError) -> str:
    return (
        f"This file can't be used: {escape_markdown(str(refusal))}. The previous image is still shown. "
        f"({escape_markdown(name)})"
    )


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
