"""Who may enroll at the dev server: users (HTTP Basic, and Digest per RFC 7616
with qop=auth, MD5 and SHA-256), bearer tokens, and TLS client certificates.

Digest nonces live five minutes on the real clock, with strictly increasing nonce
counts; an unknown or expired nonce answers 401 with stale=true. A one-time user is
removed when a certificate is issued to it (``consume``).
"""

import base64
import hashlib
import secrets
import threading
import time

from cryptography import x509

from host_tools.devserver.ca import signed_by
from host_tools.devserver.framing import Response

NONCE_LIFETIME = 300


def parse_params(text):
    """Parameters of an auth header after the scheme: name=token or
    name="quoted \\" string", comma separated."""
    out = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t,":
            i += 1
        j = text.find("=", i)
        if j < 0:
            break
        key = text[i:j].strip().lower()
        i = j + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            val = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                val.append(text[i])
                i += 1
            i += 1
            out[key] = "".join(val)
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            out[key] = text[i:j].strip()
            i = j
    return out


class Accounts:
    """Users, tokens and Digest nonces, checked against the ``habits`` dict it
    shares with the server (auth, auth_failure, realm, enroll_auth)."""

    def __init__(self, habits):
        self.habits = habits
        self._lock = threading.RLock()
        self._users = {}
        self._tokens = set()
        self._nonces = {}

    def add_user(self, name, password, one_time=False):
        with self._lock:
            self._users[name] = (password, one_time)

    def add_token(self, token):
        with self._lock:
            self._tokens.add(token)

    def remove_user(self, name):
        with self._lock:
            self._users.pop(name, None)

    def users(self):
        with self._lock:
            return dict(self._users)

    def consume(self, req):
        """Remove the one-time user a certificate was just issued to, if it
        authenticated by password."""
        with self._lock:
            if req.user and self._users.get(req.user, (None, False))[1] and req.auth_scheme:
                del self._users[req.user]

    def client_cert_from(self, info, issuers):
        """True if the TLS client certificate was signed by one of ``issuers``."""
        der = info.get("cert")
        if not der:
            return False
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return False
        return any(signed_by(cert, i) for i in issuers)

    def challenge(self, stale=False):
        """401 with one WWW-Authenticate per scheme of the auth habit."""
        h = self.habits
        out = []
        for scheme in h["auth"]:
            if scheme == "basic":
                out.append(("WWW-Authenticate", 'Basic realm="%s"' % h["realm"]))
            elif scheme == "bearer":
                out.append(("WWW-Authenticate", 'Bearer realm="%s"' % h["realm"]))
            else:
                nonce = secrets.token_hex(16)
                with self._lock:
                    self._nonces[nonce] = [time.time(), 0]
                alg = "SHA-256" if scheme == "digest-sha256" else "MD5"
                out.append(("WWW-Authenticate",
                            'Digest realm="%s", qop="auth", algorithm=%s, nonce="%s", opaque="%s"%s'
                            % (h["realm"], alg, nonce, secrets.token_hex(8),
                               ", stale=true" if stale else "")))
        return Response(401, b"", headers=out)

    def _refuse(self):
        if self.habits["auth_failure"] == "text":
            return Response(401, b"Unauthorized: wrong user name or password\n", "text/plain", close=True)
        return self.challenge()

    def authenticate(self, req, info, issuers):
        """None if the request may proceed, else the response refusing it;
        ``issuers()`` lists the CAs whose client certificates are accepted."""
        mode = self.habits["enroll_auth"]
        if mode == "none":
            return None
        if mode in ("either", "cert"):
            if self.client_cert_from(info, issuers()):
                req.user = info.get("subject")
                return None
            if mode == "cert":
                return Response(403, b"client certificate required\n", "text/plain")
        authz = req.header("authorization")
        if not authz:
            return self.challenge()
        scheme, _, rest = authz.strip().partition(" ")
        scheme = scheme.lower()
        req.auth_scheme = scheme
        if scheme == "basic" and "basic" in self.habits["auth"]:
            try:
                user, _, pw = base64.b64decode(rest.strip(), validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeError):
                return self._refuse()
            with self._lock:
                entry = self._users.get(user)
            if entry is None or not secrets.compare_digest(entry[0].encode(), pw.encode()):
                return self._refuse()
            req.user = user
            return None
        if scheme == "digest":
            return self._check_digest(req, parse_params(rest))
        if scheme == "bearer" and "bearer" in self.habits["auth"]:
            with self._lock:
                ok = rest.strip() in self._tokens
            if not ok:
                return self._refuse()
            req.user = "bearer"
            return None
        return self._refuse()

    def _check_digest(self, req, p):
        user = p.get("username")
        alg = (p.get("algorithm") or "MD5").upper()
        scheme = {"MD5": "digest-md5", "SHA-256": "digest-sha256"}.get(alg)
        if scheme not in self.habits["auth"]:
            return self._refuse()
        nonce = p.get("nonce", "")
        with self._lock:
            entry = self._users.get(user)
            state = self._nonces.get(nonce)
            if state is not None and time.time() - state[0] > NONCE_LIFETIME:
                del self._nonces[nonce]
                state = None
        if state is None:
            return self.challenge(stale=True)
        if entry is None or p.get("realm") != self.habits["realm"] or p.get("uri") != req.path:
            return self._refuse()

        def H(s):
            f = hashlib.md5 if alg == "MD5" else hashlib.sha256
            return f(s.encode("utf-8")).hexdigest()
        ha1 = H("%s:%s:%s" % (user, self.habits["realm"], entry[0]))
        ha2 = H("%s:%s" % (req.method, p.get("uri")))
        qop = p.get("qop")
        if qop != "auth":
            return self._refuse()
        nc, cnonce = p.get("nc", ""), p.get("cnonce", "")
        try:
            nc_val = int(nc, 16)
        except ValueError:
            return self._refuse()
        expect = H("%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
        if not secrets.compare_digest(expect, p.get("response", "").lower()):
            return self._refuse()
        with self._lock:
            if nc_val <= state[1]:
                return self.challenge(stale=True)
            state[1] = nc_val
        req.user = user
        return None
