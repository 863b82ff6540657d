"""DER writers (X.690), and the tag numbers only writers and hosts use: the
writing half of ``tinyest.der``, imported on first use. Callers keep writing
``der.seq(...)``: ``der.NAME`` resolves every name of this module here, so a
device holds these only while it builds a request or encodes a key, not
through a TLS handshake.

Builders take contents and compute every length: ``tlv(tag, *parts)``,
``seq``, ``set_of`` (sorted per X.690 11.6), ``explicit``, ``ctx`` (a context
tag byte) and one function per universal type. Lengths are definite and
minimal, INTEGERs minimal; an OID is checked (``der.check_oid``) or encoded
from dotted text (``tinyest.der_text``). Errors: DERError. Side channels:
none (no secrets).
"""

from tinyest.der import INTEGER, OID, SEQUENCE, SET, check_oid
from tinyest.errors import DERError

BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
UTF8_STRING = 0x0C
NUMERIC_STRING = 0x12
PRINTABLE_STRING = 0x13
T61_STRING = 0x14
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
VISIBLE_STRING = 0x1A
UNIVERSAL_STRING = 0x1C
BMP_STRING = 0x1E


def ctx(n, constructed=True):
    """Tag byte of context-specific tag [n]."""
    return (0xA0 if constructed else 0x80) | n


def tlv(tag, *parts):
    """One element: tag, computed length, and the concatenated parts."""
    n = 0
    for p in parts:
        n += len(p)
    out = bytearray((tag,))
    if n < 0x80:
        out.append(n)
    else:
        k = 1
        while n >> (8 * k):
            k += 1
        out.append(0x80 | k)
        out += n.to_bytes(k, "big")
    for p in parts:  # MicroPython's bytes.join refuses memoryviews; += takes them
        out += p
    return bytes(out)


def seq(*parts):
    return tlv(SEQUENCE, *parts)


def set_of(*parts):
    """SET OF with elements in DER order (X.690 11.6: as octet strings, the
    shorter padded with zero octets)."""
    n = 0
    for p in parts:
        n = max(n, len(p))
    items = []
    for p in parts:
        p = bytes(p)
        items.append((p + bytes(n - len(p)), p))
    items.sort()
    out = []
    for _, p in items:
        out.append(p)
    return tlv(SET, *out)


def explicit(n, *parts):
    """[n] EXPLICIT: a constructed context tag around the parts."""
    return tlv(0xA0 | n, *parts)


def integer(x):
    """A signed INTEGER of any size, minimal."""
    n = 1
    while not -(1 << (8 * n - 1)) <= x < 1 << (8 * n - 1):
        n += 1
    return tlv(INTEGER, (x % (1 << (8 * n))).to_bytes(n, "big"))


def oid(x):
    """An OBJECT IDENTIFIER element from dotted text or pre-encoded contents."""
    if isinstance(x, str):
        from tinyest.der_text import encode_oid

        x = encode_oid(x)
    else:
        check_oid(x)
    return tlv(OID, x)


def bit_string(data, unused=0):
    return tlv(BIT_STRING, bytes((unused,)), data)


def octet_string(data):
    return tlv(OCTET_STRING, data)


def null():
    return b"\x05\x00"


def boolean(v):
    return b"\x01\x01\xff" if v else b"\x01\x01\x00"


def utf8(s):
    try:
        b = s.encode("utf-8")
    except UnicodeError:  # CPython: a lone surrogate
        raise DERError("not UTF-8: %r" % (s,))
    return tlv(UTF8_STRING, b)
