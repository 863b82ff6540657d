"""Writes cacerts_loop.der, a hostile /cacerts answer (host only: cryptography).

    python3 tests/vectors/make_cacerts_loop.py

A genuine self-signed P-256 root plus 15 P-384 CA certificates that carry the
root's name as subject and issuer and sign each other in a loop (certificate i
is signed by the key of certificate i+1): every one is a candidate issuer of
every other, so a path search that checks each candidate per certificate does
quadratically many P-384 signature checks. The root's fingerprint matches, as
in a bootstrap by fingerprint. Deterministic keys; the signatures are not
(ECDSA with a random k), which does not matter to the tests.
"""
import datetime
import hashlib
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
NB = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
NA = datetime.datetime(2044, 1, 1, tzinfo=datetime.timezone.utc)
LOOP = 15


def key(label, curve):
    d = int.from_bytes(hashlib.sha512(label.encode()).digest(), "big") % (1 << 250)
    return ec.derive_private_key(d, curve)


def cert(name, public, signer, alg, serial):
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
         .serial_number(serial).not_valid_before(NB).not_valid_after(NA)
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True))
    return b.sign(signer, alg).public_bytes(serialization.Encoding.DER)


def main():
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tinyest loop root")])
    root_key = key("loop root", ec.SECP256R1())
    certs = [cert(name, root_key.public_key(), root_key, hashes.SHA256(), 1)]
    keys = [key("loop %d" % i, ec.SECP384R1()) for i in range(LOOP)]
    for i in range(LOOP):
        certs.append(cert(name, keys[i].public_key(), keys[(i + 1) % LOOP], hashes.SHA384(),
                          100 + i))
    p7 = pkcs7.serialize_certificates([x509.load_der_x509_certificate(c) for c in certs],
                                      serialization.Encoding.DER)
    with open(os.path.join(HERE, "cacerts_loop.der"), "wb") as f:
        f.write(p7)


if __name__ == "__main__":
    main()
