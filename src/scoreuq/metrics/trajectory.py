r"""SIEM: a sample-quality signal read off the sampling trajectory (Seo, seed 004).

The particle projection
-----------------------
For the particles :math:`X^i_{t_k}` of a sampler (``path[k]``, flattened to :math:`\mathbb R^d`),

.. math::

    m_k = \frac1N \sum_i \varphi(X^i_{t_k}), \qquad
    \varphi(x) = \exp\!\Big(-\frac{|x - c|^2}{2 h^2 d\, \sigma_0^2}\Big),

a Gaussian radial bump with centre :math:`c` (default: the mean of the prior draw ``path[0]``),
:math:`\sigma_0` the prior's per-coordinate std (default: pooled std of ``path[0]``) and
relative width :math:`h` = ``scale`` (default 1). The factor :math:`d` makes :math:`\varphi`
a function of the mean squared distance per coordinate, so it means the same in 2-D and
784-D: on the prior, :math:`\mathbb E\varphi = (1 + 1/(h^2 d))^{-d/2} \to e^{-1/(2h^2)}`.

Derivation
----------
Under the reverse SDE :math:`dX = -[f - g^2 s_\theta](X,t)\,dt + g\,d\bar W` (run from
:math:`T` down, written in the sampler's forward step direction :math:`b = -(f - g^2 s_\theta)`),
Itô's formula gives

.. math::

    dm = \frac1N\sum_i\Big[\nabla\varphi\cdot b + \tfrac12 g^2\Delta\varphi\Big](X^i)\,dt
         + \frac gN\sum_i \nabla\varphi(X^i)\cdot d\bar W^i .

Writing :math:`s_\theta = s + e` splits the drift into the exact-score part, whose
expectation under :math:`p_t` is the rate of change of :math:`m^*_t = \mathbb E_{p_t}\varphi`,
and the score-error part :math:`\frac{g^2}{N}\sum_i\nabla\varphi\cdot e(X^i)` (with
:math:`\nabla\varphi = -\varphi\,(x-c)/(h^2 d\sigma_0^2)`: only the *radial* component of the
error about :math:`c` is seen). The quadratic variation of :math:`m` over a window
:math:`\sum_k (\Delta m_k)^2` is the martingale part, :math:`\approx \int g^2\,\overline{|\nabla\varphi|^2}\,dt / N`
(pure sampler noise, blind to the score error to first order), plus the squared drift
increments, :math:`O(\Delta t)` in total. So the raw QV measures the noise, not the model.
The score error drives the *drift* of :math:`m` and, integrated, the deviation
:math:`\mu_t = m_t - m^*_t` (the paper's :math:`\mu_t`). :math:`m^*_t` is closed form for the
OU/VP/VE processes: the exact reverse process has marginal :math:`p_t`, the forward marginal,
and for a data point :math:`x_0`,
:math:`\mathbb E\varphi(a x_0 + b + \sigma Z) = (w/(w+\sigma^2))^{d/2}\exp(-|a x_0 + b - c|^2/2(w+\sigma^2))`,
:math:`w = h^2 d \sigma_0^2`, averaged over the reference data (or exact for a Gaussian mixture).

Estimators tried (all returned in ``SIEMResult.variants``)
----------------------------------------------------------
* ``raw_qv`` (a): :math:`\sum_k (\Delta m_k)^2`. Dominated by the martingale noise; in the tests
  it barely moves until the error is large.
* ``drift_qv_linear`` (b): :math:`\sum_k (\Delta m_k - n_k)^2/\Delta t_k`,
  :math:`n_k = \frac1N\sum_i\nabla\varphi(X^i_k)\cdot\xi^i_k` with :math:`\xi_k` the increment the sampler
  added (it hands it to the ``callback``). Dividing by :math:`\Delta t` makes the drift part a
  Riemann sum :math:`\to\int D_t^2\,dt`.
* ``drift_qv`` (b'): the same with the noise integrated out *exactly*: for Gaussian :math:`\varphi`
  and :math:`\xi\sim\mathcal N(0, vI)`, :math:`\mathbb E[m_{k+1}\mid X_k] = \frac1N\sum_i (w/(w+v))^{d/2}
  \exp(-|\bar X^i - c|^2/2(w+v))` with :math:`\bar X = X_{k+1} - \xi_k` (v pooled from the increments);
  the increments :math:`\mathbb E[m_{k+1}\mid X_k] - m_k` are the predictable (Doob) part of :math:`m`.
  About 30% lower no-error floor than (b). Needs no reference, and in the first 10% (where
  :math:`p_t` is nearly the stationary prior, so :math:`dm^*/dt\approx0`) it is as strong as the
  reference-based ones; over the whole run it is dominated by :math:`(dm^*/dt)^2` and is *not* monotone
  in the error (a shifted score lowers it).
* ``deviation_qv`` (c, QV): :math:`\sum_k(\Delta\mu_k)^2`: as noisy as (a).
* ``deviation_drift_qv[_linear]`` (b+c): drift increments minus :math:`\Delta m^*_k`; at window 1
  its floor (particle-cloud fluctuations of the drift near :math:`t\to0`, where :math:`g^2 s` is large)
  swamps the signal and it was not monotone.
* ``deviation_l2`` (c, time-integrated square): :math:`\sum_k \mu_{k+1}^2\,\Delta t_k`.
  **Default when a reference is given.** Strongest at window 1, as strong as the drift QVs at
  window 0.1, needs no noise increments (works for stored paths and ODE samplers), and has an
  exact no-error level: with the exact score the particles are independent draws of :math:`p_t`, so
  :math:`\mathbb E[\text{value}] = \sum_k \operatorname{Var}_{p_{t_{k+1}}}(\varphi)\Delta t_k/N` (``floor``, closed form
  via :math:`\varphi^2`, a bump of half the width), up to the :math:`O(\Delta t)` bias of the sampler.

Without a reference the default is ``drift_qv`` (needs the noise, i.e. a :class:`SIEMRecorder`
or ``noise=``), else ``raw_qv``.

Limits: a radial :math:`\varphi` sees only the radial component of the score error about
:math:`c`; a constant shift of the score is invisible to first order while :math:`p_t` is symmetric
about :math:`c` (the start of sampling) and shows only later; a rotation of an isotropic mode's
score barely changes the sampled law and is (rightly) not seen.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch

from .._validation import check_finite, check_positive

__all__ = ["SIEMResult", "SIEMRecorder", "siem", "RadialTestFunction", "reference_projection", "ESTIMATORS"]


# --------------------------------------------------------------------------- test function
@dataclass(frozen=True)
class RadialTestFunction:
    r""":math:`\varphi(x) = \exp\!\big(-|x-c|^2 / (2 h^2 d\, \sigma_0^2)\big)` on flattened states.

    ``center`` is :math:`c` (shape ``(d,)``), ``prior_std`` :math:`\sigma_0`, ``scale`` :math:`h`;
    ``width2`` :math:`= h^2 d\sigma_0^2` is the variance parameter of the Gaussian bump.
    """

    center: torch.Tensor
    prior_std: float
    scale: float

    @property
    def dim(self) -> int:
        return int(self.center.numel())

    @property
    def width2(self) -> float:
        return self.scale**2 * self.dim * self.prior_std**2

    def values(self, x: torch.Tensor, *, grad: bool = False):
        """``phi`` of shape ``(n,)`` (and ``grad phi`` of shape ``(n, d)`` when ``grad``)."""
        y = x.reshape(x.shape[0], -1).to(torch.float64) - self.center.to(device=x.device)
        phi = torch.exp(-0.5 * (y * y).sum(1) / self.width2)
        if not grad:
            return phi
        return phi, y.mul_((-phi / self.width2)[:, None])


def _test_function(x0: torch.Tensor, scale, center, prior_std) -> RadialTestFunction:
    scale = check_positive("scale", scale)
    flat = x0.reshape(x0.shape[0], -1).to(torch.float64)
    d = flat.shape[1]
    if center is None:
        c = flat.mean(0)
    else:
        c = torch.as_tensor(center, dtype=torch.float64, device=flat.device)
        if c.ndim == 0:
            c = c.expand(d)
        c = c.reshape(-1)
        if c.numel() != d:
            raise ValueError(f"center must be a scalar or hold {d} values (one per coordinate), got {c.numel()}")
        check_finite("center", c)
    if prior_std is None:
        if flat.shape[0] < 2:
            raise ValueError("prior_std cannot be estimated from a single particle; pass prior_std")
        sd = float(((flat - flat.mean(0)) ** 2).sum() / ((flat.shape[0] - 1) * d)) ** 0.5
        if not sd > 0:
            raise ValueError("the initial state has zero spread; pass prior_std")
    else:
        sd = check_positive("prior_std", prior_std)
    return RadialTestFunction(c.clone(), sd, scale)


# --------------------------------------------------------------------------- exact reference
def reference_projection(reference, process, times, phi: RadialTestFunction, *, power: int = 1) -> torch.Tensor:
    r""":math:`m^*(t) = \mathbb E_{p_t}[\varphi]` at each of ``times``, in closed form.

    ``reference`` is either data points ``(n, ...)`` (then :math:`p_0` is their empirical law) or a
    :class:`~scoreuq.data.GaussianMixture`. For a Gaussian :math:`Y\sim\mathcal N(m, C)` and
    :math:`\varphi = \exp(-|y-c|^2/2w)`,
    :math:`\mathbb E\varphi(Y) = \det(I + C/w)^{-1/2}\exp\!\big(-\tfrac12 (m-c)^\top (C+wI)^{-1}(m-c)\big)`;
    the forward marginal of a point :math:`x_0` is :math:`\mathcal N(a(t)x_0 + b(t), \sigma(t)^2 I)`,
    which gives :math:`(w/(w+\sigma^2))^{d/2}\exp(-|a x_0 + b - c|^2 / 2(w+\sigma^2))`.
    ``power=2`` returns :math:`\mathbb E_{p_t}[\varphi^2]` (the same bump with ``w/2``), from which
    :math:`\operatorname{Var}_{p_t}\varphi` and the Monte Carlo floor of ``deviation_l2`` follow.
    """
    if process is None:
        raise ValueError("process is required with a reference (it gives a(t), b(t), sigma(t))")
    times = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    if power not in (1, 2):
        raise ValueError(f"power must be 1 or 2, got {power!r}")
    w = phi.width2 / power
    d = phi.dim
    c = phi.center.cpu()
    if hasattr(reference, "means") and hasattr(reference, "evals") and hasattr(reference, "weights"):
        means = reference.means.to(torch.float64).reshape(reference.means.shape[0], -1)
        evals = reference.evals.to(torch.float64)
        evecs = getattr(reference, "evecs", None)
        logw = reference.weights.to(torch.float64).log()
    else:
        pts = reference if torch.is_tensor(reference) else torch.as_tensor(reference)
        pts = pts.to(torch.float64).cpu()
        means = pts.reshape(pts.shape[0], -1)
        check_finite("reference", means)
        evals, evecs = None, None
        logw = torch.full((means.shape[0],), -math.log(means.shape[0]), dtype=torch.float64)
    if means.shape[1] != d:
        raise ValueError(f"reference has {means.shape[1]} coordinates per point, the trajectory {d}")
    out = torch.empty(times.shape[0], dtype=torch.float64)
    chunk = max(1, int(2**22 // max(d, 1)))
    for i, t in enumerate(times.tolist()):
        tt = torch.tensor([t], dtype=torch.float64)
        a = float(process.mean_coeff(tt)[0])
        s2 = float(process.marginal_std(tt)[0]) ** 2
        b = process.mean_offset(tt, means[:1]).reshape(-1)
        shift = (b - c) if b.numel() == d else (b.reshape(()) - c)  # b - c, shape (d,)
        logs = []
        for j in range(0, means.shape[0], chunk):
            y = a * means[j : j + chunk] + shift  # (k, d): mean of the component minus c
            if evals is None:
                lq = -0.5 * (y * y).sum(1) / (w + s2) - 0.5 * d * math.log1p(s2 / w)
            else:
                lam = a * a * evals[j : j + chunk] + s2  # eigenvalues of C_k(t)
                proj = y if evecs is None else torch.einsum("kde,kd->ke", evecs[j : j + chunk].to(torch.float64), y)
                lq = -0.5 * (proj * proj / (lam + w)).sum(1) - 0.5 * torch.log1p(lam / w).sum(1)
            logs.append(lq + logw[j : j + chunk])
        out[i] = torch.logsumexp(torch.cat(logs), 0).exp()
    return out


# --------------------------------------------------------------------------- estimators
ESTIMATORS = {
    "deviation_l2": "time integral sum_k mu_{k+1}^2 dt_k of the squared deviation mu_k = m_k - E_{p_{t_k}}[phi] "
    "of the particle projection from its exact forward-marginal value (closed form)",
    "drift_qv": "quadratic variation of the projection's predictable (drift) increments, "
    "sum_k (E[m_{k+1} | X_k] - m_k)^2 / dt_k, the sampler's own Gaussian noise integrated out exactly",
    "drift_qv_linear": "sum_k (dm_k - n_k)^2 / dt_k with the first-order noise term n_k = mean_i grad phi(X_k^i) . xi_k^i removed",
    "deviation_drift_qv": "sum_k (E[m_{k+1} | X_k] - m_k - (m*_{k+1} - m*_k))^2 / dt_k: drift increments "
    "minus those of the exact forward marginal m*_k = E_{p_{t_k}}[phi]",
    "deviation_drift_qv_linear": "sum_k (dmu_k - n_k)^2 / dt_k, first-order noise removal, mu_k = m_k - m*_k",
    "deviation_qv": "quadratic variation sum_k (mu_{k+1} - mu_k)^2 of the deviation mu_k = m_k - m*_k (noise included)",
    "raw_qv": "raw quadratic variation sum_k (m_{k+1} - m_k)^2 of the projection m_k = mean_i phi(X_k^i) (noise included)",
}


@dataclass
class SIEMResult:
    """What :func:`siem` and :meth:`SIEMRecorder.result` return.

    ``value`` is the chosen estimator over the window, ``mu`` the deviation series
    :math:`\\mu_k = m_k - m^*_k` at the window's states (``m_k - m_0`` without a reference),
    ``times`` their times, ``steps_used`` the steps in the window, ``estimator`` a sentence
    saying what ``value`` is and ``name`` its key in :data:`ESTIMATORS`. ``variants`` holds
    every estimator the inputs allow (same window). ``floor`` is, for ``deviation_l2``, its
    expected value with the exact score and exact time stepping,
    :math:`\\sum_k \\operatorname{Var}_{p_{t_{k+1}}}(\\varphi)\\,\\Delta t_k / n` (the particles are
    then independent draws of :math:`p_t`), else ``None``; ``ratio = value / floor``.
    """

    value: float
    mu: torch.Tensor
    window: float
    steps_used: int
    estimator: str
    name: str = ""
    times: Optional[torch.Tensor] = None
    floor: Optional[float] = None
    variants: dict = field(default_factory=dict)

    @property
    def ratio(self) -> Optional[float]:
        return None if not self.floor else self.value / self.floor

    def __str__(self) -> str:
        fl = "" if self.floor is None else f", {self.ratio:.3g} x its no-error floor {self.floor:.3g}"
        return (
            f"SIEM[{self.name}] = {self.value:.6g}{fl} over the first {self.steps_used} steps "
            f"(window {self.window:g}): {self.estimator}"
        )


def _check_window(window) -> float:
    msg = f"window must lie in (0, 1] (a fraction of the sampling steps), got {window!r}"
    if isinstance(window, (bool, str, bytes)):
        raise ValueError(msg)
    try:
        w = float(window)
    except (TypeError, ValueError):
        raise ValueError(msg) from None
    if not (0 < w <= 1):  # also NaN
        raise ValueError(msg)
    return w


def _steps_in(window: float, n_steps: int) -> int:
    """Steps in the window: ceil(window * n_steps), at least one."""
    return max(1, min(n_steps, int(math.ceil(window * n_steps - 1e-9))))


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).to(torch.float64)


class _Records:
    """Per-state scalars: m_k, t_k, and for the step k -> k+1 the noise terms n_k and E[m_{k+1} | X_k]."""

    def __init__(self, phi: RadialTestFunction, n: int):
        self.phi, self.n_particles = phi, n
        self.m: list[float] = []
        self.t: list[float] = []
        self.n: list[float] = []  # first-order noise term of step k -> k+1
        self.pred: list[float] = []  # E[m_{k+1} | X_k]
        self.noisy: list[bool] = []
        self._grad = None  # grad phi at the previous state (the only O(n d) thing kept)

    def add(self, t: float, x: torch.Tensor, noise: Optional[torch.Tensor]):
        if x.shape[0] != self.n_particles:
            raise ValueError(f"the trajectory's states must all hold {self.n_particles} particles, got {x.shape[0]}")
        phi, grad = self.phi.values(x, grad=True)
        m = float(phi.mean())
        if self.m:  # close the step k -> k+1
            if noise is None:
                self.n.append(0.0)
                self.pred.append(m)
                self.noisy.append(False)
            else:
                xi = _flat(noise)
                if xi.shape != self._grad.shape:
                    raise ValueError(f"noise must have the state's shape {tuple(x.shape)}, got {tuple(noise.shape)}")
                self.n.append(float((self._grad * xi).sum()) / xi.shape[0])
                # E[phi(xbar + xi) | xbar] for xi ~ N(0, v I), v pooled over particles and coordinates
                v = float((xi * xi).mean())
                w = self.phi.width2
                y = _flat(x) - xi - self.phi.center.to(x.device)
                e = torch.exp(-0.5 * (y * y).sum(1) / (w + v) - 0.5 * self.phi.dim * math.log1p(v / w))
                self.pred.append(float(e.mean()))
                self.noisy.append(True)
        elif noise is not None:
            raise ValueError("the first state carries no noise increment (noise must be None at k = 0)")
        self.m.append(m)
        self.t.append(float(t))
        self._grad = grad

    def result(self, window: float, n_steps: int, estimator: str, reference, process) -> SIEMResult:
        K = len(self.m) - 1
        if K < 1:
            raise ValueError(f"a trajectory needs at least two states (one step), got {K + 1}")
        L = _steps_in(window, n_steps)
        if L > K:
            raise ValueError(f"the window needs {L} steps but only {K} were recorded")
        m = torch.tensor(self.m[: L + 1], dtype=torch.float64)
        t = torch.tensor(self.t[: L + 1], dtype=torch.float64)
        dt = (t[:-1] - t[1:]).abs()
        if bool((dt <= 0).any()):
            raise ValueError("times must be strictly monotone (Langevin's constant grid has no SIEM)")
        has_noise = any(self.noisy[:L])
        n = torch.tensor(self.n[:L], dtype=torch.float64)
        dA = torch.tensor(self.pred[:L], dtype=torch.float64) - m[:-1]  # predictable increments
        dm = m[1:] - m[:-1]
        variants = {"raw_qv": float((dm**2).sum())}
        if has_noise:
            variants["drift_qv"] = float((dA**2 / dt).sum())
            variants["drift_qv_linear"] = float(((dm - n) ** 2 / dt).sum())
        mu = m - m[0]
        floor = None
        if reference is not None:
            mstar = reference_projection(reference, process, t, self.phi)
            var = (reference_projection(reference, process, t[1:], self.phi, power=2) - mstar[1:] ** 2).clamp_min(0)
            mu = m - mstar
            dmu, dms = mu[1:] - mu[:-1], mstar[1:] - mstar[:-1]
            variants["deviation_l2"] = float((mu[1:] ** 2 * dt).sum())
            variants["deviation_qv"] = float((dmu**2).sum())
            if has_noise:
                variants["deviation_drift_qv"] = float(((dA - dms) ** 2 / dt).sum())
                variants["deviation_drift_qv_linear"] = float(((dmu - n) ** 2 / dt).sum())
            l2_floor = float((var * dt).sum()) / self.n_particles
        if estimator == "auto":
            if reference is not None:
                estimator = "deviation_l2"
            else:
                estimator = "drift_qv" if has_noise else "raw_qv"
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be 'auto' or one of {sorted(ESTIMATORS)}, got {estimator!r}")
        if estimator not in variants:
            need = "a reference (and its process)" if estimator.startswith("deviation") else "the noise increments"
            raise ValueError(f"estimator {estimator!r} needs {need}")
        if estimator == "deviation_l2":
            floor = l2_floor
        return SIEMResult(
            value=variants[estimator], mu=mu, window=window, steps_used=L, estimator=ESTIMATORS[estimator],
            name=estimator, times=t, floor=floor, variants=variants,
        )


def _check_reference(reference, process):
    if reference is not None and process is None:
        raise ValueError("process is required with a reference (it gives a(t), b(t), sigma(t))")


class SIEMRecorder:
    """A sampler ``callback(k, t, x, noise)`` computing SIEM on the fly.

    Pass it as ``callback=`` to :func:`~scoreuq.sampling.euler_maruyama`,
    :func:`~scoreuq.sampling.predictor_corrector` or :func:`~scoreuq.sampling.probability_flow`;
    then ``recorder.result(window=0.1)``. It keeps a few floats per step (``m_k``, the noise
    terms, ``t_k``) and one ``(n, d)`` gradient between calls, never the path. The test function
    is fixed from the first state (``k = 0``), exactly as :func:`siem` fixes it from ``path[0]``,
    so both give the same numbers. A new ``k = 0`` call starts a new trajectory.
    Arguments as in :func:`siem`.
    """

    def __init__(self, *, scale: float = 1.0, reference=None, process=None, center=None, prior_std=None, estimator: str = "auto"):
        self.scale = check_positive("scale", scale)
        _check_reference(reference, process)
        self.reference, self.process = reference, process
        self.center, self.prior_std, self.estimator = center, prior_std, estimator
        self._rec: Optional[_Records] = None
        self._next = 0

    @property
    def test_function(self) -> Optional[RadialTestFunction]:
        return None if self._rec is None else self._rec.phi

    def __call__(self, k: int, t: float, x: torch.Tensor, noise: Optional[torch.Tensor] = None) -> None:
        if k == 0:
            self._rec = _Records(_test_function(x, self.scale, self.center, self.prior_std), x.shape[0])
        elif self._rec is None or k != self._next:
            raise ValueError(f"the recorder expected state k = {self._next}, got k = {k}")
        self._rec.add(t, x, noise)
        self._next = k + 1

    def result(self, window: float = 0.1, estimator: Optional[str] = None) -> SIEMResult:
        """SIEM over the first ``window`` fraction of the recorded steps."""
        window = _check_window(window)
        if self._rec is None:
            raise ValueError("the recorder has seen no trajectory yet")
        return self._rec.result(window, len(self._rec.m) - 1, estimator or self.estimator, self.reference, self.process)


def siem(
    trajectory,
    times=None,
    *,
    window: float = 0.1,
    scale: float = 1.0,
    reference=None,
    process=None,
    noise=None,
    center=None,
    prior_std=None,
    estimator: str = "auto",
) -> SIEMResult:
    r"""SIEM of a sampling trajectory.

    Parameters
    ----------
    trajectory : Tensor ``(K+1, n, ...)`` or :class:`~scoreuq.sampling.SampleResult`
        The path from the prior draw (``t = T``) to the end; ``times`` may then be omitted.
    times : ``(K+1,)``
        The time of each state (decreasing for the reverse samplers).
    window : float in (0, 1]
        Fraction of the steps, from the start of sampling, that SIEM reads (``1.0``: all);
        ``ceil(window * K)`` steps, at least one.
    scale : float
        :math:`h`, the bump's width per coordinate in units of the prior's std.
    reference, process
        Data points ``(m, ...)`` or a :class:`~scoreuq.data.GaussianMixture`, and the forward
        process, for the exact :math:`m^*_t = \mathbb E_{p_t}\varphi` (closed form). With them the
        default estimator is ``deviation_l2``.
    noise : sequence of ``K`` tensors (or ``None`` entries), optional
        The Gaussian increment each step added (what the samplers hand a ``callback``); enables
        the ``drift_qv`` estimators, the default without a reference.
    center, prior_std
        :math:`c` and :math:`\sigma_0`; default the mean and pooled per-coordinate std of ``path[0]``.
    estimator : ``"auto"`` or a key of :data:`ESTIMATORS`.
    """
    if hasattr(trajectory, "path") and hasattr(trajectory, "times"):
        if times is None:
            times = trajectory.times
        trajectory = trajectory.path
    if not torch.is_tensor(trajectory):
        trajectory = torch.stack([torch.as_tensor(x) for x in trajectory])
    if trajectory.ndim < 2:
        raise ValueError(f"trajectory must have shape (steps + 1, n, ...), got {tuple(trajectory.shape)}")
    if trajectory.shape[0] < 2:
        raise ValueError(f"a trajectory needs at least two states (one step), got {trajectory.shape[0]}")
    if times is None:
        raise ValueError("times is required (one per state) unless trajectory is a SampleResult")
    times = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
    if times.shape[0] != trajectory.shape[0]:
        raise ValueError(f"times must hold one time per state ({trajectory.shape[0]}), got {times.shape[0]}")
    window = _check_window(window)
    _check_reference(reference, process)
    K = trajectory.shape[0] - 1
    if noise is not None and len(noise) != K:
        raise ValueError(f"noise must hold one increment (or None) per step ({K}), got {len(noise)}")
    L = _steps_in(window, K)
    rec = _Records(_test_function(trajectory[0], scale, center, prior_std), trajectory.shape[1])
    for k in range(L + 1):
        rec.add(float(times[k]), trajectory[k], None if (noise is None or k == 0) else noise[k - 1])
    return rec.result(window, K, estimator, reference, process)
