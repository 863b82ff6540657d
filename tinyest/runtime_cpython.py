"""The CPython side of ``tinyest.runtime``: TLS contexts with the ssl module.

Imported by ``tinyest.runtime`` on CPython only, so a MicroPython device never
loads (or stores) it. ``context`` builds the SSLContext: TLS 1.2 or later (TLS
1.2 only for tls-unique), ALPN http/1.1, CERT_REQUIRED with a hostname check
against the given DER trust anchors (partial chains allowed: an explicit
anchor need not be a root) and the system store only when asked for; a
bootstrap (provisional) context verifies nothing. A client certificate and key
given as DER are written as PEM into a private directory (mode 0700, files
0600), loaded by ``load_cert_chain`` (which reads files) and removed at once.
``tls_wrap`` does the handshake for ``runtime.tls_wrap`` and returns the socket
and, on a bootstrap connection, the server's chain; ``channel_binding`` the
tls-unique value (RFC 5929) of a TLS 1.2 connection.

Errors: TlsError. Side channels: the private key of a client certificate
exists as a file for the moment ``load_cert_chain`` reads it.
"""

import os
import ssl as _ssl

from tinyest import der, pem
from tinyest.errors import EstError, TlsError
from tinyest.runtime import net_error, random_bytes


def _key_label(key_der):
    # PKCS#8: SEQUENCE { INTEGER 0, SEQUENCE AlgorithmIdentifier, ... }
    # SEC1:   SEQUENCE { INTEGER 1, OCTET STRING, ... }
    # PKCS#1: SEQUENCE { INTEGER 0, INTEGER n, ... }
    try:
        r = der.top(key_der)
        v = r.read_int()
        tag = r.peek_tag()
    except EstError:
        raise TlsError("TLS client key is not a DER private key")
    if v == 1 and tag == der.OCTET_STRING:
        return "EC PRIVATE KEY"
    if v == 0 and tag == der.INTEGER:
        return "RSA PRIVATE KEY"
    return "PRIVATE KEY"


def _load_client_cert(ctx, cert_der, key_der):
    base = os.environ.get("TMPDIR") or os.environ.get("TEMP") or "/tmp"
    d = "%s/tinyest-%s" % (base.rstrip("/"), random_bytes(8).hex())
    os.mkdir(d, 0o700)
    cpath = d + "/cert.pem"
    kpath = d + "/key.pem"
    try:
        for path, text in (
            (cpath, pem.encode(cert_der, "CERTIFICATE")),
            (kpath, pem.encode(key_der, _key_label(key_der))),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with open(fd, "w") as f:
                f.write(text)
        ctx.load_cert_chain(cpath, kpath)
    except _ssl.SSLError as e:
        raise TlsError("client certificate or key refused: %s" % e)
    finally:
        for path in (cpath, kpath):
            try:
                os.remove(path)
            except OSError:
                pass
        os.rmdir(d)


def context(trust, cert_der, key_der, bootstrap, tls12, system_trust):
    """The SSLContext of a connection (see the module text)."""
    ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = _ssl.TLSVersion.TLSv1_2
    if tls12:
        ctx.maximum_version = _ssl.TLSVersion.TLSv1_2
    try:
        ctx.set_alpn_protocols(["http/1.1"])
    except (NotImplementedError, AttributeError):
        pass
    if bootstrap:
        ctx.check_hostname = False
        ctx.verify_mode = _ssl.CERT_NONE
    else:
        ctx.verify_mode = _ssl.CERT_REQUIRED
        ctx.check_hostname = True
        # An explicit trust anchor need not be a self-signed root (RFC 5280 6.1.1).
        ctx.verify_flags |= _ssl.VERIFY_X509_PARTIAL_CHAIN
        for ta in trust:
            try:
                ctx.load_verify_locations(cadata=bytes(ta))
            except _ssl.SSLError as e:
                raise TlsError("trust anchor refused: %s" % e)
        if system_trust:
            ctx.load_default_certs()
    if cert_der is not None:
        _load_client_cert(ctx, cert_der, key_der)
    return ctx


def tls_wrap(sock, host, trust, cert_der, key_der, bootstrap, tls12, system_trust):
    """(TLS socket, server chain of a bootstrap connection or None)."""
    ctx = context(trust, cert_der, key_der, bootstrap, tls12, system_trust)
    try:
        s = ctx.wrap_socket(sock, server_hostname=host)
    except Exception as e:
        raise net_error(e, "handshake")
    return s, peer_chain(s) if bootstrap else None


def peer_chain(s):
    """The server's certificates (DER, leaf first) of a connection made without
    verification."""
    try:
        got = s.get_unverified_chain()  # 3.13+: a list of DER
        if got:
            return [bytes(c) for c in got]
    except AttributeError:
        pass
    obj = getattr(s, "_sslobj", None)
    fn = getattr(obj, "get_unverified_chain", None)  # 3.10-3.12
    if fn is not None:
        got = fn()
        if got:
            return [c.public_bytes(_ssl._ssl.ENCODING_DER) for c in got]
    leaf = s.getpeercert(True)
    return [leaf] if leaf else []


def channel_binding(s):
    """tls-unique of an open TLS 1.2 connection (RFC 5929, RFC 7030 3.5)."""
    v = s.version()
    if v != "TLSv1.2":
        raise TlsError("tls-unique is defined for TLS 1.2 only (negotiated %s)" % v)
    cb = s.get_channel_binding("tls-unique")
    if not cb:
        raise TlsError("no tls-unique value on this connection")
    return cb
