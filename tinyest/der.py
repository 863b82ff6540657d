"""Strict DER reader and writer (ITU-T X.690), small enough for a microcontroller.

Reading
    ``Reader`` walks a buffer through a memoryview: every value it returns is a
    slice of the caller's buffer, nothing is copied. All strictness lives in one
    method, ``Reader._take``:

    * definite lengths only (X.690 10.1); indefinite lengths only when a reader is
      made with ``ber=True`` (used for the outer CMS layers some CAs emit);
    * minimal length octets (X.690 10.1, 8.1.3.5): short form below 128, no
      leading zero octets, the reserved 0xFF form refused;
    * at most 4 length octets, and a length never beyond the enclosing element,
      checked before anything is sliced or allocated;
    * low tag numbers only (tag number <= 30; X.690 8.1.2.4 high-tag form refused);
    * end-of-contents (tag 0) refused outside BER indefinite framing, and
      indefinite lengths nested at most ``MAX_BER_DEPTH`` (6) deep, the outer CMS
      layers (each level walks its contents once more, so walking stays linear);
    * nesting bounded by ``MAX_DEPTH``;
    * ``done()`` refuses trailing bytes.

    Value readers add the rest: minimal INTEGERs (8.3.2), BOOLEAN as 00/FF
    (11.1), BIT STRING with zero padding bits (11.2), minimal OID subidentifiers
    (8.19.2), UTCTime/GeneralizedTime in the RFC 5280 form (YYMMDDHHMMSSZ,
    YYYYMMDDHHMMSSZ; 11.7, 11.8). ``read_uint``, ``read_null`` and
    ``read_string`` are in ``tinyest.der_text`` (see below).

Writing
    ``tinyest.der_write`` holds the builders (``tlv(tag, *parts)``, ``seq``,
    ``set_of`` sorted per X.690 11.6, ``explicit``, ``ctx``, one function per
    universal type) and the tag numbers only they and hosts use. Callers write
    ``der.seq(...)``: the module ``__getattr__`` below imports it on the first
    such name, so a device holds the writers only while it writes.

Time
    ``timegm`` (and ``der_extra.gmtime``) convert between a UTC date and seconds
    since 1970 by pure arithmetic, so certificate dates never depend on the
    port's epoch (2000 on ESP32).

Not here, imported on first use: what a device needs only on a rare path or
    never. ``der.NAME`` resolves in ``tinyest.der_write`` (the writers) or
    ``tinyest.der_text`` (``oid_str``, ``encode_oid``), and a Reader's
    ``read_uint``, ``read_null`` and ``read_string`` (RSA keys, hosts) in
    ``der_text``, which also holds OID dotted text, the rare string types
    (T61String, BMPString, UniversalString) that ``decode_string`` hands it and
    the texts of the DERError messages. ``tinyest.der_extra`` holds what only a
    host writes (``implicit``, ``uint``, ``printable``, ``ia5``, ``utc_time``,
    ``generalized_time``, ``time`` and ``gmtime``) and is imported by name.

Errors are ``DERError`` with the absolute byte offset of the fault.
"""

from tinyest import lazy
from tinyest.errors import DERError

try:
    from micropython import const
except ImportError:  # CPython: every constant here is an int
    const = int


MAX_DEPTH = const(24)
MAX_BER_DEPTH = const(6)

BOOLEAN = const(0x01)
INTEGER = const(0x02)
OID = const(0x06)
SEQUENCE = const(0x30)
SET = const(0x31)

_PRINTABLE = b" '()+,-./:=?"

_TRUNCATED = const(0)
_TRAILING = const(1)
_DEEP = const(2)
_HIGH_TAG = const(3)
_STRAY_EOC = const(4)
_INDEFINITE = const(5)
_BER_DEEP = const(6)
_NO_EOC = const(7)
_BAD_EOC = const(8)
_LEN_OCTETS = const(9)
_LEN_MINIMAL = const(10)
_LEN_EXCEEDS = const(11)
_WRONG_TAG = const(12)
_INT_EMPTY = const(13)
_INT_MINIMAL = const(14)
_BAD_BOOL = const(15)
_BAD_PADDING = const(16)
_TIME_FORM = const(17)
_TIME_RANGE = const(18)
_BAD_OID = const(19)
_OID_MINIMAL = const(20)
_BAD_CHAR = const(21)
_BAD_UTF8 = const(22)
_NOT_STRING = const(23)


def _error(i, at, args=()):
    """DERError with message number ``i`` (the constants above) of
    der_text._MESSAGES, formatted with args: the texts are imported with the
    first error, as malformed input is rare."""
    from tinyest.der_text import _MESSAGES

    return DERError(_MESSAGES.split("|")[i] % args, at)


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
            raise _error(_DEEP, start, (MAX_DEPTH,))

    def empty(self):
        return self.pos >= self.end

    def done(self):
        """Raise unless every byte has been read."""
        if self.pos != self.end:
            raise _error(_TRAILING, self.pos)

    def offset(self):
        return self.pos

    def peek_tag(self):
        """The next tag byte, or -1 at the end."""
        return self.buf[self.pos] if self.pos < self.end else -1

    def _take(self, tag=-1):
        # Consumes the next element (of this tag, if >= 0) by the X.690 rules:
        # returns (tag, content_start, content_end, element_start).
        buf = self.buf
        pos = self.pos
        end = self.end
        if pos >= end:
            raise _error(_TRUNCATED, pos)
        t = buf[pos]
        if tag >= 0 and t != tag:
            raise _error(_WRONG_TAG, pos, (tag, t))
        if t & 0x1F == 0x1F:
            raise _error(_HIGH_TAG, pos)
        if t == 0:
            raise _error(_STRAY_EOC, pos)
        if pos + 1 >= end:
            raise _error(_TRUNCATED, pos)
        n = buf[pos + 1]
        c = pos + 2
        if n == 0x80:
            # BER indefinite length: walk the children (each read by a Reader one
            # level down) up to the end-of-contents octets. Every step advances e
            # by >= 2.
            if not (self.ber and t & 0x20):
                raise _error(_INDEFINITE, pos)
            depth = self.depth + 1
            if depth > MAX_BER_DEPTH:  # each level walks its subtree once more
                raise _error(_BER_DEEP, pos, (MAX_BER_DEPTH,))
            e = c
            while True:
                if e + 2 > end:
                    raise _error(_NO_EOC, e)
                if buf[e] == 0:
                    if buf[e + 1]:
                        raise _error(_BAD_EOC, e)
                    self.pos = e + 2
                    return t, c, e, pos
                r = Reader(buf, e, end, depth, True)
                r._take()
                e = r.pos
        if n > 0x80:
            n &= 0x7F
            if n > 4:  # the reserved 0xFF form included
                raise _error(_LEN_OCTETS, pos, (n,))
            if c + n > end:
                raise _error(_TRUNCATED, pos)
            length = int.from_bytes(buf[c:c + n], "big")
            if buf[c] == 0 or length < 0x80:
                raise _error(_LEN_MINIMAL, pos)
            c += n
            n = length
        if n > end - c:
            raise _error(_LEN_EXCEEDS, pos, (n, end - c))
        self.pos = c + n
        return t, c, c + n, pos

    skip = _take

    def read_any(self):
        """Return (tag, contents) of the next element."""
        t, c, e, _ = self._take()
        return t, self.buf[c:e]

    def read(self, tag=0x04):
        """Contents of the next element, which must have this tag (by default
        OCTET STRING: ``read_octets``)."""
        _, c, e, _ = self._take(tag)
        return self.buf[c:e]

    read_octets = read

    def read_element(self, tag=-1):
        """The whole next element, header (and BER end-of-contents) included."""
        return self.buf[self._take(tag)[3]:self.pos]

    def enter(self, tag):
        """A Reader over the contents of the next element (constructed)."""
        _, c, e, _ = self._take(tag)
        return Reader(self.buf, c, e, self.depth + 1, self.ber)

    def optional(self, tag):
        if self.peek_tag() == tag:
            return self.read(tag)

    def enter_optional(self, tag):
        if self.peek_tag() == tag:
            return self.enter(tag)

    # -- typed values

    def read_int(self, tag=INTEGER, _raw=False):
        """A signed INTEGER (or ENUMERATED, or an implicitly tagged one) as int."""
        at = self.pos
        v = self.read(tag)
        n = len(v)
        if n == 0:
            raise _error(_INT_EMPTY, at)
        if n > 1 and (v[0] << 1 | v[1] >> 7) in (0, 0x1FF):  # 9 leading zeros or ones
            raise _error(_INT_MINIMAL, at)
        if _raw:
            return v
        x = int.from_bytes(v, "big")
        if v[0] & 0x80:
            x -= 1 << (8 * n)
        return x

    def read_bool(self):
        at = self.pos
        v = self.read(BOOLEAN)
        if len(v) != 1 or v[0] not in (0, 0xFF):
            raise _error(_BAD_BOOL, at)
        return v[0] == 0xFF

    def read_oid(self):
        """OID contents (validated), to compare with pre-encoded OID bytes."""
        at = self.pos
        v = self.read(OID)
        check_oid(v, at)
        return v

    def read_bit_string(self, _whole=False):
        """Return (unused_bits, bytes) of a BIT STRING."""
        at = self.pos
        v = self.read(0x03)  # BIT STRING
        n = len(v)
        u = v[0] if n else 8
        if u > 7 or (u and (n == 1 or _whole or v[n - 1] & ((1 << u) - 1))):
            raise _error(_BAD_PADDING, at)
        return v[1:] if _whole else (u, v[1:])

    def read_bits(self):
        """A BIT STRING holding whole octets (keys, signatures)."""
        return self.read_bit_string(True)

    # read_uint, read_null and read_string (RSA keys, hosts) are functions
    # ``r_NAME(reader, ...)`` of tinyest.der_text, imported when first asked for
    __getattr__ = lazy("der_text", prefix="r_")

    def read_time(self):
        """UTCTime or GeneralizedTime (RFC 5280 forms: YYMMDDHHMMSSZ,
        YYYYMMDDHHMMSSZ) as seconds since 1970-01-01 UTC."""
        at = self.pos
        g = self.peek_tag() == 0x18  # GeneralizedTime, else UTCTime (0x17)
        v = self.read(0x18 if g else 0x17)
        n = len(v) - 1
        x = []  # two-digit fields
        if n == 12 + 2 * g and v[n] == 0x5A:  # 'Z'
            for i in range(0, n, 2):
                a = v[i] - 0x30
                b = v[i + 1] - 0x30
                if 0 <= a <= 9 and 0 <= b <= 9:
                    x.append(a * 10 + b)
        if len(x) != 6 + g:  # a wrong length, no Z, or not a digit
            raise _error(_TIME_FORM, at)
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
            raise _error(_TIME_RANGE, at)
        return timegm(y, mo, d, h, mi, s)

def top(buf, tag=SEQUENCE, ber=False):
    """Reader over the contents of the single element that fills ``buf``."""
    r = Reader(buf, ber=ber)
    inner = r.enter(tag)
    r.done()
    return inner


def request_spki(csr):
    """The SubjectPublicKeyInfo element (bytes) of a PKCS#10 request (RFC 2986)."""
    info = top(csr).enter(SEQUENCE)
    info.read_int()
    info.read_element(SEQUENCE)  # subject
    return bytes(info.read_element(SEQUENCE))


def check_oid(v, at=-1):
    """Raise unless v is valid OID contents (X.690 8.19: minimal subidentifiers)."""
    n = len(v)
    if n == 0 or v[n - 1] & 0x80:
        raise _error(_BAD_OID, at)
    first = True
    for b in v:
        if first and b == 0x80:
            raise _error(_OID_MINIMAL, at)
        first = not (b & 0x80)


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
                    raise _error(_BAD_CHAR, at, (tag,))
        try:
            return str(v, "utf-8")
        except UnicodeError:
            raise _error(_BAD_UTF8, at)
    if tag in b"\x14\x1c\x1e":
        from tinyest import der_text

        return der_text.decode_rare(tag, v, at)
    raise _error(_NOT_STRING, at, (tag,))


def timegm(y, mo, d, h=0, mi=0, s=0):
    """Seconds since 1970-01-01T00:00:00Z of a proleptic Gregorian UTC date."""
    y -= mo <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + d - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return ((days * 24 + h) * 60 + mi) * 60 + s


# ---------------------------------------------------------------- the rest


def __getattr__(name):
    # The writers (tlv, seq, integer, ...) and the tag numbers that only they and
    # hosts use are in tinyest.der_write, OID text in tinyest.der_text: both are
    # imported on the first ``der.NAME`` that asks for them.
    if name in ("oid_str", "encode_oid"):
        from tinyest import der_text as m
    else:
        from tinyest import der_write as m
    return getattr(m, name)
