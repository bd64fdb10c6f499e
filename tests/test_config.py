"""TrainConfig cannot go stale: it is checked once, then frozen; ``dataclasses.replace`` (or
``TrainConfig.replace``) makes a changed copy and checks it again."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from toymodels.train.engine import TrainConfig

SMALL_T = dict(D=5, d=2, n=3, batch_size=64, steps=40, log_every=10,
             progress=False)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**SMALL_T, **kw})


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


def test_sweep_helper_and_shapes_of_sparsity():
    s = TrainConfig.sweep([0.0, 0.5, 0.9], D=4, progress=False)
    assert s.n == 3 and s.S_vector.shape == (3, 4)
    assert np.all(s.S_vector[2] == 0.9)
    one = TrainConfig(n=1, D=3, S=[0.1, 0.2, 0.3])
    np.testing.assert_array_equal(one.S_vector, [[0.1, 0.2, 0.3]])
    both = TrainConfig(n=2, D=3, ω=[1, 2, 3])
    np.testing.assert_array_equal(both.ω_vector, [[1, 2, 3], [1, 2, 3]])


BAD = [
    (dict(model="sigmoid"), ValueError, r"model must be one of \['linear', 'tied', 'relu'\]"),
    (dict(D=0), ValueError, "D must be >= 1, got 0"),
    (dict(d=2.5), TypeError, "d must be an integer"),
    (dict(n=-1), ValueError, "n must be >= 1"),
    (dict(batch_size=True), TypeError, "batch_size must be an integer"),
    (dict(steps=0), ValueError, "steps must be >= 1"),
    (dict(log_every=0), ValueError, "log_every must be >= 1"),
    (dict(seed=-3), ValueError, "seed must be >= 0"),
    (dict(S=1.5), ValueError, "S \\(sparsity\\) must lie in \\[0, 1\\], got an entry 1.5"),
    (dict(S=[0.1, 0.2, 0.3]), ValueError,
     r"S \(sparsity\) has shape \(3,\); .*pass an array of shape \(n, 1\)"),
    (dict(S=np.zeros((3, 4))), ValueError, r"S \(sparsity\) has shape \(3, 4\); allowed"),
    (dict(S="dense"), TypeError, "S \\(sparsity\\) must be a number or an array of numbers"),
    (dict(ω=-1.0), ValueError, "ω \\(importance\\) must be >= 0, got an entry -1"),
    (dict(ω=[1.0, math.inf, 1, 1, 1]), ValueError, "ω \\(importance\\) must be finite"),
    (dict(ω=np.ones(4)), ValueError, r"ω \(importance\) has shape \(4,\); allowed"),
    (dict(lr=0.0), ValueError, "lr must be positive \\(> 0\\), got 0"),
    (dict(lr=math.nan), ValueError, "lr must be finite"),
    (dict(lr="fast"), TypeError, "lr must be a real number"),
    (dict(optimizer="rmsprop"), ValueError, r"optimizer must be one of \['adam', 'adamw', 'sgd'\]"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
    (dict(schedule="step"), ValueError, "schedule must be one of \\['constant', 'cosine'"),
    (dict(init_scale=0.0), ValueError, "init_scale must be positive \\(> 0\\)"),
    (dict(device=0), TypeError, "device must be None, a string or a torch.device, got int"),
    (dict(progress="yes"), TypeError, "progress must be None or a bool"),
    (dict(betas=(0.9,)), ValueError, r"betas must be a pair"),
    (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be < 1"),
    (dict(eps=0), ValueError, "eps must be positive \\(> 0\\)"),
    (dict(momentum=1.0), ValueError, "momentum must be < 1"),
    (dict(warmup_steps=100), ValueError, "warmup_steps must be <= 40"),
    (dict(dtype="float16"), ValueError, r"dtype must be one of \['float32', 'float64'\]"),
]


@pytest.mark.parametrize("kw,exc,msg", BAD, ids=[next(iter(b[0])) + str(i) for i, b in
                                                 enumerate(BAD)])
def test_bad_input_is_refused_with_a_message(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        cfg(**kw)


@pytest.mark.parametrize("bad, exc, msg", [
    (np.array([1.0, 1j, 1.0, 1.0, 1.0]), TypeError, r"ω \(importance\) .*complex"),
    (np.array([True, False, True, True, True]), TypeError, r"ω \(importance\) .*bool"),
    (np.array(["1", "1", "1", "1", "1"]), TypeError, r"ω \(importance\) .*strings"),
    ("1", TypeError, r"ω \(importance\) .*string"),
    (torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0]) + 0j, TypeError, r"ω \(importance\) .*complex"),
])
def test_importance_of_the_wrong_kind_is_refused(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        cfg(ω=bad)


def test_importance_in_any_real_dtype_is_accepted():
    ω = np.array([1.0, 0.5, 0.25, 2.0, 1.0])
    for v in (ω.tolist(), ω.astype(np.float16), torch.as_tensor(ω).to(torch.bfloat16),
              torch.as_tensor(ω, dtype=torch.float32)):
        np.testing.assert_array_equal(cfg(ω=v).ω, ω)


def test_no_superposition_config_warns():
    from toymodels.train.engine import NoSuperpositionWarning

    with pytest.warns(NoSuperpositionWarning, match="d = 3 >= D = 3"):
        TrainConfig(model="relu", D=3, d=3, n=1, steps=1)
