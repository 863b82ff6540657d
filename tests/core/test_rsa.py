from _t import h, raises, vector

from tinyest import der, der_extra, hashes, rsa
from tinyest.errors import CryptoError, DERError, EstError, FormatError

MESSAGE = b"tinyest keys test message\n"  # as in tests/vectors/make_keys.py

# RFC 4055 section 5 / RFC 8017 A.2.4: the AlgorithmIdentifiers with NULL parameters
ALG = {
    "sha256": h("300d06092a864886f70d01010b0500"),
    "sha384": h("300d06092a864886f70d01010c0500"),
    "sha512": h("300d06092a864886f70d01010d0500"),
}


def _digest(name, data):
    return getattr(hashes, name)(data)


def test_bit_length():
    for x, n in ((0, 0), (1, 1), (2, 2), (255, 8), (256, 9), (2**2048 - 1, 2048), (2**4096, 4097)):
        assert rsa.bit_length(x) == n, x


def test_rsa2048_matches_cryptography():
    pkcs1 = vector("keys_rsa2048_pkcs1.der")
    pkcs8 = vector("keys_rsa2048_pkcs8.der")
    for name, data in (("pkcs1", pkcs1), ("pkcs8", pkcs8)):
        key = rsa.from_der(data)
        assert key.bits == 2048, name
        assert key.kind == "rsa", name
        assert key.to_pkcs1() == pkcs1, name
        assert key.to_der() == pkcs8, name
        assert key.public_key_der() == vector("keys_rsa2048_spki.der"), name
        assert key.algorithm_der() == ALG["sha256"], name
    assert rsa.from_pkcs1(pkcs1).to_der() == pkcs8
    for hn in ("sha256", "sha384", "sha512"):
        key = rsa.from_der(pkcs1, hn)
        assert key.algorithm_der() == ALG[hn], hn
        sig = key.sign(MESSAGE)
        assert sig == vector("keys_rsa2048_%s.sig" % hn), hn  # v1.5 is deterministic
        assert rsa.verify(key.n, key.e, hn, _digest(hn, MESSAGE), sig), hn


def test_rsa4096_matches_cryptography():
    key = rsa.from_der(vector("keys_rsa4096_pkcs8.der"))
    assert key.bits == 4096
    assert key.to_pkcs1() == vector("keys_rsa4096_pkcs1.der")
    assert key.public_key_der() == vector("keys_rsa4096_spki.der")
    assert key.sign(MESSAGE) == vector("keys_rsa4096_sha256.sig")
    n, e = key.public_numbers()
    sig = vector("keys_rsa4096_sha512.sig")
    assert rsa.verify(n, e, "sha512", _digest("sha512", MESSAGE), sig)
    assert not rsa.verify(n, e, "sha256", _digest("sha256", MESSAGE), sig)


def test_verify_rejects():
    key = rsa.from_der(vector("keys_rsa2048_pkcs1.der"))
    n, e = key.n, key.e
    d = _digest("sha256", MESSAGE)
    sig = vector("keys_rsa2048_sha256.sig")
    assert rsa.verify(n, e, "sha256", d, sig)
    flipped = bytearray(sig)
    flipped[100] ^= 0x40
    other = _digest("sha256", MESSAGE + b".")
    cases = [
        ("other message", "sha256", other, sig),
        ("flipped bit", "sha256", d, bytes(flipped)),
        ("sha384 name for sha256 signature", "sha384", _digest("sha384", MESSAGE), sig),
        ("short digest", "sha256", d[:31], sig),
        ("long digest", "sha256", d + b"\x00", sig),
        ("signature one byte short", "sha256", d, sig[1:]),
        ("signature with a leading zero", "sha256", d, b"\x00" + sig),
        ("signature = n", "sha256", d, n.to_bytes(256, "big")),
        ("signature all ones", "sha256", d, b"\xff" * 256),
        ("zero signature", "sha256", d, bytes(256)),
        ("signature 1", "sha256", d, bytes(255) + b"\x01"),
        ("empty signature", "sha256", d, b""),
    ]
    for name, hn, digest, s in cases:
        assert rsa.verify(n, e, hn, digest, s) is False, name


def _forge(n, d_priv, em):
    return pow(int.from_bytes(em, "big"), d_priv, n).to_bytes(256, "big")


def test_verify_compares_the_whole_encoding():
    # Signatures (made with the private exponent) over encodings a sloppy padding
    # parser accepts: each must be refused.
    key = rsa.from_der(vector("keys_rsa2048_pkcs1.der"))
    n, e, dpriv = key.n, key.e, key._d
    d = _digest("sha256", MESSAGE)
    good = rsa.encode("sha256", d, 256)
    assert rsa.verify(n, e, "sha256", d, _forge(n, dpriv, good))
    info = good[len(good) - 51:]
    no_null = h("302f300b0609608648016503040201") + b"\x04\x20" + d
    cases = [
        ("block type 2", b"\x00\x02" + good[2:]),
        ("short padding, garbage after digest", b"\x00\x01" + b"\xff" * 8 + b"\x00" + info + bytes(256 - 11 - 51)),
        ("a zero byte in the padding", good[:20] + b"\x00" + good[21:]),
        ("DigestInfo without NULL", b"\x00\x01" + b"\xff" * (256 - 3 - len(no_null)) + b"\x00" + no_null),
        ("padding not 0xff", good[:10] + b"\xfe" + good[11:]),
        ("no separator", good[:len(good) - 52] + b"\xff" + info),
    ]
    for name, em in cases:
        assert len(em) == 256, name
        assert not rsa.verify(n, e, "sha256", d, _forge(n, dpriv, em)), name


def test_encode_rfc8017():
    # RFC 8017 9.2: 00 01 FF..FF 00 || DigestInfo, DigestInfo prefixes from note 1
    d = bytes(range(32))
    em = rsa.encode("sha256", d, 64)
    assert em == h("0001") + b"\xff" * 10 + h("00 3031300d060960864801650304020105000420") + d
    assert rsa.encode("sha384", bytes(48), 128)[-67:-48] == h("3041300d060960864801650304020205000430")
    assert rsa.encode("sha512", bytes(64), 128)[-83:-64] == h("3051300d060960864801650304020305000440")
    raises(CryptoError, rsa.encode, "sha256", d, 61)  # fewer than 8 padding bytes
    raises(FormatError, rsa.encode, "sha1", bytes(20), 64)


def test_sizes():
    k1024 = vector("keys_rsa1024_pkcs1.der")
    e = raises(FormatError, rsa.from_der, k1024)
    assert "1024" in str(e)
    n = rsa.from_der(vector("keys_rsa2048_pkcs1.der")).n
    raises(FormatError, rsa.verify, n >> 1100, 65537, "sha256", bytes(32), bytes(128))
    raises(FormatError, rsa.verify, (n << 2050) | 1, 65537, "sha256", bytes(32), bytes(513))
    raises(FormatError, rsa.verify, n, 65537, "md5", bytes(16), bytes(256))
    raises(FormatError, rsa.verify, n, 1, "sha256", bytes(32), bytes(256))
    raises(FormatError, rsa.verify, n, 65536, "sha256", bytes(32), bytes(256))
    raises(FormatError, rsa.verify, n, 2**256 + 1, "sha256", bytes(32), bytes(256))
    raises(FormatError, rsa.verify, n + 1, 65537, "sha256", bytes(32), bytes(256))
    raises(FormatError, rsa.from_der, vector("keys_rsa2048_pkcs1.der"), "sha1")


def test_fault_guard():
    key = rsa.from_der(vector("keys_rsa2048_pkcs1.der"))
    key._dp ^= 2  # a fault in one CRT half
    raises(CryptoError, key.sign, MESSAGE)
    key = rsa.from_der(vector("keys_rsa2048_pkcs1.der"))
    key._qinv += 1
    raises(CryptoError, key.sign, MESSAGE)


def _pkcs1_fields():
    r = der.top(vector("keys_rsa2048_pkcs1.der"))
    return [r.read_int() for _ in range(9)]


def _pkcs1(v, tail=b""):
    return der.seq(*([der.integer(x) for x in v] + [tail]))


def test_from_der_hostile():
    v = _pkcs1_fields()
    assert _pkcs1(v) == vector("keys_rsa2048_pkcs1.der")
    n, e, d, p, q, dp, dq, qi = v[1:]
    pkcs1 = vector("keys_rsa2048_pkcs1.der")
    alg = h("300d06092a864886f70d0101010500")

    def pkcs8(version=0, a=alg, inner=pkcs1, tail=b""):
        return der.seq(der.integer(version), a, der.octet_string(inner), tail)

    pub = b"\x00" + der.seq(der.integer(n), der.integer(e))
    cases = [
        ("empty", b"", DERError),
        ("trailing", pkcs1 + b"\x00", DERError),
        ("truncated", pkcs1[:-1], DERError),
        ("version 1 (multi-prime)", _pkcs1([1] + v[1:]), FormatError),
        ("extra field", _pkcs1(v, der.integer(1)), DERError),
        ("missing qinv", _pkcs1(v[:8]), DERError),
        ("p and q swapped", _pkcs1([0, n, e, d, q, p, dp, dq, qi]), FormatError),
        ("dp and dq swapped", _pkcs1([0, n, e, d, p, q, dq, dp, qi]), FormatError),
        ("wrong qinv", _pkcs1([0, n, e, d, p, q, dp, dq, qi + 1]), FormatError),
        ("qinv + p", _pkcs1([0, n, e, d, p, q, dp, dq, qi + p]), FormatError),
        ("dp + (p-1)", _pkcs1([0, n, e, d, p, q, dp + p - 1, dq, qi]), FormatError),
        ("wrong e", _pkcs1([0, n, 3, d, p, q, dp, dq, qi]), FormatError),
        ("even e", _pkcs1([0, n, 65536, d, p, q, dp, dq, qi]), FormatError),
        ("negative d", _pkcs1([0, n, e, -d, p, q, dp, dq, qi]), FormatError),
        ("zero q", _pkcs1([0, n, e, d, p, 0, dp, dq, qi]), FormatError),
        ("n off by two", _pkcs1([0, n + 2, e, d, p, q, dp, dq, qi]), FormatError),
        ("huge d", _pkcs1([0, n, e, d + n * n, p, q, dp, dq, qi]), FormatError),
        ("PKCS#8 version 2", pkcs8(2), FormatError),
        ("PKCS#8 params absent", pkcs8(a=h("300b06092a864886f70d010101")), FormatError),
        ("PKCS#8 RSASSA-PSS", pkcs8(a=h("300b06092a864886f70d01010a")), FormatError),
        ("PKCS#8 inner trailing", pkcs8(inner=pkcs1 + b"\x00"), DERError),
        ("PKCS#8 public key in v0", pkcs8(0, tail=der_extra.implicit(1, pub)), FormatError),
        ("PKCS#8 wrong public key", pkcs8(1, tail=der_extra.implicit(1, b"\x00" + der.seq(der.integer(n), der.integer(3)))),
         FormatError),
        ("PKCS#8 trailing", pkcs8(tail=der.null()), DERError),
        ("not a sequence", der.integer(5), DERError),
    ]
    for name, data, exc in cases:
        err = raises(EstError, rsa.from_der, data)
        assert isinstance(err, exc), "%s: %r" % (name, err)
    assert rsa.from_der(pkcs8(1, tail=der_extra.implicit(1, pub))).to_pkcs1() == pkcs1
    assert rsa.from_der(pkcs8(0, tail=der.explicit(0))).to_pkcs1() == pkcs1


def test_public_from_der():
    n, e = rsa.from_der(vector("keys_rsa2048_pkcs1.der")).public_numbers()
    good = der.seq(der.integer(n), der.integer(e))
    assert rsa.public_from_der(good) == (n, e)
    cases = [
        ("negative n", der.seq(der.integer(-n), der.integer(e)), FormatError),
        ("zero e", der.seq(der.integer(n), der.integer(0)), FormatError),
        ("trailing", der.seq(der.integer(n), der.integer(e), der.null()), DERError),
        ("non-minimal n", der.seq(der.tlv(der.INTEGER, b"\x00\x00" + n.to_bytes(256, "big")), der.integer(e)),
         DERError),
        ("n 1024 bits", der.seq(der.integer(n >> 1024 | 1), der.integer(e)), FormatError),
    ]
    for name, data, exc in cases:
        err = raises(EstError, rsa.public_from_der, data)
        assert isinstance(err, exc), "%s: %r" % (name, err)
