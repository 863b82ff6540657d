"""tinyest.hashes: SHA-256/384/512 and HMAC, with the pure SHA-512 family
(tinyest.sha512) tested directly in both of its forms (64-bit words and 32-bit
halves) on every runtime."""

from _t import h, raises

from tinyest import hashes
from tinyest.sha512 import Sha384, Sha512
from tinyest.errors import FormatError

M896 = (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
        b"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")

# FIPS 180-4 examples (NIST CSRC "Examples with intermediate values").
SHA_VECTORS = [
    ("sha256 abc", "sha256", b"abc",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("sha256 empty", "sha256", b"",
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("sha384 abc", "sha384", b"abc",
     "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
     "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
    ("sha384 empty", "sha384", b"",
     "38b060a751ac96384cd9327eb1b1e36a21fdb71114be0743"
     "4c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"),
    ("sha384 896-bit", "sha384", M896,
     "09330c33f71147e83d192fc782cd1b4753111b173b3b05d2"
     "2fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039"),
    ("sha512 abc", "sha512", b"abc",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
     "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    ("sha512 empty", "sha512", b"",
     "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
     "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"),
    ("sha512 896-bit", "sha512", M896,
     "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018"
     "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"),
]

MILLION_A_384 = ("9d0e1809716474cb086e834e310a4a1ced149e9c00f24852"
                 "7972cec5704c2a5b07b8b3dc38ecc4ebae97ddd87f3d8985")
MILLION_A_512 = ("e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
                 "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b")

# bytes(range(256)) * 21 + b"tail" (5380 bytes, 43 blocks): digests computed
# with CPython's hashlib (OpenSSL), an independent implementation.
LONG = bytes(range(256)) * 21 + b"tail"
LONG_384 = ("c8a31e55224e9fe3b1ba0fe1bfbc2a88a128d48a8f6fe47f"
            "c5c687a2896308b568021a09b579ce9d4a85f37e9a14116a")
LONG_512 = ("29d84a4297931cbe48d713c11e5658feb49a67333b7223d99e78ead316c303d9"
            "bd18378e743894ab4b7572d6ada97e76900ce32b483505e9ef6fd99eb0a996e9")

_PURE = {"sha384": Sha384, "sha512": Sha512}

# RFC 4231 section 4: (case, key, data); case 5 is truncated to 128 bits.
RFC4231_INPUTS = [
    ("1", b"\x0b" * 20, b"Hi There"),
    ("2", b"Jefe", b"what do ya want for nothing?"),
    ("3", b"\xaa" * 20, b"\xdd" * 50),
    ("4", bytes(range(1, 26)), b"\xcd" * 50),
    ("5", b"\x0c" * 20, b"Test With Truncation"),
    ("6", b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"),
    ("7", b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger "
     b"than block-size data. The key needs to be hashed before being used by the HMAC algorithm."),
]
RFC4231 = {
    "sha256": [
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        "a3b6167473100ee06e0c796c2955552b",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ],
    "sha384": [
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
        "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
        "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
        "3abf34c3503b2a23a46efc619baef897",
        "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
        "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
    ],
    "sha512": [
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
        "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
        "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
        "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
        "415fad6271580a531d4179bc891d87a6",
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
        "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
        "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
    ],
}


def test_module_functions_match_fips_vectors():
    funcs = {"sha256": hashes.sha256, "sha384": hashes.sha384, "sha512": hashes.sha512}
    for name, alg, msg, want in SHA_VECTORS:
        assert funcs[alg](msg) == h(want), name
        obj = hashes.new(alg)
        obj.update(msg)
        assert obj.digest() == h(want), name
        assert hashes.new(alg, msg).digest() == h(want), name


def test_pure_sha512_family_both_forms():
    for name, alg, msg, want in SHA_VECTORS:
        if alg == "sha256":
            continue
        for split in (False, True):
            got = _PURE[alg](msg, split=split).digest()
            assert got == h(want), "%s split=%s" % (name, split)


def test_pure_padding_boundaries_agree_between_forms():
    # Lengths around the 111/112-byte padding edge and the 128-byte block: both
    # forms must agree with the port's hashlib or, where that has no SHA-512,
    # with each other and with the one-shot API.
    for n in (0, 1, 110, 111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 257):
        msg = bytes([(i * 7 + n) & 0xFF for i in range(n)])
        for alg in ("sha384", "sha512"):
            a = _PURE[alg](msg, split=False).digest()
            b = _PURE[alg](msg, split=True).digest()
            assert a == b, "%s len %d" % (alg, n)
            assert hashes.new(alg, msg).digest() == a, "%s len %d" % (alg, n)


def test_pure_chunked_updates():
    for split in (False, True):
        for step in (1, 7, 64, 127, 128, 129, 500):
            obj = Sha512(split=split)
            for i in range(0, len(LONG), step):
                obj.update(LONG[i:i + step])
            assert obj.digest() == h(LONG_512), "split=%s step=%d" % (split, step)
        obj = Sha384(split=split)
        obj.update(memoryview(LONG)[:1000])
        obj.update(bytearray(LONG[1000:]))
        assert obj.digest() == h(LONG_384), "sha384 split=%s" % split


def test_pure_digest_copy_and_continue():
    obj = Sha512(M896[:50])
    twin = obj.copy()
    first = obj.digest()
    assert obj.digest() == first  # digest() does not finalize the pure object
    obj.update(M896[50:])
    assert obj.digest() == h(SHA_VECTORS[7][3])
    assert twin.digest() == first


def test_long_message_one_million_a():
    # The port's own pure form for SHA-512, the public API for SHA-384 (hashlib
    # on CPython, the pure code on MicroPython).
    chunk = b"a" * 1000
    obj = Sha512()
    obj384 = hashes.new("sha384")
    for _ in range(1000):
        obj.update(chunk)
        obj384.update(chunk)
    assert obj.digest() == h(MILLION_A_512)
    assert obj384.digest() == h(MILLION_A_384)


def test_sizes_and_unknown_names():
    cases = [("sha256", 32, 64), ("sha384", 48, 128), ("sha512", 64, 128)]
    for name, dsize, bsize in cases:
        assert hashes.digest_size(name) == dsize, name
        assert hashes.block_size(name) == bsize, name
        assert len(hashes.new(name, b"x").digest()) == dsize, name
    for bad in ("sha1", "md5", "SHA256", "sha-256", ""):
        raises(FormatError, hashes.new, bad)
        raises(FormatError, hashes.digest_size, bad)
        raises(FormatError, hashes.hmac, bad, b"k", b"m")


def test_hmac_rfc4231():
    for alg in ("sha256", "sha384", "sha512"):
        for i, (case, key, data) in enumerate(RFC4231_INPUTS):
            want = h(RFC4231[alg][i])
            got = hashes.hmac(alg, key, data)
            assert got[:len(want)] == want, "%s case %s" % (alg, case)
            assert len(got) == hashes.digest_size(alg), "%s case %s" % (alg, case)


def test_hmac_accepts_buffers():
    key, data = RFC4231_INPUTS[1][1], RFC4231_INPUTS[1][2]
    want = h(RFC4231["sha256"][1])
    assert hashes.hmac("sha256", bytearray(key), memoryview(data)) == want
    # a key exactly one block long is used as is, one byte more is hashed first
    k64 = bytes(range(64))
    assert hashes.hmac("sha256", k64, b"m") != hashes.hmac("sha256", k64 + b"\x00", b"m")
    assert hashes.hmac("sha256", k64 + b"x", b"m") == hashes.hmac("sha256", hashes.sha256(k64 + b"x"), b"m")
