"""The dev server's certificate authorities (``cryptography``): keys, certificates,
a root with an optional issuing CA, persistence in a directory, key rollover; and
the few questions the server asks of certificates and requests (is it a CA, who
signed it, its subjectAltName)."""

import datetime
import os

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, ed448, rsa
from cryptography.x509.oid import NameOID

from host_tools.devserver import clock


def new_key(kind):
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind.startswith("rsa"):
        bits = int(kind[3:] or 2048)
        return rsa.generate_private_key(65537, bits)
    raise ValueError("unknown key type %r" % kind)


def _hash_for(key):
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()

def dev_name(cn, org="tinyest dev"):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def build_cert(subject, issuer, public_key, signer, ca=False, path_len=None,
               sans=None, issuer_public=None, lifetime=365 * 86400, not_before=None,
               eku=None):
    """A certificate signed by ``signer`` (a cryptography private key)."""
    nb = not_before or (clock.now() - datetime.timedelta(minutes=5))
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(public_key).serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(nb + datetime.timedelta(seconds=lifetime)))
    b = b.add_extension(x509.BasicConstraints(ca=ca, path_length=path_len), critical=True)
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    b = b.add_extension(x509.KeyUsage(
        digital_signature=not ca, content_commitment=False,
        key_encipherment=is_rsa and not ca, data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False), critical=True)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
        issuer_public or signer.public_key()), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return b.sign(signer, _hash_for(signer))


def cert_der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pkcs8(key):
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Ca:
    """A root CA, optionally with an issuing CA below it, persisted in
    ``directory`` when one is given (root.pem, root-key.pem, issuing.pem,
    issuing-key.pem)."""

    def __init__(self, name, key_type="ec", intermediate=False, directory=None):
        self.name = name
        self.key_type = key_type
        self.intermediate = intermediate
        self.generation = 1
        self.links = []      # OldWithNew, NewWithOld after a rollover
        self.retired = []    # earlier root/issuing certificates (for client-cert checks)
        if directory and os.path.exists(os.path.join(directory, "root.pem")):
            self._load(directory)
        else:
            self._create()
            if directory:
                self._save(directory)

    def _create(self):
        suffix = "" if self.generation == 1 else " G%d" % self.generation
        self.root_key = new_key(self.key_type)
        root_name = dev_name(self.name + " root CA" + suffix)
        self.root = build_cert(root_name, root_name, self.root_key.public_key(), self.root_key,
                               ca=True, lifetime=20 * 365 * 86400)
        if self.intermediate:
            self.issuing_key = new_key(self.key_type)
            self.issuing = build_cert(dev_name(self.name + " issuing CA" + suffix), root_name,
                                      self.issuing_key.public_key(), self.root_key, ca=True,
                                      path_len=0, lifetime=10 * 365 * 86400)
        else:
            self.issuing_key, self.issuing = self.root_key, self.root

    def _save(self, d):
        os.makedirs(d, exist_ok=True)
        items = [("root", self.root, self.root_key)]
        if self.intermediate:
            items.append(("issuing", self.issuing, self.issuing_key))
        for stem, cert, key in items:
            with open(os.path.join(d, stem + ".pem"), "wb") as f:
                f.write(cert.public_bytes(serialization.Encoding.PEM))
            fd = os.open(os.path.join(d, stem + "-key.pem"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem_key(key))

    def _load(self, d):
        def load(stem):
            with open(os.path.join(d, stem + ".pem"), "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
            with open(os.path.join(d, stem + "-key.pem"), "rb") as f:
                key = serialization.load_pem_private_key(f.read(), None)
            return cert, key
        self.root, self.root_key = load("root")
        if os.path.exists(os.path.join(d, "issuing.pem")):
            self.issuing, self.issuing_key = load("issuing")
            self.intermediate = True
        else:
            self.issuing, self.issuing_key = self.root, self.root_key
            self.intermediate = False
        self.key_type = "rsa" if isinstance(self.root_key, rsa.RSAPrivateKey) else "ec"

    def cacerts(self):
        """Certificates for /cacerts: issuing CA (if any), root, rollover links."""
        out = [self.issuing] if self.intermediate else []
        return out + [self.root] + self.links

    def all_certs(self):
        """Every CA certificate, current and retired (the TLS verify store)."""
        return self.cacerts() + self.retired

    def issuers(self):
        """Certificates whose key may have signed a valid client certificate."""
        return [self.issuing] + [c for c in self.retired if is_ca(c)]

    def issue(self, subject, public_key, sans=None, lifetime=365 * 86400, eku=None,
              backdate=300):
        nb = clock.now() - datetime.timedelta(seconds=backdate)
        return build_cert(subject, self.issuing.subject, public_key, self.issuing_key,
                          sans=sans, lifetime=lifetime, eku=eku, not_before=nb)

    def rollover(self):
        """Replace the root (and issuing) keys; keep OldWithNew and NewWithOld."""
        old_root, old_key = self.root, self.root_key
        self.retired += [old_root] + ([self.issuing] if self.intermediate else [])
        self.generation += 1
        self._create()
        life = int((old_root.not_valid_after_utc - clock.now()).total_seconds())
        old_with_new = build_cert(old_root.subject, self.root.subject, old_key.public_key(),
                                  self.root_key, ca=True, lifetime=life)
        new_with_old = build_cert(self.root.subject, old_root.subject, self.root_key.public_key(),
                                  old_key, ca=True, lifetime=life)
        self.links = [old_with_new, new_with_old]


def is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def signed_by(cert, issuer):
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


def san_list(obj):
    try:
        return list(obj.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


def san_der(obj):
    try:
        return obj.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.public_bytes()
    except x509.ExtensionNotFound:
        return None


def san_key(names):
    return sorted(repr(n) for n in names)
