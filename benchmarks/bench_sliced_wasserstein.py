"""Sliced Wasserstein: scoreuq (torch) against POT's ot.sliced_wasserstein_distance, same run, same directions.

    python benchmarks/bench_sliced_wasserstein.py [--n 10000] [--d 784] [--L 100] [--device cpu]
Prints the median time of each over repeats, the speed ratio, and the two values.
"""
import argparse

import ot
import torch
from _timing import interleaved, median_ratio

from scoreuq.metrics import random_directions, sliced_wasserstein


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--d", type=int, default=784)
    ap.add_argument("--L", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    a = torch.rand(args.n, args.d, generator=g)
    b = torch.rand(args.n, args.d, generator=g) ** 1.3
    th = random_directions(args.d, args.L, generator=g)
    A, B, TH = a.numpy(), b.numpy(), th.numpy()
    ad, bd, thd = a.to(args.device), b.to(args.device), th.to(args.device)
    res = interleaved(
        {
            "ours": lambda: sliced_wasserstein(ad, bd, projections=thd),
            "pot": lambda: ot.sliced_wasserstein_distance(A, B, projections=TH, p=1),
        },
        args.repeats,
    )
    (t_ours, v_ours), (t_pot, v_pot) = ((res[k]["median"], res[k]["last"]) for k in ("ours", "pot"))
    speedup = median_ratio(res, "pot", "ours")
    print(f"sliced W1, {args.n}x{args.d} vs {args.n}x{args.d} float32, {args.L} projections, torch threads={torch.get_num_threads()}, device={args.device}")
    print(f"  scoreuq : {t_ours * 1e3:8.1f} ms   value {v_ours:.6f}")
    print(f"  POT     : {t_pot * 1e3:8.1f} ms   value {float(v_pot):.6f}")
    v64 = sliced_wasserstein(a.double(), b.double(), projections=th.double())
    print(f"  float64 : value {v64:.6f} (scoreuq rel. error {abs(v_ours - v64) / v64:.1e}, POT {abs(float(v_pot) - v64) / v64:.1e})")
    print(f"  speed-up: median {speedup[0]:.2f}x (rounds {speedup[1]:.2f}x .. {speedup[2]:.2f}x)   relative difference of values {abs(v_ours - float(v_pot)) / float(v_pot):.2e}")


if __name__ == "__main__":
    main()
