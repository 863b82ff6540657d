"""Rare paths of ``tinyest.runtime``, imported only when one is taken.

``recorder`` makes the ``verify_callback`` that captures the server's
certificates on MicroPython (bootstrap, IP address hosts). ``channel_binding``
is tls-unique (CPython only: MicroPython exposes none). ``client_key`` turns a
TLS client key given otherwise than as DER ``bytes`` (a key object with
``to_der()``, a bytearray or memoryview, PEM bytes or text) into DER bytes.
``check_ip`` is the iPAddress check of a verified MicroPython connection to an
IP address host (mbedTLS would match the address as text). ``net_error`` maps
an exception of a failed socket or TLS call to the library's errors (loaded
only when a call failed).

``TEXTS`` holds the error texts of ``tinyest.runtime``, numbered by its
``_NO_SOCKET`` ... ``_CERT_REFUSED`` constants, in one string (a string literal
per message would cost heap on a board through every TLS handshake);
``runtime._error`` loads them with the first error.
"""

from tinyest.errors import ConnectError, EstError, EstTimeout, TlsError

TEXTS = (
    "no socket module|timed out (resolving %s)|cannot resolve %s: %s|"
    "no trust anchor: refusing to connect|MicroPython has no system trust store|"
    "a client certificate and its key come together|trust anchor refused: %s|"
    "client certificate or key refused: %s"
)


def net_error(e, stage):
    """The error for ``e`` (neither an EstError nor a MemoryError) raised by
    a socket or TLS call at ``stage``: see ``tinyest.runtime.net_error``."""
    from tinyest.runtime import _TIMEOUTS, MICROPYTHON, _code

    msg = str(e) or repr(e)
    code = _code(e)
    if isinstance(e, OSError) and code in _TIMEOUTS:
        return EstTimeout("timed out (%s)" % stage)
    # MBEDTLS_ERR_SSL_ALLOC_FAILED, MBEDTLS_ERR_MPI_ALLOC_FAILED, MBEDTLS_ERR_PK_ALLOC_FAILED,
    # MBEDTLS_ERR_X509_ALLOC_FAILED: mbedTLS's heap (the GC heap on rp2/stm32) ran out.
    if code in (-0x7F00, -0x0010, -0x3F80, -0x2880):
        return MemoryError("TLS: out of memory (%d)" % code)
    tls = ValueError  # mbedTLS's certificate verification texts
    if not MICROPYTHON:
        import ssl

        tls = (ValueError, ssl.SSLError)
    if isinstance(e, tls) or isinstance(code, int) and code < 0:  # MBEDTLS_ERR_*
        return TlsError("TLS: " + " ".join(msg.split()))
    if stage == "handshake":
        return TlsError("TLS handshake failed: " + msg)
    return ConnectError(msg)


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
