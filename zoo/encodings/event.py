"""The `event` encoding: Performance RNN style note-on / note-off / time-shift / velocity tokens."""
from __future__ import annotations

from typing import Any

import numpy as np

from zoo.encodings.base import EOS_ID, NUM_SPECIAL, PAD_ID, Encoding, as_token_ids, register_encoding
from zoo.errors import UsageError
from zoo.music.score import DEFAULT_RESOLUTION, NOTE_DTYPE, Score, Tempo, Track

DECODE_QPM = 120.0
DECODE_TICKS_PER_SECOND = DEFAULT_RESOLUTION * DECODE_QPM / 60.0  # 960
DEFAULT_VELOCITY = 80  # velocity of decoded notes before the first VELOCITY token


@register_encoding
class EventEncoding(Encoding):
    """Performance RNN style events on a fixed time grid of `time_step_ms`.

    Vocabulary (int32 ids), with P = max_pitch - min_pitch + 1, S = max_shift_steps,
    B = velocity_bins (defaults: P = 128, S = 100, B = 32, vocab_size = 390):

        0                        PAD
        1                        EOS
        note_on_offset    = 2    NOTE_ON_p      id = 2 + (p - min_pitch),           p in pitch_range
        note_off_offset   = 2+P  NOTE_OFF_p     id = 2 + P + (p - min_pitch)
        time_shift_offset = 2+2P TIME_SHIFT_k   id = 2 + 2P + (k - 1),              k in 1..S steps
        velocity_offset = 2+2P+S VELOCITY_b     id = 2 + 2P + S + b,                b in 0..B-1
        vocab_size        = 2 + 2P + S + B

    Encoding: the notes of every non-drum track are merged (drum tracks are dropped; notes outside
    `pitch_range` too); times go to seconds through the score's tempo map (`Score.seconds`) and are
    rounded to the grid. Events are sorted by time, note-offs before note-ons at the same time,
    then by pitch. A VELOCITY token (bin = velocity * B // 128) precedes a note-on only when the
    bin changes. A gap longer than S steps is written as several TIME_SHIFT tokens. A note rounded
    to zero length lasts one step; a pitch struck again while it sounds is ended first (two notes
    of one pitch at the same grid onset become one, the longer).

    Resolution: onsets and offsets within time_step_ms / 2 (plus the decoder's rounding to ticks,
    1/960 s), velocity within one bin width (128 / B), pitches exact.

    Args:
        time_step_ms: int = 10. Grid step in milliseconds.
        max_shift_steps: int = 100. Longest single TIME_SHIFT, in steps (1 s by default).
        velocity_bins: int = 32. Number of velocity bins (1..128).
        pitch_range: tuple[int, int] = (0, 127). Lowest and highest pitch kept, inclusive.
    """

    name = "event"

    def __init__(
        self,
        time_step_ms: int = 10,
        max_shift_steps: int = 100,
        velocity_bins: int = 32,
        pitch_range: tuple[int, int] | list[int] = (0, 127),
    ):
        if int(time_step_ms) < 1:
            raise UsageError(f"time_step_ms must be a positive integer, got {time_step_ms}")
        if int(max_shift_steps) < 1:
            raise UsageError(f"max_shift_steps must be >= 1, got {max_shift_steps}")
        if not 1 <= int(velocity_bins) <= 128:
            raise UsageError(f"velocity_bins must be in 1..128, got {velocity_bins}")
        try:
            low, high = (int(p) for p in pitch_range)
        except (TypeError, ValueError):
            raise UsageError(f"pitch_range must be two integers (min, max), got {pitch_range!r}") from None
        if not 0 <= low <= high <= 127:
            raise UsageError(f"pitch_range must satisfy 0 <= min <= max <= 127, got {pitch_range!r}")
        self.time_step_ms = int(time_step_ms)
        self.max_shift_steps = int(max_shift_steps)
        self.velocity_bins = int(velocity_bins)
        self.pitch_range = (low, high)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EventEncoding) and self.to_config() == other.to_config()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_config().items() if k != "name")
        return f"EventEncoding({args})"

    # Layout ------------------------------------------------------------------------------------
    @property
    def num_pitches(self) -> int:
        return self.pitch_range[1] - self.pitch_range[0] + 1

    @property
    def note_on_offset(self) -> int:
        return NUM_SPECIAL

    @property
    def note_off_offset(self) -> int:
        return self.note_on_offset + self.num_pitches

    @property
    def time_shift_offset(self) -> int:
        return self.note_off_offset + self.num_pitches

    @property
    def velocity_offset(self) -> int:
        return self.time_shift_offset + self.max_shift_steps

    @property
    def vocab_size(self) -> int:
        return self.velocity_offset + self.velocity_bins

    def to_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "time_step_ms": self.time_step_ms,
            "max_shift_steps": self.max_shift_steps,
            "velocity_bins": self.velocity_bins,
            "pitch_range": list(self.pitch_range),
        }

    def token_name(self, token_id: int) -> str:
        """'PAD', 'EOS', 'NOTE_ON_60', 'NOTE_OFF_60', 'TIME_SHIFT_10', 'VELOCITY_5' or the bare id."""
        i = int(token_id)
        low = self.pitch_range[0]
        if self.note_on_offset <= i < self.note_off_offset:
            return f"NOTE_ON_{i - self.note_on_offset + low}"
        if self.note_off_offset <= i < self.time_shift_offset:
            return f"NOTE_OFF_{i - self.note_off_offset + low}"
        if self.time_shift_offset <= i < self.velocity_offset:
            return f"TIME_SHIFT_{i - self.time_shift_offset + 1}"
        if self.velocity_offset <= i < self.vocab_size:
            return f"VELOCITY_{i - self.velocity_offset}"
        return super().token_name(i)

    def velocity_bin(self, velocity) -> np.ndarray:
        """Velocity (0..127) -> bin 0..velocity_bins-1."""
        return np.clip(np.asarray(velocity, dtype=np.int64), 0, 127) * self.velocity_bins // 128

    def bin_velocity(self, velocity_bin: int) -> int:
        """Bin -> the velocity at its centre, clipped to 1..127."""
        width = 128 / self.velocity_bins
        return int(np.clip(round((velocity_bin + 0.5) * width), 1, 127))

    # Encode ------------------------------------------------------------------------------------
    def _grid_notes(self, score: Score) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(pitch, on_step, off_step, velocity) of the kept notes after the rules in the docstring."""
        notes = score.all_notes()
        low, high = self.pitch_range
        notes = notes[(notes["pitch"] >= low) & (notes["pitch"] <= high)]
        if len(notes) == 0:  # the de-duplication below assumes at least one note
            empty = np.zeros(0, np.int64)
            return empty, empty, empty, empty
        step_s = self.time_step_ms / 1000.0
        pitch = notes["pitch"].astype(np.int64)
        on = np.round(score.seconds(notes["start"]) / step_s).astype(np.int64)
        off = np.round(score.seconds(notes["end"]) / step_s).astype(np.int64)
        off = np.maximum(off, on + 1)
        velocity = notes["velocity"].astype(np.int64)
        # Same pitch and onset: keep the longest. Then a re-strike ends the sounding note.
        order = np.lexsort((-off, on, pitch))
        pitch, on, off, velocity = pitch[order], on[order], off[order], velocity[order]
        keep = np.r_[True, (pitch[1:] != pitch[:-1]) | (on[1:] != on[:-1])]
        pitch, on, off, velocity = pitch[keep], on[keep], off[keep], velocity[keep]
        same = np.flatnonzero(pitch[1:] == pitch[:-1])
        off[same] = np.minimum(off[same], on[same + 1])
        return pitch, on, off, velocity

    def encode(self, score: Score) -> np.ndarray:
        """Score -> int32 ids in [2, vocab_size) (no PAD, no EOS); see the class docstring."""
        pitch, on, off, velocity = self._grid_notes(score)
        n = len(pitch)
        if n == 0:
            return np.zeros(0, dtype=np.int32)
        time = np.concatenate([off, on])
        is_on = np.r_[np.zeros(n, bool), np.ones(n, bool)]
        pitches = np.concatenate([pitch, pitch])
        bins = np.concatenate([np.full(n, -1), self.velocity_bin(velocity)])
        order = np.lexsort((pitches, is_on, time))  # time, then offs first, then pitch
        time, is_on, pitches, bins = time[order], is_on[order], pitches[order], bins[order]

        on_bins = bins[is_on]
        changed = np.r_[True, on_bins[1:] != on_bins[:-1]]
        with_velocity = np.zeros(len(time), bool)
        with_velocity[np.flatnonzero(is_on)[changed]] = True

        delta = np.diff(time, prepend=0)
        full, rest = np.divmod(delta, self.max_shift_steps)
        n_shift = full + (rest > 0)
        count = n_shift + with_velocity + 1
        start = np.cumsum(count) - count
        out = np.empty(int(count.sum()), dtype=np.int64)
        # full-length shifts
        first_full = np.repeat(start, full)
        within = np.arange(len(first_full)) - np.repeat(np.cumsum(full) - full, full)
        out[first_full + within] = self.time_shift_offset + self.max_shift_steps - 1
        has_rest = rest > 0
        out[(start + full)[has_rest]] = self.time_shift_offset + rest[has_rest] - 1
        out[(start + n_shift)[with_velocity]] = self.velocity_offset + bins[with_velocity]
        low = self.pitch_range[0]
        out[start + count - 1] = np.where(is_on, self.note_on_offset, self.note_off_offset) + pitches - low
        return out.astype(np.int32)

    # Decode ------------------------------------------------------------------------------------
    def decode(self, tokens: np.ndarray) -> Score:
        """ids -> one piano track at resolution 480, 120 qpm (1 s = 960 ticks). Never raises.

        A note-on of a sounding pitch ends the old note (replaces it if it started at the same
        step); a note-off of a silent pitch is ignored; notes still sounding at the end close at
        the final time; a note of zero length lasts one step. Velocity is the bin's centre
        (80 before any VELOCITY token). EOS stops; PAD and ids outside [0, vocab_size) are skipped.
        """
        ids = as_token_ids(tokens)
        low = self.pitch_range[0]
        step = 0
        velocity = DEFAULT_VELOCITY
        sounding: dict[int, tuple[int, int]] = {}  # pitch -> (on step, velocity)
        done: list[tuple[int, int, int, int]] = []  # (pitch, on, off, velocity)

        def close(pitch: int, at: int) -> None:
            on, vel = sounding.pop(pitch)
            done.append((pitch, on, max(at, on + 1), vel))

        for i in ids.tolist():
            if i == EOS_ID:
                break
            if i == PAD_ID or not 0 <= i < self.vocab_size:
                continue
            if i < self.note_off_offset:
                pitch = i - self.note_on_offset + low
                if pitch in sounding:
                    if sounding[pitch][0] == step:
                        del sounding[pitch]
                    else:
                        close(pitch, step)
                sounding[pitch] = (step, velocity)
            elif i < self.time_shift_offset:
                pitch = i - self.note_off_offset + low
                if pitch in sounding:
                    close(pitch, step)
            elif i < self.velocity_offset:
                step += i - self.time_shift_offset + 1
            else:
                velocity = self.bin_velocity(i - self.velocity_offset)
        for pitch in list(sounding):
            close(pitch, step)

        notes = np.zeros(len(done), dtype=NOTE_DTYPE)
        if done:
            pitch, on, off, vel = (np.array(column, dtype=np.int64) for column in zip(*done))
            ticks_per_step = self.time_step_ms / 1000.0 * DECODE_TICKS_PER_SECOND
            notes["pitch"] = pitch
            notes["start"] = np.round(on * ticks_per_step).astype(np.int64)
            notes["end"] = np.maximum(np.round(off * ticks_per_step).astype(np.int64), notes["start"] + 1)
            notes["velocity"] = vel
            notes = np.sort(notes, order=["start", "pitch"])
        track = Track(name="Piano", program=0, notes=notes)
        return Score(resolution=DEFAULT_RESOLUTION, tracks=[track], tempos=[Tempo(0, DECODE_QPM)])
