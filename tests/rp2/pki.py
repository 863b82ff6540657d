"""A small test PKI made on the host with pyca/cryptography (independent of
tinyest): P-256 CAs, certificates issued for a CSR, certs-only PKCS#7 as an EST
server returns it (RFC 7030 4.2.3: base64 of a certs-only CMS)."""
import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DER = serialization.Encoding.DER


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tinyest rp2 tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class Ca:
    """A P-256 CA: root (self-signed) or intermediate (issued by ``parent``)."""

    def __init__(self, cn, parent=None, days=3650):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(cn)
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(self.name)
             .issuer_name(parent.name if parent else self.name)
             .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=True, path_length=None if parent is None else 0), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                          data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                          crl_sign=True, encipher_only=False, decipher_only=False), critical=True))
        self.cert = b.sign(parent.key if parent else self.key, hashes.SHA256())
        self.der = self.cert.public_bytes(DER)

    def issue(self, public_key, cn, days=365):
        """A client certificate for ``public_key`` (a cryptography key), DER."""
        now = datetime.datetime.now(datetime.timezone.utc)
        b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
             .issuer_name(self.name).public_key(public_key).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=days))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
        return b.sign(self.key, hashes.SHA256()).public_bytes(DER)

    def issue_for_csr(self, csr_der):
        """Check the CSR's signature and issue its certificate (subject CN copied)."""
        req = x509.load_der_x509_csr(csr_der)
        if not req.is_signature_valid:
            raise ValueError("the CSR's signature does not verify")
        cn = req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        return self.issue(req.public_key(), cn)


def certs_only(cert_ders):
    """The body of an EST /simpleenroll answer: base64 of a certs-only PKCS#7."""
    certs = [x509.load_der_x509_certificate(d) for d in cert_ders]
    return base64.b64encode(pkcs7.serialize_certificates(certs, DER)).decode()


def public_der(cert_der):
    return x509.load_der_x509_certificate(cert_der).public_key().public_bytes(
        DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pem(cert_der):
    return x509.load_der_x509_certificate(cert_der).public_bytes(serialization.Encoding.PEM).decode()
