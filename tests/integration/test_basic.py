"""Plain DNS over UDP and TCP: local data, forwarding, the cache, EDNS."""
import subprocess
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from harness import LOCALHOST, ZONE, ede_of, query


def udp_raw(port, wire):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(wire, (LOCALHOST, port))
    answer = s.recv(65535)
    s.close()
    return dns.message.from_wire(answer)


def kdig(port, *args):
    out = subprocess.run(["kdig", "@" + LOCALHOST, "-p", str(port), "+time=3",
                          "+retry=0"] + list(args),
                         capture_output=True, text=True, timeout=20)
    return out.stdout


def dig(port, *args):
    out = subprocess.run(["dig", "@" + LOCALHOST, "-p", str(port), "+time=3",
                          "+tries=1"] + list(args),
                         capture_output=True, text=True, timeout=20)
    return out.stdout


def test_local_data_over_udp_and_tcp(resolver):
    for tcp in (False, True):
        r = query("local.anchord.test", port=resolver.port, tcp=tcp)
        assert r.rcode() == dns.rcode.NOERROR
        assert r.flags & dns.flags.AA
        assert [rr.to_text() for rr in r.answer[0]] == ["127.0.0.77"]
    assert "127.0.0.77" in kdig(resolver.port, "local.anchord.test", "+short")
    assert "127.0.0.77" in kdig(resolver.port, "+tcp", "local.anchord.test",
                                "+short")
    assert '"here"' in dig(resolver.port, "local.anchord.test", "TXT",
                           "+short")


def test_local_names_are_never_forwarded(nsd, make_anchord, make_relay):
    from harness import upstream
    relay = make_relay(nsd.port)
    a = make_anchord([upstream(relay.port)])
    assert query("local.anchord.test", port=a.port).answer
    assert query("local.anchord.test", "AAAA", port=a.port).rcode() == 0
    r = query("_dns.resolver.arpa", "SVCB", port=a.port)
    assert r.rcode() == dns.rcode.NOERROR and not r.answer
    r = query("use-application-dns.net", port=a.port)
    assert r.rcode() == dns.rcode.NXDOMAIN
    r = query("x.resolver.arpa", port=a.port)
    assert r.rcode() == dns.rcode.NXDOMAIN
    assert query("foo.localhost", port=a.port).answer[0][0].to_text() == \
        "127.0.0.1"
    time.sleep(0.2)
    assert relay.udp_queries == [] and relay.tcp_queries == []


def test_forwarding_names_from_nsd(resolver):
    r = query("www." + ZONE, port=resolver.port)
    assert r.rcode() == dns.rcode.NOERROR
    assert not (r.flags & dns.flags.AA)
    assert r.flags & dns.flags.RA
    assert r.answer[0][0].to_text() == "127.0.0.10"
    assert "::1" in kdig(resolver.port, "www." + ZONE, "AAAA", "+short")
    out = kdig(resolver.port, "+tcp", "alias." + ZONE, "A")
    assert "CNAME" in out and "127.0.0.10" in out
    assert "10 www." + ZONE in dig(resolver.port, "mail." + ZONE, "MX",
                                   "+short")
    assert "127.0.0.12" in dig(resolver.port, "+tcp", "x.wild." + ZONE,
                               "+short")


def test_case_of_the_question_is_kept(resolver):
    r = query("WwW.Up.TeSt.", port=resolver.port)
    assert str(r.question[0].name) == "WwW.Up.TeSt."
    assert r.answer[0][0].to_text() == "127.0.0.10"
    # a second, cached answer keeps the new client's spelling too
    r = query("www.UP.test.", port=resolver.port)
    assert str(r.question[0].name) == "www.UP.test."
    assert str(r.answer[0].name).lower() == "www.up.test."


def test_cache_hit_with_decreasing_ttl(fresh_nsd, make_anchord):
    from harness import upstream
    a = make_anchord([upstream(fresh_nsd.port)])
    first = query("www." + ZONE, port=a.port)
    assert first.answer[0].ttl == 300
    fresh_nsd.stop()    # from now on only the cache can answer
    time.sleep(2.1)
    for tcp in (False, True):
        again = query("www." + ZONE, port=a.port, tcp=tcp)
        assert again.rcode() == dns.rcode.NOERROR
        assert again.answer[0][0].to_text() == "127.0.0.10"
        assert 295 <= again.answer[0].ttl <= 298


def test_negative_caching(fresh_nsd, make_anchord):
    from harness import upstream
    a = make_anchord([upstream(fresh_nsd.port)])
    nx = query("nothere." + ZONE, port=a.port)
    assert nx.rcode() == dns.rcode.NXDOMAIN
    soa = nx.authority[0]
    assert soa.rdtype == dns.rdatatype.SOA and soa.ttl == 30
    nodata = query("www." + ZONE, "TXT", port=a.port)
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    fresh_nsd.stop()
    time.sleep(1.1)
    nx2 = query("nothere." + ZONE, port=a.port)
    assert nx2.rcode() == dns.rcode.NXDOMAIN
    assert nx2.authority[0].ttl < 30
    nodata2 = query("www." + ZONE, "TXT", port=a.port)
    assert nodata2.rcode() == dns.rcode.NOERROR and not nodata2.answer
    assert nodata2.authority[0].rdtype == dns.rdatatype.SOA


def test_edns_in_answers(resolver):
    r = query("www." + ZONE, port=resolver.port, use_edns=0, payload=4096)
    assert r.edns == 0
    assert r.payload == 1232
    r = query("www." + ZONE, port=resolver.port, use_edns=False)
    assert r.edns == -1
    wire = bytearray(dns.message.make_query("www." + ZONE, "A",
                                            use_edns=0).to_wire())
    wire[-5] = 1    # the OPT's version byte: one anchord does not speak
    r = udp_raw(resolver.port, bytes(wire))
    assert r.rcode() == dns.rcode.BADVERS
    assert r.edns == 0


def test_large_answer_truncates_over_udp_and_fits_tcp(resolver):
    # big.up.test is ~2.5 KB: anchord itself needs TCP towards NSD, then
    # tells a UDP client to retry over TCP.
    r = query("big." + ZONE, "TXT", port=resolver.port, use_edns=0,
              payload=1232)
    assert r.flags & dns.flags.TC
    assert not r.answer
    r = query("big." + ZONE, "TXT", port=resolver.port, use_edns=False)
    assert r.flags & dns.flags.TC
    r = query("big." + ZONE, "TXT", port=resolver.port, tcp=True)
    assert not (r.flags & dns.flags.TC)
    assert len(r.answer[0]) == 12
    assert "big." + ZONE in kdig(resolver.port, "big." + ZONE, "TXT")


def test_queries_anchord_does_not_serve(resolver):
    r = query(ZONE, "AXFR", port=resolver.port, tcp=True, use_edns=0)
    assert r.rcode() == dns.rcode.REFUSED
    assert ede_of(r)[0] == 21
    r = query("version.bind", "TXT", port=resolver.port, rdclass="CH")
    assert r.rcode() == dns.rcode.REFUSED
    q = dns.message.make_query("www." + ZONE, "A")
    q.set_opcode(dns.opcode.NOTIFY)
    r = dns.query.udp(q, LOCALHOST, port=resolver.port, timeout=3)
    assert r.rcode() == dns.rcode.NOTIMP
    q = dns.message.make_query("www." + ZONE, "A", use_edns=0)
    q.flags &= ~dns.flags.RD
    r = dns.query.udp(q, LOCALHOST, port=resolver.port, timeout=3)
    assert r.rcode() == dns.rcode.REFUSED
    assert ede_of(r)[0] == 20


def test_ipv6_listener(nsd, make_anchord):
    import socket
    from harness import free_port, upstream
    port = free_port()
    a = make_anchord([upstream(nsd.port)], port=port,
                     listen=[f"{{ address: 127.0.0.1, port: {port} }}",
                             f"{{ address: \"::1\", port: {port} }}"])
    q = dns.message.make_query("www." + ZONE, "A")
    r = dns.query.udp(q, "::1", port=port, timeout=3)
    assert r.answer[0][0].to_text() == "127.0.0.10"
    r = dns.query.tcp(q, "::1", port=port, timeout=3)
    assert r.answer[0][0].to_text() == "127.0.0.10"
