"""Runs: a validated config → train → sample → evaluate, in an auto-numbered run directory."""
from .build import RunData, build_data, build_model, build_process
from .config import ConfigError, DataConfig, ModelConfig, ProcessConfig, RunConfig, SampleConfig, load_config
from .run import Run, bound, evaluate, feature_classifier, load_run, new_run_dir, prepare, sample, sample_to_file, score_fn_of, train

__all__ = [
    "RunConfig", "DataConfig", "ProcessConfig", "ModelConfig", "SampleConfig", "ConfigError", "load_config",
    "RunData", "build_data", "build_process", "build_model",
    "Run", "prepare", "new_run_dir", "train", "load_run", "sample", "sample_to_file", "evaluate", "score_fn_of", "bound",
    "feature_classifier",
]
