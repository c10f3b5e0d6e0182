"""The bad-input matrix: every bad input a careless user can give, one row each.

Each row runs the ``scoreuq`` command in-process (``scoreuq.cli.main``) and asserts

* the exit code: 2 for bad input (a config value, a path, a checkpoint, a held lock),
  1 for a genuine runtime failure (training that diverges);
* a substring of the one-line message on stderr (the field or file it names);
* that the output folder is not created (or, for an existing run or study folder, left as it was).

Add a row for every new config key or option. Keep it fast: tiny configs, one shared trained run.
"""
from __future__ import annotations

import copy
import gzip
import json
import math
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from scoreuq import metrics

from scoreuq.cli import main
from scoreuq.training import _sha256, load_checkpoint, save_checkpoint

TINY = {
    "name": "tiny",
    "seed": 0,
    "data": {"name": "gaussian_mixture", "n_train": 64, "n_test": 64},
    "process": {"name": "ou", "params": {"T": 4.0}},
    "model": {"kind": "mlp", "params": {"preset": "2L16N"}},
    "train": {"epochs": 2, "batch_size": 32, "checkpoint_every": 1},
    "sample": {"sampler": "em", "steps": 10, "n": 50},
}

LAUGHS = ('data: {name: gaussian_mixture}\n'
          'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
          + "".join(f'{k}: &{k} [{",".join(["*" + p] * 9)}]\n' for p, k in zip("abcdefgh", "bcdefghi")))

_INF, _NAN = float("inf"), float("nan")


def run_cli(argv) -> int:
    """``main(argv)``; argparse's own exit (a bad option value) is returned as its code."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code)


def tree(path: Path) -> list:
    """Every file and folder under ``path`` (relative), sorted; [] when it does not exist."""
    if not path.exists():
        return []
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def with_key(cfg: dict, dotted: str, value) -> dict:
    out = copy.deepcopy(cfg)
    *head, last = dotted.split(".")
    tgt = out
    for k in head:
        tgt = tgt.setdefault(k, {})
    tgt[last] = value
    return out


# --------------------------------------------------------------------------- config key x bad value
# (dotted key, bad value, exit code, substring of the message)
CONFIG_CASES = [
    # counts
    ("train.epochs", 10**12, 2, "epochs must be an integer in [1, 10,000,000]"),
    ("train.epochs", 0, 2, "epochs"),
    ("train.epochs", 2.5, 2, "epochs"),
    ("train.batch_size", 0, 2, "batch_size"),
    ("data.n_train", "1e12", 2, "data.n_train"),  # YAML 1.1 reads 1e12 as a string; it becomes the float 1e12
    ("data.n_train", 10**12, 2, "data.n_train"),
    ("data.n_train", 1, 2, "data.n_train must be an integer in [2,"),
    ("data.n_test", 0, 2, "data.n_test"),
    ("data.repeat", 0, 2, "data.repeat"),
    ("sample.n", 10**12, 2, "sample.n"),
    ("sample.steps", 0, 2, "sample.steps"),
    ("seed", 2**70, 2, "seed must be an integer in [0, 2**63 - 1]"),
    ("seed", -1, 2, "seed"),
    # learning rate: non-finite or <= 0 is a config error; a huge finite one is a runtime failure (below)
    ("train.lr", 0.0, 2, "lr must be a finite number > 0"),
    ("train.lr", -1e-3, 2, "lr must be a finite number > 0"),
    ("train.lr", _INF, 2, "lr must be a finite number > 0"),
    ("train.lr", _NAN, 2, "lr"),
    ("train.lr", "fast", 2, "lr"),
    # every other float of train / sample / data / process: finite and in range
    ("train.t_min", _NAN, 2, "t_min"),
    ("train.t_min", _INF, 2, "t_min"),
    ("train.ema_decay", 1.0, 2, "ema_decay must lie in [0, 1)"),
    ("train.ema_decay", _NAN, 2, "ema_decay"),
    ("train.grad_clip", _INF, 2, "grad_clip"),
    ("train.grad_clip", 0.0, 2, "grad_clip"),
    ("sample.snr", _INF, 2, "sample.snr must be a finite number > 0"),
    ("sample.snr", _NAN, 2, "sample.snr"),
    ("sample.snr", 0.0, 2, "sample.snr"),
    ("sample.snr", -0.1, 2, "sample.snr"),
    ("sample.t_min", _INF, 2, "sample.t_min"),
    ("sample.t_min", 5.0, 2, "t_min must lie in (0, T=4.0)"),
    ("sample.sampler", "rk4", 2, "sample.sampler"),
    ("data.keep_ratio", _NAN, 2, "data.keep_ratio"),
    ("data.test_fraction", 1.0, 2, "data.test_fraction"),
    ("process.params.T", _INF, 2, "process.params.T"),
    ("process.params.T", 0.0, 2, "process.params.T"),
    ("process.params.beta", _NAN, 2, "process.params.beta"),
    ("process.params.sigma", -1.0, 2, "process.params.sigma"),
    ("process.params.alpha", "abc", 2, "process.params.alpha"),
    ("process.params.alpha", _INF, 2, "process.params.alpha"),
    # Gaussian-mixture parameters: non-numeric or wrongly shaped
    ("data.params", {"means": "abc"}, 2, "data.params.means"),
    ("data.params", {"means": [[0.0, 1.0], [2.0]]}, 2, "data.params.means"),
    ("data.params", {"means": [[0.0, "x"]]}, 2, "data.params.means"),
    ("data.params", {"means": []}, 2, "data.params.means"),
    ("data.params", {"means": [[0.0, _INF]]}, 2, "data.params.means"),
    ("data.params", {"means": True}, 2, "data.params.means"),
    ("data.params", {"stds": 1.0}, 2, "data.params.means is required"),
    ("data.params", {"means": [[0.0, 0.0], [1.0, 1.0]], "weights": [1.0]}, 2, "data.params.weights"),
    ("data.params", {"means": [[0.0, 0.0], [1.0, 1.0]], "weights": "abc"}, 2, "data.params.weights"),
    ("data.params", {"means": [[0.0, 0.0], [1.0, 1.0]], "weights": [1.0, -1.0]}, 2, "data.params.weights"),
    ("data.params", {"means": [[0.0, 0.0], [1.0, 1.0]], "stds": "wide"}, 2, "data.params.stds"),
    ("data.params", {"means": [[0.0, 0.0], [1.0, 1.0]], "stds": [1.0, 1.0, 1.0]}, 2, "data.params.stds"),
    ("data.params", {"means": [[0.0, 0.0]], "covariances": [[1.0]]}, 2, "data.params.covariances"),
    ("data.params", {"meens": [[0.0, 0.0]]}, 2, "data.params.meens"),
    # names, kinds, unknown keys
    ("data.name", "mnist", 2, "data.name"),
    ("model.kind", "scorenet", 2, "model.kind"),
    ("model.params.preset", "big", 2, "preset"),
    ("train.lrr", 1e-3, 2, "unknown key train.lrr"),
    ("trian", {}, 2, "unknown key trian"),
    ("device", "tpu", 2, "device"),
    ("name", "a b", 2, "name"),
]


@pytest.mark.parametrize("key, value, code, message", CONFIG_CASES, ids=[f"{k}={v!r}"[:60] for k, v, *_ in CONFIG_CASES])
def test_bad_config_value(tmp_path, capsys, key, value, code, message):
    cfg = tmp_path / "c.yaml"
    text = yaml.safe_dump(with_key(TINY, key, value))
    cfg.write_text(text)
    out = tmp_path / "runs"
    assert run_cli(["train", cfg, "--out", out, "-q"]) == code
    err = capsys.readouterr().err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err  # one line, no traceback
    assert not out.exists()


# --------------------------------------------------------------------------- whole files
FILE_CASES = [
    ("billion laughs (aliases)", LAUGHS, "aliases"),
    ("duplicate keys", "data: {name: gaussian_mixture}\ntrain: {epochs: 2}\ntrain: {epochs: 3}\n", "duplicate key 'train'"),
    ("empty", "", "is empty"),
    ("comment only", "# nothing here\n", "is empty"),
    ("a list", "- a\n- b\n", "must hold a mapping"),
    ("not YAML", "data: {name: [\n", "not valid YAML"),
    ("epochs as 10**12", "data: {name: gaussian_mixture}\ntrain: {epochs: 1000000000000}\n", "epochs"),
]


@pytest.mark.parametrize("command", ["train", "study"])
@pytest.mark.parametrize("text, message", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES])
def test_bad_config_file(tmp_path, capsys, command, text, message):
    if command == "study" and message == "epochs":
        text = f"name: s\nbase: {{data: {{name: gaussian_mixture}}, train: {{epochs: 1000000000000}}}}\nfactors: {{train.lr: [0.001]}}\nseeds: [0]\n"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    out = tmp_path / "out"
    assert run_cli([command, cfg, "--out", out]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not out.exists()


# --------------------------------------------------------------------------- paths and options
def _paths(tmp_path: Path) -> dict:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    (tmp_path / "a_dir").mkdir()
    return {"cfg": cfg, "file": a_file, "dir": tmp_path / "a_dir", "out": tmp_path / "out", "missing": tmp_path / "missing.yaml"}


PATH_CASES = [
    ("train --out is a file", ["train", "{cfg}", "--out", "{file}"], 2, "--out must be a directory"),
    ("train --out under a file", ["train", "{cfg}", "--out", "{file}/runs"], 2, "--out"),
    ("train missing config", ["train", "{missing}", "--out", "{out}"], 2, "does not exist"),
    ("train config is a directory", ["train", "{dir}", "--out", "{out}"], 2, "is a directory"),
    ("train --resume not a run", ["train", "{cfg}", "--resume", "{dir}"], 2, "--resume"),
    ("study --out is a file", ["study", "sample-size", "--out", "{file}"], 2, "--out must be a directory"),
    ("study missing file", ["study", "{missing}", "--out", "{out}"], 2, "no study file"),
    ("demo --out is a file", ["demo", "--out", "{file}", "--n", "10"], 2, "--out must be a directory"),
    ("demo --seed 2**70", ["demo", "--seed", str(2**70), "--out", "{out}"], 2, "--seed must be an integer in [0, 2**63 - 1]"),
    ("demo --seed -1", ["demo", "--seed", "-1", "--out", "{out}"], 2, "--seed"),
    ("demo --n 0", ["demo", "--n", "0", "--out", "{out}"], 2, "--n must be an integer >= 1"),
    ("--quiet with --verbose", ["train", "{cfg}", "--out", "{out}", "-q", "-v"], 2, "not allowed with"),
]


@pytest.mark.parametrize("argv, code, message", [c[1:] for c in PATH_CASES], ids=[c[0] for c in PATH_CASES])
def test_bad_path_or_option(tmp_path, capsys, argv, code, message):
    p = _paths(tmp_path)
    before = tree(tmp_path)
    assert run_cli([a.format(**p) for a in argv]) == code
    err = capsys.readouterr().err
    assert message in err, err
    assert tree(tmp_path) == before  # nothing created, nothing changed
    assert not p["out"].exists()


# --------------------------------------------------------------------------- a diverging run
def test_lr_that_diverges_exits_1_removes_the_checkpointless_run(tmp_path, capsys):
    """lr 1e6 is finite (a valid config) but training diverges before the first checkpoint: exit 1,
    a message that does not claim a checkpoint is kept, and no run folder left behind."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(with_key(with_key(TINY, "train.lr", 1e6), "train.batch_size", 8)))
    out = tmp_path / "runs"
    assert run_cli(["train", cfg, "--out", out, "-q"]) == 1
    err = capsys.readouterr().err
    assert "no checkpoint had been written" in err and "was removed" in err and "train.lr" in err, err
    assert "last good checkpoint" not in err
    assert not out.exists()
    out.mkdir()  # an existing --out folder stays, empty
    assert run_cli(["train", cfg, "--out", out, "-q"]) == 1
    assert tree(out) == []


def test_divergence_after_a_checkpoint_keeps_it_and_says_so(tmp_path, capsys, monkeypatch):
    from scoreuq.training import Trainer

    real = Trainer._loss
    calls = {"n": 0}

    def loss(self, *a, **kw):  # finite for the first epoch (two steps), then NaN
        calls["n"] += 1
        v = real(self, *a, **kw)
        return v * float("nan") if calls["n"] > 2 else v

    monkeypatch.setattr(Trainer, "_loss", loss)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "runs"
    assert run_cli(["train", cfg, "--out", out, "-q"]) == 1
    err = capsys.readouterr().err
    assert "last good checkpoint" in err and "is kept" in err, err
    assert "was removed" not in err
    ck = out / "00000-tiny" / "checkpoints" / "last.pt"
    assert int(load_checkpoint(ck)["epoch"]) == 1
    assert not (out / "00000-tiny" / ".lock").exists()


# --------------------------------------------------------------------------- checkpoints
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny trained run, copied by each test that changes it."""
    root = tmp_path_factory.mktemp("trained")
    cfg = root / "c.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    assert main(["train", str(cfg), "--out", str(root / "runs"), "-q"]) == 0
    return root / "runs" / "00000-tiny"


def _flip_a_byte(ck: Path) -> None:
    raw = bytearray(ck.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    ck.write_bytes(bytes(raw))


def _nan_weights(ck: Path) -> None:
    st = load_checkpoint(ck)
    k = next(iter(st["ema"]))
    st["ema"][k] = torch.full_like(st["ema"][k], float("nan")) if st["ema"][k].is_floating_point() else st["ema"][k]
    k = next(k for k, v in st["model"].items() if v.is_floating_point())
    st["model"][k] = st["model"][k] * float("nan")
    save_checkpoint(ck, st)  # a valid checksum: the NaN check itself must refuse it


class _Payload:
    def __reduce__(self):
        return (os.getpid, ())


def _pickled_code(ck: Path) -> None:
    torch.save({"model": _Payload()}, ck)
    ck.with_name(ck.name + ".sha256").write_text(_sha256(ck) + "\n")


def _no_sidecar(ck: Path) -> None:
    ck.with_name(ck.name + ".sha256").unlink()


def _no_checkpoint(ck: Path) -> None:
    shutil.rmtree(ck.parent)


CHECKPOINT_CASES = [
    ("corrupt (a flipped byte)", _flip_a_byte, "corrupted"),
    ("NaN weights", _nan_weights, "NaN or infinite values"),
    ("code in the pickle (weights_only refusal)", _pickled_code, "will not execute"),
    ("no checksum file", _no_sidecar, "no checksum file"),
    ("no checkpoint", _no_checkpoint, "no checkpoint yet"),
]


_COMMANDS = {"sample": ["sample", "{rd}", "--n", "5"], "evaluate": ["evaluate", "{rd}", "--n", "5", "--nll", "0"],
             "resume": ["train", "{rd}/config.yaml", "--resume", "{rd}"]}
# resuming a run without a checkpoint trains it from the start: not an error, so not a row
_CK_ROWS = [(cmd, *case) for case in CHECKPOINT_CASES for cmd in _COMMANDS if not (cmd == "resume" and case[1] is _no_checkpoint)]


@pytest.mark.parametrize("command, label, spoil, message", _CK_ROWS, ids=[f"{r[1]}-{r[0]}" for r in _CK_ROWS])
def test_bad_checkpoint(tmp_path, capsys, trained, command, label, spoil, message):
    rd = tmp_path / "run"
    shutil.copytree(trained, rd)
    spoil(rd / "checkpoints" / "last.pt")
    command = _COMMANDS[command]
    before = tree(rd)
    assert run_cli([a.format(rd=rd) for a in command]) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert "weights_only=False" not in err  # never relay torch's advice to run the file's code
    assert tree(rd) == before  # no samples, metrics or lock left behind


# --------------------------------------------------------------------------- concurrency
def _hold(folder: Path) -> None:
    """A lock held by a live process (this one) on this host, as a running command leaves it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".lock").write_text(f"{socket.gethostname()} {os.getpid()}\n")


def test_held_run_folder_lock(tmp_path, capsys, trained):
    rd = tmp_path / "run"
    shutil.copytree(trained, rd)
    _hold(rd)
    before = {p: (rd / p).stat().st_mtime_ns for p in tree(rd)}
    assert run_cli(["train", rd / "config.yaml", "--resume", rd, "-q"]) == 2
    err = capsys.readouterr().err
    assert "run folder" in err and f"in use by process {os.getpid()}" in err, err
    assert {p: (rd / p).stat().st_mtime_ns for p in tree(rd)} == before


def test_held_study_folder_lock(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({"name": "s", "base": TINY, "factors": {"train.lr": [1e-3]}, "seeds": [0],
                                     "evaluate": {"n": 20}, "bound": False}))
    out = tmp_path / "study"
    _hold(out)
    assert run_cli(["study", study, "--out", out, "-q"]) == 2
    err = capsys.readouterr().err
    assert "study folder" in err and f"in use by process {os.getpid()}" in err, err
    assert tree(out) == [".lock"]


# --------------------------------------------------------------------------- studies: every stage validated up front
STUDY_CASES = [
    ("seminar bound on unlabelled data", {"bound": {"estimators": "seminar"}}, "bound.estimators: seminar needs labelled image data"),
    ("bound.delta out of range", {"bound": {"delta": 2.0}}, "bound.delta"),
    ("bound.t_min beyond T", {"bound": {"t_min": 10.0}}, "bound.t_min must lie in (0, T)"),
    ("bound.t_min not finite", {"bound": {"t_min": _INF}}, "bound.t_min"),
    ("bound.eps, the old name of bound.t_min", {"bound": {"eps": 0.01}}, "bound.eps is now called bound.t_min"),
    ("bound.d1 unknown", {"bound": {"d1": "approx"}}, "bound.d1"),
    ("bound.n_sub too small", {"bound": {"n_sub": 1}}, "bound.n_sub"),
    ("unknown bound key", {"bound": {"estimator": "both"}}, "bound.estimator"),
    ("a factor level gives snr inf", {"factors": {"sample.snr": [0.16, _INF]}}, "sample.snr"),
    ("a factor level gives bad means", {"factors": {"data.params.means": [[[0.0, 0.0]], "abc"]}}, "data.params.means"),
    ("evaluate.n too small", {"evaluate": {"n": 1}}, "evaluate.n"),
]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "start"])
@pytest.mark.parametrize("change, message", [c[1:] for c in STUDY_CASES], ids=[c[0] for c in STUDY_CASES])
def test_bad_study(tmp_path, capsys, change, message, dry_run):
    spec = {"name": "s", "base": TINY, "factors": {"train.lr": [1e-3]}, "seeds": [0], "evaluate": {"n": 20},
            "bound": {"estimators": "faithful", "n_sub": 20, "seeds": [0]}}
    spec.update(change)
    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump(spec))
    out = tmp_path / "study"
    assert run_cli(["study", study, "--out", out, "-q"] + (["--dry-run"] if dry_run else [])) == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert not out.exists()


# --------------------------------------------------------------------------- image files
def _idx(magic: int, arr: np.ndarray) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in arr.shape) + arr.tobytes()


@pytest.mark.parametrize("where", ["images", "labels"])
def test_mnist_gzip_with_a_flipped_byte(tmp_path, capsys, where):
    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.RandomState(0)
    imgs = rng.randint(0, 256, (40, 28, 28)).astype(np.uint8)
    labs = (np.arange(40) % 10).astype(np.uint8)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(0x803, imgs), mtime=0))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(0x801, labs), mtime=0))
    bad = folder / f"t10k-{where}-idx{3 if where == 'images' else 1}-ubyte.gz"
    raw = bytearray(bad.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    bad.write_bytes(bytes(raw))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"name": "m", "data": {"name": "mnist_idx", "params": {"folder": str(folder), "split": "test",
                                                                                          "verify": False}},
                                   "model": {"kind": "scorenet"}, "train": {"epochs": 1}}))
    out = tmp_path / "runs"
    assert run_cli(["train", cfg, "--out", out, "-q"]) == 2
    err = capsys.readouterr().err
    assert bad.name in err and "corrupted" in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


# --------------------------------------------------------------------------- machine-readable output
def test_json_output_is_one_document(tmp_path, capsys):
    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({"name": "s", "base": TINY, "factors": {"train.lr": [1e-3, 2e-3]}, "seeds": [0, 1]}))
    assert run_cli(["study", study, "--dry-run", "--json", "--out", tmp_path / "s"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] and doc["runs"] == 4 and len(doc["settings"]) == 2 and not (tmp_path / "s").exists()


# --------------------------------------------------------------------------- numbers: finite inputs, finite answers
# The library-level cases of the issue: a metric's value must not depend on argument order or dtype mix, and
# finite inputs of any magnitude give a finite answer (never NaN, never POT's "raise num_iter_max" advice).
def test_numbers_mmd_promotes_mixed_dtypes_symmetrically():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(50, 3, generator=g, dtype=torch.float64) + 100.0
    y = torch.randn(40, 3, generator=g, dtype=torch.float64) + 100.3
    v = metrics.mmd(x.float(), y, 0.7)
    assert v == pytest.approx(metrics.mmd(y, x.float(), 0.7), rel=1e-12)
    assert v == pytest.approx(metrics.mmd(x.float().double(), y, 0.7), rel=1e-12)  # y not rounded to float32


def test_numbers_mmd_finite_for_huge_finite_inputs():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(60, 4, generator=g, dtype=torch.float64)
    y = torch.randn(60, 4, generator=g, dtype=torch.float64) + 0.5
    base = metrics.mmd(x, y, "median")
    for s, dt in ((1e20, torch.float32), (1e20, torch.float64), (1e300, torch.float64)):
        v = metrics.mmd((x * s).to(dt), (y * s).to(dt), "median")
        assert math.isfinite(v) and v == pytest.approx(base, rel=1e-4)
        assert math.isfinite(metrics.mmd((x * s).to(dt), (y * s).to(dt), 1.0))


def test_numbers_exact_w1_is_stable_for_huge_and_offset_inputs():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(60, 3, generator=g, dtype=torch.float64)
    b = torch.randn(60, 3, generator=g, dtype=torch.float64) + 0.5
    ref = metrics.wasserstein(a, b)
    assert abs(metrics.wasserstein(a + 1e6, b + 1e6) - ref) < 1e-6 * ref
    assert abs(metrics.wasserstein(a * 1e20, b * 1e20) / 1e20 - ref) < 1e-9 * ref  # used to fail in POT
    assert metrics.wasserstein(a, a) == 0.0
