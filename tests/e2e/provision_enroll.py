"""A freshly provisioned device's first use of its credentials, for the
provisioning tests. Runs under MicroPython (and CPython):

    micropython tests/e2e/provision_enroll.py STORE_DIR

Loads the credential store written by ``tinyest-provision``. With a bootstrap
password or a factory certificate (IDevID) it runs one step of the device's own
state machine (``tinyest.device.Device``, as ``port_micropython/main.py`` does),
which takes the EST server, the trust anchors and the identity (cn, dns) from the
store alone and enrolls a new P-256 key (simpleenroll). With a certificate already
enrolled by the station it renews it (simplereenroll, TLS client authentication).
Prints one JSON line: {"op", "cert" (hex DER), "cn" (of the issued certificate),
"auth", "gen", "boot_password_left"} or {"error": "Type: message"}.
"""

import binascii
import json
import sys

from tinyest import ec, x509
from tinyest.client import EstClient
from tinyest.csr import renewal
from tinyest.device import Device
from tinyest.store import Store


def _cn(cert):
    for part in x509.Certificate(cert).subject.split(","):
        if part.strip().startswith("CN="):
            return part.strip()[3:]
    return None


def renew(store, c):
    cfg = c.config
    kw = {"trust": c.trust, "cert": c.chain[0], "key": c.key_der}
    if cfg.get("label"):
        kw["label"] = cfg["label"]
    key = ec.generate("P-256")
    client = EstClient(cfg["host"], cfg["port"], timeout=20, **kw)
    certs = client.simplereenroll(renewal(c.chain[0], key))
    return store.commit_enrollment(key.to_der(), [bytes(x) for x in certs])


def run(root):
    store = Store(root)
    c = store.load()
    if c.enrolled:
        op, auth = "simplereenroll", "certificate"
        renew(store, c)
    elif c.boot_password is not None or c.boot_key is not None:
        op, auth = "simpleenroll", "password" if c.boot_password is not None else "idevid"
        events = []
        dev = Device(store, progress=lambda e, d: events.append("%s %s" % (e, d)), timeout=20)
        dev.step()
        if dev.error is not None or not store.load().enrolled:
            return {"error": "%s: %s (%s)" % (type(dev.error).__name__, dev.error, "; ".join(events[-3:]))}
    else:
        return {"error": "no credential in the store"}
    after = store.load()
    cert = bytes(after.chain[0])
    return {"op": op, "auth": auth, "cert": binascii.hexlify(cert).decode(), "cn": _cn(cert),
            "gen": after.generation, "boot_password_left": after.boot_password is not None}


def main(argv):
    try:
        out = run(argv[1])
    except Exception as e:  # reported to the test, which decides
        out = {"error": "%s: %s" % (type(e).__name__, e)}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)
