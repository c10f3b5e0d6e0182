r"""Closed forms between Gaussian laws: KL, :math:`W_2`, 1-D :math:`W_1`, and the
total-variation bounds of thesis (003) Lemma 5.2 / Corollary 5.1 and Corollary 5.4.

Corrections to the seed (the tests check each against numerical integration):

* 003 Lemma 5.2 quotes Devroye, Mehrabian & Reddad (2018), Theorem 1.3, without its
  factor 3. The theorem reads
  :math:`\mathrm{TV} \le \frac{3|\sigma_1^2-\sigma_2^2|}{2\sigma_1^2} + \frac{|\mu_1-\mu_2|}{2\sigma_1}`;
  without the 3 the bound fails, e.g. for :math:`\sigma_2 \to 0` (TV :math:`\to 1`, bound
  :math:`\to 1/2`). :func:`tv_bound_gaussian_1d` uses the theorem.
* 003 Lemma 5.3 misplaces the inverse and the 1/2 of the Gaussian KL. We use the exact
  :math:`\mathrm{KL}(\mathcal N_1\|\mathcal N_2) = \tfrac12\big[\mathrm{tr}(\Sigma_2^{-1}\Sigma_1) - n
  + (\mu_2-\mu_1)^\top\Sigma_2^{-1}(\mu_2-\mu_1) + \log\frac{\det\Sigma_2}{\det\Sigma_1}\big]`,
  and Corollary 5.4 becomes Pinsker's :math:`\mathrm{TV} \le \sqrt{\mathrm{KL}/2}`.
"""
from __future__ import annotations

import math

import torch

from .._validation import check_finite, check_positive

__all__ = [
    "kl_gaussian",
    "w2_gaussian",
    "w1_gaussian_1d",
    "tv_bound_gaussian_1d",
    "tv_bound_gaussian",
]


def _mean_cov(m, S):
    m = torch.as_tensor(m, dtype=torch.float64).flatten()
    S = torch.as_tensor(S, dtype=torch.float64)
    d = m.numel()
    if S.ndim == 0:
        S = S * torch.eye(d, dtype=torch.float64)
    elif S.ndim == 1:
        S = torch.diag(S)
    if S.shape != (d, d):
        raise ValueError(f"covariance must have shape ({d}, {d}), got {tuple(S.shape)}")
    check_finite("mean", m)
    check_finite("covariance", S)
    return m, 0.5 * (S + S.T)


def _check_pd(name, S):
    ev = torch.linalg.eigvalsh(S)
    if not bool((ev > 0).all()):
        raise ValueError(f"{name} must be positive definite (smallest eigenvalue {float(ev.min()):g})")


def kl_gaussian(m1, S1, m2, S2) -> float:
    r""":math:`\mathrm{KL}(\mathcal N(m_1,S_1)\,\|\,\mathcal N(m_2,S_2))` in nats.

    ``S`` may be a full matrix, a vector of variances (diagonal) or a scalar variance.
    """
    m1, S1 = _mean_cov(m1, S1)
    m2, S2 = _mean_cov(m2, S2)
    if m1.shape != m2.shape:
        raise ValueError("the two means must have the same dimension")
    _check_pd("S1", S1)
    _check_pd("S2", S2)
    d = m1.numel()
    L2 = torch.linalg.cholesky(S2)
    dm = (m2 - m1)[:, None]
    sol = torch.cholesky_solve(torch.cat([S1, dm], 1), L2)
    tr = torch.trace(sol[:, :d])
    quad = float((dm * sol[:, d:]).sum())
    logdet = float(torch.logdet(S2) - torch.logdet(S1))
    return 0.5 * (float(tr) - d + quad + logdet)


def _sqrtm_psd(S):
    ev, U = torch.linalg.eigh(S)
    return (U * ev.clamp_min(0).sqrt()) @ U.T


def w2_gaussian(m1, S1, m2, S2) -> float:
    r""":math:`W_2` between Gaussians (the Bures–Wasserstein formula):

    .. math::

        W_2^2 = \|m_1 - m_2\|^2 + \mathrm{tr}\big(S_1 + S_2 - 2(S_2^{1/2} S_1 S_2^{1/2})^{1/2}\big).
    """
    m1, S1 = _mean_cov(m1, S1)
    m2, S2 = _mean_cov(m2, S2)
    if m1.shape != m2.shape:
        raise ValueError("the two means must have the same dimension")
    r2 = _sqrtm_psd(S2)
    cross = _sqrtm_psd(r2 @ S1 @ r2)
    w2sq = float(((m1 - m2) ** 2).sum() + torch.trace(S1 + S2 - 2 * cross))
    return math.sqrt(max(w2sq, 0.0))


def w1_gaussian_1d(mu1: float, s1: float, mu2: float, s2: float) -> float:
    r"""Exact :math:`W_1(\mathcal N(\mu_1,s_1^2), \mathcal N(\mu_2,s_2^2))` by the quantile integral:
    the monotone coupling gives :math:`\mathbb E|\Delta\mu + (s_1-s_2)Z|`, the mean of a folded normal,

    .. math::

        W_1 = |\Delta s|\sqrt{2/\pi}\,e^{-\Delta\mu^2/2\Delta s^2} + \Delta\mu\,\big(1 - 2\Phi(-\Delta\mu/|\Delta s|)\big).
    """
    s1 = check_positive("s1", s1)
    s2 = check_positive("s2", s2)
    dm, ds = float(mu1) - float(mu2), abs(s1 - s2)
    if ds == 0:
        return abs(dm)
    phi = 0.5 * math.erfc((dm / ds) / math.sqrt(2))  # Phi(-dm/ds)
    return ds * math.sqrt(2 / math.pi) * math.exp(-(dm**2) / (2 * ds**2)) + dm * (1 - 2 * phi)


def tv_bound_gaussian_1d(mu1: float, s1: float, mu2: float, s2: float) -> float:
    r"""Upper bound on :math:`\mathrm{TV}(\mathcal N(\mu_1,s_1^2), \mathcal N(\mu_2,s_2^2))`:
    Devroye et al. (2018) Theorem 1.3 (thesis (003) Lemma 5.2, with the theorem's factor 3),
    symmetrised as in 003 Corollary 5.1 by taking the larger standard deviation as reference:

    .. math::

        \mathrm{TV} \le \frac{3|s_1^2 - s_2^2|}{2\max(s_1^2, s_2^2)} + \frac{|\mu_1-\mu_2|}{2\max(s_1, s_2)},

    capped at 1.
    """
    s1 = check_positive("s1", s1)
    s2 = check_positive("s2", s2)
    smax = max(s1, s2)
    b = 3 * abs(s1**2 - s2**2) / (2 * smax**2) + abs(float(mu1) - float(mu2)) / (2 * smax)
    return min(b, 1.0)


def tv_bound_gaussian(m1, S1, m2, S2) -> float:
    r"""Pinsker's bound :math:`\mathrm{TV} \le \sqrt{\mathrm{KL}(\mathcal N_1\|\mathcal N_2)/2}`, capped at 1
    (thesis (003) Corollary 5.4, with the exact KL; see the module note)."""
    return min(math.sqrt(max(kl_gaussian(m1, S1, m2, S2), 0.0) / 2), 1.0)
