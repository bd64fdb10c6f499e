"""Check (not a test): the chapters' calls of ``minimize_exact`` give the same end points
before and after a change of :mod:`toymodels.relu.exact_training`.

It repeats the calls of Chapter 3 (three random restarts, ``steps=1500, lr=0.02``; the twelve
pentagon orders, ``steps=0``; the square and the pentagon polished at ``S = 0.9``, ``steps=0``,
from the chapter's own trained models) and of Chapter 4 (six runs, ``steps=400, lr=0.02,
log_every=2``), with the chapters' arguments, and saves or compares the end points: labels
identical, losses within ``--rtol`` (default 1e-9) relative.

Run: ``python benchmarks/chapter_calls.py --save before.npz`` on the old code, then
``python benchmarks/chapter_calls.py --compare before.npz`` on the new one. ``--quick`` leaves
out the polished pair (which needs the chapter's 180 trained models, about a minute).
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np

import toymodels as tm


def _pentagon_orders():
    cyclic = [(0, *q) for q in itertools.permutations(range(1, 5)) if q[0] < q[-1]]
    W = np.zeros((len(cyclic), 2, 5))
    angle = 2 * np.pi * np.arange(5) / 5
    for j, order in enumerate(cyclic):
        W[j][:, list(order)] = 1.17 * np.stack([np.cos(angle), np.sin(angle)])
    return W, np.full((len(cyclic), 5), -0.28)


def _trained_pair(ω5):
    S_inst = np.repeat(np.array([0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99]), 20)
    cfg = tm.TrainConfig.sweep(S_inst, model="relu", D=5, d=2, ω=ω5, batch_size=1024,
                               steps=3000, lr=1e-2, schedule="cosine", seed=0)
    res = tm.train_models(cfg)
    shape = np.array([tm.polygon_label(W) for W in res.W])
    S_sq = 0.9 if np.any((S_inst == 0.9) & (shape == "square")) else 0.95
    pair = [int(np.flatnonzero((S_inst == S_sq) & (shape == name))[0])
            for name in ("square", "pentagon")]
    return res.W[pair], res.b[pair], S_sq


def calls(quick: bool):
    """The chapters' ``minimize_exact`` calls: name -> result."""
    tm.setup(seed=0)
    ω5 = 0.9 ** np.arange(5)
    out = {}
    W, b = tm.random_init(3, 2, 5, seed=0)
    out["ch3_restarts"] = tm.minimize_exact(W, b, ω5, 0.99, l_max=1, steps=1500, lr=0.02)
    W, b = _pentagon_orders()
    out["ch3_orders"] = tm.minimize_exact(W, b, ω5, 0.99, l_max=1, steps=0)
    if not quick:
        W, b, S_sq = _trained_pair(ω5)
        out["ch3_polished"] = tm.minimize_exact(W, b, ω5, S_sq, l_max=2, steps=0)
    W, b = tm.random_init(6, 2, 5, seed=1, scale=0.05)
    out["ch4_dynamics"] = tm.minimize_exact(W, b, 1.0, 0.9, l_max=2, steps=400, lr=0.02,
                                            log_every=2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--save", help="write the end points to this .npz file")
    ap.add_argument("--compare", help="compare with the end points in this .npz file")
    ap.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance of the losses")
    ap.add_argument("--quick", action="store_true", help="leave out the trained pair")
    a = ap.parse_args()
    res = calls(a.quick)
    arrays = {}
    for name, r in res.items():
        labels = [tm.polygon_label(W) for W in r.W]
        print(f"{name}: labels {labels}; max |grad| {r.grad_norm.max():.1e}; "
              f"Hessian eigenvalues: lowest {r.hessian_eigenvalues[:, 0].min():.2e}, "
              f"second lowest {r.hessian_eigenvalues[:, 1].min():.2e}")
        arrays[f"{name}_loss"] = r.loss
        arrays[f"{name}_labels"] = np.array(labels)
    if a.save:
        np.savez(a.save, **arrays)
        print(f"saved {len(res)} calls to {a.save}")
    if not a.compare:
        return 0
    ref, bad = np.load(a.compare), 0
    for name in res:
        if f"{name}_loss" not in ref:
            print(f"{name}: not in {a.compare}")
            continue
        same = np.array_equal(ref[f"{name}_labels"], arrays[f"{name}_labels"])
        rel = np.max(np.abs(arrays[f"{name}_loss"] / ref[f"{name}_loss"] - 1))
        ok = same and rel <= a.rtol
        bad += not ok
        print(f"{name}: labels {'identical' if same else 'DIFFER'}, losses within {rel:.1e} "
              f"relative: {'SAME' if ok else 'DIFFERENT'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
