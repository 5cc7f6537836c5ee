"""The policy enforcement point export into nftables, in a network
namespace the test creates (unshare --net), so that the host's ruleset is
never touched: resolving an allowed name puts its addresses into the
device's set, with the answer's TTL as their timeout."""
import json
import os
import subprocess
import sys


def test_allowed_answers_land_in_the_devices_nftables_set(tmp_path):
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run(["unshare", "--net", "--", sys.executable,
                          os.path.join(here, "pep_netns.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=180,
                         cwd=os.getcwd(), env=dict(os.environ,
                                                   PYTHONPATH=here))
    assert out.returncode == 0, out.stdout + out.stderr
    sets = [json.loads(line) for line in out.stdout.splitlines()
            if line.startswith("{")]
    v4 = [o["set"] for o in sets[0]["nftables"] if "set" in o][0]
    assert v4["type"] == "ipv4_addr" and "timeout" in v4["flags"]
    elems = v4["elem"]
    addrs = [e["elem"]["val"] if isinstance(e, dict) else e for e in elems]
    assert "127.0.0.21" in addrs, v4
    timeouts = [e["elem"]["timeout"] for e in elems if isinstance(e, dict)]
    assert timeouts and 0 < timeouts[0] <= 300
    v6 = [o["set"] for o in sets[1]["nftables"] if "set" in o][0]
    assert "::21" in [e["elem"]["val"] if isinstance(e, dict) else e
                      for e in v6["elem"]]
