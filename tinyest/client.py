"""EST client (RFC 7030 with RFC 8951): cacerts, csrattrs, simpleenroll,
simplereenroll, serverkeygen.

    client = EstClient("est.example.com", trust=[ta_der], auth=("user", "pw"))
    cas = client.cacerts()
    certs = client.simpleenroll(csr_der)        # issued certificate first

Trust
    Every connection verifies the server against ``trust`` (DER trust anchors;
    the system store only with ``system_trust=True`` on CPython). Responses are
    verified too: /cacerts must hold a certificate that chains to a trust
    anchor (self-signed roots must carry a valid self-signature), and issued
    certificates must chain to the anchors through the response and the
    validated /cacerts certificates. Validity dates are checked against
    ``now`` (seconds since 1970; by default the clock, when it reads a date
    after 2024, else dates are not checked), give or take ``max_skew``
    seconds. The notBefore of the certificate just issued for our key is
    not checked: many CAs start it at the second of issuance, and a device
    clock a little slow must not throw away what the server issued (the
    caller compares it with its clock). One already expired is refused.

Bootstrap (RFC 7030 4.1.1)
    ``cacerts(bootstrap_fingerprint=sha256)`` with no trust anchor opens a
    provisional connection (see ``tinyest.runtime``), sends ``GET /cacerts`` and
    nothing else: no credentials, no client certificate, no redirect. The
    answer is accepted only if a certificate's SHA-256 matches; that
    certificate then becomes the trust anchor of this client, and the
    server's TLS chain captured on the provisional connection is checked
    against it (``bootstrap_server_verified``). With trust anchors given,
    the connection is verified as usual and the fingerprint must match too.

CA rollover (RFC 7030 4.1.3)
    /cacerts certificates that link an old and a new CA key (OldWithNew,
    NewWithOld) and the new self-signed root (NewWithNew) are recognised and
    reported in ``client.rollover`` (a ``rollover.Rollover`` or None;
    ``tinyest.catrust`` is loaded only when /cacerts holds a root of a key
    that is not a trust anchor's).

Authentication
    ``auth=(user, password)`` answers a 401 challenge with Digest (SHA-256
    preferred, MD5) or Basic; it is never sent before a challenge, never on an
    unverified connection. ``token`` is sent as a Bearer token. ``cert`` and
    ``key`` (DER, or a key object with ``to_der()``) authenticate by TLS
    client certificate. After a 401 the same connection is reused when the
    server keeps it open; otherwise each operation uses one connection and
    closes it (``Connection: close`` when no further request is expected).

Retries and redirects
    202 raises ``RetryLater(seconds)``; ``wait=SECONDS`` on the enrollment
    calls sleeps and retries the same request while the total stays within
    ``wait``. 3xx responses are followed only to the same host and port, at
    most ``client_rare.MAX_REDIRECTS`` (3) times, and never on a provisional connection.

Proof of possession (RFC 7030 3.5)
    ``pop=True`` with ``csr`` a callable ``csr(challenge_password) -> DER``:
    the connection is opened (CPython: TLS 1.2 only, since tls-unique is not
    defined for TLS 1.3), the base64 tls-unique value is passed to the
    callable, and the request signed with it is sent on that connection.
    MicroPython exposes no channel binding: ``pop=True`` raises TlsError.

Limits: response bodies of ``max_body`` bytes (default 32768, ``http.MAX_BODY``);
/cacerts answers of ``catrust.MAX_CACERTS`` (16) certificates, all checked within one
budget of ``x509.MAX_SIGS`` signature checks;
at most ``MAX_ROUNDS`` requests per operation, ``client_rare.MAX_WAIT_ROUNDS`` retries of a
pending request, ``CsrAttrs.MAX_ITEMS`` csrattrs items (``tinyest.csrattrs``).
A 202 without a usable Retry-After counts as 60 seconds; retries are at least
``client_rare.MIN_RETRY_DELAY`` (1 s) apart, so ``Retry-After: 0`` cannot turn ``wait`` into
a burst of requests.
Progress is reported through ``progress(stage, detail)`` if given; the library
never prints.

Loaded on first use
    ``tinyest.http_auth`` when a 401 is answered, ``tinyest.client_rare`` for
    an error status, a redirect, a 202 waited for (``wait``), proof of
    possession, ``csrattrs()`` or a TLS client key that is not DER bytes,
    ``tinyest.issued`` once an answer's certificates are checked,
    ``tinyest.csrattrs`` by ``csrattrs()``, ``tinyest.serverkeygen`` by
    ``serverkeygen()``, ``tinyest.proxy`` with ``proxy``: a device that renews
    with its certificate loads none of them before the answer comes.
    ``tinyest.http`` is imported by the functions that use it, so that no
    module-level reference keeps it in the heap once ``release`` let it go.

Memory (MicroPython unix port, x86-64): module code aside, cacerts runs in a
clean heap of about 40 KiB and simpleenroll in about 45 KiB (the TLS session,
then the ECDSA chain check, dominate); tests/e2e/heap_probe.py measures it.

Side channels: the client handles credentials and the server-generated private
key as plain Python objects; nothing here is constant-time.
"""

from tinyest import der, runtime, texts
from tinyest.errors import ConnectError, DERError, EstError, FormatError, ProtocolError

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


MAX_ROUNDS = const(8)

PREFIX = "/.well-known/est/"
_error = texts("client_rare")  # (cls, i, args=()): cls(text i % args)


# ---------------------------------------------------------------- helpers


def csr_spki(csr_der):
    """The SubjectPublicKeyInfo DER of a PKCS#10 request (RFC 2986)."""
    try:
        return der.request_spki(csr_der)
    except EstError as e:
        raise _error(FormatError, 0, e)


def _der_list(items):
    out = []
    for c in items or ():
        if isinstance(c, str) or (len(c) and c[0] != der.SEQUENCE):
            from tinyest import pem

            for b in pem.decode_all(c, "CERTIFICATE"):
                out.append(b[1])
        else:
            out.append(bytes(c))
    return out


# ---------------------------------------------------------------- client


class EstClient:
    """One EST server (``host``, ``port``, optional CA ``label``).

    trust: DER (or PEM) trust anchors; auth: (user, password); token: Bearer
    token; cert, key: TLS client certificate (DER) and its key (DER, PEM or a
    key object with ``to_der()``); timeout: seconds per socket operation;
    deadline: seconds for a whole response (default 4 x timeout); proxy:
    "host:port" of an HTTP CONNECT proxy; max_body: response cap in bytes;
    progress: ``progress(stage, detail)``; now: seconds since 1970 for
    validity checks (None: the clock if set, False: no date checks);
    max_skew: seconds a validity date may be off the clock (default 300);
    system_trust: also trust the system store (CPython only).

    After ``cacerts()``: ``ca_certs`` (validated DER list), ``ca_anchors``
    (fingerprint-matched anchors), ``rollover``, ``bootstrap_server_verified``.
    After any response on a verified connection that carried a readable Date
    header: ``date`` = (its seconds since 1970, ``runtime.ticks()`` on arrival).
    """

    def __init__(self, host, port=443, label=None, trust=None, auth=None, token=None, cert=None,
                 key=None, timeout=30, proxy=None, max_body=32768, progress=None,
                 now=None, system_trust=False, deadline=None, max_skew=300, release=None):
        if not host or "/" in host:
            raise _error(FormatError, 3)
        if label is not None and (not label or "/" in label or "?" in label or " " in label):
            raise _error(FormatError, 4, (label,))
        if auth is not None and (len(auth) != 2 or ":" in auth[0]):
            raise _error(FormatError, 5)
        if (cert is None) != (key is None):
            raise _error(FormatError, 6)
        if key is not None:
            # DER bytes (a stored key) are checked here; anything else (PEM, a
            # key object, a bytearray) by client_rare: a wrong key is a
            # FormatError now, not a TlsError at the handshake.
            try:
                der.top(key if type(key) is bytes else b"")
            except DERError:
                from tinyest import client_rare

                key = client_rare.tls_key(key)
        self.host = host[1:-1] if host[:1] == "[" and host[-1:] == "]" else host
        self.port = int(port)
        self.label = label
        self.trust = _der_list(trust)
        self.auth = auth
        self.token = token
        self.cert = _der_list([cert])[0] if cert is not None else None
        self.key = key
        self.timeout = timeout
        self.proxy = proxy
        self.max_body = max_body
        self.progress = progress
        self.now = now
        self.system_trust = system_trust
        self.deadline = deadline
        self.max_skew = max_skew
        self.release = release
        self.ca_certs = []
        self.ca_anchors = []
        self.rollover = None
        self._chain = None
        self.bootstrap_server_verified = None
        self.date = None

    # -- plumbing

    def _note(self, stage, detail=""):
        if self.progress is not None:
            self.progress(stage, detail)

    def _path(self, op):
        return PREFIX + (self.label + "/" if self.label else "") + op

    def _exchange(self, method, op, body=None, bootstrap=False, pop=False):
        """Send one EST request, answering a 401 and following redirects;
        returns the final response (the connection is closed) if its status is
        200 (any status for csrattrs), else raises its error (RetryLater for a
        202 to a POST). ``body`` is the request's DER (sent in base64) or a
        callable ``body(connection) -> DER``."""
        from tinyest import http

        path = self._path(op)
        conn = chosen = None  # chosen: the challenge answered, (scheme, params)
        reused = reopened = stale_retry = False
        nc = redirects = 0
        try:
            for _ in range(MAX_ROUNDS):
                if conn is None:
                    self._note("connect", "%s:%d" % (self.host, self.port))
                    if bootstrap:
                        conn = http.Connection(self.host, self.port, (), None, None, self.timeout,
                                               self.proxy, True, False, False, self.deadline)
                    else:
                        conn = http.Connection(self.host, self.port, self.trust, self.cert,
                                               self.key, self.timeout, self.proxy, False, pop,
                                               self.system_trust, self.deadline)
                    reused = False
                    data = body(conn) if callable(body) else body
                    if data is not None:
                        data = http.b64encode_lines(data)
                headers = [("User-Agent", http.USER_AGENT)]
                if data is not None:
                    headers.append(("Content-Type", "application/pkcs10"))
                    headers.append(("Content-Transfer-Encoding", "base64"))
                if not bootstrap:
                    if chosen is not None:
                        from tinyest import http_auth

                        nc += 1
                        headers.append(("Authorization",
                                        http_auth.authorization(self, chosen, method, path, nc)))
                    elif self.token is not None:
                        headers.append(("Authorization", "Bearer " + self.token))
                if bootstrap or self.auth is None or chosen is not None:
                    headers.append(("Connection", "close"))  # no further request expected
                self._note("request", method + " " + path)
                try:
                    resp = conn.request(method, path, headers, data, self.max_body)
                except (ConnectError, ProtocolError):
                    # A kept-alive connection the server closed meanwhile: once more.
                    if not reused or reopened or not (conn.peer_closed or conn.send_failed):
                        raise
                    reopened = True
                    conn.close()
                    conn = None
                    continue
                reused = True
                self._note("response", "%d %s" % (resp.status, resp.reason))
                st = resp.status
                if st == 401 and not bootstrap and self.auth is not None and not stale_retry:
                    from tinyest import http_auth

                    chosen, stale_retry = http_auth.answer(self, resp, op, chosen)
                    nc = 0
                elif st in (301, 302, 303, 307, 308) and not bootstrap:
                    from tinyest import client_rare

                    path = client_rare.redirect(self, resp, op, redirects)
                    redirects += 1
                    if st == 303:
                        method, body, data = "GET", None, None
                else:
                    if bootstrap:
                        self._chain = conn.chain
                    else:
                        d = http.parse_http_date(resp.header("date"))
                        if d is not None:
                            self.date = (d, runtime.ticks())
                    if st != 200 and op != "csrattrs":
                        from tinyest import client_rare

                        client_rare.refuse(resp, op)
                    return resp
                if not resp.keep_alive:
                    conn.close()
                    conn = None
            raise _error(ProtocolError, 7, op)
        finally:
            if conn is not None:
                conn.close()

    def _b64(self, resp, what):
        # The answer's DER. The connection is closed by now: ``release()`` may
        # free the transport before the answer is checked.
        from tinyest import http

        try:
            data = http.b64decode_body(resp.body)
        except ProtocolError as e:
            raise ProtocolError("%s: %s" % (what, e))
        http = resp = None
        if self.release is not None:
            self.release()
        return data

    def accept_issued(self, certs, csr, op="simpleenroll"):
        """Certificates (DER list) the server issued for ``csr`` (DER), checked as
        an enrollment answer is, the issued one first: what a caller kept from an
        answer that did not verify then (``VerifyError.issued``) is finished here."""
        return self._verify_issued(certs, csr_spki(csr), op)

    def _verify_issued(self, certs, spki, op):
        """Order certs (DER list) with the one holding ``spki`` first and check
        that it chains to the trust anchors (``tinyest.issued``)."""
        from tinyest import issued

        return issued.verify(self, certs, spki, op)

    # -- operations

    def cacerts(self, bootstrap_fingerprint=None):
        """The CA certificates (DER list) that chain to the trust anchors."""
        fp = bootstrap_fingerprint  # SHA-256: 32 octets or hex text, read by catrust
        bootstrap = fp is not None and not self.trust and not self.system_trust
        data = self._b64(self._exchange("GET", "cacerts", bootstrap=bootstrap), "cacerts")
        return self.accept_cacerts(data, fp, bootstrap)

    def accept_cacerts(self, data, fp=None, bootstrap=False):
        """Validate a /cacerts answer (certs-only CMS DER) as ``cacerts()`` does,
        and keep what it teaches. At most ``catrust.MAX_CACERTS`` certificates, and one
        ``x509.Checks`` budget of signature checks for the whole answer."""
        from tinyest import catrust  # a renewing device never loads it

        return catrust.accept_cacerts(self, data, fp, bootstrap)

    def csrattrs(self):
        """The server's CSR attributes (``tinyest.csrattrs.CsrAttrs``; empty on
        204 or 404)."""
        from tinyest import client_rare

        return client_rare.csrattrs(self)

    def _post(self, op, csr, pop):
        # (response, SPKI of the CSR sent); the response's status is 200.
        if pop:
            from tinyest import client_rare

            body, spki = client_rare.pop_body(csr, csr_spki)
        else:
            body, spki = csr, [csr_spki(csr)]
        return self._exchange("POST", op, body, pop=pop), spki[0]

    def _waiting(self, fn, wait, *args):
        # fn(*args), sent again after each 202 while ``wait`` seconds allow it.
        from tinyest import client_rare

        return client_rare.waiting(self, fn, wait, args)

    def _enroll(self, op, csr, wait, pop):
        if wait:
            return self._waiting(self._enroll, wait, op, csr, 0, pop)
        resp, spki = self._post(op, csr, pop)
        data = self._b64(resp, op)
        resp = None
        from tinyest import pkcs7

        certs = [bytes(c) for c in pkcs7.certificates(data)]
        data = None
        return self._verify_issued(certs, spki, op)

    def simpleenroll(self, csr, wait=0, pop=False):
        """Certificates (DER list) from /simpleenroll, the issued one first."""
        return self._enroll("simpleenroll", csr, wait, pop)

    def simplereenroll(self, csr, wait=0, pop=False):
        """Certificates (DER list) from /simplereenroll, the issued one first."""
        return self._enroll("simplereenroll", csr, wait, pop)

    def serverkeygen(self, csr, wait=0):
        """(private key DER, certificates) from /serverkeygen. The key is
        returned as sent: PKCS#8, or PKCS#1 for RSA when a server labels that
        application/pkcs8."""
        from tinyest import serverkeygen

        return serverkeygen.serverkeygen(self, csr, wait)
