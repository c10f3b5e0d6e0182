"""Evaluating a run: distances between generated samples and held-out data, each with its floor,
paired-bootstrap spread and ``resolved`` flag; W1 lower confidence limits; the held-out NLL; the
circle metrics, Fréchet distance and class shares; warnings about samples far outside the data
(``metrics.json``)."""
from __future__ import annotations

import torch

from .. import likelihood, metrics
from .._io import atomic_write_json
from ..data.classes import class_shares
from .build import RunData
from .classifier import feature_classifier
from .config import ConfigError
from .folders import Run
from .samples import checked_samples, sample, score_fn_of

__all__ = ["evaluate", "EVAL_N_BOOT", "SINKHORN_MAX_POINTS", "SINKHORN_TOL", "SINKHORN_BLUR_FRACTION",
           "OUT_OF_RANGE_MARGIN", "OUT_OF_RANGE_SHARE"]


#: bootstrap replicates of each distance's floor/spread assessment (exact W1 and Sinkhorn are the costly ones)
EVAL_N_BOOT = {"w1": 50, "sliced_w1": 100, "mmd2": 100, "sinkhorn": 20, "frechet": 200}
#: the Sinkhorn divergence runs on at most this many points per sample (its cost is O(n m) per iteration)
SINKHORN_MAX_POINTS = 250
#: its stopping threshold (L1 marginal error; changes the divergence by ~1e-4 relative, far below its bootstrap spread)
SINKHORN_TOL = 1e-3
#: the Sinkhorn divergence's blur (epsilon, p = 1: a length) as a fraction of the held-out set's median pairwise distance
SINKHORN_BLUR_FRACTION = 0.05
_ASSESS_LEVEL = 0.95


def _reference_samples(run: Run, x: torch.Tensor, g: torch.Generator):
    """``(gen, ref_b, ref_a, description)`` for the floors: ``ref_b`` an independent sample of π of
    the generated sample's size, ``ref_a`` the common reference. Where π is known (synthetic data)
    ``ref_b`` is a fresh π sample and ``ref_a`` the whole held-out set; otherwise (images) the
    held-out set is split at random into two disjoint halves, ``ref_b`` is one half, ``ref_a`` the
    other, and the generated sample is cut to the size of ``ref_b`` (never the training set: it may
    be imbalanced, and it is what the model was fitted to)."""
    rd = run.data
    test = rd.test.float()
    if rd.truth is not None and rd.image_shape is None:
        ref_b = rd.truth.sample(x.shape[0], generator=g, dtype=torch.float32)
        return x, ref_b, test, (f"fresh sample of the true law π of the generated size n={x.shape[0]} "
                                f"(the common reference: the {test.shape[0]} held-out points)")
    if test.shape[0] < 4:
        raise ConfigError(f"the held-out set has {test.shape[0]} points; at least 4 are needed to split it for the floors")
    perm = torch.randperm(test.shape[0], generator=g)
    half = test.shape[0] // 2
    ref_b, ref_a = test[perm[:half]], test[perm[half:]]
    n = min(x.shape[0], ref_b.shape[0])
    return x[:n], ref_b[:n], ref_a, (f"half B of the held-out set ({n} points, the generated size; the generated sample is "
                                     f"cut to its first {n} of {x.shape[0]}) against the disjoint half A "
                                     f"({ref_a.shape[0]} points, the common reference)")


def _distance_assessments(run: Run, x: torch.Tensor, g: torch.Generator, *, max_exact: int, n_projections: int,
                          classifier=None) -> tuple:
    """Every distance with its floor, paired-bootstrap spread and ``resolved`` flag (``assess``),
    and the W1 lower confidence limits; returns ``(assessments, estimators, reference, extra)``."""
    rd = run.data
    gen, ref_b, ref_a, reference = _reference_samples(run, x, g)
    gen, ref_b, ref_a = (t.flatten(1).double() for t in (gen, ref_b, ref_a))
    n, na = gen.shape[0], ref_a.shape[0]
    lvl = _ASSESS_LEVEL
    out, est = {}, {}

    def run_assess(key, fn, a_gen, a_ra, a_rb, *, name, how):
        a = metrics.assess(fn, a_gen, a_ra, a_rb, n_boot=EVAL_N_BOOT[key], level=lvl, generator=g, name=name)
        out[key] = a
        est[key] = f"{how}; floor: the same estimator between {reference}; spread: {EVAL_N_BOOT[key]} paired bootstrap replicates"

    # exact W1 on at most max_exact points per sample
    ne, nae = min(n, max_exact), min(na, max_exact)
    run_assess("w1", metrics.wasserstein, gen[:ne], ref_a[:nae], ref_b[:ne], name="exact W1",
               how=f"exact W1 (POT emd2) of {ne} generated vs {nae} reference points")
    # sliced W1: the same n_projections directions for value, floor and every replicate (paired)
    proj = metrics.random_directions(gen.shape[1], n_projections, generator=g, dtype=torch.float64)

    def sliced(a, b):
        return metrics.sliced_wasserstein(a, b, projections=proj)

    run_assess("sliced_w1", sliced, gen, ref_a, ref_b, name="sliced W1",
               how=f"Monte-Carlo sliced W1, {n_projections} fixed random directions, {n} generated vs {na} reference points")
    # MMD²: one RBF bandwidth for all (the median pairwise distance of the reference samples)
    bw = metrics.median_bandwidth(ref_a, ref_b, generator=g)

    def mmd2(a, b):
        return metrics.mmd(a, b, bandwidth=bw)

    run_assess("mmd2", mmd2, gen, ref_a, ref_b, name="MMD²",
               how=f"unbiased RBF MMD², bandwidth {bw:.4g} (median pairwise distance of the reference samples), "
                   f"{n} generated vs {na} reference points")
    # debiased Sinkhorn divergence (p = 1) on at most SINKHORN_MAX_POINTS points per sample
    ns, nas = min(n, SINKHORN_MAX_POINTS), min(na, SINKHORN_MAX_POINTS)
    zs = ref_a[torch.randperm(na, generator=g)[:1000]]
    med = float(torch.pdist(zs).median())
    blur = SINKHORN_BLUR_FRACTION * med

    def sinkhorn(a, b):
        return metrics.sinkhorn_divergence(a, b, blur=blur, p=1, tol=SINKHORN_TOL)

    run_assess("sinkhorn", sinkhorn, gen[:ns], ref_a[:nas], ref_b[:ns], name="debiased Sinkhorn divergence",
               how=f"debiased Sinkhorn divergence S_eps (p = 1, eps = blur = {SINKHORN_BLUR_FRACTION:g} x the held-out "
                   f"reference's median pairwise distance {med:.4g} = {blur:.4g}; Sinkhorn stopped at L1 marginal error "
                   f"{SINKHORN_TOL:g}), {ns} generated vs {nas} reference points")
    extra = {"sinkhorn_blur": blur, "mmd_bandwidth": bw}
    if classifier is not None:
        clf = classifier
        fg, fb, fa = (metrics.extract_features(clf, t.reshape(-1, *rd.image_shape).float()) for t in (gen, ref_b, ref_a))
        run_assess("frechet", metrics.frechet_from_features, fg, fa, fb, name="Fréchet distance on features",
                   how=f"Fréchet distance on the {clf.num_features}-d penultimate features of a small CNN classifier, "
                       f"{n} generated vs {na} reference images")
    return out, est, reference, extra


def _heldout_nll(run: Run, n: int, *, seed: int, rtol: float) -> dict:
    """NLL of ``n`` held-out points under the run's score model by the probability-flow ODE
    (:func:`scoreuq.likelihood.nll`): the exact divergence up to 16 dimensions, Hutchinson (one
    Rademacher probe) above; bits/dim with uniform dequantisation for images."""
    if not run.is_score:
        raise ConfigError(f"nll needs a score model; {run.config.model.kind} is a push-forward model")
    if isinstance(n, bool) or n < 2:
        raise ConfigError(f"nll must be an integer >= 2 (held-out points), got {n!r}")
    rd = run.data
    g = torch.Generator().manual_seed(seed + 17)
    pts = rd.test[torch.randperm(rd.test.shape[0], generator=g)[:n]].to(run.device, torch.float64)
    d = int(pts[0].numel())
    image = rd.image_shape is not None
    res = likelihood.nll(score_fn_of(run.model), run.process, pts, t_min=run.config.sample.t_min, rtol=rtol, atol=rtol,
                         divergence="exact" if d <= 16 else "hutchinson", generator=torch.Generator(device=run.device).manual_seed(seed),
                         dequantize="uniform" if image else None, bits_per_dim=image)
    out = {"mean": float(res.mean), "ci": [float(v) for v in res.ci] if res.ci is not None else None, "n": int(pts.shape[0]),
           "nfe": int(res.nfe), "estimator": res.estimator, "rtol": rtol}
    if image:
        out["bits_per_dim"] = float(res.bits_per_dim)
        out["bits_per_dim_ci"] = [float(v) for v in res.bpd_ci] if res.bpd_ci is not None else None
    return out


def evaluate(run: Run, samples=None, *, n: int | None = None, seed: int = 0, max_exact: int = 2000, n_projections: int = 200,
             classifier_cache=None, nll: int = 0, nll_rtol: float = 1e-4) -> dict:
    """Distances between generated samples and held-out data, each with its floor, spread and ``resolved`` flag.

    Every distance ``d`` is assessed by :func:`scoreuq.metrics.assess`: ``value = d(gen, ref_a)``,
    ``floor = d(ref_b, ref_a)`` with ``ref_b`` an independent sample of π of the generated size
    (a fresh π sample for synthetic data, where ``ref_a`` is the held-out set; for images two
    disjoint random halves of the held-out set, the generated sample cut to the size of ``ref_b``),
    a paired bootstrap spread (``EVAL_N_BOOT`` replicates) and ``resolved`` (the 95% percentile
    interval of value − floor lies above 0: the distance tells this model from π at this size).

    ``w1`` is the exact W1 (POT) on at most ``max_exact`` points per sample; ``sliced_w1`` uses
    ``n_projections`` fixed directions; ``mmd2`` is the unbiased RBF MMD² at one median bandwidth;
    ``sinkhorn`` the debiased Sinkhorn divergence (p = 1, blur ``SINKHORN_BLUR_FRACTION`` × the
    held-out median pairwise distance, at most ``SINKHORN_MAX_POINTS`` points per sample); for
    images ``frechet``, the Fréchet distance on a feature classifier (cached at
    ``classifier_cache``, default in the run directory), and the generated class shares.
    ``w1_lower_bound``: lower confidence limits of the population W1 between the model's law and π
    (:func:`scoreuq.metrics.w1_lower_bound`, generated vs the whole held-out set). For the
    circle, C1 to the training points and C2 to the true circle (003 Def. 4.1–4.2).

    ``metrics.json``: ``generated_vs_heldout`` and ``floor`` (the values, as before), ``assessments``
    (``{metric: Assessment.to_dict()}``), ``w1_lower_bound``, ``estimators`` (how each was computed),
    ``warnings`` (a list of strings; e.g. generated points far outside the data's range, see :func:`_range_warnings`).
    """
    if samples is None:
        samples = sample(run, n=n, seed=seed)
    x = checked_samples(run, samples).float()
    rd = run.data
    g = torch.Generator().manual_seed(seed)
    test = rd.test.float()
    clf = acc = None
    if rd.image_shape is not None:
        clf, acc = feature_classifier(run, classifier_cache)
    assessed, est, reference, extra = _distance_assessments(run, x, g, max_exact=max_exact, n_projections=n_projections,
                                                            classifier=clf)
    lower = metrics.w1_lower_bound(x.flatten(1).double(), test.flatten(1).double(), generator=g)
    est["w1_lower_bound"] = ("lower confidence limits of the population W1(model, π): " + lower["guarantee"]
                             + f" Generated ({x.shape[0]}) vs the whole held-out set ({test.shape[0]}), each split in halves: "
                             "fit a direction and a 1-Lipschitz critic on one half, score on the other (Hoeffding width); "
                             "max-sliced (fitted direction) and sliced (64 random directions).")
    dist_keys = ("w1", "sliced_w1", "mmd2", "sinkhorn")
    out = {"n_generated": int(x.shape[0]), "n_heldout": int(test.shape[0]), "max_exact": max_exact, "n_projections": n_projections,
           "seed": seed, "level": _ASSESS_LEVEL, "estimators": est,
           "generated_vs_heldout": {k: assessed[k].value for k in dist_keys},
           "floor": {"reference": reference, **{k: assessed[k].floor for k in dist_keys}},
           "assessments": {k: a.to_dict() for k, a in assessed.items()},
           "w1_lower_bound": lower, **extra}
    if run.config.data.name == "circle":
        # about the centre and radius fitted to the training data (not the origin): the metrics then mean the
        # same for a circle anywhere (003 Def. 4.1-4.2)
        ctr, rad = metrics.fit_circle(rd.train.double())
        out["circle"] = {"c1_to_train": metrics.c1(x.double(), rd.train.double(), ctr),
                         "c2_to_circle": metrics.c2(x.double(), radius=rad, center=ctr),
                         "center": [float(v) for v in ctr], "radius": float(rad)}
    if nll:
        out["nll"] = _heldout_nll(run, int(nll), seed=seed, rtol=nll_rtol)
    if rd.image_shape is not None:
        pred = metrics.classify(clf, x)
        k = int(rd.labels_full.max()) + 1
        out["frechet"] = {"generated_vs_heldout": assessed["frechet"].value, "floor": assessed["frechet"].floor,
                          "classifier_heldout_accuracy": acc, "features": f"{clf.num_features}-d penultimate layer of a small CNN"}
        out["class_shares"] = {name: class_shares(lab, k).tolist()
                               for name, lab in (("generated", pred), ("train", rd.labels_train), ("full", rd.labels_full))}
    out["warnings"] = _range_warnings(x, rd)
    if run.dir is not None:
        atomic_write_json(run.dir / "metrics.json", out)
    return out


#: a generated point is far outside the data when a coordinate lies beyond this many data ranges past the data's min or max
OUT_OF_RANGE_MARGIN = 0.5
#: warn when more than this share of the generated points is far outside
OUT_OF_RANGE_SHARE = 0.01


def _range_warnings(x: torch.Tensor, rd: RunData) -> list:
    """Warnings (strings) about generated points far outside the data's range.

    The rule: per coordinate j (pixels for images), the data (training and held-out points) span
    ``[lo_j, hi_j]``; a generated point is far outside when some coordinate lies beyond
    ``[lo_j - m * r_j, hi_j + m * r_j]`` with ``m = OUT_OF_RANGE_MARGIN`` (0.5) and
    ``r_j = max(hi_j - lo_j, median_k(hi_k - lo_k))``: a constant coordinate (an image's blank
    border) borrows the typical range, so faint noise there is not flagged. The warning fires when
    more than ``OUT_OF_RANGE_SHARE`` (1%) of the points are far outside: a few tail points are
    expected of any model, a visible share means the sampler or the model went astray (too few
    steps, a too-small t_min, divergence) even where the distances still look finite."""
    data = torch.cat([rd.train.flatten(1), rd.test.flatten(1)]).double()
    gen = x.flatten(1).double()
    lo, hi = data.min(0).values, data.max(0).values
    span = hi - lo
    r = torch.maximum(span, span.median())
    low, high = lo - OUT_OF_RANGE_MARGIN * r, hi + OUT_OF_RANGE_MARGIN * r
    far = ((gen < low) | (gen > high)).any(1)
    share = float(far.double().mean())
    if share <= OUT_OF_RANGE_SHARE:
        return []
    worst = float(torch.maximum(lo - gen, gen - hi).div(r.clamp_min(1e-300)).max())
    return [f"{int(far.sum())} of {gen.shape[0]} generated samples ({share:.1%}) lie far outside the data's range "
            f"(a coordinate more than {OUT_OF_RANGE_MARGIN:g} data ranges beyond the data's min or max; the farthest "
            f"{worst:.3g} ranges beyond); the distances above then mostly measure these points: check the sampler "
            f"(steps, t_min) and the training"]
