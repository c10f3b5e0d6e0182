"""Adapters so that any user network can be trained, sampled and bounded as a score model."""
from __future__ import annotations

import torch
from torch import nn

from .._validation import append_dims

__all__ = ["ScoreModel", "NoisePredictionScore"]


class ScoreModel(nn.Module):
    """Wrap any ``nn.Module`` ``f(x, t)`` that returns a score; checks the output shape once per call."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        s = self.net(x, t)
        if s.shape != x.shape:
            raise ValueError(f"the network returned shape {tuple(s.shape)} for input shape {tuple(x.shape)}")
        return s


class NoisePredictionScore(nn.Module):
    r"""Turn a noise predictor :math:`\hat\epsilon(x, t)` (DDPM's parameterisation) into a score:
    :math:`s(x, t) = -\hat\epsilon(x, t) / s(t)`, with :math:`s(t)` the process's marginal std."""

    def __init__(self, net: nn.Module, process):
        super().__init__()
        self.net = net
        self.process = process

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        eps = self.net(x, t)
        if eps.shape != x.shape:
            raise ValueError(f"the network returned shape {tuple(eps.shape)} for input shape {tuple(x.shape)}")
        return -eps / append_dims(self.process.marginal_std(t.to(x.dtype)), x.ndim)
