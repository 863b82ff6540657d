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
    lines are skipped, within ``MAX_HEADER_BYTES`` in all), ``MAX_HEADERS``
    headers, ``MAX_INFORMATIONAL`` 1xx responses, chunk sizes of at most 8 hex
    digits, transfer codings other than chunked refused. ``Stream`` can also
    enforce a total deadline, so a trickling peer cannot hold a read forever.

Bodies
    ``b64decode_body`` accepts any line width, LF or CRLF, blanks, trailing
    NUL bytes, missing padding, a PEM armor, and raw DER (first bytes 30 8x,
    which base64 text can never start with); any other character outside the
    base64 alphabet is refused (RFC 8951: the Content-Transfer-Encoding header
    is ignored). ``b64encode_lines`` writes 64 columns with a final LF.

Dates
    ``parse_http_date`` reads the three HTTP-date forms (the client keeps the
    Date of every verified response: a device learns the time from it).
    ``retry_after`` reads delta-seconds or an HTTP-date, using the response's
    Date header as the clock when present.

Connections
    ``Connection`` opens TCP and TLS via ``tinyest.port`` and exchanges
    requests; it never sends an Authorization header on a connection whose
    server certificate was not verified.

Loaded on first use (``http.NAME`` still resolves these names)
    ``tinyest.http_auth``: WWW-Authenticate, Basic and Digest
    (``parse_challenges``, ``choose_challenge``, ``basic_authorization``,
    ``digest_authorization``); ``tinyest.serverkeygen``: media types and
    multipart/mixed bodies (``parse_media_type``, ``parse_multipart``,
    ``part_header``, ``MAX_PARTS``); ``tinyest.proxy``: HTTP CONNECT, when a
    ``proxy`` is given.

Every failure is a ``ProtocolError`` (framing), ``HttpError`` (status) or an
error of ``tinyest.port``; every loop is bounded by a count or by the cap.

Side channels: no secret is compared or computed here (see ``tinyest.http_auth``
for passwords); nothing is constant-time.
"""

import binascii

from tinyest.errors import ConnectError, EstError, EstTimeout, ProtocolError

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


MAX_BODY = const(32768)
MAX_LINE = const(2048)
MAX_HEADERS = const(64)
MAX_HEADER_BYTES = const(16384)
MAX_INFORMATIONAL = const(8)
BUFSIZE = const(2048)
USER_AGENT = "tinyest"


def _text(b):
    """ASCII text of header bytes; other bytes become '?'."""
    try:
        return str(bytes(b), "utf-8")
    except UnicodeError:
        return "".join([chr(c) if c < 0x80 else "?" for c in b])


def is_tchar(c):
    # RFC 7230 tchar, as a code point
    return (
        0x30 <= c <= 0x39
        or 0x41 <= c <= 0x5A
        or 0x61 <= c <= 0x7A
        or c in b"!#$%&'*+-.^_`|~"
    )


# ---------------------------------------------------------------- stream


class Stream:
    """Buffered reads from a socket-like object offering ``recv_into``.

    ``deadline`` (seconds) bounds the total time spent reading, on top of the
    socket's own per-call timeout.
    """

    def __init__(self, sock, bufsize=BUFSIZE, deadline=None):
        self.sock = sock
        self.buf = bytearray(bufsize)
        self.mv = memoryview(self.buf)
        self.start = 0
        self.end = 0
        self.eof = False
        self.total = 0  # bytes received
        self.deadline = deadline
        self.t0 = None
        if deadline is not None:
            from tinyest import port

            self.t0 = port.ticks()

    def _recv(self, mv):
        if self.t0 is not None:
            from tinyest import port

            if port.elapsed(self.t0) > self.deadline:
                raise EstTimeout("response not complete within %d s" % self.deadline)
        try:
            n = self.sock.recv_into(mv)
        except EstError:
            raise
        except Exception as e:
            from tinyest import port

            raise port.net_error(e)
        if n is None:  # a non-blocking socket with nothing to read
            raise EstTimeout("no data")
        self.total += n
        return n

    def _fill(self):
        # Returns bytes added (0 at EOF, -1 if the buffer is full).
        if self.start == self.end:
            self.start = self.end = 0
        elif self.start and self.end == len(self.buf):
            n = self.end - self.start
            self.mv[0:n] = self.mv[self.start:self.end]
            self.start = 0
            self.end = n
        if self.end == len(self.buf):
            return -1
        if self.eof:
            return 0
        n = self._recv(self.mv[self.end:])
        if n == 0:
            self.eof = True
        self.end += n
        return n

    def readline(self, limit=MAX_LINE):
        """One line without its LF or CR LF. Returns None at EOF before any
        byte, and False for a line longer than ``limit`` (skipped whole)."""
        limit = min(limit, len(self.buf) - 2)
        skipping = 0
        while True:
            i = self.buf.find(b"\n", self.start, self.end)
            if i >= 0:
                line = bytes(self.mv[self.start:i])
                self.start = i + 1
                if skipping:
                    return False
                if line[-1:] == b"\r":
                    line = line[:-1]
                if len(line) > limit:
                    return False
                return line
            if self.end - self.start > limit + 1:  # room for a CR before the LF
                # Too long: drop what we have and keep reading to the LF.
                skipping += self.end - self.start
                if skipping > MAX_HEADER_BYTES:
                    raise ProtocolError("line longer than %d bytes" % MAX_HEADER_BYTES)
                self.start = self.end = 0
            n = self._fill()
            if n == 0:
                if self.start == self.end and not skipping:
                    return None
                raise ProtocolError("connection closed inside a line")

    def readinto(self, mv):
        """Read up to len(mv) bytes; 0 means EOF."""
        avail = self.end - self.start
        if avail:
            n = min(avail, len(mv))
            mv[0:n] = self.mv[self.start:self.start + n]
            self.start += n
            return n
        if self.eof:
            return 0
        n = self._recv(mv)
        if n == 0:
            self.eof = True
        return n

    def pending(self):
        return self.end - self.start


# ---------------------------------------------------------------- responses


class Response:
    """status (int), reason (str), headers (list of (lower name, value)),
    body (bytearray), keep_alive (bool: the connection may carry another
    request)."""

    def __init__(self, status, reason, headers, body, keep_alive):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive

    def header(self, name, default=None):
        """The first value of a header, by case-insensitive name."""
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def header_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def snippet(self, n=200):
        """The start of the body as text, for error messages."""
        return _text(self.body[:n]).strip()


def status_line(stream):
    for _ in range(3):  # tolerate stray empty lines before the status line
        line = stream.readline()
        if line is None:
            raise ProtocolError("connection closed before the status line")
        if line is False:
            raise ProtocolError("status line too long")
        if line:
            break
    else:
        raise ProtocolError("no status line")
    if line[:7] != b"HTTP/1." or len(line) < 12:
        raise ProtocolError("bad status line %r" % line[:40])
    if not (0x30 <= line[7] <= 0x39) or line[8] != 0x20:
        raise ProtocolError("bad status line %r" % line[:40])
    code = line[9:12]
    for c in code:
        if not 0x30 <= c <= 0x39:
            raise ProtocolError("bad status code %r" % line[:40])
    status = int(code)
    if status < 100 or status > 599:
        raise ProtocolError("bad status code %d" % status)
    if len(line) > 12 and line[12] != 0x20:
        raise ProtocolError("bad status line %r" % line[:40])
    return line[7] - 0x30, status, _text(line[13:]).strip()


def read_headers(stream, limit=MAX_HEADERS):
    """Header lines up to the empty line, as a list of (lower name, value)."""
    headers = []
    total = 0
    for _ in range(limit + 1):
        line = stream.readline()
        if line is None:
            raise ProtocolError("connection closed inside the headers")
        if line is False:
            total += MAX_LINE
            if total > MAX_HEADER_BYTES:
                raise ProtocolError("headers longer than %d bytes" % MAX_HEADER_BYTES)
            continue
        if not line:
            return headers
        total += len(line)
        if total > MAX_HEADER_BYTES:
            raise ProtocolError("headers longer than %d bytes" % MAX_HEADER_BYTES)
        if line[0] in (0x20, 0x09):  # obs-fold (RFC 7230 3.2.4): join with a space
            if not headers:
                raise ProtocolError("continuation line before any header")
            k, v = headers[-1]
            headers[-1] = (k, (v + " " + _text(line).strip()).strip())
            continue
        i = line.find(b":")
        if i <= 0:
            raise ProtocolError("bad header line %r" % line[:40])
        for c in line[:i]:
            if not is_tchar(c):
                raise ProtocolError("bad header name %r" % line[:i][:40])
        headers.append((_text(line[:i]).lower(), _text(line[i + 1:]).strip()))
    raise ProtocolError("more than %d headers" % limit)


def _grow(buf, need, cap):
    # A bytearray with len >= need, at most cap (the caller checked need <= cap).
    if len(buf) >= need:
        return buf
    n = len(buf) * 2
    if n < need:
        n = need
    if n < 1024:
        n = 1024
    if n > cap:
        n = cap
    new = bytearray(n)
    new[0:len(buf)] = buf
    return new


def _trim(buf, n):
    if len(buf) == n:
        return buf
    try:
        buf[n:] = b""
        return buf
    except (TypeError, NotImplementedError):
        return buf[:n]


def _read_exact(stream, mv, what):
    pos = 0
    n = len(mv)
    while pos < n:
        got = stream.readinto(mv[pos:])
        if not got:
            raise ProtocolError("connection closed after %d of %d %s bytes" % (pos, n, what))
        pos += got


def _content_length(values, cap):
    n = -1
    for v in values:
        for item in v.split(","):
            item = item.strip()
            if not item or len(item) > 10:
                raise ProtocolError("bad Content-Length %r" % v[:20])
            for c in item:
                if not "0" <= c <= "9":
                    raise ProtocolError("bad Content-Length %r" % v[:20])
            m = int(item)
            if n >= 0 and m != n:
                raise ProtocolError("conflicting Content-Length values")
            n = m
    if n > cap:
        raise ProtocolError("body of %d bytes exceeds the %d byte cap" % (n, cap))
    return n


def _chunk_size(line):
    if line is None:
        raise ProtocolError("connection closed before a chunk size")
    if line is False:
        raise ProtocolError("chunk size line too long")
    i = line.find(b";")
    if i >= 0:
        line = line[:i]
    line = line.strip()
    if not line or len(line) > 8:
        raise ProtocolError("bad chunk size %r" % line[:20])
    n = 0
    for c in line:
        if 0x30 <= c <= 0x39:
            d = c - 0x30
        elif 0x61 <= c <= 0x66:
            d = c - 0x57
        elif 0x41 <= c <= 0x46:
            d = c - 0x37
        else:
            raise ProtocolError("bad chunk size %r" % line[:20])
        n = n * 16 + d
    return n


def _read_chunked(stream, cap):
    buf = bytearray()
    total = 0
    while True:  # each round consumes >= 1 body byte, or ends: bounded by cap
        n = _chunk_size(stream.readline())
        if n == 0:
            read_headers(stream)  # trailers, discarded
            return _trim(buf, total)
        if total + n > cap:
            raise ProtocolError("chunked body exceeds the %d byte cap" % cap)
        buf = _grow(buf, total + n, cap)
        _read_exact(stream, memoryview(buf)[total:total + n], "chunk")
        total += n
        if stream.readline() != b"":
            raise ProtocolError("no CRLF after a chunk")


def _read_to_close(stream, cap):
    buf = bytearray()
    total = 0
    while True:
        if total == len(buf):
            if total >= cap:
                # One byte more than the cap means the body is too large.
                if stream.readinto(memoryview(bytearray(1))):
                    raise ProtocolError("body exceeds the %d byte cap" % cap)
                return buf
            buf = _grow(buf, total + 1, cap)
        got = stream.readinto(memoryview(buf)[total:])
        if not got:
            return _trim(buf, total)
        total += got


def read_response(stream, method="GET", max_body=MAX_BODY):
    """Read one response; the body is complete when this returns."""
    for _ in range(MAX_INFORMATIONAL):
        minor, status, reason = status_line(stream)
        headers = read_headers(stream)
        if status >= 200:
            break
        if status == 101:
            raise ProtocolError("unexpected protocol switch")
    else:
        raise ProtocolError("more than %d informational responses" % MAX_INFORMATIONAL)
    resp = Response(status, reason, headers, bytearray(), False)
    conn = ",".join(resp.header_all("connection")).lower()
    keep = minor >= 1 and "close" not in conn
    te = resp.header_all("transfer-encoding")
    if method == "HEAD" or status in (204, 304):
        pass
    elif te:
        codings = [c.strip().lower() for c in ",".join(te).split(",") if c.strip()]
        if codings != ["chunked"]:
            raise ProtocolError("unsupported transfer coding %r" % ",".join(te)[:40])
        resp.body = _read_chunked(stream, max_body)
    else:
        cl = resp.header_all("content-length")
        if cl:
            n = _content_length(cl, max_body)
            body = bytearray(n)
            _read_exact(stream, memoryview(body), "body")
            resp.body = body
        else:
            resp.body = _read_to_close(stream, max_body)
            keep = False
    resp.keep_alive = keep
    return resp


# ---------------------------------------------------------------- base64


def _b64val(c):
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A or 0x30 <= c <= 0x39 or c == 0x2B or c == 0x2F


def b64decode_body(body):
    """Decode an EST base64 body (see the module notes). A bytearray is
    compacted in place (its contents are destroyed) to save memory."""
    n = len(body)
    if n >= 2 and body[0] == 0x30 and body[1] >= 0x80:
        return bytes(body)  # raw DER sent without base64
    i = 0
    while i < n and body[i] in b" \t\r\n":
        i += 1
    if body[i:i + 11] == b"-----BEGIN ":
        from tinyest import pem

        try:
            return pem.decode(bytes(body[i:]).rstrip(b"\x00"))
        except EstError as e:
            raise ProtocolError("bad PEM body: %s" % e)
    out = body if isinstance(body, bytearray) else bytearray(n)
    w = 0
    pad = 0
    nul = False
    for i in range(n):
        c = body[i]
        if c == 0x20 or c == 0x0A or c == 0x0D or c == 0x09:
            continue
        if c == 0:
            nul = True
            continue
        if nul:
            raise ProtocolError("base64 body: data after a NUL byte")
        if c == 0x3D:  # '='
            pad += 1
            if pad > 2:
                raise ProtocolError("base64 body: too much padding")
            continue
        if not _b64val(c):
            raise ProtocolError("base64 body: bad character 0x%02x at %d" % (c, i))
        if pad:
            raise ProtocolError("base64 body: data after padding")
        out[w] = c
        w += 1
    if w == 0:
        raise ProtocolError("empty base64 body")
    rem = w % 4
    if rem == 1 or (pad and (w + pad) % 4):
        raise ProtocolError("base64 body: bad length or padding")
    if rem:
        tail = b"==" if rem == 2 else b"="
        data = bytes(out[:w]) + tail
    else:
        data = memoryview(out)[:w]
    try:
        return binascii.a2b_base64(data)
    except ValueError:
        raise ProtocolError("base64 body: bad padding")


def b64encode_lines(data):
    """Base64 in 64-column lines, each ending in LF (the last one too)."""
    out = bytearray()
    mv = memoryview(data)
    for i in range(0, len(data), 48):
        out += binascii.b2a_base64(mv[i:i + 48])
    return out


# ---------------------------------------------------------------- dates


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _num(s, lo, hi):
    if not s or len(s) > 4:
        return -1
    for c in s:
        if not "0" <= c <= "9":
            return -1
    v = int(s)
    return v if lo <= v <= hi else -1


def parse_http_date(s):
    """Seconds since 1970 of an HTTP-date (IMF-fixdate, RFC 850 or asctime
    form, RFC 7231 7.1.1.1), or None."""
    if s is None or len(s) > 64:
        return None
    parts = s.replace(",", " ").split()
    if len(parts) == 6 and parts[5] == "GMT":  # Sun, 06 Nov 1994 08:49:37 GMT
        d, mon, y, hms = parts[1], parts[2], parts[3], parts[4]
    elif len(parts) == 4 and parts[3] == "GMT":  # Sunday, 06-Nov-94 08:49:37 GMT
        dmy = parts[1].split("-")
        if len(dmy) != 3:
            return None
        d, mon, y, hms = dmy[0], dmy[1], dmy[2], parts[2]
        if len(y) == 2:
            yy = _num(y, 0, 99)
            if yy < 0:
                return None
            y = str(yy + (2000 if yy < 70 else 1900))
    elif len(parts) == 5:  # Sun Nov  6 08:49:37 1994
        mon, d, hms, y = parts[1], parts[2], parts[3], parts[4]
    else:
        return None
    mon = mon.lower()
    if mon not in _MONTHS:
        return None
    t = hms.split(":")
    if len(t) != 3:
        return None
    year = _num(y, 1970, 9999) if len(y) == 4 else -1
    day = _num(d, 1, 31)
    h = _num(t[0], 0, 23)
    mi = _num(t[1], 0, 59)
    sec = _num(t[2], 0, 60)
    if min(year, day, h, mi, sec) < 0:
        return None
    from tinyest.der import timegm

    return timegm(year, _MONTHS.index(mon) + 1, day, h, mi, sec)


def retry_after(value, date=None, now=None, default=60):
    """Seconds to wait from a Retry-After value: delta-seconds, or an HTTP-date
    measured from the response's Date header (else from ``now``). A missing
    or unreadable value gives ``default``; a date in the past gives 0."""
    if value is None:
        return default
    v = value.strip()
    if v and len(v) <= 10:
        ok = True
        for c in v:
            if not "0" <= c <= "9":
                ok = False
        if ok:
            return int(v)
    t = parse_http_date(v)
    if t is None:
        return default
    ref = parse_http_date(date)
    if ref is None:
        ref = now
    if ref is None:
        from tinyest import port

        ref = port.now()
    return t - ref if t > ref else 0


# ---------------------------------------------------------------- requests


def host_header(host, port):
    h = "[" + host + "]" if ":" in host else host
    return h if port == 443 else "%s:%d" % (h, port)


def build_request(method, target, host, headers=(), body=None):
    """Request head bytes. ``headers`` is a list of (name, value)."""
    lines = [method + " " + target + " HTTP/1.1", "Host: " + host]
    for k, v in headers:
        if "\r" in v or "\n" in v or "\r" in k or "\n" in k:
            raise ProtocolError("line break in header %r" % k)
        lines.append(k + ": " + v)
    if body is not None:
        lines.append("Content-Length: %d" % len(body))
    lines.append("")
    lines.append("")
    return "\r\n".join(lines).encode()


def send_all(sock, data):
    mv = memoryview(data)
    pos = 0
    n = len(mv)
    for _ in range(n + 1):
        if pos >= n:
            return
        try:
            k = sock.send(mv[pos:])
        except EstError:
            raise
        except Exception as e:
            from tinyest import port

            raise port.net_error(e)
        if not k:
            raise ConnectError("connection closed while sending")
        pos += k


class Connection:
    """One TCP+TLS connection carrying HTTP/1.1 requests.

    ``verified`` is False only for a bootstrap (provisional) connection; such
    a connection refuses to send any Authorization header. ``chain`` holds
    the server certificates captured on a bootstrap connection.
    """

    def __init__(self, host, port, trust=(), cert=None, key=None, timeout=30, proxy=None,
                 bootstrap=False, tls12=False, system_trust=False, deadline=None):
        from tinyest import port as _port

        self.host = host
        self.port = port
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else timeout * 4
        self.verified = not bootstrap
        self.sock = None
        self.send_failed = False
        self.peer_closed = False
        _port.check_trust(trust, bootstrap, system_trust, cert, key)
        if proxy is not None:
            from tinyest import proxy as _proxy

            phost, pport = _proxy.proxy_address(proxy)
            raw = _port.connect(phost, pport, timeout)
            try:
                _proxy.tunnel(raw, host, port, self.deadline)
            except Exception:
                raw.close()
                raise
        else:
            raw = _port.connect(host, port, timeout)
        try:
            self.sock, self.chain = _port.tls_wrap(raw, host, trust, cert, key, bootstrap, tls12,
                                                   system_trust, timeout)
        except Exception:
            raw.close()
            raise

    def request(self, method, target, headers=(), body=None, max_body=MAX_BODY):
        """Send one request and read its response. After a failure,
        ``send_failed`` or ``peer_closed`` (closed before any response byte)
        say whether the request may be repeated on a new connection."""
        from tinyest import port

        if not self.verified:
            for k, _ in headers:
                if k.lower() in ("authorization", "proxy-authorization"):
                    raise ProtocolError("refusing to send credentials on an unverified connection")
        head = build_request(method, target, host_header(self.host, self.port), headers, body)
        self.send_failed = True
        if body:
            # One write: a head and body sent apart stall ~40 ms per request on
            # Nagle's algorithm meeting the server's delayed ACK.
            head = bytearray(head)
            head += body
        send_all(self.sock, head)
        self.send_failed = False
        stream = Stream(port.receiver(self.sock), BUFSIZE, self.deadline)
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


