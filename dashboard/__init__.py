"""The page: quant's Streamlit dashboard, in two layers.

* `dashboard.model` — what the page shows, computed without Streamlit: settings
  and the URL, outcomes of running a method, linked selection, formatting,
  metric display, the method budget and the plotly figures. Tested without a
  browser.
* `dashboard.views` — the Streamlit side: the cached compute layer, the
  sidebar, the shareable link, and one module per view, each with ``draw(page)``.

`app.py` composes them; the engine, `quant`, knows nothing of either.
"""
