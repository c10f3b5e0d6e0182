"""Trainer throughput against a bare hand-written torch loop doing the same work
(same model, data, batch, DSM loss, Adam, EMA), in the same run.

    python benchmarks/bench_training.py [--epochs 5] [--width 256]
"""
import argparse
import math

import torch
from _timing import interleaved, median_ratio

from scoreuq.nets import ScoreMLP
from scoreuq.processes import OrnsteinUhlenbeck
from scoreuq.training import TrainConfig, Trainer


def bare_loop(model, proc, data, epochs, batch, lr, decay, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ema = [p.detach().clone() for p in model.parameters()]
    n = data.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch):
            x0 = data[perm[i : i + batch]]
            t = 1e-3 + (proc.T - 1e-3) * torch.rand(x0.shape[0], generator=g)
            a = torch.exp(-proc.beta * t)[:, None]
            s = torch.sqrt(-torch.expm1(-2 * proc.beta * t))[:, None]
            z = torch.randn(x0.shape, generator=g)
            xt = a * x0 + s * z
            loss = ((model(xt, t) * s + z) ** 2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                torch._foreach_lerp_(ema, [p.detach() for p in model.parameters()], 1 - decay)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    proc = OrnsteinUhlenbeck(beta=1.0, sigma=math.sqrt(2.0), T=1.0)
    data = torch.randn(args.n, 2, generator=torch.Generator().manual_seed(0))

    def bare():
        torch.manual_seed(0)
        bare_loop(ScoreMLP(2, 3, args.width), proc, data, args.epochs, args.batch, 1e-3, 0.999, 0)

    def trainer():
        torch.manual_seed(0)
        cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch, lr=1e-3, ema_decay=0.999, checkpoint_every=10**6)
        Trainer(ScoreMLP(2, 3, args.width), proc, data, cfg).fit()

    res = interleaved({"bare": bare, "trainer": trainer}, args.repeats, warmup=False)
    med, lo, hi = median_ratio(res, "trainer", "bare")
    sps = {k: args.epochs * args.n / res[k]["median"] for k in res}
    print(f"DSM training, ScoreMLP(2, 3x{args.width}), {args.n} points, batch {args.batch}, {args.epochs} epochs, threads={torch.get_num_threads()}")
    print(f"  bare torch loop: {sps['bare']:10.0f} samples/s (median of {args.repeats})")
    print(f"  scoreuq Trainer: {sps['trainer']:10.0f} samples/s")
    print(f"  Trainer overhead: median {100 * (med - 1):+.1f}% (per-round range {100 * (lo - 1):+.1f}% .. {100 * (hi - 1):+.1f}%)")

if __name__ == "__main__":
    main()
