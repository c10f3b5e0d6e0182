"""Predictor-corrector wall time against the bare time of the network evaluations it performs
(2 per step with one corrector step), same model and shapes, same run. The wall-time ratio is
noisy on 2 shared cores; the sampler's own work, timed with a zero-cost score, is the stable figure.

    python benchmarks/bench_pc_sampler.py [--steps 500] [--n 2000]
"""
import argparse

import torch
from _timing import interleaved, median_ratio

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
    t_half = torch.full((args.n,), 0.5)

    def bare():
        with torch.no_grad():
            for _ in range(2 * args.steps):
                model(x, t_half)

    def pc(score):
        return lambda: predictor_corrector(score, proc, (args.n, 2), steps=args.steps, generator=torch.Generator().manual_seed(0))

    res = interleaved(
        {
            "pc": pc(model),
            "bare": bare,
            # the sampler's own work alone: the same sampler with a zero-cost score
            "pc_free": pc(lambda y, t: -y),
        },
        args.repeats,
        warmup=False,
    )
    med, lo, hi = median_ratio(res, "pc", "bare")
    print(f"predictor-corrector, ScoreMLP(2, 3x{args.width}), n={args.n}, {args.steps} steps (2 network calls each), threads={torch.get_num_threads()}")
    print(f"  sampler wall time        : median {res['pc']['median']:7.3f} s over {args.repeats} rounds")
    print(f"  bare network evaluations : median {res['bare']['median']:7.3f} s")
    print(f"  sampler's own work       : median {res['pc_free']['median']:7.3f} s (zero-cost score) = {100 * res['pc_free']['median'] / res['bare']['median']:.1f}% of the network time  <- the stable figure")
    print(f"  wall-time overhead       : median {100 * (med - 1):+.1f}% (per-round range {100 * (lo - 1):+.1f}% .. {100 * (hi - 1):+.1f}%)")


if __name__ == "__main__":
    main()
