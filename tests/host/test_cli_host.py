"""The ``tinyest`` command, run as a subprocess: usage errors and exit codes,
the key and request tools, ``serve``, the EST operations against the dev
server, and ``demo``."""

import base64
import hashlib
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest

from host_tools import find_micropython
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from host_tools import cli, demo_runner, exitcodes, options
from host_tools.devserver import DevServer

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run(*args, timeout=60, input=None, env=None):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("TINYEST_SERVER", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "host_tools.cli"] + [str(a) for a in args],
                          capture_output=True, timeout=timeout, input=input, env=e, cwd=str(ROOT))


def pem_certs(data):
    return [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(data)]


# --- usage and exit codes ----------------------------------------------------------


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["enroll", "--server", "http://127.0.0.1:1"],
    ["enroll", "--server", "https://127.0.0.1:99999", "--cacert", "x"],
    ["enroll", "--server", "https://127.0.0.1/other/path", "--cacert", "x"],
    ["cacerts", "--server", "https://127.0.0.1:1"],
    ["cacerts", "--server", "https://127.0.0.1:1", "--fingerprint", "abcd"],
    ["csr", "--subject", "CN=x"],
    ["keygen", "--type", "dsa"],
    ["serve", "--habit", "framing=smoke"],
    ["serve", "--habit", "no_such=1"],
])
def test_usage_errors_exit_1(args):
    r = run(*args)
    assert r.returncode == exitcodes.EXIT_USAGE, r.stderr
    assert r.stderr.startswith(b"tinyest: ")
    assert b"Traceback" not in r.stderr


def test_missing_input_file_exit_4(tmp_path):
    r = run("csr", "--key", tmp_path / "nope.pem", "--subject", "CN=x")
    assert r.returncode == exitcodes.EXIT_INPUT
    assert r.stderr.startswith(b"tinyest: cannot read key file")
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    r = run("csr", "--key", junk, "--subject", "CN=x")
    assert r.returncode == exitcodes.EXIT_INPUT and b"Traceback" not in r.stderr


def test_parse_server():
    assert options.parse_server("https://est.example:8443/.well-known/est/iot") == ("est.example", 8443, "iot")
    assert options.parse_server("https://[::1]:9443") == ("::1", 9443, None)
    assert options.parse_server("est.example") == ("est.example", 443, None)
    assert options.parse_server("https://h/.well-known/est/", "a") == ("h", 443, "a")
    for bad in ("ftp://h", "https://h:0", "https://h:x", "https://:1", "https://h/est", "https://[::1"):
        with pytest.raises(options.UsageError):
            options.parse_server(bad)
    with pytest.raises(options.UsageError):
        options.parse_server("https://h/.well-known/est/a", "b")


def test_parse_subject():
    assert options.parse_subject("CN=dev,O=Example") == [("O", "Example"), ("CN", "dev")]
    assert options.parse_subject("/O=Example/CN=dev") == [("O", "Example"), ("CN", "dev")]
    assert options.parse_subject(r"CN=a\,b") == [("CN", "a,b")]
    assert options.parse_subject("") == []
    with pytest.raises(options.UsageError):
        options.parse_subject("CN")


def test_parse_habit():
    assert cli.parse_habit("framing=chunked") == ("framing", "chunked")
    assert cli.parse_habit("b64-wrap=76") == ("b64_wrap", 76)
    assert cli.parse_habit("b64_eol=crlf") == ("b64_eol", "\r\n")
    assert cli.parse_habit("hsts=yes") == ("hsts", True)
    assert cli.parse_habit("auth=digest,basic") == ("auth", ("digest", "basic"))


# --- key and request tools ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["p256", "p384", "ed25519"])
def test_keygen_csr_show(tmp_path, kind):
    key = tmp_path / "k.pem"
    assert run("keygen", "--type", kind, "--out", key).returncode == 0
    assert key.stat().st_mode & 0o077 == 0
    k = serialization.load_pem_private_key(key.read_bytes(), None)
    req = tmp_path / "r.der"
    r = run("csr", "--key", key, "--subject", "CN=dev1,O=Example", "--dns", "dev1.local",
            "--ip", "10.0.0.1", "--outform", "der", "--out", req)
    assert r.returncode == 0, r.stderr
    csr = x509.load_der_x509_csr(req.read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.rfc4514_string() == "CN=dev1,O=Example"
    assert csr.public_key() == k.public_key()
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["dev1.local"]
    assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.1"]
    out = run("show", key, req)
    assert out.returncode == 0
    text = out.stdout.decode()
    assert "certificate request" in text and "signature: valid" in text and "DNS:dev1.local" in text


def test_show_certificate_and_base64_body(tmp_path):
    srv = DevServer()
    cert = tmp_path / "ca.der"
    cert.write_bytes(srv.ca_der)
    body = tmp_path / "body.b64"
    from host_tools.devserver import certs_only
    body.write_bytes(base64.encodebytes(certs_only([srv.ca_der])))
    r = run("show", cert, body)
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode()
    assert text.count(srv.ca_fingerprint_hex) == 2
    assert "PKCS#7 certs-only, 1 certificate" in text and "CA: yes" in text


# --- serve --------------------------------------------------------------------------


def _read_until(proc, marker, timeout=20):
    lines = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline().decode()
        if not line:
            break
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError("no %r in %r" % (marker, lines))


def test_serve_foreground(tmp_path):
    ca = tmp_path / "ca.pem"
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.cli", "serve", "--port", "0",
                             "--user", "dev:pw", "--ca-out", str(ca), "--label", "iot",
                             "--habit", "framing=chunked"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, cwd=str(ROOT))
    try:
        lines = _read_until(proc, "users:")
        url = [l for l in lines if l.startswith("tinyest dev EST server at ")][0].split()[-1]
        fp = [l for l in lines if l.startswith("CA fingerprint")][0].split()[-1]
        assert any("label iot: %s/iot" % url in l for l in lines)
        ta_der = ssl.PEM_cert_to_DER_cert(ca.read_text())
        assert hashlib.sha256(ta_der).hexdigest() == fp
        port = int(url.split(":")[2].split("/")[0])
        ctx = ssl.create_default_context(cadata=ta_der)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s, \
                ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            t.sendall(b"GET /.well-known/est/iot/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                c = t.recv(65536)
                if not c:
                    break
                data += c
        assert data.startswith(b"HTTP/1.1 200") and b"Transfer-Encoding: chunked" in data
        log = _read_until(proc, "cacerts")
        assert "GET /.well-known/est/iot/cacerts -> 200" in log[-1]
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(10)
    assert rc == 0, proc.stderr.read()


def test_serve_port_in_use():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = run("serve", "--port", s.getsockname()[1], "--duration", "1")
    assert r.returncode == exitcodes.EXIT_INPUT and b"cannot listen" in r.stderr


# --- EST operations through the command -------------------------------------------


@pytest.fixture
def srv(tmp_path):
    s = DevServer(labels=["iot"], intermediate=True)
    s.add_user("dev", "secret")
    s.start()
    (tmp_path / "ca.pem").write_text(ssl.DER_cert_to_PEM_cert(s.ca_der))
    yield s
    s.stop()


def test_cacerts_with_anchor_and_bootstrap(srv, tmp_path):
    out = tmp_path / "cacerts.pem"
    r = run("cacerts", "--server", srv.url, "--cacert", tmp_path / "ca.pem", "--out", out)
    assert r.returncode == 0, r.stderr
    assert pem_certs(out.read_bytes()) == srv.cacerts_der()     # issuing CA and root
    r = run("cacerts", "--server", srv.url, "--fingerprint", srv.ca_fingerprint_hex)
    assert r.returncode == 0, r.stderr
    assert pem_certs(r.stdout) == srv.cacerts_der()
    der = tmp_path / "cacerts.p7"
    r = run("cacerts", "--server", srv.url, "--cacert", tmp_path / "ca.pem", "--outform", "der", "--out", der)
    assert r.returncode == 0, r.stderr
    printed = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-in", str(der), "-print_certs"],
                             capture_output=True, check=True).stdout
    assert pem_certs(printed) == srv.cacerts_der()
    r = run("cacerts", "--server", srv.url, "--fingerprint", "00" * 32)
    assert r.returncode == exitcodes.EXIT_EST, r.stderr
    assert r.stdout == b""


def test_wrong_anchor_is_exit_3_and_no_password_sent(srv, tmp_path):
    other = tmp_path / "other.pem"
    other.write_text(ssl.DER_cert_to_PEM_cert(DevServer().ca_der))
    r = run("enroll", "--server", srv.url, "--cacert", other, "--user", "dev:secret",
            "--new-key", tmp_path / "k.pem", "--subject", "CN=dev1")
    assert r.returncode == exitcodes.EXIT_NETWORK, r.stderr
    assert r.stderr.startswith(b"tinyest: ")
    assert not any(q.authorization for q in srv.requests)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = run("cacerts", "--server", "https://127.0.0.1:%d" % port, "--cacert", tmp_path / "ca.pem")
    assert r.returncode == exitcodes.EXIT_NETWORK


def test_enroll_reenroll_serverkeygen(srv, tmp_path):
    ca = tmp_path / "ca.pem"
    iot_ca = tmp_path / "iot.der"          # the label's CA is a root of its own: trust it too
    iot_ca.write_bytes(srv.cacerts_der("iot")[-1])
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    r = run("enroll", "--server", srv.url + "/iot", "--cacert", ca, "--cacert", iot_ca, "--user", "dev:secret",
            "--new-key", key, "--subject", "CN=dev1", "--dns", "dev1.local", "--out", cert)
    assert r.returncode == 0, r.stderr
    c = x509.load_pem_x509_certificate(cert.read_bytes())
    k = serialization.load_pem_private_key(key.read_bytes(), None)
    assert c.public_key() == k.public_key()
    c.verify_directly_issued_by(x509.load_der_x509_certificate(srv.cacerts_der("iot")[-1]))
    assert srv.requests[-1].label == "iot"
    # wrong password: exit 2
    r = run("enroll", "--server", srv.url, "--cacert", ca, "--user", "dev:nope",
            "--csr-key", key, "--subject", "CN=dev1")
    assert r.returncode == exitcodes.EXIT_EST, r.stderr
    # reenroll repeats subject and SAN (the server checks) with a new key
    new_key, new_cert = tmp_path / "k2.pem", tmp_path / "c2.pem"
    r = run("reenroll", "--server", srv.url, "--label", "iot", "--cacert", ca, "--cacert", iot_ca,
            "--cert", cert, "--key", key,
            "--new-key", new_key, "--out", new_cert, "--outform", "pem")
    assert r.returncode == 0, r.stderr
    c2 = x509.load_pem_x509_certificate(new_cert.read_bytes())
    assert c2.subject == c.subject
    assert c2.public_key() == serialization.load_pem_private_key(new_key.read_bytes(), None).public_key()
    assert srv.requests[-1].client_cert_subject == "CN=dev1"
    # serverkeygen: key and certificate written, they match
    sk, sc = tmp_path / "sk.der", tmp_path / "sc.der"
    r = run("serverkeygen", "--server", srv.url, "--cacert", ca, "--user", "dev:secret",
            "--subject", "CN=kg", "--key-out", sk, "--out", sc, "--outform", "der")
    assert r.returncode == 0, r.stderr
    kg = serialization.load_der_private_key(sk.read_bytes(), None)
    assert isinstance(kg, rsa.RSAPrivateKey)
    assert x509.load_der_x509_certificate(sc.read_bytes()).public_key() == kg.public_key()
    assert sk.stat().st_mode & 0o077 == 0


def test_reenroll_copies_names_byte_for_byte_for_a_strict_server(srv, tmp_path):
    # A server that wants the renewal's subject and subjectAltName identical to the
    # certificate's as DER (string types included): a PrintableString CN, and URI,
    # e-mail and IP names, which a rebuilt request would change or drop.
    import datetime
    import ipaddress

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    srv.set_habits(reenroll_check="strict")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dev-ps", _type=_ASN1Type.PrintableString)])
    sans = [x509.DNSName("dev-ps.example"), x509.UniformResourceIdentifier("urn:dev:ps"),
            x509.RFC822Name("dev@example.com"), x509.IPAddress(ipaddress.ip_address("192.0.2.9"))]
    cert = srv.ca.issue(name, key.public_key(), sans, 30 * 86400, eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    r = run("reenroll", "--server", srv.url, "--cacert", tmp_path / "ca.pem",
            "--cert", tmp_path / "c.pem", "--key", tmp_path / "k.pem",
            "--new-key", tmp_path / "k2.pem", "--out", tmp_path / "c2.pem")
    assert r.returncode == 0, r.stderr
    new = x509.load_pem_x509_certificate((tmp_path / "c2.pem").read_bytes())
    assert new.subject.public_bytes() == cert.subject.public_bytes()
    got = new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert got.public_bytes() == cert.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.public_bytes()
    # The habit really refuses a request with the same values in another string type.
    r = run("reenroll", "--server", srv.url, "--cacert", tmp_path / "ca.pem",
            "--cert", tmp_path / "c.pem", "--key", tmp_path / "k.pem", "--subject", "CN=dev-ps",
            "--dns", "dev-ps.example", "--ip", "192.0.2.9", "--out", tmp_path / "c3.pem")
    assert r.returncode == exitcodes.EXIT_EST and b"403" in r.stderr, r.stderr


def test_enroll_with_factory_certificate_and_usage_checked_first(srv, tmp_path):
    cert_der, key_der = srv.make_idevid("factory-7", serial_number="7")
    (tmp_path / "idevid.der").write_bytes(cert_der)
    (tmp_path / "idevid.key").write_bytes(key_der)
    common = ["enroll", "--server", srv.url, "--cacert", tmp_path / "ca.pem",
              "--cert", tmp_path / "idevid.der", "--key", tmp_path / "idevid.key"]
    r = run(*common, "--new-key", tmp_path / "k.pem")
    assert r.returncode == exitcodes.EXIT_USAGE and b"--subject" in r.stderr
    assert srv.requests == [], "a usage error is found before any network traffic"
    r = run(*common, "--new-key", tmp_path / "k.pem", "--subject", "CN=dev7", "--outform", "der",
            "--out", tmp_path / "c.der")
    assert r.returncode == 0, r.stderr
    issued = x509.load_der_x509_certificate((tmp_path / "c.der").read_bytes())
    assert issued.public_key() == serialization.load_pem_private_key(
        (tmp_path / "k.pem").read_bytes(), None).public_key()
    last = srv.requests[-1]
    assert last.operation == "simpleenroll" and not last.authorization
    assert "CN=factory-7" in last.client_cert_subject


def test_deferred_is_exit_5(srv, tmp_path):
    srv.set_habits(deferred=1, retry_after=600)
    r = run("enroll", "--server", srv.url, "--cacert", tmp_path / "ca.pem", "--user", "dev:secret",
            "--new-key", tmp_path / "k.pem", "--subject", "CN=dev1")
    assert r.returncode == exitcodes.EXIT_PENDING, r.stderr
    assert b"600" in r.stderr
    srv.set_habits(retry_after=1)
    r = run("enroll", "--server", srv.url, "--cacert", tmp_path / "ca.pem", "--user", "dev:secret",
            "--new-key", tmp_path / "k2.pem", "--subject", "CN=dev1", "--wait", "10")
    assert r.returncode == 0, r.stderr
    statuses = [q.status for q in srv.requests if q.operation == "simpleenroll" and q.status != 401]
    assert statuses == [202, 202, 200]


def test_csrattrs(srv, tmp_path):
    srv.set_habits(csrattrs="rfc7030")
    r = run("csrattrs", "--server", srv.url, "--cacert", tmp_path / "ca.pem")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()


# --- demo ---------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_demo(runtime):
    if runtime == "micropython" and find_micropython() is None:
        pytest.fail("the micropython command is missing")
    r = run("demo", "--runtime", runtime, timeout=300)
    out = r.stdout.decode()
    assert r.returncode == 0, out + r.stderr.decode()
    for step in demo_runner.DEMO_STEPS:
        assert "  " + step in out, out
    assert "one-time password consumed" in out


def test_one_exit_code_table():
    # tinyest and tinyest-provision share host_tools.exitcodes: no code has two
    # meanings, and the documented table lists each code once.
    import re

    codes = {k: v for k, v in vars(exitcodes).items() if k.startswith("EXIT_")}
    assert len(set(codes.values())) == len(codes), codes
    rows = [int(n) for n in re.findall(r"^(\d+) ", exitcodes.__doc__, re.M)]
    assert sorted(rows) == sorted(codes.values())


def test_serve_coap(tmp_path):
    """``tinyest serve --coap``: the trust anchor and a factory identity written,
    and a CoapsClient enrolls with them."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT)
    ca = tmp_path / "ca.pem"
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.cli", "serve", "--coap", "--port", "0",
                             "--ca-out", str(ca), "--device", "dev-7"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, cwd=str(tmp_path))
    try:
        lines = _read_until(proc, "CA fingerprint")
        url = [l for l in lines if l.startswith("tinyest dev EST-coaps server at ")][0].split()[5]
        port = int(url.split(":")[2].split("/")[0])
        assert (tmp_path / "dev-7-idevid-key.pem").stat().st_mode & 0o777 == 0o600
        from host_tools import dtls
        from tinyest import csr, ec, pem
        from tinyest.coaps import CoapsClient

        # the printed URL works as it is with the client commands
        out = tmp_path / "cacerts.pem"
        r = run("cacerts", "--server", url, "--cacert", ca, "--cert", tmp_path / "dev-7-idevid.pem",
                "--key", tmp_path / "dev-7-idevid-key.pem", "--out", out)
        assert r.returncode == 0, r.stderr
        assert pem_certs(out.read_bytes()) == [pem.decode(ca.read_text(), "CERTIFICATE")]
        dtls.install()
        cl = CoapsClient("localhost", port, trust=[pem.decode(ca.read_text(), "CERTIFICATE")],
                         cert=pem.decode((tmp_path / "dev-7-idevid.pem").read_text(), "CERTIFICATE"),
                         key=pem.decode((tmp_path / "dev-7-idevid-key.pem").read_text(), "PRIVATE KEY"),
                         path="/est", timeout=10)
        key = ec.generate()
        chain = cl.simpleenroll(csr.request(key, "dev-7", []))
        cl.close()
        assert len(chain) == 1
        log = _read_until(proc, "POST sen")
        assert "POST sen -> 2.04 (CN=dev-7,OU=factory)" in log[-1]
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(10)
    assert rc == 0, proc.stderr.read()
