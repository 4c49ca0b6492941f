"""The papers' figures the zoo answers to, as data: `python -m zoo reproduce` prints each beside ours.

A row names the published figure, where it comes from and whether it was checked against the paper's text
(`../shared/specs/metrics.md` section 8), the protocol under which ours is comparable, and the preset whose
`evaluate` column answers it (None: no shipped model answers it yet).
"""
from __future__ import annotations

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class PaperRow:
    name: str
    what: str
    paper: float
    source: str
    verified: bool
    preset: str | None
    metric: str  # the column of the preset's evaluation.csv
    lower_is_better: bool
    protocol: str

    def gap(self, ours: float) -> str:
        """Ours against the paper's, signed so that '+' is better: '+0.012 (better)' / '-0.170 (worse)'."""
        if not math.isfinite(ours):
            return "n/a"
        better = self.paper - ours if self.lower_is_better else ours - self.paper
        return f"{better:+.3f} ({'better' if better > 0 else 'level' if better == 0 else 'worse'})"


_BOULANGER = "Boulanger-Lewandowski et al. 2012, Table 1"
_ROBERTS = "Roberts et al. 2018, Table 1"
_FRAMES = ("NLL per frame in nats, every frame of every test piece (the benchmark's own split, its frame rate); "
           "lower is better")
_SAMPLED = ("accuracy over every step of every held-out 2-bar window (one bar apart); z = the posterior mean, "
            "the decoder fed its own argmax")

PAPER_ROWS: tuple[PaperRow, ...] = (
    PaperRow("rnn-nade-jsb", "RNN-NADE, JSB Chorales", 5.56, f"{_BOULANGER}, RNN-NADE (HF)", False,
             "jsb-rnn-nade", "nll_per_frame", True, f"{_FRAMES}; NADE's likelihood is exact"),
    PaperRow("rnn-nade-nottingham", "RNN-NADE, Nottingham", 2.31, f"{_BOULANGER}, RNN-NADE (HF)", True,
             None, "nll_per_frame", True, f"{_FRAMES}; NADE's likelihood is exact"),
    PaperRow("rnn-rbm-jsb", "RNN-RBM, JSB Chorales", 6.27, f"{_BOULANGER}, RNN-RBM", False,
             "jsb-rnn-rbm", "nll_per_frame", True, f"{_FRAMES}; the RBM's partition function by AIS"),
    PaperRow("rnn-rbm-nottingham", "RNN-RBM, Nottingham", 2.39, f"{_BOULANGER}, RNN-RBM", True,
             None, "nll_per_frame", True, f"{_FRAMES}; the RBM's partition function by AIS"),
    PaperRow("musicvae-2bar-sampled", "MusicVAE 2-bar melody, sampled accuracy", 0.951, _ROBERTS, False,
             "nottingham-musicvae-2bar", "sampled_accuracy", False,
             f"{_SAMPLED}; ours on Nottingham tunes split by tune, the paper's on Lakh MIDI melodies"),
    PaperRow("musicvae-2bar-teacher-forced", "MusicVAE 2-bar melody, teacher-forced accuracy", 0.986, _ROBERTS,
             False, "nottingham-musicvae-2bar", "tf_accuracy", False,
             f"{_SAMPLED.replace('the decoder fed its own argmax', 'the decoder fed the true notes')}; ours on "
             "Nottingham tunes split by tune, the paper's on Lakh MIDI melodies"),
    PaperRow("musicvae-16bar-flat", "MusicVAE 16-bar melody, flat decoder, sampled accuracy", 0.620, _ROBERTS,
             False, None, "sampled_accuracy", False, _SAMPLED.replace("2-bar", "16-bar")),
    PaperRow("musicvae-16bar-hierarchical", "MusicVAE 16-bar melody, hierarchical decoder, sampled accuracy",
             0.812, _ROBERTS, False, None, "sampled_accuracy", False, _SAMPLED.replace("2-bar", "16-bar")),
)


def paper_row(name: str) -> PaperRow:
    """The row called `name`; KeyError naming the known ones otherwise."""
    for row in PAPER_ROWS:
        if row.name == name:
            return row
    raise KeyError(f"no paper row '{name}' (known: {', '.join(row.name for row in PAPER_ROWS)})")
