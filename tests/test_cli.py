"""`python -m quant`, run as a user would: in a subprocess, on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd) -> subprocess.CompletedProcess:
    return run_clis([args], cwd=cwd)[0]


def run_clis(calls, cwd) -> list[subprocess.CompletedProcess]:
    """Several independent CLI runs at once: each spends most of its time starting up on one core."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands = [[sys.executable, "-m", "quant", *map(str, args)] for args in calls]
    running = [subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for command in commands]
    done = []
    for command, process in zip(commands, running):
        stdout, stderr = process.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(command, process.returncode, stdout, stderr))
    return done


@pytest.fixture()
def images(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "photo.png")
    Image.fromarray(photo[::-1]).save(tmp_path / "flipped.jpg", quality=95)
    (tmp_path / "garbage.png").write_bytes(os.urandom(2000))
    (tmp_path / "empty.jpg").write_bytes(b"")
    return tmp_path


def test_default_output_sits_next_to_the_input(images):
    done = run_cli(images / "photo.png", "-k", "8", cwd=images)
    assert done.returncode == 0, done.stderr
    output = images / "photo.k8.kmeans.png"
    decoded = Image.open(output)
    assert decoded.mode == "P" and decoded.size == (128, 96)
    assert len(decoded.getcolors()) <= 8
    assert "photo.k8.kmeans.png" in done.stdout


def test_json_reports_every_key(images):
    done = run_cli(images / "photo.png", images / "flipped.jpg", "-k", "16", "--method", "gmm",
                   "-o", images / "out", "--json", "--metrics", "all", cwd=images)
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert [Path(r["input"]).name for r in reports] == ["photo.png", "flipped.jpg"]
    for report in reports:
        assert set(report) == {"input", "output", "method", "k", "colors", "ssim", "psnr", "delta_e", "blurred_delta_e",
                               "bytes", "seconds"}
        assert report["method"] == "gmm" and report["k"] == 16
        assert 1 <= report["colors"] <= 16
        assert 0 < report["ssim"] <= 1 and report["delta_e"] > 0
        assert Path(report["output"]).stat().st_size == report["bytes"]
        assert Path(report["output"]).parent == images / "out"


def test_only_the_metrics_asked_for_are_reported(images):
    plain = run_cli(images / "photo.png", "-k", "8", "--json", cwd=images)
    assert plain.returncode == 0, plain.stderr
    assert not {"ssim", "psnr", "delta_e"} & set(json.loads(plain.stdout))
    some = run_cli(images / "photo.png", "-k", "8", "--metrics", "ssim,delta_e", cwd=images)
    assert some.returncode == 0, some.stderr
    assert "SSIM 0." in some.stdout and "ΔE2000" in some.stdout and "PSNR" not in some.stdout
    bad = run_cli(images / "photo.png", "--metrics", "ssim,sharpness", cwd=images)
    assert bad.returncode == 2 and "unknown metric sharpness" in bad.stderr


def test_seeds_outside_the_range_are_a_usage_error(images):
    for seed in ("-1", "4294967296"):
        done = run_cli(images / "photo.png", "--seed", seed, cwd=images)
        assert done.returncode == 2 and "--seed must be from 0 to 4294967295" in done.stderr


def test_outputs_follow_the_umask_and_a_replaced_file_keeps_its_mode(images):
    target = images / "out.png"
    done = run_cli(images / "photo.png", "-k", "4", "-o", target, cwd=images)
    assert done.returncode == 0, done.stderr
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)
    assert run_cli(images / "photo.png", "-k", "8", "-o", target, cwd=images).returncode == 0
    assert target.stat().st_mode & 0o777 == 0o640


def test_single_output_file(images):
    done = run_cli(images / "photo.png", "-k", "4", "-o", images / "small.png", cwd=images)
    assert done.returncode == 0, done.stderr
    assert len(Image.open(images / "small.png").getcolors()) <= 4


def test_bad_files_get_one_line_each_and_the_rest_are_processed(images):
    done = run_cli(images / "garbage.png", images / "photo.png", images / "empty.jpg",
                   images / "missing.webp", "--json", cwd=images)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3
    assert "garbage.png" in lines[0] and "not a recognised image" in lines[0]
    assert "empty.jpg" in lines[1] and "empty" in lines[1]
    assert "missing.webp" in lines[2] and "no such file" in lines[2]
    assert json.loads(done.stdout)["input"].endswith("photo.png")
    assert (images / "photo.k16.kmeans.png").exists()


def test_never_overwrites_an_input(images):
    before = (images / "photo.png").read_bytes()
    done = run_cli(images / "photo.png", "-o", images / "photo.png", cwd=images)
    assert done.returncode == 1
    assert "overwrite" in done.stderr
    assert (images / "photo.png").read_bytes() == before


def test_usage_errors_exit_with_2(images):
    bad_k, bad_method, nothing = run_clis([(images / "photo.png", "-k", "999"),
                                           (images / "photo.png", "--method", "nope"), ()], cwd=images)
    assert bad_k.returncode == 2
    assert bad_method.returncode == 2
    assert nothing.returncode == 2


def test_list_methods_names_every_registry_entry(images):
    import quant

    done = run_cli("--list-methods", cwd=images)
    assert done.returncode == 0
    for name, method in quant.METHODS.items():
        assert name in done.stdout and method.description in done.stdout


def test_same_seed_same_file(images):
    run_clis([(images / "photo.png", "--method", "gmm", "--seed", "5", "-o", images / name)
              for name in ("a.png", "b.png")], cwd=images)
    a = np.asarray(Image.open(images / "a.png").convert("RGB"))
    b = np.asarray(Image.open(images / "b.png").convert("RGB"))
    np.testing.assert_array_equal(a, b)


def test_transparent_input_keeps_transparency(images):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[2:8, 2:8] = [200, 40, 40, 255]
    rgba[4:6, 4:6] = [20, 40, 200, 255]
    Image.fromarray(rgba, "RGBA").save(images / "logo.png")
    done = run_cli(images / "logo.png", "-k", "256", "--json", cwd=images)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["colors"] == 2
    out = np.asarray(Image.open(images / "logo.k256.kmeans.png").convert("RGBA"))
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(out[rgba[..., 3] > 0], rgba[rgba[..., 3] > 0])


def test_two_inputs_with_one_output_name_are_refused_before_any_work(images):
    (images / "a").mkdir()
    (images / "b").mkdir()
    for folder in ("a", "b"):
        (images / folder / "pic.png").write_bytes((images / "photo.png").read_bytes())
    done = run_cli("a/pic.png", "b/pic.png", "photo.png", "-k", "4", "-o", "out", cwd=images)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"quant: a/pic.png and b/pic.png would both be written to {images / 'out' / 'pic.k4.kmeans.png'}; "
        "write them to separate folders or rename one (nothing was written)"
    ]
    assert not (images / "out").exists()
    (images / "photo.jpg").write_bytes((images / "flipped.jpg").read_bytes())  # same stem, same folder
    assert run_cli("photo.png", "photo.jpg", "-k", "4", cwd=images).returncode == 2


def test_an_output_ending_in_a_slash_is_a_folder(images):
    done = run_cli(images / "photo.png", "-k", "4", "-o", "newdir/", cwd=images)
    assert done.returncode == 0, done.stderr
    assert (images / "newdir" / "photo.k4.kmeans.png").is_file()


@pytest.mark.parametrize("args, words", [
    (["-o", "out.jpg"], "must end in .png"),
    (["--max-pixels", "-1"], "--max-pixels must be a positive"),
])
def test_usage_errors(images, args, words):
    done = run_cli(images / "photo.png", *args, cwd=images)
    assert done.returncode == 2 and words in done.stderr


def test_a_file_named_like_a_sample_is_a_file(images):
    (images / "sample:mine.png").write_bytes((images / "photo.png").read_bytes())
    done = run_cli("sample:mine.png", "-k", "4", "--json", cwd=images)
    assert done.returncode == 0, done.stderr
    assert Image.open(images / "sample:mine.k4.kmeans.png").size == (128, 96)  # the file, not the sample


@pytest.mark.parametrize("args, words", [
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--resume"], "--resume reads OUT/manifest.jsonl: give -o OUT, a folder"),
    (["--resume", "-o", "one.png"], "--resume reads OUT/manifest.jsonl"),
    (["--shared-palette", "--method", "libimagequant", "-o", "out/"], "libimagequant is a baseline"),
])
def test_batch_usage_errors(images, args, words):
    done = run_cli(images / "photo.png", *args, cwd=images)
    assert done.returncode == 2 and words in done.stderr, done.stderr


def test_a_folder_needs_an_output_folder_and_one_file_keeps_its_old_output(images):
    (images / "tree" / "sub").mkdir(parents=True)
    (images / "tree" / "sub" / "pic.png").write_bytes((images / "photo.png").read_bytes())
    refused = run_cli("tree", cwd=images)
    assert refused.returncode == 2 and "tree is a folder: give -o OUT" in refused.stderr
    done = run_cli("tree", "-o", "mirror", "-k", "4", "--jobs", "1", cwd=images)
    assert done.returncode == 0, done.stderr
    assert (images / "mirror" / "sub" / "pic.k4.kmeans.png").is_file()
    assert json.loads((images / "mirror" / "manifest.jsonl").read_text())["worker"] == "local"
