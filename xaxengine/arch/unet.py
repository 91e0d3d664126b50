"""A small UNet for images with time and optional class conditioning (for diffusion models)."""

import itertools
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from xaxengine.nn.embeddings import sinusoidal_embedding


def _group_norm(channels: int) -> eqx.nn.GroupNorm:
    groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
    return eqx.nn.GroupNorm(groups, channels)


class ResBlock(eqx.Module):
    """Two 3x3 convolutions with group norm and SiLU, FiLM conditioning and a residual path.

    The conditioning vector gives a per-channel scale and shift applied after the second norm (an additive bias
    before a group norm would be normalised away).
    """

    norm1: eqx.nn.GroupNorm
    conv1: eqx.nn.Conv2d
    cond_proj: eqx.nn.Linear
    norm2: eqx.nn.GroupNorm
    conv2: eqx.nn.Conv2d
    skip: eqx.nn.Conv2d | None

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, *, key: PRNGKeyArray) -> None:
        """Builds the block.

        Args:
            in_channels: Input channels.
            out_channels: Output channels.
            cond_dim: Dimension of the conditioning vector.
            key: PRNG key for initialisation.
        """
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.norm1 = _group_norm(in_channels)
        self.conv1 = eqx.nn.Conv2d(in_channels, out_channels, 3, padding=1, key=k1)
        self.cond_proj = eqx.nn.Linear(cond_dim, 2 * out_channels, key=k2)
        self.norm2 = _group_norm(out_channels)
        self.conv2 = eqx.nn.Conv2d(out_channels, out_channels, 3, padding=1, key=k3)
        self.skip = None if in_channels == out_channels else eqx.nn.Conv2d(in_channels, out_channels, 1, key=k4)

    def __call__(self, x: Float[Array, "c h w"], cond: Float[Array, " cond"]) -> Float[Array, "c2 h w"]:
        """Applies the block.

        Args:
            x: Feature map.
            cond: Conditioning vector (time and class embedding).

        Returns:
            The new feature map.
        """
        h = self.conv1(jax.nn.silu(self.norm1(x)))
        scale, shift = jnp.split(self.cond_proj(cond)[:, None, None], 2)
        h = self.conv2(jax.nn.silu(self.norm2(h) * (1.0 + scale) + shift))
        return h + (x if self.skip is None else self.skip(x))


class UNet(eqx.Module):
    """Down path of ResBlocks and stride-2 convolutions, a middle block, and an up path with skip connections.

    Height and width must be divisible by `2 ** (len(channels) - 1)` (e.g. 8x8 or 28x28 with two levels).
    The model predicts a tensor with the input's shape (e.g. the noise in DDPM).
    """

    in_conv: eqx.nn.Conv2d
    time_mlp: tuple[eqx.nn.Linear, eqx.nn.Linear]
    class_embedding: eqx.nn.Embedding | None
    down_blocks: tuple[ResBlock, ...]
    downsamples: tuple[eqx.nn.Conv2d, ...]
    mid_block: ResBlock
    upsamples: tuple[eqx.nn.Conv2d, ...]
    up_blocks: tuple[ResBlock, ...]
    out_norm: eqx.nn.GroupNorm
    out_conv: eqx.nn.Conv2d
    embed_dim: int = eqx.field(static=True)
    num_classes: int | None = eqx.field(static=True)

    def __init__(
        self,
        in_channels: int = 1,
        channels: Sequence[int] = (16, 32, 32),
        embed_dim: int = 32,
        num_classes: int | None = None,
        *,
        key: PRNGKeyArray,
    ) -> None:
        """Builds the network.

        Args:
            in_channels: Image channels.
            channels: Width at each resolution level (the first is the full resolution).
            embed_dim: Dimension of the time (and class) embedding.
            num_classes: Number of classes for class conditioning; label `num_classes` is the null
                (unconditional) label used by classifier-free guidance. None disables class conditioning.
            key: PRNG key for initialisation.
        """
        levels = len(channels)
        keys = iter(jax.random.split(key, 4 * levels + 6))
        self.embed_dim = embed_dim
        self.num_classes = num_classes
        self.in_conv = eqx.nn.Conv2d(in_channels, channels[0], 3, padding=1, key=next(keys))
        self.time_mlp = (
            eqx.nn.Linear(embed_dim, embed_dim, key=next(keys)),
            eqx.nn.Linear(embed_dim, embed_dim, key=next(keys)),
        )
        self.class_embedding = (
            None if num_classes is None else eqx.nn.Embedding(num_classes + 1, embed_dim, key=next(keys))
        )
        self.down_blocks = tuple(ResBlock(c, c, embed_dim, key=next(keys)) for c in channels[:-1])
        self.downsamples = tuple(
            eqx.nn.Conv2d(a, b, 3, stride=2, padding=1, key=next(keys)) for a, b in itertools.pairwise(channels)
        )
        self.mid_block = ResBlock(channels[-1], channels[-1], embed_dim, key=next(keys))
        self.upsamples = tuple(
            eqx.nn.Conv2d(b, a, 3, padding=1, key=next(keys)) for a, b in itertools.pairwise(channels)
        )
        self.up_blocks = tuple(ResBlock(2 * c, c, embed_dim, key=next(keys)) for c in channels[:-1])
        self.out_norm = _group_norm(channels[0])
        self.out_conv = eqx.nn.Conv2d(channels[0], in_channels, 3, padding=1, key=next(keys))

    def _condition(self, t: Float[Array, ""], label: Int[Array, ""] | None) -> Float[Array, " embed"]:
        emb = sinusoidal_embedding(t, self.embed_dim)
        emb = self.time_mlp[1](jax.nn.silu(self.time_mlp[0](emb)))
        if self.class_embedding is not None:
            null = jnp.asarray(self.num_classes)
            emb = emb + self.class_embedding(null if label is None else label)
        elif label is not None:
            raise ValueError("this UNet was built without num_classes, so it takes no label")
        return emb

    def __call__(
        self, x: Float[Array, "c h w"], t: Float[Array, ""] | float, label: Int[Array, ""] | None = None
    ) -> Float[Array, "c h w"]:
        """Predicts a tensor with the shape of `x`.

        Args:
            x: Noisy image.
            t: Diffusion time (e.g. the step index as a float).
            label: Class label; None (or `num_classes`) is unconditional.

        Returns:
            The prediction.
        """
        cond = self._condition(jnp.asarray(t, dtype=jnp.float32), label)
        h = self.in_conv(x)
        skips = []
        for block, down in zip(self.down_blocks, self.downsamples, strict=True):
            h = block(h, cond)
            skips.append(h)
            h = down(h)
        h = self.mid_block(h, cond)
        for block, up in zip(reversed(self.up_blocks), reversed(self.upsamples), strict=True):
            h = up(jnp.repeat(jnp.repeat(h, 2, axis=1), 2, axis=2))
            h = block(jnp.concatenate([h, skips.pop()], axis=0), cond)
        return self.out_conv(jax.nn.silu(self.out_norm(h)))
