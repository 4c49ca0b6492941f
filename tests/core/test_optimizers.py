"""The optimizer factory: name, learning rate, epsilon and global clip norm, and its errors."""
from __future__ import annotations

import keras
import pytest

from zoo.core.optimizers import make_optimizer, takes_epsilon
from zoo.errors import UsageError


def test_settings_reach_the_optimizer():
    optimizer = make_optimizer("Adam", 2e-4, epsilon=1e-8, global_clipnorm=5.0)
    config = optimizer.get_config()
    assert isinstance(optimizer, keras.optimizers.Adam)
    assert config["learning_rate"] == pytest.approx(2e-4) and config["epsilon"] == 1e-8
    assert config["global_clipnorm"] == 5.0


def test_none_and_a_zero_clip_norm_keep_the_optimizers_defaults():
    config = make_optimizer("rmsprop", global_clipnorm=0).get_config()
    default = keras.optimizers.RMSprop().get_config()
    assert {k: v for k, v in config.items() if k != "name"} == {k: v for k, v in default.items() if k != "name"}


def test_epsilon_only_where_the_optimizer_has_one():
    assert takes_epsilon("adam") and takes_epsilon("RMSprop") and not takes_epsilon("sgd")
    with pytest.raises(UsageError, match="optimizer 'sgd' has no epsilon"):
        make_optimizer("sgd", 1e-3, epsilon=1e-8)


def test_unknown_name_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown optimizer 'adamm'"):
        make_optimizer("adamm")
    with pytest.raises(UsageError, match="unknown optimizer 'adamm'"):
        takes_epsilon("adamm")
