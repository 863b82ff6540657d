from _t import h, raises, vector

from tinyest import der, keys, pem
from tinyest.errors import CryptoError, DERError, EstError, FormatError, VerifyError

MESSAGE = b"tinyest keys test message\n"  # as in tests/vectors/make_keys.py

ALG_ECDSA = {
    "sha256": h("300a06082a8648ce3d040302"),
    "sha384": h("300a06082a8648ce3d040303"),
    "sha512": h("300a06082a8648ce3d040304"),
}
ALG_RSA = {
    "sha256": h("300d06092a864886f70d01010b0500"),
    "sha384": h("300d06092a864886f70d01010c0500"),
    "sha512": h("300d06092a864886f70d01010d0500"),
}
ALG_RSA_ABSENT = h("300b06092a864886f70d01010b")  # RFC 4055: parameters may be absent
ALG_ED25519 = h("300506032b6570")

# private key file -> (kind, spki file)
PRIVATE = [
    ("keys_rsa2048_pkcs1.der", "rsa", "keys_rsa2048_spki.der"),
    ("keys_rsa2048_pkcs8.der", "rsa", "keys_rsa2048_spki.der"),
    ("keys_rsa2048_pkcs1.pem", "rsa", "keys_rsa2048_spki.der"),
    ("keys_rsa2048_pkcs8.pem", "rsa", "keys_rsa2048_spki.der"),
    ("keys_rsa4096_pkcs8.der", "rsa", "keys_rsa4096_spki.der"),
    ("keys_p256_pkcs8.der", "ec", "keys_p256_spki.der"),
    ("keys_p256_sec1.der", "ec", "keys_p256_spki.der"),
    ("keys_p256_pkcs8.pem", "ec", "keys_p256_spki.der"),
    ("keys_p256_sec1.pem", "ec", "keys_p256_spki.der"),
    ("keys_p384_pkcs8.der", "ec", "keys_p384_spki.der"),
    ("keys_p384_sec1.der", "ec", "keys_p384_spki.der"),
    ("keys_p384_pkcs8.pem", "ec", "keys_p384_spki.der"),
    ("keys_p384_sec1.pem", "ec", "keys_p384_spki.der"),
    ("keys_ed25519_pkcs8.der", "ed25519", "keys_ed25519_spki.der"),
    ("keys_ed25519_pkcs8.pem", "ed25519", "keys_ed25519_spki.der"),
    ("keys_ed25519_rfc8410.pem", "ed25519", "keys_ed25519_rfc8410_spki.der"),
]


def _kind(key):
    if hasattr(key, "curve"):
        return "ec"
    return key.kind


def test_load_private():
    for name, kind, spki in PRIVATE:
        data = vector(name)
        key = keys.load_private(data)
        assert _kind(key) == kind, name
        assert key.public_key_der() == vector(spki), name
        if name.endswith(".pem"):
            assert keys.load_private(data.decode()).public_key_der() == vector(spki), name + " str"
        else:
            assert keys.load_private(memoryview(data)).public_key_der() == vector(spki), name + " mv"


def test_loaded_keys_sign():
    for name, kind, spki in PRIVATE:
        if "4096" in name or "pem" in name:
            continue
        key = keys.load_private(vector(name))
        sig = key.sign(MESSAGE)
        keys.verify(vector(spki), key.algorithm_der(), MESSAGE, sig)
        raises(VerifyError, keys.verify, vector(spki), key.algorithm_der(), MESSAGE + b"!", sig)


def test_encrypted_refused():
    for name in ("keys_encrypted_pkcs8.der", "keys_encrypted_pkcs8.pem"):
        e = raises(FormatError, keys.load_private, vector(name))
        assert "encrypted" in str(e), name
    legacy = ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
              "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n")
    raises(FormatError, keys.load_private, legacy)


def _relabel(name, label):
    return pem.encode(vector(name), label)


def test_load_private_hostile():
    pkcs8 = vector("keys_ed25519_pkcs8.der")
    two = vector("keys_ed25519_pkcs8.pem") + vector("keys_rsa2048_pkcs8.pem")
    cases = [
        ("empty bytes", b"", DERError),
        ("empty text", "", FormatError),
        ("garbage text", "hello", FormatError),
        ("garbage bytes", b"\x01\x02\x03", FormatError),
        ("lone sequence", b"\x30\x00", DERError),
        ("truncated", pkcs8[:-1], DERError),
        ("trailing byte", pkcs8 + b"\x00", DERError),
        ("two keys", two, FormatError),
        ("only EC PARAMETERS", pem.encode(der.oid("1.2.840.10045.3.1.7"), "EC PARAMETERS"), FormatError),
        ("certificate label", _relabel("keys_ed25519_pkcs8.der", "CERTIFICATE"), FormatError),
        ("public key label", pem.encode(vector("keys_ed25519_spki.der"), "PUBLIC KEY"), FormatError),
        ("PKCS#8 labelled RSA", _relabel("keys_rsa2048_pkcs8.der", "RSA PRIVATE KEY"), FormatError),
        ("PKCS#1 labelled PKCS#8", _relabel("keys_rsa2048_pkcs1.der", "PRIVATE KEY"), FormatError),
        ("SEC1 labelled PKCS#8", _relabel("keys_p256_sec1.der", "PRIVATE KEY"), FormatError),
        ("PKCS#8 labelled SEC1", _relabel("keys_p256_pkcs8.der", "EC PRIVATE KEY"), FormatError),
        ("Ed448", vector("keys_ed448_pkcs8.der"), FormatError),
        ("P-521", vector("keys_p521_pkcs8.der"), FormatError),
        ("RSA 1024", vector("keys_rsa1024_pkcs1.der"), FormatError),
        ("spki", vector("keys_ed25519_spki.der"), FormatError),
        ("version then null", der.seq(der.integer(0), der.null()), FormatError),
        ("version only", der.seq(der.integer(0)), FormatError),
        ("integer", der.integer(0), FormatError),
        ("unknown algorithm", der.seq(der.integer(0), der.seq(der.oid("1.2.3.4")), der.octet_string(b"")),
         FormatError),
        ("bad base64", "-----BEGIN PRIVATE KEY-----\nMC!A\n-----END PRIVATE KEY-----\n", FormatError),
    ]
    for name, data, exc in cases:
        e = raises(EstError, keys.load_private, data)
        assert isinstance(e, exc), "%s: %r" % (name, e)


def test_parse_spki():
    n, e = keys.load_private(vector("keys_rsa2048_pkcs1.der")).public_numbers()
    assert keys.parse_spki(vector("keys_rsa2048_spki.der")) == ("rsa", 2048, (n, e))
    assert keys.parse_spki(vector("keys_rsa4096_spki.der"))[:2] == ("rsa", 4096)
    kind, curve, point = keys.parse_spki(vector("keys_p256_spki.der"))
    assert (kind, curve, len(point), point[0]) == ("ec", "P-256", 65, 4)
    assert vector("keys_p256_spki.der").endswith(point)
    kind, curve, point = keys.parse_spki(vector("keys_p384_spki.der"))
    assert (kind, curve, len(point), point[0]) == ("ec", "P-384", 97, 4)
    kind, param, raw = keys.parse_spki(vector("keys_ed25519_rfc8410_spki.der"))
    assert (kind, param) == ("ed25519", None)
    assert raw == h("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1")  # RFC 8410 10.1


def _spki(alg, key, unused=0):
    return der.seq(alg, der.bit_string(key, unused))


def test_parse_spki_hostile():
    p256 = vector("keys_p256_spki.der")
    point = keys.parse_spki(p256)[2]
    ec_alg = der.seq(der.oid("1.2.840.10045.2.1"), der.oid("1.2.840.10045.3.1.7"))
    rsa_spki = vector("keys_rsa2048_spki.der")
    rsa_key = bytes(der.top(rsa_spki).read_element(der.SEQUENCE))  # the AlgorithmIdentifier
    r = der.top(rsa_spki)
    r.skip()
    rsa_pub = bytes(r.read_bits())
    ed = keys.parse_spki(vector("keys_ed25519_spki.der"))[2]
    assert rsa_key == h("300d06092a864886f70d0101010500")
    cases = [
        ("empty", b"", DERError),
        ("trailing", p256 + b"\x00", DERError),
        ("truncated", p256[:-1], DERError),
        ("Ed448", vector("keys_ed448_spki.der"), FormatError),
        ("P-521", vector("keys_p521_spki.der"), FormatError),
        ("RSA 1024", vector("keys_rsa1024_spki.der"), FormatError),
        ("secp256k1", _spki(der.seq(der.oid("1.2.840.10045.2.1"), der.oid("1.3.132.0.10")), point), FormatError),
        ("compressed point", _spki(ec_alg, bytes([2 + (point[64] & 1)]) + point[1:33]), FormatError),
        ("hybrid point", _spki(ec_alg, b"\x06" + point[1:]), FormatError),
        ("P-384 length on P-256", _spki(ec_alg, point + bytes(32)), FormatError),
        ("point unused bits", _spki(ec_alg, point, 1), DERError),
        ("implicit curve", _spki(der.seq(der.oid("1.2.840.10045.2.1"), der.null()), point), FormatError),
        ("no curve", _spki(der.seq(der.oid("1.2.840.10045.2.1")), point), FormatError),
        ("explicit curve", _spki(der.seq(der.oid("1.2.840.10045.2.1"), der.seq(der.integer(1))), point),
         FormatError),
        ("two curves", _spki(der.seq(der.oid("1.2.840.10045.2.1"), der.oid("1.2.840.10045.3.1.7"),
                                     der.oid("1.2.840.10045.3.1.7")), point), FormatError),
        ("RSA params absent", _spki(der.seq(der.oid("1.2.840.113549.1.1.1")), rsa_pub), FormatError),
        ("RSA params twice", _spki(der.seq(der.oid("1.2.840.113549.1.1.1"), der.null(), der.null()), rsa_pub),
         FormatError),
        ("RSASSA-PSS key", _spki(der.seq(der.oid("1.2.840.113549.1.1.10")), rsa_pub), FormatError),
        ("RSA key not a sequence", _spki(rsa_key, b"\x02\x01\x03"), DERError),
        ("RSA key trailing", _spki(rsa_key, rsa_pub + b"\x00"), DERError),
        ("Ed25519 31 bytes", _spki(der.seq(der.oid("1.3.101.112")), ed[:31]), FormatError),
        ("Ed25519 params", _spki(der.seq(der.oid("1.3.101.112"), der.null()), ed), FormatError),
        ("X25519", _spki(der.seq(der.oid("1.3.101.110")), ed), FormatError),
        ("no algorithm", der.seq(der.bit_string(ed)), DERError),
        ("octet string key", der.seq(der.seq(der.oid("1.3.101.112")), der.octet_string(ed)), DERError),
    ]
    for name, data, exc in cases:
        e = raises(EstError, keys.parse_spki, data)
        assert isinstance(e, exc), "%s: %r" % (name, e)


# (spki file, AlgorithmIdentifier, signature file): signatures made by cryptography
GOOD = [
    ("keys_p256_spki.der", ALG_ECDSA["sha256"], "keys_p256_sha256.sig"),
    ("keys_p256_spki.der", ALG_ECDSA["sha384"], "keys_p256_sha384.sig"),
    ("keys_p256_spki.der", ALG_ECDSA["sha512"], "keys_p256_sha512.sig"),
    ("keys_p384_spki.der", ALG_ECDSA["sha256"], "keys_p384_sha256.sig"),
    ("keys_p384_spki.der", ALG_ECDSA["sha384"], "keys_p384_sha384.sig"),
    ("keys_p384_spki.der", ALG_ECDSA["sha512"], "keys_p384_sha512.sig"),
    ("keys_rsa2048_spki.der", ALG_RSA["sha256"], "keys_rsa2048_sha256.sig"),
    ("keys_rsa2048_spki.der", ALG_RSA_ABSENT, "keys_rsa2048_sha256.sig"),
    ("keys_rsa2048_spki.der", ALG_RSA["sha384"], "keys_rsa2048_sha384.sig"),
    ("keys_rsa2048_spki.der", ALG_RSA["sha512"], "keys_rsa2048_sha512.sig"),
    ("keys_rsa4096_spki.der", ALG_RSA["sha256"], "keys_rsa4096_sha256.sig"),
    ("keys_rsa4096_spki.der", ALG_RSA["sha512"], "keys_rsa4096_sha512.sig"),
    ("keys_ed25519_spki.der", ALG_ED25519, "keys_ed25519.sig"),
]


def test_verify_good_and_tampered():
    for spki, alg, sig in GOOD:
        name = sig + " " + alg.hex()
        s = vector(sig)
        assert keys.verify(vector(spki), alg, MESSAGE, s) is None, name
        assert keys.verify(memoryview(vector(spki)), memoryview(alg), memoryview(MESSAGE),
                           memoryview(s)) is None, name
        raises(VerifyError, keys.verify, vector(spki), alg, MESSAGE[:-1], s)
        bad = bytearray(s)
        bad[len(bad) - 2] ^= 0x10
        raises(VerifyError, keys.verify, vector(spki), alg, MESSAGE, bytes(bad))


def test_verify_hostile():
    p256 = vector("keys_p256_spki.der")
    p256_sig = vector("keys_p256_sha256.sig")
    rsa = vector("keys_rsa2048_spki.der")
    rsa_sig = vector("keys_rsa2048_sha256.sig")
    ed = vector("keys_ed25519_spki.der")
    ed_sig = vector("keys_ed25519.sig")
    cases = [
        ("ECDSA on an RSA key", rsa, ALG_ECDSA["sha256"], rsa_sig, FormatError),
        ("RSA on an EC key", p256, ALG_RSA["sha256"], p256_sig, FormatError),
        ("Ed25519 on an EC key", p256, ALG_ED25519, p256_sig, FormatError),
        ("ECDSA on an Ed25519 key", ed, ALG_ECDSA["sha256"], ed_sig, FormatError),
        ("RSA on an Ed25519 key", ed, ALG_RSA["sha256"], ed_sig, FormatError),
        ("ECDSA with NULL", p256, h("300c06082a8648ce3d0403020500"), p256_sig, FormatError),
        ("ECDSA with SHA-1", p256, h("300906072a8648ce3d0401"), p256_sig, FormatError),
        ("RSA with SHA-1", rsa, h("300d06092a864886f70d0101050500"), rsa_sig, FormatError),
        ("RSA with MD5", rsa, h("300d06092a864886f70d0101040500"), rsa_sig, FormatError),
        ("RSASSA-PSS", rsa, h("300b06092a864886f70d01010a"), rsa_sig, FormatError),
        ("RSA with INTEGER params", rsa, h("300e06092a864886f70d01010b020100"), rsa_sig, FormatError),
        ("RSA with two NULLs", rsa, h("300f06092a864886f70d01010b05000500"), rsa_sig, FormatError),
        ("Ed25519 with NULL", ed, h("300706032b65700500"), ed_sig, FormatError),
        ("Ed448", ed, h("300506032b6571"), ed_sig, FormatError),
        ("algorithm trailing byte", rsa, ALG_RSA["sha256"] + b"\x00", rsa_sig, DERError),
        ("algorithm empty", rsa, b"", rsa_sig, DERError),
        ("algorithm without OID", rsa, h("3000"), rsa_sig, DERError),
        ("bad spki", b"\x30\x00", ALG_RSA["sha256"], rsa_sig, DERError),
        ("ECDSA signature not DER", p256, ALG_ECDSA["sha256"], b"\x01" * 64, VerifyError),
        ("ECDSA signature truncated", p256, ALG_ECDSA["sha256"], p256_sig[:-1], VerifyError),
        ("ECDSA signature trailing", p256, ALG_ECDSA["sha256"], p256_sig + b"\x00", VerifyError),
        ("ECDSA empty signature", p256, ALG_ECDSA["sha256"], b"", VerifyError),
        ("ECDSA r = s = 0", p256, ALG_ECDSA["sha256"], h("3006020100020100"), VerifyError),
        ("RSA signature short", rsa, ALG_RSA["sha256"], rsa_sig[1:], VerifyError),
        ("RSA signature long", rsa, ALG_RSA["sha256"], b"\x00" + rsa_sig, VerifyError),
        ("RSA sha384 for a sha256 signature", rsa, ALG_RSA["sha384"], rsa_sig, VerifyError),
        ("Ed25519 signature short", ed, ALG_ED25519, ed_sig[:63], VerifyError),
        ("Ed25519 empty signature", ed, ALG_ED25519, b"", VerifyError),
    ]
    for name, spki, alg, sig, exc in cases:
        e = raises(EstError, keys.verify, spki, alg, MESSAGE, sig)
        assert isinstance(e, exc), "%s: %r" % (name, e)


def test_bad_public_points():
    p256 = vector("keys_p256_spki.der")
    bad = bytearray(p256)
    bad[len(bad) - 1] ^= 1  # y changed: the point leaves the curve
    ed = der.seq(der.seq(der.oid("1.3.101.112")), der.bit_string((2).to_bytes(32, "little")))  # y = 2: no x
    ed_big = der.seq(der.seq(der.oid("1.3.101.112")), der.bit_string(b"\xff" * 31 + b"\x7f"))  # y >= p
    for name, spki, alg, sig in (
        ("P-256 off the curve", bytes(bad), ALG_ECDSA["sha256"], vector("keys_p256_sha256.sig")),
        ("Ed25519 not a point", ed, ALG_ED25519, vector("keys_ed25519.sig")),
        ("Ed25519 y >= p", ed_big, ALG_ED25519, vector("keys_ed25519.sig")),
    ):
        raises(CryptoError, keys.parse_spki, spki)
        raises(CryptoError, keys.verify, spki, alg, MESSAGE, sig)
