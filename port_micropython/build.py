"""Compile every core module to .mpy with mpy-cross and report the sizes.

    python port_micropython/build.py [--out DIR] [--march ARCH] [-O N] [--no-source-lines]
                                     [--package]

Writes DIR/tinyest/*.mpy (default: build/mpy) and prints one line per module and
the totals, split into the always-needed core and the optional software-crypto
parts a board with a secure element can leave out. ``-O`` and
``--no-source-lines`` are passed to mpy-cross (smaller files; tracebacks then carry
no line numbers). ``--package`` also writes DIR/package.json (everything),
DIR/package-core.json and DIR/package-crypto.json naming the .mpy files, so that
serving DIR over HTTP lets a board ``mip.install(URL + "/package.json")``.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORE = ROOT / "tinyest"
# Software key implementations: a board that signs with a secure element omits them.
OPTIONAL = {"ec.py", "rsa.py", "ed25519.py", "hashes.py"}
VERSION = "0.1.0"


def mpy_cross():
    exe = shutil.which("mpy-cross")
    if exe:
        return [exe]
    return [sys.executable, "-m", "mpy_cross"]


def build(out, march=None, opt=None, no_lines=False):
    """Compile tinyest/*.py into out/tinyest/; return [(name, py_bytes, mpy_bytes)]."""
    dest = pathlib.Path(out) / "tinyest"
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for src in sorted(CORE.glob("*.py")):
        target = dest / (src.stem + ".mpy")
        cmd = mpy_cross() + ["-o", str(target), "-s", "tinyest/" + src.name]
        if march:
            cmd.append("-march=" + march)
        if opt:
            cmd.append("-O%d" % opt)
        if no_lines:
            cmd += ["-X", "no-source-lines"]
        subprocess.run(cmd + [str(src)], check=True, cwd=str(ROOT))
        rows.append((src.name, src.stat().st_size, target.stat().st_size))
    return rows


def package_files(names, ext=".py", prefix="../tinyest/"):
    """mip package.json objects: (file name, object) for everything, core and crypto."""
    def obj(sel):
        urls = [["tinyest/" + n[:-3] + ext, prefix + n[:-3] + ext] for n in sel]
        return {"urls": urls, "version": VERSION}

    core = [n for n in names if n not in OPTIONAL]
    crypto = [n for n in names if n in OPTIONAL]
    return [("package.json", obj(names)), ("package-core.json", obj(core)),
            ("package-crypto.json", obj(crypto))]


def write_packages(out, rows):
    out = pathlib.Path(out)
    for fname, obj in package_files([r[0] for r in rows], ".mpy", "tinyest/"):
        (out / fname).write_text(json.dumps(obj, indent=1) + "\n")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="build.py", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "build" / "mpy"))
    ap.add_argument("--march", default=None, help="e.g. xtensawin (ESP32), armv6m (RP2040)")
    ap.add_argument("-O", dest="opt", type=int, default=None, help="mpy-cross optimisation level")
    ap.add_argument("--no-source-lines", action="store_true", help="leave out line numbers")
    ap.add_argument("--package", action="store_true", help="write mip package files beside")
    args = ap.parse_args(argv)
    try:
        rows = build(pathlib.Path(args.out), args.march, args.opt, args.no_source_lines)
        if args.package:
            write_packages(args.out, rows)
    except (OSError, subprocess.CalledProcessError) as e:
        print("build.py: %s" % e, file=sys.stderr)
        return 2
    core = opt = 0
    print("%-16s %8s %8s" % ("module", ".py", ".mpy"))
    for name, py, mpy in rows:
        print("%-16s %8d %8d%s" % (name, py, mpy, "  (optional)" if name in OPTIONAL else ""))
        if name in OPTIONAL:
            opt += mpy
        else:
            core += mpy
    print("core .mpy total: %d bytes (%.1f KiB); optional crypto: %d bytes (%.1f KiB)"
          % (core, core / 1024, opt, opt / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
