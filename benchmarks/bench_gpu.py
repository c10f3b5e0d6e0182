"""The Trainer's GPU fast path against a bare eager fp32 loop of the same model, data and batch.

    python benchmarks/bench_gpu.py [--steps 300] [--size 28] [--batch 128] [--no-compile] [--seeds 3]

Both train the ScoreNet U-Net (channels 32/64/128) with the DSM loss (VP SDE, sigma2 weighting),
Adam and an EMA, on synthetic images held on the GPU. The fast path is the Trainer with
``amp="bf16"``, ``tf32=True``, ``channels_last=True``, ``compile=True`` (unless ``--no-compile``)
and ``log_every`` = the whole run; the reference is a hand-written loop in strict fp32 (TF32 off
for matmuls *and* cuDNN convolutions), without ``.item()`` in the loop. Printed: images/s of each
(median of interleaved rounds, after a warm-up that includes compilation), their ratio (goal >= 2x),
and the accuracy check: the fp32 DSM loss, on a fixed evaluation set with fixed noise, of the
model trained by the fast path beside that of the fp32 loop trained with ``--seeds`` seeds
(the seed spread). No time is asserted.

Without a GPU it says so and runs a tiny CPU version (8x8, few steps, no compile), labelled as
such: a smoke run of the code path, not a GPU figure.
"""
import argparse
import dataclasses
import math
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved, median_ratio  # noqa: E402

from scoreuq.nets import ScoreNet  # noqa: E402
from scoreuq.processes import VPSDE  # noqa: E402
from scoreuq.training import TrainConfig, Trainer  # noqa: E402

T_MIN, LR, DECAY = 1e-3, 1e-3, 0.999


def make_data(n, size, device):
    """Synthetic images: 10 smooth prototypes in [-1, 1] plus a little noise."""
    g = torch.Generator().manual_seed(0)
    proto = torch.nn.functional.interpolate(torch.randn(10, 1, max(2, size // 4), max(2, size // 4), generator=g), size=(size, size),
                                            mode="bilinear", align_corners=False).tanh()
    idx = torch.randint(10, (n,), generator=g)
    return (proto[idx] + 0.1 * torch.randn(n, 1, size, size, generator=g)).to(device)


def make_model(proc, size, device, seed):
    torch.manual_seed(seed)
    return ScoreNet(proc, (1, size, size)).to(device)


def dsm(model, proc, x0, g):
    """DSM with sigma2 weighting written out: lambda = s(t)^2, so the term is ||s * score + z||^2."""
    t = T_MIN + (proc.T - T_MIN) * torch.rand(x0.shape[0], generator=g, device=x0.device)
    a = torch.exp(proc._log_mean_coeff(t))[:, None, None, None]
    s = proc.marginal_std(t)[:, None, None, None]
    z = torch.randn(x0.shape, generator=g, device=x0.device)
    return ((model(a * x0 + s * z, t) * s + z) ** 2).flatten(1).sum(1).mean()


class BareLoop:
    """An eager fp32 loop: Adam, EMA (foreach lerp), device-side loss sum, no host sync inside."""

    def __init__(self, model, proc, data, batch, seed):
        self.model, self.proc, self.data, self.batch = model, proc, data, batch
        self.g = torch.Generator(device=data.device).manual_seed(seed)
        self.opt = torch.optim.Adam(model.parameters(), lr=LR)
        self.ema = [p.detach().clone() for p in model.parameters()]

    def run(self, steps):
        flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # strict fp32
        try:
            n, done, total = self.data.shape[0], 0, torch.zeros((), device=self.data.device)
            while done < steps:
                perm = torch.randperm(n, generator=self.g, device=self.data.device)
                for i in range(0, n - self.batch + 1, self.batch):
                    loss = dsm(self.model, self.proc, self.data[perm[i : i + self.batch]], self.g)
                    self.opt.zero_grad(set_to_none=True)
                    loss.backward()
                    self.opt.step()
                    with torch.no_grad():
                        torch._foreach_lerp_(self.ema, [p.detach() for p in self.model.parameters()], 1 - DECAY)
                    total += loss.detach()
                    done += 1
                    if done == steps:
                        break
            return total
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags


def fast_trainer(proc, data, size, batch, steps_per_epoch, compile_, seed):
    cfg = TrainConfig(epochs=1, batch_size=batch, lr=LR, seed=seed, ema_decay=DECAY, checkpoint_every=10**9,
                      objective="dsm", weighting="sigma2", t_min=T_MIN, amp="bf16", tf32=True, channels_last=True,
                      compile=compile_, log_every=10**9)
    return Trainer(make_model(proc, size, data.device, seed), proc, data, cfg)


def run_trainer(tr, epochs):
    tr.config = dataclasses.replace(tr.config, epochs=tr.epoch + epochs)
    tr.fit(resume=False)


@torch.no_grad()
def eval_loss(model, proc, data):
    """The fp32 DSM loss on a fixed evaluation set with fixed times and noise (the same for every model)."""
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        model = model.eval()
        g = torch.Generator(device=data.device).manual_seed(12345)
        vals = [dsm(model, proc, data[i : i + 256].contiguous(), g) for i in range(0, data.shape[0], 256)]
        return float(torch.stack(vals).mean())
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags
        model.train()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=None, help="optimisation steps per timed run (default 300 on a GPU, 4 on a CPU)")
    ap.add_argument("--size", type=int, default=None, choices=(8, 28), help="image side (default 28 on a GPU, 8 on a CPU)")
    ap.add_argument("--batch", type=int, default=None, help="batch size (default 128 on a GPU, 32 on a CPU)")
    ap.add_argument("--repeats", type=int, default=None, help="timed rounds (default 3 on a GPU, 2 on a CPU)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds of the fp32 loop for the loss spread (default 3 on a GPU, 2 on a CPU)")
    ap.add_argument("--no-compile", action="store_true", help="fast path without torch.compile")
    args = ap.parse_args()

    gpu = torch.cuda.is_available()
    args.repeats = args.repeats or (3 if gpu else 2)
    args.seeds = args.seeds or (3 if gpu else 2)
    if gpu:
        device = torch.device("cuda")
        steps, size, batch = args.steps or 300, args.size or 28, args.batch or 128
        compile_ = not args.no_compile
        print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    else:
        device = torch.device("cpu")
        steps, size, batch = args.steps or 4, args.size or 8, args.batch or 32
        compile_ = False
        print("NO GPU FOUND (torch.cuda.is_available() is False).")
        print(f"Running a tiny CPU smoke version instead ({size}x{size}, {steps} steps, batch {batch}, no compile):")
        print("  THESE ARE CPU FIGURES, NOT A GPU MEASUREMENT; bf16 autocast on a CPU is usually slower than fp32.")
    steps_per_epoch = min(16, steps)
    epochs = max(1, math.ceil(steps / steps_per_epoch))
    steps = epochs * steps_per_epoch
    proc = VPSDE()
    data = make_data(steps_per_epoch * batch, size, device)
    held_out = make_data(1024 if gpu else 128, size, device)

    bare = BareLoop(make_model(proc, size, device, 0), proc, data, batch, 0)
    tr = fast_trainer(proc, data, size, batch, steps_per_epoch, compile_, 0)
    res = interleaved({"fp32 loop": lambda: bare.run(steps), "fast path": lambda: run_trainer(tr, epochs)}, args.repeats, warmup=True)
    med, lo, hi = median_ratio(res, "fp32 loop", "fast path")
    ips = {k: steps * batch / res[k]["median"] for k in res}
    label = "GPU" if gpu else "CPU smoke run, not a GPU figure"
    print(f"DSM training, ScoreNet(1x{size}x{size}, channels 32/64/128), batch {batch}, {steps} steps per run [{label}]")
    print(f"  fp32 eager loop (TF32 off):        {ips['fp32 loop']:10.0f} images/s (median of {args.repeats})")
    print(f"  Trainer fast path (bf16, TF32, channels_last, compile={compile_}, log_every=all): {ips['fast path']:10.0f} images/s")
    print(f"  speed-up: median {med:.2f}x (per-round range {lo:.2f}x .. {hi:.2f}x); goal >= 2x on a GPU")

    # accuracy: the same number of steps from fresh models; fp32 loop with several seeds for the spread
    acc_steps = steps
    tr = fast_trainer(proc, data, size, batch, steps_per_epoch, compile_, 0)
    run_trainer(tr, epochs)
    fast_loss = eval_loss(tr.model, proc, held_out)
    ref = []
    for seed in range(args.seeds):
        b = BareLoop(make_model(proc, size, device, seed), proc, data, batch, seed)
        b.run(acc_steps)
        ref.append(eval_loss(b.model, proc, held_out))
    mean, sd = statistics.mean(ref), (statistics.stdev(ref) if len(ref) > 1 else float("nan"))
    print(f"  fp32 DSM loss on held-out images after {acc_steps} steps (fixed noise):")
    print(f"    fast path (seed 0):   {fast_loss:.4f}   (last training epoch: {tr.history.loss[-1]:.4f})")
    print(f"    fp32 loop, {len(ref)} seeds:  {', '.join(f'{v:.4f}' for v in ref)}  (mean {mean:.4f}, sd {sd:.4f},"
          f" range {min(ref):.4f} .. {max(ref):.4f})")
    z = (fast_loss - mean) / sd if sd > 0 else float("nan")
    print(f"    fast path - fp32 mean = {fast_loss - mean:+.4f} ({z:+.1f} seed sd)")


if __name__ == "__main__":
    main()
