"""Sinkhorn divergence, assessed distances with floors, W1 lower confidence limits, MMD precision."""
import json
import math

import numpy as np
import ot
import pytest
import torch

from scoreuq.metrics import mmd, wasserstein, wasserstein_1d
from scoreuq.metrics.resolved import assess, frechet_from_features, frechet_with_floor, w1_lower_bound
from scoreuq.metrics.sinkhorn import entropic_ot, sinkhorn_divergence


pytestmark = pytest.mark.usefixtures("one_thread")


def _clouds(d, n=60, m=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, d, generator=g, dtype=torch.float64)
    b = torch.randn(m, d, generator=g, dtype=torch.float64) * 0.7 + 0.8
    return a, b


# ---------------------------------------------------------------- Sinkhorn divergence
def test_entropic_cost_equals_pot_primal_value():
    a, b = _clouds(2)
    C = torch.cdist(a, b)
    for eps in (1.0, 0.2):
        want = float(ot.solve(C, reg=eps, reg_type="KL", max_iter=100_000, tol=1e-12).value)
        assert entropic_ot(a, b, blur=eps, tol=1e-10) == pytest.approx(want, rel=1e-7)


@pytest.mark.parametrize("d", [1, 2])
def test_sinkhorn_p1_goes_to_exact_w1(d):
    a, b = _clouds(d)
    w1 = wasserstein(a, b)
    if d == 1:
        assert w1 == pytest.approx(wasserstein_1d(a[:, 0], b[:, 0]), rel=1e-10)
    errs = [abs(sinkhorn_divergence(a, b, blur=e, p=1) - w1) / w1 for e in (0.3, 0.1, 0.03, 0.01)]
    assert all(e1 < e0 for e0, e1 in zip(errs, errs[1:])), errs
    assert errs[-1] < 0.1, errs


@pytest.mark.parametrize("d", [1, 2])
def test_sinkhorn_p2_goes_to_exact_squared_w2(d):
    a, b = _clouds(d)
    M = torch.cdist(a, b).square().numpy()
    w22 = float(ot.emd2(np.full(len(a), 1 / len(a)), np.full(len(b), 1 / len(b)), M))
    if d == 1:  # quantile closed form
        assert w22 == pytest.approx(wasserstein_1d(a[:, 0], b[:, 0], p=2) ** 2, rel=1e-9)
    errs = [abs(sinkhorn_divergence(a, b, blur=e, p=2) - w22) / w22 for e in (1.0, 0.1, 0.03)]
    assert all(e1 < e0 for e0, e1 in zip(errs, errs[1:])), errs
    assert errs[-1] < 0.02, errs


def test_sinkhorn_nonnegative_and_zero_on_identical_samples():
    a, b = _clouds(3, n=40, m=40, seed=3)
    for p in (1, 2):
        for blur in (2.0, 0.2):
            assert sinkhorn_divergence(a, a.clone(), blur=blur, p=p) == pytest.approx(0.0, abs=1e-9)
            assert sinkhorn_divergence(a, b, blur=blur, p=p) > 0
            # close but different clouds: still >= 0 up to the solver tolerance
            assert sinkhorn_divergence(a, a + 1e-3, blur=blur, p=p) > -1e-6
    # far from the origin and in float32: same value (costs are computed on centred float64 data)
    v = sinkhorn_divergence(a, b, blur=0.5)
    assert sinkhorn_divergence((a + 1e4).float().double(), (b + 1e4).float().double(), blur=0.5) == pytest.approx(v, rel=1e-3)


def test_sinkhorn_bad_input():
    a, b = _clouds(2, n=5, m=5)
    with pytest.raises(ValueError, match="blur"):
        sinkhorn_divergence(a, b, blur=0.0)
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        sinkhorn_divergence(a, b, blur=0.1, p=3)
    with pytest.raises(ValueError, match="scaling"):
        sinkhorn_divergence(a, b, blur=0.1, scaling=1.0)
    with pytest.raises(ValueError, match="b contains NaN"):
        sinkhorn_divergence(a, torch.full((3, 2), float("nan")), blur=0.1)


# ---------------------------------------------------------------- assess
def _sw(x, y):
    from scoreuq.metrics import sliced_wasserstein

    return sliced_wasserstein(x, y, projections=torch.eye(x.shape[1], dtype=x.dtype))


def test_assess_resolves_a_shift_and_not_a_perfect_model():
    g = torch.Generator().manual_seed(0)
    ref = torch.randn(600, 2, generator=g, dtype=torch.float64)
    good = torch.randn(200, 2, generator=g, dtype=torch.float64)
    bad = torch.randn(200, 2, generator=g, dtype=torch.float64) + torch.tensor([0.5, 0.0], dtype=torch.float64)
    r_bad = assess(_sw, bad, ref, n_boot=100, generator=g)  # reference split: 200 for the floor, 400 for ref_a
    assert r_bad.resolved and r_bad.n == 200 and r_bad.n_reference == 400
    assert r_bad.excess == pytest.approx(r_bad.value - r_bad.floor)
    assert r_bad.excess_ci[0] > 0 and r_bad.ci[0] <= r_bad.value <= r_bad.ci[1]
    r_good = assess(_sw, good, ref[:400], ref[400:], n_boot=100, generator=g)
    assert not r_good.resolved
    assert r_good.floor_ci[0] <= r_good.floor <= r_good.floor_ci[1]
    d = json.loads(json.dumps(r_good.to_dict()))
    assert set(d) >= {"value", "floor", "spread", "ci", "floor_ci", "resolved", "estimator", "n"}
    # subsampling for costly estimators (exact W1): a few replicates of 50 points
    r_w1 = assess(wasserstein, bad, ref[:400], ref[400:], n_boot=10, subsample=50, generator=g)
    assert r_w1.resample == "subsample(50, 50)" and "subsampl" in r_w1.estimator


def test_assess_floor_uses_the_generated_size_and_validates():
    g = torch.Generator().manual_seed(1)
    ref_a, ref_b = torch.randn(300, 2, generator=g), torch.randn(300, 2, generator=g)
    r = assess(_sw, torch.randn(100, 2, generator=g), ref_a, ref_b, n_boot=10, generator=g)
    assert r.n == 100
    with pytest.raises(ValueError, match="n_boot"):
        assess(_sw, ref_a, ref_a, ref_b, n_boot=2)
    with pytest.raises(ValueError, match="level"):
        assess(_sw, ref_a, ref_a, ref_b, level=1.0)
    with pytest.raises(ValueError, match="reference_a must hold at least"):
        assess(_sw, ref_a, ref_b)
    with pytest.raises(ValueError, match="reference_b must have trailing shape"):
        assess(_sw, ref_a, ref_a, torch.zeros(10, 3))
    with pytest.raises(ValueError, match="generated contains NaN"):
        assess(_sw, torch.full((5, 2), float("nan")), ref_a, ref_b)


def test_frechet_features_equal_fid_and_floor():
    import scoreuq as su
    from scoreuq.metrics.fid import FeatureClassifier

    torch.manual_seed(0)
    clf = FeatureClassifier((1, 8, 8), 10, num_features=16).eval()
    g = torch.Generator().manual_seed(0)
    real = torch.rand(400, 1, 8, 8, generator=g)
    fake = torch.rand(300, 1, 8, 8, generator=g) * 0.7 + 0.1
    with torch.no_grad():
        fr, ff = clf(real), clf(fake)
    assert frechet_from_features(fr, ff) == pytest.approx(su.metrics.frechet_distance(real, fake, clf), rel=1e-3, abs=1e-6)
    r = frechet_with_floor(fake[:150], real[:250], real[250:], feature_model=clf, n_boot=50, generator=g)
    assert r.resolved and r.value > r.floor > 0 and r.n == 150


# ---------------------------------------------------------------- W1 lower confidence limits
@pytest.mark.parametrize("method", ["hoeffding", "normal"])
def test_w1_lower_bound_covers_the_true_w1(method):
    """N(m1, I) vs N(m2, I): W1 = |m1 - m2| (a translation). 40 seeded repeats."""
    g = torch.Generator().manual_seed(7)
    d, shift, reps = 3, 1.0, 40
    below = 0
    for _ in range(reps):
        x = torch.randn(150, d, generator=g, dtype=torch.float64)
        y = torch.randn(150, d, generator=g, dtype=torch.float64)
        y[:, 0] += shift
        out = w1_lower_bound(x, y, method=method, n_directions=32, n_sliced=8, refine_steps=20, generator=g)
        below += out["max_sliced_lcl"] <= shift and out["sliced_lcl"] <= shift
    assert below >= 37, below  # >= ~95% (binomial slack)


def test_w1_lower_bound_positive_for_a_large_shift_and_not_for_equal_laws():
    g = torch.Generator().manual_seed(8)
    x = torch.randn(400, 4, generator=g, dtype=torch.float64)
    y = torch.randn(400, 4, generator=g, dtype=torch.float64) + torch.tensor([2.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    out = w1_lower_bound(x, y, generator=g)
    assert 0 < out["max_sliced_lcl"] <= math.sqrt(5) and 0 < out["sliced_lcl"] <= out["max_sliced_lcl"]
    assert json.dumps(out)
    nonpos = 0
    for _ in range(20):
        x = torch.randn(200, 4, generator=g, dtype=torch.float64)
        y = torch.randn(200, 4, generator=g, dtype=torch.float64)
        out = w1_lower_bound(x, y, method="normal", n_directions=32, n_sliced=8, refine_steps=20, generator=g)
        nonpos += out["max_sliced_lcl"] <= 0
        assert out["insample_max_sliced_w1"] > 0  # the plug-in value is biased upward
    assert nonpos >= 18


def test_w1_lower_bound_bad_input():
    x = torch.zeros(10, 2)
    with pytest.raises(ValueError, match="split"):
        w1_lower_bound(x, x, split=1.0)
    with pytest.raises(ValueError, match="method"):
        w1_lower_bound(x, x, method="bootstrap")
    with pytest.raises(ValueError, match="too small"):
        w1_lower_bound(torch.zeros(3, 2), x)


# ---------------------------------------------------------------- MMD precision
def test_mmd_far_from_origin_in_float32_matches_float64():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 10, generator=g, dtype=torch.float64)
    y = torch.randn(300, 10, generator=g, dtype=torch.float64) * 1.1 + 0.2
    for off in (1e3, 1e5):
        xf, yf = (x + off).float(), (y + off).float()
        ref = mmd(xf.double(), yf.double(), 1.0)  # same values, float64
        assert mmd(xf, yf, 1.0) == pytest.approx(ref, rel=1e-6)
    assert mmd((x + 1e3).float(), (y + 1e3).float(), 1.0) == pytest.approx(mmd(x, y, 1.0), rel=1e-3)
