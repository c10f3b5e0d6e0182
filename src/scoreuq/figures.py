"""Figures for runs and reports: loss curves, 2-D scatter and heat maps, image grids and the
learned score field (as in thesis (003) Figures 3.2–3.3). Every function writes a PNG
atomically and returns its path; matplotlib is imported here only, with the Agg backend.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ._io import atomic_write

__all__ = ["loss_curve", "scatter", "image_grid", "score_field", "samples_figure", "factor_panels", "bound_vs_measured", "class_shares", "numeric_levels"]


def _plt():
    import matplotlib  # lazy: matplotlib costs ~0.5 s; importing scoreuq (and `scoreuq --help`) must not load it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    plt = _plt()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png", bbox_inches="tight"))
    plt.close(fig)
    return path


def loss_curve(losses, path, *, title: str = "training loss") -> Path:
    """Mean loss per epoch (log scale when all positive)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, len(losses) + 1), losses, lw=1.2)
    if len(losses) and min(losses) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def scatter(panels: dict, path, *, heatmap: bool = False, bins: int = 80) -> Path:
    """One panel per ``name -> (n, 2) tensor``: a scatter plot, or a 2-D histogram when ``heatmap``.
    Points beyond two dimensions are shown by their first two coordinates."""
    plt = _plt()
    k = len(panels)
    fig, axes = plt.subplots(1, k, figsize=(3.6 * k, 3.6), sharex=True, sharey=True, squeeze=False)
    allx = torch.cat([torch.as_tensor(v).detach().cpu().double()[:, :2] for v in panels.values()])
    lo, hi = allx.min(0).values, allx.max(0).values
    pad = 0.05 * (hi - lo).clamp_min(1e-9)
    rng = [[float(lo[0] - pad[0]), float(hi[0] + pad[0])], [float(lo[1] - pad[1]), float(hi[1] + pad[1])]]
    for ax, (title, x) in zip(axes[0], panels.items()):
        x = torch.as_tensor(x).detach().cpu().double()[:, :2].numpy()
        if heatmap:
            ax.hist2d(x[:, 0], x[:, 1], bins=bins, range=rng, cmap="viridis")
        else:
            ax.scatter(x[:, 0], x[:, 1], s=3, alpha=0.5)
        ax.set_title(title)
        ax.set_aspect("equal")
    return _save(fig, path)


def image_grid(images, path, *, nrow: int = 10, title: str | None = None) -> Path:
    """Images ``(n, 1, H, W)`` in [0, 1] (values are clipped) as a grid."""
    plt = _plt()
    x = torch.as_tensor(images).detach().float().clamp(0, 1).cpu()
    n = x.shape[0]
    ncol = min(nrow, n)
    nr = (n + ncol - 1) // ncol
    _, c, h, w = x.shape
    canvas = torch.full((nr * (h + 1) + 1, ncol * (w + 1) + 1), 0.3)
    for i in range(n):
        r, q = divmod(i, ncol)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + q * (w + 1): 1 + q * (w + 1) + w] = x[i].mean(0)
    fig, ax = plt.subplots(figsize=(0.5 * ncol + 0.5, 0.5 * nr + 0.5))
    ax.imshow(canvas.numpy(), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return _save(fig, path)


@torch.no_grad()
def score_field(score_fn, t: float, path, *, bounds=None, points=None, grid: int = 25, title: str | None = None, device=None) -> Path:
    r"""Quiver plot of a 2-D score field :math:`s(x, t)` on a grid (003 Figures 3.2–3.3), arrows
    scaled to unit length and coloured by :math:`\log\|s\|`; ``points`` (e.g. the training set)
    are overlaid. The grid is evaluated on ``device`` (that of the score model; default CPU)."""
    plt = _plt()
    if bounds is None:
        if points is None:
            bounds = (-3.0, 3.0, -3.0, 3.0)
        else:
            p = torch.as_tensor(points).detach().cpu().double()
            lo, hi = p.min(0).values, p.max(0).values
            pad = 0.3 * (hi - lo).max().clamp_min(1.0)
            bounds = (float(lo[0] - pad), float(hi[0] + pad), float(lo[1] - pad), float(hi[1] + pad))
    xs = torch.linspace(bounds[0], bounds[1], grid)
    ys = torch.linspace(bounds[2], bounds[3], grid)
    X, Y = torch.meshgrid(xs, ys, indexing="xy")
    pts = torch.stack([X.flatten(), Y.flatten()], 1)
    dev = torch.device("cpu") if device is None else torch.device(device)
    s = score_fn(pts.to(dev), torch.full((pts.shape[0],), float(t), device=dev))
    s = torch.as_tensor(s).detach().cpu().double()
    norm = s.norm(dim=1).clamp_min(1e-12)
    u = (s / norm[:, None]).numpy()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.quiver(pts[:, 0].numpy(), pts[:, 1].numpy(), u[:, 0], u[:, 1], torch.log(norm).numpy(), cmap="viridis", scale=grid * 1.2)
    if points is not None:
        p = torch.as_tensor(points).detach().cpu().double()
        ax.scatter(p[:, 0].numpy(), p[:, 1].numpy(), c="red", s=12, zorder=3)
    ax.set_aspect("equal")
    ax.set_title(title or f"score field at t = {t:g}")
    return _save(fig, path)


def samples_figure(samples, path, *, reference=None, image_shape=None, title: str = "samples") -> Path:
    """The natural picture of a sample: an image grid for images, else scatter panels (with the reference)."""
    if image_shape is not None:
        x = torch.as_tensor(samples)[:100].reshape(-1, *image_shape)
        return image_grid(x, path, title=title)
    panels = {title: torch.as_tensor(samples)}
    if reference is not None:
        panels = {"reference": torch.as_tensor(reference), **panels}
    return scatter(panels, path)


def numeric_levels(levels) -> bool:
    """Whether a factor's levels are numbers (so they have an order and a scale)."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in levels)


def _factor_axis(levels):
    """``(numeric, xs)``: numeric levels are drawn at their values, labels at 0, 1, 2, …"""
    numeric = numeric_levels(levels)
    return numeric, ([float(v) for v in levels] if numeric else list(range(len(levels))))


def _factor_xaxis(ax, levels, xs, numeric, xlabel, invert_x):
    ax.set_xlabel(xlabel)
    if invert_x and numeric:
        ax.invert_xaxis()
    if not numeric:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(v) for v in levels], rotation=30, ha="right", fontsize=8)


def factor_panels(levels, panels: dict, path, *, xlabel: str, ncols: int = 3, logx: bool | None = None, invert_x: bool = False) -> Path:
    """One panel per column of a study against its factor: the mean over seeds with ± sd error bars
    and every seed as a dot. ``levels`` are the factor's levels (numbers, or labels drawn at even
    spacing); ``panels`` maps a title to ``(per_setting_values, means, sds, log_y)``, where
    per_setting_values holds, per level, the per-seed values and means/sds come from the study's
    summary; ``invert_x`` draws the factor falling to the right."""
    plt = _plt()
    numeric, xs = _factor_axis(levels)
    if logx is None:
        logx = numeric and min(xs) > 0 and max(xs) / min(xs) > 20
    k = len(panels)
    nc = min(ncols, k)
    nr = (k + nc - 1) // nc
    fig, axes = plt.subplots(nr, nc, figsize=(4.2 * nc, 3.2 * nr), squeeze=False)
    for ax, (title, (vals, means, sds, logy)) in zip(axes.flat, panels.items()):
        for x, v in zip(xs, vals):
            v = [float(a) for a in v if a is not None]
            ax.scatter([x] * len(v), v, s=10, color="0.55", zorder=2)
        means = [float("nan") if m is None else m for m in means]
        ax.errorbar(xs, means, yerr=[s or 0.0 for s in sds], marker="o", capsize=3, lw=1.4, zorder=3)
        ax.set_title(title, fontsize=10)
        if logy and all(m > 0 for m in means):
            ax.set_yscale("log")
        if logx:
            ax.set_xscale("log")
        _factor_xaxis(ax, levels, xs, numeric, xlabel, invert_x)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[k:]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def bound_vs_measured(levels, series: dict, path, *, xlabel: str, invert_x: bool = False) -> Path:
    """The bounds and the measured distances of a study against its factor, on one log axis;
    ``series`` maps a label to the means per level (bounds drawn solid, distances dashed)."""
    plt = _plt()
    numeric, xs = _factor_axis(levels)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, (means, is_bound) in series.items():
        ax.plot(xs, means, marker="o", label=label, ls="-" if is_bound else "--")
    ax.set_yscale("log")
    ax.set_ylabel("W1 distance / bound")
    _factor_xaxis(ax, levels, xs, numeric, xlabel, invert_x)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title("the bound against the measured distance")
    fig.tight_layout()
    return _save(fig, path)


def class_shares(levels, train_shares, generated_shares, path, *, full_shares=None, xlabel: str = "level") -> Path:
    """Class shares of the training set and of the generated samples (by the feature classifier),
    one panel per level; shares are means over seeds."""
    plt = _plt()
    k = len(levels)
    fig, axes = plt.subplots(1, k, figsize=(3.4 * k, 3.0), sharey=True, squeeze=False)
    for ax, lv, tr, ge in zip(axes[0], levels, train_shares, generated_shares):
        c = list(range(len(tr)))
        ax.bar([i - 0.2 for i in c], tr, width=0.4, label="training set")
        ax.bar([i + 0.2 for i in c], ge, width=0.4, label="generated")
        if full_shares is not None:
            ax.plot(c, full_shares, "k_", ms=10, mew=1.5, label="full set")
        ax.set_title(f"{xlabel} = {lv}", fontsize=10)
        ax.set_xticks(c)
        ax.set_xlabel("class")
    axes[0][0].set_ylabel("share")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def point_panels(panels: dict, path, *, reference=None, ncols: int = 3, title: str | None = None) -> Path:
    """Scatter plots of 2-D point sets side by side: ``panels`` maps a title to ``(n, 2)`` points
    (lists or arrays); ``reference`` (optional ``(m, 2)``) is drawn in every panel in black, such
    as the training points. Panels share their axes so the pictures compare directly."""
    plt = _plt()
    k = max(1, len(panels))
    nc = min(ncols, k)
    nr = (k + nc - 1) // nc
    fig, axes = plt.subplots(nr, nc, figsize=(3.4 * nc, 3.4 * nr), squeeze=False, sharex=True, sharey=True)
    ref = None if reference is None else np.asarray(reference, dtype=float).reshape(-1, 2)
    for ax, (name, pts) in zip(axes.flat, panels.items()):
        p = np.asarray(pts, dtype=float).reshape(-1, 2)
        ax.scatter(p[:, 0], p[:, 1], s=3, alpha=0.5)
        if ref is not None:
            ax.scatter(ref[:, 0], ref[:, 1], s=4, color="k")
        ax.set_title(str(name), fontsize=9)
        ax.set_aspect("equal", adjustable="box")
    for ax in list(axes.flat)[k:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
