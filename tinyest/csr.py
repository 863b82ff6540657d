"""PKCS#10 certification requests (RFC 2986): the builder.

Building
    ``CsrBuilder`` is an immutable fluent builder: every method returns a new
    builder, checks its argument at once and refuses a second subject or a
    second request for the same extension or attribute::

        der = (CsrBuilder()
               .subject([("O", "Example"), ("CN", "device-0042")])
               .dns("device-0042.example.com")
               .key_usage("digitalSignature")
               .ext_key_usage("clientAuth")
               .sign(key))

    The request holds: version 0, the subject Name, the signer's
    SubjectPublicKeyInfo, and ``attributes [0]`` (DER-sorted, X.690 11.6) with
    a challengePassword and an extensionRequest (PKCS#9) carrying the
    subjectAltName (critical exactly when the subject is empty, RFC 5280
    4.2.1.6) and every other requested extension, in the order requested.
    ``sign(signer)`` takes any object with ``public_key_der()``,
    ``algorithm_der()`` and ``sign(data)``; a secure element that signs
    elsewhere uses ``info_der(spki_der)`` and ``assemble(info, alg, sig)``.

    Supported subset: subject attributes CN, O, OU, C, L, ST, serialNumber,
    emailAddress, UID, DC, street, title, GN, SN or any dotted OID (names
    match case-insensitively; C and serialNumber become PrintableString,
    emailAddress and DC IA5String, the rest UTF8String); multi-valued RDNs;
    SAN dNSName, iPAddress (IPv4, IPv6 text with '::' and embedded IPv4, no
    zone ids), URI and rfc822Name; keyUsage (the seven bits up to cRLSign),
    extKeyUsage, basicConstraints, raw extensions and raw attributes.
    Checks: values within RFC 5280 upper bounds, no control characters
    anywhere; C is two upper-case letters; DNS names are LDH labels of at most
    63 characters (A-labels, no Unicode, no trailing dot; a leading '*' label
    allowed); e-mail addresses are a dot-atom '@' a host name (no quoted local
    parts); URIs need an RFC 3986 scheme and no excluded characters.

Loaded on first use (``csr.NAME`` still resolves these names)
    ``tinyest.csr_ext``: the builder's ``ip``, ``uri``, ``email``,
    ``key_usage``, ``ext_key_usage`` and ``basic_constraints`` and
    ``ip_bytes``/``ip_text``; ``tinyest.csr_read``: the reader ``parse(der)``
    -> ``Csr``, and ``MAX_CSR``. A device's first request (subject, DNS names)
    and its renewals (``assemble``) need neither.

Errors: the builder raises ``FormatError`` for a bad or repeated argument
(``DERError`` for raw DER that does not parse). Nothing else escapes.
"""

from tinyest import der
from tinyest.errors import DERError, FormatError

# Pre-encoded OID contents.
OID_CHALLENGE_PASSWORD = b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x07"  # 1.2.840.113549.1.9.7
OID_EXTENSION_REQUEST = b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0e"  # 1.2.840.113549.1.9.14
OID_SAN = b"\x55\x1d\x11"  # 2.5.29.17
OID_KEY_USAGE = b"\x55\x1d\x0f"  # 2.5.29.15
OID_BASIC_CONSTRAINTS = b"\x55\x1d\x13"  # 2.5.29.19
OID_EXT_KEY_USAGE = b"\x55\x1d\x25"  # 2.5.29.37

_PS = 0  # PrintableString
_IA5 = 1
_UTF8 = 2

# (name, OID contents, encoding, upper bound in characters; RFC 5280 App. A)
_ATTRS = (
    ("CN", b"\x55\x04\x03", _UTF8, 64),
    ("SN", b"\x55\x04\x04", _UTF8, 32768),
    ("serialNumber", b"\x55\x04\x05", _PS, 64),
    ("C", b"\x55\x04\x06", _PS, 2),
    ("L", b"\x55\x04\x07", _UTF8, 128),
    ("ST", b"\x55\x04\x08", _UTF8, 128),
    ("street", b"\x55\x04\x09", _UTF8, 128),
    ("O", b"\x55\x04\x0a", _UTF8, 64),
    ("OU", b"\x55\x04\x0b", _UTF8, 64),
    ("title", b"\x55\x04\x0c", _UTF8, 64),
    ("GN", b"\x55\x04\x2a", _UTF8, 32768),
    ("emailAddress", b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01", _IA5, 255),
    ("UID", b"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x01", _UTF8, 256),
    ("DC", b"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19", _IA5, 63),
)
_MAX_OTHER = 256  # characters in a value of an attribute given by OID

# GeneralName tags (RFC 5280 4.2.1.6, IMPLICIT)
_GN_EMAIL = 0x81
_GN_DNS = 0x82
_GN_URI = 0x86
_GN_IP = 0x87

_PRINTABLE_EXTRA = " '()+,-./:=?"
_DIGITS = "0123456789"


# ---------------------------------------------------------------- checks


def _str(x, what):
    if not isinstance(x, str):
        raise FormatError("%s must be a str, not %s" % (what, type(x).__name__))
    if not x:
        raise FormatError("%s is empty" % what)
    for ch in x:
        o = ord(ch)
        if o < 0x20 or o == 0x7F:
            raise FormatError("%s %r holds a control character" % (what, x))
        if 0xD800 <= o < 0xE000:  # CPython str may hold lone surrogates; UTF-8 cannot
            raise FormatError("%s %r holds a surrogate" % (what, x))
    return x


def _ascii(x, what):
    _str(x, what)
    for ch in x:
        if ord(ch) > 0x7E:
            raise FormatError("%s %r is not ASCII" % (what, x))
    return x


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


def _element(x, what):
    """One whole DER element, as bytes."""
    if not isinstance(x, (bytes, bytearray, memoryview)):
        raise FormatError("%s must be DER bytes" % what)
    x = bytes(x)
    r = der.Reader(x)
    r.read_element()
    r.done()
    return x


def _bool(x, what):
    if x is not True and x is not False:
        raise FormatError("%s must be True or False" % what)
    return x


def _hostname(name, what, wildcard=False):
    _ascii(name, what)
    if len(name) > 253:
        raise FormatError("%s %r is longer than 253 characters" % (what, name))
    labels = name.split(".")
    for i, label in enumerate(labels):
        if wildcard and i == 0 and label == "*" and len(labels) > 1:
            continue
        if not 1 <= len(label) <= 63:
            raise FormatError("%s %r has an empty or over-long label" % (what, name))
        if label[0] == "-" or label[-1] == "-":
            raise FormatError("%s %r has a label starting or ending with '-'" % (what, name))
        for ch in label:
            o = ord(ch)
            if not (0x30 <= o <= 0x39 or 0x41 <= o <= 0x5A or 0x61 <= o <= 0x7A or ch == "-"):
                raise FormatError("%s %r: bad character %r" % (what, name, ch))
    return name


# ---------------------------------------------------------------- encoders


def _attr_info(name):
    """(display name, OID contents, encoding, bound) of an attribute name or dotted OID."""
    if not isinstance(name, str) or not name:
        raise FormatError("attribute name must be a non-empty str")
    if name[0] in _DIGITS:
        oid = _oid(name, "attribute OID")
        for entry in _ATTRS:
            if entry[1] == oid:
                return entry
        return name, oid, _UTF8, _MAX_OTHER
    low = name.lower()
    for entry in _ATTRS:
        if entry[0].lower() == low:
            return entry
    raise FormatError("unknown subject attribute %r" % name)


def _atv(pair):
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise FormatError("subject entry %r is not an (attribute, value) pair" % (pair,))
    name, oid, enc, bound = _attr_info(pair[0])
    value = _str(pair[1], name)
    if len(value) > bound:
        raise FormatError("%s %r is longer than %d characters" % (name, value, bound))
    if enc == _PS:
        if not _is_printable(value):
            raise FormatError("%s %r is not a PrintableString" % (name, value))
        if oid == b"\x55\x04\x06":
            if len(value) != 2 or not ("A" <= value[0] <= "Z" and "A" <= value[1] <= "Z"):
                raise FormatError("C %r is not a two-letter upper-case country code" % value)
        v = der.tlv(der.PRINTABLE_STRING, value.encode())
    elif enc == _IA5:
        _ascii(value, name)
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


def _extension(oid, critical, value):
    if critical:
        return der.seq(der.oid(oid), der.boolean(True), der.octet_string(value))
    return der.seq(der.oid(oid), der.octet_string(value))


def _check_spki(spki):
    spki = _element(spki, "SubjectPublicKeyInfo")
    r = der.top(spki)
    alg = r.enter(der.SEQUENCE)
    alg.read_oid()
    r.read_bits()
    r.done()
    return spki


def _check_alg(alg):
    alg = _element(alg, "signature AlgorithmIdentifier")
    der.top(alg).read_oid()
    return alg


def assemble(info, algorithm_der, signature):
    """CertificationRequest DER from a CertificationRequestInfo (``info_der``),
    the signature AlgorithmIdentifier DER and the signature octets."""
    info = _element(info, "CertificationRequestInfo")
    if not isinstance(signature, (bytes, bytearray, memoryview)) or not len(signature):
        raise FormatError("signature must be non-empty bytes")
    return der.seq(info, _check_alg(algorithm_der), der.bit_string(bytes(signature)))


def renewal(cert_der, signer):
    """A re-enrollment request (DER) signed by ``signer`` whose subject and
    subjectAltName extension are those of ``cert_der``, copied byte for byte
    (RFC 7030 4.2.2: servers compare them, string types included)."""
    from tinyest import x509

    cert = x509.Certificate(cert_der)
    attrs = b""
    san = cert.extension(OID_SAN)
    if san is not None:
        ext = _extension(OID_SAN, san[0], bytes(san[1]))
        attrs = der.seq(der.oid(OID_EXTENSION_REQUEST), der.set_of(der.seq(ext)))
    info = der.seq(b"\x02\x01\x00", bytes(cert.subject_der), signer.public_key_der(),
                   der.tlv(0xA0, attrs))
    return assemble(info, signer.algorithm_der(), signer.sign(info))


# ---------------------------------------------------------------- builder


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
        _hostname(name, "DNS name", True)
        return self._san(_GN_DNS, name.encode(), name.lower())

    def ip(self, text):
        """Add an iPAddress (IPv4 or IPv6 text) to the subjectAltName."""
        from tinyest.csr_ext import ip_bytes

        b = ip_bytes(text)
        return self._san(_GN_IP, b, b)

    def uri(self, u):
        """Add a uniformResourceIdentifier (RFC 3986, with a scheme) to the
        subjectAltName."""
        from tinyest import csr_ext

        return csr_ext.uri(self, u)

    def email(self, addr):
        """Add an rfc822Name to the subjectAltName: a dot-atom local part
        (RFC 5322 3.2.3, no quoted strings) '@' a host name."""
        from tinyest import csr_ext

        return csr_ext.email(self, addr)

    # -- other extensions

    def key_usage(self, *names, critical=True):
        """Request keyUsage with these bits (named BIT STRING, X.690 11.2.2)."""
        from tinyest import csr_ext

        return csr_ext.key_usage(self, names, critical)

    def ext_key_usage(self, *names_or_oids, critical=False):
        """Request extKeyUsage with these purposes (names or dotted OIDs), in order."""
        from tinyest import csr_ext

        return csr_ext.ext_key_usage(self, names_or_oids, critical)

    def basic_constraints(self, ca=False, path_len=None, critical=True):
        """Request basicConstraints; ``path_len`` only with ``ca=True``."""
        from tinyest import csr_ext

        return csr_ext.basic_constraints(self, ca, path_len, critical)

    def extension(self, oid, value_der, critical=False):
        """Request a raw extension: extnValue is the DER element ``value_der``."""
        o = _oid(oid, "extension OID")
        value = _element(value_der, "extension value")
        return self._with_ext(o, _bool(critical, "critical"), value, "extension %s" % der.oid_str(o))

    # -- attributes

    def challenge_password(self, pw):
        """Add the PKCS#9 challengePassword (PrintableString when it fits,
        else UTF8String; at most 255 characters)."""
        _str(pw, "challenge password")
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
        vals = tuple([_element(v, "attribute value") for v in values_der])
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
        spki = _check_spki(spki_der)
        exts = []
        for oid, critical, value in self._exts:
            if value is None:
                value = der.seq(*[der.tlv(n[0], n[1]) for n in self._names])
                critical = empty
            exts.append(_extension(oid, critical, value))
        attrs = [der.seq(der.oid(o), der.set_of(*v)) for o, v in self._attrs]
        if exts:
            attrs.append(der.seq(der.oid(OID_EXTENSION_REQUEST), der.set_of(der.seq(*exts))))
        attrs = der.set_of(*attrs)  # DER order; [0] IMPLICIT keeps length and contents
        return der.seq(b"\x02\x01\x00", self._subject, spki, b"\xa0" + attrs[1:])

    tbs = info_der

    def sign(self, signer):
        """CertificationRequest DER signed by ``signer`` (the signer interface)."""
        info = self.info_der(signer.public_key_der())
        return assemble(info, signer.algorithm_der(), signer.sign(info))


def __getattr__(name):
    # The reader and the IP address helpers are imported on first use.
    if name in ("parse", "Csr", "MAX_CSR"):
        from tinyest import csr_read as m
    elif name in ("ip_bytes", "ip_text"):
        from tinyest import csr_ext as m
    else:
        raise AttributeError(name)
    return getattr(m, name)
