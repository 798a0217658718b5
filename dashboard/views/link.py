"""The shareable link: the URL seeds the widgets on a session's first run, then follows them.

A link carries the settings, never the image. It does say whether an upload
was shown (``image=upload``), so a page opened on it can tell the person why
they see the sample instead: the link came from someone else's upload, or the
server restarted and lost theirs.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.model.formatting import escape_markdown
from dashboard.model.settings import Settings, settings_from_query, settings_to_query

from .page import Source


def restore_settings(views: Sequence[str]) -> None:
    """On a session's first run, seed the widgets from the URL; later runs own the URL."""
    if "url_settings" in st.session_state:
        return
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    settings, notices = settings_from_query(query, views=views)
    st.session_state.update(
        upload_missing=query.get("image", [""])[-1:] == ["upload"],
        methods=list(settings.methods),
        k=settings.k,
        space=settings.space,
        seed=settings.seed,
        view=settings.view,
        url_settings=settings,
        url_notices=notices,
    )


def publish(settings: Settings, source: Source) -> None:
    """Write the settings into the URL, so the address bar is always a link to what is shown."""
    st.query_params.from_dict(settings_to_query(settings) | {"image": "upload" if source.is_upload else "sample"})


def show_notices(settings: Settings, source: Source) -> None:
    """Say why the sample stands in for a link's upload, and which link values were replaced."""
    if source.is_upload:
        st.session_state.upload_missing = False
    elif st.session_state.upload_missing:
        st.warning(
            "This page was showing an uploaded image, which a link doesn't carry, and the server no "
            "longer has it (it was someone else's upload, or the server restarted). Upload the image "
            "again to see it; meanwhile the sample is shown.",
            icon=":material/upload_file:",
        )
    if st.session_state.url_notices and settings == st.session_state.url_settings:
        lines = "\n".join(f"- {escape_markdown(notice)}" for notice in st.session_state.url_notices)
        st.warning(
            f"Some settings in the link could not be used, so defaults stand in:\n{lines}", icon=":material/link_off:"
        )
