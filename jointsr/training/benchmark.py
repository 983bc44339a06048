"""Timing a model's training step and its inference on this machine (``jointsr-bench``).

Training (one process, warm-up excluded, the median of repeats, the paths interleaved so that
a change of load hits every path alike): each path's step time, HR pixels/s and achieved
GFLOP/s, with the FLOPs of one eager step (forward + backward, ``torch.utils.flop_counter``).

Inference: each HR size in a child process (its peak resident memory is the child's), tiled
by ``infer.tile``: seconds, megapixels/s, peak and base resident memory.

The settings are ``conf/bench.yaml``'s ``train`` and ``infer`` groups.
"""

from __future__ import annotations

import copy
import logging
import multiprocessing
import os
import resource
import statistics
import threading
import time
from typing import Callable

import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.flop_counter import FlopCounterMode

from jointsr.errors import ConfigError
from jointsr.training.build import build_model
from jointsr.training.module import build_optimizer, network_loss, training_autocast

log = logging.getLogger("jointsr")

#: the ways of running one training step: layout, compilation, bf16 mixed precision
PATHS = ("eager", "channels_last", "compile", "compile+channels_last",
         "bf16", "channels_last+bf16", "compile+bf16", "compile+channels_last+bf16")


def median_seconds(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """The median wall time of ``repeats`` calls of ``function``, after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --------------------------------------------------------------------------- training step
def check_paths(paths) -> list[str]:
    """``train.paths`` as a list, or a ConfigError naming the paths there are."""
    paths = list(paths)
    unknown = [p for p in paths if p not in PATHS]
    if unknown or not paths:
        raise ConfigError(f"train.paths={paths}: each must be one of {list(PATHS)} (and at least one)")
    return paths


class TrainingPath:
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


def training_batch(cfg: DictConfig, model) -> dict:
    """The random batch of ``cfg.train``'s shape (``lr``, ``hr``, ``guide``; the seed's), with
    the network calibrated on it first when it needs it, as training does."""
    scale, size, count = int(cfg.scale), int(cfg.train.patch), int(cfg.train.batch_size)
    channels = int(cfg.data.guide_channels)
    generator = torch.Generator().manual_seed(int(cfg.seed))
    hr = torch.rand(count, 1, size, size, generator=generator)
    batch = {"lr": torch.nn.functional.avg_pool2d(hr, scale), "hr": hr,
             "guide": torch.rand(count, channels, size, size, generator=generator)}
    if model.net.needs_calibration:
        model.net.calibrate(batch["lr"], batch["guide"], batch["hr"])  # the state training runs in
    return batch


def training_path_name(cfg: DictConfig) -> str:
    """The path jointsr-train runs for ``cfg``'s model and precision (``compile+channels_last``...)."""
    flags = (("compile", bool(cfg.model.get("compile", False))),
             ("channels_last", bool(cfg.model.get("channels_last", False))),
             ("bf16", str(cfg.get("precision", "32-true")) == "bf16-mixed"))
    return "+".join(name for name, on in flags if on) or "eager"


def bench_training(cfg: DictConfig, model) -> dict | None:
    """The training step's rows, one per ``cfg.train.paths``; None for a model without parameters."""
    if not model.has_parameters:
        return None
    settings = cfg.train
    paths = check_paths(settings.paths)
    batch = training_batch(cfg, model)
    rows = {name: TrainingPath(name, model, batch) for name in paths}
    reference = rows.get("eager") or TrainingPath("eager", model, batch)
    with FlopCounterMode(display=False) as counter:
        reference.step()
    flops = counter.get_total_flops()

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

    pixels = batch["hr"].numel()
    table = {}
    for name, row in rows.items():
        seconds = statistics.median(row.times)
        table[name] = {
            "seconds_per_step": seconds, "steps_per_s": 1.0 / seconds, "hr_pixels_per_s": pixels / seconds,
            "gflops_per_s": flops / seconds / 1e9, "warmup_seconds": row.first_seconds,
            "compile_seconds": getattr(row.runner, "compile_seconds", 0.0),
            "compile_failed": row.compile_failed,
        }
    training_path = default = training_path_name(cfg)
    if default not in table:
        reported = "eager" if "eager" in table else next(iter(table))
        log.warning("the default path %r is not among train.paths; reporting %r", default, reported)
        default = reported
    eager = table.get("eager", {}).get("steps_per_s")
    if eager is None:
        eager = 1.0 / median_seconds(reference.step, int(settings.repeats), warmup=1)
    result = {
        "batch": list(batch["guide"].shape), "flops_per_step": flops, "default_path": default,
        "training_path": training_path, "paths": table, "eager_steps_per_s": eager,
        "steps_per_s": table[default]["steps_per_s"],
    }
    if bool(settings.profile):
        result["profile"] = profile_steps(reference, int(settings.profile_rows))
    return result


def profile_steps(row: TrainingPath, rows: int, steps: int = 5) -> str:
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
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def bench_inference(cfg: DictConfig, model_cfg: dict) -> list[dict]:
    """One row per ``cfg.infer.sizes`` (HR height, width): each timed in its own child process."""
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
