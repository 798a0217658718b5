"""The dashboard as a user drives it, through Streamlit's AppTest (no browser)."""

from __future__ import annotations

import html
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import quant
from dashboard.model.formatting import escape_markdown
from dashboard.model.settings import Settings
from dashboard.views.cache import run_key
from tests import faulty
from tests.conftest import encode

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 300  # three methods on two shared cores, on a cold cache


def open_app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    return at.run()


def card_titles(at: AppTest) -> list[str]:
    titles = (re.search(r"<strong>(.*?)</strong>", m.value) for m in at.main.markdown)
    return [html.unescape(title.group(1)) for title in titles if title]


def metrics(at: AppTest):
    """The compact metrics table, one row per method that produced a result."""
    return at.dataframe[0].value.set_index("method")


def image_caption(at: AppTest) -> str:
    return next(c.value for c in at.main.caption if " px · " in c.value)


def assert_healthy(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture()
def upload_png(photo) -> bytes:
    return encode(Image.fromarray(photo))


def test_first_sight_is_the_sample_with_the_study_results():
    at = open_app()
    assert_healthy(at)
    assert card_titles(at) == ["Original", "k-means", "Gaussian mixture", "Agglomerative (fastcluster)"]
    assert len(at.main.image) == 1 + 3 + 1  # original, three results, the full-size view
    assert image_caption(at).startswith("451 × 300 px")
    table = metrics(at)
    assert list(table.index) == ["k-means", "Gaussian mixture", "Agglomerative (fastcluster)"]
    assert (table["colors"] == 8).all()
    assert table["ssim"].between(0.5, 1).all()
    assert len(at.main.download_button) == 3 * 3
    assert not at.warning and not at.error
    assert at.query_params == {"methods": "kmeans,gmm,agglomerative", "k": "8", "space": "rgb",
                               "seed": "0", "view": "compare", "dither": "none", "strength": "1",
                               "order": "frequency", "lock": "", "palette": "", "image": "sample"}


def test_uploading_a_png_gives_results_for_that_image(upload_png):
    at = open_app()
    sample_ssim = metrics(at)["ssim"]
    at.file_uploader(key="upload").set_value(("my photo.png", upload_png, "image/png")).run()
    assert_healthy(at)
    assert image_caption(at).startswith("128 × 96 px")
    assert not metrics(at)["ssim"].equals(sample_ssim)
    assert [button.label for button in at.main.download_button][:3] == ["PNG8", ".gpl", "JSON"]
    assert at.query_params["image"] == "upload"  # that there was one: never the file nor its name
    assert "photo" not in str(at.query_params)


def test_a_link_made_on_an_upload_says_why_the_sample_is_shown(upload_png):
    """The link of someone else's upload, or a page reconnecting after a server restart."""
    at = open_app(image="upload", k="4")
    assert any("Upload the image again" in warning.value for warning in at.warning)
    assert image_caption(at).startswith("451 × 300 px")  # the sample, and the page says so
    at.file_uploader(key="upload").set_value(("mine.png", upload_png, "image/png")).run()
    assert not at.warning
    assert image_caption(at).startswith("128 × 96 px")


def test_changing_k_changes_the_metrics_and_the_link():
    at = open_app()
    before = metrics(at)
    at.number_input(key="k").set_value(16).run()
    assert_healthy(at)
    after = metrics(at)
    assert (after["colors"] == 16).all()
    assert (after["ssim"] > before["ssim"]).all()
    assert at.pills(key="k_pick").value == 16
    assert at.query_params["k"] == "16"


def test_a_quick_pick_sets_k():
    at = open_app()
    at.pills(key="k_pick").set_value(4).run()
    assert_healthy(at)
    assert at.number_input(key="k").value == 4
    assert (metrics(at)["colors"] == 4).all()


def test_changing_methods_changes_the_columns_and_metrics():
    at = open_app()
    at.multiselect(key="methods").set_value(["octree", "kmeans"]).run()
    assert_healthy(at)
    assert card_titles(at) == ["Original", "Octree (Pillow) · baseline", "k-means"]
    table = metrics(at)
    assert list(table.index) == ["Octree (Pillow)", "k-means"]
    assert table.loc["Octree (Pillow)", "baseline"]
    assert table.loc["Octree (Pillow)", "ssim"] != table.loc["k-means", "ssim"]
    assert at.query_params["methods"] == "octree,kmeans"


def test_changing_the_color_space_and_seed_recomputes():
    at = open_app(methods="kmeans")
    rgb = metrics(at).loc["k-means", "delta_e"]
    at.segmented_control(key="space").set_value("lab").run()
    assert_healthy(at)
    assert metrics(at).loc["k-means", "delta_e"] != rgb
    at.number_input(key="seed").set_value(7).run()
    assert_healthy(at)
    assert at.query_params["space"] == "lab" and at.query_params["seed"] == "7"


def test_no_methods_selected_asks_for_one():
    at = open_app()
    at.multiselect(key="methods").set_value([]).run()
    assert_healthy(at)
    assert card_titles(at) == ["Original"]
    assert any("at least one method" in info.value for info in at.main.info)


def test_a_garbage_upload_shows_the_error_and_keeps_the_previous_results(upload_png):
    at = open_app()
    at.file_uploader(key="upload").set_value(("photo.png", upload_png, "image/png")).run()
    good = metrics(at)
    at.file_uploader(key="upload").set_value(("garbage.png", b"\x89PNG not really" * 50, "image/png")).run()
    assert_healthy(at)
    assert len(at.error) == 1 and "can't be used" in at.error[0].value
    assert image_caption(at).startswith("128 × 96 px")
    assert metrics(at).equals(good)
    # still usable: a new k works on the previous image
    at.number_input(key="k").set_value(4).run()
    assert_healthy(at)
    assert image_caption(at).startswith("128 × 96 px")
    assert (metrics(at)["colors"] == 4).all()


def test_a_garbage_upload_first_keeps_the_sample():
    at = open_app()
    at.file_uploader(key="upload").set_value(("notes.jpg", b"just some text\n" * 20, "image/jpeg")).run()
    assert_healthy(at)
    assert "text file" in at.error[0].value
    assert image_caption(at).startswith("451 × 300 px")
    assert len(metrics(at)) == 3


def test_removing_the_upload_returns_to_the_sample(upload_png):
    at = open_app()
    at.file_uploader(key="upload").set_value(("photo.png", upload_png, "image/png")).run()
    at.file_uploader(key="upload").set_value(None).run()
    assert_healthy(at)
    assert image_caption(at).startswith("451 × 300 px")


def test_an_uploaded_name_is_shown_as_text_never_as_markup(upload_png):
    at = open_app()
    name = "<img src=x onerror=alert(1)>**bold**.png"
    at.file_uploader(key="upload").set_value((name, upload_png, "image/png")).run()
    assert_healthy(at)
    assert all(name not in element.value for element in at.main.html)
    assert escape_markdown(name) in [caption.value for caption in at.main.caption]


def test_a_link_restores_its_settings():
    at = open_app(methods="median-cut,gmm", k="32", space="oklab", seed="5", view="compare")
    assert_healthy(at)
    assert at.multiselect(key="methods").value == ["median-cut", "gmm"]
    assert at.number_input(key="k").value == 32
    assert at.segmented_control(key="space").value == "oklab"
    assert at.number_input(key="seed").value == 5
    assert at.segmented_control(key="view").value == "compare"
    assert (metrics(at)["colors"] == 32).all()
    assert not at.warning


def test_bad_link_values_fall_back_to_defaults_with_a_notice():
    at = open_app(methods="kmeans,nonsense", k="999", space="hsv", seed="-3", view="nowhere")
    assert_healthy(at)
    assert at.multiselect(key="methods").value == ["kmeans"]
    assert at.number_input(key="k").value == 8
    assert at.segmented_control(key="space").value == "rgb"
    assert at.number_input(key="seed").value == 0
    notice = at.warning[0].value
    for named in ("nonsense", "999", "hsv", "nowhere"):
        assert named in notice
    assert at.query_params["k"] == "8" and at.query_params["methods"] == "kmeans"
    # the notice stays until the user changes something
    at.number_input(key="k").set_value(16).run()
    assert not at.warning


def test_a_method_that_raises_fails_in_its_own_column_only(monkeypatch):
    monkeypatch.setitem(quant.METHODS, "broken", faulty.BROKEN)
    at = open_app(methods="broken,kmeans")
    assert_healthy(at)
    assert card_titles(at) == ["Original", "Broken method", "k-means"]
    assert len(at.main.error) == 1
    assert escape_markdown("RuntimeError: the cluster library fell over") in at.main.error[0].value
    assert list(metrics(at).index) == ["k-means"]


def test_methods_over_their_time_or_memory_budget_fail_alone(monkeypatch):
    for method in (faulty.SLOW, faulty.GREEDY):
        monkeypatch.setitem(quant.METHODS, method.name, method)
    monkeypatch.setenv("QUANT_METHOD_SECONDS", "30")
    monkeypatch.setenv("QUANT_METHOD_MEMORY_MB", "600")
    at = open_app(methods="slow,kmeans,greedy")
    assert_healthy(at)
    assert card_titles(at) == ["Original", "Slow method", "k-means", "Greedy method"]
    errors = [error.value for error in at.main.error]
    assert len(errors) == 2
    assert "30 s time budget" in errors[0]
    assert escape_markdown("600 MB memory budget") in errors[1] or "600 MB memory budget" in errors[1]
    assert list(metrics(at).index) == ["k-means"]


def test_the_full_size_view_flips_between_original_and_results():
    at = open_app(methods="kmeans")
    full_size = at.segmented_control(key="full_size_choice")
    assert full_size.options == ["Original", "k-means"]
    before = at.main.image[-1].proto.imgs[0].url
    full_size.set_value("original").run()
    assert_healthy(at)
    assert at.main.image[-1].proto.imgs[0].url != before


def test_the_chart_metric_can_be_switched():
    at = open_app(methods="kmeans")
    def y_axis_title() -> str:
        return json.loads(charts(at)[0].proto.spec)["layout"]["yaxis"]["title"]["text"]

    assert y_axis_title() == "SSIM, higher is better"
    at.segmented_control(key="chart_metric").set_value("delta_e").run()
    assert_healthy(at)
    assert y_axis_title() == "ΔE2000, lower is better"


def charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def test_the_view_switcher_changes_view_and_link():
    at = open_app(methods="kmeans")
    at.segmented_control(key="view").set_value("color-space").run()
    assert_healthy(at)
    assert at.query_params["view"] == "color-space"
    assert not at.dataframe  # the compare view's table is gone


def test_the_full_size_result_comes_with_a_clickable_palette():
    at = open_app(methods="kmeans")
    strip = json.loads(charts(at)[1].proto.spec)
    assert len(strip["data"][0]["marker"]["color"]) == 8
    assert any("Click a color" in caption.value for caption in at.main.caption)


def test_color_space_overlays_one_palette_until_more_are_picked():
    at = open_app(view="color-space", methods="kmeans,octree")
    assert_healthy(at)

    def overlaid() -> list[set[str]]:
        return [{trace["name"] for trace in json.loads(chart.proto.spec)["data"]} - {"pixels"} for chart in charts(at)]

    assert overlaid() == [{"k-means"}, {"k-means"}]  # 2 × 64 markers at once would bury the pixels
    at.pills(key="shown_palettes").set_value(["k-means", "Octree (Pillow)"]).run()
    assert_healthy(at)
    assert overlaid() == [{"k-means", "Octree (Pillow)"}] * 2


def test_color_space_view_draws_projections_and_cube():
    at = open_app(view="color-space")
    assert_healthy(at)
    assert len(charts(at)) == 2
    assert any("of 135,300 pixels shown" in caption.value for caption in at.main.caption)


def test_cluster_maps_view_draws_one_embedding_for_all_methods():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(view="cluster-maps")
    at.session_state["embedding"] = "pca"  # instant; UMAP is the same code path after its compile
    at.run()
    assert_healthy(at)
    assert len(charts(at)) == 1
    assert any("embedded in" in caption.value for caption in at.main.caption)


def test_quality_vs_k_view_sweeps_the_chosen_method():
    at = open_app(view="quality-vs-k", methods="octree,kmeans")
    assert_healthy(at)
    assert at.selectbox(key="sweep_method").value == "octree"
    assert len(charts(at)) == 2
    captions = [image.proto.imgs[0].caption for image in at.main.image]
    assert [caption.split(" · ")[0] for caption in captions] == [f"k = {k}" for k in (2, 4, 8, 16, 32, 64, 128, 256)]


@pytest.mark.parametrize("view", ["compare", "color-space", "cluster-maps", "quality-vs-k"])
def test_every_view_survives_a_fully_transparent_image(view):
    transparent = encode(Image.fromarray(np.zeros((20, 30, 4), np.uint8)))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(view=view, methods="kmeans,octree")
    at.session_state["embedding"] = "pca"
    at.run()
    at.file_uploader(key="upload").set_value(("clear.png", transparent, "image/png")).run()
    assert_healthy(at)
    assert not at.error
    assert at.session_state["last_upload"].name == "clear.png"


def test_results_are_shown_losslessly(upload_png):
    wide = encode(Image.fromarray(np.tile(np.asarray(Image.open(io.BytesIO(upload_png))), (1, 16, 1))))
    at = open_app(methods="octree")
    at.file_uploader(key="upload").set_value(("wide.png", wide, "image/png")).run()
    assert_healthy(at)
    assert image_caption(at).startswith("2048 × 96 px")  # wider than the page: shown as a preview
    assert all(image.proto.imgs[0].url.endswith(".png") for image in at.main.image)


def test_a_stopped_run_keeps_what_finished_and_resume_computes_the_rest():
    at = open_app(methods="octree", k="5")
    # As if Stop was pressed while octree and k-means computed at k = 5: octree had finished.
    stopped = Settings(methods=("octree", "kmeans"), k=5, view="compare")
    at.session_state["halted"] = run_key(f"sample:{quant.DEFAULT_SAMPLE}", stopped)
    at.multiselect(key="methods").set_value(["octree", "kmeans"]).run()
    assert_healthy(at)
    assert card_titles(at) == ["Original", "Octree (Pillow) · baseline", "k-means"]
    assert list(metrics(at).index) == ["Octree (Pillow)"]
    assert any("Stopped" in info.value for info in at.main.info)
    at.button(key="resume").click().run()
    assert_healthy(at)
    assert list(metrics(at).index) == ["Octree (Pillow)", "k-means"]
    assert not at.main.info


def test_a_one_second_budget_is_enough_for_a_fast_method(monkeypatch):
    """The budget covers the method's own time (the card's Time), not a worker's start-up or the scoring."""
    monkeypatch.setenv("QUANT_METHOD_SECONDS", "1")
    at = open_app(methods="octree", k="6")
    assert_healthy(at)
    assert not at.main.error
    assert metrics(at).loc["Octree (Pillow)", "seconds"] < 1


# ---- dithering, your own palette, locked colors, palette order ------------------------------------------


def swatch_strips(at: AppTest) -> dict[str, dict]:
    """What each result card's swatch strip is sent (`compare.clickable_swatches`), by its method."""
    strips = [e for e in at.main.get("bidi_component") if e.proto.component_name == "quant_swatches"]
    return {e.proto.id.rsplit("swatches-", 1)[1]: json.loads(e.proto.json) for e in strips}


def swatch_labels(at: AppTest) -> dict[str, list[str]]:
    """Each card's swatch labels ("#rrggbb", or "#rrggbb locked"), by its method."""
    return {method: [s["label"] for s in strip["swatches"]] for method, strip in swatch_strips(at).items()}


def card_hex_codes(at: AppTest) -> dict[str, list[str]]:
    """Each result card's palette, from its "Hex codes" expander, by card title (in column order)."""
    titles = card_titles(at)[1:]
    return {title: code.value.split() for title, code in zip(titles, at.main.code, strict=True)}


def test_picking_a_dither_recomputes_every_card_with_it_and_puts_it_in_the_link():
    at = open_app(methods="kmeans,octree")
    before = metrics(at)
    assert not at.sidebar.slider  # no strength without dithering
    at.selectbox(key="dither").set_value("floyd-steinberg").run()
    assert_healthy(at)
    after = metrics(at)
    assert (after["blurred_delta_e"] != before["blurred_delta_e"]).all()
    assert (after["blurred_delta_e"] < before["blurred_delta_e"]).all()  # dithering's point, at k = 8
    assert at.slider(key="strength").value == 1.0
    at.slider(key="strength").set_value(0.5).run()
    assert_healthy(at)
    assert (metrics(at)["blurred_delta_e"] != after["blurred_delta_e"]).all()
    assert at.query_params["dither"] == "floyd-steinberg" and at.query_params["strength"] == "0.5"
    at.selectbox(key="dither").set_value("none").run()  # back: the cached undithered results, unchanged
    assert metrics(at)["blurred_delta_e"].equals(before["blurred_delta_e"])


def test_a_pasted_palette_gives_a_card_with_exactly_those_colors():
    at = open_app(methods="kmeans")
    at.text_area(key="palette_text").set_value("#000000, #FFFFFF\n#e30613 3366cc").run()
    assert_healthy(at)
    assert card_titles(at) == ["Original", "k-means", quant.CUSTOM.label]
    assert sorted(card_hex_codes(at)[quant.CUSTOM.label]) == ["#000000", "#3366cc", "#e30613", "#ffffff"]
    assert metrics(at).loc[quant.CUSTOM.label, "colors"] == 4
    assert at.query_params["palette"] == "000000,ffffff,e30613,3366cc"
    assert not at.error


def test_a_bad_palette_shows_an_error_and_keeps_the_previous_cards():
    at = open_app(methods="kmeans", palette="000000,ffffff")
    assert card_titles(at)[-1] == quant.CUSTOM.label
    before = metrics(at)
    at.text_area(key="palette_text").set_value("#000000, #nothex").run()
    assert_healthy(at)
    assert len(at.error) == 1 and "nothex" in at.error[0].value and "previous palette" in at.error[0].value
    assert card_titles(at) == ["Original", "k-means", quant.CUSTOM.label]
    assert metrics(at).equals(before)
    assert sorted(card_hex_codes(at)[quant.CUSTOM.label]) == ["#000000", "#ffffff"]


def test_a_palette_file_fills_the_box_and_a_bad_one_is_refused_by_name():
    at = open_app(methods="octree")
    gpl = b"GIMP Palette\nName: brand\n#\n  0   0   0 black\n255 255 255 white\n227   6  19 red\n"
    at.file_uploader(key="palette_upload").set_value(("brand.gpl", gpl, "text/plain")).run()
    assert_healthy(at)
    assert at.text_area(key="palette_text").value == "#000000, #ffffff, #e30613"
    assert sorted(card_hex_codes(at)[quant.CUSTOM.label]) == ["#000000", "#e30613", "#ffffff"]
    at.file_uploader(key="palette_upload").set_value(("empty.gpl", b"   ", "text/plain")).run()
    assert_healthy(at)
    assert any("is empty" in e.value and escape_markdown("empty.gpl") in e.value for e in at.error)
    assert card_titles(at)[-1] == quant.CUSTOM.label  # the previous palette stays
    palette_uploaders = [u for u in at.sidebar.get("file_uploader") if u.label == "Palette file"]
    assert len(palette_uploaders) == 1 and not palette_uploaders[0].value  # the refused file left the uploader
    at.file_uploader(key=palette_uploaders[0].key).set_value(("brand.gpl", gpl, "text/plain")).run()
    assert_healthy(at)
    assert not at.error and at.text_area(key="palette_text").value == "#000000, #ffffff, #e30613"
    uploader = next(u for u in at.sidebar.get("file_uploader") if u.label == "Palette file")
    at.file_uploader(key=uploader.key).set_value(("empty.gpl", b"   ", "text/plain")).run()
    assert len(at.error) == 1
    at.text_area(key="palette_text").set_value("#000000, #ffffff").run()  # codes typed instead: the message goes
    assert_healthy(at)
    assert not at.error and sorted(card_hex_codes(at)[quant.CUSTOM.label]) == ["#000000", "#ffffff"]


def test_a_locked_swatch_stays_in_the_palette_at_another_k_and_unlocks():
    at = open_app(methods="kmeans,gmm")
    chosen = card_hex_codes(at)["k-means"][-1]  # its rarest color
    lock = next(m for m in at.main.multiselect if m.key.startswith("lock-kmeans-"))
    lock.set_value([chosen]).run()
    assert_healthy(at)
    assert at.session_state["locked_colors"] == [chosen]
    assert at.query_params["lock"] == chosen.removeprefix("#")
    at.number_input(key="k").set_value(16).run()
    assert_healthy(at)
    for title, codes in card_hex_codes(at).items():
        assert chosen in codes and len(codes) <= 16, title  # every clustering method keeps it
    assert all(f"{chosen} locked" in labels for labels in swatch_labels(at).values())  # ringed on every card
    sidebar_lock = next(m for m in at.sidebar.multiselect if m.key.startswith("locked-"))
    sidebar_lock.set_value([]).run()
    assert_healthy(at)
    assert at.session_state["locked_colors"] == [] and at.query_params["lock"] == ""


def test_palette_order_applies_to_every_card():
    at = open_app(methods="kmeans,octree", order="lightness")
    assert at.selectbox(key="order").value == "lightness"
    for codes in card_hex_codes(at).values():
        lightness = quant.colorspace.to_space(np.array([quant_rgb(c) for c in codes], np.uint8), "lab")[:, 0]
        assert (np.diff(lightness) >= 0).all()


def quant_rgb(code: str) -> tuple[int, int, int]:
    return int(code[1:3], 16), int(code[3:5], 16), int(code[5:7], 16)


def test_a_link_restores_dithering_order_locks_and_palette_and_bad_values_get_a_notice():
    at = open_app(methods="kmeans", dither="atkinson", strength="0.4", order="hue", lock="e30613",
                  palette="000000,ffffff")
    assert_healthy(at)
    assert at.selectbox(key="dither").value == "atkinson" and at.slider(key="strength").value == 0.4
    assert at.selectbox(key="order").value == "hue"
    assert at.session_state["locked_colors"] == ["#e30613"]
    assert at.text_area(key="palette_text").value == "#000000, #ffffff"
    assert "#e30613" in card_hex_codes(at)["k-means"]
    assert not at.warning
    bad = open_app(methods="kmeans", dither="wobble", palette="nothex")
    assert_healthy(bad)
    assert "wobble" in bad.warning[0].value and "custom palette" in bad.warning[0].value
    assert card_titles(bad) == ["Original", "k-means"]


def test_your_own_palette_s_swatches_cant_be_locked_and_the_clustering_cards_can():
    at = open_app(methods="kmeans", palette="000000,ffffff")
    strips = swatch_strips(at)
    assert strips["custom"]["lockable"] is False and strips["kmeans"]["lockable"] is True
    assert [s["hex"] for s in strips["kmeans"]["swatches"]] == card_hex_codes(at)["k-means"]


class _SessionState(dict):
    """Enough of st.session_state for a callback run outside a script: item and attribute access."""

    def __getattr__(self, name):
        return self[name]

    def __setattr__(self, name, value):
        self[name] = value


@pytest.mark.parametrize(
    ("locked", "event", "after"),
    [
        ([], {"hex": "#aa0000", "lock": True}, ["#aa0000"]),
        (["#aa0000"], {"hex": "#aa0000", "lock": True}, ["#aa0000"]),  # a double click locks once
        (["#000000", "#aa0000"], {"hex": "#aa0000", "lock": False}, ["#000000"]),
        ([], {"hex": "#aa0000", "lock": False}, []),  # a stale strip's unlock of an unlocked color: nothing
        ([], {"hex": "#123456", "lock": True}, []),  # not a color this card shows: ignored
        ([], None, []),  # the trigger already reset
    ],
)
def test_a_swatch_click_sets_the_lock_the_swatch_offered(monkeypatch, locked, event, after):
    from dashboard.views import page

    state = _SessionState(locked_colors=locked, strip={"lock": event})
    monkeypatch.setattr(page.st, "session_state", state)
    page.set_locked("strip", ("#000000", "#aa0000", "#ffffff"))
    assert state["locked_colors"] == after
