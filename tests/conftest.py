import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests" / "core"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


def pytest_collection_modifyitems(config, items):
    # Core tests named test_mp_* need MicroPython-only facilities (its VFS drivers):
    # tests/test_micropython.py runs them there; CPython does not collect them.
    keep, drop = [], []
    for item in items:
        core = pathlib.Path(str(item.fspath)).parent.name == "core"
        (drop if core and item.name.startswith("test_mp_") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
