r"""Estimators for the sup norms of the WUP bound: the Lipschitz constant :math:`\|\nabla_x s\|_\infty`
and the :math:`C^2` norm :math:`\|s\|_{C^2}` at points of the forward marginals, plus the KDE bandwidth.

Every per-point quantity here is exact up to the convergence of an iteration (power/Lanczos);
a maximum over points is a **lower estimate** of the supremum in the theorem.
:func:`scoreuq.bounds.extremes.adversarial_max` pushes it up by gradient ascent,
:func:`scoreuq.bounds.extremes.upper_limit` gives a statistical upper limit and
:func:`scoreuq.bounds.certificates.certify` a certified one (MLPs).

Derivatives use one autograd graph per batch and the double-backward trick for Jacobian-vector
products (:math:`Jv = \partial_u \langle J^\top u, v\rangle`), which is 4–5× cheaper than
``torch.func.jvp`` on CPU; this assumes each output row depends only on its own input row (true
for MLPs and the ScoreNet U-Net, whose GroupNorm is per sample; not for BatchNorm in training mode).

The :math:`C^2` norm is the **sum** of the sup norms of its parts (the standard norm of
:math:`C^2([\varepsilon,T]\times\Omega)`, see :data:`C2_KINDS`): ``"full"`` counts every derivative of
order ≤ 2 in :math:`(t, x)`, ``"parabolic"`` the :math:`C^{2,1}` ones (:math:`s, \nabla_x s, D_x^2 s, \partial_t s`)
and ``"space"`` the spatial ones only. Vector norms are Euclidean, Jacobian norms spectral, and the
second spatial derivative's norm is :math:`\sup_{|v|=1}|D_x^2 s[v,v]|` (equal to the norm of the
symmetric bilinear form), found by alternating power iteration on Hessian-vector products.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch.func import jacrev, vmap

from ..data import GaussianMixture
from ..processes import resolve_t_min

__all__ = ["spectral_norms", "spectral_norms_exact", "LipschitzEstimate", "lipschitz", "C2Estimate", "c2_norm", "C2_PARTS",
           "C2_KINDS", "derivative_parts", "part_objective", "kde_bandwidth", "forward_points"]

#: the six parts of the C² norm, in order: sup norms of s, ∇_x s, ∂_t s, D²_x s, ∂_t ∇_x s, ∂²_t s
C2_PARTS = ("sup|s|", "sup|grad_x s|", "sup|d_t s|", "sup|D2_x s|", "sup|d_t grad_x s|", "sup|d2_t s|")
#: which parts each kind of C² norm sums
C2_KINDS = {
    "full": C2_PARTS,
    "parabolic": ("sup|s|", "sup|grad_x s|", "sup|D2_x s|", "sup|d_t s|"),
    "space": ("sup|s|", "sup|grad_x s|", "sup|D2_x s|"),
}


def check_kind(kind: str) -> str:
    if kind not in C2_KINDS:
        raise ValueError(f"c2 kind must be one of {sorted(C2_KINDS)}, got {kind!r}")
    return kind


def _check_iter(name, v, low=1):
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return v


def _rand_unit(shape, like, generator):
    dev = generator.device if generator is not None else like.device
    v = torch.randn(shape, generator=generator, dtype=like.dtype, device=dev).to(like.device)
    return v / v.norm(dim=1, keepdim=True).clamp_min(torch.finfo(like.dtype).tiny)


def _grad(out, inp, w, *, create_graph=False):
    """``Σ_i <w_i, ∂out_i/∂inp>``, zeros when ``out`` does not depend on ``inp``."""
    (g,) = torch.autograd.grad(out, inp, w, retain_graph=True, create_graph=create_graph, allow_unused=True)
    return torch.zeros_like(inp) if g is None else g


class _LinOp:
    """The per-row Jacobian of ``out`` (n, D) with respect to ``inp`` (n, D') as a linear operator on one
    autograd graph: ``mv(v) = J v`` by the double-backward trick, ``rmv(w) = J^T w`` by backward."""

    def __init__(self, out, inp, create_graph=False):
        self.out, self.inp, self.cg = out, inp, create_graph
        self.u0 = torch.zeros_like(out, requires_grad=True)
        self.gu = _grad(out, inp, self.u0, create_graph=True)  # J^T u0, linear in u0

    def mv(self, v):
        if not self.gu.requires_grad:  # out is constant in inp
            return torch.zeros_like(self.out)
        return _grad(self.gu, self.u0, v, create_graph=self.cg)

    def rmv(self, w):
        return _grad(self.out, self.inp, w, create_graph=self.cg)


def _top_singular(op: _LinOp, n_iter: int, tol: float, generator):
    """Largest singular value of each row's Jacobian by Golub–Kahan–Lanczos bidiagonalisation with
    full reorthogonalisation (the Krylov refinement of power iteration on J^T J); also the top
    singular vectors ``(u, v)`` (unit, per row). σ increases monotonically to ‖J‖₂."""
    inp = op.inp
    n = inp.shape[0]
    tiny = torch.finfo(inp.dtype).tiny
    V, U, alphas, betas = [_rand_unit(inp.shape, inp, generator)], [], [], []
    sigma = torch.zeros(n, dtype=inp.dtype, device=inp.device)
    B = None
    for _ in range(n_iter):
        u = op.mv(V[-1]).detach()
        for q in U:
            u = u - (u * q).sum(1, keepdim=True) * q
        a = u.norm(dim=1)
        U.append(u / a[:, None].clamp_min(tiny))
        alphas.append(a)
        w = op.rmv(U[-1]).detach()
        for q in V:
            w = w - (w * q).sum(1, keepdim=True) * q
        b = w.norm(dim=1)
        B = torch.diag_embed(torch.stack(alphas, 1))
        if betas:
            B = B + torch.diag_embed(torch.stack(betas, 1), offset=1)
        new = torch.linalg.svdvals(B)[:, 0]
        done = bool(((new - sigma).abs() <= tol * new.clamp_min(tiny)).all()) or bool((b <= 1e-12 * new.clamp_min(tiny)).all())
        sigma = new
        if done:
            break
        betas.append(b)
        V.append(w / b[:, None].clamp_min(tiny))
    if not bool(torch.isfinite(sigma).all()):
        raise FloatingPointError("the score Jacobian has NaN or infinite entries")
    # top singular vectors from the small bidiagonal problem: J V_k = U_k B_k
    Ub, _, Vh = torch.linalg.svd(B)
    k = B.shape[-1]
    u = torch.einsum("kni,nk->ni", torch.stack(U[:k]), Ub[:, :, 0])
    v = torch.einsum("kni,nk->ni", torch.stack(V[:k]), Vh[:, 0, :])
    return sigma.detach(), u.detach(), v.detach()


def _flat(score_fn, shape):
    def g(xf, t):
        return score_fn(xf.reshape(shape), t).reshape(shape[0], -1)

    return g


def _dt(g, xf, t):
    """∂_t of g(x, t) per row (t is one scalar per row) by the double-backward trick, with its graph kept
    (differentiable again in x and t; nest it for ∂²_t)."""
    tr = t if t.requires_grad else t.detach().clone().requires_grad_(True)
    out = g(xf, tr)
    u0 = torch.zeros_like(out, requires_grad=True)
    gt = _grad(out, tr, u0, create_graph=True)  # (n,): <u0_i, ∂_t s_i>
    if not gt.requires_grad:
        return torch.zeros_like(out)
    return _grad(gt, u0, torch.ones_like(gt), create_graph=True)


def _d2t(g, xf, t):
    return _dt(lambda z, tt: _dt(g, z, tt), xf, t)


def spectral_norms(score_fn, x: torch.Tensor, t: torch.Tensor, *, n_iter: int = 30, tol: float = 1e-4, generator=None) -> torch.Tensor:
    r"""Largest singular value of :math:`\nabla_x s(x_i, t_i)` for every row, never forming the Jacobian.

    Golub–Kahan–Lanczos bidiagonalisation, batched over rows, with full reorthogonalisation: each
    iteration costs one Jacobian-vector product (double-backward trick) and one vector-Jacobian
    product on a single autograd graph; :math:`\sigma_{\max}` of the small bidiagonal matrix
    increases monotonically to :math:`\|J\|_2`. Stops when every row's estimate changes by less than
    ``tol`` relatively, or after ``n_iter`` iterations. Returns a tensor ``(n,)``.
    """
    _check_iter("n_iter", n_iter)
    shape = x.shape
    g = _flat(score_fn, shape)
    with torch.enable_grad():
        xr = x.detach().reshape(shape[0], -1).clone().requires_grad_(True)
        op = _LinOp(g(xr, t.detach()), xr)
        sigma, _, _ = _top_singular(op, n_iter, tol, generator)
    return sigma


def spectral_norms_exact(score_fn, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Reference: the full Jacobian of every row (``torch.func.jacrev`` + ``vmap``) and its largest singular value."""
    shape = x.shape

    def one(xi, ti):
        return score_fn(xi.reshape(1, *shape[1:]), ti.reshape(1)).reshape(-1)

    J = vmap(jacrev(one))(x.detach().reshape(shape[0], -1), t)
    return torch.linalg.matrix_norm(J, ord=2).detach()


def _second_x(g, xr, t, v0, n_iter, n_outer, create_graph=False):
    r""":math:`\sup_{|v|=1}|D_x^2 s[v,v]|` per row by alternating maximisation of :math:`\langle w, D^2 s[v,v]\rangle`:
    :math:`w \leftarrow D^2 s[v,v]/|\cdot|`, then :math:`v \leftarrow` the top-|eigenvalue| eigenvector of the
    Hessian :math:`H_w = D^2\langle w, s\rangle` by power iteration on Hessian-vector products. Each
    step cannot decrease the objective. Returns ``(value, w, v)``."""
    tiny = torch.finfo(xr.dtype).tiny
    out = g(xr, t)
    op = _LinOp(out, xr, create_graph=True)

    def d2(v):  # D²s[v, v] per row: the Jacobian of x -> J(x) v applied to v
        jv = op.mv(v)
        return _LinOp(jv, xr).mv(v) if jv.requires_grad else torch.zeros_like(out)

    v = v0
    best = torch.zeros(xr.shape[0], dtype=xr.dtype, device=xr.device)
    w = torch.zeros_like(out)
    for _ in range(n_outer):
        b = d2(v).detach()
        val = b.norm(dim=1)
        if bool((val <= tiny).all()) or bool((val <= best * (1 + 1e-7)).all()):  # converged (the objective cannot fall)
            best = torch.maximum(best, val)
            break
        best = torch.maximum(best, val)
        w = b / val[:, None].clamp_min(tiny)
        gw = op.rmv(w)  # ∇⟨w, s⟩, differentiable in x
        if not gw.requires_grad:
            break
        for _ in range(n_iter):  # power iteration on H_w (largest |eigenvalue|)
            hv = _grad(gw, xr, v).detach()
            nv = hv.norm(dim=1, keepdim=True)
            if bool((nv <= tiny).all()):
                break
            v = torch.where(nv > tiny, hv / nv.clamp_min(tiny), v)
    b = d2(v).detach()
    best = torch.maximum(best, b.norm(dim=1))
    return best, w.detach(), v.detach()


def derivative_parts(score_fn, x: torch.Tensor, t: torch.Tensor, *, n_iter: int = 20, n_outer: int = 6, n_restarts: int = 2,
                     n_hvp: int = 8, tol: float = 1e-4, parts=C2_PARTS, generator=None) -> dict:
    r"""Per-point values of the parts of the :math:`C^2` norm (:data:`C2_PARTS`) at the rows of ``(x, t)``:
    :math:`|s|`, :math:`\|\nabla_x s\|_2` (Lanczos), :math:`|\partial_t s|`, :math:`\sup_v|D_x^2 s[v,v]|`
    (alternating maximisation, ``n_outer`` rounds of ``n_hvp`` Hessian-vector power steps, from ``n_restarts``
    random directions, the best kept: the objective is not concave and one start can stall in a local maximum), :math:`\|\partial_t\nabla_x s\|_2` (Lanczos
    on the Jacobian of :math:`x\mapsto\partial_t s`) and :math:`|\partial_t^2 s|`. Returns ``{part: tensor (n,)}``."""
    _check_iter("n_iter", n_iter)
    _check_iter("n_outer", n_outer)
    _check_iter("n_restarts", n_restarts)
    _check_iter("n_hvp", n_hvp)
    shape = x.shape
    g = _flat(score_fn, shape)
    out = {}
    with torch.enable_grad():
        xr = x.detach().reshape(shape[0], -1).clone().requires_grad_(True)
        td = t.detach()
        if "sup|s|" in parts:
            with torch.no_grad():
                out["sup|s|"] = g(xr.detach(), td).norm(dim=1)
        if "sup|grad_x s|" in parts:
            out["sup|grad_x s|"] = _top_singular(_LinOp(g(xr, td), xr), n_iter, tol, generator)[0]
        if "sup|d_t s|" in parts or "sup|d2_t s|" in parts:
            out["sup|d_t s|"] = _dt(g, xr.detach(), td).detach().norm(dim=1)
            out["sup|d2_t s|"] = _d2t(g, xr.detach(), td).detach().norm(dim=1)
        if "sup|D2_x s|" in parts:
            n = xr.shape[0]
            xk = xr.detach().repeat(n_restarts, 1).requires_grad_(True)
            gk = _flat(score_fn, (n * n_restarts, *shape[1:]))
            val = _second_x(gk, xk, td.repeat(n_restarts), _rand_unit(xk.shape, xk, generator), n_hvp, n_outer)[0]
            out["sup|D2_x s|"] = val.reshape(n_restarts, n).max(0).values
        if "sup|d_t grad_x s|" in parts:
            out["sup|d_t grad_x s|"] = _top_singular(_LinOp(_dt(g, xr, td), xr), n_iter, tol, generator)[0]
    res = {p: out[p].detach() for p in parts}
    for p, v in res.items():
        if not bool(torch.isfinite(v).all()):
            raise FloatingPointError(f"the score's derivative {p} is not finite at some points")
    return res


def part_objective(score_fn, part: str, *, n_iter: int = 10, n_outer: int = 1, n_hvp: int = 5, generator=None):
    r"""``objective(x, t) -> (n,)`` for :func:`scoreuq.bounds.extremes.adversarial_max`: the per-point
    value of ``part``, differentiable in ``x`` and ``t``. For the operator-norm parts the top singular
    (or Hessian) directions are found at the current point and held fixed, so the gradient is the
    envelope gradient of the norm; the value is the norm at a feasible point (a lower estimate)."""
    if part not in C2_PARTS:
        raise ValueError(f"part must be one of {C2_PARTS}, got {part!r}")

    def objective(x, t):
        val = _objective(x, t)
        if not val.requires_grad:  # a part that is constant in (x, t) here (e.g. D²_x s of a ReLU net): a zero gradient
            val = val + 0.0 * (x.reshape(x.shape[0], -1).sum(1) + t)
        return val

    def _objective(x, t):
        shape = x.shape
        g = _flat(score_fn, shape)
        xf = x.reshape(shape[0], -1)
        if part == "sup|s|":
            return g(xf, t).norm(dim=1)
        if part == "sup|d_t s|":
            return _dt(g, xf, t).norm(dim=1)
        if part == "sup|d2_t s|":
            return _d2t(g, xf, t).norm(dim=1)
        if part in ("sup|grad_x s|", "sup|d_t grad_x s|"):
            xr = xf.detach().clone().requires_grad_(True)
            f = (lambda z, tt: g(z, tt)) if part == "sup|grad_x s|" else (lambda z, tt: _dt(g, z, tt))
            _, u, v = _top_singular(_LinOp(f(xr, t.detach()), xr), n_iter, 1e-6, generator)
            return (u * _LinOp(f(xf, t), xf, create_graph=True).mv(v)).sum(1)
        # sup|D2_x s|: <w, D² s[v, v]> with (w, v) from the alternating iteration at this point
        xr = xf.detach().clone().requires_grad_(True)
        _, w, v = _second_x(g, xr, t.detach(), _rand_unit(xr.shape, xr, generator), n_hvp, n_outer)
        jv = _LinOp(g(xf, t), xf, create_graph=True).mv(v)
        return (w * _LinOp(jv, xf, create_graph=True).mv(v)).sum(1).abs()

    return objective


def forward_points(process, data: torch.Tensor, times, n_per_t: int, *, generator=None):
    """Points from the forward marginals: for each ``t`` in ``times``, ``n_per_t`` data points perturbed
    to time ``t`` (``x_t = a(t)x_0 + b(t) + s(t)z``). Returns ``(x, t)`` stacked."""
    xs, ts = [], []
    for t in times:
        idx = torch.randint(0, data.shape[0], (n_per_t,), generator=generator)
        x0 = data[idx.to(data.device)]
        tt = torch.full((n_per_t,), float(t), dtype=x0.dtype, device=x0.device)
        xt, _ = process.perturb(x0, tt, generator=generator)
        xs.append(xt)
        ts.append(tt)
    return torch.cat(xs), torch.cat(ts)


def _grid(t_min, T, n):
    if n == 1:
        return [float(t_min)]
    return [float(v) for v in torch.logspace(math.log10(t_min), math.log10(T), n, dtype=torch.float64)]


@dataclass(frozen=True)
class LipschitzEstimate:
    """Largest spectral norm of the score Jacobian over the sampled points and where it was reached;
    ``values`` and ``t`` hold every point's value (for extreme-value fits and ε-restricted maxima)."""

    value: float
    t_at_max: float
    per_t: dict
    n_points: int
    n_iter: int
    values: torch.Tensor = field(default=None, repr=False)
    t: torch.Tensor = field(default=None, repr=False)
    x: torch.Tensor = field(default=None, repr=False)


def lipschitz(score_fn, process, data, *, t_min: float | None = None, T: float | None = None, n_times: int = 8, n_per_t: int = 32,
              n_iter: int = 30, tol: float = 1e-4, generator=None, batch: int = 256) -> LipschitzEstimate:
    r""":math:`\|\nabla_x s_\theta\|_\infty \approx \max_{i} \|\nabla_x s_\theta(x_i, t_i)\|_2` over ``n_per_t`` points
    from each forward marginal :math:`p_t`, :math:`t` on a grid of ``n_times`` values log-spaced in
    :math:`[\varepsilon, T]`. A sampled maximum: a lower estimate of the supremum."""
    T = process.T if T is None else T
    t_min = resolve_t_min(process, t_min)
    x, t = forward_points(process, data, _grid(t_min, T, n_times), n_per_t, generator=generator)
    sig = torch.cat([spectral_norms(score_fn, x[i: i + batch], t[i: i + batch], n_iter=n_iter, tol=tol, generator=generator)
                     for i in range(0, x.shape[0], batch)])
    per_t = {float(tv): float(sig[t == tv].max()) for tv in torch.unique(t)}
    k = int(torch.argmax(sig))
    return LipschitzEstimate(float(sig[k]), float(t[k]), per_t, int(x.shape[0]), n_iter, sig.cpu(), t.cpu(), x.detach())


@dataclass(frozen=True)
class C2Estimate:
    r"""Sampled sup norms of the parts of :math:`\|s\|_{C^2}` (:data:`C2_PARTS`); ``value`` is their **sum**
    over the parts of ``kind`` (:data:`C2_KINDS`); ``per_point`` holds every point's values."""

    value: float
    parts: dict
    n_points: int
    kind: str = "full"
    per_point: dict = field(default_factory=dict, repr=False)
    t: torch.Tensor = field(default=None, repr=False)
    x: torch.Tensor = field(default=None, repr=False)

    def total(self, kind: str | None = None) -> float:
        return sum(self.parts[p] for p in C2_KINDS[check_kind(kind or self.kind)])


def c2_norm(score_fn, process, data, *, t_min: float | None = None, T: float | None = None, n_times: int = 5, n_per_t: int = 8,
            n_iter: int = 20, n_outer: int = 6, n_hvp: int = 8, n_restarts: int = 2, kind: str = "full", generator=None,
            batch: int = 128) -> C2Estimate:
    r""":math:`\|s_\theta\|_{C^2([\varepsilon,T]\times\Omega)}` as the **sum** of the sampled sup norms of its
    parts (:data:`C2_KINDS`), each a maximum of :func:`derivative_parts` over ``n_per_t`` forward-marginal
    points at ``n_times`` times log-spaced in :math:`[\varepsilon, T]`. Sampled maxima: lower estimates."""
    check_kind(kind)
    T = process.T if T is None else T
    t_min = resolve_t_min(process, t_min)
    x, t = forward_points(process, data, _grid(t_min, T, n_times), n_per_t, generator=generator)
    vals = {p: [] for p in C2_PARTS}
    for i in range(0, x.shape[0], batch):
        d = derivative_parts(score_fn, x[i: i + batch], t[i: i + batch], n_iter=n_iter, n_outer=n_outer, n_hvp=n_hvp,
                             n_restarts=n_restarts, generator=generator)
        for p in C2_PARTS:
            vals[p].append(d[p])
    per_point = {p: torch.cat(v).cpu() for p, v in vals.items()}
    parts = {p: float(v.max()) for p, v in per_point.items()}
    return C2Estimate(sum(parts[p] for p in C2_KINDS[kind]), parts, int(x.shape[0]), kind, per_point, t.cpu(), x.detach())


def kde_bandwidth(x: torch.Tensor, rule: str = "scott", *, generator=None, n_folds: int = 3, grid=None) -> float:
    r"""Bandwidth :math:`h` of an isotropic Gaussian KDE of ``x`` ``(n, d)``.

    ``"scott"``: :math:`h = \bar\sigma\, n^{-1/(d+4)}`; ``"silverman"``:
    :math:`h = \bar\sigma\,(4/(d+2))^{1/(d+4)} n^{-1/(d+4)}`, with :math:`\bar\sigma` the mean
    per-coordinate standard deviation (Scott 1992; Silverman 1986; scipy's ``gaussian_kde``
    factors); ``"cv"``: the value on ``grid`` (default: 12 values log-spaced in
    :math:`[0.05, 2]\times` Scott's) that maximises the ``n_folds``-fold held-out log-likelihood.
    """
    x = x.detach().reshape(x.shape[0], -1).double()
    n, d = x.shape
    if n < 2:
        raise ValueError("kde_bandwidth needs at least 2 points")
    sigma = float(x.std(dim=0).mean())
    if not sigma > 0:
        raise ValueError("the data have zero spread; a KDE bandwidth is undefined")
    scott = sigma * n ** (-1.0 / (d + 4))
    if rule == "scott":
        return scott
    if rule == "silverman":
        return sigma * (4.0 / (d + 2)) ** (1.0 / (d + 4)) * n ** (-1.0 / (d + 4))
    if rule != "cv":
        raise ValueError(f"rule must be 'scott', 'silverman' or 'cv', got {rule!r}")
    grid = [scott * float(f) for f in torch.logspace(math.log10(0.05), math.log10(2.0), 12)] if grid is None else list(grid)
    perm = torch.randperm(n, generator=generator)
    folds = perm.chunk(n_folds)
    best, best_h = -math.inf, grid[0]
    for h in grid:
        ll = 0.0
        for k in range(n_folds):
            test = x[folds[k]]
            train = x[torch.cat([folds[j] for j in range(n_folds) if j != k])]
            ll += float(GaussianMixture(train, stds=h).log_prob(test).sum())
        if ll > best:
            best, best_h = ll, h
    return best_h
