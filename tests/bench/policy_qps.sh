#!/bin/sh
# policy_qps.sh - cached queries per second of anchord without a policy and
# with a profile of 1,000,000 blocked names applied to every client, in one
# run.
#
#   unshare --net tests/bench/policy_qps.sh [BUILD]     (as root; BUILD=build)
#
# ORDER (default "none list list none") says which runs to make, in turn, so
# that drift on a shared machine shows; DURATION (default 15) is the seconds
# of each dnsperf run. NSD serves a zone of 10,000 names; anchord forwards to
# it, pinned to CPU 0, is warmed (every name asked once), then dnsperf,
# pinned to CPU 1, asks the same (never blocked) names:
#
#   dnsperf -s 127.0.0.1 -p PORT -d queries.txt -c 100 -q 1000 -l DURATION
#
# so every query pays the policy lookup (every label of the name probed in
# the list) and none is answered by it. Everything runs on the loopback of
# a private network namespace; nothing leaves it.
set -eu

BUILD=${1:-build}
ANCHORD=$(readlink -f "$BUILD/anchord")
ZONE=bench.test.
NSD_PORT=5393
PORT=5394
DURATION=${DURATION:-15}
work=$(mktemp -d /tmp/anchord-bench-XXXXXX)
cd "$work"

ip link set lo up

{
	echo "\$ORIGIN $ZONE"
	echo "\$TTL 3600"
	echo "@ IN SOA ns hostmaster 1 3600 600 604800 3600"
	echo "@ IN NS ns"
	echo "ns IN A 127.0.0.53"
	awk 'BEGIN { for (i = 0; i < 10000; i++)
		print "h" i " IN A 127.0." int(i / 250) "." (i % 250 + 1) }'
} > zone
awk -v z=$ZONE 'BEGIN { for (i = 0; i < 10000; i++) print "h" i "." z " A" }' \
	> queries.txt
# a million names in both list formats, spread over many parent domains
awk 'BEGIN { for (i = 0; i < 1000000; i++)
	if (i % 2) print "ads" i ".tracker" (i % 1000) ".example";
	else print "0.0.0.0 www.ads" i ".net" }' > blocked.list

cat > nsd.conf <<NSDCONF
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
  zonefile: "zone"
NSDCONF
taskset -c 1 nsd -d -c nsd.conf &
nsd_pid=$!
sleep 1

run() {		# run NAME POLICY
	cat > "$1.conf" <<ANCHORDCONF
server: { name: dns.bench.test, state-dir: $work/state-$1 }
listen: [ { address: 127.0.0.1, port: $PORT, kind: dns } ]
upstream: [ { address: 127.0.0.1, port: $NSD_PORT } ]
cache: { size: 256M }
dnssec: { validation: false }
log: { level: warning }
$2
ANCHORDCONF
	taskset -c 0 "$ANCHORD" -c "$1.conf" 2> "$1.log" &
	pid=$!
	i=0
	until dig +short +time=1 +tries=1 @127.0.0.1 -p $PORT h1.$ZONE \
			2>/dev/null | grep -q 127; do
		[ $i -lt 120 ] || { cat "$1.log"; exit 1; }
		sleep 0.5
		i=$((i + 1))
	done
	# proof that the list is in force: a listed name is blocked
	status=$(dig +time=2 +tries=1 @127.0.0.1 -p $PORT ads1.tracker1.example |
		awk '/status:/ { sub(",", "", $6); print $6 }')
	taskset -c 1 dnsperf -s 127.0.0.1 -p $PORT -d queries.txt -n 1 -c 20 \
		-q 200 > /dev/null
	qps=$(taskset -c 1 dnsperf -s 127.0.0.1 -p $PORT -d queries.txt \
		-c 100 -q 1000 -l "$DURATION" |
		awk '/Queries per second/ { print $4 }')
	rss=$(awk '/VmRSS/ { print $2 }' /proc/$pid/status)
	echo "policy $1: $qps qps (RSS $rss KiB; a listed name: $status)"
	kill "$pid"
	wait "$pid" || true
}

LIST="profiles: { listed: { blocklists: [ $work/blocked.list ] } }
clients: [ { subnet: 127.0.0.0/8, profile: listed } ]"
for mode in ${ORDER:-none list list none}; do
	case $mode in
	none) run none "" ;;
	list) run list "$LIST" ;;
	esac
done
kill "$nsd_pid"
wait "$nsd_pid" || true
cd /
rm -rf "$work"
