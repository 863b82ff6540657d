"""The exit codes of ``tinyest-provision`` (the table it shares with ``tinyest``,
``host_tools.exitcodes``) and the two exceptions that carry a run to them."""

from host_tools.exitcodes import (EXIT_BATCH, EXIT_DEVICE, EXIT_EST, EXIT_INPUT,
                                  EXIT_INTERRUPTED, EXIT_LINK, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE)

PROG = "tinyest-provision"

HINT = ("hint: check the USB cable (a charge-only cable carries no data), the USB-serial driver "
        "(CP210x, CH34x, FTDI), the port name, and that no other program (a serial monitor, "
        "mpremote) holds the port; on Linux your user may need the dialout group")


class Fail(Exception):
    """Ends one device's run: exit code, message, the device's state."""

    def __init__(self, code, message, state=None, hint=False):
        Exception.__init__(self, message)
        self.code = code
        self.message = message
        self.state = state
        self.hint = hint


class UsageError(Exception):
    """A command line or settings file the tool cannot use (exit 1)."""
