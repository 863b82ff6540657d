"""Helpers shared by the core tests; runs on CPython and MicroPython alike."""

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
VECTORS = _HERE.rsplit("/", 1)[0] + "/vectors" if "/" in _HERE else "../vectors"


def raises(exc, fn, *args, **kw):
    """Call fn and return the exception of type exc it raises; fail otherwise."""
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%r did not raise %s" % (fn, exc.__name__))


def vector(name):
    """Bytes of a committed test vector under tests/vectors/."""
    with open(VECTORS + "/" + name, "rb") as f:
        return f.read()


def h(s):
    """Bytes from hex text, ignoring spaces and newlines."""
    return bytes.fromhex("".join(s.split()))
