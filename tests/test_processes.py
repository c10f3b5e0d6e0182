"""Forward processes against their closed forms and against simulation (float64)."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from scoreuq.processes import VESDE, VPSDE, OrnsteinUhlenbeck

PROCESSES = {
    "ou": lambda: OrnsteinUhlenbeck(alpha=[1.5, -2.0], beta=2.0, sigma=0.7, T=1.0),
    "vp": lambda: VPSDE(beta_min=0.1, beta_max=20.0),
    "ve": lambda: VESDE(sigma_min=0.05, sigma_max=5.0),
}


def simulate_forward(proc, x0, t_end, steps, gen):
    """Plain Euler–Maruyama of the forward SDE (independent of the closed forms)."""
    x = x0.clone()
    dt = t_end / steps
    for k in range(steps):
        t = torch.full((x.shape[0],), k * dt, dtype=x.dtype)
        f, g = proc.sde(x, t)
        x = x + f * dt + g[:, None] * math.sqrt(dt) * torch.randn(x.shape, generator=gen, dtype=x.dtype)
    return x


@pytest.mark.parametrize("name", PROCESSES)
def test_marginal_matches_simulation(name, gen):
    proc = PROCESSES[name]()
    n, t_end = 20000, 0.6
    x0 = torch.tensor([0.8, -0.3], dtype=torch.float64).expand(n, 2).clone()
    xs = simulate_forward(proc, x0, t_end, 600, gen)
    mean, std = proc.marginal(x0, t_end)
    se = std[0] / math.sqrt(n)
    assert torch.allclose(xs.mean(0), mean[0], atol=float(5 * se) + 2e-3)
    assert torch.allclose(xs.var(0), std[0] ** 2 * torch.ones(2, dtype=torch.float64), rtol=0.05)
    # KS test of the first coordinate against the closed-form Gaussian
    p = stats.kstest(xs[:, 0].numpy(), stats.norm(loc=float(mean[0, 0]), scale=float(std[0])).cdf).pvalue
    assert p > 1e-3


def test_ou_stationary_law_nonzero_alpha(gen):
    proc = OrnsteinUhlenbeck(alpha=3.0, beta=1.5, sigma=1.2, T=20.0)
    n = 20000
    x0 = torch.full((n, 1), -4.0, dtype=torch.float64)
    xs = simulate_forward(proc, x0, 8.0, 1600, gen)
    law = stats.norm(loc=3.0, scale=math.sqrt(1.2**2 / 3.0))
    assert stats.kstest(xs[:, 0].numpy(), law.cdf).pvalue > 1e-3
    # closed form at large t is the stationary law
    mean, std = proc.marginal(x0[:1], 20.0)
    assert float(mean) == pytest.approx(3.0, abs=1e-8)
    assert float(std) == pytest.approx(math.sqrt(proc.stationary_var), rel=1e-12)
    # the prior is the stationary law
    prior = proc.prior((n, 1), generator=gen, dtype=torch.float64)
    assert stats.kstest(prior[:, 0].numpy(), law.cdf).pvalue > 1e-3


@pytest.mark.parametrize("name", PROCESSES)
def test_prior_log_prob_matches_scipy(name, gen):
    proc = PROCESSES[name]()
    x = torch.randn(5, 2, generator=gen, dtype=torch.float64)
    if name == "ou":
        ref = stats.norm(loc=proc.alpha.numpy(), scale=math.sqrt(proc.stationary_var)).logpdf(x.numpy()).sum(1)
    elif name == "vp":
        ref = stats.norm(0, 1).logpdf(x.numpy()).sum(1)
    else:
        ref = stats.norm(0, proc.sigma_max).logpdf(x.numpy()).sum(1)
    assert np.allclose(proc.prior_log_prob(x).numpy(), ref)


@pytest.mark.parametrize("name", PROCESSES)
def test_transition_score_is_gradient_of_log_density(name, gen):
    proc = PROCESSES[name]()
    x0 = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    t = torch.linspace(0.05, 0.95, 6, dtype=torch.float64)
    x = torch.randn(6, 2, generator=gen, dtype=torch.float64).requires_grad_(True)
    mean, std = proc.marginal(x0, t)
    logp = torch.distributions.Normal(mean, std[:, None]).log_prob(x).sum()
    (grad,) = torch.autograd.grad(logp, x)
    assert torch.allclose(proc.transition_score(x.detach(), x0, t), grad, atol=1e-10)


def test_ou_transition_score_matches_thesis_formula():
    """003 §2.2.6: grad log p_t(x|x0) = -2b/(s^2(1-e^{-2bt})) (alpha - x + (x0 - alpha) e^{-bt}) ... with the sign
    of -(x - mean)/var, i.e. +2b/(s^2(1-e^{-2bt})) (alpha - x + (x0-alpha)e^{-bt})."""
    a, b, s, t = 0.7, 3.0, 1.3, 0.4
    proc = OrnsteinUhlenbeck(alpha=a, beta=b, sigma=s)
    x, x0 = torch.tensor([[0.2]], dtype=torch.float64), torch.tensor([[-1.1]], dtype=torch.float64)
    thesis = 2 * b / (s**2 * (1 - math.exp(-2 * b * t))) * (a - x + (x0 - a) * math.exp(-b * t))
    assert torch.allclose(proc.transition_score(x, x0, t), thesis)


def test_any_rank_and_vector_alpha(gen):
    proc = OrnsteinUhlenbeck(alpha=torch.arange(16, dtype=torch.float64).reshape(1, 4, 4), beta=1.0, sigma=1.0)
    x0 = torch.randn(3, 1, 4, 4, generator=gen, dtype=torch.float64)
    mean, std = proc.marginal(x0, torch.tensor([0.1, 0.5, 1.0], dtype=torch.float64))
    assert mean.shape == x0.shape and std.shape == (3,)
    drift, g = proc.sde(x0, 0.3)
    assert drift.shape == x0.shape and g.shape == (3,)
    s = torch.randn_like(x0)
    assert proc.reverse_drift(x0, 0.3, s).shape == x0.shape
    assert torch.allclose(
        proc.probability_flow_drift(x0, 0.3, s), drift - 0.5 * proc.sigma**2 * s
    )
    assert proc.prior((2, 1, 4, 4), generator=gen).shape == (2, 1, 4, 4)


def _brownian_reference(x0, beta, sigma, dW_fine, dt_fine):
    """Exact OU solution for a given Brownian path, by integration by parts:
    int_0^T e^{-b(T-s)} dW_s = W_T - b int_0^T e^{-b(T-s)} W_s ds (trapezoid on the fine grid)."""
    n_fine = dW_fine.shape[1]
    W = torch.cat([torch.zeros(dW_fine.shape[0], 1, dtype=dW_fine.dtype), torch.cumsum(dW_fine, 1)], 1)
    T = n_fine * dt_fine
    s = torch.arange(n_fine + 1, dtype=dW_fine.dtype) * dt_fine
    w = torch.exp(-beta * (T - s))
    integrand = w * W
    integral = dt_fine * (integrand[:, 1:] + integrand[:, :-1]).sum(1) / 2
    stoch = W[:, -1] - beta * integral
    return x0 * math.exp(-beta * T) + sigma * stoch


def _em_strong_error(beta, dt, x0, dW_fine, dt_fine):
    sigma = math.sqrt(2 * beta)
    ratio = round(dt / dt_fine)
    dW = dW_fine.reshape(dW_fine.shape[0], -1, ratio).sum(2)
    x = x0.clone()
    for k in range(dW.shape[1]):
        x = x - beta * x * dt + sigma * dW[:, k]
    exact = _brownian_reference(x0, beta, sigma, dW_fine, dt_fine)
    return float((x - exact).abs().mean())


@pytest.mark.slow
def test_euler_maruyama_strong_order_and_linear_growth_in_beta(gen):
    """003 §5.2 / Figure 5.5: E|X_1 - X_1^dt| for EM on the OU process with sigma = sqrt(2 beta),
    data from the mixture 0.5 N(-5,1) + 0.5 N(5,1), against the exact solution on the same Brownian path.
    Additive noise: strong order 1; the error grows linearly with beta."""
    n, n_fine = 4000, 2**13
    dt_fine = 1.0 / n_fine
    x0 = torch.where(torch.rand(n, generator=gen) < 0.5, -5.0, 5.0).double() + torch.randn(n, generator=gen, dtype=torch.float64)
    dW = math.sqrt(dt_fine) * torch.randn(n, n_fine, generator=gen, dtype=torch.float64)
    dts = [2.0**-k for k in range(6, 11)]
    errs = [_em_strong_error(4.0, dt, x0, dW, dt_fine) for dt in dts]
    order = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert 0.85 < order < 1.15, (order, errs)
    betas = np.array([8.0, 16.0, 24.0, 32.0, 40.0])
    errs_b = np.array([_em_strong_error(float(b), 2.0**-9, x0, dW, dt_fine) for b in betas])
    slope, intercept = np.polyfit(betas, errs_b, 1)
    fit = slope * betas + intercept
    r2 = 1 - ((errs_b - fit) ** 2).sum() / ((errs_b - errs_b.mean()) ** 2).sum()
    assert slope > 0 and r2 > 0.98, (errs_b, r2)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: OrnsteinUhlenbeck(beta=0.0), "beta must be a finite number > 0"),
        (lambda: OrnsteinUhlenbeck(beta=-1.0), "beta"),
        (lambda: OrnsteinUhlenbeck(sigma=0.0), "sigma must be a finite number > 0"),
        (lambda: OrnsteinUhlenbeck(sigma=float("nan")), "sigma"),
        (lambda: OrnsteinUhlenbeck(T=-1.0), "T must"),
        (lambda: VPSDE(beta_min=2.0, beta_max=1.0), "beta_max"),
        (lambda: VESDE(sigma_min=1.0, sigma_max=0.5), "sigma_max"),
    ],
)
def test_bad_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_unchecked_time_path_matches_the_checked_one(gen):
    """check_time=False (used inside samplers) changes no value, only skips validation."""
    for proc in (OrnsteinUhlenbeck(alpha=0.5, beta=2.0, sigma=1.0), VPSDE(), VESDE()):
        x = torch.randn(4, 3, generator=gen, dtype=torch.float64)
        s = torch.randn(4, 3, generator=gen, dtype=torch.float64)
        t = torch.tensor([0.1, 0.3, 0.6, 0.9], dtype=torch.float64)
        assert torch.equal(proc.reverse_drift(x, t, s), proc.reverse_drift(x, t, s, check_time=False))
        assert torch.equal(proc.probability_flow_drift(x, t, s), proc.probability_flow_drift(x, t, s, check_time=False))


def test_time_outside_range_is_rejected():
    proc = OrnsteinUhlenbeck(T=1.0)
    x = torch.zeros(2, 1)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"t "):
            proc.marginal(x, bad)
    with pytest.raises(ValueError, match=r"t must lie in \[0, T\]"):
        proc.sde(x, torch.tensor([0.5, 2.0]))
    with pytest.raises(ValueError, match="t must be > 0"):
        proc.transition_score(x, x, 0.0)
