"""Host-side tools for tinyest (CPython only): the development EST server
(``host_tools.devserver``), the ``tinyest`` command (``host_tools.cli``) and
``tinyest-provision`` (``host_tools.provision``); both commands exit with the
codes of one table (``host_tools.exitcodes``).

Nothing here runs on a device; these modules may use ``cryptography``.
"""

import os
import shutil
import sys


def find_micropython():
    """Path of the `micropython` command: the one installed beside this Python
    (a virtual environment's bin/, which need not be on PATH), else PATH's."""
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    if os.access(here, os.X_OK):
        return here
    return shutil.which("micropython")
