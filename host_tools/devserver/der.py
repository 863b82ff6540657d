"""A DER writer of the dev server's own, for the bodies it builds by hand: the
certs-only CMS of /cacerts and the enrollment answers, and the /csrattrs sets.

It is deliberately independent of the tinyest core (``tinyest.der``): the server is
the oracle the client is tested against, so a shared encoder would let one bug
agree with itself on both sides.
"""

from cryptography.hazmat.primitives import serialization


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag, *parts):
    body = b"".join(parts)
    return bytes([tag]) + _der_len(len(body)) + body


def _oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _seq(*parts):
    return _tlv(0x30, *parts)


def _set(*parts):
    return _tlv(0x31, *sorted(parts))


def certs_only(certs, der_order=False):
    """A certs-only CMS SignedData (RFC 5652, RFC 7030 4.1.3) holding ``certs``
    (cryptography certificates or DER) in the order given, as OpenSSL-based
    servers send them (strictly a BER SET), or sorted as DER demands."""
    ders = [bytes(c) if isinstance(c, (bytes, bytearray)) else c.public_bytes(serialization.Encoding.DER)
            for c in certs]
    if der_order:
        ders.sort()
    signed = _seq(_tlv(0x02, b"\x01"), _tlv(0x31), _seq(_oid("1.2.840.113549.1.7.1")),
                  _tlv(0xA0, *ders), _tlv(0x31))
    return _seq(_oid("1.2.840.113549.1.7.2"), _tlv(0xA0, signed))


OID_CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"
OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SECP256R1 = "1.2.840.10045.3.1.7"
OID_SECP384R1 = "1.3.132.0.34"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_ECDSA_SHA384 = "1.2.840.10045.4.3.3"
OID_MAC_ADDRESS = "1.3.6.1.1.1.1.22"

CSRATTRS = {
    "default": _seq(_oid(OID_ECDSA_SHA256),
                    _seq(_oid(OID_EC_PUBLIC_KEY), _set(_oid(OID_SECP256R1)))),
    "empty": _seq(),
    # The example of RFC 7030 section 4.5.2, element for element.
    "rfc7030": _seq(_oid(OID_CHALLENGE_PASSWORD),
                    _seq(_oid(OID_EC_PUBLIC_KEY), _set(_oid(OID_SECP384R1))),
                    _seq(_oid(OID_EXTENSION_REQUEST), _set(_oid(OID_MAC_ADDRESS))),
                    _oid(OID_ECDSA_SHA384)),
}
