"""HTTP parsing: status lines, headers, framing, base64 bodies, Retry-After,
WWW-Authenticate, Digest, multipart. Byte streams come from a fake socket, so
these say nothing about TLS (tests/host/test_transport_host.py does)."""

import binascii

from _t import raises

from tinyest import http, http_auth, serverkeygen
from tinyest.errors import EstError, EstTimeout, ProtocolError


class Fake:
    """A socket that returns ``data`` in pieces of at most ``step`` bytes,
    then EOF (b'') or, with ``hang``, a timeout."""

    def __init__(self, data, step=7, hang=False):
        self.data = data
        self.pos = 0
        self.step = step
        self.hang = hang
        self.reads = 0

    def recv_into(self, mv):
        self.reads += 1
        if self.pos >= len(self.data):
            if self.hang:
                raise OSError(110)  # ETIMEDOUT, as both runtimes raise it
            return 0
        n = min(len(mv), self.step, len(self.data) - self.pos)
        mv[0:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def parse(data, step=7, method="GET", max_body=http.MAX_BODY, hang=False, bufsize=256):
    return http.read_response(http.Stream(Fake(data, step, hang), bufsize), method, max_body)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"


# ---------------------------------------------------------------- status lines

STATUS_GOOD = [
    ("plain", b"HTTP/1.1 200 OK", 200, "OK"),
    ("no reason", b"HTTP/1.1 204", 204, ""),
    ("empty reason", b"HTTP/1.1 404 ", 404, ""),
    ("http/1.0", b"HTTP/1.0 401 Unauthorized", 401, "Unauthorized"),
    ("reason with spaces", b"HTTP/1.1 500 Internal Server Error", 500, "Internal Server Error"),
    ("non-ascii reason", b"HTTP/1.1 200 \xc3\xa7a va \xff", 200, None),
    ("leading empty line", b"\r\nHTTP/1.1 202 Accepted", 202, "Accepted"),
    ("LF only", None, 200, "OK"),
]

STATUS_BAD = [
    ("http/2", b"HTTP/2 200 OK"),
    ("http/0.9 body", b"<html>hello</html>"),
    ("lowercase", b"http/1.1 200 OK"),
    ("two-digit status", b"HTTP/1.1 20 OK"),
    ("four-digit status", b"HTTP/1.1 2000 OK"),
    ("status 099", b"HTTP/1.1 099 X"),
    ("status 600", b"HTTP/1.1 600 X"),
    ("letters in status", b"HTTP/1.1 2x0 OK"),
    ("no space", b"HTTP/1.1200 OK"),
    ("tab separator", b"HTTP/1.1\t200 OK"),
    ("minor version letter", b"HTTP/1.x 200 OK"),
    ("empty", b""),
    ("many empty lines", b"\r\n\r\n\r\n\r\nHTTP/1.1 200 OK"),
    ("too long", b"HTTP/1.1 200 " + b"x" * 4000),
]


def test_status_lines():
    for name, line, status, reason in STATUS_GOOD:
        if line is None:
            data = b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"
        else:
            data = line + b"\r\nContent-Length: 0\r\n\r\n"
        r = parse(data)
        assert r.status == status, name
        if reason is not None:
            assert r.reason == reason, name


def test_status_lines_bad():
    for name, line in STATUS_BAD:
        e = raises(ProtocolError, parse, line + b"\r\nContent-Length: 0\r\n\r\n")
        assert e is not None, name


def test_informational_skipped():
    r = parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: 1\r\n\r\n" + OK)
    assert r.status == 200 and bytes(r.body) == b"hi"
    raises(ProtocolError, parse, b"HTTP/1.1 100 Continue\r\n\r\n" * 9 + OK)
    raises(ProtocolError, parse, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n")


def test_eof_before_anything():
    e = raises(ProtocolError, parse, b"")
    assert "before the status line" in str(e)


# ---------------------------------------------------------------- headers

HEADERS_GOOD = [
    ("canonical case", b"WWW-Authenticate: Basic realm=x", "www-authenticate", "Basic realm=x"),
    ("title case", b"Www-Authenticate: Basic realm=x", "www-authenticate", "Basic realm=x"),
    ("lower case", b"www-authenticate: Basic", "www-authenticate", "Basic"),
    ("no space after colon", b"Content-Type:application/pkcs7-mime", "content-type",
     "application/pkcs7-mime"),
    ("trailing blanks", b"X-A: v \t ", "x-a", "v"),
    ("empty value", b"X-Empty:", "x-empty", ""),
    ("cgi status", b"Status: 200 OK", "status", "200 OK"),
    ("hsts", b"Strict-Transport-Security: max-age=31536000; includeSubDomains",
     "strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("obs-fold", b"X-Fold: one\r\n  two", "x-fold", "one two"),
    ("colon in value", b"Location: https://h:8443/x", "location", "https://h:8443/x"),
]

HEADERS_BAD = [
    ("no colon", b"Content-Length 2"),
    ("space before colon", b"Content-Length : 2"),
    ("empty name", b": value"),
    ("control in name", b"X\x01Y: 1"),
    ("fold first", b"  folded"),
    ("too many", b"\r\n".join([b"X-%d: 1" % i for i in range(70)])),
    ("too much in all", b"\r\n".join([b"X-%d: " % i + b"v" * 400 for i in range(60)])),
]


def test_headers():
    for name, line, key, value in HEADERS_GOOD:
        r = parse(b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n")
        assert r.header(key) == value, name
        assert r.header(key.upper()) == value, name


def test_headers_bad():
    for name, line in HEADERS_BAD:
        for bufsize in (256, http.BUFSIZE):
            try:
                parse(b"HTTP/1.1 200 OK\r\n" + line + b"\r\nContent-Length: 0\r\n\r\n", bufsize=bufsize)
            except ProtocolError:
                continue
            raise AssertionError("%s (buffer %d)" % (name, bufsize))


def test_header_list_keeps_order_and_repeats():
    r = parse(b"HTTP/1.1 401 U\r\nWWW-Authenticate: Digest realm=a\r\n"
              b"www-authenticate: Basic realm=b\r\nContent-Length: 0\r\n\r\n")
    assert r.header_all("WWW-Authenticate") == ["Digest realm=a", "Basic realm=b"]
    assert r.headers[0][0] == "www-authenticate"


def test_long_header_line_skipped():
    big = b"Content-Security-Policy: " + b"a" * 600
    r = parse(b"HTTP/1.1 200 OK\r\n" + big + b"\r\nContent-Length: 2\r\n\r\nhi")
    assert bytes(r.body) == b"hi" and r.header("content-security-policy") is None


# ---------------------------------------------------------------- framing


def test_content_length():
    for step in (1, 3, 1000):
        r = parse(OK, step)
        assert bytes(r.body) == b"hi" and r.keep_alive, step


def test_content_length_stops_reading():
    # Data after the body (a second response, garbage) is never read.
    f = Fake(OK + b"X" * 5000, 1000)
    s = http.Stream(f, 256)
    r = http.read_response(s)
    assert bytes(r.body) == b"hi"
    assert f.pos < 300, f.pos


def test_content_length_then_hang():
    # The peer keeps the connection open after the body: we must not wait.
    r = parse(OK, 5, hang=True)
    assert bytes(r.body) == b"hi"


CL_BAD = [
    ("negative", b"-1"),
    ("hex", b"0x10"),
    ("letters", b"abc"),
    ("conflicting list", b"2, 3"),
    ("huge", b"99999999999999999999"),
    ("plus sign", b"+2"),
    ("empty", b""),
    ("above the cap", b"40000"),
]


def test_content_length_bad():
    for name, v in CL_BAD:
        raises(ProtocolError, parse, b"HTTP/1.1 200 OK\r\nContent-Length: " + v + b"\r\n\r\nhi")
    r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nhi")
    assert bytes(r.body) == b"hi"


def test_content_length_truncated():
    e = raises(ProtocolError, parse, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhi")
    assert "2 of 10" in str(e)


def test_cap_refused_before_allocation():
    e = raises(ProtocolError, parse, b"HTTP/1.1 200 OK\r\nContent-Length: 2000000000\r\n\r\n")
    assert "cap" in str(e)
    raises(ProtocolError, parse, b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + b"x" * 11,
           max_body=10)
    r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" + b"x" * 10, max_body=10)
    assert len(r.body) == 10


def chunked(*chunks, trailer=b""):
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for c in chunks:
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return out + b"0\r\n" + trailer + b"\r\n"


def test_chunked():
    for step in (1, 4, 1000):
        r = parse(chunked(b"hel", b"lo ", b"world"), step)
        assert bytes(r.body) == b"hello world", step
        assert r.keep_alive
    r = parse(chunked(b"ab", trailer=b"X-Trailer: 1\r\n"))
    assert bytes(r.body) == b"ab"
    r = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"0003;name=value\r\nabc\r\n0\r\n\r\n")
    assert bytes(r.body) == b"abc"
    r = parse(b"HTTP/1.1 200 OK\nTransfer-Encoding: Chunked\n\n2\nab\n0\n\n")
    assert bytes(r.body) == b"ab"
    big = b"z" * 3000  # bigger than the stream buffer
    r = parse(chunked(big, b"!"), 100)
    assert bytes(r.body) == big + b"!"


def test_chunked_wins_over_content_length():
    data = chunked(b"abc").replace(b"chunked\r\n", b"chunked\r\nContent-Length: 99\r\n")
    assert bytes(parse(data).body) == b"abc"


CHUNK_BAD = [
    ("non-hex size", b"zz\r\nab\r\n0\r\n\r\n"),
    ("negative size", b"-2\r\nab\r\n0\r\n\r\n"),
    ("empty size", b"\r\nab\r\n0\r\n\r\n"),
    ("9-digit size", b"000000002\r\nab\r\n0\r\n\r\n"),
    ("size beyond cap", b"ffffffff\r\n"),
    ("sizes summing beyond cap", b"4000\r\n" + b"a" * 0x4000 + b"\r\n4001\r\n"),
    ("short chunk", b"5\r\nab\r\n0\r\n\r\n"),
    ("missing CRLF after data", b"2\r\nabX\r\n0\r\n\r\n"),
    ("eof before last chunk", b"2\r\nab\r\n"),
    ("eof in trailers", b"2\r\nab\r\n0\r\nX: 1\r\n"),
    ("0x prefix", b"0x2\r\nab\r\n0\r\n\r\n"),
    ("long size line", b"2;" + b"e" * 3000 + b"\r\nab\r\n0\r\n\r\n"),
]


def test_chunked_bad():
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for name, data in CHUNK_BAD:
        try:
            parse(head + data, max_body=0x5000)
        except ProtocolError:
            continue
        raise AssertionError(name)


def test_transfer_codings_refused():
    for te in (b"gzip, chunked", b"gzip", b"identity", b"chunked, chunked"):
        raises(ProtocolError, parse, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: " + te + b"\r\n\r\n0\r\n\r\n")


def test_close_delimited():
    r = parse(b"HTTP/1.0 200 OK\r\nContent-Type: x\r\n\r\n" + b"q" * 5000, 333)
    assert bytes(r.body) == b"q" * 5000 and not r.keep_alive
    r = parse(b"HTTP/1.1 200 OK\r\n\r\n")
    assert bytes(r.body) == b""
    r = parse(b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100, max_body=100)
    assert len(r.body) == 100


def test_close_delimited_cap():
    e = raises(ProtocolError, parse, b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 40000)
    assert "cap" in str(e)
    raises(ProtocolError, parse, b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 101, max_body=100)


def test_endless_body_stops_at_cap():
    class Endless:
        reads = 0

        def recv_into(self, mv):
            self.reads += 1
            if self.reads == 1:
                head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                mv[0:len(head)] = head
                return len(head)
            n = min(len(mv), 64)
            for i in range(n):
                mv[i] = 0x41
            return n

    src = Endless()
    raises(ProtocolError, http.read_response, http.Stream(src, 256))
    assert src.reads < http.MAX_BODY // 64 + 10
    src = Endless()
    src.reads = 5  # no head: a status line without end
    raises(ProtocolError, http.read_response, http.Stream(src, 256))


def test_no_body_statuses():
    r = parse(b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", hang=True)
    assert bytes(r.body) == b""
    r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method="HEAD", hang=True)
    assert bytes(r.body) == b""


def test_keep_alive():
    assert not parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive
    assert not parse(b"HTTP/1.1 200 OK\r\nconnection: Keep-Alive, Close\r\n"
                     b"Content-Length: 0\r\n\r\n").keep_alive
    assert not parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive
    assert parse(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive


def test_two_responses_on_one_stream():
    s = http.Stream(Fake(OK + b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop", 11), 256)
    assert http.read_response(s).status == 200
    r = http.read_response(s)
    assert r.status == 404 and bytes(r.body) == b"nop"


def test_timeouts_and_deadline():
    e = raises(EstTimeout, parse, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhi", hang=True)
    assert "timed out" in str(e)

    class Slow:
        def recv_into(self, mv):
            import time
            time.sleep(0.02)
            mv[0] = 0x78
            return 1

    s = http.Stream(Slow(), 256, deadline=0.1)
    raises(EstTimeout, s.readline)


def test_socket_errors_mapped():
    class Reset:
        def recv_into(self, mv):
            raise OSError(104)  # ECONNRESET

    e = raises(EstError, http.read_response, http.Stream(Reset(), 256))
    assert type(e).__name__ == "ConnectError"


# ---------------------------------------------------------------- base64 bodies

DER = bytes(range(256)) * 3 + b"\x30\x82\x01\x00"
B64 = binascii.b2a_base64(DER).strip()


def _wrap(b, width, eol):
    return eol.join([b[i:i + width] for i in range(0, len(b), width)])


B64_GOOD = [
    ("64 LF", _wrap(B64, 64, b"\n") + b"\n"),
    ("64 LF no final", _wrap(B64, 64, b"\n")),
    ("76 CRLF", _wrap(B64, 76, b"\r\n") + b"\r\n"),
    ("single line", B64),
    ("single line LF", B64 + b"\n"),
    ("trailing NUL", B64 + b"\n\x00"),
    ("trailing NULs and blanks", B64 + b"\x00\x00 \r\n"),
    ("leading blanks", b"\r\n  " + B64),
    ("odd width", _wrap(B64, 13, b"\n")),
    ("tabs", _wrap(B64, 40, b"\t")),
    ("PEM armor", b"-----BEGIN PKCS7-----\n" + _wrap(B64, 64, b"\n") + b"\n-----END PKCS7-----\n"),
]

B64_BAD = [
    ("bad char", B64[:10] + b"*" + B64[10:]),
    ("url-safe alphabet", B64.replace(b"+", b"-")),
    ("data after padding", b"QQ==QUJD"),
    ("three pad", b"QQ==="),
    ("one char left", b"QUJDR"),
    ("wrong padding", b"QUJD="),
    ("data after NUL", b"QUJD\x00QUJD"),
    ("empty", b""),
    ("only blanks", b" \r\n\x00"),
    ("non-ascii", B64[:8] + b"\xc3\xa9" + B64[8:]),
    ("html error page", b"<html><body>error</body></html>"),
]


def test_b64_bodies():
    for name, body in B64_GOOD:
        assert http.b64decode_body(body) == DER, name
        assert http.b64decode_body(bytearray(body)) == DER, name
    assert http.b64decode_body(b"QQ") == b"A"  # missing padding
    assert http.b64decode_body(b"QUI") == b"AB"
    assert http.b64decode_body(DER[-4:] + b"\x00" * 4) == DER[-4:] + b"\x00" * 4  # raw DER


def test_b64_bodies_bad():
    for name, body in B64_BAD:
        try:
            http.b64decode_body(body)
        except ProtocolError:
            continue
        raise AssertionError(name)


def test_b64_refusals_name_the_byte_and_offset():
    for body, want in ((b"QQ===", "0x3d at 4"), (b"QQ==QUJD", "0x51 at 4"), (b"QUJD\x00QUJD", "0x51 at 5"),
                       (b"QU\r\nJ*", "0x2a at 5"), (b"=QUJD", "0x3d at 0")):
        e = raises(ProtocolError, http.b64decode_body, body)
        assert str(e) == "base64 body: bad character " + want, (body, str(e))
    e = raises(ProtocolError, http.b64decode_body, b"QUJD=")
    assert str(e) == "base64 body: bad length or padding"
    raises(ProtocolError, http.b64decode_body, b"-----BEGIN X-----\nnot base64\n")


def test_b64_encode_lines():
    for n in (0, 1, 47, 48, 49, 96, 1000):
        data = bytes([i & 0xFF for i in range(n)])
        out = bytes(http.b64encode_lines(data))
        lines = out.split(b"\n")
        assert lines[-1] == b"", n
        for line in lines[:-2]:
            assert len(line) == 64, n
        assert len(lines[-2]) <= 64 if n else out == b"", n
        if n:
            assert binascii.a2b_base64(out.replace(b"\n", b"")) == data, n


# ---------------------------------------------------------------- Retry-After

RETRY_AFTER = [
    ("delta", "600", None, 600),
    ("delta zero", "0", None, 0),
    ("delta blanks", " 3600 ", None, 3600),
    ("imf-fixdate vs Date", "Sun, 06 Nov 1994 08:59:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", 600),
    ("rfc850 vs Date", "Sunday, 06-Nov-94 08:50:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", 60),
    ("asctime vs Date", "Sun Nov  6 09:49:37 1994", "Sun, 06 Nov 1994 08:49:37 GMT", 3600),
    ("date in the past", "Sun, 06 Nov 1994 08:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT", 0),
    ("date vs now", "Thu, 01 Jan 1970 00:10:00 GMT", None, 600),
    ("missing", None, None, 60),
    ("garbage", "soon", None, 60),
    ("negative", "-5", None, 60),
    ("float", "1.5", None, 60),
    ("bad month", "Sun, 06 Foo 1994 08:49:37 GMT", None, 60),
    ("bad day", "Sun, 32 Nov 1994 08:49:37 GMT", None, 60),
    ("bad time", "Sun, 06 Nov 1994 25:49:37 GMT", None, 60),
    ("not GMT", "Sun, 06 Nov 1994 08:49:37 PST", None, 60),
    ("huge", "9" * 40, None, 60),
    ("eleven digits", "12345678901", None, 60),
]


def test_retry_after():
    for name, value, date, want in RETRY_AFTER:
        got = http.retry_after(value, date, now=0)
        assert got == want, "%s: %r" % (name, got)


def test_http_dates_agree():
    a = http.parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
    assert a == 784111777  # RFC 7231 7.1.1.1's example instant
    assert http.parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == a
    assert http.parse_http_date("Sun Nov  6 08:49:37 1994") == a
    assert http.parse_http_date("Sun, 06 Nov 1994 08:49:37") is None
    assert http.parse_http_date("x" * 100) is None


# ---------------------------------------------------------------- WWW-Authenticate

CHALLENGES = [
    ("basic", ['Basic realm="est"'], [("basic", {"realm": "est"}, None)]),
    ("basic unquoted", ["Basic realm=est"], [("basic", {"realm": "est"}, None)]),
    ("scheme case", ['BASIC Realm="est"'], [("basic", {"realm": "est"}, None)]),
    ("bare scheme", ["Negotiate"], [("negotiate", {}, None)]),
    ("token68", ["Negotiate YIIB+w=="], [("negotiate", {}, "YIIB+w==")]),
    ("token68 then challenge", ['Negotiate abc=, Basic realm="r"'],
     [("negotiate", {}, "abc="), ("basic", {"realm": "r"}, None)]),
    ("two challenges one value",
     ['Digest realm="r", nonce="n", qop="auth,auth-int", algorithm=SHA-256, Basic realm="r"'],
     [("digest", {"realm": "r", "nonce": "n", "qop": "auth,auth-int", "algorithm": "SHA-256"}, None),
      ("basic", {"realm": "r"}, None)]),
    ("two values", ['Digest realm="a", nonce="1"', 'Basic realm="b"'],
     [("digest", {"realm": "a", "nonce": "1"}, None), ("basic", {"realm": "b"}, None)]),
    ("quoted comma and escapes", [r'Digest realm="a, \"b\"", nonce="x\\y"'],
     [("digest", {"realm": 'a, "b"', "nonce": "x\\y"}, None)]),
    ("blanks around =", ['Basic realm = "r"'], [("basic", {"realm": "r"}, None)]),
    ("empty list items", [', , Basic realm="r" ,,'], [("basic", {"realm": "r"}, None)]),
    ("duplicate param first wins", ['Basic realm="a", realm="b"'], [("basic", {"realm": "a"}, None)]),
    ("newer bearer", ['Bearer realm="x", error="invalid_token"'],
     [("bearer", {"realm": "x", "error": "invalid_token"}, None)]),
    ("empty", [""], []),
]

CHALLENGES_BAD = [
    ("unterminated quote", ['Basic realm="abc']),
    ("junk after value", ['Basic realm="a" b c']),
    ("bad char", ['Basic realm="a", @x']),
    ("starts with =", ["=abc"]),
    ("too long", ['Basic realm="' + "a" * 5000 + '"']),
]


def test_www_authenticate():
    for name, values, want in CHALLENGES:
        got = http_auth.parse_challenges(values)
        assert got == want, "%s: %r" % (name, got)


def test_www_authenticate_bad():
    for name, values in CHALLENGES_BAD:
        try:
            http_auth.parse_challenges(values)
        except ProtocolError:
            continue
        raise AssertionError(name)
    many = ", ".join(["S%d" % i for i in range(40)])
    raises(ProtocolError, http_auth.parse_challenges, [many])


CHOICE = [
    ("sha256 over md5 over basic",
     ['Basic realm="r"', 'Digest realm="r", nonce="n", qop="auth"',
      'Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256'], "digest", "SHA-256"),
    ("md5 over basic", ['Basic realm="r", Digest realm="r", nonce="n", algorithm=MD5-sess'],
     "digest", "MD5-sess"),
    ("auth-int only falls back to basic",
     ['Digest realm="r", nonce="n", qop="auth-int"', 'Basic realm="r"'], "basic", None),
    ("unknown algorithm falls back",
     ['Digest realm="r", nonce="n", algorithm=SHA-512-256', 'Basic realm="r"'], "basic", None),
    ("digest without nonce ignored", ['Digest realm="r"', 'Basic realm="r"'], "basic", None),
    ("nothing usable", ['Negotiate', 'Bearer realm="x"'], None, None),
]


def test_choose_challenge():
    for name, values, scheme, alg in CHOICE:
        c = http_auth.choose_challenge(http_auth.parse_challenges(values))
        if scheme is None:
            assert c is None, name
            continue
        assert c[0] == scheme, name
        if alg is not None:
            assert c[1].get("algorithm") == alg, name


def _params(header):
    return http_auth.parse_challenges([header])[0][1]


def test_digest_rfc7616_example():
    # RFC 7616 section 3.9.1: user Mufasa, password "Circle of Life".
    ch = {
        "realm": "http-auth@example.org", "qop": "auth, auth-int", "algorithm": "SHA-256",
        "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        "opaque": "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
    }
    cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    h = http_auth.digest_authorization(ch, "Mufasa", "Circle of Life", "GET", "/dir/index.html", cnonce)
    p = _params(h)
    assert p["response"] == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    assert p["nc"] == "00000001" and p["qop"] == "auth" and p["opaque"] == ch["opaque"]
    assert p["uri"] == "/dir/index.html" and p["username"] == "Mufasa"
    ch["algorithm"] = "MD5"
    p = _params(http_auth.digest_authorization(ch, "Mufasa", "Circle of Life", "GET", "/dir/index.html",
                                          cnonce))
    assert p["response"] == "8ca523f5e9506fed4657c9700eebdbec"


def test_digest_rfc2617_example():
    # RFC 2617 section 3.5 (MD5, qop=auth).
    ch = {"realm": "testrealm@host.com", "qop": "auth,auth-int",
          "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093", "opaque": "5ccc069c403ebaf9f0171e9517f40e41"}
    p = _params(http_auth.digest_authorization(ch, "Mufasa", "Circle Of Life", "GET", "/dir/index.html",
                                          "0a4f113b"))
    assert p["response"] == "6629fae49393a05397450978507c4ef1"


def test_digest_variants():
    import hashlib

    def md5hex(s):
        return binascii.hexlify(hashlib.md5(s.encode()).digest()).decode()

    ch = {"realm": "r", "nonce": "n", "algorithm": "MD5-sess", "qop": "auth"}
    p = _params(http_auth.digest_authorization(ch, "u", "p", "POST", "/x", "c"))
    ha1 = md5hex(md5hex("u:r:p") + ":n:c")
    assert p["response"] == md5hex(ha1 + ":n:00000001:c:auth:" + md5hex("POST:/x"))
    ch = {"realm": "r", "nonce": "n"}  # RFC 2069: no qop
    p = _params(http_auth.digest_authorization(ch, "u", "p", "GET", "/x", "c"))
    assert p["response"] == md5hex(md5hex("u:r:p") + ":n:" + md5hex("GET:/x"))
    assert "qop" not in p and "cnonce" not in p
    ch = {"realm": "r", "nonce": "n", "qop": "auth", "userhash": "true"}
    p = _params(http_auth.digest_authorization(ch, "u", "p", "GET", "/x", "c"))
    assert p["username"] == md5hex("u:r") and p["userhash"] == "true"
    ch = {"realm": "r", "nonce": "n", "qop": "auth"}
    p = _params(http_auth.digest_authorization(ch, 'a"b\\c', "p", "GET", "/x", "c"))
    assert p["username"] == 'a"b\\c'
    raises(ProtocolError, http_auth.digest_authorization, {"realm": "r", "nonce": "n", "qop": "auth-int"},
           "u", "p", "GET", "/", "c")
    raises(ProtocolError, http_auth.digest_authorization, {"realm": "r", "nonce": "n", "algorithm": "SHA-1"},
           "u", "p", "GET", "/", "c")


def test_basic():
    # RFC 7617 section 2's example.
    assert http_auth.basic_authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


# ---------------------------------------------------------------- requests


def test_build_request():
    req = http.build_request("POST", "/.well-known/est/simpleenroll", http.host_header("h", 8443),
                             [("Content-Type", "application/pkcs10")], b"QUJD\n")
    lines = req.split(b"\r\n")
    assert lines[0] == b"POST /.well-known/est/simpleenroll HTTP/1.1"
    assert lines[1] == b"Host: h:8443"
    assert b"Content-Length: 5" in lines and req.endswith(b"\r\n\r\n")
    assert http.host_header("::1", 443) == "[::1]"
    assert http.host_header("::1", 8443) == "[::1]:8443"
    assert http.host_header("est.example", 443) == "est.example"
    raises(ProtocolError, http.build_request, "GET", "/", "h", [("X", "a\r\nEvil: 1")])


def test_media_type():
    assert serverkeygen.parse_media_type('multipart/mixed; boundary="a;b"; X=1') == (
        "multipart/mixed", {"boundary": "a;b", "x": "1"})
    assert serverkeygen.parse_media_type("Application/PKCS7-MIME;smime-type=certs-only") == (
        "application/pkcs7-mime", {"smime-type": "certs-only"})
    assert serverkeygen.parse_media_type("") == ("", {})


# ---------------------------------------------------------------- multipart


def _multipart(eol, boundary=b"est", preamble=b"", epilogue=b""):
    e = eol
    return (preamble + b"--" + boundary + e
            + b"Content-Type: application/pkcs8" + e
            + b"Content-Transfer-Encoding: base64" + e + e
            + b"S0VZ" + e
            + b"--" + boundary + e
            + b"Content-Type: application/pkcs7-mime; smime-type=certs-only" + e + e
            + b"Q0VSVA==" + e
            + b"--" + boundary + b"--" + e + epilogue)


def test_multipart():
    for eol in (b"\r\n", b"\n"):
        for pre in (b"", b"preamble text" + eol):
            parts = serverkeygen.parse_multipart("multipart/mixed; boundary=est", _multipart(eol, preamble=pre),)
            assert len(parts) == 2
            h0, d0 = parts[0]
            assert serverkeygen.part_header(h0, "content-type") == "application/pkcs8"
            assert http.b64decode_body(d0) == b"KEY"
            h1, d1 = parts[1]
            ctype = serverkeygen.parse_media_type(serverkeygen.part_header(h1, "content-type"))
            assert ctype[1]["smime-type"] == "certs-only"
            assert http.b64decode_body(d1) == b"CERT"
    # quoted boundary with a transport-padding blank, and boundary text inside data
    body = (b"--b q\r\n\r\nx--b qz\r\n--b q  \r\nContent-Type: t\r\n\r\ny\r\n--b q--")
    parts = serverkeygen.parse_multipart('multipart/mixed; boundary="b q"', body)
    assert [bytes(d) for _, d in parts] == [b"x--b qz", b"y"]


def test_multipart_through_chunked_response():
    body = _multipart(b"\r\n")
    data = (b"HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed; boundary=est\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    for i in range(0, len(body), 10):
        c = body[i:i + 10]
        data += b"%x\r\n" % len(c) + c + b"\r\n"
    data += b"0\r\n\r\n"
    r = parse(data, 3)
    parts = serverkeygen.parse_multipart(r.header("content-type"), r.body)
    assert [http.b64decode_body(d) for _, d in parts] == [b"KEY", b"CERT"]


MULTIPART_BAD = [
    ("not multipart", "application/pkcs8", _multipart(b"\r\n")),
    ("no boundary", "multipart/mixed", _multipart(b"\r\n")),
    ("boundary too long", "multipart/mixed; boundary=" + "a" * 71, b""),
    ("boundary missing in body", "multipart/mixed; boundary=zzz", _multipart(b"\r\n")),
    ("unterminated", "multipart/mixed; boundary=est", _multipart(b"\r\n")[:-9]),
    ("junk after delimiter", "multipart/mixed; boundary=est", b"--estjunk\r\n\r\nx\r\n--est--"),
    ("header without colon", "multipart/mixed; boundary=est", b"--est\r\nbad header\r\n\r\nx\r\n--est--"),
    ("too many parts", "multipart/mixed; boundary=e", b"--e\r\n\r\nx\r\n" * 9 + b"--e--"),
]


def test_multipart_bad():
    for name, ctype, body in MULTIPART_BAD:
        try:
            serverkeygen.parse_multipart(ctype, body)
        except ProtocolError:
            continue
        raise AssertionError(name)


class _StreamOnly:
    # A TLS socket of a build without DTLS: read/write only, no recv/send.
    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.sent = b""

    def read(self, n):
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk

    def write(self, b):
        self.sent += bytes(b)
        return len(b)

    def close(self):
        pass


def test_receiver_without_recv_reads_byte_by_byte():
    from tinyest import runtime
    body = b"MAA="
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n" + body + b"NEVER-READ"
    s = _StreamOnly(raw)
    r = runtime._Recv(s)
    assert r.send(b"GET") == 3 and s.sent == b"GET"
    resp = http.read_response(http.Stream(r, 64, None), "GET", 1024)
    assert resp.status == 200 and bytes(resp.body) == body
    # Nothing beyond the body was consumed: a peer holding the connection open
    # after the last byte cannot make the reader wait.
    assert s.pos == len(raw) - len(b"NEVER-READ")


def test_out_of_memory_is_not_a_network_error():
    from tinyest import runtime
    e = MemoryError()
    assert runtime.net_error(e, "handshake") is e
    if runtime.MICROPYTHON:
        # mbedTLS reports its own failed allocation as a negative error code
        assert isinstance(runtime.net_error(OSError(-0x7F00), "handshake"), MemoryError)
        assert isinstance(runtime.net_error(OSError(-0x7780), "handshake"), EstError)
    # ENOMEM (MicroPython's DTLS handshake reports a full heap so) on every runtime
    assert isinstance(runtime.net_error(OSError(12, "ENOMEM"), "handshake"), MemoryError)


def test_line_at_the_limit_does_not_depend_on_how_bytes_arrive():
    # A 62-byte line (the limit of a 64-byte buffer) with CR LF is kept whether
    # the CR arrives with the line or alone; 63 bytes are too long either way.
    for n, want in ((62, b"a" * 62), (63, False)):
        for step in (1, 2, 7, 64):
            s = http.Stream(Fake(b"a" * n + b"\r\nnext\n", step), 64)
            assert s.readline() == want, (n, step)
            assert s.readline() == b"next", (n, step)
