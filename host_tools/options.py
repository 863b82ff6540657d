"""Values of command-line options shared by the host commands: the EST server URL
(https://, or coaps:// for EST over CoAP), a SHA-256 fingerprint, a subject name.
A bad value is a UsageError (exit 1)."""

import binascii

EST_PATH = "/.well-known/est"
DEFAULT_PORT = 443
COAPS_PORT = 5684  # EST over CoAP and DTLS (RFC 9148)


class UsageError(Exception):
    """Bad command-line use (exit 1)."""


def parse_server(url, label=None):
    """(host, port, label) from ``https://host[:port][/.well-known/est[/LABEL]]``
    (the scheme may be left out; IPv6 addresses in brackets)."""
    scheme, host, port, label = parse_url(url, label)
    if scheme != "https":
        raise UsageError("EST needs https here, not %s" % scheme)
    return host, port, label


def parse_url(url, label=None):
    """(scheme, host, port, label) of an EST server URL: ``parse_server``'s for
    https; for ``coaps://host[:port][/PATH]`` (EST over CoAP, RFC 9148; port
    5684) the label is the path of the EST resources, a ``label`` appended to
    it (to /.well-known/est when the URL has none), or None: the well-known path."""
    if not url:
        raise UsageError("no server: give --server URL or set TINYEST_SERVER")
    scheme, rest = "https", url
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        scheme = scheme.lower()
        if scheme not in ("https", "coaps"):
            raise UsageError("EST needs https or coaps, not %s" % scheme)
    hostport, slash, path = rest.partition("/")
    path = (slash + path).rstrip("/")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise UsageError("bad IPv6 address in %r" % url)
        host, tail = hostport[1:end], hostport[end + 1:]
    else:
        host, sep, tail = hostport.partition(":")
        tail = sep + tail
    port = COAPS_PORT if scheme == "coaps" else DEFAULT_PORT
    if tail:
        if not tail.startswith(":") or not tail[1:].isdigit() or not 0 < int(tail[1:]) < 65536:
            raise UsageError("bad port in %r" % url)
        port = int(tail[1:])
    if not host:
        raise UsageError("no host in %r" % url)
    if scheme == "coaps":
        if label:
            path = (path or EST_PATH) + "/" + label
        return scheme, host, port, path or None
    url_label = None
    if path:
        if path == EST_PATH:
            pass
        elif path.startswith(EST_PATH + "/") and "/" not in path[len(EST_PATH) + 1:]:
            url_label = path[len(EST_PATH) + 1:]
        else:
            raise UsageError("the URL path must be %s or %s/LABEL, not %s" % (EST_PATH, EST_PATH, path))
    if url_label and label and url_label != label:
        raise UsageError("--label %s contradicts the label %s in the URL" % (label, url_label))
    return scheme, host, port, label or url_label


def parse_fingerprint(text):
    h = text.replace(":", "").replace(" ", "").lower()
    if h.startswith("sha256/"):
        h = h[7:]
    try:
        fp = binascii.unhexlify(h)
    except (binascii.Error, ValueError):
        raise UsageError("--fingerprint must be hexadecimal SHA-256")
    if len(fp) != 32:
        raise UsageError("--fingerprint must be a SHA-256 (64 hex digits)")
    return fp


def parse_subject(text):
    """``CN=dev,O=Example`` (RFC 4514, most specific first; ``tinyest.names``) or
    ``/O=Example/CN=dev`` (openssl order) -> [(attr, value)] in DER order."""
    from tinyest import names
    from tinyest.errors import EstError

    if text is None or text == "":
        return []
    if not text.startswith("/"):
        try:
            return [(k, v.strip()) for k, v in names.parse(text)]
        except EstError as e:
            raise UsageError("bad subject %r: %s" % (text, e))
    out = []
    for p in text[1:].split("/"):
        k, eq, v = p.partition("=")
        if not eq or not k.strip():
            raise UsageError("bad subject component %r (want NAME=value)" % p)
        out.append((k.strip(), v.strip()))
    return out
