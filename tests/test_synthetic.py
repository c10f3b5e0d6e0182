"""Synthetic data sets: exact densities and scores against autograd, scipy and simulation."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from scoreuq.data import Cauchy, Circle, Disc3D, Empirical, GaussianMixture, Sphere, SwissRoll, UnionOfCircles
from scoreuq.processes import VESDE, VPSDE, OrnsteinUhlenbeck

PROCESSES = [
    OrnsteinUhlenbeck(alpha=[0.5, -1.0, 2.0], beta=1.3, sigma=0.9, T=2.0),
    VPSDE(),
    VESDE(sigma_min=0.02, sigma_max=10.0),
]


def mixtures():
    means = [[-2.0, 0.0, 1.0], [3.0, 1.0, -1.0]]
    A = torch.tensor([[1.0, 0.4, 0.0], [0.4, 0.5, 0.1], [0.0, 0.1, 0.8]], dtype=torch.float64)
    return {
        "isotropic": GaussianMixture(means, stds=[0.5, 1.2], weights=[0.1, 0.9]),
        "diagonal": GaussianMixture(means, stds=[[0.5, 1.0, 0.3], [1.2, 0.7, 2.0]], weights=[0.3, 0.7]),
        "full": GaussianMixture(means, weights=[0.25, 0.75], covariances=torch.stack([A, 2 * A @ A.T])),
    }


def autograd_score(logp_fn, x):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(logp_fn(x).sum(), x)
    return g


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
def test_log_prob_matches_scipy(kind, gen):
    gm = mixtures()[kind]
    x = torch.randn(50, 3, generator=gen, dtype=torch.float64) * 2
    cov = gm.covariances().numpy()
    dens = sum(
        float(w) * stats.multivariate_normal(mean=m.numpy(), cov=c).pdf(x.numpy())
        for w, m, c in zip(gm.weights, gm.means, cov)
    )
    assert np.allclose(gm.log_prob(x).numpy(), np.log(dens), atol=1e-10)


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
@pytest.mark.parametrize("proc", PROCESSES, ids=["ou", "vp", "ve"])
def test_marginal_score_is_autograd_of_marginal_log_prob(kind, proc, gen):
    gm = mixtures()[kind]
    x = torch.randn(40, 3, generator=gen, dtype=torch.float64) * 2
    for t in [0.0, 1e-3, 0.3, proc.T]:
        s = gm.marginal_score(x, t, proc) if t > 0 else gm.score(x)
        ref = autograd_score(lambda y: gm.marginal_log_prob(y, t, proc), x)
        assert torch.allclose(s, ref, atol=1e-9, rtol=1e-7), (kind, t)
    # per-sample times
    t = torch.rand(40, generator=gen, dtype=torch.float64) * proc.T
    ref = autograd_score(lambda y: gm.marginal_log_prob(y, t, proc), x)
    assert torch.allclose(gm.marginal_score(x, t, proc), ref, atol=1e-9, rtol=1e-7)


@pytest.mark.parametrize("proc", PROCESSES, ids=["ou", "vp", "ve"])
def test_marginal_matches_pushing_samples_forward(proc, gen):
    """The mixture at time t (closed form) has the moments of perturbed data samples."""
    gm = mixtures()["full"]
    t = 0.4
    x0 = gm.sample(40000, generator=gen, dtype=torch.float64)
    xt, _ = proc.perturb(x0, t, generator=gen)
    gt = gm.at(t, proc)
    assert torch.allclose(xt.mean(0), gt.mean(), atol=0.05)
    assert torch.allclose(torch.cov(xt.T), gt.covariance(), atol=0.1, rtol=0.03)
    # and the log-density of gm.at(t) is the marginal log-density
    y = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    assert torch.allclose(gt.log_prob(y), gm.marginal_log_prob(y, t, proc), atol=1e-10)


def test_sampling_weights_and_moments(gen):
    gm = GaussianMixture([[-5.0], [5.0]], stds=1.0, weights=[1, 9])
    x = gm.sample(20000, generator=gen, dtype=torch.float64)
    share = float((x[:, 0] < 0).double().mean())
    assert abs(share - 0.1) < 0.01
    assert abs(float(x.mean()) - float(gm.mean())) < 0.06
    assert abs(float(x.var()) - float(gm.covariance())) < 0.3


def test_empirical_score_is_mixture_of_points(gen):
    pts = Circle(n_train=8).train_points(torch.float64)
    emp = Empirical(pts)
    ou = OrnsteinUhlenbeck()
    x = torch.randn(20, 2, generator=gen, dtype=torch.float64)
    ref = autograd_score(lambda y: emp.marginal_log_prob(y, 0.01, ou), x)
    assert torch.allclose(emp.marginal_score(x, 0.01, ou), ref, atol=1e-8)
    with pytest.raises(ValueError, match="t > 0"):
        emp.log_prob(x)
    s = emp.sample(100, generator=gen)
    assert torch.cdist(s.double(), pts).min(1).values.max() < 1e-6


def test_large_mixture_is_chunked(gen):
    """The one-component-per-point mixture (the smoothed empirical law) in 64-D evaluates in chunks."""
    pts = torch.randn(3000, 64, generator=gen, dtype=torch.float64)
    emp = Empirical(pts)
    ou = OrnsteinUhlenbeck()
    x = torch.randn(6000, 64, generator=gen, dtype=torch.float64)
    s_full = emp._eval(x, 0.2, ou, True)
    s_chunked = emp._eval(x, 0.2, ou, True, chunk=777)
    assert torch.allclose(s_full, s_chunked)


def test_cauchy_inverse_cdf_sampling_and_score(gen):
    c = Cauchy(loc=1.0, scale=5.0, dim=2)
    x = c.sample(20000, generator=gen, dtype=torch.float64)
    assert stats.kstest(x[:, 1].numpy(), stats.cauchy(loc=1.0, scale=5.0).cdf).pvalue > 1e-3
    y = torch.randn(10, 2, generator=gen, dtype=torch.float64) * 10
    assert np.allclose(c.log_prob(y).numpy(), stats.cauchy(1.0, 5.0).logpdf(y.numpy()).sum(1))
    assert torch.allclose(c.score(y), autograd_score(c.log_prob, y))
    assert float(c.cdf(c.icdf(torch.tensor([0.3], dtype=torch.float64)))) == pytest.approx(0.3)


def test_circle_sets(gen):
    c = Circle(n_train=8, radius=2.0)
    tr, te = c.train_points(torch.float64), c.test_points(torch.float64)
    assert torch.allclose(tr.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    assert torch.allclose(te.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    # the test set is disjoint from the training set (rotated by half the spacing)
    assert torch.cdist(tr, te).min() > 0.5
    # the literal pi/4 rotation of the seed maps 8 points onto themselves
    lit = Circle(n_train=8, test_rotation=math.pi / 4)
    assert torch.cdist(lit.train_points(torch.float64), lit.test_points(torch.float64)).min(1).values.max() < 1e-12
    x = c.sample(5000, generator=gen, dtype=torch.float64)
    ang = torch.remainder(torch.atan2(x[:, 1], x[:, 0]), 2 * math.pi) / (2 * math.pi)
    assert stats.kstest(ang.numpy(), "uniform").pvalue > 1e-3


def test_union_of_circles(gen):
    u = UnionOfCircles(mu=4.0, radius=1.0, n_train=8)
    x = u.sample(4000, generator=gen, dtype=torch.float64)
    d = torch.minimum((x - torch.tensor([4.0, 0.0], dtype=torch.float64)).norm(dim=1), (x + torch.tensor([4.0, 0.0], dtype=torch.float64)).norm(dim=1))
    assert torch.allclose(d, torch.ones_like(d))
    assert abs(float((x[:, 0] > 0).double().mean()) - 0.5) < 0.03
    assert u.train_points().shape == (16, 2) and u.test_points().shape == (16, 2)


def test_swiss_roll_variants(gen):
    plain = SwissRoll().sample(3000, generator=gen, dtype=torch.float64)
    u = torch.sqrt(plain[:, 0] ** 2 + plain[:, 2] ** 2)  # |u| = radius in the x-z plane
    assert float(u.min()) >= 1.5 * math.pi - 1e-9 and float(u.max()) <= 4.5 * math.pi + 1e-9
    gapped = SwissRoll.gapped()
    g = gapped.sample(3000, generator=gen, dtype=torch.float64)
    ug, y = torch.sqrt(g[:, 0] ** 2 + g[:, 2] ** 2), g[:, 1]
    lo, hi, ylo, yhi = gapped.gap
    assert not bool(((ug > lo) & (ug < hi) & (y > ylo) & (y < yhi)).any())
    noisy = SwissRoll(noise=math.sqrt(1.5)).sample(3000, generator=gen, dtype=torch.float64)
    assert noisy.shape == (3000, 3)


def test_sphere_and_disc(gen):
    s = Sphere(radius=3.0).sample(2000, generator=gen, dtype=torch.float64)
    assert torch.allclose(s.norm(dim=1), torch.full((2000,), 3.0, dtype=torch.float64))
    # uniform on the sphere: each coordinate / r is U(-1, 1) in 3-D (Archimedes)
    assert stats.kstest((s[:, 2] / 3.0).numpy(), stats.uniform(-1, 2).cdf).pvalue > 1e-3
    d = Disc3D(radius=2.0).sample(2000, generator=gen, dtype=torch.float64)
    assert bool((d[:, 2] == 0).all())
    r2 = (d[:, :2] ** 2).sum(1) / 4.0
    assert stats.kstest(r2.numpy(), "uniform").pvalue > 1e-3


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GaussianMixture([[0.0]], stds=-1.0), "stds"),
        (lambda: GaussianMixture([[0.0], [1.0]], weights=[1.0, -1.0]), "weights"),
        (lambda: GaussianMixture([[float("nan")]]), "means"),
        (lambda: GaussianMixture([[0.0], [1.0]], weights=[1.0]), "weights"),
        (lambda: Circle(radius=0), "radius"),
        (lambda: Cauchy(scale=-2), "scale"),
        (lambda: SwissRoll(noise=-1), "noise"),
    ],
)
def test_bad_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_points():
    gm = mixtures()["isotropic"]
    with pytest.raises(ValueError, match="NaN"):
        gm.log_prob(torch.tensor([[float("nan"), 0.0, 0.0]]))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        gm.score(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="n must be an integer"):
        gm.sample(0)
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\]"):
        gm.marginal_score(torch.zeros(2, 3), 1.5, VPSDE())
