"""Failing neighbours: an upstream that stops, answers slowly, answers
garbage or only truncated answers. anchord answers from stale cache within
1.5 s (RFC 8767's client response timer is 1.2 s) or SERVFAIL with EDE 22
(No Reachable Authority) or 23 (Network Error), keeps answering other
clients, and recovers when the upstream is healthy again."""
import time

import dns.rcode
import pytest

from harness import ZONE, ede_of, query, upstream, wait_until

STALE = "cache: { serve-stale: 1d }"
FAULTS = [("drop", 0.0), ("slow", 3.5), ("garbage", 0.0),
          ("truncate-only", 0.0), ("servfail", 0.0)]


def timed(name, port, **kw):
    start = time.monotonic()
    r = query(name, port=port, use_edns=0, timeout=6, **kw)
    return r, time.monotonic() - start


def set_fault(relay, fault, delay):
    relay.delay = delay
    relay.mode = "forward" if fault == "slow" else fault


@pytest.mark.parametrize("fault,delay", FAULTS, ids=[f[0] for f in FAULTS])
def test_stale_answer_or_servfail_then_recovery(fresh_nsd, make_anchord,
                                                make_relay, fault, delay):
    relay = make_relay(fresh_nsd.port)
    a = make_anchord([upstream(relay.port)], config_extra=STALE)
    assert query("short." + ZONE, port=a.port).answer      # TTL 1
    set_fault(relay, fault, delay)
    time.sleep(1.3)                                         # now expired

    r, took = timed("short." + ZONE, a.port)
    assert r.rcode() == dns.rcode.NOERROR, r
    assert r.answer[0][0].to_text() == "127.0.0.11"
    assert ede_of(r)[0] == 3                                # Stale Answer
    assert took < 1.5, took

    # A name never cached has nothing stale: SERVFAIL saying why.
    r, took = timed(f"never-{fault}.wild." + ZONE, a.port)
    assert r.rcode() == dns.rcode.SERVFAIL
    assert ede_of(r)[0] in (22, 23), (fault, ede_of(r))
    assert took < 4.5, took

    # Local data never depends on the upstream.
    r, took = timed("local.anchord.test", a.port)
    assert r.answer and took < 0.5

    set_fault(relay, "forward", 0.0)
    assert wait_until(lambda: query(f"back-{fault}.wild." + ZONE,
                                    port=a.port, timeout=1).answer,
                      timeout=15)
    assert a.alive()


def test_clients_are_answered_while_the_upstream_hangs(
        fresh_nsd, make_anchord, make_relay):
    """A hung upstream ties up no worker: cached and local names are
    answered at once while hundreds of queries wait on it."""
    import concurrent.futures
    relay = make_relay(fresh_nsd.port)
    a = make_anchord([upstream(relay.port)])
    assert query("www." + ZONE, port=a.port).answer
    relay.mode = "drop"
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        waiting = [pool.submit(query, f"hang{i}.wild." + ZONE, port=a.port,
                               timeout=6) for i in range(300)]
        time.sleep(0.3)
        for _ in range(20):
            r, took = timed("www." + ZONE, a.port)
            assert r.answer and took < 0.5, took
        results = [f.result() for f in waiting]
    assert all(r.rcode() == dns.rcode.SERVFAIL for r in results)
    relay.mode = "forward"
    assert wait_until(lambda: query("after.wild." + ZONE, port=a.port,
                                    timeout=1).answer, timeout=15)
