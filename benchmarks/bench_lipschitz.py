"""Lanczos (power-iteration) Lipschitz estimate (Jacobian-vector products by the double-backward trick and
vector-Jacobian products on one autograd graph, never forming the Jacobian) against the full
Jacobian + SVD (torch.func.jacrev + vmap, then matrix 2-norm) for a 784-dimensional score
model on the same points, in the same run. Reports the speed ratio and the largest relative error.

    python benchmarks/bench_lipschitz.py [--points 16] [--model mlp|scorenet]
"""
import argparse
import time

import torch

from scoreuq.bounds import spectral_norms, spectral_norms_exact
from scoreuq.nets import ScoreMLP, ScoreNet
from scoreuq.processes import OrnsteinUhlenbeck


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=16)
    ap.add_argument("--model", choices=["mlp", "scorenet"], default="mlp")
    ap.add_argument("--iters", type=int, default=30, help="at most this many Lanczos iterations (stops at --tol)")
    ap.add_argument("--tol", type=float, default=1e-3, help="relative change of every point's estimate at which Lanczos stops")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(0)
    ou = OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=2**0.5, T=1.0)
    if a.model == "mlp":
        model = ScoreMLP(784, 3, 512, activation="silu").eval()
        x = torch.randn(a.points, 784)
    else:
        model = ScoreNet(ou, (1, 28, 28), channels=(16, 32, 64), embed_dim=64).eval()
        x = torch.randn(a.points, 1, 28, 28)
    t = torch.linspace(0.05, 1.0, a.points)
    spectral_norms(model, x, t, n_iter=a.iters, tol=a.tol, generator=torch.Generator().manual_seed(0))  # warm-up (allocator,
    spectral_norms_exact(model, x, t)  # oneDNN kernels): the first call of either is not what a user pays per call
    ours, ref = [], []
    for _ in range(a.rounds):  # interleaved rounds
        t0 = time.perf_counter()
        est = spectral_norms(model, x, t, n_iter=a.iters, tol=a.tol, generator=torch.Generator().manual_seed(0))
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        exact = spectral_norms_exact(model, x, t)
        ref.append(time.perf_counter() - t0)
    err = float(((est - exact).abs() / exact).max())
    err_max = abs(float(est.max()) - float(exact.max())) / float(exact.max())
    ratios = sorted(r / o for r, o in zip(ref, ours))
    print(f"{a.model}, d = 784, {a.points} points, {torch.get_num_threads()} threads, Golub-Kahan-Lanczos (power iteration refined) "
          f"<= {a.iters} its, tol {a.tol:g}")
    print(f"Lanczos: median {sorted(ours)[len(ours) // 2] * 1e3:.1f} ms; full Jacobian + SVD: median {sorted(ref)[len(ref) // 2] * 1e3:.1f} ms")
    print(f"speed-up (median of {a.rounds} interleaved ratios): {ratios[len(ratios) // 2]:.1f}x, worst round {ratios[0]:.1f}x   (target >= 20x)")
    print(f"largest relative error per point: {err:.2e}; error of the maximum (the Lipschitz estimate): {err_max:.2e}   (target <= 1%)")


if __name__ == "__main__":
    main()
