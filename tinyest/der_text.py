"""What ``tinyest.der`` needs rarely (imported on first use; callers keep using
``tinyest.der``): OID dotted text for messages and hosts (``oid_str``,
``encode_oid``, reached through ``der.oid_str``, ``der.encode_oid`` and
``der.oid``); the character string types certificates seldom use, which
``der.decode_string`` hands here: T61String (read as Latin-1), BMPString
(UTF-16BE, surrogate pairs checked) and UniversalString (UCS-4, no
surrogates, at most U+10FFFF); the Reader methods ``read_uint``, ``read_null``
and ``read_string`` (RSA keys and hosts: a Reader's ``NAME`` resolves to
``r_NAME`` here); and the texts of der's numbered DERError messages, read when
an error is raised.

A leaf: imports tinyest.errors only. Errors: DERError (with the byte offset
``at`` when the caller gave one). Side channels: none (no secrets).
"""

from tinyest.errors import DERError

# The DERError messages of tinyest.der, numbered by its _TRUNCATED ... constants:
# one string holds them all, as a string literal per message costs heap on a board.
_MESSAGES = (
    "truncated|trailing bytes|nesting deeper than %d|high tag number|stray end-of-contents|"
    "indefinite length|indefinite length nested deeper than %d|no end-of-contents|"
    "bad end-of-contents|length of %d octets|non-minimal length|"
    "length %d exceeds the %d bytes left|expected tag 0x%02x, got 0x%02x|empty integer|"
    "non-minimal integer|bad boolean|bad BIT STRING padding|bad time form|time out of range|"
    "bad OID|non-minimal OID|bad character in string 0x%02x|bad UTF-8|not a string: 0x%02x"
)


def decode_rare(tag, v, at=-1):
    """str of a T61String (0x14), UniversalString (0x1C) or BMPString (0x1E)."""
    n = len(v)
    out = []
    if tag == 0x14:  # in practice Latin-1
        for b in v:
            out.append(chr(b))
        return "".join(out)
    w = 4 if tag == 0x1C else 2
    if n % w:
        raise DERError("bad string length", at)
    i = 0
    while i < n:
        c = int.from_bytes(v[i:i + w], "big")
        i += w
        if w == 2 and 0xD800 <= c < 0xDC00 and i < n:  # a BMPString surrogate pair
            d = (v[i] << 8) | v[i + 1]
            if 0xDC00 <= d < 0xE000:
                i += 2
                c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00)
        if c > 0x10FFFF or 0xD800 <= c < 0xE000:
            raise DERError("bad character in string 0x%02x" % tag, at)
        out.append(chr(c))
    return "".join(out)


def r_read_string(r):
    """``Reader.read_string``: any ASN.1 character string as (tag, str)."""
    from tinyest.der import decode_string

    at = r.pos
    tag, v = r.read_any()
    return tag, decode_string(tag, v, at)


def r_read_uint(r, tag=0x02):
    """``Reader.read_uint``: a non-negative INTEGER as minimal big-endian bytes
    (zero is b'\\x00')."""
    at = r.pos
    v = r.read_int(tag, True)
    if v[0] & 0x80:
        raise DERError("negative integer", at)
    return v[1:] if len(v) > 1 and v[0] == 0 else v


def r_read_null(r):
    """``Reader.read_null``: a NULL, without contents."""
    at = r.pos
    if len(r.read(0x05)):
        raise DERError("NULL with contents", at)


def encode_oid(dotted):
    """OID contents of a dotted string such as '1.2.840.10045.2.1'."""
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError:
        raise DERError("bad OID text %r" % dotted)
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise DERError("bad OID %r" % dotted)
    out = bytearray()
    for v in [arcs[0] * 40 + arcs[1]] + arcs[2:]:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7F))
            v >>= 7
        chunk.reverse()
        out.extend(bytes(chunk))
    return bytes(out)


def oid_str(v):
    """Dotted text of OID contents (checked as ``der.check_oid`` does)."""
    n = len(v)
    if n == 0 or v[n - 1] & 0x80:
        raise DERError("bad OID")
    arcs = []
    x = 0
    for b in v:
        if x == 0 and b == 0x80:
            raise DERError("non-minimal OID")
        x = (x << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(x)
            x = 0
    first = arcs[0]
    if first < 80:
        arcs[0] = first % 40
        arcs.insert(0, first // 40)
    else:
        arcs[0] = first - 80
        arcs.insert(0, 2)
    return ".".join([str(a) for a in arcs])
