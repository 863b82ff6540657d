"""Acceptance: the example application (port_micropython/main.py) as a simulated device
under the unix `micropython` command, against the dev EST server over real TLS, with a
fake clock shared by both (port_micropython/sim.py).

The device is rebooted between every step (each run of the interpreter is one boot),
the server is taken down for a while, defers enrollments, loses a response after
issuing, and the device boots once with an unset clock. Through all of it the device
must keep a certificate that is valid at every moment: checked after every boot with
`cryptography` as an independent reader, and the device may never sleep past its
certificate's expiry.
"""
import base64
import os
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "port_micropython"))
import sim  # noqa: E402

from host_tools.devserver import DevServer  # noqa: E402

DAY = 86400
LIFETIME = DAY


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return sim.build_lib(tmp_path_factory.mktemp("mpy"))


def _cert(der):
    return x509.load_der_x509_certificate(bytes(der))


def _spki(cert):
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


class Life:
    """Boots a device and checks after each boot that it holds a valid certificate."""

    def __init__(self, flash, clock, srv):
        self.flash = flash
        self.clock = clock
        self.srv = srv
        self.serials = []
        self.boots = []

    def boot(self, **kw):
        b = self.flash.boot(self.clock, **kw)
        self.boots.append(b)
        assert b.rc == 0 and b.seconds is not None, b
        assert not b.events("fault"), b
        c = self.flash.store()
        if c.enrolled:
            cert = _cert(c.chain[0])
            now = self.clock.now()
            nb, na = cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()
            assert nb <= now <= na, "the device holds a certificate that is not valid now\n%r" % b
            # never sleeps past the expiry of what it holds
            assert now + b.seconds <= na, b
            # the stored key is the certificate's key
            key = serialization.load_der_private_key(bytes(c.key_der), None)
            assert _spki(cert) == key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            if not self.serials or self.serials[-1] != cert.serial_number:
                self.serials.append(cert.serial_number)
        return b

    def sleep(self, b):
        """Let the fake time pass until the wake time the boot asked for."""
        self.clock.advance_to(b.wake_at)

    def ops(self, since):
        return [(r.operation, r.status) for r in self.srv.requests[since:]]


def _device_config(srv, **est):
    cfg = {"host": "127.0.0.1", "port": srv.port, "cn": "sim-device", "dns": "sim-device.local",
           "timeout": 5, "renew_margin": 6 * 3600, "retry_min": 60, "retry_max": 3600,
           "hold": 1800}
    cfg.update(est)
    return {"bootstrap": {"user": "device-1", "password": "one-time-pw",
                          "fingerprint": srv.ca_fingerprint_hex},
            "est": cfg}


def test_device_stays_enrolled_through_renewals_reboots_outages_deferrals(tmp_path, lib):
    clock = sim.SimClock(sim.time.time() - 30 * DAY)
    with sim.fake_time(clock):
        srv = DevServer(port=sim.free_port(), workdir=str(tmp_path / "srv"), cert_lifetime=LIFETIME)
        srv.add_user("device-1", "one-time-pw", one_time=True)
        srv.start()
        try:
            _life(tmp_path, lib, clock, srv)
        finally:
            srv.stop()
        assert srv.errors == []


def _life(tmp_path, lib, clock, srv):
    flash = sim.Flash(tmp_path / "flash").install(lib)
    flash.configure(_device_config(srv))
    life = Life(flash, clock, srv)

    # 1. First boot, enrollment deferred: bootstrap /cacerts by fingerprint, then 202.
    srv.set_habits(deferred=1, retry_after=900)
    b = life.boot()
    assert life.ops(0) == [("cacerts", 200), ("simpleenroll", 401), ("simpleenroll", 202)], b
    assert b.state == "bootstrapped" and 895 <= b.seconds <= 900, b
    assert "bootstrap" not in flash.config(), "the bootstrap section stays in config.json"
    # A reboot before the Retry-After has passed sends nothing.
    n = len(srv.requests)
    b = life.boot()
    assert life.ops(n) == [] and 880 <= b.seconds <= 900, b
    life.sleep(b)
    n = len(srv.requests)
    b = life.boot()
    assert [o for o in life.ops(n) if o[1] == 200] == [("simpleenroll", 200)], b
    enrolls = [r for r in srv.requests if r.operation == "simpleenroll" and r.body]
    assert len({r.body for r in enrolls}) == 1, "the deferred request was not sent again as it was"
    assert b.state == "enrolled" and life.serials, b
    c = flash.store()
    assert c.boot_password is None and c.boot_user is None, "bootstrap password kept"
    assert b"one-time-pw" not in (flash.path / "est" / "cred.a").read_bytes()
    assert b"one-time-pw" not in (flash.path / "est" / "cred.b").read_bytes()
    srv.set_habits(deferred=0)

    # 2. An extra reboot with nothing due: no request.
    n = len(srv.requests)
    b = life.boot()
    assert life.ops(n) == [] and b.state == "enrolled", b

    # 3. Renewal 1: a new key, the same subject and SAN.
    old = _cert(flash.store().chain[0])
    life.sleep(b)
    n = len(srv.requests)
    b = life.boot()
    assert life.ops(n) == [("simplereenroll", 200)], b
    new = _cert(flash.store().chain[0])
    assert new.serial_number != old.serial_number and _spki(new) != _spki(old)
    assert new.subject == old.subject
    assert new.extensions.get_extension_for_class(x509.SubjectAlternativeName).value == \
        old.extensions.get_extension_for_class(x509.SubjectAlternativeName).value

    # 4. Renewal 2, deferred twice, with a reboot in between; Retry-After honoured.
    srv.set_habits(deferred=2, retry_after=900)
    life.sleep(b)
    n = len(srv.requests)
    b = life.boot()
    assert life.ops(n) == [("simplereenroll", 202)] and b.state == "renewing", b
    assert 895 <= b.seconds <= 900, b
    b = life.boot()  # reboot during the wait
    assert life.ops(n + 1) == [] and b.state == "renewing", b
    life.sleep(b)
    b = life.boot()
    assert life.ops(n + 1) == [("simplereenroll", 202)], b
    life.sleep(b)
    b = life.boot()
    assert life.ops(n + 2) == [("simplereenroll", 200)] and b.state == "enrolled", b
    bodies = {r.body for r in srv.requests[n:]}
    assert len(bodies) == 1, "the deferred renewal was not sent again as it was"
    srv.set_habits(deferred=0)

    # 5. Renewal 3 through a server outage: backoff with growing waits, then success.
    life.sleep(b)
    srv.stop()
    waits = []
    for _ in range(4):
        b = life.boot()
        assert b.state == "renewing" and b.events("retry"), b
        waits.append(b.seconds)
        life.sleep(b)
    assert 30 <= waits[0] <= 60 and waits[-1] > waits[0] and max(waits) <= 3600, waits
    srv.start()
    n = len(srv.requests)
    b = life.boot()
    assert life.ops(n) == [("simplereenroll", 200)] and b.state == "enrolled", b
    assert len(life.serials) == 4

    # 6. Renewal 4 after a boot with an unset clock (ESP32: 2000-01-01): the device
    #    learns the time from the server's Date and sets its clock.
    life.sleep(b)
    n = len(srv.requests)
    b = life.boot(local_offset=946684800 - int(sim.time.time()))
    assert b.events("time"), b
    assert life.ops(n) == [("cacerts", 200), ("simplereenroll", 200)], b
    offset = int((flash.path / "sim_clock").read_text())
    assert abs(offset - clock.offset) <= 5, "set_time did not set the simulated clock"
    assert len(life.serials) == 5

    # 7. Renewal 5: the response is lost after the server issued (a power loss or a
    #    broken link at that instant); the same request goes again and succeeds.
    life.sleep(b)
    srv.set_habits(endless=True)
    n = len(srv.requests)
    issued = len(srv.issued)
    b = life.boot()
    assert b.state == "renewing" and b.events("retry") and len(srv.issued) == issued + 1, b
    srv.set_habits(endless=False)
    life.sleep(b)
    b = life.boot()
    assert b.state == "enrolled", b
    reqs = [r for r in srv.requests[n:] if r.operation == "simplereenroll"]
    assert len(reqs) == 2 and reqs[0].body == reqs[1].body
    csr = x509.load_der_x509_csr(base64.b64decode(reqs[0].body))
    assert _spki(_cert(flash.store().chain[0])) == csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    # 8. Renewal 6 and 7, plain; then the /cacerts schedule (7 days) has come round too.
    for _ in range(2):
        life.sleep(b)
        b = life.boot()
    assert len(life.serials) >= 8, life.serials  # the enrollment and 7 renewals
    ops = [r.operation for r in srv.requests]
    assert ops.count("simplereenroll") >= 10
    # every renewal was made with a client certificate the device held and that was valid
    for r in srv.requests:
        if r.operation == "simplereenroll":
            assert r.client_cert is not None


def test_non_retryable_failure_is_surfaced_then_retried_with_a_new_key(tmp_path, lib):
    clock = sim.SimClock(sim.time.time() - 30 * DAY)
    with sim.fake_time(clock):
        srv = DevServer(port=sim.free_port(), workdir=str(tmp_path / "srv"), cert_lifetime=LIFETIME)
        srv.add_user("device-1", "one-time-pw", one_time=True)
        srv.start()
        try:
            flash = sim.Flash(tmp_path / "flash").install(lib)
            flash.configure(_device_config(srv))
            life = Life(flash, clock, srv)
            b = life.boot()
            assert b.state == "enrolled", b
            life.sleep(b)
            srv.set_habits(issue_wrong_key=True)  # the response does not verify
            n = len(srv.requests)
            b = life.boot()
            assert b.state == "failed" and b.events("ALERT") and b.events("failed"), b
            assert 1700 <= b.seconds <= 1800, b   # hold, not a quick retry
            assert flash.store().pending.csr is None, "the refused request is kept"
            b = life.boot()  # a reboot keeps the hold
            assert life.ops(n) == [("simplereenroll", 200)] and b.state == "failed", b
            srv.set_habits(issue_wrong_key=False)
            life.sleep(b)
            b = life.boot()
            assert b.state == "enrolled", b
            reqs = [r for r in srv.requests[n:] if r.operation == "simplereenroll"]
            assert len(reqs) == 2 and reqs[0].body != reqs[1].body, "no new request after the hold"
        finally:
            srv.stop()


def test_client_reports_the_date_of_verified_responses_only(tmp_path):
    # The one client addition the device relies on: EstClient.date.
    from tinyest.client import EstClient
    from tinyest.errors import RetryLater

    clock = sim.SimClock(sim.time.time() - 3 * DAY)
    with sim.fake_time(clock):
        srv = DevServer(users=[("u", "p")], deferred=1)
        srv.start()
        try:
            boot = EstClient("127.0.0.1", srv.port, trust=[], now=False)
            boot.cacerts(bootstrap_fingerprint=srv.ca_fingerprint)
            assert boot.date is None, "a Date from an unverified connection was kept"
            cl = EstClient("127.0.0.1", srv.port, trust=[srv.ca_der], auth=("u", "p"),
                           now=clock.now())
            assert cl.date is None
            cl.cacerts()
            assert abs(cl.date[0] - clock.now()) <= 2
            from tinyest import ec
            from tinyest.csr_build import CsrBuilder

            cl.date = None
            csr = CsrBuilder().subject([("CN", "d")]).sign(ec.generate())
            with pytest.raises(RetryLater):
                cl.simpleenroll(csr)
            assert cl.date is not None and abs(cl.date[0] - clock.now()) <= 2
        finally:
            srv.stop()


@pytest.mark.parametrize("skew", [-300, -2, -1, 0, 2, 300])
def test_device_clock_off_by_up_to_max_skew_enrolls_and_renews(tmp_path, lib, skew):
    """A CA that starts certificates at the second of issuance (the dev server's
    default, backdate=0) and a device clock up to max_skew (300 s) off in either
    direction: the device keeps what was issued, then renews, never failing."""
    clock = sim.SimClock(sim.time.time() - 3 * DAY)
    with sim.fake_time(clock):
        srv = DevServer(port=sim.free_port(), workdir=str(tmp_path / "srv"), cert_lifetime=LIFETIME)
        assert srv.habits["backdate"] == 0
        srv.add_user("device-1", "one-time-pw", one_time=True)
        srv.start()
        try:
            flash = sim.Flash(tmp_path / "flash").install(lib)
            flash.configure(_device_config(srv))
            life = Life(flash, clock, srv)
            b = life.boot(local_offset=clock.offset + skew)
            assert b.state == "enrolled" and not b.events("failed"), b
            assert life.ops(0) == [("cacerts", 200), ("simpleenroll", 401),
                                   ("simpleenroll", 200)], b
            nb = _cert(flash.store().chain[0]).not_valid_before_utc.timestamp()
            assert abs(nb - clock.now()) <= 5, "the server backdated the certificate"
            # The device keeps its clock (as set_time left it when the step learned the
            # time from a Date more than max_skew away); wake_at is on that clock.
            skew = int((flash.path / "sim_clock").read_text()) - clock.offset
            clock.advance(b.seconds)
            n = len(srv.requests)
            b = life.boot(local_offset=clock.offset + skew)
            assert life.ops(n) == [("simplereenroll", 200)] and b.state == "enrolled", b
            assert len(life.serials) == 2
        finally:
            srv.stop()
