# %% [markdown]
# (sec-ch4-basins-exact)=
# # Basins of the exact loss
#
# The basin studies of {ref}`sec-ch4-basins` train on sampled batches: every step sees 32 fresh
# data points, and a run's end point carries sampling noise. This page repeats the 5→2 study
# on the *exact* loss on $l\le2$ active features, $P_0L_0+P_1L_1+P_2L_2$ (Chapter 3), with a
# deterministic optimiser whose end points are certified, and compares the two.
#
# **What you will learn.**
# - How often the exact-loss path ends in the pentagon and in the square, with certified end
#   points (gradient norm below $10^{-10}$, Hessian eigenvalues).
# - How they compare with the sampled trainer's, and why a basin of attraction belongs to the
#   loss *and* to the optimiser.
# - What the "irregular" triangles of the exact path are: one configuration, three vertices of a
#   square, a local minimum above the regular triangle.
#
# **What you need.** {ref}`sec-ch4-basins` (basin studies, Wilson intervals {eq}`eq-wilson`)
# and the k-gon critical points of this chapter.

# %% tags=["remove-cell"]
# Colab: install the book's package when it is missing (hidden in the rendered book).
import importlib.util, subprocess, sys
REPOSITORY = "{{ repository.url }}"  # the book's repository, filled in by .ci/repository.py
if "google.colab" in sys.modules and importlib.util.find_spec("toymodels") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{REPOSITORY}"], check=True)

# %%
import toymodels as tm

device = tm.setup(seed=0)
print(f"toymodels {tm.__version__} on {device.type}")

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from myst_nb import glue

warnings.simplefilter("ignore", tm.RootWarning)

# %% [markdown]
# ## Two optimisers, one loss
#
# `tm.exact_basin_study(D, S, n)` starts from $n$ seeded initialisations drawn like the
# trainer's, takes 100 Adam steps (cosine schedule from learning rate 0.1) on the exact
# gradient of the $l\le2$ loss, then Newton steps until the gradient norm is below $10^{-10}$,
# and labels the end points as `tm.basin_study` does. The same 1000 starts serve each
# sparsity. Beside it, the sampled trainer of {ref}`sec-ch4-basins` (batch 32, 1500 steps,
# learning rate 0.01), 1000 runs per sparsity.

# %%
S3 = np.array([0.7, 0.9, 0.99])
exact = tm.exact_basin_study(5, S3, 1000, steps=100, lr=0.1, seed=0)
sampled = tm.basin_study(5, 2, S3, 1000, steps=1500, batch_size=32, lr=1e-2, seed=0)
print(f"exact path: |grad| < 1e-10 for {np.mean(exact.grad_norm < 1e-10):.1%} of the end points,"
      f" smallest Hessian eigenvalue >= -1e-8 for {np.mean(exact.min_eigenvalue >= -1e-8):.1%}")
assert np.mean(exact.grad_norm < 1e-10) > 0.99

# %%
print("   S    path      pentagon [95% interval]     square [95% interval]")
shares = {}
for j, S in enumerate(S3):
    for name, st in (("exact", exact), ("sampled", sampled)):
        tab = st.table(j)
        shares[name, j] = {lab: tab.get(lab) for lab in ("pentagon", "square")}
        pe, sq = shares[name, j]["pentagon"], shares[name, j]["square"]
        print(f"{S:5.2f}   {name:8s}  {pe.p:.3f} [{pe.lo:.3f}, {pe.hi:.3f}]     "
              f"{sq.p:.3f} [{sq.lo:.3f}, {sq.hi:.3f}]")

# %% mystnb={"figure": {"caption": "Share of runs that end in the pentagon (left bar of each pair) and in the square, on the exact l \u2264 2 loss (exact path: Adam with learning rate 0.1, then Newton) and with the sampled trainer (batch 32, learning rate 0.01), 1000 runs each; the lines are 95% Wilson intervals.", "name": "fig-basins-exact"}, "image": {"alt": "Grouped bars at sparsities 0.7, 0.9 and 0.99. At each sparsity four bars with error lines: pentagon and square shares for the exact path and for the sampled trainer; at 0.9 the two paths' bars have nearly the same heights, the pentagon near 0.9 and the square near 0.1; at 0.7 the exact path's pentagon bar is near 0.45 and the sampled trainer's nearly zero."}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(4.4, 3.4))
w = 0.2
for i, (name, lab, colour, hatch) in enumerate([("exact", "pentagon", "C0", ""),
                                                 ("sampled", "pentagon", "C0", "//"),
                                                 ("exact", "square", "C1", ""),
                                                 ("sampled", "square", "C1", "//")]):
    x = np.arange(len(S3)) + (i - 1.5) * w
    est = [shares[name, j][lab] for j in range(len(S3))]
    ax.bar(x, [e.p for e in est], w, color=colour, hatch=hatch, edgecolor="k", lw=0.5,
           label=f"{lab}, {name}")
    ax.errorbar(x, [e.p for e in est], yerr=[[e.p - e.lo for e in est], [e.hi - e.p for e in est]],
                fmt="none", color="k", lw=1)
ax.set_xticks(range(len(S3)), [f"{S:g}" for S in S3], fontsize=11)
ax.set_xlabel("sparsity $S$", fontsize=11)
ax.set_ylabel("share of runs", fontsize=11)
ax.tick_params(labelsize=11)
ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=11)
plt.show()

# %%
def z_score(a, b):
    """Two-proportion z statistic of two basin estimates (pooled standard error)."""
    pool = (a.count + b.count) / (a.n + b.n)
    return (a.p - b.p) / np.sqrt(pool * (1 - pool) * (1 / a.n + 1 / b.n))


j9 = 1
z = {(j, lab): z_score(shares["exact", j][lab], shares["sampled", j][lab])
     for j in range(len(S3)) for lab in ("pentagon", "square")}
for j, S in enumerate(S3):
    print(f"S = {S:4.2f}: z (exact - sampled) pentagon {z[j, 'pentagon']:+.1f}, "
          f"square {z[j, 'square']:+.1f}")
differ = [f"{S3[j]:g}" for j in range(len(S3))
          if max(abs(z[j, "pentagon"]), abs(z[j, "square"])) > 4]
assert abs(z[j9, "pentagon"]) < 4 and abs(z[j9, "square"]) < 4  # S = 0.9: one probability
ex9, sa9 = shares["exact", j9], shares["sampled", j9]
for key, e in (("ex9pe", ex9["pentagon"]), ("sa9pe", sa9["pentagon"]), ("ex9sq", ex9["square"]),
               ("sa9sq", sa9["square"])):
    glue(key, float(e.p), display=False)
    glue(key + "lo", float(e.lo), display=False)
    glue(key + "hi", float(e.hi), display=False)
glue("differ_S", ", ".join(differ) if differ else "none of them", display=False)
ex7, sa7 = shares["exact", 0]["pentagon"], shares["sampled", 0]["pentagon"]
assert ex7.lo > sa7.hi + 0.2  # S = 0.7: the exact path finds the pentagon far more often
glue("ex7pe", float(ex7.p), display=False)
glue("sa7pe", float(sa7.p), display=False)

# %% [markdown]
# At $S=0.9$ the exact path ends in the pentagon with probability {glue:text}`ex9pe:.3f`
# ({glue:text}`ex9pelo:.3f`–{glue:text}`ex9pehi:.3f`) and in the square with
# {glue:text}`ex9sq:.3f` ({glue:text}`ex9sqlo:.3f`–{glue:text}`ex9sqhi:.3f`); the sampled
# trainer gives {glue:text}`sa9pe:.3f` ({glue:text}`sa9pelo:.3f`–{glue:text}`sa9pehi:.3f`) and
# {glue:text}`sa9sq:.3f` ({glue:text}`sa9sqlo:.3f`–{glue:text}`sa9sqhi:.3f`): within sampling
# error (two-proportion $|z|<4$) the same probabilities, although the two descents share
# neither the step size, nor the schedule's length (0.1 for 100 steps against 0.01 for 1500),
# nor the gradient noise. The sparsities of {numref}`fig-basins-exact` at which the two paths'
# shares do differ by more than four standard errors: {glue:text}`differ_S`. The largest
# difference is at $S=0.7$, where the square has the lower loss: the exact path ends in the
# pentagon in {glue:text}`ex7pe:.3f` of the runs, the sampled trainer in
# {glue:text}`sa7pe:.3f`.
#
# Both paths minimise the same loss from the same distribution of starts, so wherever their
# shares differ the optimiser is the cause: a basin of attraction is a set of starting points
# *of a given descent*, a property of the loss together with the optimiser. The benchmark
# `benchmarks/bench_basins.py` runs the sampled trainer with batches of 1024 instead of 32
# against the same exact path; comparing its table with this one is a cheap way to see how
# the gradient noise moves the shares (it takes longer than a page may).
#
# ## What are the irregular triangles?
#
# A few end points of the exact path are three features at unequal angles
# (`tm.polygon_label` calls them "irregular 3"). Every one of them at $S=0.9$ is the same
# configuration: an antipodal pair and a third feature at right angles to it, that is, three
# vertices of a square, with the other two features dead (a negligible weight and a negative
# bias, so that their ReLU never fires). The basin studies label it `"three of a square"`.

# %%
sel = (exact.setting == j9) & (exact.labels == "three of a square")
irr9 = int(np.sum((exact.setting == j9) & np.char.startswith(exact.labels.astype(str), "irregular")))
W3, b3, L3 = exact.W[sel], exact.b[sel], exact.loss[sel]
norms = np.linalg.norm(W3, axis=1)  # (runs, 5)
alive = norms > 0.5
assert sel.sum() >= 5 and irr9 == 0  # every three-feature end point is this family
assert np.all(alive.sum(1) == 3) and np.all(b3[~alive] < 0) and np.all(norms[~alive] < 1e-2)
assert np.all(np.abs(norms[alive] - 1) < 0.01)
assert np.ptp(L3) < 1e-9 * L3.mean()  # one loss: one family up to symmetry
assert np.all(exact.min_eigenvalue[sel] > -1e-8)  # certified: a local minimum, not a saddle
crit3 = {nd: tm.kgon_critical_point(5, 3, S=0.9, n_dead=nd).loss for nd in (0, 2)}
crit4 = tm.kgon_critical_point(5, 4, S=0.9).loss
assert crit4 < crit3[0] < L3[0] < crit3[2]
print(f"{sel.sum()} end points ({sel.sum() / 1000:.1%} of the runs at S = 0.9), loss "
      f"{L3.mean():.6f} (spread {np.ptp(L3):.1e}); smallest Hessian eigenvalue "
      f"{exact.min_eigenvalue[sel].min():.1e}")
print(f"square {crit4:.5f}; triangle with 2 dropped features alive {crit3[0]:.5f}, dead "
      f"{crit3[2]:.5f}")
glue("t3_share", float(sel.sum() / 1000), display=False)
glue("t3_loss", float(L3.mean()), display=False)
glue("tri0", float(crit3[0]), display=False)
glue("tri2", float(crit3[2]), display=False)
glue("sq_crit", float(crit4), display=False)

# %% [markdown]
# At $S=0.9$, {glue:text}`t3_share:.1%` of the exact runs end there, all at the same loss
# {glue:text}`t3_loss:.5f` with a positive semi-definite Hessian: a local minimum. It lies above
# the square ({glue:text}`sq_crit:.5f`) and above the regular triangle whose two dropped
# features stay alive ({glue:text}`tri0:.5f`), but below the regular triangle with two dead
# features ({glue:text}`tri2:.5f`): among configurations with two dead features it beats the
# triangle. Two dead features cannot come back (their gradient is zero), which is why a run
# that kills them early stays here.
#
# ## Summary
#
# - On the exact $l\le2$ loss, with a deterministic path and certified end points, the 5→2
#   basin probabilities at $S=0.9$ agree with those of the sampled trainer (batch 32) within
#   sampling error ({numref}`fig-basins-exact`), but at $S=0.7$ the exact path ends in the
#   pentagon in a large share of runs and the sampled trainer almost never does. Only the
#   optimiser differs: basins belong to a loss and an optimiser together.
# - The exact path's irregular triangles are one configuration, three vertices of a square with
#   two dead features, a local minimum between the regular triangles with dead and with live
#   dropped features.

# %% [markdown]
# ## Exercises
#
# ```{exercise} Three of a square by hand
# :label: ex-ch4e-hand
#
# Build the configuration by hand: $w_1=(1,0)$, $w_2=(0,1)$, $w_3=(-1,0)$, biases $0$, and
# two dead features with $w=0$, $b=-1$. Evaluate its exact $l\le2$ loss at $S=0.9$ with
# `tm.exact_loss` and compare with the trained value. Why does the value not depend on the
# dead features' bias, as long as it is negative?
# ```
#
# ````{solution-start} ex-ch4e-hand
# :class: dropdown
# ````
#
# A dead feature outputs $\operatorname{ReLU}(b)=0$ for every input, whatever $b<0$, so it
# costs its mean square $\mathbb E[x_i^2]$. The hand-built point has the trained loss to within
# a fraction of a percent; the trained one is a little lower, with its norms slightly above 1
# and its live biases slightly above 0.

# %%
W = np.zeros((1, 2, 5))
W[0, :, 0], W[0, :, 1], W[0, :, 2] = [1, 0], [0, 1], [-1, 0]
L_hand = [float(tm.exact_loss(W, np.array([[0, 0, 0, bd, bd]]), 1.0, 0.9)[0])
          for bd in (-1.0, -0.3)]
print(f"by hand: {L_hand[0]:.6f} (dead bias -1), {L_hand[1]:.6f} (dead bias -0.3); "
      f"trained: {L3.mean():.6f}")
assert np.isclose(L_hand[0], L_hand[1], rtol=1e-12) and 0 < L_hand[0] / L3.mean() - 1 < 1e-3

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Which end points are certified minima?
# :label: ex-ch4e-cert
#
# The exact study returns, for every end point, the smallest eigenvalue of its Hessian. For
# each label at $S=0.9$, what fraction of the end points have it above $-10^{-8}$ (a local
# minimum up to the symmetries' zero eigenvalues)?
# ```
#
# ````{solution-start} ex-ch4e-cert
# :class: dropdown
# ````
#
# The pentagons and squares are all minima; so are the three-of-a-square end points. The
# Newton finisher can also stop at a saddle (a point with gradient zero and a negative
# eigenvalue); any such end point shows up here with a fraction below 1.

# %%
at9 = exact.setting == j9
for lab in exact.table(j9):
    s_ = at9 & (exact.labels == lab)
    print(f"{lab:18s} {s_.sum():4d} runs, minima {np.mean(exact.min_eigenvalue[s_] > -1e-8):.3f}")
for lab in ("pentagon", "square", "three of a square"):
    assert np.all(exact.min_eigenvalue[at9 & (exact.labels == lab)] > -1e-8)

# %% [markdown]
# ````{solution-end}
# ````
