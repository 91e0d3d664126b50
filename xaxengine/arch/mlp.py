"""A multi-layer perceptron and a small convolutional image classifier."""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


class MLP(eqx.Module):
    """Fully connected layers with an activation between them (none after the last)."""

    layers: tuple[eqx.nn.Linear, ...]
    activation: Callable[[Array], Array] = eqx.field(static=True)

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int],
        *,
        activation: Callable[[Array], Array] = jax.nn.gelu,
        key: PRNGKeyArray,
    ) -> None:
        """Builds `in -> hidden[0] -> ... -> hidden[-1] -> out`.

        Args:
            in_features: Input dimension.
            out_features: Output dimension.
            hidden: Hidden layer widths (may be empty for a single linear layer).
            activation: Elementwise nonlinearity between layers.
            key: PRNG key for initialisation.
        """
        sizes = [in_features, *hidden, out_features]
        keys = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=True))
        self.activation = activation

    def __call__(self, x: Float[Array, " in_features"]) -> Float[Array, " out_features"]:
        """Applies the network to one example.

        Args:
            x: Input vector.

        Returns:
            Output vector.
        """
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)


class CNN(eqx.Module):
    """Stride-2 3x3 convolutions followed by global average pooling and a linear classifier."""

    convs: tuple[eqx.nn.Conv2d, ...]
    head: eqx.nn.Linear
    input_shape: tuple[int, int, int] = eqx.field(static=True)

    def __init__(
        self,
        input_shape: tuple[int, int, int],
        num_classes: int,
        channels: Sequence[int] = (16, 32),
        *,
        key: PRNGKeyArray,
    ) -> None:
        """Builds the classifier.

        Args:
            input_shape: `(channels, height, width)` of one image.
            num_classes: Number of output logits.
            channels: Output channels of each convolution (each halves the spatial size).
            key: PRNG key for initialisation.
        """
        self.input_shape = input_shape
        sizes = [input_shape[0], *channels]
        keys = jax.random.split(key, len(channels) + 1)
        self.convs = tuple(
            eqx.nn.Conv2d(a, b, kernel_size=3, stride=2, padding=1, key=k)
            for a, b, k in zip(sizes[:-1], sizes[1:], keys[:-1], strict=True)
        )
        self.head = eqx.nn.Linear(sizes[-1], num_classes, key=keys[-1])

    def __call__(self, x: Float[Array, "channels height width"]) -> Float[Array, " classes"]:
        """Classifies one image.

        Args:
            x: The image.

        Returns:
            Class logits.
        """
        for conv in self.convs:
            x = jax.nn.gelu(conv(x))
        return self.head(jnp.mean(x, axis=(1, 2)))
