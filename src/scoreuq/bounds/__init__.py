"""The WUP bound (seminar 000 §2; paper 001/002) and the estimators of its terms — sampled, adversarial
(:mod:`~scoreuq.bounds.extremes`), statistical (extreme-value upper limits) and certified
(:mod:`~scoreuq.bounds.certificates`, MLPs) sup norms; the thesis's (003) forward- and backward-convergence
bounds in :mod:`scoreuq.bounds.thesis`."""
from .estimators import (C2_KINDS, C2_PARTS, C2Estimate, LipschitzEstimate, c2_norm, derivative_parts, forward_points, kde_bandwidth,
                         lipschitz, spectral_norms, spectral_norms_exact)
from . import thesis
from .certificates import Certificate, certify, supports
from .extremes import SearchResult, UpperLimit, adversarial_max, upper_limit
from .propagation import (LABELS, Term, WUPReport, data_radius, differences, early_stopping_bias, faithful_formula, kde_reference, seminar_formula,
                  seminar_infimum, sensitivity, structural_floor, wup, wup_seminar)

__all__ = ["thesis", "wup", "wup_seminar", "WUPReport", "Term", "LABELS", "differences", "kde_reference", "data_radius",
           "faithful_formula", "seminar_formula", "seminar_infimum", "early_stopping_bias", "sensitivity", "structural_floor",
           "lipschitz", "LipschitzEstimate", "c2_norm", "C2Estimate", "C2_PARTS", "C2_KINDS", "derivative_parts", "spectral_norms",
           "spectral_norms_exact", "kde_bandwidth", "forward_points", "certify", "Certificate", "supports", "adversarial_max",
           "SearchResult", "upper_limit", "UpperLimit"]
