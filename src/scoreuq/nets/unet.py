"""The ScoreNet U-Net of the seminar (000 §3.1), after Song et al.'s tutorial network."""
from __future__ import annotations

import torch
from torch import nn

from .._validation import append_dims
from .embeddings import GaussianFourierFeatures

__all__ = ["ScoreNet"]


def _groups(c: int) -> int:
    for g in (8, 4, 2, 1):
        if c % g == 0:
            return g
    return 1


class _Block(nn.Module):
    """conv → + Dense(time embedding) → GroupNorm → SiLU: h_i = Conv2D(h_{i-1}) + Dense(emb(t)) (000 §3.1).

    ``up=True`` uses a transposed convolution that doubles height and width."""

    def __init__(self, c_in, c_out, emb_dim, stride=1, up=False):
        super().__init__()
        if up:
            self.conv = nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False)
        else:
            self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.dense = nn.Linear(emb_dim, c_out)
        self.norm = nn.GroupNorm(_groups(c_out), c_out)
        self.act = nn.SiLU()

    def forward(self, h, emb):
        h = self.conv(h) + append_dims(self.dense(emb), 4)
        return self.act(self.norm(h))


class ScoreNet(nn.Module):
    r"""Time-dependent score U-Net (seminar (000) §3.1).

    Gaussian Fourier time embedding; a Dense projection of it added in every block;
    encoder (full, /2, /4 resolution) – bottleneck – decoder with skip connections;
    the output is divided by the marginal standard deviation :math:`s(t)` of ``process``
    (the score of the perturbation kernel scales as :math:`1/s(t)`).

    Sized for 8×8 digits and 28×28 MNIST: the height and width must be divisible by 4.
    """

    def __init__(self, process, image_shape=(1, 28, 28), channels=(32, 64, 128), embed_dim: int = 128):
        super().__init__()
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {image_shape!r}")
        c, h, w = (int(v) for v in image_shape)
        if h % 4 or w % 4:
            raise ValueError(f"image height and width must be divisible by 4, got {h}x{w}")
        if len(channels) != 3 or any(int(ch) < 1 for ch in channels):
            raise ValueError(f"channels must be three positive integers, got {channels!r}")
        c0, c1, c2 = (int(v) for v in channels)
        self.process = process
        self.image_shape = (c, h, w)
        self.embed = nn.Sequential(GaussianFourierFeatures(embed_dim, scale=16.0), nn.Linear(embed_dim, embed_dim), nn.SiLU())
        self.enc0 = _Block(c, c0, embed_dim)
        self.enc1 = _Block(c0, c1, embed_dim, stride=2)
        self.enc2 = _Block(c1, c2, embed_dim, stride=2)
        self.mid = _Block(c2, c2, embed_dim)
        self.up1 = _Block(c2, c1, embed_dim, up=True)
        self.dec1 = _Block(2 * c1, c1, embed_dim)
        self.up0 = _Block(c1, c0, embed_dim, up=True)
        self.dec0 = _Block(2 * c0, c0, embed_dim)
        self.out = nn.Conv2d(c0, c, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"x must have shape (n, {', '.join(map(str, self.image_shape))}), got {tuple(x.shape)}")
        emb = self.embed(t.to(x.dtype))
        h0 = self.enc0(x, emb)
        h1 = self.enc1(h0, emb)
        h2 = self.mid(self.enc2(h1, emb), emb)
        u1 = self.dec1(torch.cat([self.up1(h2, emb), h1], 1), emb)
        u0 = self.dec0(torch.cat([self.up0(u1, emb), h0], 1), emb)
        std = self.process.marginal_std(t.to(x.dtype))
        return self.out(u0) / append_dims(std, x.ndim)
