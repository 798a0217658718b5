"""The shareable link: the URL gives the widgets their first values in a session, then follows them.

A link carries the settings, never the image. It does say whether an upload
was shown (``image=upload``), so a page opened on it can tell the person why
they see the sample instead: an upload stays with the tab that sent it, so a
link, a reload or a server restart can't bring it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from dashboard.model.formatting import escape_markdown
from dashboard.model.settings import Settings, settings_from_query, settings_to_query

from .page import Source


def restore_settings(views: Sequence[str]) -> None:
    """On a session's first run, read the URL: its settings become the widgets' first values (`first_value`)."""
    if "url_settings" in st.session_state:
        return
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    settings, notices = settings_from_query(query, views=views)
    st.session_state.update(
        upload_missing=query.get("image", [""])[-1:] == ["upload"],
        locked_colors=list(settings.lock),  # plain state, not a widget: the cards' lock buttons change it
        good_palette=settings.palette,
        link_values={
            "methods": list(settings.methods),
            "k": settings.k,
            "space": settings.space,
            "seed": settings.seed,
            "view": settings.view,
            "dither": settings.dither,
            "strength": settings.strength,
            "order": settings.order,
            "palette_text": ", ".join(settings.palette),
        },
        url_settings=settings,
        url_notices=notices,
    )


def first_value(key: str, otherwise: Any) -> Any:
    """The link's value for the widget `key`, the first time the session draws it; `otherwise` after that.

    The link's value is the widget's *default*, not written into the session
    state, so a value the browser sends wins. That matters after a server
    restart: the page reconnects to a new session, whose first run comes from
    the person's first click, carrying every widget's value, while the URL
    still holds the settings from before the click. Written into the state, the
    link's values would undo that click. `otherwise` is the widget's own
    neutral default, given once the session holds a value for it.
    """
    offered = st.session_state.link_values
    if key in offered and key not in st.session_state:
        return offered.pop(key)
    return otherwise


def value_before_drawing(key: str) -> Any:
    """The value the widget `key` has before it is drawn in this run: the session's, or else the link's."""
    return st.session_state[key] if key in st.session_state else st.session_state.link_values[key]


def publish(settings: Settings, source: Source) -> None:
    """Write the settings into the URL, so the address bar is always a link to what is shown."""
    st.query_params.from_dict(settings_to_query(settings) | {"image": "upload" if source.is_upload else "sample"})


def show_notices(settings: Settings, source: Source) -> None:
    """Say why the sample stands in for a link's upload, and which link values were replaced."""
    if source.is_upload:
        st.session_state.upload_missing = False
    elif st.session_state.upload_missing:
        st.warning(
            "This page was showing an uploaded image. An upload stays with the browser tab that sent it: "
            "a link, a reload or a server restart doesn't bring it back. Upload the image again to see "
            "it; meanwhile the sample is shown.",
            icon=":material/upload_file:",
        )
    if st.session_state.url_notices and settings == st.session_state.url_settings:
        lines = "\n".join(f"- {escape_markdown(notice)}" for notice in st.session_state.url_notices)
        st.warning(
            f"Some settings in the link could not be used, so defaults stand in:\n{lines}", icon=":material/link_off:"
        )
