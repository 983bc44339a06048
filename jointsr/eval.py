"""``jointsr-eval``: test a checkpoint (``ckpt_path=``) or a parameter-free model on the test split."""

from __future__ import annotations

import logging
from pathlib import Path

from jointsr import CONFIG_DIR
import hydra
import lightning as L
from omegaconf import DictConfig

from jointsr.errors import ConfigError, MissingFileError, check_writable_folder, reports_user_errors, run_command
from jointsr.evaluation import format_table, test_metrics, write_csv_atomic, write_json_atomic
from jointsr.utils.run import build_model, closing_trackers, instantiate_group, load_checkpoint_model, set_threads

log = logging.getLogger("jointsr")


def evaluate(cfg: DictConfig) -> dict:
    """Run the test split and write ``test_metrics.json`` into the run directory."""
    if cfg.get("curve_dir"):
        return evaluate_curve(cfg)
    check_writable_folder(cfg.paths.output_dir, "the run folder", "hydra.run.dir=... (or paths.log_dir=...)")
    set_threads()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = hydra.utils.instantiate(cfg.data)
    if cfg.get("ckpt_path"):
        model = _checkpoint_model(cfg.ckpt_path, cfg)
    else:
        model = build_model(cfg.model)
        if model.has_parameters:
            raise ConfigError(f"model={model.name} has trainable parameters: pass ckpt_path=<a checkpoint "
                              f"of jointsr-train> (untrained weights would give meaningless numbers)")
    if cfg.get("tile") is not None:  # inference tile (jointsr/tiling.py); a checkpoint's own is the default
        from jointsr.tiling import check_tile

        model.tile = check_tile(cfg.tile)
    loggers = instantiate_group(cfg.get("logger"))
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=[])
    with closing_trackers(loggers):
        datamodule.prepare_data()  # dataset files against their checksums, where known
        datamodule.setup("test")  # every test image decoded before the first one is tested
        trainer.test(model, datamodule=datamodule)
    document = test_metrics(model.name, datamodule.name, cfg.scale, model.test_results,
                            rmse_unit=datamodule.rmse_unit, rmse_scales=datamodule.rmse_scales())
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
        raise MissingFileError(f"curve_dir={folder}: no minutesMMMM.MM-stepNNNNNNN.ckpt files (train with "
                               f"callbacks=curve, which saves them under <run>/curve)")
    check_writable_folder(cfg.paths.output_dir, "the run folder", "hydra.run.dir=... (or paths.log_dir=...)")
    check_writable_folder(folder.parent, "the training run folder (test_curve.csv goes there)",
                          "curve_dir=... to a run you can write")
    set_threads()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = hydra.utils.instantiate(cfg.data)
    # every checkpoint is read (safely) and checked before the first one is tested
    models = [(minutes, step, path, _checkpoint_model(path, cfg)) for (minutes, step), path in found]
    datamodule.prepare_data()
    datamodule.setup("test")
    output = Path(cfg.paths.output_dir)
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, callbacks=[],
                                                 enable_progress_bar=False, enable_model_summary=False)
    rows = []
    for index, (minutes, step, path, model) in enumerate(models, 1):
        trainer.test(model, datamodule=datamodule, verbose=False)
        document = test_metrics(model.name, datamodule.name, cfg.scale, model.test_results,
                                rmse_unit=datamodule.rmse_unit, rmse_scales=datamodule.rmse_scales(),
                                training={"steps": step, "minutes": minutes})
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
    """The model a checkpoint of ``jointsr-train`` holds, checked against ``cfg.scale`` and the
    guide of ``cfg.data``."""
    model = load_checkpoint_model(path, expected_scale=cfg.scale)
    channels = model.net.guide_channels
    if channels != cfg.data.guide_channels:
        raise ConfigError(f"{path} holds a model with a {channels}-channel guide but data.guide_channels="
                          f"{cfg.data.guide_channels}: pass data.guide_channels={channels}")
    return model


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
@reports_user_errors("eval")
def _hydra_main(cfg: DictConfig) -> float:
    return evaluate(cfg)["mean"]["psnr"]


def main() -> None:
    """``jointsr-eval [overrides]``: a user error is one line and exit status 2."""
    run_command("eval", _hydra_main)


if __name__ == "__main__":
    main()
