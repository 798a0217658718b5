"""Your own palette, locked colors and palette order: files, the engine, the PNG and the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from cases import PALETTE_REFUSALS, encode
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from test_cli import run_clis

import quant
from quant.colorspace import to_space
from quant.kmeans import weighted_kmeans
from quant.methods import _libimagequant

PICO = np.array([[0, 0, 0], [29, 43, 83], [126, 37, 83], [0, 135, 81], [255, 241, 232], [255, 0, 77]], np.uint8)
HEX = quant.hex_colors(PICO)


@pytest.fixture(scope="module")
def image():
    return quant.sample_image()


def _plte(png: bytes, colors: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).getpalette()[: 3 * colors], np.uint8).reshape(-1, 3)


# --- reading palette files --------------------------------------------------------------------


def _palette_png() -> bytes:
    """A palette image: six entries, the last two unused, index 0 transparent."""
    picture = Image.frombytes("P", (4, 1), bytes([0, 1, 2, 3]))
    picture.putpalette(np.vstack([[9, 9, 9], PICO[:3], [1, 2, 3], PICO[1]]).astype(np.uint8).ravel().tolist())
    return encode(picture, transparency=0)


FILES = {
    "gimp.gpl": (lambda: quant.palette_gpl(PICO, "pico").encode(), PICO),
    "quant.json": (lambda: quant.palette_json(PICO, np.arange(6)).encode(), PICO),
    "hexes.json": (lambda: json.dumps(HEX).encode(), PICO),
    "triples.json": (lambda: json.dumps(PICO.tolist()).encode(), PICO),
    "objects.json": (lambda: json.dumps([{"rgb": c} for c in PICO.tolist()]).encode(), PICO),
    "codes.txt": (
        lambda: ("; brand\n# colors, one a line\n" + "\n".join(h.lstrip("#").upper() for h in HEX) + "\n").encode(),
        PICO,
    ),
    "pasted.txt": (lambda: b"#000, #1d2b53 #7e2553\n// more\n#008751 ; green\n#fff1e8,#ff004d", PICO),
    "palette.png": (_palette_png, PICO[:3]),
    "swatches.png": (lambda: encode(Image.fromarray(np.repeat(PICO[None, ::-1], 3, axis=0))), PICO[::-1]),
}


@pytest.mark.parametrize("name", FILES)
def test_palette_files_read_in_their_own_order(name, tmp_path):
    data, expected = FILES[name]
    (tmp_path / name).write_bytes(data())
    colors = quant.read_palette(tmp_path / name)
    assert colors.dtype == np.uint8
    np.testing.assert_array_equal(colors, expected)
    np.testing.assert_array_equal(quant.read_palette(data()), expected)


@pytest.mark.parametrize("name", PALETTE_REFUSALS)
def test_bad_palette_files_are_refused_with_the_line_at_fault(name, tmp_path):
    case = PALETTE_REFUSALS[name]
    (tmp_path / case.filename).write_bytes(case.data())
    with pytest.raises(quant.PaletteError, match=case.words) as refused:
        quant.read_palette(tmp_path / case.filename)
    assert "\n" not in str(refused.value)


def test_missing_palette_file_and_folder_are_refused(tmp_path):
    with pytest.raises(quant.PaletteError, match="no such file"):
        quant.read_palette(tmp_path / "nowhere.gpl")
    with pytest.raises(quant.PaletteError, match="folder"):
        quant.read_palette(tmp_path)


@settings(max_examples=40, deadline=None)
@given(
    codes=st.lists(st.integers(0, 2**24 - 1), min_size=1, max_size=256, unique=True),
    suffix=st.sampled_from(quant.palette_file.TEXT_FORMATS),
)
def test_what_quant_writes_it_reads_back_in_order(codes, suffix, tmp_path_factory):
    colors = np.array([[c >> 16, c >> 8 & 255, c & 255] for c in codes], np.uint8)
    path = tmp_path_factory.mktemp("round") / f"palette{suffix}"
    quant.write_palette(path, colors, counts=np.arange(len(colors)))
    np.testing.assert_array_equal(quant.read_palette(path), colors)


def test_colors_are_taken_as_text_lists_or_arrays():
    np.testing.assert_array_equal(quant.as_colors("#000 #ffffff"), [[0, 0, 0], [255, 255, 255]])
    np.testing.assert_array_equal(quant.as_colors(["000000", "#fff"]), [[0, 0, 0], [255, 255, 255]])
    np.testing.assert_array_equal(quant.as_colors(PICO.astype(np.int64)), PICO)
    with pytest.raises(quant.PaletteError, match="0…255"):
        quant.as_colors(np.array([[0, 0, 300]]))
    with pytest.raises(quant.PaletteError, match="color 2: '#12' is not a hex color"):
        quant.as_colors(["#000", "#12"])


# --- your own palette -------------------------------------------------------------------------


@pytest.mark.parametrize("space", list(quant.SPACES))
def test_custom_palette_maps_each_color_to_the_nearest_given_one(image, space):
    result = quant.quantize(image, palette=PICO, space=space)
    palette = result.palette
    assert palette.method == "custom" and palette.k == len(PICO) and palette.order == "given"
    np.testing.assert_array_equal(palette.colors, PICO)  # all of them, as given, used or not
    assert palette.locked is not None and palette.locked.all()
    distances = ((to_space(result.hist.colors, space)[:, None] - to_space(PICO, space)[None]) ** 2).sum(axis=2)
    np.testing.assert_allclose(distances[np.arange(len(distances)), palette.labels], distances.min(axis=1))
    np.testing.assert_array_equal(_plte(result.png, len(PICO)), PICO)


def test_custom_palette_can_be_sorted_and_takes_no_method(image):
    result = quant.quantize(image, palette=HEX, order="frequency")
    assert (np.diff(result.pixel_counts) <= 0).all()
    assert sorted(quant.hex_colors(result.palette.colors)) == sorted(HEX)
    with pytest.raises(ValueError, match="leave out method"):
        quant.prepare(image, "gmm", palette=PICO)
    with pytest.raises(ValueError, match="give k"):
        quant.prepare(image).quantize()
    with pytest.raises(ValueError, match="so k is 6: leave out k"):
        quant.quantize(image, 4, palette=PICO)
    assert quant.quantize(image, 6, palette=PICO).palette.k == 6
    with pytest.raises(ValueError, match="give them as palette="):
        quant.prepare(image, "custom")
    assert quant.get_method("custom") is quant.CUSTOM and "custom" not in quant.METHODS


def test_unused_colors_of_a_custom_palette_stay_in_the_png():
    black = quant.from_array(np.zeros((4, 4, 3), np.uint8))
    result = quant.quantize(black, palette=PICO)
    assert result.pixel_counts.tolist() == [16, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(_plte(result.png, len(PICO)), PICO)


def test_a_full_custom_palette_leaves_no_slot_for_transparency():
    rgb = np.zeros((4, 4, 3), np.uint8)
    opaque = np.ones((4, 4), bool)
    opaque[0, 0] = False
    full = np.stack([np.arange(256), np.arange(256), np.zeros(256)], axis=1).astype(np.uint8)
    with pytest.raises(ValueError, match="at most 255"):
        quant.quantize(quant.from_array(rgb, opaque), palette=full)
    assert quant.quantize(quant.from_array(rgb, opaque), palette=full[:255]).palette.colors.shape == (255, 3)


# --- locked colors ----------------------------------------------------------------------------

LOCK = np.array([[0, 0, 0], [255, 0, 255]], np.uint8)  # black, and a magenta the sample doesn't have


@pytest.mark.parametrize("method", list(quant.METHODS))
def test_every_method_keeps_the_locked_colors_and_k_counts_them(image, method):
    result = quant.quantize(image, 8, method, lock=LOCK)
    palette = result.palette
    assert len(palette.colors) <= 8
    assert palette.locked is not None and palette.locked.sum() == len(LOCK)
    np.testing.assert_array_equal(palette.colors[palette.locked], LOCK)
    assert len(np.unique(palette.colors, axis=0)) == len(palette.colors)
    assert len(palette.colors) > len(LOCK)  # the method made colors of its own too


def test_kmeans_centers_that_are_fixed_never_move():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 255, (2000, 3))
    fixed = np.array([[10.0, 10.0, 10.0], [250.0, 5.0, 5.0]])
    centers, labels = weighted_kmeans(points, np.ones(len(points)), 6, fixed=fixed)
    np.testing.assert_array_equal(centers[:2], fixed)
    assert len(centers) == 6 and labels.max() < 6
    distances = ((points[:, None] - centers[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, distances.argmin(axis=1))


def test_libimagequant_reserves_its_own_fixed_colors(image):
    palette = _libimagequant(image, 8, seed=0, max_quality=100, fixed=LOCK)
    assert len({*map(tuple, palette.tolist()), *map(tuple, LOCK.tolist())}) <= 8  # the locked ones had slots kept
    assert len(_libimagequant(image, 8, seed=0, max_quality=100)) == 8  # which, without them, it fills


def test_locking_more_colors_than_k_is_refused(image):
    with pytest.raises(ValueError, match="more than k = 2"):
        quant.quantize(image, 2, lock="#000 #fff #f00")


def test_all_colors_locked_maps_to_them(image):
    result = quant.quantize(image, 2, lock=LOCK)
    np.testing.assert_array_equal(np.sort(result.palette.colors, axis=0), np.sort(LOCK, axis=0))


def test_locked_colors_keep_their_place_when_the_image_has_few_colors():
    two = quant.from_array(np.array([[[10, 20, 30], [200, 100, 0]]], np.uint8))
    palette = quant.quantize(two, 8, lock="#ffffff", order="given").palette
    assert quant.hex_colors(palette.colors)[0] == "#ffffff" and len(palette.colors) == 3


# --- palette order ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["kmeans", "gmm", "libimagequant"])
def test_default_order_is_most_used_first_with_labels_following(image, method):
    result = quant.quantize(image, 16, method)
    counts = result.pixel_counts
    assert result.palette.order == "frequency" and (np.diff(counts) <= 0).all()
    rendered = result.rgb().reshape(-1, 3)
    codes = rendered[:, 0].astype(np.int64) << 16 | rendered[:, 1].astype(np.int64) << 8 | rendered[:, 2]
    palette_codes = quant.histogram.pack_rgb(result.palette.colors[None])[0]
    np.testing.assert_array_equal([(codes == c).sum() for c in palette_codes], counts)


def test_lightness_order_runs_dark_to_light(image):
    colors = quant.quantize(image, 16, order="lightness").palette.colors
    assert (np.diff(to_space(colors, "lab")[:, 0]) >= 0).all()


def test_hue_order_puts_grays_first_then_hue_angles_ascending():
    colors = np.array([[0, 0, 255], [128, 128, 128], [255, 0, 0], [0, 200, 0], [20, 20, 20], [255, 255, 0]], np.uint8)
    order = quant.order_colors(colors, np.ones(len(colors)), "hue")
    assert quant.hex_colors(colors[order]) == ["#141414", "#808080", "#ff0000", "#ffff00", "#00c800", "#0000ff"]


def test_ties_fall_to_the_lower_rgb_code():
    colors = np.array([[9, 0, 0], [1, 0, 0], [5, 0, 0]], np.uint8)
    np.testing.assert_array_equal(quant.order_colors(colors, np.array([3, 3, 7]), "frequency"), [2, 1, 0])


@pytest.mark.parametrize("order", quant.ORDERS)
def test_png_gpl_and_json_follow_the_palette_order(image, order):
    result = quant.quantize(image, 12, lock="#ffffff", order=order, seed=1)
    colors = result.palette.colors
    np.testing.assert_array_equal(_plte(result.png, len(colors)), colors)
    np.testing.assert_array_equal(quant.read_palette(quant.palette_gpl(colors).encode()), colors)
    np.testing.assert_array_equal(quant.read_palette(quant.palette_json(colors).encode()), colors)
    if order == "given":
        assert quant.hex_colors(colors)[0] == "#ffffff"


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 3),
    k=st.integers(3, 24),
    order=st.sampled_from(quant.ORDERS),
    method=st.sampled_from(["kmeans", "kmeans-sklearn", "median-cut"]),
)
def test_same_settings_give_the_same_palette_and_labels(image, seed, k, order, method):
    prepared = quant.prepare(image, method, lock=LOCK[:1], order=order)
    first, again = prepared.quantize(k, seed=seed), prepared.quantize(k, seed=seed)
    np.testing.assert_array_equal(first.palette.colors, again.palette.colors)
    np.testing.assert_array_equal(first.indices, again.indices)
    assert first.png == again.png


# --- the CLI ----------------------------------------------------------------------------------


def test_cli_palette_lock_and_sort(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "photo.png")
    (tmp_path / "pico.gpl").write_text(quant.palette_gpl(PICO, "pico"))
    frames = [Image.fromarray(np.full((6, 6, 3), color, np.uint8)) for color in ([200, 9, 9], [9, 200, 9])]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    custom, locked, lightness, animated = run_clis(
        [
            ("photo.png", "--palette", "pico.gpl", "-o", "custom.png", "--json"),
            ("photo.png", "-k", "8", "--lock", "#000000, ff00ff", "-o", "locked.png", "--method", "gmm"),
            ("photo.png", "-k", "8", "--sort", "lightness", "-o", "light.png"),
            ("anim.gif", "--frames", "all", "--palette", "pico.gpl", "-o", "anim.out.gif"),
        ],
        cwd=tmp_path,
    )
    for done in (custom, locked, lightness, animated):
        assert done.returncode == 0, done.stderr
    gif = Image.open(tmp_path / "anim.out.gif")
    np.testing.assert_array_equal(np.asarray(gif.getpalette()[: 3 * len(PICO)], np.uint8).reshape(-1, 3), PICO)
    report = json.loads(custom.stdout)
    assert report["method"] == "custom" and report["k"] == len(PICO)
    np.testing.assert_array_equal(_plte((tmp_path / "custom.png").read_bytes(), len(PICO)), PICO)
    plte = Image.open(tmp_path / "locked.png").getpalette()
    assert {"#000000", "#ff00ff"} <= set(quant.hex_colors(np.asarray(plte, np.uint8).reshape(-1, 3)))
    picture = Image.open(tmp_path / "light.png")
    used = len(picture.getcolors())
    colors = np.asarray(picture.getpalette()[: 3 * used], np.uint8).reshape(-1, 3)
    assert (np.diff(to_space(colors, "lab")[:, 0]) >= 0).all()


def test_cli_bad_palette_or_lock_is_a_usage_error_before_any_work(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "photo.png")
    case = PALETTE_REFUSALS["bad hex"]
    (tmp_path / case.filename).write_bytes(case.data())
    runs = run_clis(
        [
            ("photo.png", "--palette", case.filename, "-o", "out/"),
            ("photo.png", "--palette", "missing.gpl", "-o", "out/"),
            ("photo.png", "--lock", "#000000,#zz0000", "-o", "out/"),
            ("photo.png", "-k", "2", "--lock", "#000,#fff,#f00", "-o", "out/"),
            ("photo.png", "--palette", case.filename, "--lock", "#000", "-o", "out/"),
        ],
        cwd=tmp_path,
    )
    assert all(done.returncode == 2 for done in runs), [done.stderr for done in runs]
    bad_file, missing = runs[0].stderr.strip(), runs[1].stderr.strip()
    assert bad_file.count("\n") == 0 and bad_file.startswith(f"quant: {case.filename}: line 2: '#12345g'")
    assert missing == "quant: missing.gpl: no such file (nothing was written)"
    assert "color 2: '#zz0000' is not a hex color" in runs[2].stderr
    assert "more than -k 2" in runs[3].stderr
    assert "--palette" in runs[4].stderr.splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_list_methods_says_how_each_honors_locked_colors():
    (done,) = run_clis([("--list-methods",)], cwd=".")
    assert done.stdout.count("[--lock: ") == len(quant.METHODS)
    assert "never move" in done.stdout and "liq_image_add_fixed_color" in done.stdout


def test_a_shared_palette_keeps_locked_colors_in_the_order_asked(tmp_path, photo):
    from quant import batch

    for seed in range(2):
        Image.fromarray(photo[:: 1 - 2 * seed]).save(tmp_path / f"im{seed}.png")
    options = batch.Options(k=8, lock=("#000000", "#ff00ff"), order="lightness")
    jobs = [
        batch.Job(f"im{s}.png", str(tmp_path / f"im{s}.png"), str(tmp_path / f"out{s}.png"), options) for s in range(2)
    ]
    palette, errors = batch.shared_palette_in_process(jobs, options)
    assert not errors and palette is not None and len(palette) == 8
    assert {"#000000", "#ff00ff"} <= set(quant.hex_colors(palette))
    assert (np.diff(to_space(palette, "lab")[:, 0]) >= 0).all()
    records = list(batch.run_in_process(jobs, palette))
    assert [r["lock"] for r in records] == [["#000000", "#ff00ff"]] * 2 and records[0]["order"] == "lightness"
    for s in range(2):
        np.testing.assert_array_equal(_plte((tmp_path / f"out{s}.png").read_bytes(), 8), palette)


def test_the_manifest_tells_runs_with_other_palette_settings_apart():
    from quant import batch

    job = batch.Job("a.png", "/a.png", "/out/a.png", batch.Options())
    plain = batch.Manifest.key(batch.failed_record(job, None))
    for changed in ({"lock": ("#000000",)}, {"order": "hue"}, {"palette": ("#000000", "#ffffff")}):
        other = batch.Job("a.png", "/a.png", "/out/a.png", batch.Options(**changed))
        assert batch.Manifest.key(batch.failed_record(other, None)) != plain
