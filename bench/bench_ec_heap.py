"""Smallest heap for one P-256 signature and one verification on the 32-bit board model.

    python bench/bench_ec_heap.py [--step BYTES] [--exe PATH]

tinyest is compiled to .mpy (port_micropython/build.py --out DIR) and imported
from DIR (MICROPYPATH), as after a mip install, by ../shared/tools/micropython-32
(ESP32 model). For each job the smallest ``-X heapsize`` (in --step bytes, 256
by default) from which every larger heap prints OK ("reliable"; a tight heap can
fail on fragmentation and a slightly smaller one pass), and the lowest that did:

    sign     import tinyest.ec, a P-256 key from fixed secret bytes, its public
             key, one sign()
    verify   import tinyest.ec, one verify() of a fixed P-256 signature
    both     the two above in one process (sign, then verify the signature)

and, from a 1 MiB heap, the heap (gc.mem_alloc) the import of tinyest.ec takes.
It prints; it never asserts.
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402

EXE = ROOT.parent / "shared" / "tools" / "micropython-32"

# A fixed P-256 key (secret 1) and a signature of b"message" under it.
POINT = bytes.fromhex(
    "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")

# Key generation from fixed secret bytes (ec.generate draws them from os.urandom):
# the figures do not move with a random key's nonces.
SECRET = bytes(range(1, 33))
SIGN = """
from tinyest import ec
k = ec.from_secret(%r)
k.public_point()
sig = k.sign(b"message")
print("OK")
"""
VERIFY = """
import hashlib
from tinyest import ec
ok = ec.verify("P-256", %r, hashlib.sha256(b"message").digest(), %r)
print("OK" if ok else "BAD")
"""
BOTH = """
import hashlib
from tinyest import ec
k = ec.from_secret(%r)
pt = k.public_point()
sig = k.sign(b"message")
k = None
ok = ec.verify("P-256", pt, hashlib.sha256(b"message").digest(), sig)
print("OK" if ok else "BAD")
"""
IMPORT = """
import gc
gc.collect()
a = gc.mem_alloc()
from tinyest import ec
gc.collect()
print(gc.mem_alloc() - a)
"""


def run(exe, env, script, heap):
    """The output of script under a heap of heap bytes, None when it fails. It runs
    in the .mpy directory: sys.path starts with "" under -c, and the sources of
    the current directory must not be imported instead."""
    try:
        p = subprocess.run([str(exe), "-X", "heapsize=%d" % heap, "-c", script], env=env,
                           cwd=env["MICROPYPATH"], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None
    return p.stdout.strip() if p.returncode == 0 else None


def smallest(exe, env, script, step, span=4096, hi=256 * 1024):
    """(reliable, lowest): the smallest heap (a multiple of step) from which
    every larger one completes script (prints OK), and the smallest that
    completed at all, scanned down to span bytes below reliable. The two differ
    where an allocation fails on fragmentation rather than on size."""
    if run(exe, env, script, hi) != "OK":
        return None, None
    lo = 4096 // step
    hi //= step
    while lo + 1 < hi:  # a first guess by bisection, then a scan down from above it
        mid = (lo + hi) // 2
        if run(exe, env, script, mid * step) == "OK":
            hi = mid
        else:
            lo = mid
    h = hi + span // step
    while h > 0 and run(exe, env, script, (h - 1) * step) == "OK":
        h -= 1
    while run(exe, env, script, h * step) != "OK":  # above the guess: scan up
        h += 1
    reliable = lowest = h
    for k in range(h - 1, max(0, h - span // step), -1):
        if run(exe, env, script, k * step) == "OK":
            lowest = k
    return reliable * step, lowest * step


def signature():
    """A DER signature of b"message" under the secret-1 key (made with CPython)."""
    from tinyest import ec

    return ec.from_secret(1).sign(b"message")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--step", type=int, default=256)
    ap.add_argument("--exe", default=str(EXE))
    a = ap.parse_args(argv)
    exe = pathlib.Path(a.exe)
    if not exe.exists():
        print("no %s" % exe)
        return 1
    with tempfile.TemporaryDirectory(prefix="tinyest-ec-heap-") as d:
        common.build_module().build(pathlib.Path(d))
        env = dict(os.environ, MICROPYPATH=d)
        imp = run(exe, env, IMPORT, 1024 * 1024)
        print("import tinyest.ec: %s bytes" % imp)
        jobs = (("sign", SIGN % SECRET), ("verify", VERIFY % (POINT, signature())), ("both", BOTH % SECRET))
        print("smallest -X heapsize: reliable (every larger one completes), lowest")
        for name, script in jobs:
            h, low = smallest(exe, env, script, a.step)
            print("%-7s %s" % (name, "failed" if h is None else "%d bytes (%.2f KiB), lowest %.2f KiB"
                               % (h, h / 1024, low / 1024)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
