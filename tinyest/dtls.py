"""DTLS 1.2 over a connected UDP socket, verified like tinyest's TLS: explicit
DER trust anchors, the server's name checked, a client certificate when given.
Loaded only by what speaks CoAP over DTLS.

``wrap(sock, host, trust, cert=None, key=None, chain=None)`` -> a socket whose
``send`` and ``recv`` carry one datagram each, after the handshake. ``chain``, a
list, makes the session provisional (RFC 7030 4.1.1, ``trust`` empty): the server
is not verified, and the certificates it showed (DER, the one that did the
handshake first) are appended to ``chain`` for the check that follows a matched
fingerprint (``tinyest.catrust``). MicroPython runs it under CERT_OPTIONAL with
``runtime_rare.recorder`` as the verify callback, as ``runtime.tls_wrap`` does
(under CERT_NONE the callback is not called). Its reads are bounded
by the UDP socket's timeout: set it with ``sock.settimeout`` (``coap.Endpoint``'s
``timer``).

MicroPython: its ``tls`` module (mbedTLS, ``PROTOCOL_DTLS_CLIENT``); the wrapped
socket is read with ``recv`` (its ``read(n)`` waits for n octets, which a
datagram protocol never owes). CPython's ``ssl`` has no DTLS: a host provides it
by setting ``provider`` to a function of the same arguments
(``host_tools.dtls.install()`` does, with python-mbedtls); the core imports
nothing beyond its usual modules. A client key is DER (or an object with
``to_der()``). IP-address hosts are refused for now: mbedTLS would match them
as text (see ``runtime.tls_wrap``).

Errors: TlsError for a refused handshake, an anchor or certificate the TLS
library refuses, or no DTLS on this runtime; ConnectError and EstTimeout as
``runtime.net_error`` maps socket failures.
"""

from tinyest import runtime
from tinyest.errors import TlsError

provider = None  # CPython: set by the host (host_tools.dtls.install)


def wrap(sock, host, trust, cert=None, key=None, chain=None):
    runtime.check_trust(trust, chain is not None, False, cert, key)
    if ":" in host or not host.strip("0123456789."):
        raise TlsError("DTLS to an IP address host: use a name the certificate carries")
    if key is not None and hasattr(key, "to_der"):
        key = key.to_der()
    if not runtime.MICROPYTHON:
        if provider is None:
            raise TlsError("no DTLS on CPython without a provider (host_tools.dtls.install())")
        return provider(sock, host, trust, cert, key, chain)
    try:
        import tls as t
    except ImportError:  # older ports call the module ssl
        import ssl as t
    if not hasattr(t, "PROTOCOL_DTLS_CLIENT"):
        raise TlsError("this firmware has no DTLS")
    ctx = t.SSLContext(t.PROTOCOL_DTLS_CLIENT)
    ctx.verify_mode = t.CERT_REQUIRED
    if chain is not None:  # provisional: verification runs, its verdict ignored
        from tinyest import runtime_rare

        ctx.verify_callback = runtime_rare.recorder(chain, True)
        ctx.verify_mode = t.CERT_OPTIONAL
    try:
        for ta in trust:
            ctx.load_verify_locations(bytes(ta))
        if cert is not None:
            ctx.load_cert_chain(bytes(cert), bytes(key))
    except (ValueError, OSError) as e:
        raise TlsError("DTLS credentials refused: %s" % e)
    import gc

    gc.collect()
    try:
        return ctx.wrap_socket(sock, server_hostname=host)
    except Exception as e:
        raise runtime.net_error(e, "handshake")
