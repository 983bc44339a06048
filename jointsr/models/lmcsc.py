"""LMCSC: learned multimodal convolutional sparse coding (Marivani et al., IEEE TIP 2020).

The official residual graph (method.md section 4), on the bicubic-upsampled target
``Y = bicubic(y)``, all convolutions stride 1 and bias-free, every update in the
factorised form ``a - E * (D * a)`` (``D: k -> c``, ``E: c -> k``, untied over iterations):

    guide encoder  : c = We * z;   z_0 = phi(c);     z_{i+1} = phi(z_i - E_i(D_i z_i) + c)
    target encoder : c' = We' * Y; u_0 = xi(c'; Z);  u_{i+1} = xi(u_i - E'_i(D'_i u_i) + c'; Z)
                     with the final guide code Z as side information (LeSITA)
    first stage    : out = D * U
    refinement     : c'' = We'' * out;  v_0 = phi(c'');
                     v_{i+1} = phi(v_i - E''_i(ReLU(D''_i v_i)) + c'')
    output         : out2 = D2 * V + Y

``phi`` is the soft threshold and ``xi`` LeSITA (``jointsr.models.ops``), thresholds
per channel and non-negative.

Initialisation (``init``):

- ``gaussian``: every weight ~ N(0, ``weight_std``^2), thresholds ``threshold_init``, as
  the sister paper (std 0.01, 0.1). With images in [0, 1] a 7x7 filter of std 0.01
  responds with about 0.035, below the 0.1 thresholds, so most codes start at exactly
  zero and carry no gradient (method.md section 9); kept for reproduction.
- ``ista`` (default): one random unit-norm dictionary of ``k`` atoms ``K x K``, shared by
  both modalities so that the codes compared by LeSITA live in the same domain;
  ``D = atoms``, ``We = E = flip(atoms) / L`` (``L`` the squared operator norm of the
  dictionary), thresholds ``threshold_init / L``, so every encoder starts as ISTA with
  ``lambda = threshold_init`` and its codes are as dense as a sparse code of the input.
  The output dictionary ``D2`` starts at zero: the network starts as bicubic
  interpolation and learns the residual.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from jointsr.errors import ConfigError, check_choice, check_int
from jointsr.functional.imresize import imresize
from jointsr.models.blocks import (
    ACSC,
    CodeUpdate,
    ConvOperator,
    IstaStart,
    Threshold,
    conv,
    normalise_atoms_,
)
from jointsr.models.codes import NetworkTrace, Shrinkage, State, encoder_labels, lesita_inputs, threshold_layers
from jointsr.models.network import SRNetwork, bicubic_radius, threshold_summary

Init = Literal["ista", "gaussian"]


class LMCSC(SRNetwork):
    """Learned multimodal convolutional sparse coding, residual version with ACSC refinement.

    Args:
        scale: upscaling factor ``s`` (the target is bicubic-upsampled by ``s``).
        guide_channels: 1 for luminance, 3 for RGB.
        k: number of filters (code channels); 64 in an official config, 85 in the sister paper.
        K: kernel size of every convolution (odd).
        guide_iterations: ACSC iterations of the guide encoder (untied).
        target_iterations: LeSITA-ACSC iterations of the target encoder (untied).
        refine_iterations: ACSC iterations of the single-modal refinement (untied).
        init: ``ista`` or ``gaussian`` (see the module docstring).
        threshold_init: ``lambda`` (``ista``: thresholds ``lambda / L``) or the thresholds
            themselves (``gaussian``).
        weight_std: standard deviation of the ``gaussian`` initialisation.
        seed: seed of the ``ista`` initialisation's random dictionary.
    """

    title = "LMCSC"
    has_codes = True

    def __init__(
        self,
        scale: int,
        guide_channels: int = 1,
        k: int = 64,
        K: int = 7,
        guide_iterations: int = 3,
        target_iterations: int = 3,
        refine_iterations: int = 2,
        init: Init = "ista",
        threshold_init: float = 0.1,
        weight_std: float = 0.01,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_int("scale", scale, 1)
        check_choice("guide_channels", guide_channels, (1, 3))
        check_int("k", k, 1)
        if check_int("K", K, 1) % 2 != 1:
            raise ConfigError(f"K={K} must be odd (a 'same' convolution keeps the image size)")
        for key, value in (("guide_iterations", guide_iterations), ("target_iterations", target_iterations),
                           ("refine_iterations", refine_iterations)):
            check_int(key, value, 0)
        check_choice("init", init, ("ista", "gaussian"))
        for key, value in (("threshold_init", threshold_init), ("weight_std", weight_std)):
            if not value > 0:
                raise ConfigError(f"{key}={value!r} is out of range: it must be a number > 0")
        self.scale, self.guide_channels, self.k, self.K = scale, guide_channels, k, K

        def updates(channels: int, iterations: int, relu: bool = False) -> nn.ModuleList:
            def decoder() -> nn.Module:
                decode = conv(k, channels, K)
                return nn.Sequential(decode, nn.ReLU()) if relu else decode
            return nn.ModuleList(CodeUpdate("factorised", D=decoder(), E=conv(channels, k, K))
                                 for _ in range(iterations))

        def thresholds(iterations: int) -> nn.ModuleList:
            return nn.ModuleList(Threshold(k, threshold_init) for _ in range(1 + iterations))

        self.guide_encoder = ACSC(conv(guide_channels, k, K),
                                  updates(guide_channels, guide_iterations),
                                  thresholds(guide_iterations), guide_iterations)
        self.target_encoder = ACSC(conv(1, k, K), updates(1, target_iterations),
                                           thresholds(target_iterations), target_iterations)
        self.dictionary = conv(k, 1, K)  # D: (B, k, sH, sW) -> (B, 1, sH, sW)
        self.refine_encoder = ACSC(conv(1, k, K), updates(1, refine_iterations, relu=True),
                                   thresholds(refine_iterations), refine_iterations)
        self.refine_dictionary = conv(k, 1, K)  # D2

        if init == "ista":
            self.reset_ista(threshold_init, seed)
        else:
            self.reset_gaussian(weight_std, threshold_init)

    # ------------------------------------------------------------------ initialisation
    def _convs(self) -> list[nn.Conv2d]:
        return [m for m in self.modules() if isinstance(m, nn.Conv2d)]

    def _thresholds(self, *encoders: nn.Module) -> list[Threshold]:
        return [t for e in encoders for t in e.thresholds]

    @torch.no_grad()
    def reset_gaussian(self, std: float, threshold: float) -> None:
        """Every weight ~ N(0, std^2), every threshold ``threshold`` (the sister paper)."""
        for module in self._convs():
            nn.init.normal_(module.weight, std=std)
        for t in self._thresholds(self.guide_encoder, self.target_encoder, self.refine_encoder):
            t.reset(threshold)

    @torch.no_grad()
    def reset_ista(self, threshold_init: float, seed: int = 0) -> None:
        """ISTA-consistent initialisation (see the module docstring)."""
        generator = torch.Generator().manual_seed(seed)
        k, K = self.k, self.K
        atoms = torch.randn(1, k, K, K, generator=generator, dtype=torch.float64)
        normalise_atoms_(atoms, atom_dim=1)  # weight (1, k, K, K) of D: k -> 1

        guide = IstaStart.of(ConvOperator.dictionary(atoms, self.guide_channels))  # the atoms on each channel
        target = IstaStart.of(ConvOperator(atoms))
        guide.set_encoder(self.guide_encoder, threshold_init)
        target.set_encoder(self.target_encoder, threshold_init)
        target.set_encoder(self.refine_encoder, threshold_init)
        self.dictionary.weight.copy_(atoms)
        self.refine_dictionary.weight.zero_()  # start as bicubic, learn the residual

    # ------------------------------------------------------------------ forward
    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        """``(B,1,h,w), (B,C,sh,sw) -> (B,1,sh,sw)``."""
        return self._run(lr_target, hr_guide)

    @torch.no_grad()
    def trace(self, lr_target: torch.Tensor, hr_guide: torch.Tensor
              ) -> tuple[list[torch.Tensor], dict[str, list[torch.Tensor]]]:
        """The output (a list of one, as :meth:`JointSR.trace`) and every iteration's code of
        each encoder: ``z`` (guide), ``u`` (target, LeSITA with the final ``z`` as side
        information), ``v`` (refinement); the last of each is that encoder's final code."""
        trace: dict[str, list[torch.Tensor]] = {"z": [], "u": [], "v": []}
        return [self._run(lr_target, hr_guide, trace)], trace

    @torch.no_grad()
    def code_trace(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> NetworkTrace:
        """States ``guide`` = ``z_0 .. z_G``, ``target`` = ``u_0 .. u_T`` (LeSITA with the final
        guide code ``Z`` as side information at every iteration), ``refine`` = ``v_0 .. v_F``."""
        (output,), codes = self.trace(lr_target, hr_guide)
        side = codes["z"][-1]  # the final guide code
        upsampled = imresize(lr_target, scale=self.scale)  # the target encoder's input, as in _run
        inputs = lesita_inputs(self.target_encoder, upsampled, codes["u"])
        shrinkages = [Shrinkage(f"u enc {t}", "z", value, side, mu, code)
                      for t, ((value, mu), code) in enumerate(zip(inputs, codes["u"]))]
        pairs = [(f"enc {t}", code, side) for t, code in enumerate(codes["u"])]
        first_stage = self.dictionary(codes["u"][-1])
        return NetworkTrace(
            network=type(self).__name__, output=output,
            states=[State("target", encoder_labels(codes["u"])), State("guide", encoder_labels(codes["z"])),
                    State("refine", encoder_labels(codes["v"]))],
            shrinkages=shrinkages, pairs=pairs,
            reconstructions=[("stage 1", first_stage), ("output", output)],
            atoms=self.dictionary.weight.detach().transpose(0, 1).cpu(), atom_code=codes["u"][-1],
            guide_filters=self.guide_encoder.analysis.weight.detach().cpu(), guide_code=side,
            layers=threshold_layers(self, ("target_encoder.",)))

    def receptive_radius(self) -> float:
        """The guide encoder, the target encoder (bicubic input, the final guide code as side
        information at every iteration), the dictionary, the refinement encoder and ``D2``,
        and the bicubic ``Y`` added to the output."""
        half, bicubic = self.K // 2, bicubic_radius(self.scale)
        guide = half + 2 * half * self.guide_encoder.iterations
        target = max(bicubic + half, guide)
        for _ in range(self.target_encoder.iterations):
            target = max(target + 2 * half, bicubic + half, guide)
        first = target + half  # dictionary
        refine = first + half + 2 * half * self.refine_encoder.iterations
        return max(refine + half, bicubic)

    def _run(self, lr_target: torch.Tensor, hr_guide: torch.Tensor,
             trace: dict[str, list[torch.Tensor]] | None = None) -> torch.Tensor:
        self.check_inputs(lr_target, hr_guide)
        upsampled = imresize(lr_target, scale=self.scale)   # (B, 1, sH, sW)
        guide_code = self.guide_encoder(hr_guide, trace=None if trace is None else trace["z"])  # Z: (B, k, sH, sW)
        target_code = self.target_encoder(upsampled, guide_code, trace=None if trace is None else trace["u"])  # U
        first = self.dictionary(target_code)                # out: (B, 1, sH, sW)
        refine_code = self.refine_encoder(first, trace=None if trace is None else trace["v"])  # V
        return self.refine_dictionary(refine_code) + upsampled

    @torch.no_grad()
    def diagnostics(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> dict[str, float]:
        """Density of every encoder's code per iteration (``density/z0..`` guide, ``u``
        target with LeSITA, ``v`` refinement) and the smallest and mean threshold."""
        _, trace = self.trace(lr_target, hr_guide)
        result = {f"density/{state}{i}": float((code != 0).float().mean())
                  for state, codes in trace.items() for i, code in enumerate(codes)}
        return {**result, **threshold_summary(self)}
