"""One LightningModule for every network: loss, optimisation, paper-protocol metrics, logging."""

from __future__ import annotations

import inspect
import logging
import math
from typing import Any, Callable, Sequence

import lightning as L
import torch
import torch.nn.functional as F

from jointsr.errors import ConfigError, check_choice, check_int
from jointsr.evaluation.results import mean_metrics
from jointsr.functional.imresize import imresize
from jointsr.inference.tiling import check_tile, forward_any_size
from jointsr.metrics.images import ImageMetrics
from jointsr.metrics.protocol import DEPTH_BORDER
from jointsr.models.network import SRNetwork
from jointsr.training.callbacks import budget_timer
from jointsr.training.grids import ERROR_GAIN, validation_grid
from jointsr.training.loggers import log_grid
from jointsr.training.rng import random_states, restore_random_states

log = logging.getLogger("jointsr")

LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": F.mse_loss,
    "l1": F.l1_loss,
}


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int = 0,
                  total_steps: float | None = None, final_factor: float = 0.01,
                  time_progress: Callable[[], float] | None = None,
                  ) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_steps``, then cosine decay to ``final_factor`` of the
    learning rate at the end of the budget.

    The budget is ``total_steps`` and/or a wall-clock one, ``time_progress()`` (the
    fraction of ``trainer.max_time`` spent); with both, whichever is nearer its end sets
    the progress, so the decay ends when training stops on steps or on time. With neither,
    the rate stays constant after the warm-up. A step budget alone repeats bit for bit;
    a time budget makes the rate at step n depend on the machine's speed.
    """

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = []
        if total_steps is not None and math.isfinite(total_steps) and total_steps > warmup_steps:
            progress.append((step - warmup_steps) / (total_steps - warmup_steps))
        if time_progress is not None:
            progress.append(time_progress())
        if not progress:
            return 1.0
        done = min(1.0, max(progress))
        return final_factor + (1 - final_factor) * 0.5 * (1 + math.cos(math.pi * done))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _fraction_spent(timer) -> float:
    """Share of the wall-clock training budget used so far (Lightning's ``Timer``)."""
    return min(1.0, timer.time_elapsed("train") / timer._duration)


class SRModule(L.LightningModule):
    """Trains and evaluates any :class:`~jointsr.models.network.SRNetwork`.

    ``step_weights`` sets the loss across the network's steps (``net.forward_steps``):
    ``None`` on the output only, ``"uniform"`` the mean over every step's prediction (deep
    supervision), or one weight per step. Validation and test use ``net(...)`` only.
    Metrics follow the paper protocol (:class:`~jointsr.metrics.images.ImageMetrics`):
    PSNR and SSIM per whole image, the prediction clipped to [0, 1], synced across ranks.
    """

    def __init__(
        self,
        net: SRNetwork,
        name: str,
        title: str | None = None,  # the report's row title (conf/model/<name>.yaml); read from the run's config
        loss: str = "mse",
        step_weights: str | Sequence[float] | None = None,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "step",
        grid_index: int = 0,
        calibration_patches: int = 128,
        compile: bool = False,
        channels_last: bool = False,
        tile: int | None = None,
        warmup_steps: int = 0,
    ) -> None:
        super().__init__()
        check_choice("model.loss", loss, sorted(LOSSES))
        check_choice("model.scheduler_interval", scheduler_interval, ("step", "epoch"))
        self.net, self.name, self.loss_name = net, name, loss
        self.loss_fn = LOSSES[loss]
        self.step_weights = _check_step_weights(step_weights)
        if isinstance(self.step_weights, list) and len(self.step_weights) != net.step_count():
            raise ConfigError(step_count_error(self.step_weights, net.step_count(), name))
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.scheduler_interval, self.grid_index = scheduler_interval, grid_index
        self.calibration_patches = check_int("model.calibration_patches", calibration_patches, 1)
        # the fused training step (jointsr/training/fast.py) and the inference tile (jointsr/inference/tiling.py)
        self.compile_network, self.tile = bool(compile), check_tile(tile)
        self.channels_last = bool(channels_last)  # train in the NHWC layout (weights and patches)
        self.warmup_steps = check_int("model.warmup_steps", warmup_steps, 0)
        if optimizer is not None and self.has_parameters:
            _check_optimizer(optimizer, net)
        self._compiled = None
        self._resumed_random_states: dict | None = None  # of the checkpoint a fit resumes from
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler"])
        self.model_cfg: dict | None = None  # set by the entry points; stored in checkpoints
        self.data_record: dict | None = None  # set by jointsr-train; stored in checkpoints
        self.test_results: list[dict] = []  # per image, after a test: name and metrics
        self.val_metrics, self.test_metrics = ImageMetrics(), ImageMetrics()

    # ------------------------------------------------------------------ forward / loss
    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        return self.net(lr_target, hr_guide)

    @property
    def has_parameters(self) -> bool:
        return any(p.requires_grad for p in self.parameters())

    def training_loss(self, batch: dict) -> torch.Tensor:
        """The loss of the output, or the ``step_weights``-weighted loss of every step's."""
        if self.channels_last:
            batch = {key: value.contiguous(memory_format=torch.channels_last)
                     if isinstance(value, torch.Tensor) and value.dim() == 4 else value
                     for key, value in batch.items()}
        return network_loss(self.training_network, batch, self.loss_fn, self.step_weights, self.name)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if self.net.needs_calibration:
            self._calibrate(self._calibration_batch(batch))
        loss = self.training_loss(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"{self.name}: the training loss is {loss.item()} at step {self.global_step}; stopping "
                f"rather than training on. Lower model.optimizer.lr, set trainer.gradient_clip_val, or "
                f"check the input patches (NaN/Inf in the data)")
        self.log("train/loss", loss, on_step=True, on_epoch=False, prog_bar=True,
                 batch_size=batch["hr"].shape[0])
        return loss

    def setup(self, stage: str) -> None:
        # before the strategy wraps the network: DDP lays out its gradient buckets by the weights'
        # strides, and weights changed to NHWC after that get their averaged gradients misplaced
        if stage == "fit" and self.channels_last:  # the weights (and, following them, Adam's moments) in NHWC
            self.net.to(memory_format=torch.channels_last)

    def on_train_start(self) -> None:
        """A fit from step 0: the network's data-driven start (when the DataModule can draw
        its patches), then one validation logged at step 0, so that every curve begins where
        training begins. A resumed fit has both in its log already."""
        if self.trainer.global_step > 0:
            if self._resumed_random_states is not None:  # the draws continue where the checkpoint left them
                restore_random_states(self._resumed_random_states)
                self._resumed_random_states = None
            return
        if self.net.needs_calibration and self._calibration_source() is not None:
            self._calibrate(self._calibration_batch(None))
        self._validate_before_training()

    @property
    def training_network(self):
        """What the training step calls: the network, or with ``compile`` its compiled
        forward (:class:`~jointsr.training.fast.CompiledNetwork`, same weights, eager fallback)."""
        if not self.compile_network:
            return self.net
        if self._compiled is None:
            from jointsr.training.fast import CompiledNetwork

            self._compiled = CompiledNetwork(self.net)
        return self._compiled

    def _calibration_source(self):
        """The DataModule's ``calibration_batch(count)``, or None when it has none."""
        return getattr(getattr(self.trainer, "datamodule", None), "calibration_batch", None)

    def _calibration_batch(self, batch: dict | None) -> dict:
        """What the start is fit on: ``calibration_patches`` training patches drawn with the
        run's seed, when the DataModule can draw them (``calibration_batch``); otherwise
        ``batch``, the first training batch (experiments/plateau/ compares a fit on 128 patches
        with one on a batch of 16)."""
        draw = self._calibration_source()
        if draw is None:
            return batch
        return {key: value.to(self.device) for key, value in draw(self.calibration_patches).items()}

    @torch.no_grad()
    def _calibrate(self, batch: dict) -> None:
        """The network's data-driven start, before the first optimiser step (a resumed or
        loaded network is calibrated already). Under DDP every rank takes rank 0's result,
        so all replicas start from the same weights."""
        self.net.calibrate(batch["lr"], batch["guide"], batch["hr"])
        if self.trainer.world_size > 1 and torch.distributed.is_initialized():
            for tensor in [*self.net.parameters(), *self.net.buffers()]:
                torch.distributed.broadcast(tensor.data, src=0)
        densities = {k.split("/", 1)[1]: v for k, v in self.net.diagnostics(batch["lr"], batch["guide"]).items()
                     if k.startswith("density/")}
        if densities:
            log.info("%s calibrated on %d training patches: code density %s", self.name, batch["hr"].shape[0],
                     " ".join(f"{k}={v:.0%}" for k, v in densities.items()))

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _validate_before_training(self) -> None:
        """Validate the weights training starts from and log the metrics at step 0 (every
        logger; the checkpoint monitor does not see them: nothing is selected before a step)."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is None or not self.trainer.limit_val_batches:
            return
        was_training = self.training
        self.eval()
        reports = {}
        for index, batch in enumerate(datamodule.val_dataloader()):
            batch = {key: value.to(self.device) if isinstance(value, torch.Tensor) else value
                     for key, value in batch.items()}
            reports.update(self._validation_update(batch, index))
        self.train(was_training)
        metrics = {f"val/{key}": value for key, value in mean_metrics(self._epoch_rows(self.val_metrics)).items()}
        if not metrics:
            return
        metrics.update({f"val/{key}": value for key, value in reports.items()})
        for logger in self.loggers:
            logger.log_metrics(metrics, step=0)
        log.info("%s before training (step 0): validation PSNR %.2f dB", self.name, metrics["val/psnr"])

    def _predict(self, batch: dict) -> torch.Tensor:
        # whole images, or tiles when they do not fit (self.tile: None automatic, 0 whole, N pixels);
        # in fp32 whatever the training precision (trainer.precision=bf16-mixed autocasts the
        # evaluation steps too): the protocol's numbers are those of the fp32 network
        with torch.autocast(batch["lr"].device.type, enabled=False):
            prediction = forward_any_size(self.net, batch["lr"], batch["guide"], self.tile, progress=False)
        return prediction.float().clamp(0.0, 1.0)

    def _validation_update(self, batch: dict, batch_idx: int) -> dict[str, float]:
        """One validation batch into the metrics; on the grid's batch the grid is logged and
        what the network reports (code density per state and step, thresholds) returned."""
        prediction = self._predict(batch)
        self.val_metrics.update(prediction, batch["hr"], batch["name"], self._rmse_border())
        if batch_idx != self.grid_index:
            return {}
        self._log_grid(batch, prediction)
        return self.net.diagnostics(batch["lr"][:1], batch["guide"][:1])

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        for key, value in self._validation_update(batch, batch_idx).items():
            self.log(f"val/{key}", value, batch_size=1)

    # The epoch's values are logged as they are on every rank: ImageMetrics synced the rows
    # already (Lightning's hint to pass sync_dist=True under DDP does not apply to them).
    def on_validation_epoch_end(self) -> None:
        rows = self._epoch_rows(self.val_metrics)
        for key, value in mean_metrics(rows).items():
            self.log(f"val/{key}", value, prog_bar=key == "psnr")
        if self.trainer.state.fn == "fit":  # the row's step: optimiser steps behind these weights
            self.log("step", float(self.trainer.global_step))  # (Lightning's default is one less)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.test_metrics.update(self._predict(batch), batch["hr"], batch["name"], self._rmse_border())

    def _rmse_border(self) -> int:
        """The frame the cropped RMSE leaves out: the datamodule's ``rmse_border`` (data config)."""
        return getattr(getattr(self.trainer, "datamodule", None), "rmse_border", DEPTH_BORDER)

    def on_test_epoch_end(self) -> None:
        self.test_results = self._epoch_rows(self.test_metrics)
        for key, value in mean_metrics(self.test_results).items():
            self.log(f"test/{key}", value)
        self.log("test/images", float(len(self.test_results)))

    @staticmethod
    def _epoch_rows(metrics: ImageMetrics) -> list[dict]:
        """Every rank's per-image rows (the metric syncs them), each image once; then reset."""
        rows = metrics.compute()
        metrics.reset()
        return rows

    @torch.no_grad()
    def _log_grid(self, batch: dict, prediction: torch.Tensor) -> None:
        """The labelled grid bicubic | prediction | truth | error of the batch's first image
        (its channel 0) to every logger that keeps images."""
        if self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        hr = batch["hr"][:1]
        bicubic = imresize(batch["lr"][:1], out_shape=tuple(hr.shape[-2:])).clamp(0, 1)
        shown = [image[0, 0].float().cpu().numpy() for image in (bicubic, prediction[:1], hr)]
        caption = f"{batch['name'][0]} epoch {self.current_epoch}: bicubic | prediction | truth | |error| x{ERROR_GAIN}"
        log_grid(self.loggers, validation_grid(*shown), caption, epoch=self.current_epoch, step=self.global_step)

    # ------------------------------------------------------------------ optimisation
    def configure_optimizers(self):
        if not self.has_parameters:
            return None
        if self.optimizer_factory is None:
            raise ValueError(f"model {self.name!r} has parameters but no optimizer is configured")
        optimizer = build_optimizer(self.optimizer_factory, self.net)
        if self.scheduler_factory is None:
            if not self.warmup_steps:
                return optimizer
            # a linear ramp over warmup_steps, then the constant rate
            ramp = warmup_cosine(optimizer, self.warmup_steps, final_factor=1.0)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": ramp, "interval": "step"}}
        if self.warmup_steps:
            raise ConfigError(f"model.warmup_steps={self.warmup_steps} ramps a constant rate; with a scheduler "
                              f"({getattr(self.scheduler_factory, 'func', self.scheduler_factory).__name__}) set "
                              f"its own warm-up (model.scheduler.warmup_steps) and model.warmup_steps=0")
        kwargs = {}
        accepted = inspect.signature(self.scheduler_factory).parameters
        given = getattr(self.scheduler_factory, "keywords", {})
        timer = budget_timer(self._trainer) if self._trainer is not None else None
        if "total_steps" in accepted and "total_steps" not in given:
            # the step budget, unless only time bounds the run (then max_epochs x batches
            # would be a horizon training never reaches)
            if timer is None or self.trainer.max_steps > 0:
                kwargs["total_steps"] = float(self.trainer.estimated_stepping_batches)
        if "time_progress" in accepted and "time_progress" not in given and timer is not None:
            strategy = self.trainer.strategy
            if self.trainer.world_size > 1:  # one clock for all ranks, or their weights drift apart
                kwargs["time_progress"] = lambda: strategy.broadcast(_fraction_spent(timer))
            else:
                kwargs["time_progress"] = lambda: _fraction_spent(timer)
        scheduler = self.scheduler_factory(optimizer, **kwargs)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval}}

    # ------------------------------------------------------------------ checkpoints
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["jointsr"] = {"model_cfg": self.model_cfg, "name": self.name, "random_states": random_states()}
        if self.data_record is not None:  # what jointsr-eval tests on by default
            checkpoint["jointsr"]["data"] = self.data_record

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # set when training starts again (on_train_start), after everything that draws before it
        self._resumed_random_states = checkpoint.get("jointsr", {}).get("random_states")


def build_optimizer(factory: Callable[..., torch.optim.Optimizer], net: SRNetwork) -> torch.optim.Optimizer:
    """The optimiser of ``net``'s parameters, each group at the configured rate times the
    factor the network asks for (:meth:`SRNetwork.learning_rate_scales`; one group when
    it asks for none)."""
    scales = net.learning_rate_scales()
    if not scales:
        return factory(params=net.parameters())
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, parameter in net.named_parameters():
        groups.setdefault(float(scales.get(name, 1.0)), []).append(parameter)
    optimizer = factory(params=[{"params": params, "lr_scale": scale} for scale, params in groups.items()])
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * group["lr_scale"]
    return optimizer


def training_autocast(bf16: bool, device_type: str = "cpu"):
    """The autocast context of a bf16 mixed-precision step (``torch.autocast``: weights and
    optimiser in fp32, convolutions and matrix products in bfloat16), or a no-op."""
    return torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16)


def network_loss(net, batch: dict, loss_fn: Callable, step_weights: str | Sequence[float] | None,
                 name: str = "the network") -> torch.Tensor:
    """``loss_fn`` of ``net``'s output against the batch's HR truth, or with ``step_weights``
    (``"uniform"`` or one weight per step) the weighted loss of every ``forward_steps``
    prediction: what a training step minimises (also timed by jointsr-bench)."""
    if step_weights is None:
        return loss_fn(net(batch["lr"], batch["guide"]), batch["hr"])
    predictions = net.forward_steps(batch["lr"], batch["guide"])
    weights = step_weights
    if weights == "uniform":
        weights = [1.0 / len(predictions)] * len(predictions)
    elif len(weights) != len(predictions):
        raise ConfigError(step_count_error(weights, len(predictions), name))
    return sum(w * loss_fn(p, batch["hr"]) for w, p in zip(weights, predictions))


def step_count_error(weights: Sequence[float], steps: int, name: str) -> str:
    return (f"model.step_weights={list(weights)} gives {len(weights)} weights but {name} has {steps} steps; "
            f"give one weight per step or model.step_weights=uniform")


def _check_optimizer(factory: Callable[..., torch.optim.Optimizer], net: SRNetwork) -> None:
    """Build the optimiser once and discard it, so that a value it refuses
    (``model.optimizer.lr=abc``) is one line before the run starts, not a traceback at the fit."""
    try:
        build_optimizer(factory, net)
    except (TypeError, ValueError) as error:
        settings = getattr(factory, "keywords", {})
        given = " ".join(f"model.optimizer.{key}={value!r}" for key, value in settings.items()) or "model.optimizer"
        name = getattr(getattr(factory, "func", factory), "__name__", "the optimiser")
        raise ConfigError(f"{given}: {name} refuses these settings ({error})") from None


def _check_step_weights(weights: str | Sequence[float] | None) -> str | list[float] | None:
    """``None``, ``"uniform"`` or a list of non-negative numbers (``model.step_weights``)."""
    if weights is None or weights == "uniform":
        return weights
    if isinstance(weights, str) or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0
                                           for w in weights):
        raise ConfigError(f"model.step_weights={weights!r} must be null (loss on the output), uniform (the mean "
                          f"over every step) or a list of numbers >= 0, one per step")
    return [float(w) for w in weights]
