"""The sizes toymodels refuses before it starts working, in one place.

Every public function whose cost grows with a size argument (or combinatorially, like the
``binom(D, d)`` critical points of Proposition 1) estimates its work and memory first and calls
:func:`refuse_if_too_big`, which raises ``ValueError`` with the estimate and the limit in the
message. The limits are module constants, read at call time, so a user with a bigger machine
(or more patience) can raise them::

    import toymodels.limits
    toymodels.limits.MAX_WORK = 1e12

The defaults aim at "a minute or two, and well under the memory of a free Binder session".
"""

from __future__ import annotations

import math

__all__ = ["MAX_WORK", "MAX_MEMORY", "MAX_ITEMS", "refuse_if_too_big", "format_bytes",
           "machine_cores", "check_threads"]

#: Elementary floating-point operations (multiply-adds, samples drawn, loop steps times their
#: cost) one call may need: about a minute of numpy on one core.
MAX_WORK = 5e10

#: Bytes one call may allocate at its peak (the arrays it builds and returns).
MAX_MEMORY = 2 * 2**30

#: Python objects one call may build in a list (critical points, index sets): each costs
#: hundreds of bytes and microseconds of interpreter time.
MAX_ITEMS = 2_000_000


def format_bytes(b: float) -> str:
    """``1536`` → ``'1.5 KiB'``: a byte count with a binary unit (B, KiB, ..., PiB)."""
    from toymodels._checks import check_float

    b = check_float(b, "b")
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(b) < 1024:
            return f"{b:.3g} {unit}"
        b /= 1024
    return f"{b:,.3g} PiB" if abs(b) < 1000 else f"{b:,.0f} PiB"


def refuse_if_too_big(what: str, *, work: float = 0.0, memory: float = 0.0, items: float = 0.0,
                      advice: str = "") -> None:
    """Raise ``ValueError`` when ``work`` (operations), ``memory`` (bytes) or ``items`` (Python
    objects) exceeds :data:`MAX_WORK`, :data:`MAX_MEMORY` or :data:`MAX_ITEMS`.

    ``what`` names the call and its size arguments (``"critical_points with D = 26, d = 13"``),
    ``advice`` says what to change; both go into the message with the estimate.
    """
    from toymodels._checks import check_float

    work, memory, items = (check_float(v, k, minimum=0.0) for k, v in
                           (("work", work), ("memory", memory), ("items", items)))
    over = []
    if not math.isfinite(work) or work > MAX_WORK:
        over.append(f"about {work:.3g} operations (limit toymodels.limits.MAX_WORK = {MAX_WORK:.3g})")
    if not math.isfinite(memory) or memory > MAX_MEMORY:
        over.append(f"about {format_bytes(memory)} of memory "
                    f"(limit toymodels.limits.MAX_MEMORY = {format_bytes(MAX_MEMORY)})")
    if not math.isfinite(items) or items > MAX_ITEMS:
        over.append(f"{items:.3g} Python objects (limit toymodels.limits.MAX_ITEMS = {MAX_ITEMS:,})")
    if over:
        raise ValueError(f"{what} is too big: it would need {' and '.join(over)}"
                         + (f"; {advice}" if advice else "")
                         + "; raise the limit in toymodels.limits if you really mean it")


def machine_cores() -> int:
    """The number of CPU cores of this machine (``os.cpu_count()``, at least 1): the most threads
    any toymodels call will start."""
    import os

    return max(1, os.cpu_count() or 1)


def check_threads(threads, name: str = "threads") -> int:
    """``threads`` as an int ``>= 1``, capped at :func:`machine_cores`: more threads than cores
    only slow a run down, and tens of thousands of OpenMP threads crash torch (a segfault, not
    an error). Not an integer, or below 1: ``TypeError``/``ValueError`` naming ``name``."""
    from toymodels._checks import check_int

    return min(check_int(threads, name, minimum=1), machine_cores())
