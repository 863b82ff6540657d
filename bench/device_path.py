"""The device path of a mip-installed board, as one MicroPython program: what
the heap budgets of port_micropython/manifest.py are measured with.

    device_path.py full  HOST PORT CA.der USER PASSWORD STORE_DIR
    device_path.py renew HOST PORT CA.der STORE_DIR

full: /cacerts, a new P-256 key and CSR, /simpleenroll with the password, the
key and certificate committed to the store, then /simplereenroll with that
certificate and a new key, committed. renew: /simplereenroll alone, with the
key and certificate loaded from the store (what a deployed device does most),
a new key, committed. It does what ``tinyest.device.Device`` does for a small
heap: before each request, once nothing holds a key or a certificate, it calls
``tinyest.unload()`` (the TLS handshake then has the heap the certificate and
key modules took); its ``release`` hook forgets the transport
(``tinyest.TRANSPORT``) once an answer is read (checking the answer then has
that heap); and the collector runs every 4 KiB allocated
(``runtime.gc_every``), which keeps the heap unfragmented. Run it under
``micropython -X heapsize=N`` with the .mpy files on MICROPYPATH; it prints
"OK <peak-free-bytes>" or "FAIL <error>".
"""
import gc
import sys

import tinyest


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _release():
    # An answer is read: the transport's modules make room for its check.
    tinyest.unload(names=tinyest.TRANSPORT)
    gc.collect()


def _request(cur=None):
    """(key DER, CSR DER): a new P-256 key and its request, a renewal of the
    certificate ``cur`` if given. The modules it imports are held only here."""
    from tinyest import csr, ec

    key = ec.generate("P-256")
    req = csr.renewal(cur, key) if cur else csr.request(key, "fit-device", "fit-device.local")
    return key.to_der(), req


def _renew(make, store):
    c = store.load()
    cl = make(cert=c.chain[0], key=c.key_der)
    key_der, req = _request(c.chain[0])
    c = None
    tinyest.unload()  # nothing here holds a key, a certificate or their modules now
    gc.collect()
    chain = cl.simplereenroll(req)
    cl = req = None
    gc.collect()
    store.commit_enrollment(key_der, chain)


def run(op, make, store, **first):
    """The path ``op`` ("full" or "renew") with the clients ``make(**kw)`` makes
    (``first``: the keywords of the first enrollment's client)."""
    from tinyest import runtime

    runtime.gc_every(4096)  # as Device.step does: garbage never fragments the heap
    if op == "full":
        cl = make(**first)
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
    _renew(make, store)
    gc.collect()
    print("OK", gc.mem_free())


def main(argv):
    from tinyest.store import Store

    op, host, port, ca = argv[1], argv[2], int(argv[3]), _read(argv[4])

    def make(**kw):
        from tinyest.client import EstClient

        return EstClient(host, port, trust=[ca], release=_release, **kw)

    if op == "full":
        run(op, make, Store(argv[7]), auth=(argv[5], argv[6]))
    else:
        run(op, make, Store(argv[5]))


def probe(main, argv):
    try:
        main(argv)
    except MemoryError as e:
        print("FAIL MemoryError", e)
    except Exception as e:  # the probe reports; the driver decides
        print("FAIL", type(e).__name__, e)


if __name__ == "__main__":
    probe(main, sys.argv)
