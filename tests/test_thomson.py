import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toymodels import thomson as th


def _polyhedra():
    φ = (1 + 5**0.5) / 2
    tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], float)
    octa = np.vstack([np.eye(3), -np.eye(3)])
    ico = []
    for s1 in (1, -1):
        for s2 in (1, -1):
            ico += [[0, s1, s2 * φ], [s1, s2 * φ, 0], [s2 * φ, 0, s1]]
    ico = np.array(ico, float)
    norm = lambda X: X / np.linalg.norm(X, axis=1, keepdims=True)  # noqa: E731
    return {2: np.array([[0, 0, 1.0], [0, 0, -1.0]]), 4: norm(tet), 6: octa, 12: norm(ico)}


@pytest.mark.parametrize("N", [2, 4, 6, 12])
def test_energy_of_the_platonic_configurations_is_the_published_minimum(N):
    # the published minima (Wales & Ulker 2006) for these N are the regular polyhedra
    assert th.coulomb_energy(_polyhedra()[N]) == pytest.approx(th.PUBLISHED_ENERGIES[N], abs=1e-8)


def test_solver_reaches_the_published_minimal_energies_for_N_2_to_12():
    for N, E in th.PUBLISHED_ENERGIES.items():
        sol = th.solve_thomson(N, 3, restarts=2, seed=1)
        assert sol.energy == pytest.approx(E, abs=5e-9)
        np.testing.assert_allclose(np.linalg.norm(sol.X, axis=1), 1.0, atol=1e-12)
        assert sol.hits >= 1 and sol.restart_energies[0] == pytest.approx(sol.energy)


@pytest.mark.parametrize("N", [3, 5, 7])
def test_on_the_circle_the_minimiser_is_the_regular_polygon(N):
    θ = 2 * np.pi * np.arange(N) / N
    regular = th.coulomb_energy(np.c_[np.cos(θ), np.sin(θ)])
    assert th.solve_thomson(N, 2, restarts=4).energy == pytest.approx(regular, rel=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), N=st.integers(2, 8), m=st.integers(2, 4),
       s=st.sampled_from([1.0, 2.0]))
def test_gradient_matches_finite_differences(seed, N, m, s):
    X = th.random_sphere_points(N, m, rng=seed)
    G = th.energy_gradient(X, s)
    h = 1e-6
    k = np.random.default_rng(seed).integers(N * m)
    E = np.zeros(N * m)
    E[k] = h
    E = E.reshape(N, m)
    fd = (th.coulomb_energy(X + E, s) - th.coulomb_energy(X - E, s)) / (2 * h)
    assert G.ravel()[k] == pytest.approx(fd, rel=1e-5, abs=1e-5)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_energy_is_invariant_under_rotations_and_relabelling(seed):
    rng = np.random.default_rng(seed)
    X = th.random_sphere_points(7, 3, rng=rng)
    Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    assert th.coulomb_energy(X @ Q.T) == pytest.approx(th.coulomb_energy(X), rel=1e-12)
    E = th.coulomb_energy(X)
    assert th.coulomb_energy(X[rng.permutation(7)]) == pytest.approx(E, rel=1e-12)


def test_solver_is_deterministic_for_a_seed():
    a, b = th.solve_thomson(7, seed=3, restarts=3), th.solve_thomson(7, seed=3, restarts=3)
    np.testing.assert_array_equal(a.X, b.X)


@pytest.mark.parametrize("kwargs", [dict(N=1), dict(N=4, m=1), dict(N=4, s=0.0),
                                    dict(N=4, restarts=0)])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        th.solve_thomson(**kwargs)


def test_coincident_points_have_infinite_energy_and_nan_is_refused():
    assert th.coulomb_energy(np.array([[1.0, 0, 0], [1.0, 0, 0]])) == np.inf
    with pytest.raises(ValueError, match="NaN"):
        th.coulomb_energy(np.array([[np.nan, 0, 0], [1.0, 0, 0]]))
