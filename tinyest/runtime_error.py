"""Failures of ``tinyest.runtime``, imported with the first one.

``net_error`` maps an exception of a failed socket or TLS call to the library's
errors (``runtime.net_error`` passes an EstError or a MemoryError back as it is
and hands every other one here). ``TEXTS`` holds the error texts of
``tinyest.runtime``, numbered by its ``_NO_SOCKET`` ... ``_CERT_REFUSED``
constants, in one string (a string literal per message would cost heap on a
board through every TLS handshake); ``runtime._error`` loads them with the
first error. Kept apart from ``tinyest.runtime_rare``, whose recorder some
handshakes load.
"""

from tinyest.errors import ConnectError, EstTimeout, TlsError

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
    if code == 12:  # ENOMEM: how MicroPython's DTLS reports mbedTLS out of heap
        return MemoryError("out of memory (%s)" % stage)
    tls = ValueError  # mbedTLS's certificate verification texts
    if not MICROPYTHON:
        import ssl

        tls = (ValueError, ssl.SSLError)
    if isinstance(e, tls) or isinstance(code, int) and code < 0:  # MBEDTLS_ERR_*
        return TlsError("TLS: " + " ".join(msg.split()))
    if stage == "handshake":
        return TlsError("TLS handshake failed: " + msg)
    return ConnectError(msg)
