"""Training results (toymodels.train.results): the final loss, saving and loading without pickle,
files validated on load, atomic saves, checkpoints that belong to another run."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
from test_limits_and_files import _refused  # a refusal interrupted if it starts the work

from toymodels import limits
from toymodels.train.engine import TrainConfig, train
from toymodels.train.results import DamagedResultError, TrainResult

SMALL = dict(D=5, d=2, n=3, batch_size=64, steps=40, log_every=10,
             progress=False)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**SMALL, **kw})


def test_final_loss_averages_the_last_tenth_of_training():
    r = train(cfg(steps=100, log_every=5))
    assert np.allclose(r.final_loss, r.loss_history[r.log_steps >= 90].mean(0))


@pytest.mark.parametrize("model", ["relu", "linear"])
def test_save_load_round_trip(tmp_path, model):
    r = train(cfg(model=model, ω=np.linspace(1, 2, 5), S=[[0.1], [0.5], [0.9]]))
    r.save(tmp_path / "r.npz")
    back = TrainResult.load(tmp_path / "r.npz")
    assert back.config == r.config
    np.testing.assert_array_equal(back.config.S_vector, r.config.S_vector)
    for k in r.params:
        np.testing.assert_array_equal(back.params[k], r.params[k])
    np.testing.assert_array_equal(back.loss_history, r.loss_history)
    np.testing.assert_array_equal(back.log_steps, r.log_steps)
    np.testing.assert_array_equal(back.final_loss, r.final_loss)
    assert back.steps_done == r.steps_done
    assert sorted(os.listdir(tmp_path)) == ["r.npz"]


def test_interrupted_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "r.npz"
    old = train(cfg(seed=1))
    old.save(path)
    new = train(cfg(seed=2))

    def crash(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["r.npz"]  # no temporary file left behind
    np.testing.assert_array_equal(TrainResult.load(path).W, old.W)


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array([{"a": 1}], dtype=object), loss_history=np.zeros((1, 1)),
             log_steps=np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match="allow_pickle=False"):
        TrainResult.load(path)
    np.savez(path, x=np.zeros(2))
    with pytest.raises(ValueError, match=r"evil\.npz: unknown entries \['x'\]"):
        TrainResult.load(path)


def _cfg(**kw):
    base = dict(D=4, d=2, n=2, S=0.5, batch_size=16, steps=6,
                log_every=2, progress=False, seed=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("results") / "run.npz"
    train(_cfg(), checkpoint=path)
    return path


def _rewrite(src, dst, change):
    """Copy the npz ``src`` to ``dst``, passing each ``(name, bytes)`` entry through ``change``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            out = change(info.filename, zin.read(info.filename))
            if out is not None:
                zout.writestr(out[0], out[1])
    return dst


def test_a_saved_result_loads_and_resumes(saved, tmp_path):
    res = TrainResult.load(saved)
    assert res.steps_done == 6 and set(res.params) == {"W", "b"}


def test_a_flipped_byte_in_an_entry_name_is_refused(saved, tmp_path):
    bad = _rewrite(saved, tmp_path / "flip.npz",
                   lambda n, data: (n.replace("opt_m", "opt_n"), data))
    with pytest.raises(DamagedResultError, match=r"flip\.npz: unknown entries \['opt_n'\]"):
        TrainResult.load(bad)


def test_a_renamed_parameter_is_refused_instead_of_loading_as_none(saved, tmp_path):
    bad = _rewrite(saved, tmp_path / "renamed.npz",
                   lambda n, data: (n.replace("param_b", "param_B"), data))
    with pytest.raises(DamagedResultError, match=r"renamed\.npz: the parameters are \['B', 'W'\]"):
        TrainResult.load(bad)
    with pytest.raises(ValueError, match="renamed.npz"):
        train(_cfg(steps=8), resume=bad)


def test_a_parameter_of_the_wrong_shape_is_refused(saved, tmp_path):
    import io

    def shrink(name, data):
        if name == "param_W.npy":
            buf = io.BytesIO()
            np.save(buf, np.zeros((1, 2, 4)))
            return name, buf.getvalue()
        return name, data

    bad = _rewrite(saved, tmp_path / "shape.npz", shrink)
    with pytest.raises(DamagedResultError, match=r"parameter W must have shape \(2, 2, 4\)"):
        TrainResult.load(bad)
    with pytest.raises(ValueError, match="shape.npz"):
        train(_cfg(steps=8), resume=bad)


def test_non_finite_values_are_refused(saved, tmp_path):
    import io

    def poison(name, data):
        if name == "param_b.npy":
            buf = io.BytesIO()
            np.save(buf, np.full((2, 4), np.nan))
            return name, buf.getvalue()
        return name, data

    with pytest.raises(DamagedResultError, match="parameter b contains NaN"):
        TrainResult.load(_rewrite(saved, tmp_path / "nan.npz", poison))


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_file_gives_a_clear_error_naming_it(saved, tmp_path, keep):
    data = saved.read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DamagedResultError, match=r"cut\.npz: .*(truncated or corrupt|TrainResult)"):
        TrainResult.load(bad)


def test_a_file_inflating_beyond_the_limit_is_refused_before_decompressing(saved, tmp_path,
                                                                           monkeypatch):
    big = tmp_path / "bomb.npz"
    with zipfile.ZipFile(saved) as zin, zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
        zout.writestr("param_A.npy", b"\0" * 5_000_000)  # compresses to a few KiB
    assert big.stat().st_size < 100_000
    monkeypatch.setattr(limits, "MAX_MEMORY", 1_000_000)
    with pytest.raises(DamagedResultError, match=r"bomb\.npz: its entries declare 4\.\d+ MiB"):
        TrainResult.load(big)


def test_a_failed_save_leaves_no_temporary_file(saved, tmp_path, monkeypatch):
    res = TrainResult.load(saved)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        res.save(tmp_path / "out.npz")
    assert [p.name for p in tmp_path.iterdir()] == []


def test_temporaries_of_a_killed_save_are_removed_by_the_next_save(saved, tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = tmp_path / f".tmp-out.npz-{dead.stdout.strip()}-abc.npz"
    stale.write_bytes(b"half a file")
    TrainResult.load(saved).save(tmp_path / "out.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


def test_a_checkpoint_holding_another_run_is_not_overwritten(saved, tmp_path):
    other = tmp_path / "other.npz"
    other.write_bytes(saved.read_bytes())
    before = other.read_bytes()
    with pytest.raises(ValueError, match=r"other\.npz holds the results of another run .*'seed'"):
        train(_cfg(seed=2), checkpoint=other)
    assert other.read_bytes() == before
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("precious")
    with pytest.raises(ValueError, match="not a TrainResult of this run"):
        train(_cfg(), checkpoint=unrelated)
    assert unrelated.read_text() == "precious"


def test_a_checkpoint_of_the_same_run_is_continued(saved, tmp_path):
    mine = tmp_path / "mine.npz"
    mine.write_bytes(saved.read_bytes())
    res = train(_cfg(steps=8), resume=mine, checkpoint=mine)
    assert TrainResult.load(mine).steps_done == res.steps_done == 8


def test_evaluate_refuses_a_huge_batch(saved):
    _refused(TrainResult.load(saved).evaluate, 10**15, match=r"evaluate with batch_size = 10+")
