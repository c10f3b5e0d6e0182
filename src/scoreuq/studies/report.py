"""Reports of a study: a self-contained HTML page and a Markdown summary.

Both open with a summary box (training studies): per setting the measured distance with its
floor and whether it is resolved, the guaranteed W1 lower limit, the WUP bound with its label and
its ratio to the measurement, the term carrying it and the seminar value (not a bound), then the
trend of the measured distance and of the bound along the factor with a seeded bootstrap CI of the
slope; ⚠ lines (evaluation warnings, a distance far above its floor) come first, in compute
studies too. ``report.html`` embeds every figure as a base64 PNG, the tables (mean ± sd over seeds per
setting, and every run), the trend of every column, how each number was estimated, the study
config and the software versions; ``report.md`` holds the same text with the figures beside it
in ``figures/``. Both are written atomically from the files of a finished study folder
(``study.yaml``, ``table.json``, ``environment.json``, ``timing.json``, ``runs/``).
"""
from __future__ import annotations

import base64
import html
import json
import time
from pathlib import Path

import numpy as np
import yaml

from .. import figures
from .._io import atomic_write_text
from ..figures import numeric_levels
from ..runs.config import ConfigError
from .table import COLUMN_TITLES

__all__ = ["write_report", "GROUPS", "UNDERTRAINED_RATIO"]

#: the report's tables and term figures: (figure name, title, columns); columns a study lacks are left out
GROUPS = (
    ("measured", "Measured distances of generated samples", [
        "N", "measured.w1", "floor.w1", "spread.w1", "resolved.w1", "lower.w1_max_sliced", "lower.w1_sliced",
        "measured.sliced_w1", "floor.sliced_w1", "spread.sliced_w1", "resolved.sliced_w1",
        "measured.mmd2", "floor.mmd2", "spread.mmd2", "resolved.mmd2",
        "measured.sinkhorn", "floor.sinkhorn", "spread.sinkhorn", "resolved.sinkhorn",
        "frechet", "frechet_floor", "spread.frechet", "resolved.frechet", "shares.tv_generated_train",
        "shares.tv_generated_full", "circle.c1_to_train", "circle.c2_to_circle"]),
    ("faithful", "WUP bound, faithful estimators (Table 1 columns)", [
        "faithful.X1", "faithful.e_nn", "faithful.L", "faithful.C2", "faithful.X4", "faithful.bound", "faithful.bound_certified",
        "faithful.bound_statistical", "faithful.bound_lower", "faithful.optimum", "faithful.structural", "faithful.measured",
        "faithful.floor", "faithful.ratio"]),
    ("seminar", "WUP bound, the seminar's estimators (Table 1 columns, 000 §4)", [
        "seminar.X1", "seminar.X2", "seminar.X3", "seminar.X4", "seminar.bound", "seminar.measured", "seminar.ratio"]),
    ("shares", "Which term carries the bound (shares at each run's mean terms)", [
        "faithful.share.prior", "faithful.share.e_nn", "faithful.share.X4_eps", "faithful.share.X4_C2",
        "seminar.share.prior", "seminar.share.e_nn", "seminar.share.X4_eps", "seminar.share.X4_C2"]),
)
_LOG = {"faithful.bound", "faithful.C2", "faithful.L", "seminar.bound", "faithful.ratio", "seminar.ratio", "faithful.bound_lower",
        "faithful.bound_statistical", "faithful.bound_certified", "faithful.optimum", "faithful.structural"}
_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.6em 0 1.4em;font-size:0.88em}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}td{white-space:nowrap}
th{background:#f3f3f3}td.l,th.l{text-align:left}img{max-width:100%;border:1px solid #eee;margin:0.4em 0}
pre{background:#f7f7f7;padding:0.8em;overflow-x:auto;font-size:0.85em}.samples{display:flex;flex-wrap:wrap;gap:1em}
.samples figure{margin:0;width:270px}figcaption{font-size:0.85em;color:#555}code{font-size:0.92em}
.summary{border:2px solid #4a6fa5;background:#f5f8fc;padding:0.3em 1.2em 0.6em;margin:1em 0 1.6em}.summary h2{margin:0.4em 0}
.summary li{margin:0.25em 0}.summary .warn{color:#8a1c00;font-weight:600}"""


def _title(col, table=None):
    return ((table or {}).get("titles") or {}).get(col) or COLUMN_TITLES.get(col, col)


def _groups(table: dict):
    """The report's groups of columns: GROUPS for a training study; for a compute study one group
    of every column, in the order the experiment returns them."""
    if table.get("compute"):
        return (("results", f"Results ({table['compute']}" + (f"; {table['source']})" if table.get("source") else ")"),
                 list(table["columns"])),)
    return GROUPS


def _fmt(m, sd=None):
    if m is None:
        return "—"
    s = f"{m:.4g}"
    return s if sd is None or sd == 0 else f"{s} ± {sd:.2g}"


def _is_share(col) -> bool:
    return ".share." in col


def _cell(col, m, sd=None):
    """A table cell: a bound share (a fraction) as a percentage with tiny and near-total shares folded
    (``< 0.1%``, ``> 99.9%``, their sd left out), every other column by :func:`_fmt`."""
    if m is None or not _is_share(col):
        return _fmt(m, sd)
    p = _pct(m)
    if p.startswith(("<", ">")) or not sd:
        return p
    return f"{p} ± {100 * sd:.2g} pp"


def _png_data(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _figures(study_dir: Path, table: dict, study: dict) -> list:
    """Draw the study's figures into ``figures/``; returns ``[(title, path, caption)]``."""
    fig_dir = study_dir / "figures"
    factors = table["factors"]
    summary = table["summary"]
    rows = table["rows"]
    if len(factors) == 1:
        levels = [s["levels"][factors[0]] for s in summary]
        xlabel = factors[0].split(".")[-1]
    else:
        levels = [", ".join(f"{f.split('.')[-1]}={s['levels'][f]}" for f in factors) for s in summary]
        xlabel = "setting"
    falls = (study.get("report") or {}).get("direction") == "falls"
    per_setting = {}
    for r in rows:
        per_setting.setdefault(r["setting"], []).append(r["values"])
    order = [s["setting"] for s in summary]
    out = []
    for slug, title, cols in _groups(table):
        present = [c for c in cols if c in table["columns"] and c not in ("N", "faithful.floor", "floor.w1", "frechet_floor")]
        if not present:
            continue
        panels = {_title(c, table): ([[v.get(c) for v in per_setting[i]] for i in order], [s["mean"][c] for s in summary],
                              [s["sd"][c] for s in summary], c in _LOG) for c in present}
        path = figures.factor_panels(levels, panels, fig_dir / f"terms_{slug}.png", xlabel=xlabel, invert_x=falls)
        out.append((title, path, "mean over seeds ± sd (error bars); grey dots are the seeds"))
    cols = table["columns"]
    audit = [c for c in ("faithful.bound", "seminar.bound", "faithful.measured", "measured.w1", "faithful.floor", "floor.w1") if c in cols]
    if any(c.endswith(".bound") for c in audit):
        series = {_title(c): ([float("nan") if s["mean"][c] is None else s["mean"][c] for s in summary], c.endswith("bound"))
                  for c in audit}
        path = figures.bound_vs_measured(levels, series, fig_dir / "bound_vs_measured.png", xlabel=xlabel, invert_x=falls)
        out.append(("The bound against the measured distance", path, "means over seeds, log scale"))
    shares = table.get("class_shares") or {}
    if shares and len(factors) == 1:
        tr, ge, full = [], [], None
        for i in order:
            keys = [r["key"] for r in rows if r["setting"] == i]
            sh = [shares[k] for k in keys if k in shares]
            if not sh:
                break
            ncls = len(sh[0]["train"])
            tr.append([sum(s["train"][c] for s in sh) / len(sh) for c in range(ncls)])
            ge.append([sum(s["generated"][c] for s in sh) / len(sh) for c in range(ncls)])
            full = sh[0].get("full")
        else:
            path = figures.class_shares(levels, tr, ge, fig_dir / "class_shares.png", full_shares=full, xlabel=xlabel)
            out.append(("Class shares: training set and generated samples", path,
                        "generated shares by the feature classifier; means over seeds; the black marks are the full set's shares"))
    return out


def _points_2d(obj) -> bool:
    return isinstance(obj, list) and len(obj) > 0 and all(isinstance(p, list) and len(p) == 2 for p in obj[:5])


def _compute_sample_images(study_dir: Path, table: dict) -> list:
    """For a compute study whose records hold 2-D samples (``extras["samples"]``: a list of points, or
    a mapping of names, possibly nested once, to such lists), one picture per setting (first seed), all
    settings side by side: ``[(caption, path)]``."""
    panels, ref, nested = {}, None, {}
    for r in table["rows"]:
        if r["seed"] != table["rows"][0]["seed"]:
            continue
        path = study_dir / "records" / f"{r['key']}.json"
        if not path.is_file():
            continue
        ex = json.loads(path.read_text()).get("extras", {})
        label = ", ".join(f"{k.split('.')[-1]} = {v}" for k, v in r["levels"].items())
        smp = ex.get("samples")
        if _points_2d(smp):
            panels[label] = smp
            if _points_2d(ex.get("train_points")):
                ref = ex["train_points"]
        elif isinstance(smp, dict):
            for name, v in smp.items():
                items = v.items() if isinstance(v, dict) else [("", v)]
                for lv, pts in items:
                    if _points_2d(pts):
                        nested.setdefault(label, {})[f"{name} {lv}".strip()] = pts
    out = []
    if panels:
        p = figures.point_panels(panels, study_dir / "figures" / "samples.png", reference=ref)
        out.append(("generated samples of every setting side by side (first seed; black: training points)", p))
    for i, (label, pan) in enumerate(nested.items()):
        p = figures.point_panels(dict(list(pan.items())[:9]), study_dir / "figures" / f"samples_{i:02d}.png", title=label)
        out.append((f"{label} (first seed)", p))
    return out


def _sample_images(study_dir: Path, table: dict) -> list:
    """The first seed's sample figure of every setting: ``[(caption, path)]``."""
    if table.get("compute"):
        return _compute_sample_images(study_dir, table)
    out, seen = [], set()
    for r in table["rows"]:
        if r["setting"] in seen:
            continue
        seen.add(r["setting"])
        pngs = sorted((study_dir / "runs" / r["key"] / "samples").glob("*.png"))
        if pngs:
            lv = ", ".join(f"{k.split('.')[-1]} = {v}" for k, v in r["levels"].items())
            out.append((f"{lv} (seed {r['seed']})", pngs[0]))
    return out


def _pct(x: float) -> str:
    """A share as a percentage with tiny and near-total shares folded: below 0.1% it reads ``< 0.1%``
    (never ``7.1e-12%``), from 99.95% ``> 99.9%`` (never ``100 − 7.1e-12%``); exactly 0 and 1 read
    ``0%`` and ``100%``."""
    p = 100 * x
    if p <= 0:
        return "0%"
    if p >= 100:
        return "100%"
    if p < 0.1:
        return "< 0.1%"
    if p >= 99.95:
        return "> 99.9%"
    return f"{p:.1f}%"


def _pct_range(lo: float, hi: float) -> str:
    """``a–b`` of two shares, one value when both read the same (``< 0.1%``, not ``< 0.1%–< 0.1%``)."""
    a, b = _pct(lo), _pct(hi)
    return a if a == b else f"{a}–{b}"


def _first_clause(msg: str) -> str:
    """A warning's first clause (up to its first ';'), without a parenthesis left open."""
    cut = msg.split(";")[0].strip()
    if cut.count("(") > cut.count(")"):
        cut = cut[:cut.rfind("(")].rstrip()
    return cut


def _audit_sentences(table: dict) -> list:
    out = []
    for preset in ("faithful", "seminar"):
        col = f"{preset}.ratio"
        ratios = [s["mean"].get(col) for s in table["summary"] if s["mean"].get(col) is not None]
        if not ratios:
            continue
        lo, hi = min(ratios), max(ratios)
        if preset == "seminar":
            where = ("above the measured distance in every setting" if lo >= 1 else "below the measured distance in every "
                     "setting: NOT A BOUND there" if hi < 1 else "above the measured distance in some settings and below it "
                     "(NOT A BOUND there) in others")
            out.append(f"The seminar value (not a bound: its proxies depart from the theorem) is {lo:.3g}–{hi:.3g} times the "
                       f"measured d1(π, m_g) across settings: {where}.")
            continue
        holds = "holds (bound ≥ measured) in every setting" if lo >= 1 else (
            "fails (bound < measured) in every setting" if hi < 1 else "holds in some settings and fails in others")
        out.append(f"The {preset} bound is {lo:.3g}–{hi:.3g} times the measured d1(π, m_g) across settings: it {holds} with C = 1.")
    names = {"e_nn": "e_nn (score error)", "X4_eps": "the early-stopping piece (1 + |log δ|/ε) X4",
             "X4_C2": "the regularity piece T ‖s‖²_C² X4"}
    pieces = {k: [s["mean"].get(f"faithful.share.{k}") for s in table["summary"]] for k in names}
    if all(v is not None for vs in pieces.values() for v in vs) and pieces["e_nn"]:
        top = {k: sum(1 for i in range(len(table["summary"])) if max(pieces, key=lambda j: pieces[j][i]) == k) for k in names}
        k = max(top, key=top.get)
        pr = [s["mean"].get("faithful.share.prior") for s in table["summary"]]
        out.append(f"In the faithful bound, {names[k]} is the largest part of e'_nn in {top[k]} of {len(table['summary'])} settings "
                   f"({_pct_range(min(pieces[k]), max(pieces[k]))} of it)"
                   + (f"; the prior term is {_pct_range(min(pr), max(pr))} of the bracket." if None not in pr else "."))
    out += _resolution_sentences(table)
    below = [s for s in table["summary"] if s["mean"].get("faithful.measured") is not None and s["mean"].get("faithful.floor") is not None
             and s["mean"]["faithful.measured"] <= s["mean"]["faithful.floor"]]
    if below:
        out.append(f"In {len(below)} of {len(table['summary'])} settings the measured d1(π, m_g) is at or below the sampling floor "
                   "d1(π, π') (two independent samples of π of the same size): at this sample size the generated law cannot be told "
                   "from π by W1, and the measured value is an upper estimate dominated by the finite-sample bias.")
    return out


_RESOLVED_NAMES = {"w1": "exact W1", "sliced_w1": "sliced W1", "mmd2": "MMD²", "sinkhorn": "the Sinkhorn divergence",
                   "frechet": "the Fréchet distance"}


def _levels_text(table, summaries):
    return "; ".join(", ".join(f"{f.split('.')[-1]} = {s['levels'][f]}" for f in table["factors"]) for s in summaries)


def _resolution_sentences(table: dict) -> list:
    """Per distance, in how many settings it resolves the model's error (value above its floor beyond
    the bootstrap spread); and every run whose bound lies below the guaranteed W1 lower limit."""
    out = []
    summ = table["summary"]
    for key, name in _RESOLVED_NAMES.items():
        col = f"resolved.{key}"
        vals = [s["mean"].get(col) for s in summ]
        if not vals or any(v is None for v in vals):
            continue
        every = [s for s, v in zip(summ, vals) if v >= 1]
        some = [s for s, v in zip(summ, vals) if 0 < v < 1]
        never = [s for s, v in zip(summ, vals) if v <= 0]
        txt = (f"{name[0].upper() + name[1:]} is resolved (its value exceeds its floor, two independent samples of π of the "
               f"same size, beyond the paired-bootstrap spread) in {len(every)} of {len(summ)} settings for every seed")
        if some:
            txt += f", for some seeds in {len(some)} ({_levels_text(table, some)})"
        if never:
            txt += (f"; it is not resolved in {len(never)} ({_levels_text(table, never)}): there it cannot tell the model "
                    "from π at this sample size")
        out.append(txt + ".")
    for preset in ("faithful", "seminar"):
        bad = []
        for r in table.get("rows") or []:
            v = r["values"]
            b = v.get(f"{preset}.bound")
            lims = [v[c] for c in ("lower.w1_max_sliced", "lower.w1_sliced") if v.get(c) is not None]
            if b is not None and lims and b < max(lims):
                bad.append((r["key"], b, max(lims)))
        if bad:
            what = "faithful bound" if preset == "faithful" else "seminar value (not a bound)"
            out.append(f"Warning: the {what} is below the guaranteed W1 lower limit (a 95% lower confidence limit of the "
                       f"population W1(model, π)) in {len(bad)} run(s): "
                       + ", ".join(f"{k} (bound {b:.4g} < {lo:.4g})" for k, b, lo in bad[:6])
                       + (", …" if len(bad) > 6 else "")
                       + (" — there the bound fails, up to the limit's 5% error." if preset == "faithful"
                          else " — NOT A BOUND there, up to the limit's 5% error."))
    return out


# ---------------------------------------------------------------------------- the summary box
#: the main measured distance of a training study, first present wins: (column key, short name)
_MAIN = (("w1", "W1"), ("sliced_w1", "sliced W1"), ("sinkhorn", "Sinkhorn divergence"), ("mmd2", "MMD²"))
#: a setting is flagged as likely undertrained when its measured distance exceeds this multiple of its floor.
#: The floor is the same estimator between two independent samples of π of the same size: the distance a
#: perfect model would show at this sample size. A trained model's excess over it is a fraction of the floor
#: (the shipped imbalance study after 40 epochs: W1 − floor ≈ 0.4 over a floor of 1.55, ratio ≈ 1.3; the
#: largest excess in the study is ≈ 1.35×). Five times the floor means the model's error is four times the
#: whole finite-sample bias: the generated law is far from π in a way training or the sampler should fix
#: (a 1-epoch digits model shows ratios of several hundred), and the bound's terms are then dominated by
#: an unconverged network; below it, a high ratio can still come from a hard data set, so we do not flag it.
UNDERTRAINED_RATIO = 5.0
#: at most this many settings get their own line in the summary (the first and last half of it when more)
_MAX_SETTING_LINES = 6
#: bootstrap replicates (seeded) of a trend's slope
_N_BOOT = 2000


def _mode(xs):
    """The most frequent non-empty value (ties: the first seen), or ``None``."""
    xs = [x for x in xs if x]
    return max(xs, key=lambda x: (xs.count(x), -xs.index(x))) if xs else None


def _notes_by_setting(table: dict) -> dict:
    """``{setting: [notes of each run]}`` (a run's ``notes``: its bound_label, carrying, verdicts, warnings)."""
    out = {}
    for r in table.get("rows") or []:
        out.setdefault(r["setting"], []).append(r.get("notes") or {})
    return out


def _setting_label(table, s) -> str:
    return ", ".join(f"{f.split('.')[-1]} = {s['levels'][f]}" for f in table["factors"])


def _main_distance(table):
    """``(key, name)`` of the study's main measured distance, or ``None``."""
    for key, name in _MAIN:
        if f"measured.{key}" in table["columns"]:
            return key, name
    return None


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _slope_ci(table: dict, col: str, factor: str, direction: str, *, seed: int = 0, n_boot: int = _N_BOOT, level: float = 0.95):
    """The least-squares slope of column ``col`` over the runs against ``factor`` (its numeric level, or
    its position in the written order for ordered labels) with a seeded percentile bootstrap interval.

    With ≥ 2 runs in every setting the bootstrap resamples seeds within each setting (the grid is fixed,
    the seeds are the random part); otherwise it resamples runs (pairs bootstrap; needs ≥ 3 distinct
    levels). In a balanced grid of several factors the slope on one factor equals its main effect (the
    factors are orthogonal). Returns ``{"slope", "lo", "hi", "level", "how", "per"}`` or ``None``."""
    levels = [s["levels"][factor] for s in table["summary"]]
    uniq = list(dict.fromkeys(levels))
    if numeric_levels(uniq):
        pos = {lv: float(lv) for lv in uniq}
        per = f"per unit of {factor.split('.')[-1]}"
    else:
        pos = {lv: float(i) for i, lv in enumerate(uniq)}
        per = "per level step"
    runs = [(r["setting"], pos[r["levels"][factor]], float(r["values"][col])) for r in table.get("rows") or []
            if _is_number(r["values"].get(col)) and r["values"][col] == r["values"][col]]
    xs = np.array([x for _, x, _ in runs])
    ys = np.array([y for _, _, y in runs])
    if len(set(xs.tolist())) < 2:
        return None

    def slope(idx):  # per replicate (row of idx); NaN where a replicate holds one level only
        x, y = xs[idx], ys[idx]
        xc, yc = x - x.mean(-1, keepdims=True), y - y.mean(-1, keepdims=True)
        vx = (xc * xc).sum(-1)
        ok = np.ptp(x, axis=-1) > 0
        return np.where(ok, (xc * yc).sum(-1) / np.where(ok, vx, 1.0), np.nan)

    groups = {}
    for i, (st, _, _) in enumerate(runs):
        groups.setdefault(st, []).append(i)
    rng = np.random.default_rng(seed)
    if all(len(g) >= 2 for g in groups.values()):
        idx = np.concatenate([rng.choice(np.array(g), size=(n_boot, len(g)), replace=True) for g in groups.values()], axis=1)
        n_seeds = sorted({len(g) for g in groups.values()})
        how = f"bootstrap over seeds within settings, {'–'.join(map(str, n_seeds))} seeds per setting"
    elif len(set(xs.tolist())) >= 3:
        idx = rng.integers(0, len(runs), size=(n_boot, len(runs)))
        how = f"pairs bootstrap over {len(runs)} runs"
    else:
        idx = None
        how = "no interval: one seed per setting and two levels"
    x, y = xs, ys
    b = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    if idx is None:
        return {"slope": b, "lo": None, "hi": None, "level": level, "how": how, "per": per}
    reps = slope(idx)
    reps = reps[np.isfinite(reps)]
    if reps.size < n_boot // 2:
        return {"slope": b, "lo": None, "hi": None, "level": level, "how": how + " (too few usable replicates)", "per": per}
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return {"slope": b, "lo": float(lo), "hi": float(hi), "level": level, "how": how, "per": per}


def _trend_clause(name: str, fit: dict, factor: str, direction: str) -> str:
    f = factor.split(".")[-1]
    b, lo, hi = fit["slope"], fit["lo"], fit["hi"]
    # a positive slope means the column grows with the level; phrased along the study's direction
    along = (b > 0) == (direction == "grows")
    if lo is None:
        return (f"{name} {'grows' if along else 'shrinks'} as {f} {direction}: slope {b:+.3g} {fit['per']} "
                f"({fit['how']}, so no confidence interval)")
    ci = f"slope {b:+.3g} [{lo:+.3g}, {hi:+.3g}] {fit['per']} ({fit['level']:.0%} CI, {fit['how']})"
    if lo > 0 or hi < 0:
        return f"{name} {'grows' if along else 'shrinks'} as {f} {direction}: {ci}, the CI excludes 0"
    return f"{name} shows no clear trend as {f} {direction}: {ci}, the CI includes 0"


def _trend_sentence(table: dict, direction: str) -> str | None:
    """One sentence: the main measured distance's and the bound's trend along the first ordered factor, with CIs."""
    trends = table.get("trends") or {}
    factor = next(iter(trends), None)
    if factor is None:
        return None
    direction = trends[factor].get("direction", direction)
    parts = []
    main = _main_distance(table)
    if main is not None:
        fit = _slope_ci(table, f"measured.{main[0]}", factor, direction)
        if fit is not None:
            parts.append(_trend_clause(f"the measured {main[1]}", fit, factor, direction))
    for col, name in (("faithful.bound", "the faithful bound"), ("faithful.bound_lower", "the faithful lower-estimate value (not a bound)"),
                      ("seminar.bound", "the seminar value (not a bound)")):
        if col in table["columns"]:
            fit = _slope_ci(table, col, factor, direction)
            if fit is not None:
                parts.append(_trend_clause(name, fit, factor, direction))
                break
    if not parts:
        return None
    s = "Trend: " + "; ".join(parts)
    if len(table["factors"]) > 1:
        s += " (main effect of " + factor.split(".")[-1] + ")"
    return s + "."


def _warning_lines(table: dict) -> list:
    """⚠ lines: runs whose evaluation warned (e.g. samples far outside the data's range), and settings whose
    main measured distance exceeds UNDERTRAINED_RATIO × its floor (see there)."""
    out = []
    notes = _notes_by_setting(table)
    warned, first = [], None
    for s in table["summary"]:
        ns = notes.get(s["setting"], [])
        k = sum(1 for n in ns if n.get("warnings"))
        if k:
            warned.append(f"{_setting_label(table, s)} ({k}/{len(ns)} seeds)")
            first = first or next(n["warnings"][0] for n in ns if n.get("warnings"))
    if warned:
        out.append("⚠ Warnings of the evaluation in " + "; ".join(warned) + f": {_first_clause(first)}"
                   + (" — far-off samples mean the model is undertrained or the sampler diverged; the distances and the bound "
                      "there describe that failure, not the model class." if "outside the data" in first else "."))
    main = _main_distance(table)
    if main is not None:
        key, name = main
        big = []
        for s in table["summary"]:
            m, f = s["mean"].get(f"measured.{key}"), s["mean"].get(f"floor.{key}")
            if _is_number(m) and _is_number(f) and f > 0 and m > UNDERTRAINED_RATIO * f:
                big.append(f"{_setting_label(table, s)} ({m / f:.3g}× its floor)")
        if big:
            out.append(f"⚠ Likely undertrained: the measured {name} exceeds {UNDERTRAINED_RATIO:g}× its sampling floor (two samples "
                       f"of π of the same size) in {len(big)} of {len(table['summary'])} settings: " + "; ".join(big[:6])
                       + ("; …" if len(big) > 6 else "") + ". Train longer (or check the sampler) before reading trends or the bound.")
    return out


def _seeds_of(notes, pred) -> int:
    return sum(1 for n in notes if pred(n))


def _setting_line(table: dict, s: dict, notes: list) -> str:
    """One line of the summary for one setting: measured (floor, resolved), the guaranteed lower estimate,
    the bound with its label and ratio, the carrying term, the seminar value (not a bound) and its verdict."""
    m, sd = s["mean"], s["sd"]
    rows = [r for r in table["rows"] if r["setting"] == s["setting"]]
    n = len(rows)
    parts = []
    main = _main_distance(table)
    if main is not None:
        key, name = main
        txt = f"{name} {_fmt(m.get(f'measured.{key}'), sd.get(f'measured.{key}'))}"
        extra = []
        if _is_number(m.get(f"floor.{key}")):
            extra.append(f"floor {m[f'floor.{key}']:.4g}")
        res = [r["values"].get(f"resolved.{key}") for r in rows if r["values"].get(f"resolved.{key}") is not None]
        if res:
            extra.append(f"resolved in {sum(1 for x in res if x)}/{len(res)} seeds")
        parts.append(txt + (f" ({', '.join(extra)})" if extra else ""))
    if _is_number(m.get("lower.w1_max_sliced")):
        parts.append(f"guaranteed W1 ≥ {m['lower.w1_max_sliced']:.4g} (95% lower limit)")
    if any(c.startswith("faithful.") for c in table["columns"]):
        labels = [nt.get("bound_label") for nt in notes]
        finite = [r["values"]["faithful.bound"] for r in rows if _is_number(r["values"].get("faithful.bound"))]
        if finite:
            lab_counts = {lab: labels.count(lab) for lab in dict.fromkeys(x for x in labels if x)}
            lab = (next(iter(lab_counts)) if len(lab_counts) == 1 else
                   ", ".join(f"{k} in {v}" for k, v in lab_counts.items()) if lab_counts else "label unknown")
            txt = f"WUP bound {_fmt(m.get('faithful.bound'), sd.get('faithful.bound'))} ÷ C ({lab} sup norms"
            txt += f"; finite in {len(finite)}/{n} seeds)" if len(finite) < n else ")"
            if _is_number(m.get("faithful.ratio")):
                txt += f", {m['faithful.ratio']:.3g}× the measured d1(π, m_g)"
            viol = _seeds_of(notes, lambda nt: (nt.get("verdicts") or {}).get("faithful", "").startswith("VIOLATED"))
            if viol:
                txt += f" — VIOLATED with C = 1 in {viol}/{n} seeds"
            parts.append(txt)
        else:
            lab = _mode(labels) or "upper"
            low = m.get("faithful.bound_lower")
            parts.append(f"WUP bound: no finite upper value (the {lab} sup norms are unbounded at the stated level)"
                         + (f"; the lower-estimate value {low:.4g} ÷ C is NOT a bound" if _is_number(low) else ""))
        carrying = _mode([nt.get("carrying") for nt in notes])
        if carrying:
            parts.append(f"carrying term {carrying}")
    if _is_number(m.get("seminar.bound")):
        txt = f"seminar value (not a bound) {_fmt(m['seminar.bound'], sd.get('seminar.bound'))}"
        nab = [nt for nt in notes if "NOT A BOUND" in (nt.get("verdicts") or {}).get("seminar", "")]
        if nab:
            why = (nab[0]["verdicts"]["seminar"].split("NOT A BOUND here: ", 1)[-1]).split(". NOT A BOUND")[0].rstrip(".")
            txt += f" — NOT A BOUND here in {len(nab)}/{n} seeds (e.g. {why})"
        parts.append(txt)
    return f"{_setting_label(table, s)} ({n} seed{'s' if n != 1 else ''}): " + "; ".join(parts) + "."


def _summary(table: dict, study: dict) -> list:
    """The summary box's lines (plain text; ⚠ lines first): for a training study one line per setting (the
    first and last ones when there are many), the trend sentence, and the warnings; for a compute study
    only the warnings."""
    lines = _warning_lines(table)
    if table.get("compute"):
        return lines
    notes = _notes_by_setting(table)
    summ = table["summary"]
    if len(summ) > _MAX_SETTING_LINES:
        half = _MAX_SETTING_LINES // 2
        shown = summ[:half] + [None] + summ[-half:]
    else:
        shown = summ
    for s in shown:
        if s is None:
            lines.append(f"… {len(summ) - 2 * (_MAX_SETTING_LINES // 2)} more settings in the tables below …")
        else:
            lines.append(_setting_line(table, s, notes.get(s["setting"], [])))
    direction = (study.get("report") or {}).get("direction", "grows")
    tr = _trend_sentence(table, direction)
    if tr:
        lines.append(tr)
    return lines


def _tables(table: dict):
    """(title, header, rows) per group: mean ± sd per setting (shares as folded percentages); the
    faithful group also gets the text columns "headline label" and "carrying term" (the most
    frequent over seeds) where the runs' notes hold them."""
    factors = table["factors"]
    notes = _notes_by_setting(table)
    out = []
    for slug, title, cols in _groups(table):
        present = [c for c in cols if c in table["columns"]]
        if not present:
            continue
        header = [f.split(".")[-1] for f in factors] + ["seeds"] + [_title(c, table) for c in present]
        rows = [[str(s["levels"][f]) for f in factors] + [str(s["n"])] + [_cell(c, s["mean"][c], s["sd"][c]) for c in present]
                for s in table["summary"]]
        if slug == "faithful":
            for key, head in (("bound_label", "headline label"), ("carrying", "carrying term")):
                if any(n.get(key) for ns in notes.values() for n in ns):
                    header.append(head)
                    for s, r in zip(table["summary"], rows):
                        r.append(_mode([n.get(key) for n in notes.get(s["setting"], [])]) or "—")
        out.append((title, header, rows))
    return out


def _html_table(header, rows, left=1) -> str:
    h = "".join(f"<th class='l'>{html.escape(x)}</th>" if i < left else f"<th>{html.escape(x)}</th>" for i, x in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td class='l'>{html.escape(x)}</td>" if i < left else f"<td>{html.escape(x)}</td>"
                                    for i, x in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{h}</tr>{body}</table>"


def _md_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def write_report(study_dir) -> tuple:
    """Write ``report.html`` (self-contained) and ``report.md`` for a finished study folder."""
    study_dir = Path(study_dir)
    if not (study_dir / "table.json").is_file() or not (study_dir / "study.yaml").is_file():
        raise ConfigError(f"{study_dir} is not a finished study folder (no table.json / study.yaml); run `scoreuq study` first")
    table = json.loads((study_dir / "table.json").read_text())
    study_text = (study_dir / "study.yaml").read_text()
    study = yaml.safe_load(study_text)
    env = json.loads((study_dir / "environment.json").read_text()) if (study_dir / "environment.json").is_file() else {}
    timing = json.loads((study_dir / "timing.json").read_text()) if (study_dir / "timing.json").is_file() else {"calls": []}
    figs = _figures(study_dir, table, study)
    samples = _sample_images(study_dir, table)
    tables = _tables(table)
    trends = table.get("trends") or {}
    audit = _audit_sentences(table)
    n_runs, n_set = len(table["rows"]), len(table["summary"])
    wall = sum(c["seconds"] for c in timing["calls"])
    facts = [f"{n_runs} runs: {n_set} settings × {len(table['seeds'])} seeds ({', '.join(map(str, table['seeds']))}); "
             f"factors: {', '.join(table['factors'])}.",
             f"Wall time of the study command(s): {wall:.0f} s over {len(timing['calls'])} call(s) "
             f"({', '.join(c['executor'] + (' ×' + str(c['workers']) if c['executor'] != 'local' else '') for c in timing['calls'])}); "
             f"{env.get('threads_per_run', '?')} torch thread(s) per run on {env.get('cpu_count', '?')} CPUs.",
             "Every number is a mean over seeds ± the sample standard deviation over seeds; each run's own "
             + ("values are in table.csv and records/<key>.json (nothing was trained: each run is one call of the experiment "
                f"{table['compute']})." if table.get("compute") else "estimates are in table.csv and runs/<key>/{metrics,bound}.json.")]
    trend_lines = [f"**{_title(c, table)}**: {tr['columns'][c]['text']}" for tr in trends.values()
                   for _, _, cols in _groups(table) for c in cols if c in tr["columns"] and c != "N"]
    est = table.get("estimators", {})
    est_rows = [[_title(c, table), c, e] for c, e in est.items()]
    findings = table.get("findings") or []
    find_header = ["figure", "ours", "thesis", "agrees", "why they differ / what it means"]
    find_rows = [[f.get("figure", ""), str(f.get("ours", "")), str(f.get("thesis", "")),
                  {True: "yes", False: "no", None: "—"}.get(f.get("agrees"), str(f.get("agrees"))), f.get("note", "")] for f in findings]
    per_run_cols = table["columns"]
    per_run = [[r["key"], str(r["seed"])] + [_cell(c, r["values"].get(c)) for c in per_run_cols] for r in table["rows"]]
    summary_lines = _summary(table, study)
    box = "Warnings" if table.get("compute") else "Summary"
    versions = [[k, str(v)] for k, v in {"python": env.get("python"), "platform": env.get("platform"), **env.get("packages", {})}.items()]
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    name = table["study"]

    # ---- HTML
    H = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>scoreuq study {html.escape(name)}</title>"
         f"<style>{_CSS}</style></head><body>", f"<h1>Study <code>{html.escape(name)}</code></h1>"]
    if study.get("description"):
        H.append(f"<p>{html.escape(study['description'])}</p>")
    if summary_lines:
        H.append(f"<div class='summary' id='summary'><h2>{box}</h2><ul>" + "".join(
            f"<li class='warn'>{html.escape(x)}</li>" if x.startswith("⚠") else f"<li>{html.escape(x)}</li>" for x in summary_lines)
            + "</ul></div>")
    H.append("<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in facts) + "</ul>")
    if findings:
        H.append("<h2>Beside the seed's figures</h2>" + _html_table(find_header, find_rows, left=5))
    for title, header, rows in tables:
        H.append(f"<h2>{html.escape(title)}</h2>" + _html_table(header, rows, left=len(table["factors"])))
    if audit:
        H.append("<h2>The bound against the measured distance</h2><ul>" + "".join(f"<li>{html.escape(a)}</li>" for a in audit) + "</ul>")
    if trend_lines:
        H.append("<h2>Trends</h2><p>Spearman's rank correlation and strict monotonicity of the setting means; "
                 "the change is last minus first level, against the pooled seed sd.</p><ul>"
                 + "".join("<li>" + html.escape(t).replace("**", "") + "</li>" for t in trend_lines) + "</ul>")
    H.append("<h2>Figures</h2>")
    for title, path, cap in figs:
        H.append(f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='{_png_data(path)}'><p><small>{html.escape(cap)}</small></p>")
    if samples:
        H.append("<h2>Samples</h2><div class='samples'>" + "".join(
            f"<figure><img alt='samples {html.escape(c)}' src='{_png_data(p)}'><figcaption>{html.escape(c)}</figcaption></figure>"
            for c, p in samples) + "</div>")
    H.append("<h2>How each number was estimated</h2>" + _html_table(["column", "key", "estimator"], est_rows, left=3))
    H.append("<details><summary><b>Every run</b></summary>" + _html_table(["run", "seed"] + [_title(c, table) for c in per_run_cols], per_run, left=1)
             + "</details>")
    H.append("<h2>Study config</h2><pre>" + html.escape(study_text) + "</pre>")
    H.append("<h2>Software</h2>" + _html_table(["package", "version"], versions, left=2))
    H.append(f"<p><small>Written by scoreuq report on {generated}.</small></p></body></html>")
    html_path = atomic_write_text(study_dir / "report.html", "\n".join(H))

    # ---- Markdown
    M = [f"# Study `{name}`", ""]
    if study.get("description"):
        M += [study["description"], ""]
    if summary_lines:
        M += [f"## {box}", ""] + [f"- **{x}**" if x.startswith("⚠") else f"- {x}" for x in summary_lines] + [""]
    M += [f"- {f}" for f in facts] + [""]
    if findings:
        M += ["## Beside the seed's figures", "", _md_table(find_header, [[c.replace("|", "\\|") for c in r] for r in find_rows]), ""]
    for title, header, rows in tables:
        M += [f"## {title}", "", _md_table(header, rows), ""]
    if audit:
        M += ["## The bound against the measured distance", ""] + [f"- {a}" for a in audit] + [""]
    if trend_lines:
        M += ["## Trends", ""] + [f"- {t}" for t in trend_lines] + [""]
    M += ["## Figures", ""] + [f"![{t}]({p.relative_to(study_dir).as_posix()})" for t, p, _ in figs] + [""]
    if samples:
        M += ["## Samples", ""] + [f"- {c}: ![samples]({p.relative_to(study_dir).as_posix()})" for c, p in samples] + [""]
    M += ["## How each number was estimated", "", _md_table(["column", "key", "estimator"], est_rows), ""]
    M += ["## Software", "", _md_table(["package", "version"], versions), "", f"Written by scoreuq report on {generated}.", ""]
    md_path = atomic_write_text(study_dir / "report.md", "\n".join(M))
    return html_path, md_path
