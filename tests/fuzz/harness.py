"""One entry point per parser, shared by every fuzzer of the project.

``TARGETS`` lists ``(name, function)``; ``function(data)`` feeds one input
(bytes) through a parser and the functions that use its result, then checks
the round trip where an encoder exists. It returns normally when the input was
accepted, and lets the parser's ``EstError`` out when it was refused. Any
other exception (IndexError, TypeError, MemoryError, RecursionError...) or a
failed property (``Violation``) is a finding.

Used by tests/core/test_fuzz_corpus.py (CPython and MicroPython),
tests/host/test_fuzz_host.py (hypothesis), tests/fuzz/atheris_fuzz.py and
tests/fuzz/make_corpus.py. Runs unchanged on MicroPython: no dict order, no
``int.bit_length``, nothing beyond the core's own imports plus ``io``.

Input formats (one corpus file = one input):
    der, x509, pkcs7, csrattrs, keys, spki, csr   DER (or anything) as is
    pem                                           PEM text as bytes
    store                                         a whole store slot file
    store_body                                    a slot body (records); the
                                                  header and hash are added here
    http_response                                 the bytes a server sends
    proxy_connect                                 the bytes a proxy answers to CONNECT
    b64body                                       an EST response body
    multipart                                     Content-Type line, LF, body
    http_date                                     Retry-After value, LF, Date value
    www_authenticate                              one WWW-Authenticate value per line
    signature                                     signature octets, checked against
                                                  three fixed keys
    coap                                          one CoAP datagram
    coap_links                                    a /.well-known/core answer
    multipart_core                                an application/multipart-core body
"""

import hashlib
import io
import struct
import sys

from tinyest import client, coap, coap_formats, csr, csr_build, csr_read, csrattrs, der, der_extra, http, http_auth, keys, pem, pkcs7, pkcs7_write, serverkeygen, store, x509
from tinyest.errors import EstError, FormatError, ProtocolError, StoreError, VerifyError

MICROPYTHON = sys.implementation.name == "micropython"
# Public-key operations cost tens of milliseconds each in pure Python; the
# MicroPython corpus run skips the ones a parser does not need.
HEAVY = not MICROPYTHON


class Violation(AssertionError):
    """A property (round trip, consistency) failed for an accepted input."""


def check(cond, what):
    if not cond:
        raise Violation(what)


def _h(s):
    return bytes.fromhex("".join(s.split()))


# A P-256 SubjectPublicKeyInfo (tests/vectors/keys_p256_spki.der) and
# ecdsa-with-SHA256: the signer the csrattrs target builds requests for.
SPKI_P256 = _h(
    "3059301306072a8648ce3d020106082a8648ce3d03010703420004"
    "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
    "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299")
ALG_ECDSA_SHA256 = _h("300a06082a8648ce3d040302")


# ---------------------------------------------------------------- der


def _rebuild(r):
    """Walk every element with the typed readers, and re-encode the tree with
    the DER writer; each typed value is re-encoded by its own writer too."""
    out = []
    while not r.empty():
        tag = r.peek_tag()
        start = r.offset()
        if tag & 0x20:
            out.append(der.tlv(tag, _rebuild(r.enter(tag))))
            continue
        if tag == der.INTEGER:
            v = r.read_int()
            out.append(der.integer(v))
        elif tag == der.BOOLEAN:
            out.append(der.boolean(r.read_bool()))
        elif tag == der.NULL:
            r.read_null()
            out.append(der.null())
        elif tag == der.OID:
            v = bytes(r.read_oid())
            check(der.encode_oid(der.oid_str(v)) == v, "OID text round trip")
            out.append(der.oid(v))
        elif tag == der.BIT_STRING:
            unused, v = r.read_bit_string()
            out.append(der.bit_string(bytes(v), unused))
        elif tag == der.UTC_TIME:
            out.append(der_extra.utc_time(r.read_time()))
        elif tag == der.GENERALIZED_TIME:
            out.append(der_extra.generalized_time(r.read_time()))
        elif tag == der.UTF8_STRING:
            out.append(der.utf8(r.read_string()[1]))
        elif tag == der.PRINTABLE_STRING:
            out.append(der_extra.printable(r.read_string()[1]))
        elif tag == der.IA5_STRING:
            out.append(der_extra.ia5(r.read_string()[1]))
        elif tag in (der.BMP_STRING, der.T61_STRING,
                     der.UNIVERSAL_STRING, der.NUMERIC_STRING, der.VISIBLE_STRING):
            r.read_string()
            out.append(bytes(r.buf[start:r.offset()]))
        else:
            t, v = r.read_any()
            out.append(der.tlv(t, v))
        check(out[-1] == bytes(r.buf[start:r.offset()]),
              "DER writer disagrees with the reader at offset %d" % start)
    return b"".join(out)


def _walk_ber(r):
    while not r.empty():
        tag = r.peek_tag()
        if tag & 0x20:
            _walk_ber(r.enter(tag))
        else:
            r.read_element()


def t_der(data):
    try:
        _walk_ber(der.Reader(data, ber=True))
    except EstError:
        pass
    r = der.Reader(data)
    check(_rebuild(r) == bytes(data), "DER round trip")


# ---------------------------------------------------------------- x509


def t_x509(data):
    c = x509.Certificate(data)
    c.subject
    c.issuer
    c.fingerprint()
    c.is_self_issued()
    for oid, crit, val in c.extensions:
        check(c.extension(oid) == (crit, val), "extension lookup")
    check(bytes(c.der) == bytes(data), "certificate slice")
    check(bytes(c.tbs) == bytes(der.Reader(data).enter(der.SEQUENCE).read_element()), "tbs slice")
    text = pem.encode(data, "CERTIFICATE")
    check(bytes(x509.load(text).der) == bytes(data), "PEM round trip")
    check([bytes(x.der) for x in x509.load_all(text + text)] == [bytes(data)] * 2, "PEM bundle")
    if HEAVY:
        try:
            c.verify_signed_by(c)
        except VerifyError:
            pass
        try:
            x509.verify_chain(c, [], [SELF_SIGNED], now=1704153600)
        except VerifyError:
            pass


# A self-signed P-256 root made with the DER writer (no signature checked
# unless a certificate names it as issuer).
def _root():
    name = der.seq(der.set_of(der.seq(der.oid("2.5.4.3"), der.utf8("tinyest fuzz root"))))
    alg = ALG_ECDSA_SHA256
    tbs = der.seq(
        der.explicit(0, der.integer(2)), der.integer(1), alg, name,
        der.seq(der_extra.utc_time(1700000000), der_extra.utc_time(2000000000)), name, SPKI_P256,
        der.explicit(3, der.seq(der.seq(der.oid("2.5.29.19"), der.boolean(True),
                                        der.octet_string(der.seq(der.boolean(True)))))))
    return der.seq(tbs, alg, der.bit_string(b"\x30\x06\x02\x01\x01\x02\x01\x01"))


SELF_SIGNED = _root()


# ---------------------------------------------------------------- pkcs7


def t_pkcs7(data):
    certs = pkcs7.certificates(data)
    crls = pkcs7.crls(data)
    a = [bytes(c) for c in certs]
    b = [bytes(c) for c in crls]
    enc = pkcs7_write.encode_certs_only(a, b)
    check([bytes(c) for c in pkcs7.certificates(enc)] == a, "certs-only round trip (certificates)")
    check([bytes(c) for c in pkcs7.crls(enc)] == b, "certs-only round trip (CRLs)")
    for c in certs:
        try:
            t_x509(c)
        except EstError:
            pass


# ---------------------------------------------------------------- csrattrs


class _Signer:
    def public_key_der(self):
        return SPKI_P256

    def algorithm_der(self):
        return ALG_ECDSA_SHA256


def t_csrattrs(data):
    a = csrattrs.CsrAttrs(data)
    a.describe()
    a.empty()
    b = csr_build.CsrBuilder().subject([("CN", "device-1")])
    b, missing = csrattrs.apply_csrattrs(b, a, {"challengePassword": "pw"}, _Signer())
    for item in missing:
        check(isinstance(item[0], str) and isinstance(item[1], str), "unsatisfied entry")
    # What the builder made of it must read back through the CSR reader.
    info = b.info_der(SPKI_P256)
    c = csr_read.Csr(csr.assemble(info, ALG_ECDSA_SHA256, b"\x30\x00"))
    for oid, crit, val in a.extension_values:
        got = c.extension(oid)
        if got is not None:
            check(got[1] == val, "extension value from csrattrs")
    if a.challenge_password:
        check(c.challenge_password == "pw", "challengePassword from csrattrs")


# ---------------------------------------------------------------- pem


def t_pem(data):
    pem.is_pem(data)
    blocks = pem.decode_all(data)
    for label, body in blocks:
        text = pem.encode(body, label)
        check(pem.decode_all(text) == [(label, body)], "PEM round trip")
        check(pem.decode(text.encode(), label) == body, "PEM round trip (bytes, label)")
    if blocks:
        first = blocks[0]
        check(pem.decode_all(data, first[0])[0] == first, "PEM label filter")


# ---------------------------------------------------------------- keys


def t_keys(data):
    k = keys.load_private(data)
    spki = k.public_key_der()
    keys.parse_spki(spki)
    again = keys.load_private(k.to_der())
    check(bytes(again.public_key_der()) == bytes(spki), "private key round trip")
    check(bytes(keys.load_private(pem.encode(k.to_der(), "PRIVATE KEY")).public_key_der()) == bytes(spki),
          "private key PEM round trip")
    if HEAVY:
        msg = b"tinyest fuzz"
        try:
            keys.verify(spki, k.algorithm_der(), msg, k.sign(msg))
        except VerifyError:
            raise Violation("a loaded key's signature does not verify")


def t_spki(data):
    kind, param, key = keys.parse_spki(data)
    info = x509.spki_info(data)
    check(info[0] == kind, "spki_info agrees with parse_spki")
    if kind == "ec":
        curve = {"P-256": "1.2.840.10045.3.1.7", "P-384": "1.3.132.0.34"}[param]
        alg = der.seq(der.oid("1.2.840.10045.2.1"), der.oid(curve))
        enc = der.seq(alg, der.bit_string(key))
    elif kind == "rsa":
        alg = der.seq(der.oid("1.2.840.113549.1.1.1"), der.null())
        enc = der.seq(alg, der.bit_string(der.seq(der.integer(key[0]), der.integer(key[1]))))
        check(info[2] == param, "RSA key size")
    else:
        enc = der.seq(der.seq(der.oid("1.3.101.112")), der.bit_string(key))
    check(enc == bytes(data), "SubjectPublicKeyInfo round trip")


# Signatures by nobody, checked against a P-256 and an Ed25519 key
# (tests/vectors/keys_ed25519_spki.der): only VerifyError
# (or FormatError) may come out, never a crash in the signature decoding.
_VERIFY_KEYS = (
    (SPKI_P256, ALG_ECDSA_SHA256),
    (_h("302a300506032b657003210003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"),
     _h("300506032b6570")),
)


def t_signature(data):
    for spki, alg in _VERIFY_KEYS:
        try:
            keys.verify(spki, alg, b"tinyest fuzz", data)
        except VerifyError:
            pass
    raise VerifyError("not a signature of anything")


# ---------------------------------------------------------------- csr


def t_csr(data):
    c = csr_read.Csr(data)
    check(c.san is None or c.extension(b"\x55\x1d\x11") is not None, "SAN only when requested")
    check(c.attribute(b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x07") is None or c.challenge_password is not None,
          "challengePassword attribute read")
    for oid, crit, val in c.extensions:
        check(c.extension(oid) == (crit, val), "extension lookup")
    if c.signature:
        check(csr.assemble(c.tbs, c.sig_alg, c.signature) == bytes(data), "CSR round trip")
    if HEAVY:
        try:
            c.verify()
        except (VerifyError, FormatError):
            pass


# ---------------------------------------------------------------- store


class MemFs:
    """The file system interface of tinyest.store, in memory."""

    def __init__(self, files=None):
        self.files = dict(files or {})
        self.dirs = ["/s"]

    def open(self, path, mode):
        if "w" in mode:
            return _MemFile(self, path)
        if path not in self.files:
            raise OSError(2)
        return io.BytesIO(self.files[path])

    def stat(self, path):
        if path in self.dirs:
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        if path not in self.files:
            raise OSError(2)
        return (0x8000, 0, 0, 0, 0, 0, len(self.files[path]), 0, 0, 0)

    def rename(self, a, b):
        self.files[b] = self.files.pop(a)

    def remove(self, path):
        del self.files[path]

    def mkdir(self, path):
        self.dirs.append(path)


class _MemFile:
    def __init__(self, fs, path):
        self.fs = fs
        self.path = path
        self.data = bytearray()

    def write(self, b):
        self.data += b
        return len(b)

    def flush(self):
        pass

    def close(self):
        self.fs.files[self.path] = bytes(self.data)


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check_store_types(c):
    """The field types tinyest.store documents: what callers rely on."""
    for name in ("trust", "boot_chain", "chain"):
        for v in getattr(c, name):
            check(isinstance(v, bytes), "store %s holds a %s" % (name, type(v).__name__))
    for name in ("boot_key", "key_der"):
        v = getattr(c, name)
        check(v is None or isinstance(v, bytes), "store %s is a %s" % (name, type(v).__name__))
    for name in ("boot_user", "boot_password"):
        v = getattr(c, name)
        check(v is None or isinstance(v, (str, bytes)), "store %s is a %s" % (name, type(v).__name__))
    for name in ("enrolled_at", "cacerts_at", "time_offset"):
        v = getattr(c, name)
        check(v is None or _int(v), "store %s is a %s, not an int" % (name, type(v).__name__))
    p = c.pending
    if p is not None:
        check(isinstance(p.op, str), "store pending op is a %s" % type(p.op).__name__)
        for name in ("csr", "key_der"):
            v = getattr(p, name)
            check(v is None or isinstance(v, bytes), "store pending %s is a %s" % (name, type(v).__name__))
        check(p.retry_at is None or _int(p.retry_at), "store pending retry_at is a %s" % type(p.retry_at).__name__)
        check(_int(p.attempts), "store pending attempts is a %s" % type(p.attempts).__name__)


def _store_round_trip(data):
    c = store.Store("/s", MemFs({"/s/cred.a": bytes(data)})).load()
    _check_store_types(c)
    fs = MemFs()
    s = store.Store("/s", fs)
    try:
        s.commit(c)
    except StoreError as e:
        # load() returned values of types the store never writes (a DER field
        # holding an int, a str op...): callers would trip over them.
        raise Violation("store loads what it refuses to store: %s" % e)
    again = s.load()
    check(again == c, "store round trip")
    return c


def t_store(data):
    c = _store_round_trip(data)
    c.enrolled


def slot_file(body, seq=1, version=1):
    """A slot file around a body, with a correct hash."""
    hdr = struct.pack(">4sHHII", b"tEST", version, 0, seq, len(body))
    return hdr + bytes(body) + hashlib.sha256(hdr + bytes(body)).digest()


def t_store_body(data):
    _store_round_trip(slot_file(data))


# ---------------------------------------------------------------- http


class FakeSock:
    def __init__(self, data, step):
        self.data = data
        self.pos = 0
        self.step = step

    def recv_into(self, mv):
        n = min(len(mv), self.step, len(self.data) - self.pos)
        if n <= 0:
            return 0
        mv[0:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def _response(data, step):
    try:
        resp = http.read_response(http.Stream(FakeSock(data, step)))
    except EstError as e:
        return None, e
    out = (resp.status, resp.reason, resp.headers, bytes(resp.body), resp.keep_alive)
    http.text(resp.body[:200])  # what an error message quotes of a body
    http.retry_after(resp.header("retry-after"), resp.header("date"), now=0)
    ch = resp.header_all("www-authenticate")
    try:
        _challenges(ch)
    except EstError:
        pass
    mtype, params = serverkeygen.parse_media_type(resp.header("content-type") or "")
    if mtype == "multipart/mixed":
        try:
            _multipart(resp.header("content-type"), resp.body)
        except EstError:
            pass
    elif resp.body and resp.status == 200:
        try:
            body = http.b64decode_body(bytearray(resp.body))
            if mtype == "application/csrattrs":
                t_csrattrs(body)
            else:
                t_pkcs7(body)
        except EstError:
            pass
    return out, None


def t_http_response(data):
    # The same bytes in one read, in 7-byte reads and one byte per read: the
    # outcome may not depend on how TCP cut them.
    a, ea = _response(data, 4096)
    for step in (7, 1):
        b, eb = _response(data, step)
        check(a == b, "framing depends on how the bytes arrive (%d-byte reads)" % step)
        check(type(ea) is type(eb), "error depends on how the bytes arrive (%d-byte reads)" % step)
    if ea is not None:
        raise ea


class _RawSock:
    """A raw TCP socket with recv/send, as tinyest.proxy uses it."""

    def __init__(self, data):
        self.data = data
        self.pos = 0
        self.sent = b""

    def send(self, b):
        self.sent += bytes(b)
        return len(b)

    def recv(self, n):
        b = self.data[self.pos:self.pos + n]
        self.pos += len(b)
        return b


def t_proxy_connect(data):
    from tinyest import proxy

    raw = _RawSock(bytes(data))
    try:
        proxy.tunnel(raw, "est.example.com", 8443, None)
    finally:
        check(raw.sent.startswith(b"CONNECT est.example.com:8443 HTTP/1.1\r\nHost: est.example.com:8443\r\n"),
              "CONNECT request")
    # Accepted: the proxy's answer was read up to its empty line and not a byte
    # further (the TLS handshake follows on the same socket).
    head = raw.data[:raw.pos]
    check(head.endswith(b"\n\n") or head.endswith(b"\n\r\n"), "CONNECT answer read past its header")


def t_b64body(data):
    a = None
    try:
        a = http.b64decode_body(bytes(data))
    except EstError as e:
        a = e
    try:
        b = http.b64decode_body(bytearray(data))
    except EstError as e:
        b = e
    if isinstance(a, EstError):
        check(type(a) is type(b), "bytes and bytearray bodies fail alike")
    else:
        check(bytes(a) == bytes(b), "bytes and bytearray bodies decode alike")
    if len(data):
        enc = bytes(http.b64encode_lines(data))  # decoding destroys a bytearray
        check(http.b64decode_body(enc) == bytes(data), "base64 round trip")
        check(http.b64decode_body(bytearray(enc)) == bytes(data), "base64 round trip (bytearray)")
        crlf = enc.replace(b"\n", b"\r\n") + b"\x00"
        check(http.b64decode_body(bytearray(crlf)) == bytes(data), "base64 round trip (CRLF, NUL)")
    if isinstance(a, EstError):
        raise a


def _multipart(ctype, body):
    parts = serverkeygen.parse_multipart(ctype, body)
    for headers, d in parts:
        serverkeygen.part_header(headers, "content-type")
    boundary = serverkeygen.parse_media_type(ctype)[1]["boundary"].encode()
    # Rebuild the body from the parts and read it again.
    out = [b"preamble\r\n"]
    simple = True
    for headers, d in parts:
        out.append(b"--" + boundary + b"\r\n")
        for k, v in headers:
            if not k or ":" in k or k != k.strip():
                simple = False
            out.append(k.encode() + b": " + v.encode() + b"\r\n")
        out.append(b"\r\n" + bytes(d) + b"\r\n")
    out.append(b"--" + boundary + b"--\r\n")
    if simple:
        again = serverkeygen.parse_multipart(ctype, b"".join(out))
        check([(h, bytes(d)) for h, d in again] == [(h, bytes(d)) for h, d in parts], "multipart round trip")
    return parts


def _split(data):
    i = data.find(b"\n")
    if i < 0:
        return data, b""
    return data[:i], data[i + 1:]


def t_multipart(data):
    ctype, body = _split(bytes(data))
    _multipart(http.text(ctype), body)


_DAYS = ("Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed")
_MON = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _d2(v):
    return ("0" + str(v))[-2:]


def imf_fixdate(t):
    """RFC 7231 IMF-fixdate of seconds since 1970 (years 1970..9999)."""
    y, mo, d, h, mi, s = der_extra.gmtime(t)
    return "%s, %s %s %d %s:%s:%s GMT" % (_DAYS[(t // 86400) % 7], _d2(d), _MON[mo - 1], y,
                                          _d2(h), _d2(mi), _d2(s))


def t_http_date(data):
    a, b = _split(bytes(data))
    value = http.text(a)
    date = http.text(b) if b else None
    t = http.parse_http_date(value)
    if t is not None:
        check(http.parse_http_date(imf_fixdate(t)) == t, "HTTP-date round trip")
    for now in (0, 1700000000):
        ra = http.retry_after(value, date, now=now, default=60)
        check(isinstance(ra, int) and ra >= 0, "Retry-After is a non-negative int")
    if t is None:
        raise ProtocolError("not an HTTP-date")


def _challenges(values):
    ch = http_auth.parse_challenges(values)
    best = http_auth.choose_challenge(ch)
    if best is None:
        return ch
    scheme, params = best
    if scheme == "basic":
        http_auth.basic_authorization("user", "pässword")
        return ch
    authz = http_auth.digest_authorization(params, "user", "pw", "POST", "/.well-known/est/simpleenroll",
                                      "0a4f113b")
    check(authz.startswith("Digest "), "Digest answer")
    back = http_auth.parse_challenges([authz])
    check(len(back) == 1 and back[0][0] == "digest", "Digest answer reads as one auth-param list")
    p = back[0][1]
    for k in ("realm", "nonce", "opaque"):
        check(p.get(k) == params.get(k, "" if k != "opaque" else None), "Digest %s round trip" % k)
    return ch


def t_www_authenticate(data):
    values = [http.text(line) for line in bytes(data).split(b"\n")]
    _challenges(values)


def t_coap(data):
    m = coap.decode(data)
    for n in (coap.BLOCK1, coap.BLOCK2):
        try:
            b = m.block(n)
        except ProtocolError:
            continue
        if b is not None:
            check(coap.decode(coap.encode(coap.Message(0, 1, 0, b"", [(n, coap.block_value(*b))]))).block(n) == b,
                  "block option round trip")
    for n in (coap.CONTENT_FORMAT, coap.SIZE1, coap.SIZE2, coap.MAX_AGE):
        v = m.uint(n)
        check(v is None or 0 <= v < 1 << 32, "uint option range")
    again = coap.decode(coap.encode(m))
    check((again.mtype, again.code, again.mid, bytes(again.token), again.options, bytes(again.payload)) ==
          (m.mtype, m.code, m.mid, bytes(m.token), m.options, bytes(m.payload)), "CoAP round trip")


def t_coap_links(data):
    got = coap_formats.links(data)
    paths = coap_formats.est_paths(data)
    check(len(got) <= coap_formats.MAX_LINKS, "link count")
    check(all(n in coap_formats.EST_NAMES and isinstance(p, str) for n, p in paths.items()), "EST paths")


def t_multipart_core(data):
    parts = coap_formats.multipart(data)
    check(len(parts) <= coap_formats.MAX_PARTS, "part count")
    check(all(0 <= ct <= 0xFFFF and (b is None or len(b) < len(data)) for ct, b in parts), "parts in range")


TARGETS = (
    ("der", t_der),
    ("x509", t_x509),
    ("pkcs7", t_pkcs7),
    ("csrattrs", t_csrattrs),
    ("pem", t_pem),
    ("keys", t_keys),
    ("spki", t_spki),
    ("signature", t_signature),
    ("csr", t_csr),
    ("store", t_store),
    ("store_body", t_store_body),
    ("http_response", t_http_response),
    ("proxy_connect", t_proxy_connect),
    ("b64body", t_b64body),
    ("multipart", t_multipart),
    ("http_date", t_http_date),
    ("www_authenticate", t_www_authenticate),
    ("coap", t_coap),
    ("coap_links", t_coap_links),
    ("multipart_core", t_multipart_core),
)


def target(name):
    for n, fn in TARGETS:
        if n == name:
            return fn
    raise KeyError(name)


def run(name, data):
    """Feed data to one target. Returns "ok" (accepted) or "refused" (an
    EstError); anything else propagates."""
    try:
        target(name)(data)
    except EstError:
        return "refused"
    return "ok"
