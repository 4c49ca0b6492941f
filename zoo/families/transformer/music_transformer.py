"""Music Transformer (`-m transformer`): a causal decoder with relative self-attention over event tokens.

Replaces MechanicalBach's one-block, non-causal transformer (specs/mechanicalbach.md §4.2) and keeps
its flags (specs/musictransformer.md):

    tokens [B, L] -> Embedding(V, embed_dim) -> Dropout
      -> transformer_num_layers x TransformerBlock(num_heads, ff_dim, max_seq_len)  (pre-norm, relative)
      -> LayerNorm -> transformer_num_hidden_dense x Dense(hidden_dense_size, activation) [-> Dropout]
      -> Dense(V) float32 logits [B, L, V]

Differences from the seed: causal, so every position of a window is a next-token target (the seed
predicted one token after a flattened window); positions are relative (a learned embedding per head
and distance, no absolute position embedding), so a model trained on windows of `--seq_len` events
generates pieces of any length; heads split `--embed_dim` (depth embed_dim / num_heads) instead of
each head being `embed_dim` wide.

Generation past `--max_seq_len`: attention always covers the last `max_seq_len` events (a sliding
window). Training uses the same banded mask, and generation keeps a circular key/value cache of
`max_seq_len` slots per layer, so cached generation and a full forward pass agree at every length.
"""
from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.core.registry import register_model_type
from zoo.core.sampling import SMALL_SAMPLING_BATCH, TokenGenerator
from zoo.core.token_model_type import TokenModelType
from zoo.errors import UsageError
from zoo.families.transformer.transformer_block import TransformerBlock
from zoo.families.transformer.transformer_flags import SEED_BLOCK_DROPOUT, TransformerFlags


@register_model_type
class MusicTransformer(TransformerFlags, TokenModelType):
    default_encoding = "event"
    encodings = ("event", "numeric")

    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        if args["embed_dim"] % args["num_heads"]:
            raise UsageError(f"--embed_dim {args['embed_dim']} is not a multiple of --num_heads {args['num_heads']}")
        try:
            keras.activations.get(args["transformer_hidden_dense_activation"])
        except (ValueError, TypeError):
            raise UsageError(f"unknown --transformer_hidden_dense_activation "
                             f"'{args['transformer_hidden_dense_activation']}' (try relu, gelu, tanh)") from None
        # Stored explicitly, so the run folder says what span the model was built with.
        return {**args, "max_seq_len": args.get("max_seq_len") or args["seq_len"]}

    @classmethod
    def build(cls, config: dict[str, Any], encoding) -> keras.Model:
        vocab_size = encoding.vocab_size
        dropout = config.get("transformer_dropout_prob")
        block_dropout = SEED_BLOCK_DROPOUT if dropout is None else dropout
        max_seq_len = config.get("max_seq_len") or config["seq_len"]
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        x = keras.layers.Embedding(vocab_size, config["embed_dim"], name="embedding")(tokens)
        if block_dropout:
            x = keras.layers.Dropout(block_dropout, name="embedding_dropout")(x)
        for i in range(config["transformer_num_layers"]):
            x = TransformerBlock(config["num_heads"], config["ff_dim"], max_seq_len, block_dropout,
                                 name=f"block_{i}")(x)
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
        for i in range(config["transformer_num_hidden_dense"]):
            x = keras.layers.Dense(config["transformer_hidden_dense_size"],
                                   activation=config["transformer_hidden_dense_activation"], name=f"dense_{i}")(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"dense_dropout_{i}")(x)
        logits = keras.layers.Dense(vocab_size, dtype="float32", name="logits")(x)
        return keras.Model(tokens, logits, name="music_transformer")

    @classmethod
    def token_generator(cls, model: keras.Model, config: dict[str, Any]) -> "TransformerGenerator":
        return TransformerGenerator(model, config)


class TransformerGenerator(TokenGenerator):
    """Steps the trained layers one event at a time with a key/value cache per block.

    State: (position int32 scalar, ((key cache, value cache) per block)), each cache of the fixed
    shape [max_seq_len, B, heads, depth] (slot-major), written at slot position % max_seq_len, so the
    compiled loop never sees a shape change.

    Args:
        xla (bool | None, default None): compile the step with XLA (fused kernels instead of ~25
            separate TensorFlow ops per block; it compiles once per batch size, inside the same traced
            loop). None: XLA when a GPU is visible; on CPU, XLA for batches above
            SMALL_SAMPLING_BATCH and graph ops below, chosen per call inside the loop (on a 2-core CPU
            at 4 x 256: graph ops as fast or faster at batch 1, XLA 1.6x faster at batch 16;
            bench/transformer_generation.py, 2026-12-07). Both give the same tokens.
    """

    def __init__(self, model: keras.Model, config: dict[str, Any], xla: bool | None = None):
        super().__init__(model, name="transformer_generator")
        if xla is None and tf.config.list_physical_devices("GPU"):
            xla = True
        xla_step = tf.function(self._step, jit_compile=True)
        if xla is None:
            def by_batch(tokens, state):
                return tf.cond(tf.shape(tokens)[0] > SMALL_SAMPLING_BATCH, lambda: xla_step(tokens, state),
                               lambda: self._step(tokens, state))
            self._compiled_step = by_batch
        else:
            self._compiled_step = xla_step if xla else self._step
        self.embedding = model.get_layer("embedding")
        self.blocks = [model.get_layer(f"block_{i}") for i in range(config["transformer_num_layers"])]
        self.final_norm = model.get_layer("final_norm")
        self.dense = [model.get_layer(f"dense_{i}") for i in range(config["transformer_num_hidden_dense"])]
        self.logits = model.get_layer("logits")

    def initial_state(self, batch_size):
        caches = []
        for block in self.blocks:
            attention = block.attention
            zeros = tf.zeros([attention.max_seq_len, batch_size, attention.num_heads, attention.key_dim],
                             attention.compute_dtype)
            caches.append((zeros, zeros))
        return tf.constant(0, tf.int32), tuple(caches)

    def step(self, tokens, state):
        return self._compiled_step(tokens, state)

    def _step(self, tokens, state):
        position, caches = state
        x = self.embedding(tokens)
        new_caches = []
        for block, (key_cache, value_cache) in zip(self.blocks, caches):
            x, key_cache, value_cache = block.step(x, key_cache, value_cache, position)
            new_caches.append((key_cache, value_cache))
        x = self.final_norm(x)
        for dense in self.dense:
            x = dense(x)
        return self.logits(x), (position + 1, tuple(new_caches))
