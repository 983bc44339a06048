"""What a network with sparse codes reports of one forward pass: :class:`NetworkTrace`.

A network's ``diagnostics`` report numbers (densities, thresholds); inspecting
(``jointsr-inspect``, :mod:`jointsr.inspection`) needs the codes themselves. A network with
``has_codes`` returns them from ``code_trace(lr, guide)``, with the input of every LeSITA
shrinkage rebuilt from its public modules (the pre-activation ``u``, the side information
``s`` and ``mu``), so that ``lesita(u, s, mu)`` can be checked to give the traced code back.
This module holds the record and the pieces the networks share to fill it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from jointsr.models.blocks import ACSC, Threshold


@dataclass
class State:
    """One code state through the unrolling: ``(label, code (1, k, H, W))`` per step."""

    name: str
    steps: list[tuple[str, torch.Tensor]]


@dataclass
class Shrinkage:
    """One LeSITA shrinkage ``output = xi_mu(value; side)`` of the unrolled network."""

    label: str            # e.g. "h rnn 1": the state and step it produces
    side_name: str        # the state whose code is the side information
    value: torch.Tensor   # pre-activation u (1, k, H, W)
    side: torch.Tensor    # side information s (1, k, H, W)
    mu: torch.Tensor      # (1, k, 1, 1)
    output: torch.Tensor  # the traced code (1, k, H, W)


@dataclass
class Layer:
    """The per-channel thresholds of one shrinkage layer, as the shrinkage uses them:
    ``t`` for the soft threshold, ``2 mu`` (the half-width of LeSITA's zero band) for LeSITA."""

    name: str
    kind: str             # "soft" | "lesita"
    values: torch.Tensor  # (k,)


@dataclass
class NetworkTrace:
    """Everything :mod:`jointsr.inspection.analysis` needs from one forward pass."""

    network: str
    output: torch.Tensor                                   # the network's output (1, 1, H, W)
    states: list[State]
    shrinkages: list[Shrinkage]                            # every LeSITA step, in order
    pairs: list[tuple[str, torch.Tensor, torch.Tensor]]    # (step, target code, guide code) of |h - g|
    reconstructions: list[tuple[str, torch.Tensor]]        # per-step HR estimates, the output last
    atoms: torch.Tensor                                    # the target dictionary Dx (k, 1, K, K)
    atom_code: torch.Tensor                                # the code Dx decodes (usage of each atom)
    guide_filters: torch.Tensor                            # the guide encoder's analysis filters (k, C, K, K)
    guide_code: torch.Tensor                               # the guide code they produce (usage)
    layers: list[Layer]
    diagnostics: dict[str, float] = field(default_factory=dict)


def threshold_layers(net: nn.Module, lesita_prefixes: tuple[str, ...]) -> list[Layer]:
    """Every :class:`Threshold` of ``net`` as a :class:`Layer`; those under one of
    ``lesita_prefixes`` (module names) are LeSITA's ``mu``, shown as ``2 mu``."""
    layers = []
    for name, module in net.named_modules():
        if isinstance(module, Threshold):
            kind = "lesita" if name.startswith(lesita_prefixes) else "soft"
            values = module().flatten() * (2.0 if kind == "lesita" else 1.0)
            layers.append(Layer(_layer_name(name), kind, values.detach().cpu()))
    return layers


def _layer_name(name: str) -> str:
    """``guide_encoder.thresholds.1`` -> ``guide enc 1``; ``steps.0.target_mu`` -> ``rnn0 target``."""
    parts = name.split(".")
    if parts[0].endswith("_encoder") and len(parts) == 3:
        return f"{parts[0].removesuffix('_encoder')} enc {parts[2]}"
    if parts[0] == "steps" and len(parts) == 3:
        return f"rnn{parts[1]} {parts[2].removesuffix('_mu')}"
    return name


def encoder_labels(codes: list[torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    """``[("enc 0", a_0), ("enc 1", a_1), ...]``: an encoder's codes labelled by iteration."""
    return [(f"enc {t}", code) for t, code in enumerate(codes)]


def lesita_inputs(encoder: ACSC, signal: torch.Tensor,
                  codes: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(value, mu)`` of every shrinkage of a LeSITA encoder, from its traced codes: the
    iteration ``a_0 = xi(W x; s)``, ``a_{t+1} = xi(update_t(a_t) + W x; s)`` of :class:`ACSC`."""
    drive = encoder.analysis(signal)
    inputs = [(drive, encoder.thresholds[0]())]
    for t in range(len(codes) - 1):
        update = encoder.updates[t % len(encoder.updates)]
        threshold = encoder.thresholds[1 + t % (len(encoder.thresholds) - 1)]
        inputs.append((update(codes[t]) + drive, threshold()))
    return inputs
