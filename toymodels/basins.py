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

from ._checks import check_finite_array, check_float, check_int
from .geometry import polygon

__all__ = ["wilson_interval", "clopper_pearson_interval", "BasinEstimate",
           "basin_probabilities", "polygon_label", "POLYGON_NAMES"]

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
    """The basin label of a ``(2, D)`` embedding (:func:`toymodels.geometry.polygon`): the
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
