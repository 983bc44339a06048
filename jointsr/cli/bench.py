"""``jointsr-bench``: a model's training step and inference against this machine's limits.

Training (one process, warm-up excluded, the median of repeats, the paths interleaved):
step time, HR pixels/s, FLOPs per step (``torch.utils.flop_counter``), bytes moved per
step (estimated: the bytes of every tensor each operator of one eager step reads and
writes), achieved GFLOP/s and GB/s, and two limits measured in the same run:

- the conv roofline: plain ``conv2d`` (or its transpose) forward + backward at the
  model's dominant convolution (the one with the most FLOPs per step), GFLOP/s;
- the memory ceiling: a STREAM-like triad ``a = b + 3 c`` on tensors the size of that
  convolution's output (the step's typical tensor), GB/s.

The step's limit time is ``max(FLOPs / conv GFLOP/s, bytes / triad GB/s)``; the larger
term names the bound (``compute`` or ``memory``) and ``limit_ratio = limit time / step
time`` says how close the step gets to it (1 = at the limit). Bytes are those of the
eager operators: a fused path moves fewer, so its ratio can exceed what its own traffic
would give; the same yardstick for every row.

Inference: each HR size in a child process (its peak resident memory is the child's
``ru_maxrss``), tiled by ``infer.tile``: seconds, megapixels/s, peak RSS.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import multiprocessing
import resource
import statistics
import time
from typing import Callable

import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from jointsr.cli.command import hydra_command
from jointsr.errors import ConfigError
from jointsr.training.build import build_model, set_threads
from jointsr.training.module import build_optimizer, network_loss, training_autocast

log = logging.getLogger("jointsr")

PATHS = ("eager", "channels_last", "compile", "compile+channels_last",
         "bf16", "channels_last+bf16", "compile+bf16", "compile+channels_last+bf16")
_CONVOLUTION = torch.ops.aten.convolution.default


# --------------------------------------------------------------------------- measuring
class _OperatorTraffic(TorchDispatchMode):
    """Bytes every operator reads (tensor arguments) and writes (tensor results), summed; and
    the forward convolutions seen, with their arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self.convolutions: list[tuple] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        flat = [*args, *kwargs.values(), *(result if isinstance(result, (tuple, list)) else (result,))]
        for value in flat:
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, torch.Tensor):
                    self.bytes += item.numel() * item.element_size()
        if func is _CONVOLUTION:
            x, w = args[0], args[1]
            self.convolutions.append((tuple(x.shape), tuple(w.shape), *[_plain(a) for a in args[3:]],
                                      tuple(result.shape)))
        return result


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _conv_flops(signature: tuple) -> int:
    """Forward FLOPs of one ``aten.convolution`` call (2 per multiply-add)."""
    x, w, stride, padding, dilation, transposed, output_padding, groups, out = signature
    if transposed:  # every input entry meets every weight of its group
        return 2 * math.prod(x) * (w[1]) * w[2] * w[3]
    return 2 * math.prod(out) * (w[1]) * w[2] * w[3]


def median_seconds(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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


# --------------------------------------------------------------------------- training step
def _check_paths(paths) -> list[str]:
    paths = list(paths)
    unknown = [p for p in paths if p not in PATHS]
    if unknown or not paths:
        raise ConfigError(f"train.paths={paths}: each must be one of {list(PATHS)} (and at least one)")
    return paths


class _Path:
    """One way of running the same training step: its own copy of the network and optimiser."""

    def __init__(self, name: str, model, batch: dict) -> None:
        from jointsr.training.fast import CompiledNetwork

        self.name = name
        self.net = copy.deepcopy(model.net).train()
        layout = torch.channels_last if "channels_last" in name else torch.contiguous_format
        self.net = self.net.to(memory_format=layout)
        self.batch = {key: value.contiguous(memory_format=layout) for key, value in batch.items()}
        self.optimizer = build_optimizer(model.optimizer_factory, self.net)
        self.loss_fn, self.weights = model.loss_fn, model.step_weights  # None, "uniform" or a list
        self.runner = CompiledNetwork(self.net) if name.startswith("compile") else self.net
        self.bf16 = name.endswith("bf16")  # bf16 mixed precision: fp32 weights, bf16 arithmetic
        self.times: list[float] = []
        self.first_seconds = 0.0

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        with training_autocast(self.bf16):
            loss = network_loss(self.runner, self.batch, self.loss_fn, self.weights)
        loss.backward()
        self.optimizer.step()

    @property
    def compile_failed(self) -> str | None:
        return getattr(self.runner, "failed", None)


def bench_training(cfg: DictConfig, model) -> dict | None:
    """The training-step rows and the limits; None for a model without parameters."""
    if not model.has_parameters:
        return None
    settings = cfg.train
    paths = _check_paths(settings.paths)
    net, scale = model.net, int(cfg.scale)
    size, count = int(settings.patch), int(settings.batch_size)
    channels = int(cfg.data.guide_channels)
    generator = torch.Generator().manual_seed(int(cfg.seed))
    hr = torch.rand(count, 1, size, size, generator=generator)
    batch = {"lr": torch.nn.functional.avg_pool2d(hr, scale), "hr": hr,
             "guide": torch.rand(count, channels, size, size, generator=generator)}
    if net.needs_calibration:
        net.calibrate(batch["lr"], batch["guide"], batch["hr"])  # the state training runs in

    rows = {name: _Path(name, model, batch) for name in paths}
    reference = rows.get("eager") or _Path("eager", model, batch)
    with FlopCounterMode(display=False) as counter:
        reference.step()
    flops = counter.get_total_flops()
    traffic = _OperatorTraffic()
    with traffic:
        reference.step()
    moved = traffic.bytes

    for row in rows.values():  # warm-up; a compiled path compiles in its first calls
        start = time.perf_counter()
        for _ in range(int(settings.warmup)):
            row.step()
        row.first_seconds = time.perf_counter() - start
    for _ in range(int(settings.repeats)):  # interleaved: load changes hit every path alike
        for row in rows.values():
            start = time.perf_counter()
            row.step()
            row.times.append(time.perf_counter() - start)

    # the limits, at the step's dominant convolution and tensor size
    totals: dict[tuple, int] = {}
    for signature in traffic.convolutions:
        totals[signature] = totals.get(signature, 0) + _conv_flops(signature)
    dominant = max(totals, key=totals.get) if totals else None
    repeats = int(settings.limit_repeats)
    roofline = conv_roofline(dominant, repeats) if dominant else None
    elements = math.prod(dominant[-1]) if dominant else hr.numel() * 8
    triad = triad_bandwidth(int(elements), repeats)

    compute_seconds = flops / (roofline["gflops_per_s"] * 1e9) if roofline else 0.0
    memory_seconds = moved / (triad["gb_per_s"] * 1e9)
    limit_seconds = max(compute_seconds, memory_seconds)
    bound = "compute" if compute_seconds >= memory_seconds else "memory"
    pixels = count * size * size
    table = {}
    for name, row in rows.items():
        seconds = statistics.median(row.times)
        table[name] = {
            "seconds_per_step": seconds, "steps_per_s": 1.0 / seconds, "hr_pixels_per_s": pixels / seconds,
            "gflops_per_s": flops / seconds / 1e9, "gb_per_s": moved / seconds / 1e9,
            "limit_ratio": limit_seconds / seconds, "warmup_seconds": row.first_seconds,
            "compile_seconds": getattr(row.runner, "compile_seconds", 0.0),
            "compile_failed": row.compile_failed,
        }
    compiled, nhwc = bool(cfg.model.get("compile", False)), bool(cfg.model.get("channels_last", False))
    bf16 = str(cfg.get("precision", "32-true")) == "bf16-mixed"
    default = "+".join(name for name, on in (("compile", compiled), ("channels_last", nhwc), ("bf16", bf16))
                       if on) or "eager"
    training_path = default  # what jointsr-train runs for this model
    if default not in table:
        rows_default = "eager" if "eager" in table else next(iter(table))
        log.warning("the default path %r is not among train.paths; reporting %r", default, rows_default)
        default = rows_default
    eager = table.get("eager", {}).get("steps_per_s")
    if eager is None:
        eager = 1.0 / median_seconds(reference.step, int(settings.repeats), warmup=1)
    result = {
        "batch": [count, channels, size, size], "flops_per_step": flops, "bytes_per_step": moved,
        "arithmetic_intensity": flops / moved, "conv_roofline": roofline, "triad": triad,
        "compute_seconds": compute_seconds, "memory_seconds": memory_seconds, "limit_seconds": limit_seconds,
        "bound": bound, "default_path": default, "training_path": training_path, "paths": table,
        "eager_steps_per_s": eager, "steps_per_s": table[default]["steps_per_s"],
        "limit_ratio": table[default]["limit_ratio"],
    }
    if bool(settings.profile):
        result["profile"] = profile_steps(reference, int(settings.profile_rows))
    return result


def profile_steps(row: _Path, rows: int, steps: int = 5) -> str:
    """torch.profiler over a few steps: the operators by self CPU time, as a table."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            row.step()
    return profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)


# --------------------------------------------------------------------------- inference
def _resident_mb() -> dict[str, float]:
    """This process's resident memory now and its peak, MB: ``VmRSS`` and ``VmHWM`` of
    /proc/self/status (``ru_maxrss`` would not do: Linux carries it across the exec of a
    spawned child, so it would report the parent's peak)."""
    values = {}
    try:
        for line in open("/proc/self/status"):
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line[:5]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    fallback = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"current": values.get("VmRSS", fallback), "peak": values.get("VmHWM", fallback)}


def _infer_child(queue, model_cfg: dict, height: int, width: int, channels: int, tile, repeats: int,
                 threads: int) -> None:
    """In a fresh process: build the network, warm up on a small input, time the size."""
    _exit_with_parent()
    try:
        torch.set_num_threads(threads)
        from jointsr.inference.tiling import forward_any_size

        net = build_model(OmegaConf.create(model_cfg)).net.eval()
        scale = int(net.scale)
        with torch.inference_mode():
            warm = 16 * scale
            net(torch.rand(1, 1, warm // scale, warm // scale), torch.rand(1, channels, warm, warm))
            lr = torch.rand(1, 1, height // scale, width // scale)
            guide = torch.rand(1, channels, height, width)
            base = _resident_mb()["current"]
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                out = forward_any_size(net, lr, guide, tile, progress=False)
                times.append(time.perf_counter() - start)
            assert out.shape[-2:] == (height, width)
        queue.put({"seconds": statistics.median(times), "peak_rss_mb": _resident_mb()["peak"],
                   "base_rss_mb": base})
    except BaseException as error:  # reported by the parent as this size's row
        queue.put({"error": f"{type(error).__name__}: {error}"})


def _exit_with_parent() -> None:
    """A child whose bench was stopped stops too, rather than compute on alone."""
    import os
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def bench_inference(cfg: DictConfig, model_cfg: dict) -> list[dict]:
    settings = cfg.infer
    scale, channels = int(cfg.scale), int(cfg.data.guide_channels)
    tile = settings.tile
    context = multiprocessing.get_context("spawn")
    rows = []
    for size in settings.sizes:
        height, width = (int(v) for v in size)
        if height % scale or width % scale:
            raise ConfigError(f"infer.sizes: {height}x{width} is not a multiple of the scale x{scale}")
        queue = context.Queue()
        child = context.Process(target=_infer_child, args=(queue, model_cfg, height, width, channels,
                                                           None if tile is None else int(tile),
                                                           int(settings.repeats), torch.get_num_threads()))
        child.start()
        try:
            result = queue.get(timeout=float(settings.timeout_s))
        except Exception:
            result = {"error": f"no result within infer.timeout_s={settings.timeout_s}"}
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
        row = {"hr_shape": [height, width], "tile": tile, **result}
        if "seconds" in row:
            row["megapixels_per_s"] = height * width / 1e6 / row["seconds"]
        rows.append(row)
        log.info("inference %dx%d: %s", height, width, row)
    return rows


# --------------------------------------------------------------------------- report
def format_report(result: dict) -> str:
    lines = [f"jointsr-bench {result['model']} x{result['scale']}  (threads: {result['threads']}; timings are "
             f"results only on an idle machine)"]
    train = result["train"]
    if train is None:
        lines.append("training: the model has no parameters")
    else:
        b = train["batch"]
        lines.append(f"training step, batch {b[0]} x {b[2]}x{b[3]} HR: {train['flops_per_step'] / 1e9:.3f} GFLOP, "
                     f"{train['bytes_per_step'] / 1e9:.3f} GB moved (eager operators), "
                     f"{train['arithmetic_intensity']:.2f} FLOP/byte")
        header = (f"{'path':<22} {'ms/step':>9} {'steps/s':>8} {'x eager':>8} {'HR Mpx/s':>9} {'GFLOP/s':>8} "
                  f"{'GB/s':>7} {'limit':>7} {'warm-up s':>10}")
        lines += [header, "-" * len(header)]
        eager = train["eager_steps_per_s"]
        for name, row in train["paths"].items():
            mark = " *" if name == train["default_path"] else ""
            note = f"  (compile failed, ran eager: {row['compile_failed']})" if row["compile_failed"] else ""
            lines.append(f"{name + mark:<22} {1e3 * row['seconds_per_step']:>9.1f} {row['steps_per_s']:>8.2f} "
                         f"{row['steps_per_s'] / eager:>8.2f} {row['hr_pixels_per_s'] / 1e6:>9.2f} "
                         f"{row['gflops_per_s']:>8.1f} {row['gb_per_s']:>7.1f} {row['limit_ratio']:>7.3f} "
                         f"{row['warmup_seconds']:>10.1f}{note}")
        roof, triad = train["conv_roofline"], train["triad"]
        if roof:
            lines.append(f"conv roofline: {roof['gflops_per_s']:.1f} GFLOP/s (forward + backward, input "
                         f"{roof['shape']['input']}, weight {roof['shape']['weight']}, stride "
                         f"{roof['shape']['stride']}{', transposed' if roof['shape']['transposed'] else ''})")
        lines.append(f"memory ceiling: {triad['gb_per_s']:.1f} GB/s (triad on {triad['elements']:,} floats)")
        lines.append(f"limit per step: compute {1e3 * train['compute_seconds']:.1f} ms, memory "
                     f"{1e3 * train['memory_seconds']:.1f} ms -> {train['bound']}-bound; the default path (*) "
                     f"runs at {train['limit_ratio']:.3f} of that limit")
        if "profile" in train:
            lines += ["eager step profile (torch.profiler, by self CPU time):", train["profile"]]
    header = f"{'inference HR':<14} {'tile':>6} {'seconds':>9} {'Mpx/s':>8} {'peak RSS MB':>12} {'base MB':>8}"
    lines += [header, "-" * len(header)]
    for row in result["infer"]:
        shape = f"{row['hr_shape'][0]}x{row['hr_shape'][1]}"
        if "error" in row:
            lines.append(f"{shape:<14} {str(row['tile']):>6} failed: {row['error']}")
            continue
        lines.append(f"{shape:<14} {str(row['tile']):>6} {row['seconds']:>9.2f} {row['megapixels_per_s']:>8.2f} "
                     f"{row['peak_rss_mb']:>12.0f} {row['base_rss_mb']:>8.0f}")
    return "\n".join(lines)


def bench(cfg: DictConfig) -> dict:
    set_threads()
    torch.manual_seed(int(cfg.seed))
    model = build_model(cfg.model)
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    train = bench_training(cfg, model) if bool(cfg.train.enabled) else None
    infer = bench_inference(cfg, model_cfg)
    result = {"model": model.name, "scale": int(cfg.scale), "threads": torch.get_num_threads(),
              "train": train, "infer": infer}
    print(format_report(result))
    summary = dict(result)
    if train is not None:
        summary["train"] = {key: value for key, value in train.items() if key != "profile"}
    print(json.dumps(summary))
    return result


main = hydra_command("bench", "bench", bench)


if __name__ == "__main__":
    main()
