"""Predictor-corrector wall time against the bare time of the network evaluations it performs
(2 per step with one corrector step), same model and shapes, same run.

    python benchmarks/bench_pc_sampler.py [--steps 500] [--n 2000]
"""
import argparse
import time

import torch

from scoreuq.nets import ScoreMLP
from scoreuq.processes import VPSDE
from scoreuq.sampling import predictor_corrector


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--width", type=int, default=256)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = ScoreMLP(2, 3, args.width).eval()
    proc = VPSDE()
    x = torch.randn(args.n, 2)
    best_pc = best_bare = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        predictor_corrector(model, proc, (args.n, 2), steps=args.steps, generator=torch.Generator().manual_seed(0))
        best_pc = min(best_pc, time.perf_counter() - t0)
        t0 = time.perf_counter()
        with torch.no_grad():
            for k in range(2 * args.steps):
                model(x, torch.full((args.n,), 0.5))
        best_bare = min(best_bare, time.perf_counter() - t0)
    print(f"predictor-corrector, ScoreMLP(2, 3x{args.width}), n={args.n}, {args.steps} steps (2 network calls each), threads={torch.get_num_threads()}")
    print(f"  sampler wall time        : {best_pc:7.3f} s")
    print(f"  bare network evaluations : {best_bare:7.3f} s")
    print(f"  sampler overhead         : {100 * (best_pc / best_bare - 1):+.1f}%")


if __name__ == "__main__":
    main()
