"""The parts of ``tinyest.der`` a device needs only after a TLS handshake, to
check an answer, or never (imported on first use; ``der.NAME`` and the
``Reader`` methods named below resolve here, so callers keep using
``tinyest.der``):

* character strings: ``decode_string`` (reached as ``der.decode_string``) checks
  the alphabet of UTF8String, NumericString, PrintableString, IA5String and
  VisibleString, and decodes the types certificates seldom use: T61String (read
  as Latin-1), BMPString (UTF-16BE, surrogate pairs checked) and
  UniversalString (UCS-4, no surrogates, at most U+10FFFF);
* dates: ``Reader.read_time`` (``r_read_time``: UTCTime or GeneralizedTime in the
  RFC 5280 forms, X.690 11.7, 11.8) and ``timegm``, by pure arithmetic, so
  certificate dates never depend on the port's epoch (2000 on ESP32);
* ``Reader.read_uint``, ``read_null``, ``read_string`` (RSA keys and hosts);
* OID dotted text for messages and hosts (``oid_str``, ``encode_oid``, reached
  through ``der.oid_str``, ``der.encode_oid`` and ``der.oid``);
* the texts of der's numbered DERError messages (``_MESSAGES``).

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
    "non-minimal integer|bad boolean|bad BIT STRING padding|bad OID|non-minimal OID"
)
# Printable string punctuation (X.680 41.4), besides letters, digits and space
_PRINTABLE = b" '()+,-./:=?"


def decode_string(tag, v, at=-1):
    """Decode a character string's contents to str; checks the type's alphabet."""
    if tag in b"\x0c\x12\x13\x16\x1a":  # UTF8, Numeric, Printable, IA5, Visible
        if tag != 0x0C:  # UTF8String: any UTF-8
            for b in v:
                # IA5: all of 7-bit ASCII, controls and DEL included; the others
                # are printable ASCII: any (Visible), digits and space (Numeric),
                # letters, digits and _PRINTABLE (Printable)
                # (b | 0x20 maps the capitals on the small letters)
                if not (b < 0x80 if tag == 0x16 else 0x1F < b < 0x7F and (
                        tag == 0x1A or 0x2F < b < 0x3A or b == 0x20
                        or tag == 0x13 and (0x60 < b | 0x20 < 0x7B or b in _PRINTABLE))):
                    raise DERError("bad character in string 0x%02x" % tag, at)
        try:
            return str(v, "utf-8")
        except UnicodeError:
            raise DERError("bad UTF-8", at)
    if tag not in b"\x14\x1c\x1e":
        raise DERError("not a string: 0x%02x" % tag, at)
    # T61String (0x14), UniversalString (0x1C) or BMPString (0x1E)
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


def r_read_time(r):
    """``Reader.read_time``: UTCTime or GeneralizedTime (RFC 5280 forms:
    YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ) as seconds since 1970-01-01 UTC."""
    at = r.pos
    g = r.peek_tag() == 0x18  # GeneralizedTime, else UTCTime (0x17)
    v = r.read(0x18 if g else 0x17)
    n = len(v) - 1
    x = []  # two-digit fields
    if n == 12 + 2 * g and v[n] == 0x5A:  # 'Z'
        for i in range(0, n, 2):
            a = v[i] - 0x30
            b = v[i + 1] - 0x30
            if 0 <= a <= 9 and 0 <= b <= 9:
                x.append(a * 10 + b)
    if len(x) != 6 + g:  # a wrong length, no Z, or not a digit
        raise DERError("bad time form", at)
    if g:
        y = x.pop(0) * 100 + x[0]
    else:
        y = x[0] + (2000 if x[0] < 50 else 1900)  # RFC 5280 4.1.2.5.1
    _, mo, d, h, mi, s = x
    if mo == 2:
        days = 28 + (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))
    else:
        days = 30 + ((mo + (mo >> 3)) & 1)
    if not (1 <= mo <= 12 and 1 <= d <= days and h < 24 and mi < 60 and s < 60):
        raise DERError("time out of range", at)
    return timegm(y, mo, d, h, mi, s)


def timegm(y, mo, d, h=0, mi=0, s=0):
    """Seconds since 1970-01-01T00:00:00Z of a proleptic Gregorian UTC date."""
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return ((days * 24 + h) * 60 + mi) * 60 + s


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
