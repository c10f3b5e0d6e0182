"""Distances between distributions, as plain functions of two samples ``(n, d)``.

Importing this package pulls neither POT nor scipy; they load on first use.
"""
from .circle import c1, c1_parts, c2, c2_parts, fit_circle, polar, w1_to_uniform
from .fid import FeatureClassifier, classify, extract_features, frechet_distance, train_feature_classifier
from .gaussian import kl_gaussian, tv_bound_gaussian, tv_bound_gaussian_1d, w1_gaussian_1d, w2_gaussian
from .kernel import median_bandwidth, mmd
from .resolved import Assessment, assess, frechet_from_features, frechet_with_floor, w1_lower_bound
from .trajectory import SIEMRecorder, SIEMResult, siem
from .sinkhorn import entropic_ot, sinkhorn_divergence
from .wasserstein import ConvergenceError, random_directions, sliced_wasserstein, wasserstein, wasserstein_1d

__all__ = [
    "wasserstein_1d",
    "wasserstein",
    "sliced_wasserstein",
    "random_directions",
    "ConvergenceError",
    "mmd",
    "median_bandwidth",
    "kl_gaussian",
    "w2_gaussian",
    "w1_gaussian_1d",
    "tv_bound_gaussian_1d",
    "tv_bound_gaussian",
    "polar",
    "c1",
    "c2",
    "w1_to_uniform",
    "c1_parts",
    "c2_parts",
    "fit_circle",
    "frechet_distance",
    "FeatureClassifier",
    "train_feature_classifier",
    "classify",
    "extract_features",
    "siem",
    "SIEMRecorder",
    "SIEMResult",
    "assess",
    "Assessment",
    "frechet_from_features",
    "frechet_with_floor",
    "w1_lower_bound",
    "sinkhorn_divergence",
    "entropic_ot",
]
