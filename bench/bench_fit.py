"""Heap of a mip-installed device, measured on the board-model interpreters.

    python bench/bench_fit.py [--quick | --imports] [--opt N] [--no-source-lines]

1. Import heap per module: the device-path modules are imported one after the
   other from .mpy files (port_micropython/build.py) under
   ../shared/tools/micropython-32 (32-bit, as boards are); each line is the heap
   that import took (gc.mem_alloc before and after).
2. The device path (bench/device_path.py) against the dev EST server on 127.0.0.1
   over real TLS: the smallest ``-X heapsize`` (KiB, bisected) with which "full"
   (/cacerts, /simpleenroll with a password, /simplereenroll with a new key) and
   "renew" (/simplereenroll alone, key and certificate loaded from the store)
   complete, on micropython-32-tlsheap (Pico W, stm32: mbedTLS in the GC heap),
   micropython-32 (ESP32: TLS outside the heap) and the pip micropython (64-bit).

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

    def run(self, exe, heap_k, op):
        """(ok, output) of one device_path.py run at ``heap_k`` KiB."""
        st = self.work / "store"
        shutil.rmtree(st, ignore_errors=True)
        if op == "renew":
            if self.enrolled is None:
                return False, "no enrolled store"
            shutil.copytree(self.enrolled, st)
        env = dict(os.environ, MICROPYPATH=".frozen:" + str(self.mpy))
        args = [str(exe), "-X", "heapsize=%dK" % heap_k, str(ROOT / "bench" / "device_path.py"),
                op, "127.0.0.1", str(self.srv.port), str(self.work / "ca.der")]
        args += ["fit", "fit-pw", str(st)] if op == "full" else [str(st)]
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        out = (p.stdout + p.stderr).strip()
        ok = p.returncode == 0 and out.startswith("OK")
        if ok and op == "full" and self.enrolled is None:
            self.enrolled = self.work / "store-enrolled"
            shutil.copytree(st, self.enrolled)
        return ok, out

    def smallest(self, exe, op, lo=16, hi=1024):
        """Smallest heap (KiB) in (lo, hi] that completes ``op``, or None."""
        if not self.run(exe, hi, op)[0]:
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.run(exe, mid, op)[0]:
                hi = mid
            else:
                lo = mid
        return hi


def interpreters():
    out = []
    for name in ("micropython-32-tlsheap", "micropython-32"):
        if (TOOLS / name).exists():
            out.append((name, TOOLS / name))
    mp = find_micropython()
    if mp:
        out.append(("micropython (pip, 64-bit)", pathlib.Path(mp)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_fit.py", description=__doc__.splitlines()[0])
    ap.add_argument("--opt", type=int, default=None)
    ap.add_argument("--no-source-lines", action="store_true")
    ap.add_argument("--quick", action="store_true", help="the -tlsheap interpreter only")
    ap.add_argument("--imports", action="store_true", help="the import heap only (seconds, not minutes)")
    args = ap.parse_args(argv)
    work = pathlib.Path(tempfile.mkdtemp(prefix="tinyest-fit-"))
    try:
        rows = build.build(work / "mpy", opt=args.opt, no_lines=args.no_source_lines)
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
        fit = Fit(work / "mpy", work)
        try:
            print("\n== smallest -X heapsize (KiB) for the device path ==")
            for name, exe in interpreters()[:1 if args.quick else 3]:
                full = fit.smallest(exe, "full")
                renew = fit.smallest(exe, "renew")
                print("%-28s full %s  renew %s" % (name, full, renew))
        finally:
            fit.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
