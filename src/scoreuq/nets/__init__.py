"""Score networks (MLP presets, the ScoreNet U-Net) and adapters for user networks."""
from .adapters import NoisePredictionScore, ScoreModel
from .embeddings import GaussianFourierFeatures
from .mlp import MLP_PRESETS, ScoreMLP, mlp_preset
from .unet import ScoreNet

__all__ = ["ScoreMLP", "MLP_PRESETS", "mlp_preset", "ScoreNet", "ScoreModel", "NoisePredictionScore", "GaussianFourierFeatures"]
