"""What a run needs from the machine (toymodels.train.resources): the memory estimate, refusing a
config that does not fit, and the cores this process may use."""

from __future__ import annotations

import os

import pytest

from toymodels.train import engine as tr
from toymodels.train.engine import TrainConfig, train
from toymodels.train.resources import available_cpus

SMALL = dict(D=5, d=2, n=3, batch_size=64, steps=40, log_every=10,
             progress=False)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**SMALL, **kw})


def test_a_config_that_does_not_fit_is_refused_with_the_estimate():
    big = cfg(n=100_000, batch_size=100_000, D=10_000)
    need = tr.estimate_memory(big)
    assert need > 4e14
    msg = r"needs about 1.78 PiB on cpu but only [\d.]+ [GMT]iB is available"
    with pytest.raises(ValueError, match=msg):
        train(big)


def test_memory_estimate_is_close_to_what_is_allocated():
    c = cfg(n=20, D=200, d=20, batch_size=1024)
    need = tr.estimate_memory(c)
    per_step = 20 * 1024 * 200 * 4
    assert 3 * per_step < need < 20 * per_step


def test_available_cpus_reads_affinity_and_cgroup_quota(tmp_path, monkeypatch):
    assert 1 <= available_cpus() <= (os.cpu_count() or 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    empty = tmp_path / "none"
    empty.mkdir()
    assert available_cpus(str(empty)) == 4
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")  # 1.5 cores: two threads may run
    assert available_cpus(str(v2)) == 2
    (v2 / "cpu.max").write_text("max 100000\n")
    assert available_cpus(str(v2)) == 4
    v1 = tmp_path / "v1" / "cpu"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("100000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert available_cpus(str(tmp_path / "v1")) == 1


def test_available_cpus_survives_a_malformed_cgroup(tmp_path):
    (tmp_path / "cpu.max").write_text("100000 0\n")
    assert available_cpus(str(tmp_path)) >= 1
    (tmp_path / "cpu.max").write_text("-5 100000\n")
    assert available_cpus(str(tmp_path)) >= 1
