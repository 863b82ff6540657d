"""HTTP/1.1 client side for EST (RFC 7230-7235 subset, RFC 8951).

Reading
    ``read_response`` parses one response from a ``Stream``: the status line
    (``HTTP/1.x NNN reason``; 1xx responses skipped), headers as a list of
    ``(lower-case name, value)`` pairs (obs-fold joined), and the body, framed
    by ``Transfer-Encoding: chunked``, ``Content-Length`` or the end of the
    connection. The body lands in one bytearray that grows only as data
    arrives and never beyond ``max_body`` (default ``MAX_BODY``); a declared
    length above the cap is refused before anything is allocated. Reading
    stops as soon as the body is complete: nothing is read past it (after a
    close_notify a further read can block forever on MicroPython).

    Limits: status and header lines of at most ``MAX_LINE`` bytes (longer header
    lines are skipped, within 16384 bytes of header in all), ``MAX_HEADERS``
    headers, 8 1xx responses, chunk sizes of at most 8 hex digits, lengths of
    at most 10 digits, transfer codings other than chunked refused. ``Stream``
    can also enforce a total deadline, so a trickling peer cannot hold a read
    forever.

Bodies
    ``b64decode_body`` accepts any line width, LF or CRLF, blanks, trailing
    NUL bytes, missing padding, a PEM armor, and raw DER (first bytes 30 8x,
    which base64 text can never start with); any other character outside the
    base64 alphabet (a third "=", data after "=" or after a NUL) is refused,
    naming the byte and its offset (RFC 8951: the Content-Transfer-Encoding
    header is ignored). ``b64encode_lines`` writes 64 columns with a final LF.

Dates
    ``parse_http_date`` reads the three HTTP-date forms (the client keeps the
    Date of every verified response: a device learns the time from it).
    ``retry_after`` reads delta-seconds or an HTTP-date, using the response's
    Date header as the clock when present. Both are ``tinyest.http_date``'s,
    served through the module's ``__getattr__`` and loaded on first use.

Connections
    ``Connection`` opens TCP and TLS via ``tinyest.runtime`` and exchanges
    requests; it never sends an Authorization header on a connection whose
    server certificate was not verified. ``tinyest.proxy`` (HTTP CONNECT) is
    loaded only when a ``proxy`` is given.

Rare forms load on first use: ``tinyest.http_rare`` (chunked and close-delimited bodies, PEM
bodies), ``tinyest.http_date`` (dates, Retry-After).

Every failure is a ``ProtocolError`` (framing), ``HttpError`` (status) or an
error of ``tinyest.runtime``; every loop is bounded by a count or by the cap.
The error texts are numbered here and held by ``tinyest.http_rare``, loaded
with the first error.

Side channels: no secret is compared or computed here (see ``tinyest.http_auth``
for passwords); nothing is constant-time.
"""

import binascii

from tinyest import lazy, runtime, texts
from tinyest.errors import ConnectError, EstTimeout, ProtocolError

try:
    from micropython import const
except ImportError:  # CPython: every constant here is an int
    const = int

MAX_BODY = 32768
MAX_LINE = 2048
MAX_HEADERS = 64
BUFSIZE = 2048
# at most 16384 bytes of header lines (skipped ones included) per response
USER_AGENT = "tinyest"
# RFC 7230 tchar: the characters of a header name or an auth scheme
TCHAR = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Error texts by number: http_rare.TEXTS, loaded with the first error (a board
# would pay heap for a string literal per message through every TLS handshake).
_SLOW = const(0)
_LONG = const(1)
_CLOSED_LINE = const(2)
_CLOSED_AFTER = const(3)
_CLOSED_STATUS = const(4)
_BAD_STATUS = const(5)
_CLOSED_HEADERS = const(6)
_BAD_HEADER = const(7)
_HEADERS = const(8)
_SWITCH = const(9)
_1XX = const(10)
_BAD_LENGTH = const(11)
_CAP = const(12)
_B64_CHAR = const(13)
_B64_EMPTY = const(14)
_B64_PAD = const(15)
_LINE_BREAK = const(16)
_CLOSED_SEND = const(17)
_NO_CREDENTIALS = const(18)


_error = texts("http_rare")  # (cls, i, args=()): cls(text i % args)


def text(b):
    """ASCII text of header bytes; other bytes become '?'."""
    try:
        return str(bytes(b), "utf-8")
    except UnicodeError:
        from tinyest import http_rare

        return http_rare.ascii_text(b)


# ---------------------------------------------------------------- stream


class Stream:
    """Buffered reads from a socket-like object offering ``recv_into``.

    ``deadline`` (seconds) bounds the total time spent reading, on top of the
    socket's own per-call timeout. ``total`` counts the bytes received,
    ``eof`` tells that the peer closed.
    """

    def __init__(self, sock, bufsize=BUFSIZE, deadline=None):
        self.sock = sock
        self.buf = bytearray(bufsize)
        self.mv = memoryview(self.buf)
        self.start = self.end = self.total = 0
        self.eof = False
        self.deadline = deadline
        self.t0 = runtime.ticks()

    def readinto(self, mv, raw=False):
        """Read up to len(mv) bytes; 0 means EOF. ``raw``: from the socket,
        leaving what the buffer holds."""
        n = 0 if raw else min(self.end - self.start, len(mv))
        if n:
            mv[0:n] = self.mv[self.start:self.start + n]
            self.start += n
            return n
        if self.eof:
            return 0
        if self.deadline and runtime.elapsed(self.t0) > self.deadline:
            raise _error(EstTimeout, _SLOW, self.deadline)
        try:
            n = self.sock.recv_into(mv)
        except Exception as e:  # an EstError or MemoryError comes back as it is
            raise runtime.net_error(e)
        if n is None:  # a non-blocking socket with nothing to read
            raise EstTimeout("no data")
        self.total += n
        self.eof = not n
        return n

    def readline(self, limit=MAX_LINE):
        """One line without its LF or CR LF. Returns None at EOF before any
        byte, and False for a line longer than ``limit`` (skipped whole)."""
        buf = self.buf
        limit = min(limit, len(buf) - 2)
        skipping = 0
        while True:
            i = buf.find(b"\n", self.start, self.end)
            if i >= 0:
                line = bytes(self.mv[self.start:i])
                self.start = i + 1
                if line[-1:] == b"\r":
                    line = line[:-1]
                return False if skipping or len(line) > limit else line
            n = self.end - self.start
            if n > limit + 1:  # room for a CR before the LF
                # Too long: drop what we have and keep reading to the LF.
                skipping += n
                if skipping > 16384:
                    raise _error(ProtocolError, _LONG, "line")
                n = 0
            if not n:
                self.start = self.end = 0
            elif self.start and self.end == len(buf):
                self.mv[0:n] = self.mv[self.start:self.end]
                self.start = 0
                self.end = n
            n = self.readinto(self.mv[self.end:], True)
            if not n:
                if self.start == self.end and not skipping:
                    return None
                raise _error(ProtocolError, _CLOSED_LINE)
            self.end += n

    def readexact(self, mv, what):
        """Fill mv; the peer closing first is a ProtocolError naming ``what``."""
        pos = 0
        n = len(mv)
        while pos < n:
            got = self.readinto(mv[pos:])
            if not got:
                raise _error(ProtocolError, _CLOSED_AFTER, (pos, n, what))
            pos += got


# ---------------------------------------------------------------- responses


class Response:
    """status (int), reason (str), headers (list of (lower name, value)),
    body (bytearray), keep_alive (bool: the connection may carry another
    request)."""

    def header(self, name, default=None):
        """The first value of a header, by case-insensitive name."""
        return (self.header_all(name) or [default])[0]

    def header_all(self, name):
        out = []
        for k, v in self.headers:
            if k == name.lower():
                out.append(v)
        return out


def status_line(stream):
    """(minor version, status, reason) of the status line."""
    for _ in range(3):  # tolerate stray empty lines before the status line
        line = stream.readline()
        if line is None:
            raise _error(ProtocolError, _CLOSED_STATUS)
        if line != b"":
            break
    t = text(line or b"")
    d = t[7:8] + t[9:12]  # the minor version and the status: ASCII digits, status 100 to 599
    if (t[:7] != "HTTP/1." or t[8:9] != " " or t[12:13] not in " " or len(d) != 4
            or d.strip("0123456789") or not "100" <= d[1:] < "600"):
        raise _error(ProtocolError, _BAD_STATUS, t[:40])
    return int(d[0]), int(d[1:]), t[13:].strip()


def read_headers(stream):
    """Header lines up to the empty line, as a list of (lower name, value)."""
    headers = []
    total = 0
    for _ in range(MAX_HEADERS + 1):
        line = stream.readline()
        if line is None:
            raise _error(ProtocolError, _CLOSED_HEADERS)
        if line == b"":
            return headers
        total += MAX_LINE if line is False else len(line)
        if total > 16384:
            raise _error(ProtocolError, _LONG, "headers")
        if line is False:  # too long: skipped
            continue
        t = text(line)
        i = t.find(":")
        if t[0] in " \t" and headers:  # obs-fold (RFC 7230 3.2.4): join with a space
            k, v = headers[-1]
            headers[-1] = (k, (v + " " + t.strip()).strip())
        elif i > 0 and not t[:i].strip(TCHAR):
            headers.append((t[:i].lower(), t[i + 1:].strip()))
        else:
            raise _error(ProtocolError, _BAD_HEADER, t[:40])
    raise _error(ProtocolError, _HEADERS, MAX_HEADERS)


def read_response(stream, method="GET", max_body=MAX_BODY):
    """Read one response; the body is complete when this returns."""
    for _ in range(8):  # 1xx responses
        minor, status, reason = status_line(stream)
        headers = read_headers(stream)
        if status == 101:
            raise _error(ProtocolError, _SWITCH)
        if status >= 200:
            break
    else:
        raise _error(ProtocolError, _1XX)
    r = Response()
    r.status, r.reason, r.headers = status, reason, headers
    h = r.header_all
    r.keep_alive = minor > 0 and "close" not in ",".join(h("connection")).lower()
    te = ",".join(h("transfer-encoding"))
    cl = h("content-length")
    if method == "HEAD" or status in (204, 304):
        body = bytearray()
    elif cl and not te:
        n = -1
        for c in ",".join(cl).split(","):  # equal values of 1 to 10 ASCII digits
            c = c.strip()
            if not 0 < len(c) < 11 or c.strip("0123456789") or 0 <= n != int(c):
                raise _error(ProtocolError, _BAD_LENGTH, cl[0][:20])
            n = int(c)
        if n > max_body:  # refused before any allocation
            raise _error(ProtocolError, _CAP, max_body)
        body = bytearray(n)
        stream.readexact(memoryview(body), "body")
    else:  # chunked, or delimited by the end of the connection
        from tinyest import http_rare

        body = http_rare.body(stream, te, max_body)
        if te:
            read_headers(stream)  # trailers, discarded
        else:
            r.keep_alive = False
    r.body = body
    return r


# ---------------------------------------------------------------- base64


def b64decode_body(body):
    """Decode an EST base64 body (see the module notes). A bytearray is
    compacted in place (its contents are destroyed) to save memory."""
    n = len(body)
    if n >= 2 and body[0] == 0x30 and body[1] >= 0x80:
        return bytes(body)  # raw DER sent without base64
    out = body if isinstance(body, bytearray) else bytearray(n)
    w = pad = nul = 0
    for i in range(n):
        c = body[i]
        if c in b" \t\r\n":
            continue
        if not c:
            nul = 1
        elif c == 0x3D and w and not nul and pad < 2:  # '='
            pad += 1
        elif not (nul or pad) and c in (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"):
            out[w] = c
            w += 1
        elif not (w or nul) and body[i:i + 11] == b"-----BEGIN ":
            from tinyest import http_rare

            return http_rare.pem_body(body[i:])
        else:
            raise _error(ProtocolError, _B64_CHAR, (c, i))
    if not w:
        raise _error(ProtocolError, _B64_EMPTY)
    data = memoryview(out)[:w]
    if w % 4:
        data = bytes(data) + b"=="[:4 - w % 4]
    try:
        if w % 4 == 1 or pad and (w + pad) % 4:
            raise ValueError
        return binascii.a2b_base64(data)
    except ValueError:
        raise _error(ProtocolError, _B64_PAD)


def b64encode_lines(data):
    """Base64 in 64-column lines, each ending in LF (the last one too)."""
    out = bytearray()
    mv = memoryview(data)
    for i in range(0, len(data), 48):
        out += binascii.b2a_base64(mv[i:i + 48])
    return out


# ---------------------------------------------------------------- dates


# parse_http_date and retry_after are tinyest.http_date's, loaded on first use
__getattr__ = lazy("http_date", ("parse_http_date", "retry_after"))


# ---------------------------------------------------------------- requests


def host_header(host, port):
    h = "[" + host + "]" if ":" in host else host
    return h if port == 443 else "%s:%d" % (h, port)


def build_request(method, target, host, headers=(), body=None):
    """Request head bytes. ``headers`` is a list of (name, value)."""
    h = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, target, host)
    for k, v in headers:
        if "\r" in k + v or "\n" in k + v:
            raise _error(ProtocolError, _LINE_BREAK, k)
        h += k + ": " + v + "\r\n"
    if body is not None:
        h += "Content-Length: %d\r\n" % len(body)
    return (h + "\r\n").encode()


def send_all(sock, data):
    mv = memoryview(data)
    pos = 0
    while pos < len(mv):  # each round sends >= 1 byte, or raises
        try:
            k = sock.send(mv[pos:])
        except Exception as e:
            raise runtime.net_error(e)
        if not k:
            raise _error(ConnectError, _CLOSED_SEND)
        pos += k


class Connection:
    """One TCP+TLS connection carrying HTTP/1.1 requests.

    ``verified`` is False only for a bootstrap (provisional) connection; such
    a connection refuses to send any Authorization header. ``chain`` holds
    the server certificates captured on a bootstrap connection.
    """

    def __init__(self, host, port, trust=(), cert=None, key=None, timeout=30, proxy=None,
                 bootstrap=False, tls12=False, system_trust=False, deadline=None):
        self.host = host_header(host, port)
        self.deadline = deadline or timeout * 4
        self.verified = not bootstrap
        self.sock = None
        self.send_failed = self.peer_closed = False
        runtime.check_trust(trust, bootstrap, system_trust, cert, key)
        if proxy is None:
            raw = runtime.connect(host, port, timeout)
        else:
            from tinyest import proxy as x

            raw = x.connect(proxy, host, port, timeout, self.deadline)
        try:
            self.sock, self.chain = runtime.tls_wrap(raw, host, trust, cert, key, bootstrap, tls12,
                                               system_trust, timeout)
        except Exception:
            raw.close()
            raise

    def request(self, method, target, headers=(), body=None, max_body=MAX_BODY):
        """Send one request and read its response. After a failure,
        ``send_failed`` or ``peer_closed`` (closed before any response byte)
        say whether the request may be repeated on a new connection."""
        for k, _ in headers:
            if not self.verified and "authorization" in k.lower():  # proxy- too
                raise _error(ProtocolError, _NO_CREDENTIALS)
        head = build_request(method, target, self.host, headers, body)
        self.send_failed = True
        if body:
            # One write: a head and body sent apart stall ~40 ms per request on
            # Nagle's algorithm meeting the server's delayed ACK.
            head = bytearray(head)
            head += body
        send_all(self.sock, head)
        self.send_failed = False
        stream = Stream(self.sock, BUFSIZE, self.deadline)
        try:
            return read_response(stream, method, max_body)
        except (ProtocolError, ConnectError) as e:
            self.peer_closed = stream.total == 0 and (stream.eof or isinstance(e, ConnectError))
            raise

    def close(self):
        s = self.sock
        self.sock = None
        if s is not None:
            try:
                s.close()
            except Exception:
                pass
