"""tinyest.pkcs7 against openssl crl2pkcs7 / openssl pkcs7, cryptography and asn1crypto,
with BER framings made on the fly, and hypothesis fuzzing (only EstError may escape)."""

import os
import random
import subprocess
import tempfile

import asn1crypto.cms
from cryptography import x509 as cx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7 as cpkcs7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import EDITS, mutate

from tinyest import der, pkcs7, pkcs7_write, x509
from tinyest.errors import EstError

VECTORS = os.path.join(os.path.dirname(__file__), "..", "vectors")
DER = serialization.Encoding.DER
CERT_NAMES = sorted(n for n in os.listdir(VECTORS)
                    if n.startswith("x509_") and n.endswith(".der") and n != "x509_mesh.der")


def vec(name):
    with open(os.path.join(VECTORS, name), "rb") as f:
        return f.read()


CERTS = [vec(n) for n in CERT_NAMES]
# the ones every reader accepts (cryptography refuses a few tolerated oddities)
PLAIN = [vec("x509_%s.der" % n) for n in ("ec_root", "ec_int", "ec_leaf", "rsa4096_root", "rsa2048_root",
                                           "rsa_int", "rsa_leaf", "ed25519_root", "ed25519_leaf", "san",
                                           "names", "forever", "y2050", "serial20")]


def asn1crypto_certs(data):
    got = asn1crypto.cms.ContentInfo.load(data)["content"]["certificates"]
    return [c.chosen.dump() for c in got] if got else []


def openssl_crl2pkcs7(certs, crl=None):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "c.pem")
        with open(path, "w") as f:
            for c in certs:
                f.write(cx.load_der_x509_certificate(c).public_bytes(serialization.Encoding.PEM).decode())
        args = ["openssl", "crl2pkcs7", "-outform", "DER"]
        if crl is None:
            args.append("-nocrl")
        else:
            crl_path = os.path.join(tmp, "crl.der")
            with open(crl_path, "wb") as f:
                f.write(crl)
            args += ["-inform", "DER", "-in", crl_path]
        if certs:
            args += ["-certfile", path]
        return subprocess.run(args, check=True, capture_output=True).stdout


def test_openssl_output_parses_to_what_asn1crypto_reads_and_encode_matches():
    rng = random.Random(1)
    for _ in range(25):
        certs = rng.sample(PLAIN, rng.randint(0, 6))
        data = openssl_crl2pkcs7(certs)
        got = [bytes(c) for c in pkcs7.certificates(data)]
        assert got == asn1crypto_certs(data) == certs
        assert pkcs7_write.encode_certs_only(certs) == data


def test_cryptography_output():
    rng = random.Random(2)
    for _ in range(25):
        certs = rng.sample(PLAIN, rng.randint(1, 6))
        data = cpkcs7.serialize_certificates([cx.load_der_x509_certificate(c) for c in certs], DER)
        got = [bytes(c) for c in pkcs7.certificates(data)]
        assert got == asn1crypto_certs(data)
        assert sorted(got) == sorted(certs)
        assert [c.public_bytes(DER) for c in cpkcs7.load_der_pkcs7_certificates(data)] == got


def test_openssl_reads_what_we_encode():
    data = pkcs7_write.encode_certs_only(PLAIN[:5])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "p.der")
        with open(path, "wb") as f:
            f.write(data)
        out = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-in", path, "-print_certs", "-outform", "PEM"],
                             check=True, capture_output=True, text=True).stdout
    from tinyest import pem
    assert [d for _, d in pem.decode_all(out, "CERTIFICATE")] == PLAIN[:5]


def test_with_crl_from_openssl():
    crl = vec("p7_crl_inner.der")
    certs = PLAIN[:3]
    data = openssl_crl2pkcs7(certs, crl)
    assert [bytes(c) for c in pkcs7.certificates(data)] == certs
    assert [bytes(c) for c in pkcs7.crls(data)] == [crl]
    assert pkcs7_write.encode_certs_only(certs, [crl]) == data
    crls = asn1crypto.cms.ContentInfo.load(data)["content"]["crls"]
    assert [c.chosen.dump() for c in crls] == [crl]


def _tlv(tag, body, indefinite):
    if indefinite:
        return bytes((tag, 0x80)) + body + b"\x00\x00"
    return der.tlv(tag, body)


def ber_certs_only(certs, flags):
    """certs-only with indefinite length on the layers whose flag is set."""
    f = iter(flags)
    eci = _tlv(0x30, der.oid("1.2.840.113549.1.7.1"), next(f))
    sd = _tlv(0x30, der.integer(1) + _tlv(0x31, b"", next(f)) + eci + _tlv(0xA0, b"".join(certs), next(f))
              + _tlv(0x31, b"", next(f)), next(f))
    return _tlv(0x30, der.oid("1.2.840.113549.1.7.2") + _tlv(0xA0, sd, next(f)), next(f))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=7, max_size=7), st.lists(st.sampled_from(range(len(PLAIN))), max_size=5))
def test_ber_framings_parse_like_asn1crypto(flags, idx):
    certs = [PLAIN[i] for i in idx]
    data = ber_certs_only(certs, flags)
    got = [bytes(c) for c in pkcs7.certificates(data)]
    assert got == certs
    assert got == asn1crypto_certs(data)


def test_load_gives_certificates():
    objs = pkcs7.load(openssl_crl2pkcs7(PLAIN[:4]))
    assert [c.subject for c in objs] == [x509.Certificate(c).subject for c in PLAIN[:4]]


# ---------------------------------------------------------------- fuzz

SEEDS = [vec(n) for n in ("p7_openssl.der", "p7_ber.der", "p7_crl.der", "p7_single.der", "p7_empty.der")]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])




@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data):
    for fn in (pkcs7.certificates, pkcs7.crls):
        try:
            fn(data)
        except EstError:
            pass


@FUZZ
@given(st.sampled_from(SEEDS), EDITS)
def test_fuzz_mutated(seed, edits):
    data = mutate(seed, edits)
    try:
        certs = pkcs7.certificates(data)
        pkcs7.crls(data)
    except EstError:
        return
    for c in certs:
        try:
            x509.Certificate(c)
        except EstError:
            pass
    # What we accept, asn1crypto reads the same way (it is laxer, so not the reverse).
    try:
        theirs = asn1crypto_certs(data)
    except Exception:
        return
    assert [bytes(c) for c in certs] == theirs
