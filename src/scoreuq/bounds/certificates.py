r"""Certified (provable) upper bounds of the sup norms of an MLP score network and its derivatives.

The WUP bound (WUP theorem as transcribed in seminar 000 §2.1) needs, on a domain
:math:`\Omega\times[t_{lo}, t_{hi}]`, the Lipschitz constant :math:`\|\nabla_x s_\theta\|_\infty` and the
:math:`C^2` norm of :math:`s_\theta`. :func:`scoreuq.bounds.c2_norm` and :func:`scoreuq.bounds.lipschitz`
*estimate* them from samples (lower estimates); this module gives *upper* bounds that hold at every
point of the domain, for the package's :class:`scoreuq.nets.ScoreMLP`

.. math::

    s(x, t) = N([x, \phi(t)]),\qquad
    N = W_L\,\sigma(W_{L-1}\cdots\sigma(W_1 z + b_1)\cdots + b_{L-1}) + b_L,

with :math:`\phi(t) = [\sin(2\pi w t), \cos(2\pi w t)]` (Gaussian Fourier features) or :math:`\phi(t) = t`.

Notation. :math:`a_k = W_k h_{k-1} + b_k` is the pre-activation of layer :math:`k`, :math:`h_0 = z`,
:math:`h_k = \sigma(a_k)` for :math:`k < L` and :math:`s = a_L`. :math:`W_1 = [W_{1x}, W_{1\phi}]` is split
into the columns that act on :math:`x` and on :math:`\phi(t)`. All vector norms are Euclidean, all matrix
norms are operator 2-norms (largest singular value). For a direction :math:`u` of the input
(a unit :math:`x`-direction, or :math:`\partial_t`) write :math:`a_k^u` for the derivative of :math:`a_k`
along it and :math:`a_k^{uv}` for the second derivative along :math:`u` and :math:`v`. The chain rule gives

.. math::

    a_{k+1}^u = W_{k+1} D_k a_k^u, \qquad
    a_{k+1}^{uv} = W_{k+1}\big(D_k a_k^{uv} + S_k (a_k^u \odot a_k^v)\big),

with :math:`D_k = \mathrm{diag}\,\sigma'(a_k)`, :math:`S_k = \mathrm{diag}\,\sigma''(a_k)`. At the first
layer :math:`z` is affine in :math:`x` and separable in :math:`(x, t)`, so
:math:`a_1^{x} = W_{1x} v`, :math:`a_1^{t} = W_{1\phi}\phi'(t)`, :math:`a_1^{xx} = a_1^{xt} = 0` and
:math:`a_1^{tt} = W_{1\phi}\phi''(t)`. For the Fourier features
:math:`|\phi'(t)| = 2\pi|w|` and :math:`|\phi''(t)| = (2\pi)^2(\sum_i w_i^4)^{1/2}` at every :math:`t`.

Two bounds are computed and the smaller is reported (both are certified, so their minimum is):

* **global spectral** — uses :math:`c_1 = \sup|\sigma'|` and :math:`c_2 = \sup|\sigma''|` over the real line:
  with :math:`|D_k| \le c_1` and :math:`|S_k| \le c_2`, and :math:`|p\odot q| \le |p|\,|q|`, the
  recursions :math:`A_{k+1} = \|W_{k+1}\| c_1 A_k` and
  :math:`B_{k+1} = \|W_{k+1}\|(c_1 B_k + c_2 A_k^u A_k^v)` bound :math:`|a_k^u|` and :math:`|a_k^{uv}|`;
  the bound of the part is :math:`B_L` (or :math:`A_L` for first derivatives).
* **local IBP** — interval bound propagation of the pre-activations over the domain (the ball enters the
  first layer exactly: :math:`w^\top x` ranges over :math:`w^\top c \pm R|w|`; :math:`\phi` over the exact
  range of :math:`\sin`/:math:`\cos` on each time bin), intersected with a mean-value (centred) form
  :math:`a_{k,j}(z) \in a_{k,j}(z_0) \pm (R\,\sup|\nabla_x a_{k,j}| + \tfrac{\Delta t}{2}\sup|\partial_t a_{k,j}|)`.
  On each neuron's pre-activation interval the exact range of :math:`\sigma'` and the exact maximum
  :math:`c_{2,j}` of :math:`|\sigma''|` are taken (endpoints and the activation's known critical points).
  First derivatives: interval propagation of the Jacobian (:math:`|A| \le B` entrywise implies
  :math:`\|A\| \le \|B\|`) and products of operator norms with the per-neuron constants
  (:math:`\|W D C\| \le \|W C_1\|` for :math:`|D| \le C_1`, and the symmetric split
  :math:`C_1^{1/2}\,\cdot\,C_1^{1/2}`), the minimum of all. Second derivatives: the recursion above with
  :math:`\|W_{k+1} C_{1,k}\|` in place of :math:`c_1\|W_{k+1}\|` and, for the curvature term, the smaller of
  :math:`\|W_{k+1}\|\,|c_2\odot\alpha^u\odot\alpha^v|` and :math:`\|W_{k+1} C_{2,k}\|\,|\alpha^u|_\infty A^v`,
  where :math:`\alpha^u_j \ge |a^u_{k,j}|` are per-neuron bounds; plus an entrywise (absolute-value)
  propagation. The time range is split into ``n_t_bins`` bins and the maximum over bins is taken.

Floating point: everything is computed in float64 and every bound is inflated by a relative
:math:`10^{-9}` (and intervals widened by :math:`10^{-12}` per layer), far above the rounding errors of
the products involved; the activation constants are hard-coded rounded up.

ReLU is not :math:`C^2` (:math:`\sigma''` is a Dirac mass), so its second-derivative parts are
``math.inf`` unless interval propagation proves that no neuron changes sign on the domain (then the
network is affine in the pre-activations there and the local bound is finite).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import torch
from torch import nn

from ..nets.adapters import ScoreModel
from ..nets.embeddings import GaussianFourierFeatures
from ..nets.mlp import ScoreMLP

__all__ = ["Certificate", "certify", "supports", "PARTS", "ACTIVATION_CONSTANTS"]

#: The six parts, in this order (the names of the brief; :func:`scoreuq.bounds.c2_norm` samples the same norms).
PARTS = ("sup|s|", "sup|grad_x s|", "sup|d_t s|", "sup|D2_x s|", "sup|d_t grad_x s|", "sup|d2_t s|")
_SPACE = PARTS[:2] + PARTS[3:4]
_PARABOLIC = _SPACE + PARTS[2:3]

_GLOBAL, _LOCAL = "global spectral", "local IBP"
_REL = 1e-9   # relative inflation of every reported bound
_ABS = 1e-12  # absolute widening of intervals

#: (c1, c2) = (sup|σ'|, sup|σ''|) over the real line, rounded UP (true values: SiLU 1.0998393201 at
#: x = 2.39935728, 0.5 at 0; GELU 1.1289041452 at √2, 2φ(0) = 0.7978845608; tanh 1, 4/(3√3) = 0.7698003589
#: at ±atanh(1/√3)); checked against dense grids in tests/test_certify.py.
ACTIVATION_CONSTANTS = {"relu": (1.0, math.inf), "silu": (1.09984, 0.500001), "gelu": (1.128905, 0.797885),
                        "tanh": (1.0, 0.769801)}

# Critical points (scipy brentq, 1e-15): zeros of σ' (interior extrema of σ), of σ'' (of σ'), of σ''' (of σ'').
_CRIT = {
    "silu": ((-1.278464542761073,), (-2.3993572805154675, 2.3993572805154675), (-3.435840993542449, 0.0, 3.435840993542449)),
    "gelu": ((-0.7517915246935652,), (-math.sqrt(2.0), math.sqrt(2.0)), (-2.0, 0.0, 2.0)),
    "tanh": ((), (0.0,), (-0.6584789484624085, 0.6584789484624085)),
}
_MODULES = {nn.ReLU: "relu", nn.SiLU: "silu", nn.Tanh: "tanh", nn.GELU: "gelu"}


# ----------------------------------------------------------------------------------------- activations
def _act(name, x, order):
    """σ, σ', σ'' (``order`` 0, 1, 2) of a smooth activation, elementwise on a float64 tensor."""
    if name == "tanh":
        th = torch.tanh(x)
        return (th, 1 - th * th, -2 * th * (1 - th * th))[order]
    if name == "silu":
        s = torch.sigmoid(x)
        return (x * s, s * (1 + x * (1 - s)), s * (1 - s) * (2 + x * (1 - 2 * s)))[order]
    if name == "gelu":
        cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2.0)))
        pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return (x * cdf, cdf + x * pdf, pdf * (2 - x * x))[order]
    if name == "relu":
        return (torch.relu(x), (x > 0).to(x.dtype))[order]
    raise ValueError(name)


def _candidates(name, lo, hi, which):
    """Values of σ^(which) at the endpoints and at the critical points clipped into [lo, hi] (each a point of
    the interval, and together they contain every interior extremum), shape (n, k)."""
    pts = [lo, hi] + [torch.clamp(torch.full_like(lo, c), lo, hi) for c in _CRIT[name][which]]
    return _act(name, torch.stack(pts, dim=-1), which)


def act_range(name, lo, hi):
    """Exact range [min, max] of σ over each interval [lo_j, hi_j] (widened by 1e-12)."""
    if name == "relu":
        return torch.relu(lo) - _ABS, torch.relu(hi) + _ABS
    v = _candidates(name, lo, hi, 0)
    return v.min(-1).values - _ABS, v.max(-1).values + _ABS


def deriv_range(name, lo, hi):
    """Exact range [min, max] of σ' over each interval (widened by 1e-12). ReLU: {1} on (0, ∞), {0} on
    (-∞, 0), and the Clarke hull [0, 1] on an interval that meets 0."""
    if name == "relu":
        one, zero = torch.ones_like(lo), torch.zeros_like(lo)
        return torch.where(lo > 0, one, zero), torch.where(hi < 0, zero, one)
    v = _candidates(name, lo, hi, 1)
    return v.min(-1).values - _ABS, v.max(-1).values + _ABS


def second_deriv_max(name, lo, hi):
    """Exact max of |σ''| over each interval (inflated). ReLU: 0 on an interval not meeting 0, else inf."""
    if name == "relu":
        zero = torch.zeros_like(lo)
        return torch.where((lo > 0) | (hi < 0), zero, torch.full_like(lo, math.inf))
    v = _candidates(name, lo, hi, 2).abs().max(-1).values
    return v * (1 + _REL) + _ABS


# ------------------------------------------------------------------------------------- small helpers
def _op(a):
    """Operator 2-norm (0 for an empty matrix)."""
    if a.numel() == 0:
        return 0.0
    if a.ndim == 1:
        return float(a.norm())
    return float(torch.linalg.matrix_norm(a, ord=2))


def _mul0(a, b):
    """Elementwise product with 0·inf := 0 (a zero factor bounds a derivative that vanishes identically)."""
    return torch.where((a == 0) | (b == 0), torch.zeros_like(a * 1.0), a * b)


def _smul0(a, b):
    return 0.0 if a == 0 or b == 0 else a * b


def _imul(alo, ahi, blo, bhi):
    """Interval product [alo, ahi]·[blo, bhi] (broadcast)."""
    p = torch.stack([alo * blo, alo * bhi, ahi * blo, ahi * bhi])
    return p.min(0).values, p.max(0).values


def _imatmul(w, lo, hi):
    """W·[lo, hi] in mid/rad form (W a point matrix); widened by 1e-12 relative + absolute."""
    mid, rad = (lo + hi) / 2, (hi - lo) / 2
    m = w @ mid
    r = w.abs() @ rad + _ABS * (1 + m.abs())
    return m - r, m + r


def _maxabs(lo, hi):
    return torch.maximum(lo.abs(), hi.abs())


def _sincos_range(theta_lo, theta_hi):
    """Exact ranges of sin and cos on [θ_lo, θ_hi] (elementwise), conservative near the extrema."""
    two_pi, tol = 2 * math.pi, 1e-12

    def hits(c):  # does [θ_lo, θ_hi] contain c + 2πk for some integer k?
        return torch.ceil((theta_lo - c) / two_pi - tol) <= torch.floor((theta_hi - c) / two_pi + tol)

    out = []
    for f, cmax, cmin in ((torch.sin, math.pi / 2, -math.pi / 2), (torch.cos, 0.0, math.pi)):
        a, b = f(theta_lo), f(theta_hi)
        lo = torch.where(hits(cmin), torch.full_like(a, -1.0), torch.minimum(a, b) - _ABS)
        hi = torch.where(hits(cmax), torch.full_like(a, 1.0), torch.maximum(a, b) + _ABS)
        out.append((lo.clamp(-1, 1), hi.clamp(-1, 1)))
    return out


# ------------------------------------------------------------------------------------- the model
@dataclass
class _Net:
    d: int
    act: str
    Ws: list       # float64 weights W_1..W_L
    bs: list
    w: torch.Tensor | None  # Fourier frequencies (None: raw time input)

    @property
    def W1x(self):
        return self.Ws[0][:, : self.d]

    @property
    def W1p(self):
        return self.Ws[0][:, self.d:]

    def phi(self, t):
        """Embedding and its first two derivatives at scalar t: (φ, φ', φ'')."""
        if self.w is None:
            tt = torch.tensor([t], dtype=torch.float64)
            return tt, torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
        th = 2 * math.pi * self.w * t
        om = 2 * math.pi * self.w
        return (torch.cat([th.sin(), th.cos()]), torch.cat([om * th.cos(), -om * th.sin()]),
                torch.cat([-om * om * th.sin(), -om * om * th.cos()]))

    def phi_norms(self):
        r"""(|φ'(t)|, |φ''(t)|), the same for every t: :math:`2\pi|w|` and :math:`(2\pi)^2(\sum w_i^4)^{1/2}`
        (each frequency contributes :math:`\omega_i^2(\cos^2+\sin^2)`, resp. :math:`\omega_i^4(\sin^2+\cos^2)`);
        raw time: (1, 0)."""
        if self.w is None:
            return 1.0, 0.0
        return 2 * math.pi * float(self.w.norm()), (2 * math.pi) ** 2 * float((self.w ** 4).sum().sqrt())

    def phi_boxes(self, t0, t1):
        """Interval boxes of φ, φ', φ'' over t ∈ [t0, t1]."""
        if self.w is None:
            one = torch.ones(1, dtype=torch.float64)
            return ((one * t0, one * t1), (one, one), (0 * one, 0 * one))
        om = 2 * math.pi * self.w
        a, b = om * t0, om * t1
        (slo, shi), (clo, chi) = _sincos_range(torch.minimum(a, b), torch.maximum(a, b))
        # φ = [sin, cos];  φ' = ω[cos, -sin];  φ'' = -ω²[sin, cos]
        d1lo, d1hi = _imul(om, om, torch.cat([clo, -shi]).view(2, -1), torch.cat([chi, -slo]).view(2, -1))
        o2 = om * om
        d2lo, d2hi = -o2 * torch.cat([shi, chi]).view(2, -1), -o2 * torch.cat([slo, clo]).view(2, -1)
        return ((torch.cat([slo, clo]), torch.cat([shi, chi])), (d1lo.reshape(-1), d1hi.reshape(-1)),
                (d2lo.reshape(-1), d2hi.reshape(-1)))

    def forward_pre(self, z):
        """Pre-activations a_1..a_L at the point z."""
        out, h = [], z
        for k, (W, b) in enumerate(zip(self.Ws, self.bs)):
            a = W @ h + b
            out.append(a)
            if k < len(self.Ws) - 1:
                h = _act(self.act, a, 0)
        return out


def _unwrap(model):
    m, seen = model, 0
    while not isinstance(m, ScoreMLP) and seen < 8:
        seen += 1
        if isinstance(m, (torch.optim.swa_utils.AveragedModel, nn.DataParallel, nn.parallel.DistributedDataParallel)):
            m = m.module
        elif isinstance(m, ScoreModel):
            m = m.net
        else:
            break
    return m


def _extract(model) -> _Net:
    m = _unwrap(model)
    what = ("certificates are available for scoreuq.nets.ScoreMLP only (optionally wrapped in AveragedModel or "
            f"ScoreModel), got {type(model).__name__}")
    if not isinstance(m, ScoreMLP):
        raise TypeError(what + ("" if m is model else f" wrapping {type(m).__name__}"))
    if type(m).forward is not ScoreMLP.forward:
        raise TypeError(what + f": {type(m).__name__} overrides ScoreMLP.forward")
    mods = list(m.net)
    if len(mods) < 3 or len(mods) % 2 == 0:
        raise TypeError(what + ": its .net must alternate nn.Linear and one activation and end in nn.Linear")
    acts = set()
    for i, mod in enumerate(mods):
        if i % 2 == 0:
            if type(mod) is not nn.Linear:
                raise TypeError(what + f": layer {i} of .net is {type(mod).__name__}, expected nn.Linear")
        else:
            name = _MODULES.get(type(mod))
            if name is None or (name == "gelu" and getattr(mod, "approximate", "none") != "none"):
                raise TypeError(what + f": layer {i} of .net is {mod!r}; supported activations are "
                                "nn.ReLU, nn.SiLU, nn.Tanh and exact nn.GELU")
            acts.add(name)
    if len(acts) != 1:
        raise TypeError(what + f": mixed activations {sorted(acts)}")
    emb = m.embed
    if emb is not None and type(emb) is not GaussianFourierFeatures:
        raise TypeError(what + f": unsupported time embedding {type(emb).__name__}")
    with torch.no_grad():
        Ws = [mods[i].weight.detach().to("cpu", torch.float64).clone() for i in range(0, len(mods), 2)]
        bs = [(mods[i].bias.detach().to("cpu", torch.float64).clone() if mods[i].bias is not None
               else torch.zeros(mods[i].out_features, dtype=torch.float64)) for i in range(0, len(mods), 2)]
        w = None if emb is None else emb.W.detach().to("cpu", torch.float64).clone().reshape(-1)
    t_in = 1 if w is None else 2 * w.numel()
    if Ws[0].shape[1] != m.dim + t_in or Ws[-1].shape[0] != m.dim:
        raise TypeError(what + ": layer shapes do not match dim and the time embedding")
    return _Net(m.dim, acts.pop(), Ws, bs, w)


def supports(model) -> bool:
    """True when :func:`certify` can handle ``model`` (a ScoreMLP, possibly wrapped)."""
    try:
        _extract(model)
    except TypeError:
        return False
    return True


# ------------------------------------------------------------------------------------- certificate
@dataclass(frozen=True)
class Certificate:
    r"""Certified upper bounds of the sup norms over :math:`\bar B(c, R) \times [t_{lo}, t_{hi}]`.

    ``parts`` maps each name of :data:`PARTS` to an upper bound (``math.inf`` where the score is not
    :math:`C^2`, with the reason in ``notes``); ``method`` says which bound gave it; ``candidates`` holds
    both bounds (``{"global spectral": parts, "local IBP": parts}``). Why these norms: they are the
    Lipschitz and :math:`C^2` constants of the WUP theorem as transcribed in seminar 000 §2.1.
    """

    parts: dict
    method: dict
    radius: float
    center: tuple | None
    t_range: tuple
    activation: str
    notes: tuple = ()
    candidates: dict = field(default_factory=dict)

    @property
    def lipschitz(self) -> float:
        r""":math:`\sup\|\nabla_x s\|_2`, a certified Lipschitz constant of :math:`s(\cdot, t)` on the ball."""
        return self.parts["sup|grad_x s|"]

    def c2(self, kind: str = "full") -> float:
        """SUM of parts: ``"space"`` = s + grad_x + D2_x; ``"parabolic"`` = space + d_t; ``"full"`` = all six."""
        names = {"space": _SPACE, "parabolic": _PARABOLIC, "full": PARTS}.get(kind)
        if names is None:
            raise ValueError(f"kind must be one of 'space', 'parabolic', 'full', got {kind!r}")
        return float(sum(self.parts[n] for n in names))


def _validate(radius, t_range, center, n_t_bins, d):
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"radius must be a finite number > 0, got {radius!r}")
    try:
        t_lo, t_hi = (float(v) for v in t_range)
    except (TypeError, ValueError):
        raise ValueError(f"t_range must be a pair (t_lo, t_hi) with 0 < t_lo < t_hi finite, got {t_range!r}") from None
    if not (math.isfinite(t_lo) and math.isfinite(t_hi) and 0 < t_lo < t_hi):
        raise ValueError(f"t_range must be a pair (t_lo, t_hi) with 0 < t_lo < t_hi finite, got {t_range!r}")
    if isinstance(n_t_bins, bool) or not isinstance(n_t_bins, int) or n_t_bins < 1:
        raise ValueError(f"n_t_bins must be an integer >= 1, got {n_t_bins!r}")
    if center is None:
        c = torch.zeros(d, dtype=torch.float64)
    else:
        c = torch.as_tensor(center, dtype=torch.float64).detach().cpu().reshape(-1)
        if c.numel() != d or not bool(torch.isfinite(c).all()):
            raise ValueError(f"center must be a finite vector of length {d} (the model's dim), got {center!r}")
    return float(radius), (t_lo, t_hi), c


def _global(net: _Net, R, t_lo, t_hi, c):
    r"""The global spectral bound.

    First order: :math:`|a_1^x| \le \|W_{1x}\|`, :math:`|a_1^t| \le \|W_{1\phi}\|\,|\phi'|` and
    :math:`A_{k+1} = c_1\|W_{k+1}\| A_k`, since :math:`\|W D\| \le \|W\|\,c_1` for :math:`|D| \le c_1`.
    Second order: :math:`|a_{k+1}^{uv}| \le \|W_{k+1}\|(\|D_k\|\,|a_k^{uv}| + \|S_k\|\,|a_k^u\odot a_k^v|)
    \le \|W_{k+1}\|(c_1 B_k + c_2 A^u_k A^v_k)` using :math:`|p\odot q|_2 \le |p|_\infty |q|_2 \le |p|_2|q|_2`;
    start :math:`B_1 = 0` (:math:`xx`, :math:`xt`) or :math:`\|W_{1\phi}\|\,|\phi''|` (:math:`tt`).
    :math:`\sup|s| \le |s(c, t_m)| + R\,\sup\|\nabla_x s\| + \tfrac{t_{hi}-t_{lo}}{2}\sup|\partial_t s|`
    (mean value theorem along :math:`x` then :math:`t`; the ball is convex).
    """
    c1, c2 = ACTIVATION_CONSTANTS[net.act]
    norms = [_op(W) for W in net.Ws[1:]]
    dphi, d2phi = net.phi_norms()
    n1p = _op(net.W1p)

    def first(a1):
        A = a1
        for n in norms:
            A = n * c1 * A
        return A

    def second(Au, Av, B):
        if not math.isfinite(c2):
            return math.inf
        for n in norms:
            B = n * (c1 * B + c2 * Au * Av)
            Au, Av = n * c1 * Au, n * c1 * Av
        return B

    Ax1, At1 = _op(net.W1x), n1p * dphi
    p = {"sup|grad_x s|": first(Ax1), "sup|d_t s|": first(At1),
         "sup|D2_x s|": second(Ax1, Ax1, 0.0), "sup|d_t grad_x s|": second(Ax1, At1, 0.0),
         "sup|d2_t s|": second(At1, At1, n1p * d2phi)}
    tm = 0.5 * (t_lo + t_hi)
    s0 = float(net.forward_pre(torch.cat([c, net.phi(tm)[0]]))[-1].norm())
    p["sup|s|"] = s0 + R * p["sup|grad_x s|"] + 0.5 * (t_hi - t_lo) * p["sup|d_t s|"]
    return p


def _chain(F, Ws, C1s, first=math.inf):
    r"""Min over three factorisations of :math:`\|W_L D_{L-1} W_{L-1}\cdots D_1 F\|` for :math:`|D_k| \le C_k`
    (:math:`F` a matrix, or a nonnegative column with :math:`|a_1| \le F` entrywise):
    right :math:`\|F\|\prod\|W_{k+1}C_k\|`, left :math:`\|C_1F\|\prod\|C_kW_k\|\,\|W_L\|`, and symmetric
    :math:`\|C_1^{1/2}F\|\prod\|C_k^{1/2}W_kC_{k-1}^{1/2}\|\,\|W_L C_{L-1}^{1/2}\|`; each follows from
    :math:`D = C^{1/2}EC^{1/2}` (or :math:`CE`) with :math:`\|E\| \le 1`."""
    right = min(_op(F), first)  # ``first``: another bound of |a_1^u|
    for W, C in zip(Ws, C1s):
        right *= _op(W * C[None, :])
    left = _op(C1s[0][:, None] * F)
    for W, C in zip(Ws[:-1], C1s[1:]):
        left *= _op(C[:, None] * W)
    left *= _op(Ws[-1])
    r = [C.sqrt() for C in C1s]
    sym = _op(r[0][:, None] * F)
    for k, W in enumerate(Ws[:-1]):
        sym *= _op(r[k + 1][:, None] * W * r[k][None, :])
    sym *= _op(Ws[-1] * r[-1][None, :])
    return min(right, left, sym)


def _local_bin(net: _Net, R, t0, t1, c):
    r"""The local bound on the time bin [t0, t1] (see the module docstring).

    Per layer: the pre-activation interval (IBP ∩ mean-value form), the interval Jacobian ``J`` of
    :math:`a_k` in :math:`x` and interval :math:`\partial_t a_k` (``g``), their per-neuron bounds
    :math:`\alpha^x_j = |\max|J_{j,:}||_2`, :math:`\alpha^t_j = \max|g_j|`, and the per-neuron constants.
    """
    act, L = net.act, len(net.Ws)
    (plo, phi_), (d1lo, d1hi), (d2lo, d2hi) = net.phi_boxes(t0, t1)
    tm = 0.5 * (t0 + t1)
    pre0 = net.forward_pre(torch.cat([c, net.phi(tm)[0]]))
    W1x, W1p, dt = net.W1x, net.W1p, 0.5 * (t1 - t0)
    # layer 1
    mlo, mhi = _imatmul(W1p, plo, phi_)
    xr = R * W1x.norm(dim=1)
    lo, hi = W1x @ c + net.bs[0] + mlo - xr, W1x @ c + net.bs[0] + mhi + xr
    Jlo = Jhi = W1x
    glo, ghi = _imatmul(W1p, d1lo, d1hi)
    ttlo, tthi = _imatmul(W1p, d2lo, d2hi)
    beta_tt = _maxabs(ttlo, tthi)
    dphi, d2phi = net.phi_norms()
    Ax, At = [_op(W1x)], [min(float(_maxabs(glo, ghi).norm()), _op(W1p) * dphi)]
    Btt1 = min(float(beta_tt.norm()), _op(W1p) * d2phi)
    g1, g2 = ACTIVATION_CONSTANTS[act]
    ax, at = [W1x.norm(dim=1).clamp_max(Ax[0])], [_maxabs(glo, ghi).clamp_max(At[0])]
    C1s, C2s = [], []
    for k in range(1, L):
        # intersect with the mean-value form around z0 = (c, φ(t_m))
        rad = _mul0(ax[-1], torch.full_like(lo, R)) + at[-1] * dt
        lo = torch.maximum(lo, pre0[k - 1] - rad - _ABS * (1 + pre0[k - 1].abs()))
        hi = torch.minimum(hi, pre0[k - 1] + rad + _ABS * (1 + pre0[k - 1].abs()))
        dlo, dhi = deriv_range(act, lo, hi)
        C1s.append(_maxabs(dlo, dhi).clamp_max(g1))  # the global constants bound them too
        C2s.append(second_deriv_max(act, lo, hi).clamp_max(g2))
        W = net.Ws[k]
        ylo, yhi = act_range(act, lo, hi)
        lo, hi = _imatmul(W, ylo, yhi)
        lo, hi = lo + net.bs[k], hi + net.bs[k]
        Jlo, Jhi = _imul(dlo[:, None], dhi[:, None], Jlo, Jhi)
        Jlo, Jhi = _imatmul(W, Jlo, Jhi)
        glo, ghi = _imul(dlo, dhi, glo, ghi)
        glo, ghi = _imatmul(W, glo, ghi)
        Ws_sofar = net.Ws[1: k + 1]
        Ax.append(min(_op(_maxabs(Jlo, Jhi)), _chain(W1x, Ws_sofar, C1s)))
        At.append(min(float(_maxabs(glo, ghi).norm()), _chain(at[0][:, None], Ws_sofar, C1s, At[0])))
        ax.append(_maxabs(Jlo, Jhi).norm(dim=1).clamp_max(Ax[-1]))
        at.append(_maxabs(glo, ghi).clamp_max(At[-1]))
    # output interval: IBP ∩ mean value
    rad = ax[-1] * R + at[-1] * dt
    lo = torch.maximum(lo, pre0[-1] - rad - _ABS * (1 + pre0[-1].abs()))
    hi = torch.minimum(hi, pre0[-1] + rad + _ABS * (1 + pre0[-1].abs()))

    def second(au, Au, av, Av, beta, B):
        r"""|a_{k+1}^{uv}| ≤ ‖W C1‖B + min(‖W‖|q|, ‖W C2‖|α^u|_∞A^v, ...), q = c2⊙α^u⊙α^v; and entrywise
        β_{k+1} = |W|(c1⊙β + q) bounds |a_{k+1}^{uv}| coordinatewise."""
        for k in range(L - 1):
            W, C1, C2 = net.Ws[k + 1], C1s[k], C2s[k]
            q = _mul0(C2, _mul0(au[k], av[k]))
            if bool(torch.isinf(q).any()):  # a ReLU kink meets a nonzero first derivative
                return math.inf
            cand = [_op(W) * float(q.norm())]
            if bool(torch.isfinite(C2).all()):
                cand.append(_op(W * C2[None, :]) * min(_smul0(float(au[k].max()), Av[k]), _smul0(Au[k], float(av[k].max()))))
            Bn = _smul0(_op(W * C1[None, :]), B) + min(cand)
            beta = W.abs() @ (_mul0(C1, beta) + q)
            B = min(Bn, float(beta.norm()))
        return B

    zero = torch.zeros_like(ax[0])
    p = {"sup|grad_x s|": Ax[-1], "sup|d_t s|": At[-1],
         "sup|D2_x s|": second(ax, Ax, ax, Ax, zero, 0.0),
         "sup|d_t grad_x s|": second(ax, Ax, at, At, zero, 0.0),
         "sup|d2_t s|": second(at, At, at, At, beta_tt, Btt1)}
    s_ibp = float(_maxabs(lo, hi).norm())
    s_mv = float(pre0[-1].norm()) + R * p["sup|grad_x s|"] + dt * p["sup|d_t s|"]
    p["sup|s|"] = min(s_ibp, s_mv)
    return p, C2s


@torch.no_grad()
def certify(model, *, radius: float, t_range: tuple, center=None, n_t_bins: int = 8) -> Certificate:
    r"""Certified upper bounds of the six sup norms of :data:`PARTS` for a :class:`~scoreuq.nets.ScoreMLP`
    over :math:`x \in \bar B(\text{center}, \text{radius})`, :math:`t \in [t_{lo}, t_{hi}]`.

    Accepts a ScoreMLP, or one wrapped by ``torch.optim.swa_utils.AveragedModel`` (EMA) or
    :class:`~scoreuq.nets.ScoreModel`; anything else raises ``TypeError``. The reported value of each part is
    the smaller of the global spectral and the local IBP bound (the time range split into ``n_t_bins``
    bins); see the module docstring for the derivations. Computed in float64 on CPU copies of the weights.
    """
    net = _extract(model)
    R, (t_lo, t_hi), c = _validate(radius, t_range, center, n_t_bins, net.d)
    glob = _global(net, R, t_lo, t_hi, c)
    edges = torch.linspace(t_lo, t_hi, n_t_bins + 1, dtype=torch.float64).tolist()
    edges[0], edges[-1] = t_lo, t_hi
    loc = {k: 0.0 for k in PARTS}
    relu_kinks = False
    for t0, t1 in zip(edges[:-1], edges[1:]):
        pb, C2s = _local_bin(net, R, t0, t1, c)
        relu_kinks |= any(bool(torch.isinf(C).any()) for C in C2s)
        loc = {k: max(loc[k], pb[k]) for k in PARTS}
    # local sup|s| may also use the whole-range mean-value form with the local derivative bounds
    s0 = float(net.forward_pre(torch.cat([c, net.phi(0.5 * (t_lo + t_hi))[0]]))[-1].norm())
    loc["sup|s|"] = min(loc["sup|s|"], s0 + R * loc["sup|grad_x s|"] + 0.5 * (t_hi - t_lo) * loc["sup|d_t s|"])
    infl = lambda v: v * (1 + _REL) if math.isfinite(v) else math.inf  # noqa: E731
    glob, loc = {k: infl(glob[k]) for k in PARTS}, {k: infl(loc[k]) for k in PARTS}
    parts, method = {}, {}
    for k in PARTS:
        if not (glob[k] >= 0 and loc[k] >= 0):  # never NaN
            raise FloatingPointError(f"certificate of {k} is not a number: global {glob[k]}, local {loc[k]}")
        parts[k], method[k] = (loc[k], _LOCAL) if loc[k] <= glob[k] else (glob[k], _GLOBAL)
    notes = []
    if net.act == "relu":
        if relu_kinks:
            notes.append("ReLU is not C^2 (sigma'' is a Dirac mass at 0) and some neuron's pre-activation can "
                         "change sign on the domain, so the second-derivative parts are inf")
        else:
            notes.append("ReLU: interval propagation shows no neuron changes sign on the domain, so the network "
                         "is smooth there and the local second-derivative bounds are finite")
    for k in PARTS:
        if math.isinf(parts[k]) and net.act != "relu":
            notes.append(f"{k} is inf: overflow in the bound")
    cen = None if center is None else tuple(float(v) for v in c)
    return Certificate(parts, method, R, cen, (t_lo, t_hi), net.act, tuple(notes),
                       {_GLOBAL: glob, _LOCAL: loc})
