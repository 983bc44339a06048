"""Operator norms against the operators written out: dense matrices and power iteration."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jointsr.functional.operators import conv_spectral_norm, operator_norm_sq


def test_a_dense_dictionary_norm_is_its_largest_singular_value_squared():
    matrix = torch.randn(12, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = np.linalg.eigvalsh(matrix.numpy() @ matrix.numpy().T).max()  # ||A A^T||
    assert operator_norm_sq(matrix) == pytest.approx(expected, rel=1e-12)


def _power_norm_sq(apply, adjoint, shape, iterations: int = 200) -> float:
    code = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for _ in range(iterations):
        code = adjoint(apply(code))
        code = code / code.norm()
    return float(apply(code).norm() ** 2)


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_a_convolutional_dictionary_norm_is_that_of_the_strided_operator(stride):
    """``A``: conv2d of stride s (k -> c channels), its adjoint the transposed convolution, on a
    periodic-free large image: the power iteration's ``||A||^2`` from below."""
    k, c, size = 5, 2, 2 * stride if stride > 1 else 5
    weight = torch.randn(c, k, size, size, generator=torch.Generator().manual_seed(stride), dtype=torch.float64)
    padding = size // 2 if stride == 1 else (stride + 1) // 2
    output_padding = 0 if stride == 1 else stride % 2
    apply = lambda code: F.conv2d(code, weight, stride=stride, padding=padding)  # noqa: E731
    adjoint = lambda image: F.conv_transpose2d(image, weight, stride=stride, padding=padding,  # noqa: E731
                                               output_padding=output_padding)
    measured = _power_norm_sq(apply, adjoint, (1, k, 32 * stride, 32 * stride))
    computed = operator_norm_sq(weight, stride)
    assert measured <= computed * (1 + 1e-9)
    assert computed == pytest.approx(measured, rel=3e-2)  # the iteration and a finite image approach it from below


def test_the_spectral_norm_of_an_ista_update_matches_its_gain():
    """``S = I - A^T A / L`` of a strided degraded dictionary (the free form's start): the
    sampled DFT peak is within the 1e-3 that ``ista_update_weight`` keeps as its margin."""
    from jointsr.models.blocks import ConvOperator, normalise_atoms_

    atoms = normalise_atoms_(torch.randn(1, 6, 5, 5, generator=torch.Generator().manual_seed(4),
                                         dtype=torch.float64), atom_dim=1)
    operator = ConvOperator.degradation(atoms, 2)
    weight = -operator.gram_kernel(5) / operator.norm_sq()
    weight[torch.arange(6), torch.arange(6), 2, 2] += 1.0
    apply = lambda x: F.conv2d(x, weight, padding=2)  # noqa: E731
    adjoint = lambda y: F.conv_transpose2d(y, weight, padding=2)  # noqa: E731
    measured = _power_norm_sq(apply, adjoint, (1, 6, 48, 48)) ** 0.5
    computed = conv_spectral_norm(weight)
    assert measured <= computed * (1 + 1e-3)
    assert computed == pytest.approx(measured, rel=2e-2)
