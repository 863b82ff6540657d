"""The device side of ``tinyest demo``: one device's life against an EST server.

Runs unchanged under MicroPython (unix port, ``MICROPYPATH`` set to the
repository root) and CPython; it uses only the tinyest core and modules every
MicroPython port has.

    demo_device.py HOST PORT CA_SHA256_HEX USER PASSWORD WORKDIR

Steps: bootstrap /cacerts (accepted only for the provisioned CA fingerprint),
keygen (P-256), enroll (one-time password), reenroll (TLS client certificate,
new key, same subject and SAN), serverkeygen (authenticated by the new
certificate). Each step prints ``STEP name milliseconds detail``; a failure
prints ``FAIL message`` and exits 1. The credentials end up in WORKDIR.
"""

import binascii
import hashlib
import sys

from tinyest import ec, runtime
from tinyest.client import EstClient
from tinyest.csr_build import CsrBuilder
from tinyest.x509 import Certificate

NAME = "demo-device"


def _save(workdir, name, data):
    with open(workdir + "/" + name, "wb") as f:
        f.write(data)


def _cert_text(der):
    c = Certificate(der)
    return "%s, serial %x" % (c.subject, c.serial)


def _csr(key):
    return CsrBuilder().subject([("CN", NAME)]).dns(NAME + ".local").sign(key)


def main(argv):
    host, port_no, fp_hex, user, password, workdir = argv[1:7]
    port_no = int(port_no)
    fingerprint = binascii.unhexlify(fp_hex)
    state = {}
    impl = sys.implementation
    print("RUNTIME %s %s" % (impl.name, ".".join(str(v) for v in impl.version[:3])))

    def bootstrap():
        certs = EstClient(host, port_no, trust=[]).cacerts(bootstrap_fingerprint=fingerprint)
        for c in certs:
            if hashlib.sha256(bytes(c)).digest() == fingerprint:
                state["ta"] = bytes(c)
        if "ta" not in state:
            raise ValueError("no certificate with the provisioned fingerprint")
        _save(workdir, "ca.der", state["ta"])
        return "%d certificate(s), fingerprint matched" % len(certs)

    def keygen():
        state["key"] = ec.generate("P-256")
        state["key"].public_key_der()       # derive the public point now, inside the timing
        _save(workdir, "key.der", state["key"].to_der())
        return "P-256 key"

    def enroll():
        client = EstClient(host, port_no, trust=[state["ta"]], auth=(user, password))
        certs = client.simpleenroll(_csr(state["key"]))
        state["cert"] = bytes(certs[0])
        _save(workdir, "cert.der", state["cert"])
        return _cert_text(state["cert"])

    def reenroll():
        new_key = ec.generate("P-256")
        client = EstClient(host, port_no, trust=[state["ta"]], cert=state["cert"],
                           key=state["key"].to_der())
        certs = client.simplereenroll(_csr(new_key))
        state["key"], state["cert"] = new_key, bytes(certs[0])
        _save(workdir, "key.der", new_key.to_der())
        _save(workdir, "cert.der", state["cert"])
        return "new key, " + _cert_text(state["cert"])

    def serverkeygen():
        client = EstClient(host, port_no, trust=[state["ta"]], cert=state["cert"],
                           key=state["key"].to_der())
        key_der, certs = client.serverkeygen(_csr(state["key"]))
        _save(workdir, "server-key.der", bytes(key_der))
        c = Certificate(certs[0])
        kind = c.key_type if c.key_bits is None else "%s %d" % (c.key_type, c.key_bits)
        return "%s key (%d bytes) + certificate %s" % (kind, len(key_der), c.subject)

    for name, fn in (("bootstrap", bootstrap), ("keygen", keygen), ("enroll", enroll),
                     ("reenroll", reenroll), ("serverkeygen", serverkeygen)):
        t = runtime.ticks()
        try:
            detail = fn()
        except Exception as e:      # reported to the host, which decides
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            return 1
        print("STEP %s %d %s" % (name, int(runtime.elapsed(t) * 1000), detail))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
