"""Inference of any image size in bounded memory: the network run tile by tile.

Every network of :mod:`jointsr.models` is local: an output pixel depends only on the
inputs within its *receptive radius* ``r`` (HR pixels). The output is cut into core tiles;
each is computed from its crop of the inputs grown by a halo ``>= r`` on every side
(clipped at the image border, where the crop's border is the image's, so the padding the
network sees there is the same as on the whole image), and only the core is kept. What
the network computes wrongly near a crop's inner edge (zero or replicate padding where
the whole image has neighbours) reaches at most ``r`` pixels inwards, all inside the
halo: the stitched image equals whole-image inference up to float rounding.

The network says its radius (``receptive_radius()`` of the contract,
:mod:`jointsr.models.network`), computed from its hyper-parameters layer by layer along the
longest path of its unrolled graph, never guessed, and the step its tile origins must keep
(``tile_alignment()``: the scale, so the LR crop is exact and every strided layer keeps its
phase, and the patch grid's step of a patch-based network).
"""

from __future__ import annotations

import logging
import math
from typing import Callable

import torch

from jointsr.inference.memory import SAFETY, available_bytes, forward_memory_line
from jointsr.models.network import SRNetwork

log = logging.getLogger("jointsr")

#: at least this many tiles before a progress bar is shown
PROGRESS_MIN_TILES = 4
#: auto tile: the share of the available memory one tile's forward pass may use
AUTO_MEMORY_SHARE = 0.5


# --------------------------------------------------------------------------- receptive radius
def receptive_radius(net: SRNetwork) -> int:
    """The HR radius beyond which no input changes an output pixel, rounded up: what the
    network says (:meth:`~jointsr.models.network.SRNetwork.receptive_radius`). Raises a
    ValueError for a network that cannot say it."""
    return int(math.ceil(net.receptive_radius()))


def alignment(net: SRNetwork) -> int:
    """Tile origins (HR) are multiples of this (:meth:`~jointsr.models.network.SRNetwork.tile_alignment`)."""
    return int(net.tile_alignment())


# --------------------------------------------------------------------------- tiles
def _spans(size: int, tile: int, align: int) -> list[tuple[int, int]]:
    """Cut ``[0, size)`` into about equal spans of at most ``tile`` (multiples of ``align``)."""
    count = math.ceil(size / tile)
    step = math.ceil(size / count / align) * align
    return [(start, min(size, start + step)) for start in range(0, size, step)]


def tile_grid(height: int, width: int, tile: int, align: int) -> list[tuple[int, int, int, int]]:
    """The core tiles ``(y0, y1, x0, x1)`` covering an HR image, origins multiples of ``align``."""
    tile = max(align, tile // align * align)
    return [(y0, y1, x0, x1) for y0, y1 in _spans(height, tile, align) for x0, x1 in _spans(width, tile, align)]


def tile_crops(height: int, width: int, tile: int, halo: int, align: int):
    """Each core tile ``(y0, y1, x0, x1)`` with the crop it is computed from, ``(top, bottom,
    left, right)``: the tile grown by ``halo`` and clipped at the image border (a border tile
    has its halo on fewer sides)."""
    for y0, y1, x0, x1 in tile_grid(height, width, tile, align):
        yield (y0, y1, x0, x1), (max(0, y0 - halo), min(height, y1 + halo), max(0, x0 - halo), min(width, x1 + halo))


def tiled_forward(net: SRNetwork, lr_target: torch.Tensor, hr_guide: torch.Tensor, tile: int,
                  halo: int | None = None, progress: bool = True) -> torch.Tensor:
    """``net(lr_target, hr_guide)`` computed on HR tiles of at most ``tile x tile`` pixels
    (``tile <= 0``, or one tile holding the image: the whole image at once), each from its
    crop grown by ``halo`` pixels (default: the receptive radius, rounded up to the
    alignment). Equal to the whole-image output up to float rounding. ``progress`` shows a
    bar on stderr when there are at least :data:`PROGRESS_MIN_TILES` tiles."""
    height, width = hr_guide.shape[-2:]
    if tile is None or tile <= 0 or (tile >= height and tile >= width):
        return net(lr_target, hr_guide)
    scale, align = int(net.scale), alignment(net)
    halo = receptive_radius(net) if halo is None else int(halo)
    halo = math.ceil(halo / align) * align
    tiles = list(tile_crops(height, width, tile, halo, align))
    output: torch.Tensor | None = None
    with _progress_bar(len(tiles), progress and len(tiles) >= PROGRESS_MIN_TILES) as advance:
        for (y0, y1, x0, x1), (top, bottom, left, right) in tiles:
            piece = net(lr_target[..., top // scale: bottom // scale, left // scale: right // scale],
                        hr_guide[..., top:bottom, left:right])
            if output is None:
                output = piece.new_empty((*piece.shape[:-2], height, width))
            output[..., y0:y1, x0:x1] = piece[..., y0 - top: y1 - top, x0 - left: x1 - left]
            del piece
            _release_freed_memory(hr_guide.device)
            advance()
    return output


def _release_freed_memory(device: torch.device) -> None:
    """Give what the last tile's pass freed back to the system, so the peak stays that of one
    tile: glibc keeps freed blocks in its heap (``malloc_trim`` returns them); elsewhere a no-op."""
    if device.type != "cpu":
        return
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


class _progress_bar:
    """A rich progress bar over tiles on stderr (a no-op when disabled)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self.bar = total, enabled, None

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("tiles"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.__enter__()
        task = self.bar.add_task("tiles", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# --------------------------------------------------------------------------- automatic tile size
def auto_tile(net: SRNetwork, height: int, width: int, guide_channels: int, device: torch.device,
              budget_bytes: int | None = None, batch: int = 1) -> int | None:
    """The tile (HR side) for a batch of ``height x width`` HR outputs: 0 (the whole image) when its
    forward pass fits in ``budget_bytes`` (default: :data:`AUTO_MEMORY_SHARE` of the memory
    available now), else the largest aligned tile whose pass with its halo fits; None when
    not even the smallest tile fits (or the network's receptive radius is unknown)."""
    if budget_bytes is None:
        available = available_bytes(device)
        if available is None:
            return 0
        budget_bytes = int(AUTO_MEMORY_SHARE * available)
    scale, align = int(net.scale), alignment(net)
    fixed, per_pixel = forward_memory_line(net, guide_channels, int(net.scale), device)

    def needed(hr_h: int, hr_w: int) -> float:
        return SAFETY * (fixed + per_pixel * batch * (hr_h / scale) * (hr_w / scale))

    if needed(height, width) <= budget_bytes:
        return 0
    try:
        halo = math.ceil(receptive_radius(net) / align) * align
    except ValueError as error:  # a network of unknown reach: it cannot be tiled
        log.warning("%s", error)
        return None
    if needed(align + 2 * halo, align + 2 * halo) > budget_bytes:
        return None  # not even the smallest tile fits
    side = (math.sqrt(max(budget_bytes / SAFETY - fixed, 0.0) / max(per_pixel * batch, 1e-12)) * scale) - 2 * halo
    tile = max(align, int(side) // align * align)
    if tile == align:
        log.warning("the memory budget (%.2f GB) leaves tiles of %d pixels only; the halo (%d) makes "
                    "them slow", budget_bytes / 1e9, tile, halo)
    return tile


def check_tile(value) -> int | None:
    """``tile=`` as given: ``None`` (automatic), 0 (whole image) or a side in HR pixels."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        from jointsr.errors import ConfigError

        raise ConfigError(f"tile={value!r} must be an integer >= 0 (the HR tile side in pixels; 0: the whole "
                          f"image at once) or null (automatic, from the memory available)")
    return value


def forward_any_size(net: SRNetwork, lr_target: torch.Tensor, hr_guide: torch.Tensor, tile: int | None = None,
                     budget_bytes: int | None = None, progress: bool = True) -> torch.Tensor:
    """The entry the hooks call: ``tile=None`` chooses it (:func:`auto_tile`), ``0`` the whole
    image, ``N`` tiles of ``N`` HR pixels."""
    if tile is None:
        tile = auto_tile(net, *hr_guide.shape[-2:], hr_guide.shape[1], hr_guide.device, budget_bytes,
                         batch=hr_guide.shape[0])
    if tile is None:  # nothing fits: the whole image, as without tiling
        tile = 0
    return tiled_forward(net, lr_target, hr_guide, int(tile), progress=progress)
