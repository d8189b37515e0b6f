"""The Gaussian distance basis: exp(−(d − μ)² / w²) with its subnormal float32 tail set to 0
(subnormals made inference 2.5× slower on a CPU; BENCHMARKS.md, issue 13 speed)."""

from __future__ import annotations

import math

import pytest
import torch

from elastic_atlas.model.cgcnn import gaussian_basis, gaussian_centers

TINY = torch.finfo(torch.float32).tiny  # the smallest normal float32, 1.18e-38


def basis_and_plain_exp() -> tuple[torch.Tensor, torch.Tensor]:
    distances = torch.linspace(0.0, 8.0, 4001, dtype=torch.float32)  # every 2 mÅ to the cutoff
    centers = gaussian_centers(8.0, 0.2)
    plain = torch.exp(-((distances.unsqueeze(-1) - centers) ** 2) / 0.04)
    return gaussian_basis(distances, centers, 0.04), plain


def test_the_basis_holds_no_subnormal_number():
    basis, plain = basis_and_plain_exp()
    subnormal = (plain > 0) & (plain < TINY)
    assert subnormal.sum() > 1000  # the plain exponential is full of them (the slow case)
    assert not ((basis > 0) & (basis < TINY)).any()


def test_every_normal_value_is_the_plain_exponential_bit_for_bit():
    basis, plain = basis_and_plain_exp()
    normal = plain >= TINY
    assert torch.equal(basis[normal], plain[normal])
    assert torch.equal(basis[~normal], torch.zeros_like(basis[~normal]))


def test_hand_computed_values():
    centers = torch.tensor([0.0, 1.0])
    # d = 1.2, w² = 0.04: exp(−1.44 / 0.04) = exp(−36) and exp(−0.04 / 0.04) = exp(−1)
    values = gaussian_basis(torch.tensor([1.2]), centers, 0.04)
    assert values[0, 0].item() == pytest.approx(math.exp(-36.0), rel=1e-6)  # 1.2 in float32
    assert values[0, 1].item() == pytest.approx(math.exp(-1.0), rel=1e-6)
    # d = 2: exp(−100) = 3.7e-44 is subnormal in float32: 0
    assert gaussian_basis(torch.tensor([2.0]), centers, 0.04)[0, 0].item() == 0.0
