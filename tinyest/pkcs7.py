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
    ``encode_certs_only(certs)`` emits the DER that ``openssl crl2pkcs7``
    emits: certificates in the order given (not sorted), no [0] when there are
    none.

Limits: ``MAX_CERTS`` certificates and ``MAX_CRLS`` CRLs per message;
nesting as in ``tinyest.der``.
Side channels: nothing here handles secrets.
"""

from tinyest import der
from tinyest.errors import FormatError

MAX_CERTS = 64
MAX_CRLS = 16

OID_DATA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x01"
OID_SIGNED_DATA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"


def _signed_data(data):
    # Returns Readers over the certificates and crls sets (or None).
    if isinstance(data, str):
        raise FormatError("PKCS#7 text given: decode the base64 first")
    r = der.Reader(data, ber=True)
    ci = r.enter(der.SEQUENCE)
    r.done()
    if bytes(ci.read_oid()) != OID_SIGNED_DATA:
        raise FormatError("not a CMS SignedData")
    content = ci.enter(der.ctx(0))
    ci.done()
    sd = content.enter(der.SEQUENCE)
    content.done()
    at = sd.offset()
    v = sd.read_int()
    if v not in (1, 3, 4, 5):
        raise FormatError("SignedData version %d at offset %d" % (v, at))
    if not sd.enter(der.SET).empty():
        raise FormatError("SignedData has digestAlgorithms: not certs-only")
    eci = sd.enter(der.SEQUENCE)
    if bytes(eci.read_oid()) != OID_DATA:
        raise FormatError("encapsulated content is not id-data")
    if not eci.empty():
        raise FormatError("SignedData has content: not certs-only")
    certs = sd.enter_optional(der.ctx(0))
    crl_set = sd.enter_optional(der.ctx(1))
    if not sd.enter(der.SET).empty():
        raise FormatError("SignedData has signerInfos: not certs-only")
    sd.done()
    return certs, crl_set


def _items(r, limit, what):
    out = []
    if r is None:
        return out
    while not r.empty():
        if len(out) >= limit:
            raise FormatError("more than %d %s" % (limit, what))
        if r.peek_tag() != der.SEQUENCE:
            raise FormatError("unsupported %s choice (tag 0x%02x) at offset %d"
                              % (what, r.peek_tag(), r.offset()))
        e = r.read_element(der.SEQUENCE)
        der.top(e)  # definite length, DER header
        out.append(e)
    return out


def certificates(data):
    """The certificates of a certs-only message, as DER memoryview slices."""
    return _items(_signed_data(data)[0], MAX_CERTS, "certificates")


def crls(data):
    """The CRLs of a certs-only message, as DER memoryview slices."""
    return _items(_signed_data(data)[1], MAX_CRLS, "CRLs")


def load(data):
    """The certificates of a certs-only message as x509.Certificate objects."""
    from tinyest import x509

    return [x509.Certificate(c) for c in certificates(data)]


def encode_certs_only(cert_ders, crl_ders=()):
    """DER of a certs-only ContentInfo holding these certificates (and CRLs)."""
    if len(cert_ders) > MAX_CERTS or len(crl_ders) > MAX_CRLS:
        raise FormatError("too many certificates or CRLs")
    parts = [der.integer(1), der.tlv(der.SET), der.seq(der.oid(OID_DATA))]
    if cert_ders:
        for c in cert_ders:
            der.top(c)
        parts.append(der.tlv(der.ctx(0), *[bytes(c) for c in cert_ders]))
    if crl_ders:
        for c in crl_ders:
            der.top(c)
        parts.append(der.tlv(der.ctx(1), *[bytes(c) for c in crl_ders]))
    parts.append(der.tlv(der.SET))
    return der.seq(der.oid(OID_SIGNED_DATA), der.explicit(0, der.seq(*parts)))
