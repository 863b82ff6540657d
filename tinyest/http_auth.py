"""HTTP authentication for EST clients (RFC 7235, RFC 7617, RFC 7616).

Loaded only when a server answers 401 to a client holding a password
(``EstClient(auth=...)``); a device that renews with its TLS client certificate
never imports it.

``parse_challenges`` reads WWW-Authenticate values (several challenges per
value, quoted strings with escapes, token68) into a list of (scheme in lower
case, params dict with lower-case names and unquoted values, token68 or None).
``choose_challenge`` prefers Digest SHA-256, then Digest MD5 (plain or -sess,
qop=auth or none), then Basic. ``digest_authorization`` answers a Digest
challenge (RFC 7616 3.4; ``userhash`` supported, ``auth-int`` not);
``basic_authorization`` builds the Basic credentials. For ``EstClient``:
``answer`` picks the challenge a 401 asks for, ``authorization`` the header
value that answers it.

Limits: values of at most ``http.MAX_LINE`` characters, at most 16 challenges;
every loop consumes at least one character per round. Errors: ProtocolError.

Side channels: passwords are only hashed (Digest) or base64-encoded (Basic);
nothing is constant-time, and nothing needs to be: no secret is compared.
"""

import binascii

from tinyest.errors import ProtocolError
from tinyest.http import MAX_LINE, TCHAR


def _span(s, i, chars):
    # The index of the first character at or after i that is not in chars.
    n = len(s)
    while i < n and s[i] in chars:
        i += 1
    return i


def parse_challenges(values):
    """WWW-Authenticate values -> list of (scheme lower, params dict, token68).
    Parameter names are lower-cased; values unquoted."""
    out = []
    for s in values:
        if len(s) > MAX_LINE:
            raise ProtocolError("WWW-Authenticate too long")
        n = len(s)
        i = 0
        cur = None
        for _ in range(n + 1):  # every round consumes at least one character
            i = _span(s, i, " \t,")
            if i >= n:
                break
            j = _span(s, i, TCHAR)
            if j == i:
                raise ProtocolError("bad WWW-Authenticate at %d: %r" % (i, s[i:i + 20]))
            tok = s[i:j].lower()
            k = _span(s, j, " \t")
            if cur is not None and s[k:k + 1] == "=":  # auth-param
                k = _span(s, k + 1, " \t")
                if s[k:k + 1] == '"':  # quoted-string, with backslash escapes
                    val = ""
                    k += 1
                    while k < n and s[k] != '"':
                        if s[k] == "\\":
                            k += 1
                        val += s[k:k + 1]
                        k += 1
                    if k >= n:
                        raise ProtocolError("unterminated quoted string in WWW-Authenticate")
                    i = k + 1
                else:
                    i = _span(s, k, TCHAR)
                    val = s[k:i]
                if tok not in cur[1]:
                    cur[1][tok] = val
                i = _span(s, i, " \t")
                if i < n and s[i] != ",":
                    raise ProtocolError("bad WWW-Authenticate at %d: %r" % (i, s[i:i + 20]))
                continue
            cur = (tok, {}, None)
            i = k
            if i < n and s[i] != "," and j < i:
                # token68 (RFC 7235 2.1): stands alone, up to a comma or the end
                j = _span(s, i, TCHAR[15:] + "-._~+/")
                e = _span(s, j, "=")
                k = _span(s, e, " \t")
                if j > i and s[k:k + 1] in ("", ","):
                    cur = (tok, cur[1], s[i:e])
                    i = e
            out.append(cur)
            if len(out) > 16:
                raise ProtocolError("too many WWW-Authenticate challenges")
    return out


def _alg(params):
    # (hash constructor or None, hashlib name, -sess) of a Digest challenge
    import hashlib

    a = params.get("algorithm", "MD5").upper()
    sess = a.endswith("-SESS")
    if sess:
        a = a[:-5]
    name = "md5" if a == "MD5" else "sha256" if a == "SHA-256" else "-"
    return getattr(hashlib, name, None), name, sess


def _auth(qop):
    # Whether "auth" is one of the qop tokens
    for q in qop.split(","):
        if q.strip().lower() == "auth":
            return True
    return False


def choose_challenge(challenges):
    """The best challenge we can answer: (scheme, params) or None."""
    best = None
    rank = 0
    for scheme, params, _ in challenges:
        r = 0
        if scheme == "digest":
            h, name, _s = _alg(params)
            if h and _auth(params.get("qop", "auth")) and "nonce" in params and "realm" in params:
                r = 3 if name == "sha256" else 2
        elif scheme == "basic":
            r = 1
        if r > rank:
            best = (scheme, params)
            rank = r
    return best


def _hex(h, text):
    return binascii.hexlify(h(text.encode()).digest()).decode()


def _q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def basic_authorization(user, password):
    return "Basic " + binascii.b2a_base64((user + ":" + password).encode()).decode().strip()


def digest_authorization(params, user, password, method, uri, cnonce, nc=1):
    """The Authorization value answering a Digest challenge (RFC 7616 3.4)."""
    alg = params.get("algorithm", "MD5")
    h, _n, sess = _alg(params)
    if h is None:
        raise ProtocolError("unsupported Digest algorithm %r" % alg[:20])
    realm = params.get("realm", "")
    nonce = params.get("nonce", "")
    qop = params.get("qop", "")
    auth = _auth(qop)
    if qop.strip(", \t") and not auth:
        raise ProtocolError("Digest challenge without qop=auth")
    ha1 = _hex(h, user + ":" + realm + ":" + password)
    if sess:
        ha1 = _hex(h, ha1 + ":" + nonce + ":" + cnonce)
    ha2 = _hex(h, method + ":" + uri)
    ncs = "%08x" % nc
    resp = _hex(h, ha1 + ":" + nonce + ":" + (ncs + ":" + cnonce + ":auth:" if auth else "") + ha2)
    userhash = params.get("userhash", "").lower() == "true"
    out = "Digest username=%s, realm=%s, nonce=%s, uri=%s, algorithm=%s, response=%s" % (
        _q(_hex(h, user + ":" + realm) if userhash else user), _q(realm), _q(nonce), _q(uri), alg,
        _q(resp))
    if auth:
        out += ", qop=auth, nc=" + ncs + ", cnonce=" + _q(cnonce)
    if "opaque" in params:
        out += ", opaque=" + _q(params["opaque"])
    if userhash:
        out += ", userhash=true"
    return out


def answer(cl, resp, op, chosen):
    """(challenge, stale) an ``EstClient`` answers after the 401 ``resp`` to
    ``op``; ``chosen`` is the challenge it answered before, or None. Refused
    credentials earn another try only for a stale Digest nonce (then ``stale``
    is True); otherwise, or with no usable challenge, raises the AuthError."""
    ch = parse_challenges(resp.header_all("www-authenticate"))
    stale = False
    if chosen is not None:
        for c in ch:
            if c[0] == "digest" and c[1].get("stale", "").lower() == "true":
                stale = True
        if not stale:
            from tinyest import client_rare

            raise client_rare.status_error(resp, op)
    chosen = choose_challenge(ch)
    if chosen is None:
        from tinyest import client_rare

        raise client_rare.status_error(resp, op + " (no usable authentication challenge)")
    cl._note("auth", chosen[0])
    return chosen, stale


def authorization(cl, challenge, method, path, nc):
    """The Authorization value for ``challenge`` with ``cl.auth`` (user, password)."""
    from tinyest import runtime

    scheme, params = challenge
    user, password = cl.auth
    if scheme == "basic":
        return basic_authorization(user, password)
    cnonce = binascii.hexlify(runtime.random_bytes(16)).decode()
    return digest_authorization(params, user, password, method, path, cnonce, nc)
