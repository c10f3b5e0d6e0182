"""Time embeddings shared by the score networks."""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["GaussianFourierFeatures"]


class GaussianFourierFeatures(nn.Module):
    r"""Random Fourier features of time (Tancik et al. 2020; Song et al. 2021; seminar (000) §3.1):
    :math:`[\sin(2\pi t W), \cos(2\pi t W)]` with fixed :math:`W \sim \mathcal N(0, \text{scale}^2)`.

    ``W`` is drawn from a private generator seeded by ``seed``, so the embedding is the
    same on every run and does not consume global random state.
    """

    def __init__(self, dim: int = 32, scale: float = 16.0, seed: int = 0):
        super().__init__()
        if dim < 2 or dim % 2:
            raise ValueError(f"dim must be an even integer >= 2, got {dim!r}")
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("W", torch.randn(dim // 2, generator=g) * scale, persistent=True)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        proj = t[:, None].to(self.W.dtype) * self.W[None, :] * (2 * math.pi)
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)
