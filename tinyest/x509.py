"""X.509 certificates (RFC 5280): a strict zero-copy reader and a small path check.

Reading
    ``Certificate(der)`` parses the whole certificate at once and keeps only
    memoryview slices of the caller's buffer (do not modify the buffer while the
    object is in use). Every DER rule is enforced by ``tinyest.der``; on top of
    it the RFC 5280 structure is checked: version v1/v2/v3, unique IDs only in
    v2/v3, extensions only in v3, the inner signature AlgorithmIdentifier equal
    byte for byte to the outer one, no duplicate extensions, every understood
    extension well formed. ``load(data)`` takes DER or PEM, ``load_all(data)``
    a PEM bundle. ``spki_info`` is the reader behind ``.key_type``/``.curve``/
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
      longer than RFC 5280's 20 octets are accepted up to ``MAX_SERIAL`` octets;
    * GeneralizedTime for dates before 2050 is accepted;
    * the attributes of a multi-valued RDN are not checked for DER SET order;
    * empty subjectAltName and keyUsage values are accepted (as [] and 0).

Not checked
    Revocation (CRL/OCSP), name constraints, policies, extended key usage along
    the path, host names. Names are compared as DER bytes (no RFC 4518 string
    preparation). Signature algorithm details are left to ``tinyest.keys``,
    which is imported only when a signature is checked, so that a board which
    verifies elsewhere can leave the crypto modules out.

Limits (each a module constant)
    a certificate of at most 16384 bytes (``MAX_CERT_SIZE``), a serial of at
    most 32 octets (``MAX_SERIAL``), 32 attributes per Name
    (``MAX_NAME_ATTRS``), 32 extensions (``MAX_EXTENSIONS``), 64
    subjectAltName entries (``MAX_SAN``), 16 extKeyUsage purposes
    (``MAX_EKU``). ``verify_chain`` takes at most 64 untrusted certificates
    (``MAX_POOL``) and 32 anchors (``MAX_ANCHORS``), builds paths of at most
    ``max_depth`` (default 8, at most ``MAX_DEPTH`` = 16) certificates and
    tries at most 256 issuer candidates (``MAX_STEPS``) before giving up. A
    ``Checks`` object checks each (certificate, issuer) signature once and at
    most ``MAX_SIGS`` (48) signatures in all; one is shared by every check of
    a response, so that no answer can cost more than that many.

Side channels: nothing here handles secrets.
Errors: ``DERError`` (encoding), ``FormatError`` (structure), ``VerifyError``
(signatures and paths).
"""

import hashlib

from tinyest import der
from tinyest.errors import DERError, EstError, FormatError, VerifyError

MAX_CERT_SIZE = 16384
MAX_SERIAL = 32
MAX_NAME_ATTRS = 32
MAX_EXTENSIONS = 32
MAX_SAN = 64
MAX_EKU = 16
MAX_POOL = 64
MAX_ANCHORS = 32
MAX_DEPTH = 16
MAX_STEPS = 256
MAX_SIGS = 48

# Algorithm and curve OIDs (contents octets).
OID_EC_PUBLIC_KEY = b"\x2a\x86\x48\xce\x3d\x02\x01"
OID_RSA_ENCRYPTION = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"
OID_ED25519 = b"\x2b\x65\x70"
OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"
OID_P384 = b"\x2b\x81\x04\x00\x22"
OID_P521 = b"\x2b\x81\x04\x00\x23"

# Extensions.
OID_SKI = b"\x55\x1d\x0e"
OID_KEY_USAGE = b"\x55\x1d\x0f"
OID_SAN = b"\x55\x1d\x11"
OID_BASIC_CONSTRAINTS = b"\x55\x1d\x13"
OID_NAME_CONSTRAINTS = b"\x55\x1d\x1e"
OID_CERT_POLICIES = b"\x55\x1d\x20"
OID_AKI = b"\x55\x1d\x23"
OID_EXT_KEY_USAGE = b"\x55\x1d\x25"

# Extended key usage purposes.
OID_KP_SERVER_AUTH = b"\x2b\x06\x01\x05\x05\x07\x03\x01"
OID_KP_CLIENT_AUTH = b"\x2b\x06\x01\x05\x05\x07\x03\x02"
OID_KP_CMC_RA = b"\x2b\x06\x01\x05\x05\x07\x03\x1c"

# keyUsage bits, bit 0 = digitalSignature (RFC 5280 4.2.1.3 order).
KU_DIGITAL_SIGNATURE = 0x001
KU_NON_REPUDIATION = 0x002
KU_KEY_ENCIPHERMENT = 0x004
KU_DATA_ENCIPHERMENT = 0x008
KU_KEY_AGREEMENT = 0x010
KU_KEY_CERT_SIGN = 0x020
KU_CRL_SIGN = 0x040
KU_ENCIPHER_ONLY = 0x080
KU_DECIPHER_ONLY = 0x100

# Universal string tags that der.decode_string reads.
_STRING_TAGS = (0x0C, 0x12, 0x13, 0x14, 0x16, 0x1A, 0x1C, 0x1E)

_SAN_KINDS = ((0x81, "email"), (0x82, "dns"), (0x86, "uri"))


def _alg(r):
    # An AlgorithmIdentifier element: SEQUENCE { OID, parameters ANY OPTIONAL }.
    start = r.offset()
    a = r.enter(der.SEQUENCE)
    a.read_oid()
    if not a.empty():
        a.skip()
    a.done()
    return r.buf[start:r.offset()]


def _name(r):
    # Validates a Name and returns its whole element.
    start = r.offset()
    n = r.enter(der.SEQUENCE)
    count = 0
    while not n.empty():
        rdn = n.enter(der.SET)
        if rdn.empty():
            raise FormatError("empty RDN at offset %d" % n.offset())
        while not rdn.empty():
            count += 1
            if count > MAX_NAME_ATTRS:
                raise FormatError("more than %d name attributes" % MAX_NAME_ATTRS)
            atv = rdn.enter(der.SEQUENCE)
            atv.read_oid()
            at = atv.offset()
            tag, v = atv.read_any()
            atv.done()
            if tag in _STRING_TAGS:
                der.decode_string(tag, v, at)
    return r.buf[start:r.offset()]


def _bits(first, n):
    # Bit length of a minimal big-endian unsigned integer of n octets.
    b = 0
    while first:
        b += 1
        first >>= 1
    return (n - 1) * 8 + b


def spki_info(spki):
    """(key_type, curve, bits) from a SubjectPublicKeyInfo element, without the
    crypto modules. key_type is "ec", "rsa", "ed25519" or the dotted OID of an
    unknown algorithm; curve is "P-256"/"P-384"/"P-521" (or a dotted OID) for
    EC keys, else None; bits is the key size or None when unknown."""
    r = der.top(spki)
    a = r.enter(der.SEQUENCE)
    alg = bytes(a.read_oid())
    params = None
    if a.peek_tag() == der.OID:
        params = bytes(a.read_oid())
    elif not a.empty():
        a.skip()
    a.done()
    key = r.read_bits()
    r.done()
    if alg == OID_EC_PUBLIC_KEY:
        if params is None:
            raise FormatError("EC key without a named curve")
        if params == OID_P256:
            return "ec", "P-256", 256
        if params == OID_P384:
            return "ec", "P-384", 384
        if params == OID_P521:
            return "ec", "P-521", 521
        return "ec", der.oid_str(params), None
    if alg == OID_RSA_ENCRYPTION:
        k = der.top(key)
        n = k.read_uint()
        k.read_uint()
        k.done()
        return "rsa", None, _bits(n[0], len(n))
    if alg == OID_ED25519:
        if len(key) != 32:
            raise FormatError("Ed25519 key of %d octets" % len(key))
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
        (ca, path_len or None) or None; key_usage int (KU_* bits) or None;
    ext_key_usage
        list of OID bytes or None;
    san list of (kind, value) or None: ("dns", str), ("ip", 4 or 16 bytes),
        ("uri", str), ("email", str), ("other", whole GeneralName DER bytes);
    ski, aki bytes or None; unknown_critical list of OID bytes.
    """

    def __init__(self, data):
        if isinstance(data, str):
            raise FormatError("certificate text given: use x509.load() for PEM")
        mv = data if isinstance(data, memoryview) else memoryview(data)
        if len(mv) > MAX_CERT_SIZE:
            raise FormatError("certificate of %d bytes (limit %d)" % (len(mv), MAX_CERT_SIZE))
        self.der = mv
        r = der.Reader(mv)
        c = r.enter(der.SEQUENCE)
        r.done()
        start = c.offset()
        t = c.enter(der.SEQUENCE)
        self.tbs = mv[start:c.offset()]
        self.sig_alg = _alg(c)
        self.signature = c.read_bits()
        c.done()
        self._tbs(t)

    def _tbs(self, t):
        v = t.enter_optional(der.ctx(0))
        if v is None:
            version = 1
        else:
            at = v.offset()
            n = v.read_int()
            v.done()
            if n < 0 or n > 2:
                raise FormatError("unsupported certificate version %d at offset %d" % (n, at))
            version = n + 1  # an explicit v1 (n == 0) is tolerated
        self.version = version
        self.serial = t.read_int()
        if self.serial >> (8 * MAX_SERIAL) not in (0, -1):
            raise FormatError("serial number longer than %d octets" % MAX_SERIAL)
        at = t.offset()
        if _alg(t) != self.sig_alg:
            raise FormatError("signature algorithm in TBSCertificate differs from the outer one "
                              "(offset %d)" % at)
        self.issuer_der = _name(t)
        val = t.enter(der.SEQUENCE)
        self.not_before = val.read_time()
        self.not_after = val.read_time()
        val.done()
        self.subject_der = _name(t)
        at = t.offset()
        self.public_key_der = t.read_element(der.SEQUENCE)
        try:
            self.key_type, self.curve, self.key_bits = spki_info(self.public_key_der)
        except DERError as e:
            raise DERError("bad SubjectPublicKeyInfo (%s)" % e, at)
        self.extensions = []
        self.basic_constraints = None
        self.key_usage = None
        self.ext_key_usage = None
        self.san = None
        self.ski = None
        self.aki = None
        self.unknown_critical = []
        if version >= 2:
            for tag in (0x81, 0x82):  # issuerUniqueID, subjectUniqueID: [n] IMPLICIT BIT STRING
                at = t.offset()
                u = t.optional(tag)
                if u is not None and (len(u) == 0 or u[0] > 7):
                    raise DERError("bad unique identifier", at)
        e = t.enter_optional(der.ctx(3))
        if e is not None:
            if version != 3:
                raise FormatError("extensions in a v%d certificate" % version)
            exts = e.enter(der.SEQUENCE)
            e.done()
            while not exts.empty():
                self._extension(exts)
        if not t.empty():
            raise FormatError("unexpected field in TBSCertificate at offset %d" % t.offset())

    def _extension(self, exts):
        if len(self.extensions) >= MAX_EXTENSIONS:
            raise FormatError("more than %d extensions" % MAX_EXTENSIONS)
        x = exts.enter(der.SEQUENCE)
        oid = bytes(x.read_oid())
        crit = False
        if x.peek_tag() == der.BOOLEAN:
            crit = x.read_bool()  # an explicit FALSE is tolerated
        val = x.read_octets()
        x.done()
        for o, _, _ in self.extensions:
            if o == oid:
                raise FormatError("duplicate extension %s" % der.oid_str(oid))
        self.extensions.append((oid, crit, val))
        # A Reader over the extension value, with offsets in the certificate.
        r = der.Reader(x.buf, x.offset() - len(val), x.offset(), x.depth)
        if oid == OID_BASIC_CONSTRAINTS:
            self.basic_constraints = _basic_constraints(r)
        elif oid == OID_KEY_USAGE:
            self.key_usage = _key_usage(r)
        elif oid == OID_EXT_KEY_USAGE:
            self.ext_key_usage = _ext_key_usage(r)
        elif oid == OID_SAN:
            self.san = _general_names(r)
        elif oid == OID_SKI:
            self.ski = bytes(r.read_octets())
            r.done()
        elif oid == OID_AKI:
            self.aki = _aki(r)
        elif crit:
            self.unknown_critical.append(oid)

    # -- readable views

    @property
    def issuer(self):
        """RFC 4514 text of the issuer (``tinyest.names``, loaded for it)."""
        from tinyest.names import name_text

        return name_text(self.issuer_der)

    @property
    def subject(self):
        """RFC 4514 text of the subject (``tinyest.names``, loaded for it)."""
        from tinyest.names import name_text

        return name_text(self.subject_der)

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
        except ImportError:
            raise VerifyError("no signature support (tinyest.keys is not installed)")
        try:
            ok = keys.verify(spki, self.sig_alg, self.tbs, self.signature)
        except VerifyError:
            raise
        except EstError as e:
            raise VerifyError("cannot check the signature: %s" % e)
        if ok is False:
            raise VerifyError("bad signature")


def _basic_constraints(r):
    b = r.enter(der.SEQUENCE)
    r.done()
    ca = False
    if b.peek_tag() == der.BOOLEAN:
        ca = b.read_bool()
    path_len = None
    if not b.empty():
        at = b.offset()
        path_len = b.read_int()
        if path_len < 0:
            raise FormatError("negative pathLenConstraint at offset %d" % at)
    b.done()
    return ca, path_len


def _key_usage(r):
    at = r.offset()
    _, bits = r.read_bit_string()
    r.done()
    if len(bits) > 2:
        raise FormatError("keyUsage of %d octets at offset %d" % (len(bits), at))
    mask = 0
    for i in range(len(bits)):
        b = bits[i]
        for j in range(8):
            if b & (0x80 >> j):
                mask |= 1 << (8 * i + j)
    return mask


def _ext_key_usage(r):
    s = r.enter(der.SEQUENCE)
    r.done()
    out = []
    while not s.empty():
        if len(out) >= MAX_EKU:
            raise FormatError("more than %d extKeyUsage purposes" % MAX_EKU)
        out.append(bytes(s.read_oid()))
    if not out:
        raise FormatError("empty extKeyUsage")
    return out


def _general_names(r):
    s = r.enter(der.SEQUENCE)
    r.done()
    out = []
    while not s.empty():
        if len(out) >= MAX_SAN:
            raise FormatError("more than %d subjectAltName entries" % MAX_SAN)
        at = s.offset()
        tag, v = s.read_any()
        kind = None
        for t, k in _SAN_KINDS:
            if t == tag:
                kind = k
        if kind is not None:
            out.append((kind, der.decode_string(der.IA5_STRING, v, at)))
        elif tag == 0x87:
            if len(v) != 4 and len(v) != 16:
                raise FormatError("iPAddress of %d octets at offset %d" % (len(v), at))
            out.append(("ip", bytes(v)))
        else:
            out.append(("other", bytes(s.buf[at:s.offset()])))
    return out


def _aki(r):
    s = r.enter(der.SEQUENCE)
    r.done()
    kid = s.optional(0x80)
    s.optional(0xA1)  # authorityCertIssuer
    if s.peek_tag() == 0x82:
        s.read_int(0x82)  # authorityCertSerialNumber
    s.done()
    return None if kid is None else bytes(kid)


def load(data):
    """A Certificate from DER (bytes-like) or PEM (str or bytes)."""
    if isinstance(data, str) or (len(data) and data[0] != der.SEQUENCE):
        from tinyest import pem

        data = pem.decode(data, "CERTIFICATE")
    return Certificate(data)


def load_all(data):
    """Certificates from a PEM bundle (every CERTIFICATE block) or one DER."""
    if isinstance(data, str) or (len(data) and data[0] != der.SEQUENCE):
        from tinyest import pem

        return [Certificate(d) for _, d in pem.decode_all(data, "CERTIFICATE")]
    return [Certificate(data)]


# ---------------------------------------------------------------- paths


def _as_cert(c):
    return c if isinstance(c, Certificate) else Certificate(c)


def _own_checks(c, now, skew=0, fresh=False):
    # Checks every certificate of a path gets, except the trust anchor. A clock
    # within ``skew`` seconds of a validity bound is given the benefit of the doubt.
    # Reasons are (format, args...): certificates among the args are shown by
    # subject, callables by what they return, only when a reason is raised.
    if now is not None:
        if now + skew < c.not_before and not fresh:
            return "%s is not valid yet", c
        if now - skew > c.not_after:
            return "%s has expired", c
    if c.unknown_critical:
        return "%s has an unsupported critical extension %s", c, \
            lambda: der.oid_str(c.unknown_critical[0])
    return None


def _reason(why):
    args = []
    for a in why[1:]:
        args.append(a.subject if isinstance(a, Certificate) else a() if callable(a) else a)
    return why[0] % tuple(args)


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
                raise VerifyError("gave up after %d signature checks" % MAX_SIGS)
            self.left -= 1
            try:
                child.verify_signed_by(issuer)
                r = True
            except VerifyError as e:
                r = str(e)
            # The pair is kept alive with its result, so no id is reused meanwhile.
            self.done[key] = (r, child, issuer)
            return r
        return r[0]


class _Search:
    def __init__(self, pool, anchors, now, max_depth, skew, checks):
        self.pool = pool
        self.anchors = anchors
        self.now = now
        self.skew = skew
        self.max_depth = max_depth
        self.steps = 0
        self.reason = None
        self.checks = checks

    def fail(self, *why):
        if self.reason is None:
            self.reason = why

    def issuer_ok(self, c, path, anchor):
        # c would sign path[-1]; path[1:] are the intermediates below c.
        if not anchor:
            err = _own_checks(c, self.now, self.skew)
            if err:
                self.fail(*err)
                return False
            if c.version != 3:
                self.fail("%s is a v%d certificate and cannot be an intermediate CA", c, c.version)
                return False
        bc = c.basic_constraints
        if (bc is None and not anchor) or (bc is not None and not bc[0]):
            self.fail("%s is not a CA", c)
            return False
        if c.key_usage is not None and not c.key_usage & KU_KEY_CERT_SIGN:
            self.fail("%s may not sign certificates (keyUsage)", c)
            return False
        if bc is not None and bc[1] is not None:
            n = 0
            for p in path[1:]:
                if not p.is_self_issued():
                    n += 1
            if n > bc[1]:
                self.fail("path length constraint of %s exceeded", c)
                return False
        return True

    def signed(self, child, issuer):
        r = self.checks.signed(child, issuer)
        if r is True:
            return True
        self.fail("signature on %s by %s: %s", child, issuer, r)
        return False

    def step(self):
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise VerifyError("path search gave up after %d candidates" % MAX_STEPS)

    def extend(self, path):
        cur = path[-1]
        found = False
        if len(path) < self.max_depth:
            for a in self.anchors:
                if a.subject_der != cur.issuer_der:
                    continue
                found = True
                self.step()
                if self.issuer_ok(a, path, True) and self.signed(cur, a):
                    return path + [a]
        for c in self.pool:
            if c.subject_der != cur.issuer_der:
                continue
            found = True
            if len(path) + 2 > self.max_depth:
                self.fail("no path of at most %d certificates", self.max_depth)
                break
            seen = False
            for p in path:
                if p.der == c.der:
                    seen = True
            if seen:
                continue
            self.step()
            if self.issuer_ok(c, path, False) and self.signed(cur, c):
                p = self.extend(path + [c])
                if p is not None:
                    return p
        if not found:
            self.fail("no issuer found for %s", lambda: cur.issuer)
        return None


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
    if len(others) > MAX_POOL:
        raise VerifyError("more than %d intermediate certificates" % MAX_POOL)
    if len(anchors) > MAX_ANCHORS:
        raise VerifyError("more than %d trust anchors" % MAX_ANCHORS)
    if max_depth > MAX_DEPTH:
        max_depth = MAX_DEPTH
    leaf = _as_cert(leaf)
    pool = []
    for c in others:  # duplicates only slow the search down
        c = _as_cert(c)
        for p in pool:
            if p.der == c.der:
                break
        else:
            pool.append(c)
    anchors = [_as_cert(a) for a in anchors]
    for a in anchors:
        if a.der == leaf.der:
            return [a]
    err = _own_checks(leaf, now, skew, fresh)
    if err:
        raise VerifyError(_reason(err))
    s = _Search(pool, anchors, now, max_depth, skew, checks or Checks())
    path = s.extend([leaf])
    if path is None:
        raise VerifyError(_reason(s.reason) if s.reason else "no path to a trust anchor")
    return path
