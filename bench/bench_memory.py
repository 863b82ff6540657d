"""How much memory each operation needs under MicroPython: the smallest
``-X heapsize`` at which it completes (bisected), and its working set beyond
the modules' code and its inputs; the CPython tracemalloc peak beside it.
Prints the figures; it never asserts anything about them.

    python bench/bench_memory.py [--jobs 2]

Each probe is a fresh ``micropython`` process running bench/mem_probe.py with
the modules compiled to .mpy by port_micropython/build.py, as a board would
load them. On the unix port module code lives in the GC heap (a board with
frozen modules keeps it in flash), so two figures per operation:

* smallest heap: the whole heap the process needs, code included (.mpy);
* working set: the smallest clean block, after the code is loaded and the
  inputs are read, in which the operation completes (mem_probe.py --free).

Both are bisected to 1 KiB, then checked upwards: fragmentation makes success
non-monotonic (an operation can complete in 32 KiB, fail in 33 and complete
again in 35), so the figure is the smallest size from which six consecutive
sizes, 1 KiB apart, all complete. Key generation and enrollment use fresh
random keys and fragmentation depends on them, so a repeat can land a few
KiB either side. The enrollment runs against the dev server on loopback (TLS
by the port's Mbed TLS, which on the unix port allocates outside the GC heap;
on rp2/stm32 it allocates from the GC heap, about 40 KiB more during a
handshake).
"""
import argparse
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import BENCH, ROOT, VECTORS, bisect, micropython_exe, mp_env, mpy_dir  # noqa: E402

sys.path.insert(0, ROOT)

PROBE = os.path.join(BENCH, "mem_probe.py")
KIB = 1024
HEAP_START = 128  # KiB: the first upper bound tried; doubled while too small
HEAP_CAP = 4096  # KiB: the largest heap tried
WORK_HEAP = "2M"  # the heap in which the working sets are found
WORK_CAP = 1024  # KiB: the largest working set tried
WINDOW = 6  # a figure holds when it and the next WINDOW - 1 sizes (1 KiB apart) all pass

# (label, op) in table order
OPS = [
    ("import (enrollment modules)", "import"),
    ("P-256 keygen", "keygen"),
    ("P-256 sign", "sign"),
    ("P-256 verify", "verify"),
    ("Ed25519 sign", "ed25519"),
    ("RSA-2048 sign", "rsa"),
    ("CSR (P-256)", "csr"),
    ("enrollment", "enroll"),
]


def _args(op, ctx):
    if op in ("sign", "csr"):
        return [os.path.join(VECTORS, "keys_p256_pkcs8.der")]
    if op == "ed25519":
        return [os.path.join(VECTORS, "keys_ed25519_pkcs8.der")]
    if op == "rsa":
        return [os.path.join(VECTORS, "keys_rsa2048_pkcs8.der")]
    if op == "verify":
        return ctx["verify"]
    if op == "enroll":
        return ctx["enroll"]
    return []


def _verify_args():
    from tinyest import ec, hashes

    with open(os.path.join(VECTORS, "keys_p256_pkcs8.der"), "rb") as f:
        key = ec.from_der(f.read())
    sig = key.sign(b"message")
    return [bytes(key.public_point()).hex(), hashes.sha256(b"message").hex(), bytes(sig).hex()]


class Prober:
    def __init__(self, ctx):
        self.exe = micropython_exe()
        self.ctx = ctx
        d = mpy_dir()
        self.env = mp_env([".frozen"] + ([d] if d else [ROOT]) + [BENCH])
        self.code_from = ".mpy" if d else "source"
        self.runs = 0
        self.modules = {}

    def discover(self, op):
        """The tinyest modules the operation loads (run once in a large heap):
        they are all imported before measuring, so that the working set holds
        no module code."""
        r = self.ok(op, WORK_HEAP, discover=True)
        if r and r.get("modules"):
            self.modules[op] = r["modules"]

    def ok(self, op, heap, free=None, discover=False):
        cmd = [self.exe, "-X", "heapsize=%s" % heap, PROBE]
        mods = self.modules.get("enroll" if op == "import" else op)
        if mods and not discover:
            cmd += ["--modules", mods]
        if free is not None:
            cmd += ["--free", str(free)]
        if discover:
            cmd += ["--discover"]
        cmd += [op] + _args(op, self.ctx)
        self.runs += 1
        try:
            p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            return None
        lines = p.stdout.strip().splitlines()
        if p.returncode == 0 and lines and lines[-1].startswith("OK"):
            return dict(kv.split("=") for kv in lines[-1].split()[1:])
        return None

    def bisect(self, test, lo, cap):
        """Smallest value above lo for which test passes, or None (none up
        to cap). The upper bound starts at HEAP_START and doubles."""
        hi = HEAP_START
        while not test(hi):
            lo = hi
            hi *= 2
            if hi > cap:
                return None
        return self.settle(test, bisect(test, lo, hi), cap)

    def settle(self, test, n, cap):
        """Smallest m >= n such that m, m + 1, ... m + WINDOW - 1 all pass.
        Heap fragmentation makes success non-monotonic: an operation can
        complete in 32 KiB, fail in 33 and complete again in 35."""
        k = 1  # test(n) passed
        while k < WINDOW:
            if test(n + k):
                k += 1
            else:
                n, k = n + k + 1, 0
                if n > cap:
                    return None
        return n

    def measure(self, op):
        first = self.ok(op, WORK_HEAP)
        heap = self.bisect(lambda k: self.ok(op, "%dK" % k) is not None, 4, HEAP_CAP)
        work = None
        if op != "import":
            work = self.bisect(lambda k: self.ok(op, WORK_HEAP, k * KIB) is not None, 0, WORK_CAP)
        return {"code": int(first["code"]) if first else None, "heap_kib": heap, "work_kib": work}


def _cpython_peak(op, ctx):
    """tracemalloc peak of the operation on CPython, its modules (found by a
    first run) imported beforehand."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, BENCH])
    pre = []
    for mode in ("--discover", "--tracemalloc"):
        p = subprocess.run([sys.executable, PROBE] + pre + [mode, op] + _args(op, ctx), env=env,
                           capture_output=True, text=True, timeout=120)
        lines = p.stdout.strip().splitlines()
        if p.returncode != 0 or not lines or not lines[-1].startswith("OK"):
            return None
        out = dict(kv.split("=") for kv in lines[-1].split()[1:])
        if mode == "--discover":
            pre = ["--modules", out["modules"]]
    return int(out["peak"])


def run(jobs=2, log=None):
    from host_tools.devserver import DevServer

    out = {"ops": [], "error": None}
    if micropython_exe() is None:
        out["error"] = "micropython command not found"
        return out
    srv = DevServer()
    srv.add_user("bench", "bench-password")
    srv.start()
    try:
        with tempfile.TemporaryDirectory(prefix="tinyest-bench-mem-") as d:
            ca = os.path.join(d, "ca.der")
            with open(ca, "wb") as f:
                f.write(srv.ca_der)
            ctx = {"verify": _verify_args(),
                   "enroll": ["127.0.0.1", str(srv.port), ca, "bench", "bench-password"]}
            prober = Prober(ctx)
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                list(pool.map(prober.discover, [op for _, op in OPS if op != "import"]))
                results = list(pool.map(prober.measure, [op for _, op in OPS]))
            for (label, op), r in zip(OPS, results):
                r["label"] = label
                r["op"] = op
                r["cpython_peak"] = _cpython_peak(op, ctx) if op != "import" else None
                r["modules"] = prober.modules.get("enroll" if op == "import" else op)
                out["ops"].append(r)
                if log:
                    log("  %-28s heap %s KiB, working set %s KiB" % (label, r["heap_kib"], r["work_kib"]))
            out["code_from"] = prober.code_from
            out["probes"] = prober.runs
    finally:
        srv.stop()
    if srv.errors:
        out["error"] = "dev server faults: %s" % srv.errors[0][-300:]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2, help="probes run in parallel (one per operation)")
    args = ap.parse_args()
    res = run(args.jobs)
    if res["error"]:
        print("bench_memory:", res["error"])
    if not res["ops"]:
        return
    print("MicroPython, modules as %s; %d probe processes" % (res["code_from"], res["probes"]))
    print("%-28s %12s %14s %14s %16s" % ("operation", "code+inputs", "smallest heap", "working set",
                                         "CPython peak"))

    def k(v, unit=1):
        return "-" if v is None else "%.1f KiB" % (v / unit)

    for r in res["ops"]:
        print("%-28s %12s %14s %14s %16s" % (r["label"], k(r["code"], KIB), k(r["heap_kib"]),
                                             k(r["work_kib"]), k(r["cpython_peak"], KIB)))


if __name__ == "__main__":
    main()
