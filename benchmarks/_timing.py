"""Timing shared by the benchmarks: contenders run interleaved, so that machine noise
(2 shared cores) hits each alike; report medians and the median of per-round ratios."""
import statistics
import time

import torch


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def interleaved(fns: dict, repeats: int, warmup: bool = True) -> dict:
    """Run every ``fns[name]()`` once per round for ``repeats`` rounds; returns
    ``{name: {"times": [...], "median": s, "last": last return value}}``."""
    if warmup:
        for fn in fns.values():
            fn()
        _sync()
    out = {name: {"times": [], "last": None} for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            out[name]["last"] = fn()
            _sync()
            out[name]["times"].append(time.perf_counter() - t0)
    for rec in out.values():
        rec["median"] = statistics.median(rec["times"])
    return out


def median_ratio(res: dict, num: str, den: str) -> tuple[float, float, float]:
    """Median, min and max over rounds of ``time[num] / time[den]``."""
    r = [a / b for a, b in zip(res[num]["times"], res[den]["times"])]
    return statistics.median(r), min(r), max(r)
