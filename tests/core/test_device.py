"""The device state machine (tinyest.device) driven step by step with a scripted
in-memory EST server and explicit clock readings; the credential store is real (files).

Runs on CPython and MicroPython. Certificates are built here with tinyest.der and carry
a filler signature: the fake client does not verify, the device never does itself.
The end-to-end runs with the real client, TLS and dev server are in
tests/host/test_device_sim_host.py and tests/host/test_rollover_host.py.
"""
from tinyest import csr, csr_build, csr_read, der, der_extra, ec, runtime, x509
from tinyest.device import (BOOTSTRAPPED, ENROLLED, FAILED, RENEWING, UNPROVISIONED, Device,
                            renew_time)
from tinyest.device_rare import retryable
from tinyest.errors import (AuthError, ConnectError, CryptoError, DERError, EstTimeout,
                            FormatError, HttpError, ProtocolError, RetryLater, StoreError,
                            TlsError, VerifyError)
from tinyest.store import Credentials, Pending, Store
from store_crash import clear_dir, temp_dir
from _t import raises

T0 = 1750000000  # 2025-06-15: a set clock
DAY = 86400
ESP32_BOOT = 946684800  # 2000-01-01: an unset clock
SIG = b"\x30\x06\x02\x01\x01\x02\x01\x01"
ECDSA_SHA256 = "1.2.840.10045.4.3.2"

_keys = [0]


def near(got, want, slack=3):
    """Durations measured across a step: time passes while it runs."""
    return want - slack <= got <= want if slack > 0 else want <= got <= want - slack


def new_key():
    _keys[0] += 1
    return ec.from_secret((1000 + _keys[0]).to_bytes(32, "big"))


def name(cn):
    return der.seq(der.set_of(der.seq(der.oid("2.5.4.3"), der.utf8(cn))))


def make_cert(spki, cn, nb, na, issuer=None, dns=None, ca=False, serial=1):
    exts = []
    if ca:
        exts.append(der.seq(der.oid("2.5.29.19"), der.boolean(True),
                            der.octet_string(der.seq(der.boolean(True)))))
    if dns:
        san = der.seq(der.tlv(0x82, dns.encode()))
        exts.append(der.seq(der.oid("2.5.29.17"), der.octet_string(san)))
    alg = der.seq(der.oid(ECDSA_SHA256))
    parts = [der.explicit(0, der.integer(2)), der.integer(serial), alg, name(issuer or cn),
             der.seq(der_extra.time(nb), der_extra.time(na)), name(cn), spki]
    if exts:
        parts.append(der.explicit(3, der.seq(*exts)))
    return der.seq(der.seq(*parts), alg, der.bit_string(SIG))


CA_KEY = ec.from_secret((77).to_bytes(32, "big"))
ROOT = make_cert(CA_KEY.public_key_der(), "Root 1", T0 - 400 * DAY, T0 + 3650 * DAY, ca=True)


class Server:
    """A scripted EST server; ``t`` is its clock (sent as Date when ``date``)."""

    def __init__(self, t=T0, life=30 * DAY):
        self.t = t
        self.life = life
        self.root = ROOT
        self.rollover = None
        self.extra = []
        self.calls = []
        self.script = []  # (op, exception) raised by the next call of op
        self.down = False
        self.date = True
        self.hook = None
        self.serial = 100

    def fail(self, op, e):
        self.script.append((op, e))

    def client(self, **kw):
        return FakeClient(self, kw)

    def ops(self):
        return [c[0] for c in self.calls]

    def issue(self, csr_der):
        self.serial += 1
        req = csr_read.Csr(csr_der)
        san = req.san
        return make_cert(req.public_key_der, "dev", self.t - 300, self.t - 300 + self.life,
                         issuer="Root 1", serial=self.serial, dns=san[0][1] if san else None)


class FakeClient:
    def __init__(self, srv, kw):
        self.srv = srv
        self.kw = kw
        self.ca_certs = []
        self.ca_anchors = []
        self.rollover = None
        self.date = None
        self.bootstrap_server_verified = True

    def _answer(self, op, csr_der=None):
        srv = self.srv
        srv.calls.append((op, csr_der, self.kw))
        if srv.down:
            raise ConnectError("refused")
        if srv.date:
            self.date = (srv.t, runtime.ticks())
        if srv.hook is not None:
            srv.hook(op, csr_der, self)
        for i in range(len(srv.script)):
            if srv.script[i][0] == op:
                e = srv.script.pop(i)[1]
                raise e

    def cacerts(self, bootstrap_fingerprint=None):
        self._answer("cacerts")
        self.ca_certs = [self.srv.root] + self.srv.extra
        if bootstrap_fingerprint is not None:
            self.ca_anchors = [self.srv.root]
        self.rollover = self.srv.rollover
        return self.ca_certs

    def simpleenroll(self, csr_der):
        self._answer("simpleenroll", csr_der)
        return [self.srv.issue(csr_der)]

    def accept_issued(self, certs, csr_der, op):
        self._answer("accept_issued", csr_der)
        return list(certs)

    def simplereenroll(self, csr_der):
        self._answer("simplereenroll", csr_der)
        return [self.srv.issue(csr_der)]


class Rig:
    """A store in a fresh directory, a server, and devices made on demand (one per boot)."""

    def __init__(self, srv=None, **settings):
        self.root = temp_dir("device")
        self.store = Store(self.root)
        self.srv = srv or Server()
        self.events = []
        self.errors = []
        self.times = []
        self.settings = {"host": "est.example", "cn": "dev", "dns": "dev.example",
                         "cacerts_interval": 365 * DAY}
        self.settings.update(settings)

    def device(self, **kw):
        s = dict(self.settings)
        s.update(kw)
        return Device(self.store, progress=lambda e, d: self.events.append((e, d)),
                      on_error=lambda a, e: self.errors.append((a, e)),
                      set_time=self.times.append, key_factory=new_key, client=self.srv.client, **s)

    def step(self, now, **kw):
        d = self.device(**kw)
        return d, d.step(now)

    def provision(self, password=True, trust=True, **config):
        c = Credentials()
        if trust:
            c.trust = [ROOT]
        if password:
            c.boot_user, c.boot_password = "boot", "one-time"
        c.config = config
        self.store.commit(c)

    def provision_factory_key(self):
        """Provisioned with a password and a factory key and certificate too."""
        self.provision()
        c = self.store.load()
        boot_key = new_key()
        c.boot_key = boot_key.to_der()
        c.boot_chain = [make_cert(boot_key.public_key_der(), "idevid", T0 - DAY, T0 + 3650 * DAY)]
        self.store.commit(c)
        return c

    def enroll(self, t=T0):
        self.provision()
        self.srv.t = t
        d, delay = self.step(t)
        assert d.state == ENROLLED, d.state
        return d, delay

    def cert(self):
        return x509.Certificate(self.store.load().chain[0])

    def close(self):
        clear_dir(self.root, True)


# ---------------------------------------------------------------- pure functions


def test_renew_time_table():
    life = 90 * DAY
    cases = [
        ("2/3 of the lifetime", (0, life, 2 / 3, 7 * DAY), 60 * DAY),
        ("margin first", (0, life, 2 / 3, 40 * DAY), 50 * DAY),
        ("margin never before half", (0, life, 2 / 3, 80 * DAY), 45 * DAY),
        ("fraction below half wins", (0, life, 0.3, 80 * DAY), 27 * DAY),
        ("zero margin", (0, life, 2 / 3, 0), 60 * DAY),
        ("short certificate", (T0, T0 + 3600, 2 / 3, 7 * DAY), T0 + 1800),
        ("empty validity", (T0, T0, 2 / 3, 0), T0),
        ("inverted validity", (T0, T0 - 5, 2 / 3, 0), T0),
    ]
    for label, args, want in cases:
        got = renew_time(*args)
        assert got == want, "%s: %r != %r" % (label, got, want)


def test_retryable_table():
    cases = [
        ("connection refused", ConnectError("x"), True),
        ("timeout", EstTimeout("x"), True),
        ("TLS handshake", TlsError("x"), True),
        ("broken framing", ProtocolError("x"), True),
        ("500", HttpError("x", 500), True),
        ("503", HttpError("x", 503), True),
        ("429", HttpError("x", 429), True),
        ("408", HttpError("x", 408), True),
        ("202", RetryLater(60), True),
        ("400 bad CSR", HttpError("x", 400), False),
        ("404", HttpError("x", 404), False),
        ("401", AuthError("x", 401), False),
        ("403", AuthError("x", 403), False),
        ("response does not verify", VerifyError("x"), False),
        ("bad format", FormatError("x"), False),
        ("bad DER", DERError("x"), False),
        ("crypto", CryptoError("x"), False),
    ]
    for label, e, want in cases:
        assert retryable(e) == want, label


def test_backoff_doubles_with_jitter_up_to_the_cap():
    from tinyest.device_rare import backoff

    d = Device(Store("/nonexistent-store"), retry_min=60, retry_max=1000)
    for attempts, lo, hi in ((1, 30, 60), (2, 60, 120), (3, 120, 240), (4, 240, 480),
                             (5, 480, 960), (6, 500, 1000), (60, 500, 1000)):
        seen = [backoff(d, attempts) for _ in range(40)]
        assert min(seen) >= lo and max(seen) <= hi, (attempts, min(seen), max(seen))
        assert len(set(seen)) > 1 or lo == hi, "no jitter at attempt %d" % attempts


def test_unknown_setting_refused():
    raises(FormatError, Device, Store("/nonexistent-store"), renew_fractoin=0.5)


def test_renewal_csr_copies_subject_and_san():
    key = new_key()
    cert = make_cert(key.public_key_der(), "device-7", T0, T0 + DAY, dns="device-7.example")
    other = new_key()
    req = csr_read.Csr(csr.renewal(cert, other))
    req.verify()
    c = x509.Certificate(cert)
    assert req.subject_der == bytes(c.subject_der)
    assert req.public_key_der == other.public_key_der()
    crit, value = req.extension(x509.OID_SAN)
    assert not crit and value == bytes(c.extension(x509.OID_SAN)[1])
    assert req.san == [("dns", "device-7.example")] and req.san == c.san
    plain = make_cert(key.public_key_der(), "device-8", T0, T0 + DAY)
    req = csr_read.Csr(csr.renewal(plain, other))
    assert req.extensions == [] and req.san is None and req.subject == "CN=device-8"


# ---------------------------------------------------------------- lifecycle


def test_unprovisioned_waits():
    r = Rig()
    try:
        d, delay = r.step(T0)
        assert d.state == UNPROVISIONED and delay == d.max_sleep and r.srv.calls == []
        r.provision(password=False)  # trust anchor but no credential
        d, delay = r.step(T0)
        assert d.state == BOOTSTRAPPED and r.srv.calls == [] and delay == d.max_sleep
        d, delay = r.step(T0, host=None)
        assert d.state == UNPROVISIONED
    finally:
        r.close()


def test_bootstrap_enroll_renew():
    r = Rig()
    try:
        r.provision(trust=False, fingerprint="ab" * 32)
        d, delay = r.step(T0)
        assert r.srv.ops() == ["cacerts", "simpleenroll"], r.srv.ops()
        boot_kw = r.srv.calls[0][2]
        assert boot_kw["trust"] == [] and boot_kw["auth"] is None
        enroll_kw = r.srv.calls[1][2]
        assert enroll_kw["trust"] == [ROOT] and enroll_kw["auth"] == ("boot", "one-time")
        c = r.store.load()
        assert d.state == ENROLLED and c.trust == [ROOT] and c.enrolled and c.pending is None
        assert c.boot_password is None and c.boot_user is None, "password kept"
        assert c.enrolled_at == T0 and c.cacerts_at == T0
        cert = r.cert()
        due = renew_time(cert.not_before, cert.not_after, 2 / 3, 7 * DAY)
        assert delay == d.max_sleep and d.wake_at == T0 + delay  # a day at most
        d, delay = r.step(due - 1000)
        assert delay == 1000 and d.wake_at == due
        first_key = c.key_der
        # not yet due: a reboot does nothing
        d, delay = r.step(due - 100)
        assert len(r.srv.calls) == 2 and d.state == ENROLLED and delay == 100
        # due: renewed with a new key, authenticated by the current certificate
        r.srv.t = due
        d, delay = r.step(due)
        assert r.srv.ops()[2:] == ["simplereenroll"]
        kw = r.srv.calls[2][2]
        assert kw["cert"] == c.chain[0] and kw["key"] == first_key and kw["auth"] is None
        c2 = r.store.load()
        assert c2.key_der != first_key and c2.chain[0] != c.chain[0] and d.state == ENROLLED
        assert c2.enrolled_at == due
        req = csr_read.Csr(r.srv.calls[2][1])
        assert req.subject == "CN=dev" and req.san == [("dns", "dev.example")]
    finally:
        r.close()


def test_rekey_off_keeps_the_key():
    r = Rig(rekey=False)
    try:
        r.enroll()
        c = r.store.load()
        t = r.device().renew_at(c.chain[0])
        r.srv.t = t
        r.step(t)
        c2 = r.store.load()
        assert c2.key_der == c.key_der and c2.chain[0] != c.chain[0]
    finally:
        r.close()


def test_request_is_stored_before_it_is_sent_and_resent_after_a_power_loss():
    r = Rig()
    try:
        r.enroll()
        old = r.store.load()
        t = r.device().renew_at(old.chain[0])
        r.srv.t = t
        seen = []

        class PowerLoss(Exception):
            pass

        def hook(op, csr_der, client):
            if op != "simplereenroll":
                return
            p = r.store.load().pending
            seen.append((op, p.op, p.csr == csr_der, p.key_der))
            if len(seen) == 1:
                raise PowerLoss()  # the server issued; the device never saw the answer

        r.srv.hook = hook
        raises(PowerLoss, r.step, t)
        c = r.store.load()
        assert c.key_der == old.key_der and c.chain == old.chain, "changed before the commit"
        sent = [c[1] for c in r.srv.calls if c[0] == "simplereenroll"]
        assert c.pending is not None and c.pending.csr == sent[0]
        r.step(t + 5)  # reboot
        sent = [c[1] for c in r.srv.calls if c[0] == "simplereenroll"]
        assert len(sent) == 2 and sent[0] == sent[1], "a new request instead of the stored one"
        assert seen[0][:3] == ("simplereenroll", "simplereenroll", True)
        c = r.store.load()
        assert c.pending is None and c.key_der == seen[0][3]
    finally:
        r.close()


def test_retry_after_is_honoured_across_reboots():
    r = Rig()
    try:
        r.enroll()
        t = r.device().renew_at(r.store.load().chain[0])
        r.srv.t = t
        r.srv.fail("simplereenroll", RetryLater(900))
        d, delay = r.step(t)
        p = r.store.load().pending
        assert d.state == RENEWING and near(delay, 900) and near(p.retry_at - t, 900, -3)
        assert p.csr is not None
        d, delay = r.step(t + 300)  # reboot before the time
        assert r.srv.ops().count("simplereenroll") == 1 and near(delay, 600) and d.state == RENEWING
        r.srv.t = t + 900
        d, delay = r.step(t + 900)
        calls = [c for c in r.srv.calls if c[0] == "simplereenroll"]
        assert len(calls) == 2 and calls[0][1] == calls[1][1] and d.state == ENROLLED
    finally:
        r.close()


def test_backoff_on_network_failure_clamped_before_expiry():
    r = Rig(retry_min=60, retry_max=6 * 3600)
    try:
        r.enroll()
        cert = r.cert()
        t = r.device().renew_at(r.store.load().chain[0])
        r.srv.down = True
        waits = []
        for _ in range(8):
            d, delay = r.step(t)
            waits.append(delay)
            assert d.state == RENEWING and r.store.load().pending.attempts == len(waits)
            t += delay
        assert waits[0] <= 60 and waits[-1] <= 6 * 3600 and waits[-1] > waits[0], waits
        # close to the expiry: never sleeps past notAfter - retry_min
        t = cert.not_after - 2 * 3600
        d, delay = r.step(t)
        assert t + delay <= cert.not_after - 60, (delay, cert.not_after - t)
        r.srv.down = False
        r.srv.t = t + delay
        d, delay = r.step(t + delay)
        assert d.state == ENROLLED and r.cert().not_after > cert.not_after
    finally:
        r.close()


def test_non_retryable_failure_is_surfaced_and_held():
    r = Rig(hold=3600)
    try:
        r.enroll()
        old = r.store.load()
        t = r.device().renew_at(old.chain[0])
        r.srv.t = t
        r.srv.fail("simplereenroll", AuthError("simplereenroll: HTTP 403 Forbidden", 403))
        d, delay = r.step(t)
        c = r.store.load()
        assert d.state == FAILED and isinstance(d.error, AuthError)
        assert len(r.errors) == 1 and r.errors[0][0] == "renew"
        assert c.pending.op == "failed" and c.pending.csr is None and near(delay, 3600)
        assert c.key_der == old.key_der and c.chain == old.chain
        assert [e for e in r.events if e[0] == "failed"]
        d, delay = r.step(t + 60)  # reboot: still held
        assert d.state == FAILED and r.srv.ops().count("simplereenroll") == 1
        r.srv.t = t + 3600
        d, delay = r.step(t + 3600)
        calls = [c for c in r.srv.calls if c[0] == "simplereenroll"]
        assert len(calls) == 2 and calls[0][1] != calls[1][1], "the refused request was sent again"
        assert d.state == ENROLLED and d.error is None
    finally:
        r.close()


def test_first_enrollment_refused_with_a_bad_csr():
    r = Rig(hold=600)
    try:
        r.provision()
        r.srv.fail("simpleenroll", HttpError("simpleenroll: HTTP 400 Bad Request", 400))
        d, delay = r.step(T0)
        assert d.state == FAILED and near(delay, 600) and len(r.errors) == 1
        assert r.store.load().boot_password == "one-time", "credential lost on a refusal"
    finally:
        r.close()


def test_unknown_clock_learns_time_from_the_server():
    r = Rig()
    try:
        r.enroll()
        t = r.device().renew_at(r.store.load().chain[0])
        r.srv.t = t + 10
        d, delay = r.step(ESP32_BOOT + 5)
        assert r.srv.ops()[-2:] == ["cacerts", "simplereenroll"], r.srv.ops()
        assert r.times and abs(r.times[0] - (t + 10)) <= 2, r.times
        assert d.state == ENROLLED and d.wake_at is not None
        assert abs(d.wake_at - (t + 10 + delay)) <= 2
        assert r.store.load().cacerts_at >= t + 10
        # a clock earlier than a time the store recorded is unknown too
        r.times[:] = []
        d, delay = r.step(T0 + 100)
        assert r.times, "a clock behind the store's own records was believed"
    finally:
        r.close()


def test_unknown_clock_never_makes_the_certificate_expired():
    r = Rig(fallback=True)
    try:
        r.provision_factory_key()
        r.srv.t = T0
        r.step(T0)
        held = r.store.load()
        assert held.enrolled
        # Years later, the server unreachable, the clock unset: keep everything, keep trying.
        r.srv.down = True
        for boot in range(3):
            d, delay = r.step(ESP32_BOOT + boot)
            c = r.store.load()
            assert c.chain == held.chain and c.key_der == held.key_der and c.trust == held.trust
            assert d.state != FAILED and d.wake_at is None and 1 <= delay <= d.retry_max
        assert "simpleenroll" not in r.srv.ops()[1:], "fell back on an unknown clock"
        assert r.times == []
    finally:
        r.close()


def test_fallback_to_the_bootstrap_credential_after_expiry():
    for fallback in (True, False):
        r = Rig(fallback=fallback)
        try:
            c = r.provision_factory_key()
            r.srv.t = T0
            r.step(T0)
            cert = r.cert()
            late = cert.not_after + DAY
            r.srv.t = late
            n = len(r.srv.calls)
            d, delay = r.step(late)
            ops = r.srv.ops()[n:]
            if fallback:
                assert ops == ["cacerts", "simpleenroll"], ops  # the time confirmed first
                kw = r.srv.calls[-1][2]
                assert kw["cert"] == c.boot_chain[0] and kw["key"] == c.boot_key
                assert d.state == ENROLLED and r.cert().not_after > late
            else:
                assert ops == ["simplereenroll"], ops
        finally:
            r.close()


def test_skewed_clock_is_corrected():
    r = Rig(max_skew=300)
    try:
        r.enroll()
        t = r.device().renew_at(r.store.load().chain[0])
        r.srv.t = t + 3600  # the device is an hour slow, and the renewal falls due
        d, delay = r.step(t)
        assert r.times and abs(r.times[0] - (t + 3600)) <= 2
        r.times[:] = []
        t += 3600
        r.srv.t = t + 100
        r.store.update(cacerts_at=None)
        d, delay = r.step(t + 90)  # within the skew: nothing to set
        assert r.srv.ops()[-1] == "cacerts" and r.times == []
    finally:
        r.close()


def test_certificate_ahead_of_a_slow_clock_is_kept_and_the_clock_distrusted():
    # The CA's clock is an hour ahead and sends no Date: the certificate issued for
    # our key starts in our future. It is committed (the one-time password is spent),
    # and the clock is not believed until a server Date settles it.
    r = Rig()
    try:
        r.provision()
        r.srv.t = T0 + 3600 + 300  # Server.issue backdates notBefore by 300 s
        r.srv.date = False
        d, delay = r.step(T0)
        assert d.state == ENROLLED and r.errors == [], (d.state, r.errors)
        c = r.store.load()
        assert c.boot_password is None
        nb = x509.Certificate(c.chain[0]).not_before
        assert nb == T0 + 3600 and c.enrolled_at == nb, (nb, c.enrolled_at)
        assert [e for e in r.events if e[0] == "time" and "distrusted" in e[1]], r.events
        assert d.wake_at is None  # the time is unknown for the rest of the step
        # The next boot, on the same slow clock, learns the time before anything else.
        r.srv.date = True
        d, delay = r.step(T0 + 60)
        assert r.srv.ops()[-1] == "cacerts" and r.times and abs(r.times[-1] - r.srv.t) <= 2
    finally:
        r.close()


def test_ntp_hook_sets_an_unknown_clock():
    r = Rig()
    try:
        r.enroll()
        n = len(r.srv.calls)
        d = r.device()
        d.ntp = lambda: T0 + 50
        delay = d.step(ESP32_BOOT)
        assert len(r.srv.calls) == n, "went to the server although NTP gave the time"
        assert d.wake_at is not None and abs(d.wake_at - (T0 + 50 + delay)) <= 2
        d = r.device()

        def broken():
            raise OSError("no NTP")

        d.ntp = broken
        r.srv.t = T0 + 60
        d.step(ESP32_BOOT)
        assert r.srv.ops()[n:] == ["cacerts"]
    finally:
        r.close()


def test_key_that_is_not_the_certificates_is_surfaced_not_retried():
    r = Rig(hold=5000)
    try:
        r.enroll()
        c = r.store.load()
        c.key_der = new_key().to_der()  # a store written wrong (not by the device)
        r.store.commit(c)
        n = len(r.srv.calls)
        d, delay = r.step(T0 + 10)
        assert d.state == FAILED and delay == 5000, (d.state, delay)
        assert len(r.srv.calls) == n, "contacted the server with a key that cannot work"
        assert [a for a, e in r.errors] == ["store"] and isinstance(d.error, StoreError)
        assert [e for e in r.events if e[0] == "failed"], r.events
    finally:
        r.close()


def test_an_answer_that_does_not_verify_yet_is_kept_not_requested_again():
    # The server said 200 (the one-time password is spent) but the answer did not
    # verify on the device (say, its issuing CA was not known yet): the device keeps
    # what was issued, retries with backoff, and finishes from it, without a second
    # /simpleenroll.
    r = Rig()
    try:
        r.provision()
        r.srv.t = T0

        def hook(op, csr_der, cl):
            if op == "simpleenroll":
                e = VerifyError("no issuer found")
                e.issued = [r.srv.issue(csr_der)]
                raise e

        r.srv.hook = hook
        d, delay = r.step(T0)
        c = r.store.load()
        assert d.state == BOOTSTRAPPED and c.pending.issued and c.boot_password == "one-time"
        assert r.errors == [] and 30 <= delay <= 60, (r.errors, delay)
        r.srv.hook = None
        n = len(r.srv.calls)
        d, delay = r.step(T0 + delay)
        assert r.srv.ops()[n:] == ["cacerts", "accept_issued"], r.srv.ops()[n:]
        assert d.state == ENROLLED and r.store.load().boot_password is None
        assert r.store.load().chain == c.pending.issued
        assert r.srv.ops().count("simpleenroll") == 1
    finally:
        r.close()


def test_ntp_time_is_not_a_server_confirmed_clock():
    # A wrong NTP answer past the certificate's expiry: the device first confirms the
    # time with the server (/cacerts and its Date), as the time policy says, rather
    # than going straight to the fallback enrollment.
    r = Rig(fallback=True)
    try:
        r.provision_factory_key()
        r.srv.t = T0
        r.step(T0)
        late = r.cert().not_after + DAY
        n = len(r.srv.calls)
        d = r.device()
        d.ntp = lambda: late  # NTP is wrong; the server still says T0 + 10
        r.srv.t = T0 + 10
        d.step(ESP32_BOOT)
        assert r.srv.ops()[n:][:1] == ["cacerts"], r.srv.ops()[n:]
        assert "simpleenroll" not in r.srv.ops()[n:], r.srv.ops()[n:]
        assert d.state == ENROLLED, d.state
    finally:
        r.close()


# ---------------------------------------------------------------- /cacerts and rollover


def test_cacerts_schedule():
    r = Rig(cacerts_interval=7 * DAY, cacerts_margin=30 * DAY)
    try:
        r.enroll()
        r.store.update(cacerts_at=T0)
        d = r.device()
        c = r.store.load()
        assert d._cacerts_due(c, T0) == T0 + 7 * DAY
        # the only anchor expires in 10 days: daily
        short = make_cert(CA_KEY.public_key_der(), "Root 1", T0 - DAY, T0 + 10 * DAY, ca=True)
        c.trust = [short]
        assert d._cacerts_due(c, T0) == T0 + DAY
        # a longer-lived second anchor: back to the interval
        c.trust = [short, ROOT]
        assert d._cacerts_due(c, T0) == T0 + 7 * DAY
        c.cacerts_at = None
        assert d._cacerts_due(c, T0) == T0
        # due: a step fetches /cacerts and records it
        r.srv.t = T0 + 7 * DAY
        n = len(r.srv.calls)
        r.step(T0 + 7 * DAY)
        assert r.srv.ops()[n:] == ["cacerts"] and r.store.load().cacerts_at == T0 + 7 * DAY
    finally:
        r.close()


class _Rollover:
    def __init__(self, new_with_new, new_with_old, old_with_new=None):
        self.new_with_new = new_with_new
        self.new_with_old = new_with_old
        self.old_with_new = old_with_new


def test_rollover_adds_only_a_vouched_root_and_retires_only_expired_ones():
    key2 = ec.from_secret((78).to_bytes(32, "big"))
    root2 = make_cert(key2.public_key_der(), "Root 2", T0 - DAY, T0 + 7300 * DAY, ca=True)
    nwo = make_cert(key2.public_key_der(), "Root 2", T0 - DAY, T0 + 3650 * DAY, issuer="Root 1",
                    ca=True)
    r = Rig()
    try:
        r.enroll()
        # a new root without NewWithOld: not trusted
        r.srv.rollover = _Rollover(root2, None)
        r.srv.t = T0 + 10
        r.store.update(cacerts_at=None)
        r.step(T0 + 10)
        assert r.store.load().trust == [ROOT]
        # vouched for by the current root: added, in one commit, old root kept
        r.srv.rollover = _Rollover(root2, nwo)
        r.store.update(cacerts_at=None)
        gen = r.store.load().generation
        r.step(T0 + 20)
        c = r.store.load()
        assert c.trust == [ROOT, root2] and c.generation == gen + 1
        assert [e for e in r.events if e[0] == "rollover"]
        # the old root expires: retired only once the time is known and past it
        late = T0 + 3651 * DAY
        r.srv.rollover = None
        r.srv.down = True
        r.step(ESP32_BOOT)  # unknown clock, server down: nothing retired
        assert r.store.load().trust == [ROOT, root2]
        r.srv.down = False
        r.srv.t = late
        r.store.update(cacerts_at=None, pending=None)
        r.step(late)
        assert r.store.load().trust == [root2]
        # the last anchor is never retired, even expired
        r.srv.t = T0 + 7400 * DAY
        r.store.update(cacerts_at=None, pending=None)
        r.step(T0 + 7400 * DAY)
        assert r.store.load().trust == [root2]
    finally:
        r.close()


def test_provisioned_pending_request_is_sent():
    # A factory-made key and CSR left pending (op "enroll") by the provisioning agent.
    r = Rig()
    try:
        r.provision()
        key = new_key()
        req = csr_build.CsrBuilder().subject([("CN", "factory")]).sign(key)
        r.store.update(pending=Pending("enroll", req, key.to_der()))
        d, delay = r.step(T0)
        assert r.srv.calls[0][0] == "simpleenroll" and r.srv.calls[0][1] == req
        assert d.state == ENROLLED and r.store.load().key_der == key.to_der()
    finally:
        r.close()


def test_step_collects_every_few_kib_and_restores_the_setting():
    import gc

    th = getattr(gc, "threshold", None)  # MicroPython; CPython has no such setting
    r = Rig()
    seen = []
    r.srv.hook = lambda op, csr_der, cl: seen.append(th() if th else None)
    was = th() if th else None
    try:
        if th:
            th(-1)
        r.provision()
        d, delay = r.step(T0)
        assert d.state == ENROLLED and seen, (d.state, seen)
        if th:
            assert set(seen) == {4096}, seen  # during the step (Device.GC_EVERY)
            assert th() == -1  # as it was before the step
        else:
            assert set(seen) == {None}
    finally:
        if th:
            th(was)
        r.close()


def test_default_port_follows_the_scheme():
    # 443 for EST over HTTPS; 5684 (RFC 7252 12.7) for "coaps"; a port given wins
    import tinyest.coaps as coaps

    rig = Rig()
    c = Credentials()
    c.config = {"host": "est.example"}
    made = []
    saved = coaps.for_device
    coaps.for_device = lambda **kw: made.append(kw["port"]) or saved(**kw)
    try:
        for scheme, port, want in (("https", None, 443), ("coaps", None, 5684), ("coaps", 6000, 6000),
                                   ("https", 8443, 8443)):
            settings = {"scheme": scheme, "unload": False}
            if port:
                settings["port"] = port
            d = Device(rig.store, **settings)
            cl = d._client(c, None, [b"anchor"] if scheme == "https" else [])
            assert cl.port == want, (scheme, port, cl.port)
            if scheme == "coaps":
                assert made[-1] == want
    finally:
        coaps.for_device = saved
    assert made == [5684, 6000]
