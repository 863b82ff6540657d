"""The DevServer: configuration, certificates, the TLS context, the listening
thread and the connection loop. What it answers is decided in ``est`` (operations),
``auth`` (who may enroll) and ``framing`` (HTTP on the wire)."""

import hashlib
import ipaddress
import os
import socket
import socketserver
import ssl
import tempfile
import threading
import traceback

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from host_tools.devserver import clock, habits as _habits
from host_tools.devserver.auth import Accounts
from host_tools.devserver.ca import Ca, cert_der, dev_name, new_key, pem_key, pkcs8
from host_tools.devserver.est import Est
from host_tools.devserver.framing import HttpError, Response, read_request, send

_FACTORY = object()
_NO_CHECK_TIME = 0x200000   # OpenSSL X509_V_FLAG_NO_CHECK_TIME; the ssl module has no name for it


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    owner = None

    def handle_error(self, request, client_address):
        # record, never print: the owner's ``errors`` list is the report
        self.owner.errors.append(traceback.format_exc())


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.owner._connection(self.request)


class DevServer:
    """An RFC 7030 EST server for development and tests (see the module docstring)."""

    def __init__(self, host="127.0.0.1", port=0, workdir=None, key_type="ec", intermediate=False,
                 labels=(), server_names=None, users=(), io_timeout=10.0, **habits):
        self.host = host
        self._want_port = port
        self.workdir = workdir
        self.io_timeout = io_timeout
        self.habits = dict(_habits.HABITS)
        self.habits["redirects"] = {}
        self.set_habits(**habits)
        self._lock = threading.RLock()
        self.accounts = Accounts(self.habits)
        self._cas = {None: Ca("tinyest dev", key_type, intermediate, self._ca_dir(None))}
        if isinstance(labels, dict):
            for name, opts in labels.items():
                self.add_label(name, **(opts or {}))
        else:
            for name in labels:
                self.add_label(name)
        self._factory = None
        self._server_names = server_names
        for u, p in users:
            self.add_user(u, p)
        self._est = Est(self)
        self._ctx = None
        self._tcp = None
        self._thread = None
        self.port = None
        self.requests = []
        self.tls_errors = []
        self.errors = []
        self.issued = []
        self._make_server_cert()

    # -- configuration

    def set_habits(self, **kw):
        """Change habits (see the module docstring); takes effect on the next
        connection. Unknown names and values raise ValueError."""
        for k, v in kw.items():
            self.habits[k] = _habits.check(k, v)
            if k in _habits.TLS_HABITS:
                self._ctx = None

    def add_label(self, name, key_type="ec", intermediate=False):
        """Serve ``/.well-known/est/NAME/...`` from a CA of its own."""
        if not name or "/" in name:
            raise ValueError("bad label %r" % name)
        self._cas[name] = Ca("tinyest dev " + name, key_type, intermediate, self._ca_dir(name))
        self._ctx = None

    def add_user(self, name, password, one_time=False):
        """Accept ``name``/``password`` by Basic or Digest; a one-time user is
        removed when a certificate is issued to it."""
        self.accounts.add_user(name, password, one_time)

    def add_token(self, token):
        """Accept ``Authorization: Bearer TOKEN`` (when "bearer" is in the auth habit)."""
        self.accounts.add_token(token)

    def remove_user(self, name):
        self.accounts.remove_user(name)

    def users(self):
        return self.accounts.users()

    def clear_log(self):
        with self._lock:
            del self.requests[:]
            del self.tls_errors[:]
            del self.errors[:]

    def _ca_dir(self, label):
        if not self.workdir:
            return None
        if label is None:
            return os.path.join(self.workdir, "ca")
        if label is _FACTORY:
            return os.path.join(self.workdir, "factory-ca")
        return os.path.join(self.workdir, "ca-" + label)

    # -- certificates

    @property
    def ca(self):
        """The default label's Ca object."""
        return self._cas[None]

    def ca_for(self, label=None):
        return self._cas[label]

    def label_ca(self, label):
        """The Ca serving ``label`` (None: the default), or None if there is no such label."""
        return self._cas.get(label)

    @property
    def ca_der(self):
        return cert_der(self.ca.root)

    @property
    def ca_fingerprint(self):
        return hashlib.sha256(self.ca_der).digest()

    @property
    def ca_fingerprint_hex(self):
        return self.ca_fingerprint.hex()

    def cacerts_der(self, label=None):
        return [cert_der(c) for c in self._cas[label].cacerts()]

    @property
    def server_cert_der(self):
        return cert_der(self._server_cert)

    @property
    def factory_ca(self):
        """The CA that issues IDevIDs (see make_idevid); created on first use."""
        if self._factory is None:
            self._factory = Ca("tinyest dev factory", "ec", False, self._ca_dir(_FACTORY))
            self._ctx = None
        return self._factory

    def make_idevid(self, cn, serial_number=None, key_type="ec"):
        """A factory certificate and its key: (cert_der, pkcs8_der)."""
        return self.make_cert(cn, factory=True, key_type=key_type, serial_number=serial_number)

    def make_cert(self, cn, dns=(), label=None, key_type="ec", factory=False, serial_number=None,
                  lifetime=None):
        """A client certificate from a label's CA (or the factory CA) and its
        key, as if enrolled: (cert_der, pkcs8_der)."""
        ca = self.factory_ca if factory else self._cas[label]
        key = new_key(key_type)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if serial_number:
            attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number))
        sans = [x509.DNSName(d) for d in dns] or None
        cert = ca.issue(x509.Name(attrs), key.public_key(), sans,
                        lifetime or self.habits["cert_lifetime"], eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
        return cert_der(cert), pkcs8(key)

    def rollover(self, label=None):
        """CA key rollover (RFC 7030 4.1.3): a new root (and issuing CA) signs
        from now on; /cacerts returns the new root, OldWithNew and NewWithOld.
        For the default label the server certificate is reissued and the TLS
        chain carries NewWithOld so clients trusting the old root still connect."""
        with self._lock:
            self._cas[label].rollover()
            if label is None:
                self._make_server_cert()
            self._ctx = None

    def _make_server_cert(self):
        ca = self.ca
        names = self._server_names
        if names is None:
            names = ["localhost", "127.0.0.1", "::1"]
            if self.host not in names and self.host not in ("0.0.0.0", "::", ""):
                names.append(self.host)
        sans = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        self._server_key = new_key("rsa" if ca.key_type == "rsa" else "ec")
        self._server_cert = ca.issue(dev_name(names[0] if names else "tinyest dev server"),
                                     self._server_key.public_key(), sans, 365 * 86400,
                                     eku=[ExtendedKeyUsageOID.SERVER_AUTH])

    def _context(self):
        with self._lock:
            if self._ctx is not None:
                return self._ctx
            h = self.habits
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if h["tls12_only"]:
                ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ca = self.ca
            chain = [self._server_cert] + ([ca.issuing] if ca.intermediate else [])
            if ca.links:
                chain.append(ca.links[1])
            pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
            tmp = tempfile.mkdtemp(prefix="tinyest-srv-")
            try:
                cf, kf = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
                with open(cf, "wb") as f:
                    f.write(pem)
                fd = os.open(kf, os.O_WRONLY | os.O_CREAT, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(pem_key(self._server_key))
                ctx.load_cert_chain(cf, kf)
            finally:
                for f in os.listdir(tmp):
                    os.unlink(os.path.join(tmp, f))
                os.rmdir(tmp)
            if h["client_auth"] != "none":
                ctx.verify_mode = ssl.CERT_OPTIONAL
                cas = [self.factory_ca] + list(self._cas.values())
                store = b"".join(c.public_bytes(serialization.Encoding.PEM)
                                 for a in cas for c in a.all_certs())
                ctx.load_verify_locations(cadata=store.decode())
            if not clock.is_real():
                ctx.verify_flags |= _NO_CHECK_TIME      # the device checks dates on its own clock
            if h["alpn"]:
                ctx.set_alpn_protocols(list(h["alpn"]))
            self._ctx = ctx
            return ctx

    # -- lifecycle

    def start(self):
        """Listen and serve in a background thread; returns self."""
        if self._tcp is not None:
            return self
        self._context()
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        tcp_cls = type("_Tcp", (_TcpServer,), {"address_family": fam})
        self._tcp = tcp_cls((self.host, self._want_port), _Handler)
        self._tcp.owner = self
        self.port = self._tcp.server_address[1]
        self._thread = threading.Thread(target=self._tcp.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="tinyest-devserver", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        """Start and block until stop() or KeyboardInterrupt."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.2)
        finally:
            self.stop()

    def stop(self):
        if self._tcp is None:
            return
        self._tcp.shutdown()
        self._tcp.server_close()
        self._thread.join(5)
        self._tcp = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "https://%s:%d/.well-known/est" % (host, self.port)

    def url_for(self, operation, label=None):
        return self.url + ("/" + label if label else "") + "/" + operation

    # -- connection handling

    def _connection(self, raw):
        raw.settimeout(self.io_timeout)
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            conn = self._context().wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self._lock:
                self.tls_errors.append(str(e))
            raw.close()
            return
        info = {"version": conn.version(), "alpn": conn.selected_alpn_protocol()}
        der = conn.getpeercert(binary_form=True)
        if der:
            info["cert"] = der
            try:
                info["subject"] = x509.load_der_x509_certificate(der).subject.rfc4514_string()
            except ValueError:
                info["subject"] = "?"
        try:
            info["tls_unique"] = conn.get_channel_binding("tls-unique")
        except (ValueError, NotImplementedError):
            info["tls_unique"] = None
        rfile = conn.makefile("rb")
        graceful = False
        try:
            while True:
                try:
                    req = read_request(rfile, info)
                except HttpError as e:
                    send(self.habits, conn, None, Response(e.status, (e.text + "\n").encode(),
                                                     "text/plain", close=True))
                    break
                if req is None:
                    break
                try:
                    resp = self._est.dispatch(req, info)
                except Exception:       # a server bug: answer 500 and record it
                    with self._lock:
                        self.errors.append(traceback.format_exc())
                    resp = Response(500, b"internal error\n", "text/plain", close=True)
                req.status = resp.status
                with self._lock:
                    self.requests.append(req)
                keep, graceful = send(self.habits, conn, req, resp)
                if not keep:
                    break
        except (OSError, ssl.SSLError):
            pass
        finally:
            rfile.close()
            if graceful:
                try:
                    conn.settimeout(1.0)
                    conn.unwrap().close()
                except (OSError, ssl.SSLError, ValueError):
                    pass
            conn.close()
