"""Trainer: resume after kill -9, checkpoint safety, guards, and learning a mixture."""
import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from scoreuq import metrics, sampling
from scoreuq.data import GaussianMixture
from scoreuq.nets import ScoreMLP
from scoreuq.processes import OrnsteinUhlenbeck
from scoreuq.training import CheckpointError, TrainConfig, Trainer, TrainingDiverged, load_checkpoint, save_checkpoint

SCRIPT = textwrap.dedent(
    """
    import os, sys, torch
    from scoreuq.data import GaussianMixture
    from scoreuq.nets import ScoreMLP
    from scoreuq.processes import OrnsteinUhlenbeck
    from scoreuq.training import TrainConfig, Trainer

    run_dir, kill_at = sys.argv[1], int(sys.argv[2])
    injected = len(sys.argv) > 3 and sys.argv[3] == "sgd"
    torch.manual_seed(0)
    torch.set_num_threads(1)
    data = GaussianMixture([[-2.0, 0.0], [2.0, 0.0]], stds=0.5).sample(256, generator=torch.Generator().manual_seed(1))
    model = ScoreMLP(2, 2, 32)
    def eval_fn(m, epoch):
        if epoch == kill_at:
            os.kill(os.getpid(), 9)
        return {}
    cfg = TrainConfig(epochs=12, batch_size=64, lr=1e-3, seed=3, checkpoint_every=1, eval_every=1)
    kw = {}
    if injected:  # an injected optimiser and LR scheduler, checkpointed with the rest
        kw = dict(optimizer=lambda p: torch.optim.SGD(p, lr=5e-2, momentum=0.9),
                  scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5))
    Trainer(model, OrnsteinUhlenbeck(), data, cfg, run_dir=run_dir, eval_fn=eval_fn, **kw).fit()
    """
)


def run_script(tmp_path, run_dir, kill_at, optimizer="adam"):
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    return subprocess.run([sys.executable, str(script), str(run_dir), str(kill_at), optimizer], capture_output=True, text=True)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_kill_9_then_resume_gives_identical_weights(tmp_path, optimizer):
    killed = run_script(tmp_path, tmp_path / "a", kill_at=7, optimizer=optimizer)
    assert killed.returncode == -9, killed.stderr
    assert int(load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")["epoch"]) == 6
    resumed = run_script(tmp_path, tmp_path / "a", kill_at=-1, optimizer=optimizer)
    assert resumed.returncode == 0, resumed.stderr
    straight = run_script(tmp_path, tmp_path / "b", kill_at=-1, optimizer=optimizer)
    assert straight.returncode == 0, straight.stderr
    a = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")
    assert a["epoch"] == b["epoch"] == 12
    if optimizer == "sgd":
        assert a["scheduler"] == b["scheduler"] and a["scheduler"]["last_epoch"] == 12
        assert a["optimizer"]["param_groups"][0]["lr"] == pytest.approx(5e-2 * 0.5**4)  # the schedule resumed
    for k in b["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k in b["ema"]:
        assert torch.equal(a["ema"][k], b["ema"][k]), k
    assert a["loss"] == b["loss"]


def test_fit_returns_the_ema_model_and_injected_optimiser_is_used(tmp_path):
    tr = small_trainer(tmp_path)
    out = tr.fit()
    assert out is tr.ema_model is tr.ema.module and out is not tr.model
    assert len(tr.history.loss) == 3
    sgd = Trainer(ScoreMLP(2, 1, 8), OrnsteinUhlenbeck(), torch.randn(64, 2), TrainConfig(epochs=2, batch_size=32),
                  optimizer=lambda p: torch.optim.SGD(p, lr=0.1),
                  scheduler=lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.5))
    sgd.fit()
    assert isinstance(sgd.optimizer, torch.optim.SGD) and sgd.optimizer.param_groups[0]["lr"] == pytest.approx(0.025)
    with pytest.raises(ValueError, match="optimizer must return a torch.optim.Optimizer"):
        Trainer(ScoreMLP(2, 1, 8), OrnsteinUhlenbeck(), torch.randn(8, 2), TrainConfig(), optimizer=lambda p: None)
    # a checkpoint written without a scheduler does not silently resume one
    with pytest.raises(CheckpointError, match="scheduler"):
        Trainer(ScoreMLP(2, 1, 8), OrnsteinUhlenbeck(), torch.randn(64, 2), TrainConfig(epochs=3, batch_size=32, checkpoint_every=1),
                run_dir=tmp_path, scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, 1)).load()


def test_divergence_message_says_whether_a_checkpoint_exists(tmp_path):
    torch.manual_seed(0)
    tr = Trainer(ScoreMLP(2, 1, 8), OrnsteinUhlenbeck(), torch.randn(64, 2) * 1e30,
                 TrainConfig(epochs=2, batch_size=32, checkpoint_every=1), run_dir=tmp_path / "fresh")
    with pytest.raises(TrainingDiverged, match="no checkpoint had been written yet") as exc:
        tr.fit()
    assert exc.value.checkpoint is None and "last good checkpoint" not in str(exc.value)


def small_trainer(tmp_path, **kw):
    torch.manual_seed(0)
    data = torch.randn(64, 2)
    cfg = TrainConfig(**{"epochs": 3, "batch_size": 32, "checkpoint_every": 1, **kw})
    return Trainer(ScoreMLP(2, 1, 8), OrnsteinUhlenbeck(), data, cfg, run_dir=tmp_path)


def test_corrupted_checkpoint_is_reported_never_loaded(tmp_path):
    tr = small_trainer(tmp_path)
    tr.fit()
    path = tmp_path / "checkpoints" / "last.pt"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="corrupted"):
        small_trainer(tmp_path).fit()
    (tmp_path / "checkpoints" / "last.pt.sha256").unlink()
    with pytest.raises(CheckpointError, match="no checksum"):
        load_checkpoint(path)


@pytest.mark.parametrize("crash_at", [1, 2, 3])
def test_a_kill_during_a_checkpoint_save_leaves_a_loadable_checkpoint(tmp_path, monkeypatch, crash_at):
    """save_checkpoint replaces two files (data, sidecar); a kill before any of its three atomic
    replacements must leave data that matches its sidecar: the old checkpoint or the new one."""
    import scoreuq.training as tm

    path = tmp_path / "last.pt"
    save_checkpoint(path, {"w": torch.zeros(3)})
    calls = {"n": 0}
    real = tm.atomic_write

    def dying(p, write):
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise KeyboardInterrupt("killed")
        return real(p, write)

    monkeypatch.setattr(tm, "atomic_write", dying)
    monkeypatch.setattr(tm, "atomic_write_text", lambda p, text: dying(p, lambda tmp: open(tmp, "w").write(text)))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"w": torch.ones(3)})
    got = load_checkpoint(path)["w"]
    assert torch.equal(got, torch.zeros(3)) or torch.equal(got, torch.ones(3))
    monkeypatch.undo()
    save_checkpoint(path, {"w": torch.full((3,), 2.0)})  # the next save completes and leaves one digest
    assert torch.equal(load_checkpoint(path)["w"], torch.full((3,), 2.0))
    assert len((tmp_path / "last.pt.sha256").read_text().split()) == 1


def test_pickled_payload_is_refused(tmp_path):
    """A checkpoint whose checksum is right but which holds arbitrary objects is not unpickled."""
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"model": Evil()}, path)
    from scoreuq.training import _sha256

    (tmp_path / "evil.pt.sha256").write_text(_sha256(path))
    with pytest.raises(CheckpointError, match="could not be read safely") as exc:
        load_checkpoint(path)
    assert "weights_only=False" not in str(exc.value) and "will not execute" in str(exc.value)


def test_checkpoint_with_nan_weights_is_refused(tmp_path):
    path = tmp_path / "nan.pt"
    save_checkpoint(path, {"model": {"lin.weight": torch.tensor([1.0, float("nan")]), "lin.bias": torch.zeros(2)}, "epoch": 3})
    with pytest.raises(CheckpointError, match="NaN or infinite values in model.lin.weight"):
        load_checkpoint(path)


def test_nan_guard_keeps_last_good_checkpoint(tmp_path):
    class Exploding(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)
            self.calls = 0

        def forward(self, x, t):
            self.calls += 1
            out = self.lin(x)
            return out * float("nan") if self.calls > 6 else out

    torch.manual_seed(0)
    cfg = TrainConfig(epochs=10, batch_size=32, checkpoint_every=1)
    tr = Trainer(Exploding(), OrnsteinUhlenbeck(), torch.randn(64, 2), cfg, run_dir=tmp_path)
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 3"):
        tr.fit()
    assert int(load_checkpoint(tmp_path / "checkpoints" / "last.pt")["epoch"]) == 2


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"lr": 0.0}, "lr must be a finite number > 0"),
        ({"epochs": 0}, "epochs must be an integer in \\[1, "), ({"epochs": 10**12}, "epochs must be an integer in \\[1, 10,000,000\\]"),
        ({"objective": "mle"}, "objective must be one of"),
        ({"ema_decay": 1.0}, r"ema_decay must lie in \[0, 1\)"),
        ({"patience": 3}, "patience needs"),
    ],
)
def test_bad_config(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)


def test_network_shape_must_fit_data():
    with pytest.raises(ValueError, match="does not fit data of shape"):
        Trainer(ScoreMLP(3, 1, 8), OrnsteinUhlenbeck(), torch.randn(10, 2), TrainConfig())


def test_early_stopping_on_held_out_metric(tmp_path):
    scores = iter([3.0, 2.0, 2.5, 2.6, 2.7, 1.0])
    tr = small_trainer(tmp_path, epochs=6, eval_every=1, early_stopping_metric="w1", patience=2)
    tr.eval_fn = lambda m, e: {"w1": next(scores)}
    tr.fit()
    h = tr.history
    assert h.stopped_early and len(h.loss) == 4 and [e["w1"] for e in h.evals] == [3.0, 2.0, 2.5, 2.6]


@pytest.mark.slow
def test_trained_mlp_learns_a_2d_mixture():
    """A trained model's samples reach W1 to fresh true samples within 2x the exact-score sampler's."""
    torch.manual_seed(0)
    gm = GaussianMixture([[-3.0, 0.0], [3.0, 0.0]], stds=0.7, weights=[0.3, 0.7])
    ou = OrnsteinUhlenbeck(beta=1.0, sigma=math.sqrt(2), T=5.0)
    g = torch.Generator().manual_seed(1)
    data = gm.sample(4000, generator=g)
    model = ScoreMLP(2, 3, 64, activation="silu")
    cfg = TrainConfig(epochs=100, batch_size=256, lr=2e-3, seed=0, t_min=1e-3, ema_decay=0.99, checkpoint_every=1000)
    trainer = Trainer(model, ou, data, cfg)
    trainer.fit()
    model = trainer.ema.module
    n = 1500
    ref = gm.sample(n, generator=g)
    x_model = sampling.euler_maruyama(model, ou, (n, 2), steps=300, generator=g)
    x_exact = sampling.euler_maruyama(gm.score_fn(ou), ou, (n, 2), steps=300, generator=g)
    w_model, w_exact = metrics.wasserstein(x_model, ref), metrics.wasserstein(x_exact, ref)
    assert w_model < 2.0 * w_exact, (w_model, w_exact)


class _NetWithBatchNorm(torch.nn.Module):
    """A score net with a float buffer (running mean) and an integer one (num_batches_tracked)."""

    def __init__(self):
        super().__init__()
        self.mlp = ScoreMLP(2, 2, 16)
        self.bn = torch.nn.BatchNorm1d(2)

    def forward(self, x, t):
        return self.bn(self.mlp(x, t))


def test_trainer_ema_equals_torch_averaged_model_exactly(tmp_path):
    """The trainer's EMA update is torch's AveragedModel(get_ema_multi_avg_fn) arithmetic, bit for bit,
    parameters and buffers alike, also after a resume (whose tensors the cached lists must follow)."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    data = torch.randn(96, 2, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=3, batch_size=32, lr=1e-2, ema_decay=0.9, checkpoint_every=1)
    tr = Trainer(_NetWithBatchNorm(), OrnsteinUhlenbeck(), data, cfg, run_dir=tmp_path)
    ref = AveragedModel(tr.model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    update = tr._update_ema

    def both():
        update()
        ref.update_parameters(tr.model)

    tr._update_ema = both
    tr.fit()
    for (name, a), b in zip(tr.ema.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), name
    assert int(tr.ema.n_averaged) == 9
    # resume into a fresh trainer for 2 more epochs: the same EMA as one uninterrupted 5-epoch run
    torch.manual_seed(0)
    resumed = Trainer(_NetWithBatchNorm(), OrnsteinUhlenbeck(), data, TrainConfig(**{**cfg.to_dict(), "epochs": 5}), run_dir=tmp_path)
    resumed.fit()
    torch.manual_seed(0)
    whole = Trainer(_NetWithBatchNorm(), OrnsteinUhlenbeck(), data, TrainConfig(**{**cfg.to_dict(), "epochs": 5}))
    whole.fit()
    for (name, a), b in zip(resumed.ema.state_dict().items(), whole.ema.state_dict().values()):
        assert torch.equal(a, b), name
