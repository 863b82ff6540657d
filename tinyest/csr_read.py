"""PKCS#10 certification requests (RFC 2986): the reader.

``parse(der)`` returns a ``Csr`` with the raw pieces (subject Name,
SubjectPublicKeyInfo, signature algorithm, signature, the signed
CertificationRequestInfo), the subject as RFC 4514 text, attributes and the
requested extensions; ``Csr.verify()`` checks the self-signature through
``tinyest.keys``. The reader is strict DER through ``tinyest.der``, demands
version 0 and the ``attributes [0]`` field, refuses repeated attribute or
extension types and an explicit ``critical FALSE``; it does not check the
order of SET OF elements (the signature covers the bytes as sent).

A device only builds requests (``tinyest.csr``); hosts and tests read them here.

Limits: ``MAX_CSR`` bytes per request; nesting as in ``tinyest.der``.
Errors: ``DERError`` with the byte offset for a malformed or non-conforming
request, ``FormatError`` for input that is not bytes or too large. Nothing else
escapes. Side channels: nothing here handles secrets (a challengePassword is
read as plain text).
"""

from tinyest import der, names
from tinyest.csr import (GN_DNS, GN_EMAIL, GN_IP, GN_URI, OID_CHALLENGE_PASSWORD,
                         OID_EXTENSION_REQUEST)
from tinyest.errors import DERError, FormatError

MAX_CSR = 32768


class Csr:
    """A parsed certification request. Fields (bytes unless said):
    ``der``, ``info_der`` (the signed CertificationRequestInfo), ``subject_der``,
    ``subject_rdns`` (list of RDNs, each a list of (name, text)), ``subject``
    (RFC 4514 text), ``public_key_der`` (SubjectPublicKeyInfo),
    ``attributes`` (list of (dotted OID, [value DER, ...])), ``extensions``
    (list of (dotted OID, critical, extnValue DER)), ``challenge_password``
    (str or None), ``signature_algorithm`` (AlgorithmIdentifier DER),
    ``signature_oid`` (dotted), ``signature``."""

    def attribute(self, oid):
        """Values of the attribute with this dotted OID, or None."""
        for o, v in self.attributes:
            if o == oid:
                return v
        return None

    def extension(self, oid):
        """(critical, extnValue DER) of the requested extension, or None."""
        for o, c, v in self.extensions:
            if o == oid:
                return c, v
        return None

    def san(self):
        """The requested subjectAltName as a list of (kind, value): kind is
        "dns", "email", "uri" (value str), "ip" (value text) or "other"
        (value: the GeneralName DER)."""
        e = self.extension("2.5.29.17")
        if e is None:
            return []
        out = []
        r = der.top(e[1])
        while not r.empty():
            at = r.offset()
            tag = r.peek_tag()
            if tag in (GN_DNS, GN_EMAIL, GN_URI):
                v = der.decode_string(der.IA5_STRING, r.read(tag), at)
                out.append(({GN_DNS: "dns", GN_EMAIL: "email", GN_URI: "uri"}[tag], v))
            elif tag == GN_IP:
                v = r.read(tag)
                if len(v) not in (4, 16):
                    raise FormatError("iPAddress of %d octets in subjectAltName" % len(v))
                out.append(("ip", names.ip_text(v)))
            else:
                out.append(("other", bytes(r.read_element())))
        return out

    def verify(self):
        """Check the self-signature; raises VerifyError (FormatError for an
        unsupported algorithm)."""
        from tinyest import keys

        keys.verify(self.public_key_der, self.signature_algorithm, self.info_der, self.signature)


def _enter(r, tag):
    """(child Reader, whole element bytes) of r's next element."""
    p = r.offset()
    child = r.enter(tag)
    return child, bytes(r.buf[p:r.offset()])


def parse(data):
    """Parse a DER CertificationRequest into a ``Csr`` (no signature check).
    DERError offsets count from the start of ``data``."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FormatError("CSR must be DER bytes")
    if len(data) > MAX_CSR:
        raise FormatError("CSR larger than %d bytes" % MAX_CSR)
    c = Csr()
    c.der = bytes(data)
    outer = der.top(c.der)
    r, c.info_der = _enter(outer, der.SEQUENCE)
    alg, c.signature_algorithm = _enter(outer, der.SEQUENCE)
    c.signature_oid = der.oid_str(alg.read_oid())
    c.signature = bytes(outer.read_bits())
    outer.done()

    at = r.offset()
    if r.read_int() != 0:
        raise DERError("CertificationRequest version is not 0", at)
    name, c.subject_der = _enter(r, der.SEQUENCE)
    c.subject_rdns = names.rdns(name)
    c.subject = names.name_text(c.subject_der)
    spki, c.public_key_der = _enter(r, der.SEQUENCE)
    spki.enter(der.SEQUENCE).read_oid()
    spki.read_bits()
    spki.done()
    at = r.offset()
    if r.peek_tag() != 0xA0:
        raise DERError("attributes [0] missing", at)
    attrs = r.enter(0xA0)
    r.done()
    c.attributes = []
    c.extensions = []
    c.challenge_password = None
    seen = []
    while not attrs.empty():
        a = attrs.enter(der.SEQUENCE)
        at = a.offset()
        oid = bytes(a.read_oid())
        if oid in seen:
            raise DERError("attribute %s repeated" % der.oid_str(oid), at)
        seen.append(oid)
        vs = a.enter(der.SET)
        a.done()
        values = []
        while not vs.empty():
            if oid == OID_CHALLENGE_PASSWORD and values:
                raise DERError("challengePassword with several values", at)
            if oid == OID_EXTENSION_REQUEST:
                if values:
                    raise DERError("extensionRequest with several values", at)
                er, v = _enter(vs, der.SEQUENCE)
                c.extensions = _parse_extensions(er)
            else:
                p = vs.offset()
                if oid == OID_CHALLENGE_PASSWORD:
                    c.challenge_password = vs.read_string()[1]
                else:
                    vs.skip()
                v = bytes(vs.buf[p:vs.offset()])
            values.append(v)
        if not values:
            raise DERError("attribute with no values", at)
        c.attributes.append((der.oid_str(oid), values))
    return c


def _parse_extensions(r):
    out = []
    seen = []
    while not r.empty():
        e = r.enter(der.SEQUENCE)
        at = e.offset()
        oid = bytes(e.read_oid())
        critical = False
        if e.peek_tag() == der.BOOLEAN:
            critical = e.read_bool()
            if not critical:
                raise DERError("critical FALSE must be omitted (DEFAULT)", at)
        v = bytes(e.read_octets())
        e.done()
        if oid in seen:
            raise DERError("extension %s requested twice" % der.oid_str(oid), at)
        seen.append(oid)
        out.append((der.oid_str(oid), critical, v))
    return out
