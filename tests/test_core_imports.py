"""The core imports only modules that MicroPython and CPython both have."""
import ast
import pathlib

ALLOWED = {"socket", "ssl", "tls", "hashlib", "binascii", "os", "time", "struct", "errno", "gc",
           "micropython", "sys", "select", "io", "tinyest"}
CORE = pathlib.Path(__file__).resolve().parent.parent / "tinyest"


def _imports(sources):
    for name, text in sources:
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield name, node.lineno, a.name
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    yield name, node.lineno, node.module
                else:
                    yield name, node.lineno, "tinyest"


def _bad(sources):
    return ["%s:%d imports %s" % (f, n, m) for f, n, m in _imports(sources)
            if m.split(".")[0] not in ALLOWED]


def test_core_imports_only_shared_modules():
    sources = [(p.name, p.read_text()) for p in sorted(CORE.rglob("*.py"))]
    assert len(sources) > 10 and "der.py" in [n for n, _ in sources]
    bad = _bad(sources)
    assert not bad, "\n".join(bad)


def test_the_import_check_finds_what_micropython_lacks():
    # The check above really looks: these would break the core on MicroPython.
    sample = "import typing\nfrom base64 import b64encode\ndef f():\n    import hmac\n" \
             "from . import der\nimport hashlib\n"
    assert _bad([("m.py", sample)]) == ["m.py:1 imports typing", "m.py:2 imports base64",
                                        "m.py:4 imports hmac"]


def test_micropython_import_is_guarded():
    # `micropython` exists only on MicroPython: every import of it sits in a try block.
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        guarded = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try):
                for sub in ast.walk(node):
                    if isinstance(sub, (ast.Import, ast.ImportFrom)):
                        guarded.add(id(sub))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if "micropython" in names:
                assert id(node) in guarded, "%s:%d imports micropython unguarded" % (path.name, node.lineno)


def _groups():
    import sys

    sys.path.insert(0, str(CORE.parent / "port_micropython"))
    sys.path.insert(0, str(CORE.parent / "tests" / "core"))
    import build
    import test_lazy_imports

    return build, test_lazy_imports


def test_lazy_import_test_knows_the_groups_of_build_py():
    build, lazy = _groups()
    names = sorted(p.name for p in CORE.glob("*.py"))
    assert sorted(n + ".py" for n in lazy.LAZY) == sorted(build.LAZY)
    assert sorted(n + ".py" for n in lazy.CRYPTO) == sorted(build.CRYPTO)
    assert sorted(n + ".py" for n in lazy.HOST) == sorted(build.HOST)
    assert sorted(n + ".py" for n in lazy.CPYTHON) == sorted(build.CPYTHON)
    assert sorted(n + ".py" for n in lazy.COAP) == sorted(build.COAP)
    assert sorted(n + ".py" for n in lazy.THUMB) == sorted(build.THUMB)
    core = sorted(n for n in names if n not in build.OPTIONAL and n != "__init__.py")
    assert sorted(n + ".py" for n in lazy.CORE) == core


def test_core_modules_import_optional_ones_only_inside_functions():
    # Module-level statements (also inside if/try blocks) of a core module never
    # import a lazily imported, crypto or CPython-only module.
    build, _ = _groups()
    optional = {n[:-3] for n in build.OPTIONAL}
    bad = []
    for path in sorted(CORE.glob("*.py")):
        if path.name in build.OPTIONAL:
            continue
        todo = list(ast.parse(path.read_text()).body)
        while todo:
            node = todo.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.ClassDef):  # a class body runs at import time
                todo.extend(node.body)
                continue
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module == "tinyest":
                mods = ["tinyest." + a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                todo.extend(ast.iter_child_nodes(node))
                continue
            for m in mods:
                if m.startswith("tinyest.") and m.split(".")[1] in optional:
                    bad.append("%s:%d imports %s" % (path.name, node.lineno, m))
    assert not bad, "\n".join(bad)
