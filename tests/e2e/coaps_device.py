"""tinyest.device.Device over EST over CoAP (the store's "scheme": "coaps"), on
MicroPython and CPython alike; run by tests/host/test_coaps_host.py.

    coaps_device.py PORT CA.der FACTORY.der FACTORY_KEY.der STORE_DIR

The store is provisioned as a factory would for a CoAP server: trust anchor,
host, port, the resource path as ``label``, a CN, the factory key and chain, no
password. Steps run until the device is enrolled; then its clock is moved past
the renewal time and it steps until it has renewed. One JSON line per step:
{"now": ..., "state": ..., "serial": ..., "error": ..., "delay": what step returned,
"ops": the resources it asked for}, then {"done": ...}.
"""
import json
import sys
import time

from tinyest import x509
from tinyest.device import Device
from tinyest.store import Credentials, Store


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def main(argv):
    if sys.implementation.name != "micropython":
        from host_tools import dtls

        dtls.install()
    port, ca, factory, factory_key, root = int(argv[1]), _read(argv[2]), _read(argv[3]), _read(argv[4]), argv[5]
    st = Store(root)
    c = Credentials()
    c.config = {"host": "localhost", "port": port, "label": "/est", "cn": "coaps-device-1", "scheme": "coaps"}
    c.trust = [ca]
    c.boot_key = factory_key
    c.boot_chain = [factory]
    st.commit(c)
    log = []
    dev = Device(st, timeout=10, progress=lambda e, d: log.append("%s %s" % (e, d)))
    now = int(time.time())
    serials = []
    for phase in ("enroll", "renew"):
        for _ in range(6):
            n = len(log)
            delay = dev.step(now)
            cur = st.load()
            serial = x509.Certificate(cur.chain[0]).serial if cur.enrolled else None
            print(json.dumps({"phase": phase, "now": now, "state": dev.state, "serial": serial,
                              "error": None if dev.error is None else str(dev.error), "delay": delay,
                              "ops": [x.split()[2] for x in log[n:] if x.startswith("request ")]}))
            if serial is not None and serial not in serials:
                serials.append(serial)
                break
            now += 5
        if phase == "enroll":
            if not serials:
                break  # never enrolled: the lines above say why
            # 10 minutes past its renewal time: past the next certificate's too, which
            # the dev CA issues seconds later with the same lifetime
            now = dev.renew_at(st.load().chain[0]) + 600
    print(json.dumps({"done": len(serials), "state": dev.state}))
    print(json.dumps({"log": log[-12:]}))


main(sys.argv)
