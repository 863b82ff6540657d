"""``tinyest-provision``: give devices their bootstrap credentials over USB serial.

One device::

    tinyest-provision --port PORT --server URL [--label L] --ta FILE CREDENTIAL [options]
    tinyest-provision --port PORT --identify | --wipe

CREDENTIAL is one of

    --user NAME --password PW       a bootstrap user and password (PW "-": prompt)
    --otp auto                      a one-time password made here for each device
                                    (``secrets``), user name from --otp-user
                                    (default "{device_id}"), written to --otp-export
                                    FILE (CSV, mode 0600 even when the file existed;
                                    a symbolic link there is refused) for the CA;
                                    never printed
    --idevid-cert F --idevid-key F  a factory certificate (chain) and its key
    --station-enroll                this station is the registration authority: the
                                    device makes its key and a CSR (CN from --cn),
                                    the station enrolls it with the
                                    EST server using its own credentials
                                    (--station-user/--station-password or
                                    --station-cert/--station-key) and writes the
                                    certificate back; the key never leaves the device

Every mode also gives the device its identity, the subject of its first
certificate request: --cn TEMPLATE (default "{device_id}") and optionally
--dns TEMPLATE (one DNS name), where {device_id} (or {id}) is the device's id.
They are stored in the store's config as "cn" and "dns", committed with the rest,
and read there by the device (``tinyest.device.Device``); --identify shows them.

A batch::

    tinyest-provision --batch STATION.toml|STATION.csv --devices DEVICES.csv [options]

The station file holds the same settings as the options (names with "_" for
"-": server, label, ta, credential = password|otp|idevid|station, user,
password, otp_export, otp_user, cn, dns, station_user, station_password,
station_cert, station_key, station, ledger, mode, store, force, reboot, timeout,
frame_timeout, baud, attempts, wait, jobs); options given on the command line
win. TOML is read with tomllib (tomli on Python 3.10); CSV is "key,value" rows.
DEVICES.csv has one device per row: port[,device_id[,idevid_cert,idevid_key[,cn]]],
or, with a header row naming them, any of the columns port (required), device_id,
idevid_cert, idevid_key, cn, dns in any order. A row's cn or dns (a template
like --cn) replaces the station's for that device; an empty cell keeps it.
For each row the tool waits (--wait seconds) until a device answers on the port
that it has not provisioned in this batch (and, if given, with that id),
provisions it and moves on.

PORT is anything pyserial opens: /dev/ttyUSB0, COM3, socket://host:port,
rfc2217://host:port, a pseudo-terminal path. The device either runs the
provisioning agent (``port_micropython/provision_agent.py``: framed protocol with
CRC and retransmission; started through the raw REPL when it is on the board),
or is a stock MicroPython board: then the credential store is written through
the raw REPL (raw-paste mode) with the store's own commit protocol.

What is written: the store's config (host, port, label of the EST server, and
the device's cn and dns), the trust anchors (--ta, PEM or DER, all certificates
of the file) and the credential. Every file is checked after writing and, after
the one atomic commit, the store is read back and compared; neither check brings
a secret back over the line, nor a plain digest of one: the device answers with
HMAC-SHA256 under a key this tool chooses afresh for each check. A device that fails is left
untouched (nothing committed) or wiped, never half-provisioned. A device that
already holds credentials is refused unless --force.

EST over CoAP and DTLS (RFC 9148): with --server coaps://host[:port][/PATH]
(port 5684) the store's config says so, "scheme": "coaps", and its label is the
path of the server's EST resources (PATH, --label appended to it; none: the
well-known path); ``tinyest.device`` reads them, so port_micropython/main.py
needs no "scheme" in its config.json for such a device. The
credential is then a factory identity (--idevid-cert/--idevid-key) or the
station's own certificate (--station-cert/--station-key): EST over CoAP has no
passwords. The host must be a name the server's certificate carries.

The ledger (--ledger FILE, SQLite) gets one row per device: device id, time
(UTC), station, port, mode, credential kind, trust-anchor SHA-256, result
(ok/failed), device state afterwards (provisioned, untouched, wiped, unknown),
SHA-256 of what was written (the set digest), certificate SHA-256 (station
mode), exit code, seconds and a message. Never a secret.

Exit codes:

===  ======================================================================
0    success (batch: every device provisioned)
1    usage error
2    station mode: the EST server refused; the device is untouched
3    station mode: the EST server could not be reached (connection, TLS,
     timeout); the device is untouched
4    a local file is missing or unreadable (inputs, ledger, OTP export)
6    the device refused or a check failed (content, read-back, already
     provisioned, wrong device); the device is untouched or wiped
7    cannot talk to the device: port missing or busy, cable, driver, no
     agent or REPL answering; the device is untouched
8    batch finished, some devices failed (see the ledger)
9    the link was lost while the device was committing or wiping: it holds
     the old or the new set, never a mix; check it again (--identify)
130  interrupted
===  ======================================================================

The codes are those of ``tinyest`` too (host_tools/exitcodes.py): 3 and 5 are
the network and deferral codes of that command.

Errors are printed once, as ``tinyest-provision: message``, on standard error.
"""

# The command line and main are here; the rest, one job per module:
#   provision_station   station settings (TOML or CSV), the device list, identity templates
#   provision_plan      what every device gets; station enrollment of a device's request
#   provision_run       one device, --identify/--wipe, a batch
#   provision_devices   the two device backends (agent, raw REPL) and connect
#   agent_link          the framed link to the provisioning agent (tinyest.serialwire)
#   raw_repl            the raw REPL of a stock board, and its files as a store file system
#   provision_records   printed lines, the SQLite ledger, the one-time password export
#   provision_exits     the exit codes and the exceptions that carry them

import argparse
import getpass
import socket
import sys

from host_tools.provision_devices import SLOW_FACTOR
from host_tools.provision_exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG, Fail, UsageError
from host_tools.provision_plan import Plan
from host_tools.provision_records import Ledger, OtpExport, Reporter
from host_tools.provision_run import run_batch, run_device, run_tool
from host_tools.provision_station import DEFAULTS, METHODS, read_station


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _parser():
    p = _Parser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.replace("``", ""))
    a = p.add_argument
    a("--port", help="serial port or pyserial URL of the device")
    a("--batch", metavar="STATION", help="station settings (TOML or CSV) for a batch")
    a("--devices", metavar="CSV", help="device list of a batch: port[,device_id[,idevid_cert,idevid_key]]")
    a("--identify", action="store_true", help="only show the device's identity and store state")
    a("--wipe", action="store_true", help="erase the device's credential store")
    a("--server", help="EST server URL https://host[:port][/.well-known/est[/LABEL]], or "
                        "coaps://host[:port][/PATH] for EST over CoAP")
    a("--label", help="EST label (path segment after /.well-known/est/)")
    a("--ta", metavar="FILE", help="trust anchor certificate(s), PEM or DER")
    a("--user", help="bootstrap user name")
    a("--password", help="bootstrap password ('-': prompt)")
    a("--otp", choices=["auto"], help="a one-time password per device (CSPRNG)")
    a("--otp-export", metavar="FILE", help="where one-time passwords go for the CA (CSV, 0600)")
    a("--otp-user", metavar="TEMPLATE", help="user name of one-time passwords (default {device_id})")
    a("--idevid-cert", metavar="FILE", help="factory certificate (chain), PEM or DER")
    a("--idevid-key", metavar="FILE", help="factory private key, PEM or DER")
    a("--station-enroll", action="store_true", help="this station enrolls the device's CSR (RA)")
    a("--station-user", help="the station's EST user")
    a("--station-password", help="the station's EST password ('-': prompt)")
    a("--station-cert", metavar="FILE", help="the station's EST client certificate")
    a("--station-key", metavar="FILE", help="the station's EST client key")
    a("--cn", metavar="TEMPLATE", help="the device's subject CN, stored in every mode (default {device_id})")
    a("--dns", metavar="TEMPLATE", help="a DNS name for the device's requests, e.g. {device_id}.example.net")
    a("--station", help="station name for the ledger (default: host name)")
    a("--ledger", metavar="FILE", help="SQLite ledger to append to")
    a("--mode", choices=["auto", "agent", "repl"], help="how to talk to the device (default auto)")
    a("--store", metavar="DIR", help="credential store directory on the device (default /est)")
    a("--device-id", help="device id to use when the device has none")
    a("--force", action="store_true", default=None, help="replace credentials already on the device")
    a("--reboot", action="store_true", default=None, help="reset the device afterwards")
    a("--baud", type=int, help="baud rate (default 115200)")
    a("--timeout", type=float, help="seconds without an answer before giving up (default 8; key "
                                    "generation, commit and wipe get %d times that once acknowledged)"
                                    % SLOW_FACTOR)
    a("--frame-timeout", type=float, help="longest retransmission interval (default 0.5 s)")
    a("--attempts", type=int, help="runs per device when it restarts or the link drops (default 3)")
    a("--wait", type=float, help="batch: seconds to wait for each device (default 120)")
    a("--jobs", type=int, help="batch: devices provisioned at once on different ports (default 1)")
    a("--quiet", "-q", action="store_true", default=None, help="print errors only")
    return p


def _options(args):
    """Merged settings: defaults < station file < command line."""
    o = dict(DEFAULTS)
    if args.batch:
        o.update(read_station(args.batch))
    cli_creds = []
    if args.user is not None or args.password is not None:
        cli_creds.append("password")
    if args.otp:
        cli_creds.append("otp")
    if args.idevid_cert or args.idevid_key:
        cli_creds.append("idevid")
    if args.station_enroll:
        cli_creds.append("station")
    if len(cli_creds) > 1:
        raise UsageError("give one credential: --user/--password, --otp auto, --idevid-cert/--idevid-key "
                         "or --station-enroll")
    if cli_creds:
        o["credential"] = cli_creds[0]
    for k in DEFAULTS:
        v = getattr(args, k, None)
        if v is not None:
            o[k] = v
    if o["station"] is None:
        o["station"] = socket.gethostname()
    for k in ("password", "station_password"):
        if o[k] == "-":
            o[k] = getpass.getpass("%s: " % k.replace("_", " "))
    return o


def _check(o, args):
    if o["credential"] not in METHODS:
        raise UsageError("give a credential: --user/--password, --otp auto, --idevid-cert/--idevid-key "
                         "or --station-enroll (station file: credential = %s)" % " | ".join(METHODS))
    if not o["server"]:
        raise UsageError("--server is required")
    if not o["ta"]:
        raise UsageError("--ta is required (the EST server's trust anchor)")
    m = o["credential"]
    if m == "password" and (not o["user"] or o["password"] is None):
        raise UsageError("--user and --password go together")
    if m == "password" and ":" in o["user"]:
        raise UsageError("no ':' in --user")
    if m == "otp" and not o["otp_export"]:
        raise UsageError("--otp auto needs --otp-export FILE (the CA must learn the passwords)")
    if m == "idevid" and not args.batch and not (o.get("idevid_cert") and o.get("idevid_key")):
        raise UsageError("--idevid-cert and --idevid-key go together")
    if m == "station":
        if bool(o["station_user"]) == bool(o["station_cert"]):
            raise UsageError("station mode needs --station-user/--station-password or "
                             "--station-cert/--station-key")
        if o["station_user"] and o["station_password"] is None:
            raise UsageError("--station-user needs --station-password")
        if o["station_cert"] and not o["station_key"]:
            raise UsageError("--station-cert needs --station-key")
    if m != "station" and (o["station_user"] or o["station_cert"]):
        raise UsageError("--station-user/--station-cert belong to --station-enroll")
    for k in ("timeout", "frame_timeout"):
        if o[k] <= 0:
            raise UsageError("--%s must be positive" % k.replace("_", "-"))
    if o["attempts"] < 1 or o["jobs"] < 1:
        raise UsageError("--attempts and --jobs are at least 1")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = _parser()
    rep = Reporter()

    def usage(msg):
        rep.error(msg)
        sys.stderr.write(p.format_usage())
        return EXIT_USAGE

    try:
        try:
            args = p.parse_args(argv)
        except SystemExit as e:  # --help
            return EXIT_OK if not e.code else EXIT_USAGE
        if bool(args.batch) != bool(args.devices):
            return usage("--batch and --devices go together")
        o = _options(args)
        o["idevid_cert"], o["idevid_key"] = args.idevid_cert, args.idevid_key
        rep.quiet = bool(o["quiet"])
        rep.tty = rep.tty and not rep.quiet
        if args.batch:
            if args.port or args.identify or args.wipe:
                return usage("--port, --identify and --wipe are for one device, not a batch")
            _check(o, args)
            return run_batch(o, args, rep)
        if not args.port:
            return usage("--port is required")
        if args.identify or args.wipe:
            if args.identify and args.wipe:
                return usage("--identify or --wipe, not both")
            return run_tool(args.port, o, rep, "wipe" if args.wipe else "identify")
        _check(o, args)
        plan = Plan(o)
        ledger = Ledger(o["ledger"]) if o["ledger"] else None
        otp = OtpExport(o["otp_export"]) if plan.method == "otp" else None
        out = run_device(args.port, plan, o, rep, ledger, otp)
        return out["exit_code"]
    except UsageError as e:
        return usage(str(e))
    except Fail as e:
        rep.error(e.message)
        return e.code
    except KeyboardInterrupt:
        rep.error("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
