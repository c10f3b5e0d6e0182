r"""Samplers driven by any score function ``s(x, t)``.

**The core** is one function over a time grid, in the style of k-diffusion's samplers
(``sample_euler(model, x, sigmas, ...)``)::

    sample(score_fn, x, ts, *, process, method="em", generator=None, callback=None,
           return_trajectory=False, **options)

``x`` is the initial state (e.g. ``process.prior(shape, generator=g)``) at time ``ts[0]`` and
``ts`` a strictly decreasing 1-D tensor of times in ``(0, T]``; each method integrates the
reverse-time SDE of Song et al. (2021) (``"em"``, ``"pc"``), its probability-flow ODE
(``"ode"``) or anneals Langevin dynamics over the noise levels (``"annealed_langevin"``) from
``ts[0]`` down to ``ts[-1]``, the early-stopping time :math:`\varepsilon` of seminar (000) (and
of the WUP bound). :func:`time_grid` (or ``process.time_grid(steps)``) builds the uniform grid
:math:`T = t_0 > t_1 > \dots > t_{steps} = t_{\min}`; any other decreasing grid may be passed.
All methods run one shared loop (:func:`_run`).

**The five samplers** are thin wrappers over it that keep their one signature::

    sampler(score_fn, process, shape, *, steps, t_min=None, generator=None,
            x_init=None, return_trajectory=False, dtype=None, device=None,
            callback=None, **options)

each drawing ``x`` from the process prior (or ``x_init``) and running on the uniform grid
``process.time_grid(steps, t_min)``; they compute the same bits as before the core existed.
``t_min=None`` means the process's own ``t_min`` when it carries one
(``process.early_stopped(t_min)``, :class:`scoreuq.processes.EarlyStopped`), else ``1e-3``; an
explicit ``t_min`` that contradicts the process's raises ``ValueError``. :func:`langevin` is
not a reverse-time method: it runs Langevin dynamics at the one time ``t_min``, so it has no
grid (its path's ``times`` are all ``t_min``); it shares the loop all the same.

``score_fn(x, t)`` is any callable (or ``nn.Module``) taking a batch ``x`` of shape
``shape`` and times ``t`` of shape ``(n,)`` and returning a tensor shaped like ``x``.
Randomness comes only from ``generator``; global random state is never touched.
With ``return_trajectory=True`` a :class:`SampleResult` holds the whole path
(``len(ts)`` states, i.e. ``steps + 1``, the first the initial state), which the SIEM metric reads.

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

import inspect
import math
from typing import Callable, NamedTuple, Sequence

import torch

from ._validation import append_dims, check_in_range, check_int, check_positive
from .likelihood import solve_probability_flow
from .processes import resolve_t_min

__all__ = [
    "SampleResult",
    "METHODS",
    "sample",
    "time_grid",
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


# ------------------------------------------------------------------------------------ time grids
def time_grid(process, steps: int, *, t_min: float | None = None, T: float | None = None) -> torch.Tensor:
    r"""The uniform grid :math:`T = t_0 > t_1 > \dots > t_{steps} = t_{\min}` (float64, CPU) on which
    the reverse-time SDE of Song et al. (2021) is integrated, stopped early at seminar (000)'s
    :math:`\varepsilon = t_{\min}`.

    ``t_min=None`` takes the process's ``t_min`` when it carries one
    (:meth:`~scoreuq.processes.ForwardProcess.early_stopped`), else ``1e-3``; an explicit value
    contradicting the process's raises ``ValueError``. ``T`` (default ``process.T``) starts the
    grid earlier than the process's terminal time, within ``(t_min, process.T]``.
    ``steps`` intervals, ``steps + 1`` times.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    t_min = check_in_range("t_min", resolve_t_min(process, t_min), 0.0, process.T, low_open=True, high_open=True)
    T = process.T if T is None else check_in_range("T", T, t_min, process.T, low_open=True)
    return torch.linspace(T, t_min, steps + 1, dtype=torch.float64)


def _check_grid(ts, process) -> torch.Tensor:
    """``ts`` as a float64 CPU tensor, checked: 1-D, >= 2 finite times, strictly decreasing, in (0, T];
    ending at the process's ``t_min`` when it carries one."""
    T = process.T
    what = f"ts must be a strictly decreasing 1-D tensor of at least 2 finite times in (0, T={T:g}]"
    try:  # a sequence of Python floats is read in float64, not in the default dtype
        ts = ts.detach() if torch.is_tensor(ts) else torch.as_tensor(ts, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{what}, got {type(ts).__name__}") from None
    if not (ts.is_floating_point() or ts.dtype in (torch.int32, torch.int64)) or ts.ndim != 1 or ts.numel() < 2:
        raise ValueError(f"{what}, got dtype {ts.dtype} and shape {tuple(ts.shape)}")
    tol = 4 * torch.finfo(ts.dtype).eps if ts.is_floating_point() else 0.0  # a float32 grid ends at float32(t_min)
    ts = ts.to(device="cpu", dtype=torch.float64)
    if not bool(torch.isfinite(ts).all()):
        raise ValueError(f"{what}, got non-finite values")
    if not bool((ts[1:] < ts[:-1]).all()):
        k = int((ts[1:] >= ts[:-1]).nonzero()[0])
        raise ValueError(f"{what}, but ts[{k + 1}] = {float(ts[k + 1])!r} >= ts[{k}] = {float(ts[k])!r}")
    if not (float(ts[-1]) > 0.0 and float(ts[0]) <= T * (1 + tol)):
        raise ValueError(f"{what}, got times from {float(ts[0])!r} down to {float(ts[-1])!r}")
    if float(ts[0]) > T:  # a float32 grid starts at float32(T), which may lie just above T
        ts = ts.clone()
        ts[0] = T
    carried = getattr(process, "t_min", None)  # an EarlyStopped process: the grid must stop at its t_min
    if carried is not None and not math.isclose(float(ts[-1]), carried, rel_tol=max(tol, 1e-12), abs_tol=0.0):
        raise ValueError(f"ts ends at {float(ts[-1])!r} but the process carries t_min={carried!r} ({process!r}): "
                         "end the grid there, e.g. ts = process.time_grid(steps)")
    return ts


# ------------------------------------------------------------------------------------ building blocks
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


def _run(x, times, step, *, callback, return_trajectory):
    """The one loop of every sampler: ``x, noise = step(k, x)`` for ``k = 0 .. len(times) - 2``, the
    new state sitting at ``times[k + 1]``; keeps the path and calls ``callback`` (module docstring)."""
    path = [x] if return_trajectory else None
    if callback is not None:
        callback(0, float(times[0]), x, None)
    for k in range(len(times) - 1):
        x, xi = step(k, x)
        if path is not None:
            path.append(x)
        if callback is not None:
            callback(k + 1, float(times[k + 1]), x, xi)
    return _finish(x, path, times, return_trajectory)


def _em_step(score_fn, process, x, t, dt, generator, noise: bool):
    """One Euler–Maruyama step of the reverse SDE from t to t - dt; returns (x, x_mean, xi)
    with ``xi`` the noise increment added (``None`` without noise).
    The grid was validated once (``_check_grid``), hence ``check_time=False`` in the hot loop."""
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


# ------------------------------------------------------------------------------------ the methods
# Each builds the step function ``step(k, x) -> (x, noise)`` from grid time ts[k] to ts[k + 1].


def _em(score_fn, process, ts, generator, want_noise, *, denoise: bool = True):
    last = len(ts) - 2

    def step(k, x):
        t, dt = float(ts[k]), float(ts[k] - ts[k + 1])
        x, _, xi = _em_step(score_fn, process, x, t, dt, generator, noise=not (denoise and k == last))
        return x, xi

    return step


def _pc_options(snr, n_corrector):
    snr = check_positive("snr", snr)
    check_int("n_corrector", n_corrector, 0)
    return snr


def _pc(score_fn, process, ts, generator, want_noise, *, snr: float = 0.16, n_corrector: int = 1, denoise: bool = True):
    snr = _pc_options(snr, n_corrector)
    last = len(ts) - 2

    def step(k, x):
        t, dt = float(ts[k]), float(ts[k] - ts[k + 1])
        x, xi_c = _langevin_corrector(score_fn, process, x, t, dt, snr, n_corrector, generator, want_noise)
        x, _, xi = _em_step(score_fn, process, x, t, dt, generator, noise=not (denoise and k == last))
        return x, _add_noise(xi_c, xi)

    return step


def _ode(score_fn, process, ts, generator, want_noise):
    def v(y, t):
        s, tt = _score(score_fn, y, t)
        return process.probability_flow_drift(y, tt, s, check_time=False)

    def step(k, x):
        t, t_next = float(ts[k]), float(ts[k + 1])
        h = t_next - t  # negative: integrating backwards in time
        d = v(x, t)
        x_euler = x + h * d
        return x + 0.5 * h * (d + v(x_euler, t_next)), None

    return step


def _ald_options(n_inner, step_size):
    r = check_positive("step_size", step_size)
    check_int("n_inner", n_inner, 1)
    return r


def _ald(score_fn, process, ts, generator, want_noise, *, n_inner: int = 10, step_size: float = 0.05):
    r = _ald_options(n_inner, step_size)
    levels = ts[1:]
    sig = process.marginal_std(levels)

    def step(j, x):
        gamma = r * float(sig[j]) ** 2
        total = None
        for _ in range(n_inner):
            s, _ = _score(score_fn, x, float(levels[j]))
            xi = math.sqrt(2 * gamma) * _randn(x, generator)
            x = x + gamma * s + xi
            if want_noise:
                total = _add_noise(total, xi)
        return x, total

    return step


_MAKERS = {"em": _em, "pc": _pc, "ode": _ode, "annealed_langevin": _ald}

#: the methods of :func:`sample`, each with its options and their defaults
METHODS = {
    name: {p.name: p.default for p in inspect.signature(f).parameters.values() if p.kind is p.KEYWORD_ONLY}
    for name, f in _MAKERS.items()
}


@torch.no_grad()
def sample(
    score_fn: ScoreFn,
    x: torch.Tensor,
    ts,
    *,
    process,
    method: str = "em",
    generator=None,
    callback=None,
    return_trajectory: bool = False,
    **options,
):
    r"""Run ``method`` from the state ``x`` at time ``ts[0]`` down the time grid ``ts`` to ``ts[-1]``.

    The reverse-time SDE of Song et al. (2021, eq. 6; Anderson 1982; thesis (003) eq. 2.18),
    :math:`dx = [f(x,t) - g(t)^2 \nabla_x \log p_t(x)]\,dt + g(t)\,d\bar w`, is integrated
    backwards from ``ts[0]`` to the early-stopping time :math:`\varepsilon = ` ``ts[-1]`` of
    seminar (000), one step per interval of ``ts``:

    * ``"em"``: Euler–Maruyama, :math:`x_{k+1} = x_k - [f - g^2 s](x_k, t_k)\,\Delta_k + g(t_k)\sqrt{\Delta_k}\,z_k`
      with :math:`\Delta_k = t_k - t_{k+1}`; option ``denoise=True`` leaves out the noise of the
      last step (score_sde's convention).
    * ``"pc"``: predictor–corrector (Song et al. 2021, Algorithms 2–5): at each ``t_k``,
      ``n_corrector`` Langevin corrector steps at signal-to-noise ratio ``snr`` (options
      ``snr=0.16``, ``n_corrector=1``), then one Euler–Maruyama step (option ``denoise=True``).
    * ``"ode"``: the probability-flow ODE (Song et al. 2021, eq. 13) by Heun's method (EDM's
      Algorithm 1 without churn), two score evaluations per step; adds no noise.
    * ``"annealed_langevin"``: annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1): at each
      level ``ts[k + 1]``, ``n_inner`` Langevin steps of size :math:`r\,s(t_{k+1})^2`, ``r =
      step_size`` (options ``n_inner=10``, ``step_size=0.05``; see :func:`annealed_langevin`).
      ``ts[0]`` is only the time of the initial state; ``len(ts) - 1`` noise levels follow.

    Parameters
    ----------
    score_fn : callable ``(x, t) -> score`` shaped like ``x``; ``t`` has shape ``(n,)``
    x : the initial state, a floating tensor ``(n, ...)`` (e.g. ``process.prior(shape, generator=g)``);
        not modified
    ts : strictly decreasing 1-D tensor (or sequence) of at least 2 finite times in ``(0, T]``,
        e.g. :func:`time_grid`; when ``process`` carries ``t_min`` (an
        :class:`~scoreuq.processes.EarlyStopped` process), ``ts[-1]`` must equal it
    process : the forward process
    generator : ``torch.Generator``, the only source of randomness
    callback : ``callback(k, t, x, noise)``, see the module docstring
    return_trajectory : return a :class:`SampleResult` with the ``len(ts)`` states and ``ts``

    With ``ts = time_grid(process, steps, t_min=t_min)`` and ``x`` the prior draw this computes
    the very bits of :func:`euler_maruyama`, :func:`predictor_corrector`,
    :func:`probability_flow` (Heun) and :func:`annealed_langevin` with the same generator.
    """
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    unknown = sorted(set(options) - set(METHODS[method]))
    if unknown:
        raise ValueError(f"method {method!r} takes the options {list(METHODS[method])}, got unknown {unknown}")
    if not torch.is_tensor(x) or not x.is_floating_point() or x.ndim < 1 or x.shape[0] < 1:
        got = f"{x.dtype} tensor of shape {tuple(x.shape)}" if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"x must be a floating tensor of shape (n, ...) with n >= 1, got {got}")
    ts = _check_grid(ts, process)
    step = _MAKERS[method](score_fn, process, ts, generator, callback is not None, **options)
    return _run(x, ts, step, callback=callback, return_trajectory=return_trajectory)


# ------------------------------------------------------------------------------------ the five samplers
def _setup(process, shape, steps, t_min, x_init, generator, dtype, device):
    """The wrappers' common start: the uniform grid (with ``steps`` and ``t_min`` checked) and the
    initial state, the prior draw or a copy of ``x_init``."""
    ts = time_grid(process, steps, t_min=t_min)
    shape = tuple(int(s) for s in shape)
    if len(shape) < 1 or any(s < 1 for s in shape):
        raise ValueError(f"shape must be a non-empty tuple of positive sizes, got {shape}")
    if x_init is None:
        x = process.prior(shape, generator=generator, dtype=dtype, device=device)
    else:
        if tuple(x_init.shape) != shape:
            raise ValueError(f"x_init must have shape {shape}, got {tuple(x_init.shape)}")
        x = x_init.to(dtype=dtype or x_init.dtype, device=device or x_init.device).clone()
    return x, ts, float(ts[-1])


@torch.no_grad()
def euler_maruyama(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 1000,
    t_min: float | None = None,
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
    ``sample(score_fn, x, process.time_grid(steps, t_min), process=process, method="em")``.
    """
    x, ts, _ = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)
    return sample(score_fn, x, ts, process=process, method="em", generator=generator, callback=callback,
                  return_trajectory=return_trajectory, denoise=denoise)


@torch.no_grad()
def predictor_corrector(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 500,
    t_min: float | None = None,
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
    the predictor's increments of the step). ``sample(..., method="pc")`` on the uniform grid.
    """
    _pc_options(snr, n_corrector)
    x, ts, _ = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)
    return sample(score_fn, x, ts, process=process, method="pc", generator=generator, callback=callback,
                  return_trajectory=return_trajectory, snr=snr, n_corrector=n_corrector, denoise=denoise)


@torch.no_grad()
def probability_flow(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 200,
    t_min: float | None = None,
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
    EDM's Algorithm 1 without churn; ``solver="heun"``, ``steps`` steps: ``sample(...,
    method="ode")`` on the uniform grid) or the adaptive Dormand–Prince RK5(4) of
    :mod:`scoreuq.likelihood` (``solver="rk45"``, tolerances ``rtol`` and ``atol``; ``steps`` is
    then ignored, and neither a trajectory nor a callback is available).
    Randomness enters only through the prior draw, so a ``callback`` always receives ``noise=None``.
    A dict passed as ``stats`` receives ``nfe``, the number of score evaluations.
    """
    if solver not in ("heun", "rk45"):
        raise ValueError(f"solver must be 'heun' or 'rk45', got {solver!r}")
    x, ts, t_min = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)
    if solver == "rk45":
        if return_trajectory or callback is not None:
            raise ValueError("return_trajectory and callback need a fixed time grid: use solver='heun' with them")
        x, nfe = solve_probability_flow(score_fn, process, x, t_min=t_min, rtol=rtol, atol=atol)
        if stats is not None:
            stats["nfe"] = int(nfe)
        return _finish(x, None, ts, False)
    if stats is not None:
        stats["nfe"] = 2 * steps
    return sample(score_fn, x, ts, process=process, method="ode", generator=generator, callback=callback,
                  return_trajectory=return_trajectory)


@torch.no_grad()
def langevin(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 1000,
    t_min: float | None = None,
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

    Not a reverse-time method, hence not a method of :func:`sample`: every one of the ``steps``
    steps uses the score at the one time ``t_min`` (``t_min=None``: the process's, else 1e-3), so
    there is no time grid; the path's ``times`` (and the callback's ``t``) are all ``t_min``.
    """
    gamma = check_positive("step_size", step_size)
    x, _, t_min = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)

    def step(k, x):
        s, _ = _score(score_fn, x, t_min)
        xi = math.sqrt(2 * gamma) * _randn(x, generator)
        return x + gamma * s + xi, xi

    times = torch.full((steps + 1,), t_min, dtype=torch.float64)
    return _run(x, times, step, callback=callback, return_trajectory=return_trajectory)


@torch.no_grad()
def annealed_langevin(
    score_fn: ScoreFn,
    process,
    shape: Sequence[int],
    *,
    steps: int = 100,
    t_min: float | None = None,
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

    On the uniform grid :math:`T = t_0 > \dots > t_{steps} = t_{\min}` the levels are
    :math:`t_1, \dots, t_{steps}` (``T`` itself only labels the initial state, ``path[0]``):
    ``sample(..., method="annealed_langevin")``. It samples each level's marginal rather than
    integrating the reverse SDE between grid times, so the spacing of the grid sets the noise
    schedule, not a step size.
    """
    _ald_options(n_inner, step_size)
    x, ts, _ = _setup(process, shape, steps, t_min, x_init, generator, dtype, device)
    return sample(score_fn, x, ts, process=process, method="annealed_langevin", generator=generator, callback=callback,
                  return_trajectory=return_trajectory, n_inner=n_inner, step_size=step_size)
