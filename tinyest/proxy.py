"""HTTP CONNECT proxies (RFC 7231 4.3.6) for ``tinyest.http.Connection``.

Loaded only when a client is given ``proxy=``. ``connect`` returns a socket to
the proxy tunnelled to the EST server (closed again on any failure).
``proxy_address`` reads
"host:port", "http://host:port/" or a (host, port) pair (no credentials: a
"user@" part is refused); ``tunnel`` asks the proxy for a tunnel to the EST
server and reads its answer byte by byte, so that nothing after the proxy's
header is consumed (the TLS handshake follows on the same socket). The answer
is read through ``http.Stream`` with its limits and deadline; a status other
than 2xx is an HttpError.

Side channels: nothing here handles secrets.
"""

from tinyest import runtime
from tinyest.errors import FormatError, HttpError
from tinyest.http import USER_AGENT, Stream, build_request, read_headers, send_all, status_line


def connect(proxy, host, port_, timeout, deadline):
    """A TCP socket to the proxy, tunnelled to host:port_."""
    phost, pport = proxy_address(proxy)
    raw = runtime.connect(phost, pport, timeout)
    try:
        tunnel(raw, host, port_, deadline)
    except Exception:
        raw.close()
        raise
    return raw


def proxy_address(proxy):
    """(host, port) of the proxy setting."""
    if isinstance(proxy, str):
        p = proxy
        if p.startswith("http://"):
            p = p[7:]
        p = p.rstrip("/")
        i = p.rfind(":")
        if i <= 0 or "@" in p:
            raise FormatError("proxy must be host:port")
        host = p[:i].strip("[]")
        try:
            return host, int(p[i + 1:])
        except ValueError:
            raise FormatError("bad proxy port")
    return proxy[0], int(proxy[1])


def tunnel(raw, host, port, deadline):
    """Ask the proxy on socket ``raw`` for a tunnel to host:port."""
    target = ("[" + host + "]" if ":" in host else host) + ":%d" % port
    send_all(raw, build_request("CONNECT", target, target, [("User-Agent", USER_AGENT)]))
    # Byte-wise reads: nothing after the proxy's header may be consumed.
    stream = Stream(_OneByte(raw), 512, deadline)
    minor, status, reason = status_line(stream)
    read_headers(stream)
    if status // 100 != 2:
        raise HttpError("proxy refused CONNECT: %d %s" % (status, reason), status)


class _OneByte:
    def __init__(self, sock):
        self.sock = sock

    def recv_into(self, mv):
        b = self.sock.recv(1)
        mv[0:len(b)] = b
        return len(b)
