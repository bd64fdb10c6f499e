"""Benchmark: toymodels' trainer against the plain PyTorch loop a reader would write.

Run from the repository root:  python benchmarks/bench_train.py  [--quick] [--sweep]

For each config (the Toy Models intro config: 5 features, 2 hidden, 10 instances, batch 1024;
and a large one: 200 features, 20 hidden, 20 instances, batch 1024) it trains the ReLU output
model for the same number of steps with the same initialisation, optimiser (Adam, lr 1e-3,
constant) and data law, twice:

(a) baseline: einsum forward, autograd backward, ``torch.optim.Adam``, a fresh batch every
    step drawn as the Toy Models paper's code draws it (one ``torch.rand`` for the values, one
    for the active mask, ``torch.where``), the loss logged as a detached tensor at the logged
    steps;
(a') the same loop with a batch from ``toymodels.tied.data.sparse_uniform_torch`` instead (one
    ``torch.rand`` per entry: a faster baseline than a reader would write, reported alongside
    as the stricter comparison);
(b) ``toymodels.train.engine.train``.

It prints steps/s for each and their ratio, checks that both reach the same per-instance loss
within noise (the difference of the final losses, over the standard error estimated from the
spread of the logged losses), the achieved GFLOP/s (matrix products only) against the measured
GFLOP/s of a large float32 matmul on this machine, and the peak memory of each run.
``--sweep`` (on a GPU) also times 10,000 instances of the intro config.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time

import numpy as np
import torch

from toymodels.environment import choose_device
from toymodels.tied.data import sparse_uniform_torch
from toymodels.train.engine import TrainConfig, train


def intro_config(**kw) -> TrainConfig:
    n = 10
    return TrainConfig(model="relu", D=5, d=2, n=n,
                       S=(1 - 20.0 ** -np.linspace(0, 1, n))[:, None],
                       ω=0.9 ** np.arange(5), batch_size=1024, lr=1e-3, log_every=50,
                       progress=False, **kw)


def large_config(**kw) -> TrainConfig:
    n = 20
    return TrainConfig(model="relu", D=200, d=20, n=n,
                       S=(1 - 20.0 ** -np.linspace(0, 1, n))[:, None],
                       ω=0.99 ** np.arange(200), batch_size=1024, lr=1e-3,
                       log_every=10, progress=False, **kw)


# ------------------------------------------------------------------------------------------------
# (a) the baseline


def paper_batch(cfg: TrainConfig, gen: torch.Generator, p: torch.Tensor) -> torch.Tensor:
    """A batch ``(n, T, D)`` drawn the way the Toy Models paper's code draws it: uniform values,
    kept where a second uniform falls below the feature probability ``p = 1 − S``."""
    shape = (cfg.n, cfg.batch_size, cfg.D)
    values = torch.rand(shape, generator=gen, device=gen.device)
    active = torch.rand(shape, generator=gen, device=gen.device) <= p
    return torch.where(active, values, torch.zeros((), device=gen.device))


def baseline(cfg: TrainConfig, device, batch: str = "paper") -> dict:
    """The obvious loop: einsum + autograd + torch.optim.Adam, a fresh batch every step
    (``batch``: ``"paper"`` for :func:`paper_batch`, ``"toymodels"`` for
    ``toymodels.tied.data.sparse_uniform_torch``)."""
    init = cfg.initial_params()
    W = torch.nn.Parameter(init["W"].to(device, torch.float32))
    b = torch.nn.Parameter(init["b"].to(device, torch.float32))
    ω = torch.as_tensor(cfg.ω_vector, dtype=torch.float32, device=device)
    S = cfg.S_vector
    opt = torch.optim.Adam([W, b], lr=cfg.lr)
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    p = torch.as_tensor(1 - S, dtype=torch.float32, device=device)[:, None, :]  # (n, 1, D)
    logs, log_steps = [], set(cfg.log_steps.tolist())
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        if batch == "paper":
            x = paper_batch(cfg, gen, p)
        else:
            x = sparse_uniform_torch(cfg.batch_size, cfg.D, S,
                                     n=cfg.n, generator=gen)
        h = torch.einsum("ntD,ndD->ntd", x, W)
        out = torch.relu(torch.einsum("ntd,ndD->ntD", h, W) + b[:, None, :])
        loss = (ω[:, None, :] * (x - out) ** 2).sum(-1).mean(-1)  # (n,)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        if step in log_steps:
            logs.append(loss.detach().clone())
    hist = torch.stack(logs).cpu().numpy()  # the only synchronisation
    return {"seconds": time.perf_counter() - t0, "loss_history": hist}


# ------------------------------------------------------------------------------------------------
# measurement helpers


class PeakRSS:
    """Peak resident memory of this process above its level at entry.

    On Linux the kernel's high-water mark is reset at entry (``/proc/self/clear_refs``) and read
    at exit (``VmHWM``): exact, and nothing runs alongside the timed code. Where the reset is
    not allowed, a thread samples the resident size every 2 ms instead (which costs the timed
    code a few per cent).
    """

    def __enter__(self):
        self.base = self._status("VmRSS")
        self.sampling = False
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            self.sampling, self.peak = True, self.base
            self.stop = threading.Event()
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self

    @staticmethod
    def _status(key: str) -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {key} in /proc/self/status")

    def _run(self):
        while not self.stop.wait(0.002):
            self.peak = max(self.peak, self._status("VmRSS"))

    def __exit__(self, *exc):
        if self.sampling:
            self.stop.set()
            self.thread.join()
            self.peak = max(self.peak, self._status("VmRSS"))
        else:
            self.peak = self._status("VmHWM")
        self.delta = self.peak - self.base


def measure(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        out = fn()
        torch.cuda.synchronize()
        return out, torch.cuda.max_memory_allocated(device) - base
    _trim()
    with PeakRSS() as p:
        out = fn()
    return out, p.delta


def timed(fn, *args):
    """``fn(*args)`` and its wall time, set-up included (the baseline times its step loop only,
    which favours the baseline)."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _trim() -> None:
    """Give freed heap memory back to the OS, so that the next run's peak is its own."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def matmul_gflops(device, size: int = 1024, reps: int = 20) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    c = torch.empty(size, size, device=device)
    for _ in range(3):
        torch.mm(a, b, out=c)
    if device.type == "cuda":
        torch.cuda.synchronize()
    best = 0.0
    for _ in range(3):  # best of three: the machine may be shared
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=c)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * size**3 * reps / (time.perf_counter() - t) / 1e9)
    return best


def step_flops(cfg: TrainConfig) -> float:
    """Matrix-product FLOPs of one ReLU-model step: 2 forward and 3 backward products of
    ``2 n T d D`` each (the bias row adds a ``D`` to two of them)."""
    n, T, d, D = cfg.n, cfg.batch_size, cfg.d, cfg.D
    return 2.0 * n * T * D * (5 * d + 2)


def final_stats(hist: np.ndarray, log_steps: np.ndarray, steps: int):
    k = max(3, int((log_steps >= steps - max(1, steps // 5)).sum()))
    window = hist[-k:]
    return window.mean(0), window.std(0, ddof=1) / np.sqrt(window.shape[0])


def compare(name: str, cfg: TrainConfig, device, mm_gflops: float, rounds: int) -> dict:
    """``rounds`` rounds, each the two baselines then the trainer, back to back; a speed-up is
    the median over the rounds of trainer / baseline.

    On the CPU each baseline runs with torch's default number of threads and with one thread in
    the first round; the faster count is used in the later rounds.
    """
    threads = torch.get_num_threads()
    counts = sorted({threads, 1}, reverse=True) if device.type == "cpu" else [threads]
    kinds = {"paper": "baseline (paper's batch)", "toymodels": "baseline (one-draw batch)"}
    sps = {k: [] for k in [*kinds, "trainer"]}
    mem = dict.fromkeys(sps, 0)
    best_th = {}
    for r in range(rounds):
        line = []
        for kind in kinds:
            runs = {}
            for th in (counts if r == 0 else [best_th[kind]]):
                torch.set_num_threads(th)
                run, m = measure(lambda kind=kind: baseline(cfg, device, kind), device)
                runs[th] = cfg.steps / run["seconds"]
                mem[kind] = max(mem[kind], m)
                if kind == "paper":
                    paper_run = run
            torch.set_num_threads(threads)
            if r == 0:
                best_th[kind] = max(runs, key=runs.get)
            sps[kind].append(runs[best_th[kind]])
            line.append(f"{kind} " + ", ".join(
                f"{v:.1f} ({k} thread{'s' if k > 1 else ''})" for k, v in runs.items()))
        (res, seconds), m = measure(lambda: timed(train, cfg), device)
        sps["trainer"].append(cfg.steps / seconds)
        mem["trainer"] = max(mem["trainer"], m)
        print(f"  round {r + 1}: baselines " + "; ".join(line)
              + f"; trainer {sps['trainer'][-1]:.1f} steps/s", flush=True)
    steps = cfg.log_steps
    mb, sb = final_stats(paper_run["loss_history"], steps, cfg.steps)
    mr, sr = final_stats(res.loss_history, res.log_steps, cfg.steps)
    z = (mr - mb) / np.sqrt(sb**2 + sr**2 + 1e-30)
    rel = np.abs(mr - mb).sum() / mb.sum()
    same = bool(np.median(np.abs(z)) < 3 and rel < 0.05)
    fl = step_flops(cfg)
    for key, label in [*kinds.items(), ("trainer", "trainer")]:
        med = float(np.median(sps[key]))
        th = f"; {best_th[key]} thread{'s' if best_th[key] > 1 else ''}" if key in best_th else ""
        print(f"  {label:26s}: {med:9.1f} steps/s  {fl * med / 1e9:7.2f} GFLOP/s "
              f"({100 * fl * med / 1e9 / mm_gflops:4.1f}% of matmul)  peak mem "
              f"{mem[key] / 2**20:7.1f} MiB  (median of {rounds}{th})")
    speedups = {}
    for key, label in kinds.items():
        ratios = np.array(sps["trainer"]) / np.array(sps[key])
        speedups[key] = float(np.median(ratios))
        print(f"  speed-up over the {label}: {speedups[key]:.2f}x (median over rounds; range "
              f"{ratios.min():.2f}-{ratios.max():.2f}x)")
    print(f"  final loss (mean over instances): baseline {mb.mean():.5f}, trainer {mr.mean():.5f}"
          f"; per-instance |z| median {np.median(np.abs(z)):.2f}, max {np.abs(z).max():.2f}; "
          f"summed relative difference {100 * rel:.2f}% -> {'SAME' if same else 'DIFFERENT'}")
    return {"speedup": speedups["paper"], "same": same}


def sweep(device, n: int = 10_000, steps: int = 2_000) -> None:
    """10,000 instances of the intro config on one device: instance-steps per second."""
    cfg = intro_config(steps=steps, device=str(device))
    cfg = cfg.replace(n=n, S=(1 - 20.0 ** -np.linspace(0, 1, n))[:, None],
                      log_every=500)
    train(cfg.replace(steps=50))  # warm-up (allocator, kernels)
    res, mem = measure(lambda: train(cfg), device)
    rate = n * steps / res.elapsed_s
    print(f"\n== sweep: {n} instances of the intro config, {steps} steps on {device}: "
          f"{steps / res.elapsed_s:.1f} steps/s = {rate:.3g} instance-steps/s, "
          f"peak mem {mem / 2**20:.0f} MiB")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x fewer steps (a quick look)")
    ap.add_argument("--smoke", action="store_true",
                    help="50x fewer steps: does it run? (tests/test_benchmarks.py)")
    ap.add_argument("--sweep", action="store_true", help="also the 10,000-instance GPU sweep")
    ap.add_argument("--device", default=None)
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of (baseline, trainer) per config; the median ratio is quoted")
    args = ap.parse_args(argv)
    device = choose_device(args.device)
    torch.manual_seed(0)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"python {sys.version.split()[0]}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    mm = matmul_gflops(device)
    print(f"measured matmul (1024x1024 float32): {mm:.1f} GFLOP/s")
    q = 50 if args.smoke else 10 if args.quick else 1
    ok = True
    for name, cfg in [("intro", intro_config(steps=5000 // q, device=str(device))),
                      ("large", large_config(steps=400 // q, device=str(device)))]:
        print(f"\n== {name}: model relu, D={cfg.D}, d={cfg.d}, "
              f"n={cfg.n}, batch={cfg.batch_size}, {cfg.steps} steps, "
              f"Adam lr={cfg.lr:g}", flush=True)
        ok &= compare(name, cfg, device, mm, args.rounds)["same"]
    if args.sweep:
        if device.type == "cuda":
            sweep(device)
        else:
            print("\n== sweep: skipped, it needs a GPU (no CUDA device here)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
