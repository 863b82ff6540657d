"""tinyest.ec and tinyest.hashes against independent implementations:
cryptography (OpenSSL), the openssl command, hashlib and the hmac module."""

import hashlib
import hmac as std_hmac
import pathlib
import shutil
import subprocess
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes as ch
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec as cec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

import test_ec as core  # tests/core/test_ec.py: the embedded vectors
from tinyest import der, ec, hashes
from tinyest.errors import EstError
from tinyest.sha512 import Sha384, Sha512

CURVES = {"P-256": cec.SECP256R1(), "P-384": cec.SECP384R1()}
CHASH = {"sha256": ch.SHA256(), "sha384": ch.SHA384(), "sha512": ch.SHA512()}
DER = ser.Encoding.DER
PKCS8 = ser.PrivateFormat.PKCS8
TRAD = ser.PrivateFormat.TraditionalOpenSSL
SPKI = ser.PublicFormat.SubjectPublicKeyInfo
NOENC = ser.NoEncryption()
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

secrets256 = st.integers(min_value=1, max_value=ec._P256.n - 1)
secrets384 = st.integers(min_value=1, max_value=ec._P384.n - 1)


def _theirs(key):
    return cec.derive_private_key(key.secret, CURVES[key.curve])


def _point(ckey):
    return ckey.public_key().public_bytes(ser.Encoding.X962, ser.PublicFormat.UncompressedPoint)


# ---------------------------------------------------------------- keys


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_our_keys_load_in_cryptography(curve):
    for _ in range(5):
        key = ec.generate(curve)
        for blob in (key.to_der(), key.to_sec1()):
            theirs = ser.load_der_private_key(blob, None)
            assert theirs.private_numbers().private_value == key.secret
            assert theirs.curve.name == CURVES[curve].name
            assert _point(theirs) == key.public_point()


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_encodings_equal_cryptography(curve):
    for _ in range(5):
        key = ec.generate(curve)
        theirs = _theirs(key)
        assert key.to_der() == theirs.private_bytes(DER, PKCS8, NOENC)
        assert key.to_sec1() == theirs.private_bytes(DER, TRAD, NOENC)
        assert key.public_key_der() == theirs.public_key().public_bytes(DER, SPKI)


def test_embedded_core_vectors_are_cryptographys():
    for curve, x, pkcs8, sec1, spki in (("P-256", core.P256_X, core.P256_PKCS8, core.P256_SEC1, core.P256_SPKI),
                                        ("P-384", core.P384_X, core.P384_PKCS8, core.P384_SEC1, core.P384_SPKI)):
        theirs = cec.derive_private_key(x, CURVES[curve])
        assert theirs.private_bytes(DER, PKCS8, NOENC) == pkcs8
        assert theirs.private_bytes(DER, TRAD, NOENC) == sec1
        assert theirs.public_key().public_bytes(DER, SPKI) == spki


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_cryptography_keys_load_via_from_der(curve):
    for _ in range(5):
        theirs = cec.generate_private_key(CURVES[curve])
        value = theirs.private_numbers().private_value
        for fmt in (PKCS8, TRAD):
            key = ec.from_der(theirs.private_bytes(DER, fmt, NOENC))
            assert (key.curve, key.secret) == (curve, value)
            assert key.public_point() == _point(theirs)


@FAST
@given(secrets256)
def test_public_points_p256(secret):
    key = ec.from_secret(secret, "P-256")
    assert key.public_point() == _point(_theirs(key))


@FAST
@given(secrets384)
def test_public_points_p384(secret):
    key = ec.from_secret(secret, "P-384")
    assert key.public_point() == _point(_theirs(key))


def test_public_points_edge_secrets():
    # small, large, and the scalars whose last comb addition is a doubling
    for curve, n in (("P-256", ec._P256.n), ("P-384", ec._P384.n)):
        special = [1, 2, 3, 15, 16, 17, n - 1, n - 2, n // 2, n // 2 + 1, (1 << 200) - 1]
        special += core._last_addition_doubles(ec._curve(curve))
        for secret in special:
            key = ec.from_secret(secret, curve)
            assert key.public_point() == _point(_theirs(key)), "%s %x" % (curve, secret)


# ---------------------------------------------------------------- the P-256 table

P256_DIR = pathlib.Path(__file__).resolve().parents[2] / "tinyest"
P256_G_POINTS = 16  # odd multiples of G in row 0 (verification's width-6 NAF)


def _multiple(k):
    """x, y of k*G on P-256 by cryptography."""
    nums = cec.derive_private_key(k % ec._P256.n, cec.SECP256R1()).public_key().public_numbers()
    return nums.x, nums.y


def _row_lines(t, count, d):
    out = []
    for i in range(count):
        out.append("    # %d * 2**%d * G%s" % (2 * i + 1, d * t, "" if i else " (row %d)" % t))
        x, y = _multiple((2 * i + 1) << (d * t))
        pt = x.to_bytes(32, "big") + y.to_bytes(32, "big")
        for j in range(0, 64, 16):
            line = '    b"' + "".join("\\x%02x" % b for b in pt[j:j + 16]) + '"'
            out.append(line + ("," if i == count - 1 and j == 48 else ""))
    return out


def p256_table_sources():
    """{file name: text} of tinyest/ec_p256.py (row 0 of the comb table) and
    tinyest/ec_p256c.py (the other rows), every point computed by cryptography."""
    c = ec._P256
    w, d = c.w, c.w * c.groups
    half = 1 << (w - 1)
    tail = ["bytes each. Constants, so that a frozen firmware keeps them in flash and a fresh",
            "process signs without building them. Generated by tests/host/test_ec_host.py",
            "(write_p256_table), which checks every point against cryptography;",
            "tests/core/test_ec.py checks them against tinyest.ec's own table builder.",
            '"""', ""]
    g = ['"""Row 0 of the fixed-base table of tinyest.ec for P-256 (w=%d, groups=%d).' % (w, c.groups), "",
         "G holds the affine odd multiples 1, 3, ..., %d of G: verification reads all %d (its"
         % (2 * P256_G_POINTS - 1, P256_G_POINTS),
         "width-%d NAF), signing the first %d. Rows 1 to %d of the comb are in tinyest.ec_p256c,"
         % (P256_G_POINTS.bit_length() + 1, half, c.digits // c.groups - 1),
         "which only signing imports. Each point is x then y, 32 big-endian"] + tail + ["G = ("]
    g += _row_lines(0, P256_G_POINTS, d)
    g[-1] = g[-1][:-1]
    g.append(")")
    r = ['"""Rows 1 to %d of the fixed-base comb table of tinyest.ec for P-256 (w=%d, groups=%d).'
         % (c.digits // c.groups - 1, w, c.groups), "",
         "ROWS[t - 1] holds the affine odd multiples 1, 3, ..., %d of 2**(%d*t)*G (row 0 is G of"
         % (2 * half - 1, d),
         "tinyest.ec_p256). Only signing imports this. Each point is x then y, 32 big-endian"] + tail
    r.append("ROWS = (")
    for t in range(1, c.digits // c.groups):
        r += _row_lines(t, half, d)
    r.append(")")
    return {"ec_p256.py": "\n".join(g) + "\n", "ec_p256c.py": "\n".join(r) + "\n"}


def write_p256_table():
    for name, text in p256_table_sources().items():
        (P256_DIR / name).write_text(text)


def test_p256_table_is_cryptographys():
    # every point of the committed table, recomputed by cryptography, in the same text
    for name, text in p256_table_sources().items():
        assert (P256_DIR / name).read_text() == text, \
            "regenerate: python tests/host/test_ec_host.py --write-p256-table"
    from tinyest import ec_p256, ec_p256c

    assert len(ec_p256.G) == 64 * P256_G_POINTS
    assert [len(row) for row in ec_p256c.ROWS] == [64 * 8] * 7


# ---------------------------------------------------------------- signatures


@FAST
@given(secrets256, st.binary(max_size=300))
def test_cryptography_verifies_our_p256_signatures(secret, msg):
    key = ec.from_secret(secret, "P-256")
    _theirs(key).public_key().verify(key.sign(msg), msg, cec.ECDSA(ch.SHA256()))


@FAST
@given(secrets384, st.binary(max_size=300))
def test_cryptography_verifies_our_p384_signatures(secret, msg):
    key = ec.from_secret(secret, "P-384")
    _theirs(key).public_key().verify(key.sign(msg), msg, cec.ECDSA(ch.SHA384()))


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
@pytest.mark.parametrize("hname", ["sha256", "sha384", "sha512"])
def test_prehashed_signatures_both_ways(curve, hname):
    for i in range(5):
        key = ec.generate(curve)
        theirs = _theirs(key)
        digest = hashlib.new(hname, b"message %d" % i).digest()
        algo = cec.ECDSA(Prehashed(CHASH[hname]))
        theirs.public_key().verify(key.sign_digest(digest), digest, algo)
        assert ec.verify(curve, key.public_point(), digest, theirs.sign(digest, algo))


@pytest.mark.parametrize("curve", ["P-256", "P-384"])
def test_we_verify_cryptography_signatures(curve):
    hname = ec._curve(curve).hash_name
    for i in range(20):
        theirs = cec.generate_private_key(CURVES[curve])
        msg = b"cryptography message %d" % i
        sig = theirs.sign(msg, cec.ECDSA(CHASH[hname]))
        digest = hashlib.new(hname, msg).digest()
        pt = _point(theirs)
        assert ec.verify(curve, pt, digest, sig)
        assert not ec.verify(curve, pt, hashlib.new(hname, msg + b".").digest(), sig)
        # the compressed form of the same key
        compressed = theirs.public_key().public_bytes(ser.Encoding.X962, ser.PublicFormat.CompressedPoint)
        assert ec.verify(curve, compressed, digest, sig)


def test_rfc6979_vectors_verify_in_cryptography():
    for curve, x, vectors in (("P-256", core.P256_X, core.RFC6979_P256), ("P-384", core.P384_X, core.RFC6979_P384)):
        pub = cec.derive_private_key(x, CURVES[curve]).public_key()
        for hname, msg, _k, r, s in vectors:
            sig = der.seq(der.integer(int(r, 16)), der.integer(int(s, 16)))
            pub.verify(sig, msg, cec.ECDSA(CHASH[hname]))


@FAST
@given(st.binary(max_size=120))
def test_verify_garbage_is_false(blob):
    key = ec.from_secret(core.P256_X)
    assert ec.verify("P-256", key.public_point(), hashes.sha256(b"sample"), blob) is False


@FAST
@given(st.data())
def test_verify_mutated_signatures(data):
    key = ec.from_secret(core.P256_X)
    digest = hashes.sha256(b"sample")
    good = bytearray(key.sign_digest(digest))
    i = data.draw(st.integers(min_value=0, max_value=len(good) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    good[i] ^= 1 << bit
    result = ec.verify("P-256", key.public_point(), digest, bytes(good))
    assert result is False
    # cryptography agrees that the mutated signature is not valid
    with pytest.raises((InvalidSignature, ValueError)):
        _theirs(key).public_key().verify(bytes(good), digest, cec.ECDSA(Prehashed(ch.SHA256())))


@FAST
@given(st.data())
def test_from_der_mutations_raise_only_library_errors(data):
    blob = bytearray(data.draw(st.sampled_from([core.P256_PKCS8, core.P256_SEC1, core.P384_PKCS8])))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        i = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
        blob[i] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(blob)))
    try:
        key = ec.from_der(bytes(blob[:cut]))
    except EstError:
        return
    # what loads must be a consistent key
    theirs = _theirs(key)
    assert _point(theirs) == key.public_point()


# ---------------------------------------------------------------- openssl command


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
@pytest.mark.parametrize("curve,dgst", [("P-256", "-sha256"), ("P-384", "-sha384")])
def test_openssl_cli(tmp_path, curve, dgst):
    key = ec.generate(curve)
    data = b"signed by tinyest, checked by openssl\n"
    (tmp_path / "pub.der").write_bytes(key.public_key_der())
    (tmp_path / "sig.der").write_bytes(key.sign(data))
    (tmp_path / "data").write_bytes(data)
    (tmp_path / "pkcs8.der").write_bytes(key.to_der())
    (tmp_path / "sec1.der").write_bytes(key.to_sec1())
    out = subprocess.run(["openssl", "dgst", dgst, "-verify", "pub.der", "-keyform", "DER",
                          "-signature", "sig.der", "data"], cwd=tmp_path, capture_output=True, text=True)
    assert "Verified OK" in out.stdout, out.stdout + out.stderr
    for name, cmd in (("pkcs8.der", "pkey"), ("sec1.der", "ec")):
        out = subprocess.run(["openssl", cmd, "-inform", "DER", "-in", name, "-check", "-noout"],
                             cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 0 and "valid" in (out.stdout + out.stderr).lower(), out.stdout + out.stderr
    # and a signature made by openssl verifies here
    subprocess.run(["openssl", "dgst", dgst, "-sign", "pkcs8.der", "-keyform", "DER",
                    "-out", "osig.der", "data"], cwd=tmp_path, check=True, capture_output=True)
    digest = hashes.new(ec._curve(curve).hash_name, data).digest()
    assert ec.verify(curve, key.public_point(), digest, (tmp_path / "osig.der").read_bytes())


# ---------------------------------------------------------------- hashes


@FAST
@given(st.binary(max_size=700), st.sampled_from([False, True]))
def test_pure_sha512_family_matches_hashlib(msg, split):
    assert Sha512(msg, split=split).digest() == hashlib.sha512(msg).digest()
    assert Sha384(msg, split=split).digest() == hashlib.sha384(msg).digest()


@FAST
@given(st.sampled_from(["sha256", "sha384", "sha512"]), st.binary(max_size=300), st.binary(max_size=300))
def test_hmac_matches_stdlib(name, key, msg):
    assert hashes.hmac(name, key, msg) == std_hmac.new(key, msg, name).digest()


def test_hmac_and_signing_with_the_pure_hashes(monkeypatch):
    # The MicroPython path on CPython: a hashlib with SHA-256 only.
    monkeypatch.setattr(hashes, "hashlib", types.SimpleNamespace(sha256=hashlib.sha256))
    assert isinstance(hashes.new("sha384"), Sha384)
    for name in ("sha384", "sha512"):
        for key, msg in ((b"k", b"m"), (b"\xaa" * 131, b"x" * 200), (b"", b"")):
            assert hashes.hmac(name, key, msg) == std_hmac.new(key, msg, name).digest()
    key = ec.from_secret(core.P384_X, "P-384")
    _hname, msg, _k, r, s = core.RFC6979_P384[1]
    assert key.sign(msg) == der.seq(der.integer(int(r, 16)), der.integer(int(s, 16)))


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write-p256-table"]:
        write_p256_table()
    else:
        sys.exit("usage: python tests/host/test_ec_host.py --write-p256-table")
