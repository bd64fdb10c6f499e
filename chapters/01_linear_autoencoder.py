# %% [markdown]
# # The linear autoencoder and its critical points
#
# This chapter follows Section 1 of {cite:t}`beckerkahn2022notes`, which revisits a classical
# result of {cite:t}`baldi1989pca`: a linear autoencoder trained on squared error has no bad
# local minima. Its only minimum is
# {index}`principal component analysis <single: PCA (principal component analysis)>` (PCA),
# and every other {index}`critical point` is a {index}`saddle <single: saddle point>`.
#
# **What you will learn.**
# - How to derive the gradient of the loss, once by hand in index notation and once with a
#   computer algebra system, and how to check it against automatic differentiation.
# - What every critical point of the loss is (Proposition 1), why the lowest one is PCA
#   (Corollary 2), and why all the others are saddles (Proposition 3). Each step of each proof
#   is checked on data.
# - The Hessian's full spectrum at every critical point: how many directions go down, how many
#   are flat, and why.
# - Which hypothesis each step needs, and what goes wrong without it. The notes' Proposition 1
#   silently assumes that the decoder has full rank, and the critical points it leaves out are
#   the very ones that gradient descent from a small initialisation passes through.
# - How long gradient descent lingers near a saddle, and how that time depends on the
#   initial scale and on the eigenvalue gaps (compare {cite:t}`saxe2013exact`).
#
# **What you need.** Linear algebra: eigendecompositions of symmetric matrices, orthogonal
# projections, traces. The notation is on the [notation page](../notation.md).

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
import itertools

import matplotlib.pyplot as plt
import numpy as np
import sympy as sp
import torch

# %% [markdown]
# ## The model and its loss
#
# A data point $x\in\mathbb{R}^D$ is encoded by $B\in\mathbb{R}^{d\times D}$ and decoded by
# $A\in\mathbb{R}^{D\times d}$, with $d<D$. The model has no biases and no nonlinearity, so it
# computes $x\mapsto ABx$. Given data $x_1,\dots,x_T$, the loss is
#
# $$
# L(A,B) = \sum_{t=1}^T \lVert x_t - ABx_t\rVert^2
#        = \sum_{t=1}^T\sum_{i=1}^D\Big(x_{ti} - \sum_{j=1}^d\sum_{k=1}^D a_{ij}b_{jk}x_{tk}\Big)^2 .
# $$ (eq-loss)
#
# The loss depends on the data only through the uncentred second-moment matrix
# $\Sigma=\sum_t x_tx_t^\top$. Note that $\Sigma$ is a sum, not a mean. Write $M=AB$ and expand
# $\lVert x-Mx\rVert^2 = x^\top x - 2x^\top Mx + x^\top M^\top Mx$. Each term is a trace of
# $xx^\top$ times a matrix, and summing over $t$ gives
#
# $$
# L(A,B) = \operatorname{tr}\Sigma - 2\operatorname{tr}(AB\Sigma) + \operatorname{tr}\big(AB\,\Sigma\,(AB)^\top\big).
# $$ (eq-loss-trace)
#
# We use two data sets throughout: Gaussian data with unequal scales, and the sparse data of
# Chapter 2 (each feature is zero with probability $S=0.7$ and uniform on $[0,1]$ otherwise).
# Both have $D=4$.

# %%
rng = np.random.default_rng(0)
datasets = {
    "gaussian": rng.standard_normal((40, 4)) @ np.diag([2.0, 1.4, 1.0, 0.6]),
    "sparse": tm.sparse_uniform(200, 4, 0.7, rng=1),
}
Σs = {name: tm.second_moment(X) for name, X in datasets.items()}
for name, Σ in Σs.items():
    λ = tm.eigh_desc(Σ)[0]
    print(f"{name:8s}  eigenvalues of Σ: {np.array2string(λ, precision=2)}")

# %% [markdown]
# The trace form {eq}`eq-loss-trace` agrees with the sum over data points at random $(A,B)$:

# %%
for name, X in datasets.items():
    for _ in range(5):
        A, B = rng.standard_normal((4, 2)), rng.standard_normal((2, 4))
        direct, trace_form = tm.loss_from_data(A, B, X), tm.linear_loss(A, B, Σs[name])
        assert abs(direct - trace_form) <= 1e-12 * direct
print("trace form = sum over data points, on both data sets")

# %% [markdown]
# (sec-ch1-gradients)=
# ## The gradient, derived symbolically
#
# The notes differentiate {eq}`eq-loss` in index notation. With the summation convention,
# differentiating with respect to $b_{j'k'}$ and to $a_{i'j'}$ gives
#
# $$
# \begin{aligned}
# \frac{\partial L}{\partial b_{j'k'}}
#   &= -2\sum_t\big(x_{ti}a_{ij'}x_{tk'} - a_{ij}b_{jk}x_{tk}\,a_{ij'}x_{tk'}\big),\\
# \frac{\partial L}{\partial B} &= -2\big(A^\top\Sigma - A^\top AB\Sigma\big)
# \qquad\text{notes (1)}
# \end{aligned}
# $$ (eq-notes-1)
#
# $$
# \begin{aligned}
# \frac{\partial L}{\partial a_{i'j'}}
#   &= -2\sum_t\big(x_{ti'}b_{j'q}x_{tq} - a_{i'j}b_{jk}x_{tk}\,b_{j'q}x_{tq}\big),\\
# \frac{\partial L}{\partial A} &= -2\big(\Sigma B^\top - AB\Sigma B^\top\big)
# \qquad\text{notes (2)}
# \end{aligned}
# $$ (eq-notes-2)
#
# In each pair, the second line is the first written as matrices.
#
# Rather than trusting the index gymnastics, we let sympy do it. We take $D=3$, $d=2$ and
# $T=2$ data points, with every entry of $A$, $B$ and the data a separate symbol. We write the
# loss exactly as in {eq}`eq-loss`, differentiate it entry by entry, and compare the result with
# both the index form and the matrix form above.

# %%
D_s, d_s, T_s = 3, 2, 2
A_s = sp.Matrix(D_s, d_s, lambda i, j: sp.Symbol(f"a{i + 1}{j + 1}"))
B_s = sp.Matrix(d_s, D_s, lambda j, k: sp.Symbol(f"b{j + 1}{k + 1}"))
X_s = sp.Matrix(T_s, D_s, lambda t, i: sp.Symbol(f"x{t + 1}{i + 1}"))
L_s = sum((X_s[t, i] - sum(A_s[i, j] * B_s[j, k] * X_s[t, k]
                           for j in range(d_s) for k in range(D_s))) ** 2
          for t in range(T_s) for i in range(D_s))
dL_dB = sp.Matrix(d_s, D_s, lambda j, k: sp.diff(L_s, B_s[j, k]))
dL_dA = sp.Matrix(D_s, d_s, lambda i, j: sp.diff(L_s, A_s[i, j]))
Σ_s = X_s.T * X_s  # Σ = Σ_t x_t x_tᵀ
print(f"loss has {len(sp.expand(L_s).args)} monomials")

# %% [markdown]
# First the index form of {eq}`eq-notes-1`, summed explicitly over the repeated indices:

# %%
def index_form_dB(jp, kp):
    return -2 * sum(X_s[t, i] * A_s[i, jp] * X_s[t, kp]
                    - sum(A_s[i, j] * B_s[j, k] * X_s[t, k] for j in range(d_s)
                          for k in range(D_s)) * A_s[i, jp] * X_s[t, kp]
                    for t in range(T_s) for i in range(D_s))


assert all(sp.expand(dL_dB[j, k] - index_form_dB(j, k)) == 0
           for j in range(d_s) for k in range(D_s))
print("index form of (1) matches sympy's derivative")

# %% [markdown]
# Then the matrix forms, which are what the rest of the chapter uses:

# %%
grad_B_claim = -2 * (A_s.T * Σ_s - A_s.T * A_s * B_s * Σ_s)
grad_A_claim = -2 * (Σ_s * B_s.T - A_s * B_s * Σ_s * B_s.T)
assert sp.expand(dL_dB - grad_B_claim) == sp.zeros(d_s, D_s)
assert sp.expand(dL_dA - grad_A_claim) == sp.zeros(D_s, d_s)
print("∂L/∂B = -2(AᵀΣ - AᵀABΣ) and ∂L/∂A = -2(ΣBᵀ - ABΣBᵀ): verified symbolically")

# %% [markdown]
# At numerical points the same formulas, as implemented in `tm.linear_gradient`, agree with
# torch's automatic differentiation in float64 to rounding error. Note that `tm.linear_gradient`
# returns $\partial L/\partial A$ first, whereas the notes' (19) lists $\partial L/\partial B$ first.

# %%
worst = 0.0
for name, X in datasets.items():
    for _ in range(5):
        A, B = rng.standard_normal((4, 2)), rng.standard_normal((2, 4))
        At, Bt = torch.tensor(A, requires_grad=True), torch.tensor(B, requires_grad=True)
        Xt = torch.tensor(X)
        ((Xt - Xt @ (At @ Bt).T) ** 2).sum().backward()
        gA, gB = tm.linear_gradient(A, B, Σs[name])
        worst = max(worst, np.abs(gA - At.grad.numpy()).max() / np.abs(gA).max(),
                    np.abs(gB - Bt.grad.numpy()).max() / np.abs(gB).max())
assert worst < 1e-12
print("torch autograd agrees with (1)-(2) to relative error < 1e-12")

# %% [markdown]
# So $(A,B)$ is a critical point exactly when
#
# $$
# \nabla L(A,B) = 0 \iff
# \begin{cases} A^\top\Sigma = A^\top AB\Sigma,\\ \Sigma B^\top = AB\Sigma B^\top. \end{cases}
# \qquad\text{notes (3)}
# $$ (eq-notes-3)

# %% [markdown]
# ## Every critical point (Proposition 1)
#
# The notes make two assumptions about the data:
# (a) $\Sigma$ is invertible, and (b) its eigenvalues are distinct,
# $\lambda_1>\lambda_2>\dots>\lambda_D>0$. We write $\Sigma=U\Lambda U^\top$ with orthonormal
# eigenvectors $u_1,\dots,u_D$, the columns of $U$. The proof below uses a third hypothesis
# that the notes state only in passing, partway through the proof: (c) $A$ has full rank $d$.
# In the section on [the assumptions](sec-assumptions) we show that without (c) the
# proposition is false.
#
# ```{prf:proposition} Critical points of the linear autoencoder
# :label: prop-critical-points
#
# Assume (a), (b) and (c). If $(A,B)$ is a critical point of $L$, there is a set
# $I\subset\{1,\dots,D\}$ with $\lvert I\rvert=d$ such that $AB$ is the orthogonal projection
# onto $\operatorname{span}\{u_i : i\in I\}$, and
# $L(A,B)=\operatorname{tr}\Sigma-\sum_{i\in I}\lambda_i=\sum_{i\notin I}\lambda_i$.
# Conversely, every such projection arises from critical points: they are exactly
# $A=U_IC$, $B=C^{-1}U_I^\top$, where $C$ is any invertible $d\times d$ matrix and $U_I$ is the
# $D\times d$ matrix with columns $u_i$, $i\in I$.
# ```
#
# ```{prf:proof}
# *Step 1: $B$ is determined by $A$.* Because $\Sigma$ is invertible, we can cancel it on the
# right of the first equation of {eq}`eq-notes-3`, which leaves $A^\top = A^\top AB$. Because
# $A$ has rank $d$, the $d\times d$ matrix $A^\top A$ is invertible, and so
#
# $$ B = (A^\top A)^{-1}A^\top. \qquad\text{notes (4)} $$ (eq-notes-4)
#
# *Step 2: $AB$ is a projection.* Substituting {eq}`eq-notes-4` gives
#
# $$ AB = A(A^\top A)^{-1}A^\top = P_A, \qquad\text{notes (5)} $$ (eq-notes-5)
#
# the orthogonal projection onto the column space of $A$. It is symmetric and idempotent.
#
# *Step 3: $P_A$ commutes with $\Sigma$.* Substituting $AB=P_A$ into the second equation of
# {eq}`eq-notes-3` gives
#
# $$ \Sigma B^\top = P_A\Sigma B^\top. \qquad\text{notes (6)} $$ (eq-notes-6)
#
# Multiply on the right by $A^\top$. Since $B^\top A^\top=(AB)^\top=P_A^\top=P_A$, this becomes
#
# $$ \Sigma P_A = P_A\Sigma P_A. \qquad\text{notes (7)} $$ (eq-notes-7)
#
# The right-hand side is symmetric, so the left-hand side is too:
# $\Sigma P_A=(\Sigma P_A)^\top=P_A\Sigma$.
#
# *Step 4: go to the eigenbasis.* Write
#
# $$ \Sigma = U\Lambda U^\top,\qquad \Lambda=\operatorname{diag}(\lambda_1,\dots,\lambda_D). \qquad\text{notes (8)} $$ (eq-notes-8)
#
# The matrix $U^\top A$ has the same rank as $A$, and its projection is
# $P_{U^\top A}=U^\top A(A^\top UU^\top A)^{-1}A^\top U=U^\top P_AU$, so
#
# $$ P_A = U P_{U^\top A}U^\top . \qquad\text{notes (9)} $$ (eq-notes-9)
#
# Then $P_{U^\top A}\Lambda = U^\top P_A\Sigma U = U^\top\Sigma P_AU = \Lambda P_{U^\top A}$.
# Comparing the $(i,k)$ entries of the two sides gives
# $(\lambda_k-\lambda_i)(P_{U^\top A})_{ik}=0$. Because the eigenvalues are distinct, every
# off-diagonal entry vanishes, so $P_{U^\top A}$ is diagonal. A diagonal projection has
# diagonal entries in $\{0,1\}$, and its trace is its rank $d$. So there is a set $I$ with
# $\lvert I\rvert=d$ such that
#
# $$ P_A = U_IU_I^\top, \qquad\text{notes (10)} $$ (eq-notes-10)
#
# $$ AB = P_A = U_IU_I^\top = P_{U_I}. \qquad\text{notes (11)} $$ (eq-notes-11)
#
# *Step 5: the loss.* Put $AB=P_{U_I}$ into {eq}`eq-loss-trace`:
#
# $$ L = \operatorname{tr}\Sigma - 2\operatorname{tr}(P_{U_I}\Sigma) + \operatorname{tr}(P_{U_I}\Sigma P_{U_I}^\top). \qquad\text{notes (12)} $$ (eq-notes-12)
#
# By {eq}`eq-notes-7` and the cyclic property of the trace,
# $\operatorname{tr}(P_{U_I}\Sigma P_{U_I})=\operatorname{tr}(\Sigma P_{U_I})$. So
# $L=\operatorname{tr}\Sigma-\operatorname{tr}(P_{U_I}\Sigma)$, and
# $\operatorname{tr}(P_{U_I}\Sigma)=\operatorname{tr}(P_{U^\top A}\Lambda)=\sum_{i\in I}\lambda_i$.
#
# *Step 6: the form of the critical points.* The columns of $A$ span
# $\operatorname{span}\{u_i:i\in I\}$, so $A=U_IC$ for an invertible $d\times d$ matrix $C$.
# Then {eq}`eq-notes-4` gives $B=(C^\top C)^{-1}C^\top U_I^\top=C^{-1}U_I^\top$:
#
# $$ A = U_IC,\qquad B = C^{-1}U_I^\top . \qquad\text{notes }(\star) $$ (eq-notes-star)
#
# Conversely, the pair {eq}`eq-notes-star` satisfies {eq}`eq-notes-3`. Indeed
# $AB=U_IU_I^\top$, so $A^\top AB = C^\top U_I^\top U_IU_I^\top = C^\top U_I^\top = A^\top$,
# and $AB\Sigma B^\top = U_IU_I^\top U\Lambda U^\top U_IC^{-\top} = U_I\Lambda_IC^{-\top}
# = \Sigma B^\top$.
# ```
#
# ```{note}
# In (⋆) the notes' $U_I$ is $U$ with the columns outside $I$ set to zero, a $D\times D$
# matrix. With that reading, $C^{-1}U_I^\top$ is a product of a $d\times d$ and a $D\times D$
# matrix and is undefined. The formula needs the $D\times d$ matrix of the kept columns, as
# used here. Both readings give the same $U_IU_I^\top$, so (10) and (11) are unaffected.
# ```

# %% [markdown]
# (sec-ch1-steps)=
# ### Checking each step on data
#
# To check the proof without assuming its conclusion, we find critical points *blindly*.
# `tm.find_critical_point` solves $\nabla L=0$ with a least-squares solver from a
# random start. It knows nothing of Proposition 1. We run it from twelve starts on each data
# set and keep the points whose decoder has full rank (the others belong to the section on
# the assumptions).

# %%
found = []
for name, Σ in Σs.items():
    for seed in range(12):
        A, B = tm.find_critical_point(Σ, 2, seed=seed)
        assert tm.relative_gradient_norm(A, B, Σ) < 1e-12
        found.append((name, Σ, A, B))
full = [(n, Σ, A, B) for n, Σ, A, B in found if np.linalg.matrix_rank(A, tol=1e-8) == 2]
print(f"{len(found)} critical points found, {len(full)} with rank A = 2")

# %% [markdown]
# Step 1, {eq}`eq-notes-4`: $A^\top=A^\top AB$ and $B=(A^\top A)^{-1}A^\top$.

# %%
for _, Σ, A, B in full:
    assert np.allclose(A.T, A.T @ A @ B, atol=1e-9)
    assert np.allclose(B, np.linalg.solve(A.T @ A, A.T), atol=1e-9)

# %% [markdown]
# Step 2, {eq}`eq-notes-5`: $AB$ is the orthogonal projection $P_A$ (symmetric, idempotent).

# %%
for _, Σ, A, B in full:
    P = A @ B
    assert np.allclose(P, tm.projection(A), atol=1e-9)
    assert np.allclose(P, P.T, atol=1e-9) and np.allclose(P @ P, P, atol=1e-9)

# %% [markdown]
# Step 3, {eq}`eq-notes-6` and {eq}`eq-notes-7`: $\Sigma B^\top=P_A\Sigma B^\top$,
# $\Sigma P_A=P_A\Sigma P_A$, and so $\Sigma P_A=P_A\Sigma$.

# %%
for _, Σ, A, B in full:
    P, s = tm.projection(A), np.abs(Σ).max()
    assert np.allclose(Σ @ B.T, P @ Σ @ B.T, atol=1e-9 * s)
    assert np.allclose(Σ @ P, P @ Σ @ P, atol=1e-9 * s)
    assert np.allclose(Σ @ P, P @ Σ, atol=1e-9 * s)

# %% [markdown]
# Step 4, {eq}`eq-notes-8` to {eq}`eq-notes-11`: $P_{U^\top A}=U^\top P_AU$ commutes with
# $\Lambda$, is diagonal with entries in $\{0,1\}$, and $AB=U_IU_I^\top$. We print the index
# set $I$ that each point turned out to have.

# %%
labels = {}
for name, Σ, A, B in full:
    λ, U = tm.eigh_desc(Σ)
    assert np.allclose(U @ np.diag(λ) @ U.T, Σ, atol=1e-10 * λ[0])
    P_eig = tm.projection(U.T @ A)
    assert np.allclose(tm.projection(A), U @ P_eig @ U.T, atol=1e-9)
    assert np.allclose(P_eig @ np.diag(λ), np.diag(λ) @ P_eig, atol=1e-9 * λ[0])
    assert np.allclose(P_eig, np.diag(np.round(np.diag(P_eig))), atol=1e-8)
    I = tuple(np.flatnonzero(np.round(np.diag(P_eig))))
    assert len(I) == 2 and np.allclose(A @ B, U[:, I] @ U[:, I].T, atol=1e-9)
    labels.setdefault(name, set()).add(tm.index_set_label(I))
for name in labels:
    print(f"{name:8s} index sets found: {sorted(labels[name])}")

# %% [markdown]
# Step 5, {eq}`eq-notes-12`: the loss equals $\operatorname{tr}\Sigma-\operatorname{tr}(P_{U_I}\Sigma)
# =\sum_{i\notin I}\lambda_i$.

# %%
for _, Σ, A, B in full:
    λ, U = tm.eigh_desc(Σ)
    P_eig = np.round(np.diag(U.T @ A @ B @ U))
    L = tm.linear_loss(A, B, Σ)
    assert np.isclose(L, np.trace(Σ) - np.trace(A @ B @ Σ), rtol=1e-10)
    assert np.isclose(L, λ[P_eig == 0].sum(), rtol=1e-10)
print("loss = sum of the discarded eigenvalues at every full-rank critical point found")

# %% [markdown]
# Step 6, {eq}`eq-notes-star`: $C=U_I^\top A$ is invertible, and $B=C^{-1}U_I^\top$.

# %%
for _, Σ, A, B in full:
    λ, U = tm.eigh_desc(Σ)
    I = np.flatnonzero(np.round(np.diag(U.T @ A @ B @ U)))
    C = U[:, I].T @ A
    assert np.allclose(A, U[:, I] @ C, atol=1e-9)
    assert np.allclose(B, np.linalg.solve(C, U[:, I].T), atol=1e-9)

# %% [markdown]
# (sec-ch1-all-critical)=
# ### All the critical points of one data set
#
# For the Gaussian data set ($D=4$, $d=2$) there are $\binom42=6$ index sets.
# `tm.critical_points` builds the point {eq}`eq-notes-star` for each, here with a random
# invertible $C$ (condition number up to 10) to show that the free $C$ changes nothing. The
# table lists each point's loss, its relative gradient norm, the predicted
# $\sum_{i\notin I}\lambda_i$, and the inertia of the Hessian (the numbers of negative, zero
# and positive eigenvalues; see below).

# %%
Σ = Σs["gaussian"]
λ, U = tm.eigh_desc(Σ)
C = tm.random_invertible(2, rng=3)
points = tm.critical_points(Σ, 2, C=C)
print(f"{'I':6s} {'loss':>8s} {'|∇L| rel':>9s} {'Σ_{i∉I} λ_i':>11s}  inertia (-, 0, +)")
for cp in points:
    L = tm.linear_loss(cp.A, cp.B, Σ)
    g = tm.relative_gradient_norm(cp.A, cp.B, Σ)
    inert = tm.hessian_inertia(tm.linear_hessian(cp.A, cp.B, Σ))
    assert g < 1e-12 and np.isclose(L, cp.level, rtol=1e-10)
    print(f"{cp.label:6s} {L:8.2f} {'< 1e-12':>9s} {cp.level:11.2f}  {inert}")

# %% [markdown]
# The blind solver found nothing outside this list: every full-rank point it returned has one
# of these six index sets, and the same loss.

# %%
listed = {cp.label: cp for cp in points}
for name, Σ_f, A, B in full:  # each solver point is the listed point of its index set
    if name != "gaussian":
        continue
    λ_f, U_f = tm.eigh_desc(Σ_f)
    cp = listed[tm.index_set_label(tuple(np.flatnonzero(np.round(np.diag(U_f.T @ A @ B @ U_f)))))]
    assert np.allclose(A @ B, cp.A @ cp.B, atol=1e-9)
    assert np.isclose(tm.linear_loss(A, B, Σ_f), cp.level, rtol=1e-10)
print(f"found by the solver: {len(labels['gaussian'])} of the {len(listed)} index sets")

# %% [markdown]
# (sec-ch1-pca)=
# ## The minimum is PCA (Corollary 2)
#
# ```{index} single: PCA (principal component analysis); as the minimum of the loss
# ```
#
# ```{prf:corollary} The minimum
# :label: cor-minimum
#
# Under (a) and (b), the minimum value of $L$ is $\sum_{i>d}\lambda_i$. It is attained
# exactly when $AB$ is the orthogonal projection onto the top-$d$ eigenvectors
# $u_1,\dots,u_d$, which is PCA.
# ```
#
# ```{prf:proof}
# First, a minimum exists. $L$ depends on $(A,B)$ only through $M=AB$, a matrix of rank at most
# $d$. As a function of $M$, {eq}`eq-loss-trace` equals
# $\operatorname{tr}\big((I-M)\Sigma(I-M)^\top\big)\ge\lambda_D\lVert I-M\rVert_F^2$, which tends to
# infinity as $\lVert M\rVert\to\infty$. The set of matrices of rank at most $d$ is closed.
# So the minimum over that set is attained at some $M^\star$, and factoring $M^\star=AB$ gives
# a minimiser of $L$.
#
# A minimiser is a critical point. Suppose first that it has $\operatorname{rank}A=d$. Then
# {prf:ref}`prop-critical-points` puts its value among the numbers $\sum_{i\notin I}\lambda_i$,
# and the smallest of these is $\sum_{i>d}\lambda_i$, at $I=\{1,\dots,d\}$ alone, because the
# eigenvalues are distinct. A minimiser of lower rank is impossible: as shown
# [below](sec-assumptions), every rank-deficient critical point has a value
# $\sum_{i\notin J}\lambda_i$ with $\lvert J\rvert<d$, which is larger.
# ```
#
# The {index}`Eckart–Young–Mirsky theorem <single: Eckart–Young–Mirsky theorem>` {cite:p}`eckart1936approximation` gives the same answer
# directly. $L=\lVert X-XM^\top\rVert_F^2$ for the data matrix $X$ ($T\times D$), and the best
# approximation of rank $d$ is the truncated singular value decomposition. Its error is the sum
# of the discarded squared singular values, $s_i^2=\lambda_i$. We compare with numpy's SVD:

# %%
X = datasets["gaussian"]
_, s, Vt = np.linalg.svd(X, full_matrices=False)
best = min(points, key=lambda cp: cp.level)
assert best.I == (0, 1)
assert np.allclose(s**2, λ, rtol=1e-10)
assert np.isclose(tm.linear_loss(best.A, best.B, Σ), (s[2:] ** 2).sum(), rtol=1e-10)
assert np.allclose(best.A @ best.B, Vt[:2].T @ Vt[:2], atol=1e-10)
X_pca = X @ Vt[:2].T @ Vt[:2]
print(f"minimum over critical points {best.level:.2f} = SVD tail Σ s_i² {(s[2:] ** 2).sum():.2f}")

# %% [markdown]
# Two remarks on the word "minimum". First, the minimiser is unique only as the product $AB$.
# In parameter space the minimisers form the whole orbit
# $(U_{\{1..d\}}C,\,C^{-1}U_{\{1..d\}}^\top)$, a $d^2$-dimensional family (the flat
# directions of the Hessian below). Second, $\Sigma$ is *uncentred*, so the PCA here is PCA
# without subtracting the mean. For the sparse data, whose mean is far from zero, $u_1$
# nearly points along the mean, and the optimal subspace differs markedly from that of
# centred PCA:

# %%
Xs = datasets["sparse"]
λs_, Us_ = tm.eigh_desc(Σs["sparse"])
mean = Xs.mean(axis=0)
cos_mean = abs(Us_[:, 0] @ mean) / np.linalg.norm(mean)
Uc = tm.eigh_desc((Xs - mean).T @ (Xs - mean))[1]
θc = tm.principal_angles(Us_[:, :2], Uc[:, :2])
assert cos_mean > 0.98 and θc.max() > 0.5
print(f"cos(u_1, mean) = {cos_mean:.3f}; largest principal angle to centred PCA: {θc.max():.2f} rad")

# %% [markdown]
# As a last check, no random $(A,B)$ beats the minimum, and neither does gradient descent from
# random starts:

# %%
rand_losses = [tm.linear_loss(rng.standard_normal((4, 2)), rng.standard_normal((2, 4)), Σ)
               for _ in range(2000)]
runs = [tm.train_linear(Σ, 2, steps=1500, init_scale=0.3, seed=s) for s in range(5)]
assert min(rand_losses) > best.level
assert all(np.isclose(r.loss[-1], best.level, rtol=1e-6) for r in runs)
print(f"best random loss {min(rand_losses):.1f} > minimum {best.level:.2f}; "
      "gradient descent reaches the minimum")

# %% [markdown]
# ## Every other critical point is a saddle (Proposition 3)
#
# ```{prf:proposition} The other critical points are saddles
# :label: prop-saddles
#
# Assume (a) and (b). Let $(A,B)=(U_IC,C^{-1}U_I^\top)$ be a critical point with
# $I\neq\{1,\dots,d\}$. Then there are points arbitrarily close to $(A,B)$ where $L$ is
# smaller, and points arbitrarily close where $L$ is larger. So $(A,B)$ is neither a local
# minimum nor a local maximum.
# ```
#
# ```{prf:proof}
# Since $I$ is not the top-$d$ set, some $k\notin I$ is smaller than some $j\in I$, and then
# $\lambda_k>\lambda_j$. For $\epsilon>0$ tilt $u_j$ towards $u_k$: let
# $\tilde u_j=(u_j+\epsilon u_k)/\sqrt{1+\epsilon^2}$, a unit vector orthogonal to the other
# $u_i$, $i\in I$. Let $\tilde U_I$ be $U_I$ with $u_j$ replaced by $\tilde u_j$, and set
#
# $$ \tilde A = \tilde U_IC, \qquad\text{notes (13)} $$ (eq-notes-13)
#
# $$ \tilde B = C^{-1}\tilde U_I^\top. \qquad\text{notes (14)} $$ (eq-notes-14)
#
# The columns of $\tilde U_I$ are orthonormal, so $\tilde A\tilde B=\tilde U_I\tilde U_I^\top$
# is the orthogonal projection $P_{\tilde U_I}=P_{\tilde A}$, and {eq}`eq-loss-trace` reads
#
# $$ L(\tilde A,\tilde B) = \operatorname{tr}\Sigma - 2\operatorname{tr}(P_{\tilde U_I}\Sigma) + \operatorname{tr}(P_{\tilde U_I}\Sigma P_{\tilde U_I}^\top). \qquad\text{notes (15)} $$ (eq-notes-15)
#
# The last term equals $\operatorname{tr}(P_{\tilde U_I}\Sigma)$, because
# $P^\top=P$, $P^2=P$ and the trace is cyclic. (Here we do *not* need $P$ to commute with
# $\Sigma$.) Using {eq}`eq-notes-9`, which holds for any $A$ of full rank,
#
# $$ \operatorname{tr}(P_{\tilde A}\Sigma) = \operatorname{tr}(UP_{U^\top\tilde A}U^\top U\Lambda U^\top) = \operatorname{tr}(P_{U^\top\tilde A}\Lambda), \qquad\text{notes (16)} $$ (eq-notes-16)
#
# $$ L(\tilde A,\tilde B) = \operatorname{tr}\Sigma - \operatorname{tr}(P_{U^\top\tilde A}\Lambda). \qquad\text{notes (17)} $$ (eq-notes-17)
#
# Only the diagonal of $P_{U^\top\tilde A}$ matters, and its $i$-th entry is
# $u_i^\top\tilde U_I\tilde U_I^\top u_i=\sum_{m\in I}(u_i^\top\tilde u_m)^2$, which is
#
# $$ \big(P_{U^\top\tilde A}\big)_{ii} = \begin{cases} 0 & i\notin I\cup\{k\},\\ 1 & i\in I\setminus\{j\},\\ 1/(1+\epsilon^2) & i=j,\\ \epsilon^2/(1+\epsilon^2) & i=k. \end{cases} \qquad\text{notes (18)} $$ (eq-notes-18)
#
# Therefore
# $L(\tilde A,\tilde B) = L(A,B) - \tfrac{\epsilon^2}{1+\epsilon^2}(\lambda_k-\lambda_j) < L(A,B)$,
# and $(\tilde A,\tilde B)\to(A,B)$ as $\epsilon\to0$.
#
# For the second half, fix $A$ and vary $B$ alone, as the notes do. The map
# $B\mapsto L(A,B)$ is a quadratic whose second-order term is
# $\operatorname{tr}(A\,\delta B\,\Sigma\,\delta B^\top A^\top)$. This is positive for
# $\delta B\neq0$, because $A$ has full rank and $\Sigma$ is positive definite. So
# $B\mapsto L(A,B)$ is strictly convex. Its critical point $B$ is therefore its strict
# minimiser, and every change of $B$ alone raises the loss. So $(A,B)$ is not a local maximum.
# ```

# %% [markdown]
# We check (18) and the drop for every saddle of both data sets, every descending pair
# $(j,k)$ and several $\epsilon$, with the random $C$ from above. We also check the ascending
# pairs ($k>j$), where the same formula predicts a rise: {glue:text}`n-checked-18` cases of
# (data set, $I$, $j$, $k$, $\epsilon$) in all.

# %%
ε_values = [1e-3, 1e-1, 0.5, 1.0, 3.0]
n_checked = 0
for name, Σx in Σs.items():
    λx, Ux = tm.eigh_desc(Σx)
    for cp in tm.critical_points(Σx, 2, C=C):
        others = [k for k in range(4) if k not in cp.I]
        for j, k, ε in itertools.product(cp.I, others, ε_values):
            At, Bt = tm.perturbation(Σx, cp.I, j, k, ε, C=C)
            diag = np.diag(Ux.T @ tm.projection(At) @ Ux)
            expect = np.zeros(4)
            expect[list(cp.I)] = 1
            expect[j], expect[k] = 1 / (1 + ε**2), ε**2 / (1 + ε**2)
            assert np.allclose(diag, expect, atol=1e-10)
            drop = cp.level - tm.linear_loss(At, Bt, Σx)
            assert np.isclose(drop, tm.perturbation_drop(λx, j, k, ε), rtol=1e-8, atol=1e-9)
            assert (drop > 0) == (k < j)
            n_checked += 1
tm.glue("n-checked-18", n_checked)
print(f"(18) and the loss change: {n_checked} cases checked")

# %% [markdown]
# The second half of the proof: at every critical point the block of the Hessian that
# belongs to $B$ alone is positive definite, so no critical point is a local maximum.

# %%
for cp in points:
    H_BB = tm.linear_hessian(cp.A, cp.B, Σ)[8:, 8:]
    assert np.linalg.eigvalsh(H_BB).min() > 0

# %% [markdown]
# {numref}`fig-ch1-tilt` shows the {index}`saddle <single: saddle point>` $I=\{1,3\}$. Along the tilt of $u_3$ towards $u_2$ the
# loss falls by $\tfrac{\epsilon^2}{1+\epsilon^2}(\lambda_2-\lambda_3)$. Along the tilt of $u_1$
# towards $u_4$ it rises by $\tfrac{\epsilon^2}{1+\epsilon^2}(\lambda_1-\lambda_4)$. Both curves
# flatten out as $\lvert\epsilon\rvert\to\infty$, because a full tilt just swaps one
# eigenvector for the other.

# %%
saddle = next(cp for cp in points if cp.I == (0, 2))
ε_grid = np.linspace(-4, 4, 161)
tilts = {}
for j, k in [(2, 1), (0, 3)]:
    curve = [tm.linear_loss(*tm.perturbation(Σ, saddle.I, j, k, e, C=C), Σ) for e in ε_grid]
    formula = saddle.level - ε_grid**2 / (1 + ε_grid**2) * (λ[k] - λ[j])
    assert np.allclose(curve, formula, rtol=1e-10)
    tilts[j, k] = (curve, formula)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The loss along two tilts at the saddle $I=\\{1,3\\}$ of the Gaussian data. Tilting $u_3$ towards $u_2$ lowers it, tilting $u_1$ towards $u_4$ raises it. Dotted: the formula $L-\\tfrac{\\epsilon^2}{1+\\epsilon^2}(\\lambda_k-\\lambda_j)$; grey: the saddle's level.", "name": "fig-ch1-tilt"}, "image": {"alt": "Two curves of the loss against epsilon from -4 to 4: a red one that dips below the saddle's horizontal level and flattens, a blue one that rises above it and flattens; dotted formula curves lie on top of both."}}
fig, ax = plt.subplots()
for (j, k), color in zip(tilts, ("C3", "C0")):
    curve, formula = tilts[j, k]
    ax.plot(ε_grid, curve, color=color, lw=2, label=f"tilt $u_{j + 1}$ towards $u_{k + 1}$")
    ax.plot(ε_grid, formula, "k:", lw=1)
ax.axhline(saddle.level, color="grey", lw=0.8)
ax.set_xlabel(r"$\epsilon$")
ax.set_ylabel("loss")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
plt.show()

# %% [markdown]
# (sec-ch1-hessian)=
# ## The Hessian at every critical point
#
# Proposition 3 finds *one* direction of descent. The {index}`Hessian` gives all of them. We flatten
# the parameters as $\theta=(\operatorname{vec}A,\operatorname{vec}B)\in\mathbb{R}^{2Dd}$.
# `tm.linear_hessian` computes the exact Hessian by differentiating the gradient (19) along each
# coordinate. It agrees with torch's autograd Hessian (float64) to rounding:

# %%
A, B = rng.standard_normal((4, 2)), rng.standard_normal((2, 4))
Σt = torch.tensor(Σ)


def loss_torch(θ):
    M = θ[:8].reshape(4, 2) @ θ[8:].reshape(2, 4)
    return torch.trace(Σt) - 2 * torch.trace(M @ Σt) + torch.trace(M @ Σt @ M.T)


H_torch = torch.autograd.functional.hessian(loss_torch, torch.tensor(np.r_[A.ravel(), B.ravel()]))
H = tm.linear_hessian(A, B, Σ)
assert np.allclose(H, H_torch.numpy(), rtol=1e-10, atol=1e-10 * np.abs(H).max())
print("analytic Hessian = torch autograd Hessian")

# %% [markdown]
# **Counting the directions.** Take $C=I$, so $A=U_I$ and $B=U_I^\top$. Let $e_1,\dots,e_d$ be
# the standard basis of the hidden layer, where column $m$ of $A$ is $u_{i_m}$. For each pair
# $(j\in I, k\notin I)$ perturb along $\delta A=\alpha u_ke_j^\top$ and $\delta B=\beta e_ju_k^\top$,
# writing $e_j$ for the hidden unit that carries $u_j$. The second-order part of
# {eq}`eq-loss-trace`, with $\delta M=\delta A\,B+A\,\delta B$, is
#
# $$
# \begin{aligned}
# \tfrac12\,\delta\theta^\top H\,\delta\theta
#   &= \operatorname{tr}(\delta M\,\Sigma\,\delta M^\top)
#      - 2\operatorname{tr}\big(\delta A\,\delta B\,\Sigma(I-AB)^\top\big)\\
#   &= \lambda_j\alpha^2 - 2\lambda_k\alpha\beta + \lambda_k\beta^2 .
# \end{aligned}
# $$ (eq-pair-form)
#
# The $2\times2$ block $2\begin{pmatrix}\lambda_j & -\lambda_k\\ -\lambda_k & \lambda_k\end{pmatrix}$
# has determinant $4\lambda_k(\lambda_j-\lambda_k)$. It is negative, so the block has exactly
# one negative eigenvalue, precisely when $\lambda_k>\lambda_j$. These $d(D-d)$ blocks use
# $2d(D-d)$ directions. The remaining $2d^2$ directions keep $\delta A$ and $\delta B^\top$
# inside $\operatorname{span}U_I$. Half of them are the tangent directions
# $(\delta A,\delta B)=(AX,-XB)$, $X\in\mathbb{R}^{d\times d}$, of the orbit
# $A\to AC$, $B\to C^{-1}B$, along which $L$ is constant: $d^2$ zero eigenvalues. The other
# $d^2$ change $AB$ inside the kept subspace and are positive. So the prediction is
#
# $$
# \begin{aligned}
# \#\text{negative} &= \#\{(j,k): j\in I,\ k\notin I,\ \lambda_k>\lambda_j\},\\
# \#\text{zero} &= d^2,\\
# \#\text{positive} &= 2Dd-\#\text{negative}-d^2.
# \end{aligned}
# $$ (eq-inertia)
#
# For $C\neq I$ the map $(\delta A,\delta B)\mapsto(\delta A\,C,\,C^{-1}\delta B)$ is a linear
# change of coordinates that carries the Hessian at $C=I$ to the Hessian at $C$, as
# $P^\top HP$. By {index}`Sylvester's law of inertia <single: Sylvester's law of inertia>`
# the counts do not change.

# %%
for Cx in [np.eye(2), C, tm.random_invertible(2, rng=9, cond_max=100)]:
    for cp in tm.critical_points(Σ, 2, C=Cx):
        H = tm.linear_hessian(cp.A, cp.B, Σ)
        assert tm.hessian_inertia(H) == tm.predicted_inertia(λ, cp.I)
        T = np.stack([np.r_[(cp.A @ E).ravel(), (-E @ cp.B).ravel()]
                      for E in np.eye(4).reshape(4, 2, 2)], axis=1)
        assert np.allclose(H @ T, 0, atol=1e-10 * np.abs(H).max())
print(f"{'I':6s} (-, 0, +) predicted = computed, for three choices of C")
for cp in points:
    print(f"{cp.label:6s} {tm.predicted_inertia(λ, cp.I)}")

# %% [markdown]
# The block {eq}`eq-pair-form` is also exactly the Hessian restricted to the pair's two
# directions:

# %%
for cp in tm.critical_points(Σ, 2):
    H = tm.linear_hessian(cp.A, cp.B, Σ)
    for m, j in enumerate(cp.I):
        for k in set(range(4)) - set(cp.I):
            V = np.stack([np.r_[np.outer(U[:, k], np.eye(2)[m]).ravel(), np.zeros(8)],
                          np.r_[np.zeros(8), np.outer(np.eye(2)[m], U[:, k]).ravel()]], axis=1)
            assert np.allclose(V.T @ H @ V, tm.pair_block(λ[j], λ[k]), atol=1e-9 * λ[0])
print("each (j, k) block is 2[[λ_j, -λ_k], [-λ_k, λ_k]]")

# %% [markdown]
# Only $I=\{1,\dots,d\}$ has no negative direction. Its Hessian is positive semi-definite, and
# its only flat directions are the $d^2$ symmetry directions. Every other critical point has
# between 1 and $d(D-d)$ descending directions, so it is a strict saddle.
#
# (sec-assumptions)=
# ## The assumptions, one at a time
#
# (sec-ch1-full-rank)=
# ### (c) $A$ of full rank
#
# Step 1 inverts $A^\top A$. Without full rank the step fails, and so does the proposition's
# conclusion that $AB$ projects onto $d$ eigenvectors. The simplest counterexample is
# $A=0$, $B=0$: both equations {eq}`eq-notes-3` hold trivially, the loss is
# $\operatorname{tr}\Sigma$, and $AB=0$ projects onto nothing. More generally, for any $J$ with
# $\lvert J\rvert=r<d$, the point $A=[U_J,\,0]\,C$, $B=C^{-1}[U_J,\,0]^\top$ is critical,
# with $AB=U_JU_J^\top$. The blind solver found such points on its own:

# %%
low = [(n, Σx, A, B) for n, Σx, A, B in found if np.linalg.matrix_rank(A, tol=1e-8) < 2]
for name, Σx, A, B in low:
    λx, Ux = tm.eigh_desc(Σx)
    p = np.diag(Ux.T @ A @ B @ Ux)
    J = tuple(np.flatnonzero(np.round(p)))
    assert np.allclose(A @ B, Ux[:, J] @ Ux[:, J].T, atol=1e-8)
    assert np.isclose(tm.linear_loss(A, B, Σx), np.delete(λx, J).sum(), rtol=1e-9)
    print(f"{name:8s} rank A = {np.linalg.matrix_rank(A, tol=1e-8)}, AB projects onto "
          f"u_J with J = {tm.index_set_label(J)}")
assert len(low) > 0

# %% [markdown]
# Here is the correct statement, under (a) and (b) only. *Every critical point has
# $AB=U_JU_J^\top$ for a set $J$ with $\lvert J\rvert=\operatorname{rank}A\le d$, and loss
# $\sum_{i\notin J}\lambda_i$.*
#
# The proof needs only a small change. From $A^\top=A^\top AB$, the columns of $I-AB$ are
# orthogonal to $\operatorname{col}A$, so $P_A=P_AAB=AB$. Steps 3–5 then go through with
# $d$ replaced by $r=\operatorname{rank}A$.
#
# All of these points with $\lvert J\rvert<d$ are saddles. Each of the $d-r$ unused hidden
# units $m$ gives, for each $k\notin J$, the pair of directions
# $\delta A=\alpha u_ke_m^\top$, $\delta B=\beta e_mu_k^\top$. On that pair the quadratic form
# is $-2\lambda_k\alpha\beta$, which is indefinite. The inertia becomes
# $\#\text{negative}=\#\{(j,k):\lambda_k>\lambda_j\}+(d-r)(D-r)$ and
# $\#\text{zero}=r(2d-r)$. We found this formula by computation and confirm it at every
# rank-deficient point here. The property tests in `tests/test_hessian.py` confirm it over
# random sizes.

# %%
print(f"{'J':6s} {'rank':>4s} {'loss':>8s} {'Σ_{i∉J} λ_i':>11s}  inertia (-, 0, +)")
for r in (0, 1):
    for cp in tm.critical_points(Σ, 2, C=C, rank=r):
        H = tm.linear_hessian(cp.A, cp.B, Σ)
        assert tm.relative_gradient_norm(cp.A, cp.B, Σ) < 1e-12
        assert tm.hessian_inertia(H) == tm.predicted_inertia(λ, cp.I, 2)
        assert np.linalg.eigvalsh(H).min() < 0
        L = tm.linear_loss(cp.A, cp.B, Σ)
        print(f"{cp.label:6s} {r:4d} {L:8.2f} {cp.level:11.2f}  {tm.hessian_inertia(H)}")

# %% [markdown]
# So {prf:ref}`prop-critical-points` as the notes state it ("for any critical point") is false.
# The critical values form the larger set $\{\sum_{i\notin J}\lambda_i: \lvert J\rvert\le d\}$.
# These extra saddles matter in practice: as shown [below](sec-dynamics), gradient descent
# from a small initialisation starts next to $A=B=0$ and then passes close to the rank-1
# saddles.
#
# (sec-ch1-distinct)=
# ### (b) Distinct eigenvalues
#
# Step 4 concludes that a matrix commuting with $\Lambda$ is diagonal. That needs distinct
# diagonal entries: if $\lambda_i=\lambda_k$, the $(i,k)$ entry is unconstrained. Take
# $\lambda=(3,2,2,1)$ and $d=2$. For every angle $\varphi$ the point
# $A=B^\top=[u_1,\ \cos\varphi\,u_2+\sin\varphi\,u_3]$ is critical, and
# $P_{U^\top A}$ is not diagonal when $0<\varphi<\pi/2$. These critical points form a
# continuous family. All of them are minima, so the minimiser subspace is not unique. The
# minimum *value* $\lambda_3+\lambda_4$ is still unique, so {prf:ref}`cor-minimum` survives
# for the value but not for the minimiser.

# %%
λ_rep = np.array([3.0, 2.0, 2.0, 1.0])
Q, _ = np.linalg.qr(np.random.default_rng(5).standard_normal((4, 4)))
Σ_rep = Q @ np.diag(λ_rep) @ Q.T
minimisers = []
for φ in np.linspace(0, np.pi / 2, 7):
    A = np.stack([Q[:, 0], np.cos(φ) * Q[:, 1] + np.sin(φ) * Q[:, 2]], axis=1)
    assert tm.relative_gradient_norm(A, A.T, Σ_rep) < 1e-12
    assert np.isclose(tm.linear_loss(A, A.T, Σ_rep), 3.0, rtol=1e-12)
    minimisers.append(A)
P_mid = tm.projection(Q.T @ minimisers[3])
θ = tm.principal_angles(minimisers[0], minimisers[-1])
assert abs(P_mid[1, 2]) > 0.4 and np.isclose(θ.max(), np.pi / 2)
print(f"off-diagonal entry of P_(UᵀA) at φ = π/4: {P_mid[1, 2]:.3f}")
print(f"largest principal angle between two minimisers: {θ.max():.4f} rad")

# %% [markdown]
# The Hessian at such a minimiser has one extra flat direction (a rotation inside the
# eigenspace of $\lambda=2$), beyond the $d^2=4$ of the symmetry: it has $d^2+1$ zero
# eigenvalues and no negative one.

# %%
H_rep = tm.linear_hessian(minimisers[3], minimisers[3].T, Σ_rep)
n_neg, n_zero, n_pos = tm.hessian_inertia(H_rep)
assert (n_neg, n_zero) == (0, 2**2 + 1)
print(f"inertia (-, 0, +) at a minimiser with λ_2 = λ_3: {(n_neg, n_zero, n_pos)}")

# %% [markdown]
# `tm.critical_points` refuses repeated eigenvalues with an error that names $\Sigma$,
# because its list would silently miss the families. With `allow_repeated=True` it warns and
# returns one representative per family (both tested in `tests/test_linear.py`).

# %% [markdown]
# The correct statement when eigenvalues repeat: $AB$ is the orthogonal projection onto a
# $d$-dimensional subspace invariant under $\Sigma$, that is, a direct sum of subspaces of
# its eigenspaces. The loss is $\operatorname{tr}\Sigma$ minus the sum of the eigenvalues
# that the subspace keeps, counted with multiplicity. If $\lambda_d>\lambda_{d+1}$ the
# minimiser is still unique.
#
# Here is a check of the last sentence, with $\lambda=(3,3,2,1)$ and $d=2$. Every
# $[\cos\varphi\,u_1+\sin\varphi\,u_2,\ u_3]$ is a critical point (a continuous family of
# saddles). The minimiser's projection $AB$ is the same for every orthonormal basis of the
# top eigenspace.

# %%
λ_top = np.array([3.0, 3.0, 2.0, 1.0])
Σ_top = Q @ np.diag(λ_top) @ Q.T
for φ in np.linspace(0, np.pi, 5):
    v = np.cos(φ) * Q[:, 0] + np.sin(φ) * Q[:, 1]
    w = -np.sin(φ) * Q[:, 0] + np.cos(φ) * Q[:, 1]
    A_saddle = np.stack([v, Q[:, 2]], axis=1)
    assert tm.relative_gradient_norm(A_saddle, A_saddle.T, Σ_top) < 1e-12
    assert np.linalg.eigvalsh(tm.linear_hessian(A_saddle, A_saddle.T, Σ_top)).min() < 0
    A_min = np.stack([v, w], axis=1)  # a minimiser: critical, at the minimum level, H ⪰ 0
    assert tm.relative_gradient_norm(A_min, A_min.T, Σ_top) < 1e-12
    assert np.isclose(tm.linear_loss(A_min, A_min.T, Σ_top), λ_top[2:].sum(), rtol=1e-12)
    assert np.linalg.eigvalsh(tm.linear_hessian(A_min, A_min.T, Σ_top)).min() > -1e-9
    AB_min = A_min @ A_min.T
    if φ == 0:
        AB_first = AB_min
    assert np.allclose(AB_min, AB_first, atol=1e-12)  # the same projection for every φ
print("λ_1 = λ_2 > λ_3: a circle of saddles, but a single minimising projection")

# %% [markdown]
# (sec-ch1-invertible)=
# ### (a) $\Sigma$ invertible
#
# Step 1 cancels $\Sigma$. If the data lie in a proper subspace, $\Sigma$ has a kernel and the
# first equation of {eq}`eq-notes-3` only says that $A^\top(I-AB)$ vanishes on
# $\operatorname{range}\Sigma$. Then $B$ is free on $\ker\Sigma$, and $AB$ need not be a
# projection at all. An example: $D=4$ data with $\lambda_4=0$ and $d=2$. Put
# $A=[u_1,u_4]$ and $B=[u_1,\ c\,u_4]^\top$. This point is critical for every $c$, and
# $AB=u_1u_1^\top+c\,u_4u_4^\top$ is idempotent only for $c\in\{0,1\}$.

# %%
λ_sing = np.array([3.0, 2.0, 1.0, 0.0])
Σ_sing = Q @ np.diag(λ_sing) @ Q.T
A = Q[:, [0, 3]]
for c in [0.0, 0.5, 1.0, -2.0]:
    B = np.stack([Q[:, 0], c * Q[:, 3]])
    M = A @ B
    assert tm.relative_gradient_norm(A, B, Σ_sing) < 1e-12
    assert np.isclose(tm.linear_loss(A, B, Σ_sing), λ_sing[1] + λ_sing[2], rtol=1e-12)
    print(f"c = {c:5.1f}: critical, loss {tm.linear_loss(A, B, Σ_sing):.3f}, "
          f"AB idempotent: {np.allclose(M @ M, M)}")

# %% [markdown]
# The correct statement when $\Sigma$ is singular: at a critical point, $AB$ restricted to
# $\operatorname{range}\Sigma$ is the orthogonal projection onto the span of some eigenvectors
# with positive eigenvalues, and the loss is still the sum of the eigenvalues not kept. The
# loss formula survives because $\ker\Sigma$ contributes nothing to the loss. Our functions
# accept a singular $\Sigma$ for the loss, the gradient, the Hessian and training. The
# enumeration `critical_points` refuses it with an error naming $\Sigma$, because its list
# would be incomplete. It refuses a non-square, non-symmetric or indefinite $\Sigma$, a
# $d\ge D$ and data with NaN in the same way; `tests/test_linear.py` checks each refusal.

# %% [markdown]
# (sec-dynamics)=
# ## Training dynamics: plateaus at saddles
#
# Every critical point other than the minimum is a strict saddle, so gradient descent from a
# generic start ends at PCA. On the way it can linger on a
# {index}`plateau <single: plateau (training dynamics)>`. We train on
# $\Sigma=Q\operatorname{diag}(4,2,1,0.5)Q^\top$ with a random rotation $Q$, $d=2$.
# `tm.train_linear` runs full-batch gradient descent (step size $0.05/\lambda_1$)
# or Adam {cite:p}`kingma2014adam` (step size 0.01) on the exact loss, from Gaussian starts of
# scale $10^{-2}$, $10^{-4}$ and $10^{-6}$. {numref}`fig-ch1-plateaus` shows the loss, with
# the critical values $\sum_{i\notin J}\lambda_i$ for all $\lvert J\rvert\le2$ drawn as
# horizontal lines.

# %%
λ_dyn = np.array([4.0, 2.0, 1.0, 0.5])
Q_dyn, _ = np.linalg.qr(np.random.default_rng(7).standard_normal((4, 4)))
Σ_dyn = Q_dyn @ np.diag(λ_dyn) @ Q_dyn.T
scales = [1e-2, 1e-4, 1e-6]
runs = {(opt, sc): tm.train_linear(Σ_dyn, 2, steps=600, optimizer=opt, init_scale=sc, seed=1)
        for opt in ("gd", "adam") for sc in scales}
# the three levels the text refers to, Σ_{i∉J} λ_i for J = ∅, {1}, {1, 2}
L_origin = λ_dyn.sum()                # A = B = 0: tr Σ
L_rank1 = λ_dyn.sum() - λ_dyn[0]      # rank-1 saddle J = {1}
L_min = λ_dyn.sum() - λ_dyn[:2].sum() # PCA, J = {1, 2}
level_of = {J: level for level, J in tm.critical_levels(λ_dyn, 2)}
assert np.isclose(level_of[()], L_origin) and np.isclose(level_of[(0,)], L_rank1)
assert np.isclose(level_of[(0, 1)], L_min) and np.isclose(min(level_of.values()), L_min)
for name, value in [("L-origin", L_origin), ("L-rank1", L_rank1), ("L-min", L_min)]:
    tm.glue(name, value)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The loss of the linear autoencoder during training from small random starts, with gradient descent (top) and Adam (bottom). Horizontal lines: the critical values, solid for full-rank critical points and dotted for rank-deficient ones; the three that gradient descent visits are labelled on the right by their index set $J$.", "name": "fig-ch1-plateaus"}, "image": {"alt": "Two panels of loss against step. In the top panel (gradient descent) the curves sit on the level 7.5, then on 3.5, then drop to 1.5, longer for smaller starts; in the bottom panel (Adam) the three curves drop almost together."}}
fig, axes = plt.subplots(2, 1, figsize=(4.8, 6), sharex=True, layout="constrained")
for ax, opt in zip(axes, ("gd", "adam")):
    for level, J in tm.critical_levels(λ_dyn, 2):
        ax.axhline(level, color="C0" if len(J) == 2 else "C1", lw=0.6,
                   ls="-" if len(J) == 2 else ":")
    for sc, color in zip(scales, ("0.7", "0.4", "k")):
        ax.plot(runs[opt, sc].loss, color=color, lw=1.5, label=f"init scale $10^{{{np.log10(sc):.0f}}}$")
    ax.set_ylabel("loss")
    ax.set_title({"gd": "gradient descent", "adam": "Adam"}[opt])
    for level, J in tm.critical_levels(λ_dyn, 2):
        if level in (L_origin, L_rank1, L_min):
            ax.annotate(tm.index_set_label(J), (600, level), va="center", xytext=(3, 0),
                        textcoords="offset points", annotation_clip=False)
axes[1].set_xlabel("step")
axes[1].legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)
plt.show()

# %% [markdown]
# Gradient descent sits first on the level $\operatorname{tr}\Sigma=$ {glue:text}`L-origin:.1f`
# (the saddle $A=B=0$, $J=\emptyset$). It then drops to
# $\lambda_2+\lambda_3+\lambda_4=$ {glue:text}`L-rank1:.1f` (the rank-1 saddle
# $J=\{1\}$), and finally to the minimum $\lambda_3+\lambda_4=$ {glue:text}`L-min:.1f`.
# Both plateaus are at
# rank-deficient critical points, the ones that Proposition 1 leaves out, and both get longer
# as the initial scale shrinks. Adam rescales each coordinate's step, so tiny gradients still
# give steps of size about the learning rate. Its time on the plateaus hardly depends on the
# initial scale, and from the smallest start it spends at least
# {glue:text}`adam-speedup` times fewer steps on each plateau than gradient descent. We
# count the steps spent within 0.05 of each level:

# %%
near = {key: [tm.time_near(run.loss, lv, 0.05) for lv in (L_origin, L_rank1)]
        for key, run in runs.items()}
print(f"{'':5s} {'scale':>6s}  steps near {L_origin:g} / {L_rank1:g}")
for (opt, sc), (n0, n1) in near.items():
    print(f"{opt:5s} {sc:6.0e}  {n0:4d} / {n1:4d}")

# %% tags=["hide-input"]
for i in (0, 1):  # i = 0: the origin, i = 1: the rank-1 saddle
    gd_near = [near["gd", sc][i] for sc in scales]
    adam_near = [near["adam", sc][i] for sc in scales]
    assert gd_near[0] < gd_near[1] < gd_near[2]  # longer plateaus from smaller starts
    assert max(adam_near) - min(adam_near) <= 5  # Adam: nearly independent of the scale
assert near["gd", 1e-6][1] > 50
speedup = min(near["gd", 1e-6][i] / near["adam", 1e-6][i] for i in (0, 1))
assert speedup > 5
tm.glue("adam-speedup", int(speedup))  # "at least" this many times: rounded down

# %% [markdown]
# All runs end at PCA. The largest principal angle between the learned column space of $A$
# and $\operatorname{span}\{u_1,u_2\}$ is at rounding level:

# %%
U_dyn = tm.eigh_desc(Σ_dyn)[1]
longer = {key: tm.train_linear(Σ_dyn, 2, steps=3000, optimizer=key[0], init_scale=key[1],
                               seed=1) for key in runs}
for key, run in longer.items():
    θ = tm.principal_angles(run.A, U_dyn[:, :2])
    assert θ.max() < 1e-6 and np.isclose(run.loss[-1], L_min, rtol=1e-9)
print(f"after 3000 steps: every run within 1e-6 rad of the top-2 eigenspace, loss {L_min:g}")

# %% [markdown]
# (sec-ch1-linger)=
# ### How long does a trajectory linger?
#
# Near a critical point, gradient descent with step $\eta$ is approximately
# $\delta\theta\mapsto(I-\eta H)\delta\theta$. The component along the most negative Hessian
# eigenvalue $-\mu$ grows by the factor $1+\eta\mu$ per step. From a distance $\epsilon$ it
# takes about
#
# $$ t_{\text{escape}} \approx \frac{\log(1/\epsilon)}{\log(1+\eta\mu)} + \text{const} $$ (eq-escape)
#
# steps to reach distance of order one. **Leaving the origin.** At $A=B=0$ the quadratic form
# is $-2\operatorname{tr}(\delta A\,\delta B\,\Sigma)$, whose eigenvalues are
# $\pm2\lambda_i$, so $\mu=2\lambda_1$. We measure the step at which the loss first falls below
# $\operatorname{tr}\Sigma-\lambda_1/2$, for a range of initial scales:

# %%
lr = tm.default_lr(Σ_dyn)
scales_fit = np.array([1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8])
t_origin = np.array([tm.escape_time(tm.train_linear(Σ_dyn, 2, steps=2000, init_scale=sc,
                                                    seed=1).loss, L_origin, λ_dyn[0] / 2)
                     for sc in scales_fit])
slope = np.polyfit(np.log(1 / scales_fit), t_origin, 1)[0]
μ0 = tm.escape_rate(Σ_dyn, (), 2)
assert np.isclose(μ0, 2 * λ_dyn[0], rtol=1e-10)
assert np.isclose(slope, 1 / np.log(1 + lr * μ0), rtol=0.03)
print(f"steps per e-fold of 1/ε: measured {slope:.1f}, "
      f"predicted 1/log(1+ημ) = {1 / np.log(1 + lr * μ0):.1f}")

# %% [markdown]
# **Leaving a saddle, as a function of the gap.** Take $\lambda=(4,\,2,\,2-g,\,0.25)$ and the
# saddle $I=\{1,3\}$. Its only descending pair is $(j,k)=(3,2)$, with gap
# $g=\lambda_2-\lambda_3$. Start at the saddle plus a random perturbation of norm $\epsilon$,
# and record when the loss has dropped by $g/2$. The block {eq}`eq-pair-form` gives
# $\mu=\sqrt{(\lambda_k-\lambda_j)^2+4\lambda_k^2}-(\lambda_j+\lambda_k)=g+O(g^2/\lambda_k)$.
# So for small gaps the rate is the gap itself, as in the mode-by-mode analysis of
# {cite:t}`saxe2013exact`, where a mode's learning time scales like
# $\log(1/\epsilon)$ divided by the strength of the mode.

# %%
gaps = np.array([0.1, 0.2, 0.4, 0.8, 1.6])
eps_pair = (1e-3, 1e-6)


def pair_rate(λ_j, λ_k):
    """The escape rate of a pair: minus the lowest eigenvalue of its Hessian block."""
    return -np.linalg.eigvalsh(tm.pair_block(λ_j, λ_k))[0]


j, k = 2, 1  # the descending pair (3, 2), 0-based
rows = []
for g in gaps:
    λ_g = np.array([4.0, 2.0, 2.0 - g, 0.25])
    Σ_g = Q_dyn @ np.diag(λ_g) @ Q_dyn.T
    t = [tm.escape_from_saddle(Σ_g, 2, (0, 2), e, drop=g / 2, lr=lr, steps=20000)
         for e in eps_pair]
    μ = tm.escape_rate(Σ_g, (0, 2), 2)  # from the full Hessian
    assert np.isclose(μ, pair_rate(λ_g[j], λ_g[k]), rtol=1e-10)
    rows.append((g, μ, t[0], t[1], (t[1] - t[0]) / np.log(1e3)))
rows = np.array(rows)

# %% [markdown]
# The rate from the full Hessian is the closed form above, and $0<\mu-g\le g^2/(4\lambda_k)$:

# %%
λ_j, λ_k = 2.0 - gaps, 2.0
μ_closed = np.sqrt((λ_k - λ_j) ** 2 + 4 * λ_k**2) - (λ_j + λ_k)
assert np.allclose(rows[:, 1], μ_closed, rtol=1e-10)
assert np.all((rows[:, 1] - gaps > 0) & (rows[:, 1] - gaps <= gaps**2 / (4 * λ_k)))
pred = 1 / np.log(1 + lr * rows[:, 1])
print(f"{'gap':>4s} {'μ':>6s} {'t(1e-3)':>7s} {'t(1e-6)':>7s} {'slope':>6s} "
      f"{'1/log(1+ημ)':>11s} {'1/(ηg)':>6s}")
for (g, μ, t3, t6, sl), p in zip(rows, pred):
    print(f"{g:4.1f} {μ:6.3f} {t3:7.0f} {t6:7.0f} {sl:6.0f} {p:11.0f} {1 / (lr * g):6.0f}")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Steps per $e$-fold of $1/\\epsilon$ needed to leave the saddle $I=\\{1,3\\}$, against the gap $g=\\lambda_2-\\lambda_3$: measured (dots), predicted from the Hessian's most negative eigenvalue (solid) and from the gap alone (dotted).", "name": "fig-ch1-escape"}, "image": {"alt": "Log-log plot of steps per e-fold against the eigenvalue gap: five red dots on the solid prediction line, which falls with slope about -1; the dotted gap-only line lies on it at small gaps and above it at large gaps."}}
fig, ax = plt.subplots(figsize=(4.8, 3.4))
g_fine = np.linspace(0.05, 1.8, 100)
μ_fine = np.array([pair_rate(2.0 - g, 2.0) for g in g_fine])
ax.loglog(g_fine, 1 / np.log(1 + lr * μ_fine), "k-", lw=1, label=r"$1/\log(1+\eta\mu)$, Hessian")
ax.loglog(g_fine, 1 / (lr * g_fine), "k:", lw=1, label=r"$1/(\eta g)$, gap only")
ax.loglog(rows[:, 0], rows[:, 4], "o", color="C3", label="measured")
ax.set_xlabel(r"eigenvalue gap $g=\lambda_k-\lambda_j$")
ax.set_ylabel(r"steps per $e$-fold of $1/\epsilon$")
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# The measured slopes agree with the Hessian rate to within
# {glue:text}`escape-worst-pct:.1f`% ({numref}`fig-ch1-escape`). The gap-only estimate
# $1/(\eta g)$ is {glue:text}`gap-only-small-pct:.0f`% off at $g=$
# {glue:text}`gap-small:.1f` and {glue:text}`gap-only-large-pct:.0f`% off at $g=$
# {glue:text}`gap-large:.1f`. The escape time is linear in
# $\log(1/\epsilon)$ and inversely proportional to $\mu\approx g$: halving the gap doubles
# the plateau.

# %% tags=["hide-input"]
worst_pct = 100 * np.abs(rows[:, 4] / pred - 1).max()
assert worst_pct < 2
tm.glue("escape-worst-pct", np.ceil(10 * worst_pct) / 10)  # "within": rounded up
ratio = 1 / (lr * rows[:, 0]) / rows[:, 4]  # gap-only estimate / measured
assert np.all(np.diff(ratio) > 0) and ratio[0] < 1.02 and ratio[-1] > 1.15
tm.glue("gap-only-small-pct", 100 * (ratio[0] - 1))
tm.glue("gap-only-large-pct", 100 * (ratio[-1] - 1))
tm.glue("gap-small", gaps[0])
tm.glue("gap-large", gaps[-1])

# %% [markdown]
# ## Playground
#
# `tm.linear_playground` trains the linear autoencoder on a spectrum of your choice and
# draws the loss over the critical values. The solid lines are full-rank critical points and
# the dotted ones rank-deficient points. Try a tiny `init_scale`, nearly equal eigenvalues,
# or `optimizer="adam"`. {numref}`fig-ch1-playground` is its default picture.

# %% mystnb={"figure": {"caption": "The playground: gradient descent from a start of scale $10^{-5}$ on the spectrum $\\lambda=(4,2,1,0.5)$, over the critical values (solid: full rank, dotted: rank-deficient).", "name": "fig-ch1-playground"}, "image": {"alt": "Loss against step: a staircase that descends from the level 7.5 through 3.5 to the minimum 1.5, with horizontal lines at every critical value."}}
λ_play = (4.0, 2.0, 1.0, 0.5)
run = tm.linear_playground(λ=λ_play, d=2, init_scale=1e-5, optimizer="gd", steps=800).data
plt.show()
assert np.isclose(run.loss[-1], tm.critical_levels(λ_play, 2)[-1][0], rtol=1e-6)  # the minimum

# %% tags=["remove-cell"]
if tm.widgets_live():
    try:
        import ipywidgets as widgets

        def _play(init_exponent=-5, gap=1.0, optimizer="gd", steps=800):
            tm.linear_playground(λ=(4.0, 2.0, 2.0 - gap, 0.25), d=2,
                                 init_scale=10.0**init_exponent, optimizer=optimizer, steps=steps)
            plt.show()

        widgets.interact(_play, init_exponent=(-10, -1), gap=(0.05, 1.7, 0.05),
                         optimizer=["gd", "adam"], steps=(200, 5000, 200))
    except ImportError:
        pass

# %% [markdown]
# ## Summary
#
# - The loss depends on the data only through $\Sigma$:
#   $L=\operatorname{tr}\Sigma-2\operatorname{tr}(AB\Sigma)+\operatorname{tr}(AB\Sigma(AB)^\top)$.
#   Its gradient, {eq}`eq-notes-1` and {eq}`eq-notes-2`, is confirmed by sympy and by autograd.
# - With $\Sigma$ invertible, distinct eigenvalues and $A$ of full rank, every critical point is
#   $A=U_IC$, $B=C^{-1}U_I^\top$, with loss $\sum_{i\notin I}\lambda_i$. The unique minimum
#   value is at $I=\{1,\dots,d\}$, which is PCA and matches the SVD (Eckart–Young–Mirsky).
#   Every other critical point is a strict saddle, with exactly
#   $\#\{(j,k):j\in I,k\notin I,\lambda_k>\lambda_j\}$ descending directions and $d^2$ flat
#   ones, which come from $A\to AC$, $B\to C^{-1}B$.
# - **Where the notes need correcting.** (i) Proposition 1 is false without the full-rank
#   hypothesis. Rank-deficient critical points ($AB=U_JU_J^\top$, $\lvert J\rvert<d$,
#   including $A=B=0$) exist, are all saddles, and are the plateaus that gradient descent from
#   a small initialisation visits. (ii) With repeated eigenvalues the critical points come in
#   continuous families. If $\lambda_d=\lambda_{d+1}$ the minimiser is not unique, although
#   the minimum value is. (iii) With $\Sigma$ singular, $AB$ need not be a projection, though
#   the loss formula holds. (iv) In (⋆), $U_I$ must be the $D\times d$ matrix of the kept
#   eigenvectors. (v) "Unique minimum" holds for the value and for $AB$, never for $(A,B)$,
#   and the PCA it reaches is uncentred.
# - Gradient descent lingers near a saddle for about
#   $\log(1/\epsilon)/\log(1+\eta\mu)$ steps, where $\mu$ is the most negative Hessian
#   eigenvalue. For a swap of eigenvectors $j\leftrightarrow k$, $\mu\approx\lambda_k-\lambda_j$
#   when the gap is small. Adam's plateaus hardly depend on the initial scale.

# %% [markdown]
# ## Exercises
#
# The solutions are hidden; each one runs when the book is built, and its asserts check the
# answer.
#
# ```{exercise} The critical points of a small example
# :label: ex-ch1-small
#
# Take $\Sigma=\operatorname{diag}(3,2,1)$ and $d=1$. List the critical points with $A\neq0$,
# their losses, and the number of descending directions of the Hessian at each. Which one is
# the minimum? Check your answer with `tm.critical_points` and `tm.hessian_inertia`.
# ```
#
# ````{solution-start} ex-ch1-small
# :class: dropdown
# ````
#
# By {prf:ref}`prop-critical-points` the critical points with $A\neq0$ are
# $A=c\,e_i$, $B=c^{-1}e_i^\top$ for $i=1,2,3$, with losses $\operatorname{tr}\Sigma-\lambda_i
# = 3, 4, 5$. By {eq}`eq-inertia` the point $I=\{i\}$ has one descending direction for each
# larger eigenvalue outside $I$: $0$, $1$ and $2$. Only $I=\{1\}$ is the minimum.

# %%
Σ_ex = np.diag([3.0, 2.0, 1.0])
found_ex = {cp.I: (tm.linear_loss(cp.A, cp.B, Σ_ex), tm.hessian_inertia(tm.linear_hessian(cp.A, cp.B, Σ_ex))[0])
            for cp in tm.critical_points(Σ_ex, 1)}
assert {I: (round(L, 12), n) for I, (L, n) in found_ex.items()} == {
    (0,): (3.0, 0), (1,): (4.0, 1), (2,): (5.0, 2)}
print("I, loss, descending directions:", found_ex)

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Flat directions from a symmetry
# :label: ex-ch1-symmetry
#
# Show that $L(AC,C^{-1}B)=L(A,B)$ for every invertible $d\times d$ matrix $C$. Deduce that at
# every critical point with $A$ of full rank the Hessian has at least $d^2$ zero eigenvalues,
# and check this at one of the critical points that the blind solver found above.
# ```
#
# ````{solution-start} ex-ch1-symmetry
# :class: dropdown
# ````
#
# $L$ depends on $(A,B)$ only through $AB$, and $(AC)(C^{-1}B)=AB$. The map
# $g_C:(A,B)\mapsto(AC,C^{-1}B)$ is linear and invertible and preserves $L$, so it maps
# critical points to critical points. Hence at a critical point $\theta$ the gradient vanishes
# along the whole curve $\theta(t)=(Ae^{tX},e^{-tX}B)$, and differentiating
# $\nabla L(\theta(t))=0$ at $t=0$ gives $H\,\theta'(0)=0$ with $\theta'(0)=(AX,-XB)$. When $A$
# has full rank, $AX=0$ forces $X=0$, so $X\mapsto(AX,-XB)$ is injective on the
# $d^2$-dimensional space of matrices $X$, and the kernel of $H$ has dimension at least $d^2$.

# %%
_, Σ_c, A_c, B_c = full[0]
C_ex = tm.random_invertible(2, rng=11)
assert np.isclose(tm.linear_loss(A_c @ C_ex, np.linalg.solve(C_ex, B_c), Σ_c),
                  tm.linear_loss(A_c, B_c, Σ_c), rtol=1e-12)
n_zero = tm.hessian_inertia(tm.linear_hessian(A_c, B_c, Σ_c))[1]
assert n_zero >= 2**2
print(f"zero eigenvalues of the Hessian: {n_zero} (d² = 4)")

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} Predict a plateau
# :label: ex-ch1-predict
#
# Using {eq}`eq-escape` and the escape times measured above from the origin for scales
# $10^{-2},\dots,10^{-8}$, predict how many steps gradient descent on the same $\Sigma$ needs
# to leave the origin from an initial scale of $10^{-12}$. Then measure it.
# ```
#
# ````{solution-start} ex-ch1-predict
# :class: dropdown
# ````
#
# The escape time is linear in $\log(1/\epsilon)$. Fit the line through the measured times
# and read it off at $\epsilon=10^{-12}$; the slope should be $1/\log(1+\eta\mu)$ with
# $\mu=2\lambda_1$. The measurement agrees with the prediction to within a few percent.

# %%
fit = np.polyfit(np.log(1 / scales_fit), t_origin, 1)
t_pred = np.polyval(fit, np.log(1e12))
t_meas = tm.escape_time(tm.train_linear(Σ_dyn, 2, steps=3000, init_scale=1e-12, seed=1).loss,
                        L_origin, λ_dyn[0] / 2)
assert abs(t_meas / t_pred - 1) < 0.05
print(f"predicted {t_pred:.0f} steps, measured {t_meas}")

# %% [markdown]
# ````{solution-end}
# ````
#
# ```{exercise} The inertia of a rank-deficient saddle
# :label: ex-ch1-rank-deficient
#
# The section on [assumption (c)](sec-ch1-full-rank) states, from computation, that at the
# critical point $AB=U_JU_J^\top$ with $\lvert J\rvert=r<d$ the Hessian has
# $\#\{(j,k):j\in J,k\notin J,\lambda_k>\lambda_j\}+(d-r)(D-r)$ negative and $r(2d-r)$ zero
# eigenvalues. Check the formula for $D=5$, $d=3$ and every $J$ with $r\le2$, writing the
# count yourself rather than calling `tm.predicted_inertia`. Then prove it. (Hint: the
# unused hidden units contribute the indefinite form $-2\lambda_k\alpha\beta$ for every
# $k\notin J$; count which of the remaining directions are flat.)
# ```
#
# ````{solution-start} ex-ch1-rank-deficient
# :class: dropdown
# ````
#
# The check below covers all $1+5+10=16$ sets $J$. For the proof take $C=I$, so the $r$ used
# hidden units carry the $u_j$, $j\in J$, and the $d-r$ unused units have zero weights. Perturb
# an unused unit $m$ by a column $a$ of $\delta A$ and a row $b^\top$ of $\delta B$. Since
# row $m$ of $B$ and column $m$ of $A$ are zero, it does not change
# $\delta M=\delta A\,B+A\,\delta B$, and the second-order form of {eq}`eq-pair-form`
# reduces to $-2\,b^\top\Sigma(I-AB)a=-2\sum_{k\notin J}\lambda_ka_kb_k$, with no cross terms
# to other units. For each $k\notin J$ that is an indefinite $2\times2$ form (one negative and
# one positive eigenvalue), and the $2r$ coordinates $a_j,b_j$ with $j\in J$ are flat. The used
# units behave exactly as at a full-rank point of rank $r$: one negative eigenvalue per pair
# $(j\in J,k\notin J)$ with $\lambda_k>\lambda_j$, and $r^2$ flat directions. Adding up:
# $\#\{(j,k):\lambda_k>\lambda_j\}+(d-r)(D-r)$ negative and $r^2+2r(d-r)=r(2d-r)$ zero
# eigenvalues.

# %%
λ5 = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
Σ5 = np.diag(λ5)
n_J = 0
for r in range(3):
    for cp in tm.critical_points(Σ5, 3, rank=r):
        J = cp.I
        neg = sum(λ5[k] > λ5[j] for j in J for k in range(5) if k not in J) + (3 - r) * (5 - r)
        n_neg, n_zero, _ = tm.hessian_inertia(tm.linear_hessian(cp.A, cp.B, Σ5))
        assert (n_neg, n_zero) == (neg, r * (2 * 3 - r)), (J, n_neg, n_zero)
        n_J += 1
assert n_J == 16
print(f"the formula holds at all {n_J} rank-deficient critical points")

# %% [markdown]
# ````{solution-end}
# ````
