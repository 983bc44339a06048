"""``jointsr-bench``: how fast a model trains and infers on this machine.

The measuring is :mod:`jointsr.training.benchmark`'s: every training path's step time, HR
pixels/s and GFLOP/s, and each inference size's time and peak memory in a child process. The
command prints a table, then one JSON line (``conf/bench.yaml``). How close a step comes to
the machine's limits (conv roofline, memory bandwidth) is a study:
``experiments/performance/limits.py``.
"""

from __future__ import annotations

import json

import torch
from omegaconf import DictConfig, OmegaConf

from jointsr.cli.command import hydra_command
from jointsr.inference.inputs import set_threads
from jointsr.training.benchmark import bench_inference, bench_training
from jointsr.training.build import build_model


def format_report(result: dict) -> str:
    """The bench result as a table: the training paths, then the inference sizes."""
    lines = [f"jointsr-bench {result['model']} x{result['scale']}  (threads: {result['threads']}; timings are "
             f"results only on an idle machine)"]
    train = result["train"]
    if train is None:
        lines.append("training: the model has no parameters")
    else:
        b = train["batch"]
        lines.append(f"training step, batch {b[0]} x {b[2]}x{b[3]} HR: {train['flops_per_step'] / 1e9:.3f} GFLOP")
        header = (f"{'path':<22} {'ms/step':>9} {'steps/s':>8} {'x eager':>8} {'HR Mpx/s':>9} {'GFLOP/s':>8} "
                  f"{'warm-up s':>10}")
        lines += [header, "-" * len(header)]
        eager = train["eager_steps_per_s"]
        for name, row in train["paths"].items():
            mark = " *" if name == train["default_path"] else ""
            note = f"  (compile failed, ran eager: {row['compile_failed']})" if row["compile_failed"] else ""
            lines.append(f"{name + mark:<22} {1e3 * row['seconds_per_step']:>9.1f} {row['steps_per_s']:>8.2f} "
                         f"{row['steps_per_s'] / eager:>8.2f} {row['hr_pixels_per_s'] / 1e6:>9.2f} "
                         f"{row['gflops_per_s']:>8.1f} {row['warmup_seconds']:>10.1f}{note}")
        lines.append("* the default path: the one jointsr-train runs, when it is among train.paths")
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


main = hydra_command("bench", bench)


if __name__ == "__main__":
    main()
