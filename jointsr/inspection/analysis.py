"""The numbers of an inspection, from a :class:`~jointsr.inspection.trace.NetworkTrace`.

Per code state and step: density (share of non-zero entries), L1 (mean ``|a|`` per entry),
and two maps over the HR grid, the code's *energy* ``sqrt(sum_c a_c^2)`` and its *support*
(the share of the ``k`` channels that are non-zero at each pixel).

Per LeSITA shrinkage ``xi_mu(u; s)``, every entry falls in one regime (method.md section 2,
written for ``s >= 0``, mirrored for ``s < 0``):

- ``zero``:   ``u`` in ``[-2mu, 0]`` (``[-2mu, 2mu]`` when ``s = 0``): the entry is killed;
- ``shrink``: ``u < -2mu`` or ``u > s + 2mu``: ``u -/+ 2mu``, soft thresholding, the side
  information has no effect (it is *ignored*);
- ``pass``:   ``u`` in ``(0, s)``: kept as it is, unshrunk, because the side information
  allows it (soft thresholding would have shrunk or zeroed it);
- ``clamp``:  ``u`` in ``[s, s + 2mu]``: set to ``s``, the side information's value is *taken*.

``pass`` and ``clamp`` are where the coupling acts; the *coupled share* is their share of
the non-zero outputs (``pass + clamp + shrink``). The coupling distance ``|h - g|`` is the
mean over entries of the difference of the two states' codes (the coupling term of the
model's objective), also relative to ``mean(|h| + |g|) / 2``.

Agreement of the modalities: the local Pearson correlation (``window`` x ``window``) between
the HR target (the truth, else the bicubic upsampling of the LR target) and the guide's
luminance, where both vary (local standard deviation above ``flat``); the coupled share is
then binned by that correlation: does the coupling switch off where the modalities disagree?
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from jointsr.functional.imresize import imresize
from jointsr.inspection.trace import Layer, NetworkTrace, Shrinkage
from jointsr.metrics.protocol import psnr

REGIMES = ("zero", "shrink", "pass", "clamp")
#: bin edges of the local correlation between target and guide
CORRELATION_BINS = np.linspace(-1.0, 1.0, 9)


@dataclass
class StepStats:
    label: str
    density: float
    l1: float
    energy: np.ndarray   # (H, W) sqrt(sum_c a_c^2)
    support: np.ndarray  # (H, W) share of channels non-zero


@dataclass
class Regimes:
    label: str
    side_name: str
    fractions: dict[str, float]   # share of all entries in each regime
    maps: dict[str, np.ndarray]   # (H, W) share of the k channels in each regime, per pixel

    @property
    def coupled_share(self) -> float:
        """Share of the non-zero outputs where the side information acted (pass or clamp)."""
        active = 1.0 - self.fractions["zero"]
        return (self.fractions["pass"] + self.fractions["clamp"]) / active if active > 0 else math.nan


@dataclass
class Distance:
    label: str
    mean_abs: float         # mean |h - g| per entry
    relative: float         # mean |h - g| / (mean(|h| + |g|) / 2)
    sign_agreement: float   # share of the entries non-zero in both with the same sign
    map: np.ndarray         # (H, W) mean over channels of |h - g|


@dataclass
class Agreement:
    reference: str                      # "truth" or "bicubic"
    correlation: np.ndarray             # (H, W), NaN where either image is flat
    edges: np.ndarray                   # bin edges of the correlation
    pixels: np.ndarray                  # pixels per bin
    coupled_share: dict[str, np.ndarray]  # per shrinkage: coupled share of active entries per bin
    disagree: dict[str, float] = field(default_factory=dict)  # correlation < 0
    agree: dict[str, float] = field(default_factory=dict)     # correlation > 0.5


@dataclass
class Reconstruction:
    label: str
    image: np.ndarray      # (H, W), clipped to [0, 1]
    psnr: float | None     # against the truth (None without one)


@dataclass
class Inspection:
    """Everything the figures and the JSON summary show."""

    network: str
    model: str
    scale: int
    lr: np.ndarray                  # (h, w)
    guide: np.ndarray               # (H, W) or (H, W, 3), as displayed
    truth: np.ndarray | None        # (H, W)
    bicubic: np.ndarray             # (H, W)
    states: dict[str, list[StepStats]]
    layers: list[Layer]
    regimes: list[Regimes]
    distances: list[Distance]
    agreement: Agreement | None
    reconstructions: list[Reconstruction]
    bicubic_psnr: float | None
    atoms: np.ndarray               # (k, 1, K, K)
    atom_usage: np.ndarray          # (k,) density of the code each atom decodes
    guide_filters: np.ndarray       # (k, C, K, K)
    filter_usage: np.ndarray        # (k,)
    diagnostics: dict[str, float]

    @property
    def prediction(self) -> np.ndarray:
        return self.reconstructions[-1].image

    def summary(self) -> dict:
        """The JSON-ready summary (non-finite numbers as null)."""
        document = {
            "network": self.network, "model": self.model, "scale": self.scale,
            "hr_size": list(self.bicubic.shape),
            "psnr": {"bicubic": self.bicubic_psnr, "output": self.reconstructions[-1].psnr},
            "states": {name: [{"step": s.label, "density": s.density, "l1": s.l1,
                               "energy_mean": float(s.energy.mean())} for s in steps]
                       for name, steps in self.states.items()},
            "thresholds": [{"layer": layer.name, "kind": layer.kind,
                            "shown": "2mu" if layer.kind == "lesita" else "t",
                            **_distribution(layer.values.numpy())} for layer in self.layers],
            "coupling": [{"step": r.label, "side": r.side_name, **r.fractions,
                          "coupled_share_of_active": r.coupled_share} for r in self.regimes],
            "distance": [{"step": d.label, "mean_abs": d.mean_abs, "relative": d.relative,
                          "sign_agreement": d.sign_agreement} for d in self.distances],
            "reconstructions": [{"step": r.label, "psnr": r.psnr} for r in self.reconstructions],
            "dictionary": _usage_summary(self.atom_usage),
            "guide_filters": _usage_summary(self.filter_usage),
            "diagnostics": self.diagnostics,
        }
        if self.agreement is not None:
            a = self.agreement
            document["agreement"] = {
                "reference": a.reference, "bin_edges": a.edges.tolist(), "pixels": a.pixels.tolist(),
                "coupled_share": {label: share.tolist() for label, share in a.coupled_share.items()},
                "coupled_share_where_disagree": a.disagree, "coupled_share_where_agree": a.agree,
                "share_of_pixels_disagree": float(np.mean(a.correlation[np.isfinite(a.correlation)] < 0))
                if np.isfinite(a.correlation).any() else None}
        return _finite(document)


def _distribution(values: np.ndarray) -> dict[str, float]:
    return {"min": float(values.min()), "median": float(np.median(values)), "mean": float(values.mean()),
            "max": float(values.max())}


def _usage_summary(usage: np.ndarray) -> dict:
    return {"atoms": int(usage.size), "dead": int((usage == 0).sum()), "median_usage": float(np.median(usage)),
            "usage_sorted": sorted((float(u) for u in usage), reverse=True)}


def _finite(node):
    """Round floats to 6 significant digits; NaN and infinities become None (valid JSON)."""
    if isinstance(node, dict):
        return {key: _finite(value) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return [_finite(value) for value in node]
    if isinstance(node, (float, np.floating)):
        return float(f"{float(node):.6g}") if math.isfinite(node) else None
    if isinstance(node, np.integer):
        return int(node)
    return node


# --------------------------------------------------------------------------- maps
def _map(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].float().cpu().numpy()


def step_stats(label: str, code: torch.Tensor) -> StepStats:
    """Density, L1 and the energy and support maps of one code (1, k, H, W)."""
    nonzero = code != 0
    return StepStats(label, density=float(nonzero.float().mean()), l1=float(code.abs().mean()),
                     energy=_map(code.square().sum(dim=1).sqrt()), support=_map(nonzero.float().mean(dim=1)))


def lesita_regimes(value: torch.Tensor, side: torch.Tensor, mu: torch.Tensor) -> dict[str, torch.Tensor]:
    """A boolean mask per regime (see the module docstring) of ``xi_mu(value; side)``; the masks
    partition the entries."""
    nearest = torch.maximum(torch.minimum(value, side.clamp(min=0.0)), side.clamp(max=0.0))
    residual = value - nearest  # the distance to the segment between 0 and s
    shrink = residual.abs() > 2.0 * mu
    passed = (residual == 0) & (value != 0)
    clamp = ~shrink & (residual != 0) & (nearest != 0)
    zero = ~(shrink | passed | clamp)
    return {"zero": zero, "shrink": shrink, "pass": passed, "clamp": clamp}


def regimes_of(shrinkage: Shrinkage) -> Regimes:
    masks = lesita_regimes(shrinkage.value, shrinkage.side, shrinkage.mu)
    return Regimes(shrinkage.label, shrinkage.side_name,
                   fractions={name: float(mask.float().mean()) for name, mask in masks.items()},
                   maps={name: _map(mask.float().mean(dim=1)) for name, mask in masks.items()})


def distance_of(label: str, target: torch.Tensor, guide: torch.Tensor) -> Distance:
    difference = (target - guide).abs()
    scale = float((target.abs() + guide.abs()).mean()) / 2.0
    both = (target != 0) & (guide != 0)
    same_sign = float(((target * guide > 0) & both).sum()) / max(int(both.sum()), 1) if both.any() else math.nan
    return Distance(label, mean_abs=float(difference.mean()),
                    relative=float(difference.mean()) / scale if scale > 0 else math.nan,
                    sign_agreement=same_sign, map=_map(difference.mean(dim=1)))


def local_correlation(first: torch.Tensor, second: torch.Tensor, window: int, flat: float) -> np.ndarray:
    """Pearson correlation of two (1, 1, H, W) images over ``window`` x ``window`` neighbourhoods;
    NaN where either local standard deviation is below ``flat``."""
    def mean(image: torch.Tensor) -> torch.Tensor:
        padded = F.pad(image, [window // 2] * 4, mode="replicate")
        return F.avg_pool2d(padded, window, stride=1)

    first, second = first.double(), second.double()
    mean_a, mean_b = mean(first), mean(second)
    var_a = (mean(first * first) - mean_a ** 2).clamp_min(0.0)
    var_b = (mean(second * second) - mean_b ** 2).clamp_min(0.0)
    covariance = mean(first * second) - mean_a * mean_b
    deviation = (var_a * var_b).sqrt()
    correlation = (covariance / deviation.clamp_min(1e-12)).clamp(-1.0, 1.0)
    correlation[(var_a.sqrt() < flat) | (var_b.sqrt() < flat)] = math.nan
    return correlation[0, 0].float().cpu().numpy()


def agreement_of(shrinkages: list[Shrinkage], reference: torch.Tensor, reference_name: str,
                 guide: torch.Tensor, window: int, flat: float) -> Agreement:
    luminance = guide.mean(dim=1, keepdim=True)  # correlation ignores the weights' scale
    correlation = local_correlation(reference, luminance, window, flat)
    valid = np.isfinite(correlation)
    bins = np.digitize(np.where(valid, correlation, 0.0), CORRELATION_BINS[1:-1])  # 0 .. nbins-1
    nbins = len(CORRELATION_BINS) - 1
    pixels = np.bincount(bins[valid], minlength=nbins)
    shares, disagree, agree = {}, {}, {}
    for shrinkage in shrinkages:
        masks = lesita_regimes(shrinkage.value, shrinkage.side, shrinkage.mu)
        coupled = _map((masks["pass"] | masks["clamp"]).float().sum(dim=1))
        active = _map((~masks["zero"]).float().sum(dim=1))
        coupled_per_bin = np.bincount(bins[valid], weights=coupled[valid], minlength=nbins)
        active_per_bin = np.bincount(bins[valid], weights=active[valid], minlength=nbins)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares[shrinkage.label] = coupled_per_bin / active_per_bin
        for target, region in ((disagree, valid & (correlation < 0)), (agree, valid & (correlation > 0.5))):
            total = active[region].sum()
            target[shrinkage.label] = float(coupled[region].sum() / total) if total > 0 else math.nan
    return Agreement(reference_name, correlation, CORRELATION_BINS, pixels, shares, disagree, agree)


# --------------------------------------------------------------------------- entry point
def _clipped(image: torch.Tensor) -> np.ndarray:
    return image[0, 0].clamp(0.0, 1.0).float().cpu().numpy()


def _usage(code: torch.Tensor) -> np.ndarray:
    return (code != 0).float().mean(dim=(0, 2, 3)).cpu().numpy()


@torch.no_grad()
def analyse(trace: NetworkTrace, lr_target: torch.Tensor, hr_guide: torch.Tensor,
            truth: torch.Tensor | None = None, model: str | None = None,
            display_guide: np.ndarray | None = None, window: int = 9, flat: float = 0.01) -> Inspection:
    """The numbers and maps of an inspection. ``truth`` (1, 1, H, W) gives PSNRs and is the
    reference of the agreement map (else the bicubic upsampling of ``lr_target``);
    ``display_guide`` (H, W, 3) is shown instead of the network's guide (e.g. RGB for a
    luminance network)."""
    height, width = hr_guide.shape[-2:]
    bicubic = imresize(lr_target.double(), out_shape=(height, width)).float()
    truth_image = None if truth is None else _clipped(truth)

    def score(image: np.ndarray) -> float | None:
        return None if truth_image is None else psnr(image, truth_image)

    reconstructions = [Reconstruction(label, _clipped(image), None) for label, image in trace.reconstructions]
    for item in reconstructions:
        item.psnr = score(item.image)
    guide = display_guide if display_guide is not None else (
        hr_guide[0, 0].cpu().numpy() if hr_guide.shape[1] == 1 else hr_guide[0].permute(1, 2, 0).cpu().numpy())
    reference, reference_name = (truth, "truth") if truth is not None else (bicubic, "bicubic")
    return Inspection(
        network=trace.network, model=model or trace.network.lower(), scale=height // lr_target.shape[-2],
        lr=lr_target[0, 0].cpu().numpy(), guide=guide, truth=truth_image, bicubic=_clipped(bicubic),
        states={state.name: [step_stats(label, code) for label, code in state.steps] for state in trace.states},
        layers=trace.layers,
        regimes=[regimes_of(s) for s in trace.shrinkages],
        distances=[distance_of(label, target, guide_code) for label, target, guide_code in trace.pairs],
        agreement=agreement_of(trace.shrinkages, reference.to(hr_guide), reference_name, hr_guide, window, flat)
        if trace.shrinkages else None,
        reconstructions=reconstructions, bicubic_psnr=score(_clipped(bicubic)),
        atoms=trace.atoms.numpy(), atom_usage=_usage(trace.atom_code),
        guide_filters=trace.guide_filters.numpy(), filter_usage=_usage(trace.guide_code),
        diagnostics=trace.diagnostics)
