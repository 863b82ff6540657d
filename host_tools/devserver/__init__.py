"""Development EST server (RFC 7030, RFC 8951) for demos and tests.

A real EST server over TLS (stdlib ``ssl``, one thread per connection, HTTP/1.1
with keep-alive) with its own certificate authorities (``cryptography``). It
binds to 127.0.0.1 by default and is meant for loopback use: keys are kept
unencrypted, in memory or in a work directory.

Python API
----------
::

    from host_tools.devserver import DevServer

    with DevServer() as srv:                    # or srv = DevServer(...); srv.start(); ...; srv.stop()
        srv.add_user("dev", "secret")           # Basic/Digest user
        srv.add_user("otp", "x1", one_time=True)   # removed after its first successful enrollment
        srv.add_token("t0k3n")                  # Bearer token (habit auth=("bearer",) or with others)
        srv.port, srv.host, srv.url             # url = "https://127.0.0.1:PORT/.well-known/est"
        srv.url_for("cacerts", label="iot")     # full URL of one operation
        srv.ca_der                              # trust anchor (root certificate, DER) of the default CA
        srv.ca_fingerprint                      # SHA-256 of ca_der (32 bytes); .ca_fingerprint_hex
        srv.cacerts_der(label=None)             # the certificates /cacerts returns, DER list
        srv.requests                            # list of Request records (see below), oldest first
        srv.tls_errors                          # list of handshake failure texts
        srv.errors                              # tracebacks of server faults (answered 500); expect []
        srv.issued                              # DER of every certificate issued over EST
        srv.set_habits(framing="chunked", b64_wrap=76, b64_eol="\\r\\n")
        srv.add_label("iot", key_type="rsa")    # a label served by its own CA
        srv.make_idevid("device-1")             # (cert_der, pkcs8_key_der) from the factory CA
        srv.make_cert("device-1", label=None)   # (cert_der, pkcs8_key_der) from a label's CA (an LDevID)
        srv.rollover(label=None)                # new root; /cacerts then has OldWithNew and NewWithOld
        srv.clear_log()

Constructor: ``DevServer(host="127.0.0.1", port=0, workdir=None, key_type="ec",
intermediate=False, labels=(), server_names=None, users=(), **habits)``.
``port=0`` picks a free port. ``workdir`` (a directory) keeps the CAs across
starts (PEM files, created on first start); without it everything lives in
memory. ``key_type`` is "ec" (P-256), "ec384" (P-384) or "rsa" (2048).
``intermediate=True`` puts an issuing CA below the root: /cacerts then returns
the issuing CA and the root, and the TLS chain carries the issuing CA.
``labels`` is a list of names, or a dict name -> {"key_type":..,
"intermediate":..}; each label gets its own CA, reached at
``/.well-known/est/LABEL/...``; an unknown label is 404. ``server_names`` are
the DNS names and IP addresses put in the server certificate's SAN (default
localhost, 127.0.0.1, ::1 and ``host``); the server certificate always comes
from the default CA. ``users`` is a list of (name, password).

Request records (``srv.requests``): ``method``, ``path``, ``label``,
``operation``, ``headers`` (list of (name, value) as received), ``body``,
``authorization`` (True if an Authorization header arrived), ``auth_scheme``
("basic"/"digest"/None), ``user`` (authenticated name or None),
``client_cert`` (DER or None), ``client_cert_subject`` (RFC 4514 text or None),
``tls_version``, ``alpn``, ``version`` (HTTP version of the request line),
``status`` (the status answered). A refused TLS handshake is not a request:
it lands in ``tls_errors``, so "no record with authorization" proves that no
credential crossed a connection the client did not trust.

Operations: cacerts (certs-only CMS, base64), csrattrs, simpleenroll,
simplereenroll, serverkeygen (multipart/mixed: PKCS#8 key part + certs-only
part), fullcmc (501). CSR signatures are verified (400 otherwise).

Authentication. simpleenroll and serverkeygen accept (``enroll_auth``):
"either" (default) a TLS client certificate from the factory CA (an IDevID) or
from the label's CA, or HTTP Basic/Digest credentials; "password"; "cert";
"none". Digest is RFC 7616 with qop=auth, MD5 and SHA-256, server nonces valid
for five minutes with increasing nonce counts (an unknown or expired nonce
answers 401 with stale=true). A one-time user is consumed when a certificate
is issued to it. simplereenroll requires a TLS client certificate issued by
the label's CA (403 otherwise) and, unless ``reenroll_check=False``, a CSR
whose subject and subjectAltName equal the certificate's (403 otherwise).
The server requests a client certificate on every connection (optional) and,
as stdlib ``ssl`` does, sends no CA names in that request.

Habits (keyword arguments of the constructor or of ``set_habits``; defaults first):

=================  ==========================================================
b64_wrap           64 | any column count | 0 (one line)
b64_eol            "\\n" | "\\r\\n"
b64_final_eol      True | False (no line end after the last line)
b64_nul            False | True (a stray NUL byte after each base64 body)
cte                True | False (no Content-Transfer-Encoding header)
framing            "length" (Content-Length) | "chunked" | "close" (no length,
                   body ended by closing the connection after close_notify)
chunk_size         200 (bytes per chunk in chunked framing)
http10             False | True (status line "HTTP/1.0", implies no keep-alive)
keep_alive         True | False (close after every response)
header_case        "canonical" | "lower" | "upper" | "title" (Www-Authenticate)
cgi_status         False | True (an extra CGI-style "Status: 200 OK" header)
hsts               False | True (Strict-Transport-Security header)
auth               ("basic",) | any of "basic", "digest-sha256", "digest-md5",
                   "digest" (both digests), "bearer" (tokens of add_token);
                   one challenge each, in that order
auth_failure       "challenge" (401 with WWW-Authenticate, no body) | "text"
                   (wrong credentials: 401 with a text body, Connection: close,
                   no WWW-Authenticate)
realm              "tinyest"
enroll_auth        "either" | "password" | "cert" | "none"
reenroll_check     True (subject and SAN compared as values) | "strict" (the
                   subject Name and the subjectAltName extension value must be
                   byte-identical DER, string types included, as some servers
                   demand) | False (no subject/SAN comparison)
csrattrs           "default" (ecdsa-with-SHA256, EC key on P-256) | "empty"
                   (MAA=) | "rfc7030" (challengePassword, EC key on secp384r1,
                   extensionRequest macAddress, ecdsa-with-SHA384) | "none"
                   (204) | "404" | bytes (DER to send as is)
keygen_key         "rsa2048" | "rsa3072" | "rsa4096" | "ec" (P-256), whatever
                   the CSR's key is
keygen_pkcs1       False | True (a PKCS#1 RSAPrivateKey labelled application/pkcs8)
multipart_eol      "\\r\\n" | "\\n"
enroll_chain       False | True (the CA certificates first, issued one last)
der_sets           False (certificates in the order above, as OpenSSL-based
                   servers send them) | True (SET OF sorted as DER requires)
deferred           0 | N (answer 202 N times for each distinct CSR, then issue)
retry_after        600 (seconds announced with 202)
retry_after_date   False | True (Retry-After as an HTTP-date)
pop                "off" | "check" (a challengePassword present must be the
                   base64 tls-unique of the connection) | "require"
request_body       "lenient" (base64 any wrapping, or raw DER) | "strict" (400
                   for raw DER or a body without a final newline)
cert_lifetime      365 * 86400 (seconds of validity of issued certificates)
backdate           0 (issued certificates start at the second of issuance, as
                   many CAs do) | N (notBefore N seconds before issuance)
issue_wrong_key    False | True (issue for a fresh key, not the CSR's)
issue_foreign_ca   False | True (issue from a CA that /cacerts does not name)
huge_body          0 | N (pad every base64 body with spaces to N bytes)
endless            False | True (every 200 body streams without end, chunked
                   or close-delimited; stops when the client goes away)
redirects          {} | {path: location} answered with 307
tls12_only         False | True
alpn               None | ("h2", "http/1.1") (protocols offered; the chosen one
                   is logged)
client_auth        "optional" | "none" (no CertificateRequest)
=================  ==========================================================

The server never prints; it reports through the request log.

Layout: ``server`` (the DevServer: configuration, TLS, connections),
``habits`` (the table above and its checks), ``framing`` (reading requests,
writing responses with the habits), ``auth`` (Basic, Digest, Bearer, client
certificates), ``est`` (the EST operations), ``ca`` (certificate authorities),
``der`` (a DER writer of its own) and ``clock`` (the one clock, replaceable).
"""

from host_tools.devserver.ca import Ca, build_cert
from host_tools.devserver.der import CSRATTRS, certs_only
from host_tools.devserver.framing import Request
from host_tools.devserver.habits import HABITS
from host_tools.devserver.server import DevServer

__all__ = ["CSRATTRS", "HABITS", "Ca", "DevServer", "Request", "build_cert", "certs_only"]
