"""The less common pieces of ``tinyest.csr.CsrBuilder``, imported on first use.

A device's first request needs a subject and DNS names (``tinyest.csr``); the
builder methods ``ip``, ``uri``, ``email``, ``key_usage``, ``ext_key_usage`` and
``basic_constraints`` call the functions here (each takes the builder first and
returns the new builder), and ``csr.ip_bytes``/``csr.ip_text`` resolve here.
Checks and limits are those stated in ``tinyest.csr``: IPv4 dotted quads, IPv6
text (RFC 4291 2.2, '::' and an embedded IPv4 tail, no zone ids) written back
in the RFC 5952 form; URIs with an RFC 3986 scheme and no excluded characters;
dot-atom e-mail addresses; the seven keyUsage bits up to cRLSign; named or
dotted extKeyUsage purposes; basicConstraints with a pathLenConstraint below
2**31. Errors: FormatError. Side channels: nothing here handles secrets.
"""

from tinyest import der
from tinyest.csr import (_DIGITS, _GN_EMAIL, _GN_URI, OID_BASIC_CONSTRAINTS,
                         OID_EXT_KEY_USAGE, OID_KEY_USAGE, _ascii, _bool, _hostname,
                         _is_printable, _oid)
from tinyest.errors import FormatError

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

_ATEXT_EXTRA = "!#$%&*^_`{|}~"  # atext (RFC 5322 3.2.3) beyond PrintableString
_URI_EXCLUDED = ' "<>\\^`{|}'  # not allowed anywhere in an RFC 3986 URI
_HEX = "0123456789abcdefABCDEF"


# ---------------------------------------------------------------- IP addresses


def _ipv4(s, text):
    parts = s.split(".")
    if len(parts) != 4:
        raise FormatError("bad IPv4 address %r" % text)
    out = bytearray()
    for p in parts:
        if not 1 <= len(p) <= 3 or (len(p) > 1 and p[0] == "0"):
            raise FormatError("bad IPv4 address %r" % text)
        for ch in p:
            if ch not in _DIGITS:
                raise FormatError("bad IPv4 address %r" % text)
        v = int(p)
        if v > 255:
            raise FormatError("bad IPv4 address %r" % text)
        out.append(v)
    return bytes(out)


def _groups(part, text):
    if not part:
        return []
    out = []
    for g in part.split(":"):
        if not 1 <= len(g) <= 4:
            raise FormatError("bad IPv6 address %r" % text)
        for ch in g:
            if ch not in _HEX:
                raise FormatError("bad IPv6 address %r" % text)
        out.append(int(g, 16))
    return out


def ip_bytes(text):
    """The 4 or 16 octets of an IPv4 dotted-quad or IPv6 (RFC 4291 2.2) text."""
    if not isinstance(text, str):
        raise FormatError("IP address must be a str")
    if ":" not in text:
        return _ipv4(text, text)
    if len(text) > 45:
        raise FormatError("bad IPv6 address %r" % text)
    s = text
    tail = b""
    n = 8
    if "." in s:
        i = s.rfind(":")
        tail = _ipv4(s[i + 1:], text)
        s = s[:i + 1]
        if not s.endswith("::"):
            s = s[:-1]
        n = 6
    halves = s.split("::")
    if len(halves) > 2:
        raise FormatError("bad IPv6 address %r" % text)
    if len(halves) == 2:
        a = _groups(halves[0], text)
        b = _groups(halves[1], text)
        if len(a) + len(b) > n - 1:
            raise FormatError("bad IPv6 address %r" % text)
        g = a + [0] * (n - len(a) - len(b)) + b
    else:
        g = _groups(s, text)
        if len(g) != n:
            raise FormatError("bad IPv6 address %r" % text)
    out = bytearray()
    for v in g:
        out.append(v >> 8)
        out.append(v & 0xFF)
    return bytes(out) + tail


def ip_text(b):
    """Text of 4 or 16 address octets: dotted quad, or RFC 5952 IPv6 (with
    the dotted tail for IPv4-mapped addresses, RFC 5952 5)."""
    b = bytes(b)
    if len(b) == 4:
        return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])
    if len(b) != 16:
        raise FormatError("IP address of %d octets" % len(b))
    if b[:12] == b"\x00" * 10 + b"\xff\xff":
        return "::ffff:" + ip_text(b[12:])
    g = [(b[i] << 8) | b[i + 1] for i in range(0, 16, 2)]
    best, best_len = -1, 1
    i = 0
    while i < 8:
        if g[i] == 0:
            j = i
            while j < 8 and g[j] == 0:
                j += 1
            if j - i > best_len:
                best, best_len = i, j - i
            i = j
        else:
            i += 1
    hx = ["%x" % v for v in g]
    if best < 0:
        return ":".join(hx)
    return ":".join(hx[:best]) + "::" + ":".join(hx[best + best_len:])


# ---------------------------------------------------------------- builder methods


def uri(builder, u):
    """Add a uniformResourceIdentifier (RFC 3986, with a scheme) to the
    subjectAltName."""
    _ascii(u, "URI")
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
    return builder._san(_GN_URI, u.encode(), u)


def email(builder, addr):
    """Add an rfc822Name to the subjectAltName: a dot-atom local part
    (RFC 5322 3.2.3, no quoted strings) '@' a host name."""
    _ascii(addr, "email address")
    i = addr.find("@")
    local = addr[:i]
    if i < 1 or local[0] == "." or local[-1] == "." or ".." in local:
        raise FormatError("email address %r is not local@domain" % addr)
    for ch in local:
        if not (_is_printable(ch) or ch in _ATEXT_EXTRA) or ch in " (),:":
            raise FormatError("email address %r: bad character %r" % (addr, ch))
    _hostname(addr[i + 1:], "email domain")
    return builder._san(_GN_EMAIL, addr.encode(), local + "@" + addr[i + 1:].lower())


def key_usage(builder, names, critical):
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
    return builder._with_ext(OID_KEY_USAGE, _bool(critical, "critical"), value, "keyUsage")


def ext_key_usage(builder, names_or_oids, critical):
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
    return builder._with_ext(OID_EXT_KEY_USAGE, _bool(critical, "critical"), value, "extKeyUsage")


def basic_constraints(builder, ca, path_len, critical):
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
    return builder._with_ext(OID_BASIC_CONSTRAINTS, _bool(critical, "critical"), value, "basicConstraints")
