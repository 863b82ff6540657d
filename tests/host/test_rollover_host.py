"""CA rollover (RFC 7030 4.1.3) end to end: the dev server replaces its root key
(``DevServer.rollover()``); the device adds the new root to its trust anchors because
NewWithOld verifies under the root it trusts, keeps the old root (not yet expired), and
goes on renewing, now from the new CA, without a gap.

Runs the device as the simulated board (port_micropython/main.py under `micropython`)
and, with the same scenario, as ``tinyest.device.Device`` in this process (CPython).
`cryptography` checks the links independently.
"""
import os
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "port_micropython"))
import sim  # noqa: E402

from host_tools.devserver import DevServer  # noqa: E402
from tinyest.device import Device  # noqa: E402
from tinyest.store import Credentials, Store  # noqa: E402

DAY = 86400


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return sim.build_lib(tmp_path_factory.mktemp("mpy"))


class InProcess:
    """The same device, as tinyest.device.Device on CPython, booted once per step."""

    def __init__(self, path, cfg):
        self.store = Store(str(path / "est"))
        c = Credentials()
        b = cfg["bootstrap"]
        c.boot_user, c.boot_password = b["user"], b["password"]
        c.config = {"fingerprint": b["fingerprint"]}
        self.store.commit(c)
        self.est = cfg["est"]

    def boot(self, clock):
        lines = []
        dev = Device(self.store, progress=lambda e, d: lines.append(e + " " + d), **self.est)
        seconds = dev.step(clock.now())
        return sim.Boot(0, "\n".join(lines + ["WAKE %d %d" % (dev.wake_at, seconds)]), "")


def _signed_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:
        return False


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
@pytest.mark.parametrize("first", ["cacerts", "renewal"])
def test_rollover(tmp_path, lib, runtime, first):
    clock = sim.SimClock(sim.time.time() - 20 * DAY)
    # "cacerts": a /cacerts refresh is due before the renewal and learns the new root;
    # "renewal": the renewal comes first, from the new CA, and the chain the client
    # fetches to verify it teaches the new root.
    interval = 3600 if first == "cacerts" else 30 * DAY
    with sim.fake_time(clock):
        srv = DevServer(port=sim.free_port(), workdir=str(tmp_path / "srv"), cert_lifetime=DAY)
        srv.add_user("device-1", "pw", one_time=True)
        srv.start()
        try:
            cfg = {"bootstrap": {"user": "device-1", "password": "pw",
                                 "fingerprint": srv.ca_fingerprint_hex},
                   "est": {"host": "127.0.0.1", "port": srv.port, "cn": "rollover-device",
                           "timeout": 5, "renew_margin": 6 * 3600, "cacerts_interval": interval}}
            if runtime == "micropython":
                dev = sim.Flash(tmp_path / "flash").install(lib).configure(cfg)
                load = dev.store
            else:
                dev = InProcess(tmp_path, cfg)
                load = dev.store.load
            old_root = srv.ca_der
            b = dev.boot(clock)
            assert b.state == "enrolled" and load().trust == [old_root], b
            clock.advance(60)
            srv.rollover()
            new_root = srv.ca_der
            assert new_root != old_root
            # Independent check of what the server offers.
            cas = [x509.load_der_x509_certificate(d) for d in srv.cacerts_der()]
            o = x509.load_der_x509_certificate(old_root)
            n = x509.load_der_x509_certificate(new_root)
            nwo = [c for c in cas if c.subject == n.subject and c.issuer == o.subject]
            assert len(nwo) == 1 and _signed_by(nwo[0], o)
            assert isinstance(n.public_key(), ec.EllipticCurvePublicKey)

            clock.advance_to(b.wake_at)
            b = dev.boot(clock)
            assert b.rc == 0 and b.events("rollover"), b
            trust = load().trust
            assert trust == [old_root, new_root], "new root not added, or old one dropped"
            assert _signed_by(n, n)

            # Renewals go on, now issued by the new root's key, over TLS to a server
            # whose certificate comes from the new CA.
            cfg["est"]["cacerts_interval"] = 30 * DAY
            if runtime == "micropython":
                dev.configure(cfg)
            issuers = set()
            for _ in range(3):
                clock.advance_to(b.wake_at)
                b = dev.boot(clock)
                assert b.rc == 0 and b.state == "enrolled", b
                c = load()
                cert = x509.load_der_x509_certificate(c.chain[0])
                now = clock.now()
                assert cert.not_valid_before_utc.timestamp() <= now
                assert now <= cert.not_valid_after_utc.timestamp()
                issuers.add(_signed_by(cert, n))
            assert True in issuers, "no certificate from the new CA"
            assert load().trust == [old_root, new_root], "old root retired before its expiry"
        finally:
            srv.stop()
        assert srv.errors == []
