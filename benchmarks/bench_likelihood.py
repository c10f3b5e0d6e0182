"""NLL through the probability-flow ODE in 64-D: Hutchinson divergence (1 Rademacher probe)
against the exact Jacobian trace (64 vector-Jacobian products per evaluation), same points,
same solver, same run. Reports the time per 1,000 points, the speed ratio, and the accuracy of
both against the closed-form -log p_{t_min} of the model (the exact score of a Gaussian with a
non-identity covariance under OU, T = 12), so the accuracy cost of the speed is visible.

    python benchmarks/bench_likelihood.py [--n 1000] [--rounds 3] [--threads 1]
"""
import argparse
import math

import torch
from _timing import interleaved, median_ratio

from scoreuq.data import GaussianMixture
from scoreuq.likelihood import nll
from scoreuq.processes import OrnsteinUhlenbeck


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: leave torch's default)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    g = torch.Generator().manual_seed(11)
    d = a.dim
    A = torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d)
    cov = 0.5 * (A @ A.T) + 0.1 * torch.eye(d, dtype=torch.float64)
    gm = GaussianMixture(0.3 * torch.randn(1, d, generator=g, dtype=torch.float64), covariances=cov[None])
    ou = OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=math.sqrt(2.0), T=12.0)
    x = gm.sample(a.n, generator=g, dtype=torch.float64)
    ref = -gm.marginal_log_prob(x, 1e-5, ou)
    score = gm.score_fn(ou)

    def run(div):
        return lambda: nll(score, ou, x, rtol=a.rtol, atol=a.rtol, divergence=div, n_probes=1,
                           generator=torch.Generator().manual_seed(0))

    res = interleaved({"hutchinson": run("hutchinson"), "exact": run("exact")}, a.rounds, warmup=False)
    med, lo, hi = median_ratio(res, "exact", "hutchinson")
    per_k = {k: res[k]["median"] * 1000 / a.n for k in res}
    h, e = res["hutchinson"]["last"], res["exact"]["last"]
    err_h, err_e = h.values - ref, e.values - ref
    dh = h.values - e.values
    print(f"NLL via probability-flow ODE, d = {d}, n = {a.n}, float64, torch Dormand-Prince rtol = atol = {a.rtol:g}, "
          f"threads = {torch.get_num_threads()}, {a.rounds} interleaved rounds")
    print(f"  exact trace        : {per_k['exact']:7.3f} s per 1,000 points (nfe {e.nfe})")
    print(f"  Hutchinson 1 probe : {per_k['hutchinson']:7.3f} s per 1,000 points (nfe {h.nfe})")
    print(f"  speed-up of Hutchinson over exact (median of per-round ratios): {med:.1f}x (range {lo:.1f}x .. {hi:.1f}x)")
    print(f"  mean NLL: closed form {float(ref.mean()):.4f}; exact trace {e.mean:.4f}; Hutchinson {h.mean:.4f} "
          f"(95% CI [{h.ci[0]:.4f}, {h.ci[1]:.4f}])")
    print(f"  exact trace vs closed form: max |err| {float(err_e.abs().max()):.2e}, mean err {float(err_e.mean()):+.2e} nats")
    print(f"  Hutchinson vs closed form : per-point sd {float(err_h.std()):.3f} nats, max |err| {float(err_h.abs().max()):.2f}, "
          f"mean err {float(err_h.mean()):+.4f} +- {1.96 * float(dh.std()) / math.sqrt(a.n):.4f} (95%) nats")


if __name__ == "__main__":
    main()
