"""Score networks (MLP presets, the ScoreNet U-Net), adapters for user networks, and push-forward baselines."""
from .adapters import NoisePredictionScore, ScoreModel
from .embeddings import GaussianFourierFeatures
from .mlp import MLP_PRESETS, ScoreMLP, mlp_preset
from .pushforward import GAN, VAE
from .unet import ScoreNet

__all__ = ["ScoreMLP", "MLP_PRESETS", "mlp_preset", "ScoreNet", "ScoreModel", "NoisePredictionScore", "GaussianFourierFeatures", "GAN", "VAE"]
