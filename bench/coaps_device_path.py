"""The coaps device path of a mip-installed board, as one MicroPython program:
``tinyest.device.Device`` over EST over CoAP, configured as
``tinyest-provision --server coaps://...`` leaves a store (anchor, factory key
and certificate, ``"scheme": "coaps"``), importing only what
``port_micropython/main.py`` imports (the device and the store).

    coaps_device_path.py PORT CA.der FACTORY.der FACTORY_KEY.der STORE_DIR

Steps until enrolled (crts, sen with the factory certificate), moves the clock
past the renewal time and steps until renewed (crts, sren with its own
certificate). Run it under ``micropython -X heapsize=N`` with the .mpy files on
MICROPYPATH; it prints "OK" or "FAIL <error>". Measured by bench/bench_coaps.py --heap.
"""
import sys
import time

from tinyest.device import Device
from tinyest.store import Credentials, Store


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def main(argv):
    st = Store(argv[5])
    c = Credentials()
    c.config = {"host": "localhost", "port": int(argv[1]), "label": "/est", "cn": "fit-coaps", "scheme": "coaps"}
    c.trust = [_read(argv[2])]
    c.boot_chain = [_read(argv[3])]
    c.boot_key = _read(argv[4])
    st.commit(c)
    c = None
    dev = Device(st, timeout=10)
    now = int(time.time())
    first = None
    for _ in range(12):
        dev.step(now)
        cur = st.load()
        if cur.enrolled:
            if first is None:  # enrolled: to the renewal time, and past it
                first = bytes(cur.chain[0])
                now = dev.renew_at(first) + 600
                continue
            if bytes(cur.chain[0]) != first:
                print("OK")
                return
        cur = None
        now += 5
    print("FAIL %s %s" % (dev.state, dev.error))


try:
    main(sys.argv)
except MemoryError as e:
    print("FAIL MemoryError %s" % e)
