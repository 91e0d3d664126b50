"""Low-rank adaptation (LoRA) of the linear layers of any Equinox model.

Typical use::

    model = loraize(model, rank=4, alpha=8.0, key=key)
    trainable, frozen = eqx.partition(model, lora_trainable_mask(model))
    # differentiate and optimise `trainable` only, rebuild with eqx.combine(trainable, frozen)
    model = merge_lora(model)  # plain eqx.nn.Linear layers again, for deployment
"""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray, PyTree


class LoRALinear(eqx.Module):
    """A frozen `eqx.nn.Linear` plus a trainable low-rank update `scale * B @ A`, with `scale = alpha / rank`.

    `A` starts with small random values and `B` with zeros, so a fresh LoRALinear computes exactly its base layer.
    """

    base: eqx.nn.Linear
    lora_a: Float[Array, "rank in_features"]
    lora_b: Float[Array, "out_features rank"]
    rank: int = eqx.field(static=True)
    alpha: float = eqx.field(static=True)

    def __init__(self, base: eqx.nn.Linear, rank: int, alpha: float, *, key: PRNGKeyArray) -> None:
        """Wraps `base`.

        Args:
            base: The linear layer to adapt (vector input and output).
            rank: Rank of the update.
            alpha: Scale numerator; the update is multiplied by `alpha / rank`.
            key: PRNG key for `A`.
        """
        if base.in_features == "scalar" or base.out_features == "scalar":
            raise ValueError("LoRALinear needs a Linear with vector input and output")
        out_features, in_features = base.weight.shape
        self.base = base
        self.rank = rank
        self.alpha = alpha
        bound = 1.0 / jnp.sqrt(in_features)
        self.lora_a = jax.random.uniform(key, (rank, in_features), minval=-bound, maxval=bound)
        self.lora_b = jnp.zeros((out_features, rank), dtype=base.weight.dtype)

    @property
    def scale(self) -> float:
        """Multiplier of the low-rank update."""
        return self.alpha / self.rank

    def __call__(
        self, x: Float[Array, " in_features"], *, key: PRNGKeyArray | None = None
    ) -> Float[Array, " out_features"]:
        """Applies the adapted layer.

        Args:
            x: Input vector.
            key: Unused; accepted for compatibility with `eqx.nn.Linear`.

        Returns:
            `base(x) + scale * B @ A @ x`.
        """
        del key
        return self.base(x) + self.scale * (self.lora_b @ (self.lora_a @ x))

    def merged(self) -> eqx.nn.Linear:
        """The base layer with the update folded into its weight.

        Returns:
            A plain linear layer computing the same function.
        """
        weight = self.base.weight + self.scale * (self.lora_b @ self.lora_a)
        return eqx.tree_at(lambda layer: layer.weight, self.base, weight.astype(self.base.weight.dtype))


def _is_layer(x: object) -> bool:
    return isinstance(x, eqx.nn.Linear | LoRALinear)


def loraize[M](
    model: M,
    rank: int,
    alpha: float,
    *,
    key: PRNGKeyArray,
    filter: Callable[[str, eqx.nn.Linear], bool] | None = None,
) -> M:
    """Replaces every `eqx.nn.Linear` in `model` (or those `filter` accepts) by a `LoRALinear`.

    Layers that are already `LoRALinear` are left alone.

    Args:
        model: Any pytree of modules.
        rank: LoRA rank.
        alpha: LoRA alpha.
        key: PRNG key, split across the replaced layers.
        filter: Called with the layer's path (`jax.tree_util.keystr`, e.g. `".blocks[0].attn.q"`) and the layer;
            return True to adapt it.

    Returns:
        The model with adapted layers.
    """

    def wanted(path: str, leaf: object) -> bool:
        if not isinstance(leaf, eqx.nn.Linear) or "scalar" in (leaf.in_features, leaf.out_features):
            return False
        return filter is None or filter(path, leaf)

    flat, _ = jax.tree_util.tree_flatten_with_path(model, is_leaf=_is_layer)
    targets = [jax.tree_util.keystr(path) for path, leaf in flat if wanted(jax.tree_util.keystr(path), leaf)]
    keys = dict(zip(targets, jax.random.split(key, max(len(targets), 1)), strict=False))

    def replace(path: tuple, leaf: object) -> object:
        name = jax.tree_util.keystr(path)
        if name in keys and isinstance(leaf, eqx.nn.Linear):
            return LoRALinear(leaf, rank, alpha, key=keys[name])
        return leaf

    return jax.tree_util.tree_map_with_path(replace, model, is_leaf=_is_layer)


def lora_trainable_mask(tree: PyTree) -> PyTree[bool]:
    """A boolean pytree marking the LoRA `A`/`B` leaves of `tree` True and every other leaf False.

    Works on a model (for `eqx.partition`) and on a filtered parameter tree such as
    `eqx.filter(model, eqx.is_array)`, so it can serve as `param_labels` of `optax.multi_transform`
    (`{True: optimizer, False: optax.set_to_zero()}`).

    Args:
        tree: A model or a parameter tree with the model's structure.

    Returns:
        The mask, with the structure of `tree`.
    """

    def mark(node: object) -> object:
        if isinstance(node, LoRALinear):
            falses = jax.tree_util.tree_map(lambda _: False, node)
            return eqx.tree_at(lambda n: (n.lora_a, n.lora_b), falses, (True, True))
        return False

    return jax.tree_util.tree_map(mark, tree, is_leaf=lambda x: isinstance(x, LoRALinear))


def merge_lora[M](model: M) -> M:
    """Replaces every `LoRALinear` by a plain `eqx.nn.Linear` with weight `W + scale * B @ A`.

    Args:
        model: A model containing LoRA layers.

    Returns:
        The model without LoRA layers, computing the same function.
    """
    return jax.tree_util.tree_map(
        lambda x: x.merged() if isinstance(x, LoRALinear) else x, model, is_leaf=lambda x: isinstance(x, LoRALinear)
    )
