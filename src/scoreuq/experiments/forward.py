r"""Forward-process experiments of thesis (003) §5.1–5.2, computed without training.

Four compute-only experiments (see :mod:`scoreuq.experiments`), all for the Ornstein–Uhlenbeck
process :math:`dX_t = -\beta X_t\,dt + \sqrt{2\beta}\,dW_t` (α = 0, σ = √(2β), stationary law
N(0, I)), whose transition is exact:
:math:`X_t = e^{-\beta t}X_0 + \sqrt{1-e^{-2\beta t}}\,Z`.

``forward_gmm`` (003 §5.1.1, Fig. 5.1)
    1-D mixture ½N(μ,1)+½N(−μ,1). p_1 = ½N(m,1)+½N(−m,1) with m = μe^{−β}, so W1(p_1, N(0,1)) is
    a function of m alone, computed by quadrature of the exact CDFs. It increases with m, hence
    β* = ln μ − ln m*(tol) exactly: slope 1 in ln μ. (Closed form, used as a check:
    W1 = E|m+Z| − E|Z| = m(2Φ(m)−1) + 2φ(m) − 2φ(0); on (0, ∞) the CDF difference has one sign.)
``forward_circles`` (003 §5.1.2, Fig. 5.2)
    Two unit circles at (±μ, 0); sliced W1 (common projections) between the perturbed sample at
    t = 1 and a sample of N(0, I2); β* = smallest β on a grid with SW < tol.
``forward_cauchy`` (003 §5.1.2, Figs 5.3–5.4)
    Cauchy(0, γ) data: p_t is a Voigt profile (Cauchy of scale γe^{−βt} ⊛ N(0, 1−e^{−2βt})).
    TV(p_t, N(0,1)) by quadrature; W1(p_t, N(0,1)) = ∞ for every t, and the sample W1 that the
    thesis plots has infinite expectation at every sample size (its median grows like
    (2γe^{−βt}/π) ln n).
``discretisation`` (003 §5.2, Fig. 5.5)
    Strong error E|X_1 − X̂_1| between the exact OU recursion and Euler–Maruyama driven by the
    same Brownian motion, by Monte Carlo and exactly (both are linear-Gaussian given X_0).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy import integrate, optimize, special, stats

from .._validation import check_in_range, check_int, check_positive
from ..data.synthetic import UnionOfCircles
from ..metrics.wasserstein import random_directions, sliced_wasserstein
from ..processes import OrnsteinUhlenbeck
from . import Experiment, register

__all__ = [
    "w1_sym_mixture_vs_normal",
    "w1_sym_mixture_vs_normal_closed",
    "voigt_pdf",
    "tv_voigt_vs_normal",
    "strong_error_exact",
    "strong_error_mc",
]

_PHI0 = 1.0 / math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------- shared helpers
def _merge(defaults: dict, params: dict) -> dict:
    p = dict(defaults)
    p.update(params or {})
    return p


def _ou_factors(beta: float, t: float) -> tuple[float, float]:
    """(e^{-βt}, sqrt(1 - e^{-2βt})) of the OU process with σ = √(2β) (mean coefficient, std)."""
    proc = OrnsteinUhlenbeck(alpha=0.0, beta=beta, sigma=math.sqrt(2.0 * beta), T=max(t, 1.0))
    tt = torch.tensor([t], dtype=torch.float64)
    return float(proc.mean_coeff(tt)[0]), float(proc.marginal_std(tt)[0])


def _beta_grid(beta_min: float, beta_max: float, step: float) -> np.ndarray:
    k = int(math.floor((beta_max - beta_min) / step + 1e-9))
    return beta_min + step * np.arange(k + 1, dtype=np.float64)


def _check_grid(p: dict) -> None:
    bmin = check_positive("beta_min", p["beta_min"])
    bmax = check_positive("beta_max", p["beta_max"])
    if not bmax > bmin:
        raise ValueError(f"beta_max must be > beta_min = {bmin:g}, got {p['beta_max']!r}")
    step = check_positive("beta_grid_step", p["beta_grid_step"])
    if step > bmax - bmin:
        raise ValueError(
            f"beta_grid_step must lie in (0, beta_max - beta_min] = (0, {bmax - bmin:g}], got {p['beta_grid_step']!r}")
    if (bmax - bmin) / step > 100_000:
        raise ValueError(f"beta_grid_step must be >= (beta_max - beta_min)/100000 = {(bmax - bmin) / 1e5:g}, got {step!r}")


def _t_ci(values, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the t confidence interval of ``values`` (half-width 0 for one value)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2:
        return float(v.mean()), 0.0
    q = stats.t.ppf(0.5 + level / 2, v.size - 1)
    return float(v.mean()), float(q * v.std(ddof=1) / math.sqrt(v.size))


def _slope_ci(x, y, level: float = 0.95) -> dict:
    """Least-squares fit y = a + b x with the t confidence interval of the slope."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 3 or np.ptp(x) == 0:
        return {"slope": float("nan"), "half": float("nan"), "intercept": float("nan"), "r2": float("nan"), "n": int(x.size)}
    r = stats.linregress(x, y)
    half = stats.t.ppf(0.5 + level / 2, x.size - 2) * r.stderr
    return {"slope": float(r.slope), "half": float(half), "intercept": float(r.intercept),
            "r2": float(r.rvalue**2), "n": int(x.size)}


# --------------------------------------------------------------------------- 1. forward_gmm
def _gmm_cdf_gap(x, m):
    r"""Φ(x) − F_p(x) for p = ½N(m,1)+½N(−m,1), via survival functions (no cancellation near 1)."""
    sf = special.ndtr
    # Φ(x) - ½Φ(x-m) - ½Φ(x+m) = ½ sf(x-m) + ½ sf(x+m) - sf(x),  sf(u) = Φ(-u)
    return 0.5 * sf(m - x) + 0.5 * sf(-(x + m)) - sf(-x)


def w1_sym_mixture_vs_normal(m: float) -> float:
    r""":math:`W_1(\tfrac12 N(m,1)+\tfrac12 N(-m,1),\ N(0,1)) = \int |F_p - \Phi|\,dx`, by adaptive
    quadrature of the exact CDFs on [0, ∞) (the integrand is even), split at 0, m and the tails."""
    m = abs(float(m))
    if m == 0.0:
        return 0.0
    edges = sorted({0.0, min(m, 12.0), max(m - 12.0, 0.0), m, m + 12.0, m + 40.0})
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi <= lo:
            continue
        v, _ = integrate.quad(lambda x: abs(_gmm_cdf_gap(x, m)), lo, hi, limit=200, epsabs=1e-13, epsrel=1e-12)
        total += v
    return 2.0 * total


def w1_sym_mixture_vs_normal_closed(m: float) -> float:
    r"""Closed form of the same distance: :math:`m(2\Phi(m)-1) + 2\varphi(m) - 2\varphi(0)` (= E|m+Z| − E|Z|)."""
    m = abs(float(m))
    return float(m * special.erf(m / math.sqrt(2.0)) + 2.0 * _PHI0 * (math.exp(-0.5 * m * m) - 1.0))


def _gmm_m_star(tol: float) -> float:
    """The mean offset m* with W1 = tol (W1 increases with m from 0 to ∞)."""
    hi = 1.0
    while w1_sym_mixture_vs_normal(hi) < tol:
        hi *= 2.0
    return float(optimize.brentq(lambda m: w1_sym_mixture_vs_normal(m) - tol, 0.0, hi, xtol=1e-14, rtol=1e-13))


GMM_DEFAULTS = {"mu": 10.0, "tol": 0.05, "beta_min": 1.0, "beta_max": 20.0, "beta_grid_step": 0.1}


def _gmm_check(params: dict) -> None:
    p = _merge(GMM_DEFAULTS, params)
    check_positive("mu", p["mu"])
    check_positive("tol", p["tol"])
    _check_grid(p)


def _gmm_fn(params: dict, seed: int) -> dict:
    p = _merge(GMM_DEFAULTS, params)
    _gmm_check(p)
    mu, tol = float(p["mu"]), float(p["tol"])
    m_star = _gmm_m_star(tol)
    beta_star = max(0.0, math.log(mu) - math.log(m_star))  # β ≥ 0; 0 when p_0 is already within tol
    grid = _beta_grid(float(p["beta_min"]), float(p["beta_max"]), float(p["beta_grid_step"]))
    w1_grid = np.array([w1_sym_mixture_vs_normal(mu * _ou_factors(b, 1.0)[0]) for b in grid])
    below = np.flatnonzero(w1_grid < tol)
    reached = below.size > 0
    i = int(below[0]) if reached else grid.size - 1
    beta_grid_star = float(grid[i])
    values = {
        "beta_star": beta_star,
        "beta_star_grid": beta_grid_star,
        "grid_reached": 1.0 if reached else 0.0,
        "clamped_at_beta_min": 1.0 if (reached and i == 0) else 0.0,
        "m_star": m_star,
        "w1_at_beta_star_grid": float(w1_grid[i]),
        "w1_quad_minus_closed": float(w1_sym_mixture_vs_normal(m_star) - w1_sym_mixture_vs_normal_closed(m_star)),
    }
    extras = {"beta_grid": grid.tolist(), "w1": w1_grid.tolist(), "mu": mu,
              "note": "" if reached else f"no beta in [{grid[0]:g}, {grid[-1]:g}] reaches W1 < {tol:g}; "
                                         "beta_star_grid is censored at beta_max"}
    return {"values": values, "extras": extras}


def _gmm_analyse(rows: list) -> list:
    rows = [r for r in rows if r["values"].get("beta_star") is not None]
    if not rows:
        return []
    mu = np.array([float(r["params"]["mu"]) for r in rows])
    exact = np.array([r["values"]["beta_star"] for r in rows])
    grid = np.array([r["values"]["beta_star_grid"] for r in rows])
    reached = np.array([r["values"]["grid_reached"] > 0.5 for r in rows])
    clamped = np.array([r["values"]["clamped_at_beta_min"] > 0.5 for r in rows])
    out = []
    thesis = "0.95 per ln μ (2.19283 per log10 μ)"
    fe = _slope_ci(np.log(mu), exact)
    if fe["n"] >= 3:
        out.append({
            "figure": "slope of exact β* against ln μ (95% CI)",
            "ours": f"{fe['slope']:.4f} ± {fe['half']:.1e} (intercept {fe['intercept']:.4f}, n = {fe['n']})",
            "thesis": thesis,
            "agrees": bool(abs(fe["slope"] - 0.9523) <= max(fe["half"], 0.02)),
            "note": "W1(p_1, N(0,1)) depends on μ only through m = μe^{-β}, so β* = ln μ − ln m*(tol): the slope is "
                    "exactly 1 and the intercept −ln m* (slope < 1 only where β* is clamped at 0). The thesis's 0.95 is "
                    "not a property of the law; it comes from its β grid and/or a sample-based W1.",
        })
    ok = reached & ~clamped
    fg = _slope_ci(np.log(mu[reached]), grid[reached])
    if fg["n"] >= 3:
        step = float(rows[0]["params"].get("beta_grid_step", GMM_DEFAULTS["beta_grid_step"]))
        # what other grids would give, from the exact β* (W1 < tol ⟺ β > β*)
        alt = []
        for s in (1.0, 0.5, 0.1, 0.01):
            g = np.array([_first_above(float(r["params"]["beta_min"]), float(r["params"]["beta_max"]), s, b)
                          for r, b in zip(rows, exact)])
            fin = np.isfinite(g)
            if fin.sum() >= 3:
                alt.append(f"step {s:g}: {_slope_ci(np.log(mu[fin]), g[fin])['slope']:.3f}")
        out.append({
            "figure": f"slope of grid β* (step {step:g}) against ln μ (95% CI)",
            "ours": f"{fg['slope']:.4f} ± {fg['half']:.4f} (n = {fg['n']})",
            "thesis": thesis,
            "agrees": bool(abs(fg["slope"] - 0.9523) <= fg["half"]),
            "note": f"grid β* is the first grid point above the exact β* (rounding up by < one step); "
                    f"{int((~reached).sum())} setting(s) never reach tol on the grid (excluded), "
                    f"{int(clamped.sum())} clamped at beta_min, {int(ok.sum())} interior. "
                    f"Slopes the same exact β* gives on other grids over [beta_min, beta_max]: {'; '.join(alt)}.",
        })
    return out


def _first_above(bmin: float, bmax: float, step: float, b: float) -> float:
    g = _beta_grid(bmin, bmax, step)
    above = g[g > b]
    return float(above[0]) if above.size else float("inf")


register(Experiment(
    name="forward_gmm",
    fn=_gmm_fn,
    defaults=GMM_DEFAULTS,
    check=_gmm_check,
    titles={
        "beta_star": "β* (exact)",
        "beta_star_grid": "β* on grid",
        "grid_reached": "tol reached on grid",
        "clamped_at_beta_min": "β* clamped at beta_min",
        "m_star": "m* = μe^{-β*}",
        "w1_at_beta_star_grid": "W1 at grid β*",
        "w1_quad_minus_closed": "quadrature − closed form at m*",
    },
    estimators={
        "beta_star": "ln μ − ln m*, m* by Brent root of the quadrature W1(m) = tol (exact up to 1e-12)",
        "beta_star_grid": "first β of beta_min + k·beta_grid_step with W1 < tol (beta_max when none: see grid_reached)",
        "grid_reached": "1 if some grid β has W1 < tol, else 0",
        "clamped_at_beta_min": "1 if W1 < tol already at beta_min",
        "m_star": "Brent root of W1(½N(m,1)+½N(−m,1), N(0,1)) = tol",
        "w1_at_beta_star_grid": "∫|F_p − Φ| by adaptive quadrature of the exact CDFs",
        "w1_quad_minus_closed": "quadrature minus m(2Φ(m)−1)+2φ(m)−2φ(0) (accuracy check)",
    },
    analyse=_gmm_analyse,
    thesis="003 §5.1.1, Fig. 5.1",
    description="Smallest OU rate β with W1(p_1, N(0,1)) < tol for ½N(μ,1)+½N(−μ,1), from the exact marginals.",
))


# --------------------------------------------------------------------------- 2. forward_circles
CIRCLES_DEFAULTS = {
    "mu": 10.0, "tol": 0.05, "beta_min": 1.0, "beta_max": 20.0, "beta_grid_step": 0.1,
    "n_per_component": 5000, "n_prior": 5000, "n_projections": 100, "scheme": "exact", "dt": 0.01,
}


def _circles_check(params: dict) -> None:
    p = _merge(CIRCLES_DEFAULTS, params)
    check_positive("mu", p["mu"])
    check_positive("tol", p["tol"])
    _check_grid(p)
    check_int("n_per_component", p["n_per_component"], 1)
    check_int("n_prior", p["n_prior"], 1)
    check_int("n_projections", p["n_projections"], 1)
    if p["scheme"] not in ("exact", "em"):
        raise ValueError(f"scheme must be 'exact' or 'em', got {p['scheme']!r}")
    dt = check_in_range("dt", p["dt"], 0.0, 1.0, low_open=True, high_open=True)
    if p["scheme"] == "em":
        n = round(1.0 / dt)
        if abs(n * dt - 1.0) > 1e-9:
            raise ValueError(f"dt must divide T = 1 (1/dt an integer), got {p['dt']!r}")
        if float(p["beta_max"]) * dt >= 2.0:
            raise ValueError(f"beta_max * dt must be < 2 for a stable Euler–Maruyama scheme, got "
                             f"beta_max = {p['beta_max']!r}, dt = {p['dt']!r}")


def _projected_w1(pa: np.ndarray, pb_aligned: np.ndarray) -> float:
    """Mean over rows of W1 between the empirical laws of the rows of ``pa (L, n)`` and of a sample whose
    sorted rows, repeated to length n, are ``pb_aligned (L, n)`` (valid when n is a multiple of the
    other sample's size: both quantile functions are then constant on the intervals (i/n, (i+1)/n]).
    ``pa`` is overwritten."""
    pa.sort(axis=1)
    pa -= pb_aligned
    np.abs(pa, out=pa)
    return float(pa.mean())


def circles_sw_function(params: dict, seed: int):
    """The run's sliced-W1 curve ``sw(beta)`` with common random numbers (one X_0 sample, one Gaussian
    sample or Brownian path set, one set of projections and one p_∞ sample for every β), and the SW
    floor between two independent N(0, I2) samples of the same sizes. Returns ``(sw, floor)``."""
    p = _merge(CIRCLES_DEFAULTS, params)
    mu = float(p["mu"])
    n_c, n_p, L = int(p["n_per_component"]), int(p["n_prior"]), int(p["n_projections"])
    rng = np.random.default_rng(seed)
    tg = torch.Generator().manual_seed(int(rng.integers(2**62)))
    x0 = torch.cat([c.sample(n_c, generator=tg, dtype=torch.float64) for c in UnionOfCircles(mu).circles]).numpy()
    n = x0.shape[0]
    theta = random_directions(2, L, generator=tg, dtype=torch.float64)
    th = theta.numpy()
    x_inf = rng.standard_normal((n_p, 2))
    aligned = n % n_p == 0
    if aligned:  # sorted prior projections repeated to length n: the quantile grids then coincide
        pb = np.repeat(np.sort((x_inf @ th).T, axis=1), n // n_p, axis=1)
    p0 = (x0 @ th).T  # (L, n)

    if p["scheme"] == "exact":
        z = rng.standard_normal((n, 2))
        pz = (z @ th).T

        def points(beta):
            c, s = _ou_factors(beta, 1.0)
            return c * x0 + s * z

        def proj(beta):
            c, s = _ou_factors(beta, 1.0)
            out = p0 * c
            out += s * pz
            return out
    else:
        dt = float(p["dt"])
        n_steps = round(1.0 / dt)
        xi = rng.standard_normal((n_steps, n, 2))

        def points(beta):
            b = 1.0 - beta * dt
            w = b ** np.arange(n_steps - 1, -1, -1, dtype=np.float64)  # weight of step k: b^{N-1-k}
            return b**n_steps * x0 + math.sqrt(2.0 * beta * dt) * np.tensordot(w, xi, axes=1)

        def proj(beta):
            return np.ascontiguousarray((points(beta) @ th).T)

    def sw(beta: float) -> float:
        if aligned:
            return _projected_w1(proj(float(beta)), pb)
        return sliced_wasserstein(torch.from_numpy(points(float(beta))), torch.from_numpy(x_inf), projections=theta)

    za = rng.standard_normal((n, 2))
    if aligned:
        floor = _projected_w1(np.ascontiguousarray((za @ th).T), pb)
    else:
        floor = sliced_wasserstein(torch.from_numpy(za), torch.from_numpy(x_inf), projections=theta)
    return sw, float(floor)


def _circles_fn(params: dict, seed: int) -> dict:
    p = _merge(CIRCLES_DEFAULTS, params)
    _circles_check(p)
    mu, tol = float(p["mu"]), float(p["tol"])
    sw_fn, floor = circles_sw_function(p, seed)
    grid = _beta_grid(float(p["beta_min"]), float(p["beta_max"]), float(p["beta_grid_step"]))
    seen = {}

    def sw(i):
        if i not in seen:
            seen[i] = sw_fn(grid[i])
        return seen[i]

    # coarse scan with early stop (every `stride`-th grid point, about one unit of β apart, and the last),
    # then bisection inside the first bracket [prev, first]: this is the smallest grid β with SW < tol
    # provided SW does not cross tol more than once inside a bracket (tests compare with a full scan)
    stride = max(1, int(round(1.0 / float(p["beta_grid_step"]))))
    coarse_idx = sorted(set(range(0, grid.size, stride)) | {grid.size - 1})
    first = next((i for i in coarse_idx if sw(i) < tol), None)
    if first is None:
        i_star, reached = grid.size - 1, False
    elif first == 0:
        i_star, reached = 0, True
    else:
        lo = max(j for j in coarse_idx if j < first)  # sw(lo) >= tol > sw(hi)
        hi = first
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if sw(mid) < tol:
                hi = mid
            else:
                lo = mid
        i_star, reached = hi, True
    sw_max = sw(grid.size - 1)
    values = {
        "beta_star": float(grid[i_star]),
        "reached": 1.0 if reached else 0.0,
        "clamped_at_beta_min": 1.0 if (reached and i_star == 0) else 0.0,
        "sw_at_beta_star": float(sw(i_star)),
        "sw_at_beta_max": float(sw_max),
        "sw_floor": floor,
        "log_diameter": math.log(mu + 1.0),
    }
    order = sorted(seen)
    extras = {
        "beta_evaluated": [float(grid[i]) for i in order],
        "sw_evaluated": [float(seen[i]) for i in order],
        "scheme": p["scheme"],
        "note": "" if reached else f"no beta in [{grid[0]:g}, {grid[-1]:g}] gives SW < {tol:g}; beta_star censored at beta_max",
    }
    return {"values": values, "extras": extras}


def _circles_analyse(rows: list) -> list:
    if not rows:
        return []
    seeds = sorted({r["seed"] for r in rows})
    n_unreached = sum(1 for r in rows if r["values"]["reached"] < 0.5)
    n_clamped = sum(1 for r in rows if r["values"].get("clamped_at_beta_min", 0.0) > 0.5)

    def per_seed(xf, interior_only):
        out = []
        for s_ in seeds:
            rs = [r for r in rows if r["seed"] == s_ and r["values"]["reached"] > 0.5
                  and not (interior_only and r["values"].get("clamped_at_beta_min", 0.0) > 0.5)]
            f = _slope_ci([xf(float(r["params"]["mu"])) for r in rs], [r["values"]["beta_star"] for r in rs])
            if f["n"] >= 3:
                out.append(f["slope"])
        return out

    d_all = per_seed(lambda m: math.log(m + 1.0), False)
    if not d_all:
        return []
    m, h = _t_ci(d_all)
    m_int, h_int = _t_ci(per_seed(lambda m: math.log(m + 1.0), True) or [float("nan")])
    m_mu, h_mu = _t_ci(per_seed(math.log, True) or [float("nan")])
    floors = [r["values"]["sw_floor"] for r in rows]
    swmax = [r["values"]["sw_at_beta_max"] for r in rows]
    tol = float(rows[0]["params"].get("tol", CIRCLES_DEFAULTS["tol"]))
    scheme = rows[0]["params"].get("scheme", "exact")
    return [{
        "figure": "slope of β* against ln(μ+1) (log diameter): mean of per-seed fits ± 95% t-CI",
        "ours": f"{m:.3f} ± {h:.3f} ({len(d_all)} seed(s), scheme {scheme})",
        "thesis": "0.45 (β ≈ 0.45 ln(μ − α), fitted on ln of the diameter μ + 1)",
        "agrees": bool(abs(m - 0.45) <= max(h, 0.05)),
        "note": f"Without the settings clamped at beta_min ({n_clamped} run(s), β* ≤ beta_min there): "
                f"{m_int:.3f} ± {h_int:.3f} against ln(μ+1), {m_mu:.3f} ± {h_mu:.3f} against ln μ. "
                f"Once μe^{{-β}} is small the perturbed law is a mixture of two near-Gaussian blobs at "
                f"(±μe^{{-β}}, 0), so as for the 1-D mixture β* ≈ ln μ + const: slope → 1, not 0.45. "
                f"SW floor (two independent N(0,I2) samples of these sizes): {np.mean(floors):.4f} ± "
                f"{np.std(floors):.4f} vs tol {tol:g}; SW at beta_max: {np.min(swmax):.4f}–{np.max(swmax):.4f}. "
                f"{n_unreached} run(s) never reached tol on the grid (excluded). The thesis discretised with "
                f"Euler–Maruyama, dt = 0.01 (scheme='em'): its stationary variance 1/(1 − βdt/2) exceeds 1 "
                f"(1.11 at β = 20), which raises SW at large β towards tol.",
    }]


register(Experiment(
    name="forward_circles",
    fn=_circles_fn,
    defaults=CIRCLES_DEFAULTS,
    check=_circles_check,
    titles={
        "beta_star": "β* (grid)",
        "reached": "tol reached on grid",
        "clamped_at_beta_min": "β* clamped at beta_min",
        "sw_at_beta_star": "SW at β*",
        "sw_at_beta_max": "SW at beta_max",
        "sw_floor": "SW floor (N(0,I) vs N(0,I))",
        "log_diameter": "ln(μ+1)",
    },
    estimators={
        "beta_star": "smallest grid β with sliced W1 < tol (coarse scan every 1/step points, then the bracket); "
                     "beta_max when none (see reached)",
        "reached": "1 if some grid β has SW < tol",
        "clamped_at_beta_min": "1 if SW < tol already at beta_min (β* is then an upper bound)",
        "sw_at_beta_star": "sliced W1 (n_projections common directions) between perturbed data and N(0,I2) sample",
        "sw_at_beta_max": "same at beta_max: the noise floor plus what is left of the data",
        "sw_floor": "sliced W1 between two independent N(0,I2) samples of sizes 2·n_per_component and n_prior",
        "log_diameter": "ln(μ + 1), the thesis's x-axis",
    },
    analyse=_circles_analyse,
    thesis="003 §5.1.2, Fig. 5.2",
    description="Smallest OU rate β with sliced W1(p_1, N(0,I2)) < tol for two unit circles at (±μ, 0).",
))


# --------------------------------------------------------------------------- 3. forward_cauchy
CAUCHY_DEFAULTS = {"t": 1.0, "gamma": 5.0, "beta": 10.0, "tv_tol": 0.05, "ns": [1000, 10000, 100000],
                   "n_reps": 15, "residual_log_eps": -5.0}


def voigt_pdf(x, t: float, gamma: float, beta: float):
    """Density of p_t = law of e^{-βt}X_0 + sqrt(1-e^{-2βt})Z, X_0 ~ Cauchy(0, γ): a Voigt profile."""
    c, s = _ou_factors(beta, t)
    return special.voigt_profile(x, s, gamma * c)


def _tv_pieces(f, lo: float, hi: float, n_scan: int = 2001):
    """∫_lo^hi max(f, 0) du for a smooth f, split at its sign changes (found by Brent)."""
    u = np.linspace(lo, hi, n_scan)
    fu = f(u)
    knots = [lo]
    for j in np.flatnonzero(np.sign(fu[:-1]) * np.sign(fu[1:]) < 0):
        knots.append(optimize.brentq(f, u[j], u[j + 1], xtol=1e-15))
    knots.append(hi)
    total = 0.0
    for a, b in zip(knots[:-1], knots[1:]):
        mid = f(np.array([0.5 * (a + b)]))[0]
        if mid > 0:
            v, _ = integrate.quad(lambda x: f(np.array([x]))[0], a, b, limit=200, epsabs=1e-15, epsrel=1e-12)
            total += max(v, 0.0)
    return total


def tv_voigt_vs_normal(t: float, gamma: float, beta: float) -> float:
    r""":math:`\mathrm{TV}(p_t, N(0,1)) = \int_{p_t > \varphi}(p_t - \varphi)\,dx`, by quadrature after
    :math:`x = \tan u` on :math:`u \in [0, \pi/2)` (both laws are even); the Cauchy tail becomes a bounded
    integrand, :math:`p_t(x)(1+x^2) \to \gamma e^{-\beta t}/\pi`."""
    c, s = _ou_factors(beta, t)
    g = gamma * c

    def f(u):
        u = np.asarray(u, dtype=np.float64)
        x = np.tan(np.minimum(u, math.pi / 2 - 1e-15))
        return (special.voigt_profile(x, s, g) - stats.norm.pdf(x)) * (1.0 + x * x)

    return float(min(1.0, 2.0 * _tv_pieces(f, 0.0, math.pi / 2)))


def _t_tv_below(tol: float, gamma: float, beta: float) -> float:
    """Smallest t with TV(p_t, N(0,1)) ≤ tol (TV to the stationary law is non-increasing in t)."""
    if tv_voigt_vs_normal(0.0, gamma, beta) <= tol:
        return 0.0
    hi = 1.0 / beta
    while tv_voigt_vs_normal(hi, gamma, beta) > tol:
        hi *= 2.0
        if hi > 1e6:
            raise RuntimeError("TV does not fall below tol")
    return float(optimize.brentq(lambda t: tv_voigt_vs_normal(t, gamma, beta) - tol, 0.0, hi, xtol=1e-10))


def cauchy_sample(gamma: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws of Cauchy(0, γ) by inversion, γ tan(π(u − ½)) (as :class:`scoreuq.data.synthetic.Cauchy`, in NumPy)."""
    u = rng.random(n)
    u = np.clip(u, np.finfo(np.float64).tiny, 1.0 - np.finfo(np.float64).eps)
    return gamma * np.tan(np.pi * (u - 0.5))


def _w1_equal_sizes(a: np.ndarray, b: np.ndarray) -> float:
    """Exact W1 between two empirical laws of the same size: mean |a_(i) − b_(i)| (equals
    :func:`scoreuq.metrics.wasserstein.wasserstein_1d`, tested; NumPy to keep torch threads out)."""
    return float(np.abs(np.sort(a) - np.sort(b)).mean())


def _cauchy_check(params: dict) -> None:
    p = _merge(CAUCHY_DEFAULTS, params)
    t = p["t"]
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not (0.0 <= float(t) < math.inf):
        raise ValueError(f"t must be a finite number >= 0, got {t!r}")
    check_positive("gamma", p["gamma"])
    check_positive("beta", p["beta"])
    check_in_range("tv_tol", p["tv_tol"], 0.0, 1.0, low_open=True, high_open=True)
    ns = p["ns"]
    if not isinstance(ns, (list, tuple)) or len(ns) == 0:
        raise ValueError(f"ns must be a non-empty list of sample sizes (integers >= 2), got {ns!r}")
    for k in ns:
        check_int("ns", k, 2)
    if list(ns) != sorted(set(ns)):
        raise ValueError(f"ns must be strictly increasing, got {ns!r}")
    if max(ns) > 10_000_000:
        raise ValueError(f"ns must be <= 10000000, got {max(ns)}")
    check_int("n_reps", p["n_reps"], 1)
    v = p["residual_log_eps"]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise ValueError(f"residual_log_eps must be a finite number, got {v!r}")


def _cauchy_fn(params: dict, seed: int) -> dict:
    p = _merge(CAUCHY_DEFAULTS, params)
    _cauchy_check(p)
    t, gamma, beta = float(p["t"]), float(p["gamma"]), float(p["beta"])
    ns = [int(k) for k in p["ns"]]
    c, s = _ou_factors(beta, t)
    g = gamma * c
    tv = tv_voigt_vs_normal(t, gamma, beta)
    t_star = _t_tv_below(float(p["tv_tol"]), gamma, beta)
    # n_reps independent replicates; within one replicate the samples are nested (the first n draws of
    # one stream of size max(ns), for p_t and for N(0,1)). The sample W1 has infinite mean (see
    # _cauchy_analyse), so the reported figure is the median over replicates, a typical value.
    rng = np.random.default_rng(seed)
    nmax = ns[-1]
    w1 = np.empty((int(p["n_reps"]), len(ns)))
    for r in range(w1.shape[0]):
        xt = c * cauchy_sample(gamma, nmax, rng) + s * rng.standard_normal(nmax)
        y = rng.standard_normal(nmax)
        for j, k in enumerate(ns):
            w1[r, j] = _w1_equal_sizes(xt[:k], y[:k])
    med = np.median(w1, axis=0)
    growth = float(med[-1] - med[0])
    # tail part of the sample W1: the k-th largest of n draws of |Cauchy(g)| is ≈ 2gn/(πk), so the extreme
    # order statistics add (1/n)Σ_k 2gn/(πk) ≈ (2g/π) ln n: the typical value grows by (2g/π) ln(n_max/n_min)
    growth_theory = 2.0 * g / math.pi * math.log(ns[-1] / ns[0])
    bt = beta * t
    eps = math.exp(float(p["residual_log_eps"]))
    values = {
        "tv": tv,
        "t_tv_below_tol": t_star,
        **{f"w1_sample_n{k}": float(v) for k, v in zip(ns, med)},
        "w1_growth": growth,
        "w1_growth_tail_theory": float(growth_theory),
        "cauchy_scale_t": float(g),
        # mass of p_0 whose contracted initial point e^{-βt}|x0| is <= 1, resp. <= eps
        "mass_p0_residual_le_1": float(2.0 / math.pi * math.atan(math.exp(bt) / gamma)),
        "mass_p0_residual_le_eps": float(2.0 / math.pi * math.atan(eps * math.exp(bt) / gamma)),
    }
    extras = {"w1_exact": "infinite for every t (p_t has no first moment)", "ns": ns,
              "w1_sample_replicates": w1.tolist()}
    return {"values": values, "extras": extras}


def _cauchy_analyse(rows: list) -> list:
    if not rows:
        return []
    out = []
    by_t = {}
    for r in rows:
        by_t.setdefault(float(r["params"]["t"]), []).append(r)
    beta = float(rows[0]["params"].get("beta", 10.0))
    t1 = min(by_t, key=lambda t: abs(t - 1.0))
    tv1 = by_t[t1][0]["values"]["tv"]
    tstar = rows[0]["values"]["t_tv_below_tol"]
    tol = float(rows[0]["params"].get("tv_tol", 0.05))
    out.append({
        "figure": f"TV(p_t, N(0,1)) at t = {t1:g}; smallest t with TV < {tol:g}",
        "ours": f"TV = {tv1:.3e}; t = {tstar:.4f}",
        "thesis": "convergence shown in W1 and by a histogram at T = 1 (no TV number)",
        "agrees": None,
        "note": "TV by quadrature of the exact Voigt density (x = tan u); TV to the stationary law is non-increasing "
                "in t, so the threshold t is a single root.",
    })
    ts = sorted(by_t)
    ns = rows[0]["extras"].get("ns") if isinstance(rows[0].get("extras"), dict) else None
    growth = {t: _t_ci([r["values"]["w1_growth"] for r in by_t[t]]) for t in ts}
    theory = {t: by_t[t][0]["values"]["w1_growth_tail_theory"] for t in ts}
    lo, hi = ts[0], ts[-1]
    nm = f"n = {ns[0]} → {ns[-1]}" if ns else "smallest → largest n"
    g1 = by_t[t1][0]["values"]["cauchy_scale_t"]
    slope_tail = 2.0 * g1 / math.pi
    n_star, a = float("nan"), float("nan")
    if ns:
        # sampling floor ≈ a/√n: the typical sample W1 a/√n + (2g/π) ln n is smallest at √n = aπ/(4g)
        a = float(np.mean([r["values"][f"w1_sample_n{ns[-1]}"] for r in by_t[t1]])) * math.sqrt(ns[-1])
        n_star = (a * math.pi / (4.0 * g1)) ** 2 if g1 > 0 else float("inf")
    out.append({
        "figure": f"what the thesis's W1 curve (Fig. 5.4) can mean: change of the median sample W1, {nm} "
                  f"(mean ± 95% t-CI over seeds)",
        "ours": f"t = {lo:g}: {growth[lo][0]:+.3g} ± {growth[lo][1]:.2g} (tail theory {theory[lo]:+.3g}); "
                f"t = {hi:g}: {growth[hi][0]:+.3g} ± {growth[hi][1]:.2g} (tail theory {theory[hi]:+.3g})",
        "thesis": "a finite W1 decreasing in t towards 0",
        "agrees": False,
        "note": "W1(p_t, N(0,1)) = ∞ for every t: p_t keeps the Cauchy tail γe^{-βt}/(πx²), so no W1 convergence "
                "exists to be shown. The sample W1 is finite for each sample but has infinite expectation at every "
                "n (it is ≥ |mean of the p_t sample − mean of the normal sample|, and the mean of n Cauchy draws is "
                "again Cauchy); its typical (median) value grows like (2γe^{-βt}/π) ln n. "
                f"At t = {t1:g} (β = {beta:g}) that is {slope_tail:.2g} per e-fold of n, hidden under the "
                f"sampling floor a/√n (a ≈ {a:.2g} measured) until n ≈ {n_star:.1g}, " +
                "so the thesis's curve can only show that the bulk of p_t approaches N(0,1) (as TV, which does "
                "converge) plus the sampling floor of its sample size; it cannot show W1 convergence, and a larger "
                "sample would eventually make it grow.",
    })
    r1 = by_t[t1][0]
    eps_log = float(r1["params"].get("residual_log_eps", -5.0))
    gamma = float(r1["params"].get("gamma", 5.0))
    bt = beta * t1
    out.append({
        "figure": f"the thesis's '98% of samples' argument at t = {t1:g}: P_0(|x0| ≤ e^{{βt + log ε}}), log ε = {eps_log:g}",
        "ours": f"{r1['values']['mass_p0_residual_le_eps']:.4f} (|x0| ≤ e^{{{bt + eps_log:g}}}); with residual "
                f"e^{{-βt}}|x0| ≤ 1 instead: {r1['values']['mass_p0_residual_le_1']:.5f}",
        "thesis": "(1/π)(arctan(e^5/5) − arctan(−e^5/5)) = 0.979",
        "agrees": (bool(abs(r1["values"]["mass_p0_residual_le_eps"] - 0.979) < 5e-4)
                   if (bt == 10 and eps_log == -5 and gamma == 5) else None),
        "note": "The thesis's arithmetic is right for the interval [−e^5, e^5]. With β = 10, t = 1 the contraction is "
                "e^{-10}, so that interval is the set where the leftover e^{-10}|x0| is below ε = e^{-5} (the "
                "thesis's 'e^{-5} sufficiently small'), not where e^{-5}|x0| is small. The argument bounds where "
                "most mass goes; it does not give W1 convergence (the remaining 2% carries the infinite tail).",
    })
    return out


def _cauchy_titles(ns):
    return {f"w1_sample_n{k}": f"sample W1, n = {k}" for k in ns}


register(Experiment(
    name="forward_cauchy",
    fn=_cauchy_fn,
    defaults=CAUCHY_DEFAULTS,
    check=_cauchy_check,
    titles={
        "tv": "TV(p_t, N(0,1))",
        "t_tv_below_tol": "smallest t with TV < tv_tol",
        **_cauchy_titles(CAUCHY_DEFAULTS["ns"]),
        "w1_growth": "median sample W1: n_max − n_min",
        "w1_growth_tail_theory": "(2γe^{-βt}/π) ln(n_max/n_min)",
        "cauchy_scale_t": "γe^{-βt}",
        "mass_p0_residual_le_1": "P_0(|x0| ≤ e^{βt})",
        "mass_p0_residual_le_eps": "P_0(|x0| ≤ ε e^{βt})",
    },
    estimators={
        "tv": "∫(p_t − φ)_+ by adaptive quadrature of the exact Voigt density after x = tan u",
        "t_tv_below_tol": "Brent root of TV(t) = tv_tol (TV non-increasing in t)",
        **{f"w1_sample_n{k}": "median over n_reps replicates of the exact 1-D W1 (sorting) between n draws of p_t and n of N(0,1)"
           for k in CAUCHY_DEFAULTS["ns"]},
        "w1_growth": "median sample W1 at the largest n minus at the smallest n",
        "w1_growth_tail_theory": "tail contribution of the two Cauchy tails, typical value",
        "cauchy_scale_t": "exact",
        "mass_p0_residual_le_1": "(2/π) arctan(e^{βt}/γ), exact",
        "mass_p0_residual_le_eps": "(2/π) arctan(ε e^{βt}/γ), ε = e^{residual_log_eps}; the thesis's 0.979 at "
                                   "ε = e^{-5}, βt = 10",
    },
    analyse=_cauchy_analyse,
    thesis="003 §5.1.2, Figs 5.3–5.4",
    description="Cauchy(0, γ) data under OU: exact TV to N(0,1) and why the sample W1 curve does not converge.",
))


# --------------------------------------------------------------------------- 4. discretisation
DISC_DEFAULTS = {"beta": 55.0, "dt": 0.01, "T": 1.0, "n_paths": 10000, "mu": 5.0}


def _disc_check(params: dict) -> None:
    p = _merge(DISC_DEFAULTS, params)
    beta = check_positive("beta", p["beta"])
    T = check_positive("T", p["T"])
    dt = check_in_range("dt", p["dt"], 0.0, T, low_open=True, high_open=True)
    n = round(T / dt)
    if abs(n * dt - T) > 1e-9 * T:
        raise ValueError(f"dt must divide T = {T:g} (T/dt an integer), got {p['dt']!r}")
    if n > 100_000:
        raise ValueError(f"dt must be >= T/100000 = {T / 1e5:g}, got {p['dt']!r}")
    if beta * dt >= 2.0:
        raise ValueError(f"beta * dt must be < 2 (Euler–Maruyama stability), got beta = {p['beta']!r}, dt = {p['dt']!r}")
    check_int("n_paths", p["n_paths"], 2)
    m = p["mu"]
    if isinstance(m, bool) or not isinstance(m, (int, float)) or not math.isfinite(float(m)):
        raise ValueError(f"mu must be a finite number, got {m!r}")


def _step_moments(beta: float, dt: float):
    """(Var ΔW, Var I, Cov(ΔW, I)) for I = ∫_0^dt e^{-β(dt−s)} dW_s."""
    v_w = dt
    v_i = -math.expm1(-2.0 * beta * dt) / (2.0 * beta)
    cov = -math.expm1(-beta * dt) / beta
    return v_w, v_i, cov


def strong_error_exact(beta: float, dt: float, T: float = 1.0, mu: float = 5.0) -> float:
    r"""E|X_T − X̂_T| exactly: D = (a^N − b^N)X_0 + σΣ_j (a^j I_{N−1−j} − b^j ΔW_{N−1−j}) with a = e^{−βdt},
    b = 1 − βdt, X_0 ~ ½N(μ,1)+½N(−μ,1); D is a mixture of N(±c μ, c² + s²) and E|D| is the
    folded-normal mean."""
    n = round(T / dt)
    sigma = math.sqrt(2.0 * beta)
    a, b = math.exp(-beta * dt), 1.0 - beta * dt
    v_w, v_i, cov = _step_moments(beta, dt)
    j = np.arange(n, dtype=np.float64)
    aj, bj = a**j, b**j
    s2 = sigma**2 * float(np.sum(aj * aj * v_i - 2.0 * aj * bj * cov + bj * bj * v_w))
    c = a**n - b**n
    v = c * c + s2
    m = c * mu
    sd = math.sqrt(v)
    return float(sd * math.sqrt(2.0 / math.pi) * math.exp(-0.5 * m * m / v) + m * special.erf(m / (sd * math.sqrt(2.0))))


def strong_error_mc(beta: float, dt: float, T: float, mu: float, n_paths: int, rng: np.random.Generator):
    """Monte Carlo mean and standard error of |X_T − X̂_T| over ``n_paths`` paths sharing one Brownian motion."""
    n = round(T / dt)
    sigma = math.sqrt(2.0 * beta)
    a, b = math.exp(-beta * dt), 1.0 - beta * dt
    v_w, v_i, cov = _step_moments(beta, dt)
    k = cov / v_w
    r = math.sqrt(max(v_i - k * cov, 0.0))
    x0 = np.where(rng.random(n_paths) < 0.5, mu, -mu) + rng.standard_normal(n_paths)
    x = x0.copy()
    y = x0.copy()
    for _ in range(n):
        z = rng.standard_normal((2, n_paths))
        dw = math.sqrt(v_w) * z[0]
        i_ = k * dw + r * z[1]
        x = a * x + sigma * i_
        y = b * y + sigma * dw
    d = np.abs(x - y)
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(n_paths))


def _disc_fn(params: dict, seed: int) -> dict:
    p = _merge(DISC_DEFAULTS, params)
    _disc_check(p)
    beta, dt, T, mu = float(p["beta"]), float(p["dt"]), float(p["T"]), float(p["mu"])
    rng = np.random.default_rng(seed)
    mc, se = strong_error_mc(beta, dt, T, mu, int(p["n_paths"]), rng)
    ex = strong_error_exact(beta, dt, T, mu)
    values = {
        "error_mc": mc,
        "error_se": se,
        "error_exact": ex,
        "z_mc_vs_exact": (mc - ex) / se if se > 0 else 0.0,
        "em_stationary_var": 1.0 / (1.0 - 0.5 * beta * dt),
    }
    return {"values": values, "extras": {}}


def _disc_analyse(rows: list) -> list:
    out = []
    dts = sorted({float(r["params"]["dt"]) for r in rows})
    for dt in dts:
        rs = [r for r in rows if float(r["params"]["dt"]) == dt]
        betas = sorted({float(r["params"]["beta"]) for r in rs})
        if len(betas) < 3:
            continue
        mean_mc = [float(np.mean([r["values"]["error_mc"] for r in rs if float(r["params"]["beta"]) == b])) for b in betas]
        exact = [next(r["values"]["error_exact"] for r in rs if float(r["params"]["beta"]) == b) for b in betas]
        f = _slope_ci(betas, mean_mc)
        fx = _slope_ci(betas, exact)
        T = float(rs[0]["params"].get("T", 1.0))
        mu = float(rs[0]["params"].get("mu", 5.0))
        # shape of the exact curve: power-law exponent over the grid and behaviour for small β
        k = stats.linregress(np.log(betas), np.log(exact)).slope
        resid = np.array(exact) - (fx["intercept"] + fx["slope"] * np.array(betas))
        c0 = strong_error_exact(30.0, 1.0 / 30000.0, 1.0, mu) / 1e-3  # h(x)/x at x = βdt = 1e-3, βT = 30
        ratio_lo, ratio_hi = exact[0] / (betas[0] * dt), exact[-1] / (betas[-1] * dt)
        zs = [r["values"]["z_mc_vs_exact"] for r in rs]
        out.append({
            "figure": f"dt = {dt:g}: linear fit of E|X_1 − X̂_1| (MC, mean over seeds) against β "
                      f"over [{betas[0]:g}, {betas[-1]:g}]",
            "ours": f"slope {f['slope']:.4g} ± {f['half']:.2g}, intercept {f['intercept']:.4g}, R² {f['r2']:.4f}",
            "thesis": "\"linearly increases\" (no number given); larger error for larger dt",
            "agrees": bool(f["r2"] > 0.98 and f["slope"] > 0),
            "note": f"exact curve: slope {fx['slope']:.4g}, R² {fx['r2']:.4f}, max |residual| {np.max(np.abs(resid)):.2g}, "
                    f"log-log exponent {k:.3f}. Rescaling time by β shows the error depends on β and dt only through "
                    f"βdt (and on e^{{-βT}}, negligible here): E|D| = h(βdt), so the error at (β, dt) equals that at "
                    f"(2β, dt/2). h(x) ≈ {c0:.4f}·x for small x (numerically; √(5/(12π)) = 0.3642 fits) and is convex: h(x)/x = "
                    f"{ratio_lo:.3f} at βdt = {betas[0] * dt:.3g} and {ratio_hi:.3f} at βdt = {betas[-1] * dt:.3g}. "
                    f"So 'linear in β' holds to first order in βdt (slope ≈ {c0:.3f}·dt = {c0 * dt:.3g}); over this "
                    f"grid the curvature makes the fitted slope steeper and the intercept negative. MC vs exact: "
                    f"max |z| = {np.max(np.abs(zs)):.2f} over {len(zs)} runs.",
        })
    return out


register(Experiment(
    name="discretisation",
    fn=_disc_fn,
    defaults=DISC_DEFAULTS,
    check=_disc_check,
    titles={
        "error_mc": "E|X_1 − X̂_1| (MC)",
        "error_se": "standard error",
        "error_exact": "E|X_1 − X̂_1| (exact)",
        "z_mc_vs_exact": "(MC − exact)/se",
        "em_stationary_var": "EM stationary variance",
    },
    estimators={
        "error_mc": "mean over n_paths of |exact OU − Euler–Maruyama| at T, same Brownian motion "
                    "((ΔW, ∫e^{-β(dt−s)}dW) sampled jointly per step)",
        "error_se": "sample sd / sqrt(n_paths)",
        "error_exact": "folded-normal mean of the Gaussian-mixture law of the difference (closed form)",
        "z_mc_vs_exact": "should be ~N(0,1)",
        "em_stationary_var": "1/(1 − βdt/2), the EM chain's stationary variance (exact: 1)",
    },
    analyse=_disc_analyse,
    thesis="003 §5.2, Fig. 5.5",
    description="Strong error at T of Euler–Maruyama against the exact OU solution, driven by one Brownian motion.",
))
