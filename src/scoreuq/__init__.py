"""scoreuq: uncertainty quantification for score-based generative models.

    import scoreuq as su
    ou = su.processes.OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=2 ** 0.5)
    gm = su.data.GaussianMixture([[-4.0, 0.0], [4.0, 0.0]], 0.5, weights=[0.1, 0.9])
    x = su.sampling.euler_maruyama(gm.score_fn(ou), ou, (1000, 2), steps=500)

The subpackages load on first use (PEP 562), so ``import scoreuq`` and ``scoreuq --help`` cost
almost nothing; a subpackage loads torch and numpy only (no matplotlib, Dask, POT or scipy.stats),
except ``scoreuq.experiments``, which loads scipy.stats.
"""
from __future__ import annotations

import importlib

from ._version import __version__

_SUBMODULES = ("bounds", "data", "experiments", "likelihood", "losses", "metrics", "nets", "processes", "runs", "sampling",
               "studies", "training", "advise")
_FROM_PROCESSES = ("ForwardProcess", "OrnsteinUhlenbeck", "VPSDE", "VESDE")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _FROM_PROCESSES:
        return getattr(importlib.import_module(".processes", __name__), name)
    raise AttributeError(f"module 'scoreuq' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_FROM_PROCESSES))


__all__ = [
    "bounds",
    "data",
    "experiments",
    "likelihood",
    "losses",
    "metrics",
    "nets",
    "training",
    "processes",
    "sampling",
    "runs",
    "studies",
    "advise",
    "ForwardProcess",
    "OrnsteinUhlenbeck",
    "VPSDE",
    "VESDE",
    "__version__",
]
