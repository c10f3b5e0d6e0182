r"""Negative log-likelihood (and bits/dim) through the probability-flow ODE.

The probability-flow ODE of a forward process (Song et al. 2021, eq. 13),

.. math::

    \frac{dx}{dt} = \tilde f(x, t) = f(x, t) - \tfrac12 g(t)^2\, s(x, t),

transports :math:`p_{t_{\min}}` to :math:`p_T` when :math:`s = \nabla_x\log p_t`, and the
instantaneous change of variables (Chen et al. 2018; Song et al. 2021, App. D.2) gives
:math:`\frac{d}{dt}\log p_t(x(t)) = -\nabla\cdot\tilde f(x(t), t)`. Integrating from the data
at :math:`t_{\min}` up to :math:`T`,

.. math::

    \log p_{t_{\min}}(x) = \log p_T(x(T)) + \int_{t_{\min}}^{T} \nabla\cdot\tilde f(x(t), t)\,dt,
    \qquad x(t_{\min}) = x .

:math:`\log p_T` is replaced by the process prior (``process.prior_log_prob``: for the OU and VP
processes the stationary law, for VE :math:`\mathcal N(0,\sigma_{\max}^2 I)`); this *prior
approximation* is the only model error besides the score itself, and it vanishes as
:math:`a(T)\to 0` (for OU, :math:`\log p_T - \log\pi_\infty = O(e^{-\beta T})`).

``t_min`` is the early-stopping time :math:`\varepsilon`: the value computed is
:math:`-\log p_\varepsilon(x)`, the likelihood of the model's :math:`\varepsilon`-marginal, as in
score_sde (``eps = 1e-5``).

The ODE is solved with an adaptive Dormand–Prince RK5(4) (``method="rk45"``, the tableau and
step-size controller of ``scipy.integrate.solve_ivp(method="RK45")``), written in torch so the
whole batch stays on ``x.device`` as one system; its error norm is the *largest over points of
each point's RMS* (so accuracy does not dilute with batch size), where scipy uses one RMS
over the whole flattened system. ``method="scipy"`` runs ``solve_ivp`` itself (float64 on the
CPU, for cross-checks).

The divergence is exact (the Jacobian trace, one vector–Jacobian product per dimension,
batched with ``is_grads_batched``) or Hutchinson's estimator :math:`\varepsilon^\top J\varepsilon`
with Rademacher or Gaussian probes drawn once per ODE solve (FFJORD; score_sde), unbiased for the
exact integrand because the trajectory :math:`x(t)` does not depend on the probes.

Bits per dimension (images in ``[0, 1]``, ``n_bins`` levels; score_sde's convention). With uniform
dequantisation :math:`y = (x(n_{\rm bins}-1) + u)/n_{\rm bins}`, :math:`u\sim U[0,1)^D`, the
discrete probability of the pixel cell of side :math:`1/n_{\rm bins}` satisfies (Jensen)

.. math::

    -\log P(x) \le \mathbb E_u\big[-\log p(y)\big] + D\log n_{\rm bins},
    \qquad
    \mathrm{bpd} = \frac{-\log p(y) + D\log n_{\rm bins}}{D\ln 2},

where :math:`p` is the density of :math:`y` in ``[0, 1]`` units. If the model sees
:math:`z = a y + b` (``scaler=(a, b)``; score_sde's centred data are ``(2, -1)``), then
:math:`-\log p(y) = -\log p_z(z) - D\log|a|`, so for 8 bits and ``a = 2`` the offset is
:math:`8 - 1 = 7` bits, exactly score_sde's ``bpd = -logp_z/(D ln 2) + 7 - inverse_scaler(-1)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from ._validation import check_finite, check_in_range, check_int, check_positive
from .processes import resolve_t_min

__all__ = ["NLLResult", "nll", "divergence", "solve_probability_flow", "bits_per_dim_from_nll"]

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_METHODS = ("rk45", "scipy")
_DIVERGENCES = ("exact", "hutchinson")
_PROBES = ("rademacher", "gaussian")
_MAX_NFE = 200_000
_LN2 = math.log(2.0)


# --------------------------------------------------------------------------- result
@dataclass
class NLLResult:
    """Per-point negative log-likelihoods (nats) with their summary.

    ``values``: shape ``(n,)``, :math:`-\\log p_{t_{\\min}}(x_i)` of the data as given (after
    dequantisation, with the scaler's log-Jacobian). ``mean`` and ``ci`` (95%: mean ± 1.96 sd/√n,
    ``None`` for a single point) summarise them; with a Hutchinson divergence the spread includes
    the probe noise. ``bits_per_dim`` (mean), ``bpd_values`` and ``bpd_ci`` are set when bits/dim
    were asked for. ``nfe`` counts evaluations of the ODE right-hand side (one score evaluation plus
    its divergence each), summed over batches.
    """

    values: torch.Tensor
    mean: float
    ci: Optional[tuple[float, float]]
    nfe: int
    estimator: str
    bits_per_dim: Optional[float] = None
    bpd_values: Optional[torch.Tensor] = None
    bpd_ci: Optional[tuple[float, float]] = None
    dim: int = field(default=0)

    @property
    def n(self) -> int:
        return int(self.values.numel())

    def __str__(self) -> str:
        ci = f"[{self.ci[0]:.4f}, {self.ci[1]:.4f}]" if self.ci is not None else "n/a (one point)"
        s = f"NLL {self.mean:.4f} nats (95% CI {ci}, n = {self.n}, D = {self.dim})"
        if self.bits_per_dim is not None:
            bci = f"[{self.bpd_ci[0]:.4f}, {self.bpd_ci[1]:.4f}]" if self.bpd_ci is not None else "n/a"
            s += f"; {self.bits_per_dim:.4f} bits/dim (95% CI {bci})"
        return s + f"; nfe = {self.nfe}\n{self.estimator}"


def _mean_ci(v: torch.Tensor) -> tuple[float, Optional[tuple[float, float]]]:
    v = v.detach().to(torch.float64)
    m = float(v.mean())
    if v.numel() < 2:
        return m, None
    half = 1.96 * float(v.std(unbiased=True)) / math.sqrt(v.numel())
    return m, (m - half, m + half)


def bits_per_dim_from_nll(nll_values, dim: int, *, n_bins: int = 256) -> torch.Tensor:
    r"""Bits per dimension from NLLs in nats of data in ``[0, 1]`` units:
    :math:`(\mathrm{nll} + D\log n_{\rm bins}) / (D\ln 2)`.

    ``nll_values`` must already include any scaler's log-Jacobian (as :attr:`NLLResult.values` do).
    """
    dim = check_int("dim", dim, 1)
    n_bins = check_int("n_bins", n_bins, 2)
    v = torch.as_tensor(nll_values)
    check_finite("nll_values", v)
    return (v + dim * math.log(n_bins)) / (dim * _LN2)


# --------------------------------------------------------------------------- divergence
def _draw_probes(shape, probe, generator, dtype, device):
    gdev = generator.device if generator is not None else device
    if probe == "rademacher":
        e = torch.randint(0, 2, shape, generator=generator, device=gdev).to(dtype) * 2 - 1
    else:
        e = torch.randn(shape, generator=generator, dtype=dtype, device=gdev)
    return e.to(device)


def _exact_trace(v: torch.Tensor, x: torch.Tensor, state: dict) -> torch.Tensor:
    """Trace of dv/dx per sample: one vjp per dimension, batched (chunks of basis vectors)."""
    n = x.shape[0]
    D = x[0].numel()
    out = torch.zeros(n, dtype=v.dtype, device=v.device)
    k = max(1, min(D, (1 << 24) // max(n * D, 1)))
    idx_all = torch.arange(D, device=v.device)
    start = 0
    while start < D:
        stop = min(D, start + k)
        m = stop - start
        basis = torch.zeros((m, n, D), dtype=v.dtype, device=v.device)
        basis[torch.arange(m, device=v.device), :, idx_all[start:stop]] = 1
        if state.get("batched", True):
            try:
                (g,) = torch.autograd.grad(
                    v, x, basis.reshape((m,) + tuple(v.shape)), retain_graph=True,
                    is_grads_batched=True, allow_unused=True,
                )
            except RuntimeError:
                state["batched"] = False  # an op without a vmap rule: fall back to a loop
        if not state.get("batched", True):
            gs = []
            for j in range(m):
                (gj,) = torch.autograd.grad(
                    v, x, basis[j].reshape(v.shape), retain_graph=True, allow_unused=True
                )
                gs.append(torch.zeros_like(x) if gj is None else gj)
            g = torch.stack(gs)
        if g is not None:
            g = g.reshape(m, n, D)
            out = out + g[torch.arange(m, device=v.device), :, idx_all[start:stop]].sum(0)
        start = stop
    return out


def _hutchinson(v: torch.Tensor, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Mean over probes of eps^T (dv/dx) eps per sample; ``eps`` has shape (P, *x.shape)."""
    P = eps.shape[0]
    if P == 1:
        (g,) = torch.autograd.grad(v, x, eps[0], allow_unused=True)
        if g is None:
            return torch.zeros(x.shape[0], dtype=v.dtype, device=v.device)
        return (g * eps[0]).flatten(1).sum(1)
    try:
        (g,) = torch.autograd.grad(v, x, eps, retain_graph=True, is_grads_batched=True, allow_unused=True)
    except RuntimeError:
        gs = []
        for p in range(P):
            (gp,) = torch.autograd.grad(v, x, eps[p], retain_graph=True, allow_unused=True)
            gs.append(torch.zeros_like(x) if gp is None else gp)
        g = torch.stack(gs)
    if g is None:
        return torch.zeros(x.shape[0], dtype=v.dtype, device=v.device)
    return (g * eps).flatten(2).sum(2).mean(0)


def _div_of(v, x, divergence, eps, state):
    if not v.requires_grad:  # v does not depend on x
        return torch.zeros(x.shape[0], dtype=v.dtype, device=v.device)
    if divergence == "exact":
        return _exact_trace(v, x, state)
    return _hutchinson(v, x, eps)


def divergence(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    method: str = "exact",
    n_probes: int = 1,
    probe: str = "rademacher",
    generator=None,
) -> torch.Tensor:
    r"""Per-sample divergence :math:`\nabla\cdot F(x_i) = \operatorname{tr} \partial F/\partial x\,(x_i)`
    of a batched map ``fn: (n, ...) -> (n, ...)`` (each output row depending on its own input row).

    ``method="exact"``: the Jacobian trace, one vector–Jacobian product per dimension.
    ``method="hutchinson"``: :math:`\frac1P\sum_p \varepsilon_p^\top J \varepsilon_p` with ``n_probes``
    fresh Rademacher or Gaussian probes (:math:`\mathbb E[\varepsilon\varepsilon^\top] = I`), unbiased.
    Returns shape ``(n,)``, detached.
    """
    method = _choice("method", method, _DIVERGENCES)
    probe = _choice("probe", probe, _PROBES)
    n_probes = check_int("n_probes", n_probes, 1)
    x = _check_x(x)
    eps = None
    if method == "hutchinson":
        eps = _draw_probes((n_probes,) + tuple(x.shape), probe, generator, x.dtype, x.device)
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        v = fn(xg)
        if v.shape != x.shape:
            raise ValueError(f"fn returned shape {tuple(v.shape)} for input shape {tuple(x.shape)}")
        return _div_of(v, xg, method, eps, {}).detach()


# --------------------------------------------------------------------------- solvers
# Dormand–Prince RK5(4)7M, as scipy.integrate.RK45 (same tableau, error weights and controller).
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
)
_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84)
_E = (-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40)
_SAFETY, _MIN_FACTOR, _MAX_FACTOR, _ERR_EXP = 0.9, 0.2, 10.0, -1 / 5


def _rownorm(z: torch.Tensor) -> float:
    """Largest over rows of the per-row RMS (one sync)."""
    return float(z.pow(2).mean(1).sqrt().max())


def _lincomb(y, h, coeffs, ks):
    acc = None
    for c, k in zip(coeffs, ks):
        if c == 0.0:
            continue
        acc = c * k if acc is None else acc.add(k, alpha=c)
    return y if acc is None else y + h * acc


def _dopri5(f, t0: float, t1: float, y0: torch.Tensor, rtol: float, atol: float) -> tuple[torch.Tensor, int]:
    """Integrate dy/dt = f(t, y) for y of shape (n, m) from t0 to t1 (either direction)."""
    nfe = 0

    def rhs(t, y):
        nonlocal nfe
        nfe += 1
        if nfe > _MAX_NFE:
            raise RuntimeError(f"the ODE solver exceeded {_MAX_NFE} function evaluations; loosen rtol/atol or check the score model")
        return f(t, y)

    direction = 1.0 if t1 > t0 else -1.0
    length = abs(t1 - t0)
    t, y = t0, y0
    k1 = rhs(t, y)
    if not bool(torch.isfinite(k1).all()):
        raise FloatingPointError(f"the ODE right-hand side is NaN or infinite at t = {t0:g}; check the score model")
    # initial step (Hairer, Nørsett & Wanner, II.4; scipy's select_initial_step)
    scale = atol + rtol * y.abs()
    d0, d1 = _rownorm(y / scale), _rownorm(k1 / scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, length)
    f1 = rhs(t + direction * h0, y + direction * h0 * k1)
    d2 = _rownorm((f1 - k1) / scale) / h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1 / 5)
    h_abs = min(100 * h0, h1, length)
    if not math.isfinite(h_abs):
        raise FloatingPointError(f"the ODE right-hand side is NaN or infinite near t = {t0:g}; check the score model")
    rejected = False
    while direction * (t1 - t) > 0:
        min_step = 10 * abs(math.nextafter(t, direction * math.inf) - t)
        if h_abs < min_step:
            raise FloatingPointError(f"the ODE step size underflowed at t = {t:g}; check the score model for NaN or stiffness")
        h_abs = min(h_abs, abs(t1 - t))
        t_new = t + direction * h_abs
        if direction * (t_new - t1) >= 0 or abs(t1 - t_new) < min_step:
            t_new = t1
        h = t_new - t
        ks = [k1]
        for i in range(1, 6):
            ti = t_new if i == 5 else t + _C[i] * h
            ks.append(rhs(ti, _lincomb(y, h, _A[i], ks)))
        y_new = _lincomb(y, h, _B, ks)
        k7 = rhs(t_new, y_new)
        err = h * _lincomb(torch.zeros_like(y), 1.0, _E, ks + [k7])
        scale = atol + rtol * torch.maximum(y.abs(), y_new.abs())
        en = _rownorm(err / scale)
        if en < 1.0:  # NaN fails this test and is rejected
            factor = _MAX_FACTOR if en == 0 else min(_MAX_FACTOR, _SAFETY * en**_ERR_EXP)
            if rejected:
                factor = min(1.0, factor)
            h_abs *= factor
            rejected = False
            t, y, k1 = t_new, y_new, k7
        else:
            factor = _MIN_FACTOR if not math.isfinite(en) else max(_MIN_FACTOR, _SAFETY * en**_ERR_EXP)
            h_abs *= factor
            rejected = True
    return y, nfe


def _scipy_rk45(f, t0, t1, y0, rtol, atol):
    from scipy.integrate import solve_ivp  # lazy: importing scoreuq must not load scipy

    shape, dtype, device = y0.shape, y0.dtype, y0.device
    nfe = 0

    def fun(t, y):
        nonlocal nfe
        nfe += 1
        yt = torch.from_numpy(y).reshape(shape).to(dtype=dtype, device=device)
        return f(float(t), yt).reshape(-1).to(torch.float64).cpu().numpy()

    sol = solve_ivp(fun, (t0, t1), y0.reshape(-1).to(torch.float64).cpu().numpy(), method="RK45", rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(f"scipy.integrate.solve_ivp failed: {sol.message}")
    y = torch.from_numpy(sol.y[:, -1]).reshape(shape).to(dtype=dtype, device=device)
    return y, nfe


def _solve(method, f, t0, t1, y0, rtol, atol):
    if method == "rk45":
        return _dopri5(f, t0, t1, y0, rtol, atol)
    return _scipy_rk45(f, t0, t1, y0, rtol, atol)


# --------------------------------------------------------------------------- checks
def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
    return value


def _check_x(x, name="x"):
    if not torch.is_tensor(x):
        raise ValueError(f"{name} must be a torch.Tensor of shape (n, ...), got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim < 2 or x.shape[0] < 1 or x[0].numel() < 1:
        raise ValueError(f"{name} must have shape (n, ...) with n >= 1, got shape {tuple(x.shape)}")
    return check_finite(name, x)


def _check_common(process, t_min, rtol, atol, method):
    rtol = check_positive("rtol", rtol)
    atol = check_positive("atol", atol)
    t_min = check_in_range("t_min", t_min, 0.0, float(process.T), low_open=True, high_open=True)
    method = _choice("method", method, _METHODS)
    return t_min, rtol, atol, method


def _score_checked(score_fn, x, tt):
    s = score_fn(x, tt)
    if not torch.is_tensor(s) or s.shape != x.shape:
        shp = tuple(s.shape) if torch.is_tensor(s) else type(s).__name__
        raise ValueError(f"score_fn returned shape {shp} for input shape {tuple(x.shape)}")
    return s


# --------------------------------------------------------------------------- public API
def nll(
    score_fn: ScoreFn,
    process,
    x: torch.Tensor,
    *,
    t_min: float | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "rk45",
    divergence: str = "exact",
    n_probes: int = 1,
    probe: str = "rademacher",
    generator=None,
    batch_size: Optional[int] = None,
    dequantize: Optional[str] = None,
    n_bins: int = 256,
    bits_per_dim: bool = False,
    scaler: tuple[float, float] = (1.0, 0.0),
) -> NLLResult:
    r"""Negative log-likelihood :math:`-\log p_{t_{\min}}(x)` of each point through the
    probability-flow ODE (module docstring; Song et al. 2021, App. D.2).

    Parameters
    ----------
    score_fn : callable ``s(x, t)`` (or ``nn.Module``), as for the samplers.
    process : a :class:`~scoreuq.processes.ForwardProcess`; its ``prior_log_prob`` stands in for
        :math:`\log p_T`.
    x : tensor ``(n, ...)`` of data points (``(n,)`` is read as ``(n, 1)``), on the model's device.
    t_min : the early-stopping time :math:`\varepsilon \in (0, T)` the data are attached to; default: the
        process's own (``process.early_stopped(t_min)``), else 1e-5 (score_sde's likelihood ε).
    rtol, atol : tolerances of the adaptive solver (> 0), applied to the points and to the
        accumulated log-density.
    method : ``"rk45"`` (torch Dormand–Prince on ``x.device``) or ``"scipy"`` (``solve_ivp``).
    divergence : ``"exact"`` (Jacobian trace; cost ∝ D backward passes) or ``"hutchinson"``.
    n_probes, probe : Hutchinson probes per point (``>= 1``), ``"rademacher"`` or ``"gaussian"``,
        drawn once per ODE solve from ``generator``.
    batch_size : points per ODE solve (``None``: all at once).
    dequantize : ``None`` or ``"uniform"``: :math:`y = (x(n_{\rm bins}-1) + u)/n_{\rm bins}`,
        ``u ~ U[0,1)`` from ``generator``; needs ``x`` in ``[0, 1]``.
    n_bins : number of intensity levels (``>= 2``), 256 for 8-bit images.
    bits_per_dim : also report bits/dim, :math:`(\mathrm{nll} + D\log n_{\rm bins})/(D\ln 2)`
        (score_sde's convention; a bound on the discrete NLL only with ``dequantize``); needs
        ``x`` in ``[0, 1]``.
    scaler : ``(a, b)``: the model sees ``a * y + b`` (e.g. ``(2, -1)`` for data centred to
        ``[-1, 1]``); the reported NLL is in the units of ``x`` (it includes ``-D log|a|``).
    """
    t_min = resolve_t_min(process, t_min, default=1e-5)
    t_min, rtol, atol, method = _check_common(process, t_min, rtol, atol, method)
    divergence = _choice("divergence", divergence, _DIVERGENCES)
    probe = _choice("probe", probe, _PROBES)
    n_probes = check_int("n_probes", n_probes, 1)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
    dequantize = _choice("dequantize", dequantize, (None, "uniform"))
    n_bins = check_int("n_bins", n_bins, 2)
    if not isinstance(bits_per_dim, bool):
        raise ValueError(f"bits_per_dim must be True or False, got {bits_per_dim!r}")
    try:
        a_sc, b_sc = (float(v) for v in scaler)
    except (TypeError, ValueError):
        raise ValueError(f"scaler must be a pair (scale, shift) of numbers, got {scaler!r}") from None
    if not (math.isfinite(a_sc) and math.isfinite(b_sc)) or a_sc == 0:
        raise ValueError(f"scaler must be (scale, shift) with finite values and scale != 0, got {scaler!r}")
    x = _check_x(x)
    if dequantize is not None or bits_per_dim:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0 or hi > 1:
            raise ValueError(
                f"x must lie in [0, 1] for bits_per_dim/dequantize (images scaled to [0, 1]), got values in [{lo:g}, {hi:g}]"
            )
    n = x.shape[0]
    D = x[0].numel()
    T = float(process.T)
    bs = n if batch_size is None else batch_size
    values, nfe_total, n_batches = [], 0, 0
    state: dict = {}
    for i in range(0, n, bs):
        xb = x[i : i + bs]
        if dequantize == "uniform":
            u = torch.rand(xb.shape, generator=generator, dtype=xb.dtype,
                           device=generator.device if generator is not None else xb.device).to(xb.device)
            xb = (xb * (n_bins - 1) + u) / n_bins
        z = a_sc * xb + b_sc if (a_sc, b_sc) != (1.0, 0.0) else xb
        nll_b, nfe = _nll_batch(score_fn, process, z, t_min, T, rtol, atol, method, divergence, n_probes, probe, generator, state)
        values.append(nll_b - D * math.log(abs(a_sc)))
        nfe_total += nfe
        n_batches += 1
    vals = torch.cat(values)
    if not bool(torch.isfinite(vals).all()):
        raise FloatingPointError("the likelihood computation produced NaN or infinite values; check the score model")
    mean, ci = _mean_ci(vals)
    div_txt = (
        "exact divergence (Jacobian trace, one vector-Jacobian product per dimension)"
        if divergence == "exact"
        else f"Hutchinson divergence ({n_probes} {probe} probe(s) per point, fixed per ODE solve)"
    )
    solver_txt = (
        "torch Dormand-Prince RK5(4) (error norm: max over points of per-point RMS)"
        if method == "rk45"
        else "scipy.integrate.solve_ivp RK45 (float64, global RMS error norm)"
    )
    estimator = (
        f"Probability-flow ODE (Song et al. 2021, App. D.2) from t_min = {t_min:g} to T = {T:g} with {solver_txt}, "
        f"rtol = {rtol:g}, atol = {atol:g}, {n_batches} batch(es); {div_txt}; "
        f"log p_T replaced by the prior of {process!r} (prior approximation)"
    )
    if dequantize:
        estimator += f"; uniform dequantisation to {n_bins} bins"
    if (a_sc, b_sc) != (1.0, 0.0):
        estimator += f"; model input = {a_sc:g} * x + {b_sc:g} (NLL in units of x)"
    res = NLLResult(values=vals, mean=mean, ci=ci, nfe=nfe_total, estimator=estimator + ".", dim=D)
    if bits_per_dim:
        bpd = bits_per_dim_from_nll(vals, D, n_bins=n_bins)
        res.bpd_values = bpd
        res.bits_per_dim, res.bpd_ci = _mean_ci(bpd)
    return res


def _nll_batch(score_fn, process, x, t_min, T, rtol, atol, method, divergence, n_probes, probe, generator, state):
    n = x.shape[0]
    D = x[0].numel()
    shape = tuple(x.shape)
    eps = None
    if divergence == "hutchinson":
        eps = _draw_probes((n_probes,) + shape, probe, generator, x.dtype, x.device)

    def f(t: float, Y: torch.Tensor) -> torch.Tensor:
        tt = torch.full((n,), t, dtype=x.dtype, device=x.device)
        with torch.enable_grad():
            xg = Y[:, :D].reshape(shape).detach().requires_grad_(True)
            s = _score_checked(score_fn, xg, tt)
            v = process.probability_flow_drift(xg, tt, s, check_time=False)
            div = _div_of(v, xg, divergence, eps, state)
        return torch.cat([v.detach().reshape(n, D), div.detach().reshape(n, 1)], 1)

    Y0 = torch.cat([x.detach().reshape(n, D), torch.zeros((n, 1), dtype=x.dtype, device=x.device)], 1)
    Y, nfe = _solve(method, f, t_min, T, Y0, rtol, atol)
    xT = Y[:, :D].reshape(shape)
    with torch.no_grad():
        logp = process.prior_log_prob(xT) + Y[:, D]
    return -logp, nfe


@torch.no_grad()
def solve_probability_flow(
    score_fn: ScoreFn,
    process,
    x_T: torch.Tensor,
    *,
    t_min: float | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "rk45",
) -> tuple[torch.Tensor, int]:
    r"""Integrate the probability-flow ODE :math:`\dot x = f(x,t) - \tfrac12 g(t)^2 s(x,t)` from
    ``x_T`` at time ``T`` down to ``t_min`` with the adaptive Dormand–Prince solver of :func:`nll`.

    Returns ``(x_tmin, nfe)``; ``nfe`` counts score evaluations. Deterministic: all randomness is
    in ``x_T`` (e.g. ``process.prior(shape, generator=g)``). ``t_min=None``: the process's own
    (``process.early_stopped(t_min)``), else 1e-3 as for the samplers.
    """
    t_min = resolve_t_min(process, t_min)
    t_min, rtol, atol, method = _check_common(process, t_min, rtol, atol, method)
    x_T = _check_x(x_T, "x_T")
    n = x_T.shape[0]
    shape = tuple(x_T.shape)

    def f(t: float, Y: torch.Tensor) -> torch.Tensor:
        xx = Y.reshape(shape)
        tt = torch.full((n,), t, dtype=xx.dtype, device=xx.device)
        s = _score_checked(score_fn, xx, tt)
        return process.probability_flow_drift(xx, tt, s, check_time=False).reshape(n, -1)

    Y, nfe = _solve(method, f, float(process.T), t_min, x_T.reshape(n, -1), rtol, atol)
    x = Y.reshape(shape)
    if not bool(torch.isfinite(x).all()):
        raise FloatingPointError("the probability-flow solve produced NaN or infinite values; check the score model")
    return x, nfe
