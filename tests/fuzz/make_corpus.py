"""Writes the fuzz corpus under tests/fuzz/corpus/<target>/ (host only).

    python3 tests/fuzz/make_corpus.py             # regenerate the corpus
    python3 tests/fuzz/make_corpus.py --record    # first re-record seeds/http/ from the dev server
    python3 tests/fuzz/make_corpus.py --stats     # only print what the corpus holds

Seeds, per target (see tests/fuzz/harness.py for the input formats):
    * the certificates, PKCS#7 messages, keys, CSRs and signatures of
      tests/vectors/;
    * certificates, CSRs and certs-only messages made here with cryptography
      from fixed keys (Ed25519, RFC 6979 ECDSA, RSA PKCS#1 v1.5: deterministic);
    * server responses recorded from host_tools/devserver.py over TLS and
      committed under seeds/http/ (cacerts in every framing, csrattrs variants,
      401 Basic/Digest challenges, 202 with Retry-After, serverkeygen
      multipart, redirects, errors); their bodies, challenges, dates and
      multipart parts seed the text targets;
    * credential store slots written by tinyest.store.

Mutants come from a ``random.Random`` seeded with the target name, so a run
rewrites the same bytes as long as the seeds and tinyest itself are unchanged:
byte edits (flip, interesting values, insert, delete, truncate, duplicate,
splice), DER tree edits that keep every length right (delete, duplicate, swap
or replace an element, change a tag, swap an OID, a huge, negative or
non-minimal INTEGER, deep nesting, BER indefinite-length framing) and, for
HTTP, edits of the status line, header lines, framing and chunk sizes.

Selection: every candidate runs through tests/fuzz/harness.py under a line
tracer; the seeds, then the mutants that reach new (line, next line) pairs of
tinyest, are kept, up to the target's budget. A candidate that escapes with
anything but an EstError is reported on stderr and not written: triage it and
add it by hand as a ``crash-*`` regression file. Files whose names start with
``crash-`` are never removed or rewritten here.
"""

import argparse
import base64
import datetime
import hashlib
import os
import random
import ssl
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
SEEDS = os.path.join(HERE, "seeds")
VECTORS = os.path.join(ROOT, "tests", "vectors")
for p in (ROOT, HERE, os.path.join(ROOT, "tests", "core")):
    if p not in sys.path:
        sys.path.insert(0, p)

import harness  # noqa: E402
from tinyest import csr_build, der as tder  # noqa: E402

# files kept per target (seeds included)
BUDGET = {
    "der": 25, "x509": 45, "pkcs7": 25, "csrattrs": 20, "pem": 15, "keys": 25, "spki": 15,
    "signature": 10, "csr": 25, "store": 12, "store_body": 15, "http_response": 45, "proxy_connect": 15,
    "b64body": 15,
    "multipart": 15, "http_date": 15, "www_authenticate": 20, "coap": 20,
    "coap_links": 15, "multipart_core": 12,
}
CANDIDATES = 3000  # mutants tried per target
MAX_FILE = 6000  # bytes; larger mutants are dropped


def vec(name):
    with open(os.path.join(VECTORS, name), "rb") as f:
        return f.read()


def vectors(prefix, ext=".der"):
    return [(n[:-len(ext)], vec(n)) for n in sorted(os.listdir(VECTORS))
            if n.startswith(prefix) and n.endswith(ext)]


# ---------------------------------------------------------------- cryptography-made seeds


def _crypto():
    """The cryptography names the seed makers use, imported on demand (host only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.serialization import pkcs7
    from cryptography.x509.name import _ASN1Type
    from cryptography.x509.oid import AttributeOID, ExtendedKeyUsageOID, NameOID
    return {"x509": x509, "hashes": hashes, "serialization": serialization, "ec": ec, "ed25519": ed25519,
            "pkcs7": pkcs7, "_ASN1Type": _ASN1Type, "AttributeOID": AttributeOID,
            "ExtendedKeyUsageOID": ExtendedKeyUsageOID, "NameOID": NameOID}


def _ec(label, curve):
    from cryptography.hazmat.primitives.asymmetric import ec
    n = {"secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
         "secp384r1": 2**384 - 0x389CB27E0BC8D220A7E5F24DB74F58851313E695333AD68D}[curve.name]
    return ec.derive_private_key(int.from_bytes(hashlib.sha512(label.encode()).digest(), "big") % (n - 1) + 1,
                                 curve)


def _ed(label):
    from cryptography.hazmat.primitives.asymmetric import ed25519
    return ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


def _rsa_pem():
    # The project's RSA test key (deterministic); cryptography cannot seed RSA generation.
    from cryptography.hazmat.primitives import serialization
    return serialization.load_der_private_key(vec("keys_rsa2048_pkcs8.der"), None)


def _dt(*a):
    return datetime.datetime(*a, tzinfo=datetime.timezone.utc)


def crypto_certs():
    """(name, DER) certificates with a spread of names, extensions and keys."""
    c = _crypto()
    x509, NameOID, hashes, ec = c["x509"], c["NameOID"], c["hashes"], c["ec"]
    T = c["_ASN1Type"]
    root_key = _ec("fuzz root", ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz root"),
                           x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example")])
    out = []

    def make(name, subject, key, issuer_name, issuer_key, exts, nb=_dt(2024, 1, 1), na=_dt(2034, 1, 1),
             serial=0x1234, h="sha256"):
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
             .public_key(key.public_key()).serial_number(serial).not_valid_before(nb).not_valid_after(na))
        for e, crit in exts:
            b = b.add_extension(e, crit)
        alg = None if isinstance(issuer_key, c["ed25519"].Ed25519PrivateKey) else getattr(hashes, h.upper())()
        kw = {"ecdsa_deterministic": True} if isinstance(issuer_key, ec.EllipticCurvePrivateKey) else {}
        out.append((name, b.sign(issuer_key, alg, **kw).public_bytes(c["serialization"].Encoding.DER)))

    ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    make("crypto_root", root_name, root_key, root_name, root_key,
         [(x509.BasicConstraints(True, 1), True), (ski, False),
          (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)])
    leaf_key = _ec("fuzz leaf", ec.SECP384R1())
    names = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Bayern", T.BMPString),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "M\u00fcnchen", T.UniversalString),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "ou", T.IA5String),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, "12345", T.PrintableString),
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "example"),
        x509.NameAttribute(NameOID.COMMON_NAME, 'dev, "1" +\\'),
    ])
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    san = x509.SubjectAlternativeName([
        x509.DNSName("dev-1.example.com"), x509.DNSName("*.example.org"),
        x509.IPAddress(__import__("ipaddress").ip_address("192.0.2.7")),
        x509.IPAddress(__import__("ipaddress").ip_address("2001:db8::7")),
        x509.UniformResourceIdentifier("urn:dev:1"), x509.RFC822Name("dev@example.com"),
        x509.DirectoryName(root_name),
        x509.OtherName(x509.ObjectIdentifier("1.3.6.1.5.5.7.8.4"), b"\x30\x03\x02\x01\x01"),
        x509.RegisteredID(x509.ObjectIdentifier("1.2.3.4")),
    ])
    eku = x509.ExtendedKeyUsage([c["ExtendedKeyUsageOID"].CLIENT_AUTH, c["ExtendedKeyUsageOID"].SERVER_AUTH,
                                 x509.ObjectIdentifier("1.3.6.1.5.5.7.3.28")])
    make("crypto_leaf_p384", names, leaf_key, root_name, root_key,
         [(x509.BasicConstraints(False, None), True), (san, False), (eku, False), (aki, False),
          (x509.KeyUsage(True, False, True, False, False, False, False, False, False), True),
          (x509.NameConstraints([x509.DNSName("example.com")], None), True),
          (x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), ["http://x/"])]),
           False)],
         nb=_dt(1950, 1, 1), na=_dt(2050, 1, 1), serial=(1 << 159) - 1, h="sha384")
    ed = _ed("fuzz ed25519")
    make("crypto_ed25519", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed")]), ed,
         x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed")]), ed,
         [(x509.BasicConstraints(True, None), True)], na=_dt(9999, 12, 31, 23, 59, 59))
    rk = _rsa_pem()
    make("crypto_rsa", x509.Name([]), rk, root_name, root_key,
         [(x509.SubjectAlternativeName([x509.DNSName("rsa.example")]), True)], serial=1)
    make("crypto_rsa_self", x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa")]), rk,
         x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa")]), rk,
         [(x509.BasicConstraints(True, 0), True)], h="sha512")
    return out


def crypto_csrs():
    c = _crypto()
    x509, NameOID, hashes, ec, AttributeOID = c["x509"], c["NameOID"], c["hashes"], c["ec"], c["AttributeOID"]
    enc = c["serialization"].Encoding.DER
    out = []
    k = _ec("fuzz csr", ec.SECP256R1())
    b = (x509.CertificateSigningRequestBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr"),
                                  x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example")]))
         .add_extension(x509.SubjectAlternativeName([
             x509.DNSName("a.example"),
             x509.IPAddress(__import__("ipaddress").ip_address("::1")),
             x509.RFC822Name("a@example.com"), x509.UniformResourceIdentifier("https://a.example/")]), False)
         .add_extension(x509.BasicConstraints(False, None), True)
         .add_attribute(AttributeOID.CHALLENGE_PASSWORD, b"s3cret"))
    out.append(("crypto_csr_p256", b.sign(k, hashes.SHA256(), ecdsa_deterministic=True).public_bytes(enc)))
    ed = _ed("fuzz csr ed")
    b = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName("ed.example")]), True))
    out.append(("crypto_csr_ed25519", b.sign(ed, None).public_bytes(enc)))
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa")]))
    out.append(("crypto_csr_rsa", b.sign(_rsa_pem(), hashes.SHA256()).public_bytes(enc)))
    return out


def tinyest_csrs():
    from tinyest import csr, keys
    key = keys.load_private(vec("keys_p256_pkcs8.der"))
    ed = keys.load_private(vec("keys_ed25519_pkcs8.der"))
    b = (csr_build.CsrBuilder().subject([("C", "DE"), [("O", "Example"), ("OU", "x")], ("CN", "device-0042")])
         .dns("device-0042.example.com").ip("10.0.0.1").ip("fe80::1").uri("urn:uuid:1").email("d@example.com")
         .key_usage("digitalSignature", "keyAgreement").ext_key_usage("clientAuth", "1.2.3.4")
         .basic_constraints().challenge_password("p\u00e4ss")
         .attribute("1.3.6.1.4.1.311.13.2.3", tder.ia5("x")))
    # ECDSA signatures are deterministic (RFC 6979), Ed25519 always
    return [("tinyest_csr_p256", b.sign(key)),
            ("tinyest_csr_ed25519", csr_build.CsrBuilder().subject([]).dns("ed.example").sign(ed))]


def crypto_pkcs7(certs):
    c = _crypto()
    from cryptography import x509
    loaded = [x509.load_der_x509_certificate(d) for _, d in certs]
    enc = c["serialization"].Encoding.DER
    return [("crypto_p7_all", c["pkcs7"].serialize_certificates(loaded, enc)),
            ("crypto_p7_one", c["pkcs7"].serialize_certificates(loaded[:1], enc))]


# ---------------------------------------------------------------- DER tree edits


class Node:
    __slots__ = ("tag", "kids", "data")

    def __init__(self, tag, kids=None, data=b""):
        self.tag, self.kids, self.data = tag, kids, data


def parse_tree(b, depth=0):
    """Lenient definite-length parse; None if b is not a sequence of TLVs."""
    out, i = [], 0
    while i < len(b):
        if i + 2 > len(b) or depth > 30:
            return None
        tag, n = b[i], b[i + 1]
        j = i + 2
        if n & 0x80:
            k = n & 0x7F
            if k == 0 or k > 4 or j + k > len(b):
                return None
            n = int.from_bytes(b[j:j + k], "big")
            j += k
        if j + n > len(b):
            return None
        body = b[j:j + n]
        kids = parse_tree(body, depth + 1) if tag & 0x20 else None
        out.append(Node(tag, kids, body))  # a constructed tag over non-TLV bytes keeps its bytes
        i = j + n
    return out


def _len(n):
    return bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")


def emit(nodes, ber=False):
    out = bytearray()
    for nd in nodes:
        if nd.kids is not None:
            body = emit(nd.kids, ber)
            if ber and nd.tag & 0x20:
                out += bytes([nd.tag, 0x80]) + body + b"\x00\x00"
                continue
        else:
            body = nd.data
        out += bytes([nd.tag]) + _len(len(body)) + body
    return bytes(out)


def all_nodes(nodes, acc=None, parent=None):
    acc = [] if acc is None else acc
    for i, nd in enumerate(nodes):
        acc.append((nodes, i, nd))
        if nd.kids is not None:
            all_nodes(nd.kids, acc, nd)
    return acc


OIDS = [tder.encode_oid(o) for o in (
    "1.2.840.10045.2.1", "1.2.840.10045.3.1.7", "1.3.132.0.34", "1.3.132.0.35", "1.2.840.113549.1.1.1",
    "1.3.101.112", "1.3.101.113", "1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.113549.1.1.11",
    "1.2.840.113549.1.1.5", "2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17", "2.5.29.14", "2.5.29.35",
    "2.5.29.30", "2.5.4.3", "2.5.4.6", "1.2.840.113549.1.9.14", "1.2.840.113549.1.9.7",
    "1.2.840.113549.1.7.2", "1.2.840.113549.1.7.1", "1.2.840.113549.1.5.13", "2.16.840.1.101.3.4.2.1",
    "2.999", "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20")]
TAGS = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x16, 0x17, 0x18, 0x1E, 0x1C, 0x14, 0x1F, 0x30,
        0x31, 0xA0, 0xA1, 0xA3, 0x80, 0x81, 0x82, 0x87, 0x86, 0x3F, 0x23, 0x24]
VALUES = [b"", b"\x00", b"\xff", b"\x80", b"\x00\x80", b"\x00\x00", b"\xff\x80", b"\x7f", b"\x01\x00",
          b"\x08", b"\x07\x80", b"\x00" * 33, b"\xff" * 64, b"\x80" * 20, b"991231235960Z", b"500101000000Z",
          b"20500101000000Z", b"99991231235959Z", b"000229000000Z", b"\xc3\x28", b"\xd8\x00\x00\x41",
          b"\x00\x00\xd8\x00", b"*.", b"a" * 300]


def tree_edit(rng, b, others):
    tree = parse_tree(b)
    if not tree:
        return None
    nodes = all_nodes(tree)
    sib, i, nd = rng.choice(nodes)
    op = rng.randrange(12)
    ber = False
    if op == 0:
        del sib[i]
    elif op == 1:
        sib.insert(i, nd)
    elif op == 2 and len(sib) > 1:
        j = rng.randrange(len(sib))
        sib[i], sib[j] = sib[j], sib[i]
    elif op == 3:
        sib[i] = Node(nd.tag, None, rng.choice(VALUES))
    elif op == 4:
        sib[i] = Node(rng.choice(TAGS), nd.kids, nd.data)
    elif op == 5:
        sib[i] = Node(0x06, None, rng.choice(OIDS))
    elif op == 6:
        v = rng.choice([0, -1, -129, 1 << 64, (1 << 4100) - 1, 1 << 300, -(1 << 200), 255, 128, 3, 65537])
        enc = tder.integer(v)
        sib[i] = Node(0x02, None, enc[_hdr(enc):])
    elif op == 7:
        inner = nd
        for _ in range(rng.choice([2, 20, 26, 40])):
            inner = Node(0x30, [inner])
        sib[i] = inner
    elif op == 8:
        ber = True
    elif op == 9 and others:
        other = parse_tree(rng.choice(others))
        if other:
            sib[i] = rng.choice(all_nodes(other))[2]
    elif op == 10:
        sib[i] = Node(nd.tag, None, nd.data + bytes([rng.randrange(256)]) if nd.kids is None
                      else emit(nd.kids) + b"\x00")
    else:
        sib.insert(i + 1, Node(rng.choice(TAGS) & 0xDF, None, rng.choice(VALUES)))
    return emit(tree, ber)


def _hdr(b):
    return 2 if b[1] < 0x80 else 2 + (b[1] & 0x7F)


def header_edit(rng, b):
    """Break one TLV header: the lengths no longer fit (the strictness paths)."""
    tree = parse_tree(b)
    if not tree:
        return None
    offs = []

    def walk(buf, base):
        i = 0
        while i < len(buf):
            n = buf[i + 1]
            j = i + 2
            if n & 0x80:
                k = n & 0x7F
                n = int.from_bytes(buf[j:j + k], "big")
                j += k
            offs.append((base + i, j - i, n))
            if buf[i] & 0x20 and parse_tree(buf[j:j + n]) is not None:
                walk(buf[j:j + n], base + j)
            i = j + n

    walk(b, 0)
    off, hl, n = rng.choice(offs)
    new = rng.choice([b"\x80", b"\x84\xff\xff\xff\xff", b"\x84\x7f\xff\xff\xff", b"\x85\x01\x00\x00\x00\x00",
                      b"\xff", b"\x81" + bytes([n & 0x7F]), b"\x82\x00" + bytes([n & 0xFF]),
                      _len(n + 1), _len(max(n - 1, 0)), b"\x00", b"\x83\x10\x00\x00"])
    return b[:off + 1] + new + b[off + hl:]


# ---------------------------------------------------------------- byte edits

INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF, 0x30, 0x31, 0xA0, 0x05, 0x0A, 0x0D, 0x20, 0x3D,
               0x2D, 0x3A, 0x22, 0x5C, 0x2C, 0x3B]


def byte_edit(rng, b, others):
    b = bytearray(b)
    if not b:
        return bytes([rng.randrange(256)])
    i = rng.randrange(len(b))
    op = rng.randrange(8)
    if op == 0:
        b[i] ^= 1 << rng.randrange(8)
    elif op == 1:
        b[i] = rng.choice(INTERESTING)
    elif op == 2:
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    elif op == 3:
        del b[i:i + rng.randint(1, 16)]
    elif op == 4:
        del b[i:]
    elif op == 5:
        j = rng.randrange(len(b))
        b[j:j] = b[i:i + rng.randint(1, 32)]
    elif op == 6 and others:
        o = rng.choice(others)
        b = b[:i] + o[rng.randrange(len(o) + 1):] if o else b
    else:
        b[i] = rng.randrange(256)
    return bytes(b)


# ---------------------------------------------------------------- text and HTTP edits

HEADER_LINES = [
    b"Content-Length: 99999999999", b"Content-Length: 4294967296", b"Content-Length: -1",
    b"Content-Length: 5, 5", b"Content-Length: 1, 2", b"Content-Length:", b"Content-Length: 0x10",
    b"Content-Length: 32769", b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip, chunked",
    b"Transfer-Encoding: chunked, chunked", b"Transfer-Encoding: identity", b"Connection: close",
    b"Content-Type: multipart/mixed; boundary=est", b'Content-Type: text/plain; charset="\\"',
    b"Retry-After: 99999999999", b"Retry-After: Sun, 06 Nov 1994 08:49:37 GMT", b"Retry-After: -5",
    b'WWW-Authenticate: Digest realm="r", nonce="n", qop="auth,auth-int", algorithm=MD5-sess',
    b"WWW-Authenticate: Basic realm=", b'WWW-Authenticate: Digest realm="unterminated',
    b"WWW-Authenticate: Negotiate abc==, Basic realm=\"x\"", b" folded continuation", b"\tfolded",
    b"No-Colon-Here", b": empty name", b"Bad Name: x", b"X-" + b"a" * 3000 + b": y", b"Date: garbage",
    b"Location: https://evil.example/.well-known/est/cacerts",
]
STATUS = [b"HTTP/1.1 100 Continue", b"HTTP/1.1 101 Switching", b"HTTP/1.1 204 No Content",
          b"HTTP/1.1 304 Not Modified", b"HTTP/1.0 200 OK", b"HTTP/1.1 999 X", b"HTTP/2 200",
          b"HTTP/1.1 202 Accepted", b"HTTP/1.1 401 Unauthorized", b"HTTP/1.1 200", b"HTTP/1.1 200 OK" * 200]
CHUNK = [b"ffffffff", b"fffffffff", b"0", b"0;ext=1", b"-1", b" 10", b"0x10", b"7fffffff", b"8000",
         b"1\r\nx\r\n" * 50 + b"0", b"", b"zz"]


def http_edit(rng, b, others):
    head, sep, body = b.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = b.partition(b"\n\n")
    eol = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
    lines = head.split(eol)
    op = rng.randrange(10)
    if op == 0 and len(lines) > 1:
        del lines[rng.randrange(1, len(lines))]
    elif op == 1:
        lines.insert(rng.randrange(1, len(lines) + 1), rng.choice(HEADER_LINES))
    elif op == 2:
        lines[0] = rng.choice(STATUS)
    elif op == 3:
        return eol.join(lines).replace(b"\r\n", b"\n") + b"\n\n" + body
    elif op == 4 and b"chunked" in head.lower():
        # replace one chunk-size line
        parts = body.split(b"\r\n")
        idx = [i for i, p in enumerate(parts) if p and all(c in b"0123456789abcdefABCDEF" for c in p)]
        if idx:
            parts[rng.choice(idx)] = rng.choice(CHUNK)
            body = b"\r\n".join(parts)
    elif op == 5:
        lines = [lines[0]] + [b"X-Pad-%d: %d" % (k, k) for k in range(rng.choice([63, 64, 65, 200]))] + lines[1:]
    elif op == 6:
        body = body[:rng.randrange(len(body) + 1)]
    elif op == 7:
        lines.insert(1, b"HTTP/1.1 100 Continue" + eol)
        lines = [b"HTTP/1.1 100 Continue", b""] + lines
    elif op == 8:
        body = byte_edit(rng, body, None)
    else:
        return byte_edit(rng, b, others)
    return eol.join(lines) + sep + body


TOKENS = [b" ", b",", b"=", b'"', b"\\", b"\t", b"realm", b"nonce", b"qop", b"auth", b"algorithm",
          b"SHA-256", b"MD5", b"-sess", b"Digest", b"Basic", b"Bearer", b"token68==", b"opaque", b"stale=true",
          b"userhash=true", b"GMT", b"UTC", b"Sun,", b"Sunday,", b"06", b"Nov", b"nov", b"1994", b"94",
          b"08:49:37", b"24:00:00", b"23:59:60", b"-", b"29-Feb-00", b"31-Feb-2024", b"99999999999", b"0",
          b"\xff", b"\x00", b"\r", b"x" * 100]


def text_edit(rng, b, others):
    b = bytearray(b)
    op = rng.randrange(4)
    i = rng.randrange(len(b) + 1)
    if op == 0:
        b[i:i] = rng.choice(TOKENS)
    elif op == 1:
        # replace one space-separated word
        words = bytes(b).split(b" ")
        words[rng.randrange(len(words))] = rng.choice(TOKENS)
        return b" ".join(words)
    elif op == 2:
        del b[i:i + rng.randint(1, 6)]
    else:
        return byte_edit(rng, bytes(b), others)
    return bytes(b)


# ---------------------------------------------------------------- recorded responses


def record():
    """Re-record seeds/http/*.bin: raw response bytes from the dev server."""
    from host_tools.devserver import DevServer
    from tinyest import csr, keys
    out = os.path.join(SEEDS, "http")
    os.makedirs(out, exist_ok=True)
    key = keys.load_private(vec("keys_p256_pkcs8.der"))
    auth = "Basic " + base64.b64encode(b"dev:secret").decode()
    # (file name, habits, method, operation, headers)
    plan = [
        ("cacerts_length", {}, "GET", "cacerts", []),
        ("cacerts_chunked", {"framing": "chunked", "chunk_size": 100, "b64_wrap": 76, "b64_eol": "\r\n"},
         "GET", "cacerts", []),
        ("cacerts_close_http10", {"framing": "close", "http10": True, "b64_wrap": 0, "b64_nul": True,
                                  "header_case": "upper"}, "GET", "cacerts", []),
        ("csrattrs_default", {}, "GET", "csrattrs", []),
        ("csrattrs_rfc7030", {"csrattrs": "rfc7030"}, "GET", "csrattrs", []),
        ("csrattrs_empty", {"csrattrs": "empty", "framing": "chunked"}, "GET", "csrattrs", []),
        ("csrattrs_none", {"csrattrs": "none"}, "GET", "csrattrs", []),
        ("enroll_401_basic", {}, "POST", "simpleenroll", []),
        ("enroll_401_digest", {"auth": ("digest-sha256", "digest-md5", "basic", "bearer")}, "POST",
         "simpleenroll", []),
        ("enroll_401_text", {"auth_failure": "text"}, "POST", "simpleenroll", [("Authorization", "Basic eDp5")]),
        ("enroll_200", {"enroll_chain": True}, "POST", "simpleenroll", [("Authorization", auth)]),
        ("enroll_202", {"deferred": 1}, "POST", "simpleenroll", [("Authorization", auth)]),
        ("enroll_202_date", {"deferred": 1, "retry_after_date": True}, "POST", "simpleenroll",
         [("Authorization", auth)]),
        ("serverkeygen", {"keygen_key": "ec"}, "POST", "serverkeygen", [("Authorization", auth)]),
        ("serverkeygen_lf", {"keygen_key": "ec", "multipart_eol": "\n"}, "POST", "serverkeygen",
         [("Authorization", auth)]),
        ("redirect", {"redirects": {"/.well-known/est/cacerts": "/.well-known/est/x/cacerts"}}, "GET",
         "cacerts", []),
        ("not_found", {}, "GET", "nosuch/cacerts", []),
    ]
    srv = DevServer(key_type="ec", intermediate=True)
    srv.add_user("dev", "secret")
    srv.start()
    try:
        ctx = ssl.create_default_context(cadata=srv.ca_der)
        for name, habits, method, op, hdrs in plan:
            srv.set_habits(**dict(_reset_habits(), **habits))
            raw = socket.create_connection((srv.host, srv.port))
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            lines = ["%s /.well-known/est/%s HTTP/1.1" % (method, op), "Host: 127.0.0.1:%d" % srv.port,
                     "Connection: close"] + ["%s: %s" % h for h in hdrs]
            data = b""
            if method == "POST":
                # one CSR per request: the server defers each distinct CSR once
                body = base64.encodebytes(csr_build.CsrBuilder().subject([("CN", "fuzz-" + name)]).sign(key))
                lines += ["Content-Type: application/pkcs10", "Content-Length: %d" % len(body)]
                data = body
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
            got = bytearray()
            while True:
                try:
                    chunk = s.recv(65536)
                except (ssl.SSLError, OSError):
                    break
                if not chunk:
                    break
                got += chunk
            s.close()
            with open(os.path.join(out, name + ".bin"), "wb") as f:
                f.write(bytes(got))
    finally:
        srv.stop()
    if srv.errors:
        raise SystemExit("dev server errors:\n" + srv.errors[0])


def _reset_habits():
    from host_tools.devserver import HABITS
    h = dict(HABITS)
    h["redirects"] = {}
    return h


def recorded():
    d = os.path.join(SEEDS, "http")
    return [(n[:-4], open(os.path.join(d, n), "rb").read()) for n in sorted(os.listdir(d)) if n.endswith(".bin")]


def _split_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers.append((k.strip().lower(), v.strip()))
    if any(k == b"transfer-encoding" for k, _ in headers):
        out, pos = b"", 0
        while True:
            eol = body.index(b"\r\n", pos)
            n = int(body[pos:eol], 16)
            if n == 0:
                break
            out += body[eol + 2:eol + 2 + n]
            pos = eol + 4 + n
        body = out
    return headers, body


# ---------------------------------------------------------------- seeds per target


def store_slots():
    from tinyest.store import Credentials, Pending, Store
    out = []
    c = Credentials()
    c.config = {"host": "est.example.com", "port": 8443, "flag": True, "blob": b"\x00\xff", "txt": "gr\u00fc\u00df"}
    c.trust = [vec("x509_ec_root.der")]
    c.boot_user = "device-1"
    c.boot_password = "pw"
    c.key_der = vec("keys_p256_pkcs8.der")
    c.chain = [vec("x509_ec_leaf.der")]
    c.pending = Pending("simplereenroll", b"\x30\x03\x02\x01\x05", vec("keys_ed25519_pkcs8.der"), 1700000000, 3)
    c.enrolled_at = 1690000000
    c.time_offset = -946684800
    small = Credentials()
    small.config = {"host": "h"}
    small.boot_password = b"\x00bytes"
    for name, cred in (("full", c), ("small", small), ("empty", Credentials())):
        fs = harness.MemFs()
        Store("/s", fs).commit(cred)
        out.append(("store_" + name, fs.files["/s/cred.a"]))
    return out


def seeds(target, rec):
    parsed = {n: _split_response(r) for n, r in rec}

    def hdr(name, h):
        return [v for k, v in parsed[name][0] if k == h]

    certs = vectors("x509_")
    made = crypto_certs()
    if target == "der":
        return [certs[0], ("csr", vec("csr_p256_cryptography.der")), ("p7_ber", vec("p7_ber.der")),
                ("spki", vec("keys_rsa2048_spki.der")), made[1],
                ("writer", tder.seq(tder.integer(-(1 << 70)), tder.oid("2.999.3"), tder.null(),
                                    tder.boolean(False), tder.set_of(tder.utf8("h\u00e9"), tder.printable("a b"),
                                                                     tder.ia5("x@y")),
                                    tder.utc_time(0), tder.generalized_time(2**33), tder.bit_string(b"\xf0", 4),
                                    tder.explicit(5, tder.octet_string(b"")), tder.implicit(2, b"\x01"),
                                    tder.tlv(0x1E, b"\x00a\xd8\x3d\xde\x00"), tder.tlv(0x1C, b"\x00\x00\x00a"),
                                    tder.tlv(0x14, b"\xe9"), tder.tlv(0x12, b"0 1")))]
    if target == "x509":
        return certs + made
    if target == "pkcs7":
        b64 = [(n, base64.b64decode(parsed[n][1])) for n in ("cacerts_length", "enroll_200")]
        return vectors("p7_") + crypto_pkcs7(made) + b64
    if target == "csrattrs":
        out = [(n, base64.b64decode(parsed[n][1].rstrip(b"\x00"))) for n in
               ("csrattrs_default", "csrattrs_rfc7030")]
        out.append(("rfc7030", base64.b64decode(
            "MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw==")))
        # a full extension in an extensionRequest, an RSA size, a hash OID
        ext = tder.seq(tder.oid("2.5.29.37"), tder.octet_string(tder.seq(tder.oid("1.3.6.1.5.5.7.3.2"))))
        out.append(("full_ext", tder.seq(
            tder.seq(tder.oid("1.2.840.113549.1.9.14"), tder.set_of(tder.seq(ext))),
            tder.seq(tder.oid("1.2.840.113549.1.1.1"), tder.set_of(tder.integer(3072))),
            tder.oid("2.16.840.1.101.3.4.2.2"), tder.oid("1.3.101.112"), tder.oid("1.2.3.4"))))
        return out
    if target == "pem":
        from tinyest import pem
        return [(n, vec(n + ".pem")) for n in ("keys_p256_sec1", "keys_rsa2048_pkcs8", "keys_ed25519_rfc8410",
                                               "keys_encrypted_pkcs8")] + [
            ("bundle", ("junk before\r\n" + pem.encode(vec("x509_ec_root.der"), "CERTIFICATE") + "between\n"
                        + pem.encode(vec("x509_ec_int.der"), "CERTIFICATE").replace("\n", "\r\n")).encode()),
            ("legacy", b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"
                       b"AAAA\n-----END RSA PRIVATE KEY-----\n")]
    if target == "keys":
        return [(n, vec(n + e)) for n, e in (
            ("keys_p256_pkcs8", ".der"), ("keys_p256_sec1", ".der"), ("keys_p384_pkcs8", ".der"),
            ("keys_p384_sec1", ".pem"), ("keys_rsa2048_pkcs1", ".der"), ("keys_rsa2048_pkcs8", ".pem"),
            ("keys_ed25519_pkcs8", ".der"), ("keys_ed25519_rfc8410", ".pem"), ("keys_encrypted_pkcs8", ".der"),
            ("keys_ed448_pkcs8", ".der"), ("keys_p521_pkcs8", ".der"))]
    if target == "spki":
        return vectors("keys_", "_spki.der")
    if target == "signature":
        return [(n, vec(n + ".sig")) for n in ("keys_p256_sha256", "keys_ed25519", "keys_p384_sha384")]
    if target == "csr":
        return [("csr_p256_cryptography", vec("csr_p256_cryptography.der"))] + crypto_csrs() + tinyest_csrs()
    if target == "store":
        return store_slots()
    if target == "store_body":
        return [(n, s[16:-32]) for n, s in store_slots()]
    if target == "http_response":
        return rec
    if target == "proxy_connect":
        tls = b"\x16\x03\x03\x00\x31\x02\x00\x00\x2d\x03\x03" + bytes(range(32))
        return [("established", b"HTTP/1.1 200 Connection established\r\n\r\n" + tls),
                ("http10_headers", b"HTTP/1.0 200 OK\r\nProxy-Agent: squid\r\nVia: 1.1 p\r\n\r\n" + tls),
                ("lf_only", b"\nHTTP/1.1 200 OK\nX: y\n\n" + tls),
                ("auth_required", b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                  b"Proxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\r\n"),
                ("continue", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")]
    if target == "b64body":
        return [(n, parsed[n][1]) for n in ("cacerts_length", "cacerts_chunked", "cacerts_close_http10",
                                             "csrattrs_rfc7030")] + [
            ("pem_body", b"\r\n" + harness.pem.encode(vec("p7_single.der"), "PKCS7").encode() + b"\x00"),
            ("raw_der", vec("p7_single.der"))]
    if target == "multipart":
        out = []
        for n in ("serverkeygen", "serverkeygen_lf"):
            ct = hdr(n, b"content-type")[0]
            out.append((n, ct + b"\n" + parsed[n][1]))
        return out
    if target == "http_date":
        out = []
        for n in ("enroll_202_date", "enroll_202"):
            out.append((n, hdr(n, b"retry-after")[0] + b"\n" + hdr(n, b"date")[0]))
        out += [("rfc850", b"Sunday, 06-Nov-94 08:49:37 GMT"), ("asctime", b"Sun Nov  6 08:49:37 1994\nx"),
                ("delta", b"120\nSun, 06 Nov 1994 08:49:37 GMT")]
        return out
    if target == "www_authenticate":
        out = [(n, b"\n".join(hdr(n, b"www-authenticate"))) for n in ("enroll_401_basic", "enroll_401_digest")]
        out += [("rfc7616", b'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
                            b'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
                            b'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'),
                ("token68", b'Negotiate YIIB==, Basic realm="a\\"b", charset="UTF-8", Bearer'),
                ("userhash", b'Digest realm="r", nonce="n", algorithm=MD5-sess, userhash=true, qop=auth')]
        return out
    if target == "coap":
        import test_coap  # tests/core: the codec's vectors

        return [(n.lower(), getattr(test_coap, n)) for n in ("GET_TEMPERATURE", "CONTENT_281", "EXTENDED",
                                                              "BLOCKS")] + [
            ("empty_ack", b"\x60\x00\x12\x34"), ("reset", b"\x70\x00\x12\x34"),
            ("continue_block1", bytes.fromhex("685f0001") + b"12345678" + bytes.fromhex("d1 0e 0e".replace(" ", "")))]
    if target == "coap_links":
        import test_coap_formats  # tests/core

        return [("full", test_coap_formats.FULL.encode()), ("root", test_coap_formats.ROOT.encode()),
                ("mixed", test_coap_formats.MIXED.encode())]
    if target == "multipart_core":
        import test_coap_formats

        return [("skg", test_coap_formats.SKG), ("null", bytes.fromhex("8400f6191c0140")),
                ("long_heads", bytes.fromhex("821a000000115900 03616263".replace(" ", "")))]
    raise KeyError(target)


def mutator(target):
    if target in ("der", "x509", "pkcs7", "csrattrs", "keys", "spki", "csr", "signature"):
        def m(rng, b, others):
            r = rng.random()
            if r < 0.45:
                out = tree_edit(rng, b, others)
            elif r < 0.7:
                out = header_edit(rng, b)
            else:
                out = None
            return out if out is not None else byte_edit(rng, b, others)
        return m
    if target in ("http_response", "proxy_connect"):
        return http_edit
    if target in ("pem", "http_date", "www_authenticate", "multipart", "b64body", "coap_links"):
        return lambda rng, b, others: (text_edit if rng.random() < 0.6 else byte_edit)(rng, b, others)
    return byte_edit


# ---------------------------------------------------------------- selection


def coverage(name, data):
    """(outcome, set of (file, line, next line) of tinyest executed)."""
    seen = set()
    tin = os.path.join(ROOT, "tinyest")

    def local(frame, event, arg):
        if event == "line":
            key = (frame.f_code.co_filename, frame.f_lineno)
            seen.add((key, local.prev))
            local.prev = frame.f_lineno
        return local

    local.prev = 0

    def glob(frame, event, arg):
        if frame.f_code.co_filename.startswith(tin):
            return local
        return None

    sys.settrace(glob)
    t0 = time.monotonic()
    try:
        outcome = harness.run(name, data)
    except Exception as e:  # a finding: reported, not written
        outcome = e
    finally:
        sys.settrace(None)
    return outcome, seen, time.monotonic() - t0


def generate(target, rec, report):
    base = seeds(target, rec)
    rng = random.Random("tinyest fuzz corpus " + target)
    others = [b for _, b in base]
    mut = mutator(target)
    cand = [(n, b) for n, b in base]
    for k in range(CANDIDATES):
        n, b = base[k % len(base)]
        m = b
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            m = mut(rng, m, others)
        if len(m) <= MAX_FILE:
            cand.append(("%s-m%04d" % (n, k), m))
    keep, covered, findings = [], set(), []
    for i, (n, b) in enumerate(cand):
        outcome, seen, dt = coverage(target, b)
        if isinstance(outcome, BaseException):
            findings.append((n, b, outcome))
            continue
        new = seen - covered
        if i < len(base) or (new and len(keep) < BUDGET[target]):
            keep.append((n, b, outcome, len(new)))
            covered |= seen
    # trim to the budget, seeds first, then by how much each added
    seeds_part = keep[:len(base)]
    rest = sorted(keep[len(base):], key=lambda t: -t[3])[:max(0, BUDGET[target] - len(seeds_part))]
    chosen = seeds_part + rest
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if not f.startswith("crash-"):
            os.remove(os.path.join(d, f))
    for n, b, _, _ in chosen:
        with open(os.path.join(d, _safe(n) + ".bin"), "wb") as f:
            f.write(b)
    for n, b, e in findings:
        report.append((target, n, b, e))
    ok = sum(1 for c in chosen if c[2] == "ok")
    return len(cand), len(chosen), ok, len(covered)


def _safe(n):
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in n)


def stats():
    total_files = total_bytes = 0
    for t in sorted(os.listdir(CORPUS)):
        d = os.path.join(CORPUS, t)
        files = os.listdir(d)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in files)
        total_files += len(files)
        total_bytes += size
        print("%-18s %4d files %8d bytes" % (t, len(files), size))
    print("%-18s %4d files %8d bytes" % ("total", total_files, total_bytes))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--record", action="store_true", help="re-record seeds/http from the dev server first")
    ap.add_argument("--stats", action="store_true", help="only print the corpus size")
    ap.add_argument("targets", nargs="*", help="targets to regenerate (default: all)")
    a = ap.parse_args()
    if a.stats:
        stats()
        return
    if a.record:
        record()
    rec = recorded()
    report = []
    for target, _ in harness.TARGETS:
        if a.targets and target not in a.targets:
            continue
        n, k, ok, cov = generate(target, rec, report)
        print("%-18s %5d candidates, kept %3d (%3d accepted), %5d arcs" % (target, n, k, ok, cov))
    for target, n, b, e in report:
        sys.stderr.write("FINDING %s %s: %s: %s\n  %s\n" % (target, n, type(e).__name__, e, b.hex()[:400]))
    stats()


if __name__ == "__main__":
    main()
