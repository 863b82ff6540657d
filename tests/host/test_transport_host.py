"""tinyest's transport over real TLS on 127.0.0.1, on both runtimes.

Each test starts small stdlib-ssl servers with certificates made by
`cryptography`, then runs the same client code (tests/e2e/transport_client.py)
in this process and as a `micropython` subprocess, and asserts on both.
"""
import binascii
import os
import socket
import ssl
import sys
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
import runner  # noqa: E402
from tls_servers import Pki, Server, der_bytes, make_cert, read_request  # noqa: E402

from tinyest import http, runtime  # noqa: E402
from tinyest.errors import TlsError  # noqa: E402


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(str(tmp_path_factory.mktemp("pki")))


def answer(body=b"hello", extra=b"", status=b"200 OK"):
    def handler(conn, srv):
        for _ in range(5):
            try:
                line, headers, req_body = read_request(conn)
            except (OSError, ssl.SSLError):
                return
            if not line:
                return
            srv.seen.append((line, headers, req_body))
            info = {}
            if isinstance(conn, ssl.SSLSocket):
                info = {"alpn": conn.selected_alpn_protocol(), "version": conn.version(),
                        "peer": conn.getpeercert(binary_form=True)}
            srv.seen[-1] += (info,)
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n" % len(body) + extra
                         + b"\r\n" + body)
            if headers.get("connection", "").lower() == "close":
                return
    return handler


def args(srv, pki, **kw):
    a = {"host": "127.0.0.1", "port": srv.port, "trust": [pki.p("ca.der")], "timeout": 5}
    a.update(kw)
    return a


def both(a, **kw):
    return runner.run_both("transport_client", a, **kw)


# ---------------------------------------------------------------- tests


def test_verified_request_both_runtimes(pki):
    with Server(pki.server_context(), answer(b"hello")) as srv:
        for host in ("127.0.0.1", "localhost"):
            cp, mp = both(args(srv, pki, host=host, path="/x", repeat=2))
            for res in (cp, mp):
                assert "error" not in res, res
                assert res["status"] == 200 and binascii.unhexlify(res["body"]) == b"hello"
                assert [r["status"] for r in res["responses"]] == [200, 200]
        lines = [s[0] for s in srv.seen]
        assert lines.count("GET /x HTTP/1.1") == 8
        for s in srv.seen:
            assert s[1]["host"] in ("127.0.0.1:%d" % srv.port, "localhost:%d" % srv.port)
            assert s[3]["alpn"] in (None, "http/1.1")


def test_ipv6(pki):
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with Server(pki.server_context(), answer(b"six"), socket.AF_INET6, "::1") as srv:
        cp, mp = both(args(srv, pki, host="::1"))
        for res in (cp, mp):
            assert res.get("status") == 200, res
        assert all(s[1]["host"] == "[::1]:%d" % srv.port for s in srv.seen)


def test_hostname_mismatch(pki):
    with Server(pki.server_context(cert="bad", key="bad_key"), answer()) as srv:
        cp, mp = both(args(srv, pki, headers=[["Authorization", "Basic c2VjcmV0"]]))
        for res in (cp, mp):
            assert res["error"] == "TlsError", res
        assert srv.seen == []  # not a byte of HTTP reached the server


def test_wrong_trust_anchor(pki):
    with Server(pki.server_context(), answer()) as srv:
        cp, mp = both(args(srv, pki, trust=[pki.p("other_ca.der")]))
        for res in (cp, mp):
            assert res["error"] == "TlsError", res
        assert srv.seen == []


def test_no_trust_anchor_refused(pki):
    with Server(pki.server_context(), answer()) as srv:
        cp, mp = both(args(srv, pki, trust=[]))
        for res in (cp, mp):
            assert res["error"] == "TlsError" and "no trust anchor" in res["msg"], res
        assert srv.seen == []


def test_connection_refused(pki):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    free = s.getsockname()[1]
    s.close()
    cp, mp = both({"host": "127.0.0.1", "port": free, "trust": [pki.p("ca.der")], "timeout": 3})
    for res in (cp, mp):
        assert res["error"] == "ConnectError", res


def test_unresolvable_host(pki):
    cp, mp = both({"host": "no-such-host.invalid", "port": 443, "trust": [pki.p("ca.der")],
                   "timeout": 3})
    for res in (cp, mp):
        assert res["error"] in ("ConnectError", "EstTimeout"), res


def test_handshake_timeout(pki):
    def silent(conn, srv):
        time.sleep(3)

    with Server(None, silent) as srv:  # TCP accepted, no TLS spoken
        cp, mp = both(args(srv, pki, timeout=0.5))
        for res in (cp, mp):
            assert res["error"] == "EstTimeout", res
            assert res["seconds"] < 2.5, res


def test_response_timeout(pki):
    def mute(conn, srv):
        read_request(conn)
        time.sleep(3)

    with Server(pki.server_context(), mute) as srv:
        cp, mp = both(args(srv, pki, timeout=0.5))
        for res in (cp, mp):
            assert res["error"] == "EstTimeout", res
            assert res["seconds"] < 2.5, res


def test_trickle_stopped_by_deadline(pki):
    def trickle(conn, srv):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"x")
            time.sleep(0.1)

    with Server(pki.server_context(), trickle) as srv:
        cp, mp = both(args(srv, pki, timeout=1, deadline=0.7))
        for res in (cp, mp):
            assert res["error"] == "EstTimeout", res
            assert res["seconds"] < 2.5, res


def _close_notify_then_hold(conn, body_framing):
    read_request(conn)
    if body_framing == "length":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone")
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ndone")
    conn.settimeout(0.2)
    try:
        conn.unwrap()  # sends close_notify; the peer's answer is not awaited
    except (OSError, ssl.SSLError):
        pass
    time.sleep(4)  # TCP stays open


@pytest.mark.parametrize("framing", ["length", "close"])
def test_close_notify_then_keep_open(pki, framing):
    with Server(pki.server_context(), lambda c, s: _close_notify_then_hold(c, framing)) as srv:
        cp, mp = both(args(srv, pki, timeout=3))
        for res in (cp, mp):
            assert res.get("status") == 200, res
            assert binascii.unhexlify(res["body"]) == b"done"
            assert res["seconds"] < 2.5, res


def test_chunked_and_cap(pki):
    def chunked(conn, srv):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(10):
            conn.sendall(b"100\r\n" + bytes([65 + i]) * 256 + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    with Server(pki.server_context(), chunked) as srv:
        cp, mp = both(args(srv, pki))
        for res in (cp, mp):
            body = binascii.unhexlify(res["body"])
            assert len(body) == 2560 and body[:1] == b"A" and body[-1:] == b"J", res.get("error")
        cp, mp = both(args(srv, pki, max_body=1000))
        for res in (cp, mp):
            assert res["error"] == "ProtocolError" and "cap" in res["msg"], res


def test_endless_response_stopped_at_cap(pki):
    def endless(conn, srv):
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        try:
            while True:
                conn.sendall(b"y" * 4096)
        except OSError:
            pass

    with Server(pki.server_context(), endless) as srv:
        cp, mp = both(args(srv, pki, max_body=20000))
        for res in (cp, mp):
            assert res["error"] == "ProtocolError" and "cap" in res["msg"], res


def test_client_certificate(pki):
    ctx = pki.server_context(require_client=True)
    with Server(ctx, answer(b"authenticated")) as srv:
        a = args(srv, pki, cert=pki.p("cli.der"), key=pki.p("cli_key.der"))
        cp, mp = both(a)
        for res in (cp, mp):
            assert res.get("status") == 200, res
        peers = [s[3]["peer"] for s in srv.seen]
        assert peers == [der_bytes(pki.cli)] * 2
        # Without a client certificate the server refuses the connection.
        cp, mp = both(args(srv, pki))
        for res in (cp, mp):
            assert res["error"] in ("TlsError", "ConnectError"), res


def test_tls12_only_server_and_alpn(pki):
    ctx = pki.server_context(tls12=True, alpn=["h2", "http/1.1"])
    with Server(ctx, answer()) as srv:
        cp, mp = both(args(srv, pki))
        for res in (cp, mp):
            assert res.get("status") == 200, res
        for s in srv.seen:
            assert s[3]["version"] == "TLSv1.2"
            assert s[3]["alpn"] != "h2"


def test_bootstrap_captures_chain(pki):
    with Server(pki.server_context(chain=True), answer(b"cacerts")) as srv:
        a = args(srv, pki, trust=[], bootstrap=True)
        cp, mp = both(a)
        leaf = der_bytes(pki.srv).hex()
        for res in (cp, mp):
            assert res.get("status") == 200, res
            assert leaf in res["chain"], res
        # An unverified connection never carries credentials.
        cp, mp = both(dict(a, headers=[["Authorization", "Basic dTpw"]]))
        for res in (cp, mp):
            assert res["error"] == "ProtocolError" and "credentials" in res["msg"], res
        assert all("authorization" not in s[1] for s in srv.seen)
    # Bootstrap still works against a server the client could never verify.
    with Server(pki.server_context(cert="bad", key="bad_key"), answer(b"x")) as srv:
        cp, mp = both(args(srv, pki, trust=[], bootstrap=True))
        for res in (cp, mp):
            assert res.get("status") == 200 and der_bytes(pki.bad).hex() in res["chain"], res


def test_connect_proxy(pki):
    class Proxy:
        def __init__(self):
            self.targets = []

        def __call__(self, conn, srv):
            data = b""
            while b"\r\n\r\n" not in data:
                c = conn.recv(1)
                if not c:
                    return
                data += c
            line = data.split(b"\r\n")[0].decode()
            self.targets.append(line)
            method, target, _ = line.split(" ")
            host, _, p = target.rpartition(":")
            up = socket.create_connection((host, int(p)))
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

            def pipe(a, b):
                try:
                    while True:
                        d = a.recv(4096)
                        if not d:
                            break
                        b.sendall(d)
                except OSError:
                    pass
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

            t = threading.Thread(target=pipe, args=(up, conn), daemon=True)
            t.start()
            pipe(conn, up)
            t.join(5)

    proxy = Proxy()
    with Server(pki.server_context(), answer(b"via proxy")) as srv, Server(None, proxy) as px:
        cp, mp = both(args(srv, pki, host="localhost", proxy="127.0.0.1:%d" % px.port))
        for res in (cp, mp):
            assert res.get("status") == 200, res
            assert binascii.unhexlify(res["body"]) == b"via proxy"
        assert proxy.targets == ["CONNECT localhost:%d HTTP/1.1" % srv.port] * 2

    def refuse(conn, srv):
        conn.recv(1000)
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    with Server(None, refuse) as px:
        cp, mp = both({"host": "localhost", "port": 1, "trust": [pki.p("ca.der")],
                       "proxy": "127.0.0.1:%d" % px.port})
        for res in (cp, mp):
            assert res["error"] == "HttpError" and "403" in res["msg"], res


def test_proxy_refusal_closes_the_proxy_socket():
    # A refused CONNECT is an HttpError, and the socket to the proxy is closed
    # at once (the proxy sees the end of the stream), not left to the caller.
    from tinyest import proxy
    from tinyest.errors import HttpError

    seen = []

    def refuse(conn, srv):
        conn.recv(1000)
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        conn.settimeout(5)
        seen.append(conn.recv(10))

    with Server(None, refuse) as px:
        with pytest.raises(HttpError) as e:
            proxy.connect("http://127.0.0.1:%d/" % px.port, "est.example", 8443, 5, 5)
        assert e.value.status == 407
        for _ in range(50):
            if seen:
                break
            time.sleep(0.05)
    assert seen == [b""]


# ---------------------------------------------------------------- CPython-only details


def test_cpython_client_key_files_removed(pki, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    seen_modes = []
    real = ssl.SSLContext.load_cert_chain

    def spy(self, certfile, keyfile=None, password=None):
        if str(tmp_path) in certfile:
                seen_modes.append((os.stat(certfile).st_mode & 0o777, os.stat(keyfile).st_mode & 0o777,
                               os.stat(os.path.dirname(keyfile)).st_mode & 0o777))
        return real(self, certfile, keyfile, password)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    with Server(pki.server_context(require_client=True), answer()) as srv:
        res = runner.run_cpython("transport_client", args(srv, pki, cert=pki.p("cli.der"),
                                                          key=pki.p("cli_key.der")))
        assert res.get("status") == 200, res
    assert seen_modes == [(0o600, 0o600, 0o700)]
    assert os.listdir(tmp_path) == []


def test_cpython_context_is_strict(pki):
    from tinyest import runtime_cpython

    ctx = runtime_cpython.context([der_bytes(pki.ca)], None, None, False, False, False)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    with pytest.raises(TlsError):
        runtime.tls_wrap(None, "h", trust=[])


def test_cpython_channel_binding(pki):
    got = {}

    def capture(conn, srv):
        got["server"] = conn.get_channel_binding("tls-unique")
        answer()(conn, srv)

    for tls12, ok in ((True, True), (False, False)):
        with Server(pki.server_context(tls12=tls12), capture) as srv:
            conn = http.Connection("127.0.0.1", srv.port, trust=[der_bytes(pki.ca)], timeout=5)
            try:
                assert conn.request("GET", "/").status == 200
                if ok:
                    assert runtime.channel_binding(conn.sock) == got["server"]
                    assert len(got["server"]) == 12  # TLS 1.2 Finished verify_data
                else:
                    with pytest.raises(TlsError):
                        runtime.channel_binding(conn.sock)
            finally:
                conn.close()


def test_micropython_context_modes():
    # The modes the MicroPython adapter sets, checked on the real interpreter: the
    # contexts tls_wrap makes are kept, and the handshake over a non-socket fails.
    code = (
        "from tinyest import runtime\n"
        "import tls\n"
        "made = []\n"
        "class T:\n"
        "    PROTOCOL_TLS_CLIENT = tls.PROTOCOL_TLS_CLIENT\n"
        "    CERT_REQUIRED = tls.CERT_REQUIRED\n"
        "    CERT_OPTIONAL = tls.CERT_OPTIONAL\n"
        "    def SSLContext(p):\n"
        "        made.append(tls.SSLContext(p))\n"
        "        return made[-1]\n"
        "runtime._tls = T\n"
        "for ta, boot in (([open(%r,'rb').read()], False), ([], True)):\n"
        "    try:\n"
        "        runtime.tls_wrap(object(), 'x', ta, bootstrap=boot)\n"
        "    except Exception as e:\n"
        "        print(type(e).__name__)\n"
        "c, b = made\n"
        "print(c.verify_mode == tls.CERT_REQUIRED, b.verify_mode == tls.CERT_OPTIONAL)\n"
    )
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "ta.der")
        k = ec.generate_private_key(ec.SECP256R1())
        with open(p, "wb") as f:
            f.write(der_bytes(make_cert("x", k, "x", k, ca=True)))
        env = dict(os.environ, MICROPYPATH=".frozen:" + str(runner.ROOT))
        out = subprocess.run([runner.micropython_exe(), "-c", code % p], env=env,
                             capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["TlsError", "TlsError", "True", "True"], out.stdout + out.stderr
