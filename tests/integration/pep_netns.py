"""Run inside a network namespace of its own (test_pep.py starts it with
unshare --net): NSD, a MUD server and anchord with the nftables export,
then print the device's nftables set as `nft -j` shows it.

Only the namespace's loopback exists here, and its nftables ruleset is the
namespace's own: the host's is never touched.
"""
import json
import subprocess
import sys
import time

import dns.message
import dns.query

from harness import ANCHORCTL, LOCALHOST, ZONE, Anchord, Nsd, upstream, wait_until
from mudserver import ZONE_EXTRA, MudServer, Signer

DEVICE = "127.0.0.5"


def main(workdir):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    nsd = Nsd(workdir + "/nsd", extra_zone=ZONE_EXTRA).start()
    web = MudServer(workdir + "/web")
    signer = Signer(workdir + "/signer")
    a = None
    try:
        url = web.publish("thermo.json", signer)
        a = Anchord(workdir + "/anchord", [upstream(nsd.port)], config_extra=f"""
profiles:
  iot: {{ mud: required }}
clients:
  - {{ subnet: {DEVICE}/32, profile: iot }}
mud:
  signers: [{signer.trust}]
  fetch-ca: [{web.trust}]
  nftables: true
  nftables-table: anchord
""").start()
        subprocess.run([ANCHORCTL, "-c", a.conf, "mud", "bind", "--ip", DEVICE,
                        "--url", url], check=True, capture_output=True)

        def telemetry():
            q = dns.message.make_query("telemetry." + ZONE, "A")
            r = dns.query.udp(q, LOCALHOST, port=a.port, timeout=2,
                              source=DEVICE)
            return r.answer

        if not wait_until(telemetry, timeout=20):
            print("no answer for the allowed name:\n" + a.log())
            return 1
        q = dns.message.make_query("telemetry." + ZONE, "AAAA")
        dns.query.udp(q, LOCALHOST, port=a.port, timeout=2, source=DEVICE)

        def listed():
            out = subprocess.run(["nft", "-j", "list", "set", "inet",
                                  "anchord", "mud4_127_0_0_5"],
                                 capture_output=True, text=True)
            return out.returncode == 0 and "127.0.0.21" in out.stdout and out

        out = wait_until(listed, timeout=10) and listed()
        if not out:
            print("the set never showed the address:\n" + a.log())
            return 1
        print(out.stdout)
        v6 = subprocess.run(["nft", "-j", "list", "set", "inet", "anchord",
                             "mud6_127_0_0_5"], capture_output=True, text=True)
        print(v6.stdout)
        return 0
    finally:
        if a:
            a.stop(check=False)
        web.close()
        nsd.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
