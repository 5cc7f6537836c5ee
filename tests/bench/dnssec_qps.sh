#!/bin/sh
# dnssec_qps.sh - cached queries per second of anchord with DNSSEC validation
# off and on, in one run.
#
#   unshare --net tests/bench/dnssec_qps.sh [BUILD]     (as root; BUILD=build)
#
# ORDER (default "off on on off") says which runs to make, in turn, so that
# drift on a shared machine shows.
# A zone of 10,000 names is signed (ldns-keygen, ldns-signzone) and served by
# NSD; anchord forwards to it, first without validation, then with the
# zone's key as its trust anchor. Each anchord is pinned to CPU 0 and
# warmed (every name asked once, so every answer is cached and, with
# validation, judged); then dnsperf, pinned to CPU 1, asks the same names
# for 15 seconds:
#
#   dnsperf -s 127.0.0.1 -p PORT -d queries.txt -c 100 -q 1000 -l 15
#
# once with plain queries and once with DO set (-D: signatures, and AD
# when validating). Everything runs on the loopback of a private network
# namespace; nothing leaves it.
set -eu

BUILD=${1:-build}
ANCHORD=$(readlink -f "$BUILD/anchord")
ZONE=bench.test.
NSD_PORT=5391
PORT=5392
work=$(mktemp -d /tmp/anchord-bench-XXXXXX)
cd "$work"

ip link set lo up

# ---------------------------------------------------------------- the zone
{
	echo "\$ORIGIN $ZONE"
	echo "\$TTL 3600"
	echo "@ IN SOA ns hostmaster 1 3600 600 604800 3600"
	echo "@ IN NS ns"
	echo "ns IN A 127.0.0.53"
	i=0
	while [ $i -lt 10000 ]; do
		echo "h$i IN A 127.0.$((i / 250)).$((i % 250 + 1))"
		i=$((i + 1))
	done
} > zone
ksk=$(ldns-keygen -a ECDSAP256SHA256 -k $ZONE)
zsk=$(ldns-keygen -a ECDSAP256SHA256 $ZONE)
ldns-signzone -f zone.signed -o $ZONE zone "$ksk" "$zsk"
cp "$ksk.ds" anchors.key
i=0
while [ $i -lt 10000 ]; do
	echo "h$i.$ZONE A"
	i=$((i + 1))
done > queries.txt

cat > nsd.conf <<EOF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  port: $NSD_PORT
  database: ""
  zonesdir: "$work"
  zonelistfile: "$work/zone.list"
  xfrdfile: "$work/xfrd.state"
  pidfile: "$work/nsd.pid"
  logfile: "$work/nsd.log"
  username: ""
  chroot: ""
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: "$ZONE"
  zonefile: "zone.signed"
EOF
taskset -c 1 nsd -d -c nsd.conf &
nsd_pid=$!
sleep 1

# ---------------------------------------------------------------- the runs
run() {		# run NAME VALIDATION
	cat > "$1.conf" <<EOF
server: { name: dns.bench.test, state-dir: $work/state-$1 }
listen: [ { address: 127.0.0.1, port: $PORT, kind: dns } ]
upstream: [ { address: 127.0.0.1, port: $NSD_PORT } ]
cache: { size: 256M }
dnssec: { validation: $2, trust-anchors: [ $work/anchors.key ] }
log: { level: warning }
EOF
	taskset -c 0 "$ANCHORD" -c "$1.conf" 2> "$1.log" &
	pid=$!
	sleep 1
	# warm: every name once, plain and with DO
	taskset -c 1 dnsperf -s 127.0.0.1 -p $PORT -d queries.txt -n 1 -c 20 \
		-q 200 > /dev/null
	taskset -c 1 dnsperf -s 127.0.0.1 -p $PORT -d queries.txt -n 1 -c 20 \
		-q 200 -D > /dev/null
	for flags in "" "-D"; do
		qps=$(taskset -c 1 dnsperf -s 127.0.0.1 -p $PORT -d queries.txt \
			-c 100 -q 1000 -l 15 $flags |
			awk '/Queries per second/ { print $4 }')
		echo "validation $2, queries ${flags:-plain}: $qps qps"
	done
	kill "$pid"
	wait "$pid" || true
}

for mode in ${ORDER:-off on on off}; do
	case $mode in
	off) run off false ;;
	on) run on true ;;
	esac
done
kill "$nsd_pid"
wait "$nsd_pid" || true
rm -rf "$work"
