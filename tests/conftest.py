from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def mnist_dir():
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip("../shared/data/mnist is not beside this checkout")
    return SHARED_MNIST


@pytest.fixture
def one_thread():
    """One torch thread, as the study runner pins it (``threads: 1``), restored afterwards. Files of many
    tiny tensor ops use it (``pytestmark = pytest.mark.usefixtures("one_thread")``): on a shared 2-core
    machine intra-op threading made them 10-70x slower (OpenMP spin-waits; measured)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
