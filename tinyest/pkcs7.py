"""CMS certs-only SignedData (RFC 5652 5.1, RFC 7030 4.1.3 and 4.2.3).

Reading
    ``certificates(der)`` returns the certificates of a ContentInfo holding a
    "degenerate" SignedData: version 1, 3, 4 or 5, no digestAlgorithms, an
    encapContentInfo of id-data without content, a ``certificates [0]`` set,
    an optional ``crls [1]`` set (skipped; ``crls(der)`` returns it) and no
    signerInfos. Anything else (a signed message, attribute certificates, other
    certificate formats) is a FormatError. The result is a list of memoryview
    slices of the input; nothing is copied. ``load(der)`` parses them into
    ``x509.Certificate`` objects. ``crls`` and ``load`` are
    ``tinyest.pkcs7_rare``'s (served through the module's ``__getattr__``),
    which also holds the error texts, numbered here.

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

from tinyest import der, lazy, texts
from tinyest.errors import FormatError

try:
    from micropython import const
except ImportError:  # CPython: every constant here is an int
    const = int

MAX_MESSAGE = 131072

# OID contents of id-signedData (1.2.840.113549.1.7.2); id-data ends in 1.
_SIGNED_DATA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02"

# Error texts by number: pkcs7_rare.TEXTS, loaded with the first error (a board
# would pay heap for a string literal per message each time an answer is read).
_TEXT = const(0)
_SIZE = const(1)
_NOT_SIGNED_DATA = const(2)
_VERSION = const(3)
_NOT_CERTS_ONLY = const(4)
_CERTS = const(5)  # _CERTS + 1: CRLs
_UNSUPPORTED = const(7)


_error = texts("pkcs7_rare")  # (cls, i, args=()): cls(text i % args)


def certificates(data, crl=0):
    """The certificates (or with crl=1 the CRLs) of a certs-only message, as
    DER memoryview slices."""
    if isinstance(data, str):
        raise _error(FormatError, _TEXT)
    if len(data) > MAX_MESSAGE:
        raise _error(FormatError, _SIZE, (len(data), MAX_MESSAGE))
    ci = der.top(data, 0x30, True)  # BER framing allowed
    if bytes(ci.read_oid()) != _SIGNED_DATA:
        raise _error(FormatError, _NOT_SIGNED_DATA)
    content = ci.enter(0xA0)
    ci.done()
    sd = content.enter(0x30)
    content.done()
    at = sd.offset()
    v = sd.read_int()
    if v not in (1, 3, 4, 5):
        raise _error(FormatError, _VERSION, (v, at))
    if not sd.enter(0x31).empty():  # digestAlgorithms
        raise _error(FormatError, _NOT_CERTS_ONLY)
    eci = sd.enter(0x30)  # encapContentInfo: id-data, no content
    if bytes(eci.read_oid()) != _SIGNED_DATA[:-1] + b"\x01" or not eci.empty():
        raise _error(FormatError, _NOT_CERTS_ONLY)
    sets = (sd.enter_optional(0xA0), sd.enter_optional(0xA1))
    if not sd.enter(0x31).empty():  # signerInfos
        raise _error(FormatError, _NOT_CERTS_ONLY)
    sd.done()
    r = sets[crl]
    limit = 16 if crl else 64
    out = []
    while r is not None and not r.empty():
        if len(out) >= limit:
            raise _error(FormatError, _CERTS + crl, limit)
        if r.peek_tag() != 0x30:
            raise _error(FormatError, _UNSUPPORTED, (r.peek_tag(), r.offset()))
        e = r.read_element(0x30)
        der.top(e)  # definite length, DER header
        out.append(e)
    return out


# crls and load (for hosts and tests) are tinyest.pkcs7_rare's, loaded on first use
__getattr__ = lazy("pkcs7_rare", ("crls", "load"))
