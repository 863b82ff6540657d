# Freeze the tinyest EST client into a MicroPython firmware image.
#
# In a board's manifest (or with FROZEN_MANIFEST / MICROPY_FROZEN_MANIFEST):
#     include("/path/to/tinyest/port_micropython/manifest.py")
# A board that signs and verifies with a secure element leaves the pure-Python
# ECDSA, RSA, Ed25519 and SHA-384/512 out:
#     include("/path/to/tinyest/port_micropython/manifest.py", crypto=False)
# A board that only bootstraps, enrolls and renews may leave out the core modules
# imported on first use of a feature it never uses (csrattrs, serverkeygen, proxy,
# the general CSR builder, names as text, PEM input, the provisioning agent's wire format):
#     include("/path/to/tinyest/port_micropython/manifest.py", extras=False)
# It keeps http_auth (the 401 of an enrollment with a password), catrust (/cacerts
# answers, bootstrap by fingerprint), rollover (CA rollover), names (certificate names in
# messages), http_date, http_rare and runtime_rare (HTTP dates, chunked and
# close-delimited bodies, the rarer TLS inputs: what real servers and configs send),
# and the other *_rare modules and issued (error texts, the device's and the
# client's rarer paths, the issued-certificate check).
# Using a feature whose module was left out raises ImportError.
# The example application (main.py) is not frozen: it lives in the flash with its
# config.json, so both can be changed without rebuilding the firmware.
#
# What a board gives and what the library needs (measured with bench/bench_fit.py on
# the board models of ../shared/tools, MicroPython 1.28; the device path is /cacerts,
# /simpleenroll with a password and /simplereenroll with a new key, over real TLS):
#   mip install (.mpy in the flash file system, bytecode loaded into the GC heap),
#   every heap from the figure up completes (tests/host/test_fit_host.py holds the budgets):
#     Pico W (~192 KiB of GC heap, mbedTLS in it):   full path 92-94 KiB, renewal 81 KiB
#       (budgets 96 / 88); the firmware loop (main.py, a boot per step) 105 KiB (budget 112)
#     ESP32 (~110 KiB of GC heap, TLS in IDF's heap): full path 71-73 KiB, renewal 66-70 KiB
#       (budgets 80 / 72)
#     -> a Pico W keeps about 100 KiB for the application, an ESP32 about 36 KiB. This
#        holds with Device (or an EstClient program doing as bench/device_path.py does:
#        tinyest.unload() before a request, release=, gc.threshold(4096)).
#   frozen (this manifest; bytecode stays in flash): the working set only, about
#     25-45 KiB above the TLS session (tests/host/test_client_e2e_host.py,
#     test_enroll_in_64k), which fits both boards.
#   .mpy on a board (port_micropython/build.py, without line numbers): core 31.9 KiB
#     (goal 32), the whole package 96.5 KiB; what the firmware loop loads over a
#     device's life 55.8 KiB (bench/bench_loop.py --loaded; goal 56).
metadata(description="EST (RFC 7030) client: enroll and renew device certificates",
         version="0.1.0", license="MIT")

options.defaults(crypto=True, extras=True, coap=False, thumb=False)

CORE = ("__init__.py", "catrust.py", "client.py", "client_rare.py", "csr.py", "csr_rare.py", "der.py", "der_text.py",
        "der_write.py", "device.py", "device_rare.py", "errors.py", "hostname.py", "http.py", "http_auth.py",
        "http_date.py", "http_rare.py", "issued.py", "keys.py", "keys_rare.py", "names.py", "pkcs7.py", "pkcs7_rare.py",
        "rollover.py", "runtime.py", "runtime_error.py", "runtime_rare.py", "store.py", "store_rare.py", "x509.py",
        "x509_rare.py")
EXTRAS = ("csr_build.py", "csrattrs.py", "pem.py", "proxy.py", "serialwire.py", "serverkeygen.py")
CRYPTO = ("ec.py", "ec_der.py", "ec_p256.py", "ec_p256c.py", "ec_p384.py", "ed25519.py", "hashes.py", "rsa.py",
          "sha512.py")
# runtime_cpython.py is CPython's TLS code: MicroPython never imports it; csr_read.py and
# der_extra.py (the request reader, host-side DER writers) serve hosts and tests.

# EST over CoAP and DTLS (RFC 9148), for a board whose server is coaps:// (main.py's
# "scheme": "coaps"): include("...manifest.py", coap=True)
COAP = ("coap.py", "coap_formats.py", "coaps.py", "dtls.py")

# P-256's point loop in ARM Thumb assembly, for the rp2 port (other Cortex-M ports run
# the same Thumb-1 instructions; untested there): include("...manifest.py", thumb=True).
# Signing and verifying are 3.5-3.8x faster on an RP2040; other ports cannot compile
# it, and tinyest.ec runs without it.
THUMB = ("ec_thumb.py",)

files = (CORE + (EXTRAS if options.extras else ()) + (CRYPTO if options.crypto else ())
         + (COAP if options.coap else ()) + (THUMB if options.thumb and options.crypto else ()))
package("tinyest", files=files, base_path="..")
