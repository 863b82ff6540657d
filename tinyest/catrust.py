"""CA trust a device needs rarely, imported only when it is needed: CA key
rollover certificates in /cacerts (RFC 7030 4.1.3) and the check of the server
chain captured on a provisional bootstrap connection (RFC 7030 4.1.1).

Both take the ``x509.Checks`` budget of the /cacerts answer they belong to, so
they add no signature check beyond it. Errors: none escape (a failed check is
an answer: None, or False).
"""

from tinyest import hostname, x509
from tinyest.errors import EstError, VerifyError


class Rollover:
    """CA key rollover certificates found in /cacerts (RFC 7030 4.1.3), DER
    or None: ``new_with_new`` (the new self-signed root), ``new_with_old``
    (new key signed by the old), ``old_with_new`` (old key signed by the new)."""

    def __init__(self):
        self.new_with_new = None
        self.new_with_old = None
        self.old_with_new = None


def find_rollover(good, anchors, checks):
    """A ``Rollover`` from the validated /cacerts certificates ``good`` (parsed),
    or None: a self-signed root of a key no anchor has, with NewWithOld signed
    by an anchor or OldWithNew signed by the new root."""
    anchor_keys = [bytes(a.public_key_der) for a in anchors]
    roots = []
    for c in good:
        if (c.is_self_issued() and bytes(c.public_key_der) not in anchor_keys
                and checks.signed(c, c) is True):
            roots.append(c)
    ro = Rollover()
    for new in roots:
        nk = bytes(new.public_key_der)
        for c in good:
            if c is new:
                continue
            ck = bytes(c.public_key_der)
            if ck == nk and c.subject_der == new.subject_der:
                for a in anchors:
                    if c.issuer_der == a.subject_der and checks.signed(c, a) is True:
                        ro.new_with_old = bytes(c.der)
            elif (ck in anchor_keys and c.issuer_der == new.subject_der
                  and checks.signed(c, new) is True):
                ro.old_with_new = bytes(c.der)
        if ro.new_with_old or ro.old_with_new:
            ro.new_with_new = bytes(new.der)
            return ro
    return None


def server_chain_ok(chain, host, anchors, good, now, skew, checks):
    """True if the certificate that did the provisional handshake (the first of
    the captured ``chain``, DER) names ``host``, is not a CA, and chains to the
    accepted ``anchors`` through the rest of the captured chain and ``good``."""
    try:
        captured = [x509.Certificate(c) for c in chain or ()]
    except EstError:
        return False
    if not captured:
        return False
    leaf = captured[0]
    bc = leaf.basic_constraints
    if (bc is not None and bc[0]) or not hostname.matches(leaf, host):
        return False
    try:
        x509.verify_chain(leaf, captured[1:] + good, anchors, now, skew=skew, checks=checks)
        return True
    except VerifyError:
        return False
