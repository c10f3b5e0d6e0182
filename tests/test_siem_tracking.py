"""The SIEM study's experiment: one training run, SIEM and quality metrics at every checkpoint."""
import math

import pytest
import torch

from scoreuq import experiments


pytestmark = pytest.mark.usefixtures("one_thread")


def test_siem_tracking_runs_on_a_tiny_gmm_setting():
    exp = experiments.get("siem_tracking")
    p = {**exp.defaults, "config": "gmm", "epochs": 40, "eval_every": 10, "steps": 30, "n": 200, "n_nll": 20, "n_boot": 100}
    exp.check(p)
    out = exp.fn(p, 0)
    v, curves = out["values"], out["extras"]["curves"]
    assert v["checkpoints"] == 4 and curves["epoch"] == [10.0, 20.0, 30.0, 40.0]
    assert all(math.isfinite(x) for x in v.values())
    for k in ("rho.siem_window.frechet", "rho.siem_full.nll"):
        assert -1.0 <= v[f"{k}"] <= 1.0
        lo, hi = v[k.replace("rho.", "rho_lo.")], v[k.replace("rho.", "rho_hi.")]
        assert lo <= hi
    assert 0 < v["cost_ratio"] < 1  # the first 10% of the trajectory costs less than a whole run and a distance
    # the model improves over training: quality metrics fall from the first to the last checkpoint
    assert curves["sliced_w1"][-1] < curves["sliced_w1"][0]
    findings = exp.analyse([{"params": p, "seed": 0, "levels": {}, "values": v, "extras": out["extras"]}])
    assert any("0.89" in f["thesis"] for f in findings)


@pytest.mark.parametrize("bad, field", [({"config": "cifar"}, "config"), ({"window": 0.0}, "window"), ({"window": 1.5}, "window"),
                                        ({"eval_every": 50, "epochs": 40}, "eval_every"), ({"epochs": 10, "eval_every": 5}, "checkpoints"),
                                        ({"n": 10}, "n"), ({"nll_rtol": 0.0}, "nll_rtol")])
def test_siem_tracking_rejects_bad_parameters(bad, field):
    exp = experiments.get("siem_tracking")
    with pytest.raises(ValueError, match=field):
        exp.check({**exp.defaults, **bad})
