"""One forward pass of a network with sparse codes, kept whole: :func:`trace_network`.

A network's ``diagnostics`` contract reports numbers (densities, thresholds); inspecting
needs the codes themselves. The network says whether it has them (``has_codes``) and returns
them (``code_trace(lr, guide)``, a :class:`~jointsr.models.codes.NetworkTrace`: every code
state per step, and the input of every LeSITA shrinkage rebuilt from its public modules, the
pre-activation ``u``, the side information ``s`` and ``mu``). Here every rebuilt shrinkage is
checked to give the traced code back, ``lesita(u, s, mu)``, exactly as the network computed it.
"""

from __future__ import annotations

import torch

from jointsr.errors import UserError
from jointsr.models.catalog import models_with_codes
from jointsr.models.codes import Layer, NetworkTrace, Shrinkage, State
from jointsr.models.network import SRNetwork
from jointsr.models.ops import lesita

__all__ = ["Layer", "NetworkTrace", "NoCodesError", "Shrinkage", "State", "check_inspectable", "trace_network"]


class NoCodesError(UserError, TypeError):
    """The network has no sparse codes to inspect (a baseline such as DJF or bicubic)."""


@torch.no_grad()
def trace_network(net: SRNetwork, lr_target: torch.Tensor, hr_guide: torch.Tensor,
                  model_name: str | None = None) -> NetworkTrace:
    """The :class:`NetworkTrace` of ``net`` on one image pair (batch of one).

    Raises :class:`NoCodesError` for a network without sparse codes."""
    if lr_target.shape[0] != 1:
        raise ValueError(f"inspect one image at a time, got a batch of {lr_target.shape[0]}")
    check_inspectable(net, model_name)
    trace = net.code_trace(lr_target, hr_guide)
    trace.diagnostics = net.diagnostics(lr_target, hr_guide)
    for shrinkage in trace.shrinkages:
        _check_rebuilt(shrinkage)
    return trace


def check_inspectable(net: SRNetwork, model_name: str | None = None) -> None:
    """Raise :class:`NoCodesError` (one line naming the model) unless ``net`` has sparse codes."""
    if not net.has_codes:
        name = model_name or type(net).__name__
        names = models_with_codes()
        inspectable = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)
        raise NoCodesError(f"model={name} ({type(net).__name__}) has no sparse codes to inspect; "
                           f"jointsr-inspect reads checkpoints of model={inspectable}")


def _check_rebuilt(shrinkage: Shrinkage) -> None:
    """The rebuilt LeSITA input must give the traced code back: else the network's unrolling
    changed and its ``code_trace`` reads it wrongly (a bug of ours, not of the user's)."""
    rebuilt = lesita(shrinkage.value, shrinkage.side, shrinkage.mu)
    scale = float(shrinkage.output.abs().max()) + 1e-12
    error = float((rebuilt - shrinkage.output).abs().max())
    if error > 1e-4 * scale:
        raise RuntimeError(f"jointsr.inspection: the rebuilt LeSITA input of {shrinkage.label} does not give "
                           f"the traced code back (max error {error:.3g}); the network's unrolling changed")
