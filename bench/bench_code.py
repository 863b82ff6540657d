"""Where the bytecode is: the .mpy bytes of each function and method, largest first.

    python bench/bench_code.py [--top N] tinyest/x509.py [tinyest/pkcs7.py ...]

Each function is compiled alone by mpy-cross (-O3 -X no-source-lines) and an
empty module's size is subtracted, so a figure is close to what that function
adds to a module's .mpy, and to the heap once a board imports it from a file.
It prints; it never asserts.
"""
import argparse
import ast
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "port_micropython"))

import build  # noqa: E402


def _size(src, tmp):
    py = tmp / "f.py"
    py.write_text(src)
    out = tmp / "f.mpy"
    subprocess.run(build.mpy_cross() + ["-O3", "-X", "no-source-lines", "-o", str(out), str(py)], check=True)
    return out.stat().st_size


def sizes(paths, tmp):
    base = _size("pass\n", tmp)
    rows = []
    for path in paths:
        text = pathlib.Path(path).read_text()

        def walk(body, prefix):
            for n in body:
                if isinstance(n, ast.FunctionDef):
                    seg = " " * n.col_offset + ast.get_source_segment(text, n)
                    rows.append((_size(textwrap.dedent(seg), tmp) - base,
                                 "%s:%s%s" % (os.path.basename(path), prefix, n.name)))
                elif isinstance(n, ast.ClassDef):
                    walk(n.body, prefix + n.name + ".")

        walk(ast.parse(text).body, "")
    rows.sort(reverse=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_code.py", description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("paths", nargs="+")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = sizes(args.paths, pathlib.Path(tmp))
    for n, name in rows[:args.top]:
        print("%6d %s" % (n, name))
    print("%6d in %d functions" % (sum(r[0] for r in rows), len(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
