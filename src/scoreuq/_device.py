"""Device helpers: one device per run, and a clear error when a user's module sits elsewhere.

Reproducibility across devices: on the same device, with the same seed (and the same number
of CPU threads), training, sampling and the bound are bit-identical. Across devices (a run
trained on a GPU, loaded on a CPU) the random streams differ (CUDA's Philox vs the CPU's
Mersenne Twister) and so do the kernels: results agree in distribution, not in bits.
"""
from __future__ import annotations

import torch

__all__ = ["module_device", "same_device", "check_module_device"]


def same_device(a, b) -> bool:
    """``a`` and ``b`` name the same device (``cuda`` and ``cuda:0`` match when one has no index)."""
    a, b = torch.device(a), torch.device(b)
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def module_device(model) -> torch.device | None:
    """The device of ``model``'s first parameter (or buffer); ``None`` for a plain callable or an empty module."""
    if not isinstance(model, torch.nn.Module):
        return None
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return None


def check_module_device(model, device, what: str = "the data") -> None:
    """Raise a ValueError naming both devices when ``model``'s parameters are not on ``device``."""
    md = module_device(model)
    if md is not None and device is not None and not same_device(md, device):
        raise ValueError(f"the model's parameters are on {md} but {what} is on {torch.device(device)}; "
                         f"move one of them (model.to({str(torch.device(device))!r}) or data.to({str(md)!r}))")
