"""HTTP/1.1 for the dev server: reading one request (Content-Length or chunked,
capped), and writing one response with the framing, base64 and header habits
of the servers it imitates."""

import base64
import http

from host_tools.devserver import clock

MAX_BODY = 1 << 20
MAX_HEADERS = 100


class Request:
    """One received HTTP request, as logged in ``DevServer.requests``."""

    def __init__(self, method, path, headers, body, conn):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.label = None
        self.operation = None
        self.authorization = self.header("authorization") is not None
        self.auth_scheme = None
        self.user = None
        self.client_cert = conn.get("cert")
        self.client_cert_subject = conn.get("subject")
        self.version = "HTTP/1.1"
        self.tls_version = conn.get("version")
        self.alpn = conn.get("alpn")
        self.status = None

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def __repr__(self):
        return "<Request %s %s status=%s auth=%s cert=%s>" % (
            self.method, self.path, self.status, self.authorization, self.client_cert_subject)


class Response:
    """One response to write: status, body, headers; ``b64`` marks a base64 EST
    body (the base64 habits apply), ``close`` ends the connection after it."""

    def __init__(self, status, body=b"", ctype=None, headers=None, close=False, b64=False, cte=None):
        self.status = status
        self.cte = b64 if cte is None else cte
        self.body = body
        self.headers = list(headers or [])
        if ctype:
            self.headers.insert(0, ("Content-Type", ctype))
        self.close = close
        self.b64 = b64


class HttpError(Exception):
    """A request refused while reading or checking it: the status and its text."""

    def __init__(self, status, text=""):
        Exception.__init__(self, text)
        self.status = status
        self.text = text


def read_request(rfile, info):
    """The next request on the connection, or None when the client has gone."""
    line = rfile.readline(8192)
    while line in (b"\r\n", b"\n"):
        line = rfile.readline(8192)
    if not line:
        return None
    try:
        method, target, version = line.decode("ascii").split()
    except (UnicodeError, ValueError):
        raise HttpError(400, "bad request line")
    headers = []
    while True:
        h = rfile.readline(8192)
        if not h:
            return None
        if h in (b"\r\n", b"\n"):
            break
        if len(headers) >= MAX_HEADERS:
            raise HttpError(431, "too many headers")
        try:
            name, _, value = h.decode("latin-1").partition(":")
        except UnicodeError:
            raise HttpError(400, "bad header")
        headers.append((name.strip(), value.strip()))
    req = Request(method, target, headers, b"", info)
    req.version = version
    te = (req.header("transfer-encoding") or "").lower()
    if "chunked" in te:
        body = bytearray()
        while True:
            size_line = rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise HttpError(400, "bad chunk size")
            if size == 0:
                while rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass
                break
            if len(body) + size > MAX_BODY:
                raise HttpError(413, "body too large")
            body += rfile.read(size)
            rfile.readline(8)
        req.body = bytes(body)
    else:
        cl = req.header("content-length")
        if cl:
            try:
                n = int(cl)
            except ValueError:
                raise HttpError(400, "bad Content-Length")
            if n < 0 or n > MAX_BODY:
                raise HttpError(413, "body too large")
            req.body = rfile.read(n)
    return req


def case(habits, name):
    """A header name in the case the habit wants."""
    style = habits["header_case"]
    if style == "lower":
        return name.lower()
    if style == "upper":
        return name.upper()
    if style == "title":
        return "-".join(p.capitalize() for p in name.split("-"))
    return name

def b64(habits, der):
    """A base64 body, wrapped and ended as the habits want."""
    h = habits
    s = base64.b64encode(der).decode()
    w = h["b64_wrap"]
    lines = [s[i:i + w] for i in range(0, len(s), w)] if w else [s]
    text = h["b64_eol"].join(lines)
    if h["b64_final_eol"]:
        text += h["b64_eol"]
    out = text.encode()
    if h["b64_nul"]:
        out += b"\0"
    return out

def send(habits, conn, req, resp):
    """Write one response; returns (keep_alive, graceful_close)."""
    h = habits
    status = resp.status
    reason = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "Status"
    body = resp.body
    if resp.b64 and h["huge_body"] and len(body) < h["huge_body"]:
        body = body + b" " * (h["huge_body"] - len(body))
    endless = resp.b64 and status == 200 and h["endless"]
    framing = h["framing"]
    if status == 204:           # no body and no framing headers (RFC 9110 8.6, 9112 6.1)
        framing, body, endless = "none", b"", False
    if endless and framing == "length":
        framing = "chunked"
    client_close = req is None or (req.header("connection") or "").lower() == "close" or \
        getattr(req, "version", "HTTP/1.1") == "HTTP/1.0"
    keep = not (resp.close or client_close or framing == "close" or h["http10"] or
                not h["keep_alive"])
    if h["http10"] and framing == "chunked":
        framing = "close"
    headers = []
    if h["cgi_status"]:
        headers.append(("Status", "%d %s" % (status, reason)))
    headers += resp.headers
    if resp.cte and h["cte"]:
        headers.append(("Content-Transfer-Encoding", "base64"))
    if h["hsts"]:
        headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    headers.append(("Date", clock.http_date()))
    headers.append(("Server", "tinyest-devserver"))
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
    elif framing == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
    headers.append(("Connection", "keep-alive" if keep else "close"))
    head = "%s %d %s\r\n" % ("HTTP/1.0" if h["http10"] else "HTTP/1.1", status, reason)
    head += "".join("%s: %s\r\n" % (case(h, k), v) for k, v in headers) + "\r\n"
    out = head.encode("latin-1")
    if req is not None and req.method == "HEAD":
        body = b""
    if framing == "chunked":
        step = max(1, h["chunk_size"])
        for i in range(0, len(body), step):
            part = body[i:i + step]
            out += b"%x\r\n%s\r\n" % (len(part), part)
        if not endless:
            out += b"0\r\n\r\n"
    else:
        out += body
    conn.sendall(out)
    if endless:
        _stream_forever(conn, framing == "chunked")
    return keep, not keep

def _stream_forever(conn, chunked):
    block = (b"A" * 63 + b"\n") * 64
    if chunked:
        block = b"%x\r\n%s\r\n" % (len(block), block)
    sent = 0
    while sent < (1 << 30):     # bounded so a greedy client cannot pin a thread
        conn.sendall(block)
        sent += len(block)
