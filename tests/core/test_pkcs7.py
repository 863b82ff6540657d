"""tinyest.pkcs7 on both runtimes. The PKCS#7 vectors come from openssl crl2pkcs7,
cryptography's serialize_certificates and a hand-made BER variant
(tests/vectors/make_x509.py); p7_expected.json names the certificates in each."""

import json

from _t import h, raises, vector

from tinyest import der, der_extra, pkcs7, pkcs7_write, x509
from tinyest.errors import DERError, EstError, FormatError

OID_SIGNED = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"


def expected():
    return json.loads(str(vector("p7_expected.json"), "utf-8"))


def test_vectors_give_the_certificates():
    exp = expected()
    assert sorted(exp) == ["ber", "crl", "crypto", "empty", "openssl", "single"]
    for name in sorted(exp):
        data = vector("p7_%s.der" % name)
        got = pkcs7.certificates(data)
        want = [vector("x509_%s.der" % n) for n in exp[name]]
        assert len(got) == len(want), name
        for g, w in zip(got, want):
            assert isinstance(g, memoryview), name
            assert bytes(g) == w, name
        objs = pkcs7.load(data)
        assert [bytes(c.der) for c in objs] == want, name
        assert all([isinstance(c, x509.Certificate) for c in objs])


def test_zero_copy():
    buf = bytearray(vector("p7_openssl.der"))
    certs = pkcs7.certificates(buf)
    last = certs[3]
    before = bytes(last)
    buf[len(buf) - 3] ^= 0xFF  # inside the last certificate's signature
    assert bytes(last) != before


def test_crls():
    assert [bytes(c) for c in pkcs7.crls(vector("p7_crl.der"))] == [vector("p7_crl_inner.der")]
    assert pkcs7.crls(vector("p7_openssl.der")) == []
    assert pkcs7.crls(vector("p7_empty.der")) == []
    root = vector("x509_ec_root.der")
    assert len(pkcs7.crls(_p7(certs=[root], crls_field=der.tlv(0xA1, b"\x30\x00" * 16)))) == 16
    raises(FormatError, pkcs7.crls, _p7(certs=[root], crls_field=der.tlv(0xA1, b"\x30\x00" * 17)))
    raises(FormatError, pkcs7.crls, _p7(certs=[root], crls_field=der.tlv(0xA1, der_extra.implicit(1, b"", True))))


def test_encode_matches_openssl():
    exp = expected()
    for name in ("openssl", "single", "empty", "crypto"):
        certs = [vector("x509_%s.der" % n) for n in exp[name]]
        assert pkcs7_write.encode_certs_only(certs) == vector("p7_%s.der" % name), name
    certs = [vector("x509_%s.der" % n) for n in exp["crl"]]
    assert pkcs7_write.encode_certs_only(certs, [vector("p7_crl_inner.der")]) == vector("p7_crl.der")
    # memoryviews in, same bytes out
    mvs = pkcs7.certificates(vector("p7_openssl.der"))
    assert pkcs7_write.encode_certs_only(mvs) == vector("p7_openssl.der")
    raises(DERError, pkcs7_write.encode_certs_only, [b"\x30\x05\x00"])
    raises(FormatError, pkcs7_write.encode_certs_only, [b"\x30\x00"] * 65)


def _ind(tag, *parts):
    return bytes((tag, 0x80)) + b"".join(parts) + b"\x00\x00"


def _p7(certs_field=None, version=1, algs=b"", eci=None, crls_field=None, signers=b"", outer_oid=OID_SIGNED,
        certs=None):
    if eci is None:
        eci = der.seq(der.oid(OID_DATA))
    if certs_field is None and certs is not None:
        certs_field = der.tlv(0xA0, *certs)
    parts = [der.integer(version), der.tlv(der.SET, algs), eci]
    if certs_field is not None:
        parts.append(certs_field)
    if crls_field is not None:
        parts.append(crls_field)
    parts.append(der.tlv(der.SET, signers))
    return der.seq(der.oid(outer_oid), der.explicit(0, der.seq(*parts)))


def test_ber_framing():
    root = vector("x509_ec_root.der")
    leaf = vector("x509_ec_leaf.der")
    # Indefinite length on the certificates set only, and on everything.
    data = _p7(certs_field=_ind(0xA0, leaf, root))
    assert [bytes(c) for c in pkcs7.certificates(data)] == [leaf, root]
    sd = _ind(0x30, der.integer(1), _ind(0x31), _ind(0x30, der.oid(OID_DATA)), _ind(0xA0, root), _ind(0xA1),
              _ind(0x31))
    data = _ind(0x30, der.oid(OID_SIGNED), _ind(0xA0, sd))
    assert [bytes(c) for c in pkcs7.certificates(data)] == [root]
    assert pkcs7.crls(data) == []
    # The certificates themselves must be DER.
    r = der.top(root)
    inner = []
    while not r.empty():
        inner.append(bytes(r.read_element()))
    ber_cert = _ind(0x30, *inner)
    raises(DERError, pkcs7.certificates, _p7(certs_field=_ind(0xA0, ber_cert)))
    raises(DERError, pkcs7.certificates, _p7(certs=[b"\x30\x81\x05" + root[2:7]]))


def _hostile():
    root = vector("x509_ec_root.der")
    good = vector("p7_single.der")
    many = der.tlv(0xA0, b"\x30\x00" * 10000)
    return [
        ("empty", b"", DERError),
        ("text", "MIIB", FormatError),
        ("truncated", good[:-1], DERError),
        ("trailing byte", good + b"\x00", DERError),
        ("a certificate", root, DERError),
        ("id-data outer", _p7(certs=[root], outer_oid=OID_DATA), FormatError),
        ("version 2", _p7(certs=[root], version=2), FormatError),
        ("version 0", _p7(certs=[root], version=0), FormatError),
        ("digest algorithms", _p7(certs=[root], algs=der.seq(der.oid("2.16.840.1.101.3.4.2.1"))), FormatError),
        ("content present", _p7(certs=[root], eci=der.seq(der.oid(OID_DATA), der.explicit(0, der.octet_string(b"x")))),
         FormatError),
        ("content type not data", _p7(certs=[root], eci=der.seq(der.oid("1.2.840.113549.1.9.16.1.4"))),
         FormatError),
        ("signers", _p7(certs=[root], signers=der.seq(der.integer(1))), FormatError),
        ("no signerInfos", der.seq(der.oid(OID_SIGNED), der.explicit(0, der.seq(
            der.integer(1), der.tlv(der.SET), der.seq(der.oid(OID_DATA)), der.tlv(0xA0, root)))), DERError),
        ("content not explicit", der.seq(der.oid(OID_SIGNED), der.seq(der.integer(1))), DERError),
        ("attribute certificate", _p7(certs_field=der.tlv(0xA0, der_extra.implicit(1, b"\x00", True))), FormatError),
        ("other certificate format", _p7(certs_field=der.tlv(0xA0, der_extra.implicit(3, b"", True))), FormatError),
        ("10000 certificates", _p7(certs_field=many), FormatError),
        ("65 certificates", _p7(certs=[b"\x30\x00"] * 65), FormatError),
        ("17 CRLs skipped unread", _p7(certs=[root], crls_field=der.tlv(0xA1, b"\x30\x00" * 17)), None),
        ("huge length", h("3084 7fffffff") + good[4:], DERError),
        ("huge certificates length", _p7(certs_field=h("a084 7fffffff") + root), DERError),
        ("certificate past its set", _p7(certs_field=h("a003") + root), DERError),
        ("indefinite without end", h("3080") + good[4:], DERError),
        ("indefinite primitive", h("0680") + good[2:], DERError),
        ("nested indefinite too deep", _ind(0x30, der.oid(OID_SIGNED), *[b"\xa0\x80"] * 40 + [b"\x00\x00"] * 40),
         DERError),
        ("CRL set skipped unread", _p7(certs=[root], crls_field=der.tlv(0xA1, b"\x30\x00")), None),
    ]


def test_hostile_pkcs7():
    for name, data, exc in _hostile():
        if exc is None:  # accepted on purpose
            pkcs7.certificates(data)
            continue
        try:
            pkcs7.certificates(data)
        except exc:
            continue
        except EstError as e:
            raise AssertionError("%s: %s instead of %s (%s)" % (name, type(e).__name__, exc.__name__, e))
        raise AssertionError("%s: accepted" % name)


def test_mutations_only_raise_est_errors():
    raw = vector("p7_ber.der")
    for i in range(0, 200):
        for data in (raw[:i] + bytes((raw[i] ^ 0x80,)) + raw[i + 1:], raw[:i]):
            try:
                for c in pkcs7.certificates(data):
                    x509.Certificate(c)
            except EstError:
                pass


def test_indefinite_lengths_nest_only_as_deep_as_the_cms_layers():
    # BER framing walks an indefinite element's contents each time a level is read:
    # nesting beyond MAX_BER_DEPTH is refused, so the cost stays a few passes.
    leaf = der.seq(der.integer(1))
    for depth, ok in ((der.MAX_BER_DEPTH, True), (der.MAX_BER_DEPTH + 1, False)):
        enc = leaf
        for _ in range(depth):
            enc = b"\x30\x80" + enc + b"\x00\x00"
        r = der.Reader(enc, ber=True)
        if ok:
            r.skip()
            r.done()
        else:
            e = raises(DERError, r.skip)
            assert "nested deeper" in str(e), e
    # Many siblings at the deepest level: still refused or walked, never slow.
    wide = b"\x30\x80" * 7 + leaf * 3000 + b"\x00\x00" * 7
    raises(DERError, der.Reader(wide, ber=True).skip)


def test_input_size_is_bounded_before_parsing():
    # A message beyond MAX_MESSAGE, from a file or an API call, is refused at once,
    # before any BER walk (deep indefinite framing costs a walk per level).
    data = vector("p7_single.der")
    big = data + bytes(pkcs7.MAX_MESSAGE)
    e = raises(FormatError, pkcs7.certificates, big)
    assert "limit" in str(e), e
    assert len(pkcs7.certificates(data)) >= 1
