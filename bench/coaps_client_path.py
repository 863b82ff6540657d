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
its DTLS session after each request (``keep=False``, as a Device's does) and
its ``release`` then forgets the transport (tinyest.coap, tinyest.dtls).
Run it under ``micropython -X heapsize=N`` with the .mpy files on MICROPYPATH;
it prints "OK <free-bytes>" or "FAIL <error>". Measured by
bench/bench_coaps.py --heap, beside the Device's own path.
"""

import sys

import device_path  # beside this file (sys.path[0])


def main(argv):
    from tinyest.store import Store

    op, port, ca = argv[1], int(argv[2]), device_path._read(argv[3])

    def make(cert, key):
        from tinyest.coaps import CoapsClient

        return CoapsClient("localhost", port, [ca], cert, key, "/est", 10, keep=False, release=device_path._release)

    if op == "full":
        device_path.run(op, make, Store(argv[6]), cert=device_path._read(argv[4]), key=device_path._read(argv[5]))
    else:
        device_path.run(op, make, Store(argv[4]))


device_path.probe(main, sys.argv)
