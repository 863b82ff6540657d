"""EST over CoAP with tinyest.coaps.CoapsClient against the dev server's coaps
side (host_tools.devserver.coaps), on MicroPython and CPython alike; run by
tests/host/test_coaps_host.py.

    coaps_est.py [--ack-timeout SECONDS] PORT CA.der FACTORY.der FACTORY_KEY.der [PATH]

A device with a factory certificate discovers the EST resources, fetches the CA
certificates, enrolls a new P-256 key (waiting out a 5.03 as the server asks)
with a CSR of over 1024 octets (36 DNS names: it goes in Block1 blocks), then
renews with the certificate it got and another new key, told the resources are
at PATH (absent: the client's default, /.well-known/est), reads the CSR
attributes and has the server make a key (skg). --ack-timeout sets the CoAP
retransmission timeout of its clients (coap.Endpoint's ack_timeout; 2 s by
default), for a lossy link. One JSON line per step: {"step": ..., ...}, or
{"step": "failed", "error": ...}.
"""
import binascii
import json
import sys
import time

from tinyest import csr, ec
from tinyest.coaps import CoapsClient
from tinyest.errors import RetryLater


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _hex(b):
    return binascii.hexlify(bytes(b)).decode()


def say(step, **kw):
    kw["step"] = step
    print(json.dumps(kw))


def client(ack, *a, **kw):
    """A CoapsClient, its DTLS session open, retransmitting after ``ack`` s when given."""
    cl = CoapsClient(*a, **kw)
    if ack:
        cl._endpoint().ack_timeout = ack
    return cl


def main(argv):
    if sys.implementation.name != "micropython":
        from host_tools import dtls

        dtls.install()
    ack = None
    if argv[1] == "--ack-timeout":
        ack = float(argv[2])
        argv = argv[:1] + argv[3:]
    port, ca = int(argv[1]), _read(argv[2])
    events = []
    cl = client(ack, "localhost", port, trust=[ca], cert=_read(argv[3]), key=_read(argv[4]), path="/nowhere",
                timeout=10, progress=lambda s, d: events.append(s))
    say("discover", paths=cl.discover())
    say("cacerts", certs=[_hex(c) for c in cl.cacerts()])
    key = ec.generate("P-256")
    req = csr.request(key, "coaps-device-1", ["coaps-device-1-%02d.example" % i for i in range(36)])
    waited = 0
    for _ in range(3):
        try:
            chain = cl.simpleenroll(req)
            break
        except RetryLater as e:
            waited += e.seconds
            time.sleep(e.seconds)
    say("enroll", chain=[_hex(c) for c in chain], waited=waited, spki=_hex(key.public_key_der()), csr=len(req))
    cl.close()
    kw = {"path": argv[5]} if len(argv) > 5 else {}
    cl = client(ack, "localhost", port, trust=[ca], cert=chain[0], key=key.to_der(), timeout=10, **kw)
    key2 = ec.generate("P-256")
    req = csr.renewal(chain[0], key2)
    chain2 = cl.simplereenroll(req)
    say("reenroll", chain=[_hex(c) for c in chain2], spki=_hex(key2.public_key_der()), csr=len(req))
    attrs = cl.csrattrs()
    say("csrattrs", key_type=attrs.key_type, curve=attrs.curve)
    req = csr.renewal(chain2[0], key2)
    key_der, chain3 = cl.serverkeygen(req)
    from tinyest import keys

    say("serverkeygen", chain=[_hex(c) for c in chain3], spki=_hex(keys.load_private(key_der).public_key_der()),
        csr=len(req))
    cl.close()
    say("done", events=sorted(set(events)))


try:
    main(sys.argv)
except Exception as e:
    say("failed", error="%s: %s" % (type(e).__name__, e))
