"""How close a training step comes to this machine's limits.

Besides the FLOPs of one eager step (``torch.utils.flop_counter``), the step's memory
traffic is estimated (:class:`OperatorTraffic`: the bytes of every tensor each aten operator
of one eager step reads and writes) and two limits are measured in the same process:

- the conv roofline: plain ``aten.convolution`` forward + backward at the step's dominant
  convolution (the one with the most FLOPs per step), GFLOP/s (:func:`conv_roofline`);
- the memory ceiling: a STREAM-like triad ``a = b + 3 c`` on tensors the size of that
  convolution's output (the step's typical tensor), GB/s (:func:`triad_bandwidth`).

The step's limit time is ``max(FLOPs / roofline, bytes / triad)``; the larger term names the
bound (``compute`` or ``memory``), and a path's ``limit_ratio = limit time / step time`` says
how close it gets (1 = at the limit). Bytes are those of the eager operators: a fused path
moves fewer, so its ratio can exceed what its own traffic would give; the same yardstick for
every path.

    python experiments/performance/limits.py [--repeats N] [overrides of conf/bench.yaml]

times the training paths as ``jointsr-bench`` does (``jointsr.training.benchmark``), then
measures the limits, and prints a table and one JSON line: the bench's ``train`` fields plus
``bytes_per_step``, ``arithmetic_intensity``, ``conv_roofline``, ``triad``,
``compute_seconds``, ``memory_seconds``, ``limit_seconds``, ``bound``, ``limit_ratio`` and,
per path, ``gb_per_s`` and ``limit_ratio``. Timings are results only on an idle machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from jointsr.training.benchmark import median_seconds

_CONVOLUTION = torch.ops.aten.convolution.default


class OperatorTraffic(TorchDispatchMode):
    """Per aten operator, the calls and the bytes it reads (tensor arguments) and writes
    (tensor results), summed; and the forward convolutions seen, with their arguments
    (``(input shape, weight shape, stride, padding, dilation, transposed, output_padding,
    groups, output shape)``)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes: collections.Counter = collections.Counter()
        self.calls: collections.Counter = collections.Counter()
        self.convolutions: list[tuple] = []

    @property
    def total(self) -> int:
        """Bytes moved by every operator."""
        return sum(self.bytes.values())

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        moved = 0
        for value in [*args, *kwargs.values(), *(result if isinstance(result, (tuple, list)) else (result,))]:
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, torch.Tensor):
                    moved += item.numel() * item.element_size()
        name = func.overloadpacket.__name__
        self.bytes[name] += moved
        self.calls[name] += 1
        if func is _CONVOLUTION:
            x, w = args[0], args[1]
            self.convolutions.append((tuple(x.shape), tuple(w.shape), *[_plain(a) for a in args[3:]],
                                      tuple(result.shape)))
        return result


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def conv_flops(signature: tuple) -> int:
    """Forward FLOPs of one ``aten.convolution`` call (2 per multiply-add)."""
    x, w, stride, padding, dilation, transposed, output_padding, groups, out = signature
    if transposed:  # every input entry meets every weight of its group
        return 2 * math.prod(x) * w[1] * w[2] * w[3]
    return 2 * math.prod(out) * w[1] * w[2] * w[3]


def dominant_convolution(convolutions: list[tuple]) -> tuple | None:
    """The convolution signature with the most forward FLOPs in total (None for none)."""
    totals: dict[tuple, int] = collections.Counter()
    for signature in convolutions:
        totals[signature] += conv_flops(signature)
    return max(totals, key=totals.get) if totals else None


def conv_roofline(signature: tuple, repeats: int) -> dict:
    """GFLOP/s of plain convolution forward + backward at one shape (the FLOP counter's count)."""
    x_shape, w_shape, stride, padding, dilation, transposed, output_padding, groups, out_shape = signature
    x = torch.rand(x_shape, requires_grad=True)
    w = torch.rand(w_shape, requires_grad=True)
    grad = torch.rand(out_shape)

    def step() -> None:
        out = torch.ops.aten.convolution(x, w, None, list(stride), list(padding), list(dilation), transposed,
                                         list(output_padding), groups)
        out.backward(grad)
        x.grad = w.grad = None

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    seconds = median_seconds(step, repeats, warmup=3)
    return {"shape": {"input": list(x_shape), "weight": list(w_shape), "stride": list(stride),
                      "transposed": bool(transposed)},
            "flops": flops, "seconds": seconds, "gflops_per_s": flops / seconds / 1e9}


def triad_bandwidth(elements: int, repeats: int) -> dict:
    """GB/s of ``a = b + 3 c`` on float32 tensors of ``elements`` (reads b, c; writes a)."""
    b, c, a = torch.rand(elements), torch.rand(elements), torch.empty(elements)
    inner = 10

    def triad() -> None:
        for _ in range(inner):
            torch.add(b, c, alpha=3.0, out=a)

    seconds = median_seconds(triad, repeats, warmup=2) / inner
    moved = 3 * elements * 4
    return {"elements": elements, "bytes": moved, "seconds": seconds, "gb_per_s": moved / seconds / 1e9}


def step_limits(step: Callable[[], object], flops: int, repeats: int, fallback_elements: int) -> dict:
    """The traffic of one call of ``step`` (an eager training step), the limits at its dominant
    convolution, and the limit time of ``flops`` and those bytes. ``fallback_elements``: the
    triad's size for a step without convolutions."""
    traffic = OperatorTraffic()
    with traffic:
        step()
    moved = traffic.total
    dominant = dominant_convolution(traffic.convolutions)
    roofline = conv_roofline(dominant, repeats) if dominant else None
    triad = triad_bandwidth(int(math.prod(dominant[-1]) if dominant else fallback_elements), repeats)
    compute_seconds = flops / (roofline["gflops_per_s"] * 1e9) if roofline else 0.0
    memory_seconds = moved / (triad["gb_per_s"] * 1e9)
    return {"bytes_per_step": moved, "arithmetic_intensity": flops / moved, "conv_roofline": roofline,
            "triad": triad, "compute_seconds": compute_seconds, "memory_seconds": memory_seconds,
            "limit_seconds": max(compute_seconds, memory_seconds),
            "bound": "compute" if compute_seconds >= memory_seconds else "memory"}


def with_limits(train: dict, limits: dict) -> dict:
    """The bench's ``train`` result with the limits added, and each path's GB/s and limit ratio."""
    paths = {name: {**row, "gb_per_s": limits["bytes_per_step"] / row["seconds_per_step"] / 1e9,
                    "limit_ratio": limits["limit_seconds"] / row["seconds_per_step"]}
             for name, row in train["paths"].items()}
    return {**train, **limits, "paths": paths, "limit_ratio": paths[train["default_path"]]["limit_ratio"]}


def format_limits(train: dict) -> str:
    """The step's traffic, its limits and each path's ratio to them, as text."""
    b = train["batch"]
    lines = [f"training step, batch {b[0]} x {b[2]}x{b[3]} HR: {train['flops_per_step'] / 1e9:.3f} GFLOP, "
             f"{train['bytes_per_step'] / 1e9:.3f} GB moved (eager operators), "
             f"{train['arithmetic_intensity']:.2f} FLOP/byte"]
    header = f"{'path':<28} {'ms/step':>9} {'GFLOP/s':>8} {'GB/s':>7} {'limit':>7}"
    lines += [header, "-" * len(header)]
    for name, row in train["paths"].items():
        mark = " *" if name == train["default_path"] else ""
        lines.append(f"{name + mark:<28} {1e3 * row['seconds_per_step']:>9.1f} {row['gflops_per_s']:>8.1f} "
                     f"{row['gb_per_s']:>7.1f} {row['limit_ratio']:>7.3f}")
    roof, triad = train["conv_roofline"], train["triad"]
    if roof:
        lines.append(f"conv roofline: {roof['gflops_per_s']:.1f} GFLOP/s (forward + backward, input "
                     f"{roof['shape']['input']}, weight {roof['shape']['weight']}, stride "
                     f"{roof['shape']['stride']}{', transposed' if roof['shape']['transposed'] else ''})")
    lines.append(f"memory ceiling: {triad['gb_per_s']:.1f} GB/s (triad on {triad['elements']:,} floats)")
    lines.append(f"limit per step: compute {1e3 * train['compute_seconds']:.1f} ms, memory "
                 f"{1e3 * train['memory_seconds']:.1f} ms -> {train['bound']}-bound; the default path (*) "
                 f"runs at {train['limit_ratio']:.3f} of that limit")
    return "\n".join(lines)


def measure(cfg, repeats: int) -> dict:
    """The bench's training rows for ``cfg`` (a composed ``conf/bench.yaml``), with the limits."""
    from jointsr.inference.inputs import set_threads
    from jointsr.training.benchmark import TrainingPath, bench_training, training_batch
    from jointsr.training.build import build_model

    set_threads()
    torch.manual_seed(int(cfg.seed))
    model = build_model(cfg.model)
    train = bench_training(cfg, model)
    if train is None:
        raise SystemExit(f"limits.py: {model.name} has no parameters: no training step to measure")
    batch = training_batch(cfg, model)  # the bench's batch (the network is calibrated already)
    reference = TrainingPath("eager", model, batch)
    reference.step()  # Adam's state exists from here on, as in a timed step
    limits = step_limits(reference.step, train["flops_per_step"], repeats, fallback_elements=batch["hr"].numel() * 8)
    return {"model": model.name, "scale": int(cfg.scale), "threads": torch.get_num_threads(),
            "train": with_limits(train, limits)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="repeats of the roofline and the triad (median)")
    parser.add_argument("overrides", nargs="*", help="overrides of conf/bench.yaml (model=..., train.paths=[...])")
    args = parser.parse_args(argv)
    from hydra import compose, initialize_config_dir

    from jointsr import CONFIG_DIR

    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose(config_name="bench", overrides=args.overrides)
    result = measure(cfg, args.repeats)
    print(f"{result['model']} x{result['scale']} (threads: {result['threads']}; timings are results only on an "
          f"idle machine)")
    print(format_limits(result["train"]))
    print(json.dumps({**result, "train": {k: v for k, v in result["train"].items() if k != "profile"}}))


if __name__ == "__main__":
    main()
