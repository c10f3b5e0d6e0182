"""scoreuq: uncertainty quantification for score-based generative models.

    import scoreuq as su
    ou = su.processes.OrnsteinUhlenbeck(alpha=0.0, beta=1.0, sigma=2 ** 0.5)
    gm = su.data.GaussianMixture([[-4.0, 0.0], [4.0, 0.0]], 0.5, weights=[0.1, 0.9])
    x = su.sampling.euler_maruyama(gm.score_fn(ou), ou, (1000, 2), steps=500)

Importing scoreuq loads torch and numpy only: no matplotlib, Dask, POT or scipy.stats.
"""
from . import bounds, data, likelihood, losses, metrics, nets, processes, runs, sampling, studies, training
from .processes import VESDE, VPSDE, ForwardProcess, OrnsteinUhlenbeck

__version__ = "0.1.0"


def __getattr__(name):
    # scoreuq.experiments (the compute-only experiments) loads scipy.stats: imported on first use
    if name == "experiments":
        import importlib

        return importlib.import_module(".experiments", __name__)
    raise AttributeError(f"module 'scoreuq' has no attribute {name!r}")

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
    "ForwardProcess",
    "OrnsteinUhlenbeck",
    "VPSDE",
    "VESDE",
    "__version__",
]
