"""Debiased Sinkhorn divergence (p=1, scoreuq.metrics.sinkhorn) against exact W1 (POT emd2), same data,
same process: relative error of S_eps vs exact W1, and the speed ratio time(Sinkhorn) / time(emd2).

    python benchmarks/bench_sinkhorn.py [--ns 500 1000 2000] [--dims 2 64] [--blurs 0.1 0.03] [--tol 1e-4]

Data: x ~ N(0, I_d), y ~ N(0.5 e_1, diag(1.2^2, 1, ..., 1)), float64. ``blur`` is given relative to
the median pairwise distance between the two clouds (eps = blur * median |x - y|, p = 1 cost units).
Single runs (the Sinkhorn run is long); times are wall-clock on this machine, compare the ratios.
"""
import argparse
import time

import numpy as np
import ot
import torch

from scoreuq.metrics.sinkhorn import sinkhorn_divergence


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", type=int, nargs="+", default=[500, 1000, 2000])
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 64])
    ap.add_argument("--blurs", type=float, nargs="+", default=[0.1, 0.03, 0.01])
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--max-iter", type=int, default=20_000)
    args = ap.parse_args()
    print(f"Sinkhorn divergence (p=1) vs exact W1, torch threads={torch.get_num_threads()}, tol={args.tol:g}")
    print(f"{'d':>3} {'n':>5} {'W1 exact':>9} {'emd2 s':>7} | {'blur/med':>8} {'eps':>7} {'S_eps':>9} {'rel.err':>8} {'time s':>7} {'ratio':>6}")
    for d in args.dims:
        for n in args.ns:
            g = torch.Generator().manual_seed(n + d)
            x = torch.randn(n, d, generator=g, dtype=torch.float64)
            y = torch.randn(n, d, generator=g, dtype=torch.float64)
            y[:, 0] = 1.2 * y[:, 0] + 0.5
            X, Y = x.numpy(), y.numpy()
            t0 = time.perf_counter()
            M = ot.dist(X, Y, metric="euclidean")
            w1 = float(ot.emd2(np.full(n, 1 / n), np.full(n, 1 / n), M, numItermax=10_000_000))
            t_emd = time.perf_counter() - t0
            med = float(np.median(M))
            for r in args.blurs:
                eps = r * med
                t0 = time.perf_counter()
                try:
                    s = sinkhorn_divergence(x, y, blur=eps, p=1, tol=args.tol, max_iter=args.max_iter)
                except RuntimeError as exc:  # ConvergenceError
                    print(f"{d:>3} {n:>5} {w1:9.4f} {t_emd:7.2f} | {r:8.3f} {eps:7.4f}  did not converge: {exc}")
                    continue
                t_sk = time.perf_counter() - t0
                print(f"{d:>3} {n:>5} {w1:9.4f} {t_emd:7.2f} | {r:8.3f} {eps:7.4f} {s:9.4f} {abs(s - w1) / w1:8.3f} {t_sk:7.2f} {t_sk / t_emd:6.2f}")


if __name__ == "__main__":
    main()
