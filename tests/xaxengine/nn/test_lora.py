import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from xaxengine.nn import LoRALinear, lora_trainable_mask, loraize, merge_lora


class _Net(eqx.Module):
    first: eqx.nn.Linear
    second: eqx.nn.Linear

    def __init__(self, *, key):
        k1, k2 = jax.random.split(key)
        self.first = eqx.nn.Linear(4, 8, key=k1)
        self.second = eqx.nn.Linear(8, 3, key=k2)

    def __call__(self, x):
        return self.second(jax.nn.tanh(self.first(x)))


def _loras(model):
    leaves = jax.tree_util.tree_leaves(model, is_leaf=lambda x: isinstance(x, LoRALinear))
    return [x for x in leaves if isinstance(x, LoRALinear)]


def test_loraize_replaces_all_and_filter():
    base = _Net(key=jax.random.key(0))
    lora = loraize(base, rank=2, alpha=4.0, key=jax.random.key(1))
    assert isinstance(lora.first, LoRALinear) and isinstance(lora.second, LoRALinear)
    assert lora.first.lora_a.shape == (2, 4) and lora.first.lora_b.shape == (8, 2)
    only_second = loraize(base, rank=2, alpha=4.0, key=jax.random.key(1), filter=lambda path, _: "second" in path)
    assert isinstance(only_second.first, eqx.nn.Linear) and isinstance(only_second.second, LoRALinear)
    # B == 0 at init: identical function
    x = jax.random.normal(jax.random.key(2), (5, 4))
    np.testing.assert_array_equal(jax.vmap(lora)(x), jax.vmap(base)(x))


def test_partitioned_training_freezes_base_and_merge_matches():
    base = _Net(key=jax.random.key(0))
    model = loraize(base, rank=2, alpha=4.0, key=jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (16, 4))
    y = jax.random.normal(jax.random.key(3), (16, 3))

    trainable, frozen = eqx.partition(model, lora_trainable_mask(model))
    opt = optax.adam(1e-2)
    opt_state = opt.init(trainable)

    @eqx.filter_jit
    def step(trainable, opt_state):
        def loss_fn(t):
            m = eqx.combine(t, frozen)
            return jnp.mean((jax.vmap(m)(x) - y) ** 2)

        loss, grads = eqx.filter_value_and_grad(loss_fn)(trainable)
        updates, opt_state = opt.update(grads, opt_state)
        return eqx.apply_updates(trainable, updates), opt_state, loss

    losses = []
    for _ in range(5):
        trainable, opt_state, loss = step(trainable, opt_state)
        losses.append(float(loss))
    trained = eqx.combine(trainable, frozen)
    assert losses[-1] < losses[0]
    for new, old in zip([trained.first, trained.second], [model.first, model.second], strict=True):
        np.testing.assert_array_equal(new.base.weight, old.base.weight)
        np.testing.assert_array_equal(new.base.bias, old.base.bias)
        assert not np.allclose(new.lora_b, old.lora_b)
        assert not np.allclose(new.lora_a, old.lora_a)

    merged = merge_lora(trained)
    assert isinstance(merged.first, eqx.nn.Linear) and not _loras(merged)
    np.testing.assert_allclose(jax.vmap(merged)(x), jax.vmap(trained)(x), atol=1e-5)


def test_mask_works_with_optax_multi_transform():
    model = loraize(_Net(key=jax.random.key(0)), rank=2, alpha=2.0, key=jax.random.key(1))
    params = eqx.filter(model, eqx.is_array)
    opt = optax.multi_transform({True: optax.sgd(0.1), False: optax.set_to_zero()}, lora_trainable_mask)
    state = opt.init(params)
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    updates, _ = opt.update(grads, state, params)
    new = eqx.apply_updates(model, updates)
    np.testing.assert_array_equal(new.first.base.weight, model.first.base.weight)
    np.testing.assert_allclose(new.first.lora_b, model.first.lora_b - 0.1)
