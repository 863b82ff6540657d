"""X.509 certificates (RFC 5280): a strict zero-copy reader and a small path check.

Reading
    ``Certificate(der)`` parses the whole certificate at once and keeps only
    memoryview slices of the caller's buffer (do not modify the buffer while the
    object is in use). Every DER rule is enforced by ``tinyest.der``; on top of
    it the RFC 5280 structure is checked: version v1/v2/v3, unique IDs only in
    v2/v3, extensions only in v3, the inner signature AlgorithmIdentifier equal
    byte for byte to the outer one, no duplicate extensions, every understood
    extension well formed. ``load(data)`` takes DER or PEM, ``load_all(data)``
    a PEM bundle (both ``tinyest.x509_rare``'s, loaded on first use through the
    module's ``__getattr__``). ``spki_info`` is the reader behind ``.key_type``/``.curve``/
    ``.key_bits``; ``.subject``/``.issuer`` render names as RFC 4514 text
    through ``tinyest.names``, which a device loads only to show one.

    Understood extensions: basicConstraints, keyUsage, extKeyUsage,
    subjectAltName, subjectKeyIdentifier, authorityKeyIdentifier. Any other
    extension marked critical is listed in ``unknown_critical`` and makes
    ``verify_chain`` fail (this includes nameConstraints and
    certificatePolicies, which are not processed).

Checking
    ``Certificate.verify_signed_by(issuer)`` checks one signature through
    ``tinyest.keys.verify``; ``verify_chain(leaf, others, anchors, now)`` builds
    and checks a path (see its docstring). A failed check is a VerifyError;
    certificates given as undecodable DER raise DERError/FormatError.

Deliberate tolerances (seen in certificates that real CAs issued)
    * the DEFAULT version written out explicitly (``A0 03 02 01 00``, a DER
      violation) is read as v1;
    * ``critical`` and basicConstraints ``cA`` written out as FALSE (DER
      violations) are read as FALSE; keyUsage with trailing zero bits (a DER
      violation for named bit lists) is read as its bits;
    * zero and negative serial numbers are read as signed integers; serials
      longer than RFC 5280's 20 octets are accepted up to 32 octets;
    * GeneralizedTime for dates before 2050 is accepted;
    * the attributes of a multi-valued RDN are not checked for DER SET order;
    * empty subjectAltName and keyUsage values are accepted (as [] and 0).

Not checked
    Revocation (CRL/OCSP), name constraints, policies, extended key usage along
    the path, host names. Names are compared as DER bytes (no RFC 4518 string
    preparation). Signature algorithm details are left to ``tinyest.keys``,
    which is imported only when a signature is checked, so that a board which
    verifies elsewhere can leave the crypto modules out.

Limits (written where they are checked, each named in its error message)
    a certificate of at most 16384 bytes, a serial of at most 32 octets, 32
    attributes per Name, 32 extensions, 64 subjectAltName entries, 16
    extKeyUsage purposes. ``verify_chain`` takes at most 64 untrusted
    certificates and 32 anchors, builds paths of at most ``max_depth``
    (default 8, at most 16) certificates and tries at most 256 issuer
    candidates before giving up. A ``Checks`` object checks each (certificate,
    issuer) signature once and at most ``MAX_SIGS`` (48) signatures in all;
    one is shared by every check of a response, so that no answer can cost
    more than that many.

Side channels: nothing here handles secrets.
Errors: ``DERError`` (encoding), ``FormatError`` (structure), ``VerifyError``
(signatures and paths).
"""

import hashlib

from tinyest import der, lazy, texts
from tinyest.errors import DERError, EstError, FormatError, VerifyError

try:
    from micropython import const
except ImportError:  # CPython: every constant here is an int
    const = int

MAX_SIGS = 48

# Extensions other modules name (OID contents octets).
OID_KEY_USAGE = b"\x55\x1d\x0f"
OID_SAN = b"\x55\x1d\x11"
OID_BASIC_CONSTRAINTS = b"\x55\x1d\x13"
OID_EXT_KEY_USAGE = b"\x55\x1d\x25"

# Error texts by number: x509_rare.TEXTS, loaded with the first error (a board
# would pay heap for a string literal per message, and malformed input is rare).
_EMPTY_RDN = const(0)
_NAME_ATTRS = const(1)
_EC_NO_CURVE = const(2)
_ED25519_LEN = const(3)
_PEM_TEXT = const(4)
_TOO_BIG = const(5)
_VERSION = const(6)
_SERIAL = const(7)
_TBS_ALG = const(8)
_SPKI = const(9)
_UNIQUE_ID = const(10)
_EXT_VERSION = const(11)
_EXTS = const(12)
_DUP_EXT = const(13)
_KU_LEN = const(14)
_NEG_PATHLEN = const(15)
_EKUS = const(16)
_EKU_EMPTY = const(17)
_SANS = const(18)
_IP_LEN = const(19)
_EXTRA_TBS = const(20)
_NO_SIG_SUPPORT = const(21)
_SIG_CHECK = const(22)
_SIG_BUDGET = const(23)
_TOO_MANY = const(24)
_TRIES = const(25)
_NOT_YET = const(26)
_EXPIRED = const(27)
_CRITICAL = const(28)
_DEPTH = const(29)
_NOT_V3 = const(30)
_NOT_CA = const(31)
_NO_CERT_SIGN = const(32)
_PATH_LEN = const(33)
_BAD_SIG = const(34)
_NO_ISSUER = const(35)


_error = texts("x509_rare")  # (cls, i, args=(), *more): cls(text i % args, *more)


def _element(r, name):
    # The whole next element, checked as a Name or (name False) as an
    # AlgorithmIdentifier: SEQUENCE { OID, parameters ANY OPTIONAL }.
    start = r.offset()
    n = r.enter(0x30)
    if not name:
        n.read_oid()
        if not n.empty():
            n.skip()
        n.done()
    count = 0
    while not n.empty():
        rdn = n.enter(0x31)
        if rdn.empty():
            raise _error(FormatError, _EMPTY_RDN, n.offset())
        while not rdn.empty():
            count += 1
            if count > 32:
                raise _error(FormatError, _NAME_ATTRS)
            atv = rdn.enter(0x30)
            atv.read_oid()
            at = atv.offset()
            tag, v = atv.read_any()
            atv.done()
            if tag in b"\x0c\x12\x13\x14\x16\x1a\x1c\x1e":  # the strings der.decode_string reads
                der.decode_string(tag, v, at)
    return r.buf[start:r.offset()]


def spki_info(spki):
    """(key_type, curve, bits) from a SubjectPublicKeyInfo element, without the
    crypto modules. key_type is "ec", "rsa", "ed25519" or the dotted OID of an
    unknown algorithm; curve is "P-256"/"P-384"/"P-521" (or a dotted OID) for
    EC keys, else None; bits is the key size or None when unknown."""
    r = der.top(spki)
    a = r.enter(0x30)
    alg = bytes(a.read_oid())
    params = None
    if a.peek_tag() == 0x06:
        params = bytes(a.read_oid())
    elif not a.empty():
        a.skip()
    a.done()
    key = r.read_bits()
    r.done()
    if alg == b"\x2a\x86\x48\xce\x3d\x02\x01":  # id-ecPublicKey 1.2.840.10045.2.1
        if params is None:
            raise _error(FormatError, _EC_NO_CURVE)
        # 1.2.840.10045.3.1.7, 1.3.132.0.34, 1.3.132.0.35
        for oid, bits in ((b"\x2a\x86\x48\xce\x3d\x03\x01\x07", 256), (b"\x2b\x81\x04\x00\x22", 384),
                          (b"\x2b\x81\x04\x00\x23", 521)):
            if params == oid:
                return "ec", "P-%d" % bits, bits
        return "ec", der.oid_str(params), None
    if alg == b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01":  # rsaEncryption 1.2.840.113549.1.1.1
        k = der.top(key)
        n = k.read_uint()
        k.read_uint()
        k.done()
        first = n[0]
        bits = 8 * len(n) - 8
        while first:  # bit length of the minimal unsigned modulus
            bits += 1
            first >>= 1
        return "rsa", None, bits
    if alg == b"\x2b\x65\x70":  # id-Ed25519 1.3.101.112
        if len(key) != 32:
            raise _error(FormatError, _ED25519_LEN, len(key))
        return "ed25519", None, 256
    return der.oid_str(alg), None, None


class Certificate:
    """One parsed certificate. Attributes:

    der, tbs, sig_alg, signature, issuer_der, subject_der, public_key_der
        memoryview slices of the input (elements, except ``signature`` which
        is the BIT STRING's octets);
    version (1..3), serial (signed int), not_before, not_after (seconds
    since 1970 UTC), key_type, curve, key_bits (see ``spki_info``);
    extensions
        list of (oid bytes, critical, value memoryview) in certificate order;
    basic_constraints
        (ca, path_len or None) or None; key_usage int or None: bit n of the
        RFC 5280 4.2.1.3 list is ``1 << n`` (digitalSignature 1, keyCertSign 0x20);
    ext_key_usage
        list of OID bytes or None;
    san list of (kind, value) or None: ("dns", str), ("ip", 4 or 16 bytes),
        ("uri", str), ("email", str), ("other", whole GeneralName DER bytes);
    ski, aki bytes or None; unknown_critical list of OID bytes.
    """

    def __init__(self, data):
        if isinstance(data, str):
            raise _error(FormatError, _PEM_TEXT)
        mv = memoryview(data)
        if len(mv) > 16384:
            raise _error(FormatError, _TOO_BIG)
        self.der = mv
        c = der.top(mv)
        start = c.offset()
        t = c.enter(0x30)
        self.tbs = mv[start:c.offset()]
        self.sig_alg = _element(c, False)
        self.signature = c.read_bits()
        c.done()
        # TBSCertificate
        v = t.enter_optional(0xA0)
        version = 1
        if v is not None:
            at = v.offset()
            n = v.read_int()
            v.done()
            if n < 0 or n > 2:
                raise _error(FormatError, _VERSION, (n, at))
            version = n + 1  # an explicit v1 (n == 0) is tolerated
        self.version = version
        self.serial = n = t.read_int()
        if n >> 256 not in (0, -1):
            raise _error(FormatError, _SERIAL)
        if _element(t, False) != self.sig_alg:
            raise _error(FormatError, _TBS_ALG)
        self.issuer_der = _element(t, True)
        v = t.enter(0x30)
        self.not_before = v.read_time()
        self.not_after = v.read_time()
        v.done()
        self.subject_der = _element(t, True)
        at = t.offset()
        self.public_key_der = t.read_element(0x30)
        try:
            self.key_type, self.curve, self.key_bits = spki_info(self.public_key_der)
        except DERError as e:
            raise _error(DERError, _SPKI, e, at)
        self.extensions = exts = []
        self.basic_constraints = self.key_usage = self.ext_key_usage = None
        self.san = self.ski = self.aki = None
        self.unknown_critical = []
        if version >= 2:
            for tag in (0x81, 0x82):  # issuerUniqueID, subjectUniqueID: [n] IMPLICIT BIT STRING
                at = t.offset()
                u = t.optional(tag)
                if u is not None and (len(u) == 0 or u[0] > 7):
                    raise _error(DERError, _UNIQUE_ID, (), at)
        e = t.enter_optional(0xA3)
        if e is not None:
            if version != 3:
                raise _error(FormatError, _EXT_VERSION, version)
            s = e.enter(0x30)
            e.done()
            while not s.empty():
                if len(exts) >= 32:
                    raise _error(FormatError, _EXTS)
                x = s.enter(0x30)
                oid = bytes(x.read_oid())
                crit = False
                if x.peek_tag() == 0x01:
                    crit = x.read_bool()  # an explicit FALSE is tolerated
                val = x.read_octets()
                x.done()
                for o, _, _ in exts:
                    if o == oid:
                        raise _error(FormatError, _DUP_EXT, der.oid_str(oid))
                exts.append((oid, crit, val))
                # A Reader over the value, with offsets in the certificate.
                r = der.Reader(x.buf, x.offset() - len(val), x.offset(), x.depth)
                if oid == b"\x55\x1d\x0e":  # subjectKeyIdentifier
                    self.ski = bytes(r.read_octets())
                    r.done()
                elif oid == OID_KEY_USAGE:
                    at = r.offset()
                    _, bits = r.read_bit_string()
                    r.done()
                    if len(bits) > 2:
                        raise _error(FormatError, _KU_LEN, (len(bits), at))
                    mask = 0
                    for i in range(8 * len(bits)):
                        if bits[i >> 3] & (0x80 >> (i & 7)):
                            mask |= 1 << i
                    self.key_usage = mask
                elif oid not in (OID_BASIC_CONSTRAINTS, OID_EXT_KEY_USAGE, OID_SAN, b"\x55\x1d\x23"):
                    if crit:
                        self.unknown_critical.append(oid)
                else:
                    y = r.enter(0x30)
                    r.done()
                    if oid == OID_BASIC_CONSTRAINTS:
                        ca = False
                        if y.peek_tag() == 0x01:
                            ca = y.read_bool()
                        n = None
                        if not y.empty():
                            at = y.offset()
                            n = y.read_int()
                            if n < 0:
                                raise _error(FormatError, _NEG_PATHLEN, at)
                        y.done()
                        self.basic_constraints = ca, n
                    elif oid == b"\x55\x1d\x23":  # authorityKeyIdentifier
                        kid = y.optional(0x80)
                        y.optional(0xA1)  # authorityCertIssuer
                        if y.peek_tag() == 0x82:
                            y.read_int(0x82)  # authorityCertSerialNumber
                        y.done()
                        self.aki = None if kid is None else bytes(kid)
                    elif oid == OID_EXT_KEY_USAGE:
                        out = self.ext_key_usage = []
                        while not y.empty():
                            if len(out) >= 16:
                                raise _error(FormatError, _EKUS)
                            out.append(bytes(y.read_oid()))
                        if not out:
                            raise _error(FormatError, _EKU_EMPTY)
                    else:  # subjectAltName: GeneralNames
                        out = self.san = []
                        while not y.empty():
                            if len(out) >= 64:
                                raise _error(FormatError, _SANS)
                            at = y.offset()
                            tag, v = y.read_any()
                            if tag in (0x81, 0x82, 0x86):
                                kind = "email" if tag == 0x81 else "dns" if tag == 0x82 else "uri"
                                out.append((kind, der.decode_string(0x16, v, at)))  # IA5String
                            elif tag == 0x87:
                                if len(v) != 4 and len(v) != 16:
                                    raise _error(FormatError, _IP_LEN, (len(v), at))
                                out.append(("ip", bytes(v)))
                            else:
                                out.append(("other", bytes(y.buf[at:y.offset()])))
        if not t.empty():
            raise _error(FormatError, _EXTRA_TBS, t.offset())

    # -- readable views

    def __getattr__(self, name):
        # .issuer, .subject: RFC 4514 text of the Name (tinyest.names, loaded for it)
        if name != "issuer" and name != "subject":
            raise AttributeError(name)
        from tinyest.names import name_text

        return name_text(getattr(self, name + "_der"))

    def extension(self, oid):
        """(critical, value memoryview) of the extension with this OID, or None."""
        oid = bytes(oid)
        for o, c, v in self.extensions:
            if o == oid:
                return c, v
        return None

    # -- checks

    def fingerprint(self):
        """SHA-256 of the certificate DER."""
        return hashlib.sha256(self.der).digest()

    def is_self_issued(self):
        return self.issuer_der == self.subject_der

    def verify_signed_by(self, issuer):
        """Check this certificate's signature with the key of ``issuer`` (a
        Certificate or SubjectPublicKeyInfo DER). Raises VerifyError."""
        spki = issuer.public_key_der if isinstance(issuer, Certificate) else issuer
        try:
            from tinyest import keys

            keys.verify(spki, self.sig_alg, self.tbs, self.signature)  # raises VerifyError
        except ImportError:  # tinyest.keys, or the module of this key type, is left out
            raise _error(VerifyError, _NO_SIG_SUPPORT)
        except VerifyError:
            raise
        except EstError as e:
            raise _error(VerifyError, _SIG_CHECK, e)


# load and load_all (DER or PEM input) are tinyest.x509_rare's, loaded on first use
__getattr__ = lazy("x509_rare", ("load", "load_all"))


# ---------------------------------------------------------------- paths


class Checks:
    """Signature checks, each (certificate, issuer) pair once, at most ``n`` in
    all: share one between the path searches and checks of one response."""

    def __init__(self, n=MAX_SIGS):
        self.left = n
        self.done = {}

    def signed(self, child, issuer):
        """True if ``issuer`` (a Certificate) signed ``child``, else the reason."""
        key = (id(child), id(issuer))
        r = self.done.get(key)
        if r is None:
            if self.left <= 0:
                raise _error(VerifyError, _SIG_BUDGET, MAX_SIGS)
            self.left -= 1
            try:
                child.verify_signed_by(issuer)
                r = True
            except VerifyError as e:
                r = str(e)
            # The pair is kept alive with its result, so no id is reused meanwhile.
            r = self.done[key] = (r, child, issuer)
        return r[0]


def verify_chain(leaf, others, anchors, now=None, max_depth=8, skew=0, fresh=False,
                 checks=None):
    """Build and check a path from ``leaf`` through ``others`` (untrusted
    certificates, any order) to one of ``anchors``; return it as a list of
    Certificates, leaf first, anchor last. Items may be Certificates or DER.

    Checked: issuer/subject name chaining (DER bytes), every signature,
    basicConstraints cA and pathLenConstraint, keyUsage keyCertSign where
    present, validity at ``now`` (seconds since 1970 UTC; skipped if None)
    give or take ``skew`` seconds, no unknown critical extension, v3 for
    intermediates. ``fresh``: the leaf was just issued, so its notBefore is
    not held against ``now`` (CAs start it at the second of issuance; a
    slow clock must not refuse it); its notAfter still is. ``checks``: a
    ``Checks`` shared with other calls (default: a new one). A trust anchor is
    trusted as given: its signature, validity and extensions are not checked,
    except that a basicConstraints or keyUsage it carries is honoured. A leaf
    equal to an anchor is accepted as the path [anchor]. Raises VerifyError
    with the first reason found.
    """
    if len(others) > 64 or len(anchors) > 32:
        raise _error(VerifyError, _TOO_MANY)
    max_depth = min(max_depth, 16)
    if not isinstance(leaf, Certificate):
        leaf = Certificate(leaf)
    pool = []
    for c in others:  # duplicates only slow the search down
        if not isinstance(c, Certificate):
            c = Certificate(c)
        for p in pool:
            if p.der == c.der:
                break
        else:
            pool.append(c)
    cands = []
    for a in anchors:
        cands.append(a if isinstance(a, Certificate) else Certificate(a))
    for a in cands:
        if a.der == leaf.der:
            return [a]

    def own(c, fresh):
        # Checks every certificate of a path gets, except the trust anchor. A clock
        # within ``skew`` seconds of a validity bound is given the benefit of the doubt.
        # Reasons are (format, args...), made text only when one is raised (x509_rare.reason_text).
        if now is not None:
            if now + skew < c.not_before and not fresh:
                return _NOT_YET, c
            if now - skew > c.not_after:
                return _EXPIRED, c
        if c.unknown_critical:
            return _CRITICAL, c, c.unknown_critical[0]
        return None

    checks = checks or Checks()
    na = len(cands)
    cands += pool  # anchors first
    steps = 0

    def extend(path):
        # A path from path[-1] up to an anchor, or None; the first reason a
        # candidate failed is kept in ``reason``.
        nonlocal reason, steps
        cur = path[-1]
        found = False
        for i in range(0 if len(path) < max_depth else na, len(cands)):
            c = cands[i]
            anchor = i < na
            if c.subject_der != cur.issuer_der:
                continue
            found = True
            if not anchor:
                if len(path) + 2 > max_depth:
                    reason = reason or (_DEPTH, max_depth)
                    break
                if c in path or c.der == path[0].der:  # path[1:] are pool objects
                    continue
            steps += 1
            if steps > 256:
                raise _error(VerifyError, _TRIES)
            # c would sign cur; path[1:] are the intermediates below c.
            why = None if anchor else own(c, False)
            bc = c.basic_constraints
            if why:
                pass
            elif not anchor and c.version != 3:
                why = _NOT_V3, c, c.version
            elif (bc is None and not anchor) or (bc is not None and not bc[0]):
                why = _NOT_CA, c
            elif c.key_usage is not None and not c.key_usage & 0x20:  # keyCertSign
                why = _NO_CERT_SIGN, c
            elif bc is not None and bc[1] is not None:
                n = 0
                for p in path[1:]:
                    if not p.is_self_issued():
                        n += 1
                if n > bc[1]:
                    why = _PATH_LEN, c
            if not why:
                r = checks.signed(cur, c)
                if r is True:
                    p = path + [c]
                    if anchor:
                        return p
                    p = extend(p)
                    if p is not None:
                        return p
                    continue
                why = _BAD_SIG, cur, c, r
            reason = reason or why
        if not found:
            reason = reason or (_NO_ISSUER, cur.issuer_der)
        return None

    reason = own(leaf, fresh)
    path = None if reason else extend([leaf])
    if path is not None:
        return path
    from tinyest import x509_rare  # the text of the reason, made only for a failure

    raise VerifyError(x509_rare.reason_text(reason))
