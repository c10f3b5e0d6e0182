"""Studies: validation before any run, the grid, the table's statistics and trends, resumption
after a kill, identical tables from every executor, the imbalance study and the report."""
import base64
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import scoreuq as su
from scoreuq.cli import main
from scoreuq.runs import ConfigError

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"

#: a GMM study small enough for a test: 2 settings x 2 seeds, a few seconds per run
TINY = {
    "name": "tiny",
    "base": str(CONFIGS / "gmm.yaml"),
    "set": {"data.n_train": 200, "data.n_test": 200, "model.params.preset": "2L32N", "train.epochs": 4, "train.batch_size": 64,
            "train.checkpoint_every": 1, "sample.steps": 20, "process.params.T": 4.0},
    "factors": {"data.n_train": [100, 200]},
    "seeds": [0, 1],
    "evaluate": {"n": 200},
    "bound": {"estimators": "faithful", "n_sub": 100, "seeds": [0], "search": False, "optimise": False,
              "c2": {"n_times": 3, "n_per_t": 8}},
    "threads": 1,
}


def _write(tmp_path, study, name="study.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(study))
    return p


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "change, message",
    [
        ({"factors": {"data.keep_ratoi": [1.0, 0.5]}}, "data.keep_ratoi"),
        ({"factors": {"data.n_train": []}}, "factors.data.n_train"),
        ({"factors": {}}, "factors"),
        ({"base": str(CONFIGS / "digits.yaml"), "factors": {"data.keep_ratio": [1.0, 0.0]}}, "data.keep_ratio"),
        ({"factors": {"keep": [1.0, 0.5]}}, "unknown factor 'keep'"),
        ({"seeds": []}, "seeds"),
        ({"seeds": [0, 0]}, "seeds"),
        ({"threads": 0}, "threads"),
        ({"executor": {"name": "slurm"}}, "executor"),
        ({"bound": {"n_subb": 10}}, "bound.n_subb"),
        ({"evaluate": {"n": 1}}, "evaluate.n"),
        ({"factors": {"data.n_train": [100, 100]}}, "repeated"),
        ({"factros": {}}, "factros"),
        ({"factors": {"model.params.preset": ["2L32N", "bogus"]}}, "preset"),
    ],
)
def test_bad_study_exits_2_before_any_run(tmp_path, capsys, change, message):
    out = tmp_path / "out"
    rc = main(["study", str(_write(tmp_path, {**TINY, **change})), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err, err
    assert not out.exists()  # nothing written


def test_unknown_shipped_study_and_bad_cli_options(tmp_path, capsys):
    assert main(["study", "no-such-study", "--out", str(tmp_path / "o")]) == 2
    assert "imbalance" in capsys.readouterr().err  # lists the shipped studies
    assert main(["study", str(_write(tmp_path, TINY)), "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "o")]) == 2
    assert "dask" in capsys.readouterr().err
    assert main(["study", str(_write(tmp_path, TINY)), "--set", "train.lrr=1", "--out", str(tmp_path / "o")]) == 2
    assert "train.lrr" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["report", str(tmp_path)]) == 2


def test_every_shipped_study_is_valid():
    names = sorted(n for n, kind, _ in su.studies.shipped() if kind == "training")
    assert names == ["capacity", "early-stopping", "imbalance", "memorisation", "objective", "reference", "sample-size"]
    for name in names:
        study = su.studies.load_study(name)
        assert len(study.runs()) >= 8, name


def test_set_on_a_factor_replaces_its_levels():
    study = su.studies.load_study("imbalance", overrides={"data.keep_ratio": [1.0, 0.4], "train.epochs": 2})
    assert study.factors["data.keep_ratio"] == [1.0, 0.4]
    assert all(sp.config.train.epochs == 2 for sp in study.runs())
    study = su.studies.load_study("imbalance", overrides={"data.keep_ratio": 0.7})
    assert [st.levels["data.keep_ratio"] for st in study.settings()] == [0.7]


def test_grid_linked_factors_and_seeds():
    study = su.studies.StudyConfig.from_dict({
        **TINY, "factors": {"data.n_train": [100, 200, 300],
                            "ref": [{"label": "short", "process.params.T": 2.0}, {"process.params.T": 6.0, "process.params.sigma": 2.0}]},
        "seeds": [3, 5]})
    st = study.settings()
    assert len(st) == 6
    assert [s.levels["data.n_train"] for s in st] == [100, 100, 200, 200, 300, 300]  # the last factor varies fastest
    assert st[0].levels["ref"] == "short" and st[1].levels["ref"] == "T=6.0, sigma=2.0"
    specs = study.runs()
    assert len(specs) == 12 and len({sp.key for sp in specs}) == 12
    sp = specs[3]  # setting 1 (n_train 100, T 6), seed 5
    assert sp.seed == 5 and sp.config.seed == 5 and sp.config.train.seed == 5
    assert sp.config.data.n_train == 100 and sp.config.process.params["T"] == 6.0 and sp.config.process.params["sigma"] == 2.0
    assert sp.config.train.epochs == 4  # the study's `set` reaches every run


def test_dry_run_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["study", str(_write(tmp_path, TINY)), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "4 runs" in text and "data.n_train = 200" in text
    assert not out.exists()


# ----------------------------------------------------------------------------- the table
def _fake_study_and_records(values):
    """A study with one level of data.n_train per row of ``values`` (100, 200, ...), and records
    whose value 'a' per (setting, seed) is given."""
    levels = [100 * (i + 1) for i in range(len(values))]
    study = su.studies.StudyConfig.from_dict({**TINY, "factors": {"data.n_train": levels}, "seeds": [0, 1, 2]})
    recs = []
    for sp in study.runs():
        a = values[sp.setting.index][study.seeds.index(sp.seed)]
        recs.append({"key": sp.key, "config": {}, "values": {"a": a, "b": 7.0}, "extras": {}, "seconds": {}})
    return study, recs


def test_summary_matches_numpy_and_trends_match_scipy(tmp_path):
    from scipy.stats import spearmanr

    vals = [[1.0, 1.5, 0.7], [2.0, 2.4, 2.1], [1.9, 3.3, 2.6]]
    study, recs = _fake_study_and_records(vals)
    table = su.studies.write_table(study, recs, tmp_path)
    for s, v in zip(table["summary"], vals):
        assert s["mean"]["a"] == pytest.approx(np.mean(v), rel=1e-12)
        assert s["sd"]["a"] == pytest.approx(np.std(v, ddof=1), rel=1e-12)
        assert s["sd"]["b"] == 0.0
    tr = table["trends"]["data.n_train"]["columns"]
    assert tr["a"]["rho"] == pytest.approx(spearmanr([100, 200, 300], [np.mean(v) for v in vals]).statistic)
    assert tr["a"]["monotone"] == "up" and tr["a"]["text"].startswith("grows monotonically as n_train grows")
    assert tr["b"]["text"].startswith("constant")
    # means that rise then fall (ranks 1, 3, 2: rho = 0.5) are described by where they turn
    study, recs = _fake_study_and_records([[1.0] * 3, [3.0] * 3, [2.0, 2.5, 2.0]])
    t2 = su.studies.write_table(study, recs, tmp_path)["trends"]["data.n_train"]["columns"]["a"]
    assert t2["monotone"] is None and t2["rho"] == pytest.approx(0.5) and t2["turn"] == 200
    assert t2["text"].startswith("grows as n_train grows to its largest at n_train = 200, then shrinks")
    # a U (as C2 over epochs on the circle): falls to 300, then rises
    study, recs = _fake_study_and_records([[3.0] * 3, [2.0] * 3, [1.0] * 3, [2.5] * 3])
    t3 = su.studies.write_table(study, recs, tmp_path)["trends"]["data.n_train"]["columns"]["a"]
    assert t3["turn"] == 300 and t3["text"].startswith("shrinks as n_train grows to its smallest at n_train = 300, then grows")
    # a zigzag has no single turn: no monotone trend
    study, recs = _fake_study_and_records([[1.0] * 3, [3.0] * 3, [2.0] * 3, [4.0] * 3])
    t4 = su.studies.write_table(study, recs, tmp_path)["trends"]["data.n_train"]["columns"]["a"]
    assert t4["turn"] is None and t4["text"].startswith("tends to grow as n_train grows, not monotonically")
    study, recs = _fake_study_and_records([[2.0] * 3, [3.0] * 3, [1.0] * 3, [2.5] * 3])
    t5 = su.studies.write_table(study, recs, tmp_path)["trends"]["data.n_train"]["columns"]["a"]
    assert t5["turn"] is None and t5["text"].startswith("no monotone trend")
    rows = (tmp_path / "table.csv").read_text().splitlines()
    assert rows[0].split(",")[:4] == ["key", "setting", "data.n_train", "seed"] and len(rows) == 13  # the last table: 4 levels × 3 seeds
    summ = (tmp_path / "summary.csv").read_text().splitlines()
    assert len(summ) == 5 and "a_sd" in summ[0]


def test_every_measured_column_of_a_circle_study_says_how_it_was_estimated(tmp_path):
    spec = {"name": "circle-tiny", "base": str(CONFIGS / "circle.yaml"), "set": {"data.n_test": 200, "train.checkpoint_every": 5},
            "factors": {"train.epochs": [5, 10]}, "seeds": [0], "evaluate": {"n": 200}, "bound": False, "threads": 1}
    assert main(["study", str(_write(tmp_path, spec)), "--out", str(tmp_path / "o"), "--executor", "local"]) == 0
    table = json.loads((tmp_path / "o" / "table.json").read_text())
    assert {"circle.c1_to_train", "circle.c2_to_circle"} <= set(table["columns"])
    assert set(table["columns"]) - set(table["estimators"]) == {"N", "train_loss_final"}
    assert "C1(gen, training points)" in (tmp_path / "o" / "report.md").read_text()


def test_write_table_refuses_missing_runs(tmp_path):
    study, recs = _fake_study_and_records([[1.0] * 3] * 3)
    with pytest.raises(ValueError, match="every run"):
        su.studies.write_table(study, recs[:-1], tmp_path)


# ----------------------------------------------------------------------------- running
@pytest.mark.slow
def test_kill_then_rerun_skips_finished_runs_and_matches_an_uninterrupted_study(tmp_path):
    path = _write(tmp_path, TINY)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "scoreuq", "study", str(path), "--out", str(killed), "--no-report"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list((killed / "records").glob("*.json")):
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    first = sorted((killed / "records").glob("*.json"))
    assert 1 <= len(first) < 4, "the kill must land mid-study"
    stamp = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in first}
    assert not (killed / "table.csv").exists()
    res = su.studies.run_study(su.studies.load_study(path), killed, report=False, progress=lambda s: None)
    assert res.skipped == len(first) and res.computed == 4 - len(first)
    for p in first:  # finished runs were not recomputed
        assert (p.stat().st_mtime_ns, p.read_bytes()) == stamp[p.name]
    whole = tmp_path / "whole"
    su.studies.run_study(su.studies.load_study(path), whole, report=False, progress=lambda s: None)
    assert (killed / "table.csv").read_text() == (whole / "table.csv").read_text()
    assert (killed / "summary.csv").read_text() == (whole / "summary.csv").read_text()
    # a rerun of a finished study computes nothing; a different study in the same folder is refused
    again = su.studies.run_study(su.studies.load_study(path), whole, report=False, progress=lambda s: None)
    assert again.computed == 0 and again.skipped == 4
    other = _write(tmp_path, {**TINY, "seeds": [0, 1, 2]}, "other.yaml")
    assert main(["study", str(other), "--out", str(whole)]) == 2


@pytest.mark.slow
def test_local_process_and_dask_executors_give_identical_tables(tmp_path):
    pytest.importorskip("distributed")
    study = su.studies.StudyConfig.from_dict({**TINY, "seeds": [0]})
    tables = {}
    for ex in ("local", "process", "dask"):
        su.studies.run_study(study, tmp_path / ex, executor=ex, workers=2, report=False, progress=lambda s: None)
        tables[ex] = (tmp_path / ex / "table.csv").read_text()
    assert tables["local"] == tables["process"] == tables["dask"]
    env = json.loads((tmp_path / "dask" / "environment.json").read_text())
    assert env["executor"] == "dask" and env["threads_per_run"] == 1


# ----------------------------------------------------------------------------- imbalance + report
@pytest.fixture(scope="module")
def imbalance_study(tmp_path_factory):
    """The shipped imbalance study at toy size (1 epoch, 60 samples, one seed), with its report."""
    tmp = tmp_path_factory.mktemp("imb")
    raw = yaml.safe_load((CONFIGS / "study-imbalance.yaml").read_text())
    raw.update(base=str(CONFIGS / raw["base"]), seeds=[0], evaluate={"n": 60},
               set={"train.epochs": 1, "sample.steps": 5},
               bound={"estimators": "both", "n_sub": 60, "seeds": [0], "lipschitz": {"n_times": 2, "n_per_t": 4, "n_iter": 5},
                      "c2": {"n_times": 2, "n_per_t": 2, "n_outer": 1}, "search": False, "optimise": False})
    out = tmp / "study"
    assert main(["study", str(_write(tmp, raw)), "--out", str(out), "--executor", "local"]) == 0
    return out


def test_shipped_imbalance_study_dry_run(capsys):
    assert main(["study", "imbalance", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "15 runs" in text and "studies/imbalance" in text
    assert main(["study", "imbalance", "--dataset", "mnist5k", "--scheme", "deterministic", "--dry-run"]) == 0
    assert "studies/imbalance-mnist5k-deterministic" in capsys.readouterr().out


@pytest.mark.slow
def test_imbalance_study_table_1_columns_and_x4_grows(imbalance_study):
    table = json.loads((imbalance_study / "table.json").read_text())
    assert [r["levels"]["data.keep_ratio"] for r in table["summary"]] == [1.0, 0.9, 0.7, 0.4, 0.1]
    for col in ("faithful.X1", "faithful.e_nn", "faithful.L", "faithful.X4", "faithful.bound", "seminar.X1", "seminar.X2",
                "seminar.X3", "seminar.X4", "seminar.bound", "measured.w1", "measured.sliced_w1", "frechet", "shares.tv_generated_train"):
        assert col in table["columns"], col
    m = [s["mean"] for s in table["summary"]]
    # the seminar's finding: d1(π_N, π) grows as the keep ratio falls (nested training sets, the same π samples)
    assert m[-1]["faithful.X4"] > m[0]["faithful.X4"]
    assert [x["seminar.X4"] for x in m] == sorted(x["seminar.X4"] for x in m)
    assert [x["shares.tv_train_full"] for x in m] == sorted(x["shares.tv_train_full"] for x in m)
    assert m[0]["faithful.X1"] == m[-1]["faithful.X1"]  # X1 does not depend on the training set
    assert m[-1]["N"] < m[0]["N"]
    shares = table["class_shares"]
    assert len(shares) == 5 and all(abs(sum(s["generated"]) - 1) < 1e-9 for s in shares.values())
    assert "grows" in table["trends"]["data.keep_ratio"]["columns"]["seminar.X4"]["text"]


def _images(html_text):
    return re.findall(r"<img [^>]*src='([^']*)'", html_text)


@pytest.mark.slow
def test_report_is_self_contained_with_valid_pngs(imbalance_study):
    import matplotlib.image as mpimg

    html_text = (imbalance_study / "report.html").read_text()
    srcs = _images(html_text)
    assert len(srcs) >= 5 + 5  # term figures, class shares, bound vs measured, one sample grid per setting
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        img = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert img.shape[0] > 10 and img.shape[1] > 10
    for needle in ("X4 = d1(π_N, π)", "bound (seminar)", "Trends", "How each number was estimated", "Study config", "torch",
                   "as keep_ratio falls", "Which term carries the bound", "is the largest part of e"):
        assert needle in html_text, needle
    md = (imbalance_study / "report.md").read_text()
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (imbalance_study / link).is_file(), link
    # `scoreuq report` rewrites both from the folder alone
    os.remove(imbalance_study / "report.html")
    assert main(["report", str(imbalance_study)]) == 0
    assert (imbalance_study / "report.html").is_file()


def _chromium():
    from scoreuq import check_report

    return check_report


@pytest.mark.slow
def test_report_renders_every_image_in_headless_chromium(imbalance_study, tmp_path):
    chk = _chromium()
    if chk.find_browser() is None:
        pytest.skip("no Chromium on this machine (apt install chromium, or set $CHROMIUM)")
    assert chk.main([str(imbalance_study / "report.html")]) == 0
    # the check can fail: a copy with one corrupted image and one missing file is caught
    html_text = (imbalance_study / "report.html").read_text()
    src = _images(html_text)[0]
    broken = html_text.replace(src, "data:image/png;base64,iVBORw0KGgoAAAAN", 1)
    broken = broken.replace("</body>", "<img alt='missing' src='figures/no-such.png'></body>")
    bad = imbalance_study / "broken.html"
    bad.write_text(broken)
    n, lines = chk.check(bad, chk.find_browser())
    assert sum(ln.startswith("BROKEN") for ln in lines) == 2 and n == len(_images(html_text)) + 1


def test_worker_device_gives_each_worker_its_own_gpu(monkeypatch):
    from scoreuq.studies.runner import worker_device

    monkeypatch.setenv("SCOREUQ_WORKER_INDEX", "3")
    assert worker_device("cuda", count=2) == "cuda:1"
    assert worker_device("auto", count=4) == "cuda:3"
    assert worker_device("cuda", count=1) is None  # one GPU: the config's own device
    assert worker_device("cpu", count=4) is None
    monkeypatch.delenv("SCOREUQ_WORKER_INDEX")
    assert worker_device("cuda", count=4) is None  # not in a pool worker: the config decides
