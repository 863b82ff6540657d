"""Times Ed25519 and RSA-2048 (PKCS#1 v1.5, SHA-256) signing and verification:
tinyest under CPython and under MicroPython (the `micropython` command, as a
subprocess), next to python-ecdsa (Ed25519 only: it has no RSA) and
cryptography under CPython. The companion of bench_sign.py, which does ECDSA.
Prints medians in milliseconds; it never asserts anything about the figures.

    python bench/bench_sign_other.py [--runs N] [--heap 4M]

Every library signs with the same keys (the RSA key is
tests/vectors/keys_rsa2048_pkcs8.der) and the same messages. On CPython the
libraries take turns within each repetition; each key is used once before
timing starts (tinyest's Ed25519 base-point table is built then).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import ROOT, VECTORS, median, micropython_exe  # noqa: E402

sys.path.insert(0, ROOT)

RSA_KEY = os.path.join(VECTORS, "keys_rsa2048_pkcs8.der")
ED_SEED = bytes(range(32))

OPS = [
    ("Ed25519 sign", "ed_sign"),
    ("Ed25519 verify", "ed_verify"),
    ("RSA-2048 sign", "rsa_sign"),
    ("RSA-2048 verify", "rsa_verify"),
]

# Runs under MicroPython: prints one JSON object of medians (ms).
TINY = r"""
import time, json, gc
from tinyest import ed25519, rsa, hashes

def med(f, runs):
    f(0)
    ts = []
    for i in range(runs):
        t0 = time.ticks_us()
        f(i)
        ts.append(time.ticks_diff(time.ticks_us(), t0) / 1000)
    ts.sort()
    return ts[len(ts) // 2]

def main(runs, seed, rsa_path):
    out = {}
    ek = ed25519.from_secret(seed)
    pub = ek.public_bytes()
    esig = ek.sign(b"message")
    out["ed_sign"] = med(lambda i: ek.sign(b"message %d" % i), runs)
    out["ed_verify"] = med(lambda i: ed25519.verify(pub, b"message", esig), runs)
    with open(rsa_path, "rb") as f:
        rk = rsa.from_der(f.read())
    n, e = rk.public_numbers()
    rsig = rk.sign(b"message")
    dg = hashes.sha256(b"message")
    out["rsa_sign"] = med(lambda i: rk.sign(b"message %d" % i), runs)
    out["rsa_verify"] = med(lambda i: rsa.verify(n, e, "sha256", dg, rsig), runs)
    return out
"""


def tiny_micropython(runs, heap="4M"):
    """Medians (ms) under MicroPython, or (None, reason)."""
    exe = micropython_exe()
    if exe is None:
        return None, "micropython command not found"
    code = TINY + "\nprint(json.dumps(main(%d, %r, %r)))\n" % (runs, ED_SEED, RSA_KEY)
    env = dict(os.environ)
    env["MICROPYPATH"] = ROOT
    proc = subprocess.run([exe, "-X", "heapsize=" + heap, "-c", code], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return None, (proc.stdout + proc.stderr).strip()[-300:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), ""


def _tiny_setup():
    import hashlib

    from tinyest import ed25519, rsa

    ek = ed25519.from_secret(ED_SEED)
    pub = ek.public_bytes()
    esig = ek.sign(b"message")
    with open(RSA_KEY, "rb") as f:
        rk = rsa.from_der(f.read())
    n, e = rk.public_numbers()
    rsig = rk.sign(b"message")
    dg = hashlib.sha256(b"message").digest()
    return {
        "ed_sign": lambda i: ek.sign(b"message %d" % i),
        "ed_verify": lambda i: ed25519.verify(pub, b"message", esig),
        "rsa_sign": lambda i: rk.sign(b"message %d" % i),
        "rsa_verify": lambda i: rsa.verify(n, e, "sha256", dg, rsig),
    }


def _ecdsa_setup():
    try:
        import ecdsa
    except ImportError:
        return {}
    sk = ecdsa.SigningKey.from_string(ED_SEED, curve=ecdsa.Ed25519)
    vk = sk.get_verifying_key()
    sig = sk.sign(b"message")
    return {
        "ed_sign": lambda i: sk.sign(b"message %d" % i),
        "ed_verify": lambda i: vk.verify(sig, b"message"),
    }


def _crypto_setup():
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519, padding
    except ImportError:
        return {}
    ek = ed25519.Ed25519PrivateKey.from_private_bytes(ED_SEED)
    epub = ek.public_key()
    esig = ek.sign(b"message")
    with open(RSA_KEY, "rb") as f:
        rk = serialization.load_der_private_key(f.read(), None)
    rpub = rk.public_key()
    rsig = rk.sign(b"message", padding.PKCS1v15(), hashes.SHA256())
    return {
        "ed_sign": lambda i: ek.sign(b"message %d" % i),
        "ed_verify": lambda i: epub.verify(esig, b"message"),
        "rsa_sign": lambda i: rk.sign(b"message %d" % i, padding.PKCS1v15(), hashes.SHA256()),
        "rsa_verify": lambda i: rpub.verify(rsig, b"message", padding.PKCS1v15(), hashes.SHA256()),
    }


def cpython(runs):
    """{library: {op: median ms}} with the libraries taking turns in each
    repetition, so that drifts of the machine hit them alike."""
    libs = {"tiny-cpy": _tiny_setup(), "ecdsa": _ecdsa_setup(), "crypto": _crypto_setup()}
    for ops in libs.values():
        for f in ops.values():
            f(0)  # first use outside the timing
    results = {name: {} for name in libs}
    for _, key in OPS:
        times = {name: [] for name in libs}
        for i in range(runs):
            for name, ops in libs.items():
                if key in ops:
                    t0 = time.perf_counter()
                    ops[key](i)
                    times[name].append((time.perf_counter() - t0) * 1000)
        for name, ts in times.items():
            if ts:
                results[name][key] = median(ts)
    return results


def run(runs=31, heap="4M"):
    results = cpython(runs)
    mp, err = tiny_micropython(runs, heap)
    results["tiny-mp"] = mp
    results["mp_error"] = err
    return results


def _fmt(v):
    return "-" if v is None else "%.3f" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=31, help="repetitions per figure (median taken)")
    ap.add_argument("--heap", default="4M", help="MicroPython heap size")
    args = ap.parse_args()
    res = run(args.runs, args.heap)
    print("median ms over %d runs; CPython %s, %s" % (
        args.runs, sys.version.split()[0],
        "MicroPython heap " + args.heap if res["tiny-mp"] else "MicroPython: " + res["mp_error"]))
    cols = ("tiny-cpy", "tiny-mp", "ecdsa", "crypto")
    print("%-18s%14s%14s%12s%14s" % ("operation", "tinyest CPy", "tinyest MPy", "py-ecdsa", "cryptography"))
    for label, key in OPS:
        print("%-18s%14s%14s%12s%14s" % ((label,) + tuple(_fmt((res[c] or {}).get(key)) for c in cols)))


if __name__ == "__main__":
    main()
