"""Basins of attraction: which configuration a training run ends in, and how often.

A *basin* here is the set of initialisations from which a training procedure ends in a given
class of configuration (a regular pentagon, a square with a dropped feature, ...). Its
probability under the random initialisation is estimated by the fraction ``k/n`` of ``n``
independent runs, reported with a binomial confidence interval:

* Wilson's score interval: the ``p`` with ``|p̂ − p| ≤ z √(p(1 − p)/n)``, i.e.
  ``(p̂ + z²/2n ± z √(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)``                (Chapter 4, eq-wilson)
* the Clopper–Pearson ("exact") interval from Beta quantiles, which never undercovers:
  ``[B(α/2; k, n−k+1), B(1−α/2; k+1, n−k)]``                         (Chapter 4, eq-clopper)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy import stats

from toymodels._checks import check_finite_array, check_float, check_importance, check_int, check_probability
from toymodels.relu.geometry import TWO_IN_ONE_PHASES, feature_groups, polygon, two_in_one_phase

__all__ = ["wilson_interval", "clopper_pearson_interval", "BasinEstimate",
           "basin_probabilities", "polygon_label", "POLYGON_NAMES", "classify", "BasinStudy",
           "basin_study", "exact_basin_study", "MAX_RUNS", "THREE_OF_A_SQUARE"]

#: The most runs one :func:`basin_study` accepts (its cost grows like runs × steps × batch).
MAX_RUNS = 50_000

#: The basin label :func:`classify` gives three features at angles (90°, 90°, 180°): an antipodal
#: pair and a third feature with its own direction (three vertices of a square; Chapter 4).
THREE_OF_A_SQUARE = "three of a square"

#: Names of the regular polygons (``k`` features at equal angles) used as basin labels.
POLYGON_NAMES = {2: "digon", 3: "triangle", 4: "square", 5: "pentagon", 6: "hexagon",
                 7: "heptagon", 8: "octagon"}


def _counts(k, n):
    n = check_int(n, "n", minimum=1)
    k = check_int(k, "k", minimum=0, maximum=n)
    return k, n


def _confidence(confidence):
    return check_float(confidence, "confidence", minimum=0.5, maximum=1.0, max_open=True)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion ``k/n`` (eq-wilson in the module
    docstring); ``confidence`` in ``[0.5, 1)``."""
    k, n = _counts(k, n)
    z = stats.norm.ppf(0.5 + _confidence(confidence) / 2)
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return float(lo), float(hi)


def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Clopper–Pearson interval for ``k/n`` from Beta quantiles (eq-clopper)."""
    k, n = _counts(k, n)
    α = 1 - _confidence(confidence)
    lo = 0.0 if k == 0 else float(stats.beta.ppf(α / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - α / 2, k + 1, n - k))
    return lo, hi


@dataclass(frozen=True)
class BasinEstimate:
    """``count`` of ``n`` runs ended in basin ``label``: the estimate ``p = count/n`` and its
    confidence interval ``[lo, hi]``."""

    label: str
    count: int
    n: int
    lo: float
    hi: float

    @property
    def p(self) -> float:
        return self.count / self.n

    def __str__(self) -> str:
        return f"{self.label}: {self.count}/{self.n} = {self.p:.2f} [{self.lo:.2f}, {self.hi:.2f}]"


def basin_probabilities(labels, *, confidence: float = 0.95,
                        method: str = "wilson") -> dict[str, BasinEstimate]:
    """Count the runs in each basin: ``labels`` is a sequence of strings (one per run).
    Returns ``{label: BasinEstimate}``, most frequent first (ties alphabetically), with
    Wilson (``method="wilson"``) or Clopper–Pearson (``"clopper-pearson"``) intervals."""
    if isinstance(labels, str) or not hasattr(labels, "__len__"):
        raise TypeError(f"labels must be a sequence of strings, one per run, got {labels!r}")
    labels = list(labels)
    if not labels:
        raise ValueError("labels must contain at least one run")
    if not all(isinstance(x, str) for x in labels):
        raise TypeError("labels must be strings (one basin name per run)")
    if method not in ("wilson", "clopper-pearson"):
        raise ValueError(f"method must be 'wilson' or 'clopper-pearson', got {method!r}")
    ci = wilson_interval if method == "wilson" else clopper_pearson_interval
    n = len(labels)
    cnt = sorted(Counter(labels).items(), key=lambda t: (-t[1], t[0]))
    return {lab: BasinEstimate(lab, c, n, *ci(c, n, confidence)) for lab, c in cnt}


def polygon_label(W, norm_threshold: float = 0.5, tol_deg: float = 10.0) -> str:
    """The basin label of a ``(2, D)`` embedding (:func:`toymodels.relu.geometry.polygon`): the
    regular polygon its represented features form (``"pentagon"``, ``"square"``, ...; a
    regular 4-gon is two antipodal pairs), ``"orthogonal pair"`` for two features at a right
    angle, and ``"irregular k"`` otherwise (``"none"`` when fewer than two are represented)."""
    W = check_finite_array(W, "W", ndim=2)
    P = polygon(W, norm_threshold, tol_deg)
    if P.k < 2:
        return "none" if P.k == 0 else "single"
    if P.regular:
        return POLYGON_NAMES.get(P.k, f"regular {P.k}-gon")
    if P.k == 2 and abs(min(P.gaps_deg) - 90) <= tol_deg:
        return "orthogonal pair"
    return f"irregular {P.k}"


def classify(W) -> str:
    """The basin label of one trained embedding ``W (d, D)``: for ``d = 1, D = 2`` the phase of
    the 2-into-1 model (:data:`toymodels.relu.geometry.TWO_IN_ONE_PHASES`), for ``d = 2`` the polygon
    (:func:`polygon_label`; an "irregular 3" that is three vertices of a square, an antipodal pair
    and a feature orthogonal to it, gets the label :data:`THREE_OF_A_SQUARE`), otherwise the feature groups
    (:func:`toymodels.relu.geometry.feature_groups`) written as ``"size/rank"`` terms, e.g. ``"2/1 ×3 + 1/1"``."""
    W = check_finite_array(W, "W", ndim=2)
    d, D = W.shape
    if d == 1 and D == 2:
        return TWO_IN_ONE_PHASES[int(two_in_one_phase(W[0]))]
    if d == 2:
        label = polygon_label(W)
        if label == "irregular 3":
            gaps = np.sort(polygon(W).gaps_deg)
            if np.all(np.abs(gaps - (90.0, 90.0, 180.0)) <= 10.0):
                return THREE_OF_A_SQUARE
        return label
    cnt = Counter(f"{g.size}/{g.rank}" for g in feature_groups(W, overlap=0.3))
    if not cnt:
        return "none"
    return " + ".join(f"{key} ×{c}" if c > 1 else key for key, c in sorted(cnt.items()))


@dataclass(frozen=True)
class BasinStudy:
    """``n`` independent training runs for each of ``m`` settings (a sparsity and importance per
    setting): ``setting (m n,)`` indexes the settings, ``labels`` the basin of every run
    (:func:`classify`), ``loss`` its exact loss on the skeleta ``l ≤ 2`` (Chapter 3), and the
    trained ``W (m n, d, D)``, ``b (m n, D)``; ``loss_history (n_logs, m n)`` the batch losses.
    From :func:`exact_basin_study` also the certificate of every end point: ``grad_norm``
    ``‖∇L‖`` and ``min_eigenvalue``, the smallest eigenvalue of its Hessian."""

    S: np.ndarray
    ω: np.ndarray
    setting: np.ndarray
    labels: np.ndarray
    loss: np.ndarray
    W: np.ndarray
    b: np.ndarray
    loss_history: np.ndarray
    log_steps: np.ndarray
    grad_norm: np.ndarray | None = None
    min_eigenvalue: np.ndarray | None = None

    def table(self, j: int, **kw) -> dict[str, BasinEstimate]:
        """:func:`basin_probabilities` of setting ``j``."""
        j = check_int(j, "j", minimum=0, maximum=len(self.S) - 1)
        return basin_probabilities(list(self.labels[self.setting == j]), **kw)

    def median_loss(self, j: int, label: str) -> float:
        """The median exact loss of the runs of setting ``j`` that ended in basin ``label``."""
        sel = (self.setting == check_int(j, "j", minimum=0)) & (self.labels == label)
        if not sel.any():
            raise ValueError(f"no run of setting {j} ended in basin {label!r}")
        return float(np.median(self.loss[sel]))


def _settings(S, ω, D):
    """``S (m,)`` (one sparsity per setting) and ``ω (m, D)`` from a scalar, ``(D,)`` or ``(m, D)``."""
    S = np.atleast_1d(check_probability(S, "S (sparsity)"))
    if S.ndim != 1:
        raise ValueError(f"S (sparsity) must have one entry per setting, shape (m,), got {S.shape}")
    m = len(S)
    ω = check_importance(ω)
    if ω.ndim < 2 and ω.shape in ((), (D,)):
        ω = np.broadcast_to(ω, (m, D)).copy()
    if ω.shape != (m, D):
        raise ValueError(f"ω (importance) must be a scalar, shape (D,) or (m, D) = ({m}, {D}), "
                         f"got {ω.shape}")
    return S, ω


def basin_study(D: int, d: int, S, n: int, *, ω=1.0,
                steps: int = 1500, batch_size: int = 32, lr: float = 1e-2, seed: int = 0,
                progress: bool | None = False) -> BasinStudy:
    """Train ``n`` independent initialisations for every setting with the batched trainer
    (Adam, cosine schedule; all ``m n`` runs in one :func:`toymodels.train.engine.train` call), classify
    each end point (:func:`classify`) and evaluate its exact loss on ``l ≤ 2``
    (:func:`toymodels.relu.exact_training.exact_loss`, Chapter 3's ``P_0L_0 + P_1L_1 + P_2L_2``).

    ``S`` (sparsity) has one entry per setting (shape ``(m,)``); ``ω`` (importance) is a scalar, ``(D,)``
    or one row per setting ``(m, D)``. Runs beyond :data:`MAX_RUNS` are refused.
    """
    from toymodels.relu.exact_training import exact_loss  # noqa: PLC0415 (keeps the import graph acyclic)
    from toymodels.train.engine import TrainConfig, train  # noqa: PLC0415

    D = check_int(D, "D", minimum=2, maximum=64)
    d = check_int(d, "d", minimum=1, maximum=D)
    n = check_int(n, "n", minimum=1, maximum=MAX_RUNS)
    S, ω = _settings(S, ω, D)
    m = len(S)
    steps = check_int(steps, "steps", minimum=1, maximum=100_000)
    batch_size = check_int(batch_size, "batch_size", minimum=1, maximum=65_536)
    lr = check_float(lr, "lr", positive=True)
    seed = check_int(seed, "seed", minimum=0)
    if m * n > MAX_RUNS:
        raise ValueError(f"{m} settings × {n} runs = {m * n} runs exceeds MAX_RUNS = {MAX_RUNS} "
                         f"(about {m * n * steps * batch_size * D / 2e9:.0f} s of training)")
    setting = np.repeat(np.arange(m), n)
    cfg = TrainConfig(model="relu", D=D, d=d, n=m * n,
                      S=S[setting][:, None], ω=ω[setting], batch_size=batch_size,
                      steps=steps, lr=lr, schedule="cosine", seed=seed, progress=progress,
                      log_every=max(1, steps // 60))
    res = train(cfg)
    labels = np.array([classify(W) for W in res.W])
    loss = exact_loss(res.W, res.b, ω[setting], S[setting][:, None], l_max=2)
    return BasinStudy(S, ω, setting, labels, loss, res.W, res.b, res.loss_history,
                      res.log_steps)


def exact_basin_study(D: int, S, n: int, *, ω=1.0, steps: int = 100, lr: float = 0.1,
                      seed: int = 0, hessian: str = "differences") -> BasinStudy:
    """The basin study of :func:`basin_study` for ``D`` features in ``d = 2`` dimensions on the
    *exact* loss ``P_0L_0 + P_1L_1 + P_2L_2`` (Chapter 3, eq-tail-mass) instead of sampled
    batches: ``n`` seeded starts (:func:`toymodels.relu.exact_training.random_init`, the
    trainer's initialisation), the same ``n`` for every setting, each minimised full batch by
    :func:`toymodels.relu.exact_training.minimize_exact` (``steps`` Adam steps with a cosine
    schedule from ``lr``, then Newton to ``‖∇L‖ < 10⁻¹⁰``), then labelled by :func:`classify`.
    Deterministic. The result carries the certificate: ``grad_norm`` and ``min_eigenvalue``
    (the smallest Hessian eigenvalue; symmetries give zeros, so a minimum has it ``≈ 0``, a saddle
    clearly negative). ``S`` has one entry per setting, ``ω`` is a scalar, ``(D,)`` or ``(m, D)``.
    Studies estimated at more than about 1000 s of CPU (``m n (steps + 20) D³ > 3.5·10⁸``; 1000
    starts of ``D = 5`` with 100 steps take about 35 s) are refused.
    """
    from toymodels.relu.exact_training import minimize_exact, random_init  # noqa: PLC0415

    D = check_int(D, "D", minimum=2, maximum=16)
    n = check_int(n, "n", minimum=1, maximum=MAX_RUNS)
    S, ω = _settings(S, ω, D)
    m = len(S)
    steps = check_int(steps, "steps", minimum=0, maximum=100_000)
    lr = check_float(lr, "lr", positive=True, maximum=10.0)
    seed = check_int(seed, "seed", minimum=0)
    work = m * n * (max(steps, 1) + 20) * D**3  # ~3 µs of CPU per unit (measured, 2 cores)
    if work > 3.5e8:
        raise ValueError(f"{m} settings × {n} starts × {steps} steps at D = {D} is too big: "
                         f"about {work / 3.5e5:.0f} s of CPU (limit about 1000 s)")
    setting = np.repeat(np.arange(m), n)
    W0, b0 = random_init(n, 2, D, seed=seed)
    res = minimize_exact(np.tile(W0, (m, 1, 1)), np.tile(b0, (m, 1)), ω[setting],
                         np.repeat(S[setting][:, None], D, axis=1), l_max=2, steps=steps, lr=lr,
                         hessian=hessian)
    labels = np.array([classify(W) for W in res.W])
    logged = np.array([t for t in range(steps) if t % 10 == 0 or t == steps - 1], dtype=int)
    return BasinStudy(S, ω, setting, labels, res.loss, res.W, res.b, res.history, logged,
                      res.grad_norm,
                      res.hessian_eigenvalues[:, 0])
