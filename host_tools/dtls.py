"""DTLS for the host side of EST over CoAP, with python-mbedtls (``pip install
'tinyest[coap]'``): the CPython provider of ``tinyest.dtls`` (``install()``), and
``Terminator``, a DTLS server that hands the datagrams of each session, in clear,
to a CoAP server on a loopback UDP port (the dev server and the tests put
aiocoap behind it) and tells it which client certificate each session showed.

CPython's ssl module has no DTLS; tinyest's core does not import third-party
modules, so the host registers this one.
"""
import select
import socket
import threading
from contextlib import suppress

from mbedtls import pk, tls
from mbedtls import x509 as mx509
from mbedtls.exceptions import TLSError as _MbedError

from tinyest import dtls as _dtls
from tinyest.errors import TlsError


def _key(der):
    for cls in (pk.ECC, pk.RSA):
        with suppress(Exception):
            return cls.from_DER(bytes(der))
    raise TlsError("DTLS client key not readable")


def client_wrap(sock, host, trust, cert=None, key=None, chain=None):
    """``tinyest.dtls.wrap`` on CPython: the handshake over the connected UDP
    socket ``sock`` (its timeout bounds it), verified against ``trust`` (DER)
    with the server name ``host``; with ``chain`` (a list) a provisional one,
    verifying nothing, that appends the server's certificate (DER) to ``chain``
    (python-mbedtls shows the peer's own certificate, not the rest of its chain)."""
    try:
        conf = tls.DTLSConfiguration(
            trust_store=tls.TrustStore([mx509.CRT.from_DER(bytes(t)) for t in trust]),
            validate_certificates=chain is None,
            certificate_chain=None if cert is None else ([mx509.CRT.from_DER(bytes(cert))], _key(key)))
    except TlsError:
        raise
    except Exception as e:
        raise TlsError("DTLS credentials refused: %s" % e)
    d = tls.ClientContext(conf).wrap_socket(sock, server_hostname=host)
    try:
        _retrying(d.do_handshake)
    except _MbedError as e:
        raise TlsError("DTLS handshake: %s" % e)
    except OSError as e:
        from tinyest import runtime

        raise runtime.net_error(e, "handshake")
    if chain is not None:
        peer = d._buffer.getpeercert(binary_form=True)
        if peer:
            chain.append(bytes(peer))
    return _Session(d)


def _retrying(fn, *a):
    # python-mbedtls reports a datagram it dropped (a duplicate, a stale record)
    # as WantRead even on a blocking socket: read on, until the socket's timeout
    while True:
        try:
            return fn(*a)
        except (tls.WantReadError, tls.WantWriteError):
            continue


class _Session:
    """A DTLS session as tinyest.dtls promises it: ``send``, ``recv`` (one
    datagram; the UDP socket's timeout bounds the wait), ``close``."""

    def __init__(self, d):
        self._d = d

    def send(self, data):
        return _retrying(self._d.send, data)

    def recv(self, n):
        return _retrying(self._d.recv, n)

    def close(self):
        with suppress(Exception):
            self._d.close()


def install():
    """Make ``tinyest.dtls.wrap`` work on CPython."""
    _dtls.provider = client_wrap


class Terminator:
    """A DTLS 1.2 server on 127.0.0.1 (``port``; 0 picks one) in front of a
    plain CoAP server at ``backend`` (host, port). Each DTLS session gets its own
    UDP socket towards the backend; ``peers[local port of that socket]`` is the
    client certificate (DER) the session showed, so the backend can tell who
    asks. ``client_ca``: the DER anchor a client certificate must chain to
    (then one is required); a single one, as python-mbedtls's server consults
    only the first certificate of its trust store. Each session runs in a
    thread of its own until it goes quiet for ``idle`` seconds."""

    def __init__(self, backend, cert, key, client_ca=(), port=0, idle=5.0):
        self.backend = backend
        self.peers = {}
        self.idle = idle
        kw = dict(certificate_chain=([mx509.CRT.from_DER(bytes(c)) for c in cert], _key(key)))
        if len(client_ca) > 1:
            raise ValueError("one client-certificate anchor only (python-mbedtls uses the first)")
        if client_ca:
            kw.update(validate_certificates=True,
                      trust_store=tls.TrustStore([mx509.CRT.from_DER(bytes(c)) for c in client_ca]))
        else:
            kw.update(validate_certificates=False)
        self._ctx = tls.ServerContext(tls.DTLSConfiguration(**kw))
        self._srv = self._ctx.wrap_socket(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", port))
        self.port = self._srv.getsockname()[1]
        self._run = True
        self.handshakes = 0
        self.errors = []
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while self._run:
            r, _, _ = select.select([self._srv], [], [], 0.1)
            if not r:
                continue
            try:
                conn, addr = self._srv.accept()
            except Exception as e:
                self.errors.append(e)
                continue
            threading.Thread(target=self._guarded, args=(conn, addr), daemon=True).start()

    def _guarded(self, conn, addr):
        try:
            self._session(conn, addr)
        except Exception as e:  # a failed handshake ends that session only
            self.errors.append(e)

    def _session(self, conn, addr):
        conn.settimeout(self.idle)  # a client that gives up mid-handshake ends the session
        conn.setcookieparam(addr[0].encode())
        with suppress(tls.HelloVerifyRequest):
            self._block(conn.do_handshake)
        first = conn
        conn, addr = first.accept()
        # python-mbedtls' accept leaves ``first`` a fresh socket bound to the
        # server's port; open, it would take the datagrams of the next clients
        first.close()
        conn.settimeout(self.idle)
        conn.setcookieparam(addr[0].encode())
        try:
            self._block(conn.do_handshake)
        except BaseException:
            with suppress(Exception):
                conn.close()
            raise
        self.handshakes += 1
        back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        back.connect(self.backend)
        local = back.getsockname()[1]
        peer = None
        with suppress(Exception):
            peer = conn._buffer.getpeercert(binary_form=True)
        self.peers[local] = peer
        bad = 0
        try:
            while self._run:
                r, _, _ = select.select([conn, back], [], [], self.idle)
                if not r:
                    return
                if conn in r:
                    try:
                        data = conn.recv(4096)
                    except (tls.WantReadError, tls.WantWriteError):
                        continue
                    except _MbedError:  # a repeated or stale record: dropped, as DTLS does
                        bad += 1
                        if bad > 64:
                            return
                        continue
                    if not data:
                        return
                    back.send(data)
                if back in r:
                    self._block(conn.send, back.recv(4096))
        finally:
            back.close()
            with suppress(Exception):
                conn.close()

    @staticmethod
    def _block(fn, *a):
        for _ in range(10000):
            with suppress(tls.WantReadError, tls.WantWriteError):
                return fn(*a)
        raise TlsError("DTLS peer stalled")

    def close(self):
        self._run = False
        self._thread.join(2)
        with suppress(Exception):
            self._srv.close()
