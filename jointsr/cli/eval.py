"""``jointsr-eval``: test a checkpoint (``ckpt_path=``) or a parameter-free model on the test split."""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import lightning as L
from omegaconf import DictConfig, open_dict

from jointsr import CONFIG_DIR
from jointsr.cli.command import hydra_command
from jointsr.configs import check_run_types
from jointsr.errors import ConfigError, MissingFileError, check_writable_folder
from jointsr.evaluation.results import format_table, tested_document
from jointsr.files import write_csv_atomic, write_json_atomic
from jointsr.inference.inputs import set_threads
from jointsr.runs.folder import RunDir, timed_checkpoints
from jointsr.runs.lock import owning
from jointsr.training.build import (
    ONE_PROCESS,
    build_model,
    build_trainer,
    closing_trackers,
    instantiate_group,
    load_checkpoint_model,
    recorded_data,
)

log = logging.getLogger("jointsr")


def evaluate(cfg: DictConfig) -> dict:
    """Run the test split and write ``test_metrics.json`` into this run's folder."""
    check_run_types(cfg)  # every typed value, before anything is built or written
    if cfg.get("curve_dir"):
        return evaluate_curve(cfg)
    if cfg.get("pretrained") not in (None, ""):  # a shipped checkpoint (jointsr/pretrained)
        from jointsr.pretrained import resolve_checkpoint

        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.ckpt_path = resolve_checkpoint(cfg)
    if cfg.get("ckpt_path"):
        _check_own_folder(cfg, cfg.ckpt_path)
        cfg = checkpoint_data(cfg, cfg.ckpt_path)
    check_writable_folder(cfg.paths.output_dir, "the run folder", "hydra.run.dir=... (or paths.log_dir=...)")
    with owning(cfg.paths.output_dir, "jointsr-eval"):  # one process writes the folder
        return _evaluate(cfg)


def _evaluate(cfg: DictConfig) -> dict:
    set_threads()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = hydra.utils.instantiate(cfg.data)
    if cfg.get("ckpt_path"):
        model = _checkpoint_model(cfg.ckpt_path, cfg)
    else:
        model = build_model(cfg.model)
        if model.has_parameters:
            raise ConfigError(f"model={model.name} has trainable parameters: pass ckpt_path=<a checkpoint "
                              f"of jointsr-train> or pretrained=<task> (untrained weights would give "
                              f"meaningless numbers)")
    if cfg.get("tile") is not None:  # inference tile (jointsr/inference/tiling.py); a checkpoint's own is the default
        from jointsr.inference.tiling import check_tile

        model.tile = check_tile(cfg.tile)
    loggers = instantiate_group(cfg.get("logger"))
    trainer = build_trainer(cfg.trainer, val_check_interval=1, logger=loggers or False, callbacks=[],
                            **ONE_PROCESS)
    with closing_trackers(loggers):
        datamodule.prepare_data()  # dataset files against their checksums, where known
        datamodule.setup("test")  # every test image decoded before the first one is tested
        trainer.test(model, datamodule=datamodule, verbose=bool(cfg.get("verbose", False)))  # our own table follows
    document = tested_document(model, datamodule, cfg.scale, cfg.paths.get("cache_dir"))
    path = write_json_atomic(RunDir.of(cfg).test_metrics, document)
    print(format_table(document))
    print(f"wrote {path}")
    return document


def evaluate_curve(cfg: DictConfig) -> dict:
    """Test every checkpoint :class:`~jointsr.training.callbacks.TimedCheckpoints` wrote into
    ``cfg.curve_dir``. Writes into this run's folder only (the training run is read, never
    written): ``test_curve.csv`` (minutes, step, mean PSNR/SSIM and the checkpoint's path,
    which names the training run for jointsr-report) and each checkpoint's per-image metrics
    as ``curve/<checkpoint>.json``."""
    folder = Path(cfg.curve_dir).expanduser()
    found = timed_checkpoints(folder)
    if not found:
        raise MissingFileError(f"curve_dir={folder}: no minutesMMMM.MM-stepNNNNNNN.ckpt files (train with "
                               f"callbacks=curve, which saves them under <run>/curve)")
    _check_own_folder(cfg, found[0][2])
    cfg = checkpoint_data(cfg, found[0][2])
    check_writable_folder(cfg.paths.output_dir, "the run folder", "hydra.run.dir=... (or paths.log_dir=...)")
    with owning(cfg.paths.output_dir, "jointsr-eval"):  # one process writes the folder
        return _evaluate_curve(cfg, found)


def _evaluate_curve(cfg: DictConfig, found: list) -> dict:
    set_threads()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = hydra.utils.instantiate(cfg.data)
    # every checkpoint is read (safely) and checked before the first one is tested
    models = [(minutes, step, path, _checkpoint_model(path, cfg)) for minutes, step, path in found]
    datamodule.prepare_data()
    datamodule.setup("test")
    run = RunDir.of(cfg)
    trainer = build_trainer(cfg.trainer, val_check_interval=1, logger=False, callbacks=[], **ONE_PROCESS,
                            enable_progress_bar=False, enable_model_summary=False)
    rows = []
    for index, (minutes, step, path, model) in enumerate(models, 1):
        trainer.test(model, datamodule=datamodule, verbose=False)
        document = tested_document(model, datamodule, cfg.scale, cfg.paths.get("cache_dir"),
                                   training={"steps": step, "minutes": minutes})
        write_json_atomic(run.curve_result(path), document)
        mean = document["mean"]
        rows.append({"minutes": minutes, "step": step, "psnr": round(mean["psnr"], 4),
                     "ssim": round(mean["ssim"], 5), "checkpoint": str(path)})
        log.info("[%d/%d] %.2f min, step %d: %.2f dB / %.4f", index, len(found), minutes, step,
                 mean["psnr"], mean["ssim"])
    table = write_csv_atomic(run.test_curve, rows, list(rows[0]))  # jointsr-report reads it
    print(f"wrote {table}")
    return {"mean": {"psnr": rows[-1]["psnr"]}, "curve": rows}


def _check_own_folder(cfg: DictConfig, checkpoint) -> None:
    """jointsr-eval writes into its own run folder, never into the training run it tests
    (whose ``test_metrics.json`` and curves it would replace)."""
    run, trained = RunDir.of(cfg), RunDir.holding(checkpoint)
    if trained is not None and trained.root.resolve() == run.root.resolve():
        raise ConfigError(f"hydra.run.dir={run.root} is the training run of {checkpoint}: jointsr-eval writes "
                          f"into its own folder, so run it with another hydra.run.dir (or none: "
                          f"logs/eval/runs/<date>)")


def _explicit_keys() -> set[str]:
    """The keys the command line set (``data``, ``scale``, ``data.degradation`` ...)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return set()
    return {override.split("=", 1)[0].lstrip("+~") for override in HydraConfig.get().overrides.task}


def checkpoint_data(cfg: DictConfig, ckpt_path) -> DictConfig:
    """``cfg`` with the data a checkpoint was trained on, unless the command line chose it.

    A checkpoint records its data (:func:`~jointsr.training.build.data_record`): without
    ``data=`` (or an ``experiment=``) the test runs on that dataset, and without ``scale=``
    at its scale; a degradation not set on the command line is the recorded one. A
    checkpoint without the record is refused unless ``data=`` names the dataset.
    """
    explicit = _explicit_keys()
    record = recorded_data(ckpt_path)
    chosen_data = bool({"data", "experiment"} & explicit)
    if record is None:
        if not chosen_data:
            raise ConfigError(f"{ckpt_path} records no dataset (written before checkpoints recorded their data): "
                              f"pass the data it was trained on, e.g. data=cave scale=x4, so it is not tested on "
                              f"the default data={_choice('data')}")
        return cfg
    scale = int(cfg.scale) if {"scale", "experiment"} & explicit else int(record["scale"])
    if not chosen_data:
        overrides = [f"data={record['config']}", f"scale=x{scale}"]
        overrides += [o for o in _task_overrides() if o.lstrip("+~").startswith("data.")]
        composed = _compose_eval(overrides)
        cfg = cfg.copy()
        with open_dict(cfg):
            cfg.data, cfg.scale = composed.data, composed.scale
            if "data.degradation" not in explicit and not any(k.startswith("data.degradation.") for k in explicit):
                cfg.data.degradation = record["degradation"]
            if "data.guide_channels" not in explicit:
                cfg.data.guide_channels = record["guide_channels"]
        log.info("%s was trained on data=%s x%d: testing on it (data=... tests on another dataset)",
                 ckpt_path, record["config"], record["scale"])
    elif record["config"] != _choice("data"):
        log.warning("%s was trained on data=%s: testing on data=%s, as the command line says", ckpt_path,
                    record["config"], _choice("data"))
    if int(record["guide_channels"]) != int(cfg.data.guide_channels):
        raise ConfigError(f"{ckpt_path} was trained with a {record['guide_channels']}-channel guide but "
                          f"data.guide_channels={cfg.data.guide_channels}: pass "
                          f"data.guide_channels={record['guide_channels']}")
    return cfg


def _task_overrides() -> list[str]:
    from hydra.core.hydra_config import HydraConfig

    return list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []


def _choice(group: str) -> str | None:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.choices.get(group) if HydraConfig.initialized() else None


def _compose_eval(overrides: list[str]) -> DictConfig:
    """``conf/eval.yaml`` composed with ``overrides`` (inside a running command or not)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():
        return compose(config_name="eval", overrides=overrides)
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        return compose(config_name="eval", overrides=overrides)


def _checkpoint_model(path, cfg: DictConfig) -> L.LightningModule:
    """The model a checkpoint of ``jointsr-train`` holds, checked against ``cfg.scale`` and the
    guide of ``cfg.data``."""
    model = load_checkpoint_model(path, expected_scale=cfg.scale)
    channels = model.net.guide_channels
    if channels != cfg.data.guide_channels:
        raise ConfigError(f"{path} holds a model with a {channels}-channel guide but data.guide_channels="
                          f"{cfg.data.guide_channels}: pass data.guide_channels={channels}")
    return model


def evaluated_psnr(cfg: DictConfig) -> float:
    """test a checkpoint or a parameter-free model; the mean PSNR is the value a sweeper optimises."""
    return evaluate(cfg)["mean"]["psnr"]


main = hydra_command("eval", evaluated_psnr)


if __name__ == "__main__":
    main()
