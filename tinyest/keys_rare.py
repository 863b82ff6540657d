"""The texts of ``tinyest.keys``'s errors, imported with the first one (a
device's keys and certificates are well formed: the words stay on disk).
``keys._error`` formats them."""

# By number (``keys._error``): one string holds them all
TEXTS = ("unsupported %s %s|%s with params|%d private key PEM blocks|encrypted key: decrypt it first|"
         "not a private key|label %s on %s|EC key without a named curve|not an uncompressed %s point|"
         "RSA key parameters not NULL|Ed25519 key of %d bytes|%s signature, %s key|bad %s signature")
