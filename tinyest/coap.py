"""CoAP messages (RFC 7252) and block-wise option values (RFC 7959): the wire
codec under EST over CoAP (RFC 9148). Loaded only by what speaks CoAP; the
HTTPS path never imports it.

API
    ``Message(mtype, code, mid, token=b"", options=(), payload=b"")``: fields of
    the same names; ``options`` a list of (number, value bytes) in option-number
    order (repeats keep their order). ``m.first(number)`` is the first value of
    an option or None; ``m.uint(number)`` an option read as an unsigned integer
    (None when absent); ``m.block(number)`` a Block1/Block2 option as (num,
    more, size) or None.
    ``encode(m)`` -> the datagram; ``decode(data)`` -> Message.
    ``uint_bytes(n)`` the minimal unsigned-integer option value (b"" for 0);
    ``block_value(num, more, size)`` a Block1/Block2 option value.

Decoding (a datagram from the network: everything checked, nothing trusted)
    Version 1 only; token length 0 to 8; option delta and length nibbles 13 and
    14 extended by one and two octets, 15 only as the payload marker 0xFF; a
    marker must be followed by at least one octet of payload; an option may not
    run past the datagram or push the option number past 65535; an Empty
    message (code 0.00) carries nothing after its Message ID. At most
    ``MAX_OPTIONS`` options. Any violation is a ProtocolError (RFC 7252 calls
    it a message format error: the caller ignores or rejects the datagram).
    Reading a known option (``uint``, ``block``) checks its length against the
    RFC's range; outside it a critical option (odd number) is a ProtocolError,
    an elective one reads as absent, as RFC 7252 5.4.1 and 5.4.3 say.
    Integer option values may carry leading zero octets (the RFC asks
    receivers to accept them); ``encode`` never writes them.

Encoding
    Options are written sorted by number (stable), with the shortest delta and
    length forms. Token, Message ID, type and code are checked for range
    (FormatError): a caller's mistake, not the peer's.
"""

from tinyest.errors import FormatError, ProtocolError

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# Message types
CON = const(0)
NON = const(1)
ACK = const(2)
RST = const(3)

# Codes: class << 5 | detail (c.dd)
EMPTY = const(0x00)
GET = const(0x01)
POST = const(0x02)
CHANGED = const(0x44)  # 2.04
CONTENT = const(0x45)  # 2.05
CONTINUE = const(0x5F)  # 2.31 (RFC 7959)
SERVICE_UNAVAILABLE = const(0xA3)  # 5.03

# Option numbers (RFC 7252 5.10, RFC 7959 2.1 and 4)
URI_HOST = const(3)
ETAG = const(4)
URI_PORT = const(7)
LOCATION_PATH = const(8)
URI_PATH = const(11)
CONTENT_FORMAT = const(12)
MAX_AGE = const(14)
URI_QUERY = const(15)
ACCEPT = const(17)
LOCATION_QUERY = const(20)
BLOCK2 = const(23)
BLOCK1 = const(27)
SIZE2 = const(28)
SIZE1 = const(60)

# Content-Formats of EST over CoAP (RFC 9148 8.3), link-format (RFC 6690) and
# multipart-core (RFC 8710)
LINK_FORMAT = const(40)
MULTIPART_CORE = const(62)
PKCS7_CERTS = const(281)  # application/pkcs7-mime; smime-type=certs-only
PKCS8 = const(284)
CSRATTRS = const(285)
PKCS10 = const(286)
PKIX_CERT = const(287)

MAX_OPTIONS = const(32)

# Length ranges of the options read here: number -> (min, max) octets
_RANGES = {URI_HOST: (1, 255), ETAG: (1, 8), URI_PORT: (0, 2), LOCATION_PATH: (0, 255), URI_PATH: (0, 255),
           CONTENT_FORMAT: (0, 2), MAX_AGE: (0, 4), URI_QUERY: (0, 255), ACCEPT: (0, 2),
           LOCATION_QUERY: (0, 255), BLOCK2: (0, 3), BLOCK1: (0, 3), SIZE2: (0, 4), SIZE1: (0, 4)}


class Message:
    def __init__(self, mtype, code, mid, token=b"", options=(), payload=b""):
        self.mtype = mtype
        self.code = code
        self.mid = mid
        self.token = token
        self.options = list(options)
        self.payload = payload

    def first(self, number):
        for n, v in self.options:
            if n == number:
                return v
        return None

    def uint(self, number):
        v = self.first(number)
        if v is None or not _in_range(number, v):
            return None
        return int.from_bytes(v, "big")

    def block(self, number):
        n = self.uint(number)
        if n is None:
            return None
        if n & 7 == 7:
            raise ProtocolError("block option with the reserved size exponent 7")
        return n >> 4, bool(n & 8), 16 << (n & 7)


def _in_range(number, v):
    r = _RANGES.get(number)
    if r is None or r[0] <= len(v) <= r[1]:
        return True
    if number & 1:  # critical: the message is rejected
        raise ProtocolError("option %d of %d octets" % (number, len(v)))
    return False  # elective: ignored


def uint_bytes(n):
    """The shortest big-endian octets of ``n`` >= 0 (b"" for 0)."""
    out = b""
    while n:
        out = bytes((n & 0xFF,)) + out
        n >>= 8
    return out


def block_value(num, more, size):
    """A Block1/Block2 option value: block ``num`` of ``size`` octets (16 to 1024,
    a power of two), ``more`` when further blocks follow."""
    szx = 0
    while 16 << szx < size and szx < 6:
        szx += 1
    if 16 << szx != size or not 0 <= num < 1 << 20:
        raise FormatError("block %d of %d octets" % (num, size))
    return uint_bytes(num << 4 | (8 if more else 0) | szx)


def _nibble(n):
    # (nibble, extension octets) of an option delta or length
    if n < 13:
        return n, b""
    if n < 269:
        return 13, bytes((n - 13,))
    return 14, bytes(((n - 269) >> 8, (n - 269) & 0xFF))


def encode(m):
    """The datagram of message ``m``."""
    tok = bytes(m.token)
    if len(tok) > 8 or not 0 <= m.mtype <= 3 or not 0 <= m.code <= 255 or not 0 <= m.mid <= 0xFFFF:
        raise FormatError("bad CoAP header field")
    out = [bytes((0x40 | m.mtype << 4 | len(tok), m.code, m.mid >> 8, m.mid & 0xFF)), tok]
    prev = 0
    # sorted by number, repeats in their order (MicroPython's sort is not stable)
    for number, _, value in sorted([(o[0], i, o[1]) for i, o in enumerate(m.options)]):
        value = bytes(value)
        if not prev <= number <= 0xFFFF or len(value) > 65535 + 269:
            raise FormatError("bad CoAP option %d" % number)
        d, dx = _nibble(number - prev)
        n, nx = _nibble(len(value))
        out += [bytes((d << 4 | n,)), dx, nx, value]
        prev = number
    if m.payload:
        out += [b"\xff", bytes(m.payload)]
    return b"".join(out)


def _ext(data, i, nib, what):
    # (value, next index) of a delta or length nibble and its extension octets
    if nib < 13:
        return nib, i
    if nib == 13:
        if i >= len(data):
            raise ProtocolError("option %s runs past the datagram" % what)
        return data[i] + 13, i + 1
    if nib == 14:
        if i + 1 >= len(data):
            raise ProtocolError("option %s runs past the datagram" % what)
        return (data[i] << 8 | data[i + 1]) + 269, i + 2
    raise ProtocolError("reserved option %s nibble 15" % what)


def decode(data):
    """The Message of one datagram (bytes-like); ProtocolError if malformed."""
    data = bytes(data)
    if len(data) < 4:
        raise ProtocolError("CoAP datagram of %d octets" % len(data))
    b0 = data[0]
    if b0 >> 6 != 1:
        raise ProtocolError("CoAP version %d" % (b0 >> 6))
    tkl = b0 & 15
    if tkl > 8:
        raise ProtocolError("token length %d" % tkl)
    i = 4 + tkl
    if i > len(data):
        raise ProtocolError("token runs past the datagram")
    m = Message(b0 >> 4 & 3, data[1], data[2] << 8 | data[3], data[4:i])
    if m.code == EMPTY and len(data) > 4:
        raise ProtocolError("Empty message with %d more octets" % (len(data) - 4))
    number = 0
    while i < len(data):
        b = data[i]
        i += 1
        if b == 0xFF:
            if i == len(data):
                raise ProtocolError("payload marker without payload")
            m.payload = data[i:]
            break
        if len(m.options) >= MAX_OPTIONS:
            raise ProtocolError("more than %d options" % MAX_OPTIONS)
        d, i = _ext(data, i, b >> 4, "delta")
        n, i = _ext(data, i, b & 15, "length")
        number += d
        if number > 0xFFFF or i + n > len(data):
            raise ProtocolError("option %d runs past the datagram" % number)
        m.options.append((number, data[i:i + n]))
        i += n
    return m
