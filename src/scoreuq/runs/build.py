"""Build the objects of a run (data, process, model) from a :class:`RunConfig`.

Everything is seeded from ``config.seed`` alone, so a run directory's ``config.yaml`` is
enough to rebuild the same training and held-out sets, the same process and model.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import torch

from .. import data as _data
from .. import nets, processes
from .config import ConfigError, RunConfig

__all__ = ["RunData", "build_data", "build_process", "build_model", "resolve_device", "check_model_fits", "image_permutation"]

_DEFAULT_GM = {"means": [[-4.0, -4.0], [4.0, -4.0], [0.0, 4.0]], "stds": [0.6, 0.8, 1.0], "weights": [0.1, 0.3, 0.6]}


@dataclass
class RunData:
    """The data of a run.

    ``train`` is the training set actually used (π_N, after any imbalance); ``test`` a
    held-out set from the same law; ``truth`` the exact law when known (synthetic data),
    else ``None``; ``full`` the whole labelled image set (π for image data is a KDE of it,
    000 §2.2); labels where the data set has them.
    """

    train: torch.Tensor
    test: torch.Tensor
    truth: object = None
    full: torch.Tensor | None = None
    labels_train: torch.Tensor | None = None
    labels_test: torch.Tensor | None = None
    labels_full: torch.Tensor | None = None
    train_labels_all: torch.Tensor | None = None  # training split before imbalance
    imbalance: object = None
    image_shape: tuple | None = None

    @property
    def dim(self) -> int:
        return int(self.train[0].numel())


def resolve_device(name) -> torch.device:
    """The run's device from ``"cpu"``, ``"cuda"`` (``"cuda:N"``), ``"auto"`` (CUDA when torch sees it) or a ``torch.device``."""
    if isinstance(name, str) and name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"device must be cpu, cuda or auto, got {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but torch sees no CUDA device; use device: cpu or auto")
    return dev


def _construct(section, cls, params, defaults=None, skip=()):
    kw = dict(defaults or {})
    kw.update(params)
    sig = inspect.signature(cls)
    allowed = [p for p in sig.parameters if p not in skip and p != "self"]
    for k in kw:
        if k not in allowed:
            raise ConfigError(f"unknown key {section}.params.{k} for {cls.__name__} (allowed: {', '.join(allowed)})")
    try:
        return cls(**kw)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        for k in sorted(kw, key=len, reverse=True):  # "T must be ..." -> "process.params.T must be ..."
            if msg.startswith(f"{k} ") or msg.startswith(f"{k}:"):
                raise ConfigError(f"{section}.params.{msg}") from None
        raise ConfigError(f"{section}.params: {msg}") from None


def _numeric(name: str, v, ndims: tuple):
    """``v`` as a float64 array if it is a number or a rectangular nested list of numbers with one of the
    dimension counts ``ndims``; else a ConfigError naming ``name``."""
    def bad(x):
        if isinstance(x, (list, tuple)):
            return any(bad(y) for y in x)
        return isinstance(x, bool) or not isinstance(x, (int, float))

    what = " or ".join({0: "a number", 1: "a list of numbers", 2: "a list of lists of numbers (K, d)",
                        3: "a list of K (d, d) matrices"}[n] for n in ndims)
    if bad(v):
        raise ConfigError(f"{name} must be {what}, got {v!r}")
    try:
        a = np.asarray(v, dtype=np.float64)
    except ValueError:
        raise ConfigError(f"{name} must be {what} with rows of equal length, got {v!r}") from None
    if a.ndim not in ndims or 0 in a.shape:
        raise ConfigError(f"{name} must be {what} (non-empty), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ConfigError(f"{name} must hold finite numbers, got {v!r}")
    return a


def _check_gaussian_mixture(params: dict) -> None:
    """Shapes and values of a Gaussian mixture's ``means`` (K, d), ``stds`` (scalar, (K,) or (K, d), >= 0),
    ``weights`` ((K,), > 0) and ``covariances`` ((K, d, d)), each error naming ``data.params.<key>``."""
    allowed = ("means", "stds", "weights", "covariances")
    for k in params:
        if k not in allowed:
            raise ConfigError(f"unknown key data.params.{k} for GaussianMixture (allowed: {', '.join(allowed)})")
    if "means" not in params:
        raise ConfigError("data.params.means is required when data.params is given for gaussian_mixture "
                          f"(a list of K component means, e.g. {_DEFAULT_GM['means']})")
    m = _numeric("data.params.means", params["means"], (1, 2))
    K, d = m.shape[0], (m.shape[1] if m.ndim == 2 else 1)
    if "stds" in params:
        s = _numeric("data.params.stds", params["stds"], (0, 1, 2))
        if s.shape not in ((), (K,), (K, d)) or (s < 0).any():
            raise ConfigError(f"data.params.stds must be >= 0, a number or of shape ({K},) or ({K}, {d}), got {params['stds']!r}")
    if params.get("weights") is not None:
        w = _numeric("data.params.weights", params["weights"], (1,))
        if w.shape != (K,) or (w <= 0).any():
            raise ConfigError(f"data.params.weights must be {K} numbers > 0 (one per mean), got {params['weights']!r}")
    if params.get("covariances") is not None:
        c = _numeric("data.params.covariances", params["covariances"], (3,))
        if c.shape != (K, d, d):
            raise ConfigError(f"data.params.covariances must have shape ({K}, {d}, {d}), got {c.shape}")


def build_process(cfg: RunConfig):
    p = cfg.process
    cls = {"ou": processes.OrnsteinUhlenbeck, "vp": processes.VPSDE, "ve": processes.VESDE}[p.name]
    proc = _construct("process", cls, p.params)
    if not cfg.sample.t_min < proc.T or not cfg.train.t_min < proc.T:
        raise ConfigError(f"sample.t_min and train.t_min must lie in (0, T={proc.T}), got {cfg.sample.t_min} and {cfg.train.t_min}")
    return proc


def _gen(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + stream)


def image_permutation(seed: int, n: int) -> torch.Tensor:
    """The seeded permutation of an image set's ``n`` indices that :func:`build_data` splits: its
    first ``n_test`` entries are the held-out split, the rest the training split (before imbalance)."""
    return torch.randperm(n, generator=_gen(seed, 3))


def _load_images(d):
    if d.name == "digits":
        _construct("data", lambda: None, d.params)
        return _data.load_digits()
    if d.name == "mnist5k":
        _construct("data", lambda: None, d.params)
        return _data.load_mnist_5k()
    params = dict(d.params)
    if "folder" not in params:
        raise ConfigError("data.params.folder is required for mnist_idx (a folder of MNIST IDX files)")
    try:
        return _construct("data", _data.load_mnist_idx, params)
    except (FileNotFoundError, OSError) as exc:
        raise ConfigError(f"data.params.folder: {exc}") from None


def build_data(cfg: RunConfig) -> RunData:
    """Training and held-out sets, seeded by ``cfg.seed``."""
    d = cfg.data
    g_train, g_test = _gen(cfg.seed, 1), _gen(cfg.seed, 2)
    if d.is_image:
        ds = _load_images(d)
        n = len(ds)
        perm = image_permutation(cfg.seed, n)
        n_test = min(d.n_test, max(1, int(round(d.test_fraction * n))))
        test_idx, train_idx = perm[:n_test], perm[n_test:]
        train_labels_all = ds.labels[train_idx]
        imb = None
        if d.keep_ratio < 1.0:
            imb = _data.imbalance(train_labels_all, d.keep_ratio, scheme=d.imbalance, seed=cfg.seed, n_classes=ds.n_classes)
            train_idx = train_idx[imb.indices]
        if d.n_train is not None and d.n_train < train_idx.numel():
            train_idx = train_idx[torch.randperm(train_idx.numel(), generator=g_train)[: d.n_train]]
        if train_idx.numel() < 2:
            raise ConfigError(f"data.keep_ratio={d.keep_ratio} leaves {train_idx.numel()} training images; at least 2 are needed")
        return RunData(train=ds.images[train_idx], test=ds.images[test_idx], full=ds.images, labels_train=ds.labels[train_idx],
                       labels_test=ds.labels[test_idx], labels_full=ds.labels, train_labels_all=train_labels_all,
                       imbalance=imb, image_shape=ds.shape)
    if d.name == "gaussian_mixture":
        if d.params:
            _check_gaussian_mixture(d.params)
        truth = _construct("data", _data.GaussianMixture, d.params, defaults=None if d.params else _DEFAULT_GM)
    elif d.name == "circle":
        params = dict(d.params)
        params.setdefault("n_train", d.n_train or 8)
        if d.n_train is not None and params["n_train"] != d.n_train:
            raise ConfigError("data.n_train and data.params.n_train disagree; set one")
        truth = _construct("data", _data.Circle, params)
        return RunData(train=truth.train_points(torch.float32), test=truth.sample(d.n_test, generator=g_test, dtype=torch.float32), truth=truth)
    elif d.name == "union_of_circles":
        truth = _construct("data", _data.UnionOfCircles, d.params, skip=("n_train", "test_rotation"))
    else:
        truth = _construct("data", _data.SwissRoll, d.params)
    n_train = d.n_train or 2000
    return RunData(train=truth.sample(n_train, generator=g_train, dtype=torch.float32),
                   test=truth.sample(d.n_test, generator=g_test, dtype=torch.float32), truth=truth)


def build_model(cfg: RunConfig, process, rd: RunData):
    """The network of ``cfg.model`` sized for ``rd``; raises ConfigError if it does not fit the data."""
    m = cfg.model
    params = dict(m.params)
    torch.manual_seed(cfg.seed)  # weight initialisation; the trainer's own generator is separate
    if m.kind == "mlp":
        preset = params.pop("preset", None)
        param = params.pop("parameterization", "score")
        if param not in ("score", "noise"):
            raise ConfigError(f"model.params.parameterization must be 'score' or 'noise', got {param!r}")
        if preset is not None:
            if "hidden_layers" in params or "width" in params:
                raise ConfigError("model.params: give either preset or hidden_layers/width, not both")
            try:
                net = nets.mlp_preset(preset, rd.dim, **params)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"model.params: {exc}") from None
        else:
            net = _construct("model", nets.ScoreMLP, params, defaults={"dim": rd.dim})
        # "noise": the MLP predicts the noise and the score is -eps/s(t), as ScoreNet divides by s(t)
        return nets.NoisePredictionScore(net, process) if param == "noise" else net
    if m.kind == "scorenet":
        if "image_shape" in params and tuple(params["image_shape"]) != tuple(rd.image_shape):
            raise ConfigError(f"model.params.image_shape {tuple(params['image_shape'])} does not fit the data's {tuple(rd.image_shape)}")
        params["image_shape"] = tuple(rd.image_shape)
        if "channels" in params:
            params["channels"] = tuple(params["channels"])
        return _construct("model", nets.ScoreNet, params, defaults={"process": process})
    cls = nets.GAN if m.kind == "gan" else nets.VAE
    if "dim" in params and params["dim"] != rd.dim:
        raise ConfigError(f"model.params.dim={params['dim']} does not fit data of dimension {rd.dim}")
    params["dim"] = rd.dim
    return _construct("model", cls, params)


def check_model_fits(model, process, rd: RunData, kind: str) -> None:
    """Probe the model with two training points; a shape mismatch is a ConfigError (before any work)."""
    x = rd.train[:2]
    try:
        with torch.no_grad():
            if kind in ("gan", "vae"):
                y = model.sample(2)
                if y.shape != x.flatten(1).shape:
                    raise ValueError(f"it generates shape {tuple(y.shape[1:])}, the data has {tuple(x.flatten(1).shape[1:])}")
            else:
                y = model(x, torch.full((2,), process.T / 2))
                if y.shape != x.shape:
                    raise ValueError(f"it returns shape {tuple(y.shape[1:])} for input {tuple(x.shape[1:])}")
    except (ValueError, RuntimeError) as exc:
        kind_of_data = "images" if rd.image_shape is not None else "vectors"
        raise ConfigError(f"model does not fit data {kind_of_data} of shape {tuple(x.shape[1:])}: {exc}") from None
