"""The shipped pretrained weights: every task is there and loads as that task, the model
card is generated from their results (experiments/pretrained/export.py), and a shipped model
re-evaluated on a real test image gives the number its card was made from."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from cli_helpers import assert_user_error
from conftest import require_data

from jointsr.errors import CheckpointError
from jointsr.pretrained import FOLDER, TASKS, checkpoint_path, shipped
from jointsr.runs.checkpoint import load_checkpoint
from jointsr.training.build import load_checkpoint_model, recorded_data

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "pretrained" / "export.py"


def _script():
    """experiments/pretrained/export.py, imported by its path (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("pretrained_export", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def metrics(name: str) -> dict:
    """The test document shipped with task ``name``."""
    return json.loads((FOLDER / f"{name}.json").read_text())


def test_every_task_of_the_issue_is_shipped():
    """The four tasks the paper reports and Middlebury depth x4/x8."""
    assert set(TASKS) == {"cave_x4", "cave_x8", "nir_x2", "nir_x4", "middlebury_x4", "middlebury_x8"}
    assert shipped() == list(TASKS)


@pytest.mark.parametrize("name", list(TASKS))
def test_shipped_weights_load_as_their_task(name):
    task, path = TASKS[name], checkpoint_path(name)
    checkpoint = load_checkpoint(path)
    weights = sum(tensor.numel() for tensor in checkpoint["state_dict"].values())
    assert path.stat().st_size < 4 * weights * 1.5 + 30_000  # the weights (float32) and little else
    assert "optimizer_states" not in checkpoint and "loops" not in checkpoint
    model = load_checkpoint_model(path, expected_scale=task.scale)
    assert model.name == "jointsr" and model.net.scale == task.scale
    record = recorded_data(path)
    assert record["config"] == task.data and record["scale"] == task.scale
    document = metrics(name)
    assert document["scale"] == task.scale and document["model"] == "jointsr"
    assert document["params"] == sum(p.numel() for p in model.net.parameters() if p.requires_grad)
    assert document["training"]["steps"] > 1000  # a real budget, not a smoke run
    assert document["mean"]["psnr"] > document["bicubic"]["mean"]["psnr"]  # the method works on every task
    assert document["recipe"]["command"] == task.command


def test_the_card_is_generated_from_the_shipped_results():
    card = FOLDER / "MODEL_CARD.md"
    assert card.read_text() == _script().card(FOLDER), "stale card: run python experiments/pretrained/export.py card"
    for name in TASKS:  # each row carries its task's mean PSNR and bicubic's, as in the JSON
        document = metrics(name)
        row = next(line for line in card.read_text().splitlines() if line.startswith(f"| `{name}` |"))
        assert f"| {document['mean']['psnr']:.2f} |" in row
        assert f"| {document['bicubic']['mean']['psnr']:.2f} |" in row


@pytest.mark.slow
def test_a_pretrained_model_gives_its_cards_number_on_a_real_test_image(cli, tmp_path):
    """``jointsr-eval pretrained=cave_x4`` on CAVE's first test scene (no data= given: the
    checkpoint's own dataset) matches the per-image result shipped with it to 0.01 dB."""
    require_data("cave")
    result = cli("eval", "pretrained=cave_x4", "data.max_test_images=1", "logger=csv")
    assert result.code == 0, result.err[-2000:]
    document = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    assert document["data"] == "cave" and document["scale"] == 4
    tested = document["per_image"][0]
    shipped_rows = {row["name"]: row for row in metrics("cave_x4")["per_image"]}
    assert abs(tested["psnr"] - shipped_rows[tested["name"]]["psnr"]) <= 0.01
    assert abs(tested["ssim"] - shipped_rows[tested["name"]]["ssim"]) <= 1e-4


def test_predict_with_pretrained_weights_on_a_real_pair(cli, tmp_path):
    """``jointsr-predict pretrained=cave_x4 simulate=HR guide=RGB``: the protocol's PSNR printed
    is the shipped per-image one (the same degradation, model and metric)."""
    scene = require_data("cave", "chart_and_stuffed_toy")
    out = tmp_path / "sr.png"
    result = cli("predict", "pretrained=cave_x4", f"simulate={scene / 'chart_and_stuffed_toy_ms_25.png'}",
                 f"guide={scene / 'chart_and_stuffed_toy_RGB.bmp'}", f"out={out}")
    assert result.code == 0, result.err[-2000:]
    assert out.is_file()
    printed = float(result.out.split("PSNR ")[1].split(" dB")[0])
    shipped_psnr = {row["name"]: row["psnr"] for row in metrics("cave_x4")["per_image"]}["chart_and_stuffed_toy"]
    assert abs(printed - shipped_psnr) <= 0.01


def test_unknown_or_doubled_pretrained_names_are_one_line(cli, tmp_path):
    line = assert_user_error(cli("eval", "pretrained=cave_x3", "logger=csv"), "pretrained='cave_x3'", "nir_x4")
    assert "middlebury_x8" in line
    assert_user_error(cli("eval", "pretrained=cave_x4", f"ckpt_path={tmp_path / 'x.ckpt'}", "logger=csv"),
                      "give one of them")
    assert_user_error(cli("predict", "pretrained=nir_x9", f"guide={tmp_path / 'g.png'}",
                          f"target={tmp_path / 't.png'}", f"out={tmp_path / 'o.png'}"), "not a pretrained task")
    assert_user_error(cli("predict", f"guide={tmp_path / 'g.png'}", f"target={tmp_path / 't.png'}",
                          f"out={tmp_path / 'o.png'}"), "no ckpt_path= or pretrained=")


def test_export_refuses_a_run_of_another_task(tmp_path):
    """``export.py export RUN TASK`` checks the run's data against the task (a shipped run's
    folder layout: test_metrics.json and the tested checkpoint)."""
    export = _script().export
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    checkpoint = load_checkpoint(checkpoint_path("cave_x4"))
    torch.save(checkpoint, run / "checkpoints" / "last.ckpt")
    document = dict(metrics("cave_x4"), training={"steps": 1, "minutes": 0.1, "tested": "last: the final weights"})
    (run / "test_metrics.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="not on data=rgbnir x4"):
        export(run, "nir_x4", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything was written
    written = export(run, "cave_x4", tmp_path / "out")
    assert load_checkpoint_model(written, expected_scale=4).net.scale == 4
    assert json.loads((tmp_path / "out" / "cave_x4.json").read_text())["source"]["run"] == "run"


@pytest.mark.slow
def test_the_card_command_writes_the_card_and_check_finds_it_stale(tmp_path):
    """``export.py card --folder F`` writes F/MODEL_CARD.md from F's JSON files; ``--check``
    exits 0 while it matches and 1 (naming the fix) once a result changed."""
    import subprocess
    import sys

    for name in ("cave_x4", "nir_x4"):
        (tmp_path / f"{name}.json").write_text((FOLDER / f"{name}.json").read_text())

    def run(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(SCRIPT), "card", "--folder", str(tmp_path), *arguments],
                              capture_output=True, text=True, timeout=300)

    assert run().returncode == 0
    rows = [line for line in (tmp_path / "MODEL_CARD.md").read_text().splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == ["cave_x4", "nir_x4"]
    assert run("--check").returncode == 0
    document = metrics("nir_x4")
    document["mean"]["psnr"] += 1.0
    (tmp_path / "nir_x4.json").write_text(json.dumps(document))
    stale = run("--check")
    assert stale.returncode == 1 and "is stale: run python experiments/pretrained/export.py card" in stale.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["MODEL_CARD.md", "cave_x4.json", "nir_x4.json"]
