"""Tests of the forward-process compute-only experiments (scoreuq.experiments.forward)."""
import json
import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from scoreuq.experiments import EXPERIMENTS, get
from scoreuq.experiments import forward as fw
from scoreuq.metrics.wasserstein import random_directions, sliced_wasserstein, wasserstein_1d

NAMES = ["forward_gmm", "forward_circles", "forward_cauchy", "discretisation"]
FINDING_KEYS = {"figure", "ours", "thesis", "agrees", "note"}


def _run(name, seed=0, **params):
    e = get(name)
    p = dict(e.defaults)
    p.update(params)
    e.check(p)
    out = e.fn(p, seed)
    json.dumps(out.get("extras", {}))
    for k, v in out["values"].items():
        assert isinstance(v, float) and math.isfinite(v), (name, k, v)
    return {"params": p, "seed": seed, "values": out["values"], "extras": out.get("extras", {})}


def _check_findings(findings):
    assert findings
    for f in findings:
        assert set(f) == FINDING_KEYS
        assert isinstance(f["ours"], str) and isinstance(f["thesis"], str)
        assert f["agrees"] in (True, False, None)
        assert "nan" not in f["ours"].lower()


def test_registered():
    for n in NAMES:
        assert n in EXPERIMENTS
        e = get(n)
        assert e.thesis.startswith("003")
        assert set(e.titles) >= set(k for k in e.estimators)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_finite(name):
    # smaller samples for the circles to keep the suite fast; everything else at its defaults
    extra = {"n_per_component": 1000, "n_prior": 1000} if name == "forward_circles" else {}
    r = _run(name, **extra)
    assert r["values"]


# --------------------------------------------------------------------------- forward_gmm
def _mixture_pdf(x, m):
    return 0.5 * (stats.norm.pdf(x - m) + stats.norm.pdf(x + m))


@pytest.mark.parametrize("m", [1e-3, 0.05, 0.35, 1.0, 3.0, 50.0, 3.7e4])
def test_gmm_w1_quadrature_matches_closed_form(m):
    q = fw.w1_sym_mixture_vs_normal(m)
    c = fw.w1_sym_mixture_vs_normal_closed(m)
    assert q == pytest.approx(c, rel=1e-9, abs=1e-14)
    if m < 1e-2:
        assert q == pytest.approx(m * m / math.sqrt(2 * math.pi), rel=1e-3)  # small-m expansion φ(0)m²
    if m > 10:
        assert q == pytest.approx(m - math.sqrt(2 / math.pi), rel=1e-9)


@pytest.mark.parametrize("m", [0.35, 2.0])
def test_gmm_w1_against_scipy_on_fine_grid(m):
    x = np.linspace(-m - 12, m + 12, 48001)
    ref = stats.wasserstein_distance(x, x, _mixture_pdf(x, m), stats.norm.pdf(x))
    assert fw.w1_sym_mixture_vs_normal(m) == pytest.approx(ref, rel=1e-5)


def test_gmm_beta_star_hits_tol_and_grid_is_first_point_below():
    r = _run("forward_gmm", mu=1000.0, tol=0.05)
    v = r["values"]
    mu = 1000.0
    assert fw.w1_sym_mixture_vs_normal(mu * math.exp(-v["beta_star"])) == pytest.approx(0.05, abs=1e-10)
    assert v["beta_star"] == pytest.approx(math.log(mu) - math.log(v["m_star"]), abs=1e-12)
    b = v["beta_star_grid"]
    assert v["grid_reached"] == 1.0 and v["clamped_at_beta_min"] == 0.0
    assert v["beta_star"] < b <= v["beta_star"] + 0.1 + 1e-9
    assert v["w1_at_beta_star_grid"] < 0.05
    assert fw.w1_sym_mixture_vs_normal(mu * math.exp(-(b - 0.1))) >= 0.05
    # exact slope 1 in ln μ
    r2 = _run("forward_gmm", mu=10.0)
    assert r["values"]["beta_star"] - r2["values"]["beta_star"] == pytest.approx(math.log(100.0), abs=1e-9)


def test_gmm_unreached_and_clamped_are_reported():
    r = _run("forward_gmm", mu=1e5, beta_max=5.0)
    assert r["values"]["grid_reached"] == 0.0 and r["values"]["beta_star_grid"] == 5.0
    assert "no beta" in r["extras"]["note"]
    r = _run("forward_gmm", mu=0.5)
    assert r["values"]["clamped_at_beta_min"] == 1.0 and r["values"]["beta_star_grid"] == 1.0


def test_gmm_analyse():
    rows = [_run("forward_gmm", mu=10 ** (k / 2)) for k in range(0, 11, 2)]
    f = get("forward_gmm").analyse(rows)
    _check_findings(f)
    assert f[0]["ours"].startswith("1.0000")


# --------------------------------------------------------------------------- forward_circles
SMALL = {"n_per_component": 1000, "n_prior": 1000, "n_projections": 50}


def test_circles_fast_projected_w1_matches_library():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 2)) * [1.0, 2.0]
    b = rng.standard_normal((1000, 2))
    theta = random_directions(2, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    th = theta.numpy()
    pb = np.repeat(np.sort((b @ th).T, axis=1), 2, axis=1)
    fast = fw._projected_w1(np.ascontiguousarray((a @ th).T), pb)
    ref = sliced_wasserstein(torch.from_numpy(a), torch.from_numpy(b), projections=theta)
    assert fast == pytest.approx(ref, rel=1e-10)


def test_circles_beta_star_increases_with_mu_and_meets_tol():
    stars = []
    for mu in (3.0, 100.0, 1e4):
        r = _run("forward_circles", mu=mu, **SMALL)
        v = r["values"]
        assert v["reached"] == 1.0
        assert v["sw_at_beta_star"] < 0.05
        assert 0 < v["sw_floor"] < v["sw_at_beta_max"] + 0.02  # the floor is what is left at large β
        stars.append(v["beta_star"])
    assert stars[0] < stars[1] < stars[2]
    # roughly ln μ + const: the rise from μ = 100 to 1e4 is close to ln 100
    assert stars[2] - stars[1] == pytest.approx(math.log(100.0), abs=0.5)


def test_circles_search_equals_full_scan():
    p = dict(get("forward_circles").defaults, mu=300.0, **SMALL)
    r = _run("forward_circles", mu=300.0, **SMALL)
    sw, _ = fw.circles_sw_function(p, 0)
    grid = fw._beta_grid(1.0, 20.0, 0.1)
    vals = np.array([sw(b) for b in grid[(grid > 3) & (grid < 10)]])
    first = grid[(grid > 3) & (grid < 10)][np.argmax(vals < 0.05)]
    assert r["values"]["beta_star"] == pytest.approx(first)
    assert r["values"]["clamped_at_beta_min"] == 0.0


def test_circles_em_and_unaligned_sizes_run():
    r = _run("forward_circles", mu=10.0, scheme="em", dt=0.01, **SMALL)
    assert r["values"]["reached"] == 1.0
    r2 = _run("forward_circles", mu=10.0, n_per_component=300, n_prior=500, n_projections=20, beta_grid_step=0.5)
    assert 0 < r2["values"]["sw_floor"] < 0.5


def test_circles_deterministic_and_analyse():
    a = _run("forward_circles", mu=10.0, **SMALL)
    b = _run("forward_circles", mu=10.0, **SMALL)
    assert a["values"] == b["values"]
    rows = [_run("forward_circles", seed=s, mu=mu, **SMALL) for s in (0, 1) for mu in (1.0, 10.0, 1e3, 1e5)]
    f = get("forward_circles").analyse(rows)
    _check_findings(f)


# --------------------------------------------------------------------------- forward_cauchy
def _integrate_real_line(f):
    g = lambda u: f(math.tan(u)) / math.cos(u) ** 2  # noqa: E731
    return integrate.quad(g, -math.pi / 2, math.pi / 2, limit=400, epsabs=1e-13)[0]


@pytest.mark.parametrize("t", [0.0, 0.05, 0.3, 1.0])
def test_voigt_density_integrates_to_one(t):
    assert _integrate_real_line(lambda x: fw.voigt_pdf(x, t, 5.0, 10.0)) == pytest.approx(1.0, abs=1e-9)


def test_voigt_matches_simulated_samples():
    t, gamma, beta = 0.2, 5.0, 10.0
    rng = np.random.default_rng(3)
    c, s = math.exp(-beta * t), math.sqrt(-math.expm1(-2 * beta * t))
    x = c * fw.cauchy_sample(gamma, 200_000, rng) + s * rng.standard_normal(200_000)
    edges = np.array([-np.inf, -20, -5, -3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 5, 20, np.inf])
    counts = np.histogram(x, edges)[0]
    lo = np.arctan(edges[:-1])
    hi = np.arctan(edges[1:])
    probs = np.array([integrate.quad(lambda u: fw.voigt_pdf(math.tan(u), t, gamma, beta) / math.cos(u) ** 2, a, b)[0]
                      for a, b in zip(lo, hi)])
    assert probs.sum() == pytest.approx(1.0, abs=1e-8)
    chi2 = float(((counts - x.size * probs) ** 2 / (x.size * probs)).sum())
    assert stats.chi2.sf(chi2, len(probs) - 1) > 1e-3


def _tv_direct(t, gamma=5.0, beta=10.0, L=60.0):
    """TV by plain quadrature on [0, L] (split at the crossings) plus the tail mass beyond L of p_t."""
    f = lambda x: fw.voigt_pdf(x, t, gamma, beta) - stats.norm.pdf(x)  # noqa: E731
    xs = np.linspace(0, L, 60001)
    fx = f(xs)
    knots = [0.0] + [float(xs[i]) for i in np.flatnonzero(np.sign(fx[:-1]) != np.sign(fx[1:]))] + [L]
    core = sum(abs(integrate.quad(f, a, b, limit=200, epsabs=1e-15)[0]) for a, b in zip(knots[:-1], knots[1:]))
    mass_in = integrate.quad(lambda x: fw.voigt_pdf(x, t, gamma, beta), 0, L, limit=200, epsabs=1e-15)[0]
    return core + (0.5 - mass_in)  # tail beyond L: p_t − φ ≈ p_t (φ(60) is 0 in float64)


@pytest.mark.parametrize("t", [0.01, 0.2, 0.5, 1.0])
def test_tv_quadrature_accuracy(t):
    assert fw.tv_voigt_vs_normal(t, 5.0, 10.0) == pytest.approx(_tv_direct(t), rel=1e-5, abs=1e-9)


def test_tv_in_unit_interval_and_decreasing():
    ts = [0.0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
    tv = [fw.tv_voigt_vs_normal(t, 5.0, 10.0) for t in ts]
    assert all(0.0 <= v <= 1.0 for v in tv)
    assert all(a > b for a, b in zip(tv[:-1], tv[1:]))
    tstar = fw._t_tv_below(0.05, 5.0, 10.0)
    assert fw.tv_voigt_vs_normal(tstar, 5.0, 10.0) == pytest.approx(0.05, abs=1e-6)


def test_cauchy_w1_equal_sizes_matches_library():
    rng = np.random.default_rng(1)
    a, b = fw.cauchy_sample(1.0, 5000, rng), rng.standard_normal(5000)
    assert fw._w1_equal_sizes(a, b) == pytest.approx(wasserstein_1d(a, b), rel=1e-12)


def test_cauchy_sample_w1_grows_with_n():
    r = _run("forward_cauchy", t=0.05, ns=[100, 100000], n_reps=25)
    v = r["values"]
    assert v["w1_sample_n100000"] > v["w1_sample_n100"]
    w = np.array(r["extras"]["w1_sample_replicates"])
    assert (w[:, 1] > w[:, 0]).mean() > 0.6  # most replicates grow (the sample W1 is heavy-tailed)
    # median growth close to the tail theory (2γe^{-βt}/π) ln(1000)
    assert v["w1_growth"] == pytest.approx(v["w1_growth_tail_theory"], rel=0.6)
    # thesis's arithmetic: P(|x0| ≤ e^5) = 0.979 at βt = 10
    r1 = _run("forward_cauchy", t=1.0, ns=[100, 1000], n_reps=1)
    assert r1["values"]["mass_p0_residual_le_eps"] == pytest.approx(0.979, abs=5e-4)


def test_cauchy_analyse():
    rows = [_run("forward_cauchy", seed=s, t=t, ns=[100, 10000], n_reps=3) for s in (0, 1) for t in (0.05, 0.5, 1.0)]
    f = get("forward_cauchy").analyse(rows)
    _check_findings(f)
    assert len(f) == 3


# --------------------------------------------------------------------------- discretisation
@pytest.mark.parametrize("beta,dt,seed", [(11.0, 0.01, 0), (55.0, 0.005, 1), (99.0, 0.01, 2), (3.0, 0.05, 0)])
def test_discretisation_mc_matches_exact(beta, dt, seed):
    r = _run("discretisation", seed=seed, beta=beta, dt=dt)
    v = r["values"]
    assert abs(v["error_mc"] - v["error_exact"]) < 4 * v["error_se"]


def test_discretisation_exact_by_quadrature_over_x0():
    # independent evaluation of E|D| (small β so that the X0 term matters): the difference given X0 = x
    # is N(c x, s²); integrate the folded-normal mean against the mixture density of X0
    beta, dt, mu = 2.0, 0.05, 5.0
    n = round(1 / dt)
    a, b = math.exp(-beta * dt), 1 - beta * dt
    c = a**n - b**n
    # s² by brute force: the covariance of the 2n Gaussian increments, as a quadratic form
    v_w, v_i, cov = dt, -math.expm1(-2 * beta * dt) / (2 * beta), -math.expm1(-beta * dt) / beta
    s2 = 0.0
    for k in range(n):
        wa, wb = a ** (n - 1 - k), b ** (n - 1 - k)
        vec = np.array([wa, -wb])
        s2 += 2 * beta * vec @ np.array([[v_i, cov], [cov, v_w]]) @ vec
    sd = math.sqrt(s2)

    def folded(x):
        m = c * x
        return sd * math.sqrt(2 / math.pi) * math.exp(-m * m / (2 * s2)) + m * special.erf(m / (sd * math.sqrt(2)))

    dens = lambda x: 0.5 * (stats.norm.pdf(x - mu) + stats.norm.pdf(x + mu))  # noqa: E731
    ref = integrate.quad(lambda x: folded(x) * dens(x), -20, 20, points=[-mu, mu], limit=200)[0]
    assert fw.strong_error_exact(beta, dt, 1.0, mu) == pytest.approx(ref, rel=1e-9)


def test_discretisation_depends_on_beta_dt_only_and_analyse():
    # equal up to the X0 term, of order e^{-βT}
    assert fw.strong_error_exact(22.0, 0.005) == pytest.approx(fw.strong_error_exact(11.0, 0.01), rel=1e-5)
    assert fw.strong_error_exact(60.0, 0.005) == pytest.approx(fw.strong_error_exact(30.0, 0.01), rel=1e-10)
    rows = [_run("discretisation", seed=0, beta=b, dt=d, n_paths=2000) for d in (0.005, 0.01) for b in (11.0, 44.0, 77.0)]
    f = get("discretisation").analyse(rows)
    _check_findings(f)
    assert len(f) == 2


# --------------------------------------------------------------------------- checks
BAD = [
    ("forward_gmm", {"tol": 0.0}, "tol"),
    ("forward_gmm", {"tol": -1}, "tol"),
    ("forward_gmm", {"mu": 0.0}, "mu"),
    ("forward_gmm", {"mu": -3}, "mu"),
    ("forward_gmm", {"beta_max": 0.5}, "beta_max"),
    ("forward_gmm", {"beta_grid_step": 0}, "beta_grid_step"),
    ("forward_gmm", {"beta_grid_step": 100.0}, "beta_grid_step"),
    ("forward_circles", {"mu": -1}, "mu"),
    ("forward_circles", {"tol": 0}, "tol"),
    ("forward_circles", {"n_per_component": 0}, "n_per_component"),
    ("forward_circles", {"n_prior": 2.5}, "n_prior"),
    ("forward_circles", {"n_projections": 0}, "n_projections"),
    ("forward_circles", {"scheme": "rk4"}, "scheme"),
    ("forward_circles", {"scheme": "em", "dt": 0.0}, "dt"),
    ("forward_circles", {"scheme": "em", "dt": 1.5}, "dt"),
    ("forward_circles", {"scheme": "em", "dt": 0.03}, "dt"),
    ("forward_circles", {"scheme": "em", "dt": 0.125, "beta_max": 20.0}, "beta_max"),
    ("forward_cauchy", {"t": -0.1}, "t"),
    ("forward_cauchy", {"gamma": 0}, "gamma"),
    ("forward_cauchy", {"beta": -1}, "beta"),
    ("forward_cauchy", {"tv_tol": 0}, "tv_tol"),
    ("forward_cauchy", {"ns": []}, "ns"),
    ("forward_cauchy", {"ns": [0, 10]}, "ns"),
    ("forward_cauchy", {"ns": [-5]}, "ns"),
    ("forward_cauchy", {"ns": [100, 10]}, "ns"),
    ("forward_cauchy", {"n_reps": 0}, "n_reps"),
    ("discretisation", {"dt": 0.0}, "dt"),
    ("discretisation", {"dt": 1.0}, "dt"),
    ("discretisation", {"dt": -0.01}, "dt"),
    ("discretisation", {"dt": 0.003}, "dt"),
    ("discretisation", {"beta": 0}, "beta"),
    ("discretisation", {"beta": 300.0, "dt": 0.01}, "beta"),
    ("discretisation", {"n_paths": 0}, "n_paths"),
    ("discretisation", {"T": 0}, "T"),
]


@pytest.mark.parametrize("name,bad,param", BAD)
def test_check_rejects_bad_input(name, bad, param):
    e = get(name)
    p = dict(e.defaults)
    p.update(bad)
    with pytest.raises(ValueError, match=param):
        e.check(p)
    with pytest.raises(ValueError, match=param):
        e.fn(p, 0)


@pytest.mark.parametrize("name", NAMES)
def test_check_accepts_defaults(name):
    e = get(name)
    e.check(dict(e.defaults))
