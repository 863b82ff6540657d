"""CA key rollover in a /cacerts answer (RFC 7030 4.1.3), imported by
``tinyest.catrust`` only when an answer holds a self-issued certificate of a
key no trust anchor has, or one not signed by its own key: ``find`` (the
``Rollover`` in ``EstClient.rollover``) and ``is_link``. A device whose CA
keeps its key never loads it. Signatures are checked through the answer's
``x509.Checks`` budget; no error escapes (a failed check is an answer).
"""


class Rollover:
    """CA key rollover certificates found in /cacerts (RFC 7030 4.1.3), DER
    or None: ``new_with_new`` (the new self-signed root), ``new_with_old``
    (new key signed by the old), ``old_with_new`` (old key signed by the new)."""

    def __init__(self):
        self.new_with_new = None
        self.new_with_old = None
        self.old_with_new = None


def find(good, anchors, checks):
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


def is_link(c, certs, checks):
    """True if the self-issued ``c`` is signed by another key of its name
    among ``certs`` (a rollover link certificate)."""
    for o in certs:
        if o is not c and o.subject_der == c.issuer_der and checks.signed(c, o) is True:
            return True
    return False
