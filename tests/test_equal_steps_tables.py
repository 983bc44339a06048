"""experiments/paper_tables/equal_steps/tables.py: the trend table's slope, sign changes and
fitted gap at the paper's 30,000 steps, checked against the line written out."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "paper_tables" / "equal_steps" / "tables.py"


def _load():
    spec = importlib.util.spec_from_file_location("equal_steps_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(folder: Path, rows: list[tuple[str, int, int, float]]) -> None:
    with (folder / "runs.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", "seed", "step", "psnr", "ssim"])
        writer.writerows((model, seed, step, f"{psnr:.6f}", "0.9") for model, seed, step, psnr in rows)


def _row(table: str, title: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| {title} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_a_gap_on_a_line_in_log2_steps_gives_that_slope_and_its_value_at_30000(tmp_path):
    """LMCSC - Proposed = 2.0 - 0.4 * log2(step / 250) in every seed (seed noise common to both
    rows cancels in the pairs): slope -0.4 dB per doubling, sign change between 2,000 (+0.80)
    and 16,000 steps (-0.40), and at 30,000 steps 2.0 - 0.4 * log2(120) = -0.76."""
    steps = [250, 500, 2000, 16000]
    rows = []
    for seed, noise in ((1, 0.3), (2, -0.1), (3, 0.05)):
        for step in steps:
            proposed = 30.0 + math.log2(step) + noise
            rows += [("jointsr_paper", seed, step, proposed),
                     ("lmcsc", seed, step, proposed + 2.0 - 0.4 * math.log2(step / 250))]
    _write(tmp_path, rows)
    cells = _row(_load().trend(tmp_path), "LMCSC")
    assert cells[1] == "+2.00, +1.60, +0.80, -0.40"
    assert cells[2] == "2,000→16,000"
    assert cells[3] == "-0.40"
    assert cells[4] == f"{2.0 - 0.4 * math.log2(30000 / 250):+.2f}" == "-0.76"


def test_a_horizon_fewer_seeds_reached_is_shown_but_not_fitted(tmp_path):
    """A 4,000-step horizon with one seed (gap -9) is listed with its n, and neither bends the
    slope (0 over the horizons all three seeds reached, gap +1 there) nor counts as a crossing."""
    rows = []
    for seed in (1, 2, 3):
        for step in (250, 1000):
            rows += [("jointsr_paper", seed, step, 30.0 + seed), ("djf", seed, step, 31.0 + seed)]
    rows += [("jointsr_paper", 1, 4000, 35.0), ("djf", 1, 4000, 26.0)]
    _write(tmp_path, rows)
    cells = _row(_load().trend(tmp_path), "DJF")
    assert cells[1:5] == ["+1.00, +1.00, -9.00 (n=1)", "none", "+0.00", "+1.00"]


def test_a_row_whose_horizons_are_one_schedule_gets_no_trend_line(tmp_path):
    """JointSR-fast's horizons are points of one cosine over the budget: its gaps and sign changes
    are listed, but neither a slope nor a value at 30,000 steps is read from them."""
    rows = []
    for seed in (1, 2, 3):
        for step in (250, 1000, 3000):
            rows += [("jointsr_paper", seed, step, 30.0), ("jointsr", seed, step, 30.0 + step / 1000)]
    _write(tmp_path, rows)
    cells = _row(_load().trend(tmp_path), "JointSR-fast")
    assert cells[1:] == ["+0.25, +1.00, +3.00", "none", "– (one schedule)", "– (one schedule)"]


def test_the_second_paired_table_takes_the_raw_adam_row_as_its_reference(tmp_path):
    """Seeds 1-3: raw Adam 31, 32, 33; Proposed 30, 30, 30; LMCSC 32, 33, 35. LMCSC - raw = 1, 1, 2:
    mean 1.33, sd sqrt(1/3), 95 % t-interval 1.33 +- 4.303 * sqrt(1/3) / sqrt(3) = [-0.10, +2.77]."""
    rows = []
    for seed, raw, lmcsc in ((1, 31.0, 32.0), (2, 32.0, 33.0), (3, 33.0, 35.0)):
        rows += [("jointsr_paper", seed, 1000, 30.0), ("jointsr_paper_raw", seed, 1000, raw),
                 ("lmcsc", seed, 1000, lmcsc)]
    _write(tmp_path, rows)
    module = _load()
    table = module.TABLES["paired_raw"](folder=tmp_path)
    assert table.splitlines()[0] == "| model − Proposed, raw Adam (control) | 1,000 |"
    half = 4.303 * math.sqrt(1 / 3) / math.sqrt(3)
    expected = f"+1.33 [{4 / 3 - half:+.2f}, {4 / 3 + half:+.2f}] (3)"
    assert _row(table, "LMCSC")[1] == expected == "+1.33 [-0.10, +2.77] (3)"
    assert _row(table, "Proposed, equalized (first fix)")[1] == "-2.00 [-4.48, +0.48] (3)"
    assert "Proposed, raw Adam" not in "".join(table.splitlines()[2:])


def test_the_third_paired_table_takes_the_shipped_row_as_its_reference(tmp_path):
    """Seeds 1-3: shipped (RAdam and a ramp) 34, 35, 36; raw Adam 33, 33, 33. raw - shipped = -1,
    -2, -3: mean -2, sd 1, 95 % t-interval -2 +- 4.303 / sqrt(3) = [-4.48, +0.48]; the shipped row
    is not listed against itself."""
    rows = []
    for seed, radam in ((1, 34.0), (2, 35.0), (3, 36.0)):
        rows += [("jointsr_paper_radam_ramp", seed, 500, radam), ("jointsr_paper_raw", seed, 500, 33.0)]
    _write(tmp_path, rows)
    table = _load().TABLES["paired_shipped"](folder=tmp_path)
    assert table.splitlines()[0] == "| model − Proposed, RAdam + ramp (shipped) | 500 |"
    half = 4.303 / math.sqrt(3)
    assert _row(table, "Proposed, raw Adam (control)")[1] == f"-2.00 [{-2 - half:+.2f}, {-2 + half:+.2f}] (3)"
    assert "shipped" not in "".join(table.splitlines()[2:])
