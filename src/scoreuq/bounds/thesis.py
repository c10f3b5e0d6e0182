r"""The forward- and backward-convergence results of the thesis (003), §3.5 and §5.1–5.3,
as plain-float functions of the process and data parameters.

The forward process is the Ornstein–Uhlenbeck process of 003 eq. 2.3,

.. math::

    dX_t = -\beta (X_t - \alpha)\,dt + \sigma\,dW_t, \qquad
    q = p_\infty = \mathcal N\big(\alpha, s_\infty^2 I\big), \quad s_\infty^2 = \frac{\sigma^2}{2\beta},

and a Gaussian :math:`X_0 \sim \mathcal N(\mu, \Sigma)` has the Gaussian marginal (003 App. A.2.2,
Corollary A.1)

.. math::

    p_t = \mathcal N\big(\alpha + (\mu-\alpha)e^{-\beta t},\; s_\infty^2 I + (\Sigma - s_\infty^2 I)e^{-2\beta t}\big).

Every function validates its inputs and raises ``ValueError`` naming the parameter and its
allowed range. The TV bounds are capped at 1 (a TV never exceeds 1); the backward bounds of
Chen et al. and the conjectures are order statements (":math:`\lesssim`") whose constants are
unknown, so they take those constants as an argument and are not capped.

Where the thesis prints a statement that is false we ship the corrected one; ``DEPARTURES``
lists each such place, and the printed formulas survive as private ``_printed_*`` functions so
that the tests can show their counterexamples (``tests/test_thesis_bounds.py`` checks every
bound here against the exact TV/KL, by quadrature, over a grid of parameters).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .._validation import check_in_range, check_int, check_positive

__all__ = [
    "DEPARTURES",
    "stationary_variance",
    "ou_marginal_1d",
    "forward_kl_gaussian",
    "tv_mixture_bound",
    "thm_5_1",
    "forward_tv_gaussian_1d",
    "cor_5_2",
    "cor_5_3",
    "forward_tv_mixture_1d",
    "prop_5_1",
    "forward_tv_mixture",
    "prop_5_2",
    "lemma_5_4",
    "thm_5_2",
    "forward_tv_lsi",
    "chen_kl_bound",
    "chen_tv_bound",
    "chen_kl_bound_ou",
    "chen_tv_bound_ou",
    "conj_5_1",
    "conj_5_2",
]

DEPARTURES: tuple[str, ...] = (
    "Thesis (003) Theorem 5.1 (and Corollary 5.1 it applies) bounds TV(p_t, q) for Gaussian X_0 by "
    "e^{-2βt}|V-σ²/2β|/(2 max{V_t, σ²/2β}) + e^{-βt}|E-α|/(2 max{√V_t, σ/√2β}), Devroye et al.'s (2018, Thm 1.3) "
    "bound without its factor 3. That is false: with V_t/s∞² → 0 or → ∞ the TV tends to 1 while the bound tends "
    "to 1/2 (e.g. β=1, σ=√2, X_0~N(0, 0.01), t=0.01: TV = 0.6863 > 0.4852). thm_5_1 / forward_tv_gaussian_1d put "
    "the 3 back on the variance term (and cap at 1).",
    "Thesis Corollary 5.2 prints βe^{-2βt}|V-σ²/2β|/σ² + √β e^{-βt}|E-α|/√2 'for V < σ²/2β'. It inherits the "
    "missing factor 3 and drops the 1/σ of the mean term (dimensionally wrong; e.g. β=1, σ=0.1, X_0~N(1, 0.005), "
    "t=0.1: TV = 1.0000 > 0.6398). cor_5_2 ships 3βe^{-2βt}|V-σ²/2β|/σ² + √β e^{-βt}|E-α|/(√2σ), which is "
    "Devroye's bound with the stationary law as reference and so holds for every V, not only V < σ²/2β.",
    "Thesis Corollary 5.3 (two-component 1-D mixture, Lemma 5.1 + Theorem 5.1) inherits the missing factor 3 "
    "(e.g. β=1, σ=√2, ½N(-0.2, 100)+½N(0.2, 100), t=0.01: TV = 0.7966 > 0.5049). cor_5_3 / forward_tv_mixture_1d "
    "use the corrected Theorem 5.1 per component, for any number of components and any weights.",
    "Thesis Proposition 5.1 prints e^{-βt} Σ_k (w_k/2)(Tr(Σ_k - I) + ||μ_k-α||² σ²/2β)^{1/2}. Its proof (App. A.3) "
    "uses the misprinted KL of Lemma 5.3, inverts the stationary variance in the mean term, drops 2β/σ² in the "
    "trace term and drops -log det, claiming det ≥ 1 'for β large' (false for every β, t when Σ_k < (σ²/2β) I). "
    "Consequences: the square root can be of a negative number (σ²=2β, Σ=0.5 I, μ=α); the bound fails "
    "when σ² ≠ 2β (β=1, σ=0.5, X_0~N(1, 1), t=0.1: TV = 0.6118 > 0.1600) and for σ²=2β with a small "
    "variance (β=1, σ=√2, X_0~N(1.5, 0.3), t=0.01: TV = 0.6787 > 0.6163; in 2-D X_0~N(0, diag(0.01, 3)): "
    "TV = 0.7001 > 0.4975). prop_5_1 / forward_tv_mixture "
    "ship Lemma 5.1 + Pinsker on the exact KL: e^{-βt} Σ_k (w_k/2)(Tr(Σ_k)/s∞² - d + ||μ_k-α||²/s∞² "
    "- log det(Σ_k/s∞²))^{1/2}, s∞² = σ²/2β, valid for every β, t.",
    "Thesis Lemma 5.4 prints KL(p_t||p_∞) ≤ e^{-2βCt} KL(p_0||p_∞) and Theorem 5.2 prints TV(p_t, p_∞) ≤ "
    "e^{-2βt} (KL(p_0||p_∞)/2)^{1/2}. With the LSI constant C = 2β/σ² of Proposition 5.2 the OU semigroup gives "
    "KL_t ≤ e^{-σ²Ct} KL_0 = e^{-2βt} KL_0 (exact for a mean shift), hence TV ≤ e^{-βt}(KL_0/2)^{1/2}: the printed "
    "rate e^{-4β²t/σ²} is too fast when σ² < 2β and e^{-2βt} on the square root is too fast always (β=1, σ=√2, "
    "X_0~N(1, 1), t=1: TV = 0.1459 > 0.0677; β=1, σ=0.5, X_0~N(1, 1/8), t=0.1: KL_t = 3.275 > "
    "printed 0.808). lemma_5_4 and thm_5_2 / forward_tv_lsi ship the corrected rates.",
    "Thesis Theorem 3.2 takes m2 as 'the second moment of the limiting distribution'; in Chen et al. (2023, "
    "Assumption 2) m2² = E||X_0||² is the data's second moment. chen_* and conj_* take the data's.",
    "Thesis Conjecture 5.1 (KL form, KL ≲ (L²dhβ + L²m2²h²β² + ε²)T) is false: for data N(0, 1), α=0, σ=√(2β) "
    "and the exact score, the exact path KL of the exponential-integrator scheme is 2(T/h)(βh - 1 + e^{-βh}) "
    "≈ β²hT, so KL / (conjectured bound) grows like β (β=10, h=0.01: 8.80; β=100, h=0.001: 88.0; β=1000, "
    "h=1e-4: 880) and no constant works. The sketch (App. A.5) omits the factor β of Girsanov's formula "
    "(drift error 2βΔ over diffusion 2β). conj_5_1 keeps the printed forms; chen_kl_bound_ou / chen_tv_bound_ou "
    "ship what Chen et al.'s theorems give after the time change t → βt (h → βh, T → βT): "
    "KL ≲ β(L²dhβ + L²m2²h²β² + ε²)T, TV ≲ e^{-βT}√KL_0 + (βL√(dh) + β^{3/2}Lm2h + √β ε)√T, "
    "for βh ≲ 1/L.",
    "Thesis Conjecture 5.1's second '≲' (and the discretisation term β(L√(dh) + Lm2h)√T of Conjecture 5.2) uses "
    "√β ≤ β, false for β < 1; conj_5_1(form='tv_linear') and conj_5_2 use max(β, √β), equal to the printed "
    "β for β ≥ 1.",
)


# --------------------------------------------------------------------------- validation helpers
def _real(name: str, value) -> float:
    if isinstance(value, (str, bytes, bool)):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return v


def _nonneg(name: str, value) -> float:
    v = _real(name, value)
    if v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def _time(name: str, value) -> float:
    return _nonneg(name, value)


def _process(beta, sigma) -> tuple[float, float, float]:
    beta = check_positive("beta", beta)
    sigma = check_positive("sigma", sigma)
    return beta, sigma, sigma * sigma / (2.0 * beta)


def _array(name: str, value, ndim_ok: Sequence[int]) -> np.ndarray:
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be array-like of real numbers, got {value!r}")
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be array-like of real numbers, got {value!r}") from None
    if a.ndim not in ndim_ok:
        raise ValueError(f"{name} must have {' or '.join(str(n) for n in ndim_ok)} dimension(s), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must hold finite real numbers")
    return a


def _weights(weights, K: int) -> np.ndarray:
    if weights is None:
        return np.full(K, 1.0 / K)
    w = _array("weights", weights, (0, 1)).reshape(-1)
    if w.shape != (K,):
        raise ValueError(f"weights must have shape ({K},) (one per component), got {w.shape}")
    if np.any(w < 0):
        raise ValueError("weights must lie in [0, 1]")
    if abs(float(w.sum()) - 1.0) > 1e-9:
        raise ValueError(f"weights must sum to 1 (within 1e-9), got sum {float(w.sum())!r}")
    return w


def _constants(constant, n: int) -> tuple[float, ...]:
    """One positive constant for every term, or one per term."""
    if isinstance(constant, (list, tuple, np.ndarray)):
        cs = tuple(check_positive(f"constant[{i}]", c) for i, c in enumerate(constant))
        if len(cs) != n:
            raise ValueError(f"constant must be a number > 0 or a sequence of {n} numbers > 0, got {len(cs)}")
        return cs
    c = check_positive("constant", constant)
    return (c,) * n


def _backward_args(T, h, L, d, m2, eps_score):
    T = check_positive("T", T)
    h = check_in_range("h", h, 0.0, T, low_open=True)
    L = check_in_range("L", L, 1.0, math.inf)
    if math.isinf(L):
        raise ValueError(f"L must lie in [1, inf), got {L!r}")
    d = check_int("d", d, 1)
    m2 = _nonneg("m2", m2)
    e_score = _nonneg("eps_score", eps_score)
    return T, h, L, d, m2, e_score


def _first_term(kl0, tv_forward, decay: float) -> float:
    if (kl0 is None) == (tv_forward is None):
        raise ValueError("give exactly one of kl0 (KL(p_0 || p_inf) >= 0) and tv_forward (TV(p_T, p_inf) in [0, 1])")
    if kl0 is not None:
        return decay * math.sqrt(_nonneg("kl0", kl0))
    return check_in_range("tv_forward", tv_forward, 0.0, 1.0)


# --------------------------------------------------------------------------- OU marginals
def stationary_variance(beta: float, sigma: float) -> float:
    r"""Variance :math:`s_\infty^2 = \sigma^2/(2\beta)` of the stationary law of
    :math:`dX = -\beta(X-\alpha)dt + \sigma dW` (003 App. A.2.1)."""
    return _process(beta, sigma)[2]


def _var_t(v0: float, s2: float, beta: float, t: float) -> float:
    # s2 + (v0 - s2) e^{-2 beta t}, written as a sum of two non-negative terms
    return v0 * math.exp(-2.0 * beta * t) - s2 * math.expm1(-2.0 * beta * t)


def ou_marginal_1d(alpha: float, beta: float, sigma: float, t: float, mean: float, var: float) -> tuple[float, float]:
    r"""Mean and variance of :math:`p_t` for :math:`X_0 \sim \mathcal N(\text{mean}, \text{var})`
    (003 App. A.2.2, Corollary A.1):

    .. math::

        \big(\alpha + (\mu-\alpha)e^{-\beta t},\;
        \tfrac{\sigma^2}{2\beta} + (v - \tfrac{\sigma^2}{2\beta})e^{-2\beta t}\big).

    ``var`` may be 0 (a point mass).
    """
    alpha = _real("alpha", alpha)
    beta, sigma, s2 = _process(beta, sigma)
    t = _time("t", t)
    mean = _real("mean", mean)
    var = _nonneg("var", var)
    return alpha + (mean - alpha) * math.exp(-beta * t), _var_t(var, s2, beta, t)


def _gaussian_params(means, covs):
    """means (K, d) (or (d,) for K = 1); covs (K, d, d), (K, d) diagonal, (K,) isotropic or a scalar."""
    m = _array("means", means, (1, 2))
    if m.ndim == 1:
        m = m[None, :]
    K, d = m.shape
    if K == 0 or d == 0:
        raise ValueError(f"means must have shape (K, d) with K, d >= 1, got {m.shape}")
    c = _array("covs", covs, (0, 1, 2, 3))
    if c.ndim == 0:
        S = np.broadcast_to(float(c) * np.eye(d), (K, d, d)).copy()
    elif c.ndim == 1 and c.shape == (K,):
        S = c[:, None, None] * np.eye(d)
    elif c.ndim == 2 and c.shape == (K, d):
        S = np.stack([np.diag(ci) for ci in c])
    elif c.ndim == 2 and K == 1 and c.shape == (d, d):
        S = c[None]
    elif c.ndim == 3 and c.shape == (K, d, d):
        S = c.copy()
    else:
        raise ValueError(f"covs must be a scalar or have shape ({K},), ({K}, {d}) or ({K}, {d}, {d}), got {c.shape}")
    if not np.allclose(S, np.swapaxes(S, 1, 2), rtol=1e-10, atol=1e-12):
        raise ValueError("covs must be symmetric")
    S = 0.5 * (S + np.swapaxes(S, 1, 2))
    ev = np.linalg.eigvalsh(S)
    if np.any(ev <= 0):
        raise ValueError(f"covs must be positive definite (smallest eigenvalue {float(ev.min()):g})")
    return m, S, ev


def _u_minus_log1p(u: np.ndarray) -> np.ndarray:
    """:math:`u - \\log(1+u) \\ge 0` without cancellation for small :math:`|u|` (series
    :math:`\\sum_{k\\ge2} (-u)^k/k`, 20 terms for :math:`|u| < 0.1`)."""
    u = np.asarray(u, dtype=np.float64)
    small = np.abs(u) < 0.1
    us = np.where(small, u, 0.0)
    series = sum((-us) ** k / k for k in range(2, 22))
    return np.where(small, series, u - np.log1p(np.where(small, 0.0, u)))


def _kl_to_stationary(ev_ratio: np.ndarray, mean_sq: float, x: float) -> float:
    r"""KL(p_t || q) for one Gaussian, in whitened form: eigenvalues :math:`a_i` of :math:`\Sigma/s_\infty^2`,
    :math:`\delta^2 = \|\mu-\alpha\|^2/s_\infty^2`, :math:`x = e^{-2\beta t}`:
    :math:`\tfrac12\big[\sum_i (u_i - \log(1+u_i)) + x\delta^2\big]`, :math:`u_i = x(a_i - 1)`."""
    u = x * (ev_ratio - 1.0)
    return 0.5 * (float(np.sum(_u_minus_log1p(u))) + x * mean_sq)


def forward_kl_gaussian(alpha, beta: float, sigma: float, t: float, mean, cov) -> float:
    r"""Exact :math:`\mathrm{KL}(p_t \,\|\, p_\infty)` for Gaussian data :math:`X_0 \sim \mathcal N(\mu, \Sigma)`
    (003 App. A.3 with the exact Gaussian KL instead of the misprinted Lemma 5.3):

    .. math::

        \mathrm{KL}(p_t\|p_\infty) = \tfrac12\Big[\sum_i \big(u_i - \log(1+u_i)\big)
            + e^{-2\beta t}\,\frac{\|\mu-\alpha\|^2}{s_\infty^2}\Big],
        \qquad u_i = e^{-2\beta t}\big(\lambda_i(\Sigma)/s_\infty^2 - 1\big).

    ``alpha`` is a scalar or a vector like ``mean``; ``cov`` a scalar (isotropic), a vector
    (diagonal) or a matrix. It is :math:`\le e^{-2\beta t}\,\mathrm{KL}(p_0\|p_\infty)` (Lemma 5.4 as corrected).
    """
    beta, sigma, s2 = _process(beta, sigma)
    t = _time("t", t)
    m = _array("mean", mean, (0, 1)).reshape(-1)
    d = m.size
    c = _array("cov", cov, (0, 1, 2))
    if c.ndim == 1 and c.shape != (d,) or c.ndim == 2 and c.shape != (d, d):
        raise ValueError(f"cov must be a scalar or have shape ({d},) or ({d}, {d}), got {c.shape}")
    covs = c if c.ndim == 0 else c[None]
    _, _, ev = _gaussian_params(m[None, :], covs)
    a = _array("alpha", alpha, (0, 1))
    if a.ndim == 1 and a.shape != (d,):
        raise ValueError(f"alpha must be a scalar or have shape ({d},), got {a.shape}")
    dm2 = float(np.sum((m - a) ** 2))
    return _kl_to_stationary(ev[0] / s2, dm2 / s2, math.exp(-2.0 * beta * t))


# --------------------------------------------------------------------------- Lemma 5.1
def tv_mixture_bound(weights, tvs) -> float:
    r"""Thesis (003) Lemma 5.1 (TV of a mixture; proof App. A.1), for any number of components:
    if :math:`p = \sum_k w_k p^{(k)}` with :math:`w_k \ge 0`, :math:`\sum_k w_k = 1`, then

    .. math::

        \mathrm{TV}(p, q) \le \sum_k w_k\,\mathrm{TV}(p^{(k)}, q).

    The thesis states two components with :math:`\lambda \in (0, \tfrac12)`; the triangle inequality
    gives it for every convex combination. ``tvs`` are the component distances (or bounds on them),
    each in [0, 1].
    """
    tv = _array("tvs", tvs, (0, 1)).reshape(-1)
    if np.any(tv < 0) or np.any(tv > 1):
        raise ValueError("tvs must lie in [0, 1]")
    w = _weights(weights, tv.size)
    return min(float(np.dot(w, tv)), 1.0)


# --------------------------------------------------------------------------- Theorem 5.1 and its corollaries (1-D)
def thm_5_1(alpha: float, beta: float, sigma: float, t: float, mean: float, var: float) -> float:
    r"""Thesis (003) Theorem 5.1, corrected: TV between the OU marginal of a 1-D Gaussian
    :math:`X_0 \sim \mathcal N(\mu, v)` and the stationary law :math:`q = \mathcal N(\alpha, s_\infty^2)`,
    :math:`s_\infty^2 = \sigma^2/2\beta`, :math:`v_t = s_\infty^2 + (v - s_\infty^2)e^{-2\beta t}`:

    .. math::

        \mathrm{TV}(p_t, q) \le e^{-2\beta t}\,\frac{3\,|v - s_\infty^2|}{2\max\{v_t, s_\infty^2\}}
            + e^{-\beta t}\,\frac{|\mu - \alpha|}{2\max\{\sqrt{v_t}, s_\infty\}},

    capped at 1. The thesis prints it without the factor 3 (it applies Corollary 5.1, i.e. Lemma 5.2 =
    Devroye et al. 2018, Thm 1.3, without the theorem's 3), which is false; see ``DEPARTURES``.
    It tends to 0 as :math:`t \to \infty`. ``var = 0`` (a point mass) is allowed for ``t > 0``.
    """
    alpha = _real("alpha", alpha)
    beta, sigma, s2 = _process(beta, sigma)
    t = _time("t", t)
    mean = _real("mean", mean)
    var = _nonneg("var", var)
    vt = _var_t(var, s2, beta, t)
    if vt <= 0:
        raise ValueError("var must be > 0 at t = 0 (a point mass has no density)")
    ref2 = max(vt, s2)
    b = 3.0 * math.exp(-2.0 * beta * t) * abs(var - s2) / (2.0 * ref2) + math.exp(-beta * t) * abs(mean - alpha) / (
        2.0 * math.sqrt(ref2)
    )
    return min(b, 1.0)


forward_tv_gaussian_1d = thm_5_1


def _printed_thm_5_1(alpha, beta, sigma, t, mean, var) -> float:
    """Theorem 5.1 exactly as printed (no factor 3, no cap). False: see ``DEPARTURES``."""
    s2 = sigma**2 / (2 * beta)
    vt = _var_t(var, s2, beta, t)
    ref2 = max(vt, s2)
    return math.exp(-2 * beta * t) * abs(var - s2) / (2 * ref2) + math.exp(-beta * t) * abs(mean - alpha) / (2 * math.sqrt(ref2))


def cor_5_2(alpha: float, beta: float, sigma: float, t: float, mean: float, var: float) -> float:
    r"""Thesis (003) Corollary 5.2, corrected: for a 1-D Gaussian :math:`X_0 \sim \mathcal N(\mu, v)`,

    .. math::

        \mathrm{TV}(p_t, q) \le \frac{3\beta e^{-2\beta t}\,|v - \sigma^2/2\beta|}{\sigma^2}
            + \frac{\sqrt\beta\, e^{-\beta t}\,|\mu-\alpha|}{\sqrt2\,\sigma},

    capped at 1. This is Devroye et al.'s bound with the stationary law as the reference, so it holds
    for every :math:`v` (the thesis's condition :math:`v < \sigma^2/2\beta` is where it coincides with
    Theorem 5.1; for larger :math:`v` it is looser, not 'approximate'). The thesis prints it without the
    3 and without the :math:`1/\sigma` of the mean term; both make it false (``DEPARTURES``).
    """
    alpha = _real("alpha", alpha)
    beta, sigma, s2 = _process(beta, sigma)
    t = _time("t", t)
    mean = _real("mean", mean)
    var = _nonneg("var", var)
    b = 3.0 * beta * math.exp(-2.0 * beta * t) * abs(var - s2) / sigma**2 + math.sqrt(beta) * math.exp(-beta * t) * abs(
        mean - alpha
    ) / (math.sqrt(2.0) * sigma)
    return min(b, 1.0)


def _printed_cor_5_2(alpha, beta, sigma, t, mean, var) -> float:
    """Corollary 5.2 exactly as printed (no factor 3, no 1/σ, no cap). False: see ``DEPARTURES``."""
    s2 = sigma**2 / (2 * beta)
    return beta * math.exp(-2 * beta * t) * abs(var - s2) / sigma**2 + math.sqrt(beta) * math.exp(-beta * t) * abs(
        mean - alpha
    ) / math.sqrt(2)


def _mixture_1d(means, variances, weights):
    m = _array("means", means, (0, 1)).reshape(-1)
    v = _array("variances", variances, (0, 1)).reshape(-1)
    if v.size == 1 and m.size > 1:
        v = np.full(m.size, float(v[0]))
    if v.shape != m.shape or m.size == 0:
        raise ValueError(f"variances must be a scalar or have the shape of means {m.shape}, got {v.shape}")
    if np.any(v <= 0):
        raise ValueError("variances must be > 0")
    return m, v, _weights(weights, m.size)


def cor_5_3(alpha: float, beta: float, sigma: float, t: float, means, variances, weights=None) -> float:
    r"""Thesis (003) Corollary 5.3, corrected: for a 1-D Gaussian mixture
    :math:`p_0 = \sum_k w_k \mathcal N(\mu_k, v_k)` (the thesis: two components, :math:`w = (\lambda, 1-\lambda)`),
    Lemma 5.1 with the corrected Theorem 5.1 per component,

    .. math::

        \mathrm{TV}(p_t, q) \le \sum_k w_k \min\Big\{1,\;
            e^{-2\beta t}\frac{3|v_k - s_\infty^2|}{2\max\{v_{k,t}, s_\infty^2\}}
            + e^{-\beta t}\frac{|\mu_k-\alpha|}{2\max\{\sqrt{v_{k,t}}, s_\infty\}}\Big\}.

    The printed version lacks the factor 3 and is false (``DEPARTURES``). ``weights`` default to equal.
    """
    alpha = _real("alpha", alpha)
    beta, sigma, _ = _process(beta, sigma)
    t = _time("t", t)
    m, v, w = _mixture_1d(means, variances, weights)
    tvs = [thm_5_1(alpha, beta, sigma, t, mk, vk) for mk, vk in zip(m, v)]
    return tv_mixture_bound(w, tvs)


forward_tv_mixture_1d = cor_5_3


def _printed_cor_5_3(alpha, beta, sigma, t, means, variances, weights) -> float:
    """Corollary 5.3 exactly as printed (sum of printed Theorem 5.1 terms). False: see ``DEPARTURES``."""
    return float(sum(w * _printed_thm_5_1(alpha, beta, sigma, t, m, v) for m, v, w in zip(means, variances, weights)))


# --------------------------------------------------------------------------- Proposition 5.1 (d dimensions)
def prop_5_1(alpha, beta: float, sigma: float, t: float, means, covs, weights=None, *, exact_kl: bool = False) -> float:
    r"""Thesis (003) Proposition 5.1, corrected: for a Gaussian mixture
    :math:`p_0 = \sum_k w_k \mathcal N(\mu_k, \Sigma_k)` in :math:`\mathbb R^d` and
    :math:`q = \mathcal N(\alpha, s_\infty^2 I)`, :math:`s_\infty^2 = \sigma^2/2\beta`,

    .. math::

        \mathrm{TV}(q, p_t) \le e^{-\beta t} \sum_k \frac{w_k}{2}\Big(\mathrm{Tr}\big(\Sigma_k/s_\infty^2 - I\big)
            + \frac{\|\mu_k-\alpha\|^2}{s_\infty^2} - \log\det\big(\Sigma_k/s_\infty^2\big)\Big)^{1/2}

    (each component's term capped at :math:`w_k`), for every :math:`\beta, t`. The bracket is
    :math:`2\,\mathrm{KL}(\mathcal N(\mu_k,\Sigma_k)\|q) \ge 0`; the proof is Lemma 5.1, Pinsker (Corollary 5.4
    with the exact KL) and :math:`\mathrm{KL}(p^{(k)}_t\|q) \le e^{-2\beta t}\mathrm{KL}(p^{(k)}_0\|q)`.
    ``exact_kl=True`` uses :math:`\mathrm{KL}(p^{(k)}_t\|q)` itself instead (tighter). The printed version
    (``Tr(Σ_k - I) + ||μ_k-α||² σ²/2β``, no log-det) is false; see ``DEPARTURES``.

    ``means``: ``(K, d)`` (or ``(d,)`` for one component); ``covs``: ``(K, d, d)``, ``(K, d)`` (diagonal),
    ``(K,)`` (isotropic) or a scalar; ``alpha``: scalar or ``(d,)``.
    """
    beta, sigma, s2 = _process(beta, sigma)
    t = _time("t", t)
    m, S, ev = _gaussian_params(means, covs)
    K, d = m.shape
    w = _weights(weights, K)
    a = _array("alpha", alpha, (0, 1))
    if a.ndim == 1 and a.shape != (d,):
        raise ValueError(f"alpha must be a scalar or have shape ({d},), got {a.shape}")
    if not isinstance(exact_kl, bool):
        raise ValueError(f"exact_kl must be True or False, got {exact_kl!r}")
    x = math.exp(-2.0 * beta * t)
    tvs = []
    for k in range(K):
        dm2 = float(np.sum((m[k] - a) ** 2)) / s2
        if exact_kl:
            kl = _kl_to_stationary(ev[k] / s2, dm2, x)
        else:
            kl = x * _kl_to_stationary(ev[k] / s2, dm2, 1.0)
        tvs.append(min(math.sqrt(max(kl, 0.0) / 2.0), 1.0))
    return tv_mixture_bound(w, tvs)


forward_tv_mixture = prop_5_1


def _printed_prop_5_1(alpha, beta, sigma, t, means, covs, weights) -> float:
    """Proposition 5.1 exactly as printed. Raises ValueError where the printed square root is of a negative number."""
    means = np.atleast_2d(np.asarray(means, dtype=np.float64))
    covs = np.asarray(covs, dtype=np.float64)
    d = means.shape[1]
    out = 0.0
    for mk, Sk, wk in zip(means, covs, weights):
        inner = float(np.trace(Sk - np.eye(d))) + float(np.sum((mk - alpha) ** 2)) * sigma**2 / (2 * beta)
        if inner < 0:
            raise ValueError(f"the printed Proposition 5.1 takes the square root of {inner:g} < 0")
        out += wk / 2 * math.sqrt(inner)
    return math.exp(-beta * t) * out


# --------------------------------------------------------------------------- LSI: Proposition 5.2, Lemma 5.4, Theorem 5.2
def prop_5_2(beta: float, sigma: float) -> float:
    r"""Thesis (003) Proposition 5.2 (proof App. A.4.1): the stationary law
    :math:`\mathcal N(\alpha, \frac{\sigma^2}{2\beta} I)` satisfies the log-Sobolev inequality (Definition 5.1)
    with constant :math:`C = 2\beta/\sigma^2` (it is :math:`2\beta/\sigma^2`-strongly log-concave; Bakry–Émery)."""
    beta, sigma, _ = _process(beta, sigma)
    return 2.0 * beta / sigma**2


def lemma_5_4(kl0: float, beta: float, sigma: float, t: float, lsi_constant: float | None = None) -> float:
    r"""Thesis (003) Lemma 5.4 (Vempala & Wibisono 2019), corrected: if :math:`p_\infty` satisfies the LSI
    (Definition 5.1) with constant :math:`C`, the OU process :math:`dX = -\beta(X-\alpha)dt + \sigma dW`
    (Langevin dynamics for :math:`p_\infty` run at speed :math:`\sigma^2/2`) gives

    .. math::

        \mathrm{KL}(p_t\|p_\infty) \le e^{-\sigma^2 C t}\,\mathrm{KL}(p_0\|p_\infty),

    i.e. :math:`e^{-2\beta t}` with the constant :math:`C = 2\beta/\sigma^2` of Proposition 5.2 (the default).
    The thesis prints :math:`e^{-2\beta C t}`, which is :math:`e^{-4\beta^2 t/\sigma^2}` and too fast when
    :math:`\sigma^2 < 2\beta` (``DEPARTURES``). ``lsi_constant`` may be any valid constant, i.e. in
    :math:`(0, 2\beta/\sigma^2]`; ``kl0`` is :math:`\mathrm{KL}(p_0\|p_\infty)` (finite, which needs a finite
    second moment; see the remark after Theorem 5.2).
    """
    kl0 = _nonneg("kl0", kl0)
    beta, sigma, _ = _process(beta, sigma)
    t = _time("t", t)
    cmax = 2.0 * beta / sigma**2
    C = cmax if lsi_constant is None else check_in_range("lsi_constant", lsi_constant, 0.0, cmax, low_open=True)
    return math.exp(-(sigma**2) * C * t) * kl0


def _printed_lemma_5_4(kl0, beta, sigma, t, lsi_constant=None) -> float:
    """Lemma 5.4 exactly as printed: e^{-2βCt} KL_0."""
    C = 2 * beta / sigma**2 if lsi_constant is None else lsi_constant
    return math.exp(-2 * beta * C * t) * kl0


def thm_5_2(kl0: float, beta: float, t: float) -> float:
    r"""Thesis (003) Theorem 5.2, corrected: for any :math:`p_0` with
    :math:`\mathrm{KL}(p_0\|p_\infty) < \infty` (e.g. a finite second moment and finite entropy),

    .. math::

        \mathrm{TV}(p_t, p_\infty) \le \sqrt{\mathrm{KL}(p_t\|p_\infty)/2}
            \le e^{-\beta t}\sqrt{\mathrm{KL}(p_0\|p_\infty)/2},

    capped at 1 (Pinsker, Lemma 3.1, with Lemma 5.4 and Proposition 5.2 as corrected). The rate depends on
    :math:`\beta` only, not on :math:`\sigma`. The thesis prints :math:`e^{-2\beta t}`, which is false
    (``DEPARTURES``).
    """
    kl0 = _nonneg("kl0", kl0)
    beta = check_positive("beta", beta)
    t = _time("t", t)
    return min(math.exp(-beta * t) * math.sqrt(kl0 / 2.0), 1.0)


forward_tv_lsi = thm_5_2


def _printed_thm_5_2(kl0, beta, t) -> float:
    """Theorem 5.2 exactly as printed: e^{-2βt} sqrt(KL_0/2)."""
    return math.exp(-2 * beta * t) * math.sqrt(kl0 / 2)


# --------------------------------------------------------------------------- §3.5: Chen et al. (2023)
def chen_kl_bound(T: float, h: float, L: float, d: int, m2: float, eps_score: float, *, constant=1.0) -> float:
    r"""Thesis (003) Theorem 3.2 = Chen, Chewi, Li, Li, Salim & Zhang (2023), "Sampling is as easy as
    learning the score", Theorem 9 (cited as [36]): for the OU process :math:`\beta = 1`, :math:`\alpha = 0`,
    :math:`\sigma = \sqrt2`, step :math:`h = T/N \lesssim 1/L`, :math:`L \ge 1` the Lipschitz constant of every
    score :math:`\nabla\log p_t`, :math:`m_2^2 = \mathbb E\|X_0\|^2` (the data's second moment) and
    :math:`\varepsilon_{score}` the :math:`L^2` score error,

    .. math::

        \mathrm{TV}(Q_T, Q_T^{p_T})^2 \le \mathrm{KL}(Q_T\|Q_T^{p_T})
            \lesssim (L^2 d h + L^2 m_2^2 h^2 + \varepsilon_{score}^2)\,T.

    The constant of :math:`\lesssim` is unknown: ``constant`` (a number, or one per term) multiplies the
    right-hand side; 1 is a placeholder, not a proven value. Nothing here checks :math:`h \lesssim 1/L`.
    """
    T, h, L, d, m2, e_score = _backward_args(T, h, L, d, m2, eps_score)
    c1, c2, c3 = _constants(constant, 3)
    return (c1 * L**2 * d * h + c2 * L**2 * m2**2 * h**2 + c3 * e_score**2) * T


def chen_tv_bound(
    T: float, h: float, L: float, d: int, m2: float, eps_score: float, *, kl0=None, tv_forward=None, constant=1.0
) -> float:
    r"""Thesis (003) Theorem 3.3 = Chen et al. (2023), Theorem 2 (DDPM, :math:`\beta = 1`, :math:`\sigma = \sqrt2`,
    :math:`p_\infty = \mathcal N(0, I_d)`), under the assumptions of :func:`chen_kl_bound`:

    .. math::

        \mathrm{TV}(q_T, p_0) \lesssim \underbrace{\sqrt{\mathrm{KL}(p_0\|p_\infty)}\,e^{-T}}_{\text{forward}}
            + \underbrace{(L\sqrt{dh} + L m_2 h)\sqrt T}_{\text{discretisation}}
            + \underbrace{\varepsilon_{score}\sqrt T}_{\text{score}}.

    Give ``kl0`` = :math:`\mathrm{KL}(p_0\|p_\infty)` for Chen et al.'s first term, or ``tv_forward`` =
    :math:`\mathrm{TV}(p_T, p_\infty)` for the thesis's form (eq. 3.2; it is
    :math:`\le e^{-T}\sqrt{\mathrm{KL}/2}` by Theorem 5.2). The constants are unknown: ``constant`` (a number,
    or one per term: forward, discretisation, score) multiplies the terms; the result is an order, not a
    certified bound, and is not capped.
    """
    T, h, L, d, m2, e_score = _backward_args(T, h, L, d, m2, eps_score)
    c1, c2, c3 = _constants(constant, 3)
    first = _first_term(kl0, tv_forward, math.exp(-T))
    return c1 * first + c2 * (L * math.sqrt(d * h) + L * m2 * h) * math.sqrt(T) + c3 * e_score * math.sqrt(T)


def chen_kl_bound_ou(
    beta: float, T: float, h: float, L: float, d: int, m2: float, eps_score: float, *, constant=1.0
) -> float:
    r"""What Chen et al. (2023) Theorem 9 gives for the thesis's general process
    :math:`dX = -\beta X dt + \sqrt{2\beta}\,dW` (003 §5.2.1): the time change :math:`t \to \beta t` turns it into
    the :math:`\beta = 1` process with step :math:`\beta h` and horizon :math:`\beta T` (same scores, same
    :math:`L`, :math:`m_2`, :math:`\varepsilon_{score}`), so, for :math:`\beta h \lesssim 1/L`,

    .. math::

        \mathrm{KL}(Q_T\|Q_T^{p_T}) \lesssim \beta\,(L^2 d h\beta + L^2 m_2^2 h^2\beta^2 + \varepsilon_{score}^2)\,T.

    This is the corrected form of Conjecture 5.1 (KL form), which lacks the leading :math:`\beta` and is
    false (``DEPARTURES``). ``constant`` as in :func:`chen_kl_bound`.
    """
    beta = check_positive("beta", beta)
    T, h, L, d, m2, e_score = _backward_args(T, h, L, d, m2, eps_score)
    c1, c2, c3 = _constants(constant, 3)
    return beta * (c1 * L**2 * d * h * beta + c2 * L**2 * m2**2 * h**2 * beta**2 + c3 * e_score**2) * T


def chen_tv_bound_ou(
    beta: float,
    T: float,
    h: float,
    L: float,
    d: int,
    m2: float,
    eps_score: float,
    *,
    kl0=None,
    tv_forward=None,
    constant=1.0,
) -> float:
    r"""What Chen et al. (2023) Theorem 2 gives for :math:`dX = -\beta X dt + \sqrt{2\beta}\,dW` by the time
    change :math:`t \to \beta t` (see :func:`chen_kl_bound_ou`), for :math:`\beta h \lesssim 1/L`:

    .. math::

        \mathrm{TV}(q_T, p_0) \lesssim e^{-\beta T}\sqrt{\mathrm{KL}(p_0\|p_\infty)}
            + \big(\beta L\sqrt{dh} + \beta^{3/2} L m_2 h\big)\sqrt T + \sqrt\beta\,\varepsilon_{score}\sqrt T.

    The corrected form of Conjecture 5.2 (whose discretisation term :math:`\beta(L\sqrt{dh} + Lm_2h)\sqrt T`
    and score term :math:`\varepsilon\sqrt T` do not follow from Chen et al.; ``DEPARTURES``). ``kl0`` /
    ``tv_forward`` and ``constant`` as in :func:`chen_tv_bound`.
    """
    beta = check_positive("beta", beta)
    T, h, L, d, m2, e_score = _backward_args(T, h, L, d, m2, eps_score)
    c1, c2, c3 = _constants(constant, 3)
    first = _first_term(kl0, tv_forward, math.exp(-beta * T))
    disc = (beta * L * math.sqrt(d * h) + beta**1.5 * L * m2 * h) * math.sqrt(T)
    return c1 * first + c2 * disc + c3 * math.sqrt(beta) * e_score * math.sqrt(T)


# --------------------------------------------------------------------------- Conjectures 5.1 and 5.2
def conj_5_1(
    beta: float, T: float, h: float, L: float, d: int, m2: float, eps_score: float, *, form: str = "tv", constant=1.0
) -> float:
    r"""Thesis (003) Conjecture 5.1 (sketch in App. A.5), as stated, for
    :math:`dX = -\beta X dt + \sqrt{2\beta}\,dW` under the assumptions of Theorem 3.2:

    * ``form="kl"``: :math:`\mathrm{KL}(Q_T\|Q_T^{p_T}) \lesssim (L^2 dh\beta + L^2 m_2^2 h^2\beta^2 + \varepsilon^2)\,T`;
    * ``form="tv"``: :math:`\mathrm{TV}(Q_T, Q_T^{p_T}) \lesssim (L\sqrt{dh}\sqrt\beta + \beta L m_2 h + \varepsilon)\sqrt T`;
    * ``form="tv_linear"``: :math:`\lesssim \max(\beta, \sqrt\beta)\,(L\sqrt{dh} + L m_2 h)\sqrt T + \varepsilon_{score}\sqrt T`
      (the thesis prints :math:`\beta`, which bounds the ``"tv"`` form only for :math:`\beta \ge 1`);
      :math:`\varepsilon = \varepsilon_{score}` throughout.

    A conjecture: the constants are unknown (``constant``: a number, or one per term). The KL form is
    false (the exact path KL for Gaussian data grows like :math:`\beta^2 h T`, a factor :math:`\beta` above it;
    ``DEPARTURES``); :func:`chen_kl_bound_ou` and :func:`chen_tv_bound_ou` give what is proved.
    """
    beta = check_positive("beta", beta)
    T, h, L, d, m2, e_score = _backward_args(T, h, L, d, m2, eps_score)
    c1, c2, c3 = _constants(constant, 3)
    if form == "kl":
        return (c1 * L**2 * d * h * beta + c2 * L**2 * m2**2 * h**2 * beta**2 + c3 * e_score**2) * T
    if form == "tv":
        return (c1 * L * math.sqrt(d * h) * math.sqrt(beta) + c2 * beta * L * m2 * h + c3 * e_score) * math.sqrt(T)
    if form == "tv_linear":
        b = max(beta, math.sqrt(beta))
        return b * (c1 * L * math.sqrt(d * h) + c2 * L * m2 * h) * math.sqrt(T) + c3 * e_score * math.sqrt(T)
    raise ValueError(f"form must be one of 'kl', 'tv', 'tv_linear', got {form!r}")


def conj_5_2(
    beta: float, T: float, h: float, L: float, d: int, m2: float, eps_score: float, kl0: float, *, constant=1.0
) -> float:
    r"""Thesis (003) Conjecture 5.2, as stated (with :math:`\max(\beta,\sqrt\beta)` for :math:`\beta`, equal for
    :math:`\beta \ge 1`): for :math:`dX = -\beta X dt + \sqrt{2\beta}\,dW`, under the assumptions of Theorem 3.2,

    .. math::

        \mathrm{TV}(q_T, p_0) \lesssim e^{-\beta T}\sqrt{\mathrm{KL}(p_0\|p_\infty)}
            + \beta\,(L\sqrt{dh} + L m_2 h)\sqrt T + \varepsilon_{score}\sqrt T.

    The forward term follows from Theorem 5.2 (as corrected; the thesis's own Theorem 5.2 would give
    :math:`e^{-2\beta T}`). The rest rests on Conjecture 5.1, whose KL form is false; the time-changed
    theorem of Chen et al. gives :func:`chen_tv_bound_ou` instead. Constants unknown (``constant``: a number,
    or one per term). The forward term falls and the discretisation term grows with :math:`\beta`, so for a
    large enough :math:`\mathrm{KL}(p_0\|p_\infty)` the sum has an interior minimum in :math:`\beta` (the
    thesis's trade-off, §5.3).
    """
    beta = check_positive("beta", beta)
    T, h, L, d, m2, e_score = _backward_args(T, h, L, d, m2, eps_score)
    kl0 = _nonneg("kl0", kl0)
    c1, c2, c3 = _constants(constant, 3)
    b = max(beta, math.sqrt(beta))
    return (
        c1 * math.exp(-beta * T) * math.sqrt(kl0)
        + c2 * b * (L * math.sqrt(d * h) + L * m2 * h) * math.sqrt(T)
        + c3 * e_score * math.sqrt(T)
    )
