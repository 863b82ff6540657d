"""Rare paths of ``tinyest.runtime``, imported only when one is taken.

``recorder`` makes the ``verify_callback`` that captures the server's
certificates on MicroPython (bootstrap, IP address hosts). ``channel_binding``
is tls-unique (CPython only: MicroPython exposes none). ``client_key`` turns a
TLS client key given otherwise than as DER ``bytes`` (a key object with
``to_der()``, a bytearray or memoryview, PEM bytes or text) into DER bytes.
``check_ip`` is the iPAddress check of a verified MicroPython connection to an
IP address host (mbedTLS would match the address as text). The recorder is
loaded before the handshake of a bootstrap connection or one to an IP address
host, so what runs only on a failure lives in ``tinyest.runtime_error``.
"""

from tinyest.errors import EstError, TlsError


def recorder(chain, bootstrap):
    """A verify_callback appending to ``chain`` the server's certificates as
    the handshake checks them, the one that did the handshake (depth 0) first
    (mbedTLS calls from the top down): all of them (at most 8) on a bootstrap
    connection, else that one only."""

    def record(cert, depth):
        if len(chain) < 8 and (bootstrap or not depth):
            chain.insert(len(chain) if depth else 0, bytes(cert))
        return 0

    return record


def client_key(key):
    """DER bytes of a client key (see the module notes), else TlsError."""
    if hasattr(key, "to_der"):
        key = key.to_der()
    elif not isinstance(key, (bytes, bytearray, memoryview, str)):
        raise TlsError("the TLS client key must be DER or have to_der()")
    if not isinstance(key, str):
        key = bytes(key)
        if key[:11] != b"-----BEGIN ":
            return key
    from tinyest import pem

    for label, der in pem.decode_all(key):
        if label != "EC PARAMETERS":
            return der
    raise TlsError("no private key in the PEM text")


def check_ip(s, chain, host):
    """Close the TLS socket ``s`` and raise TlsError unless the server
    certificate (``chain[0]``) names the address ``host`` as an iPAddress."""
    from tinyest import hostname, x509

    try:
        ok = chain and hostname.matches(x509.Certificate(chain[0]), host)
    except EstError:
        ok = False
    if not ok:
        s.close()
        raise TlsError("TLS: the server certificate does not name %s" % host)


def channel_binding(s):
    """tls-unique of the TLS socket ``s`` (see ``tinyest.runtime``)."""
    import sys

    if sys.implementation.name == "micropython":
        raise TlsError("no tls-unique on MicroPython")
    from tinyest import runtime_cpython

    return runtime_cpython.channel_binding(s)
