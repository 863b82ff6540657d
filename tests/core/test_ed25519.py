from _t import h, raises, vector

from tinyest import der, der_extra, ed25519
from tinyest.errors import CryptoError, DERError, EstError, FormatError

MESSAGE = b"tinyest keys test message\n"  # as in tests/vectors/make_keys.py
L = 2**252 + 27742317777372353535851937790883648493
P = 2**255 - 19


def _rfc8032():
    out = []
    for line in vector("keys_rfc8032.txt").decode().split("\n"):
        if line:
            name, sk, pk, msg, sig = line.split(" ")
            out.append((name, h(sk), h(pk), b"" if msg == "-" else h(msg), h(sig)))
    return out


def test_rfc8032_section_7_1():
    vectors = _rfc8032()
    assert [v[0] for v in vectors] == ["TEST1", "TEST2", "TEST3", "TEST1024", "TEST_SHA_abc"]
    assert len(vectors[3][3]) == 1023
    for name, sk, pk, msg, sig in vectors:
        key = ed25519.from_secret(sk)
        assert key.public_bytes() == pk, name
        assert key.sign(msg) == sig, name
        assert ed25519.verify(pk, msg, sig), name


def test_rfc8032_tampered():
    for name, sk, pk, msg, sig in _rfc8032():
        if name == "TEST1024":
            continue  # the short messages cover it; keeps the MicroPython run fast
        assert not ed25519.verify(pk, msg + b"\x00", sig), name
        bad = bytearray(sig)
        bad[5] ^= 0x01
        assert not ed25519.verify(pk, msg, bytes(bad)), name + " R"
        bad = bytearray(sig)
        bad[40] ^= 0x01
        assert not ed25519.verify(pk, msg, bytes(bad)), name + " S"
        bad = bytearray(pk)
        bad[0] ^= 0x01
        assert not ed25519.verify(bytes(bad), msg, sig), name + " key"


def test_memoryview_inputs():
    name, sk, pk, msg, sig = _rfc8032()[2]
    key = ed25519.from_secret(memoryview(sk))
    assert key.sign(memoryview(msg)) == sig
    assert ed25519.verify(memoryview(pk), memoryview(msg), memoryview(sig))


def test_verify_is_strict():
    name, sk, pk, msg, sig = _rfc8032()[1]
    s = int.from_bytes(sig[32:], "little")
    non_canonical_s = sig[:32] + (s + L).to_bytes(32, "little")
    y_is_p = P.to_bytes(32, "little")  # y = p: the non-canonical form of y = 0
    y_p_plus_1 = (P + 1).to_bytes(32, "little")  # non-canonical y = 1 (the identity)
    minus_zero = (1 | (1 << 255)).to_bytes(32, "little")  # y = 1 with x = 0 "negative"
    not_on_curve = (2).to_bytes(32, "little")  # (y*y-1)/(d*y*y+1) is not a square
    cases = [
        ("S + L", pk, msg, non_canonical_s),
        ("S = L", pk, msg, sig[:32] + L.to_bytes(32, "little")),
        ("S all ones", pk, msg, sig[:32] + b"\xff" * 32),
        ("signature 63 bytes", pk, msg, sig[:63]),
        ("signature 65 bytes", pk, msg, sig + b"\x00"),
        ("empty signature", pk, msg, b""),
        ("key 31 bytes", pk[:31], msg, sig),
        ("key 33 bytes", pk + b"\x00", msg, sig),
        ("key y = p", y_is_p, msg, sig),
        ("key y = p + 1", y_p_plus_1, msg, sig),
        ("key -0", minus_zero, msg, sig),
        ("key not on curve", not_on_curve, msg, sig),
        ("R not canonical", pk, msg, y_p_plus_1 + sig[32:]),
        ("all zero", bytes(32), msg, bytes(64)),
    ]
    for name, key, m, s in cases:
        assert ed25519.verify(key, m, s) is False, name


def test_committed_key_matches_cryptography():
    key = ed25519.from_der(vector("keys_ed25519_pkcs8.der"))
    assert key.to_der() == vector("keys_ed25519_pkcs8.der")
    assert key.public_key_der() == vector("keys_ed25519_spki.der")
    assert key.sign(MESSAGE) == vector("keys_ed25519.sig")
    assert ed25519.verify(key.public_bytes(), MESSAGE, vector("keys_ed25519.sig"))
    assert key.algorithm_der() == h("300506032b6570")  # RFC 8410 section 3
    assert key.kind == "ed25519"


def test_rfc8410_one_asymmetric_key():
    from tinyest import pem

    key = ed25519.from_der(pem.decode(vector("keys_ed25519_rfc8410.pem"), "PRIVATE KEY"))
    assert key.public_key_der() == vector("keys_ed25519_rfc8410_spki.der")
    assert key.to_der()[:16] == h("302e020100300506032b657004220420")


def test_generate():
    a = ed25519.generate()
    b = ed25519.generate()
    assert a.public_bytes() != b.public_bytes()
    sig = a.sign(b"x")
    assert len(sig) == 64
    assert ed25519.verify(a.public_bytes(), b"x", sig)
    assert not ed25519.verify(b.public_bytes(), b"x", sig)
    assert ed25519.from_der(a.to_der()).public_bytes() == a.public_bytes()


def test_bad_secret():
    raises(CryptoError, ed25519.from_secret, bytes(31))
    raises(CryptoError, ed25519.from_secret, bytes(33))


def _pkcs8(version=0, alg=None, inner=None, tail=b""):
    alg = der.seq(der.oid("1.3.101.112")) if alg is None else alg
    inner = der.octet_string(bytes(range(32))) if inner is None else inner
    return der.seq(der.integer(version), alg, der.octet_string(inner), tail)


def test_from_der_hostile():
    good = _pkcs8()
    assert ed25519.from_der(good).to_der() == good
    pub = ed25519.from_der(good).public_bytes()
    other = ed25519.from_secret(bytes(32)).public_bytes()
    cases = [
        ("empty", b"", DERError),
        ("trailing byte", good + b"\x00", DERError),
        ("truncated", good[:-1], DERError),
        ("version 2", _pkcs8(2), FormatError),
        ("version -1", _pkcs8(-1), FormatError),
        ("X25519 OID", _pkcs8(alg=der.seq(der.oid("1.3.101.110"))), FormatError),
        ("Ed448 OID", _pkcs8(alg=der.seq(der.oid("1.3.101.113"))), FormatError),
        ("NULL parameters", _pkcs8(alg=der.seq(der.oid("1.3.101.112"), der.null())), FormatError),
        ("seed 31 bytes", _pkcs8(inner=der.octet_string(bytes(31))), FormatError),
        ("seed 64 bytes", _pkcs8(inner=der.octet_string(bytes(64))), FormatError),
        ("seed not wrapped", _pkcs8(inner=bytes(32)), DERError),
        ("inner trailing", _pkcs8(inner=der.octet_string(bytes(32)) + b"\x05\x00"), DERError),
        ("public key in v0", _pkcs8(0, tail=der_extra.implicit(1, b"\x00" + pub)), FormatError),
        ("wrong public key in v1", _pkcs8(1, tail=der_extra.implicit(1, b"\x00" + other)), FormatError),
        ("public key unused bits", _pkcs8(1, tail=der_extra.implicit(1, b"\x01" + pub)), FormatError),
        ("element after public key", _pkcs8(1, tail=der_extra.implicit(1, b"\x00" + pub) + der.null()), DERError),
        ("attributes after public key", _pkcs8(1, tail=der_extra.implicit(1, b"\x00" + pub) + der.explicit(0)), DERError),
        ("not a sequence", der.octet_string(bytes(32)), DERError),
    ]
    for name, data, exc in cases:
        e = raises(EstError, ed25519.from_der, data)
        assert isinstance(e, exc), "%s: %r" % (name, e)
    assert ed25519.from_der(_pkcs8(1, tail=der_extra.implicit(1, b"\x00" + pub))).public_bytes() == pub
    assert ed25519.from_der(_pkcs8(1, tail=der.explicit(0))).public_bytes() == pub
