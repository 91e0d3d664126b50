"""Model architectures: MLP/CNN, attention and transformer LM, UNet, diffusion and diagonal SSMs."""

from xaxengine.arch.attention import KVCache, MultiHeadAttention, dot_product_attention
from xaxengine.arch.diffusion import (
    NoiseSchedule,
    cosine_schedule,
    ddim_sample,
    ddpm_sample,
    diffusion_loss,
    guided_eps,
    linear_schedule,
    q_sample,
)
from xaxengine.arch.mlp import CNN, MLP
from xaxengine.arch.ssm import DiagonalSSM, SSMBlock, SSMModel, parallel_scan, sequential_scan
from xaxengine.arch.transformer import DecoderBlock, DecoderLM, generate, sample_token
from xaxengine.arch.unet import ResBlock, UNet

__all__ = [
    "CNN",
    "MLP",
    "DecoderBlock",
    "DecoderLM",
    "DiagonalSSM",
    "KVCache",
    "MultiHeadAttention",
    "NoiseSchedule",
    "ResBlock",
    "SSMBlock",
    "SSMModel",
    "UNet",
    "cosine_schedule",
    "ddim_sample",
    "ddpm_sample",
    "diffusion_loss",
    "dot_product_attention",
    "generate",
    "guided_eps",
    "linear_schedule",
    "parallel_scan",
    "q_sample",
    "sample_token",
    "sequential_scan",
]
