"""The WUP bound made honest: labels of every sup norm (lower estimate / adversarial / statistical /
certified), the tightest admissible value and the structural floor, sensitivities, the early-stopping
bias, and the seminar preset against all five rows of its Table 1 (seed 000 §4)."""
import itertools
import math

import pytest
import torch

import scoreuq as su

pytestmark = pytest.mark.usefixtures("one_thread")

OU = su.processes.OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=2**0.5, T=3.0)

# ---------------------------------------------------------------- the seminar preset and Table 1
#: 000 Table 1: keep ratio, X1, X2, X3, X4, printed "Empirical Bound"
TABLE_1 = [(1.0, 0.6673, 15.9335, 0.0329, 0.0002, 5.0646), (0.9, 0.6673, 16.0009, 0.0592, 0.0005, 5.2596),
           (0.7, 0.6673, 16.2069, 0.0602, 0.0016, 5.3871), (0.4, 0.6673, 16.2186, 0.0601, 0.0038, 5.4057),
           (0.1, 0.6673, 16.3476, 0.2331, 0.0075, 6.4915)]
#: MNIST training-set class counts (the seminar trains on the 60,000-image split)
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def _delta_range(r):
    """The preset's δ rule is the smallest class share of the training set. Under the seminar's random scheme
    at keep ratio r every class keeps a fraction p_c in [r, 1], so δ lies between one smallest class at r (the
    rest complete) and the most balanced shares reachable with p_c in [r, 1]."""
    n, k = MNIST_TRAIN_COUNTS, min(MNIST_TRAIN_COUNTS)
    lo = r * k / (r * k + sum(n) - k)
    p = [max(r, k / c) for c in n]
    kept = [a * c for a, c in zip(p, n)]
    return lo, min(kept) / sum(kept)


def _attainable(row):
    """Min and max of the seminar formula over the printed terms ± half a unit of their last digit, δ over the
    rule's range and ε = X2/5000 (the rule's ε when the last DSM loss is the smallest)."""
    r, X1, X2, X3, X4, _ = row
    lo, hi = _delta_range(r)
    vals = []
    for d in itertools.product((-5e-5, 5e-5), repeat=4):
        for delta in (lo, hi):
            x2 = X2 + d[1]
            vals.append(su.bounds.seminar_formula(X1=X1 + d[0], X2=x2, X3=X3 + d[2], X4=X4 + d[3], t_min=x2 / 5000, delta=delta)["bound"])
    return min(vals), max(vals)


@pytest.mark.parametrize("row", [r for r in TABLE_1 if r[0] in (0.7, 0.4, 0.1)], ids=lambda r: f"keep{r[0]}")
def test_seminar_rows_reproduced_with_the_presets_delta_rule(row):
    """Rows 0.7, 0.4 and 0.1: the preset's own δ rule (smallest class share) and ε rule reproduce the printed
    value to its 4 decimals, within the rounding of the printed terms."""
    lo, hi = _attainable(row)
    assert lo - 5e-5 <= row[-1] <= hi + 5e-5


def test_seminar_row_1_needs_delta_0_1_not_the_rule():
    """Row 1.0 (nothing removed: δ = 5421/60000 = 0.0904 exactly by the rule) gives at most 5.0644 < 5.0646 with
    the rule; δ = 0.1 gives the printed 5.0646 (the seminar's code must have used δ = 0.1 there)."""
    row = TABLE_1[0]
    lo, hi = _attainable(row)
    assert hi + 5e-5 < row[-1]
    _, X1, X2, X3, X4, printed = row
    assert su.bounds.seminar_formula(X1=X1, X2=X2, X3=X3, X4=X4, t_min=X2 / 5000, delta=0.1)["bound"] == pytest.approx(printed, abs=2e-3)


def test_seminar_row_0_9_is_impossible_for_any_delta_and_eps():
    """Row 0.9: the formula's infimum over every δ in (0, 1) and ε > 0, with the terms rounded down, is 5.278 >
    5.2596: no choice of δ and ε reproduces it (a typo in the table or a different formula for that row)."""
    _, X1, X2, X3, X4, printed = TABLE_1[1]
    inf = su.bounds.seminar_infimum(X1=X1 - 5e-5, X2=X2 - 5e-5, X3=X3 - 5e-5, X4=X4 - 5e-5)
    assert inf > printed + 0.018
    assert su.bounds.seminar_infimum(X1=X1, X2=X2, X3=X3, X4=X4) == pytest.approx(5.2787, abs=1e-3)
    # and the infimum is an infimum: the formula never goes below it on a dense grid of (δ, ε)
    grid = [su.bounds.seminar_formula(X1=X1, X2=X2, X3=X3, X4=X4, t_min=e, delta=d)["bound"]
            for e in torch.logspace(-8, 0, 60).tolist() for d in torch.linspace(0.001, 0.999, 60).tolist()]
    assert min(grid) >= su.bounds.seminar_infimum(X1=X1, X2=X2, X3=X3, X4=X4) - 1e-12


# ---------------------------------------------------------------- formula helpers
def test_sensitivity_of_a_power_law_and_what_halves_it():
    def f(a, b, c):
        return 3 * a**2 * math.sqrt(b) + 0 * c + 1e-300

    s = su.bounds.sensitivity(f, {"a": 2.0, "b": 5.0, "c": 1.0})
    assert s["elasticity"]["a"] == pytest.approx(2.0, rel=1e-6) and s["elasticity"]["b"] == pytest.approx(0.5, rel=1e-6)
    assert s["elasticity"]["c"] == pytest.approx(0.0, abs=1e-9)
    assert "divide a by 1.41" in s["halve"] and "b by 4" in s["halve"] and "c (→ 0 leaves 100%)" in s["halve"]


def test_structural_floor_finds_the_minimum_of_a_known_function():
    # f(e, T) = 1/e + e + (T - 2)^2 + 5 has its minimum 7 at e = 1, T = 2 (e <= T holds there)
    r = su.bounds.structural_floor(lambda e, T: 1 / e + e + (T - 2) ** 2 + 5, t_min0=0.01, T0=3.0, T_max=3.0)
    assert r["value"] == pytest.approx(7.0, abs=1e-6) and r["t_min"] == pytest.approx(1.0, rel=1e-3) and r["T"] == pytest.approx(2.0, rel=1e-3)


def test_early_stopping_bias_bounds_the_exact_w1_of_the_smoothing():
    """d1(π, p_ε) for π = N(m, sd²) in 1-D is the quantile W1 between N(m, sd²) and N(m a, a² sd² + s²); the certified
    coupling bound |1 - a| R + s √d is above it (R = |m| + 6 sd covers the mass that matters here)."""
    m, sd = 2.0, 0.5
    for eps in (0.001, 0.01, 0.1, 0.5):
        a, s2 = math.exp(-eps), 1 - math.exp(-2 * eps)
        exact = su.metrics.w1_gaussian_1d(m, sd, m * a, math.sqrt(a**2 * sd**2 + s2))
        es = su.bounds.early_stopping_bias(OU, eps, R=abs(m) + 6 * sd, dim=1)
        assert exact <= es
        assert es == pytest.approx((1 - a) * (abs(m) + 6 * sd) + math.sqrt(s2), rel=1e-12)


# ---------------------------------------------------------------- the faithful preset, end to end
@pytest.fixture(scope="module")
def mlp_report():
    """A small SiLU MLP (certifiable) on a 2-D two-mode mixture, with the sampler callback for the ε curve."""
    gm = su.data.GaussianMixture([[2.0, 0.0], [-2.0, 0.0]], stds=0.5)
    train = gm.sample(400, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.manual_seed(0)
    model = su.nets.ScoreMLP(2, 2, 16, activation="silu").double()
    calls = []

    def sampler(eps, T):
        calls.append((eps, T))
        return gm.sample(300, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * (1 + eps)

    gen = gm.sample(300, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    rep = su.bounds.wup(model, OU, train, gm, t_min=0.01, n_sub=200, seeds=(0, 1), generated=gen, n_enn=400, sampler=sampler,
                        lipschitz_kw={"n_times": 4, "n_per_t": 16}, c2_kw={"n_times": 4, "n_per_t": 16},
                        search_kw={"n_starts": 4, "steps": 10}, t_min_grid=[0.01, 0.05, 0.2], T_grid=[1.0, 3.0])
    return rep, model, calls


def test_labels_order_and_certificate_dominates_every_found_value(mlp_report):
    rep, model, _ = mlp_report
    assert rep.label == "certified" and rep.bound is not None
    L, C2 = rep.sup_norms["L"], rep.sup_norms["C2"]
    assert L["lower estimate"] <= L["adversarial"] <= L["certified"]
    assert C2["lower estimate"] <= C2["adversarial"] <= C2["certified"]
    for lab in ("lower estimate", "adversarial"):
        for p, v in rep.sup_norms["parts"][lab].items():
            assert v <= rep.sup_norms["parts"]["certified"][p], (lab, p)
    b = rep.bounds
    assert b["lower estimate"]["value"] <= b["adversarial"]["value"] <= b["certified"]["value"] == pytest.approx(rep.bound)
    # the certificate is the one certify() gives over Ω × [ε, T]
    cert = su.bounds.certify(model, radius=rep.constants["R"], t_range=(0.01, 3.0))
    assert L["certified"] == pytest.approx(cert.lipschitz) and C2["certified"] == pytest.approx(cert.c2("full"))


def test_headline_never_calls_a_lower_estimate_a_bound(mlp_report):
    rep, _, _ = mlp_report
    md = rep.to_markdown()
    assert rep.headline().startswith("WUP bound (certified sup norms)") and "÷ C" in rep.headline()
    assert "| lower estimate (not a bound) |" in md and "| adversarial (not a bound) |" in md
    assert "Structural floor" in md and "What would halve the bound" in md and "Tightest admissible value" in md
    assert str(rep) == md


def test_optimum_and_structural_floor_are_ordered_and_measured_at_the_same_eps(mlp_report):
    rep, _, calls = mlp_report
    o, s = rep.optimum, rep.structural
    assert s["value"] <= o["value"] * (1 + 1e-9) <= rep.bound * (1 + 1e-9)
    assert o["t_min"] in (0.01, 0.05, 0.2) and o["T"] in (1.0, 3.0)
    # the sampler ran once per ε of the curve, at the optimum's T: bound and measurement describe the same generator
    assert sorted(calls) == sorted((row["t_min"], o["T"]) for row in o["curve"])
    assert o["measured"] == next(r["measured"] for r in o["curve"] if r["t_min"] == o["t_min"])
    assert s["delta_to_1"] <= s["value"]
    el = rep.sensitivity["elasticity"]
    assert set(el) >= {"X1", "e_nn", "L", "C2", "X4"} and rep.sensitivity["carrying"] in el


def test_tensor_reference_and_bad_inputs():
    gm = su.data.GaussianMixture([[2.0]], stds=0.5)
    train = gm.sample(200, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    pts = gm.sample(500, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    kw = dict(t_min=0.05, n_sub=100, seeds=(0,), n_enn=100, search=False, optimise=False,
              lipschitz_kw={"n_times": 2, "n_per_t": 8}, c2_kw={"n_times": 2, "n_per_t": 8})
    rep = su.bounds.wup(gm.score_fn(OU), OU, train, pts, true_score=gm.score_fn(OU), **kw)
    assert rep.terms["e_nn"].value == 0.0 and rep.terms["X1"].value > 0
    with pytest.raises(TypeError, match="reference"):
        su.bounds.wup(gm.score_fn(OU), OU, train, "pi", **kw)
    with pytest.raises(ValueError, match="omega"):
        su.bounds.wup(gm.score_fn(OU), OU, train, gm, omega=-1.0, **kw)
    with pytest.raises(ValueError, match="c2 kind"):
        su.bounds.wup(gm.score_fn(OU), OU, train, gm, c2_kind="mixed", **kw)
    with pytest.raises(ValueError, match="level"):
        su.bounds.wup(gm.score_fn(OU), OU, train, gm, level=1.0, **kw)
