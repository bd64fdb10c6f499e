"""The restricted loss with its skeleton weights computed once vs at every evaluation.

``relu.minimize.minimize_restricted_loss`` computes the weights ``P(l active)``, ``P(only i)``,
``P(only i, j)`` once per call (they depend on ``S`` only); before issue 12 it recomputed them in
numpy at every Adam step. This prints, for a few sizes, the ratio of the time of one loss and
gradient evaluation with the weights recomputed (the old way, ``integrals._restricted``) to the
time with them precomputed (``integrals._restricted_weighted``), both measured in this process,
and checks the two give bitwise the same loss. Ratios were taken on a shared machine: expect noise.

    python benchmarks/bench_restricted_loss.py            # four sizes
    python benchmarks/bench_restricted_loss.py --quick    # one small size, fewer repeats
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from toymodels.relu.integrals import _restricted, _restricted_weighted, _skeleton_weights


def _time(f, repeat: int, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeat):
            f()
        best = min(best, time.perf_counter() - t0)
    return best / repeat


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: one small size")
    quick = ap.parse_args(argv).quick
    rng = np.random.default_rng(0)
    print(f"{'n':>3s} {'d':>2s} {'D':>3s} {'l_max':>5s}  recomputed / precomputed")
    sizes = [(8, 2, 5, 2)] if quick else [(8, 2, 5, 1), (8, 2, 20, 1), (8, 2, 6, 2), (4, 3, 20, 2)]
    for n, d, D, l_max in sizes:
        W = torch.tensor(rng.normal(size=(n, d, D)), requires_grad=True)
        b = torch.tensor(0.1 * rng.normal(size=(n, D)), requires_grad=True)
        ω = torch.ones(n, D, dtype=torch.float64)
        S = torch.full((n, D), 0.9, dtype=torch.float64)
        weights = _skeleton_weights(S, l_max)

        def old(W=W, b=b, ω=ω, S=S, l_max=l_max):
            _restricted(W, b, ω, S, l_max).sum().backward()

        def new(W=W, b=b, ω=ω, weights=weights, l_max=l_max):
            _restricted_weighted(W, b, ω, weights, l_max).sum().backward()

        with torch.no_grad():
            assert torch.equal(_restricted(W, b, ω, S, l_max),
                               _restricted_weighted(W, b, ω, weights, l_max))
        repeat, rounds = (2, 1) if quick else (20, 3)
        ratio = _time(old, repeat, rounds) / _time(new, repeat, rounds)
        print(f"{n:3d} {d:2d} {D:3d} {l_max:5d}  {ratio:6.2f}x")


if __name__ == "__main__":
    main()
