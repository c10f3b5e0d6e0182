"""Compute-only experiments of scoreuq.experiments.thesis_misc: 003 Table 4.2, App. C.1, App. C.3."""
import json
import math

import pytest
import torch

import scoreuq.experiments.thesis_misc as tm
from scoreuq import experiments

NAMES = ("manifold_distances", "ism_gaussian", "langevin_weights")


pytestmark = pytest.mark.usefixtures("one_thread")



def _rows(exp, factor, levels, seeds, **over):
    rows = []
    for lv in levels:
        for s in seeds:
            p = {**exp.defaults, **over, factor: lv}
            exp.check(p)
            out = exp.fn(dict(p), s)
            rows.append({"params": p, "seed": s, "values": out["values"], "extras": out.get("extras") or {}})
    return rows


def _check_record(out):
    assert set(out) <= {"values", "extras"}
    for k, v in out["values"].items():
        assert isinstance(v, float) and math.isfinite(v), (k, v)
    json.dumps(out.get("extras") or {}, allow_nan=False)


def _check_findings(fs):
    assert fs
    for f in fs:
        assert set(f) == {"figure", "ours", "thesis", "agrees", "note"}
        assert isinstance(f["ours"], str) and isinstance(f["thesis"], str) and f["agrees"] in (True, False, None)
    json.dumps(fs, allow_nan=False)


def test_registered_with_complete_records():
    for name in NAMES:
        exp = experiments.get(name)
        assert exp.name == name and exp.thesis.startswith("003") and exp.description
        assert callable(exp.analyse)
        exp.check(dict(exp.defaults))
        assert set(exp.titles) == set(exp.estimators)


@pytest.mark.parametrize(
    "name, key, bad, match",
    [
        ("manifold_distances", "target", "torus", "target"),
        ("manifold_distances", "n", 5, "n"),
        ("manifold_distances", "n_projections", 0, "n_projections"),
        ("manifold_distances", "noise_var", -1.0, "noise_var"),
        ("manifold_distances", "sphere_radius", 0.0, "sphere_radius"),
        ("manifold_distances", "sphere_center", [0.0, 1.0], "sphere_center"),
        ("ism_gaussian", "n", 1, "n"),
        ("ism_gaussian", "sigma", 0.0, "sigma"),
        ("ism_gaussian", "init_S", -1.0, "init_S"),
        ("ism_gaussian", "max_iter", 0, "max_iter"),
        ("langevin_weights", "sampler", "hmc", "sampler"),
        ("langevin_weights", "langevin_step_size", 1.5, "langevin_step_size"),
        ("langevin_weights", "ald_sigma_max", 0.001, "ald_sigma_max"),
        ("langevin_weights", "sde_steps", 2, "sde_steps"),
        ("langevin_weights", "t_min", 0.0, "t_min"),
    ],
)
def test_check_names_the_parameter(name, key, bad, match):
    exp = experiments.get(name)
    with pytest.raises(ValueError, match=match):
        exp.check({**exp.defaults, key: bad})


@pytest.mark.parametrize(
    "name, params",
    [
        ("manifold_distances", {"target": "sphere", "n": 300, "n_test": 300, "n_projections": 20}),
        ("ism_gaussian", {"n": 500}),
        ("langevin_weights", {"sampler": "reverse_sde", "n": 200, "sde_steps": 50}),
    ],
)
def test_deterministic_given_params_and_seed(name, params):
    exp = experiments.get(name)
    p = {**exp.defaults, **params}
    torch.manual_seed(123)
    a = exp.fn(dict(p), 4)
    torch.manual_seed(999)  # global state must not matter
    b = exp.fn(dict(p), 4)
    assert a["values"] == b["values"]
    _check_record(a)
    c = exp.fn(dict(p), 5)
    assert c["values"] != a["values"]


# ------------------------------------------------------------------ Table 4.2
def test_manifold_distances_default_grid_reproduces_table_4_2():
    exp = tm.manifold_distances
    rows = _rows(exp, "target", ["same", "noisy", "gapped", "sphere"], [0, 1, 2])
    for r in rows:
        _check_record({"values": r["values"], "extras": r["extras"]})
    mean = {t: sum(r["values"]["sliced_w"] for r in rows if r["params"]["target"] == t) / 3 for t in tm.THESIS_TABLE_4_2}
    assert mean["same"] < mean["gapped"] < mean["sphere"] and mean["noisy"] < mean["gapped"]
    fs = exp.analyse(rows)
    _check_findings(fs)
    main = [f for f in fs if f["figure"].startswith("Table 4.2: sliced W1")]
    assert len(main) == 4 and all(f["agrees"] for f in main)
    sphere = [f for f in fs if "radius (centre" in f["figure"]][0]
    assert sphere["agrees"] and "r ≈ 1.0" in sphere["ours"]
    # the library's default Sphere (radius 10, origin) does not give the thesis's 7.1
    r10 = exp.fn({**exp.defaults, "target": "sphere", "sphere_radius": 10.0}, 0)["values"]["sliced_w"]
    assert r10 < 6.0


# ------------------------------------------------------------------ App. C.1
def test_ism_closed_form_is_the_minimiser_and_descent_finds_it():
    x = torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 + 1
    out = tm.ism_gaussian.fn({**tm.ism_gaussian.defaults, "n": 1000, "mu": 1.0, "sigma": 2.0}, 0)["values"]
    assert out["M_hat"] == pytest.approx(float(x.mean()), abs=1e-12)
    assert out["S_hat"] == pytest.approx(float(x.std(unbiased=False)), rel=1e-12)
    assert out["S_hat_variance"] == pytest.approx(out["S_hat"] ** 2, rel=1e-12)
    assert out["S_hat_precision"] == pytest.approx(1 / out["S_hat"] ** 2, rel=1e-12)
    assert out["J_min"] == pytest.approx(float(tm.ism_objective(x, out["M_hat"], out["S_hat"])), rel=1e-12)
    assert out["gd_error"] < 1e-6 and out["J_gd"] >= out["J_min"] - 1e-12
    M = torch.tensor(out["M_hat"], dtype=torch.float64, requires_grad=True)
    S = torch.tensor(out["S_hat"], dtype=torch.float64, requires_grad=True)
    gM, gS = torch.autograd.grad(tm.ism_objective(x, M, S), (M, S))
    assert abs(float(gM)) < 1e-10 and abs(float(gS)) < 1e-10
    for dM, dS in [(0.01, 0), (-0.01, 0), (0, 0.01), (0, -0.01)]:
        assert float(tm.ism_objective(x, out["M_hat"] + dM, out["S_hat"] + dS)) > out["J_min"]


def test_ism_verdict_standard_deviation():
    ver = tm._ism_verdict()
    assert ver["best"].startswith("standard deviation")
    assert abs(ver["candidates"]["standard deviation (S = √v)"] - tm.THESIS_ISM["S"]) < 2e-6
    rows = _rows(tm.ism_gaussian, "n", [1000, 100_000], [0, 1, 2])
    fs = tm.ism_gaussian.analyse(rows)
    _check_findings(fs)
    verdict = [f for f in fs if "parameterisation" in f["figure"]][0]
    assert verdict["agrees"] is True and verdict["ours"].startswith("standard deviation")
    assert [f for f in fs if f["figure"].startswith("App. C.1: Ŝ")][0]["agrees"]


# ------------------------------------------------------------------ App. C.3
def test_langevin_weights_plain_langevin_fails_the_others_do_not():
    exp = tm.langevin_weights
    rows = _rows(exp, "sampler", ["langevin", "annealed_langevin", "reverse_sde"], [0], n=1000)
    w = {r["params"]["sampler"]: r["values"] for r in rows}
    for v in w.values():
        _check_record({"values": v})
        assert v["ci_low"] <= v["weight_small"] <= v["ci_high"]
    assert 0.35 < w["langevin"]["weight_small"] < 0.65 and w["langevin"]["ci_low"] > 0.1
    assert abs(w["annealed_langevin"]["weight_small"] - 0.1) < 0.03
    assert abs(w["reverse_sde"]["weight_small"] - 0.1) < 0.03
    fs = exp.analyse(rows)
    _check_findings(fs)
    assert len(fs) == 3 and all(f["agrees"] for f in fs)


def test_wilson_interval():
    lo, hi = tm.wilson_interval(10, 100)
    assert lo == pytest.approx(0.0552, abs=1e-4) and hi == pytest.approx(0.1744, abs=1e-4)
    assert tm.wilson_interval(0, 10)[0] == 0.0


def test_runs_as_a_compute_study(tmp_path):
    from scoreuq.studies import StudyConfig, run_study

    study = StudyConfig.from_dict({"compute": "ism_gaussian", "factors": {"n": [200, 2000]}, "seeds": [0, 1]})
    res = run_study(study, tmp_path / "o", report=True, progress=lambda s: None)
    assert res.computed == 4
    assert (tmp_path / "o" / "table.csv").is_file()
