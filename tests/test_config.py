"""TrainConfig cannot go stale: it is checked once, then frozen; ``dataclasses.replace`` (or
``TrainConfig.replace``) makes a changed copy and checks it again."""

import dataclasses

import numpy as np
import pytest

from toymodels.train.engine import TrainConfig

SMALL = dict(n_features=5, n_hidden=2, n_instances=2, batch_size=64, steps=20, progress=False)


@pytest.mark.parametrize("name,value", [("sparsity", 0.0), ("lr", -1.0), ("steps", 0),
                                        ("model", "tied"), ("seed", 3), ("importance", 2.0)])
def test_a_field_cannot_be_changed_after_creation(name, value):
    c = TrainConfig(**SMALL, sparsity=0.9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(c, name, value)


@pytest.mark.parametrize("change,msg", [(dict(lr=-1.0), "lr"), (dict(steps=0), "steps"),
                                        (dict(sparsity=1.5), "sparsity"),
                                        (dict(optimizer="lbfgs"), "optimizer")])
def test_replace_checks_the_changed_config_again(change, msg):
    c = TrainConfig(**SMALL, sparsity=0.9)
    with pytest.raises(ValueError, match=msg):
        dataclasses.replace(c, **change)
    with pytest.raises(ValueError, match=msg):
        c.replace(**change)


def test_replace_gives_a_checked_copy_with_the_new_derived_arrays():
    c = TrainConfig(**SMALL, sparsity=0.9)
    new = dataclasses.replace(c, sparsity=0.5, n_instances=3)
    assert new.sparsity_array.shape == (3, 5) and np.all(new.sparsity_array == 0.5)
    assert np.all(c.sparsity_array == 0.9) and c.n_instances == 2
    assert c.replace(sparsity=0.5, n_instances=3) == new
    assert dataclasses.replace(c) == c and hash(dataclasses.replace(c)) == hash(c)


def test_arrays_given_to_a_config_are_copied_and_read_only():
    S = np.full((2, 1), 0.9)
    c = TrainConfig(**SMALL, sparsity=S)
    S[:] = 0.0  # the caller's array changes later: the config must not
    assert np.all(c.sparsity_array == 0.9) and np.all(np.asarray(c.to_dict()["sparsity"]) == 0.9)
    with pytest.raises(ValueError, match="read-only"):
        c.sparsity[0, 0] = 0.0
    assert np.all(c.sparsity_array == 0.9)
