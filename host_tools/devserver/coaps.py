"""The dev server's EST over CoAP (RFC 9148): aiocoap serves the EST resources on
a loopback UDP port, ``host_tools.dtls.Terminator`` puts DTLS 1.2 with client
certificates in front of it, and the dev CA (``ca.Ca``) issues. Independent of
the client: aiocoap's CoAP (block-wise transfers, separate responses), python-
mbedtls' DTLS, cryptography's X.509.

``CoapsServer(ca=None, path="/est", habits=None, port=0)``; ``start()``, ``stop()``;
``port`` (DTLS), ``ca``; ``server_name`` ("localhost": the name in its DTLS
certificate); ``factory_certificate(cn)`` -> (certificate DER, PKCS#8 key DER)
a device may enroll with (its IDevID, issued by the same CA under OU=factory:
the DTLS terminator takes one client-certificate anchor); ``issued`` the
certificates it issued; ``log`` (operation, client certificate subject, outcome).

Resources under ``path`` (RFC 9148 4.1 short names): crts (281), sen and sren
(PKCS#10 286 in; 281 out, or 287 with the habit ``pkix_cert``), skg (286 in; a
multipart-core 62 of the key it made, 284, and certs-only, 281), att (285); and
/.well-known/core listing them with their ``rt``. sen takes any client certificate of
the CA (a factory one, or an earlier enrollment), sren one for the same subject
as the request. ``path`` "/.well-known/est" puts them where RFC 9148 expects them
by default; "/est" (the default here) where a client must be told or discover.

Habits: ``retry`` (the first sen answers 5.03 with Max-Age ``retry`` seconds;
``retry_no_max_age`` the same without Max-Age); ``pkix_cert`` (above). Block
sizes the server chooses (RFC 7959), in octets, 0 leaving them to aiocoap:
``block2`` N: an answer over N octets goes in Block2 blocks of N (or of the
smaller size a client asks for), although the client asked for no blocks;
``block1`` N: request bodies in blocks of at most N, a block arriving bigger
answered 2.31 Continue naming N (2.3: the client goes on at N), a whole body
over N answered 4.13 naming N (2.9.3). With either set, the resources do their
own block-wise transfers and record each datagram's in ``blocks``: (resource,
request Block1, response code as "c.dd", response Block1, response Block2), each
block option as (num, more, size) or None.
"""
import asyncio
import threading

import aiocoap
import aiocoap.resource as resource
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from host_tools import dtls
from host_tools.devserver.ca import Ca, cert_der, new_key, pkcs8
from host_tools.devserver.der import CSRATTRS, certs_only

MULTIPART_CORE, PKCS7_CERTS, PKCS8, CSRATTRS_CF, PKCS10, PKIX_CERT = 62, 281, 284, 285, 286, 287
HABITS = {"retry": 0, "retry_no_max_age": False, "pkix_cert": False, "block2": 0, "block1": 0}


class CoapsServer:
    def __init__(self, ca=None, path="/est", habits=None, port=0):
        self.ca = ca or Ca("tinyest coaps dev")
        self.port = port
        self.path = path.strip("/")
        self.habits = dict(HABITS, **(habits or {}))
        for name in ("block1", "block2"):
            n = self.habits[name]
            if n and (n not in (16, 32, 64, 128, 256, 512, 1024)):
                raise ValueError("habit %s wants a block size: 16, 32, ... 1024 octets" % name)
        self.server_name = "localhost"
        self.issued = []
        self.log = []
        self.blocks = []
        self._retried = False
        key = new_key("ec")
        self._cert = self.ca.issue(x509.Name.from_rfc4514_string("CN=localhost"), key.public_key(),
                                   sans=[x509.DNSName("localhost")], eku=[ExtendedKeyUsageOID.SERVER_AUTH])
        self._key = pkcs8(key)
        self._loop = None
        self.term = None

    # -- lifecycle

    def start(self):
        import socket

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self._backend = s.getsockname()[1]
        s.close()
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def up():
            site = resource.Site()
            base = self.path.split("/") if self.path else []
            for name, cls in (("crts", _Crts), ("sen", _Enroll), ("sren", _Enroll), ("skg", _Enroll), ("att", _Att)):
                site.add_resource(base + [name], cls(self, name))
            site.add_resource([".well-known", "core"], _Core(self, "core"))
            self._ctx = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", self._backend))
            ready.set()

        def run():
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(up())
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        if not ready.wait(10):
            raise RuntimeError("the CoAP server did not start")
        chain = [cert_der(self._cert)] + ([cert_der(self.ca.issuing)] if self.ca.intermediate else [])
        self.term = dtls.Terminator(("127.0.0.1", self._backend), chain, self._key,
                                    client_ca=[cert_der(self.ca.root)], port=self.port, idle=2.0)
        self.port = self.term.port
        return self

    def stop(self):
        if self.term is not None:
            self.term.close()
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._ctx.shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)

    def factory_certificate(self, cn):
        """(certificate DER, PKCS#8 key DER): a device's factory identity."""
        key = new_key("ec")
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "factory"),
                          x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        return cert_der(self.ca.issue(name, key.public_key(), eku=[ExtendedKeyUsageOID.CLIENT_AUTH])), pkcs8(key)

    # -- what the resources ask

    def peer(self, request):
        """The client certificate (cryptography) of the DTLS session a request came in."""
        der = self.term.peers.get(request.remote.sockaddr[1])
        return None if der is None else x509.load_der_x509_certificate(der)

    def links(self):
        base = "/" + self.path if self.path else ""
        cts = {"crts": "281", "sen": '"286 281 287"', "sren": '"286 281 287"', "skg": "62", "att": "285"}
        return ",".join('<%s/%s>;rt="ace.est.%s";ct=%s' % (base, n, n, cts[n])
                        for n in ("crts", "sen", "sren", "skg", "att"))


def _message(code, payload=b"", cf=None, max_age=None, block1=None):
    m = aiocoap.Message(code=code, payload=payload, block1=block1)
    if cf is not None:
        m.opt.content_format = cf
    if max_age is not None:
        m.opt.max_age = max_age
    return m


def _block(b):
    return None if b is None else (b.block_number, bool(b.more), b.size)


def _szx(size):
    return size.bit_length() - 5  # 16 octets: 0 ... 1024: 6


class _Resource(resource.Resource):
    """An EST resource: ``answer(request)`` renders the whole answer to a
    ``method`` request. With a block habit it does its own block-wise transfers,
    at the server's block sizes."""

    method = aiocoap.GET

    def __init__(self, srv, op):
        super().__init__()
        self.srv = srv
        self.op = op
        self._bodies = {}  # (peer, code) -> request body so far (Block1)
        self._answers = {}  # (peer, code) -> the last whole answer (Block2)

    def _own_blocks(self):
        return bool(self.srv.habits["block1"] or self.srv.habits["block2"])

    async def needs_blockwise_assembly(self, request):
        return not self._own_blocks()

    async def render(self, request):
        if request.code != self.method:
            return _message(aiocoap.METHOD_NOT_ALLOWED)
        if not self._own_blocks():
            return await self.answer(request)
        m = await self._blockwise(request)
        self.srv.blocks.append((self.op, _block(request.opt.block1), m.code.dotted, _block(m.opt.block1),
                                _block(m.opt.block2)))
        return m

    async def _blockwise(self, request):
        n1, n2 = self.srv.habits["block1"], self.srv.habits["block2"] or 1024
        key = (request.remote.sockaddr, request.code)
        b1, b2 = request.opt.block1, request.opt.block2
        if b1 is not None:  # a request body in blocks: gathered in order
            body = self._bodies.pop(key, b"") if b1.block_number else b""
            if b1.start != len(body):
                return _message(aiocoap.REQUEST_ENTITY_INCOMPLETE)
            body += request.payload
            if b1.more:
                self._bodies[key] = body
                size = min(b1.size, n1 or b1.size)  # the client goes on in blocks of this size
                return _message(aiocoap.CONTINUE, block1=(b1.block_number, True, _szx(size)))
            request = request.copy(payload=body)
        elif n1 and len(request.payload) > n1:  # RFC 7959 2.9.3: too large, and the size that fits
            return _message(aiocoap.REQUEST_ENTITY_TOO_LARGE, block1=(0, False, _szx(n1)))
        if b2 is not None and b2.block_number:
            whole = self._answers.get(key)
            if whole is None:
                return _message(aiocoap.REQUEST_ENTITY_INCOMPLETE)
        else:
            whole = await self.answer(request)
        size = min(n2, b2.size if b2 is not None else n2)
        if b2 is None and len(whole.payload) <= size:
            m = whole
        else:
            self._answers[key] = whole
            num = (b2.start if b2 is not None else 0) // size
            m = whole.copy(payload=whole.payload[num * size:(num + 1) * size],
                           block2=(num, (num + 1) * size < len(whole.payload), _szx(size)))
        if b1 is not None:
            m.opt.block1 = b1  # the last block of the request, as RFC 7959 2.3 asks
        return m


class _Crts(_Resource):
    async def answer(self, request):
        return _message(aiocoap.CONTENT, certs_only(self.srv.ca.cacerts()), PKCS7_CERTS)


class _Att(_Resource):
    async def answer(self, request):
        return _message(aiocoap.CONTENT, CSRATTRS["default"], CSRATTRS_CF)


class _Core(_Resource):
    async def answer(self, request):
        return _message(aiocoap.CONTENT, self.srv.links().encode(), 40)


class _Enroll(_Resource):
    method = aiocoap.POST

    async def answer(self, request):
        srv = self.srv
        h = srv.habits
        peer = srv.peer(request)
        who = None if peer is None else peer.subject.rfc4514_string()
        if request.opt.content_format != PKCS10:
            srv.log.append((self.op, who, "4.15"))
            return _message(aiocoap.UNSUPPORTED_CONTENT_FORMAT)
        if self.op == "sen" and h["retry"] and not srv._retried:
            srv._retried = True
            srv.log.append((self.op, who, "5.03"))
            return _message(aiocoap.SERVICE_UNAVAILABLE, max_age=None if h["retry_no_max_age"] else h["retry"])
        try:
            req = x509.load_der_x509_csr(request.payload)
            ok = req.is_signature_valid
        except ValueError:
            ok = False
        if not ok:
            srv.log.append((self.op, who, "4.00"))
            return _message(aiocoap.BAD_REQUEST, b"bad PKCS#10 request")
        if peer is None or self.op == "sren" and peer.subject != req.subject:
            srv.log.append((self.op, who, "4.03"))
            return _message(aiocoap.FORBIDDEN, b"not allowed")
        key = new_key("ec") if self.op == "skg" else None  # the server makes the key
        leaf = srv.ca.issue(req.subject, (key or req).public_key(), eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
        srv.issued.append(leaf)
        srv.log.append((self.op, who, "2.04"))
        if key is not None:  # multipart-core (RFC 8710): [284, PKCS#8 key, 281, certs-only]
            body = cbor2.dumps([PKCS8, pkcs8(key), PKCS7_CERTS, certs_only([leaf])])
            return _message(aiocoap.CHANGED, body, MULTIPART_CORE)
        if h["pkix_cert"]:
            return _message(aiocoap.CHANGED, leaf.public_bytes(serialization.Encoding.DER), PKIX_CERT)
        chain = [leaf] + ([srv.ca.issuing] if srv.ca.intermediate else [])
        return _message(aiocoap.CHANGED, certs_only(chain), PKCS7_CERTS)
