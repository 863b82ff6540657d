"""The smallest device program for one EST operation, to measure the heap it
needs under MicroPython.

    heap_probe.py [--free N] cacerts HOST PORT TA.der
    heap_probe.py [--free N] simpleenroll HOST PORT TA.der USER PASSWORD CSR.der

Run it under ``micropython -X heapsize=H`` to find the smallest whole heap.
On the unix port module bytecode lives in the heap (a board runs frozen
modules from flash), so ``--free N`` first imports every module the operation
uses, then fills the heap with ballast until only N bytes are free, and runs
the operation in those N bytes: the working set a board needs beyond its code.

Prints "OK <certificates> <issued certificate bytes> code=<resident bytes>
free=<heap free when the operation started>" or "ERR <class> <message>".
"""

import gc
import sys

from tinyest.client import EstClient
from tinyest.errors import EstError


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def main(argv):
    free = None
    if argv[1] == "--free":
        free = int(argv[2])
        argv = argv[:1] + argv[3:]
    op, host, port, ta = argv[1], argv[2], int(argv[3]), _read(argv[4])
    args = [_read(argv[7])] if op != "cacerts" else []
    import tinyest.ec  # noqa: F401  (every module of the path, resident before the ballast)
    import tinyest.hashes  # noqa: F401
    import tinyest.keys  # noqa: F401
    import tinyest.pem  # noqa: F401
    import tinyest.pkcs7  # noqa: F401
    import tinyest.x509  # noqa: F401

    gc.collect()
    code = gc.mem_alloc()
    ballast = []
    if free is not None:
        # The operation runs in a clean heap of ``free`` bytes, as on a board
        # with frozen modules (tests/ballast.py, imported only now, so that
        # ``code`` does not count it).
        here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
        sys.path.append(here + "/..")
        from ballast import fill

        ballast = fill(free, 2048)
    avail = gc.mem_free()
    try:
        if op == "cacerts":
            certs = EstClient(host, port, trust=[ta]).cacerts()
        else:
            c = EstClient(host, port, trust=[ta], auth=(argv[5], argv[6]))
            certs = c.simpleenroll(args[0])
    except EstError as e:
        print("ERR", type(e).__name__, e)
        return
    except MemoryError:
        print("ERR MemoryError")
        return
    print("OK", len(certs), len(certs[0]), "code=%d" % code, "free=%d" % avail)


main(sys.argv)
