"""The names and flags of the lead-sheet model types `simple`, `poex` and `compae` (lstmprovisor's), apart from
the models so the command line needs no TensorFlow."""
from __future__ import annotations

import argparse

from zoo.core.flags import non_negative_float, non_negative_int, positive_float, positive_int
from zoo.core.model_flags import ModelFlags
from zoo.families.leadsheet import leadsheet_encoding as ls

# compae's queue managers (compae_manager.py), and those that a manager-specific flag applies to
MANAGERS = ("std", "var", "sample_var", "queueless_std", "queueless_var", "nearness_std")
QUEUELESS = ("queueless_std", "queueless_var")
VARIATIONAL = ("var", "sample_var", "queueless_var")
SPARSE = ("std", "var", "sample_var", "nearness_std")


class LeadSheetFlags(ModelFlags):
    """The flags `simple`, `poex` and `compae` share."""

    flag_defaults = {"batch_size": 10, "learning_rate": 2e-4, "epochs": 50, "steps_per_epoch": 1000,
                     "loss_function": "summed_nll"}

    @classmethod
    def add_common_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--dataset", nargs="+", default=None, metavar="DIR",
                            help="folder(s) of .ls files (or any scores with chord symbols); with several, each "
                                 "batch item draws a folder uniformly (default: -p, else music21's lead sheets)")
        parser.add_argument("--validation", dest="validation", default=None, metavar="DIR",
                            help="folder of validation lead sheets (default: --validation_split of the pieces)")
        parser.add_argument("--iterations", type=positive_int, default=None,
                            help="Adam steps in all (= -e x --steps_per_epoch; default 50 x 1000)")
        parser.add_argument("--segment_len", default="4bar", help="training segment: Nbar or steps (48 a bar)")
        parser.add_argument("--segment_step", default="1bar", help="segments start on multiples of this")
        parser.add_argument("--resume", dest="resume", nargs=2, default=None, metavar=("TIMESTEP", "PARAMFILE"),
                            help="start from the weights in PARAMFILE (.keras or .weights.h5 of a run of the "
                                 "same shape: --init_from PARAMFILE); Adam's step counter and the epochs go on "
                                 "from TIMESTEP")
        parser.add_argument("--layer_size", type=positive_int, nargs="+", default=None,
                            help="LSTM units: one value, or one per expert (default 300; 200 independent "
                                 "units with --per_note)")
        parser.add_argument("--num_layers", type=positive_int, nargs="+", default=[2],
                            help="LSTM layers: one value, or one per expert")
        parser.add_argument("--per_note", type=non_negative_int, nargs="?", const=10, default=0, metavar="CELLS",
                            help="note memory cells: CELLS (default 10) per note of the expert's window, moving "
                                 "with the melody (interval) or the chord root (chord); rel and poex only")

    @classmethod
    def add_generate_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--generate", action="store_true",
                            help="sample over the chords of random segments of the run's validation data "
                                 "(default: over the run folder's primer.ls, else a ii-V-I chart)")
        parser.add_argument("--generate_over", nargs=2, default=None, metavar=("SOURCE", "DIV_WIDTH"),
                            help="sample over the chord changes of SOURCE (.ls or any score with chords) in "
                                 "independent chunks of DIV_WIDTH (Nbar, steps, or 'full')")
        parser.add_argument("--bars", type=positive_int, default=None,
                            help="length in bars of the default chart: the run folder's primer.ls repeated or cut "
                                 "(default: as written), else the ii-V-I chart (default 4)")


class SimpleFlags(LeadSheetFlags):
    name = "simple"

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--encoding", choices=("abs", "cot", "rel"), default="abs",
                            help="abs: absolute pitch; cot: circles of thirds; rel: interval from the last note")
        cls.add_common_arguments(parser)


class ProductOfExpertsFlags(LeadSheetFlags):
    name = "poex"

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--separate_rhythm", action="store_true",
                            help="a third expert decides rest / sustain / play; the others only the pitch")
        cls.add_common_arguments(parser)


class CompaeFlags(LeadSheetFlags):
    name = "compae"

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--encoding", choices=ls.LEADSHEET_ENCODINGS, default="poex",
                            help="abs, cot, rel: one expert as in simple; poex: interval x chord experts")
        parser.add_argument("--manager", choices=MANAGERS, default="queueless_std",
                            help="queue manager: std/var/sample_var/nearness_std push features where the encoder "
                                 "decides; queueless_std/queueless_var every --feature_period steps")
        parser.add_argument("--hide_output", action="store_true", help="hide the previous outputs from the decoder")
        parser.add_argument("--sparsity_loss_scale", type=non_negative_float, default=None,
                            help="scale of the sparsity loss (std, var, sample_var, nearness_std; default 1)")
        parser.add_argument("--variational_loss_scale", type=non_negative_float, default=None,
                            help="scale of the variational loss (var, sample_var, queueless_var; default 1)")
        parser.add_argument("--feature_size", type=positive_int, default=100, help="size of the feature vectors")
        parser.add_argument("--feature_period", type=positive_int, default=None,
                            help="queueless managers: a feature every N steps (24 = a half note; default: one "
                                 "feature at the last step)")
        parser.add_argument("--add_pre_noise", type=non_negative_float, nargs="?", const=1.0, default=None,
                            metavar="STD",
                            help="Gaussian noise (std, default 1) on the encoder output before the nonlinearity")
        parser.add_argument("--add_post_noise", type=non_negative_float, nargs="?", const=1.0, default=None,
                            metavar="STD",
                            help="Gaussian noise (std, default 1) on the feature vectors")
        parser.add_argument("--train_decoder_only", action="store_true", help="only update the decoder's parameters")
        parser.add_argument("--add_loss", action="store_true", help="loss mode: R + Q")
        parser.add_argument("--priority_loss", type=positive_float, nargs="?", const=50.0, default=None,
                            metavar="CURVINESS",
                            help="loss mode (the default, curviness 50): a soft maximum of R and Q")
        parser.add_argument("--cutoff_loss", type=float, default=None, metavar="CUTOFF",
                            help="loss mode: R + Q while R < CUTOFF x batch size, else R")
        parser.add_argument("--trigger_loss", type=float, nargs=2, default=None, metavar=("TRIGGER", "RAMP_TIME"),
                            help="loss mode: R until R < TRIGGER x batch size, then R + scale Q with the scale "
                                 "rising from 0 to 1 over RAMP_TIME iterations")
        cls.add_common_arguments(parser)
