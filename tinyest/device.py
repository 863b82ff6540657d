"""Device lifecycle: bootstrap, enroll, renew and follow CA rollovers, one step at a time.

    from tinyest.store import Store
    from tinyest.device import Device

    dev = Device(Store("/est"), progress=on_event, host="est.example.com", cn="device-0042")
    while True:
        seconds = dev.step()        # does what is due; returns when to call again
        deep_sleep(seconds)         # a reboot between steps is expected and harmless

Everything a step needs survives in the credential store (``tinyest.store``): a
device may deep-sleep (reboot) between any two steps, or lose power at any instant.

States (``dev.state`` after a step)
    unprovisioned   no trust anchor (and no CA fingerprint to bootstrap one), or no
                    server configured: nothing can be done.
    bootstrapped    trust anchors, no certificate yet: enrolls (simpleenroll) with the
                    bootstrap credential (a password, or a factory key and certificate).
    enrolled        a key and certificate in use; renewal not yet due.
    renewing        renewal due or a request in flight (simplereenroll).
    failed          the last attempt failed for a reason that retrying will not fix
                    (see Errors); the device waits ``hold`` seconds, then starts over.
    The current credentials stay in use in every state until new ones are committed.

Schedule
    Renewal is due at ``notBefore + renew_fraction * lifetime`` (default 2/3) or at
    ``notAfter - renew_margin`` (default 7 days), whichever comes first; the margin
    never moves it before half of the lifetime (short-lived certificates).
    /cacerts is fetched every ``cacerts_interval`` (7 days), daily once the latest
    trust anchor is within ``cacerts_margin`` (30 days) of its expiry, and whenever
    the clock must be learned. ``step`` returns the seconds until the next due action
    (at least 1, at most ``max_sleep``; ``retry_min`` when an action is due but was
    left for the next step, as each action runs at most once per step).

Retries (``store.pending`` holds the state, so a reboot loses nothing)
    Before a request is sent, its key and CSR are committed as pending; after a power
    loss, even one after the server issued (and consumed a one-time password), the
    same request is sent again. Retryable failures: network errors, timeouts, TLS
    handshake failures, HTTP framing errors, 5xx, 408, 429 and 202. They are retried
    after an exponential backoff, ``retry_min`` doubling up to ``retry_max``, with
    jitter (uniform in the upper half), and never later than ``retry_min`` before the
    current certificate expires. A 202's Retry-After is honoured as given, even past
    the expiry (logged), and the same request is sent again. Every contact with the
    server waits for the pending ``retry_at``.

Errors
    Not retryable: 401/403 (AuthError), other 4xx (a bad CSR), VerifyError (the
    response did not verify), FormatError/DERError/CryptoError. They are surfaced:
    state "failed", ``dev.error``, ``on_error(action, exception)``, a "failed" log
    event; the pending request is dropped (a new key and CSR next time) and the next
    attempt waits ``hold`` seconds (clamped before the expiry like a retry).
    StoreError (the store is damaged or cannot be written) and errors reading the
    stored certificates propagate out of ``step``: the application decides (wipe and
    provision again). A stored key that is not its certificate's (or a factory key
    not its chain's; ``Credentials.check``, once per Device) is surfaced like a
    failure, action "store": state "failed", ``on_error``, and ``step`` returns
    ``hold`` without contacting the server. TLS handshake failures count as retryable: on MicroPython a
    refused certificate and a broken handshake are not reliably told apart.

Rekey and fallback
    A renewal makes a new key (``rekey=True``, P-256 by ``tinyest.ec`` unless a
    ``key_factory`` is given) and a CSR with the current certificate's subject and
    subjectAltName copied byte for byte. The old key and certificate stay in use until
    the new ones are verified (chain to the trust anchors, public key match) and
    committed. The bootstrap password is erased by the first enrollment (unless
    ``keep_password``). With ``fallback=True``, once the certificate has expired, on a
    clock the server has confirmed in the same step, the device enrolls again with the
    bootstrap credential (a factory certificate, or a kept password).

Time policy
    ``step(now)`` takes the local clock (seconds since 1970; default ``runtime.now()``).
    A clock earlier than ``min_time`` (default 2024-01-01) or than a time this store
    recorded itself (``enrolled_at``, ``cacerts_at``) is unknown: ESP32 boots at 2000,
    rp2 at 2021. On an unknown clock the device calls the ``ntp`` hook if given, else
    learns the time from the Date header of a response on a verified TLS connection
    (an authenticated server): it fetches /cacerts for that when nothing else is in
    flight. A Date that differs from a known clock by more than ``max_skew`` (300 s)
    replaces it too. A learned time is passed to ``set_time(seconds)`` so the
    application can set the RTC; it is used for the rest of the step, never stored.
    An unknown clock never makes a certificate expired: nothing is renewed, retired
    or given up on the strength of a time the device does not know; while the clock
    is unknown, retries are timed from the attempt count alone.
    Validity dates are checked give or take ``max_skew``, and the certificate just
    issued for our key is never refused for its dates (CAs often start it at the
    second of issuance). If it starts more than ``max_skew`` after the local clock
    (and no server Date confirmed that clock), it is committed all the same, the
    clock is unknown for the rest of the step, and ``enrolled_at`` records its
    notBefore, so that later boots learn the time before relying on it.

CA rollover (RFC 7030 4.1.3)
    When /cacerts carries a new self-signed root together with a NewWithOld
    certificate that verifies under a current trust anchor (``EstClient.rollover``),
    the new root is added to the trust anchors in one commit. An anchor is retired
    only once the time is known, it has expired and another anchor is still valid.
    At most ``device_rare.MAX_ANCHORS`` (8) anchors are kept.

Callbacks (all optional)
    ``progress(event, detail)``: progress, as ``EstClient`` names it, including
    the client's own (connect, request,
    response...) and the device's events: bootstrap, enrolled, renewed, cacerts,
    rollover, retired, time, retry, failed, wait. ``on_error(action, exc)``,
    ``set_time(seconds)``, ``ntp() -> seconds or None``. The library never prints.

Settings (keyword arguments; host, port, label, fingerprint, cn, dns and scheme may
also come from the store's config)
    host, port (443; 5684 for coaps), label: the EST server. scheme="https"; "coaps":
    EST over CoAP and DTLS (``tinyest.coaps.for_device``; label then the resource
    path) when no ``client`` hook is given. fingerprint: SHA-256 (32 bytes or hex)
    of the CA certificate for a first /cacerts without a trust anchor. cn, dns (a
    name or a list): the first request's subject CN and DNS names. timeout=30.
    renew_fraction=2/3, renew_margin=604800, retry_min=60, retry_max=21600,
    hold=86400, cacerts_interval=604800, cacerts_margin=2592000, max_sleep=86400,
    max_skew=300, min_time=1704067200, rekey=True, curve="P-256", fallback=False,
    keep_password=False, unload=True. Unknown names raise FormatError.
    Hooks: ``key_factory() -> signer with to_der()``, ``make_csr(signer,
    current_cert_der or None) -> CSR DER``, ``client(**kw) -> EstClient-like``: its
    clients get the device's identity (``cert``, ``key``: the current certificate
    once enrolled, the factory one before) for /cacerts and the bootstrap too,
    where EstClient's get none, since EST over CoAP (``coaps.for_device``)
    authenticates every DTLS session by it.

Limits: at most ``MAX_ACTIONS`` server operations per step, each action once;
one with scheme="coaps": a second DTLS handshake would run in the heap the first
left in pieces, so the next is due 1 s later, after a fresh boot on a board that
sleeps between steps (its heap whole again).
Memory: during a step the collector runs every ``GC_EVERY`` (4096) bytes
allocated (``gc.threshold``, restored after; ``tinyest.ec`` lifts it for its
arithmetic), which keeps a small heap unfragmented: without it a TLS handshake in
the GC heap (rp2, stm32) fails at some heap sizes above the smallest that works.
The step holds the store snapshot and one operation's working set; the
client, x509 and key modules are imported only when an action needs them. With
``unload`` (the default), before each request the step forgets the tinyest
modules the transport does not need (``tinyest.unload``): a mip-installed board
gets their bytecode back for the TLS handshake and loads them again to check the
answer; once the answer is read, the client's ``release`` forgets the transport
(``tinyest.TRANSPORT``: http and its rare halves) for that check. Modules already
imported when the Device was made (the application's own, e.g. ``tinyest.ec``
for a ``key_factory``) are kept.
``tinyest.device_rare`` holds what runs off the TLS handshake: a new key and
CSR (made before ``unload``), the commit of an answer and of /cacerts, failures,
retries and the clock; imported when needed, it is unloaded with the others.
Side channels: none of its own; keys are generated and handled by ``tinyest.ec``.
"""

import gc
import sys

from tinyest import runtime
from tinyest.errors import AuthError, EstError, FormatError, StoreError

from tinyest import store  # noqa: F401  loaded with the device, which runs on one: unload() keeps it

UNPROVISIONED = "unprovisioned"
BOOTSTRAPPED = "bootstrapped"
ENROLLED = "enrolled"
RENEWING = "renewing"
FAILED = "failed"

MAX_ACTIONS = 4
GC_EVERY = 4096  # bytes allocated between collections during a step (MicroPython)

_DEFAULTS = {
    "host": None, "port": None, "label": None, "fingerprint": None, "cn": None, "dns": None,
    "timeout": 30, "renew_fraction": 2 / 3, "renew_margin": 7 * 86400, "retry_min": 60,
    "retry_max": 6 * 3600, "hold": 86400, "cacerts_interval": 7 * 86400,
    "cacerts_margin": 30 * 86400, "max_sleep": 86400, "max_skew": 300,
    "min_time": 1704067200, "rekey": True, "curve": "P-256", "fallback": False,
    "keep_password": False, "unload": True, "scheme": "https",
}
_FROM_STORE = ("host", "port", "label", "fingerprint", "cn", "dns", "scheme")
_IN_FLIGHT = ("simpleenroll", "simplereenroll", "enroll")  # "enroll": a factory-made CSR


def renew_time(not_before, not_after, fraction=2 / 3, margin=7 * 86400):
    """When a certificate valid from ``not_before`` to ``not_after`` is due for renewal."""
    life = not_after - not_before
    if life <= 0:
        return not_before
    at = not_before + int(round(life * fraction))  # floats only for the duration
    floor = not_before + life // 2
    m = not_after - margin
    if m < at:
        at = m if m > floor else min(at, floor)
    return at


def _factory(c):
    """(certificate, key) of the factory identity in credentials ``c``, or (None, None)."""
    return (c.boot_chain[0], c.boot_key) if c.boot_key is not None and c.boot_chain else (None, None)


def _cert(der_):
    from tinyest import x509

    return x509.Certificate(der_)


class Device:
    """The device state machine over a ``tinyest.store.Store`` (see the module text)."""

    def __init__(self, store, progress=None, on_error=None, set_time=None, ntp=None,
                 key_factory=None, make_csr=None, client=None, **settings):
        for k in settings:
            if k not in _DEFAULTS:
                raise FormatError("unknown device setting %r" % k)
        self.store = store
        self._log = progress
        self.on_error = on_error
        self.set_time = set_time
        self.ntp = ntp
        self.key_factory = key_factory
        self.make_csr = make_csr
        self._make_client = client
        self._settings = settings
        for k in _DEFAULTS:
            if k not in _FROM_STORE:
                setattr(self, k, settings.get(k, _DEFAULTS[k]))
        self.state = None
        self.error = None
        self.wake_at = None
        self._offset = None
        self._confirmed = False
        self._distrust = False
        self._local = 0
        self._t0 = runtime.ticks()
        self._retry_in = None
        self._cl = None
        self._checked = False
        self._app = app = []  # what the application imported: unload() keeps it
        for k in sys.modules:
            if k[:8] == "tinyest.":
                app.append(k)

    # -- plumbing

    def log(self, event, detail=""):
        if self._log is not None:
            self._log(event, detail)

    def _get(self, c, name):
        v = self._settings.get(name)
        if v is None:
            v = c.config.get(name)
        return _DEFAULTS[name] if v is None else v

    def _client(self, c, t, trust, auth=None, cert=None, key=None):
        make = self._make_client
        kw = {}
        if self.unload:  # also before a ``client`` hook's request (coaps.for_device)
            import tinyest

            tinyest.unload(self._app)
            gc.collect()
        port = self._get(c, "port")
        if make is None and self._get(c, "scheme") == "coaps":
            from tinyest.coaps import for_device as make

            port = port or 5684  # CoAP over DTLS's port (RFC 7252 12.7)
            # and the step ends after this exchange: a second DTLS handshake
            # would find the heap in the pieces the first left
            self._once = 1
        if self.unload and (make is None or self._once):  # EstClient, coaps: not a hook's
            kw["release"] = self._release
        if make is None:
            from tinyest.client import EstClient as make
        elif cert is None and auth is None:
            # EST over CoAP authenticates every DTLS session, /crts and the
            # bootstrap's too: a hook's client gets the device's identity
            cert, key = (c.chain[0], c.key_der) if c.enrolled else _factory(c)
        cl = make(host=self._get(c, "host"), port=int(port or 443),
                  label=self._get(c, "label"), trust=trust, auth=auth, cert=cert, key=key,
                  timeout=self.timeout, progress=self._log, now=False if t is None else t,
                  max_skew=self.max_skew, **kw)
        self._cl = cl
        return cl

    def _release(self):
        # An answer is read, its connection closed: the transport's modules make
        # room for the certificate check (loaded again for the next request).
        import tinyest

        tinyest.unload(self._app, tinyest.TRANSPORT)
        gc.collect()

    # -- time

    def _now(self, c=None):
        """The trusted time now, or None while the clock is unknown."""
        local = self._local + int(runtime.elapsed(self._t0))
        if self._offset is not None:
            return local + self._offset
        if self._distrust:
            return None
        floor = self.min_time
        if c is not None:
            for v in (c.enrolled_at, c.cacerts_at):
                if v is not None and v > floor:
                    floor = v
        return local if local >= floor else None

    def _learn(self, c):
        """Take the time from the last verified response's Date header."""
        d = getattr(self._cl, "date", None)
        if not d or d[0] is None:
            return
        server = d[0] + int(runtime.elapsed(d[1]))
        t = self._now(c)
        if t is None or abs(server - t) > self.max_skew:
            from tinyest import device_rare

            device_rare.adopt(self, server, "server Date")
        else:
            self._confirmed = True

    # -- planning

    def renew_at(self, cert_der):
        c = _cert(cert_der)
        return renew_time(c.not_before, c.not_after, self.renew_fraction, self.renew_margin)

    def _cacerts_due(self, c, t):
        last = c.cacerts_at
        if last is None or last > t:
            return t
        when = last + self.cacerts_interval
        latest = None
        for a in c.trust:
            na = _cert(a).not_after
            if latest is None or na > latest:
                latest = na
        if latest is not None and latest - self.cacerts_margin < when:
            when = max(latest - self.cacerts_margin, last + min(self.cacerts_interval, 86400))
        return when

    def _plan(self, c, t):
        """(action, due time or None for "now") of the next thing to do, or (None, None)."""
        p = c.pending
        gate = None if p is None else p.retry_at
        if not self._get(c, "host"):
            return None, None
        if not c.trust:
            return ("bootstrap", gate) if self._get(c, "fingerprint") else (None, None)
        flight = p is not None and p.csr is not None and p.op in _IN_FLIGHT
        boot = c.boot_password is not None or (c.boot_key is not None and c.boot_chain)
        if not c.enrolled:
            return ("enroll", gate) if flight or boot else (None, None)
        if t is None:
            return ("renew" if flight else "cacerts"), gate
        cur = _cert(c.chain[0])
        if t >= cur.not_after and self.fallback and boot:
            return ("fallback" if self._confirmed else "cacerts"), gate
        if flight:
            return ("renew" if p.op == "simplereenroll" else "fallback"), gate
        act = "renew"
        when = renew_time(cur.not_before, cur.not_after, self.renew_fraction, self.renew_margin)
        cdue = self._cacerts_due(c, t)
        if cdue < when:
            act, when = "cacerts", cdue
        if gate is not None and gate > when:
            when = gate
        return act, when

    def _state(self, c, t):
        p = c.pending
        if p is not None and p.op == "failed":
            return FAILED
        if not c.trust or not self._get(c, "host"):
            return UNPROVISIONED
        if not c.enrolled:
            return BOOTSTRAPPED
        if p is not None and p.csr is not None:
            return RENEWING
        if t is not None and t >= self.renew_at(c.chain[0]):
            return RENEWING
        return ENROLLED

    # -- the step

    def step(self, now=None):
        """Do what is due; returns the seconds until the next step is due."""
        # The collector runs every GC_EVERY bytes allocated during a step: garbage
        # then never lies between what a step keeps (modules, the TLS session), which
        # otherwise fragments a small heap until a handshake finds no room.
        was = runtime.gc_every(GC_EVERY)
        try:
            return self._step(now)
        finally:
            runtime.gc_every(was)

    def _step(self, now):
        self._t0 = runtime.ticks()
        self._local = runtime.now() if now is None else int(now)
        self._offset = None
        self._confirmed = False
        self._distrust = False
        self._retry_in = None
        self._once = 0
        c = self.store.load()
        if not self._checked:
            try:
                c.check()  # a key that is not its certificate's: nothing can work
            except StoreError as e:
                from tinyest import device_rare

                return device_rare.store_failed(self, e)
            self._checked = True
        if self._now(c) is None and self.ntp is not None:
            from tinyest import device_rare

            device_rare.ntp(self)
        done = []
        while len(done) < MAX_ACTIONS:
            t = self._now(c)
            act, when = self._plan(c, t)
            if act is None or act in done or (when is not None and t is not None and when > t):
                break
            done.append(act)
            ok = self._run(act, c, t)
            c = self.store.load()
            if not ok or self._once:
                break
        t = self._now(c)
        self.state = self._state(c, t)
        if self.state != FAILED and done and self._retry_in is None:
            self.error = None
        delay = self._delay(c, t)
        self.wake_at = None if t is None else t + delay
        self.log("wait", "%s, next step in %d s" % (self.state, delay))
        return delay

    def _delay(self, c, t):
        act, when = self._plan(c, t)
        if act is None:
            d = self.max_sleep
        elif t is None:
            d = self._retry_in
            if d is None:
                p = c.pending
                from tinyest import device_rare

                d = device_rare.backoff(self, p.attempts if p is not None and p.attempts else 1)
        else:
            d = (t if when is None else when) - t
            if d < 1:  # due, yet left undone in this step: not before retry_min
                d = 1 if self._once else self.retry_min
        if d < 1:
            d = 1
        return d if d < self.max_sleep else self.max_sleep

    def _run(self, act, c, t):
        try:
            if act == "bootstrap":
                cl = self._client(c, t, [])
                cl.cacerts(bootstrap_fingerprint=self._get(c, "fingerprint"))
                from tinyest import device_rare

                device_rare.bootstrapped(self, cl, t)
            elif act == "cacerts":
                cl = self._client(c, t, c.trust)
                cl.cacerts()
                self._learn(c)
                from tinyest import device_rare

                device_rare.absorb(self, cl, "cacerts")
            else:
                self._enroll(c, t, act == "renew")
        except EstError as e:
            self._learn(c)
            from tinyest import device_rare

            device_rare.failed(self, act, e)
            return False
        finally:
            self._cl = None
        return True

    def _enroll(self, c, t, renew):
        """enroll, fallback (simpleenroll with the bootstrap credential) or renew
        (simplereenroll with the current certificate): the request in flight, else a
        new key and CSR committed as pending first; its answer committed."""
        op = "simplereenroll" if renew else "simpleenroll"
        p = c.pending
        if p is not None and p.csr is not None and p.op in _IN_FLIGHT:
            if p.op != op:
                p.op = op
                self.store.update(pending=p)
            csr, key_der = p.csr, p.key_der
        else:
            from tinyest import device_rare

            csr, key_der = device_rare.request(self, c, op, self.rekey if renew else True)
            device_rare = None  # unloaded before the request: not held through it
        if p is not None and p.issued and p.csr == csr:
            from tinyest import device_rare  # an earlier answer kept, checked again

            cl, certs = device_rare.recheck(self, c, t, p.issued, csr, op)
        else:
            auth = cert = key = None
            if renew:
                cert, key = c.chain[0], c.key_der
            else:
                if c.boot_password is not None:
                    auth = (c.boot_user or "", c.boot_password)
                cert, key = _factory(c)
                if auth is None and cert is None:
                    raise AuthError("no bootstrap credential to enroll with", 401)
            cl = self._client(c, t, c.trust, auth, cert, key)
            certs = cl.simplereenroll(csr) if renew else cl.simpleenroll(csr)
            self._learn(c)
        from tinyest import device_rare

        device_rare.commit(self, c, cl, key_der if key_der is not None else c.key_der, certs,
                           "renewed" if renew else "enrolled")
