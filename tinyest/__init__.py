"""tinyest: an EST (RFC 7030) client for MicroPython and CPython.

Importing the package loads nothing else. Use the modules directly:
``from tinyest.client import EstClient``, ``tinyest.csr``, ``tinyest.x509``,
``tinyest.errors``. (A lazy package-level export is not offered: MicroPython
resolves ``from tinyest import der`` through a module ``__getattr__``.)
"""

__version__ = "0.1.0"
