"""Development EST server (RFC 7030, RFC 8951) for demos and tests.

A real EST server over TLS (stdlib ``ssl``, one thread per connection, HTTP/1.1
with keep-alive) with its own certificate authorities (``cryptography``). It
binds to 127.0.0.1 by default and is meant for loopback use: keys are kept
unencrypted, in memory or in a work directory.

Python API
----------
::

    from host_tools.devserver import DevServer

    with DevServer() as srv:                    # or srv = DevServer(...); srv.start(); ...; srv.stop()
        srv.add_user("dev", "secret")           # Basic/Digest user
        srv.add_user("otp", "x1", one_time=True)   # removed after its first successful enrollment
        srv.add_token("t0k3n")                  # Bearer token (habit auth=("bearer",) or with others)
        srv.port, srv.host, srv.url             # url = "https://127.0.0.1:PORT/.well-known/est"
        srv.url_for("cacerts", label="iot")     # full URL of one operation
        srv.ca_der                              # trust anchor (root certificate, DER) of the default CA
        srv.ca_fingerprint                      # SHA-256 of ca_der (32 bytes); .ca_fingerprint_hex
        srv.cacerts_der(label=None)             # the certificates /cacerts returns, DER list
        srv.requests                            # list of Request records (see below), oldest first
        srv.tls_errors                          # list of handshake failure texts
        srv.errors                              # tracebacks of server faults (answered 500); expect []
        srv.issued                              # DER of every certificate issued over EST
        srv.set_habits(framing="chunked", b64_wrap=76, b64_eol="\\r\\n")
        srv.add_label("iot", key_type="rsa")    # a label served by its own CA
        srv.make_idevid("device-1")             # (cert_der, pkcs8_key_der) from the factory CA
        srv.make_cert("device-1", label=None)   # (cert_der, pkcs8_key_der) from a label's CA (an LDevID)
        srv.rollover(label=None)                # new root; /cacerts then has OldWithNew and NewWithOld
        srv.clear_log()

Constructor: ``DevServer(host="127.0.0.1", port=0, workdir=None, key_type="ec",
intermediate=False, labels=(), server_names=None, users=(), **habits)``.
``port=0`` picks a free port. ``workdir`` (a directory) keeps the CAs across
starts (PEM files, created on first start); without it everything lives in
memory. ``key_type`` is "ec" (P-256), "ec384" (P-384) or "rsa" (2048).
``intermediate=True`` puts an issuing CA below the root: /cacerts then returns
the issuing CA and the root, and the TLS chain carries the issuing CA.
``labels`` is a list of names, or a dict name -> {"key_type":..,
"intermediate":..}; each label gets its own CA, reached at
``/.well-known/est/LABEL/...``; an unknown label is 404. ``server_names`` are
the DNS names and IP addresses put in the server certificate's SAN (default
localhost, 127.0.0.1, ::1 and ``host``); the server certificate always comes
from the default CA. ``users`` is a list of (name, password).

Request records (``srv.requests``): ``method``, ``path``, ``label``,
``operation``, ``headers`` (list of (name, value) as received), ``body``,
``authorization`` (True if an Authorization header arrived), ``auth_scheme``
("basic"/"digest"/None), ``user`` (authenticated name or None),
``client_cert`` (DER or None), ``client_cert_subject`` (RFC 4514 text or None),
``tls_version``, ``alpn``, ``version`` (HTTP version of the request line),
``status`` (the status answered). A refused TLS handshake is not a request:
it lands in ``tls_errors``, so "no record with authorization" proves that no
credential crossed a connection the client did not trust.

Operations: cacerts (certs-only CMS, base64), csrattrs, simpleenroll,
simplereenroll, serverkeygen (multipart/mixed: PKCS#8 key part + certs-only
part), fullcmc (501). CSR signatures are verified (400 otherwise).

Authentication. simpleenroll and serverkeygen accept (``enroll_auth``):
"either" (default) a TLS client certificate from the factory CA (an IDevID) or
from the label's CA, or HTTP Basic/Digest credentials; "password"; "cert";
"none". Digest is RFC 7616 with qop=auth, MD5 and SHA-256, server nonces valid
for five minutes with increasing nonce counts (an unknown or expired nonce
answers 401 with stale=true). A one-time user is consumed when a certificate
is issued to it. simplereenroll requires a TLS client certificate issued by
the label's CA (403 otherwise) and, unless ``reenroll_check=False``, a CSR
whose subject and subjectAltName equal the certificate's (403 otherwise).
The server requests a client certificate on every connection (optional) and,
as stdlib ``ssl`` does, sends no CA names in that request.

Habits (keyword arguments of the constructor or of ``set_habits``; defaults first):

=================  ==========================================================
b64_wrap           64 | any column count | 0 (one line)
b64_eol            "\\n" | "\\r\\n"
b64_final_eol      True | False (no line end after the last line)
b64_nul            False | True (a stray NUL byte after each base64 body)
cte                True | False (no Content-Transfer-Encoding header)
framing            "length" (Content-Length) | "chunked" | "close" (no length,
                   body ended by closing the connection after close_notify)
chunk_size         200 (bytes per chunk in chunked framing)
http10             False | True (status line "HTTP/1.0", implies no keep-alive)
keep_alive         True | False (close after every response)
header_case        "canonical" | "lower" | "upper" | "title" (Www-Authenticate)
cgi_status         False | True (an extra CGI-style "Status: 200 OK" header)
hsts               False | True (Strict-Transport-Security header)
auth               ("basic",) | any of "basic", "digest-sha256", "digest-md5",
                   "digest" (both digests), "bearer" (tokens of add_token);
                   one challenge each, in that order
auth_failure       "challenge" (401 with WWW-Authenticate, no body) | "text"
                   (wrong credentials: 401 with a text body, Connection: close,
                   no WWW-Authenticate)
realm              "tinyest"
enroll_auth        "either" | "password" | "cert" | "none"
reenroll_check     True (subject and SAN compared as values) | "strict" (the
                   subject Name and the subjectAltName extension value must be
                   byte-identical DER, string types included, as some servers
                   demand) | False (no subject/SAN comparison)
csrattrs           "default" (ecdsa-with-SHA256, EC key on P-256) | "empty"
                   (MAA=) | "rfc7030" (challengePassword, EC key on secp384r1,
                   extensionRequest macAddress, ecdsa-with-SHA384) | "none"
                   (204) | "404" | bytes (DER to send as is)
keygen_key         "rsa2048" | "rsa3072" | "rsa4096" | "ec" (P-256), whatever
                   the CSR's key is
keygen_pkcs1       False | True (a PKCS#1 RSAPrivateKey labelled application/pkcs8)
multipart_eol      "\\r\\n" | "\\n"
enroll_chain       False | True (the CA certificates first, issued one last)
der_sets           False (certificates in the order above, as OpenSSL-based
                   servers send them) | True (SET OF sorted as DER requires)
deferred           0 | N (answer 202 N times for each distinct CSR, then issue)
retry_after        600 (seconds announced with 202)
retry_after_date   False | True (Retry-After as an HTTP-date)
pop                "off" | "check" (a challengePassword present must be the
                   base64 tls-unique of the connection) | "require"
request_body       "lenient" (base64 any wrapping, or raw DER) | "strict" (400
                   for raw DER or a body without a final newline)
cert_lifetime      365 * 86400 (seconds of validity of issued certificates)
backdate           0 (issued certificates start at the second of issuance, as
                   many CAs do) | N (notBefore N seconds before issuance)
issue_wrong_key    False | True (issue for a fresh key, not the CSR's)
issue_foreign_ca   False | True (issue from a CA that /cacerts does not name)
huge_body          0 | N (pad every base64 body with spaces to N bytes)
endless            False | True (every 200 body streams without end, chunked
                   or close-delimited; stops when the client goes away)
redirects          {} | {path: location} answered with 307
tls12_only         False | True
alpn               None | ("h2", "http/1.1") (protocols offered; the chosen one
                   is logged)
client_auth        "optional" | "none" (no CertificateRequest)
=================  ==========================================================

The server never prints; it reports through the request log.
"""

import base64
import datetime
import email.utils
import hashlib
import http
import ipaddress
import os
import secrets
import socket
import socketserver
import ssl
import tempfile
import threading
import time

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448, rsa
from cryptography.x509.oid import AttributeOID, ExtendedKeyUsageOID, NameOID

EST_PREFIX = "/.well-known/est/"
MAX_BODY = 1 << 20
MAX_HEADERS = 100
NONCE_LIFETIME = 300

HABITS = {
    "b64_wrap": 64,
    "b64_eol": "\n",
    "b64_final_eol": True,
    "b64_nul": False,
    "cte": True,
    "framing": "length",
    "chunk_size": 200,
    "http10": False,
    "keep_alive": True,
    "header_case": "canonical",
    "cgi_status": False,
    "hsts": False,
    "auth": ("basic",),
    "auth_failure": "challenge",
    "realm": "tinyest",
    "enroll_auth": "either",
    "reenroll_check": True,
    "csrattrs": "default",
    "keygen_key": "rsa2048",
    "keygen_pkcs1": False,
    "multipart_eol": "\r\n",
    "enroll_chain": False,
    "der_sets": False,
    "deferred": 0,
    "retry_after": 600,
    "retry_after_date": False,
    "pop": "off",
    "request_body": "lenient",
    "cert_lifetime": 365 * 86400,
    "backdate": 0,
    "issue_wrong_key": False,
    "issue_foreign_ca": False,
    "huge_body": 0,
    "endless": False,
    "redirects": {},
    "tls12_only": False,
    "alpn": None,
    "client_auth": "optional",
}

_CHOICES = {
    "reenroll_check": (True, False, "strict"),
    "framing": ("length", "chunked", "close"),
    "header_case": ("canonical", "lower", "upper", "title"),
    "auth_failure": ("challenge", "text"),
    "enroll_auth": ("either", "password", "cert", "none"),
    "keygen_key": ("rsa2048", "rsa3072", "rsa4096", "ec"),
    "pop": ("off", "check", "require"),
    "request_body": ("lenient", "strict"),
    "client_auth": ("optional", "none"),
    "b64_eol": ("\n", "\r\n"),
    "multipart_eol": ("\n", "\r\n"),
}
_AUTH_SCHEMES = ("basic", "digest-sha256", "digest-md5", "bearer")
_TLS_HABITS = ("tls12_only", "alpn", "client_auth")
_FACTORY = object()

# --- tiny DER encoder for the csrattrs bodies (independent of the tinyest core)


def _der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag, *parts):
    body = b"".join(parts)
    return bytes([tag]) + _der_len(len(body)) + body


def _oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(0x06, bytes(out))


def _seq(*parts):
    return _tlv(0x30, *parts)


def _set(*parts):
    return _tlv(0x31, *sorted(parts))


def certs_only(certs, der_order=False):
    """A certs-only CMS SignedData (RFC 5652, RFC 7030 4.1.3) holding ``certs``
    (cryptography certificates or DER) in the order given, as OpenSSL-based
    servers send them (strictly a BER SET), or sorted as DER demands."""
    ders = [bytes(c) if isinstance(c, (bytes, bytearray)) else _der(c) for c in certs]
    if der_order:
        ders.sort()
    signed = _seq(_tlv(0x02, b"\x01"), _tlv(0x31), _seq(_oid("1.2.840.113549.1.7.1")),
                  _tlv(0xA0, *ders), _tlv(0x31))
    return _seq(_oid("1.2.840.113549.1.7.2"), _tlv(0xA0, signed))


OID_CHALLENGE_PASSWORD = "1.2.840.113549.1.9.7"
OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
OID_SECP256R1 = "1.2.840.10045.3.1.7"
OID_SECP384R1 = "1.3.132.0.34"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_ECDSA_SHA384 = "1.2.840.10045.4.3.3"
OID_MAC_ADDRESS = "1.3.6.1.1.1.1.22"

CSRATTRS = {
    "default": _seq(_oid(OID_ECDSA_SHA256),
                    _seq(_oid(OID_EC_PUBLIC_KEY), _set(_oid(OID_SECP256R1)))),
    "empty": _seq(),
    # The example of RFC 7030 section 4.5.2, element for element.
    "rfc7030": _seq(_oid(OID_CHALLENGE_PASSWORD),
                    _seq(_oid(OID_EC_PUBLIC_KEY), _set(_oid(OID_SECP384R1))),
                    _seq(_oid(OID_EXTENSION_REQUEST), _set(_oid(OID_MAC_ADDRESS))),
                    _oid(OID_ECDSA_SHA384)),
}

# --- certificate authority


def _new_key(kind):
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind.startswith("rsa"):
        bits = int(kind[3:] or 2048)
        return rsa.generate_private_key(65537, bits)
    raise ValueError("unknown key type %r" % kind)


def _hash_for(key):
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _name(cn, org="tinyest dev"):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def build_cert(subject, issuer, public_key, signer, ca=False, path_len=None,
               sans=None, issuer_public=None, lifetime=365 * 86400, not_before=None,
               eku=None):
    """A certificate signed by ``signer`` (a cryptography private key)."""
    nb = not_before or (_now() - datetime.timedelta(minutes=5))
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(public_key).serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(nb + datetime.timedelta(seconds=lifetime)))
    b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    b = b.add_extension(x509.KeyUsage(
        digital_signature=not ca, content_commitment=False,
        key_encipherment=is_rsa and not ca, data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False), critical=True)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
        issuer_public or signer.public_key()), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return b.sign(signer, _hash_for(signer))


def _der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pkcs8(key):
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Ca:
    """A root CA, optionally with an issuing CA below it, persisted in
    ``directory`` when one is given (root.pem, root-key.pem, issuing.pem,
    issuing-key.pem)."""

    def __init__(self, name, key_type="ec", intermediate=False, directory=None):
        self.name = name
        self.key_type = key_type
        self.intermediate = intermediate
        self.generation = 1
        self.links = []      # OldWithNew, NewWithOld after a rollover
        self.retired = []    # earlier root/issuing certificates (for client-cert checks)
        if directory and os.path.exists(os.path.join(directory, "root.pem")):
            self._load(directory)
        else:
            self._create()
            if directory:
                self._save(directory)

    def _create(self):
        suffix = "" if self.generation == 1 else " G%d" % self.generation
        self.root_key = _new_key(self.key_type)
        root_name = _name(self.name + " root CA" + suffix)
        self.root = build_cert(root_name, root_name, self.root_key.public_key(), self.root_key,
                               ca=True, lifetime=20 * 365 * 86400)
        if self.intermediate:
            self.issuing_key = _new_key(self.key_type)
            self.issuing = build_cert(_name(self.name + " issuing CA" + suffix), root_name,
                                      self.issuing_key.public_key(), self.root_key, ca=True,
                                      path_len=0, lifetime=10 * 365 * 86400)
        else:
            self.issuing_key, self.issuing = self.root_key, self.root

    def _save(self, d):
        os.makedirs(d, exist_ok=True)
        items = [("root", self.root, self.root_key)]
        if self.intermediate:
            items.append(("issuing", self.issuing, self.issuing_key))
        for stem, cert, key in items:
            with open(os.path.join(d, stem + ".pem"), "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.PEM))
            fd = os.open(os.path.join(d, stem + "-key.pem"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(_pem_key(key))

    def _load(self, d):
        def load(stem):
            with open(os.path.join(d, stem + ".pem"), "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
            with open(os.path.join(d, stem + "-key.pem"), "rb") as f:
                key = serialization.load_pem_private_key(f.read(), None)
            return cert, key
        self.root, self.root_key = load("root")
        if os.path.exists(os.path.join(d, "issuing.pem")):
            self.issuing, self.issuing_key = load("issuing")
            self.intermediate = True
        else:
            self.issuing, self.issuing_key = self.root, self.root_key
            self.intermediate = False
        self.key_type = "rsa" if isinstance(self.root_key, rsa.RSAPrivateKey) else "ec"

    def cacerts(self):
        """Certificates for /cacerts: issuing CA (if any), root, rollover links."""
        out = [self.issuing] if self.intermediate else []
        return out + [self.root] + self.links

    def all_certs(self):
        """Every CA certificate, current and retired (the TLS verify store)."""
        return self.cacerts() + self.retired

    def issuers(self):
        """Certificates whose key may have signed a valid client certificate."""
        return [self.issuing] + [c for c in self.retired if _is_ca(c)]

    def issue(self, subject, public_key, sans=None, lifetime=365 * 86400, eku=None,
              backdate=300):
        nb = _now() - datetime.timedelta(seconds=backdate)
        return build_cert(subject, self.issuing.subject, public_key, self.issuing_key,
                          sans=sans, lifetime=lifetime, eku=eku, not_before=nb)

    def rollover(self):
        """Replace the root (and issuing) keys; keep OldWithNew and NewWithOld."""
        old_root, old_key = self.root, self.root_key
        self.retired += [old_root] + ([self.issuing] if self.intermediate else [])
        self.generation += 1
        self._create()
        life = int((old_root.not_valid_after_utc - _now()).total_seconds())
        old_with_new = build_cert(old_root.subject, self.root.subject, old_key.public_key(),
                                  self.root_key, ca=True, lifetime=life)
        new_with_old = build_cert(self.root.subject, old_root.subject, self.root_key.public_key(),
                                  old_key, ca=True, lifetime=life)
        self.links = [old_with_new, new_with_old]


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _signed_by(cert, issuer):
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def _sans(obj):
    try:
        return list(obj.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


def _san_der(obj):
    try:
        return obj.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.public_bytes()
    except x509.ExtensionNotFound:
        return None


def _san_key(names):
    return sorted(repr(n) for n in names)


# --- HTTP plumbing


class Request:
    """One received HTTP request, as logged in ``DevServer.requests``."""

    def __init__(self, method, path, headers, body, conn):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.label = None
        self.operation = None
        self.authorization = self.header("authorization") is not None
        self.auth_scheme = None
        self.user = None
        self.client_cert = conn.get("cert")
        self.client_cert_subject = conn.get("subject")
        self.version = "HTTP/1.1"
        self.tls_version = conn.get("version")
        self.alpn = conn.get("alpn")
        self.status = None

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def __repr__(self):
        return "<Request %s %s status=%s auth=%s cert=%s>" % (
            self.method, self.path, self.status, self.authorization, self.client_cert_subject)


class _Response:
    def __init__(self, status, body=b"", ctype=None, headers=None, close=False, b64=False, cte=None):
        self.status = status
        self.cte = b64 if cte is None else cte
        self.body = body
        self.headers = list(headers or [])
        if ctype:
            self.headers.insert(0, ("Content-Type", ctype))
        self.close = close
        self.b64 = b64


class _HttpError(Exception):
    def __init__(self, status, text=""):
        Exception.__init__(self, text)
        self.status = status
        self.text = text


def _parse_auth_params(text):
    """Parameters of an auth header after the scheme: name=token or
    name="quoted \\" string", comma separated."""
    out = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        j = text.find("=", i)
        if j < 0:
            break
        key = text[i:j].strip().lower()
        i = j + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            val = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                val.append(text[i])
                i += 1
            i += 1
            out[key] = "".join(val)
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            out[key] = text[i:j].strip()
            i = j
    return out


class _TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False
    owner = None

    def handle_error(self, request, client_address):
        # record, never print: the owner's ``errors`` list is the report
        import traceback
        self.owner.errors.append(traceback.format_exc())


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        self.server.owner._connection(self.request)


# --- the server


class DevServer:
    """An RFC 7030 EST server for development and tests (see the module docstring)."""

    def __init__(self, host="127.0.0.1", port=0, workdir=None, key_type="ec", intermediate=False,
                 labels=(), server_names=None, users=(), io_timeout=10.0, **habits):
        self.host = host
        self._want_port = port
        self.workdir = workdir
        self.io_timeout = io_timeout
        self.habits = dict(HABITS)
        self.habits["redirects"] = {}
        self.set_habits(**habits)
        self._lock = threading.RLock()
        self._cas = {None: Ca("tinyest dev", key_type, intermediate, self._ca_dir(None))}
        if isinstance(labels, dict):
            for name, opts in labels.items():
                self.add_label(name, **(opts or {}))
        else:
            for name in labels:
                self.add_label(name)
        self._factory = None
        self._foreign = None
        self._server_names = server_names
        self._users = {}
        self._tokens = set()
        for u, p in users:
            self.add_user(u, p)
        self._nonces = {}
        self._pending = {}
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
            if k not in HABITS:
                raise ValueError("unknown habit %r" % k)
            if k in _CHOICES and v not in _CHOICES[k]:
                raise ValueError("habit %s: %r not one of %r" % (k, v, _CHOICES[k]))
            if k == "auth":
                v = (v,) if isinstance(v, str) else tuple(v)
                expanded = []
                for s in v:
                    for t in (("digest-sha256", "digest-md5") if s == "digest" else (s,)):
                        if t not in _AUTH_SCHEMES:
                            raise ValueError("unknown auth scheme %r" % t)
                        expanded.append(t)
                v = tuple(expanded)
            if k == "csrattrs" and not isinstance(v, (bytes, bytearray)) and \
                    v not in tuple(CSRATTRS) + ("none", "404"):
                raise ValueError("csrattrs: unknown mode %r" % (v,))
            self.habits[k] = v
            if k in _TLS_HABITS:
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
        with self._lock:
            self._users[name] = (password, one_time)

    def add_token(self, token):
        """Accept ``Authorization: Bearer TOKEN`` (when "bearer" is in the auth habit)."""
        with self._lock:
            self._tokens.add(token)

    def remove_user(self, name):
        with self._lock:
            self._users.pop(name, None)

    def users(self):
        with self._lock:
            return dict(self._users)

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

    @property
    def ca_der(self):
        return _der(self.ca.root)

    @property
    def ca_fingerprint(self):
        return hashlib.sha256(self.ca_der).digest()

    @property
    def ca_fingerprint_hex(self):
        return self.ca_fingerprint.hex()

    def cacerts_der(self, label=None):
        return [_der(c) for c in self._cas[label].cacerts()]

    @property
    def server_cert_der(self):
        return _der(self._server_cert)

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
        key = _new_key(key_type)
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
        if serial_number:
            attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number))
        sans = [x509.DNSName(d) for d in dns] or None
        cert = ca.issue(x509.Name(attrs), key.public_key(), sans,
                        lifetime or self.habits["cert_lifetime"], eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
        return _der(cert), _pkcs8(key)

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
        self._server_key = _new_key("rsa" if ca.key_type == "rsa" else "ec")
        self._server_cert = ca.issue(_name(names[0] if names else "tinyest dev server"),
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
                    f.write(_pem_key(self._server_key))
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
                    req = self._read_request(rfile, info)
                except _HttpError as e:
                    self._send(conn, None, _Response(e.status, (e.text + "\n").encode(),
                                                     "text/plain", close=True))
                    break
                if req is None:
                    break
                try:
                    resp = self._dispatch(req, info)
                except Exception:       # a server bug: answer 500 and record it
                    import traceback
                    with self._lock:
                        self.errors.append(traceback.format_exc())
                    resp = _Response(500, b"internal error\n", "text/plain", close=True)
                req.status = resp.status
                with self._lock:
                    self.requests.append(req)
                keep, graceful = self._send(conn, req, resp)
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

    def _read_request(self, rfile, info):
        line = rfile.readline(8192)
        while line in (b"\r\n", b"\n"):
            line = rfile.readline(8192)
        if not line:
            return None
        try:
            method, target, version = line.decode("ascii").split()
        except (UnicodeError, ValueError):
            raise _HttpError(400, "bad request line")
        headers = []
        while True:
            h = rfile.readline(8192)
            if not h:
                return None
            if h in (b"\r\n", b"\n"):
                break
            if len(headers) >= MAX_HEADERS:
                raise _HttpError(431, "too many headers")
            try:
                name, _, value = h.decode("latin-1").partition(":")
            except UnicodeError:
                raise _HttpError(400, "bad header")
            headers.append((name.strip(), value.strip()))
        req = Request(method, target, headers, b"", info)
        req.version = version
        te = (req.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            body = bytearray()
            while True:
                size_line = rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _HttpError(400, "bad chunk size")
                if size == 0:
                    while rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                if len(body) + size > MAX_BODY:
                    raise _HttpError(413, "body too large")
                body += rfile.read(size)
                rfile.readline(8)
            req.body = bytes(body)
        else:
            cl = req.header("content-length")
            if cl:
                try:
                    n = int(cl)
                except ValueError:
                    raise _HttpError(400, "bad Content-Length")
                if n < 0 or n > MAX_BODY:
                    raise _HttpError(413, "body too large")
                req.body = rfile.read(n)
        return req

    # -- response writing

    def _case(self, name):
        style = self.habits["header_case"]
        if style == "lower":
            return name.lower()
        if style == "upper":
            return name.upper()
        if style == "title":
            return "-".join(p.capitalize() for p in name.split("-"))
        return name

    def _b64(self, der):
        h = self.habits
        s = base64.b64encode(der).decode()
        w = h["b64_wrap"]
        lines = [s[i:i + w] for i in range(0, len(s), w)] if w else [s]
        text = h["b64_eol"].join(lines)
        if h["b64_final_eol"]:
            text += h["b64_eol"]
        out = text.encode()
        if h["b64_nul"]:
            out += b"\0"
        return out

    def _send(self, conn, req, resp):
        """Write one response; returns (keep_alive, graceful_close)."""
        h = self.habits
        status = resp.status
        reason = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "Status"
        body = resp.body
        if resp.b64 and h["huge_body"] and len(body) < h["huge_body"]:
            body = body + b" " * (h["huge_body"] - len(body))
        endless = resp.b64 and status == 200 and h["endless"]
        framing = h["framing"]
        if status == 204:           # no body and no framing headers (RFC 9110 8.6, 9112 6.1)
            framing, body, endless = "none", b"", False
        if endless and framing == "length":
            framing = "chunked"
        client_close = req is None or (req.header("connection") or "").lower() == "close" or \
            getattr(req, "version", "HTTP/1.1") == "HTTP/1.0"
        keep = not (resp.close or client_close or framing == "close" or h["http10"] or
                    not h["keep_alive"])
        if h["http10"] and framing == "chunked":
            framing = "close"
        headers = []
        if h["cgi_status"]:
            headers.append(("Status", "%d %s" % (status, reason)))
        headers += resp.headers
        if resp.cte and h["cte"]:
            headers.append(("Content-Transfer-Encoding", "base64"))
        if h["hsts"]:
            headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        headers.append(("Date", email.utils.formatdate(usegmt=True)))
        headers.append(("Server", "tinyest-devserver"))
        if framing == "length":
            headers.append(("Content-Length", str(len(body))))
        elif framing == "chunked":
            headers.append(("Transfer-Encoding", "chunked"))
        headers.append(("Connection", "keep-alive" if keep else "close"))
        head = "%s %d %s\r\n" % ("HTTP/1.0" if h["http10"] else "HTTP/1.1", status, reason)
        head += "".join("%s: %s\r\n" % (self._case(k), v) for k, v in headers) + "\r\n"
        out = head.encode("latin-1")
        if req is not None and req.method == "HEAD":
            body = b""
        if framing == "chunked":
            step = max(1, h["chunk_size"])
            for i in range(0, len(body), step):
                part = body[i:i + step]
                out += b"%x\r\n%s\r\n" % (len(part), part)
            if not endless:
                out += b"0\r\n\r\n"
        else:
            out += body
        conn.sendall(out)
        if endless:
            self._stream_forever(conn, framing == "chunked")
        return keep, not keep

    def _stream_forever(self, conn, chunked):
        block = (b"A" * 63 + b"\n") * 64
        if chunked:
            block = b"%x\r\n%s\r\n" % (len(block), block)
        sent = 0
        while sent < (1 << 30):     # bounded so a greedy client cannot pin a thread
            conn.sendall(block)
            sent += len(block)

    # -- dispatch

    def _dispatch(self, req, info):
        h = self.habits
        path = req.path.split("?", 1)[0]
        if path in h["redirects"]:
            return _Response(307, b"", headers=[("Location", h["redirects"][path])])
        if not path.startswith(EST_PREFIX):
            return _Response(404, b"not found\n", "text/plain")
        parts = path[len(EST_PREFIX):].split("/")
        if len(parts) == 1:
            label, op = None, parts[0]
        elif len(parts) == 2 and parts[0]:
            label, op = parts
        else:
            return _Response(404, b"not found\n", "text/plain")
        req.label, req.operation = label, op
        ca = self._cas.get(label)
        if ca is None:
            return _Response(404, b"unknown label\n", "text/plain")
        try:
            if op == "cacerts":
                self._method(req, "GET")
                return self._certs_response(ca.cacerts(), "application/pkcs7-mime")
            if op == "csrattrs":
                self._method(req, "GET")
                return self._csrattrs()
            if op in ("simpleenroll", "serverkeygen"):
                self._method(req, "POST")
                denied = self._authenticate(req, info, ca)
                if denied is not None:
                    return denied
                return self._enroll(req, info, ca, keygen=op == "serverkeygen")
            if op == "simplereenroll":
                self._method(req, "POST")
                if not self._client_cert_from(info, ca.issuers()):
                    return _Response(403, b"client certificate from this CA required\n", "text/plain")
                req.user = info.get("subject")
                return self._enroll(req, info, ca, reenroll=True)
            if op == "fullcmc":
                return _Response(501, b"fullcmc not implemented\n", "text/plain")
        except _HttpError as e:
            return _Response(e.status, (e.text + "\n").encode(), "text/plain")
        return _Response(404, b"unknown operation\n", "text/plain")

    @staticmethod
    def _method(req, method):
        if req.method != method:
            raise _HttpError(405, "method not allowed")

    def _certs_response(self, certs, ctype):
        der = certs_only(certs, self.habits["der_sets"])
        return _Response(200, self._b64(der), ctype, b64=True)

    def _csrattrs(self):
        mode = self.habits["csrattrs"]
        if mode == "none":
            return _Response(204)
        if mode == "404":
            return _Response(404, b"no csrattrs\n", "text/plain")
        der = bytes(mode) if isinstance(mode, (bytes, bytearray)) else CSRATTRS[mode]
        return _Response(200, self._b64(der), "application/csrattrs", b64=True)

    # -- authentication

    def _client_cert_from(self, info, issuers):
        der = info.get("cert")
        if not der:
            return False
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return False
        return any(_signed_by(cert, i) for i in issuers)

    def _challenge(self, stale=False):
        h = self.habits
        out = []
        for scheme in h["auth"]:
            if scheme == "basic":
                out.append(("WWW-Authenticate", 'Basic realm="%s"' % h["realm"]))
            elif scheme == "bearer":
                out.append(("WWW-Authenticate", 'Bearer realm="%s"' % h["realm"]))
            else:
                nonce = secrets.token_hex(16)
                with self._lock:
                    self._nonces[nonce] = [time.time(), 0]
                alg = "SHA-256" if scheme == "digest-sha256" else "MD5"
                out.append(("WWW-Authenticate",
                            'Digest realm="%s", qop="auth", algorithm=%s, nonce="%s", opaque="%s"%s'
                            % (h["realm"], alg, nonce, secrets.token_hex(8),
                               ", stale=true" if stale else "")))
        return _Response(401, b"", headers=out)

    def _refuse(self):
        if self.habits["auth_failure"] == "text":
            return _Response(401, b"Unauthorized: wrong user name or password\n", "text/plain", close=True)
        return self._challenge()

    def _authenticate(self, req, info, ca):
        """None if the request may proceed, else the response refusing it."""
        mode = self.habits["enroll_auth"]
        if mode == "none":
            return None
        if mode in ("either", "cert"):
            issuers = self.factory_ca.issuers() + ca.issuers()
            if self._client_cert_from(info, issuers):
                req.user = info.get("subject")
                return None
            if mode == "cert":
                return _Response(403, b"client certificate required\n", "text/plain")
        authz = req.header("authorization")
        if not authz:
            return self._challenge()
        scheme, _, rest = authz.strip().partition(" ")
        scheme = scheme.lower()
        req.auth_scheme = scheme
        if scheme == "basic" and "basic" in self.habits["auth"]:
            try:
                user, _, pw = base64.b64decode(rest.strip(), validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeError):
                return self._refuse()
            with self._lock:
                entry = self._users.get(user)
            if entry is None or not secrets.compare_digest(entry[0].encode(), pw.encode()):
                return self._refuse()
            req.user = user
            return None
        if scheme == "digest":
            return self._check_digest(req, _parse_auth_params(rest))
        if scheme == "bearer" and "bearer" in self.habits["auth"]:
            with self._lock:
                ok = rest.strip() in self._tokens
            if not ok:
                return self._refuse()
            req.user = "bearer"
            return None
        return self._refuse()

    def _check_digest(self, req, p):
        user = p.get("username")
        alg = (p.get("algorithm") or "MD5").upper()
        scheme = {"MD5": "digest-md5", "SHA-256": "digest-sha256"}.get(alg)
        if scheme not in self.habits["auth"]:
            return self._refuse()
        nonce = p.get("nonce", "")
        with self._lock:
            entry = self._users.get(user)
            state = self._nonces.get(nonce)
            if state is not None and time.time() - state[0] > NONCE_LIFETIME:
                del self._nonces[nonce]
                state = None
        if state is None:
            return self._challenge(stale=True)
        if entry is None or p.get("realm") != self.habits["realm"] or p.get("uri") != req.path:
            return self._refuse()

        def H(s):
            f = hashlib.md5 if alg == "MD5" else hashlib.sha256
            return f(s.encode("utf-8")).hexdigest()
        ha1 = H("%s:%s:%s" % (user, self.habits["realm"], entry[0]))
        ha2 = H("%s:%s" % (req.method, p.get("uri")))
        qop = p.get("qop")
        if qop != "auth":
            return self._refuse()
        nc, cnonce = p.get("nc", ""), p.get("cnonce", "")
        try:
            nc_val = int(nc, 16)
        except ValueError:
            return self._refuse()
        expect = H("%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
        if not secrets.compare_digest(expect, p.get("response", "").lower()):
            return self._refuse()
        with self._lock:
            if nc_val <= state[1]:
                return self._challenge(stale=True)
            state[1] = nc_val
        req.user = user
        return None

    # -- enrollment

    def _read_csr(self, req):
        body = req.body
        strict = self.habits["request_body"] == "strict"
        text = body.rstrip(b"\0")
        der = None
        try:
            der = base64.b64decode(b"".join(text.split()), validate=True)
        except ValueError:
            der = None
        if der is None or not der:
            if strict or not body.startswith(b"\x30"):
                raise _HttpError(400, "body is not base64")
            der = body
        elif strict and not body.endswith(b"\n"):
            raise _HttpError(400, "base64 body must end with a newline")
        try:
            csr = x509.load_der_x509_csr(der)
        except ValueError:
            raise _HttpError(400, "malformed PKCS#10 request")
        try:
            ok = csr.is_signature_valid
        except Exception:      # unsupported algorithms surface in several types
            ok = False
        if not ok:
            raise _HttpError(400, "CSR signature does not verify")
        return der, csr

    def _check_pop(self, csr, info):
        mode = self.habits["pop"]
        if mode == "off":
            return
        try:
            cp = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
        except x509.AttributeNotFound:
            cp = None
        if cp is None:
            if mode == "require":
                raise _HttpError(400, "challengePassword with tls-unique required")
            return
        tu = info.get("tls_unique")
        if isinstance(cp, str):
            cp = cp.encode()
        if tu is None or cp != base64.b64encode(tu):
            raise _HttpError(400, "challengePassword does not match the TLS channel")

    def _check_same_identity(self, csr, info, strict):
        cert = x509.load_der_x509_certificate(info["cert"])
        try:
            csr_sans = _sans(csr)
        except ValueError:
            raise _HttpError(400, "bad extensions in the request")
        if strict:
            if csr.subject.public_bytes() != cert.subject.public_bytes():
                raise _HttpError(403, "subject differs from the current certificate (DER)")
            if _san_der(csr) != _san_der(cert):
                raise _HttpError(403, "subjectAltName differs from the current certificate (DER)")
        if csr.subject != cert.subject:
            raise _HttpError(403, "subject differs from the current certificate")
        if _san_key(csr_sans) != _san_key(_sans(cert)):
            raise _HttpError(403, "subjectAltName differs from the current certificate")

    def _enroll(self, req, info, ca, reenroll=False, keygen=False):
        h = self.habits
        der, csr = self._read_csr(req)
        self._check_pop(csr, info)
        if reenroll and h["reenroll_check"]:
            self._check_same_identity(csr, info, h["reenroll_check"] == "strict")
        if h["deferred"]:
            key = hashlib.sha256(req.operation.encode() + der).digest()
            with self._lock:
                seen = self._pending.get(key, 0)
                if seen < h["deferred"]:
                    self._pending[key] = seen + 1
                    secs = int(h["retry_after"])
                    value = email.utils.formatdate(time.time() + secs, usegmt=True) \
                        if h["retry_after_date"] else str(secs)
                    return _Response(202, b"request pending\n", "text/plain",
                                     headers=[("Retry-After", value)])
                self._pending.pop(key, None)
        try:
            sans = _sans(csr) or None
        except ValueError:
            raise _HttpError(400, "bad extensions in the request")
        server_key = None
        if keygen:
            server_key = _new_key(h["keygen_key"])
            public = server_key.public_key()
        else:
            public = csr.public_key()
        if h["issue_wrong_key"]:
            public = _new_key("ec").public_key()
        issuer = ca
        if h["issue_foreign_ca"]:
            if self._foreign is None:
                self._foreign = Ca("tinyest foreign", "ec")
            issuer = self._foreign
        try:
            cert = issuer.issue(csr.subject, public, sans, h["cert_lifetime"],
                                eku=[ExtendedKeyUsageOID.CLIENT_AUTH], backdate=h["backdate"])
        except (ValueError, TypeError) as e:
            raise _HttpError(400, "cannot issue: %s" % e)
        with self._lock:
            self.issued.append(_der(cert))
            if req.user and self._users.get(req.user, (None, False))[1] and req.auth_scheme:
                del self._users[req.user]
        certs = [cert]
        if h["enroll_chain"]:
            certs = ca.cacerts() + [cert]
        if not keygen:
            return self._certs_response(certs, "application/pkcs7-mime; smime-type=certs-only")
        return self._keygen_response(server_key, certs)

    def _keygen_response(self, key, certs):
        h = self.habits
        if h["keygen_pkcs1"] and isinstance(key, rsa.RSAPrivateKey):
            key_der = key.private_bytes(serialization.Encoding.DER,
                                        serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption())
        else:
            key_der = _pkcs8(key)
        p7 = certs_only(certs, h["der_sets"])
        eol = h["multipart_eol"].encode()
        boundary = "est-" + secrets.token_hex(8)
        cte = [("Content-Transfer-Encoding", "base64")] if h["cte"] else []
        out = b""
        for ctype, der in (("application/pkcs8", key_der),
                           ("application/pkcs7-mime; smime-type=certs-only", p7)):
            out += b"--" + boundary.encode() + eol
            for k, v in [("Content-Type", ctype)] + cte:
                out += ("%s: %s" % (self._case(k), v)).encode() + eol
            body = self._b64(der)
            out += eol + body
            if not body.endswith(eol):
                out += eol
        out += b"--" + boundary.encode() + b"--" + eol
        return _Response(200, out, "multipart/mixed; boundary=%s" % boundary, b64=True, cte=False)
