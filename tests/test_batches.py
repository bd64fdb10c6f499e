"""The trainer's data stream (toymodels.train.batches): the bits, the law, and the three samplers."""


import numpy as np
import pytest
import torch

from toymodels.train import batches as B
from toymodels.train.batches import BlockBatches, CpuBatches
from toymodels.train.engine import TrainConfig, train

SMALL = dict(D=5, d=2, n=3, batch_size=64, steps=40, log_every=10,
             progress=False)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**SMALL, **kw})


def expected_unit_floats(seed: int, m: int, skip: int = 0) -> np.ndarray:
    """1 + u from the documented recipe, written out with numpy: the 32-bit halves of PCG64's
    64-bit words, low half first, keep their low 23 bits as the mantissa of a float in [1, 2)."""
    halves = np.random.PCG64(seed).random_raw((m + skip + 1) // 2).view(np.uint32)
    bits = (halves[skip:skip + m] & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000)
    return bits.view(np.float32)


@pytest.mark.parametrize("m", [1, 2, 7, 64, 1001])
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("piece", [4, 6, 1 << 18])
def test_unit_floats_follow_the_documented_bits(monkeypatch, m, skip, piece):
    monkeypatch.setattr(B, "_PIECE", piece)  # several pieces, and an odd start within them
    out = torch.empty(m)
    B.fill_unit_floats(np.random.PCG64(3), out, skip_half=skip)
    np.testing.assert_array_equal(out.numpy(), expected_unit_floats(3, m, int(skip)))
    assert out.min() >= 1 and out.max() < 2


def test_unit_floats_are_uniform_on_the_grid():
    out = torch.empty(1 << 20)
    B.fill_unit_floats(np.random.PCG64(0), out)
    u = out.numpy().astype(np.float64) - 1
    k = u * 2**23
    assert np.array_equal(k, np.round(k))  # on the 2^-23 grid
    counts = np.histogram(u, bins=16, range=(0, 1))[0]
    e = len(u) / 16
    chi2 = ((counts - e) ** 2 / e).sum()
    assert chi2 < 45  # 15 degrees of freedom: P(chi2 > 45) < 1e-4
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / len(u))


def config(**kw) -> TrainConfig:
    base = dict(model="relu", D=40, d=3, n=4, batch_size=2048,
                S=np.array([0.0, 0.5, 0.9, 0.99])[:, None], steps=3, log_every=1,
                progress=False)
    base.update(kw)
    return TrainConfig(**base)


def check_law(x: np.ndarray, S: np.ndarray) -> None:
    """Each instance's entries (n, D, T): zero with probability S, else uniform on [0, 1)."""
    for k, s in enumerate(S):
        xk = x[k].ravel().astype(np.float64)
        zero = np.mean(xk == 0)
        assert abs(zero - s) < 5 * np.sqrt(s * (1 - s) / xk.size) + 1e-6, (k, zero, s)
        nz = xk[xk > 0]
        assert nz.max() < 1
        assert abs(nz.mean() - 0.5) < 5 * np.sqrt(1 / 12 / nz.size), (k, nz.mean())
        assert abs(np.mean(nz < 0.25) - 0.25) < 5 * np.sqrt(0.25 * 0.75 / nz.size)


@pytest.mark.parametrize("sampler", ["cpu", "block", "device"])
def test_each_sampler_draws_the_sparse_uniform_law(sampler):
    c = config()
    S = c.S_vector[:, 0]
    K = B.chunk_steps(c, "cpu")
    if sampler == "cpu":
        s = B.CpuBatches(c, 0, K, threaded=True)
        xs = [s.next().numpy().copy() for _ in range(c.steps)]
    elif sampler == "block":
        s = B.BlockBatches(c, 0, K)
        xs = []
        for _ in range(c.steps):
            x = s.next()
            s.draw(0, 2)
            s.draw(2, c.n)
            xs.append(x.numpy().copy())
    else:
        s = B.DeviceBatches(c, 0, K, torch.device("cpu"))
        xs = [s.next().numpy().copy() for _ in range(c.steps)]
    s.close()
    assert xs[0].shape == (c.n, c.D, c.batch_size)
    assert not np.array_equal(xs[0], xs[1])  # a fresh batch every step
    check_law(np.concatenate(xs, axis=2), S)


def test_batches_depend_on_seed_and_step_only():
    c = config(steps=5)
    K = 2
    a = B.CpuBatches(c, 0, K, threaded=False)
    full = [a.next().numpy().copy() for _ in range(5)]
    b = B.CpuBatches(c, 3, K, threaded=False)  # a resumed run, from step 3 (mid-chunk)
    np.testing.assert_array_equal(b.next().numpy(), full[3])
    np.testing.assert_array_equal(b.next().numpy(), full[4])
    other = B.CpuBatches(config(steps=5, seed=1), 0, K, threaded=False)
    assert not np.array_equal(other.next().numpy(), full[0])


@pytest.mark.parametrize("kw", [dict(D=7, batch_size=33, n=5),  # odd D T
                                dict(D=5, batch_size=64, n=4)])
def test_batches_drawn_by_the_workers_are_the_batches_of_the_data_thread(kw):
    """With several workers and prefetching, each worker draws its instances of the batch
    (PCG64.advance into the chunk's stream): exactly the numbers of the data thread, whatever
    the chunk length, the block edges, the parity of the offsets and the first step."""
    c = cfg(S=np.linspace(0, 0.95, kw["n"])[:, None], **kw)
    for K, start in [(1, 0), (3, 0), (3, 4)]:
        b = BlockBatches(c, start, K)
        ref = CpuBatches(c, start, K, threaded=False)
        for _ in range(start, c.steps):
            x = b.next()
            for a, e in [(3, c.n), (0, 1), (1, 3)]:
                b.draw(a, e)
            np.testing.assert_array_equal(x.numpy(), ref.next().numpy())
    # the trainer: same result with the workers drawing and with no prefetching at all
    runs = [train(c, workers=2, prefetch=True), train(c, workers=2, prefetch=False)]
    for k in runs[0].params:
        np.testing.assert_array_equal(runs[0].params[k], runs[1].params[k])
    np.testing.assert_array_equal(runs[0].loss_history, runs[1].loss_history)
