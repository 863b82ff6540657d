"""Rare response forms for ``tinyest.http``, imported only when one arrives.

``chunked`` reads a body sent with a Transfer-Encoding (RFC 7230 4.1): most EST
servers send a Content-Length. Only ``chunked`` alone is accepted; chunks are
read up to the last one ("0"), the caller reads the trailers. Chunk sizes have
at most 8 hex digits, the body never grows beyond the cap, and each round reads
at least one body byte or ends.

``pem_body`` decodes a body sent as PEM text instead of bare base64.
"""

from tinyest.errors import EstError, ProtocolError


def chunked(stream, te, cap):
    """(body, length) of a body with Transfer-Encoding ``te``: ``body`` is a
    bytearray whose first ``length`` bytes hold the data."""
    if te.lower().replace(",", " ").split() != ["chunked"]:
        raise ProtocolError("unsupported transfer coding %r" % te[:40])
    body = bytearray()
    n = 0
    while True:
        s = (stream.readline() or b"").split(b";")[0].strip()
        if not 0 < len(s) < 9 or s.strip(b"0123456789abcdefABCDEF"):
            raise ProtocolError("bad chunk size %r" % s[:20])
        k = int(s, 16)
        if not k:
            return body, n
        if n + k > cap:
            raise ProtocolError("chunked body exceeds the %d byte cap" % cap)
        if n + k > len(body):  # grow by doubling, within the cap
            new = bytearray(min(max(2 * len(body), n + k, 1024), cap))
            new[0:len(body)] = body
            body = new
        stream.readexact(memoryview(body)[n:n + k], "chunk")
        n += k
        if stream.readline() != b"":
            raise ProtocolError("no CRLF after a chunk")


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
