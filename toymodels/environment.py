"""One call at the top of every chapter: seeds, plotting style and the device.

>>> import toymodels as tm
>>> device = tm.setup(seed=0)            # doctest: +SKIP
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from toymodels._checks import check_int, env_int
from toymodels.limits import check_threads, machine_cores

__all__ = ["setup", "seed_everything", "choose_device", "default_device", "widgets_live",
           "BOOK_STYLE"]

#: the device set by ``setup(device=...)`` for new training configs (``None``: automatic)
_default_device: str | None = None

#: matplotlib rc settings shared by every figure of the book. Sizes are chosen for the page:
#: at ``figure.dpi`` a figure of the default width is shown 480 CSS px wide (the PNG itself has
#: twice the pixels, for high-density screens: ``toymodels.present.figures``), so that 11-pt tick labels
#: are still about 11.4 CSS px when a phone shrinks the figure to its 358-px column.
BOOK_STYLE = {
    "figure.figsize": (4.8, 3.0),
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": True,
    "legend.framealpha": 0.9,
    "legend.edgecolor": "none",
    "mathtext.fontset": "cm",
    "image.cmap": "RdBu_r",
}


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, numpy's legacy global generator and torch (CPU and CUDA)."""
    seed = check_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def choose_device(device: str | torch.device | None = None) -> torch.device:
    """Return ``device`` as a :class:`torch.device`, checking that it exists.

    ``None`` means ``cuda`` when a GPU is present and the CPU otherwise. An explicit
    device that this machine lacks (``"cuda"`` without a GPU, ``"cuda:3"`` with one GPU,
    a misspelt name) raises ``ValueError`` naming what is available.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be None, a string or a torch.device, got {type(device).__name__}")
    available = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a valid device; available: {available}") from err
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was requested but no CUDA GPU is present; available: {available}")
        index = 0 if dev.index is None else dev.index
        if index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} does not exist; available: {available}")
        return torch.device("cuda", index)
    raise ValueError(f"device {device!r} is not supported by toymodels; available: {available}")


def default_device() -> str | None:
    """The device that new training configs (:class:`~toymodels.train.config.TrainConfig`) use
    when given none: the one set by the last ``setup(device=...)`` (``"cpu"``, ``"cuda:0"``, ...),
    or ``None`` (cuda when present, else the CPU) when it set none."""
    return _default_device


def widgets_live() -> bool:
    """Whether a chapter should show its ipywidgets sliders.

    True in a notebook opened by a person: Google Colab, or any Jupyter server (Binder,
    JupyterLab, Notebook), which tells its kernels the notebook's path in ``JPY_SESSION_NAME``.
    False when the notebook is executed headless (``jupyter-book build``, ``pytest --nbval``,
    ``nbconvert``), so the rendered book shows the static figure and stored outputs stay stable.
    ``TOYMODELS_WIDGETS=1`` or ``=0`` overrides the guess.
    """
    import sys

    forced = env_flag("TOYMODELS_WIDGETS")
    if forced is not None:
        return forced
    return "google.colab" in sys.modules or bool(os.environ.get("JPY_SESSION_NAME"))


def env_flag(name: str) -> bool | None:
    """The on/off switch in the environment variable ``name``: ``None`` when it is unset or
    empty, ``False`` for ``0``, ``false``, ``no`` or ``off``, ``True`` for ``1``, ``true``,
    ``yes`` or ``on`` (any case); anything else raises ``ValueError`` naming the variable."""
    raw = os.environ.get(name, "").strip()
    value = raw.lower()
    if not value:
        return None
    if value in {"0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    raise ValueError(f"the environment variable {name} must be one of 1/true/yes/on or "
                     f"0/false/no/off (or unset), got {raw!r}")


def setup(seed: int = 0, device: str | torch.device | None = None, *, style: bool = True,
          threads: int | None = None) -> torch.device:
    """Prepare a chapter: seed everything, apply :data:`BOOK_STYLE`, set and return the device.

    ``device``: the device that new training configs use by default (:func:`default_device`;
    a config's own ``device=`` wins); ``None`` returns to the automatic choice (cuda when
    present, else the CPU). A device this machine lacks raises ``ValueError``
    (:func:`choose_device`).

    ``threads`` caps torch's intra-op threads (default: leave torch's choice, or the
    ``TOYMODELS_THREADS`` environment variable when set): an integer ``>= 1`` (else
    ``TypeError``/``ValueError`` naming the argument or the variable), capped at the cores of
    the machine (:func:`toymodels.limits.machine_cores`).
    """
    if threads is None:
        threads = env_int("TOYMODELS_THREADS", minimum=1)
        if threads is not None:
            threads = min(threads, machine_cores())
    else:
        threads = check_threads(threads, "threads")
    if not isinstance(style, bool):
        raise TypeError(f"style must be True or False, got {style!r}")
    chosen = choose_device(device)
    seed_everything(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    if style:
        import matplotlib as mpl

        mpl.rcParams.update(BOOK_STYLE)
        from toymodels.present.figures import register_png_formatter

        register_png_formatter()  # sharp PNGs that record their smallest text
    global _default_device
    _default_device = None if device is None else str(chosen)
    return chosen
