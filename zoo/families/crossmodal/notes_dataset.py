"""The cross-modal model's note data set, built offline: GM notes rendered from a SoundFont -> CQT frames.

Every pitch of each instrument's range (every `pitch_step`-th) at each dynamics is played once,
held `note_seconds`, dry (no reverb or chorus) at 22,050 Hz, through one fixed renderer whatever
else is installed: `zoo.music.soundfont` (midirenderer) with pretty_midi's TimGM6mb.sf2 unless
`--soundfont` names others, so that data sets made on different machines compare. The manifest and
the encoding config record the renderer (name, version, recipe) and each SoundFont's file name and
sha256. One render per instrument and chunk: notes 1 s apart so each one's tail has died down
before the next. Each note becomes one piece:

    {"logmag": float16 [frames, 410]   log(max(|CQT|, 1e-6)), pooled frames of zoo.music.cqt,
     "instrument", "octave", "pitch", "dynamics", "midi": int16 [frames]   its labels, repeated}

The split is by note (instrument, pitch, dynamics; all SoundFont renderings of one note go
together), so no note is in two splits. The mean and max-abs of the training split's log
magnitudes (all instruments) are stored in the encoding config for the normalisation. No
TensorFlow here: `prepare` runs without it; the training examples are made in `mixtures`.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.atomic import write_json
from zoo.data.safe_pickle import dump_pickle
from zoo.data.splits import DATA_FORMAT, SPLITS, split_indices
from zoo.errors import DataError
from zoo.families.crossmodal.note_labels import (
    DYNAMICS,
    INSTRUMENTS,
    VELOCITIES,
    dynamics_of,
    octave_of,
    pitch_class_of,
)
from zoo.music import cqt, soundfont
from zoo.music.score import Score, Track, make_notes

if TYPE_CHECKING:
    from zoo.families.crossmodal.notes_encoding import NotesEncoding

INSTALL_HINT = "pip install -r requirements.txt: midirenderer, and pretty_midi, which ships TimGM6mb.sf2"
GAP_SECONDS = 1.0  # silence after each note's release, so reverb tails do not reach the next note
TAIL_SECONDS = 0.25  # kept after the note-off: the release is part of the note
NOTES_PER_RENDER = 100  # at most, and at most RENDER_SECONDS of sound a render (bounds its memory)
RENDER_SECONDS = 200.0


def find_soundfonts(requested: list[str] | None) -> list[Path]:
    """The SoundFonts to render with: `requested`, else pretty_midi's TimGM6mb.sf2 (never $ZOO_SOUNDFONT or a
    system font: the default data set is the same everywhere); DataError with what to install when the
    renderer or the font is missing."""
    if not soundfont.available():
        raise DataError(f"the notes data set is rendered with {soundfont.ENGINE}, which is not installed "
                        f"({INSTALL_HINT}; it has wheels for Linux x86_64, macOS and Windows)")
    if requested:
        missing = [f for f in requested if not Path(f).is_file()]
        if missing:
            raise DataError(f"no SoundFont file at {', '.join(missing)}")
        return [Path(f) for f in requested]
    font = soundfont.pip_soundfont()
    if font is None:
        raise DataError(f"no General MIDI SoundFont: pretty_midi is not installed ({INSTALL_HINT}), "
                        "or give one with --soundfont")
    return [font]


def note_list(encoding: NotesEncoding) -> list[tuple[str, int, int]]:
    """(instrument, MIDI pitch, velocity) of every note the data set holds."""
    velocities = [VELOCITIES[DYNAMICS.index(d)] for d in encoding.dynamics]
    notes = []
    for name in encoding.instruments:
        _, low, high = INSTRUMENTS[name]
        for midi in range(low, high + 1, encoding.pitch_step):
            notes.extend((name, midi, velocity) for velocity in velocities)
    return notes


def render_notes(instrument: str, notes: list[tuple[int, int]], note_seconds: float, font: Path
                 ) -> list[np.ndarray]:
    """Renders (pitch, velocity) notes of one instrument, one after another, dry, with `font` through
    `zoo.music.soundfont`; returns each note's samples, zeros for a note that is not at least twice as loud as
    the previous note's tail at its onset (no sample for it: pretty_midi's TimGM6mb has none for Alto-Sax E4).
    DataError when the renderer fails."""
    sr = cqt.SAMPLE_RATE
    slot = note_seconds + GAP_SECONDS
    keep = int(round((note_seconds + TAIL_SECONDS) * sr))
    per_render = max(1, min(NOTES_PER_RENDER, int(RENDER_SECONDS // slot)))
    segments = []
    for first in range(0, len(notes), per_render):
        chunk = notes[first:first + per_render]
        ticks = 960  # per second at the default 120 qpm, resolution 480
        starts = np.arange(len(chunk)) * slot * ticks
        track = Track(name=instrument, program=INSTRUMENTS[instrument][0], notes=make_notes(
            [p for p, _ in chunk], np.round(starts), np.round(starts + note_seconds * ticks), [v for _, v in chunk]))
        try:
            audio = soundfont.render_soundfont(Score(tracks=[track]), font, sample_rate=sr, effects=False,
                                               max_seconds=len(chunk) * slot + 1.0)
        except soundfont.SoundFontRenderError as error:
            raise DataError(f"cannot render the {instrument} notes: {error}") from None
        for i in range(len(chunk)):
            begin = int(round(i * slot * sr))
            segment = np.pad(audio[begin:begin + keep], (0, keep - len(audio[begin:begin + keep])))
            before = np.abs(audio[max(begin - sr // 20, 0):begin]).max(initial=0.0)  # the previous note's tail
            if np.abs(segment).max(initial=0.0) < 2 * before:  # no sound of its own (a hole in the SoundFont)
                segment = np.zeros_like(segment)
            segments.append(segment)
    return segments


def build_notes_dataset(encoding: NotesEncoding, output_dir, valid_fraction: float = 0.1,
                        test_fraction: float = 0.1, seed: int = 0, progress: bool = True) -> dict:
    """Renders the notes `encoding` describes and writes {train,valid,test}.pkl and manifest.json."""
    fonts = find_soundfonts(encoding.soundfont)
    renderer = {**soundfont.renderer_info(), "soundfonts": [soundfont.soundfont_info(f) for f in fonts]}
    notes = note_list(encoding)
    pieces, sources, keys, skipped = [], [], [], []
    for font in fonts:
        for instrument in encoding.instruments:
            mine = [(midi, velocity) for name, midi, velocity in notes if name == instrument]
            if progress:
                print(f"rendering {len(mine)} {instrument} notes with {font.name}", file=sys.stderr)
            audio = render_notes(instrument, mine, encoding.note_seconds, font)
            for (midi, velocity), samples in zip(mine, audio):
                if np.abs(samples).max() < 1e-4:  # e.g. a SoundFont without a sample for this pitch and velocity
                    skipped.append({"file": f"{instrument}/midi{midi}/velocity{velocity}/{font.name}",
                                    "reason": "rendered silent"})
                    continue
                logmag = np.log(np.maximum(cqt.magnitude_frames(samples), 1e-6)).astype(np.float16)
                frames = len(logmag)
                labels = {"instrument": encoding.instruments.index(instrument), "octave": int(octave_of(midi)),
                          "pitch": int(pitch_class_of(midi)), "dynamics": int(dynamics_of(velocity)), "midi": midi}
                pieces.append({"logmag": logmag, **{k: np.full(frames, v, np.int16) for k, v in labels.items()}})
                sources.append(f"{instrument}/midi{midi}/{DYNAMICS[labels['dynamics']]}/{font.name}")
                keys.append((instrument, midi, velocity))
    if not pieces:
        raise DataError(f"every note rendered silent with {', '.join(f.name for f in fonts)}: "
                        "is it a General MIDI SoundFont?")
    unique = sorted(set(keys))
    note_split = {}
    for split, indices in split_indices(len(unique), valid_fraction, test_fraction, seed).items():
        note_split.update({unique[i]: split for i in indices})
    train_logs = np.concatenate([p["logmag"].astype(np.float32).ravel()
                                 for p, k in zip(pieces, keys) if note_split[k] == "train"])
    mean = float(train_logs.mean())
    config = {**encoding.to_config(), "soundfont": [str(f) for f in fonts], "renderer": renderer, "log_mean": mean,
              "log_scale": float(np.abs(train_logs - mean).max())}
    output_dir = Path(output_dir)
    manifest_splits = {}
    for split in SPLITS:
        chosen = [i for i, k in enumerate(keys) if note_split[k] == split]
        pkl = output_dir / f"{split}.pkl"
        dump_pickle({"format": DATA_FORMAT, "encoding": config, "pieces": [pieces[i] for i in chosen],
                     "sources": [sources[i] for i in chosen]}, pkl)
        manifest_splits[split] = {
            "pieces": len(chosen),
            "tokens": int(sum(len(pieces[i]["logmag"]) for i in chosen)),
            "sources": [sources[i] for i in chosen],
            "sha256": hashlib.sha256(pkl.read_bytes()).hexdigest(),
        }
    inputs = [f"rendered with {renderer['name']} {renderer['version']} and {info['file']} (sha256 {info['sha256']})"
              for info in renderer["soundfonts"]]
    manifest = {"format": DATA_FORMAT, "encoding": config, "renderer": renderer, "inputs": inputs,
                "files_found": len(pieces) + len(skipped), "seed": seed, "valid_fraction": valid_fraction,
                "test_fraction": test_fraction, "splits": manifest_splits, "skipped": skipped}
    write_json(manifest, output_dir / "manifest.json")
    return manifest
