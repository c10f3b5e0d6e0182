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

import math
from typing import Sequence

import torch

from .._validation import check_points, check_positive

__all__ = ["mmd", "median_bandwidth"]


def median_bandwidth(a, b, *, max_points: int = 1000, generator=None) -> float:
    """The median heuristic: median pairwise distance in the pooled sample (subsampled)."""
    a = check_points("a", a)
    # float64 for both: casting b to a's dtype would drop b's precision (and overflow float32 squares)
    z = torch.cat([a.double(), check_points("b", b, dim=a.shape[1]).to(a.device).double()])
    if z.shape[0] > max_points:
        z = z[torch.randperm(z.shape[0], generator=generator)[:max_points].to(z.device)]
    z = z - z.mean(0)
    scale = float(z.abs().max())
    scale = 2.0 ** math.ceil(math.log2(scale)) if scale > 0 else 1.0  # exact; squares of 1e300 would overflow
    dist = torch.pdist(z / scale) * scale
    med = float(dist.median()) if dist.numel() else 0.0
    if not med > 0:
        raise ValueError("median_bandwidth: all points coincide; pass a bandwidth > 0")
    return med


def _kernel_sum(x, y, bws, *, exclude_diag: bool):
    """Sum of the kernel over all pairs of rows of ``x`` and ``y`` (already centred and scaled
    by :func:`_prepare`; ``bws`` scaled alike). Squared distances in the working dtype, clamped at 0;
    kernel values and sums in float64."""
    d2 = torch.cdist(x, y).pow_(2).clamp_min_(0).double()
    total = torch.zeros((), dtype=torch.float64, device=x.device)
    for h in bws:
        factor = 0.5 / (h * h) if h * h > 0 else math.inf
        if math.isinf(factor):  # bandwidth negligible at the data's scale: k = 1 on coincident points only
            k = (d2 == 0).double()
        else:
            k = torch.exp(d2 * -factor)
        s = k.sum(dtype=torch.float64)
        if exclude_diag:
            s = s - k.diagonal().sum(dtype=torch.float64)
        total = total + s
    return total


def _prepare(a, b):
    """Precision far from the origin (float32 at offset 1e3 lost ~20% of MMD^2 through the
    |x|^2 + |y|^2 - 2xy expansion of cdist) and range (squares of 1e20 overflow float32):
    both samples are promoted to their common dtype (float64 on CPU), and each of the three
    blocks is centred on its own mean (squared distances are translation invariant, so the
    expansion then cancels nothing) and divided by a common power of two ``s`` (exact), the
    bandwidths likewise. Returns ``(a_c, b_c, pooled-centred a, pooled-centred b, s)``."""
    dtype = torch.promote_types(a.dtype, b.dtype)
    work = torch.float64 if a.device.type == "cpu" else dtype
    a64, b64 = a.double(), b.double()
    ma, mb = a64.mean(0), b64.mean(0)
    mp = (a64.sum(0) + b64.sum(0)) / (a.shape[0] + b.shape[0])
    blocks = [a64 - ma, b64 - mb, a64 - mp, b64 - mp]
    s = max(float(t.abs().max()) for t in blocks)
    s = 2.0 ** math.ceil(math.log2(s)) if s > 0 else 1.0
    return [(t / s).to(work) for t in blocks] + [s]


def mmd(a, b, bandwidth: float | Sequence[float] | str = 1.0, *, generator=None) -> float:
    r"""Unbiased :math:`\widehat{\mathrm{MMD}}^2_u` between samples ``a (m, d)`` and ``b (n, d)``.

    ``bandwidth`` is :math:`h > 0`, a sequence of them (kernel = sum of RBF kernels), or
    ``"median"`` for the median heuristic. Needs ``m, n >= 2``. Mixed dtypes are promoted to the
    common one (symmetric in the arguments); computed on centred, rescaled data with float64 kernel
    sums (float64 throughout on CPU), so it stays accurate far from the origin and finite for
    finite inputs of any magnitude.
    """
    a = check_points("a", a, min_n=2)
    b = check_points("b", b, dim=a.shape[1], min_n=2).to(a.device)  # dtype promoted in _prepare, not cast to a's
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
    ac, bc, ap, bp, s = _prepare(a, b)
    bws = [h / s for h in bws]
    kxx = _kernel_sum(ac, ac, bws, exclude_diag=True) / (m * (m - 1))
    kyy = _kernel_sum(bc, bc, bws, exclude_diag=True) / (n * (n - 1))
    kxy = _kernel_sum(ap, bp, bws, exclude_diag=False) / (m * n)
    return float(kxx + kyy - 2 * kxy)
