"""One device enrollment, as a whole process: what bench_enroll.py times.

Runs unchanged under MicroPython (MICROPYPATH holding tinyest) and CPython:

    enroll_device.py HOST PORT CA.der USER PASSWORD OUTDIR

Generates a P-256 key, builds and signs a CSR (CN and a DNS name), opens a
verified TLS connection to the EST server, sends /simpleenroll (answering the
server's 401 challenge with the password), checks that the issued certificate
holds the key and chains to CA.der, and writes OUTDIR/key.der (PKCS#8) and
OUTDIR/cert.der. Prints "OK <certificate bytes>" or "FAIL <class> <message>"
(exit status 1).
"""

import sys

from tinyest import ec
from tinyest.client import EstClient
from tinyest.csr_build import CsrBuilder

NAME = "bench-device"


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def enroll(host, port, ca, user, password):
    """(key, issued certificate DER) from one /simpleenroll."""
    key = ec.generate("P-256")
    csr = CsrBuilder().subject([("CN", NAME)]).dns(NAME + ".local").sign(key)
    certs = EstClient(host, port, trust=[ca], auth=(user, password)).simpleenroll(csr)
    return key, certs[0]


def main(argv):
    host, port, ca_path, user, password, out = argv[1:7]
    with open(ca_path, "rb") as f:
        ca = f.read()
    try:
        key, cert = enroll(host, int(port), ca, user, password)
    except Exception as e:  # reported to the host, which decides
        print("FAIL", type(e).__name__, e)
        return 1
    _write(out + "/key.der", key.to_der())
    _write(out + "/cert.der", cert)
    print("OK", len(cert))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
