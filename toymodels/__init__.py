"""toymodels: the numerics behind the executable book on toy autoencoders.

Every chapter of the book imports this package; each module holds the mathematics
of one part of the source notes (Becker-Kahn, 2022) and cites the equations it
implements.
"""

from toymodels.environment import BOOK_STYLE, choose_device, seed_everything, setup, widgets_live

__version__ = "0.1.0"

__all__ = ["__version__", "setup", "seed_everything", "choose_device", "widgets_live", "BOOK_STYLE"]
