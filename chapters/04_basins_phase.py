# %% [markdown]
# (sec-ch4-basins-phase)=
# # Basins across the 2→1 phase diagram
#
# Chapter 3 drew the phase diagram of two features in one hidden dimension: for each relative
# importance $r$ of feature 2 and density $1-S$, which closed-form candidate ("feature 1 only",
# "feature 2 only", "antipodal") has the lowest loss, with the boundary
# {eq}`eq-phase-boundary`. It also trained one or two runs per point. This page asks the
# question of {ref}`sec-ch4-basins` over the whole diagram: with what probability does a
# training run end at the lowest-loss candidate?
#
# **What you will learn.**
# - That above the boundary (dense data: one feature gets the dimension) training finds the
#   best candidate almost always, and below it (sparse data: superposition wins) it often does
#   not.
# - That the antipodal basin does not grow with the antipodal solution's advantage: in the
#   sparsest data, where superposition wins by the largest factor, fewer than half of the runs
#   find it.
#
# **What you need.** The 2→1 candidates and the boundary {eq}`eq-phase-boundary` of Chapter 3,
# and the basin studies and Wilson intervals {eq}`eq-wilson` of {ref}`sec-ch4-basins`.

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
import matplotlib.pyplot as plt
import numpy as np
from myst_nb import glue

# %% [markdown]
# ## One study over a 6 × 6 grid
#
# The grid is log-spaced as in Chapter 3's {numref}`fig-ch3-phase`: six relative importances
# $r\in[0.1,10]$ and six densities $1-S\in[0.01,1]$, with $\omega=(1,r)$. Each of the 36 points
# gets 1000 independent runs of the batched trainer (Adam, cosine schedule, batch 32, 1500
# steps, learning rate 0.02), all 36 000 in **one** call of `tm.basin_study`, and each end
# point is classified as in Chapter 3.

# %%
r_grid, p_grid = np.geomspace(0.1, 10, 6), np.geomspace(0.01, 1, 6)
R, P = np.meshgrid(r_grid, p_grid)  # rows: density 1 - S, columns: relative importance r
ω = np.c_[np.ones(R.size), R.ravel()]
study = tm.basin_study(2, 1, 1 - P.ravel(), 1000, ω=ω, steps=1500, batch_size=32, lr=2e-2,
                       seed=4)
print(f"{len(study.labels)} runs in {len(study.S)} settings")

# %% [markdown]
# For each point, the lowest-loss candidate comes from the closed forms of Chapter 3
# (`tm.two_in_one_candidates`), and the basin estimate of that candidate from the study's
# table, with its 95% Wilson interval.

# %%
cand = tm.two_in_one_candidates(R.ravel(), 1 - P.ravel(), optimise=False)
names = {"feature 1": "feature 1 only", "feature 2": "feature 2 only", "antipodal": "antipodal"}
L_cand = np.stack([cand[k] for k in names])  # (3 candidates, 36 points)
best = np.array(list(names.values()))[np.argmin(L_cand, axis=0)]
advantage = np.log(np.sort(L_cand, axis=0)[1] / L_cand.min(axis=0))  # log(second / best)
est = []
for j in range(len(best)):
    k = int(np.sum(study.labels[study.setting == j] == best[j]))
    est.append(tm.basin_probabilities([best[j]] * k + ["other"] * (1000 - k))[best[j]]
               if k else None)
assert all(e is not None for e in est)
p_best = np.array([e.p for e in est]).reshape(6, 6)
lo, hi = np.array([e.lo for e in est]).reshape(6, 6), np.array([e.hi for e in est]).reshape(6, 6)
print("P(best candidate); rows: density 1 - S from 1 down to 0.01, columns: r from 0.1 to 10")
for i in reversed(range(6)):
    print(f"1-S = {p_grid[i]:5.3f}: " + "  ".join(f"{x:.3f}" for x in p_best[i]))

# %% mystnb={"figure": {"caption": "Probability that a training run of 2 features in 1 dimension ends at the lowest-loss candidate, over the grid of relative importance r and density 1 \u2212 S (1000 runs per cell; the number in a cell is the estimate). Dashed: the boundary between the phases (antipodal below it, one feature only above it). Cells marked with a dot have a 95% Wilson interval entirely below 1/2.", "name": "fig-basins-phase"}, "image": {"alt": "A six by six heat map with log10 r on the horizontal axis and log10 of the density on the vertical axis, and a dashed arch-shaped boundary. Cells above the arch are dark (probabilities near 1); below it they are lighter, about 0.5 to 0.9 near the arch and about 0.4 to 0.5 in the bottom row, whose cells carry dots."}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(4.6, 4.4), layout="constrained")
h = 0.2  # half a cell in log10 units: the grid steps by 0.4 in both directions
ext = [-1 - h, 1 + h, -2 - h, h]
im = ax.imshow(p_best, origin="lower", cmap="viridis", vmin=0, vmax=1, extent=ext, aspect="auto")
for i in range(6):
    for j in range(6):
        x, y = np.log10(r_grid[j]), np.log10(p_grid[i])
        ax.text(x, y + 0.07, f"{p_best[i, j]:.2f}".lstrip("0"),
                ha="center", va="center", fontsize=11,
                color="k" if p_best[i, j] > 0.6 else "w")
        if hi[i, j] < 0.5:
            ax.plot(x, y - 0.12, "o", color="w", ms=3)
rr = np.geomspace(0.1, 10, 200)
ax.plot(np.log10(rr), np.log10(np.where(rr <= 1, 4 * rr / (2 + 5 * rr), 4 / (5 + 2 * rr))),
        "w--", lw=1.5)
ax.set(xlim=ext[:2], ylim=ext[2:])
ax.set_xlabel(r"$\log_{10} r$", fontsize=11)
ax.set_ylabel(r"$\log_{10}(1-S)$", fontsize=11)
ax.tick_params(labelsize=11)
cb = fig.colorbar(im, ax=ax, shrink=0.9)
cb.set_label("P(lowest-loss candidate)", fontsize=11)
cb.ax.tick_params(labelsize=11)
ax.grid(False)
plt.show()

# %% [markdown]
# ## Above the boundary: training finds the best candidate
#
# Where one feature gets the dimension (the cells above the dashed line in
# {numref}`fig-basins-phase`), the run ends at the better of the two dedicated solutions in
# almost every run: the lowest lower end of a Wilson interval among these cells is
# {glue:text}`phase_dedicated_lo:.3f`. The cells where it is lowest are those at $r$ closest
# to 1, where the two dedicated solutions have the closest losses.

# %%
anti = best.reshape(6, 6) == "antipodal"
ded_lo = lo[~anti].min()
glue("phase_dedicated_lo", float(ded_lo), display=False)
assert ded_lo > 0.9  # above the boundary: at least 90% at every cell
near1 = np.abs(np.log10(R)) < 0.3  # the two columns next to r = 1
assert p_best[~anti & near1].max() < p_best[~anti & ~near1].min() + 0.01
print(f"above the boundary: smallest Wilson lower end {ded_lo:.3f}; "
      f"P(best) at r next to 1: {np.round(p_best[~anti & near1], 3).tolist()}")

# %% [markdown]
# ## Below the boundary: the antipodal basin is small where superposition wins most
#
# Below the boundary the antipodal solution has the lowest loss, by a factor that grows as the
# data get sparser (the dedicated solutions cost $\propto p$, the antipodal one $\propto p^2$,
# $p=1-S$). Training does not follow that factor. Pooled over the six cells of the sparsest row
# ($1-S=0.01$, 6000 runs), where the antipodal solution's loss is {glue:text}`phase_ratio_min:.0f` to
# {glue:text}`phase_ratio_max:.0f` times lower than the next candidate's, a run ends antipodal with probability {glue:text}`phase_row0:.3f`
# (95% interval {glue:text}`phase_row0_lo:.3f`–{glue:text}`phase_row0_hi:.3f`): below one half.
# The others end with the whole dimension given to one feature, a local minimum whose exact loss
# sits at that candidate's closed form (the first exercise below).

# %%
def pooled(mask):
    k = int(round(float(np.sum(p_best[mask] * 1000))))
    return k / (1000 * int(mask.sum())), *tm.wilson_interval(k, 1000 * int(mask.sum()))


row0 = np.zeros((6, 6), bool)
row0[0] = True
assert anti[0].all()
p0, lo0, hi0 = pooled(row0)
ratio0 = np.exp(advantage.reshape(6, 6)[0])
print(f"sparsest row: loss ratio second/best {ratio0.min():.0f}-{ratio0.max():.0f}, "
      f"P(antipodal) {p0:.3f} [{lo0:.3f}, {hi0:.3f}]")
assert hi0 < 0.5 and ratio0.min() > 10
glue("phase_row0", float(p0), display=False)
glue("phase_row0_lo", float(lo0), display=False)
glue("phase_row0_hi", float(hi0), display=False)
glue("phase_ratio_min", float(ratio0.min()), display=False)
glue("phase_ratio_max", float(ratio0.max()), display=False)

# %% [markdown]
# Nearer the boundary the antipodal basin is larger. Split the antipodal cells by the
# advantage of the best candidate, $\log(L_{\text{second}}/L_{\text{best}})$: where it is below
# 2 (the best loss less than $e^2\approx7$ times below the next) the pooled probability of the
# antipodal end is {glue:text}`phase_near:.3f` ({glue:text}`phase_near_lo:.3f`–{glue:text}`phase_near_hi:.3f`);
# where it is above 2.5 it is {glue:text}`phase_far:.3f`
# ({glue:text}`phase_far_lo:.3f`–{glue:text}`phase_far_hi:.3f`). The intervals are far apart:
# the closer to the boundary, the *more* often training finds superposition, although its
# advantage is smaller there. The loss does not set the basin sizes; the dynamics does. A
# plausible reason, which this page does not test: in sparse data two features are rarely
# active together, so the interference that pushes the two weights to opposite signs is felt
# in few of the batches.

# %%
adv = advantage.reshape(6, 6)
near, far = anti & (adv < 2), anti & (adv > 2.5)
(pn, ln, hn), (pf, lf, hf) = pooled(near), pooled(far)
print(f"antipodal cells, advantage < 2: {near.sum()} cells, P = {pn:.3f} [{ln:.3f}, {hn:.3f}]; "
      f"advantage > 2.5: {far.sum()} cells, P = {pf:.3f} [{lf:.3f}, {hf:.3f}]")
assert ln > hf + 0.1
for name, v in [("near", pn), ("near_lo", ln), ("near_hi", hn), ("far", pf), ("far_lo", lf),
                ("far_hi", hf)]:
    glue(f"phase_{name}", float(v), display=False)

# %% [markdown]
# ## Summary
#
# - Over a 6 × 6 grid of the 2→1 phase diagram, with 1000 runs per point
#   ({numref}`fig-basins-phase`), training ends at the lowest-loss candidate in more than 90%
#   of the runs everywhere above the boundary {eq}`eq-phase-boundary`.
# - Below it, where the antipodal (superposed) solution is best, it does so far less often,
#   and least often where superposition wins by the largest factor: in the sparsest row fewer
#   than half of the runs end antipodal.
# - So the phase diagram of the loss and the phase diagram of training differ: the second
#   depends on how often the data show the two features together, not only on which loss is
#   lower.

# %% [markdown]
# ## Exercises
#
# ```{exercise} Where do the other runs end?
# :label: ex-ch4p-missed
#
# In the cells below the boundary, many runs end with the dimension given to one feature.
# Is that a local minimum or an unfinished run? Compare the median exact loss of those runs with
# the closed-form loss of the dedicated candidate, cell by cell.
# ```
#
# ````{solution-start} ex-ch4p-missed
# :class: dropdown
# ````
#
# In every antipodal cell with enough such runs, their median exact loss is within a few
# percent of the dedicated candidate's closed form $r(p/3-p^2/4)$ or $p/3-p^2/4$ (a little
# above it where the data are sparsest and 1500 steps see few active features): the runs have
# reached that candidate, a local minimum, not stopped half-way to the antipodal one.

# %%
worst = 0.0
for j in np.flatnonzero(anti.ravel()):
    for key, lab in [("feature 1", "feature 1 only"), ("feature 2", "feature 2 only")]:
        sel = (study.setting == j) & (study.labels == lab)
        if sel.sum() >= 50:
            worst = max(worst, abs(np.median(study.loss[sel]) / cand[key][j] - 1))
print(f"largest relative gap between the median loss and the candidate's: {worst:.3f}")
assert worst < 0.1

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} A symmetry of the heat map
# :label: ex-ch4p-mirror
#
# The grid of $r$ is symmetric under $r\to1/r$. Show that the basin probabilities at
# $(r,p)$ and $(1/r,p)$ are the same (hint: swap the two features, and recall what Adam does
# when the loss is multiplied by a constant), and test it on the study: are the mirrored cells'
# estimates consistent with one probability?
# ```
#
# ````{solution-start} ex-ch4p-mirror
# :class: dropdown
# ````
#
# Swapping the features turns $\omega=(1,1/r)$ into $(1/r,1)=\frac1r(1,r)$: the same loss as at
# $r$, times $1/r$. The initialisation is symmetric under the swap, and Adam's steps do not
# change when the loss is multiplied by a positive constant (up to its $\varepsilon$), so the
# two cells have the same basin probabilities. The test: the difference of each mirrored pair,
# divided by its standard error, stays within $\pm4$ (for 18 independent pairs the chance that
# one exceeds 4 by accident is about $10^{-3}$).

# %%
mirror = p_best[:, ::-1]
se = np.sqrt(p_best * (1 - p_best) / 1000 + mirror * (1 - mirror) / 1000)
zs = np.where(se > 0, (p_best - mirror) / np.where(se > 0, se, 1), 0.0)[:, :3]
print("largest |z| over the 18 mirrored pairs:", f"{np.abs(zs).max():.2f}")
assert np.abs(zs).max() < 4

# %% [markdown]
# ````{solution-end}
# ````
