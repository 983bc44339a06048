"""``jointsr-report`` on run folders this test makes itself: a seed sweep of tiny real fits
(with a killed and a damaged run), and written run folders with hand-chosen per-image numbers."""

from __future__ import annotations

import copy
import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import discovery
import hydra
import pytest
from conftest import compose_config, require_data
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf, open_dict
from PIL import Image

from jointsr.cli.report import main
from jointsr.cli.summary import summarise
from jointsr.cli.train import train
from jointsr.report import Configuration, Run, compare, configurations
from jointsr.report.aggregation import launch_order
from jointsr.report.plots import _mean_curve, plot_curves
from jointsr.report.published import PAPER_MODELS, PAPER_RESULTS, read_published
from jointsr.report.references import bicubic_reference
from jointsr.report.runs import read_budget, read_run, read_test_curve
from jointsr.report.tables import _summary_table

TINY = ["debug=fast", "logger=csv", "model.net.k=8", "model.net.K=3"]
T_975 = {1: math.tan(math.pi * 0.475), 2: 0.95 / math.sqrt(2 * 0.975 * 0.025)}  # closed forms, df 1 and 2


def _write_hydra_dir(run_dir: Path, cfg, overrides: list[str], model: str = "jointsr", data: str = "rgbnir") -> None:
    """What Hydra writes into a job directory: the config, the overrides and the choices."""
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, hydra_dir / "config.yaml")
    OmegaConf.save(OmegaConf.create(overrides), hydra_dir / "overrides.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": {"runtime": {"choices": {"data": data, "model": model}}}}),
                   hydra_dir / "hydra.yaml")


def _csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def _section(markdown: str, start: str) -> str:
    """The table that follows the paragraph beginning with ``start``."""
    return markdown.split(start, 1)[1].split("\n\n")[1]


# ---------------------------------------------------------------------------- a real seed sweep
@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A sweep folder as `jointsr-train -m ... model.net.R=1,2 seed=1,2` leaves it, with a third
    job killed (only `.hydra/`) and one whose test_metrics.json is damaged."""
    require_data("rgbnir")
    base = tmp_path_factory.mktemp("report")
    root = base / "sweep"
    for r, seed, fit in [(1, 1, True), (1, 2, True), (2, 1, True), (2, 2, True), (3, 1, False)]:
        overrides = TINY + [f"model.net.R={r}", f"seed={seed}"]
        run_dir = root / ",".join(sorted(overrides))
        cfg = compose_config("train", overrides, run_dir)
        with open_dict(cfg):
            cfg.paths.cache_dir = str(base / "cache")  # one patch store for all runs
        _write_hydra_dir(run_dir, cfg, overrides)
        if fit:
            train(cfg)
    damaged = root / "damaged"
    damaged.mkdir()
    (damaged / "test_metrics.json").write_text('{"model": "jointsr", "per_image": [')
    GlobalHydra.instance().clear()
    return root


@pytest.fixture(scope="module")
def report(sweep, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "report"
    assert main([str(sweep), "--out", str(out)]) == 0
    return out


def _documents(sweep: Path) -> dict[tuple[int, int], dict]:
    """(R, seed) -> the run's test_metrics.json."""
    found = {}
    for path in sweep.glob("*/test_metrics.json"):
        if path.parent.name == "damaged":
            continue
        names = dict(part.split("=") for part in path.parent.name.split(","))
        found[(int(names["model.net.R"]), int(names["seed"]))] = json.loads(path.read_text())
    return found


@pytest.mark.slow
def test_runs_that_differ_only_in_seed_are_one_configuration(sweep, report):
    documents = _documents(sweep)
    assert sorted(documents) == [(1, 1), (1, 2), (2, 1), (2, 2)]
    rows = {(row["configuration"], row["image"]): row for row in _csv_rows(report / "configurations.csv")}
    assert {label for label, _ in rows} == {"model.net.R=1", "model.net.R=2"}
    for r in (1, 2):
        row = rows[(f"model.net.R={r}", "mean")]
        a, b = documents[(r, 1)]["mean"]["psnr"], documents[(r, 2)]["mean"]["psnr"]
        assert (row["n"], row["seeds"]) == ("2", "1 2")
        assert float(row["psnr_mean"]) == pytest.approx((a + b) / 2)
        assert float(row["psnr_std"]) == pytest.approx(abs(a - b) / math.sqrt(2))  # ddof=1, n=2
        assert (float(row["psnr_min"]), float(row["psnr_max"])) == (pytest.approx(min(a, b)), pytest.approx(max(a, b)))
        for image in documents[(r, 1)]["per_image"]:  # per image as well
            other = next(i for i in documents[(r, 2)]["per_image"] if i["name"] == image["name"])
            per_image = rows[(f"model.net.R={r}", image["name"])]
            assert float(per_image["ssim_mean"]) == pytest.approx((image["ssim"] + other["ssim"]) / 2)
    markdown = (report / "report.md").read_text()
    summary = _section(markdown, "Per configuration")
    assert "| model.net.R=1 * | jointsr |" in summary and "| 2 (1, 2) |" in summary
    a, b = documents[(1, 1)]["mean"]["psnr"], documents[(1, 2)]["mean"]["psnr"]
    assert f"{(a + b) / 2:.2f} ± {abs(a - b) / math.sqrt(2):.2f}" in summary
    assert f"{min(a, b):.2f}–{max(a, b):.2f}" in summary


@pytest.mark.slow
def test_the_paired_comparison_is_the_t_interval_over_seeds(sweep, report):
    documents = _documents(sweep)
    per_seed = []
    for seed in (1, 2):
        r1 = {row["name"]: row["psnr"] for row in documents[(1, seed)]["per_image"]}
        r2 = {row["name"]: row["psnr"] for row in documents[(2, seed)]["per_image"]}
        per_seed.append(sum(r2[name] - r1[name] for name in r1) / len(r1))
    mean = sum(per_seed) / 2
    half = T_975[1] * abs(per_seed[0] - per_seed[1]) / math.sqrt(2) / math.sqrt(2)  # t * s / sqrt(n)
    [row] = _csv_rows(report / "comparisons.csv")
    assert (row["configuration"], row["reference"], row["seeds"], row["images"]) == \
        ("model.net.R=2", "model.net.R=1", "1 2", "2")
    assert float(row["delta_psnr"]) == pytest.approx(mean)
    assert (float(row["t_low"]), float(row["t_high"])) == (pytest.approx(mean - half), pytest.approx(mean + half))
    markdown = (report / "report.md").read_text()
    assert "Paired comparison with **model.net.R=1**" in markdown and "paired t-interval" in markdown


@pytest.mark.slow
def test_per_run_numbers_are_the_runs_test_metrics_and_paths_are_relative(sweep, report):
    documents = _documents(sweep)
    rows = [row for row in _csv_rows(report / "report.csv") if row["source"] == "ours"]
    for (r, seed), document in documents.items():
        mine = [row for row in rows if row["configuration"] == f"model.net.R={r}" and row["seed"] == str(seed)]
        directory = {row["directory"] for row in mine}
        assert len(directory) == 1 and not Path(directory.pop()).is_absolute()
        assert (sweep / mine[0]["directory"] / "test_metrics.json").is_file()
        mean_row = next(row for row in mine if row["image"] == "mean")
        for metric, value in document["mean"].items():
            assert float(mean_row[metric]) == value
        assert {row["image"]: float(row["psnr"]) for row in mine if row["image"] != "mean"} == \
            {row["name"]: row["psnr"] for row in document["per_image"]}
    paper_mean = next(row for row in _csv_rows(report / "report.csv")
                      if row["source"] == "paper" and row["model"] == "proposed" and row["image"] == "mean")
    assert (paper_mean["data"], paper_mean["scale"], float(paper_mean["psnr"])) == ("rgbnir", "4", 35.19)
    markdown = (report / "report.md").read_text()
    assert f"Run directories are relative to `{sweep.resolve()}`" in markdown
    assert "`data=rgbnir" not in markdown and f"`{sweep}/" not in markdown


@pytest.mark.slow
def test_unfinished_and_unreadable_runs_are_listed_with_their_reason(report):
    markdown = (report / "report.md").read_text()
    listed = markdown.split("## Unfinished, failed or unreadable runs")[1]
    assert "model.net.R=3" in listed and "unfinished: no test_metrics.json" in listed
    assert "| `damaged` |" in listed and "unreadable: JSONDecodeError" in listed
    runs = _csv_rows(report / "runs.csv")
    assert sorted(row["status"].split(":")[0] for row in runs) == ["finished"] * 4 + ["unfinished", "unreadable"]
    assert "4 finished run(s), 2 unfinished" in markdown


@pytest.mark.slow
def test_plots_are_written_at_150_dpi_with_error_bars(report, compose_cfg):
    for stem in ("ablation", "params", "curves", "grids"):
        path = report / f"{stem}_rgbnir_x4.png"
        assert path.is_file(), path
        with Image.open(path) as image:
            assert image.info["dpi"] == (pytest.approx(150, abs=0.1), pytest.approx(150, abs=0.1))
        assert f"({path.name})" in (report / "report.md").read_text()
    params = {row["configuration"]: int(row["params"]) for row in _csv_rows(report / "runs.csv") if row["params"]}
    for r in ("1", "2"):  # as jointsr-summary counts them
        summary = summarise(compose_cfg("summary", ["model.net.k=8", "model.net.K=3", f"model.net.R={r}", "lr_size=8"]))
        assert params[f"model.net.R={r}"] == summary["params"] > 0


# ---------------------------------------------------------------------------- written run folders
#: per configuration, per seed: PSNR of the two images (chart_and_stuffed_toy, egyptian_statue)
FAST = "JointSR-fast (ours, CPU recipe)"
WRITTEN = {
    "model.net.T=1": {1: (30.0, 32.0), 2: (31.0, 33.0), 3: (29.0, 31.0)},    # means 31, 32, 30
    "model.net.T=2": {1: (30.5, 32.3), 2: (31.4, 33.6), 3: (29.6, 31.6)},    # minus T=1: 0.4, 0.5, 0.6
    "model.net.T=3": {1: (30.1, 31.9)},                                      # one seed
    "model.net.T=4": {1: (29.8, 31.8), 2: (31.1, 33.1), 3: (29.4, 31.4)},    # minus T=1: -0.2, 0.1, 0.4
}
BICUBIC = (28.0, 29.0)
IMAGES = ("chart_and_stuffed_toy", "egyptian_statue")


def _document(model: str, psnr: tuple[float, float]) -> dict:
    rows = [{"name": name, "psnr": value, "ssim": 0.9, "ssim_plain": 0.8} for name, value in zip(IMAGES, psnr)]
    document = {"model": model, "data": "cave", "scale": 4, "per_image": rows,
                "mean": {"psnr": sum(psnr) / 2, "ssim": 0.9, "ssim_plain": 0.8}}
    if model == "bicubic":  # as jointsr-eval records it: no parameters, whatever the seed
        document["params"] = 0
    return document


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    """Run folders as jointsr-train writes them (config, overrides, choices, test_metrics.json),
    with the per-image PSNR of ``WRITTEN`` and one bicubic run."""
    root = tmp_path_factory.mktemp("written") / "sweep"
    jointsr = compose_config("train", ["data=cave", "logger=csv"], root)
    bicubic = compose_config("train", ["data=cave", "model=bicubic"], root)
    GlobalHydra.instance().clear()
    for label, seeds in WRITTEN.items():
        depth = int(label.rsplit("=", 1)[1])
        for seed, psnr in seeds.items():
            overrides = ["logger=csv", f"model.net.T={depth}", f"seed={seed}", "hydra.sweep.dir=/somewhere"]
            run_dir = root / f"logger=csv,model.net.T={depth},seed={seed}"
            cfg = copy.deepcopy(jointsr)
            cfg.model.net.T, cfg.seed = depth, seed
            _write_hydra_dir(run_dir, cfg, overrides, data="cave")
            (run_dir / "test_metrics.json").write_text(json.dumps(_document("jointsr", psnr)))
    run_dir = root.parent / "bicubic_run"
    _write_hydra_dir(run_dir, bicubic, ["data=cave", "model=bicubic"], model="bicubic", data="cave")
    (run_dir / "test_metrics.json").write_text(json.dumps(_document("bicubic", BICUBIC)))
    return root.parent


@pytest.fixture(scope="module")
def written_report(written, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("written_out")
    assert main([str(written), "--out", str(out), "--no-params"]) == 0
    return out


def test_the_command_a_run_prints_writes_the_report_beside_the_runs(written, tmp_path, capsys):
    """The end of a run prints ``jointsr-report <run folder>``: without --out the report goes to
    <folder>/report; two folders need --out (one line, exit 2)."""
    folder = tmp_path / "runs"
    shutil.copytree(written, folder)
    assert main([str(folder), "--no-params"]) == 0
    assert (folder / "report" / "report.md").is_file()
    with pytest.raises(SystemExit) as refused:
        main([str(folder), str(written), "--no-params"])
    assert refused.value.code == 2 and "name the report's folder with --out" in capsys.readouterr().err


def test_mean_std_and_range_of_hand_written_runs(written_report):
    rows = {(row["configuration"], row["image"]): row for row in _csv_rows(written_report / "configurations.csv")}
    assert set(label for label, _ in rows) == {"Bicubic"} | {f"{FAST} model.net.T={t}" for t in (1, 2, 3, 4)}
    overall = rows[("JointSR-fast (ours, CPU recipe) model.net.T=1", "mean")]
    # seeds' means 31, 32, 30: mean 31, sample std sqrt((0 + 1 + 1) / 2) = 1
    assert (float(overall["psnr_mean"]), float(overall["psnr_std"])) == (31.0, 1.0)
    assert (float(overall["psnr_min"]), float(overall["psnr_max"])) == (30.0, 32.0)
    image = rows[("JointSR-fast (ours, CPU recipe) model.net.T=1", "egyptian_statue")]  # 32, 33, 31
    assert (float(image["psnr_mean"]), float(image["psnr_std"]), image["n"]) == (32.0, 1.0, "3")
    single = rows[("JointSR-fast (ours, CPU recipe) model.net.T=3", "mean")]
    assert (single["n"], float(single["psnr_mean"]), single["psnr_std"]) == ("1", 31.0, "")
    summary = _section((written_report / "report.md").read_text(), "Per configuration")
    assert f"| {FAST} model.net.T=1 | jointsr | – | – | – | – | 3 (1, 2, 3) | 31.00 ± 1.00 | 30.00–32.00 |" in summary
    assert f"| {FAST} model.net.T=3 | jointsr | – | – | – | – | 1 (1) | 31.00 ± – | – |" in summary
    assert "| Bicubic | bicubic | 0 | – | – | – | 1 (12345); no parameters: the same for every seed | 28.50 ± – |" in summary


def test_comparisons_say_plainly_what_is_and_is_not_significant(written_report):
    comparisons = {row["configuration"]: row for row in _csv_rows(written_report / "comparisons.csv")}
    assert {row["reference"] for row in comparisons.values()} == {f"{FAST} model.net.T=1"}  # first with parameters
    t2 = T_975[2]
    # T=2: per-seed differences 0.4, 0.5, 0.6: mean 0.5, s = 0.1
    better = comparisons["JointSR-fast (ours, CPU recipe) model.net.T=2"]
    assert float(better["t_low"]) == pytest.approx(0.5 - t2 * 0.1 / math.sqrt(3))
    assert float(better["t_high"]) == pytest.approx(0.5 + t2 * 0.1 / math.sqrt(3))
    assert better["verdict"] == "significantly higher"
    # T=4: -0.2, 0.1, 0.4: mean 0.1, s = 0.3; the interval holds 0
    unsure = comparisons["JointSR-fast (ours, CPU recipe) model.net.T=4"]
    assert float(unsure["delta_psnr"]) == pytest.approx(0.1)
    assert float(unsure["t_low"]) == pytest.approx(0.1 - t2 * 0.3 / math.sqrt(3))
    assert unsure["verdict"] == "not significant (the 95 % CI over seeds contains 0)"
    # one shared seed: no interval
    single = comparisons["JointSR-fast (ours, CPU recipe) model.net.T=3"]
    assert (single["seeds"], single["verdict"], single["t_low"]) == ("1", "one seed: no uncertainty estimate", "")
    # bicubic (no parameters) pairs its one result with every seed: -2.5, -3.5, -1.5: mean -2.5, s = 1
    floor = comparisons["Bicubic"]
    assert (float(floor["delta_psnr"]), float(floor["t_high"])) == (-2.5, pytest.approx(-2.5 + t2 / math.sqrt(3)))
    assert floor["verdict"] == "significantly lower"
    table = _section((written_report / "report.md").read_text(), "Paired comparison with")
    assert "| JointSR-fast (ours, CPU recipe) model.net.T=4 | 3 | 2 | +0.100 | [-0.645, +0.845] |" in table
    assert "not significant" in table and "one seed: no uncertainty estimate" in table


def test_the_reference_can_be_chosen_by_its_overrides(written, tmp_path, capsys):
    assert main([str(written), "--out", str(tmp_path), "--no-params", "--reference", "model.net.T=2"]) == 0
    comparisons = {row["configuration"]: row for row in _csv_rows(tmp_path / "comparisons.csv")}
    assert {row["reference"] for row in comparisons.values()} == {f"{FAST} model.net.T=2"}
    # T=1 minus T=2: -0.4, -0.5, -0.6
    assert float(comparisons[f"{FAST} model.net.T=1"]["delta_psnr"]) == pytest.approx(-0.5)
    printed = capsys.readouterr().out
    assert f"{FAST} model.net.T=1  n=3  PSNR 31.00 ± 1.00  (min–max 30.00–32.00)" in printed
    assert f"{FAST} model.net.T=1 vs {FAST} model.net.T=2: -0.500 dB" in printed
    assert main([str(written), "--out", str(tmp_path), "--no-params", "--reference", "model.net.T=9"]) == 2
    assert "matches no configuration" in capsys.readouterr().err


def test_plots_draw_bicubic_and_the_ablation_axis_from_the_overrides(written_report):
    for stem in ("ablation", "params"):
        assert (written_report / f"{stem}_cave_x4.png").is_file() == (stem == "ablation")  # --no-params
    with Image.open(written_report / "ablation_cave_x4.png") as image:
        assert image.info["dpi"] == (pytest.approx(150, abs=0.1), pytest.approx(150, abs=0.1))
    assert "ablation_cave_x4.png" in (written_report / "report.md").read_text()


def test_bicubic_reference_is_a_bicubic_run_else_the_measured_mean(written):
    from jointsr.report import find_runs

    configs = configurations([run for run in find_runs([written]) if run.data == "cave"])
    assert bicubic_reference("cave", 4, configs).psnr == 28.5  # the run among the inputs
    trained = [config for config in configs if config.model != "bicubic"]
    assert bicubic_reference("cave", 4, trained).psnr == 30.33  # experiments/bicubic, same protocol
    assert bicubic_reference("cave", 16, trained) is None


def test_a_dataset_without_reference_numbers_still_reports(written, written_report, tmp_path):
    """A test set neither the measured bicubic table nor the paper holds: no reference line and
    no paper columns, the rest of the report as for any task."""
    from jointsr.report import find_runs

    assert "(paper)" in (written_report / "report.md").read_text()  # CAVE x4: the paper's columns
    runs = tmp_path / "runs"
    shutil.copytree(written / "sweep", runs)
    for path in runs.rglob("test_metrics.json"):
        path.write_text(json.dumps({**json.loads(path.read_text()), "data": "newset"}))
    configs = configurations(find_runs([runs]))
    assert {config.data for config in configs} == {"newset"}
    assert bicubic_reference("newset", 4, configs) is None
    out = tmp_path / "out"
    assert main([str(runs), "--out", str(out), "--no-params"]) == 0
    markdown = (out / "report.md").read_text()
    assert "## newset x4" in markdown and "(paper)" not in markdown
    assert (out / "ablation_newset_x4.png").is_file()


# ---------------------------------------------------------------------------- labels and pieces
def _run(index: int, overrides: list[str], model: str = "jointsr") -> Run:
    """A finished run as read_run returns it (a parameter-free model records 0 parameters)."""
    return Run(path=Path(f"/runs/{index}"), overrides=overrides, params=0 if model == "bicubic" else None,
               document={"model": model, "data": "cave", "scale": 4, "per_image": [{"name": "a", "psnr": 30.0 + index,
                                                                                    "ssim": 0.9, "ssim_plain": 0.8}],
                         "mean": {"psnr": 30.0 + index, "ssim": 0.9, "ssim_plain": 0.8}})


def test_labels_are_the_overrides_that_differ_without_escapes_or_common_keys():
    runs = [_run(0, ["model.net.T=1", "logger=csv", "hydra.sweep.dir=/a", "seed=1", "trainer.max_time=00:00:02:00",
                     "model.optimizer.lr=0.0007580393296846865"]),
            _run(1, ["model.net.T=1", "logger=csv", "hydra.sweep.dir=/b", "seed=2", "trainer.max_time=00:00:02:00",
                     "model.optimizer.lr=0.0007580393296846865"]),
            _run(2, ["model.net.T=2", "logger=csv", "hydra.sweep.dir=/c", "seed=1", "trainer.max_time='00:00:04:00'",
                     "model.optimizer.lr=1e-3"]),
            _run(3, ["model=bicubic"], model="bicubic")]
    configs = configurations(runs)
    assert [(config.label, len(config.runs)) for config in configs] == [
        ("Bicubic", 1),
        ("JointSR-fast (ours, CPU recipe) model.net.T=1,trainer.max_time=00:00:02:00,model.optimizer.lr=0.000758", 2),
        ("JointSR-fast (ours, CPU recipe) model.net.T=2,trainer.max_time=00:00:04:00,model.optimizer.lr=0.001", 1)]
    alone = configurations(runs[:2])
    assert [config.label for config in alone] == [FAST]  # nothing differs: the model's title


def test_models_come_in_the_order_they_were_launched_the_parameter_free_reference_first():
    """No model list in the report: a sweep's job numbers (hydra.job.num) order its models,
    whatever the folders' names; a model without parameters (the reference) comes first."""
    runs = []
    for job, model in enumerate(["srfbn", "jointsr", "coista", "bicubic", "newnet", "jointsr"]):
        run = _run(job, [f"model={model}", f"seed={job}"], model=model)
        run.path, run.job = Path(f"/sweep/{model}-{9 - job}"), job  # folder names sort backwards
        runs.append(run)
    assert [config.model for config in configurations(runs)] == ["bicubic", "srfbn", "jointsr", "coista", "newnet"]
    assert launch_order(runs) == {"srfbn": 0, "jointsr": 1, "coista": 2, "bicubic": 3, "newnet": 4}


def test_a_run_records_its_job_number(tmp_path):
    run_dir = tmp_path / "job"
    _write_hydra_dir(run_dir, OmegaConf.create({"seed": 1}), ["seed=1"])
    hydra_yaml = run_dir / ".hydra" / "hydra.yaml"
    OmegaConf.save(OmegaConf.merge(OmegaConf.load(hydra_yaml), {"hydra": {"job": {"num": 7}}}), hydra_yaml)
    assert read_run(run_dir).job == 7


def test_proposed_is_the_paper_network_and_the_fast_recipe_is_its_own_row_with_its_budget(tmp_path):
    """"Proposed" is jointsr_paper, compared with the paper's Proposed; the fast
    recipe is titled JointSR-fast and never compared with a paper row; each row shows the
    training budget (steps, minutes) behind its numbers."""
    runs = []
    for index, (model, steps, minutes) in enumerate([("jointsr_paper", 130, 5.0), ("jointsr", 1200, 5.0),
                                                     ("lmcsc", 300, 4.9)]):
        run = _run(index, [f"model={model}"], model=model)
        run.document["scale"], run.document["data"] = 4, "cave"
        run.document["training"] = {"steps": steps, "minutes": minutes, "tested": "last: the final weights"}
        run.budget = read_budget(run.document, tmp_path / "absent.csv")
        runs.append(run)
    configs = configurations(runs)
    assert [config.label for config in configs] == ["Proposed (jointsr_paper)", FAST, "LMCSC"]  # as launched
    lines = _summary_table(configs, {"proposed": {"psnr": 41.34, "ssim": 0.9969},
                                     "lmcsc": {"psnr": 40.44, "ssim": 0.9955}})
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines if line.startswith("| ")}
    assert "| 130 | 5.0 |" in rows["Proposed (jointsr_paper)"] and "41.34" in rows["Proposed (jointsr_paper)"]
    assert "| 1,200 | 5.0 |" in rows[FAST] and "41.34" not in rows[FAST]
    assert rows[FAST].endswith("| – | – | – |")  # no paper row to compare with


def test_a_row_is_titled_by_the_model_title_its_runs_ran_with():
    """A model config's ``title:`` (or ``model.title=`` on the command line) names its row;
    runs without one keep the model config's title."""
    runs = [_run(0, ["model=jointsr", "seed=1"]), _run(1, ["model=jointsr", "seed=2"]),
            _run(2, ["model=lmcsc", "seed=1"], model="lmcsc")]
    for run in runs[:2]:
        run.config = OmegaConf.create({"model": {"name": "jointsr", "title": "JointSR, k=48 atoms"}})
    assert [config.label for config in configurations(runs)] == ["JointSR, k=48 atoms", "LMCSC"]
    assert [config.label for config in configurations([runs[0], _run(2, ["model=lmcsc"], model="lmcsc")])] == [
        "JointSR, k=48 atoms", "LMCSC"]
    runs[1].config = OmegaConf.create({"model": {"title": "another"}})  # two titles in one row: the config's
    assert configurations(runs)[0].label == FAST


def test_an_eval_run_is_labelled_by_the_model_it_tested_not_evals_default_model():
    trained = _run(0, ["model=djf", "seed=1", "data.progress=false"], model="djf")
    tested = _run(1, ["ckpt_path=/runs/0/checkpoints/last.ckpt"], model="djf")
    tested.choices = {"model": "bicubic"}  # jointsr-eval's model= default, unused with a checkpoint
    labels = [config.label for config in configurations([trained, tested])]
    assert labels == ["DJF", "ckpt_path=/runs/0/checkpoints/last.ckpt"]  # no model=bicubic, no display keys


def test_depth_runs_show_the_rmse_in_their_unit_with_and_without_the_crop():
    runs = []
    for index, (seed, rmse) in enumerate([(1, 2.0), (2, 3.0)]):
        run = _run(index, ["model=djf", f"seed={seed}"], model="djf")
        run.document.update(data="lu6", rmse={"unit": "0-255", "border_crop": 6})
        for row in (run.document["per_image"][0], run.document["mean"]):
            row.update(rmse=rmse, rmse_crop=rmse + 0.5)
        runs.append(run)
    lines = _summary_table(configurations(runs), None)
    header = next(line for line in lines if line.startswith("| configuration"))
    assert "| RMSE (0-255) | RMSE crop 6 px |" in header
    assert any("| 2.500 ± 0.707 | 3.000 ± 0.707 |" in line for line in lines)


def test_budget_of_runs_written_before_test_metrics_recorded_it_comes_from_metrics_csv(tmp_path):
    table = tmp_path / "metrics.csv"
    table.write_text("epoch,step,train/loss,train/minutes,val/minutes,val/psnr\n0,49,0.1,0.5,,\n"
                     "0,99,0.1,1.0,,\n0,99,,,1.1,30.0\n")
    assert read_budget(None, table) == {"steps": 100, "minutes": 1.1}
    assert read_budget({"training": {"steps": 7, "minutes": None}}, table) == {"steps": 7, "minutes": None, "tested_step": None}
    assert read_budget(None, tmp_path / "absent.csv") is None


def test_runs_tested_on_other_crops_are_not_paired():
    runs = [_run(index, [f"model.net.T={depth}", f"seed={seed}"])
            for index, (depth, seed) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2)])]
    for run, crop in zip(runs, (None, None, 128, 128)):
        run.config = OmegaConf.create({"data": {"test_crop": crop}})
    reference, candidate = configurations(runs)
    comparison = compare(candidate, reference)
    assert comparison.verdict == "tested on other crops (data.test_crop 128 vs null): not compared"
    assert comparison.mean is None and comparison.t_interval is None


def test_mean_curve_over_seeds_that_validated_at_the_same_steps():
    curves = [[{"step": 10, "minutes": 1.0, "psnr": 30.0}, {"step": 20, "minutes": 2.0, "psnr": 32.0}],
              [{"step": 10, "minutes": 1.2, "psnr": 31.0}, {"step": 20, "minutes": 2.2, "psnr": 34.0}]]
    xs, means, stds = _mean_curve(curves, "minutes")
    assert xs == [pytest.approx(1.1), pytest.approx(2.1)] and means == [30.5, 33.0]
    assert stds == [pytest.approx(1 / math.sqrt(2)), pytest.approx(2 / math.sqrt(2))]
    assert _mean_curve([curves[0], curves[1][:1]], "step") is None  # different steps: one line per seed


def test_test_curves_from_timed_checkpoints_get_their_panel(tmp_path):
    (tmp_path / "test_curve.csv").write_text("minutes,step,psnr,ssim,checkpoint\n"
                                             "0.0,0,30.1,0.9,a.ckpt\n2.01,210,33.5,0.95,b.ckpt\n")
    curve = read_test_curve(tmp_path / "test_curve.csv")
    assert curve == [{"minutes": 0.0, "step": 0, "psnr": 30.1}, {"minutes": 2.01, "step": 210, "psnr": 33.5}]
    run = Run(path=tmp_path, curve=[{"step": 100, "minutes": 1.0, "psnr": 31.0}], test_curve=curve)
    config = Configuration("rgbnir", 4, "jointsr", {}, runs=[run], label="a")
    path = plot_curves([config], tmp_path / "curves.png", "t", dpi=80)
    with Image.open(path) as image:  # three panels: val vs step, val vs minutes, test vs minutes
        assert image.size[0] > 2.5 * image.size[1] and max(image.size) <= 1000
    assert read_test_curve(tmp_path / "absent.csv") == []


def test_a_missing_directory_is_an_error_a_user_can_act_on(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "not a run or sweep directory" in capsys.readouterr().err


def test_jobs_a_killed_sweep_never_reached_are_listed(tmp_path):
    """multirun.yaml says what the sweep was asked for: jobs without a folder are named."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    launched = {"hydra": {"overrides": {"task": ["logger=csv", "model.net.R=1,2,3"]},
                          "sweeper": {"params": {"model.net.T": "1,2"}}}}
    OmegaConf.save(OmegaConf.create(launched), sweep / "multirun.yaml")
    overrides = ["model.net.T=1", "logger=csv", "model.net.R=1"]  # the one job that started
    job = sweep / "job"
    _write_hydra_dir(job, compose_config("train", overrides, job), overrides)
    GlobalHydra.instance().clear()
    assert main([str(sweep), "--out", str(tmp_path / "out"), "--no-params"]) == 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert "0 finished run(s), 1 unfinished, 5 not started" in text
    for t, r in [(1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]:
        assert f"`logger=csv,model.net.R={r},model.net.T={t}`" in text
    assert "`logger=csv,model.net.R=1,model.net.T=1`" not in text


#: the paper's tables (jointsr/report/published.csv): dataset, scales, its test images in the slides' order
PAPER_TASKS = {"cave": ((4, 8), ["chart_and_stuffed_toy", "egyptian_statue", "feathers", "glass_tiles",
                                 "jelly_beans", "oil_painting", "paints"]),
               "rgbnir": ((2, 4), ["urban/0004", "urban/0006", "urban/0017", "oldbuilding/0018", "urban/0020",
                                   "urban/0026", "oldbuilding/0030", "urban/0050"])}


def test_the_published_tables_are_the_papers_as_written():
    assert sorted(PAPER_RESULTS) == sorted((data, scale) for data, (scales, _) in PAPER_TASKS.items()
                                           for scale in scales)
    assert PAPER_MODELS == ("srfbn", "djf", "coista", "lmcsc", "proposed")
    # a few cells as the slides print them: first and last image, the averages
    assert PAPER_RESULTS[("cave", 4)]["srfbn"]["chart_and_stuffed_toy"] == {"psnr": 33.43, "ssim": 0.9838}
    assert PAPER_RESULTS[("cave", 8)]["proposed"]["mean"] == {"psnr": 36.28, "ssim": 0.9869}
    assert PAPER_RESULTS[("rgbnir", 2)]["coista"]["urban/0050"] == {"psnr": 33.53, "ssim": 0.8837}
    assert PAPER_RESULTS[("rgbnir", 4)]["lmcsc"]["mean"] == {"psnr": 34.28, "ssim": 0.9843}


def test_the_published_numbers_are_read_from_a_data_file(tmp_path):
    table = tmp_path / "published.csv"
    table.write_text("dataset,scale,slide_label,image,method,psnr,ssim\n"
                     "newset,3,A,a,proposed,30.5,0.9\nnewset,3,Average,mean,proposed,30.5,0.9\n")
    assert read_published(table) == {("newset", 3): {"proposed": {"a": {"psnr": 30.5, "ssim": 0.9},
                                                                  "mean": {"psnr": 30.5, "ssim": 0.9}}}}


@pytest.mark.parametrize("data", sorted(PAPER_TASKS))
def test_paper_tables_match_their_published_averages(data):
    scales, names = PAPER_TASKS[data]
    inconsistent = {("cave", 8, "coista", "ssim"), ("rgbnir", 2, "coista", "ssim"),
                    ("rgbnir", 2, "lmcsc", "psnr"), ("rgbnir", 4, "lmcsc", "psnr")}  # as published
    for scale in scales:
        table = PAPER_RESULTS[(data, scale)]
        assert set(table) == set(PAPER_MODELS)
        for model, rows in table.items():
            assert list(rows) == [*names, "mean"]
            for metric, tolerance in (("psnr", 0.006), ("ssim", 0.00006)):
                mean = sum(rows[name][metric] for name in names) / len(names)
                if (data, scale, model, metric) not in inconsistent:
                    assert mean == pytest.approx(rows["mean"][metric], abs=tolerance), (data, scale, model)


@pytest.mark.parametrize("data", sorted(PAPER_TASKS))
def test_paper_image_names_are_our_test_images(data, tmp_path):
    """The published rows name the test images of the data config whose test dataset has that name."""
    require_data(data)
    tested = {}
    for config in discovery.DATA:
        cfg = discovery.data_config(config, tmp_path)
        dataset = hydra.utils.instantiate(cfg.data.test_dataset or cfg.data.dataset)
        tested[dataset.name] = dataset
    GlobalHydra.instance().clear()
    assert PAPER_TASKS[data][1] == tested[data].names("test")


@pytest.mark.slow
def test_console_script_is_installed(tmp_path):
    script = Path(sys.executable).parent / "jointsr-report"
    if not script.exists():
        pytest.skip("jointsr is not installed as a package (run `make install`)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--out" in result.stdout and "--reference" in result.stdout


def _curve_table(folder: Path, trained: Path, psnrs: list[float]) -> None:
    """test_curve.csv as jointsr-eval curve_dir=<trained>/curve writes it into ``folder``."""
    rows = "".join(f"{2.0 * i},{100 * i},{psnr},0.9,{trained / 'curve' / f'minutes{2.0 * i:07.2f}-step{100 * i:07d}.ckpt'}\n"
                   for i, psnr in enumerate(psnrs))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_curve.csv").write_text("minutes,step,psnr,ssim,checkpoint\n" + rows)


def _training_run(folder: Path) -> None:
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("seed: 1\nmodel:\n  name: jointsr\n")


def test_a_curve_evaluation_is_the_test_curve_of_the_run_it_tested(tmp_path, caplog):
    """jointsr-eval curve_dir= writes test_curve.csv into its own folder: the report draws it
    with the training run (the latest evaluation of it; one an older eval wrote into the
    training run itself counts until then), never lists it as a run of its own, and names a
    table whose training run it was not given."""
    from jointsr.report.runs import find_runs

    old, new = tmp_path / "train" / "old", tmp_path / "train" / "new"
    for folder in (old, new):
        _training_run(folder)
    _curve_table(old, old, [30.0, 31.0])                           # the old layout, in the run itself
    _curve_table(new, new, [1.0])                                  # superseded by the evaluations below
    _curve_table(tmp_path / "eval" / "first", new, [28.0, 29.0])
    _curve_table(tmp_path / "eval" / "latest", new, [28.5, 29.5, 30.5])
    import os

    os.utime(tmp_path / "eval" / "first" / "test_curve.csv", (1, 1))
    runs = {run.path.name: run for run in find_runs([tmp_path])}
    assert set(runs) == {"old", "new"}
    assert [row["psnr"] for row in runs["old"].test_curve] == [30.0, 31.0]
    assert [row["psnr"] for row in runs["new"].test_curve] == [28.5, 29.5, 30.5]
    # the evaluations alone: their training run is not among the inputs, and the log says so
    with caplog.at_level("WARNING", logger="jointsr"):
        assert find_runs([tmp_path / "eval"]) == []
    assert "not among the runs" in caplog.text and str(new) in caplog.text
    # a copied folder (the recorded checkpoint paths point elsewhere) is matched by its last two names
    copy_root = tmp_path / "copy"
    _training_run(copy_root / "train" / "new")
    _curve_table(copy_root / "eval", tmp_path / "elsewhere" / "train" / "new", [27.0])
    assert [row["psnr"] for row in find_runs([copy_root])[0].test_curve] == [27.0]
    # a training run moved with the table an older eval wrote into it stays a run, with its curve
    moved = tmp_path / "moved"
    _training_run(moved)
    (moved / "checkpoints").mkdir()
    _curve_table(moved, tmp_path / "before_the_move", [26.0])
    assert [(run.path.name, [row["psnr"] for row in run.test_curve]) for run in find_runs([moved])] == \
        [("moved", [26.0])]


def test_a_recorded_parameter_count_is_used_and_only_zero_means_seed_independent(tmp_path):
    """The report reads the count a run wrote into test_metrics.json (no network rebuilt, no
    model names): 0 parameters pairs one result with every seed; an unknown count does not."""
    documents = {"newnet": 1234, "interp": 0, "bicubic": None}  # bicubic: written before runs recorded it
    runs = []
    for model, params in documents.items():
        folder = tmp_path / model
        folder.mkdir()
        document = {**_run(0, [], model=model).document, **({} if params is None else {"params": params})}
        (folder / "test_metrics.json").write_text(json.dumps(document))
        runs.append(read_run(folder))
    by_model = {config.model: config for config in configurations(runs)}
    assert by_model["newnet"].params == 1234 and not by_model["newnet"].seed_independent
    assert by_model["interp"].params == 0 and by_model["interp"].seed_independent
    assert by_model["bicubic"].params is None and not by_model["bicubic"].seed_independent


def test_a_report_shows_the_tested_step_of_every_run_and_flags_a_mix(tmp_path):
    """Runs of one configuration trained 30 steps each, tested at the best validation (steps 24
    and 9) or the final weights (30 and 30): the step of each tested weights is shown, and a
    configuration whose runs tested different steps is marked, never averaged into 'train steps'."""
    base = compose_config("train", ["data=cave", "logger=csv"], tmp_path)
    GlobalHydra.instance().clear()
    for label, tested in (("best", (24, 9)), ("last", (30, 30))):
        for seed, step in zip((1, 2), tested):
            overrides = ["logger=csv", f"test_checkpoint={label}", f"seed={seed}"]
            run_dir = tmp_path / "sweep" / ",".join(overrides)
            cfg = copy.deepcopy(base)
            cfg.seed, cfg.test_checkpoint = seed, label
            _write_hydra_dir(run_dir, cfg, overrides, data="cave")
            document = _document("jointsr", (30.0 + seed, 31.0))
            document["training"] = {"steps": 30, "minutes": 0.1, "tested_step": step}
            (run_dir / "test_metrics.json").write_text(json.dumps(document))
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "out"), "--no-params"]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    summary = _section(markdown, "Per configuration")
    best = next(line for line in summary.splitlines() if "test_checkpoint=best" in line)
    last = next(line for line in summary.splitlines() if "test_checkpoint=last" in line)
    assert "| 30 | 0.1 | mixed: 9, 24 |" in best and "| 30 | 0.1 | 30 |" in last
    runs = markdown.split("Runs:", 1)[1]
    assert sum("| 30 | 0.1 | 24 |" in line or "| 30 | 0.1 | 9 |" in line for line in runs.splitlines()) == 2
