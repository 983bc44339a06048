"""A user's image pair as network inputs: the LR target and HR guide as tensors, the LR input
the protocol makes from an HR image, the device to run on, and the memory a forward pass needs
against what is free: each checked with a one-line reason when it cannot be used."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from jointsr.data.io import single_channel
from jointsr.errors import ConfigError, InputError, ResourceError
from jointsr.functional.color import rgb_to_y
from jointsr.functional.dct_resize import dct_resize
from jointsr.inference.memory import PROBE_SIDES, available_bytes, estimate_forward_bytes, gigabytes

log = logging.getLogger("jointsr")

DEVICES = "auto | cpu | cuda | cuda:N"


GEOMETRIES = ("auto", "crop", "resample")


@dataclass(frozen=True)
class PairGeometry:
    """How an LR target of ``target_size`` (h, w) meets an HR guide of ``guide_size`` (H, W) at
    ``scale``. The network runs on the grid of exactly ``scale`` x the target; the guide reaches
    that grid by

    - ``crop``: the protocol's geometry (the target made from the HR image modcropped to the
      scale): the guide's extra ``0 .. scale-1`` pixels at the bottom and right are cut, and the
      result is the grid's size;
    - ``resample``: both images show the same field of view (the target resized from a
      guide-sized image, or two sensors' pictures), so the grid is stretched over the guide's
      whole extent: the guide is resampled onto it
      (:func:`~jointsr.functional.dct_resize.dct_resize`) and the result back onto the guide's
      pixels, so the result is the guide's size.
    """

    mode: str
    scale: int
    target_size: tuple[int, int]
    guide_size: tuple[int, int]

    @property
    def grid_size(self) -> tuple[int, int]:
        """(H, W) of the network's HR grid: ``scale`` x the target."""
        return self.scale * self.target_size[0], self.scale * self.target_size[1]

    @property
    def output_size(self) -> tuple[int, int]:
        """(H, W) of the result: the grid's (crop), or the guide's (resample)."""
        return self.grid_size if self.mode == "crop" else self.guide_size

    def guide_on_grid(self, image: np.ndarray) -> np.ndarray:
        """A guide-sized image, (H, W) or (H, W, C) as read, on the network's grid (s h, s w[, C])."""
        height, width = self.grid_size
        if self.mode == "crop":
            return image[:height, :width]
        if image.ndim == 2:
            return dct_resize(image, self.grid_size)
        return np.moveaxis(dct_resize(np.moveaxis(image, -1, 0), self.grid_size), 0, -1)

    def output_from_grid(self, image: np.ndarray) -> np.ndarray:
        """The network's result (s h, s w) on the output's pixels (``output_size``)."""
        return image if self.mode == "crop" else dct_resize(image, self.guide_size)

    def describe(self, target_name: str = "target", guide_name: str = "guide") -> str:
        """One line: the sizes and what is done to them."""
        grid, guide, target = _wxh(self.grid_size), _wxh(self.guide_size), _wxh(self.target_size)
        if self.mode == "crop":
            return f"{guide_name} {guide} cropped to x{self.scale} the target {target_name} {target}: {grid}"
        line = (f"{target_name} {target} and {guide_name} {guide} read as the same field of view (the guide is "
                f"not x{self.scale} the target, {grid}): the guide resampled onto the {grid} grid, the "
                f"result back onto the guide's {guide}")
        if _croppable(self.target_size, self.guide_size, self.scale):
            line += (f"; geometry=crop cuts the guide to {grid} instead, for a target made from the HR image "
                     f"cropped to {grid} (the protocol's modcrop)")
        return line


def _wxh(size: tuple[int, int]) -> str:
    return f"{size[1]}x{size[0]}"


def _croppable(target_size: tuple[int, int], guide_size: tuple[int, int], scale: int) -> bool:
    return all(0 <= guide - scale * target < scale for target, guide in zip(target_size, guide_size))


def _same_view(target_size: tuple[int, int], guide_size: tuple[int, int], scale: int) -> bool:
    """Each target side is the floor, round or ceiling of the guide's side / scale."""
    return all(abs(guide - scale * target) < scale for target, guide in zip(target_size, guide_size))


def check_geometry(choice: str) -> str:
    """``geometry=`` checked: one of :data:`GEOMETRIES`."""
    if str(choice) not in GEOMETRIES:
        raise ConfigError(f"geometry={choice!r} is not a geometry: use one of {' | '.join(GEOMETRIES)}")
    return str(choice)


def pair_geometry(target_size: tuple[int, int], guide_size: tuple[int, int], scale: int, choice: str = "auto",
                  target_name: str = "target", guide_name: str = "guide") -> PairGeometry:
    """How a target of (h, w) and a guide of (H, W) are brought onto one grid at ``scale``.

    ``auto``: a guide of exactly ``scale`` x the target is used as it is (``crop``, nothing cut);
    one within ``scale - 1`` pixels of that per side (each target side the floor, round or
    ceiling of the guide's side / scale: a resize of the whole guide-sized image) is
    ``resample``. ``crop`` accepts a guide up to ``scale - 1`` pixels larger per side; ``resample``
    the sizes ``auto`` does. Anything else is an :class:`InputError` naming both sizes.
    """
    choice = check_geometry(choice)
    target_size, guide_size = tuple(map(int, target_size)), tuple(map(int, guide_size))
    grid = (scale * target_size[0], scale * target_size[1])
    if choice == "crop":
        accepted = _croppable(target_size, guide_size, scale)
        what = f"(geometry=crop cuts up to {scale - 1} extra pixels per side)"
    else:
        accepted = _same_view(target_size, guide_size, scale)
        what = (f"or within {scale - 1} pixels of it per side for a target resized from a guide-sized image "
                f"(the same field of view: the guide is resampled)")
    if not accepted:
        raise InputError(f"{guide_name} is {_wxh(guide_size)} (WxH) but must be x{scale} the target "
                         f"{target_name} {_wxh(target_size)}, i.e. {_wxh(grid)} {what}")
    exact = guide_size == grid
    return PairGeometry("crop" if choice == "crop" or exact else "resample", scale, target_size, guide_size)


class NetworkInputs(NamedTuple):
    """A user's pair on the network's grid, and the geometry that put it there."""

    lr_target: torch.Tensor      # (1, 1, h, w)
    hr_guide: torch.Tensor       # (1, C, s h, s w)
    geometry: PairGeometry


def prepare_inputs(target: np.ndarray, guide: np.ndarray, scale: int, guide_channels: int,
                   target_name: str = "target", guide_name: str = "guide",
                   geometry: str = "auto") -> NetworkInputs:
    """The ``(1,1,h,w)`` LR target and ``(1,C,s*h,s*w)`` guide tensors from float images in [0, 1],
    brought onto one grid as :func:`pair_geometry` decides for ``geometry`` (logged when the
    guide is cut or resampled).

    A target stored as RGB with three equal channels (a grey image saved in colour) is
    read as grey; a colour target is refused.
    """
    target = single_channel(target, f"{target_name} (the target)")
    pair = pair_geometry(target.shape, guide.shape[:2], scale, geometry, target_name, guide_name)
    if pair.guide_size != pair.grid_size:
        log.info(pair.describe(target_name, guide_name))
    guide = pair.guide_on_grid(guide)
    if guide.ndim == 2:
        guide = np.repeat(guide[..., None], 3, axis=2)
    guide_image = rgb_to_y(guide)[None] if guide_channels == 1 else guide.transpose(2, 0, 1)
    return NetworkInputs(torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32))[None, None],
                         torch.from_numpy(np.ascontiguousarray(guide_image, dtype=np.float32))[None], pair)


def select_device(name: str) -> torch.device:
    """``auto`` (a GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``, checked to exist."""
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ResourceError(f"device={name}: no CUDA GPU is available on this machine (or this PyTorch "
                                f"build has no CUDA); use device=cpu or device=auto")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ResourceError(f"device={name}: this machine has {torch.cuda.device_count()} GPU(s), "
                                f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
        return device
    raise ConfigError(f"device={name!r} is not a device: use one of {DEVICES}")


def simulate_target(truth: np.ndarray, scale: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The protocol's LR input of an HR image: grey, modcropped to the scale, then MATLAB
    ``imresize(hr, 1/scale, 'bicubic')``. Returns ``(lr, modcropped hr)``."""
    from jointsr.data.degradation import Bicubic
    from jointsr.functional.imresize import modcrop

    truth = single_channel(truth, f"simulate={name} (the HR target)")
    hr = modcrop(truth, scale)
    if min(hr.shape) < 2 * scale:
        raise InputError(f"simulate={name} is {truth.shape[1]}x{truth.shape[0]}: too small to degrade by x{scale}")
    return Bicubic()(hr, scale), hr


def check_memory(net: torch.nn.Module, lr_target: torch.Tensor, guide_channels: int, device: torch.device,
                 limit_gb: float | None, details: int = logging.INFO) -> None:
    """Refuse, with the numbers, a forward pass that would not fit in memory (the estimate is
    logged at level ``details``). With no limit given, a target no larger than the estimate's
    own probes is not estimated: probing would run a forward pass as large as the real one."""
    height, width = lr_target.shape[-2:]
    if limit_gb is None and height * width <= PROBE_SIDES[-1] ** 2:
        return
    needed = estimate_forward_bytes(net, height, width, guide_channels, net.scale, device)
    limit = available_bytes(device) if limit_gb is None else int(float(limit_gb) * 1e9)
    where = "GPU memory" if device.type == "cuda" else "memory"
    log.log(details, "estimated peak %s: %s (%s)", where, gigabytes(needed),
            "no limit known" if limit is None else f"{gigabytes(limit)} available")
    if limit is not None and needed > limit:
        tiles = int(np.ceil(np.sqrt(needed / max(limit, 1))))
        raise ResourceError(
            f"super-resolving the {width}x{height} target at x{net.scale} ({width * net.scale}x"
            f"{height * net.scale}) needs about {gigabytes(needed)} of {where}, {gigabytes(limit)} "
            f"{'allowed' if limit_gb is not None else 'available'}: split the target and guide into "
            f"{tiles}x{tiles} tiles of about {int(np.ceil(width / tiles))}x{int(np.ceil(height / tiles))} "
            f"(LR) and run each, or use a machine with more memory (max_memory_gb=... sets the limit)")


def set_threads() -> None:
    """Use every core for intra-op work (PyTorch may pick fewer under some launchers), shared
    among the ranks of a job on this machine (``LOCAL_WORLD_SIZE``)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = max(1, (cores or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    if "OMP_NUM_THREADS" not in os.environ and torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
