"""Run configuration: one frozen, validated object per run, read from YAML with ``yaml.safe_load``.

A run config has six sections; every key is checked, an unknown key or a bad value
raises :class:`ConfigError` naming the field (``train.lr``, ``data.keep_ratio``) before
any work starts::

    name: circle                 # run-directory suffix
    seed: 0
    device: cpu                  # cpu | cuda | auto
    data:    {name: circle, n_train: 8, n_test: 2000, params: {radius: 1.0}}
    process: {name: ou, params: {beta: 1.0, sigma: 1.4142, T: 1.0}}
    model:   {kind: mlp, params: {preset: 3L128N}}
    train:   {epochs: 200, batch_size: 128, lr: 1e-3, ...}   # TrainConfig fields
    sample:  {sampler: em, steps: 100, n: 2000, t_min: 1e-3}
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .. import _yaml
from .._validation import check_choice
from ..processes import DEFAULT_T_MIN
from ..training import TrainConfig

__all__ = ["ConfigError", "DataConfig", "ProcessConfig", "ModelConfig", "SampleConfig", "RunConfig", "load_config",
           "floats_from_strings", "DATASETS", "PROCESSES", "MODEL_KINDS", "SAMPLERS"]

DATASETS = ("gaussian_mixture", "circle", "union_of_circles", "swiss_roll", "digits", "mnist5k", "mnist_idx")
IMAGE_DATASETS = ("digits", "mnist5k", "mnist_idx")
PROCESSES = ("ou", "vp", "ve")
MODEL_KINDS = ("mlp", "scorenet", "gan", "vae")
SAMPLERS = ("pc", "em", "ode")
IMBALANCE_SCHEMES = ("random", "deterministic")


class ConfigError(ValueError):
    """A run or study configuration is invalid; the message names the field."""


#: the largest count a config may ask for (samples, points, steps): beyond it the request is a typo
#: (1e12 images) that would end in an allocator error, not a run
MAX_COUNT = 10_000_000
#: seeds must fit torch's generator
MAX_SEED = 2**63 - 1


def _int(name, v, minimum=1, allow_none=False, maximum=MAX_COUNT):
    if v is None and allow_none:
        return v
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum or v > maximum:
        raise ConfigError(f"{name} must be an integer in [{minimum}, {maximum:,}], got {v!r}")
    return v


def _choice(name, v, allowed):
    return check_choice(name, v, allowed, ConfigError)


def _float(name, v, low=None, high=None, low_open=True, high_open=False):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{name} must be a number, got {v!r}")
    v = float(v)
    lo_ok = low is None or (v > low if low_open else v >= low)
    hi_ok = high is None or (v < high if high_open else v <= high)
    if not (lo_ok and hi_ok) or not math.isfinite(v):  # NaN and ±inf are never a setting (snr: .inf broke the sampler)
        if high is None:
            rng = "" if low is None else f" {'>' if low_open else '>='} {low:g}"
        else:
            rng = f" in {'(' if low_open else '['}{low if low is not None else '-inf'}, {high}{')' if high_open else ']'}"
        raise ConfigError(f"{name} must be a finite number{rng}, got {v!r}")
    return v


def _params(name, v):
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(k, str) for k in v):
        raise ConfigError(f"{name} must be a mapping of names to values, got {v!r}")
    return dict(v)


@dataclass(frozen=True)
class DataConfig:
    """``name`` (one of DATASETS); ``n_train``: training-set size (default: 8 for the circle, 2000 for
    other synthetic sets, the whole training split for images); ``n_test``: held-out size;
    ``params``: passed to the data set; ``keep_ratio``/``imbalance``: class imbalance of
    image training sets (000 §4); ``test_fraction``: held-out share of image sets; ``repeat``:
    copies of each training point per epoch, each with its own noise and time (for tiny sets
    such as the 8-point circle; the training set π_N itself is unchanged)."""

    name: str = "gaussian_mixture"
    n_train: int | None = None
    n_test: int = 2000
    params: dict = field(default_factory=dict)
    keep_ratio: float = 1.0
    imbalance: str = "random"
    test_fraction: float = 0.2
    repeat: int = 1

    def __post_init__(self):
        _choice("data.name", self.name, DATASETS)
        _int("data.repeat", self.repeat)
        _int("data.n_train", self.n_train, minimum=2, allow_none=True)
        _int("data.n_test", self.n_test, minimum=2)
        object.__setattr__(self, "params", _params("data.params", self.params))
        object.__setattr__(self, "keep_ratio", _float("data.keep_ratio", self.keep_ratio, 0.0, 1.0))
        _choice("data.imbalance", self.imbalance, IMBALANCE_SCHEMES)
        object.__setattr__(self, "test_fraction", _float("data.test_fraction", self.test_fraction, 0.0, 1.0, high_open=True))
        if self.keep_ratio != 1.0 and self.name not in IMAGE_DATASETS:
            raise ConfigError(f"data.keep_ratio applies to labelled image sets {list(IMAGE_DATASETS)}, not to {self.name!r}")

    @property
    def is_image(self) -> bool:
        return self.name in IMAGE_DATASETS


@dataclass(frozen=True)
class ProcessConfig:
    """``name``: ``ou`` (OrnsteinUhlenbeck: alpha, beta, sigma, T), ``vp`` (VPSDE: beta_min, beta_max, T)
    or ``ve`` (VESDE: sigma_min, sigma_max, T); ``params`` go to the constructor."""

    name: str = "ou"
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        _choice("process.name", self.name, PROCESSES)
        object.__setattr__(self, "params", _params("process.params", self.params))


@dataclass(frozen=True)
class ModelConfig:
    """``kind``: ``mlp`` (ScoreMLP; ``preset`` such as ``3L128N`` or hidden_layers/width),
    ``scorenet`` (the U-Net, images), ``gan`` or ``vae`` (push-forward baselines); ``params`` go
    to the constructor."""

    kind: str = "mlp"
    params: dict = field(default_factory=dict)

    def __post_init__(self):
        _choice("model.kind", self.kind, MODEL_KINDS)
        object.__setattr__(self, "params", _params("model.params", self.params))

    @property
    def is_score(self) -> bool:
        return self.kind in ("mlp", "scorenet")


@dataclass(frozen=True)
class SampleConfig:
    """Default sampler of the run: ``sampler`` pc | em | ode, ``steps``, ``n`` samples, ``t_min``
    (early-stopping time ε), ``snr`` of the PC corrector."""

    sampler: str = "pc"
    steps: int = 500
    n: int = 2000
    t_min: float = 1e-3
    snr: float = 0.16

    def __post_init__(self):
        _choice("sample.sampler", self.sampler, SAMPLERS)
        _int("sample.steps", self.steps)
        _int("sample.n", self.n)
        object.__setattr__(self, "t_min", _float("sample.t_min", self.t_min, 0.0))
        object.__setattr__(self, "snr", _float("sample.snr", self.snr, 0.0))


_SECTIONS = {"data": DataConfig, "process": ProcessConfig, "model": ModelConfig, "train": TrainConfig, "sample": SampleConfig}


def _check_keys(raw, cls, prefix=""):
    allowed = [f.name for f in fields(cls)]
    for k in raw:
        if k not in allowed:
            raise ConfigError(f"unknown key {prefix}{k} (allowed: {', '.join(allowed)})")


def _section(name, cls, raw):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{name} must be a mapping, got {raw!r}")
    _check_keys(raw, cls, f"{name}.")
    try:
        return cls(**raw)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}: {exc}") from None


@dataclass(frozen=True)
class RunConfig:
    """A whole run, validated at construction; :meth:`from_dict` rejects unknown keys."""

    name: str = "run"
    seed: int = 0
    device: str = "cpu"
    data: DataConfig = field(default_factory=DataConfig)
    process: ProcessConfig = field(default_factory=ProcessConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or not all(c.isalnum() or c in "-_." for c in self.name):
            raise ConfigError(f"name must be a non-empty string of letters, digits, '-', '_' or '.', got {self.name!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be an integer in [0, 2**63 - 1], got {self.seed!r}")
        _choice("device", self.device, ("cpu", "cuda", "auto"))
        if self.train.t_min is None:  # a run states its ε: its config is the one place train.t_min is set
            object.__setattr__(self, "train", replace(self.train, t_min=DEFAULT_T_MIN))
        if self.model.kind in ("mlp", "scorenet") and self.data.is_image != (self.model.kind == "scorenet"):
            want = "scorenet" if self.data.is_image else "mlp"
            raise ConfigError(f"model.kind {self.model.kind!r} does not fit data.name {self.data.name!r}: use {want!r}")

    @classmethod
    def from_dict(cls, raw: dict) -> "RunConfig":
        if not isinstance(raw, dict):
            raise ConfigError(f"a run config must be a mapping, got {type(raw).__name__}")
        _check_keys(raw, cls)
        kw = {k: v for k, v in raw.items() if k not in _SECTIONS}
        for name, sec in _SECTIONS.items():
            sub = raw.get(name)
            if name == "train" and isinstance(sub, dict | None) and "seed" not in (sub or {}) and "seed" in raw:
                sub = {**(sub or {}), "seed": raw["seed"]}  # the training RNG follows the run's seed unless set apart
            kw[name] = _section(name, sec, sub)
        return cls(**kw)

    def to_dict(self) -> dict:
        """The config as a mapping. Train options added after the first studies (the GPU fast path)
        are left out while at their defaults, so configs, records and study folders written before
        them keep their identity (and resume)."""
        d = asdict(self)
        for k, default in _LATE_TRAIN_DEFAULTS.items():
            if d["train"].get(k) == default:
                d["train"].pop(k, None)
        return d

    def replace(self, **dotted) -> "RunConfig":
        """A copy with fields changed by dotted names: ``cfg.replace(**{"train.lr": 1e-4})``."""
        d = asdict(self)
        for key, v in dotted.items():
            parts = key.split(".")
            tgt = d
            for p in parts[:-1]:
                if p not in tgt or not isinstance(tgt[p], dict):
                    raise ConfigError(f"unknown key {key}")
                tgt = tgt[p]
            if parts[-1] not in tgt and not (len(parts) >= 2 and parts[-2] == "params"):
                raise ConfigError(f"unknown key {key}")
            tgt[parts[-1]] = v
        return RunConfig.from_dict(d)


#: train options whose default is left out of :meth:`RunConfig.to_dict` (see there)
_LATE_TRAIN_DEFAULTS = {"amp": "none", "tf32": False, "channels_last": False, "compile": False, "log_every": 1}


def load_config(path) -> RunConfig:
    """Read a run config from YAML (``yaml.safe_load`` made strict: no aliases, no duplicate keys,
    see :mod:`scoreuq._yaml`) and validate it. An empty or comment-only file is an error, not a
    default run."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"config file {path} is a directory; give a run config YAML file (see configs/gmm.yaml)")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = _yaml.load(path.read_text(), str(path))
    except (_yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(str(exc)) from None
    if raw is None:
        raise ConfigError(f"{path} is empty: a run config needs at least its data section (see configs/gmm.yaml)")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping of sections (data, process, model, train, sample), got {type(raw).__name__}")
    return RunConfig.from_dict(floats_from_strings(raw))


_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def floats_from_strings(v):
    """``v`` (parsed YAML: mappings, lists, scalars) with every string in exponent notation turned
    into a float, recursively: YAML 1.1 reads ``1e-3`` (no dot) as the string ``"1e-3"``, which a
    config means as the number. Other values are returned unchanged."""
    if isinstance(v, dict):
        return {k: floats_from_strings(x) for k, x in v.items()}
    if isinstance(v, list):
        return [floats_from_strings(x) for x in v]
    if isinstance(v, str) and _FLOAT_RE.match(v.strip()):
        return float(v)
    return v
