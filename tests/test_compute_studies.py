"""Compute-only studies: one experiment call per setting and seed, on the training studies' runner,
table and report; nothing trained."""
from __future__ import annotations

import json

import pytest

from scoreuq import experiments, studies
from scoreuq.cli import main
from scoreuq.runs.config import ConfigError
from scoreuq.studies.config import StudyConfig


def _gmm(**kw):
    raw = {"name": "fg", "compute": "forward_gmm", "params": {"beta_grid_step": 0.5}, "factors": {"mu": [1.0, 10.0, 100.0]},
           "seeds": [0]}
    raw.update(kw)
    return StudyConfig.from_dict(raw)


def test_compute_study_config_and_grid():
    st = _gmm()
    assert st.is_compute and st.compute == "forward_gmm"
    specs = st.runs()
    assert [sp.config["mu"] for sp in specs] == [1.0, 10.0, 100.0]
    assert all(sp.config["beta_grid_step"] == 0.5 for sp in specs)
    assert set(specs[0].config) == set(experiments.get("forward_gmm").defaults)
    d = st.to_dict()
    assert d["compute"] == "forward_gmm" and "base" not in d and d["params"]["mu"] == experiments.get("forward_gmm").defaults["mu"]
    assert StudyConfig.from_dict(d).identity() == st.identity()  # study.yaml round-trips


@pytest.mark.parametrize("kw, match", [
    ({"compute": "nope"}, "compute must be one of"),
    ({"params": {"muu": 1.0}}, "params.muu"),
    ({"factors": {"muu": [1.0]}}, "muu"),
    ({"factors": {"data.keep_ratio": [1.0]}}, "data.keep_ratio"),
    ({"evaluate": {"n": 100}}, "trains nothing"),
    ({"base": "gmm.yaml"}, "has no 'base'"),
    ({"factors": {"mu": []}}, "factors.mu"),
])
def test_compute_study_bad_config(kw, match):
    with pytest.raises(ConfigError, match=match):
        _gmm(**kw)


def test_compute_study_checks_every_run_before_writing(tmp_path):
    st = _gmm(factors={"mu": [10.0, -1.0]})
    out = tmp_path / "s"
    with pytest.raises(ConfigError, match="mu"):
        studies.run_study(st, out, progress=lambda line: None)
    assert not out.exists()


def test_compute_study_runs_resumes_and_reports_without_training(tmp_path, monkeypatch):
    import scoreuq.runs as runs

    def no_training(*a, **k):
        raise AssertionError("a compute study must not train")

    monkeypatch.setattr(runs, "train", no_training)
    monkeypatch.setattr(runs, "prepare", no_training)
    st = _gmm()
    out = tmp_path / "s"
    res = studies.run_study(st, out, progress=lambda line: None)
    assert res.computed == 3 and res.skipped == 0
    table = json.loads((out / "table.json").read_text())
    assert table["compute"] == "forward_gmm" and table["findings"] and "beta_star" in table["columns"]
    assert table["titles"]["beta_star"]
    assert all(table["estimators"].get(c) for c in table["columns"]), "every column says how it was estimated"
    html = (out / "report.html").read_text()
    assert "Beside the seed" in html and "forward_gmm" in html and "<img" in html
    md = (out / "report.md").read_text()
    assert "Beside the seed" in md
    first = (out / "table.csv").read_bytes()
    timings = sorted((out / "timings").glob("*.json"))
    assert len(timings) == 3 and json.loads(timings[0].read_text())["seconds"]["compute"] > 0
    assert "seconds" not in (out / "table.csv").read_text()  # wall times stay out of the table
    # a killed study: remove one record, rerun -> only that run is computed, same table
    recs = sorted((out / "records").glob("*.json"))
    recs[1].unlink()
    res2 = studies.run_study(st, out, progress=lambda line: None)
    assert (res2.computed, res2.skipped) == (1, 2)
    assert (out / "table.csv").read_bytes() == first


@pytest.mark.slow
def test_compute_study_process_executor_gives_identical_table(tmp_path):
    st = _gmm()
    studies.run_study(st, tmp_path / "a", report=False, progress=lambda line: None)
    studies.run_study(st, tmp_path / "b", executor="process", workers=2, report=False, progress=lambda line: None)
    for f in ("table.csv", "summary.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_shipped_compute_studies_validate():
    shipped = {name: kind for name, kind, _ in studies.shipped()}
    compute = [n for n, k in shipped.items() if k == "compute"]
    assert {"forward-gmm", "forward-circles", "forward-cauchy", "discretisation", "manifold-distances", "ism-gaussian",
            "langevin-weights"} <= set(compute)
    for name in compute:
        st = studies.load_study(name)
        assert st.is_compute
        studies.check_study(st)


def test_every_experiment_titles_and_estimates_its_columns():
    for name in experiments.names():
        exp = experiments.get(name)
        exp.check(dict(exp.defaults))
        for col in exp.titles:
            assert col in exp.estimators, f"{name}: column {col} has a title but no estimator"
        assert exp.thesis, f"{name}: no source in the seeds"


def test_cli_compute_study_bad_input_exit_2_and_nothing_written(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["study", "forward-gmm", "--out", str(out), "--set", "tol=0"]) == 2
    assert "tol" in capsys.readouterr().err
    assert not out.exists()
    assert main(["study", "forward-gmm", "--out", str(out), "--dataset", "digits"]) == 2
    assert "compute study" in capsys.readouterr().err
    assert main(["study", "forward-gmm", "--out", str(out), "--set", "nope=1"]) == 2
    assert "nope" in capsys.readouterr().err
    assert not out.exists()


def test_cli_study_list_and_dry_run(tmp_path, capsys):
    assert main(["study", "list"]) == 0
    text = capsys.readouterr().out
    assert "forward-gmm" in text and "compute" in text and "imbalance" in text
    assert main(["study", "forward-gmm", "--dry-run", "--out", str(tmp_path / "s")]) == 0
    assert "nothing written" in capsys.readouterr().out
    assert not (tmp_path / "s").exists()


def test_cli_advise_beta(tmp_path, capsys):
    from scoreuq.studies.config import configs_dir

    out = tmp_path / "advice.json"
    assert main(["advise-beta", str(configs_dir() / "gmm.yaml"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "recommended β" in text and "Reasons" in text
    adv = json.loads(out.read_text())
    assert adv["recommended"] > 0
    target = tmp_path / "bad.json"
    for bad in (["--tol", "0"], ["--tol", "-1"], ["--beta-range", "5", "1"]):
        assert main(["advise-beta", str(configs_dir() / "gmm.yaml"), "--out", str(target), *bad]) == 2
        assert not target.exists()
    with pytest.raises(SystemExit) as exc:  # argparse rejects it while parsing
        main(["advise-beta", str(configs_dir() / "gmm.yaml"), "--out", str(target), "--steps", "0"])
    assert exc.value.code == 2 and not target.exists()
    assert main(["advise-beta", str(tmp_path / "missing.yaml")]) == 2


@pytest.mark.parametrize("study, setting, field", [
    ("forward-gmm", "tol=0", "tol"), ("forward-gmm", "tol=-0.5", "tol"), ("forward-gmm", "mu=-1", "mu"),
    ("forward-circles", "tol=0", "tol"), ("forward-cauchy", "gamma=0", "gamma"),
    ("discretisation", "dt=0", "dt"), ("discretisation", "dt=2.0", "dt"), ("discretisation", "n_paths=0", "n_paths"),
    ("manifold-distances", "n_projections=0", "n_projections"), ("langevin-weights", "n=0", "n"),
])
def test_cli_compute_study_bad_parameters(tmp_path, capsys, study, setting, field):
    out = tmp_path / "s"
    assert main(["study", study, "--out", str(out), "--set", setting]) == 2
    assert field in capsys.readouterr().err
    assert not out.exists()


def test_empty_grid_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="factors"):
        _gmm(factors={})


def test_report_draws_2d_samples_of_a_compute_study_side_by_side(tmp_path):
    from scoreuq.studies.report import write_report

    out = tmp_path / "s"
    studies.run_study(_gmm(), out, report=False, progress=lambda line: None)
    for i, p in enumerate(sorted((out / "records").glob("*.json"))):  # give each record 2-D samples, as pushforward's have
        rec = json.loads(p.read_text())
        rec["extras"]["samples"] = [[float(i), 0.0], [0.0, 1.0], [1.0, 1.0]]
        rec["extras"]["train_points"] = [[0.0, 0.0]]
        p.write_text(json.dumps(rec))
    write_report(out)
    assert (out / "figures" / "samples.png").stat().st_size > 5000
    assert "side by side" in (out / "report.html").read_text()


def test_a_study_folder_in_use_is_refused_and_a_stale_lock_is_taken_over(tmp_path, capsys):
    import os
    import socket

    out = tmp_path / "s"
    out.mkdir()
    (out / ".lock").write_text(f"{socket.gethostname()} {os.getpid()}\n")  # held by a live process (this one)
    assert main(["study", "forward-gmm", "--out", str(out)]) == 2
    assert "in use by process" in capsys.readouterr().err
    assert not (out / "records").exists()
    (out / ".lock").write_text(f"{socket.gethostname()} 2147483646\n")  # its process is gone
    res = studies.run_study(_gmm(), out, report=False, progress=lambda line: None)
    assert res.computed == 3 and not (out / ".lock").exists()  # released afterwards
