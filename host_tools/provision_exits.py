"""The exit codes of ``tinyest-provision`` (see its usage text) and the two
exceptions that carry a run to them."""

PROG = "tinyest-provision"

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_DEVICE = 2
EXIT_LINK = 3
EXIT_INPUT = 4
EXIT_EST = 5
EXIT_BATCH = 6
EXIT_UNKNOWN = 7
EXIT_INTERRUPTED = 130

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
