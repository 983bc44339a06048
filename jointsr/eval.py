"""``jointsr-eval``: test a checkpoint (``ckpt_path=``) or a parameter-free model on the test split."""

from __future__ import annotations

import logging
from pathlib import Path

from jointsr import CONFIG_DIR
import hydra
import lightning as L
from omegaconf import DictConfig

from jointsr.evaluation import format_table, test_metrics, write_json_atomic
from jointsr.utils.run import build_model, closing_trackers, instantiate_group, load_checkpoint_model, set_threads

log = logging.getLogger("jointsr")


def evaluate(cfg: DictConfig) -> dict:
    """Run the test split and write ``test_metrics.json`` into the run directory."""
    set_threads()
    L.seed_everything(cfg.seed, workers=True)
    datamodule = hydra.utils.instantiate(cfg.data)
    if cfg.get("ckpt_path"):
        model = load_checkpoint_model(cfg.ckpt_path, cfg.model)
    else:
        model = build_model(cfg.model)
        if model.has_parameters:
            raise ValueError(f"model={model.name} has trainable parameters: pass ckpt_path=<a checkpoint "
                             f"of jointsr-train> (untrained weights would give meaningless numbers)")
    if model.net.scale != cfg.scale:
        raise ValueError(f"the checkpoint's model is for x{model.net.scale} but scale=x{cfg.scale}")
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


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> float:
    return evaluate(cfg)["mean"]["psnr"]


if __name__ == "__main__":
    main()
