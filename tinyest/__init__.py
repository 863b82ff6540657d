"""tinyest: an EST (RFC 7030) client for MicroPython and CPython.

Importing the package loads nothing else. Use the modules directly:
``from tinyest.client import EstClient``, ``tinyest.csr``, ``tinyest.x509``,
``tinyest.errors``. (A lazy package-level export is not offered: MicroPython
resolves ``from tinyest import der`` through a module ``__getattr__``.)
"""

__version__ = "0.1.0"

# Loaded on every step of a device: never unloaded.
_KEEP = ("errors", "der", "runtime", "runtime_cpython", "http", "client", "store", "device")


def unload(keep=()):
    """Forget every tinyest module but the transport and the state machine
    (certificates, keys, requests, software crypto, optional features), so that
    a board that imported them from .mpy files gets their bytecode back in the
    heap before its next TLS handshake; the next import loads them again.

    Call it between steps, when nothing holds one of those modules, functions,
    classes or objects (a key, a Certificate): what is still held stays in the
    heap, and a later import adds a second copy beside it. An exception class
    stays the same (``tinyest.errors`` is kept). ``keep``: full module names
    (``"tinyest.ec"``) to keep as well."""
    import sys

    pkg = sys.modules.get("tinyest")
    for k in list(sys.modules):
        if k[:8] == "tinyest." and k[8:] not in _KEEP and k not in keep:
            del sys.modules[k]
            try:
                delattr(pkg, k[8:])
            except AttributeError:  # imported, but never bound on the package
                pass
