"""One conformance suite over every sampler, driven by exact scores (float64)."""
import math

import pytest
import torch
from scipy import stats

from scoreuq import metrics, sampling
from scoreuq.data import GaussianMixture
from scoreuq.processes import VESDE, VPSDE, OrnsteinUhlenbeck

N = 2000
GM = GaussianMixture([[-4.0, 0.0], [4.0, 0.0]], stds=[1.0, 1.0], weights=[1.0, 9.0])

REVERSE_SAMPLERS = {
    "euler_maruyama": lambda s, p, g: sampling.euler_maruyama(s, p, (N, 2), steps=400, generator=g, dtype=torch.float64),
    "predictor_corrector": lambda s, p, g: sampling.predictor_corrector(s, p, (N, 2), steps=300, generator=g, dtype=torch.float64),
    "probability_flow": lambda s, p, g: sampling.probability_flow(s, p, (N, 2), steps=100, generator=g, dtype=torch.float64),
}
PROCS = {
    "ou": OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=math.sqrt(2.0), T=7.0),
    "vp": VPSDE(),
    "ve": VESDE(sigma_min=0.01, sigma_max=50.0),
}


@pytest.mark.parametrize("proc_name", PROCS)
@pytest.mark.parametrize("name", REVERSE_SAMPLERS)
def test_exact_score_generates_the_mixture(name, proc_name):
    proc = PROCS[proc_name]
    g = torch.Generator().manual_seed(7)
    x = REVERSE_SAMPLERS[name](GM.score_fn(proc), proc, g)
    ref1 = GM.sample(N, generator=g, dtype=torch.float64)
    ref2 = GM.sample(N, generator=g, dtype=torch.float64)
    w_gen = metrics.wasserstein(x, ref1)
    w_ref = metrics.wasserstein(ref2, ref1)
    assert w_gen < 3 * w_ref, (w_gen, w_ref)
    share = float((x[:, 0] < 0).double().mean())
    assert abs(share - 0.1) < 0.03, share


def test_langevin_samples_a_gaussian():
    proc = OrnsteinUhlenbeck(T=1.0)
    target = GaussianMixture([[1.0, -2.0]], stds=0.5)
    g = torch.Generator().manual_seed(3)
    x = sampling.langevin(lambda y, t: target.score(y), proc, (4000, 2), steps=2000, step_size=5e-3, generator=g, dtype=torch.float64)
    # ULA is biased by O(step): variance 0.25 / (1 - step/(2 * 0.25))
    assert stats.kstest(((x[:, 0] - 1.0) / 0.5).numpy(), "norm").pvalue > 1e-3


def test_langevin_ignores_mixture_weights():
    """003 App. C.3: Langevin on the exact score of a 1:9 mixture keeps roughly the initial split."""
    proc = OrnsteinUhlenbeck(T=1.0)
    gm = GaussianMixture([[-5.0, -5.0], [5.0, -5.0]], stds=1.0, weights=[1, 9])
    g = torch.Generator().manual_seed(0)
    x0 = (torch.rand(2000, 2, generator=g, dtype=torch.float64) * 14 - 7)
    x = sampling.langevin(lambda y, t: gm.score(y), proc, (2000, 2), steps=500, step_size=0.01, generator=g, x_init=x0)
    share_left = float((x[:, 0] < 0).double().mean())
    assert 0.3 < share_left < 0.7  # far from the true 0.1


def test_annealed_langevin_respects_weights():
    proc = VESDE(sigma_min=0.01, sigma_max=50.0)
    g = torch.Generator().manual_seed(5)
    x = sampling.annealed_langevin(GM.score_fn(proc), proc, (N, 2), steps=100, n_inner=20, step_size=0.1, generator=g, dtype=torch.float64)
    ref1 = GM.sample(N, generator=g, dtype=torch.float64)
    ref2 = GM.sample(N, generator=g, dtype=torch.float64)
    assert metrics.wasserstein(x, ref1) < 3 * metrics.wasserstein(ref2, ref1)
    assert abs(float((x[:, 0] < 0).double().mean()) - 0.1) < 0.03


@pytest.mark.parametrize(
    "fn",
    [sampling.euler_maruyama, sampling.predictor_corrector, sampling.probability_flow, sampling.langevin, sampling.annealed_langevin],
)
def test_shared_signature_trajectory_and_reproducibility(fn):
    proc = VPSDE()
    gm = GaussianMixture(torch.zeros(1, 12), stds=0.5)

    def score(x, t):  # image-shaped batch: (n, 3, 2, 2)
        assert t.shape == (x.shape[0],)
        return gm.marginal_score(x.flatten(1), t, proc).reshape(x.shape)

    state = torch.random.get_rng_state()
    g1, g2 = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    res = fn(score, proc, (5, 3, 2, 2), steps=8, t_min=0.01, generator=g1, return_trajectory=True, dtype=torch.float64)
    again = fn(score, proc, (5, 3, 2, 2), steps=8, t_min=0.01, generator=g2, dtype=torch.float64)
    assert torch.equal(torch.random.get_rng_state(), state), "a sampler touched the global RNG"
    assert isinstance(res, sampling.SampleResult)
    assert res.path.shape == (9, 5, 3, 2, 2) and res.times.shape == (9,)
    assert torch.equal(res.path[-1], res.samples)
    assert torch.equal(again, res.samples)
    assert bool((res.times[:-1] >= res.times[1:]).all()) and float(res.times[-1]) == pytest.approx(0.01)


@pytest.mark.parametrize("fn", [sampling.euler_maruyama, sampling.predictor_corrector, sampling.probability_flow])
def test_bad_input(fn):
    proc = VPSDE()
    ok = lambda x, t: -x  # noqa: E731
    with pytest.raises(ValueError, match=r"t_min must lie in \(0, 1\)"):
        fn(ok, proc, (3, 2), steps=5, t_min=0.0)
    with pytest.raises(ValueError, match=r"t_min must lie in \(0, 1\)"):
        fn(ok, proc, (3, 2), steps=5, t_min=1.0)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        fn(ok, proc, (3, 2), steps=0)
    with pytest.raises(ValueError, match="score_fn returned shape"):
        fn(lambda x, t: x[:, :1], proc, (3, 2), steps=2)
    with pytest.raises(FloatingPointError, match="NaN"):
        fn(lambda x, t: x * float("nan"), proc, (3, 2), steps=2)


def test_probability_flow_adaptive_solver_matches_heun_and_reports_nfe():
    from scoreuq import data, metrics, processes, sampling

    ou = processes.OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=2**0.5, T=6.0)
    gm = data.GaussianMixture([[-2.0], [2.0]], stds=0.5, weights=[0.3, 0.7])
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    st = {}
    x_rk = sampling.probability_flow(gm.score_fn(ou), ou, (500, 1), solver="rk45", rtol=1e-6, atol=1e-6, generator=g1,
                                     dtype=torch.float64, stats=st)
    x_heun = sampling.probability_flow(gm.score_fn(ou), ou, (500, 1), steps=400, generator=g2, dtype=torch.float64)
    assert 10 < st["nfe"] < 2000
    # same prior draw, both solve the same ODE: the maps agree to the Heun method's error
    assert float((x_rk - x_heun).abs().max()) < 1e-2
    assert metrics.wasserstein_1d(x_rk[:, 0], gm.sample(500, generator=g1, dtype=torch.float64)[:, 0]) < 0.3
    with pytest.raises(ValueError, match="solver"):
        sampling.probability_flow(gm.score_fn(ou), ou, (10, 1), solver="euler")
    with pytest.raises(ValueError, match="callback"):
        sampling.probability_flow(gm.score_fn(ou), ou, (10, 1), solver="rk45", callback=lambda *a: None)
