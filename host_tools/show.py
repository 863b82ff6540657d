"""``tinyest show``: readable lines about certificates, requests, PKCS#7 bundles
and keys (PEM, DER or a base64 EST body), and the one-line summary of a
certificate the EST commands print. Uses ``cryptography``: it describes what the
core produced, so it does not lean on the core to read it."""

import binascii
import hashlib

from host_tools.files import InputError, read_file


def summary(der):
    """One line: subject, issuer and end of validity of a certificate."""
    from cryptography import x509
    c = x509.load_der_x509_certificate(bytes(der))
    return "%s (issuer %s, valid until %s)" % (
        c.subject.rfc4514_string() or "<empty>", c.issuer.rfc4514_string(),
        c.not_valid_after_utc.strftime("%Y-%m-%d"))


def describe_file(path):
    """Readable lines about a certificate, request, PKCS#7 bundle or key file."""
    from tinyest import pem
    from tinyest.errors import EstError
    data = read_file(path, "file")
    if pem.is_pem(data):
        try:
            blocks = pem.decode_all(data)
        except EstError as e:
            raise InputError("%s: %s" % (path, e))
    else:
        stripped = b"".join(data.split()).rstrip(b"\0")
        if not data.startswith(b"\x30"):
            try:
                data = binascii.a2b_base64(stripped)      # a base64 EST body
            except binascii.Error:
                raise InputError("%s is neither PEM, DER nor base64" % path)
        blocks = [(None, data)]
    lines = []
    for label, der in blocks:
        lines += ["%s:" % path] + ["  " + l for l in _describe_der(label, der)]
    return lines


def _describe_der(label, der):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    kinds = ([label] if label else []) + ["CERTIFICATE", "CERTIFICATE REQUEST", "PKCS7", "PRIVATE KEY"]
    for kind in kinds:
        try:
            if kind == "CERTIFICATE":
                return _cert_lines(x509.load_der_x509_certificate(der), der)
            if kind in ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"):
                r = x509.load_der_x509_csr(der)
                lines = ["certificate request", "  subject: %s" % (r.subject.rfc4514_string() or "<empty>"),
                         "  key: %s" % _key_text(r.public_key()),
                         "  signature: %s" % ("valid" if r.is_signature_valid else "INVALID")]
                try:
                    san = r.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                    lines.append("  subjectAltName: %s" % ", ".join(_gn(n) for n in san))
                except x509.ExtensionNotFound:
                    pass
                return lines
            if kind in ("PKCS7", "CMS"):
                from tinyest import pkcs7
                certs = [bytes(c) for c in pkcs7.certificates(der)]
                lines = ["PKCS#7 certs-only, %d certificate%s" % (len(certs), "" if len(certs) == 1 else "s")]
                for c in certs:
                    lines += ["  " + l for l in _cert_lines(x509.load_der_x509_certificate(c), c)]
                return lines
            if kind in ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"):
                k = serialization.load_der_private_key(der, None)
                pub = k.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
                return ["private key: %s" % _key_text(k.public_key()),
                        "  public key SHA-256: %s" % hashlib.sha256(pub).hexdigest()]
        except Exception:       # try the next kind; cryptography raises several types
            continue
    raise InputError("unrecognised content%s" % (" (PEM %s)" % label if label else ""))


def _key_text(pub):
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return "EC %s" % pub.curve.name
    if isinstance(pub, rsa.RSAPublicKey):
        return "RSA %d" % pub.key_size
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(pub).__name__


def _gn(n):
    from cryptography import x509
    kind = {x509.DNSName: "DNS", x509.IPAddress: "IP", x509.RFC822Name: "email",
            x509.UniformResourceIdentifier: "URI"}.get(type(n), type(n).__name__)
    return "%s:%s" % (kind, n.value)


def _cert_lines(c, der):
    from cryptography import x509
    lines = ["certificate",
             "  subject: %s" % (c.subject.rfc4514_string() or "<empty>"),
             "  issuer: %s" % c.issuer.rfc4514_string(),
             "  serial: %x" % c.serial_number,
             "  valid: %s .. %s" % (c.not_valid_before_utc.strftime("%Y-%m-%d %H:%M:%S"),
                                    c.not_valid_after_utc.strftime("%Y-%m-%d %H:%M:%S")),
             "  key: %s" % _key_text(c.public_key())]
    try:
        san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        lines.append("  subjectAltName: %s" % ", ".join(_gn(n) for n in san))
    except x509.ExtensionNotFound:
        pass
    try:
        if c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            lines.append("  CA: yes")
    except x509.ExtensionNotFound:
        pass
    lines.append("  SHA-256: %s" % hashlib.sha256(bytes(der)).hexdigest())
    return lines


# --- serve -----------------------------------------------------------------------
