"""Run a study: every run of the grid (train → sample → evaluate → bound, or one experiment call
for a compute study), resumably, on one of three executors, then the table and the report.

Layout of a study directory::

    studies/imbalance/
      study.yaml           the resolved study (base config inlined); a rerun must match it
      environment.json     software versions, CPU count, threads, executor of the last call
      runs/<key>/          one run directory per run (config.yaml, checkpoints/, samples/, metrics.json, bound.json)
      records/<key>.json   one record per finished run, written atomically by the driver
      .lock                held while a `scoreuq study` runs on the folder (a second one stops at once)
      timings/<key>.json   its per-stage wall times (train, sample, evaluate, bound; or compute) and device
      cache/               what runs share (the feature classifier of an image data set and seed)
      table.csv  summary.csv  table.json  figures/  report.html  report.md

A run is finished when its record exists; a killed study, run again, skips finished runs and
resumes an interrupted run from its last checkpoint. Records are written by the driver only
(from what the workers return), so the executors differ in where runs compute, never in what
is written. Every run pins ``torch.set_num_threads(study.threads)``: intra-op parallelism
changes the order of floating-point sums, and pinning it makes the sequential, process-pool
and Dask executors give bit-identical tables.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import multiprocessing
import os
import platform
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch
import yaml

from .. import figures, runs
from .._io import atomic_write_json, atomic_write_text, folder_lock
from ..runs.config import ConfigError, RunConfig
from .config import StudyConfig, check_executor, identity_of
from .report import write_report
from .table import write_table

__all__ = ["run_study", "run_one", "compute_one", "check_study", "worker_device", "StudyResult", "StudyError", "load_records", "environment"]


class StudyError(RuntimeError):
    """A run of a study failed; finished runs keep their records."""


@dataclass
class StudyResult:
    dir: Path
    records: list
    computed: int
    skipped: int
    seconds: float


def _jsonable(obj):
    return json.loads(json.dumps(obj))


def check_study(study: StudyConfig) -> list:
    """Build every run of the grid and prepare each (data loaded, model probed),
    so that a bad study fails before any run starts. Returns the run specs."""
    specs = study.runs()
    if study.is_compute:
        from .. import experiments  # lazy: scoreuq.experiments loads scipy.stats (and imports scoreuq.studies)

        exp = experiments.get(study.compute)
        for sp in specs:
            try:
                exp.check(dict(sp.config))
            except ValueError as exc:
                where = f"factor level {sp.setting.levels}" if sp.setting.levels else "params"
                raise ConfigError(f"{study.compute}: {where}: {exc}") from None
        return specs
    for sp in specs:
        try:
            runs.prepare(sp.config)
        except ConfigError as exc:
            raise ConfigError(f"factor level {sp.setting.levels}: {exc}") from None
    return specs


def environment(executor: str | None = None, workers: int | None = None, threads: int | None = None) -> dict:
    """Software versions and machine facts, for the report."""
    vers = {}
    for pkg in ("scoreuq", "torch", "numpy", "scipy", "pot", "scikit-learn", "matplotlib", "safetensors", "torchmetrics", "dask", "distributed"):
        try:
            vers[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {"python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "packages": vers, "executor": executor, "workers": workers, "threads_per_run": threads}


def _classifier_cache(cache_dir: Path, cfg) -> Path:
    d = cfg.data
    ident = json.dumps({"name": d.name, "params": d.params, "n_test": d.n_test, "test_fraction": d.test_fraction, "seed": cfg.seed},
                       sort_keys=True, default=str)
    return cache_dir / f"classifier-{d.name}-seed{cfg.seed}-{hashlib.sha256(ident.encode()).hexdigest()[:10]}.safetensors"


def _presets(bound: dict | None):
    """``(preset, report, [(column, term)])`` for each bound preset computed, the term columns named
    ``faithful.<key>`` and ``seminar.<symbol>`` (the seminar's X1–X4, as in its Table 1)."""
    for preset in ("faithful", "seminar"):
        rep = (bound or {}).get(preset)
        if rep:
            yield preset, rep, [(f"{preset}.{term['symbol']}" if preset == "seminar" else f"{preset}.{key}", term)
                                for key, term in rep["terms"].items()]


def _flatten(metrics: dict, bound: dict | None, rd) -> dict:
    """The numeric columns of one run."""
    v = {"N": int(rd.train.shape[0])}
    for k in ("w1", "sliced_w1", "mmd2", "sinkhorn"):
        if k in metrics["generated_vs_heldout"]:
            v[f"measured.{k}"] = metrics["generated_vs_heldout"][k]
            v[f"floor.{k}"] = metrics["floor"][k]
    for k, a in (metrics.get("assessments") or {}).items():
        v[f"spread.{k}"] = a["spread"]
        v[f"resolved.{k}"] = int(bool(a["resolved"]))
    lower = metrics.get("w1_lower_bound")
    if lower:
        v["lower.w1_max_sliced"] = lower["max_sliced_lcl"]
        v["lower.w1_sliced"] = lower["sliced_lcl"]
    if "circle" in metrics:
        v["circle.c1_to_train"] = metrics["circle"]["c1_to_train"]
        v["circle.c2_to_circle"] = metrics["circle"]["c2_to_circle"]
    if "frechet" in metrics:
        v["frechet"] = metrics["frechet"]["generated_vs_heldout"]
        v["frechet_floor"] = metrics["frechet"]["floor"]
        v["classifier_accuracy"] = metrics["frechet"]["classifier_heldout_accuracy"]
    if "class_shares" in metrics:
        gen, tr, full = (metrics["class_shares"][k] for k in ("generated", "train", "full"))
        v["shares.tv_generated_train"] = 0.5 * sum(abs(a - b) for a, b in zip(gen, tr))
        v["shares.tv_generated_full"] = 0.5 * sum(abs(a - b) for a, b in zip(gen, full))
        v["shares.tv_train_full"] = 0.5 * sum(abs(a - b) for a, b in zip(tr, full))
    for preset, rep, terms in _presets(bound):
        for col, term in terms:
            v[col] = term["value"]
        # the headline: None when no finite upper value exists (the table's means and trends skip None); the
        # labelled values, the optimum and the structural floor below are left out where they are not finite
        v[f"{preset}.bound"] = rep["bound"] if _finite(rep.get("bound")) else None
        for label, key in _BOUND_LABELS:
            x = ((rep.get("bounds") or {}).get(label) or {}).get("value")
            if _finite(x):
                v[f"{preset}.{key}"] = x
        for key in ("optimum", "structural"):
            x = (rep.get(key) or {}).get("value")
            if _finite(x):
                v[f"{preset}.{key}"] = x
        for k, share in (rep.get("breakdown") or {}).get("shares", {}).items():
            v[f"{preset}.share.{k}"] = share
        if rep.get("measured"):
            v[f"{preset}.measured"] = rep["measured"]["value"]
            v[f"{preset}.ratio"] = rep["ratio"] if _finite(rep.get("ratio")) else None
        if rep.get("floor"):
            v[f"{preset}.floor"] = rep["floor"]["value"]
    return v


#: the labelled values of a faithful report's ``bounds`` and their columns ``<preset>.<key>``
_BOUND_LABELS = (("lower estimate", "bound_lower"), ("statistical", "bound_statistical"), ("certified", "bound_certified"))
#: the piece of the bound a share names (the fallback for the carrying term when no sensitivity was computed)
_SHARE_TERMS = {"prior": "X1 (prior term)", "e_nn": "e_nn", "X4_eps": "X4 (early-stopping piece)", "X4_C2": "C2·X4 (regularity piece)"}


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf")


def _notes(metrics: dict, bound: dict | None) -> dict:
    """The text facts of one run, kept in the record's ``extras`` (the table's columns are numeric):
    ``bound_label`` (the faithful headline's sup-norm label), ``carrying`` (the term with the largest
    elasticity of the faithful bound; without a finite bound, the largest share of the lower-estimate
    value's bracket, marked ``[by share]``), ``verdicts`` ({preset: verdict}) and ``warnings`` (the
    evaluation's, e.g. generated samples far outside the data's range)."""
    out = {}
    rep = (bound or {}).get("faithful")
    if rep:
        out["bound_label"] = rep.get("label") or ""
        carrying = (rep.get("sensitivity") or {}).get("carrying")
        shares = (rep.get("breakdown") or {}).get("shares") or {}
        if not carrying and shares:
            if shares.get("prior", 0.0) >= 0.5:
                carrying = _SHARE_TERMS["prior"]
            else:
                pieces = {k: shares[k] for k in ("e_nn", "X4_eps", "X4_C2") if k in shares}
                carrying = _SHARE_TERMS[max(pieces, key=pieces.get)] if pieces else None
            carrying = carrying and carrying + " [by share]"
        if carrying:
            out["carrying"] = carrying
    verdicts = {p: (bound or {})[p].get("verdict") for p in ("faithful", "seminar") if (bound or {}).get(p)}
    verdicts = {p: t for p, t in verdicts.items() if t}
    if verdicts:
        out["verdicts"] = verdicts
    if metrics.get("warnings"):
        out["warnings"] = [str(w) for w in metrics["warnings"]]
    return out


def _estimators(metrics: dict, bound: dict | None) -> dict:
    """How each column was estimated (for the report)."""
    dist = [k for k in ("w1", "sliced_w1", "mmd2", "sinkhorn") if k in metrics["generated_vs_heldout"]]
    ests = metrics["estimators"]
    if "assessments" in metrics:
        est = {f"measured.{k}": f"{ests[k].split('; floor:')[0]}: generated samples vs held-out reference A" for k in dist}
        est.update({f"floor.{k}": f"the same estimator between {metrics['floor']['reference']}" for k in dist})
        for k, a in metrics["assessments"].items():
            est[f"spread.{k}"] = (f"bootstrap sd of value - floor of {k}: {a['n_boot']} paired bootstrap replicates "
                                  "(generated, floor sample and common reference resampled with replacement)")
            est[f"resolved.{k}"] = (f"1 if the lower end of the {a['level']:.0%} percentile bootstrap interval of value - floor "
                                    f"of {k} is > 0 (the distance tells the model from π at n={a['n']}), else 0")
    else:  # metrics.json of an older version: one floor, no assessments
        est = {f"measured.{k}": f"{ests[k]} between generated samples and held-out data" for k in dist}
        est.update({f"floor.{k}": f"{ests[k]} between the {metrics['floor']['reference']} and held-out data" for k in dist})
    if metrics.get("w1_lower_bound"):
        lo = metrics["w1_lower_bound"]
        est["lower.w1_max_sliced"] = (f"a guaranteed lower estimate of the population W1(model, π): {lo['level']:.0%} lower "
                                      "confidence limit by a max-sliced 1-Lipschitz critic fitted on halves and scored on the "
                                      f"other halves (Hoeffding width; held-out {lo['n_test']}); {lo['guarantee']}")
        est["lower.w1_sliced"] = (f"a guaranteed lower estimate of the population W1(model, π): {lo['level']:.0%} lower confidence "
                                  "limit by the average of sliced 1-D critics on random directions (Hoeffding width)")
    if "circle" in metrics:
        est["circle.c1_to_train"] = ("C1 (003 Def. 4.1): W1 of the radii + W1 on the circle of the angles, "
                                     "generated samples vs the training points")
        est["circle.c2_to_circle"] = ("C2 (003 Def. 4.2): exact W1 of the radii to the circle's radius + "
                                      "exact W1 of the angles to U[0, 2π), generated samples")
    if "frechet" in metrics:
        est["frechet"] = f"Fréchet distance on the {metrics['frechet']['features']} (generated vs held-out)"
        est["frechet_floor"] = (f"the same Fréchet distance between {metrics['floor']['reference']}" if "assessments" in metrics
                                else "the same Fréchet distance between the training set and held-out data")
        est["classifier_accuracy"] = "held-out accuracy of the feature classifier of the Fréchet distance"
        est["shares.tv_train_full"] = "total variation between the training set's class shares and the full set's"
        est["shares.tv_generated_train"] = "total variation between generated class shares (feature classifier) and training shares"
        est["shares.tv_generated_full"] = "total variation between generated class shares and the full (balanced) set's shares"
    for preset, rep, terms in _presets(bound):
        for col, term in terms:
            sizes = ", ".join(f"{k}={x}" for k, x in term["sizes"].items())
            est[col] = f"{term['name']}: {term['estimator']}" + (f" ({sizes})" if sizes else "")
        est[f"{preset}.bound"] = f"{rep['formula']}; constants " + ", ".join(
            f"{k}={x:.4g}" if isinstance(x, float) else f"{k}={x}" for k, x in rep["constants"].items() if k != "R")
        if preset == "faithful":
            est[f"{preset}.bound"] = ("the headline value ÷ C at the certified or statistical sup norms (the run's label is in "
                                      "records/<key>.json extras.bound_label); absent where no finite upper value exists: "
                                      + est[f"{preset}.bound"])
        for label, key in _BOUND_LABELS:
            b = (rep.get("bounds") or {}).get(label)
            if b:
                est[f"{preset}.{key}"] = (f"the formula at the {label} sup norms ({b.get('how', '')})"
                                          + ("; NOT a bound" if label == "lower estimate" else "; absent where infinite"))
        if rep.get("optimum"):
            est[f"{preset}.optimum"] = f"the tightest admissible value ÷ C over ε (sampler at the same ε) and T: {rep['optimum'].get('how', '')}"
        if rep.get("structural"):
            est[f"{preset}.structural"] = ("the structural floor ÷ C: no admissible ε, T goes below it with these terms: "
                                           f"{rep['structural'].get('how', '')}")
        if rep.get("measured"):
            est[f"{preset}.measured"] = f"measured d1(π, m_g): {rep['measured']['estimator']} between generated samples and π"
        if rep.get("breakdown"):
            est[f"{preset}.share.prior"] = "prior term / (prior term + √e'_nn) inside the bound's bracket, at the run's mean terms"
            for k in ("e_nn", "X4_eps", "X4_C2"):
                est[f"{preset}.share.{k}"] = "this piece / e'_nn, at the run's mean terms (the three pieces sum to 1)"
    return est


def compute_one(task: dict) -> dict:
    """One run of a compute study: the experiment ``task["compute"]`` at ``task["config"]`` (its
    parameters) and ``task["seed"]``; returns the record (JSON-able). Nothing is trained."""
    from .. import experiments  # lazy: scoreuq.experiments loads scipy.stats (and imports scoreuq.studies)

    old_threads = torch.get_num_threads()
    torch.set_num_threads(int(task["threads"]))
    try:
        exp = experiments.get(task["compute"])
        t0 = time.perf_counter()
        out = exp.fn(dict(task["config"]), int(task["seed"]))
        secs = {"compute": time.perf_counter() - t0}
        values = {}
        for k, x in out["values"].items():
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise TypeError(f"experiment {exp.name} returned a non-numeric value for {k}: {x!r}")
            if math.isnan(x):
                raise FloatingPointError(f"run {task['key']}: {k} is NaN")
            values[k] = float(x) if isinstance(x, float) else x
        extras = dict(out.get("extras") or {})
        extras["estimators"] = {k: v for k, v in exp.estimators.items() if k in values}
        return _jsonable({"key": task["key"], "config": task["config"], "seed": task["seed"], "values": values,
                          "extras": extras, "seconds": secs})
    finally:
        torch.set_num_threads(old_threads)


def run_one(task: dict) -> dict:
    """Train, sample, evaluate and bound one run of a study; returns its record (JSON-able).
    A compute study's task (``task["compute"]`` set) goes to :func:`compute_one`.

    ``task`` holds ``key``, ``run_dir``, ``config`` (a run-config mapping), ``evaluate`` and
    ``bound`` options, ``threads`` and ``cache_dir``. Called in the driver (local executor) or
    in a worker process (process pool, Dask); it writes only inside ``run_dir`` and ``cache_dir``.
    """
    if task.get("compute"):
        return compute_one(task)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(int(task["threads"]))
    try:
        cfg = RunConfig.from_dict(task["config"])
        run_dir = Path(task["run_dir"])
        secs = {}
        t0 = time.perf_counter()
        device = worker_device(cfg.device)
        runs.train(cfg, run_dir=run_dir, figures=False, device=device)
        secs["train"] = time.perf_counter() - t0
        run = runs.load_run(run_dir, device=device)
        loss = run.trainer.history.loss  # never empty: epochs >= 1, and a resumed run restores it
        figures.loss_curve(loss, run_dir / "loss.png", title=f"{cfg.model.kind} · {cfg.train.objective} loss")
        ev = task.get("evaluate") or {}
        t0 = time.perf_counter()
        path = runs.sample_to_file(run, n=ev.get("n"), seed=cfg.seed)
        samples = runs.samples.load_samples(path)
        secs["sample"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        cache = _classifier_cache(Path(task["cache_dir"]), cfg) if cfg.data.is_image else None
        metrics = runs.evaluate(run, samples, seed=cfg.seed, classifier_cache=cache,
                                **{k: v for k, v in ev.items() if k in ("max_exact", "n_projections")})
        secs["evaluate"] = time.perf_counter() - t0
        bound = None
        if task.get("bound") is not None and run.is_score:
            bk = dict(task["bound"])
            if "seeds" in bk:
                bk["seeds"] = tuple(bk["seeds"])
            bk["lipschitz_kw"], bk["c2_kw"] = bk.pop("lipschitz", None), bk.pop("c2", None)
            t0 = time.perf_counter()
            bound = runs.bound(run, generated=samples, w1_lower=metrics.get("w1_lower_bound"), **bk)
            bound.pop("markdown", None)
            secs["bound"] = time.perf_counter() - t0
        values = _flatten(metrics, bound, run.data)
        values["train_loss_final"] = float(loss[-1])
        bad = [k for k, x in values.items() if isinstance(x, float) and x != x]
        if bad:
            raise FloatingPointError(f"run {task['key']}: {', '.join(bad)} are NaN")
        extras = {"estimators": _estimators(metrics, bound), "samples": str(path.relative_to(run_dir)), **_notes(metrics, bound)}
        if "class_shares" in metrics:
            extras["class_shares"] = metrics["class_shares"]
        return _jsonable({"key": task["key"], "config": task["config"], "values": values, "extras": extras, "seconds": secs,
                          "device": str(run.device)})
    finally:
        torch.set_num_threads(old_threads)


# ---------------------------------------------------------------------------- devices of workers
def _worker_index():
    """This worker's index: set by the process pool's initializer, or a Dask worker's name; else None."""
    env = os.environ.get("SCOREUQ_WORKER_INDEX")
    if env is not None:
        return int(env)
    try:
        from distributed import get_worker  # lazy: Dask is optional and slow to import

        name = get_worker().name
    except (ImportError, ValueError):
        return None
    return int(name) if str(name).isdigit() else None


def worker_device(name: str, *, count=None):
    """The device a run takes in this worker: with several GPUs visible and a config asking for
    ``cuda`` or ``auto``, worker ``i`` of a process pool or a local Dask cluster takes GPU ``i mod
    count`` (so a study on a machine with several GPUs gives each worker its own); otherwise
    ``None`` (the config's own device). ``count`` overrides ``torch.cuda.device_count()`` (tests)."""
    if name not in ("cuda", "auto"):
        return None
    if count is None:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    idx = _worker_index()
    if count <= 1 or idx is None:
        return None
    return f"cuda:{idx % count}"


def _init_pool_worker(counter):
    with counter.get_lock():
        os.environ["SCOREUQ_WORKER_INDEX"] = str(counter.value)
        counter.value += 1


# ---------------------------------------------------------------------------- executors
def _local(tasks, workers, scheduler, on_done):
    for t in tasks:
        on_done(t, run_one(t))


def _pool(tasks, workers, scheduler, on_done):
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("i", 0)
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_pool_worker, initargs=(counter,)) as ex:
        futs = {ex.submit(run_one, t): t for t in tasks}
        pending = set(futs)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                exc = f.exception()
                if exc is not None:
                    for p in pending:
                        p.cancel()
                    raise StudyError(f"run {futs[f]['key']} failed: {exc!r}") from exc
                on_done(futs[f], f.result())


def _dask(tasks, workers, scheduler, on_done):
    try:
        from dask.distributed import Client, LocalCluster, as_completed  # lazy: Dask is optional and slow to import
    except ImportError:
        raise ConfigError("the dask executor needs Dask: pip install 'scoreuq[dask]'") from None
    cluster = None
    if scheduler:
        client = Client(scheduler, timeout="30s")
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        futs = client.map(run_one, tasks, key=[f"scoreuq-run-{t['key']}-{t['token']}" for t in tasks], pure=False)
        by_key = {f.key: t for f, t in zip(futs, tasks)}
        for f in as_completed(futs):
            if f.status == "error":
                exc = f.exception()
                client.cancel(futs)
                raise StudyError(f"run {by_key[f.key]['key']} failed: {exc!r}") from exc
            on_done(by_key[f.key], f.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


_EXECUTORS = {"local": _local, "process": _pool, "dask": _dask}


def load_records(study_dir) -> dict:
    """Finished records of a study directory, by key."""
    out = {}
    for p in sorted((Path(study_dir) / "records").glob("*.json")):
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            continue  # an unreadable record counts as unfinished (it is rewritten)
        out[rec.get("key", p.stem)] = rec
    return out


def run_study(study: StudyConfig, out, *, executor: str | None = None, workers: int | None = None, scheduler: str | None = None,
              report: bool = True, progress=None) -> StudyResult:
    """Run every unfinished run of ``study`` into the folder ``out``, then write the table (and the report).

    ``executor`` (``local`` sequential, ``process`` pool, ``dask``), ``workers`` and ``scheduler``
    default to the study's ``executor`` section. The study is checked whole before anything is
    written; a folder holding a different study is refused.
    """
    if progress is None:
        def progress(line):
            print(line, flush=True)
    ex = study.executor
    executor = executor or ex.get("name", "local")
    workers = workers if workers is not None else ex.get("workers")
    scheduler = scheduler if scheduler is not None else ex.get("scheduler")
    check_executor(executor, workers, scheduler)
    specs = check_study(study)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the study folder {out} is a file")
    yaml_path = out / "study.yaml"
    if yaml_path.is_file():
        old = identity_of(yaml.safe_load(yaml_path.read_text()) or {})
        if _jsonable(old) != _jsonable(study.identity()):
            raise ConfigError(f"{out} holds a different study; choose another --out or remove it")
    out.mkdir(parents=True, exist_ok=True)
    with folder_lock(out, "study folder"):  # a second `scoreuq study` on this folder stops at once
        return _run_locked(study, out, specs, executor, workers, scheduler, report, progress)


def _run_locked(study, out, specs, executor, workers, scheduler, report, progress) -> StudyResult:
    yaml_path = out / "study.yaml"
    atomic_write_text(yaml_path, yaml.safe_dump(_jsonable(study.to_dict()), sort_keys=False))
    done = load_records(out)
    tasks, skipped = [], 0
    for sp in specs:
        cfg = _jsonable(sp.config if study.is_compute else sp.config.to_dict())
        rec = done.get(sp.key)
        if rec is not None and rec.get("config") == cfg:
            skipped += 1
            continue
        token = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:8]
        if study.is_compute:
            tasks.append({"key": sp.key, "compute": study.compute, "config": cfg, "seed": sp.seed, "threads": study.threads,
                          "token": token})
            continue
        tasks.append({"key": sp.key, "run_dir": str((out / "runs" / sp.key).resolve()), "config": cfg, "evaluate": study.evaluate,
                      "bound": study.bound, "threads": study.threads, "cache_dir": str((out / "cache").resolve()),
                      "token": token})
    if workers is None:
        workers = max(1, min(len(tasks), (os.cpu_count() or 1) // study.threads)) if executor != "local" else 1
    atomic_write_json(out / "environment.json", environment(executor, workers, study.threads))
    n_total = len(specs)
    progress(f"study {study.name}: {n_total} runs ({len(study.settings())} settings x {len(study.seeds)} seeds); "
             f"{skipped} already finished, {len(tasks)} to run on the {executor} executor"
             + (f" with {workers} workers" if executor != "local" else "") + f", {study.threads} thread(s) per run")
    t_start = time.perf_counter()
    count = [skipped]

    def on_done(task, rec):
        # per-stage wall times and the device, beside the record and out of the table
        atomic_write_json(out / "timings" / f"{task['key']}.json",
                          {"key": task["key"], "seconds": rec.get("seconds", {}), "device": rec.get("device", "cpu")})
        atomic_write_json(out / "records" / f"{task['key']}.json", rec)
        count[0] += 1
        v = rec["values"]
        if study.is_compute:
            parts = [f"{k} {x:.4g}" for k, x in list(v.items())[:4]]
        else:
            parts = [f"W1 {v['measured.w1']:.4g}"]
            if "floor.w1" in v and "spread.w1" in v:
                parts[0] += (f" (floor {v['floor.w1']:.4g} ± {v['spread.w1']:.2g}, "
                             f"{'resolved' if v.get('resolved.w1') else 'NOT resolved'})")
            res = [k.split('.', 1)[1] for k in v if k.startswith("resolved.") and v[k]]
            if res:
                parts.append("resolved: " + "/".join(res))
            for col in ("frechet", "faithful.X4", "faithful.bound", "seminar.bound"):
                if isinstance(v.get(col), (int, float)):
                    parts.append(f"{col} {v[col]:.4g}")
        progress(f"[{count[0]}/{n_total}] {task['key']}: " + ", ".join(parts) + f" ({sum(rec['seconds'].values()):.0f} s)")

    if tasks:
        _EXECUTORS[executor](tasks, workers, scheduler, on_done)
    elapsed = time.perf_counter() - t_start
    records = load_records(out)
    ordered = [records[sp.key] for sp in specs]
    write_table(study, ordered, out)
    meta_path = out / "timing.json"
    timing = json.loads(meta_path.read_text()) if meta_path.is_file() else {"calls": []}
    timing["calls"].append({"executor": executor, "workers": workers, "computed": len(tasks), "skipped": skipped, "seconds": elapsed})
    atomic_write_json(meta_path, timing)
    if report:
        write_report(out)
    return StudyResult(out, ordered, len(tasks), skipped, elapsed)
