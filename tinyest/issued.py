"""The check of the certificates an EST server issued (``EstClient``'s
enrollment answers, ``accept_issued``, serverkeygen): the one for our key first,
chained to the trust anchors through the answer and the validated /cacerts
certificates. Imported only once an answer has come, when x509, keys and ec
are loaded anyway: a device unloads it before its next TLS handshake.
``anchors`` and ``clock`` serve ``tinyest.catrust`` too.
"""

from tinyest import runtime, x509
from tinyest.errors import VerifyError

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


CLOCK_PLAUSIBLE = const(1704067200)  # 2024-01-01: an earlier clock is not set


def clock(cl):
    """The time validity dates are checked against (``EstClient(now=...)``), or None."""
    if cl.now is False:
        return None
    if cl.now is not None:
        return cl.now
    t = runtime.now()
    return t if t >= CLOCK_PLAUSIBLE else None


def anchors(cl):
    """The client's trust anchors and fingerprint-matched /cacerts anchors, parsed."""
    out = list(cl.trust)
    for a in cl.ca_anchors:
        if a not in out:
            out.append(a)
    return [x509.Certificate(t) for t in out]


def verify(cl, certs, spki, op):
    """Order certs (DER list) with the one holding ``spki`` first and check
    that it chains to the trust anchors. A VerifyError from the chain check
    carries the answer's certificates as ``issued``: a one-time credential may
    be spent already, and a /cacerts refresh or a settled clock may fix it."""
    parsed = [x509.Certificate(c) for c in certs]
    mine = None
    for c in parsed:
        if c.public_key_der == spki:
            mine = c
            break
    if mine is None:
        raise VerifyError("%s: no certificate in the response is for our public key" % op)
    others = [c for c in parsed if c is not mine]
    try:
        for attempt in (0, 1):
            pool = others + [x509.Certificate(c) for c in cl.ca_certs]
            trust = anchors(cl)
            if not trust:
                raise VerifyError("%s: no trust anchor to verify the certificate" % op)
            try:
                x509.verify_chain(mine, pool, trust, clock(cl), skew=cl.max_skew, fresh=True)
                break
            except VerifyError:
                if attempt or cl.ca_certs:
                    raise
            # The issuing CA may be known only from /cacerts (RFC 7030 4.1.3).
            pool = trust = None
            cl._note("cacerts", "fetching the CA certificates to build the chain")
            cl.cacerts()
    except VerifyError as e:
        e.issued = [bytes(c) for c in certs]
        raise
    return [bytes(mine.der)] + [bytes(c.der) for c in others]
