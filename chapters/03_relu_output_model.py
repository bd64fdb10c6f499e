# %% [markdown]
# # The ReLU output model, the integral loss and the Thomson problem
#
# Section 3 of {cite:t}`beckerkahn2022notes` puts a bias and a ReLU on the output of the tied
# model. That is the model of the Toy Models of Superposition paper
# {cite:p}`elhage2022superposition`. The notes write the loss as an integral against the law of
# the sparse data. They observe that for sparse data most of the mass sits on the
# low-dimensional *skeleta* of the cube, and they leave two questions open. How much is lost by
# keeping only the 1-sparse inputs? And how does the model connect to the Thomson problem?
#
# **What you will learn.**
# - How to evaluate the integral loss three ways: by Monte Carlo with a standard error, by an
#   exact decomposition over the skeleta, and in closed form on the first skeleta
#   ($L_0$, $L_1$ derived with sympy; $L_2$ by exact piecewise quadrature).
# - How much mass lies off the 1-sparse skeleton, how large the error of the 1-sparse
#   approximation is, and how close its minimisers are to those of the full loss.
# - The Toy Models results, reproduced with the book's batched trainer: the pentagon, the
#   phase diagram of 2 features in 1 dimension beside closed-form losses, and the sticky
#   fractions of "dimensions per feature".
# - Where the Thomson analogy holds and where it breaks, with numbers.
#
# **What you need.** The sparse data of Chapter 2 (Section 2.1 of the notes) and the energy
# (28′): its interference term reappears here as a frame potential.

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

# %% [markdown]
# (sec-ch3-model)=
# ## The model and the integral loss
#
# A data point $x\in[0,1]^D$ has independent coordinates $x_i=B_iU_i$, where
# $B_i\sim\text{Bernoulli}(1-S_i)$ and $U_i\sim\text{Uniform}[0,1]$. Its law is $\mu$. The model
# embeds feature $i$ as the column $w_i\in\mathbb{R}^d$ of $W\in\mathbb{R}^{d\times D}$ and
# reconstructs
#
# $$\hat x = \operatorname{ReLU}(W^\top W x + b).$$ (eq-relu-model)
#
# This book uses the paper's sign, $+b$. The notes write $-b$, so their $b$ is our $-b$.
# The loss weights feature $i$ by its importance $\omega_i\ge0$:
#
# $$L(W,b)=\int_{[0,1]^D}\sum_{i=1}^D\omega_i\big(x_i-\hat x_i\big)^2\,d\mu(x).$$ (eq-integral-loss)
#
# With $\omega=1$ this is the notes' second display of Section 3.1. It is a **sum** over
# features. The Toy Models paper averages over features, so its loss is ours divided by $D$.
# For SGD its learning rates are therefore $D$ times ours. Adam is invariant to a constant
# scale of the loss (up to its $\varepsilon$), so with Adam the same learning rate does the
# same thing in both conventions.
#
# The trainer estimates {eq}`eq-integral-loss` with a fresh batch at every step. To *evaluate*
# a model we can do better. First, the plain Monte Carlo estimate with its standard error, for
# one random model:

# %%
rng = np.random.default_rng(0)
D, d = 5, 2
W_demo = rng.normal(size=(d, D))
b_demo = 0.3 * rng.normal(size=D)
ω_demo = 0.9 ** np.arange(D)
mc = tm.monte_carlo_loss(W_demo, b_demo, ω_demo, 0.7, T=400_000, rng=1)
print(f"Monte Carlo: L = {mc.mean:.3f} ± {mc.se:.3f}  (T = {mc.T})")

# %% [markdown]
# (sec-ch3-skeleta)=
# ## The decomposition over the skeleta
#
# Let $Q_l\subset Q=[0,1]^D$ be the points with exactly $l$ non-zero coordinates. The notes
# write the disjoint union as $C=\bigcup_{l=0}^{n}Q_l$. They mean $Q=\bigcup_{l=0}^{D}Q_l$:
# the cube, with $l$ running up to $D$. Except on a null set, $x\in Q_l$ exactly when $l$
# features are active.
#
# ```{prf:proposition} Skeleton decomposition
# :label: prop-skeleta
#
# Write $P_l=\mu(Q_l)$ for the probability that exactly $l$ features are active, and $L_l$ for
# the expected loss given that. Then
#
# $$L=\sum_{l=0}^{D}P_l\,L_l .$$
#
# For equal sparsity, $P_l=\binom{D}{l}(1-S)^lS^{D-l}$. In general, $P_l$ is the
# Poisson-binomial law of $\sum_iB_i$. Given a set $A$ of active features, the active values
# are iid uniform on $[0,1]^A$. Hence $L_l=\sum_{|A|=l}P(A)L_A/P_l$, where
# $P(A)=\prod_{i\in A}(1-S_i)\prod_{k\notin A}S_k$ and $L_A$ is the integral of the loss over
# the face $[0,1]^A$.
# ```
#
# ```{prf:proof}
# The events $\{x\in Q_l\}$ partition the space up to the null set where some $U_i=0$, so the
# law of total expectation gives the sum. Conditioning further on which set $A$ is active, the
# $B$'s are fixed and the $U_i$, $i\in A$, are still iid uniform, independent of $B$.
# ```
#
# `tm.skeleton_decomposition` evaluates $L_0$, $L_1$, $L_2$ exactly (next section). It
# estimates the rest, $\sum_{l\ge3}P_lL_l$, by sampling *conditionally* on $l\ge3$, so no
# sample is spent on the skeleta already done exactly.

# %%
dec = tm.skeleton_decomposition(W_demo, b_demo, ω_demo, 0.7, T_tail=100_000, rng=2)
print("P_l:", np.round(dec.P, 4))
print("exact L_0, L_1, L_2:", np.round(dec.L_exact, 4))
print(f"tail l >= 3: {dec.tail:.4f} ± {dec.tail_se:.4f}")
print(f"decomposition: {dec.total:.4f} ± {dec.total_se:.4f}")
print(f"Monte Carlo:   {mc}")
assert abs(dec.total - mc.mean) < 5 * np.hypot(mc.se, dec.total_se)
assert dec.total_se < mc.se / 2
tm.glue("se-ratio", mc.se / dec.total_se, 2)
tm.glue("mass-012-pct", 100 * dec.P[:3].sum(), 2)

# %% [markdown]
# The two estimates agree within their errors. The decomposition's standard error is
# {glue:text}`se-ratio:.1f` times smaller, because most of the mass
# ({glue:text}`mass-012-pct:.0f`% here, on $Q_0\cup Q_1\cup Q_2$) is done exactly. With
# per-feature sparsity the weights become Poisson-binomial; the check is the same:

# %%
S_vec = np.array([0.3, 0.6, 0.9, 0.7, 0.8])
dec_v = tm.skeleton_decomposition(W_demo, b_demo, ω_demo, S_vec, rng=3)
mc_v = tm.monte_carlo_loss(W_demo, b_demo, ω_demo, S_vec, T=400_000, rng=4)
print("Poisson-binomial P_l:", np.round(dec_v.P, 4))
print(f"decomposition {dec_v.total:.4f}, Monte Carlo {mc_v}")
assert abs(dec_v.total - mc_v.mean) < 5 * np.hypot(mc_v.se, dec_v.total_se)

# %% [markdown]
# ## $L_0$, $L_1$ and $L_2$ exactly
#
# On $Q_0$ the input is $0$ and the output is $\operatorname{ReLU}(b)$, so
# $L_0=\sum_k\omega_k\operatorname{ReLU}(b_k)^2$. On the edge of feature $i$, $x=ue_i$ and
# $\hat x_k=\operatorname{ReLU}\big(u\langle w_k,w_i\rangle+b_k\big)$. Hence
#
# $$\begin{aligned}
# \ell_i={}&\omega_i\int_0^1\big(u-\operatorname{ReLU}(u\lVert w_i\rVert^2+b_i)\big)^2du\\
#   &+\sum_{k\ne i}\omega_k\int_0^1\operatorname{ReLU}\big(u\langle w_k,w_i\rangle+b_k\big)^2du,
# \end{aligned}$$ (eq-ell-i)
#
# and $L_1=\sum_iP(\{i\})\,\ell_i/P_1$. For equal sparsity this is $\frac1D\sum_i\ell_i$.
# Both integrands are piecewise quadratic in $u$. The kink sits where $au+c$ changes sign,
# at $u=-c/a$. Sympy does each regime:

# %%
a, c, u = sp.symbols("a c u", real=True)
relu_piece = (a * u + c) ** 2
recon_piece = ((1 - a) * u - c) ** 2  # (u − (au + c))² where the ReLU is active
regimes = {  # name: (active interval of u ↦ au + c within [0, 1], sampler of (a, c))
    "a>0, -a<c<0": ((-c / a, 1), lambda r: (r.uniform(0.1, 3), None)),
    "a<0, 0<c<-a": ((0, -c / a), lambda r: (r.uniform(-3, -0.1), None)),
    "active on all of [0,1]": ((0, 1), lambda r: (r.uniform(-3, 3), None)),
}

# %%
closed = {}
for name, ((lo, hi), _) in regimes.items():
    relu_int = sp.integrate(relu_piece, (u, lo, hi))
    recon_int = (sp.integrate(u**2, (u, 0, 1)) - sp.integrate(u**2, (u, lo, hi))
                 + sp.integrate(recon_piece, (u, lo, hi)))
    closed[name] = (sp.factor(relu_int), sp.simplify(recon_int))
    print(f"{name}:  ∫ReLU² = {closed[name][0]}")

# %% [markdown]
# In the first regime the interference integral is $(a+c)^3/(3a)$. Below we check each sympy
# expression against the closed form in `toymodels` at random points of its regime.

# %%
assert sp.simplify(closed["a>0, -a<c<0"][0] - (a + c) ** 3 / (3 * a)) == 0
r = np.random.default_rng(5)
for name, (f_relu, f_recon) in closed.items():
    F1, F2 = sp.lambdify((a, c), f_relu), sp.lambdify((a, c), f_recon)
    for _ in range(200):
        av = regimes[name][1](r)[0]
        if name == "a>0, -a<c<0":
            cv = r.uniform(-av, 0)
        elif name == "a<0, 0<c<-a":
            cv = r.uniform(0, -av)
        else:
            cv = r.uniform(max(0, -av), 3)
        assert np.isclose(tm.relu_sq_integral(av, cv), F1(av, cv), rtol=1e-12, atol=1e-14)
        assert np.isclose(tm.recon_sq_integral(av, cv), F2(av, cv), rtol=1e-12, atol=1e-14)
print("sympy and toymodels agree in every regime")

# %% [markdown]
# On the face of a pair $\{i,j\}$, $x=ue_i+ve_j$, and every term of the loss has the form
# $\int_0^1\!\int_0^1 g(\alpha u+\beta v+\gamma)\,du\,dv$. `tm.loss_L2` does the inner integral
# in closed form. As a function of $v$ the result is a polynomial of degree at most 3 between
# the values of $v$ where the kink enters or leaves $[0,1]$. On each such piece, three-point
# Gauss–Legendre quadrature is exact. We compare all three exact pieces with Monte Carlo,
# conditioned on the skeleton:

# %%
x = tm.sparse_uniform(1_000_000, D, 0.7, rng=6)
count = tm.nonzero_counts(x)
vals = tm.pointwise_loss(W_demo, b_demo, ω_demo, x)
for l in range(3):
    sel = vals[count == l]
    se = sel.std() / np.sqrt(len(sel))
    print(f"L_{l}: exact {dec.L_exact[l]:.4f}   Monte Carlo {sel.mean():.4f} ± {se:.4f}")
    assert abs(dec.L_exact[l] - sel.mean()) < 5 * se + 1e-12

# %% [markdown]
# (sec-ch3-rest-of-cube)=
# ## How much does the rest of the cube matter?
#
# The notes ask whether one may ignore $\bigcup_{l\ge2}Q_l$ and study the loss on 1-sparse
# inputs only. The mass that this drops is
#
# $$\mu\Big(\bigcup_{l\ge2}Q_l\Big)=1-S^D-D(1-S)S^{D-1}.$$ (eq-tail-mass)

# %%
S_tab = np.array([0.9, 0.99, 0.999])
D_tab = np.array([2, 5, 20, 200])
mass = tm.higher_skeleta_mass(S_tab[:, None], D_tab[None, :])
print("mass of l >= 2   " + "".join(f"D={k:<9d}" for k in D_tab))
for S, row in zip(S_tab, mass, strict=True):
    print(f"S = {S:<6g}        " + "".join(f"{v:<11.3g}" for v in row))
for S, row in zip(S_tab, mass, strict=True):
    for k, v in zip(D_tab, row, strict=True):
        assert np.isclose(v, tm.active_count_pmf(S, int(k))[2:].sum(), atol=1e-12)

# %% [markdown]
# The absolute mass is the wrong yardstick. As $S\to1$ the loss itself vanishes like
# $1-S$, because almost every input is $0$ and a good model gets $0$ right. What matters is
# the share of the *non-zero* inputs that have two or more active features:
#
# $$\begin{aligned}
# \frac{\mu(\bigcup_{l\ge2}Q_l)}{\mu(\bigcup_{l\ge1}Q_l)}
#   &\le\frac{(D-1)(1-S)}{2S^{D-1}},\\
# \frac{\mu(\bigcup_{l\ge2}Q_l)}{\mu(\bigcup_{l\ge1}Q_l)}
#   &\sim\frac{(D-1)(1-S)}{2}\quad\text{as}\ S\to1 .
# \end{aligned}$$ (eq-tail-ratio)
#
# For the bound, use $P(l\ge2)\le\binom D2(1-S)^2$ (a union bound over pairs) and
# $P(l\ge1)\ge P_1=D(1-S)S^{D-1}$. The asymptotics follow from
# $P_2\sim\binom D2(1-S)^2$ and $P_1\sim D(1-S)$. So the mass off the 1-sparse skeleton is
# negligible only when $D(1-S)\ll1$: when the *expected number of active features* is
# small. A fixed $S$ is not enough. At $S=0.99$ the share is {glue:text}`share-099-2:.1f`% for
# $D=2$ and {glue:text}`share-099-200:.0f`% for $D=200$ ({numref}`fig-ch3-share`). The
# asymptotic form $(D-1)(1-S)/2$ is itself a good approximation only when $D(1-S)\ll1$: for
# $D=200$, $S=0.99$ it gives {glue:text}`formula-200:.1f`%, while the exact share is
# {glue:text}`share-099-200:.0f`%.
# Whether the *loss* off the skeleton is negligible is a separate question, answered below.

# %%
def share(S, D):
    return tm.higher_skeleta_mass(S, D) / (1 - S**D)


formula_200 = (200 - 1) * (1 - 0.99) / 2  # the asymptotic form, far outside D(1 − S) ≪ 1
print(f"D = 200, S = 0.99: (D-1)(1-S)/2 = {formula_200:.1%}")
print(f"exact share = {share(0.99, 200):.1%}")
assert share(0.99, 200) < formula_200 - 0.25
tm.glue("share-099-2", 100 * share(0.99, 2), 2)
tm.glue("share-099-200", 100 * share(0.99, 200), 2)
tm.glue("formula-200", 100 * formula_200)

# %% [markdown]
# The bound and the asymptotic form of {eq}`eq-tail-ratio`, checked on a grid of densities:

# %%
p_grid = np.geomspace(1e-4, 0.5, 200)
shares = {k: share(1 - p_grid, k) for k in [2, 5, 20, 200]}
for k, ratio in shares.items():
    bound = (k - 1) * p_grid / (2 * (1 - p_grid) ** (k - 1))
    assert np.all(ratio <= bound * (1 + 1e-9))
    assert np.isclose(ratio[0], (k - 1) * p_grid[0] / 2, rtol=0.02)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The share $\\mu(\\ell\\ge2)/\\mu(\\ell\\ge1)$ of the non-zero inputs that have two or more active features, against the feature density $1-S$, for four numbers of features $D$.", "name": "fig-ch3-share"}, "image": {"alt": "Four rising lines on log-log axes, one per D from 2 to 200, parallel at small density with slope one and bending to 1 at large density; the larger D, the higher the line."}}
fig, ax = plt.subplots()
for k, ratio in shares.items():
    ax.loglog(p_grid, ratio, label=f"$D={k}$")
ax.set_xlabel("feature density $1-S$")
ax.set_ylabel(r"$\mu(\ell\geq 2)\,/\,\mu(\ell\geq 1)$")
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# ### The error of the 1-sparse approximation, for trained models
#
# The mass alone does not give the error. The error of keeping only $Q_0\cup Q_1$ is
# $\sum_{l\ge2}P_lL_l$, and $L_l$ grows with $l$ because there is more interference. We train
# the Toy Models setting (5 features, 2 dimensions, $\omega_i=0.9^i$) across sparsities with
# the book's batched trainer: all instances in one tensor, on the GPU when there is one. Each
# sparsity gets **20 independent runs** (initialisation and data), because a single run can
# end in different configurations (we count them below). We then measure the error of each
# trained model exactly for $l\le2$ and by conditional Monte Carlo for $l\ge3$.

# %%
S_sweep = np.array([0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99])
seeds = 20  # independent runs per sparsity, trained side by side in one call
S_inst = np.repeat(S_sweep, seeds)
ω5 = 0.9 ** np.arange(5)
cfg5 = tm.TrainConfig.sweep(S_inst, model="relu", D=5, d=2, ω=ω5,
                         batch_size=1024, steps=3000, lr=1e-2, schedule="cosine", seed=0)
res5 = tm.train_models(cfg5)
shape5 = np.array([tm.polygon_label(W) for W in res5.W])  # "pentagon", "square", ...
print(res5.W.shape, res5.b.shape)

# %%
rows = []
for k, S in enumerate(S_inst):
    if S < 0.5:
        continue
    dk = tm.skeleton_decomposition(res5.W[k], res5.b[k], ω5, S, T_tail=20_000, rng=k)
    err = dk.beyond_one_sparse  # Σ_{l≥2} P_l L_l
    sh = share(S, 5)
    lead = dk.P[2] * dk.L_exact[2] / (dk.P[1] * dk.L_exact[1] + dk.P[2] * dk.L_exact[2])
    rows.append((S, err, err / dk.total, sh, dk.L_exact[2] / dk.L_exact[1], lead, k))
rows = np.array(rows)
shape_r = shape5[rows[:, 6].astype(int)]

# %%
print("   S  configuration  runs  rel. error  share l>=2  L_2/L_1")
for S in S_sweep[S_sweep >= 0.5]:
    for name in ("pentagon", "square"):
        sel = (rows[:, 0] == S) & (shape_r == name)
        if sel.any():
            print(f"{S:5.2f}  {name:12s}  {sel.sum():4d}  {np.median(rows[sel, 2]):10.0%}"
                  f"  {rows[sel, 3][0]:10.1%}  {rows[sel, 4].min():4.1f}-{rows[sel, 4].max():4.1f}")

# %% [markdown]
# The checks behind the next paragraph:

# %% tags=["hide-input"]
hi = rows[:, 0] >= 0.9
pent_hi, square_hi = hi & (shape_r == "pentagon"), hi & (shape_r == "square")
assert np.all(rows[:, 2] > rows[:, 3])  # every run: the error exceeds the mass share
assert np.all((rows[pent_hi, 4] > 11) & (rows[pent_hi, 4] < 16))  # pentagons: 12-15
assert np.all((rows[square_hi, 4] > 2) & (rows[square_hi, 4] < 4.5))  # squares: about 3
pent_099 = (rows[:, 0] == 0.99) & (shape_r == "pentagon")  # most runs at S = 0.99
assert pent_099.sum() >= 15 and np.all((rows[pent_099, 2] > 0.2) & (rows[pent_099, 2] < 0.3))
assert np.allclose(rows[rows[:, 0] >= 0.95, 2], rows[rows[:, 0] >= 0.95, 5], rtol=0.25)
assert np.isclose(share(0.99, 5), 0.02, atol=1e-3)
quarter = np.median(rows[pent_099, 2])
assert abs(quarter - 0.25) < 0.05  # "about a quarter"
tm.glue("share-099-5-pct", 100 * share(0.99, 5), 2)
tm.glue("rel-err-099-min", 100 * rows[pent_099, 2].min(), 2)
tm.glue("rel-err-099-max", 100 * rows[pent_099, 2].max(), 2)
tm.glue("rel-err-099-median", 100 * quarter, 2)
tm.glue("pent-ratio-min", rows[pent_hi, 4].min(), 3)
tm.glue("pent-ratio-max", rows[pent_hi, 4].max(), 3)
tm.glue("square-ratio", np.median(rows[square_hi, 4]), 2)

# %% [markdown]
# This answers the notes' question, and the answer is less comfortable than the mass
# suggests. At $S=0.99$ only {glue:text}`share-099-5-pct:.0f`% of the non-zero inputs have two
# active features, yet they carry about a quarter of the loss of a pentagon (median
# {glue:text}`rel-err-099-median:.0f`% over the runs here that end in one, extremes
# {glue:text}`rel-err-099-min:.0f`% and {glue:text}`rel-err-099-max:.0f`%, to two digits;
# a rare run that stops in the square loses less there). The reason is the
# column $L_2/L_1$. A model in {index}`superposition` is tuned to be almost perfect on single
# features: the bias cuts the interference of the neighbours. It fails when two features
# arrive together. How much depends on the configuration training ends in: a pentagon loses
# {glue:text}`pent-ratio-min:.1f` to {glue:text}`pent-ratio-max:.1f` times as much on
# two-feature inputs as on one-feature inputs (every pentagon at $S\ge0.9$), while the square
# with a dropped feature, which some runs end in at $S=0.9$–$0.95$, loses only about
# {glue:text}`square-ratio:.0f` times as much (median {glue:text}`square-ratio:.1f`). To leading
# order the relative error is $P_2L_2/(P_1L_1+P_2L_2)$ (`lead`, asserted above). It becomes
# small only when $\frac{(D-1)(1-S)}{2}\cdot\frac{L_2}{L_1}\ll1$, which is much sparser than
# $D(1-S)\ll1$.
#
# (sec-ch3-one-sparse-minimisers)=
# ### Minimisers of the 1-sparse loss against minimisers of the full loss
#
# The 1-sparse loss $P_0L_0+P_1L_1$ is exact and smooth enough to minimise directly.
# `tm.minimize_exact` runs Adam on the closed form for a batch of starts, then Newton's method
# with the exact Hessian until the gradient norm is below $10^{-10}$.
#
# ```{prf:proposition} The 1-sparse minimiser does not depend on $S$
# :label: prop-one-sparse-S
#
# Suppose some minimiser $(W^*,b^*)$ of $L_1$ has $b^*\le0$, and the sparsity is equal for
# all features, with $0<S<1$. Then $(W^*,b^*)$ minimises the 1-sparse loss
# $P_0L_0+P_1L_1$ for *every* such $S$.
# ```
#
# ```{prf:proof}
# $L_0=\sum_k\omega_k\operatorname{ReLU}(b_k)^2\ge0$, with equality when $b\le0$. With equal
# sparsity, $L_1=\frac1D\sum_i\ell_i$ does not involve $S$. Hence
# $P_0L_0+P_1L_1\ge P_1L_1(W,b)\ge P_1L_1(W^*,b^*)=P_0L_0(b^*)+P_1L_1(W^*,b^*)$.
# ```
#
# The full-loss minimiser does move with $S$. We compare them:

# %%
W_start, b_start = tm.random_init(8, 2, 5, seed=0)
rand = tm.minimize_exact(W_start, b_start, ω5, 0.99, l_max=1, steps=1500, lr=0.02)
rand_pent = np.array([tm.polygon_label(W) == "pentagon" for W in rand.W])
rand_spread = rand.loss[rand_pent].max() / rand.loss[rand_pent].min() - 1
print(f"eight random restarts: {rand_pent.sum()} end in a pentagon")
print(f"the pentagons' losses differ by {rand_spread:.2%}")
assert rand_pent.sum() >= 5 and np.all(rand.converged[rand_pent])
assert np.all(rand.hessian_eigenvalues[rand_pent, 1] > 0) and rand_spread > 1e-4
tm.glue("rand-pent", int(rand_pent.sum()))
tm.glue("rand-spread-pct", 100 * rand_spread, 2)

# %% [markdown]
# Most restarts ({glue:text}`rand-pent` of the eight here) end in a regular pentagon, with
# gradients below $10^{-10}$ and a Hessian that is positive apart from the one zero eigenvalue
# of the rotation: strict local minima, yet with losses up to
# {glue:text}`rand-spread-pct:.2f`% apart. (A restart occasionally stops in a square with a
# dropped feature instead.) With unequal importance the
# pentagon is not one configuration but $(5-1)!/2=12$: the order in which the features go
# round it (up to rotation and reflection). Each order is a separate local minimum. So we
# polish all twelve orders with Newton's method and take the lowest:

# %%
import itertools

cyclic = [(0, *q) for q in itertools.permutations(range(1, 5)) if q[0] < q[-1]]
W_ord = np.zeros((len(cyclic), 2, 5))
for j, order in enumerate(cyclic):
    angle = 2 * np.pi * np.arange(5) / 5
    W_ord[j][:, list(order)] = 1.17 * np.stack([np.cos(angle), np.sin(angle)])
one_sparse = tm.minimize_exact(W_ord, np.full((len(cyclic), 5), -0.28), ω5, 0.99, l_max=1,
                               steps=0)

# %%
assert np.all(one_sparse.converged) and np.all(one_sparse.hessian_eigenvalues[:, 1] > 0)
spread = one_sparse.loss.max() / one_sparse.loss.min() - 1
best = int(np.argmin(one_sparse.loss))
W1s, b1s = one_sparse.W[best], one_sparse.b[best]
poly1 = tm.polygon(W1s)
print(f"12 cyclic orders: 12 strict local minima, losses spread {spread:.2%}")
print(f"the best order: {cyclic[best]}, a {poly1.k}-gon")
print(f"norms {np.round(tm.feature_norms(W1s), 2)}, b {np.round(b1s, 2)}")
assert poly1.k == 5 and poly1.regular and np.all(b1s < 0)
assert np.allclose(tm.feature_norms(W1s), 1.17, atol=0.02) and np.allclose(b1s, -0.28, atol=0.02)
assert rand.loss.min() >= one_sparse.loss.min() * (1 - 1e-12)  # no restart beats the best order
assert np.isclose(rand.loss[rand_pent, None], one_sparse.loss[None], rtol=1e-9).any(1).all()
tm.glue("one-sparse-norm", tm.feature_norms(W1s).mean(), 3)
tm.glue("one-sparse-bias", b1s.mean(), 2)

# %% [markdown]
# The full loss of the best trained model and of the 1-sparse minimiser, and the mean $|b|$ of
# each:

# %%
print("   S  trained model  1-sparse min.    gap  |b| trained  |b| 1-sparse")
gaps = {}
for S in (0.9, 0.95, 0.99):
    ks = np.flatnonzero(S_inst == S)
    full_tr = [tm.skeleton_decomposition(res5.W[k], res5.b[k], ω5, S, T_tail=20_000,
                                         rng=1).total for k in ks]
    k = ks[int(np.argmin(full_tr))]
    full_1 = tm.skeleton_decomposition(W1s, b1s, ω5, S, T_tail=20_000, rng=1).total
    gaps[S] = full_1 / min(full_tr) - 1
    print(f"{S:5.2f}  {min(full_tr):13.3e}  {full_1:13.3e}  {gaps[S]:5.1%}"
          f"  {np.abs(res5.b[k]).mean():11.2f}  {np.abs(b1s).mean():12.2f}")

# %% tags=["hide-input"]
assert gaps[0.99] < 0.03 and gaps[0.9] > gaps[0.99] and 0.01 < gaps[0.9] < 0.06
b_trained = [np.abs(res5.b[(S_inst == S) & (shape5 == "pentagon")]).mean() for S in (0.9, 0.95, 0.99)]
assert np.all(np.diff(b_trained) > 0) and abs(b_trained[-1] - np.abs(b1s).mean()) < 0.03
tm.glue("gap-09-pct", 100 * gaps[0.9], 2)
tm.glue("gap-099-pct", 100 * gaps[0.99], 2)

# %% [markdown]
# For these 5 features the 1-sparse minimiser is the same regular pentagon as the trained
# model. Its norms ($\approx$ {glue:text}`one-sparse-norm:.2f`) and bias
# ($\approx$ {glue:text}`one-sparse-bias:.2f`) are those that the trained models approach as
# $S\to1$. Its full loss is a few percent too high at $S=0.9$
# ({glue:text}`gap-09-pct:.1f`%) and within noise at $S=0.99$ ({glue:text}`gap-099-pct:.1f`%). So the 1-sparse loss answers the right question only in the regime
# $D(1-S)\ll1$ of {eq}`eq-tail-ratio`, and even there it can miss structure. The Thomson
# section shows a case ($N\le2m$ features in $m$ dimensions) where the 1-sparse loss has a
# whole continuum of exact minimisers, and only $L_2$ picks the one that training finds.

# %% [markdown]
# ## Five features in two dimensions
#
# This is the first figure of the Toy Models paper, computed with this book's code. Dense
# data ($S=0$) gives PCA-like behaviour: the two most important features get orthogonal
# dimensions and the rest are dropped, with bias $\approx E[x_i]=1/2$. As $S$ grows, the
# model first packs four features as two
# {index}`antipodal pairs <single: antipodal pair>`, then all five as a pentagon with a
# negative bias. The bias cuts the small positive interference of the neighbours at $72°$.
# This sequence is the *most common* outcome at each sparsity, not the only one:
# {numref}`fig-ch3-polygons` and {numref}`fig-ch3-superposition` show, for each $S$, the first
# of the 20 runs that ended in the most common configuration, and the table after them counts
# all 20.

# %%
modal = {S: tm.basin_probabilities(shape5[S_inst == S]) for S in S_sweep}
show = [int(np.flatnonzero((S_inst == S) & (shape5 == next(iter(modal[S]))))[0]) for S in S_sweep]

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The columns $w_i$ of $W$ learned by the 5\u21922 model with importances $\\omega_i=0.9^i$, one panel per sparsity $S$ (the most common configuration of 20 runs), coloured by feature. Dotted: the unit circle. Dense data keeps two orthogonal features; as $S$ grows the model packs four features as two antipodal pairs, then all five as a pentagon.", "name": "fig-ch3-polygons"}, "image": {"alt": "Nine panels of arrows from the origin, three to a row. The first ones show two perpendicular arrows, the middle ones four arrows in two opposite pairs, the last ones five arrows forming a regular pentagon."}}
tm.feature_polygons(res5.W[show], [f"$S={S:g}$" for S in S_sweep], ncols=3, size=1.25)
plt.show()

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Three of the models of {numref}`fig-ch3-polygons`: dense ($S=0$), two antipodal pairs ($S=0.8$) and the pentagon ($S=0.99$). Top: $W^\\top W$, with the bias $b$ as a last column after a gap (red positive, blue negative). Bottom: the norms $\\lVert w_i\\rVert$, coloured by the interference $\\sum_{j\\ne i}(\\hat w_i\\cdot w_j)^2$: dark means the feature has a dimension to itself, bright that it shares it.", "name": "fig-ch3-superposition"}, "image": {"alt": "Three columns. Each has a 5 by 5 heatmap with an extra bias column above a bar chart of five feature norms: at S = 0 two large diagonal entries and two tall dark bars; at S = 0.8 four features with negative off-diagonal pairs; at S = 0.99 five equal bars, all bright."}}
three = [show[list(S_sweep).index(S)] for S in (0.0, 0.8, 0.99)]
tm.superposition_panel(res5.W[three], res5.b[three], ["$S=0$", "$S=0.8$", "$S=0.99$"],
                          ncols=3, size=1.15)
plt.show()

# %% [markdown]
# Over all 20 runs per sparsity, the configurations and their frequencies, with 95% Wilson
# intervals (a run's configuration is a random variable: its initialisation and its data
# decide which basin it ends in):

# %%
print("   S  configuration    runs of 20  95% interval")
for S in S_sweep:
    for i, e in enumerate(modal[S].values()):
        print(f"{S if i == 0 else '':>5}  {e.label:15s}  {e.count:10d}  [{e.lo:.2f}, {e.hi:.2f}]")

# %% [markdown]
# The checks behind the description above and the paragraph below:

# %% tags=["hide-input"]
norms5 = tm.feature_norms(res5.W)
count = {(S, name): np.sum((S_inst == S) & (shape5 == name)) for S in S_sweep
         for name in ("orthogonal pair", "square", "pentagon")}
for k, S in enumerate(S_inst):
    if S == 0 and shape5[k] == "orthogonal pair" and set(tm.polygon(res5.W[k]).order) == {0, 1}:
        # PCA-like: features 0 and 1 kept, the dropped ones with bias ≈ mean
        dropped = norms5[k] < 0.1  # most runs have dropped features 2-4; some are still dropping
        assert np.allclose(res5.b[k, dropped], 0.5, atol=0.08)
    if shape5[k] == "square":  # two antipodal pairs at right angles (a fifth feature may
        # not be dropped yet, norm 0.2-0.4; unequal norms in a pair move D_i away from 1/2)
        unit = res5.W[k][:, norms5[k] > 0.5] / norms5[k][norms5[k] > 0.5]
        cos = unit.T @ unit - 2 * np.eye(4)  # the diagonal moved out of the way
        assert np.all(cos.min(1) < -0.99) and np.all(np.abs(cos[cos > -0.99]) < 0.05)
    if shape5[k] == "pentagon" and S >= 0.9:  # negative bias, D_i = 2/5
        assert np.all(norms5[k] > 0.8) and np.all(res5.b[k] < 0)
        assert np.allclose(tm.feature_dimensionality(res5.W[k]), 0.4, atol=0.03)

# %% tags=["hide-input"]
pca_like = sum(set(tm.polygon(res5.W[k]).order) == {0, 1} for k in np.flatnonzero(
    (S_inst == 0) & (shape5 == "orthogonal pair")))
assert pca_like >= 12  # PCA-like in most runs (15-20 of 20 over 21 seeds tried)
tm.glue("pca-like", int(pca_like))
assert count[0.7, "square"] >= 8 and count[0.8, "square"] >= 8  # the commonest at 0.7, 0.8
assert count[0.95, "pentagon"] >= 12 and min(count[S, "pentagon"] for S in (0.97, 0.99)) >= 17
assert count[0.9, "square"] + count[0.95, "square"] >= 1  # the square survives to S ≥ 0.9
tm.glue("pent-097", int(count[0.97, "pentagon"]))
tm.glue("pent-099", int(count[0.99, "pentagon"]))
print("pentagon gaps at S = 0.99 (degrees):", np.round(tm.polygon(res5.W[show[-1]]).gaps_deg, 0))

# %% [markdown]
# So the progression of the Toy Models figure is a statement about probabilities. At
# $S=0.5$–$0.7$ most runs end in two antipodal pairs, but some keep three features in an
# irregular triangle. At $S=0$ most runs are PCA-like ({glue:text}`pca-like` of 20 here), but
# a few are still dropping a feature after 3000 steps, and some keep feature 0 with a less
# important feature instead of feature 1. At $S=0.8$–$0.95$
# the square with one dropped feature and the pentagon compete. From $S=0.97$ on nearly every
# run ends in the pentagon ({glue:text}`pent-097` of 20 at $S=0.97$ and
# {glue:text}`pent-099` at $S=0.99$ here). The square that survives at $S\ge0.9$ is not a slow run: polished
# on the exact loss on $Q_0\cup Q_1\cup Q_2$ with Newton's method, it stays a square, with a
# positive semi-definite Hessian. Every run that ended in a square at the sparsity below
# does so: a genuine local minimum, well above the pentagon (at least
# {glue:text}`square-polished-min:.2f` times its loss):

# %%
S_sq = 0.9 if count[0.9, "square"] else 0.95  # a sparsity where both configurations occur
squares = np.flatnonzero((S_inst == S_sq) & (shape5 == "square"))
first_pentagon = np.flatnonzero((S_inst == S_sq) & (shape5 == "pentagon"))[0]
pair = np.r_[squares, first_pentagon]  # every square of that sparsity, and one pentagon
polished = tm.minimize_exact(res5.W[pair], res5.b[pair], ω5, S_sq, l_max=2, steps=0)
labels_pol = [tm.polygon_label(W) for W in polished.W]
ratio_sq = polished.loss[:-1] / polished.loss[-1]
print(f"S = {S_sq}: {len(squares)} squares and a pentagon, polished: "
      f"{labels_pol.count('square')} squares, {labels_pol.count('pentagon')} pentagon")
print(f"square / pentagon, exact loss on l <= 2: {ratio_sq.min():.2f} to {ratio_sq.max():.2f}")
assert labels_pol == ["square"] * len(squares) + ["pentagon"] and np.all(polished.converged)
assert np.all(polished.hessian_eigenvalues[:, 0] > -1e-9)
assert ratio_sq.min() > 1.2 and ratio_sq.max() < 2.2
tm.glue("square-polished-min", ratio_sq.min(), 3)

# %% [markdown]
# (sec-ch3-phase)=
# ## Two features in one dimension: the phase diagram
#
# With $D=2$, $d=1$ the whole cube is $Q_0\cup Q_1\cup Q_2$, so the integral loss is
# *exactly* $P_0L_0+P_1L_1+P_2L_2$, with no sampling at all. Let feature 2 have importance
# $r$ relative to feature 1, so $\omega=(1,r)$, and write $p=1-S$. The paper's candidate
# solutions have closed-form losses:
#
# - **feature 1 only**: $w=(1,0)$, $b=(0,c)$. Feature 1 comes back exactly and feature 2 is
#   replaced by the constant $c$.
# - **feature 2 only**: the same with the roles swapped.
# - **antipodal**: $w=(1,-1)$, $b=0$. Each feature is reconstructed exactly when it is alone,
#   and $\hat x_1=\operatorname{ReLU}(x_1-x_2)$ when both are active.

# %%
p, r, cc, v = sp.symbols("p r c v", positive=True)
u = sp.symbols("u", positive=True)
# feature 2 replaced by a constant c: E(x_2 − c)² with x_2 = 0 w.p. 1 − p, else uniform
E_const = (1 - p) * cc**2 + p * sp.integrate((u - cc) ** 2, (u, 0, 1))
c_star = sp.solve(sp.diff(E_const, cc), cc)[0]
L_feature1 = sp.simplify(r * E_const.subs(cc, c_star))
# antipodal: only Q_2 costs; (u − ReLU(u − v))² is v² for v < u and u² for v > u
pair = sp.integrate(sp.integrate(v**2, (v, 0, u)) + sp.integrate(u**2, (v, u, 1)), (u, 0, 1))
L_antipodal = sp.simplify(p**2 * (1 + r) * pair)
print("c* =", c_star, "   L(feature 1 only) =", sp.factor(L_feature1),
      "   L(antipodal) =", sp.factor(L_antipodal))
assert sp.simplify(c_star - p / 2) == 0 and sp.simplify(pair - sp.Rational(1, 6)) == 0
assert sp.simplify(L_feature1 - r * (p / 3 - p**2 / 4)) == 0

# %% [markdown]
# So $L_{\text{feature 1}}=r\,(p/3-p^2/4)$, $L_{\text{feature 2}}=p/3-p^2/4$ and
# $L_{\text{antipodal}}=p^2(1+r)/6$. For $r\le1$, superposition beats dedicating the
# dimension to feature 1 exactly when
#
# $$p<\frac{4r}{2+5r},\qquad\text{and for } r\ge1 \text{ when } p<\frac{4}{5+2r}.$$ (eq-phase-boundary)
#
# On log–log axes the boundary is a wedge around $r=1$. We also check the closed forms
# against `toymodels`' exact loss, which does not know about these special solutions:

# %%
sol = sp.solve(sp.Eq(L_antipodal, L_feature1), p)
print("boundary (r <= 1):", [sp.simplify(s_) for s_ in sol])
assert any(sp.simplify(s_ - 4 * r / (2 + 5 * r)) == 0 for s_ in sol)
for rv, pv in [(0.3, 0.2), (1.0, 0.5), (4.0, 0.05)]:
    ex_f1 = tm.restricted_loss([[1.0, 0.0]], [0.0, pv / 2], [1.0, rv], 1 - pv, l_max=2)
    ex_ap = tm.restricted_loss([[1.0, -1.0]], [0.0, 0.0], [1.0, rv], 1 - pv, l_max=2)
    assert np.isclose(ex_f1, float(L_feature1.subs({r: rv, p: pv})), rtol=1e-12)
    assert np.isclose(ex_ap, float(L_antipodal.subs({r: rv, p: pv})), rtol=1e-12)

# %% [markdown]
# Now we train the whole $12\times12$ grid of $(r,p)$ at once: 2 seeds per point, 288
# instances in one tensor. We classify what each point learned and keep the seed with the
# lower exact loss.

# %%
r_grid = np.geomspace(0.1, 10, 12)
p_grid2 = np.geomspace(0.01, 1, 12)
R, Pd = np.meshgrid(r_grid, p_grid2)  # rows: density, columns: relative importance
r_inst, p_inst = np.tile(R.ravel(), 2), np.tile(Pd.ravel(), 2)
ω21 = np.c_[np.ones_like(r_inst), r_inst]
S21 = (1 - p_inst)[:, None]
cfg21 = tm.TrainConfig(model="relu", D=2, d=1, n=len(r_inst),
                    S=S21, ω=ω21, batch_size=1024, steps=4000, lr=2e-2,
                    schedule="cosine", seed=0)
res21 = tm.train_models(cfg21)
L_exact21 = tm.restricted_loss(res21.W, res21.b, ω21, S21, l_max=2).reshape(2, -1)
keep = np.argmin(L_exact21, axis=0)
W21 = res21.W[:, 0, :].reshape(2, -1, 2)[keep, np.arange(R.size)]
L21 = L_exact21.min(0)
print(f"trained {len(r_inst)} instances of 2 -> 1")

# %%
cand = tm.two_in_one_candidates(R, 1 - Pd, optimise=False)
L_cand = np.stack([cand["feature 1"], cand["feature 2"], cand["antipodal"]])
predicted = np.argmin(L_cand, axis=0).ravel()
learned = tm.two_in_one_phase(W21)
agree = np.mean(predicted == learned)
ratio_to_best = L21 / L_cand.min(0).ravel()
found = np.isclose(L21[:, None], L_cand.reshape(3, -1).T, rtol=0.05).any(1)
other_basin = found[predicted != learned].mean()
print(f"trained phase = closed-form phase at {agree:.0%} of the grid")
print(f"trained loss within 5% of a candidate's at {found.mean():.0%} of the grid")
print(f"trained loss / best candidate: min {ratio_to_best.min():.2f}")
print(f"cells where training disagrees: {np.sum(predicted != learned)}, "
      f"of which {other_basin:.0%} at another candidate's loss")

# %%
assert agree > 0.75 and ratio_to_best.min() > 1 / 1.12 and found.mean() > 0.8
assert other_basin > 0.5
tm.glue("phase-agree-pct", 100 * agree, 2)
tm.glue("candidate-excess-pct", 100 * (1 / ratio_to_best.min() - 1), 2)
single = tm.two_in_one_phase(res21.W[:, 0, :]) == np.tile(predicted, 2)  # every run alone
lo, hi = tm.wilson_interval(int(single.sum()), single.size)
print(f"one run alone lands in the closed-form phase: {single.mean():.2f} "
      f"[{lo:.2f}, {hi:.2f}]")
print(f"(95% Wilson interval, {single.size} runs)")
assert lo > 0.6
tm.glue("single-run-pct", 100 * single.mean(), 2)
tm.glue("single-run-lo-pct", 100 * lo, 2)
tm.glue("single-run-hi-pct", 100 * hi, 2)
tm.glue("single-runs", int(single.size))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The phase diagram of two features in one dimension: which solution has the lowest loss among the closed-form candidates (top) and which one training found (bottom, the better of two runs per cell), against the relative importance $r$ of feature 2 and the density $1-S$. Dashed: the boundary {eq}`eq-phase-boundary`.", "name": "fig-ch3-phase"}, "image": {"alt": "Two 12 by 12 coloured grids, one above the other, each with a dashed arch-shaped boundary: antipodal (green) below it, feature 1 only for r below 1 and feature 2 only for r above 1 above it; the trained grid matches the candidate grid in most cells, with a few scattered cells of other colours."}}
fig, axes = plt.subplots(2, 1, figsize=(4.5, 7.4), sharex=True, layout="constrained")
cmap = plt.matplotlib.colors.ListedColormap(["C0", "C1", "C2", "0.8"])
h = 1 / 11  # half a grid cell in log10 units: cells centred on the grid points
ext = [-1 - h, 1 + h, -2 - h, h]
for ax, M, title in [(axes[0], predicted, "closed-form candidates"), (axes[1], learned, "trained")]:
    ax.imshow(M.reshape(12, 12), origin="lower", cmap=cmap, vmin=-0.5, vmax=3.5, extent=ext,
              aspect="auto")
    rr = np.geomspace(0.1, 10, 200)
    ax.plot(np.log10(rr), np.log10(np.where(rr <= 1, 4 * rr / (2 + 5 * rr), 4 / (5 + 2 * rr))),
            "k--", lw=1)
    ax.set_title(title)
    ax.set_ylabel(r"$\log_{10}(1-S)$")
    ax.grid(False)
axes[1].set_xlabel(r"$\log_{10} r$")
handles = [plt.matplotlib.patches.Patch(color=cmap(i), label=lab) for i, lab in
           enumerate(tm.TWO_IN_ONE_PHASES)]
fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
plt.show()

# %% [markdown]
# In {numref}`fig-ch3-phase` the trained phase agrees with the closed form at
# {glue:text}`phase-agree-pct:.0f`% of the cells. That figure is one draw: another seed
# gives another map. What does not depend on one draw is the probability that a *single* run
# lands in the closed-form phase of its cell. Over all {glue:text}`single-runs` runs it is
# {glue:text}`single-run-pct:.0f`% (95% Wilson interval
# {glue:text}`single-run-lo-pct:.0f`–{glue:text}`single-run-hi-pct:.0f`%; the cells differ,
# so this is an average over the grid; {ref}`sec-ch4-basins-phase` measures it with a thousand runs
# at each point of a grid over the diagram). Where the trained map disagrees with the closed
# form, training mostly stopped in the other basin. Its exact loss then equals the loss of
# another candidate, a local minimum. If the two weights start with the same sign, the model
# has to push one of them through zero to become antipodal. The three closed-form candidates
# are close to the best losses training finds, never more than
# {glue:text}`candidate-excess-pct:.0f`% above them. Tuning
# the norms and biases away from the unit candidates buys at most that much.
#
# (sec-ch3-dims)=
# ## Dimensions per feature
#
# Let $\hat w_i=w_i/\lVert w_i\rVert$. The paper measures how many hidden dimensions each
# feature gets in two ways. The first is the average $d/\lVert W\rVert_F^2$. The second is per
# feature,
#
# $$D_i=\frac{\lVert w_i\rVert^2}{\sum_j(\hat w_i\cdot w_j)^2}.$$ (eq-feature-dim)
#
# ```{index} single: tegum product
# ```
#
# ```{index} single: tight frame
# ```
#
# ```{prf:proposition} Tegum products of tight frames
# :label: prop-tegum
#
# Split the represented features into groups that span mutually orthogonal subspaces.
# Suppose the $k$ vectors of a group have equal norms and form a tight frame of their
# $r$-dimensional span. Then every feature of the group has $D_i=r/k$.
# ```
#
# ```{prf:proof}
# Features of other groups are orthogonal to $\hat w_i$, so
#
# $$\sum_j(\hat w_i\cdot w_j)^2=\hat w_i^\top\Big(\sum_{j\in\text{group}}w_jw_j^\top\Big)\hat w_i.$$
#
# Tightness says $\sum_{j}w_jw_j^\top=\frac{k\lVert w\rVert^2}{r}P$, where $P$ is the
# projection onto the span, and $P\hat w_i=\hat w_i$. Hence the denominator is
# $k\lVert w\rVert^2/r$, and $D_i=r/k$.
# ```
#
# A digon (an antipodal pair) has $D_i=1/2$, a triangle $2/3$, a tetrahedron $3/4$, a
# pentagon $2/5$, and a *tight* square antiprism $3/8$ (the one whose two squares sit at
# heights $\pm1/\sqrt3$). The antiprism that solves the Thomson problem for $N=8$ has other
# proportions and is not a tight frame; its $D_i\approx0.3744$ are close to $3/8$ but not equal
# (checked in the Thomson section). `tm.feature_groups` finds the groups in a
# trained model: features are linked when $|\hat w_i\cdot\hat w_j|>0.3$. We train 200
# features into 20 dimensions at 8 sparsities, in one batched run.

# %%
inv_density = np.array([1.5, 2.2, 2.8, 3.5, 4.5, 5.5, 12.0, 40.0])
S_big = 1 - 1 / inv_density
cfg_big = tm.TrainConfig.sweep(S_big, model="relu", D=200, d=20, ω=1.0,
                            batch_size=256, steps=3000, lr=5e-3, schedule="cosine", seed=0)
res_big = tm.train_models(cfg_big)
dpf = tm.dimensions_per_feature(res_big.W)
Dim = tm.feature_dimensionality(res_big.W)
norm_big = tm.feature_norms(res_big.W)

# %%
import textwrap
from collections import Counter

print("1/(1-S)  d/|W|^2  represented  commonest groups (size/rank: count)")
group_table = []
for k, x_ in enumerate(inv_density):
    groups = tm.feature_groups(res_big.W[k], overlap=0.3)
    cnt = Counter(f"{g.size}/{g.rank}" for g in groups)
    group_table.append(cnt)
    top = sorted(cnt.items(), key=lambda t: (-t[1], t[0]))[:3]
    top = ", ".join(f"{key}: {n}" for key, n in top)
    print(f"{x_:7.1f}  {dpf[k]:7.2f}  {int((norm_big[k] > 0.5).sum()):11d}  {top}")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Dimensions per feature for 200 features in 20 dimensions, against $1/(1-S)$. Dots: the per-feature $D_i$ of every represented feature (slightly jittered sideways). Line: the average $d/\\lVert W\\rVert_F^2$. Dotted: the fractions $r/k$ of small tight frames.", "name": "fig-ch3-dims"}, "image": {"alt": "Scatter of dots and a black line falling from about 1 at the left to about 0.1 at the right on a log x axis, with a flat stretch at one half between 2 and 3, and horizontal dotted lines labelled 1, 3/4, 2/3, 1/2, 2/5 and 1/3."}}
fig, ax = plt.subplots(figsize=(4.8, 3.4))
for k, x_ in enumerate(inv_density):
    rep = norm_big[k] > 0.5
    jitter = x_ * np.exp(0.04 * np.random.default_rng(k).normal(size=rep.sum()))
    ax.scatter(jitter, Dim[k][rep], s=4, alpha=0.4, color="C0")
ax.plot(inv_density, dpf, "k-o", ms=4, label=r"$d/\|W\|_F^2$")
for f in [1, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 1 / 3]:  # 3/8 would sit on top of 2/5 and 1/3
    ax.axhline(f, color="0.7", lw=0.6, ls=":")
    ax.text(46, f, f"{tm.nearest_fraction(f)[0]}", va="center")
ax.set_xscale("log")
ax.set_xticks([1.5, 2, 3, 5, 10, 20, 40], ["1.5", "2", "3", "5", "10", "20", "40"])
ax.minorticks_off()
ax.set_xlabel("$1/(1-S)$")
ax.set_ylabel("dimensions per feature")
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# {numref}`fig-ch3-dims` shows both measures. On the plateau at $1/2$, the represented
# features and those in a digon:

# %%
plateau = [k for k, x_ in enumerate(inv_density) if 2 <= x_ <= 3]
print("1/(1-S)  represented  in a digon (D_i = 1/2 ± 0.03)")
n_rep, stragglers = [], []
for k in plateau:  # the antipodal plateau: all represented features but a few in digons
    rep = norm_big[k] > 0.5
    in_digon = np.abs(Dim[k][rep] - 0.5) <= 0.03
    print(f"{inv_density[k]:7.1f}  {rep.sum():11d}  {in_digon.sum():10d}")
    stragglers.append(int(rep.sum() - in_digon.sum()))
    assert stragglers[-1] <= 3 and 0.49 < dpf[k] < 0.57
    assert abs(rep.sum() - 40) <= 4  # about 40 features in 20 dimensions
    assert group_table[k]["2/1"] >= in_digon.sum() // 2  # the D_i = 1/2 features: in digons
    n_rep.append(rep.sum())
tm.glue("plateau-min-rep", int(min(n_rep)))
tm.glue("plateau-max-rep", int(max(n_rep)))
tm.glue("plateau-stragglers", int(max(stragglers)))

# %%
assert dpf[0] > 0.8 and dpf[-1] < 0.15 and np.all(np.diff(dpf) < 0.02)
found_fractions = {f"{g}" for cnt in group_table for g in cnt}
seen = sorted(found_fractions, key=lambda s_: tuple(map(int, s_.split("/"))))
print("group types seen (size/rank):")
print(textwrap.fill(", ".join(seen), 70))
assert "2/1" in found_fractions
k45 = list(inv_density).index(4.5)  # small tegum factors with D_i < 1/2 beside the digons
small = sorted(t for t in group_table[k45] if int(t.split("/")[0]) > 2 * int(t.split("/")[1]))
print(f"at 1/(1-S) = 4.5, groups with more than two features per dimension: {', '.join(small)}")
assert any(int(t.split("/")[0]) <= 12 for t in small)
last = tm.feature_groups(res_big.W[-1], overlap=0.3)
assert len(last) == 1 and last[0].rank == 20
tm.glue("dpf-dense", dpf[0], 2)
tm.glue("dpf-sparse", dpf[-1], 2)

# %% [markdown]
# The average $d/\lVert W\rVert_F^2$ falls from {glue:text}`dpf-dense:.2f` (dense data: little
# superposition) to {glue:text}`dpf-sparse:.2f`. It **sticks at $1/2$** for
# $2\lesssim1/(1-S)\lesssim3$. There the represented features sit in antipodal pairs, so the
# 20 dimensions hold about 40 features ({glue:text}`plateau-min-rep` to
# {glue:text}`plateau-max-rep` here), each with $D_i=1/2$. At the dense edge of the plateau a feature may still be on its way
# into a pair after 3000 steps (the table above counts them: at most
# {glue:text}`plateau-stragglers` here); the check allows up to three such stragglers per sparsity. At $1/(1-S)=3.5$ the plateau ends: depending on the run, the model
# keeps about 40 features in digons or already squeezes in more (a pentagon, or more pairs than
# dimensions, with $D_i$ a little below $1/2$). Sparser still, at $1/(1-S)=4.5$, small tegum
# factors with fewer than half a dimension per feature appear beside the digons: in most runs
# pentagons ($5/2$, $D_i=2/5$), in some only $8/3$ groups (the cell above prints which). At high sparsity all represented features join a single
# group spanning all 20 dimensions, and the $D_i$ form a narrow continuum instead of sticking
# at a fraction. With 3000 steps of batch 256 we do not see the sharp $3/4$ and $3/8$ plateaus
# of the paper's much longer runs. Treat the finer fractions as a statement about long
# training, which this page does not check.
#
# (sec-ch3-thomson)=
# ## The Thomson problem
#
# The {index}`Thomson problem` asks for $N$ unit vectors $x_i\in S^{m-1}$ that minimise the Coulomb
# energy {cite:p}`thomson1904structure`
#
# $$E(x_1,\dots,x_N)=\sum_{i<j}\frac1{\lVert x_i-x_j\rVert}.$$ (eq-thomson)
#
# `tm.solve_thomson` runs L-BFGS on $y\mapsto E(y/\lVert y\rVert)$ from 5 seeded random
# starts. We check it against the minimal energies published by {cite:t}`wales2006thomson`
# for $N=2,\dots,12$ on $S^2$ (also tabulated on Wikipedia's "Thomson problem" page):

# %%
thomson = {}
print(" N  solver         published      restarts at the minimum")
for N, E_pub in tm.PUBLISHED_ENERGIES.items():
    thomson[N] = tm.solve_thomson(N, 3, restarts=5, seed=0)
    print(f"{N:2d}  {thomson[N].energy:13.9f}  {E_pub:13.9f}  {thomson[N].hits}/5")
    assert abs(thomson[N].energy - E_pub) < 5e-9

# %% [markdown]
# All eleven energies agree with the published values within $5\times10^{-9}$, in the
# last printed digit. Now the ReLU model with $m=3$ hidden dimensions, $N=4,\dots,12$ features
# of equal importance, and high sparsity $S=0.99$. Every $N$ goes into **one** run with
# $D=12$: the features beyond $N$ get $S=1$ and $\omega=0$. They are then never active and
# never scored, so each instance is exactly an $N$-feature model. Each $N$ gets four
# instances, four restarts from different initialisations and data, and the table keeps the
# one with the lowest exact loss $P_1L_1+P_2L_2$: a single run sometimes stops in a worse
# local minimum, for instance one that drops a feature.

# %%
Ns = np.arange(4, 13)
NN = np.repeat(Ns, 4)
S_th = np.ones((len(NN), 12))
ω_th = np.zeros((len(NN), 12))
for k, N in enumerate(NN):
    S_th[k, :N], ω_th[k, :N] = 0.99, 1.0
cfg_th = tm.TrainConfig(model="relu", D=12, d=3, n=len(NN),
                     S=S_th, ω=ω_th, batch_size=1024, steps=4000, lr=1e-2,
                     schedule="cosine", seed=0)
res_th = tm.train_models(cfg_th)
L_th = tm.restricted_loss(res_th.W, res_th.b, ω_th, S_th, l_max=2)

# %%
table = {}
for N in Ns:
    ks = np.flatnonzero(NN == N)
    k = ks[np.argmin(L_th[ks])]
    W = res_th.W[k][:, :N]
    n_ = tm.feature_norms(W)
    X = (W[:, n_ > 0.5] / n_[n_ > 0.5]).T
    T = thomson[len(X)].X
    row = dict(kept=len(X), nmin=n_.min(), nmax=n_.max(), b=res_th.b[k][:N].mean(),
               E=tm.coulomb_energy(X), E_T=thomson[len(X)].energy,
               dist=tm.aligned_distance(X, T), ang=tm.pairwise_angles(X).min(),
               ang_T=tm.pairwise_angles(T).min(), tf=float(tm.tight_frame_defect(X.T)),
               tf_T=float(tm.tight_frame_defect(T.T)))
    table[N] = row

# %% [markdown]
# The best restart for each $N$: how many features it kept, their norms and mean bias, and the
# Coulomb energy of its unit directions against Thomson's:

# %%
print(" N  kept  norms      bias  E(learned)  E(Thomson)")
for N, row in table.items():
    print(f"{N:2d}  {row['kept']:4d}  {row['nmin']:.2f}-{row['nmax']:.2f}  "
          f"{round(row['b'], 2) + 0.0:5.2f}  {row['E']:10.3f}  {row['E_T']:10.3f}")

# %% [markdown]
# And how close the learned configuration is to Thomson's: the aligned distance, the smallest
# angle between two features (degrees) and the tight-frame defect, learned / Thomson:

# %%
print(" N  dist  min angle      TF defect")
for N, row in table.items():
    print(f"{N:2d}  {row['dist']:.2f}  {row['ang']:5.1f} / {row['ang_T']:5.1f}"
          f"  {row['tf']:.2f} / {row['tf_T']:.2f}")

# %% [markdown]
# `dist` is the root-mean-square distance between the learned unit vectors and the Thomson
# configuration, after the best rotation, reflection and relabelling
# (`tm.aligned_distance`). "TF defect" is $\lVert WW^\top-cI\rVert_F/c$, which is zero
# exactly for a tight frame.

# %% tags=["hide-input"]
ico = table[12]["kept"] == 12  # with some seeds all four restarts at N = 12 drop a feature
for N in (6, 12) if ico else (6,):  # the octahedron and the icosahedron: the same configuration
    assert table[N]["kept"] == N and table[N]["dist"] < 0.02
    assert abs(table[N]["E"] / table[N]["E_T"] - 1) < 1e-4
for N in (4, 5):  # not Thomson: unit norms, zero bias, antipodal pairs
    assert table[N]["dist"] > 0.25 and abs(table[N]["b"]) < 0.02
    assert abs(table[N]["nmin"] - 1) < 0.03 and table[N]["tf"] > 0.4
full = [N for N in Ns if table[N]["kept"] == N]  # the best restart kept every feature
assert len(full) >= len(Ns) - 2  # a best of four can still drop a feature at one N or two
for N in (7, 10, 11):  # another configuration; at N = 7, 11 with a larger minimal angle
    assert table[N]["dist"] > 0.1
    assert N == 10 or N not in full or table[N]["ang"] > table[N]["ang_T"]
assert table[8]["dist"] < 0.1  # N = 8: the same type as Thomson, other proportions
for N in (8, 9):  # energies within 0.2%; at N = 9 the type depends on the run (see below)
    assert table[N]["E"] / table[N]["E_T"] - 1 < 2e-3
for N in set(range(7, 13)) & set(full):  # norms above 1 and a negative bias beyond 2m
    assert table[N]["nmin"] > 1.05 and table[N]["b"] < -0.1
assert not ico or 1.25 < table[12]["nmax"] < 1.4
tm.glue("thomson-match-dist", np.ceil(100 * max(table[N]["dist"] for N in (6, 12)[:1 + ico])) / 100)
tm.glue("thomson-12-kept", int(table[12]["kept"]))
tm.glue("thomson-8-energy-pct", 100 * (table[8]["E"] / table[8]["E_T"] - 1), 2)
tm.glue("thomson-9-energy-pct", 100 * (table[9]["E"] / table[9]["E_T"] - 1), 2)
tm.glue("thomson-nmax", max(table[N]["nmax"] for N in full), 3)
tm.glue("tf-defect-45", min(table[4]["tf"], table[5]["tf"]), 2)

# %% [markdown]
# (sec-ch3-analogy)=
# ### Where the analogy holds and where it breaks
#
# What follows describes this run, the best of four restarts for each $N$; the page does not
# measure how often runs with other seeds agree.
#
# **It holds** at $N=6$, and at $N=12$ whenever the best restart keeps all twelve features
# (here it keeps {glue:text}`thomson-12-kept`; with some seeds all four restarts drop one).
# There the learned unit directions *are* the Thomson configurations, the octahedron and the
# icosahedron, to within
# {glue:text}`thomson-match-dist:.2f` in aligned distance. It holds approximately at $N=8$:
# the same combinatorial type with slightly different proportions, and an energy
# {glue:text}`thomson-8-energy-pct:.2f`% above Thomson's. At $N=9$ the energy is also within
# 0.2% ({glue:text}`thomson-9-energy-pct:.2f`% here), but this page trains too few runs to
# say which combinatorial type training prefers at $N=9$, so it makes no claim about the
# type; the table's distance for $N=9$ is not asserted.
#
# **It breaks** in three ways.
#
# 1. *The potential is short-ranged, not Coulomb.* In the 1-sparse limit, with unit norms and
#    a common bias $b\le0$, the interference that feature $k$ gets from feature $i$ is
#    $\int_0^1\operatorname{ReLU}(u\cos\theta_{ik}+b)^2du$, by {eq}`eq-ell-i`. This vanishes
#    as soon as $\cos\theta_{ik}\le-b$. It is a contact potential, closer to the
#    {index}`Tammes problem` (maximise the smallest angle) than to Coulomb's $1/r$. The learned
#    configurations for $N=7,10,11$ differ from Thomson's (distance above 0.1). For $N=7$ and
#    $N=11$ they have a *larger* minimal angle.
# 2. *For $N\le2m$ the 1-sparse loss has a continuum of minimisers.* With $b=0$ and unit norms,
#    it is exactly zero for every configuration with pairwise $\langle w_i,w_j\rangle\le0$.
#    That includes the Thomson tetrahedron, and also two orthogonal features plus an antipodal
#    pair. The tie is broken by $L_2$ and nothing else. We compute it exactly for both
#    configurations of $N=4$ and for both of $N=5$ (Thomson's triangular bipyramid against
#    two digons plus one orthogonal feature):

# %%
tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float).T / np.sqrt(3)
digon_plus = np.array([[1, -1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float)
bipyramid = np.c_[[[np.cos(t), np.sin(t), 0] for t in 2 * np.pi * np.arange(3) / 3]].T
bipyramid = np.c_[bipyramid, [0, 0, 1], [0, 0, -1]]
two_digons = np.array([[1, -1, 0, 0, 0], [0, 0, 1, -1, 0], [0, 0, 0, 0, 1]], float)
for name, W in [("tetrahedron (Thomson)", tet), ("digon + 2 orthogonal", digon_plus),
                ("bipyramid (Thomson)", bipyramid), ("2 digons + 1 orthogonal", two_digons)]:
    Nf = W.shape[1]
    L1v = tm.loss_L1(W, np.zeros(Nf), 1.0, 0.99)
    L2v = tm.loss_L2(W, np.zeros(Nf), 1.0, 0.99)
    print(f"{name:24s} L_1 = {abs(L1v):.4f}  L_2 = {L2v:.4f}  E = {tm.coulomb_energy(W.T):.3f}")

# %%
assert tm.loss_L1(tet, np.zeros(4), 1, 0.99) < 1e-15
assert tm.loss_L1(digon_plus, np.zeros(4), 1, 0.99) < 1e-15
assert np.isclose(tm.loss_L2(digon_plus, np.zeros(4), 1, 0.99), 1 / 18)
assert np.isclose(tm.loss_L2(tet, np.zeros(4), 1, 0.99), 5 / 81)
assert np.isclose(tm.loss_L2(two_digons, np.zeros(5), 1, 0.99), 1 / 15)
assert np.isclose(tm.loss_L2(bipyramid, np.zeros(5), 1, 0.99), 17 / 240)

# %% [markdown]
#    On the face of a pair at angle $\theta$ with $\cos\theta=-\kappa\le0$, the pair costs
#    $2\int\!\!\int(u-\operatorname{ReLU}(u-\kappa v))^2$. That is $1/3$ for an antipodal pair
#    ($\kappa=1$), $1/8$ at $\kappa=1/2$, $10/162$ at $\kappa=1/3$, and $0$ for orthogonal
#    features. $L_2$ is the average over the pairs. The tetrahedron pays $10/162$ on each of
#    its six pairs, so $L_2=5/81\approx0.0617$. The digon configuration pays $1/3$ on one pair
#    out of six, so $L_2=1/18\approx0.0556$. For $N=5$ the numbers are
#    $17/240\approx0.0708$ against $1/15\approx0.0667$. In both cases the model prefers the
#    configuration with *higher* Coulomb energy, and training finds it (table: $N=4,5$ have
#    distance $>0.25$ from Thomson).
# 3. *Norms and features are free.* The ReLU model can drop a feature (norm $\to0$) or give
#    it norm $\ne1$. Beyond $N=2m$ the norms grow above 1 (up to
#    {glue:text}`thomson-nmax:.2f` here)
#    together with a negative bias, which buys the cut-off in 1. Coulomb points have neither
#    freedom.
#
# When $N\ge d$, equal-norm {index}`tight frames <single: tight frame>` are the minimisers of
# the {index}`frame potential`
# $\sum_{i,j}\langle w_i,w_j\rangle^2$ over $N$ unit vectors in $\mathbb R^d$, with minimum
# $N^2/d$ (for $N<d$ the minimisers are the orthonormal sets, with potential $N$, and no
# tight frame of $\mathbb R^d$ exists). That potential is the interference
# term of the energy (28′): with $\lambda=1$ and $\lvert w_i\rvert=1$, $E$ equals half the
# frame potential minus $N/2$. The Thomson configurations for $N=4,6,12$ are tight frames
# (defect 0). The learned ones for $N=4,5$ are far from tight (defect at least
# {glue:text}`tf-defect-45:.2f`), because the
# frame operator of "digon + orthogonal features" is
# $\operatorname{diag}(2,1,1)\not\propto I$. The ReLU model's high-sparsity optimum is
# therefore neither a Coulomb minimiser nor a tight frame in general. All three coincide only
# for the highly symmetric $N=6$ and $N=12$.

# %% tags=["hide-input"]
assert table[6]["tf"] < 0.02 and (not ico or table[12]["tf"] < 0.02)
assert all(tm.tight_frame_defect(thomson[N].X.T) < 1e-6 for N in (4, 6, 12))  # Thomson: tight
unit = thomson[4].X.T  # unit norms: the interference term of (28′) is FP/2 − N/2
assert np.isclose(tm.energy_notes(unit), tm.frame_potential(unit) / 2 - 4 / 2)
assert min(table[4]["tf"], table[5]["tf"]) > 0.4
assert np.allclose(digon_plus @ digon_plus.T, np.diag([2.0, 1.0, 1.0]))  # not ∝ I
assert tm.is_equal_norm_tight_frame(thomson[4].X.T, tol=1e-6)
assert np.isclose(tm.frame_potential(thomson[4].X.T), 4**2 / 3)  # the minimum N²/d
assert np.isclose(tm.frame_potential(np.eye(3)[:, :2]), 2)  # N < d: orthonormal, FP = N

# %% [markdown]
# The square antiprism: the tight one has $D_i=3/8$ exactly, Thomson's $N=8$ antiprism only
# nearly:

# %%
# the 3/8 of a square antiprism needs the tight one; Thomson's N = 8 antiprism is not tight
θ8 = np.pi * np.arange(8) / 4
tight_anti = np.stack([np.sqrt(2 / 3) * np.cos(θ8), np.sqrt(2 / 3) * np.sin(θ8),
                       (-1.0) ** np.arange(8) / np.sqrt(3)])
D_thomson8 = tm.feature_dimensionality(thomson[8].X.T)
print(f"tight square antiprism: D_i = {tm.feature_dimensionality(tight_anti).mean():.4f}")
print(f"Thomson N = 8: D_i in [{D_thomson8.min():.4f}, {D_thomson8.max():.4f}]")
assert tm.is_equal_norm_tight_frame(tight_anti)
assert np.allclose(tm.feature_dimensionality(tight_anti), 3 / 8)
assert not tm.is_equal_norm_tight_frame(thomson[8].X.T)
assert tm.tight_frame_defect(thomson[8].X.T) > 0.05
assert 1e-4 < np.abs(D_thomson8 - 3 / 8).min() and np.abs(D_thomson8 - 3 / 8).max() < 0.005

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The unit directions $\\hat w_i$ learned for $N=4$, $6$, $8$ and $12$ features in three dimensions (red, with spokes from the origin), and the Thomson configuration (grey) rotated onto them by the best orthogonal alignment.", "name": "fig-ch3-thomson"}, "image": {"alt": "Four 3D point clouds on the unit sphere. For N = 4 the red points form two antipodal pairs in a square cross-section, away from the grey tetrahedron; for N = 6, 8 and 12 the red points sit on or near the grey points."}}
fig = plt.figure(figsize=(4.8, 5), layout="constrained")
for j, N in enumerate([4, 6, 8, 12]):
    ks = np.flatnonzero(NN == N)
    k = ks[np.argmin(L_th[ks])]
    W = res_th.W[k][:, :N]
    X = (W / tm.feature_norms(W)).T
    ax = fig.add_subplot(2, 2, j + 1, projection="3d")
    _, Q, _ = tm.aligned_distance(X, thomson[N].X, return_alignment=True)
    T = thomson[N].X @ Q.T  # the Thomson configuration rotated onto the learned one
    ax.scatter(*T.T, color="0.6", s=25, label="Thomson")
    ax.scatter(*X.T, color="C3", s=12, label=r"learned $\hat w_i$")
    for x_ in X:
        ax.plot([0, x_[0]], [0, x_[1]], [0, x_[2]], color="C3", lw=0.8)
    ax.set_title(f"$N={N}$")
    ax.set_axis_off()
fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2,
           frameon=False)
plt.show()

# %% [markdown]
# In {numref}`fig-ch3-thomson`, at $N=4$ the two are visibly different: a square
# cross-section against a tetrahedron. At $N=6$ both are octahedra, and at $N=12$ both are
# icosahedra when the run keeps all twelve features.
#
# Every function used above refuses bad input with an error that names the argument, a
# diverging run stops at the first non-finite loss and names the step and the instances, and
# asking the trainer for as many hidden dimensions as features, where superposition is the
# point, gives a `NoSuperpositionWarning`. `tests/test_relu_loss.py`, `tests/test_config.py`, `tests/test_divergence.py`
# and `tests/test_plots.py` check each of these.

# %% [markdown]
# ## Playground
#
# `tm.relu_playground(D, d, S, importance_decay)` trains a few instances
# in seconds. It draws polygons for $d=2$, and $W^\top W$ with norm bars otherwise. Try 6
# features at $S=0.9$ (a hexagon, or a pentagon plus a dropped feature?), or equal importance
# (`importance_decay=1`). {numref}`fig-ch3-playground` is what the call below draws.

# %% mystnb={"figure": {"caption": "The playground: four instances of 6 features in 2 dimensions at $S=0.95$ with importances $0.95^i$, trained for a few seconds.", "name": "fig-ch3-playground"}, "image": {"alt": "Four panels of arrows from the origin showing how six features are arranged in the plane by four independently trained models."}}
run = tm.relu_playground(D=6, d=2, S=0.95, importance_decay=0.95).data
plt.show()

# %% tags=["remove-cell"]
if tm.widgets_live():
    try:
        import ipywidgets as widgets

        def _play(D=5, d=2, S=0.9, importance_decay=0.9):
            tm.relu_playground(D, d, S, importance_decay)
            plt.show()

        widgets.interact(_play, D=(2, 12), d=(1, 4), S=(0.0, 0.995, 0.005),
                         importance_decay=(0.5, 1.0, 0.05))
    except ImportError:
        pass

# %% [markdown]
# ## Summary
#
# - The integral loss {eq}`eq-integral-loss` splits exactly over the skeleta, with binomial
#   (or Poisson-binomial) weights: {prf:ref}`prop-skeleta`. $L_0$ and $L_1$ have closed forms
#   (derived with sympy above), and $L_2$ is exact by piecewise Gauss–Legendre quadrature. The
#   remaining tail needs only conditional Monte Carlo, and the combined estimator has a
#   standard error less than half that of plain Monte Carlo.
# - **The open question, answered.** The share of non-zero inputs with two or more active
#   features is about $(D-1)(1-S)/2$ when $D(1-S)\ll1$ (and much less than that formula
#   otherwise). A trained model in superposition, however, pays more on two-feature inputs
#   than on single ones: {glue:text}`pent-ratio-min:.0f`–{glue:text}`pent-ratio-max:.0f` times
#   more for the pentagon, about {glue:text}`square-ratio:.0f` times for the square local
#   minimum. So the 1-sparse loss misses about a quarter of the loss of the 5→2 model even at
#   $S=0.99$, where only {glue:text}`share-099-5-pct:.0f`% of the non-zero inputs have two
#   active features. The approximation needs
#   $\tfrac{(D-1)(1-S)}{2}\cdot L_2/L_1\ll1$. Under a mild condition ($b^*\le0$), the minimiser of the
#   1-sparse loss does not depend on $S$ ({prf:ref}`prop-one-sparse-S`). It is the $S\to1$
#   limit of the trained models.
# - The Toy Models results come out of the book's code: the 5→2 progression from PCA-like to
#   antipodal pairs to a pentagon, as the most common outcome of 20 runs per sparsity (at
#   $S=0.8$–$0.95$ the square and the pentagon are both found, with the frequencies
#   tabulated); the 2→1 phase diagram with the closed-form boundary
#   {eq}`eq-phase-boundary` (where training disagrees, it has mostly stopped in another
#   candidate's basin); dimensions per feature sticking at $1/2$, with digons and pentagons as tegum
#   factors ({prf:ref}`prop-tegum`).
# - **Thomson.** The solver reproduces the published minima for $N=2,\dots,12$. The ReLU model
#   matches Thomson at $N=6$, at $N=12$ when it keeps all twelve features, and approximately at $N=8$ (at $N=9$ the type depends on the
#   run). It departs at $N=4,5$ (antipodal
#   pairs beat the tetrahedron and the bipyramid on $L_2$: $1/18<5/81$ and $1/15<17/240$) and
#   at $N=7,10,11$ (a short-range potential, with larger minimal angles at $N=7,11$).
# - **Where the notes need correcting or completing.** (i) The sign of the bias is a
#   convention, $-b$ in the notes and $+b$ here. (ii) "$C=\bigcup_{l=0}^{n}Q_l$" should read
#   $Q=\bigcup_{l=0}^{D}Q_l$. (iii) Whether the higher skeleta can be ignored depends on
#   $D(1-S)$, not on $S$ alone. (iv) The 1-sparse loss does not determine the minimiser when
#   $N\le2m$: $L_2$ does, and it picks configurations that are not Thomson's. (v) The
#   connection to the Thomson problem is an analogy that holds only for the most symmetric
#   $N$: the effective potential is short-ranged, and norms and dropped features are free.

# %% [markdown]
# ## Exercises
#
# The solutions are hidden; each one runs when the book is built, and its asserts check the
# answer.
#
# ```{exercise} Where superposition starts
# :label: ex-ch3-boundary
#
# For two features of equal importance ($r=1$) in one dimension, at which density $p=1-S$ do
# the antipodal solution and "feature 1 only" have the same loss? Check your answer with
# `tm.restricted_loss`, which knows nothing of the candidates.
# ```
#
# ````{solution-start} ex-ch3-boundary
# :class: dropdown
# ````
#
# With $r=1$, $L_{\text{antipodal}}=p^2/3$ and $L_{\text{feature 1}}=p/3-p^2/4$. They are equal
# at $p=4/7$, which is {eq}`eq-phase-boundary` at $r=1$. Below it the antipodal solution wins.

# %%
p_cross = 4 / 7
for p_ in (p_cross - 0.05, p_cross, p_cross + 0.05):
    L_f1 = tm.restricted_loss([[1.0, 0.0]], [0.0, p_ / 2], [1.0, 1.0], 1 - p_, l_max=2)
    L_ap = tm.restricted_loss([[1.0, -1.0]], [0.0, 0.0], [1.0, 1.0], 1 - p_, l_max=2)
    print(f"p = {p_:.3f}: antipodal {L_ap:.5f}, feature 1 only {L_f1:.5f}")
    if p_ == p_cross:
        assert np.isclose(L_ap, L_f1, rtol=1e-12)
    else:
        assert (L_ap < L_f1) == (p_ < p_cross)

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Dimensions per feature of small polytopes
# :label: ex-ch3-tegum
#
# Use {prf:ref}`prop-tegum` to predict $D_i$ for every feature of a $W$ made of a triangle in
# the plane $\operatorname{span}\{e_1,e_2\}$, an antipodal pair along $e_3$ and a single
# feature along $e_4$ ($d=4$, six features). Check with `tm.feature_dimensionality`.
# ```
#
# ````{solution-start} ex-ch3-tegum
# :class: dropdown
# ````
#
# The three groups span orthogonal subspaces. The triangle is a tight frame of its plane
# ($k=3$, $r=2$): $D_i=2/3$. The digon has $k=2$, $r=1$: $D_i=1/2$. The lone feature has
# $D_i=1$. The average $d/\lVert W\rVert_F^2=4/6$ is their mean, as it must be, since
# $\sum_iD_i=\sum_{\text{groups}}r=d$ for unit norms.

# %%
t = 2 * np.pi * np.arange(3) / 3
W_tegum = np.zeros((4, 6))
W_tegum[:2, :3] = np.stack([np.cos(t), np.sin(t)])
W_tegum[2, 3], W_tegum[2, 4], W_tegum[3, 5] = 1.0, -1.0, 1.0
D_i = tm.feature_dimensionality(W_tegum)
assert np.allclose(D_i, [2 / 3] * 3 + [1 / 2] * 2 + [1.0])
assert np.isclose(tm.dimensions_per_feature(W_tegum), D_i.mean())
print("D_i:", [str(f) for f in tm.nearest_fraction(D_i)])

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} How sparse must the data be?
# :label: ex-ch3-sparse-enough
#
# For $D=100$ features, find the density $1-S$ at which 5% of the non-zero inputs have two or
# more active features. Compare it with the asymptotic formula of {eq}`eq-tail-ratio`.
# ```
#
# ````{solution-start} ex-ch3-sparse-enough
# :class: dropdown
# ````
#
# The share increases with the density, so a root finder gives the threshold, about
# $1.0\times10^{-3}$: an input has on average a tenth of an active feature. The asymptotic
# formula $(D-1)(1-S)/2=0.05$ gives $1-S=0.1/99$, within a few percent.

# %%
from scipy.optimize import brentq

p_5 = brentq(lambda p_: share(1 - p_, 100) - 0.05, 1e-6, 0.5, xtol=1e-14)
p_asym = 0.1 / 99
assert abs(share(1 - p_5, 100) - 0.05) < 1e-9 and abs(p_5 / p_asym - 1) < 0.05
print(f"1 - S = {p_5:.3e} (asymptotic formula: {p_asym:.3e})")

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} The cost of a pair, and which configurations it prefers
# :label: ex-ch3-pair-cost
#
# Two unit features at an angle with $\cos\theta=-\kappa$, $0\le\kappa\le1$, with zero bias,
# cost $c(\kappa)=2\int_0^1\!\int_0^1\big(u-\operatorname{ReLU}(u-\kappa v)\big)^2\,du\,dv$ on the
# face of the pair. Compute $c(\kappa)$ in closed form and recover the values quoted in
# [the Thomson section](sec-ch3-analogy). Then use it to compute $L_2$ of the tetrahedron
# and check against `tm.loss_L2`. *Research direction:* for $N$ unit vectors in
# $\mathbb{R}^m$ with pairwise non-positive inner products, $L_2$ is the mean of
# $c(\kappa_{ij})$ over the pairs. Which configurations minimise it for $m<N\le2m$, and how
# does the answer change when the norms and a negative bias are free?
# ```
#
# ````{solution-start} ex-ch3-pair-cost
# :class: dropdown
# ````
#
# Split the square at $u=\kappa v$: for $u>\kappa v$ the integrand is $\kappa^2v^2$, for
# $u<\kappa v$ it is $u^2$. Then
# $c(\kappa)=2\int_0^1\big(\kappa^2v^2(1-\kappa v)+\kappa^3v^3/3\big)dv=\tfrac23\kappa^2-\tfrac13\kappa^3$,
# which gives $1/3$, $1/8$ and $10/162$ at $\kappa=1,1/2,1/3$. The tetrahedron has six pairs
# with $\kappa=1/3$, so its $L_2$ is $c(1/3)=5/81$.

# %%
κ, v_, u_ = sp.symbols("kappa v u", nonnegative=True)
c_κ = 2 * sp.integrate(sp.integrate(κ**2 * v_**2, (u_, κ * v_, 1))
                       + sp.integrate(u_**2, (u_, 0, κ * v_)), (v_, 0, 1))
assert sp.simplify(c_κ - (sp.Rational(2, 3) * κ**2 - κ**3 / 3)) == 0
assert [c_κ.subs(κ, k) for k in (1, sp.Rational(1, 2), sp.Rational(1, 3))] == [
    sp.Rational(1, 3), sp.Rational(1, 8), sp.Rational(10, 162)]
assert np.isclose(tm.loss_L2(tet, np.zeros(4), 1, 0.99), float(c_κ.subs(κ, sp.Rational(1, 3))))
print("c(κ) =", sp.factor(c_κ))

# %% [markdown]
# ````{solution-end}
# ````
