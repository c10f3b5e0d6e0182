"""SIEM (seed 004): the radial projection of the sampling trajectory, float64, exact mixture scores."""
import functools
import math

import pytest
import torch

from scoreuq import sampling
from scoreuq.data import GaussianMixture
from scoreuq.metrics import trajectory as siem_mod
from scoreuq.metrics.trajectory import SIEMRecorder, siem
from scoreuq.processes import VPSDE, OrnsteinUhlenbeck

GM = GaussianMixture([[-1.5, 0.0], [1.5, 0.0]], stds=0.5, weights=[1.0, 3.0])
OU = OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=math.sqrt(2.0), T=5.0)
N, STEPS = 3000, 100
DELTAS = [0.0, 0.1, 0.2, 0.4]
SHIFT = torch.tensor([1.0, 1.0], dtype=torch.float64) / math.sqrt(2.0)


def _perturbed(kind, delta):
    s0 = GM.score_fn(OU)
    if kind == "scale":  # s + delta * s: a mis-scaled ("temperature") score
        return lambda x, t: (1.0 + delta) * s0(x, t)
    return lambda x, t: s0(x, t) + delta * SHIFT  # s + delta * e: a constant shift


@functools.lru_cache(maxsize=None)
def _run(kind, delta):
    """One EM run (same generator seed for every delta) recorded on the fly; its ``variants`` also
    hold the reference-free ``drift_qv``."""
    rec = SIEMRecorder(reference=GM, process=OU)
    g = torch.Generator().manual_seed(0)
    sampling.euler_maruyama(_perturbed(kind, delta), OU, (N, 2), steps=STEPS, generator=g, dtype=torch.float64, callback=rec)
    return rec


@pytest.mark.parametrize("window", [0.1, 1.0])
def test_exact_score_sits_at_the_monte_carlo_floor(window):
    r = _run("scale", 0.0).result(window=window)
    assert r.name == "deviation_l2" and r.steps_used == math.ceil(window * STEPS)
    assert r.floor > 0 and r.mu.shape == (r.steps_used + 1,)
    # with the exact score the particles are independent draws of p_t: E[value] = floor (up to the
    # O(dt) bias of Euler-Maruyama); mu_t is strongly autocorrelated, so a one-run ratio spreads
    # like a chi-square with few degrees of freedom
    assert 0.05 < r.ratio < 5.0, r


@pytest.mark.parametrize("window", [0.1, 1.0])
def test_score_scaling_raises_siem_monotonically(window):
    vals = [_run("scale", d).result(window=window).value for d in DELTAS]
    assert all(a < b for a, b in zip(vals, vals[1:])), vals
    r = _run("scale", 0.1).result(window=window)
    assert r.ratio > 5, r  # delta = 0.1 is already well above the floor, also in the first 10%
    # the reference-free drift QV sees it too in the first 10% (the exact projected drift ~ 0 there)
    if window == 0.1:
        drift = [_run("scale", d).result(window=window).variants["drift_qv"] for d in DELTAS]
        assert all(a < b for a, b in zip(drift, drift[1:])), drift
        assert drift[1] > 5 * drift[0], drift


def test_shift_is_seen_over_the_whole_run():
    """A constant shift is invisible to first order to a bump centred on the (symmetric) prior,
    so it shows over the whole run (where p_t is no longer symmetric about c), not in the first 10%."""
    vals = [_run("shift", d).result(window=1.0).value for d in DELTAS]
    assert all(a < b for a, b in zip(vals, vals[1:])), vals
    early = _run("shift", 0.1).result(window=0.1).ratio
    assert early < 5, early  # (a second-order effect appears at delta = 0.4)


def test_reference_free_drift_qv_is_not_a_quality_signal_over_the_whole_run():
    """Without a reference the whole-run drift QV is dominated by the exact projected drift dm*/dt:
    a shifted score lowers it; this is why the default with a reference is deviation_l2."""
    d0 = _run("shift", 0.0).result(window=1.0).variants["drift_qv"]
    d4 = _run("shift", 0.4).result(window=1.0).variants["drift_qv"]
    assert d4 < d0


def test_recorder_equals_trajectory_and_callback_keeps_samples():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    rec, seen = SIEMRecorder(reference=GM, process=OU), []

    def cb(k, t, x, noise):
        rec(k, t, x, noise)
        seen.append(noise)

    score = GM.score_fn(OU)
    res = sampling.euler_maruyama(score, OU, (500, 2), steps=60, generator=g1, dtype=torch.float64, return_trajectory=True)
    again = sampling.euler_maruyama(score, OU, (500, 2), steps=60, generator=g2, dtype=torch.float64, callback=cb)
    assert torch.equal(again, res.samples)
    assert seen[0] is None and seen[-1] is None and len(seen) == 61  # prior draw; denoised last step
    for w in [0.1, 0.5, 1.0]:
        a = rec.result(window=w)
        b = siem(res, window=w, reference=GM, process=OU, noise=seen[1:])
        assert a.value == b.value and a.variants == b.variants and torch.equal(a.mu, b.mu)
        assert a.steps_used == b.steps_used == math.ceil(w * 60)
    assert "SIEM[deviation_l2]" in str(a) and "floor" in str(a)
    # without noise only the noise-free estimators exist
    assert set(siem(res, reference=GM, process=OU).variants) == {"raw_qv", "deviation_l2", "deviation_qv"}


@pytest.mark.parametrize("fn", [sampling.euler_maruyama, sampling.predictor_corrector, sampling.probability_flow,
                                sampling.langevin, sampling.annealed_langevin])
def test_callback_leaves_every_sampler_bit_identical(fn):
    proc = VPSDE()
    score = GM.score_fn(proc)
    calls = []
    a = fn(score, proc, (64, 2), steps=10, generator=torch.Generator().manual_seed(1), dtype=torch.float64, return_trajectory=True)
    b = fn(score, proc, (64, 2), steps=10, generator=torch.Generator().manual_seed(1), dtype=torch.float64,
           callback=lambda k, t, x, xi: calls.append((k, t, x, xi)))
    assert torch.equal(a.samples, b)
    assert [c[0] for c in calls] == list(range(11))
    for k, t, x, xi in calls:
        assert torch.equal(x, a.path[k])
        if fn is not sampling.langevin:
            assert t == pytest.approx(float(a.times[k]))
        if fn is sampling.probability_flow or k == 0:
            assert xi is None
    if fn is sampling.euler_maruyama:  # the handed increment is the one added
        k, t, x, xi = calls[3]
        tt = torch.full((64,), float(a.times[2]), dtype=torch.float64)
        dt = float(a.times[2] - a.times[3])
        x_mean = a.path[2] - proc.reverse_drift(a.path[2], tt, score(a.path[2], tt)) * dt
        assert torch.allclose(x - xi, x_mean, atol=1e-12)
        assert float(xi.var()) == pytest.approx(float(proc.diffusion(tt)[0]) ** 2 * dt, rel=0.3)


def test_reference_projection_matches_monte_carlo():
    g = torch.Generator().manual_seed(2)
    x0 = GM.sample(20000, generator=g, dtype=torch.float64)
    phi = siem_mod.RadialTestFunction(torch.zeros(2, dtype=torch.float64), 1.0, 1.0)
    ts = torch.tensor([0.05, 0.5, 2.0])
    exact = siem_mod.reference_projection(GM, OU, ts, phi)
    pts = siem_mod.reference_projection(x0, OU, ts, phi)
    for i, t in enumerate(ts.tolist()):
        xt, _ = OU.perturb(x0, t, generator=g)
        mc = phi.values(xt)
        assert abs(float(mc.mean()) - float(exact[i])) < 4 * float(mc.std()) / math.sqrt(len(mc))
        assert abs(float(pts[i]) - float(exact[i])) < 4 * float(mc.std()) / math.sqrt(len(mc))


def test_scale_free_across_dimensions():
    """phi(x) = exp(-|x - c|^2 / (2 h^2 d sigma0^2)): on the prior its mean tends to exp(-1/(2h^2)) for any d."""
    for d in [2, 64, 784]:
        x = torch.randn(4000, d, generator=torch.Generator().manual_seed(d), dtype=torch.float64)
        phi = siem_mod.RadialTestFunction(torch.zeros(d, dtype=torch.float64), 1.0, 1.0)
        assert float(phi.values(x).mean()) == pytest.approx((1 + 1 / d) ** (-d / 2), rel=0.02)
    assert (1 + 1 / 784) ** -392 == pytest.approx(math.exp(-0.5), rel=1e-3)


def test_bad_inputs():
    res = sampling.euler_maruyama(GM.score_fn(OU), OU, (50, 2), steps=5, generator=torch.Generator().manual_seed(0),
                                  dtype=torch.float64, return_trajectory=True)
    for w in [0, -0.1, 1.5, float("nan"), "0.1", True]:
        with pytest.raises(ValueError, match="window"):
            siem(res, window=w)
    with pytest.raises(ValueError, match="at least two states"):
        siem(res.path[:1], res.times[:1])
    with pytest.raises(ValueError, match="times"):
        siem(res.path, res.times[:-1])
    with pytest.raises(ValueError, match="process is required"):
        siem(res, reference=GM)
    with pytest.raises(ValueError, match="needs the noise"):
        siem(res, estimator="drift_qv")
    with pytest.raises(ValueError, match="needs a reference"):
        siem(res, estimator="deviation_l2")
    with pytest.raises(ValueError, match="estimator must be"):
        siem(res, estimator="fid")
    with pytest.raises(ValueError, match="scale"):
        siem(res, scale=0.0)
    with pytest.raises(ValueError, match="coordinates"):
        siem(res, reference=torch.zeros(10, 3), process=OU)
    rec = SIEMRecorder()
    with pytest.raises(ValueError, match="no trajectory"):
        rec.result()
    with pytest.raises(ValueError, match="expected state k = 0"):
        rec(3, 1.0, res.path[3], None)
    with pytest.raises(ValueError, match="window"):
        rec.result(window=0)
