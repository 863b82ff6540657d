"""Small TLS test servers and a throw-away PKI made with `cryptography`, for
the transport and client tests (host side only)."""
import datetime
import ipaddress
import os
import socket
import ssl
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


# ---------------------------------------------------------------- PKI


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(cn, key, issuer_cn, issuer_key, ca=False, sans=None, eku=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(issuer_cn))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                            critical=True)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def der_bytes(c):
    return c.public_bytes(serialization.Encoding.DER)


class Pki:
    def __init__(self, d):
        self.dir = d
        k = lambda: ec.generate_private_key(ec.SECP256R1())  # noqa: E731
        self.ca_key = k()
        self.ca = make_cert("Transport Test CA", self.ca_key, "Transport Test CA", self.ca_key, ca=True)
        self.other_key = k()
        self.other_ca = make_cert("Other CA", self.other_key, "Other CA", self.other_key, ca=True)
        self.srv_key = k()
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]
        self.srv = make_cert("server", self.srv_key, "Transport Test CA", self.ca_key, sans=sans)
        self.bad_key = k()
        self.bad = make_cert("elsewhere", self.bad_key, "Transport Test CA", self.ca_key,
                         sans=[x509.DNSName("other.example")])
        self.cli_key = k()
        self.cli = make_cert("device-1", self.cli_key, "Transport Test CA", self.ca_key,
                         eku=[x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH])
        self.paths = {}
        for name, obj in (("ca", self.ca), ("other_ca", self.other_ca), ("srv", self.srv),
                          ("cli", self.cli)):
            self._write(name + ".der", der_bytes(obj))
            self._write(name + ".pem", obj.public_bytes(serialization.Encoding.PEM))
        for name, key in (("srv_key", self.srv_key), ("bad_key", self.bad_key),
                          ("cli_key", self.cli_key)):
            self._write(name + ".pem", key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
        self._write("cli_key.der", self.cli_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
        self._write("bad.pem", self.bad.public_bytes(serialization.Encoding.PEM))

    def _write(self, name, data):
        p = os.path.join(self.dir, name)
        with open(p, "wb") as f:
            f.write(data)
        self.paths[name] = p

    def p(self, name):
        return self.paths[name]

    def server_context(self, cert="srv", key="srv_key", require_client=False, tls12=False,
                       alpn=None, chain=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if chain:
            with open(self.p(cert + ".pem"), "rb") as a, open(self.p("ca.pem"), "rb") as b:
                self._write("chain.pem", a.read() + b.read())
            ctx.load_cert_chain(self.p("chain.pem"), self.p(key + ".pem"))
        else:
            ctx.load_cert_chain(self.p(cert + ".pem"), self.p(key + ".pem"))
        if require_client:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=self.p("ca.pem"))
        if tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        if alpn:
            ctx.set_alpn_protocols(alpn)
        return ctx


# ---------------------------------------------------------------- servers


class Server:
    """A TLS (or plain) server on 127.0.0.1 running ``handler(conn, server)``
    for each connection on its own thread; records what it saw."""

    def __init__(self, ctx, handler, family=socket.AF_INET, host="127.0.0.1"):
        self.ctx = ctx
        self.handler = handler
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.errors = []
        self.open = []
        self.stop_flag = False
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop_flag:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def _one(self, raw):
        self.open.append(raw)
        raw.settimeout(10)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True) if self.ctx else raw
            self.handler(conn, self)
        except Exception as e:  # noqa: BLE001 - recorded for the assertions
            self.errors.append(repr(e))
        finally:
            try:
                raw.close()
            except OSError:
                pass

    def close(self):
        self.stop_flag = True
        self.sock.close()
        for s in self.open:
            try:
                s.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        rest += conn.recv(4096)
    return lines[0].decode(), headers, rest
