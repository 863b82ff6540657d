"""PKCS#10 certification requests (RFC 2986): the reader.

``Csr(der)`` parses a request into its raw pieces (subject Name,
SubjectPublicKeyInfo, signature algorithm, signature, the signed
CertificationRequestInfo), the subject as RFC 4514 text, attributes, the
requested extensions and the requested subjectAltName; ``Csr.verify()`` checks
the self-signature through ``tinyest.keys``. It has the shape of
``tinyest.x509.Certificate``: OIDs are DER contents octets (bytes, e.g.
``b"\\x55\\x1d\\x11"``), ``extension(oid)`` gives (critical, value) or None and
``san`` is an attribute with the same kinds and value types. The reader is
strict DER through ``tinyest.der``, demands version 0 and the ``attributes [0]``
field, refuses repeated attribute or extension types and an explicit
``critical FALSE``; it does not check the order of SET OF elements (the
signature covers the bytes as sent).

A device only builds requests (``tinyest.csr``); hosts and tests read them here.

Limits: ``MAX_CSR`` bytes per request; nesting as in ``tinyest.der``.
Errors: ``DERError`` with the byte offset (from the start of the request) for a
malformed or non-conforming request, ``FormatError`` for input that is not
bytes or too large, and for an iPAddress that is neither 4 nor 16 octets.
Nothing else escapes. Side channels: nothing here handles secrets (a
challengePassword is read as plain text).
"""

from tinyest import der, names
from tinyest.csr import (GN_DNS, GN_EMAIL, GN_IP, GN_URI, OID_CHALLENGE_PASSWORD,
                         OID_EXTENSION_REQUEST)
from tinyest.errors import DERError, FormatError

MAX_CSR = 32768
OID_SAN = b"\x55\x1d\x11"  # subjectAltName 2.5.29.17, as x509.OID_SAN


class Csr:
    """A parsed certification request. Fields (bytes unless said):
    ``der``, ``tbs`` (the signed CertificationRequestInfo), ``subject_der``,
    ``subject_rdns`` (list of RDNs, each a list of (name, text)), ``subject``
    (RFC 4514 text), ``public_key_der`` (SubjectPublicKeyInfo),
    ``attributes`` (list of (OID bytes, [value DER, ...])), ``extensions``
    (list of (OID bytes, critical, extnValue DER)), ``san`` (the requested
    subjectAltName as in ``x509.Certificate``: list of (kind, value) or None
    when not requested; ("dns", str), ("ip", 4 or 16 bytes), ("uri", str),
    ("email", str), ("other", whole GeneralName DER bytes)),
    ``challenge_password`` (str or None), ``sig_alg``
    (AlgorithmIdentifier DER), ``signature_oid`` (OID bytes), ``signature``.

    ``Csr(data)`` parses a DER CertificationRequest (no signature check)."""

    def __init__(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise FormatError("CSR must be DER bytes")
        if len(data) > MAX_CSR:
            raise FormatError("CSR larger than %d bytes" % MAX_CSR)
        self.der = bytes(data)
        outer = der.top(self.der)
        r, self.tbs = _enter(outer, der.SEQUENCE)
        alg, self.sig_alg = _enter(outer, der.SEQUENCE)
        self.signature_oid = bytes(alg.read_oid())
        self.signature = bytes(outer.read_bits())
        outer.done()

        at = r.offset()
        if r.read_int() != 0:
            raise DERError("CertificationRequest version is not 0", at)
        name, self.subject_der = _enter(r, der.SEQUENCE)
        self.subject_rdns = names.rdns(name)
        self.subject = names.name_text(self.subject_der)
        spki, self.public_key_der = _enter(r, der.SEQUENCE)
        spki.enter(der.SEQUENCE).read_oid()
        spki.read_bits()
        spki.done()
        at = r.offset()
        if r.peek_tag() != 0xA0:
            raise DERError("attributes [0] missing", at)
        attrs = r.enter(0xA0)
        r.done()
        self.attributes = []
        self.extensions = []
        self.san = None
        self.challenge_password = None
        while not attrs.empty():
            a = attrs.enter(der.SEQUENCE)
            at = a.offset()
            oid = bytes(a.read_oid())
            for o, _ in self.attributes:
                if o == oid:
                    raise DERError("attribute %s repeated" % der.oid_str(oid), at)
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
                    self._read_extensions(er)
                else:
                    p = vs.offset()
                    if oid == OID_CHALLENGE_PASSWORD:
                        self.challenge_password = vs.read_string()[1]
                    else:
                        vs.skip()
                    v = bytes(vs.buf[p:vs.offset()])
                values.append(v)
            if not values:
                raise DERError("attribute with no values", at)
            self.attributes.append((oid, values))

    def _read_extensions(self, r):
        out = self.extensions
        while not r.empty():
            e = r.enter(der.SEQUENCE)
            at = e.offset()
            oid = bytes(e.read_oid())
            critical = False
            if e.peek_tag() == der.BOOLEAN:
                critical = e.read_bool()
                if not critical:
                    raise DERError("critical FALSE must be omitted (DEFAULT)", at)
            v = e.read_octets()
            e.done()
            for o, _, _ in out:
                if o == oid:
                    raise DERError("extension %s requested twice" % der.oid_str(oid), at)
            out.append((oid, critical, bytes(v)))
            if oid == OID_SAN:
                # A Reader over the value, with offsets in the request.
                self.san = _san(der.Reader(e.buf, e.offset() - len(v), e.offset(), e.depth))

    def attribute(self, oid):
        """Values of the attribute with this OID (bytes), or None."""
        oid = bytes(oid)
        for o, v in self.attributes:
            if o == oid:
                return v
        return None

    def extension(self, oid):
        """(critical, extnValue DER) of the requested extension with this OID
        (bytes), or None."""
        oid = bytes(oid)
        for o, c, v in self.extensions:
            if o == oid:
                return c, v
        return None

    def verify(self):
        """Check the self-signature; raises VerifyError (FormatError for an
        unsupported algorithm)."""
        from tinyest import keys

        keys.verify(self.public_key_der, self.sig_alg, self.tbs, self.signature)


def _enter(r, tag):
    """(child Reader, whole element bytes) of r's next element."""
    p = r.offset()
    child = r.enter(tag)
    return child, bytes(r.buf[p:r.offset()])


def _san(r):
    """The GeneralNames of a subjectAltName value, read as x509 reads them."""
    y = r.enter(der.SEQUENCE)
    r.done()
    out = []
    while not y.empty():
        at = y.offset()
        tag = y.peek_tag()
        if tag in (GN_DNS, GN_EMAIL, GN_URI):
            v = der.decode_string(der.IA5_STRING, y.read(tag), at)
            out.append(("dns" if tag == GN_DNS else "email" if tag == GN_EMAIL else "uri", v))
        elif tag == GN_IP:
            v = y.read(tag)
            if len(v) != 4 and len(v) != 16:
                raise FormatError("%d-octet iPAddress at offset %d" % (len(v), at))
            out.append(("ip", bytes(v)))
        else:
            out.append(("other", bytes(y.read_element())))
    return out
