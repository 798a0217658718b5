"""Linked selection: chart points and palette clicks become histogram and pixel masks."""

from __future__ import annotations

import numpy as np
import pytest

import quant
from dashboard.model import figures, selection
from quant import embed

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


@pytest.fixture(scope="module")
def image():
    """4×4: a red row, a green row, a blue row, a white row; the right half of
    the red row is transparent (it keeps its red RGB underneath)."""
    rgb = np.array([[c] * 4 for c in (RED, GREEN, BLUE, WHITE)], np.uint8)
    opaque = np.ones((4, 4), bool)
    opaque[0, 2:] = False
    return quant.from_array(rgb, opaque)


@pytest.fixture(scope="module")
def hist(image):
    return quant.build_histogram(image)


def entry(hist, color):
    return int(np.flatnonzero((hist.colors == color).all(axis=1))[0])


def point(customdata, group=figures.PIXEL_GROUP, **extra):
    return {"curve_number": 0, "point_index": 0, "customdata": customdata, "legendgroup": group, **extra}


def test_selected_pixel_points_become_their_histogram_entries(hist):
    event = {"selection": {"points": [point([entry(hist, GREEN), 0, 255, 0, 4]),
                                      point([entry(hist, BLUE), 0, 0, 255, 4])],
                           "point_indices": [0, 1], "box": [], "lasso": []}}
    mask = selection.entries_from_event(event, len(hist))
    assert mask.dtype == bool and mask.shape == (len(hist),)
    assert set(np.flatnonzero(mask)) == {entry(hist, GREEN), entry(hist, BLUE)}


def test_the_point_form_streamlit_really_sends(hist):
    """Recorded from st.plotly_chart(on_select="rerun") with a box drawn over a
    projections figure: a typed-array row of customdata arrives as a dict."""
    green = entry(hist, GREEN)
    recorded = {"curve_number": 0, "point_number": 4, "point_index": 4, "x": 0, "y": 255,
                "customdata": {"0": green, "1": 0, "2": 255, "3": 0, "4": 4},
                "marker_color": "#00ff00", "legendgroup": "pixels"}
    event = {"selection": {"points": [recorded], "point_indices": [4], "box": [{}], "lasso": []}}
    assert np.flatnonzero(selection.entries_from_event(event, len(hist))).tolist() == [green]


def test_event_selection_part_or_nothing(hist):
    only = {"points": [point(entry(hist, WHITE))]}  # scalar customdata, no wrapper
    assert np.flatnonzero(selection.entries_from_event(only, len(hist))).tolist() == [entry(hist, WHITE)]
    assert not selection.entries_from_event(None, len(hist)).any()
    empty = {"selection": {"points": [], "point_indices": [], "box": [], "lasso": []}}
    assert not selection.entries_from_event(empty, len(hist)).any()


def test_points_without_an_entry_are_ignored(hist):
    event = {"selection": {"points": [point(None), point([]), point([99]), point(["x"]), {"x": 1}]}}
    assert not selection.entries_from_event(event, len(hist)).any()


def test_a_selected_palette_marker_selects_its_whole_cluster(image, hist):
    palette = quant.prepare(image, "kmeans", hist=hist).quantize(2).palette
    labels = {"k-means": palette.labels}
    cluster = int(palette.labels[entry(hist, WHITE)])
    event = {"selection": {"points": [point([cluster, 0, 0, 0, 0], group=figures.palette_group("k-means"))]}}
    mask = selection.entries_from_event(event, len(hist), labels_by_group=labels)
    np.testing.assert_array_equal(mask, palette.labels == cluster)
    # Without the labels a palette marker means nothing, and is not read as a histogram entry.
    assert not selection.entries_from_event(event, len(hist)).any()


def test_a_real_figure_selection_round_trips(hist):
    sample = embed.sample_pixels(hist, 100, seed=0)
    trace = figures.projections_figure(hist, sample).data[1]
    picked = [3, 7]
    event = {"selection": {"points": [
        point(list(np.asarray(trace.customdata)[i]), group=trace.legendgroup, point_index=i) for i in picked
    ]}}
    mask = selection.entries_from_event(event, len(hist))
    assert set(np.flatnonzero(mask)) == set(sample.entries[picked].tolist())


def test_a_cluster_map_selection_round_trips(image, hist):
    emb = embed.embed(hist, method="pca", size=50, seed=1)
    palettes = {"k-means": quant.prepare(image, "kmeans", hist=hist).quantize(2).palette}
    trace = figures.cluster_map_figure(emb, hist, palettes).data[0]
    rows = np.asarray(trace.customdata)
    event = {"selection": {"points": [
        point({str(j): int(v) for j, v in enumerate(rows[i])}, group=trace.legendgroup) for i in (0, 5, 9)
    ]}}
    mask = selection.entries_from_event(event, len(hist))
    assert set(np.flatnonzero(mask)) == set(emb.sample.entries[[0, 5, 9]].tolist())


def test_entries_of_a_clicked_palette_color():
    labels = np.array([0, 2, 2, 1, 0])
    np.testing.assert_array_equal(selection.entries_of_color(labels, 2), [False, True, True, False, False])
    with pytest.raises(ValueError, match="palette row"):
        selection.entries_of_color(labels, 3)


def test_pixel_mask_follows_the_histogram_and_never_selects_transparency(hist, image):
    red = np.zeros(len(hist), bool)
    red[entry(hist, RED)] = True
    pixels = selection.pixel_mask(hist, red)
    expected = np.zeros((4, 4), bool)
    expected[0, :2] = True  # only the visible red pixels, not the transparent ones below red RGB
    np.testing.assert_array_equal(pixels, expected)
    everything = selection.pixel_mask(hist, np.ones(len(hist), bool))
    np.testing.assert_array_equal(everything, image.opaque)
    with pytest.raises(ValueError, match="shape"):
        selection.pixel_mask(hist, np.ones(len(hist) + 1, bool))


def test_highlight_keeps_selected_pixels_and_dims_the_rest(image, hist):
    green = np.zeros(len(hist), bool)
    green[entry(hist, GREEN)] = True
    pixels = selection.pixel_mask(hist, green)
    shown = selection.highlight(image.rgb, pixels, dim=0.25)
    assert shown.dtype == np.uint8 and shown.shape == image.rgb.shape
    np.testing.assert_array_equal(shown[pixels], image.rgb[pixels])
    rest = shown[~pixels].astype(int)
    assert (rest == rest[:, :1]).all()  # gray: the hue is gone
    assert np.abs(rest - 128).max() <= 0.25 * 128 + 1  # and the contrast dimmed toward middle gray
    np.testing.assert_array_equal(selection.highlight(image.rgb, pixels, dim=0)[~pixels], 128)


def test_highlight_validates_its_inputs(image):
    with pytest.raises(ValueError, match="dim"):
        selection.highlight(image.rgb, np.zeros((4, 4), bool), dim=2)
    with pytest.raises(ValueError, match="shape"):
        selection.highlight(image.rgb, np.zeros((3, 4), bool))


def test_describe_counts_colors_and_pixels(hist):
    mask = np.zeros(len(hist), bool)
    mask[[entry(hist, GREEN), entry(hist, BLUE)]] = True
    assert selection.describe(hist, mask) == "2 colors, 8 pixels (57.1 %) selected"


# --- a click on a color of a result's palette strip ------------------------------------------------


@pytest.fixture(scope="module")
def dithered():
    """A smooth gray ramp with a transparent corner, Floyd–Steinberg-dithered to 3 colors."""
    ramp = np.repeat(np.linspace(0, 255, 48)[None, :], 24, axis=0).astype(np.uint8)
    opaque = np.ones(ramp.shape, bool)
    opaque[:3, :5] = False
    image = quant.from_array(np.dstack([ramp] * 3), opaque)
    return quant.quantize(image, 3, dither="floyd-steinberg")


def strip_click(label, *rows):
    group = selection.palette_group(label)
    return {"selection": {"points": [{"legendgroup": group, "customdata": {"0": row, "1": "#000000"}} for row in rows]
                          + [{"legendgroup": selection.PIXEL_GROUP, "customdata": [7]}]}}


def test_the_rows_clicked_on_a_palette_strip():
    assert selection.palette_rows_from_event(strip_click("k-means", 2, 0, 2), "k-means") == [0, 2]
    assert selection.palette_rows_from_event(strip_click("k-means", 1), "Octree") == []  # another method's strip
    assert selection.palette_rows_from_event(None, "k-means") == []


def test_a_click_on_a_dithered_result_s_color_picks_the_pixels_shown_in_it(dithered):
    """The pixels the image shows in the color, read from the PNG, not the undithered assignment."""
    from dashboard.model import viewer
    from dashboard.model.memory import BoundedCache

    hist, palette = dithered.hist, dithered.palette
    shown = viewer.DecodedLayer(("result",), dithered.png, palette.colors, BoundedCache(10**6)).indices()
    visible = hist.pixel_index >= 0
    for row in range(len(palette.colors)):
        pixels = selection.pixels_of_palette_rows(hist, palette.labels, [row], indices=shown)
        np.testing.assert_array_equal(pixels, (dithered.indices == row) & visible)
        undithered = selection.pixels_of_palette_rows(hist, palette.labels, [row])
        assert not np.array_equal(pixels, undithered)  # dithering moved pixels between colors
    every = selection.pixels_of_palette_rows(hist, palette.labels, [0, 1, 2], indices=shown)
    np.testing.assert_array_equal(every, visible)  # and never a transparent one
    assert selection.describe_pixels(hist, every) == f"{visible.sum():,} pixels (100.0 %) selected"
    with pytest.raises(ValueError, match="shape"):
        selection.pixels_of_palette_rows(hist, palette.labels, [0], indices=shown[1:])


def test_a_chart_s_palette_marker_of_a_dithered_result_picks_the_pixels_shown_in_it(dithered):
    """Color space's and Cluster maps' markers, as the palette strip: the PNG's indices, not the labels."""
    hist, palette = dithered.hist, dithered.palette
    visible = hist.pixel_index >= 0
    asked = []

    def indices_of(label):
        asked.append(label)
        return dithered.indices if label == "dithered" else None

    labels = {"dithered": palette.labels, "undithered": palette.labels}
    for row in range(len(palette.colors)):
        picked = selection.pixels_from_event(strip_click("dithered", row), hist, labels, indices_of=indices_of)
        pixel_point = selection.pixel_mask(hist, np.arange(len(hist)) == 7)  # strip_click's pixel point
        np.testing.assert_array_equal(picked.pixels, ((dithered.indices == row) & visible) | pixel_point)
        assert picked.entries is None
        assert picked.caption(hist) == selection.describe_pixels(hist, picked.pixels) + ", as the dithered result draws them"
    assert set(asked) == {"dithered"}  # the others' pixels are never decoded for a selection without them
    # The same palette filed as undithered selects by its labels: whole colors, counted as such.
    undithered = selection.pixels_from_event(strip_click("undithered", 0), hist, labels, indices_of=indices_of)
    entries = (palette.labels == 0) | (np.arange(len(hist)) == 7)
    np.testing.assert_array_equal(undithered.entries, entries)
    np.testing.assert_array_equal(undithered.pixels, selection.pixel_mask(hist, entries))
    assert undithered.caption(hist) == selection.describe(hist, entries)
    assert selection.pixels_from_event(None, hist, labels, indices_of=indices_of) is None


def test_a_picked_palette_color_no_pixel_is_drawn_in_is_a_selection_of_no_pixel(hist):
    labels = {"k-means": np.zeros(len(hist), int)}  # every color went to row 0: row 1 draws no pixel
    picked = selection.pixels_from_event(strip_click("k-means", 1), hist, labels)  # its pixel point 7 isn't one here
    assert picked is not None and picked.caption(hist) == "0 colors, 0 pixels (0.0 %) selected"


def test_an_undithered_result_s_color_picks_its_cluster(image, hist):
    palette = quant.quantize(image, 2).palette
    pixels = selection.pixels_of_palette_rows(hist, palette.labels, [0])
    np.testing.assert_array_equal(pixels, selection.pixel_mask(hist, palette.labels == 0))
