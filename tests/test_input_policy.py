"""The package's input policy, guarded for every public function (issue 11, item 7).

Every public function of every ``toymodels`` module (``__all__``, modules found with
``pkgutil``, so new modules are walked too) is called with its valid example from
``tests/api_examples.py`` and then with bad values substituted, one argument at a time:

* complex, bool and string values (and arrays of them) must raise ``TypeError``/``ValueError``;
* NaN and infinities must raise, and so must negative sizes or indices (int arguments) and
  negative importance (``ω``);
* a huge size (``10**15``) must be refused, or handled without doing the huge work;

each refusal must name the argument and cost under a second of CPU time. The policy's other half,
that Python lists and every real floating dtype (numpy float16/32, torch float32/bfloat16) are
accepted, is checked on every array argument too. Everything is deterministic: fixed inputs, no
random draws.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import signal
import time
import warnings

# No os.environ["MPLBACKEND"] here: the notebook kernels that `pytest --nbval` starts later in the
# same run inherit the environment, and their figures would stop displaying.
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from api_examples import EXAMPLES, KNOWN_GAPS  # noqa: E402

import toymodels  # noqa: E402

HUGE = 10**15
CPU_LIMIT_S = 1.0  # CPU seconds a refusal may cost
HANG_GUARD_S = 20  # wall-clock seconds after which a call is interrupted as hung


def _public_callables():
    """``{"module.name": object}`` for every public function (and registered class), keyed by
    the module that defines it (re-exports are walked once)."""
    found = {}
    for info in pkgutil.walk_packages(toymodels.__path__, "toymodels."):
        if info.name.rpartition(".")[2].startswith("_"):
            continue
        mod = importlib.import_module(info.name)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if not callable(obj):
                continue  # constants
            home = getattr(obj, "__module__", "") or ""
            if not home.startswith("toymodels."):
                continue
            key = f"{home.removeprefix('toymodels.')}.{obj.__name__}"
            if inspect.isclass(obj) and key not in EXAMPLES:
                continue  # result containers, exceptions, warnings: exempt (see api_examples)
            found[key] = obj
    return found


PUBLIC = _public_callables()


def test_every_public_function_has_an_example():
    missing = sorted(set(PUBLIC) - set(EXAMPLES))
    assert not missing, (
        f"public functions without an example call: {missing}. Add one line per function to "
        "EXAMPLES in tests/api_examples.py (a small valid call; see that file's docstring).")
    stale = sorted(set(EXAMPLES) - set(PUBLIC))
    assert not stale, f"tests/api_examples.py lists names that are not public: {stale}"


class _Hang(Exception):
    pass


class _Raised:
    """What a call raised (a function may legitimately *return* an exception object)."""

    def __init__(self, err):
        self.err = err


def _call(f, args, kwargs):
    """Call ``f``; return ``(result or _Raised, cpu_seconds)``, interrupting a hang."""
    def on_alarm(signum, frame):
        raise _Hang(f"no answer within {HANG_GUARD_S} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(HANG_GUARD_S)
    t0 = time.process_time()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = f(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - every exception (and _Hang) is judged by the caller
        out = _Raised(err)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        plt.close("all")
    return out, time.process_time() - t0


def _is_numeric_list(v):
    return (isinstance(v, (list, tuple)) and len(v) > 0
            and all(isinstance(e, (int, float, np.number)) and not isinstance(e, bool) for e in v))


def _kind(v):
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    if isinstance(v, np.ndarray) and v.dtype.kind in "iuf":
        return "array"
    if isinstance(v, torch.Tensor) and (v.is_floating_point() or not v.dtype.is_complex) \
            and v.dtype != torch.bool:
        return "tensor"
    if _is_numeric_list(v):
        return "list"
    return None


def _bad_values(name, v):
    """``(label, bad value, must_raise)`` to try for argument ``name`` with example value ``v``."""
    kind = _kind(v)
    out = [("a string", "1", True), ("bool True", True, True), ("a complex", 1 + 1j, True)]
    if kind == "int":
        out += [("a float", 1.5, True), ("NaN", float("nan"), True), ("-1", -1, True),
                ("10**15", HUGE, False)]
    elif kind == "float":
        out += [("NaN", float("nan"), True), ("inf", float("inf"), True)]
    else:
        arr = np.asarray(v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v,
                         dtype=np.float64)
        nan = arr.copy()
        nan.flat[0] = np.nan
        out += [("a complex array", arr + 1j, True), ("a bool array", arr > arr.flat[0], True),
                ("a string array", arr.astype(str), True), ("an array with NaN", nan, True)]
        if isinstance(v, torch.Tensor):
            out += [("a complex tensor", torch.as_tensor(arr + 1j), True),
                    ("a tensor with NaN", torch.as_tensor(nan), True)]
        if name in ("ω", "importance") or "importance" in name:
            out += [("negative importance", -np.abs(arr) - 1, True)]
    return out


def _names(message: str, name: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", message) is not None


def _arguments(f, example):
    sig = inspect.signature(f)
    bound = sig.bind(*example.args, **example.kwargs)
    return sig, bound


def _substituted(sig, bound, name, value):
    new = sig.bind(*bound.args, **bound.kwargs)
    new.arguments[name] = value
    return new.args, new.kwargs


def _policy_cases(gaps=False):
    """One case per function. A function listed in KNOWN_GAPS is an xfail, strict with ``gaps``
    (the bad-input walk), so that test fails (XPASS) as soon as the gap is closed and the entry
    must be removed."""
    cases = []
    for key in sorted(set(PUBLIC) & set(EXAMPLES)):
        marks = ([pytest.mark.xfail(reason=KNOWN_GAPS[key], strict=gaps)]
                 if key in KNOWN_GAPS else [])
        cases.append(pytest.param(key, id=key, marks=marks))
    return cases


@pytest.mark.parametrize("key", _policy_cases(gaps=True))
def test_bad_inputs_are_refused_by_name(key):
    f, example = PUBLIC[key], EXAMPLES[key]
    out, _ = _call(f, example.args, example.kwargs)
    assert not isinstance(out, _Raised), f"{key}: the example call itself fails: {out.err!r}"
    sig, bound = _arguments(f, example)
    problems = []
    for name, value in bound.arguments.items():
        if name in example.skip or _kind(value) is None:
            continue
        for label, bad, must_raise in _bad_values(name, value):
            args, kwargs = _substituted(sig, bound, name, bad)
            out, cpu = _call(f, args, kwargs)
            what = f"{key}({name}=<{label}>)"
            raised = out.err if isinstance(out, _Raised) else None
            if isinstance(raised, (ValueError, TypeError)):
                out = raised
                if not _names(str(out), name):
                    problems.append(f"{what}: the message does not name {name!r}: {out}")
                elif cpu > CPU_LIMIT_S:
                    problems.append(f"{what}: took {cpu:.2f} s of CPU to refuse")
            elif raised is not None:
                problems.append(f"{what}: raised {type(raised).__name__} (not ValueError/TypeError):"
                                f" {raised}")
            elif must_raise:
                problems.append(f"{what}: returned silently")
            elif cpu > CPU_LIMIT_S:
                problems.append(f"{what}: accepted, and took {cpu:.2f} s")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("key", _policy_cases())
def test_lists_and_every_real_float_dtype_are_accepted(key):
    f, example = PUBLIC[key], EXAMPLES[key]
    sig, bound = _arguments(f, example)
    problems = []
    for name, value in bound.arguments.items():
        if name in example.skip or _kind(value) not in ("array", "list"):
            continue
        arr = np.asarray(value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value)
        if arr.dtype.kind in "iu":  # indices and counts: integers in any container
            variants = [("a list", arr.tolist()), ("int32", arr.astype(np.int32)),
                        ("a torch int64 tensor", torch.as_tensor(arr, dtype=torch.int64))]
        else:
            arr = arr.astype(np.float64)
            # lower precision may make a value invalid (a ValueError is fine), never a TypeError
            variants = [("a list", arr.tolist()), ("float32", arr.astype(np.float32)),
                        ("float16", arr.astype(np.float16)),
                        ("a torch float64 tensor", torch.as_tensor(arr)),
                        ("a torch bfloat16 tensor", torch.as_tensor(arr).to(torch.bfloat16))]
        for label, good in variants:
            args, kwargs = _substituted(sig, bound, name, good)
            out, _ = _call(f, args, kwargs)
            if isinstance(out, _Raised) and not (isinstance(out.err, ValueError)
                                                 and not isinstance(out.err, TypeError)):
                problems.append(f"{key}({name}=<{label}>): {type(out.err).__name__}: {out.err}")
    assert not problems, "\n".join(problems)
