"""Time-conditioned MLP score networks with the presets of thesis (003) §5.4.2 and App. B.1."""
from __future__ import annotations

import re

import torch
from torch import nn

from .embeddings import GaussianFourierFeatures

__all__ = ["ScoreMLP", "MLP_PRESETS", "mlp_preset"]

#: "<hidden layers>L<width>N" as named in thesis (003) §5.4.2; the thesis default is 3L256N (App. B.1).
MLP_PRESETS = {"3L16N": (3, 16), "3L64N": (3, 64), "3L256N": (3, 256), "5L16N": (5, 16), "5L64N": (5, 64)}

_ACT = {"relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class ScoreMLP(nn.Module):
    r"""Score network :math:`s_\theta(x, t)` for vectors: an MLP on :math:`[x, \phi(t)]`.

    Parameters
    ----------
    dim : int
        Data dimension.
    hidden_layers, width : int
        Number of hidden layers and neurons per layer (thesis default 3 × 256, ReLU).
    activation : {"relu", "silu", "tanh", "gelu"}
    time_embedding : {"fourier", "raw"}
        Gaussian Fourier features of ``t`` (``time_dim`` of them) or ``t`` itself as one input.
    time_scale : float
        Standard deviation of the Fourier frequencies (default 1). The C² norm of the WUP bound contains
        :math:`\partial_t^2 s`, which grows like ``time_scale²`` through the embedding
        (:math:`|\phi''| = (2\pi)^2 (\sum w_i^4)^{1/2}`): a small scale keeps the time derivatives tame.
    """

    def __init__(self, dim: int, hidden_layers: int = 3, width: int = 256, activation: str = "relu",
                 time_embedding: str = "fourier", time_dim: int = 16, time_scale: float = 1.0):
        super().__init__()
        for name, v in (("dim", dim), ("hidden_layers", hidden_layers), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if activation not in _ACT:
            raise ValueError(f"activation must be one of {sorted(_ACT)}, got {activation!r}")
        if time_embedding not in ("fourier", "raw"):
            raise ValueError(f"time_embedding must be 'fourier' or 'raw', got {time_embedding!r}")
        if isinstance(time_scale, bool) or not isinstance(time_scale, (int, float)) or not 0 < time_scale < float("inf"):
            raise ValueError(f"time_scale must be a finite number > 0, got {time_scale!r}")
        self.dim = dim
        self.embed = GaussianFourierFeatures(time_dim, scale=float(time_scale)) if time_embedding == "fourier" else None
        t_in = time_dim if self.embed is not None else 1
        layers, d_in = [], dim + t_in
        for _ in range(hidden_layers):
            layers += [nn.Linear(d_in, width), _ACT[activation]()]
            d_in = width
        layers.append(nn.Linear(d_in, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {tuple(x.shape)}")
        te = self.embed(t) if self.embed is not None else t[:, None]
        return self.net(torch.cat([x, te.to(x.dtype)], dim=1))


def mlp_preset(name: str, dim: int, **kwargs) -> ScoreMLP:
    """Build a preset ("3L16N", "3L64N", "3L256N", "5L16N", "5L64N") or any "<L>L<N>N" name."""
    m = re.fullmatch(r"(\d+)L(\d+)N", str(name))
    if not m:
        raise ValueError(f"preset must be one of {sorted(MLP_PRESETS)} or '<layers>L<width>N', got {name!r}")
    return ScoreMLP(dim, int(m.group(1)), int(m.group(2)), **kwargs)
