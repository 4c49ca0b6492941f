"""Generation speed of the zoo's `transformer`: key/value cache vs recomputing the prefix, and vs GPT-2.

1. Cache vs recompute: the same model and the same compiled loop (`zoo.core.sampling.TokenGenerator.generate`),
   once with the model type's generator (key/value cache, as generate.py runs it) and once
   with a generator whose step re-runs the whole model on the prefix so far (what the seed and the
   public Keras example do), generating a piece of `--context` positions (1 primer + context-1 events).
2. Against Hugging Face `transformers` GPT-2 of the same size (layers, width, heads, feed-forward,
   vocabulary 390, context) generating the same number of tokens with its cache (`model.generate`,
   `use_cache=True`, plain multinomial sampling) on the same CPU.

Both models are untrained (random weights): speed does not depend on them. Batch 1, temperature 1,
no top-k/top-p on both sides. Every measurement runs in its own subprocess (torch and TensorFlow
never share a process); each warms up first (tracing, XLA compilation, a short generation), then
times `--repeats` generations and reports the median. GPT-2 is measured before and after ours.

    python bench/transformer_generation.py                   # README size: 4 layers, 256 wide, 4 heads, ff 1024
    python bench/transformer_generation.py --layers 1 --width 32 --heads 2 --ff 32   # the seed's size
    python bench/transformer_generation.py --skip-recompute  # only ours vs GPT-2

Prints one line per measurement, then a table of tokens/s and the two ratios. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from harness import REPO, describe, emit, measure

VOCAB = 390  # the event encoding's vocab_size
MEASUREMENTS = {
    "cache": "zoo transformer generator as generate.py runs it: key/value cache, attention over the filled "
             "slots, one thread per op up to 8 sequences; on CPU the step is graph ops up to 8 sequences and "
             "XLA above (XLA always when a GPU is visible)",
    "cache_xla": "the same with its step XLA-compiled on CPU too (TransformerGenerator(xla=True))",
    "cache_tf_threads": "cache with TensorFlow's own thread pools (every op split across all cores)",
    "recompute": "same loop, each step re-runs the whole model on the prefix (no cache)",
    "gpt2": "Hugging Face transformers GPT2LMHeadModel.generate(use_cache=True, do_sample=True)",
    "gpt2_loop": "the same GPT-2, a hand-written loop: forward(past_key_values) + torch.multinomial (no generate overhead)",
}


def model_config(args) -> dict:
    return dict(embed_dim=args.width, num_heads=args.heads, ff_dim=args.ff, transformer_dropout_prob=0.0,
                # GPT-2 has no hidden dense layers between its last block and the logits.
                transformer_num_hidden_dense=0, transformer_hidden_dense_size=args.width,
                transformer_hidden_dense_activation="relu", transformer_num_layers=args.layers,
                max_seq_len=args.context, seq_len=args.context)


# -------------------------------------------------------------------------------------- TensorFlow


def run_tf(args, name: str) -> dict:
    sys.path.insert(0, str(REPO))
    import keras
    import tensorflow as tf

    from zoo.core.registry import get_model_type
    from zoo.core.sampling import TokenGenerator, sample_tokens
    from zoo.encodings import EventEncoding
    from zoo.engine.threads import configure_threads, sampling_threads
    from zoo.families.transformer.music_transformer import TransformerGenerator

    if name != "cache_tf_threads":
        configure_threads(*sampling_threads(None, None, args.batch))  # as generate.py; before TensorFlow runs its first op

    class RecomputeGenerator(TokenGenerator):
        """Keeps the tokens so far and re-runs the whole model on them for every new token."""

        def __init__(self, model, context):
            super().__init__(model, name="recompute_generator")
            self.context = context

        def initial_state(self, batch_size):
            return tf.constant(0), tf.zeros([batch_size, self.context], tf.int32)

        def step(self, tokens, state):
            position, buffer = state
            buffer = tf.where(tf.range(self.context)[None, :] == position, tokens[:, None], buffer)
            logits = self.model(buffer[:, : position + 1], training=False)
            return logits[:, -1], (position + 1, buffer)

    keras.utils.set_random_seed(args.seed)
    config = model_config(args)
    model = get_model_type("transformer").build(config, EventEncoding())
    if name == "recompute":
        generator = RecomputeGenerator(model, args.context)
    else:
        generator = TransformerGenerator(model, config, xla=True if name == "cache_xla" else None)
    steps = args.context - 1  # 1 primer token (EOS) + steps = context positions

    start = time.perf_counter()
    sample_tokens(generator, args.batch, min(steps, 32), seed=0)
    warmup_s = time.perf_counter() - start
    times = []
    for repeat in range(args.repeats if name != "recompute" else args.recompute_repeats):
        start = time.perf_counter()
        tokens = sample_tokens(generator, args.batch, steps, seed=repeat)
        times.append(time.perf_counter() - start)
    assert tokens.shape == (args.batch, steps)
    assert generator.generate.experimental_get_tracing_count() == 1
    return {"framework": f"tensorflow {tf.__version__} / keras {keras.__version__}", "times": times,
            "tokens": args.batch * steps, "warmup_s": warmup_s}


# ------------------------------------------------------------------------------------------- GPT-2


def run_gpt2(args, hand_loop: bool = False) -> dict:
    import torch
    import transformers
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(args.seed)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    config = GPT2Config(vocab_size=VOCAB, n_positions=args.context, n_embd=args.width, n_layer=args.layers,
                        n_head=args.heads, n_inner=args.ff, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        bos_token_id=1, eos_token_id=None, pad_token_id=0)
    model = GPT2LMHeadModel(config).eval()
    steps = args.context - 1
    primer = torch.ones((args.batch, 1), dtype=torch.long)
    mask = torch.ones_like(primer)

    def generate(n):
        if hand_loop:  # the least a user could do with the cache: no logits processors, no stopping criteria
            tokens, past, out = primer, None, [primer]
            for _ in range(n):
                result = model(tokens, past_key_values=past, use_cache=True)
                past = result.past_key_values
                tokens = torch.multinomial(torch.softmax(result.logits[:, -1], -1), 1)
                out.append(tokens)
            return torch.cat(out, 1)
        return model.generate(primer, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=True,
                              top_k=0, top_p=1.0, temperature=1.0, use_cache=True)

    with torch.inference_mode():
        start = time.perf_counter()
        generate(min(steps, 32))
        warmup_s = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = generate(steps)
            times.append(time.perf_counter() - start)
    assert out.shape == (args.batch, steps + 1), out.shape
    return {"framework": f"torch {torch.__version__} / transformers {transformers.__version__} "
                         f"(threads {torch.get_num_threads()})",
            "times": times, "tokens": args.batch * steps, "warmup_s": warmup_s}


# ------------------------------------------------------------------------------------------ driver


def run(name: str, args) -> dict:
    """One measurement in its own process (every flag passed on), with its progress line."""
    argv = [f"--{key.replace('_', '-')}={value}" for key, value in vars(args).items()
            if key not in ("child", "skip_recompute") and value is not None]
    result = measure(__file__, name, argv, lambda r: r["tokens"])
    print(describe(result, "tokens/s", f"{result.get('tokens')} tokens each"), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--width", type=int, default=256, help="embed_dim / n_embd")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--ff", type=int, default=1024, help="ff_dim / n_inner")
    parser.add_argument("--context", type=int, default=1024,
                        help="positions generated (1 primer + context-1 new tokens) = max_seq_len = n_positions")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed generations; the median is reported")
    parser.add_argument("--recompute-repeats", type=int, default=1, help="timed generations without the cache")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads for GPT-2 (default: torch's, one per core)")
    parser.add_argument("--skip-recompute", action="store_true", help="leave out the (slow) no-cache measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child.startswith("gpt2"):
            result = run_gpt2(args, hand_loop=args.child == "gpt2_loop")
        else:
            result = run_tf(args, args.child)
        emit(result)
        return

    print(f"transformer generation: {args.layers} layers, width {args.width}, {args.heads} heads, ff {args.ff}, "
          f"vocab {VOCAB}, context {args.context} ({args.context - 1} new tokens), batch {args.batch}; "
          f"os.cpu_count()={os.cpu_count()}", flush=True)
    for name, text in MEASUREMENTS.items():
        print(f"  {name}: {text}")
    names = (["gpt2", "gpt2_loop", "cache", "cache_xla", "cache_tf_threads"]
             + ([] if args.skip_recompute else ["recompute"]) + ["gpt2"])
    results = [run(name, args) for name in names]

    ok = {r["name"]: r for r in results if "error" not in r}
    gpt2_rates = [rate for r in results if r["name"] == "gpt2" and "error" not in r for rate in r["rates"]]
    gpt2 = statistics.median(gpt2_rates) if gpt2_rates else float("nan")
    print()
    print(f"{'measurement':17s} {'tokens/s':>9s} {'/ GPT-2 generate':>17s}")
    if gpt2_rates:
        print(f"{'gpt2':17s} {gpt2:9.1f} {1.0:17.2f}   (median of both GPT-2 runs)")
    for name in ("gpt2_loop", "cache", "cache_xla", "cache_tf_threads", "recompute"):
        if name in ok:
            print(f"{name:17s} {ok[name]['rate']:9.1f} {ok[name]['rate'] / gpt2:17.2f}")
    if "cache" in ok and "recompute" in ok:
        print(f"cache / recompute (target >= 20): {ok['cache']['rate'] / ok['recompute']['rate']:.1f}x")
    if "cache" in ok:
        print(f"ours / GPT-2 generate (target >= 1.5): {ok['cache']['rate'] / gpt2:.2f}x"
              + (f"; / GPT-2 hand loop: {ok['cache']['rate'] / ok['gpt2_loop']['rate']:.2f}x" if "gpt2_loop" in ok else ""))
    spread = [r["rate"] for r in results if r["name"] == "gpt2" and "error" not in r]
    print(f"(GPT-2 before/after ours: {' / '.join(f'{s:.1f}' for s in spread)} tokens/s)")


if __name__ == "__main__":
    main()
