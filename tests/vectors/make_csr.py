"""Generates the csr_* vectors with pyca/cryptography (an implementation
independent of tinyest). Deterministic: fixed key, RFC 6979 ECDSA.

Run from the repository root: python tests/vectors/make_csr.py
"""
import ipaddress
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

HERE = pathlib.Path(__file__).resolve().parent

# A fixed P-256 secret (the RFC 6979 A.2.5 example key).
SECRET = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721


def main():
    key = ec.derive_private_key(SECRET, ec.SECP256R1())
    subject = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "DE")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme, Inc.")]),
        x509.RelativeDistinguishedName([
            x509.NameAttribute(NameOID.COMMON_NAME, "sensor-7"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "A1B2"),
        ]),
    ])
    san = x509.SubjectAlternativeName([
        x509.DNSName("sensor-7.example.net"),
        x509.IPAddress(ipaddress.ip_address("198.51.100.7")),
        x509.IPAddress(ipaddress.ip_address("2001:db8::7")),
        x509.UniformResourceIdentifier("urn:dev:sensor-7"),
        x509.RFC822Name("ops@example.net"),
    ])
    ku = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )
    builder = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(san, critical=False)
        .add_extension(ku, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_attribute(ObjectIdentifier("1.2.840.113549.1.9.7"), b"s3cret")
    )
    csr = builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    (HERE / "csr_p256_cryptography.der").write_bytes(csr.public_bytes(Encoding.DER))


if __name__ == "__main__":
    main()
