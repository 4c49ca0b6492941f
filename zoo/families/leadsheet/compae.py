"""lstmprovisor's compressing autoencoder `compae`: Impro-Visor's "trading" model (specs/lstmprovisor.md §4.3).

The encoder reads a melody over its chords and pushes feature vectors into a "fragmented queue";
the decoder rebuilds the melody step by step from the queue and its own previous notes. Trading:
encode a solo and decode an answer over the same changes (`--generate_over SOURCE DIV_WIDTH`).

    --encoding abs|cot|rel|poex     the experts, as for simple/poex (poex: interval x chord)
    --manager MANAGER               how features are pushed (zoo/families/leadsheet/compae_manager.py)
    --add_loss | --priority_loss [C] | --cutoff_loss X | --trigger_loss X RAMP
                                    how the reconstruction loss R and the manager's loss Q combine
                                    (zoo/families/leadsheet/compae_queue.py; default priority 50)
Data, segments, --iterations, --resume, generation outputs and the .ctome export are those of
poex (leadsheet_model_type.py, connectome.py); training is `Model.fit` with the model's own `train_step`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.core.model_cache import per_model
from zoo.core.registry import register_model_type
from zoo.encodings import get_encoding_class
from zoo.errors import UsageError
from zoo.families.leadsheet import leadsheet_encoding as ls
from zoo.families.leadsheet.compae_network import CompressingAutoencoder
from zoo.families.leadsheet.connectome import connectome_tensors, write_connectome
from zoo.families.leadsheet.leadsheet_flags import QUEUELESS, SPARSE, VARIATIONAL, CompaeFlags
from zoo.families.leadsheet.leadsheet_generation import DEFAULT_CHART, chart_grid, grid_score
from zoo.families.leadsheet.leadsheet_model_type import ENCODING_EXPERT, LeadSheetModelType
from zoo.families.leadsheet.leadsheet_network import LeadSheetGenerator

CONNECTOME_CONFIG = "autoencoder_product_interval_chords"
IMPRO_VISOR_PERIOD = 24  # a half note: the feature period Impro-Visor's trading player expects
# The lick encoded when no melody is given (training samples, plain generate.py): a ii-V-I line of eighths
# over DEFAULT_CHART, (MIDI pitch or None for a rest, steps).
DEFAULT_LICK = ((None, 6), (65, 6), (64, 6), (62, 6), (60, 6), (62, 6), (65, 6), (69, 6),
                (67, 6), (65, 6), (71, 6), (67, 6), (65, 6), (62, 6), (59, 6), (55, 6),
                (64, 12), (60, 12), (67, 24), (None, 48))


def lick_grid(bars: int) -> dict[str, np.ndarray]:
    """DEFAULT_LICK over DEFAULT_CHART, repeated to `bars` bars: a stored piece (pitch, onset, root, chord)."""
    grid = chart_grid(DEFAULT_CHART, bars)
    pitch, onset = [], []
    while len(pitch) < bars * ls.STEPS_PER_BAR:
        for note, steps in DEFAULT_LICK:
            pitch += [-1 if note is None else note] * steps
            onset += [0 if note is None else 1] + [0] * (steps - 1)
    length = bars * ls.STEPS_PER_BAR
    return {**grid, "pitch": np.array(pitch[:length], np.int16), "onset": np.array(onset[:length], np.uint8)}


class StrengthLogger(keras.callbacks.Callback):
    """Every epoch, TensorBoard histograms of the feature strengths and of the features used per bar (and
    sample_var's strength probabilities) over the encoded `inputs` (a fixed batch, so epochs compare)."""

    def __init__(self, log_dir: Path, inputs: dict[str, np.ndarray]):
        super().__init__()
        self.log_dir = Path(log_dir)
        self.inputs = inputs
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        managed = self.model.encode(self.inputs, training=False, seed=tf.constant([0, 1]))
        strengths = np.asarray(managed["strengths"])
        bars = strengths.shape[1] // ls.STEPS_PER_BAR
        per_bar = strengths[:, :bars * ls.STEPS_PER_BAR].reshape(len(strengths), bars, -1).sum(-1)
        if self.writer is None:
            self.writer = tf.summary.create_file_writer(str(self.log_dir / "train"))
        with self.writer.as_default():
            tf.summary.histogram("feature_strengths", strengths.ravel(), step=epoch + 1)
            tf.summary.histogram("features_per_bar", per_bar.ravel(), step=epoch + 1)
            if self.model.manager.kind == "sample_var":  # the probabilities the hard strengths were drawn from
                tf.summary.histogram("strength_probs", np.asarray(managed["strength_probs"]).ravel(), step=epoch + 1)
        self.writer.flush()


@register_model_type
class CompressingAutoencoderModel(CompaeFlags, LeadSheetModelType):
    """`compae`: encoder -> queue manager -> fragmented queue -> decoder, over any lead-sheet encoding."""

    export_formats = ("connectome",)

    @classmethod
    def experts(cls, config):
        return ("interval", "chord") if (config.get("encoding") or "poex") == "poex" else (
            ENCODING_EXPERT[config["encoding"]],)

    @classmethod
    def input_encoding(cls, config):
        return get_encoding_class(config.get("encoding") or "poex")()

    # ------------------------------------------------------------ flags
    @classmethod
    def check_args(cls, args: dict[str, Any]) -> dict[str, Any]:
        args = super().check_args(args)
        manager = args.get("manager") or "queueless_std"
        owners = {"feature_period": QUEUELESS, "variational_loss_scale": VARIATIONAL, "sparsity_loss_scale": SPARSE}
        for flag, managers in owners.items():
            if args.get(flag) is not None and manager not in managers:
                raise UsageError(f"--{flag} applies to --manager {'|'.join(managers)}, not to --manager {manager}")
        period = args.get("feature_period")
        if period is not None and args["segment_len_steps"] % period:
            raise UsageError(f"--feature_period {period} does not divide the segment (--segment_len "
                             f"{args['segment_len_steps']} steps); e.g. 24 (a half note) or 48 (a bar)")
        modes = [m for m in ("add_loss", "priority_loss", "cutoff_loss", "trigger_loss")
                 if args.get(m) not in (None, False)]
        if len(modes) > 1:
            raise UsageError(f"the loss modes exclude each other: got {', '.join('--' + m for m in modes)}")
        if args.get("trigger_loss") is not None and args["trigger_loss"][1] <= 0:
            raise UsageError(f"--trigger_loss RAMP_TIME must be positive (got {args['trigger_loss'][1]})")
        return args

    @staticmethod
    def loss_mode(config: dict[str, Any]) -> tuple[str, float, float]:
        """(mode, option, ramp time) of the flags: priority 50 unless another mode is chosen."""
        if config.get("add_loss"):
            return "add", 0.0, 1.0
        if config.get("cutoff_loss") is not None:
            return "cutoff", float(config["cutoff_loss"]), 1.0
        if config.get("trigger_loss") is not None:
            return "trigger", float(config["trigger_loss"][0]), float(config["trigger_loss"][1])
        return "priority", float(config.get("priority_loss") or 50.0), 1.0

    # ------------------------------------------------------------ data and model
    @classmethod
    def input_signature(cls, experts, seg_len):
        signature = super().input_signature(experts, seg_len)
        signature.update({f"{k}_current": tf.TensorSpec((None, seg_len, ls.ENCODING_WIDTH[k]), tf.float32)
                          for k in experts})
        return signature

    @classmethod
    def encode_batch(cls, model_encoding, windows, offsets, experts):
        return model_encoding.batch(windows, offsets, experts, with_current=True)

    @classmethod
    def model_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """The CompressingAutoencoder's config from the run's flags."""
        experts = cls.experts(config)
        sizes, depths = list(config["layer_size"]), list(config["num_layers"])
        mode, option, ramp = cls.loss_mode(config)
        manager = config.get("manager") or "queueless_std"
        return {
            "experts": list(experts),
            "sizes": sizes * (len(experts) if len(sizes) == 1 else 1),
            "depths": depths * (len(experts) if len(depths) == 1 else 1),
            "per_note": int(config.get("per_note") or 0),
            "feature_size": int(config.get("feature_size") or 100),
            "manager": {"kind": manager, "period": config.get("feature_period"),
                        "sparsity_scale": 1.0 if config.get("sparsity_loss_scale") is None
                        else float(config["sparsity_loss_scale"]),
                        "variational_scale": 1.0 if config.get("variational_loss_scale") is None
                        else float(config["variational_loss_scale"]),
                        "pre_noise": float(config.get("add_pre_noise") or 0.0),
                        "post_noise": float(config.get("add_post_noise") or 0.0),
                        "seed": config.get("seed")},
            "hide_output": bool(config.get("hide_output")),
            "loss_mode": mode, "loss_option": option, "ramp_time": ramp,
            "train_decoder_only": bool(config.get("train_decoder_only")),
        }

    @classmethod
    def build(cls, config: dict[str, Any], encoding) -> keras.Model:
        model = CompressingAutoencoder(cls.model_config(config), name=cls.name)
        model.build()
        return model

    @classmethod
    def compile(cls, model: keras.Model, config: dict[str, Any]) -> None:
        """The poex optimizer; no loss or metrics: the model's train_step computes them."""
        model.compile(optimizer=cls.make_optimizer(config), jit_compile=config.get("jit_compile", "auto"))
        cls.resume_step(model, config)

    @classmethod
    def callbacks(cls, context) -> list[keras.callbacks.Callback]:
        """The strength histograms, over DEFAULT_LICK in segments of the run's length."""
        config = context.config
        bars = -(-config["segment_len_steps"] // ls.STEPS_PER_BAR)
        grid = lick_grid(bars)
        window = {k: v[:config["segment_len_steps"]] for k, v in grid.items()}
        experts = cls.experts(config)
        inputs, _ = cls.encode_batch(cls.input_encoding(config), [window], np.zeros(1, np.int64), experts)
        return [StrengthLogger(context.run.log_dir, cls.model_inputs(inputs, experts))]

    # ------------------------------------------------------------ generation
    @classmethod
    def default_grid(cls, bars: int) -> dict[str, np.ndarray]:
        """Without --generate/--generate_over, compae answers DEFAULT_LICK over the ii-V-I chart."""
        return lick_grid(bars)

    @classmethod
    def decoder_generator(cls, model, config: dict[str, Any]) -> LeadSheetGenerator:
        """The decoder's compiled sampling loop over the features, built (and traced) once per loaded model."""
        return per_model(model, "decoder_generator", lambda: LeadSheetGenerator(
            model, cls.experts(config), ls.LOW, prefix="dec_", feature_size=model.manager.feature_size,
            hide_output=bool(config.get("hide_output"))))

    @classmethod
    def _sample(cls, model, config, grid: dict[str, np.ndarray], seed: int):
        """Encodes the grid's melodies, then samples the decoder over the same chords from those features.

        Returns (chosen, probs, {info-i: each expert's distributions, then the features
        [B, T, F], the strengths [B, T] and the vectors [B, T, F]}): generate.py writes them as poex's
        outputs. Chunks need not be multiples of --feature_period: the queueless managers also push at a
        ragged chunk's last step.
        """
        experts = cls.experts(config)
        if "pitch" not in grid:  # a chord chart alone: nothing to answer, the encoder hears rests
            grid = {**grid, "pitch": np.full(grid["root"].shape, -1, np.int16),
                    "onset": np.zeros(grid["root"].shape, np.uint8)}
        windows = [{k: grid[k][i] for k in ("pitch", "onset", "root", "chord")} for i in range(len(grid["root"]))]
        inputs, _ = cls.encode_batch(cls.input_encoding(config), windows, np.zeros(len(windows), np.int64), experts)
        inputs = {k: tf.constant(v) for k, v in cls.model_inputs(inputs, experts).items()}
        managed = model.encode(inputs, training=False, seed=tf.constant([seed, 1], tf.int32))
        generator = cls.decoder_generator(model, config)
        start = np.full(len(windows), ls.DEFAULT_START_POSITION, np.int32)
        chosen, probs, expert_probs = generator.generate(
            tf.constant(grid["root"], tf.int32), tf.constant(grid["chord"], tf.float32), tf.constant(start),
            tf.constant([seed, 0], tf.int32), managed["features"])
        extra = [*np.asarray(expert_probs), np.asarray(managed["features"]), np.asarray(managed["strengths"]),
                 np.asarray(managed["vectors"])]
        return np.asarray(chosen), np.asarray(probs), {f"info-{i}": a for i, a in enumerate(extra)}

    @classmethod
    def play(cls, model, config, grid, seed):
        """The answers to `grid`'s melodies over its chords (encoded, then decoded from the queue)."""
        return cls._sample(model, config, grid, seed)[0]

    @classmethod
    def sample_scores(cls, model, config, encoding, num_outputs, seed, length=None):
        """Answers to DEFAULT_LICK over Dm7 | G7 | CM7 | CM7; `length` in steps, rounded up to bars."""
        bars = max(1, min(16, -(-(length or 4 * ls.STEPS_PER_BAR) // ls.STEPS_PER_BAR)))
        grid = {k: np.repeat(v[None], num_outputs, 0) for k, v in lick_grid(bars).items()}
        chosen, _, _ = cls._sample(model, config, grid, seed)
        return [grid_score(c, r, h) for c, r, h in zip(chosen, grid["root"], grid["chord"])]

    @classmethod
    def export_endpoints(cls, model: keras.Model, config: dict[str, Any]) -> dict[str, Any]:
        """`serve`: inputs dict -> reconstruction probs [B, T, V]; `encode`: inputs dict -> (features, strengths,
        vectors); `decode`: (roots, chords, start_pos, seed, features) -> (chosen, probs, expert probs)."""
        experts = cls.experts(config)
        spec = {k: tf.TensorSpec(v.shape, v.dtype, name=k) for k, v in cls.input_signature(experts, None).items()}
        serve = tf.function(lambda inputs: model(inputs, training=False), input_signature=[spec])

        def encode(inputs):
            managed = model.encode(inputs, training=False)
            return managed["features"], managed["strengths"], managed["vectors"]

        generator = cls.decoder_generator(model, config)
        decode = tf.function(lambda *a: generator.generate(*a), input_signature=generator.generate.input_signature)
        return {"serve": serve, "encode": tf.function(encode, input_signature=[spec]), "decode": decode}

    @classmethod
    def write_export(cls, export_format, model, config, encoding, output: Path) -> Path:
        """`.ctome` for Impro-Visor's trading player: encoders then decoders, keys enc_<e>_... / dec_<e>_...
        (spec §7), config.txt "autoencoder_product_interval_chords"."""
        if export_format != "connectome":
            return super(LeadSheetModelType, cls).write_export(export_format, model, config, encoding, output)
        manager = config.get("manager") or "queueless_std"
        if ((config.get("encoding") or "poex") != "poex" or manager not in QUEUELESS or config.get("per_note")
                or config.get("hide_output") or config.get("feature_period") != IMPRO_VISOR_PERIOD):
            raise UsageError("Impro-Visor plays only compae --encoding poex --manager queueless_std|queueless_var "
                             f"--feature_period {IMPRO_VISOR_PERIOD} without --per_note or --hide_output; this run "
                             f"is --encoding {config.get('encoding')} --manager {manager} --feature_period "
                             f"{config.get('feature_period')}")
        experts = cls.experts(config)
        tensors = (connectome_tensors(model, experts, "enc_", "enc_")
                   + connectome_tensors(model, experts, "dec_", "dec_"))
        return write_connectome(Path(output), tensors, CONNECTOME_CONFIG)
