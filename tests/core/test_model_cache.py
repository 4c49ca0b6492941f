"""`zoo.core.model_cache.per_model`: built once per model and name, without keeping the model alive."""
import gc
import weakref

from zoo.core.model_cache import per_model


class Model:
    pass


def test_built_once_per_model_and_name_and_the_model_stays_collectable():
    builds = []
    first, second = Model(), Model()
    make = lambda tag: (lambda: builds.append(tag) or object())  # noqa: E731
    assert per_model(first, "sampler", make("a")) is per_model(first, "sampler", make("b"))
    assert per_model(first, "encoder", make("c")) is not per_model(first, "sampler", make("d"))
    assert per_model(second, "sampler", make("e")) is not per_model(first, "sampler", make("f"))
    assert builds == ["a", "c", "e"]
    gone = weakref.ref(first)
    del first
    gc.collect()
    assert gone() is None  # the cache does not keep a model alive
