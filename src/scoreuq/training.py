"""The Trainer: seeded, resumable training of a score model with any of the four objectives.

Checkpoints hold the model, its EMA, the optimiser, the trainer's random-number state,
the epoch and the loss history. Each is written atomically (temporary file, then
rename) with a SHA-256 sidecar; loading checks the checksum first and then uses
``torch.load(weights_only=True)``, so a corrupted or foreign checkpoint is reported,
never unpickled. Training on CPU is deterministic: a killed run resumed from its last
checkpoint ends with the same weights as an uninterrupted one.

Devices: the model, the data and the trainer's generator live on the data's device. A
checkpoint records the generator's device type beside its state; one written on another
device (a CUDA generator's 16-byte Philox state read by a CPU generator, or the reverse) is
loaded with the generator re-seeded from ``(seed, epoch)`` instead, so a GPU-trained run
loads, samples and resumes on a CPU-only machine. Same device, seed and thread count →
bit-identical; across devices → the same statistics, not the same bits.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from . import losses
from ._device import check_module_device
from ._io import atomic_write, atomic_write_text, file_digest
from ._validation import check_in_range, check_positive

__all__ = ["TrainConfig", "Trainer", "PushforwardTrainer", "TrainingDiverged", "CheckpointError", "load_checkpoint", "save_checkpoint"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted or not one of ours."""


def _pos_int(name, v, minimum=1):
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return v


@dataclass(frozen=True)
class TrainConfig:
    """Training settings, validated at construction.

    ``objective`` is one of ``dsm``, ``esm``, ``ism``, ``sliced_sm``; ``weighting`` one of
    ``none``, ``sigma2``, ``likelihood``. ``checkpoint_every`` and ``eval_every`` count
    epochs (0 = never evaluate). Early stopping: ``patience`` evaluations without
    improvement of the metric ``early_stopping_metric`` (lower is better) stop the run.
    """

    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    objective: str = "dsm"
    weighting: str = "sigma2"
    t_min: float = 1e-3
    ema_decay: float = 0.999
    checkpoint_every: int = 10
    eval_every: int = 0
    early_stopping_metric: str | None = None
    patience: int = 0
    grad_clip: float | None = None
    n_probes: int = 1
    trace: str = "exact"
    progress: bool = False

    def __post_init__(self):
        _pos_int("epochs", self.epochs)
        _pos_int("batch_size", self.batch_size)
        object.__setattr__(self, "lr", check_positive("lr", self.lr))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.objective not in losses.OBJECTIVES:
            raise ValueError(f"objective must be one of {sorted(losses.OBJECTIVES)}, got {self.objective!r}")
        if self.weighting not in losses.WEIGHTINGS:
            raise ValueError(f"weighting must be one of {losses.WEIGHTINGS}, got {self.weighting!r}")
        object.__setattr__(self, "t_min", check_positive("t_min", self.t_min))
        object.__setattr__(self, "ema_decay", check_in_range("ema_decay", self.ema_decay, 0.0, 1.0, high_open=True))
        _pos_int("checkpoint_every", self.checkpoint_every)
        _pos_int("eval_every", self.eval_every, minimum=0)
        _pos_int("patience", self.patience, minimum=0)
        _pos_int("n_probes", self.n_probes)
        if self.grad_clip is not None:
            object.__setattr__(self, "grad_clip", check_positive("grad_clip", self.grad_clip))
        if self.trace not in ("exact", "hutchinson"):
            raise ValueError(f"trace must be 'exact' or 'hutchinson', got {self.trace!r}")
        if self.patience and not (self.early_stopping_metric and self.eval_every):
            raise ValueError("patience needs early_stopping_metric and eval_every > 0")

    def to_dict(self) -> dict:
        return asdict(self)


def _sha256(path: Path) -> str:
    return file_digest(path, "sha256")


def save_checkpoint(path, state: dict) -> Path:
    """Write ``state`` atomically with a ``.sha256`` sidecar, so that a kill at any moment leaves a
    checkpoint that matches its sidecar.

    The data and the sidecar are two files, each replaced atomically, so they cannot change
    together. The sidecar therefore first lists the new digest *and* the old one, then the data
    is replaced, then the sidecar is rewritten with the new digest alone: between any two steps
    the file on disk is one of the listed digests.
    """
    path = Path(path)
    side = path.with_name(path.name + ".sha256")
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    new = hashlib.sha256(data).hexdigest()
    old = _sha256(path) if path.is_file() and side.is_file() and _sha256(path) in _digests(side) else None
    if old is not None and old != new:
        atomic_write_text(side, f"{new}\n{old}\n")
    def _w(tmp):
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, _w)
    atomic_write_text(side, new + "\n")
    return path


def _digests(side: Path) -> set:
    return {line.strip() for line in side.read_text().splitlines() if line.strip()}


def load_checkpoint(path) -> dict:
    """Verify the SHA-256 sidecar, then load with ``torch.load(weights_only=True)``."""
    path = Path(path)
    side = path.with_name(path.name + ".sha256")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if not side.is_file():
        raise CheckpointError(f"checkpoint {path} has no checksum file {side.name}; refusing to load it")
    if _sha256(path) not in _digests(side):
        raise CheckpointError(f"checkpoint {path} is corrupted: its SHA-256 does not match {side.name}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {path} could not be read safely: {exc}") from None


def _check_data(data, message: str, data_ndim: int | None) -> None:
    if not torch.is_tensor(data) or data.ndim < 2 or (data_ndim is not None and data.ndim != data_ndim) or data.shape[0] < 1:
        raise ValueError(message)
    if not bool(torch.isfinite(data).all()):
        raise ValueError("data contains NaN or infinite values")


@dataclass
class History:
    """Per-epoch mean loss and the evaluations made."""

    loss: list = field(default_factory=list)
    evals: list = field(default_factory=list)
    stopped_early: bool = False


class Trainer:
    """Train ``model`` on ``data`` with the objective of ``config``.

    Parameters
    ----------
    model : nn.Module taking ``(x, t)``
    process : forward process
    data : tensor ``(N, ...)`` of training samples
    config : TrainConfig
    run_dir : folder for ``checkpoints/`` (optional; without it nothing is written)
    true_score : callable ``(x, t)`` for the ESM objective
    eval_fn : callable ``(ema_model, epoch) -> dict`` run every ``eval_every`` epochs
    """

    def __init__(self, model, process, data: torch.Tensor, config: TrainConfig, *, run_dir=None,
                 true_score: Callable | None = None, eval_fn: Callable | None = None):
        _check_data(data, "data must be a tensor of shape (N, ...) with N >= 1", data_ndim=None)
        if config.objective == "esm" and true_score is None:
            raise ValueError("the esm objective needs true_score")
        check_module_device(model, data.device, "the training data")
        probe = data[:2]
        try:  # the network must map a batch to a batch of the same shape
            with torch.no_grad():
                out = model(probe, torch.full((probe.shape[0],), process.T / 2, dtype=probe.dtype, device=probe.device))
        except Exception as exc:
            raise ValueError(f"the model does not fit data of shape {tuple(probe.shape[1:])}: {exc}") from None
        if out.shape != probe.shape:
            raise ValueError(f"the model does not fit data of shape {tuple(probe.shape[1:])}: it returns shape {tuple(out.shape[1:])}")
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
        self._init_state(model, process, data, config, run_dir, true_score, eval_fn)

    def _init_state(self, model, process, data, config, run_dir, true_score, eval_fn) -> None:
        """State shared by every trainer: EMA, generator, epoch counter, history, early-stopping record."""
        self.model, self.process, self.data, self.config = model, process, data, config
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.true_score, self.eval_fn = true_score, eval_fn
        self.ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True)
        self._ema_groups = None
        self.generator = torch.Generator(device=data.device).manual_seed(config.seed)
        self.epoch = 0
        self.history = History()
        self._best = math.inf
        self._bad_evals = 0

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path | None:
        return self.run_dir / "checkpoints" / "last.pt" if self.run_dir is not None else None

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self._optimizer_state(),
            "rng": self.generator.get_state(),
            "rng_device": self.generator.device.type,
            "epoch": self.epoch,
            "loss": list(self.history.loss),
            "best": self._best,
            "bad_evals": self._bad_evals,
            "config": {k: v for k, v in self.config.to_dict().items() if v is not None},
        }

    def _optimizer_state(self):
        return self.optimizer.state_dict()

    def _load_optimizer_state(self, state) -> None:
        self.optimizer.load_state_dict(state)

    def save(self) -> Path | None:
        if self.checkpoint_path is None:
            return None
        return save_checkpoint(self.checkpoint_path, self.state())

    def load(self, path=None) -> None:
        st = load_checkpoint(path or self.checkpoint_path)
        try:
            self.model.load_state_dict(st["model"])
            self.ema.load_state_dict(st["ema"])
            self._load_optimizer_state(st["optimizer"])
            self.epoch = int(st["epoch"])
            self._restore_rng(st["rng"], st.get("rng_device"))
            self.history.loss = [float(v) for v in st["loss"]]
            self._best, self._bad_evals = float(st["best"]), int(st["bad_evals"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint does not fit this model or trainer: {exc}") from None

    def _restore_rng(self, state, device_type) -> None:
        """The generator's state when it was saved on this device type; else (a checkpoint from
        another device, e.g. a CUDA generator's 16-byte state on a CPU-only machine, or an older
        checkpoint without ``rng_device`` whose state this generator rejects) a fresh stream seeded
        from ``(seed, epoch)``: deterministic, but not the stream the other device would have drawn."""
        if device_type is None or device_type == self.generator.device.type:
            try:
                self.generator.set_state(state)
                return
            except (RuntimeError, TypeError, ValueError):
                if device_type is not None:
                    raise
        self.generator.manual_seed(int(self.config.seed) * 1_000_003 + 7919 * int(self.epoch) + 1)

    # ------------------------------------------------------------------ training
    def _loss(self, batch):
        c = self.config
        common = dict(t_min=c.t_min, weighting_kind=c.weighting, generator=self.generator)
        if c.objective == "dsm":
            return losses.dsm(self.model, batch, self.process, **common)
        if c.objective == "esm":
            return losses.esm(self.model, batch, self.process, self.true_score, **common)
        if c.objective == "ism":
            return losses.ism(self.model, batch, self.process, trace=c.trace, n_probes=c.n_probes, **common)
        return losses.sliced_sm(self.model, batch, self.process, n_probes=c.n_probes, **common)

    def train_epoch(self) -> float:
        c, n = self.config, self.data.shape[0]
        perm = torch.randperm(n, generator=self.generator, device=self.data.device)
        total, count = 0.0, 0
        self.model.train()
        for i in range(0, n, c.batch_size):
            batch = self.data[perm[i : i + c.batch_size]]
            loss = self._step(batch)
            self._update_ema()
            total += float(loss) * batch.shape[0]
            count += batch.shape[0]
        return total / count

    @torch.no_grad()
    def _update_ema(self) -> None:
        """``self.ema.update_parameters(self.model)``, the same arithmetic (torch's EMA: a copy at the
        first step, then one ``_foreach_lerp_`` per device and dtype over parameters and buffers), with
        the tensor lists built once per :meth:`fit`: AveragedModel rebuilds them every step, which
        cost ~9% of a 3×256 MLP's DSM step on CPU (benchmarks/bench_training.py)."""
        if self._ema_groups is None:
            pairs = {}
            ema_t = itertools.chain(self.ema.module.parameters(), self.ema.module.buffers())
            model_t = itertools.chain(self.model.parameters(), self.model.buffers())
            for a, m in zip(ema_t, model_t, strict=True):
                grp = pairs.setdefault((a.device, a.dtype), ([], []))
                grp[0].append(a.detach())
                grp[1].append(m.detach())
            self._ema_groups = list(pairs.values())
        decay = self.config.ema_decay
        first = bool(self.ema.n_averaged == 0)
        for ema_t, model_t in self._ema_groups:
            model_t = [m.to(a.device) for a, m in zip(ema_t, model_t)]
            if first:
                torch._foreach_copy_(ema_t, model_t)
            elif torch.is_floating_point(ema_t[0]) or torch.is_complex(ema_t[0]):
                torch._foreach_lerp_(ema_t, model_t, 1 - decay)
            else:
                for a, m in zip(ema_t, model_t):
                    a.copy_(a * decay + m * (1 - decay))
        self.ema.n_averaged += 1

    def _diverged(self, loss) -> TrainingDiverged:
        return TrainingDiverged(
            f"loss became {float(loss.detach())} at epoch {self.epoch + 1}; training stopped, the last good checkpoint"
            f" ({self.checkpoint_path or 'none written'}) is kept. Lower lr (now {self.config.lr:g}) or set grad_clip."
        )

    def _step(self, batch) -> torch.Tensor:
        """One optimisation step on ``batch``; returns the detached loss."""
        loss = self._loss(batch)
        if not torch.isfinite(loss):
            raise self._diverged(loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return loss.detach()

    def fit(self, *, resume: bool = True) -> History:
        """Train until ``config.epochs`` (or early stopping); resumes from the last checkpoint if one exists."""
        c = self.config
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load()
        self._ema_groups = None  # the model may have been moved or reloaded since the last fit
        from tqdm.auto import tqdm

        bar = tqdm(total=c.epochs, initial=self.epoch, disable=not c.progress, desc="train", unit="epoch")
        try:
            while self.epoch < c.epochs:
                loss = self.train_epoch()
                self.epoch += 1
                self.history.loss.append(loss)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4g}")
                if c.eval_every and self.eval_fn is not None and self.epoch % c.eval_every == 0:
                    if self._evaluate():
                        self.history.stopped_early = True
                        self.save()
                        break
                if self.epoch % c.checkpoint_every == 0 or self.epoch == c.epochs:
                    self.save()
        finally:
            bar.close()
        return self.history

    def _evaluate(self) -> bool:
        """Run eval_fn on the EMA model; returns True when early stopping triggers."""
        self.ema.eval()
        res = dict(self.eval_fn(self.ema.module, self.epoch))
        res["epoch"] = self.epoch
        self.history.evals.append(res)
        m = self.config.early_stopping_metric
        if m is None or not self.config.patience:
            return False
        if m not in res:
            raise ValueError(f"eval_fn did not return the early_stopping_metric {m!r}")
        if res[m] < self._best:
            self._best, self._bad_evals = float(res[m]), 0
        else:
            self._bad_evals += 1
        return self._bad_evals >= self.config.patience


class PushforwardTrainer(Trainer):
    """Train a push-forward baseline (:class:`scoreuq.nets.GAN` or :class:`scoreuq.nets.VAE`)
    with the conventions of :class:`Trainer`: the same config (``objective``, ``weighting``,
    ``t_min`` and ``trace`` are not used), seeds, EMA, atomic SHA-256-checked checkpoints,
    ``fit(resume=True)``, the NaN guard and early stopping. One Adam optimiser per entry of
    ``model.parameter_groups()``; ``model.step`` performs the update. Sample from
    ``trainer.ema.module.sample(n, generator=g)``.
    """

    def __init__(self, model, data: torch.Tensor, config: TrainConfig, *, run_dir=None, eval_fn: Callable | None = None):
        _check_data(data, "data must be a tensor of shape (N, d) with N >= 1; flatten images first", data_ndim=2)
        check_module_device(model, data.device, "the training data")
        if data.shape[1] != model.dim:
            raise ValueError(f"the model does not fit data of shape {tuple(data.shape[1:])}: it generates vectors of dimension {model.dim}")
        self.optimizers = {k: torch.optim.Adam(p, lr=config.lr) for k, p in model.parameter_groups().items()}
        self._init_state(model, None, data, config, run_dir, None, eval_fn)

    def _optimizer_state(self):
        return {k: o.state_dict() for k, o in self.optimizers.items()}

    def _load_optimizer_state(self, state) -> None:
        if set(state) != set(self.optimizers):
            raise KeyError(f"optimizers {sorted(state)} in the checkpoint, {sorted(self.optimizers)} expected")
        for k, o in self.optimizers.items():
            o.load_state_dict(state[k])

    def _step(self, batch) -> torch.Tensor:
        # dropout draws from the global RNG: seed it from the trainer's generator inside a fork,
        # so a resumed run repeats the same masks and the global state is left untouched
        seed = int(torch.randint(2**62, (1,), generator=self.generator, device=self.generator.device))
        devices = [batch.device] if batch.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            loss = self.model.step(batch, self.optimizers, self.generator)
        if not torch.isfinite(loss):
            raise self._diverged(loss)
        return loss
