"""Checks of plumbing that the chapters used to show in plain view.

The chapters state these behaviours in prose (Chapter 3: "every function used above refuses bad
input with an error that names the argument, a diverging run stops at the first non-finite loss
and names the step and the instances, and asking for as many hidden dimensions as features gives
a warning"); the checks live here so the pages read as mathematics.
"""

import numpy as np
import pytest

from toymodels.present import playgrounds
from toymodels.relu import integrals as rl
from toymodels.train.engine import DivergenceError, NoSuperpositionWarning, TrainConfig, train

W_DEMO = np.random.default_rng(0).normal(size=(2, 5))
B_DEMO = 0.3 * np.random.default_rng(1).normal(size=5)
Ω_DEMO = 0.9 ** np.arange(5)


def test_chapter_3_losses_refuse_a_sparsity_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"S \(sparsity\) must lie in \[0, 1\], got an entry 1.2"):
        rl.loss_L1(W_DEMO, B_DEMO, Ω_DEMO, 1.2)


def test_chapter_3_losses_refuse_importances_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"ω \(importance\) must be a scalar or have shape"):
        rl.loss_L1(W_DEMO, B_DEMO, np.ones(3), 0.9)


def test_chapter_3_trainer_refuses_importances_for_the_wrong_number_of_instances():
    with pytest.raises(ValueError, match=r"ω \(importance\) has shape \(3, 5\); allowed"):
        TrainConfig(D=5, n=2, ω=np.ones((3, 5)))


def test_chapter_3_a_diverging_run_names_the_step_and_the_instances():
    with pytest.raises(DivergenceError, match=r"training diverged at step \d+") as err:
        train(TrainConfig(D=5, d=2, n=3, S=0.5,
                          optimizer="sgd", lr=1e6, steps=50, progress=False))
    assert err.value.instances and err.value.step >= 0


def test_chapter_3_playground_warns_when_there_is_no_superposition():
    with pytest.warns(NoSuperpositionWarning, match="no superposition to see"):
        playgrounds.relu_playground(D=3, d=3, steps=20, n=1)
    import matplotlib.pyplot as plt
    plt.close("all")
