"""What ``tinyest.keys`` does for keys other than EC, and for PEM input, imported
on first use: a device with a P-256 key under a P-256 CA never loads it. RSA
(``tinyest.rsa``) and Ed25519 (``tinyest.ed25519``) public keys, signatures and
private keys; PEM private keys (hosts, provisioning). And the texts of
``tinyest.keys``'s errors (``keys._error`` formats them). The rules are those of
tinyest.keys's module text.
"""

from tinyest import der, texts
from tinyest.errors import FormatError, VerifyError

# By number (``keys._error``): one string holds them all
TEXTS = ("unsupported %s %s|%s with params|%d private key PEM blocks|encrypted key: decrypt it first|"
         "not a private key|label %s on %s|EC key without a named curve|not an uncompressed %s point|"
         "RSA key parameters not NULL|Ed25519 key of %d bytes|%s signature, %s key|bad %s signature")

_error = texts("keys_rare")


def _no_params(r, what):
    if not r.empty():
        raise _error(FormatError, 1, what)


def unsupported(what, oid):
    raise _error(FormatError, 0, (what, der.oid_str(oid)))


def load_pem(data):
    """``keys.load_private`` of PEM text: one key block (an "EC PARAMETERS"
    block beside it is ignored), its label checked against the structure."""
    from tinyest import keys, pem

    blocks = []
    for b in pem.decode_all(data):
        if b[0] != "EC PARAMETERS":
            blocks.append(b)
    if len(blocks) != 1:
        raise _error(FormatError, 2, len(blocks))
    label, data = blocks[0]
    if not len(data) or data[0] != 0x30:
        raise _error(FormatError, 4)
    return keys.load_private(data, label)


def private_other(data, tag):
    """An RSA (PKCS#1 or PKCS#8) or Ed25519 (PKCS#8) private key; ``tag`` is the
    one after the version: 0x02 PKCS#1, 0x30 PKCS#8."""
    if tag == 0x30:
        r = der.top(data)
        r.read_int()
        oid = bytes(r.enter(0x30).read_oid())
        if oid == b"\x2b\x65\x70":  # id-Ed25519
            from tinyest import ed25519

            return ed25519.from_der(data)
        if oid != b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01":  # rsaEncryption
            unsupported("key algorithm", oid)
    from tinyest import rsa

    return rsa.from_der(data)


def spki_other(alg, oid, key):
    """``keys.parse_spki`` for a key that is not id-ecPublicKey: ``alg`` the
    AlgorithmIdentifier's reader after its OID ``oid``, ``key`` the BIT STRING."""
    if oid == b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01":  # rsaEncryption
        if alg.peek_tag() != 0x05:
            raise _error(FormatError, 8)
        alg.read_null()
        _no_params(alg, "RSA key")
        from tinyest import rsa

        n, e = rsa.public_from_der(key)
        return "rsa", rsa.bit_length(n), (n, e)
    if oid == b"\x2b\x65\x70":  # id-Ed25519
        _no_params(alg, "Ed25519 key")
        if len(key) != 32:
            raise _error(FormatError, 9, len(key))
        from tinyest import ed25519

        ed25519.check_public(key)
        return "ed25519", None, bytes(key)
    unsupported("key algorithm", oid)


def verify_other(kind, param, key, oid, r, data, signature):
    """``keys.verify`` but for an ECDSA signature by an EC key: ``r`` reads the
    AlgorithmIdentifier after its OID ``oid``."""
    i = oid[-1]
    arc = oid[:-1]
    if arc == b"\x2a\x86\x48\xce\x3d\x04\x03" and 2 <= i <= 4:  # ecdsa-with-SHA256/384/512
        want, name = "ec", "ECDSA"
    elif arc == b"\x2a\x86\x48\x86\xf7\x0d\x01\x01" and 11 <= i <= 13:  # sha256/384/512WithRSAEncryption
        want, name = "rsa", "RSA"
        i -= 11
        if r.peek_tag() == 0x05:  # NULL or absent (RFC 4055)
            r.read_null()
    elif oid == b"\x2b\x65\x70":  # Ed25519
        want, name = "ed25519", "Ed25519"
    else:
        unsupported("signature algorithm", oid)
    _no_params(r, name)  # e.g. "ECDSA with params"
    if kind != want:
        raise _error(FormatError, 10, (name, kind))
    data = bytes(data)
    signature = bytes(signature)
    if kind == "ed25519":
        from tinyest import ed25519

        ok = ed25519.verify(key, data, signature)
    else:
        from tinyest import hashes, rsa

        h = "sha%d" % (256 + 128 * i)
        ok = rsa.verify(key[0], key[1], h, getattr(hashes, h)(data), signature)
    if not ok:
        raise _error(VerifyError, 11, name)
