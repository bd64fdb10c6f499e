# %% [markdown]
# (sec-ch4-basins)=
# # Basins and dynamics
#
# Chapter 3 reported what training found, run by run. A run's end point is a random variable:
# the initialisation and the data decide which basin of the loss it falls into. This section
# measures those probabilities with thousands of independent runs per setting, compares them
# with the critical points of the k-gon family, and follows single runs between critical
# points.
#
# **What you will learn.**
# - How often training ends in each configuration (pentagon, square, triangle, ...) of 5
#   features in 2 dimensions, across sparsities, with 95% confidence intervals.
# - That the square with a dropped feature stays a strict local minimum of the exact loss on
#   $l\le2$ active features at every sparsity studied, and that training keeps finding it.
# - Which configurations 6 features end in, and how far that is from the best of the k-gon
#   family.
# - How loss curves pass by the critical values of the k-gon family.
#
# **What you need.** Chapter 3 (the skeleton losses, the trainer) and the k-gon critical
# points of this chapter.

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
# ## Basin probabilities
#
# A *basin* is the set of initialisations from which a training procedure ends in a given
# class of configuration. We estimate its probability by the fraction $\hat p=k/n$ of $n$
# independent runs that end there. The 95% interval is Wilson's score interval: the $p$ with
# $\lvert\hat p-p\rvert\le z\sqrt{p(1-p)/n}$, $z=1.96$,
#
# $$\frac{\hat p+\frac{z^2}{2n}\pm z\sqrt{\frac{\hat p(1-\hat p)}{n}+\frac{z^2}{4n^2}}}{1+\frac{z^2}{n}}.$$ (eq-wilson)
#
# `tm.basin_study` trains $n$ initialisations per setting, all in **one** call of the
# batched trainer (Adam, cosine schedule, batch 32, 1500 steps), labels each end point with the
# geometry helpers of Chapter 3, and evaluates its exact loss $P_0L_0+P_1L_1+P_2L_2$. Here:
# 5 features of equal importance in 2 dimensions, 1000 runs at each of six sparsities.

# %%
S5 = np.array([0.5, 0.7, 0.8, 0.9, 0.95, 0.99])
study5 = tm.basin_study(5, 2, S5, 1000, steps=1500, batch_size=32, lr=1e-2, seed=0)
print("   S    basin: runs of 1000 [95% Wilson interval]")
for j, S in enumerate(S5):
    tab = study5.table(j)
    print(f"{S:5.2f}   " + ";  ".join(f"{e.label} {e.count} [{e.lo:.3f}, {e.hi:.3f}]"
                                       for e in list(tab.values())[:4]))

# %% mystnb={"figure": {"caption": "Basin probabilities of 5 features in 2 dimensions (equal importance), 1000 independent runs per sparsity. Each bar is split by the configuration the runs end in; basins below 2% at every sparsity are pooled as other.", "name": "fig-basins-5-2"}, "image": {"alt": "Stacked bar chart of basin probabilities against sparsity 0.5, 0.7, 0.8, 0.9, 0.95 and 0.99. The square takes more than half of each of the first three bars, and three of a square (an antipodal pair with a third feature at right angles) about a third of the first, the pentagon most of the bars at 0.9 and 0.95 and about 60 percent at 0.99, where the square's share grows back to about a quarter; every bar keeps a visible square segment."}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(4.4, 3.4))
tm.plot_basin_probabilities(study5, ax, order=["pentagon", "square", "three of a square"])
ax.set_xticks(range(len(S5)), [f"{S:g}" for S in S5])
ax.set_xlabel("sparsity $S$")
ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=11)
plt.show()

# %%
p = {(j, lab): e for j in range(len(S5)) for lab, e in study5.table(j).items()}
sq = [p.get((j, "square")) for j in range(len(S5))]
pe = [p.get((j, "pentagon")) for j in range(len(S5))]
j7, j9 = 1, 3
glue("sq07", sq[j7].p, display=False)
glue("sq07lo", sq[j7].lo, display=False)
glue("sq07hi", sq[j7].hi, display=False)
glue("pe09", pe[j9].p, display=False)
glue("pe09lo", pe[j9].lo, display=False)
glue("pe09hi", pe[j9].hi, display=False)
glue("sq09", sq[j9].p, display=False)
glue("sq09lo", sq[j9].lo, display=False)
glue("sq09hi", sq[j9].hi, display=False)
assert sq[j7].lo > 0.5  # the square is the likeliest end at S = 0.7
assert pe[j9].lo > 0.5 and sq[j9].lo > 0.02  # at S = 0.9: mostly pentagons, but squares too
assert all(e is not None and e.lo > 0.01 for e in sq)  # squares at every sparsity
top = [next(iter(study5.table(j))) for j in range(len(S5))]
assert top[:3] == ["square"] * 3 and top[3:] == ["pentagon"] * 3
irr = [sum(e.p for lab, e in study5.table(j).items() if lab.startswith("irregular"))
       for j in range(len(S5))]
assert sq[-1].lo > sq[-2].hi and irr[-1] > max(irr[2:-1])  # at S = 0.99: squares and unfinished runs up
t3 = study5.table(0)["three of a square"]
assert t3.lo > 0.2 and list(study5.table(0))[1] == "three of a square"
glue("t3_05", t3.p, display=False)
glue("t3_05lo", t3.lo, display=False)
glue("t3_05hi", t3.hi, display=False)

# %% [markdown]
# At $S=0.7$ a run ends in the square (two antipodal pairs, one feature dropped) with
# probability {glue:text}`sq07:.3f` (95% interval {glue:text}`sq07lo:.3f`–{glue:text}`sq07hi:.3f`).
# At $S=0.9$ the pentagon takes over, with probability {glue:text}`pe09:.3f`
# ({glue:text}`pe09lo:.3f`–{glue:text}`pe09hi:.3f`), but the square still catches
# {glue:text}`sq09:.3f` of the runs ({glue:text}`sq09lo:.3f`–{glue:text}`sq09hi:.3f`).
# {numref}`fig-basins-5-2` shows the whole sweep. With this budget (batch 32, 1500 steps)
# the runs at $S=0.99$ see few active features: more of them end unfinished ("irregular")
# and the square's share rises again, so the last bar describes this training budget as much
# as the landscape.
#
# At $S=0.5$ the second basin is *three of a square*, {glue:text}`t3_05:.3f` of the runs
# ({glue:text}`t3_05lo:.3f`–{glue:text}`t3_05hi:.3f`): an antipodal pair and a third
# feature at right angles to it, the other two features dropped. {ref}`sec-ch4-basins-exact`
# shows that it is a local minimum of the exact loss.
#
# ## Is the square a local minimum?
#
# The square with one dropped feature is a member of the k-gon family: `tm.kgon_critical_point`
# gives it at any sparsity as a critical point of the loss on $l\le2$, and
# `landscape.analyse_critical_point` its Hessian's spectrum, Morse index and null space.

# %%
rows = []
for S in S5:
    pt4, pt5 = tm.kgon_critical_point(5, 4, S=S), tm.kgon_critical_point(5, 5, S=S)
    rep = tm.analyse_critical_point(*pt4.parameters(), S=S)
    rows.append((S, pt4.loss, pt5.loss, rep.kind, rep.morse_index, rep.margin, pt4.grad_norm))
print("   S    L(square)  L(pentagon)  square is a   index  smallest positive eigenvalue")
for S, L4, L5, kind, idx, margin, gn in rows:
    print(f"{S:5.2f}   {L4:.5f}    {L5:.5f}      {kind:10s}  {idx}      {margin:.3e}")
    assert gn < 1e-10 and kind == "minimum" and idx == 0 and margin > 1e-3
glue("margin99", rows[-1][5], display=False)
glue("margin90", rows[3][5], display=False)

# %% [markdown]
# The square is a strict local minimum (Morse index 0; the only null directions are the
# symmetries) at every sparsity from 0.5 to 0.99. Its smallest positive eigenvalue shrinks
# roughly like $1-S$, as the loss itself does: {glue:text}`margin90:.3f` at $S=0.9$ and
# {glue:text}`margin99:.4f` at $S=0.99$. So the answer to "at which sparsity does the square stop
# being a local minimum" is: not in this range, and training agrees: it keeps finding the
# square at every sparsity of {numref}`fig-basins-5-2`. The square only becomes worse than the
# pentagon (between $S=0.7$ and $S=0.8$ in the table above); it does not stop being a minimum.
#
# Does it stop outside that range? The same scan from $S=0.01$ to $0.4$ and at $0.995$,
# $0.999$ (with $P(l\le2)$, the share of the data the $l\le2$ loss describes):

# %%
S_ext = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.995, 0.999]
print("    S     P(l<=2)  L(square)    index  smallest positive eigenvalue  margin / L")
ext_ratio = []
for S in S_ext:
    pt4 = tm.kgon_critical_point(5, 4, S=S)
    rep = tm.analyse_critical_point(*pt4.parameters(), S=S)
    mass = tm.active_count_pmf(S, 5)[:3].sum()
    ext_ratio.append(rep.margin / pt4.loss)
    print(f"{S:6.3f}   {mass:.4f}   {pt4.loss:.3e}   {rep.morse_index}      {rep.margin:.3e}"
          f"                 {rep.margin / pt4.loss:.2f}")
    assert pt4.grad_norm < 1e-10 and rep.kind == "minimum" and rep.morse_index == 0
    assert rep.margin > 0.5 * pt4.loss  # positive with a margin on the loss's own scale
glue("ext_ratio_min", min(ext_ratio), display=False)

# %% [markdown]
# The square is a strict local minimum of the $l\le2$ loss at every sparsity scanned, from
# $0.01$ to $0.999$: its smallest positive Hessian eigenvalue stays at least
# {glue:text}`ext_ratio_min:.2f` times the loss itself, so it vanishes only as the loss does.
# (At small $S$ the $l\le2$ loss describes little of the data, the column $P(l\le2)$, so
# there the statement is about that truncated loss, not about the model's full loss.)
# There is no Hessian threshold to compare with training: within $0.5\le S\le0.99$ the
# sampled trainer finds the square at every sparsity ({numref}`fig-basins-5-2`).
#
# The loss of each basin, from the exact loss of the trained end points, sits next to these
# critical values:

# %%
print("   S    median loss: square   4-gon critical   pentagon   5-gon critical")
for j, (S, L4, L5, *_) in enumerate(rows):
    msq = study5.median_loss(j, "square")
    mpe = study5.median_loss(j, "pentagon") if p.get((j, "pentagon")) else np.nan
    print(f"{S:5.2f}   {msq:.5f}               {L4:.5f}        {mpe:.5f}    {L5:.5f}")
    if S >= 0.8:
        assert abs(msq / L4 - 1) < 0.05 and abs(mpe / L5 - 1) < 0.05
glue("sq05gap", study5.median_loss(0, "square") / rows[0][1] - 1, display=False)

# %% [markdown]
# From $S=0.8$ on, the median loss of each basin is within 5% of the critical value of its
# k-gon: the trained end points sit near the symmetric critical points (a trained square often
# keeps its fifth feature at a small norm instead of dropping it exactly). At $S=0.5$ the
# trained squares lie {glue:text}`sq05gap:.0%` above the symmetric square: in dense data the
# dropped feature's bias and the pairs' norms are still moving after 1500 steps.
#
# ## Six features in two dimensions
#
# The same study for 6 features (1000 runs at each of the six sparsities). Besides the
# regular polygons one more configuration appears: *three of a square*, an antipodal pair and a
# third feature at right angles to it, the other features dropped (the label
# `"three of a square"`; {ref}`sec-ch4-basins-phase` and the exercises below do not need it).

# %%
study6 = tm.basin_study(6, 2, S5, 1000, steps=1500, batch_size=32, lr=1e-2, seed=1)
print("   S    basin: runs of 1000 [95% Wilson interval]")
for j, S in enumerate(S5):
    print(f"{S:5.2f}   " + ";  ".join(f"{e.label} {e.count} [{e.lo:.3f}, {e.hi:.3f}]"
                                       for e in list(study6.table(j).values())[:4]))

# %% mystnb={"figure": {"caption": "Basin probabilities of 6 features in 2 dimensions (equal importance), 1000 independent runs per sparsity, as in the figure for 5 features; basins below 2% at every sparsity are pooled as other.", "name": "fig-basins-6-2"}, "image": {"alt": "Stacked bar chart of basin probabilities against sparsity 0.5 to 0.99 for six features. The square fills most of the first two bars, with three of a square taking about 30 percent at 0.5; the pentagon fills most of the bars from 0.8 on; the hexagon is a thin segment at 0.9 and above, and irregular end points grow at 0.99."}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(4.4, 3.4))
tm.plot_basin_probabilities(study6, ax, order=["pentagon", "square", "hexagon",
                                               "three of a square"])
ax.set_xticks(range(len(S5)), [f"{S:g}" for S in S5])
ax.set_xlabel("sparsity $S$")
ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=11)
plt.show()

# %% [markdown]
# Next to the trained losses, the critical values of the k-gon family for $D=6$: each k-gon
# with its $6-k$ dropped features either alive (bias at the mean, `n_dead=0`) or dead
# (negative bias, `n_dead=6-k`).

# %%
p6 = {(j, lab): e for j in range(len(S5)) for lab, e in study6.table(j).items()}
crit6 = {(S, k, nd): tm.kgon_critical_point(6, k, S=S, n_dead=nd).loss
         for S in S5 for k in (2, 3, 4, 5, 6) for nd in {0, 6 - k}}
print("   S    basin      runs  median loss   k-gon critical value: dropped alive / dead")
for j, S in enumerate(S5):
    for lab, k in [("hexagon", 6), ("pentagon", 5), ("square", 4)]:
        e = p6.get((j, lab))
        if e is None or e.count < 20:
            continue
        med = study6.median_loss(j, lab)
        print(f"{S:5.2f}   {lab:9s} {e.count:5d}   {med:.5f}      {crit6[S, k, 0]:.5f} / "
              f"{crit6[S, k, 6 - k]:.5f}")
        if 0.8 <= S <= 0.95:
            assert abs(med / crit6[S, k, 0] - 1) < 0.05
top6 = [next(iter(study6.table(j))) for j in range(len(S5))]
assert top6[:2] == ["square"] * 2 and top6[2:] == ["pentagon"] * 4
assert p6[1, "square"].lo > 0.5 and min(p6[j, "pentagon"].lo for j in (3, 4)) > 0.8
assert all(p6.get((j, "hexagon")) is None or p6[j, "hexagon"].hi < 0.1 for j in range(len(S5)))
hex_best = [j for j, S in enumerate(S5)
            if crit6[S, 6, 0] < min(crit6[S, k, 0] for k in (2, 3, 4, 5))]
assert hex_best == [4, 5]  # the hexagon is the family's lowest critical value at S = 0.95, 0.99
assert crit6[0.9, 5, 0] < crit6[0.9, 6, 0]  # ... but not at S = 0.9
assert all(p6[j, "pentagon"].lo > 0.5 for j in hex_best)
glue("pe6_95", p6[4, "pentagon"].p, display=False)
glue("hx6_95", p6[4, "hexagon"].p, display=False)
glue("pe6_99", p6[5, "pentagon"].p, display=False)
glue("hx6_99hi", max(p6[j, "hexagon"].hi for j in hex_best), display=False)

# %% [markdown]
# With 6 features ({numref}`fig-basins-6-2`) the square is the likeliest end at $S=0.5$ and
# $0.7$, and the pentagon with one dropped feature from $S=0.8$ on. The regular hexagon,
# although it has the lowest critical value of the whole k-gon family at $S=0.95$ and $0.99$
# (at $S=0.9$ the pentagon with a dropped feature is still lower), catches few runs: the
# upper end of its 95% interval is at most {glue:text}`hx6_99hi:.3f` at those sparsities,
# while the pentagon takes {glue:text}`pe6_95:.2f` of the runs at $S=0.95$ and
# {glue:text}`pe6_99:.2f` at $S=0.99$. Training most often ends at a local minimum that is
# not the family's best. Between $S=0.8$ and $0.95$ the median loss of each basin is within 5%
# of its k-gon's critical value with the dropped features alive.
#
# ## Two features in one dimension
#
# Which optimum does gradient descent pick in the 2-features-in-1-dimension phase diagram of
# Chapter 3? {ref}`sec-ch4-basins-phase` answers it over a 6 × 6 grid of the diagram with a
# thousand runs per point.
#
# ## Dynamics between critical points
#
# Chapter 1 showed the linear model's loss curve stepping down from one saddle value to the
# next. The same happens here. We follow six runs on the exact loss ($l\le2$, $S=0.9$,
# `tm.minimize_exact`: Adam on the exact gradient, then Newton) from a small initialisation,
# and mark the critical values of the k-gon family (each k-gon with $5-k$ dropped features)
# and of $W=0$.

# %%
S_dyn = 0.9
W0, b0 = tm.random_init(6, 2, 5, seed=1, scale=0.05)
dyn = tm.minimize_exact(W0, b0, 1.0, S_dyn, l_max=2, steps=400, lr=0.02, log_every=2)
crit = {f"{k}-gon": tm.kgon_critical_point(5, k, S=S_dyn).loss for k in range(2, 6)}
crit["W = 0"] = float(tm.exact_loss(np.zeros((1, 2, 5)),
                                    np.full((1, 5), tm.dropped_bias(5, S_dyn)), 1.0, S_dyn)[0])
ends = [tm.polygon_label(W) for W in dyn.W]
print("end points:", ends, "  |∇L| <", f"{dyn.grad_norm.max():.0e}")
assert np.all(dyn.converged)
for lab, L in zip(ends, dyn.loss, strict=True):
    assert lab in ("pentagon", "square")
    if lab == "pentagon":  # the certified 5-gon critical point, to 1e-9
        assert abs(L / crit["5-gon"] - 1) < 1e-9

# %% mystnb={"figure": {"caption": "Exact loss (l \u2264 2, S = 0.9) along six runs from a small initialisation, with the critical values of the k-gon family (dashed) and of W = 0 (dotted).", "name": "fig-dynamics"}, "image": {"alt": "Six loss curves on a log scale falling from about 0.16 to the pentagon's level near 0.022, with dashed horizontal lines at the critical values of the 2-, 3-, 4- and 5-gon and a dotted line for W = 0."}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(4.4, 3.4))
t = np.arange(dyn.history.shape[0]) * 2
for j in range(dyn.history.shape[1]):
    ax.plot(t, dyn.history[:, j], lw=1)
for name, L in crit.items():
    ax.axhline(L, color="0.4", lw=0.7, ls=":" if name == "W = 0" else "--")
    ax.text(t[-1], L, name, fontsize=11, va="bottom", ha="right")
ax.set_yscale("log")
ax.set_xlabel("Adam step")
ax.set_ylabel("exact loss, l ≤ 2")
plt.show()

# %% [markdown]
# In {numref}`fig-dynamics` every run starts near $W=0$, falls through the levels of the
# digon and the triangle, and ends at a minimum's level (here, for all six, the pentagon's); the Newton finisher
# then takes it to a gradient below $10^{-10}$. With Adam's large early steps most runs do not
# linger at the saddles as long as the linear model does under gradient flow, but some do.
#
# The loss alone does not say *where* a run is. The descent logs its parameters too
# (`dyn.W_history`), so we can look at the configuration when the loss passes a critical value.
# The cell below takes, for each run, the logged step whose loss is closest to the square's
# critical value, and keeps the runs whose configuration there *is* a square (classified as in
# the basin studies). At such a step the run must be on a plateau: it moves more slowly than
# its median step, and the critical value lies within the range its loss sweeps over the
# surrounding ±3 logged steps (the tolerance is that sweep, computed, not chosen).

# %%
# plateaus: where a run's loss passes the square's critical value, is it at a square, and slow?
c4 = crit["4-gon"]
speed = np.abs(np.diff(np.log(dyn.history), axis=0))  # |Δ log L| per logged step
visits = []
for j in range(dyn.history.shape[1]):
    t = int(np.argmin(np.abs(np.log(dyn.history[:-1, j] / c4))))
    if tm.polygon_label(dyn.W_history[t, j]) == "square":
        visits.append((j, t))
for j, t in visits:
    w = 3  # the plateau's window: ±3 logged steps (±6 Adam steps)
    window = np.log(dyn.history[max(t - w, 0): t + w + 1, j])
    sweep = np.ptp(window)  # the tolerance: how far the loss moves across the window
    assert abs(np.log(dyn.history[t, j] / c4)) <= sweep
    assert speed[t, j] < np.median(speed[:, j])  # slower than the run's typical step: a plateau
    print(f"run {j}: at Adam step {2 * t} a square, loss {dyn.history[t, j]:.5f} "
          f"(4-gon critical value {c4:.5f}, window sweep {sweep:.1e})")
assert len(visits) >= 1
j_sq, t_sq = visits[0]
assert ends[j_sq] == "pentagon"  # it leaves the square for the pentagon
glue("n_visits", len(visits), display=False)
glue("t_sq", 2 * t_sq, display=False)
glue("L_sq", float(dyn.history[t_sq, j_sq]), display=False)
glue("c4", c4, display=False)

# %% mystnb={"figure": {"caption": "One run of the figure above, with its configuration drawn at three moments: (a) where the loss crosses the digon's level, (b) on the plateau at the square's critical value, where the run is a square with the fifth feature nearly dropped, (c) at the end, a regular pentagon. Each inset shows the five feature vectors w_i in the hidden plane.", "name": "fig-trajectory"}, "image": {"alt": "A falling loss curve on a log scale with dashed levels for the 2-, 3-, 4- and 5-gon; three marked points a, b, c; above them three small panels of five coloured feature vectors: a lopsided fan, a cross of four vectors with one short fifth, and a regular five-pointed star."}} tags=["hide-input"]
fig, ax = plt.subplots(figsize=(4.4, 3.4))
t = np.arange(dyn.history.shape[0]) * 2
ax.plot(t, dyn.history[:, j_sq], color="C3", lw=1.5)
for name, L in crit.items():
    if name != "W = 0":
        ax.axhline(L, color="0.5", lw=0.7, ls="--")
        ax.text(0.92 * t[-1], L, name, fontsize=11, va="bottom", ha="right")
ax.set_yscale("log")
ax.set_ylim(0.018, 0.35)
ax.set_xlabel("Adam step", fontsize=11)
ax.set_ylabel("exact loss, l ≤ 2", fontsize=11)
ax.tick_params(labelsize=11)
snaps = [int(np.argmin(np.abs(dyn.history[:, j_sq] - crit["2-gon"]))), t_sq, len(t) - 1]
for k, s in enumerate(snaps):
    ax.plot(t[s], dyn.history[s, j_sq], "o", color="k", ms=4)
    ax.text(t[s], dyn.history[s, j_sq] * 1.12, "abc"[k], fontsize=11, ha="center")
    ins = ax.inset_axes([0.05 + 0.32 * k, 0.7, 0.26, 0.28])
    Ws = dyn.W_history[s, j_sq]
    for i in range(Ws.shape[1]):
        ins.plot([0, Ws[0, i]], [0, Ws[1, i]], color=f"C{i}", lw=1.5)
    m = 1.15 * np.abs(Ws).max()
    ins.set(xlim=(-m, m), ylim=(-m, m), aspect="equal", xticks=[], yticks=[])
    ins.set_title("abc"[k], fontsize=11, pad=2)
plt.show()

# %% [markdown]
# {glue:text}`n_visits` of the six runs pass through the square this way. In
# {numref}`fig-trajectory` the run sits at Adam step {glue:text}`t_sq` with loss
# {glue:text}`L_sq:.5f`, against the square's critical value {glue:text}`c4:.5f`: the
# features have arranged themselves as the square with one feature dropped, a critical point
# of the loss, before the fifth feature grows back and the run leaves for the pentagon.
#
# ## Playground
#
# `tm.basin_study(D, 2, [S], n)` re-runs a basin study in seconds for small $n$. In a live
# notebook the slider below does it for a chosen $(D,S)$; here is one small study:

# %%
demo = tm.basin_study(6, 2, [0.8], 100, steps=600, seed=3)
print("; ".join(str(e) for e in demo.table(0).values()))
assert sum(e.count for e in demo.table(0).values()) == 100

# %% tags=["remove-cell"]
if tm.widgets_live():
    try:
        import ipywidgets as widgets

        def _play(D=5, S=0.9, runs=200):
            st = tm.basin_study(D, 2, [S], runs, steps=800)
            for e in st.table(0).values():
                print(e)

        widgets.interact_manual(_play, D=(3, 8), S=(0.5, 0.99, 0.01), runs=(50, 500, 50))
    except ImportError:
        pass

# %% [markdown]
# ## Summary
#
# - The end point of a training run is a random variable. For 5 features in 2 dimensions the
#   square is the likeliest end up to $S=0.8$ and the pentagon from $S=0.9$, and the square
#   keeps a share of at least a few percent at every sparsity
#   ({numref}`fig-basins-5-2`), with Wilson intervals from 1000 runs per sparsity.
# - The square with a dropped feature is a strict local minimum of the exact $l\le2$ loss at every
#   sparsity from 0.5 to 0.99, with a Hessian margin that shrinks like $1-S$; training keeps
#   finding it throughout.
# - With 6 features the pentagon with a dropped feature is the likeliest end from $S=0.8$ on,
#   also where the regular hexagon has the lower loss ({numref}`fig-basins-6-2`).
# - The square stays a strict local minimum of the $l\le2$ loss at every sparsity scanned,
#   from 0.01 to 0.999.
# - The 2-in-1 phase diagram has its own page, {ref}`sec-ch4-basins-phase`.
# - Loss curves step down past the k-gon critical values ({numref}`fig-dynamics`).

# %% [markdown]
# ## Exercises
#
# The solutions are hidden; each one runs when the book is built, and its asserts check the
# answer. They reuse the studies computed above, so each takes well under a second.
#
# ```{exercise} Wilson's interval by hand
# :label: ex-ch4b-wilson
#
# Evaluate {eq}`eq-wilson` for the squares at $S=0.7$ (the count in the first table) and compare
# with the interval the table prints and with `tm.wilson_interval`. Is the interval symmetric
# about $\hat p$? Do the same for the triangles at $S=0.5$.
# ```
#
# ````{solution-start} ex-ch4b-wilson
# :class: dropdown
# ````
#
# The formula is a few lines. Its centre $(\hat p+z^2/2n)/(1+z^2/n)$ is pulled from $\hat p$
# towards $1/2$, so the interval is not symmetric about $\hat p$; the pull matters most for
# small counts, such as the 3 triangles out of 1000, where the interval reaches further above
# $\hat p$ than below it.

# %%
def wilson(k, n, z=1.959963984540054):
    ph = k / n
    half = z * np.sqrt(ph * (1 - ph) / n + z**2 / (4 * n**2))
    return (ph + z**2 / (2 * n) - half) / (1 + z**2 / n), (ph + z**2 / (2 * n) + half) / (1 + z**2 / n)


for j, lab in [(j7, "square"), (0, "triangle")]:
    e = study5.table(j)[lab]
    lo, hi = wilson(e.count, e.n)
    assert np.allclose((lo, hi), (e.lo, e.hi), rtol=1e-9)
    assert np.allclose((lo, hi), tm.wilson_interval(e.count, e.n), rtol=1e-9)
    print(f"{lab} at S = {S5[j]}: p̂ = {e.p:.3f}, interval [{lo:.4f}, {hi:.4f}], "
          f"below p̂ {e.p - lo:.4f}, above {hi - e.p:.4f}")
tri = study5.table(0)["triangle"]
assert tri.hi - tri.p > 2 * (tri.p - tri.lo)  # strongly lopsided for a small count

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} How many runs?
# :label: ex-ch4b-runs
#
# How many runs does a basin study need so that every Wilson interval of a basin probability
# has half-width at most $0.01$, whatever the true probability? Compare with the normal
# approximation $n\approx z^2/(4h^2)$.
# ```
#
# ````{solution-start} ex-ch4b-runs
# :class: dropdown
# ````
#
# The half-width $z\sqrt{\hat p(1-\hat p)/n+z^2/4n^2}/(1+z^2/n)$ is largest at $\hat p=1/2$, so
# it is enough to find the smallest $n$ with $k=n/2$ that meets the target; the half-width
# falls with $n$, so a bisection finds it. The answer is within a few runs of the normal
# approximation's 9604: close to ten times the thousand runs used above.

# %%
def half_width(n):
    lo, hi = tm.wilson_interval(n // 2, 2 * (n // 2))
    return (hi - lo) / 2


ps = np.linspace(0, 1, 201)
assert np.argmax([np.diff(wilson(p_ * 1000, 1000))[0] for p_ in ps]) == 100  # worst at 1/2
a_, b_ = 2, 100_000
while b_ - a_ > 2:  # even n only: k = n/2
    mid = (a_ + b_) // 4 * 2
    a_, b_ = (a_, mid) if half_width(mid) <= 0.01 else (mid, b_)
n_need = b_
z = 1.959963984540054
assert half_width(n_need) <= 0.01 < half_width(n_need - 2)
assert abs(n_need - z**2 / (4 * 0.01**2)) < 10
print(f"runs needed: {n_need}; normal approximation: {z**2 / (4 * 0.01**2):.0f}")

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Which feature does the square drop?
# :label: ex-ch4b-dropped
#
# With equal importances the five features are interchangeable, so a square should drop each
# of them with probability $1/5$. Check this on the squares of the study at $S=0.7$: find the
# dropped feature of each (the column of $W$ with the smallest norm) and test the counts
# against the uniform distribution.
# ```
#
# ````{solution-start} ex-ch4b-dropped
# :class: dropdown
# ````
#
# A $\chi^2$ test with 4 degrees of freedom finds no evidence against uniformity: the
# initialisation, not the feature's index, decides which feature loses the competition.

# %%
from scipy import stats

sel = (study5.setting == j7) & (study5.labels == "square")
dropped = np.argmin(np.linalg.norm(study5.W[sel], axis=1), axis=1)
counts = np.bincount(dropped, minlength=5)
chi2 = stats.chisquare(counts)
print("dropped feature counts:", counts.tolist(), f"  chi-square p-value {chi2.pvalue:.2f}")
assert counts.sum() == sq[j7].count and chi2.pvalue > 0.05

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} How fast does the square's margin vanish?
# :label: ex-ch4b-margin
#
# The smallest positive Hessian eigenvalue of the square was said to shrink "roughly like
# $1-S$". Fit an exponent $\alpha$ in margin $\propto(1-S)^\alpha$ on the sparse end
# ($S\ge0.9$) of the table above, and look at how the margin moves on the dense end
# ($S\le0.8$). Where does the rule hold?
# Why should the rule hold at one end and not the other? (Open-ended: what happens to the
# ratio margin$/(1-S)$ as $S\to1$?)
# ```
#
# ````{solution-start} ex-ch4b-margin
# :class: dropdown
# ````
#
# On the sparse end the fitted exponent is close to 1: there the loss is dominated by its
# 1-sparse term, whose weight is proportional to $1-S$, so every eigenvalue scales with it. On
# the dense end the margin is not monotone in $S$ (it rises from $S=0.5$ to $S=0.7$): terms with
# two active features, of weight $\propto(1-S)^2$, change the Hessian's shape, not just its size.

# %%
S_arr, margins = np.array([r[0] for r in rows]), np.array([r[5] for r in rows])
sparse, dense = S_arr >= 0.9, S_arr <= 0.8
α_sparse = np.polyfit(np.log(1 - S_arr[sparse]), np.log(margins[sparse]), 1)[0]
print(f"exponent for S >= 0.9: {α_sparse:.3f};  margin/(1-S):",
      ", ".join(f"{m_ / (1 - s_):.3f}" for s_, m_ in zip(S_arr, margins, strict=True)))
assert abs(α_sparse - 1) < 0.15
assert margins[1] > margins[0] > 0 and margins[2] < margins[1]  # up, then down: not monotone

# %% [markdown]
# ````{solution-end}
# ````
