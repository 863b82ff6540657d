"""One operation in a process of its own, to measure the memory it needs:
bench_memory.py runs it many times under ``micropython -X heapsize=H``.

    mem_probe.py [--modules A,B,...] [--free N | --tracemalloc | --discover] OP [ARGS...]

OP is one of
    import                     the modules of the enrollment path, nothing else
    keygen                     P-256 key generation (public point included)
    sign KEY.der               P-256 ECDSA signature (key loaded from PKCS#8)
    verify POINT DIGEST SIG    P-256 ECDSA verification (hex arguments)
    ed25519 KEY.der            Ed25519 signature (key loaded from PKCS#8)
    rsa KEY.der                RSA-2048 signature (key loaded from PKCS#8)
    csr KEY.der                CSR built and signed with a P-256 key
    enroll HOST PORT CA.der USER PASSWORD
                               keygen + CSR + TLS + /simpleenroll + verify

The modules the operation uses (``--modules``: tinyest module names, found
beforehand with ``--discover``, which runs the operation and lists the tinyest
modules then loaded) are imported and its input files read first; ``code`` is
the heap then in use. ``--free N`` (MicroPython) then fills the
heap with ballast until only one clean block of N bytes is free, so that the
operation runs in N bytes beyond its code and inputs: the working set a board
needs when the modules are frozen into flash. ``--tracemalloc`` (CPython)
reports the peak of Python allocations during the operation instead.

Prints "OK code=<bytes> free=<bytes> [peak=<bytes>] [modules=A,B,...]" or
"ERR <what>".
"""

import gc
import sys

ENROLL = ("errors", "der", "hashes", "ec", "csr", "pem", "http", "runtime", "pkcs7", "x509", "keys",
          "client")
MODULES = {
    "import": ENROLL,
    "keygen": ("ec",),
    "sign": ("ec",),
    "verify": ("ec",),
    "ed25519": ("ed25519",),
    "rsa": ("rsa",),
    "csr": ("ec", "csr_build"),
    "enroll": ENROLL,
}


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _mod(name):
    return sys.modules["tinyest." + name]


def _prepare(op, args):
    """A function running the operation, with its inputs loaded (its modules
    are imported already)."""
    from binascii import unhexlify

    if op == "import":
        return lambda: None
    if op == "keygen":
        return lambda: _mod("ec").generate("P-256").public_point()
    if op == "verify":
        ec = _mod("ec")
        pt, dg, sig = unhexlify(args[0]), unhexlify(args[1]), unhexlify(args[2])

        def verify():
            if not ec.verify("P-256", pt, dg, sig):
                raise ValueError("signature did not verify")
        return verify
    if op == "enroll":
        from enroll_device import enroll
        host, port, ca, user, password = args[0], int(args[1]), _read(args[2]), args[3], args[4]
        return lambda: enroll(host, port, ca, user, password)
    data = _read(args[0])
    if op in ("sign", "ed25519", "rsa"):
        mod = _mod({"sign": "ec"}.get(op, op))
        return lambda: mod.from_der(data).sign(b"message")
    if op == "csr":
        ec, csr_build = _mod("ec"), _mod("csr_build")
        return lambda: csr_build.CsrBuilder().subject([("CN", "bench-device")]).dns(
            "bench-device.local").sign(ec.from_der(data))
    raise ValueError("unknown operation " + op)


def _ballast(free):
    # The operation runs in a clean heap of ``free`` bytes (tests/ballast.py,
    # imported only now, so that ``code`` does not count it).
    here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
    sys.path.append(here + "/../tests")
    from ballast import fill

    return fill(free)


def main(argv):
    free = None
    trace = discover = False
    modules = None
    args = argv[1:]
    if args and args[0] == "--modules":
        modules = args[1].split(",")
        args = args[2:]
    if args and args[0] == "--free":
        free = int(args[1])
        args = args[2:]
    elif args and args[0] == "--tracemalloc":
        trace = True
        args = args[1:]
    elif args and args[0] == "--discover":
        discover = True
        args = args[1:]
    op, args = args[0], args[1:]
    for m in modules or MODULES[op]:
        __import__("tinyest." + m)
    fn = _prepare(op, args)
    gc.collect()
    code = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    held = [_ballast(free) if free is not None else None]
    avail = gc.mem_free() if hasattr(gc, "mem_free") else 0
    peak = None
    try:
        if trace:
            import tracemalloc
            tracemalloc.start()
            fn()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        else:
            fn()
    except MemoryError:
        held[0] = None  # room to report
        print("ERR MemoryError")
        return 1
    except Exception as e:  # reported to the host, which decides
        held[0] = None
        print("ERR %s %s" % (type(e).__name__, e))
        return 1
    held[0] = None
    extra = "" if peak is None else " peak=%d" % peak
    if discover:
        names = [k[8:] for k in sys.modules if k.startswith("tinyest.")]
        names.sort()
        extra += " modules=" + ",".join(names)
    print("OK code=%d free=%d%s" % (code, avail, extra))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
