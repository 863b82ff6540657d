"""python -m host_tools.demo [NAME]: make a P-256 key and a CSR for the device NAME.

Prints ``demo: ...`` progress lines, then the request as PEM. Exit status 0 on
success, 1 with ``demo: message`` on standard error when tinyest refuses.
"""

import sys

from tinyest import csr, csr_build, csr_read, ec, pem
from tinyest.errors import EstError, FormatError


def build(name, key):
    """CSR DER for device ``name``: CN=name, the name as a DNS SAN when it is a
    host name, for TLS client authentication."""
    b = csr_build.CsrBuilder().subject([("CN", name)])
    try:
        b = b.dns(name)
    except FormatError:
        pass
    return b.key_usage("digitalSignature").ext_key_usage("clientAuth").sign(key)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        sys.stderr.write("usage: python -m host_tools.demo [NAME]\n")
        return 2
    name = argv[0] if argv else "tinyest-demo"
    try:
        print("demo: generating a P-256 key")
        key = ec.generate("P-256")
        print("demo: building a CSR for %r" % name)
        der = build(name, key)
        req = csr_read.Csr(der)
        req.verify()
    except EstError as e:
        sys.stderr.write("demo: %s\n" % e)
        return 1
    print("demo: subject %s, %d bytes, self-signature verified" % (req.subject, len(der)))
    sys.stdout.write(pem.encode(der, "CERTIFICATE REQUEST"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
