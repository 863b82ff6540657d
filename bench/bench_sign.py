"""Times ECDSA key generation, signing and verification: tinyest.ec under CPython
and under MicroPython (the `micropython` command, run as a subprocess), next to
python-ecdsa and cryptography under CPython. Prints medians in milliseconds and
ratios; it never asserts anything about the figures.

    python bench/bench_sign.py [--runs N] [--heap 4M] [--fresh N] [--heap-scan]

CPython figures are taken with the libraries taking turns in each repetition,
after each library's first use (python-ecdsa precomputes for its generator).

"First vs warm": in a fresh process of each interpreter (CPython, the
`micropython` command, and the board-model builds micropython-64/-32 of
../shared/tools when they are there; MicroPython imports .mpy files made by
mpy-cross, as a device does), the first sign() and the first generate() +
public key, each next to the median of the warm ones that follow in the same
process, and their ratio; the median over --fresh processes.

--heap-scan bisects the smallest MicroPython heap for importing, and for
signing plus verifying on each curve.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tinyest import ec, hashes  # noqa: E402

OPS = [
    ("P-256 keygen", "keygen256"),
    ("P-256 sign", "sign256"),
    ("P-256 verify", "verify256"),
    ("P-384 sign", "sign384"),
    ("P-384 verify", "verify384"),
]
BOARD_MODELS = os.path.join(os.path.dirname(ROOT), "shared", "tools")

# Runs under MicroPython: prints one JSON object of medians (ms).
TINY = r"""
import time, gc, json
from tinyest import ec, hashes

def el(t0):
    return time.ticks_diff(time.ticks_us(), t0) / 1000

def med(f, runs):
    ts = []
    for i in range(runs):
        t0 = time.ticks_us()
        f(i)
        ts.append(el(t0))
    ts.sort()
    return ts[len(ts) // 2]

def main(runs):
    out = {"shapes": [[ec._P256.w, ec._P256.groups], [ec._P384.w, ec._P384.groups]],
           "split": hashes._SPLIT}
    for curve, hname, tag in (("P-256", "sha256", "256"), ("P-384", "sha384", "384")):
        gc.collect()
        key = ec.generate(curve)
        key.public_point()
        if tag == "256":
            out["keygen" + tag] = med(lambda i: ec.generate(curve).public_point(), runs)
        out["sign" + tag] = med(lambda i: key.sign(b"message %d" % i), runs)
        pt = key.public_point()
        sig = key.sign(b"message")
        dg = hashes.new(hname, b"message").digest()
        out["verify" + tag] = med(lambda i: ec.verify(curve, pt, dg, sig), max(3, runs // 3))
    return out
"""

# For --heap-scan: each prints OK when it completes.
HEAP_JOBS = [
    ("import tinyest.ec", "from tinyest import ec\nprint('OK')"),
    ("P-256 sign + verify", "from tinyest import ec, hashes\nk = ec.from_secret(12345)\n"
     "s = k.sign(b'm')\nassert ec.verify('P-256', k.public_point(), hashes.sha256(b'm'), s)\nprint('OK')"),
    ("P-384 sign + verify", "from tinyest import ec, hashes\nk = ec.from_secret(12345, 'P-384')\n"
     "s = k.sign(b'm')\nassert ec.verify('P-384', k.public_point(), hashes.sha384(b'm'), s)\nprint('OK')"),
]


def _find_micropython():
    try:
        from host_tools import find_micropython
    except ImportError:
        return shutil.which("micropython")
    return find_micropython()


def _mpy_dir(tmp):
    """The library compiled to .mpy under tmp (port_micropython/build.py), or None
    without mpy-cross."""
    sys.path.insert(0, os.path.join(ROOT, "port_micropython"))
    try:
        import build
        build.build(tmp)
    except (ImportError, OSError, subprocess.CalledProcessError):
        return None
    return tmp


def _heap_scan():
    """Smallest -X heapsize (KiB) at which each job completes, with the modules
    compiled to .mpy first when mpy-cross is available (as on a device)."""
    import tempfile
    exe = _find_micropython()
    if exe is None:
        print("heap scan: micropython command not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = _mpy_dir(tmp)
        how = ".mpy modules" if path else "source modules"
        env = dict(os.environ)
        env["MICROPYPATH"] = path or ROOT
        print("smallest MicroPython heap (-X heapsize), %s:" % how)
        for label, code in HEAP_JOBS:
            lo, hi = 8, 512
            while hi - lo > 1:
                mid = (lo + hi) // 2
                proc = subprocess.run([exe, "-X", "heapsize=%dK" % mid, "-c", code], env=env,
                                      cwd=tmp, capture_output=True, text=True, timeout=300)
                if proc.stdout.strip().endswith("OK"):
                    hi = mid
                else:
                    lo = mid
            print("  %-22s %d KiB" % (label, hi))


# Runs in a fresh process of any interpreter: the first operation of the
# process, then `runs` warm ones; prints "first median_warm" in ms.
FIRST = r"""
import sys, time
try:
    ticks, diff = time.ticks_us, time.ticks_diff
except AttributeError:
    ticks, diff = (lambda: int(time.perf_counter() * 1e6)), (lambda a, b: a - b)
from tinyest import ec

def el(t0):
    return diff(ticks(), t0) / 1000

def op(i):
    if OP == "sign":
        KEY.sign(b"message %d" % i)
    else:
        ec.generate(CURVE).public_point()

KEY = ec.from_secret(0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721, CURVE)
t0 = ticks()
op(0)
first = el(t0)
ts = []
for i in range(RUNS):
    t0 = ticks()
    op(i + 1)
    ts.append(el(t0))
ts.sort()
print("%.3f %.3f" % (first, ts[len(ts) // 2]))
"""


def _interpreters(mpy):
    """(name, argv, env) of each interpreter at hand; mpy: a .mpy library dir."""
    out = [("CPython", [sys.executable, "-c"], dict(os.environ, PYTHONPATH=ROOT))]
    mp_env = dict(os.environ, MICROPYPATH=mpy or ROOT)
    exe = _find_micropython()
    if exe:
        out.append(("MicroPython", [exe, "-X", "heapsize=4M", "-c"], mp_env))
    for name in ("micropython-64", "micropython-32"):
        path = os.path.join(BOARD_MODELS, name)
        if os.access(path, os.X_OK):
            out.append((name, [path, "-X", "heapsize=4M", "-c"], mp_env))
    return out


def _first_vs_warm(fresh, runs):
    """{(interpreter, curve, op): (first ms, warm ms)}, medians over `fresh`
    processes; a failing interpreter gets the text of its error."""
    import tempfile
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        mpy = _mpy_dir(tmp)
        for name, argv, env in _interpreters(mpy):
            for curve in ("P-256", "P-384"):
                for op in ("sign", "keygen"):
                    code = "CURVE = %r\nOP = %r\nRUNS = %d\n" % (curve, op, runs) + FIRST
                    firsts, warms = [], []
                    for _ in range(fresh):
                        proc = subprocess.run(argv + [code], env=env, cwd=tmp, capture_output=True,
                                              text=True, timeout=600)
                        try:
                            f, w = proc.stdout.split()[-2:]
                            firsts.append(float(f))
                            warms.append(float(w))
                        except ValueError:
                            res[(name, curve, op)] = (proc.stdout + proc.stderr).strip()[-200:]
                            break
                    else:
                        firsts.sort()
                        warms.sort()
                        res[(name, curve, op)] = (firsts[len(firsts) // 2], warms[len(warms) // 2])
    return res


def _print_first_vs_warm(res, fresh, runs):
    names = []
    for name, _, _ in res:
        if name not in names:
            names.append(name)
    print()
    print("first operation of a fresh process vs warm (ms; median of %d processes, warm: median of %d)"
          % (fresh, runs))
    line = "%-30s" % "operation" + "".join(["%-28s" % n for n in names])
    print(line)
    print("-" * len(line))
    for curve in ("P-256", "P-384"):
        for op, label in (("sign", "sign"), ("keygen", "generate + public key")):
            row = "%-30s" % ("%s %s" % (curve, label))
            for n in names:
                v = res.get((n, curve, op))
                if isinstance(v, tuple):
                    cell = "%.2f / %.2f = %.2fx" % (v[0], v[1], v[0] / v[1] if v[1] else 0)
                else:
                    cell = "error"
                row += "%-28s" % cell
            print(row)
    for key, v in sorted(res.items()):
        if not isinstance(v, tuple):
            print("%s %s %s: %s" % (key[0], key[1], key[2], v))
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("(PYTHONDONTWRITEBYTECODE is set: CPython's first use compiles tinyest/ec_p256.py, about 0.3 ms)")


def _tiny_micropython(runs, heap):
    exe = _find_micropython()
    if exe is None:
        return None, "micropython command not found"
    code = TINY + "\nprint(json.dumps(main(%d)))\n" % runs
    env = dict(os.environ)
    env["MICROPYPATH"] = ROOT
    proc = subprocess.run([exe, "-X", "heapsize=" + heap, "-c", code], env=env,
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        return None, (proc.stdout + proc.stderr).strip()[-300:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), ""


def _elapsed(f):
    t0 = time.perf_counter()
    f()
    return (time.perf_counter() - t0) * 1000


def _tiny_setup():
    out, first = {}, {}
    for curve, hname, tag in (("P-256", "sha256", "256"), ("P-384", "sha384", "384")):
        key = ec.generate(curve)
        pt = key.public_point()
        sig = key.sign(b"message")
        dg = hashes.new(hname, b"message").digest()
        out["keygen" + tag] = lambda i, curve=curve: ec.generate(curve).public_point()
        out["sign" + tag] = lambda i, key=key: key.sign(b"message %d" % i)
        out["verify" + tag] = lambda i, curve=curve, pt=pt, dg=dg, sig=sig: ec.verify(curve, pt, dg, sig)
    return out, first


def _ecdsa_setup():
    try:
        import ecdsa
    except ImportError:
        return {}, {}
    out, first = {}, {}
    for curve, h, tag in ((ecdsa.NIST256p, hashlib.sha256, "256"), (ecdsa.NIST384p, hashlib.sha384, "384")):
        sk = ecdsa.SigningKey.generate(curve=curve, hashfunc=h)  # precomputes for its generator
        vk = sk.get_verifying_key()
        sig = sk.sign_deterministic(b"message", hashfunc=h)
        out["keygen" + tag] = lambda i, curve=curve: ecdsa.SigningKey.generate(curve=curve).get_verifying_key().to_string()
        out["sign" + tag] = lambda i, sk=sk, h=h: sk.sign_deterministic(b"message %d" % i, hashfunc=h)
        out["verify" + tag] = lambda i, vk=vk, sig=sig, h=h: vk.verify(sig, b"message", hashfunc=h)
    return out, first


def _crypto_setup():
    try:
        from cryptography.hazmat.primitives import hashes as ch
        from cryptography.hazmat.primitives.asymmetric import ec as cec
    except ImportError:
        return {}, {}
    out = {}
    for curve, h, tag in ((cec.SECP256R1(), ch.SHA256(), "256"), (cec.SECP384R1(), ch.SHA384(), "384")):
        key = cec.generate_private_key(curve)
        pub = key.public_key()
        sig = key.sign(b"message", cec.ECDSA(h))
        out["keygen" + tag] = lambda i, curve=curve: cec.generate_private_key(curve).public_key()
        out["sign" + tag] = lambda i, key=key, h=h: key.sign(b"message %d" % i, cec.ECDSA(h))
        out["verify" + tag] = lambda i, pub=pub, sig=sig, h=h: pub.verify(sig, b"message", cec.ECDSA(h))
    return out, {}


def _cpython(runs):
    """Medians per library and operation, the libraries taking turns within
    each repetition so that drifts of the machine hit them alike."""
    libs = {"tiny-cpy": _tiny_setup(), "ecdsa": _ecdsa_setup(), "crypto": _crypto_setup()}
    results = {name: dict(first) for name, (_, first) in libs.items()}
    for _, key in OPS:
        n = runs if not key.startswith("verify") else max(3, runs // 3)
        times = {name: [] for name in libs}
        for i in range(n):
            for name, (ops, _) in libs.items():
                if key in ops:
                    times[name].append(_elapsed(lambda: ops[key](i)))
        for name, ts in times.items():
            if ts:
                ts.sort()
                results[name][key] = ts[len(ts) // 2]
    return results


def _fmt(v):
    return "-" if v is None else "%.3f" % v


def _ratio(a, b):
    if a is None or b is None or not b:
        return "-"
    return "%.2fx" % (a / b)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=31, help="repetitions per figure (median taken)")
    ap.add_argument("--heap", default="4M", help="MicroPython heap size")
    ap.add_argument("--fresh", type=int, default=3,
                    help="fresh processes per interpreter for first-vs-warm (0: skip)")
    ap.add_argument("--heap-scan", action="store_true",
                    help="also find the smallest MicroPython heap for import, P-256 and P-384 signing")
    args = ap.parse_args()

    results = _cpython(args.runs)
    mp, err = _tiny_micropython(args.runs, args.heap)
    results["tiny-mp"] = mp

    print("median ms over %d runs (verify: %d); CPython %s, %s" % (
        args.runs, max(3, args.runs // 3), sys.version.split()[0],
        "MicroPython heap " + args.heap if mp else "MicroPython: " + err))
    print("tinyest comb shapes (w, groups) for P-256, P-384: CPython %s %s, MicroPython %s;"
          " pure SHA-512 in 32-bit halves on MicroPython: %s"
          % ((ec._P256.w, ec._P256.groups), (ec._P384.w, ec._P384.groups),
             " ".join([str(tuple(x)) for x in mp["shapes"]]) if mp else "-", mp["split"] if mp else "-"))
    cols = ["operation", "tinyest CPy", "tinyest MPy", "py-ecdsa", "cryptography",
            "tiny/ecdsa", "tinyMPy/tinyCPy"]
    widths = [24, 12, 12, 10, 13, 11, 15]
    line = "".join([("%-" + str(w) + "s") % c for c, w in zip(cols, widths)])
    print(line)
    print("-" * len(line))
    for label, key in OPS:
        vals = [(results[k] or {}).get(key) for k in ("tiny-cpy", "tiny-mp", "ecdsa", "crypto")]
        row = [label] + [_fmt(v) for v in vals] + [_ratio(vals[0], vals[2]), _ratio(vals[1], vals[0])]
        print("".join([("%-" + str(w) + "s") % c for c, w in zip(row, widths)]))
    if args.fresh > 0:
        _print_first_vs_warm(_first_vs_warm(args.fresh, max(3, args.runs // 3)), args.fresh,
                             max(3, args.runs // 3))
    if args.heap_scan:
        _heap_scan()


if __name__ == "__main__":
    main()
