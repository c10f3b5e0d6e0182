r"""Synthetic data sets with, where it exists, the exact density and score.

Every data set is a :class:`Distribution`: ``sample(n, generator=)`` always, and
``log_prob``, ``score`` and ``marginal_score(x, t, process)`` where the law has a
density. A Gaussian mixture stays a Gaussian mixture under every forward process
of :mod:`scoreuq.processes` (they are affine-Gaussian), so its noised score
:math:`\nabla_x \log p_t` is exact at every ``t`` (thesis (003) App. A.2.2,
Corollary A.1).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .._validation import as_time, check_finite, check_positive

__all__ = [
    "Distribution",
    "GaussianMixture",
    "Empirical",
    "Circle",
    "UnionOfCircles",
    "SwissRoll",
    "Sphere",
    "Disc3D",
    "Cauchy",
]

_LOG_2PI = math.log(2 * math.pi)


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return n


def _dtype(dtype):
    return dtype or torch.get_default_dtype()


class Distribution:
    """A law on :math:`\\mathbb R^d` that can at least be sampled."""

    dim: int

    def sample(self, n: int, *, generator=None, dtype=None, device=None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no density with respect to Lebesgue measure")

    def score(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no exact score")

    def marginal_score(self, x: torch.Tensor, t, process) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no exact score under a forward process")

    def _check_x(self, x: torch.Tensor) -> torch.Tensor:
        check_finite("x", x)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {tuple(x.shape)}")
        return x


class GaussianMixture(Distribution):
    r"""Gaussian mixture :math:`\pi = \sum_k w_k \mathcal N(\mu_k, \Sigma_k)` in any dimension.

    Under a forward process with transition :math:`\mathcal N(a(t)x_0 + b(t), s(t)^2 I)`
    the marginal is again a mixture (003 App. A.2.2):

    .. math::

        p_t = \sum_k w_k\,\mathcal N\big(a(t)\mu_k + b(t),\; a(t)^2\Sigma_k + s(t)^2 I\big),

    and :math:`\nabla_x\log p_t(x) = \sum_k r_k(x)\,C_k(t)^{-1}(m_k(t) - x)` with
    responsibilities :math:`r_k \propto w_k \mathcal N(x; m_k, C_k)`.

    Parameters
    ----------
    means : array-like, shape ``(K, d)``
    stds : float, ``(K,)`` or ``(K, d)``
        Isotropic (scalar or per component) or diagonal standard deviations, ``>= 0``.
        Zero is allowed (point masses; then only ``marginal_score`` for ``t > 0`` exists).
    weights : array-like, shape ``(K,)``, optional
        Positive weights, normalised here; equal by default.
    covariances : array-like, shape ``(K, d, d)``, optional
        Full covariances; when given, ``stds`` is ignored.
    """

    def __init__(self, means, stds=1.0, weights=None, covariances=None):
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.ndim == 1:
            means = means[:, None]
        if means.ndim != 2:
            raise ValueError(f"means must have shape (K, d), got {tuple(means.shape)}")
        check_finite("means", means)
        K, d = means.shape
        self.means, self.dim, self.n_components = means, d, K
        dev = means.device  # every parameter lives with the means (a KDE of data on an accelerator stays there)
        if weights is None:
            w = torch.full((K,), 1.0 / K, dtype=torch.float64, device=dev)
        else:
            w = torch.as_tensor(weights, dtype=torch.float64).flatten().to(dev)
            if w.shape != (K,):
                raise ValueError(f"weights must have shape ({K},), got {tuple(w.shape)}")
            if not bool(torch.isfinite(w).all()) or bool((w <= 0).any()):
                raise ValueError("weights must be finite and > 0")
            w = w / w.sum()
        self.weights = w
        self.evecs = None  # (K, d, d) eigenvectors as columns, None = axis-aligned
        if covariances is not None:
            cov = torch.as_tensor(covariances, dtype=torch.float64).to(dev)
            if cov.shape != (K, d, d):
                raise ValueError(f"covariances must have shape ({K}, {d}, {d}), got {tuple(cov.shape)}")
            check_finite("covariances", cov)
            if not torch.allclose(cov, cov.transpose(1, 2), atol=1e-10):
                raise ValueError("covariances must be symmetric")
            evals, evecs = torch.linalg.eigh(cov)
            if bool((evals < -1e-10).any()):
                raise ValueError("covariances must be positive semi-definite")
            self.evals, self.evecs = evals.clamp_min(0), evecs
            self._isotropic = False
        else:
            s = torch.as_tensor(stds, dtype=torch.float64).to(dev)
            check_finite("stds", s)
            if bool((s < 0).any()):
                raise ValueError("stds must be >= 0")
            if s.ndim == 0:
                s = s.expand(K)
            if s.shape == (K,):
                self._isotropic = True
                self.evals = (s**2)[:, None].expand(K, d).clone()
            elif s.shape == (K, d):
                self._isotropic = False
                self.evals = s**2
            else:
                raise ValueError(f"stds must be a scalar or have shape ({K},) or ({K}, {d}), got {tuple(s.shape)}")

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.n_components}, d={self.dim})"

    # ------------------------------------------------------------ moments
    def covariances(self) -> torch.Tensor:
        """Component covariances, shape ``(K, d, d)``."""
        if self.evecs is None:
            return torch.diag_embed(self.evals)
        return self.evecs @ torch.diag_embed(self.evals) @ self.evecs.transpose(1, 2)

    def mean(self) -> torch.Tensor:
        return self.weights @ self.means

    def covariance(self) -> torch.Tensor:
        """Covariance of the mixture (law of total covariance)."""
        m = self.mean()
        dm = self.means - m
        return (self.weights[:, None, None] * (self.covariances() + dm[:, :, None] * dm[:, None, :])).sum(0)

    def at(self, t: float, process) -> "GaussianMixture":
        """The marginal :math:`p_t` under ``process`` as a new mixture (scalar ``t``)."""
        tt = as_time(t, 1, like=self.means, T=process.T)
        a = float(process.mean_coeff(tt)[0])
        s2 = float(process.marginal_std(tt)[0]) ** 2
        b = process.mean_offset(tt, self.means[:1]).reshape(-1) if self.dim else 0
        means = a * self.means + b
        cov = a**2 * self.covariances() + s2 * torch.eye(self.dim, dtype=torch.float64, device=self.means.device)
        return GaussianMixture(means, weights=self.weights, covariances=cov)

    # ------------------------------------------------------------ sampling
    def sample(self, n, *, generator=None, dtype=None, device=None):
        n = _check_n(n)
        # drawn on the generator's device, then gathered where the mixture lives (a KDE may sit on an accelerator)
        gdev = generator.device if generator is not None else self.means.device
        k = torch.multinomial(self.weights.to(gdev), n, replacement=True, generator=generator)
        z = torch.randn((n, self.dim), generator=generator, dtype=torch.float64, device=gdev)
        k, z = k.to(self.means.device), z.to(self.means.device)
        z = z * self.evals[k].sqrt()
        if self.evecs is not None:
            z = torch.einsum("nde,ne->nd", self.evecs[k], z)
        return (self.means[k] + z).to(dtype=_dtype(dtype), device=device)

    # ------------------------------------------------------------ density and score
    def _moments_t(self, t: torch.Tensor, x: torch.Tensor, process):
        """(a, b, s2) of the process at per-sample times, shapes (n,), (n,d)|scalar, (n,)."""
        if process is None:
            n = x.shape[0]
            one = torch.ones(n, dtype=x.dtype, device=x.device)
            return one, torch.zeros((), dtype=x.dtype, device=x.device), torch.zeros_like(one)
        t = as_time(t, x.shape[0], like=x, T=process.T)
        a = process.mean_coeff(t)
        b = process.mean_offset(t, x)
        s2 = process.marginal_std(t) ** 2
        return a, b, s2

    def _eval(self, x, t, process, want_score: bool, chunk: int | None = None):
        x = self._check_x(x)
        n, d, K = x.shape[0], self.dim, self.n_components
        if chunk is None:
            per_row = K * (1 if self._isotropic else d)
            chunk = max(1, int(2**24 // max(per_row, 1)))
        if n > chunk:
            outs = [
                self._eval(x[i : i + chunk], t if torch.as_tensor(t).ndim == 0 else torch.as_tensor(t)[i : i + chunk], process, want_score, chunk)
                for i in range(0, n, chunk)
            ]
            return torch.cat(outs)
        a, b, s2 = self._moments_t(t, x, process)
        mu = self.means.to(x)
        ev = self.evals.to(x)
        logw = self.weights.to(x).log()
        y = x - b  # (n, d)
        if self._isotropic:
            var = a[:, None] ** 2 * ev[None, :, 0] + s2[:, None]  # (n, K)
            if bool((var <= 0).any()):
                raise ValueError("the mixture has a zero-variance component at this t; use t > 0")
            # ||y - a mu_k||^2 without forming (n, K, d)
            sq = (y**2).sum(1, keepdim=True) - 2 * a[:, None] * (y @ mu.T) + a[:, None] ** 2 * (mu**2).sum(1)[None, :]
            sq = sq.clamp_min(0)
            logN = -0.5 * sq / var - 0.5 * d * (var.log() + _LOG_2PI)
            logp = logw[None, :] + logN
            if not want_score:
                return torch.logsumexp(logp, dim=1)
            r = torch.softmax(logp, dim=1)  # (n, K)
            rv = r / var
            return a[:, None] * (rv @ mu) - rv.sum(1, keepdim=True) * y
        var = a[:, None, None] ** 2 * ev[None] + s2[:, None, None]  # (n, K, d)
        if bool((var <= 0).any()):
            raise ValueError("the mixture has a zero-variance direction at this t; use t > 0")
        diff = y[:, None, :] - a[:, None, None] * mu[None]  # (n, K, d)
        if self.evecs is not None:
            U = self.evecs.to(x)
            proj = torch.einsum("nkd,kde->nke", diff, U)
        else:
            proj = diff
        logN = -0.5 * (proj**2 / var).sum(2) - 0.5 * (var.log().sum(2) + d * _LOG_2PI)
        logp = logw[None, :] + logN
        if not want_score:
            return torch.logsumexp(logp, dim=1)
        r = torch.softmax(logp, dim=1)
        g = -proj / var  # gradient in the eigenbasis
        if self.evecs is not None:
            g = torch.einsum("kde,nke->nkd", U, g)
        return (r[:, :, None] * g).sum(1)

    def log_prob(self, x):
        """Exact :math:`\\log\\pi(x)`, shape ``(n,)``."""
        return self._eval(x, 0.0, None, want_score=False)

    def score(self, x):
        """Exact :math:`\\nabla_x\\log\\pi(x)`, shaped like ``x``."""
        return self._eval(x, 0.0, None, want_score=True)

    def marginal_log_prob(self, x, t, process):
        """Exact :math:`\\log p_t(x)` of the mixture pushed through ``process``."""
        return self._eval(x, t, process, want_score=False)

    def marginal_score(self, x, t, process):
        """Exact :math:`\\nabla_x\\log p_t(x)` of the mixture pushed through ``process``."""
        return self._eval(x, t, process, want_score=True)

    def score_fn(self, process):
        """A score function ``s(x, t)`` for the samplers: the exact marginal score."""
        return lambda x, t: self.marginal_score(x, t, process)


class Empirical(GaussianMixture):
    r"""The empirical law :math:`\pi_N = \frac1N\sum_i \delta_{x_i}` of a point set.

    Its noised marginal is the Gaussian mixture with one component per point, so
    ``marginal_score(x, t, process)`` is the exact score of the training set for
    ``t > 0`` (the "empirical score" of 003 §3.2, Figure 3.2) — the score a network
    converges to when it memorises.
    """

    def __init__(self, points, weights=None):
        pts = torch.as_tensor(points, dtype=torch.float64)
        super().__init__(pts, stds=0.0, weights=weights)

    def sample(self, n, *, generator=None, dtype=None, device=None):
        n = _check_n(n)
        gdev = generator.device if generator is not None else self.means.device
        k = torch.multinomial(self.weights.to(gdev), n, replacement=True, generator=generator).to(self.means.device)
        return self.means[k].to(dtype=_dtype(dtype), device=device)


class Circle(Distribution):
    r"""Uniform law on a circle of given radius (thesis (003) §3.2 and §4.2.2).

    ``train_points()`` are ``n_train`` points evenly spaced at angles :math:`2\pi i/n`,
    ``test_points()`` the same set rotated by ``test_rotation``.

    Note on the seed: 003 rotates the test set by :math:`\pi/4`. For the 8 training
    points of §3.2 (spacing :math:`\pi/4`) that rotation maps the training set onto
    itself, so the default here is half the spacing, :math:`\pi/n`, which equals
    :math:`\pi/4` for 4 points; pass ``test_rotation=math.pi/4`` for the literal choice.
    """

    def __init__(self, n_train: int = 8, radius: float = 1.0, center=(0.0, 0.0), test_rotation: float | None = None):
        self.n_train = _check_n(n_train)
        self.radius = check_positive("radius", radius)
        self.center = torch.as_tensor(center, dtype=torch.float64).reshape(2)
        self.test_rotation = math.pi / self.n_train if test_rotation is None else float(test_rotation)
        self.dim = 2

    def _ring(self, angles: torch.Tensor) -> torch.Tensor:
        return self.center + self.radius * torch.stack([torch.cos(angles), torch.sin(angles)], 1)

    def train_points(self, dtype=None) -> torch.Tensor:
        ang = 2 * math.pi * torch.arange(self.n_train, dtype=torch.float64) / self.n_train
        return self._ring(ang).to(_dtype(dtype))

    def test_points(self, dtype=None) -> torch.Tensor:
        ang = 2 * math.pi * torch.arange(self.n_train, dtype=torch.float64) / self.n_train + self.test_rotation
        return self._ring(ang).to(_dtype(dtype))

    def sample(self, n, *, generator=None, dtype=None, device=None):
        n = _check_n(n)
        ang = 2 * math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
        return self._ring(ang).to(dtype=_dtype(dtype), device=device)

    # ------------------------------------------------------------ exact noised density and score
    def _noised(self, x, t, process):
        """(y, rho, a r / s^2, s^2) with y = x - b(t) - a(t) c, rho = |y|, per sample."""
        x = self._check_x(x)
        t = as_time(t, x.shape[0], like=x, T=process.T)
        a = process.mean_coeff(t)
        b = process.mean_offset(t, x)
        s2 = process.marginal_std(t) ** 2
        if bool((s2 <= 0).any()):
            raise ValueError("the uniform circle has no density at t = 0; use t > 0")
        y = x - b - a[:, None] * self.center.to(x)
        rho = y.norm(dim=1)
        k = a * self.radius / s2
        return y, rho, k, s2

    def marginal_log_prob(self, x, t, process):
        r"""Exact :math:`\log p_t(x)` of the uniform circle pushed through ``process``.

        With :math:`x_t = a x_0 + b + s z`, :math:`x_0` uniform on the circle of radius :math:`r`
        and centre :math:`c`, :math:`y = x - b - ac`, :math:`\kappa = a r |y| / s^2`:

        .. math::

            \log p_t(x) = -\log(2\pi s^2) - \frac{|y|^2 + a^2 r^2}{2 s^2} + \log I_0(\kappa),

        with :math:`\log I_0(\kappa) = \log \mathrm{i0e}(\kappa) + \kappa` (no overflow)."""
        y, rho, k, s2 = self._noised(x, t, process)
        kappa = k * rho
        ar = k * s2
        return (-torch.log(2 * math.pi * s2) - (rho**2 + ar**2) / (2 * s2)
                + torch.log(torch.special.i0e(kappa)) + kappa)

    def marginal_score(self, x, t, process):
        r"""Exact :math:`\nabla_x\log p_t(x)` of the uniform circle under ``process``:

        .. math::

            \nabla\log p_t(x) = -\frac{y}{s^2} + \frac{a r}{s^2}\,\frac{I_1}{I_0}(\kappa)\,\frac{y}{|y|},

        with the Bessel ratio taken as ``i1e/i0e`` (stable for large :math:`\kappa`) and, at
        :math:`|y| \to 0`, :math:`(I_1/I_0)(\kappa)/|y| \to k/2` (:math:`k = ar/s^2`)."""
        y, rho, k, s2 = self._noised(x, t, process)
        kappa = k * rho
        small = kappa < 1e-6
        ratio = torch.special.i1e(kappa) / torch.special.i0e(kappa)
        # (I1/I0)(kappa) / rho, continuous at rho = 0 where I1(kappa)/I0(kappa) ~ kappa/2
        per_rho = torch.where(small, 0.5 * k, ratio / torch.where(small, torch.ones_like(rho), rho))
        return -y / s2[:, None] + (k * per_rho)[:, None] * y

    def score_fn(self, process):
        """A score function ``s(x, t)`` for the samplers: the exact marginal score (float64 inside)."""
        def fn(x, t):
            return self.marginal_score(x.double(), t.double() if torch.is_tensor(t) else t, process).to(x.dtype)
        return fn


class UnionOfCircles(Distribution):
    r"""Two circles centred at :math:`(\pm\mu, 0)` (thesis (003) §4.2.4, §5.1.2): a disconnected support.

    ``sample`` draws uniformly on the union (each circle with probability 1/2);
    ``train_points``/``test_points`` place ``n_train`` evenly spaced points on each circle,
    the test set rotated by ``test_rotation`` (default half the spacing, see :class:`Circle`).
    """

    def __init__(self, mu: float = 2.0, radius: float = 1.0, n_train: int = 8, test_rotation: float | None = None):
        self.mu = check_positive("mu", mu)
        self.radius = check_positive("radius", radius)
        self.circles = [
            Circle(n_train, radius, (self.mu, 0.0), test_rotation),
            Circle(n_train, radius, (-self.mu, 0.0), test_rotation),
        ]
        self.dim = 2

    def train_points(self, dtype=None):
        return torch.cat([c.train_points(dtype) for c in self.circles])

    def test_points(self, dtype=None):
        return torch.cat([c.test_points(dtype) for c in self.circles])

    def training_set(self, n: int, seed: int, *, dtype=None) -> torch.Tensor:
        """``n`` points drawn from the union with a generator of its own seeded by ``seed`` alone:
        the same fixed training set for every model trained on this seed (GAN, VAE, SGM), whatever
        the global random state or the order of the models."""
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        g = torch.Generator().manual_seed(int(seed) * 1_000_003 + 424_242)
        return self.sample(_check_n(n), generator=g, dtype=dtype)

    def distance_to_support(self, x: torch.Tensor) -> torch.Tensor:
        """Euclidean distance of each point to the union of the two circles, shape ``(n,)``."""
        x = self._check_x(x).double()
        d = [((x - c.center).norm(dim=1) - c.radius).abs() for c in self.circles]
        return torch.minimum(d[0], d[1])

    # ------------------------------------------------------------ exact noised density and score
    def marginal_log_prob(self, x, t, process):
        r"""Exact :math:`\log p_t(x)` of the 50/50 union pushed through ``process``:
        :math:`\log\tfrac12\sum_i p^{(i)}_t(x)` by logsumexp of the circles' Bessel densities."""
        lp = torch.stack([c.marginal_log_prob(x, t, process) for c in self.circles], 0)
        return torch.logsumexp(lp, 0) - math.log(2.0)

    def marginal_score(self, x, t, process):
        r"""Exact :math:`\nabla_x\log p_t(x)`: the circles' scores weighted by their responsibilities
        :math:`\mathrm{softmax}_i \log p^{(i)}_t(x)` (stable where one circle's density underflows)."""
        lp = torch.stack([c.marginal_log_prob(x, t, process) for c in self.circles], 0)
        w = torch.softmax(lp, 0)
        sc = torch.stack([c.marginal_score(x, t, process) for c in self.circles], 0)
        return (w[:, :, None] * sc).sum(0)

    def score_fn(self, process):
        """A score function ``s(x, t)`` for the samplers: the exact marginal score (float64 inside)."""
        def fn(x, t):
            return self.marginal_score(x.double(), t.double() if torch.is_tensor(t) else t, process).to(x.dtype)
        return fn

    def sample(self, n, *, generator=None, dtype=None, device=None):
        n = _check_n(n)
        side = torch.rand(n, generator=generator, dtype=torch.float64) < 0.5
        ang = 2 * math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
        cx = torch.where(side, self.mu, -self.mu)
        x = torch.stack([cx + self.radius * torch.cos(ang), self.radius * torch.sin(ang)], 1)
        return x.to(dtype=_dtype(dtype), device=device)


class SwissRoll(Distribution):
    r"""The 3-D Swiss roll (thesis (003) §4.2.3), parameterised as scikit-learn's
    ``make_swiss_roll``: :math:`u = \tfrac{3\pi}{2}(1 + 2U_1)`, :math:`x = (u\cos u,\; 21U_2,\; u\sin u)`.

    Parameters
    ----------
    noise : float
        Standard deviation of isotropic Gaussian noise added to each point (the
        "noisy" roll of 003 Figure 4.2 uses variance 1.5, i.e. ``noise = sqrt(1.5)``).
    gap : (u_low, u_high, y_low, y_high), optional
        A rectangle in the (roll parameter, height) chart removed from the support
        (the "gapped" roll); points are drawn by rejection.
    """

    def __init__(self, noise: float = 0.0, gap: Sequence[float] | None = None):
        self.noise = float(noise)
        if self.noise < 0 or math.isnan(self.noise):
            raise ValueError(f"noise must be >= 0, got {noise!r}")
        if gap is not None:
            gap = tuple(float(g) for g in gap)
            if len(gap) != 4 or gap[0] >= gap[1] or gap[2] >= gap[3]:
                raise ValueError("gap must be (u_low, u_high, y_low, y_high) with low < high")
        self.gap = gap
        self.dim = 3

    @classmethod
    def gapped(cls, noise: float = 0.0) -> "SwissRoll":
        """The gapped roll of 003 Figure 4.2: a hole through the middle of the sheet."""
        return cls(noise=noise, gap=(3 * math.pi, 4 * math.pi, 7.0, 14.0))

    def sample(self, n, *, generator=None, dtype=None, device=None):
        n = _check_n(n)
        us, ys, have = [], [], 0
        while have < n:
            m = 2 * (n - have) + 16
            u = 1.5 * math.pi * (1 + 2 * torch.rand(m, generator=generator, dtype=torch.float64))
            y = 21 * torch.rand(m, generator=generator, dtype=torch.float64)
            if self.gap is not None:
                g = self.gap
                keep = ~((u >= g[0]) & (u <= g[1]) & (y >= g[2]) & (y <= g[3]))
                u, y = u[keep], y[keep]
            us.append(u)
            ys.append(y)
            have += u.numel()
        u, y = torch.cat(us)[:n], torch.cat(ys)[:n]
        x = torch.stack([u * torch.cos(u), y, u * torch.sin(u)], 1)
        if self.noise > 0:
            x = x + self.noise * torch.randn(x.shape, generator=generator, dtype=torch.float64)
        return x.to(dtype=_dtype(dtype), device=device)


class Sphere(Distribution):
    """Uniform law on the sphere :math:`\\{x \\in \\mathbb R^d : \\|x - c\\| = r\\}` (003 Figure 4.2)."""

    def __init__(self, radius: float = 10.0, dim: int = 3, center=None):
        self.radius = check_positive("radius", radius)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ValueError(f"dim must be an integer >= 2, got {dim!r}")
        self.dim = dim
        self.center = torch.zeros(dim, dtype=torch.float64) if center is None else torch.as_tensor(center, dtype=torch.float64).reshape(dim)

    def sample(self, n, *, generator=None, dtype=None, device=None):
        n = _check_n(n)
        z = torch.randn((n, self.dim), generator=generator, dtype=torch.float64)
        x = self.center + self.radius * z / z.norm(dim=1, keepdim=True)
        return x.to(dtype=_dtype(dtype), device=device)


class Disc3D(Distribution):
    """Uniform law on the flat disc :math:`\\{(x, y, 0) : x^2 + y^2 \\le r^2\\}` in :math:`\\mathbb R^3`."""

    def __init__(self, radius: float = 1.0):
        self.radius = check_positive("radius", radius)
        self.dim = 3

    def sample(self, n, *, generator=None, dtype=None, device=None):
        n = _check_n(n)
        r = self.radius * torch.rand(n, generator=generator, dtype=torch.float64).sqrt()
        ang = 2 * math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
        x = torch.stack([r * torch.cos(ang), r * torch.sin(ang), torch.zeros_like(r)], 1)
        return x.to(dtype=_dtype(dtype), device=device)


class Cauchy(Distribution):
    r"""Product of independent Cauchy laws (thesis (003) §5.1.2), sampled by inversion:

    .. math::

        F^{-1}(u) = x_0 + \gamma\tan\big(\pi(u - \tfrac12)\big),\qquad
        \nabla\log p(x) = -\frac{2(x - x_0)}{\gamma^2 + (x - x_0)^2}.

    No moment exists, so its marginals under a forward process have no closed form;
    it is the thesis's pathological case for forward convergence.
    """

    def __init__(self, loc: float = 0.0, scale: float = 1.0, dim: int = 1):
        self.loc = float(loc)
        if not math.isfinite(self.loc):
            raise ValueError(f"loc must be finite, got {loc!r}")
        self.scale = check_positive("scale", scale)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
        self.dim = dim

    def icdf(self, u: torch.Tensor) -> torch.Tensor:
        if bool(((u <= 0) | (u >= 1) | torch.isnan(u)).any()):
            raise ValueError("u must lie in the open interval (0, 1)")
        return self.loc + self.scale * torch.tan(math.pi * (u - 0.5))

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 + torch.atan((x - self.loc) / self.scale) / math.pi

    def sample(self, n, *, generator=None, dtype=None, device=None):
        n = _check_n(n)
        u = torch.rand((n, self.dim), generator=generator, dtype=torch.float64)
        u = u.clamp(torch.finfo(torch.float64).tiny, 1 - torch.finfo(torch.float64).eps)
        return self.icdf(u).to(dtype=_dtype(dtype), device=device)

    def log_prob(self, x):
        x = self._check_x(x)
        z = (x - self.loc) / self.scale
        return (-math.log(math.pi * self.scale) - torch.log1p(z**2)).sum(1)

    def score(self, x):
        x = self._check_x(x)
        dx = x - self.loc
        return -2 * dx / (self.scale**2 + dx**2)
