"""Runs: a validated config → train → sample → evaluate, in an auto-numbered run directory.

Modules: :mod:`~scoreuq.runs.config` (the config), :mod:`~scoreuq.runs.build` (data, process,
model), :mod:`~scoreuq.runs.folders` (``Run``, ``prepare``, run directories),
:mod:`~scoreuq.runs.fitting` (``train``, ``load_run``), :mod:`~scoreuq.runs.samples` (``sample``,
sample files), :mod:`~scoreuq.runs.classifier` (the feature classifier cache),
:mod:`~scoreuq.runs.evaluation` (``evaluate``) and :mod:`~scoreuq.runs.bounding` (``bound``).
"""
from .bounding import bound
from .build import RunData, build_data, build_model, build_process
from .classifier import feature_classifier
from .config import ConfigError, DataConfig, ModelConfig, ProcessConfig, RunConfig, SampleConfig, load_config
from .evaluation import evaluate
from .fitting import load_run, train
from .folders import Run, new_run_dir, prepare
from .samples import sample, sample_to_file, score_fn_of

__all__ = [
    "RunConfig", "DataConfig", "ProcessConfig", "ModelConfig", "SampleConfig", "ConfigError", "load_config",
    "RunData", "build_data", "build_process", "build_model",
    "Run", "prepare", "new_run_dir", "train", "load_run", "sample", "sample_to_file", "evaluate", "score_fn_of", "bound",
    "feature_classifier",
]
