"""The ``scoreuq`` command.

Every subcommand validates its options before doing any work; bad input exits with
code 2 and a message naming the option, and leaves no partial output behind.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

from ._io import atomic_write, atomic_write_json  # stdlib only, like _version
from ._version import __version__

__all__ = ["main"]


#: the seminar's set-up for 28x28 MNIST (000 §3.1; Song's tutorial ScoreNet: channels 32-64-128-256, embedding 256),
#: applied by ``scoreuq study ... --mnist-dir DIR`` / ``--dataset mnist5k`` on top of the study's base run config
SEMINAR_MNIST = {"model.params.channels": [32, 64, 128, 256], "model.params.embed_dim": 256, "train.batch_size": 128}


class UsageError(ValueError):
    """Bad command-line input (exit code 2)."""


def _seed(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be an integer in [0, 2**63 - 1], got {s!r}") from None
    if not 0 <= v <= 2**63 - 1:
        raise argparse.ArgumentTypeError(f"--seed must be an integer in [0, 2**63 - 1], got {s!r}")
    return v


def _positive_int(name):
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= 1, got {s!r}") from None
        if v < 1:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= 1, got {s!r}")
        return v

    return parse


def _check_out(option: str, path) -> Path:
    """``path`` as an output folder: refused (a UsageError naming ``option``) when it, or the nearest
    existing folder above it, is not a directory."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{option} must be a directory (it is created if missing), but {p} is an existing file")
    q = p.absolute()
    while not q.exists():
        q = q.parent
    if not q.is_dir():
        raise UsageError(f"{option} {p} cannot be created: {q} is a file, not a directory")
    return p


def _cmd_demo(args) -> int:
    """Exact-score demo: sample a 2-D Gaussian mixture and measure W1 to the truth."""
    # lazy (the whole block): keeps `scoreuq --help` free of torch
    import torch

    from . import data, metrics, processes, sampling

    out = _check_out("--out", args.out)
    g = torch.Generator().manual_seed(args.seed)
    gm = data.GaussianMixture([[-4.0, -4.0], [4.0, -4.0], [0.0, 4.0]], stds=[0.6, 0.8, 1.0], weights=[0.1, 0.3, 0.6])
    ou = processes.OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=2**0.5, T=6.0)
    n = args.n
    t0 = time.perf_counter()
    rows = []
    samplers = {
        "euler_maruyama": lambda: sampling.euler_maruyama(gm.score_fn(ou), ou, (n, 2), steps=args.steps, generator=g, dtype=torch.float64),
        "predictor_corrector": lambda: sampling.predictor_corrector(gm.score_fn(ou), ou, (n, 2), steps=args.steps, generator=g, dtype=torch.float64),
        "probability_flow": lambda: sampling.probability_flow(gm.score_fn(ou), ou, (n, 2), steps=max(args.steps // 5, 10), generator=g, dtype=torch.float64),
    }
    ref_a = gm.sample(n, generator=g, dtype=torch.float64)
    ref_b = gm.sample(n, generator=g, dtype=torch.float64)
    w1_ref = metrics.wasserstein(ref_a, ref_b)
    generated = {}
    for name, run in samplers.items():
        x = run()
        generated[name] = x
        rows.append({"sampler": name, "w1_to_truth": metrics.wasserstein(x, ref_a), "w1_true_vs_true": w1_ref})
    elapsed = time.perf_counter() - t0
    print(f"2-D Gaussian mixture, 3 modes, weights 0.1/0.3/0.6; OU(beta=1, sigma=sqrt2, T=6); exact score; n={n}, seed={args.seed}")
    print("W1 = exact earth mover's distance (POT emd2) to a fresh true sample of the same size")
    print(f"{'sampler':<22}{'W1(gen, true)':>15}{'W1(true, true)':>16}{'ratio':>8}")
    for r in rows:
        print(f"{r['sampler']:<22}{r['w1_to_truth']:>15.4f}{r['w1_true_vs_true']:>16.4f}{r['w1_to_truth'] / r['w1_true_vs_true']:>8.2f}")
    print(f"({elapsed:.1f} s)")

    import matplotlib  # lazy: matplotlib costs ~0.5 s, only this command draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(generated) + 1, figsize=(4 * (len(generated) + 1), 4), sharex=True, sharey=True)
    panels = [("true samples", ref_a)] + list(generated.items())
    for ax, (title, x) in zip(axes, panels):
        ax.scatter(x[:, 0].numpy(), x[:, 1].numpy(), s=2, alpha=0.5)
        ax.set_title(title)
        ax.set_aspect("equal")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "demo.png", lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
    plt.close(fig)
    atomic_write_json(out / "demo.json", {"n": n, "seed": args.seed, "steps": args.steps, "rows": rows})
    print(f"wrote {out / 'demo.png'} and {out / 'demo.json'}")
    return 0


def _cmd_train(args) -> int:
    """Train the run of a YAML config into an auto-numbered run directory."""
    from . import runs  # lazy: keeps `scoreuq --help` free of torch

    _check_out("--out", args.out)
    cfg = runs.load_config(args.config)
    run = runs.prepare(cfg, device=args.device)  # validates everything; nothing is written before this succeeds
    if args.dry_run:
        import yaml  # lazy: only --dry-run prints YAML

        n_params = sum(p.numel() for p in run.model.parameters())
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False).rstrip())
        print(f"# dry run: config valid; {run.data.train.shape[0]} training and {run.data.test.shape[0]} held-out samples of shape "
              f"{tuple(run.data.train.shape[1:])}; {cfg.model.kind} with {n_params:,} parameters; nothing written")
        return 0
    if args.resume is not None:
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").is_file():
            raise UsageError(f"--resume must be an existing run directory, {run_dir} has no config.yaml")
    else:
        run_dir = None
    t0 = time.perf_counter()
    out = runs.train(cfg, root=args.out, run_dir=run_dir, progress=not args.quiet, device=args.device)
    print(f"trained {cfg.model.kind} for {cfg.train.epochs} epochs in {time.perf_counter() - t0:.1f} s -> {out}")
    return 0


def _cmd_sample(args) -> int:
    from . import runs  # lazy: keeps `scoreuq --help` free of torch

    run = runs.load_run(args.run, device=args.device)
    path = runs.sample_to_file(run, n=args.n, sampler=args.sampler, steps=args.steps, seed=args.seed)
    print(f"wrote {path} and {path.with_suffix('.png')}")
    return 0


def _cmd_evaluate(args) -> int:
    from . import runs  # lazy: keeps `scoreuq --help` free of torch

    run = runs.load_run(args.run, device=args.device)
    samples = runs.samples.load_samples(args.samples) if args.samples else None
    if not args.nll_rtol > 0:
        raise UsageError(f"--nll-rtol must be > 0, got {args.nll_rtol}")
    res = runs.evaluate(run, samples, n=args.n, seed=args.seed, nll=args.nll if run.is_score else 0, nll_rtol=args.nll_rtol)
    if not args.quiet:
        for w in res.get("warnings", ()):
            print(f"scoreuq evaluate: warning: {w}", file=sys.stderr)
    if args.json:
        print(json.dumps(res, default=float))
        print(f"wrote {Path(args.run) / 'metrics.json'}", file=sys.stderr)
        return 0
    asm = res.get("assessments") or {}
    lvl = f"{res.get('level', 0.95):.0%}"
    print(f"{'metric':<11}{'gen vs held-out':>16}{'floor':>12}{'excess':>12}{'spread':>11}{'  ' + lvl + ' CI of excess':>26}  resolved")
    for k, a in asm.items():
        ci = f"[{a['excess_ci'][0]:.4g}, {a['excess_ci'][1]:.4g}]"
        print(f"{k:<11}{a['value']:>16.5g}{a['floor']:>12.5g}{a['excess']:>12.4g}{a['spread']:>11.3g}{ci:>26}  "
              f"{'yes' if a['resolved'] else 'NO'}")
    print(f"floor: the same estimator between {res['floor']['reference']}; spread: bootstrap sd of value - floor; "
          "resolved: the CI of value - floor lies above 0")
    lo = res.get("w1_lower_bound")
    if lo:
        print(f"W1(model, π) >= {lo['max_sliced_lcl']:.4g} (max-sliced) and >= {lo['sliced_lcl']:.4g} (sliced), "
              f"each with probability >= {lo['level']:g}: guaranteed lower estimates of the population W1")
    if "nll" in res:
        r = res["nll"]
        ci = f" (95% CI {r['ci'][0]:.4g} to {r['ci'][1]:.4g})" if r.get("ci") else ""
        bpd = f"; {r['bits_per_dim']:.4g} bits/dim" if "bits_per_dim" in r else ""
        print(f"NLL of {r['n']} held-out points: {r['mean']:.5g} nats{ci}{bpd}; {r['nfe']} function evaluations. {r['estimator']}")
    for k in ("circle", "frechet", "class_shares"):
        if k in res:
            print(f"{k}: {json.dumps(res[k])}")
    print(f"wrote {Path(args.run) / 'metrics.json'}")
    return 0


def _cmd_bound(args) -> int:
    from . import runs  # lazy: keeps `scoreuq --help` free of torch

    if args.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {args.seeds}")
    run = runs.load_run(args.run, device=args.device)
    res = runs.bound(run, estimators=args.estimators, t_min=args.t_min, delta=args.delta, C=args.C, R=args.R, omega=args.omega,
                     n_sub=args.n_sub, seeds=tuple(range(args.seeds)), d1=args.d1, kde_rule=args.kde_rule, c2_kind=args.c2,
                     search=not args.no_search, optimise=not args.no_optimise, level=args.level)
    if args.json:
        print(json.dumps({k: v for k, v in res.items() if k != "markdown"}, default=float))
        print(f"wrote {Path(args.run) / 'bound.json'} and {Path(args.run) / 'bound.md'}", file=sys.stderr)
        return 0
    print(res["markdown"])
    print(f"wrote {Path(args.run) / 'bound.json'} and {Path(args.run) / 'bound.md'}")
    return 0


def _omega(v: str):
    if v == "process":
        return v
    try:
        return float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--omega must be a number > 0 or 'process', got {v!r}") from None


def _parse_set(items) -> dict:
    from . import _yaml  # lazy: PyYAML is needed by --set only; keeps `scoreuq --help` lean

    out = {}
    for it in items or ():
        key, sep, val = it.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes KEY=VALUE (a dotted run-config key), got {it!r}")
        try:
            out[key.strip()] = _yaml.load(val, f"--set {key.strip()}")
        except _yaml.YAMLError as exc:
            raise UsageError(str(exc)) from None
    from .runs.config import floats_from_strings  # lazy: scoreuq.runs loads torch (--help stays fast)

    return floats_from_strings(out)


def _cmd_study(args) -> int:
    """Run a study (a grid of train → sample → evaluate → bound, or a compute study), its table and its report."""
    from . import studies  # lazy: keeps `scoreuq --help` free of torch

    if args.study == "list":
        for name, kind, desc in studies.shipped():
            print(f"{name:<22}{kind:<9}{desc}")
        return 0
    overrides = _parse_set(args.set)
    suffix = ""
    if args.dataset is not None:
        overrides["data.name"] = args.dataset
        suffix = f"-{args.dataset}"
    if args.mnist_dir is not None:
        if args.dataset not in (None, "mnist_idx"):
            raise UsageError(f"--mnist-dir reads MNIST IDX files; it does not combine with --dataset {args.dataset}")
        if not Path(args.mnist_dir).is_dir():
            raise UsageError(f"--mnist-dir must be a folder of MNIST IDX files, got {args.mnist_dir}")
        overrides["data.name"] = "mnist_idx"
        overrides["data.params.folder"] = str(Path(args.mnist_dir).resolve())
        overrides["data.params.split"] = "auto"  # the 60k training files when the folder has them
        suffix = "-mnist_idx"
    if overrides.get("data.name") in ("mnist_idx", "mnist5k"):
        # 28x28 digits: the seminar's ScoreNet width (Song's tutorial network), unless --set says otherwise
        for k, v in SEMINAR_MNIST.items():
            overrides.setdefault(k, v)
    if args.scheme is not None:
        overrides["data.imbalance"] = args.scheme
        suffix += f"-{args.scheme}"
    if args.device is not None:
        if studies.is_compute_study(args.study):
            raise UsageError(f"--device applies to training studies; {args.study} is a compute study (it runs on the CPU)")
        overrides["device"] = args.device
    if suffix and studies.is_compute_study(args.study):
        raise UsageError("--dataset, --mnist-dir and --scheme change the data of a training study; "
                         f"{args.study} is a compute study (set its parameters with --set NAME=VALUE)")
    study = studies.load_study(args.study, overrides=overrides, seeds=args.seeds)
    out = _check_out("--out", args.out) if args.out else Path("studies") / f"{study.name}{suffix}"
    if args.dry_run:
        specs = studies.check_study(study)
        if args.json:
            print(json.dumps({"study": study.name, "valid": True, "runs": len(specs), "seeds": list(study.seeds), "folder": str(out),
                              "settings": [{"index": st.index, "levels": st.levels, "changes": st.changes} for st in study.settings()]},
                             default=str))
            return 0
        print(f"# dry run: study {study.name} is valid; {len(specs)} runs ({len(study.settings())} settings x {len(study.seeds)} seeds) "
              f"would be written to {out}; nothing written")
        for st in study.settings():
            print(f"  setting {st.index:02d}: " + ", ".join(f"{k} = {v}" for k, v in st.changes.items()))
        return 0
    if args.quiet:
        def progress(line):
            pass
    else:
        def progress(line):  # with --json, stdout carries the JSON document only
            print(line, file=sys.stderr if args.json else sys.stdout, flush=True)
    res = studies.run_study(study, out, executor=args.executor, workers=args.workers, scheduler=args.scheduler, report=not args.no_report,
                            progress=progress)
    files = [out / "table.csv", out / "summary.csv", out / "table.json"] + ([] if args.no_report else [out / "report.html", out / "report.md"])
    if args.json:
        print(json.dumps({"study": study.name, "folder": str(out), "computed": res.computed, "skipped": res.skipped,
                          "seconds": res.seconds, "files": [str(f) for f in files]}))
        return 0
    print(f"study {study.name}: {res.computed} runs computed, {res.skipped} skipped (finished before), {res.seconds:.0f} s")
    print(f"wrote {out / 'table.csv'}, {out / 'summary.csv'}, {out / 'table.json'}"
          + ("" if args.no_report else f", {out / 'report.html'} and {out / 'report.md'}"))
    return 0


def _cmd_advise_beta(args) -> int:
    """The β advisor (003 ch. 5) for a run config's data: forward convergence against discretisation cost."""
    from .advise import advise_beta_from_config  # lazy: keeps `scoreuq --help` free of torch

    kw = {"tol": args.tol}
    if args.T is not None:
        kw["T"] = args.T
    if args.beta_range is not None:
        kw["beta_range"] = tuple(args.beta_range)
    advice = advise_beta_from_config(args.config, steps=args.steps, **kw)
    if args.json:
        print(json.dumps(advice.to_dict(), indent=2, default=float))
    else:
        print(str(advice))
    if args.out:
        atomic_write_json(Path(args.out), advice.to_dict())
        print(f"wrote {args.out}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _cmd_report(args) -> int:
    from .studies.report import write_report  # lazy: keeps `scoreuq --help` free of torch

    html_path, md_path = write_report(args.study_dir)
    print(f"wrote {html_path} and {md_path}")
    return 0


def _common_parser() -> argparse.ArgumentParser:
    """Options every sub-command takes (an argparse parent parser)."""
    c = argparse.ArgumentParser(add_help=False)
    g = c.add_argument_group("output")
    x = g.add_mutually_exclusive_group()
    x.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars and no warnings on stderr; results and errors are still printed")
    x.add_argument("-v", "--verbose", action="store_true",
                   help="progress bars even when stderr is not a terminal (by default they show on a terminal only), "
                        "and the full traceback of a runtime failure")
    return c


def _json_parser() -> argparse.ArgumentParser:
    j = argparse.ArgumentParser(add_help=False)
    j.add_argument("--json", action="store_true",
                   help="print the result as one JSON document on stdout (messages about written files go to stderr)")
    return j


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scoreuq", description="Uncertainty quantification for score-based generative models.")
    p.add_argument("--version", action="version", version=f"scoreuq {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    common, as_json = _common_parser(), _json_parser()

    def add_parser(name, *, json=False, **kw):  # every sub-command gets --quiet/--verbose; some --json
        return sub.add_parser(name, parents=[common, as_json] if json else [common], **kw)

    d = add_parser("demo", help="sample a 2-D Gaussian mixture with its exact score and measure W1 to the truth")
    d.add_argument("--n", type=_positive_int("--n"), default=2000, help="samples per sampler (default 2000)")
    d.add_argument("--steps", type=_positive_int("--steps"), default=500, help="sampler steps (default 500)")
    d.add_argument("--seed", type=_seed, default=0, help="random seed, 0 <= seed < 2**63 (default 0)")
    d.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    d.set_defaults(func=_cmd_demo)

    t = add_parser("train", help="train a score model (or GAN/VAE baseline) from a YAML config")
    t.add_argument("config", help="run config (YAML); see configs/ for examples")
    t.add_argument("--out", default="runs", help="folder for auto-numbered run directories (default runs)")
    t.add_argument("--dry-run", action="store_true", help="validate and build everything, print the resolved config, write nothing")
    t.add_argument("--resume", metavar="RUN", help="continue training an existing run directory from its last checkpoint")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default: the run config's device)")
    t.set_defaults(func=_cmd_train)

    s = add_parser("sample", help="sample a trained run")
    s.add_argument("run", help="run directory")
    s.add_argument("--n", type=_positive_int("--n"), default=None, help="number of samples (default: the run's sample.n)")
    s.add_argument("--sampler", choices=["pc", "em", "ode"], default=None, help="reverse-time sampler (score models; default: the run's)")
    s.add_argument("--steps", type=_positive_int("--steps"), default=None, help="sampler steps (default: the run's)")
    s.add_argument("--seed", type=_seed, default=0, help="seed of the sampler's generator (default 0)")
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default: the run config's device)")
    s.set_defaults(func=_cmd_sample)

    e = add_parser("evaluate", json=True, help="W1, sliced W and MMD of generated samples against held-out data (+ Fréchet distance for images)")
    e.add_argument("run", help="run directory")
    e.add_argument("--samples", help="a samples file written by `scoreuq sample` (default: sample afresh)")
    e.add_argument("--n", type=_positive_int("--n"), default=None, help="samples to draw when --samples is not given")
    e.add_argument("--seed", type=_seed, default=0, help="seed of the samples (when drawn afresh) and of the estimators (default 0)")
    e.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default: the run config's device)")
    e.add_argument("--nll", type=lambda v: 0 if v == "0" else _positive_int("--nll")(v), default=200, metavar="N",
                   help="NLL (bits/dim for images) of N held-out points by the probability-flow ODE (default 200; 0 skips it)")
    e.add_argument("--nll-rtol", type=float, default=1e-4, help="relative and absolute tolerance of the ODE solver, > 0 (default 1e-4)")
    e.set_defaults(func=_cmd_evaluate)

    b = add_parser("bound", json=True, help="the WUP bound of a trained run, every term with its estimator, and the audit")
    b.add_argument("run", help="run directory")
    b.add_argument("--estimators", choices=["faithful", "seminar", "both"], default="both",
                   help="faithful (the theorem's terms), seminar (the seminar code's proxies: not a bound) or both (default)")
    b.add_argument("--t-min", type=float, default=None, help="early-stopping time ε in (0, T) (default: the run's sample.t_min)")
    b.add_argument("--delta", type=float, default=0.1, help="δ in (0, 1) (default 0.1)")
    b.add_argument("--C", type=float, default=1.0, help="universal constant C > 0 (default 1)")
    b.add_argument("--R", type=float, default=None, help="radius R > 0 (default: computed from the data)")
    b.add_argument("--omega", type=_omega, default="process",
                   help="ω > 0, or 'process' (default): derived from the forward flow's W1 contraction, e^(-ωT/R²) = a(T)")
    b.add_argument("--n-sub", type=_positive_int("--n-sub"), default=1000, help="subsample size of each W1 (default 1000)")
    b.add_argument("--seeds", type=int, default=3, help="repeats for mean ± sd (default 3)")
    b.add_argument("--d1", choices=["exact", "sliced"], default="exact",
                   help="W1 estimator of every d1 term: exact (POT; default) or sliced (a lower bound of W1: the result is then not a bound)")
    b.add_argument("--kde-rule", choices=["scott", "silverman", "cv"], default="cv",
                   help="KDE bandwidth of π for image data (default cv: 3-fold held-out likelihood)")
    b.add_argument("--c2", choices=["full", "parabolic", "space"], default="full",
                   help="which derivatives the C² norm sums: full (every order ≤ 2 in t and x; default), parabolic (C^{2,1}) or space")
    b.add_argument("--no-search", action="store_true", help="skip the adversarial search of the sup norms")
    b.add_argument("--no-optimise", action="store_true", help="skip the tightest admissible value over ε and T")
    b.add_argument("--level", type=float, default=0.95, help="level of the statistical upper limits, in (0, 1) (default 0.95)")
    b.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default: the run config's device)")
    b.set_defaults(func=_cmd_bound)

    st = add_parser("study", json=True, help="run a study: a grid of runs with its table (CSV + JSON) and report; resumable")
    st.add_argument("study", help="a study YAML, or a shipped study (the README lists them; `scoreuq study list` prints them)")
    st.add_argument("--out", default=None, help="study folder (default studies/<name>); rerunning into it skips finished runs")
    st.add_argument("--executor", choices=["local", "process", "dask"], default=None,
                    help="local (sequential), process (a local process pool) or dask (default: the study's)")
    st.add_argument("--workers", type=_positive_int("--workers"), default=None, help="parallel runs (default: CPUs / threads per run)")
    st.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                    help="a running Dask scheduler; without it --executor dask starts a LocalCluster on 127.0.0.1")
    st.add_argument("--dataset", choices=["digits", "mnist5k", "mnist_idx"], default=None, help="image data set of the base run")
    st.add_argument("--mnist-dir", default=None, metavar="DIR", help="MNIST from a folder of IDX files (implies --dataset mnist_idx)")
    st.add_argument("--scheme", choices=["random", "deterministic"], default=None, help="class-imbalance scheme (imbalance study)")
    st.add_argument("--seeds", type=int, nargs="+", default=None, help="replace the study's seeds")
    st.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override a key of the base run config (repeatable), e.g. train.epochs=10; in a compute study a parameter, e.g. tol=0.01; a factor's name sets its levels, e.g. data.keep_ratio=[1.0,0.1]")
    st.add_argument("--dry-run", action="store_true", help="validate the whole grid and list it; write nothing")
    st.add_argument("--no-report", action="store_true", help="write the table only")
    st.add_argument("--device", default=None, help="cpu, cuda or auto for every run (default: the study's base config)")
    st.set_defaults(func=_cmd_study)

    a = add_parser("advise-beta", json=True, help="which β for my data? forward convergence vs discretisation cost of the OU process (003 ch. 5)")
    a.add_argument("config", help="a run config (YAML) with an OU process; its training data are used")
    a.add_argument("--steps", type=_positive_int("--steps"), default=None, help="sampler steps (default: the config's sample.steps)")
    a.add_argument("--tol", type=float, default=0.05, help="tolerance > 0 on W2(p_T, stationary law) (default 0.05)")
    a.add_argument("--T", type=float, default=None, help="horizon T > 0 (default: the config's process T)")
    a.add_argument("--beta-range", type=float, nargs=2, default=None, metavar=("LO", "HI"), help="β search range, 0 < LO < HI")
    a.add_argument("--out", default=None, help="also write the advice as JSON to this file")
    a.set_defaults(func=_cmd_advise_beta)

    r = add_parser("report", help="write report.html (self-contained) and report.md for a study folder")
    r.add_argument("study_dir", help="a study folder written by `scoreuq study`")
    r.set_defaults(func=_cmd_report)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # argparse exits with code 2 on bad options; nothing heavy is imported before this
    from .studies import StudyError  # lazy: keeps `scoreuq --help` free of torch (loaded after parsing)

    saved_env = os.environ.get("SCOREUQ_PROGRESS")
    if args.verbose:
        os.environ["SCOREUQ_PROGRESS"] = "1"  # the trainer's progress bar shows off a terminal too
    try:
        with warnings.catch_warnings():
            if args.quiet:
                warnings.simplefilter("ignore")
            return args.func(args)
    except (UsageError, ValueError) as exc:
        print(f"scoreuq {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except StudyError as exc:
        print(f"scoreuq {args.command}: {exc}; finished runs are kept, run the same command again to resume", file=sys.stderr)
        return 1
    except Exception as exc:  # a genuine runtime failure: a message and exit code 1, the traceback on request
        if os.environ.get("SCOREUQ_TRACEBACK"):
            raise
        if args.verbose:
            traceback.print_exc()
        else:
            print(f"scoreuq {args.command}: {type(exc).__name__}: {exc} (--verbose or SCOREUQ_TRACEBACK=1 shows the traceback)",
                  file=sys.stderr)
        return 1
    finally:
        if saved_env is None:
            os.environ.pop("SCOREUQ_PROGRESS", None)
        else:
            os.environ["SCOREUQ_PROGRESS"] = saved_env


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
