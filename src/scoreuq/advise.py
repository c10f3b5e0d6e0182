r"""Choose the rate :math:`\beta` of the Ornstein–Uhlenbeck forward process for a data set.

The forward process is :math:`dX_t = -\beta(X_t - \alpha)\,dt + \sqrt{2\beta}\,dW_t` on
:math:`[0, T]` (stationary law :math:`q = \mathcal N(\alpha, I)`, 003 §2.3.2), sampled backwards by
Euler–Maruyama with ``steps`` steps of :math:`h = T/\text{steps}`. A larger :math:`\beta` makes
:math:`p_T` closer to :math:`q` (003 §5.1) but costs more discretisation error (003 Conjecture 5.1:
linear in :math:`\beta h`). :func:`advise_beta` returns the smallest :math:`\beta` whose *proved*
forward error is at most ``tol``, its discretisation cost, and the table over a :math:`\beta` grid.

Forward error — statements used (all exact or proved, none fitted):

1. **Synchronous coupling** (true for every law with a finite second moment). Couple
   :math:`X_0 \sim p_0` optimally with :math:`Y_0 \sim q` and drive both by the same Brownian
   motion: :math:`X_T - Y_T = e^{-\beta T}(X_0 - Y_0)` and :math:`Y_T \sim q`, so
   :math:`W_2(p_T, q) \le e^{-\beta T} W_2(p_0, q)`.
2. **Initial distance**, an upper bound by the independent coupling,
   :math:`W_2^2(p_0, q) \le \mathbb E|X_0-\alpha|^2 + d` (tighter than the triangle inequality via
   :math:`\delta_\alpha`, :math:`\sqrt{\mathbb E|X_0-\alpha|^2} + \sqrt d`). In one dimension the
   data's empirical law is compared with :math:`\mathcal N(\alpha, 1)` exactly by the quantile
   integral (:func:`empirical_gaussian_w2_1d`), which is never larger.
3. **Lower bound** (Gelbrich): any law with mean :math:`m` and covariance :math:`\Sigma` is at least
   the Gaussian :math:`W_2` of those moments from :math:`q`. :math:`p_T` has mean
   :math:`\alpha + e^{-\beta T}(m - \alpha)` and covariance :math:`e^{-2\beta T}\Sigma + (1-e^{-2\beta T})I`
   exactly, so the bound is exact at every :math:`\beta`; below ``beta_lower`` no law with these
   moments can meet ``tol``. For Gaussian data it *is* :math:`W_2(p_T, q)`.
4. **KL/TV** (003 Theorem 5.2, where the data law has a density): :math:`q` satisfies the LSI with
   constant 1, so :math:`\mathrm{KL}(p_T\|q) \le e^{-2\beta T}\mathrm{KL}(p_0\|q)` and by Pinsker
   :math:`\mathrm{TV}(p_T, q) \le e^{-\beta T}\sqrt{\mathrm{KL}(p_0\|q)/2}` (the thesis prints
   :math:`e^{-2\beta t}` after the square root, a slip). It is vacuous for an empirical law (KL is
   infinite), so it is reported only when the data is a distribution object with ``log_prob``; KL is
   then a Monte-Carlo estimate.

Since :math:`W_1 \le W_2`, the advice is also conservative for :math:`W_1`, the metric of 003 Fig. 5.1.

Discretisation cost — exactly computable proxies:

- ``em_stationary_w2``: Euler–Maruyama on the forward OU with step :math:`h`,
  :math:`x' = x - \beta h(x-\alpha) + \sqrt{2\beta h}\,z`, has the stationary law
  :math:`\mathcal N(\alpha, v I)` with :math:`v = 2\beta h / (1-(1-\beta h)^2) = 1/(1-\beta h/2)`
  when stable (:math:`0 < \beta h < 2`); the proxy is :math:`W_2 = \sqrt d\,|\sqrt v - 1|
  \approx \sqrt d\,\beta h/4`, linear in :math:`\beta` as Conjecture 5.1 says.
- ``em_reverse_w2``: the exact :math:`W_2` error of the library's reverse-SDE sampler
  (:func:`scoreuq.sampling.euler_maruyama`: same grid, exact score, last step without noise) on the
  *Gaussian surrogate* :math:`\mathcal N(m, \Sigma)` of the data, started at its exact :math:`p_T`
  and compared with its :math:`p_{t_{\min}}`: every step is affine, so means and variances follow
  closed recursions per eigen-direction of :math:`\Sigma`.

The thesis's empirical rule (003 §5.1.1, 1-D mixtures, :math:`T = 1`, :math:`W_1 < 0.05`) is
:math:`\beta \approx 0.95\ln(\mu - \alpha)`; it is shown beside the advice.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ._validation import check_int, check_positive
from .runs import RunConfig, build_data, load_config

__all__ = [
    "BetaAdvice",
    "advise_beta",
    "advise_beta_from_config",
    "gaussian_w2",
    "empirical_gaussian_w2_1d",
    "em_stationary_variance",
    "em_stationary_w2",
    "em_reverse_gaussian_w2",
    "forward_moments",
]

#: 003 §5.1.1: fitted slope of the smallest beta against ln(mu - alpha) (1-D mixtures, T = 1, W1 < 0.05)
THESIS_SLOPE = 2.19283 / math.log(10.0)


# ============================================================ exact pieces
def gaussian_w2(m1, S1, m2, S2) -> float:
    r"""Exact :math:`W_2(\mathcal N(m_1, S_1), \mathcal N(m_2, S_2))` (covariances PSD, float64):
    :math:`|m_1-m_2|^2 + \mathrm{tr}(S_1 + S_2 - 2(S_2^{1/2} S_1 S_2^{1/2})^{1/2})`."""
    m1, m2 = (torch.as_tensor(v, dtype=torch.float64).reshape(-1) for v in (m1, m2))
    S1, S2 = (torch.as_tensor(v, dtype=torch.float64) for v in (S1, S2))
    d = m1.numel()
    S1, S2 = S1.reshape(d, d), S2.reshape(d, d)

    def sqrtm(A):
        ev, U = torch.linalg.eigh(0.5 * (A + A.T))
        return (U * ev.clamp_min(0).sqrt()) @ U.T

    r2 = sqrtm(S2)
    cross = sqrtm(r2 @ S1 @ r2)
    w2sq = float(((m1 - m2) ** 2).sum() + torch.trace(S1) + torch.trace(S2) - 2 * torch.trace(cross))
    return math.sqrt(max(w2sq, 0.0))


def empirical_gaussian_w2_1d(x, alpha: float = 0.0) -> float:
    r"""Exact :math:`W_2` between the empirical law of the 1-D sample ``x`` and :math:`\mathcal N(\alpha, 1)`.

    With :math:`\tilde x_{(i)} = x_{(i)} - \alpha` sorted and :math:`z_i = \Phi^{-1}(i/n)`, the quantile
    integral :math:`\int_0^1 (F^{-1}(u) - \Phi^{-1}(u))^2 du` is, piece by piece,

    .. math:: W_2^2 = \frac1n\sum_i \tilde x_{(i)}^2 - 2\sum_i \tilde x_{(i)}\big(\varphi(z_{i-1}) - \varphi(z_i)\big) + 1 .
    """
    from scipy.special import ndtri  # lazy: importing scoreuq must not load scipy (0.4 s)

    x = np.sort(np.asarray(torch.as_tensor(x, dtype=torch.float64).reshape(-1)) - float(alpha))
    n = x.size
    z = ndtri(np.arange(0, n + 1) / n)  # -inf, ..., +inf
    phi = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)  # 0 at +-inf
    w2sq = float(np.mean(x**2) - 2 * np.sum(x * (phi[:-1] - phi[1:])) + 1.0)
    return math.sqrt(max(w2sq, 0.0))


def forward_moments(m, evals, beta: float, t: float, alpha) -> tuple:
    """Mean offset from alpha and covariance eigenvalues of p_t for data with mean m and covariance
    eigenvalues ``evals`` under the OU process with sigma = sqrt(2 beta): ``(e^{-bt}(m-alpha), e^{-2bt} evals + 1 - e^{-2bt})``."""
    a = math.exp(-beta * t)
    off = a * (torch.as_tensor(m, dtype=torch.float64) - torch.as_tensor(alpha, dtype=torch.float64))
    return off, a * a * torch.as_tensor(evals, dtype=torch.float64) + (1 - a * a)


def em_stationary_variance(beta: float, h: float) -> float:
    r"""Stationary variance of Euler–Maruyama on the OU process with :math:`\sigma = \sqrt{2\beta}`:
    :math:`2\beta h/(1-(1-\beta h)^2) = 1/(1-\beta h/2)` for :math:`0 < \beta h < 2`; ``inf`` otherwise (unstable)."""
    bh = beta * h
    if not 0 < bh < 2:
        return math.inf
    return 1.0 / (1.0 - bh / 2.0)


def em_stationary_w2(beta: float, h: float, d: int = 1) -> float:
    r""":math:`W_2(\mathcal N(\alpha, vI), \mathcal N(\alpha, I)) = \sqrt d\,|\sqrt v - 1|` with :math:`v` of
    :func:`em_stationary_variance`; ``inf`` when the step is unstable."""
    v = em_stationary_variance(beta, h)
    return math.inf if math.isinf(v) else math.sqrt(d) * abs(math.sqrt(v) - 1.0)


def em_reverse_gaussian_w2(m, evals, beta: float, T: float, steps: int, t_min: float, alpha=0.0, denoise: bool = True) -> float:
    r"""Exact :math:`W_2` between the output of Euler–Maruyama on the reverse SDE (exact score, the grid of
    :func:`scoreuq.sampling.euler_maruyama`) and :math:`p_{t_{\min}}`, for data :math:`\mathcal N(m, \Sigma)`
    given in the eigenbasis of :math:`\Sigma` (``m`` as coordinates, ``evals`` its eigenvalues), started at
    the exact :math:`p_T`. Returns ``inf`` if the recursion overflows."""
    return float(_em_reverse_many(m, evals, [beta], T, steps, t_min, alpha, denoise)[0])


def _em_reverse_many(m, evals, betas, T, steps, t_min, alpha=0.0, denoise=True) -> np.ndarray:
    """:func:`em_reverse_gaussian_w2` for several betas at once (one pass over the grid)."""
    mu0 = np.asarray(torch.as_tensor(m, dtype=torch.float64).reshape(-1)) - np.asarray(
        torch.as_tensor(alpha, dtype=torch.float64).reshape(-1))
    lam = np.asarray(torch.as_tensor(evals, dtype=torch.float64).reshape(-1))[None, :]
    b = np.asarray(betas, dtype=np.float64).reshape(-1, 1)
    ts = np.asarray(torch.linspace(T, t_min, steps + 1, dtype=torch.float64))  # the sampler's grid, bit for bit

    def marg(t):
        a2 = np.exp(-2 * b * t)
        return np.sqrt(a2) * mu0[None, :], a2 * lam + (1 - a2)

    mean, var = marg(float(ts[0]))
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps):
            t, h = float(ts[k]), float(ts[k] - ts[k + 1])
            mt, vt = marg(t)
            A = 1 + b * h - 2 * b * h / vt
            mean = A * mean + 2 * b * h * mt / vt
            var = A * A * var + (0.0 if (denoise and k == steps - 1) else 2 * b * h)
        mt, vt = marg(float(ts[-1]))
        w2sq = np.sum((mean - mt) ** 2, 1) + np.sum((np.sqrt(np.maximum(var, 0)) - np.sqrt(vt)) ** 2, 1)
    return np.where(np.isfinite(w2sq), np.sqrt(np.where(np.isfinite(w2sq), w2sq, 0.0)), np.inf)


# ============================================================ the advice
@dataclass
class BetaAdvice:
    """What :func:`advise_beta` found; ``str(advice)`` is a Markdown summary."""

    recommended: float
    beta_min_forward: float
    beta_lower: float
    beta_tv: float | None
    beta_thesis_rule: float | None
    tol: float
    T: float
    steps: int
    dt: float
    t_min: float
    dim: int
    n: int
    alpha: list
    radius: float
    rms_radius: float
    diameter: float | None
    covariance_trace: float
    mean_offset: float
    w2_initial_upper: float
    w2_initial_method: str
    kl_initial: float | None
    forward_w2_upper: float
    em_stationary_w2: float
    em_reverse_w2: float
    steps_for_tol: int
    reverse_steps_for_tol: int
    table: list = field(default_factory=list)
    reasons: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        L = [f"# β advice: recommended β = {self.recommended:.3f}", ""]
        L.append(f"OU forward process, α = {self._alpha_txt()}, σ = √(2β), T = {self.T:g}, {self.steps} steps "
                 f"(Δt = {self.dt:.4g}), tolerance {self.tol:g} in W2 (hence in W1).")
        L.append("")
        L.append("| quantity | value |")
        L.append("|---|---|")
        rows = [
            ("data", f"n = {self.n}, d = {self.dim}"),
            ("radius max‖x−α‖ (003's 'diameter')", f"{self.radius:.4g}"),
            ("rms radius √E‖x−α‖²", f"{self.rms_radius:.4g}"),
            ("diameter max‖x−y‖", "—" if self.diameter is None else f"{self.diameter:.4g}"),
            ("trace of the covariance", f"{self.covariance_trace:.4g}"),
            ("‖mean − α‖", f"{self.mean_offset:.4g}"),
            ("W2(p0, N(α,I)) upper bound", f"{self.w2_initial_upper:.4g} ({self.w2_initial_method})"),
            ("β: smallest with the W2 bound ≤ tol (recommended)", f"{self.beta_min_forward:.3f}"),
            ("β: below this no law with these moments meets tol", f"{self.beta_lower:.3f}"),
            ("β: KL/TV bound ≤ tol (003 Thm 5.2)", "—" if self.beta_tv is None else f"{self.beta_tv:.3f}"),
            ("β: thesis rule 0.95 ln(radius) (1-D, T=1)", "—" if self.beta_thesis_rule is None else f"{self.beta_thesis_rule:.3f}"),
            ("at recommended β: forward W2 bound", f"{self.forward_w2_upper:.4g}"),
            ("at recommended β: βΔt (stable < 2)", f"{self.recommended * self.dt:.4g}"),
            ("at recommended β: EM stationary W2 proxy", f"{self.em_stationary_w2:.4g}"),
            ("at recommended β: reverse-EM W2 (Gaussian surrogate)", f"{self.em_reverse_w2:.4g}"),
            ("steps for the EM stationary proxy ≤ tol", f"{self.steps_for_tol}"),
            ("steps for the reverse-EM W2 ≤ tol (first-order estimate)", f"{self.reverse_steps_for_tol}"),
        ]
        L += [f"| {a} | {b} |" for a, b in rows]
        L += ["", "## Reasons", ""] + [f"- {r}" for r in self.reasons]
        L += ["", "## Table", "", "| β | βΔt | W2 bound | W2 lower | TV bound | EM stat. W2 | reverse-EM W2 |", "|---|---|---|---|---|---|---|"]

        def f(v):
            return "—" if v is None else (f"{v:.3g}" if math.isfinite(v) else "∞")

        for r in self.table:
            mark = " **←**" if r["beta"] == self.recommended else ""
            L.append(f"| {r['beta']:.3f}{mark} | {r['beta_dt']:.3g} | {f(r['forward_w2_upper'])} | {f(r['forward_w2_lower'])} | "
                     f"{f(r['tv_bound'])} | {f(r['em_stationary_w2'])} | {f(r['em_reverse_w2'])} |")
        return "\n".join(L)

    def _alpha_txt(self) -> str:
        a = self.alpha
        if len(a) <= 4:
            return "(" + ", ".join(f"{v:g}" for v in a) + ")" if len(a) > 1 else f"{a[0]:g}"
        return f"vector of {len(a)}" if len(set(a)) > 1 else f"{a[0]:g}·1"


def _check_data(data, n_samples: int, seed: int):
    """(samples (n, d) float64, distribution object or None)."""
    dist = None
    if hasattr(data, "sample") and not torch.is_tensor(data) and not isinstance(data, np.ndarray):
        dist = data
        check_int("n_samples", n_samples, 2)
        x = data.sample(n_samples, generator=torch.Generator().manual_seed(int(seed)), dtype=torch.float64)
    else:
        try:
            x = torch.as_tensor(np.asarray(data) if not torch.is_tensor(data) else data)
        except Exception:
            raise ValueError(f"data must be an array of samples (n, d) or an object with .sample, got {type(data).__name__}") from None
    if not x.is_floating_point():
        x = x.double()
    x = x.detach().to("cpu", torch.float64)
    if x.ndim == 1:
        x = x[:, None]
    elif x.ndim > 2:
        x = x.flatten(1)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"data must hold at least one sample of shape (n, d), got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("data contains NaN or infinite values")
    return x, dist


def _diameter(x: torch.Tensor, max_n: int = 20000) -> tuple:
    """Exact max pairwise distance for n <= max_n (chunked), else that of the first max_n points (a lower bound)."""
    exact = x.shape[0] <= max_n
    y = x[:max_n]
    if y.shape[1] == 1:
        return float(y.max() - y.min()), exact
    best = 0.0
    for i in range(0, y.shape[0], 2048):
        best = max(best, float(torch.cdist(y[i : i + 2048], y).max()))
    return best, exact


def _solve_decreasing(f, lo: float, hi: float, level: float, iters: int = 100) -> float:
    """Smallest x in [lo, hi] with f(x) <= level for a non-increasing f (lo if f(lo) <= level, inf if none)."""
    if f(lo) <= level:
        return lo
    if f(hi) > level:
        return math.inf
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if f(mid) <= level:
            hi = mid
        else:
            lo = mid
    return hi


def advise_beta(
    data,
    *,
    steps: int = 500,
    T: float = 1.0,
    tol: float = 0.05,
    alpha=0.0,
    beta_range: tuple = (0.1, 50.0),
    t_min: float = 1e-3,
    grid: int = 30,
    n_samples: int = 10_000,
    n_kl: int = 20_000,
    seed: int = 0,
) -> BetaAdvice:
    r"""Advise the OU rate :math:`\beta` (with :math:`\sigma = \sqrt{2\beta}`) for ``data`` (module docstring).

    Parameters
    ----------
    data : tensor or array ``(n, d)`` (``(n,)`` is 1-D; images are flattened), or a distribution with
        ``.sample(n, generator=, dtype=)`` (then ``n_samples`` are drawn with ``seed``; its exact
        ``mean()``/``covariance()`` and ``log_prob`` are used when it has them).
    steps, T, t_min : the sampler's grid (``steps`` Euler–Maruyama steps from ``T`` down to ``t_min``).
    tol : forward tolerance on :math:`W_2(p_T, \mathcal N(\alpha, I))`.
    alpha : the stationary mean (scalar or ``(d,)``).
    beta_range : ``(low, high)`` searched; ``grid`` geometric levels for the table.

    Returns a :class:`BetaAdvice`; raises :class:`ValueError` naming the parameter for bad input, when
    no :math:`\beta` in ``beta_range`` meets ``tol``, or when the recommended :math:`\beta` makes the
    Euler–Maruyama step unstable (:math:`\beta\Delta t \ge 2`).
    """
    tol = check_positive("tol", tol)
    steps = check_int("steps", steps, 1)
    T = check_positive("T", T)
    t_min = check_positive("t_min", t_min)
    if not t_min < T:
        raise ValueError(f"t_min must lie in (0, T) = (0, {T:g}), got {t_min!r}")
    grid = check_int("grid", grid, 2)
    try:
        b_lo, b_hi = (float(b) for b in beta_range)
    except (TypeError, ValueError):
        raise ValueError(f"beta_range must be (low, high) with 0 < low < high, got {beta_range!r}") from None
    if not (math.isfinite(b_lo) and math.isfinite(b_hi) and 0 < b_lo < b_hi):
        raise ValueError(f"beta_range must be (low, high) with 0 < low < high finite, got {beta_range!r}")
    x, dist = _check_data(data, n_samples, seed)
    n, d = x.shape
    a = torch.as_tensor(alpha, dtype=torch.float64)
    if a.ndim == 0:
        a = a.expand(d).clone()
    if a.shape != (d,):
        raise ValueError(f"alpha must be a scalar or have shape ({d},), got shape {tuple(a.shape)}")
    if not bool(torch.isfinite(a).all()):
        raise ValueError("alpha must be finite")
    h = T / steps
    reasons = []

    # ---------------------------------------------------------------- moments of the data
    exact_moments = False
    if dist is not None and hasattr(dist, "mean") and hasattr(dist, "covariance"):
        try:
            m = torch.as_tensor(dist.mean(), dtype=torch.float64).reshape(d)
            C = torch.as_tensor(dist.covariance(), dtype=torch.float64).reshape(d, d)
            exact_moments = True
        except Exception:
            exact_moments = False
    if not exact_moments:
        m = x.mean(0)
        xc = x - m
        C = xc.T @ xc / n  # the empirical law's covariance (1/n)
    evals, U = torch.linalg.eigh(0.5 * (C + C.T))
    evals = evals.clamp_min(0)
    tr = float(evals.sum())
    off = m - a
    ms2 = tr + float((off**2).sum())  # E|X - alpha|^2
    dist_a = (x - a).norm(dim=1)
    radius = float(dist_a.max())
    rms = math.sqrt(ms2)
    diam, diam_exact = _diameter(x)
    src = "exact moments of the distribution" if exact_moments else "the empirical law of the samples"
    reasons.append(f"Moments from {src}: E‖X−α‖² = {ms2:.4g} (rms radius {rms:.4g}), ‖mean−α‖ = {float(off.norm()):.4g}, "
                   f"tr Σ = {tr:.4g}; largest ‖x−α‖ over the {n} samples (003's 'diameter') = {radius:.4g}.")
    if not diam_exact:
        reasons.append(f"Diameter: over the first 20000 of {n} samples only (a lower bound).")

    # ---------------------------------------------------------------- initial W2 upper bound
    w0 = math.sqrt(ms2 + d)
    method = "independent coupling √(E‖X−α‖² + d)"
    if d == 1 and not exact_moments:
        w_emp = empirical_gaussian_w2_1d(x[:, 0], float(a[0]))
        if w_emp < w0:
            w0, method = w_emp, "exact quantile integral, empirical law vs N(α,1)"
    reasons.append(f"W2(p0, N(α,I)) ≤ {w0:.4g} ({method}); synchronous coupling gives W2(p_T, N(α,I)) ≤ e^(−βT)·{w0:.4g} "
                   "for every law with a finite second moment.")
    if d == 1 and exact_moments:
        reasons.append("The bound uses the distribution's exact moments (population law); pass samples instead to use "
                       "the exact 1-D quantile integral of their empirical law.")
    elif not exact_moments:
        reasons.append("The bounds are for the empirical law of the given samples; the population law's distance differs "
                       "by its sampling error (W2 between the two).")

    def fwd_upper(b):
        return math.exp(-b * T) * w0

    def fwd_lower(b):
        o, lam = forward_moments(off, evals, b, T, torch.zeros(d, dtype=torch.float64))
        return math.sqrt(float((o**2).sum()) + float(((lam.sqrt() - 1) ** 2).sum()))

    beta_fwd = max(b_lo, math.log(w0 / tol) / T) if w0 > tol else b_lo
    if beta_fwd > b_hi:
        raise ValueError(f"beta_range: no beta <= {b_hi:g} meets tol = {tol:g} (the W2 bound needs beta >= {beta_fwd:.3f}); "
                         "raise the upper end of beta_range, T or tol")
    beta_low = _solve_decreasing(fwd_lower, b_lo, b_hi, tol)
    reasons.append(f"Smallest β with the W2 bound ≤ {tol:g}: ln({w0:.4g}/{tol:g})/T = {beta_fwd:.3f}. "
                   f"Gelbrich lower bound: for β < {beta_low:.3f} no law with these mean and covariance has W2(p_T, q) ≤ tol "
                   "(exact for Gaussian data); the true threshold lies in between.")

    # ---------------------------------------------------------------- KL / TV (003 Theorem 5.2)
    kl0 = None
    beta_tv = None
    if dist is not None and hasattr(dist, "log_prob"):
        try:
            g = torch.Generator().manual_seed(int(seed) + 1)
            xs = dist.sample(int(n_kl), generator=g, dtype=torch.float64)
            lq = -0.5 * ((xs - a) ** 2).sum(1) - 0.5 * d * math.log(2 * math.pi)
            kl0 = float((dist.log_prob(xs) - lq).mean())
            if not math.isfinite(kl0):
                kl0 = None
        except (NotImplementedError, ValueError, RuntimeError):
            kl0 = None
    if kl0 is not None:
        kl0 = max(kl0, 0.0)
        c = math.sqrt(kl0 / 2)
        beta_tv = max(b_lo, math.log(c / tol) / T) if c > tol else b_lo
        reasons.append(f"KL(p0‖q) ≈ {kl0:.4g} (Monte Carlo, {n_kl} draws); LSI + Pinsker (003 Thm 5.2, with e^(−βT) after "
                       f"the square root): TV(p_T, q) ≤ e^(−βT)·{c:.4g} ≤ tol from β = {beta_tv:.3f}.")
    else:
        reasons.append("KL/TV bound (003 Thm 5.2) not used: the data is a sample (its empirical law has infinite KL to q) "
                       "or the distribution has no log_prob.")

    # ---------------------------------------------------------------- discretisation
    m_eig = U.T @ off  # mean offset in the eigenbasis

    def em_rev(b):
        return em_reverse_gaussian_w2(m_eig, evals, b, T, steps, t_min, alpha=0.0)

    rec = beta_fwd
    if rec * h >= 2:
        need = math.floor(rec * T / 2) + 1
        raise ValueError(f"steps: the recommended beta = {rec:.3f} makes the Euler–Maruyama step unstable "
                         f"(beta*dt = {rec * h:.3g} >= 2); use steps >= {need}")
    em_stat = em_stationary_w2(rec, h, d)
    em_r = em_rev(rec)
    # steps so that sqrt(d) (1/sqrt(1 - beta h / 2) - 1) <= tol
    q = 1.0 - (1.0 + tol / math.sqrt(d)) ** -2
    steps_tol = max(1, math.ceil(rec * T / (2 * q)))
    reasons.append(f"Discretisation at β = {rec:.3f}: βΔt = {rec * h:.3g} (stable below 2); EM on the forward OU has "
                   f"stationary variance 1/(1−βΔt/2) = {em_stationary_variance(rec, h):.5g}, W2 {em_stat:.3g} from N(α,I); "
                   f"the reverse sampler on the Gaussian surrogate N(mean, cov) is off by W2 = {em_r:.3g}. "
                   f"Both grow about linearly in βΔt (003 Conjecture 5.1); {steps_tol} steps keep the stationary proxy ≤ tol.")
    if em_stat > tol:
        reasons.append(f"Warning: at {steps} steps the discretisation proxy ({em_stat:.3g}) exceeds tol; use ≥ {steps_tol} steps.")
    # the reverse-EM error is first order in the step: steps * err / tol steps bring it to about tol
    rev_steps = steps if em_r <= tol else (math.ceil(steps * em_r / tol) if math.isfinite(em_r) else -1)
    if em_r > tol:
        reasons.append(f"Warning: the reverse sampler's error on the Gaussian surrogate ({em_r:.3g}, i.e. "
                       f"{em_r / max(rms, 1e-300):.2%} of the rms radius) exceeds tol at {steps} steps: it grows like "
                       f"β²Δt·T times the data's scale (EM under-resolves the reverse expansion e^(βT)); about "
                       f"{rev_steps} steps would bring it to tol (first-order estimate).")

    beta_rule = None
    if radius > 1:
        beta_rule = THESIS_SLOPE * math.log(radius)
        reasons.append(f"Thesis rule (003 §5.1.1, fitted on 1-D mixtures, T = 1, W1 < 0.05): β ≈ 0.95·ln({radius:.4g}) = "
                       f"{beta_rule:.3f}; the bound here also grows like ln(radius) (slope 1/T), plus ln(1/tol)/T.")

    # ---------------------------------------------------------------- table
    levels = np.geomspace(b_lo, b_hi, grid).tolist() + [rec]
    if math.isfinite(beta_low):
        levels.append(beta_low)
    if beta_tv is not None and beta_tv <= b_hi:
        levels.append(beta_tv)
    table = []
    levels = sorted(set(float(v) for v in levels))
    ers = _em_reverse_many(m_eig, evals, [b if b * h < 2 else 0.0 for b in levels], T, steps, t_min)
    for b, er in zip(levels, ers.tolist()):
        stable = b * h < 2
        er = er if stable else None
        table.append({
            "beta": b,
            "beta_dt": b * h,
            "stable": stable,
            "forward_w2_upper": fwd_upper(b),
            "forward_w2_lower": fwd_lower(b),
            "tv_bound": None if kl0 is None else min(1.0, math.exp(-b * T) * math.sqrt(kl0 / 2)),
            "em_stationary_w2": em_stationary_w2(b, h, d) if stable else None,
            "em_reverse_w2": er if (er is None or math.isfinite(er)) else None,
            "meets_tol": fwd_upper(b) <= tol * (1 + 1e-12),
        })
    return BetaAdvice(
        recommended=rec, beta_min_forward=beta_fwd, beta_lower=beta_low, beta_tv=beta_tv, beta_thesis_rule=beta_rule,
        tol=tol, T=T, steps=steps, dt=h, t_min=t_min, dim=d, n=n, alpha=a.tolist(), radius=radius, rms_radius=rms,
        diameter=diam, covariance_trace=tr, mean_offset=float(off.norm()), w2_initial_upper=w0, w2_initial_method=method,
        kl_initial=kl0, forward_w2_upper=fwd_upper(rec), em_stationary_w2=em_stat, em_reverse_w2=em_r,
        steps_for_tol=steps_tol, reverse_steps_for_tol=rev_steps, table=table, reasons=reasons,
    )


def advise_beta_from_config(config, steps: int | None = None, **kwargs) -> BetaAdvice:
    """:func:`advise_beta` for a run config (a path to its YAML or a :class:`~scoreuq.runs.RunConfig`):
    its training set (:func:`scoreuq.runs.build_data`), its OU process's ``alpha`` and ``T``, its
    ``sample.steps`` (unless ``steps`` is given) and ``sample.t_min``. Other keyword arguments go to
    :func:`advise_beta`. Raises ``ValueError`` if the config's process is not ``ou``."""
    cfg = config if isinstance(config, RunConfig) else load_config(config)
    if cfg.process.name != "ou":
        raise ValueError(f"process.name must be 'ou' for the beta advice, got {cfg.process.name!r}")
    pp = dict(cfg.process.params)
    kwargs.setdefault("alpha", pp.get("alpha", 0.0))
    kwargs.setdefault("T", pp.get("T", 1.0))
    kwargs.setdefault("t_min", cfg.sample.t_min)
    rd = build_data(cfg)
    adv = advise_beta(rd.train, steps=cfg.sample.steps if steps is None else steps, **kwargs)
    beta_now = pp.get("beta", 1.0)
    sigma_now = pp.get("sigma", math.sqrt(2.0))
    line = (f"Config {cfg.name!r}: current β = {float(beta_now):g}, forward W2 bound there "
            f"{math.exp(-float(beta_now) * adv.T) * adv.w2_initial_upper:.4g} (tol {adv.tol:g}).")
    if abs(float(sigma_now) - math.sqrt(2 * float(beta_now))) > 1e-9 * max(1.0, float(sigma_now)):
        line += (f" Its σ = {float(sigma_now):g} is not √(2β) = {math.sqrt(2 * float(beta_now)):g}: the advice assumes "
                 "σ = √(2β) (stationary law N(α, I)); set sigma accordingly with the new β.")
    adv.reasons.append(line)
    return adv
