"""One run: train → sample → evaluate, in an auto-numbered run directory.

Layout of a run directory (every file written atomically)::

    00003-circle/
      config.yaml            the resolved config (all defaults filled in)
      checkpoints/last.pt    model, EMA, optimiser, RNG, epoch (+ .sha256)
      history.json           loss per epoch, evaluations
      loss.png  samples.png  score_field.png (2-D score models)
      samples/<sampler>-n<N>-seed<S>.safetensors
      metrics.json           W1 / sliced W / MMD / Sinkhorn against held-out data (+ Fréchet for images), each with floor, spread, resolved
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import sampling
from .._io import atomic_write, atomic_write_json, atomic_write_text, folder_lock
from ..training import PushforwardTrainer, Trainer, TrainingDiverged
from .build import RunData, build_data, build_model, build_process, check_model_fits, resolve_device
from .config import SAMPLERS, ConfigError, RunConfig, load_config

__all__ = ["Run", "prepare", "new_run_dir", "train", "load_run", "sample", "sample_to_file", "evaluate", "score_fn_of"]

_RUN_RE = re.compile(r"^(\d{5})-")


@dataclass
class Run:
    """A run rebuilt from its directory: config, process, data and the trained (EMA) model."""

    config: RunConfig
    process: object
    data: RunData
    model: torch.nn.Module
    device: torch.device
    dir: Path | None = None
    trainer: object = None

    @property
    def is_score(self) -> bool:
        return self.config.model.is_score


def prepare(cfg: RunConfig, *, device=None) -> Run:
    """Validate ``cfg`` fully and build its objects without training (this is ``--dry-run``).

    ``device`` (``"cpu"``, ``"cuda"``, ``"auto"`` or a ``torch.device``) overrides ``cfg.device``
    (e.g. the CLI's ``--device``); the data stay on the CPU in ``run.data`` and are moved to
    ``run.device`` where they meet the model."""
    device = resolve_device(cfg.device if device is None else device)
    process = build_process(cfg)
    rd = build_data(cfg)
    model = build_model(cfg, process, rd)
    check_model_fits(model, process, rd, cfg.model.kind)
    return Run(cfg, process, rd, model.to(device), device)


def new_run_dir(root, name: str) -> Path:
    """``root/NNNNN-name`` with NNNNN one more than the largest id already there (EDM's convention)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in root.iterdir() if (m := _RUN_RE.match(p.name))]
    path = root / f"{(max(ids) + 1 if ids else 0):05d}-{name}"
    path.mkdir()
    return path


def _to_yaml(cfg: RunConfig) -> str:
    import yaml

    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def _true_score(run: Run):
    """The exact score for ESM: the data law's when it is a Gaussian mixture, else the Gaussian-smoothed empirical law's."""
    from ..bounds.propagation import empirical_score
    from ..data import GaussianMixture

    if isinstance(run.data.truth, GaussianMixture):
        return run.data.truth.score_fn(run.process)
    return empirical_score(run.data.train, run.process)


def _make_trainer(run: Run, run_dir, progress: bool):
    cfg = run.config
    tcfg = cfg.train if not progress else type(cfg.train)(**{**cfg.train.to_dict(), "progress": True})
    data = run.data.train.to(run.device)
    if cfg.data.repeat > 1:
        data = data.repeat(cfg.data.repeat, *([1] * (data.ndim - 1)))
    if cfg.model.is_score:
        ts = _true_score(run) if cfg.train.objective == "esm" else None
        return Trainer(run.model, run.process, data, tcfg, run_dir=run_dir, true_score=ts)
    return PushforwardTrainer(run.model, data.flatten(1), tcfg, run_dir=run_dir)


def score_fn_of(model):
    """``(x, t) -> s`` evaluating ``model`` in eval mode, in the model's dtype. ``x`` must be on the
    model's device (a ValueError names both devices otherwise); ``t`` is moved there."""
    from .._device import check_module_device

    model.eval()
    p = next(model.parameters())
    dtype, device = p.dtype, p.device

    def fn(x, t):
        if x.device != device:
            check_module_device(model, x.device, "the input x")
        return model(x.to(dtype), t.to(dtype=dtype, device=x.device)).to(x.dtype)

    return fn


def train(cfg: RunConfig, *, root="runs", run_dir=None, progress: bool = False, figures: bool = True, device=None) -> Path:
    """Train the run of ``cfg``; resumes if ``run_dir`` already holds a checkpoint.

    Writes the resolved config before training and the history and figures after.
    ``device`` overrides ``cfg.device`` for this call (the config file keeps its own).
    Returns the run directory.
    """
    run = prepare(cfg, device=device)  # every check before the directory exists
    fresh = _first_missing(Path(root) if run_dir is None else Path(run_dir))  # the topmost folder this call creates
    if run_dir is None:
        run_dir = new_run_dir(root, cfg.name)
        fresh = fresh or run_dir
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with folder_lock(run_dir, "run folder"):  # a second `scoreuq train` on this run folder stops at once
            cfg_path = run_dir / "config.yaml"
            if cfg_path.exists():
                if load_config(cfg_path) != cfg:
                    raise ConfigError(f"{run_dir} holds a run with a different config; choose a new run directory")
            else:
                atomic_write_text(cfg_path, _to_yaml(cfg))
            trainer = _make_trainer(run, run_dir, progress)
            t0 = time.perf_counter()
            trainer.fit(resume=True)
            hist = trainer.history
            atomic_write_json(run_dir / "history.json", {"loss": hist.loss, "evals": hist.evals, "stopped_early": hist.stopped_early,
                                                         "epochs": trainer.epoch, "train_seconds_this_call": time.perf_counter() - t0})
            run.model, run.trainer, run.dir = trainer.ema.module, trainer, run_dir
            if figures:
                try:
                    _figures(run)
                except FloatingPointError as exc:
                    raise FloatingPointError(f"training finished ({run_dir / 'checkpoints' / 'last.pt'} is kept), but sampling "
                                             f"the model for the figures failed: {exc}") from None
    except BaseException as exc:
        if fresh is not None and not (run_dir / "checkpoints" / "last.pt").is_file():
            _remove_created(run_dir, fresh)  # nothing to resume from: leave nothing behind
            if isinstance(exc, TrainingDiverged):
                raise TrainingDiverged(f"{exc} The run folder {run_dir} held no checkpoint and was removed.") from None
        raise
    return run_dir


def _first_missing(path: Path) -> Path | None:
    """The topmost ancestor of ``path`` (or ``path`` itself) that does not exist yet; None if it exists."""
    path = Path(path).absolute()
    missing = None
    while not path.exists():
        missing, path = path, path.parent
    return missing


def _remove_created(run_dir: Path, fresh: Path) -> None:
    """Remove ``run_dir`` and the empty folders this call created above it, up to ``fresh``."""
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)
    p, top = run_dir.absolute().parent, fresh.absolute()
    while p != top.parent and (p == top or top in p.parents):
        try:
            p.rmdir()  # only if empty: another run may have appeared beside ours
        except OSError:
            break
        p = p.parent


def _figures(run: Run) -> None:
    from .. import figures

    d = run.dir
    hist = run.trainer.history.loss
    if hist:
        figures.loss_curve(hist, d / "loss.png", title=f"{run.config.model.kind} · {run.config.train.objective if run.is_score else 'push-forward'} loss")
    n = min(run.config.sample.n, 100 if run.data.image_shape is not None else 2000)
    x = sample(run, n=n, seed=run.config.seed)
    figures.samples_figure(x, d / "samples.png", reference=run.data.test[:n] if run.data.image_shape is None else None,
                           image_shape=run.data.image_shape, title=f"generated ({run.config.sample.sampler if run.is_score else run.config.model.kind})")
    if run.is_score and run.data.dim == 2:
        t = max(run.config.sample.t_min, 0.01 * run.process.T)
        figures.score_field(score_fn_of(run.model), t, d / "score_field.png", points=run.data.train[:500], device=run.device)


def load_run(run_dir, *, use_ema: bool = True, device=None) -> Run:
    """Rebuild a trained run from its directory (config.yaml and checkpoints/last.pt, checksum-verified).

    ``device`` overrides the config's device (``"cpu"``, ``"cuda"``, ``"auto"`` or a ``torch.device``):
    a run trained on a GPU loads on a CPU-only machine with ``device="cpu"`` (the checkpoint is read
    with ``map_location="cpu"``; the trainer's generator is re-seeded when it was saved on another device)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.yaml)")
    cfg = load_config(run_dir / "config.yaml")
    run = prepare(cfg, device=device)
    trainer = _make_trainer(run, run_dir, progress=False)
    if trainer.checkpoint_path is None or not trainer.checkpoint_path.exists():
        raise ConfigError(f"{run_dir} has no checkpoint yet; train it first")
    trainer.load()
    run.model = trainer.ema.module if use_ema else trainer.model
    run.model.eval()
    run.trainer, run.dir = trainer, run_dir
    return run


def sample(run: Run, *, n: int | None = None, sampler: str | None = None, steps: int | None = None, seed: int = 0,
           dtype=torch.float32, return_trajectory: bool = False, t_min: float | None = None, T: float | None = None):
    """Draw ``n`` samples from a run's model: a reverse-SDE sampler for score models
    (``pc``, ``em`` or ``ode``), the generator for push-forward models. ``t_min`` (the early-stopping
    time ε) and ``T`` (the horizon the reverse process starts from, ≤ the process's) override the config's."""
    c = run.config.sample
    n = c.n if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n must be an integer >= 1, got {n!r}")
    g = torch.Generator(device=run.device).manual_seed(seed)
    if not run.is_score:
        if sampler is not None:
            raise ConfigError(f"--sampler does not apply to a push-forward model ({run.config.model.kind}); it samples its generator")
        x = run.model.sample(n, generator=g, dtype=dtype, device=run.device)
        return x.reshape(n, *run.data.train.shape[1:]).cpu()
    sampler = sampler or c.sampler
    if sampler not in SAMPLERS:
        raise ConfigError(f"sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
    steps = steps or c.steps
    shape = (n, *run.data.train.shape[1:])
    fn = score_fn_of(run.model)
    process = run.process
    if T is not None:
        import copy

        if not 0 < T <= process.T:
            raise ConfigError(f"T must be in (0, {process.T:g}] (the process's horizon), got {T!r}")
        process = copy.copy(process)
        process.T = float(T)
    kw = dict(steps=steps, t_min=c.t_min if t_min is None else t_min, generator=g, dtype=dtype, device=run.device,
              return_trajectory=return_trajectory)
    if sampler == "pc":
        out = sampling.predictor_corrector(fn, process, shape, snr=c.snr, **kw)
    elif sampler == "em":
        out = sampling.euler_maruyama(fn, process, shape, **kw)
    else:
        out = sampling.probability_flow(fn, process, shape, **kw)
    return out if return_trajectory else out.cpu()


def _safetensors_bytes(tensors: dict, metadata: dict) -> bytes:
    """``safetensors.torch.save`` with its JSON header re-serialised with sorted keys: the library writes
    the header from a hash map, so identical samples gave files that differed byte-wise. The format is
    an 8-byte little-endian header length, the header (space-padded to 8 bytes), then the data, whose
    offsets are relative to the data and so unchanged."""
    import struct

    from safetensors.torch import save

    raw = save(tensors, metadata=metadata)
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.dumps(json.loads(raw[8:8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + raw[8 + n:]


def sample_to_file(run: Run, *, n=None, sampler=None, steps=None, seed: int = 0) -> Path:
    """Sample and write ``samples/<sampler>-n<N>-seed<S>.safetensors`` (byte-identical for identical
    samples) and a figure beside it."""
    from .. import figures

    x = sample(run, n=n, sampler=sampler, steps=steps, seed=seed)
    tag = (sampler or run.config.sample.sampler) if run.is_score else run.config.model.kind
    path = run.dir / "samples" / f"{tag}-n{x.shape[0]}-seed{seed}.safetensors"
    path.parent.mkdir(exist_ok=True)
    data = _safetensors_bytes({"samples": x.contiguous()}, {"sampler": tag, "seed": str(seed)})
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    figures.samples_figure(x[:2000], path.with_suffix(".png"), reference=run.data.test[:2000] if run.data.image_shape is None else None,
                           image_shape=run.data.image_shape, title=f"generated ({tag})")
    return path


def load_samples(path) -> torch.Tensor:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))["samples"]
    except Exception as exc:
        raise ConfigError(f"{path} is not a samples file written by scoreuq sample: {exc}") from None


def feature_classifier(run: Run, path=None):
    """The feature classifier of a run's image data, trained once and cached (safetensors) at ``path``
    (default ``eval/classifier.safetensors`` in the run directory). It depends only on the data set,
    its held-out split and the seed, so runs differing in anything else can share one cache."""
    from safetensors.torch import load_file, save_file

    from ..metrics.fid import FeatureClassifier, train_feature_classifier

    rd = run.data
    if path is None and run.dir is not None:
        path = run.dir / "eval" / "classifier.safetensors"
    path = Path(path) if path is not None else None
    if path is not None and path.is_file():
        try:
            sd = load_file(str(path))
            acc = float(sd.pop("__accuracy__"))
            model = FeatureClassifier(rd.image_shape, int(rd.labels_full.max()) + 1)
            model.load_state_dict(sd)
            return model.eval().requires_grad_(False), acc
        except Exception:
            pass  # stale or foreign cache: retrain
    train_x, train_y = _balanced_train(run)
    model, acc = train_feature_classifier(train_x, train_y, seed=run.config.seed, test_images=rd.test, test_labels=rd.labels_test)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        sd["__accuracy__"] = torch.tensor(acc)
        atomic_write(path, lambda tmp: save_file(sd, str(tmp)))
    return model, acc


def _balanced_train(run: Run):
    """All labelled images outside the held-out split (the classifier sees every class fully)."""
    rd = run.data
    mask = torch.ones(rd.full.shape[0], dtype=torch.bool)
    # the held-out split is the first n_test of the seeded permutation used by build_data
    from .build import _gen

    perm = torch.randperm(rd.full.shape[0], generator=_gen(run.config.seed, 3))
    mask[perm[: rd.test.shape[0]]] = False
    return rd.full[mask], rd.labels_full[mask]


def _checked_samples(run: Run, samples, name: str = "samples") -> torch.Tensor:
    """``samples`` as a tensor, refused unless shaped like the run's data and finite."""
    x = torch.as_tensor(samples)
    if x.shape[1:] != run.data.train.shape[1:]:
        raise ConfigError(f"{name} have shape {tuple(x.shape[1:])}, the run's data {tuple(run.data.train.shape[1:])}")
    if not bool(torch.isfinite(x).all()):
        raise FloatingPointError(f"the {name} contain NaN or infinite values")
    return x


#: bootstrap replicates of each distance's floor/spread assessment (exact W1 and Sinkhorn are the costly ones)
EVAL_N_BOOT = {"w1": 50, "sliced_w1": 100, "mmd2": 100, "sinkhorn": 20, "frechet": 200}
#: the Sinkhorn divergence runs on at most this many points per sample (its cost is O(n m) per iteration)
SINKHORN_MAX_POINTS = 250
#: its stopping threshold (L1 marginal error; changes the divergence by ~1e-4 relative, far below its bootstrap spread)
SINKHORN_TOL = 1e-3
#: the Sinkhorn divergence's blur (epsilon, p = 1: a length) as a fraction of the held-out set's median pairwise distance
SINKHORN_BLUR_FRACTION = 0.05
_ASSESS_LEVEL = 0.95


def _reference_samples(run: Run, x: torch.Tensor, g: torch.Generator):
    """``(gen, ref_b, ref_a, description)`` for the floors: ``ref_b`` an independent sample of π of
    the generated sample's size, ``ref_a`` the common reference. Where π is known (synthetic data)
    ``ref_b`` is a fresh π sample and ``ref_a`` the whole held-out set; otherwise (images) the
    held-out set is split at random into two disjoint halves, ``ref_b`` is one half, ``ref_a`` the
    other, and the generated sample is cut to the size of ``ref_b`` (never the training set: it may
    be imbalanced, and it is what the model was fitted to)."""
    rd = run.data
    test = rd.test.float()
    if rd.truth is not None and rd.image_shape is None:
        ref_b = rd.truth.sample(x.shape[0], generator=g, dtype=torch.float32)
        return x, ref_b, test, (f"fresh sample of the true law π of the generated size n={x.shape[0]} "
                                f"(the common reference: the {test.shape[0]} held-out points)")
    if test.shape[0] < 4:
        raise ConfigError(f"the held-out set has {test.shape[0]} points; at least 4 are needed to split it for the floors")
    perm = torch.randperm(test.shape[0], generator=g)
    half = test.shape[0] // 2
    ref_b, ref_a = test[perm[:half]], test[perm[half:]]
    n = min(x.shape[0], ref_b.shape[0])
    return x[:n], ref_b[:n], ref_a, (f"half B of the held-out set ({n} points, the generated size; the generated sample is "
                                     f"cut to its first {n} of {x.shape[0]}) against the disjoint half A "
                                     f"({ref_a.shape[0]} points, the common reference)")


def _distance_assessments(run: Run, x: torch.Tensor, g: torch.Generator, *, max_exact: int, n_projections: int,
                          classifier=None) -> tuple:
    """Every distance with its floor, paired-bootstrap spread and ``resolved`` flag (``assess``),
    and the W1 lower confidence limits; returns ``(assessments, estimators, reference, extra)``."""
    from .. import metrics
    from ..metrics.resolved import _features

    rd = run.data
    gen, ref_b, ref_a, reference = _reference_samples(run, x, g)
    gen, ref_b, ref_a = (t.flatten(1).double() for t in (gen, ref_b, ref_a))
    n, na = gen.shape[0], ref_a.shape[0]
    lvl = _ASSESS_LEVEL
    out, est = {}, {}

    def run_assess(key, fn, a_gen, a_ra, a_rb, *, name, how):
        a = metrics.assess(fn, a_gen, a_ra, a_rb, n_boot=EVAL_N_BOOT[key], level=lvl, generator=g, name=name)
        out[key] = a
        est[key] = f"{how}; floor: the same estimator between {reference}; spread: {EVAL_N_BOOT[key]} paired bootstrap replicates"

    # exact W1 on at most max_exact points per sample
    ne, nae = min(n, max_exact), min(na, max_exact)
    run_assess("w1", metrics.wasserstein, gen[:ne], ref_a[:nae], ref_b[:ne], name="exact W1",
               how=f"exact W1 (POT emd2) of {ne} generated vs {nae} reference points")
    # sliced W1: the same n_projections directions for value, floor and every replicate (paired)
    proj = metrics.random_directions(gen.shape[1], n_projections, generator=g, dtype=torch.float64)

    def sliced(a, b):
        return metrics.sliced_wasserstein(a, b, projections=proj)

    run_assess("sliced_w1", sliced, gen, ref_a, ref_b, name="sliced W1",
               how=f"Monte-Carlo sliced W1, {n_projections} fixed random directions, {n} generated vs {na} reference points")
    # MMD²: one RBF bandwidth for all (the median pairwise distance of the reference samples)
    bw = metrics.median_bandwidth(ref_a, ref_b, generator=g)

    def mmd2(a, b):
        return metrics.mmd(a, b, bandwidth=bw)

    run_assess("mmd2", mmd2, gen, ref_a, ref_b, name="MMD²",
               how=f"unbiased RBF MMD², bandwidth {bw:.4g} (median pairwise distance of the reference samples), "
                   f"{n} generated vs {na} reference points")
    # debiased Sinkhorn divergence (p = 1) on at most SINKHORN_MAX_POINTS points per sample
    ns, nas = min(n, SINKHORN_MAX_POINTS), min(na, SINKHORN_MAX_POINTS)
    zs = ref_a[torch.randperm(na, generator=g)[:1000]]
    med = float(torch.pdist(zs).median())
    blur = SINKHORN_BLUR_FRACTION * med

    def sinkhorn(a, b):
        return metrics.sinkhorn_divergence(a, b, blur=blur, p=1, tol=SINKHORN_TOL)

    run_assess("sinkhorn", sinkhorn, gen[:ns], ref_a[:nas], ref_b[:ns], name="debiased Sinkhorn divergence",
               how=f"debiased Sinkhorn divergence S_eps (p = 1, eps = blur = {SINKHORN_BLUR_FRACTION:g} x the held-out "
                   f"reference's median pairwise distance {med:.4g} = {blur:.4g}; Sinkhorn stopped at L1 marginal error "
                   f"{SINKHORN_TOL:g}), {ns} generated vs {nas} reference points")
    extra = {"sinkhorn_blur": blur, "mmd_bandwidth": bw}
    if classifier is not None:
        clf = classifier
        fg, fb, fa = (_features(clf, t.reshape(-1, *rd.image_shape).float()) for t in (gen, ref_b, ref_a))
        run_assess("frechet", metrics.frechet_from_features, fg, fa, fb, name="Fréchet distance on features",
                   how=f"Fréchet distance on the {clf.num_features}-d penultimate features of a small CNN classifier, "
                       f"{n} generated vs {na} reference images")
    return out, est, reference, extra


def _heldout_nll(run: Run, n: int, *, seed: int, rtol: float) -> dict:
    """NLL of ``n`` held-out points under the run's score model by the probability-flow ODE
    (:func:`scoreuq.likelihood.nll`): the exact divergence up to 16 dimensions, Hutchinson (one
    Rademacher probe) above; bits/dim with uniform dequantisation for images."""
    from .. import likelihood

    if not run.is_score:
        raise ConfigError(f"nll needs a score model; {run.config.model.kind} is a push-forward model")
    if isinstance(n, bool) or n < 2:
        raise ConfigError(f"nll must be an integer >= 2 (held-out points), got {n!r}")
    rd = run.data
    g = torch.Generator().manual_seed(seed + 17)
    pts = rd.test[torch.randperm(rd.test.shape[0], generator=g)[:n]].to(run.device, torch.float64)
    d = int(pts[0].numel())
    image = rd.image_shape is not None
    res = likelihood.nll(score_fn_of(run.model), run.process, pts, t_min=run.config.sample.t_min, rtol=rtol, atol=rtol,
                         divergence="exact" if d <= 16 else "hutchinson", generator=torch.Generator(device=run.device).manual_seed(seed),
                         dequantize="uniform" if image else None, bits_per_dim=image)
    out = {"mean": float(res.mean), "ci": [float(v) for v in res.ci] if res.ci is not None else None, "n": int(pts.shape[0]),
           "nfe": int(res.nfe), "estimator": res.estimator, "rtol": rtol}
    if image:
        out["bits_per_dim"] = float(res.bits_per_dim)
        out["bits_per_dim_ci"] = [float(v) for v in res.bpd_ci] if res.bpd_ci is not None else None
    return out


def evaluate(run: Run, samples=None, *, n: int | None = None, seed: int = 0, max_exact: int = 2000, n_projections: int = 200,
             classifier_cache=None, nll: int = 0, nll_rtol: float = 1e-4) -> dict:
    """Distances between generated samples and held-out data, each with its floor, spread and ``resolved`` flag.

    Every distance ``d`` is assessed by :func:`scoreuq.metrics.assess`: ``value = d(gen, ref_a)``,
    ``floor = d(ref_b, ref_a)`` with ``ref_b`` an independent sample of π of the generated size
    (a fresh π sample for synthetic data, where ``ref_a`` is the held-out set; for images two
    disjoint random halves of the held-out set, the generated sample cut to the size of ``ref_b``),
    a paired bootstrap spread (``EVAL_N_BOOT`` replicates) and ``resolved`` (the 95% percentile
    interval of value − floor lies above 0: the distance tells this model from π at this size).

    ``w1`` is the exact W1 (POT) on at most ``max_exact`` points per sample; ``sliced_w1`` uses
    ``n_projections`` fixed directions; ``mmd2`` is the unbiased RBF MMD² at one median bandwidth;
    ``sinkhorn`` the debiased Sinkhorn divergence (p = 1, blur ``SINKHORN_BLUR_FRACTION`` × the
    held-out median pairwise distance, at most ``SINKHORN_MAX_POINTS`` points per sample); for
    images ``frechet``, the Fréchet distance on a feature classifier (cached at
    ``classifier_cache``, default in the run directory), and the generated class shares.
    ``w1_lower_bound``: lower confidence limits of the population W1 between the model's law and π
    (:func:`scoreuq.metrics.w1_lower_bound`, generated vs the whole held-out set). For the
    circle, C1 to the training points and C2 to the true circle (003 Def. 4.1–4.2).

    ``metrics.json``: ``generated_vs_heldout`` and ``floor`` (the values, as before), ``assessments``
    (``{metric: Assessment.to_dict()}``), ``w1_lower_bound``, ``estimators`` (how each was computed),
    ``warnings`` (a list of strings; e.g. generated points far outside the data's range, see :func:`_range_warnings`).
    """
    from .. import metrics
    from ..data.classes import class_shares

    if samples is None:
        samples = sample(run, n=n, seed=seed)
    x = _checked_samples(run, samples).float()
    rd = run.data
    g = torch.Generator().manual_seed(seed)
    test = rd.test.float()
    clf = acc = None
    if rd.image_shape is not None:
        clf, acc = feature_classifier(run, classifier_cache)
    assessed, est, reference, extra = _distance_assessments(run, x, g, max_exact=max_exact, n_projections=n_projections,
                                                            classifier=clf)
    lower = metrics.w1_lower_bound(x.flatten(1).double(), test.flatten(1).double(), generator=g)
    est["w1_lower_bound"] = ("lower confidence limits of the population W1(model, π): " + lower["guarantee"]
                             + f" Generated ({x.shape[0]}) vs the whole held-out set ({test.shape[0]}), each split in halves: "
                             "fit a direction and a 1-Lipschitz critic on one half, score on the other (Hoeffding width); "
                             "max-sliced (fitted direction) and sliced (64 random directions).")
    dist_keys = ("w1", "sliced_w1", "mmd2", "sinkhorn")
    out = {"n_generated": int(x.shape[0]), "n_heldout": int(test.shape[0]), "max_exact": max_exact, "n_projections": n_projections,
           "seed": seed, "level": _ASSESS_LEVEL, "estimators": est,
           "generated_vs_heldout": {k: assessed[k].value for k in dist_keys},
           "floor": {"reference": reference, **{k: assessed[k].floor for k in dist_keys}},
           "assessments": {k: a.to_dict() for k, a in assessed.items()},
           "w1_lower_bound": lower, **extra}
    if run.config.data.name == "circle":
        # about the centre and radius fitted to the training data (not the origin): the metrics then mean the
        # same for a circle anywhere (003 Def. 4.1-4.2)
        ctr, rad = metrics.fit_circle(rd.train.double())
        out["circle"] = {"c1_to_train": metrics.c1(x.double(), rd.train.double(), ctr),
                         "c2_to_circle": metrics.c2(x.double(), radius=rad, center=ctr),
                         "center": [float(v) for v in ctr], "radius": float(rad)}
    if nll:
        out["nll"] = _heldout_nll(run, int(nll), seed=seed, rtol=nll_rtol)
    if rd.image_shape is not None:
        pred = metrics.classify(clf, x)
        k = int(rd.labels_full.max()) + 1
        out["frechet"] = {"generated_vs_heldout": assessed["frechet"].value, "floor": assessed["frechet"].floor,
                          "classifier_heldout_accuracy": acc, "features": f"{clf.num_features}-d penultimate layer of a small CNN"}
        out["class_shares"] = {name: class_shares(lab, k).tolist()
                               for name, lab in (("generated", pred), ("train", rd.labels_train), ("full", rd.labels_full))}
    out["warnings"] = _range_warnings(x, rd)
    if run.dir is not None:
        atomic_write_json(run.dir / "metrics.json", out)
    return out


#: a generated point is far outside the data when a coordinate lies beyond this many data ranges past the data's min or max
OUT_OF_RANGE_MARGIN = 0.5
#: warn when more than this share of the generated points is far outside
OUT_OF_RANGE_SHARE = 0.01


def _range_warnings(x: torch.Tensor, rd: RunData) -> list:
    """Warnings (strings) about generated points far outside the data's range.

    The rule: per coordinate j (pixels for images), the data (training and held-out points) span
    ``[lo_j, hi_j]``; a generated point is far outside when some coordinate lies beyond
    ``[lo_j - m * r_j, hi_j + m * r_j]`` with ``m = OUT_OF_RANGE_MARGIN`` (0.5) and
    ``r_j = max(hi_j - lo_j, median_k(hi_k - lo_k))``: a constant coordinate (an image's blank
    border) borrows the typical range, so faint noise there is not flagged. The warning fires when
    more than ``OUT_OF_RANGE_SHARE`` (1%) of the points are far outside: a few tail points are
    expected of any model, a visible share means the sampler or the model went astray (too few
    steps, a too-small t_min, divergence) even where the distances still look finite."""
    data = torch.cat([rd.train.flatten(1), rd.test.flatten(1)]).double()
    gen = x.flatten(1).double()
    lo, hi = data.min(0).values, data.max(0).values
    span = hi - lo
    r = torch.maximum(span, span.median())
    low, high = lo - OUT_OF_RANGE_MARGIN * r, hi + OUT_OF_RANGE_MARGIN * r
    far = ((gen < low) | (gen > high)).any(1)
    share = float(far.double().mean())
    if share <= OUT_OF_RANGE_SHARE:
        return []
    worst = float(torch.maximum(lo - gen, gen - hi).div(r.clamp_min(1e-300)).max())
    return [f"{int(far.sum())} of {gen.shape[0]} generated samples ({share:.1%}) lie far outside the data's range "
            f"(a coordinate more than {OUT_OF_RANGE_MARGIN:g} data ranges beyond the data's min or max; the farthest "
            f"{worst:.3g} ranges beyond); the distances above then mostly measure these points: check the sampler "
            f"(steps, t_min) and the training"]


def bound(run: Run, *, estimators: str = "both", t_min: float | None = None, delta: float = 0.1, C: float = 1.0, R: float | None = None,
          omega="process", n_sub: int = 1000, seeds=(0, 1, 2), d1: str = "exact", kde_rule: str = "cv", n_generated: int | None = None,
          lipschitz_kw: dict | None = None, c2_kw: dict | None = None, write: bool = True, generated=None, c2_kind: str = "full",
          search: bool = True, optimise: bool = True, measure_curve: bool = True, level: float = 0.95,
          w1_lower: dict | None = None) -> dict:
    """The WUP bound of a trained score run (faithful and/or seminar presets), with the audit.

    The audit compares the bound with samples of the model at the same early-stopping time ε:
    ``generated`` (e.g. those of :func:`evaluate`, drawn at the config's ε) or, by default,
    ``n_generated`` fresh samples (default ``n_sub``) drawn at ``t_min``. With ``optimise`` the faithful
    preset also reports the tightest admissible value over ε and T, the sampler re-run at each ε of the
    curve when ``measure_curve``.

    π is the exact law for synthetic data and a Gaussian KDE of the whole labelled set for
    images (bandwidth by ``kde_rule``: ``"cv"`` held-out likelihood by default, recorded). ``w1_lower``: the
    ``w1_lower_bound`` that :func:`evaluate` computed for the same ``generated`` samples (reused, not
    recomputed); by default it is computed here. Writes ``bound.json`` and ``bound.md``.
    """
    from .. import bounds, metrics
    from .._validation import check_in_range, check_int, check_positive

    if estimators not in ("faithful", "seminar", "both"):
        raise ConfigError(f"estimators must be 'faithful', 'seminar' or 'both', got {estimators!r}")
    if not run.is_score:
        raise ConfigError(f"the WUP bound is for score models; this run trains a {run.config.model.kind}")
    T = run.process.T
    t_min = run.config.sample.t_min if t_min is None else t_min
    check_in_range("t_min", t_min, 0.0, T, low_open=True, high_open=True)
    check_in_range("delta", delta, 0.0, 1.0, low_open=True, high_open=True)
    check_positive("C", C)
    if omega != "process":
        check_positive("omega", omega)
    if R is not None:
        check_positive("R", R)
    check_int("n_sub", n_sub, 2, ConfigError)
    if c2_kind not in ("full", "parabolic", "space"):
        raise ConfigError(f"c2_kind must be 'full', 'parabolic' or 'space', got {c2_kind!r}")
    if kde_rule not in ("scott", "silverman", "cv"):
        raise ConfigError(f"kde_rule must be 'scott', 'silverman' or 'cv', got {kde_rule!r}")
    rd = run.data
    kde_h = None
    if rd.image_shape is not None:
        kde, kde_h = bounds.kde_reference(rd.full.to(run.device), kde_rule, generator=torch.Generator().manual_seed(run.config.seed))
        shape = rd.image_shape

        class _Pi:  # the KDE on flattened pixels, sampled back as images
            def sample(self, n, *, generator=None, dtype=None):
                return kde.sample(n, generator=generator, dtype=dtype).reshape(n, *shape)

        pi, pi_name = _Pi(), (f"Gaussian KDE of the full {run.config.data.name} set ({rd.full.shape[0]} images, {kde_rule} bandwidth "
                              f"h={kde_h:.4g}{', chosen by 3-fold held-out likelihood' if kde_rule == 'cv' else ''})")
    else:
        pi, pi_name = rd.truth, f"the exact law ({type(rd.truth).__name__})"
    dev = run.device
    if generated is not None:
        gen = _checked_samples(run, generated, "generated").double().to(dev)
        n_gen = gen.shape[0]
        gen_t_min = run.config.sample.t_min
    else:
        n_gen = n_generated or n_sub
        gen = sample(run, n=n_gen, seed=run.config.seed + 17, dtype=torch.float32, t_min=t_min).double().to(dev)
        gen_t_min = t_min
    fn = score_fn_of(run.model.eval())  # float32 network derivatives; distances in float64
    train = rd.train.float().to(dev)
    out = {"run": str(run.dir) if run.dir else None, "pi": pi_name, "kde_bandwidth": kde_h, "kde_rule": kde_rule if kde_h else None,
           "generated": {"n": n_gen, "sampler": run.config.sample.sampler, "steps": run.config.sample.steps, "t_min": gen_t_min}}
    # a guaranteed lower estimate of the population W1(m_g, π), beside every bound
    if w1_lower is not None and generated is not None:
        lower = w1_lower  # evaluate's, for these same samples
    else:
        ref = rd.test.double().to(dev) if rd.image_shape is None else \
            pi.sample(gen.shape[0], generator=torch.Generator().manual_seed(7), dtype=torch.float64).to(dev)
        lower = metrics.w1_lower_bound(gen.flatten(1), ref.flatten(1), generator=torch.Generator().manual_seed(run.config.seed))
    out["w1_lower_bound"] = lower
    lower_v = lower["max_sliced_lcl"]
    md = [f"# WUP bound of {run.dir.name if run.dir else 'run'}", "", f"π: {pi_name}; p_ref: the prior of {type(run.process).__name__}; "
          f"π_N: {train.shape[0]} training points; m_g: {n_gen} samples ({run.config.sample.sampler}, {run.config.sample.steps} steps, "
          f"ε = {gen_t_min:g}).", "", "Guaranteed lower estimate of W1(m_g, π): " + (f"{lower_v:.4g}" if lower_v > 0 else
          f"0 (the limit {lower_v:.3g} is uninformative: the model cannot be told from π at this sample size)")
          + f" ({lower['level']:.0%} lower confidence limit, max-sliced critic on held-out halves).", ""]
    if gen_t_min != t_min:
        md.append(f"Note: the audit samples were drawn at ε = {gen_t_min:g}, the bound is at ε = {t_min:g}.\n")
    if estimators in ("faithful", "both"):
        sampler_fn = None
        if optimise and measure_curve:
            def sampler_fn(e, TT):
                return sample(run, n=n_gen, seed=run.config.seed + 17, dtype=torch.float32, t_min=e, T=TT)
        rep = bounds.wup(fn, run.process, train, pi, t_min=t_min, delta=delta, C=C, R=R, omega=omega, generated=gen, n_sub=n_sub,
                         seeds=tuple(seeds), d1=d1, lipschitz_kw=lipschitz_kw, c2_kw=c2_kw, network=run.model, c2_kind=c2_kind,
                         search=search, optimise=optimise, sampler=sampler_fn, level=level)
        out["faithful"] = rep.to_dict()
        if rep.bound is not None and rep.bound < lower_v:
            md.append(f"**The faithful value {rep.bound:.4g} is below the guaranteed lower estimate {lower_v:.4g}: with C = 1 it is not a bound.**\n")
        md.append(rep.to_markdown())
    if estimators in ("seminar", "both"):
        if rd.labels_train is None:
            if estimators == "seminar":
                raise ConfigError("the seminar preset needs labelled image data (its X4 compares class proportions)")
            md.append("The seminar preset needs labelled image data; not computed for this run.\n")
        else:
            rep = bounds.wup_seminar(fn, run.process, train, rd.labels_train, rd.labels_full, pi, dsm_history=run.trainer.history.loss,
                                     generated=gen, n_sub=n_sub, seeds=tuple(seeds), w1_lower=lower_v)
            out["seminar"] = rep.to_dict()
            md.append(rep.to_markdown())
    if write and run.dir is not None:
        atomic_write_json(run.dir / "bound.json", out)
        atomic_write_text(run.dir / "bound.md", "\n".join(md))
    out["markdown"] = "\n".join(md)
    return out
