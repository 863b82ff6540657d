"""The CMS certs-only writer (RFC 5652 5.1, RFC 7030 4.1.3): host-only.

``encode_certs_only(certs, crls=())`` emits the DER that ``openssl crl2pkcs7``
emits: a ContentInfo holding a SignedData of version 1, no digestAlgorithms,
an encapContentInfo of id-data without content, the certificates in the order
given (not sorted; no [0] when there are none), the CRLs in a ``crls [1]`` set
when there are any, and no signerInfos. Each certificate and CRL must be one
DER element (checked with ``tinyest.der``); at most 64 certificates and 16
CRLs, the limits ``tinyest.pkcs7`` reads.

Only hosts write these (the dev server, the tools, tests); a device reads them
with ``tinyest.pkcs7``, so a board neither stores nor loads this module.
"""

from tinyest import der
from tinyest.errors import FormatError

# OID contents of id-signedData (1.2.840.113549.1.7.2); id-data ends in 1.
_SIGNED_DATA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"


def encode_certs_only(cert_ders, crl_ders=()):
    """DER of a certs-only ContentInfo holding these certificates (and CRLs)."""
    if len(cert_ders) > 64 or len(crl_ders) > 16:
        raise FormatError("too many certificates or CRLs")
    # version 1, no digestAlgorithms, encapContentInfo { id-data }
    parts = [b"\x02\x01\x01\x31\x00\x30\x0b\x06\x09" + _SIGNED_DATA[:-1] + b"\x01"]
    for i in (0, 1):
        items = []
        for c in (cert_ders, crl_ders)[i]:
            der.top(c)
            items.append(bytes(c))
        if items:
            parts.append(der.tlv(0xA0 | i, *items))
    parts.append(b"\x31\x00")  # no signerInfos
    return der.seq(b"\x06\x09" + _SIGNED_DATA, der.explicit(0, der.seq(*parts)))
