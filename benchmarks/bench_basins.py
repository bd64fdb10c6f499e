"""Benchmark (not a test): basin statistics of 5 features in 2 dimensions, two ways.

* exact path: ``toymodels.relu.exact_training.minimize_exact`` on the exact loss on ``l ≤ 2``
  active features (``P_0L_0 + P_1L_1 + P_2L_2``, Chapter 3), full batch, deterministic, batched
  over all initialisations, Adam then a Newton finisher to ``‖∇L‖ < 1e-10``;
* sampled path (the baseline): the batched trainer ``toymodels.train.engine.train`` (Adam, batch 1024,
  fresh samples every step), which is how Chapter 3 trains.

Both label every end point with ``toymodels.relu.basins.classify`` and print the basin table; the
printed ratio is the exact path's time over the sampled path's time, measured in the same
process back to back. This machine is shared: absolute times are not comparable between runs,
the ratio is the figure to read.

Run: ``python benchmarks/bench_basins.py [--n 10000] [--S 0.9] [--steps 1500]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from toymodels.relu import basins
from toymodels.relu import exact_training as et
from toymodels.train.engine import TrainConfig, train


def exact(n: int, S: float, steps: int, seed: int):
    W0, b0 = et.random_init(n, 2, 5, seed=seed)
    t = time.perf_counter()
    res = et.minimize_exact(W0, b0, 1.0, S, l_max=2, steps=steps, lr=0.01)
    labels = [basins.classify(W) for W in res.W]
    return time.perf_counter() - t, labels, float(np.mean(res.converged))


def sampled(n: int, S: float, steps: int, seed: int):
    t = time.perf_counter()
    cfg = TrainConfig(model="relu", D=5, d=2, n=n, S=S,
                      ω=1.0, batch_size=1024, steps=steps, lr=0.01, schedule="cosine",
                      seed=seed, progress=False)
    res = train(cfg)
    labels = [basins.classify(W) for W in res.W]
    return time.perf_counter() - t, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="initialisations (default 10^4)")
    ap.add_argument("--S", type=float, default=0.9, help="sparsity")
    ap.add_argument("--steps", type=int, default=1500, help="Adam steps of both paths")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    t_s, lab_s = sampled(a.n, a.S, a.steps, a.seed)
    t_e, lab_e, conv = exact(a.n, a.S, a.steps, a.seed)
    print(f"5 -> 2, S = {a.S}, n = {a.n}, {a.steps} Adam steps (shared machine: read the ratio)")
    print(f"sampled trainer (batch 1024): {t_s:8.1f} s")
    print(f"exact path + Newton:          {t_e:8.1f} s   (|grad| < 1e-10 for {conv:.1%})")
    print(f"ratio exact / sampled:        {t_e / t_s:8.2f}")
    for name, lab in (("sampled", lab_s), ("exact", lab_e)):
        print(f"{name:8s}: " + "; ".join(str(e) for e in basins.basin_probabilities(lab).values()))


if __name__ == "__main__":
    main()
