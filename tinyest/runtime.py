"""The runtime adapter: everything that differs between MicroPython and CPython.

TCP and TLS
    ``connect`` resolves with ``getaddrinfo`` (IPv4 and IPv6; on unix
    MicroPython it returns raw sockaddr values, which ``connect`` takes as they
    are) and tries each address in turn. The timeout is set on the raw socket
    before wrapping, so it covers the TLS handshake and every read.

    ``tls_wrap`` always verifies: CERT_REQUIRED and a hostname (or IP address)
    check against an explicit list of DER trust anchors. MicroPython's own
    default is CERT_NONE, so the mode is set explicitly. The system store is
    used only when asked for (CPython only). A client certificate and key are
    taken as DER: MicroPython's ``load_cert_chain`` takes them as bytes; for
    CPython's, which reads files, they are written as PEM into a private
    directory (mode 0700, files 0600) and removed at once. Only ``http/1.1`` is
    offered by ALPN (CPython; MicroPython sends no ALPN). CPython's TLS side
    (contexts, handshake, its ssl errors, tls-unique) is ``tinyest.runtime_cpython``,
    which MicroPython never imports (nor stores: code in this module costs a
    board heap even where it never runs, so CPython-only code stays out of it).

    The one exception is the provisional connection of RFC 7030 section 4.1.1
    (``bootstrap=True``): it is not trusted, it carries only ``GET /cacerts``,
    and the server's certificate chain is captured for a check once the
    out-of-band fingerprint has been matched. On CPython it runs under
    CERT_NONE and the chain comes from the TLS socket; on MicroPython it runs
    under CERT_OPTIONAL with ``verify_callback`` recording each certificate
    (the callback is not called under CERT_NONE, and under CERT_REQUIRED its
    return value cannot lift a verification failure).

    Rare paths live in ``tinyest.runtime_rare``, imported only when taken: a
    client key given otherwise than as DER bytes, the capture of the server's
    certificates (bootstrap, IP address hosts) and the iPAddress check.

    Errors become ``ConnectError`` (resolution, refused, reset), ``TlsError``
    (handshake, certificate, hostname) or ``EstTimeout``: ``net_error`` maps
    them, with ``tinyest.runtime_error``, loaded when a call fails (as are the
    error texts, numbered here).

Time and randomness
    ``now()`` is seconds since 1970 whatever the port's epoch (2000 on
    ESP32). ``ticks()``/``elapsed()`` measure durations. ``random_bytes`` is
    ``os.urandom``.

Channel binding
    ``channel_binding`` returns tls-unique (RFC 5929) on CPython over TLS 1.2;
    MicroPython exposes no binding and TLS 1.3 has no tls-unique, so both raise
    ``TlsError``. It is ``tinyest.runtime_rare``'s, served through the module's
    ``__getattr__`` and loaded on first use.

Reads
    The socket ``tls_wrap`` returns has a ``recv_into`` that returns after one
    read (the bytes available, at least one; 0 at the end of the stream). On
    MicroPython it is a ``_Recv``: MicroPython's ``recv_into``/``readinto`` on
    a blocking stream loop until the buffer is full, and its plain sockets
    have no ``recv_into``.

    Total time: the socket timeout bounds each read, and a peer trickling one
    byte just within it would stretch a TLS handshake or record read almost
    without end. CPython's ssl module applies the timeout to each whole TLS
    call; on MicroPython ``tls_wrap(..., timeout=)`` puts a wrapper between
    mbedTLS and the socket that does the same (ports built without
    ``io.IOBase``, such as ESP8266, keep the per-read bound only).

Side channels: the private key of a client certificate exists as a file for
the moment CPython's ``load_cert_chain`` reads it (private directory, 0600);
nothing here is constant-time.
"""

import os
import sys
import time

try:
    import socket
except ImportError:  # no network stack (a plain RP2040 Pico): offline use only
    socket = None

from tinyest import lazy, texts
from tinyest.errors import ConnectError, EstError, EstTimeout, TlsError

try:
    from micropython import const
except ImportError:  # CPython: every constant here is an int
    const = int

MICROPYTHON = sys.implementation.name == "micropython"

_tls = None
if MICROPYTHON:
    try:
        import tls as _tls
    except ImportError:  # older ports: the C module is called ssl; none without a network
        try:
            import ssl as _tls
        except ImportError:
            pass

_TIMEOUTS = (110, 116, 60, 138, 11, 35)  # ETIMEDOUT: Linux, lwIP, BSD/macOS, Windows-ish; EAGAIN

# Error texts by number: runtime_error.TEXTS, loaded with the first error (a board
# would pay heap for a string literal per message through every TLS handshake).
_NO_SOCKET = const(0)
_RESOLVE_TIMEOUT = const(1)
_RESOLVE = const(2)
_NO_ANCHOR = const(3)
_NO_STORE = const(4)
_CERT_KEY = const(5)
_ANCHOR_REFUSED = const(6)
_CERT_REFUSED = const(7)


_error = texts("runtime_error")  # (cls, i, args=()): cls(text i % args)


# ---------------------------------------------------------------- time, random


def now():
    """Seconds since 1970-01-01 UTC, whatever the port's epoch."""
    return int(time.time()) + (946684800 if time.gmtime(0)[0] == 2000 else 0)


# ticks(): a start for elapsed(): milliseconds on MicroPython (they wrap
# around), seconds on CPython.
ticks = time.ticks_ms if MICROPYTHON else time.monotonic


def elapsed(start):
    """Seconds (float) since ``start = ticks()``."""
    if MICROPYTHON:
        return time.ticks_diff(time.ticks_ms(), start) / 1000
    return time.monotonic() - start


sleep = time.sleep  # seconds > 0 (int or float)
random_bytes = os.urandom


# ---------------------------------------------------------------- errors


def _code(e):
    # The errno of an OSError; a timeout's is in _TIMEOUTS: CPython's socket
    # timeout is a TimeoutError without an errno (110 here); MicroPython has no
    # TimeoutError and reports ETIMEDOUT (or EAGAIN on unix).
    a = e.args
    if a and isinstance(a[0], int):
        return a[0]
    if not MICROPYTHON and isinstance(e, TimeoutError):
        return 110
    return getattr(e, "errno", None)


def net_error(e, stage="io"):
    """The library error for an exception raised by a socket or TLS call.
    ``stage`` is "connect", "handshake" or "io"."""
    if isinstance(e, (EstError, MemoryError)):
        return e  # running out of heap is not a network fault: let it be seen
    from tinyest import runtime_error  # a failed call: the mapping loads now

    return runtime_error.net_error(e, stage)


# ---------------------------------------------------------------- TCP


def connect(host, port, timeout):
    """A connected TCP socket to host:port with the timeout set."""
    if socket is None:
        raise _error(ConnectError, _NO_SOCKET)
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except Exception as e:  # gaierror, or OSError on MicroPython
        if isinstance(e, OSError) and _code(e) in _TIMEOUTS:
            raise _error(EstTimeout, _RESOLVE_TIMEOUT, host)
        raise _error(ConnectError, _RESOLVE, (host, e))
    err = None
    for info in infos[:8]:
        s = None
        try:
            s = socket.socket(info[0], info[1], info[2])
            s.settimeout(timeout)
            s.connect(info[-1])
            return s
        except Exception as e:
            if s is not None:
                s.close()
            err = net_error(e, "connect")
    raise err or _error(ConnectError, _RESOLVE, (host, "no address"))


# ---------------------------------------------------------------- reads (MicroPython)


_Base = object
if MICROPYTHON:
    import io

    _Base = getattr(io, "IOBase", object)  # absent from the smallest builds (ESP8266)


class _Recv(_Base):
    # MicroPython's TLS socket as tls_wrap returns it: made with the TLS
    # socket (no timeout). Its recv_into/readinto on a blocking stream loop
    # until the buffer is full; recv(n) returns what one read gives. Reads are
    # kept small so the temporary bytes object stays small. TLS sockets have
    # recv/send only in builds with DTLS support (ESP32, rp2 and unix have
    # it); elsewhere read(1) is the one read that cannot wait for bytes the
    # peer never sends, and write stands in for send.
    #
    # Made with the raw socket and a timeout (io.IOBase needed), it is first
    # the raw socket as the TLS layer sees it (readinto, write, ioctl), then,
    # __init__ called again with the TLS socket, also the TLS socket above.
    # mbedTLS reads a handshake flight or a record in many socket reads, each
    # bounded only by the socket's timeout: a peer sending a byte just within
    # it could hold one TLS call for hours. Each read below TLS first checks a
    # total limit, restarted (t0) before the handshake and before every TLS
    # read, so one TLS call takes at most ``timeout`` in all, as with CPython's
    # ssl module. Errors go back to mbedTLS as negative errno values: an
    # exception must not unwind through it. ``expired`` tells that the error
    # mbedTLS then reports was this limit or the socket's timeout (which the
    # unix port's recv reports as EAGAIN).
    ms = None
    expired = False

    def __init__(self, sock, timeout=None):
        if timeout is None:  # above TLS
            self.sock = sock
            self.recv = getattr(sock, "recv", None)
            self.send = getattr(sock, "send", None) or sock.write
            self.close = sock.close
        else:  # below TLS
            self.raw = sock
            self.ms = int(timeout * 1000)
            self.t0 = time.ticks_ms()

    def recv_into(self, mv):
        if self.ms is not None:
            self.t0 = time.ticks_ms()
            self.expired = False
        try:
            data = self.recv(min(len(mv), 512)) if self.recv else self.sock.read(1) or b""
        except OSError:
            if self.expired:
                raise OSError(110)  # ETIMEDOUT, whatever mbedTLS made of it
            raise
        n = len(data)
        mv[0:n] = data
        return n

    def readinto(self, buf):
        try:
            if time.ticks_diff(time.ticks_ms(), self.t0) > self.ms:
                raise OSError(110)  # ETIMEDOUT
            data = self.raw.recv(min(len(buf), 512))
        except OSError as e:
            if _code(e) in _TIMEOUTS:
                self.expired = True
                return -110
            return -(_code(e) or 5)
        n = len(data)
        buf[0:n] = data
        return n

    def write(self, buf):
        try:
            return self.raw.send(buf)
        except OSError as e:
            return -(_code(e) or 5)

    def ioctl(self, req, arg):
        if req == 4:  # MP_STREAM_CLOSE, when the TLS socket is closed
            self.raw.close()
        return 0


# ---------------------------------------------------------------- TLS


def check_trust(trust, bootstrap=False, system_trust=False, cert=None, key=None):
    """Refuse, before any network activity, a connection that could not be
    verified or a client certificate without its key."""
    if not (bootstrap or trust or system_trust):
        raise _error(TlsError, _NO_ANCHOR)
    if system_trust and MICROPYTHON:
        raise _error(TlsError, _NO_STORE)
    if (cert is None) != (key is None):
        raise _error(TlsError, _CERT_KEY)


def tls_wrap(sock, host, trust=(), cert=None, key=None, bootstrap=False, tls12=False,
             system_trust=False, timeout=None):
    """Wrap a connected socket in TLS and handshake.

    Returns ``(tls_socket, chain)``: ``chain`` is the list of server
    certificate DER captured on a bootstrap connection, the certificate that
    did the handshake first, else None. The client key is DER or PEM bytes,
    or an object with ``to_der()`` (a signer without exportable key cannot
    serve TLS). On MicroPython, whose mbedTLS matches an IP address host as
    text (a dNSName "127.0.0.1", a CN, "*.0.0.1"), the server certificate of
    a verified connection to an IP address must carry it as an iPAddress
    entry, checked here before any byte is sent. ``timeout`` (the socket's)
    bounds the handshake and each later read as a whole: CPython's ssl module
    does so itself; on MicroPython the raw socket is wrapped for it.
    """
    check_trust(trust, bootstrap, system_trust, cert, key)
    if key is not None and (not isinstance(key, bytes) or key[:11] == b"-----BEGIN "):
        from tinyest import runtime_rare

        key = runtime_rare.client_key(key)
    if not MICROPYTHON:
        from tinyest import runtime_cpython

        return runtime_cpython.tls_wrap(sock, host, trust, cert, key, bootstrap, tls12, system_trust)
    chain = [] if bootstrap else None
    ip = None
    if not bootstrap and (":" in host or not host.strip("0123456789.")):
        from tinyest import hostname  # only for what may be an address literal

        ip = hostname.ip_octets(host)
        if ip is not None:
            chain = []
    ctx = _tls.SSLContext(_tls.PROTOCOL_TLS_CLIENT)
    if chain is not None:  # a bootstrap connection, or an IP address host
        from tinyest import runtime_rare

        ctx.verify_callback = runtime_rare.recorder(chain, bootstrap)
    # Provisional connection: verification runs and its verdict is ignored,
    # but every certificate of the path is recorded.
    ctx.verify_mode = _tls.CERT_OPTIONAL if bootstrap else _tls.CERT_REQUIRED
    try:
        for ta in () if bootstrap else trust:
            ctx.load_verify_locations(bytes(ta))
    except (ValueError, OSError) as e:
        raise _error(TlsError, _ANCHOR_REFUSED, e)
    if cert is not None:
        try:
            ctx.load_cert_chain(bytes(cert), bytes(key))
        except (ValueError, OSError) as e:
            raise _error(TlsError, _CERT_REFUSED, e)
    r = None
    if timeout is not None and _Base is not object:
        r = sock = _Recv(sock, timeout)
    try:
        s = ctx.wrap_socket(sock, server_hostname=host)
    except Exception as e:
        if r is not None and r.expired:
            e = OSError(110)  # ETIMEDOUT, whatever mbedTLS made of it
        raise net_error(e, "handshake")
    if ip is not None:
        from tinyest import runtime_rare

        runtime_rare.check_ip(s, chain, host)
        chain = None
    if r is None:
        return _Recv(s), chain
    r.__init__(s)  # the same object serves above TLS too
    return r, chain


# channel_binding(s), tls-unique of an open TLS 1.2 connection (RFC 5929,
# RFC 7030 3.5), is tinyest.runtime_rare's, loaded on first use
__getattr__ = lazy("runtime_rare", ("channel_binding",))


def gc_every(n):
    """Let the collector run every ``n`` bytes allocated (MicroPython's
    ``gc.threshold``; -1: only when memory runs out); returns the setting it
    replaced. A no-op returning None elsewhere or for ``n`` None."""
    import gc

    th = getattr(gc, "threshold", None)
    if th is None or n is None:
        return None
    was = th()
    th(n)
    return was
