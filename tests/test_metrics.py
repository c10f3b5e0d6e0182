"""Metrics against scipy, POT, a direct LP, closed forms and numerical integration (float64)."""
import math

import numpy as np
import ot
import pytest
import torch

import scoreuq as su
from scipy import integrate, optimize, stats

from scoreuq import metrics
from scoreuq.metrics import ConvergenceError


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- 1-D
def test_wasserstein_1d_equals_scipy_any_sizes_and_weights():
    r = rng(1)
    for n, m in [(50, 50), (37, 91), (1, 13)]:
        a, b = r.normal(size=n), r.standard_t(3, size=m) + 0.5
        wa, wb = r.random(n), r.random(m)
        assert metrics.wasserstein_1d(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12, abs=1e-12)
        assert metrics.wasserstein_1d(a, b, a_weights=wa, b_weights=wb) == pytest.approx(
            stats.wasserstein_distance(a, b, wa, wb), rel=1e-10, abs=1e-12
        )


@pytest.mark.parametrize("p", [1, 2, 3.5])
def test_wasserstein_1d_p_equals_pot(p):
    r = rng(2)
    a, b = r.normal(size=40), r.exponential(size=70)
    ref = ot.wasserstein_1d(a, b, p=p) ** (1 / p)
    assert metrics.wasserstein_1d(a, b, p=p) == pytest.approx(ref, rel=1e-10)


# ---------------------------------------------------------------- exact W1
def lp_w1(a, b):
    """Direct LP of the transport problem with scipy's HiGHS (independent of POT)."""
    n, m = len(a), len(b)
    C = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2).ravel()
    A_eq = np.zeros((n + m, n * m))
    for i in range(n):
        A_eq[i, i * m : (i + 1) * m] = 1
    for j in range(m):
        A_eq[n + j, j::m] = 1
    b_eq = np.concatenate([np.full(n, 1 / n), np.full(m, 1 / m)])
    res = optimize.linprog(C, A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    return res.fun


def test_exact_w1_equals_direct_lp():
    r = rng(3)
    for n, m, d in [(7, 5, 2), (12, 9, 3)]:
        a, b = r.normal(size=(n, d)), r.normal(size=(m, d)) + 0.7
        assert metrics.wasserstein(a, b) == pytest.approx(lp_w1(a, b), rel=1e-7)


def test_exact_w1_between_shifted_gaussians():
    g = torch.Generator().manual_seed(4)
    a = torch.randn(800, 1, generator=g, dtype=torch.float64)
    b = torch.randn(800, 1, generator=g, dtype=torch.float64) + 10
    # W1(N(0,1), N(10,1)) = 10; the empirical value errs by O(n^{-1/2})
    assert metrics.wasserstein(a, b) == pytest.approx(10.0, abs=0.15)
    # in 1-D the exact LP equals the quantile formula
    assert metrics.wasserstein(a, b) == pytest.approx(metrics.wasserstein_1d(a[:, 0], b[:, 0]), rel=1e-9)


def test_exact_w1_shift_and_scale_rules():
    r = rng(5)
    a, b = r.normal(size=(60, 3)), r.laplace(size=(45, 3))
    w = metrics.wasserstein(a, b)
    c = np.array([3.0, -1.0, 2.0])
    assert metrics.wasserstein(a + c, b + c) == pytest.approx(w, rel=1e-9)
    assert metrics.wasserstein(-2.5 * a, -2.5 * b) == pytest.approx(2.5 * w, rel=1e-9)
    assert metrics.wasserstein(a, a + c) == pytest.approx(np.linalg.norm(c), rel=1e-9)
    assert metrics.wasserstein(a, a) == pytest.approx(0.0, abs=1e-12)


def test_exact_w2_against_gaussian_closed_form_in_1d():
    a = np.sort(rng(6).normal(size=300))
    b = 2 * a + 1  # an affine push-forward: the monotone map is optimal, W2 exact
    assert metrics.wasserstein(a, b, p=2) == pytest.approx(math.sqrt(np.mean((a - b) ** 2)), rel=1e-9)


def test_exact_w1_reports_non_convergence():
    r = rng(7)
    with pytest.raises(ConvergenceError, match="num_iter_max"):
        metrics.wasserstein(r.normal(size=(200, 2)), r.normal(size=(200, 2)), num_iter_max=10)


# ---------------------------------------------------------------- sliced
def test_sliced_identical_clouds_is_zero_and_1d_is_exact():
    g = torch.Generator().manual_seed(8)
    a = torch.randn(300, 5, generator=g, dtype=torch.float64)
    assert metrics.sliced_wasserstein(a, a.clone(), generator=g) == 0.0
    x, y = torch.randn(200, 1, generator=g, dtype=torch.float64), torch.randn(150, 1, generator=g, dtype=torch.float64) * 2
    for p in (1, 2):
        assert metrics.sliced_wasserstein(x, y, n_projections=3, p=p, generator=g) == pytest.approx(
            metrics.wasserstein_1d(x[:, 0], y[:, 0], p=p), rel=1e-10
        )


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("sizes", [(400, 400), (400, 250)])
def test_sliced_equals_pot_for_same_directions(p, sizes):
    g = torch.Generator().manual_seed(9)
    a = torch.randn(sizes[0], 10, generator=g, dtype=torch.float64)
    b = torch.randn(sizes[1], 10, generator=g, dtype=torch.float64) * 1.5 + 0.3
    th = metrics.random_directions(10, 50, generator=g, dtype=torch.float64)
    ours = metrics.sliced_wasserstein(a, b, p=p, projections=th)
    ref = ot.sliced_wasserstein_distance(a.numpy(), b.numpy(), n_projections=50, p=p, projections=th.numpy())
    assert ours == pytest.approx(float(ref), rel=1e-10)


def test_sliced_is_a_lower_bound_of_exact_w1():
    g = torch.Generator().manual_seed(10)
    a = torch.randn(200, 4, generator=g, dtype=torch.float64)
    b = torch.randn(200, 4, generator=g, dtype=torch.float64) + torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)
    assert metrics.sliced_wasserstein(a, b, 200, generator=g) <= metrics.wasserstein(a, b)


def test_directions_are_uniform_on_the_sphere():
    th = metrics.random_directions(3, 20000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(th.norm(dim=0), torch.ones(20000, dtype=torch.float64))
    assert stats.kstest(th[2].numpy(), stats.uniform(-1, 2).cdf).pvalue > 1e-3  # Archimedes


# ---------------------------------------------------------------- MMD
def brute_mmd2(x, y, h):
    k = lambda u, v: math.exp(-np.sum((u - v) ** 2) / (2 * h * h))  # noqa: E731
    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_mmd_equals_brute_force_unbiased_formula():
    r = rng(11)
    x, y = r.normal(size=(15, 2)), r.normal(size=(11, 2)) + 0.5
    assert metrics.mmd(x, y, bandwidth=0.8) == pytest.approx(brute_mmd2(x, y, 0.8), rel=1e-10)
    assert metrics.mmd(x, y, bandwidth=[0.5, 2.0]) == pytest.approx(brute_mmd2(x, y, 0.5) + brute_mmd2(x, y, 2.0), rel=1e-10)


def test_mmd_is_unbiased_for_equal_laws():
    g = torch.Generator().manual_seed(12)
    vals = [
        metrics.mmd(torch.randn(30, 3, generator=g, dtype=torch.float64), torch.randn(40, 3, generator=g, dtype=torch.float64))
        for _ in range(400)
    ]
    mean, se = np.mean(vals), np.std(vals) / math.sqrt(len(vals))
    assert abs(mean) < 3.5 * se, (mean, se)
    assert min(vals) < 0  # the unbiased estimator takes negative values


def test_mmd_detects_a_shift():
    g = torch.Generator().manual_seed(13)
    x = torch.randn(300, 2, generator=g, dtype=torch.float64)
    assert metrics.mmd(x, x + 1.0, bandwidth="median") > 0.05


# ---------------------------------------------------------------- Gaussian closed forms
def test_kl_gaussian_against_torch_and_quadrature():
    r = rng(14)
    A, B = r.normal(size=(3, 3)), r.normal(size=(3, 3))
    S1, S2 = A @ A.T + np.eye(3), B @ B.T + 0.5 * np.eye(3)
    m1, m2 = r.normal(size=3), r.normal(size=3)
    ref = torch.distributions.kl_divergence(
        torch.distributions.MultivariateNormal(torch.tensor(m1), torch.tensor(S1)),
        torch.distributions.MultivariateNormal(torch.tensor(m2), torch.tensor(S2)),
    )
    assert metrics.kl_gaussian(m1, S1, m2, S2) == pytest.approx(float(ref), rel=1e-10)
    p, q = stats.norm(0.3, 1.2), stats.norm(-1.0, 0.7)
    quad = integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), -20, 20)[0]
    assert metrics.kl_gaussian(0.3, 1.44, -1.0, 0.49) == pytest.approx(quad, rel=1e-8)


def test_w2_gaussian_closed_forms():
    # 1-D: W2^2 = dm^2 + (s1 - s2)^2
    assert metrics.w2_gaussian(1.0, 4.0, -2.0, 0.25) == pytest.approx(math.sqrt(9 + 1.5**2))
    # commuting (diagonal) covariances: sum over coordinates
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([0.25, 1.0, 16.0])
    ref = math.sqrt(np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2) + 4.0)
    assert metrics.w2_gaussian([0, 0, 0], v1, [2, 0, 0], v2) == pytest.approx(ref, rel=1e-10)
    # general covariances: POT's Bures-Wasserstein
    r = rng(15)
    A, B = r.normal(size=(4, 4)), r.normal(size=(4, 4))
    S1, S2 = A @ A.T + 0.1 * np.eye(4), B @ B.T + 0.1 * np.eye(4)
    m1, m2 = r.normal(size=4), r.normal(size=4)
    pot = float(ot.gaussian.bures_wasserstein_distance(m1, m2, S1, S2))
    assert metrics.w2_gaussian(m1, S1, m2, S2) == pytest.approx(pot, rel=1e-6)


@pytest.mark.parametrize("params", [(0.0, 1.0, 2.0, 1.0), (0.5, 1.0, -1.0, 3.0), (1.0, 2.0, 1.0, 0.5)])
def test_w1_gaussian_1d_equals_quantile_integral(params):
    m1, s1, m2, s2 = params
    f = lambda u: abs(stats.norm.ppf(u, m1, s1) - stats.norm.ppf(u, m2, s2))  # noqa: E731
    quad = integrate.quad(f, 0, 1, limit=200)[0]
    assert metrics.w1_gaussian_1d(m1, s1, m2, s2) == pytest.approx(quad, rel=1e-7)


def exact_tv_1d(m1, s1, m2, s2):
    p, q = stats.norm(m1, s1), stats.norm(m2, s2)
    lo, hi = min(m1 - 12 * s1, m2 - 12 * s2), max(m1 + 12 * s1, m2 + 12 * s2)
    grid = np.linspace(lo, hi, 400001)
    return 0.5 * np.trapezoid(np.abs(p.pdf(grid) - q.pdf(grid)), grid)


def test_tv_bounds_hold_and_the_seed_typo_does_not():
    r = rng(16)
    for _ in range(40):
        m1, m2 = r.normal(size=2) * 2
        s1, s2 = np.exp(r.normal(size=2))
        tv = exact_tv_1d(m1, s1, m2, s2)
        assert metrics.tv_bound_gaussian_1d(m1, s1, m2, s2) >= tv - 1e-9
        assert metrics.tv_bound_gaussian(m1, s1**2, m2, s2**2) >= tv - 1e-9
    # 003 Lemma 5.2 as printed (without the factor 3) is violated: s2 -> 0 gives TV -> 1 > 1/2
    m, s1, s2 = 0.0, 1.0, 0.05
    seed_bound = abs(s1**2 - s2**2) / (2 * s1**2)
    assert exact_tv_1d(m, s1, m, s2) > seed_bound + 0.3


# ---------------------------------------------------------------- circle metrics
def test_w1_to_uniform_equals_scipy_on_a_fine_grid():
    x = rng(17).uniform(0, 2 * math.pi, size=57) ** 1.1 % (2 * math.pi)
    grid = (np.arange(200000) + 0.5) / 200000 * 2 * math.pi
    assert metrics.w1_to_uniform(x) == pytest.approx(stats.wasserstein_distance(x, grid), abs=1e-4)


def test_circle_metrics_ordering():
    """003 §4.1: off the circle > on a subset (training set) > spread over the circle."""
    r = rng(18)
    ang = r.uniform(0, 2 * math.pi, 3000)
    on_circle = np.stack([np.cos(ang), np.sin(ang)], 1)
    train = np.stack([np.cos(np.arange(8) * math.pi / 4), np.sin(np.arange(8) * math.pi / 4)], 1)
    memorised = train[r.integers(0, 8, 3000)] + r.normal(scale=1e-3, size=(3000, 2))
    off = r.normal(size=(3000, 2)) * 0.3 + 2.5
    c2 = [metrics.c2(x) for x in (off, memorised, on_circle)]
    assert c2[0] > c2[1] > c2[2] and c2[2] < 0.1
    assert metrics.c1(memorised, train) < metrics.c1(on_circle, train)
    assert metrics.c1(train, train) == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: metrics.wasserstein_1d([1.0, float("nan")], [0.0]), "a contains NaN"),
        (lambda: metrics.wasserstein_1d([1.0], [0.0], p=0.5), "p must be >= 1"),
        (lambda: metrics.wasserstein(np.zeros((3, 2)), np.zeros((3, 3))), "b must have 2 columns"),
        (lambda: metrics.wasserstein(np.zeros((3, 2, 1)), np.zeros((3, 2))), r"a must have shape \(n, d\)"),
        (lambda: metrics.sliced_wasserstein(torch.zeros(3, 2), torch.zeros(3, 2), n_projections=0), "n_projections"),
        (lambda: metrics.sliced_wasserstein(torch.tensor([[0.0, float("nan")]]), torch.zeros(3, 2)), "a contains NaN"),
        (lambda: metrics.sliced_wasserstein(torch.zeros(3, 2), torch.tensor([[float("inf"), 0.0]])), "b contains NaN"),
        (lambda: metrics.mmd(np.zeros((3, 2)), np.ones((3, 2)), bandwidth=-1.0), "bandwidth must be a finite number > 0"),
        (lambda: metrics.mmd(np.zeros((1, 2)), np.ones((3, 2))), "at least 2"),
        (lambda: metrics.kl_gaussian(0.0, 0.0, 0.0, 1.0), "positive definite"),
        (lambda: metrics.w1_gaussian_1d(0.0, -1.0, 0.0, 1.0), "s1"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_c1_is_circular_and_literal_definition_kept():
    """A sample concentrated on the training points (one at angle 0) must score far better than a
    uniform one; the literal [0, 2pi) definition charges the half of the cluster at angle 0 that
    lies below 2pi for crossing the cut (about 2pi/16), the circular W1 does not."""
    import math

    import ot

    circ = su.data.Circle(8)
    train = circ.train_points()
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 8, (2000,), generator=g)
    mem = train[idx] + 0.02 * torch.randn(2000, 2, generator=g, dtype=torch.float64)
    uni = circ.sample(2000, generator=g, dtype=torch.float64)
    assert su.metrics.c1(mem, train) < 0.5 * su.metrics.c1(uni, train)
    assert su.metrics.c1(mem, train, circular=False) > 0.3 > 3 * su.metrics.c1(mem, train)
    # angle part against POT's circle W1 computed on the raw coordinates
    r_part = su.metrics.wasserstein_1d(su.metrics.polar(mem)[0], su.metrics.polar(train)[0])
    want = float(ot.wasserstein_circle(ot.utils.get_coordinate_circle(mem.numpy())[:, None], ot.utils.get_coordinate_circle(train.numpy())[:, None], p=1)[0]) * 2 * math.pi
    assert su.metrics.c1(mem, train) - r_part == pytest.approx(want, rel=1e-6)


def test_frechet_distance_is_squared_w2_of_fitted_gaussians():
    from scoreuq.metrics.fid import FeatureClassifier

    torch.manual_seed(0)
    clf = FeatureClassifier((1, 8, 8), 10, num_features=16).eval()
    g = torch.Generator().manual_seed(0)
    real = torch.rand(400, 1, 8, 8, generator=g)
    fake = (torch.rand(300, 1, 8, 8, generator=g) * 0.7 + 0.1)
    fd = su.metrics.frechet_distance(real, fake, clf)
    with torch.no_grad():
        fr, ff = clf(real).double(), clf(fake).double()
    w2 = su.metrics.w2_gaussian(fr.mean(0), torch.cov(fr.T), ff.mean(0), torch.cov(ff.T))
    assert fd == pytest.approx(w2**2, rel=1e-3, abs=1e-6)
    assert su.metrics.frechet_distance(real, real, clf) == pytest.approx(0.0, abs=1e-4)


def test_feature_classifier_learns_digits():
    d = su.data.load_digits()
    model, acc = su.metrics.train_feature_classifier(d.images[:1400], d.labels[:1400], epochs=20, seed=0,
                                                     test_images=d.images[1400:], test_labels=d.labels[1400:])
    assert acc > 0.8
    assert su.metrics.classify(model, d.images[:5]).shape == (5,)


def test_metrics_are_symmetric_in_dtype():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(200, 4, generator=g, dtype=torch.float64)
    b = torch.randn(200, 4, generator=g, dtype=torch.float64) + 0.3
    proj = metrics.random_directions(4, 50, generator=g, dtype=torch.float64)
    s1 = metrics.sliced_wasserstein(a.float(), b, projections=proj)
    s2 = metrics.sliced_wasserstein(a, b.float(), projections=proj)
    assert abs(s1 - s2) < 1e-6
    assert metrics.mmd(a.float(), b) == pytest.approx(metrics.mmd(a, b.float()), rel=1e-6)
