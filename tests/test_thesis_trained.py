"""Thesis (003) experiments with trained models: exact circle score, latent laws, fixed training sets, checks, end to end."""
import math

import pytest
import torch

from scoreuq.data import Circle, Empirical, UnionOfCircles
from scoreuq.experiments import thesis_trained as T
from scoreuq.metrics.circle import c1, c1_parts, c2, c2_parts, fit_circle
from scoreuq.nets import GAN, VAE
from scoreuq.processes import OrnsteinUhlenbeck


pytestmark = pytest.mark.usefixtures("one_thread")


PROC = OrnsteinUhlenbeck(alpha=0.3, beta=2.0, sigma=1.7, T=1.0)


def _points(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 2, generator=g, dtype=torch.float64) * 4 + torch.tensor([1.0, -2.0], dtype=torch.float64)


@pytest.mark.parametrize("t", [1e-3, 0.05, 0.5, 1.0])
def test_circle_score_is_gradient_of_closed_form_log_density(t):
    c = Circle(radius=3.0, center=(1.0, -2.0))
    x = _points().requires_grad_(True)
    (g,) = torch.autograd.grad(c.marginal_log_prob(x, t, PROC).sum(), x)
    torch.testing.assert_close(c.marginal_score(x.detach(), t, PROC), g, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("t", [0.01, 0.2, 1.0])
def test_circle_score_matches_sampled_estimate(t):
    c = Circle(radius=3.0, center=(1.0, -2.0))
    x = _points(32, 1)
    # random circle points: the empirical-mixture score is a Monte-Carlo estimate of the same integral
    pts = c.sample(100_000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    est = Empirical(pts).marginal_score(x, t, PROC)
    exact = c.marginal_score(x, t, PROC)
    scale = exact.norm(dim=1).mean()
    assert float((est - exact).norm(dim=1).max() / scale) < 0.05
    # evenly spaced points: a quadrature of the angle integral, spectrally accurate
    ang = 2 * math.pi * torch.arange(4000, dtype=torch.float64) / 4000
    quad = Empirical(c._ring(ang)).marginal_score(x, t, PROC)
    torch.testing.assert_close(quad, exact, rtol=1e-7, atol=1e-7)


def test_circle_score_is_finite_at_the_centre_and_far_away():
    c = Circle(radius=10.0)
    p = OrnsteinUhlenbeck()
    x = torch.tensor([[0.0, 0.0], [1e4, 0.0], [0.0, 1e-12]], dtype=torch.float64)
    s = c.marginal_score(x, 1e-3, p)
    assert bool(torch.isfinite(s).all())
    assert float(s[0].abs().max()) < 1e-6  # symmetry: zero at the centre


def test_fit_circle_and_parts():
    c = Circle(8, radius=10.0, center=(1.0, 2.0))
    center, r = fit_circle(c.train_points(torch.float64))
    torch.testing.assert_close(center, torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert r == pytest.approx(10.0)
    x = c.sample(300, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1.01
    p1, p2 = c1_parts(x, c.train_points(torch.float64), center), c2_parts(x, r, center)
    assert p1["total"] == pytest.approx(c1(x, c.train_points(torch.float64), center))
    assert p2["total"] == pytest.approx(c2(x, r, center))
    assert p2["total"] == pytest.approx(p2["radius"] + p2["angle"])
    with pytest.raises(ValueError, match="line"):
        fit_circle(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]))


@pytest.mark.parametrize("cls", [GAN, VAE])
def test_latent_laws_sample_in_range(cls):
    from scoreuq.nets.pushforward import _latent

    like = torch.empty(0)
    z = _latent(5000, 1, torch.Generator().manual_seed(0), like, "uniform", (-5.0, 5.0))
    assert float(z.min()) >= -5 and float(z.max()) <= 5 and float(z.std()) == pytest.approx(10 / math.sqrt(12), rel=0.05)
    z2 = _latent(5000, 1, torch.Generator().manual_seed(0), like, "uniform", (2.0, 3.0))
    assert 2 <= float(z2.min()) and float(z2.max()) <= 3
    m = cls(2, latent="uniform", latent_range=(-5, 5))
    assert m.sample(10, generator=torch.Generator().manual_seed(0)).shape == (10, 2)
    with pytest.raises(ValueError, match="latent must be"):
        cls(2, latent="cauchy")
    with pytest.raises(ValueError, match="latent_range"):
        cls(2, latent="uniform", latent_range=(1.0, -1.0))


def test_union_of_circles_training_set_fixed_for_a_seed():
    u = UnionOfCircles(mu=2.0)
    a = u.training_set(64, 3)
    torch.manual_seed(123)
    torch.rand(10)
    b = u.training_set(64, 3)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, u.training_set(64, 4))
    assert float(u.distance_to_support(a.double()).max()) < 1e-6


@pytest.mark.parametrize("exp,bad,field", [
    ("capacity_epochs", {"arch": "3x16"}, "arch"),
    ("capacity_epochs", {"eval_every": 0}, "eval_every"),
    ("capacity_epochs", {"epochs": 100, "eval_every": 200}, "eval_every"),
    ("pushforward", {"latent": "cauchy"}, "latent"),
    ("pushforward", {"latent_range": [3, 1]}, "latent_range"),
    ("pushforward", {"model": "flow"}, "model"),
    ("pushforward", {"arch": "L16N"}, "arch"),
    ("beta_backward", {"arch": "3L0N"}, "arch"),
    ("beta_backward", {"dataset": "moons"}, "dataset"),
    ("beta_backward", {"betas": [1.0, -2.0, 3.0]}, "betas"),
    ("beta_backward", {"betas": [1.0, 2.0]}, "betas"),
])
def test_checks_reject_bad_input(exp, bad, field):
    from scoreuq import experiments

    e = experiments.get(exp)
    e.check(dict(e.defaults))  # the defaults pass
    with pytest.raises(ValueError, match=field):
        e.check({**e.defaults, **bad})


@pytest.mark.parametrize("ds", ["gmm1d", "circle", "swiss_roll"])
def test_beta_backward_tiny(ds):
    p = {**T.BB_DEFAULTS, "dataset": ds, "betas": [0.5, 2.0, 8.0], "epochs": 2, "n": 100, "n_train": 64, "steps": 10,
         "n_ref": 50, "arch": "2L16N"}
    out = T.beta_backward(p, 0)
    v = out["values"]
    assert set(v) >= {"beta_opt.trained", "beta_opt.exact", "score_gap_mean", "floor"}
    assert all(math.isfinite(x) for k, x in v.items() if not k.startswith("slope"))
    assert len(out["extras"]["curves"]["exact"]) == 3
    f = T._bb_analyse([{"params": p, "seed": 0, "values": v, "extras": out["extras"]}])
    assert f and {"figure", "ours", "thesis", "agrees", "note"} <= set(f[0])


def test_capacity_epochs_tiny():
    p = {**T.CE_DEFAULTS, "arch": "2L8N", "epochs": 4, "eval_every": 2, "n": 60, "steps": 5, "repeat": 2}
    out = T.capacity_epochs(p, 0)
    assert out["extras"]["curves"]["epoch"] == [2, 4]
    v = out["values"]
    for k in ("c1.radius.last", "c1.angle.last", "c2.radius.last", "c2.angle.last", "best_epoch"):
        assert math.isfinite(v[k])
    assert v["c2.total.last"] == pytest.approx(v["c2.radius.last"] + v["c2.angle.last"])
    rows = [{"params": {**p, "arch": a}, "seed": 0, "values": v, "extras": out["extras"]} for a in ("3L16N", "3L64N")]
    assert len(T._ce_analyse(rows)) == 3


@pytest.mark.parametrize("model,latent", [("sgm", "gaussian"), ("gan", "uniform"), ("vae", "gaussian")])
def test_pushforward_tiny(model, latent):
    p = {**T.PF_DEFAULTS, "model": model, "latent": latent, "n_train": 64, "epochs": 2, "n": 100, "steps": 5, "n_boot": 100,
         "n_extras": 20, "arch": "2L16N"}
    out = T.pushforward(p, 0)
    v = out["values"]
    assert 0 <= v["bridge_lo"] <= v["bridge_mass"] <= v["bridge_hi"] <= 1
    assert 0 <= v["core_lo"] <= v["core_mass"] <= v["core_hi"] <= 1 and v["core_mass"] <= v["bridge_mass"]
    assert v["mean_dist"] >= 0 and len(out["extras"]["samples"]) == 20
    f = T._pf_analyse([{"params": p, "seed": 0, "values": v, "extras": out["extras"]}])
    assert f


@pytest.mark.parametrize("t", [1e-3, 0.05, 0.5])
def test_union_of_circles_score_is_gradient_of_log_density(t):
    u = UnionOfCircles(mu=2.0, radius=1.0)
    x = (_points(seed=3) / 2).requires_grad_(True)
    (g,) = torch.autograd.grad(u.marginal_log_prob(x, t, PROC).sum(), x)
    s = u.marginal_score(x.detach(), t, PROC)
    assert torch.isfinite(s).all()
    torch.testing.assert_close(s, g, rtol=1e-7, atol=1e-7)


def test_beta_backward_trained_branch_learns():
    """The τ-network on the ±50 mixture beats a network that has learned nothing (F ≡ 0) by far where the
    score is learnable in a few hundred steps (τ ≥ 1), and its loss falls well below its start."""
    p = {**T._bb_resolved({"dataset": "gmm1d"}), "epochs": 300, "n_train": 512, "arch": "3L64N"}
    train, *_ = T._bb_data("gmm1d", {**p, "n": 100}, 0)
    net, losses = T._bb_train(train, p["betas"], p, 0)
    assert min(losses[-10:]) < 0.9 * losses[0]  # most of the EDM loss is the irreducible small-τ noise
    from scoreuq.data import GaussianMixture

    truth = GaussianMixture([[-50.0], [50.0]], stds=1.0)
    proc1 = OrnsteinUhlenbeck(beta=1.0, sigma=math.sqrt(2.0), T=100.0)
    g = torch.Generator().manual_seed(1)
    zero = T._TauNet(1, 2, 8, net.sigma_data, net.sigma_in).double()
    for prm in zero.net.net[-1].parameters():
        torch.nn.init.zeros_(prm)
    for tau in (1.0, 2.0):
        x0 = train[torch.randint(len(train), (1000,), generator=g)]
        a, s = math.exp(-tau), math.sqrt(-math.expm1(-2 * tau))
        xt = a * x0 + s * torch.randn(x0.shape, generator=g, dtype=torch.float64)
        tt = torch.full((1000,), tau, dtype=torch.float64)
        ex = truth.marginal_score(xt, tt, proc1)
        with torch.no_grad():
            e_tr = (net.score(xt, tt) - ex).pow(2).mean().sqrt()
            e_0 = (zero.score(xt, tt) - ex).pow(2).mean().sqrt()
        assert e_tr < 0.5 * e_0, (tau, float(e_tr), float(e_0))


def test_beta_backward_n_ref_defaults():
    p = T._bb_resolved({"dataset": "swiss_roll"})
    assert p["n_ref"] == 500 and p["betas"] == T.DEFAULT_BETAS["swiss_roll"]
    assert T._bb_resolved({"dataset": "swiss_roll", "full": True})["n_ref"] == 2000
    assert T._bb_resolved({"dataset": "swiss_roll", "n_ref": 300})["n_ref"] == 300
    with pytest.raises(ValueError, match="n_ref"):
        T._bb_check({"dataset": "swiss_roll", "n_ref": 5})


@pytest.mark.parametrize("law", ["uniform", "loguniform", "mixed"])
def test_draw_u_laws(law):
    g = torch.Generator().manual_seed(0)
    u = T._draw_u(200_000, 1e-4, law, g)
    assert u.dtype == torch.float64 and float(u.min()) >= 1e-4 and float(u.max()) <= 1.0
    # share below 10⁻²: uniform ≈ 0.0099, log-uniform 2/4 = 0.5, mixed the mean of the two
    want = {"uniform": (1e-2 - 1e-4) / (1 - 1e-4), "loguniform": 0.5, "mixed": 0.5 * (0.5 + (1e-2 - 1e-4) / (1 - 1e-4))}[law]
    assert float((u < 1e-2).double().mean()) == pytest.approx(want, abs=0.005)
    with pytest.raises(ValueError, match="time_law"):
        T._draw_u(3, 1e-3, "beta", g)


def test_cosine_lr_endpoints():
    assert T._cosine_lr(2e-3, 0, 100) == pytest.approx(2e-3)
    assert T._cosine_lr(2e-3, 50, 100) == pytest.approx(1e-3)
    assert T._cosine_lr(2e-3, 100, 100) == pytest.approx(0.0, abs=1e-18)


class _ExactDenoiser(torch.nn.Module):
    """The exact :math:`E[x_0 \\mid x_\\tau]` of the union of circles under the unit-rate OU, with _TauNet's interface."""

    def __init__(self):
        super().__init__()
        self.u = UnionOfCircles(mu=2.0, radius=1.0)
        self.proc1 = OrnsteinUhlenbeck(beta=1.0, sigma=math.sqrt(2.0), T=100.0)
        self.net = torch.nn.Module()
        self.net.dim = 2

    def score(self, x, tau):
        return self.u.marginal_score(x, tau, self.proc1)

    def forward(self, x, tau):
        a, s = T._TauNet.coeffs(tau)
        return (x + (s**2)[:, None] * self.score(x, tau)) / a[:, None]


def test_sgm_sample_tweedie_last_step_lands_on_the_support():
    """With the exact score, Euler–Maruyama at Δt = 0.01 whose last step only drops the noise leaves samples at the
    noise level of t ≈ 0.01 (some in the bridge |x1| < 1); the Tweedie denoiser at t_min puts them on the circles."""
    net, u = _ExactDenoiser(), UnionOfCircles(mu=2.0, radius=1.0)
    out = {}
    for den, steps in (("em", 100), ("tweedie", 200)):
        p = {**T.PF_DEFAULTS, "steps": steps, "t_min": 1e-3, "denoise": den}
        x = T._sgm_sample(net, 5.0, 1000, p, torch.Generator().manual_seed(3), dtype=torch.float64)
        out[den] = (float(u.distance_to_support(x).mean()), float((x[:, 0].abs() < 1).double().mean()))
    assert out["tweedie"][0] < 0.015 and out["tweedie"][1] < 0.005, out
    assert out["em"][0] > 0.04 and out["em"][1] > 0.01, out


@pytest.mark.parametrize("bad,match", [({"train_t_min": 2e-3}, "train_t_min"), ({"denoise": "ddim"}, "denoise"),
                                       ({"time_law": "normal"}, "time_law"), ({"lr_schedule": "step"}, "lr_schedule")])
def test_pushforward_check_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        T._pf_check({**T.PF_DEFAULTS, **bad})
    if match in ("time_law", "lr_schedule"):
        with pytest.raises(ValueError, match=match):
            T._bb_check({**T.BB_DEFAULTS, **bad})


def test_pushforward_refuses_sgm_settings_on_gan_and_vae():
    with pytest.raises(ValueError, match="lr set for model 'gan', but only the SGM reads it"):
        T._pf_check({"model": "gan", "lr": 1e-3})
    with pytest.raises(ValueError, match="denoise, steps set for model 'vae'"):
        T._pf_check({"model": "vae", "steps": 100, "denoise": "em"})
    T._pf_check({"model": "gan", "lr": T.PF_DEFAULTS["lr"], "latent": "uniform"})  # the default value: nothing ignored
