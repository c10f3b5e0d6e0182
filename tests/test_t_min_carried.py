"""The early-stopping time carried by the process (``process.early_stopped(t_min)``) reaches every function that
takes a process: the bound, its estimators, the losses and the likelihood; a contradicting explicit value is refused."""
import pytest
import torch

import scoreuq as su

OU = su.processes.OrnsteinUhlenbeck(T=3.0)
ES = OU.early_stopped(0.05)
GM = su.data.GaussianMixture([[0.0, 0.0]], 1.0)


def _train():
    return GM.sample(200, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_wup_takes_t_min_from_the_process():
    kw = dict(n_sub=100, seeds=(0,), n_enn=100, search=False, optimise=False, lipschitz_kw={"n_per_t": 4}, c2_kw={"n_per_t": 2})
    rep = su.bounds.wup(GM.score_fn(OU), ES, _train(), GM, **kw)
    assert rep.constants["t_min"] == 0.05
    with pytest.raises(ValueError, match="contradicts"):
        su.bounds.wup(GM.score_fn(OU), ES, _train(), GM, t_min=0.01, **kw)


def test_estimators_take_t_min_from_the_process():
    g = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    a = su.bounds.lipschitz(GM.score_fn(OU), ES, _train(), n_per_t=4, generator=g())
    b = su.bounds.lipschitz(GM.score_fn(OU), OU, _train(), t_min=0.05, n_per_t=4, generator=g())
    assert a.value == b.value and float(a.t.min()) == pytest.approx(0.05)
    # N(0, I) is stationary under OU: the exact score is -x, its Jacobian -I at every t
    assert a.value == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ValueError, match="contradicts"):
        su.bounds.c2_norm(GM.score_fn(OU), ES, _train(), t_min=0.01)
    assert su.bounds.early_stopping_bias(ES, None, 1.0, 2) == su.bounds.early_stopping_bias(OU, 0.05, 1.0, 2)


def test_losses_draw_times_above_the_carried_t_min():
    x = _train()
    t = su.losses.sample_times(10_000, OU.early_stopped(2.5), generator=torch.Generator().manual_seed(2), like=x)
    assert float(t.min()) >= 2.5 and float(t.max()) <= 3.0
    with pytest.raises(ValueError, match="contradicts"):
        su.losses.dsm(lambda x, t: -x, x, ES, t_min=1e-3)


def test_likelihood_takes_t_min_from_the_process():
    x = _train()[:4]
    a = su.likelihood.nll(GM.score_fn(OU), ES, x)
    b = su.likelihood.nll(GM.score_fn(OU), OU, x, t_min=0.05)
    assert torch.equal(a.values, b.values)
    # the exact NLL of N(0, I), stationary under OU, at any t
    exact = 0.5 * (x**2).sum(1) + torch.log(torch.tensor(2 * torch.pi, dtype=torch.float64))
    assert torch.allclose(a.values, exact, rtol=1e-4, atol=1e-4)
    y, _ = su.likelihood.solve_probability_flow(GM.score_fn(OU), ES, x)
    z, _ = su.likelihood.solve_probability_flow(GM.score_fn(OU), OU, x, t_min=0.05)
    assert torch.equal(y, z)
