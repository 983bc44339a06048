"""experiments/performance/limits.py: the FLOPs and bytes it counts, written out by hand, and
the internal consistency of its limits (never a speed: timings depend on the machine's load)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from conftest import compose_config

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "performance" / "limits.py"
SMOKE = ["model.net.k=4", "train.batch_size=2", "train.patch=16", "train.warmup=1", "train.repeats=2",
         "train.paths=[eager,channels_last]"]


@pytest.fixture(scope="module")
def limits():
    spec = importlib.util.spec_from_file_location("performance_limits", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_convolution_flops_are_two_per_multiply_add(limits):
    # a 3x3 convolution, 2 -> 4 channels, on 8x8: 4 * 8 * 8 outputs, each 2 * 3 * 3 multiply-adds
    plain = ((1, 2, 8, 8), (4, 2, 3, 3), (1, 1), (1, 1), (1, 1), False, (0, 0), 1, (1, 4, 8, 8))
    assert limits.conv_flops(plain) == 2 * (4 * 8 * 8) * (2 * 3 * 3) == 9216
    # transposed, 4 -> 2 channels (weight (in, out, kH, kW)), 4x4 input: every input entry meets 2 * 3 * 3 weights
    transposed = ((1, 4, 4, 4), (4, 2, 3, 3), (2, 2), (1, 1), (1, 1), True, (1, 1), 1, (1, 2, 8, 8))
    assert limits.conv_flops(transposed) == 2 * (4 * 4 * 4) * (2 * 3 * 3) == 2304
    assert limits.dominant_convolution([plain, transposed, transposed, transposed, transposed]) == plain
    assert limits.dominant_convolution([]) is None


def test_operator_traffic_counts_what_each_operator_reads_and_writes(limits):
    a, b = torch.ones(10), torch.ones(10)
    x, w = torch.ones(1, 2, 8, 8), torch.ones(4, 2, 3, 3)
    with limits.OperatorTraffic() as traffic:
        torch.add(a, b)
        torch.nn.functional.conv2d(x, w, padding=1)
    assert traffic.bytes["add"] == 3 * 10 * 4  # reads a and b, writes the sum (float32)
    assert traffic.calls["add"] == 1 and traffic.calls["convolution"] == 1
    assert traffic.bytes["convolution"] == (2 * 8 * 8 + 4 * 2 * 3 * 3 + 4 * 8 * 8) * 4
    assert traffic.total == sum(traffic.bytes.values())
    (signature,) = traffic.convolutions
    assert signature[0] == (1, 2, 8, 8) and signature[1] == (4, 2, 3, 3) and signature[-1] == (1, 4, 8, 8)


def test_a_steps_limits_are_consistent(limits):
    conv = torch.nn.Conv2d(2, 4, 3, padding=1)
    x = torch.rand(2, 2, 16, 16)

    def step() -> None:
        conv(x).square().mean().backward()

    measured = limits.step_limits(step, flops=10**6, repeats=2, fallback_elements=64)
    assert measured["conv_roofline"]["shape"] == {"input": [2, 2, 16, 16], "weight": [4, 2, 3, 3],
                                                  "stride": [1, 1], "transposed": False}
    triad = measured["triad"]
    assert triad["elements"] == 2 * 4 * 16 * 16 and triad["bytes"] == 3 * 4 * triad["elements"]
    assert measured["compute_seconds"] == pytest.approx(1e6 / (measured["conv_roofline"]["gflops_per_s"] * 1e9))
    assert measured["memory_seconds"] == pytest.approx(measured["bytes_per_step"] / (triad["gb_per_s"] * 1e9))
    assert measured["limit_seconds"] == max(measured["compute_seconds"], measured["memory_seconds"])
    assert (measured["bound"] == "compute") == (measured["compute_seconds"] >= measured["memory_seconds"])
    assert measured["arithmetic_intensity"] == pytest.approx(1e6 / measured["bytes_per_step"])


def test_the_bench_rows_with_their_limits(limits, tmp_path):
    result = limits.measure(compose_config("bench", SMOKE, tmp_path), repeats=2)
    train = result["train"]
    assert result["model"] == "jointsr" and set(train["paths"]) == {"eager", "channels_last"}
    # every operator's tensors: at least the forward's output and the batch, read and written
    assert train["bytes_per_step"] > 4 * (2 * 16 * 16 * 3)
    for row in train["paths"].values():
        assert row["limit_ratio"] == pytest.approx(train["limit_seconds"] / row["seconds_per_step"])
        assert row["gb_per_s"] == pytest.approx(train["bytes_per_step"] / row["seconds_per_step"] / 1e9)
    assert train["limit_ratio"] == train["paths"][train["default_path"]]["limit_ratio"]
    text = limits.format_limits(train)
    assert "conv roofline" in text and "memory ceiling" in text and f"{train['bound']}-bound" in text
