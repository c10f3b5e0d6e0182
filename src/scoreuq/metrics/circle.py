r"""The circle generalisation metrics of thesis (003) Definitions 4.1–4.2.

Samples are mapped to polar coordinates :math:`(r, \theta)` about the circle's
centre, with :math:`\theta = \operatorname{atan2}(y, x) \in [0, 2\pi)`. (The thesis's
footnote writes :math:`\arctan(y/x)`, whose range :math:`(-\pi/2, \pi/2)` cannot be
compared with the :math:`U[0, 2\pi)` law of its own Definition 4.2; atan2 is what the
definition needs.)

.. math::

    C_1(\mathcal G, \mathcal S) = W_1(\mathcal G_r, \mathcal S_r) + W_1^{S^1}(\mathcal G_\theta, \mathcal S_\theta),
    \qquad
    C_2(\mathcal G) = W_1(\mathcal G_r, \delta_{\rho}) + W_1(\mathcal G_\theta, U[0, 2\pi)).

Both :math:`W_1` in :math:`C_2` are computed exactly against the continuous laws. The angle
term of :math:`C_1` uses the :math:`W_1` of the circle (see :func:`c1` for why the thesis's
linear :math:`W_1` on :math:`[0, 2\pi)` misleads).
"""
from __future__ import annotations

import math

import torch

from .._validation import check_points, check_positive
from .wasserstein import wasserstein_1d

__all__ = ["polar", "c1", "c2", "c1_parts", "c2_parts", "fit_circle", "w1_to_uniform"]


def polar(x, center=(0.0, 0.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """Radii and angles in ``[0, 2π)`` of 2-D points about ``center``."""
    x = check_points("x", x, dim=2).double()
    c = torch.as_tensor(center, dtype=torch.float64, device=x.device).reshape(2)
    y = x - c
    r = y.norm(dim=1)
    th = torch.remainder(torch.atan2(y[:, 1], y[:, 0]), 2 * math.pi)
    return r, th


def w1_to_uniform(x, low: float = 0.0, high: float = 2 * math.pi) -> float:
    r"""Exact :math:`W_1` between the empirical law of 1-D ``x`` and :math:`U[\text{low}, \text{high}]`:
    :math:`\int_0^1 |Q_n(u) - (\text{low} + u(\text{high}-\text{low}))|\,du` with the empirical
    quantile :math:`Q_n` piecewise constant, integrated exactly piece by piece."""
    x = torch.sort(torch.as_tensor(x, dtype=torch.float64).flatten()).values
    n = x.numel()
    if n == 0:
        raise ValueError("x must be non-empty")
    L = float(high) - float(low)
    if not L > 0:
        raise ValueError(f"high must be > low, got [{low}, {high}]")
    u0 = torch.arange(n, dtype=torch.float64) / n
    u1 = u0 + 1.0 / n
    c = x - low  # on (u0, u1] the integrand is |c - L u|
    us = (c / L).clamp(min=u0, max=u1)  # the crossing point, clamped into the piece

    def prim(u):  # integral of (c - L u) from u0 to u
        return c * (u - u0) - 0.5 * L * (u**2 - u0**2)

    left = prim(us)
    total = prim(u1)
    return float((left.abs() + (total - left).abs()).sum())


def fit_circle(points) -> tuple[torch.Tensor, float]:
    r"""Centre and radius of the circle through 2-D ``points`` by algebraic least squares (Kåsa's fit):
    :math:`|x|^2 = 2c\cdot x + (\rho^2 - |c|^2)` is linear in :math:`(c, \rho^2 - |c|^2)`. Exact for
    points on a circle (the 8 evenly spaced training points of 003 §3.2 give centre and radius to
    rounding); for noisy points it is the usual consistent estimate. Needs 3 points not on a line.
    Returns ``(center, radius)`` with ``center`` a float64 tensor of shape ``(2,)``."""
    x = check_points("points", points, dim=2).double()
    if x.shape[0] < 3:
        raise ValueError(f"points must hold at least 3 points to fix a circle, got {x.shape[0]}")
    A = torch.cat([2 * x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], 1)
    b = (x**2).sum(1, keepdim=True)
    if int(torch.linalg.matrix_rank(A)) < 3:
        raise ValueError("points lie on a line (or coincide): no circle through them")
    sol = torch.linalg.lstsq(A.cpu(), b.cpu()).solution.flatten()
    center = sol[:2]
    r2 = float(sol[2] + (center**2).sum())
    if not r2 > 0:
        raise ValueError("the fitted circle has no positive radius")
    return center, math.sqrt(r2)


def c1_parts(generated, reference, center=(0.0, 0.0), *, circular: bool = True) -> dict:
    """:func:`c1` split into its parts: ``{"radius", "angle", "total"}`` (003 §5.4.2 reads each)."""
    rg, tg = polar(generated, center)
    rs, ts = polar(reference, center)
    w_r = wasserstein_1d(rg, rs)
    if not circular:
        w_a = wasserstein_1d(tg, ts)
    else:
        import ot  # lazy: POT imports scipy.stats

        two_pi = 2 * math.pi
        u, v = (tg / two_pi).double().cpu().numpy()[:, None], (ts / two_pi).double().cpu().numpy()[:, None]
        w_a = float(ot.wasserstein_circle(u, v, p=1)[0]) * two_pi
    return {"radius": float(w_r), "angle": float(w_a), "total": float(w_r + w_a)}


def c2_parts(generated, radius: float = 1.0, center=(0.0, 0.0)) -> dict:
    """:func:`c2` split into its parts: ``{"radius", "angle", "total"}``."""
    radius = check_positive("radius", radius)
    r, th = polar(generated, center)
    w_r = float((r - radius).abs().mean())
    w_a = w1_to_uniform(th)
    return {"radius": w_r, "angle": w_a, "total": w_r + w_a}


def c1(generated, reference, center=(0.0, 0.0), *, circular: bool = True) -> float:
    r""":math:`C_1` (003 Definition 4.1): radius and angle :math:`W_1` to a reference sample
    (the training set to measure memorisation, a held-out set to measure generalisation).

    ``circular=True`` (default) measures the angles with the :math:`W_1` of the circle
    (POT's ``wasserstein_circle``, Delon et al.'s closed form), scaled to radians. The
    literal definition (``circular=False``) takes :math:`W_1` on :math:`[0, 2\pi)`, which charges
    mass for crossing the cut at angle 0: with a training point at angle 0, as in 003 §3.2,
    a sample that has memorised the training set scores worse than a uniform one.
    """
    rg, tg = polar(generated, center)
    rs, ts = polar(reference, center)
    if not circular:
        return wasserstein_1d(rg, rs) + wasserstein_1d(tg, ts)
    import ot  # lazy: POT imports scipy.stats

    two_pi = 2 * math.pi
    u, v = (tg / two_pi).double().numpy()[:, None], (ts / two_pi).double().numpy()[:, None]
    w_ang = float(ot.wasserstein_circle(u, v, p=1)[0]) * two_pi
    return wasserstein_1d(rg, rs) + w_ang


def c2(generated, radius: float = 1.0, center=(0.0, 0.0)) -> float:
    """:math:`C_2` (003 Definition 4.2): radius :math:`W_1` to :math:`\\delta_{radius}` plus
    angle :math:`W_1` to :math:`U[0, 2\\pi)`, the law of the true circle."""
    radius = check_positive("radius", radius)
    r, th = polar(generated, center)
    return float((r - radius).abs().mean()) + w1_to_uniform(th)
