"""Rare response forms for ``tinyest.http``, imported only when one arrives.

``body`` reads a body sent with a Transfer-Encoding (RFC 7230 4.1) or ended by
the close of the connection: most EST servers send a Content-Length. Only
``chunked`` alone is accepted; chunks are read up to the last one ("0"), the
caller reads the trailers. Chunk sizes have at most 8 hex digits, the body never
grows beyond the cap (a close-delimited body one byte longer is refused).

``pem_body`` decodes a body sent as PEM text instead of bare base64.

``TEXTS`` holds the error texts of ``tinyest.http``, numbered by its ``_SLOW`` ...
``_NO_CREDENTIALS`` constants, in one string (a string literal per message would
cost heap on a board through every TLS handshake); ``http._error`` loads them
with the first error.
"""

from tinyest.errors import EstError, ProtocolError

TEXTS = (
    "response not complete within %d s|%s longer than 16384 bytes|"
    "connection closed inside a line|connection closed after %d of %d %s bytes|"
    "connection closed before the status line|bad status line %r|"
    "connection closed inside the headers|bad header line %r|more than %d headers|"
    "unexpected protocol switch|too many 1xx responses|bad Content-Length %r|"
    "body exceeds the %d byte cap|base64 body: bad character 0x%02x at %d|"
    "empty base64 body|base64 body: bad length or padding|line break in header %r|"
    "connection closed while sending|no credentials over an unverified connection"
)


def body(stream, te, cap):
    """The body of a response framed by Transfer-Encoding ``te`` or, when
    ``te`` is empty, by the end of the connection: a bytearray of at most
    ``cap`` bytes, grown by doubling as data arrives."""
    if te and te.lower().replace(",", " ").split() != ["chunked"]:
        raise ProtocolError("unsupported transfer coding %r" % te[:40])
    buf = bytearray()
    n = 0
    while True:  # each round reads >= 1 body byte (within the cap), or ends
        if te:
            s = (stream.readline() or b"").split(b";")[0].strip()
            if not 0 < len(s) < 9 or s.strip(b"0123456789abcdefABCDEF"):
                raise ProtocolError("bad chunk size %r" % s[:20])
            k = int(s, 16)
            if not k:
                break
            if n + k > cap:
                raise ProtocolError("chunked body exceeds the %d byte cap" % cap)
        elif n == len(buf) and n >= cap:  # one byte more than the cap: too large
            if stream.readinto(bytearray(1)):
                raise ProtocolError("body exceeds the %d byte cap" % cap)
            break
        else:
            k = 1  # at least
        if n + k > len(buf):
            new = bytearray(min(max(2 * len(buf), n + k, 1024), cap))
            new[0:len(buf)] = buf
            buf = new
        if te:
            stream.readexact(memoryview(buf)[n:n + k], "chunk")
            if stream.readline() != b"":
                raise ProtocolError("no CRLF after a chunk")
        else:
            k = stream.readinto(memoryview(buf)[n:])
            if not k:
                break
        n += k
    if len(buf) != n:
        try:
            buf[n:] = b""
        except (TypeError, NotImplementedError):  # ports without slice assignment
            buf = buf[:n]
    return buf


def pem_body(data):
    """The DER of a PEM body (trailing NUL bytes ignored), else ProtocolError."""
    from tinyest import pem

    try:
        return pem.decode(bytes(data).rstrip(b"\x00"))
    except EstError as e:
        raise ProtocolError("bad PEM body: %s" % e)


def ascii_text(b):
    """Text of bytes that are not UTF-8: bytes above 127 become '?'."""
    b = bytearray(b)
    for i in range(len(b)):
        if b[i] > 127:
            b[i] = 63  # "?"
    return str(b, "utf-8")
