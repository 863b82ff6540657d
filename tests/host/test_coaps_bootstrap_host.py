"""Bootstrap by fingerprint (RFC 7030 4.1.1) over EST over CoAP and DTLS, end to
end on CPython, MicroPython and the 32-bit board model (tests/e2e/coaps_bootstrap.py)
against the dev server's coaps side over real DTLS on 127.0.0.1: the right
fingerprint is accepted, the certificate that did the provisional handshake is
checked, a wrong one is a VerifyError; the server side records every CoAP
request that reached it, so a provisional session is seen to carry GET crts and
nothing else. A device on a store holding only the fingerprint bootstraps,
enrolls with its factory certificate and renews."""
import hashlib
import json
import os
import pathlib
import subprocess
import sys

import aiocoap.resource
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from host_tools.devserver.ca import cert_der
from host_tools.devserver.coaps import CoapsServer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from test_coaps_host import _runtime  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "e2e" / "coaps_bootstrap.py"
RUNTIMES = ["cpython", "micropython", "micropython-32"]


@pytest.fixture
def server(monkeypatch):
    """A CoapsServer (resources at /est) whose ``requests`` lists every CoAP
    request its site rendered: (code, path, the DTLS session's backend port)."""
    requests = []
    render = aiocoap.resource.Site.render_to_pipe

    async def recorded(site, pipe):
        r = pipe.request
        requests.append((str(r.code), "/".join(r.opt.uri_path), r.remote.sockaddr[1]))
        return await render(site, pipe)

    monkeypatch.setattr(aiocoap.resource.Site, "render_to_pipe", recorded)
    srv = CoapsServer(path="/est").start()
    srv.requests = requests
    yield srv
    srv.stop()


def _run(srv, tmp, runtime, mode, cn, *more):
    """The script's JSON lines, run on ``runtime`` with a factory identity for ``cn``."""
    exe, env = _runtime(runtime)
    cert, key = srv.factory_certificate(cn)
    (tmp / "idevid.der").write_bytes(cert)
    (tmp / "idevid_key.der").write_bytes(key)
    p = subprocess.run(exe + [str(SCRIPT), mode, str(srv.port), str(tmp / "idevid.der"), str(tmp / "idevid_key.der")]
                       + list(more), capture_output=True, text=True, timeout=180, env=env)
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["step"] != "failed", p.stdout + p.stderr
    return lines, cert


def _sessions(srv):
    """{backend port of a DTLS session: [(code, path), ...]} in order."""
    out = {}
    for code, path, port in srv.requests:
        out.setdefault(port, []).append((code.split()[0], path))
    return out


def _leaf(hex_chain, root):
    leaf = x509.load_der_x509_certificate(bytes.fromhex(hex_chain[0]))
    leaf.verify_directly_issued_by(root)
    return leaf


def _spki(cert):
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_client_bootstraps_by_fingerprint(server, tmp_path, runtime):
    root = cert_der(server.ca.root)
    good = hashlib.sha256(root).hexdigest()
    wrong = hashlib.sha256(root + b"x").hexdigest()
    lines, factory = _run(server, tmp_path, runtime, "client", "coaps-boot-1", good, wrong)
    steps = {d["step"]: d for d in lines}
    w = steps["wrong"]
    assert w["accepted"] is False and w["error"].startswith("VerifyError") and "fingerprint" in w["error"], w
    assert w["trust"] == 0 and w["session"] is False  # no anchor learned, the session ended
    after = steps["enroll_after_wrong"]
    assert after["sent"] is False and after["error"].startswith("TlsError"), after
    ok = steps["cacerts"]
    assert [bytes.fromhex(c) for c in ok["certs"]] == [root]
    assert [bytes.fromhex(c) for c in ok["trust"]] == [root] == [bytes.fromhex(c) for c in ok["anchors"]]
    assert ok["verified"] is True  # the certificate of the provisional handshake chains to it, names localhost
    assert ok["session"] is False  # the provisional session ended after /crts
    assert ["bootstrap", "server chain verified"] in ok["events"]
    leaf = _leaf(steps["enroll"]["chain"], server.ca.root)
    assert _spki(leaf) == bytes.fromhex(steps["enroll"]["spki"])
    # Server side: two provisional sessions that carried GET crts alone, then a
    # verified one for the enrollment; each showed the factory certificate.
    sessions = _sessions(server)
    assert list(sessions.values()) == [[("GET", "est/crts")], [("GET", "est/crts")], [("POST", "est/sen")]], sessions
    assert [server.term.peers[port] for port in sessions] == [factory] * 3
    assert server.log == [("sen", "CN=coaps-boot-1,OU=factory", "2.04")]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_device_bootstraps_enrolls_and_renews(server, tmp_path, runtime):
    root = cert_der(server.ca.root)
    lines, factory = _run(server, tmp_path, runtime, "device", "coaps-boot-2", hashlib.sha256(root).hexdigest(),
                          str(tmp_path / "store"))
    done = lines[-1]
    assert done["step"] == "done" and done["certificates"] == 2, lines  # enrolled, then renewed
    assert any("server chain verified" in b for b in done["bootstrap"]), done
    assert all([bytes.fromhex(t) for t in d["trust"]] == [root] for d in lines[:-1])
    assert [(op, who, out) for op, who, out in server.log] == [
        ("sen", "CN=coaps-boot-2,OU=factory", "2.04"), ("sren", "CN=coaps-boot-2", "2.04")]
    serials = [d["serial"] for d in lines if d.get("serial")]
    assert [c.serial_number for c in server.issued] == [serials[0], serials[-1]]
    # the first session, provisional, carried GET crts alone
    first = list(_sessions(server).values())[0]
    assert first == [("GET", "est/crts")], server.requests


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_device_with_a_wrong_fingerprint_asks_crts_only(server, tmp_path, runtime):
    root = cert_der(server.ca.root)
    lines, _ = _run(server, tmp_path, runtime, "device", "coaps-boot-3", hashlib.sha256(b"not the CA").hexdigest(),
                    str(tmp_path / "store"))
    assert lines[-1]["certificates"] == 0 and lines[-1]["state"] == "failed", lines
    assert "fingerprint" in lines[0]["error"] and lines[0]["trust"] == [], lines[0]
    assert [(code.split()[0], path) for code, path, _ in server.requests] == [("GET", "est/crts")]
    assert server.log == [] and root not in [bytes.fromhex(t) for d in lines[:-1] for t in d["trust"]]


def test_one_label_host_names_match_only_themselves():
    """hostname.matches: the provisional certificate of the dev server names
    "localhost", a name of one label; a "*" does not stand for one."""
    from tinyest import hostname
    from tinyest import x509 as tx509

    class Named:
        def __init__(self, *names):
            self.san = [("dns", n) for n in names]

    assert hostname.matches(Named("localhost"), "localhost")
    assert hostname.matches(Named("LocalHost"), "localhost")
    assert not hostname.matches(Named("*"), "localhost")
    assert not hostname.matches(Named("localhost.example"), "localhost")
    assert hostname.matches(Named("*.example"), "a.example")
    srv = CoapsServer(path="/est")  # not started: its DTLS certificate only
    assert hostname.matches(tx509.Certificate(cert_der(srv._cert)), srv.server_name)
