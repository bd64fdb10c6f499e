import random

import matplotlib as mpl
import numpy as np
import pytest
import torch

import toymodels as tm


def test_version_is_a_string():
    assert isinstance(tm.__version__, str) and tm.__version__.count(".") == 2


def test_setup_seeds_every_generator():
    tm.setup(seed=123)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    tm.setup(seed=123)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    tm.setup(seed=124)
    c = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    assert all(x != y for x, y in zip(a, c, strict=True))


def test_setup_applies_the_book_style():
    mpl.rcParams["axes.spines.top"] = True
    tm.setup(seed=0)
    assert mpl.rcParams["axes.spines.top"] is False


def test_default_device_matches_the_machine():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert tm.choose_device().type == expected
    assert tm.choose_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when no GPU is present")
def test_missing_cuda_is_a_clear_value_error():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        tm.setup(device="cuda")


def test_nonexistent_cuda_index_is_refused():
    with pytest.raises(ValueError, match="cuda:99"):
        tm.choose_device("cuda:99")


@pytest.mark.parametrize("bad", ["gpu", "cdua", "tpu:0"])
def test_unknown_device_names_are_refused(bad):
    with pytest.raises(ValueError, match="available"):
        tm.choose_device(bad)


def test_device_of_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="device"):
        tm.choose_device(0)


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", True])
def test_bad_seed_is_refused(seed):
    with pytest.raises((TypeError, ValueError), match="seed"):
        tm.seed_everything(seed)


def test_widgets_are_live_only_in_a_notebook_a_person_opened(monkeypatch):
    monkeypatch.delenv("TOYMODELS_WIDGETS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert tm.widgets_live() is False  # headless: pytest, nbval, jupyter-book
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/jovyan/chapters/01_linear_autoencoder.ipynb")
    assert tm.widgets_live() is True  # a Jupyter server (Binder, JupyterLab)
    monkeypatch.setenv("TOYMODELS_WIDGETS", "0")
    assert tm.widgets_live() is False
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.setenv("TOYMODELS_WIDGETS", "1")
    assert tm.widgets_live() is True


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("  ", None), ("0", False),
                                             ("off", False), ("No", False), ("FALSE", False),
                                             ("1", True), ("yes", True), ("on", True)])
def test_one_reading_of_on_off_switches_for_widgets_and_progress(monkeypatch, value, expected):
    from toymodels.environment import env_flag
    from toymodels.train.engine import _show_progress

    for name in ("TOYMODELS_WIDGETS", "TOYMODELS_PROGRESS"):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
        assert env_flag(name) is expected
    if expected is not None:  # the same word means the same in both switches
        assert tm.widgets_live() is expected and _show_progress(None) is expected
