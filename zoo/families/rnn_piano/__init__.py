"""RNN-NADE and RNN-RBM on the polyphonic piano-roll benchmarks (`-m rnn_nade`, `-m rnn_rbm`)."""
