"""The rare paths of ``tinyest.client.EstClient``, imported only when one is
taken: an error status or a 202 (``refuse``), a redirect (``redirect``), a 202
waited for (``waiting``, the enrollment calls' ``wait``), proof of possession
(``pop_body``), ``csrattrs`` and a TLS client key that is not DER bytes
(``tls_key``). A device that renews with its certificate loads it only when a
request fails, so it is not in the heap during a TLS handshake.

Limits: at most ``MAX_REDIRECTS`` redirects per operation, all to the same
host and port; at most ``MAX_WAIT_ROUNDS`` retries of a pending request, at
least ``MIN_RETRY_DELAY`` seconds apart whatever Retry-After says.
"""

from tinyest import der, runtime
from tinyest.errors import (AuthError, DERError, FormatError, HttpError, ProtocolError,
                            RetryLater, TlsError)

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


# The texts of tinyest.client's errors, by number (``client._error``)
TEXTS = ("not a PKCS#10 request: %s|bad fingerprint text|a SHA-256 fingerprint has 32 bytes, not %d|"
         "host must be a name or an address, not a URL|bad label %r|"
         "auth must be (user, password); no ':' in the user name|cert and key go together|"
         "%s: too many rounds")

MAX_REDIRECTS = const(3)
MAX_WAIT_ROUNDS = const(100)
MIN_RETRY_DELAY = const(1)  # seconds between pending attempts, whatever Retry-After says


def status_error(resp, what):
    """The AuthError (401, 403) or HttpError for a refused request."""
    from tinyest import http

    msg = "%s: HTTP %d %s" % (what, resp.status, resp.reason)
    snippet = http.text(resp.body[:200]).strip()  # the start of the body, as text
    if snippet:
        msg += ": " + snippet
    if resp.status in (401, 403):
        return AuthError(msg, resp.status, bytes(resp.body[:512]))
    return HttpError(msg, resp.status, bytes(resp.body[:512]))


def refuse(resp, op):
    """Raise for a final answer that is not 200: RetryLater for a 202 to an
    enrollment (Retry-After), else the status error."""
    if resp.status == 202 and op != "cacerts" and op != "csrattrs":
        from tinyest import http  # imported here: a release() between rounds frees it

        raise RetryLater(http.retry_after(resp.header("retry-after"), resp.header("date")))
    raise status_error(resp, op)


def same_origin(cl, loc):
    """The path of a redirect target on the client's host and port, else None."""
    if not loc or loc.startswith("//"):
        return None
    if loc.startswith("/"):
        return loc
    if loc[:8].lower() != "https://":
        return None
    rest = loc[8:]
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    h = ("[" + cl.host + "]" if ":" in cl.host else cl.host).lower()
    ok = [h + ":%d" % cl.port]
    if cl.port == 443:
        ok.append(h)
    return path if hostport.lower() in ok else None


def redirect(cl, resp, op, redirects):
    """The path a 3xx answer sends the request to, after ``redirects`` redirects;
    raises the status error if it is not followed."""
    loc = resp.header("location")
    new = same_origin(cl, loc)
    if new is None or redirects >= MAX_REDIRECTS:
        raise status_error(resp, op + " (redirect to %r not followed)" % loc)
    cl._note("redirect", new)
    return new


def tls_key(key):
    """The TLS client key as DER (or PEM text, decoded at the handshake); checked
    here so that a wrong one is a FormatError now, not a TlsError at the handshake."""
    if hasattr(key, "to_der"):
        key = key.to_der()
    elif hasattr(key, "sign"):
        raise FormatError("key: this signer does not export its key (no to_der()); TLS client "
                          "authentication here needs the key itself")
    if isinstance(key, str):
        return key
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise FormatError("key must be DER or PEM, or a key object with to_der()")
    key = bytes(key)
    if key[:5] == b"-----":
        return key
    try:
        der.top(key)
    except DERError as e:
        raise FormatError("key is not DER: %s" % e)
    return key


def pop_body(csr, spki_of):
    """(body, spki) for a request whose CSR ``csr(challenge_password)`` carries
    the connection's tls-unique (RFC 7030 3.5): ``body(connection) -> DER``
    fills the one-item list ``spki`` with the SPKI of the CSR it made."""
    if runtime.MICROPYTHON:
        raise TlsError("pop=True needs tls-unique, which MicroPython does not expose")
    if not callable(csr):
        raise FormatError("pop=True needs csr as a callable csr(challenge_password) -> DER")
    spki = []

    def body(conn):
        import binascii

        data = csr(binascii.b2a_base64(runtime.channel_binding(conn.sock)).strip().decode())
        spki[:] = [spki_of(data)]
        return data

    return body, spki


def waiting(cl, fn, wait, args=()):
    """fn(*args), called again after each RetryLater while the total stays within
    ``wait`` seconds."""
    t0 = runtime.ticks()
    for _ in range(MAX_WAIT_ROUNDS):
        try:
            return fn(*args)
        except RetryLater as e:
            delay = e.seconds if e.seconds > MIN_RETRY_DELAY else MIN_RETRY_DELAY
            left = wait - runtime.elapsed(t0)
            if delay > left:
                raise
            cl._note("retry", "%d s" % delay)
            runtime.sleep(delay)
    raise ProtocolError("still pending after %d attempts" % MAX_WAIT_ROUNDS)


def csrattrs(cl):
    """``EstClient.csrattrs``: the server's CSR attributes (``CsrAttrs``; empty
    on 204 or 404)."""
    from tinyest.csrattrs import CsrAttrs

    resp = cl._exchange("GET", "csrattrs")
    if resp.status in (204, 404):
        return CsrAttrs()
    if resp.status != 200:
        raise status_error(resp, "csrattrs")
    for c in resp.body:
        if c not in b" \t\r\n\x00":
            return CsrAttrs(cl._b64(resp, "csrattrs"))
    return CsrAttrs()
