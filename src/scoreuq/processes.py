r"""Forward (noising) processes.

Every process here is a linear SDE with state-independent diffusion,

.. math::

    dX_t = f(X_t, t)\,dt + g(t)\,dW_t,

whose transition law is Gaussian and *affine* in the starting point:

.. math::

    X_t \mid X_0 = x_0 \sim \mathcal N\big(a(t)\,x_0 + b(t),\; s(t)^2 I\big).

A process therefore only states :math:`f, g, a, b, s` and its prior; the
marginal, the transition score, the reverse-time drift and the probability-flow
drift follow in :class:`ForwardProcess` for every subclass alike, so generic code
never needs to ask which process it holds.

All methods accept batches of any rank ``(n, ...)``; ``t`` is a scalar or a
tensor of shape ``(n,)`` and must lie in ``[0, T]``.

The early-stopping time :math:`\varepsilon` (seminar (000): training, sampling and the WUP
bound all stop at :math:`t_{\min} = \varepsilon > 0`, where the score of the data blows up)
travels with the process: ``process.early_stopped(t_min)`` returns an :class:`EarlyStopped`
process, the same process carrying ``.t_min``, from which the samplers, the grid builder
:meth:`ForwardProcess.time_grid` and :class:`scoreuq.training.Trainer` take their ``t_min``
when none is given (:func:`resolve_t_min`), and which they refuse to contradict.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ._validation import append_dims, as_time, check_in_range, check_positive

__all__ = ["ForwardProcess", "OrnsteinUhlenbeck", "VPSDE", "VESDE", "EarlyStopped", "bare", "resolve_t_min", "DEFAULT_T_MIN"]

#: the early-stopping time used when neither the caller nor the process gives one
DEFAULT_T_MIN = 1e-3


class ForwardProcess:
    """Base class of the forward processes.

    Subclasses implement :meth:`drift`, :meth:`diffusion`, :meth:`mean_coeff`,
    :meth:`mean_offset`, :meth:`marginal_std`, :meth:`prior` and
    :meth:`prior_log_prob`; everything else is derived here.
    """

    T: float = 1.0

    # ----------------------------------------------------------------- to override
    def drift(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def diffusion(self, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """:math:`g(t)`, shape ``(n,)``."""
        raise NotImplementedError

    def mean_coeff(self, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """:math:`a(t)` in the transition mean :math:`a(t)x_0 + b(t)`, shape ``(n,)``."""
        raise NotImplementedError

    def mean_offset(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """:math:`b(t)`, broadcastable against ``x`` (zero unless overridden)."""
        return torch.zeros((), dtype=x.dtype, device=x.device)

    def marginal_std(self, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        """:math:`s(t)`, the transition standard deviation, shape ``(n,)``."""
        raise NotImplementedError

    def prior(self, shape: Sequence[int], *, generator=None, dtype=None, device=None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def prior_log_prob(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    # ----------------------------------------------------------------- derived
    def _t(self, t, x: torch.Tensor, check: bool = True) -> torch.Tensor:
        if check:
            return as_time(t, x.shape[0], like=x, T=self.T)
        return t  # the caller guarantees a valid tensor of shape (n,)

    def sde(self, x: torch.Tensor, t, *, check_time: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``drift, diffusion = process.sde(x, t)``: :math:`f(x, t)` shaped like ``x`` and :math:`g(t)` of shape ``(n,)``.

        ``check_time=False`` skips the validation of ``t`` (which must then already be a tensor
        of shape ``(n,)`` in ``[0, T]``): samplers validate their time grid once, and re-checking
        it at every step cost about 10% of the wall time with a small network
        (benchmarks/bench_pc_sampler.py).
        """
        t = self._t(t, x, check_time)
        return self.drift(x, t), self.diffusion(t)

    def marginal(self, x0: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """``mean, std = process.marginal(x0, t)``: the law of :math:`X_t \\mid X_0 = x_0`.

        ``mean`` is shaped like ``x0`` and ``std`` has shape ``(n,)``.
        """
        t = self._t(t, x0)
        a = append_dims(self.mean_coeff(t), x0.ndim)
        return a * x0 + self.mean_offset(t, x0), self.marginal_std(t)

    def perturb(self, x0: torch.Tensor, t, *, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample :math:`X_t \\mid X_0 = x_0`; returns ``(x_t, z)`` with ``x_t = mean + std * z``."""
        mean, std = self.marginal(x0, t)
        # drawn on the generator's device (a CPU generator may feed data on an accelerator)
        dev = generator.device if generator is not None else x0.device
        z = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=dev).to(x0.device)
        return mean + append_dims(std, x0.ndim) * z, z

    def transition_score(self, x: torch.Tensor, x0: torch.Tensor, t) -> torch.Tensor:
        r""":math:`\nabla_x \log p_t(x \mid x_0) = -(x - a(t)x_0 - b(t)) / s(t)^2`.

        For the OU process this is the expression of thesis (003) §2.2.6,
        :math:`-\frac{2\beta}{\sigma^2(1-e^{-2\beta t})}(\alpha - x + (x_0-\alpha)e^{-\beta t})`
        up to its sign convention. Undefined at ``t = 0`` (``s(0) = 0``).
        """
        mean, std = self.marginal(x0, t)
        if bool((std <= 0).any()):
            raise ValueError("t must be > 0 for the transition score (the transition law is a point mass at t = 0)")
        return -(x - mean) / append_dims(std, x.ndim) ** 2

    def reverse_drift(self, x: torch.Tensor, t, score: torch.Tensor, *, check_time: bool = True) -> torch.Tensor:
        r"""Drift of the reverse-time SDE (Anderson 1982; thesis (003) eq. 2.18),
        :math:`f(x,t) - g(t)^2 \nabla_x\log p_t(x)`, to be integrated backwards in time."""
        f, g = self.sde(x, t, check_time=check_time)
        return f - append_dims(g, x.ndim) ** 2 * score

    def probability_flow_drift(self, x: torch.Tensor, t, score: torch.Tensor, *, check_time: bool = True) -> torch.Tensor:
        r"""Drift of the probability-flow ODE (Song et al. 2021, eq. 13),
        :math:`f(x,t) - \tfrac12 g(t)^2 \nabla_x\log p_t(x)`."""
        f, g = self.sde(x, t, check_time=check_time)
        return f - 0.5 * append_dims(g, x.ndim) ** 2 * score

    def corrector_alpha(self, t: torch.Tensor, dt: float) -> torch.Tensor:
        """The :math:`\\alpha_i` of the Langevin corrector step size (Song et al. 2021, Alg. 4–5); 1 unless overridden."""
        return torch.ones_like(t)

    # ----------------------------------------------------------------- early stopping
    def early_stopped(self, t_min: float) -> "EarlyStopped":
        r"""This process carrying the early-stopping time :math:`t_{\min} = \varepsilon \in (0, T)`
        (seminar (000)): an :class:`EarlyStopped` process that computes exactly what this one
        computes and from which samplers, :meth:`time_grid` and the Trainer read ``t_min``.
        On an :class:`EarlyStopped` process it replaces the carried time (no nesting)."""
        return EarlyStopped(self, t_min)

    def time_grid(self, steps: int, t_min: float | None = None, *, T: float | None = None) -> torch.Tensor:
        r"""The uniform time grid :math:`T = t_0 > t_1 > \dots > t_{steps} = t_{\min}` of the
        reverse-time samplers, float64 on the CPU (:func:`scoreuq.sampling.time_grid`)."""
        from .sampling import time_grid  # lazy: scoreuq.sampling imports this module

        return time_grid(self, steps, t_min=t_min, T=T)


def bare(process):
    """The process an :class:`EarlyStopped` one wraps (the same arithmetic, no ``t_min``), else ``process``."""
    return process.base if isinstance(process, EarlyStopped) else process


def resolve_t_min(process, t_min=None, *, default: float = DEFAULT_T_MIN, name: str = "t_min"):
    r"""The early-stopping time :math:`\varepsilon` (seminar (000)) to use with ``process``.

    ``t_min=None`` gives the process's own ``t_min`` when it carries one (an
    :class:`EarlyStopped` process), else ``default``. An explicit ``t_min`` is returned as given
    (the caller checks its range) unless the process carries a different one: then a
    ``ValueError`` names both values. Values equal to 12 significant digits count as the same.
    """
    carried = getattr(process, "t_min", None)
    if t_min is None:
        return default if carried is None else carried
    if carried is None:
        return t_min
    try:
        v = float(t_min)
    except (TypeError, ValueError):
        return t_min  # not a number: the caller's range check names it
    if math.isfinite(v) and math.isclose(v, float(carried), rel_tol=1e-12, abs_tol=0.0):
        return t_min
    raise ValueError(
        f"{name}={t_min!r} contradicts the process's t_min={carried!r} ({process!r}): leave {name} unset (None) "
        f"to use the process's, or pass the same value"
    )


class EarlyStopped(ForwardProcess):
    r"""A forward process carrying its early-stopping time :math:`t_{\min} = \varepsilon`.

    Build it with :meth:`ForwardProcess.early_stopped`. Every method of :class:`ForwardProcess`
    and every other attribute (``beta``, ``sigma``, ``stationary_var``, ...) is the wrapped
    process's, called on it, so the arithmetic is that of :attr:`base`, bit for bit;
    ``isinstance(p, ForwardProcess)`` holds, ``isinstance(p, VPSDE)`` does not (compare
    ``type(p.base)``). It adds :attr:`t_min` (checked in ``(0, T)``) and :attr:`base`, and is
    read-only (a write would not reach the base's arithmetic).

    ``t_min`` is the time at which training's time draws, the samplers' grids and the WUP bound
    stop (seminar (000)'s :math:`\varepsilon`): the samplers of :mod:`scoreuq.sampling`,
    :meth:`time_grid` and :class:`scoreuq.training.Trainer` use it when they are given no
    ``t_min`` and raise ``ValueError`` when they are given a different one
    (:func:`resolve_t_min`). Picklable and deep-copyable (process pools).
    """

    def __init__(self, base: ForwardProcess, t_min: float):
        if isinstance(base, EarlyStopped):
            base = base.base
        if not isinstance(base, ForwardProcess):
            raise ValueError(f"base must be a ForwardProcess, got {type(base).__name__}")
        self.base = base
        self.t_min = check_in_range("t_min", t_min, 0.0, base.T, low_open=True, high_open=True)

    def __repr__(self) -> str:
        return f"EarlyStopped({self.base!r}, t_min={self.t_min:g})"

    def __setattr__(self, name: str, value) -> None:
        # read-only after construction: a write here would not reach the base's arithmetic
        if name in ("base", "t_min") and name not in self.__dict__:
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"an EarlyStopped process is read-only (setting {name!r}): build "
                             f"base.early_stopped(t_min) again from a changed base process")

    @property
    def T(self) -> float:  # noqa: N802 - the process's terminal time
        return self.base.T

    def __getattr__(self, name: str):
        # only reached for names not found on the wrapper; never for dunders (pickle and copy
        # probe __setstate__, __deepcopy__, ... before base is set) nor for base itself
        if name.startswith("__") or name in ("base", "t_min"):
            raise AttributeError(name)
        try:
            base = self.__dict__["base"]
        except KeyError:
            raise AttributeError(name) from None
        return getattr(base, name)


def _forwarder(name: str):
    def method(self, *args, **kwargs):
        return getattr(self.base, name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``self.base.{name}(...)``: see :meth:`ForwardProcess.{name}`."
    return method


# every method ForwardProcess defines is the base's own (its override, called on it), except
# the two that read this wrapper's t_min; ForwardProcess's class attribute T is a property above
for _name, _value in list(vars(ForwardProcess).items()):
    if callable(_value) and not _name.startswith("__") and _name not in ("early_stopped", "time_grid"):
        setattr(EarlyStopped, _name, _forwarder(_name))
del _name, _value


def _param_tensor(value, name: str = "alpha") -> torch.Tensor:
    def bad(x):
        if isinstance(x, (list, tuple)):
            return any(bad(y) for y in x)
        return isinstance(x, (str, bytes, bool, dict))

    if bad(value):
        raise ValueError(f"{name} must be a number or a list of numbers, got {value!r}")
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name} must be a number or a list of numbers, got {value!r} ({exc})") from None


class OrnsteinUhlenbeck(ForwardProcess):
    r"""The Ornstein–Uhlenbeck process of thesis (003) eq. 2.3,

    .. math::

        dX_t = -\beta (X_t - \alpha)\,dt + \sigma\,dW_t,

    with closed-form transition law (003 §2.1.3, App. A.2.1)

    .. math::

        X_t \mid X_0 = x_0 \sim \mathcal N\!\Big(\alpha + (x_0-\alpha)e^{-\beta t},\;
        \frac{\sigma^2}{2\beta}\big(1-e^{-2\beta t}\big) I\Big)
        \xrightarrow[t\to\infty]{} \mathcal N\!\Big(\alpha, \frac{\sigma^2}{2\beta} I\Big).

    Parameters
    ----------
    alpha : float or array-like
        Long-run mean; a scalar or a tensor broadcastable to one sample (e.g. ``(d,)``).
    beta : float
        Mean-reversion rate, ``> 0``.
    sigma : float
        Noise scale, ``> 0``. ``sigma = sqrt(2 beta)`` keeps the stationary variance at 1
        (the thesis's experimental choice, 003 §2.3.2).
    T : float
        Terminal time, ``> 0``.

    The prior is the stationary law :math:`\mathcal N(\alpha, \sigma^2/2\beta)`, as in 003 §2.3.2.
    """

    def __init__(self, alpha=0.0, beta: float = 1.0, sigma: float = math.sqrt(2.0), T: float = 1.0):
        self.beta = check_positive("beta", beta)
        self.sigma = check_positive("sigma", sigma)
        self.T = check_positive("T", T)
        alpha_t = _param_tensor(alpha)
        if not bool(torch.isfinite(alpha_t).all()):
            raise ValueError("alpha must be finite")
        self.alpha = alpha_t

    def __repr__(self) -> str:
        a = self.alpha.tolist() if self.alpha.numel() <= 4 else f"tensor{tuple(self.alpha.shape)}"
        return f"OrnsteinUhlenbeck(alpha={a}, beta={self.beta:g}, sigma={self.sigma:g}, T={self.T:g})"

    @property
    def stationary_var(self) -> float:
        r""":math:`\sigma^2 / 2\beta`."""
        return self.sigma**2 / (2 * self.beta)

    def _alpha(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha.to(dtype=x.dtype, device=x.device)

    def drift(self, x, t):
        return -self.beta * (x - self._alpha(x))

    def diffusion(self, t):
        return torch.full_like(t, self.sigma)

    def mean_coeff(self, t):
        return torch.exp(-self.beta * t)

    def mean_offset(self, t, x):
        # alpha (1 - e^{-beta t}) = -alpha expm1(-beta t)
        return -append_dims(torch.expm1(-self.beta * t), x.ndim) * self._alpha(x)

    def marginal_std(self, t):
        return torch.sqrt(-self.stationary_var * torch.expm1(-2 * self.beta * t))

    def prior(self, shape, *, generator=None, dtype=None, device=None):
        dtype = dtype or torch.get_default_dtype()
        z = torch.randn(tuple(shape), generator=generator, dtype=dtype, device=device)
        return self._alpha(z) + math.sqrt(self.stationary_var) * z

    def prior_log_prob(self, x):
        v = self.stationary_var
        d = x[0].numel()
        sq = ((x - self._alpha(x)) ** 2).flatten(1).sum(1)
        return -0.5 * sq / v - 0.5 * d * math.log(2 * math.pi * v)


class VPSDE(ForwardProcess):
    r"""Variance-preserving SDE of Song et al. (2021) with linear :math:`\beta(t)`,

    .. math::

        dX_t = -\tfrac12\beta(t)X_t\,dt + \sqrt{\beta(t)}\,dW_t,\qquad
        \beta(t) = \beta_{\min} + t(\beta_{\max}-\beta_{\min}),

    .. math::

        a(t) = \exp\!\Big(-\tfrac14 t^2(\beta_{\max}-\beta_{\min}) - \tfrac12 t\beta_{\min}\Big),\qquad
        s(t)^2 = 1 - a(t)^2.

    The time grid is :math:`[0, T]` with ``T = 1`` by default; prior :math:`\mathcal N(0, I)`.
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, T: float = 1.0):
        self.beta_min = check_positive("beta_min", beta_min)
        self.beta_max = check_positive("beta_max", beta_max)
        if self.beta_max < self.beta_min:
            raise ValueError(f"beta_max must be >= beta_min = {beta_min:g}, got {beta_max!r}")
        self.T = check_positive("T", T)

    def __repr__(self) -> str:
        return f"VPSDE(beta_min={self.beta_min:g}, beta_max={self.beta_max:g}, T={self.T:g})"

    def beta(self, t):
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def _log_mean_coeff(self, t):
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def drift(self, x, t):
        return -0.5 * append_dims(self.beta(t), x.ndim) * x

    def diffusion(self, t):
        return torch.sqrt(self.beta(t))

    def mean_coeff(self, t):
        return torch.exp(self._log_mean_coeff(t))

    def marginal_std(self, t):
        return torch.sqrt(-torch.expm1(2 * self._log_mean_coeff(t)))

    def prior(self, shape, *, generator=None, dtype=None, device=None):
        return torch.randn(tuple(shape), generator=generator, dtype=dtype or torch.get_default_dtype(), device=device)

    def prior_log_prob(self, x):
        d = x[0].numel()
        return -0.5 * (x**2).flatten(1).sum(1) - 0.5 * d * math.log(2 * math.pi)

    def corrector_alpha(self, t, dt):
        # Song et al. (2021), Algorithm 5: alpha_i = 1 - beta_i with beta_i = beta(t_i) dt. We use
        # exp(-beta(t_i) dt), equal to first order, which stays positive on coarse grids (1 - beta dt < 0
        # for beta dt > 1 would make the corrector step negative).
        return torch.exp(-self.beta(t) * dt)


class VESDE(ForwardProcess):
    r"""Variance-exploding SDE of Song et al. (2021),

    .. math::

        dX_t = \sigma(t)\sqrt{2\log(\sigma_{\max}/\sigma_{\min})}\,dW_t,\qquad
        \sigma(t) = \sigma_{\min}(\sigma_{\max}/\sigma_{\min})^{t/T}.

    The transition variance is the exact one of this SDE started at ``x0`` at time 0,
    :math:`s(t)^2 = \sigma(t)^2 - \sigma_{\min}^2` (score_sde's ``marginal_prob`` uses
    :math:`\sigma(t)^2`, i.e. data pre-smoothed at scale :math:`\sigma_{\min}`; we follow the SDE).
    Prior :math:`\mathcal N(0, \sigma_{\max}^2 I)`.
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, T: float = 1.0):
        self.sigma_min = check_positive("sigma_min", sigma_min)
        self.sigma_max = check_positive("sigma_max", sigma_max)
        if self.sigma_max <= self.sigma_min:
            raise ValueError(f"sigma_max must be > sigma_min = {sigma_min:g}, got {sigma_max!r}")
        self.T = check_positive("T", T)
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def __repr__(self) -> str:
        return f"VESDE(sigma_min={self.sigma_min:g}, sigma_max={self.sigma_max:g}, T={self.T:g})"

    def sigma(self, t):
        return self.sigma_min * torch.exp(self._log_ratio * t / self.T)

    def drift(self, x, t):
        return torch.zeros_like(x)

    def diffusion(self, t):
        return self.sigma(t) * math.sqrt(2 * self._log_ratio / self.T)

    def mean_coeff(self, t):
        return torch.ones_like(t)

    def marginal_std(self, t):
        # sigma_min^2 (e^{2 L t/T} - 1) computed with expm1 for small t
        return self.sigma_min * torch.sqrt(torch.expm1(2 * self._log_ratio * t / self.T))

    def prior(self, shape, *, generator=None, dtype=None, device=None):
        dtype = dtype or torch.get_default_dtype()
        return self.sigma_max * torch.randn(tuple(shape), generator=generator, dtype=dtype, device=device)

    def prior_log_prob(self, x):
        d = x[0].numel()
        v = self.sigma_max**2
        return -0.5 * (x**2).flatten(1).sum(1) / v - 0.5 * d * math.log(2 * math.pi * v)
