"""A diagonal linear state-space layer (S5 style) with parallel and sequential scans, and a small SSM model.

The layer runs `x_k = A_bar * x_{k-1} + B_bar u_k`, `y_k = Re(C x_k) + D * u_k`, where the diagonal `A` is
discretised with zero-order hold and a learned per-state step size.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Inexact, PRNGKeyArray

from xaxengine.nn.norms import LayerNorm


def _combine(
    left: tuple[Inexact[Array, "*s state"], Inexact[Array, "*s state"]],
    right: tuple[Inexact[Array, "*s state"], Inexact[Array, "*s state"]],
) -> tuple[Inexact[Array, "*s state"], Inexact[Array, "*s state"]]:
    a_l, b_l = left
    a_r, b_r = right
    return a_r * a_l, a_r * b_l + b_r


def parallel_scan(a: Inexact[Array, "seq state"], bu: Inexact[Array, "seq state"]) -> Inexact[Array, "seq state"]:
    """All states of `x_k = a_k * x_{k-1} + bu_k` (with `x_{-1} = 0`) via `jax.lax.associative_scan`.

    Args:
        a: Per-step diagonal transition.
        bu: Per-step input contribution.

    Returns:
        The states.
    """
    return jax.lax.associative_scan(_combine, (a, bu))[1]


def sequential_scan(a: Inexact[Array, "seq state"], bu: Inexact[Array, "seq state"]) -> Inexact[Array, "seq state"]:
    """Reference implementation of `parallel_scan` with a sequential `jax.lax.scan`.

    Args:
        a: Per-step diagonal transition.
        bu: Per-step input contribution.

    Returns:
        The states.
    """

    def step(x: Array, inputs: tuple[Array, Array]) -> tuple[Array, Array]:
        a_k, bu_k = inputs
        x = a_k * x + bu_k
        return x, x

    _, xs = jax.lax.scan(step, jnp.zeros_like(bu[0]), (a, bu))
    return xs


class DiagonalSSM(eqx.Module):
    """S5-style diagonal SSM mapping `dim` input channels to `dim` outputs through `state_dim` states.

    With `complex_state` the eigenvalues are `-exp(log_neg_real) + i * imag` (S4D-Lin init) and the output
    takes the real part; otherwise they are real and negative (S4D-Real init).
    """

    log_neg_real: Float[Array, " state"]
    imag: Float[Array, " state"]
    b_real: Float[Array, "state dim"]
    b_imag: Float[Array, "state dim"]
    c_real: Float[Array, "dim state"]
    c_imag: Float[Array, "dim state"]
    d: Float[Array, " dim"]
    log_step: Float[Array, " state"]
    complex_state: bool = eqx.field(static=True)

    def __init__(
        self,
        dim: int,
        state_dim: int,
        *,
        complex_state: bool = True,
        min_step: float = 1e-3,
        max_step: float = 1e-1,
        key: PRNGKeyArray,
    ) -> None:
        """Initialises the parameters.

        Args:
            dim: Input and output channels.
            state_dim: Number of diagonal states.
            complex_state: Complex (oscillating) or real eigenvalues.
            min_step: Smallest initial discretisation step.
            max_step: Largest initial discretisation step.
            key: PRNG key for initialisation.
        """
        kb, kc, kd, ks = jax.random.split(key, 4)
        n = jnp.arange(state_dim, dtype=jnp.float32)
        self.complex_state = complex_state
        if complex_state:
            self.log_neg_real = jnp.full((state_dim,), math.log(0.5))
            self.imag = jnp.pi * n
        else:
            self.log_neg_real = jnp.log(n + 1.0)
            self.imag = jnp.zeros((state_dim,))
        kb_r, kb_i = jax.random.split(kb)
        kc_r, kc_i = jax.random.split(kc)
        self.b_real = jax.random.normal(kb_r, (state_dim, dim)) / math.sqrt(2 * dim)
        self.b_imag = jax.random.normal(kb_i, (state_dim, dim)) / math.sqrt(2 * dim)
        self.c_real = jax.random.normal(kc_r, (dim, state_dim)) / math.sqrt(state_dim)
        self.c_imag = jax.random.normal(kc_i, (dim, state_dim)) / math.sqrt(state_dim)
        self.d = jax.random.normal(kd, (dim,))
        self.log_step = jax.random.uniform(ks, (state_dim,), minval=math.log(min_step), maxval=math.log(max_step))

    def discretize(self) -> tuple[Inexact[Array, " state"], Inexact[Array, "state dim"]]:
        """Zero-order-hold discretisation: `A_bar = exp(A dt)`, `B_bar = (A_bar - 1) / A * B`.

        Returns:
            `A_bar` (diagonal) and `B_bar`.
        """
        step = jnp.exp(self.log_step)
        if self.complex_state:
            lam = -jnp.exp(self.log_neg_real) + 1j * self.imag
            b = self.b_real + 1j * self.b_imag
        else:
            lam = -jnp.exp(self.log_neg_real)
            b = self.b_real
        a_bar = jnp.exp(lam * step)
        return a_bar, ((a_bar - 1.0) / lam)[:, None] * b

    def __call__(self, u: Float[Array, "seq dim"], *, parallel: bool = True) -> Float[Array, "seq dim"]:
        """Runs the SSM over a sequence.

        Args:
            u: Input sequence.
            parallel: Use the associative (parallel) scan; False uses the sequential reference scan.

        Returns:
            The output sequence.
        """
        a_bar, b_bar = self.discretize()
        bu = jax.vmap(lambda u_k: b_bar @ u_k.astype(b_bar.dtype))(u)
        a = jnp.broadcast_to(a_bar, bu.shape)
        xs = parallel_scan(a, bu) if parallel else sequential_scan(a, bu)
        c = self.c_real + 1j * self.c_imag if self.complex_state else self.c_real
        y = jax.vmap(lambda x: jnp.real(c @ x))(xs)
        return (y + u * self.d).astype(u.dtype)


class SSMBlock(eqx.Module):
    """Pre-norm residual block: `x + W gelu(ssm(norm(x)))`."""

    norm: LayerNorm
    ssm: DiagonalSSM
    out: eqx.nn.Linear

    def __init__(self, dim: int, state_dim: int, *, complex_state: bool = True, key: PRNGKeyArray) -> None:
        """Builds the block.

        Args:
            dim: Channels.
            state_dim: SSM states.
            complex_state: Complex or real SSM eigenvalues.
            key: PRNG key for initialisation.
        """
        k_ssm, k_out = jax.random.split(key)
        self.norm = LayerNorm(dim)
        self.ssm = DiagonalSSM(dim, state_dim, complex_state=complex_state, key=k_ssm)
        self.out = eqx.nn.Linear(dim, dim, key=k_out)

    def __call__(self, x: Float[Array, "seq dim"], *, parallel: bool = True) -> Float[Array, "seq dim"]:
        """Applies the block.

        Args:
            x: Input sequence.
            parallel: Use the parallel scan.

        Returns:
            The output sequence.
        """
        h = self.ssm(jax.vmap(self.norm)(x), parallel=parallel)
        return x + jax.vmap(self.out)(jax.nn.gelu(h))


class SSMModel(eqx.Module):
    """Linear encoder, a stack of SSM blocks, final norm and a linear decoder, applied per time step."""

    encoder: eqx.nn.Linear
    blocks: tuple[SSMBlock, ...]
    norm: LayerNorm
    decoder: eqx.nn.Linear

    def __init__(
        self,
        in_features: int,
        out_features: int,
        dim: int,
        state_dim: int,
        num_layers: int,
        *,
        complex_state: bool = True,
        key: PRNGKeyArray,
    ) -> None:
        """Builds the model.

        Args:
            in_features: Input features per step.
            out_features: Output features per step.
            dim: Hidden channels.
            state_dim: SSM states per layer.
            num_layers: Number of SSM blocks.
            complex_state: Complex or real SSM eigenvalues.
            key: PRNG key for initialisation.
        """
        k_enc, k_dec, *k_blocks = jax.random.split(key, num_layers + 2)
        self.encoder = eqx.nn.Linear(in_features, dim, key=k_enc)
        self.blocks = tuple(SSMBlock(dim, state_dim, complex_state=complex_state, key=k) for k in k_blocks)
        self.norm = LayerNorm(dim)
        self.decoder = eqx.nn.Linear(dim, out_features, key=k_dec)

    def __call__(self, x: Float[Array, "seq in_features"], *, parallel: bool = True) -> Float[Array, "seq out"]:
        """Maps an input sequence to an output sequence of the same length.

        Args:
            x: Input sequence.
            parallel: Use the parallel scan.

        Returns:
            Outputs per step.
        """
        h = jax.vmap(self.encoder)(x)
        for block in self.blocks:
            h = block(h, parallel=parallel)
        return jax.vmap(self.decoder)(jax.vmap(self.norm)(h))
