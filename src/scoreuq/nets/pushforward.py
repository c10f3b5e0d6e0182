r"""Push-forward baselines: a GAN and a VAE (thesis (003) §3.3 and App. B.2–B.3).

A push-forward model draws :math:`z \sim \mathcal N(0, I_k)` and returns :math:`G(z)`. A
continuous :math:`G` maps the connected latent space onto a connected set (003 Theorem 3.1),
which is why these models bridge disjoint supports where an SGM need not; scoreuq
trains them beside score models for that comparison.

Both expose the same small interface so that one trainer and one evaluation path serve
them: ``sample(n, generator=)``, ``latent_dim`` and ``dim``, and ``step(batch, optimizers,
generator)`` which performs one optimisation step and returns the loss shown in the
progress bar. They work on vectors of dimension ``dim``; images are flattened by the caller.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["GAN", "VAE", "LATENT_LAWS", "check_latent", "GAN_GENERATOR_WIDTHS", "GAN_DISCRIMINATOR_WIDTHS", "VAE_ENCODER_WIDTHS", "VAE_DECODER_WIDTHS"]

#: layer widths of thesis App. B.2 (generator, discriminator) and B.3 (encoder, decoder)
GAN_GENERATOR_WIDTHS = (16, 32, 64, 128, 256)
GAN_DISCRIMINATOR_WIDTHS = (512, 256, 128, 64, 32, 16)
VAE_ENCODER_WIDTHS = (128, 64, 32, 16)
VAE_DECODER_WIDTHS = (16, 32, 64, 128, 256)


def _widths(name, widths):
    w = tuple(widths)
    if not w or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in w):
        raise ValueError(f"{name} must be a non-empty list of positive integers, got {widths!r}")
    return w


def _mlp(d_in, widths, d_out, *, dropout=0.0, slope=0.2):
    layers = []
    for w in widths:
        layers += [nn.Linear(d_in, w), nn.LeakyReLU(slope)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        d_in = w
    layers.append(nn.Linear(d_in, d_out))
    return nn.Sequential(*layers)


def _check_dims(dim, latent_dim):
    for name, v in (("dim", dim), ("latent_dim", latent_dim)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


#: latent laws of a push-forward model: N(0, I_k), or U[a, b]^k (thesis (003) Fig. 5.15 uses U[-5, 5])
LATENT_LAWS = ("gaussian", "uniform")


def check_latent(latent, latent_range) -> tuple:
    """Validate a latent law: ``latent`` in :data:`LATENT_LAWS`, ``latent_range`` two finite numbers
    ``a < b`` (used by ``uniform`` only). Returns ``(latent, (a, b))``; ValueError names the field."""
    if latent not in LATENT_LAWS:
        raise ValueError(f"latent must be one of {list(LATENT_LAWS)}, got {latent!r}")
    try:
        a, b = (float(v) for v in latent_range)
    except (TypeError, ValueError):
        raise ValueError(f"latent_range must be two numbers [a, b], got {latent_range!r}") from None
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise ValueError(f"latent_range must be finite with a < b, got {latent_range!r}")
    return latent, (a, b)


def _latent(n, k, generator, like, law="gaussian", rng=(-5.0, 5.0)):
    dev = generator.device if generator is not None else like.device
    if law == "uniform":
        u = torch.rand((n, k), generator=generator, dtype=like.dtype, device=dev).to(like.device)
        return rng[0] + (rng[1] - rng[0]) * u
    return torch.randn((n, k), generator=generator, dtype=like.dtype, device=dev).to(like.device)


class GAN(nn.Module):
    r"""Generative adversarial network of thesis (003) App. B.2.

    Generator :math:`\mathbb R^k \to \mathbb R^d` with widths 16–256 and LeakyReLU; a
    discriminator :math:`\mathbb R^d \to (0, 1)` with widths 512–16, LeakyReLU and 30% dropout;
    binary cross-entropy (computed on logits, which is the same loss with stable numerics),
    Adam at 5e-4 in the thesis. The latent law is :math:`\mathcal N(0, I_k)` (``latent="gaussian"``,
    the default) or :math:`U[a, b]^k` (``latent="uniform"``, ``latent_range=(a, b)``; 003 Fig. 5.15
    uses :math:`U[-5, 5]`), used both in training and in sampling; ``k = 1`` in the thesis.
    """

    def __init__(self, dim: int, latent_dim: int = 1, generator_widths=GAN_GENERATOR_WIDTHS,
                 discriminator_widths=GAN_DISCRIMINATOR_WIDTHS, dropout: float = 0.3, latent: str = "gaussian",
                 latent_range=(-5.0, 5.0)):
        super().__init__()
        _check_dims(dim, latent_dim)
        self.latent, self.latent_range = check_latent(latent, latent_range)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        self.dim, self.latent_dim = dim, latent_dim
        self.generator = _mlp(latent_dim, _widths("generator_widths", generator_widths), dim)
        self.discriminator = _mlp(dim, _widths("discriminator_widths", discriminator_widths), 1, dropout=float(dropout))

    def parameter_groups(self) -> dict:
        """One optimiser per network: ``{"generator": ..., "discriminator": ...}``."""
        return {"generator": list(self.generator.parameters()), "discriminator": list(self.discriminator.parameters())}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)

    def step(self, batch: torch.Tensor, optimizers: dict, generator=None) -> torch.Tensor:
        """One discriminator step then one generator step (non-saturating loss); returns the sum of both losses."""
        n = batch.shape[0]
        ones = torch.ones(n, 1, dtype=batch.dtype, device=batch.device)
        zeros = torch.zeros_like(ones)
        fake = self.generator(_latent(n, self.latent_dim, generator, batch, self.latent, self.latent_range))
        d_loss = F.binary_cross_entropy_with_logits(self.discriminator(batch), ones) + \
            F.binary_cross_entropy_with_logits(self.discriminator(fake.detach()), zeros)
        optimizers["discriminator"].zero_grad(set_to_none=True)
        d_loss.backward()
        optimizers["discriminator"].step()
        g_loss = F.binary_cross_entropy_with_logits(self.discriminator(fake), ones)
        optimizers["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        optimizers["generator"].step()
        return (d_loss + g_loss).detach()

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, dtype=torch.float32, device=None) -> torch.Tensor:
        like = torch.empty(0, dtype=dtype, device=device or next(self.parameters()).device)
        z = _latent(n, self.latent_dim, generator, like, self.latent, self.latent_range)
        return self.generator(z.to(next(self.parameters()).dtype)).to(dtype)


class VAE(nn.Module):
    r"""Variational auto-encoder of thesis (003) App. B.3.

    Encoder :math:`\mathbb R^d \to (\mu, \log\sigma^2) \in \mathbb R^{2k}` with widths 128–16,
    decoder :math:`\mathbb R^k \to \mathbb R^d` with widths 16–256, LeakyReLU, no dropout.
    Loss: mean squared reconstruction error (summed over dimensions) plus
    ``kl_weight`` × :math:`\mathrm{KL}(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, I))`, averaged over the batch.

    ``latent`` (``"gaussian"`` default, or ``"uniform"`` on ``latent_range``) is the law the decoder
    is fed when *sampling* (003 Fig. 5.15 decodes :math:`z \sim U[-5, 5]` and :math:`z \sim \mathcal N(0, 1)`);
    training is the usual ELBO whatever it is (Gaussian posterior, reparameterisation noise and KL prior).
    """

    def __init__(self, dim: int, latent_dim: int = 1, encoder_widths=VAE_ENCODER_WIDTHS,
                 decoder_widths=VAE_DECODER_WIDTHS, kl_weight: float = 1.0, latent: str = "gaussian",
                 latent_range=(-5.0, 5.0)):
        super().__init__()
        _check_dims(dim, latent_dim)
        self.latent, self.latent_range = check_latent(latent, latent_range)
        if not float(kl_weight) > 0:
            raise ValueError(f"kl_weight must be > 0, got {kl_weight!r}")
        self.dim, self.latent_dim, self.kl_weight = dim, latent_dim, float(kl_weight)
        self.encoder = _mlp(dim, _widths("encoder_widths", encoder_widths), 2 * latent_dim)
        self.decoder = _mlp(latent_dim, _widths("decoder_widths", decoder_widths), dim)

    def parameter_groups(self) -> dict:
        return {"vae": list(self.parameters())}

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def loss(self, batch: torch.Tensor, generator=None) -> torch.Tensor:
        mu, logvar = self.encoder(batch).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * _latent(batch.shape[0], self.latent_dim, generator, batch)
        rec = (self.decoder(z) - batch).pow(2).sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
        return (rec + self.kl_weight * kl).mean()

    def step(self, batch: torch.Tensor, optimizers: dict, generator=None) -> torch.Tensor:
        loss = self.loss(batch, generator)
        if torch.isfinite(loss):
            optimizers["vae"].zero_grad(set_to_none=True)
            loss.backward()
            optimizers["vae"].step()
        return loss.detach()

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, dtype=torch.float32, device=None) -> torch.Tensor:
        like = torch.empty(0, dtype=dtype, device=device or next(self.parameters()).device)
        z = _latent(n, self.latent_dim, generator, like, self.latent, self.latent_range)
        return self.decoder(z.to(next(self.parameters()).dtype)).to(dtype)
