"""An EST server on 127.0.0.1 that misbehaves on purpose, for the robustness tests.

``MisPki`` makes a throw-away PKI with `cryptography`: a CA, a second CA the
device does not trust, server certificates (good, expired, not yet valid, for
another host name), a device key and certificate from the CA, and issues
certificates for a CSR the way a real or a broken server would.

``Misbehaving(pki, behaviour)`` listens on a free port of 127.0.0.1 and runs
``BEHAVIOURS[behaviour](server, raw_socket)`` on its own thread for every TCP
connection. A behaviour decides everything: whether TLS is spoken at all, with
which certificate and protocol version, and what (if anything) is sent back.
The server records what it saw (``connections``, ``requests``, ``errors``) so
the tests can check, for example, that a refused redirect was never followed.

``seed_store(path, pki)`` writes the device's credential store (tinyest.store
format) as it stands before a renewal: the trust anchor, the device key and its
certificate. ``store_files(path)`` reads the store's files for a byte-wise
before/after comparison made on the host, independently of the client.

Only loopback traffic: every socket binds or connects to 127.0.0.1.
"""
import base64
import datetime
import ipaddress
import os
import socket
import ssl
import threading
import time
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from host_tools.devserver import build_cert, certs_only

HOST = "127.0.0.1"
PREFIX = "/.well-known/est/"
HOLD = 8.0  # seconds a behaviour keeps a connection open at most


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


# ---------------------------------------------------------------- PKI


class MisPki:
    """Keys and certificates for the misbehaving server and the device."""

    DEVICE_CN = "device-1"

    def __init__(self, directory):
        self.dir = directory
        key = lambda: ec.generate_private_key(ec.SECP256R1())  # noqa: E731
        self.ca_key = key()
        self.ca = build_cert(_name("Misbehave Test CA"), _name("Misbehave Test CA"),
                             self.ca_key.public_key(), self.ca_key, ca=True, lifetime=10 * 365 * 86400)
        self.other_ca_key = key()
        self.other_ca = build_cert(_name("Other CA"), _name("Other CA"), self.other_ca_key.public_key(),
                                   self.other_ca_key, ca=True, lifetime=10 * 365 * 86400)
        day = 86400
        loopback = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
        self.server_key = key()
        servers = {
            "good": (loopback, None, 30 * day),
            "expired": (loopback, _now() - datetime.timedelta(days=10), day),
            "future": (loopback, _now() + datetime.timedelta(days=10), 30 * day),
            "other_host": ([x509.DNSName("other.example")], None, 30 * day),
            # An IP address host named other than by an iPAddress entry.
            "ip_as_dns": ([x509.DNSName(HOST)], None, 30 * day),
            "cn_only": (None, None, 30 * day),
            "wildcard_ip": ([x509.DNSName("*.0.0.1")], None, 30 * day),
        }
        self.server_certs = {}
        for name, (sans, nb, life) in servers.items():
            self.server_certs[name] = build_cert(
                _name(HOST if name == "cn_only" else "est-" + name), self.ca.subject, self.server_key.public_key(), self.ca_key,
                sans=sans, lifetime=life, not_before=nb, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
        self.device_key = key()
        self.device = self._issue(self.device_key.public_key(), self.ca, self.ca_key)
        self._write("ca.pem", self.ca.public_bytes(serialization.Encoding.PEM))
        self._write("server_key.pem", self.server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        for name, cert in self.server_certs.items():
            self._write("server_%s.pem" % name, cert.public_bytes(serialization.Encoding.PEM))
        self._contexts = {}
        self._lock = threading.Lock()

    def _write(self, name, data):
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)

    def _path(self, name):
        return os.path.join(self.dir, name)

    @property
    def ca_der(self):
        return _der(self.ca)

    @property
    def device_der(self):
        return _der(self.device)

    @property
    def device_key_der(self):
        return self.device_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())

    def _issue(self, public_key, issuer, issuer_key, not_before=None, lifetime=30 * 86400):
        return build_cert(_name(self.DEVICE_CN), issuer.subject, public_key, issuer_key,
                          lifetime=lifetime, not_before=not_before,
                          eku=[ExtendedKeyUsageOID.CLIENT_AUTH])

    def issue(self, csr_der, how="good"):
        """DER of a certs-only PKCS#7 answering the CSR: "good" (our CA, the
        CSR's key), "other_key" (a fresh key), "other_ca" (the CSR's key, from
        a CA the device does not trust, that CA included), "expired" (the
        CSR's key, our CA, validity ended yesterday), "empty" (no certificate)."""
        csr = x509.load_der_x509_csr(csr_der)
        pub = csr.public_key()
        if how == "good":
            certs = [self._issue(pub, self.ca, self.ca_key)]
        elif how == "other_key":
            certs = [self._issue(ec.generate_private_key(ec.SECP256R1()).public_key(), self.ca, self.ca_key)]
        elif how == "other_ca":
            certs = [self.other_ca, self._issue(pub, self.other_ca, self.other_ca_key)]
        elif how == "expired":
            nb = _now() - datetime.timedelta(days=3)
            certs = [self._issue(pub, self.ca, self.ca_key, not_before=nb, lifetime=86400)]
        elif how == "empty":
            certs = []
        else:
            raise ValueError(how)
        return certs_only(certs)

    def context(self, cert="good", tls10=False, tls12=False):
        """A server SSLContext presenting one of the server certificates; it
        asks for (and checks) a client certificate without requiring one."""
        with self._lock:
            key = (cert, tls10, tls12)
            if key in self._contexts:
                return self._contexts[key]
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self._path("server_%s.pem" % cert), self._path("server_key.pem"))
            ctx.verify_mode = ssl.CERT_OPTIONAL
            ctx.load_verify_locations(cafile=self._path("ca.pem"))
            if tls10:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    ctx.minimum_version = ssl.TLSVersion.TLSv1
                    ctx.maximum_version = ssl.TLSVersion.TLSv1
                # OpenSSL 3 refuses TLS 1.0 at its default security level.
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            if tls12:
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            self._contexts[key] = ctx
            return ctx


# ---------------------------------------------------------------- store


def seed_store(path, pki):
    """The device's store before the renewal: trust anchor, key, certificate."""
    from tinyest.store import Store

    st = Store(str(path))
    c = st.load()
    c.config = {"host": HOST}
    c.trust = [pki.ca_der]
    c.key_der = pki.device_key_der
    c.chain = [pki.device_der]
    st.commit(c)
    return st


def store_files(path):
    """{file name: bytes} of a store directory."""
    out = {}
    for name in sorted(os.listdir(str(path))):
        with open(os.path.join(str(path), name), "rb") as f:
            out[name] = f.read()
    return out


# ---------------------------------------------------------------- HTTP pieces


def response(status, body=b"", ctype=None, framing="length", extra=(), length=None):
    """Bytes of an HTTP/1.1 response. ``length`` overrides Content-Length."""
    reason = {200: "OK", 202: "Accepted", 307: "Temporary Redirect"}.get(status, "Status")
    head = ["HTTP/1.1 %d %s" % (status, reason)]
    if ctype:
        head.append("Content-Type: " + ctype)
    head += list(extra)
    if framing == "length":
        head.append("Content-Length: %d" % (len(body) if length is None else length))
    elif framing == "chunked":
        head.append("Transfer-Encoding: chunked")
    head.append("Connection: close" if framing == "close" else "Connection: keep-alive")
    out = ("\r\n".join(head) + "\r\n\r\n").encode()
    if framing == "chunked":
        for i in range(0, len(body), 200):
            part = body[i:i + 200]
            out += b"%x\r\n%s\r\n" % (len(part), part)
        return out + b"0\r\n\r\n"
    return out + body


def b64(der):
    text = base64.b64encode(der)
    return b"".join(text[i:i + 64] + b"\n" for i in range(0, len(text), 64))


P7 = "application/pkcs7-mime; smime-type=certs-only"


class Request:
    def __init__(self, method, path, headers, body, client_cert):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.client_cert = client_cert

    @property
    def operation(self):
        return self.path[len(PREFIX):] if self.path.startswith(PREFIX) else self.path

    def __repr__(self):
        return "<%s %s>" % (self.method, self.path)


# ---------------------------------------------------------------- server


class Misbehaving:
    """A TCP listener on 127.0.0.1 handing every connection to a behaviour."""

    def __init__(self, pki, behaviour, **options):
        self.pki = pki
        self.behaviour = BEHAVIOURS[behaviour]
        self.name = behaviour
        self.options = options
        self.connections = 0
        self.requests = []
        self.errors = []
        self._socks = []
        self._lock = threading.Lock()
        self._local = threading.local()
        self.stopped = threading.Event()
        self.backend = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._socks.append(raw)
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def _one(self, raw):
        raw.settimeout(5)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            self.behaviour(self, raw)
        except Exception as e:  # noqa: BLE001 - recorded, never printed
            with self._lock:
                self.errors.append("%s: %r" % (self.name, e))
        finally:
            for s in [raw] + getattr(self._local, "tls", []):
                try:
                    s.close()
                except OSError:
                    pass
            self._local.tls = []

    def close(self):
        self.stopped.set()
        try:
            self.sock.close()
        except OSError:
            pass
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
        if self.backend is not None:
            self.backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- helpers for behaviours

    def hold(self, seconds=HOLD):
        """Keep the connection (and its thread) alive without sending anything."""
        self.stopped.wait(seconds)

    def tls(self, raw, cert="good", tls10=False, tls12=False):
        conn = self.pki.context(cert, tls10, tls12).wrap_socket(raw, server_side=True)
        self._local.tls = getattr(self._local, "tls", []) + [conn]
        with self._lock:
            self._socks.append(conn)
        return conn

    def read_request(self, conn):
        """One request (Request) or None when the peer closed first."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return None
            data += chunk
            if len(data) > 65536:
                raise ValueError("request head too long")
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = conn.recv(4096)
            if not chunk:
                break
            rest += chunk
        peer = conn.getpeercert(binary_form=True) if isinstance(conn, ssl.SSLSocket) else None
        req = Request(method, path, headers, rest, peer)
        with self._lock:
            self.requests.append(req)
        return req

    def honest(self, req, how="good"):
        """(status, body, content type) an honest EST server would send, with
        ``how`` choosing the certificates of an enrollment answer."""
        op = req.operation
        if op == "cacerts":
            return 200, b64(certs_only([self.pki.ca])), "application/pkcs7-mime"
        if op in ("simplereenroll", "simpleenroll") and req.method == "POST":
            csr = base64.b64decode(b"".join(req.body.split()))
            return 200, b64(self.pki.issue(csr, how)), P7
        return 404, b"not found\n", "text/plain"

    def close_notify_then_hold(self, conn):
        """Send close_notify, do not wait for the peer's, keep TCP open."""
        conn.settimeout(0.2)
        try:
            conn.unwrap()
        except (OSError, ssl.SSLError, ValueError):
            pass
        self.hold()


def _abort(sock):
    """Close with a TCP reset (SO_LINGER 0)."""
    import struct

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# ---------------------------------------------------------------- behaviours
# Each takes (server, raw TCP socket). "Honest" parts answer /cacerts and the
# enrollment operations as a real server would; the misbehaviour is applied to
# the enrollment answer unless stated otherwise.


def b_honest(srv, raw, cert="good", tls10=False, tls12=False):
    conn = srv.tls(raw, cert, tls10, tls12)
    for _ in range(8):
        req = srv.read_request(conn)
        if req is None:
            return
        status, body, ctype = srv.honest(req)
        conn.sendall(response(status, body, ctype))
        if req.headers.get("connection", "").lower() == "close":
            return


def b_silent(srv, raw):
    srv.hold()  # TCP accepted; not a byte of TLS


def b_tls_silent(srv, raw):
    conn = srv.tls(raw)
    srv.read_request(conn)
    srv.hold()


def _each_request(srv, raw, answer, how="good"):
    """Serve requests: /cacerts honestly, anything else through ``answer``
    (conn, request, (status, body, ctype)) -> True to go on with the connection."""
    conn = srv.tls(raw)
    for _ in range(8):
        req = srv.read_request(conn)
        if req is None:
            return
        honest = srv.honest(req, how)
        if req.operation == "cacerts":
            conn.sendall(response(*honest))
            continue
        if not answer(conn, req, honest):
            return


def b_trickle_response(srv, raw):
    def answer(conn, req, honest):
        for i, b in enumerate(response(*honest)):
            if srv.stopped.wait(1.0 if i else 0):
                return False
            conn.sendall(bytes([b]))  # one byte per TLS record, one per second
        return False
    _each_request(srv, raw, answer)


def _relay(srv, raw, trickle_record):
    # A relay in front of an honest TLS 1.2 server that passes the client's
    # bytes at once and the server's TLS records either at once or, when
    # ``trickle_record(type)`` says so, one TCP byte per second.
    with srv._lock:
        if srv.backend is None:
            srv.backend = Misbehaving(srv.pki, "honest_tls12")
    up = socket.create_connection((HOST, srv.backend.port), timeout=5)

    def upstream():
        try:
            while True:
                d = raw.recv(4096)
                if not d:
                    break
                up.sendall(d)
        except OSError:
            pass

    def read(n):
        out = b""
        while len(out) < n:
            d = up.recv(n - len(out))
            if not d:
                return None
            out += d
        return out

    threading.Thread(target=upstream, daemon=True).start()
    try:
        while not srv.stopped.is_set():
            head = read(5)
            body = head and read(int.from_bytes(head[3:5], "big"))
            if body is None:
                break
            if not trickle_record(head[0]):
                raw.sendall(head + body)
                continue
            for b in head + body:
                raw.sendall(bytes([b]))
                if srv.stopped.wait(1.0):
                    return
    finally:
        up.close()


def b_trickle_tcp_handshake(srv, raw):
    _relay(srv, raw, lambda record_type: True)  # from the first byte of the handshake


def b_trickle_tcp_response(srv, raw):
    _relay(srv, raw, lambda record_type: record_type == 23)  # application data only


def b_close_mid_header(srv, raw):
    def answer(conn, req, honest):
        conn.sendall(response(*honest)[:30])  # "HTTP/1.1 200 OK\r\nContent-Typ"
        time.sleep(0.05)
        return False  # TCP close without close_notify, as a crashing server
    _each_request(srv, raw, answer)


def b_close_mid_body(srv, raw):
    def answer(conn, req, honest):
        data = response(*honest)
        conn.sendall(data[:len(data) - len(honest[1]) // 2])
        time.sleep(0.05)
        return False
    _each_request(srv, raw, answer)


def b_reset_mid_body(srv, raw):
    def answer(conn, req, honest):
        data = response(*honest)
        conn.sendall(data[:len(data) - len(honest[1]) // 2])
        time.sleep(0.05)
        _abort(conn)
        return False
    _each_request(srv, raw, answer)


def b_close_mid_chunk(srv, raw):
    def answer(conn, req, honest):
        data = response(*honest, framing="chunked")
        cut = data.index(b"\r\n\r\n") + 4 + 4 + 100  # head, "c8\r\n", 100 of 200 chunk bytes
        conn.sendall(data[:cut])
        time.sleep(0.05)
        return False
    _each_request(srv, raw, answer)


def b_length_larger(srv, raw):
    def answer(conn, req, honest):
        status, body, ctype = honest
        conn.sendall(response(status, body, ctype, length=len(body) + 500))
        srv.close_notify_then_hold(conn)  # a clean TLS close, then TCP kept open
        return False
    _each_request(srv, raw, answer)


def b_length_smaller(srv, raw):
    def answer(conn, req, honest):
        status, body, ctype = honest
        conn.sendall(response(status, body, ctype, length=len(body) - 200))
        srv.hold()  # the extra bytes wait in the socket; the client must not
        return False
    _each_request(srv, raw, answer)


def _close_notify(framing):
    def behaviour(srv, raw):
        def answer(conn, req, honest):
            conn.sendall(response(*honest, framing=framing))
            srv.close_notify_then_hold(conn)
            return False
        _each_request(srv, raw, answer)
    return behaviour


def b_chunked_endless(srv, raw):
    def answer(conn, req, honest):
        conn.sendall(response(200, b"", P7, framing="chunked")[:-5])  # no last chunk
        block = b"%x\r\n%s\r\n" % (4096, b"MIIB" * 1024)
        for _ in range(1 << 16):  # 256 MiB at most
            if srv.stopped.is_set():
                break
            conn.sendall(block)
        return False
    _each_request(srv, raw, answer)


def _pending(retry_after):
    def behaviour(srv, raw):
        def answer(conn, req, honest):
            conn.sendall(response(202, b"request pending\n", "text/plain",
                                  extra=["Retry-After: " + retry_after]))
            return True
        _each_request(srv, raw, answer)
    return behaviour


def b_redirect_loop(srv, raw):
    def answer(conn, req, honest):
        target = PREFIX + ("a" if req.operation != "a" else "simplereenroll")
        conn.sendall(response(307, b"", extra=["Location: " + target]))
        return True
    _each_request(srv, raw, answer)


def _redirect_to(location_fn):
    def behaviour(srv, raw):
        def answer(conn, req, honest):
            conn.sendall(response(307, b"", extra=["Location: " + location_fn(srv)]))
            return True
        _each_request(srv, raw, answer)
    return behaviour


def _decoy(srv):
    with srv._lock:
        if srv.backend is None:
            srv.backend = Misbehaving(srv.pki, "honest")
    return srv.backend


def b_wrong_content_type(srv, raw):
    page = (b"<html><head><title>Sign in</title></head>"
            b"<body>Please accept the terms of use.</body></html>\n")

    def answer(conn, req, honest):
        conn.sendall(response(200, page, "text/html; charset=utf-8"))
        return True
    _each_request(srv, raw, answer)


def b_mislabelled(srv, raw):
    def answer(conn, req, honest):
        conn.sendall(response(200, honest[1], "text/plain"))
        return True
    _each_request(srv, raw, answer)


def _issuing(how):
    def behaviour(srv, raw):
        def answer(conn, req, honest):
            conn.sendall(response(*honest))
            return True
        _each_request(srv, raw, answer, how)
    return behaviour


BEHAVIOURS = {
    "honest": b_honest,
    "honest_tls12": lambda srv, raw: b_honest(srv, raw, tls12=True),
    "silent": b_silent,
    "tls_silent": b_tls_silent,
    "trickle_response": b_trickle_response,
    "trickle_tcp_handshake": b_trickle_tcp_handshake,
    "trickle_tcp_response": b_trickle_tcp_response,
    "close_mid_header": b_close_mid_header,
    "close_mid_body": b_close_mid_body,
    "reset_mid_body": b_reset_mid_body,
    "close_mid_chunk": b_close_mid_chunk,
    "length_larger": b_length_larger,
    "length_smaller": b_length_smaller,
    "close_notify_length": _close_notify("length"),
    "close_notify_chunked": _close_notify("chunked"),
    "close_notify_close": _close_notify("close"),
    "chunked_endless": b_chunked_endless,
    "pending_forever": _pending("1"),
    "pending_no_delay": _pending("0"),
    "redirect_loop": b_redirect_loop,
    "redirect_other_port": _redirect_to(
        lambda s: "https://%s:%d%ssimplereenroll" % (HOST, _decoy(s).port, PREFIX)),
    "redirect_plain_http": _redirect_to(
        lambda s: "http://%s:%d%ssimplereenroll" % (HOST, s.port, PREFIX)),
    "wrong_content_type": b_wrong_content_type,
    "mislabelled": b_mislabelled,
    "p7_empty": _issuing("empty"),
    "p7_other_key": _issuing("other_key"),
    "p7_other_ca": _issuing("other_ca"),
    "p7_expired": _issuing("expired"),
    "server_expired": lambda srv, raw: b_honest(srv, raw, "expired"),
    "server_not_yet_valid": lambda srv, raw: b_honest(srv, raw, "future"),
    "server_other_host": lambda srv, raw: b_honest(srv, raw, "other_host"),
    "server_ip_as_dns": lambda srv, raw: b_honest(srv, raw, "ip_as_dns"),
    "server_cn_only": lambda srv, raw: b_honest(srv, raw, "cn_only"),
    "server_wildcard_ip": lambda srv, raw: b_honest(srv, raw, "wildcard_ip"),
    "tls10_only": lambda srv, raw: b_honest(srv, raw, tls10=True),
}
