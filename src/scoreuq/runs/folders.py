"""Run folders: the :class:`Run` object, ``prepare`` (every check before a folder exists), the
auto-numbered run directory, and the cleanup of folders a failed call created.

Layout of a run directory (every file written atomically)::

    00003-circle/
      config.yaml            the resolved config (all defaults filled in)
      checkpoints/last.pt    model, EMA, optimiser, RNG, epoch (+ .sha256)
      history.json           loss per epoch, evaluations
      loss.png  samples.png  score_field.png (2-D score models)
      samples/<sampler>-n<N>-seed<S>.safetensors
      metrics.json           W1 / sliced W / MMD / Sinkhorn against held-out data (+ Fréchet for images), each with floor, spread, resolved
      bound.json  bound.md   the WUP bound and its audit
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from .build import RunData, build_data, build_model, build_process, check_model_fits, resolve_device
from .config import RunConfig

__all__ = ["Run", "prepare", "new_run_dir", "first_missing", "remove_created"]

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


def first_missing(path: Path) -> Path | None:
    """The topmost ancestor of ``path`` (or ``path`` itself) that does not exist yet; None if it exists."""
    path = Path(path).absolute()
    missing = None
    while not path.exists():
        missing, path = path, path.parent
    return missing


def remove_created(run_dir: Path, fresh: Path) -> None:
    """Remove ``run_dir`` and the empty folders this call created above it, up to ``fresh``
    (the :func:`first_missing` folder recorded before the call created anything)."""
    shutil.rmtree(run_dir, ignore_errors=True)
    p, top = run_dir.absolute().parent, fresh.absolute()
    while p != top.parent and (p == top or top in p.parents):
        try:
            p.rmdir()  # only if empty: another run may have appeared beside ours
        except OSError:
            break
        p = p.parent
