"""quant's dashboard: upload an image, quantize it with several methods, compare the results.

Streamlit runs this file; it only composes the page, and `main()` reads top
to bottom like it. The rest lives in three layers:

* `quant/` — the engine: loading, histogram, palettes, remapping, metrics;
* `dashboard/model/` — what the page shows, without Streamlit: settings and
  the URL, outcomes, selection, formatting, metric display, figures;
* `dashboard/views/` — the Streamlit side: the cached compute, the sidebar,
  the link, and one module per view.

Adding a view means one module in `dashboard/views/` with a ``draw(page)``,
listed in `dashboard.views.VIEWS`.
"""

from __future__ import annotations


def main() -> None:
    # Imported here, not at the top: multiprocessing starts the method workers by importing this
    # file (Streamlit runs it as `__main__`), and they must not import Streamlit or the views.
    import dataclasses

    import streamlit as st

    from dashboard.views import VIEWS, cache, link, sidebar
    from dashboard.views.page import Page, view_area

    st.set_page_config(page_title="quant · color quantization lab", page_icon="🎨", layout="wide")
    link.restore_settings(list(VIEWS))
    cache.worker_pool()  # already started by serve.py; under `streamlit run app.py`, the first run starts it
    header, body = st.container(), view_area()
    with st.sidebar:
        settings = sidebar.settings_ui()
    with header:
        st.title("quant", anchor=False)
        st.caption(
            "Cluster an image's colors with several methods, look at the results next to the original, "
            "and judge them by SSIM, PSNR and ΔE2000."
        )
        source = sidebar.image_ui()  # on the page itself: drop a file on it, or find its button on a phone
        notices = st.container()  # above the view switcher, which must be read first: the link carries the view
        view = st.segmented_control(
            "View",
            list(VIEWS),
            key="view",
            default=link.first_value("view", None),
            required=True,
            format_func=lambda name: VIEWS[name].label,
            label_visibility="collapsed",
        )
        assert view is not None, "required=True: a segmented control always has a choice"
        settings = dataclasses.replace(settings, view=view)
        with notices:
            link.publish(settings, source)
            link.show_notices(settings, source)
    with body:
        hist = cache.cached_histogram(source.key, source.image)
        with cache.compute(source, hist, settings) as computation:  # leaving it cancels what still computes
            page = Page(source, settings, hist, computation, *cache.cached_original(source.key, source.image))
            VIEWS[view].draw(page)
    cache.warm_up_umap_in_background()


# Only draw when Streamlit runs this file: a method worker imports it as `__mp_main__` (see above).
if __name__ == "__main__":
    main()
