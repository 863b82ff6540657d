"""Chunked transfer coding (RFC 7230 4.1) for ``tinyest.http.read_response``.

Imported only for a response that uses it: most EST servers send a
Content-Length. ``read`` reads the chunks up to the last one ("0"); the caller
reads the trailers. Chunk sizes have at most 8 hex digits, the body never grows
beyond the cap, and each round reads at least one body byte or ends.
"""

from tinyest.errors import ProtocolError


def read(stream, cap):
    """(body, length) of a chunked body: ``body`` is a bytearray whose first
    ``length`` bytes hold the data."""
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
