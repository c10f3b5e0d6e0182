"""The report's summary box, the new bound columns of a run and the folding of tiny bound shares.

The study folders here are built by hand (records → ``write_table`` → ``write_report``): the real
table and report code run on them, nothing is trained."""
from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

import pytest
import torch
import yaml

from scoreuq.studies.report import UNDERTRAINED_RATIO, _pct, _slope_ci, write_report
from scoreuq.studies.config import configs_dir, load_study
from scoreuq.studies.runner import _estimators, _flatten, _notes
from scoreuq.studies.table import COLUMN_TITLES, write_table

pytestmark = pytest.mark.usefixtures("one_thread")

LEVELS = [1.0, 0.7, 0.4]
SEMINAR_VERDICT = "NOT A BOUND here: 0.5 is below the measured d1 1.2. NOT A BOUND here: 0.5 is below the guaranteed lower estimate of W1, 0.8."


def _study(tmp_path):
    text = (f"name: fake-imbalance\ndescription: a hand-built study\nbase: {configs_dir() / 'digits.yaml'}\n"
            f"factors:\n  data.keep_ratio: {LEVELS}\nseeds: [0, 1]\nevaluate: {{n: 100}}\n"
            "bound: {estimators: both, n_sub: 60, seeds: [0]}\nthreads: 1\nreport: {direction: falls}\n")
    path = tmp_path / "fake.yaml"
    path.write_text(text)
    return load_study(path)


def _values(r, seed, *, undertrained=False):
    """One run's columns: W1 grows as the keep ratio falls (slope -0.5 per unit), the bound too."""
    meas = 1.0 + 0.5 * (1 - r) + 0.01 * seed
    if undertrained:
        meas *= 10
    bound = 50.0 + 10 * (1 - r) + seed
    return {"N": 1000, "measured.w1": meas, "floor.w1": 0.9, "spread.w1": 0.05, "resolved.w1": int(r < 0.9 or seed == 0),
            "lower.w1_max_sliced": 0.3, "faithful.X4": 1.0, "faithful.bound": bound, "faithful.bound_certified": bound,
            "faithful.bound_lower": 20.0, "faithful.optimum": 30.0, "faithful.measured": meas, "faithful.ratio": bound / meas,
            "faithful.share.prior": 7.1e-12, "faithful.share.e_nn": 1 - 7.1e-12, "faithful.share.X4_eps": 3e-13,
            "faithful.share.X4_C2": 0.0004, "seminar.bound": 0.5, "seminar.measured": meas, "seminar.ratio": 0.5 / meas}


def _folder(tmp_path, *, undertrained=False, warnings=False, unbounded=()):
    study = _study(tmp_path)
    out = tmp_path / "study"
    out.mkdir()
    records = []
    for sp in study.runs():
        r = sp.setting.levels["data.keep_ratio"]
        extras = {"estimators": {}, "bound_label": "certified" if r == 1.0 else "statistical", "carrying": "C2",
                  "verdicts": {"seminar": SEMINAR_VERDICT}}
        if warnings and r == 0.4:
            extras["warnings"] = ["60 of 100 generated samples (60.0%) lie far outside the data's range (a coordinate more "
                                  "than 0.5 data ranges beyond; the farthest 9 ranges beyond); check the sampler"]
        values = _values(r, sp.seed, undertrained=undertrained)
        if r in unbounded:  # no finite upper value: as _flatten writes it
            values.update({"faithful.bound": None, "faithful.ratio": None})
            del values["faithful.bound_certified"], values["faithful.optimum"]
            extras["bound_label"] = "statistical"
        records.append({"key": sp.key, "config": {}, "values": values, "extras": extras})
    (out / "study.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(study.to_dict())), sort_keys=False))
    write_table(study, records, out)
    write_report(out)
    return out


def _summary_md(out):
    md = (out / "report.md").read_text()
    box = md.split("## Summary", 1)[1].split("\n## ", 1)[0]
    return md, box


def test_summary_box_comes_first_with_numbers_labels_and_trend(tmp_path):
    out = _folder(tmp_path)
    table = json.loads((out / "table.json").read_text())
    assert table["rows"][0]["notes"]["carrying"] == "C2"  # the text facts reach table.json
    md, box = _summary_md(out)
    # first: right after the title and the description, before the facts and every table
    assert md.index("## Summary") < md.index("- 6 runs") < md.index("## Measured distances")
    page = (out / "report.html").read_text()
    assert page.index("class='summary'") < page.index("<li>6 runs") < page.index("<h2>Measured distances")
    lines = [ln for ln in box.splitlines() if ln.startswith("- ")]
    assert 3 <= len(lines) <= 12
    first = next(ln for ln in lines if "keep_ratio = 1.0" in ln)
    assert "W1 1.005" in first and "floor 0.9" in first and "resolved in 1/2 seeds" in first
    assert "guaranteed W1 ≥ 0.3" in first
    assert "WUP bound 50.5 ± 0.71 ÷ C (certified sup norms)" in first and "× the measured d1" in first
    assert "carrying term C2" in first
    assert "seminar value (not a bound) 0.5" in first and "NOT A BOUND here in 2/2 seeds" in first
    assert "(statistical sup norms)" in next(ln for ln in lines if "keep_ratio = 0.4" in ln)
    trend = next(ln for ln in lines if ln.startswith("- Trend:"))
    # W1 = 1.5 - 0.5 r (+ 0.01 seed): slope -0.5 per unit keep ratio, growing as it falls; a CI in brackets
    assert "the measured W1 grows as keep_ratio falls: slope -0.5 [" in trend and "95% CI" in trend and "excludes 0" in trend
    assert "the faithful bound grows as keep_ratio falls: slope -10 [" in trend
    assert "⚠" not in box  # measured 1.1-1.7 over a floor of 0.9: no warning
    # the faithful group's text columns, the most frequent over seeds
    assert "| carrying term |" in md and "| certified | C2 |" in md
    # the seminar value is never called a bound in the tables
    assert "bound (seminar): a value, not a bound" in md


def test_tiny_shares_fold_everywhere(tmp_path):
    out = _folder(tmp_path)
    for name in ("report.md", "report.html"):
        text = html.unescape((out / name).read_text())
        assert "e-12%" not in text and "e-13%" not in text and "100 − " not in text
        assert "< 0.1%" in text and "> 99.9%" in text
    md = (out / "report.md").read_text()
    shares_row = next(ln for ln in md.splitlines() if ln.startswith("| 1.0 | 2 | < 0.1%"))
    assert "> 99.9%" in shares_row and "0.0" not in shares_row.split("| 2 |")[1].split("|")[1]
    assert _pct(7.1e-12) == "< 0.1%" and _pct(1 - 7.1e-12) == "> 99.9%" and _pct(0.9995) == "> 99.9%"
    assert _pct(0.5) == "50.0%" and _pct(0.0) == "0%" and _pct(1.0) == "100%" and _pct(0.001) == "0.1%"


def test_undertrained_and_range_warnings_come_first(tmp_path):
    out = _folder(tmp_path, undertrained=True, warnings=True)
    _, box = _summary_md(out)
    lines = [ln for ln in box.splitlines() if ln.startswith("- ")]
    assert lines[0].startswith("- **⚠ Warnings of the evaluation in keep_ratio = 0.4 (2/2 seeds)")
    assert "lie far outside the data's range" in lines[0] and "(a coordinate" not in lines[0]
    assert lines[1].startswith(f"- **⚠ Likely undertrained: the measured W1 exceeds {UNDERTRAINED_RATIO:g}× its sampling floor")
    assert "keep_ratio = 1.0 (11.2× its floor)" in lines[1] and "in 3 of 3 settings" in lines[1]
    page = (out / "report.html").read_text()
    assert page.index("⚠ Likely undertrained") < page.index("<h2>Measured distances")


def test_slope_ci_is_seeded_and_brackets_the_slope(tmp_path):
    out = _folder(tmp_path)
    table = json.loads((out / "table.json").read_text())
    a = _slope_ci(table, "measured.w1", "data.keep_ratio", "falls")
    b = _slope_ci(table, "measured.w1", "data.keep_ratio", "falls")
    assert a == b and a["lo"] <= a["slope"] <= a["hi"] and a["hi"] < 0
    assert a["slope"] == pytest.approx(-0.5)
    assert "seeds within settings" in a["how"]


def _fake_run(bound_value):
    """metrics and a bound dict shaped like ``runs.evaluate`` / ``runs.bound`` (WUPReport.to_dict)."""
    metrics = {"generated_vs_heldout": {"w1": 2.0}, "floor": {"w1": 1.0, "reference": "two halves"},
               "estimators": {"w1": "exact W1; floor: the same"}, "warnings": ["far outside the data's range"]}
    term = {"symbol": "X4", "name": "d1(π_N, π)", "value": 0.5, "estimator": "exact", "sizes": {}}
    faithful = {"terms": {"X4": term}, "constants": {"C": 1.0, "R": 2.0}, "formula": "f", "bound": bound_value,
                "label": "statistical" if bound_value is None else "certified", "ratio": None if bound_value is None else bound_value / 2.0,
                "measured": {"value": 2.0, "estimator": "exact W1"}, "floor": {"value": 1.0},
                "bounds": {"lower estimate": {"value": 7.0, "values": [7.0], "how": "maxima"},
                           "statistical": {"value": None, "values": [None], "how": "GEV: unbounded"}},
                "breakdown": {"shares": {"prior": 1e-9, "e_nn": 1e-15, "X4_eps": 1e-13, "X4_C2": 1 - 1e-13}},
                "optimum": {}, "structural": {}, "sensitivity": {}, "verdict": ""}
    if bound_value is not None:
        faithful["bounds"]["certified"] = {"value": bound_value, "values": [bound_value], "how": "interval arithmetic"}
        faithful["optimum"] = {"value": 3.0, "t_min": 0.01, "T": 2.0, "how": "grid"}
        faithful["structural"] = {"value": 2.5, "t_min": 0.01, "T": 2.0, "how": "grid", "delta_to_1": 2.0}
        faithful["sensitivity"] = {"elasticity": {"X4": 0.5, "L": 1.2}, "halve": "divide L by 2.", "carrying": "L"}
    seminar = {"terms": {"X4": term}, "constants": {"C": 1.0}, "formula": "g", "bound": 0.4, "label": "seminar proxies (not a bound)",
               "ratio": 0.2, "measured": {"value": 2.0, "estimator": "exact W1"}, "breakdown": {"shares": {"prior": 0.1}},
               "verdict": "NOT A BOUND here: 0.4 is below the measured d1 2."}
    return metrics, {"faithful": faithful, "seminar": seminar}


def test_flatten_keeps_columns_numeric_and_notes_in_extras():
    rd = SimpleNamespace(train=torch.zeros(10, 2))
    metrics, bound = _fake_run(None)
    v = _flatten(metrics, bound, rd)
    # no finite upper value: the headline and its ratio are None (the column stays), the other values are left out
    assert v["faithful.bound"] is None and v["faithful.ratio"] is None
    assert v["faithful.bound_lower"] == 7.0 and "faithful.bound_statistical" not in v and "faithful.optimum" not in v
    assert all(isinstance(x, (int, float)) for k, x in v.items() if k not in ("faithful.bound", "faithful.ratio"))
    notes = _notes(metrics, bound)
    assert notes["bound_label"] == "statistical" and notes["carrying"] == "C2·X4 (regularity piece) [by share]"
    assert notes["verdicts"] == {"seminar": "NOT A BOUND here: 0.4 is below the measured d1 2."}
    assert notes["warnings"] == ["far outside the data's range"]

    metrics, bound = _fake_run(9.0)
    v = _flatten(metrics, bound, rd)
    assert v["faithful.bound"] == v["faithful.bound_certified"] == 9.0 and v["faithful.ratio"] == 4.5
    assert v["faithful.optimum"] == 3.0 and v["faithful.structural"] == 2.5 and v["faithful.bound_lower"] == 7.0
    assert _notes(metrics, bound)["carrying"] == "L"
    est = _estimators(metrics, bound)
    for c in v:
        if c.startswith("faithful.") and not c.startswith("faithful.share."):
            assert c in COLUMN_TITLES, c
        if c in ("faithful.bound", "faithful.bound_lower", "faithful.bound_certified", "faithful.optimum", "faithful.structural"):
            assert est.get(c), c
    del metrics["warnings"]  # an older metrics.json has none
    assert "warnings" not in _notes(metrics, bound)
    assert re.search(r"certified sup norms", est["faithful.bound_certified"])


def test_a_setting_without_a_finite_bound(tmp_path):
    out = _folder(tmp_path, unbounded=(0.4,))
    table = json.loads((out / "table.json").read_text())
    assert "faithful.bound" in table["columns"] and table["summary"][2]["mean"]["faithful.bound"] is None
    _, box = _summary_md(out)
    line = next(ln for ln in box.splitlines() if "keep_ratio = 0.4" in ln)
    assert "no finite upper value (the statistical sup norms are unbounded" in line
    assert "lower-estimate value 20 ÷ C is NOT a bound" in line
    trend = next(ln for ln in box.splitlines() if ln.startswith("- Trend:"))
    assert "the faithful bound grows as keep_ratio falls" in trend  # from the settings that have one
    md = (out / "report.md").read_text()
    assert next(ln for ln in md.splitlines() if ln.startswith("| 0.4 | 2 | 1 |")).count("—") >= 2
