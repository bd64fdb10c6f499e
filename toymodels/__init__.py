"""toymodels: the numerics behind the executable book on toy autoencoders.

The chapters import this package once, ``import toymodels as tm``, and call ``tm.<name>``.
The namespace is curated: the names below are grouped as the notation page groups the
mathematics (Section 1 of the notes, Section 2, Section 3, Chapters 4 and 5, then the training
engine and the presentation), and every name is unique. Each name lives in a submodule named
after its piece of mathematics (``tm.loss_L1`` is :func:`toymodels.relu.integrals.loss_L1`);
the submodules are imported on first use, so ``import toymodels`` stays cheap.

A few names are exported under a more specific name than their module's, so that the flat
namespace reads unambiguously (``tm.linear_loss`` is ``toymodels.linear.autoencoder.loss``), and
``tm.train`` is the subpackage of the training engine, so its ``train`` is ``tm.train_models``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: section -> {tm name: "module" (same attribute name) or "module:attribute"}
SECTIONS: dict[str, dict[str, str]] = {
    "Set-up and the book": {
        "setup": "environment", "seed_everything": "environment",
        "choose_device": "environment", "widgets_live": "environment",
        "default_device": "environment",
        "BOOK_STYLE": "environment", "glue": "present.book",
    },
    "Section 1: the linear autoencoder x ↦ ABx (Chapter 1)": {
        "second_moment": "linear.autoencoder", "eigh_desc": "linear.autoencoder",
        "linear_loss": "linear.autoencoder:loss", "loss_from_data": "linear.autoencoder",
        "linear_gradient": "linear.autoencoder:gradient",
        "relative_gradient_norm": "linear.autoencoder", "projection": "linear.autoencoder",
        "critical_points": "linear.autoencoder", "critical_levels": "linear.autoencoder",
        "index_set_label": "linear.autoencoder:label", "principal_angles": "linear.autoencoder",
        "random_invertible": "linear.autoencoder", "perturbation": "linear.autoencoder",
        "perturbation_drop": "linear.autoencoder",
        "linear_hessian": "linear.hessian:hessian", "hessian_inertia": "linear.hessian:inertia",
        "predicted_inertia": "linear.hessian", "pair_block": "linear.hessian",
        "find_critical_point": "linear.hessian",
        "LinearRun": "linear.dynamics", "train_linear": "linear.dynamics",
        "default_lr": "linear.dynamics", "escape_time": "linear.dynamics",
        "time_near": "linear.dynamics", "escape_rate": "linear.dynamics",
        "escape_from_saddle": "linear.dynamics",
    },
    "Section 2.1: the sparse data μ (Chapter 2)": {
        "sparse_uniform": "tied.data", "sparse_uniform_torch": "tied.data",
        "exactly_one_active": "tied.data", "nonzero_counts": "tied.data",
        "zero_probability": "tied.moments", "zero_probability_offdiagonal": "tied.moments",
        "feature_mean": "tied.moments:mean", "second_moment_diagonal": "tied.moments",
        "second_moment_offdiagonal": "tied.moments",
        "population_second_moment": "tied.moments", "centred_covariance": "tied.moments",
        "spike_and_bulk": "tied.moments", "population_spectrum": "tied.moments",
        "skeleton_probabilities": "tied.moments", "moment_estimates": "tied.moments:monte_carlo",
        "empirical_spectra": "tied.moments",
        "active_count_pmf": "tied.skeleta", "higher_skeleta_mass": "tied.skeleta",
        "subset_probabilities": "tied.skeleta", "sample_given_active_count": "tied.skeleta",
    },
    "Section 2.2: weight tying and the gradient flows (Chapter 2)": {
        "FLOWS": "tied.flows", "FlowTrajectory": "tied.flows", "tied_loss": "tied.flows",
        "tied_gradient": "tied.flows", "notes_field": "tied.flows", "oja_field": "tied.flows",
        "exact_field": "tied.flows", "eigenbasis_field": "tied.flows",
        "column_field": "tied.flows", "energy_notes": "tied.flows",
        "energy_notes_gradient": "tied.flows", "energy_corrected": "tied.flows",
        "energy_corrected_gradient": "tied.flows", "untied_field": "tied.flows",
        "integrate_tied": "tied.flows",
        "integrate_untied": "tied.flows", "gradient_descent_tied": "tied.flows",
        "fixed_point_residual": "tied.flows", "subspace_angle": "tied.flows",
        "hidden_lyapunov": "tied.flows",
    },
    "Section 3: the ReLU output model x ↦ ReLU(WᵀWx + b) (Chapter 3)": {
        "model_output": "relu.loss", "pointwise_loss": "relu.loss",
        "monte_carlo_loss": "relu.loss", "skeleton_decomposition": "relu.loss",
        "one_sparse_error": "relu.loss",
        "relu_sq_integral": "relu.integrals", "recon_sq_integral": "relu.integrals",
        "one_sparse_terms": "relu.integrals", "loss_L0": "relu.integrals",
        "loss_L1": "relu.integrals", "loss_L2": "relu.integrals",
        "restricted_loss": "relu.integrals",
        "minimize_restricted_loss": "relu.minimize", "two_in_one_candidates": "relu.minimize",
        "gram": "relu.geometry", "feature_norms": "relu.geometry",
        "feature_dimensionality": "relu.geometry", "dimensions_per_feature": "relu.geometry",
        "frame_potential": "relu.geometry", "tight_frame_defect": "relu.geometry",
        "is_equal_norm_tight_frame": "relu.geometry", "pairwise_angles": "relu.geometry",
        "polygon": "relu.geometry", "aligned_distance": "relu.geometry",
        "nearest_fraction": "relu.geometry", "feature_groups": "relu.geometry",
        "TWO_IN_ONE_PHASES": "relu.geometry", "two_in_one_phase": "relu.geometry",
        "coulomb_energy": "relu.thomson", "solve_thomson": "relu.thomson",
        "PUBLISHED_ENERGIES": "relu.thomson",
    },
    "Chapter 4: k-gons, the landscape and basins": {
        "kgon_critical_point": "relu.kgons", "kgon_family": "relu.kgons",
        "kgon_block_roots": "relu.kgon_blocks", "block_loss": "relu.kgon_blocks",
        "dropped_bias": "relu.kgons", "one_sparse_loss": "relu.kgons",
        "RootWarning": "relu.kgon_blocks",
        "loss_hessian": "relu.landscape", "analyse_critical_point": "relu.landscape",
        "polytope_critical_point": "relu.polytopes", "saving_per_dimension": "relu.polytopes",
        "basin_study": "relu.basins", "basin_probabilities": "relu.basins",
        "exact_basin_study": "relu.basins",
        "polygon_label": "relu.basins", "wilson_interval": "relu.basins",
        "exact_loss": "relu.exact_training", "minimize_exact": "relu.exact_training",
        "random_init": "relu.exact_training",
    },
    "Chapter 5: learning coefficients": {
        "sgld_llc": "lc.llc", "default_beta": "lc.llc", "ChainDivergedError": "lc.llc",
        "llc_linear_regression": "lc.llc_models:linear_regression",
        "llc_reduced_rank_regression": "lc.llc_models:reduced_rank_regression",
        "llc_linear_autoencoder": "lc.llc_models:linear_autoencoder",
        "llc_relu_one_sparse": "lc.llc_models:relu_one_sparse",
        "relu_flat_directions": "lc.llc_models", "relu_posterior_draws": "lc.posterior",
        "PosteriorDraws": "lc.posterior", "exact_hessian": "lc.llc_models",
        "LLCProblem": "lc.llc_models", "stack_problems": "lc.llc_models",
        "LLCEstimate": "lc.llc", "LLCWarning": "lc.llc", "pool_estimates": "lc.llc",
        "RRRCoefficient": "lc.learning_coefficient",
        "rrr_learning_coefficient": "lc.learning_coefficient",
        "hessian_llc": "lc.learning_coefficient", "free_energy": "lc.learning_coefficient",
        "crossover_sample_size": "lc.learning_coefficient",
        "localised_quadratic_expectation": "lc.learning_coefficient",
    },
    "The training engine": {
        # ``tm.train`` is the subpackage toymodels.train, so the function is ``train_models``
        "TrainConfig": "train.engine", "train_models": "train.engine:train",
        "train_reference": "train.reference", "TrainResult": "train.results",
        "DivergenceError": "train.divergence", "RunPlan": "train.plan", "plan_run": "train.plan",
    },
    "Presentation: figures and playgrounds": {
        "feature_polygons": "present.plots", "superposition_panel": "present.plots",
        "plot_trajectory": "present.trajectories", "plot_linear_run": "present.trajectories",
        "Playground": "present.playgrounds", "linear_playground": "present.playgrounds",
        "flow_playground": "present.playgrounds", "relu_playground": "present.playgrounds",
        "plot_basin_probabilities": "present.plots", "kgon_llc_playground": "present.playgrounds",
    },
}


def _where() -> dict[str, tuple[str, str]]:
    where: dict[str, tuple[str, str]] = {}
    for names in SECTIONS.values():
        for name, spec in names.items():
            if name in where:
                raise ImportError(f"toymodels exports {name!r} twice")
            module, _, attr = spec.partition(":")
            where[name] = (f"toymodels.{module}", attr or name)
    return where


#: tm name -> (module, attribute): where each exported name lives.
WHERE = _where()

__all__ = ["__version__", *WHERE]


def __getattr__(name: str):
    try:
        module, attr = WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'toymodels' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(WHERE))
