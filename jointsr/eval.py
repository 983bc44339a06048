"""``jointsr-eval``: test a checkpoint (``ckpt_path=``) or a parameter-free model on the test split."""

from __future__ import annotations

import logging
from pathlib import Path

from jointsr import CONFIG_DIR
import hydra
import lightning as L
from omegaconf import DictConfig

from jointsr.evaluation import format_table, test_metrics, write_csv_atomic, write_json_atomic
from jointsr.utils.run import build_model, closing_trackers, instantiate_group, load_checkpoint_model, set_threads

log = logging.getLogger("jointsr")


def evaluate(cfg: DictConfig) -> dict:
    """Run the test split and write ``test_metrics.json`` into the run directory."""
    if cfg.get("curve_dir"):
        return evaluate_curve(cfg)
    set_threads()
    L.seed_everything(cfg.seed, workers=True)
    datamodule = hydra.utils.instantiate(cfg.data)
    if cfg.get("ckpt_path"):
        model = _checkpoint_model(cfg.ckpt_path, cfg)
    else:
        model = build_model(cfg.model)
        if model.has_parameters:
            raise ValueError(f"model={model.name} has trainable parameters: pass ckpt_path=<a checkpoint "
                             f"of jointsr-train> (untrained weights would give meaningless numbers)")
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    with closing_trackers(loggers):
        datamodule.prepare_data()
        trainer.test(model, datamodule=datamodule)
    document = test_metrics(model.name, datamodule.name, cfg.scale, model.test_results)
    path = write_json_atomic(Path(cfg.paths.output_dir) / "test_metrics.json", document)
    print(format_table(document))
    print(f"wrote {path}")
    return document


def evaluate_curve(cfg: DictConfig) -> dict:
    """Test every checkpoint :class:`~jointsr.utils.callbacks.TimedCheckpoints` wrote into
    ``cfg.curve_dir``; writes ``test_curve.csv`` (minutes, step, mean PSNR/SSIM) into the
    training run (the parent of ``curve_dir``), each checkpoint's per-image metrics as
    ``curve/<checkpoint>.json`` into this run's directory."""
    from jointsr.utils.callbacks import parse_curve_checkpoint

    folder = Path(cfg.curve_dir).expanduser()
    found = sorted((parse_curve_checkpoint(p.name), p) for p in folder.glob("*.ckpt")
                   if parse_curve_checkpoint(p.name)) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(f"curve_dir={folder}: no minutesMMMM.MM-stepNNNNNNN.ckpt files (train with "
                                f"callbacks=curve, which saves them under <run>/curve)")
    set_threads()
    L.seed_everything(cfg.seed, workers=True)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    output = Path(cfg.paths.output_dir)
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[],
                                                 enable_progress_bar=False, enable_model_summary=False)
    rows = []
    for index, ((minutes, step), path) in enumerate(found, 1):
        model = _checkpoint_model(path, cfg)
        trainer.test(model, datamodule=datamodule, verbose=False)
        document = test_metrics(model.name, datamodule.name, cfg.scale, model.test_results)
        write_json_atomic(output / "curve" / f"{path.stem}.json", document)
        mean = document["mean"]
        rows.append({"minutes": minutes, "step": step, "psnr": round(mean["psnr"], 4),
                     "ssim": round(mean["ssim"], 5), "checkpoint": str(path)})
        log.info("[%d/%d] %.2f min, step %d: %.2f dB / %.4f", index, len(found), minutes, step,
                 mean["psnr"], mean["ssim"])
    # beside curve/, in the training run (jointsr-report reads it)
    table = write_csv_atomic(folder.parent / "test_curve.csv", rows, list(rows[0]))
    print(f"wrote {table}")
    return {"mean": {"psnr": rows[-1]["psnr"]}, "curve": rows}


def _checkpoint_model(path, cfg: DictConfig) -> L.LightningModule:
    """The model a checkpoint of ``jointsr-train`` holds, checked against ``cfg.scale``."""
    model = load_checkpoint_model(path, cfg.model)
    if model.net.scale != cfg.scale:
        raise ValueError(f"{path} holds a x{model.net.scale} model but scale=x{cfg.scale}")
    return model


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float:
    return evaluate(cfg)["mean"]["psnr"]


if __name__ == "__main__":
    main()
