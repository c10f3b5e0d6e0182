"""The sampling core over a time grid (``sampling.sample``, ``time_grid``) and the process carrying its
early-stopping time (``ForwardProcess.early_stopped``): grid checks, bit-identity with the five
samplers, non-uniform grids, exact delegation, t_min conflicts, pickling, the Trainer."""
import copy
import math
import pickle
from dataclasses import replace

import pytest
import torch

from scoreuq import metrics, processes, sampling
from scoreuq.data import GaussianMixture
from scoreuq.processes import VESDE, VPSDE, EarlyStopped, ForwardProcess, OrnsteinUhlenbeck, resolve_t_min
from scoreuq.runs import RunConfig
from scoreuq.training import TrainConfig, Trainer

F64 = torch.float64
GM = GaussianMixture([[-2.0, 0.0], [2.0, 0.5]], stds=[0.7, 0.5], weights=[1.0, 3.0])
OU = OrnsteinUhlenbeck(alpha=[0.3, -0.2], beta=1.3, sigma=1.1, T=3.0)
PROCS = {"ou": OU, "vp": VPSDE(), "ve": VESDE(sigma_min=0.01, sigma_max=20.0)}


def _rec(calls):
    return lambda k, t, x, noise: calls.append((k, t, x.clone(), None if noise is None else noise.clone()))


def _same_calls(a, b):
    return len(a) == len(b) and all(
        ka == kb and ta == tb and torch.equal(xa, xb) and ((na is None and nb is None) or torch.equal(na, nb))
        for (ka, ta, xa, na), (kb, tb, xb, nb) in zip(a, b)
    )


# ----------------------------------------------------------------------------- the grid builder
def test_time_grid_is_the_uniform_float64_grid_from_T_to_t_min():
    ts = sampling.time_grid(OU, 6, t_min=0.02)
    assert ts.dtype == F64 and ts.device.type == "cpu" and ts.shape == (7,)
    assert float(ts[0]) == 3.0 and float(ts[-1]) == 0.02
    assert torch.allclose(ts[:-1] - ts[1:], torch.full((6,), (3.0 - 0.02) / 6, dtype=F64), rtol=1e-12, atol=0)
    assert torch.equal(OU.time_grid(6, 0.02), ts)  # the method is the same builder
    assert float(sampling.time_grid(OU, 4)[-1]) == 1e-3  # default t_min
    short = sampling.time_grid(OU, 4, t_min=0.1, T=1.0)
    assert float(short[0]) == 1.0 and float(short[-1]) == 0.1


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(steps=0), "steps must be an integer >= 1"),
        (dict(steps=2.0), "steps must be an integer >= 1"),
        (dict(steps=True), "steps must be an integer >= 1"),
        (dict(steps=3, t_min=0.0), r"t_min must lie in \(0, 3\)"),
        (dict(steps=3, t_min=3.0), r"t_min must lie in \(0, 3\)"),
        (dict(steps=3, t_min=float("nan")), r"t_min must lie in \(0, 3\)"),
        (dict(steps=3, t_min=0.1, T=4.0), r"T must lie in \(0.1, 3\]"),
        (dict(steps=3, t_min=0.1, T=0.1), r"T must lie in \(0.1, 3\]"),
    ],
)
def test_time_grid_rejects_bad_input(kw, match):
    steps = kw.pop("steps")
    with pytest.raises(ValueError, match=match):
        sampling.time_grid(OU, steps, **kw)


# ----------------------------------------------------------------------------- grid validation of the core
@pytest.mark.parametrize(
    "ts, detail",
    [
        (torch.tensor([[1.0, 0.5]], dtype=F64), "shape"),
        (torch.tensor([0.5], dtype=F64), "shape"),
        (torch.tensor([], dtype=F64), "shape"),
        (torch.tensor([1.0, 0.5, 0.5, 0.1], dtype=F64), r"ts\[2\] = 0.5 >= ts\[1\] = 0.5"),
        (torch.tensor([0.1, 0.5], dtype=F64), r"ts\[1\] = 0.5 >= ts\[0\] = 0.1"),
        (torch.tensor([1.0, 0.0], dtype=F64), "down to 0.0"),
        (torch.tensor([1.0, -0.2], dtype=F64), "down to -0.2"),
        (torch.tensor([1.5, 0.1], dtype=F64), "from 1.5"),
        (torch.tensor([1.0, float("nan")], dtype=F64), "non-finite"),
        (torch.tensor([float("inf"), 0.1], dtype=F64), "non-finite"),
        (torch.tensor([True, False]), "dtype torch.bool"),
        ("abc", "str"),
    ],
)
def test_sample_rejects_a_bad_grid(ts, detail):
    x = torch.zeros(3, 2, dtype=F64)
    with pytest.raises(ValueError, match=r"ts must be a strictly decreasing 1-D tensor of at least 2 finite times in \(0, T=1\]") as e:
        sampling.sample(lambda y, t: -y, x, ts, process=VPSDE())
    assert e.match(detail)


def test_sample_rejects_bad_method_options_and_state():
    ts = VPSDE().time_grid(3)
    x = torch.zeros(3, 2, dtype=F64)
    with pytest.raises(ValueError, match=r"method must be one of \['em', 'pc', 'ode', 'annealed_langevin'\]"):
        sampling.sample(lambda y, t: -y, x, ts, process=VPSDE(), method="heun")
    with pytest.raises(ValueError, match=r"method 'ode' takes the options \[\], got unknown \['denoise'\]"):
        sampling.sample(lambda y, t: -y, x, ts, process=VPSDE(), method="ode", denoise=False)
    with pytest.raises(ValueError, match="snr must be a finite number > 0"):
        sampling.sample(lambda y, t: -y, x, ts, process=VPSDE(), method="pc", snr=0.0)
    with pytest.raises(ValueError, match="x must be a floating tensor"):
        sampling.sample(lambda y, t: -y, torch.zeros(3, 2, dtype=torch.long), ts, process=VPSDE())
    with pytest.raises(ValueError, match="x must be a floating tensor"):
        sampling.sample(lambda y, t: -y, [[0.0, 0.0]], ts, process=VPSDE())
    assert sampling.METHODS["pc"] == {"snr": 0.16, "n_corrector": 1, "denoise": True}


# ----------------------------------------------------------------------------- bit-identity with the wrappers
WRAPPED = [
    ("euler_maruyama", "em", dict(steps=7), {}),
    ("euler_maruyama", "em", dict(steps=5, t_min=0.02, denoise=False), dict(denoise=False)),
    ("predictor_corrector", "pc", dict(steps=4, t_min=0.05, snr=0.3, n_corrector=2), dict(snr=0.3, n_corrector=2)),
    ("probability_flow", "ode", dict(steps=6, t_min=0.1), {}),
    ("annealed_langevin", "annealed_langevin", dict(steps=5, n_inner=3), dict(n_inner=3)),
]


@pytest.mark.parametrize("proc_name", PROCS)
@pytest.mark.parametrize("fn, method, kw, opts", WRAPPED)
def test_wrappers_are_the_grid_core_bit_for_bit(fn, method, kw, opts, proc_name):
    proc = PROCS[proc_name]
    score = GM.score_fn(proc)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    calls1, calls2 = [], []
    out1 = getattr(sampling, fn)(score, proc, (6, 2), generator=g1, dtype=F64, return_trajectory=True, callback=_rec(calls1), **kw)
    x = proc.prior((6, 2), generator=g2, dtype=F64)
    ts = proc.time_grid(kw["steps"], kw.get("t_min"))
    out2 = sampling.sample(score, x, ts, process=proc, method=method, generator=g2, return_trajectory=True,
                           callback=_rec(calls2), **opts)
    for a, b in zip(out1, out2):
        assert torch.equal(a, b)
    assert _same_calls(calls1, calls2)
    assert torch.equal(g1.get_state(), g2.get_state())
    # a grid given as a plain list of the same floats is the same grid
    g3 = torch.Generator().manual_seed(3)
    x3 = proc.prior((6, 2), generator=g3, dtype=F64)
    out3 = sampling.sample(score, x3, ts.tolist(), process=proc, method=method, generator=g3, **opts)
    assert torch.equal(out3, out1.samples)


def test_sample_does_not_modify_the_initial_state_and_keeps_its_dtype():
    proc = VPSDE()
    x = proc.prior((4, 2), generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    before = x.clone()
    res = sampling.sample(GM.score_fn(proc), x, proc.time_grid(3), process=proc, generator=torch.Generator().manual_seed(1),
                          return_trajectory=True)
    assert torch.equal(x, before) and res.samples.dtype == torch.float32 and res.times.dtype == torch.float32
    assert res.path.shape == (4, 4, 2) and torch.equal(res.path[0], x)


# ----------------------------------------------------------------------------- non-uniform grids
def test_em_and_heun_on_a_non_uniform_grid_take_exactly_the_grid_steps():
    """Hand-computed Euler–Maruyama and Heun steps of the reverse SDE / probability-flow ODE on an uneven grid."""
    proc = VPSDE()
    score = lambda y, t: -y * (1.0 + t[:, None])  # noqa: E731
    ts = torch.tensor([1.0, 0.6, 0.1, 0.01], dtype=F64)
    x0 = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    g = torch.Generator().manual_seed(4)
    res = sampling.sample(score, x0, ts, process=proc, method="em", generator=g, denoise=False, return_trajectory=True)
    g_ref, x = torch.Generator().manual_seed(4), x0
    for k in range(3):
        t, dt = float(ts[k]), float(ts[k] - ts[k + 1])
        tt = torch.full((5,), t, dtype=F64)
        f, gg = proc.drift(x, tt), proc.diffusion(tt)[:, None]
        x = x - (f - gg**2 * score(x, tt)) * dt + gg * math.sqrt(dt) * torch.randn(5, 2, generator=g_ref, dtype=F64)
        assert torch.allclose(res.path[k + 1], x, rtol=1e-13, atol=1e-15)
    assert torch.equal(res.times, ts)

    ode = sampling.sample(score, x0, ts, process=proc, method="ode")
    x = x0
    for k in range(3):
        t, tn = float(ts[k]), float(ts[k + 1])
        v = lambda y, s: proc.probability_flow_drift(y, torch.full((5,), s, dtype=F64), score(y, torch.full((5,), s, dtype=F64)))  # noqa: E731
        d = v(x, t)
        x = x + 0.5 * (tn - t) * (d + v(x + (tn - t) * d, tn))
    assert torch.allclose(ode, x, rtol=1e-13, atol=1e-15)


def test_a_quadratic_grid_samples_the_mixture():
    proc = VESDE(sigma_min=0.01, sigma_max=50.0)
    n, steps, t_min = 2000, 300, 1e-3
    u = torch.linspace(0.0, 1.0, steps + 1, dtype=F64)
    ts = t_min + (proc.T - t_min) * (1.0 - u) ** 2  # denser near t_min, where the score changes fastest
    g = torch.Generator().manual_seed(7)
    x = sampling.sample(GM.score_fn(proc), proc.prior((n, 2), generator=g, dtype=F64), ts, process=proc, method="em", generator=g)
    ref1, ref2 = GM.sample(n, generator=g, dtype=F64), GM.sample(n, generator=g, dtype=F64)
    assert metrics.wasserstein(x, ref1) < 3 * metrics.wasserstein(ref2, ref1)
    assert abs(float((x[:, 0] < 0).double().mean()) - 0.25) < 0.03


def test_langevin_has_no_grid_its_times_are_t_min():
    es = OU.early_stopped(0.2)
    res = sampling.langevin(GM.score_fn(OU), es, (4, 2), steps=3, generator=torch.Generator().manual_seed(0),
                            dtype=F64, return_trajectory=True)
    assert torch.equal(res.times, torch.full((4,), 0.2, dtype=F64))


# ----------------------------------------------------------------------------- EarlyStopped
def test_early_stopped_is_the_base_process_bit_for_bit():
    for base in PROCS.values():
        es = base.early_stopped(0.05)
        assert isinstance(es, ForwardProcess) and isinstance(es, EarlyStopped) and es.base is base
        assert es.t_min == 0.05 and es.T == base.T
        assert repr(es) == f"EarlyStopped({base!r}, t_min=0.05)"
        x0 = torch.randn(7, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
        x = torch.randn(7, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
        t = torch.rand(7, generator=torch.Generator().manual_seed(3), dtype=F64) * base.T * 0.9 + 0.01
        s = -x
        pairs = [
            (es.marginal(x0, t), base.marginal(x0, t)),
            (es.marginal_std(t), base.marginal_std(t)),
            (es.mean_coeff(t), base.mean_coeff(t)),
            (es.sde(x, t), base.sde(x, t)),
            (es.drift(x, t), base.drift(x, t)),
            (es.diffusion(t), base.diffusion(t)),
            (es.transition_score(x, x0, t), base.transition_score(x, x0, t)),
            (es.reverse_drift(x, t, s), base.reverse_drift(x, t, s)),
            (es.probability_flow_drift(x, t, s), base.probability_flow_drift(x, t, s)),
            (es.corrector_alpha(t, 0.01), base.corrector_alpha(t, 0.01)),
            (es.prior_log_prob(x), base.prior_log_prob(x)),
            (es.prior((3, 2), generator=torch.Generator().manual_seed(5), dtype=F64),
             base.prior((3, 2), generator=torch.Generator().manual_seed(5), dtype=F64)),
            (es.perturb(x0, t, generator=torch.Generator().manual_seed(6)), base.perturb(x0, t, generator=torch.Generator().manual_seed(6))),
        ]
        for a, b in pairs:
            a, b = (a, b) if isinstance(a, tuple) else ((a,), (b,))
            assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
        with pytest.raises(ValueError, match=r"t must lie in \[0"):
            es.marginal(x0, base.T * 2)  # the base's own time check
    assert OU.early_stopped(0.1).stationary_var == OU.stationary_var and OU.early_stopped(0.1).beta == 1.3
    assert torch.equal(OU.early_stopped(0.1).alpha, OU.alpha)
    with pytest.raises(AttributeError):
        OU.early_stopped(0.1).no_such_attribute  # noqa: B018


def test_early_stopped_forwards_every_method_of_forward_process():
    own = {"early_stopped", "time_grid"}  # read the wrapper's t_min
    for name, value in vars(ForwardProcess).items():
        if callable(value) and not name.startswith("__") and name not in own:
            assert name in vars(EarlyStopped), f"EarlyStopped does not forward {name}"


def test_early_stopped_checks_t_min_and_does_not_nest():
    with pytest.raises(ValueError, match=r"t_min must lie in \(0, 3\), got 3.0"):
        OU.early_stopped(3.0)
    with pytest.raises(ValueError, match=r"t_min must lie in \(0, 1\)"):
        VPSDE().early_stopped(0.0)
    with pytest.raises(ValueError, match=r"t_min must lie in \(0, 1\)"):
        VPSDE().early_stopped(float("nan"))
    with pytest.raises(ValueError, match="base must be a ForwardProcess"):
        EarlyStopped("vp", 0.1)
    twice = OU.early_stopped(0.1).early_stopped(0.2)
    assert twice.base is OU and twice.t_min == 0.2


@pytest.mark.parametrize("proc_name", PROCS)
def test_early_stopped_pickles_and_copies(proc_name):
    es = PROCS[proc_name].early_stopped(0.03)
    x0 = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    t = torch.full((4,), 0.5, dtype=F64)
    for other in (pickle.loads(pickle.dumps(es)), copy.deepcopy(es), copy.copy(es)):
        assert type(other) is EarlyStopped and isinstance(other, ForwardProcess)
        assert repr(other) == repr(es) and other.t_min == es.t_min and type(other.base) is type(es.base)
        assert all(torch.equal(a, b) for a, b in zip(other.marginal(x0, t), es.marginal(x0, t)))


# ----------------------------------------------------------------------------- one t_min: samplers
def test_samplers_take_t_min_from_the_process():
    es = VPSDE().early_stopped(0.05)
    score = GM.score_fn(es.base)
    for fn in (sampling.euler_maruyama, sampling.predictor_corrector, sampling.probability_flow, sampling.annealed_langevin):
        a = fn(score, es, (5, 2), steps=4, generator=torch.Generator().manual_seed(2), dtype=F64, return_trajectory=True)
        b = fn(score, es.base, (5, 2), steps=4, t_min=0.05, generator=torch.Generator().manual_seed(2), dtype=F64,
               return_trajectory=True)
        c = fn(score, es, (5, 2), steps=4, t_min=0.05, generator=torch.Generator().manual_seed(2), dtype=F64)
        assert float(a.times[-1]) == 0.05 and all(torch.equal(u, v) for u, v in zip(a, b)) and torch.equal(c, a.samples)
    assert torch.equal(es.time_grid(4), es.base.time_grid(4, 0.05))
    assert resolve_t_min(VPSDE()) == processes.DEFAULT_T_MIN == 1e-3
    assert resolve_t_min(es) == 0.05 and resolve_t_min(es, 0.05) == 0.05 and resolve_t_min(VPSDE(), 0.2) == 0.2


@pytest.mark.parametrize(
    "fn", [sampling.euler_maruyama, sampling.predictor_corrector, sampling.probability_flow, sampling.langevin,
           sampling.annealed_langevin],
)
def test_samplers_refuse_a_t_min_contradicting_the_process(fn):
    es = VPSDE().early_stopped(0.05)
    with pytest.raises(ValueError, match=r"t_min=0\.001 contradicts the process's t_min=0\.05 \(EarlyStopped\(VPSDE"):
        fn(lambda y, t: -y, es, (3, 2), steps=2, t_min=1e-3)


def test_grid_and_time_grid_refuse_to_contradict_the_process():
    es = VPSDE().early_stopped(0.05)
    with pytest.raises(ValueError, match=r"t_min=0\.1 contradicts the process's t_min=0\.05"):
        es.time_grid(3, 0.1)
    with pytest.raises(ValueError, match=r"ts ends at 0\.01 but the process carries t_min=0\.05 \(EarlyStopped\(VPSDE"):
        sampling.sample(lambda y, t: -y, torch.zeros(3, 2), torch.tensor([1.0, 0.5, 0.01], dtype=F64), process=es)
    with pytest.raises(ValueError, match=r"ts ends at 0\.0500001 but the process carries t_min=0\.05"):
        sampling.sample(lambda y, t: -y, torch.zeros(3, 2), torch.tensor([1.0, 0.5, 0.0500001], dtype=F64), process=es)
    x = torch.ones(3, 2, dtype=F64)
    out = sampling.sample(lambda y, t: -2 * y, x, es.time_grid(2), process=es, method="ode")
    # a float32 grid ends at float32(0.05): accepted, and its times are those float32 values
    out32 = sampling.sample(lambda y, t: -2 * y, x, es.time_grid(2).float(), process=es, method="ode")
    assert not torch.equal(out32, out) and torch.allclose(out32, out, rtol=1e-4, atol=0)


# ----------------------------------------------------------------------------- one t_min: training
class _Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)

    def forward(self, x, t):
        return self.lin(x) * (1 + t[:, None])


def _fit(process, config):
    torch.manual_seed(0)
    data = torch.randn(24, 2, generator=torch.Generator().manual_seed(1))
    tr = Trainer(_Net(), process, data, config)
    tr.fit()
    return tr


def test_train_config_t_min_unset_is_resolved_by_the_trainer_and_survives_copies():
    """``TrainConfig().t_min`` is None (unset) in every copy; the Trainer resolves it (process's, else 1e-3);
    a run config states it (1e-3), so run files read as before."""
    c = TrainConfig()
    assert c.t_min is None and c.to_dict()["t_min"] is None
    for copied in (replace(c, epochs=2), TrainConfig(**c.to_dict()), pickle.loads(pickle.dumps(c)), copy.deepcopy(c)):
        assert copied.t_min is None
        assert _fit(OU.early_stopped(0.2), replace(copied, epochs=1, batch_size=8, checkpoint_every=100)).config.t_min == 0.2
    assert _fit(OU, replace(c, epochs=1, batch_size=8, checkpoint_every=100)).config.t_min == 1e-3
    assert RunConfig().train.t_min == 1e-3 and RunConfig.from_dict({"train": {"t_min": None}}).to_dict()["train"]["t_min"] == 1e-3
    with pytest.raises(ValueError, match="t_min must be a finite number > 0"):
        TrainConfig(t_min=0.0)


def test_trainer_takes_t_min_from_the_process():
    es = OU.early_stopped(0.2)
    cfg = TrainConfig(epochs=2, batch_size=8, checkpoint_every=100, log_every=2)
    tr = _fit(es, cfg)
    assert tr.config.t_min == 0.2 and tr.process is es
    ref = _fit(OU, replace(cfg, t_min=0.2))  # the same bits as the bare process with t_min given
    assert all(torch.equal(a, b) for a, b in zip(tr.model.state_dict().values(), ref.model.state_dict().values()))
    assert tr.history.loss == ref.history.loss
    other = _fit(OU, cfg)  # ... and not those of the default t_min
    assert tr.history.loss != other.history.loss
    assert _fit(es, replace(cfg, t_min=0.2)).history.loss == ref.history.loss  # the same value, given: fine


def test_trainer_refuses_a_t_min_contradicting_the_process():
    data = torch.randn(8, 2)
    with pytest.raises(ValueError, match=r"TrainConfig.t_min=0\.001 contradicts the process's t_min=0\.2 \(EarlyStopped\(Ornstein"):
        Trainer(_Net(), OU.early_stopped(0.2), data, TrainConfig(t_min=1e-3))


def test_float32_grid_may_start_at_float32_of_T():
    """float32(0.3) > 0.3: a float32 copy of the grid is accepted and starts at T exactly; beyond rounding it is refused."""
    proc = OrnsteinUhlenbeck(T=0.3)
    ts = proc.time_grid(20, 0.01).float()
    assert float(ts[0]) > 0.3
    g = torch.Generator().manual_seed(0)
    res = sampling.sample(lambda x, t: -x, proc.prior((8, 2), generator=g), ts, process=proc, return_trajectory=True, generator=g)
    assert res.times[0] == torch.tensor(0.3, dtype=res.times.dtype)  # clamped to T, then in the samples' dtype
    with pytest.raises(ValueError, match="ts must be"):
        sampling.sample(lambda x, t: -x, torch.zeros(8, 2), torch.tensor([0.301, 0.1, 0.01]), process=proc)


def test_early_stopped_is_read_only():
    es = VPSDE().early_stopped(0.05)
    for name, value in (("beta_max", 5.0), ("t_min", 0.1), ("base", VPSDE()), ("T", 2.0)):
        with pytest.raises(AttributeError, match="read-only|has no setter"):
            setattr(es, name, value)
    assert es.base.beta_max == 20.0 and es.t_min == 0.05
    assert pickle.loads(pickle.dumps(es)).t_min == 0.05 and copy.deepcopy(es).base.beta_max == 20.0
