"""Predictor-corrector wall time against the bare time of the network evaluations it performs
(2 per step with one corrector step), same model and shapes, same run.

    python benchmarks/bench_pc_sampler.py [--steps 500] [--n 2000]
"""
import argparse
import statistics
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
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = ScoreMLP(2, 3, args.width).eval()
    proc = VPSDE()
    x = torch.randn(args.n, 2)
    ratios, pcs, bares = [], [], []
    for _ in range(args.repeats):  # interleaved, so that machine noise hits both alike
        t0 = time.perf_counter()
        predictor_corrector(model, proc, (args.n, 2), steps=args.steps, generator=torch.Generator().manual_seed(0))
        pcs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with torch.no_grad():
            for k in range(2 * args.steps):
                model(x, torch.full((args.n,), 0.5))
        bares.append(time.perf_counter() - t0)
        ratios.append(pcs[-1] / bares[-1])
    print(f"predictor-corrector, ScoreMLP(2, 3x{args.width}), n={args.n}, {args.steps} steps (2 network calls each), threads={torch.get_num_threads()}")
    print(f"  sampler wall time        : median {statistics.median(pcs):7.3f} s over {args.repeats} runs")
    print(f"  bare network evaluations : median {statistics.median(bares):7.3f} s")
    print(f"  sampler overhead         : median {100 * (statistics.median(ratios) - 1):+.1f}% (per-run range {100 * (min(ratios) - 1):+.1f}% .. {100 * (max(ratios) - 1):+.1f}%)")


if __name__ == "__main__":
    main()
