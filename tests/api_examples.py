"""One valid example call for every public function of toymodels: the registry that
``tests/test_input_policy.py`` walks with bad inputs.

HOW TO ADD AN ENTRY. A new public function ``f`` of module ``toymodels.mod`` (listed in its
``__all__``) needs one line in ``EXAMPLES`` below::

    "mod.f": ex(arg1, arg2, keyword=value),

with small, valid values (the call must succeed and take well under a second). The policy test
replaces, one at a time, every argument whose example value is a number, an array, a tensor or a
list/tuple of numbers by bad values (complex, bool, string, NaN, negative and huge sizes) and
demands a ``ValueError``/``TypeError`` naming that argument. Flags (bools), strings, ``None`` and
objects are left alone. ``ex(..., skip={"name": "why"})`` exempts an argument, with the reason.

``KNOWN_GAPS`` lists the functions that still break the policy, each with the reason; the policy
test expects them to fail (a strict xfail), so closing a gap makes the test fail until the entry
is removed. Keep it empty: it is a to-do list, not an exemption.

Classes in ``__all__`` are walked only when they are listed here (constructors that check their
arguments, like ``TrainConfig``); result containers, exceptions and constants are exempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Example:
    args: tuple
    kwargs: dict
    skip: dict = field(default_factory=dict)


def ex(*args, skip: dict | None = None, **kwargs) -> Example:
    return Example(args, kwargs, skip or {})


# -- small valid inputs shared by the entries ---------------------------------------------------
Σ = np.diag([4.0, 2.0, 1.0, 0.5])
A = np.eye(4)[:, :2].copy()
B = A.T.copy()
W = np.array([[1.0, 0.0, 0.6], [0.0, 1.0, -0.8]])  # d = 2, D = 3
b = np.array([0.0, -0.1, 0.1])
ω = np.array([1.0, 0.8, 0.5])
S = 0.7
X2 = np.array([[1.0, 0.2], [0.0, 1.0], [-1.0, 0.3]])
λ = np.array([4.0, 2.0, 1.0, 0.5])
H = np.diag([1.0, -1.0, 0.0])
LOSS = np.array([3.0, 2.5, 1.0, 0.2])
W_SMOOTH = np.array([[1.0, 0.3, 0.6], [0.2, 1.0, -0.8]])  # no kink: no ⟨w_k, w_i⟩ = 0 = b_k
B_SMOOTH = np.array([-0.1, -0.1, 0.1])


def _cfg(**kw):
    from toymodels.train.config import TrainConfig

    base = dict(D=3, d=2, n=2, S=0.5, batch_size=8, steps=3,
                log_every=1, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def _relu_class():
    from toymodels.train.models import ReLU

    return ReLU  # registering it again replaces the registry's instance by an equal one


def _traj():
    from toymodels.tied.flows import integrate_tied

    return integrate_tied(0.1 * A.T, Σ, 1.0, n_eval=3)


def _linear_run():
    from toymodels.linear.dynamics import train_linear

    return train_linear(np.diag(λ), 2, steps=3, seed=0)


def _llc_quadratic(w, batch):
    return (w * w).sum(1)


def _llc_estimates():
    from toymodels.lc.llc import sgld_llc

    return [sgld_llc(_llc_quadratic, np.zeros(2), None, n=100, ε=1e-3, γ=1.0, chains=2, steps=4,
                     burn_in=1, warn=False)]


def _llc_problem():
    from toymodels.lc.llc_models import linear_regression

    return linear_regression(2, 10)


def _study():
    from toymodels.relu.basins import BasinStudy

    return BasinStudy(np.array([0.9]), ω[None], np.zeros(2, int), np.array(["a", "b"]),
                      np.array([0.1, 0.2]), np.stack([W, W]), np.stack([b, b]),
                      np.zeros((1, 2)), np.zeros(1, int))


CFG = _cfg()

#: functions that do not yet follow the policy (files owned by issue 11's part A at the time of
#: writing): remove the entry with the fix.
KNOWN_GAPS: dict[str, str] = {}

EXAMPLES = {
    # batches
    "train.batches.chunk_steps": ex(CFG, "cpu"),
    "train.batches.chunk_seed": ex(3, 5),
    # book
    "present.book.glue": ex("x", 1.5, digits=4),
    # config
    "train.config.TrainConfig": ex(model="relu", D=3, d=2, n=2, S=0.5,
                             ω=ω, batch_size=8, steps=3, lr=1e-3, log_every=1,
                             weight_decay=0.0, seed=0, eps=1e-8, momentum=0.0, progress=False),
    # data
    "tied.data.sparse_uniform": ex(4, 3, S, rng=0, n=2),
    "tied.data.sparse_uniform_torch": ex(4, 3, S, n=2),
    "tied.data.inverse_density": ex(np.array([0.0, 0.5, 1.0])),
    "tied.data.sparsity_grid": ex(5, low=0.1, high=0.9),
    "tied.data.importance_vector": ex(ω, 3),
    "tied.data.exactly_one_active": ex(4, 3, np.array([0.2, 0.3, 0.5]), rng=0),
    "tied.data.exactly_one_active_torch": ex(4, 3, np.array([0.2, 0.3, 0.5])),
    "tied.data.nonzero_counts": ex(np.array([[0.0, 1.0], [2.0, 3.0]])),
    "tied.data.streaming_moments": ex(100, 3, S, seed=0, chunk_rows=10, threads=1, streams=2),
    # divergence
    "train.divergence.find_divergence": ex(
        CFG, {"W": torch.zeros(2, 2, 3), "b": torch.zeros(2, 3)}, torch.zeros(2, 3, 8),
        torch.ones(2, 3), 4, skip={"c": "an internal buffer of the trainer (factors 2ω/T)",
                                   "x": "an internal buffer of the trainer (a batch)"}),
    "train.divergence.divergence_error": ex(4, np.array([True, False]), np.array([False, False]),
                                      skip={"bad_L": "boolean masks by design",
                                            "bad_g": "boolean masks by design"}),
    # environment
    "environment.setup": ex(seed=0, device="cpu", style=False, threads=1),
    "environment.seed_everything": ex(3),
    "environment.choose_device": ex("cpu"),
    "environment.default_device": ex(),
    "environment.widgets_live": ex(),
    # flows
    "tied.flows.tied_loss": ex(A.T, Σ),
    "tied.flows.tied_gradient": ex(A.T, Σ),
    "tied.flows.untied_field": ex(A, B, Σ),
    "tied.flows.notes_field": ex(A.T, Σ),
    "tied.flows.oja_field": ex(A.T, Σ),
    "tied.flows.exact_field": ex(A.T, Σ),
    "tied.flows.eigenbasis_field": ex(0.5 * A.T, λ),
    "tied.flows.column_field": ex(0.5 * A.T, λ),
    "tied.flows.energy_notes": ex(W, 1.5),
    "tied.flows.energy_corrected": ex(W, 1.5),
    "tied.flows.energy_notes_gradient": ex(W, 1.5),
    "tied.flows.energy_corrected_gradient": ex(W, 1.5),
    "tied.flows.integrate_tied": ex(0.1 * A.T, Σ, 1.0, n_eval=3),
    "tied.flows.integrate_untied": ex(0.1 * A, 0.1 * B, Σ, 1.0, n_eval=3),
    "tied.flows.gradient_descent_tied": ex(0.1 * A.T, Σ, 0.01, 3, record_every=1),
    "tied.flows.fixed_point_residual": ex(A.T, Σ),
    "tied.flows.subspace_angle": ex(A.T, Σ),
    "tied.flows.hidden_lyapunov": ex(W),
    # geometry
    "relu.geometry.feature_norms": ex(W),
    "relu.geometry.gram": ex(W),
    "relu.geometry.dimensions_per_feature": ex(W),
    "relu.geometry.feature_dimensionality": ex(W, 1e-8),
    "relu.geometry.interference": ex(W, 1e-8),
    "relu.geometry.frame_potential": ex(W),
    "relu.geometry.tight_frame_defect": ex(W),
    "relu.geometry.is_equal_norm_tight_frame": ex(W, 1e-6),
    "relu.geometry.polygon": ex(W, 0.5, 10.0),
    "relu.geometry.feature_groups": ex(W, 0.5, 0.1, 0.1),
    "relu.geometry.nearest_fraction": ex(np.array([0.5, 0.34]), 8),
    "relu.geometry.pairwise_angles": ex(X2),
    "relu.geometry.aligned_distance": ex(X2, X2[::-1].copy(), restarts=1, seed=0),
    "relu.geometry.two_in_one_phase": ex(np.array([[1.0, 0.0], [0.9, -0.9]])),
    # hessian
    "linear.hessian.hessian": ex(A, B, Σ),
    "linear.hessian.find_critical_point": ex(Σ, 1, 0, scale=1.0),
    "linear.hessian.hessian_quadratic_form": ex(A, B, Σ, 0.1 * A, 0.1 * B),
    "linear.hessian.inertia": ex(H, rtol=1e-9),
    "linear.hessian.predicted_inertia": ex(λ, (0, 2), 2),
    "linear.hessian.pair_block": ex(2.0, 1.0),
    # limits
    "limits.refuse_if_too_big": ex("an example", work=10.0, memory=10.0, items=1.0),
    "limits.format_bytes": ex(1536.0),
    "limits.machine_cores": ex(),
    "limits.check_threads": ex(1, "threads"),
    # linear
    "linear.autoencoder.second_moment": ex(X2),
    "linear.autoencoder.check_sigma": ex(Σ),
    "linear.autoencoder.eigh_desc": ex(Σ),
    "linear.autoencoder.loss": ex(A, B, Σ),
    "linear.autoencoder.loss_from_data": ex(A, B, np.array([[1.0, 0.5, 0.0, 0.2]])),
    "linear.autoencoder.gradient": ex(A, B, Σ),
    "linear.autoencoder.relative_gradient_norm": ex(A, B, Σ),
    "linear.autoencoder.projection": ex(A),
    "linear.autoencoder.critical_points": ex(Σ, 2, C=np.diag([1.0, 2.0]), rank=2),
    "linear.autoencoder.critical_levels": ex(λ, 2),
    "linear.autoencoder.random_invertible": ex(3, 0, cond_max=10.0),
    "linear.autoencoder.perturbation": ex(Σ, (0, 2), 2, 1, 0.1),
    "linear.autoencoder.perturbation_drop": ex(λ, 2, 1, 0.1),
    "linear.autoencoder.principal_angles": ex(A, np.eye(4)[:, 1:3]),
    "linear.autoencoder.label": ex((0, 2)),
    # linear.dynamics
    "linear.dynamics.train_linear": ex(Σ, 2, steps=3, lr=0.01, init_scale=1e-3, seed=0),
    "linear.dynamics.default_lr": ex(Σ, "gd"),
    "linear.dynamics.escape_time": ex(LOSS, 2.0, 0.5),
    "linear.dynamics.time_near": ex(LOSS, 2.0, 0.6),
    "linear.dynamics.escape_rate": ex(Σ, (0, 2), 2),
    "linear.dynamics.escape_from_saddle": ex(Σ, 2, (0, 2), 0.01, drop=0.1, lr=0.01, steps=20,
                                             seed=0),
    # models
    "train.models.param_shapes": ex("relu", 2, 2, 3),
    "train.models.init_params": ex("relu", 2, 2, 3, seed=1, scale=0.5),
    "train.models.register": ex(_relu_class()),
    "train.models.forward": ex("relu", {"W": torch.zeros(2, 2, 3), "b": torch.zeros(2, 3)},
                         torch.zeros(2, 8, 3)),
    "train.models.loss": ex("relu", {"W": torch.zeros(2, 2, 3), "b": torch.zeros(2, 3)},
                      torch.zeros(2, 8, 3), torch.ones(2, 3)),
    "train.models.loss_and_grad": ex(
        "relu", {"W": torch.zeros(2, 2, 3), "b": torch.zeros(2, 3)}, torch.zeros(2, 3, 8),
        torch.ones(2, 3), {"W": torch.empty(2, 2, 3), "b": torch.empty(2, 3)},
        skip={"c": "an internal buffer of the trainer (factors 2ω/T)",
              "xT": "an internal buffer of the trainer (a transposed batch)"}),
    # moments
    "tied.moments.zero_probability": ex(S),
    "tied.moments.expected_nonzeros": ex(S, 3),
    "tied.moments.mean": ex(S),
    "tied.moments.second_moment_diagonal": ex(S),
    "tied.moments.second_moment_offdiagonal": ex(S),
    "tied.moments.zero_probability_offdiagonal": ex(S),
    "tied.moments.population_second_moment": ex(S, 3),
    "tied.moments.centred_covariance": ex(S, 3),
    "tied.moments.spike_and_bulk": ex(S),
    "tied.moments.population_spectrum": ex(S, 3),
    "tied.moments.helmert_basis": ex(3),
    "tied.moments.skeleton_probabilities": ex(S, 3),
    "tied.moments.monte_carlo": ex(np.array([[0.0, 0.5], [0.3, 0.0], [0.0, 0.0]]), S),
    "tied.moments.empirical_spectra": ex(X2, [2, 3]),
    # optim
    "train.optim.learning_rate": ex("cosine", 0.1, 3, 10, 2),
    # plots
    "present.plots.feature_polygons": ex(W[None], ncols=1, size=1.0),
    "present.plots.superposition_panel": ex(W[None], b[None], size=1.0),
    # trajectories and playgrounds
    "present.trajectories.plot_trajectory": ex(_traj(), Σ, snapshots=2),
    "present.trajectories.plot_linear_run": ex(_linear_run(), λ, 2),
    "present.playgrounds.linear_playground": ex(λ, 2, 1e-3, steps=5, seed=0),
    "present.playgrounds.flow_playground": ex(0.8, 4, 2, 0.01, 1.0, seed=0),
    "present.playgrounds.relu_playground": ex(3, 2, 0.9, 0.9, n=1, steps=2, seed=0),
    # exact_training, basins
    "relu.exact_training.exact_loss": ex(W[None], b[None], ω, S, l_max=2),
    "relu.square_integrals.square_relu_integrals": ex(np.array([1.0, -0.5]), 0.3, -0.2),
    "relu.exact_training.exact_loss_grad_hessian": ex(W[None], b[None], ω, S, l_max=1),
    "relu.exact_training.random_init": ex(2, 2, 3, seed=0, scale=0.5),
    "relu.exact_training.minimize_exact": ex(W[None], b[None], ω, S, l_max=1, steps=2, lr=0.01,
                                        newton_steps=1, tol=1e-10, log_every=1),
    "relu.basins.wilson_interval": ex(3, 10, 0.95),
    "relu.basins.clopper_pearson_interval": ex(3, 10, 0.95),
    "relu.basins.basin_probabilities": ex(["a", "b", "a"], confidence=0.9),
    "relu.basins.polygon_label": ex(W, 0.5, 10.0),
    "relu.basins.classify": ex(W),
    "relu.basins.basin_study": ex(3, 2, [0.9], 2, ω=ω, steps=2, batch_size=4, lr=0.01,
                             seed=0),
    "relu.basins.exact_basin_study": ex(3, [0.9], 2, ω=ω, steps=2, lr=0.1, seed=0,
                                   hessian="differences"),
    "present.plots.plot_basin_probabilities": ex(_study(), x=np.array([0.9]), min_share=0.02),
    # relu.loss, relu.integrals, relu.minimize, tied.skeleta
    "relu.loss.model_output": ex(W, b, np.array([[0.5, 0.0, 0.2]])),
    "relu.loss.pointwise_loss": ex(W, b, ω, np.array([[0.5, 0.0, 0.2]])),
    "relu.loss.monte_carlo_loss": ex(W, b, ω, S, 100, rng=0),
    "tied.skeleta.active_count_pmf": ex(S, 3),
    "tied.skeleta.higher_skeleta_mass": ex(S, 3),
    "tied.skeleta.subset_probabilities": ex(S, 3),
    "relu.integrals.relu_sq_integral": ex(0.5, 0.1),
    "relu.integrals.recon_sq_integral": ex(0.5, 0.1),
    "relu.integrals.one_sparse_terms": ex(W, b, ω),
    "relu.integrals.loss_L0": ex(W, b, ω),
    "relu.integrals.loss_L1": ex(W, b, ω, S),
    "relu.integrals.loss_L2": ex(W, b, ω, S),
    "tied.skeleta.sample_given_active_count": ex(5, np.array([0.5, 0.6, 0.7]), 2, rng=0),
    "relu.loss.skeleton_decomposition": ex(W, b, ω, S, 50, rng=0),
    "relu.integrals.restricted_loss": ex(W, b, ω, S, 1),
    "relu.loss.one_sparse_error": ex(W, b, ω, S, 50, rng=0),
    "relu.minimize.minimize_restricted_loss": ex(2, 3, ω, S, l_max=1, n_restarts=1, steps=2, lr=0.01,
                                             seed=0),
    "relu.minimize.two_in_one_candidates": ex(0.5, S, steps=2, lr=0.02),
    # learning coefficients (chapter 5)
    "lc.learning_coefficient.rrr_learning_coefficient": ex(4, 4, 2, 1),
    "lc.learning_coefficient.localised_quadratic_expectation": ex(np.array([1.0, 2.0, 0.0]), 100.0,
                                                               1.0),
    "lc.learning_coefficient.hessian_llc": ex(np.diag([1.0, 2.0, 0.0]), np.eye(3)[:, 2:]),
    "lc.learning_coefficient.free_energy": ex(0.1, 2.0, 100.0),
    "lc.learning_coefficient.crossover_sample_size": ex(0.3, 2.0, 0.25, 5.0),
    "lc.llc.default_beta": ex(100),
    "lc.llc.sgld_llc": ex(_llc_quadratic, np.zeros(2), None, n=100, ε=1e-3, γ=1.0, chains=2,
                       steps=4, burn_in=1, batch_size=1, warn=False),
    "lc.llc.pool_estimates": ex(_llc_estimates()),
    "lc.llc_models.linear_regression": ex(2, 10),
    "lc.llc_models.reduced_rank_regression": ex(2, 2, 1, 1),
    "lc.llc_models.linear_autoencoder": ex(3, 1, 20),
    "lc.llc_models.relu_one_sparse": ex(W, b, 10),
    "lc.llc_models.exact_hessian": ex(_llc_problem()),
    "lc.llc_models.relu_flat_directions": ex(W, b),
    "lc.llc_models.stack_problems": ex([_llc_problem(), _llc_problem()]),
    "lc.posterior.relu_posterior_draws": ex(3, 100, chains=2, steps=2, record_every=1),
    "present.playgrounds.kgon_llc_playground": ex(5, 1, steps=100, chains=2),
    # resources
    "train.resources.estimate_memory": ex(CFG, "cpu"),
    "train.resources.available_memory": ex("cpu"),
    "train.resources.available_cpus": ex("/sys/fs/cgroup"),
    # results
    "train.results.config_differences": ex(CFG, _cfg(steps=5)),
    "train.results.check_checkpoint_path": ex("no-such-file-here.npz", CFG),
    # kgon_blocks
    "relu.kgon_blocks.block_loss": ex(5, 1.1, -0.2),
    "relu.kgon_blocks.kgon_block_roots": ex(5),
    # kgons
    "relu.kgons.kgon_weights": ex(5, 3, 1.2),
    "relu.kgons.one_sparse_loss": ex(W, b, ω),
    "relu.kgons.dropped_bias": ex(5, S),
    "relu.kgons.kgon_critical_point": ex(6, 5, n_dead=1, dead_bias=-1.0, ω=np.ones(6)),
    "relu.kgons.kgon_critical_points": ex(4, 4, S=S, start=(1.0, 0.0)),
    "relu.kgons.kgon_family": ex(5, [2, 5]),
    # landscape
    "relu.landscape.flatten": ex(W, b),
    "relu.landscape.unflatten": ex(np.arange(9.0), 2, 3),
    "relu.landscape.loss_gradient": ex(W, b, S=S, ω=ω, l_max=2),
    "relu.landscape.loss_hessian": ex(W, b, S=S, ω=ω, l_max=1),
    "relu.landscape.kinks": ex(W, b, 1e-9),
    "relu.landscape.symmetry_directions": ex(W, b),
    "relu.landscape.second_order_test": ex(W, b, eps=1e-4, n_random=1, seed=0),
    "relu.landscape.analyse_critical_point": ex(W_SMOOTH, B_SMOOTH, null_tol=1e-9),
    # polytopes
    "relu.polytopes.polytope_directions": ex("square antiprism", [0.4]),
    "relu.polytopes.polytope_critical_point": ex("digon", S),
    "relu.polytopes.dropped_feature_loss": ex(S),
    "relu.polytopes.full_loss_minimum": ex("dedicated", S, T=200, rng=0),
    "relu.polytopes.saving_per_dimension": ex("dedicated", S, T=200, rng=0),
    # thomson
    "relu.thomson.coulomb_energy": ex(X2, 1.0),
    "relu.thomson.energy_gradient": ex(X2, 1.0),
    "relu.thomson.solve_thomson": ex(3, 3, s=1.0, restarts=1, seed=0, tol=1e-6),
    "relu.thomson.random_sphere_points": ex(3, 3, rng=0),
    # train
    "train.engine.train": ex(CFG, checkpoint_every=1, workers=1),
    "train.plan.plan_run": ex(CFG, workers=1, prefetch=False),
    "train.reference.train_reference": ex(CFG),
    "train.reference.torch_optimizer": ex(CFG, [torch.zeros(2, requires_grad=True)]),
}
