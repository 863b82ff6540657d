"""Does a certificate name this host? Imported only where that is asked: the
bootstrap check of a provisional server chain (``tinyest.catrust``) and, on
MicroPython, a verified connection to an IP address (``tinyest.runtime``: its
mbedTLS matches an address as text). The CSR builder reads addresses here too.

``matches(cert, host)``: an IP address literal must equal an iPAddress entry of
the subjectAltName (as octets); a DNS name must equal a dNSName entry (ASCII case
ignored; ``*`` as the whole left-most label of a name of two labels or more stands
for one label; a one-label name such as "localhost" matches only itself). The subject
CN is not consulted. ``ip_octets(text)``: the 4 or 16 octets of an address
literal, else None. No errors escape.
"""


def _quad(s):
    p = s.split(".")
    if len(p) != 4:
        return None
    for x in p:
        if not 0 < len(x) < 4 or (x[0] == "0" and x != "0"):
            return None
        for c in x:
            if c not in "0123456789":
                return None
        if int(x) > 255:
            return None
    return bytes([int(x) for x in p])


def ip_octets(text):
    """The 4 or 16 octets of an IPv4 (dotted decimal) or IPv6 (RFC 4291 2.2:
    ``::`` and a dotted IPv4 tail allowed, no zone) address literal, else None."""
    if ":" not in text:
        return _quad(text)
    tail, n = b"", 8
    if "." in text:
        i = text.rfind(":")
        tail = _quad(text[i + 1:])
        if tail is None:
            return None
        text = text[:i + 1] if text[i - 1:i + 1] == "::" else text[:i]
        n = 6
    halves = text.split("::")
    if len(halves) > 2:
        return None
    groups = []
    for h in halves:
        g = []
        for x in h.split(":") if h else ():
            if not 0 < len(x) < 5:
                return None
            for c in x:
                if c not in "0123456789abcdefABCDEF":
                    return None
            g.append(int(x, 16))
        groups.append(g)
    k = len(groups[0]) + (len(groups[1]) if len(groups) == 2 else 0)
    if (len(groups) == 1 and k != n) or k > n - len(groups) + 1:
        return None
    if len(groups) == 2:
        groups = groups[0] + [0] * (n - k) + groups[1]
    else:
        groups = groups[0]
    out = bytearray()
    for v in groups:
        out.append(v >> 8)
        out.append(v & 0xFF)
    return bytes(out) + tail


def matches(cert, host):
    """True if a subjectAltName entry of ``cert`` (an ``x509.Certificate``) names
    ``host``."""
    ip = ip_octets(host)
    h = host.lower().split(".")
    for kind, v in cert.san or ():
        if ip is not None:
            if kind == "ip" and v == ip:
                return True
        elif kind == "dns":
            n = v.lower().split(".")
            if n == h or (len(h) > 1 and n[0] == "*" and n[1:] == h[1:]):
                return True
    return False
