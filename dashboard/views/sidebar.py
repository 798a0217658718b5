"""The page's inputs: the image (an upload or the sample), at the top of the page, and the settings, in the sidebar."""

from __future__ import annotations

import hashlib
from typing import NoReturn

import streamlit as st

import quant
from dashboard.model.formatting import as_sentence, escape_markdown, method_label, space_label, swatches_html
from dashboard.model.settings import K_PICKS, SEED_MAX, STRENGTH_STEP, Settings, hex_codes

from .cache import cached_decode, cached_sample
from .link import first_value, value_before_drawing
from .page import Source, clear_uploader, keep_locked, uploader_key

#: What the uploader's help names. The uploader itself takes any file, so that every file is judged by
#: the engine: its refusal says what to do ("SVG is a vector format…; export it as PNG first") and
#: leaves the uploader, where a file turned down by the uploader's own type filter stayed listed.
UPLOAD_FORMATS = "PNG, JPEG, WebP, BMP, TIFF or GIF"


def image_ui() -> Source:
    """The uploader, in the main area; returns the image to show, the last good one when a file is refused.

    It sits at the top of the page rather than in the sidebar, so a file can
    be dropped onto the page, and on a narrow screen, where the sidebar folds
    away behind "»", its button is still in sight.
    """
    key = uploader_key("upload")
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
        digest = upload_digest(upload)  # once: a 12 MP file takes a while to hash, on every rerun
        decoded = cached_decode(digest, upload.getvalue())
        if isinstance(decoded, quant.ImageError):
            refuse(upload.name, decoded)
        source = Source(f"sha256:{digest}", upload.name, decoded)
        # Only uploads are remembered: replacing a file reruns once with no file at all, and that
        # passing sample must not displace the upload a refused file falls back to.
        st.session_state.last_upload = source
    for notice in source.image.notices:
        st.info(escape_markdown(as_sentence(notice)), icon=":material/info:")
    return source


def forget_refusal(key: str) -> None:
    """A new file arrived: the last refused file's message has had its day.

    Only a file in the current uploader counts: the browser can report the
    refused file again, under the key the uploader had before, and an emptied
    uploader may report a change with no file; neither takes the message away.
    """
    if key == uploader_key("upload") and st.session_state.get(key) is not None:
        st.session_state.upload_refusal = None


def refuse(name: str, refusal: quant.ImageError) -> NoReturn:
    """Take a file the engine refused out of the uploader, keep its message, and run the page again.

    The message stays, and the previous image stays shown, until the uploader
    changes or the message is dismissed. The file is read here, in the run,
    rather than in the uploader's callback: by now the run has cleared the
    previous image's results, and a 12 MP file takes seconds to read.
    """
    st.session_state.upload_refusal = refusal_message(name, refusal)
    clear_uploader("upload")
    st.rerun()


def upload_digest(upload) -> str:
    return hashlib.sha256(upload.getvalue()).hexdigest()


def refusal_message(name: str, refusal: quant.ImageError) -> str:
    return (
        f"This file can't be used: {escape_markdown(str(refusal))}. The previous image is still shown. "
        f"({escape_markdown(name)})"
    )


def sample_source() -> Source:
    name = quant.DEFAULT_SAMPLE
    return Source(f"sample:{name}", quant.SAMPLES[name], cached_sample(name))


#: The sidebar's multiselects keep one height, focused or not, and show every chip. A focused box made
#: room for its text field (48 px) on a line of its own, and lost it on blur: the mouse-down of the next
#: click in the sidebar blurred it, everything below moved up a line, and the click landed elsewhere
#: (removing a method, then picking k = 16, left k at 8). And a box of more than five chips scrolled.
SIDEBAR_MULTISELECT_STYLE = """<style>
[data-testid="stSidebar"] [data-testid="stMultiSelect"] input { min-width: 8px !important; }
[data-testid="stSidebar"] [data-testid="stMultiSelect"] div:has(> [data-testid="stMultiSelectTagsContainer"]) {
  max-height: none !important;
}
</style>"""


def settings_ui() -> Settings:
    """The settings in the sidebar; the view is chosen on the page, so it is left for the caller."""
    st.header("Quantization", anchor=False)
    st.html(SIDEBAR_MULTISELECT_STYLE)
    methods = st.multiselect(
        "Methods",
        list(quant.METHODS),
        key="methods",
        default=first_value("methods", None),
        format_func=method_label,
        help="The study compares k-means, a Gaussian mixture and agglomerative clustering; "
        "the classical quantizers are there as baselines.",
    )
    k = k_ui()
    space = st.segmented_control(
        "Color space",
        list(quant.SPACES),
        key="space",
        default=first_value("space", None),
        required=True,
        format_func=space_label,
        help=" · ".join(map(str, quant.SPACES.values())) + ". Baselines always work in RGB.",
    )
    seed = st.number_input(
        "Seed",
        min_value=0,
        max_value=SEED_MAX,
        step=1,
        key="seed",
        value=first_value("seed", "min"),
        help="The same seed gives the same palette.",
    )
    dither, strength = dither_ui()
    order = st.selectbox(
        "Palette order",
        quant.ORDERS,
        key="order",
        index=quant.ORDERS.index(first_value("order", quant.ORDERS[0])),
        format_func=ORDER_LABELS.__getitem__,
        help="How every palette's colors are ordered: in the swatches, the PNG and the downloads.",
    )
    lock = locked_colors_ui()
    palette = custom_palette_ui()
    st.caption("Change one setting and only what depends on it is computed again.")
    assert space is not None, "required=True: a segmented control always has a choice"
    return Settings(tuple(methods), int(k), space, int(seed), "", dither, strength, order, lock, palette)


ORDER_LABELS = {
    "frequency": "By frequency (most pixels first)",
    "lightness": "By lightness (dark to light)",
    "hue": "By hue (grays first)",
    "given": "As given (your palette, locked colors first)",
}


def k_ui() -> int:
    """The number of colors, and quick picks below it that show k as it is now and set it when clicked.

    The picks are drawn first (into their place below the number): a pick
    clicked as a session's first action, which is what a click right after a
    server restart is, runs no callback (Streamlit runs a widget's
    ``on_change`` only when an earlier run of the session drew the widget), so
    it is read from the picks' value and applied before the number is drawn.
    """
    number_place = st.container()
    k_now = value_before_drawing("k")
    shown = k_now if k_now in K_PICKS else None
    first_drawing = "k_pick" not in st.session_state
    if not first_drawing:
        # Derived here, rather than synced both ways in callbacks, so that a stale number sent by a
        # rerun that a click interrupted can't overwrite the pick.
        st.session_state.k_pick = shown
    pick = st.pills(
        "Quick picks",
        K_PICKS,
        key="k_pick",
        default=shown if first_drawing else None,
        on_change=apply_k_pick,
        label_visibility="collapsed",
    )
    if first_drawing and pick is not None and pick != k_now:
        st.session_state.k = pick
    with number_place:
        return int(
            st.number_input(
                "Colors (k)",
                min_value=quant.K_MIN,
                max_value=quant.K_MAX,
                step=1,
                key="k",
                value=first_value("k", "min"),
                help="How many colors the palette may have.",
            )
        )


def dither_ui() -> tuple[str, float]:
    """The dithering every method's remap uses, and its strength (asked only when it dithers)."""
    kinds = list(quant.DITHERS)
    dither = st.selectbox(
        "Dithering",
        kinds,
        key="dither",
        index=kinds.index(first_value("dither", kinds[0])),
        format_func=lambda name: quant.DITHERS[name].label,
        help="Applies to every method, after its palette: error diffusion, ordered (Bayer, blue noise) or "
        "edge-aware. It trades bands in gradients for a fine grain; judge it by the blurred ΔE2000.",
    )
    if dither == "none":
        return "none", 1.0
    st.caption(escape_markdown(as_sentence(quant.DITHERS[dither].description)))
    strength = st.slider(
        "Strength",
        0.0,
        1.0,
        value=first_value("strength", 1.0),  # a hidden slider's value is dropped: it comes back at full
        step=STRENGTH_STEP,
        key="strength",
        help="0 is no dithering at all.",
    )
    return dither, round(float(strength), 2)


def locked_colors_ui() -> tuple[str, ...]:
    """The colors every clustering palette keeps (locked on the cards); unlock them here or there."""
    locked = tuple(st.session_state.get("locked_colors", ()))
    if not locked:
        return ()
    key = f"locked-{'-'.join(locked)}"  # a new widget for every set: no stale choice survives a change
    st.multiselect(
        "Locked colors",
        locked,
        default=locked,
        key=key,
        on_change=keep_locked,
        args=(key, locked),
        help="Every clustering method's palette keeps these exactly. Remove one to unlock it; "
        "lock more from a card's palette.",
    )
    st.html(swatches_html(quant.parse_colors(" ".join(locked))))  # under its label, not above it
    return locked


def custom_palette_ui() -> tuple[str, ...]:
    """Your own palette, pasted or from a file: a "Your own palette" card maps to exactly these colors.

    A bad palette is refused with its message, and the last good one stays in use.
    """
    st.subheader("Your own palette", anchor=False)
    key = uploader_key("palette_upload")
    st.file_uploader(
        "Palette file",
        type=["gpl", "json", "txt", "hex", "png", "gif", "bmp", "webp"],
        key=key,
        on_change=read_palette_file,
        args=(key,),
        help="A GIMP .gpl, a JSON or text list of hex codes, or an image (a palette image's colors, or its "
        "distinct colors, up to 256). Its colors fill the box below.",
    )
    text = st.text_area(
        "Hex codes",
        key="palette_text",
        on_change=st.session_state.update,  # codes typed: a refused file's message has had its day
        kwargs={"palette_file_error": None},
        value=first_value("palette_text", ""),
        placeholder="#000000, #ffffff, #e30613",
        height=80,
        help="Separated by commas, spaces or new lines; up to 256. Every pixel goes to the nearest of them; "
        "the link carries them. Empty the box to remove the card.",
    )
    if refusal := st.session_state.get("palette_file_error"):
        st.error(refusal, icon=":material/palette:")
    try:
        palette = hex_codes(text)
    except quant.PaletteError as refusal:
        kept = st.session_state.get("good_palette", ())
        still = " The previous palette is still used." if kept else ""
        st.error(f"This palette can't be used: {escape_markdown(str(refusal))}.{still}", icon=":material/palette:")
        return kept
    st.session_state.good_palette = palette
    return palette


def read_palette_file(key: str) -> None:
    """A palette file arrived: its colors replace the box's, or it leaves the uploader and its refusal is shown.

    The refusal names the file, and stays until another file arrives.
    Only the current uploader counts (see `forget_refusal`).
    """
    upload = st.session_state.get(key)
    if key != uploader_key("palette_upload") or upload is None:
        return
    st.session_state.palette_file_error = None
    try:
        colors = quant.read_palette(upload.getvalue())
    except quant.PaletteError as refusal:
        st.session_state.palette_file_error = (
            f"This palette file can't be used: {escape_markdown(str(refusal))}. ({escape_markdown(upload.name)})"
        )
        clear_uploader("palette_upload")
        return
    st.session_state.palette_text = ", ".join(quant.hex_colors(colors))


def apply_k_pick() -> None:
    if st.session_state.k_pick is not None:  # clicking the selected pick unselects it: k stays
        st.session_state.k = st.session_state.k_pick
