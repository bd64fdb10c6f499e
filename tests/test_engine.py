"""The fused engine (toymodels.train.engine.train): the result's contract, that it learns,
reproducibility, resuming and checkpoints, the accelerator path, progress and bad arguments."""

import numpy as np
import pytest
import torch

from toymodels.train import engine as tr
from toymodels.train.engine import TrainConfig, TrainResult, train

SMALL = dict(D=5, d=2, n=3, batch_size=64, steps=40, log_every=10,
             progress=False)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**SMALL, **kw})


@pytest.mark.parametrize("model", ["relu", "tied", "linear"])
def test_result_has_the_contract_shapes(model):
    r = train(cfg(model=model))
    n, d, D = 3, 2, 5
    assert r.loss_history.shape == (5, n) and list(r.log_steps) == [0, 10, 20, 30, 39]
    assert r.final_loss.shape == (n,) and np.all(np.isfinite(r.final_loss))
    if model == "linear":
        assert r.A.shape == (n, D, d) and r.B.shape == (n, d, D) and r.W is None
    else:
        assert r.W.shape == (n, d, D) and r.A is None
    assert (r.b.shape == (n, D)) if model == "relu" else r.b is None
    assert all(v.dtype == np.float64 for v in r.params.values())
    tp = r.torch_params()
    assert all(isinstance(v, torch.Tensor) for v in tp.values())


def test_logged_loss_is_the_loss_of_the_logged_batch():
    """Step 0 is logged before any update: it is the loss of the initial parameters, whose
    expectation the test computes by Monte Carlo on its own data."""
    c = cfg(model="tied", steps=1, n=2, batch_size=4096, S=0.5)
    r = train(c)
    init = c.initial_params()["W"].numpy()
    rng = np.random.default_rng(0)
    x = rng.random((200_000, 5)) * (rng.random((200_000, 5)) < 0.5)
    for k in range(2):
        W = init[k]
        mc = ((x - x @ W.T @ W) ** 2).sum(1).mean()
        assert abs(r.loss_history[0, k] - mc) < 0.1 * mc


def test_intro_config_learns_beyond_the_trivial_solution():
    """The Toy Models intro config (5 features, 2 hidden, importance 0.9^i). With W = 0, b = 0 the
    loss is E Σ ω x²; two hidden dimensions can carry at least the two most important features,
    so the trained loss must fall well below it (≤ 0.54 of it without superposition)."""
    n = 4
    S = np.array([0.0, 0.5, 0.8, 0.95])[:, None]
    ω = 0.9 ** np.arange(5)
    c = TrainConfig(model="relu", D=5, d=2, n=n, S=S,
                    ω=ω, batch_size=512, steps=2500, lr=1e-2, log_every=100,
                    progress=False)
    r = train(c)
    rng = np.random.default_rng(1)
    x = rng.random((n, 100_000, 5)) * (rng.random((n, 100_000, 5)) >= S[:, :, None])
    trivial = (ω * x**2).sum(-1).mean(-1)
    W, b = r.W, r.b
    out = np.maximum(np.einsum("ntD,ndD,ndE->ntE", x, W, W) + b[:, None, :], 0)
    learned = (ω * (x - out) ** 2).sum(-1).mean(-1)
    assert np.all(learned < 0.6 * trivial)
    assert np.all(r.loss_history[0] > r.final_loss)
    np.testing.assert_allclose(r.evaluate(50_000), learned, rtol=0.1)


def test_same_seed_same_result_and_prefetch_does_not_matter():
    a, b = train(cfg(seed=5)), train(cfg(seed=5), prefetch=False)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    c = train(cfg(seed=6))
    assert not np.array_equal(a.params["W"], c.params["W"])


def test_resume_with_workers_drawing_the_data(tmp_path):
    c = cfg(steps=150, log_every=20, n=4)
    full = train(c, workers=2, prefetch=True)
    half = train(c.replace(steps=71), workers=2, prefetch=True)
    rest = train(c, resume=half, workers=2, prefetch=True)
    np.testing.assert_allclose(rest.W, full.W, rtol=1e-5, atol=1e-7)
    same = np.isin(rest.log_steps, full.log_steps)
    np.testing.assert_allclose(rest.loss_history[same], full.loss_history, rtol=1e-6)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    full = train(cfg(steps=150, log_every=20))
    half = train(cfg(steps=70, log_every=20))
    half.save(tmp_path / "half.npz")
    rest = train(cfg(steps=150, log_every=20), resume=tmp_path / "half.npz")
    assert rest.steps_done == 150
    # the resumed history keeps the interrupted run's own last log (step 69)
    assert list(rest.log_steps) == [0, 20, 40, 60, 69, 80, 100, 120, 140, 149]
    same = np.isin(rest.log_steps, full.log_steps)
    np.testing.assert_allclose(rest.loss_history[same], full.loss_history, rtol=1e-6)
    np.testing.assert_allclose(rest.W, full.W, rtol=1e-5, atol=1e-7)


def test_resume_refuses_a_different_config():
    half = train(cfg(steps=10))
    with pytest.raises(ValueError, match=r"cannot resume: the config differs in \['lr'\]"):
        train(cfg(steps=20, lr=0.1), resume=half)
    with pytest.raises(ValueError, match="more than steps=5"):
        train(cfg(steps=5), resume=half)
    with pytest.raises(ValueError, match="carries no optimizer state"):
        train(cfg(steps=20), resume=train(cfg(steps=10), engine="reference"))


def test_checkpoint_is_written_and_loads(tmp_path):
    path = tmp_path / "ck.npz"
    r = train(cfg(steps=30), checkpoint=path, checkpoint_every=10)
    back = TrainResult.load(path)
    assert back.steps_done == 30
    np.testing.assert_array_equal(back.W, r.W)


def test_accelerator_path_learns_resumes_and_reproduces(monkeypatch, tmp_path):
    """The code path used on a GPU (batches drawn by torch on the device, no synchronisation in
    the step loop), run on the CPU: same loss as the CPU path within noise, exact resumption."""
    c = cfg(steps=300, log_every=30, batch_size=256, lr=1e-2)
    ref = train(c)
    monkeypatch.setenv("TOYMODELS_ACCELERATOR_PATH", "1")
    a, b = train(c), train(c)
    np.testing.assert_array_equal(a.W, b.W)
    assert np.all(a.loss_history[0] > a.final_loss)
    np.testing.assert_allclose(a.final_loss, ref.final_loss, rtol=0.15)
    half = train(c.replace(steps=100))
    rest = train(c, resume=half)
    np.testing.assert_allclose(rest.W, a.W, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("model,opt,kw", [("relu", "adam", {}),
                                          ("tied", "adamw", {"weight_decay": 0.1}),
                                          ("linear", "sgd", {"momentum": 0.5}),
                                          ("relu", "adam", {"schedule": "cosine"})])
def test_fused_engine_equals_autograd_and_torch_optim(model, opt, kw):
    """Same batches, same initialisation: hand-derived gradients + the fused optimiser follow
    autograd + torch.optim step for step (float64)."""
    c = cfg(model=model, optimizer=opt, dtype="float64", steps=150, lr=0.01,
            ω=np.linspace(0.5, 1.5, 5), S=[[0.0], [0.5], [0.9]], **kw)
    fused, ref = train(c), train(c, engine="reference")
    for k in fused.params:
        np.testing.assert_allclose(fused.params[k], ref.params[k], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fused.loss_history, ref.loss_history, rtol=1e-7)


def test_float64_training_agrees_with_float32():
    a, b = train(cfg(dtype="float64")), train(cfg())
    np.testing.assert_allclose(a.W, b.W, rtol=1e-4, atol=1e-5)


def test_progress_bar_only_when_asked(capsys, monkeypatch):
    train(cfg(progress=False))
    assert capsys.readouterr().err == ""
    train(cfg(progress=True, steps=300))
    assert "training 3 relu models" in capsys.readouterr().err
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("TOYMODELS_PROGRESS", raising=False)
    assert tr._show_progress(None) is False
    monkeypatch.setenv("TOYMODELS_PROGRESS", "1")
    assert tr._show_progress(None) is True


def test_bad_arguments_of_train():
    with pytest.raises(TypeError, match="config must be a TrainConfig, got dict"):
        train(SMALL)
    with pytest.raises(ValueError, match="checkpoint_every must be >= 1"):
        train(cfg(), checkpoint_every=0)
    with pytest.raises(ValueError, match="no CUDA GPU is present|cuda:7.*does not exist"):
        train(cfg(device="cuda:7"))
    with pytest.raises(ValueError, match="engine must be 'fused' or 'reference', got 'jit'"):
        train(cfg(), engine="jit")
    with pytest.raises(ValueError, match="engine='reference' supports neither resume"):
        train(cfg(), engine="reference", checkpoint="x.npz")
    with pytest.raises(ValueError, match=r"sparsities must be a non-empty 1-d sequence"):
        TrainConfig.sweep([[0.1]])


def test_a_bad_TOYMODELS_ENGINE_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("TOYMODELS_ENGINE", "jit")
    with pytest.raises(ValueError, match="environment variable TOYMODELS_ENGINE must be 'fused' "
                                         "or 'reference'.*got 'jit'"):
        train(cfg(steps=2))
    monkeypatch.setenv("TOYMODELS_ENGINE", "reference")
    assert train(cfg(steps=2)).optimizer_state == {}  # the reference engine keeps no state
    with pytest.raises(ValueError, match="engine must be 'fused' or 'reference', got 3"):
        train(cfg(steps=2), engine=3)
