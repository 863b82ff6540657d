"""CMS certs-only SignedData (RFC 5652 5.1, RFC 7030 4.1.3 and 4.2.3).

Reading
    ``certificates(der)`` returns the certificates of a ContentInfo holding a
    "degenerate" SignedData: version 1, 3, 4 or 5, no digestAlgorithms, an
    encapContentInfo of id-data without content, a ``certificates [0]`` set,
    an optional ``crls [1]`` set (skipped; ``crls(der)`` returns it) and no
    signerInfos. Anything else (a signed message, attribute certificates, other
    certificate formats) is a FormatError. The result is a list of memoryview
    slices of the input; nothing is copied. ``load(der)`` parses them into
    ``x509.Certificate`` objects.

    The outer layers (ContentInfo, the [0] EXPLICIT content, SignedData,
    encapContentInfo, the certificates and crls sets) may use BER
    indefinite-length framing, which some CAs emit. Each certificate and CRL
    must itself be DER: its header is checked here, its contents by
    ``x509.Certificate``.

    Input is DER bytes; base64 transfer encoding belongs to the HTTP layer.

Writing
    ``tinyest.pkcs7_write.encode_certs_only`` (host-only: a board never
    writes these).

Limits: ``MAX_MESSAGE`` (128 KiB: 64 certificates of 2 KiB) bytes of input, from a server or from a file
(BER framing costs a walk per nesting level, so the size is bounded first);
64 certificates and 16 CRLs per message; nesting as in ``tinyest.der``.
Side channels: nothing here handles secrets.
"""

from tinyest import der
from tinyest.errors import FormatError

MAX_MESSAGE = 131072

# OID contents of id-signedData (1.2.840.113549.1.7.2); id-data ends in 1.
_SIGNED_DATA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"


def certificates(data, crl=0):
    """The certificates (or with crl=1 the CRLs) of a certs-only message, as
    DER memoryview slices."""
    if isinstance(data, str):
        raise FormatError("PKCS#7 text: decode the base64")
    if len(data) > MAX_MESSAGE:
        raise FormatError("PKCS#7 of %d bytes (limit %d)" % (len(data), MAX_MESSAGE))
    ci = der.top(data, 0x30, True)  # BER framing allowed
    if bytes(ci.read_oid()) != _SIGNED_DATA:
        raise FormatError("not SignedData")
    content = ci.enter(0xA0)
    ci.done()
    sd = content.enter(0x30)
    content.done()
    at = sd.offset()
    v = sd.read_int()
    if v not in (1, 3, 4, 5):
        raise FormatError("SignedData v%d at offset %d" % (v, at))
    if not sd.enter(0x31).empty():  # digestAlgorithms
        raise FormatError("not a certs-only SignedData")
    eci = sd.enter(0x30)  # encapContentInfo: id-data, no content
    if bytes(eci.read_oid()) != _SIGNED_DATA[:-1] + b"\x01" or not eci.empty():
        raise FormatError("not a certs-only SignedData")
    sets = (sd.enter_optional(0xA0), sd.enter_optional(0xA1))
    if not sd.enter(0x31).empty():  # signerInfos
        raise FormatError("not a certs-only SignedData")
    sd.done()
    r = sets[crl]
    limit = 16 if crl else 64
    out = []
    while r is not None and not r.empty():
        if len(out) >= limit:
            raise FormatError("more than %d %s" % (limit, "CRLs" if crl else "certificates"))
        if r.peek_tag() != 0x30:
            raise FormatError("unsupported 0x%02x at offset %d" % (r.peek_tag(), r.offset()))
        e = r.read_element(0x30)
        der.top(e)  # definite length, DER header
        out.append(e)
    return out


def crls(data):
    """The CRLs of a certs-only message, as DER memoryview slices."""
    return certificates(data, 1)


def load(data):
    """The certificates of a certs-only message as x509.Certificate objects."""
    from tinyest import x509

    out = []
    for c in certificates(data):
        out.append(x509.Certificate(c))
    return out

