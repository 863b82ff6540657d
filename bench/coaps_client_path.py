"""The device path of bench/device_path.py over EST over CoAP, as one MicroPython
program: tinyest.coaps.CoapsClient instead of EstClient, a factory
certificate instead of a password (EST-coaps has none), nothing else changed.

    coaps_client_path.py full  PORT CA.der FACTORY.der FACTORY_KEY.der STORE_DIR
    coaps_client_path.py renew PORT CA.der STORE_DIR

full: /crts, a new P-256 key and CSR, /sen with the factory certificate as the
DTLS identity, the key and certificate committed to the store, then /sren
with that certificate and a new key, committed. renew: /sren alone, with the
key and certificate loaded from the store, a new key, committed. As
device_path.py: ``tinyest.unload()`` before each request once nothing holds a
key or a certificate, the collector every 4 KiB allocated; the client ends
its DTLS session after each request (``keep=False``, as a Device's does).
Run it under ``micropython -X heapsize=N`` with the .mpy files on MICROPYPATH;
it prints "OK <free-bytes>" or "FAIL <error>". Measured by
bench/bench_coaps.py --heap, beside the Device's own path.
"""
import gc
import sys

import tinyest


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _request(cur=None):
    from tinyest import csr, ec

    key = ec.generate("P-256")
    req = csr.renewal(cur, key) if cur else csr.request(key, "fit-coaps", "fit-coaps.local")
    return key.to_der(), req


def _client(port, ca, cert, key):
    from tinyest.coaps import CoapsClient

    return CoapsClient("localhost", port, [ca], cert, key, "/est", 10, keep=False)


def _renew(port, ca, store):
    c = store.load()
    cl = _client(port, ca, c.chain[0], c.key_der)
    key_der, req = _request(c.chain[0])
    c = None
    tinyest.unload()
    gc.collect()
    chain = cl.simplereenroll(req)
    cl = req = None
    gc.collect()
    store.commit_enrollment(key_der, chain)


def main(argv):
    from tinyest import runtime
    from tinyest.store import Store

    runtime.gc_every(4096)
    op, port, ca = argv[1], int(argv[2]), _read(argv[3])
    if op == "full":
        store = Store(argv[6])
        cl = _client(port, ca, _read(argv[4]), _read(argv[5]))
        cl.cacerts()
        tinyest.unload()
        gc.collect()
        key_der, req = _request()
        tinyest.unload()
        gc.collect()
        chain = cl.simpleenroll(req)
        cl = req = None
        gc.collect()
        store.commit_enrollment(key_der, chain)
        chain = None
        tinyest.unload()
        gc.collect()
    else:
        store = Store(argv[4])
    _renew(port, ca, store)
    gc.collect()
    print("OK", gc.mem_free())


try:
    main(sys.argv)
except MemoryError as e:
    print("FAIL MemoryError", e)
except Exception as e:  # the probe reports; the driver decides
    print("FAIL", type(e).__name__, e)
