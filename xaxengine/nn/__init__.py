"""Neural-network building blocks: embeddings, norms, distributions, losses and LoRA."""

from xaxengine.nn.distributions import Categorical, DiagGaussian, Distribution, MixtureOfGaussians
from xaxengine.nn.embeddings import LearnedEmbedding, apply_rotary, sinusoidal_embedding, sinusoidal_positions
from xaxengine.nn.lora import LoRALinear, lora_trainable_mask, loraize, merge_lora
from xaxengine.nn.losses import (
    cross_entropy,
    epsilon_loss,
    kl_categoricals,
    kl_diag_gaussians,
    masked_mean,
    mse,
)
from xaxengine.nn.norms import LayerNorm, RMSNorm

__all__ = [
    "Categorical",
    "DiagGaussian",
    "Distribution",
    "LayerNorm",
    "LearnedEmbedding",
    "LoRALinear",
    "MixtureOfGaussians",
    "RMSNorm",
    "apply_rotary",
    "cross_entropy",
    "epsilon_loss",
    "kl_categoricals",
    "kl_diag_gaussians",
    "lora_trainable_mask",
    "loraize",
    "masked_mean",
    "merge_lora",
    "mse",
    "sinusoidal_embedding",
    "sinusoidal_positions",
]
