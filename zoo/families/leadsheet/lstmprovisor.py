"""lstmprovisor (D. D. Johnson, 2016): LSTM jazz melodies over chord changes, for Impro-Visor.

Model types (specs/lstmprovisor.md §4):
    simple  one LSTM stack with the abs, cot or rel (interval) encoding (--encoding)
    poex    product of an interval expert and a chord expert (+ a rhythm expert with
            --separate_rhythm): the generative model Impro-Visor plays; exports a .ctome connectome
Each expert: features [B, T, F] -> LSTM x num_layers (trainable initial state, dropout 0.5 with one
mask per sequence after each) -> Dense(raw) -> its decoder to [rest, sustain, MIDI 48..84]; the
experts' distributions are multiplied and normalised; the loss is the summed NLL (experts.py, network in
leadsheet_network.py).

Training is `Model.fit` on batches of `--batch_size` random segments (`--segment_len`, starting on a
multiple of `--segment_step`, the last start included), each from a uniformly drawn file of a
uniformly drawn `--dataset` folder; the interval expert's start offset is redrawn every batch.
`--iterations N` is N Adam steps = `-e` epochs x `--steps_per_epoch` (default 50 x 1000 = 50,000,
the seed's default); N must be a multiple of the steps per epoch (min(N, --steps_per_epoch)).
Validation: non-overlapping segments of every validation piece, fixed offsets, so val_loss is
comparable between epochs; `nll_per_step` is the mean NLL per 1/48-bar step. What the types share
(flags, data, training, generation, evaluation) is `LeadSheetModelType` (leadsheet_model_type.py).
"""
from __future__ import annotations

from pathlib import Path

from zoo.core.registry import register_model_type
from zoo.encodings import get_encoding_class
from zoo.errors import UsageError
from zoo.families.leadsheet.connectome import connectome_tensors, write_connectome
from zoo.families.leadsheet.leadsheet_flags import ProductOfExpertsFlags, SimpleFlags
from zoo.families.leadsheet.leadsheet_model_type import ENCODING_EXPERT, LeadSheetModelType

CONNECTOME_CONFIG = {False: "generative_product_interval_chords", True: "generative_product_interval_chords_rhythm"}


@register_model_type
class SimpleModel(SimpleFlags, LeadSheetModelType):
    """`simple`: one LSTM stack with the abs, cot or rel encoding (not used by Impro-Visor)."""

    @classmethod
    def experts(cls, config):
        return (ENCODING_EXPERT[config.get("encoding") or "abs"],)

    @classmethod
    def input_encoding(cls, config):
        return get_encoding_class(config.get("encoding") or "abs")()


@register_model_type
class ProductOfExpertsModel(ProductOfExpertsFlags, LeadSheetModelType):
    """`poex`: interval expert x chord expert [x rhythm expert]: Impro-Visor's generative model."""

    export_formats = ("connectome",)

    @classmethod
    def experts(cls, config):
        return ("interval", "chord") + (("rhythm",) if config.get("separate_rhythm") else ())

    @classmethod
    def input_encoding(cls, config):
        return get_encoding_class("poex")()

    @classmethod
    def write_export(cls, export_format, model, config, encoding, output: Path) -> Path:
        """`.ctome`: a zip of param_<key>.csv (spec §7 layout) plus config.txt, for Impro-Visor's LSTM player."""
        if export_format != "connectome":
            return super().write_export(export_format, model, config, encoding, output)
        if config.get("per_note"):
            raise UsageError("a --per_note poex run cannot be exported as a connectome: Impro-Visor has no note "
                             "memory cells")
        return write_connectome(Path(output), connectome_tensors(model, cls.experts(config)),
                                CONNECTOME_CONFIG[bool(config.get("separate_rhythm"))])
