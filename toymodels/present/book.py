"""Numbers from a chapter's computation into its prose.

The book's prose quotes computed numbers through MyST-NB's ``glue``: a cell stores the value
under a name and the markdown shows it with ``{glue:text}`name:.3f```, so the text cannot
disagree with the output. ``glue`` here rounds the value first, to a number of significant
digits, because nbval compares the stored representation on every run and the last digits of a
float differ between machines. Outside a book build (Colab, a plain Jupyter) myst-nb may be
missing: then the value is only checked and returned.
"""

from __future__ import annotations

import numbers
import re

from toymodels._checks import check_float, check_int

__all__ = ["glue"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,79}")


def glue(name: str, value, digits: int = 4) -> None:
    """Store ``value``, rounded to ``digits`` significant digits, under ``name`` for the prose.

    ``value`` is a real number (an ``int`` is stored as is). Nothing is returned, so a call
    at the end of a cell adds no output.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"name must be a string of letters, digits, '_' or '-' starting with a "
                         f"letter (at most 80 characters), got {name!r}")
    digits = check_int(digits, "digits", minimum=1, maximum=15)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        stored = int(value)
    else:
        stored = float(f"{check_float(value, 'value'):.{digits}g}")
    try:
        from myst_nb import glue as _myst_glue
    except ImportError:  # no book toolchain (e.g. Colab): nothing to store into
        return
    _myst_glue(name, stored, display=False)
