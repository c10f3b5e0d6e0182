"""The feature classifier of a run's image data (for the Fréchet distance and the class shares),
trained once and cached as safetensors."""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .._io import atomic_write
from ..metrics.fid import FeatureClassifier, train_feature_classifier
from .build import image_permutation
from .folders import Run

__all__ = ["feature_classifier"]


def feature_classifier(run: Run, path=None):
    """The feature classifier of a run's image data, trained once and cached (safetensors) at ``path``
    (default ``eval/classifier.safetensors`` in the run directory). It depends only on the data set,
    its held-out split and the seed, so runs differing in anything else can share one cache."""
    rd = run.data
    if path is None and run.dir is not None:
        path = run.dir / "eval" / "classifier.safetensors"
    path = Path(path) if path is not None else None
    if path is not None and path.is_file():
        try:
            sd = load_file(str(path))
            acc = float(sd.pop("__accuracy__"))
            model = FeatureClassifier(rd.image_shape, int(rd.labels_full.max()) + 1)
            model.load_state_dict(sd)
            return model.eval().requires_grad_(False), acc
        except Exception:
            pass  # stale or foreign cache: retrain
    train_x, train_y = _balanced_train(run)
    model, acc = train_feature_classifier(train_x, train_y, seed=run.config.seed, test_images=rd.test, test_labels=rd.labels_test)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        sd["__accuracy__"] = torch.tensor(acc)
        atomic_write(path, lambda tmp: save_file(sd, str(tmp)))
    return model, acc


def _balanced_train(run: Run):
    """All labelled images outside the held-out split (the classifier sees every class fully)."""
    rd = run.data
    mask = torch.ones(rd.full.shape[0], dtype=torch.bool)
    perm = image_permutation(run.config.seed, rd.full.shape[0])  # its first n_test: the held-out split of build_data
    mask[perm[: rd.test.shape[0]]] = False
    return rd.full[mask], rd.labels_full[mask]
