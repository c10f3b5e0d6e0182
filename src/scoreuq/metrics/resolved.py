r"""Distances that say whether they resolve the model's error.

A distance :math:`\hat d(\text{generated}, \text{reference})` between finite samples is never
zero, even for a perfect model: every estimator has a *floor*, its value between two independent
samples of the data law :math:`\pi`. A measured value means something only against that floor and
its spread. This module provides

* :func:`assess` — any estimator ``distance_fn(x, y) -> float``, its floor, a paired bootstrap
  spread and a ``resolved`` flag (:class:`Assessment`);
* :func:`frechet_with_floor` — the Fréchet distance of :mod:`scoreuq.metrics.fid` on feature
  vectors, through :func:`assess`;
* :func:`w1_lower_bound` — lower *confidence* limits of the population :math:`W_1(\mu,\nu)`
  (max-sliced and sliced, with held-out 1-Lipschitz critics) that stay lower bounds at finite n.

Conventions of :func:`assess`
-----------------------------
``value = d(gen, ref_a)`` and ``floor = d(ref_b, ref_a)``, where ``ref_b`` is a sample of
:math:`\pi` independent of ``ref_a`` and of the same size ``n`` as ``gen`` (for images: two
disjoint held-out sets — the caller supplies them, or ``reference_b=None`` lets :func:`assess`
split ``reference_a`` at random into ``n`` points for ``ref_b`` and the rest for ``ref_a``). If
``gen`` and ``ref_b`` differ in size, both are subsampled (without replacement) to the smaller one,
so that value and floor are the *same* estimator at the same sizes.

Spread: a **paired bootstrap**. Each replicate resamples, with replacement, ``gen``, ``ref_b`` and
``ref_a`` independently (``ref_a`` once, shared by the value and the floor of that replicate, as in
the point estimate), and records ``value*``, ``floor*`` and ``excess* = value* − floor*``. ``ci``,
``floor_ci`` and ``excess_ci`` are two-sided percentile intervals at ``level``; ``spread`` is the
bootstrap standard deviation of the excess. ``resolved`` is ``excess_ci[0] > 0``: the lower
percentile limit of the excess is above zero, i.e. the model's value exceeds the floor beyond the
bootstrap spread (a one-sided test at level :math:`(1-\text{level})/2`, approximate: the bootstrap
of non-smooth distances such as W1 is only asymptotically valid, and resampling with replacement
duplicates points, which lowers sample distances — value and floor alike, hence the pairing).

Cost: ``1 + n_boot`` evaluations of value and of floor. For exact W1 (cubic) use a small
``n_boot`` (say 20–50) and/or ``subsample=s``: every replicate then draws ``s`` points *without*
replacement from each sample (``m``-out-of-``n`` subsampling, valid for non-smooth functionals),
so the intervals describe the size-``s`` estimator — wider, and its floor higher than at ``n``:
a conservative ``resolved``. The point ``value``/``floor`` are always at full size.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import torch

from .._validation import check_in_range, check_int, check_points
from .fid import extract_features
from .wasserstein import _wp_pow_1d, random_directions

__all__ = ["Assessment", "assess", "frechet_from_features", "frechet_with_floor", "w1_lower_bound"]


@dataclasses.dataclass(frozen=True)
class Assessment:
    """A distance with its floor, its bootstrap spread and whether it resolves the model's error.

    ``value = d(gen, ref_a)``, ``floor = d(ref_b, ref_a)``, ``excess = value - floor``;
    ``value_sd``, ``floor_sd``, ``spread`` are bootstrap standard deviations of value, floor and
    excess; ``ci``, ``floor_ci``, ``excess_ci`` two-sided percentile intervals at ``level``;
    ``resolved = excess_ci[0] > 0``; ``n`` the size of gen and ref_b, ``n_reference`` of ref_a.
    """

    value: float
    floor: float
    excess: float
    value_sd: float
    floor_sd: float
    spread: float
    ci: tuple
    floor_ci: tuple
    excess_ci: tuple
    resolved: bool
    level: float
    n: int
    n_reference: int
    n_boot: int
    resample: str
    estimator: str

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (tuples become lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}


def _as_sample(name, x, like=None):
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if x.ndim == 0 or x.shape[0] < 2:
        raise ValueError(f"{name} must hold at least 2 samples along dim 0, got shape {tuple(x.shape)}")
    if like is not None and x.shape[1:] != like.shape[1:]:
        raise ValueError(f"{name} must have trailing shape {tuple(like.shape[1:])}, got {tuple(x.shape[1:])}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x if like is None else x.to(like.device)


def _pick(x, n, g):
    """``n`` rows of ``x`` without replacement (all of them, in order, if ``n == len(x)``)."""
    if n == x.shape[0]:
        return x
    return x[torch.randperm(x.shape[0], generator=g)[:n].to(x.device)]


def _percentile(v: torch.Tensor, level: float) -> tuple:
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    lo, hi = torch.quantile(v, q).tolist()
    return (lo, hi)


def assess(
    distance_fn: Callable,
    generated,
    reference_a,
    reference_b=None,
    *,
    n_boot: int = 200,
    level: float = 0.95,
    subsample: int | None = None,
    generator: torch.Generator | None = None,
    name: str | None = None,
    distance_kwargs: dict | None = None,
) -> Assessment:
    """Value, floor, paired-bootstrap spread and ``resolved`` flag of ``distance_fn`` (module docstring).

    Parameters
    ----------
    distance_fn : ``distance_fn(x, y, **distance_kwargs) -> float``, called on row subsets of the samples.
    generated : the model's sample, ``(n, ...)`` (rows are samples; any trailing shape).
    reference_a : sample of the data law, the common reference of value and floor.
    reference_b : an independent sample of the data law for the floor; ``None`` splits
        ``reference_a`` (needs ``len(reference_a) >= len(generated) + 2``).
    n_boot : bootstrap replicates (>= 10).
    level : two-sided level of the percentile intervals, in (0, 1).
    subsample : ``None`` (bootstrap with replacement at full size) or ``s >= 2``: each replicate
        draws ``min(s, size)`` rows without replacement from each sample.
    generator : torch.Generator (CPU) for the split, the subsampling and the resampling.
    name : the estimator's name in ``estimator`` (default: ``distance_fn.__name__``).
    """
    n_boot = check_int("n_boot", n_boot, 10)
    level = check_in_range("level", level, 0.0, 1.0, low_open=True, high_open=True)
    if subsample is not None:
        subsample = check_int("subsample", subsample, 2)
    kw = dict(distance_kwargs or {})
    gen = _as_sample("generated", generated)
    ra = _as_sample("reference_a", reference_a, like=gen)
    split = reference_b is None
    if split:
        if ra.shape[0] < gen.shape[0] + 2:
            raise ValueError(
                f"reference_a must hold at least len(generated) + 2 = {gen.shape[0] + 2} samples to be split "
                f"(got {ra.shape[0]}); or pass reference_b"
            )
        perm = torch.randperm(ra.shape[0], generator=generator).to(ra.device)
        rb, ra = ra[perm[: gen.shape[0]]], ra[perm[gen.shape[0]:]]
    else:
        rb = _as_sample("reference_b", reference_b, like=gen)
    n = min(gen.shape[0], rb.shape[0])
    gen, rb = _pick(gen, n, generator), _pick(rb, n, generator)
    na = ra.shape[0]

    def both(g_, b_, a_):
        return float(distance_fn(g_, a_, **kw)), float(distance_fn(b_, a_, **kw))

    value, floor = both(gen, rb, ra)
    for nm, v in (("value", value), ("floor", floor)):
        if not math.isfinite(v):
            raise ValueError(f"distance_fn returned a non-finite {nm} ({v!r})")
    vals = torch.empty(n_boot, dtype=torch.float64)
    flrs = torch.empty(n_boot, dtype=torch.float64)
    for i in range(n_boot):
        if subsample is None:
            ig = torch.randint(0, n, (n,), generator=generator)
            ib = torch.randint(0, n, (n,), generator=generator)
            ia = torch.randint(0, na, (na,), generator=generator)
        else:
            ig = torch.randperm(n, generator=generator)[: min(subsample, n)]
            ib = torch.randperm(n, generator=generator)[: min(subsample, n)]
            ia = torch.randperm(na, generator=generator)[: min(subsample, na)]
        dev = gen.device
        vals[i], flrs[i] = both(gen[ig.to(dev)], rb[ib.to(dev)], ra[ia.to(dev)])
    exc = vals - flrs
    if not bool(torch.isfinite(exc).all()):
        raise ValueError("distance_fn returned non-finite values on bootstrap replicates")
    excess_ci = _percentile(exc, level)
    resample = "bootstrap" if subsample is None else f"subsample({min(subsample, n)}, {min(subsample, na)})"
    nm = name or getattr(distance_fn, "__name__", "distance")
    how = (
        f"{n_boot} paired bootstrap replicates (with replacement, full sizes)"
        if subsample is None
        else f"{n_boot} paired subsampling replicates (without replacement, {min(subsample, n)} generated/floor "
        f"and {min(subsample, na)} reference points; intervals describe the subsampled estimator)"
    )
    estimator = (
        f"{nm}: value = d(generated, ref_a), floor = d(ref_b, ref_a) with ref_b an independent sample of "
        f"the data law of the generated size n={n} ({'split at random from reference_a' if split else 'supplied'}), "
        f"ref_a of size {na}; spread from {how}; {level:.0%} percentile intervals; "
        f"resolved iff the lower limit of the interval of value - floor is > 0."
    )
    return Assessment(
        value=value, floor=floor, excess=value - floor,
        value_sd=float(vals.std()), floor_sd=float(flrs.std()), spread=float(exc.std()),
        ci=_percentile(vals, level), floor_ci=_percentile(flrs, level), excess_ci=excess_ci,
        resolved=bool(excess_ci[0] > 0), level=level, n=n, n_reference=na, n_boot=n_boot,
        resample=resample, estimator=estimator,
    )


# ---------------------------------------------------------------- Fréchet distance on features
def frechet_from_features(x, y) -> float:
    r"""Fréchet distance between the Gaussians fitted to two feature clouds ``(n, k)``:
    :math:`\|\mu_x-\mu_y\|^2 + \mathrm{tr}(\Sigma_x+\Sigma_y-2(\Sigma_x\Sigma_y)^{1/2})`, in float64,
    with the unbiased covariances and torchmetrics' ``_compute_fid`` — the computation that
    :func:`scoreuq.metrics.frechet_distance` runs on a classifier's features (tested equal)."""
    from torchmetrics.image.fid import _compute_fid  # lazy: torchmetrics costs ~2 s and loads scipy.stats

    x = check_points("x", x, min_n=2).double()
    y = check_points("y", y, dim=x.shape[1], min_n=2).to(x)
    mx, my = x.mean(0), y.mean(0)
    return float(_compute_fid(mx, torch.cov(x.T).reshape(x.shape[1], -1), my, torch.cov(y.T).reshape(y.shape[1], -1)))


def frechet_with_floor(feats_gen, feats_ref_a, feats_ref_b=None, *, n_boot: int = 200, level: float = 0.95,
                       subsample: int | None = None, generator=None, feature_model=None) -> Assessment:
    """Fréchet distance (squared W2 of the fitted Gaussians, :func:`frechet_from_features`) of the
    generated features to ``feats_ref_a``, with its floor (``feats_ref_b`` against ``feats_ref_a``),
    bootstrap spread and ``resolved`` flag, by :func:`assess`. ``feature_model`` (a
    :class:`~scoreuq.metrics.fid.FeatureClassifier`): the three inputs are images, mapped to features first.

    Both the Fréchet distance and its floor are biased upward at finite n (by about
    ``tr(Σ)``-scaled terms of order ``k / n``); hence the floor at the same ``n``.
    """
    if feature_model is not None:
        feats_gen = extract_features(feature_model, feats_gen)
        feats_ref_a = extract_features(feature_model, feats_ref_a)
        feats_ref_b = None if feats_ref_b is None else extract_features(feature_model, feats_ref_b)
    return assess(frechet_from_features, feats_gen, feats_ref_a, feats_ref_b, n_boot=n_boot, level=level,
                  subsample=subsample, generator=generator, name="Fréchet distance on features")


# ---------------------------------------------------------------- lower confidence limits of W1
def _w1_rows(pa, pb):
    """Exact 1-D W1 for each row of projections ``(L, n)`` vs ``(L, m)``."""
    return _wp_pow_1d(pa.contiguous(), pb.contiguous(), p=1.0)


def _soft_w1(pa, pb, K):
    """Differentiable 1-D W1 (one row per direction) by quantiles at K midpoint levels."""
    if pa.shape[1] == pb.shape[1]:
        return (torch.sort(pa, 1).values - torch.sort(pb, 1).values).abs().mean(1)
    u = (torch.arange(K, dtype=pa.dtype, device=pa.device) + 0.5) / K
    return (torch.quantile(pa, u, dim=1) - torch.quantile(pb, u, dim=1)).abs().mean(0)


def _fit_direction(xf, yf, n_directions, refine_steps, generator):
    d = xf.shape[1]
    th = random_directions(d, n_directions, generator=generator, dtype=xf.dtype).to(xf.device)
    dm = xf.mean(0) - yf.mean(0)
    if float(dm.norm()) > 0:
        th = torch.cat([th, (dm / dm.norm())[:, None]], 1)
    w = _w1_rows((xf @ th).T, (yf @ th).T)
    k = min(4, th.shape[1])
    best = th[:, torch.topk(w, k).indices]  # refine the k best starts together
    best_w = float(w.max())
    best_th = th[:, int(w.argmax())]
    if refine_steps > 0 and d > 1:
        v = best.clone().requires_grad_(True)
        opt = torch.optim.Adam([v], lr=0.05)
        K = max(xf.shape[0], yf.shape[0])
        for _ in range(refine_steps):
            u = v / v.norm(dim=0, keepdim=True)
            loss = -_soft_w1((xf @ u).T, (yf @ u).T, K).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            u = v / v.norm(dim=0, keepdim=True)
            wr = _w1_rows((xf @ u).T, (yf @ u).T)
            if float(wr.max()) > best_w:
                best_w, best_th = float(wr.max()), u[:, int(wr.argmax())].clone()
    return best_th.detach(), best_w


def _critic(s, t, clip):
    """The optimal 1-D Kantorovich potential of the fit projections ``s`` (of x) and ``t`` (of y):
    h' = sign(G_t - F_s) between the pooled points, h constant outside the [clip, 1 - clip]
    quantiles of the pooled points (1-Lipschitz, bounded; clipping shrinks the range R that
    Hoeffding's width scales with, at a small loss of gap). Returns ``u -> h(u)`` and max h - min h."""
    z = torch.sort(torch.cat([s, t])).values
    if clip > 0:
        lo, hi = torch.quantile(z, torch.tensor([clip, 1 - clip], dtype=z.dtype, device=z.device)).tolist()
        z = torch.unique(z.clamp(lo, hi))
        if z.numel() < 2:
            z = torch.tensor([lo, lo + 1.0], dtype=z.dtype, device=z.device)
    F = torch.searchsorted(torch.sort(s).values, z[:-1], right=True).to(z.dtype) / s.numel()
    G = torch.searchsorted(torch.sort(t).values, z[:-1], right=True).to(z.dtype) / t.numel()
    sgn = torch.sign(G - F)
    hz = torch.cat([z.new_zeros(1), torch.cumsum(sgn * torch.diff(z), 0)])

    def h(u):
        u = u.clamp(float(z[0]), float(z[-1]))
        k = (torch.searchsorted(z, u, right=True) - 1).clamp(0, z.numel() - 2)
        return hz[k] + sgn[k] * (u - z[k])

    return h, float(hz.max() - hz.min())


def _lcl(hx, hy, R, level, method):
    """Lower confidence limit of E h(X) - E h(Y) from independent test values ``hx``, ``hy``."""
    T = float(hx.mean() - hy.mean())
    nx, ny = hx.numel(), hy.numel()
    if method == "hoeffding":
        width = R * math.sqrt(math.log(1 / (1 - level)) / 2 * (1 / nx + 1 / ny))
    else:
        z = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(level, dtype=torch.float64)).item()
        width = z * math.sqrt(float(hx.var()) / nx + float(hy.var()) / ny)
    return T - width, T, width


def w1_lower_bound(x, y, *, n_directions: int = 256, n_sliced: int = 64, split: float = 0.5, level: float = 0.95,
                   method: str = "hoeffding", refine_steps: int = 100, clip: float = 0.01, generator=None) -> dict:
    r"""Lower confidence limits of the population :math:`W_1(\mu,\nu)` from samples ``x ~ μ``, ``y ~ ν``.

    Sample W1, sliced and max-sliced W1 are biased *upward* at finite n (for max-sliced, fitting
    and scoring the direction on the same points especially), so they are not lower bounds.
    Here each sample is split at random: a fraction ``split`` ("fit") chooses, a disjoint rest
    ("test") scores.

    * **max-sliced**: on the fit halves, the best of ``n_directions`` random directions and the
      mean-difference direction, refined by ``refine_steps`` of projected gradient ascent, gives
      :math:`\theta`; the critic :math:`h` is the optimal 1-D Kantorovich potential of the fit
      projections, held constant outside their ``[clip, 1 - clip]`` quantiles (1-Lipschitz on the line, so
      :math:`x\mapsto h(\theta\cdot x)` is 1-Lipschitz on :math:`\mathbb R^d`, and bounded).
      On the test halves :math:`T = \overline{h(\theta\cdot x)} - \overline{h(\theta\cdot y)}` is
      unbiased for :math:`E_\mu h - E_\nu h \le W_1(\theta_\#\mu,\theta_\#\nu) \le W_1(\mu,\nu)`
      (Kantorovich–Rubinstein; projections are 1-Lipschitz).
    * **sliced**: the same with ``n_sliced`` random directions (not fitted) and the average critic
      :math:`H = \frac1L\sum_l h_l(\theta_l\cdot x)`; it bounds
      :math:`\frac1L\sum_l W_1(\theta_{l\#}\mu,\theta_{l\#}\nu) \le W_1(\mu,\nu)` from below.

    The lower confidence limit is ``T - width``:

    * ``method="hoeffding"`` (default): ``width = R sqrt(log(1/(1-level)) (1/n_x + 1/n_y) / 2)``, R
      the range of the critic (fixed by the fit halves). **Guarantee**: if x and y are i.i.d.
      samples of μ and ν (independent of each other; μ, ν with finite first moments), then for
      every n, :math:`P(\mathrm{LCL} \le W_1(\mu,\nu)) \ge` ``level`` — conditionally on the fit
      halves, hence unconditionally (Hoeffding's inequality on the test halves). No boundedness of μ, ν
      is needed: the critic is bounded by construction.
    * ``method="normal"``: ``width = z_level * sqrt(var_x/n_x + var_y/n_y)``: the same statement
      asymptotically (CLT) — tighter, not exact at finite n.

    Each of the two limits has this guarantee separately; both at once hold with probability
    ``>= 2 level - 1`` (union bound). Returns a dict: ``max_sliced_lcl`` (the lower bound to quote),
    ``sliced_lcl``, the unbiased critic gaps ``max_sliced_gap``/``sliced_gap`` and widths, the
    (upward-biased, for context) ``heldout_projected_w1`` (1-D W1 of the test projections on
    θ) and ``insample_max_sliced_w1`` (fit projections), ``direction``, sizes, ``level``,
    ``method`` and a ``guarantee`` sentence.
    """
    if method not in ("hoeffding", "normal"):
        raise ValueError(f"method must be 'hoeffding' or 'normal', got {method!r}")
    split = check_in_range("split", split, 0.0, 1.0, low_open=True, high_open=True)
    level = check_in_range("level", level, 0.0, 1.0, low_open=True, high_open=True)
    n_directions = check_int("n_directions", n_directions, 1)
    n_sliced = check_int("n_sliced", n_sliced, 1)
    refine_steps = check_int("refine_steps", refine_steps, 0)
    clip = check_in_range("clip", clip, 0.0, 0.5, high_open=True)
    x = check_points("x", x).double()
    y = check_points("y", y, dim=x.shape[1]).to(x)
    parts = []
    for nm, s in (("x", x), ("y", y)):
        k = int(round(split * s.shape[0]))
        if k < 2 or s.shape[0] - k < 2:
            raise ValueError(f"{nm} is too small for split={split:g}: both parts need >= 2 points, got {s.shape[0]} points")
        perm = torch.randperm(s.shape[0], generator=generator).to(s.device)
        parts.append((s[perm[:k]], s[perm[k:]]))
    (xf, xt), (yf, yt) = parts

    th, w_fit = _fit_direction(xf, yf, n_directions, refine_steps, generator)
    h, R = _critic(xf @ th, yf @ th, clip)
    lcl_max, gap_max, wid_max = _lcl(h(xt @ th), h(yt @ th), R, level, method)
    w_test = float(_w1_rows((xt @ th)[None], (yt @ th)[None])[0])

    ths = random_directions(x.shape[1], n_sliced, generator=generator, dtype=x.dtype).to(x.device)
    Hx = torch.zeros(xt.shape[0], dtype=x.dtype, device=x.device)
    Hy = torch.zeros(yt.shape[0], dtype=x.dtype, device=x.device)
    RH = 0.0
    for l in range(n_sliced):
        t_l = ths[:, l]
        h_l, R_l = _critic(xf @ t_l, yf @ t_l, clip)
        Hx += h_l(xt @ t_l) / n_sliced
        Hy += h_l(yt @ t_l) / n_sliced
        RH += R_l / n_sliced
    lcl_sl, gap_sl, wid_sl = _lcl(Hx, Hy, RH, level, method)
    guarantee = (
        f"P(lcl <= W1(mu, nu)) >= {level:g} for each of max_sliced_lcl and sliced_lcl "
        + ("at every sample size (Hoeffding on held-out halves; i.i.d. samples, finite first moments)"
           if method == "hoeffding" else "asymptotically (CLT on held-out halves; i.i.d. samples, finite variances)")
        + "; both at once with probability >= 2*level - 1."
    )
    return {
        "max_sliced_lcl": lcl_max,
        "sliced_lcl": lcl_sl,
        "max_sliced_gap": gap_max,
        "max_sliced_width": wid_max,
        "sliced_gap": gap_sl,
        "sliced_width": wid_sl,
        "heldout_projected_w1": w_test,
        "insample_max_sliced_w1": w_fit,
        "direction": th.cpu().tolist(),
        "n_fit": (xf.shape[0], yf.shape[0]),
        "n_test": (xt.shape[0], yt.shape[0]),
        "level": level,
        "method": method,
        "guarantee": guarantee,
    }
