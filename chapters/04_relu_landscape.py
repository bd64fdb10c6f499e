# %% [markdown]
# # The landscape of the ReLU output model
#
# Chapters 1 and 2 explain where training of the linear model ends: every critical point is
# listed, every Hessian is known, and the plateaus of training are the saddles. Chapter 3 stops
# earlier for the ReLU model: it computes the loss exactly and watches what training produces.
# This chapter does for the ReLU model in two hidden dimensions what Chapter 1 did for the
# linear one, following {cite:t}`chen2023dynamical`, who found the closed form of the loss on
# one-active-feature inputs and showed that regular polygons are exact critical points.
#
# **What you will learn.**
# - The 1-sparse loss of the ReLU model in closed form, derived with sympy, for equal and
#   unequal importance, and checked against Monte Carlo and Chapter 3's skeleton decomposition.
# - Why a regular $k$-gon with $D-k$ dropped features is an exact critical point (symmetric
#   criticality), the certified values of its radius and bias for $k=2,\dots,13$, and a
#   surprise: the decagon sits at $r=\varphi$, $b=-\varphi$ (the golden ratio).
# - Which polygon is the global minimum among them for each number of features $D$, and that
#   from $D=8$ on a polygon *with a dropped feature* beats the $D$-gon.
# - The Hessian at these critical points: Morse index, null space and the symmetry behind each
#   null direction, where the loss fails to be twice differentiable, and why polygons with ten
#   or more vertices are saddles although they minimise the loss among polygons.
# - The Hessian of the loss on inputs with at most two active features, for $D=5,\dots,8$ at
#   Chapter 3's sparsities: squares and pentagons are always minima, larger polygons are
#   saddles when the data are dense.
# - In three hidden dimensions: the tetrahedron, octahedron, square antiprism and the
#   triangular bipyramid as critical points, and an exact "tegum" argument that answers the
#   question left open on the errata page about the 3/4 and 3/8 plateaus.
#
# **What you need.** Chapter 3: the model {eq}`eq-relu-model`, the integral loss
# {eq}`eq-integral-loss`, the skeleta and the one-feature loss $\ell_i$ of {eq}`eq-ell-i`.
# The Hessian language of Chapter 1 (Morse index, null directions from symmetries).

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
from myst_nb import glue

# %% [markdown]
# (sec-ch4-closed-form)=
# ## The 1-sparse loss in closed form
#
# Condition the data of Section 2.1 on exactly one active feature. Feature $i$ is the active
# one with probability $P(\{i\})/P_1$, where $P(\{i\})=(1-S_i)\prod_{k\ne i}S_k$, and its value
# $u$ is uniform on $[0,1]$. The input is $ue_i$ and the output of feature $k$ is
# $\operatorname{ReLU}(uA_{ki}+b_k)$ with $A=W^\top W$. So the loss given exactly one active
# feature is
#
# $$\begin{gathered}L_1=\sum_{i=1}^D\frac{P(\{i\})}{P_1}\,\ell_i,\\
#   \ell_i=\omega_i\,\rho(A_{ii},b_i)+\sum_{k\ne i}\omega_k\,g(A_{ki},b_k),\end{gathered}$$ (eq-L1-closed)
#
# with the two one-dimensional integrals
# $g(a,c)=\int_0^1\operatorname{ReLU}(au+c)^2du$ (interference) and
# $\rho(a,c)=\int_0^1(u-\operatorname{ReLU}(au+c))^2du$ (reconstruction). With equal sparsity
# the weights are all $1/D$ and $L_1$ does not depend on $S$. This is the loss of
# {cite:t}`chen2023dynamical` (with $\omega=1$), and `tm.one_sparse_loss` evaluates it through
# `tm.loss_L1`. Chapter 3 derived $g$ and $\rho$ in each regime. Here we derive the two cases
# that matter for polygons, where the bias is negative and the ReLU switches on inside $[0,1]$:

# %%
a, b, c, u = sp.symbols("a b c u", real=True)
t_on = -b / a  # the own ReLU switches on at u = −b/a (0 < −b/a < 1)
rho = sp.integrate(u**2, (u, 0, t_on)) + sp.integrate((u - (a * u + b)) ** 2, (u, t_on, 1))
g_act = sp.integrate((a * c * u + b) ** 2, (u, -b / (a * c), 1))  # neighbour at cos θ = c
print("ρ(a, b) =", sp.factor(sp.expand(rho)))
print("g(ac, b) =", sp.factor(g_act))
assert sp.simplify(g_act - (a * c + b) ** 3 / (3 * a * c)) == 0
rng = np.random.default_rng(0)
for _ in range(50):  # sympy against the package's closed forms, inside the regime
    av = rng.uniform(0.5, 3)
    bv = -rng.uniform(0.05, 0.95) * av
    cv = rng.uniform(-bv / av, 1)
    assert np.isclose(float(rho.subs({a: av, b: bv})), tm.recon_sq_integral(av, bv), rtol=1e-12)
    assert np.isclose(float(g_act.subs({a: av, b: bv, c: cv})), tm.relu_sq_integral(av * cv, bv),
                      rtol=1e-12)

# %% [markdown]
# We check {eq}`eq-L1-closed` against Monte Carlo conditioned on one active feature
# (`tm.sample_given_active_count`) and against the $l=1$ term of Chapter 3's skeleton
# decomposition, once with equal and once with unequal importance and sparsity:

# %%
W_r, b_r = rng.normal(size=(2, 6)), 0.3 * rng.normal(size=6)
cases = {"equal": (np.ones(6), np.full(6, 0.9)),
         "unequal": (0.8 ** np.arange(6), np.array([0.5, 0.7, 0.9, 0.95, 0.8, 0.6]))}
for name, (ω, S) in cases.items():
    x1 = tm.sample_given_active_count(400_000, S, 1, rng=1)
    mc = tm.pointwise_loss(W_r, b_r, ω, x1)
    se = mc.std() / np.sqrt(len(mc))
    closed = tm.loss_L1(W_r, b_r, ω, S)
    dec = tm.skeleton_decomposition(W_r, b_r, ω, S, T_tail=2_000, rng=2)
    print(f"{name:8s} closed form {closed:.5f}   Monte Carlo {mc.mean():.5f} ± {se:.5f}   "
          f"skeleton L_1 {dec.L_exact[1]:.5f}")
    assert abs(closed - mc.mean()) < 5 * se and np.isclose(closed, dec.L_exact[1], rtol=1e-12)
assert np.isclose(tm.one_sparse_loss(W_r, b_r), tm.loss_L1(W_r, b_r, 1.0, 0.3), rtol=1e-13)

# %% [markdown]
# (sec-ch4-kgons)=
# ## Regular polygons are critical points
#
# Fix $D$ features of equal importance in $d=2$ dimensions and $2\le k\le D$. Put the first $k$
# features on a regular $k$-gon and drop the others:
#
# $$\begin{gathered}w_j=r\big(\cos\tfrac{2\pi j}{k},\sin\tfrac{2\pi j}{k}\big),\ b_j=b\ \ (j<k),\\
#   w_j=0,\ b_j=b_+ \text{ or } b_-\ \ (j\ge k),\end{gathered}$$ (eq-kgon)
#
# where $b_+>0$ is the bias of a dropped feature that outputs a constant and $b_-<0$ that of a
# *dead* one, whose output is $0$ on every input. Following {cite:t}`chen2023dynamical` we
# write "$5^{+}$" for a pentagon with one dropped feature of positive bias and "$5^{-}$" for
# one with a dead feature.
#
# ```{prf:proposition} Symmetric criticality
# :label: prop-symmetric-criticality
#
# Let $L$ be the 1-sparse loss (equal importance and sparsity) or the loss restricted to
# $l\le2$ active features. At points {eq}`eq-kgon` with $b_+>0$ and $b_-<0$, $L$ is
# continuously differentiable, and $(W,b)$ is a critical point of $L$ on all of
# $\mathbb R^{2\times D}\times\mathbb R^D$ as soon as the derivatives of $L$ in the four
# parameters $(r,b,b_+,b_-)$ vanish.
# ```
#
# ```{prf:proof}
# Let $G$ be the group generated by (i) the rotation $R$ by $2\pi/k$ of the hidden plane
# together with the cyclic shift $j\mapsto j+1$ of the polygon's features, (ii) the reflection
# $(x,y)\mapsto(x,-y)$ together with $j\mapsto -j \bmod k$, and (iii) the permutations of the
# dropped features of each sign. Each $g\in G$ acts on the parameters by
# $(W,b)\mapsto(QWP,P^\top b)$ with $Q$ orthogonal and $P$ a permutation, so linearly and
# orthogonally. It leaves $L$ unchanged: $W^\top W\mapsto P^\top W^\top WP$ permutes inputs and
# outputs alike, and the law of the data and the weights $\omega$ are invariant under any
# permutation when importance and sparsity are equal. Differentiating $L(g\theta)=L(\theta)$
# gives $\nabla L(g\theta)=g\nabla L(\theta)$, so at a fixed point $\theta$ of $G$ the gradient
# is itself fixed: $\nabla L(\theta)\in\operatorname{Fix}(G)$. The fixed set is exactly
# {eq}`eq-kgon`: (ii) puts $w_0$ on the $x$-axis, (i) gives $w_j=R^jw_0$, the dropped $w_j$ are
# fixed by $R\ne I$ so they vanish, and the biases are constant on orbits. Its tangent space is
# spanned by the four directions $\partial_r,\partial_b,\partial_{b_+},\partial_{b_-}$. A
# vector of $\operatorname{Fix}(G)$ orthogonal to all four is zero. Differentiability: every
# term is an integral of $h(\alpha u+\beta v+\gamma)$ with $h$ a $C^1$ function, which is $C^1$
# in $(\alpha,\beta,\gamma)$ except for the reconstruction term at $\alpha=\gamma=0$, that is
# $\lVert w_i\rVert=0=b_i$; the dropped features have $b_\pm\ne0$.
# ```
#
# The 1-sparse loss of {eq}`eq-kgon` splits. A dropped feature's output is the constant
# $\operatorname{ReLU}(b_\pm)$, so the polygon's parameters and the dropped ones never meet:
#
# $$\begin{aligned}L_1=\frac1D\Big[&k\,B_k(r^2,b)+k(D-k)\operatorname{ReLU}(b)^2\\
#   &+n_+\Big(\frac13-c+Dc^2\Big)+\frac{n_-}3\Big],\end{aligned}$$ (eq-kgon-split)
#
# with $c=\operatorname{ReLU}(b_+)$, $n_\pm$ the numbers of dropped features of each sign and the *block loss*
#
# $$B_k(a,b)=\rho(a,b)+\sum_{m=1}^{k-1}g\big(a\cos\tfrac{2\pi m}{k},b\big).$$ (eq-block)
#
# Sympy minimises the dropped features' part; the best constant is $c^*=1/(2D)$:

# %%
cc, DD = sp.symbols("c D", positive=True)
dropped = sp.integrate((u - cc) ** 2, (u, 0, 1)) + (DD - 1) * cc**2
c_star = sp.solve(sp.diff(dropped, cc), cc)[0]
print("c* =", c_star, "   cost =", sp.simplify(dropped.subs(cc, c_star)))
assert sp.simplify(c_star - 1 / (2 * DD)) == 0
assert sp.simplify(dropped.subs(cc, c_star) - (sp.Rational(1, 3) - 1 / (4 * DD))) == 0
for D_, k_, n_dead in [(6, 5, 1), (9, 6, 2), (13, 7, 0)]:
    p_ = tm.kgon_critical_point(D_, k_, n_dead=n_dead)
    split = (k_ * tm.block_loss(k_, p_.r, p_.b) + (D_ - k_ - n_dead) * (1 / 3 - 1 / (4 * D_))
             + n_dead / 3) / D_
    assert p_.b_dropped == 1 / (2 * D_) and np.isclose(p_.loss, split, rtol=1e-14)

# %% [markdown]
# So for the 1-sparse loss the polygon's radius and bias do not depend on $D$: they are the
# critical points of $B_k$. For $k\le4$, $r=1$, $b=0$ gives $B_k=0$, the least possible value,
# because neighbours at $90°$ or more never interfere when $b=0$. For $k\ge5$, every regime of
# {eq}`eq-block` (which neighbours $m$ have $a\cos(2\pi m/k)+b>0$) gives a rational system in
# $(a,b)$. `tm.kgon_block_roots` solves it in each regime by multistart Newton, polishes every
# root to 50 digits with mpmath, and *certifies* it with the Krawczyk test in interval
# arithmetic: the box of radius $10^{-20}$ around the root provably contains exactly one zero
# and no change of regime.

# %%
ks = range(2, 14)
rows = []
print(" k  on    r*               b*                B_k              |∇B_k|    certified")
for k in ks:
    if k <= 4:
        rows.append((k, 0, 1.0, 0.0, 0.0, 0.0, True))
    for fr in tm.kgon_block_roots(k):
        rows.append((k, fr.p, fr.r, fr.b, fr.B, fr.residual, fr.certified))
for k, p_, r_, b_, B_, res, cert in rows:
    print(f"{k:2d}  {p_:2d}   {r_:.12f}   {b_:+.12f}   {B_:.12f}   {res:.0e}   {cert}")
assert all(row[6] for row in rows) and max(row[5] for row in rows) < 1e-40
assert [row[0] for row in rows] == list(ks)  # one critical point with b < 0 for each k ≥ 5

# %% [markdown]
# Each $k$ has exactly one critical point in the searched region ($0<r<10$, $-r^2<b<0$), and
# it is a minimum of $B_k$ within the symmetric family. The column `on` is the regime: the
# number of neighbours on each side whose ReLU is on,
# one for $k\le11$, two for $k=12,13$. The radius grows up to $k=10$ and then falls back, when
# the second neighbour joins. The decagon stands out:

# %%
φ = (1 + sp.sqrt(5)) / 2
dec_sub = {a: φ**2, b: -φ, c: sp.cos(sp.pi / 5)}  # a = r², the neighbour at 36°
B10 = rho + 2 * g_act  # regime p = 1: only the two nearest neighbours interfere
grad10 = [sp.nsimplify(sp.simplify(sp.diff(B10, v).subs(dec_sub))) for v in (a, b)]
val10 = sp.nsimplify(sp.simplify(B10.subs(dec_sub)))
print("∇B_10(φ², −φ) =", grad10, "   B_10 =", val10)
assert grad10 == [0, 0] and val10 == sp.Rational(1, 6)
dec10 = tm.kgon_block_roots(10)[0]
assert abs(dec10.r - float(φ)) < 1e-14 and abs(dec10.b + float(φ)) < 1e-14
glue("decagon_r", dec10.r, display=False)

# %% [markdown]
# ```{prf:proposition} The decagon and the golden ratio
# :label: prop-decagon
#
# The 1-sparse critical point of the regular decagon has radius $r=\varphi=(1+\sqrt5)/2$,
# bias $b=-\varphi$, and block loss $B_{10}=1/6$ exactly.
# ```
#
# ```{prf:proof}
# At $a=\varphi^2$, $b=-\varphi$ the two nearest neighbours ($\cos36°=\varphi/2$) have
# $a\varphi/2+b=\tfrac12>0$ and the next ones ($\cos72°=1/(2\varphi)$) have
# $\varphi/2-\varphi<0$, so one neighbour on each side is on; the cell above evaluates $\nabla B_{10}$
# exactly in that regime and finds $0$, and $B_{10}=1/6$. The root is the certified one
# ($r$ = {glue:text}`decagon_r:.12f`).
# ```
#
# ### Comparison with Chen et al.
#
# {cite:t}`chen2023dynamical` tabulate the critical points of $D=6$ features ($c=6$ in their
# notation). **We could not consult their table directly.** The values below are their losses
# as quoted to five digits by an independent public reproduction of the paper; we found no
# quotation of their $k=7,8$ rows (which would need $D\ge7$). Our certified values agree
# with every one to the five quoted digits:

# %%
chen_c6 = {"4⁻⁻": (4, 2, 1 / 9), "4⁺⁻": (4, 1, 0.10417), "4⁺⁺": (4, 0, 0.09722),
           "5⁻": (5, 1, 0.06874), "5⁺": (5, 0, 0.06180), "6": (6, 0, 0.04819)}
print("critical point   this book     quoted value")
for name, (k, n_dead, quoted) in chen_c6.items():
    cp = tm.kgon_critical_point(6, k, n_dead=n_dead)
    print(f"{name:8s}         {cp.loss:.7f}     {quoted:.5f}")
    assert abs(cp.loss - quoted) <= 5e-6 and cp.grad_norm < 1e-12
glue("hexagon_loss", tm.kgon_critical_point(6, 6).loss, display=False)

# %% [markdown]
# (sec-ch4-global)=
# ## Which polygon wins?
#
# With {eq}`eq-kgon-split` the loss of every member of the family is known for every $D$. A
# dropped feature with positive bias costs $\tfrac13-\tfrac1{4D}$; a dead one costs $\tfrac13$,
# so dead features never win. The table gives $L_1$ of the best $k$-gon with $D-k$ positive
# dropped features, for $D=2,\dots,13$:

# %%
Ds = range(2, 14)
fam = {D: tm.kgon_family(D) for D in Ds}
best_k = {}
print("  D   best k    L_1(best)    L_1(D-gon)")
for D in Ds:
    losses = {pt_.k: pt_.loss for pt_ in fam[D]}
    best_k[D] = min(losses, key=losses.get)
    print(f"{D:3d}   {best_k[D]:5d}     {losses[best_k[D]]:.6f}     {losses[D]:.6f}")
first_drop = min(D for D in Ds if best_k[D] < D)
assert all(best_k[D] == D for D in Ds if D < 8) and first_drop == 8
assert all(best_k[D] < D for D in Ds if D >= 8)
glue("first_drop", first_drop, display=False)
glue("best_k_13", best_k[13], display=False)

# %% [markdown]
# Up to $D=7$ the $D$-gon is the best member of the family. From $D$ =
# {glue:text}`first_drop` on, a polygon **with dropped features** wins: the marginal cost of
# the eighth vertex, $8B_8-7B_7$, already exceeds the cost $\tfrac13-\tfrac1{4D}$ of dropping
# the feature. At $D=13$ the best member is the {glue:text}`best_k_13`-gon. This is a
# statement about the family {eq}`eq-kgon`; configurations without the polygon's symmetry are
# not compared here, and the Hessians below show that they matter: from $k=10$ on the regular
# polygon is a saddle.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The 1-sparse loss of the $k$-gon with $D-k$ dropped features (positive bias), against $k$, for several $D$. Circles mark the best $k$ for each $D$; from $D=8$ on it is below $D$.", "name": "fig-kgon-family"}, "image": {"alt": "Line plot of the 1-sparse loss against the number k of features on the polygon, one line for each D = 5, 6, 8, 10 and 13; each line falls steeply at first and then flattens, and a circle marks its lowest point, which is at k = D for D = 5 and 6 and below D for D = 8, 10 and 13."}}
fig, ax = plt.subplots(figsize=(4.8, 3.6))
for D in (5, 6, 8, 10, 13):
    kk = [p_.k for p_ in fam[D]]
    ax.plot(kk, [p_.loss for p_ in fam[D]], "-o", ms=3, label=f"D = {D}")
    ax.plot(best_k[D], fam[D][best_k[D] - 2].loss, "ko", mfc="none", ms=9)
ax.set_xlabel("k (features on the polygon)")
ax.set_ylabel("1-sparse loss $L_1$")
ax.legend()
plt.show()

# %% [markdown]
# (sec-ch4-hessians)=
# ## Hessians: minima, saddles and flat directions
#
# `tm.analyse_critical_point` computes the full Hessian of the exact loss in all $3D$
# parameters (torch autograd in float64 through the closed forms), its eigenvalues, the Morse
# index (the number of negative eigenvalues, below $-10^{-9}$), the null space, and which
# symmetry explains each null direction:
#
# - **rotation**: $W\mapsto QW$ with $Q$ orthogonal leaves the loss unchanged, so $\delta W=AW$
#   with $A$ antisymmetric is null (one direction in $d=2$);
# - **dead features**: a dead feature's bias, and for the 1-sparse loss its weights too, do not
#   change the loss near the point, because its ReLU stays off.
#
# **Kinks.** The loss is $C^1$ but not everywhere $C^2$. The second derivative of
# $\int\operatorname{ReLU}(\alpha u+\gamma)^2$ jumps only where $\alpha=\gamma=0$, i.e. where
# $\langle w_k,w_i\rangle=0$ and $b_k=0$ for some $k\ne i$ (`toymodels.relu.landscape.kinks`). The polygons with
# $k\le4$ sit on such kinks: their bias is $0$, and a dropped feature ($w_j=0$) or a neighbour
# at $90°$ is orthogonal to them. There autograd returns the Hessian of one branch
# ($\operatorname{ReLU}'(0)=0$), which can be wrong about the kind of point: for the triangle
# with a dropped feature its most negative eigenvector is in fact a direction of *increase*.
# So at a kink `tm.analyse_critical_point` uses `toymodels.relu.landscape.second_order_test` instead: it minimises
# the directional curvature
#
# $$q(v)=\frac{2\big(L(\theta+\varepsilon v)-L(\theta)\big)}{\varepsilon^2}$$
#
# over unit $v$ (with $\varepsilon=10^{-4}$). A negative value comes with an explicit descent
# direction, a certificate that the point is a saddle; otherwise the point is reported as
# "minimum?", a numerical verdict only. First the smooth points, all $(D,k)$ with
# $5\le k\le D\le13$:

# %%
table = {}
for D in Ds:
    for p_ in fam[D]:
        if p_.k >= 5:
            table[D, p_.k] = (p_, tm.analyse_critical_point(*p_.parameters()))
print("  D  k   index  null  explained   kind       margin")
for (D, k), (p_, rep) in table.items():
    if D in (5, 6, 8, 13) or k == D:
        print(f"{D:3d} {k:2d}   {rep.morse_index:4d}  {rep.null_dim:4d}  "
              f"{str(rep.null_explained):5s}       {rep.kind:9s}  {rep.margin:+.2e}")
assert all(rep.null_explained and rep.grad_norm < 1e-12 and not rep.kinks and rep.null_dim == 1
           for _, rep in table.values())
assert all(rep.kind == "minimum" for (D, k), (_, rep) in table.items() if k <= 9)
assert all(rep.kind == "saddle" for (D, k), (_, rep) in table.items() if k >= 10)
index_k = {k: {rep.morse_index for (D, kk), (_, rep) in table.items() if kk == k} for k in range(10, 14)}
assert index_k == {10: {2}, 11: {8}, 12: {1}, 13: {2}}
min_margin = min(rep.margin for (D, k), (_, rep) in table.items() if k <= 9)
glue("min_margin", min_margin, display=False)
glue("n_minima", sum(k <= 9 for D, k in table), display=False)
glue("n_saddles", sum(k >= 10 for D, k in table), display=False)

# %% [markdown]
# Two regimes appear. The {glue:text}`n_minima` points with $5\le k\le9$ are **strict local
# minima up to the rotation**: the only null direction is
# the rotation, and the smallest positive eigenvalue over all of them is
# {glue:text}`min_margin:.2e`. The {glue:text}`n_saddles` points with $10\le k\le13$ are
# **saddles**, although each is a minimum of its block loss $B_k$ within the symmetric family:
# the descent directions break the polygon's symmetry. Their Morse index depends on $k$ only
# (2, 8, 1, 2 for $k=10,\dots,13$), not on how many features are dropped. So for $k\ge10$ the
# regular polygon is a point that training passes by, not one where it can stop.
#
# The digon and the triangle *alone* ($D=k$) have zero loss, and they are not isolated: as
# Chapter 3 noted, every configuration of unit vectors with $b=0$ and pairwise angles of at
# least $90°$ has $L_1=0$. Their null space is the rotation plus the $k-1$ free angles:

# %%
for k in (2, 3):
    p_ = tm.kgon_critical_point(k, k)
    rep = tm.analyse_critical_point(*p_.parameters())
    print(f"{p_.name}: loss {abs(p_.loss):.1e}, null dimension {rep.null_dim}, kind {rep.kind}")
    assert abs(p_.loss) < 1e-15 and rep.null_dim == k and rep.kind == "minimum"
    θ = np.array([0.0, 2.2, 4.3])[:k]  # other angles, all at least 90° apart: still zero loss
    assert tm.one_sparse_loss(np.stack([np.cos(θ), np.sin(θ)]), np.zeros(k)) < 1e-15

# %% [markdown]
# Now the polygons with $k\le4$ that sit on kinks, with one dropped feature, and the square
# alone:

# %%
kinked = {}
for D, k in [(3, 2), (4, 3), (5, 4), (4, 4)]:
    p_ = tm.kgon_critical_point(D, k)
    rep = tm.analyse_critical_point(*p_.parameters())
    kinked[D, k] = rep
    print(f"{p_.name:8s} kinks {len(rep.kinks):2d}   smallest curvature {rep.margin:+.4f}   {rep.kind}")
assert all(rep.kinks for rep in kinked.values())
assert kinked[3, 2].kind == kinked[4, 3].kind == "saddle (kink)"
assert kinked[5, 4].kind == kinked[4, 4].kind == "minimum? (kink)"

# %% [markdown]
# The digon and the triangle *with a dropped feature* are saddles: the dropped feature can
# grow into the plane while the polygon turns to make room, and the loss goes down. The
# square, with or without a dropped feature, shows no descent direction; with four features
# the plane is full. Dead features add flat directions, exactly three each (two weights and a
# bias):

# %%
for n_dead in (0, 1):
    p_ = tm.kgon_critical_point(6, 5, n_dead=n_dead)
    rep = tm.analyse_critical_point(*p_.parameters())
    print(f"{p_.name:6s} null dimension {rep.null_dim}: {rep.explained}, kind {rep.kind}")
    assert rep.null_dim == 1 + 3 * n_dead and rep.null_explained and rep.kind == "minimum"

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Hessian spectra of the 1-sparse loss at the $k$-gon critical points with $D=k$ (no dropped features; the square, on a kink, is left out). Eigenvalues on a symmetric-log axis; the single zero is the rotation.", "name": "fig-kgon-spectra"}, "image": {"alt": "Scatter plot of Hessian eigenvalues, one column of dots for each k from 5 to 13, on a symmetric-log axis; for k up to 9 every dot is at zero or above, with a single dot at zero, and for k from 10 to 13 a few dots lie below zero."}}
fig, ax = plt.subplots(figsize=(4.8, 3.4))
for k in [k for k in range(2, 14) if (k, k) in table]:
    ev = table[k, k][1].eigenvalues
    ax.scatter(np.full(ev.size, k), ev, s=8, color="C0")
ax.axhline(0, color="0.6", lw=0.6)
ax.set_yscale("symlog", linthresh=1e-3)
ax.set_xlabel("k (= D)")
ax.set_ylabel("Hessian eigenvalue")
plt.show()

# %% [markdown]
# ### The $l\le2$ loss at Chapter 3's sparsities, $D=5$ to $8$
#
# The 1-sparse loss ignores two-feature inputs. Chapter 3's trained models live at
# $S=0.7,\dots,0.99$, where the loss on $Q_0\cup Q_1\cup Q_2$ is the better model. The polygon
# family is still a family of critical points there ({prf:ref}`prop-symmetric-criticality`);
# `tm.kgon_critical_point(..., S=S)` finds its member by Newton's method on $(r,b)$, with the
# dropped bias
#
# $$c^*=\frac{(1-S)\big(S^{D-1}+(D-1)(1-S)S^{D-2}\big)}{2\,P(l\le2)},$$ (eq-dropped-bias)
#
# the mean of $x_j$ on that event. We follow each polygon from the sparse end, where it is close to the 1-sparse
# point, down to $S=0.7$, each sparsity starting from the previous one (`start=`), and take
# the full Hessian in all $3D$ parameters at every point: $D=5,\dots,8$ features, the
# $k$-gons with $4\le k\le D$, five sparsities.

# %%
S_list = (0.99, 0.95, 0.9, 0.8, 0.7)  # from the sparse end: each point starts Newton for the next
l2 = {}
for D in range(5, 9):
    for k in range(4, D + 1):
        start = None
        for S in S_list:
            cp = tm.kgon_critical_point(D, k, S=S, start=start)
            start = (cp.r, cp.b)
            l2[D, k, S] = (cp, tm.analyse_critical_point(*cp.parameters(), S=S))
print("Morse index : smallest eigenvalue outside the null space")
print(" D  k  " + "".join(f"   S = {S:<6}" for S in sorted(S_list)))
for D in range(5, 9):
    for k in range(4, D + 1):
        cells = [l2[D, k, S][1] for S in sorted(S_list)]
        print(f"{D:2d} {k:2d}  " + "".join(f"  {r.morse_index}:{r.margin:+.2e}" for r in cells))

# %% [markdown]
# Each entry is the Morse index and the smallest eigenvalue outside the null space: the
# margin of a minimum, or the most negative curvature of a saddle. The cell below checks what
# the table shows, over all {glue:text}`n_l2` points:

# %%
glue("n_l2", len(l2), display=False)
assert all(cp.grad_norm < 1e-10 and not rep.kinks for cp, rep in l2.values())
assert all(rep.null_dim == 1 and rep.null_explained and rep.explained["rotation"] == 1
           for cp, rep in l2.values())  # the only flat direction is the rotation
minima = {key for key, (cp, rep) in l2.items() if rep.kind == "minimum"}
saddles = set(l2) - minima
assert all(l2[key][1].kind == "saddle" for key in saddles)
assert all((D, k, S) in minima for D, k, S in l2 if k <= 5)  # squares and pentagons: always minima
# every polygon with k >= 6 is a saddle at the dense end and a minimum at the sparse end,
# and changes kind once
for D, k in {(D, k) for D, k, S in l2 if k >= 6}:
    kinds = [(D, k, S) in minima for S in sorted(S_list)]
    assert kinds == sorted(kinds) and not kinds[0] and kinds[-1], (D, k, kinds)
S_min = {D: min(S for S in S_list if (D, D, S) in minima) for D in range(6, 9)}
assert S_min[6] <= S_min[7] <= S_min[8]
glue("l2_min_margin", min(l2[key][1].margin for key in minima), display=False)
assert min(minima, key=lambda key: l2[key][1].margin) == (8, 8, 0.99)
glue("l2_max_index", max(l2[key][1].morse_index for key in saddles), display=False)
glue("l2_min_margin_45", min(l2[key][1].margin for key in minima if key[1] <= 5), display=False)
for D in range(6, 9):
    glue(f"S_min_{D}", S_min[D], display=False)

# %% [markdown]
# And which member of the family has the lowest loss:

# %%
best_l2 = {(D, S): min(range(4, D + 1), key=lambda k: l2[D, k, S][0].loss)
           for D in range(5, 9) for S in S_list}
print("lowest-loss polygon, by D (rows) and S (columns):")
for D in range(5, 9):
    print(f"D = {D}: " + "  ".join(f"{best_l2[D, S]}-gon" for S in sorted(S_list)))
assert all(best_l2[D, 0.7] <= 5 for D in range(5, 9)) and best_l2[8, 0.95] == 6

# %% [markdown]
# What the Hessians say, at every one of the {glue:text}`n_l2` points:
#
# - **The null space is exactly the rotation.** The dropped features (positive bias) add no
#   flat direction, and no point is on a kink. The smallest margin among all the minima is
#   {glue:text}`l2_min_margin:.1e` (the octagon at $S=0.99$).
# - **Squares and pentagons are strict local minima** (up to rotation) at every $D$ and every
#   sparsity, with margins of at least {glue:text}`l2_min_margin_45:.1e`.
# - **Larger polygons are saddles when the data are dense.** Every $k$-gon with $k\ge6$ is a
#   saddle at $S=0.7$ and becomes a strict minimum once the data are sparse enough, changing
#   kind exactly once along the five sparsities. The $D$-gon is a minimum from $S$ =
#   {glue:text}`S_min_6` on for $D=6$, {glue:text}`S_min_7` for $D=7$ and {glue:text}`S_min_8`
#   for $D=8$: the more vertices, the sparser the data must be. The saddles have Morse index
#   up to {glue:text}`l2_max_index` (the octagon); their descent directions break the polygon's
#   symmetry, as for $k\ge10$ with the 1-sparse loss ({numref}`fig-l2-margins`).
# - **The lowest-loss polygon** is the square or the pentagon at $S=0.7$ for every $D$; at
#   $D=8$, $S=0.95$ it is the hexagon with two dropped features.
#
# For $D=5$, the square with one dropped feature against the pentagon:

# %%
sq_over_pent = {S: l2[5, 4, S][0].loss / l2[5, 5, S][0].loss for S in S_list}
print("   S    L(square)/L(pentagon)   square's margin")
for S in sorted(S_list):
    print(f"{S:5.2f}   {sq_over_pent[S]:10.3f}            {l2[5, 4, S][1].margin:.2e}")
assert all(l2[5, 4, S][0].b > 0 for S in S_list)  # a small positive bias: off the kink
assert sq_over_pent[0.7] < 1 < sq_over_pent[0.8] < sq_over_pent[0.9] < sq_over_pent[0.99]
glue("sq_pent_09", sq_over_pent[0.9], display=False)
glue("sq_margin_099", l2[5, 4, 0.99][1].margin, display=False)

# %% [markdown]
# At $S=0.7$ the square is the lower of the two; from $S=0.8$ on the pentagon is, and at
# $S=0.9$ the square's loss is {glue:text}`sq_pent_09:.2f` times the pentagon's. Even at
# $S=0.99$ the square keeps a positive margin ({glue:text}`sq_margin_099:.1e`). That is why
# training from a bad start can stay in a square at high sparsity, as some runs of Chapter 3's
# trainer do: it is a genuine minimum, not a slow saddle. Note that the $l\le2$ square has a
# small *positive* bias, so it is no longer on a kink.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The smallest eigenvalue outside the null space of the $l\\le2$ loss's Hessian at the $D$-gon ($k=D$, solid) and at the pentagon with $D-5$ dropped features (dashed), against the sparsity $S$, for $D=5,\\dots,8$. Above the grey line the point is a strict minimum up to rotation, below it a saddle.", "name": "fig-l2-margins"}, "image": {"alt": "Line plot of the smallest Hessian eigenvalue against sparsity from 0.7 to 0.99 on a symmetric-log axis. The pentagon curves (dashed) stay above zero for every number of features; the solid curves of the hexagon, heptagon and octagon start below zero at sparsity 0.7 and cross above it at larger sparsity, the octagon last."}}
fig, ax = plt.subplots(figsize=(4.8, 3.4))
Ss = sorted(S_list)
for i, D in enumerate(range(5, 9)):
    ax.plot(Ss, [l2[D, D, S][1].margin for S in Ss], "-o", ms=4, color=f"C{i}", label=f"D = {D}")
    ax.plot(Ss, [l2[D, 5, S][1].margin for S in Ss], "--", color=f"C{i}")
ax.axhline(0, color="0.6", lw=0.8)
ax.set_yscale("symlog", linthresh=1e-3)
ax.set_xlabel("sparsity S")
ax.set_ylabel("smallest eigenvalue")
ax.legend(loc="center left")
plt.show()

# %% [markdown]
# (sec-ch4-3d)=
# ## Three hidden dimensions
#
# The same argument applies to any configuration whose symmetry group is transitive on its
# vertices: the tetrahedron, the octahedron, the square antiprism (whose height is a free
# shape parameter) and, with two orbits, the triangular bipyramid "triangle ⊕ digon".
# `tm.polytope_critical_point` minimises the $l\le2$ loss of an $n$-feature model in
# $m=3$ dimensions over the symmetric family; the Hessian is then taken in all $4n$ parameters:

# %%
shapes3 = ("tetrahedron", "octahedron", "square antiprism", "triangle⊕digon")
res3 = {}
print("configuration       S      r        b         loss        index null  margin     kind")
S3 = (0.7, 0.8, 0.9, 0.99)  # Chapter 3's sparsities
for S in S3:
    for name in shapes3:
        cp = tm.polytope_critical_point(name, S)
        rep = tm.analyse_critical_point(cp.W, cp.bias, S=S)
        res3[name, S] = (cp, rep)
        print(f"{name:18s}  {S:4.2f}   {cp.r[0]:.4f}  {round(cp.b[0], 4) + 0.0:+.4f}   {cp.loss:.4e}   "
              f"{rep.morse_index:3d}  {rep.null_dim:3d}   {rep.margin:+.2e}  {rep.kind}")
assert all(cp.grad_norm < 1e-10 and rep.null_explained for cp, rep in res3.values())
assert all(rep.kind == "minimum" and rep.null_dim == 3 and not rep.kinks for cp, rep in res3.values())
margins3 = {key: rep.margin for key, (cp, rep) in res3.items()}
assert min(margins3, key=margins3.get) == ("triangle⊕digon", 0.99)
for (name, S), (cp, rep) in res3.items():
    if name == "square antiprism":
        assert cp.r[0] > 1.05 and cp.b[0] < -0.2
    else:
        assert all(abs(r_ - 1) < 0.04 for r_ in cp.r) and min(cp.b) >= 0
glue("min_margin_3d", min(margins3.values()), display=False)
glue("n_3d", len(res3), display=False)
groups3 = {name: sorted((g_.size, g_.rank) for g_ in tm.feature_groups(res3[name, 0.9][0].W))
           for name in shapes3}  # (features, dimensions) of each orthogonal group
print("orthogonal groups (features, dimensions):", groups3)
assert groups3 == {"tetrahedron": [(4, 3)], "octahedron": [(2, 1)] * 3,
                   "square antiprism": [(8, 3)], "triangle⊕digon": [(2, 1), (3, 2)]}

# %% [markdown]
# All four are **strict local minima up to rotation** of the $l\le2$ loss at every one of the
# four sparsities from $S=0.7$ to $0.99$ ({glue:text}`n_3d` points), as models of exactly $n$
# features in three dimensions: the null space is the three rotations of $\mathbb R^3$, and
# the smallest positive eigenvalue is {glue:text}`min_margin_3d:.1e` (the triangular bipyramid
# at $S=0.99$, nearly flat). Two of them are themselves tegum products: the octahedron is
# three digons on orthogonal axes, and the bipyramid a triangle plus a digon on the axis
# orthogonal to it; the tetrahedron and the antiprism are not. The tetrahedron, the octahedron
# and the bipyramid have a small non-negative bias and norms within 4% of 1; the antiprism, the
# only one whose neighbours are closer than $90°$, has norm above 1.05 and a clearly negative
# bias, like the pentagon. Being a local minimum for $n$ features does not say whether a large model should
# use it; that is the next question.
#
# ### Why no 3/4 or 3/8 plateau in the 200→20 runs?
#
# The errata page leaves open why Chapter 3's 200→20 runs show the $1/2$ plateau (digons) and
# pentagons but not the tetrahedra ($3/4$) and square antiprisms ($3/8$) of the Toy Models paper.
# A large model in superposition is, to a good approximation, a *tegum product*: groups of
# features in mutually orthogonal subspaces.
#
# ```{prf:proposition} Tegum products add
# :label: prop-tegum-additive
#
# If the represented features split into groups $G$ spanning mutually orthogonal subspaces and
# the other features are dropped, the expected loss {eq}`eq-integral-loss` is exactly
# $\sum_GL_G(S)+n_{\text{drop}}\operatorname{Var}x$, where $L_G(S)$ is the loss of the
# $|G|$-feature model made of group $G$ alone, at the same sparsity, and
# $\operatorname{Var}x=(1-S)/3-(1-S)^2/4$.
# ```
#
# ```{prf:proof}
# The output of a feature $k\in G$ is $\operatorname{ReLU}(\sum_i\langle w_k,w_i\rangle x_i+b_k)$
# and $\langle w_k,w_i\rangle=0$ for $i\notin G$, so it depends on the inputs of $G$ only, whose
# law is that of the $|G|$-feature model. A dropped feature outputs a constant, best its mean
# $(1-S)/2$. The loss is a sum over output features.
# ```
#
# So the best tegum product for $d$ dimensions and many features uses, in every dimension, the
# factor with the largest **saving per dimension**
#
# $$s_G=\frac{|G|\operatorname{Var}x-L_G(S)}{m_G},$$
#
# where $L_G$ is the smallest full loss of the
# factor. `toymodels.relu.polytopes.full_loss_minimum` finds it within the factor's symmetric family (norm, bias and
# shape) by minimising the loss on one fixed sample of $10^5$ inputs, then re-estimates it on
# an independent sample, so each $s_G$ below comes with a standard error:

# %% tags=["nbval-ignore-output"]
factors = ("dedicated", "digon", "triangle", "tetrahedron", "pentagon", "square antiprism")
inv_grid = (2.0, 3.0, 6.0, 12.0)
saving = {}
for x_ in inv_grid:
    for name in factors:
        saving[name, x_] = tm.saving_per_dimension(name, 1 - 1 / x_, T=100_000, rng=0)

# %%
print("1/(1-S)  " + "".join(f"{name[:11]:>13s}" for name in factors) + "    best")
winner = {}
for x_ in inv_grid:
    vals = {name: saving[name, x_][0] for name in factors}
    winner[x_] = max(vals, key=vals.get)
    print(f"{x_:6.1f}   " + "".join(f"{vals[n]:13.4f}" for n in factors) + f"    {winner[x_]}")


def gap(f1, f2, x_):  # s_f1 − s_f2 in units of its standard error
    (s1, e1), (s2, e2) = saving[f1, x_], saving[f2, x_]
    return (s1 - s2) / np.hypot(e1, e2)


assert all(gap(winner[x_], "tetrahedron", x_) > 5 for x_ in inv_grid)  # 3/4 never wins
assert winner[2.0] == winner[3.0] == "digon" and min(gap("digon", f, 3.0) for f in factors[2:]) > 5
assert winner[12.0] == "square antiprism" and gap("square antiprism", "pentagon", 12.0) > 3
assert abs(gap("square antiprism", "pentagon", 6.0)) < 4  # close at 1/(1-S) = 6

# %% [markdown]
# The table answers the open question:
#
# - **3/4 (tetrahedra) is never the best factor** at these sparsities, by more than five
#   standard errors: at the dense end the digon saves more per dimension, at the sparse end
#   the pentagon and the antiprism do. Among tegum products of these factors a 3/4 plateau is
#   not optimal for equal importance, and the 200→20 runs are right not to show one.
# - **3/8 (square antiprisms) is the best factor at the sparse end**: at $1/(1-S)=12$ it beats
#   the pentagon by more than three standard errors, and at 6 the two are within noise. So a
#   3/8 plateau *is* predicted there. Its absence in Chapter 3's runs is a matter of training
#   (3000 steps from random starts reach pentagons and digons, which are local minima), not of
#   the landscape.
#
# What stays open: the comparison is among tegum products of the listed factors (a group that
# is not such a product could do better), each factor is optimised within its symmetric family
# only, and training that actually finds the antiprisms would need a budget beyond this
# chapter's three minutes.
#
# ## Bad input
#
# Impossible or unsupported requests fail with an error that names the argument:

# %%
for call in [lambda: tm.kgon_critical_point(5, 7),
             lambda: tm.kgon_critical_point(6, 5, S=1.0),
             lambda: tm.kgon_critical_point(6, 5, n_dead=3),
             lambda: tm.loss_hessian(np.zeros((2, 3)), np.zeros(4)),
             lambda: tm.polytope_critical_point("dodecahedron", 0.9)]:
    try:
        call()
    except (ValueError, TypeError) as err:
        print(f"{type(err).__name__}: {err}")

# %% [markdown]
# ## Summary
#
# - The 1-sparse loss {eq}`eq-L1-closed` is a sum of two one-dimensional closed forms, derived
#   here with sympy and checked against Monte Carlo and Chapter 3's decomposition, with equal
#   and unequal importance. It is the loss of {cite:t}`chen2023dynamical`.
# - Regular $k$-gons with dropped features are exact critical points
#   ({prf:ref}`prop-symmetric-criticality`); for the 1-sparse loss their radius and bias depend
#   on $k$ only, and are certified to 50 digits for $k=2,\dots,13$. The decagon sits at the
#   golden ratio ({prf:ref}`prop-decagon`). The book's values reproduce the losses quoted for
#   Chen et al.'s $D=6$ table.
# - The $D$-gon is the best polygon for $D\le7$; from $D=8$ on, a polygon with dropped
#   features is better ({numref}`fig-kgon-family`).
# - At every critical point we computed, we know the Hessian ({numref}`fig-kgon-spectra`):
#   polygons with $5\le k\le9$ are strict minima up to rotation (the digon and triangle alone
#   lie in a continuum of zero-loss minima); those with $10\le k\le13$ are saddles whose descent directions break the
#   symmetry; the digon and triangle with a dropped feature are saddles, certified by a descent
#   direction at a kink; the square shows none; each dead feature adds three flat directions.
#   For the $l\le2$ loss at $D=5,\dots,8$ and Chapter 3's sparsities, the only flat direction is
#   the rotation; squares and pentagons (with dropped features) are strict local minima at every
#   sparsity, while every polygon with six or more vertices is a saddle at $S=0.7$ and a minimum
#   once the data are sparse enough ({numref}`fig-l2-margins`).
# - In three dimensions the symmetric polytopes are critical points too, and tegum products add
#   exactly ({prf:ref}`prop-tegum-additive`): the tetrahedron is never the best factor (no 3/4
#   plateau), while the square antiprism is at high sparsity (a 3/8 plateau is predicted, and
#   the short training runs of Chapter 3 miss it).

# %% [markdown]
# ## Exercises
#
# The solutions are hidden; each one runs when the book is built, and its asserts check the
# answer.
#
# ```{exercise} The price of dropping a feature
# :label: ex-ch4-dropped
#
# A dropped feature ($w_j=0$) outputs the constant $c=\operatorname{ReLU}(b_j)$. On 1-sparse
# inputs ($D$ features, one of them active, uniform on $[0,1]$), find the best $c$ and the
# feature's contribution to $L_1$ at that $c$. Check both against `tm.dropped_bias` and against
# the split {eq}`eq-kgon-split`.
# ```
#
# ````{solution-start} ex-ch4-dropped
# :class: dropdown
# ````
#
# With probability $1/D$ feature $j$ is the active one and costs $\mathbb E(u-c)^2=\tfrac13-c+c^2$;
# otherwise it costs $c^2$. The expected cost $\tfrac1D(\tfrac13-c)+c^2$ is least at
# $c^*=1/(2D)$, where it is $\tfrac1D\big(\tfrac13-\tfrac1{4D}\big)$: the term of
# {eq}`eq-kgon-split`. A dead feature ($c=0$) costs $\tfrac1{3D}$, always more.

# %%
c_, D_ = sp.symbols("c D", positive=True)
cost = (sp.Rational(1, 3) - c_) / D_ + c_**2
c_best = sp.solve(sp.diff(cost, c_), c_)[0]
assert sp.simplify(c_best - 1 / (2 * D_)) == 0
assert sp.simplify(cost.subs(c_, c_best) - (sp.Rational(1, 3) - 1 / (4 * D_)) / D_) == 0
for D in (5, 8):
    assert np.isclose(tm.dropped_bias(D), float(c_best.subs(D_, D)), rtol=1e-15)
    with_drop, only_gon = tm.kgon_critical_point(D, D - 1), tm.kgon_critical_point(D - 1, D - 1)
    # the same (D-1)-gon with one more, dropped, feature: (D-1) B + cost, averaged over D features
    lhs = D * with_drop.loss - (D - 1) * only_gon.loss
    assert np.isclose(lhs, float(D * cost.subs(c_, c_best).subs(D_, D)), rtol=1e-12)
print("c* =", c_best, "  cost =", sp.factor(cost.subs(c_, c_best)))

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Which polygons are free?
# :label: ex-ch4-free
#
# Show that the block loss $B_k$ vanishes at $r=1$, $b=0$ exactly when $k\le4$, and that for
# $k\ge5$ its minimum over $b\le0$ at $r=1$ is positive. Which neighbour is responsible?
# ```
#
# ````{solution-start} ex-ch4-free
# :class: dropdown
# ````
#
# At $b=0$, $r=1$ the reconstruction is exact and neighbour $m$ contributes
# $\int_0^1\operatorname{ReLU}(u\cos(2\pi m/k))^2du=\cos^2(2\pi m/k)/3$ when the cosine is
# positive. The nearest neighbours are at angle $2\pi/k$, which is at least $90°$ exactly when
# $k\le4$. For $k\ge5$ a negative bias silences the neighbours but spoils the reconstruction,
# so some loss always remains.

# %%
for k in range(2, 9):
    B0 = tm.block_loss(k, 1.0, 0.0)
    nearest = 2 * np.cos(2 * np.pi / k) ** 2 / 3 if np.cos(2 * np.pi / k) > 0 else 0.0
    best = min(tm.block_loss(k, 1.0, b_) for b_ in np.linspace(-1, 0, 201))
    print(f"k = {k}:  B_k(1, 0) = {B0:.4f}   min over b of B_k(1, b) = {best:.4f}")
    assert (B0 < 1e-15) == (k <= 4) and (best > 1e-3) == (k >= 5)
    assert k > 6 or np.isclose(B0, nearest, atol=1e-15)  # only the nearest pair is on for k <= 6

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Dead features under the $l\le2$ loss
# :label: ex-ch4-dead
#
# For the 1-sparse loss each dead feature adds three flat directions (two weights and a bias).
# Compute the Hessian of the $l\le2$ loss at the pentagon with one dead feature ($D=6$,
# $S=0.9$). How many flat directions does the dead feature add now, and why?
# ```
#
# ````{solution-start} ex-ch4-dead
# :class: dropdown
# ````
#
# Only its bias. When feature $j$ is active together with a pentagon feature $i$, the output of
# $i$ contains $\langle w_i,w_j\rangle x_j$, and its ReLU is on: moving $w_j$ off zero changes
# that output at first order, so the loss curves upward along $w_j$. On 1-sparse inputs the
# active $x_j$ is alone and every pentagon ReLU stays off, which is why $w_j$ was flat there.

# %%
cp = tm.kgon_critical_point(6, 5, S=0.9, n_dead=1)
rep = tm.analyse_critical_point(*cp.parameters(), S=0.9)
print(f"{cp.name}: null dimension {rep.null_dim}, explained {rep.explained}, kind {rep.kind}")
assert rep.null_dim == 2 and rep.explained["dead bias"] == 1  # rotation + the dead bias only
assert rep.null_explained and rep.kind == "minimum" and cp.grad_norm < 1e-10

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} When does the hexagon become a minimum?
# :label: ex-ch4-hexagon
#
# The table of the $l\le2$ Hessians shows the hexagon ($D=6$) as a saddle at $S=0.8$ and a
# minimum at $S=0.9$. Locate the sparsity where it changes kind to within $0.01$. What happens
# to the smallest eigenvalue there? (A research question: is the change a bifurcation in
# which a less symmetric pair of critical points branches off the hexagon?)
# ```
#
# ````{solution-start} ex-ch4-hexagon
# :class: dropdown
# ````
#
# Bisection on the sign of the smallest eigenvalue outside the null space, following the
# critical point with `start=`. That eigenvalue changes sign in the bracket, so it passes
# through zero: there the hexagon is a degenerate critical point, the typical place for a
# pitchfork in which less symmetric critical points branch off. Whether they do is left open.

# %%
def hexagon_margin(S, start):
    cp = tm.kgon_critical_point(6, 6, S=S, start=start)
    return tm.analyse_critical_point(*cp.parameters(), S=S).margin, (cp.r, cp.b)


lo, hi = 0.8, 0.9  # saddle at lo, minimum at hi (from the table)
start = (l2[6, 6, 0.9][0].r, l2[6, 6, 0.9][0].b)
while hi - lo > 0.01:
    mid = (lo + hi) / 2
    m, start = hexagon_margin(mid, start)
    lo, hi = (lo, mid) if m > 0 else (mid, hi)
print(f"the hexagon changes kind between S = {lo:.4f} and S = {hi:.4f}")
assert l2[6, 6, 0.8][1].margin < 0 < l2[6, 6, 0.9][1].margin and 0.8 < lo < hi < 0.9

# %% [markdown]
# ````{solution-end}
# ````
