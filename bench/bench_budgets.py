"""Measures the device budgets of tinyest and prints them; it never asserts.

    python bench/bench_budgets.py [--quick] [--keep DIR]

0. Board models (../shared/tools): the smallest heap of the device path
   (bench/bench_fit.py: full enrollment and renewal) on the Pico W and ESP32
   models, against each board's heap and the budgets, what is left for an
   application, and the first signature of a process against a warm one.
1. Code size: the .mpy size of every module (port_micropython/build.py), the core
   total (what a device imports to bootstrap, enroll and renew, without the
   software crypto), the same with line numbers (``build.py --source-lines``), the
   modules imported on first use, the crypto, and the largest contributors.
2. Whole heap: the smallest ``micropython -X heapsize`` with which one device run does
   bootstrap (/cacerts by fingerprint) + enroll + reenroll through the state machine
   (``tinyest.device``), importing the .mpy files; and the smallest heap that merely
   imports them. The unix port keeps module bytecode in the GC heap; a board running
   frozen modules keeps it in flash.
3. Working set above imports: every module imported first, then the heap filled with
   ballast until only N bytes are free; the smallest N (bisected, 1 KiB steps) with
   which each operation still succeeds: that is its peak live heap. Operations: the
   full flow, bootstrap, enroll, reenroll, an idle step (nothing due), store load and
   commit of an enrolled set.

Runs against the dev EST server (host_tools.devserver) on loopback. On this unix port
mbedTLS allocates from libc, so the TLS session is not in these figures; on rp2 it
takes ~40 KiB of the GC heap during a handshake (see /work/shared/PLATFORM.md).
"""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "port_micropython"))
sys.path.insert(0, str(ROOT / "bench"))

import build  # noqa: E402
import common  # noqa: E402

from host_tools import find_micropython  # noqa: E402

# Runs under MicroPython: python-free device program, one operation per run.
#   probe.py OP STORE_DIR HOST PORT NOW [FREE]
# Prints "OK ..." or "FAIL ..." (a MemoryError may surface as a failed step).
PROBE = r"""
import gc, sys

def main(argv):
    op, root, host, port, now = argv[1], argv[2], argv[3], int(argv[4]), int(argv[5])
    free = int(argv[6]) if len(argv) > 6 else None
    from tinyest.device import Device
    from tinyest.store import Store
    if free is not None:
        import tinyest.client, tinyest.x509, tinyest.pkcs7, tinyest.csr, tinyest.keys
        import tinyest.ec, tinyest.hashes, tinyest.http, tinyest.http_auth, tinyest.der
        from tinyest import ec
        ec._curve("P-256").table()  # the comb table is built once, then cached
    gc.collect()
    code = gc.mem_alloc()
    ballast = []
    if free is not None:
        from ballast import fill  # tests/ballast.py, copied beside this program
        ballast = fill(free)
    avail = gc.mem_free()
    store = Store(root)
    events = []
    try:
        if op in ("load", "commit"):
            c = store.load()
            if op == "commit":
                store.commit(c)
            print("OK", op, "code=%d" % code, "free=%d" % avail)
            return
        def log(e, d):
            if e in ("retry", "failed"):
                events.append(e)

        dev = Device(store, host=host, port=port, cn="bench-device", dns="bench.local",
                     timeout=10, progress=log)
        want = {"flow": "enrolled", "bootstrap": "bootstrapped", "enroll": "enrolled",
                "renew": "enrolled", "idle": "enrolled"}[op]
        c = store.load()
        before = bytes(c.chain[0]) if c.enrolled else None
        c = None
        dev.step(now + 2000 if op == "renew" else now)
        if op == "flow":
            before = bytes(store.load().chain[0])
            dev = Device(store, host=host, port=port, timeout=10)
            dev.step(now + 2000)  # renewal due (see the lifetime on the host side)
        if op in ("flow", "renew") and bytes(store.load().chain[0]) == before:
            events.append("not renewed")
        if dev.state != want or events or dev.error is not None:
            print("FAIL", op, dev.state, events, dev.error)
            return
    except MemoryError:
        print("FAIL", op, "MemoryError")
        return
    print("OK", op, "code=%d" % code, "free=%d" % avail)

main(sys.argv)
"""


def sizes(tmp):
    rows = build.build(tmp / "plain")
    lined = {r[0]: r[2] for r in build.build(tmp / "lines", lines=True)}
    core = [r for r in rows if r[0] not in build.OPTIONAL]
    print("== .mpy sizes (mpy-cross %s) ==" % _mpy_cross_version())
    print("%-16s %8s %8s %10s" % ("module", ".py", ".mpy", "with lines"))
    for name, py, mpy in sorted(rows, key=lambda r: -r[2]):
        g = build.group(name)
        print("%-16s %8d %8d %10d%s" % (name, py, mpy, lined[name],
                                         "" if g == "core" else "  (%s)" % g))
    tc = sum(r[2] for r in core)
    ts = sum(lined[r[0]] for r in core)
    print("core (what bootstrap + enroll + renew import, crypto aside): %d bytes = %.1f KiB "
          "(goal 32 KiB); with line numbers: %.1f KiB" % (tc, tc / 1024, ts / 1024))
    auth = sum(r[2] for r in rows if r[0] == "http_auth.py")
    print("an enrollment with a password also imports http_auth.py: %.1f KiB in all"
          % ((tc + auth) / 1024))
    for g, label in (("lazy", "imported on first use"), ("crypto", "optional crypto"),
                     ("CPython", "CPython only")):
        sel = sorted(r for r in rows if build.group(r[0]) == g)
        print("%s (%s): %.1f KiB" % (label, ", ".join(r[0] for r in sel),
                                     sum(r[2] for r in sel) / 1024))
    top = sorted(core, key=lambda r: -r[2])[:5]
    print("largest core modules: " + ", ".join("%s %.1f KiB (%d%%)" % (n, m / 1024, 100 * m // tc)
                                                for n, _, m in top))
    return tmp / "plain"


def _mpy_cross_version():
    try:
        p = subprocess.run(build.mpy_cross() + ["--version"], capture_output=True, text=True)
        return p.stdout.strip().split(";")[0] or "?"
    except OSError:
        return "?"


class Probe:
    def __init__(self, exe, mpy, work, srv):
        self.exe = exe
        self.mpy = mpy
        self.work = work
        self.srv = srv
        self.script = work / "probe.py"
        self.script.write_text(PROBE)
        shutil.copy(str(ROOT / "tests" / "ballast.py"), str(work))  # the heap ballast PROBE imports
        self.states = {}
        self.runs = 0

    def state(self, name, store_dir):
        self.states[name] = store_dir

    def run(self, op, heap_k, free=None, state=None):
        """(ok, output) of one probe run with a fresh copy of the store state."""
        self.runs += 1
        d = self.work / "run-store"
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(self.states[state or op], d)
        env = dict(os.environ)
        env["MICROPYPATH"] = ".frozen:" + str(self.mpy)
        args = [self.exe, "-X", "heapsize=%dK" % heap_k, str(self.script), op, str(d),
                "127.0.0.1", str(self.srv.port), str(int(time.time()))]
        if free is not None:
            args.append(str(free))
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        out = (p.stdout + p.stderr).strip()
        return p.returncode == 0 and out.startswith("OK"), out

    def smallest(self, ok, lo, hi):
        """Smallest value in [lo, hi] (KiB) for which ok(v) holds, assuming monotony."""
        return common.bisect(ok, lo, hi) if ok(hi) else None


def _prepare(work, srv):
    """Store states for each operation, made with the device code on CPython."""
    from tinyest.device import Device
    from tinyest.store import Credentials, Store

    def fresh(name, password=True, trust=False):
        d = work / name
        s = Store(str(d))
        c = Credentials()
        c.config = {"fingerprint": srv.ca_fingerprint_hex}
        if password:
            c.boot_user, c.boot_password = "bench", "bench-pw"
        if trust:
            c.trust = [srv.ca_der]
        s.commit(c)
        return d, s

    states = {}
    states["flow"], _ = fresh("s-flow")
    states["bootstrap"], _ = fresh("s-bootstrap", password=False)
    states["enroll"], _ = fresh("s-enroll", trust=True)
    d, s = fresh("s-enrolled")
    Device(s, host="127.0.0.1", port=srv.port, cn="bench-device", dns="bench.local").step()
    assert s.load().enrolled
    states["idle"] = states["load"] = states["commit"] = d
    d2 = work / "s-renew"
    shutil.copytree(d, d2)
    states["renew"] = d2
    return states


def heaps(mpy, quick):
    from host_tools.devserver import DevServer

    exe = find_micropython()
    if exe is None:
        print("heap: the micropython command is missing")
        return
    work = pathlib.Path(tempfile.mkdtemp(prefix="tinyest-bench-"))
    # Lifetime 3600 s: renewal falls due 1800 s after issue (half of it; the dev
    # server does not backdate notBefore); the probe renews at a clock 2000 s ahead
    # (and then adopts the server's time).
    srv = DevServer(users=[("bench", "bench-pw")], cert_lifetime=3600)
    srv.start()
    try:
        probe = Probe(exe, mpy, work, srv)
        for name, d in _prepare(work, srv).items():
            probe.state(name, d)
        ok, out = probe.run("flow", 4096)
        if not ok:
            print("heap: the flow fails even with 4 MiB: " + out)
            return
        print("\n== whole heap (-X heapsize), modules imported as .mpy ==")
        imp = probe.smallest(lambda k: probe.run("load", k)[0], 8, 1024)
        print("import device + store and load the store: %s KiB" % imp)
        whole = probe.smallest(lambda k: probe.run("flow", k)[0], 16, 1024)
        print("bootstrap + enroll + reenroll (one process): %s KiB (goal 64 KiB)" % whole)
        ok, out = probe.run("flow", 4096, free=1 << 20)
        code = int(out.split("code=")[1].split()[0]) if ok else 0
        print("resident after importing every module the flow uses (and the P-256 table): "
              "%.1f KiB" % (code / 1024))
        print("\n== working set above imports (bisected free heap, KiB) ==")
        ops = ["flow", "bootstrap", "enroll", "renew", "idle", "load", "commit"]
        if quick:
            ops = ["flow", "idle"]
        for op in ops:
            k = probe.smallest(lambda k: probe.run(op, 4096, free=k * 1024)[0], 1, 512)
            label = {"flow": "bootstrap + enroll + reenroll", "bootstrap": "bootstrap /cacerts",
                     "enroll": "enroll (keygen, CSR, simpleenroll, commit)",
                     "renew": "reenroll (keygen, CSR, simplereenroll, commit)",
                     "idle": "idle step (nothing due)", "load": "store load (enrolled)",
                     "commit": "store commit (enrolled)"}[op]
            print("%-48s %s" % (label, "%d KiB" % k if k else "> 512 KiB"))
        print("(%d micropython runs)" % probe.runs)
    finally:
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)


# Heap a board gives Python: a Pico W (rp2, mbedTLS in the GC heap) about 192 KiB in
# all, Wi-Fi and the application included; an ESP32 without PSRAM about 110 KiB of GC
# heap, TLS living in ESP-IDF's heap.
BOARDS = (("Pico W", "micropython-32-tlsheap", 192, 96, 88),
          ("ESP32", "micropython-32", 110, 80, 72))

FIRST_SIGN = r"""
import time
t0 = time.ticks_us()
from tinyest import ec
k = ec.from_secret(bytes(31) + b"\x07")
t1 = time.ticks_us()
k.sign(b"first")
t2 = time.ticks_us()
k.sign(b"warm")
t3 = time.ticks_us()
print(time.ticks_diff(t2, t1), time.ticks_diff(t3, t2))
"""


def boards(mpy):
    """The device path on the board-model interpreters (bench/bench_fit.py), the
    heap left for an application, and the first signature against a warm one."""
    import bench_fit

    work = pathlib.Path(tempfile.mkdtemp(prefix="tinyest-boards-"))
    try:
        print("\n== board models: -X heapsize (KiB) of the device path, .mpy imported: reliable "
              "(lowest), worst of 3 dev servers ==")
        print("%-8s %-24s %10s %10s %8s %8s %s" % ("board", "interpreter", "full", "renew",
                                                     "budget", "gives", "left for the application"))
        for board, name, gives, b_full, b_renew in BOARDS:
            exe = bench_fit.TOOLS / name
            if not exe.exists():
                print("%-8s %s is absent" % (board, exe))
                continue
            r = bench_fit.measure(mpy, work / name, exe)
            full, renew = r["full"][1], r["renew"][1]
            left = "%d KiB after a renewal, %d KiB during the first enrollment" % (
                gives - (renew or 0), gives - (full or 0))
            print("%-8s %-24s %10s %10s %4d/%-3d %6d   %s" % (
                board, name, "%s (%s)" % (full, r["full"][0]), "%s (%s)" % (renew, r["renew"][0]),
                b_full, b_renew, gives, left))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    exe = bench_fit.TOOLS / "micropython-64"
    if exe.exists():
        script = work.parent / "tinyest-first-sign.py"
        script.write_text(FIRST_SIGN)
        env = dict(os.environ, MICROPYPATH=".frozen:" + str(mpy))
        p = subprocess.run([str(exe), str(script)], env=env, capture_output=True, text=True)
        script.unlink()
        try:
            first, warm = [int(x) for x in p.stdout.split()]
            print("\nfirst P-256 signature of a process on micropython-64: %.1f ms, warm %.1f ms "
                  "(%.2fx; budget 2x)" % (first / 1000, warm / 1000, first / warm))
        except ValueError:
            print("\nfirst-signature probe failed: " + (p.stdout + p.stderr)[-300:])


def main(argv=None):
    ap = argparse.ArgumentParser(prog="bench_budgets.py", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer heap measurements")
    ap.add_argument("--keep", default=None, help="keep the .mpy build in DIR")
    args = ap.parse_args(argv)
    tmp = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="tinyest-mpy-"))
    mpy = sizes(tmp)
    boards(mpy)
    heaps(mpy, args.quick)
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
