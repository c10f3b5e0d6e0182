r"""Class imbalance by keep ratio (seminar (000) §4).

Two schemes, both seeded and reproducible:

``"random"`` — the seminar's: each class :math:`c` draws
:math:`p_c = \max(U_c(1 - r) + r,\; 0.01)` with :math:`U_c \sim U(0, 1)`, and every
image of class :math:`c` is kept independently with probability :math:`p_c`.
At :math:`r = 1` everything is kept.

``"deterministic"`` — class :math:`c \in \{0, \dots, C-1\}` keeps the fraction
:math:`r_c = 1 - (1 - r)\,c/(C - 1)` of its images (at least one), chosen by a seeded
permutation: class 0 is complete, the last class keeps the fraction :math:`r`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import check_in_range

__all__ = ["Imbalance", "imbalance", "class_shares"]


@dataclass(frozen=True)
class Imbalance:
    """Result of :func:`imbalance`: kept ``indices`` (sorted), per-class ``counts``
    after subsampling, per-class ``keep`` probabilities/fractions, and the settings."""

    indices: torch.Tensor
    counts: torch.Tensor
    keep: torch.Tensor
    keep_ratio: float
    scheme: str
    seed: int

    def shares(self) -> torch.Tensor:
        """Class proportions of the kept set."""
        return self.counts.double() / self.counts.sum()


def imbalance(labels, keep_ratio: float, *, scheme: str = "random", seed: int = 0, n_classes: int | None = None) -> Imbalance:
    """Subsample a labelled set to make it class-imbalanced.

    Parameters
    ----------
    labels : integer tensor ``(N,)``
    keep_ratio : float in (0, 1]
        ``r`` above; 1 keeps everything.
    scheme : {"random", "deterministic"}
    seed : int
        Seeds a private ``torch.Generator``; global random state is untouched.
    """
    r = check_in_range("keep_ratio", keep_ratio, 0.0, 1.0, low_open=True)
    if scheme not in ("random", "deterministic"):
        raise ValueError(f"scheme must be 'random' or 'deterministic', got {scheme!r}")
    labels = torch.as_tensor(labels)
    if labels.ndim != 1 or labels.is_floating_point() or labels.numel() == 0:
        raise ValueError("labels must be a non-empty 1-D integer tensor")
    if bool((labels < 0).any()):
        raise ValueError("labels must be >= 0")
    C = int(labels.max()) + 1 if n_classes is None else int(n_classes)
    g = torch.Generator().manual_seed(int(seed))
    labels = labels.cpu().long()
    if scheme == "random":
        u = torch.rand(C, generator=g, dtype=torch.float64)
        keep = (u * (1 - r) + r).clamp_min(0.01)
        mask = torch.rand(labels.numel(), generator=g, dtype=torch.float64) < keep[labels]
        indices = torch.nonzero(mask).flatten()
    else:
        c = torch.arange(C, dtype=torch.float64)
        keep = 1 - (1 - r) * c / max(C - 1, 1)
        chosen = []
        perm = torch.randperm(labels.numel(), generator=g)
        for k in range(C):
            members = perm[labels[perm] == k]
            if members.numel():
                m = max(1, int(round(float(keep[k]) * members.numel())))
                chosen.append(members[:m])
        indices = torch.sort(torch.cat(chosen)).values
    counts = torch.bincount(labels[indices], minlength=C)
    return Imbalance(indices, counts, keep, r, scheme, int(seed))


def class_shares(labels, n_classes: int) -> torch.Tensor:
    """The share of each class 0 … n_classes − 1 among ``labels`` (float64, sums to 1)."""
    labels = torch.as_tensor(labels).long()
    if labels.numel() == 0:
        raise ValueError("labels must not be empty")
    return torch.bincount(labels, minlength=n_classes).double() / labels.numel()
