"""Running devices: one device (``run_device``), --identify and --wipe
(``run_tool``), and a batch (``run_batch``)."""

import threading
import time

from host_tools.agent_link import DeviceError, LinkError
from host_tools.provision_devices import connect, open_port
from host_tools.provision_exits import (EXIT_BATCH, EXIT_DEVICE, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_LINK,
                                        EXIT_OK, EXIT_UNKNOWN, HINT, Fail, UsageError)
from host_tools.provision_plan import Plan
from host_tools.raw_repl import ReplError
from host_tools.provision_records import Ledger, OtpExport, now, size
from host_tools.provision_station import read_devices


def run_device(port_url, plan, o, rep, ledger=None, otp=None, expected_id=None, idevid=None,
               wait=None, done_ids=None, cn=None, dns=None):
    """Provision the device on port_url; returns the outcome dict (also written to
    the ledger). ``wait``: seconds to wait for a (new) device to answer; ``cn``,
    ``dns``: this device's identity templates instead of the plan's."""
    t0 = time.monotonic()
    out = {"device_id": expected_id or "", "time": now(), "station": o["station"], "port": port_url,
           "mode": None, "method": plan.method, "ta_sha256": plan.ta_fingerprint, "result": "failed",
           "device_state": None, "written_sha256": None, "cert_sha256": None, "state": "untouched"}
    port = None
    conn = None
    try:
        port, conn, info = _attach(port_url, o, rep, wait, done_ids)
        out["mode"] = conn.mode
        out["device_id"] = dev_id = o["device_id"] or info["id"]
        if not dev_id:
            raise Fail(EXIT_DEVICE, "the device has no unique id: give --device-id", "untouched")
        rep.say("device %s on %s: %s, %s, %s free, store %s%s"
                % (dev_id, port_url, "agent " + info["agent"] if conn.mode == "agent" else "raw REPL",
                   info["fw"], size(info["free"]), info["state"],
                   " (generation %d)" % info["gen"] if info["gen"] else ""))
        if expected_id and dev_id != expected_id:
            raise Fail(EXIT_DEVICE, "device %s answered, %s expected" % (dev_id, expected_id), "untouched")
        if info["state"] != "empty" and not o["force"]:
            raise Fail(EXIT_DEVICE, "the device already holds credentials (store %s); --force replaces them"
                       % info["state"], "untouched")
        config = plan.config_for(dev_id, cn, dns)
        files, secret = plan.files_for(dev_id, config, idevid)
        rep.prefix = "%s: " % dev_id
        conn.provision(plan, files, config, out, rep, o)
        if secret is not None:
            try:
                otp.add(dev_id, secret[0], secret[1])
            except Fail:
                conn._clean(out, True)
                raise Fail(EXIT_INPUT, "cannot export the one-time password, so the device was %s"
                           % out["state"], out["state"])
            rep.say("  credential: one-time password for user %s, exported to %s" % (secret[0], otp.path))
        elif plan.method == "password":
            rep.say("  credential: password for user %s" % o["user"])
        elif plan.method == "idevid":
            rep.say("  credential: factory certificate and key (IDevID)")
        else:
            rep.say("  credential: certificate enrolled by this station, SHA-256 %s" % out["cert_sha256"])
        rep.say("  identity %s" % describe(config))
        rep.say("  trust anchor SHA-256 %s; written set SHA-256 %s" % (plan.ta_fingerprint, out["written_sha256"]))
        try:
            conn.finish(o["reboot"])
        except (LinkError, DeviceError, ReplError):
            pass
        out["result"] = "ok"
        out["exit_code"] = EXIT_OK
        s = conn.client.link.stats if conn.mode == "agent" else None
        rep.say("  provisioned in %.2f s%s" % (time.monotonic() - t0,
                                               " (%d frames, %d retransmitted)" % (s["requests"], s["retransmissions"])
                                               if s else ""))
    except Fail as e:
        if e.state is not None:
            out["state"] = e.state
        out["exit_code"] = e.code
        out["detail"] = e.message
        rep.error(e.message)
        if e.hint:
            rep.error(HINT)
    except KeyboardInterrupt:
        out["exit_code"] = EXIT_INTERRUPTED
        out["detail"] = "interrupted"
        if out["state"] == "untouched" and conn is not None and conn.mode == "agent":
            try:
                conn.client.abort()
            except Exception:
                pass
        raise
    finally:
        rep.done()
        rep.prefix = ""
        if port is not None:
            try:
                port.close()
            except Exception:
                pass
        out["seconds"] = round(time.monotonic() - t0, 3)
        out["device_state"] = out["state"]
        if conn is not None and conn.mode == "agent" and not out.get("detail"):
            s = conn.client.link.stats
            out["detail"] = "frames %d, retransmitted %d, damaged %d, naks %d" % (
                s["requests"], s["retransmissions"], s["damaged"], s["naks"])
        elif conn is not None and conn.mode == "agent":
            s = conn.client.link.stats
            out["detail"] += " (frames %d, retransmitted %d)" % (s["requests"], s["retransmissions"])
        if ledger is not None:
            ledger.add(out)
    return out


def describe(d):
    """"CN x, DNS y" of a config or an identification."""
    if not d.get("cn"):
        return "none (no cn stored)"
    return "CN %s%s" % (d["cn"], ", DNS %s" % d["dns"] if d.get("dns") else "")


def _attach(port_url, o, rep, wait, done_ids):
    """(port, connection, info) once a device answers; with ``wait``, keep trying
    that long for one whose id is not in ``done_ids``."""
    end = time.monotonic() + (wait or 0)
    shown = False
    while True:
        port = None
        try:
            port = open_port(port_url, o)
            conn = connect(port, o, rep)
            info = conn.identify()
            if not (done_ids and info["id"] in done_ids):
                return port, conn, info
            last = Fail(EXIT_DEVICE, "only device %s, provisioned already in this batch, answers on %s"
                        % (info["id"], port_url), "untouched")
        except Fail as e:
            last = e
        except (LinkError, DeviceError, ReplError) as e:
            last = Fail(EXIT_LINK, "the device stopped answering: %s" % e, "untouched", hint=True)
        if port is not None:
            port.close()
        if time.monotonic() >= end:
            raise last
        if not shown:
            rep.progress("waiting for a device on %s" % port_url)
            shown = True
        time.sleep(0.5)


def run_tool(port_url, o, rep, what):
    """--identify and --wipe."""
    port = None
    try:
        port = open_port(port_url, o)
        conn = connect(port, o, rep)
        info = conn.identify()
        rep.say("device %s on %s: %s, %s, %s free, store %s (generation %d), identity %s"
                % (info["id"] or "(no id)", port_url,
                   "agent " + info["agent"] if conn.mode == "agent" else "raw REPL",
                   info["fw"], size(info["free"]), info["state"], info["gen"], describe(info)))
        if what == "wipe":
            conn.wipe()
            rep.say("  store wiped")
        conn.finish(o["reboot"])
        return EXIT_OK
    except Fail as e:
        rep.error(e.message)
        if e.hint:
            rep.error(HINT)
        return e.code
    except (LinkError, ReplError) as e:
        rep.error("the device stopped answering: %s" % e)
        rep.error(HINT)
        return EXIT_UNKNOWN if what == "wipe" else EXIT_LINK
    except DeviceError as e:
        rep.error("the device refused: %s" % e)
        return EXIT_DEVICE
    except Exception as e:
        from tinyest.errors import EstError

        if isinstance(e, EstError):
            rep.error("the device's store: %s" % e)
            return EXIT_DEVICE
        raise
    finally:
        if port is not None:
            port.close()


def run_batch(o, args, rep):
    plan = Plan(o)
    devices = read_devices(args.devices)
    if plan.method == "idevid":
        for row in devices:
            if not (row[2] and row[3]) and not plan.idevid:
                raise UsageError("credential idevid: each device row needs idevid_cert,idevid_key")
    if not o["ledger"]:
        raise UsageError("a batch needs a ledger (--ledger FILE or ledger = in the station file)")
    ledger = Ledger(o["ledger"])
    otp = OtpExport(o["otp_export"]) if plan.method == "otp" else None
    done = set()
    lock = threading.Lock()
    results = []
    total = len(devices)
    rep.say("batch: %d devices, station %s, server %s, credential %s"
            % (total, o["station"], plan.where(), plan.method))

    def one(i, row):
        port_url, dev_id, cert, key, cn, dns = row
        try:
            idevid = Plan.load_idevid(cert, key) if cert else None
        except Fail as e:  # the row's own files: no device was touched
            rep.error(e.message)
            with lock:
                results.append({"result": "failed"})
            return
        with lock:
            busy = set(done)
        rep.progress("[%d/%d] %s" % (i + 1, total, port_url))
        out = run_device(port_url, plan, o, rep, ledger, otp, expected_id=dev_id, idevid=idevid,
                         wait=o["wait"], done_ids=busy, cn=cn, dns=dns)
        with lock:
            if out["result"] == "ok":
                done.add(out["device_id"])
            results.append(out)

    if o["jobs"] > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=o["jobs"]) as pool:
            list(pool.map(lambda a: one(*a), enumerate(devices)))
    else:
        for i, row in enumerate(devices):
            one(i, row)
    ok = sum(1 for r in results if r["result"] == "ok")
    rep.say("batch: %d provisioned, %d failed (ledger %s)" % (ok, len(results) - ok, o["ledger"]))
    ledger.close()
    return EXIT_OK if ok == total else EXIT_BATCH
