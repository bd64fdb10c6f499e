"""The restricted loss with its skeleton weights computed once vs at every evaluation.

``relu.minimize.minimize_restricted_loss`` computes the weights ``P(l active)``, ``P(only i)``,
``P(only i, j)`` once per call (they depend on ``S`` only); before issue 12 it recomputed them in
numpy at every Adam step. This prints, for a few sizes, the ratio of the time of one loss and
gradient evaluation with the weights recomputed (the old way, ``integrals._restricted``) to the
time with them precomputed (``integrals._restricted_weighted``), both measured in this process,
and checks the two give bitwise the same loss. Ratios were taken on a shared machine: expect noise.

    python benchmarks/bench_restricted_loss.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from toymodels.relu.integrals import _restricted, _restricted_weighted, _skeleton_weights


def _time(f, repeat: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeat):
            f()
        best = min(best, time.perf_counter() - t0)
    return best / repeat


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'n':>3s} {'d':>2s} {'D':>3s} {'l_max':>5s}  recomputed / precomputed")
    for n, d, D, l_max in [(8, 2, 5, 1), (8, 2, 20, 1), (8, 2, 6, 2), (4, 3, 20, 2)]:
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
        repeat = 20
        ratio = _time(old, repeat) / _time(new, repeat)
        print(f"{n:3d} {d:2d} {D:3d} {l_max:5d}  {ratio:6.2f}x")


if __name__ == "__main__":
    main()
