"""Data sets: synthetic laws with exact densities and scores, image sets, class imbalance."""
from .classes import Imbalance, class_shares, imbalance
from .images import (
    MNIST_MD5,
    MNIST_TEST_CLASS_COUNTS,
    ImageDataset,
    download_mnist,
    load_digits,
    load_mnist_5k,
    load_mnist_idx,
)
from .synthetic import (
    Cauchy,
    Circle,
    Disc3D,
    Distribution,
    Empirical,
    GaussianMixture,
    Sphere,
    SwissRoll,
    UnionOfCircles,
)

__all__ = [
    "Distribution",
    "GaussianMixture",
    "Empirical",
    "Circle",
    "UnionOfCircles",
    "SwissRoll",
    "Sphere",
    "Disc3D",
    "Cauchy",
    "ImageDataset",
    "load_digits",
    "load_mnist_5k",
    "load_mnist_idx",
    "download_mnist",
    "MNIST_MD5",
    "MNIST_TEST_CLASS_COUNTS",
    "Imbalance",
    "imbalance",
    "class_shares",
]
