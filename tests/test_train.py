"""The batched trainer: contract, reproducibility, persistence, bad input, and that it learns."""

import math
import os

import numpy as np
import pytest
import torch

from toymodels.train import engine as tr
from toymodels.train import optim
from toymodels.train.batches import BlockBatches, CpuBatches
from toymodels.train.engine import DivergenceError, TrainConfig, TrainResult, train

SMALL = dict(D=5, d=2, n=3, batch_size=64, steps=40, log_every=10,
             progress=False)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**SMALL, **kw})


# --- the contract --------------------------------------------------------------------------


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


def test_final_loss_averages_the_last_tenth_of_training():
    r = train(cfg(steps=100, log_every=5))
    assert np.allclose(r.final_loss, r.loss_history[r.log_steps >= 90].mean(0))


# --- it learns ------------------------------------------------------------------------------


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


# --- reproducibility and resumption -----------------------------------------------------------


def test_same_seed_same_result_and_prefetch_does_not_matter():
    a, b = train(cfg(seed=5)), train(cfg(seed=5), prefetch=False)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    c = train(cfg(seed=6))
    assert not np.array_equal(a.params["W"], c.params["W"])


@pytest.mark.parametrize("kw", [dict(D=7, batch_size=33, n=5),  # odd D T
                                dict(D=5, batch_size=64, n=4)])
def test_batches_drawn_by_the_workers_are_the_batches_of_the_data_thread(kw):
    """With several workers and prefetching, each worker draws its instances of the batch
    (PCG64.advance into the chunk's stream): exactly the numbers of the data thread, whatever
    the chunk length, the block edges, the parity of the offsets and the first step."""
    c = cfg(S=np.linspace(0, 0.95, kw["n"])[:, None], **kw)
    for K, start in [(1, 0), (3, 0), (3, 4)]:
        b = BlockBatches(c, start, K)
        ref = CpuBatches(c, start, K, threaded=False)
        for _ in range(start, c.steps):
            x = b.next()
            for a, e in [(3, c.n), (0, 1), (1, 3)]:
                b.draw(a, e)
            np.testing.assert_array_equal(x.numpy(), ref.next().numpy())
    # the trainer: same result with the workers drawing and with no prefetching at all
    runs = [train(c, workers=2, prefetch=True), train(c, workers=2, prefetch=False)]
    for k in runs[0].params:
        np.testing.assert_array_equal(runs[0].params[k], runs[1].params[k])
    np.testing.assert_array_equal(runs[0].loss_history, runs[1].loss_history)


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


# --- persistence ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["relu", "linear"])
def test_save_load_round_trip(tmp_path, model):
    r = train(cfg(model=model, ω=np.linspace(1, 2, 5), S=[[0.1], [0.5], [0.9]]))
    r.save(tmp_path / "r.npz")
    back = TrainResult.load(tmp_path / "r.npz")
    assert back.config == r.config
    np.testing.assert_array_equal(back.config.S_vector, r.config.S_vector)
    for k in r.params:
        np.testing.assert_array_equal(back.params[k], r.params[k])
    np.testing.assert_array_equal(back.loss_history, r.loss_history)
    np.testing.assert_array_equal(back.log_steps, r.log_steps)
    np.testing.assert_array_equal(back.final_loss, r.final_loss)
    assert back.steps_done == r.steps_done
    assert sorted(os.listdir(tmp_path)) == ["r.npz"]


def test_interrupted_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "r.npz"
    old = train(cfg(seed=1))
    old.save(path)
    new = train(cfg(seed=2))

    def crash(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt("simulated interruption")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["r.npz"]  # no temporary file left behind
    np.testing.assert_array_equal(TrainResult.load(path).W, old.W)


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, meta=np.array([{"a": 1}], dtype=object), loss_history=np.zeros((1, 1)),
             log_steps=np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match="allow_pickle=False"):
        TrainResult.load(path)
    np.savez(path, x=np.zeros(2))
    with pytest.raises(ValueError, match=r"evil\.npz: unknown entries \['x'\]"):
        TrainResult.load(path)


# --- divergence and memory --------------------------------------------------------------------


def test_divergence_names_step_and_instance():
    ω = np.ones((3, 5))
    ω[1] = 1e36  # instance 1 alone blows up: finite at step 0, inf at step 1
    with pytest.raises(DivergenceError, match=r"diverged at step 1: the loss of instance 1 is"
                       r" (inf|nan)") as err:
        train(cfg(model="tied", ω=ω, optimizer="sgd", lr=0.01, S=0.0))
    assert err.value.step == 1 and err.value.instances == [1]
    with pytest.raises(DivergenceError) as err:  # the same with the workers drawing the data
        train(cfg(model="tied", ω=ω, optimizer="sgd", lr=0.01, S=0.5),
              workers=2, prefetch=True)
    assert err.value.step == 1 and err.value.instances == [1]


def test_divergence_found_without_synchronising(monkeypatch):
    """The accelerator path (a ring of per-step gradient sums reduced on the device and read back
    asynchronously), exercised on the CPU: it names the same step and instance."""
    monkeypatch.setenv("TOYMODELS_ACCELERATOR_PATH", "1")
    ω = np.ones((3, 5))
    ω[2] = 1e36
    with pytest.raises(DivergenceError, match=r"diverged at step 1: the loss gradient of "
                       r"instance 2 is not finite") as err:
        train(cfg(model="tied", ω=ω, optimizer="sgd", lr=0.01, S=0.0))
    assert err.value.step == 1 and err.value.instances == [2]
    r = train(cfg(steps=57, log_every=7))  # a healthy run passes every (partial) check
    assert np.all(np.isfinite(r.final_loss))


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


def test_a_config_that_does_not_fit_is_refused_with_the_estimate():
    big = cfg(n=100_000, batch_size=100_000, D=10_000)
    need = tr.estimate_memory(big)
    assert need > 4e14
    msg = r"needs about 1.78 PiB on cpu but only [\d.]+ [GMT]iB is available"
    with pytest.raises(ValueError, match=msg):
        train(big)


def test_memory_estimate_is_close_to_what_is_allocated():
    c = cfg(n=20, D=200, d=20, batch_size=1024)
    need = tr.estimate_memory(c)
    per_step = 20 * 1024 * 200 * 4
    assert 3 * per_step < need < 20 * per_step


# --- optimisers and schedules -----------------------------------------------------------------


@pytest.mark.parametrize("kind,kw", [("adam", {}), ("adam", {"weight_decay": 0.1}),
                                     ("adamw", {"weight_decay": 0.1}), ("sgd", {}),
                                     ("sgd", {"momentum": 0.9, "weight_decay": 0.01})])
def test_fused_optimizers_match_torch_optim(kind, kw):
    g0 = torch.Generator().manual_seed(0)
    θ0 = torch.randn(50, generator=g0, dtype=torch.float64)
    target = torch.randn(50, generator=g0, dtype=torch.float64)
    p = torch.nn.Parameter(θ0.clone())
    ref = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[kind](
        [p], lr=0.01, **kw)
    θ = θ0.clone()
    fused = optim.FlatOptimizer(kind, θ, **kw)
    for _ in range(30):
        ref.zero_grad()
        ((p - target) ** 4).sum().backward()
        ref.step()
        fused.step(4 * (θ - target) ** 3, 0.01)
    torch.testing.assert_close(θ, p.detach(), rtol=1e-10, atol=1e-12)


def test_schedules():
    c = cfg(steps=1000, schedule="cosine", lr=0.1)
    assert c.learning_rate(0) == 0.1 and c.learning_rate(500) == pytest.approx(0.05)
    assert c.learning_rate(999) < 1e-5
    w = cfg(steps=1000, schedule="linear_warmup_cosine", lr=0.1, warmup_steps=100)
    assert w.learning_rate(0) == pytest.approx(0.001) and w.learning_rate(99) == 0.1
    assert w.learning_rate(550) == pytest.approx(0.05)
    for name in ["constant", "cosine", "linear_warmup_cosine"]:
        for opt in ["adam", "adamw", "sgd"]:
            r = train(cfg(schedule=name, optimizer=opt, steps=12, weight_decay=0.01))
            assert np.all(np.isfinite(r.final_loss))


def test_float64_training_agrees_with_float32():
    a, b = train(cfg(dtype="float64")), train(cfg())
    np.testing.assert_allclose(a.W, b.W, rtol=1e-4, atol=1e-5)


def test_sweep_helper_and_shapes_of_sparsity():
    s = TrainConfig.sweep([0.0, 0.5, 0.9], D=4, progress=False)
    assert s.n == 3 and s.S_vector.shape == (3, 4)
    assert np.all(s.S_vector[2] == 0.9)
    one = TrainConfig(n=1, D=3, S=[0.1, 0.2, 0.3])
    np.testing.assert_array_equal(one.S_vector, [[0.1, 0.2, 0.3]])
    both = TrainConfig(n=2, D=3, ω=[1, 2, 3])
    np.testing.assert_array_equal(both.ω_vector, [[1, 2, 3], [1, 2, 3]])


# --- progress bar -------------------------------------------------------------------------------


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


# --- bad input ----------------------------------------------------------------------------------

BAD = [
    (dict(model="sigmoid"), ValueError, r"model must be one of \['linear', 'tied', 'relu'\]"),
    (dict(D=0), ValueError, "D must be >= 1, got 0"),
    (dict(d=2.5), TypeError, "d must be an integer"),
    (dict(n=-1), ValueError, "n must be >= 1"),
    (dict(batch_size=True), TypeError, "batch_size must be an integer"),
    (dict(steps=0), ValueError, "steps must be >= 1"),
    (dict(log_every=0), ValueError, "log_every must be >= 1"),
    (dict(seed=-3), ValueError, "seed must be >= 0"),
    (dict(S=1.5), ValueError, "S \\(sparsity\\) must lie in \\[0, 1\\], got an entry 1.5"),
    (dict(S=[0.1, 0.2, 0.3]), ValueError,
     r"S \(sparsity\) has shape \(3,\); .*pass an array of shape \(n, 1\)"),
    (dict(S=np.zeros((3, 4))), ValueError, r"S \(sparsity\) has shape \(3, 4\); allowed"),
    (dict(S="dense"), TypeError, "S \\(sparsity\\) must be a number or an array of numbers"),
    (dict(ω=-1.0), ValueError, "ω \\(importance\\) must be >= 0, got an entry -1"),
    (dict(ω=[1.0, math.inf, 1, 1, 1]), ValueError, "ω \\(importance\\) must be finite"),
    (dict(ω=np.ones(4)), ValueError, r"ω \(importance\) has shape \(4,\); allowed"),
    (dict(lr=0.0), ValueError, "lr must be positive \\(> 0\\), got 0"),
    (dict(lr=math.nan), ValueError, "lr must be finite"),
    (dict(lr="fast"), TypeError, "lr must be a real number"),
    (dict(optimizer="rmsprop"), ValueError, r"optimizer must be one of \['adam', 'adamw', 'sgd'\]"),
    (dict(weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
    (dict(schedule="step"), ValueError, "schedule must be one of \\['constant', 'cosine'"),
    (dict(init_scale=0.0), ValueError, "init_scale must be positive \\(> 0\\)"),
    (dict(device=0), TypeError, "device must be None, a string or a torch.device, got int"),
    (dict(progress="yes"), TypeError, "progress must be None or a bool"),
    (dict(betas=(0.9,)), ValueError, r"betas must be a pair"),
    (dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be < 1"),
    (dict(eps=0), ValueError, "eps must be positive \\(> 0\\)"),
    (dict(momentum=1.0), ValueError, "momentum must be < 1"),
    (dict(warmup_steps=100), ValueError, "warmup_steps must be <= 40"),
    (dict(dtype="float16"), ValueError, r"dtype must be one of \['float32', 'float64'\]"),
]


@pytest.mark.parametrize("kw,exc,msg", BAD, ids=[next(iter(b[0])) + str(i) for i, b in
                                                 enumerate(BAD)])
def test_bad_input_is_refused_with_a_message(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        cfg(**kw)


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


@pytest.mark.parametrize("bad, exc, msg", [
    (np.array([1.0, 1j, 1.0, 1.0, 1.0]), TypeError, r"ω \(importance\) .*complex"),
    (np.array([True, False, True, True, True]), TypeError, r"ω \(importance\) .*bool"),
    (np.array(["1", "1", "1", "1", "1"]), TypeError, r"ω \(importance\) .*strings"),
    ("1", TypeError, r"ω \(importance\) .*string"),
    (torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0]) + 0j, TypeError, r"ω \(importance\) .*complex"),
])
def test_importance_of_the_wrong_kind_is_refused(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        cfg(ω=bad)


def test_importance_in_any_real_dtype_is_accepted():
    ω = np.array([1.0, 0.5, 0.25, 2.0, 1.0])
    for v in (ω.tolist(), ω.astype(np.float16), torch.as_tensor(ω).to(torch.bfloat16),
              torch.as_tensor(ω, dtype=torch.float32)):
        np.testing.assert_array_equal(cfg(ω=v).ω, ω)


def test_learning_rate_checks_its_arguments_by_name():
    assert optim.learning_rate("cosine", 0.1, 10, 10) == pytest.approx(0.0, abs=1e-12)
    for args, msg in [(("cosine", 0.1, -1, 10), "step must be >= 0"),
                      (("cosine", 0.1, 11, 10), "step must be <= 10"),
                      (("cosine", 0.1, True, 10), "step must be an integer"),
                      (("cosine", float("nan"), 1, 10), "lr must be finite"),
                      (("cosine", 0.1, 1, 0), "steps must be >= 1"),
                      (("linear_warmup_cosine", 0.1, 1, 10, 1.5), "warmup_steps must be an int"),
                      (("warm", 0.1, 1, 10), "schedule must be one of")]:
        with pytest.raises((TypeError, ValueError), match=msg):
            optim.learning_rate(*args)
    with pytest.raises(ValueError, match="step must be <= 40"):
        cfg().learning_rate(41)


def test_no_superposition_config_warns():
    from toymodels.train.engine import NoSuperpositionWarning

    with pytest.warns(NoSuperpositionWarning, match="d = 3 >= D = 3"):
        TrainConfig(model="relu", D=3, d=3, n=1, steps=1)
