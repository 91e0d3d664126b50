import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from xaxengine.arch import MLP, cosine_schedule, ddim_sample, ddpm_sample, diffusion_loss, linear_schedule, q_sample


def test_schedules():
    lin = linear_schedule(100)
    cos = cosine_schedule(100)
    for s in (lin, cos):
        assert s.num_steps == 100
        assert bool(jnp.all(jnp.diff(s.alpha_bars) < 0))
        assert float(s.alpha_bars[-1]) < 0.05
        assert 0.9 < float(s.alpha_bars[0]) <= 1.0


def test_q_sample_statistics():
    schedule = linear_schedule(50)
    t = jnp.array(20)
    ab = float(schedule.alpha_bars[t])
    x0 = jnp.array([2.0, -1.0])
    noise = jax.random.normal(jax.random.key(0), (20_000, 2))
    xt = jax.vmap(lambda n: q_sample(schedule, x0, t, n))(noise)
    np.testing.assert_allclose(xt.mean(0), np.sqrt(ab) * np.asarray(x0), atol=0.03)
    np.testing.assert_allclose(xt.var(0), 1.0 - ab, rtol=0.05)


class _EpsMLP(eqx.Module):
    net: MLP
    num_steps: int = eqx.field(static=True)

    def __call__(self, x, t, label):
        del label
        return self.net(jnp.concatenate([x, jnp.array([t / self.num_steps])]))


def _eps_model(num_steps):
    return _EpsMLP(MLP(3, 2, hidden=(32, 32), activation=jax.nn.silu, key=jax.random.key(0)), num_steps)


def test_ddim_eta_zero_is_deterministic_and_ddpm_shapes():
    schedule = cosine_schedule(20)
    model = _eps_model(20)
    x_init = jax.random.normal(jax.random.key(1), (2,))
    a = ddim_sample(model, schedule, x_init, key=jax.random.key(2), num_steps=5, eta=0.0)
    b = ddim_sample(model, schedule, x_init, key=jax.random.key(3), num_steps=5, eta=0.0)
    np.testing.assert_array_equal(a, b)
    c = ddim_sample(model, schedule, x_init, key=jax.random.key(2), num_steps=5, eta=1.0)
    d = ddim_sample(model, schedule, x_init, key=jax.random.key(3), num_steps=5, eta=1.0)
    assert not np.allclose(c, d)
    e = ddpm_sample(model, schedule, x_init, key=jax.random.key(2))
    assert e.shape == (2,) and bool(jnp.all(jnp.isfinite(e)))


def test_ddim_clip_x0_bounds_the_sample():
    schedule = cosine_schedule(20)
    model = _eps_model(20)
    x_init = 5.0 * jax.random.normal(jax.random.key(1), (2,))
    free = ddim_sample(model, schedule, x_init, key=jax.random.key(2), num_steps=5)
    clipped = ddim_sample(model, schedule, x_init, key=jax.random.key(2), num_steps=5, clip_x0=0.5)
    assert float(jnp.abs(clipped).max()) <= 0.5 + 1e-6
    assert float(jnp.abs(free).max()) > 0.5  # the bound comes from the clipping, not from the model


def test_guidance_combines_conditional_and_unconditional():
    schedule = linear_schedule(10)

    def eps_fn(x, t, label):
        return jnp.zeros_like(x) + (0.0 if label is None else 1.0) * (label == 1)

    x_init = jnp.zeros((2,))
    key = jax.random.key(0)
    plain = ddim_sample(eps_fn, schedule, x_init, key=key, num_steps=4)
    cond = ddim_sample(eps_fn, schedule, x_init, key=key, num_steps=4, label=jnp.array(1), null_label=0)
    guided = ddim_sample(
        eps_fn, schedule, x_init, key=key, num_steps=4, label=jnp.array(1), null_label=0, guidance_scale=3.0
    )
    assert not np.allclose(plain, cond)
    assert not np.allclose(cond, guided)


def test_tiny_diffusion_overfits_one_point_distribution():
    num_steps = 50
    schedule = linear_schedule(num_steps)
    params, static = eqx.partition(_eps_model(num_steps), eqx.is_array)
    center = jnp.array([1.5, -0.5])
    data = center + 0.05 * jax.random.normal(jax.random.key(5), (64, 2))
    opt = optax.adam(1e-2)

    def loss_fn(p, key):
        model = eqx.combine(p, static)
        keys = jax.random.split(key, data.shape[0])
        return jnp.mean(jax.vmap(lambda x, k: diffusion_loss(model, schedule, x, key=k))(data, keys))

    @jax.jit
    def train(params, key):
        def body(carry, k):
            p, s = carry
            loss, grads = jax.value_and_grad(loss_fn)(p, k)
            updates, s = opt.update(grads, s)
            return (optax.apply_updates(p, updates), s), loss

        (params, _), losses = jax.lax.scan(body, (params, opt.init(params)), jax.random.split(key, 500))
        return params, losses

    params, losses = train(params, jax.random.key(7))
    assert float(losses[-50:].mean()) < 0.2 * float(losses[:10].mean())
    model = eqx.combine(params, static)
    noise = jax.random.normal(jax.random.key(8), (32, 2))
    keys = jax.random.split(jax.random.key(9), 32)
    samples = jax.vmap(lambda x, k: ddpm_sample(model, schedule, x, key=k))(noise, keys)
    assert float(jnp.linalg.norm(samples.mean(0) - center)) < 0.25
    assert float(samples.std(0).max()) < 0.5  # collapsed from unit noise towards the point
