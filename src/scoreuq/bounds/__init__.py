"""The WUP bound (seminar 000 §2; paper 001/002) and the estimators of its terms; the thesis's (003)
forward- and backward-convergence bounds in :mod:`scoreuq.bounds.thesis`."""
from .estimators import C2Estimate, LipschitzEstimate, c2_norm, forward_points, kde_bandwidth, lipschitz, spectral_norms, spectral_norms_exact
from . import thesis
from .wup import Term, WUPReport, data_radius, differences, kde_reference, wup, wup_seminar

__all__ = ["thesis", "wup", "wup_seminar", "WUPReport", "Term", "differences", "kde_reference", "data_radius", "lipschitz", "LipschitzEstimate",
           "c2_norm", "C2Estimate", "spectral_norms", "spectral_norms_exact", "kde_bandwidth", "forward_points"]
