"""Study configuration: a base run config, the factors to sweep, the seeds, and what to measure.

A study is one YAML file (read with ``yaml.safe_load`` made strict: :mod:`scoreuq._yaml`), validated whole before any run starts::

    name: imbalance
    description: Class imbalance moves every term of the WUP bound (000 §4, Table 1).
    base: digits.yaml                 # a run config, relative to this file (or an inline mapping)
    set: {train.epochs: 40}           # dotted overrides of the base (optional)
    factors:                          # the grid is the product of the factors
      data.keep_ratio: [1.0, 0.9, 0.7, 0.4, 0.1]
      # a linked factor: a name of your choice, each level a mapping of dotted keys (``label`` optional)
      # reference: [{label: "OU T=1", process.params.T: 1.0}, {label: "VP", process.name: vp, process.params: {}}]
    seeds: [0, 1, 2]                  # each setting runs once per seed (the run config's ``seed``)
    evaluate: {n: 500}                # generated samples per run, for the distances and the bound's audit
    bound: {estimators: both, n_sub: 300, seeds: [0, 1]}   # or ``bound: false``; also lipschitz: {n_times, n_per_t, n_iter,
                                      # batch, tol} and c2: {n_times, n_per_t, n_iter, n_outer, batch}; c2_kind, search, optimise, measure_curve, level
    threads: 1                        # torch threads per run, pinned so every executor gives the same numbers
    executor: {name: local, workers: null}                  # default executor; the CLI may override
    report: {direction: falls}        # trends are phrased "as <factor> falls" (or "grows");
                                      # ordered: true treats non-numeric levels as ordered as written

A **compute study** trains nothing: each run is one call of a registered experiment
(:mod:`scoreuq.experiments`) with the study's parameters and the setting's levels::

    name: forward-gmm
    compute: forward_gmm             # an experiment name (scoreuq.experiments.names())
    params: {tol: 0.05}               # the experiment's parameters (unknown ones are an error)
    factors: {mu: [1.0, 10.0, 100.0]} # factors are parameter names (or linked factors of them)
    seeds: [0]

It runs on the same runner, table, trends and report; it has no ``base``, ``set``, ``evaluate``
or ``bound``, and ``--set KEY=VALUE`` sets a parameter.

Every run config of the grid is built (so an unknown factor or a bad level is an error naming
it) and every distinct one is prepared (data loaded, model probed) by :func:`check_study`.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import _yaml
from .._validation import check_int
from ..runs.build import build_process
from ..runs.config import ConfigError, RunConfig, floats_from_strings, load_config

__all__ = ["StudyConfig", "Setting", "RunSpec", "load_study", "find_study", "EXECUTORS", "check_executor", "configs_dir",
           "is_compute_study", "shipped", "check_stages"]

EXECUTORS = ("local", "process", "dask")
_BOUND_KEYS = {"estimators", "t_min", "delta", "C", "R", "omega", "n_sub", "seeds", "d1", "kde_rule", "lipschitz", "c2", "c2_kind",
               "search", "optimise", "measure_curve", "level"}
_EVAL_KEYS = {"n", "max_exact", "n_projections"}
_TOP_KEYS = {"name", "description", "base", "set", "factors", "seeds", "evaluate", "bound", "threads", "executor", "report",
             "compute", "params"}


@dataclass(frozen=True)
class Setting:
    """One point of the grid: ``levels`` maps factor name -> printed level; ``changes`` maps dotted key -> value."""

    index: int
    levels: dict
    changes: dict

    @property
    def slug(self) -> str:
        parts = [f"{name.split('.')[-1]}={level}" for name, level in self.levels.items()]
        return re.sub(r"[^A-Za-z0-9._=-]+", "_", "_".join(parts))[:80]


@dataclass(frozen=True)
class RunSpec:
    """One run of a study: a setting at one seed, with its full run config."""

    key: str
    setting: Setting
    seed: int
    config: RunConfig


@dataclass(frozen=True)
class StudyConfig:
    """A validated study (module docstring). ``base`` is the resolved run config as a mapping."""

    name: str
    base: dict
    factors: dict
    seeds: tuple
    description: str = ""
    evaluate: dict = field(default_factory=dict)
    bound: dict | None = field(default_factory=dict)
    threads: int = 1
    executor: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)
    compute: str | None = None

    @property
    def is_compute(self) -> bool:
        """A compute-only study: each run evaluates a registered experiment, nothing is trained."""
        return self.compute is not None

    def __post_init__(self):
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", self.name or ""):
            raise ConfigError(f"name must be a non-empty string of letters, digits, '-', '_' or '.', got {self.name!r}")
        if not isinstance(self.factors, dict) or not self.factors:
            raise ConfigError("factors must be a non-empty mapping of factor name -> list of levels (the grid would be empty)")
        for name, levels in self.factors.items():
            if not isinstance(levels, list) or not levels:
                raise ConfigError(f"factors.{name} must be a non-empty list of levels, got {levels!r}")
        if self.is_compute:
            if self.evaluate or self.bound:
                raise ConfigError(f"a compute study (compute: {self.compute}) trains nothing: remove its evaluate and bound sections")
        if not isinstance(self.seeds, tuple) or not self.seeds:
            raise ConfigError("seeds must be a non-empty list of integers >= 0")
        for s in self.seeds:
            check_int("seeds", s, 0, ConfigError)
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be distinct, got {list(self.seeds)}")
        check_int("threads", self.threads, 1, ConfigError)
        _check_mapping("evaluate", self.evaluate, _EVAL_KEYS)
        for k in ("n", "max_exact", "n_projections"):
            if self.evaluate.get(k) is not None:
                check_int(f"evaluate.{k}", self.evaluate[k], 2, ConfigError)
        if self.bound is not None:
            _check_mapping("bound", self.bound, _BOUND_KEYS)
            bs = self.bound.get("seeds")
            if bs is not None and (not isinstance(bs, list) or not bs or not all(isinstance(s, int) and not isinstance(s, bool) for s in bs)):
                raise ConfigError(f"bound.seeds must be a non-empty list of integers, got {bs!r}")
            for k, allowed in (("lipschitz", {"n_times", "n_per_t", "n_iter", "batch", "tol"}), ("c2", {"n_times", "n_per_t", "n_outer", "n_iter", "batch"})):
                _check_mapping(f"bound.{k}", self.bound.get(k) or {}, allowed)
            if self.bound.get("estimators", "both") not in ("faithful", "seminar", "both"):
                raise ConfigError(f"bound.estimators must be one of ['faithful', 'seminar', 'both'], got {self.bound['estimators']!r}")
            _check_bound_scalars(self.bound)
        _check_mapping("executor", self.executor, {"name", "workers", "scheduler"})
        check_executor(self.executor.get("name", "local"), self.executor.get("workers"), self.executor.get("scheduler"))
        _check_mapping("report", self.report, {"direction", "ordered"})
        if not isinstance(self.report.get("ordered", False), bool):
            raise ConfigError(f"report.ordered must be true or false, got {self.report['ordered']!r}")
        if self.report.get("direction", "grows") not in ("grows", "falls"):
            raise ConfigError(f"report.direction must be 'grows' or 'falls', got {self.report['direction']!r}")

    # ------------------------------------------------------------------ the grid
    def settings(self) -> list:
        """The grid, in the order of the factors (the last factor varies fastest)."""
        axes = []
        for name, levels in self.factors.items():
            axis = []
            for lv in levels:
                if isinstance(lv, dict):
                    lv = dict(lv)
                    label = lv.pop("label", None)
                    if not lv:
                        raise ConfigError(f"factors.{name}: a level must set at least one key, got {lv!r}")
                    for k in lv:
                        if self.is_compute:
                            self._check_param(f"factors.{name}", k)
                        elif not isinstance(k, str) or "." not in k:
                            raise ConfigError(f"factors.{name}: {k!r} is not a dotted run-config key (such as process.params.T)")
                    if label is None:
                        label = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in lv.items())
                    elif isinstance(label, bool) or not isinstance(label, (int, float, str)):
                        raise ConfigError(f"factors.{name}: a label must be a number or a string, got {label!r}")
                    axis.append((label, lv))
                else:
                    if self.is_compute:
                        self._check_param("factors", name)
                    elif "." not in name:
                        raise ConfigError(f"unknown factor {name!r}: a factor is a dotted run-config key (data.keep_ratio, "
                                          "train.lr, ...) or a named factor whose levels are mappings of such keys")
                    axis.append((lv, {name: lv}))
            labels = [str(a[0]) for a in axis]
            if len(set(labels)) != len(labels):
                raise ConfigError(f"factors.{name} has repeated levels: {labels}")
            axes.append((name, axis))
        out = []
        for i, combo in enumerate(itertools.product(*(a for _, a in axes))):
            levels = {name: lv for (name, _), (lv, _) in zip(axes, combo)}
            changes = {}
            for _, ch in combo:
                changes.update(ch)
            out.append(Setting(i, levels, changes))
        return out

    def _check_param(self, where, key):
        from .. import experiments  # lazy: scoreuq.experiments loads scipy.stats (and imports this module)

        known = experiments.get(self.compute).defaults
        if not isinstance(key, str) or key not in known:
            raise ConfigError(f"{where}: unknown parameter {key!r} of experiment {self.compute} (known: {', '.join(sorted(known))})")

    def runs(self) -> list:
        """Every run of the study as a :class:`RunSpec` (settings outer, seeds inner); raises
        :class:`ConfigError` naming the factor when a level does not make a valid run config.

        In a compute study a run's ``config`` is the experiment's parameter mapping (defaults,
        then the study's ``params``, then the setting's levels)."""
        if self.is_compute:
            specs = []
            for st in self.settings():
                for seed in self.seeds:
                    specs.append(RunSpec(f"{st.index:02d}-{st.slug}-seed{seed}", st, seed, {**self.base, **st.changes}))
            return specs
        base = RunConfig.from_dict(self.base)
        specs = []
        for st in self.settings():
            for seed in self.seeds:
                try:
                    cfg = base.replace(**{**st.changes, "seed": seed, "train.seed": seed})
                except ConfigError as exc:
                    raise ConfigError(f"factor level {st.levels}: {exc}") from None
                cfg = cfg.replace(name=f"{self.name}-{st.index:02d}")
                check_stages(self, cfg, st.levels)
                specs.append(RunSpec(f"{st.index:02d}-{st.slug}-seed{seed}", st, seed, cfg))
        return specs

    def to_dict(self) -> dict:
        """The resolved study (the base config inlined), as written to ``study.yaml``."""
        if self.is_compute:
            return {"name": self.name, "description": self.description, "compute": self.compute, "params": self.base,
                    "factors": self.factors, "seeds": list(self.seeds), "threads": self.threads, "executor": self.executor,
                    "report": self.report}
        return {"name": self.name, "description": self.description, "base": self.base, "factors": self.factors,
                "seeds": list(self.seeds), "evaluate": self.evaluate, "bound": self.bound, "threads": self.threads,
                "executor": self.executor, "report": self.report}

    def identity(self) -> dict:
        """What the numbers depend on: :func:`identity_of` its :meth:`to_dict`."""
        return identity_of(self.to_dict())

    @classmethod
    def from_dict(cls, raw: dict, *, root: Path | None = None) -> "StudyConfig":
        if not isinstance(raw, dict):
            raise ConfigError(f"a study config must be a mapping, got {type(raw).__name__}")
        for k in raw:
            if k not in _TOP_KEYS:
                raise ConfigError(f"unknown key {k} (allowed: {', '.join(sorted(_TOP_KEYS))})")
        if raw.get("compute") is not None:
            return cls._compute_from_dict(raw)
        if "params" in raw:
            raise ConfigError("params belongs to a compute study (with compute: <experiment>); a training study sets its base run config")
        for k in ("base", "factors", "seeds"):
            if k not in raw:
                raise ConfigError(f"a study config needs {k!r}")
        base = raw["base"]
        if isinstance(base, str):
            path = Path(base)
            if not path.is_absolute() and root is not None:
                path = root / path
            base = load_config(path).to_dict()
        elif isinstance(base, dict):
            base = RunConfig.from_dict(floats_from_strings(base)).to_dict()
        else:
            raise ConfigError(f"base must be a run-config file name or a mapping, got {base!r}")
        sets = raw.get("set") or {}
        if not isinstance(sets, dict):
            raise ConfigError(f"set must be a mapping of dotted keys to values, got {sets!r}")
        if sets:
            try:
                base = RunConfig.from_dict(base).replace(**sets).to_dict()
            except ConfigError as exc:
                raise ConfigError(f"set: {exc}") from None
        seeds = raw["seeds"]
        if not isinstance(seeds, list):
            raise ConfigError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
        bound = raw.get("bound", {})
        if bound is False:
            bound = None
        elif bound is True or bound is None:
            bound = {}
        study = cls(name=raw.get("name") or "study", base=base, factors=raw["factors"] if isinstance(raw["factors"], dict) else None,
                    seeds=tuple(seeds), description=str(raw.get("description") or ""), evaluate=dict(raw.get("evaluate") or {}),
                    bound=bound, threads=raw.get("threads", 1), executor=dict(raw.get("executor") or {}), report=dict(raw.get("report") or {}))
        study.runs()  # every run config of the grid is valid
        return study


    @classmethod
    def _compute_from_dict(cls, raw: dict) -> "StudyConfig":
        from .. import experiments  # lazy: scoreuq.experiments loads scipy.stats (and imports this module)

        name = raw["compute"]
        if name not in experiments.EXPERIMENTS:
            raise ConfigError(f"compute must be one of the experiments {experiments.names()}, got {name!r}")
        for k in ("base", "set"):
            if k in raw:
                raise ConfigError(f"a compute study (compute: {name}) has no {k!r}: set the experiment's parameters under params")
        for k in ("factors", "seeds"):
            if k not in raw:
                raise ConfigError(f"a study config needs {k!r}")
        exp = experiments.get(name)
        params = raw.get("params") or {}
        if not isinstance(params, dict):
            raise ConfigError(f"params must be a mapping of parameter -> value, got {params!r}")
        for k in params:
            if k not in exp.defaults:
                raise ConfigError(f"unknown parameter params.{k} of experiment {name} (known: {', '.join(sorted(exp.defaults))})")
        seeds = raw["seeds"]
        if not isinstance(seeds, list):
            raise ConfigError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
        study = cls(name=raw.get("name") or name.replace("_", "-"), base={**exp.defaults, **params},
                    factors=raw["factors"] if isinstance(raw["factors"], dict) else None, seeds=tuple(seeds),
                    description=str(raw.get("description") or exp.description), evaluate=dict(raw.get("evaluate") or {}),
                    bound=raw.get("bound") or None, threads=raw.get("threads", 1), executor=dict(raw.get("executor") or {}),
                    report=dict(raw.get("report") or {}), compute=name)
        study.runs()
        return study


def identity_of(study: dict) -> dict:
    """A resolved study mapping (as in ``study.yaml``) without what the numbers do not depend on:
    the executor and the description."""
    return {k: v for k, v in study.items() if k not in ("executor", "description")}


def _check_bound_scalars(bound: dict) -> None:
    """The bound section's plain values, each against its range (as :func:`scoreuq.runs.bound` checks
    them), so that a bad one fails the study before any training."""
    def num(k, ok, rng):
        v = bound.get(k)
        if v is None:
            return
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not ok(v):
            raise ConfigError(f"bound.{k} must be a finite number {rng}, got {v!r}")

    num("t_min", lambda v: v > 0, "in (0, T)")
    num("delta", lambda v: 0 < v < 1, "in (0, 1)")
    num("level", lambda v: 0 < v < 1, "in (0, 1)")
    for k in ("C", "R") + (("omega",) if bound.get("omega") != "process" else ()):
        num(k, lambda v: v > 0, "> 0 (omega may also be 'process')" if k == "omega" else "> 0")
    for k in ("search", "optimise", "measure_curve"):
        if k in bound and not isinstance(bound[k], bool):
            raise ConfigError(f"bound.{k} must be true or false, got {bound[k]!r}")
    if bound.get("n_sub") is not None:
        check_int("bound.n_sub", bound["n_sub"], 2, ConfigError)
    for k, allowed in (("d1", ("exact", "sliced")), ("kde_rule", ("scott", "silverman", "cv")), ("c2_kind", ("full", "parabolic", "space"))):
        if k in bound and bound[k] not in allowed:
            raise ConfigError(f"bound.{k} must be one of {list(allowed)}, got {bound[k]!r}")


def check_stages(study: "StudyConfig", cfg: RunConfig, levels: dict | None = None) -> None:
    """Check that every stage the study runs after training (evaluate, bound) accepts the run config
    ``cfg`` (one run of the grid), so that a mismatch fails ``--dry-run`` and the study's start instead
    of a run after its training: the seminar bound preset needs labelled image data; ``bound.t_min``
    must lie below the process's horizon T. Raises :class:`ConfigError` naming the key and the level."""
    where = f"factor level {levels}: " if levels else ""
    b = study.bound
    if b is None or not cfg.model.is_score:
        return  # the runner bounds score models only
    if b.get("estimators", "both") == "seminar" and not cfg.data.is_image:
        raise ConfigError(f"{where}bound.estimators: seminar needs labelled image data (its X4 compares class "
                          f"proportions), but data.name is {cfg.data.name!r}; use faithful or both, or an image data set "
                          "(digits, mnist5k, mnist_idx)")
    t_min = b.get("t_min")
    if t_min is not None:
        T = build_process(cfg).T
        if not t_min < T:
            raise ConfigError(f"{where}bound.t_min must lie in (0, T) = (0, {T:g}), got {t_min!r}")


#: keys renamed since 0.1: the old name gets an error that gives the new one
_RENAMED = {"bound.eps": "bound.t_min"}


def _check_mapping(name, v, allowed):
    if not isinstance(v, dict):
        raise ConfigError(f"{name} must be a mapping, got {v!r}")
    for k in v:
        if f"{name}.{k}" in _RENAMED:
            raise ConfigError(f"{name}.{k} is now called {_RENAMED[f'{name}.{k}']} (one name for the early-stopping time ε)")
        if k not in allowed:
            raise ConfigError(f"unknown key {name}.{k} (allowed: {', '.join(sorted(allowed))})")


def check_executor(name, workers=None, scheduler=None) -> None:
    if name not in EXECUTORS:
        raise ConfigError(f"executor must be one of {list(EXECUTORS)}, got {name!r}")
    if workers is not None:
        check_int("workers", workers, 1, ConfigError)
    if scheduler is not None:
        if name != "dask":
            raise ConfigError("a scheduler address applies to the dask executor only")
        if not isinstance(scheduler, str) or not re.fullmatch(r"(tcp|tls|inproc|ucx)://\S+", scheduler):
            raise ConfigError(f"scheduler must be an address such as tcp://HOST:PORT, got {scheduler!r}")


def configs_dir() -> Path:
    """The folder of the shipped run and study configs (``configs/`` in the repository)."""
    return Path(__file__).resolve().parents[1] / "configs"


def find_study(name_or_path) -> Path:
    """A study file: an existing path, else ``study-<name>.yaml`` among the shipped configs."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    shipped = configs_dir() / f"study-{name_or_path}.yaml"
    if shipped.is_file():
        return shipped
    known = sorted(q.stem[len("study-"):] for q in configs_dir().glob("study-*.yaml"))
    raise ConfigError(f"no study file {name_or_path!r}; give a YAML path or one of the shipped studies: {', '.join(known)}")


def _read(path: Path) -> dict:
    try:
        raw = _yaml.load(path.read_text(), str(path))
    except (_yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(str(exc)) from None
    if raw is None:
        raise ConfigError(f"{path} is empty: a study needs base (or compute), factors and seeds")
    raw = floats_from_strings(raw)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping")
    return raw


def is_compute_study(name_or_path) -> bool:
    """Whether a study file (a path or a shipped name) is a compute study (``compute:`` set)."""
    return _read(find_study(name_or_path)).get("compute") is not None


def shipped() -> list:
    """The shipped studies: ``[(name, "compute" | "training", description)]``."""
    out = []
    for q in sorted(configs_dir().glob("study-*.yaml")):
        raw = _read(q)
        desc = str(raw.get("description") or "").strip().split(". ")[0].rstrip(".") + "."
        out.append((q.stem[len("study-"):], "compute" if raw.get("compute") is not None else "training", desc))
    return out


def load_study(name_or_path, *, overrides: dict | None = None, seeds=None) -> StudyConfig:
    """Read and validate a study (``yaml.safe_load``); ``overrides`` are dotted run-config keys
    applied to the base (``{"data.name": "mnist5k"}``) or, in a compute study, parameters; a key
    that names a factor replaces its levels (``{"data.keep_ratio": [1.0, 0.1]}``). ``seeds``
    replaces the study's seeds."""
    path = find_study(name_or_path)
    raw = _read(path)
    if overrides:
        # a key that names a factor replaces its levels (a list sets several levels, a value one)
        compute = raw.get("compute") is not None
        factors = dict(raw.get("factors") or {}) if isinstance(raw.get("factors"), dict) else raw.get("factors")
        rest = {}
        for k, v in overrides.items():
            name = k[len("params."):] if compute and k.startswith("params.") else k
            if isinstance(factors, dict) and name in factors:
                factors[name] = list(v) if isinstance(v, list) else [v]
            else:
                rest[name] = v
        raw = {**raw, "factors": factors}
        if compute:
            raw["params"] = {**(raw.get("params") or {}), **rest}
        elif rest:
            raw["set"] = {**(raw.get("set") or {}), **rest}
    if seeds is not None:
        raw = {**raw, "seeds": list(seeds)}
    return StudyConfig.from_dict(raw, root=path.parent)
