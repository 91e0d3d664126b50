import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from xaxengine.arch import CNN, MLP, UNet
from xaxengine.nn import cross_entropy


def _train(model, loss_fn, steps):
    opt = optax.adam(1e-2)
    state = opt.init(eqx.filter(model, eqx.is_array))

    @eqx.filter_jit
    def step(model, state):
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model)
        updates, state = opt.update(grads, state)
        return eqx.apply_updates(model, updates), state, loss

    losses = []
    for _ in range(steps):
        model, state, loss = step(model, state)
        losses.append(float(loss))
    return losses


def test_mlp_shapes_and_training():
    model = MLP(3, 2, hidden=(16,), key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (8, 3))
    y = jnp.stack([x[:, 0] * x[:, 1], jnp.sin(x[:, 2])], axis=-1)
    assert jax.vmap(model)(x).shape == (8, 2)
    assert MLP(3, 2, hidden=(), key=jax.random.key(0))(x[0]).shape == (2,)
    losses = _train(model, lambda m: jnp.mean((jax.vmap(m)(x) - y) ** 2), 20)
    assert losses[-1] < 0.5 * losses[0]


def test_cnn_shapes_and_training():
    model = CNN((1, 8, 8), num_classes=3, channels=(4, 8), key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6, 1, 8, 8))
    labels = jnp.array([0, 1, 2, 0, 1, 2])
    assert jax.vmap(model)(x).shape == (6, 3)
    losses = _train(model, lambda m: cross_entropy(jax.vmap(m)(x), labels), 15)
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("size", [8, 28])
def test_unet_shape_and_time_conditioning(size):
    model = UNet(1, channels=(4, 8, 8), embed_dim=8, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (1, size, size))
    out = model(x, 3.0)
    assert out.shape == x.shape
    assert not np.allclose(out, model(x, 40.0), atol=1e-5)


def test_unet_class_conditioning():
    model = UNet(1, channels=(4, 8), embed_dim=8, num_classes=3, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (1, 8, 8))
    a = model(x, 1.0, jnp.array(0))
    b = model(x, 1.0, jnp.array(2))
    assert a.shape == x.shape
    assert not np.allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(model(x, 1.0), model(x, 1.0, jnp.array(3)), atol=1e-6)  # None == null label
    with pytest.raises(ValueError, match="num_classes"):
        UNet(1, channels=(4, 8), embed_dim=8, key=jax.random.key(0))(x, 1.0, jnp.array(0))
