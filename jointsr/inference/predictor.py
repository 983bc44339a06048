"""A loaded network run on a user's image pairs, one pair at a time: the pair brought onto the
network's grid (:func:`~jointsr.inference.inputs.prepare_inputs`), the tile side chosen from the
memory, the forward pass (tiled when it must be), and the result on the output's pixels. One
:class:`Predictor` serves a single pair or a whole folder of them (the model is loaded once).

With ``simulate=`` the target is made from an HR truth; :func:`simulation_scores` rates the
result against it beside bicubic's, as the paper's protocol does."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch

from jointsr.inference.inputs import check_memory, prepare_inputs, simulate_target
from jointsr.inference.tiling import auto_tile, receptive_radius, tiled_forward
from jointsr.models.network import SRNetwork

log = logging.getLogger("jointsr")


@dataclass(frozen=True)
class Prediction:
    """The result of one pair, and the LR input the network saw (bicubic's scores start from it)."""

    image: np.ndarray            # (H, W) in [0, 1], on the output's pixels
    lr_target: torch.Tensor      # (1, 1, h, w)


@dataclass(frozen=True)
class Result:
    """What :meth:`Predictor.run` gives: the image, and with ``simulate`` its scores and the truth's size "WxH"."""

    image: np.ndarray
    scores: dict | None = None
    size: str = ""


class Predictor:
    """A network on its device, run pair by pair in the memory allowed.

    ``tile``: the HR tile side (None: the whole image when it fits in ``max_memory_gb``, or half
    the memory available, else the largest tile that does; 0: the whole image, refused when it
    does not fit). ``details``: the level of the per-pair log lines (sizes, memory, time): a
    folder logs them at DEBUG so its progress bar stays readable. ``progress``: a bar over tiles.
    """

    def __init__(self, net: SRNetwork, device: torch.device, tile: int | None = None,
                 max_memory_gb: float | None = None, details: int = logging.INFO, progress: bool = True) -> None:
        self.net = net.eval().to(device)
        self.device, self.tile, self.max_memory_gb = device, tile, max_memory_gb
        self.details, self.progress = details, progress

    @property
    def scale(self) -> int:
        return int(self.net.scale)

    def super_resolve(self, target: np.ndarray, guide: np.ndarray, target_name: str = "target",
                      guide_name: str = "guide", geometry: str = "auto") -> Prediction:
        """``target`` (h, w) super-resolved with ``guide`` (float images in [0, 1], as read) on the
        pixels ``geometry`` gives (:class:`~jointsr.inference.inputs.PairGeometry`)."""
        net = self.net
        lr_target, hr_guide, pair = prepare_inputs(target, guide, net.scale, net.guide_channels, target_name,
                                                   guide_name, geometry)
        tile = self._tile(hr_guide)
        if tile == 0:
            check_memory(net, lr_target, net.guide_channels, self.device, self.max_memory_gb, self.details)
        else:
            log.log(self.details, "tiles of %d x %d HR pixels with a halo of %d (the receptive radius)", tile,
                    tile, receptive_radius(net))
        start = time.perf_counter()
        log.log(self.details, "super-resolving %s x%d (%dx%d -> %dx%d) on %s", target_name, net.scale,
                lr_target.shape[-1], lr_target.shape[-2], hr_guide.shape[-1], hr_guide.shape[-2], self.device)
        with torch.inference_mode():
            output = tiled_forward(net, lr_target.to(self.device), hr_guide.to(self.device), tile,
                                   progress=self.progress).clamp(0, 1)
        image = np.clip(pair.output_from_grid(output[0, 0].float().cpu().numpy()), 0.0, 1.0)
        log.log(self.details, "super-resolved in %.1f s", time.perf_counter() - start)
        return Prediction(image, lr_target)

    def run(self, source: np.ndarray, guide: np.ndarray, source_name: str, guide_name: str, simulate: bool,
            geometry: str = "auto") -> Result:
        """A pair as read: ``source`` is the LR target, or (``simulate``) the HR truth degraded as the
        protocol does first, then super-resolved and scored against it beside bicubic."""
        truth, target, target_name = None, source, source_name
        if simulate:
            target, truth = simulate_target(source, self.scale, source_name)
            target_name = f"{source_name} (degraded x{self.scale}, MATLAB bicubic)"
        prediction = self.super_resolve(target, guide, target_name, guide_name, "crop" if simulate else geometry)
        if truth is None:
            return Result(prediction.image)
        return Result(prediction.image, simulation_scores(prediction.image, truth, prediction.lr_target),
                      f"{truth.shape[1]}x{truth.shape[0]}")

    def _tile(self, hr_guide: torch.Tensor) -> int:
        """The tile side for this guide: as given, or (None) the whole image when it fits in the
        memory allowed, else tiles; 0 when not even a small tile fits (the memory check refuses)."""
        if self.tile is not None:
            return self.tile
        limit = self.max_memory_gb
        tile = auto_tile(self.net, *hr_guide.shape[-2:], self.net.guide_channels, self.device,
                         None if limit is None else int(float(limit) * 1e9))
        return 0 if tile is None else tile


def simulation_scores(prediction: np.ndarray, truth: np.ndarray, lr_target: torch.Tensor) -> dict[str, dict]:
    """PSNR/SSIM (the paper's protocol) of the prediction and of bicubic from the same LR input,
    against the HR truth: ``{"ours": metrics, "bicubic": metrics}``."""
    from jointsr.functional.imresize import imresize
    from jointsr.metrics.protocol import evaluate_pair

    bicubic = imresize(lr_target, out_shape=truth.shape)[0, 0].numpy()
    return {"ours": evaluate_pair(prediction, truth), "bicubic": evaluate_pair(bicubic, truth)}


def simulation_line(name: str, scale: int, scores: dict[str, dict], size: str = "") -> str:
    """One line: the scores of :func:`simulation_scores` (``size``: "WxH", shown in brackets)."""
    ours, reference = scores["ours"], scores["bicubic"]
    return (f"{name} x{scale}{f' ({size})' if size else ''}: PSNR {ours['psnr']:.2f} dB, SSIM "
            f"{ours['ssim']:.4f} | bicubic {reference['psnr']:.2f} dB, {reference['ssim']:.4f} | gain "
            f"{ours['psnr'] - reference['psnr']:+.2f} dB")
