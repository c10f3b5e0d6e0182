"""The early-stopping time carried by the process (``process.early_stopped(t_min)``) reaches the bound and the likelihood."""
import torch, pytest, scoreuq as su
OU = su.processes.OrnsteinUhlenbeck(T=3.0)
def test_wup_and_nll_take_t_min_from_the_process():
    gm = su.data.GaussianMixture([[0.0, 0.0]], 1.0)
    g = torch.Generator().manual_seed(0)
    train = gm.sample(200, generator=g, dtype=torch.float64)
    es = OU.early_stopped(0.05)
    kw = dict(n_sub=100, seeds=(0,), n_enn=100, search=False, optimise=False, lipschitz_kw={"n_per_t": 4}, c2_kw={"n_per_t": 2})
    rep = su.bounds.wup(gm.score_fn(OU), es, train, gm, **kw)
    assert rep.constants["t_min"] == 0.05
    with pytest.raises(ValueError, match="contradicts"):
        su.bounds.wup(gm.score_fn(OU), es, train, gm, t_min=0.01, **kw)
    x = train[:4]
    a = su.likelihood.nll(gm.score_fn(OU), es, x)
    b = su.likelihood.nll(gm.score_fn(OU), OU, x, t_min=0.05)
    assert torch.equal(a.values, b.values)
    # and the exact NLL of N(0, I) at t = 0.05 is what both computed (OU keeps N(0, I) stationary)
    exact = 0.5 * (x**2).sum(1) + torch.log(torch.tensor(2 * torch.pi, dtype=torch.float64))
    assert torch.allclose(a.values, exact, rtol=1e-4, atol=1e-4)
