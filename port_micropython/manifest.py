# Freeze the tinyest EST client into a MicroPython firmware image.
#
# In a board's manifest (or with FROZEN_MANIFEST / MICROPY_FROZEN_MANIFEST):
#     include("/path/to/tinyest/port_micropython/manifest.py")
# A board that signs and verifies with a secure element leaves the pure-Python
# ECDSA, RSA, Ed25519 and SHA-384/512 out:
#     include("/path/to/tinyest/port_micropython/manifest.py", crypto=False)
# The example application (main.py) is not frozen: it lives in the flash with its
# config.json, so both can be changed without rebuilding the firmware.
metadata(description="EST (RFC 7030) client: enroll and renew device certificates",
         version="0.1.0", license="MIT")

options.defaults(crypto=True)

CORE = ("__init__.py", "client.py", "csr.py", "der.py", "device.py", "errors.py", "http.py",
        "keys.py", "pem.py", "pkcs7.py", "port.py", "store.py", "x509.py")
CRYPTO = ("ec.py", "ed25519.py", "hashes.py", "rsa.py")

package("tinyest", files=CORE + (CRYPTO if options.crypto else ()), base_path="..")
