"""`-m crossmodal`'s name and flags (`lt_train.py`'s and `lt_play.py`'s), apart from the model so the command line
needs no TensorFlow."""
from __future__ import annotations

import argparse

from zoo.core.flags import non_negative_int, positive_float, positive_int
from zoo.core.model_flags import ModelFlags
from zoo.families.crossmodal.note_labels import LABELS

MODES = ("info", "midi", "audio", "sequence", "morphing", "trajectory")  # generate.py --mode (play.py)


def _flag(value: str) -> int:
    """The original's 0/1 integer switches (`--adversarial 1`)."""
    if value not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"expected 0 or 1, got '{value}'")
    return int(value)


class CrossModalFlags(ModelFlags):
    name = "crossmodal"

    @classmethod
    def add_arguments(cls, parser: argparse._ArgumentGroup) -> None:
        parser.add_argument("--dbroot", default=None,
                            help="prepared notes data folder (same as -p; default: every instrument's notes, "
                                 "rendered once into the data cache)")
        parser.add_argument("--frames", type=non_negative_int, nargs="*", default=[10, 25],
                            help="frames kept of each note: START END (default 10 25), one index, or none for all")
        parser.add_argument("--dims", type=positive_int, nargs="+", default=[32],
                            help="latent size; several values build a hierarchy of latent layers, bottom first "
                                 "(the cross term uses the last)")
        per_layer = "; one value, or one per --dims value"
        parser.add_argument("--hidden_dims_1", type=positive_int, nargs="+", default=[5000],
                            help="signal VAE hidden width" + per_layer)
        parser.add_argument("--hidden_num_1", type=positive_int, nargs="+", default=[2],
                            help="signal VAE hidden layers" + per_layer)
        parser.add_argument("--hidden_dims_2", type=positive_int, nargs="+", default=[800],
                            help="symbol VAE hidden width" + per_layer)
        parser.add_argument("--hidden_num_2", type=positive_int, nargs="+", default=[2],
                            help="symbol VAE hidden layers" + per_layer)
        parser.add_argument("--labels", nargs="+", default=list(LABELS), help="label heads and their order")
        parser.add_argument("--instruments", nargs="+", default=["Piano", "Alto-Sax"],
                            help="instruments mixed together (each must be in the data set)")
        parser.add_argument("--label_type", choices=["binary", "categorical"], default="categorical",
                            help="symbol distribution: softmax per head, or Bernoulli per unit")
        parser.add_argument("--regularization_type", choices=["kld", "l2"], default="kld",
                            help="cross term: KL between the posteriors, or squared distance of their means")
        parser.add_argument("--random_mode", choices=["constant", "bernoulli"], default="constant",
                            help="mixture weights: all 1, or each instrument present with p = 0.5")
        parser.add_argument("--zero_extra_class", type=_flag, default=1, help="1: each head has a silent class")
        parser.add_argument("--pitch_shift", type=non_negative_int, default=2,
                            help="transpose each training note by up to this many semitones at random, its frames "
                                 "and labels together, inside the instrument's range (default 2; 0: off, as the "
                                 "original, whose split by frame needed none)")
        parser.add_argument("--save_epochs", type=non_negative_int, default=500,
                            help="also keep checkpoints/epoch-N.keras every N epochs")
        parser.add_argument("--plot_epochs", type=non_negative_int, default=100,
                            help="reconstruction plot in samples/ every N epochs")
        parser.add_argument("--load", default=None,
                            help="start from the VAEs of this run (same -w folder), as --init_from RUN; a "
                                 "discriminator that only one of the runs has starts afresh")
        parser.add_argument("--load_epoch", type=int, default=None,
                            help="with --load: its checkpoints/epoch-N.keras (default: its best model)")
        parser.add_argument("--beta_1", type=float, default=1.0, help="prior KL weight of the signal VAE")
        parser.add_argument("--beta_2", type=float, default=1.0, help="prior KL weight of the symbol VAE")
        parser.add_argument("--cross_1", type=float, default=10.0, help="weight of KL(q_signal || q_symbol)")
        parser.add_argument("--cross_2", type=float, default=0.0, help="weight of KL(q_symbol || q_signal)")
        parser.add_argument("--adversarial", type=_flag, default=0, help="1: train a discriminator on spectral frames")
        parser.add_argument("--adv_dim", type=non_negative_int, default=500, help="discriminator hidden width")
        parser.add_argument("--adv_num", type=non_negative_int, default=2, help="discriminator hidden layers")
        parser.add_argument("--adv_lr", type=float, default=1e-5, help="discriminator learning rate")
        parser.add_argument("--adv_weight", type=float, default=1.0,
                            help="weight of -log D(reconstruction) in the signal VAE's loss (0: discriminator only)")
        parser.add_argument("--cuda", type=int, default=-1, help="GPU index, -1 for the CPU")

    @classmethod
    def add_generate_arguments(cls, parser) -> None:
        """generate.py flags of crossmodal runs (lt_play.py's)."""
        parser.add_argument("--mode", choices=MODES, default="trajectory", help="what to generate (lt_play modes)")
        parser.add_argument("--input", default=None, help="midi mode: a MIDI file; audio mode: a mono WAV file")
        parser.add_argument("-t", "--transpose", type=int, default=0, help="midi mode: semitones to transpose")
        parser.add_argument("-d", "--dynamics", type=int, default=None, choices=range(5),
                            help="midi mode: force this dynamics class (0 pp .. 4 ff) instead of the velocities")
        parser.add_argument("--sequence", nargs="+", default=None,
                            help="sequence/morphing: label points OCTAVE:PITCH:DYNAMICS (pitch class A=0, C=3; "
                                 "dynamics 0-4), one per instrument joined by '+', '-' for a silent instrument")
        parser.add_argument("--n_steps", type=positive_int, default=20,
                            help="frames per label point (sequence, morphing), or points of a trajectory")
        parser.add_argument("--interp_order", type=int, choices=[1, 3], default=1, help="morphing: 1 linear, 3 cubic")
        parser.add_argument("--trajectory", choices=["line", "circle", "helix"], default="line", help="trajectory shape")
        parser.add_argument("--latent_sample", type=int, choices=[0, 1], default=0,
                            help="1: decode a posterior sample instead of the posterior mean")
        parser.add_argument("--iterations", type=positive_int, default=30, help="Griffin-Lim iterations")
        parser.add_argument("--silence_db", type=positive_float, default=60.0,
                            help="audio mode: frames this many dB below the file's loudest frame are transcribed as "
                                 "silence (the model never heard silence alone)")
