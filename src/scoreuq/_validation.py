"""Input checks shared by every module.

Every public function validates what it is given and raises ``ValueError``
naming the parameter and the allowed range, so that bad input never turns
into a silent NaN further down.
"""
from __future__ import annotations

import math
from typing import Any

import torch

__all__ = [
    "append_dims",
    "check_positive",
    "check_int",
    "check_in_range",
    "check_finite",
    "check_points",
    "as_time",
]


def append_dims(v: torch.Tensor, ndim: int) -> torch.Tensor:
    """Append trailing singleton dimensions to ``v`` until it has ``ndim`` dimensions.

    The one broadcasting helper of the package (as k-diffusion's ``append_dims``):
    a per-sample quantity of shape ``(n,)`` becomes ``(n, 1, ..., 1)`` so that it
    multiplies a batch of any rank.
    """
    extra = ndim - v.ndim
    if extra < 0:
        raise ValueError(f"cannot append dims: tensor has {v.ndim} dims, target {ndim}")
    return v.reshape(v.shape + (1,) * extra)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, (str, bytes, bool)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if math.isnan(v):
        raise ValueError(f"{name} must be a real number, got NaN")
    return v


def check_int(name: str, value: Any, minimum: int = 1, error=ValueError) -> int:
    """Return ``value`` if it is an integer (not a bool) >= ``minimum``, else raise ``error``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise error(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def check_choice(name: str, value: Any, allowed, error=ValueError):
    """Return ``value`` if it is one of ``allowed``, else raise ``error`` naming ``name`` and the choices."""
    if value not in allowed:
        raise error(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def check_positive(name: str, value: Any) -> float:
    """Return ``float(value)`` if it is finite and > 0, else raise ``ValueError``."""
    v = _as_float(name, value)
    if not (v > 0) or math.isinf(v):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_in_range(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``float(value)`` if it lies in the given interval, else raise ``ValueError``."""
    lb = "(" if low_open else "["
    rb = ")" if high_open else "]"
    msg = f"{name} must lie in {lb}{low:g}, {high:g}{rb}, got {value!r}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(msg) from None
    ok_low = v > low if low_open else v >= low
    ok_high = v < high if high_open else v <= high
    if not (ok_low and ok_high):  # also catches NaN
        raise ValueError(msg)
    return v


def check_finite(name: str, x: torch.Tensor) -> torch.Tensor:
    """Raise ``ValueError`` if ``x`` holds NaN or infinite values."""
    if not torch.is_tensor(x):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def check_points(name: str, x: Any, *, dim: int | None = None, min_n: int = 1, check: bool = True) -> torch.Tensor:
    """Validate a point cloud of shape ``(n, d)`` (``(n,)`` is read as ``(n, 1)``).

    Accepts tensors and array-likes; returns a floating tensor. ``check=False`` skips the
    finiteness scan (for callers that check a cheaper derived tensor instead).
    """
    if not torch.is_tensor(x):
        try:
            x = torch.as_tensor(x)
        except Exception as exc:  # pragma: no cover - message path
            raise ValueError(f"{name} must be array-like of shape (n, d): {exc}") from None
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (n, d), got shape {tuple(x.shape)}")
    if x.shape[0] < min_n:
        raise ValueError(f"{name} must hold at least {min_n} point(s), got {x.shape[0]}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns, got shape {tuple(x.shape)}")
    return check_finite(name, x) if check else x


def as_time(t: Any, n: int, *, like: torch.Tensor, T: float, name: str = "t") -> torch.Tensor:
    """Broadcast a time (scalar or shape ``(n,)``) to a tensor of shape ``(n,)``.

    Raises ``ValueError`` if any time lies outside ``[0, T]`` or is NaN.
    """
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        t = t.expand(n)
    elif t.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},), got shape {tuple(t.shape)}")
    if bool(torch.isnan(t).any()):
        raise ValueError(f"{name} contains NaN")
    if bool((t < 0).any()) or bool((t > T * (1 + 1e-12)).any()):
        raise ValueError(
            f"{name} must lie in [0, T] = [0, {T:g}], got values in "
            f"[{float(t.min()):g}, {float(t.max()):g}]"
        )
    return t
