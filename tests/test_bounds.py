"""The WUP bound: every term against closed forms where they exist, the seminar preset, the CLI, bad input."""
import json
import math

import pytest
import torch
import yaml

import scoreuq as su
from scoreuq.cli import main

OU = su.processes.OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=2**0.5, T=3.0)


def _gauss(m=2.0, sd=0.5):
    return su.data.GaussianMixture([[m]], stds=sd)


def test_exact_score_terms_match_closed_forms():
    m, sd, eps = 2.0, 0.5, 0.01
    gm = _gauss(m, sd)
    train = gm.sample(4000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    gen = gm.sample(2000, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    rep = su.bounds.wup(gm.score_fn(OU), OU, train, gm, t_min=eps, n_sub=2000, seeds=(0, 1), generated=gen,
                        lipschitz_kw={"n_per_t": 16}, c2_kw={"n_per_t": 8}, search_kw={"n_starts": 2, "steps": 5},
                        t_min_grid=[0.01, 0.1], T_grid=[1.5, 3.0])
    t = rep.terms
    assert t["e_nn"].value == 0.0  # the exact score has no L2 error
    assert t["dsm"].value > 0.1  # while DSM keeps its theta-free constant
    # the Jacobian of the exact score is -I/var_t; var_t grows from 0.25 to 1, so the max is at t = eps
    var_eps = math.exp(-2 * eps) * sd**2 + (1 - math.exp(-2 * eps))
    assert t["L"].value == pytest.approx(1 / var_eps, rel=1e-6)
    # X1 = W1(N(m, sd^2), N(0, 1)) by the quantile integral; Monte-Carlo error at n = 2000 is ~0.03
    assert t["X1"].value == pytest.approx(su.metrics.w1_gaussian_1d(m, sd, 0.0, 1.0), abs=0.05)
    assert t["X4"].value < 0.06 and rep.measured.value < 0.06
    assert rep.constants["R"] == pytest.approx(su.bounds.data_radius(train, gm.sample(2000, generator=torch.Generator().manual_seed(10_000), dtype=torch.float64)), rel=0.2)
    # the exact score's sup norms are found exactly, so every label's value is >= the lower estimate
    lo = rep.bounds["lower estimate"]["value"]
    assert rep.bounds["adversarial"]["value"] >= lo * (1 - 1e-9)
    assert rep.bound is None or rep.bound >= lo
    assert rep.label in ("statistical", "certified") or rep.bound is None
    # every label's value, rebuilt by hand from the terms and constants (X1, e_nn, X4 and that label's sups)
    c = rep.constants
    for lab, b in rep.bounds.items():
        if b["value"] is None:
            continue
        L, C2 = rep.sup_norms["L"][lab], rep.sup_norms["C2"][lab]
        prior = c["R"] ** 2 * c["a_T"] * t["X1"].value
        early = (1 + abs(math.log(c["delta"])) / eps) * t["X4"].value
        reg = c["T"] * C2**2 * t["X4"].value
        full = c["C"] * c["R"] ** 1.5 * (1 + L) * (prior + math.sqrt(early + reg)) + c["es"]
        assert b["value"] == pytest.approx(full, rel=1e-9)
    # a(T) is the OU contraction e^{-beta T}, and omega is derived from it
    assert c["a_T"] == pytest.approx(math.exp(-OU.T), rel=1e-12)
    assert math.exp(-c["omega"] * c["T"] / c["R"] ** 2) == pytest.approx(c["a_T"], rel=1e-9)
    b = rep.breakdown
    sh = b["shares"]
    assert sh["e_nn"] == 0.0 and sh["X4_eps"] + sh["X4_C2"] == pytest.approx(1.0, rel=1e-12)
    assert b["bound"] == pytest.approx(b["es"] + b["prefactor"] * (b["prior_term"] + math.sqrt(b["e_nn"] + b["X4_eps"] + b["X4_C2"])), rel=1e-12)
    md = rep.to_markdown()
    assert "of the bracket" in md and "÷ C" in md and "not a bound" in md  # the lower-estimate row says so
    d = rep.to_dict()
    json.dumps(d, allow_nan=False)
    assert "| d1(π, p_ref) | X1 |" in md


def test_lipschitz_power_iteration_matches_full_jacobian_64d():
    torch.manual_seed(0)
    model = su.nets.ScoreMLP(64, 2, 128, activation="silu").double()
    x = torch.randn(40, 64, dtype=torch.float64)
    t = torch.rand(40, dtype=torch.float64) * 0.9 + 0.05
    est = su.bounds.spectral_norms(model, x, t, n_iter=200, tol=1e-10, generator=torch.Generator().manual_seed(1))
    ref = su.bounds.spectral_norms_exact(model, x, t)
    assert float(((est - ref).abs() / ref).max()) < 0.01
    assert float(est.max()) == pytest.approx(float(ref.max()), rel=1e-3)


def _gauss_score_derivatives():
    """Closed forms (sympy, independent of torch) of the OU score of N(m, sd^2) data in 1-D:
    s = -(x - m e^{-t}) / v(t), v = sd^2 e^{-2t} + 1 - e^{-2t}, and its derivatives up to order 2."""
    import sympy as sp

    x, t, m, sd = sp.symbols("x t m sd", real=True)
    v = sd**2 * sp.exp(-2 * t) + 1 - sp.exp(-2 * t)
    s = -(x - m * sp.exp(-t)) / v
    exprs = {"sup|s|": s, "sup|grad_x s|": sp.diff(s, x), "sup|d_t s|": sp.diff(s, t), "sup|D2_x s|": sp.diff(s, x, 2),
             "sup|d_t grad_x s|": sp.diff(s, x, t), "sup|d2_t s|": sp.diff(s, t, 2)}
    return {k: sp.lambdify((x, t, m, sd), e, "math") for k, e in exprs.items()}


def test_derivative_parts_of_gaussian_score_match_sympy():
    """Every per-point part of the C² norm against sympy's closed-form derivatives (1-D: norms are |·|)."""
    m, sd = 2.0, 0.5
    gm = _gauss(m, sd)
    closed = _gauss_score_derivatives()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 1, generator=g, dtype=torch.float64) * 2
    t = torch.rand(12, generator=g, dtype=torch.float64) * 2.9 + 0.05
    parts = su.bounds.derivative_parts(gm.score_fn(OU), x, t, generator=g)
    for k, f in closed.items():
        want = torch.tensor([abs(f(float(a), float(b), m, sd)) for a, b in zip(x[:, 0], t)], dtype=torch.float64)
        assert torch.allclose(parts[k], want, rtol=1e-9, atol=1e-12), k


def test_c2_norm_is_the_sum_of_its_parts_and_kinds_pick_parts():
    gm = _gauss()
    train = gm.sample(500, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    c2 = su.bounds.c2_norm(gm.score_fn(OU), OU, train, t_min=0.05, generator=torch.Generator().manual_seed(0))
    assert c2.parts["sup|D2_x s|"] == pytest.approx(0.0, abs=1e-8)
    assert c2.parts["sup|grad_x s|"] == pytest.approx(1 / (math.exp(-0.1) * 0.25 + 1 - math.exp(-0.1)), rel=1e-6)
    assert c2.value == pytest.approx(sum(c2.parts.values()), rel=1e-12)
    space = c2.total("space")
    assert space == pytest.approx(c2.parts["sup|s|"] + c2.parts["sup|grad_x s|"] + c2.parts["sup|D2_x s|"], rel=1e-12)
    assert space <= c2.total("parabolic") <= c2.total("full")
    with pytest.raises(ValueError, match="kind"):
        c2.total("weird")


def test_second_x_derivative_finds_the_worst_direction():
    """sup_|v|=1 |D²s[v,v]| of a small MLP against a dense search over the unit circle of the exact Hessian tensor."""
    from torch.func import jacfwd, jacrev

    torch.manual_seed(1)
    model = su.nets.ScoreMLP(2, 2, 16, activation="silu").double()
    x = torch.randn(6, 2, dtype=torch.float64)
    t = torch.rand(6, dtype=torch.float64) * 0.9 + 0.05
    est = su.bounds.derivative_parts(model, x, t, parts=("sup|D2_x s|",), n_hvp=20, n_outer=40, n_restarts=2, generator=torch.Generator().manual_seed(0))["sup|D2_x s|"]
    ang = torch.linspace(0, math.pi, 20001, dtype=torch.float64)
    v = torch.stack([ang.cos(), ang.sin()], 1)
    for i in range(6):
        H = jacfwd(jacrev(lambda z: model(z[None], t[i: i + 1])[0]))(x[i])  # (out, a, b)
        dense = float(torch.einsum("kab,na,nb->nk", H.detach(), v, v).norm(dim=1).max())
        assert float(est[i]) == pytest.approx(dense, rel=1e-5)


def test_kde_bandwidth_rules():
    x = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    scott = su.bounds.kde_bandwidth(x, "scott")
    assert scott == pytest.approx(float(x.std(0).mean()) * 1000 ** (-1 / 6))
    from scipy.stats import gaussian_kde

    assert scott / float(x.std(0).mean()) == pytest.approx(gaussian_kde(x.numpy().T).factor)  # scipy's Scott factor
    assert su.bounds.kde_bandwidth(x, "silverman") == pytest.approx(float(x.std(0).mean()) * (4 / 4) ** (1 / 6) * 1000 ** (-1 / 6))
    cv = su.bounds.kde_bandwidth(x, "cv", generator=torch.Generator().manual_seed(0))
    assert 0.3 * scott < cv < 2 * scott


def test_x4_grows_as_keep_ratio_falls_on_digits():
    d = su.data.load_digits()
    kde, _ = su.bounds.kde_reference(d.images)
    torch.manual_seed(0)
    model = su.nets.ScoreMLP(64, 1, 16)
    flat = d.images.flatten(1)

    class Pi:
        def sample(self, n, *, generator=None, dtype=None):
            return kde.sample(n, generator=generator, dtype=dtype)

    x4 = []
    for keep in (1.0, 0.4, 0.1):
        idx = su.data.imbalance(d.labels, keep, scheme="deterministic", seed=0).indices
        rep = su.bounds.wup(model, OU, flat[idx], Pi(), t_min=0.01, n_sub=300, seeds=(0, 1, 2, 3, 4),
                            lipschitz_kw={"n_times": 2, "n_per_t": 4, "n_iter": 5}, c2_kw={"n_times": 1, "n_per_t": 2, "n_outer": 1}, n_enn=50,
                            search=False, optimise=False)
        x4.append(rep.terms["X4"].value)
    assert x4[0] < x4[1] < x4[2], x4


def test_seminar_formula_reproduces_table_1_row():
    """000 Table 1, keep ratio 1.0: X1=0.6673, X2=15.9335, X3=0.0329, X4=0.0002 give 5.0646 with delta = 0.1 and
    eps = min DSM / 5000 (the seminar's minimum loss is not printed; 15.9335 reproduces the row to 3 digits)."""
    X1, e, L, X4, delta = 0.6673, 15.9335, 0.0329, 0.0002, 0.1
    eps = e / 5000
    b = math.sqrt(eps) + (1 + math.sqrt(L)) * (math.exp(-1) * X1 + math.sqrt(e + X4 * (1 + abs(math.log(delta)) / math.sqrt(eps) + L**2)))
    assert b == pytest.approx(5.0646, abs=2e-3)


TINY_DIGITS = {
    "name": "dg", "seed": 0,
    "data": {"name": "digits", "n_train": 300, "n_test": 200},
    "process": {"name": "ou", "params": {"T": 3.0}},
    "model": {"kind": "scorenet", "params": {"channels": [8, 8, 8], "embed_dim": 16}},
    "train": {"epochs": 1, "batch_size": 100, "checkpoint_every": 1},
    "sample": {"sampler": "em", "steps": 10, "n": 50, "t_min": 0.01},
}


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    p = root / "c.yaml"
    p.write_text(yaml.safe_dump(TINY_DIGITS))
    assert main(["train", str(p), "--out", str(root / "r"), "--quiet"]) == 0
    return root / "r" / "00000-dg"


def test_bound_cli_writes_json_and_markdown_for_both_presets(digits_run, capsys):
    rc = main(["bound", str(digits_run), "--n-sub", "80", "--seeds", "1", "--no-search"])
    assert rc == 0
    res = json.loads((digits_run / "bound.json").read_text())
    assert set(["faithful", "seminar"]) <= set(res)
    for preset in ("faithful", "seminar"):
        rep = res[preset]
        assert rep["measured"]["value"] > 0
        b = rep["breakdown"]  # the pieces recombine to the value (from the mean terms)
        value = rep["bound"] if preset == "seminar" else rep["bounds"][rep["label"]]["value"] if rep["bound"] is not None else b["bound"]
        assert b["offset"] + b["es"] + b["prefactor"] * (b["prior_term"] + math.sqrt(b["e_nn"] + b["X4_eps"] + b["X4_C2"])) == pytest.approx(value, rel=1e-12)
    # a ScoreNet has no certificate: its upper label is statistical, and the headline never calls a lower estimate a bound
    assert res["faithful"]["label"] == "statistical" or res["faithful"]["bound"] is None
    assert res["seminar"]["label"] == "seminar proxies (not a bound)" and res["w1_lower_bound"]["max_sliced_lcl"] is not None
    # with or without a finite upper value, the floor at the sups found at feasible points is reported
    st = res["faithful"]["structural"]
    assert st["with_found_sups"] > 0 and (st["value"] is None or st["value"] >= st["with_found_sups"] * (1 - 1e-9))
    sem = res["seminar"]  # the seminar's pieces, rebuilt from its terms and constants
    c, tm = sem["constants"], sem["terms"]
    assert sem["breakdown"]["X4_C2"] == pytest.approx(tm["X4"]["value"] * c["T"] * tm["L"]["value"] ** 2, rel=1e-12)
    assert sem["breakdown"]["X4_eps"] == pytest.approx(tm["X4"]["value"] * (1 + abs(math.log(c["delta"])) / math.sqrt(c["t_min"])), rel=1e-12)
    assert sem["breakdown"]["offset"] == pytest.approx(math.sqrt(c["t_min"]), rel=1e-12)
    assert res["kde_bandwidth"] > 0 and "Gaussian KDE" in res["pi"]
    md = (digits_run / "bound.md").read_text()
    assert "faithful estimators" in md and "seminar estimators" in md and "Lower estimate" not in md.split("\n")[0]
    assert "÷ C" in md and "Guaranteed lower estimate of W1" in md
    assert "X4: the seminar compares the 10 class-proportion values" in md
    capsys.readouterr()


@pytest.mark.parametrize("args, field", [(["--t-min", "0"], "t_min"), (["--t-min", "3.0"], "t_min"), (["--delta", "1.5"], "delta"),
                                         (["--delta", "0"], "delta"), (["--R", "-1"], "R"), (["--omega", "-1"], "omega"),
                                         (["--level", "1"], "level")])
def test_bad_bound_input_exits_2_and_writes_nothing(digits_run, capsys, args, field):
    (digits_run / "bound.json").unlink(missing_ok=True)
    assert main(["bound", str(digits_run), "--n-sub", "50", "--seeds", "1", "--no-search", "--no-optimise", *args]) == 2
    assert field in capsys.readouterr().err
    assert not (digits_run / "bound.json").exists()


def test_bound_omega_must_be_a_number_or_process(digits_run, capsys):
    with pytest.raises(SystemExit) as e:
        main(["bound", str(digits_run), "--omega", "fast"])
    assert e.value.code == 2 and "--omega must be a number > 0 or 'process'" in capsys.readouterr().err


def test_model_with_wrong_output_shape_is_rejected():
    gm = _gauss()
    train = gm.sample(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(ValueError, match="output shape"):
        su.bounds.wup(lambda x, t: torch.cat([x, x], 1), OU, train, gm, t_min=0.01, seeds=(0,))
    with pytest.raises(ValueError, match="t_min"):
        su.bounds.wup(gm.score_fn(OU), OU, train, gm, t_min=0.0)
    with pytest.raises(ValueError, match="delta"):
        su.bounds.wup(gm.score_fn(OU), OU, train, gm, t_min=0.1, delta=1.0)
