r"""Samplers driven by any score function ``s(x, t)``.

All samplers share one signature::

    sampler(score_fn, process, shape, *, steps, t_min=1e-3, generator=None,
            x_init=None, return_trajectory=False, dtype=None, device=None,
            callback=None, **options)

``score_fn(x, t)`` is any callable (or ``nn.Module``) taking a batch ``x`` of shape
``shape`` and times ``t`` of shape ``(n,)`` and returning a tensor shaped like ``x``.
Time runs on the uniform grid :math:`T = t_0 > t_1 > \dots > t_{steps} = t_{\min}`;
``t_min > 0`` is the early-stopping time :math:`\varepsilon` of the WUP bound.
Randomness comes only from ``generator``; global random state is never touched.
With ``return_trajectory=True`` a :class:`SampleResult` holds the whole path
(``steps + 1`` states, the first the prior draw), which the SIEM metric reads.

``callback(k, t, x, noise)``, if given, sees the same path one state at a time without
storing it: it is called once with the initial state (``k = 0``, ``t = times[0]``,
``noise=None``) and then after every step with ``k`` the index of the new state
(``x is path[k]``, ``t = times[k]``) and ``noise`` the Gaussian increment that step
*added* to the state (already scaled, e.g. :math:`g(t_k)\sqrt{\Delta t}\,z_k` for
Euler–Maruyama; the sum of all increments of the step when it has several, as with a
corrector), or ``None`` when the step added none (ODE steps, the ``denoise`` step).
:class:`scoreuq.metrics.SIEMRecorder` is such a callback. With ``callback=None``
the samplers compute exactly what they computed without it (bit-identical outputs).
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import torch

from ._validation import append_dims, check_in_range, check_positive

__all__ = [
    "SampleResult",
    "euler_maruyama",
    "predictor_corrector",
    "probability_flow",
    "langevin",
    "annealed_langevin",
]

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SampleResult(NamedTuple):
    """Samples with their path: ``path[k]`` is the state at ``times[k]``."""

    samples: torch.Tensor
    path: torch.Tensor
    times: torch.Tensor


def _setup(process, shape, steps, t_min, x_init, generator, dtype, device):
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    t_min = check_in_range("t_min", t_min, 0.0, process.T, low_open=True, high_open=True)
    shape = tuple(int(s) for s in shape)
    if len(shape) < 1 or any(s < 1 for s in shape):
        raise ValueError(f"shape must be a non-empty tuple of positive sizes, got {shape}")
    if x_init is None:
        x = process.prior(shape, generator=generator, dtype=dtype, device=device)
    else:
        if tuple(x_init.shape) != shape:
            raise ValueError(f"x_init must have shape {shape}, got {tuple(x_init.shape)}")
        x = x_init.to(dtype=dtype or x_init.dtype, device=device or x_init.device).clone()
    ts = torch.linspace(process.T, t_min, steps + 1, dtype=torch.float64)
    return x, ts, t_min


def _score(score_fn, x, t: float):
    tt = torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device)
    s = score_fn(x, tt)
    if s.shape != x.shape:
        raise ValueError(f"score_fn returned shape {tuple(s.shape)} for input shape {tuple(x.shape)}")
    return s, tt


def _randn(x, generator):
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _finish(x, path, ts, return_trajectory):
    if not bool(torch.isfinite(x).all()):
        raise FloatingPointError("the sampler produced NaN or infinite values; reduce the step size or check the score model")
    if return_trajectory:
        return SampleResult(x, torch.stack(path), ts.to(dtype=x.dtype, device=x.device))
    return x


def _em_step(score_fn, process, x, t, dt, generator, noise: bool):
    """One Euler–Maruyama step of the reverse SDE from t to t - dt; returns (x, x_mean, xi)
    with ``xi`` the noise increment added (``None`` without noise).
    The grid was validated once in ``_setup``, hence ``check_time=False`` in the hot loop."""
    s, tt = _score(score_fn, x, t)
    x_mean = x - process.reverse_drift(x, tt, s, check_time=False) * dt
    if not noise:
        return x_mean, x_mean, None
    g = append_dims(process.diffusion(tt), x.ndim)
    xi = g * math.sqrt(dt) * _randn(x, generator)
    return x_mean + xi, x_mean, xi


def _add_noise(total, xi):
    """Sum of the noise increments of one step (``None`` when there is none)."""
    if xi is None:
        return total
    return xi if total is None else total + xi


@torch.no_grad()
def euler_maruyama(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 1000,
    t_min: float = 1e-3,
    generator=None,
    x_init=None,
    return_trajectory: bool = False,
    dtype=None,
    device=None,
    denoise: bool = True,
    callback=None,
):
    r"""Euler–Maruyama on the reverse-time SDE (thesis (003) §2.3.2, eq. 2.18):

    .. math::

        x_{k+1} = x_k - \big[f(x_k, t_k) - g(t_k)^2 s(x_k, t_k)\big]\Delta t
                  + g(t_k)\sqrt{\Delta t}\, z_k .

    ``denoise=True`` leaves out the noise of the last step (returns its mean), as
    score_sde does. ``callback(k, t, x, noise)``: see the module docstring.
    """
    x, ts, _ = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)
    path = [x] if return_trajectory else None
    if callback is not None:
        callback(0, float(ts[0]), x, None)
    for k in range(steps):
        t, dt = float(ts[k]), float(ts[k] - ts[k + 1])
        x, _, xi = _em_step(score_fn, process, x, t, dt, generator, noise=not (denoise and k == steps - 1))
        if path is not None:
            path.append(x)
        if callback is not None:
            callback(k + 1, float(ts[k + 1]), x, xi)
    return _finish(x, path, ts, return_trajectory)


def _langevin_corrector(score_fn, process, x, t, dt, snr, n_steps, generator, want_noise: bool = False):
    """Langevin corrector of Song et al. (2021), Algorithm 5: step from the signal-to-noise rule.
    Returns ``(x, noise)``, ``noise`` the summed increments ``sqrt(2 eps) z`` when ``want_noise``
    (else ``None``)."""
    total = None
    for _ in range(n_steps):
        s, tt = _score(score_fn, x, t)
        z = _randn(x, generator)
        grad_norm = s.flatten(1).norm(dim=1).mean()
        noise_norm = z.flatten(1).norm(dim=1).mean()
        alpha = process.corrector_alpha(tt, dt)
        eps = 2 * alpha * (snr * noise_norm / grad_norm.clamp_min(torch.finfo(x.dtype).tiny)) ** 2
        eps = append_dims(eps, x.ndim)
        xi = torch.sqrt(2 * eps) * z
        x = x + eps * s + xi
        if want_noise:
            total = _add_noise(total, xi)
    return x, total


@torch.no_grad()
def predictor_corrector(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 500,
    t_min: float = 1e-3,
    generator=None,
    x_init=None,
    return_trajectory: bool = False,
    dtype=None,
    device=None,
    snr: float = 0.16,
    n_corrector: int = 1,
    denoise: bool = True,
    callback=None,
):
    r"""Predictor–corrector sampling (Song et al. 2021, Algorithms 2–5; seminar (000) §3.2).

    At each grid time :math:`t_k`: ``n_corrector`` Langevin corrector steps
    :math:`x \leftarrow x + \epsilon s + \sqrt{2\epsilon} z` with
    :math:`\epsilon = 2\alpha_k (r\,\|z\| / \|s\|)^2` (``r = snr``, norms averaged over
    the batch), then one Euler–Maruyama predictor step of the reverse SDE.
    ``callback(k, t, x, noise)``: see the module docstring (``noise`` sums the corrector's and
    the predictor's increments of the step).
    """
    snr = check_positive("snr", snr)
    if isinstance(n_corrector, bool) or not isinstance(n_corrector, int) or n_corrector < 0:
        raise ValueError(f"n_corrector must be an integer >= 0, got {n_corrector!r}")
    x, ts, _ = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)
    path = [x] if return_trajectory else None
    if callback is not None:
        callback(0, float(ts[0]), x, None)
    for k in range(steps):
        t, dt = float(ts[k]), float(ts[k] - ts[k + 1])
        x, xi_c = _langevin_corrector(score_fn, process, x, t, dt, snr, n_corrector, generator, callback is not None)
        x, _, xi = _em_step(score_fn, process, x, t, dt, generator, noise=not (denoise and k == steps - 1))
        if path is not None:
            path.append(x)
        if callback is not None:
            callback(k + 1, float(ts[k + 1]), x, _add_noise(xi_c, xi))
    return _finish(x, path, ts, return_trajectory)


@torch.no_grad()
def probability_flow(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 200,
    t_min: float = 1e-3,
    generator=None,
    x_init=None,
    return_trajectory: bool = False,
    dtype=None,
    device=None,
    callback=None,
    solver: str = "heun",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    stats: dict | None = None,
):
    r"""Probability-flow ODE :math:`\dot x = f(x,t) - \tfrac12 g(t)^2 s(x,t)` (Song et al. 2021,
    eq. 13), integrated from ``T`` to ``t_min`` with the fixed-step Heun method (second order,
    EDM's Algorithm 1 without churn; ``solver="heun"``, ``steps`` steps) or the adaptive
    Dormand–Prince RK5(4) of :mod:`scoreuq.likelihood` (``solver="rk45"``, tolerances ``rtol`` and
    ``atol``; ``steps`` is then ignored, and neither a trajectory nor a callback is available).
    Randomness enters only through the prior draw, so a ``callback`` always receives ``noise=None``.
    A dict passed as ``stats`` receives ``nfe``, the number of score evaluations.
    """
    if solver not in ("heun", "rk45"):
        raise ValueError(f"solver must be 'heun' or 'rk45', got {solver!r}")
    x, ts, t_min = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)
    if solver == "rk45":
        if return_trajectory or callback is not None:
            raise ValueError("return_trajectory and callback need a fixed time grid: use solver='heun' with them")
        from .likelihood import solve_probability_flow

        x, nfe = solve_probability_flow(score_fn, process, x, t_min=t_min, rtol=rtol, atol=atol)
        if stats is not None:
            stats["nfe"] = int(nfe)
        return _finish(x, None, ts, False)
    if stats is not None:
        stats["nfe"] = 2 * steps
    path = [x] if return_trajectory else None

    def v(y, t):
        s, tt = _score(score_fn, y, t)
        return process.probability_flow_drift(y, tt, s, check_time=False)

    if callback is not None:
        callback(0, float(ts[0]), x, None)

    for k in range(steps):
        t, t_next = float(ts[k]), float(ts[k + 1])
        h = t_next - t  # negative: integrating backwards in time
        d = v(x, t)
        x_euler = x + h * d
        x = x + 0.5 * h * (d + v(x_euler, t_next))
        if path is not None:
            path.append(x)
        if callback is not None:
            callback(k + 1, t_next, x, None)
    return _finish(x, path, ts, return_trajectory)


@torch.no_grad()
def langevin(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 1000,
    t_min: float = 1e-3,
    generator=None,
    x_init=None,
    return_trajectory: bool = False,
    dtype=None,
    device=None,
    step_size: float = 1e-3,
    callback=None,
):
    r"""Unadjusted Langevin dynamics (thesis (003) §2.2.4) on the score at ``t_min``:

    .. math::

        x_{k+1} = x_k + \gamma\, s(x_k, t_{\min}) + \sqrt{2\gamma}\, z_k .

    Started from the process prior unless ``x_init`` is given. With an unequally
    weighted mixture it does not respect the weights (003 App. C.3).
    """
    gamma = check_positive("step_size", step_size)
    x, ts, t_min = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)
    path = [x] if return_trajectory else None
    if callback is not None:
        callback(0, t_min, x, None)
    for k in range(steps):
        s, _ = _score(score_fn, x, t_min)
        xi = math.sqrt(2 * gamma) * _randn(x, generator)
        x = x + gamma * s + xi
        if path is not None:
            path.append(x)
        if callback is not None:
            callback(k + 1, t_min, x, xi)
    return _finish(x, path, torch.full((steps + 1,), t_min, dtype=torch.float64), return_trajectory)


@torch.no_grad()
def annealed_langevin(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 100,
    t_min: float = 1e-3,
    generator=None,
    x_init=None,
    return_trajectory: bool = False,
    dtype=None,
    device=None,
    n_inner: int = 10,
    step_size: float = 0.05,
    callback=None,
):
    r"""Annealed Langevin dynamics (thesis (003) §2.2.5, Algorithm 2; Song & Ermon 2019, Algorithm 1).

    Noise levels are the process's marginal standard deviations
    :math:`\sigma_j = s(t_j)` on the time grid (``steps`` levels from ``T`` down to
    ``t_min``); at level :math:`j`, ``n_inner`` Langevin steps
    :math:`x \leftarrow x + \gamma_j s(x, t_j) + \sqrt{2\gamma_j}\,z` with
    :math:`\gamma_j = r\,\sigma_j^2`, ``r = step_size``. In Song & Ermon's notation
    :math:`\gamma_j = \epsilon\,\sigma_j^2/\sigma_L^2`, so :math:`r = \epsilon/\sigma_L^2`; stating
    the dimensionless :math:`r` keeps the step stable whatever the smallest noise level
    (the score's Lipschitz constant at level :math:`j` is about :math:`1/\sigma_j^2`, so ``r < 1``).
    """
    eps = check_positive("step_size", step_size)
    if isinstance(n_inner, bool) or not isinstance(n_inner, int) or n_inner < 1:
        raise ValueError(f"n_inner must be an integer >= 1, got {n_inner!r}")
    x, ts, _ = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)
    levels = ts[1:]
    sig = process.marginal_std(levels)
    path = [x] if return_trajectory else None
    if callback is not None:
        callback(0, float(ts[0]), x, None)
    for j in range(steps):
        gamma = eps * float(sig[j]) ** 2
        total = None
        for _ in range(n_inner):
            s, _ = _score(score_fn, x, float(levels[j]))
            xi = math.sqrt(2 * gamma) * _randn(x, generator)
            x = x + gamma * s + xi
            if callback is not None:
                total = _add_noise(total, xi)
        if path is not None:
            path.append(x)
        if callback is not None:
            callback(j + 1, float(levels[j]), x, total)
    return _finish(x, path, ts, return_trajectory)
