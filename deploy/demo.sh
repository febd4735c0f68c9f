#!/usr/bin/env bash
# The demo: a lab of two simulated OVS hosts, one workload on each, the
# example topology applied by loomctl from the lab's controller namespace,
# and a ping across the GRE overlay. The lab stays up to be explored; remove
# it with `make lab-down`.
set -euo pipefail
cd "$(dirname "$0")/.."

lab=deploy/lab/lab.sh
prefix=${LOOM_LAB_PREFIX:-lm-}
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

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

step "loomctl apply -f deploy/examples/two-hosts.yaml (run in ${prefix}ctl, the management node)"
ip netns exec "${prefix}ctl" bin/loomctl apply -f deploy/examples/two-hosts.yaml

step "after apply: web1 pings db1 across hosts, over GRE"
# The first packet may be lost while OVS resolves the tunnel's next hop.
$lab exec h1-web1 ping -c 1 -W 1 192.0.2.12 >/dev/null 2>&1 || true
$lab exec h1-web1 ping -c 3 -W 1 192.0.2.12

step "apply again: nothing to change"
ip netns exec "${prefix}ctl" bin/loomctl apply -f deploy/examples/two-hosts.yaml

step "the flows on h1, read from its switch, each explained by the topology object behind it"
ip netns exec "${prefix}ctl" bin/loomctl flows -f deploy/examples/two-hosts.yaml h1 | sed -n '1,12p'
echo "..."

step "where a ping from web1 to db1 goes, table by table, host by host (offline)"
bin/loomctl trace -f deploy/examples/two-hosts.yaml --from web1 --to db1

cat <<EOF

The lab is still up. Look around:
  $lab exec h1 ovs-vsctl show
  bin/loomctl compile -f deploy/examples/two-hosts.yaml --host h1   # each flow and the object behind it
  $lab exec h2-db1 ping 192.0.2.11
Remove it with: make lab-down
EOF
