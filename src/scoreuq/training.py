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

The GPU fast path (:class:`TrainConfig` ``amp``, ``tf32``, ``channels_last``, ``compile``,
``log_every``) is off by default, and with it off training is bit-identical to earlier
versions. ``log_every`` > 1 removes every host synchronisation from the training step: the
per-step losses stay on the device and reach the host (and the NaN guard) every ``log_every``
steps, before every checkpoint and evaluation, and at the end of :meth:`Trainer.fit`; the
arithmetic is unchanged, so the weights and the loss history are the same bits as with
``log_every=1``. benchmarks/bench_gpu.py measures the fast path against a bare fp32 loop.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import itertools
import math
import os
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from . import losses
from ._device import check_module_device
from ._io import atomic_write, atomic_write_text, file_digest
from ._validation import check_in_range, check_positive
from .processes import bare, resolve_t_min

__all__ = ["TrainConfig", "Trainer", "PushforwardTrainer", "TrainingDiverged", "CheckpointError", "load_checkpoint", "save_checkpoint"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite. ``checkpoint`` is the path of the last good checkpoint
    on disk (kept), or None when this run has none yet (its message says which)."""

    def __init__(self, message: str, checkpoint: Path | None = None):
        super().__init__(message)
        self.checkpoint = checkpoint


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupted or not one of ours."""


AMP_MODES = ("none", "bf16")


def _pos_int(name, v, minimum=1, maximum=10_000_000):
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum or v > maximum:
        raise ValueError(f"{name} must be an integer in [{minimum}, {maximum:,}], got {v!r}")
    return v


@dataclass(frozen=True)
class TrainConfig:
    """Training settings, validated at construction.

    ``objective`` is one of ``dsm``, ``esm``, ``ism``, ``sliced_sm``; ``weighting`` one of
    ``none``, ``sigma2``, ``likelihood``. ``t_min``: the early-stopping time :math:`\varepsilon`
    (seminar (000)) below which no training time is drawn; ``None`` (default) means the process's
    ``t_min`` when the :class:`Trainer` gets a process carrying one
    (:meth:`scoreuq.processes.ForwardProcess.early_stopped`), else ``1e-3``. The Trainer's
    :attr:`~Trainer.config` holds the resolved value; a given ``t_min`` that contradicts the
    process's makes the Trainer raise ``ValueError``.
    ``checkpoint_every`` and ``eval_every`` count epochs (0 = never evaluate). Early stopping: ``patience`` evaluations without
    improvement of the metric ``early_stopping_metric`` (lower is better) stop the run.

    The fast path (all off by default; :class:`Trainer` only, except ``tf32`` and ``log_every``
    which :class:`PushforwardTrainer` accepts too):

    * ``amp``: ``"none"`` or ``"bf16"``: the forward pass and the loss run under
      ``torch.autocast(<data's device type>, dtype=torch.bfloat16)`` (CPU too); the weights,
      the optimiser and the EMA stay in float32, and the backward pass runs outside autocast.
      No loss scaling (bf16 has float32's exponent range). A device whose autocast does not
      support bf16 is refused when the Trainer is built.
    * ``tf32``: within :meth:`Trainer.fit`, ``torch.backends.cuda.matmul.allow_tf32`` and
      ``torch.backends.cudnn.allow_tf32`` are set to True and restored afterwards (process-wide
      flags: other threads see them during the fit). No effect on CPU.
    * ``channels_last``: for image data (4-D), the model (and its EMA copy) are converted to
      ``torch.channels_last`` at the start of :meth:`Trainer.fit` and stay so; each batch is
      made channels_last. Same values up to floating-point reassociation; no-op for other data.
    * ``compile``: the model's forward (with its backward, and the double backward of ``ism``
      and ``sliced_sm``) goes through ``torch.compile(model, dynamic=False)``, compiled at the
      start of :meth:`Trainer.fit` on one batch of the objective (random draws stay outside
      the compiled graph, from the trainer's generator). If compilation fails (no compiler,
      an unsupported device or op), a RuntimeWarning says why and training runs eagerly.
    * ``log_every``: the per-step losses are kept on the device and moved to the host in one
      transfer every ``log_every`` optimisation steps, and before every checkpoint, evaluation
      and progress-bar update and at the end of the fit. The NaN guard checks them then: with
      ``log_every=1`` (default) it stops *before* the step of a non-finite loss, as always;
      with ``log_every`` > 1 up to ``log_every`` - 1 further steps may run on non-finite
      weights before it stops, no checkpoint is ever written from them, and the trainer is
      rolled back to its last good checkpoint (when this fit loaded or wrote one) before
      :class:`TrainingDiverged` is raised. ``history.loss`` still gets one mean loss per epoch,
      the same bits as with ``log_every=1``; during a fit it may lag the epoch counter until
      the next transfer.
    """

    epochs: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    objective: str = "dsm"
    weighting: str = "sigma2"
    t_min: float | None = None
    ema_decay: float = 0.999
    checkpoint_every: int = 10
    eval_every: int = 0
    early_stopping_metric: str | None = None
    patience: int = 0
    grad_clip: float | None = None
    n_probes: int = 1
    trace: str = "exact"
    progress: bool = False
    amp: str = "none"
    tf32: bool = False
    channels_last: bool = False
    compile: bool = False
    log_every: int = 1

    def __post_init__(self):
        _pos_int("epochs", self.epochs)
        _pos_int("batch_size", self.batch_size)
        object.__setattr__(self, "lr", check_positive("lr", self.lr))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= 2**63 - 1:
            raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {self.seed!r}")
        if self.objective not in losses.OBJECTIVES:
            raise ValueError(f"objective must be one of {sorted(losses.OBJECTIVES)}, got {self.objective!r}")
        if self.weighting not in losses.WEIGHTINGS:
            raise ValueError(f"weighting must be one of {losses.WEIGHTINGS}, got {self.weighting!r}")
        if self.t_min is not None:  # None: the process's, else 1e-3, resolved by the Trainer
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
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        for name in ("tf32", "channels_last", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        _pos_int("log_every", self.log_every, maximum=2**62)

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
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch's message suggests weights_only=False, i.e. running the file's code: never relay that advice
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            first = "it holds objects other than tensors and plain containers (code would run to load it)"
        raise CheckpointError(f"checkpoint {path} could not be read safely: {first}. scoreuq loads tensors only and "
                              "will not execute a checkpoint's code; use a checkpoint written by scoreuq") from None
    bad = [name for name, t in _tensors(state) if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise CheckpointError(f"checkpoint {path} holds NaN or infinite values in {shown}; refusing to load it")
    return state


def _tensors(obj, prefix=""):
    """``(name, tensor)`` for every tensor in a nested dict/list state."""
    if torch.is_tensor(obj):
        yield prefix or "tensor", obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _tensors(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _tensors(v, f"{prefix}[{i}]")


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


_UNCHECKED: dict = {}


def _without_time_checks(process):
    """A shallow copy of ``process`` whose ``marginal``/``perturb`` skip the validation of ``t``
    (:func:`scoreuq._validation.as_time`: three ``bool(tensor)`` host syncs per call). The trainer's
    times are drawn in ``[t_min, T]`` by construction and already have the data's dtype and device,
    so the arithmetic is unchanged. (Stopgap: ``perturb`` has no ``check_time`` switch as ``sde`` has.)"""
    cls = type(process)
    sub = _UNCHECKED.get(cls)
    if sub is None:
        def _t(self, t, x, check=True):
            return cls._t(self, t, x, False)

        sub = _UNCHECKED[cls] = type(f"_Unchecked{cls.__name__}", (cls,), {"_t": _t, "__module__": __name__})
    out = copy.copy(process)
    out.__class__ = sub
    return out


def _config_for(config: TrainConfig, process) -> TrainConfig:
    """``config`` with ``t_min`` resolved (:func:`~scoreuq.processes.resolve_t_min`): the given one, else
    the process's, else ``1e-3``; ``ValueError`` naming both when a given one contradicts the process's."""
    t_min = resolve_t_min(process, config.t_min, name="TrainConfig.t_min")
    return config if t_min == config.t_min else replace(config, t_min=t_min)


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
    optimizer : callable ``params -> torch.optim.Optimizer`` (default
        ``lambda params: torch.optim.Adam(params, lr=config.lr)``), e.g.
        ``lambda params: torch.optim.SGD(params, lr=1e-2, momentum=0.9)``
    scheduler : callable ``optimizer -> LR scheduler`` (optional), e.g.
        ``lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=10)``; stepped once per
        epoch, after the epoch's optimisation steps

    The optimiser's and the scheduler's states are checkpointed, so a resumed run is
    bit-identical to an uninterrupted one with injected ones too (build them the same way
    on resume). :meth:`fit` returns the trained EMA model, also at :attr:`ema_model`;
    :attr:`model` is the network being optimised.

    Early stopping in time: with a process carrying ``t_min`` (``process.early_stopped(t_min)``) and a
    config whose ``t_min`` is ``None``, :attr:`config` is the config with the process's ``t_min``;
    a config with another ``t_min`` is refused (``ValueError`` naming both).
    """

    def __init__(self, model, process, data: torch.Tensor, config: TrainConfig, *, run_dir=None,
                 true_score: Callable | None = None, eval_fn: Callable | None = None,
                 optimizer: Callable | None = None, scheduler: Callable | None = None):
        _check_data(data, "data must be a tensor of shape (N, ...) with N >= 1", data_ndim=None)
        config = _config_for(config, process)
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
        if config.amp == "bf16":
            try:  # constructing the context checks that the device type's autocast knows bf16
                torch.autocast(data.device.type, dtype=torch.bfloat16)
            except (AssertionError, RuntimeError, ValueError) as exc:
                raise ValueError(f"amp='bf16' is not supported on device {data.device}: {str(exc).splitlines()[0]}") from None
        self.optimizer = _make_optimizer(optimizer, model.parameters(), config.lr)
        self.scheduler = _make_scheduler(scheduler, self.optimizer)
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
        # what the loss calls: the compiled model, the bare process (an EarlyStopped one only adds t_min,
        # already in config) or one without time checks
        self._net, self._proc = model, bare(process)
        self._pending = []  # (loss on the device, batch size, epoch index) of steps not yet on the host
        self._acc = {}  # epoch index -> [sum of loss * batch size, count] on the host
        self._unlogged = []  # finished epochs not yet in history.loss
        self._good_checkpoint = False  # this fit loaded or wrote the checkpoint (a state to roll back to)

    @property
    def ema_model(self) -> torch.nn.Module:
        """The trained model to use: the EMA average of :attr:`model` (what :meth:`fit` returns)."""
        return self.ema.module

    # ------------------------------------------------------------------ checkpoints
    @property
    def checkpoint_path(self) -> Path | None:
        return self.run_dir / "checkpoints" / "last.pt" if self.run_dir is not None else None

    def state(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self._optimizer_state(),
            **({"scheduler": self.scheduler.state_dict()} if getattr(self, "scheduler", None) is not None else {}),
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
        self._sync()  # never write a checkpoint from weights that followed a non-finite loss
        path = save_checkpoint(self.checkpoint_path, self.state())
        self._good_checkpoint = True
        return path

    def load(self, path=None) -> None:
        st = load_checkpoint(path or self.checkpoint_path)
        try:
            self.model.load_state_dict(st["model"])
            self.ema.load_state_dict(st["ema"])
            self._load_optimizer_state(st["optimizer"])
            if getattr(self, "scheduler", None) is not None:
                if "scheduler" not in st:
                    raise KeyError("the checkpoint has no LR-scheduler state, but this trainer has a scheduler")
                self.scheduler.load_state_dict(st["scheduler"])
            self.epoch = int(st["epoch"])
            self._restore_rng(st["rng"], st.get("rng_device"))
            self.history.loss = [float(v) for v in st["loss"]]
            self._best, self._bad_evals = float(st["best"]), int(st["bad_evals"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint does not fit this model or trainer: {exc}") from None
        self._ema_groups = None
        self._pending, self._acc, self._unlogged = [], {}, []

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
    def _loss(self, batch, generator=None, net=None):
        c = self.config
        net = self._net if net is None else net
        common = dict(t_min=c.t_min, weighting_kind=c.weighting, generator=self.generator if generator is None else generator)
        if c.objective == "dsm":
            return losses.dsm(net, batch, self._proc, **common)
        if c.objective == "esm":
            return losses.esm(net, batch, self._proc, self.true_score, **common)
        if c.objective == "ism":
            return losses.ism(net, batch, self._proc, trace=c.trace, n_probes=c.n_probes, **common)
        return losses.sliced_sm(net, batch, self._proc, n_probes=c.n_probes, **common)

    def _autocast(self):
        if self.config.amp == "bf16":
            return torch.autocast(self.data.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _batch(self, idx) -> torch.Tensor:
        """The training batch ``data[idx]``, gathered on the data's device (``idx`` lives there too)."""
        batch = self.data[idx]
        if self.config.channels_last and batch.ndim == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    def train_epoch(self) -> float:
        """One epoch; returns its mean loss (which moves the epoch's losses to the host)."""
        self._run_epoch()
        self._sync()
        total, count = self._acc.pop(self.epoch)
        return total / count

    def _run_epoch(self) -> None:
        """One epoch whose step losses are queued on the device (:attr:`_pending`), moved to the host
        every ``log_every`` steps: no host synchronisation otherwise (with ``log_every`` > 1)."""
        c, n = self.config, self.data.shape[0]
        perm = torch.randperm(n, generator=self.generator, device=self.data.device)
        self.model.train()
        for i in range(0, n, c.batch_size):
            batch = self._batch(perm[i : i + c.batch_size])
            loss = self._step(batch)
            self._update_ema()
            self._pending.append((loss, batch.shape[0], self.epoch))
            if len(self._pending) >= c.log_every:
                self._sync()

    def _sync(self) -> None:
        """Move the queued step losses to the host (one transfer), check them (the NaN guard) and add
        them to their epochs' sums, in step order: the same float arithmetic as a per-step ``float(loss)``."""
        if not self._pending:
            return
        pend, self._pending = self._pending, []
        if len(pend) == 1:
            vals = [float(pend[0][0])]
        else:
            vals = torch.stack([p[0].float() for p in pend]).tolist()
        for v, (_, bs, ep) in zip(vals, pend):
            if not math.isfinite(v):
                raise self._diverged(v, ep, rolled_back=self._roll_back())
            acc = self._acc.setdefault(ep, [0.0, 0])
            acc[0] += v * bs
            acc[1] += bs

    def _roll_back(self) -> int | None:
        """After a non-finite loss found late (``log_every`` > 1): reload the last good checkpoint of this
        fit, whose weights precede it; returns its epoch, or None when there is none."""
        self._pending, self._acc, self._unlogged = [], {}, []
        if self.config.log_every == 1 or not self._good_checkpoint or self.checkpoint_path is None:
            return None
        self.load()
        return self.epoch

    def _log(self, sync: bool) -> None:
        """Append to ``history.loss`` the mean of every finished epoch whose losses are all on the host
        (after moving the queued ones there if ``sync``)."""
        if sync:
            self._sync()
        first_pending = self._pending[0][2] if self._pending else math.inf
        while self._unlogged and self._unlogged[0] < first_pending:
            total, count = self._acc.pop(self._unlogged.pop(0))
            self.history.loss.append(total / count)

    @torch.no_grad()
    def _update_ema(self) -> None:
        """``self.ema.update_parameters(self.model)``, the same arithmetic (torch's EMA: a copy at the
        first step, then one ``_foreach_lerp_`` per device and dtype over parameters and buffers), with
        the tensor lists built once per :meth:`fit`: AveragedModel rebuilds them every step, which
        cost ~9% of a 3×256 MLP's DSM step on CPU (benchmarks/bench_training.py). Whether this is the
        first update is read from the device once per fit, not at every step (a host sync on a GPU)."""
        if self._ema_groups is None:
            pairs = {}
            ema_t = itertools.chain(self.ema.module.parameters(), self.ema.module.buffers())
            model_t = itertools.chain(self.model.parameters(), self.model.buffers())
            for a, m in zip(ema_t, model_t, strict=True):
                grp = pairs.setdefault((a.device, a.dtype), ([], []))
                grp[0].append(a.detach())
                grp[1].append(m.detach())
            self._ema_groups = list(pairs.values())
            self._ema_first = bool(self.ema.n_averaged == 0)
        decay = self.config.ema_decay
        first = self._ema_first
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
        self._ema_first = False

    def _diverged(self, loss, epoch: int | None = None, rolled_back: int | None = None) -> TrainingDiverged:
        value = float(loss.detach()) if torch.is_tensor(loss) else float(loss)
        epoch = self.epoch if epoch is None else epoch
        ck = self.checkpoint_path
        on_disk = ck if ck is not None and ck.is_file() else None
        if rolled_back is not None:
            kept = f"the trainer was rolled back to the last good checkpoint ({ck}, epoch {rolled_back})"
        elif on_disk is not None:
            kept = f"the last good checkpoint ({on_disk}) is kept"
        elif ck is not None:
            kept = "no checkpoint had been written yet (there is no earlier state to go back to)"
        else:
            kept = "no checkpoint to go back to (none written: the trainer has no run_dir)"
        if rolled_back is None and self.config.log_every > 1:
            kept += f"; the weights in memory may hold up to log_every={self.config.log_every} steps past the non-finite loss"
        return TrainingDiverged(
            f"loss became {value} at epoch {epoch + 1}; training stopped, {kept}."
            f" Lower train.lr (now {self.config.lr:g}) or set train.grad_clip.", checkpoint=on_disk
        )

    def _step(self, batch) -> torch.Tensor:
        """One optimisation step on ``batch``; returns the detached loss. With ``log_every=1`` a
        non-finite loss stops before the step (a host sync); otherwise :meth:`_sync` checks later."""
        with self._autocast():
            loss = self._loss(batch)
        if self.config.log_every == 1 and not torch.isfinite(loss):
            raise self._diverged(loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return loss.detach()

    @contextlib.contextmanager
    def _fast_path(self):
        """The fit-long settings of the fast path: TF32 flags (restored on exit), channels_last,
        the compiled model, and (with ``log_every`` > 1) the process without per-step time checks."""
        c = self.config
        saved = None
        if c.tf32:
            saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        try:
            if c.channels_last and self.data.ndim == 4:
                self.model.to(memory_format=torch.channels_last)
                self.ema.module.to(memory_format=torch.channels_last)
            if c.log_every > 1 and self.process is not None:
                self._proc = _without_time_checks(bare(self.process))
            if c.compile:
                self._net = self._compiled_model()
            yield
        finally:
            self._net, self._proc = self.model, bare(self.process)
            if saved is not None:
                torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved

    def _compiled_model(self):
        """``torch.compile(model)``, compiled now by one forward and backward of the objective on a
        training-sized batch (a throwaway generator; the model's buffers are restored), or the eager
        model with a RuntimeWarning if compilation fails."""
        c = self.config
        buffers = [b.detach().clone() for b in self.model.buffers()]
        try:
            net = torch.compile(self.model, dynamic=False)
            batch = self._batch(torch.arange(min(c.batch_size, self.data.shape[0]), device=self.data.device))
            g = torch.Generator(device=self.data.device).manual_seed(0)
            with self._autocast():
                loss = self._loss(batch, generator=g, net=net)
            params = [p for p in self.model.parameters() if p.requires_grad]
            torch.autograd.grad(loss, params, allow_unused=True)
        except Exception as exc:  # noqa: BLE001 - any failure of the compiler means: train eagerly
            msg = (str(exc).strip().splitlines() or [""])[0][:300]
            warnings.warn(f"compile=True: torch.compile failed on {self.data.device} ({type(exc).__name__}: {msg});"
                          " training continues in eager mode", RuntimeWarning, stacklevel=3)
            return self.model
        finally:
            with torch.no_grad():
                for b, v in zip(self.model.buffers(), buffers):
                    b.copy_(v)
        return net

    def fit(self, *, resume: bool = True) -> torch.nn.Module:
        """Train until ``config.epochs`` (or early stopping); resumes from the last checkpoint if one exists.

        Returns the trained EMA model (:attr:`ema_model`); the loss history is :attr:`history`."""
        c = self.config
        self._good_checkpoint = False
        self._pending, self._acc, self._unlogged = [], {}, []
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load()
            self._good_checkpoint = True
        self._ema_groups = None  # the model may have been moved or reloaded since the last fit
        # progress=True shows the bar on a terminal only (tqdm's disable=None), so logs get no frames;
        # SCOREUQ_PROGRESS=1 (the CLI's --verbose) shows it off a terminal too
        disable = True if not c.progress else (False if os.environ.get("SCOREUQ_PROGRESS") == "1" else None)
        bar = tqdm(total=c.epochs, initial=self.epoch, disable=disable, desc="train", unit="epoch")
        try:
            with self._fast_path():
                while self.epoch < c.epochs:
                    self._run_epoch()
                    if getattr(self, "scheduler", None) is not None:
                        self.scheduler.step()
                    self.epoch += 1
                    self._unlogged.append(self.epoch - 1)
                    bar.update(1)
                    evaluate = bool(c.eval_every and self.eval_fn is not None and self.epoch % c.eval_every == 0)
                    save = self.epoch % c.checkpoint_every == 0 or self.epoch == c.epochs
                    self._log(sync=evaluate or save or c.progress)
                    if c.progress and self.history.loss:
                        bar.set_postfix(loss=f"{self.history.loss[-1]:.4g}")
                    if evaluate:
                        if self._evaluate():
                            self.history.stopped_early = True
                            self.save()
                            break
                    if save:
                        self.save()
                self._log(sync=True)
        finally:
            bar.close()
        return self.ema.module

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


def _make_optimizer(factory, params, lr):
    if factory is None:
        return torch.optim.Adam(params, lr=lr)
    if not callable(factory):
        raise ValueError(f"optimizer must be a callable params -> torch.optim.Optimizer, got {type(factory).__name__}")
    opt = factory(params)
    if not isinstance(opt, torch.optim.Optimizer):
        raise ValueError(f"optimizer must return a torch.optim.Optimizer, got {type(opt).__name__}")
    return opt


def _make_scheduler(factory, optimizer):
    if factory is None:
        return None
    if not callable(factory):
        raise ValueError(f"scheduler must be a callable optimizer -> LR scheduler, got {type(factory).__name__}")
    sch = factory(optimizer)
    if not all(hasattr(sch, a) for a in ("step", "state_dict", "load_state_dict")):
        raise ValueError(f"scheduler must return an LR scheduler (with step, state_dict, load_state_dict), got {type(sch).__name__}")
    return sch


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
        for name, off in (("amp", "none"), ("channels_last", False), ("compile", False)):
            if getattr(config, name) != off:
                raise ValueError(f"{name}={getattr(config, name)!r} is not supported by PushforwardTrainer (the score-model Trainer only)")
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
