"""The paper tables' README tables, from the committed files of this folder: ``budget.json``
(the step budget), ``<task>/runs.csv`` (one row per run: its mean over the test images),
``<task>/comparisons.csv`` (jointsr-report's paired comparisons with Proposed),
``<task>/report.csv`` (per image, through ``per_image.py``) and ``degradation_check.csv``
(``degradation_check.py``); the paper's numbers from ``jointsr/report/published.py`` and the
20-minute runs from ``jointsr/pretrained/<task>.json``."""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import (Paired, fixed, interval, mean_std, pearson, read_csv, read_json, signed, table,  # noqa: E402
                     thousands)

from jointsr.models.catalog import model_titles  # noqa: E402
from jointsr.report.published import paper_result, paper_table  # noqa: E402
from jointsr.pretrained import FOLDER as PRETRAINED  # noqa: E402

MODEL_TITLES = model_titles()
TASKS = {"cave_x4": ("cave", 4), "nir_x4": ("rgbnir", 4)}
#: the rows in the order of the paper's tables, then ours
ORDER = ["bicubic", "srfbn", "djf", "coista", "lmcsc", "jointsr_paper", "jointsr"]
#: training patches of all 20 training images at x4 (pinned by tests/test_experiments.py::
#: test_the_paper_protocol_cuts_the_papers_training_patches), batch 16
PATCHES = {"cave": 4840, "rgbnir": 12220}
BATCH = 16


def _per_image_module():
    spec = importlib.util.spec_from_file_location("paper_tables_per_image", HERE / "per_image.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _runs(task: str) -> dict[str, dict[int, dict]]:
    """``{model: {seed: row}}`` of the task's finished runs."""
    models: dict[str, dict[int, dict]] = {}
    for row in read_csv(HERE / task / "runs.csv"):
        if row["status"] == "finished":
            models.setdefault(row["model"], {})[int(row["seed"])] = row
    return models


def _psnr(run: dict) -> float:
    return float(run["psnr"])


def budget() -> str:
    document = read_json(HERE / "budget.json")
    rows = []
    for model, entry in document["models"].items():
        epochs = [entry["steps"] / (PATCHES[data] / BATCH) for data in ("cave", "rgbnir")]
        rows.append([MODEL_TITLES[model], entry["path"], f"{entry['steps_per_s']:.2f}", thousands(entry["steps"]),
                     f"{epochs[0]:.2f}", f"{epochs[1]:.2f}"])
    return table(["row", "training path", "steps/s (idle)", f"steps in {document['minutes']:g} min",
                  f"epochs of CAVE x4 ({PATCHES['cave'] / BATCH:g} steps)",
                  f"epochs of RGB-NIR x4 ({PATCHES['rgbnir'] / BATCH:g} steps)"], rows, "llrrrr")


def _results(task: str) -> str:
    data, scale = TASKS[task]
    runs = _runs(task)
    bicubic = _psnr(next(iter(runs["bicubic"].values())))
    paired = {row["configuration"]: row for row in read_csv(HERE / task / "comparisons.csv")}
    rows = []
    for model in ORDER:
        if model not in runs:
            continue
        by_seed = runs[model]
        title = MODEL_TITLES[model]
        psnr = [_psnr(run) for run in by_seed.values()]
        ssim = [float(run["ssim"]) for run in by_seed.values()]
        first = next(iter(by_seed.values()))
        mean = statistics.mean(psnr)
        if model == "bicubic":
            cells = ["–", fixed(mean), fixed(ssim[0], 4), "–"]
        else:
            cells = [", ".join(str(seed) for seed in sorted(by_seed)), mean_std(psnr), mean_std(ssim, 4),
                     signed(mean - bicubic)]
        against = paired.get(title)
        versus = (f"{signed(float(against['delta_psnr']))} "
                  f"{interval(float(against['t_low']), float(against['t_high']))}" if against else "–")
        paper = paper_result(data, scale, model)
        published = paper["mean"]["psnr"] if paper else None
        rows.append([title, thousands(first["params"]) if first["params"] else "0",
                     thousands(first["train_steps"]), *cells, versus, fixed(published),
                     signed(mean - published) if published is not None else "–"])
    return table(["row", "params", "steps", "seeds", "PSNR (dB)", "SSIM", "vs bicubic",
                  "paired vs Proposed [95 % CI over seeds]", "paper (GPU)", "vs paper"], rows, "lrrrrrrrrr")


def _neighbours(task: str) -> str:
    """Each row against the next one down in our order (by mean PSNR), paired by seed; the
    parameter-free bicubic pairs its one result with every seed."""
    runs = _runs(task)
    means = {model: statistics.mean(_psnr(run) for run in by_seed.values()) for model, by_seed in runs.items()}
    order = sorted(means, key=means.get, reverse=True)
    rows = []
    for upper, lower in zip(order, order[1:]):
        a, b = runs[upper], runs[lower]
        if upper == "bicubic" or lower == "bicubic":
            single = _psnr(next(iter((a if upper == "bicubic" else b).values())))
            other = b if upper == "bicubic" else a
            seeds = sorted(other)
            diffs = [(single - _psnr(other[s])) if upper == "bicubic" else (_psnr(other[s]) - single) for s in seeds]
        else:
            seeds = sorted(set(a) & set(b))
            diffs = [_psnr(a[s]) - _psnr(b[s]) for s in seeds]
        test = Paired(diffs)
        rows.append([f"{MODEL_TITLES[upper]} − {MODEL_TITLES[lower]}", ", ".join(map(str, seeds)),
                     " / ".join(signed(d) for d in diffs), signed(test.mean), interval(test.low, test.high),
                     "**shown**" if test.shown else "not shown"])
    return table(["pair (a − b)", "seeds", "a − b per seed (dB)", "mean (dB)", "95 % t-interval, seeds",
                  "difference"], rows, "llrrrl")


def _per_image(task: str) -> str:
    text = _per_image_module().comparison(HERE / task / "report.csv")
    return text.split("\n\n", 1)[1]


def gains() -> str:
    """Gain over our bicubic (mean over the test images), the paper's and ours, on both tasks."""
    bicubic, ours = {}, {}
    for task, (data, scale) in TASKS.items():
        runs = _runs(task)
        bicubic[data] = _psnr(next(iter(runs["bicubic"].values())))
        ours[data] = {model: statistics.mean(_psnr(run) for run in by_seed.values()) for model, by_seed in runs.items()}
    rows = []
    for model in ORDER[1:]:
        paper = [paper_result(data, scale, model) for data, scale in TASKS.values()]
        rows.append([MODEL_TITLES[model], "5 CPU min as steps (`budget.json`)",
                     *[signed(p["mean"]["psnr"] - bicubic[data]) if p else "–"
                       for p, (data, _) in zip(paper, TASKS.values())],
                     *[signed(ours[data][model] - bicubic[data]) if model in ours[data] else "–"
                       for data, _ in TASKS.values()]])
    pretrained = {data: read_json(PRETRAINED / f"{task}.json") for task, (data, _) in TASKS.items()}
    rows.append([MODEL_TITLES["jointsr"], "20 min (`jointsr/pretrained/`)", "–", "–",
                 *[signed(pretrained[data]["mean"]["psnr"] - pretrained[data]["bicubic"]["mean"]["psnr"])
                   for data, _ in TASKS.values()]])
    return table(["method", "our budget", "paper − our bicubic, CAVE x4", "paper − our bicubic, RGB-NIR x4",
                  "ours − bicubic, CAVE x4", "ours − bicubic, RGB-NIR x4"], rows, "llrrrr")


#: degradation_check.csv's columns, as the table titles them
DEGRADATIONS = {"ours": "ours (MATLAB bicubic, antialiased)", "decimation": "decimation, block centre",
                "decimation_corner": "decimation, block corner", "gauss1": "Gaussian σ = 1, decimation",
                "gauss2": "Gaussian σ = 2, decimation"}


def degradation() -> str:
    rows = read_csv(HERE / "degradation_check.csv")
    srfbn = paper_table("rgbnir", 4)["srfbn"]
    names = [row["image"] for row in rows]
    paper = [srfbn[name]["psnr"] for name in names]
    columns = {key: [float(row[key]) for row in rows] for key in DEGRADATIONS}
    body = [[name, fixed(p), *[fixed(columns[key][i]) for key in DEGRADATIONS]] for i, (name, p) in
            enumerate(zip(names, paper))]
    body.append(["mean", fixed(statistics.mean(paper)),
                 *[fixed(statistics.mean(columns[key])) for key in DEGRADATIONS]])
    body.append(["r with our bicubic", "–",
                 *[f"{pearson(columns[key], columns['ours']):.3f}" for key in DEGRADATIONS]])
    body.append(["r with the paper's SRFBN", "–", *[f"{pearson(paper, columns[key]):.3f}" for key in DEGRADATIONS]])
    gains_ = {key: [p - b for p, b in zip(paper, columns[key])] for key in DEGRADATIONS}
    body.append(["paper's SRFBN − this bicubic: min..max", "–",
                 *[f"{signed(min(gains_[key]))}..{signed(max(gains_[key]))}" for key in DEGRADATIONS]])
    return table(["image", "paper's SRFBN", *[f"bicubic after {title}" for title in DEGRADATIONS.values()]],
                 body, "lrrrrrr")


TABLES = {
    "budget": budget,
    "cave_x4": lambda: _results("cave_x4"),
    "cave_x4_neighbours": lambda: _neighbours("cave_x4"),
    "cave_x4_per_image": lambda: _per_image("cave_x4"),
    "nir_x4": lambda: _results("nir_x4"),
    "nir_x4_neighbours": lambda: _neighbours("nir_x4"),
    "nir_x4_per_image": lambda: _per_image("nir_x4"),
    "gains": gains,
    "degradation": degradation,
}
