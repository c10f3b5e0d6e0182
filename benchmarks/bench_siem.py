"""SIEM's cost against the Fréchet distance it would stand in for (seed 004).

On 8x8 digits with a freshly initialised ScoreNet (the cost does not depend on training):
- SIEM (first 10%): the first 10% of the predictor-corrector steps with a SIEMRecorder attached,
  plus the recorder's result against the held-out images;
- Fréchet: the whole sampling run, then the Fréchet distance on the small feature classifier;
- the recorder's own overhead: a whole sampling run with the recorder against one without.
Prints medians over interleaved rounds and the ratios.
"""
import argparse
import math

import torch

from _timing import interleaved, median_ratio
from scoreuq import data, metrics, nets, processes, sampling
from scoreuq.metrics import SIEMRecorder


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ds = data.load_digits()
    x, y = ds.images, ds.labels
    test = x[:400]
    clf, _ = metrics.train_feature_classifier(x[400:], y[400:], epochs=2, seed=0)
    ou = processes.OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=2 ** 0.5, T=5.0)
    torch.manual_seed(0)
    net = nets.ScoreNet(ou, image_shape=(1, 8, 8), channels=(16, 32, 64), embed_dim=64).eval()

    def score(z, t):
        with torch.no_grad():
            return net(z, t)

    shape = (a.n, 1, 8, 8)
    k_win = math.ceil(0.1 * a.steps)

    class Stop(Exception):
        pass

    def siem_window():
        rec = SIEMRecorder(reference=test, process=ou)

        def cb(k, t, z, noise):
            rec(k, t, z, noise)
            if k == k_win:
                raise Stop

        try:
            sampling.predictor_corrector(score, ou, shape, steps=a.steps, generator=torch.Generator().manual_seed(0), callback=cb)
        except Stop:
            pass
        return rec.result(window=1.0).value  # the recorder saw exactly the first 10%

    def frechet():
        z = sampling.predictor_corrector(score, ou, shape, steps=a.steps, generator=torch.Generator().manual_seed(0))
        return metrics.frechet_distance(test, z, clf)

    def plain():
        return sampling.predictor_corrector(score, ou, shape, steps=a.steps, generator=torch.Generator().manual_seed(0))

    def recorded():
        rec = SIEMRecorder(reference=test, process=ou)
        z = sampling.predictor_corrector(score, ou, shape, steps=a.steps, generator=torch.Generator().manual_seed(0), callback=rec)
        rec.result(window=0.1)
        return z

    res = interleaved({"siem_window": siem_window, "frechet": frechet, "plain": plain, "recorded": recorded}, a.repeats)
    for k, v in res.items():
        print(f"{k:<12} median {v['median']:.3f} s")
    r, lo, hi = median_ratio(res, "siem_window", "frechet")
    print(f"SIEM (first 10%) / Fréchet (whole run + distance): {r:.3f} (rounds {lo:.3f}-{hi:.3f})")
    r, lo, hi = median_ratio(res, "recorded", "plain")
    print(f"sampling with the recorder / without: {r:.3f} (rounds {lo:.3f}-{hi:.3f}); n={a.n}, steps={a.steps}, d=64")


if __name__ == "__main__":
    main()
