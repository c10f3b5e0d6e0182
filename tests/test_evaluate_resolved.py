"""`evaluate`: every distance with its floor (two independent samples of π; for images two disjoint
held-out halves, never the training set), paired-bootstrap spread and `resolved` flag; the W1
lower confidence limits; the study columns, titles, estimators and report sentences they feed."""
import json

import pytest
import torch

import scoreuq as su
from scoreuq.studies.report import GROUPS, _audit_sentences
from scoreuq.runs import RunConfig
from scoreuq.studies.runner import _estimators, _flatten
from scoreuq.studies.table import COLUMN_TITLES

GMM = {
    "name": "gmm-eval",
    "seed": 0,
    "data": {"name": "gaussian_mixture", "n_train": 256, "n_test": 250},
    "process": {"name": "ou", "params": {"T": 4.0}},
    "model": {"kind": "mlp", "params": {"preset": "2L32N", "activation": "silu"}},
    "train": {"epochs": 1, "batch_size": 64},
    "sample": {"sampler": "em", "steps": 10, "n": 150},
}
DIGITS = {
    "name": "digits-eval",
    "seed": 0,
    "data": {"name": "digits", "test_fraction": 0.2},
    "process": {"name": "ou", "params": {"T": 5.0}},
    "model": {"kind": "scorenet", "params": {"channels": [16, 32, 64], "embed_dim": 64}},
    "train": {"epochs": 1},
    "sample": {"n": 100},
}
DISTANCES = ("w1", "sliced_w1", "mmd2", "sinkhorn")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_run():
    return su.runs.prepare(RunConfig.from_dict(DIGITS), device="cpu")


@pytest.fixture(scope="module")
def clf_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("clf") / "classifier.safetensors"


def _rows(t):
    return {tuple(r) for r in t.flatten(1).double().tolist()}


def test_image_floors_use_disjoint_heldout_halves_not_the_training_set(digits_run, clf_cache, monkeypatch):
    run = digits_run
    calls = []
    real = su.metrics.assess

    def spy(fn, gen, ra, rb=None, **kw):
        calls.append((kw.get("name"), gen, ra, rb))
        return real(fn, gen, ra, rb, **kw)

    monkeypatch.setattr(su.metrics, "assess", spy)
    x = torch.rand(100, *run.data.image_shape, generator=torch.Generator().manual_seed(1))
    out = su.runs.evaluate(run, x, seed=0, classifier_cache=clf_cache)
    test, train = _rows(run.data.test), _rows(run.data.train)
    half = run.data.test.shape[0] // 2
    pixel_calls = [c for c in calls if c[0] != "Fréchet distance on features"]
    assert {c[0] for c in pixel_calls} == {"exact W1", "sliced W1", "MMD²", "debiased Sinkhorn divergence"}
    for name, gen, ra, rb in pixel_calls:
        a, b = _rows(ra), _rows(rb)
        assert a <= test and b <= test, name  # both references are held-out images
        assert not (a & train) and not (b & train), name  # never the training set
        assert not (a & b), name  # disjoint halves
        assert rb.shape[0] == gen.shape[0] == 100 and ra.shape[0] == run.data.test.shape[0] - half, name  # same size as generated
        assert _rows(gen) <= _rows(x)
    assert "held-out" in out["floor"]["reference"] and "training" not in out["floor"]["reference"]
    assert set(out["assessments"]) == set(DISTANCES) | {"frechet"}
    for k in DISTANCES:  # backward compatible keys hold the assessment's numbers
        assert out["generated_vs_heldout"][k] == out["assessments"][k]["value"]
        assert out["floor"][k] == out["assessments"][k]["floor"]
    assert out["frechet"]["floor"] == out["assessments"]["frechet"]["floor"]
    for k in ("max_sliced_lcl", "sliced_lcl", "guarantee"):
        assert k in out["w1_lower_bound"]
    for k in (*DISTANCES, "frechet", "w1_lower_bound"):
        assert out["estimators"][k]


def test_images_heldout_like_samples_are_not_resolved_noise_is(digits_run, clf_cache):
    run = digits_run
    # "a model" returning images of π that it never saw in evaluation: the (balanced) training split
    like = run.data.train[torch.randperm(run.data.train.shape[0], generator=torch.Generator().manual_seed(2))[:150]]
    good = su.runs.evaluate(run, like, seed=0, classifier_cache=clf_cache)
    for k, a in good["assessments"].items():
        assert not a["resolved"], (k, a["value"], a["floor"], a["excess_ci"])
    noise = torch.rand(150, *run.data.image_shape, generator=torch.Generator().manual_seed(3))
    bad = su.runs.evaluate(run, noise, seed=0, classifier_cache=clf_cache)
    for k, a in bad["assessments"].items():
        assert a["resolved"] and a["excess_ci"][0] > 0, (k, a)
    assert bad["w1_lower_bound"]["max_sliced_lcl"] > 0  # noise is provably far from π


def test_synthetic_floor_is_a_fresh_sample_and_resolution(tmp_path):
    run = su.runs.prepare(RunConfig.from_dict(GMM), device="cpu")
    truth = run.data.truth
    x = truth.sample(120, generator=torch.Generator().manual_seed(5), dtype=torch.float32)
    good = su.runs.evaluate(run, x, seed=0)
    assert "fresh sample" in good["floor"]["reference"]
    assert not any(a["resolved"] for a in good["assessments"].values()), good["assessments"]
    bad = su.runs.evaluate(run, x + 3.0, seed=0)
    assert all(a["resolved"] for a in bad["assessments"].values())
    assert bad["w1_lower_bound"]["max_sliced_lcl"] > 0
    # deterministic: the same call gives the same numbers
    assert json.dumps(su.runs.evaluate(run, x + 3.0, seed=0), sort_keys=True) == json.dumps(bad, sort_keys=True)

    # every column it feeds has a title and an estimator, and the report's measured group shows it
    vals = _flatten(bad, None, run.data)
    est = _estimators(bad, None)
    new = [c for c in vals if c.split(".")[0] in ("resolved", "spread", "lower") or c.endswith("sinkhorn")]
    assert {"resolved.w1", "spread.w1", "lower.w1_max_sliced", "lower.w1_sliced", "measured.sinkhorn", "floor.sinkhorn",
            "resolved.sinkhorn", "spread.mmd2"} <= set(new)
    measured_group = dict((g[0], g[2]) for g in GROUPS)["measured"]
    for c in vals:
        if c == "N":
            continue
        assert c in est and est[c], c
        assert c in COLUMN_TITLES, c
        assert c in measured_group, c
    assert vals["resolved.w1"] == 1 and isinstance(vals["resolved.w1"], int)


def test_image_columns_have_titles_and_estimators(digits_run, clf_cache):
    out = su.runs.evaluate(digits_run, torch.rand(60, *digits_run.data.image_shape, generator=torch.Generator().manual_seed(4)),
                           seed=1, classifier_cache=clf_cache)
    vals = _flatten(out, None, digits_run.data)
    est = _estimators(out, None)
    assert {"spread.frechet", "resolved.frechet", "frechet_floor"} <= set(vals)
    for c in vals:
        if c != "N":
            assert c in est and c in COLUMN_TITLES, c


def test_report_counts_resolved_settings_and_warns_on_bound_below_lower_limit():
    def row(key, setting, **v):
        return {"key": key, "setting": setting, "seed": 0, "levels": {"data.keep_ratio": setting}, "values": v}

    rows = [row("a", 1.0, **{"resolved.w1": 1, "resolved.mmd2": 0, "faithful.bound": 0.5, "lower.w1_max_sliced": 0.8,
                             "lower.w1_sliced": 0.1}),
            row("b", 0.1, **{"resolved.w1": 1, "resolved.mmd2": 1, "faithful.bound": 5.0, "lower.w1_max_sliced": 0.8,
                             "lower.w1_sliced": 0.1})]
    summary = [{"setting": i, "levels": r["levels"], "n": 1, "mean": r["values"], "sd": {k: 0.0 for k in r["values"]}}
               for i, r in enumerate(rows)]
    text = " ".join(_audit_sentences({"summary": summary, "rows": rows, "factors": ["data.keep_ratio"]}))
    assert "Exact W1 is resolved" in text and "in 2 of 2 settings" in text
    assert "MMD² is resolved" in text and "not resolved in 1 (keep_ratio = 1.0)" in text
    assert "faithful bound is below the guaranteed W1 lower limit" in text and "a (bound 0.5 < 0.8)" in text
    assert "b (bound" not in text
