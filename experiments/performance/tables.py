"""The performance tables, from committed outputs: ``traffic.txt`` (``traffic.py``), the idle
bench outputs in ``idle_2026-12-01_2141/`` (each ends with jointsr-bench's JSON line), the
shipped 20-minute runs ``jointsr/pretrained/{cave,nir}_x4.json`` and the paper tables'
calibration ``../paper_tables/budget.json``."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import read_json, signed, table  # noqa: E402

from jointsr.pretrained import FOLDER as PRETRAINED  # noqa: E402

IDLE = HERE / "idle_2026-12-01_2141"
#: the issue's goals for the 20-minute runs
GOALS = {"cave_x4": (38.3, "38.3 (bicubic + 8)"), "nir_x4": (35.19, "35.19 (the paper's GPU-trained Proposed)")}
BASELINES = {"jointsr_paper": "`jointsr_paper` (free form, k=64, K=7)", "lmcsc": "LMCSC", "coista": "CoISTA",
             "djf": "DJF", "srfbn": "SRFBN"}


def _code(text: str) -> str:
    return f"```\n{text.rstrip()}\n```"


def _bench(name: str) -> dict:
    """The JSON line jointsr-bench printed last into ``IDLE/<name>.txt``."""
    return json.loads((IDLE / f"{name}.txt").read_text().strip().splitlines()[-1])


def traffic() -> str:
    return _code((HERE / "traffic.txt").read_text())


def budget_runs() -> str:
    rows = []
    for task, (goal, label) in GOALS.items():
        run = read_json(PRETRAINED / f"{task}.json")
        psnr, bicubic = run["mean"]["psnr"], run["bicubic"]["mean"]["psnr"]
        training = run["training"]
        best = training["tested"].split("step")[1].split("-")[0]
        rows.append([f"`{task}`", f"{bicubic:.2f}", f"**{psnr:.2f}** / {run['mean']['ssim']:.4f}",
                     signed(psnr - bicubic), f"{training['steps']:,}",
                     f"{training['steps'] / (60 * training['minutes']):.1f}", f"{int(best):,}", label,
                     f"{'yes' if psnr >= goal else 'no'}, {signed(psnr - goal)} dB"])
    return table(["task", "bicubic", "PSNR / SSIM", "gain", "steps in 20 min", "steps/s",
                  "tested checkpoint (best validation) at step", "goal", "met?"], rows, "lrrrrrrll")


def budget_per_image() -> str:
    rows = []
    for task in GOALS:
        run = read_json(PRETRAINED / f"{task}.json")
        for item in run["per_image"]:
            bicubic = run["bicubic"]["per_image"][item["name"]]["psnr"]
            rows.append([f"`{task}`", item["name"], f"{bicubic:.2f}", f"{item['psnr']:.2f}",
                         signed(item["psnr"] - bicubic)])
    return table(["task", "image", "bicubic", "PSNR (dB)", "gain"], rows, "llrrr")


def scaling() -> str:
    rows = []
    for item in _bench("scaling")["infer"]:
        height, width = item["hr_shape"]
        rows.append([f"{height}x{width}", f"{height * width / 1e6:.2f}", f"{item['seconds']:.2f}",
                     f"{item['megapixels_per_s']:.2f}", f"{item['peak_rss_mb']:.0f}", f"{item['base_rss_mb']:.0f}"])
    return table(["HR size", "megapixels", "seconds", "megapixels/s", "peak RSS (MB)", "resident before (MB)"],
                 rows, "lrrrrr")


def scaling_fit() -> str:
    lines = (IDLE / "scaling_fit.txt").read_text().splitlines()
    return _code("\n".join(line for line in lines if not line.startswith("wrote ")))


def baselines() -> str:
    calibrated = read_json(HERE.parent / "paper_tables" / "budget.json")["models"]
    rows = []
    for name, title in BASELINES.items():
        bench = _bench(name)
        train, infer = bench["train"], bench["infer"][0]
        eager, compiled = train["paths"]["eager"], train["paths"]["compile"]
        entry = calibrated[name]
        rate = entry.get("adjusted", {}).get("measured_steps_per_s", entry["steps_per_s"])
        rows.append([title, f"{train['flops_per_step'] / 1e9:.1f}", f"{train['arithmetic_intensity']:.1f}",
                     f"{eager['steps_per_s']:.2f}", f"{compiled['steps_per_s']:.2f}",
                     f"{compiled['steps_per_s'] / eager['steps_per_s']:.2f}", train["bound"],
                     f"{eager['limit_ratio']:.2f}", f"{compiled['warmup_seconds']:.1f}",
                     f"{infer['seconds']:.2f}", f"{infer['peak_rss_mb']:.0f}", f"{rate:.2f} ({entry['path']})"])
    return table(["model", "GFLOP / step", "FLOP/byte", "eager steps/s", "compiled steps/s", "x eager", "bound",
                  "eager at limit ratio", "compile warm-up s", "512x512 inference s", "peak RSS MB",
                  "steps/s in `budget.json` (20:03 UTC, its path)"], rows, "lrrrrrlrrrrr")


def bf16() -> str:
    """The bf16 paths beside the fp32 ones (bf16.sh): ms per training step, and each path's
    speed over the model's fp32 path of the same layout and compilation."""
    rows = []
    for model in ("jointsr_paper", "lmcsc", "djf", "srfbn", "jointsr"):
        train = json.loads((HERE / "bf16_2026-12-06" / f"{model}.json").read_text())["train"]
        paths = train["paths"]
        for name, row in paths.items():
            fp32 = paths.get(name.removesuffix("+bf16") if name != "bf16" else "eager")
            ratio = fp32["seconds_per_step"] / row["seconds_per_step"] if fp32 and fp32 is not row else None
            rows.append([model, f"`{name}`", f"{row['seconds_per_step'] * 1000:.0f}",
                         f"{ratio:.2f}x" if ratio else "–", "yes" if name == train["training_path"] else ""])
    return table(["model", "path", "ms per step", "bf16 over fp32", "jointsr-train's path"], rows, "llrrl")


def bf16_inference() -> str:
    """Test PSNR of whole CAVE x4 test images in fp32 and under bf16 autocast
    (bf16_inference.py -> bf16_inference.csv): per checkpoint, the mean and the worst image."""
    with (HERE / "bf16_inference.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    lines = []
    for checkpoint in dict.fromkeys(row["checkpoint"] for row in rows):
        mine = [row for row in rows if row["checkpoint"] == checkpoint]
        fp32 = [float(row["psnr_fp32"]) for row in mine]
        drop = [float(row["psnr_bf16"]) - float(row["psnr_fp32"]) for row in mine]
        name = checkpoint if "/" not in checkpoint else \
            f"Proposed (`jointsr_paper`), seed 1, step {int(checkpoint.rsplit('step', 1)[1].split('.')[0])}"
        lines.append([name, str(len(mine)), f"{sum(fp32) / len(fp32):.3f}", f"{sum(drop) / len(drop):+.3f}",
                      f"{min(drop):+.3f}", f"{max(float(row['max_abs_difference']) for row in mine):.4f}"])
    return table(["checkpoint", "images", "fp32 PSNR", "bf16 - fp32, mean", "worst image", "largest pixel difference"],
                 lines, "lrrrrr")


def startup() -> str:
    """Start-up of the commands, this checkout against an earlier one (startup.py -> startup.csv): medians."""
    with (HERE / "startup.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    median = {(row["checkout"], row["command"]): row["median_s"] for row in rows}
    commands = list(dict.fromkeys(row["command"] for row in rows))
    return table(["command", "before (s)", "this (s)"],
                 [[command, median[("before", command)], median[("this", command)]] for command in commands], "lrr")


TABLES = {"startup": startup, "bf16_inference": bf16_inference, "traffic": traffic, "budget_runs": budget_runs, "budget_per_image": budget_per_image,
          "scaling": scaling, "scaling_fit": scaling_fit, "baselines": baselines, "bf16": bf16}
