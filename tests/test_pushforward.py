"""GAN and VAE baselines (003 App. B.2-B.3) under the Trainer's conventions."""
import pytest
import torch

import scoreuq as su
from scoreuq.training import PushforwardTrainer, TrainConfig, TrainingDiverged


def _data(n=512):
    return su.data.GaussianMixture([[-2.0, 0.0], [2.0, 0.0]], stds=0.3).sample(n, generator=torch.Generator().manual_seed(0), dtype=torch.float32)


def test_thesis_layer_widths():
    gan, vae = su.nets.GAN(2), su.nets.VAE(2)
    lin = lambda m: [l.out_features for l in m if isinstance(l, torch.nn.Linear)]  # noqa: E731
    assert lin(gan.generator) == [16, 32, 64, 128, 256, 2]
    assert lin(gan.discriminator) == [512, 256, 128, 64, 32, 16, 1]
    assert lin(vae.encoder) == [128, 64, 32, 16, 2] and lin(vae.decoder) == [16, 32, 64, 128, 256, 2]
    assert sum(isinstance(l, torch.nn.Dropout) and l.p == 0.3 for l in gan.discriminator) == 6


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_resume_equals_uninterrupted(tmp_path, kind):
    x = _data(256)
    make = lambda: su.nets.GAN(2, generator_widths=(16, 16), discriminator_widths=(32, 16)) if kind == "gan" else su.nets.VAE(2, encoder_widths=(16,), decoder_widths=(16,))  # noqa: E731
    cfg = TrainConfig(epochs=4, batch_size=64, lr=1e-3, checkpoint_every=2)
    torch.manual_seed(0)
    full = PushforwardTrainer(make(), x, cfg)
    full.fit()
    torch.manual_seed(0)
    part = PushforwardTrainer(make(), x, TrainConfig(epochs=2, batch_size=64, lr=1e-3, checkpoint_every=2), run_dir=tmp_path)
    part.fit()
    torch.manual_seed(123)  # a fresh process: different init, everything comes from the checkpoint
    resumed = PushforwardTrainer(make(), x, cfg, run_dir=tmp_path)
    resumed.fit()
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert set(torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["optimizer"]) == set(full.optimizers)


def test_vae_learns_the_mixture():
    x = _data()
    g = torch.Generator().manual_seed(1)
    torch.manual_seed(0)
    vae = su.nets.VAE(2, latent_dim=2)
    ref = _data(1000)
    before = su.metrics.wasserstein(vae.sample(1000, generator=g).double(), ref.double())
    tr = PushforwardTrainer(vae, x, TrainConfig(epochs=40, batch_size=64, lr=2e-3, ema_decay=0.9))
    tr.fit()
    h = tr.history
    after = su.metrics.wasserstein(tr.ema.module.sample(1000, generator=g).double(), ref.double())
    assert h.loss[-1] < h.loss[0]
    assert after < 0.3 * before, (before, after)


def test_gan_pushforward_mass_between_disjoint_modes():
    """003 Theorem 3.1: a continuous generator of a connected latent law puts mass between the
    modes; the generated set's range spans the gap while its samples sit mostly near the modes."""
    x = _data()
    torch.manual_seed(0)
    gan = su.nets.GAN(2, generator_widths=(32, 64), discriminator_widths=(64, 32))
    tr = PushforwardTrainer(gan, x, TrainConfig(epochs=30, batch_size=64, lr=1e-3, ema_decay=0.9))
    tr.fit()
    y = tr.ema.module.sample(4000, generator=torch.Generator().manual_seed(2))
    assert torch.isfinite(y).all()
    # the continuous image of the 1-D latent line is connected: along latent order, consecutive points are close
    z = torch.linspace(-4, 4, 2001)[:, None]
    with torch.no_grad():
        path = tr.ema.module(z)
    assert (path[1:] - path[:-1]).norm(dim=1).max() < 0.5


def test_diverged_loss_is_reported():
    x = _data(64)
    vae = su.nets.VAE(2, encoder_widths=(8,), decoder_widths=(8,))
    with torch.no_grad():
        for p in vae.parameters():
            p.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        PushforwardTrainer(vae, x, TrainConfig(epochs=1, batch_size=64)).fit()


def test_shape_mismatch_rejected():
    with pytest.raises(ValueError, match="dimension 3"):
        PushforwardTrainer(su.nets.VAE(3), _data(8), TrainConfig(epochs=1))
