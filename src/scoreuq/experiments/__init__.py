"""Compute-only experiments: functions of a parameter set and a seed, run as studies without training.

A study whose config says ``compute: <name>`` runs :attr:`Experiment.fn` once per setting and seed
on the same runner, table, trends and report as the training studies (resumable, three executors,
mean ± sd over seeds); nothing is trained or sampled from a network.

An experiment is a small record (:class:`Experiment`):

- ``fn(params, seed) -> {"values": {column: float}, "extras": {...}}`` computes one run. ``params``
  is the study's ``params`` with the setting's factor levels applied (every key of ``defaults``
  is present); ``extras`` is optional and JSON-able (curves for the figures, arrays as lists).
- ``defaults``: every parameter the experiment takes, with its default; a study that names any
  other parameter is an error naming it.
- ``check(params)`` raises :class:`ValueError` naming the parameter and its allowed range; it is
  called for every run of a grid before anything is written.
- ``titles`` and ``estimators``: per column, a short title and how the number is estimated.
- ``analyse(rows) -> [finding]`` (optional): aggregate figures over the whole grid (a fitted
  slope, an arg-min), each a mapping ``{"figure", "ours", "thesis", "agrees", "note"}`` with
  ``ours`` and ``thesis`` as printed strings; ``rows`` is a list of ``{"params", "seed",
  "values", "extras"}``, one per run. The report puts these first, beside the thesis's figure.
- ``thesis``: where in the seed documents the experiment comes from (``"003 §5.1.1, Fig. 5.1"``).

Experiments register themselves with :func:`register`; :func:`get` looks one up by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Experiment", "register", "get", "names", "EXPERIMENTS"]


@dataclass(frozen=True)
class Experiment:
    """A compute-only experiment (module docstring)."""

    name: str
    fn: Callable[[dict, int], dict]
    defaults: dict
    check: Callable[[dict], None]
    titles: dict = field(default_factory=dict)
    estimators: dict = field(default_factory=dict)
    analyse: Callable[[list], list] | None = None
    thesis: str = ""
    description: str = ""


#: name -> Experiment; filled by the experiment modules when this package is imported
EXPERIMENTS: dict = {}


def register(exp: Experiment) -> Experiment:
    if exp.name in EXPERIMENTS:
        raise ValueError(f"an experiment named {exp.name!r} is already registered")
    EXPERIMENTS[exp.name] = exp
    return exp


def names() -> list:
    return sorted(EXPERIMENTS)


def get(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(names())}")
    return EXPERIMENTS[name]


from . import forward, siem_tracking, thesis_misc, thesis_trained  # noqa: E402,F401  (register the experiments)
