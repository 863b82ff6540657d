"""Rare paths of ``tinyest.x509``, imported only when one is taken.

``load`` and ``load_all`` (certificates from DER or PEM input) are served as
``x509.load`` and ``x509.load_all`` through that module's ``__getattr__``, so a
board that checks answers (DER, from the HTTP layer) never loads them. A first
byte other than 0x30 (or a str) is taken as PEM text and read by
``tinyest.pem``; the certificates themselves are ``x509.Certificate`` objects,
with every check of that class.

``TEXTS`` holds the error texts of ``tinyest.x509``, numbered by its ``_EMPTY_RDN``
... ``_NO_ISSUER`` constants, in one string (a string literal per message would
cost heap on a board each time a certificate is read); ``x509._error`` loads
them with the first error. ``reason_text`` makes the text of the VerifyError
``x509.verify_chain`` raises when no path passes, from the reason its search
kept: a text number and its arguments, certificates named by their subject.
"""

from tinyest.x509 import Certificate

TEXTS = (
    "empty RDN at offset %d|more than 32 name attributes|EC key without a named curve|"
    "Ed25519 key of %d octets|PEM text: use x509.load()|certificate over 16384 bytes|"
    "bad version %d at offset %d|serial of more than 32 octets|"
    "TBS signature algorithm differs|bad SubjectPublicKeyInfo (%s)|bad unique ID|"
    "extensions in a v%d certificate|more than 32 extensions|duplicate extension %s|"
    "%d-octet keyUsage at offset %d|negative pathLen at offset %d|"
    "more than 16 extKeyUsage OIDs|empty extKeyUsage|more than 64 subjectAltNames|"
    "%d-octet iPAddress at offset %d|extra TBS field at offset %d|"
    "signature support not installed|cannot check the signature: %s|"
    "gave up at %d signature checks|over 64 others or 32 anchors|"
    "gave up after 256 issuer tries|%s is not valid yet|%s has expired|"
    "%s: critical ext %s unsupported|no path within %d certificates|"
    "%s is v%d and cannot be a CA|%s is not a CA|%s: keyUsage lacks keyCertSign|"
    "path length constraint of %s exceeded|signature on %s by %s: %s|"
    "no issuer found for %s"
)


def load(data):
    """A Certificate from DER (bytes-like) or PEM (str or bytes)."""
    if isinstance(data, str) or (len(data) and data[0] != 0x30):
        from tinyest import pem

        data = pem.decode(data, "CERTIFICATE")
    return Certificate(data)


def load_all(data):
    """Certificates from a PEM bundle (every CERTIFICATE block) or one DER."""
    if isinstance(data, str) or (len(data) and data[0] != 0x30):
        from tinyest import pem

        out = []
        for _, d in pem.decode_all(data, "CERTIFICATE"):
            out.append(Certificate(d))
        return out
    return [Certificate(data)]


def reason_text(reason):
    """The text of a reason (text number, args...) of ``x509.verify_chain``,
    or of None (no reason kept)."""
    if not reason:
        return "no path to a trust anchor"
    args = []
    for a in reason[1:]:  # a certificate by its subject, a Name (memoryview) and an OID (bytes) as text
        if isinstance(a, Certificate):
            a = a.subject
        elif isinstance(a, memoryview):
            from tinyest.names import name_text

            a = name_text(a)
        elif isinstance(a, bytes):
            from tinyest import der

            a = der.oid_str(a)
        args.append(a)
    return TEXTS.split("|")[reason[0]] % tuple(args)
