"""The core imports only modules that MicroPython and CPython both have."""
import ast
import pathlib

ALLOWED = {"socket", "ssl", "tls", "hashlib", "binascii", "os", "time", "struct", "errno", "gc",
           "micropython", "sys", "select", "io", "tinyest"}
CORE = pathlib.Path(__file__).resolve().parent.parent / "tinyest"


def _imports():
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for a in node.names:
                    yield path.name, node.lineno, a.name
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    yield path.name, node.lineno, node.module
                else:
                    yield path.name, node.lineno, "tinyest"


def test_core_imports_only_shared_modules():
    bad = ["%s:%d imports %s" % (f, n, m) for f, n, m in _imports() if m.split(".")[0] not in ALLOWED]
    assert not bad, "\n".join(bad)


def test_core_has_modules():
    assert (CORE / "der.py").exists() and (CORE / "errors.py").exists()


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
