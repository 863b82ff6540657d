"""Strict DER reader and writer (ITU-T X.690), small enough for a microcontroller.

Reading
    ``Reader`` walks a buffer through a memoryview: every value it returns is a
    slice of the caller's buffer, nothing is copied. All strictness lives in one
    header function, ``Reader._header``:

    * definite lengths only (X.690 10.1); indefinite lengths only when a reader is
      made with ``ber=True`` (used for the outer CMS layers some CAs emit);
    * minimal length octets (X.690 10.1, 8.1.3.5): short form below 128, no
      leading zero octets, the reserved 0xFF form refused;
    * at most 4 length octets, and a length never beyond the enclosing element,
      checked before anything is sliced or allocated;
    * low tag numbers only (tag number <= 30; X.690 8.1.2.4 high-tag form refused);
    * end-of-contents (tag 0) refused outside BER indefinite framing;
    * nesting bounded by ``MAX_DEPTH``;
    * ``done()`` refuses trailing bytes.

    Value readers add the rest: minimal INTEGERs (8.3.2), BOOLEAN as 00/FF
    (11.1), BIT STRING with zero padding bits (11.2), minimal OID subidentifiers
    (8.19.2), UTCTime/GeneralizedTime in the RFC 5280 form (YYMMDDHHMMSSZ,
    YYYYMMDDHHMMSSZ; 11.7, 11.8).

Writing
    Builders take contents and compute every length: ``tlv(tag, *parts)``,
    ``seq``, ``set_of`` (sorted per X.690 11.6), ``explicit``, ``implicit``, and one
    function per universal type.

Time
    ``timegm``/``gmtime`` convert between a UTC date and seconds since 1970 by
    pure arithmetic, so certificate dates never depend on the port's epoch
    (2000 on ESP32).

Not here: ``tinyest.der_extra`` holds what only a host writes (``implicit``,
    ``uint``, ``printable``, ``ia5``, ``utc_time``, ``generalized_time``,
    ``time`` and ``gmtime``).

Errors are ``DERError`` with the absolute byte offset of the fault.
"""

from tinyest.errors import DERError

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


MAX_DEPTH = const(24)

BOOLEAN = const(0x01)
INTEGER = const(0x02)
BIT_STRING = const(0x03)
OCTET_STRING = const(0x04)
NULL = const(0x05)
OID = const(0x06)
ENUMERATED = const(0x0A)
UTF8_STRING = const(0x0C)
NUMERIC_STRING = const(0x12)
PRINTABLE_STRING = const(0x13)
T61_STRING = const(0x14)
IA5_STRING = const(0x16)
UTC_TIME = const(0x17)
GENERALIZED_TIME = const(0x18)
VISIBLE_STRING = const(0x1A)
UNIVERSAL_STRING = const(0x1C)
BMP_STRING = const(0x1E)
SEQUENCE = const(0x30)
SET = const(0x31)

_PRINTABLE = b" '()+,-./:=?"


def ctx(n, constructed=True):
    """Tag byte of context-specific tag [n]."""
    return (0xA0 if constructed else 0x80) | n


# ---------------------------------------------------------------- reading


class Reader:
    """Reads DER elements from ``buf[start:end]``.

    ``read*`` methods consume one element and return its value; ``enter`` returns
    a child Reader over a constructed element's contents; ``optional`` and
    ``enter_optional`` return None when the next tag is not the one asked for.
    """

    def __init__(self, buf, start=0, end=None, depth=0, ber=False):
        if not isinstance(buf, memoryview):
            buf = memoryview(buf)
        self.buf = buf
        self.pos = start
        self.end = len(buf) if end is None else end
        self.depth = depth
        self.ber = ber
        if depth > MAX_DEPTH:
            raise DERError("nesting deeper than %d" % MAX_DEPTH, start)

    def empty(self):
        return self.pos >= self.end

    def done(self):
        """Raise unless every byte has been read."""
        if self.pos != self.end:
            raise DERError("trailing bytes", self.pos)

    def peek_tag(self):
        """The next tag byte, or -1 at the end."""
        if self.pos >= self.end:
            return -1
        return self.buf[self.pos]

    def _header(self, pos, end, depth):
        # Returns (tag, content_start, content_end, next_pos).
        buf = self.buf
        if pos >= end:
            raise DERError("truncated: element expected", pos)
        tag = buf[pos]
        if tag & 0x1F == 0x1F:
            raise DERError("high tag number form", pos)
        if tag == 0:
            raise DERError("unexpected end-of-contents", pos)
        if pos + 1 >= end:
            raise DERError("truncated: no length", pos)
        n = buf[pos + 1]
        c = pos + 2
        if n < 0x80:
            length = n
        elif n == 0x80:
            if not (self.ber and tag & 0x20):
                raise DERError("indefinite length", pos)
            stop = self._eoc(c, end, depth + 1)
            return tag, c, stop, stop + 2
        else:
            n &= 0x7F
            if n == 0x7F:
                raise DERError("reserved length form", pos)
            if n > 4:
                raise DERError("length of %d octets" % n, pos)
            if c + n > end:
                raise DERError("truncated length", pos)
            if buf[c] == 0:
                raise DERError("non-minimal length", pos)
            length = 0
            for i in range(n):
                length = (length << 8) | buf[c + i]
            if length < 0x80:
                raise DERError("non-minimal length", pos)
            c += n
        if length > end - c:
            raise DERError("length %d exceeds the %d bytes left" % (length, end - c), pos)
        return tag, c, c + length, c + length

    def _eoc(self, pos, end, depth):
        # BER indefinite length: walk the children up to the end-of-contents
        # octets and return their offset. Every step advances pos by >= 2.
        if depth > MAX_DEPTH:
            raise DERError("nesting deeper than %d" % MAX_DEPTH, pos)
        buf = self.buf
        while True:
            if pos + 2 > end:
                raise DERError("truncated: end-of-contents missing", pos)
            if buf[pos] == 0:
                if buf[pos + 1] != 0:
                    raise DERError("bad end-of-contents", pos)
                return pos
            pos = self._header(pos, end, depth)[3]

    def _next(self):
        tag, c, e, nxt = self._header(self.pos, self.end, self.depth)
        start = self.pos
        self.pos = nxt
        return tag, c, e, start

    def _expect(self, tag):
        if self.pos < self.end and self.buf[self.pos] != tag:
            raise DERError("expected tag 0x%02x, got 0x%02x" % (tag, self.buf[self.pos]), self.pos)
        return self._next()

    def read_any(self):
        """Return (tag, contents) of the next element."""
        tag, c, e, _ = self._next()
        return tag, self.buf[c:e]

    def read(self, tag):
        """Contents of the next element, which must have this tag."""
        _, c, e, _ = self._expect(tag)
        return self.buf[c:e]

    def read_element(self, tag=-1):
        """The whole next element, header included (e.g. a TBSCertificate)."""
        if tag >= 0:
            _, c, e, start = self._expect(tag)
        else:
            _, c, e, start = self._next()
        if e != self.pos:  # indefinite length: include the end-of-contents octets
            e = self.pos
        return self.buf[start:e]

    def enter(self, tag):
        """A Reader over the contents of the next element (constructed)."""
        _, c, e, _ = self._expect(tag)
        return Reader(self.buf, c, e, self.depth + 1, self.ber)

    def optional(self, tag):
        if self.peek_tag() != tag:
            return None
        return self.read(tag)

    def enter_optional(self, tag):
        if self.peek_tag() != tag:
            return None
        return self.enter(tag)

    def skip(self):
        self._next()

    def offset(self):
        return self.pos

    # -- typed values

    def read_int(self, tag=INTEGER):
        """A signed INTEGER (or ENUMERATED, or an implicitly tagged one) as int."""
        at = self.pos
        v = self.read(tag)
        n = len(v)
        if n == 0:
            raise DERError("empty integer", at)
        if n > 1 and ((v[0] == 0 and v[1] < 0x80) or (v[0] == 0xFF and v[1] >= 0x80)):
            raise DERError("non-minimal integer", at)
        x = int.from_bytes(v, "big")
        if v[0] & 0x80:
            x -= 1 << (8 * n)
        return x

    def read_uint(self, tag=INTEGER):
        """A non-negative INTEGER as minimal big-endian bytes (b'' for zero is b'\\x00')."""
        at = self.pos
        v = self.read(tag)
        n = len(v)
        if n == 0:
            raise DERError("empty integer", at)
        if v[0] & 0x80:
            raise DERError("negative integer", at)
        if n > 1 and v[0] == 0:
            if v[1] < 0x80:
                raise DERError("non-minimal integer", at)
            return v[1:]
        return v

    def read_bool(self):
        at = self.pos
        v = self.read(BOOLEAN)
        if len(v) != 1 or v[0] not in (0, 0xFF):
            raise DERError("bad boolean", at)
        return v[0] == 0xFF

    def read_null(self):
        at = self.pos
        if len(self.read(NULL)):
            raise DERError("NULL with contents", at)

    def read_oid(self):
        """OID contents (validated), to compare with pre-encoded OID bytes."""
        at = self.pos
        v = self.read(OID)
        check_oid(v, at)
        return v

    def read_bit_string(self):
        """Return (unused_bits, bytes) of a BIT STRING."""
        at = self.pos
        v = self.read(BIT_STRING)
        if len(v) == 0:
            raise DERError("empty bit string", at)
        unused = v[0]
        if unused > 7 or (unused and len(v) == 1):
            raise DERError("bad unused-bits count", at)
        if unused and v[len(v) - 1] & ((1 << unused) - 1):
            raise DERError("non-zero padding bits", at)
        return unused, v[1:]

    def read_bits(self):
        """A BIT STRING holding whole octets (keys, signatures)."""
        at = self.pos
        unused, v = self.read_bit_string()
        if unused:
            raise DERError("bit string is not octet-aligned", at)
        return v

    def read_octets(self):
        return self.read(OCTET_STRING)

    def read_time(self):
        """UTCTime or GeneralizedTime as seconds since 1970-01-01 UTC."""
        at = self.pos
        tag = self.peek_tag()
        if tag == UTC_TIME:
            return parse_time(self.read(UTC_TIME), False, at)
        if tag == GENERALIZED_TIME:
            return parse_time(self.read(GENERALIZED_TIME), True, at)
        raise DERError("expected a time", at)

    def read_string(self):
        """Any ASN.1 character string as (tag, str)."""
        at = self.pos
        tag, v = self.read_any()
        return tag, decode_string(tag, v, at)


def top(buf, tag=SEQUENCE, ber=False):
    """Reader over the contents of the single element that fills ``buf``."""
    r = Reader(buf, ber=ber)
    inner = r.enter(tag)
    r.done()
    return inner


def check_oid(v, at=-1):
    n = len(v)
    if n == 0:
        raise DERError("empty OID", at)
    if v[n - 1] & 0x80:
        raise DERError("truncated OID", at)
    first = True
    for b in v:
        if first and b == 0x80:
            raise DERError("non-minimal OID subidentifier", at)
        first = not (b & 0x80)


def decode_string(tag, v, at=-1):
    """Decode a character string's contents to str; checks the type's alphabet."""
    if tag == UTF8_STRING:
        try:
            return str(bytes(v), "utf-8")
        except UnicodeError:
            raise DERError("bad UTF-8", at)
    if tag in (PRINTABLE_STRING, IA5_STRING, NUMERIC_STRING, VISIBLE_STRING):
        for b in v:
            if tag == IA5_STRING:
                if b > 0x7F:  # IA5 is all of 7-bit ASCII, controls and DEL included
                    raise DERError("bad character in IA5String", at)
                continue
            if b > 0x7E or b < 0x20:
                raise DERError("bad character in string", at)
            if tag == PRINTABLE_STRING and not (alnum(b) or b in _PRINTABLE):
                raise DERError("bad character in PrintableString", at)
            if tag == NUMERIC_STRING and not (0x30 <= b <= 0x39 or b == 0x20):
                raise DERError("bad character in NumericString", at)
        return str(bytes(v), "utf-8")
    if tag == T61_STRING:  # in practice Latin-1
        return "".join([chr(b) for b in v])
    if tag == BMP_STRING:
        return _utf16(v, at)
    if tag == UNIVERSAL_STRING:
        if len(v) % 4:
            raise DERError("bad UniversalString length", at)
        out = []
        for i in range(0, len(v), 4):
            c = (v[i] << 24) | (v[i + 1] << 16) | (v[i + 2] << 8) | v[i + 3]
            if c > 0x10FFFF or 0xD800 <= c < 0xE000:
                raise DERError("bad UniversalString character", at)
            out.append(chr(c))
        return "".join(out)
    raise DERError("not a string type: 0x%02x" % tag, at)


def alnum(b):
    return 0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A


def _utf16(v, at):
    if len(v) % 2:
        raise DERError("bad BMPString length", at)
    out = []
    i = 0
    n = len(v)
    while i < n:
        c = (v[i] << 8) | v[i + 1]
        i += 2
        if 0xD800 <= c < 0xDC00:
            if i >= n:
                raise DERError("bad BMPString surrogate", at)
            d = (v[i] << 8) | v[i + 1]
            if not 0xDC00 <= d < 0xE000:
                raise DERError("bad BMPString surrogate", at)
            i += 2
            c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00)
        elif 0xDC00 <= c < 0xE000:
            raise DERError("bad BMPString surrogate", at)
        out.append(chr(c))
    return "".join(out)


# ---------------------------------------------------------------- time

_MDAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(y, m):
    if m == 2 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0):
        return 29
    return _MDAYS[m - 1]


def timegm(y, mo, d, h=0, mi=0, s=0):
    """Seconds since 1970-01-01T00:00:00Z of a proleptic Gregorian UTC date."""
    y2 = y - (mo <= 2)
    era = y2 // 400
    yoe = y2 - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return ((days * 24 + h) * 60 + mi) * 60 + s


def parse_time(v, generalized, at=-1):
    n = 15 if generalized else 13
    if len(v) != n or v[n - 1] != 0x5A:  # 'Z'
        raise DERError("time not in YYMMDDHHMMSSZ form", at)
    x = []
    for i in range(n - 1):
        c = v[i] - 0x30
        if not 0 <= c <= 9:
            raise DERError("bad digit in time", at)
        x.append(c)
    if generalized:
        y = x[0] * 1000 + x[1] * 100 + x[2] * 10 + x[3]
        x = x[4:]
    else:
        y = x[0] * 10 + x[1]
        y += 2000 if y < 50 else 1900  # RFC 5280 4.1.2.5.1
        x = x[2:]
    mo = x[0] * 10 + x[1]
    d = x[2] * 10 + x[3]
    h = x[4] * 10 + x[5]
    mi = x[6] * 10 + x[7]
    s = x[8] * 10 + x[9]
    if not (1 <= mo <= 12 and 1 <= d <= _days_in_month(y, mo) and h < 24 and mi < 60 and s < 60):
        raise DERError("time out of range", at)
    return timegm(y, mo, d, h, mi, s)


# ---------------------------------------------------------------- writing


def _length(n):
    if n < 0x80:
        return bytes((n,))
    b = n.to_bytes(4, "big")
    i = 0
    while b[i] == 0:
        i += 1
    return bytes((0x80 | (4 - i),)) + b[i:]


def tlv(tag, *parts):
    """One element: tag, computed length, and the concatenated parts."""
    n = 0
    for p in parts:
        n += len(p)
    out = bytearray((tag,))
    out += _length(n)
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
        if len(p) > n:
            n = len(p)
    pad = bytes(n)
    items = [(bytes(p) + pad[len(p):], p) for p in parts]
    items.sort(key=lambda t: t[0])
    return tlv(SET, *[p for _, p in items])


def explicit(n, *parts):
    """[n] EXPLICIT: a constructed context tag around the parts."""
    return tlv(0xA0 | n, *parts)


def integer(x):
    """A signed INTEGER of any size, minimal."""
    if x >= 0:
        n = 1
        while x >> (8 * n - 1):
            n += 1
        return tlv(INTEGER, x.to_bytes(n, "big"))
    n = 1
    while -x > (1 << (8 * n - 1)):
        n += 1
    return tlv(INTEGER, ((1 << (8 * n)) + x).to_bytes(n, "big"))


def encode_oid(dotted):
    """OID contents of a dotted string such as '1.2.840.10045.2.1'."""
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError:
        raise DERError("bad OID text %r" % dotted)
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise DERError("bad OID %r" % dotted)
    out = bytearray()
    vals = [arcs[0] * 40 + arcs[1]] + arcs[2:]
    for v in vals:
        chunk = [v & 0x7F]
        v >>= 7
        while v:
            chunk.append(0x80 | (v & 0x7F))
            v >>= 7
        chunk.reverse()
        out.extend(bytes(chunk))
    return bytes(out)


def oid_str(v):
    """Dotted text of OID contents (for messages and display only)."""
    check_oid(v)
    arcs = []
    x = 0
    for b in v:
        x = (x << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(x)
            x = 0
    first = arcs[0]
    if first < 80:
        head = [first // 40, first % 40]
    else:
        head = [2, first - 80]
    return ".".join([str(a) for a in head + arcs[1:]])


def oid(x):
    """An OBJECT IDENTIFIER element from dotted text or pre-encoded contents."""
    if isinstance(x, str):
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
        raise DERError("%r is not encodable as UTF-8" % s)
    return tlv(UTF8_STRING, b)

