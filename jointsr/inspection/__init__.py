"""``jointsr-inspect``: what the coupled sparse codes of a trained network do.

The package reads one forward pass of a network with sparse codes (one whose class says
``has_codes``: JointSR in both forms, LMCSC) and turns it into figures and one JSON summary:

- :mod:`~jointsr.inspection.trace`: what the network's ``code_trace`` returns, the codes of
  every state at every unrolled step, every LeSITA shrinkage with its pre-activation and
  side information, the per-step reconstructions, the dictionary and the thresholds
  (:class:`NetworkTrace`), each shrinkage checked against its traced code;
- :mod:`~jointsr.inspection.analysis`: the numbers (density, L1, LeSITA's regimes, the
  coupling distance ``|h - g|``, per-step PSNR) as plain arrays and a JSON-ready summary;
- :mod:`~jointsr.inspection.figures`: the PNG figures (matplotlib, Agg);
- :mod:`~jointsr.cli.inspect`: the Hydra app (inputs, checkpoint, run folder, wandb).
"""

from jointsr.inspection.analysis import Inspection, analyse
from jointsr.inspection.figures import write_figures
from jointsr.inspection.trace import NetworkTrace, NoCodesError, trace_network

__all__ = ["Inspection", "NetworkTrace", "NoCodesError", "analyse", "trace_network", "write_figures"]
