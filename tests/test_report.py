"""``jointsr-report`` on a sweep this test makes itself: two tiny real fits and a killed run."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf, open_dict
from PIL import Image

from conftest import DATA_DIR, compose_config, require_data
from jointsr.paper_results import CAVE_NAMES, PAPER_MODELS, PAPER_RESULTS, RGBNIR_NAMES
from jointsr.report import Run, label_runs, main
from jointsr.summary import summarise
from jointsr.train import train

TINY = ["debug=fast", "logger=csv", "model.net.k=8", "model.net.K=3"]


def _write_hydra_dir(run_dir: Path, cfg, overrides: list[str]) -> None:
    """What Hydra writes into a job directory: the config, the overrides and the choices."""
    hydra_dir = run_dir / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, hydra_dir / "config.yaml")
    OmegaConf.save(OmegaConf.create(overrides), hydra_dir / "overrides.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": {"runtime": {"choices": {"data": "rgbnir", "model": "jointsr"}}}}),
                   hydra_dir / "hydra.yaml")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """A sweep folder as `jointsr-train -m ... model.net.R=1,2,3` leaves it when the third job
    was killed: two finished jobs (real fits on RGB-NIR) and one with only `.hydra/`."""
    require_data("rgbnir")
    base = tmp_path_factory.mktemp("report")
    root = base / "sweep"
    for r in (1, 2, 3):
        overrides = TINY + [f"model.net.R={r}"]
        run_dir = root / ",".join(sorted(overrides))
        cfg = compose_config("train", overrides, run_dir)
        with open_dict(cfg):
            cfg.paths.cache_dir = str(base / "cache")  # one patch store for all runs
        _write_hydra_dir(run_dir, cfg, overrides)
        if r < 3:
            train(cfg)
    GlobalHydra.instance().clear()
    return root


def _csv_rows(path: Path) -> list[dict]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def report(sweep, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "report"
    assert main([str(sweep), "--out", str(out)]) == 0
    return out


def test_report_means_are_the_runs_test_metrics(sweep, report):
    documents = {path.parent.resolve(): json.loads(path.read_text()) for path in sweep.rglob("test_metrics.json")}
    assert len(documents) == 2
    rows = _csv_rows(report / "report.csv")
    ours = [row for row in rows if row["source"] == "ours"]
    for directory, document in documents.items():
        mean_row = next(row for row in ours if Path(row["directory"]) == directory and row["image"] == "mean")
        for metric, value in document["mean"].items():
            assert float(mean_row[metric]) == value
        per_image = {row["image"]: float(row["psnr"]) for row in ours
                     if Path(row["directory"]) == directory and row["image"] != "mean"}
        assert per_image == {row["name"]: row["psnr"] for row in document["per_image"]}
    assert {row["R"] for row in ours} == {"1", "2"}
    # the paper's published numbers sit beside ours: RGB-NIR x4, proposed, average 35.19 dB
    paper_mean = next(row for row in rows if row["source"] == "paper" and row["model"] == "proposed"
                      and row["image"] == "mean")
    assert (paper_mean["data"], paper_mean["scale"], float(paper_mean["psnr"])) == ("rgbnir", "4", 35.19)

    markdown = (report / "report.md").read_text()
    assert "## rgbnir x4" in markdown and "| urban/0004 |" in markdown and "| **mean** |" in markdown
    for document in documents.values():
        assert f"{document['mean']['psnr']:.2f}" in markdown
    # runs are labelled by what differs between them, not by what they share
    assert "jointsr model.net.R=1" in markdown and "jointsr model.net.R=2" in markdown
    finished_labels = {row["run"] for row in _csv_rows(report / "runs.csv") if row["status"] == "finished"}
    assert finished_labels == {"jointsr model.net.R=1", "jointsr model.net.R=2"}
    assert "Proposed (paper) PSNR" in markdown and "**" in markdown


def test_unfinished_runs_are_listed_not_dropped(sweep, report):
    markdown = (report / "report.md").read_text()
    unfinished = markdown.split("## Unfinished or failed runs")[1]
    assert "model.net.R=3" in unfinished and "unfinished: no test_metrics.json" in unfinished
    runs = _csv_rows(report / "runs.csv")
    assert len(runs) == 3
    assert sorted(row["status"].split(":")[0] for row in runs) == ["finished", "finished", "unfinished"]
    assert "2 finished run(s), 1 unfinished" in markdown


def test_plots_are_written_small(report, compose_cfg):
    for stem in ("ablation", "params", "curves", "grids"):
        path = report / f"{stem}_rgbnir_x4.png"
        assert path.is_file(), path
        with Image.open(path) as image:
            assert max(image.size) <= 1000  # dpi 80
        assert f"({path.name})" in (report / "report.md").read_text()
    params = {row["R"]: int(row["params"]) for row in _csv_rows(report / "runs.csv") if row["params"]}
    for r in ("1", "2"):  # as jointsr-summary counts them
        summary = summarise(compose_cfg("summary", ["model.net.k=8", "model.net.K=3", f"model.net.R={r}", "lr_size=8"]))
        assert params[r] == summary["params"] > 0


def test_a_missing_directory_is_an_error_a_user_can_act_on(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "not a run or sweep directory" in capsys.readouterr().err


def test_labels_name_only_the_overrides_that_differ():
    runs = [Run(path=Path(f"/runs/{i}"), overrides=overrides, document={"model": "jointsr", "data": "cave",
                                                                        "scale": 4, "per_image": [], "mean": {}})
            for i, overrides in enumerate([["model.net.T=1", "logger=csv", "hydra.sweep.dir=/a"],
                                           ["model.net.T=2", "logger=csv", "hydra.sweep.dir=/b"],
                                           ["model.net.T=2", "logger=csv", "hydra.sweep.dir=/c"]])]
    label_runs(runs)
    assert [run.label for run in runs] == ["jointsr model.net.T=1", "jointsr model.net.T=2 [1]",
                                           "jointsr model.net.T=2 [2]"]


@pytest.mark.parametrize("data,scales,names", [("cave", (4, 8), CAVE_NAMES), ("rgbnir", (2, 4), RGBNIR_NAMES)])
def test_paper_tables_match_their_published_averages(data, scales, names):
    inconsistent = {("cave", 8, "coista", "ssim"), ("rgbnir", 2, "coista", "ssim"),
                    ("rgbnir", 2, "lmcsc", "psnr"), ("rgbnir", 4, "lmcsc", "psnr")}  # as published
    for scale in scales:
        table = PAPER_RESULTS[(data, scale)]
        assert set(table) == set(PAPER_MODELS)
        for model, rows in table.items():
            assert set(rows) == set(names.values()) | {"mean"}
            for metric, tolerance in (("psnr", 0.006), ("ssim", 0.00006)):
                mean = sum(rows[name][metric] for name in names.values()) / len(names)
                if (data, scale, model, metric) not in inconsistent:
                    assert mean == pytest.approx(rows["mean"][metric], abs=tolerance), (data, scale, model)


@pytest.mark.parametrize("data", ["cave", "rgbnir"])
def test_paper_image_names_are_our_test_images(data):
    from jointsr.data.datasets import CAVE, RGBNIR

    require_data(data)
    dataset = (CAVE if data == "cave" else RGBNIR)(DATA_DIR / data)
    names = CAVE_NAMES if data == "cave" else RGBNIR_NAMES
    assert list(names.values()) == dataset.names("test")


def test_console_script_is_installed(tmp_path):
    script = Path(sys.executable).parent / "jointsr-report"
    if not script.exists():
        pytest.skip("jointsr is not installed as a package (run `make install`)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--out" in result.stdout


def test_test_curves_from_timed_checkpoints_get_their_panel(tmp_path):
    from jointsr.report import plot_curves, read_test_curve

    (tmp_path / "test_curve.csv").write_text("minutes,step,psnr,ssim,checkpoint\n"
                                             "0.0,0,30.1,0.9,a.ckpt\n2.01,210,33.5,0.95,b.ckpt\n")
    curve = read_test_curve(tmp_path / "test_curve.csv")
    assert curve == [{"minutes": 0.0, "step": 0, "psnr": 30.1}, {"minutes": 2.01, "step": 210, "psnr": 33.5}]
    run = Run(path=tmp_path, curve=[{"step": 100, "minutes": 1.0, "psnr": 31.0}], test_curve=curve, label="a")
    path = plot_curves([run], tmp_path / "curves.png", "t", dpi=80)
    with Image.open(path) as image:  # three panels: val vs step, val vs minutes, test vs minutes
        assert image.size[0] > 2.5 * image.size[1] and max(image.size) <= 1000
    assert read_test_curve(tmp_path / "absent.csv") == []


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
