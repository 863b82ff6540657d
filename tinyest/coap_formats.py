"""The payloads of EST over CoAP (RFC 9148) that are not DER: the CoRE
link-format of resource discovery (RFC 6690) and the multipart-core of
server-side key generation (RFC 8710). Loaded only by what speaks CoAP.

API
    ``links(text)`` -> [(target, {name: value})]: the link-values of a
    ``/.well-known/core`` answer (str or UTF-8 octets); a parameter without a
    value maps to None; a quoted value is unquoted.
    ``est_paths(text)`` -> {short name: path} of the EST resources in it
    (``rt="ace.est.crts"`` and so on: crts, sen, sren, att, skg, skc): a link
    is the resource its type names, wherever its path; but ``ace.est.sen`` on a
    path that does not end in "sen" (RFC 9148 4.1 shows ``</est>;
    rt="ace.est.sen"``) names the EST root, under which every function not
    listed on its own sits as root/short-name.
    ``multipart(data)`` -> [(content-format, octets or None)]: the parts of an
    application/multipart-core body (Content-Format 62).
    ``discover(cl)``, ``serverkeygen(cl, csr)``: ``tinyest.coaps.CoapsClient``'s
    operations of those names, which read these payloads (kept here, off the
    heap of a device that enrolls and renews).

Strictness (a server's answer: checked, bounded)
    link-format: at most ``MAX_LINKS`` links in at most ``MAX_TEXT`` octets;
    targets in angle brackets; parameter names of token characters; quoted
    strings closed; spaces tolerated around ";" and "," (servers write them).
    multipart-core: exactly the CBOR subset RFC 8710 uses: one definite-length
    array of an even number of items, each pair an unsigned integer below 65536
    and a definite-length byte string or null, nothing after it; at most
    ``MAX_PARTS`` parts. Lengths are checked against the data before anything
    is sliced. Anything else is a ProtocolError.
"""

from tinyest import coap
from tinyest.errors import HttpError, ProtocolError

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


MAX_LINKS = const(64)
MAX_TEXT = const(8192)
MAX_PARTS = const(8)
EST_NAMES = ("crts", "sen", "sren", "att", "skg", "skc")
# RFC 7230 token characters, as tinyest.http's (a CoAP device does not load http)
_TOKEN = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def links(text):
    if not isinstance(text, str):
        try:
            text = str(bytes(text), "utf-8")
        except UnicodeError:
            raise ProtocolError("link-format that is not UTF-8")
    if len(text) > MAX_TEXT:
        raise ProtocolError("link-format of %d octets" % len(text))
    out = []
    n = len(text)
    i = _ows(text, 0)
    while i < n:
        if len(out) >= MAX_LINKS:
            raise ProtocolError("more than %d links" % MAX_LINKS)
        if text[i] != "<":
            raise ProtocolError("link at %d does not start with <" % i)
        j = text.find(">", i)
        if j < 0:
            raise ProtocolError("link target at %d not closed" % i)
        target = text[i + 1:j]
        params = {}
        i = _ows(text, j + 1)
        while i < n and text[i] == ";":
            i = _ows(text, i + 1)
            j = i
            while j < n and text[j] in _TOKEN:
                j += 1
            if j == i:
                raise ProtocolError("link parameter at %d has no name" % i)
            name = text[i:j]
            value = None
            i = _ows(text, j)
            if i < n and text[i] == "=":
                i = _ows(text, i + 1)
                if i < n and text[i] == '"':
                    value, i = _quoted(text, i)
                else:
                    j = i
                    while j < n and text[j] not in ",; ":
                        j += 1
                    value = text[i:j]
                    i = j
            if name not in params:  # the first occurrence counts (RFC 8288 3.3)
                params[name] = value
            i = _ows(text, i)
        out.append((target, params))
        if i < n:
            if text[i] != ",":
                raise ProtocolError("unexpected %r at %d in link-format" % (text[i], i))
            i = _ows(text, i + 1)
            if i == n:
                raise ProtocolError("link-format ends with a comma")
    return out


def _ows(text, i):
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _quoted(text, i):
    # (unquoted value, index after the closing quote) of the string starting at i
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            i += 1
            if i == len(text):
                break
            c = text[i]
        out.append(c)
        i += 1
    raise ProtocolError("quoted string not closed in link-format")


def est_paths(text):
    found = {}
    roots = []
    for target, params in links(text):
        for rt in (params.get("rt") or "").split():
            if rt[:8] != "ace.est." or rt[8:] not in EST_NAMES:
                continue
            name = rt[8:]
            if name == "sen" and target.rstrip("/").split("/")[-1] != "sen":
                if target not in roots:  # the EST root (RFC 9148 4.1)
                    roots.append(target)
            else:
                found.setdefault(name, target)
    if roots:
        root = roots[0].rstrip("/")
        for name in EST_NAMES:
            found.setdefault(name, root + "/" + name)
    return found


def _head(data, i, major):
    # (argument, next index) of the CBOR item head at i, which must be of this major type
    if i >= len(data):
        raise ProtocolError("multipart-core ends early")
    b = data[i]
    if b >> 5 != major:
        raise ProtocolError("CBOR major type %d at %d, not %d" % (b >> 5, i, major))
    ai = b & 31
    if ai < 24:
        return ai, i + 1
    if ai > 27:
        raise ProtocolError("CBOR additional information %d at %d" % (ai, i))
    k = 1 << (ai - 24)
    if i + 1 + k > len(data):
        raise ProtocolError("multipart-core ends early")
    return int.from_bytes(data[i + 1:i + 1 + k], "big"), i + 1 + k


def multipart(data):
    data = bytes(data)
    n, i = _head(data, 0, 4)
    if n % 2 or n > 2 * MAX_PARTS:
        raise ProtocolError("multipart-core array of %d items" % n)
    out = []
    for _ in range(n // 2):
        ct, i = _head(data, i, 0)
        if ct > 0xFFFF:
            raise ProtocolError("content-format %d" % ct)
        if i < len(data) and data[i] == 0xF6:  # null: an optional part left out
            out.append((ct, None))
            i += 1
            continue
        size, i = _head(data, i, 2)
        if size > len(data) - i:
            raise ProtocolError("multipart-core part of %d octets runs past the body" % size)
        out.append((ct, data[i:i + size]))
        i += size
    if i != len(data):
        raise ProtocolError("%d octets after the multipart-core array" % (len(data) - i))
    return out


def discover(cl):
    """``CoapsClient.discover``: the EST paths of /.well-known/core, kept in ``cl.paths``."""
    m = cl._endpoint().request(coap.GET, "/.well-known/core")
    c = m.code
    if c >> 5 != 2:
        raise HttpError("discovery: CoAP %d.%02d" % (c >> 5, c & 31), (c >> 5) * 100 + (c & 31))
    cl.paths = est_paths(m.payload)
    return cl.paths


def serverkeygen(cl, csr):
    """``CoapsClient.serverkeygen``: (private key DER, certificates) of skg."""
    _, body = cl._call(coap.POST, "skg", (coap.MULTIPART_CORE,), bytes(csr), coap.PKCS10)
    from tinyest import pkcs7, serverkeygen  # after the DTLS session: not in the heap through it

    key_der = certs = None
    for cf, part in multipart(body):
        if cf == coap.PKCS8 and part is not None:
            key_der = part
        elif cf == coap.PKCS7_CERTS and part is not None:
            certs = [bytes(c) for c in pkcs7.certificates(part)]
        elif cf == coap.PKIX_CERT and part is not None:
            certs = [part]
    return serverkeygen.server_key(cl, key_der, certs, "skg")
