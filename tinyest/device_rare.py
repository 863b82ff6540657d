"""The parts of ``tinyest.device.Device`` that run off the TLS handshake,
imported only when needed: a new key and CSR (``request``, made before the
client unloads the modules), the commit of an answer (``commit``) and of what
/cacerts taught (``absorb``, ``bootstrapped``: CA rollover, retired roots),
an answer kept from an earlier attempt checked again (``recheck``), failures
and retries (``failed``, ``retryable``, ``backoff``, ``clamp``), the clock
(``adopt``, ``ntp``) and a damaged store (``store_failed``). A device that
unloads before each request (``unload=True``) never holds it during a
handshake. See ``tinyest.device`` for the policies.
"""

from tinyest import runtime, x509
from tinyest.errors import (AuthError, ConnectError, EstTimeout, FormatError, HttpError, ProtocolError,
                            RetryLater, TlsError, VerifyError)
from tinyest.store import Pending

MAX_ANCHORS = 8
_IN_FLIGHT = ("simpleenroll", "simplereenroll", "enroll")  # as tinyest.device's


def adopt(dev, t, why):
    """Use ``t`` as the time for the rest of the step. Only a server Date, on a
    verified connection, confirms the time; NTP sets it."""
    local = dev._local + int(runtime.elapsed(dev._t0))
    dev._offset = t - local
    dev._confirmed = why != "ntp"
    dev.log("time", "%d (%s, clock was %+d s off)" % (t, why, local - t))
    if dev.set_time is not None:
        try:
            dev.set_time(t)
        except Exception as e:  # the hook's own failure: the step keeps the time
            dev.log("time", "set_time failed: %s" % e)


def ntp(dev):
    """Ask the ``ntp`` hook for the time while the clock is unknown."""
    try:
        v = dev.ntp()
    except Exception as e:  # the hook's own failure: the clock stays unknown
        dev.log("time", "ntp failed: %s" % e)
        v = None
    if v is not None and v >= dev.min_time:
        adopt(dev, int(v), "ntp")


def store_failed(dev, e):
    """A stored key that is not its certificate's: surfaced like a failure;
    returns the seconds to the next step (``hold``)."""
    dev.state = "failed"
    dev.error = e
    dev.wake_at = None
    dev.log("failed", "store: %s; provision the device again" % e)
    if dev.on_error is not None:
        dev.on_error("store", e)
    return dev.hold


def backoff(dev, attempts):
    """The delay before attempt ``attempts + 1``: ``retry_min`` doubling up to
    ``retry_max``, with jitter in the upper half."""
    d = dev.retry_min
    for _ in range(attempts - 1 if attempts < 32 else 31):
        d *= 2
        if d >= dev.retry_max:
            break
    if d > dev.retry_max:
        d = dev.retry_max
    r = runtime.random_bytes(2)
    return d - (d // 2) * (r[0] * 256 + r[1]) // 65535


def clamp(dev, c, t, at):
    """No retry later than ``retry_min`` before the current certificate expires."""
    if c.enrolled:
        last = x509.Certificate(c.chain[0]).not_after - dev.retry_min
        if t < last < at:
            return last
    return at


def retryable(e):
    """True for failures that may go away by themselves (network, server load)."""
    if isinstance(e, (ConnectError, EstTimeout, TlsError, ProtocolError)):
        return True
    if isinstance(e, AuthError):
        return False
    if isinstance(e, HttpError):
        return e.status >= 500 or e.status in (202, 408, 429)
    return False


def failed(dev, act, e):
    """Record the failure ``e`` of ``act`` in the store's pending state, and
    when to try again (``retryable``)."""
    c = dev.store.load()
    t = dev._now(c)
    p = c.pending
    attempts = (0 if p is None else p.attempts or 0) + 1
    issued = getattr(e, "issued", None)
    if issued and p is not None and p.csr is not None and p.op in _IN_FLIGHT and attempts <= 3:
        # The server said 200 (a one-time password is spent): keep what it issued
        # and check it again later (a /cacerts refresh, a settled clock).
        p.issued = issued
        dev.error = e
        d = backoff(dev, attempts)
        p.attempts = attempts
        p.retry_at = None if t is None else clamp(dev, c, t, t + d)
        dev._retry_in = d if t is None else p.retry_at - t
        dev.log("retry", "%s: %s; answer kept, checked again in %d s" % (act, e, dev._retry_in))
    elif isinstance(e, RetryLater):
        p = p if p is not None else Pending("wait")
        p.attempts = attempts - 1
        p.retry_at = None if t is None else t + e.seconds
        dev._retry_in = e.seconds
        if (c.enrolled and t is not None
                and p.retry_at > x509.Certificate(c.chain[0]).not_after):
            dev.log("retry", "%s: Retry-After %d s ends after the certificate expires"
                    % (act, e.seconds))
        else:
            dev.log("retry", "%s: pending, server asks to wait %d s" % (act, e.seconds))
    elif retryable(e):
        d = backoff(dev, attempts)
        if p is None or p.op == "failed":
            p = Pending("wait")
        p.attempts = attempts
        p.retry_at = None if t is None else clamp(dev, c, t, t + d)
        dev._retry_in = d if t is None else p.retry_at - t
        dev.log("retry", "%s: %s: %s; attempt %d, again in %d s"
                % (act, type(e).__name__, e, attempts, dev._retry_in))
    else:
        dev.error = e
        d = dev.hold
        p = Pending("failed", None, None, None, attempts)
        if t is not None:
            p.retry_at = clamp(dev, c, t, t + d)
            d = p.retry_at - t
        dev._retry_in = d
        dev.log("failed", "%s: %s: %s; next attempt in %d s" % (act, type(e).__name__, e, d))
        if dev.on_error is not None:
            dev.on_error(act, e)
    dev.store.update(pending=p)


def bootstrapped(dev, cl, t):
    """Commit the trust anchor a bootstrap /cacerts accepted by fingerprint."""
    dev.store.update(trust=list(cl.ca_anchors), cacerts_at=t, pending=None)
    dev.log("bootstrap", "trust anchor accepted by fingerprint; server chain %s"
            % ("verified" if cl.bootstrap_server_verified else "NOT verified"))


def absorb(dev, cl, why):
    """Commit what /cacerts taught: a vouched-for new root, retired roots, the time."""
    c = dev.store.load()
    t = dev._now(c)
    trust = list(c.trust)
    ro = cl.rollover
    if ro is not None and ro.new_with_old and ro.new_with_new:
        new = bytes(ro.new_with_new)
        if new not in trust:
            if len(trust) < MAX_ANCHORS:
                trust.append(new)
                dev.log("rollover", "new root %s added (NewWithOld verified)"
                        % x509.Certificate(new).subject)
            else:
                dev.log("rollover", "new root not added: %d anchors kept" % MAX_ANCHORS)
    if t is not None:
        keep = [a for a in trust if x509.Certificate(a).not_after >= t]
        if keep and len(keep) < len(trust):
            for a in trust:
                if a not in keep:
                    dev.log("retired", "expired root %s" % x509.Certificate(a).subject)
            trust = keep
    p = c.pending
    if p is not None and (p.csr is None or p.op not in _IN_FLIGHT):
        p = None
    dev.store.update(trust=trust, cacerts_at=t if t is not None else c.cacerts_at, pending=p)
    dev.log("cacerts", "%s: %d CA certificate(s), %d trust anchor(s)"
            % (why, len(cl.ca_certs), len(trust)))


def request(dev, c, op, rekey):
    """(csr, key_der) of a new request ``op``, committed as pending before
    anything is sent; key_der is None when the current key is kept."""
    cur = c.chain[0] if c.enrolled else None
    if rekey or cur is None:
        if dev.key_factory is not None:
            key = dev.key_factory()
        else:
            from tinyest import ec

            key = ec.generate(dev.curve)
        key_der = bytes(key.to_der())
    else:
        from tinyest import keys

        key = keys.load_private(c.key_der)
        key_der = None
    if dev.make_csr is not None:
        req = dev.make_csr(key, cur)
    else:
        from tinyest import csr

        if cur is not None:
            req = csr.renewal(cur, key)
        else:
            cn = dev._get(c, "cn")
            if not cn:
                raise FormatError("no cn configured for the first request")
            req = csr.request(key, cn, dev._get(c, "dns"))
    key = None
    p = c.pending
    p = Pending(op, req, key_der, None, 0 if p is None else p.attempts or 0)
    dev.store.update(pending=p)  # before anything is sent
    return req, key_der


def recheck(dev, c, t, issued, csr, op):
    """(client, certificates) of an answer kept from an earlier attempt
    (``issued``, the certificates' DER), checked again after a /cacerts refresh
    (issuing CAs, the time); VerifyError carrying ``issued`` if they still fail."""
    cl = dev._client(c, t, c.trust)
    cl.cacerts()
    dev._learn(c)
    try:
        return cl, cl.accept_issued(issued, csr, op)
    except VerifyError as e:
        e.issued = issued
        raise


def commit(dev, c, cl, key_der, certs, what):
    """Commit the verified answer ``certs`` (issued one first) with its key."""
    t = dev._now(c)
    leaf = x509.Certificate(certs[0])
    nb = leaf.not_before
    if t is not None and nb > t + dev.max_skew and not dev._confirmed:
        # Issued for our key, so kept; but our clock runs behind the CA's. Until a
        # verified Date or NTP settles it, the time is unknown, and the store
        # records notBefore as a time it has seen (a floor for later boots).
        dev.log("time", "clock %d s behind the new certificate: distrusted" % (nb - t))
        dev._offset = None
        dev._distrust = True
        t = nb
    dev.store.commit_enrollment(key_der, certs, not dev.keep_password, t)
    dev.error = None
    if cl.ca_certs:
        absorb(dev, cl, what)
    dev.log(what, "serial %x, valid %d..%d" % (leaf.serial, leaf.not_before, leaf.not_after))
