"""Hostile inputs against every command: each case asserts exit status 2, one error line that
names the problem, no traceback, nothing written, and the inputs unchanged.

The commands run in this process through their real ``main`` (Hydra, the error reporting
and the exit status included); ``test_console_scripts_*`` run a few as real processes.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import (
    assert_user_error,
    corrupt_copy,
    linked_dataset,
    malicious_checkpoint,
    run_folder_files,
    run_main,
    snapshot,
)
from conftest import compose_config, require_data
from PIL import Image

from jointsr.data.io import read_image, write_image
from jointsr.functional.imresize import imresize, modcrop

TINY = ["model.net.k=8", "model.net.K=3", "logger=csv"]
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run folder of a real (tiny, 2-step) jointsr-train: checkpoints/last.ckpt, x4, luminance guide."""
    require_data("rgbnir")
    from hydra.core.global_hydra import GlobalHydra

    from jointsr.cli.train import train

    run = tmp_path_factory.mktemp("trained")
    cfg = compose_config("train", TINY + ["debug=fast", "trainer.max_steps=2", "trainer.val_check_interval=2",
                                          "test=false", "data.progress=false"], run)
    train(cfg)
    GlobalHydra.instance().clear()
    return run


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    """A real LR NIR target (16-bit PNG, 24x20) and its x4 RGB guide (96x80)."""
    data = require_data("rgbnir")
    folder = tmp_path_factory.mktemp("pair")
    nir = modcrop(read_image(data / "urban" / "0004_nir.tiff"), 4)[200:280, 300:396]
    lr = imresize(torch.from_numpy(nir.astype(np.float64)), scale=0.25).numpy()
    target = write_image(folder / "nir_lr.png", lr, bits=16)
    rgb = (read_image(data / "urban" / "0004_rgb.tiff")[200:280, 300:396] * 255).round().astype(np.uint8)
    guide = folder / "rgb_hr.png"
    Image.fromarray(rgb).save(guide)
    return target, guide


def predict_args(ckpt, target, guide, out, *extra) -> list[str]:
    return [f"ckpt_path={ckpt}", f"target={target}", f"guide={guide}", f"out={out}", *extra]


# ---------------------------------------------------------------------------------------- predict
@pytest.fixture
def predict_case(trained, pair, tmp_path, cli):
    """Runs jointsr-predict and checks that the inputs and the folder are unchanged."""
    target, guide = pair
    work = tmp_path / "work"
    work.mkdir()

    def run(*, expect: tuple[str, ...], ckpt=None, target_path=None, guide_path=None, out=None, extra=()):
        watched = [p for p in (target_path or target, guide_path or guide, ckpt or trained / "checkpoints/last.ckpt")
                   if Path(p).is_file()]
        before = {p: Path(p).read_bytes() for p in watched}
        folder_before = snapshot(work)
        result = cli("predict", *predict_args(ckpt or trained / "checkpoints" / "last.ckpt", target_path or target,
                                              guide_path or guide, out or work / "sr.png", *extra))
        line = assert_user_error(result, *expect)
        assert {p: Path(p).read_bytes() for p in watched} == before, "an input changed"
        assert snapshot(work) == folder_before, "a file was written"
        return line

    run.work = work
    return run


@pytest.mark.slow
def test_predict_refuses_an_existing_output_without_overwrite(predict_case):
    existing = predict_case.work / "sr.png"
    existing.write_bytes(b"the user's earlier result")
    predict_case(expect=("exists", "overwrite=true"), out=existing)
    assert existing.read_bytes() == b"the user's earlier result"


@pytest.mark.parametrize("which", ["target", "guide"])
def test_predict_never_writes_over_an_input_even_with_overwrite(predict_case, pair, which):
    target, guide = pair
    victim = target if which == "target" else guide
    spelled = victim.parent / ".." / victim.parent.name / victim.name  # another spelling of the same file
    predict_case(expect=(f"is the {which} file",), out=spelled, extra=("overwrite=true",))


def test_predict_refuses_a_non_png_output_before_inference(predict_case):
    predict_case(expect=(".png",), out=predict_case.work / "sr.jpg")


def test_predict_refuses_bits_other_than_8_or_16(predict_case):
    predict_case(expect=("bits=12", "8 or 16"), extra=("bits=12",))


@pytest.mark.parametrize("override,expected_type", [("bits=sixteen", "Integer"), ("overwrite=maybe", "bool"),
                                                    ("tile=big", "Integer"), ("max_memory_gb=lots", "Float")])
def test_predict_refuses_a_value_of_the_wrong_type_when_composing(predict_case, override, expected_type):
    """conf/predict.yaml is typed (jointsr/configs.py): the key, the value and the type it must have."""
    predict_case(expect=(override, expected_type), extra=(override,))


def test_predict_refuses_an_output_inside_a_file(predict_case):
    blocker = predict_case.work / "not_a_folder"
    blocker.write_text("x")
    predict_case(expect=("cannot write",), out=blocker / "sr.png")


@NO_GPU
def test_predict_device_cuda_without_a_gpu(predict_case):
    predict_case(expect=("device=cuda", "no CUDA GPU", "device=cpu"), extra=("device=cuda",))


def test_predict_unknown_device(predict_case):
    predict_case(expect=("device='tpu'", "auto | cpu | cuda"), extra=("device=tpu",))


def test_predict_missing_checkpoint(predict_case):
    predict_case(expect=("checkpoint not found",), ckpt=predict_case.work.parent / "nowhere.ckpt")


@pytest.mark.parametrize("content,reason", [(b"", "empty"), (b"hello, I am text\n", "not a PyTorch file")])
def test_predict_a_file_that_is_not_a_checkpoint(predict_case, tmp_path, content, reason):
    fake = tmp_path / "fake.ckpt"
    fake.write_bytes(content)
    predict_case(expect=("not a checkpoint of jointsr-train", reason), ckpt=fake)


def test_predict_a_checkpoint_without_model_config(predict_case, trained, tmp_path):
    bare = tmp_path / "bare.ckpt"
    checkpoint = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    torch.save({"state_dict": checkpoint["state_dict"]}, bare)
    predict_case(expect=("holds no jointsr model config",), ckpt=bare)


def test_predict_a_checkpoint_whose_config_names_a_dangerous_target(predict_case, trained, tmp_path):
    crafted = tmp_path / "crafted.ckpt"
    marker = tmp_path / "marker"
    checkpoint = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["jointsr"]["model_cfg"]["net"] = {"_target_": "os.system", "command": f"touch {marker}"}
    torch.save(checkpoint, crafted)  # plain strings: weights_only accepts it; instantiating would not
    predict_case(expect=("not a trusted checkpoint", "os.system"), ckpt=crafted)
    assert not marker.exists()


def test_predict_colour_palette_target(predict_case, tmp_path):
    colours = (np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)
    palette = tmp_path / "palette.png"
    Image.fromarray(colours).convert("P", palette=Image.ADAPTIVE).save(palette)
    predict_case(expect=("single-channel", "colour"), target_path=palette)


def test_predict_cmyk_target(predict_case, tmp_path):
    cmyk = tmp_path / "cmyk.jpg"
    Image.fromarray(np.zeros((20, 24, 3), np.uint8)).convert("CMYK").save(cmyk)
    predict_case(expect=("CMYK",), target_path=cmyk)


@pytest.mark.parametrize("how", ["truncate", "empty"])
def test_predict_broken_target_image(predict_case, pair, tmp_path, how):
    broken = tmp_path / f"{how}.png"
    broken.write_bytes(pair[0].read_bytes())
    corrupt_copy(broken, how)
    predict_case(expect=(str(broken),), target_path=broken)


def test_predict_float_target_out_of_range(predict_case, tmp_path):
    floats = tmp_path / "metres.npy"
    np.save(floats, np.full((20, 24), 3.5, np.float32))
    predict_case(expect=("[0, 1]", "3.5"), target_path=floats)


def test_predict_guide_of_the_wrong_size(predict_case, pair, tmp_path):
    small = tmp_path / "small_guide.png"
    Image.open(pair[1]).crop((0, 0, 64, 64)).save(small)
    predict_case(expect=("must be x4 the target",), guide_path=small)


def test_predict_unknown_geometry(predict_case):
    predict_case(expect=("geometry='stretch'", "auto | crop | resample"), extra=("geometry=stretch",))


def test_predict_a_guide_too_small_to_crop(predict_case, pair, tmp_path):
    narrow = tmp_path / "narrow_guide.png"
    Image.open(pair[1]).crop((0, 0, 94, 80)).save(narrow)  # x4 of 24x20 is 96x80: resampled by default
    predict_case(expect=("narrow_guide.png is 94x80", "96x80", "geometry=crop"), guide_path=narrow,
                 extra=("geometry=crop",))


def test_predict_missing_target(predict_case, tmp_path):
    predict_case(expect=("image file not found",), target_path=tmp_path / "nowhere.png")


def test_predict_refuses_what_will_not_fit_in_memory(predict_case):
    line = predict_case(expect=("needs about", "GB", "tiles"), extra=("max_memory_gb=0.000001",))
    assert "24x20 target at x4 (96x80)" in line


def test_predict_without_out(trained, pair, cli):
    target, guide = pair
    result = cli("predict", f"ckpt_path={trained / 'checkpoints' / 'last.ckpt'}", f"target={target}",
                 f"guide={guide}")
    assert_user_error(result, "out")


def test_predict_accepts_what_it_documents(trained, pair, tmp_path, cli):
    """The documented conversions work: a float .npy target, a grey palette target, overwrite=true."""
    target, guide = pair
    floats = tmp_path / "target.npy"
    np.save(floats, read_image(target))
    out = tmp_path / "sr.png"
    ckpt = trained / "checkpoints" / "last.ckpt"
    assert cli("predict", *predict_args(ckpt, floats, guide, out)).code == 0
    reference = read_image(out)
    grey_palette = tmp_path / "target_palette.png"
    Image.fromarray((read_image(target) * 255).round().astype(np.uint8)).convert("P").save(grey_palette)
    assert cli("predict", *predict_args(ckpt, grey_palette, guide, out, "overwrite=true")).code == 0
    assert np.abs(read_image(out) - reference).max() < 0.01  # 8-bit palette vs 16-bit floats
    assert not list(tmp_path.glob("*.partial*"))


# ---------------------------------------------------------------------------------------- eval
def test_eval_checkpoint_without_model_config_is_refused_not_guessed(trained, tmp_path, cli):
    bare = tmp_path / "bare.ckpt"
    torch.save({"state_dict": torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]},
               bare)
    result = cli("eval", f"ckpt_path={bare}", "logger=csv")
    assert_user_error(result, "holds no jointsr model config")
    assert run_folder_files(tmp_path / "run") == []


def test_eval_checkpoint_of_another_scale(trained, cli):
    result = cli("eval", f"ckpt_path={trained / 'checkpoints' / 'last.ckpt'}", "scale=x2", "logger=csv")
    assert_user_error(result, "x4 model but scale=x2", "scale=x4")


def test_eval_trainable_model_without_checkpoint(cli):
    assert_user_error(cli("eval", "model=jointsr", "logger=csv"), "model=jointsr", "ckpt_path=")


def test_eval_empty_curve_dir(tmp_path, cli):
    (tmp_path / "curve").mkdir()
    assert_user_error(cli("eval", f"curve_dir={tmp_path / 'curve'}", "logger=csv"), "no minutes", "callbacks=curve")


def test_eval_unknown_dataset_config(cli):
    result = cli("eval", "data=imagenet")
    assert result.code != 0 and "Traceback" not in result.err
    assert "imagenet" in result.err


def test_eval_missing_dataset_names_the_folder(tmp_path, cli):
    (tmp_path / "empty").mkdir()
    result = cli("eval", "data=cave", f"paths.data_dir={tmp_path / 'empty'}", "logger=csv")
    assert_user_error(result, "file(s) missing", "JOINTSR_DATA_DIR")


def test_eval_bit_flipped_test_image_fails_its_checksum(tmp_path, cli):
    require_data("cave")
    data = linked_dataset(tmp_path / "data", "cave")
    corrupt_copy(data / "cave" / "paints" / "paints_RGB.bmp", "flip")
    result = cli("eval", "data=cave", f"paths.data_dir={data}", "logger=csv")
    assert_user_error(result, "paints_RGB.bmp does not match its SHA-256", "SHA256SUMS")
    assert run_folder_files(tmp_path / "run") == []


def test_eval_truncated_test_image_is_named_before_any_test(tmp_path, cli):
    require_data("cave")
    data = linked_dataset(tmp_path / "data", "cave")
    (data / "SHA256SUMS").unlink()  # no checksums: the decoder must find it
    corrupt_copy(data / "cave" / "jelly_beans" / "jelly_beans_ms_25.png", "truncate")
    result = cli("eval", "data=cave", f"paths.data_dir={data}", "logger=csv")
    assert_user_error(result, "jelly_beans_ms_25.png", "truncated")
    assert run_folder_files(tmp_path / "run") == []


# ---------------------------------------------------------------------------------------- train
@pytest.mark.parametrize("override,fragments", [
    ("model.net.k=0", ("model.net", "k=0")),
    ("model.net.K=-1", ("model.net", "K=-1")),
    ("data.batch_size=0", ("data.batch_size=0", ">= 1")),
    ("data.patch_size=45", ("data.patch_size=45", "scale=4")),
    ("seed=-1", ("seed=-1", ">= 0")),
    ("data.degradation.noise_sigma=-1", ("noise_sigma=-1", ">= 0")),
    ("data.dataset.band=99", ("band must be 1..31",)),
    ("+model.net.bogus=1", ("model.net", "bogus")),
])
def test_train_refuses_bad_config_values_before_reading_data(override, fragments, tmp_path, cli):
    data = "data=cave" if "band" in override else "data=rgbnir"
    result = cli("train", *TINY, data, override)
    assert_user_error(result, *fragments)
    assert run_folder_files(tmp_path / "run") == [] and not (tmp_path / "cache").exists()


@NO_GPU
def test_train_on_a_gpu_without_one(tmp_path, cli):
    assert_user_error(cli("train", *TINY, "trainer=gpu"), "trainer", "trainer=cpu")


def test_train_refuses_a_weights_only_checkpoint_to_resume_from(trained, tmp_path, cli):
    weights = tmp_path / "weights.ckpt"
    checkpoint = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    torch.save({key: checkpoint[key] for key in ("state_dict", "jointsr", "hyper_parameters")}, weights)
    assert_user_error(cli("train", *TINY, f"ckpt_path={weights}"), "weights only", "cannot resume")


def test_train_refuses_to_resume_another_network(trained, tmp_path, cli):
    result = cli("train", "model.net.k=16", "model.net.K=3", "logger=csv",
                 f"ckpt_path={trained / 'checkpoints' / 'last.ckpt'}")
    assert_user_error(result, "another network", "model.net.k=8 in the checkpoint, 16 composed")


def test_train_bit_flipped_training_image_is_found_before_training(tmp_path, cli):
    require_data("cave")
    data = linked_dataset(tmp_path / "data", "cave")
    corrupt_copy(data / "cave" / "balloons" / "balloons_RGB.bmp", "flip")
    result = cli("train", *TINY, "data=cave", "debug=fast", f"paths.data_dir={data}")
    assert_user_error(result, "balloons_RGB.bmp does not match its SHA-256")
    assert run_folder_files(tmp_path / "run") == [] and not list((tmp_path / "cache").glob("*.h5"))


def test_train_corrupt_test_image_is_found_before_training(tmp_path, cli):
    require_data("cave")
    data = linked_dataset(tmp_path / "data", "cave")
    (data / "SHA256SUMS").unlink()
    # debug=fast tests the first two test images: the first is the one damaged
    corrupt_copy(data / "cave" / "chart_and_stuffed_toy" / "chart_and_stuffed_toy_ms_25.png", "truncate")
    result = cli("train", *TINY, "data=cave", "debug=fast", f"paths.data_dir={data}")
    assert_user_error(result, "chart_and_stuffed_toy_ms_25.png", "truncated")
    assert run_folder_files(tmp_path / "run") == [] and not list((tmp_path / "cache").glob("*.h5"))


def _read_only_below(monkeypatch, folder: Path) -> None:
    """Make ``folder`` (and what is below it) behave as a read-only mount, whoever runs the tests."""
    real_mkdir, real_access = Path.mkdir, os.access

    def mkdir(self, *args, **kwargs):
        if self == folder or folder in self.parents:
            if self.is_dir() and kwargs.get("exist_ok"):
                return None
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_mkdir(self, *args, **kwargs)

    def access(path, mode, *args, **kwargs):
        path = Path(path)
        if mode & os.W_OK and (path == folder or folder in path.parents):
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr(os, "access", access)


def test_train_read_only_run_folder(tmp_path, capsys, monkeypatch):
    read_only = tmp_path / "readonly"
    read_only.mkdir()
    _read_only_below(monkeypatch, read_only)
    result = run_main("train", [*TINY, f"hydra.run.dir={read_only / 'run'}"], capsys, monkeypatch)
    assert_user_error(result, "read-only", "hydra.run.dir")
    assert not (read_only / "run").exists()


def test_train_read_only_cache(tmp_path, cli, monkeypatch):
    require_data("rgbnir")
    cache = tmp_path / "cache"
    cache.mkdir()
    _read_only_below(monkeypatch, cache)
    result = cli("train", *TINY, "debug=fast", "data.progress=false", "test=false")
    assert_user_error(result, "patch-store cache", "JOINTSR_CACHE_DIR")
    assert not list(cache.iterdir())


# ---------------------------------------------------------------------------------------- data
def test_data_unknown_command(cli):
    assert_user_error(cli("data", "fetch"), "unknown command 'fetch'", "prepare, verify, list")


def test_data_prepare_refuses_a_bit_flipped_training_image(tmp_path, cli):
    require_data("cave")
    data = linked_dataset(tmp_path / "data", "cave")
    corrupt_copy(data / "cave" / "beads" / "beads_RGB.bmp", "flip")
    result = cli("data", "prepare", "data=cave", "data.progress=false", f"paths.data_dir={data}")
    assert_user_error(result, "beads_RGB.bmp does not match its SHA-256", "jointsr-data verify")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_data_verify_exits_non_zero_on_a_corrupted_copy(tmp_path, cli):
    require_data("cave")
    data = linked_dataset(tmp_path / "data", "cave")
    corrupt_copy(data / "cave" / "cd" / "cd_RGB.bmp", "flip")
    corrupt_copy(data / "cave" / "paints" / "paints_ms_25.png", "truncate")
    result = cli("data", "verify", "data=cave", "data.progress=false", f"paths.data_dir={data}")
    assert result.code == 1 and "Traceback" not in result.err
    assert "cd_RGB.bmp does not match its SHA-256" in result.out and "paints_ms_25.png" in result.out
    assert "problem(s)" in result.out and "0 problem(s)" not in result.out


# ---------------------------------------------------------------------------------------- real processes
def _command(name: str) -> list[str]:
    script = Path(sys.executable).parent / f"jointsr-{name}"
    if not script.exists():
        pytest.skip("jointsr is not installed as a package (run `make install`)")
    return [str(script)]


@pytest.mark.slow
def test_console_script_user_error_is_one_line_with_status_2(trained, pair, tmp_path):
    """The installed command line, as a user runs it: a malicious checkpoint."""
    marker = tmp_path / "marker"
    evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker, trained / "checkpoints" / "last.ckpt")
    result = subprocess.run(_command("predict") + predict_args(evil, *pair, tmp_path / "sr.png")
                            + [f"hydra.run.dir={tmp_path / 'run'}"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith("jointsr-predict: error: ") and "not a trusted checkpoint" in result.stderr
    assert not marker.exists() and not (tmp_path / "sr.png").exists()


@pytest.mark.slow
def test_console_script_full_error_shows_the_traceback(tmp_path):
    """HYDRA_FULL_ERROR=1 keeps the traceback of a user error, for debugging."""
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    result = subprocess.run(_command("data") + ["fetch", f"hydra.run.dir={tmp_path}"], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 1 and "Traceback" in result.stderr and "unknown command" in result.stderr


@pytest.mark.slow
def test_console_script_bad_override_is_one_line(tmp_path):
    result = subprocess.run(_command("eval") + ["modell=bicubic", f"hydra.run.dir={tmp_path / 'run'}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "modell" in result.stderr and "+modell=" in result.stderr



@pytest.mark.parametrize("override,fragments", [
    ("model.net.K=abc", ("K='abc'", "an odd integer >= 1")),
    ("trainer.max_time=2min", ("trainer.max_time='2min'", "DD:HH:MM:SS")),
    ("trainer.max_steps=1.5", ("trainer.max_steps=1.5", "takes an integer")),
    ("trainer.max_epochs=many", ("trainer.max_epochs='many'", "takes an integer or null")),
    ("model.optimizer.lr=abc", ("model.optimizer.lr='abc'", "Adam refuses")),
    ("model.step_weights=[1,2]", ("gives 2 weights but jointsr has 3 steps",)),
    ("model.compile=abc", ("model.compile='abc'", "takes true or false")),
    ("test=maybe", ("test='maybe'", "takes true or false")),
    ("data.in_memory=abc", ("data.in_memory='abc'", "takes true or false")),
    ("model.calibration_patches=0", ("model.calibration_patches=0", ">= 1")),
])
def test_a_value_of_the_wrong_type_is_one_line_and_leaves_no_run_folder(cli, tmp_path, override, fragments):
    result = cli("train", override, "logger=csv")
    assert_user_error(result, *fragments)
    assert not (tmp_path / "run").exists()  # Hydra's .hydra/ and train.log of the failed start are gone


def test_a_failed_start_keeps_what_the_folder_already_held(cli, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert_user_error(cli("train", "model.net.K=abc", "logger=csv"), "K='abc'")
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"


def test_a_sweep_job_folder_name_too_long_for_the_file_system_says_how_to_name_it(tmp_path, capsys, monkeypatch):
    overrides = [f"+extra.key_{index}=a_value_that_lengthens_the_folder_name" for index in range(8)]
    result = run_main("train", ["-m", *TINY, "seed=1", *overrides, f"hydra.sweep.dir={tmp_path}"], capsys, monkeypatch)
    assert_user_error(result, "name is too long", "hydra.sweep.subdir=")
    assert not [path for path in tmp_path.iterdir() if path.name.startswith("+extra")]
