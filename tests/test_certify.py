"""Certified sup-norm bounds of ScoreMLP (scoreuq.bounds.certificates).

Why these norms matter: they are the Lipschitz constant and the C^2 norm of the score that enter the WUP
theorem as transcribed in seminar 000 §2.1. A certificate must NEVER be below the truth, so the central
tests compare every part with a brute-force lower estimate of the true supremum (exact per-point
derivatives from torch.func at random interior/boundary points, refined by derivative-free hill climbing
and, on the tiny net, by gradient ascent): certificate >= brute force, always.
"""
import math

import pytest
import torch
from scipy.optimize import minimize_scalar
from torch import nn
from torch.func import jacfwd, vmap

from scoreuq.bounds import certificates as C
from scoreuq.bounds.certificates import ACTIVATION_CONSTANTS, PARTS, Certificate, certify, supports
from scoreuq.nets import NoisePredictionScore, ScoreMLP, ScoreModel, ScoreNet
from scoreuq.processes import OrnsteinUhlenbeck

pytestmark = pytest.mark.usefixtures("one_thread")

_MOD = {"relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh, "gelu": nn.GELU}
SMOOTH = ("silu", "tanh", "gelu")


# ----------------------------------------------------------------------------------------- helpers
def make(d, act, emb, layers=2, width=8, seed=0, scale=1.0, time_dim=4):
    """A float64 ScoreMLP with default-initialised weights (seeded) multiplied by ``scale``."""
    torch.manual_seed(seed)
    m = ScoreMLP(d, layers, width, act, emb, time_dim=time_dim).double()
    with torch.no_grad():
        for p in m.net.parameters():
            p.mul_(scale)
    return m


def _directions(d, n):
    """Unit vectors: a half-circle grid (d = 2) or a Fibonacci sphere (d = 3); v and -v give the same D²s[v,v]."""
    if d == 2:
        th = torch.linspace(0, math.pi, n, dtype=torch.float64)
        return torch.stack([th.cos(), th.sin()], 1)
    i = torch.arange(n, dtype=torch.float64) + 0.5
    polar, az = torch.acos(1 - 2 * i / n), math.pi * (1 + 5 ** 0.5) * i
    return torch.stack([polar.sin() * az.cos(), polar.sin() * az.sin(), polar.cos()], 1)


def _quantities(m, d, V):
    """Batched exact per-point values of the six parts at y = (x, t), from torch.func: the full Jacobian and
    Hessian of y -> s(x, t) (jacfwd∘jacfwd); |D²_x s[v,v]| maximised over the unit vectors ``V``."""

    def g(y):
        return m(y[None, :d], y[None, d])[0]

    def q(y):
        J = jacfwd(g)(y)                 # (d, d+1)
        H = jacfwd(jacfwd(g))(y)         # (d, d+1, d+1)
        hvv = torch.einsum("oij,ni,nj->no", H[:, :d, :d], V, V).norm(dim=1).max()
        return torch.stack([g(y).norm(), torch.linalg.matrix_norm(J[:, :d], 2), J[:, d].norm(), hvv,
                            torch.linalg.matrix_norm(H[:, :d, d], 2), H[:, d, d].norm()])

    return vmap(q)


def _project(y, d, R, c, tr):
    x = y[:, :d] - c
    x = c + x * (R / x.norm(dim=1, keepdim=True).clamp_min(R))
    return torch.cat([x, y[:, d:].clamp(tr[0], tr[1])], 1)


def brute(m, d, R, tr, center=None, n=1500, rounds=10, ascent=0, seed=0):
    """Max over points of Ω × [t_lo, t_hi] of the exact per-point quantities (a LOWER estimate of each sup):
    ``n`` random points (a quarter on the sphere, some at t_lo and t_hi), then ``rounds`` of hill climbing
    (4 best points per part, 8 Gaussian perturbations each, shrinking steps, projected onto the domain), then
    ``ascent`` Adam steps of gradient ascent from the best points; the D²_x directions are refined at the end."""
    g = torch.Generator().manual_seed(seed)
    c = torch.zeros(d, dtype=torch.float64) if center is None else torch.tensor(center, dtype=torch.float64)
    Q = _quantities(m, d, _directions(d, 180 if d == 2 else 300))
    u = torch.randn(n, d, generator=g, dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)
    r = torch.rand(n, 1, generator=g, dtype=torch.float64) ** (1 / d)
    r[: n // 4] = 1.0
    t = tr[0] + (tr[1] - tr[0]) * torch.rand(n, 1, generator=g, dtype=torch.float64)
    t[:40], t[40:80] = tr[0], tr[1]
    y = torch.cat([c + R * r * u, t], 1)
    vals = Q(y)
    best = vals.max(0).values.clone()
    tops = torch.stack([y[vals[:, j].topk(4).indices] for j in range(6)])          # (6, 4, d+1)
    scale = torch.tensor([R] * d + [tr[1] - tr[0]], dtype=torch.float64)
    for k in range(rounds):
        step = 0.3 * 0.6 ** k
        cand = tops[:, :, None, :] + step * scale * torch.randn(6, 4, 8, d + 1, generator=g, dtype=torch.float64)
        cand = torch.cat([tops[:, :, None, :], cand], 2).reshape(-1, d + 1)
        cand = _project(cand, d, R, c, tr)
        v = Q(cand).reshape(6, 36, 6)
        cand = cand.reshape(6, 36, d + 1)
        for j in range(6):
            best[j] = max(best[j], v[j, :, j].max())
            tops[j] = cand[j, v[j, :, j].topk(4).indices]
    if ascent:
        onehot = torch.eye(6, dtype=torch.float64).repeat_interleave(2, 0)           # 2 starts per part
        ya = tops[:, :2].reshape(12, d + 1).clone().requires_grad_(True)
        opt = torch.optim.Adam([ya], lr=0.01)
        for _ in range(ascent):
            opt.zero_grad()
            v = (Q(ya) * onehot).sum(1)
            best = torch.maximum(best, (Q(ya.detach()) * onehot).reshape(6, 2, 6).amax(1).diagonal())
            (-v.sum()).backward()
            opt.step()
            with torch.no_grad():
                ya.copy_(_project(ya, d, R, c, tr))
        tops = torch.cat([tops, ya.detach().reshape(6, 2, d + 1)], 1)
    fine = _quantities(m, d, _directions(d, 3601 if d == 2 else 20000))(tops[3])
    best[3] = max(best[3], fine[:, 3].max())
    return dict(zip(PARTS, best.tolist()))


# ----------------------------------------------------------------------------------------- activations
def _torch_derivs(act, x):
    """σ', σ'' of the nn module itself (autograd), the reference for the closed forms and constants."""
    f = _MOD[act]()
    x = x.clone().requires_grad_(True)
    (d1,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), x)
    return d1.detach(), d2.detach()


@pytest.mark.parametrize("act", SMOOTH)
def test_activation_constants_are_sharp_upper_bounds(act):
    """ACTIVATION_CONSTANTS (c1 = sup|σ'|, c2 = sup|σ''|) are >= the max over a dense grid (4e5 points of
    [-40, 40]) refined by scipy's bounded minimisation around the grid's argmax, and exceed it by < 1e-4."""
    x = torch.linspace(-40, 40, 400_001, dtype=torch.float64)
    d1, d2 = _torch_derivs(act, x)
    for k, d in ((0, d1), (1, d2)):
        i = int(d.abs().argmax())
        lo, hi = float(x[max(i - 1, 0)]), float(x[min(i + 1, len(x) - 1)])

        def neg(v):
            return -float(_torch_derivs(act, torch.tensor([v], dtype=torch.float64))[k].abs())

        res = minimize_scalar(neg, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
        true = max(float(d.abs().max()), -res.fun)
        assert ACTIVATION_CONSTANTS[act][k] >= true
        assert ACTIVATION_CONSTANTS[act][k] - true < 1e-4


def test_activation_constants_known_values():
    """The constants of the brief: SiLU c1 ≈ 1.0998 (x ≈ 2.3994), c2 = 0.5 (x = 0); tanh 1, 4/(3√3);
    GELU c1 ≈ 1.1289, c2 = 2φ_N(0); ReLU c1 = 1 and c2 = inf (σ'' is not a function)."""
    assert ACTIVATION_CONSTANTS["silu"][0] == pytest.approx(1.09984, abs=1e-5)
    x = torch.tensor([2.3993572805154675, 0.0], dtype=torch.float64)
    d1, d2 = _torch_derivs("silu", x)
    assert float(d1[0]) == pytest.approx(1.0998393201, abs=1e-9) and float(d2[1]) == 0.5
    assert ACTIVATION_CONSTANTS["tanh"][1] >= 4 / (3 * math.sqrt(3))
    assert ACTIVATION_CONSTANTS["gelu"][1] >= 2 / math.sqrt(2 * math.pi)
    assert ACTIVATION_CONSTANTS["relu"] == (1.0, math.inf)


@pytest.mark.parametrize("act", SMOOTH + ("relu",))
def test_closed_forms_match_autograd(act):
    """The closed forms of σ, σ', σ'' used by the certificate equal the nn modules' values and autograd
    derivatives (GELU in its exact erf form)."""
    x = torch.linspace(-8, 8, 2001, dtype=torch.float64)
    d1, d2 = _torch_derivs(act, x)
    torch.testing.assert_close(C._act(act, x, 0), _MOD[act]()(x))
    if act == "relu":
        x = x[x.abs() > 1e-9]
        d1 = _torch_derivs(act, x)[0]
        torch.testing.assert_close(C._act(act, x, 1), d1)
        return
    torch.testing.assert_close(C._act(act, x, 1), d1)
    torch.testing.assert_close(C._act(act, x, 2), d2)


@pytest.mark.parametrize("act", SMOOTH + ("relu",))
def test_interval_ranges_contain_and_are_exact(act):
    """On 120 random intervals (widths 1e-3 to 20, many around the critical points), act_range and
    deriv_range contain σ and σ' at 10001 points of each interval, second_deriv_max bounds |σ''| there, and
    all three are exact (within 1e-5 of the sampled extremes): the per-neuron constants of the local bound."""
    g = torch.Generator().manual_seed(7)
    c = torch.randn(120, generator=g, dtype=torch.float64) * 4
    w = 10 ** (torch.rand(120, generator=g, dtype=torch.float64) * 4.3 - 3)
    lo, hi = c - w / 2, c + w / 2
    s = torch.linspace(0, 1, 10001, dtype=torch.float64)
    pts = lo[:, None] + (hi - lo)[:, None] * s[None, :]
    y = C._act(act, pts, 0)
    ylo, yhi = C.act_range(act, lo, hi)
    assert (ylo[:, None] <= y).all() and (y <= yhi[:, None]).all()
    assert (y.min(1).values - ylo).max() < 1e-5 and (yhi - y.max(1).values).max() < 1e-5
    dlo, dhi = C.deriv_range(act, lo, hi)
    if act == "relu":
        assert ((dlo == 1) == (lo > 0)).all() and ((dhi == 0) == (hi < 0)).all()
        c2 = C.second_deriv_max(act, lo, hi)
        assert (torch.isinf(c2) == ((lo <= 0) & (hi >= 0))).all() and (c2[torch.isfinite(c2)] == 0).all()
        return
    d1, d2 = C._act(act, pts, 1), C._act(act, pts, 2)
    assert (dlo[:, None] <= d1).all() and (d1 <= dhi[:, None]).all()
    assert (d1.min(1).values - dlo).max() < 1e-5 and (dhi - d1.max(1).values).max() < 1e-5
    c2 = C.second_deriv_max(act, lo, hi)
    assert (d2.abs() <= c2[:, None]).all() and (c2 - d2.abs().max(1).values).max() < 1e-5


def test_sincos_ranges_contain_and_are_exact():
    """_sincos_range gives ranges of sin and cos on [θ_lo, θ_hi] that contain 5001 samples of each interval
    (including ones spanning extrema and negative θ) and are within 1e-6 of the sampled extremes."""
    g = torch.Generator().manual_seed(3)
    a = torch.randn(400, generator=g, dtype=torch.float64) * 20
    w = 10 ** (torch.rand(400, generator=g, dtype=torch.float64) * 4 - 3)
    lo, hi = a, a + w
    th = lo[:, None] + w[:, None] * torch.linspace(0, 1, 5001, dtype=torch.float64)
    (slo, shi), (clo, chi) = C._sincos_range(lo, hi)
    for f, l, h in ((torch.sin, slo, shi), (torch.cos, clo, chi)):
        v = f(th)
        assert (l[:, None] <= v).all() and (v <= h[:, None]).all()
        assert (v.min(1).values - l).max() < 1e-6 and (h - v.max(1).values).max() < 1e-6


def test_fourier_derivative_norm_identities():
    """|φ'(t)|₂ = 2π|w|₂ and |φ''(t)|₂ = (2π)²(Σ w_i⁴)^{1/2} at every t (each frequency contributes
    ω²(cos² + sin²), resp. ω⁴(sin² + cos²)), checked with torch.func on the model's own embedding; and the
    interval boxes of φ, φ', φ'' on a time bin contain their values at 501 times of the bin."""
    m = make(2, "silu", "fourier", time_dim=16)
    net = C._extract(m)
    w = m.embed.W.double()

    def emb(t):
        return m.embed(t[None])[0]

    ts = torch.linspace(0.01, 3.0, 301, dtype=torch.float64)
    d1 = vmap(jacfwd(emb))(ts)
    d2 = vmap(jacfwd(jacfwd(emb)))(ts)
    n1, n2 = net.phi_norms()
    torch.testing.assert_close(d1.norm(dim=1), torch.full_like(ts, 2 * math.pi * float(w.norm())))
    torch.testing.assert_close(d2.norm(dim=1), torch.full_like(ts, (2 * math.pi) ** 2 * float((w ** 4).sum().sqrt())))
    assert n1 == pytest.approx(2 * math.pi * float(w.norm())) and n2 == pytest.approx(float(d2[0].norm()))
    tb = torch.linspace(0.3, 0.55, 501, dtype=torch.float64)
    boxes = net.phi_boxes(0.3, 0.55)
    for (lo, hi), vals in zip(boxes, (vmap(emb)(tb), vmap(jacfwd(emb))(tb), vmap(jacfwd(jacfwd(emb)))(tb))):
        assert (lo <= vals).all() and (vals <= hi).all()
        for k in range(3):
            torch.testing.assert_close(net.phi(float(tb[k]))[0], vmap(emb)(tb[k:k + 1])[0])


# ----------------------------------------------------------------------------------------- soundness
CASES = [  # (d, activation, embedding, hidden layers, width, seed, weight scale, radius, t_range, center)
    (2, "silu", "fourier", 2, 8, 0, 1.0, 2.0, (0.05, 1.0), None),
    (3, "silu", "raw", 3, 16, 1, 3.0, 1.5, (0.01, 1.0), (0.5, -0.3, 0.2)),
    (2, "tanh", "raw", 3, 32, 2, 1.0, 3.0, (0.1, 2.0), None),
    (3, "tanh", "fourier", 2, 16, 3, 3.0, 1.0, (0.02, 0.5), None),
    (2, "gelu", "fourier", 3, 16, 4, 3.0, 2.0, (0.05, 1.0), (1.0, -1.0)),
    (3, "gelu", "raw", 2, 32, 5, 1.0, 2.5, (0.05, 1.0), None),
    (2, "relu", "fourier", 2, 16, 6, 3.0, 2.0, (0.05, 1.0), None),
    (3, "relu", "raw", 3, 8, 7, 1.0, 1.0, (0.1, 1.0), None),
]


@pytest.fixture(scope="module")
def results():
    """Certificates (n_t_bins = 8 and 1) and brute-force lower estimates for every case in CASES."""
    out, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)  # as the one_thread fixture (function-scoped, so not usable here)
    for case in CASES:
        d, act, emb, layers, width, seed, scale, R, tr, c = case
        m = make(d, act, emb, layers, width, seed, scale)
        out.append((case, certify(m, radius=R, t_range=tr, center=c), certify(m, radius=R, t_range=tr, center=c, n_t_bins=1),
                    brute(m, d, R, tr, c, seed=seed)))
    torch.set_num_threads(threads)
    return out


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[1]}-{c[2]}-d{c[0]}-x{c[6]:g}" for c in CASES])
def test_certificate_dominates_brute_force(results, i):
    """Every part of the certificate, AND each of the two candidate bounds (global spectral, local IBP with 8
    and with 1 time bin), is >= the brute-force max of the exact quantity: a certified upper bound can never
    be below a value attained. Second-derivative parts of ReLU are inf (not C²) and never NaN."""
    case, cert, cert1, bf = results[i]
    for k in PARTS:
        for name, v in [("reported", cert.parts[k]), *cert.candidates.items(), ("1 bin", cert1.parts[k])]:
            v = v if isinstance(v, float) else v[k]
            assert not math.isnan(v)
            assert v >= bf[k], (case, k, name, v, bf[k])
        assert cert.parts[k] == min(cert.candidates["global spectral"][k], cert.candidates["local IBP"][k])
        assert cert.method[k] in ("global spectral", "local IBP")
    if case[1] == "relu":
        for k in PARTS[3:]:
            assert cert.parts[k] == math.inf
        assert any("not C^2" in n for n in cert.notes)
    for k in PARTS[:3] if case[1] == "relu" else PARTS:
        assert math.isfinite(cert.parts[k])


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[1]}-{c[2]}-d{c[0]}" for c in CASES])
def test_local_bound_not_above_global(results, i):
    """The local IBP bound is <= the global spectral bound for every part (per-neuron constants <= global
    ones, and the local recursions are built to dominate term by term), up to 1e-12 relative."""
    _, cert, _, _ = results[i]
    for k in PARTS:
        g, loc = cert.candidates["global spectral"][k], cert.candidates["local IBP"][k]
        assert loc <= g * (1 + 1e-12) or g == math.inf


def test_tightness_tiny_silu_net(capsys):
    """Tightness on a 2-hidden-layer width-8 SiLU net (d = 2, Fourier time): certificate / brute force
    (brute force with 60 steps of gradient ascent), measured: sup|s| 1.81, grad_x 7.05, d_t 5.98, D2_x 9.8,
    d_t grad_x 8.14, d2_t 7.99 (radius 2, t in [0.05, 1], 8 time bins); asserted in [1, 20) so that a looser
    regression, or a brute force that misses the maximum, fails."""
    m = make(2, "silu", "fourier", 2, 8, seed=0)
    cert = certify(m, radius=2.0, t_range=(0.05, 1.0))
    bf = brute(m, 2, 2.0, (0.05, 1.0), ascent=60, seed=11)
    ratios = {k: cert.parts[k] / bf[k] for k in PARTS}
    with capsys.disabled():
        print("\ncertificate / brute force, 2x8 SiLU:", {k: round(v, 2) for k, v in ratios.items()})
    for k in PARTS:
        assert 1.0 <= ratios[k] < 20, (k, ratios[k])


def test_relu_stable_network_has_finite_second_derivatives():
    """A ReLU net whose every pre-activation is positive on the domain (large biases) is affine in x there:
    the local bound proves it (D²_x s and ∂_t∇_x s certified 0), while the global bound stays inf."""
    m = make(2, "relu", "fourier", 2, 8, seed=0)
    with torch.no_grad():
        for lin in list(m.net)[:-1:2]:
            lin.bias.fill_(50.0)
    cert = certify(m, radius=1.0, t_range=(0.1, 0.5))
    assert cert.parts["sup|D2_x s|"] == 0.0 and cert.parts["sup|d_t grad_x s|"] == 0.0
    assert math.isfinite(cert.parts["sup|d2_t s|"]) and cert.candidates["global spectral"]["sup|d2_t s|"] == math.inf
    bf = brute(m, 2, 1.0, (0.1, 0.5), n=300, rounds=3)
    assert cert.parts["sup|d2_t s|"] >= bf["sup|d2_t s|"] > 0


def test_relu_kinks_give_inf_second_derivatives():
    """A ReLU score is not C² where a neuron changes sign: its three second-derivative parts are inf (with a
    note saying why), its first-order parts finite; c2() is then inf and lipschitz finite."""
    m = make(3, "relu", "raw", 3, 16, seed=2)
    cert = certify(m, radius=2.0, t_range=(0.05, 1.0))
    assert all(cert.parts[k] == math.inf for k in PARTS[3:])
    assert all(math.isfinite(cert.parts[k]) for k in PARTS[:3])
    assert cert.c2("full") == math.inf and math.isfinite(cert.lipschitz)
    assert any("not C^2" in n for n in cert.notes)


# ----------------------------------------------------------------------------------------- API
def test_certificate_api_and_sums():
    """Certificate: frozen; lipschitz = sup|grad_x s|; c2 sums space (s, grad_x, D2_x), parabolic (+ d_t)
    and full (all six); a bad kind is a ValueError; radius, centre and time range are recorded."""
    m = make(2, "tanh", "fourier")
    cert = certify(m, radius=1.5, t_range=(0.1, 1.0), center=[0.5, 0.5])
    p = cert.parts
    assert isinstance(cert, Certificate) and cert.activation == "tanh"
    assert cert.lipschitz == p["sup|grad_x s|"]
    assert cert.c2("space") == pytest.approx(p["sup|s|"] + p["sup|grad_x s|"] + p["sup|D2_x s|"])
    assert cert.c2("parabolic") == pytest.approx(cert.c2("space") + p["sup|d_t s|"])
    assert cert.c2() == pytest.approx(sum(p.values())) and set(p) == set(PARTS)
    assert (cert.radius, cert.center, cert.t_range) == (1.5, (0.5, 0.5), (0.1, 1.0))
    with pytest.raises(ValueError, match="kind must be one of"):
        cert.c2("time")
    with pytest.raises(Exception):
        cert.radius = 2.0


def test_wrappers_float32_and_no_side_effects():
    """AveragedModel (EMA) and ScoreModel wrappers are unwrapped and give the same certificate; a float32
    model gives the certificate of its (exactly representable) weights in float64 and is left unchanged."""
    m = make(2, "gelu", "fourier")
    ref = certify(m, radius=1.0, t_range=(0.1, 1.0))
    for wrapped in (torch.optim.swa_utils.AveragedModel(m), ScoreModel(m)):
        assert supports(wrapped)
        assert certify(wrapped, radius=1.0, t_range=(0.1, 1.0)).parts == ref.parts
    m32 = make(2, "gelu", "fourier").float()
    w0 = m32.net[0].weight.clone()
    c32 = certify(m32, radius=1.0, t_range=(0.1, 1.0))
    assert m32.net[0].weight.dtype == torch.float32 and torch.equal(m32.net[0].weight, w0)
    m64 = ScoreMLP(2, 2, 8, "gelu", "fourier", time_dim=4).double()
    m64.load_state_dict({k: v.double() for k, v in m32.state_dict().items()})
    assert c32.parts == certify(m64, radius=1.0, t_range=(0.1, 1.0)).parts


def test_unsupported_models_raise_type_error():
    """Anything but a (wrapped) ScoreMLP of Linear/activation layers is a TypeError naming the type and
    saying certificates are for ScoreMLP only: the U-Net ScoreNet, a NoisePredictionScore (it divides by the
    marginal std), an MLP with an extra layer, GELU's tanh approximation; supports() is False for them."""
    unet = ScoreNet(OrnsteinUhlenbeck(T=1.0), (1, 8, 8), channels=(8, 8, 8), embed_dim=16)
    with pytest.raises(TypeError, match=r"ScoreNet.*|ScoreMLP only"):
        certify(unet, radius=1.0, t_range=(0.1, 1.0))
    with pytest.raises(TypeError, match="ScoreMLP only.*ScoreNet"):
        certify(unet, radius=1.0, t_range=(0.1, 1.0))
    m = make(2, "silu", "fourier")
    bad = [unet, NoisePredictionScore(m, OrnsteinUhlenbeck(T=1.0)), nn.Linear(2, 2)]
    m2 = make(2, "silu", "fourier")
    m2.net.insert(1, nn.LayerNorm(8))
    m3 = make(2, "gelu", "fourier")
    m3.net[1] = nn.GELU(approximate="tanh")
    m4 = make(2, "silu", "fourier")
    m4.net[3] = nn.Tanh()
    for b in bad + [m2, m3, m4]:
        assert not supports(b)
        with pytest.raises(TypeError, match="ScoreMLP only"):
            certify(b, radius=1.0, t_range=(0.1, 1.0))
    assert supports(m)


@pytest.mark.parametrize("kwargs, match", [
    ({"radius": 0.0}, "radius"), ({"radius": -1.0}, "radius"), ({"radius": math.inf}, "radius"),
    ({"radius": math.nan}, "radius"), ({"radius": True}, "radius"),
    ({"t_range": (0.0, 1.0)}, "t_range"), ({"t_range": (0.5, 0.5)}, "t_range"), ({"t_range": (1.0, 0.5)}, "t_range"),
    ({"t_range": (0.1, math.inf)}, "t_range"), ({"t_range": "ab"}, "t_range"), ({"t_range": (0.1,)}, "t_range"),
    ({"n_t_bins": 0}, "n_t_bins"), ({"n_t_bins": 1.5}, "n_t_bins"), ({"n_t_bins": True}, "n_t_bins"),
    ({"center": (0.0, 0.0, 0.0)}, "center"), ({"center": (0.0, math.nan)}, "center"),
])
def test_invalid_arguments(kwargs, match):
    """Invalid radius / t_range / n_t_bins / center are ValueErrors naming the parameter and allowed range."""
    args = {"radius": 1.0, "t_range": (0.1, 1.0)} | kwargs
    with pytest.raises(ValueError, match=match):
        certify(make(2, "silu", "raw"), **args)
