"""The four objectives on Gaussian data, where every score is known in closed form (float64)."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate

from scoreuq import losses
from scoreuq.data import GaussianMixture
from scoreuq.processes import OrnsteinUhlenbeck, VPSDE

D, M, V = 2, torch.tensor([1.0, -2.0], dtype=torch.float64), 0.5
DATA = GaussianMixture(M[None], stds=math.sqrt(V))
PROC = OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=math.sqrt(2.0), T=1.0)
T_MIN = 0.05


class ScaledTrueScore(torch.nn.Module):
    """s_c(x, t) = c * (exact score of N(a m + b, (a^2 v + s^2) I)); c = 1 is the true score."""

    def __init__(self, c=1.0, process=PROC):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(float(c), dtype=torch.float64))
        self.process = process

    def forward(self, x, t):
        return self.c * DATA.marginal_score(x, t, self.process)


def objective(name, model, x0, gen, **kw):
    fn = losses.OBJECTIVES[name]
    extra = {"true_score": DATA.score_fn(PROC)} if name == "esm" else {}
    if name == "ism":
        extra["trace"] = kw.pop("trace", "exact")
    return fn(model, x0, PROC, t_min=T_MIN, generator=gen, **extra, **kw)


@pytest.mark.parametrize("name, kw", [("dsm", {}), ("esm", {}), ("ism", {}), ("ism", {"trace": "hutchinson"}), ("sliced_sm", {}), ("sliced_sm", {"variance_reduction": True})])
@pytest.mark.parametrize("weighting_kind", ["sigma2", "none"])
def test_true_score_minimises_every_objective(name, kw, weighting_kind):
    """J(c) is quadratic in c for fixed random numbers; its minimiser must be c = 1."""
    x0 = DATA.sample(40000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    vals = []
    for c in (0.5, 1.0, 1.5):
        gen = torch.Generator().manual_seed(1)  # common random numbers across c
        vals.append(float(objective(name, ScaledTrueScore(c), x0, gen, weighting_kind=weighting_kind, **dict(kw)).detach()))
    a, b, _ = np.polyfit([0.5, 1.0, 1.5], vals, 2)
    c_star = -b / (2 * a)
    assert a > 0 and abs(c_star - 1) < 0.05, (name, c_star, vals)


def dsm_minus_esm_constant(weighting_kind):
    """E_t lambda(t) d (1/s^2 - 1/(a^2 v + s^2)) for Gaussian data, by quadrature over t ~ U[t_min, T]."""
    def integrand(t):
        tt = torch.tensor([t], dtype=torch.float64)
        a, s2 = float(PROC.mean_coeff(tt)), float(PROC.marginal_std(tt)) ** 2
        lam = float(losses.weighting(PROC, tt, weighting_kind))
        return lam * D * (1 / s2 - 1 / (a * a * V + s2))

    return integrate.quad(integrand, T_MIN, PROC.T)[0] / (PROC.T - T_MIN)


@pytest.mark.parametrize("weighting_kind", ["sigma2", "likelihood"])
def test_dsm_minus_esm_is_the_known_constant(weighting_kind):
    x0 = DATA.sample(100000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    model = ScaledTrueScore(0.7)  # any model: the difference does not depend on it
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    d = losses.dsm(model, x0, PROC, t_min=T_MIN, generator=g1, weighting_kind=weighting_kind, reduce=False)
    e = losses.esm(model, x0, PROC, DATA.score_fn(PROC), t_min=T_MIN, generator=g2, weighting_kind=weighting_kind, reduce=False)
    diff = (d - e).detach()
    se = float(diff.std()) / math.sqrt(diff.numel())
    assert abs(float(diff.mean()) - dsm_minus_esm_constant(weighting_kind)) < 4 * se


def test_esm_of_true_score_is_zero():
    x0 = DATA.sample(100, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    assert float(losses.esm(ScaledTrueScore(1.0), x0, PROC, DATA.score_fn(PROC), generator=torch.Generator().manual_seed(5)).detach()) == pytest.approx(0.0, abs=1e-20)


def test_exact_and_hutchinson_traces_agree_in_expectation():
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2)).double()
    model = lambda x, t: net(torch.cat([x, t[:, None]], 1))  # noqa: E731
    x0 = DATA.sample(4000, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    exact = losses.ism(model, x0, PROC, trace="exact", generator=torch.Generator().manual_seed(7), reduce=False)
    hutch = losses.ism(model, x0, PROC, trace="hutchinson", n_probes=8, generator=torch.Generator().manual_seed(7), reduce=False)
    diff = (exact - hutch).detach()
    assert abs(float(diff.mean())) < 4 * float(diff.std()) / math.sqrt(diff.numel()) + 1e-12


def test_losses_backpropagate_to_parameters():
    model = ScaledTrueScore(0.8)
    x0 = DATA.sample(64, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    for name in losses.OBJECTIVES:
        model.zero_grad()
        objective(name, model, x0, torch.Generator().manual_seed(9)).backward()
        assert model.c.grad is not None and float(model.c.grad) < 0  # c < 1: the loss falls as c grows


def test_bad_arguments():
    x0 = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="weighting must be one of"):
        losses.dsm(ScaledTrueScore(), x0, PROC, weighting_kind="uniform")
    with pytest.raises(ValueError, match=r"t_min must lie in \(0, 1\)"):
        losses.dsm(ScaledTrueScore(), x0, PROC, t_min=0.0)
    with pytest.raises(ValueError, match="trace"):
        losses.ism(ScaledTrueScore(), x0, PROC, trace="svd")
