"""/csrattrs (RFC 7030 4.5): what the server wants in a request, and applying
it to a ``tinyest.csr_build.CsrBuilder``.

Loaded only by ``EstClient.csrattrs`` (or an application using these names);
``tinyest.client`` resolves ``CsrAttrs`` and ``apply_csrattrs`` here too.

``CsrAttrs(der)`` reads a CsrAttrs SEQUENCE OF (OID | Attribute): bare OIDs
ask for a key type (id-ecPublicKey, rsaEncryption, Ed25519), a signature
algorithm or hash, or the challengePassword; an id-ecPublicKey attribute
names a curve, an rsaEncryption attribute a modulus size; an
extensionRequest attribute names extensions (bare OIDs) or gives them in full
(Extensions). Anything else is listed in ``unknown`` for the device to
supply. ``apply_csrattrs`` fills a builder and reports what it could not do.

Limits: ``CsrAttrs.MAX_ITEMS`` items and values per attribute. Errors:
DERError for malformed DER, FormatError for too many items; nothing else.
Side channels: the challenge password is handled as a plain str.
"""

from tinyest import der
from tinyest.csr import OID_CHALLENGE_PASSWORD, OID_EXTENSION_REQUEST
from tinyest.errors import EstError, FormatError

OID_EC_PUBLIC_KEY = b"\x2a\x86\x48\xce\x3d\x02\x01"
OID_RSA = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"
OID_ED25519 = b"\x2b\x65\x70"
OID_P256 = b"\x2a\x86\x48\xce\x3d\x03\x01\x07"
OID_P384 = b"\x2b\x81\x04\x00\x22"
OID_P521 = b"\x2b\x81\x04\x00\x23"

# Signature algorithm OIDs -> (key type, hash)
_SIG_ALGS = (
    (b"\x2a\x86\x48\xce\x3d\x04\x03\x02", "ec", "sha256"),
    (b"\x2a\x86\x48\xce\x3d\x04\x03\x03", "ec", "sha384"),
    (b"\x2a\x86\x48\xce\x3d\x04\x03\x04", "ec", "sha512"),
    (b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b", "rsa", "sha256"),
    (b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0c", "rsa", "sha384"),
    (b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0d", "rsa", "sha512"),
    (OID_ED25519, "ed25519", None),
)
# Hash algorithm OIDs (a bare hash OID in csrattrs asks for that hash)
_HASHES = (
    (b"\x60\x86\x48\x01\x65\x03\x04\x02\x01", "sha256"),
    (b"\x60\x86\x48\x01\x65\x03\x04\x02\x02", "sha384"),
    (b"\x60\x86\x48\x01\x65\x03\x04\x02\x03", "sha512"),
)
_CURVES = ((OID_P256, "P-256"), (OID_P384, "P-384"), (OID_P521, "P-521"))


def _lookup(table, oid):
    for row in table:
        if row[0] == oid:
            return row
    return None


class CsrAttrs:
    """Parsed /csrattrs (RFC 7030 4.5.2: SEQUENCE OF (OID | Attribute)).

    oids: bare OIDs (bytes of OID contents); attributes: list of
    (OID bytes, [value DER bytes]). Derived: challenge_password (bool),
    key_type ("ec", "rsa", "ed25519" or None), curve ("P-256", "P-384",
    "P-521" or None), rsa_bits (int or None), hash ("sha256", "sha384",
    "sha512" or None), extensions (OIDs named in an extensionRequest),
    extension_values (list of (OID bytes, critical, extnValue bytes) given in
    full), unknown (OIDs not understood: attribute types a device may supply).
    """

    MAX_ITEMS = 64

    def __init__(self, data=None):
        self.oids = []
        self.attributes = []
        self.challenge_password = False
        self.key_type = None
        self.curve = None
        self.rsa_bits = None
        self.hash = None
        self.extensions = []
        self.extension_values = []
        self.unknown = []
        if data:
            self._parse(data)

    def _parse(self, data):
        r = der.top(data)
        n = 0
        while not r.empty():
            n += 1
            if n > self.MAX_ITEMS:
                raise FormatError("more than %d csrattrs items" % self.MAX_ITEMS)
            if r.peek_tag() == der.OID:
                oid = bytes(r.read_oid())
                self.oids.append(oid)
                self._bare(oid)
                continue
            a = r.enter(der.SEQUENCE)
            oid = bytes(a.read_oid())
            vs = a.enter(der.SET)
            a.done()
            values = []
            while not vs.empty():
                if len(values) >= self.MAX_ITEMS:
                    raise FormatError("too many csrattrs values")
                values.append(bytes(vs.read_element()))
            self.attributes.append((oid, values))
            self._attribute(oid, values)

    def _bare(self, oid):
        sig = _lookup(_SIG_ALGS, oid)
        h = _lookup(_HASHES, oid)
        if oid == OID_CHALLENGE_PASSWORD:
            self.challenge_password = True
        elif sig is not None:
            if self.key_type is None:
                self.key_type = sig[1]
            self.hash = sig[2]
        elif h is not None:
            self.hash = h[1]
        elif oid == OID_EC_PUBLIC_KEY:
            self.key_type = "ec"
        elif oid == OID_RSA:
            self.key_type = "rsa"
        elif oid == OID_ED25519:
            self.key_type = "ed25519"
        else:
            self.unknown.append(oid)

    def _attribute(self, oid, values):
        if oid == OID_EXTENSION_REQUEST:
            for v in values:
                r = der.top(v, der.SEQUENCE) if v[0] == der.SEQUENCE else None
                if r is None:
                    rr = der.Reader(v)
                    self.extensions.append(bytes(rr.read_oid()))
                    rr.done()
                    continue
                while not r.empty():  # Extensions ::= SEQUENCE OF Extension
                    e = r.enter(der.SEQUENCE)
                    eo = bytes(e.read_oid())
                    crit = e.read_bool() if e.peek_tag() == der.BOOLEAN else False
                    val = bytes(e.read_octets())
                    e.done()
                    self.extension_values.append((eo, crit, val))
                    self.extensions.append(eo)
            return
        if oid == OID_EC_PUBLIC_KEY:
            self.key_type = "ec"
            for v in values:
                rr = der.Reader(v)
                if rr.peek_tag() == der.OID:
                    c = _lookup(_CURVES, bytes(rr.read_oid()))
                    if c is not None:
                        self.curve = c[1]
            return
        if oid == OID_RSA:
            self.key_type = "rsa"
            for v in values:
                rr = der.Reader(v)
                if rr.peek_tag() == der.INTEGER:
                    self.rsa_bits = rr.read_int()
            return
        if oid == OID_CHALLENGE_PASSWORD:
            self.challenge_password = True
            return
        self.unknown.append(oid)

    def empty(self):
        return not self.oids and not self.attributes

    def describe(self):
        """Readable lines, one per item."""
        out = []
        for oid in self.oids:
            out.append("oid " + der.oid_str(oid))
        for oid, values in self.attributes:
            out.append("attribute %s (%d value%s)" % (der.oid_str(oid), len(values),
                                                     "" if len(values) == 1 else "s"))
        if self.challenge_password:
            out.append("wants: challengePassword")
        if self.key_type:
            out.append("wants: %s key%s" % (self.key_type, " on " + self.curve if self.curve else ""))
        if self.hash:
            out.append("wants: %s signatures" % self.hash)
        for e in self.extensions:
            out.append("wants: extension %s" % der.oid_str(e))
        return out


def _spki_kind(spki):
    # (key type, curve or None) of a SubjectPublicKeyInfo
    r = der.top(spki)
    a = r.enter(der.SEQUENCE)
    oid = bytes(a.read_oid())
    if oid == OID_EC_PUBLIC_KEY:
        c = None
        if a.peek_tag() == der.OID:
            c = _lookup(_CURVES, bytes(a.read_oid()))
        return "ec", c[1] if c else None
    if oid == OID_RSA:
        return "rsa", None
    if oid == OID_ED25519:
        return "ed25519", None
    return der.oid_str(oid), None


def apply_csrattrs(builder, attrs, values=None, signer=None):
    """Apply csrattrs to a ``CsrBuilder``; returns (builder, unsatisfied).

    ``values`` maps what the device supplies: "challengePassword" -> str, and
    dotted OIDs -> value DER (an extension's extnValue for OIDs named in an
    extensionRequest, else an attribute value). Extensions given in full by
    the server are added as they are. With ``signer``, its key type, curve and
    signature hash are compared with what the server asks. ``unsatisfied``
    lists (dotted OID or name, reason) for everything not done.
    """
    values = values or {}
    missing = []
    if attrs.challenge_password:
        pw = values.get("challengePassword", values.get("1.2.840.113549.1.9.7"))
        if pw is None:
            missing.append(("challengePassword", "no value supplied"))
        else:
            builder = builder.challenge_password(pw)
    full = [e[0] for e in attrs.extension_values]
    for oid, crit, val in attrs.extension_values:
        dotted = der.oid_str(oid)
        v = values.get(dotted, val)
        try:
            builder = builder.extension(dotted, v, crit)
        except EstError as e:
            missing.append((dotted, str(e)))
    for oid in attrs.extensions:
        if oid in full:
            continue
        dotted = der.oid_str(oid)
        v = values.get(dotted)
        if v is None:
            missing.append((dotted, "no value supplied for the requested extension"))
            continue
        try:
            builder = builder.extension(dotted, v)
        except EstError as e:
            missing.append((dotted, str(e)))
    for oid in attrs.unknown:
        dotted = der.oid_str(oid)
        v = values.get(dotted)
        if v is None:
            missing.append((dotted, "not understood and no value supplied"))
            continue
        try:
            builder = builder.attribute(dotted, v)
        except EstError as e:
            missing.append((dotted, str(e)))
    if signer is not None:
        kind, curve = _spki_kind(signer.public_key_der())
        if attrs.key_type and attrs.key_type != kind:
            missing.append(("key", "%s key requested, signer has %s" % (attrs.key_type, kind)))
        elif attrs.curve and attrs.curve != curve:
            missing.append(("curve", "%s requested, signer has %s" % (attrs.curve, curve)))
        if attrs.hash:
            r = der.top(signer.algorithm_der())
            sig = _lookup(_SIG_ALGS, bytes(r.read_oid()))
            if sig is None or sig[2] != attrs.hash:
                missing.append(("hash", "%s requested, signer uses %s"
                                % (attrs.hash, sig[2] if sig else "another algorithm")))
    elif attrs.key_type or attrs.hash:
        missing.append(("key", "no signer given to check the requested key and hash"))
    return builder, missing
