"""Bootstrap by fingerprint (RFC 7030 4.1.1) over EST over CoAP and DTLS, on
MicroPython and CPython alike; run by tests/host/test_coaps_bootstrap_host.py
against the dev server's coaps side. No trust anchor is given: the CA
certificate is accepted by its SHA-256 alone.

    coaps_bootstrap.py client PORT FACTORY.der FACTORY_KEY.der GOOD_SHA256 WRONG_SHA256
    coaps_bootstrap.py device PORT FACTORY.der FACTORY_KEY.der SHA256 STORE_DIR

client: a CoapsClient with the factory identity and no anchor asks /crts with
the wrong fingerprint (refused; the client then has no anchor and will not
enroll), then a fresh one with the right fingerprint (accepted), which enrolls
a new P-256 key. device: ``tinyest.device.Device(client=coaps.for_device)`` on a
store holding only the fingerprint, the server and the factory identity steps
until it has bootstrapped and enrolled, then, its clock moved past the renewal
time, until it has renewed. One JSON line per step.
"""
import binascii
import sys
import time

from e2e_io import read, say, step_until_issued
from tinyest import coaps, csr, ec
from tinyest.errors import EstError


def _hex(b):
    return binascii.hexlify(bytes(b)).decode()


def client(port, factory, factory_key, good, wrong):
    events = []
    cl = coaps.CoapsClient("localhost", port, cert=factory, key=factory_key, path="/est", timeout=10,
                           progress=lambda s, d: events.append([s, d]))
    try:
        cl.cacerts(bootstrap_fingerprint=wrong)
        say("wrong", accepted=True)
    except EstError as e:
        say("wrong", accepted=False, error="%s: %s" % (type(e).__name__, e), trust=len(cl.trust),
            session=cl._ep is not None, events=events)
    try:  # no anchor came of it: nothing is sent
        cl.simpleenroll(csr.request(ec.generate("P-256"), "coaps-boot-1", []))
        say("enroll_after_wrong", sent=True)
    except EstError as e:
        say("enroll_after_wrong", sent=False, error="%s: %s" % (type(e).__name__, e))
    events = []
    cl = coaps.CoapsClient("localhost", port, cert=factory, key=factory_key, path="/est", timeout=10,
                           progress=lambda s, d: events.append([s, d]))
    certs = cl.cacerts(bootstrap_fingerprint=good)
    say("cacerts", certs=[_hex(c) for c in certs], trust=[_hex(t) for t in cl.trust],
        anchors=[_hex(a) for a in cl.ca_anchors], verified=cl.bootstrap_server_verified,
        session=cl._ep is not None, events=events)
    key = ec.generate("P-256")
    chain = cl.simpleenroll(csr.request(key, "coaps-boot-1", []))
    cl.close()
    say("enroll", chain=[_hex(c) for c in chain], spki=_hex(key.public_key_der()))


def device(port, factory, factory_key, fp, root):
    from tinyest.device import Device
    from tinyest.store import Credentials, Store

    st = Store(root)
    c = Credentials()
    c.config = {"host": "localhost", "port": port, "label": "/est", "cn": "coaps-boot-2", "fingerprint": fp}
    c.boot_key = factory_key
    c.boot_chain = [factory]
    st.commit(c)
    log = []
    dev = Device(st, client=coaps.for_device, timeout=10, progress=lambda e, d: log.append("%s %s" % (e, d)))
    serials = []

    def report(state, serial, trust, error):
        say("step", state=state, serial=serial, trust=[_hex(t) for t in trust], error=error)

    step_until_issued(dev, st, int(time.time()), serials, report)
    if serials:  # enrolled: now past the renewal time
        step_until_issued(dev, st, dev.renew_at(st.load().chain[0]) + 1, serials, report)
    say("done", certificates=len(serials), state=dev.state,
        bootstrap=[line for line in log if line.startswith("bootstrap")], log=log[-12:])


def main(argv):
    if sys.implementation.name != "micropython":
        from host_tools import dtls

        dtls.install()
    port, factory, factory_key = int(argv[2]), read(argv[3]), read(argv[4])
    if argv[1] == "client":
        client(port, factory, factory_key, argv[5], argv[6])
    else:
        device(port, factory, factory_key, argv[5], argv[6])


try:
    main(sys.argv)
except Exception as e:
    say("failed", error="%s: %s" % (type(e).__name__, e))
