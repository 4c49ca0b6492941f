"""MultINN as one Keras model: encoders + generators in one of five modes (specs/multinn.md §3-§5).

Data: rolls [B, T, D, K] (K tracks of D = steps_per_model_step · pitches dims, zoo/families/multinn/multitrack_encoding.py)
and a mask [B, T] of real (not padded) steps. Encoders map each step to E binary units: `pass` (E = D)
or a DBN (zoo/families/multinn/dbn.py), one per track, or one over all D·K dims in joint mode. Encodings are
[B, T, E, Ke] with Ke = K (1 in joint mode); generators read them shifted by one step (teacher
forcing: a zero step first) and give the NLL (RNN-NADE) or CD-k cost (RNN-RBM) of each step.

Modes (generator layers from zoo/layers/rnn_estimators.py and multinn_multinade.py):
    joint         one generator over the D·K dims of all tracks (pitch-major / track-minor)
    composer      one RNN-MultiNADE: a shared LSTM over the interleaved tracks, one NADE per track
    jamming       K generators, each reading only its own track
    feedback      K generators, each reading its track and f_t = Dense(F, sigmoid)(all tracks at t)
    feedback_rnn  as feedback with f_t from an LSTM stack over all tracks up to t
The per-step cost is the sum over generators divided by K (the mean over tracks; joint mode's joint
NLL divided by K, as MultINN). Training stages: `generators` (encoders frozen, gradient-stopped) and
`encoders` (each DBN layer's CD-k on the layer below's samples; generators untouched).
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from zoo.families.multinn.dbn import Dbn
from zoo.families.multinn.multinn_flags import ENCODERS, GENERATORS, MODES, STAGES
from zoo.families.multinn.rnn_multinade import RnnMultiNade
from zoo.layers.lstm import LSTM
from zoo.layers.nade import seed_tensor
from zoo.layers.rnn_estimators import RnnNade, RnnRbm


@keras.saving.register_keras_serializable(package="zoo")
class MultiNN(keras.Model):
    """MultINN (see the module docstring).

    `call(rolls)`: float [B, T, D, K] -> per-step cost [B, T] (NADE: NLL in nats per model step, averaged
    over tracks) under teacher forcing, no dropout.

    Args:
        num_dims (int): D, dims of one track's model step.
        num_tracks (int): K.
        mode (str, "composer"), generator (str, "rnn_multinade"): see MODES and GENERATORS.
        num_hidden (int, 256): hidden size of each NADE / RBM.
        rnn_units (list of int, [512, 256]): LSTM sizes of each generator.
        feedback_units (list of int, []): feedback module sizes (Dense: the last one is used; RNN: a stack).
        dropout (float, 0.1): output dropout after each LSTM layer (MultINN's keep_prob 0.9).
        gibbs_k (int, 15), sample_gibbs_k (int, 25): RNN-RBM Gibbs steps in training and per generated step.
        encoder (str, "pass"), encoder_hidden (list of int): DBN layer sizes; encoder_gibbs_k (int, 2).
        stage (str, "generators"): which part `train_step` trains.
        seed (int, 0): seed of the training-time noise (encodings, Gibbs chains).
    """

    def __init__(self, num_dims: int, num_tracks: int, mode: str = "composer", generator: str = "rnn_multinade",
                 num_hidden: int = 256, rnn_units=(512, 256), feedback_units=(), dropout: float = 0.1,
                 gibbs_k: int = 15, sample_gibbs_k: int = 25, encoder: str = "pass", encoder_hidden=(),
                 encoder_gibbs_k: int = 2, stage: str = "generators", seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES or generator not in GENERATORS or encoder not in ENCODERS or stage not in STAGES:
            raise ValueError(f"bad MultiNN settings: mode={mode}, generator={generator}, encoder={encoder}, stage={stage}")
        self.num_dims, self.num_tracks, self.mode, self.generator_type = int(num_dims), int(num_tracks), mode, generator
        self.num_hidden, self.rnn_units = int(num_hidden), [int(u) for u in rnn_units]
        self.feedback_units, self.dropout = [int(u) for u in feedback_units], float(dropout)
        self.gibbs_k, self.sample_gibbs_k = int(gibbs_k), int(sample_gibbs_k)
        self.encoder_type, self.encoder_hidden = encoder, [int(u) for u in encoder_hidden]
        self.encoder_gibbs_k, self.stage, self.seed = int(encoder_gibbs_k), stage, int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

        joint = mode == "joint"
        self.encoded_tracks = 1 if joint else self.num_tracks                       # Ke
        visible = self.num_dims * self.num_tracks if joint else self.num_dims
        self.encoders = []
        if encoder == "dbn":
            self.encoders = [Dbn(visible, self.encoder_hidden, self.encoder_gibbs_k, name=f"dbn_{k}")
                             for k in range(self.encoded_tracks)]
        self.encoded_dims = self.encoders[0].num_outputs if self.encoders else visible  # E

        self.feedback = []
        if mode == "feedback":
            self.feedback = [keras.layers.Dense(self.feedback_units[-1], activation="sigmoid",
                                                kernel_initializer="glorot_uniform", name="feedback")]
        elif mode == "feedback_rnn":
            self.feedback = [LSTM(u, return_sequences=True, unit_forget_bias=False, name=f"feedback_lstm_{i}")
                             for i, u in enumerate(self.feedback_units)]
        self.feedback_dropouts = [keras.layers.Dropout(self.dropout) for _ in self.feedback] if mode == "feedback_rnn" else []
        extra = self.feedback_units[-1] if self.feedback else 0
        E = self.encoded_dims
        if mode == "composer":
            self.generators = [RnnMultiNade(E, self.num_tracks, self.num_hidden, self.rnn_units, self.dropout,
                                            name="generator")]
        else:
            count = 1 if joint else self.num_tracks
            self.generators = [self._make_generator(E, E + extra, k) for k in range(count)]
        names = ["loss"] + (["nll"] if generator != "rnn_rbm" and stage == "generators" else [])
        names += [f"cd_{i}" for i in range(len(self.encoder_hidden))] if stage == "encoders" else []
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def _make_generator(self, dims: int, input_dims: int, index: int):
        name = f"generator_{index}"
        if self.generator_type == "rnn_rbm":
            return RnnRbm(dims, self.num_hidden, self.rnn_units, self.dropout, gibbs_k=self.gibbs_k,
                          sample_k=self.sample_gibbs_k, input_dims=input_dims, seed=self.seed + 1 + index, name=name)
        return RnnNade(dims, self.num_hidden, self.rnn_units, self.dropout, input_dims=input_dims, name=name)

    def build(self, input_shape=None):
        for dbn in self.encoders:
            dbn.build()
        features = self.encoded_dims * self.encoded_tracks
        for layer in self.feedback:
            layer.build((None, None, features) if self.mode == "feedback_rnn" else (None, features))
            features = layer.units
        for generator in self.generators:
            generator.build()
        trainable_encoders = self.stage == "encoders"
        for dbn in self.encoders:
            dbn.trainable = trainable_encoders
        for layer in self.generators + self.feedback:
            layer.trainable = not trainable_encoders
        self.built = True

    # ------------------------------------------------------------ encodings
    def _visible(self, rolls):
        """[B, T, D, K] -> the encoders' inputs [B, T, D or D·K, Ke]."""
        if self.mode == "joint":
            shape = ops.shape(rolls)
            return ops.reshape(rolls, (shape[0], shape[1], self.num_dims * self.num_tracks, 1))
        return rolls

    def encode(self, rolls, seed):
        """[B, T, D, K] -> binary encodings [B, T, E, Ke], gradient-stopped."""
        visible = ops.cast(self._visible(rolls), self.compute_dtype)
        if not self.encoders:
            return visible
        batch, steps = ops.shape(visible)[0], ops.shape(visible)[1]
        seed = seed_tensor(seed)
        codes = []
        for k, dbn in enumerate(self.encoders):
            h, _ = dbn.encode(ops.reshape(visible[..., k], (batch * steps, -1)), seed + tf.constant([0, 7 * k + 3]))
            codes.append(ops.reshape(h, (batch, steps, self.encoded_dims)))
        return ops.stop_gradient(ops.stack(codes, axis=-1))

    def decode(self, codes, seed):
        """Encodings [B, T, E, Ke] -> rolls [B, T, D, K] (the DBNs sample down their stacks)."""
        batch, steps = ops.shape(codes)[0], ops.shape(codes)[1]
        if self.encoders:
            seed = seed_tensor(seed)
            parts = []
            for k, dbn in enumerate(self.encoders):
                v, _ = dbn.decode(ops.reshape(codes[..., k], (batch * steps, -1)), seed + tf.constant([0, 11 * k + 5]))
                parts.append(ops.reshape(v, (batch, steps, -1)))
            codes = ops.stack(parts, axis=-1)
        return ops.reshape(codes, (batch, steps, self.num_dims, self.num_tracks))

    # ------------------------------------------------------------ generators
    def _feedback_sequence(self, inputs, training):
        """f for every step from the shifted encodings of all tracks [B, T, E·Ke]."""
        outputs = inputs
        if self.mode == "feedback":
            return self.feedback[0](outputs)
        for lstm, dropout in zip(self.feedback, self.feedback_dropouts):
            outputs = dropout(lstm(outputs, training=training), training=training)
        return outputs

    def generator_io(self, codes, training=False):
        """[(generator, inputs [B, T, D_in], targets [B, T, D_g])] for encodings [B, T, E, Ke] (teacher forcing)."""
        shifted = ops.pad(codes[:, :-1], [[0, 0], [1, 0], [0, 0], [0, 0]])
        batch, steps = ops.shape(codes)[0], ops.shape(codes)[1]
        if self.mode == "composer":
            flat = lambda a: ops.reshape(a, (batch, steps, -1))  # noqa: E731  dim-major / track-minor
            return [(self.generators[0], flat(shifted), flat(codes))]
        if self.mode in ("joint", "jamming"):
            return [(g, shifted[..., k], codes[..., k]) for k, g in enumerate(self.generators)]
        f = self._feedback_sequence(ops.reshape(shifted, (batch, steps, -1)), training)
        return [(g, ops.concatenate([shifted[..., k], f], axis=-1), codes[..., k]) for k, g in enumerate(self.generators)]

    def step_costs(self, codes, mask=None, training=False):
        """Per-step cost [B, T] of encodings [B, T, E, Ke]: sum over generators / K (see the module docstring)."""
        total = sum(g(inputs, targets, mask, training=training) for g, inputs, targets in self.generator_io(codes, training))
        return total / float(self.num_tracks)

    def rbm_step_nll(self, codes, mask, num_chains: int, num_betas: int, seed):
        """rnn_rbm: (NLL [B, T], spread [B, T]) per step, sum over generators / K, with each step's log Z estimated
        by annealed importance sampling (`Rbm.log_partition_ais`); spread: the sum of the log Z estimates' std."""
        seed = seed_tensor(seed)
        nll, spread = 0.0, 0.0
        for index, (g, inputs, targets) in enumerate(self.generator_io(codes)):
            bv, bh = g.conditioned_offsets(inputs)
            shape = ops.shape(targets)[:2]
            flat = lambda a: ops.reshape(a, (-1, ops.shape(a)[-1]))  # noqa: E731
            energy = g.rbm.free_energy(flat(targets), flat(bv), flat(bh))
            log_z, std = g.rbm.log_partition_ais(flat(bv), flat(bh), num_chains, num_betas,
                                                 seed + tf.constant([0, 7919]) * index)
            nll = nll + ops.reshape(energy + log_z, shape)
            spread = spread + ops.reshape(std, shape)
        mask = ops.cast(mask, self.compute_dtype)
        return nll * mask / float(self.num_tracks), spread * mask / float(self.num_tracks)

    def call(self, rolls, training=False):
        return self.step_costs(self.encode(rolls, tf.constant([self.seed, 0])), training=training)

    # ------------------------------------------------------------ training
    @property
    def metrics(self):
        return list(self._trackers.values())

    def _objective(self, data, training):
        rolls, mask = data
        mask = ops.cast(mask, self.compute_dtype)
        seed = seed_tensor(self.seed_generator)
        if self.stage == "encoders":
            return self._encoder_objective(rolls, mask, seed)
        costs = self.step_costs(self.encode(rolls, seed), mask, training=training)
        loss = ops.sum(costs) / ops.maximum(ops.sum(mask), 1.0)
        return loss, {"loss": loss, "nll": loss}

    def _encoder_objective(self, rolls, mask, seed):
        """Sum of every DBN layer's CD-k; `loss` is the one-pass reconstruction log-loss (MultINN's monitor)."""
        visible = ops.cast(self._visible(rolls), self.compute_dtype)
        weights = ops.reshape(mask, (-1,))
        total = ops.maximum(ops.sum(weights), 1.0)
        objective, recon = 0.0, 0.0
        layer_losses = [0.0] * len(self.encoder_hidden)
        for k, dbn in enumerate(self.encoders):
            v = ops.reshape(visible[..., k], (-1, ops.shape(visible)[2]))
            for i, loss in enumerate(dbn.cd_losses(v, seed + tf.constant([0, 13 * k + 1]), weights)):
                objective = objective + loss
                layer_losses[i] = layer_losses[i] + loss / len(self.encoders)
            recon = recon + ops.sum(dbn.reconstruction_loss(v) * weights) / total / len(self.encoders)
        return objective, {"loss": recon, **{f"cd_{i}": loss for i, loss in enumerate(layer_losses)}}

    def _record(self, values):
        for name, tracker in self._trackers.items():
            tracker.update_state(values[name])
        return {name: tracker.result() for name, tracker in self._trackers.items()}

    def train_step(self, data):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        variables = self.trainable_variables
        with tf.GradientTape() as tape:
            objective, values = self._objective(data, training=True)
            scaled = self.optimizer.scale_loss(objective / replicas)
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return self._record(values)

    def test_step(self, data):
        _, values = self._objective(data, training=False)
        return self._record(values)

    def get_config(self):
        return {**super().get_config(), "num_dims": self.num_dims, "num_tracks": self.num_tracks, "mode": self.mode,
                "generator": self.generator_type, "num_hidden": self.num_hidden, "rnn_units": self.rnn_units,
                "feedback_units": self.feedback_units, "dropout": self.dropout, "gibbs_k": self.gibbs_k,
                "sample_gibbs_k": self.sample_gibbs_k, "encoder": self.encoder_type,
                "encoder_hidden": self.encoder_hidden, "encoder_gibbs_k": self.encoder_gibbs_k, "stage": self.stage,
                "seed": self.seed}


class MultiNNSampler(tf.Module):
    """The compiled generation loop of a MultiNN (traced once per sampler).

    `sample(intro, num_steps, seed, temperature)`: intro float [B, Ti, D, K] (Ti >= 0) -> rolls
    [B, Ti + num_steps, D, K]: the intro itself, then `num_steps` generated steps. One `tf.while_loop`
    over Ti + num_steps steps: the intro's encodings are read (teacher forcing), then each step every
    generator samples its track(s) from its current estimator, the samples become the next input (and
    the feedback module's), and the DBNs (if any) decode the generated encodings at the end.
    `temperature` divides the NADE logits (the RBM energies for rnn_rbm).
    """

    def __init__(self, model: MultiNN):
        super().__init__(name="multinn_sampler")
        self.model = model  # tracked, so its variables export with the endpoint
        self.sample = tf.function(self._sample, input_signature=[
            tf.TensorSpec([None, None, model.num_dims, model.num_tracks], tf.float32, name="intro"),
            tf.TensorSpec([], tf.int32, name="num_steps"), tf.TensorSpec([], tf.int32, name="seed"),
            tf.TensorSpec([], tf.float32, name="temperature")])

    def _feedback_step(self, previous_flat, state):
        model = self.model
        if model.mode == "feedback":
            return model.feedback[0](previous_flat), state
        outputs, new_state = previous_flat, []
        for lstm, layer_state in zip(model.feedback, state):
            outputs, next_state = lstm.cell(outputs, list(layer_state), training=False)
            new_state.append(list(next_state))
        return outputs, new_state

    def _sample(self, intro, num_steps, seed, temperature):
        model = self.model
        seed = tf.stack([seed, 0])
        batch, intro_len = tf.shape(intro)[0], tf.shape(intro)[1]
        E, Ke = model.encoded_dims, model.encoded_tracks
        codes_intro = tf.cast(model.encode(intro, seed + tf.constant([0, 1])), tf.float32)
        codes_intro = tf.concat([codes_intro, tf.zeros([batch, 1, E, Ke])], axis=1)  # index Ti exists when Ti = 0
        total = intro_len + num_steps
        states = [g.initial_state(batch) for g in model.generators]
        feedback_state = [[tf.zeros([batch, u]), tf.zeros([batch, u])] for u in model.feedback_units] \
            if model.mode == "feedback_rnn" else []
        frames = tf.TensorArray(tf.float32, size=total, element_shape=tf.TensorShape([None, E, Ke]))

        def body(t, previous, states, feedback_state, frames):
            step_seed = tf.stack([seed[0], seed[1] + 2 + t * 1009])
            if model.mode == "composer":
                inputs = [tf.reshape(previous, [batch, E * Ke])]
            elif model.mode in ("joint", "jamming"):
                inputs = [previous[..., k] for k in range(len(model.generators))]
            else:
                f, feedback_state = self._feedback_step(tf.reshape(previous, [batch, E * Ke]), feedback_state)
                inputs = [tf.concat([previous[..., k], f], axis=-1) for k in range(len(model.generators))]
            biases, new_states = [], []
            for generator, inp, state in zip(model.generators, inputs, states):
                first, second, state = generator.step(inp, state)
                biases.append((first, second))
                new_states.append(state)

            def draw():
                parts = [g.sample_frame(a, b, step_seed + tf.constant([0, 1]) * k, temperature)
                         for k, (g, (a, b)) in enumerate(zip(model.generators, biases))]
                if model.mode == "composer":
                    return tf.reshape(parts[0], [batch, E, Ke])
                return tf.stack(parts, axis=-1)

            frame = tf.cond(t < intro_len, lambda: codes_intro[:, tf.minimum(t, intro_len)], draw)
            frame = tf.ensure_shape(tf.cast(frame, tf.float32), [None, E, Ke])
            return t + 1, frame, new_states, feedback_state, frames.write(t, frame)

        previous = tf.zeros([batch, E, Ke])
        _, _, _, _, frames = tf.while_loop(lambda t, *_: t < total, body,
                                           (tf.constant(0), previous, states, feedback_state, frames))
        codes = tf.transpose(frames.stack(), [1, 0, 2, 3])                          # [B, total, E, Ke]
        generated = tf.cast(model.decode(codes[:, intro_len:], seed + tf.constant([0, 2])), tf.float32)
        return tf.concat([intro, generated], axis=1)
