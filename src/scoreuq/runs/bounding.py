"""The WUP bound of a trained score run (faithful and/or seminar presets) with its audit against
samples of the model and a guaranteed lower estimate of W1 (``bound.json``, ``bound.md``)."""
from __future__ import annotations

import torch

from .. import bounds, metrics
from .._io import atomic_write_json, atomic_write_text
from .._validation import check_in_range, check_int, check_positive
from .config import ConfigError
from .folders import Run
from .samples import checked_samples, sample, score_fn_of

__all__ = ["bound"]


def bound(run: Run, *, estimators: str = "both", t_min: float | None = None, delta: float = 0.1, C: float = 1.0, R: float | None = None,
          omega="process", n_sub: int = 1000, seeds=(0, 1, 2), d1: str = "exact", kde_rule: str = "cv", n_generated: int | None = None,
          lipschitz_kw: dict | None = None, c2_kw: dict | None = None, write: bool = True, generated=None, c2_kind: str = "full",
          search: bool = True, optimise: bool = True, measure_curve: bool = True, level: float = 0.95,
          w1_lower: dict | None = None) -> dict:
    """The WUP bound of a trained score run (faithful and/or seminar presets), with the audit.

    The audit compares the bound with samples of the model at the same early-stopping time ε:
    ``generated`` (e.g. those of :func:`evaluate`, drawn at the config's ε) or, by default,
    ``n_generated`` fresh samples (default ``n_sub``) drawn at ``t_min``. With ``optimise`` the faithful
    preset also reports the tightest admissible value over ε and T, the sampler re-run at each ε of the
    curve when ``measure_curve``.

    π is the exact law for synthetic data and a Gaussian KDE of the whole labelled set for
    images (bandwidth by ``kde_rule``: ``"cv"`` held-out likelihood by default, recorded). ``w1_lower``: the
    ``w1_lower_bound`` that :func:`evaluate` computed for the same ``generated`` samples (reused, not
    recomputed); by default it is computed here. Writes ``bound.json`` and ``bound.md``.
    """
    if estimators not in ("faithful", "seminar", "both"):
        raise ConfigError(f"estimators must be 'faithful', 'seminar' or 'both', got {estimators!r}")
    if not run.is_score:
        raise ConfigError(f"the WUP bound is for score models; this run trains a {run.config.model.kind}")
    T = run.process.T
    t_min = run.config.sample.t_min if t_min is None else t_min
    check_in_range("t_min", t_min, 0.0, T, low_open=True, high_open=True)
    check_in_range("delta", delta, 0.0, 1.0, low_open=True, high_open=True)
    check_positive("C", C)
    if omega != "process":
        check_positive("omega", omega)
    if R is not None:
        check_positive("R", R)
    check_int("n_sub", n_sub, 2, ConfigError)
    if c2_kind not in ("full", "parabolic", "space"):
        raise ConfigError(f"c2_kind must be 'full', 'parabolic' or 'space', got {c2_kind!r}")
    if kde_rule not in ("scott", "silverman", "cv"):
        raise ConfigError(f"kde_rule must be 'scott', 'silverman' or 'cv', got {kde_rule!r}")
    rd = run.data
    kde_h = None
    if rd.image_shape is not None:
        kde, kde_h = bounds.kde_reference(rd.full.to(run.device), kde_rule, generator=torch.Generator().manual_seed(run.config.seed))
        shape = rd.image_shape

        class _Pi:  # the KDE on flattened pixels, sampled back as images
            def sample(self, n, *, generator=None, dtype=None):
                return kde.sample(n, generator=generator, dtype=dtype).reshape(n, *shape)

        pi, pi_name = _Pi(), (f"Gaussian KDE of the full {run.config.data.name} set ({rd.full.shape[0]} images, {kde_rule} bandwidth "
                              f"h={kde_h:.4g}{', chosen by 3-fold held-out likelihood' if kde_rule == 'cv' else ''})")
    else:
        pi, pi_name = rd.truth, f"the exact law ({type(rd.truth).__name__})"
    dev = run.device
    if generated is not None:
        gen = checked_samples(run, generated, "generated").double().to(dev)
        n_gen = gen.shape[0]
        gen_t_min = run.config.sample.t_min
    else:
        n_gen = n_generated or n_sub
        gen = sample(run, n=n_gen, seed=run.config.seed + 17, dtype=torch.float32, t_min=t_min).double().to(dev)
        gen_t_min = t_min
    fn = score_fn_of(run.model.eval())  # float32 network derivatives; distances in float64
    train = rd.train.float().to(dev)
    out = {"run": str(run.dir) if run.dir else None, "pi": pi_name, "kde_bandwidth": kde_h, "kde_rule": kde_rule if kde_h else None,
           "generated": {"n": n_gen, "sampler": run.config.sample.sampler, "steps": run.config.sample.steps, "t_min": gen_t_min}}
    # a guaranteed lower estimate of the population W1(m_g, π), beside every bound
    if w1_lower is not None and generated is not None:
        lower = w1_lower  # evaluate's, for these same samples
    else:
        ref = rd.test.double().to(dev) if rd.image_shape is None else \
            pi.sample(gen.shape[0], generator=torch.Generator().manual_seed(7), dtype=torch.float64).to(dev)
        lower = metrics.w1_lower_bound(gen.flatten(1), ref.flatten(1), generator=torch.Generator().manual_seed(run.config.seed))
    out["w1_lower_bound"] = lower
    lower_v = lower["max_sliced_lcl"]
    md = [f"# WUP bound of {run.dir.name if run.dir else 'run'}", "", f"π: {pi_name}; p_ref: the prior of {type(run.process).__name__}; "
          f"π_N: {train.shape[0]} training points; m_g: {n_gen} samples ({run.config.sample.sampler}, {run.config.sample.steps} steps, "
          f"ε = {gen_t_min:g}).", "", "Guaranteed lower estimate of W1(m_g, π): " + (f"{lower_v:.4g}" if lower_v > 0 else
          f"0 (the limit {lower_v:.3g} is uninformative: the model cannot be told from π at this sample size)")
          + f" ({lower['level']:.0%} lower confidence limit, max-sliced critic on held-out halves).", ""]
    if gen_t_min != t_min:
        md.append(f"Note: the audit samples were drawn at ε = {gen_t_min:g}, the bound is at ε = {t_min:g}.\n")
    if estimators in ("faithful", "both"):
        sampler_fn = None
        if optimise and measure_curve:
            def sampler_fn(e, TT):
                return sample(run, n=n_gen, seed=run.config.seed + 17, dtype=torch.float32, t_min=e, T=TT)
        rep = bounds.wup(fn, run.process, train, pi, t_min=t_min, delta=delta, C=C, R=R, omega=omega, generated=gen, n_sub=n_sub,
                         seeds=tuple(seeds), d1=d1, lipschitz_kw=lipschitz_kw, c2_kw=c2_kw, network=run.model, c2_kind=c2_kind,
                         search=search, optimise=optimise, sampler=sampler_fn, level=level)
        out["faithful"] = rep.to_dict()
        if rep.bound is not None and rep.bound < lower_v:
            md.append(f"**The faithful value {rep.bound:.4g} is below the guaranteed lower estimate {lower_v:.4g}: with C = 1 it is not a bound.**\n")
        md.append(rep.to_markdown())
    if estimators in ("seminar", "both"):
        if rd.labels_train is None:
            if estimators == "seminar":
                raise ConfigError("the seminar preset needs labelled image data (its X4 compares class proportions)")
            md.append("The seminar preset needs labelled image data; not computed for this run.\n")
        else:
            rep = bounds.wup_seminar(fn, run.process, train, rd.labels_train, rd.labels_full, pi, dsm_history=run.trainer.history.loss,
                                     generated=gen, n_sub=n_sub, seeds=tuple(seeds), w1_lower=lower_v)
            out["seminar"] = rep.to_dict()
            md.append(rep.to_markdown())
    if write and run.dir is not None:
        atomic_write_json(run.dir / "bound.json", out)
        atomic_write_text(run.dir / "bound.md", "\n".join(md))
    out["markdown"] = "\n".join(md)
    return out
