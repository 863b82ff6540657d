"""Host-side tools for tinyest (CPython only): the development EST server
(``host_tools.devserver``) and the ``tinyest`` command (``host_tools.cli``).

Nothing here runs on a device; these modules may use ``cryptography``.
"""
