"""How much memory a forward pass needs, measured on small probes, and how much there is.

Convolutional networks hold activations proportional to the number of pixels, so the peak
memory of ``net(lr_target, hr_guide)`` is ``fixed + per_pixel * h * w`` to a good
approximation: :func:`estimate_forward_bytes` measures the peak on two small LR sizes
(every tensor the forward pass allocates, views counted once, freed ones subtracted),
fits that line and extrapolates it, with a safety margin for what the tensors do not
show (allocator rounding, convolution workspaces).
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

#: LR sides of the two probe forward passes
PROBE_SIDES = (24, 48)
#: factor on the measured tensors: allocator rounding, workspaces, fragmentation
SAFETY = 1.3


class _PeakTensorBytes(TorchDispatchMode):
    """Tracks the bytes of live tensor storages allocated inside the mode, and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, int] = {}
        self.holders: dict[int, int] = {}
        self.current = self.peak = 0

    def _release(self, pointer: int) -> None:
        self.holders[pointer] -= 1
        if not self.holders[pointer]:
            self.current -= self.live.pop(pointer)
            del self.holders[pointer]

    def _track(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        pointer = storage.data_ptr()
        if pointer not in self.live:
            self.live[pointer], self.holders[pointer] = storage.nbytes(), 0
            self.current += storage.nbytes()
            self.peak = max(self.peak, self.current)
        self.holders[pointer] += 1
        weakref.finalize(tensor, self._release, pointer)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for value in result if isinstance(result, (tuple, list)) else (result,):
            if isinstance(value, torch.Tensor) and value.device.type != "meta":
                self._track(value)
        return result


def forward_peak_bytes(net: torch.nn.Module, lr_side: int, guide_channels: int, scale: int,
                       device: torch.device) -> int:
    """Peak bytes of tensors allocated by one forward pass on a square LR probe (inputs included)."""
    # drawn with a generator of its own: a probe during training must not move the global stream
    # a network draws from (a resumed run probes at its first validation, the uninterrupted at step 0)
    generator = torch.Generator().manual_seed(0)
    lr_target = torch.rand(1, 1, lr_side, lr_side, generator=generator).to(device)
    hr_guide = torch.rand(1, guide_channels, lr_side * scale, lr_side * scale, generator=generator).to(device)
    inputs = lr_target.nbytes + hr_guide.nbytes
    with torch.inference_mode(), _PeakTensorBytes() as probe:
        net(lr_target, hr_guide)
    return probe.peak + inputs


_memory_lines: "weakref.WeakKeyDictionary[torch.nn.Module, tuple[tuple, tuple[float, float]]]" = \
    weakref.WeakKeyDictionary()


def forward_memory_line(net: torch.nn.Module, guide_channels: int, scale: int,
                        device: torch.device) -> tuple[float, float]:
    """``(fixed, per LR pixel)`` bytes of a forward pass of ``net``: a line through two probe
    measurements (:data:`PROBE_SIDES`), cached per network, mode and device, so validation
    and tiled inference probe once, not per image."""
    key = (bool(net.training), guide_channels, scale, str(device))
    cached = _memory_lines.get(net)
    if cached is not None and cached[0] == key:
        return cached[1]
    small, large = PROBE_SIDES
    low = forward_peak_bytes(net, small, guide_channels, scale, device)
    high = forward_peak_bytes(net, large, guide_channels, scale, device)
    per_pixel = max(0.0, (high - low) / (large * large - small * small))
    line = (max(0.0, low - per_pixel * small * small), per_pixel)
    _memory_lines[net] = (key, line)
    return line


def estimate_forward_bytes(net: torch.nn.Module, lr_height: int, lr_width: int, guide_channels: int,
                           scale: int, device: torch.device) -> int:
    """Estimated peak memory (bytes) of ``net`` on an ``lr_height x lr_width`` target, weights
    included: :func:`forward_memory_line` times :data:`SAFETY`."""
    fixed, per_pixel = forward_memory_line(net, guide_channels, scale, device)
    weights = sum(p.nbytes for p in net.parameters()) + sum(b.nbytes for b in net.buffers())
    return int(SAFETY * (fixed + per_pixel * lr_height * lr_width) + weights)


def available_bytes(device: torch.device) -> int | None:
    """Memory a new allocation can use now: free GPU memory, or the machine's available memory
    (the cgroup's limit when lower); None when unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    if available is None and hasattr(os, "sysconf"):
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            available = None
    try:  # a container's limit (cgroup v2)
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            cgroup_free = int(limit) - used
            available = cgroup_free if available is None else min(available, cgroup_free)
    except (OSError, ValueError):
        pass
    return available


def gigabytes(count: float) -> str:
    return f"{count / 1e9:.1f} GB"
