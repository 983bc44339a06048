"""jointsr-predict on folders of real image pairs (targets and guides paired by file name) with
the shipped nir_x4 weights: every good pair written, a bad one named and skipped, a summary,
exit status 2 when a pair failed; simulate= prints per-image and mean PSNR/SSIM."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, corrupt_copy, snapshot
from conftest import require_data
from PIL import Image

from jointsr.data.io import read_image, write_image
from jointsr.functional.imresize import imresize

#: the RGB-NIR test split's images (category, id): five pairs
IMAGES = [("urban", "0004"), ("urban", "0006"), ("oldbuilding", "0018"), ("urban", "0020"), ("oldbuilding", "0030")]
#: the HR crop of each image (rows, columns): 96 x 128, a 32 x 24 LR target at x4
CROP = (slice(200, 296), slice(200, 328))
PSNR = re.compile(r"^(\S+) x4 \(128x96\): PSNR (\d+\.\d+) dB, SSIM (\d\.\d+)")
MEAN = re.compile(r"^mean of (\d+) image\(s\) x4: PSNR (\d+\.\d+) dB, SSIM (\d\.\d+)")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    """``hr/<id>.png`` (16-bit NIR crops), ``lr/<id>.png`` (their MATLAB-bicubic x4 LR, 16-bit) and
    ``rgb/<id>.png`` (the RGB guides, 8-bit), from the real RGB-NIR images."""
    data = require_data("rgbnir")
    root = tmp_path_factory.mktemp("folders")
    for category, name in IMAGES:
        nir = read_image(data / category / f"{name}_nir.tiff")[CROP]
        write_image(root / "hr" / f"{name}.png", nir, bits=16)
        lr = imresize(torch.from_numpy(nir.astype(np.float64)), scale=0.25).numpy()
        write_image(root / "lr" / f"{name}.png", lr, bits=16)
        rgb = read_image(data / category / f"{name}_rgb.tiff")[CROP]
        (root / "rgb").mkdir(exist_ok=True)
        Image.fromarray((rgb * 255).round().astype(np.uint8)).save(root / "rgb" / f"{name}.png")
    return root


def _copy(source: Path, destination: Path) -> Path:
    destination.mkdir(parents=True)
    for path in source.iterdir():
        (destination / path.name).write_bytes(path.read_bytes())
    return destination


def _script() -> str:
    script = Path(sys.executable).parent / "jointsr-predict"
    if not script.exists():
        pytest.skip("jointsr is not installed as a package (run `make install`)")
    return str(script)


@pytest.mark.slow
def test_a_folder_with_a_corrupt_target_writes_the_other_four_and_names_it(folders, tmp_path):
    """The installed command, as a user runs it (a process of its own: about 10 s, most of it
    imports): one truncated PNG among five pairs."""
    targets = _copy(folders / "lr", tmp_path / "lr")
    corrupt_copy(targets / "0018.png", "truncate")
    out = tmp_path / "sr"
    before = snapshot(tmp_path)
    result = subprocess.run([_script(), "pretrained=nir_x4", f"target={targets}", f"guide={folders / 'rgb'}",
                             f"out={out}", "device=cpu"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert sorted(path.name for path in out.iterdir()) == ["0004.png", "0006.png", "0020.png", "0030.png"]
    for path in out.iterdir():
        assert read_image(path).shape == (96, 128)
    failed = [line for line in result.stderr.splitlines() if line.startswith("jointsr-predict: failed")]
    assert len(failed) == 1 and failed[0].startswith("jointsr-predict: failed 0018: cannot read image")
    assert str(targets / "0018.png") in failed[0]
    assert result.stdout.splitlines()[-1] == f"done: 4 of 5 written to {out}; 1 failed: 0018"
    assert {key: value for key, value in snapshot(tmp_path).items() if not key.startswith("sr/")} == before


def test_a_pair_without_guide_or_of_the_wrong_size_fails_and_an_existing_result_is_kept(folders, tmp_path, cli):
    guides = _copy(folders / "rgb", tmp_path / "rgb")
    (guides / "0006.png").unlink()                                            # a target without a guide
    Image.open(folders / "rgb" / "0020.png").crop((0, 0, 120, 96)).save(guides / "0020.png")  # not x4 the target
    (guides / "extra.png").write_bytes((folders / "rgb" / "0004.png").read_bytes())  # a guide without a target
    out = tmp_path / "sr"
    out.mkdir()
    (out / "0030.png").write_bytes(b"the user's earlier result")
    result = cli("predict", "pretrained=nir_x4", f"target={folders / 'lr'}", f"guide={guides}", f"out={out}")
    assert result.code == 2, result.err[-3000:]
    failed = {line.split(":")[1].split()[-1]: line for line in result.err.splitlines()
              if line.startswith("jointsr-predict: failed")}
    assert sorted(failed) == ["0006", "0020", "0030"]
    assert "no guide named 0006." in failed["0006"] and str(guides) in failed["0006"]
    assert "120x96 (WxH) but must be x4 the target" in failed["0020"]
    assert "0030.png exists: pass overwrite=true" in failed["0030"]
    assert (out / "0030.png").read_bytes() == b"the user's earlier result"
    assert f"ignored 1 guide(s) in {guides} without a target of the same name: extra.png" in result.out
    assert sorted(path.name for path in out.iterdir()) == ["0004.png", "0018.png", "0030.png"]
    assert result.out.splitlines()[-1] == f"done: 2 of 5 written to {out}; 3 failed: 0006, 0020, 0030"

    again = cli("predict", "pretrained=nir_x4", f"target={folders / 'lr'}", f"guide={folders / 'rgb'}",
                f"out={out}", "overwrite=true")
    assert again.code == 0, again.err[-3000:]
    assert read_image(out / "0030.png").shape == (96, 128)  # replaced, as overwrite=true does for one file
    assert again.out.splitlines()[-1] == f"done: 5 of 5 written to {out}"


def test_simulate_on_a_folder_prints_each_images_and_the_mean_psnr(folders, tmp_path, cli):
    result = cli("predict", "pretrained=nir_x4", f"simulate={folders / 'hr'}", f"guide={folders / 'rgb'}")
    assert result.code == 0, result.err[-3000:]
    rows = [PSNR.match(line) for line in result.out.splitlines() if PSNR.match(line)]
    assert [row[1] for row in rows] == [name for _, name in IMAGES]
    psnrs, ssims = [float(row[2]) for row in rows], [float(row[3]) for row in rows]
    assert len(set(psnrs)) == len(psnrs) and min(psnrs) > 25  # five images, each well above noise
    mean = [MEAN.match(line) for line in result.out.splitlines() if MEAN.match(line)]
    assert len(mean) == 1 and mean[0][1] == "5"
    # the printed values are rounded (0.01 dB, 1e-4): their mean is within one rounding step of the mean's
    assert float(mean[0][2]) == pytest.approx(np.mean(psnrs), abs=0.01)
    assert float(mean[0][3]) == pytest.approx(np.mean(ssims), abs=1e-4)
    assert result.out.splitlines()[-1] == "done: 5 of 5 super-resolved (nothing written: no out=)"
    assert not list(tmp_path.rglob("*.png"))  # no out=: nothing written

    single = cli("predict", "pretrained=nir_x4", f"simulate={folders / 'hr' / '0018.png'}",
                 f"guide={folders / 'rgb' / '0018.png'}")
    assert single.code == 0, single.err[-3000:]
    one = next(line for line in single.out.splitlines() if " PSNR " in line)
    folder_line = next(line for line in result.out.splitlines() if line.startswith("0018 "))
    assert one.split(" x4 ", 1)[1] == folder_line.split(" x4 ", 1)[1]  # the same numbers as one file


@pytest.mark.parametrize("case", ["out is the target folder", "a folder and a file", "no images"])
def test_folder_inputs_that_cannot_run_are_one_line_before_any_work(folders, tmp_path, cli, case):
    lr, rgb = folders / "lr", folders / "rgb"
    empty = tmp_path / "empty"
    empty.mkdir()
    args, expect = {
        "out is the target folder": ([f"target={lr}", f"guide={rgb}", f"out={lr}"], ("is the target folder",)),
        "a folder and a file": ([f"target={lr}", f"guide={rgb / '0004.png'}", f"out={tmp_path / 'sr'}"],
                                (f"target={lr} is a folder", "not")),
        "no images": ([f"target={empty}", f"guide={rgb}", f"out={tmp_path / 'sr'}"], ("holds no images",)),
    }[case]
    before = snapshot(folders)
    assert_user_error(cli("predict", "pretrained=nir_x4", *args), *expect)
    assert snapshot(folders) == before and not (tmp_path / "sr").exists()
