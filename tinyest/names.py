"""X.501 names as text: the one attribute table, RFC 4514 rendering and parsing.

Not on a device's path: certificates and requests are checked as DER bytes;
this module turns names into text for people (``x509.Certificate.subject``,
the CSR reader, log lines) and text into names (the CSR builder, the CLI's
``CN=a,O=b``). It also renders IP addresses (``ip_text``).

``ATTRS`` rows: (short name, OID contents, encoding a builder uses, upper bound
in characters from RFC 5280 Appendix A). Names are those of RFC 4514 3 where it
has one (CN, L, ST, O, OU, C, STREET, DC, UID), else the usual ones. Lookups by
name ignore case. Rendering: most specific RDN first, RFC 4514 2.4 escaping,
values that are not character strings as ``#`` and the hex of their DER.
Errors: FormatError (bad text), DERError (bad DER).
"""

from tinyest import der
from tinyest.errors import DERError, FormatError

PRINTABLE = 0
IA5 = 1
UTF8 = 2

ATTRS = (
    ("CN", b"\x55\x04\x03", UTF8, 64),
    ("SN", b"\x55\x04\x04", UTF8, 32768),
    ("serialNumber", b"\x55\x04\x05", PRINTABLE, 64),
    ("C", b"\x55\x04\x06", PRINTABLE, 2),
    ("L", b"\x55\x04\x07", UTF8, 128),
    ("ST", b"\x55\x04\x08", UTF8, 128),
    ("STREET", b"\x55\x04\x09", UTF8, 128),
    ("O", b"\x55\x04\x0a", UTF8, 64),
    ("OU", b"\x55\x04\x0b", UTF8, 64),
    ("title", b"\x55\x04\x0c", UTF8, 64),
    ("GN", b"\x55\x04\x2a", UTF8, 32768),
    ("emailAddress", b"\x2a\x86\x48\x86\xf7\x0d\x01\x09\x01", IA5, 255),
    ("UID", b"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x01", UTF8, 256),
    ("DC", b"\x09\x92\x26\x89\x93\xf2\x2c\x64\x01\x19", IA5, 63),
)
MAX_OTHER = 256  # characters in a value of an attribute given by dotted OID

# The universal string types der.decode_string reads.
STRING_TAGS = (0x0C, 0x12, 0x13, 0x14, 0x16, 0x1A, 0x1C, 0x1E)


def attr_name(oid):
    """Short name of an attribute OID (contents), else its dotted form."""
    oid = bytes(oid)
    for row in ATTRS:
        if row[1] == oid:
            return row[0]
    return der.oid_str(oid)


def attr_info(name):
    """The ``ATTRS`` row of a short name (any case) or dotted OID; an OID not
    in the table gets (name, OID, UTF8, MAX_OTHER)."""
    if not isinstance(name, str) or not name:
        raise FormatError("attribute name must be a non-empty str")
    if "0" <= name[0] <= "9":
        try:
            for ch in name:
                if ch != "." and not "0" <= ch <= "9":
                    raise DERError("")
            oid = der.encode_oid(name)
        except DERError:
            raise FormatError("attribute OID %r is not a dotted OID" % name)
        for row in ATTRS:
            if row[1] == oid:
                return row
        return name, oid, UTF8, MAX_OTHER
    low = name.lower()
    for row in ATTRS:
        if row[0].lower() == low:
            return row
    raise FormatError("unknown subject attribute %r" % name)


def escape(s):
    """RFC 4514 2.4 escaping of an attribute value."""
    out = []
    n = len(s)
    for i in range(n):
        ch = s[i]
        if ch in '\\"+,;<>':
            out.append("\\" + ch)
        elif ch == "\0":
            out.append("\\00")
        elif (i == 0 and ch in "# ") or (i == n - 1 and ch == " "):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _walk(name):
    r = name if isinstance(name, der.Reader) else der.top(name)
    out = []
    while not r.empty():
        at = r.offset()
        s = r.enter(der.SET)
        if s.empty():
            raise DERError("empty RDN", at)
        rdn = []
        while not s.empty():
            a = s.enter(der.SEQUENCE)
            oid = a.read_oid()
            at = a.offset()
            tag, v = a.read_any()
            a.done()
            if tag in STRING_TAGS:
                rdn.append((attr_name(oid), escape(der.decode_string(tag, v, at)),
                            der.decode_string(tag, v, at)))
            else:
                val = "#" + bytes(a.buf[at:a.offset()]).hex()
                rdn.append((attr_name(oid), val, val))
        out.append(rdn)
    return out


def rdns(name):
    """The RDNs of a Name (its DER, or a ``der.Reader`` over its contents), most
    significant first, each a list of (short name, text); a value that is not a
    string is '#' and the hex of its DER. An empty RDN is a DERError."""
    return [[(n, v) for n, _, v in rdn] for rdn in _walk(name)]


def name_text(name_der):
    """RFC 4514 text of a Name element, e.g. ``CN=dev-1,O=Example``."""
    out = ["+".join([n + "=" + t for n, t, _ in rdn]) for rdn in _walk(name_der)]
    out.reverse()
    return ",".join(out)


def parse(text):
    """(attribute, value) pairs, most significant first, from RFC 4514 text
    such as ``CN=dev-1,O=Example`` (backslash escapes of one character or two
    hex digits; no multi-valued RDNs, no '#' values)."""
    if not isinstance(text, str):
        raise FormatError("a name must be text")
    pairs = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("=", i)
        if j <= i:
            raise FormatError("bad name %r: expected NAME=value at %d" % (text, i))
        attr = text[i:j].strip()
        i = j + 1
        val = []
        raw = bytearray()
        while i < n and text[i] != ",":
            ch = text[i]
            if ch == "+":
                raise FormatError("bad name %r: multi-valued RDNs are not supported" % text)
            if ch == "\\":
                if i + 1 >= n:
                    raise FormatError("bad name %r: a '\\' ends it" % text)
                h = text[i + 1:i + 3]
                if len(h) == 2 and _hex2(h) is not None:
                    raw.append(_hex2(h))
                    i += 3
                    continue
                ch = text[i + 1]
                i += 1
            if raw:
                val.append(_utf8(raw, text))
                raw = bytearray()
            val.append(ch)
            i += 1
        if raw:
            val.append(_utf8(raw, text))
        if i < n:
            i += 1
            if i == n:
                raise FormatError("bad name %r: it ends with ','" % text)
        pairs.append((attr_info(attr)[0], "".join(val)))
    pairs.reverse()
    return pairs


def _hex2(h):
    for c in h:
        if c not in "0123456789abcdefABCDEF":
            return None
    return int(h, 16)


def _utf8(b, text):
    try:
        return bytes(b).decode()
    except UnicodeError:
        raise FormatError("bad name %r: escaped octets are not UTF-8" % text)


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
