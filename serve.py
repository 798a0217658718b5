"""Serve the dashboard with its method workers warm from the start: ``streamlit run serve.py``.

``streamlit run app.py`` works too, but Streamlit runs a page script only when
a browser opens it, so the first visitor would wait while the worker processes
start and warm up. Streamlit 1.67 runs a file that defines an ASGI ``st.App``
as a server, with a *lifespan* hook that runs at server start: here it starts
the page's pool of workers (`dashboard.model.outcomes.method_pool`), which warm
up in the background while the server waits for its first visitor. The page
itself is still app.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def start_workers(_app: st.App) -> AsyncIterator[None]:
    from dashboard.model import outcomes

    outcomes.method_pool()  # returns at once: each worker starts in a thread of its own
    yield


app = st.App("app.py", lifespan=start_workers)
