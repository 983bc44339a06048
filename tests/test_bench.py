"""jointsr-bench: a smoke run of the real command; the JSON line's structure and its
internal consistency (never a speed: timings depend on the machine's load)."""

from __future__ import annotations

import json

import pytest
import torch
from cli_helpers import run_main
from conftest import compose_config
from torch.utils.flop_counter import FlopCounterMode

from jointsr.training.build import build_model

SMOKE = ["model.net.k=4", "train.batch_size=2", "train.patch=16", "train.warmup=1", "train.repeats=2",
         "train.paths=[eager,channels_last]", "infer.sizes=[[64,48]]", "infer.tile=32"]


@pytest.mark.slow
def test_bench_prints_a_table_then_one_consistent_json_line(tmp_path, capsys, monkeypatch):
    result = run_main("bench", [*SMOKE, f"hydra.run.dir={tmp_path / 'run'}"], capsys, monkeypatch)
    assert result.code == 0, result.err[-2000:]
    lines = result.out.strip().splitlines()
    assert "ms/step" in result.out and "inference HR" in result.out
    document = json.loads(lines[-1])
    assert document["model"] == "jointsr" and document["scale"] == 4
    train = document["train"]
    # the suite trains eager (JOINTSR_COMPILE=false) and JointSR trains in NHWC: its default path
    assert set(train["paths"]) == {"eager", "channels_last"} and train["default_path"] == "channels_last"
    assert train["training_path"] == "channels_last"
    assert train["steps_per_s"] == train["paths"]["channels_last"]["steps_per_s"]
    assert train["eager_steps_per_s"] == train["paths"]["eager"]["steps_per_s"]
    assert train["batch"] == [2, 1, 16, 16]
    for row in train["paths"].values():
        assert row["steps_per_s"] == pytest.approx(1 / row["seconds_per_step"])
        assert row["hr_pixels_per_s"] == pytest.approx(2 * 16 * 16 * row["steps_per_s"])
        assert row["gflops_per_s"] == pytest.approx(train["flops_per_step"] / row["seconds_per_step"] / 1e9)
    # the machine's limits are a study's (experiments/performance/limits.py), not the command's
    assert not {"conv_roofline", "triad", "bytes_per_step", "bound", "limit_ratio"} & set(train)

    # FLOPs of a step: forward + backward, about 3 forward passes (no input gradient of the
    # first layers), counted here independently on the same network and batch shape
    net = build_model(compose_config("bench", SMOKE, tmp_path / "c").model).net
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.rand(2, 1, 4, 4), torch.rand(2, 1, 16, 16))
    assert 2.0 * counter.get_total_flops() < train["flops_per_step"] <= 3.0 * counter.get_total_flops()

    (row,) = document["infer"]
    assert row["hr_shape"] == [64, 48] and row["tile"] == 32
    assert row["megapixels_per_s"] == pytest.approx(64 * 48 / 1e6 / row["seconds"])
    assert row["peak_rss_mb"] >= row["base_rss_mb"] > 0


def test_an_unknown_path_is_one_line(tmp_path, capsys, monkeypatch):
    result = run_main("bench", [*SMOKE, "train.paths=[turbo]", f"hydra.run.dir={tmp_path / 'run'}"],
                      capsys, monkeypatch)
    assert result.code != 0 and len(result.error_lines) == 1
    assert "turbo" in result.error_lines[0] and "eager" in result.error_lines[0]


@pytest.mark.slow
def test_bf16_paths_step_in_bfloat16_and_follow_the_training_precision(tmp_path, capsys, monkeypatch):
    """A path ending in bf16 runs the step under autocast (the convolutions' outputs in
    bfloat16, the weights fp32); with precision=bf16-mixed it is the path jointsr-train runs."""
    from jointsr.training.benchmark import TrainingPath

    paths = "train.paths=[channels_last,channels_last+bf16]"
    result = run_main("bench", [*SMOKE, paths, "precision=bf16-mixed", f"hydra.run.dir={tmp_path / 'run'}"],
                      capsys, monkeypatch)
    assert result.code == 0, result.err[-2000:]
    train = json.loads(result.out.strip().splitlines()[-1])["train"]
    assert set(train["paths"]) == {"channels_last", "channels_last+bf16"}
    assert train["training_path"] == train["default_path"] == "channels_last+bf16"

    model = build_model(compose_config("bench", SMOKE, tmp_path / "c").model)
    hr = torch.rand(2, 1, 16, 16)
    batch = {"hr": hr, "lr": torch.nn.functional.avg_pool2d(hr, 4), "guide": torch.rand(2, 1, 16, 16)}
    for name, dtype in (("channels_last", torch.float32), ("channels_last+bf16", torch.bfloat16)):
        row = TrainingPath(name, model, batch)
        seen = []
        row.net.dictionary.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
        row.step()
        assert seen == [dtype] and row.net.dictionary.weight.dtype == torch.float32
