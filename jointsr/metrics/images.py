"""The paper protocol's per-image metrics as a :class:`torchmetrics.Metric`: :class:`ImageMetrics`.

Each image's PSNR, SSIM, plain SSIM and RMSEs are computed by
:func:`~jointsr.metrics.protocol.evaluate_pair` (the published definitions, in numpy
float64) and kept, with the image's name, as metric states that torchmetrics gathers
across processes: under DDP every rank tests a share of the images, and after
:meth:`ImageMetrics.compute` every rank holds every image's row. An image that the
distributed sampler gave to two ranks (it pads the last batch) is counted once.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from jointsr.metrics.protocol import DEPTH_BORDER, evaluate_pair

#: what :func:`evaluate_pair` returns, in order
PAIR_METRICS = ("psnr", "ssim", "ssim_plain", "rmse", "rmse_crop")
#: bytes an image name may take (names travel between processes as tensors)
NAME_BYTES = 255


def encode_name(name: str) -> torch.Tensor:
    """``name`` as a (1, NAME_BYTES) uint8 row, zero-padded."""
    data = name.encode("utf-8")
    if len(data) > NAME_BYTES or b"\0" in data:
        raise ValueError(f"image name {name[:40]!r}... must be at most {NAME_BYTES} bytes without NUL")
    row = torch.zeros(1, NAME_BYTES, dtype=torch.uint8)
    row[0, :len(data)] = torch.tensor(list(data), dtype=torch.uint8)
    return row


def decode_name(row: torch.Tensor) -> str:
    """The name :func:`encode_name` encoded (a (NAME_BYTES,) or (1, NAME_BYTES) row)."""
    return bytes(row.reshape(-1).cpu().tolist()).rstrip(b"\0").decode("utf-8")


class ImageMetrics(Metric):
    """Accumulates one row per image (``name`` and :data:`PAIR_METRICS`), synced across
    processes; :meth:`compute` returns the rows, sorted by name, each image once."""

    full_state_update = False
    is_differentiable = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("names", default=[], dist_reduce_fx="cat")
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def update(self, prediction: torch.Tensor, target: torch.Tensor, names: list[str],
               border: int = DEPTH_BORDER) -> None:
        """``prediction``, ``target``: (B, 1, H, W); ``names``: the B images' names; ``border``:
        the frame ``rmse_crop`` leaves out (``data.rmse_border``)."""
        if len(names) != prediction.shape[0]:
            raise ValueError(f"{len(names)} names for a batch of {prediction.shape[0]} images")
        for i, name in enumerate(names):
            metrics = evaluate_pair(prediction[i, 0].float().cpu().numpy(), target[i, 0].float().cpu().numpy(),
                                    border)
            self.names.append(encode_name(name).to(self.device))
            self.values.append(torch.tensor([[metrics[key] for key in PAIR_METRICS]], dtype=torch.float64,
                                            device=self.device))

    def compute(self) -> list[dict]:
        if len(self.names) == 0:
            return []
        names = dim_zero_cat(self.names).reshape(-1, NAME_BYTES).to(torch.uint8)
        values = dim_zero_cat(self.values).reshape(-1, len(PAIR_METRICS)).cpu()
        rows = {}
        for name_row, value_row in zip(names, values):
            name = decode_name(name_row)
            rows[name] = {"name": name, **{key: float(v) for key, v in zip(PAIR_METRICS, value_row.tolist())}}
        return [rows[name] for name in sorted(rows)]
