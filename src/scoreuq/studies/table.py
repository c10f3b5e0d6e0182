"""The study table: one row per run, mean ± sd per setting, and the trend of every column.

Written atomically as ``table.csv`` (per run), ``summary.csv`` (per setting: ``<col>`` mean,
``<col>_sd`` sample standard deviation over seeds, ``n``) and ``table.json`` (both, with how
each column was estimated and the trends; a row of ``table.json`` also holds ``notes``, the
run's text facts: the faithful headline's label, the term carrying the bound, the presets'
verdicts and the evaluation's warnings). Wall times are kept out of the table, so a resumed
study and an uninterrupted one write identical files.
"""
from __future__ import annotations

import csv
import io
import math

from .._io import atomic_write_json, atomic_write_text
from ..figures import numeric_levels

__all__ = ["write_table", "summarize", "trends", "numeric_levels", "COLUMN_TITLES", "NOTE_KEYS"]

#: short titles for the report; columns not listed keep their names
COLUMN_TITLES = {
    "N": "N (training points)",
    "measured.w1": "measured W1(gen, held-out)",
    "floor.w1": "floor W1(π sample, π sample)",
    "spread.w1": "spread (bootstrap sd) of W1 − floor",
    "resolved.w1": "W1 resolved (1/0)",
    "lower.w1_max_sliced": "W1 lower limit (max-sliced, 95%)",
    "lower.w1_sliced": "W1 lower limit (sliced, 95%)",
    "measured.sliced_w1": "measured sliced W1",
    "floor.sliced_w1": "floor sliced W1",
    "spread.sliced_w1": "spread of sliced W1 − floor",
    "resolved.sliced_w1": "sliced W1 resolved (1/0)",
    "measured.mmd2": "measured MMD²",
    "floor.mmd2": "floor MMD²",
    "spread.mmd2": "spread of MMD² − floor",
    "resolved.mmd2": "MMD² resolved (1/0)",
    "measured.sinkhorn": "measured Sinkhorn divergence (p=1)",
    "floor.sinkhorn": "floor Sinkhorn divergence",
    "spread.sinkhorn": "spread of Sinkhorn − floor",
    "resolved.sinkhorn": "Sinkhorn resolved (1/0)",
    "circle.c1_to_train": "C1(gen, training points)",
    "circle.c2_to_circle": "C2(gen, true circle)",
    "frechet": "Fréchet distance",
    "frechet_floor": "Fréchet floor",
    "spread.frechet": "spread of Fréchet − floor",
    "resolved.frechet": "Fréchet resolved (1/0)",
    "classifier_accuracy": "feature classifier's held-out accuracy",
    "shares.tv_generated_train": "TV(gen shares, train shares)",
    "shares.tv_generated_full": "TV(gen shares, full shares)",
    "shares.tv_train_full": "TV(train shares, full shares)",
    "faithful.X1": "X1 = d1(π, p_ref)",
    "faithful.e_nn": "X2 = e_nn (L² score error)",
    "faithful.dsm": "DSM loss",
    "faithful.L": "X3 = Lipschitz ‖∇s‖∞",
    "faithful.C2": "‖s‖_C²",
    "faithful.X4": "X4 = d1(π_N, π)",
    "faithful.bound": "bound (faithful, headline)",
    "faithful.bound_lower": "lower-estimate value (not a bound)",
    "faithful.bound_statistical": "bound at statistical sup norms",
    "faithful.bound_certified": "bound at certified sup norms",
    "faithful.optimum": "tightest admissible bound (best ε, T)",
    "faithful.structural": "structural floor of the bound",
    "faithful.measured": "measured d1(π, m_g)",
    "faithful.floor": "floor d1(π, π')",
    "faithful.ratio": "bound / measured",
    "faithful.share.prior": "prior term's share of the bracket",
    "faithful.share.e_nn": "e_nn's share of e'_nn",
    "faithful.share.X4_eps": "(1 + |log δ|/ε) X4's share of e'_nn",
    "faithful.share.X4_C2": "T ‖s‖²_C² X4's share of e'_nn",
    "seminar.X1": "X1 (seminar)",
    "seminar.X2": "X2 (seminar)",
    "seminar.X3": "X3 (seminar)",
    "seminar.X4": "X4 (seminar)",
    "seminar.bound": "bound (seminar): a value, not a bound",
    "seminar.measured": "measured (seminar)",
    "seminar.ratio": "bound / measured (seminar)",
    "seminar.share.prior": "prior term's share (seminar)",
    "seminar.share.e_nn": "X2's share of e'_nn (seminar)",
    "seminar.share.X4_eps": "(1 + |log δ|/√ε) X4's share (seminar)",
    "seminar.share.X4_C2": "T L² X4's share (seminar)",
}


#: a record's text facts (``extras``) copied into its row of ``table.json`` as ``notes``: the faithful
#: headline's label, the term carrying the bound, the presets' verdicts and the evaluation's warnings
NOTE_KEYS = ("bound_label", "carrying", "verdicts", "warnings")


def _columns(records) -> list:
    """Every value column of the records: those of COLUMN_TITLES first, in its order, then the rest sorted."""
    present = {k for r in records for k in r["values"]}
    known = [c for c in COLUMN_TITLES if c in present]
    return known + sorted(present - set(known))


def _mean_sd(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def summarize(study, records) -> list:
    """Mean and sd over seeds of every column, one entry per setting (grid order)."""
    cols = _columns(records)
    by_setting = {}
    for sp, rec in zip(study.runs(), records):
        by_setting.setdefault(sp.setting.index, (sp.setting, []))[1].append(rec)
    out = []
    for idx, (st, recs) in sorted(by_setting.items()):
        row = {"setting": idx, "levels": st.levels, "n": len(recs), "mean": {}, "sd": {}}
        for c in cols:
            m, sd = _mean_sd([r["values"].get(c) for r in recs])
            row["mean"][c], row["sd"][c] = m, sd
        out.append(row)
    return out


def _turn_index(diffs) -> int | None:
    """For successive differences that go strictly one way and then strictly the other (a U or an
    inverted U, no ties), the index of the level where they turn; else ``None``."""
    if len(diffs) < 2 or any(d == 0 for d in diffs):
        return None
    changes = [k for k in range(1, len(diffs)) if (diffs[k] > 0) != (diffs[k - 1] > 0)]
    return changes[0] if len(changes) == 1 else None


def trends(study, summary) -> dict:
    """How each column's mean moves with each ordered factor.

    A factor is ordered when its levels are numbers, or when ``report.ordered`` is true (the
    levels in the order written). With several factors, a factor's trend is its main effect:
    the means averaged over the other factors' levels. Returns ``{factor: {"direction",
    "columns": {col: {"rho", "monotone", "change", "change_in_sd", "text"}}}}`` where ``rho`` is
    Spearman's rank correlation between the level and the mean, ``monotone`` is ``"up"``,
    ``"down"`` or ``None`` for the means in the order the factor moves (``report.direction``:
    ``grows`` or ``falls``), ``change`` the last minus the first mean in that order, and
    ``turn`` the level where a column that moves strictly one way and then strictly the other
    (a U, as C2 over training epochs on the circle) turns, else ``None``.
    """
    from scipy.stats import spearmanr  # lazy: scipy.stats costs ~1.5 s, only trends need it

    direction = study.report.get("direction", "grows")
    out = {}
    for factor in study.factors:
        levels = []
        for row in summary:
            if row["levels"][factor] not in levels:
                levels.append(row["levels"][factor])
        if len(levels) < 2:
            continue
        numeric = numeric_levels(levels)
        if not numeric and not study.report.get("ordered", False):
            continue
        pos = {lv: (float(lv) if numeric else i) for i, lv in enumerate(levels)}
        order = sorted(levels, key=lambda lv: pos[lv], reverse=(direction == "falls"))
        name = factor.split(".")[-1]
        cols = {}
        for col in summary[0]["mean"]:
            ys, sds = [], []
            for lv in order:
                rows = [r for r in summary if r["levels"][factor] == lv]
                ms = [r["mean"][col] for r in rows]
                if any(m is None for m in ms):
                    break
                ys.append(sum(ms) / len(ms))
                sds.append(math.sqrt(sum((r["sd"][col] or 0.0) ** 2 for r in rows) / len(rows)))
            if len(ys) != len(order):
                continue
            rho = None if max(ys) == min(ys) else float(spearmanr([pos[lv] for lv in order], ys).statistic)
            diffs = [b - a for a, b in zip(ys, ys[1:])]
            mono = "up" if all(d > 0 for d in diffs) else "down" if all(d < 0 for d in diffs) else None
            change = ys[-1] - ys[0]
            pooled = math.sqrt(sum(x * x for x in sds) / len(sds))
            in_sd = abs(change) / pooled if pooled > 0 else None
            i_turn = _turn_index(diffs) if mono is None else None
            turn = None if i_turn is None else order[i_turn]
            if max(ys) == min(ys):
                text = f"constant as {name} {direction}"
            elif mono is not None:
                text = f"{'grows' if mono == 'up' else 'shrinks'} monotonically as {name} {direction}"
            elif turn is not None:
                down = diffs[0] < 0
                text = (f"{'shrinks' if down else 'grows'} as {name} {direction} to its {'smallest' if down else 'largest'}"
                        f" at {name} = {turn}, then {'grows' if down else 'shrinks'}")
            else:
                r = rho if direction == "grows" else -rho  # rho pairs a rising level with the mean
                if r >= 0.7:
                    text = f"tends to grow as {name} {direction}, not monotonically"
                elif r <= -0.7:
                    text = f"tends to shrink as {name} {direction}, not monotonically"
                else:
                    text = f"no monotone trend as {name} {direction}"
            if "constant" not in text:
                spread = f"{in_sd:.1f}× the seed sd" if in_sd is not None else "no seed sd"
                text += f" (end-to-end change {change:+.3g}, {spread})"
            if len(study.factors) > 1:
                text += " [main effect, averaged over the other factors]"
            cols[col] = {"rho": rho, "monotone": mono, "change": change, "change_in_sd": in_sd, "turn": turn, "text": text}
        out[factor] = {"direction": direction, "levels": order, "columns": cols}
    return out


def _compute_parts(study, specs, records, cols) -> dict:
    """What a compute study adds to ``table.json``: the experiment, its column titles, the seed
    documents' source, and its findings over the whole grid (``Experiment.analyse``)."""
    from .. import experiments  # lazy: scoreuq.experiments loads scipy.stats (and imports scoreuq.studies)

    exp = experiments.get(study.compute)
    findings = []
    if exp.analyse is not None:
        rows = [{"params": rec["config"], "seed": sp.seed, "levels": sp.setting.levels, "values": rec["values"],
                 "extras": rec.get("extras", {})} for sp, rec in zip(specs, records)]
        findings = [dict(f) for f in exp.analyse(rows)]
    return {"compute": exp.name, "source": exp.thesis, "titles": {c: exp.titles[c] for c in cols if c in exp.titles},
            "findings": findings}


def _csv(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in r])
    return buf.getvalue()


def write_table(study, records, out) -> dict:
    """Write ``table.csv``, ``summary.csv`` and ``table.json`` for the finished ``records`` (grid order)."""
    specs = study.runs()
    if [r["key"] for r in records] != [sp.key for sp in specs]:
        raise ValueError("records must be those of every run of the study, in grid order")
    cols = _columns(records)
    factors = list(study.factors)
    rows = []
    for sp, rec in zip(specs, records):
        row = {"key": sp.key, "setting": sp.setting.index, "levels": sp.setting.levels, "seed": sp.seed, "values": rec["values"]}
        notes = {k: rec["extras"][k] for k in NOTE_KEYS if k in (rec.get("extras") or {})}
        if notes:
            row["notes"] = notes  # text facts of the run (the columns are numeric)
        rows.append(row)
    summary = summarize(study, records)
    tr = trends(study, summary)
    estimators = {}
    for rec in records:
        for k, v in rec.get("extras", {}).get("estimators", {}).items():
            estimators.setdefault(k, v)
    shares = {rec["key"]: rec["extras"]["class_shares"] for rec in records if "class_shares" in rec.get("extras", {})}
    atomic_write_text(out / "table.csv", _csv(["key", "setting", *factors, "seed", *cols],
                                              [[r["key"], r["setting"], *(r["levels"][f] for f in factors), r["seed"],
                                                *(r["values"].get(c) for c in cols)] for r in rows]))
    atomic_write_text(out / "summary.csv", _csv(["setting", *factors, "n", *(x for c in cols for x in (c, f"{c}_sd"))],
                                                [[s["setting"], *(s["levels"][f] for f in factors), s["n"],
                                                  *(x for c in cols for x in (s["mean"][c], s["sd"][c]))] for s in summary]))
    table = {"study": study.name, "factors": factors, "seeds": list(study.seeds), "columns": cols, "rows": rows, "summary": summary,
             "trends": tr, "estimators": estimators, "class_shares": shares}
    if study.is_compute:
        table.update(_compute_parts(study, specs, records, cols))
    atomic_write_json(out / "table.json", table)
    return table
