"""experiments/paper_tables/per_image.py: our per-image PSNR beside the paper's."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import pytest

from jointsr.report.published import paper_table

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "paper_tables" / "per_image.py"
FIELDS = ["data", "scale", "source", "run", "model", "T", "R", "params", "image", "psnr", "ssim", "ssim_plain",
          "directory"]


def _load():
    spec = importlib.util.spec_from_file_location("per_image", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_uniform_offset_reads_as_one_with_r_one_and_gains_over_our_bicubic(tmp_path):
    """DJF two seeds at paper + 0.5 and paper + 1.5 on every image: the seed mean is paper + 1,
    the same on every image (std 0, r 1); bicubic 3 dB below the paper's DJF everywhere."""
    paper = paper_table("rgbnir", 4)["djf"]
    images = sorted(name for name in paper if name != "mean")
    rows = []
    for name in images:
        p = paper[name]["psnr"]
        rows.append({"data": "rgbnir", "scale": 4, "source": "ours", "run": "bicubic, x4", "model": "bicubic",
                     "image": name, "psnr": p - 3.0})
        for seed, shift in ((1, 0.5), (2, 1.5)):
            rows.append({"data": "rgbnir", "scale": 4, "source": "ours", "run": f"seed={seed}", "model": "djf",
                         "image": name, "psnr": p + shift})
        rows.append({"data": "rgbnir", "scale": 4, "source": "paper", "run": "paper", "model": "djf",
                     "image": name, "psnr": p})
    text = _load().comparison(_write(tmp_path / "report.csv", rows))
    djf = next(line for line in text.splitlines() if line.startswith("| DJF |"))
    mean = sum(paper[name]["psnr"] for name in images) / len(images)
    assert djf == (f"| DJF | 2 | {mean + 1:.2f} | {mean:.2f} | +1.00 ± 0.00 | 1.000 | +3.00..+3.00 | +4.00..+4.00 "
                   f"| 1.000 |")
    lmcsc = next(line for line in text.splitlines() if line.startswith("| LMCSC |"))
    assert lmcsc.startswith("| LMCSC | – | – |")  # no run of ours: the paper's side only


def test_a_report_without_bicubic_or_of_two_tasks_is_refused(tmp_path, capsys):
    module = _load()
    row = {"data": "rgbnir", "scale": 4, "source": "ours", "run": "r", "model": "djf", "image": "urban/0004",
           "psnr": 30.0}
    with pytest.raises(SystemExit, match="no bicubic run"):
        module.comparison(_write(tmp_path / "a.csv", [row]))
    with pytest.raises(SystemExit, match="holds 2 tasks"):
        module.comparison(_write(tmp_path / "b.csv", [row, {**row, "data": "cave"}]))
    assert module.main([str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv is not a file" in capsys.readouterr().err


def _run(folder: Path, model: str, seed: int, loss: str, mse: float, val: tuple[float, float]) -> None:
    """A finished run folder as jointsr-train leaves it: test_metrics.json, the Hydra config and
    the CSV log (train/loss every 20 steps, two validations)."""
    (folder / ".hydra").mkdir(parents=True)
    (folder / "csv").mkdir()
    (folder / "test_metrics.json").write_text(f'{{"model": "{model}", "training": {{"steps": 400}}}}')
    (folder / ".hydra" / "config.yaml").write_text(f"seed: {seed}\nmodel:\n  loss: {loss}\n")
    rows = [{"step": step, "train/loss": mse} for step in range(19, 400, 20)]
    rows += [{"step": 199, "val/psnr": val[0]}, {"step": 399, "val/psnr": val[1]}]
    with (folder / "csv" / "metrics.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["step", "train/loss", "val/psnr"], restval="")
        writer.writeheader()
        writer.writerows(rows)


def test_the_step_matched_loss_is_paired_by_seed_with_proposed(tmp_path):
    for seed, base in ((1, 1e-3), (2, 2e-3)):
        _run(tmp_path / "paper" / f"p{seed}", "jointsr_paper", seed, "mse", base, (30.0, 31.0))
        _run(tmp_path / "paper" / f"l{seed}", "lmcsc", seed, "mse", base / 10 ** 0.1, (32.0, 32.5))
        _run(tmp_path / "paper" / f"s{seed}", "srfbn", seed, "l1", base, (20.0, 21.0))
    lines = _load().convergence(tmp_path).splitlines()
    rows = {line.split(" | ")[0][2:]: line for line in lines[2:]}
    # PSNR of the mean MSE over steps 251-350: 30 and 26.99 dB for Proposed; LMCSC 1 dB higher on both seeds
    proposed = f"{(30 + 10 * math.log10(1 / 2e-3 / 1000) + 30) / 2:.2f}"
    # validations at steps 199 and 399 of a 400-step budget: each value is shown with its step
    assert rows["jointsr_paper"] == (f"| jointsr_paper | 2 | 400 | 30.00 | 199 | 31.00 | 399 | +1.00 | {proposed} ± "
                                     f"{abs(10 * math.log10(2)) / math.sqrt(2):.2f} | – |")
    assert rows["lmcsc"].endswith("| +1.00 ± 0.00 (2 seeds) |")
    assert rows["srfbn"].endswith("| +1.00 | – | – |")  # trained with L1: no MSE to compare


def test_the_validations_are_shown_at_the_steps_they_were_taken_not_at_half_and_end(tmp_path):
    """CoISTA's case: a 3,850-step budget validated every 1000 steps. The value "at half the
    budget" is the validation of step 1000 and the last one that of step 3000, and the table
    says so."""
    folder = tmp_path / "paper" / "c1"
    (folder / ".hydra").mkdir(parents=True)
    (folder / "csv").mkdir()
    (folder / "test_metrics.json").write_text('{"model": "coista", "training": {"steps": 3850}}')
    (folder / ".hydra" / "config.yaml").write_text("seed: 1\nmodel:\n  loss: mse\n")
    with (folder / "csv" / "metrics.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["step", "train/loss", "val/psnr"], restval="")
        writer.writeheader()
        writer.writerows([{"step": step, "val/psnr": psnr} for step, psnr in ((1000, 36.0), (2000, 37.0),
                                                                              (3000, 37.5))])
    (row,) = _load().convergence(tmp_path).splitlines()[2:]
    assert row.startswith("| coista | 1 | 3850 | 36.00 | 1000 | 37.50 | 3000 | +1.50 |")
