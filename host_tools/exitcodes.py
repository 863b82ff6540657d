"""The exit codes of the host commands: one table for ``tinyest`` and
``tinyest-provision``, so a code means the same thing whichever command a script
ran. A command uses the codes that can happen to it; none gives a code a second
meaning.

===  ======================================================================
0    success (batch: every device provisioned)
1    usage error: bad or missing options
2    EST error: the EST server refused (HTTP status, authentication) or its
     answer failed a check (format, signature, chain, fingerprint)
3    network or TLS error: cannot reach the EST server, the handshake or its
     certificate verification failed, timeout
4    local file error: an input is missing, unreadable or not of the expected
     kind, or an output (ledger, OTP export, key) cannot be written
5    the EST server deferred the request (202); retry after the time printed
6    the device refused or a check failed (content, read-back, already
     provisioned, wrong device); the device is untouched or wiped
7    cannot talk to the device: port missing or busy, cable, driver, no agent
     or REPL answering; the device is untouched
8    batch finished, some devices failed (see the ledger)
9    the link was lost while the device was committing or wiping: it holds
     the old or the new set, never a mix; check it again (--identify)
130  interrupted
===  ======================================================================
"""

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_EST = 2
EXIT_NETWORK = 3
EXIT_INPUT = 4
EXIT_PENDING = 5
EXIT_DEVICE = 6
EXIT_LINK = 7
EXIT_BATCH = 8
EXIT_UNKNOWN = 9
EXIT_INTERRUPTED = 130
