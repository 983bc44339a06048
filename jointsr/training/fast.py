"""The fused training step: the network's forward compiled by ``torch.compile``.

Inductor traces the unrolled network (ACSC encoders, LeSITA-coupled RNN, dictionary) and
fuses the chains of elementwise operators between its convolutions -- thresholds, LeSITA,
the residual updates ``a - E(D a) + W x`` -- into single loops, in the forward pass and in
the backward pass autograd derives from it; the convolutions stay oneDNN's. Same function,
fewer passes over memory: on a CPU the default step is bound by those passes, not by its
arithmetic (experiments/performance/).

:class:`CompiledNetwork` never changes the network: its weights, state dict and
checkpoints are the eager module's. When compilation is unavailable (no C++ compiler, an
unsupported platform or operator) the first call says why, once, and the step runs eager.
"""

from __future__ import annotations

import logging
import time

import torch
from torch import nn

log = logging.getLogger("jointsr")


class CompiledNetwork:
    """``net(lr, guide)`` and ``net.forward_steps(lr, guide)`` through ``torch.compile``, with
    an eager fallback. Not an ``nn.Module`` on purpose: it holds no weights of its own, so
    nothing about it reaches a state dict."""

    def __init__(self, net: nn.Module, mode: str | None = None, backend="inductor") -> None:
        self.net, self.mode, self.backend = net, mode, backend
        self.failed: str | None = None
        self.compile_seconds = 0.0  # wall time of the calls that compiled (first call per shape)
        self._compiled: dict[str, object] = {}

    def _function(self, name: str):
        if name not in self._compiled:
            method = self.net.forward if name == "forward" else getattr(self.net, name)
            self._compiled[name] = torch.compile(method, mode=self.mode, backend=self.backend, dynamic=False)
        return self._compiled[name]

    def _call(self, name: str, *args):
        eager = self.net if name == "forward" else getattr(self.net, name)
        if self.failed is not None:
            return eager(*args)
        first = name not in self._compiled
        start = time.perf_counter()
        try:
            result = self._function(name)(*args)
        except Exception as error:  # compilation unavailable: say so once, then run eager
            if isinstance(error, (ValueError, FloatingPointError)):
                raise  # the network's own input checks and numerics: not a compiler problem
            self.failed = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
            log.warning("torch.compile is unavailable here (%s); training runs eager", self.failed)
            torch._dynamo.reset()
            return eager(*args)
        if first:
            self.compile_seconds += time.perf_counter() - start
            log.info("fused training step: torch.compile of %s took %.1f s (the first step; "
                     "model.compile=false or JOINTSR_COMPILE=false trains eager)", name, self.compile_seconds)
        return result

    def __call__(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        return self._call("forward", lr_target, hr_guide)

    def forward_steps(self, lr_target: torch.Tensor, hr_guide: torch.Tensor):
        return self._call("forward_steps", lr_target, hr_guide)
