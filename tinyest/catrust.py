"""CA trust from /cacerts, imported only when a /cacerts answer comes (a
renewing device never loads it): which certificates of the answer are accepted
(``accept_cacerts``, behind ``EstClient.accept_cacerts``), CA key rollover
certificates (RFC 7030 4.1.3: ``tinyest.rollover``, loaded when an answer
holds one), the check of the server chain captured on a provisional bootstrap
connection (RFC 7030 4.1.1) and the bootstrap fingerprint (``fingerprint``).

The rollover and server-chain checks take the ``x509.Checks`` budget of the
answer they belong to, so they add no signature check beyond it, and no error
escapes them (a failed check is an answer: None, or False).
"""

import hashlib

from tinyest import hostname, issued, pkcs7, texts, x509
from tinyest.errors import EstError, FormatError, VerifyError

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


MAX_CACERTS = const(16)  # certificates in one /cacerts answer


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


def fingerprint(fp):
    """A SHA-256 fingerprint as 32 octets, from octets or hex text (colons and
    spaces allowed); FormatError otherwise."""
    _error = texts("client_rare")  # the texts of tinyest.client's errors
    if isinstance(fp, str):
        import binascii

        try:
            fp = binascii.unhexlify(fp.replace(":", "").replace(" ", ""))
        except ValueError:
            raise _error(FormatError, 1)
    fp = bytes(fp)
    if len(fp) != 32:
        raise _error(FormatError, 2, len(fp))
    return fp


def accept_cacerts(cl, data, fp, bootstrap):
    """``EstClient.accept_cacerts``: the certificates (DER list) of a /cacerts
    answer ``data`` that chain to the client's trust anchors (or, on a bootstrap,
    to the certificate whose SHA-256 is ``fp``, octets or hex text), kept in
    ``cl.ca_certs``."""
    if fp is not None:
        fp = fingerprint(fp)
    certs = pkcs7.certificates(data)
    if len(certs) > MAX_CACERTS:
        raise VerifyError("cacerts: %d certificates (limit %d)" % (len(certs), MAX_CACERTS))
    certs = [x509.Certificate(bytes(c)) for c in certs]
    data = None
    if not certs:
        raise VerifyError("cacerts: no certificate in the response")
    if fp is not None:
        anchors = [c for c in certs if hashlib.sha256(c.der).digest() == fp]
        if not anchors:
            raise VerifyError("cacerts: no certificate matches the bootstrap fingerprint")
        cl._note("bootstrap", "fingerprint matched")
    else:
        anchors = issued.anchors(cl)
        if not anchors:
            raise VerifyError("cacerts: no trust anchor to verify the certificates")
    now = issued.clock(cl)
    checks = x509.Checks()
    good = []
    for c in certs:
        self_signed = c.is_self_issued() and checks.signed(c, c) is True
        try:
            x509.verify_chain(c, certs, anchors, now, skew=cl.max_skew, checks=checks)
        except VerifyError as e:
            if checks.left <= 0:
                raise VerifyError("cacerts: %s" % e)
            continue
        if c.is_self_issued() and not self_signed:
            from tinyest import rollover

            if not rollover.is_link(c, certs, checks):
                raise VerifyError("cacerts: self-issued %s has a bad signature" % c.subject)
        good.append(c)
    if not good:
        raise VerifyError("cacerts: no certificate chains to a trust anchor")
    cl.rollover = None
    keys = [bytes(a.public_key_der) for a in anchors]
    for c in good:
        if c.is_self_issued() and bytes(c.public_key_der) not in keys:
            from tinyest import rollover  # a rollover, maybe

            cl.rollover = rollover.find(good, anchors, checks)
            break
    out = [bytes(c.der) for c in good]
    if fp is not None:
        cl.ca_anchors = [bytes(a.der) for a in anchors]
    if bootstrap:
        cl.trust = list(cl.ca_anchors)
        cl.bootstrap_server_verified = server_chain_ok(
            cl._chain, cl.host, anchors, good, now, cl.max_skew, checks)
        cl._chain = None
        cl._note("bootstrap", "server chain %s" % (
            "verified" if cl.bootstrap_server_verified else "NOT verified"))
    cl.ca_certs = out
    return out
