"""serverkeygen (RFC 7030 4.4): the multipart/mixed response and its parts.

Loaded only by ``EstClient.serverkeygen``;
``tinyest.http`` resolves ``parse_multipart``, ``part_header``,
``parse_media_type`` and ``MAX_PARTS`` here for older callers.

``parse_media_type`` reads ``type/subtype; a=b; c="d"`` (at most 15
parameters, the first of a repeated name wins). ``parse_multipart`` splits a
``multipart/mixed`` body (RFC 2046) into ``(headers, data)`` parts: headers as
(lower name, value) pairs, data a memoryview into the body; CRLF or LF line
ends, a boundary of 1 to 70 characters, at most ``MAX_PARTS`` parts of at most
``http.MAX_HEADERS`` headers each. ``serverkeygen(client, csr, wait)`` runs the
operation for ``EstClient.serverkeygen``: the key part must be
application/pkcs8 (base64 DER), the certificates a certs-only
application/pkcs7-mime part; an encrypted key (smime-type
server-generated-key) is refused with FormatError.

Errors: ProtocolError for framing, FormatError for unusable content, and what
``EstClient`` raises. Every loop is bounded by the body length or a count.

Side channels: the server-generated private key is handled as plain bytes.
"""

from tinyest import http
from tinyest.errors import EstError, FormatError, ProtocolError

MAX_PARTS = 8


# ---------------------------------------------------------------- media types


def _unquote(s):
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        out = []
        i = 1
        while i < len(s) - 1:
            c = s[i]
            if c == "\\" and i + 1 < len(s) - 1:
                i += 1
                c = s[i]
            out.append(c)
            i += 1
        return "".join(out)
    return s


def parse_media_type(value):
    """``type/subtype; a=b; c="d"`` -> ("type/subtype", {"a": "b", "c": "d"})."""
    parts = _split_outside_quotes(value, ";")
    mtype = parts[0].strip().lower()
    params = {}
    for p in parts[1:16]:
        i = p.find("=")
        if i <= 0:
            continue
        k = p[:i].strip().lower()
        if k not in params:
            params[k] = _unquote(p[i + 1:].strip())
    return mtype, params


def _split_outside_quotes(s, sep):
    out = []
    cur = 0
    q = False
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == '"':
            q = not q
        elif c == "\\" and q:
            i += 1
        elif c == sep and not q:
            out.append(s[cur:i])
            cur = i + 1
        i += 1
    out.append(s[cur:])
    return out


# ---------------------------------------------------------------- multipart


def parse_multipart(content_type, body, max_parts=MAX_PARTS):
    """Parts of a multipart/mixed body as a list of (headers, data): headers
    as (lower name, value) pairs, data a memoryview into ``body``."""
    mtype, params = parse_media_type(content_type)
    if mtype != "multipart/mixed":
        raise ProtocolError("expected multipart/mixed, got %r" % mtype[:40])
    b = params.get("boundary", "")
    if not 1 <= len(b) <= 70:
        raise ProtocolError("bad multipart boundary")
    delim = b"--" + b.encode()
    if not isinstance(body, (bytes, bytearray)):
        body = bytes(body)
    mv = memoryview(body)
    n = len(body)
    pos = 0
    # The first delimiter: at the start or after a line end.
    while True:
        pos = body.find(delim, pos)
        if pos < 0:
            raise ProtocolError("multipart boundary not found")
        if pos == 0 or body[pos - 1] == 0x0A:
            break
        pos += 1
    parts = []
    while True:
        p = pos + len(delim)
        if body[p:p + 2] == b"--":
            return parts
        while p < n and body[p] in b" \t":
            p += 1
        if body[p:p + 2] == b"\r\n":
            p += 2
        elif body[p:p + 1] == b"\n":
            p += 1
        else:
            raise ProtocolError("bad multipart delimiter line")
        if len(parts) >= max_parts:
            raise ProtocolError("more than %d multipart parts" % max_parts)
        nxt = p
        while True:
            nxt = body.find(b"\n" + delim, nxt)
            if nxt < 0:
                raise ProtocolError("unterminated multipart body")
            after = body[nxt + 1 + len(delim):nxt + 3 + len(delim)]
            if after[:2] == b"--" or after[:1] in (b"\r", b"\n", b" ", b"\t"):
                break
            nxt += 1
        end = nxt - 1 if nxt > p and body[nxt - 1] == 0x0D else nxt
        headers, start = _part_headers(body, p, end)
        parts.append((headers, mv[start:end]))
        pos = nxt + 1


def _part_headers(body, p, end):
    headers = []
    for _ in range(http.MAX_HEADERS):
        i = body.find(b"\n", p, end)
        if i < 0:
            if p >= end:  # a part with headers and no blank line
                return headers, end
            line = body[p:end]
            nxt = end
        else:
            line = body[p:i]
            nxt = i + 1
        if line[-1:] == b"\r":
            line = line[:-1]
        if not line:
            return headers, nxt
        j = line.find(b":")
        if j <= 0:
            raise ProtocolError("bad multipart header %r" % bytes(line[:40]))
        headers.append((http.text(line[:j]).strip().lower(), http.text(line[j + 1:]).strip()))
        p = nxt
        if i < 0:
            return headers, end
    raise ProtocolError("too many multipart headers")


def part_header(headers, name):
    for k, v in headers:
        if k == name:
            return v
    return None


# ---------------------------------------------------------------- the operation


def serverkeygen(client, csr, wait):
    """(private key DER, certificates) for ``EstClient.serverkeygen``."""

    def once():
        from tinyest import pkcs7

        resp, _ = client._post("serverkeygen", csr, False)
        parts = parse_multipart(resp.header("content-type", ""), resp.body)
        key_der = None
        certs = None
        for headers, data in parts:
            mtype, params = parse_media_type(part_header(headers, "content-type") or "")
            smime = params.get("smime-type", "").lower()
            if mtype == "application/pkcs8":
                key_der = http.b64decode_body(data)
            elif mtype == "application/pkcs7-mime" and smime == "server-generated-key":
                raise FormatError("serverkeygen: encrypted key delivery is not supported")
            elif mtype == "application/pkcs7-mime":
                certs = [bytes(c) for c in pkcs7.certificates(http.b64decode_body(data))]
        parts = resp = None
        return server_key(client, key_der, certs, "serverkeygen")

    return client._waiting(once, wait)


def server_key(cl, key_der, certs, what):
    """(key DER, certificates) of a server-generated key's answer (``what``
    names the operation in errors): both parts there, the key readable, the
    certificates issued for it and checked by ``issued.verify``; the answer of
    EST over CoAP (``coap_formats``) too."""
    if key_der is None or certs is None:
        raise ProtocolError("%s: the key or the certificate part is missing" % what)
    from tinyest import issued, keys

    try:
        spki = keys.load_private(key_der).public_key_der()
    except EstError as e:
        raise FormatError("%s: unusable private key: %s" % (what, e))
    return key_der, issued.verify(cl, certs, bytes(spki), "serverkeygen")
