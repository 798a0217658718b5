"""No silent wrong output and no obscure error: the API refuses what it can't use, naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

import quant
from quant import cli


# --- opacity masks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mask",
    [lambda m: m, lambda m: m.astype(np.uint8), lambda m: m.astype(np.uint8) * 255, lambda m: m.astype(int)],
    ids=["bool", "0/1 uint8", "0/255 uint8", "0/1 int"],
)
def test_an_opacity_mask_is_read_as_a_mask_whatever_its_integer_kind(photo, mask):
    visible = np.indices(photo.shape[:2])[0] % 4 == 0  # a quarter of the rows
    image = quant.from_array(photo, mask(visible))
    np.testing.assert_array_equal(image.opaque, visible)
    result = quant.quantize(image, 4)
    assert (result.indices == len(result.palette.colors)).sum() == (~visible).sum()


@pytest.mark.parametrize(
    "opaque, words",
    [
        (lambda m: m.T, "H×W mask of shape"),
        (lambda m: m.ravel(), "H×W mask of shape"),
        (lambda m: m.astype(np.uint8) * 7, "0/1 or 0/255"),
        (lambda m: m.astype(float), "boolean mask"),
    ],
    ids=["transposed", "flat", "0/7", "float"],
)
def test_a_mask_that_is_not_a_mask_is_refused(photo, opaque, words):
    visible = np.indices(photo.shape[:2])[1] % 2 == 0
    with pytest.raises(quant.ImageError, match=words):
        quant.from_array(photo, opaque(visible))


def test_a_list_mask_is_accepted(photo):
    visible = (np.indices(photo.shape[:2])[1] % 2 == 0).tolist()
    assert quant.from_array(photo, visible).visible_count == photo.shape[0] * photo.shape[1] // 2


# --- arguments that are not what they should be ----------------------------------------------


def test_quantize_names_the_image_argument(photo):
    with pytest.raises(TypeError, match="image must be a quant.LoadedImage, not ndarray.*from_array"):
        quant.quantize(photo, 8)


@pytest.mark.parametrize("source", [None, 123, np.zeros((4, 4, 3), np.uint8)], ids=["None", "int", "ndarray"])
def test_load_image_names_the_source_argument(source):
    with pytest.raises(TypeError, match="source must be bytes, a path or a binary file object"):
        quant.load_image(source)


@pytest.mark.parametrize("limit", [None, 0, -1, 2.5])
def test_load_image_names_max_pixels(limit):
    with pytest.raises(TypeError, match="max_pixels must be a positive integer"):
        quant.load_image(b"x", max_pixels=limit)


def test_a_float_image_is_refused_by_the_histogram(photo):
    floating = quant.LoadedImage(photo.astype(np.float64))
    with pytest.raises(TypeError, match="image.rgb must be an H×W×3 uint8 array"):
        quant.build_histogram(floating)


def test_png_bytes_refuses_indices_outside_the_palette():
    colors = np.zeros((44, 3), np.uint8)
    with pytest.raises(ValueError, match="indices must lie in 0…44"):
        quant.png_bytes(np.full((2, 2), 300), colors)
    quant.png_bytes(np.full((2, 2), 44), colors)  # the transparent slot is fine


# --- the CLI's edges, in process ------------------------------------------------------------


def test_a_write_that_fails_names_the_output_not_the_temporary_file(tmp_path, monkeypatch, capsys):
    def disk_full(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.os, "replace", disk_full)
    assert cli.main(["--sample", "-k", "4", "-o", str(tmp_path / "out.png")]) == 1
    error = capsys.readouterr().err.strip()
    assert error == f"quant: sample:chelsea: cannot write {tmp_path / 'out.png'}: No space left on device"
    assert list(tmp_path.iterdir()) == []  # no partial file either


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, monkeypatch, capsys):
    def interrupted(*_, **__):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "quantize", interrupted)
    assert cli.main(["--sample", "-o", str(tmp_path / "out.png")]) == 130
    assert capsys.readouterr().err == "quant: interrupted\n"
    assert list(tmp_path.iterdir()) == []
