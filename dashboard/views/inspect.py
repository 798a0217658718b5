"""Inspect: the original and every result zoomed and panned together, a split wipe, and ΔE2000 maps.

With dithering on, each method is shown dithered and, unless turned off, undithered
(the same palette, every pixel to its nearest color) next to it: what the dither adds to
the palette it was fitted to (`quant.dither.fit_palette`).

The viewer is a components-v2 module (`frontend/viewer.js`): it runs in the
page itself, syncs every panel's zoom and pan in the browser, and asks this
view for full-resolution crops of what it shows (the component's state value
``request``); that request reruns only the viewer's fragment. The pixels come
from `dashboard.model.viewer`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import quant
from dashboard.model import viewer
from dashboard.model.formatting import count_of, escape_markdown, method_label
from dashboard.model.outcomes import Done, Failed

from .cache import PER_IMAGE, UPLOAD_TTL, delta_e_per_entry, result_pixels, run_of
from .page import Page, frontend_component, shows_errors

#: Registered once, when the view is imported; mounted by `viewer_fragment`.
VIEWER = frontend_component("quant_viewer", "viewer")
VIEWER_KEY = "inspect_viewer"
MODES = {"grid": "Side by side", "split": "Split", "difference": "Difference (ΔE2000)"}


@shows_errors
def draw(page: Page) -> None:
    if not page.settings.methods:
        st.info("Pick at least one method in the sidebar to inspect its result.", icon=":material/arrow_back:")
        return
    outcomes = page.outcomes  # waits, with a progress bar and Stop, for what still computes
    for outcome in outcomes:
        if isinstance(outcome, Failed):
            st.warning(
                f"{method_label(outcome.method)} failed and is left out: {escape_markdown(outcome.error)}",
                icon=":material/error:",
            )
    stopped = [m for m in page.computation.methods if m not in {o.method for o in outcomes}]
    if stopped:
        names = ", ".join(method_label(m) for m in stopped)
        st.info(f"Stopped before {names} finished: left out.", icon=":material/stop_circle:")
    done = [o for o in outcomes if isinstance(o, Done)]
    if not done:
        st.info("No result to inspect: the original is shown alone.", icon=":material/info:")
    viewer_fragment(page)


@st.fragment
@shows_errors
def viewer_fragment(page: Page) -> None:
    """The mode, then the viewer; the viewer's requests for crops rerun only this."""
    done = page.done  # all finished: the run that drew this fragment waited for them
    options = list(MODES) if done else ["grid"]
    mode = st.segmented_control(
        "Mode",
        options,
        default="grid",
        required=True,
        key="inspect_mode",
        format_func=MODES.__getitem__,
        label_visibility="collapsed",
    )
    if mode not in options:  # the choice of a run that had results
        mode = "grid"
    undithered = page.settings.dithers and st.toggle(
        "Undithered too",
        value=True,
        key="inspect_undithered",
        help="Next to each dithered result, the same palette without dithering: every pixel to its nearest color.",
    )
    panels, legend = panels_for(page, done, mode, undithered=undithered)
    image = page.source.image
    state = st.session_state.get(VIEWER_KEY) or {}
    data = viewer.viewer_data(
        page.source.key,
        (image.width, image.height),
        mode,
        panels,
        state.get("request"),
        preview_png=preview_png,
        crop_png=crop_png,
        legend=legend,
    )
    VIEWER(key=VIEWER_KEY, data=data, on_request_change=_no_op)


def _no_op() -> None:
    """The request is read at the top of the next run; the callback only declares the state value."""


def panels_for(
    page: Page, done: list[Done], mode: str, *, undithered: bool = False
) -> tuple[list[viewer.Panel], dict | None]:
    """The panels a mode shows, and the difference mode's legend; with `undithered`, each dithered
    result's undithered twin follows it."""
    original = viewer.Panel(
        f"original:{page.source.key}",
        "Original",
        viewer.OriginalLayer(page.source.image),
        preview=page.original_preview,
    )
    results: dict[str, viewer.Panel] = {}
    for o in done:
        results[o.method] = result_panel(page, o)
        if undithered and o.dithered:
            results[f"{o.method}:undithered"] = undithered_panel(page, o)
    if mode == "split":
        return split_pair(original, results), None
    if mode == "difference":
        return difference_panels(page, original, done, undithered=undithered)
    return [original, *results.values()], None


def result_panel(page: Page, outcome: Done) -> viewer.Panel:
    """A result as computed: dithered ones decoded from their PNG (once a crop needs it), the others by lookup."""
    run = run_of(page, outcome.method)
    if not outcome.dithered:
        layer: viewer.Layer = viewer.ResultLayer(page.hist, outcome.palette)
        label = method_label(outcome.method)
    else:
        layer = result_pixels(run, outcome)
        label = f"{method_label(outcome.method)} · {quant.DITHERS[outcome.dither].label}"
    return viewer.Panel(
        f"result:{run}",
        label,
        layer,
        note=count_of(len(outcome.colors), "color"),
        preview=outcome.preview,
    )


def undithered_panel(page: Page, outcome: Done) -> viewer.Panel:
    """A dithered result's palette without dithering: every pixel to its nearest color."""
    return viewer.Panel(
        f"undithered:{run_of(page, outcome.method)}",
        f"{method_label(outcome.method)} · undithered",
        viewer.ResultLayer(page.hist, outcome.palette),
        note=f"{count_of(len(outcome.colors), 'color')}, the same palette",
    )


def split_pair(original: viewer.Panel, results: dict[str, viewer.Panel]) -> list[viewer.Panel]:
    """The two sides of the wipe, as picked: the original and a result, or two results."""
    choices = {"original": original, **results}
    left_col, right_col = st.columns(2)
    left = left_col.selectbox(
        "Left", list(choices), index=0, key="inspect_left", format_func=lambda name: choices[name].label
    )
    right = right_col.selectbox(
        "Right", list(choices), index=1, key="inspect_right", format_func=lambda name: choices[name].label
    )
    return [choices[left], choices[right]]


def difference_panels(
    page: Page, original: viewer.Panel, done: list[Done], *, undithered: bool = False
) -> tuple[list[viewer.Panel], dict]:
    """The original, then each result's ΔE2000 map, all on one scale.

    The scale is set by the undithered maps (per distinct color, cheap); a
    dithered result's map is computed per pixel of what is on screen.
    """
    runs = tuple(run_of(page, o.method) for o in done)
    delta_es = [delta_e_per_entry(run, page.hist, o.palette) for run, o in zip(runs, done, strict=True)]
    limit = cached_shared_limit(runs, delta_es, page.hist.counts)
    panels = []
    for run, o, delta_e in zip(runs, done, delta_es, strict=True):
        lookup = viewer.DeltaELayer(page.hist, delta_e, limit)
        if not o.dithered:
            panels.append(
                viewer.Panel(f"delta-e:{run}:{limit:g}", f"{method_label(o.method)} · ΔE", lookup, note=mean_note(o))
            )
            continue
        layer = viewer.PixelDeltaELayer(page.source.image, result_pixels(run, o), limit)
        panels.append(
            viewer.Panel(f"delta-e:{run}:{limit:g}", f"{method_label(o.method)} · dithered ΔE", layer, mean_note(o))
        )
        if undithered:
            mean = float(np.average(delta_e, weights=page.hist.counts)) if page.hist.counts.sum() else 0.0
            panels.append(
                viewer.Panel(
                    f"delta-e-undithered:{run}:{limit:g}",
                    f"{method_label(o.method)} · undithered ΔE",
                    lookup,
                    note=f"mean {mean:.2f}",
                )
            )
    return [original, *panels], viewer.heat_legend(limit)


def mean_note(outcome: Done) -> str:
    return f"mean {outcome.metrics.delta_e:.2f}"


@st.cache_data(max_entries=8, ttl=UPLOAD_TTL, show_spinner=False)
def cached_shared_limit(runs: tuple[str, ...], _delta_es: list, _counts) -> float:
    """The maps' shared scale, once per set of results: every pan or zoom reruns the view, and the
    quantile sorts every histogram entry of every map (millions on a photo)."""
    return viewer.shared_limit(_delta_es, _counts)


def preview_png(panel: viewer.Panel) -> bytes:
    """A card's own preview, or one rendered from the panel's layer (a ΔE map's), kept in `PER_IMAGE`."""
    if panel.preview is not None:
        return panel.preview
    return PER_IMAGE.get_or_compute(("viewer-preview", panel.id), lambda: viewer.render_preview(panel.layer))


def crop_png(panel: viewer.Panel, crop: viewer.Crop) -> bytes:
    """One panel's crop as PNG, kept in `PER_IMAGE`: the same view of the same panel (a mode switch back,
    a second tab) is sent again without rendering it again."""
    key = ("viewer-crop", panel.id, tuple(crop.as_dict().values()))
    return PER_IMAGE.get_or_compute(key, lambda: viewer.encode_png(panel.layer.render(crop)))
