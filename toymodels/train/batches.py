"""The trainer's data: sparse uniform batches as a function of ``(seed, step)`` only.

Every entry of a batch follows the law of Section 2.1 of the notes: independently of the
others, feature ``i`` of instance ``k`` is ``0`` with probability ``S_ki`` and uniform on
``[0, 1)`` otherwise. One uniform ``u`` per entry gives it as

    ``x = max(u − S, 0) / (1 − S)``,

since ``P(u > S) = 1 − S`` and, given ``u > S``, ``(u − S)/(1 − S)`` is uniform on ``[0, 1)``.

How ``u`` is made (the speed of the CPU trainer rests on it): PCG64 produces 64-bit words; each
word is split into two 32-bit halves, low half first, and the low 23 bits of a half become the
mantissa of a float32 ``f = 1 + u`` in ``[1, 2)`` (exponent bits set by a bitwise or). So ``u``
is uniform on the grid ``{0, 2⁻²³, …, 1 − 2⁻²³}``, and ``x = max(f − (1 + S), 0) / (1 − S)``:
``f`` and ``1 + S`` both lie in ``[1, 2)``, so the subtraction is exact (Sterbenz). This costs
about 1.0 ns per entry on one core, against 1.45 ns for numpy's ``random(dtype=float32)``
followed by the same transform.

The entries of one *chunk* of ``K`` consecutive steps come from one PCG64 stream, seeded from
``(seed, chunk)``, in the order ``(step, instance, feature, sample)``. Three ways of drawing
them give the very same numbers: :class:`CpuBatches` (whole chunks, optionally in a background
thread), :class:`BlockBatches` (each worker thread draws its own instances of the current step,
jumping into the chunk's stream with ``PCG64.advance``) and — with a different stream, torch's
— :class:`DeviceBatches` on an accelerator.
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import torch

from toymodels._checks import check_int
from toymodels.tied.data import inverse_density

__all__ = ["chunk_steps", "chunk_seed", "CpuBatches", "BlockBatches", "DeviceBatches"]

#: bits of a 32-bit half kept as the mantissa, and the exponent bits of a float32 in [1, 2)
_MANTISSA, _ONE = 0x007FFFFF, 0x3F800000
#: entries converted per call to the generator (even, so that later pieces start on a word)
_PIECE = 1 << 18


def chunk_steps(cfg, device_type: str) -> int:
    """Steps of data per chunk (per seeding of the generator) for the config ``cfg``: about
    16 MiB of float32 on the CPU, 64 MiB on an accelerator, at most 64 steps."""
    if device_type not in ("cpu", "cuda", "mps", "xpu"):
        raise ValueError(f"device_type must be a device type such as 'cpu' or 'cuda', "
                         f"got {device_type!r}")
    per_step = cfg.n * cfg.batch_size * cfg.D
    target = (1 << 22) if device_type == "cpu" else (1 << 24)
    return int(max(1, min(64, target // per_step)))


def chunk_seed(seed: int, chunk: int) -> int:
    """The seed of data chunk ``chunk``: data are a function of (seed, step) only, so a resumed
    run draws exactly the batches the uninterrupted run would have drawn."""
    seed = check_int(seed, "seed", minimum=0)
    chunk = check_int(chunk, "chunk", minimum=0)
    return int(np.random.SeedSequence([seed, 0x7A7A, chunk]).generate_state(2, np.uint64)[0])


def fill_unit_floats(bits: np.random.PCG64, out: torch.Tensor, skip_half: bool = False) -> None:
    """Fill the contiguous float32 tensor ``out`` with ``1 + u`` (``u`` uniform on the 2⁻²³
    grid of ``[0, 1)``), from the next 32-bit halves of ``bits``' output, low half first.

    ``skip_half``: the stream's next half was used already (an odd offset); start after it.
    """
    flat = out.view(-1).view(torch.int32)
    m, pos, skip = flat.numel(), 0, int(skip_half)
    while pos < m:
        take = min(_PIECE - skip, m - pos)
        raw = torch.from_numpy(bits.random_raw((take + skip + 1) // 2).view(np.int32))
        dst = flat[pos:pos + take]
        torch.bitwise_and(raw[skip:skip + take], _MANTISSA, out=dst).bitwise_or_(_ONE)
        pos, skip = pos + take, 0


class _Law:
    """``x = max(f − (1 + S), 0) / (1 − S)`` in place, for ``f = 1 + u`` of shape ``(…, n, D, T)``."""

    def __init__(self, S: np.ndarray, n: int, D: int, device=None):
        S = np.broadcast_to(np.asarray(S, dtype=np.float64), (n, D))
        scale = inverse_density(S)
        e = dict(dtype=torch.float32, device=device)
        self.shift = torch.as_tensor((1.0 + S).astype(np.float32), **e)[:, :, None].contiguous()
        self.scale = torch.as_tensor(scale.astype(np.float32), **e)[:, :, None].contiguous()
        self.sparse = bool(np.any(S > 0))

    def apply(self, f: torch.Tensor, a: int = 0, b: int | None = None) -> None:
        """Map ``f`` (instances ``[a, b)`` along its third-from-last axis) to the sparse law."""
        shift, scale = self.shift[a:b], self.scale[a:b]
        f.sub_(shift)
        if self.sparse:
            f.clamp_(min=0).mul_(scale)


class CpuBatches:
    """Batches ``(n, D, T)`` drawn a chunk at a time, in a background thread when ``threaded``.

    The thread fills chunks of ``K`` steps into a ring of three preallocated buffers while the
    main thread trains on the previous chunk (numpy and torch release the GIL while they fill
    them).
    """

    def __init__(self, cfg, start: int, K: int, *, threaded: bool = True):
        n, T, D = cfg.n, cfg.batch_size, cfg.D
        self.K, self.seed, self.steps, self.n_chunks = K, cfg.seed, cfg.steps, -(-cfg.steps // K)
        self.law = _Law(cfg.S_vector, n, D)
        self.tensors = [torch.empty((K, n, D, T), dtype=torch.float32)
                        for _ in range(3 if threaded else 1)]
        self.chunk, self.offset = start // K, start % K
        self.threaded = threaded
        self.current = None
        if threaded:
            self.free: queue.Queue = queue.Queue()
            self.full: queue.Queue = queue.Queue()
            for i in range(len(self.tensors)):
                self.free.put(i)
            self.error = None
            self.thread = threading.Thread(target=self._work, args=(self.chunk,), daemon=True,
                                           name="toymodels-batches")
            self.thread.start()

    def _fill(self, i: int, chunk: int) -> None:
        # the last chunk is drawn only as far as needed: a prefix of the same stream
        f = self.tensors[i][: min(self.K, self.steps - chunk * self.K)]
        fill_unit_floats(np.random.PCG64(chunk_seed(self.seed, chunk)), f)
        self.law.apply(f)

    def _work(self, chunk: int) -> None:
        torch.set_num_threads(1)  # OpenMP's thread count is per OS thread: set it here too
        try:
            while chunk < self.n_chunks:
                i = self.free.get()
                if i is None:
                    return
                self._fill(i, chunk)
                self.full.put(i)
                chunk += 1
        except BaseException as err:  # pragma: no cover - surfaced in the main thread
            self.error = err
            self.full.put(None)

    def next(self) -> torch.Tensor:
        """The batch of the next step, ``(n, D, T)``."""
        if self.current is None or self.offset == self.K:
            if self.current is not None:
                self.offset = 0
                self.chunk += 1
                if self.threaded:
                    self.free.put(self.current)
            if self.threaded:
                i = self.full.get()
                if i is None:  # pragma: no cover
                    raise RuntimeError("the data thread failed") from self.error
            else:
                i = 0
                self._fill(0, self.chunk)
            self.current = i
        x = self.tensors[self.current][self.offset]
        self.offset += 1
        return x

    def close(self) -> None:
        if self.threaded and self.thread.is_alive():
            self.free.put(None)  # the thread waits on `free` (never on `full`, unbounded)
            self.thread.join(timeout=5)


class BlockBatches:
    """The batches of :class:`CpuBatches` (the very same numbers), drawn by the gradient workers.

    With several workers each one draws, for each of its sub-blocks of instances, that part of
    the current batch just before computing its gradient (:meth:`draw`): every core then does
    the same mix of work (its share of the products and of the random numbers) with no third
    thread competing for the cores, and the numbers are used while they are still in the
    cache. Instances ``[a, b)`` of step ``t`` start ``(k n + a) D T`` entries into chunk
    ``t // K`` (``k = t mod K``): half as many 64-bit words, reached with ``PCG64.advance``.
    """

    def __init__(self, cfg, start: int, K: int):
        n, T, D = cfg.n, cfg.batch_size, cfg.D
        self.n, self.DT, self.K, self.seed = n, D * T, K, cfg.seed
        self.law = _Law(cfg.S_vector, n, D)
        self.tensor = torch.empty((n, D, T), dtype=torch.float32)
        self.t, self.k, self.chunk, self.state = start - 1, 0, None, None
        self.local = threading.local()  # one bit generator per worker thread, reseeded by state

    def draw(self, a: int, b: int) -> None:
        """Draw instances ``[a, b)`` of the batch of the step :meth:`next` announced last."""
        offset = (self.k * self.n + int(a)) * self.DT
        bits = getattr(self.local, "bits", None)
        if bits is None:
            bits = self.local.bits = np.random.PCG64()
        bits.state = self.state  # the start of the chunk's stream (cheaper than seeding)
        bits.advance(offset // 2)
        f = self.tensor[a:b]
        fill_unit_floats(bits, f, skip_half=bool(offset % 2))
        self.law.apply(f, a, b)

    def next(self) -> torch.Tensor:
        """The buffer of the next step's batch, still to be filled by :meth:`draw`."""
        self.t += 1
        chunk, self.k = divmod(self.t, self.K)
        if chunk != self.chunk:
            self.chunk, self.state = chunk, np.random.PCG64(chunk_seed(self.seed, chunk)).state
        return self.tensor

    def close(self) -> None:
        pass


class DeviceBatches:
    """Batches drawn with a seeded torch generator on the training device (another stream)."""

    def __init__(self, cfg, start: int, K: int, device: torch.device):
        n, T, D = cfg.n, cfg.batch_size, cfg.D
        self.K, self.seed = K, cfg.seed
        self.buf = torch.empty((K, n, D, T), dtype=torch.float32, device=device)
        self.gen = torch.Generator(device=device)
        self.law = _Law(cfg.S_vector, n, D, device=device)
        self.chunk, self.offset, self.filled = start // K, start % K, False

    def next(self) -> torch.Tensor:
        if not self.filled or self.offset == self.K:
            if self.filled:
                self.chunk, self.offset = self.chunk + 1, 0
            self.gen.manual_seed(chunk_seed(self.seed, self.chunk))  # host-side, no sync
            torch.rand(self.buf.shape, generator=self.gen, out=self.buf).add_(1.0)
            self.law.apply(self.buf)
            self.filled = True
        x = self.buf[self.offset]
        self.offset += 1
        return x

    def close(self) -> None:
        pass
