"""TrainConfig cannot go stale: it is checked once, then frozen; ``dataclasses.replace`` (or
``TrainConfig.replace``) makes a changed copy and checks it again."""

import dataclasses

import numpy as np
import pytest

from toymodels.train.engine import TrainConfig

SMALL = dict(D=5, d=2, n=2, batch_size=64, steps=20, progress=False)


@pytest.mark.parametrize("name,value", [("S", 0.0), ("lr", -1.0), ("steps", 0),
                                        ("model", "tied"), ("seed", 3), ("ω", 2.0)])
def test_a_field_cannot_be_changed_after_creation(name, value):
    c = TrainConfig(**SMALL, S=0.9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(c, name, value)


@pytest.mark.parametrize("change,msg", [(dict(lr=-1.0), "lr"), (dict(steps=0), "steps"),
                                        (dict(S=1.5), "S \\(sparsity\\)"),
                                        (dict(optimizer="lbfgs"), "optimizer")])
def test_replace_checks_the_changed_config_again(change, msg):
    c = TrainConfig(**SMALL, S=0.9)
    with pytest.raises(ValueError, match=msg):
        dataclasses.replace(c, **change)
    with pytest.raises(ValueError, match=msg):
        c.replace(**change)


def test_replace_gives_a_checked_copy_with_the_new_derived_arrays():
    c = TrainConfig(**SMALL, S=0.9)
    new = dataclasses.replace(c, S=0.5, n=3)
    assert new.S_vector.shape == (3, 5) and np.all(new.S_vector == 0.5)
    assert np.all(c.S_vector == 0.9) and c.n == 2
    assert c.replace(S=0.5, n=3) == new
    assert dataclasses.replace(c) == c and hash(dataclasses.replace(c)) == hash(c)


def test_arrays_given_to_a_config_are_copied_and_read_only():
    S = np.full((2, 1), 0.9)
    c = TrainConfig(**SMALL, S=S)
    S[:] = 0.0  # the caller's array changes later: the config must not
    assert np.all(c.S_vector == 0.9) and np.all(np.asarray(c.to_dict()["S"]) == 0.9)
    with pytest.raises(ValueError, match="read-only"):
        c.S[0, 0] = 0.0
    assert np.all(c.S_vector == 0.9)


def test_fields_are_the_notation_pages_letters_and_old_files_still_load():
    c = TrainConfig(**SMALL, S=0.9, ω=[1.0, 0.9, 0.8, 0.7, 0.6])
    assert (c.D, c.d, c.n) == (5, 2, 2)
    assert c.S_vector.shape == (2, 5) and np.all(c.S_vector == 0.9)
    np.testing.assert_array_equal(c.ω_vector, np.tile([1.0, 0.9, 0.8, 0.7, 0.6], (2, 1)))
    old = {"n_features" if k == "D" else "n_hidden" if k == "d" else "n_instances" if k == "n"
           else "sparsity" if k == "S" else "importance" if k == "ω" else k: v
           for k, v in c.to_dict().items()}
    assert TrainConfig.from_dict(old) == c
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        TrainConfig.from_dict({**c.to_dict(), "n_feature": 3})


def test_the_resolved_vectors_are_copies():
    c = TrainConfig(**SMALL, S=0.9)
    c.S_vector[:] = 0.0
    c.ω_vector[:] = 0.0
    assert np.all(c.S_vector == 0.9) and np.all(c.ω_vector == 1.0)
