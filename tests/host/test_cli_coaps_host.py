"""The host commands against an EST over CoAP server (``coaps://``): the
``tinyest`` client commands as a subprocess, and ``tinyest-provision``, against
the dev server's coaps side (``host_tools.devserver.coaps.CoapsServer``) over
real DTLS on 127.0.0.1. The server side records every CoAP request it rendered
(the fixture of test_coaps_bootstrap_host.py), so what a command refuses is
seen not to have reached it."""
import hashlib
import pathlib
import shutil
import sys
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from host_tools import exitcodes, options, provision
from host_tools.devserver.ca import cert_der
from tinyest import pem

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from provision_fixtures import devices, relay  # noqa: E402,F401
from test_cli_host import pem_certs, run  # noqa: E402
from test_coaps_bootstrap_host import server  # noqa: E402,F401

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def files(server, tmp_path):
    """The trust anchor (ca.pem) and a factory identity for CN=cli-dev-1
    (idevid.pem, idevid-key.pem) in ``tmp_path``; returns tmp_path."""
    cert, key = server.factory_certificate("cli-dev-1")
    (tmp_path / "ca.pem").write_text(pem.encode(cert_der(server.ca.root), "CERTIFICATE"))
    (tmp_path / "idevid.pem").write_text(pem.encode(cert, "CERTIFICATE"))
    (tmp_path / "idevid-key.pem").write_text(pem.encode(key, "PRIVATE KEY"))
    return tmp_path


def _url(srv, path="/est"):
    return "coaps://localhost:%d%s" % (srv.port, path)


def _ops(srv):
    return [(str(code).split()[0], path) for code, path, _ in srv.requests]


def test_parse_url():
    assert options.parse_url("coaps://est.example") == ("coaps", "est.example", 5684, None)
    assert options.parse_url("coaps://est.example:5685/est/") == ("coaps", "est.example", 5685, "/est")
    assert options.parse_url("coaps://h", "iot") == ("coaps", "h", 5684, "/.well-known/est/iot")
    assert options.parse_url("coaps://h/est", "iot") == ("coaps", "h", 5684, "/est/iot")
    assert options.parse_url("https://h/.well-known/est/a") == ("https", "h", 443, "a")
    for bad in ("coap://h", "coaps://h:0", "coaps://:5684", "coaps://h:x"):
        with pytest.raises(options.UsageError):
            options.parse_url(bad)
    with pytest.raises(options.UsageError):
        options.parse_server("coaps://h")  # where only https is taken


def test_cacerts_bootstrap_by_fingerprint(server, files):
    root = cert_der(server.ca.root)
    ident = ["--cert", files / "idevid.pem", "--key", files / "idevid-key.pem"]
    out = files / "cacerts.pem"
    r = run("cacerts", "--server", _url(server), "--fingerprint", hashlib.sha256(root).hexdigest(), "--out", out,
            *ident)
    assert r.returncode == 0, r.stderr
    assert pem_certs(out.read_bytes()) == [root]
    r = run("cacerts", "--server", _url(server), "--fingerprint", "00" * 32, *ident)
    assert r.returncode == exitcodes.EXIT_EST and r.stdout == b"", r.stderr
    assert r.stderr.startswith(b"tinyest: cacerts: no certificate matches the bootstrap fingerprint")
    r = run("cacerts", "--server", _url(server), "--cacert", files / "ca.pem", "--outform", "der", "--out",
            files / "c.p7", *ident)
    assert r.returncode == 0, r.stderr
    assert _ops(server) == [("GET", "est/crts")] * 3  # each a session of its own, /crts alone


def test_enroll_reenroll_serverkeygen_csrattrs(server, files):
    conn = ["--server", _url(server), "--cacert", files / "ca.pem"]
    key, cert = files / "k.pem", files / "c.pem"
    r = run("enroll", *conn, "--cert", files / "idevid.pem", "--key", files / "idevid-key.pem",
            "--new-key", key, "--subject", "CN=cli-dev-1", "--out", cert)
    assert r.returncode == 0, r.stderr
    c = x509.load_pem_x509_certificate(cert.read_bytes())
    assert c.public_key() == serialization.load_pem_private_key(key.read_bytes(), None).public_key()
    c.verify_directly_issued_by(server.ca.root)
    r = run("reenroll", *conn, "--cert", cert, "--key", key, "--out", files / "c2.pem")
    assert r.returncode == 0, r.stderr
    c2 = x509.load_pem_x509_certificate((files / "c2.pem").read_bytes())
    assert c2.subject == c.subject and c2.serial_number != c.serial_number and c2.public_key() == c.public_key()
    r = run("serverkeygen", *conn, "--cert", cert, "--key", key, "--subject", "CN=cli-dev-1",
            "--key-out", files / "sk.pem", "--out", files / "s.pem")
    assert r.returncode == 0, r.stderr
    s = x509.load_pem_x509_certificate((files / "s.pem").read_bytes())
    sk = serialization.load_pem_private_key((files / "sk.pem").read_bytes(), None)
    assert s.public_key() == sk.public_key() != c.public_key()
    r = run("csrattrs", *conn, "--cert", cert, "--key", key)
    assert r.returncode == 0 and b"P-256" in r.stdout, r.stderr
    assert server.log == [("sen", "CN=cli-dev-1,OU=factory", "2.04"), ("sren", "CN=cli-dev-1", "2.04"),
                          ("skg", "CN=cli-dev-1", "2.04")]
    # each command's session: /crts first (the issuing CAs known), then its request
    assert _ops(server) == [("GET", "est/crts"), ("POST", "est/sen"), ("GET", "est/crts"), ("POST", "est/sren"),
                            ("GET", "est/crts"), ("POST", "est/skg"), ("GET", "est/att")]


@pytest.mark.parametrize("cred", [["--user", "dev:secret"], ["--user", "dev"], ["--token", "t0k"]])
def test_passwords_are_refused_before_anything_is_sent(server, files, cred):
    r = run("enroll", "--server", _url(server), "--cacert", files / "ca.pem", *cred,
            "--new-key", files / "k.pem", "--subject", "CN=x", input=b"")
    assert r.returncode == exitcodes.EXIT_USAGE, r.stderr
    assert r.stderr.startswith(b"tinyest: EST over CoAP has no passwords")
    assert server.requests == [] and server.term.handshakes == 0


def test_usage_and_network_errors(server, files):
    r = run("cacerts", "--server", "https://localhost:1", "--cacert", files / "ca.pem",
            "--cert", files / "idevid.pem", "--key", files / "idevid-key.pem")
    assert r.returncode == exitcodes.EXIT_USAGE and b"tinyest: --cert/--key are for coaps://" in r.stderr
    r = run("cacerts", "--server", _url(server).replace("localhost", "127.0.0.1"), "--cacert", files / "ca.pem")
    assert r.returncode == exitcodes.EXIT_NETWORK and b"tinyest: DTLS to an IP address host" in r.stderr
    assert server.requests == []


@pytest.fixture
def deferring(tmp_path):
    """A CoapsServer that answers the first enrollment 5.03 with Max-Age 1, and
    its files (as ``files``)."""
    from host_tools.devserver.coaps import CoapsServer

    srv = CoapsServer(path="/est", habits={"retry": 1}).start()
    cert, key = srv.factory_certificate("cli-dev-2")
    (tmp_path / "ca.pem").write_text(pem.encode(cert_der(srv.ca.root), "CERTIFICATE"))
    (tmp_path / "idevid.pem").write_text(pem.encode(cert, "CERTIFICATE"))
    (tmp_path / "idevid-key.pem").write_text(pem.encode(key, "PRIVATE KEY"))
    yield srv, tmp_path
    srv.stop()


def test_deferred_enrollment_is_exit_5_or_waited_out(deferring):
    srv, d = deferring
    args = ["enroll", "--server", _url(srv), "--cacert", d / "ca.pem", "--cert", d / "idevid.pem",
            "--key", d / "idevid-key.pem", "--csr-key", d / "idevid-key.pem", "--subject", "CN=cli-dev-2"]
    r = run(*args)
    assert r.returncode == exitcodes.EXIT_PENDING, r.stderr
    assert b"tinyest: the server deferred the request; send the same request again in 1 s" in r.stderr
    r = run(*args, "--wait", "30", "--out", d / "c.pem")
    assert r.returncode == 0, r.stderr
    assert x509.load_pem_x509_certificate((d / "c.pem").read_bytes()).subject.rfc4514_string() == "CN=cli-dev-2"
    assert [out for _, _, out in srv.log] == ["5.03", "2.04"]


# ---------------------------------------------------------------- tinyest-provision


def _provision(dev, srv, files, *more):
    return provision.main(["--port", dev.path, "--server", _url(srv), "--ta", str(files / "ca.pem"),
                           "--store", dev.root, "--timeout", "4", "--frame-timeout", "0.2", "-q"]
                          + [str(x) for x in more])


def _boot_main(dev, tmp_path, heap="1M"):
    """port_micropython/main.py on a flash holding the device's store and a
    config.json that names no server: all of it comes from the store."""
    sys.path.insert(0, str(ROOT / "port_micropython"))
    import sim

    flash = sim.Flash(tmp_path / "flash").install(sim.build_lib(tmp_path / "mpy"))
    flash.configure({"est": {"timeout": 10}})
    shutil.copytree(dev.root, flash.path / "est")
    return flash, flash.boot(sim.SimClock(time.time()), heap=heap)


def test_provision_a_factory_identity_for_coaps_then_main_py_enrolls(server, files, devices, tmp_path):
    dev = devices("dev-coaps-1")
    assert _provision(dev, server, files, "--idevid-cert", files / "idevid.pem",
                      "--idevid-key", files / "idevid-key.pem", "--cn", "cli-dev-1") == 0
    c = dev.store()
    assert c.config == {"host": "localhost", "port": server.port, "label": "/est", "scheme": "coaps",
                        "cn": "cli-dev-1"}
    assert c.trust == [cert_der(server.ca.root)] and c.boot_chain and c.boot_password is None
    flash, b = _boot_main(dev, tmp_path)
    assert b.rc == 0 and b.state == "enrolled" and not b.events("fault"), b
    stored = flash.store()
    assert x509.load_der_x509_certificate(stored.chain[0]).subject.rfc4514_string() == "CN=cli-dev-1"
    assert server.log == [("sen", "CN=cli-dev-1,OU=factory", "2.04")]


def test_station_enrolls_the_device_over_coaps(server, files, devices, tmp_path):
    """The station authenticates with its own certificate (here a factory one of
    the same CA) and enrolls the CSR the device made."""
    dev = devices("dev-coaps-2")
    assert _provision(dev, server, files, "--station-enroll", "--station-cert", files / "idevid.pem",
                      "--station-key", files / "idevid-key.pem") == 0
    c = dev.store()
    assert c.enrolled and c.config["scheme"] == "coaps" and c.boot_key is None
    assert x509.load_der_x509_certificate(c.chain[0]).subject.rfc4514_string() == "CN=dev-coaps-2"
    assert server.log == [("sen", "CN=cli-dev-1,OU=factory", "2.04")]  # the station's identity


@pytest.mark.parametrize("cred", [["--user", "u", "--password", "p"], ["--otp", "auto", "--otp-export", "otp.csv"],
                                  ["--station-enroll", "--station-user", "s", "--station-password", "p"]])
def test_provision_refuses_passwords_for_coaps(server, files, devices, cred, capsys):
    dev = devices("dev-coaps-3")
    assert _provision(dev, server, files, *cred) == exitcodes.EXIT_USAGE
    assert "tinyest-provision: EST over CoAP has no passwords" in capsys.readouterr().err
    assert dev.store().config == {} and server.requests == []
