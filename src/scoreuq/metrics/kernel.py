r"""Maximum mean discrepancy with a Gaussian (RBF) kernel.

The unbiased estimator of Gretton et al. (2012, Lemma 6):

.. math::

    \widehat{\mathrm{MMD}}^2_u = \frac{1}{m(m-1)}\sum_{i\ne j}k(x_i,x_j)
      + \frac{1}{n(n-1)}\sum_{i\ne j}k(y_i,y_j) - \frac{2}{mn}\sum_{i,j}k(x_i,y_j),
    \qquad k(x,y) = \exp\!\Big(-\frac{\|x-y\|^2}{2h^2}\Big).

Its expectation is exactly :math:`\mathrm{MMD}^2`, so it is zero on average for
equal laws and may be slightly negative on one draw.
"""
from __future__ import annotations

from typing import Sequence

import torch

from .._validation import check_points, check_positive

__all__ = ["mmd", "median_bandwidth"]


def median_bandwidth(a, b, *, max_points: int = 1000, generator=None) -> float:
    """The median heuristic: median pairwise distance in the pooled sample (subsampled)."""
    a = check_points("a", a)
    z = torch.cat([a, check_points("b", b, dim=a.shape[1]).to(a)])
    if z.shape[0] > max_points:
        z = z[torch.randperm(z.shape[0], generator=generator)[:max_points].to(z.device)]
    dist = torch.pdist(z.double())
    med = float(dist.median()) if dist.numel() else 0.0
    if not med > 0:
        raise ValueError("median_bandwidth: all points coincide; pass a bandwidth > 0")
    return med


def _kernel_sum(x, y, bws, *, exclude_diag: bool):
    d2 = torch.cdist(x, y).pow_(2)
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for h in bws:
        k = torch.exp(-d2 / (2 * h * h))
        s = k.sum(dtype=torch.float64)
        if exclude_diag:
            s = s - k.diagonal().sum(dtype=torch.float64)
        total = total + s
    return total


def mmd(a, b, bandwidth: float | Sequence[float] | str = 1.0, *, generator=None) -> float:
    r"""Unbiased :math:`\widehat{\mathrm{MMD}}^2_u` between samples ``a (m, d)`` and ``b (n, d)``.

    ``bandwidth`` is :math:`h > 0`, a sequence of them (kernel = sum of RBF kernels), or
    ``"median"`` for the median heuristic. Needs ``m, n >= 2``.
    """
    a = check_points("a", a, min_n=2)
    b = check_points("b", b, dim=a.shape[1], min_n=2).to(a)
    if isinstance(bandwidth, str):
        if bandwidth != "median":
            raise ValueError(f"bandwidth must be > 0, a sequence of such, or 'median', got {bandwidth!r}")
        bws = [median_bandwidth(a, b, generator=generator)]
    elif isinstance(bandwidth, (int, float)):
        bws = [check_positive("bandwidth", bandwidth)]
    else:
        bws = [check_positive("bandwidth", h) for h in bandwidth]
        if not bws:
            raise ValueError("bandwidth must not be an empty sequence")
    m, n = a.shape[0], b.shape[0]
    kxx = _kernel_sum(a, a, bws, exclude_diag=True) / (m * (m - 1))
    kyy = _kernel_sum(b, b, bws, exclude_diag=True) / (n * (n - 1))
    kxy = _kernel_sum(a, b, bws, exclude_diag=False) / (m * n)
    return float(kxx + kyy - 2 * kxy)
