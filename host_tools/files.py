"""Certificate, key and request files for the host commands (``tinyest`` and
``tinyest-provision``): PEM or DER in, PEM or DER out, keys written with mode 0600,
``-`` for standard output. Every failure is an InputError naming the file."""

import os
import sys


class InputError(Exception):
    """A local file could not be read, written or understood (exit 4)."""


def read_file(path, what):
    """The bytes of ``path``; InputError naming ``what`` when it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise InputError("cannot read %s %s: %s" % (what, path, e.strerror or e))


def _blocks(data, label_want, what, path):
    """DER blocks of a PEM text with one of the labels, or [data] for DER."""
    from tinyest import pem
    from tinyest.errors import EstError
    if pem.is_pem(data):
        try:
            blocks = pem.decode_all(data)
        except EstError as e:
            raise InputError("%s %s: %s" % (what, path, e))
        out = [der for lab, der in blocks if lab in label_want]
        if not out:
            raise InputError("%s %s: no PEM block %s" % (what, path, " or ".join(label_want)))
        return out
    if not data.startswith(b"\x30"):
        raise InputError("%s %s is neither PEM nor DER" % (what, path))
    return [data]


def load_certs(path, what="certificate file"):
    """Certificates (DER) of a PEM bundle, a DER certificate or a DER PKCS#7."""
    data = read_file(path, what)
    ders = _blocks(data, ("CERTIFICATE", "PKCS7", "CMS"), what, path)
    out = []
    for der in ders:
        if der[:15].find(b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02") >= 0:
            from tinyest import pkcs7_write
            from tinyest.errors import EstError
            try:
                out += [bytes(c) for c in pkcs7.certificates(der)]
            except EstError as e:
                raise InputError("%s %s: %s" % (what, path, e))
        else:
            out.append(bytes(der))
    return out


def load_key_der(path, what="key file"):
    """A private key as DER (PKCS#8, SEC1 or PKCS#1 as found)."""
    data = read_file(path, what)
    return _blocks(data, ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"), what, path)[0]


def load_signer(path, what="key file"):
    from tinyest import keys
    from tinyest.errors import EstError
    data = read_file(path, what)
    try:
        return keys.load_private(data)
    except EstError as e:
        raise InputError("%s %s: %s" % (what, path, e))


def load_csr(path):
    data = read_file(path, "request file")
    return _blocks(data, ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"), "request file", path)[0]


def write_out(path, data, private=False):
    """Write bytes or text to a file (``-``: standard output)."""
    if isinstance(data, str):
        data = data.encode()
    if path in (None, "-"):
        out = sys.stdout.buffer
        out.write(data)
        out.flush()
        return
    try:
        if private:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        else:
            with open(path, "wb") as f:
                f.write(data)
    except OSError as e:
        raise InputError("cannot write %s: %s" % (path, e.strerror or e))


def encode(der, label, form):
    """DER as it is, or as PEM text under ``label``."""
    from tinyest import pem
    return bytes(der) if form == "der" else pem.encode(der, label).encode()


def write_certs(path, ders, form):
    if form == "der":
        if len(ders) == 1:
            write_out(path, bytes(ders[0]))
        else:
            from tinyest import pkcs7_write
            write_out(path, pkcs7_write.encode_certs_only([bytes(d) for d in ders]))
    else:
        write_out(path, b"".join(encode(d, "CERTIFICATE", "pem") for d in ders))


def write_key(path, der, form):
    write_out(path, encode(der, "PRIVATE KEY", form), private=True)
