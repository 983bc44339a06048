"""One forward pass of a network with sparse codes, kept whole: :class:`NetworkTrace`.

A network's ``diagnostics`` contract reports numbers (densities, thresholds); inspecting
needs the codes themselves. :func:`trace_network` reads them through the networks' public
tracing call ``trace(lr, guide) -> (outputs, codes per state)`` and rebuilds, from the
network's public modules, the input of every LeSITA shrinkage (its pre-activation ``u``, the
side information ``s`` and ``mu``), checking that ``lesita(u, s, mu)`` gives back the traced
code exactly as the network computed it.

States and steps (``label`` of every code):

- JointSR: ``target`` = ``u_0 .. u_T`` (``enc t``), then ``h_1 .. h_R`` (``rnn r``);
  ``guide`` = ``v_0 .. v_T``, then ``g_1 .. g_{R-1}`` (where the guide state is updated);
  LeSITA at every RNN step, ``h_r = xi(update_h(h_{r-1}) + Bh y; g_{r-1})`` then
  ``g_r = xi(update_g(g_{r-1}) + Bg z; h_r)``.
- LMCSC: ``guide`` = ``z_0 .. z_G``, ``target`` = ``u_0 .. u_T`` (LeSITA with the final guide
  code ``Z`` as side information at every iteration), ``refine`` = ``v_0 .. v_F``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from jointsr.errors import UserError
from jointsr.functional.imresize import imresize
from jointsr.models.blocks import ACSC, Threshold
from jointsr.models.jointsr import JointSR
from jointsr.models.lmcsc import LMCSC
from jointsr.models.ops import lesita

#: the networks whose codes can be inspected (model config names, for messages)
INSPECTABLE = "model=jointsr, jointsr_paper or lmcsc"


class NoCodesError(UserError, TypeError):
    """The network has no sparse codes to inspect (a baseline such as DJF or bicubic)."""


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
    """Everything :mod:`~jointsr.inspection.analysis` needs from one forward pass."""

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


@torch.no_grad()
def trace_network(net: nn.Module, lr_target: torch.Tensor, hr_guide: torch.Tensor,
                  model_name: str | None = None) -> NetworkTrace:
    """The :class:`NetworkTrace` of ``net`` on one image pair (batch of one).

    Raises :class:`NoCodesError` for a network without sparse codes."""
    if lr_target.shape[0] != 1:
        raise ValueError(f"inspect one image at a time, got a batch of {lr_target.shape[0]}")
    check_inspectable(net, model_name)
    trace = _trace_jointsr(net, lr_target, hr_guide) if isinstance(net, JointSR) else \
        _trace_lmcsc(net, lr_target, hr_guide)
    trace.diagnostics = net.diagnostics(lr_target, hr_guide)
    for shrinkage in trace.shrinkages:
        _check_rebuilt(shrinkage)
    return trace


def check_inspectable(net: nn.Module, model_name: str | None = None) -> None:
    """Raise :class:`NoCodesError` (one line naming the model) unless ``net`` has sparse codes."""
    if not isinstance(net, (JointSR, LMCSC)):
        name = model_name or type(net).__name__
        raise NoCodesError(f"model={name} ({type(net).__name__}) has no sparse codes to inspect; "
                           f"jointsr-inspect reads checkpoints of {INSPECTABLE}")


def _check_rebuilt(shrinkage: Shrinkage) -> None:
    """The rebuilt LeSITA input must give the traced code back: else the network's unrolling
    changed and this module reads it wrongly (a bug of ours, not of the user's)."""
    rebuilt = lesita(shrinkage.value, shrinkage.side, shrinkage.mu)
    scale = float(shrinkage.output.abs().max()) + 1e-12
    error = float((rebuilt - shrinkage.output).abs().max())
    if error > 1e-4 * scale:
        raise RuntimeError(f"jointsr.inspection: the rebuilt LeSITA input of {shrinkage.label} does not give "
                           f"the traced code back (max error {error:.3g}); the network's unrolling changed")


def _thresholds(net: nn.Module, lesita_prefixes: tuple[str, ...]) -> list[Layer]:
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


def _encoder_labels(codes: list[torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    return [(f"enc {t}", code) for t, code in enumerate(codes)]


def _trace_jointsr(net: JointSR, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> NetworkTrace:
    outputs, codes = net.trace(lr_target, hr_guide)
    u, v, h, g = codes["u"], codes["v"], codes["h"], codes["g"]
    target = State("target", _encoder_labels(u) + [(f"rnn {r}", c) for r, c in enumerate(h, 1)])
    guide = State("guide", _encoder_labels(v) + [(f"rnn {r}", c) for r, c in enumerate(g, 1)])

    shrinkages: list[Shrinkage] = []
    pairs = [(f"enc {len(u) - 1}", u[-1], v[-1])]
    previous_h, previous_g = u[-1], v[-1]
    for r in range(1, net.R + 1):
        step = net.steps[(r - 1) % len(net.steps)]
        value = step.target_update(previous_h) + step.target_drive(lr_target)
        shrinkages.append(Shrinkage(f"h rnn {r}", "g", value, previous_g, step.target_mu(), h[r - 1]))
        previous_h = h[r - 1]
        if r - 1 < len(g):  # the guide state is updated after this step
            value = step.guide_update(previous_g) + step.guide_drive(hr_guide)
            shrinkages.append(Shrinkage(f"g rnn {r}", "h", value, previous_h, step.guide_mu(), g[r - 1]))
            previous_g = g[r - 1]
        pairs.append((f"rnn {r}", previous_h, previous_g))

    skip = net.skip(lr_target) if net.skip is not None else 0.0
    encoder_image = net.dictionary(u[-1]) + skip  # Dx u_T: what the encoders alone give
    reconstructions = [(f"enc {len(u) - 1}", encoder_image)]
    if net.R > 0:
        reconstructions += [(f"rnn {r}", image) for r, image in enumerate(outputs, 1)]
    final_code = h[-1] if h else u[-1]
    return NetworkTrace(
        network=type(net).__name__, output=reconstructions[-1][1], states=[target, guide],
        shrinkages=shrinkages, pairs=pairs, reconstructions=reconstructions,
        atoms=net.dictionary.weight.detach().transpose(0, 1).cpu(), atom_code=final_code,
        guide_filters=net.guide_encoder.analysis.weight.detach().cpu(), guide_code=(g or v)[-1],
        layers=_thresholds(net, ("steps.",)))


def _lesita_inputs(encoder: ACSC, signal: torch.Tensor,
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


def _trace_lmcsc(net: LMCSC, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> NetworkTrace:
    (output,), codes = net.trace(lr_target, hr_guide)
    side = codes["z"][-1]  # the final guide code
    upsampled = imresize(lr_target, scale=net.scale)  # the target encoder's input, as in LMCSC.forward
    inputs = _lesita_inputs(net.target_encoder, upsampled, codes["u"])
    shrinkages = [Shrinkage(f"u enc {t}", "z", value, side, mu, code)
                  for t, ((value, mu), code) in enumerate(zip(inputs, codes["u"]))]
    pairs = [(f"enc {t}", code, side) for t, code in enumerate(codes["u"])]
    first_stage = net.dictionary(codes["u"][-1])
    return NetworkTrace(
        network=type(net).__name__, output=output,
        states=[State("target", _encoder_labels(codes["u"])), State("guide", _encoder_labels(codes["z"])),
                State("refine", _encoder_labels(codes["v"]))],
        shrinkages=shrinkages, pairs=pairs,
        reconstructions=[("stage 1", first_stage), ("output", output)],
        atoms=net.dictionary.weight.detach().transpose(0, 1).cpu(), atom_code=codes["u"][-1],
        guide_filters=net.guide_encoder.analysis.weight.detach().cpu(), guide_code=side,
        layers=_thresholds(net, ("target_encoder.",)))
