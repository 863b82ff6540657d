"""How parsing cost grows with input: PKCS#7 certs-only messages of 1, 2, 4,
... 64 certificates, and the DER reader's throughput over a large structure.
tinyest under CPython and under MicroPython (the `micropython` command, as a
subprocess); cryptography's PKCS#7 loader beside them for scale. Prints the
figures; it never asserts anything about them.

    python bench/bench_scaling.py [--runs N]

Per chain length: the median time of ``pkcs7.certificates(der)`` (slices of
the input, nothing decoded) and of ``pkcs7.load(der)`` (every certificate
parsed into an ``x509.Certificate``), and the memory each takes: the
tracemalloc peak on CPython, and on MicroPython every byte allocated during
the call with the collector disabled (so nothing is freed: an upper bound of
the live peak). The heap is collected before each timed MicroPython call. A
parser that copied certificates would show allocation growing with the
input's size; slices show a small constant per certificate.

DER throughput: a SEQUENCE of certificates of about 1 MiB (256 KiB under
MicroPython), walked to the last element with ``der.Reader`` (every
constructed element entered, every primitive read as a slice); the
tracemalloc peak of the walk on CPython.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import ROOT, median, micropython_exe  # noqa: E402

sys.path.insert(0, ROOT)

from tinyest import der, pkcs7, pkcs7_write  # noqa: E402

SIZES = (1, 2, 4, 8, 16, 32, 64)
BIG_CPY = 1 << 20
BIG_MP = 1 << 18

# Runs under MicroPython with the message files in DIR; prints one JSON object.
TINY = r"""
import gc, json, sys, time
from tinyest import der, pkcs7

def walk(r):
    n = 0
    while not r.empty():
        t = r.peek_tag()
        if t & 0x20:
            n += walk(r.enter(t)) + 1
        else:
            r.read_any()
            n += 1
    return n

def timed(f, runs):
    ts = []
    for i in range(runs):
        gc.collect()
        t0 = time.ticks_us()
        f()
        ts.append(time.ticks_diff(time.ticks_us(), t0) / 1e6)
    ts.sort()
    return ts[len(ts) // 2]

def allocated(f):
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    keep = f()
    b = gc.mem_alloc()
    gc.enable()
    keep = None
    return b - a

def read(path):
    with open(path, "rb") as f:
        return f.read()

def main(d, sizes, runs):
    out = {"p7": {}}
    for n in sizes:
        data = read("%s/p7_%d.der" % (d, n))
        out["p7"][str(n)] = {
            "certs_s": timed(lambda: pkcs7.certificates(data), runs),
            "load_s": timed(lambda: pkcs7.load(data), runs),
            "certs_alloc": allocated(lambda: pkcs7.certificates(data)),
            "load_alloc": allocated(lambda: pkcs7.load(data)),
        }
    big = read(d + "/big_mp.der")
    n = walk(der.top(big))
    out["walk"] = {"bytes": len(big), "elements": n, "s": timed(lambda: walk(der.top(big)), 3)}
    return out

print(json.dumps(main(sys.argv[1], [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]))))
"""


def walk(r):
    """Elements under Reader r, entering every constructed one."""
    n = 0
    while not r.empty():
        t = r.peek_tag()
        if t & 0x20:
            n += walk(r.enter(t)) + 1
        else:
            r.read_any()
            n += 1
    return n


def make_certs(count):
    """``count`` distinct certificates (DER) as a public-facing RSA CA issues
    them: an RSA-2048 root and leaves it signs (one RSA-2048 leaf key,
    distinct names and serials) with a DNS name, key usages, key identifiers,
    a CRL distribution point and authority information access."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    root_key = rsa.generate_private_key(65537, 2048)
    leaf_key = rsa.generate_private_key(65537, 2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "XX"),
                           x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tinyest bench"),
                           x509.NameAttribute(NameOID.COMMON_NAME, "bench root")])
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key())

    def cert(name, key, ca):
        b = (x509.CertificateBuilder().subject_name(name).issuer_name(root_name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
             .add_extension(aki, critical=False))
        if not ca:
            host = name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value + ".devices.example"
            b = (b.add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                 .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False),
                                critical=True)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                 .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                     [x509.UniformResourceIdentifier("http://crl.example/bench-root.crl")],
                     None, None, None)]), critical=False)
                 .add_extension(x509.AuthorityInformationAccess([
                     x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                            x509.UniformResourceIdentifier("http://ocsp.example")),
                     x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                            x509.UniformResourceIdentifier(
                                                "http://pki.example/bench-root.der"))]), critical=False))
        return b.sign(root_key, hashes.SHA256()).public_bytes(Encoding.DER)

    out = [cert(root_name, root_key, True)]
    for i in range(count - 1):
        out.append(cert(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tinyest bench"),
                                   x509.NameAttribute(NameOID.COMMON_NAME, "device-%03d" % i)]),
                        leaf_key, False))
    return out


def big_structure(certs, size):
    """A SEQUENCE of certificates (repeated) of at least ``size`` bytes."""
    parts, total, i = [], 0, 0
    while total < size:
        c = certs[i % len(certs)]
        parts.append(c)
        total += len(c)
        i += 1
    return der.seq(*parts)


def _timed(f, runs):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return median(ts)


def _peak(f):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    keep = f()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del keep
    return peak


def cpython(messages, big, runs):
    from cryptography.hazmat.primitives.serialization import pkcs7 as cpkcs7

    out = {"p7": {}}
    for n, data in messages.items():
        pkcs7.certificates(data)
        out["p7"][str(n)] = {
            "bytes": len(data),
            "certs_s": _timed(lambda: pkcs7.certificates(data), runs),
            "load_s": _timed(lambda: pkcs7.load(data), runs),
            "crypto_s": _timed(lambda: cpkcs7.load_der_pkcs7_certificates(data), runs),
            "certs_alloc": _peak(lambda: pkcs7.certificates(data)),
            "load_alloc": _peak(lambda: pkcs7.load(data)),
        }
    n = walk(der.top(big))
    out["walk"] = {"bytes": len(big), "elements": n, "s": _timed(lambda: walk(der.top(big)), 5),
                   "alloc": _peak(lambda: walk(der.top(big)))}
    return out


def micropython(workdir, runs, heap="4M"):
    exe = micropython_exe()
    if exe is None:
        return None, "micropython command not found"
    script = os.path.join(workdir, "scaling_mp.py")
    with open(script, "w") as f:
        f.write(TINY)
    env = dict(os.environ)
    env["MICROPYPATH"] = ROOT
    proc = subprocess.run([exe, "-X", "heapsize=" + heap, script, workdir,
                           ",".join(str(n) for n in SIZES), str(runs)],
                          env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return None, (proc.stdout + proc.stderr).strip()[-300:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), ""


def run(runs=21):
    certs = make_certs(max(SIZES))
    # Certificates in DER SET OF order, so that cryptography's strict DER
    # parser takes each message at once (it re-parses as BER otherwise).
    messages = {n: pkcs7_write.encode_certs_only(sorted(certs[:n])) for n in SIZES}
    with tempfile.TemporaryDirectory(prefix="tinyest-bench-scaling-") as d:
        for n, data in messages.items():
            with open(os.path.join(d, "p7_%d.der" % n), "wb") as f:
                f.write(data)
        with open(os.path.join(d, "big_mp.der"), "wb") as f:
            f.write(big_structure(certs, BIG_MP))
        cpy = cpython(messages, big_structure(certs, BIG_CPY), runs)
        mp, err = micropython(d, runs)
    return {"sizes": list(SIZES), "cert_bytes": sum(len(c) for c in certs) / len(certs),
            "cpy": cpy, "mp": mp, "mp_error": err}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21, help="repetitions per figure (median taken)")
    args = ap.parse_args()
    res = run(args.runs)
    cpy, mp = res["cpy"], res["mp"] or {"p7": {}}
    print("PKCS#7 certs-only, certificates of %.0f bytes on average; times in microseconds"
          % res["cert_bytes"])
    print("%5s %8s | %10s %10s %10s %10s %12s | %10s %10s %10s %10s"
          % ("certs", "bytes", "CPy certs", "CPy load", "crypto", "CPy peak", "CPy load pk",
             "MPy certs", "MPy load", "MPy alloc", "MPy load al"))
    for n in res["sizes"]:
        c = cpy["p7"][str(n)]
        m = mp["p7"].get(str(n), {})

        def us(v):
            return "-" if v is None else "%.1f" % (v * 1e6)

        print("%5d %8d | %10s %10s %10s %10d %12d | %10s %10s %10s %10s"
              % (n, c["bytes"], us(c["certs_s"]), us(c["load_s"]), us(c["crypto_s"]),
                 c["certs_alloc"], c["load_alloc"], us(m.get("certs_s")), us(m.get("load_s")),
                 m.get("certs_alloc", "-"), m.get("load_alloc", "-")))
    for name, w in (("CPython", cpy["walk"]), ("MicroPython", (res["mp"] or {}).get("walk"))):
        if w:
            print("DER walk %-12s %7d bytes, %6d elements: %.2f MB/s, %.0f elements/s%s"
                  % (name, w["bytes"], w["elements"], w["bytes"] / w["s"] / 1e6, w["elements"] / w["s"],
                     ", peak %d bytes" % w["alloc"] if "alloc" in w else ""))
    if res["mp"] is None:
        print("MicroPython:", res["mp_error"])


if __name__ == "__main__":
    main()
