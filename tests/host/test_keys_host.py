"""tinyest.rsa / ed25519 / keys against cryptography, and fuzzing with hypothesis."""

import datetime
import pathlib

import pytest
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes as c_hashes
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec as c_ec
from cryptography.hazmat.primitives.asymmetric import ed25519 as c_ed
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa as c_rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyest import ed25519, hashes, keys, pem, rsa
from tinyest.errors import CryptoError, EstError, VerifyError

VECTORS = pathlib.Path(__file__).resolve().parent.parent / "vectors"
HASHES = {"sha256": c_hashes.SHA256(), "sha384": c_hashes.SHA384(), "sha512": c_hashes.SHA512()}
DER = ser.Encoding.DER
NOENC = ser.NoEncryption()
SPKI = ser.PublicFormat.SubjectPublicKeyInfo
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def vec(name):
    return (VECTORS / name).read_bytes()


def _crypto_rsa_keys():
    out = [ser.load_der_private_key(vec("keys_rsa2048_pkcs1.der"), None),
           ser.load_der_private_key(vec("keys_rsa4096_pkcs8.der"), None)]
    for bits, e in ((2048, 65537), (3072, 65537), (2048, 3)):
        out.append(c_rsa.generate_private_key(e, bits))
    return out


RSA_KEYS = _crypto_rsa_keys()


@pytest.mark.parametrize("ck", RSA_KEYS, ids=lambda k: "rsa%d_e%d" % (k.key_size, k.public_key().public_numbers().e))
def test_rsa_encodings_equal_cryptography(ck):
    pkcs8 = ck.private_bytes(DER, ser.PrivateFormat.PKCS8, NOENC)
    pkcs1 = ck.private_bytes(DER, ser.PrivateFormat.TraditionalOpenSSL, NOENC)
    for data in (pkcs8, pkcs1):
        key = keys.load_private(data)
        assert key.to_der() == pkcs8
        assert key.to_pkcs1() == pkcs1
        assert key.public_key_der() == ck.public_key().public_bytes(DER, SPKI)
        assert key.bits == ck.key_size
    assert keys.parse_spki(ck.public_key().public_bytes(DER, SPKI)) == (
        "rsa", ck.key_size, (ck.public_key().public_numbers().n, ck.public_key().public_numbers().e))


@pytest.mark.parametrize("ck", RSA_KEYS, ids=lambda k: "rsa%d_e%d" % (k.key_size, k.public_key().public_numbers().e))
@settings(max_examples=8, deadline=None)
@given(msg=st.binary(max_size=300), hn=st.sampled_from(sorted(HASHES)))
def test_rsa_signatures_equal_cryptography(ck, msg, hn):
    key = rsa.from_der(ck.private_bytes(DER, ser.PrivateFormat.PKCS8, NOENC), hn)
    sig = key.sign(msg)
    theirs = ck.sign(msg, padding.PKCS1v15(), HASHES[hn])
    assert sig == theirs
    ck.public_key().verify(sig, msg, padding.PKCS1v15(), HASHES[hn])
    spki = key.public_key_der()
    keys.verify(spki, key.algorithm_der(), msg, theirs)
    with pytest.raises(VerifyError):
        keys.verify(spki, key.algorithm_der(), msg + b"x", theirs)


@given(pos=st.integers(0, 255), bit=st.integers(0, 7))
@settings(max_examples=50, deadline=None)
def test_rsa_tampered_signature_both_reject(pos, bit):
    ck = RSA_KEYS[0]
    msg = b"tampered"
    sig = bytearray(ck.sign(msg, padding.PKCS1v15(), c_hashes.SHA256()))
    sig[pos] ^= 1 << bit
    n = ck.public_key().public_numbers().n
    assert not rsa.verify(n, 65537, "sha256", hashes.sha256(msg), bytes(sig))
    with pytest.raises(InvalidSignature):
        ck.public_key().verify(bytes(sig), msg, padding.PKCS1v15(), c_hashes.SHA256())


def test_rsa_broken_random_source(monkeypatch):
    key = rsa.from_der(vec("keys_rsa2048_pkcs1.der"))
    monkeypatch.setattr(rsa.os, "urandom", lambda n: bytes(n))
    with pytest.raises(CryptoError):
        key.sign(b"x")


def _signature_algorithm(ck, hash_alg):
    # the signatureAlgorithm cryptography writes into a certificate signed by ck
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.datetime(2024, 1, 1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ck.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(ck, hash_alg))
    return a_x509.Certificate.load(cert.public_bytes(DER))["signature_algorithm"].dump()


def test_algorithm_der_equals_cryptography():
    ck = RSA_KEYS[0]
    for hn in HASHES:
        key = rsa.from_der(ck.private_bytes(DER, ser.PrivateFormat.PKCS8, NOENC), hn)
        assert key.algorithm_der() == _signature_algorithm(ck, HASHES[hn]), hn
    ce = c_ed.Ed25519PrivateKey.generate()
    key = keys.load_private(ce.private_bytes(DER, ser.PrivateFormat.PKCS8, NOENC))
    assert key.algorithm_der() == _signature_algorithm(ce, None)


@settings(max_examples=60, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), msg=st.binary(max_size=500))
def test_ed25519_equals_cryptography(seed, msg):
    ck = c_ed.Ed25519PrivateKey.from_private_bytes(seed)
    key = ed25519.from_secret(seed)
    assert key.public_bytes() == ck.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    assert key.to_der() == ck.private_bytes(DER, ser.PrivateFormat.PKCS8, NOENC)
    assert key.public_key_der() == ck.public_key().public_bytes(DER, SPKI)
    sig = key.sign(msg)
    assert sig == ck.sign(msg)
    ck.public_key().verify(sig, msg)
    assert ed25519.verify(key.public_bytes(), msg, sig)
    keys.verify(key.public_key_der(), key.algorithm_der(), msg, sig)
    assert keys.load_private(key.to_der()).public_bytes() == key.public_bytes()


@settings(max_examples=100, deadline=None)
@given(pos=st.integers(0, 32 + 64 + 7), bit=st.integers(0, 7))
def test_ed25519_tampered_both_reject(pos, bit):
    ck = c_ed.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    msg = bytearray(b"ed25519 tamper")
    pub = bytearray(ck.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw))
    sig = bytearray(ck.sign(bytes(msg)))
    if pos < 32:
        pub[pos] ^= 1 << bit
    elif pos < 96:
        sig[pos - 32] ^= 1 << bit
    else:
        msg[pos - 96] ^= 1 << bit
    ours = ed25519.verify(bytes(pub), bytes(msg), bytes(sig))
    try:
        c_ed.Ed25519PublicKey.from_public_bytes(bytes(pub)).verify(bytes(sig), bytes(msg))
        theirs = True
    except InvalidSignature:
        theirs = False
    assert ours is False and theirs is False


def test_ed25519_non_canonical_s_both_reject():
    ck = c_ed.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    pub = ck.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    sig = ck.sign(b"m")
    L = 2**252 + 27742317777372353535851937790883648493
    bad = sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    assert not ed25519.verify(pub, b"m", bad)
    with pytest.raises(InvalidSignature):
        ck.public_key().verify(bad, b"m")


@settings(max_examples=40, deadline=None)
@given(curve=st.sampled_from(["P-256", "P-384"]), hn=st.sampled_from(sorted(HASHES)),
       secret=st.integers(1, 2**255), msg=st.binary(max_size=200))
def test_keys_verify_ecdsa_from_cryptography(curve, hn, secret, msg):
    ck = c_ec.derive_private_key(secret, c_ec.SECP256R1() if curve == "P-256" else c_ec.SECP384R1())
    spki = ck.public_key().public_bytes(DER, SPKI)
    sig = ck.sign(msg, c_ec.ECDSA(HASHES[hn]))
    alg = {"sha256": "300a06082a8648ce3d040302", "sha384": "300a06082a8648ce3d040303",
           "sha512": "300a06082a8648ce3d040304"}[hn]
    keys.verify(spki, bytes.fromhex(alg), msg, sig)
    with pytest.raises(VerifyError):
        keys.verify(spki, bytes.fromhex(alg), msg + b"!", sig)
    key = keys.load_private(ck.private_bytes(DER, ser.PrivateFormat.PKCS8, NOENC))
    assert key.public_key_der() == spki
    assert keys.parse_spki(spki) == ("ec", curve, ck.public_key().public_bytes(
        ser.Encoding.X962, ser.PublicFormat.UncompressedPoint))


# ---------------------------------------------------------------- fuzzing

PRIVATE_SEEDS = [vec(n) for n in (
    "keys_rsa2048_pkcs1.der", "keys_rsa2048_pkcs8.der", "keys_p256_pkcs8.der", "keys_p256_sec1.der",
    "keys_p384_sec1.der", "keys_ed25519_pkcs8.der", "keys_encrypted_pkcs8.der")]
PEM_SEEDS = [vec(n) for n in ("keys_rsa2048_pkcs1.pem", "keys_p256_sec1.pem", "keys_ed25519_rfc8410.pem")]
SPKI_SEEDS = [vec(n) for n in (
    "keys_rsa2048_spki.der", "keys_p256_spki.der", "keys_p384_spki.der", "keys_ed25519_spki.der",
    "keys_p521_spki.der", "keys_ed448_spki.der")]
ALGS = [bytes.fromhex(a) for a in (
    "300a06082a8648ce3d040302", "300a06082a8648ce3d040303", "300d06092a864886f70d01010b0500",
    "300b06092a864886f70d01010d", "300506032b6570")]
SIGS = {"keys_rsa2048_spki.der": vec("keys_rsa2048_sha256.sig"), "keys_p256_spki.der": vec("keys_p256_sha256.sig"),
        "keys_ed25519_spki.der": vec("keys_ed25519.sig")}


@st.composite
def mutated(draw, seeds):
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete", "dup"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[i] = draw(st.sampled_from([0, 0x7F, 0x80, 0x81, 0x82, 0x84, 0xFF, 0x30, 0x02, 0x04]))
        elif op == "cut":
            data = data[:i]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=4))
        elif op == "delete" and data:
            del data[i]
        elif op == "dup" and data:
            j = draw(st.integers(i, len(data)))
            data[j:j] = data[i:j]
    return bytes(data)


def _only_est_errors(fn, *args):
    try:
        fn(*args)
    except EstError:
        pass


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), mutated(PRIVATE_SEEDS)))
def test_fuzz_load_private_der(data):
    _only_est_errors(keys.load_private, data)


@FUZZ
@given(data=st.one_of(st.text(max_size=200), mutated(PEM_SEEDS)))
def test_fuzz_load_private_pem(data):
    _only_est_errors(keys.load_private, data)
    if isinstance(data, bytes):
        try:
            text = data.decode()
        except UnicodeDecodeError:
            return
        _only_est_errors(keys.load_private, text)


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), mutated(SPKI_SEEDS)))
def test_fuzz_parse_spki(data):
    _only_est_errors(keys.parse_spki, data)


@FUZZ
@given(spki_name=st.sampled_from(sorted(SIGS)), alg=st.one_of(st.sampled_from(ALGS), mutated(ALGS)),
       sig=st.one_of(st.binary(max_size=300), mutated(list(SIGS.values()))), which=st.integers(0, 2),
       spki=mutated(SPKI_SEEDS))
def test_fuzz_verify(spki_name, alg, sig, which, spki):
    if which == 0:
        spki = vec(spki_name)
    elif which == 1:
        sig = SIGS[spki_name]
    _only_est_errors(keys.verify, spki, alg, b"tinyest keys test message\n", sig)


@FUZZ
@given(data=mutated([vec("keys_rsa2048_pkcs1.der"), vec("keys_rsa4096_pkcs8.der")]))
def test_fuzz_rsa_from_der(data):
    _only_est_errors(rsa.from_der, data)


@FUZZ
@given(data=mutated([vec("keys_ed25519_pkcs8.der"), pem.decode(vec("keys_ed25519_rfc8410.pem"))]))
def test_fuzz_ed25519_from_der(data):
    _only_est_errors(ed25519.from_der, data)
