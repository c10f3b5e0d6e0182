r"""Fréchet distance on the features of a small classifier trained on the same data.

No Inception weights are downloaded: for 8×8 digits or MNIST, Inception features are
both unavailable offline and ill-suited. Instead :func:`train_feature_classifier` fits a
small CNN to the labelled data; its penultimate layer gives the features, and
:func:`frechet_distance` computes

.. math::

    \mathrm{FD} = \|\mu_r - \mu_g\|^2 + \mathrm{tr}\big(\Sigma_r + \Sigma_g - 2(\Sigma_r\Sigma_g)^{1/2}\big)

through torchmetrics' ``FrechetInceptionDistance`` with this custom feature module (the
squared W2 between the Gaussians fitted to the two feature clouds; tested against
:func:`scoreuq.metrics.w2_gaussian`). Values are comparable only between runs that use the
same classifier; reports state its held-out accuracy and seed.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FeatureClassifier", "train_feature_classifier", "frechet_distance", "classify", "extract_features"]


class FeatureClassifier(nn.Module):
    """Small CNN: two convolutions, 2×2 average pooling, a dense layer of ``num_features`` features, a linear head."""

    def __init__(self, image_shape=(1, 28, 28), n_classes: int = 10, num_features: int = 64):
        super().__init__()
        c = int(image_shape[0])
        self.image_shape = tuple(int(v) for v in image_shape)
        self.num_features = int(num_features)
        self.body = nn.Sequential(
            nn.Conv2d(c, 32, 3, stride=2 if self.image_shape[1] >= 16 else 1, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
            nn.Linear(256, self.num_features), nn.ReLU(),
        )
        self.head = nn.Linear(self.num_features, int(n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.reshape(-1, *self.image_shape).to(self.head.weight.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The features (torchmetrics calls the module on images and expects ``(n, num_features)``)."""
        return self.features(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def train_feature_classifier(images, labels, *, epochs: int = 20, batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
                             test_images=None, test_labels=None):
    """Fit a :class:`FeatureClassifier`; returns ``(model, accuracy)`` with the accuracy on the test
    set when given (else on the training set). Deterministic on CPU for a given seed."""
    images = torch.as_tensor(images, dtype=torch.float32)
    labels = torch.as_tensor(labels, dtype=torch.long)
    if images.ndim != 4 or labels.shape != (images.shape[0],):
        raise ValueError("images must be (N, C, H, W) and labels (N,)")
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FeatureClassifier(images.shape[1:], int(labels.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = images.shape[0]
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            idx = perm[i: i + batch_size]
            loss = F.cross_entropy(model.logits(images[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    xe, ye = (images, labels) if test_images is None else (torch.as_tensor(test_images, dtype=torch.float32), torch.as_tensor(test_labels))
    acc = float((classify(model, xe) == ye).double().mean())
    return model.requires_grad_(False), acc


@torch.no_grad()
def classify(model: FeatureClassifier, images, batch_size: int = 1024) -> torch.Tensor:
    """Predicted labels."""
    x = torch.as_tensor(images, dtype=torch.float32)
    return torch.cat([model.logits(x[i: i + batch_size]).argmax(1) for i in range(0, x.shape[0], batch_size)])


@torch.no_grad()
def extract_features(model: FeatureClassifier, images, batch_size: int = 1024) -> torch.Tensor:
    """The features ``(n, num_features)`` of ``images`` under ``model`` (its penultimate layer),
    computed in batches of ``batch_size`` and returned in float64."""
    x = torch.as_tensor(images, dtype=torch.float32)
    return torch.cat([model.features(x[i: i + batch_size]) for i in range(0, x.shape[0], batch_size)]).double()


@torch.no_grad()
def frechet_distance(real, fake, feature_model: FeatureClassifier, batch_size: int = 1024) -> float:
    """Fréchet distance between ``real`` and ``fake`` images on ``feature_model``'s features (torchmetrics)."""
    from torchmetrics.image.fid import FrechetInceptionDistance  # lazy: torchmetrics costs ~2 s and loads scipy.stats

    real = torch.as_tensor(real, dtype=torch.float32)
    fake = torch.as_tensor(fake, dtype=torch.float32)
    for name, x in (("real", real), ("fake", fake)):
        if x.shape[0] < 2:
            raise ValueError(f"{name} needs at least 2 images, got {x.shape[0]}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    fid = FrechetInceptionDistance(feature=feature_model, normalize=True, input_img_size=feature_model.image_shape)
    for x, is_real in ((real, True), (fake, False)):
        for i in range(0, x.shape[0], batch_size):
            fid.update(x[i: i + batch_size].reshape(-1, *feature_model.image_shape), real=is_real)
    return float(fid.compute())
