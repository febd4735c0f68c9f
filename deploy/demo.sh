#!/usr/bin/env bash
# The demo, a short docs/quickstart.md: a lab of two simulated OVS hosts, one
# workload on each, loomd started in the lab's controller namespace, the
# example topology applied through it with loomctl, and a ping across the
# GRE overlay. The lab and loomd stay up to be explored; the last lines say
# how to stop loomd (by its pid) and remove the lab (make lab-down).
set -euo pipefail
cd "$(dirname "$0")/.."

lab=deploy/lab/lab.sh
prefix=${LOOM_LAB_PREFIX:-lm-}
ctl=${prefix}ctl
topo=deploy/examples/two-hosts.yaml
# loomd's state, log and pid, named after the lab.
dir=/tmp/${prefix}loomd
pidfile=$dir/loomd.pid
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
loomctl() { ip netns exec "$ctl" bin/loomctl "$@"; }

# is_loomd PID: the process PID runs bin/loomd (and not whatever took its
# pid since).
is_loomd() { [[ -n $1 ]] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "bin/loomd --state-dir $dir/state"; }

# stop_loomd stops the loomd of an earlier demo of this lab, which would
# otherwise outlive its lab.
stop_loomd() {
	if [[ -f $pidfile ]] && old=$(<"$pidfile") && is_loomd "$old"; then
		echo "stopping the demo's loomd (pid $old)"
		kill "$old"
		while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
	fi
	rm -rf "$dir"
}

# demo.sh stop: only that (make lab-down runs it).
if [[ ${1:-} == stop ]]; then
	stop_loomd
	exit 0
fi
stop_loomd
mkdir -p "$dir"

step "lab: two hosts (namespaces ${prefix}h1, ${prefix}h2), each with its own ovsdb-server and ovs-vswitchd"
$lab up 2
$lab workload add h1 web1 02:00:00:00:01:01 192.0.2.11/24
$lab workload add h2 db1 02:00:00:00:01:02 192.0.2.12/24

step "before apply: web1 (h1) cannot reach db1 (h2)"
if $lab exec h1-web1 ping -c 1 -W 1 192.0.2.12 >/dev/null 2>&1; then
	echo "unexpected: web1 reaches db1 before Loom did anything" >&2
	exit 1
fi
echo "no reply, as expected"

step "loomd in ${ctl}, the management node; its topology and revision kept in $dir/state"
ip netns exec "$ctl" bin/loomd --state-dir "$dir/state" --address-file "$dir/address" \
	--log-format console >"$dir/loomd.log" 2>&1 &
pid=$!
echo "$pid" >"$pidfile"
trap 'echo; echo "loomd (pid $pid) still runs, log in $dir/loomd.log; stop it with: kill $pid"' EXIT
for _ in $(seq 100); do
	[[ -s $dir/address ]] && break
	kill -0 "$pid" 2>/dev/null || { cat "$dir/loomd.log" >&2; exit 1; }
	sleep 0.1
done
[[ -s $dir/address ]] || { echo "loomd does not listen after 10s" >&2; exit 1; }
echo "loomd runs as pid $pid (in $pidfile), API on $(<"$dir/address") in $ctl, log in $dir/loomd.log"

step "loomctl apply -f $topo --yes: plan, store as revision 1, follow every host"
loomctl apply -f "$topo" --yes

step "loomctl status: every host in sync"
loomctl status

step "after apply: web1 pings db1 across hosts, over GRE"
# The first packet may be lost while OVS resolves the tunnel's next hop.
$lab exec h1-web1 ping -c 1 -W 1 192.0.2.12 >/dev/null 2>&1 || true
$lab exec h1-web1 ping -c 3 -W 1 192.0.2.12

step "loomctl flows h1: the flows read from h1's switch, each explained by the topology object behind it"
loomctl flows h1 | sed -n '1,12p'
echo "..."
loomctl flows h1 | tail -n 2

step "loomctl trace: where a ping from web1 to db1 goes, table by table, host by host"
loomctl trace --from web1 --to db1

trap - EXIT
down="make lab-down" shown=$lab
if [[ $prefix != lm- ]]; then
	down="LOOM_LAB_PREFIX=$prefix $down" shown="LOOM_LAB_PREFIX=$prefix $lab"
fi
cat <<EOF

The lab and loomd are still up. Look around (docs/quickstart.md goes further):
  ip netns exec $ctl bin/loomctl show
  ip netns exec $ctl bin/loomctl flows h2
  ip netns exec $ctl bin/loomctl port add blue web2 --host h2 --ip 192.0.2.13 --interface lm-web2 --dry-run
  $shown exec h2-db1 ping -c 3 192.0.2.11
loomd runs as pid $pid, its log is $dir/loomd.log. To stop it and remove the lab:
  $down
EOF
