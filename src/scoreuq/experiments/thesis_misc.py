r"""Three small compute-only checks of the thesis (003): Table 4.2, App. C.1 and App. C.3.

- ``manifold_distances`` (003 §4.2.3, Table 4.2): sliced Wasserstein distance from a Swiss-roll
  test set to a fresh roll, a noisy roll, a gapped roll and a sphere.
- ``ism_gaussian`` (003 App. C.1, Fig. C.1): Hyvärinen (implicit) score matching of a
  two-parameter Gaussian model on :math:`\mathcal N(0, 1)` samples, in closed form and by
  quasi-Newton descent, and which parameterisation of ``S`` the thesis's numbers imply.
- ``langevin_weights`` (003 App. C.3, Fig. C.4): plain Langevin, annealed Langevin and the
  reverse SDE with the exact score on the 1:9 two-mode mixture; the weight each puts on the
  small mode.

Every run is seeded from its ``seed`` alone (one ``torch.Generator``); global random state is
never touched.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._validation import check_in_range, check_int, check_positive
from ..data.synthetic import GaussianMixture, Sphere, SwissRoll
from ..metrics.wasserstein import random_directions, sliced_wasserstein
from ..processes import VESDE, OrnsteinUhlenbeck
from ..sampling import annealed_langevin, euler_maruyama, langevin
from . import Experiment, register

__all__ = ["THESIS_TABLE_4_2", "THESIS_ISM", "manifold_distances", "ism_gaussian", "langevin_weights"]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _mean_sd(xs) -> tuple:
    t = torch.as_tensor([float(x) for x in xs], dtype=torch.float64)
    if t.numel() == 0:
        return float("nan"), float("nan")
    sd = float(t.std()) if t.numel() > 1 else 0.0
    return float(t.mean()), sd


def _fmt(m, s, digits=4) -> str:
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def _interp_crossings(xs, ys, level) -> list:
    """The x where the piecewise-linear curve (xs, ys) crosses ``level``."""
    out = []
    for i in range(len(xs) - 1):
        y0, y1 = ys[i] - level, ys[i + 1] - level
        if y0 == 0:
            out.append(float(xs[i]))
        elif y0 * y1 < 0:
            out.append(float(xs[i] + (xs[i + 1] - xs[i]) * y0 / (y0 - y1)))
    if ys and ys[-1] == level:
        out.append(float(xs[-1]))
    return out


# ====================================================================== 1. Table 4.2
#: 003 Table 4.2: sliced Wasserstein distance from the Swiss-roll test set
THESIS_TABLE_4_2 = {"same": 0.1696, "noisy": 0.2116, "gapped": 0.5388, "sphere": 7.1068}
_TARGETS = tuple(THESIS_TABLE_4_2)
_TARGET_TEXT = {
    "same": "another Swiss roll (fresh sample)",
    "noisy": "noised Swiss roll",
    "gapped": "gapped Swiss roll",
    "sphere": "sphere",
}
_RADIUS_GRID = [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0, 20.0,
                21.0, 22.0, 23.0, 24.0, 26.0, 28.0, 30.0]
_NOISE_VAR_GRID = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 4.0]

MANIFOLD_DEFAULTS = {
    "target": "same",
    "n_test": 3500,
    "n": 3500,
    "n_projections": 100,
    "noise_var": 1.5,
    "sphere_radius": 1.0,
    "sphere_center": 0.0,
}


def _sphere_center(c) -> torch.Tensor:
    t = torch.as_tensor(c, dtype=torch.float64)
    if t.ndim == 0:
        t = t.expand(3)
    return t.reshape(3).clone()


def _check_manifold(p: dict) -> None:
    if p["target"] not in _TARGETS:
        raise ValueError(f"target must be one of {', '.join(_TARGETS)}, got {p['target']!r}")
    for k in ("n_test", "n"):
        check_int(k, p[k], 10)
        if p[k] > 200_000:
            raise ValueError(f"{k} must be an integer in [10, 200000], got {p[k]!r}")
    check_int("n_projections", p["n_projections"], 1)
    if p["n_projections"] > 10_000:
        raise ValueError(f"n_projections must be an integer in [1, 10000], got {p['n_projections']!r}")
    check_in_range("noise_var", p["noise_var"], 0.0, 1e4)
    check_positive("sphere_radius", p["sphere_radius"])
    try:
        c = _sphere_center(p["sphere_center"])
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"sphere_center must be a number or a list of 3 numbers, got {p['sphere_center']!r}") from None
    if not bool(torch.isfinite(c).all()):
        raise ValueError(f"sphere_center must be finite, got {p['sphere_center']!r}")


def _per_projection_w1(a: torch.Tensor, b: torch.Tensor, proj: torch.Tensor) -> torch.Tensor:
    """W1 of each 1-D projection (equal sizes: mean gap of the sorted projections), shape (L,)."""
    if a.shape[0] == b.shape[0]:
        pa = np.sort((a @ proj).T.numpy(), axis=1)  # NumPy's sort: ~5x torch.sort on CPU (metrics.wasserstein)
        pb = np.sort((b @ proj).T.numpy(), axis=1)
        return torch.from_numpy(np.abs(pa - pb).mean(1))
    return torch.tensor([sliced_wasserstein(a, b, projections=proj[:, l : l + 1]) for l in range(proj.shape[1])],
                        dtype=torch.float64)


def _manifold_fn(params: dict, seed: int) -> dict:
    p = {**MANIFOLD_DEFAULTS, **params}
    _check_manifold(p)
    g = _gen(seed)
    f64 = torch.float64
    test = SwissRoll().sample(p["n_test"], generator=g, dtype=f64)
    proj = random_directions(3, p["n_projections"], generator=g, dtype=f64)
    n, target = p["n"], p["target"]
    extras: dict = {"target": target, "thesis": THESIS_TABLE_4_2[target]}
    if target == "same":
        other = SwissRoll().sample(n, generator=g, dtype=f64)
        # SW against the first m points of both sets: how the "same-support" floor falls with the sample size
        sizes = [m for m in (250, 500, 1000, 1500, 2000, 2500, 3000, 3500, 5000, 7000, 10000) if m <= min(n, p["n_test"])]
        extras["curve"] = {"param": "n", "grid": sizes,
                           "sw": [float(_per_projection_w1(test[:m], other[:m], proj).mean()) for m in sizes]}
    elif target == "noisy":
        clean = SwissRoll().sample(n, generator=g, dtype=f64)
        eps = torch.randn(clean.shape, generator=g, dtype=f64)
        other = clean + math.sqrt(p["noise_var"]) * eps
        # common random numbers: the same clean points and noise, rescaled
        extras["curve"] = {"param": "noise_var", "grid": _NOISE_VAR_GRID,
                           "sw": [float(_per_projection_w1(test, clean + math.sqrt(v) * eps, proj).mean()) for v in _NOISE_VAR_GRID]}
    elif target == "gapped":
        other = SwissRoll.gapped().sample(n, generator=g, dtype=f64)
        extras["gap"] = list(SwissRoll.gapped().gap)
    else:
        c = _sphere_center(p["sphere_center"])
        u = Sphere(1.0, 3).sample(n, generator=g, dtype=f64)  # unit directions, rescaled below
        other = c + p["sphere_radius"] * u
        extras["curve"] = {"param": "sphere_radius", "grid": _RADIUS_GRID,
                           "sw": [float(_per_projection_w1(test, c + r * u, proj).mean()) for r in _RADIUS_GRID]}
        extras["sphere_center"] = c.tolist()
        extras["sphere_radius"] = float(p["sphere_radius"])
    w = _per_projection_w1(test, other, proj)
    L = w.numel()
    values = {
        "sliced_w": float(w.mean()),
        "sliced_w_se": float(w.std() / math.sqrt(L)) if L > 1 else 0.0,
        "thesis_sliced_w": float(THESIS_TABLE_4_2[target]),
    }
    return {"values": values, "extras": extras}


def _mean_curve(rows):
    curves = [r["extras"]["curve"] for r in rows if "curve" in (r.get("extras") or {})]
    if not curves:
        return None, None
    grid = curves[0]["grid"]
    curves = [c for c in curves if c["grid"] == grid]
    ys = [sum(c["sw"][i] for c in curves) / len(curves) for i in range(len(grid))]
    return grid, ys


def _analyse_manifold(rows: list) -> list:
    out = []
    by_target: dict = {}
    for r in rows:
        by_target.setdefault(r["params"]["target"], []).append(r)
    for target in _TARGETS:
        rs = by_target.get(target)
        if not rs:
            continue
        m, s = _mean_sd([r["values"]["sliced_w"] for r in rs])
        se = max(r["values"].get("sliced_w_se", 0.0) for r in rs)
        th = THESIS_TABLE_4_2[target]
        spread = max(s, se)
        p0 = rs[0]["params"]
        what = _TARGET_TEXT[target]
        if target == "noisy":
            what += f" (noise N(0, {p0['noise_var']:g} I), i.e. std {math.sqrt(p0['noise_var']):.3g})"
        elif target == "gapped":
            what += " (hole u in [3π, 4π], height in [7, 14]: our choice, the thesis gives no gap)"
        elif target == "sphere":
            what += f" (radius {p0['sphere_radius']:g}, centre {p0['sphere_center']})"
        out.append({
            "figure": f"Table 4.2: sliced W1 from the Swiss-roll test set to {what}",
            "ours": f"{_fmt(m, s)} (n={len(rs)} seeds; {p0['n_test']} vs {p0['n']} points, {p0['n_projections']} projections)",
            "thesis": f"{th:.4f}",
            "agrees": bool(abs(m - th) <= 2 * spread + 1e-12),
            "note": f"difference {m - th:+.4f} = {(m - th) / spread if spread > 0 else float('inf'):+.1f} sd over seeds",
        })
        if target == "same":
            grid, ys = _mean_curve(rs)
            if grid:
                # SW of two independent samples ~ c / sqrt(n): fit c on the curve, solve for the thesis's value
                c = sum(y * math.sqrt(x) for x, y in zip(grid, ys)) / len(grid)
                n_impl = (c / th) ** 2
                out.append({
                    "figure": "Table 4.2 'same roll' floor: sample size implied by the thesis's 0.1696 (SW ∝ 1/√n fitted on our curve)",
                    "ours": f"n ≈ {n_impl:.0f} points per set (c = {c:.2f})",
                    "thesis": "not stated in §4.2.3 (its §5.3 Swiss-roll experiment uses 3,500 test points)",
                    "agrees": None,
                    "note": "the fresh-roll distance is pure sampling noise; it pins down the sample size the table used",
                })
        if target == "noisy":
            grid, ys = _mean_curve(rs)
            if grid:
                xs = _interp_crossings(grid, ys, th)
                out.append({
                    "figure": "Table 4.2 noisy roll: noise variance reproducing the thesis's 0.2116 (mean curve over seeds)",
                    "ours": ", ".join(f"{x:.2f}" for x in xs) or "none on the grid",
                    "thesis": "variance 1.5 (Fig. 4.2 caption: N(0, 1.5 I))",
                    "agrees": None,
                    "note": "weakly identified: the same-roll floor (≈0.17) dominates at small noise",
                })
        if target == "sphere":
            grid, ys = _mean_curve(rs)
            if grid:
                xs = _interp_crossings(grid, ys, th)
                at10 = ys[grid.index(10.0)] if 10.0 in grid else float("nan")
                at1 = ys[grid.index(1.0)] if 1.0 in grid else float("nan")
                c0 = rs[0]["extras"].get("sphere_center", [0, 0, 0])
                out.append({
                    "figure": f"Table 4.2 sphere: radius (centre {c0}) that reproduces the thesis's 7.1068",
                    "ours": "r ≈ " + (" or ".join(f"{x:.2f}" for x in xs) if xs else "none in [0.25, 30]")
                            + f"; SW at r=1: {at1:.3f}, at r=10 (the library's Sphere default): {at10:.3f}",
                    "thesis": "7.1068; radius and centre not stated (Fig. 4.2 only)",
                    "agrees": bool(xs) and any(abs(x - 1.0) < 0.5 for x in xs),
                    "note": "the thesis's number fits a unit sphere at the origin (or a radius-≈22 one); a radius-10 "
                            "sphere at the origin gives about 5.3, far below 7.1, so it is not the thesis's sphere",
                })
    return out


manifold_distances = register(Experiment(
    name="manifold_distances",
    fn=_manifold_fn,
    defaults=dict(MANIFOLD_DEFAULTS),
    check=_check_manifold,
    titles={"sliced_w": "sliced W1 to the Swiss-roll test set", "sliced_w_se": "its MC standard error over projections",
            "thesis_sliced_w": "thesis Table 4.2"},
    estimators={"sliced_w": "mean over n_projections random directions of the exact 1-D W1 of the projected samples "
                            "(003 App. D.1; POT's definition with p=1)",
                "sliced_w_se": "sd of the per-projection W1 / sqrt(n_projections)",
                "thesis_sliced_w": "constant, 003 Table 4.2"},
    analyse=_analyse_manifold,
    thesis="003 §4.2.3, Table 4.2, Fig. 4.2",
    description="Sliced Wasserstein distance from a Swiss-roll test set to a fresh roll, a noisy roll (N(0, 1.5 I)), "
                "a gapped roll and a sphere. Sample sizes (3,500) and 100 projections follow the thesis's §5.3 "
                "Swiss-roll setting; the gap and the sphere are not specified in the thesis.",
))


# ====================================================================== 2. App. C.1
#: 003 App. C.1, Fig. C.1: scipy BFGS output on 100,000 N(0,1) samples
THESIS_ISM = {"n": 100_000, "M": 2.03381772e-04, "S": 9.99608632e-01, "J": -0.500391}

ISM_DEFAULTS = {"n": 100_000, "mu": 0.0, "sigma": 1.0, "init_M": 1.0, "init_S": 2.0, "max_iter": 200}


def _check_ism(p: dict) -> None:
    check_int("n", p["n"], 2)
    if p["n"] > 10_000_000:
        raise ValueError(f"n must be an integer in [2, 10000000], got {p['n']!r}")
    check_in_range("mu", p["mu"], -1e6, 1e6)
    check_positive("sigma", p["sigma"])
    check_in_range("init_M", p["init_M"], -1e6, 1e6)
    check_positive("init_S", p["init_S"])
    check_int("max_iter", p["max_iter"], 1)


def ism_objective(x: torch.Tensor, M, S) -> torch.Tensor:
    r"""Hyvärinen's empirical objective :math:`\hat J = \frac1N\sum_i \tfrac12\psi(x_i)^2 + \psi'(x_i)` for the
    model :math:`\mathcal N(M, S^2)` (``S`` the standard deviation), :math:`\psi(x) = -(x - M)/S^2`."""
    return (0.5 * (x - M) ** 2 / S**4).mean() - 1.0 / S**2


def _ism_fn(params: dict, seed: int) -> dict:
    p = {**ISM_DEFAULTS, **params}
    _check_ism(p)
    g = _gen(seed)
    x = p["mu"] + p["sigma"] * torch.randn(p["n"], generator=g, dtype=torch.float64)
    xbar = x.mean()
    v = ((x - xbar) ** 2).mean()  # biased (1/N) sample variance
    # closed form: J(M, S) = (v + (xbar - M)^2) / (2 S^4) - 1 / S^2  ->  M = xbar, S^2 = v, J_min = -1 / (2 v)
    M_cf, S_cf, J_cf = float(xbar), float(v.sqrt()), float(-0.5 / v)
    M = torch.tensor(float(p["init_M"]), dtype=torch.float64, requires_grad=True)
    S = torch.tensor(float(p["init_S"]), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([M, S], lr=1.0, max_iter=int(p["max_iter"]), tolerance_grad=1e-13, tolerance_change=1e-16,
                            history_size=20, line_search_fn="strong_wolfe")
    n_eval = [0]

    def closure():
        opt.zero_grad()
        J = ism_objective(x, M, S)
        J.backward()
        n_eval[0] += 1
        return J

    opt.step(closure)
    M_gd, S_gd = float(M.detach()), abs(float(S.detach()))
    J_gd = float(ism_objective(x, M.detach(), S.detach()))
    values = {
        "M_hat": M_cf,
        "S_hat": S_cf,
        "S_hat_variance": float(v),
        "S_hat_precision": float(1.0 / v),
        "J_min": J_cf,
        "M_gd": M_gd,
        "S_gd": S_gd,
        "J_gd": J_gd,
        "gd_error": max(abs(M_gd - M_cf), abs(S_gd - S_cf)),
        "gd_evals": float(n_eval[0]),
    }
    return {"values": values, "extras": {"model": "N(M, S^2), S = standard deviation", "optimiser": "torch LBFGS, strong Wolfe, float64"}}


def _ism_verdict() -> dict:
    """Which parameterisation of S the thesis's printed (J, Ŝ) imply: J_min = -1/(2v) fixes v."""
    v = -0.5 / THESIS_ISM["J"]
    cands = {"standard deviation (S = √v)": math.sqrt(v), "variance (S = v)": v, "precision (S = 1/v)": 1.0 / v}
    # J is printed to 6 digits: v is known to about ±1e-6 relative, far below the gaps between candidates
    best = min(cands, key=lambda k: abs(cands[k] - THESIS_ISM["S"]))
    return {"v": v, "candidates": cands, "best": best}


def _analyse_ism(rows: list) -> list:
    out = []
    by_n: dict = {}
    for r in rows:
        by_n.setdefault(int(r["params"]["n"]), []).append(r)
    n_th = THESIS_ISM["n"]
    rs = by_n.get(n_th)
    if rs is None and by_n:
        n_th = min(by_n, key=lambda k: abs(math.log(k / THESIS_ISM["n"])))
        rs = by_n[n_th]
    if rs:
        mM, sM = _mean_sd([r["values"]["M_hat"] for r in rs])
        mS, sS = _mean_sd([r["values"]["S_hat"] for r in rs])
        out.append({"figure": f"App. C.1: M̂ at n = {n_th:,} (closed form = sample mean)",
                    "ours": f"{mM:+.5f} ± {sM:.5f} ({len(rs)} seeds)", "thesis": f"{THESIS_ISM['M']:.4e} (caption: 0.000204)",
                    "agrees": bool(abs(mM - THESIS_ISM["M"]) <= 2 * max(sM, 1e-12)),
                    "note": f"sd of a sample mean is 1/√n = {1 / math.sqrt(n_th):.5f}: the thesis's M̂ is one such draw"})
        out.append({"figure": f"App. C.1: Ŝ at n = {n_th:,} (S = standard deviation; closed form √(sample variance))",
                    "ours": f"{mS:.5f} ± {sS:.5f}", "thesis": f"{THESIS_ISM['S']:.6f} (caption: 0.9996)",
                    "agrees": bool(abs(mS - THESIS_ISM["S"]) <= 2 * max(sS, 1e-12)),
                    "note": f"theory: sd(Ŝ) ≈ 1/√(2n) = {1 / math.sqrt(2 * n_th):.5f}; "
                            f"as variance or precision the sd would be ≈ √(2/n) = {math.sqrt(2 / n_th):.5f}, so |Ŝ−1| ≈ 4e-4 "
                            "is typical (< 1 sd) for all three: the spread alone cannot tell them apart"})
    ver = _ism_verdict()
    cand = "; ".join(f"{k}: {c:.6f}" for k, c in ver["candidates"].items())
    out.append({"figure": "App. C.1: parameterisation of S implied by the thesis's printed J and Ŝ",
                "ours": f"{ver['best']}  (J = -0.500391 ⇒ sample variance v = -1/(2J) = {ver['v']:.6f}; {cand})",
                "thesis": f"Ŝ = {THESIS_ISM['S']:.6f}; the text writes f = ½(x−M)ᵀS(x−M), i.e. S as a precision",
                "agrees": ver["best"].startswith("standard deviation"),
                "note": "the minimum of Hyvärinen's objective is -1/(2v) in every parameterisation, so the printed J "
                        "fixes v; only √v matches the printed Ŝ (to 6 digits). The thesis's formula (precision) is "
                        "inconsistent with its numbers; its optimiser was scipy BFGS with finite-difference gradients "
                        "(57 function evaluations = 3 × 19 gradient evaluations)."})
    errs = [r["values"]["gd_error"] for r in rows]
    if errs:
        out.append({"figure": "App. C.1: descent (LBFGS, float64) vs the closed-form minimiser",
                    "ours": f"max |Δ| = {max(errs):.2e} over {len(errs)} runs", "thesis": "gradient descent (Fig. C.1)",
                    "agrees": bool(max(errs) < 1e-6), "note": "the ISM minimiser is (sample mean, √(biased sample variance)) "
                    "— Hyvärinen's result that score matching equals maximum likelihood for Gaussians"})
    if len(by_n) >= 2:
        parts = []
        for n_, rs_ in sorted(by_n.items()):
            _, s_ = _mean_sd([r["values"]["S_hat"] for r in rs_])
            parts.append(f"n={n_:,}: {s_ * math.sqrt(2 * n_):.2f}")
        out.append({"figure": "sd(Ŝ)·√(2n) over the sample sizes (1 for a standard deviation)",
                    "ours": "; ".join(parts), "thesis": "—", "agrees": None,
                    "note": "the standard-deviation MLE has asymptotic sd 1/√(2n); an sd from k seeds is itself uncertain "
                            "by about 1/√(2(k−1)) (24% for 10 seeds)"})
    return out


ism_gaussian = register(Experiment(
    name="ism_gaussian",
    fn=_ism_fn,
    defaults=dict(ISM_DEFAULTS),
    check=_check_ism,
    titles={"M_hat": "M̂ (closed form)", "S_hat": "Ŝ as std (closed form)", "S_hat_variance": "Ŝ as variance",
            "S_hat_precision": "Ŝ as precision", "J_min": "min Ĵ", "M_gd": "M̂ (LBFGS)", "S_gd": "Ŝ (LBFGS)",
            "J_gd": "Ĵ at LBFGS", "gd_error": "|LBFGS − closed form|", "gd_evals": "objective evaluations"},
    estimators={"M_hat": "sample mean", "S_hat": "sqrt of the 1/N sample variance v",
                "S_hat_variance": "v", "S_hat_precision": "1/v", "J_min": "-1/(2v)",
                "M_gd": "torch LBFGS on Hyvärinen's objective, float64", "S_gd": "idem",
                "J_gd": "objective at the LBFGS point", "gd_error": "max of the two absolute differences",
                "gd_evals": "closure calls of LBFGS"},
    analyse=_analyse_ism,
    thesis="003 App. C.1, Fig. C.1",
    description="Implicit score matching of N(M, S^2) on N(0,1) samples: closed-form minimiser (sample mean, "
                "sqrt of the biased sample variance) and LBFGS; which parameterisation of S the thesis's "
                "M̂ = 0.000204, Ŝ = 0.9996, J = -0.500391 imply.",
))


# ====================================================================== 3. App. C.3
LANGEVIN_MEANS = [[-5.0, -5.0], [5.0, -5.0]]
LANGEVIN_WEIGHTS = [0.1, 0.9]
_SAMPLERS = ("langevin", "annealed_langevin", "reverse_sde")

LANGEVIN_DEFAULTS = {
    "sampler": "langevin",
    "n": 2000,
    "box": 7.0,
    "langevin_steps": 1000,
    "langevin_step_size": 0.01,
    "ald_levels": 100,
    "ald_inner": 20,
    "ald_step_size": 0.1,
    "ald_sigma_max": 20.0,
    "ald_sigma_min": 0.01,
    "sde_beta": 5.0,
    "sde_steps": 500,
    "t_min": 1e-3,
}


def _check_langevin(p: dict) -> None:
    if p["sampler"] not in _SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(_SAMPLERS)}, got {p['sampler']!r}")
    check_int("n", p["n"], 10)
    if p["n"] > 1_000_000:
        raise ValueError(f"n must be an integer in [10, 1000000], got {p['n']!r}")
    check_positive("box", p["box"])
    for k in ("langevin_steps", "ald_levels", "ald_inner", "sde_steps"):
        check_int(k, p[k], 1)
    check_in_range("langevin_step_size", p["langevin_step_size"], 0.0, 1.0, low_open=True, high_open=True)
    check_in_range("ald_step_size", p["ald_step_size"], 0.0, 1.0, low_open=True, high_open=True)
    check_positive("ald_sigma_min", p["ald_sigma_min"])
    if not check_positive("ald_sigma_max", p["ald_sigma_max"]) > p["ald_sigma_min"]:
        raise ValueError(f"ald_sigma_max must be > ald_sigma_min = {p['ald_sigma_min']}, got {p['ald_sigma_max']!r}")
    check_positive("sde_beta", p["sde_beta"])
    if p["sde_beta"] / p["sde_steps"] >= 1.0:
        raise ValueError(f"sde_steps must exceed sde_beta (beta*dt < 1 for a stable EM step), got {p['sde_steps']!r}")
    check_in_range("t_min", p["t_min"], 0.0, 0.5, low_open=True, high_open=True)


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple:
    """Wilson score interval for a binomial proportion k/n (95% by default)."""
    ph = k / n
    den = 1 + z * z / n
    centre = (ph + z * z / (2 * n)) / den
    half = z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def _langevin_fn(params: dict, seed: int) -> dict:
    p = {**LANGEVIN_DEFAULTS, **params}
    _check_langevin(p)
    g = _gen(seed)
    f64 = torch.float64
    gm = GaussianMixture(LANGEVIN_MEANS, stds=1.0, weights=LANGEVIN_WEIGHTS)
    n, s = p["n"], p["sampler"]
    if s == "langevin":
        # 003 App. C.3: particles uniform on [-7, 7]^2, plain (unadjusted) Langevin on the exact score of pi
        proc = VESDE(p["ald_sigma_min"], p["ald_sigma_max"])  # only its t_min score is used (sigma ~ 1e-5 at t_min)
        x0 = (2 * torch.rand((n, 2), generator=g, dtype=f64) - 1) * p["box"]
        x = langevin(gm.score_fn(proc), proc, (n, 2), steps=p["langevin_steps"], step_size=p["langevin_step_size"],
                     t_min=p["t_min"], x_init=x0, generator=g, dtype=f64)
        # the line of equal responsibilities, x = ln(w1/w2)/10 (≈ the score's watershed)
        init_small = float((x0[:, 0] < math.log(LANGEVIN_WEIGHTS[0] / LANGEVIN_WEIGHTS[1]) / 10).double().mean())
    elif s == "annealed_langevin":
        proc = VESDE(p["ald_sigma_min"], p["ald_sigma_max"])
        x = annealed_langevin(gm.score_fn(proc), proc, (n, 2), steps=p["ald_levels"], n_inner=p["ald_inner"],
                              step_size=p["ald_step_size"], t_min=p["t_min"], generator=g, dtype=f64)
        init_small = float("nan")
    else:
        b = p["sde_beta"]
        proc = OrnsteinUhlenbeck(0.0, b, math.sqrt(2 * b), 1.0)
        x = euler_maruyama(gm.score_fn(proc), proc, (n, 2), steps=p["sde_steps"], t_min=p["t_min"], generator=g, dtype=f64)
        init_small = float("nan")
    d1 = (x - torch.tensor(LANGEVIN_MEANS[0], dtype=f64)).norm(dim=1)
    d2 = (x - torch.tensor(LANGEVIN_MEANS[1], dtype=f64)).norm(dim=1)
    k = int((d1 < d2).sum())
    w = k / n
    # posterior responsibility of the small component under the true mixture
    logp = torch.stack([math.log(LANGEVIN_WEIGHTS[0]) - 0.5 * d1**2, math.log(LANGEVIN_WEIGHTS[1]) - 0.5 * d2**2], 1)
    w_resp = float(torch.softmax(logp, 1)[:, 0].mean())
    lo, hi = wilson_interval(k, n)
    ref = gm.sample(n, generator=g, dtype=f64)
    sw = sliced_wasserstein(x, ref, 100, generator=g)
    values = {
        "weight_small": w,
        "weight_small_resp": w_resp,
        "ci_low": lo,
        "ci_high": hi,
        "weight_error": w - LANGEVIN_WEIGHTS[0],
        "z_score": (w - LANGEVIN_WEIGHTS[0]) / math.sqrt(LANGEVIN_WEIGHTS[0] * LANGEVIN_WEIGHTS[1] / n),
        "far_fraction": float(((d1 > 4) & (d2 > 4)).double().mean()),
        "sliced_w_to_truth": sw,
    }
    extras = {"sampler": s, "count_small": k, "n": n}
    if s == "langevin":
        extras["init_fraction_left"] = init_small
    return {"values": values, "extras": extras}


def _analyse_langevin(rows: list) -> list:
    out = []
    by_s: dict = {}
    for r in rows:
        by_s.setdefault(r["params"]["sampler"], []).append(r)
    for s in _SAMPLERS:
        rs = by_s.get(s)
        if not rs:
            continue
        m, sd = _mean_sd([r["values"]["weight_small"] for r in rs])
        k = sum(int(r["extras"]["count_small"]) for r in rs)
        n = sum(int(r["extras"]["n"]) for r in rs)
        lo, hi = wilson_interval(k, n)
        mr, _ = _mean_sd([r["values"]["weight_small_resp"] for r in rs])
        pooled = f"pooled {k}/{n} = {k / n:.4f}, 95% Wilson CI [{lo:.4f}, {hi:.4f}]"
        if s == "langevin":
            inits = [r["extras"].get("init_fraction_left") for r in rs if r["extras"].get("init_fraction_left") is not None]
            mi, _ = _mean_sd(inits) if inits else (float("nan"), 0)
            out.append({"figure": "App. C.3: plain Langevin (exact score, uniform start on [-7,7]²), weight of the 0.1 mode",
                        "ours": f"{m:.4f} ± {sd:.4f} ({pooled}; responsibility-based {mr:.4f})",
                        "thesis": "≈ 0.5 ('converge to a different mixture with w_i ≈ 0.5'); true weight 0.1",
                        "agrees": bool(abs(m - 0.5) < 0.1 and lo > 0.1),
                        "note": f"the start put {mi:.3f} of the particles on the small mode's side of the x ≈ -0.22 line; almost none cross "
                                "the low-density strip (barrier ≈ 12.5 nats), so Langevin keeps the initial split"})
        else:
            name = {"annealed_langevin": "annealed Langevin (VE levels 20 → 0.01)",
                    "reverse_sde": "reverse SDE (OU β=5, EM)"}[s]
            covers = lo <= 0.1 <= hi
            out.append({"figure": f"App. C.3 remedy: {name}, weight of the 0.1 mode",
                        "ours": f"{m:.4f} ± {sd:.4f} ({pooled}; responsibility-based {mr:.4f})",
                        "thesis": "— (true weight 0.1; the thesis proposes annealing, §2.2.5)",
                        "agrees": bool(abs(m - 0.1) <= 0.02),
                        "note": ("the CI covers 0.1" if covers else
                                 f"close to 0.1 but the CI excludes it (bias {k / n - 0.1:+.4f}: finite annealing/step size)")})
    return out


langevin_weights = register(Experiment(
    name="langevin_weights",
    fn=_langevin_fn,
    defaults=dict(LANGEVIN_DEFAULTS),
    check=_check_langevin,
    titles={"weight_small": "weight on the 0.1 mode (nearest mean)", "weight_small_resp": "weight (responsibility)",
            "ci_low": "95% CI low", "ci_high": "95% CI high", "weight_error": "weight − 0.1",
            "z_score": "(weight − 0.1)/binomial sd", "far_fraction": "fraction > 4 from both means",
            "sliced_w_to_truth": "sliced W1 to a sample of π"},
    estimators={"weight_small": "fraction of samples nearer (-5,-5) than (5,-5)",
                "weight_small_resp": "mean posterior responsibility of the small component under π",
                "ci_low": "Wilson score interval (95%) of the fraction", "ci_high": "idem",
                "weight_error": "weight_small − 0.1", "z_score": "weight_error / sqrt(0.1·0.9/n)",
                "far_fraction": "fraction of samples at distance > 4 from both means",
                "sliced_w_to_truth": "sliced W1 (100 projections) to n fresh samples of π"},
    analyse=_analyse_langevin,
    thesis="003 App. C.3, Fig. C.4 (and §2.2.4–2.2.5)",
    description="Plain Langevin, annealed Langevin and the reverse SDE, each with the exact score, on "
                "0.1·N((-5,-5), I) + 0.9·N((5,-5), I); the weight each puts on the small mode against 0.1.",
))
