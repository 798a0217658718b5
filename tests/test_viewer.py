"""The comparison viewer's model (crops, zoom scales, ΔE maps) without a browser, and its view through AppTest."""

from __future__ import annotations

import base64
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import quant
from dashboard.model import viewer
from dashboard.model.memory import BoundedCache, size_of
from dashboard.model.outcomes import PREVIEW_WIDTH, Recipe, measure
from dashboard.model.viewer import Crop, crop_from_request
from quant.ciede2000 import ciede2000
from quant.colorspace import rgb_to_lab
from tests import faulty
from tests.conftest import encode

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 300


@pytest.fixture(scope="module")
def translucent() -> quant.LoadedImage:
    """A photo-like image with a transparent hole: results mark it transparent, maps leave it out."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:90, 0:120]
    rgb = np.clip(np.stack([x * 2, y * 2.5, x + y], axis=-1) + rng.normal(0, 10, (90, 120, 3)), 0, 255)
    alpha = np.full((90, 120), 255, np.uint8)
    alpha[30:50, 40:70] = 0
    return quant.load_image(encode(Image.fromarray(np.dstack([rgb.astype(np.uint8), alpha]))))


@pytest.fixture(scope="module")
def done(translucent):
    hist = quant.build_histogram(translucent)
    return hist, measure(translucent, hist, 8, quant.METHODS["kmeans"], Recipe())


def decoded_rgba(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


# ---- crops asked for by the browser --------------------------------------------------------------


def test_a_request_at_one_to_one_is_the_region_pixel_for_pixel():
    crop = crop_from_request({"x": 10.4, "y": 20, "w": 30, "h": 15.2, "scale": 1}, 120, 90)
    assert crop == Crop(10, 20, 41, 36, 31, 16)
    assert crop.scale == 1
    assert list(crop.rows()) == list(range(20, 36)) and list(crop.columns()) == list(range(10, 41))


def test_a_request_is_clamped_to_the_image_and_its_scale_to_one():
    crop = crop_from_request({"x": -50, "y": -5, "w": 400, "h": 40, "scale": 8}, 120, 90)
    assert (crop.x0, crop.y0, crop.x1, crop.y1) == (0, 0, 120, 35)
    assert crop.scale == 1  # closer zooms magnify in the browser, from the same pixels


def test_a_zoomed_out_request_samples_the_region_at_its_scale():
    crop = crop_from_request({"x": 0, "y": 0, "w": 4000, "h": 3000, "scale": 0.25}, 4000, 3000)
    assert (crop.width, crop.height) == (1000, 750)
    rows = crop.rows()
    assert rows[0] == 2 and rows[-1] == 2998 and np.all(np.diff(rows) == 4)


@pytest.mark.parametrize(
    "request_",
    [
        None,
        "x=1",
        {},
        {"x": 0, "y": 0, "w": 10, "h": 10},
        {"x": "a", "y": 0, "w": 10, "h": 10, "scale": 1},
        {"x": math.nan, "y": 0, "w": 10, "h": 10, "scale": 1},
        {"x": 0, "y": 0, "w": math.inf, "h": 10, "scale": 1},
        {"x": 0, "y": 0, "w": -10, "h": 10, "scale": 1},
        {"x": 500, "y": 0, "w": 10, "h": 10, "scale": 1},
        {"x": 0, "y": 0, "w": 10, "h": 10, "scale": [1]},
    ],
)
def test_a_bad_request_asks_for_nothing(request_):
    assert crop_from_request(request_, 120, 90) is None


def test_a_request_for_all_of_a_12_mp_image_at_one_to_one_is_cut_down_around_its_center():
    crop = crop_from_request({"x": 0, "y": 0, "w": 4000, "h": 3000, "scale": 1}, 4000, 3000)
    assert crop.width * crop.height <= viewer.MAX_CROP_PIXELS * 1.01
    assert crop.scale == 1
    assert abs((crop.x0 + crop.x1) / 2 - 2000) <= 1 and abs((crop.y0 + crop.y1) / 2 - 1500) <= 1


# ---- what each panel renders ---------------------------------------------------------------------


def test_the_original_at_one_to_one_is_the_image_s_own_pixels(translucent):
    crop = Crop(35, 25, 80, 60, 45, 35)
    rgba = viewer.OriginalLayer(translucent).render(crop)
    np.testing.assert_array_equal(rgba[..., :3], translucent.rgb[25:60, 35:80])
    np.testing.assert_array_equal(rgba[..., 3] == 255, translucent.opaque[25:60, 35:80])


def test_a_result_at_one_to_one_is_its_png_s_pixels(done):
    hist, outcome = done
    crop = Crop(35, 25, 80, 60, 45, 35)
    rendered = viewer.ResultLayer(hist, outcome.palette).render(crop)
    expected = decoded_rgba(outcome.png)[25:60, 35:80]
    np.testing.assert_array_equal(rendered[..., 3], expected[..., 3])
    visible = expected[..., 3] == 255
    np.testing.assert_array_equal(rendered[visible, :3], expected[visible, :3])


def test_the_whole_result_sampled_at_scale_one_is_its_png(done):
    hist, outcome = done
    rendered = viewer.ResultLayer(hist, outcome.palette).render(viewer.whole(120, 90, max_width=PREVIEW_WIDTH))
    expected = decoded_rgba(outcome.png)
    visible = expected[..., 3] == 255
    np.testing.assert_array_equal(rendered[visible], expected[visible])


def test_a_difference_map_is_each_pixel_s_delta_e_on_the_shared_scale(translucent, done):
    hist, outcome = done
    delta_e = viewer.delta_e_per_entry(hist, outcome.palette)
    crop = Crop(0, 0, 120, 90, 120, 90)
    rendered = viewer.DeltaELayer(hist, delta_e, 10.0).render(crop)
    result = decoded_rgba(outcome.png)[..., :3]
    visible = translucent.opaque
    per_pixel = ciede2000(rgb_to_lab(translucent.rgb[visible]), rgb_to_lab(result[visible]))
    np.testing.assert_array_equal(rendered[visible, :3], viewer.heat_colors(per_pixel.astype(np.float32), 10.0))
    assert (rendered[~visible, 3] == 0).all() and (rendered[visible, 3] == 255).all()
    # The per-entry values are the metric's: their weighted mean is the card's mean ΔE.
    assert np.average(delta_e, weights=hist.counts) == pytest.approx(outcome.metrics.delta_e, rel=1e-5)


def test_delta_e_per_entry_is_the_same_in_chunks(monkeypatch, done):
    hist, outcome = done
    whole_at_once = viewer.delta_e_per_entry(hist, outcome.palette)
    monkeypatch.setattr(viewer, "_ENTRY_CHUNK", 97)
    np.testing.assert_array_equal(viewer.delta_e_per_entry(hist, outcome.palette), whole_at_once)


def test_the_heat_scale_runs_dark_to_bright_and_clips_above_its_limit():
    colors = viewer.heat_colors(np.array([0.0, 5.0, 10.0, 50.0]), 10.0)
    assert tuple(colors[0]) == (0, 0, 4) and tuple(colors[2]) == (252, 255, 164)
    np.testing.assert_array_equal(colors[3], colors[2])
    luma = colors[:3] @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma) > 0)


@pytest.mark.parametrize(("value", "ceiling"), [(0.3, 0.5), (1, 1), (1.01, 2), (2.3, 5), (7, 10), (12, 20), (51, 100)])
def test_nice_ceiling(value, ceiling):
    assert viewer.nice_ceiling(value) == pytest.approx(ceiling)


def test_one_shared_limit_covers_almost_every_pixel_of_every_map():
    counts = np.array([1, 1, 98])
    small, large = np.array([1.0, 1.0, 1.0]), np.array([0.5, 40.0, 7.0])
    assert viewer.shared_limit([small, large], counts) == 10  # the 99th percentile (7), not the outlier (40)
    assert viewer.shared_limit([small], counts) == 1
    assert viewer.shared_limit([], counts) == 1


def test_a_rendered_preview_fits_the_preview_width(done):
    hist, outcome = done
    wide_hist = quant.Histogram(hist.colors, hist.counts, np.tile(hist.pixel_index, (1, 20)))
    png = viewer.render_preview(viewer.ResultLayer(wide_hist, outcome.palette))
    width = viewer.RENDERED_PREVIEW_WIDTH
    assert Image.open(io.BytesIO(png)).size == (width, round(90 * width / 2400))


# ---- what the browser is sent --------------------------------------------------------------------


def _panels(translucent, done) -> list[viewer.Panel]:
    hist, outcome = done
    return [
        viewer.Panel("original:x", "Original", viewer.OriginalLayer(translucent), preview=b"unused"),
        viewer.Panel("result:x", "k-means", viewer.ResultLayer(hist, outcome.palette)),
    ]


def _data(panels, request):
    return viewer.viewer_data(
        "image-1",
        (120, 90),
        "grid",
        panels,
        request,
        preview_png=lambda panel: viewer.render_preview(panel.layer),
        crop_png=lambda panel, crop: viewer.encode_png(panel.layer.render(crop)),
    )


def test_the_first_data_has_every_preview_and_no_crop(translucent, done):
    data = _data(_panels(translucent, done), None)
    assert data["image"] == {"id": "image-1", "width": 120, "height": 90}
    assert [p["label"] for p in data["panels"]] == ["Original", "k-means"]
    assert all(p["preview"]["src"].startswith("data:image/png;base64,") for p in data["panels"])
    assert data["crop"] is None


def test_a_request_gets_its_crop_for_every_panel_and_no_preview_the_browser_has(translucent, done):
    request = {"crop": {"x": 10, "y": 10, "w": 50, "h": 40, "scale": 1}, "have": ["original:x"], "image": "image-1"}
    data = _data(_panels(translucent, done), request)
    assert "src" not in data["panels"][0]["preview"] and "src" in data["panels"][1]["preview"]
    assert data["crop"]["geometry"] == Crop(10, 10, 60, 50, 50, 40).as_dict()
    assert data["crop"]["panels"] == ["original:x", "result:x"]
    assert len(data["crop"]["sources"]) == 2


@pytest.mark.parametrize(
    "request_",
    [
        {"crop": {"x": 10, "y": 10, "w": 50, "h": 40, "scale": 1}, "image": "another image"},
        {"crop": "junk", "have": "junk", "image": "image-1"},
        ["not", "a", "mapping"],
    ],
)
def test_a_stale_or_bad_request_gets_no_crop_and_every_preview(translucent, done, request_):
    data = _data(_panels(translucent, done), request_)
    assert data["crop"] is None
    assert all("src" in p["preview"] for p in data["panels"])


# ---- the view, through AppTest -------------------------------------------------------------------


def _find_component(node):
    if getattr(node, "type", None) == "bidi_component" and node.proto.component_name == "quant_viewer":
        return node
    children = getattr(node, "children", None)
    for child in children.values() if isinstance(children, dict) else ():
        if (found := _find_component(child)) is not None:
            return found
    return None


def sent_data(at: AppTest) -> dict | None:
    """The data the page sent to the viewer component, or None when there is no viewer."""
    component = _find_component(at.main)
    return None if component is None else json.loads(component.proto.json)


def open_inspect(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(view="inspect", **query)
    return at.run()


def assert_healthy(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_the_view_shows_the_original_and_every_result_then_a_split_then_the_difference_maps():
    at = open_inspect(methods="octree,kmeans")
    assert_healthy(at)
    data = sent_data(at)
    assert [p["label"] for p in data["panels"]] == ["Original", "Octree (Pillow) · baseline", "k-means"]
    assert data["mode"] == "grid" and data["legend"] is None
    assert data["image"] == {"id": f"sample:{quant.DEFAULT_SAMPLE}", "width": 451, "height": 300}

    at.segmented_control(key="inspect_mode").set_value("split").run()
    assert_healthy(at)
    assert [p["label"] for p in sent_data(at)["panels"]] == ["Original", "Octree (Pillow) · baseline"]
    at.selectbox(key="inspect_left").set_value("kmeans").run()
    assert [p["label"] for p in sent_data(at)["panels"]] == ["k-means", "Octree (Pillow) · baseline"]

    at.segmented_control(key="inspect_mode").set_value("difference").run()
    assert_healthy(at)
    data = sent_data(at)
    assert [p["label"] for p in data["panels"]] == ["Original", "Octree (Pillow) · baseline · ΔE", "k-means · ΔE"]
    assert data["legend"]["ticks"][0] == "0" and data["legend"]["ticks"][-1].startswith("≥ ")
    assert all(p["note"].startswith("mean ") for p in data["panels"][1:])


def test_no_method_says_what_to_do_and_draws_no_viewer():
    at = open_inspect(methods="octree")
    at.multiselect(key="methods").set_value([]).run()
    assert_healthy(at)
    assert any("Pick at least one method" in info.value for info in at.main.info)
    assert sent_data(at) is None


def test_a_failed_method_is_named_and_left_out(monkeypatch):
    monkeypatch.setitem(quant.METHODS, "broken", faulty.BROKEN)
    at = open_inspect(methods="broken,octree")
    assert_healthy(at)
    assert len(at.main.warning) == 1 and "Broken method failed" in at.main.warning[0].value
    assert [p["label"] for p in sent_data(at)["panels"]] == ["Original", "Octree (Pillow) · baseline"]


def test_a_fully_transparent_image_is_inspected_without_error():
    transparent = encode(Image.fromarray(np.zeros((20, 30, 4), np.uint8)))
    at = open_inspect(methods="kmeans,octree")
    at.file_uploader(key="upload").set_value(("clear.png", transparent, "image/png")).run()
    for mode in ("grid", "split", "difference"):
        at.segmented_control(key="inspect_mode").set_value(mode).run()
        assert_healthy(at)
        assert not at.main.error
        assert sent_data(at)["image"]["width"] == 30


def test_a_fully_transparent_image_renders_every_layer_transparent():
    clear = quant.load_image(encode(Image.fromarray(np.zeros((20, 30, 4), np.uint8))))
    hist = quant.build_histogram(clear)
    outcome = measure(clear, hist, 4, quant.METHODS["octree"], Recipe())
    delta_e = viewer.delta_e_per_entry(hist, outcome.palette)
    crop = Crop(0, 0, 30, 20, 30, 20)
    for layer in (
        viewer.OriginalLayer(clear),
        viewer.ResultLayer(hist, outcome.palette),
        viewer.DeltaELayer(hist, delta_e, viewer.shared_limit([delta_e], hist.counts)),
    ):
        assert (layer.render(crop)[..., 3] == 0).all()


def test_the_viewer_s_request_brings_a_full_resolution_crop_of_every_panel():
    at = open_inspect(methods="octree")
    first = sent_data(at)
    have = [p["id"] for p in first["panels"]]
    at.session_state["inspect_viewer"] = {
        "request": {
            "crop": {"x": 100, "y": 50, "w": 64, "h": 48, "scale": 1},
            "have": have,
            "image": first["image"]["id"],
        }
    }
    at.run()
    assert_healthy(at)
    data = sent_data(at)
    assert data["crop"]["geometry"] == Crop(100, 50, 164, 98, 64, 48).as_dict()
    assert all("src" not in p["preview"] for p in data["panels"])  # the browser has them
    original = data["crop"]["sources"][0].removeprefix("data:image/png;base64,")
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(original))).convert("RGB"))
    np.testing.assert_array_equal(pixels, quant.sample_image(quant.DEFAULT_SAMPLE).rgb[50:98, 100:164])


# ---- dithered results: decoded from their PNG, with their undithered twin -------------------------------


@pytest.fixture(scope="module")
def dithered(translucent):
    hist = quant.build_histogram(translucent)
    return hist, measure(translucent, hist, 8, quant.METHODS["kmeans"], Recipe(dither="floyd-steinberg"))


def decoded_layer(outcome, store=None, key=("result",)) -> viewer.DecodedLayer:
    return viewer.DecodedLayer(key, outcome.png, outcome.colors, BoundedCache(10**8) if store is None else store)


def test_a_dithered_result_s_layer_is_its_png_s_pixels(dithered):
    hist, outcome = dithered
    crop = Crop(35, 25, 80, 60, 45, 35)
    layer = decoded_layer(outcome)
    assert layer.size == (120, 90)
    np.testing.assert_array_equal(layer.render(crop), decoded_rgba(outcome.png)[25:60, 35:80])
    # The lookup through the palette's labels is the same palette undithered: not the PNG's pixels.
    undithered = viewer.ResultLayer(hist, outcome.palette).render(crop)
    assert not np.array_equal(undithered, layer.render(crop))


def test_a_dithered_difference_map_is_each_pixel_s_delta_e(translucent, dithered):
    _, outcome = dithered
    crop = Crop(0, 0, 120, 90, 120, 90)
    rendered = viewer.PixelDeltaELayer(translucent, decoded_layer(outcome), 10.0).render(crop)
    result = decoded_rgba(outcome.png)[..., :3]
    visible = translucent.opaque
    per_pixel = ciede2000(rgb_to_lab(translucent.rgb[visible]), rgb_to_lab(result[visible]))
    np.testing.assert_array_equal(rendered[visible, :3], viewer.heat_colors(per_pixel, 10.0))
    assert (rendered[~visible, 3] == 0).all() and (rendered[visible, 3] == 255).all()
    assert per_pixel.mean() == pytest.approx(outcome.metrics.delta_e, rel=1e-4)  # the card's mean ΔE


def test_a_dithered_result_is_decoded_only_when_a_crop_needs_it_and_within_the_byte_bound(translucent):
    """Decoded pixels live in the page's cache bounded by bytes: however many dithered results are
    inspected, what is kept stays within the bound, and an evicted result is decoded again when needed."""
    hist = quant.build_histogram(translucent)
    outcomes = [
        measure(translucent, hist, k, quant.METHODS["kmeans"], Recipe(dither=kind))
        for k, kind in ((4, "floyd-steinberg"), (8, "atkinson"), (16, "bayer4"))
    ]
    one_result = translucent.width * translucent.height  # a byte a pixel
    store = BoundedCache(int(1.5 * one_result))  # room for one decoded result, not two
    layers = [decoded_layer(o, store, key=("result-pixels", n)) for n, o in enumerate(outcomes)]
    assert [layer.size for layer in layers] == [(120, 90)] * 3 and store.bytes == 0  # nothing decoded yet
    crop = Crop(0, 0, 120, 90, 60, 45)
    for layer, outcome in zip(layers, outcomes, strict=True):
        np.testing.assert_array_equal(layer.render(crop)[..., 3] > 0, translucent.opaque[crop.rows()][:, crop.columns()])
        assert store.bytes == one_result <= store.max_bytes and len(store) == 1
    first = layers[0].render(Crop(35, 25, 80, 60, 45, 35))  # evicted by the others: decoded again, the same
    np.testing.assert_array_equal(first, decoded_rgba(outcomes[0].png)[25:60, 35:80] * (first[..., 3:] > 0))
    assert size_of(layers[0].indices()) == one_result  # the indices, not four bytes a pixel of RGBA


def test_with_dithering_the_viewer_shows_each_result_dithered_and_undithered():
    at = open_inspect(methods="kmeans", dither="atkinson", palette="000000,ffffff")
    assert_healthy(at)
    labels = [p["label"] for p in sent_data(at)["panels"]]
    assert labels == ["Original", "k-means · Atkinson", "k-means · undithered",
                      "Your own palette · Atkinson", "Your own palette · undithered"]
    assert len({p["id"] for p in sent_data(at)["panels"]}) == 5
    at.segmented_control(key="inspect_mode").set_value("difference").run()
    assert_healthy(at)
    labels = [p["label"] for p in sent_data(at)["panels"]]
    assert labels == ["Original", "k-means · dithered ΔE", "k-means · undithered ΔE",
                      "Your own palette · dithered ΔE", "Your own palette · undithered ΔE"]
    at.toggle(key="inspect_undithered").set_value(False).run()
    assert [p["label"] for p in sent_data(at)["panels"]] == [
        "Original", "k-means · dithered ΔE", "Your own palette · dithered ΔE"]
    at.segmented_control(key="inspect_mode").set_value("split").run()
    assert_healthy(at)
    at.toggle(key="inspect_undithered").set_value(True).run()
    at.selectbox(key="inspect_left").set_value("kmeans").run()
    at.selectbox(key="inspect_right").set_value("kmeans:undithered").run()
    assert [p["label"] for p in sent_data(at)["panels"]] == ["k-means · Atkinson", "k-means · undithered"]


def test_inspect_decodes_only_for_a_crop_and_keeps_its_big_data_in_the_page_s_byte_bounded_cache():
    from dashboard.views.cache import PER_IMAGE

    PER_IMAGE.clear()
    at = open_inspect(methods="kmeans", dither="bayer8")
    kinds = lambda: {key[0] for key in PER_IMAGE.keys()}  # noqa: E731
    assert "result-pixels" not in kinds()  # at fit the grid shows the card's preview: nothing decoded
    have = [p["id"] for p in sent_data(at)["panels"]]
    at.session_state["inspect_viewer"] = {"request": {
        "crop": {"x": 100, "y": 50, "w": 64, "h": 48, "scale": 1}, "have": have, "image": sent_data(at)["image"]["id"]}}
    at.run()
    assert_healthy(at)
    assert {"result-pixels", "viewer-crop"} <= kinds()
    at.segmented_control(key="inspect_mode").set_value("difference").run()
    assert_healthy(at)
    assert {"delta-e", "viewer-preview"} <= kinds()


def test_without_dithering_there_is_no_undithered_toggle():
    at = open_inspect(methods="kmeans")
    assert not [t for t in at.main.toggle if t.key == "inspect_undithered"]
    assert [p["label"] for p in sent_data(at)["panels"]] == ["Original", "k-means"]
