"""MusicVAE's training callbacks: printing, audio logs (its learning-rate schedule: zoo.core.optimizers)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from zoo.families.musicvae.melody_encoding import MelodyEncoding
from zoo.families.musicvae.vae_inference import compiled_functions, decode_z


class StepPrinter(keras.callbacks.Callback):
    """symusic's print_interval: one line of training metrics every `interval` steps."""

    def __init__(self, interval: int):
        super().__init__()
        self.interval = interval

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if logs and step % self.interval == 0:
            text = " ".join(f"{k}={float(v):.4g}" for k, v in logs.items())
            print(f"step {step}: {text}", file=sys.stderr)


class ReconstructionLogger(keras.callbacks.Callback):
    """symusic's advanced_interval: every `interval` steps, a validation melody, its reconstruction and a
    prior sample are written to `samples_dir` (MIDI/WAV/PNG) and go to TensorBoard (log_dir/samples)
    as audio and piano-roll images."""

    def __init__(self, validation_melody: Callable[[], np.ndarray], samples_dir: Path, log_dir: Path, interval: int,
                 seed: int = 0, sample_rate: int = 16000):
        super().__init__()
        self.samples_dir = Path(samples_dir)
        self.validation_melody = validation_melody
        self.interval = interval
        self.seed = seed
        self.sample_rate = sample_rate
        self.log_dir = Path(log_dir) / "samples"
        self.melody = None
        self.writer = None

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step % self.interval:
            return
        from zoo.music.io import write_piece
        from zoo.music.pianoroll import pianoroll_image

        if self.melody is None:
            self.melody = self.validation_melody()
            self.writer = tf.summary.create_file_writer(str(self.log_dir))
        encoding = MelodyEncoding()
        mu, _ = compiled_functions(self.model)["encode"](tf.constant(self.melody))
        prior = np.random.default_rng(self.seed + step).standard_normal(mu.shape).astype(np.float32)
        pieces = {
            "original": self.melody[0],
            "reconstruction": decode_z(self.model, mu.numpy(), 0.0, self.seed)[0],
            "prior_sample": decode_z(self.model, prior, 1.0, self.seed + step)[0],
        }
        with self.writer.as_default(step=step):
            for name, classes in pieces.items():
                score = encoding.decode(classes)
                _, audio = write_piece(score, self.samples_dir / f"step-{step:07d}-{name}", self.sample_rate)
                if audio.size:
                    tf.summary.audio(name, audio[None, :, None], self.sample_rate, max_outputs=1, encoding="wav")
                tf.summary.image(name, pianoroll_image(score)[None, ..., :3], max_outputs=1)
        self.writer.flush()
