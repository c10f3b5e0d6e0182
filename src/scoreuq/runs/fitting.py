"""Training a run into its folder (resumable; a failed first call leaves nothing behind) and
reloading a trained run from its checkpoint."""
from __future__ import annotations

import time
from pathlib import Path

import yaml

from .. import figures as figs
from .._io import atomic_write_json, atomic_write_text, folder_lock
from ..bounds.propagation import empirical_score
from ..data import GaussianMixture
from ..training import PushforwardTrainer, Trainer, TrainingDiverged
from .config import ConfigError, RunConfig, load_config
from .folders import Run, first_missing, new_run_dir, prepare, remove_created
from .samples import sample, score_fn_of

__all__ = ["train", "load_run", "make_trainer"]


def _to_yaml(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def _true_score(run: Run):
    """The exact score for ESM: the data law's when it is a Gaussian mixture, else the Gaussian-smoothed empirical law's."""
    if isinstance(run.data.truth, GaussianMixture):
        return run.data.truth.score_fn(run.process)
    return empirical_score(run.data.train, run.process)


def make_trainer(run: Run, run_dir, progress: bool):
    """The trainer of ``run`` writing to ``run_dir``: a :class:`~scoreuq.training.Trainer` for score
    models, a :class:`~scoreuq.training.PushforwardTrainer` for GAN/VAE; it also reads the run's checkpoint."""
    cfg = run.config
    tcfg = cfg.train if not progress else type(cfg.train)(**{**cfg.train.to_dict(), "progress": True})
    data = run.data.train.to(run.device)
    if cfg.data.repeat > 1:
        data = data.repeat(cfg.data.repeat, *([1] * (data.ndim - 1)))
    if cfg.model.is_score:
        ts = _true_score(run) if cfg.train.objective == "esm" else None
        return Trainer(run.model, run.process, data, tcfg, run_dir=run_dir, true_score=ts)
    return PushforwardTrainer(run.model, data.flatten(1), tcfg, run_dir=run_dir)


def train(cfg: RunConfig, *, root="runs", run_dir=None, progress: bool = False, figures: bool = True, device=None) -> Path:
    """Train the run of ``cfg``; resumes if ``run_dir`` already holds a checkpoint.

    Writes the resolved config before training and the history and figures after.
    ``device`` overrides ``cfg.device`` for this call (the config file keeps its own).
    Returns the run directory.
    """
    run = prepare(cfg, device=device)  # every check before the directory exists
    fresh = first_missing(Path(root) if run_dir is None else Path(run_dir))  # the topmost folder this call creates
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
            trainer = make_trainer(run, run_dir, progress)
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
            remove_created(run_dir, fresh)  # nothing to resume from: leave nothing behind
            if isinstance(exc, TrainingDiverged):
                raise TrainingDiverged(f"{exc} The run folder {run_dir} held no checkpoint and was removed.") from None
        raise
    return run_dir


def _figures(run: Run) -> None:
    """loss.png, samples.png and (2-D score models) score_field.png in the run folder."""
    d = run.dir
    hist = run.trainer.history.loss
    if hist:
        figs.loss_curve(hist, d / "loss.png", title=f"{run.config.model.kind} · {run.config.train.objective if run.is_score else 'push-forward'} loss")
    n = min(run.config.sample.n, 100 if run.data.image_shape is not None else 2000)
    x = sample(run, n=n, seed=run.config.seed)
    figs.samples_figure(x, d / "samples.png", reference=run.data.test[:n] if run.data.image_shape is None else None,
                           image_shape=run.data.image_shape, title=f"generated ({run.config.sample.sampler if run.is_score else run.config.model.kind})")
    if run.is_score and run.data.dim == 2:
        t = max(run.config.sample.t_min, 0.01 * run.process.T)
        figs.score_field(score_fn_of(run.model), t, d / "score_field.png", points=run.data.train[:500], device=run.device)


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
    trainer = make_trainer(run, run_dir, progress=False)
    if trainer.checkpoint_path is None or not trainer.checkpoint_path.exists():
        raise ConfigError(f"{run_dir} has no checkpoint yet; train it first")
    trainer.load()
    run.model = trainer.ema.module if use_ema else trainer.model
    run.model.eval()
    run.trainer, run.dir = trainer, run_dir
    return run
