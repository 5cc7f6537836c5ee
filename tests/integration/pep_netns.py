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


def main(workdir, user=None):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    nsd = Nsd(workdir + "/nsd", extra_zone=ZONE_EXTRA).start()
    web = MudServer(workdir + "/web")
    signer = Signer(workdir + "/signer")
    a = None
    try:
        url = web.publish("thermo.json", signer)
        server_extra = f"  user: {user}" if user else ""
        a = Anchord(workdir + "/anchord", [upstream(nsd.port)],
                    server_extra=server_extra, config_extra=f"""
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

        def telemetry(rdtype):
            q = dns.message.make_query("telemetry." + ZONE, rdtype)
            r = dns.query.udp(q, LOCALHOST, port=a.port, timeout=2,
                              source=DEVICE)
            return r.answer

        for rdtype in ("A", "AAAA"):
            if not wait_until(lambda: telemetry(rdtype), timeout=30):
                print(f"no {rdtype} answer for the allowed name:\n" +
                      a.log())
                return 1

        # The PEP thread writes after the answer has gone: wait for it
        # (long enough for a daemon under valgrind).
        def listed(family, address):
            out = subprocess.run(["nft", "-j", "list", "set", "inet",
                                  "anchord", f"mud{family}_127_0_0_5"],
                                 capture_output=True, text=True)
            return out.stdout if out.returncode == 0 and \
                address in out.stdout else None

        for family, address in ((4, "127.0.0.21"), (6, "::21")):
            if not wait_until(lambda: listed(family, address), timeout=30):
                print(f"the mud{family} set never showed {address}:\n" +
                      a.log())
                return 1
            print(listed(family, address))
        with open(f"/proc/{a.proc.pid}/status") as f:   # test_privileges
            print("".join(l for l in f if l.startswith(("Uid:", "CapEff:"))))
        return 0
    finally:
        if a:
            a.stop(check=False)
        web.close()
        nsd.stop()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
