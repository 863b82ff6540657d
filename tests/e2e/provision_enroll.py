"""A freshly provisioned device's first use of its credentials, for the
provisioning tests. Runs under MicroPython (and CPython):

    micropython tests/e2e/provision_enroll.py STORE_DIR CN

Loads the credential store written by ``tinyest-provision`` and talks to the EST
server named in it, trusting only the stored trust anchors: with a bootstrap
password or a factory certificate (IDevID) it enrolls a new P-256 key
(simpleenroll); with a certificate already enrolled by the station it renews it
(simplereenroll, TLS client authentication). The new key and certificate are
committed to the store. Prints one JSON line: {"op", "cert" (hex DER), "auth",
"gen", "boot_password_left"} or {"error": "Type: message"}.
"""

import binascii
import json
import sys

from tinyest import ec
from tinyest.client import EstClient
from tinyest.csr import CsrBuilder
from tinyest.store import Store


def run(root, cn):
    store = Store(root)
    c = store.load()
    cfg = c.config
    kw = {"trust": c.trust}
    if cfg.get("label"):
        kw["label"] = cfg["label"]
    if c.enrolled:
        op, auth = "simplereenroll", "certificate"
        kw["cert"], kw["key"] = c.chain[0], c.key_der
    elif c.boot_password is not None:
        op, auth = "simpleenroll", "password"
        kw["auth"] = (c.boot_user, c.boot_password)
    elif c.boot_key is not None:
        op, auth = "simpleenroll", "idevid"
        kw["cert"], kw["key"] = c.boot_chain[0], c.boot_key
    else:
        return {"error": "no credential in the store"}
    key = ec.generate("P-256")
    csr = CsrBuilder().subject([("CN", cn)]).sign(key)
    client = EstClient(cfg["host"], cfg["port"], timeout=20, **kw)
    certs = getattr(client, op)(csr)
    after = store.commit_enrollment(key.to_der(), [bytes(x) for x in certs])
    return {"op": op, "auth": auth, "cert": binascii.hexlify(bytes(certs[0])).decode(),
            "gen": after.generation, "boot_password_left": store.load().boot_password is not None}


def main(argv):
    try:
        out = run(argv[1], argv[2])
    except Exception as e:  # reported to the test, which decides
        out = {"error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
