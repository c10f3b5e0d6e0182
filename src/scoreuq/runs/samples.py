"""Sampling a run's model, and its sample files (``samples/<sampler>-n<N>-seed<S>.safetensors``,
byte-identical for identical samples)."""
from __future__ import annotations

import copy
import json
import struct
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from .. import figures, sampling
from .._device import check_module_device
from .._io import atomic_write
from .config import SAMPLERS, ConfigError
from .folders import Run

__all__ = ["score_fn_of", "sample", "sample_to_file", "load_samples", "checked_samples"]


def score_fn_of(model):
    """``(x, t) -> s`` evaluating ``model`` in eval mode, in the model's dtype. ``x`` must be on the
    model's device (a ValueError names both devices otherwise); ``t`` is moved there."""
    model.eval()
    p = next(model.parameters())
    dtype, device = p.dtype, p.device

    def fn(x, t):
        if x.device != device:
            check_module_device(model, x.device, "the input x")
        return model(x.to(dtype), t.to(dtype=dtype, device=x.device)).to(x.dtype)

    return fn


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
    raw = save(tensors, metadata=metadata)
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.dumps(json.loads(raw[8:8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + raw[8 + n:]


def sample_to_file(run: Run, *, n=None, sampler=None, steps=None, seed: int = 0) -> Path:
    """Sample and write ``samples/<sampler>-n<N>-seed<S>.safetensors`` (byte-identical for identical
    samples) and a figure beside it."""
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
    """The samples of a file written by :func:`sample_to_file`; a ConfigError for any other file."""
    try:
        return load_file(str(path))["samples"]
    except Exception as exc:
        raise ConfigError(f"{path} is not a samples file written by scoreuq sample: {exc}") from None


def checked_samples(run: Run, samples, name: str = "samples") -> torch.Tensor:
    """``samples`` as a tensor, refused unless shaped like the run's data and finite."""
    x = torch.as_tensor(samples)
    if x.shape[1:] != run.data.train.shape[1:]:
        raise ConfigError(f"{name} have shape {tuple(x.shape[1:])}, the run's data {tuple(run.data.train.shape[1:])}")
    if not bool(torch.isfinite(x).all()):
        raise FloatingPointError(f"the {name} contain NaN or infinite values")
    return x
