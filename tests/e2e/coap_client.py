"""tinyest.coap.Endpoint against a CoAP server on 127.0.0.1, over plain UDP: runs
under MicroPython and CPython alike (tests/host/test_coap_exchange_host.py
starts the server, an aiocoap one, and reads the JSON lines this prints).

    coap_client.py PORT CASE [CASE ...]

Cases: big (GET, a Block2 answer), echo (POST of 2500 octets in Block1 blocks,
a Block2 answer), slow (an empty ACK, then the separate response), plain (700
octets in one datagram). Each prints one line:
{"case": ..., "ok": true, "code": ..., "len": ..., "sha": ...} or
{"case": ..., "ok": false, "error": "Class: text"}.
"""
import binascii
import hashlib
import json
import socket
import sys

from tinyest import coap


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def run(port, case):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    ep = coap.Endpoint(s, ack_timeout=0.3, wait=5)
    try:
        if case == "big":
            m = ep.request(coap.GET, "/big")
        elif case == "echo":
            m = ep.request(coap.POST, "/echo", pattern(2500), cf=coap.PKCS10)
        elif case == "slow":
            m = ep.request(coap.GET, "slow")
        elif case == "plain":
            m = ep.request(coap.GET, "/plain")
        else:
            raise ValueError(case)
        return {"case": case, "ok": True, "code": m.code, "len": len(m.payload),
                "sha": binascii.hexlify(hashlib.sha256(m.payload).digest()).decode()}
    except Exception as e:
        return {"case": case, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    finally:
        s.close()


def main(argv):
    port = int(argv[1])
    for case in argv[2:]:
        print(json.dumps(run(port, case)))


main(sys.argv)
