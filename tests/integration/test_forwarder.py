"""The forwarder: several upstreams, health, TCP fallback, coalescing,
answer matching, serve-stale and failures with Extended DNS Errors."""
import concurrent.futures
import time

import dns.flags
import dns.message
import dns.rcode

from harness import ZONE, ede_of, free_port, query, upstream


def test_dead_upstream_is_skipped(nsd, make_anchord):
    dead = free_port()          # nothing listens: ICMP port unreachable
    a = make_anchord([upstream(dead), upstream(nsd.port)])
    start = time.monotonic()
    r = query("www." + ZONE, port=a.port)
    assert r.answer[0][0].to_text() == "127.0.0.10"
    assert time.monotonic() - start < 1.5
    # it is remembered: the next names go to the live one at once
    for i in range(5):
        start = time.monotonic()
        assert query(f"h{i}.wild.{ZONE}", port=a.port).answer
        assert time.monotonic() - start < 0.5


def test_silent_upstream_fails_over_within_the_deadline(
        nsd, make_anchord, make_relay):
    silent = make_relay(nsd.port, mode="drop")
    a = make_anchord([upstream(silent.port), upstream(nsd.port)])
    start = time.monotonic()
    r = query("www." + ZONE, port=a.port, timeout=5)
    assert r.answer[0][0].to_text() == "127.0.0.10"
    assert time.monotonic() - start < 1.5
    assert silent.udp_queries


def test_tcp_upstream_reuses_one_connection(nsd, make_anchord, make_relay):
    relay = make_relay(nsd.port)
    a = make_anchord([upstream(relay.port, "tcp")])
    names = [f"t{i}.wild.{ZONE}" for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda n: query(n, port=a.port), names))
    assert all(r.answer for r in results)
    assert not relay.udp_queries
    assert len(relay.tcp_queries) == 20


def test_truncated_upstream_answer_is_asked_again_over_tcp(
        nsd, make_anchord, make_relay):
    relay = make_relay(nsd.port, mode="truncate")
    a = make_anchord([upstream(relay.port)])
    r = query("www." + ZONE, port=a.port)
    assert r.answer[0][0].to_text() == "127.0.0.10"
    assert len(relay.udp_queries) == 1 and len(relay.tcp_queries) == 1


def test_identical_queries_are_coalesced(nsd, make_anchord, make_relay):
    # slower than the clients' spread, faster than anchord's retransmit
    relay = make_relay(nsd.port, delay=0.25)
    a = make_anchord([upstream(relay.port)])
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(
            lambda _: query("co.wild." + ZONE, port=a.port), range(20)))
    assert all(r.answer[0][0].to_text() == "127.0.0.12" for r in results)
    assert len([q for q in relay.udp_queries if q[2].startswith("co.")]) == 1


def test_random_ids_and_source_ports(nsd, make_anchord, make_relay):
    relay = make_relay(nsd.port)
    a = make_anchord([upstream(relay.port)])
    for i in range(30):
        assert query(f"r{i}.wild.{ZONE}", port=a.port).answer
    ports = {q[0] for q in relay.udp_queries}
    ids = {q[1] for q in relay.udp_queries}
    assert len(relay.udp_queries) == 30
    assert len(ports) >= 25 and len(ids) >= 25


def test_garbage_from_upstream_is_not_passed_on(nsd, make_anchord,
                                                make_relay):
    garbage = make_relay(nsd.port, mode="garbage")
    a = make_anchord([upstream(garbage.port), upstream(nsd.port)])
    r = query("www." + ZONE, port=a.port)
    assert r.answer[0][0].to_text() == "127.0.0.10"


def test_all_upstreams_failing_gives_servfail_with_ede(
        nsd, make_anchord, make_relay):
    silent = make_relay(nsd.port, mode="drop")
    a = make_anchord([upstream(silent.port)])
    start = time.monotonic()
    r = query("www." + ZONE, port=a.port, timeout=6, use_edns=0)
    assert time.monotonic() - start < 4
    assert r.rcode() == dns.rcode.SERVFAIL
    assert ede_of(r)[0] == 22          # No Reachable Authority
    b = make_anchord([upstream(free_port())])
    r = query("www." + ZONE, port=b.port, timeout=6, use_edns=0)
    assert r.rcode() == dns.rcode.SERVFAIL
    assert ede_of(r)[0] == 23          # Network Error


def test_servfail_from_upstream_tries_the_next(nsd, make_anchord,
                                              make_relay):
    bad = make_relay(nsd.port, mode="servfail")
    a = make_anchord([upstream(bad.port), upstream(nsd.port)])
    r = query("www." + ZONE, port=a.port)
    assert r.rcode() == dns.rcode.NOERROR and r.answer


def test_serve_stale_after_the_upstream_stops(fresh_nsd, make_anchord):
    a = make_anchord([upstream(fresh_nsd.port)],
                     config_extra="cache: { serve-stale: 1d }")
    r = query("short." + ZONE, port=a.port, use_edns=0)
    assert r.answer[0].ttl == 1
    fresh_nsd.stop()
    time.sleep(1.5)                 # the record has expired
    start = time.monotonic()
    r = query("short." + ZONE, port=a.port, use_edns=0, timeout=5)
    elapsed = time.monotonic() - start
    assert r.rcode() == dns.rcode.NOERROR
    assert r.answer[0][0].to_text() == "127.0.0.11"
    assert r.answer[0].ttl <= 30
    assert ede_of(r)[0] == 3            # Stale Answer
    assert elapsed < 1.5, elapsed
    # Right after a failure, stale data is answered at once.
    start = time.monotonic()
    r = query("short." + ZONE, port=a.port, use_edns=0)
    assert ede_of(r)[0] == 3 and time.monotonic() - start < 0.3
    # Names never seen get SERVFAIL.
    r = query("never." + ZONE, port=a.port, use_edns=0, timeout=6)
    assert r.rcode() == dns.rcode.SERVFAIL


def test_no_stale_answers_when_disabled(fresh_nsd, make_anchord):
    a = make_anchord([upstream(fresh_nsd.port)],
                     config_extra="cache: { serve-stale: 0 }")
    assert query("short." + ZONE, port=a.port).answer
    fresh_nsd.stop()
    time.sleep(1.5)
    r = query("short." + ZONE, port=a.port, timeout=6)
    assert r.rcode() == dns.rcode.SERVFAIL


def test_recovers_when_the_upstream_returns(tmp_path, make_anchord):
    from harness import Nsd
    n = Nsd(str(tmp_path / "n")).start()
    port = n.port
    a = make_anchord([upstream(port)])
    assert query("www." + ZONE, port=a.port).answer
    n.stop()
    r = query("rec1.wild." + ZONE, port=a.port, timeout=6)
    assert r.rcode() == dns.rcode.SERVFAIL
    n2 = Nsd(str(tmp_path / "n2"), port=port).start()
    try:
        # within a few seconds (failure cache 5 s, back-off) it answers
        from harness import wait_until
        assert wait_until(lambda: query("rec2.wild." + ZONE, port=a.port,
                                        timeout=1).answer, timeout=10)
    finally:
        n2.stop()
