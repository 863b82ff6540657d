"""Heap of a mip-installed device, measured on the board-model interpreters.

    python bench/bench_fit.py [--quick | --imports] [--servers N] [--opt N] [--source-lines]

1. Import heap per module: the device-path modules are imported one after the
   other from .mpy files (port_micropython/build.py) under
   ../shared/tools/micropython-32 (32-bit, as boards are); each line is the heap
   that import took (gc.mem_alloc before and after).
2. The device path (bench/device_path.py) against the dev EST server on 127.0.0.1
   over real TLS: the ``-X heapsize`` (KiB) with which "full" (/cacerts,
   /simpleenroll with a password, /simplereenroll with a new key) and "renew"
   (/simplereenroll alone, key and certificate loaded from the store) complete,
   on micropython-32-tlsheap (Pico W, stm32: mbedTLS in the GC heap),
   micropython-32 (ESP32: TLS outside the heap) and the pip micropython (64-bit).
   Two figures each: "reliable", from which every larger heap (2 KiB steps, 48
   KiB up) completed, and in brackets the lowest that completed once. They
   differ where a TLS handshake fails on fragmentation rather than on size, and
   they move with the certificate sizes of each dev server instance: the worst
   of ``--servers`` instances is shown. A board needs "reliable".

3. What the full device path loads (--loaded, or with the above): the union of
   the modules it imported (before each ``tinyest.unload`` and at its end) and
   their .mpy bytes by group; bench/device_path.py is an EstClient program, a
   ``Device`` loads ``device`` and ``device_rare`` as well.

It prints; it never asserts. Budgets (port_micropython/manifest.py): full in 96 KiB
on -tlsheap and 80 KiB on -32, renew in 88 / 72 KiB.
"""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "port_micropython"))

import build  # noqa: E402

from host_tools import find_micropython  # noqa: E402

TOOLS = ROOT.parent / "shared" / "tools"
DEVICE_PATH = ("errors", "der", "runtime", "http", "pkcs7", "x509", "keys", "ec", "csr", "client",
               "http_auth", "store", "device")
IMPORTS = r"""
import gc, sys
gc.collect()
base = prev = gc.mem_alloc()
for m in sys.argv[1].split(","):
    __import__("tinyest." + m)
    gc.collect()
    a = gc.mem_alloc()
    print("%s %d" % (m, a - prev))
    prev = a
print("total %d" % (prev - base))
"""


# Notes in ``seen`` every tinyest module in sys.modules before each unload() and
# (``_snap()``) at the end (bench_loop.py --loaded wraps main.py with it too).
RECORDER = r"""
import sys
import tinyest
seen = set()

def _snap():
    for k in sys.modules:
        if k[:8] == "tinyest.":
            seen.add(k[8:])

_unload = tinyest.unload

def _recording(*a, **k):
    _snap()
    return _unload(*a, **k)

tinyest.unload = _recording
"""
# Runs bench/device_path.py (its path the first argument) and prints the modules it loaded.
LOADED = RECORDER + r"""
path = sys.argv.pop(1)
with open(path) as f:
    exec(f.read())
_snap()
print("LOADED " + " ".join(sorted(seen)))
"""


class Fit:
    """The device path against one dev server, with a store state for "renew"."""

    def __init__(self, mpy, work):
        from host_tools.devserver import DevServer

        self.mpy = mpy
        self.work = work
        self.srv = DevServer(users=[("fit", "fit-pw")])
        self.srv.start()
        (work / "ca.der").write_bytes(self.srv.ca_der)
        self.enrolled = None

    def close(self):
        self.srv.stop()

    def run(self, exe, heap_k, op, wrapper=None):
        """(ok, output) of one device_path.py run at ``heap_k`` KiB (through
        the script ``wrapper`` when given)."""
        st = self.work / "store"
        shutil.rmtree(st, ignore_errors=True)
        if op == "renew":
            if self.enrolled is None:
                return False, "no enrolled store"
            shutil.copytree(self.enrolled, st)
        env = dict(os.environ, MICROPYPATH=".frozen:" + str(self.mpy))
        args = [str(exe), "-X", "heapsize=%dK" % heap_k] + ([str(wrapper)] if wrapper else [])
        args += [str(ROOT / "bench" / "device_path.py"), op, "127.0.0.1", str(self.srv.port), str(self.work / "ca.der")]
        args += ["fit", "fit-pw", str(st)] if op == "full" else [str(st)]
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        out = (p.stdout + p.stderr).strip()
        ok = p.returncode == 0 and out.startswith("OK")
        if ok and op == "full" and self.enrolled is None:
            self.enrolled = self.work / "store-enrolled"
            shutil.copytree(st, self.enrolled)
        return ok, out

    def smallest(self, exe, op, lo=16, hi=1024):
        """Smallest heap (KiB) in (lo, hi] that completes ``op`` (bisected), or None.
        Not the whole story: see ``fits``."""
        if op == "renew" and self.enrolled is None:
            self.run(exe, hi, "full")
        if not self.run(exe, hi, op)[0]:
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.run(exe, mid, op)[0]:
                hi = mid
            else:
                lo = mid
        return hi

    def fits(self, exe, op, span=48, step=2):
        """(lowest, reliable) heaps in KiB for ``op`` against this dev server:
        ``lowest`` the bisected smallest heap that completes; ``reliable`` the
        smallest heap from which every heap up to ``lowest + span`` completes
        (``step`` KiB apart), None if ``lowest + span`` itself fails. Between them
        the TLS handshake may fail on fragmentation (no hole for a large mbedTLS
        buffer), so a board needs ``reliable``."""
        low = self.smallest(exe, op)
        if low is None:
            return None, None
        ok = None
        for h in range(low + span, low - 1, -step):
            if not self.run(exe, h, op)[0]:
                break
            ok = h
        return low, ok


def measure(mpy, work, exe, ops=("full", "renew"), servers=3):
    """{op: (lowest, reliable)} over ``servers`` dev-server instances: each makes
    its own CA and server certificates, whose sizes move the figures by a few KiB,
    so the worst (largest) of each is kept."""
    out = {}
    for i in range(servers):
        pathlib.Path(work).mkdir(parents=True, exist_ok=True)
        fit = Fit(mpy, pathlib.Path(tempfile.mkdtemp(prefix="server%d-" % i, dir=str(work))))
        try:
            for op in ops:
                low, ok = fit.fits(exe, op)
                if op in out:
                    a, b = out[op]
                    low = None if low is None or a is None else max(low, a)
                    ok = None if ok is None or b is None else max(ok, b)
                out[op] = (low, ok)
        finally:
            fit.close()
    return out


def interpreters():
    out = []
    for name in ("micropython-32-tlsheap", "micropython-32"):
        if (TOOLS / name).exists():
            out.append((name, TOOLS / name))
    mp = find_micropython()
    if mp:
        out.append(("micropython (pip, 64-bit)", pathlib.Path(mp)))
    return out


def loaded(work, exe, sizes):
    """Print the modules the full device path loads, and their .mpy bytes by group."""
    (work / "loaded.py").write_text(LOADED)
    (work / "loaded").mkdir(exist_ok=True)
    fit = Fit(work / "mpy", work / "loaded")
    try:
        ok, out = fit.run(exe, 1024, "full", work / "loaded.py")
    finally:
        fit.close()
    names = out.split("LOADED ")[-1].split() if ok else []
    if not names:
        print("the device path failed: %s" % out)
        return
    groups = {}
    for m in ["__init__"] + names:
        g = build.group(m + ".py")
        groups.setdefault(g, []).append(m)
    print("\n== .mpy bytes of what the full device path loads (an EstClient program; a Device adds"
          " device, device_rare) ==")
    total = 0
    for g in sorted(groups):
        n = sum(sizes[m] for m in groups[g])
        total += n
        print("%-8s %6d  %s" % (g, n, " ".join(groups[g])))
    print("total    %6d = %.1f KiB; %.1f KiB without the software crypto"
          % (total, total / 1024, (total - sum(sizes[m] for m in groups.get("crypto", []))) / 1024))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_fit.py", description=__doc__.splitlines()[0])
    ap.add_argument("--opt", type=int, default=None)
    ap.add_argument("--source-lines", action="store_true", help="build the .mpy with line numbers")
    ap.add_argument("--quick", action="store_true", help="the -tlsheap interpreter only")
    ap.add_argument("--imports", action="store_true", help="the import heap only (seconds, not minutes)")
    ap.add_argument("--servers", type=int, default=3, help="dev-server instances (default 3)")
    ap.add_argument("--loaded", action="store_true", help="what the full path loads only (seconds)")
    args = ap.parse_args(argv)
    work = pathlib.Path(tempfile.mkdtemp(prefix="tinyest-fit-"))
    try:
        rows = build.build(work / "mpy", opt=args.opt, lines=args.source_lines)
        sizes = {r[0][:-3]: r[2] for r in rows}
        exe32 = TOOLS / "micropython-32"
        if exe32.exists():
            (work / "imports.py").write_text(IMPORTS)
            env = dict(os.environ, MICROPYPATH=".frozen:" + str(work / "mpy"))
            p = subprocess.run([str(exe32), "-X", "heapsize=1M", str(work / "imports.py"),
                                ",".join(DEVICE_PATH)], env=env, capture_output=True, text=True)
            print("== import heap on micropython-32 (bytes), .mpy size ==")
            for line in p.stdout.split("\n"):
                if line:
                    m, n = line.split()
                    print("%-12s %7s %7s" % (m, n, sizes.get(m, "")))
        if args.imports:
            return 0
        if exe32.exists():
            loaded(work, exe32, sizes)
        if args.loaded:
            return 0
        print("\n== -X heapsize (KiB) the device path needs: reliable (lowest), worst of %d dev servers =="
              % args.servers)
        for name, exe in interpreters()[:1 if args.quick else 3]:
            r = measure(work / "mpy", work / "fit", exe, servers=args.servers)
            print("%-28s full %s (%s)  renew %s (%s)" % (name, r["full"][1], r["full"][0],
                                                       r["renew"][1], r["renew"][0]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
