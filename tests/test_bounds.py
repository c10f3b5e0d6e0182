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
    rep = su.bounds.wup(gm.score_fn(OU), OU, train, gm, eps=eps, n_sub=2000, seeds=(0, 1), generated=gen,
                        lipschitz_kw={"n_per_t": 16}, c2_kw={"n_per_t": 8})
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
    assert rep.bound > rep.measured.value and rep.ratio > 1
    # the breakdown, rebuilt by hand from the terms and constants, gives the bound; e_nn = 0 has no share
    c, b = rep.constants, rep.breakdown
    prior = c["R"] ** 2 * math.exp(-c["omega"] * c["T"] / c["R"] ** 2) * t["X1"].value
    early = (1 + abs(math.log(c["delta"])) / eps) * t["X4"].value
    reg = c["T"] * t["C2"].value ** 2 * t["X4"].value
    assert b["prior_term"] == pytest.approx(prior, rel=1e-12) and b["X4_eps"] == pytest.approx(early, rel=1e-12)
    assert b["X4_C2"] == pytest.approx(reg, rel=1e-12)
    full = c["C"] * c["R"] ** 1.5 * (1 + t["L"].value) * (prior + math.sqrt(early + reg))
    assert rep.bound == pytest.approx(full, rel=1e-12) and b["bound"] == pytest.approx(full, rel=1e-12)
    sh = b["shares"]
    assert sh["e_nn"] == 0.0 and sh["X4_eps"] + sh["X4_C2"] == pytest.approx(1.0, rel=1e-12)
    assert sh["prior"] == pytest.approx(prior / (prior + math.sqrt(early + reg)), rel=1e-12)
    assert "of the bracket" in rep.to_markdown()
    d = rep.to_dict()
    json.dumps(d)
    assert "| d1(π, p_ref) | X1 |" in rep.to_markdown()


def test_lipschitz_power_iteration_matches_full_jacobian_64d():
    torch.manual_seed(0)
    model = su.nets.ScoreMLP(64, 2, 128, activation="silu").double()
    x = torch.randn(40, 64, dtype=torch.float64)
    t = torch.rand(40, dtype=torch.float64) * 0.9 + 0.05
    est = su.bounds.spectral_norms(model, x, t, n_iter=200, tol=1e-10, generator=torch.Generator().manual_seed(1))
    ref = su.bounds.spectral_norms_exact(model, x, t)
    assert float(((est - ref).abs() / ref).max()) < 0.01
    assert float(est.max()) == pytest.approx(float(ref.max()), rel=1e-3)


def test_c2_norm_of_gaussian_score():
    """For N(m, sd^2) data under OU the score is -(x - m_t)/var_t: the x-Hessian vanishes and |s| is bounded by the points."""
    gm = _gauss()
    train = gm.sample(500, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    c2 = su.bounds.c2_norm(gm.score_fn(OU), OU, train, eps=0.05, generator=torch.Generator().manual_seed(0))
    assert c2.parts["sup|D2_x s[v,v]|"] == pytest.approx(0.0, abs=1e-8)
    assert c2.parts["sup|grad_x s|"] == pytest.approx(1 / (math.exp(-0.1) * 0.25 + 1 - math.exp(-0.1)), rel=1e-6)
    assert c2.value == max(c2.parts.values())


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
        rep = su.bounds.wup(model, OU, flat[idx], Pi(), eps=0.01, n_sub=300, seeds=(0, 1, 2, 3, 4),
                            lipschitz_kw={"n_times": 2, "n_per_t": 4, "n_iter": 5}, c2_kw={"n_times": 1, "n_per_t": 2, "n_directions": 1}, n_enn=50)
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
    rc = main(["bound", str(digits_run), "--n-sub", "100", "--seeds", "2"])
    assert rc == 0
    res = json.loads((digits_run / "bound.json").read_text())
    assert set(["faithful", "seminar"]) <= set(res)
    for preset in ("faithful", "seminar"):
        assert math.isfinite(res[preset]["bound"]) and res[preset]["measured"]["value"] > 0
        b = res[preset]["breakdown"]  # the pieces recombine to the bound (from the mean terms)
        assert b["offset"] + b["prefactor"] * (b["prior_term"] + math.sqrt(b["e_nn"] + b["X4_eps"] + b["X4_C2"])) == pytest.approx(res[preset]["bound"], rel=1e-12)
    sem = res["seminar"]  # the seminar's pieces, rebuilt from its terms and constants
    c, tm = sem["constants"], sem["terms"]
    assert sem["breakdown"]["X4_C2"] == pytest.approx(tm["X4"]["value"] * c["T"] * tm["L"]["value"] ** 2, rel=1e-12)
    assert sem["breakdown"]["X4_eps"] == pytest.approx(tm["X4"]["value"] * (1 + abs(math.log(c["delta"])) / math.sqrt(c["eps"])), rel=1e-12)
    assert sem["breakdown"]["offset"] == pytest.approx(math.sqrt(c["eps"]), rel=1e-12)
    assert res["kde_bandwidth"] > 0 and "Gaussian KDE" in res["pi"]
    md = (digits_run / "bound.md").read_text()
    assert "faithful estimators" in md and "seminar estimators" in md and "power iteration" in md
    assert "X4: the seminar compares the 10 class-proportion values" in md
    capsys.readouterr()


@pytest.mark.parametrize("args, field", [(["--eps", "0"], "eps"), (["--eps", "3.0"], "eps"), (["--delta", "1.5"], "delta"),
                                         (["--delta", "0"], "delta"), (["--R", "-1"], "R")])
def test_bad_bound_input_exits_2_and_writes_nothing(digits_run, capsys, args, field):
    (digits_run / "bound.json").unlink(missing_ok=True)
    assert main(["bound", str(digits_run), "--n-sub", "50", "--seeds", "1", *args]) == 2
    assert field in capsys.readouterr().err
    assert not (digits_run / "bound.json").exists()


def test_model_with_wrong_output_shape_is_rejected():
    gm = _gauss()
    train = gm.sample(50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(ValueError, match="output shape"):
        su.bounds.wup(lambda x, t: torch.cat([x, x], 1), OU, train, gm, eps=0.01, seeds=(0,))
    with pytest.raises(ValueError, match="eps"):
        su.bounds.wup(gm.score_fn(OU), OU, train, gm, eps=0.0)
    with pytest.raises(ValueError, match="delta"):
        su.bounds.wup(gm.score_fn(OU), OU, train, gm, eps=0.1, delta=1.0)
