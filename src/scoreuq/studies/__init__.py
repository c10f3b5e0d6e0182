"""Studies: a grid of runs (train → sample → evaluate → bound), its table and its report.

The shipped studies are YAML files among the configs (``configs/study-*.yaml``):
``imbalance`` (the seminar's class-imbalance study, 000 §4 Table 1, the README's main job)
and the five error sources of the WUP paper (001) on a 2-D Gaussian mixture, where π is
exact: ``sample-size`` (N), ``early-stopping`` (ε), ``objective`` (DSM/ESM/ISM/sliced SM),
``capacity`` (network size) and ``reference`` (prior and T).
"""
from .config import EXECUTORS, RunSpec, Setting, StudyConfig, find_study, is_compute_study, load_study, shipped
from .runner import StudyError, StudyResult, check_study, load_records, run_one, run_study
from .table import summarize, trends, write_table

__all__ = ["is_compute_study", "shipped", "StudyConfig", "Setting", "RunSpec", "load_study", "find_study", "EXECUTORS", "run_study", "run_one", "check_study",
           "StudyResult", "StudyError", "load_records", "write_table", "summarize", "trends"]
