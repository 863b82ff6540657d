"""EST over CoAP and DTLS (RFC 9148): ``CoapsClient``, the sibling of
``tinyest.client.EstClient`` for ``coaps://`` servers. The same checks run on
what it receives (``tinyest.catrust`` for /crts, ``tinyest.issued`` for issued
certificates), so the results and the trust rules are those of HTTPS; only the
transport differs: CoAP requests (``tinyest.coap.Endpoint``) over one DTLS
session (``tinyest.dtls``), DER payloads (no base64), short resource names.

``CoapsClient(host, port=5684, trust=None, cert=None, key=None, path="/.well-known/est",
timeout=30, max_body=32768, progress=None, now=None, max_skew=300, keep=True, release=None)``: ``trust``
DER anchors; ``cert``/``key`` the DTLS client certificate and key (DER; EST over
CoAP has no passwords: a device enrolls with its factory certificate and renews
with its current one); ``path`` where the server keeps the EST resources
(``discover()`` reads /.well-known/core for them); ``now`` as for EstClient.

Operations, each as EstClient's: ``cacerts(bootstrap_fingerprint=None)`` (GET crts), ``simpleenroll(csr)``
(POST sen), ``simplereenroll(csr)`` (POST sren): the issued certificate first,
chained to the anchors; ``serverkeygen(csr)`` (POST skg) -> (key DER,
certificates); ``csrattrs()`` (GET att, DER); ``discover()`` -> the
{short name: path} the server lists; ``close()`` ends the DTLS session.
A 5.03 (Service Unavailable) is RetryLater with its Max-Age (60 s when absent,
CoAP's default); 4.01 and 4.03 are AuthError, any other failure an HttpError
whose ``status`` is the code as c*100+dd (4.04 -> 404). ``accept_issued``
finishes an answer a VerifyError left, as EstClient's.

``keep=False`` ends the DTLS session after each request (a device's client
serves one action; the server frees the session at once); ``release``, as
EstClient's, is called once an answer is read and its session ended: a device
forgets the transport there (``tinyest.TRANSPORT``: tinyest.coap and
tinyest.dtls too), so that checking the answer has their heap.

Bootstrap (RFC 7030 4.1.1), as EstClient's: ``cacerts(bootstrap_fingerprint=sha256)``
with no trust anchors opens a provisional DTLS session (the server not verified,
its certificate recorded: ``tinyest.dtls``), sends GET crts and nothing else,
and ends the session. The answer is accepted only if a certificate's SHA-256
matches; that certificate becomes the trust anchor, and the certificate that did
the provisional handshake is checked against it (``bootstrap_server_verified``;
``tinyest.catrust``). The handshake shows the client certificate when there is
one (EST-over-CoAP servers authenticate every DTLS session by it): it proves the
key without giving it away; EST over CoAP has no password to leak.

``for_device`` makes one for ``tinyest.device.Device(client=coaps.for_device)``:
the device's ``label`` setting is the resource path ("/est"; none: the
well-known one), with ``keep=False``, its factory key and chain (``boot_key``, ``boot_chain``)
enroll (and show themselves in a bootstrap's handshake), and a store with only
a password is refused (AuthError): EST over CoAP has none. CoAP carries no Date, so
the device learns no time from the server.
"""

from tinyest import der, runtime
from tinyest.errors import AuthError, EstError, FormatError, HttpError, ProtocolError, RetryLater

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


MAX_AGE_DEFAULT = 60
# tinyest.coap's numbers that this module needs (it imports coap only inside the
# functions that send: once an answer is read, the transport can leave the heap)
_GET = const(0x01)
_POST = const(0x02)
_SERVICE_UNAVAILABLE = const(0xA3)  # 5.03
_CONTENT_FORMAT = const(12)
_MAX_AGE = const(14)
_PKCS7_CERTS = const(281)
_CSRATTRS = const(285)
_PKCS10 = const(286)
_PKIX_CERT = const(287)


class CoapsClient:
    def __init__(self, host, port=5684, trust=None, cert=None, key=None, path="/.well-known/est", timeout=30,
                 max_body=32768, progress=None, now=None, max_skew=300, keep=True, release=None):
        if not host or "/" in host:
            raise FormatError("host must be a name, not a URL")
        self.host = host
        self.port = int(port)
        self.trust = [bytes(t) for t in trust or ()]
        self.cert = cert
        self.key = key
        self.path = path.rstrip("/")
        self.paths = {}
        self.timeout = timeout
        self.max_body = max_body
        self.progress = progress
        self.now = now
        self.max_skew = max_skew
        self.system_trust = False
        self.keep = keep  # False: end the DTLS session after each request
        self.release = release  # called once an answer is read and its session ended
        self.ca_certs = []
        self.ca_anchors = []
        self.rollover = None
        self.bootstrap_server_verified = None
        self.date = None  # CoAP has no Date: nothing to learn the time from
        self._chain = None
        self._sock = self._dtls = self._ep = None

    def _note(self, stage, detail=""):
        if self.progress is not None:
            self.progress(stage, detail)

    def _endpoint(self, chain=None):
        if self._ep is None:
            import socket

            from tinyest import coap, dtls

            self._note("connect", "coaps://%s:%d" % (self.host, self.port))
            try:
                a = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_DGRAM)[0]
                s = socket.socket(a[0], socket.SOCK_DGRAM)  # the address's family: IPv4 or IPv6
                s.connect(a[-1])
            except OSError as e:
                raise runtime.net_error(e, "connect")
            s.settimeout(self.timeout)
            try:
                d = dtls.wrap(s, self.host, self.trust, self.cert, self.key, chain)
            except BaseException:
                s.close()
                raise
            self._sock, self._dtls = s, d
            self._ep = coap.Endpoint(d, timer=s, wait=self.timeout, max_body=self.max_body)
        return self._ep

    def close(self):
        """End the DTLS session (close_notify: the server frees it at once)."""
        for s in (self._dtls, self._sock):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self._sock = self._dtls = self._ep = None

    def _call(self, code, name, allowed, payload=b"", cf=None, accept=None, chain=None):
        """(Content-Format, payload) of the successful answer to ``name`` (a
        short name), its format one of ``allowed``; the error of any other
        (see the module text). ``chain``: on a provisional session (see
        ``tinyest.dtls``), ended after this request. The session ended (not
        ``keep``), ``release`` is called: nothing here holds tinyest.coap
        (its Message) then."""
        path = self.paths.get(name) or self.path + "/" + name
        self._note("request", "%s %s" % ("GET" if code == _GET else "POST", path))
        try:
            m = self._endpoint(chain).request(code, path, payload, cf, accept)
        finally:
            if chain is not None or not self.keep:
                self.close()
        c = m.code
        self._note("response", "%d.%02d" % (c >> 5, c & 31))
        if c >> 5 == 2:
            cf = m.uint(_CONTENT_FORMAT)
            if cf not in allowed:
                raise ProtocolError("%s: answer in Content-Format %s" % (name, cf))
            payload = m.payload
            m = None
            if self.release is not None and self._ep is None:
                self.release()
            return cf, payload
        status = (c >> 5) * 100 + (c & 31)
        if c == _SERVICE_UNAVAILABLE:
            age = m.uint(_MAX_AGE)
            raise RetryLater(MAX_AGE_DEFAULT if age is None else age, status)
        text = "%s: CoAP %d.%02d" % (name, c >> 5, c & 31)
        if m.payload:  # a diagnostic payload: its printable ASCII
            text += ": " + "".join([chr(b) if 32 <= b < 127 else "?" for b in bytes(m.payload[:200])])
        if status in (401, 403):
            raise AuthError(text, status, bytes(m.payload[:512]))
        raise HttpError(text, status, bytes(m.payload[:512]))

    def discover(self):
        """The EST resources /.well-known/core lists ({short name: path}); kept
        for later requests."""
        from tinyest import coap_formats

        return coap_formats.discover(self)

    def cacerts(self, bootstrap_fingerprint=None):
        """The CA certificates (DER list) that chain to the trust anchors (or,
        on a bootstrap, to the one whose SHA-256 is ``bootstrap_fingerprint``)."""
        fp = chain = None
        if bootstrap_fingerprint is not None:
            fp = bootstrap_fingerprint  # read by catrust
            if not self.trust:
                chain = []
        self._chain = chain
        _, body = self._call(_GET, "crts", (_PKCS7_CERTS,), accept=_PKCS7_CERTS, chain=chain)
        from tinyest import catrust  # the checks load after the DTLS session ended: not in the heap through it

        return catrust.accept_cacerts(self, body, fp, chain is not None)

    def _enroll(self, name, op, csr):
        spki = _spki(csr)
        cf, body = self._call(_POST, name, (_PKCS7_CERTS, _PKIX_CERT), bytes(csr), _PKCS10)
        # the checks load after the DTLS session ended: not in the heap through it
        from tinyest import issued, pkcs7

        if cf == _PKIX_CERT:
            certs = [bytes(body)]
        else:
            certs = [bytes(c) for c in pkcs7.certificates(body)]
        return issued.verify(self, certs, spki, op)

    def accept_issued(self, certs, csr, op="simpleenroll"):
        """Certificates (DER list) issued for ``csr``, checked as an answer is."""
        from tinyest import issued

        return issued.verify(self, certs, _spki(csr), op)

    def simpleenroll(self, csr):
        """Certificates (DER list) from sen, the issued one first."""
        return self._enroll("sen", "simpleenroll", csr)

    def simplereenroll(self, csr):
        """Certificates (DER list) from sren, the issued one first."""
        return self._enroll("sren", "simplereenroll", csr)

    def serverkeygen(self, csr):
        """(private key DER, certificates) from skg: a multipart-core answer
        (RFC 8710) of a PKCS#8 key (284) and certs-only (281) or one
        certificate (287); the certificates are checked as an enrollment's,
        for the key the server made."""
        from tinyest import coap_formats

        return coap_formats.serverkeygen(self, csr)

    def csrattrs(self):
        """The server's CSR attributes (``tinyest.csrattrs.CsrAttrs``)."""
        from tinyest.csrattrs import CsrAttrs

        return CsrAttrs(self._call(_GET, "att", (_CSRATTRS,), accept=_CSRATTRS)[1])


def for_device(host, port, label=None, trust=None, auth=None, cert=None, key=None, timeout=30, progress=None,
               now=None, max_skew=300, release=None):
    """A CoapsClient made as tinyest.device.Device makes its clients."""
    if auth is not None:
        raise AuthError("EST over CoAP has no passwords: enroll with a factory certificate", 401)
    return CoapsClient(host, port, trust, cert, key, label or "/.well-known/est", timeout, progress=progress,
                       now=now, max_skew=max_skew, keep=False, release=release)


def _spki(csr):
    # the request's SubjectPublicKeyInfo, by tinyest.der (loaded anyway), not tinyest.client
    try:
        return der.request_spki(csr)
    except EstError as e:
        raise FormatError("not a PKCS#10 request: %s" % e)
