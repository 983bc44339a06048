"""ImageMetrics: the protocol's per-image values, unchanged, each image once."""

from __future__ import annotations

import math

import pytest
import torch

from jointsr.metrics.images import (
    NAME_BYTES,
    PAIR_METRICS,
    ImageMetrics,
    decode_name,
    encode_name,
)
from jointsr.metrics.protocol import evaluate_pair


def _images(seed: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    truth = torch.rand(count, 1, 40, 36, generator=generator)
    return (truth + 0.1 * torch.randn(count, 1, 40, 36, generator=generator)).clamp(0, 1), truth


def test_rows_are_the_protocol_values_exactly_sorted_by_name_each_image_once():
    metric = ImageMetrics()
    prediction, truth = _images(0, 3)
    metric.update(prediction[:2], truth[:2], ["zebra", "apple"])
    metric.update(prediction[2:], truth[2:], ["mango"])
    metric.update(prediction[:1], truth[:1], ["zebra"])  # a padded batch: the same image again
    rows = metric.compute()
    assert [row["name"] for row in rows] == ["apple", "mango", "zebra"]
    for row, index in zip(rows, (1, 2, 0)):
        expected = evaluate_pair(prediction[index, 0].numpy(), truth[index, 0].numpy())
        for key in PAIR_METRICS:
            assert row[key] == expected[key] or (math.isnan(row[key]) and math.isnan(expected[key])), key
    metric.reset()
    assert metric.compute() == []


def test_names_travel_as_fixed_width_bytes_and_the_batch_must_name_every_image():
    assert decode_name(encode_name("urban/0004 é")) == "urban/0004 é"
    assert encode_name("a").shape == (1, NAME_BYTES) and encode_name("a").dtype == torch.uint8
    with pytest.raises(ValueError, match="at most 255 bytes"):
        encode_name("x" * 256)
    prediction, truth = _images(1, 2)
    with pytest.raises(ValueError, match="1 names for a batch of 2 images"):
        ImageMetrics().update(prediction, truth, ["one"])
