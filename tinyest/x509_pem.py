"""Certificates from DER or PEM input: ``x509.load`` and ``x509.load_all``.

``tinyest.x509`` serves these two names from here through its module
``__getattr__``, so a board that checks answers (DER, from the HTTP layer)
never loads them. A first byte other than 0x30 (or a str) is taken as PEM text
and read by ``tinyest.pem``; the certificates themselves are
``x509.Certificate`` objects, with every check of that class.
"""

from tinyest.x509 import Certificate


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
