# %% [markdown]
# # Sparse data, weight tying and the gradient flow
#
# Section 2 of {cite:t}`beckerkahn2022notes` does two things. It introduces the sparse synthetic
# data of the Toy Models of {index}`Superposition <single: superposition>` paper
# {cite:p}`elhage2022superposition` and lists its
# elementary statistics; then it ties the weights of the linear autoencoder of the previous
# chapter, $A = W^\top$, $B = W$, and rewrites the gradient flow feature by feature, ending in an
# energy functional that pulls embeddings to unit length and pushes them apart.
#
# **What you will learn.**
# - How to sample the sparse data (numpy and torch, any device) and where its samples lie in the
#   cube: on the low-dimensional skeleta $Q_l$.
# - Every statistic of Section 2.1 of the notes, derived with `sympy.stats` and checked by Monte
#   Carlo with standard errors.
# - Why the second-moment matrix of this data is *not* close to a multiple of the identity, what
#   part of it is, and what the linear model of Chapter 1 learns from it.
# - That "imposing $A = B^\top$" on the untied flow gives two different flows, neither of which is
#   the gradient flow of the tied loss; which of them select the principal subspace; where the
#   notes' energy (28′) is off by a factor and how to correct it.
# - How the continuous flow, gradient descent on the exact $\Sigma$, and minibatch training with a
#   freshly estimated $\Sigma$ at every step compare.
#
# **What you need.** Chapter 1 (the linear model $x \mapsto ABx$, the loss $L(A, B)$, its critical
# points, Proposition 1); basic probability; gradients of matrix expressions.

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
import sympy as sp
import torch

# %% [markdown]
# ## The data
#
# Fix a sparsity $S \in [0, 1]$ and write $p = 1 - S$ for the *density*. A data point
# $x \in \mathbb{R}^D$ has independent entries
#
# $$
# x_i = B_i U_i, \qquad B_i \sim \operatorname{Bernoulli}(1 - S), \quad U_i \sim \operatorname{Uniform}[0, 1],
# $$ (eq-sparse-data)
#
# and a data set is $T$ independent draws $x_1, \dots, x_T$. Each feature is switched off with
# probability $S$ and, when on, takes a uniform value. The sampler `tm.sparse_uniform` draws
# in numpy float64; `tm.sparse_uniform_torch` draws the same law on any torch device. Both
# accept one sparsity per feature (a vector $S_i$) as well as a single number.

# %%
x = tm.sparse_uniform(8, 5, 0.6, rng=0)
print(np.round(x, 3))

# %%
S_feat = np.array([0.0, 0.5, 0.9, 0.99])
g = torch.Generator(device=device).manual_seed(0)
x_t = tm.sparse_uniform_torch(200_000, 4, S_feat, generator=g, device=device)
zero_share = (x_t == 0).double().mean(0).cpu().numpy()
print("fraction of zeros per feature:", np.round(zero_share, 3))
assert np.allclose(zero_share, S_feat, atol=5 * np.sqrt(0.25 / 200_000))

# %% [markdown]
# Each feature has an atom of mass $S$ at zero and a flat density $1 - S$ on $(0, 1]$
# ({numref}`fig-ch2-marginal`).

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The law of one feature $x_i$ for three sparsities, from $10^5$ samples: the atom $P(x_i=0)=S$ (red bar at zero) and the density on $(0,1]$ (blue histogram), against the exact density $1-S$ (dashed).", "name": "fig-ch2-marginal"}, "image": {"alt": "Three histograms, one above the other, for S = 0, 0.5 and 0.9: a red bar at zero of height S and a flat blue histogram of height 1 - S on (0, 1], each matching a dashed line."}}
fig, axes = plt.subplots(3, 1, figsize=(4.5, 6.4), sharex=True, sharey=True,
                         layout="constrained")
for ax, S in zip(axes, [0.0, 0.5, 0.9]):
    v = tm.sparse_uniform(100_000, 1, S, rng=1)[:, 0]
    ax.hist(v[v > 0], bins=20, range=(0, 1), weights=np.full((v > 0).sum(), 20 / v.size),
            color="C0", label="density on $(0, 1]$")
    ax.bar(0, (v == 0).mean(), width=0.04, color="C3", label="$P(x_i = 0)$")
    ax.axhline(1 - S, color="k", lw=0.8, ls="--")
    ax.set_title(f"$S={S}$")
axes[1].set_ylabel("density / probability")
axes[-1].set_xlabel("$x_i$")
axes[-1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=2, frameon=False)
plt.show()

# %% [markdown]
# **Where the samples lie.** The cube $Q = [0,1]^D$ splits into the disjoint
# {index}`skeleta <single: skeleton (of the cube)>`
# $Q_l = \{x \in Q : \#\{j : x_j \neq 0\} = l\}$, $l = 0, \dots, D$: the origin, the open edges
# along the axes, the open coordinate faces, and so on. A sample lies in $Q_l$ when exactly $l$ of
# its Bernoulli switches are on, so the number of non-zero entries is
# $\operatorname{Binomial}(D, 1 - S)$ (and a Poisson-binomial law when the sparsities differ).
# For $S$ near 1 almost all the mass sits on $Q_0 \cup Q_1 \cup Q_2$. The variant
# `tm.exactly_one_active` draws from $Q_1$ only: one feature, chosen with given probabilities,
# is uniform on $(0, 1]$, the others are zero (the 1-sparse data that Chapter 3 studies).

# %%
D, T = 20, 50_000
for S in [0.5, 0.8, 0.95]:
    l = tm.nonzero_counts(tm.sparse_uniform(T, D, S, rng=2))
    freq = np.bincount(l, minlength=D + 1) / T
    P_l = tm.skeleton_probabilities(S, D)
    se = np.sqrt(P_l * (1 - P_l) / T)
    assert np.all(np.abs(freq - P_l) <= 5 * se + 1e-12)
    print(f"S = {S}: P(Q_0 ∪ Q_1 ∪ Q_2) = {P_l[:3].sum():.4f}, empirical {freq[:3].sum():.4f}")
x1 = tm.exactly_one_active(1000, 3, [0.5, 0.3, 0.2], rng=0)
assert np.all(tm.nonzero_counts(x1) == 1)

# %% [markdown]
# {numref}`fig-ch2-skeleta` shows samples in the cube for $D=3$, and {numref}`fig-ch2-skeleton-law`
# the law of $l$ for $D=20$.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Samples in the cube $[0,1]^3$, coloured by the skeleton $Q_\\ell$ they lie on: the sparse data with $S=0.5$ (top) and the 1-sparse data of `tm.exactly_one_active` (bottom), which lies on the three edges $Q_1$.", "name": "fig-ch2-skeleta"}, "image": {"alt": "Two 3D scatter plots of the unit cube: in the first, points at the origin, on the edges, on the faces and inside, in four colours; in the second, points only on the three coordinate axes."}}
fig = plt.figure(figsize=(4.8, 8), layout="constrained")
colors = {0: "k", 1: "C3", 2: "C0", 3: "C2"}
samples = [("$S=0.5$", tm.sparse_uniform(600, 3, 0.5, rng=3)),
           ("exactly one active", tm.exactly_one_active(300, 3, rng=3))]
for k, (title, pts) in enumerate(samples):
    ax = fig.add_subplot(2, 1, k + 1, projection="3d")
    l = tm.nonzero_counts(pts)
    for j in range(4):
        ax.scatter(*pts[l == j].T, s=4, color=colors[j], label=f"$Q_{j}$")
    ax.set_xlabel("$x_1$"), ax.set_ylabel("$x_2$")
    ax.zaxis.set_rotate_label(False)
    ax.set_zlabel("$x_3$", rotation=0)
    ax.set_title(title)
    ax.view_init(elev=20, azim=35)
fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4,
           frameon=False)
plt.show()

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The probability $P(x\\in Q_\\ell)$ that exactly $\\ell$ of $D=20$ features are non-zero, a binomial law, for three sparsities.", "name": "fig-ch2-skeleton-law"}, "image": {"alt": "Three bell-shaped point curves over l from 0 to 20: centred near 10 for S = 0.5, near 4 for S = 0.8 and near 1 for S = 0.95."}}
fig, ax = plt.subplots()
for S, c in zip([0.5, 0.8, 0.95], ["C0", "C1", "C3"]):
    ax.plot(np.arange(D + 1), tm.skeleton_probabilities(S, D), "o-", ms=3, color=c,
            label=f"$S={S}$")
ax.set_xlabel(r"$\ell$, the number of non-zero features")
ax.set_ylabel(r"$P(x \in Q_\ell)$")
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# (sec-ch2-statistics)=
# ## The statistics of Section 2.1, derived
#
# The notes state seven facts about one data point. Each follows from independence and the two
# laws in {eq}`eq-sparse-data`; `sympy.stats` derives them from the random variables themselves.
# A point $x_i = B_iU_i$ is zero exactly when $B_i = 0$ or $U_i = 0$, and the second event has
# probability zero; likewise $x_ix_j = 0$ ($i \neq j$) unless both switches are on.

# %%
from sympy.stats import Bernoulli, E, P, Uniform

S = sp.Symbol("S", nonnegative=True)
B1, B2 = Bernoulli("B_1", 1 - S), Bernoulli("B_2", 1 - S)
U1, U2 = Uniform("U_1", 0, 1), Uniform("U_2", 0, 1)
x1, x2 = B1 * U1, B2 * U2
D_sym = sp.Symbol("D", positive=True, integer=True)

# %% [markdown]
# Each statement, derived from the random variables and compared with the notes' claim:

# %%
derived = {
    "P(x_i = 0)": P(sp.Eq(B1, 0)) + P(sp.Eq(B1, 1)) * P(sp.Eq(U1, 0)),
    "E #nonzero": D_sym * (1 - P(sp.Eq(B1, 0))),  # linearity: D indicators
    "E x_i": E(x1),
    "E x_i^2": E(x1**2),
    "E x_i x_j": E(x1 * x2),
    "P(x_i^2 = 0)": P(sp.Eq(B1, 0)),
    "P(x_i x_j = 0)": 1 - P(sp.And(sp.Eq(B1, 1), sp.Eq(B2, 1))),
}

# %%
claimed = {  # the notes' statements, Section 2.1
    "P(x_i = 0)": S, "E #nonzero": (1 - S) * D_sym, "E x_i": (1 - S) / 2,
    "E x_i^2": (1 - S) / 3, "E x_i x_j": (1 - S) ** 2 / 4,
    "P(x_i^2 = 0)": S, "P(x_i x_j = 0)": 1 - (1 - S) ** 2,
}
for name, expr in derived.items():
    assert sp.simplify(expr - claimed[name]) == 0, name
    print(f"{name:15s} = {sp.factor(expr)}")

# %% [markdown]
# The expected number of non-zero entries uses linearity over the $D$ indicators; `sympy.stats`
# confirms it for a concrete $D$ by summing five independent switches:

# %%
switches = [Bernoulli(f"b_{k}", 1 - S) for k in range(5)]
assert sp.simplify(E(sum(switches)) - 5 * (1 - S)) == 0
s_grid = np.linspace(0, 1, 11)
for name, f in [("P(x_i = 0)", tm.zero_probability), ("E x_i", tm.feature_mean),
                ("E x_i^2", tm.second_moment_diagonal),
                ("E x_i x_j", tm.second_moment_offdiagonal),
                ("P(x_i x_j = 0)", tm.zero_probability_offdiagonal)]:
    assert np.allclose(f(s_grid), sp.lambdify(S, claimed[name])(s_grid)), name

# %% [markdown]
# **Monte Carlo.** `tm.moment_estimates` estimates all seven quantities from a sample, each with
# its standard error (it averages the features within each sample, then uses that the $T$ samples
# are independent). The column `z` is (estimate − closed form)/standard error: a wrong closed
# form would show up as $|z|$ in the tens or hundreds at this sample size.

# %%
for S_val in [0.5, 0.9]:
    sample = tm.sparse_uniform(100_000, 10, S_val, rng=4)
    print(f"S = {S_val}")
    for est in tm.moment_estimates(sample, S_val):
        print(f"  {est.name:15s} {est.value:8.4f} ± {est.se:.1e}  exact {est.exact:.4f}  "
              f"z = {est.z:+.1f}")
        assert abs(est.z) < 4.5, est

# %% [markdown]
# All seven statements of Section 2.1 hold. Note that the diagonal and off-diagonal entries of
# $x \otimes x$ have *different* zero probabilities, $S$ and $1 - (1-S)^2 = S(2 - S)$, and
# different means, $(1-S)/3$ and $(1-S)^2/4$: that difference is what the next section is about.
#
# ## The population second-moment matrix
#
# The notes' $\Sigma = \sum_t x_t x_t^\top$ is a sum, so $\Sigma / T \to \mathbb{E}[xx^\top]$ as
# $T \to \infty$. With equal sparsities the diagonal of $\mathbb{E}[xx^\top]$ is $(1-S)/3$ and
# every off-diagonal entry is $(1-S)^2/4$, so
#
# $$
# \begin{aligned}
# \mathbb{E}[xx^\top] &= a I + b\,\mathbf{1}\mathbf{1}^\top,\qquad b = \frac{(1-S)^2}{4},\\
# a &= \frac{1-S}{3} - \frac{(1-S)^2}{4} = \frac{(1-S)(1+3S)}{12}.
# \end{aligned}
# $$ (eq-population-moment)
#
# Here $a$ is the variance of one feature and $b$ its squared mean. The matrix
# $aI + b\mathbf 1 \mathbf 1^\top$ maps $\mathbf 1$ to $(a + bD)\mathbf 1$ (because
# $\mathbf 1^\top \mathbf 1 = D$) and every $v \perp \mathbf 1$ to $av$. So its eigenvalues are
# $\lambda_1 = a + bD$, with eigenvector $\mathbf 1/\sqrt D$ (the direction of the mean), and
# $\lambda_2 = \dots = \lambda_D = a$, with eigenspace $\mathbf 1^\perp$. sympy confirms the
# factorisation, the spectrum for a concrete $D$, and the ratio of the two eigenvalues:

# %%
a_s = (1 - S) / 3 - (1 - S) ** 2 / 4
b_s = (1 - S) ** 2 / 4
assert sp.simplify(a_s - (1 - S) * (1 + 3 * S) / 12) == 0
assert sp.simplify(a_s - (E(x1**2) - E(x1) ** 2)) == 0 and sp.simplify(b_s - E(x1) ** 2) == 0
D5 = 5
M5 = a_s * sp.eye(D5) + b_s * sp.ones(D5, D5)
eig = {sp.factor(k): v for k, v in M5.eigenvals().items()}
for value, mult in sorted(eig.items(), key=lambda kv: kv[1]):
    print(f"eigenvalue {value}  (multiplicity {mult})")
assert eig == {sp.factor(a_s + D5 * b_s): 1, sp.factor(a_s): D5 - 1}
ones = sp.ones(D5, 1)
assert sp.simplify(M5 * ones - (a_s + D5 * b_s) * ones) == sp.zeros(D5, 1)
ratio = sp.simplify((a_s + D_sym * b_s) / a_s)
print("λ_1 / λ_2 =", ratio)
assert sp.simplify(ratio - (1 + 3 * D_sym * (1 - S) / (1 + 3 * S))) == 0

# %% [markdown]
# `tm.population_second_moment` builds the matrix (also for per-feature sparsities, where it
# is $\operatorname{diag}(p/3 - p^2/4) + (p/2)(p/2)^\top$) and `tm.population_spectrum`
# returns the closed-form spectrum with an explicit orthonormal eigenbasis (the Helmert basis:
# $\mathbf 1/\sqrt D$ and $D-1$ contrasts). Numerically:

# %%
S_val, D = 0.8, 20
Σ_pop = tm.population_second_moment(S_val, D)
λ_pop, U_pop = tm.population_spectrum(S_val, D)
a, b = tm.spike_and_bulk(S_val)
assert np.allclose(U_pop @ np.diag(λ_pop) @ U_pop.T, Σ_pop)
assert np.allclose(np.linalg.eigvalsh(Σ_pop)[::-1], λ_pop)
print(f"a = {a:.4f}, b = {b:.4f}, λ_1 = a + bD = {λ_pop[0]:.4f}, λ_2..λ_D = {λ_pop[1]:.4f}")

# %% [markdown]
# **The empirical matrix against the population one.** For finite $T$ the eigenvalues of
# $\Sigma/T$ scatter around these values. The top one converges to $a + bD$; the $D - 1$ copies of
# $a$ split into a band whose width shrinks like $1/\sqrt T$ (for independent centred entries the
# band is, asymptotically, the {index}`Marchenko–Pastur <single: Marchenko–Pastur law>` interval $a(1 \pm \sqrt{D/T})^2$, of width
# $4a\sqrt{D/T}$).

# %%
x_big = tm.sparse_uniform(100_000, D, S_val, rng=5)
Ts = np.unique(np.geomspace(40, 100_000, 30).astype(int))
spectra = tm.empirical_spectra(x_big, Ts)
width = spectra[:, 1] - spectra[:, -1]
mp_width = 4 * a * np.sqrt(D / Ts)
print(f"T = {Ts[-1]}: λ_1 = {spectra[-1, 0]:.4f} (population {λ_pop[0]:.4f})")
print(f"bulk in [{spectra[-1, -1]:.4f}, {spectra[-1, 1]:.4f}] around a = {a:.4f}")
late = Ts >= 2000
assert abs(spectra[-1, 0] - λ_pop[0]) < 0.01 * λ_pop[0]
assert np.all(np.abs(width[late] / mp_width[late] - 1) < 0.35)
assert np.all(np.diff(spectra[-1]) < 0)  # distinct eigenvalues for finite T

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The eigenvalues of $\\Sigma/T$ for $D=20$, $S=0.8$ as the number of samples $T$ grows (top one red, the others blue), against the population values $a+bD$ and $a$ (dashed) and the Marchenko\u2013Pastur band around $a$ (shaded).", "name": "fig-ch2-spectrum"}, "image": {"alt": "Eigenvalues against T on a log axis: a red curve settling on a dashed line near 0.25, and nineteen blue curves that converge from a wide spread into a narrowing shaded band around a dashed line near 0.05."}}
fig, ax = plt.subplots(figsize=(4.8, 3.4))
ax.semilogx(Ts, spectra[:, 1:], color="C0", lw=0.6)
ax.semilogx(Ts, spectra[:, 0], color="C3", lw=1.5, label="top eigenvalue")
ax.axhline(λ_pop[0], color="C3", ls="--", lw=0.8)
ax.axhline(a, color="k", ls="--", lw=0.8, label="$a$ (multiplicity $D-1$)")
ax.fill_between(Ts, a * (1 - np.sqrt(D / Ts)) ** 2, a * (1 + np.sqrt(D / Ts)) ** 2, color="C0",
                alpha=0.15, label="Marchenko–Pastur band")
ax.set_ylim(0, 0.33)
ax.set_xlabel("$T$")
ax.set_ylabel(r"eigenvalues of $\Sigma/T$")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=1, frameon=False)
plt.show()

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The ratio $\\lambda_1/\\lambda_2=1+3D(1-S)/(1+3S)$ of the top eigenvalue of $\\mathbb{E}[xx^\\top]$ to the others, against the sparsity $S$.", "name": "fig-ch2-ratio"}, "image": {"alt": "Three falling curves on a log scale for D = 5, 20 and 100, from above 10 at S = 0 down to 1 at S = 1."}}
fig, ax = plt.subplots()
for Dv, c in zip([5, 20, 100], ["C0", "C1", "C2"]):
    s = np.linspace(0, 0.999, 400)
    ax.semilogy(s, 1 + 3 * Dv * (1 - s) / (1 + 3 * s), color=c, label=f"$D={Dv}$")
ax.axhline(1, color="k", lw=0.8)
ax.set_xlabel("$S$")
ax.set_ylabel(r"$\lambda_1/\lambda_2$")
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# {numref}`fig-ch2-spectrum` shows the eigenvalues of $\Sigma/T$ converging to the population
# values, and {numref}`fig-ch2-ratio` the size of the spike.
#
# (sec-ch2-sigma-ci)=
# ### Is $\Sigma \approx cI$ for this data?
#
# The notes ask how well the common assumption $\Sigma = I$ (as in {cite:t}`saxe2013exact`) fits
# this data. The computation above answers it in three parts.
#
# 1. **The centred covariance is exactly $aI$.** The features are independent with one variance
#    $a = (1-S)(1+3S)/12$, so $\mathbb{E}[xx^\top] - \mathbb{E}x\,\mathbb{E}x^\top = aI$. On the
#    hyperplane $\mathbf 1^\perp$ the uncentred matrix acts as $aI$ too.
# 2. **The uncentred $\Sigma/T$ is not close to $cI$.** It has a rank-one spike along the mean
#    direction, $\lambda_1/\lambda_2 = 1 + 3D(1-S)/(1+3S)$, which is large unless
#    $D(1-S) \ll 1$, i.e. unless a sample has far fewer than one active feature on average.
#    For $D = 100$, $S = 0.9$ the spike is {glue:text}`spike-100-09:.1f` times the bulk; even
#    at $S = 0.99$ it is {glue:text}`spike-100-099:.2f` times.
#    The best multiple of the identity misses $\Sigma/T$ by $bD/2$ in operator norm, and the
#    relative error $bD/(2\lambda_1)$ tends to $1/2$ as $D \to \infty$ at fixed $S < 1$.
# 3. **Finite samples break the degeneracy.** The population eigenvalue $a$ has multiplicity
#    $D - 1$; the empirical $\Sigma$ has $D - 1$ distinct eigenvalues spread over a band of width
#    about $4a\sqrt{D/T}$.

# %%
ratios = {}
for Dv, Sv in [(100, 0.9), (100, 0.99), (20, 0.8)]:
    λv, _ = tm.population_spectrum(Sv, Dv)
    av, bv = tm.spike_and_bulk(Sv)
    rel = (bv * Dv / 2) / λv[0]  # min over c of ‖E[xxᵀ] − cI‖_op, relative to ‖E[xxᵀ]‖_op
    c_best = (λv[0] + λv[-1]) / 2
    err = np.linalg.norm(tm.population_second_moment(Sv, Dv) - c_best * np.eye(Dv), 2)
    assert np.isclose(err / λv[0], rel)
    print(f"D = {Dv:3d}, S = {Sv}: λ_1/λ_2 = {λv[0] / λv[1]:.3f}, "
          f"relative distance to cI: {rel:.3f}")
    ratios[(Dv, Sv)] = λv[0] / λv[1]
tm.glue("spike-100-09", ratios[(100, 0.9)])
tm.glue("spike-100-099", ratios[(100, 0.99)])
assert np.allclose(tm.centred_covariance(S_val, D), a * np.eye(D))

# %% [markdown]
# (sec-ch2-linear-learns)=
# ### What the linear model of Chapter 1 learns from this data
#
# Chapter 1's Proposition 1 assumes (a) $\Sigma$ invertible and (b) distinct eigenvalues. For the
# *population* matrix, (a) holds for $S < 1$ (all eigenvalues are at least $a > 0$) but (b)
# fails: `tm.eigh_desc` refuses it.

# %%
try:
    tm.eigh_desc(Σ_pop)
    raise AssertionError("expected a repeated eigenvalue")
except ValueError as err:
    print("refused:", str(err).split(" (")[0])

# %% [markdown]
# The population loss is then minimised by a whole family of projections: onto
# $\mathbf 1/\sqrt D$ plus *any* $(d-1)$-dimensional subspace of $\mathbf 1^\perp$. A finite data
# set picks one of them, and which one is decided by sampling noise. To see this, take two
# independent data sets of the same size, build the optimal $AB$ of each from Chapter 1's
# `tm.critical_points` (the index set $I = \{1, \dots, d\}$), and compare:

# %%
d = 3
views = []
for seed in (10, 11):
    Σ_T = tm.second_moment(tm.sparse_uniform(20_000, D, S_val, rng=seed))
    best = min(tm.critical_points(Σ_T, d), key=lambda cp: cp.level)
    views.append(best)
    assert best.I == tuple(range(d))

# %%
A1, A2 = views[0].A, views[1].A
mean_dir = np.ones((D, 1)) / np.sqrt(D)
θ_mean = np.degrees([tm.principal_angles(A, mean_dir)[0] for A in (A1, A2)])
θ_between = np.degrees(tm.principal_angles(A1, A2))
pop_loss = np.array([tm.linear_loss(cp.A, cp.B, Σ_pop) for cp in views])
optimum = λ_pop[d:].sum()
print("angles to the mean direction (degrees):", np.round(θ_mean, 2))
print("principal angles between the two subspaces (degrees):", np.round(θ_between, 1))
print(f"population loss: {pop_loss[0]:.5f}, {pop_loss[1]:.5f} (optimum {optimum:.5f})")

# %% tags=["hide-input"]
assert θ_mean.max() < 2 and θ_between[0] < 2 and θ_between[-1] > 30
excess_pct = 100 * (pop_loss / optimum - 1).max()
assert excess_pct < 0.1
tm.glue("theta-mean-max", np.ceil(10 * θ_mean.max()) / 10)  # "within": rounded up
tm.glue("theta-between-max", θ_between[-1])
tm.glue("pop-excess-pct", np.ceil(100 * excess_pct) / 100)

# %% [markdown]
# Both models contain the mean direction (to within {glue:text}`theta-mean-max:.1f`°), but the
# rest of their subspaces are far apart (their largest principal angle is
# {glue:text}`theta-between-max:.0f`°); yet both are optimal for the population loss to within
# {glue:text}`pop-excess-pct:.2f`%. So, on this data, the linear model learns **the mean direction plus a
# sample-dependent $(d - 1)$-dimensional subspace of the bulk**. Proposition 1 applies to the
# empirical $\Sigma$ (its eigenvalues are distinct with probability one) but its gaps are of
# order $a\sqrt{D/T}/D$: the $\binom{D-1}{d-1}$ critical points that keep the mean direction
# have almost the same loss, and which one is the minimum is an accident of the sample.

# %% [markdown]
# ## Weight tying
#
# ```{index} single: weight tying
# ```
#
# (sec-ch2-factor-two)=
# ### The untied flow, and what the notes drop
#
# Chapter 1 ({ref}`sec-ch1-gradients`) derived the gradient of
# $L(A, B) = \sum_t\lVert x_t - ABx_t\rVert^2$ and checked it with sympy. The notes restate it as
#
# $$
# \nabla L(A,B) = -2\big(A^\top\Sigma - A^\top AB\Sigma,\;\; \Sigma B^\top - AB\Sigma B^\top\big)
# \qquad\text{notes (19)}
# $$ (eq-notes-19)
#
# (the first entry is $\partial L/\partial B$, the second $\partial L/\partial A$) and write the
# gradient flow as
#
# $$
# \frac{d}{dt}B = A^\top(\Sigma - AB\Sigma) \qquad\text{notes (20)}
# $$ (eq-notes-20)
#
# $$
# \frac{d}{dt}A = (\Sigma - AB\Sigma)B^\top \qquad\text{notes (21)}
# $$ (eq-notes-21)
#
# The flow $\dot\theta = -\nabla L$ would carry a factor 2 on both right-hand sides; the notes
# absorb it into "learning rate 1". That is harmless (it rescales time by 2) but worth knowing
# when comparing with code: (20)–(21) is $-\tfrac12\nabla L$. Chapter 1 has already verified
# (19); sympy checks here only this factor, on $D = 3$, $d = 2$ with a general symmetric
# $\Sigma$, differentiating the trace form of $L$:

# %%
Dn, dn = 3, 2
Σs = sp.Matrix(Dn, Dn, lambda i, j: sp.Symbol(f"s{min(i, j) + 1}{max(i, j) + 1}"))
As = sp.Matrix(Dn, dn, lambda i, j: sp.Symbol(f"a{i + 1}{j + 1}"))
Bs = sp.Matrix(dn, Dn, lambda i, j: sp.Symbol(f"b{i + 1}{j + 1}"))
xs = sp.Matrix(Dn, 1, lambda i, _: sp.Symbol(f"x{i + 1}"))
L_AB = lambda Σ_: (Σ_ - 2 * As * Bs * Σ_ + As * Bs * Σ_ * (As * Bs).T).trace()
# the trace form equals the squared error for one data point (Σ = xxᵀ), hence for any sum
r = xs - As * Bs * xs
assert sp.expand(L_AB(xs * xs.T) - (r.T * r)[0]) == 0

# %%
L_sym = L_AB(Σs)
dL_dB = sp.Matrix(dn, Dn, lambda i, j: sp.diff(L_sym, Bs[i, j]))
dL_dA = sp.Matrix(Dn, dn, lambda i, j: sp.diff(L_sym, As[i, j]))
flow_20 = As.T * (Σs - As * Bs * Σs)  # dB/dt
flow_21 = (Σs - As * Bs * Σs) * Bs.T  # dA/dt
assert sp.expand(flow_20 + dL_dB / 2) == sp.zeros(dn, Dn)
assert sp.expand(flow_21 + dL_dA / 2) == sp.zeros(Dn, dn)
print("(20)-(21) are -1/2 of the gradient")

# %% [markdown]
# (sec-ch2-two-flows)=
# ### Imposing $A = B^\top$ gives two flows, not one
#
# Put $B = W$ and $A = W^\top$ with $W \in \mathbb{R}^{d\times D}$. Equation (20) becomes
#
# $$
# \frac{d}{dt}W = W(\Sigma - W^\top W\Sigma) \qquad\text{notes (22)}
# $$ (eq-notes-22)
#
# which is the flow the notes study. But (21) also prescribes a velocity for $A^\top = W$:
# transposing it gives
#
# $$
# \frac{d}{dt}W = W(\Sigma - \Sigma W^\top W),
# $$ (eq-oja)
#
# {index}`Oja's subspace rule <single: Oja's rule>` {cite:p}`oja1982simplified`. The two agree only when
# $WW^\top W\Sigma = W\Sigma W^\top W$, so in general the untied flow started at $A = B^\top$
# leaves the set $\{A = B^\top\}$ at once. "Updates that preserve $A = B^\top$" are therefore a
# choice; the notes choose the $B$-half.

# %%
Ws = sp.Matrix(dn, Dn, lambda i, j: sp.Symbol(f"w{i + 1}{j + 1}"))
Ms = Ws.T * Ws
subs = {**{As[i, j]: Ws[j, i] for i in range(Dn) for j in range(dn)},
        **{Bs[i, j]: Ws[i, j] for i in range(dn) for j in range(Dn)}}
dB_tied = (As.T * (Σs - As * Bs * Σs)).subs(subs)
dA_tied = ((Σs - As * Bs * Σs) * Bs.T).subs(subs)
notes_22 = Ws * (Σs - Ms * Σs)
oja = Ws * (Σs - Σs * Ms)
assert sp.expand(dB_tied - notes_22) == sp.zeros(dn, Dn)
assert sp.expand(dA_tied.T - oja) == sp.zeros(dn, Dn)
assert sp.expand(oja - notes_22 - Ws * (Ms * Σs - Σs * Ms)) == sp.zeros(dn, Dn)

# %% [markdown]
# At a random point the two velocities differ:

# %%
rng = np.random.default_rng(0)
W_ex, G_ex = rng.standard_normal((dn, Dn)), rng.standard_normal((Dn, Dn))
Σ_ex = G_ex @ G_ex.T
gap = np.linalg.norm(tm.oja_field(W_ex, Σ_ex) - tm.notes_field(W_ex, Σ_ex))
print(f"‖Oja − (22)‖ at a random point: {gap:.3f}")
assert gap > 0.1

# %% [markdown]
# Numerically, integrating (20)–(21) from $A_0 = W_0^\top$, $B_0 = W_0$ shows $A - B^\top$
# becoming non-zero. Two facts, both checked below, complete the picture: the untied flow
# conserves $A^\top A - BB^\top$ (differentiate: both derivatives equal
# $A^\top R B^\top + B R^\top A$ with $R = \Sigma - AB\Sigma$), so a tied start stays *balanced*,
# $A^\top A = BB^\top$; and at a full-rank minimum $A = U_IC$, $B = C^{-1}U_I^\top$ balance forces
# $C^\top C = (C^\top C)^{-1}$, i.e. $C$ orthogonal and $B = A^\top$. The untied flow leaves the
# tied set and comes back to it at the end.

# %%
S_het = np.array([0.3, 0.4, 0.85, 0.9, 0.93, 0.96])  # per-feature sparsities: distinct eigenvalues
D_h, d_h = S_het.size, 2
Σ_het = tm.population_second_moment(S_het, D_h)
λ_het, U_het = tm.eigh_desc(Σ_het)
print("eigenvalues of E[xxᵀ]:", np.round(λ_het, 4))
W0 = 0.1 * np.random.default_rng(1).standard_normal((d_h, D_h))
untied = tm.integrate_untied(W0.T, W0, Σ_het, 2000.0, n_eval=401)
offset = np.linalg.norm(untied.A - np.swapaxes(untied.W, 1, 2), axis=(1, 2))
balance = np.swapaxes(untied.A, 1, 2) @ untied.A - untied.W @ np.swapaxes(untied.W, 1, 2)
print(f"max_t ‖A − Bᵀ‖ = {offset.max():.3f}, at the end {offset[-1]:.1e}; "
      f"max_t ‖AᵀA − BBᵀ‖ = {np.abs(balance).max():.1e}")
assert offset.max() > 1e-2 and offset[-1] < 1e-5 and np.abs(balance).max() < 1e-8

# %% [markdown]
# (sec-ch2-tied-gradient)=
# ### The tied loss and its exact gradient
#
# The notes remark that the tied loss $L(W) = \sum_t \lVert x_t - W^\top Wx_t\rVert^2$ is a
# different, quartic functional. With $M = W^\top W$ it is
# $L(W) = \operatorname{tr}\Sigma - 2\operatorname{tr}(M\Sigma) + \operatorname{tr}(M\Sigma M)$, and
# its gradient is the **sum** of the two halves:
#
# $$
# \nabla_W L = -2\big[W(\Sigma - W^\top W\Sigma) + W(\Sigma - \Sigma W^\top W)\big].
# $$ (eq-tied-gradient)
#
# So in the notes' convention ($-\tfrac12\nabla$), the exact tied gradient flow is (22) plus
# {eq}`eq-oja`. sympy derives it:

# %%
L_tied = (Σs - 2 * Ms * Σs + Ms * Σs * Ms).trace()
assert sp.expand(L_tied - L_AB(Σs).subs(subs)) == 0  # the tied loss is L(Wᵀ, W)
grad_tied = sp.Matrix(dn, Dn, lambda i, j: sp.diff(L_tied, Ws[i, j]))
assert sp.expand(grad_tied + 2 * (notes_22 + oja)) == sp.zeros(dn, Dn)
print("∇L(W) = −2[(22) + Oja]  ✓")

# %% [markdown]
# Is (22) perhaps the gradient flow of *some* other function? A smooth vector field is a
# (Euclidean) gradient only if its Jacobian is symmetric. The Jacobian of (22) is not, for a
# generic $\Sigma$, so no function at all has (22) as its gradient flow; for $\Sigma = \lambda I$
# it is symmetric (see the energy below).

# %%
def jacobian(field, W, Σ, h=1e-6):
    n = W.size
    J = np.zeros((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = h
        J[:, k] = (field(W + e.reshape(W.shape), Σ) - field(W - e.reshape(W.shape), Σ)).ravel()
    return J / (2 * h)


# %%
asym = {}
for name, Σ_ in [("generic Σ", Σ_ex), ("Σ = 2I", 2 * np.eye(Dn))]:
    J = jacobian(tm.notes_field, W_ex, Σ_)
    asym[name] = np.abs(J - J.T).max() / np.abs(J).max()
    shown = f"{asym[name]:.2f}" if asym[name] > 1e-8 else "below 1e-8 (rounding)"
    print(f"{name}: relative asymmetry of the Jacobian of (22) = {shown}")
assert asym["generic Σ"] > 0.05 and asym["Σ = 2I"] < 1e-8
J = jacobian(tm.exact_field, W_ex, Σ_ex)
assert np.abs(J - J.T).max() < 1e-6 * np.abs(J).max()  # the exact flow is a gradient flow

# %% [markdown]
# (sec-ch2-energy)=
# ## The eigenbasis form (23)–(28) and the energy (28′)
#
# Write $\Sigma = U\Lambda U^\top$ and $W = \bar W U^\top$ (so $\bar W = WU$). Multiplying (22) on
# the right by $U$ and using $U^\top U = I$:
#
# $$
# \frac{d}{dt}\bar W = \bar W(I - \bar W^\top\bar W)\Lambda \qquad\text{notes (23)}
# $$ (eq-notes-23)
#
# Entry by entry, and then column by column with $\bar w_j$ the $j$-th column of $\bar W$:
#
# $$
# \frac{d}{dt}\bar w_{ij} = \sum_{k,l=1}^D \bar w_{ik}\Big(\delta_{kl} - \sum_{m=1}^d \bar w_{mk}\bar w_{ml}\Big)\delta_{lj}\lambda_j \qquad\text{notes (24)}
# $$ (eq-notes-24)
#
# $$
# \frac{d}{dt}\bar w_j = \sum_{k,l=1}^D\big(\delta_{kl} - \langle\bar w_k,\bar w_l\rangle\big)\delta_{lj}\lambda_j\bar w_k \qquad\text{notes (25)}
# $$ (eq-notes-25)
#
# $$
# \frac{d}{dt}\bar w_j = \sum_{k=1}^D\delta_{kj}\lambda_j\bar w_k - \sum_{k=1}^D\langle\bar w_k,\bar w_j\rangle\lambda_j\bar w_k \qquad\text{notes (26)}
# $$ (eq-notes-26)
#
# $$
# \frac{d}{dt}\bar w_j = \lambda_j\bar w_j - \sum_{k=1}^D\langle\bar w_k,\bar w_j\rangle\lambda_j\bar w_k \qquad\text{notes (27)}
# $$ (eq-notes-27)
#
# $$
# \frac{d}{dt}\bar w_j = (1-\lvert\bar w_j\rvert^2)\lambda_j\bar w_j - \sum_{k\ne j}\langle\bar w_k,\bar w_j\rangle\lambda_j\bar w_k \qquad\text{notes (28)}
# $$ (eq-notes-28)
#
# Each line is checked with sympy below (for $d = 2$, $D = 3$, symbolic $\bar W$ and $\lambda_j$),
# and the change of variables (22) → (23) numerically for a random orthogonal $U$.

# %%
Wb = sp.Matrix(dn, Dn, lambda i, j: sp.Symbol(f"v{i + 1}{j + 1}"))
lam = sp.symbols(f"λ1:{Dn + 1}", positive=True)
Lam = sp.diag(*lam)
δ = lambda i, j: 1 if i == j else 0
col = lambda k: Wb[:, k]
ip = lambda k, l: (col(k).T * col(l))[0]
eq23 = Wb * (sp.eye(Dn) - Wb.T * Wb) * Lam
eq24 = sp.Matrix(dn, Dn, lambda i, j: sum(
    Wb[i, k] * (δ(k, l) - sum(Wb[m, k] * Wb[m, l] for m in range(dn))) * δ(l, j) * lam[j]
    for k in range(Dn) for l in range(Dn)))
steps = {
    "(25)": lambda j: sum(((δ(k, l) - ip(k, l)) * δ(l, j) * lam[j] * col(k)
                           for k in range(Dn) for l in range(Dn)), sp.zeros(dn, 1)),
    "(26)": lambda j: sum((δ(k, j) * lam[j] * col(k) - ip(k, j) * lam[j] * col(k)
                           for k in range(Dn)), sp.zeros(dn, 1)),
    "(27)": lambda j: lam[j] * col(j) - sum((ip(k, j) * lam[j] * col(k) for k in range(Dn)),
                                            sp.zeros(dn, 1)),
    "(28)": lambda j: (1 - ip(j, j)) * lam[j] * col(j) - sum(
        (ip(k, j) * lam[j] * col(k) for k in range(Dn) if k != j), sp.zeros(dn, 1)),
}

# %%
assert sp.expand(eq24 - eq23) == sp.zeros(dn, Dn)
for name, rhs in steps.items():
    for j in range(Dn):
        assert sp.expand(rhs(j) - eq23[:, j]) == sp.zeros(dn, 1), (name, j)

# %%
Q = np.linalg.qr(rng.standard_normal((Dn, Dn)))[0]
λ_ex = np.array([3.0, 2.0, 0.5])
Wbar_ex = rng.standard_normal((dn, Dn))
lhs = tm.notes_field(Wbar_ex @ Q.T, Q @ np.diag(λ_ex) @ Q.T) @ Q
assert np.allclose(lhs, tm.eigenbasis_field(Wbar_ex, λ_ex))
assert np.allclose(tm.column_field(Wbar_ex, λ_ex), tm.eigenbasis_field(Wbar_ex, λ_ex))
print("(22) → (23) → (24) → ... → (28): every step holds")

# %% [markdown]
# Every step from (22) to (28) is correct. The energy is where the notes slip. For
# $\Sigma = \lambda I$ they state that (22) is gradient descent on
#
# $$
# E = \frac14\sum_{i=1}^D\lambda\big(1-\lvert w_i\rvert^2\big)^2 + \frac12\sum_{i,j:\,i\ne j}\lambda\,\lvert\langle w_i,w_j\rangle\rvert^2 .
# \qquad\text{notes (28′)}
# $$ (eq-notes-28p)
#
# The second sum runs over *ordered* pairs, so each interference term $\langle w_i, w_j\rangle^2$
# appears twice, and its derivative with respect to $w_k$ is
# $2\lambda\sum_{j\ne k}\langle w_k, w_j\rangle w_j$: twice the interference term of (28). The
# energy whose negative gradient *is* (28) at $\Lambda = \lambda I$ has $\tfrac14$ in front of
# both sums:
#
# $$
# E_{\text{corr}} = \frac14\sum_{i}\lambda\big(1-\lvert w_i\rvert^2\big)^2 + \frac14\sum_{i\ne j}\lambda\,\langle w_i,w_j\rangle^2
# = \frac{\lambda}{4}\big\lVert I - W^\top W\big\rVert_F^2 ,
# $$ (eq-energy-corrected)
#
# which is exactly $\tfrac14$ of the tied loss at $\Sigma = \lambda I$ (equivalently, the notes'
# (28′) with $\tfrac12$ over *unordered* pairs $i<j$).

# %%
λs = sp.Symbol("λ", positive=True)
E_notes = (sp.Rational(1, 4) * sum(λs * (1 - ip(i, i)) ** 2 for i in range(Dn))
           + sp.Rational(1, 2) * sum(λs * ip(i, j) ** 2 for i in range(Dn) for j in range(Dn) if i != j))
E_corr = (sp.Rational(1, 4) * sum(λs * (1 - ip(i, i)) ** 2 for i in range(Dn))
          + sp.Rational(1, 4) * sum(λs * ip(i, j) ** 2 for i in range(Dn) for j in range(Dn) if i != j))
flow_28 = eq23.subs({l_: λs for l_ in lam})  # (28) with Λ = λI
neg_grad = lambda E_: -sp.Matrix(dn, Dn, lambda i, j: sp.diff(E_, Wb[i, j]))

# %%
excess = neg_grad(E_notes) - flow_28
interference = sp.Matrix.hstack(*[-λs * sum((ip(k, j) * col(k) for k in range(Dn) if k != j),
                                            sp.zeros(dn, 1)) for j in range(Dn)])
assert sp.expand(excess - interference) == sp.zeros(dn, Dn)  # (28′) counts interference twice
assert sp.expand(neg_grad(E_corr) - flow_28) == sp.zeros(dn, Dn)
L_lamI = (λs * sp.eye(Dn) - 2 * λs * Wb.T * Wb + λs * (Wb.T * Wb) ** 2).trace()
assert sp.expand(E_corr - L_lamI / 4) == 0
assert sp.expand(E_corr - λs / 4 * sum(z**2 for z in sp.eye(Dn) - Wb.T * Wb)) == 0
print("−∇(28′) = (28) + an extra copy of the interference term;  −∇E_corr = (28)")

# %% [markdown]
# **Distinct eigenvalues.** For a general $\Lambda$ the notes give no energy, and none exists: for
# $d = 1$, $D = 2$ the field (28) is $f_j = \lambda_j w_j(1 - \lvert w\rvert^2)$ and
# $\partial f_1/\partial w_2 - \partial f_2/\partial w_1 = -2(\lambda_1 - \lambda_2)w_1w_2 \neq 0$,
# so (28) is not a gradient field unless $\lambda_1 = \lambda_2$. The natural weighted energy
# $E_\Lambda = \tfrac14\sum_j\lambda_j(1-\lvert\bar w_j\rvert^2)^2 + \tfrac14\sum_{j\ne k}\lambda_j\langle\bar w_j,\bar w_k\rangle^2$
# is again $\tfrac14$ of the tied loss, but its negative gradient is $\tfrac12\big[(22) + \text{Oja}\big]$,
# which equals (22) only when $\Sigma = \lambda I$ (where the two halves coincide).

# %%
w1, w2, l1, l2 = sp.symbols("w1 w2 λ1 λ2", real=True)
f = [l1 * w1 * (1 - w1**2 - w2**2), l2 * w2 * (1 - w1**2 - w2**2)]
curl = sp.factor(sp.diff(f[0], w2) - sp.diff(f[1], w1))
print("∂f1/∂w2 − ∂f2/∂w1 =", curl)
assert sp.simplify(curl + 2 * (l1 - l2) * w1 * w2) == 0
E_Lam = (sp.Rational(1, 4) * sum(lam[j] * (1 - ip(j, j)) ** 2 for j in range(Dn))
         + sp.Rational(1, 4) * sum(lam[j] * ip(j, k) ** 2 for j in range(Dn) for k in range(Dn) if j != k))
L_Lam = (Lam - 2 * Wb.T * Wb * Lam + Wb.T * Wb * Lam * Wb.T * Wb).trace()
assert sp.expand(E_Lam - L_Lam / 4) == 0
oja_bar = Wb * (Lam - Lam * Wb.T * Wb)
assert sp.expand(neg_grad(E_Lam) - (eq23 + oja_bar) / 2) == sp.zeros(dn, Dn)

# %% [markdown]
# (sec-ch2-fixed-points)=
# ## Fixed points: which flows find the principal subspace?
#
# ```{prf:proposition} Fixed points of the notes' tied flow
# :label: prop-fixed-points-22
#
# Let $\Sigma$ be positive definite. $W$ is a fixed point of (22) if and only if
# $W = WW^\top W$, i.e. if and only if $W^\top W$ is an orthogonal projection. In particular
# every $W$ with orthonormal rows ($WW^\top = I_d$) is a fixed point, whatever $\Sigma$ is.
# ```
#
# ```{prf:proof}
# Since $WW^\top W = GW$ with $G = WW^\top$, (22) reads $\dot W = (I_d - G)W\Sigma$, which vanishes
# iff $(I_d - G)W = 0$ because $\Sigma$ is invertible; that is $W = WW^\top W$. Then
# $M = W^\top W$ satisfies $M^2 = W^\top (WW^\top W) = M$ and is symmetric, so it is an orthogonal
# projection. Conversely, if $M^2 = M$ then
# $(W - WW^\top W)^\top(W - WW^\top W) = M - 2M^2 + M^3 = 0$. If $W$ has rank $d$, $G$ is invertible
# and $(I - G)W = 0$ gives $G = I_d$.
# ```
#
# (The fixed points of the untied flow (20)–(21) are the critical points of $L(A, B)$ that
# Chapter 1 classified.) So the full-rank fixed points of (22) form a whole
# {index}`Stiefel manifold`,
# of dimension $dD - d(d+1)/2$, and
# (22) **does not single out the principal subspace**: it stops wherever the rows of $W$ become
# orthonormal. The fixed points of Oja's rule and of the exact tied flow are the $W$ with
# orthonormal rows spanning an *invariant* subspace of $\Sigma$ (and rank-deficient relatives);
# among them only the principal subspace is stable, by Chapter 1's Proposition 3 for the exact
# flow {cite:p}`baldi1989pca` and by the classical analysis of Oja's rule. One more fact, a
# {index}`Lyapunov function <single: Lyapunov function>`, explains the behaviour of all three
# flows:
#
# ```{prf:proposition} A Lyapunov function shared by the three tied flows
# :label: prop-lyapunov
#
# Let $\Sigma \succeq 0$, $G = WW^\top$ and $K = W\Sigma W^\top$. Along (22) and along Oja's rule,
# $\dot G = (I_d - G)K + K(I_d - G)$ (twice that along the exact flow), and
# $V(W) = \tfrac14\lVert I_d - WW^\top\rVert_F^2$ satisfies
# $\dot V = -c\operatorname{tr}\big((I_d - G)K(I_d - G)\big) \le 0$ with $c = 1, 1, 2$. Since
# $\lVert I_D - W^\top W\rVert_F^2 = \lVert I_d - WW^\top\rVert_F^2 + D - d$, the corrected energy
# {eq}`eq-energy-corrected` with $\lambda = 1$ decreases along (22) for *every* $\Sigma$, not only for
# $\Sigma = \lambda I$.
# ```
#
# ```{prf:proof}
# Along (22), $\dot W = (I - G)W\Sigma$, so $\dot G = \dot W W^\top + W\dot W^\top = (I-G)K + K(I-G)$.
# Along Oja's rule $\dot W = W\Sigma - KW$, so $\dot G = K - KG + K - GK$, the same. Then
# $\dot V = -\tfrac12\operatorname{tr}\big((I - G)\dot G\big) = -\operatorname{tr}\big((I-G)^2K\big)$,
# which is $\le 0$ because $K \succeq 0$. Finally $\operatorname{tr}(W^\top W) = \operatorname{tr}(WW^\top)$
# and $\operatorname{tr}\big((W^\top W)^2\big) = \operatorname{tr}\big((WW^\top)^2\big)$ give the identity
# between the two norms.
# ```
#
# Both propositions are checked numerically: the residual of (22) at random orthonormal-row
# matrices is at rounding level, and the Jacobian of (22) there has rank $d(d+1)/2$, so its
# null space has the dimension $dD - d(d+1)/2$ of the Stiefel manifold (no further flat
# directions); $V$ never increases along any of the flows, while the notes'
# energy (28′) and even the tied loss itself can increase along (22). First the fixed points:

# %%
for _ in range(3):
    Q = np.linalg.qr(rng.standard_normal((D_h, d_h)))[0]
    assert tm.fixed_point_residual(Q.T, Σ_het, "notes") < 1e-13
    assert tm.fixed_point_residual(Q.T, Σ_het, "exact") > 1e-4
    s_J = np.linalg.svd(jacobian(tm.notes_field, Q.T, Σ_het), compute_uv=False)
    rank = np.sum(s_J > 1e-6 * s_J[0])
    assert rank == d_h * (d_h + 1) // 2 and s_J[rank] < 1e-8 * s_J[rank - 1]
assert tm.fixed_point_residual(U_het[:, :d_h].T, Σ_het, "exact") < 1e-13

# %% [markdown]
# Then the rates of change of $V$, of the tied loss and of (28′) along (22), at 300 random
# $(W,\Sigma)$:

# %%
worst = {"V": -np.inf, "tied loss": -np.inf, "(28′)": -np.inf}
for trial in range(300):
    r_ = np.random.default_rng(trial)
    W_r = r_.standard_normal((d_h, D_h)) * r_.uniform(0.1, 2)
    G_r = r_.standard_normal((D_h, D_h))
    Σ_r = G_r @ G_r.T / D_h
    v = tm.notes_field(W_r, Σ_r)
    Gh = W_r @ W_r.T
    dV = -np.trace((np.eye(d_h) - Gh) @ (np.eye(d_h) - Gh) @ W_r @ Σ_r @ W_r.T)
    worst["V"] = max(worst["V"], dV)
    worst["tied loss"] = max(worst["tied loss"], np.sum(tm.tied_gradient(W_r, Σ_r) * v))
    worst["(28′)"] = max(worst["(28′)"], np.sum(tm.energy_notes_gradient(W_r) * v))
    # the formula for dV/dt is the directional derivative of V along (22)
    dV_num = np.sum(-(W_r - Gh @ W_r) * v)  # ∇V = −(I − G)W
    assert np.isclose(dV, dV_num, rtol=1e-8, atol=1e-10)
print("sign of the largest rate of change along (22):")
print({k: ("≤ 0" if v_ <= 0 else "> 0") for k, v_ in worst.items()})
assert worst["V"] <= 0 and worst["tied loss"] > 0 and worst["(28′)"] > 0

# %% [markdown]
# With $d = 1$ the picture is two-dimensional. In the eigenbasis (22) is
# $\dot w = (1 - \lvert w\rvert^2)\Lambda w$: every direction is a power iteration
# ($w \mapsto e^{t\Lambda}w$ up to a change of time), slowed by the factor $1-\lvert w\rvert^2$ that
# stops it on the unit circle. The exact flow adds Oja's term $\Lambda w - (w^\top\Lambda w)w$,
# which keeps rotating $w$ toward the top eigenvector until it gets there
# ({numref}`fig-ch2-phase-portrait`).

# %%
Λ2 = np.diag([2.0, 1.0])
g1, g2 = np.meshgrid(np.linspace(-1.6, 1.6, 41), np.linspace(-1.6, 1.6, 41))
fields = {name: np.array([tm.FLOWS[name](np.array([[u, v]]), Λ2)[0]
                          for u, v in zip(g1.ravel(), g2.ravel())]).reshape(*g1.shape, 2)
          for name in ("notes", "exact")}

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Streamlines of the notes' flow (22) (top) and of the exact tied gradient flow (bottom) for $d=1$, $\\Lambda=\\operatorname{diag}(2,1)$, coloured by $\\log_{10}$ of the speed. Every point of the unit circle (solid) is fixed for (22); the exact flow has only the two attracting fixed points $\\pm e_1$ (dots).", "name": "fig-ch2-phase-portrait"}, "image": {"alt": "Two square phase portraits, one above the other. In the first, streamlines run radially into the unit circle from inside and outside; in the second they also swirl along the circle towards the two dots at (1, 0) and (-1, 0)."}}
fig, axes = plt.subplots(2, 1, figsize=(4.5, 8.4), sharex=True, layout="constrained")
θ = np.linspace(0, 2 * np.pi, 200)
for ax, name in zip(axes, ["notes", "exact"]):
    F = fields[name]
    speed = np.log10(np.hypot(F[..., 0], F[..., 1]) + 1e-3)
    sp_ = ax.streamplot(g1, g2, F[..., 0], F[..., 1], density=1.0, color=speed, cmap="viridis",
                        linewidth=0.7, arrowsize=0.7, norm=plt.Normalize(-3, 1))
    ax.plot(np.cos(θ), np.sin(θ), color="C3", lw=1.5 if name == "notes" else 0.6,
            ls="-" if name == "notes" else ":")
    ax.plot([1, -1], [0, 0], "o", color="C3", ms=6)
    ax.set_aspect("equal")
    ax.set_ylabel(r"$\bar w_2$ ($\lambda=1$)")
    ax.set_title({"notes": "notes' flow (22)", "exact": "exact tied flow"}[name])
axes[1].set_xlabel(r"$\bar w_1$ ($\lambda=2$)")
fig.colorbar(sp_.lines, ax=axes, shrink=0.6, label=r"$\log_{10}$ speed")
plt.show()

# %% [markdown]
# Consequently, where (22) ends depends on the initial scale. From a tiny initialisation
# $W_0$ of size $\varepsilon$ it behaves like $W_0e^{t\Sigma}$ until $\lvert W\rvert$ reaches 1 at
# $t \approx \log(1/\varepsilon)/\lambda_1$ (and its $d$-th direction at about
# $\log(1/\varepsilon)/\lambda_d$); by then the components along the eigenvectors below the top $d$
# have shrunk relative to the top ones by a factor of order
# $\varepsilon^{(\lambda_d - \lambda_{d+1})/\lambda_d}$, so it ends *near* the principal subspace,
# never in it: the angle goes to zero like a power of the initial scale. From an initialisation near the sphere it
# barely moves. Oja's rule and the exact flow reach the principal subspace from every generic
# start (four random starts per scale below).

# %%
scales = np.array([1e-8, 1e-4, 1e-2, 0.3, 1.0])
angles = {"notes": [], "oja": [], "exact": []}
for s in scales:
    for name in angles:
        θs = []
        for seed in range(4):
            W0 = np.random.default_rng(seed).standard_normal((d_h, D_h))
            W0 *= s / np.sqrt(np.linalg.eigvalsh(W0 @ W0.T).max())  # largest singular value = s
            end = tm.integrate_tied(W0, Σ_het, 600.0, flow=name, n_eval=2).W[-1]
            θs.append(tm.subspace_angle(end, Σ_het))
        angles[name].append(np.median(θs))
angles = {k: np.degrees(v) for k, v in angles.items()}

# %%
small = lambda z: "< 1e-6°" if z < 1e-6 else f"{z:.2g}°"
print("median angle between the final row space and the principal subspace:")
for s, a_n, a_o, a_e in zip(scales, angles["notes"], angles["oja"], angles["exact"]):
    print(f"  init scale {s:7.0e}: (22) {a_n:7.2g}°, Oja {small(a_o)}, exact flow {small(a_e)}")
assert np.all(angles["exact"] < 1e-6) and np.all(angles["oja"] < 1e-6)
power = np.log(angles["notes"][1] / angles["notes"][0]) / np.log(scales[1] / scales[0])
predicted = (λ_het[d_h - 1] - λ_het[d_h]) / λ_het[d_h - 1]
print(f"(22): angle ∝ (init scale)^{power:.2f}")
print(f"predicted exponent (λ_2 − λ_3)/λ_2 = {predicted:.2f}")
assert abs(power - predicted) < 0.15
assert angles["notes"][-1] > 10 and angles["notes"][0] < angles["notes"][-1]

# %% [markdown]
# ## The flow on the sparse data
#
# Now the flows on the population matrix of the chapter's data, $\Sigma = \mathbb{E}[xx^\top]$ with
# $S = 0.8$, $D = 6$, $d = 2$, from a small random start: {numref}`fig-ch2-flow-exact` for the
# exact flow and {numref}`fig-ch2-flow-notes` for (22) (`tm.plot_trajectory` draws them).
# The top row shows the Gram matrix $W^\top W$ (diagonal: $\lVert w_i\rVert^2$;
# off-diagonal: the interference $\langle w_i, w_j\rangle$) when $W$ has covered a quarter, a half,
# three quarters and all of the length of its path. Below: the norms and interferences
# over time, and the tied loss above its minimum together with the Lyapunov function $V$ of
# {prf:ref}`prop-lyapunov`.

# %%
S_flow, D_f, d_f = 0.8, 6, 2
Σ_flow = tm.population_second_moment(S_flow, D_f)
W0_f = 0.01 * np.random.default_rng(0).standard_normal((d_f, D_f))
runs = {name: tm.integrate_tied(W0_f, Σ_flow, 400.0, flow=name, n_eval=301)
        for name in ("exact", "notes")}

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The exact tied gradient flow on $\\mathbb{E}[xx^\\top]$ ($S=0.8$, $D=6$, $d=2$). Top: $W^\\top W$ at four times along the path (features numbered 1 to 6). Middle: the norms $\\lVert w_i\\rVert$ (blue) and interferences $\\langle w_i,w_j\\rangle$ (orange) over time. Bottom: the tied loss above its minimum and $V=\\tfrac14\\lVert I-WW^\\top\\rVert_F^2$.", "name": "fig-ch2-flow-exact"}, "image": {"alt": "Four heatmaps of the Gram matrix growing from zero to a rank-two projection with equal entries in the mean direction, above two line plots: norms rising to a plateau with interferences settling, and two decaying curves on a log scale that fall to rounding level."}}
tm.plot_trajectory(runs["exact"], Σ_flow)
plt.show()

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The notes' flow (22) from the same start, drawn as in {numref}`fig-ch2-flow-exact`. The loss stops above its minimum once the rows of $W$ are orthonormal.", "name": "fig-ch2-flow-notes"}, "image": {"alt": "The same layout as the previous figure; the bottom panel shows V falling to rounding level while the tied loss levels off above zero."}}
tm.plot_trajectory(runs["notes"], Σ_flow)
plt.show()

# %% [markdown]
# Both flows first grow $W$ out of its small start, then orthonormalise its rows. The exact flow ends at
# a global minimum: its row space contains $\mathbf 1/\sqrt D$ exactly, plus one direction of the
# degenerate bulk chosen by the initialisation, and $W^\top W$ is the projection
# $\tfrac1D\mathbf 1\mathbf 1^\top + vv^\top$. The notes' flow freezes as soon as the rows are
# orthonormal, slightly off the optimum. Both decrease $V$ monotonically (as they must); the tied
# loss decreases monotonically along the exact flow, which is its gradient flow.

# %%
ones_dir = np.ones((D_f, 1)) / np.sqrt(D_f)
λ_f = tm.population_spectrum(S_flow, D_f)[0]
for name, run in runs.items():
    W_end = run.W[-1]
    θ = tm.principal_angles(W_end.T, ones_dir)[0]
    excess = tm.tied_loss(W_end, Σ_flow) - λ_f[d_f:].sum()
    V_path = np.array([tm.hidden_lyapunov(W) for W in run.W])
    assert np.all(np.diff(V_path) <= 1e-12)
    tiny = lambda z, fmt: "< 1e-6" if z < 1e-6 else format(z, fmt)
    print(f"{name:5s}: ‖WWᵀ − I‖ {tiny(np.linalg.norm(W_end @ W_end.T - np.eye(d_f)), '.1e')}, "
          f"angle to 1 {tiny(np.degrees(θ), '.2g')}°, excess loss {tiny(excess, '.1e')}")

# %% [markdown]
# The checks: the tied loss never increases along the exact flow, which ends at
# $\tfrac1D\mathbf 1\mathbf 1^\top+vv^\top$; (22) ends off the mean direction, above the minimum.

# %%
L_exact = np.array([tm.tied_loss(W, Σ_flow) for W in runs["exact"].W])
assert np.all(np.diff(L_exact) <= 1e-12)
M_end = runs["exact"].gram[-1]
bulk = M_end - ones_dir @ ones_dir.T
assert np.allclose(bulk @ bulk, bulk, atol=1e-8) and np.isclose(np.trace(bulk), 1)
assert np.allclose(bulk @ ones_dir, 0, atol=1e-8)
W_notes = runs["notes"].W[-1]
assert tm.principal_angles(W_notes.T, ones_dir)[0] > 1e-4
assert tm.tied_loss(W_notes, Σ_flow) - λ_f[d_f:].sum() > 1e-6

# %% [markdown]
# (sec-ch2-minibatch)=
# ## Flow, gradient descent and minibatches
#
# The notes work with a fixed $\Sigma$ and a continuous time. Training does neither: it takes
# discrete steps, and it re-estimates $\Sigma$ from every minibatch of $B$ fresh samples, the
# "deliberate sloppiness" the notes own up to. Three levels of approximation, compared here on
# the per-feature sparsities `S_het` above (their $\mathbb{E}[xx^\top]$ has distinct eigenvalues,
# so the minimiser $W^\top W = P$, the projection onto the top two eigenvectors, is unique):
#
# 1. the exact tied flow, integrated by `solve_ivp`;
# 2. gradient descent on the exact $\Sigma$, $W \leftarrow W - \eta\nabla L(W)$, which follows the
#    flow of $-\nabla L$ at time $t = \eta k$ up to an error of order $\eta$;
# 3. minibatch SGD and Adam {cite:p}`kingma2014adam` on fresh batches (`toymodels.train.engine`), whose
#    gradient is the exact gradient for the batch estimate $\Sigma_B/B$ of $\mathbb{E}[xx^\top]$.
#
# First, (1) against (2): the distance at a fixed time halves when the step halves.

# %%
W0_g = 0.5 * np.random.default_rng(3).standard_normal((d_h, D_h))
t_end = 40.0
flow_end = tm.integrate_tied(W0_g, Σ_het, t_end, flow="exact", n_eval=2).W[-1]
gd_err = {}
for h in [0.1, 0.05, 0.025]:
    gd = tm.gradient_descent_tied(W0_g, Σ_het, h, int(round(t_end / h)), flow="exact")
    gd_err[h] = np.linalg.norm(gd.W[-1] - flow_end)
    print(f"step {h}: ‖W_GD − W_flow‖ at t = {t_end:.0f}: {gd_err[h]:.2e}")
assert 1.8 < gd_err[0.1] / gd_err[0.05] < 2.3 and 1.8 < gd_err[0.05] / gd_err[0.025] < 2.3

# %% [markdown]
# ### The training loop behind `train`
#
# Item (3) needs minibatch training, which the book does with its trainer
# `toymodels.train.engine.train`: many independent models side by side, fast (hand-derived
# gradients, one fused optimiser step over all parameters, the data drawn in parallel). What it
# computes is the plain loop below, `train_reference`, which takes the same configuration and
# returns the same kind of result. Each step draws that step's batch of the sparse data, computes
# every model's loss $L = \frac1T\sum_t\sum_i \omega_i (x_{ti} - \hat x_{ti})^2$, lets autograd
# differentiate the sum of the models' losses (they share no parameter, so each model receives
# the gradient of its own loss) and takes one `torch.optim` step at the schedule's learning rate.
# Two lines go beyond that: `plan.one_thread()` (one torch thread on the CPU, as the fast trainer
# uses) and `check`, which stops a run whose loss becomes NaN, infinite or runs away, naming the
# step and the model. Both loops start from the same initial weights, draw the same batches and
# use the same learning rates, so their loss curves differ only by floating-point rounding (the
# same sums taken in another order); the second cell checks this on four tied models of the
# sparse data above, trained for 200 steps.

# %%
import inspect

print(inspect.getsource(tm.train_reference))

# %% tags=["nbval-ignore-output"]
cfg_ref = tm.TrainConfig(model="tied", D=D_h, d=d_h, n=4, S=np.broadcast_to(S_het, (4, D_h)),
                      batch_size=64, steps=200, lr=3e-3, log_every=20, progress=False)
fast_run, plain_run = tm.train_models(cfg_ref), tm.train_reference(cfg_ref)
ref_gap = np.max(np.abs(fast_run.loss_history - plain_run.loss_history) / plain_run.loss_history)
tm.glue("ref-max-gap", ref_gap, 2)
print(f"largest relative difference between the logged losses: {ref_gap:.1e}")
assert ref_gap < 100 * np.finfo(np.float32).eps  # float32: rounding, not a different computation

# %% [markdown]
# The largest relative difference is {glue:text}`ref-max-gap:.0e`, within a hundred units of
# float32's rounding error ($1.2\times10^{-7}$): the fast trainer is this loop, computed
# differently.

# %% [markdown]
# Now (3). With a constant learning rate, minibatch training does not converge to the minimum: it
# settles into a cloud around it whose size is set by the gradient noise. For SGD the excess loss
# of that cloud scales like $\eta/B$; gradient descent on the exact $\Sigma$ (the limit
# $B \to \infty$) converges to $P$ itself. Each configuration trains 8 independent models from the
# trainer's default initialisation for 3000 steps.

# %%
P_top = U_het[:, :d_h] @ U_het[:, :d_h].T
L_min = λ_het[d_h:].sum()
batch_sizes = np.array([4, 16, 64, 256, 1024])
n_inst, n_steps, η = 8, 3000, 0.1
sgd_like = {}
for opt, lr in [("sgd", η), ("adam", 3e-3)]:
    excess, dist = [], []
    for B in batch_sizes:
        cfg = tm.TrainConfig(model="tied", D=D_h, d=d_h, n=n_inst,
                          S=np.broadcast_to(S_het, (n_inst, D_h)), batch_size=int(B),
                          steps=n_steps, lr=lr, optimizer=opt, log_every=n_steps, seed=int(B),
                          progress=False)
        W_fin = tm.train_models(cfg, prefetch=False).W
        excess.append(np.mean([tm.tied_loss(W, Σ_het) - L_min for W in W_fin]))
        dist.append(np.mean(np.linalg.norm(tm.gram(W_fin) - P_top, axis=(1, 2))))
    sgd_like[opt] = (np.array(excess), np.array(dist))

# %%
W0_gd = np.sqrt(2 / (d_h + D_h)) * np.random.default_rng(4).standard_normal((d_h, D_h))
gd_end = tm.gradient_descent_tied(W0_gd, Σ_het, 2 * η, n_steps, flow="exact").W[-1]
gd_excess = tm.tied_loss(gd_end, Σ_het) - L_min
gd_dist = np.linalg.norm(tm.gram(gd_end) - P_top)
print("gradient descent on the exact Σ: excess loss "
      f"{'< 1e-12' if gd_excess < 1e-12 else f'{gd_excess:.0e}'}, ‖WᵀW − P‖ "
      f"{'< 1e-6' if gd_dist < 1e-6 else f'= {gd_dist:.0e}'}")

# %% tags=["nbval-ignore-output"]
print(f"excess loss for B = {batch_sizes.tolist()}:")
for opt, (excess, dist) in sgd_like.items():
    slope = np.polyfit(np.log(batch_sizes), np.log(excess), 1)[0]
    dist_slope = np.polyfit(np.log(batch_sizes), np.log(dist), 1)[0]
    print(f"{opt:4s}: {np.array2string(excess, precision=1)}")
    print(f"      log-log slope {slope:.1f} (distance to P: {dist_slope:.2f})")
    sgd_like[opt] += (slope, dist_slope)
    tm.glue(f"{opt}-loss-slope", slope, 2)
    tm.glue(f"{opt}-dist-slope", sgd_like[opt][3], 2)

# %% tags=["hide-input"]
assert gd_excess < 1e-12 and gd_dist < 1e-6
assert -1.3 < sgd_like["sgd"][2] < -0.7
assert sgd_like["adam"][2] > sgd_like["sgd"][2] + 0.2
assert np.all(np.diff(sgd_like["sgd"][1]) < 0)
assert -0.7 < sgd_like["sgd"][3] < -0.3  # ‖WᵀW − P‖ ∝ 1/√B

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Minibatch training of the tied model on fresh batches, averaged over the trained models: the population loss above its minimum (top) and the distance $\\lVert W^\\top W-P\\rVert$ to where the flow ends (bottom), against the batch size $B$. Dashed: the slopes $1/B$ and $1/\\sqrt B$.", "name": "fig-ch2-minibatch"}, "image": {"alt": "Two log-log plots, one above the other, against batch size from 4 to 1024: the SGD points fall along the dashed reference lines, the Adam points fall more slowly."}}
fig, axes = plt.subplots(2, 1, figsize=(4.5, 6.4), sharex=True, layout="constrained")
for opt, (excess, dist, *_) in sgd_like.items():
    axes[0].loglog(batch_sizes, excess, "o-", label=f"{opt} (lr {η if opt == 'sgd' else 3e-3:g})")
    axes[1].loglog(batch_sizes, dist, "o-", label=opt)
axes[0].loglog(batch_sizes, sgd_like["sgd"][0][0] * batch_sizes[0] / batch_sizes, "k--", lw=0.8,
               label=r"$\propto 1/B$")
axes[1].loglog(batch_sizes, sgd_like["sgd"][1][0] * np.sqrt(batch_sizes[0] / batch_sizes), "k--",
               lw=0.8, label=r"$\propto 1/\sqrt{B}$")
axes[0].set_ylabel("population loss − minimum")
axes[1].set_ylabel(r"$\|W^\top W - P\|$")
axes[1].set_xlabel("batch size $B$")
for ax in axes:
    ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# SGD ends a distance $\propto 1/\sqrt B$ from where the flow and exact gradient descent end
# (measured exponent {glue:text}`sgd-dist-slope:.2f`), with excess loss $\propto 1/B$ (measured
# {glue:text}`sgd-loss-slope:.1f`); see {numref}`fig-ch2-minibatch`. Adam's cloud shrinks more slowly with $B$: it normalises each
# coordinate's step by a running estimate of the gradient's size, so near the minimum, where the
# gradient is mostly noise, its steps stay of size about the learning rate whatever $B$ is. The
# sloppiness is therefore harmless for *where* training goes on this problem (the mean gradient
# is the exact one), and it controls *how close* it gets: the flow describes SGD up to
# fluctuations of order $\sqrt{\eta/B}$.
#
# ## Playground
#
# `tm.flow_playground` integrates a tied flow on $\mathbb{E}[xx^\top]$ of the sparse data and draws
# it as in {numref}`fig-ch2-flow-exact`; {numref}`fig-ch2-playground` is one example. Change the sparsity (a number, or one per feature), the sizes, the initial
# scale or the flow (`"exact"`, `"notes"` or `"oja"`) and rerun; each call takes about a second.
# In a live notebook with widgets (e.g. Colab) the next cell, hidden in the book, adds sliders.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The playground's example: the notes' flow (22) for $S=0.9$, $D=8$, $d=3$ from a start of scale $0.5$, drawn as in {numref}`fig-ch2-flow-exact`.", "name": "fig-ch2-playground"}, "image": {"alt": "Four Gram-matrix heatmaps of an 8 by 8 matrix, norms and interferences over time, and the tied loss and V on a log scale."}}
play = tm.flow_playground(S=0.9, D=8, d=3, init_scale=0.5, t_max=600.0, flow="notes")
plt.show()

# %% tags=["remove-cell"]
if tm.widgets_live():
    try:
        from ipywidgets import interact

        def _play(S=0.8, D=6, d=2, log10_init=-2.0, flow="exact"):
            tm.flow_playground(S=S, D=D, d=d, init_scale=10**log10_init, flow=flow)
            plt.show()

        interact(_play, S=(0.0, 0.99, 0.01), D=(3, 12), d=(1, 5), log10_init=(-6.0, 0.5, 0.5),
                 flow=["exact", "notes", "oja"])
    except ImportError:
        pass

# %% [markdown]
# ## Summary
#
# - The sparse data has independent entries $x_i = B_iU_i$; its samples live on the skeleta $Q_l$
#   with $l \sim \operatorname{Binomial}(D, 1-S)$. All seven statistics of Section 2.1 are right
#   (derived with `sympy.stats`, confirmed by Monte Carlo).
# - $\mathbb{E}[xx^\top] = aI + b\mathbf 1\mathbf 1^\top$ with $a = (1-S)(1+3S)/12$, $b = (1-S)^2/4$:
#   eigenvalue $a + bD$ on the mean direction and $a$ (multiplicity $D-1$) on its complement. The
#   *centred* covariance is exactly $aI$; the uncentred $\Sigma$ is not close to $cI$ unless
#   $D(1-S) \ll 1$. The population $\Sigma$ violates assumption (b) of Proposition 1, and the
#   linear model learns the mean direction plus a sample-dependent subspace of the bulk.
# - The notes' (19)–(21) are right up to the factor 2 absorbed into "learning rate 1". Imposing
#   $A = B^\top$ on (20)–(21) gives two different flows: (22) from (20) and Oja's rule from (21).
#   The exact gradient flow of the tied loss is their sum; (22) alone is not the gradient flow of
#   any function unless $\Sigma = \lambda I$.
# - (23)–(28) follow correctly from (22). The energy (28′) double-counts interference: with $\tfrac14$
#   on both sums (or $\tfrac12$ over unordered pairs) it is $\tfrac\lambda4\lVert I - W^\top W\rVert_F^2$,
#   a quarter of the tied loss, and generates (28) at $\Sigma = \lambda I$. With distinct
#   eigenvalues no energy generates (28).
# - Every $W$ with orthonormal rows is a fixed point of (22), so (22) does not select the principal
#   subspace; Oja's rule and the exact flow do. $\tfrac14\lVert I - WW^\top\rVert_F^2$ decreases along
#   all three flows for every $\Sigma$.
# - Gradient descent follows the flow to first order in the step; minibatch SGD ends a distance
#   $\propto 1/\sqrt B$ from it, Adam a distance that depends less on $B$.

# %% [markdown]
# ## Exercises
#
# The solutions are hidden; each one runs when the book is built, and its asserts check the
# answer.
#
# ```{exercise} The most variable feature
# :label: ex-ch2-variance
#
# The variance of one feature is $a(S)=(1-S)(1+3S)/12$ ({eq}`eq-population-moment`). For which
# sparsity is it largest, and what is the largest variance? Why is it not largest for dense
# data?
# ```
#
# ````{solution-start} ex-ch2-variance
# :class: dropdown
# ````
#
# $a'(S)=\big(3(1-S)-(1+3S)\big)/12=(2-6S)/12$ vanishes at $S=1/3$, where $a=1/9$. Dense data
# ($S=0$) is uniform on $[0,1]$, with variance $1/12$; switching a feature off now and then adds
# the spread between the atom at $0$ and the uniform part, until the atom dominates.

# %%
S_sym = sp.Symbol("S")
a_of_S = (1 - S_sym) * (1 + 3 * S_sym) / 12
S_best = sp.solve(sp.diff(a_of_S, S_sym), S_sym)
assert S_best == [sp.Rational(1, 3)] and a_of_S.subs(S_sym, S_best[0]) == sp.Rational(1, 9)
assert a_of_S.subs(S_sym, 0) == sp.Rational(1, 12)
print(f"largest variance at S = {S_best[0]}: a = {a_of_S.subs(S_sym, S_best[0])}")

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} How sparse is sparse enough?
# :label: ex-ch2-skeleta
#
# For $D=20$ features, find the smallest sparsity $S$ at which $99\%$ of the samples lie on
# $Q_0\cup Q_1\cup Q_2$. What is the expected number of active features there?
# ```
#
# ````{solution-start} ex-ch2-skeleta
# :class: dropdown
# ````
#
# $P(Q_0\cup Q_1\cup Q_2)$ increases with $S$, so a root finder on
# $P(Q_0\cup Q_1\cup Q_2)-0.99$ gives the threshold. It is close to $S=0.98$, where a sample
# has on average fewer than half an active feature: "sparse" in the notes' sense needs
# $D(1-S)$ well below one.

# %%
from scipy.optimize import brentq

mass_012 = lambda S_: tm.skeleton_probabilities(S_, 20)[:3].sum() - 0.99
S_99 = brentq(mass_012, 0.5, 0.9999, xtol=1e-12)
assert abs(mass_012(S_99)) < 1e-9 and mass_012(S_99 - 1e-3) < 0 < mass_012(S_99 + 1e-3)
assert 20 * (1 - S_99) < 0.5
print(f"S = {S_99:.4f}: expected number of active features {20 * (1 - S_99):.3f}")

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} When the two halves agree
# :label: ex-ch2-isotropic
#
# Show that for $\Sigma=\lambda I$ the notes' flow (22) and Oja's rule {eq}`eq-oja` are the same
# vector field, so that the exact tied gradient flow is twice (22). Check it at a random $W$
# with `tm.notes_field`, `tm.oja_field` and `tm.exact_field`.
# ```
#
# ````{solution-start} ex-ch2-isotropic
# :class: dropdown
# ````
#
# With $\Sigma=\lambda I$, (22) is $\lambda(W-WW^\top W)$ and Oja's rule is
# $\lambda(W-WW^\top W)$ as well, because $W^\top W$ commutes with $I$. The exact flow is their
# sum {eq}`eq-tied-gradient`, so it is twice (22): the same trajectories, run twice as fast.

# %%
W_iso = np.random.default_rng(12).standard_normal((2, 5))
Σ_iso = 1.7 * np.eye(5)
v22, v_oja = tm.notes_field(W_iso, Σ_iso), tm.oja_field(W_iso, Σ_iso)
assert np.allclose(v22, v_oja, atol=1e-12)
assert np.allclose(tm.exact_field(W_iso, Σ_iso), 2 * v22, atol=1e-12)
print(f"‖(22) − Oja‖ = {np.linalg.norm(v22 - v_oja):.1e} at Σ = 1.7 I")

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Where does (22) stop?
# :label: ex-ch2-exponent
#
# The argument before the flows on the sparse data predicts that (22), started from a tiny
# $W_0$ of size $\varepsilon$, ends at an angle of order
# $\varepsilon^{(\lambda_d-\lambda_{d+1})/\lambda_d}$ from the principal subspace. Test the
# prediction for $d=1$ and $\Sigma=\operatorname{diag}(3,2,1)$ by integrating from
# $\varepsilon=10^{-8}$ and $10^{-4}$ (median over four random directions). Can you make the
# argument rigorous for $d=1$? (Hint: follow $\log(\bar w_2/\bar w_1)$ along the flow.)
# ```
#
# ````{solution-start} ex-ch2-exponent
# :class: dropdown
# ````
#
# The predicted exponent is $(3-2)/3=1/3$. For $d=1$ the flow is
# $\dot{\bar w}_j=(1-\lvert\bar w\rvert^2)\lambda_j\bar w_j$, so
# $\frac{d}{dt}\log(\bar w_2/\bar w_1)=-(1-\lvert\bar w\rvert^2)(\lambda_1-\lambda_2)$ and
# $\frac{d}{dt}\log\bar w_1=(1-\lvert\bar w\rvert^2)\lambda_1$. Dividing, the ratio
# $\bar w_2/\bar w_1$ shrinks by exactly the factor $(\bar w_1(\infty)/\bar w_1(0))^{-(\lambda_1-\lambda_2)/\lambda_1}$,
# and $\bar w_1$ grows from order $\varepsilon$ to order one: hence the power
# $\varepsilon^{(\lambda_1-\lambda_2)/\lambda_1}$, up to a factor that depends on the direction
# of $W_0$.

# %%
Σ_ex2 = np.diag([3.0, 2.0, 1.0])
median_angle = []
for ε in (1e-8, 1e-4):
    ends = []
    for seed in range(4):
        w0 = np.random.default_rng(seed).standard_normal((1, 3))
        w_end = tm.integrate_tied(ε * w0 / np.linalg.norm(w0), Σ_ex2, 600.0, n_eval=2).W[-1]
        ends.append(tm.subspace_angle(w_end, Σ_ex2))
    median_angle.append(np.median(ends))
exponent = np.log(median_angle[1] / median_angle[0]) / np.log(1e4)
assert abs(exponent - 1 / 3) < 0.02
print(f"measured exponent {exponent:.3f}, predicted 1/3")

# %% [markdown]
# ````{solution-end}
# ````
