"""The EST operations of the dev server (RFC 7030): cacerts, csrattrs,
simpleenroll, simplereenroll, serverkeygen (fullcmc answers 501), with the
checks a CA makes of a request: base64 body, CSR signature, proof of possession
(tls-unique in challengePassword), same identity on re-enrollment, and the
answers of a CA that defers (202 with Retry-After)."""

import base64
import hashlib
import secrets
import threading

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import AttributeOID, ExtendedKeyUsageOID

from host_tools.devserver import clock
from host_tools.devserver.ca import Ca, cert_der, new_key, pkcs8, san_der, san_key, san_list
from host_tools.devserver.der import CSRATTRS, certs_only
from host_tools.devserver.framing import HttpError, Response, b64, case

EST_PREFIX = "/.well-known/est/"


class Est:
    """The operations of one DevServer, on its habits, CAs and accounts."""

    def __init__(self, server):
        self.server = server
        self.habits = server.habits
        self.accounts = server.accounts
        self._lock = threading.Lock()
        self._pending = {}
        self._foreign = None

    def dispatch(self, req, info):
        """The response to one request."""
        h = self.habits
        path = req.path.split("?", 1)[0]
        if path in h["redirects"]:
            return Response(307, b"", headers=[("Location", h["redirects"][path])])
        if not path.startswith(EST_PREFIX):
            return Response(404, b"not found\n", "text/plain")
        parts = path[len(EST_PREFIX):].split("/")
        if len(parts) == 1:
            label, op = None, parts[0]
        elif len(parts) == 2 and parts[0]:
            label, op = parts
        else:
            return Response(404, b"not found\n", "text/plain")
        req.label, req.operation = label, op
        ca = self.server.label_ca(label)
        if ca is None:
            return Response(404, b"unknown label\n", "text/plain")
        try:
            if op == "cacerts":
                self._method(req, "GET")
                return self._certs_response(ca.cacerts(), "application/pkcs7-mime")
            if op == "csrattrs":
                self._method(req, "GET")
                return self._csrattrs()
            if op in ("simpleenroll", "serverkeygen"):
                self._method(req, "POST")
                denied = self.accounts.authenticate(
                    req, info, lambda: self.server.factory_ca.issuers() + ca.issuers())
                if denied is not None:
                    return denied
                return self._enroll(req, info, ca, keygen=op == "serverkeygen")
            if op == "simplereenroll":
                self._method(req, "POST")
                if not self.accounts.client_cert_from(info, ca.issuers()):
                    return Response(403, b"client certificate from this CA required\n", "text/plain")
                req.user = info.get("subject")
                return self._enroll(req, info, ca, reenroll=True)
            if op == "fullcmc":
                return Response(501, b"fullcmc not implemented\n", "text/plain")
        except HttpError as e:
            return Response(e.status, (e.text + "\n").encode(), "text/plain")
        return Response(404, b"unknown operation\n", "text/plain")

    @staticmethod
    def _method(req, method):
        if req.method != method:
            raise HttpError(405, "method not allowed")

    def _certs_response(self, certs, ctype):
        der = certs_only(certs, self.habits["der_sets"])
        return Response(200, b64(self.habits, der), ctype, b64=True)

    def _csrattrs(self):
        mode = self.habits["csrattrs"]
        if mode == "none":
            return Response(204)
        if mode == "404":
            return Response(404, b"no csrattrs\n", "text/plain")
        der = bytes(mode) if isinstance(mode, (bytes, bytearray)) else CSRATTRS[mode]
        return Response(200, b64(self.habits, der), "application/csrattrs", b64=True)

    def _read_csr(self, req):
        body = req.body
        strict = self.habits["request_body"] == "strict"
        text = body.rstrip(b"\0")
        der = None
        try:
            der = base64.b64decode(b"".join(text.split()), validate=True)
        except ValueError:
            der = None
        if der is None or not der:
            if strict or not body.startswith(b"\x30"):
                raise HttpError(400, "body is not base64")
            der = body
        elif strict and not body.endswith(b"\n"):
            raise HttpError(400, "base64 body must end with a newline")
        try:
            csr = x509.load_der_x509_csr(der)
        except ValueError:
            raise HttpError(400, "malformed PKCS#10 request")
        try:
            ok = csr.is_signature_valid
        except Exception:      # unsupported algorithms surface in several types
            ok = False
        if not ok:
            raise HttpError(400, "CSR signature does not verify")
        return der, csr

    def _check_pop(self, csr, info):
        mode = self.habits["pop"]
        if mode == "off":
            return
        try:
            cp = csr.attributes.get_attribute_for_oid(AttributeOID.CHALLENGE_PASSWORD).value
        except x509.AttributeNotFound:
            cp = None
        if cp is None:
            if mode == "require":
                raise HttpError(400, "challengePassword with tls-unique required")
            return
        tu = info.get("tls_unique")
        if isinstance(cp, str):
            cp = cp.encode()
        if tu is None or cp != base64.b64encode(tu):
            raise HttpError(400, "challengePassword does not match the TLS channel")

    def _check_same_identity(self, csr, info, strict):
        cert = x509.load_der_x509_certificate(info["cert"])
        try:
            csr_sans = san_list(csr)
        except ValueError:
            raise HttpError(400, "bad extensions in the request")
        if strict:
            if csr.subject.public_bytes() != cert.subject.public_bytes():
                raise HttpError(403, "subject differs from the current certificate (DER)")
            if san_der(csr) != san_der(cert):
                raise HttpError(403, "subjectAltName differs from the current certificate (DER)")
        if csr.subject != cert.subject:
            raise HttpError(403, "subject differs from the current certificate")
        if san_key(csr_sans) != san_key(san_list(cert)):
            raise HttpError(403, "subjectAltName differs from the current certificate")

    def _enroll(self, req, info, ca, reenroll=False, keygen=False):
        h = self.habits
        der, csr = self._read_csr(req)
        self._check_pop(csr, info)
        if reenroll and h["reenroll_check"]:
            self._check_same_identity(csr, info, h["reenroll_check"] == "strict")
        if h["deferred"]:
            key = hashlib.sha256(req.operation.encode() + der).digest()
            with self._lock:
                seen = self._pending.get(key, 0)
                if seen < h["deferred"]:
                    self._pending[key] = seen + 1
                    secs = int(h["retry_after"])
                    value = clock.http_date(secs) \
                        if h["retry_after_date"] else str(secs)
                    return Response(202, b"request pending\n", "text/plain",
                                     headers=[("Retry-After", value)])
                self._pending.pop(key, None)
        try:
            sans = san_list(csr) or None
        except ValueError:
            raise HttpError(400, "bad extensions in the request")
        server_key = None
        if keygen:
            server_key = new_key(h["keygen_key"])
            public = server_key.public_key()
        else:
            public = csr.public_key()
        if h["issue_wrong_key"]:
            public = new_key("ec").public_key()
        issuer = ca
        if h["issue_foreign_ca"]:
            if self._foreign is None:
                self._foreign = Ca("tinyest foreign", "ec")
            issuer = self._foreign
        try:
            cert = issuer.issue(csr.subject, public, sans, h["cert_lifetime"],
                                eku=[ExtendedKeyUsageOID.CLIENT_AUTH], backdate=h["backdate"])
        except (ValueError, TypeError) as e:
            raise HttpError(400, "cannot issue: %s" % e)
        with self._lock:
            self.server.issued.append(cert_der(cert))
        self.accounts.consume(req)
        certs = [cert]
        if h["enroll_chain"]:
            certs = ca.cacerts() + [cert]
        if not keygen:
            return self._certs_response(certs, "application/pkcs7-mime; smime-type=certs-only")
        return self._keygen_response(server_key, certs)

    def _keygen_response(self, key, certs):
        h = self.habits
        if h["keygen_pkcs1"] and isinstance(key, rsa.RSAPrivateKey):
            key_der = key.private_bytes(serialization.Encoding.DER,
                                        serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption())
        else:
            key_der = pkcs8(key)
        p7 = certs_only(certs, h["der_sets"])
        eol = h["multipart_eol"].encode()
        boundary = "est-" + secrets.token_hex(8)
        cte = [("Content-Transfer-Encoding", "base64")] if h["cte"] else []
        out = b""
        for ctype, der in (("application/pkcs8", key_der),
                           ("application/pkcs7-mime; smime-type=certs-only", p7)):
            out += b"--" + boundary.encode() + eol
            for k, v in [("Content-Type", ctype)] + cte:
                out += ("%s: %s" % (case(h, k), v)).encode() + eol
            body = b64(self.habits, der)
            out += eol + body
            if not body.endswith(eol):
                out += eol
        out += b"--" + boundary.encode() + b"--" + eol
        return Response(200, out, "multipart/mixed; boundary=%s" % boundary, b64=True, cte=False)
