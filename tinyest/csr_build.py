"""PKCS#10 certification requests (RFC 2986): the general builder.

``CsrBuilder`` is an immutable fluent builder: every method returns a new
builder, checks its argument at once and refuses a second subject or a second
request for the same extension or attribute::

    der = (CsrBuilder()
           .subject([("O", "Example"), ("CN", "device-0042")])
           .dns("device-0042.example.com")
           .key_usage("digitalSignature")
           .ext_key_usage("clientAuth")
           .sign(key))

The request holds: version 0, the subject Name, the signer's
SubjectPublicKeyInfo, and ``attributes [0]`` (DER-sorted, X.690 11.6) with a
challengePassword and an extensionRequest (PKCS#9) carrying the subjectAltName
(critical exactly when the subject is empty, RFC 5280 4.2.1.6) and every other
requested extension, in the order requested. ``sign(signer)`` takes any object
with ``public_key_der()``, ``algorithm_der()`` and ``sign(data)``; a secure
element that signs elsewhere uses ``info_der(spki_der)`` and
``tinyest.csr.assemble(info, alg, sig)``. A device's own requests (a CN and DNS
names, and renewals) come from ``tinyest.csr``, which this module builds on and
which is all a device loads.

Supported subset: the subject attributes of ``tinyest.names.ATTRS`` (CN, O, OU,
C, L, ST, STREET, serialNumber, emailAddress, UID, DC, title, GN, SN; names
match case-insensitively; C and serialNumber become PrintableString,
emailAddress and DC IA5String, the rest UTF8String) or any dotted OID;
multi-valued RDNs; SAN dNSName, iPAddress (IPv4, IPv6 text with '::' and
embedded IPv4, no zone ids), URI and rfc822Name; keyUsage (the seven bits up to
cRLSign), extKeyUsage, basicConstraints, raw extensions and raw attributes.
Checks: values within RFC 5280 upper bounds, no control characters anywhere; C
is two upper-case letters; DNS names as in ``tinyest.csr``; e-mail addresses are
a dot-atom '@' a host name (no quoted local parts); URIs need an RFC 3986 scheme
and no excluded characters; basicConstraints' pathLenConstraint below 2**31.

Errors: ``FormatError`` for a bad or repeated argument (``DERError`` for raw
DER that does not parse). Nothing else escapes.
"""

from tinyest import der, names
from tinyest.csr import (GN_DNS, GN_EMAIL, GN_IP, GN_URI, OID_CHALLENGE_PASSWORD,
                         OID_EXTENSION_REQUEST, check_ascii, check_hostname, check_text,
                         element, ext_request, extension, info, sign)
from tinyest.errors import DERError, FormatError
from tinyest.hostname import ip_octets
from tinyest.x509 import OID_BASIC_CONSTRAINTS, OID_EXT_KEY_USAGE, OID_KEY_USAGE, OID_SAN

_PRINTABLE_EXTRA = " '()+,-./:=?"
_DIGITS = "0123456789"
_ATEXT_EXTRA = "!#$%&*^_`{|}~"  # atext (RFC 5322 3.2.3) beyond PrintableString
_URI_EXCLUDED = ' "<>\\^`{|}'  # not allowed anywhere in an RFC 3986 URI

_KEY_USAGE = (
    "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
    "keyAgreement", "keyCertSign", "cRLSign",
)

_EKU = (
    ("serverAuth", b"\x2b\x06\x01\x05\x05\x07\x03\x01"),
    ("clientAuth", b"\x2b\x06\x01\x05\x05\x07\x03\x02"),
    ("codeSigning", b"\x2b\x06\x01\x05\x05\x07\x03\x03"),
    ("emailProtection", b"\x2b\x06\x01\x05\x05\x07\x03\x04"),
    ("timeStamping", b"\x2b\x06\x01\x05\x05\x07\x03\x08"),
    ("OCSPSigning", b"\x2b\x06\x01\x05\x05\x07\x03\x09"),
)


def _is_printable(s):
    for ch in s:
        o = ord(ch)
        if not (0x30 <= o <= 0x39 or 0x41 <= o <= 0x5A or 0x61 <= o <= 0x7A or ch in _PRINTABLE_EXTRA):
            return False
    return True


def _oid(x, what="OID"):
    """OID contents from dotted text (or already-encoded contents)."""
    if isinstance(x, str):
        for ch in x:
            if ch != "." and ch not in _DIGITS:
                raise FormatError("%s %r is not a dotted OID" % (what, x))
        try:
            return der.encode_oid(x)
        except DERError:
            raise FormatError("%s %r is not a dotted OID" % (what, x))
    if isinstance(x, (bytes, bytearray)):
        try:
            der.check_oid(x)
        except DERError:
            raise FormatError("bad %s contents" % what)
        return bytes(x)
    raise FormatError("%s must be dotted text" % what)


def _bool(x, what):
    if x is not True and x is not False:
        raise FormatError("%s must be True or False" % what)
    return x


def _atv(pair):
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise FormatError("subject entry %r is not an (attribute, value) pair" % (pair,))
    name, oid, enc, bound = names.attr_info(pair[0])
    value = check_text(pair[1], name)
    if len(value) > bound:
        raise FormatError("%s %r is longer than %d characters" % (name, value, bound))
    if enc == names.PRINTABLE:
        if not _is_printable(value):
            raise FormatError("%s %r is not a PrintableString" % (name, value))
        if oid == b"\x55\x04\x06":
            if len(value) != 2 or not ("A" <= value[0] <= "Z" and "A" <= value[1] <= "Z"):
                raise FormatError("C %r is not a two-letter upper-case country code" % value)
        v = der.tlv(der.PRINTABLE_STRING, value.encode())
    elif enc == names.IA5:
        check_ascii(value, name)
        v = der.tlv(der.IA5_STRING, value.encode())
    else:
        v = der.utf8(value)
    return oid, der.seq(der.oid(oid), v)


def _name(rdns):
    if not isinstance(rdns, (list, tuple)):
        raise FormatError("subject must be a list of (attribute, value) pairs")
    out = []
    for item in rdns:
        if isinstance(item, (list, tuple)) and len(item) and isinstance(item[0], (list, tuple)):
            seen = []
            atvs = []
            for pair in item:
                oid, atv = _atv(pair)
                if oid in seen:
                    raise FormatError("attribute repeated in one multi-valued RDN")
                seen.append(oid)
                atvs.append(atv)
            out.append(der.set_of(*atvs))
        else:
            out.append(der.set_of(_atv(item)[1]))
    return der.seq(*out)


class CsrBuilder:
    """Immutable PKCS#10 request builder; see the module docstring."""

    def __init__(self):
        self._subject = None  # Name DER
        self._names = ()  # SAN GeneralNames: (tag, bytes, key for duplicates)
        self._exts = ()  # (OID contents, critical, extnValue DER or None for the SAN)
        self._attrs = ()  # (OID contents, (value DER, ...))

    def _copy(self):
        b = CsrBuilder()
        b._subject = self._subject
        b._names = self._names
        b._exts = self._exts
        b._attrs = self._attrs
        return b

    def _has_ext(self, oid):
        for e in self._exts:
            if e[0] == oid:
                return True
        return False

    def _has_attr(self, oid):
        for a in self._attrs:
            if a[0] == oid:
                return True
        return False

    def _with_ext(self, oid, critical, value, what):
        if self._has_ext(oid):
            raise FormatError("%s already requested" % what)
        b = self._copy()
        b._exts = self._exts + ((oid, critical, value),)
        return b

    # -- subject

    def subject(self, rdns):
        """Set the subject: an ordered list of (attribute, value) pairs, most
        significant first (e.g. C, O, CN); an element that is itself a list of
        pairs is one multi-valued RDN. ``[]`` asks for an empty subject (the
        SAN then becomes mandatory and critical)."""
        if self._subject is not None:
            raise FormatError("subject already set")
        b = self._copy()
        b._subject = _name(rdns)
        return b

    # -- subjectAltName

    def _san(self, tag, value, key):
        if self._has_ext(OID_SAN) and not self._names:
            raise FormatError("subjectAltName already given as a raw extension")
        for n in self._names:
            if n[0] == tag and n[2] == key:
                raise FormatError("subjectAltName %r already requested" % (key,))
        b = self._copy()
        b._names = self._names + ((tag, value, key),)
        if not self._names:
            b._exts = self._exts + ((OID_SAN, False, None),)
        return b

    def dns(self, name):
        """Add a dNSName to the subjectAltName."""
        check_hostname(name, "DNS name", True)
        return self._san(GN_DNS, name.encode(), name.lower())

    def ip(self, text):
        """Add an iPAddress (IPv4 or IPv6 text) to the subjectAltName."""
        b = ip_octets(text) if isinstance(text, str) else None
        if b is None:
            raise FormatError("bad IP address %r" % (text,))
        return self._san(GN_IP, b, b)

    def uri(self, u):
        """Add a uniformResourceIdentifier (RFC 3986, with a scheme) to the
        subjectAltName."""
        check_ascii(u, "URI")
        i = u.find(":")
        if i < 1 or i == len(u) - 1:
            raise FormatError("URI %r needs a scheme and a scheme-specific part" % u)
        for j in range(i):  # RFC 3986 3.1
            o = ord(u[j])
            if not (0x41 <= o <= 0x5A or 0x61 <= o <= 0x7A or (j and (0x30 <= o <= 0x39 or u[j] in "+-."))):
                raise FormatError("URI %r has a bad scheme" % u)
        for ch in u:
            if ch in _URI_EXCLUDED:
                raise FormatError("URI %r holds %r" % (u, ch))
        return self._san(GN_URI, u.encode(), u)

    def email(self, addr):
        """Add an rfc822Name to the subjectAltName: a dot-atom local part
        (RFC 5322 3.2.3, no quoted strings) '@' a host name."""
        check_ascii(addr, "email address")
        i = addr.find("@")
        local = addr[:i]
        if i < 1 or local[0] == "." or local[-1] == "." or ".." in local:
            raise FormatError("email address %r is not local@domain" % addr)
        for ch in local:
            if not (_is_printable(ch) or ch in _ATEXT_EXTRA) or ch in " (),:":
                raise FormatError("email address %r: bad character %r" % (addr, ch))
        check_hostname(addr[i + 1:], "email domain")
        return self._san(GN_EMAIL, addr.encode(), local + "@" + addr[i + 1:].lower())

    # -- other extensions

    def key_usage(self, *names, critical=True):
        """Request keyUsage with these bits (named BIT STRING, X.690 11.2.2)."""
        if not names:
            raise FormatError("key_usage needs at least one name")
        bits = 0
        for n in names:
            idx = -1
            if isinstance(n, str):
                for i, k in enumerate(_KEY_USAGE):
                    if k.lower() == n.lower():
                        idx = i
            if idx < 0:
                raise FormatError("unknown key usage %r" % (n,))
            if bits & (1 << idx):
                raise FormatError("key usage %r given twice" % n)
            bits |= 1 << idx
        top = 0
        for i in range(len(_KEY_USAGE)):
            if bits & (1 << i):
                top = i
        nbits = top + 1
        nbytes = (nbits + 7) // 8
        v = 0
        for i in range(nbits):
            if bits & (1 << i):
                v |= 1 << (nbytes * 8 - 1 - i)
        value = der.bit_string(v.to_bytes(nbytes, "big"), nbytes * 8 - nbits)
        return self._with_ext(OID_KEY_USAGE, _bool(critical, "critical"), value, "keyUsage")

    def ext_key_usage(self, *names_or_oids, critical=False):
        """Request extKeyUsage with these purposes (names or dotted OIDs), in order."""
        if not names_or_oids:
            raise FormatError("ext_key_usage needs at least one purpose")
        oids = []
        for n in names_or_oids:
            oid = None
            if isinstance(n, str) and n and n[0] in _DIGITS:
                oid = _oid(n, "extended key usage OID")
            elif isinstance(n, str):
                for k, o in _EKU:
                    if k.lower() == n.lower():
                        oid = o
            if oid is None:
                raise FormatError("unknown extended key usage %r" % (n,))
            if oid in oids:
                raise FormatError("extended key usage %r given twice" % n)
            oids.append(oid)
        value = der.seq(*[der.oid(o) for o in oids])
        return self._with_ext(OID_EXT_KEY_USAGE, _bool(critical, "critical"), value, "extKeyUsage")

    def basic_constraints(self, ca=False, path_len=None, critical=True):
        """Request basicConstraints; ``path_len`` only with ``ca=True``."""
        _bool(ca, "ca")
        parts = []
        if ca:
            parts.append(der.boolean(True))  # DEFAULT FALSE is omitted (X.690 11.5)
        if path_len is not None:
            if not ca:
                raise FormatError("path_len needs ca=True")
            if isinstance(path_len, bool) or not isinstance(path_len, int) or not 0 <= path_len < 0x80000000:
                raise FormatError("path_len must be an int >= 0")
            parts.append(der.integer(path_len))
        value = der.seq(*parts)
        return self._with_ext(OID_BASIC_CONSTRAINTS, _bool(critical, "critical"), value, "basicConstraints")

    def extension(self, oid, value_der, critical=False):
        """Request a raw extension: extnValue is the DER element ``value_der``."""
        o = _oid(oid, "extension OID")
        value = element(value_der, "extension value")
        return self._with_ext(o, _bool(critical, "critical"), value, "extension %s" % der.oid_str(o))

    # -- attributes

    def challenge_password(self, pw):
        """Add the PKCS#9 challengePassword (PrintableString when it fits,
        else UTF8String; at most 255 characters)."""
        check_text(pw, "challenge password")
        if len(pw) > 255:
            raise FormatError("challenge password longer than 255 characters")
        if _is_printable(pw):
            v = der.tlv(der.PRINTABLE_STRING, pw.encode())
        else:
            v = der.utf8(pw)
        return self._attribute(OID_CHALLENGE_PASSWORD, (v,), "challengePassword")

    def attribute(self, oid, *values_der):
        """Add a raw attribute with these DER values (at least one)."""
        o = _oid(oid, "attribute OID")
        if o == OID_EXTENSION_REQUEST:
            raise FormatError("extensionRequest is built from extension(); not a raw attribute")
        if not values_der:
            raise FormatError("attribute needs at least one value")
        vals = tuple([element(v, "attribute value") for v in values_der])
        return self._attribute(o, vals, "attribute %s" % der.oid_str(o))

    def _attribute(self, oid, values, what):
        if self._has_attr(oid):
            raise FormatError("%s already set" % what)
        b = self._copy()
        b._attrs = self._attrs + ((oid, values),)
        return b

    # -- output

    def info_der(self, spki_der):
        """The CertificationRequestInfo DER (the bytes to sign) for this
        SubjectPublicKeyInfo."""
        if self._subject is None:
            raise FormatError("no subject set (use subject([]) for an empty one)")
        empty = self._subject == b"\x30\x00"
        if empty and not self._names:
            raise FormatError("an empty subject needs a subjectAltName (RFC 5280 4.1.2.6)")
        exts = []
        for oid, critical, value in self._exts:
            if value is None:
                value = der.seq(*[der.tlv(n[0], n[1]) for n in self._names])
                critical = empty
            exts.append(extension(oid, critical, value))
        attrs = [der.seq(der.oid(o), der.set_of(*v)) for o, v in self._attrs]
        if exts:
            attrs.append(ext_request(exts))
        return info(self._subject, spki_der, attrs)

    def sign(self, signer):
        """CertificationRequest DER signed by ``signer`` (the signer interface)."""
        return sign(self.info_der(signer.public_key_der()), signer)
