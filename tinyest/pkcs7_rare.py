"""Rare paths of ``tinyest.pkcs7``, imported only when one is taken.

``crls`` and ``load`` are served as ``pkcs7.crls`` and ``pkcs7.load`` through
that module's ``__getattr__``: a device reads the certificates of an answer
with ``pkcs7.certificates`` and never these. ``TEXTS`` holds the error texts of
``tinyest.pkcs7``, numbered by its ``_TEXT`` ... ``_UNSUPPORTED`` constants, in
one string (a string literal per message would cost heap on a board each time
an answer is read); ``pkcs7._error`` loads them with the first error.
"""

from tinyest.pkcs7 import certificates

TEXTS = (
    "PKCS#7 text: decode the base64|PKCS#7 of %d bytes (limit %d)|not SignedData|"
    "SignedData v%d at offset %d|not a certs-only SignedData|more than %d certificates|"
    "more than %d CRLs|unsupported 0x%02x at offset %d"
)


def crls(data):
    """The CRLs of a certs-only message, as DER memoryview slices."""
    return certificates(data, 1)


def load(data):
    """The certificates of a certs-only message as x509.Certificate objects."""
    from tinyest import x509

    out = []
    for c in certificates(data):
        out.append(x509.Certificate(c))
    return out
