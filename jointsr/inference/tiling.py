"""Inference of any image size in bounded memory: the network run tile by tile.

Every network of :mod:`jointsr.models` is local: an output pixel depends only on the
inputs within its *receptive radius* ``r`` (HR pixels). The output is cut into core tiles;
each is computed from its crop of the inputs grown by a halo ``>= r`` on every side
(clipped at the image border, where the crop's border is the image's, so the padding the
network sees there is the same as on the whole image), and only the core is kept. What
the network computes wrongly near a crop's inner edge (zero or replicate padding where
the whole image has neighbours) reaches at most ``r`` pixels inwards, all inside the
halo: the stitched image equals whole-image inference up to float rounding.

The radius is computed from the network's hyper-parameters, layer by layer along the
longest path of its unrolled graph (:func:`receptive_radius`), never guessed. A network
may also say it itself through a ``receptive_radius()`` method.

Geometry. An LR pixel ``i`` sits at HR coordinate ``c_i = i s + (s - 1) / 2``. Tile
origins are multiples of ``s`` (so the LR crop is exact and every strided layer keeps its
phase), and of the patch stride of a patch-based network.
"""

from __future__ import annotations

import logging
import math
from typing import Callable

import torch
from torch import nn

from jointsr.inference.memory import SAFETY, available_bytes, forward_memory_line

log = logging.getLogger("jointsr")

#: at least this many tiles before a progress bar is shown
PROGRESS_MIN_TILES = 4
#: auto tile: the share of the available memory one tile's forward pass may use
AUTO_MEMORY_SHARE = 0.5


# --------------------------------------------------------------------------- receptive radius
def resample_radius(kernel: int, stride: int, padding: int) -> float:
    """HR radius of a stride-``s`` convolution HR -> LR or its transpose LR -> HR (``kernel``,
    ``padding``): the farthest HR pixel one LR pixel's kernel touches, from the LR pixel's
    centre. LR pixel ``j`` touches HR ``j s - padding .. j s - padding + kernel - 1``."""
    centre = (stride - 1) / 2
    return max(padding + centre, kernel - 1 - padding - centre)


def _bicubic_radius(scale: int) -> float:
    """MATLAB bicubic upscaling: output ``y`` reads LR taps within 2 of ``u = (y + 0.5) / s - 0.5``
    (the cubic kernel is 0 beyond), i.e. within ``2 s`` HR pixels of their centres."""
    return 2.0 * scale


def _jointsr_radius(net) -> float:
    from jointsr.models.jointsr import JointSR

    assert isinstance(net, JointSR)
    s, half = net.scale, net.K // 2
    up = resample_radius(2 * s, s, (s + 1) // 2)  # conv_up and conv_down
    if net.form == "free":
        guide_update = target_update = net.free_kernel_size // 2
    else:
        guide_update, target_update = 2 * half, 2 * up  # E(D a) on the HR grid; via the LR grid
    guide_drive, target_drive = half, up
    v = guide_drive + net.T * guide_update   # guide encoder: analysis, then T updates
    u = target_drive + net.T * target_update
    h, g = u, v
    guide_steps = sum(1 for step in net.steps if step.guide_update is not None)
    for r in range(net.R):
        h = max(h + target_update, target_drive, g)  # LeSITA reads g at the same pixel
        if r < net.R - 1 and guide_steps:
            g = max(g + guide_update, guide_drive, h)
    radius = h + half  # the dictionary Dx
    if net.skip is not None:
        radius = max(radius, up)
    return radius


def _lmcsc_radius(net) -> float:
    half, bicubic = net.K // 2, _bicubic_radius(net.scale)
    guide = half + 2 * half * net.guide_encoder.iterations
    target = max(bicubic + half, guide)
    for _ in range(net.target_encoder.iterations):
        target = max(target + 2 * half, bicubic + half, guide)
    first = target + half  # dictionary
    refine = first + half + 2 * half * net.refine_encoder.iterations
    return max(refine + half, bicubic)


def _coista_radius(net) -> float:
    # bicubic, then every p x p patch containing the pixel (each coded from itself alone)
    return _bicubic_radius(net.scale) + net.patch_size - 1


def _djf_radius(net) -> float:
    def branch(sequential: nn.Sequential) -> int:
        return sum(m.kernel_size[0] // 2 for m in sequential if isinstance(m, nn.Conv2d))

    bicubic = _bicubic_radius(net.scale)
    features = max(bicubic + branch(net.target_branch), branch(net.guide_branch))
    return max(features + branch(net.fusion), bicubic if net.residual else 0)


def _srfbn_radius(net) -> float:
    s = net.scale
    kernel, stride, padding = net.block.up[0][0].kernel_size[0], net.scale, net.block.up[0][0].padding[0]
    project = resample_radius(kernel, stride, padding)
    conv_in = net.conv_in[0].kernel_size[0] // 2 * s  # an LR 3x3: neighbours s HR pixels apart
    features = hidden = conv_in
    groups = len(net.block.up)
    for _ in range(net.num_steps):
        low = max(features, hidden)  # L_0 = compress([F_in, h])
        high = -math.inf
        for _ in range(groups):  # dense 1x1 compressions: each group reads the farthest so far
            high = max(high, low + project)
            low = max(low, high + project)
        hidden = low
    upsample = resample_radius(net.upsample[0].kernel_size[0], s, net.upsample[0].padding[0])
    return max(float(s), hidden + upsample + net.conv_out.kernel_size[0] // 2)  # + bilinear(y)


def _bicubic_only_radius(net) -> float:
    return _bicubic_radius(net.scale)


def _radius_rules() -> dict[type, Callable[[nn.Module], float]]:
    from jointsr.models.bicubic import Bicubic
    from jointsr.models.coista import CoISTA
    from jointsr.models.djf import DJF
    from jointsr.models.jointsr import JointSR
    from jointsr.models.lmcsc import LMCSC
    from jointsr.models.srfbn import SRFBN

    return {JointSR: _jointsr_radius, LMCSC: _lmcsc_radius, CoISTA: _coista_radius, DJF: _djf_radius,
            SRFBN: _srfbn_radius, Bicubic: _bicubic_only_radius}


def receptive_radius(net: nn.Module) -> int:
    """The HR radius beyond which no input changes an output pixel, from the network's
    hyper-parameters (a ``receptive_radius()`` method of the network, else the rule of
    its class here). Raises a ValueError for a network neither knows."""
    own = getattr(net, "receptive_radius", None)
    if callable(own):
        return int(math.ceil(own()))
    for kind, rule in _radius_rules().items():
        if isinstance(net, kind):
            return int(math.ceil(rule(net)))
    raise ValueError(f"{type(net).__name__}: its receptive radius is unknown, so it cannot be tiled; give it "
                     f"a receptive_radius() method, or run it on the whole image (tile=0)")


def alignment(net: nn.Module) -> int:
    """Tile origins (HR) are multiples of this: the scale, and the patch grid's step of a
    patch-based network in its current mode."""
    step = int(getattr(net, "stride", 1)) if hasattr(net, "patch_size") else 1
    return math.lcm(int(net.scale), step)


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


def tiled_forward(net: nn.Module, lr_target: torch.Tensor, hr_guide: torch.Tensor, tile: int,
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
def auto_tile(net: nn.Module, height: int, width: int, guide_channels: int, device: torch.device,
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


def forward_any_size(net: nn.Module, lr_target: torch.Tensor, hr_guide: torch.Tensor, tile: int | None = None,
                     budget_bytes: int | None = None, progress: bool = True) -> torch.Tensor:
    """The entry the hooks call: ``tile=None`` chooses it (:func:`auto_tile`), ``0`` the whole
    image, ``N`` tiles of ``N`` HR pixels."""
    if tile is None:
        tile = auto_tile(net, *hr_guide.shape[-2:], hr_guide.shape[1], hr_guide.device, budget_bytes,
                         batch=hr_guide.shape[0])
    if tile is None:  # nothing fits: the whole image, as without tiling
        tile = 0
    return tiled_forward(net, lr_target, hr_guide, int(tile), progress=progress)
