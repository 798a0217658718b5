"""The bad-input matrix (tests/cases.py) through the engine and the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

import quant
from cases import AWKWARD, REFUSALS, RGBA_HOLE
from test_cli import run_cli


@pytest.mark.parametrize("name", REFUSALS)
def test_engine_refuses_with_a_clear_message(name):
    case = REFUSALS[name]
    with pytest.raises(quant.ImageError, match=case.words):
        quant.load_image(case.data())


@pytest.mark.parametrize("name", AWKWARD)
def test_engine_loads_awkward_inputs_right(name):
    AWKWARD[name].check(quant.load_image(AWKWARD[name].data()))


@pytest.mark.parametrize("name", AWKWARD)
@pytest.mark.parametrize("method", ["kmeans", "gmm", "agglomerative", "spectral", "libimagequant"])
def test_every_awkward_input_quantizes(name, method):
    case = AWKWARD[name]
    image = quant.load_image(case.data())
    result = quant.quantize(image, 256 if case.colors else 4, method)
    assert result.indices.shape == image.rgb.shape[:2]
    if case.colors:
        assert len(result.palette.colors) == case.colors
        visible = image.opaque if image.opaque is not None else np.ones(image.rgb.shape[:2], bool)
        np.testing.assert_array_equal(result.rgb()[visible], image.rgb[visible])


def test_transparent_pixels_are_not_a_color_and_stay_transparent():
    image = quant.load_image(AWKWARD["RGBA with holes"].data())
    result = quant.quantize(image, 8)
    hist = quant.build_histogram(image)
    assert hist.total == int((RGBA_HOLE[..., 3] > 0).sum())
    decoded = np.asarray(Image.open(io.BytesIO(quant.png_bytes(result.indices, result.palette.colors))).convert("RGBA"))
    np.testing.assert_array_equal(decoded[..., 3] > 0, RGBA_HOLE[..., 3] > 0)
    assert len(result.palette.colors) <= 8


def test_cli_runs_the_whole_matrix_in_one_call(tmp_path):
    """Every refusal gets one stderr line naming its file; every awkward file gets an output."""
    for case in [*REFUSALS.values(), *AWKWARD.values()]:
        (tmp_path / case.filename).write_bytes(case.data())
    names = [case.filename for case in [*REFUSALS.values(), *AWKWARD.values()]]
    done = run_cli(*names, "-k", "8", "--json", "-o", tmp_path / "out", cwd=tmp_path)

    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if ": note: " not in line]
    assert len(errors) == len(REFUSALS)
    for line, case in zip(errors, REFUSALS.values()):
        assert line.startswith(f"quant: {case.filename}: ")
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["input"] for r in reports] == [case.filename for case in AWKWARD.values()]
    for report in reports:
        assert Image.open(report["output"]).mode == "P"
    assert "anim.gif: note: animated GIF: using the first of its 3 frames" in done.stderr
