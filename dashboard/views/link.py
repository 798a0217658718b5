"""The shareable link: the URL seeds the widgets on a session's first run, then follows them."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from dashboard.model.formatting import escape_markdown
from dashboard.model.settings import Settings, settings_from_query, settings_to_query


def restore_settings(views: Sequence[str]) -> None:
    """On a session's first run, seed the widgets from the URL; later runs own the URL."""
    if "url_settings" in st.session_state:
        return
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    settings, notices = settings_from_query(query, views=views)
    st.session_state.update(
        methods=list(settings.methods),
        k=settings.k,
        space=settings.space,
        seed=settings.seed,
        view=settings.view,
        url_settings=settings,
        url_notices=notices,
    )


def publish(settings: Settings) -> None:
    """Write the settings into the URL, so the address bar is always a link to what is shown."""
    st.query_params.from_dict(settings_to_query(settings))


def show_notices(settings: Settings) -> None:
    """Say which link values were replaced, until the user changes a setting."""
    if st.session_state.url_notices and settings == st.session_state.url_settings:
        lines = "\n".join(f"- {escape_markdown(notice)}" for notice in st.session_state.url_notices)
        st.warning(
            f"Some settings in the link could not be used, so defaults stand in:\n{lines}", icon=":material/link_off:"
        )
