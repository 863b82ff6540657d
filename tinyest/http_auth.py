"""HTTP authentication for EST clients (RFC 7235, RFC 7617, RFC 7616).

Loaded only when a server answers 401 to a client holding a password
(``EstClient(auth=...)``); a device that renews with its TLS client certificate
never imports it. ``tinyest.http`` resolves the same names for older callers.

``parse_challenges`` reads WWW-Authenticate values (several challenges per
value, quoted strings with escapes, token68) into a list of (scheme in lower
case, params dict with lower-case names and unquoted values, token68 or None).
``choose_challenge`` prefers Digest SHA-256, then Digest MD5 (plain or -sess,
qop=auth or none), then Basic. ``digest_authorization`` answers a Digest
challenge (RFC 7616 3.4; ``userhash`` supported, ``auth-int`` not);
``basic_authorization`` builds the Basic credentials.

Limits: values of at most ``http.MAX_LINE`` characters, at most 16 challenges;
every loop consumes at least one character per round. Errors: ProtocolError.

Side channels: passwords are only hashed (Digest) or base64-encoded (Basic);
nothing is constant-time, and nothing needs to be: no secret is compared.
"""

import binascii

from tinyest.der import alnum
from tinyest.errors import ProtocolError
from tinyest.http import MAX_LINE, is_tchar


def _skip(s, i, chars):
    n = len(s)
    while i < n and s[i] in chars:
        i += 1
    return i


def _token_end(s, i):
    n = len(s)
    while i < n and ord(s[i]) < 0x80 and is_tchar(ord(s[i])):
        i += 1
    return i


def _quoted(s, i):
    # s[i] == '"'; returns (value, index after the closing quote)
    out = []
    i += 1
    n = len(s)
    while i < n:
        c = s[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            i += 1
            if i >= n:
                break
            c = s[i]
        out.append(c)
        i += 1
    raise ProtocolError("unterminated quoted string in WWW-Authenticate")


def _token68_end(s, i):
    # End of a token68 (RFC 7235 2.1) starting at i, or -1 if none stands there
    # alone (followed by the end or a comma).
    n = len(s)
    j = i
    while j < n and (alnum(ord(s[j])) or s[j] in "-._~+/"):
        j += 1
    if j == i:
        return -1
    while j < n and s[j] == "=":
        j += 1
    k = _skip(s, j, " \t")
    if k < n and s[k] != ",":
        return -1
    return j


def parse_challenges(values):
    """WWW-Authenticate values -> list of (scheme lower, params dict, token68).
    Parameter names are lower-cased; values unquoted."""
    out = []
    for s in values:
        if len(s) > MAX_LINE:
            raise ProtocolError("WWW-Authenticate too long")
        i = 0
        n = len(s)
        cur = None
        for _ in range(n + 1):  # every round consumes at least one character
            i = _skip(s, i, " \t,")
            if i >= n:
                break
            j = _token_end(s, i)
            if j == i:
                raise ProtocolError("bad WWW-Authenticate at %d: %r" % (i, s[i:i + 20]))
            tok = s[i:j]
            k = _skip(s, j, " \t")
            if cur is not None and k < n and s[k] == "=":
                k = _skip(s, k + 1, " \t")
                if k < n and s[k] == '"':
                    val, i = _quoted(s, k)
                else:
                    e = _token_end(s, k)
                    val, i = s[k:e], e
                name = tok.lower()
                if name not in cur[1]:
                    cur[1][name] = val
                i = _skip(s, i, " \t")
                if i < n and s[i] != ",":
                    raise ProtocolError("bad WWW-Authenticate at %d: %r" % (i, s[i:i + 20]))
                continue
            cur = (tok.lower(), {}, None)
            i = k
            if i < n and s[i] != "," and j < i:
                e = _token68_end(s, i)
                if e > 0:
                    cur = (cur[0], cur[1], s[i:e])
                    i = e
            out.append(cur)
            if len(out) > 16:
                raise ProtocolError("too many WWW-Authenticate challenges")
    return out


def _hash_name(alg):
    a = alg.upper()
    sess = a.endswith("-SESS")
    if sess:
        a = a[:-5]
    if a == "MD5":
        return "md5", sess
    if a == "SHA-256":
        return "sha256", sess
    return None, sess


def _hasher(name):
    import hashlib

    return getattr(hashlib, name, None)


def choose_challenge(challenges):
    """The best challenge we can answer: (scheme, params) or None."""
    best = None
    rank = 0
    for scheme, params, _ in challenges:
        r = 0
        if scheme == "digest":
            name, _s = _hash_name(params.get("algorithm", "MD5"))
            qop = [q.strip().lower() for q in params.get("qop", "auth").split(",")]
            if name and _hasher(name) and "auth" in qop and "nonce" in params and "realm" in params:
                r = 3 if name == "sha256" else 2
        elif scheme == "basic":
            r = 1
        if r > rank:
            best = (scheme, params)
            rank = r
    return best


def _hex(hname, text):
    return binascii.hexlify(_hasher(hname)(text.encode()).digest()).decode()


def _q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def basic_authorization(user, password):
    raw = (user + ":" + password).encode()
    return "Basic " + binascii.b2a_base64(raw).decode().strip()


def digest_authorization(params, user, password, method, uri, cnonce, nc=1):
    """The Authorization value answering a Digest challenge (RFC 7616 3.4)."""
    alg = params.get("algorithm", "MD5")
    hname, sess = _hash_name(alg)
    if hname is None or _hasher(hname) is None:
        raise ProtocolError("unsupported Digest algorithm %r" % alg[:20])
    realm = params.get("realm", "")
    nonce = params.get("nonce", "")
    qops = [q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()]
    if qops and "auth" not in qops:
        raise ProtocolError("Digest challenge without qop=auth")
    ha1 = _hex(hname, user + ":" + realm + ":" + password)
    if sess:
        ha1 = _hex(hname, ha1 + ":" + nonce + ":" + cnonce)
    ha2 = _hex(hname, method + ":" + uri)
    ncs = "%08x" % nc
    if qops:
        resp = _hex(hname, ":".join((ha1, nonce, ncs, cnonce, "auth", ha2)))
    else:
        resp = _hex(hname, ha1 + ":" + nonce + ":" + ha2)
    name = user
    userhash = params.get("userhash", "").lower() == "true"
    if userhash:
        name = _hex(hname, user + ":" + realm)
    out = [
        "username=" + _q(name),
        "realm=" + _q(realm),
        "nonce=" + _q(nonce),
        "uri=" + _q(uri),
        "algorithm=" + alg,
        "response=" + _q(resp),
    ]
    if qops:
        out.append("qop=auth")
        out.append("nc=" + ncs)
        out.append("cnonce=" + _q(cnonce))
    if "opaque" in params:
        out.append("opaque=" + _q(params["opaque"]))
    if userhash:
        out.append("userhash=true")
    return "Digest " + ", ".join(out)
