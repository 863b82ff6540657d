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
    ``Endpoint(sock, ...)``: confirmable requests to one server over a
    datagram socket, with retransmission, separate responses and block-wise
    transfers (see the class).

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

from tinyest import runtime
from tinyest.errors import EstTimeout, FormatError, ProtocolError

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
_TOO_LARGE = const(0x8D)  # 4.13
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
MAX_DATAGRAM = const(1500)  # octets read per datagram
# Transmission parameters (RFC 7252 4.8): seconds, and retransmissions of a request
ACK_TIMEOUT = 2
MAX_RETRANSMIT = const(4)

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


# ---------------------------------------------------------------- exchanges


class Endpoint:
    """Requests to one CoAP server over a connected datagram socket ``sock``
    (UDP, or DTLS over it): ``sock.send(octets)`` sends one datagram,
    ``sock.recv(n)`` returns one. ``timer`` is the object whose
    ``settimeout(seconds)`` bounds a ``recv`` (``sock`` unless given: a DTLS
    socket may leave that to the UDP socket under it); on MicroPython it gets
    ``settimeout(0)`` and ``recv`` is polled instead (10, 20, 40, then every 80 ms),
    since its DTLS socket fails for good once a read has timed out.

    ``request(code, path, payload=b"", cf=None, accept=None)`` -> the response
    Message, its payload assembled from every block: the request body goes in
    Block1 blocks of ``block`` octets (each carrying the Content-Format ``cf``,
    the first also Size1) when it does not fit one, following a server that
    asks for smaller blocks (in a 2.31, or in a 4.13 to a body sent whole); a
    response in Block2 blocks is fetched to the end, block by block at the
    server's size, its ETag unchanged, at most ``max_body`` octets. ``exchange(code, options, payload)`` is one
    confirmable request and its response.

    Reliability (RFC 7252 4.2, 4.8): the request is sent again after
    ``ack_timeout`` x [1, 1.5) seconds, the wait doubling each time, at most
    ``max_retransmit`` times, then EstTimeout. An empty ACK stops the
    retransmissions; the separate response is then awaited for ``wait``
    seconds, and acknowledged when confirmable. Responses match by Message ID
    (piggybacked) and token (separate); datagrams that are not CoAP, ACKs of
    other exchanges and non-confirmable strays are ignored, a confirmable
    stray is reset, a duplicate of a response already taken acknowledged
    again. A Reset of the request is a ProtocolError."""

    def __init__(self, sock, timer=None, ack_timeout=ACK_TIMEOUT, max_retransmit=MAX_RETRANSMIT, wait=60,
                 block=1024, max_body=32768):
        self.sock = sock
        self.timer = sock if timer is None else timer
        self.ack_timeout = ack_timeout
        self.max_retransmit = max_retransmit
        self.wait = wait
        self.block = block
        self.max_body = max_body
        self.mid = int.from_bytes(runtime.random_bytes(2), "big")
        self._taken = None  # Message ID of the last confirmable response acknowledged

    def _send(self, m):
        try:
            self.sock.send(encode(m))
        except OSError as e:
            raise runtime.net_error(e)

    def _recv(self, seconds):
        # one datagram, or None once ``seconds`` have passed without one. MicroPython
        # polls without blocking: its DTLS socket fails for good once a read timed out.
        # The polls space out from 10 to 80 ms: fewer wake-ups through a long wait
        t0 = runtime.ticks()
        nap = 0.01
        while True:
            left = seconds - runtime.elapsed(t0)
            if left <= 0:
                return None
            self.timer.settimeout(0 if runtime.MICROPYTHON else left)
            try:
                return self.sock.recv(MAX_DATAGRAM)
            except OSError as e:
                if runtime._code(e) not in runtime._TIMEOUTS:
                    raise runtime.net_error(e)
            runtime.sleep(nap)
            if nap < 0.08:
                nap += nap

    def exchange(self, code, options, payload=b""):
        self.mid = mid = (self.mid + 1) & 0xFFFF
        token = runtime.random_bytes(4)
        req = Message(CON, code, mid, token, options, payload)
        wait = self.ack_timeout * (1 + runtime.random_bytes(1)[0] / 512)
        sends = 0
        acked = False
        t0 = None
        while True:
            if t0 is None or not acked and runtime.elapsed(t0) >= wait:
                if t0 is not None:
                    if sends > self.max_retransmit:
                        raise EstTimeout("no CoAP answer after %d transmissions" % sends)
                    wait *= 2
                self._send(req)
                sends += 1
                t0 = runtime.ticks()
            left = (self.wait if acked else wait) - runtime.elapsed(t0)
            if acked and left <= 0:
                raise EstTimeout("no separate CoAP response in %d s" % self.wait)
            data = self._recv(left)
            if data is None:
                continue
            try:
                m = decode(data)
            except ProtocolError:
                continue  # not a CoAP message: silently ignored (RFC 7252 4.2)
            if m.mtype >= ACK:
                if m.mid != mid:
                    continue
                if m.mtype == RST:
                    raise ProtocolError("the server reset the request")
                if m.code == EMPTY:  # the response comes separately
                    if not acked:
                        acked = True
                        t0 = runtime.ticks()
                    continue
                if m.token != token:
                    raise ProtocolError("a piggybacked response with another token")
                return m
            if m.token == token and m.code >> 5 >= 2:
                if m.mtype == CON:
                    self._taken = m.mid
                    self._send(Message(ACK, EMPTY, m.mid))
                return m
            if m.mtype == CON:  # a duplicate of what we took is acknowledged again, anything else reset
                self._send(Message(ACK if m.mid == self._taken else RST, EMPTY, m.mid))

    def request(self, code, path, payload=b"", cf=None, accept=None):
        base = [(URI_PATH, seg.encode()) for seg in path.split("/") if seg]
        if accept is not None:
            base.append((ACCEPT, uint_bytes(accept)))
        ctf = [] if cf is None else [(CONTENT_FORMAT, uint_bytes(cf))]
        size = self.block
        sent = 0
        while True:  # the body whole, or in Block1 blocks: each with its Content-Format (as RFC 9148 asks)
            num = sent // size
            more = sent + size < len(payload)
            opts = base + ctf
            if sent or more:
                opts.append((BLOCK1, block_value(num, more, size)))
                if not sent:
                    opts.append((SIZE1, uint_bytes(len(payload))))
            m = self.exchange(code, opts, payload[sent:sent + size])
            b = m.block(BLOCK1)
            if m.code == _TOO_LARGE and b and not sent and b[2] < size:
                size = b[2]  # 4.13 naming a size that fits: the body again in such blocks (RFC 7959 2.9.3)
                continue
            if not more or m.code != CONTINUE:
                break  # the last block's answer, or an early final one (an error)
            if b is None or b[0] != num or b[2] > size:
                raise ProtocolError("2.31 Continue for another block")
            sent += size
            size = b[2]  # a server may ask for smaller blocks (RFC 7959 2.3)
        b = m.block(BLOCK2)
        if b is None or m.code >> 5 != 2:
            return m
        n = m.uint(SIZE2)
        if n is not None and n > self.max_body:
            raise ProtocolError("a response of %d octets" % n)
        body = bytearray()
        etag = m.first(ETAG)
        while True:
            num, more, bs = b
            if num * bs != len(body):
                raise ProtocolError("block %d of %d octets out of order" % (num, bs))
            if len(body) + len(m.payload) > self.max_body:
                raise ProtocolError("a response over %d octets" % self.max_body)
            if more and len(m.payload) != bs:
                raise ProtocolError("a block of %d octets, not %d" % (len(m.payload), bs))
            body += m.payload
            if not more:
                break
            # the request's own options again (RFC 7959 2.4), without its body
            m = self.exchange(code, base + ctf + [(BLOCK2, block_value(num + 1, False, bs))])
            b = m.block(BLOCK2)
            if m.code >> 5 != 2 or b is None or m.first(ETAG) != etag:
                raise ProtocolError("the representation changed during a block-wise transfer")
        m.payload = bytes(body)
        return m
