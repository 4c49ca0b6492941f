"""Builds the presets that ship in weights/: one recipe per preset, its training command, and its model card.

    python tools/presets.py train NAME     # the recipe's training command (resumes the run when it exists)
    python tools/presets.py finish NAME    # trained run -> preset: best weights without optimizer state,
                                           # test figures, metrics of 64 samples, piano-roll, checksums, card
    python tools/presets.py card NAME      # rewrites README.md and preset.json from what the folder holds
    python tools/presets.py commands       # every recipe's commands, for a shell

A recipe is data, not code: the commands in it are what the card prints and what `train` runs, so the
card's command is the one that made the weights. `finish` measures everything the card states from the
files that ship (model.keras as committed), never from the training checkpoints.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoo.core.presets import PRESET_FILE, sha256_file  # noqa: E402  (run as a script: the project root goes on the path first)

WEIGHTS = ROOT / "weights"
SHIPPED_FILES = ("config.json", "model.keras", "training_log.csv", "evaluation.csv", "metrics.csv", "pianoroll.png",
                 "primer.ls", "README.md", PRESET_FILE)
LEADSHEET_METRICS = ("Samples: 64 windows of 4 bars (the length of most licks), played at temperature 1 over the "
                     "chords of the test lead sheets (round-robin over the pieces, from each one's start), against "
                     "the melodies the test pieces hold over those chords.")
# Our own chord chart (not Impro-Visor's, which is GPL data): the lead-sheet presets play over it by default.
LEADSHEET_PRIMER = ROOT / "zoo" / "families" / "leadsheet" / "primers" / "blues-in-f.ls"
# Where `finish` moves what training left beside the weights (checkpoints, optimizer state, samples): not shipped.
LEFTOVERS = Path(os.environ.get("ZOO_PRESET_LEFTOVERS", tempfile.gettempdir())) / "zoo-preset-leftovers"
MAX_PRESET_MB = 15.0
NUM_METRIC_SAMPLES = 64
# The quality bar: relative gap to the test split's value, or absolute where the value is a rate near 0.
RELATIVE_GAP_METRICS = ("n_pitches_used", "pitch_class_entropy", "polyphony", "pitch_in_scale_rate",
                        "scale_consistency")
ABSOLUTE_GAP_METRICS = {"empty_beat_rate": 0.05}
MULTITRACK_GAP_METRICS = ("upc", "qn", "td")
MAX_RELATIVE_GAP = 0.10
THREADS = ["--intra_op_threads", "1", "--inter_op_threads", "1"]
# The card's figure is also measured on the first pieces of the test split, which a test recomputes on a
# clean clone (tests/test_shipped_presets.py): the whole split takes too long there for some types.
CHECK_PIECES = 8

BACH = {"name": "Bach chorales (music21)", "source": "the Bach chorales of the music21 corpus (`music21:bach`)",
        "licence": "public-domain music; the encodings ship inside music21 (BSD-3-Clause)",
        "split": "by piece with `--seed 0`: 80% train, 10% valid, 10% test (the zoo's data cache)"}
JSB = {"name": "JSB Chorales benchmark",
       "source": "the JSB Chorales benchmark (Boulanger-Lewandowski et al. 2012), bundled in "
                 "zoo/families/rnn_piano/benchmarks",
       "licence": "public-domain music in the standard research split; redistributable",
       "split": "the benchmark's own 229 / 76 / 77 train / valid / test sequences"}
NOTTINGHAM = {"name": "Nottingham folk tunes", "source": "the melodies of the Nottingham Music Database "
              "(`../shared/data/nottingham/MIDI/melody`)",
              "licence": "GPL-3.0 (the database's LICENSE.md)",
              "split": "by tune with `--seed 0`: 80% / 10% / 10% (`python -m zoo prepare`)"}
IMPRO_VISOR = {"name": "Impro-Visor lead sheets", "source": "Impro-Visor's lead sheets (`../shared/data/leadsheets`): "
               "ii-V-I licks, blues, solo transcriptions",
               "licence": "GPL-2.0 (Impro-Visor's LICENSE.txt)",
               "split": "by lead sheet with `--seed 0`: 296 / 40 / 36 pieces (`python -m zoo prepare`)"}
GM_NOTES = {"name": "GM piano notes (rendered)",
            "source": "every piano note A0-C8 at five dynamics, rendered by midirenderer with the TimGM6mb.sf2 "
                      "of the pretty_midi wheel (the zoo's `notes` encoding; made, not downloaded)",
            "licence": "made by the zoo from a GPL-2 SoundFont (Tim Brechbill's TimGM6mb, as Debian records it)",
            "split": "by note (pitch, dynamics) with `--seed 0`: 80% / 10% / 10%"}
GM_WEIGHTS = ("GPL-2.0-or-later: trained on audio rendered from a GPL-2 SoundFont, so we share the weights "
              "under its terms")
OPEN_WEIGHTS = "MIT, like the code (the training data is public-domain music)"
GPL3_WEIGHTS = ("GPL-3.0-or-later: trained on GPL-3.0 data, so we share the weights under the data's terms; "
                "music you generate with them is yours to license")
GPL2_WEIGHTS = ("GPL-2.0-or-later: trained on GPL-2.0 data (Impro-Visor), so we share the weights under the "
                "data's terms; music you generate with them is yours to license")


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    model_type: str
    title: str
    data: dict
    weights_licence: str
    train: tuple[str, ...]                 # training.py flags after -n NAME
    headline: tuple[str, str]              # (evaluation.csv column, label)
    prepare: tuple[str, ...] = ()          # `python -m zoo prepare` flags the data needs, if any
    evaluate: tuple[str, ...] = ()         # extra `python -m zoo evaluate` flags (test data, sample length)
    generate: tuple[str, ...] = ()         # extra generate.py flags for the card's piano-roll
    multitrack: bool = False
    primer: Path | None = None             # copied into the preset as primer.ls (generate's default chart)
    metrics_note: str = "Samples drawn from nothing at temperature 1, against every piece of the test split."
    check_pieces: int = CHECK_PIECES       # test pieces the shipped-preset test measures the figure on (0: all)
    weaknesses: str = "Not listened to yet."
    summary: str = ""

    def training_command(self) -> str:
        return shlex.join(["python", "training.py", "-n", self.name, "-m", self.model_type, *self.train, *THREADS])

    def prepare_command(self) -> str | None:
        return shlex.join(["python", "-m", "zoo", "prepare", *self.prepare]) if self.prepare else None

    def evaluate_command(self) -> str:
        samples = [] if "--num_samples" in self.evaluate else ["--num_samples", str(NUM_METRIC_SAMPLES)]
        return shlex.join(["python", "-m", "zoo", "evaluate", "-n", self.name, *samples, *self.evaluate])

    def generate_command(self) -> str:
        return shlex.join(["python", "generate.py", "-n", self.name, *self.generate])


RECIPES = {recipe.name: recipe for recipe in [
    Recipe("jsb-rnn-nade", "rnn_nade", "RNN-NADE on the JSB Chorales benchmark", JSB, OPEN_WEIGHTS,
           ("-e", "300", "--num_hidden", "150", "--rnn_units", "150", "-b", "8", "-s", "64", "--learning_rate", "1e-2",
            "--patience", "8", "--sample_every", "0"),
           ("nll_per_frame", "test NLL per frame (nats)"), evaluate=("--sample_length", "64"),
           generate=("--length", "64"),
           weaknesses="Looked at the piano-rolls of three samples (64 and 128 frames) and checked their WAV renders: "
                      "four-part textures that move by step and hold chorale-like harmony for a few beats, then "
                      "drift; over 128 frames the register climbs out of the chorale range. Every note "
                      "is a quarter note or a chain of them (the benchmark's quarter-note frames, so no passing "
                      "eighths), repeated notes merge into long ones, and there is no phrase shape or cadence "
                      "beyond a bar or two. It spreads wider than Bach: 29 distinct pitches a piece against "
                      "25 (15% over the bar the zoo sets), a range of 41 semitones against 34, with outer "
                      "voices that wander to extremes. Test NLL 5.73 nats per frame, 3% above the 5.56 that "
                      "Boulanger-Lewandowski et al. report for RNN-NADE trained with Hessian-free optimisation "
                      "(the often re-cited, unverified table cell; specs/metrics.md section 8.1).",
           summary="Boulanger-Lewandowski et al.'s RNN-NADE: an LSTM reads the chorale frame by frame and sets "
                   "the biases of a NADE over the 88 keys, which gives the exact likelihood of the next frame."),
    Recipe("jsb-rnn-rbm", "rnn_rbm", "RNN-RBM on the JSB Chorales benchmark", JSB, OPEN_WEIGHTS,
           ("-e", "300", "-o", "adam", "--learning_rate", "3e-3", "--patience", "10", "--sample_every", "0"),
           ("nll_per_frame", "test NLL per frame (nats, AIS)"), evaluate=("--sample_length", "64"),
           generate=("--length", "64"),
           weaknesses="Looked at the piano-roll of a 64-frame sample and its WAV render: the first bars are "
                      "four-voice chorale texture, then the register climbs steadily (to A6 by frame 50) and the "
                      "voices thin out into a high cluster. Quarter-note frames only, like every JSB model. It "
                      "used its whole 300-epoch budget with the validation loss still falling, but that loss is "
                      "the CD reconstruction error, not the likelihood: the test NLL by AIS is 8.02 nats per frame, "
                      "28% above the 6.27 Boulanger-Lewandowski et al. report (an unverified table cell, "
                      "specs/metrics.md section 8.1), and worse than the 7.50 an earlier 53-epoch run of the same "
                      "recipe reached (README), so early stopping on the reconstruction error does not pick the "
                      "likeliest weights. The AIS estimate has a spread of 0.28 nats per frame across chains. "
                      "29.7 distinct pitches a piece against 25.5 (17% over the bar the zoo sets).",
           summary="Boulanger-Lewandowski et al.'s RNN-RBM: an RNN sets the biases of an RBM over the 88 keys "
                   "at every quarter-note frame; trained with CD-k, sampled with Gibbs steps."),
    Recipe("bach-lstm", "lstm", "LSTM composer on Bach chorales (event encoding)", BACH, OPEN_WEIGHTS,
           ("-e", "100", "--lstm_dropout_prob", "0.2", "--patience", "4", "--sample_every", "0"),
           ("nll_nats_per_event", "test NLL per event (nats)"), evaluate=("--sample_length", "512"),
           weaknesses="Looked at the piano-roll of a 512-event sample and its WAV render: chorale-like chords "
                      "moving in quarters and eighths for the first bars, but it loses note-offs, so notes hang "
                      "on for bars (in this sample a low A holds for 45 beats) and the texture thickens to 7.5 "
                      "sounding notes against the chorales' 4.0, the worst gap of the presets (87%). Over 512 "
                      "events it also drifts off key (scale consistency 0.83 against 0.93) and uses more pitches "
                      "(32.6 against 27.4). Its 50-event window is all it remembers: no phrase returns. The "
                      "transformer (bach-transformer) models the same data better.",
           summary="MechanicalBach's LSTM composer (3 x 256, the seed's size) over Performance-RNN-style events."),
    Recipe("nottingham-musicvae-2bar", "musicvae", "MusicVAE, flat 2-bar melodies, on Nottingham folk tunes",
           NOTTINGHAM, GPL3_WEIGHTS,
           ("-p", "data/nott/train.pkl", "--config", "zoo/families/musicvae/configs/flat_2bar_cpu.json",
            "--num_steps", "30000", "--evaluate_interval", "500",
            "--beta_settings", '{"start_beta":0.0,"end_beta":0.2,"duration":2000}', "--patience", "6",
            "--sample_every", "0"),
           ("sampled_accuracy", "test reconstruction accuracy, sampled"),
           prepare=("--input", "../shared/data/nottingham/MIDI/melody", "--encoding", "melody", "-o", "data/nott"),
           metrics_note="Samples: 64 two-bar melodies decoded from the prior (z ~ N(0, I)) with greedy feedback, "
                        "against every two-bar window (one bar apart) of the test tunes. The accuracies decode z = "
                        "the posterior mean of each test window (../shared/specs/metrics.md section 4); the "
                        "training log's val_accuracy decodes a posterior sample, so it reads lower (0.924 sampled "
                        "at the best epoch, against 0.953 for the same validation windows here).",
           weaknesses="Looked at the piano-roll and the MIDI of four prior samples: two-bar fragments that sit in "
                      "a major key and move by step and small leap like the tunes (their figures are within a "
                      "few percent of the test windows', in-scale rate 0.84 against 0.81), but now and then one "
                      "leaps a tenth or more out of the line, and a fragment has no phrase shape: it stops where "
                      "the two bars end. Two bars is all it knows; longer melodies need the hierarchical 16-bar "
                      "model (not shipped yet). It reconstructs the test windows it is given (0.963 sampled, "
                      "0.968 teacher-forced) on Nottingham tunes alone, folk melodies much simpler than the "
                      "paper's Lakh MIDI melodies: the figures are not the paper's.",
           summary="MusicVAE's flat 2-bar melody model (BiLSTM encoder, 2-layer LSTM decoder, z 128) with "
                   "scheduled sampling and beta annealing."),
    Recipe("bach-transformer", "transformer", "Music Transformer on Bach chorales (event encoding)", BACH,
           OPEN_WEIGHTS,
           ("-e", "100", "--transformer_num_layers", "4", "--embed_dim", "256", "--num_heads", "4", "--ff_dim", "1024",
            "-s", "256", "-b", "16", "--transformer_num_hidden_dense", "0", "--learning_rate", "3e-4",
            "--patience", "4", "--sample_every", "0"),
           ("nll_nats_per_event", "test NLL per event (nats)"), evaluate=("--sample_length", "512"),
           weaknesses="Looked at the piano-roll of a 512-event sample and its WAV render: the most chorale-like "
                      "of the event models, with a bass that walks and inner voices that move, and test NLL "
                      "1.078 nats per event against the LSTM's 1.337 on the same split. It still holds some "
                      "notes too long (an inner F holds 16 beats here), so 4.8 notes sound at once against the "
                      "chorales' 4.0 (19% over the bar the zoo sets); near the end of 512 events the soprano "
                      "climbs out of the chorale range, and it writes no cadences that end a phrase. It "
                      "attends over 256 events, about 12 bars, and nothing repeats from further back.",
           summary="A decoder-only Music Transformer (Huang et al. 2018: relative attention with skewing), "
                   "4 blocks of 256 with 4 heads, attending over the last 256 events."),
    Recipe("bach-gan", "gan", "GAN composer on Bach chorale bars (piano-roll)", BACH, OPEN_WEIGHTS,
           ("-e", "400", "--steps_per_epoch", "50", "--gan_activation", "leaky_relu", "--gan_latent_dims", "64",
            "--gan_hidden_conv_num_channels", "32", "--gan_starting_num_channels", "32", "-b", "32",
            "--learning_rate", "5e-4", "--gan_spectral_norm", "0", "--patience", "40", "--sample_every", "0"),
           ("pitch_frequency_gap", "test pitch-frequency gap"),
           weaknesses="Not music yet: the piano-roll of an 8-bar sample is clusters of sixteenth-note blips "
                      "with bars of silence between them, all twelve pitch classes in every piece (scale "
                      "consistency 0.62 against 0.92, pitch-class entropy 3.55 against 3.04). Three runs on the "
                      "full corpus this week (spectral normalisation on and off, learning rates 1e-3 to 1e-4) "
                      "each had the discriminator win within a few hundred steps; the best validation "
                      "pitch-frequency gap came early (this one at epoch 5 of 45), and the last epoch of this run "
                      "plays almost nothing (0.27 distinct pitches a piece). The same code learns chorale "
                      "statistics on 16 chorales (tests/families/gan), so the missing piece is a stable "
                      "recipe at corpus scale (e.g. a two-timescale update or a feature-matching loss). It ships "
                      "so the type has a starting point and an honest baseline; use it to fine-tune, not to listen.",
           summary="MechanicalBach's DCGAN-style composer on two-bar piano-roll windows (16th notes, C2..B5), "
                   "with binary samples for the discriminator and spectral normalisation."),
    Recipe("bach-multinn", "multinn", "MultINN (composer mode, RNN-MultiNADE) on Bach's four voices", BACH,
           OPEN_WEIGHTS,
           ("-e", "100", "--num_hidden", "64", "--num_hidden_rnn", "128", "--patience", "5", "--sample_every", "0"),
           ("nll_per_step", "test NLL per model step (nats)"), multitrack=True,
           evaluate=("--sample_length", "48"),  # beats: the test chorales' median length
           metrics_note="Samples of 48 beats (the test chorales' median length) drawn from nothing at "
                        "temperature 1, against every piece of the test split.",
           weaknesses="Looked at the piano-roll of a 96-beat sample (8 beats of a test chorale, then its own) "
                      "and its WAV render: the best-sounding preset of the chorale ones. Four voices keep their "
                      "own registers and move mostly by step, and the inner voices hold and resolve. But there "
                      "are stray sixteenth-note blips (a bass note a twelfth below its line for one step), no "
                      "cadences or phrases. Over 48 beats from nothing it wanders through more keys than a "
                      "chorale does (31.6 distinct pitches a piece against 26.9, 18% over the bar the zoo sets, "
                      "11.8 pitch classes against 10.5) while each moment stays diatonic (in-scale rate 0.81 "
                      "against 0.74, 11% over). Its multi-track figures (UPC, QN, TD) are within 5% of the test "
                      "chorales'.",
           summary="MultINN's composer mode: one RNN-MultiNADE over the four chorale voices (48 pitches each, "
                   "16th-note steps), with the seed's Adam 1e-2 and gradient clipping."),
    Recipe("jazz-simple", "simple", "lstmprovisor `simple` (rel encoding) over Impro-Visor lead sheets",
           IMPRO_VISOR, GPL2_WEIGHTS,
           ("-p", "data/ls", "--encoding", "rel", "--layer_size", "128", "--num_layers", "2",
            "--learning_rate", "2e-3", "--steps_per_epoch", "500", "-e", "60", "--patience", "4",
            "--sample_every", "0"),
           ("nll_per_step", "test NLL per 1/48-bar step (nats)"),
           prepare=("--input", "../shared/data/leadsheets", "--encoding", "poex", "-o", "data/ls"),
           evaluate=("-p", "data/ls/test.pkl"), primer=LEADSHEET_PRIMER, metrics_note=LEADSHEET_METRICS,
           weaknesses="Looked at the piano-roll of its solo over the shipped blues in F and at the metrics of 64 "
                      "4-bar windows over the test licks' changes: it phrases (runs up, rests, answers lower) but "
                      "leans on chromatic steps, so it sits less in the chords' scales than the licks (in-scale "
                      "rate 0.71 against 0.76, scale consistency 0.78 against 0.85) and uses more distinct pitches "
                      "per window (13.0 against 10.4, 25% over the bar the zoo sets); the second half of a chorus "
                      "sags into the low register with long held notes. A relative-pitch model has no sense of "
                      "key beyond the previous note: the product of experts (jazz-poex) fits the test set better "
                      "(0.422 against 0.441 nats per step).",
           summary="Impro-Visor's chord-conditioned jazz LSTM (2 x 128), melody intervals relative to the "
                   "previous note (`rel`), 48 steps a bar."),
    Recipe("jazz-poex", "poex", "lstmprovisor product of experts over Impro-Visor lead sheets", IMPRO_VISOR,
           GPL2_WEIGHTS,
           ("-p", "data/ls", "--layer_size", "128", "--num_layers", "2", "--learning_rate", "2e-3",
            "--steps_per_epoch", "500", "-e", "60", "--patience", "4", "--sample_every", "0"),
           ("nll_per_step", "test NLL per 1/48-bar step (nats)"),
           prepare=("--input", "../shared/data/leadsheets", "--encoding", "poex", "-o", "data/ls"),
           evaluate=("-p", "data/ls/test.pkl"), primer=LEADSHEET_PRIMER, metrics_note=LEADSHEET_METRICS,
           weaknesses="Looked at the piano-roll of its solo over the shipped blues in F and at the metrics of 64 "
                      "4-bar windows played over the test licks' own changes: eighth-note lines that follow the "
                      "chords (its in-scale rate and scale consistency match the licks'), but it wanders in "
                      "register (climbing to C6 and back within a chorus), uses more distinct pitches per window "
                      "than the licks (12.6 against 10.4, 21% over the bar the zoo sets), rests more (empty-beat "
                      "rate 0.10 against 0.03, over the bar) and never states a motif twice.",
           summary="Impro-Visor's product of experts: an interval expert and a chord expert (2 x 128 each) "
                   "whose distributions multiply, over the chord changes, 48 steps a bar."),
    Recipe("jazz-compae", "compae", "lstmprovisor compressing autoencoder (trading fours) on lead sheets",
           IMPRO_VISOR, GPL2_WEIGHTS,
           ("-p", "data/ls", "--encoding", "poex", "--manager", "queueless_std", "--feature_period", "24",
            "--add_loss", "--feature_size", "16", "--layer_size", "64", "--num_layers", "1", "--segment_len", "2bar",
            "--learning_rate", "3e-3", "--steps_per_epoch", "300", "-e", "60", "--patience", "4",
            "--sample_every", "0"),
           ("nll_per_step", "test NLL per 1/48-bar step (nats)"),
           prepare=("--input", "../shared/data/leadsheets", "--encoding", "poex", "-o", "data/ls"),
           evaluate=("-p", "data/ls/test.pkl"), primer=LEADSHEET_PRIMER,
           weaknesses="Looked at the piano-roll of its answer to the shipped blues in F: it keeps the primer's "
                      "register and contour (it begins a third below the primer's A-F-D figure) and its rhythm "
                      "feel, then ornaments with runs of its own. Its metrics sit on the test licks' because they "
                      "are reconstructions of those licks from their own queued features (16 numbers every half "
                      "bar): they show that the features carry the melody, not how inventive a trade is. A "
                      "2-bar model of 1 x 64 units: over longer phrases the answers lose the thread, and a "
                      "melody far from the licks (other keys, long notes) comes back as stock bebop lines.",
           metrics_note="Samples: 64 windows of 4 bars of the test lead sheets, encoded into the queue and decoded "
                        "back over the same chords at temperature 1, against the melodies the test pieces hold "
                        "there (the autoencoder answers a melody; it does not play from nothing).",
           summary="Impro-Visor's compressing autoencoder: an encoder pushes feature vectors with strengths "
                   "into a queue every half bar and a product-of-experts decoder rebuilds the melody from them."),
    Recipe("gm-piano-crossmodal", "crossmodal", "Cross-modal VAEs, piano audio <-> note labels", GM_NOTES,
           GM_WEIGHTS,
           ("--instruments", "Piano", "--hidden_dims_1", "500", "--hidden_dims_2", "200", "-e", "400",
            "--patience", "15", "--plot_epochs", "0", "--save_epochs", "0", "--sample_every", "0"),
           ("transfer_classif_pitch", "test transcription accuracy, pitch class (audio -> labels)"),
           evaluate=("--make_classifier", "0", "--evaluate_classifier", "0", "--num_samples", "0"),
           check_pieces=0,  # its notes are of every instrument, the piano's among them: the whole split
           weaknesses="Measured, not listened to: its transcriptions of held-out single piano notes (720 "
                      "frames) are right 98% of the time on octave and pitch class but 85% on dynamics, where "
                      "neighbouring levels blur. It knows single notes of one instrument through one SoundFont "
                      "(TimGM6mb's piano): chords, other pianos, real recordings and reverb are outside what it "
                      "saw. Its syntheses (labels -> audio) are constant-Q magnitude frames turned back into "
                      "sound without their phase, which is where artefacts come from. The default generate "
                      "writes a latent trajectory as WAV, no score.",
           summary="latent-transcription's pair of VAEs (Chemla-Romeu-Santos et al., DAFx-19): a signal VAE on "
                   "constant-Q frames of single piano notes and a symbol VAE on (octave, pitch class, dynamics) "
                   "labels, trained so their latent spaces match: audio -> labels transcribes, labels -> audio "
                   "synthesises."),
]}


# ---------------------------------------------------------------------------------------------------- helpers

def machine() -> str:
    """The processor as /proc/cpuinfo names it, with the cores training could use."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} cores, no GPU"


def read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def optimizer_steps(keras_file: Path) -> int | None:
    """The optimizer's step counter stored in a training checkpoint (`.keras` zip), if it has one."""
    import h5py

    try:
        with zipfile.ZipFile(keras_file) as archive, archive.open("model.weights.h5") as member:
            with h5py.File(member, "r") as weights:
                # Keras 3 stores the optimizer's variables under optimizer/vars, its iteration counter first.
                return int(weights["optimizer/vars/0"][()])
    except (KeyError, OSError, zipfile.BadZipFile, ValueError):
        return None


def metric_gap(row: dict) -> tuple[float, str, bool | None]:
    """(gap, how it is measured, within the issue's bar or None where no bar applies) for one metrics.csv row."""
    generated, reference = float(row["generated"]), float(row["test"])
    name = row["metric"]
    if name in ABSOLUTE_GAP_METRICS:
        gap = abs(generated - reference)
        return gap, "abs", gap <= ABSOLUTE_GAP_METRICS[name]
    gap = abs(generated - reference) / abs(reference) if reference else math.nan
    return gap, "rel", None


# ---------------------------------------------------------------------------------------------------- commands

def _wait(process: subprocess.Popen, seconds: float) -> int | None:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def train(recipe: Recipe) -> int:
    """Runs the recipe's training; a run that exists is resumed (`--resume_auto`)."""
    if recipe.prepare and not (ROOT / recipe.prepare[recipe.prepare.index("-o") + 1] / "train.pkl").is_file():
        subprocess.run(shlex.split(recipe.prepare_command()), cwd=ROOT, check=True)
    command = shlex.split(recipe.training_command())
    if (WEIGHTS / recipe.name / "config.json").is_file():
        command.append("--resume_auto")
    # The elapsed time is rewritten every half minute, not only at the end: a session that stops kills this
    # process too, and the card's wall time must still count the hours that run trained.
    wall_time = WEIGHTS / recipe.name / ".wall_time_s"
    before = wall_time.read_text() if wall_time.is_file() else ""
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT)
    while True:
        code = _wait(process, seconds=30)
        if wall_time.parent.is_dir():  # the training makes the run folder in its first seconds
            wall_time.write_text(f"{before}{time.monotonic() - started:.0f}\n")
        if code is not None:
            return code


def finish(recipe: Recipe) -> None:
    """Turns the trained run into the preset that ships, then measures it and writes its card."""
    folder = WEIGHTS / recipe.name
    checkpoints = folder / "checkpoints"
    best = checkpoints / "best.keras"
    if not best.is_file():
        raise SystemExit(f"{best} is missing: train first (python tools/presets.py train {recipe.name})")
    facts = {
        "steps": optimizer_steps(checkpoints / "last.keras") or optimizer_steps(best),
        "epochs": len(read_csv(folder / "training_log.csv")),
        "best_epoch": json.loads(zipfile.ZipFile(best).read("zoo.json")).get("epoch"),
        "wall_time_s": sum(float(line) for line in _lines(folder / ".wall_time_s")),
        "machine": machine(),
    }
    (folder / ".facts.json").write_text(json.dumps(facts, indent=1))

    import_zoo()
    from zoo.core.checkpoints import load_model, save_model

    model = load_model(best)  # compile=False: the optimizer's slots stay behind
    save_model(model, folder / "model.keras", {"epoch": facts["best_epoch"], "preset": recipe.name})
    LEFTOVERS.mkdir(parents=True, exist_ok=True)
    for leftover in ("checkpoints", "backup", "samples", "export", "evaluation.csv", "metrics.csv"):
        path = folder / leftover
        if path.exists():
            target = LEFTOVERS / recipe.name / leftover
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(path), str(target))
    if recipe.primer:
        shutil.copyfile(recipe.primer, folder / "primer.ls")
    measure(recipe)
    card(recipe)
    record_check(recipe)


def record_check(recipe: Recipe) -> None:
    """Measures the headline figure on the first CHECK_PIECES test pieces and stores it in preset.json."""
    folder = WEIGHTS / recipe.name
    info = json.loads((folder / PRESET_FILE).read_text())
    value = headline_on_test_slice(folder, info, recipe.check_pieces)
    info["check"] = {"test_pieces": recipe.check_pieces, "value": value}
    (folder / PRESET_FILE).write_text(json.dumps(info, indent=1) + "\n")


def headline_on_test_slice(folder: Path, info: dict, pieces: int, outputs: Path | None = None,
                           test_path: Path | None = None) -> float:
    """The preset's headline figure on the first `pieces` pieces of its test split (0: all), through
    `zoo.cli.evaluate_preset` (its card's evaluate command). The split is the card's `-p`, else the run's own
    or the one its recorded flags resolve to here; outputs go to `outputs` (a scratch folder by default)."""
    from zoo.cli import evaluate_preset
    from zoo.core.presets import read_preset
    from zoo.core.registry import get_model_type
    from zoo.engine.evaluate import run_test_split

    if test_path is None:  # found from here, before the chdir below
        flags = shlex.split(info["evaluate"]["command"])
        config = json.loads((folder / "config.json").read_text())
        test_path = Path(flags[flags.index("-p") + 1] if "-p" in flags
                         else run_test_split(folder.name, config, get_model_type(config["model_type"])))
    with tempfile.TemporaryDirectory() as scratch:
        cwd = os.getcwd()
        os.chdir(outputs or scratch)  # a preset's evaluation.csv goes to ./outputs/<name>/, never into the preset
        try:
            row = evaluate_preset(read_preset(folder), folder.parent.absolute(), pieces or None,
                                  Path(cwd, test_path))
        finally:
            os.chdir(cwd)
    return float(row[info["headline"]["metric"]])


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().split() if line] if path.is_file() else []


def import_zoo() -> None:
    from zoo.cli import import_tensorflow_quietly

    import_tensorflow_quietly()


def measure(recipe: Recipe) -> None:
    """Test figures and the metrics of 64 samples (evaluation.csv, metrics.csv) and the card's piano-roll."""
    from zoo.cli import generate_main, run_cli, zoo_main

    folder = WEIGHTS / recipe.name
    # Measured as an ordinary run, so evaluate writes evaluation.csv and metrics.csv into the folder that ships.
    for stale in (PRESET_FILE, "evaluation.csv", "metrics.csv", "pianoroll.png"):
        (folder / stale).unlink(missing_ok=True)
    argv = shlex.split(recipe.evaluate_command())[3:]
    if run_cli(zoo_main, argv) != 0:
        raise SystemExit(f"evaluate failed: {recipe.evaluate_command()}")
    analysis = folder / "analysis"  # the cross-modal evaluate's figures: not what a preset ships
    if analysis.exists():
        shutil.rmtree(LEFTOVERS / recipe.name / "analysis", ignore_errors=True)
        (LEFTOVERS / recipe.name).mkdir(parents=True, exist_ok=True)
        shutil.move(str(analysis), str(LEFTOVERS / recipe.name / "analysis"))
    with tempfile.TemporaryDirectory() as scratch:
        argv = [*shlex.split(recipe.generate_command())[2:], "--output_dir", scratch, "--num_outputs", "1"]
        if run_cli(generate_main, argv) != 0:
            raise SystemExit(f"generate failed: {recipe.generate_command()}")
        pictures = sorted(Path(scratch).glob("*.png"))
        if pictures:  # an audio model (cross-modal) writes sound, not a score to draw
            shutil.copyfile(pictures[0], folder / "pianoroll.png")


def card(recipe: Recipe) -> None:
    """Writes preset.json and README.md from the folder's files (checksums last, over what ships)."""
    folder = WEIGHTS / recipe.name
    facts = _facts(folder)
    shipped = json.loads((folder / PRESET_FILE).read_text()) if (folder / PRESET_FILE).is_file() else {}
    config = json.loads((folder / "config.json").read_text())
    evaluation = read_csv(folder / "evaluation.csv")[-1]
    metrics = read_csv(folder / "metrics.csv")
    parameters = _parameters(folder / "model.keras")
    column, label = recipe.headline
    files = {name: sha256_file(folder / name) for name in ("model.keras", "config.json", "primer.ls")
             if (folder / name).is_file()}
    megabytes = sum((folder / name).stat().st_size for name in SHIPPED_FILES if (folder / name).is_file()) / 1e6
    pieces = _pieces(config, shipped)
    info = {
        "name": recipe.name, "model_type": recipe.model_type, "title": recipe.title,
        "data": {"name": recipe.data["name"], "source": recipe.data["source"], "licence": recipe.data["licence"],
                 "pieces": pieces},
        "weights_licence": recipe.weights_licence,
        "parameters": parameters,
        "files": files,
        "headline": {"metric": column, "value": float(evaluation[column]), "label": label},
        "training": {"command": recipe.training_command(), "epochs": facts["epochs"], "steps": facts["steps"],
                     "wall_time_s": facts["wall_time_s"], "machine": facts["machine"]},
        **({"prepare": {"command": recipe.prepare_command()}} if recipe.prepare else {}),
        "evaluate": {"command": recipe.evaluate_command()},
        "generate": {"command": recipe.generate_command()},
    }
    if "check" in shipped:
        info["check"] = shipped["check"]
    (folder / PRESET_FILE).write_text(json.dumps(info, indent=1) + "\n")
    (folder / "README.md").write_text(render_card(recipe, info, facts, config, evaluation, metrics, megabytes))
    if megabytes > MAX_PRESET_MB:
        print(f"warning: {recipe.name} ships {megabytes:.1f} MB, over the {MAX_PRESET_MB} MB budget", file=sys.stderr)


def _parameters(keras_file: Path) -> int:
    import h5py
    import numpy as np

    with zipfile.ZipFile(keras_file) as archive, archive.open("model.weights.h5") as member:
        with h5py.File(member, "r") as weights:
            sizes = []
            weights.visititems(lambda name, item: sizes.append(int(np.prod(item.shape)))
                               if isinstance(item, h5py.Dataset) and not name.startswith("optimizer") else None)
    return sum(sizes)


def _pieces(config: dict, shipped: dict) -> dict:
    """Pieces per split of the data the run trained on, counted in its pickles (or as the card said before)."""
    from zoo.data.dataset import load_split

    counts = {}
    for split in ("train", "valid", "test"):
        path = (config.get("data") or {}).get(split)
        if path and Path(path).is_file():
            counts[split] = len(load_split(path).pieces)
    return counts or shipped.get("data", {}).get("pieces", {})


def _facts(folder: Path) -> dict:
    """What training was like: written by `finish` while the checkpoints were there, else as the card says."""
    if (folder / ".facts.json").is_file():
        return json.loads((folder / ".facts.json").read_text())
    shipped = json.loads((folder / PRESET_FILE).read_text())
    metadata = json.loads(zipfile.ZipFile(folder / "model.keras").read("zoo.json"))
    return {**{key: shipped["training"][key] for key in ("epochs", "steps", "wall_time_s", "machine")},
            "best_epoch": metadata.get("epoch")}


def render_card(recipe: Recipe, info: dict, facts: dict, config: dict, evaluation: dict, metrics: list[dict],
                megabytes: float) -> str:
    numbers = {key: value for key, value in evaluation.items()
               if key not in ("run", "checkpoint", "test_data", "time", "seed", "metric_samples")}
    hours, minutes = divmod(round(facts["wall_time_s"] / 60), 60)
    lines = [
        f"# {recipe.name}: {recipe.title}", "",
        recipe.summary, "",
        "```bash",
        f"python generate.py -n {recipe.name}                # MIDI, WAV and PNG in outputs/{recipe.name}/",
        f"python -m zoo prepare --input my_music/ --encoding {config['encoding']['name']} -o data/mine   "
        "# your files, encoded as this preset's data",
        f"python training.py -m {recipe.model_type} -n mine --init_from {recipe.name} -p data/mine/train.pkl   "
        "# fine-tune it on them",
        "```", "",
        "```python",
        "import zoo",
        f"preset = zoo.from_preset(\"{recipe.name}\")",
        "scores = preset.sample(num=4, seed=0)",
        "```", "",
        "## Data",
        f"- **What:** {recipe.data['source']}",
        f"- **Split:** {recipe.data['split']}"
        + ("; pieces: " + ", ".join(f"{k} {v}" for k, v in info["data"]["pieces"].items())
           if info["data"]["pieces"] else ""),
        f"- **Licence of the data:** {recipe.data['licence']}",
        "- No training data ships with the preset.", "",
        "## Training",
        *([f"Data: `{recipe.prepare_command()}`", ""] if recipe.prepare else []),
        "```bash", f"nice -n 10 {recipe.training_command()}   # + --resume_auto after an interruption", "```", "",
        f"{facts['epochs']} epochs, {facts['steps']} steps, best validation loss at epoch {facts['best_epoch']} "
        f"(early stopping); {hours} h {minutes:02d} min of wall time on {facts['machine']}, at low priority beside "
        "other work. What ships is the best epoch's weights without optimizer state "
        f"({info['parameters']:,} parameters, {megabytes:.1f} MB in all).", "",
        "## Test figures",
        "```bash", recipe.evaluate_command(), "```", "",
        "| figure | value |", "|---|---|",
        *[f"| {key} | {_fmt(value)} |" for key, value in numbers.items()], "",
        *(_metrics_section(recipe, metrics) if metrics else []),
        *([ "## A sample", "", "![piano-roll of one sample](pianoroll.png)", "",
            f"`{recipe.generate_command()} --num_outputs 1` (seed 0)", ""]
          if (WEIGHTS / recipe.name / "pianoroll.png").is_file() else []),
        "## What it does badly", "", recipe.weaknesses, "",
        "## Licence", "",
        f"Weights: {recipe.weights_licence}. Data: {recipe.data['licence']}.", "",
        "## Checksums (sha256)", "",
        *[f"- `{name}`: `{digest}`" for name, digest in info["files"].items()], "",
    ]
    return "\n".join(lines)


def _metrics_section(recipe: Recipe, metrics: list[dict]) -> list[str]:
    return [
        f"## Musical metrics: {NUM_METRIC_SAMPLES} samples against the test split", "",
        "Means over pieces (zoo/metrics, MusPy's and MuseGAN's definitions). The bar the zoo sets for a preset: "
        "at most 10% relative gap on pitches used, pitch-class entropy, polyphony, in-scale rate and scale "
        "consistency, at most 0.05 absolute on the empty-beat rate"
        + (", and 10% on UPC, QN and TD for multi-track models." if recipe.multitrack else "."), "",
        recipe.metrics_note, "",
        "| metric | samples | test split | gap | within the bar |", "|---|---|---|---|---|",
        *_metric_rows(metrics, recipe.multitrack), "",
    ]


def _metric_rows(metrics: list[dict], multitrack: bool) -> list[str]:
    wanted = [*RELATIVE_GAP_METRICS, *ABSOLUTE_GAP_METRICS, *(MULTITRACK_GAP_METRICS if multitrack else ())]
    rows = []
    by_name = {row["metric"]: row for row in metrics}
    for name in wanted + [n for n in by_name if n not in wanted]:
        row = by_name.get(name)
        if row is None or row["generated"] in ("", "nan") or row["test"] in ("", "nan"):
            continue
        gap, kind, _ = metric_gap(row)
        gap = 0.0 if float(row["generated"]) == float(row["test"]) else gap
        bar = ""
        if name in wanted:
            limit = ABSOLUTE_GAP_METRICS.get(name, MAX_RELATIVE_GAP)
            bar = "yes" if gap <= limit else "**no**"
        shown = f"{gap:.3f}" if kind == "abs" else f"{100 * gap:.1f}%"
        rows.append(f"| {name} | {_fmt(row['generated'])} | {_fmt(row['test'])} | {shown} | {bar} |")
    return rows


def _fmt(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer() and abs(number) < 1e9:
        return str(int(number))
    return f"{number:.4g}"


def markdown_table() -> str:
    """The README's table of the shipped presets, from their preset.json files."""
    rows = ["| preset | model type | data | weights licence | parameters | MB | test figure |",
            "|---|---|---|---|---|---|---|"]
    for folder in sorted(path.parent for path in WEIGHTS.glob(f"*/{PRESET_FILE}")):
        info = json.loads((folder / PRESET_FILE).read_text())
        megabytes = sum(path.stat().st_size for path in folder.iterdir() if path.is_file()) / 1e6
        licence = info["weights_licence"].split(":")[0].split(",")[0]
        rows.append(f"| [{info['name']}](weights/{info['name']}/README.md) | `{info['model_type']}` | "
                    f"{info['data']['name']} | {licence} | {info['parameters']:,} | {megabytes:.1f} | "
                    f"{_fmt(info['headline']['value'])} {info['headline']['label']} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["train", "finish", "measure", "card", "check", "commands", "table"])
    parser.add_argument("names", nargs="*", help="presets (default for commands: all)")
    args = parser.parse_args()
    if args.command == "table":
        print(markdown_table())
        return
    names = args.names or (list(RECIPES) if args.command == "commands" else [])
    unknown = [name for name in names if name not in RECIPES]
    if unknown or not names:
        raise SystemExit(f"name presets from: {', '.join(RECIPES)}")
    for name in names:
        recipe = RECIPES[name]
        if args.command == "commands":
            print(f"# {name}")
            for command in (recipe.prepare_command(), recipe.training_command(), recipe.evaluate_command(),
                            recipe.generate_command()):
                if command:
                    print(command)
        elif args.command == "train":
            sys.exit(train(recipe))
        elif args.command == "finish":
            finish(recipe)
        elif args.command == "measure":
            import_zoo()
            measure(recipe)
            card(recipe)
            record_check(recipe)
        elif args.command == "check":
            import_zoo()
            record_check(recipe)
        else:
            import_zoo()
            card(recipe)


if __name__ == "__main__":
    main()
