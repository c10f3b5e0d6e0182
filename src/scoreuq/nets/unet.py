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

    def __init__(self, c_in, c_out, emb_dim, stride=1, up=False, output_padding=None):
        super().__init__()
        if up and output_padding is not None:
            # to an odd size (7 from 4): kernel 3 gives 2n - 1 + output_padding
            self.conv = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=output_padding, bias=False)
        elif up:
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
    an encoder of ``len(channels)`` levels (full resolution, then /2 at each further level) – a
    bottleneck – a decoder with skip connections; the output is divided by the marginal standard
    deviation :math:`s(t)` of ``process`` (the score of the perturbation kernel scales as :math:`1/s(t)`).

    Three levels (``channels=(32, 64, 128)``, the default) fit 8×8 digits and 28×28 MNIST; four
    levels (``(32, 64, 128, 256)`` with ``embed_dim=256``, the width of the seminar and of Song's
    tutorial network) take 28×28 down to 4×4, the decoder matching the odd 7×7 level with an
    output padding. Every level's input size must be at least 2.

    ``time_scale`` is the standard deviation of the Fourier frequencies (16, Song's tutorial value, by
    default). The WUP bound's C² norm contains :math:`\partial_t^2 s`, which grows like ``time_scale²``
    through the embedding on top of the :math:`1/s(t)` factor's :math:`s(t)^{-5}`-like growth at small t:
    ``time_scale: 1`` is the tame parameterisation offered for that trade-off.
    """

    def __init__(self, process, image_shape=(1, 28, 28), channels=(32, 64, 128), embed_dim: int = 128, time_scale: float = 16.0):
        super().__init__()
        if isinstance(time_scale, bool) or not isinstance(time_scale, (int, float)) or not 0 < time_scale < float("inf"):
            raise ValueError(f"time_scale must be a finite number > 0, got {time_scale!r}")
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {image_shape!r}")
        c, h, w = (int(v) for v in image_shape)
        if len(channels) not in (3, 4) or any(int(ch) < 1 for ch in channels):
            raise ValueError(f"channels must be three or four positive integers, got {channels!r}")
        ch = [int(v) for v in channels]
        sizes = [(h, w)]
        for _ in range(len(ch) - 1):
            ph, pw = sizes[-1]
            if ph < 2 or pw < 2:
                raise ValueError(f"image {h}x{w} is too small for {len(ch)} levels")
            sizes.append(((ph + 1) // 2, (pw + 1) // 2))
        if len(ch) == 3 and (h % 4 or w % 4):
            raise ValueError(f"image height and width must be divisible by 4 for three levels, got {h}x{w}")
        self.process = process
        self.image_shape = (c, h, w)
        self.levels = len(ch)
        self.embed = nn.Sequential(GaussianFourierFeatures(embed_dim, scale=float(time_scale)), nn.Linear(embed_dim, embed_dim), nn.SiLU())
        self.enc0 = _Block(c, ch[0], embed_dim)
        self.enc1 = _Block(ch[0], ch[1], embed_dim, stride=2)
        self.enc2 = _Block(ch[1], ch[2], embed_dim, stride=2)
        if self.levels == 4:
            self.enc3 = _Block(ch[2], ch[3], embed_dim, stride=2)
        self.mid = _Block(ch[-1], ch[-1], embed_dim)

        def pad(i):  # up from level i to level i - 1
            (th, tw), (ih, iw) = sizes[i - 1], sizes[i]
            if (th, tw) == (2 * ih, 2 * iw):
                return None
            return (th - (2 * ih - 1), tw - (2 * iw - 1))

        if self.levels == 4:
            self.up2 = _Block(ch[3], ch[2], embed_dim, up=True, output_padding=pad(3))
            self.dec2 = _Block(2 * ch[2], ch[2], embed_dim)
        self.up1 = _Block(ch[2], ch[1], embed_dim, up=True, output_padding=pad(2))
        self.dec1 = _Block(2 * ch[1], ch[1], embed_dim)
        self.up0 = _Block(ch[1], ch[0], embed_dim, up=True, output_padding=pad(1))
        self.dec0 = _Block(2 * ch[0], ch[0], embed_dim)
        self.out = nn.Conv2d(ch[0], c, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"x must have shape (n, {', '.join(map(str, self.image_shape))}), got {tuple(x.shape)}")
        emb = self.embed(t.to(x.dtype))
        h0 = self.enc0(x, emb)
        h1 = self.enc1(h0, emb)
        h2 = self.enc2(h1, emb)
        if self.levels == 4:
            h3 = self.mid(self.enc3(h2, emb), emb)
            u2 = self.dec2(torch.cat([self.up2(h3, emb), h2], 1), emb)
        else:
            u2 = self.mid(h2, emb)
        u1 = self.dec1(torch.cat([self.up1(u2, emb), h1], 1), emb)
        u0 = self.dec0(torch.cat([self.up0(u1, emb), h0], 1), emb)
        std = self.process.marginal_std(t.to(x.dtype))
        return self.out(u0) / append_dims(std, x.ndim)
