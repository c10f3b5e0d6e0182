"""Exact W1 (POT network simplex through scoreuq.metrics.wasserstein) for 2,000 and 5,000 2-D points,
against POT called directly on the same data in the same run (the wrapper's overhead).

    python benchmarks/bench_exact_w1.py
"""
import time

import numpy as np
import ot
import torch

from scoreuq.metrics import wasserstein


def main():
    g = torch.Generator().manual_seed(0)
    print("exact W1, 2-D Gaussian clouds (N(0,I) vs N((1,0), I)), float64")
    for n in (2000, 5000):
        a = torch.randn(n, 2, generator=g, dtype=torch.float64)
        b = torch.randn(n, 2, generator=g, dtype=torch.float64) + torch.tensor([1.0, 0.0], dtype=torch.float64)
        t0 = time.perf_counter()
        w = wasserstein(a, b)
        t_ours = time.perf_counter() - t0
        A, B = a.numpy(), b.numpy()
        t0 = time.perf_counter()
        M = ot.dist(A, B, metric="euclidean")
        ref = ot.emd2(np.full(n, 1 / n), np.full(n, 1 / n), M, numItermax=10_000_000)
        t_pot = time.perf_counter() - t0
        print(f"  n={n}: scoreuq {t_ours:6.2f} s (W1={w:.5f})   bare POT {t_pot:6.2f} s (W1={float(ref):.5f})   ratio {t_ours / t_pot:.2f}")


if __name__ == "__main__":
    main()
