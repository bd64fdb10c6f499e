"""Test configuration: hypothesis profiles that make the property tests deterministic.

* ``ci`` (the default): derandomised (the examples are a fixed function of each test) with no
  example database, so a run on a fresh clone draws the same inputs as every other run and no
  ``.hypothesis/`` directory replays an old failure.
* ``explore``: random examples (a new draw each run, or fixed with ``--hypothesis-seed``), more of
  them, still without a database: the way to hunt for inputs the ``ci`` draws miss.
* ``dev``: random examples with hypothesis's local database (replays the last failure).

Choose one with the environment variable ``HYPOTHESIS_PROFILE`` (or ``--hypothesis-profile``).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", derandomize=False, database=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
