"""discovery.dns-sd: DNS-SD records for the EST service (the first step of
draft-reddy's BYOD procedure), next to the TLSA and DDR records, asked
with kdig and dnspython on loopback."""
import os
import subprocess

import dns.flags
import dns.rdatatype
import pytest

from harness import ANCHORD, LOCALHOST, query, upstream

DOMAIN = "anchord.test."          # the parent of server.name dns.anchord.test
INSTANCE = "Corp\\032EST._est._tcp." + DOMAIN


def kdig(port, name, rdtype):
    out = subprocess.run(["kdig", f"@{LOCALHOST}", "-p", str(port), "+short",
                          "+timeout=3", "+retry=0", name, rdtype],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.split("\n")[:-1]


@pytest.fixture
def published(nsd, make_anchord):
    return make_anchord(
        [upstream(nsd.port)], dot=True, https=True,
        config_extra="discovery: { dns-sd: true, instance: Corp EST }\n"
                     "tls: { publish-tlsa: true }\n")


def test_est_service_ptr_srv_txt(published):
    a = published
    assert kdig(a.port, "_est._tcp." + DOMAIN, "PTR") == [INSTANCE]
    assert kdig(a.port, INSTANCE, "SRV") == \
        [f"0 0 {a.https_port} dns.anchord.test."]
    r = query(INSTANCE.replace("\\032", " "), "TXT", port=a.port)
    assert r.flags & dns.flags.AA
    txt = [s.decode() for s in r.answer[0][0].strings]
    assert txt == ["txtvers=1", "path=/.well-known/est",
                   "enroll=/.well-known/anchor/v1"]
    assert kdig(a.port, "_services._dns-sd._udp." + DOMAIN, "PTR") == \
        ["_est._tcp." + DOMAIN]
    # the SRV target resolves to the certificate's address
    assert kdig(a.port, "dns.anchord.test", "A") == [LOCALHOST]


def test_dns_sd_tlsa_and_ddr_coexist(published):
    a = published
    tlsa = query(f"_{a.dot_port}._tcp.dns.anchord.test", "TLSA", port=a.port)
    assert tlsa.answer and tlsa.answer[0][0].to_text().startswith("3 1 1 ")
    for owner in ("_dns.resolver.arpa", "_dns.dns.anchord.test"):
        svcb = query(owner, "SVCB", port=a.port)
        assert len(svcb.answer[0]) == 2, svcb
    # the operator's local data next door is untouched
    assert query("local.anchord.test", port=a.port).answer[0][0].address == \
        "127.0.0.77"


def test_operator_address_wins(nsd, make_anchord):
    a = make_anchord(
        [upstream(nsd.port)], https=True,
        config_extra='discovery: { dns-sd: true, domain: corp.anchord.test }\n'
                     'local-zones: [ { name: dns.anchord.test, type: static } ]\n')
    assert kdig(a.port, "_est._tcp.corp.anchord.test", "PTR") == \
        ["anchord._est._tcp.corp.anchord.test."]
    r = query("dns.anchord.test", "A", port=a.port)
    assert not r.answer          # the static zone said nothing: no address


@pytest.mark.parametrize("extra,why", [
    ("discovery: { dns-sd: true }\n", "needs an https listener"),
    ("listen: [ { address: 127.0.0.1, port: 8443, kind: https } ]\n"
     "discovery: { dns-sd: true, instance: a.b }\n", "instance:"),
    ("listen: [ { address: 127.0.0.1, port: 8443, kind: https } ]\n"
     "est: { enabled: false }\ndiscovery: { dns-sd: true }\n",
     "est.enabled"),
])
def test_check_refuses(tmp_path, extra, why):
    conf = tmp_path / "a.conf"
    conf.write_text("upstream: [ { address: 127.0.0.1, port: 5300 } ]\n"
                    "server: { name: dns.anchord.test }\n" + extra)
    out = subprocess.run([ANCHORD, "-c", str(conf), "--check"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert why in out.stderr, out.stderr
