"""The error texts of ``tinyest.csr``, imported with its first error.

``TEXTS`` holds them numbered by the ``_NOT_STR`` ... ``_LONG_CN`` constants of
``tinyest.csr``, in one string: a string literal per message would cost heap on
a board each time it makes a request, and a request a device makes is valid.
"""

TEXTS = (
    "%s must be a str, not %s|%s is empty|%s %r holds a control character|"
    "%s %r holds a surrogate|%s %r is not ASCII|%s %r is longer than 253 characters|"
    "%s %r has an empty or over-long label|%s %r has a label starting or ending with '-'|"
    "%s %r: bad character %r|%s must be DER bytes|signature must be non-empty bytes|"
    "CN %r is longer than 64 characters"
)
