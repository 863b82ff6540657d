"""tinyest: an EST (RFC 7030) client for MicroPython and CPython.

Importing the package loads nothing else. ``from tinyest import EstClient``
loads ``tinyest.client`` then (the one name the package exports); the other
modules are used directly: ``tinyest.csr``, ``tinyest.x509``, ``tinyest.errors``.
"""

__version__ = "0.1.0"


def __getattr__(name):
    if name == "EstClient":
        from tinyest.client import EstClient

        return EstClient
    if name[0] == "_":
        raise AttributeError(name)
    # MicroPython asks here before it imports a submodule named in "from tinyest
    # import name" (an AttributeError would end that import): import it
    import sys

    name = "tinyest." + name
    __import__(name)
    return sys.modules[name]


def lazy(mod, names=None, prefix=None):
    """A ``__getattr__`` serving what tinyest.<mod> (a module's rarely used
    half) defines, imported on the first name asked for. For a module: the
    attributes ``names`` (None: any; other names raise AttributeError without
    importing). With ``prefix``, for a class: the functions ``prefix + name``
    taking the instance first, bound to it."""
    if prefix is None:

        def get(name):
            if names is not None and name not in names:
                raise AttributeError(name)
            return getattr(__getattr__(mod), name)

    else:

        def get(obj, name):
            f = getattr(__getattr__(mod), prefix + name)
            return lambda *a, **k: f(obj, *a, **k)

    return get


def texts(mod):
    """An error maker ``(cls, i, args=(), *more)`` -> ``cls(text % args, *more)``,
    the text number ``i`` of the ``|``-separated ``TEXTS`` of tinyest.<mod>,
    imported with the first error (bad input is rare: its words stay on disk)."""

    def error(cls, i, args=(), *more):
        return cls(__getattr__(mod).TEXTS.split("|")[i] % args, *more)

    return error


# Loaded on every step of a device: never unloaded by default.
_KEEP = ("errors", "der", "runtime", "runtime_cpython", "http", "client", "store", "device")
# What only a connection needs: unload(names=TRANSPORT) once an answer is read.
TRANSPORT = ("http", "http_auth", "http_date", "http_rare", "runtime_error", "runtime_rare", "coap", "dtls")


def unload(keep=(), names=None):
    """Forget every tinyest module but the transport and the state machine
    (certificates, keys, requests, software crypto, optional features), so that
    a board that imported them from .mpy files gets their bytecode back in the
    heap before its next TLS handshake; the next import loads them again.

    Call it between steps, when nothing holds one of those modules, functions,
    classes or objects (a key, a Certificate): what is still held stays in the
    heap, and a later import adds a second copy beside it. An exception class
    stays the same (``tinyest.errors`` is kept). ``keep``: full module names
    (``"tinyest.ec"``) to keep as well. ``names``: forget only these (short
    names, e.g. ``TRANSPORT``), whatever the defaults keep."""
    import sys

    pkg = sys.modules.get("tinyest")
    for k in list(sys.modules):
        n = k[8:]
        if k[:8] == "tinyest." and k not in keep and (n in names if names else n not in _KEEP):
            del sys.modules[k]
            try:
                delattr(pkg, n)
            except AttributeError:  # imported, but never bound on the package
                pass
