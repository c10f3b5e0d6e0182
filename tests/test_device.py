"""One device everywhere, checked without a GPU: a simulated accelerator (tests/fake_device.py)
whose tensors refuse to meet plain CPU tensors, as CUDA tensors do; and a CUDA-trained
checkpoint (a 16-byte generator state) loading on a CPU-only machine."""
import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scoreuq as su  # noqa: E402
from fake_device import FakeTensor, fake_accelerator, fake_device  # noqa: E402

# The autograd engine sizes its per-device queues at its first backward pass, so the fake backend
# must be registered before any test runs one: here, at collection.
fake_device()
from scoreuq.runs import RunConfig  # noqa: E402
from scoreuq.training import TrainConfig, Trainer, load_checkpoint, save_checkpoint  # noqa: E402

TINY = {
    "name": "tiny",
    "seed": 0,
    "data": {"name": "gaussian_mixture", "n_train": 128, "n_test": 128},
    "process": {"name": "ou", "params": {"T": 4.0}},
    "model": {"kind": "mlp", "params": {"preset": "2L32N", "activation": "silu"}},
    "train": {"epochs": 2, "batch_size": 64, "checkpoint_every": 1},
    "sample": {"sampler": "em", "steps": 10, "n": 100},
}

DIGITS = {
    "name": "tinydigits",
    "seed": 0,
    "data": {"name": "digits", "n_test": 64, "n_train": 128},
    "process": {"name": "vp"},
    "model": {"kind": "scorenet", "params": {"channels": [4, 8, 8], "embed_dim": 8}},
    "train": {"epochs": 1, "batch_size": 64, "checkpoint_every": 1},
    "sample": {"sampler": "em", "steps": 5, "n": 16},
}

BOUND_KW = dict(n_sub=64, seeds=(0,), lipschitz_kw={"n_times": 2, "n_per_t": 4, "n_iter": 3},
                c2_kw={"n_times": 2, "n_per_t": 4, "n_outer": 1, "n_iter": 3})
# the run-level bound on the device: the MLP pipeline runs every stage (adversarial search, certificate, the tightest
# admissible value), the U-Net one the sampled and statistical sups only (its third-order derivatives are slow here)
RUN_BOUND_MLP = dict(BOUND_KW, measure_curve=False)
RUN_BOUND_UNET = dict(BOUND_KW, search=False, optimise=False)


@pytest.fixture
def fake(monkeypatch):
    """The fake accelerator, with every run resolving its device to it. The bound's estimators use reverse mode
    only (Jacobian-vector products by the double-backward trick), so they run on it unpatched."""
    with fake_accelerator() as dev:
        monkeypatch.setattr(su.runs.build, "resolve_device", lambda name: dev)
        monkeypatch.setattr(su.runs.folders, "resolve_device", lambda name: dev)
        yield dev


# ---------------------------------------------------------------- the simulated accelerator itself
def test_fake_device_behaves_like_an_accelerator(fake):
    x = torch.randn(4, 2, device=fake)
    assert isinstance(x, FakeTensor) and x.device.type == "fakeacc"
    with pytest.raises(RuntimeError, match="same device"):
        x + torch.ones(4, 2)
    assert (x + torch.tensor(1.0)).device == x.device  # 0-d CPU tensors are scalars, as on CUDA
    assert (x * 2.0).device == x.device
    with pytest.raises(TypeError, match="cpu"):
        x.numpy()
    assert x.cpu().numpy().shape == (4, 2)
    assert isinstance(x.sum().item(), float)
    assert x[torch.tensor([0, 1])].shape == (2, 2)  # CPU indices are accepted, as on CUDA
    m = torch.nn.Linear(2, 2).to(fake)
    assert m.weight.device == x.device
    with pytest.raises(RuntimeError, match="same device"):
        m(torch.zeros(3, 2))
    g = torch.Generator(device=fake).manual_seed(0)
    assert torch.randn(3, generator=g, device=fake).device == x.device
    with pytest.raises(RuntimeError, match="generator"):
        torch.randn(3, generator=g)
    with pytest.raises(RuntimeError):
        torch.Generator().set_state(g.get_state())  # a 16-byte state, as a CUDA generator's


# ---------------------------------------------------------------- the pipeline on the fake device
def test_gmm_pipeline_on_the_fake_accelerator(fake, tmp_path):
    cfg = RunConfig.from_dict(TINY)
    run_dir = su.runs.train(cfg, root=tmp_path)  # trainer probe, DSM, checkpoints, figures (2-D score field)
    assert (run_dir / "score_field.png").is_file()
    run = su.runs.load_run(run_dir)
    assert run.device.type == "fakeacc" and next(run.model.parameters()).device == run.device
    x = su.runs.sample(run, n=50, seed=1)
    assert x.device.type == "cpu" and x.shape == (50, 2)
    for s in ("pc", "ode"):
        assert su.runs.sample(run, n=20, sampler=s, steps=4).shape == (20, 2)
    ev = su.runs.evaluate(run, n=60)
    assert ev["generated_vs_heldout"]["w1"] > 0
    b = su.runs.bound(run, estimators="faithful", **RUN_BOUND_MLP)
    assert b["faithful"]["label"] == "certified" and b["faithful"]["bound"] > 0 and b["faithful"]["optimum"]["value"] > 0
    json.loads((run_dir / "bound.json").read_text())


def test_run_from_the_accelerator_loads_on_cpu(tmp_path, monkeypatch):
    with fake_accelerator() as dev:
        monkeypatch.setattr(su.runs.build, "resolve_device", lambda name: dev)
        monkeypatch.setattr(su.runs.folders, "resolve_device", lambda name: dev)
        run_dir = su.runs.train(RunConfig.from_dict(TINY), root=tmp_path, figures=False)
    monkeypatch.undo()
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["rng"].numel() == 16
    run = su.runs.load_run(run_dir, device="cpu")
    assert run.device.type == "cpu"
    assert su.runs.sample(run, n=10).shape == (10, 2)
    # resuming on the CPU continues deterministically from the re-seeded stream
    cfg = RunConfig.from_dict({**TINY, "train": {**TINY["train"], "epochs": 3}})
    a = tmp_path / "a"
    b = tmp_path / "b"
    import shutil

    shutil.copytree(run_dir, a)
    shutil.copytree(run_dir, b)
    for d in (a, b):
        (d / "config.yaml").unlink()
        su.runs.train(cfg, run_dir=d, figures=False)
    wa = load_checkpoint(a / "checkpoints" / "last.pt")["model"]
    wb = load_checkpoint(b / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("with_device_field", [True, False])
def test_cuda_checkpoint_loads_on_cpu(tmp_path, with_device_field):
    """A checkpoint whose generator state is a CUDA generator's (16 bytes: seed and Philox offset,
    not the CPU's 5056) loads on a CPU-only machine; with or without the rng_device field (older files)."""
    run_dir = su.runs.train(RunConfig.from_dict(TINY), root=tmp_path, figures=False)
    path = run_dir / "checkpoints" / "last.pt"
    st = load_checkpoint(path)
    assert st["rng"].numel() == 5056
    cuda_state = torch.cat([torch.tensor([42], dtype=torch.int64).view(torch.uint8), torch.tensor([1234], dtype=torch.int64).view(torch.uint8)])
    assert cuda_state.dtype == torch.uint8 and cuda_state.numel() == 16
    st["rng"] = cuda_state
    if with_device_field:
        st["rng_device"] = "cuda"
    else:
        st.pop("rng_device", None)
    save_checkpoint(path, st)
    run = su.runs.load_run(run_dir, device="cpu")
    assert su.runs.sample(run, n=8).shape == (8, 2)


def test_same_device_checkpoint_with_a_bad_state_is_refused(tmp_path):
    run_dir = su.runs.train(RunConfig.from_dict(TINY), root=tmp_path, figures=False)
    path = run_dir / "checkpoints" / "last.pt"
    st = load_checkpoint(path)
    st["rng"] = torch.zeros(16, dtype=torch.uint8)
    st["rng_device"] = "cpu"
    save_checkpoint(path, st)
    with pytest.raises(su.training.CheckpointError):
        su.runs.load_run(run_dir)


# ---------------------------------------------------------------- a user's module on another device
def test_user_module_on_another_device_is_a_clear_error(fake):
    proc = su.processes.OrnsteinUhlenbeck()
    data = torch.randn(32, 2)
    net = su.nets.ScoreMLP(dim=2).to(fake)
    with pytest.raises(ValueError, match=r"fakeacc:0.*cpu|cpu.*fakeacc:0"):
        Trainer(net, proc, data, TrainConfig(epochs=1))
    Trainer(net, proc, data.to(fake), TrainConfig(epochs=1)).fit()  # same device: fine
    with pytest.raises(ValueError, match=r"fakeacc:0.*cpu|cpu.*fakeacc:0"):
        su.bounds.wup(net, proc, data, su.data.GaussianMixture([[0.0, 0.0]]), t_min=0.01, **BOUND_KW)
    fn = su.runs.score_fn_of(net)
    with pytest.raises(ValueError, match=r"fakeacc:0.*cpu|cpu.*fakeacc:0"):
        fn(data, torch.full((32,), 0.5))
    assert fn(data.to(fake), torch.full((32,), 0.5)).device.type == "fakeacc"


def test_digits_pipeline_on_the_fake_accelerator(fake, tmp_path):
    cfg = RunConfig.from_dict(DIGITS)
    run_dir = su.runs.train(cfg, root=tmp_path)
    run = su.runs.load_run(run_dir)
    x = su.runs.sample(run, n=16)
    assert x.shape[1:] == run.data.train.shape[1:]
    b = su.runs.bound(run, estimators="both", **RUN_BOUND_UNET)
    assert b["faithful"]["bounds"]["lower estimate"]["value"] > 0 and b["seminar"]["bound"] > 0
    assert b["faithful"]["bound"] is None or b["faithful"]["label"] == "statistical"


@pytest.mark.parametrize("argv, field", [
    (["train", "{gmm}", "--device", "cuda"], "cuda"),
    (["train", "{gmm}", "--device", "tpu"], "device"),
    (["study", "sample-size", "--device", "cuda"], "cuda"),
    (["study", "sample-size", "--device", "tpu"], "device"),
])
def test_cli_device_without_cuda_or_unknown_exits_2_and_writes_nothing(tmp_path, capsys, argv, field):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from scoreuq.cli import main
    from scoreuq.studies.config import configs_dir

    out = tmp_path / "out"
    argv = [a.replace("{gmm}", str(configs_dir() / "gmm.yaml")) for a in argv] + ["--out", str(out)]
    assert main(argv) == 2
    assert field in capsys.readouterr().err
    assert not out.exists()


def test_config_device_tpu_is_refused(tmp_path):
    from scoreuq.runs.config import ConfigError, load_config
    from scoreuq.studies.config import configs_dir

    bad = tmp_path / "c.yaml"
    bad.write_text((configs_dir() / "gmm.yaml").read_text().replace("seed: 0", "seed: 0\ndevice: tpu"))
    with pytest.raises(ConfigError, match="device"):
        load_config(bad)
