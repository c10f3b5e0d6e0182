r"""Score-matching objectives — the WUP paper's error source (c), the choice of objective.

All four share one convention so that their values can be compared:

.. math::

    J(\theta) = \mathbb E_{t\sim U[t_{\min}, T]}\;\lambda(t)\;\mathbb E_{x_0\sim\pi}\,\mathbb E_{x_t\sim p_t(\cdot|x_0)}\,[\ \cdot\ ],

summed over data dimensions and averaged over the batch, with weighting
:math:`\lambda(t)` one of ``"none"`` (1), ``"sigma2"`` (:math:`s(t)^2`, Song & Ermon) or
``"likelihood"`` (:math:`g(t)^2`, Song et al. 2021's likelihood weighting).

* :func:`dsm` — denoising score matching (Vincent 2011; thesis (003) eq. 2.16):
  :math:`\|s_\theta(x_t,t) - \nabla\log p_t(x_t|x_0)\|^2`.
* :func:`esm` — explicit score matching against a known score (Gaussian mixtures, or the
  exact score of the Gaussian-smoothed empirical law): :math:`\|s_\theta - \nabla\log p_t\|^2`.
* :func:`ism` — implicit score matching (Hyvärinen 2005; 003 §2.2.3):
  :math:`\|s_\theta\|^2 + 2\,\mathrm{tr}\,\nabla_x s_\theta`, exact trace or Hutchinson's estimator.
* :func:`sliced_sm` — sliced score matching (Song et al. 2019):
  :math:`2\,v^\top\nabla_x s_\theta\,v + (v^\top s_\theta)^2`, :math:`v\sim\mathcal N(0,I)`.

With this scaling they differ only by constants (independent of :math:`\theta`):
:math:`J_{DSM} - J_{ESM} = \mathbb E\,\lambda\,(\mathbb E\|\nabla\log p_t(x_t|x_0)\|^2 - \mathbb E\|\nabla\log p_t(x_t)\|^2)`
and :math:`J_{ESM} - J_{ISM} = J_{ESM} - J_{SSM} = \mathbb E\,\lambda\,\|\nabla\log p_t\|^2`,
so all four are minimised by the true score (tested for Gaussian data).
Sliced SM here is twice Song et al.'s form, to share the scale of ISM.
"""
from __future__ import annotations

from typing import Callable

import torch

from ._validation import append_dims, check_in_range
from .processes import resolve_t_min

__all__ = ["WEIGHTINGS", "weighting", "sample_times", "dsm", "esm", "ism", "sliced_sm", "OBJECTIVES"]

WEIGHTINGS = ("none", "sigma2", "likelihood")


def weighting(process, t: torch.Tensor, kind: str) -> torch.Tensor:
    r""":math:`\lambda(t)` of shape ``(n,)``."""
    if kind == "none":
        return torch.ones_like(t)
    if kind == "sigma2":
        return process.marginal_std(t) ** 2
    if kind == "likelihood":
        return process.diffusion(t) ** 2
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {kind!r}")


def sample_times(n: int, process, t_min: float | None = None, *, generator=None, like: torch.Tensor) -> torch.Tensor:
    """``n`` times uniform on ``[t_min, T]``; ``t_min=None``: the process's own
    (``process.early_stopped(t_min)``), else 1e-3; one contradicting the process's is refused."""
    t_min = check_in_range("t_min", resolve_t_min(process, t_min), 0.0, process.T, low_open=True, high_open=True)
    u = _draw(torch.rand, (n,), generator, like)
    return t_min + (process.T - t_min) * u


def _draw(fn, shape, generator, like):
    """``fn(shape)`` drawn on the generator's device, then moved to ``like``'s device and dtype."""
    dev = generator.device if generator is not None else like.device
    return fn(shape, generator=generator, dtype=like.dtype, device=dev).to(like.device)


def _perturbed(x0, process, t_min, generator, t):
    if t is None:
        t = sample_times(x0.shape[0], process, t_min, generator=generator, like=x0)
    xt, z = process.perturb(x0, t, generator=generator)
    return t, xt, z


def _sq(v: torch.Tensor) -> torch.Tensor:
    return v.pow(2).flatten(1).sum(1)


def dsm(model, x0, process, *, t_min: float | None = None, weighting_kind: str = "sigma2", generator=None, t=None, reduce: bool = True):
    r"""Denoising score matching, :math:`\lambda(t)\|s_\theta(x_t,t) + z/s(t)\|^2` with
    :math:`x_t = a(t)x_0 + b(t) + s(t)z` (003 eq. 2.16; the seminar's training loss)."""
    t, xt, z = _perturbed(x0, process, t_min, generator, t)
    std = append_dims(process.marginal_std(t), x0.ndim)
    lam = weighting(process, t, weighting_kind)
    per = lam * _sq(model(xt, t) + z / std)
    return per.mean() if reduce else per


def esm(model, x0, process, true_score: Callable, *, t_min: float | None = None, weighting_kind: str = "sigma2", generator=None, t=None, reduce: bool = True):
    r"""Explicit score matching against ``true_score(x, t)`` (the exact :math:`\nabla\log p_t`),
    :math:`\lambda(t)\|s_\theta(x_t,t) - \nabla\log p_t(x_t)\|^2`, with :math:`x_t` drawn from
    :math:`p_t` by perturbing ``x0``. For real data pass the exact score of the Gaussian-smoothed
    empirical law, ``scoreuq.data.Empirical(train).score_fn(process)``."""
    t, xt, _ = _perturbed(x0, process, t_min, generator, t)
    with torch.no_grad():
        target = true_score(xt, t)
    lam = weighting(process, t, weighting_kind)
    per = lam * _sq(model(xt, t) - target)
    return per.mean() if reduce else per


def _probe(shape, kind, generator, like):
    if kind == "rademacher":
        return torch.sign(_draw(torch.rand, shape, generator, like) - 0.5)
    return _draw(torch.randn, shape, generator, like)


def _vjv(model, xt, t, v):
    """Returns (s, v^T (grad_x s) v) with a graph for training."""
    xt = xt.detach().requires_grad_(True)
    s = model(xt, t)
    (jtv,) = torch.autograd.grad((s * v).sum(), xt, create_graph=True)
    return s, (jtv * v).flatten(1).sum(1)


def ism(model, x0, process, *, trace: str = "exact", n_probes: int = 1, t_min: float | None = None, weighting_kind: str = "sigma2", generator=None, t=None, reduce: bool = True):
    r"""Implicit score matching, :math:`\lambda(t)\,[\|s_\theta\|^2 + 2\,\mathrm{tr}\,\nabla_x s_\theta]` at
    :math:`x_t\sim p_t`. ``trace="exact"`` takes one backward pass per dimension (low dimension);
    ``trace="hutchinson"`` uses :math:`\mathbb E_v[v^\top\nabla_x s\,v]` with ``n_probes`` Rademacher probes."""
    if trace not in ("exact", "hutchinson"):
        raise ValueError(f"trace must be 'exact' or 'hutchinson', got {trace!r}")
    t, xt, _ = _perturbed(x0, process, t_min, generator, t)
    xt = xt.detach().requires_grad_(True)
    s = model(xt, t)
    sf = s.flatten(1)
    if trace == "exact":
        tr = torch.zeros(xt.shape[0], dtype=xt.dtype, device=xt.device)
        for i in range(sf.shape[1]):
            (g,) = torch.autograd.grad(sf[:, i].sum(), xt, create_graph=True)
            tr = tr + g.flatten(1)[:, i]
    else:
        tr = torch.zeros(xt.shape[0], dtype=xt.dtype, device=xt.device)
        for _ in range(n_probes):
            v = _probe(xt.shape, "rademacher", generator, xt)
            (jtv,) = torch.autograd.grad((s * v).sum(), xt, create_graph=True)
            tr = tr + (jtv * v).flatten(1).sum(1)
        tr = tr / n_probes
    per = weighting(process, t, weighting_kind) * (_sq(s) + 2 * tr)
    return per.mean() if reduce else per


def sliced_sm(model, x0, process, *, n_probes: int = 1, variance_reduction: bool = False, t_min: float | None = None, weighting_kind: str = "sigma2", generator=None, t=None, reduce: bool = True):
    r"""Sliced score matching (Song et al. 2019), :math:`\lambda(t)\,[2v^\top\nabla_x s_\theta v + (v^\top s_\theta)^2]`,
    :math:`v\sim\mathcal N(0, I)`; ``variance_reduction=True`` replaces :math:`(v^\top s)^2` by its mean :math:`\|s\|^2` (SSM-VR)."""
    t, xt, _ = _perturbed(x0, process, t_min, generator, t)
    total = torch.zeros(xt.shape[0], dtype=xt.dtype, device=xt.device)
    for _ in range(n_probes):
        v = _probe(xt.shape, "gaussian", generator, xt)
        s, vjv = _vjv(model, xt, t, v)
        quad = _sq(s) if variance_reduction else (s * v).flatten(1).sum(1) ** 2
        total = total + 2 * vjv + quad
    per = weighting(process, t, weighting_kind) * total / n_probes
    return per.mean() if reduce else per


#: name -> objective, for configs
OBJECTIVES = {"dsm": dsm, "esm": esm, "ism": ism, "sliced_sm": sliced_sm}
