"""MusicVAE (symusic's PyTorch port of Magenta's music_vae): flat and hierarchical melody VAEs.

Configured like the seed: a JSON file (`--config FILE`, examples in zoo/families/musicvae/configs/)
or flags of the same names (`--z_size 256 --seq_decoder_args '{...}'`); flags override the file,
the file overrides the defaults (the seed's flat 8-bar config). The JSON keys `batch_size` and
`learning_rate` are the general flags `-b` and `--learning_rate` (which win when given).
`num_steps` sets the length of training: epochs of `evaluate_interval` steps (or
`--steps_per_epoch`), each followed by the evaluation, so `-e` is computed unless given. `ckpt_path` is
`--init_from FILE`: a fresh optimizer over the file's weights, loaded by the engine.
The model and its objective are in zoo/families/musicvae/vae_model.py, the decoders in vae_decoder.py,
the data windows in melody_data.py, encode/decode/metrics in vae_inference.py.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.core.checkpoints import check_weights_file
from zoo.core.model_type import ModelType
from zoo.core.optimizers import RelativeReduceLROnPlateau, make_optimizer, takes_epsilon
from zoo.core.registry import register_model_type
from zoo.data.dataset import EncodedSplit, TrainingData, split_off_validation
from zoo.encodings.base import Encoding
from zoo.errors import DataError, RunError, UsageError
from zoo.families.musicvae.melody_data import encode_folder, first_window, melody_windows
from zoo.families.musicvae.melody_encoding import STEPS_PER_BAR, MelodyEncoding
from zoo.families.musicvae.musicvae_callbacks import ReconstructionLogger, StepPrinter
from zoo.families.musicvae.musicvae_config import resolve_config
from zoo.families.musicvae.musicvae_flags import MusicVAEFlags
from zoo.families.musicvae.vae_inference import compiled_functions, decode_z, reconstruction_metrics, slerp
from zoo.families.musicvae.vae_model import MusicVAEModel
from zoo.music.io import write_pieces
from zoo.music.score import Score


@register_model_type
class MusicVAE(MusicVAEFlags, ModelType):
    """`-m musicvae`: melody VAE with a flat or hierarchical (conductor) decoder."""

    default_encoding = "melody"
    encodings = ("melody",)
    loss_functions = ("sparse_categorical_crossentropy",)  # -l's default; the ELBO is built in
    own_lr_schedule = "--lr_scheduler_factor and --lr_scheduler_patience, on each evaluation"

    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        vae = resolve_config(args)
        args = {**args, "musicvae": vae}
        if args.get("batch_size") is None:
            args["batch_size"] = vae["batch_size"]
        if args.get("learning_rate") is None:
            args["learning_rate"] = vae["learning_rate"]
        if args.get("steps_per_epoch") is None:
            args["steps_per_epoch"] = vae["evaluate_interval"]
        if args.get("epochs") is None:
            args["epochs"] = max(1, math.ceil(vae["num_steps"] / args["steps_per_epoch"]))
        if vae.get("ckpt_path"):  # the seed's spelling of --init_from FILE: the engine loads it
            path = vae["ckpt_path"]
            if args.get("init_from") not in (None, path):
                raise UsageError(f"ckpt_path {path} and --init_from {args['init_from']} name different starting "
                                 "weights: give one")
            try:  # said before any data is prepared, under the name the user gave
                check_weights_file(path)
            except RunError as error:
                raise RunError(f"ckpt_path: {error}") from None
            args["init_from"] = path
        return args

    # ------------------------------------------------------------ data
    @classmethod
    def resolve_data(cls, args: dict[str, Any]) -> TrainingData:
        """-p / the default corpus, or the seed's `train_dir` (+ `eval_dir`) of music files, encoded once into the
        data cache."""
        vae = args["musicvae"]
        if not vae.get("train_dir"):
            return super().resolve_data(args)

        encoding = MelodyEncoding()
        train = encode_folder(vae["train_dir"], encoding, vae["num_workers"])
        if vae.get("eval_dir"):
            valid = encode_folder(vae["eval_dir"], encoding, vae["num_workers"])
        else:
            train, valid = split_off_validation(train, args.get("validation_split") or 0.1, args["seed"])
        paths = {"train": train.path, **({"valid": valid.path} if vae.get("eval_dir") else {})}
        return TrainingData(train, valid, paths, encoding.to_config())

    @classmethod
    def datasets(cls, data: TrainingData, encoding: Encoding, config: dict[str, Any]):
        slice_bar = config["musicvae"]["slice_bar"]
        train = melody_windows(data.train.pieces, encoding, slice_bar)
        valid = melody_windows(data.valid.pieces, encoding, slice_bar)
        for name, windows in (("training", train), ("validation", valid)):
            if len(windows) == 0:
                raise DataError(f"the {name} data has no melody of {slice_bar} bar(s) (lower slice_bar or add data)")
        batch = config["batch_size"]
        train_ds = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train), seed=config["seed"],
                                                                     reshuffle_each_iteration=True)
        # Training drops the last incomplete batch (symusic), unless that would leave none.
        train_ds = train_ds.batch(batch, drop_remainder=len(train) >= batch).prefetch(tf.data.AUTOTUNE)
        valid_ds = tf.data.Dataset.from_tensor_slices(valid).batch(batch).prefetch(tf.data.AUTOTUNE)
        return train_ds, valid_ds, f"{len(train)} distinct {slice_bar}-bar melodies ({len(valid)} for validation)"

    # ------------------------------------------------------------ model
    @classmethod
    def build(cls, config: dict[str, Any], encoding: Encoding) -> keras.Model:
        model = MusicVAEModel(config["musicvae"]["model"], name="musicvae")
        model.build()
        return model

    @classmethod
    def compile(cls, model: keras.Model, config: dict[str, Any]) -> None:
        epsilon = 1e-8 if takes_epsilon(config["optimizer"]) else None  # PyTorch's Adam (symusic), not Keras's 1e-7
        optimizer = make_optimizer(config["optimizer"], config.get("learning_rate"), epsilon=epsilon,
                                   global_clipnorm=config.get("grad_clip"))
        jit = config.get("jit_compile", "auto")
        model.compile(optimizer=optimizer, jit_compile=False if jit == "auto" else jit)

    @classmethod
    def callbacks(cls, context) -> list[keras.callbacks.Callback]:
        config, run = context.config, context.run
        vae = config["musicvae"]
        callbacks = [RelativeReduceLROnPlateau(vae["lr_scheduler_factor"], vae["lr_scheduler_patience"])]
        if vae["print_interval"]:
            callbacks.append(StepPrinter(vae["print_interval"]))
        if vae["advanced_interval"]:
            callbacks.append(ReconstructionLogger(
                lambda: cls._validation_melody(context), run.samples, run.log_dir, vae["advanced_interval"],
                config["seed"]))
        return callbacks

    @classmethod
    def _validation_melody(cls, context) -> np.ndarray:
        windows = melody_windows(context.data.valid.pieces, context.encoding, context.config["musicvae"]["slice_bar"])
        return windows[:1]

    # ------------------------------------------------------------ generation
    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None) -> list[Score]:
        """Prior samples at temperature 1; `length` in 16th steps (longer: successive samples joined)."""
        steps = model.seq_len
        per_piece = max(1, math.ceil((length or steps) / steps))
        z = np.random.default_rng(seed).standard_normal((num_outputs * per_piece, model.z_size)).astype(np.float32)
        classes = decode_z(model, z, 1.0, seed).reshape(num_outputs, per_piece * steps)
        return [encoding.decode(c[:length or steps]) for c in classes]

    @classmethod
    def metric_pieces(cls, model, config, encoding, split, num_outputs, seed, length=None):
        """Prior samples against the test melodies' windows of the same number of bars: a 2-bar sample set
        beside whole tunes would differ in range and pitch count for its length alone."""
        bars = math.ceil((length or model.seq_len) / STEPS_PER_BAR)
        windows = melody_windows(split.pieces, encoding, bars)
        if len(windows) == 0:
            raise DataError(f"{split.path} has no melody of {bars} bars")
        generated = cls.sample_scores(model, config, encoding, num_outputs, seed, bars * STEPS_PER_BAR)
        return generated, [encoding.decode(window) for window in windows]

    @classmethod
    def generate(cls, args, run, config, encoding, model) -> list[Path]:
        mode, inputs = args["mode"], args.get("input") or []
        needed = {"sample": 0, "reconstruct": 1, "interpolate": 2}[mode]
        if len(inputs) != needed:
            raise UsageError(f"--mode {mode} takes {needed} --input file(s), got {len(inputs)}")
        slice_bar = config["musicvae"]["slice_bar"]
        if mode == "sample":
            z = np.random.default_rng(args["seed"]).standard_normal((args["num_outputs"], model.z_size))
        else:
            windows = [first_window(path, encoding, slice_bar) for path in inputs]
            mu, _ = compiled_functions(model)["encode"](tf.constant(np.stack(windows)))
            mu = mu.numpy()
            if mode == "reconstruct":
                z = np.repeat(mu[:1], args["num_outputs"], axis=0)
            elif args["num_outputs"] < 2:
                raise UsageError("--mode interpolate needs --num_outputs of at least 2 (the two ends included)")
            else:
                z = np.stack([slerp(mu[0], mu[1], t) for t in np.linspace(0.0, 1.0, args["num_outputs"])])
        melodies = decode_z(model, z.astype(np.float32), args["temperature"], args["seed"])
        call_parts = {}  # files about the whole call: the input that was reconstructed, the interpolation joined
        if mode == "reconstruct":
            call_parts["original"] = windows[0]
        elif mode == "interpolate":
            call_parts["all"] = np.concatenate(list(melodies))
        return write_pieces((encoding.decode(m) for m in melodies), args["output_dir"], run.name, mode, args["seed"],
                            {part: encoding.decode(m) for part, m in call_parts.items()})

    @classmethod
    def export_endpoints(cls, model, config) -> dict[str, Any]:
        """`encode(melody int32 [B, T]) -> (mu, logvar)` and
        `decode(z [B, Z], temperature, seed [2]) -> classes [B, T]`."""
        fns = compiled_functions(model)
        return {"encode": fns["encode"], "decode": fns["decode"]}

    # ------------------------------------------------------------ evaluation
    @classmethod
    def evaluate(cls, model, config, encoding, split: EncodedSplit, args, run) -> dict[str, float]:
        windows = melody_windows(split.pieces, encoding, config["musicvae"]["slice_bar"])
        if len(windows) == 0:
            raise DataError(f"{split.path} has no melody of {config['musicvae']['slice_bar']} bars")
        return reconstruction_metrics(model, windows, args["batch_size"], config["musicvae"])
