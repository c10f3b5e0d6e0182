"""Reports of a study: a self-contained HTML page and a Markdown summary.

``report.html`` embeds every figure as a base64 PNG, the tables (mean ± sd over seeds per
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

from ._io import atomic_write_text
from .studies.table import COLUMN_TITLES

__all__ = ["write_report", "GROUPS"]

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
        "faithful.X1", "faithful.e_nn", "faithful.L", "faithful.C2", "faithful.X4", "faithful.bound", "faithful.measured",
        "faithful.floor", "faithful.ratio"]),
    ("seminar", "WUP bound, the seminar's estimators (Table 1 columns, 000 §4)", [
        "seminar.X1", "seminar.X2", "seminar.X3", "seminar.X4", "seminar.bound", "seminar.measured", "seminar.ratio"]),
    ("shares", "Which term carries the bound (shares at each run's mean terms)", [
        "faithful.share.prior", "faithful.share.e_nn", "faithful.share.X4_eps", "faithful.share.X4_C2",
        "seminar.share.prior", "seminar.share.e_nn", "seminar.share.X4_eps", "seminar.share.X4_C2"]),
)
_LOG = {"faithful.bound", "faithful.C2", "faithful.L", "seminar.bound", "faithful.ratio", "seminar.ratio"}
_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.6em 0 1.4em;font-size:0.88em}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}td{white-space:nowrap}
th{background:#f3f3f3}td.l,th.l{text-align:left}img{max-width:100%;border:1px solid #eee;margin:0.4em 0}
pre{background:#f7f7f7;padding:0.8em;overflow-x:auto;font-size:0.85em}.samples{display:flex;flex-wrap:wrap;gap:1em}
.samples figure{margin:0;width:270px}figcaption{font-size:0.85em;color:#555}code{font-size:0.92em}"""


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


def _png_data(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _figures(study_dir: Path, table: dict, study: dict) -> list:
    """Draw the study's figures into ``figures/``; returns ``[(title, path, caption)]``."""
    from . import figures

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
        series = {_title(c): ([s["mean"][c] for s in summary], c.endswith("bound")) for c in audit}
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
    from . import figures

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
    """A share as a percentage that keeps tiny and near-total shares readable (3e-05%, not 0.0%)."""
    p = 100 * x
    return f"{p:.1f}%" if 0.1 <= p <= 99.9 else (f"{p:.2g}%" if p < 0.1 else f"100 − {100 - p:.2g}%" if p < 100 else "100%")


def _audit_sentences(table: dict) -> list:
    out = []
    for preset in ("faithful", "seminar"):
        col = f"{preset}.ratio"
        ratios = [s["mean"].get(col) for s in table["summary"] if s["mean"].get(col) is not None]
        if not ratios:
            continue
        lo, hi = min(ratios), max(ratios)
        holds = "holds (bound ≥ measured) in every setting" if lo >= 1 else (
            "fails (bound < measured) in every setting" if hi < 1 else "holds in some settings and fails in others")
        out.append(f"The {preset} bound is {lo:.3g}–{hi:.3g} times the measured d1(π, m_g) across settings: it {holds}"
                   + (" with C = 1." if preset == "faithful" else "."))
    names = {"e_nn": "e_nn (score error)", "X4_eps": "the early-stopping piece (1 + |log δ|/ε) X4",
             "X4_C2": "the regularity piece T ‖s‖²_C² X4"}
    pieces = {k: [s["mean"].get(f"faithful.share.{k}") for s in table["summary"]] for k in names}
    if all(v is not None for vs in pieces.values() for v in vs) and pieces["e_nn"]:
        top = {k: sum(1 for i in range(len(table["summary"])) if max(pieces, key=lambda j: pieces[j][i]) == k) for k in names}
        k = max(top, key=top.get)
        pr = [s["mean"].get("faithful.share.prior") for s in table["summary"]]
        out.append(f"In the faithful bound, {names[k]} is the largest part of e'_nn in {top[k]} of {len(table['summary'])} settings "
                   f"({_pct(min(pieces[k]))}–{_pct(max(pieces[k]))} of it)"
                   + (f"; the prior term is {_pct(min(pr))}–{_pct(max(pr))} of the bracket." if None not in pr else "."))
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
            out.append(f"Warning: the {preset} bound is below the guaranteed W1 lower limit (a 95% lower confidence limit of the "
                       f"population W1(model, π)) in {len(bad)} run(s): "
                       + ", ".join(f"{k} (bound {b:.4g} < {lo:.4g})" for k, b, lo in bad[:6])
                       + (", …" if len(bad) > 6 else "") + " — there the bound fails, up to the limit's 5% error.")
    return out


def _tables(table: dict):
    """(title, header, rows) per group: mean ± sd per setting."""
    factors = table["factors"]
    out = []
    for _, title, cols in _groups(table):
        present = [c for c in cols if c in table["columns"]]
        if not present:
            continue
        header = [f.split(".")[-1] for f in factors] + ["seeds"] + [_title(c, table) for c in present]
        rows = [[str(s["levels"][f]) for f in factors] + [str(s["n"])] + [_fmt(s["mean"][c], s["sd"][c]) for c in present]
                for s in table["summary"]]
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
    import yaml

    from .runs.config import ConfigError

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
    per_run = [[r["key"], str(r["seed"])] + [_fmt(r["values"].get(c)) for c in per_run_cols] for r in table["rows"]]
    versions = [[k, str(v)] for k, v in {"python": env.get("python"), "platform": env.get("platform"), **env.get("packages", {})}.items()]
    generated = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    name = table["study"]

    # ---- HTML
    H = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>scoreuq study {html.escape(name)}</title>"
         f"<style>{_CSS}</style></head><body>", f"<h1>Study <code>{html.escape(name)}</code></h1>"]
    if study.get("description"):
        H.append(f"<p>{html.escape(study['description'])}</p>")
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
