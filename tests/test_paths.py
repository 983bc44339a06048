"""Paths as users type them: spaces, non-ASCII letters, quotes, ``#``, brackets and ``~`` in
every path value, through the real train, eval and predict commands."""

from __future__ import annotations

import json
import shutil

import pytest
from cli_helpers import run_main
from conftest import require_data
from hydra.core.override_parser.overrides_parser import OverridesParser

from jointsr.cli.arguments import readable_override
from jointsr.errors import ConfigError

TINY = ["model.net.k=8", "model.net.K=3", "logger=csv", "debug=fast", "trainer.max_steps=2",
        "trainer.val_check_interval=2", "data.max_test_images=1", "callbacks.rich_progress_bar=null"]


@pytest.mark.parametrize(("typed", "hydra_reads"), [
    ("target=my images/lr.png", "target=my images/lr.png"),           # Hydra reads inner spaces
    ("target=Bände/lr.png", "target='Bände/lr.png'"),                  # non-ASCII: quoted
    ("out=x #1 (copy) & [final].png", "out='x #1 (copy) & [final].png'"),
    ("target=it's.png", "target='it\\'s.png'"),
    ('target=say "hi".png', "target='say \"hi\".png'"),
    ("target= lead.png", "target=' lead.png'"),                         # unquoted, Hydra strips the space
    ("seed=1,2", "seed=1,2"),                                           # a sweep stays a sweep
    ("trainer.devices=[0,1]", "trainer.devices=[0,1]"),
    ("target='quoted by the user.png'", "target='quoted by the user.png'"),
    ("model.net.K=3", "model.net.K=3"),
])
def test_an_override_reaches_hydra_as_typed(typed, hydra_reads):
    assert readable_override(typed) == hydra_reads
    value = typed.partition("=")[2]
    if not value.startswith(("'", "[")) and "," not in value:  # Hydra reads back exactly what was typed
        assert str(OverridesParser.create().parse_override(hydra_reads).value()) == value


def test_a_leading_tilde_is_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home ä"))
    assert readable_override("out=~/sr.png") == f"out='{tmp_path}/home ä/sr.png'"


def test_a_value_that_quoting_cannot_keep_as_typed_is_refused_saying_how_to_quote():
    # quoted or not, "${" starts an interpolation that OmegaConf would resolve
    with pytest.raises(ConfigError, match=r"cannot read the value of 'target=Bände/\$\{x\}.png': put the value in quotes"):
        readable_override("target=Bände/${x}.png")


@pytest.mark.slow
def test_train_eval_and_predict_take_paths_with_spaces_accents_and_symbols(tmp_path, capsys, monkeypatch):
    data = require_data("rgbnir", "urban")
    home = tmp_path / "Ana María's files #2"
    images = home / "Bilder (Nah-IR) & RGB"
    images.mkdir(parents=True)
    for name in ("0004_nir.tiff", "0004_rgb.tiff"):
        shutil.copy(data / name, images / name)
    run = home / "läufe" / "x4 [test]"
    monkeypatch.setenv("JOINTSR_COMPILE", "false")

    trained = run_main("train", TINY + ["data=rgbnir", "scale=x4", f"hydra.run.dir={run}"], capsys, monkeypatch)
    assert trained.code == 0, trained.err[-2000:]
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "test_metrics.json").is_file()
    assert f"report:      jointsr-report {run}" in trained.out + trained.err  # the end of the run says where

    evaluated = run_main("eval", [f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", "data.max_test_images=1",
                                  f"hydra.run.dir={home / 'évaluation #1'}"], capsys, monkeypatch)
    assert evaluated.code == 0, evaluated.err[-2000:]
    assert json.loads((home / "évaluation #1" / "test_metrics.json").read_text())["mean"]["psnr"] > 20

    out = home / "résultats" / "nir x4 (sr).png"
    predicted = run_main("predict", [f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
                                     f"simulate={images / '0004_nir.tiff'}", f"guide={images / '0004_rgb.tiff'}",
                                     f"out={out}", "tile=0"], capsys, monkeypatch)
    assert predicted.code == 0, predicted.err[-2000:]
    assert out.is_file()
