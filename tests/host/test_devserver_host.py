"""The development EST server, checked with independent clients: raw TLS
sockets with a hand-written HTTP reader, curl and the openssl command, and
cryptography for the issued certificates."""

import base64
import datetime
import email.utils
import hashlib
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AttributeOID, NameOID

from host_tools.devserver import DevServer

# RFC 7030 section 4.5.2, the example /csrattrs body.
RFC7030_CSRATTRS = ("MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJ"
                    "BgcrBgEBAQEWBggqhkjOPQQDAw==")


@pytest.fixture
def srv():
    s = DevServer()
    s.add_user("dev", "secret")
    s.start()
    yield s
    s.stop()
    assert s.errors == [], s.errors[0]


# --- an independent HTTPS client ------------------------------------------------


class Reply:
    def __init__(self, raw):
        self.raw = raw
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split()[1])
        self.headers = [(k.strip(), v.strip()) for k, _, v in (l.partition(":") for l in lines[1:])]
        self.wire_body = rest
        if "chunked" in (self.header("transfer-encoding") or ""):
            out, pos = b"", 0
            while True:
                eol = rest.index(b"\r\n", pos)
                n = int(rest[pos:eol], 16)
                if n == 0:
                    break
                out += rest[eol + 2:eol + 2 + n]
                assert rest[eol + 2 + n:eol + 4 + n] == b"\r\n"
                pos = eol + 4 + n
            self.body = out
        elif self.header("content-length") is not None:
            n = int(self.header("content-length"))
            assert len(rest) == n, "body length %d != Content-Length %d" % (len(rest), n)
            self.body = rest
        else:
            self.body = rest

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def der(self):
        return base64.b64decode(b"".join(self.body.rstrip(b"\0").split()), validate=True)


def client_ctx(ca_der, cert=None, tmp=None, tls_max=None, tls_min=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=ca_der)
    if tls_max:
        ctx.maximum_version = tls_max
    if tls_min:
        ctx.minimum_version = tls_min
    if cert:
        cert_der, key_der = cert
        cf, kf = tmp / "c.pem", tmp / "k.pem"
        cf.write_bytes(ssl.DER_cert_to_PEM_cert(cert_der).encode())
        key = serialization.load_der_private_key(key_der, None)
        kf.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
        ctx.load_cert_chain(str(cf), str(kf))
    return ctx


def request(srv, method, path, body=b"", headers=(), ctx=None, host="127.0.0.1", on_tls=None):
    ctx = ctx or client_ctx(srv.ca_der)
    with socket.create_connection((host, srv.port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=host) as t:
            if on_tls is not None:
                body = on_tls(t)
            head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n" % (method, path, host, srv.port)
            if body:
                head += "Content-Type: application/pkcs10\r\nContent-Length: %d\r\n" % len(body)
            for k, v in headers:
                head += "%s: %s\r\n" % (k, v)
            t.sendall(head.encode() + b"\r\n" + body)
            data = b""
            while True:
                try:
                    chunk = t.recv(65536)
                except (ssl.SSLEOFError, ConnectionResetError):
                    break
                if not chunk:
                    break
                data += chunk
    return Reply(data)


def wait_for(cond, timeout=3.0):
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)
    return cond()


def est(srv, op, label=None):
    return "/.well-known/est/" + (label + "/" if label else "") + op


def make_csr(cn="dev1", dns=("dev1.local",), key=None, challenge=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    if challenge is not None:
        b = b.add_attribute(AttributeOID.CHALLENGE_PASSWORD, challenge)
    csr = b.sign(key, hashes.SHA256())
    return key, csr.public_bytes(serialization.Encoding.DER)


def b64body(der):
    s = base64.b64encode(der).decode()
    return ("\n".join(s[i:i + 64] for i in range(0, len(s), 64)) + "\n").encode()


def basic(user, pw):
    return ("Authorization", "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode())


def certs_of(der):
    """Certificates of a certs-only PKCS#7, in wire order (asn1crypto, which,
    like OpenSSL, accepts an unsorted SET)."""
    info = cms.ContentInfo.load(der)
    assert info["content_type"].native == "signed_data"
    sd = info["content"]
    assert len(sd["signer_infos"]) == 0
    return [x509.load_der_x509_certificate(c.chosen.dump()) for c in sd["certificates"]]


def issued_cert(reply):
    assert reply.status == 200, reply.raw[:300]
    assert reply.header("content-type").startswith("application/pkcs7-mime")
    certs = certs_of(reply.der())
    assert len(certs) >= 1
    return certs[-1]


def same_key(cert, key):
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(serialization.Encoding.DER, spki) == \
        key.public_key().public_bytes(serialization.Encoding.DER, spki)


def enroll(srv, csr_der, label=None, auth=("dev", "secret"), **kw):
    headers = [basic(*auth)] if auth else []
    return request(srv, "POST", est(srv, "simpleenroll", label), b64body(csr_der), headers, **kw)


# --- TLS and /cacerts --------------------------------------------------------------


def test_tls_server_certificate_names_and_trust(srv):
    for host in ("127.0.0.1", "localhost"):
        r = request(srv, "GET", est(srv, "cacerts"), host=host)
        assert r.status == 200
    other = DevServer()        # a different CA must not be accepted
    with pytest.raises(ssl.SSLCertVerificationError):
        request(srv, "GET", est(srv, "cacerts"), ctx=client_ctx(other.ca_der))
    assert srv.requests[-1].path == est(srv, "cacerts")
    assert len(srv.requests) == 2
    assert wait_for(lambda: srv.tls_errors), "the refused handshake is logged"


def test_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    with DevServer(host="::1") as s:
        assert s.url.startswith("https://[::1]:")
        assert request(s, "GET", est(s, "cacerts"), host="::1").status == 200


def test_server_names_can_exclude_the_address():
    with DevServer(server_names=["example.test"]) as s:
        with pytest.raises(ssl.SSLCertVerificationError):
            request(s, "GET", est(s, "cacerts"))


def test_cacerts_single_root(srv, tmp_path):
    r = request(srv, "GET", est(srv, "cacerts"))
    assert r.header("content-type") == "application/pkcs7-mime"
    assert r.header("content-transfer-encoding") == "base64"
    der = r.der()
    certs = certs_of(der)
    assert len(certs) == 1
    root = certs[0].public_bytes(serialization.Encoding.DER)
    assert root == srv.ca_der
    assert hashlib.sha256(root).digest() == srv.ca_fingerprint
    assert srv.ca_fingerprint_hex == hashlib.sha256(root).hexdigest()
    # openssl agrees that it is a certs-only PKCS#7 holding the root
    p = tmp_path / "c.p7"
    p.write_bytes(der)
    out = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-in", str(p), "-print_certs", "-noout"],
                         capture_output=True, text=True, check=True).stdout
    assert "tinyest dev root CA" in out


def test_cacerts_issuing_ca_plus_root_and_chain():
    with DevServer(intermediate=True) as s:
        s.add_user("dev", "secret")
        certs = certs_of(request(s, "GET", est(s, "cacerts")).der())
        assert len(certs) == 2
        issuing, root = certs
        assert root.public_bytes(serialization.Encoding.DER) == s.ca_der
        issuing.verify_directly_issued_by(root)
        _, csr = make_csr()
        cert = issued_cert(enroll(s, csr))
        cert.verify_directly_issued_by(issuing)


def test_rsa_ca():
    with DevServer(key_type="rsa") as s:
        s.add_user("dev", "secret")
        root = x509.load_der_x509_certificate(s.ca_der)
        assert isinstance(root.public_key(), rsa.RSAPublicKey)
        key, csr = make_csr()
        cert = issued_cert(enroll(s, csr))
        cert.verify_directly_issued_by(root)
        assert same_key(cert, key)


def test_workdir_keeps_the_ca(tmp_path):
    with DevServer(workdir=str(tmp_path)) as a:
        fp = a.ca_fingerprint
    with DevServer(workdir=str(tmp_path)) as b:
        assert b.ca_fingerprint == fp
        assert request(b, "GET", est(b, "cacerts")).status == 200
    assert (tmp_path / "ca" / "root-key.pem").stat().st_mode & 0o077 == 0


# --- simpleenroll and authentication ----------------------------------------------


def test_enroll_basic(srv):
    key, csr = make_csr("dev1", ("dev1.local",))
    r = request(srv, "POST", est(srv, "simpleenroll"), b64body(csr))
    assert r.status == 401
    assert r.header("www-authenticate") == 'Basic realm="tinyest"'
    assert r.body == b""
    assert srv.requests[-1].authorization is False
    r = enroll(srv, csr)
    assert r.header("content-type") == "application/pkcs7-mime; smime-type=certs-only"
    cert = issued_cert(r)
    assert same_key(cert, key)
    cert.verify_directly_issued_by(x509.load_der_x509_certificate(srv.ca_der))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "dev1"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["dev1.local"]
    log = srv.requests[-1]
    assert (log.operation, log.authorization, log.auth_scheme, log.user, log.status) == \
        ("simpleenroll", True, "basic", "dev", 200)
    assert srv.issued[-1] == cert.public_bytes(serialization.Encoding.DER)


def test_wrong_password_challenge_style(srv):
    _, csr = make_csr()
    r = enroll(srv, csr, auth=("dev", "wrong"))
    assert r.status == 401 and r.header("www-authenticate") and r.body == b""
    r = enroll(srv, csr, auth=("nobody", "secret"))
    assert r.status == 401


def test_wrong_password_text_style(srv):
    srv.set_habits(auth_failure="text")
    _, csr = make_csr()
    assert request(srv, "POST", est(srv, "simpleenroll"), b64body(csr)).header("www-authenticate")
    r = enroll(srv, csr, auth=("dev", "wrong"))
    assert r.status == 401
    assert r.header("www-authenticate") is None
    assert r.header("connection") == "close"
    assert r.body.startswith(b"Unauthorized")


def _digest_header(challenge, user, pw, method, uri, nc=1, cnonce="0a4f113b"):
    p = {k: a or b for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', challenge)}
    alg = p.get("algorithm", "MD5")
    H = (lambda s: hashlib.md5(s.encode()).hexdigest()) if alg == "MD5" else \
        (lambda s: hashlib.sha256(s.encode()).hexdigest())
    ha1 = H("%s:%s:%s" % (user, p["realm"], pw))
    ha2 = H("%s:%s" % (method, uri))
    ncs = "%08x" % nc
    resp = H("%s:%s:%s:%s:auth:%s" % (ha1, p["nonce"], ncs, cnonce, ha2))
    return ("Authorization", 'Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s, '
            'qop=auth, nc=%s, cnonce="%s", response="%s", opaque="%s"'
            % (user, p["realm"], p["nonce"], uri, alg, ncs, cnonce, resp, p.get("opaque", "")))


@pytest.mark.parametrize("alg", ["SHA-256", "MD5"])
def test_enroll_digest(srv, alg):
    srv.set_habits(auth="digest")
    key, csr = make_csr()
    uri = est(srv, "simpleenroll")
    r = request(srv, "POST", uri, b64body(csr))
    assert r.status == 401
    chal = r.header_all("www-authenticate")
    assert [re.search(r"algorithm=([\w-]+)", c).group(1) for c in chal] == ["SHA-256", "MD5"]
    assert all(c.startswith("Digest ") and 'qop="auth"' in c for c in chal)
    c = [c for c in chal if "algorithm=%s" % alg in c][0]
    r = request(srv, "POST", uri, b64body(csr), [_digest_header(c, "dev", "secret", "POST", uri)])
    assert same_key(issued_cert(r), key)
    assert srv.requests[-1].auth_scheme == "digest"
    # the same nonce count again is a replay: refused with a fresh, stale challenge
    r = request(srv, "POST", uri, b64body(csr), [_digest_header(c, "dev", "secret", "POST", uri)])
    assert r.status == 401 and "stale=true" in r.header("www-authenticate")
    # a higher count is fine; a wrong password is not
    assert request(srv, "POST", uri, b64body(csr), [_digest_header(c, "dev", "secret", "POST", uri, 2)]).status == 200
    assert request(srv, "POST", uri, b64body(csr), [_digest_header(c, "dev", "bad", "POST", uri, 3)]).status == 401
    # an unknown nonce asks again with stale=true
    fake = c.replace(re.search(r'nonce="(\w+)"', c).group(1), "00" * 16)
    r = request(srv, "POST", uri, b64body(csr), [_digest_header(fake, "dev", "secret", "POST", uri)])
    assert r.status == 401 and "stale=true" in r.header("www-authenticate")


def test_digest_only_server_refuses_basic(srv):
    srv.set_habits(auth="digest-md5")
    _, csr = make_csr()
    assert enroll(srv, csr).status == 401


def test_bearer_token(srv):
    srv.set_habits(auth=("bearer", "basic"))
    srv.add_token("t0k3n")
    _, csr = make_csr()
    r = request(srv, "POST", est(srv, "simpleenroll"), b64body(csr))
    assert r.header_all("www-authenticate") == ['Bearer realm="tinyest"', 'Basic realm="tinyest"']
    r = request(srv, "POST", est(srv, "simpleenroll"), b64body(csr), [("Authorization", "Bearer t0k3n")])
    assert r.status == 200
    r = request(srv, "POST", est(srv, "simpleenroll"), b64body(csr), [("Authorization", "Bearer nope")])
    assert r.status == 401


def test_one_time_password_consumed(srv):
    srv.add_user("otp", "x1", one_time=True)
    _, csr = make_csr()
    assert enroll(srv, csr, auth=("otp", "x1")).status == 200
    assert "otp" not in srv.users()
    assert enroll(srv, csr, auth=("otp", "x1")).status == 401
    assert enroll(srv, csr).status == 200          # a normal user stays
    assert enroll(srv, csr).status == 200


def test_enroll_with_factory_idevid(srv, tmp_path):
    cert_der, key_der = srv.make_idevid("factory-0001", serial_number="0001")
    key, csr = make_csr()
    r = enroll(srv, csr, auth=None, ctx=client_ctx(srv.ca_der, (cert_der, key_der), tmp_path))
    assert same_key(issued_cert(r), key)
    log = srv.requests[-1]
    assert log.authorization is False and "CN=factory-0001" in log.client_cert_subject
    srv.set_habits(enroll_auth="password")
    r = enroll(srv, csr, auth=None, ctx=client_ctx(srv.ca_der, (cert_der, key_der), tmp_path))
    assert r.status == 401
    srv.set_habits(enroll_auth="cert")
    assert enroll(srv, csr).status == 403


def test_bad_csr_is_400(srv):
    _, csr = make_csr()
    bad = bytearray(csr)
    bad[-5] ^= 1                                     # inside the signature
    assert enroll(srv, bytes(bad)).status == 400
    assert enroll(srv, b"\x30\x03\x02\x01\x00").status == 400
    r = request(srv, "POST", est(srv, "simpleenroll"), b"not base64 !!\n", [basic("dev", "secret")])
    assert r.status == 400


def test_request_body_forms(srv):
    key, csr = make_csr()
    one_line = base64.b64encode(csr)
    for body in (one_line, one_line + b"\n", b64body(csr).replace(b"\n", b"\r\n"), csr):
        r = request(srv, "POST", est(srv, "simpleenroll"), body, [basic("dev", "secret")])
        assert r.status == 200, body[:20]
    srv.set_habits(request_body="strict")
    for body, status in ((one_line, 400), (csr, 400), (one_line + b"\n", 200), (b64body(csr), 200)):
        r = request(srv, "POST", est(srv, "simpleenroll"), body, [basic("dev", "secret")])
        assert r.status == status, body[:20]


def test_chunked_request_body(srv):
    _, csr = make_csr()
    body = b64body(csr)
    ctx = client_ctx(srv.ca_der)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s, \
            ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n%s: %s\r\n\r\n"
                % ((est(srv, "simpleenroll"),) + basic("dev", "secret")))
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 100]), body[i:i + 100]) for i in range(0, len(body), 100))
        t.sendall(head.encode() + chunks + b"0\r\n\r\n")
        data = b""
        while True:
            c = t.recv(65536)
            if not c:
                break
            data += c
    assert Reply(data).status == 200


def test_pop_tls_unique():
    with DevServer(tls12_only=True, pop="require") as s:
        s.add_user("dev", "secret")
        key = ec.generate_private_key(ec.SECP256R1())

        def bound_csr(t):
            cb = t.get_channel_binding("tls-unique")
            return b64body(make_csr(key=key, challenge=base64.b64encode(cb))[1])

        r = request(s, "POST", est(s, "simpleenroll"), headers=[basic("dev", "secret")], on_tls=bound_csr)
        assert same_key(issued_cert(r), key)
        _, other = make_csr(key=key, challenge=base64.b64encode(b"x" * 12))
        assert enroll(s, other).status == 400
        _, plain = make_csr(key=key)
        assert enroll(s, plain).status == 400
        s.set_habits(pop="check")
        assert enroll(s, plain).status == 200


# --- simplereenroll ---------------------------------------------------------------


def test_reenroll_checks_identity(srv, tmp_path):
    cert_der, key_der = srv.make_cert("dev1", dns=("dev1.local",))
    ctx = client_ctx(srv.ca_der, (cert_der, key_der), tmp_path)
    uri = est(srv, "simplereenroll")
    key, same = make_csr("dev1", ("dev1.local",))
    r = request(srv, "POST", uri, b64body(same), ctx=ctx)
    cert = issued_cert(r)
    assert same_key(cert, key)
    log = srv.requests[-1]
    assert log.client_cert == cert_der and log.authorization is False
    _, other_cn = make_csr("dev2", ("dev1.local",))
    _, other_san = make_csr("dev1", ("dev9.local",))
    _, no_san = make_csr("dev1", ())
    for csr in (other_cn, other_san, no_san):
        assert request(srv, "POST", uri, b64body(csr), ctx=ctx).status == 403
    srv.set_habits(reenroll_check=False)
    assert request(srv, "POST", uri, b64body(other_cn), ctx=ctx).status == 200


def test_reenroll_needs_a_certificate_of_this_ca(srv, tmp_path):
    _, csr = make_csr("dev1", ("dev1.local",))
    uri = est(srv, "simplereenroll")
    assert request(srv, "POST", uri, b64body(csr), [basic("dev", "secret")]).status == 403
    idevid = srv.make_idevid("dev1")
    r = request(srv, "POST", uri, b64body(csr), ctx=client_ctx(srv.ca_der, idevid, tmp_path))
    assert r.status == 403


def test_reenroll_with_enrolled_certificate(srv, tmp_path):
    """The certificate issued over EST works as the client certificate."""
    key, csr = make_csr("dev5", ("dev5.local",))
    cert = issued_cert(enroll(srv, csr))
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    ctx = client_ctx(srv.ca_der, (cert.public_bytes(serialization.Encoding.DER), key_der), tmp_path)
    key2, csr2 = make_csr("dev5", ("dev5.local",))
    r = request(srv, "POST", est(srv, "simplereenroll"), b64body(csr2), ctx=ctx)
    assert same_key(issued_cert(r), key2)


# --- labels, deferred, csrattrs, serverkeygen -------------------------------------


def test_labels_have_their_own_ca(srv):
    srv.add_label("iot")
    srv.add_label("rsa", key_type="rsa", intermediate=True)
    roots = {}
    for label in ("iot", "rsa", None):
        certs = certs_of(request(srv, "GET", est(srv, "cacerts", label)).der())
        roots[label] = certs[-1]
    assert len({c.subject for c in roots.values()}) == 3
    assert roots[None].public_bytes(serialization.Encoding.DER) == srv.ca_der
    assert srv.cacerts_der("rsa") == [c.public_bytes(serialization.Encoding.DER)
                                      for c in certs_of(request(srv, "GET", est(srv, "cacerts", "rsa")).der())]
    _, csr = make_csr()
    cert = issued_cert(enroll(srv, csr, label="iot"))
    cert.verify_directly_issued_by(roots["iot"])
    assert srv.requests[-1].label == "iot"
    assert request(srv, "GET", est(srv, "cacerts", "nope")).status == 404
    assert request(srv, "GET", "/.well-known/est/a/b/cacerts").status == 404
    assert request(srv, "GET", est(srv, "frobnicate")).status == 404
    assert request(srv, "POST", est(srv, "cacerts"), b"x").status == 405
    assert request(srv, "POST", est(srv, "fullcmc"), b"x").status == 501


@pytest.mark.parametrize("as_date", [False, True])
def test_deferred_then_issued(srv, as_date):
    srv.set_habits(deferred=1, retry_after=600, retry_after_date=as_date)
    key, csr = make_csr()
    srv.add_user("otp", "p", one_time=True)
    r = enroll(srv, csr, auth=("otp", "p"))
    assert r.status == 202
    ra = r.header("retry-after")
    if as_date:
        when = email.utils.parsedate_to_datetime(ra)
        delta = (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        assert 590 < delta <= 601
    else:
        assert ra == "600"
    assert "otp" in srv.users(), "a pending request does not consume the one-time password"
    _, other = make_csr()
    assert enroll(srv, other, auth=("otp", "p")).status == 202   # every CSR waits its turn
    assert same_key(issued_cert(enroll(srv, csr, auth=("otp", "p"))), key)
    assert "otp" not in srv.users()


def test_csrattrs_modes(srv):
    r = request(srv, "GET", est(srv, "csrattrs"))
    assert r.status == 200 and r.header("content-type") == "application/csrattrs"
    from asn1crypto.core import Sequence  # an independent DER parser
    parsed = Sequence.load(r.der())
    assert len(parsed) == 2
    srv.set_habits(csrattrs="empty")
    assert request(srv, "GET", est(srv, "csrattrs")).body.strip() == b"MAA="
    srv.set_habits(csrattrs="rfc7030", b64_wrap=0)
    assert request(srv, "GET", est(srv, "csrattrs")).body.strip() == RFC7030_CSRATTRS.encode()
    srv.set_habits(csrattrs="none")
    for framing in ("length", "chunked"):
        srv.set_habits(framing=framing)
        r = request(srv, "GET", est(srv, "csrattrs"))
        assert r.status == 204 and r.wire_body == b""
        assert r.header("content-length") is None and r.header("transfer-encoding") is None
    srv.set_habits(framing="length")
    srv.set_habits(csrattrs="404")
    assert request(srv, "GET", est(srv, "csrattrs")).status == 404
    srv.set_habits(csrattrs=b"\x30\x00")
    assert request(srv, "GET", est(srv, "csrattrs")).der() == b"\x30\x00"
    with pytest.raises(ValueError):
        srv.set_habits(csrattrs="bogus")


def _multipart(reply):
    ctype = reply.header("content-type")
    m = re.match(r"multipart/mixed;\s*boundary=(\S+)", ctype)
    assert m, ctype
    delim = b"--" + m.group(1).encode()
    parts = reply.body.split(delim)
    assert parts[0] in (b"", b"\r\n", b"\n") and parts[-1].strip() == b"--"
    out = []
    for part in parts[1:-1]:
        part = part.lstrip(b"\r\n")
        sep = b"\r\n\r\n" if b"\r\n\r\n" in part else b"\n\n"
        head, _, body = part.partition(sep)
        headers = dict((k.strip().lower(), v.strip()) for k, _, v in
                       (l.partition(":") for l in head.decode().splitlines()))
        out.append((headers, base64.b64decode(b"".join(body.split()), validate=True)))
    return out


def test_serverkeygen_pkcs8(srv):
    _, csr = make_csr("kg1", ("kg1.local",))
    r = request(srv, "POST", est(srv, "serverkeygen"), b64body(csr), [basic("dev", "secret")])
    assert r.status == 200
    (kh, key_der), (ch, p7) = _multipart(r)
    assert kh["content-type"] == "application/pkcs8"
    assert ch["content-type"] == "application/pkcs7-mime; smime-type=certs-only"
    key = serialization.load_der_private_key(key_der, None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert key_der == key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    cert = certs_of(p7)[0]
    assert same_key(cert, key)
    assert cert.subject.rfc4514_string() == "CN=kg1"


def test_serverkeygen_pkcs1_mislabelled(srv):
    srv.set_habits(keygen_pkcs1=True, multipart_eol="\n", cte=False)
    _, csr = make_csr()
    r = request(srv, "POST", est(srv, "serverkeygen"), b64body(csr), [basic("dev", "secret")])
    assert b"\r\n" not in r.body
    (kh, key_der), (_, p7) = _multipart(r)
    assert kh["content-type"] == "application/pkcs8"
    assert "content-transfer-encoding" not in kh
    key = serialization.load_der_private_key(key_der, None)
    assert key_der == key.private_bytes(serialization.Encoding.DER,
                                        serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption())
    assert same_key(certs_of(p7)[0], key)


def test_serverkeygen_ec_key(srv):
    srv.set_habits(keygen_key="ec")
    _, csr = make_csr()
    r = request(srv, "POST", est(srv, "serverkeygen"), b64body(csr), [basic("dev", "secret")])
    (_, key_der), (_, p7) = _multipart(r)
    key = serialization.load_der_private_key(key_der, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert same_key(certs_of(p7)[0], key)


# --- habits on the wire ----------------------------------------------------------


def _b64_lines(srv):
    return request(srv, "GET", est(srv, "cacerts")).body


def test_base64_wrapping_styles(srv):
    body = _b64_lines(srv)
    lines = body.split(b"\n")
    assert body.endswith(b"\n") and b"\r" not in body
    assert all(len(l) == 64 for l in lines[:-2]) and 0 < len(lines[-2]) <= 64
    srv.set_habits(b64_wrap=76, b64_eol="\r\n")
    body = _b64_lines(srv)
    lines = body.split(b"\r\n")
    assert body.endswith(b"\r\n") and all(len(l) == 76 for l in lines[:-2])
    assert b"\n" not in body.replace(b"\r\n", b"")
    srv.set_habits(b64_wrap=0, b64_final_eol=False)
    body = _b64_lines(srv)
    assert b"\n" not in body and b"\r" not in body
    assert certs_of(base64.b64decode(body))
    srv.set_habits(b64_nul=True)
    assert _b64_lines(srv).endswith(b"=\0") or _b64_lines(srv)[-1:] == b"\0"


def test_framing_chunked(srv):
    srv.set_habits(framing="chunked", chunk_size=100)
    r = request(srv, "GET", est(srv, "cacerts"))
    assert r.header("transfer-encoding") == "chunked" and r.header("content-length") is None
    assert r.wire_body.startswith(b"64\r\n") and r.wire_body.endswith(b"\r\n0\r\n\r\n")
    assert certs_of(r.der())


def test_framing_close_delimited(srv):
    srv.set_habits(framing="close", http10=True)
    r = request(srv, "GET", est(srv, "cacerts"))
    assert r.status_line.startswith("HTTP/1.0 200")
    assert r.header("content-length") is None and r.header("transfer-encoding") is None
    assert r.header("connection") == "close"
    assert certs_of(r.der())


def test_keep_alive_serves_several_requests(srv):
    ctx = client_ctx(srv.ca_der)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s, \
            ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
        f = t.makefile("rb")
        for _ in range(3):
            t.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % est(srv, "cacerts")).encode())
            assert f.readline().startswith(b"HTTP/1.1 200")
            n = None
            while True:
                line = f.readline()
                if line == b"\r\n":
                    break
                k, _, v = line.decode().partition(":")
                if k.lower() == "content-length":
                    n = int(v)
            assert len(f.read(n)) == n
    assert len(srv.requests) == 3


def test_header_case_and_extra_headers(srv):
    srv.set_habits(header_case="title", auth="basic")
    _, csr = make_csr()
    r = request(srv, "POST", est(srv, "simpleenroll"), b64body(csr))
    assert b"\r\nWww-Authenticate: Basic" in r.raw
    srv.set_habits(header_case="lower", cte=False, cgi_status=True, hsts=True)
    r = request(srv, "GET", est(srv, "cacerts"))
    names = [k for k, _ in r.headers]
    assert all(k == k.lower() for k in names)
    assert "content-transfer-encoding" not in names
    assert names[0] == "status" and r.header("status") == "200 OK"
    assert r.header("strict-transport-security").startswith("max-age=")
    srv.set_habits(header_case="upper")
    r = request(srv, "GET", est(srv, "cacerts"))
    assert b"\r\nCONTENT-TYPE: application/pkcs7-mime\r\n" in r.raw


def test_huge_and_endless_bodies(srv):
    srv.set_habits(huge_body=300000)
    r = request(srv, "GET", est(srv, "cacerts"))
    assert int(r.header("content-length")) == 300000
    srv.set_habits(huge_body=0, endless=True, framing="close")
    ctx = client_ctx(srv.ca_der)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s, \
            ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
        t.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % est(srv, "cacerts")).encode())
        got = 0
        while got < 1 << 20:
            got += len(t.recv(65536))
    assert got >= 1 << 20
    # the server stays healthy after the client walked away
    srv.set_habits(endless=False)
    assert request(srv, "GET", est(srv, "cacerts")).status == 200


def test_redirect(srv):
    srv.set_habits(redirects={est(srv, "cacerts"): est(srv, "cacerts", "iot")})
    r = request(srv, "GET", est(srv, "cacerts"))
    assert r.status == 307 and r.header("location") == "/.well-known/est/iot/cacerts"


def test_tls12_only_and_default_tls13(srv):
    assert request(srv, "GET", est(srv, "cacerts")).status == 200
    assert srv.requests[-1].tls_version == "TLSv1.3"
    srv.set_habits(tls12_only=True)
    assert request(srv, "GET", est(srv, "cacerts")).status == 200
    assert srv.requests[-1].tls_version == "TLSv1.2"
    with pytest.raises(ssl.SSLError):
        request(srv, "GET", est(srv, "cacerts"),
                ctx=client_ctx(srv.ca_der, tls_min=ssl.TLSVersion.TLSv1_3))


def test_alpn_offer_is_logged(srv):
    srv.set_habits(alpn=("h2", "http/1.1"))
    ctx = client_ctx(srv.ca_der)
    assert request(srv, "GET", est(srv, "cacerts"), ctx=ctx).status == 200
    assert srv.requests[-1].alpn is None
    ctx = client_ctx(srv.ca_der)
    ctx.set_alpn_protocols(["http/1.1"])
    request(srv, "GET", est(srv, "cacerts"), ctx=ctx)
    assert srv.requests[-1].alpn == "http/1.1"


def test_client_certificate_request_without_ca_names(srv):
    def s_client():
        return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port, "-tls1_2"],
                              input="", capture_output=True, text=True, timeout=10).stdout
    out = s_client()
    assert "Client Certificate Types" in out                  # a CertificateRequest came
    assert "No client certificate CA names sent" in out
    srv.set_habits(client_auth="none")
    assert "Client Certificate Types" not in s_client()


def test_der_sets_sorted(srv):
    srv.add_label("i", intermediate=True)
    wire = [c.public_bytes(serialization.Encoding.DER)
            for c in certs_of(request(srv, "GET", est(srv, "cacerts", "i")).der())]
    assert wire == srv.cacerts_der("i")
    srv.set_habits(der_sets=True)
    der = request(srv, "GET", est(srv, "cacerts", "i")).der()
    assert [c.public_bytes(serialization.Encoding.DER) for c in certs_of(der)] == sorted(wire)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # cryptography's strict DER reader is content
        assert len(pkcs7.load_der_pkcs7_certificates(der)) == 2


def test_enroll_chain_and_bad_issuance_switches(srv):
    srv.set_habits(enroll_chain=True)
    key, csr = make_csr()
    certs = certs_of(enroll(srv, csr).der())
    assert len(certs) == 2 and same_key(certs[-1], key)
    assert certs[0].public_bytes(serialization.Encoding.DER) == srv.ca_der
    srv.set_habits(enroll_chain=False, issue_wrong_key=True)
    assert not same_key(issued_cert(enroll(srv, csr)), key)
    srv.set_habits(issue_wrong_key=False, issue_foreign_ca=True)
    cert = issued_cert(enroll(srv, csr))
    assert same_key(cert, key)
    with pytest.raises(Exception):
        cert.verify_directly_issued_by(x509.load_der_x509_certificate(srv.ca_der))


def test_unknown_habit_rejected(srv):
    with pytest.raises(ValueError):
        srv.set_habits(framing="smoke-signals")
    with pytest.raises(ValueError):
        srv.set_habits(no_such_habit=1)
    with pytest.raises(ValueError):
        srv.set_habits(auth=("ntlm",))


# --- rollover --------------------------------------------------------------------


def test_rollover_links_and_tls(srv, tmp_path):
    old_der = srv.ca_der
    old = x509.load_der_x509_certificate(old_der)
    before = srv.make_cert("dev1", dns=("dev1.local",))
    srv.rollover()
    new = x509.load_der_x509_certificate(srv.ca_der)
    assert new.subject != old.subject
    certs = certs_of(request(srv, "GET", est(srv, "cacerts"), ctx=client_ctx(srv.ca_der)).der())
    assert len(certs) == 3
    root, old_with_new, new_with_old = certs
    assert root.public_bytes(serialization.Encoding.DER) == srv.ca_der
    assert old_with_new.public_key() == old.public_key()
    old_with_new.verify_directly_issued_by(new)
    assert new_with_old.public_key() == new.public_key()
    new_with_old.verify_directly_issued_by(old)
    # a client still trusting the old root reaches the server through NewWithOld
    assert request(srv, "GET", est(srv, "cacerts"), ctx=client_ctx(old_der)).status == 200
    # new enrollments come from the new root; certificates of the old one still reenroll
    key, csr = make_csr()
    issued_cert(enroll(srv, csr)).verify_directly_issued_by(new)
    _, same = make_csr("dev1", ("dev1.local",))
    r = request(srv, "POST", est(srv, "simplereenroll"), b64body(same),
                ctx=client_ctx(srv.ca_der, before, tmp_path))
    issued_cert(r).verify_directly_issued_by(new)


def test_curl_enrolls_with_basic_and_digest(srv, tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    srv.set_habits(auth=("digest", "basic"))
    ta = tmp_path / "ta.pem"
    ta.write_text(ssl.DER_cert_to_PEM_cert(srv.ca_der))
    csr_file = tmp_path / "csr.b64"
    key, csr = make_csr()
    csr_file.write_bytes(b64body(csr))
    for mode in ("--digest", "--basic"):
        out = subprocess.run(["curl", "-sS", "--fail", "--cacert", str(ta), mode, "-u", "dev:secret",
                              "-H", "Content-Type: application/pkcs10", "--data-binary", "@" + str(csr_file),
                              srv.url_for("simpleenroll")], capture_output=True, timeout=20)
        assert out.returncode == 0, out.stderr
        cert = certs_of(base64.b64decode(b"".join(out.stdout.split())))[0]
        assert same_key(cert, key)
    assert [r.auth_scheme for r in srv.requests if r.status == 200] == ["digest", "basic"]


def test_clock_hook_dates_everything_and_lifts_the_tls_date_check(tmp_path):
    # A fake clock ten days back: the CA, the Date and Retry-After headers and the
    # issued certificates follow it, and a client certificate that expired by the
    # real clock (but not by the fake one) still authenticates.
    from host_tools.devserver import clock

    fake = int(time.time()) - 10 * 86400
    with clock.following(lambda: fake):
        with DevServer(deferred=1, retry_after=60, retry_after_date=True) as s:
            root = x509.load_der_x509_certificate(s.ca_der)
            assert root.not_valid_before_utc.timestamp() == fake - 300
            expired = s.make_cert("old-device", factory=True, lifetime=86400)
            key, csr = make_csr()
            ctx = client_ctx(s.ca_der, expired, tmp_path)
            r = enroll(s, csr, auth=None, ctx=ctx)
            assert r.status == 202, s.tls_errors
            assert r.header("date") == email.utils.formatdate(fake, usegmt=True)
            assert r.header("retry-after") == email.utils.formatdate(fake + 60, usegmt=True)
            r = enroll(s, csr, auth=None, ctx=ctx)
            assert issued_cert(r).not_valid_before_utc.timestamp() == fake
            assert s.requests[-1].client_cert_subject == "CN=old-device"
    with DevServer() as s:
        assert abs(x509.load_der_x509_certificate(s.ca_der).not_valid_before_utc.timestamp()
                   - (time.time() - 300)) < 60
