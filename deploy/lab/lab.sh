#!/usr/bin/env bash
# lab.sh - a lab of simulated Open vSwitch hosts in network namespaces.
#
# Each host is a network namespace running its own ovsdb-server and
# ovs-vswitchd (userspace datapath). A controller namespace reaches every
# host's OVSDB over a management network; hosts reach each other over an
# underlay network through their br-phy bridge. See README.md next to this
# file, or run: lab.sh --help
#
# Everything a lab creates is named after LOOM_LAB_PREFIX (default "lm-"), so
# labs with different prefixes can run side by side.

set -Eeuo pipefail

PATH=$PATH:/usr/sbin:/sbin
readonly PROG=${0##*/}
readonly SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
readonly MAX_HOSTS=200
readonly MGMT_NET=198.18.0 # .1 = ctl, .(10+i) = host i; /24
readonly UL_NET=198.19.0   # .(10+i) = host i tunnel IP on br-phy; /24
readonly OVSDB_PORT=6640
readonly MARKER=.loom-lab # marks a state dir as ours (down removes only those)

PREFIX=${LOOM_LAB_PREFIX:-lm-}
LAB_DIR=${LOOM_LAB_DIR:-/run/loom-lab/${PREFIX}}
LAB_DIR=${LAB_DIR%/}
JOBS=${LOOM_LAB_JOBS:-8}

ON_FAIL=""   # function run by the EXIT trap when a command fails half-way
FAIL_MSG=""  # what was being done, for the failure message

usage() {
	cat <<EOF
Usage: $PROG COMMAND [ARGS]

A lab of simulated OVS hosts (network namespaces, userspace datapath).

Commands:
  up N                             create a lab of N hosts (1..$MAX_HOSTS); an existing
                                   lab with the same prefix is torn down first
  down                             remove everything of this lab (idempotent)
  status                           show what exists; exit 0 if the lab is up, 1 if not
  workload add HOST NAME MAC IP/PLEN [MTU]
                                   add a workload namespace PREFIX+HOST-NAME joined to
                                   HOST by a veth: lm-NAME (host side, no IP, not
                                   added to any OVS bridge) <-> eth0 (workload side);
                                   MTU defaults to 1400; NAME is at most 12 chars
  workload del HOST NAME           remove that workload (idempotent)
  exec HOST CMD [ARGS...]          run CMD in HOST's namespace (h1, ctl, fab, h1-web1)
                                   with the host's OVS environment exported
  env HOST                         print export lines (OVS_RUNDIR, ...) for HOST

Environment:
  LOOM_LAB_PREFIX  name prefix of everything the lab makes (default lm-);
                   letters/digits and a dash, optionally then tN- (lmx-, lm-t1-)
  LOOM_LAB_DIR     state dir (default /run/loom-lab/PREFIX)
  LOOM_LAB_JOBS    hosts started in parallel by up (default 8)

Address plan (all labs use the same addresses: they live in separate namespaces):
  management 198.18.0.0/24: ctl 198.18.0.1, host i 198.18.0.(10+i),
             OVSDB of host i at tcp:198.18.0.(10+i):6640
  underlay   198.19.0.0/24: host i tunnel IP 198.19.0.(10+i) on br-phy
EOF
}

msg() { printf 'lab: %s\n' "$*" >&2; }
die() {
	msg "$*"
	exit 1
}
usage_error() {
	msg "$*"
	msg "run '$PROG --help' for usage"
	exit 2
}

# ---------------------------------------------------------------------------
# Preconditions

package_of() {
	case $1 in
	ip) echo iproute2 ;;
	ethtool) echo ethtool ;;
	ping) echo iputils-ping ;;
	flock) echo util-linux ;;
	sysctl) echo procps ;;
	ovs-* | ovsdb-*) echo openvswitch-switch ;;
	*) echo "$1" ;;
	esac
}

# need_tools TOOL...: one line per missing tool, exit 2 if any is missing.
need_tools() {
	local tool missing=0
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			printf 'lab: %s not found; install it with: apt-get install -y %s\n' \
				"$tool" "$(package_of "$tool")" >&2
			missing=1
		fi
	done
	if ((missing)); then exit 2; fi
}

need_root() {
	if [[ $EUID -ne 0 ]]; then
		die "must run as root (network namespaces and OVS daemons need it); try: sudo $0 $*"
	fi
}

check_config() {
	# One word and a dash (lm-, lmx-), optionally followed by a test lab's
	# tN- (lm-t1-): no prefix's names can match another prefix's patterns,
	# since the names after a prefix start with fab, ctl or h<digits>.
	if [[ ! $PREFIX =~ ^[a-z][a-z0-9]{0,11}-(t[0-9]{1,3}-)?$ ]]; then
		usage_error "bad LOOM_LAB_PREFIX '$PREFIX': use lowercase letters/digits and a dash, optionally followed by tN- (e.g. lmx-, lm-t1-)"
	fi
	if [[ -z $LAB_DIR || $LAB_DIR != /* ]]; then
		usage_error "LOOM_LAB_DIR must be an absolute path (got '$LAB_DIR')"
	fi
	# Unix socket paths are limited to 107 bytes; the longest we make is
	# DIR/hNNN/BRIDGE-NAME.snoop or DIR/hNNN/ovs-vswitchd.PID.ctl.
	if ((${#LAB_DIR} > 70)); then
		usage_error "LOOM_LAB_DIR is too long for unix socket paths (max 70 chars): $LAB_DIR"
	fi
	if [[ ! $JOBS =~ ^[1-9][0-9]*$ ]]; then
		usage_error "LOOM_LAB_JOBS must be a positive integer (got '$JOBS')"
	fi
}

# Serialises commands that change the lab (up, down, workload) per prefix. The
# lock file sits next to the state dir, which down removes. Long-lived
# children (the OVS daemons) are started with fd 9 closed, or they would hold
# the lock for as long as they run.
take_lock() {
	local lock=${LAB_DIR}.lock
	mkdir -p "$(dirname "$lock")"
	exec 9>"$lock"
	if ! flock -w 120 9; then
		die "another $PROG is working on lab '$PREFIX' (lock $lock held for 120 s)"
	fi
}

# ---------------------------------------------------------------------------
# Names and addresses

ns_fab() { echo "${PREFIX}fab"; }
ns_ctl() { echo "${PREFIX}ctl"; }
ns_host() { echo "${PREFIX}h$1"; }
host_dir() { echo "$LAB_DIR/h$1"; }
mgmt_ip() { echo "$MGMT_NET.$((10 + $1))"; }
tunnel_ip() { echo "$UL_NET.$((10 + $1))"; }
ovsdb_addr() { echo "tcp:$(mgmt_ip "$1"):$OVSDB_PORT"; }

# Regular expression matching every namespace this lab may have made.
readonly WORKLOAD_NAME_RE='[A-Za-z0-9][A-Za-z0-9_-]*'
lab_ns_re() { echo "^${PREFIX}(fab|ctl|h[0-9]+(-${WORKLOAD_NAME_RE})?)\$"; }

ns_exists() { [[ -e /run/netns/$1 ]]; }

# The lab's namespaces that exist now, one a line.
lab_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "$(lab_ns_re)" || true
}

# Host numbers that have a state dir, one a line.
state_hosts() {
	local d
	for d in "$LAB_DIR"/h*; do
		[[ -d $d && ${d##*/} =~ ^h([1-9][0-9]*)$ ]] && echo "${BASH_REMATCH[1]}"
	done | sort -n
	return 0
}

# Host numbers whose namespace exists, one a line.
ns_hosts() {
	lab_namespaces | sed -nE "s/^${PREFIX}h([0-9]+)\$/\\1/p" | sort -n
}

# resolve_ns HOST: print the namespace for h1 / ctl / fab / h1-web1 (a full
# namespace name with the prefix is accepted too).
resolve_ns() {
	local host=${1#"$PREFIX"}
	if [[ $host == fab || $host == ctl || $host =~ ^h[1-9][0-9]*(-${WORKLOAD_NAME_RE})?$ ]]; then
		echo "$PREFIX$host"
	else
		usage_error "unknown host '$1' (expected h<N>, ctl, fab or h<N>-<workload>)"
	fi
}

# host_number NS-OR-HOST: the N of hN (empty if not a host).
host_number() {
	local host=${1#"$PREFIX"}
	if [[ $host =~ ^h([1-9][0-9]*)$ ]]; then echo "${BASH_REMATCH[1]}"; fi
}

# ---------------------------------------------------------------------------
# Processes

# pid_alive PID: running and not a zombie.
# (Builtins only: down polls hundreds of pids.)
pid_alive() {
	local stat state
	read -r stat <"/proc/$1/stat" 2>/dev/null || return 1
	state=${stat##*) }
	state=${state%% *}
	[[ -n $state && $state != Z ]]
}

# daemon_pid DIR NAME: pid of daemon NAME (ovsdb-server, ovs-vswitchd) of the
# host whose state dir is DIR, if it runs; checks that the process is the one
# started for DIR (its command line names DIR), against reused pids.
daemon_pid() {
	local dir=$1 name=$2 pid
	[[ -r $dir/$name.pid ]] || return 1
	read -r pid <"$dir/$name.pid" 2>/dev/null || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	pid_alive "$pid" || return 1
	local -a args=()
	mapfile -d '' args <"/proc/$pid/cmdline" 2>/dev/null || return 1
	[[ "${args[*]}" == *"$dir/"* ]] || return 1
	echo "$pid"
}

# stop_pids PID...: SIGTERM, wait up to 5 s, then SIGKILL what is left.
stop_pids() {
	local pid alive i
	(($#)) || return 0
	kill -TERM "$@" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		alive=()
		for pid in "$@"; do pid_alive "$pid" && alive+=("$pid"); done
		((${#alive[@]})) || return 0
		sleep 0.1
	done
	msg "killing (SIGKILL) pids that ignored SIGTERM: ${alive[*]}"
	kill -KILL "${alive[@]}" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		alive=()
		for pid in "$@"; do pid_alive "$pid" && alive+=("$pid"); done
		((${#alive[@]})) || return 0
		sleep 0.1
	done
	msg "warning: pids still alive: ${alive[*]}"
}

# ---------------------------------------------------------------------------
# Failure handling: a command that fails half-way runs $ON_FAIL (e.g. down).

on_err() {
	local rc=$1 line=$2 cmd=$3
	msg "failed (exit $rc) at line $line: $cmd"
}

on_exit() {
	local rc=$?
	trap - EXIT ERR INT TERM
	if ((rc != 0)) && [[ -n $ON_FAIL ]]; then
		msg "${FAIL_MSG:-command} failed; cleaning up"
		wait || true # let background host jobs finish before tearing down
		"$ON_FAIL" || msg "cleanup failed too; run '$PROG down' by hand"
	fi
	exit "$rc"
}

arm_cleanup() {
	ON_FAIL=$1
	FAIL_MSG=$2
	trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
	trap on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

disarm_cleanup() {
	ON_FAIL=""
	trap - ERR EXIT INT TERM
}

# ---------------------------------------------------------------------------
# down

lab_exists() {
	[[ -e $LAB_DIR ]] || [[ -n $(lab_namespaces) ]]
}

lab_down() {
	local -a pids=() namespaces=()
	local n pid ns dir name failed=0

	# 1. The OVS daemons started for this lab, found by their pidfiles.
	for n in $(state_hosts); do
		dir=$(host_dir "$n")
		for name in ovs-vswitchd ovsdb-server; do
			if pid=$(daemon_pid "$dir" "$name"); then pids+=("$pid"); fi
		done
	done
	# 2. Anything else still running inside the lab's own namespaces.
	mapfile -t namespaces < <(lab_namespaces)
	for ns in "${namespaces[@]}"; do
		while read -r pid; do
			[[ $pid =~ ^[0-9]+$ && $pid != "$$" && $pid != "$BASHPID" ]] && pids+=("$pid")
		done < <(ip netns pids "$ns" 2>/dev/null || true)
	done
	if ((${#pids[@]})); then
		mapfile -t pids < <(printf '%s\n' "${pids[@]}" | sort -un)
		stop_pids "${pids[@]}"
	fi

	# 3. The namespaces (their veths and bridges go with them).
	for ns in "${namespaces[@]}"; do
		if ! ip netns del "$ns" 2>/dev/null && ns_exists "$ns"; then
			msg "could not delete namespace $ns"
			failed=1
		fi
	done

	# 4. The state dir, only if it is ours.
	if [[ -e $LAB_DIR ]]; then
		if [[ -e $LAB_DIR/$MARKER ]]; then
			rm -rf -- "$LAB_DIR"
		elif ! rmdir -- "$LAB_DIR" 2>/dev/null; then
			msg "not removing $LAB_DIR: it has no $MARKER marker, so it was not made by $PROG"
			failed=1
		fi
	fi
	return "$failed"
}

cmd_down() {
	(($# == 0)) || usage_error "down takes no arguments"
	need_tools ip flock
	take_lock
	lab_down
}

# ---------------------------------------------------------------------------
# up

# netns_new NS: a namespace with lo up and IPv6 off (no RS/MLD/DAD noise in
# the switches; keeps the kernel from answering on OVS ports).
netns_new() {
	ip netns add "$1"
	netns_quiet "$1"
}

netns_quiet() {
	ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	ip -n "$1" link set lo up
}

fabric_up() {
	local fab ctl
	fab=$(ns_fab)
	ctl=$(ns_ctl)
	netns_new "$fab"
	ip -n "$fab" link add lm-mgmt type bridge stp_state 0
	ip -n "$fab" link add lm-ul type bridge stp_state 0
	ip -n "$fab" link set lm-mgmt up
	ip -n "$fab" link set lm-ul up

	netns_new "$ctl"
	ip link add lm-m-ctl netns "$fab" type veth peer name lm-mgmt netns "$ctl"
	ip -n "$fab" link set lm-m-ctl master lm-mgmt up
	ip -n "$ctl" addr add "$MGMT_NET.1/24" dev lm-mgmt
	ip -n "$ctl" link set lm-mgmt up
}

# ovs_env DIR: the environment that points OVS tools at the host in DIR.
ovs_env() {
	printf '%s\n' "OVS_RUNDIR=$1" "OVS_DBDIR=$1" "OVS_LOGDIR=$1" "OVS_SYSCONFDIR=$1"
}

# host_up N: one simulated host (run in the background by lab_up; output goes
# to the host's up.log).
host_up() {
	local n=$1 fab ns dir mip tip i
	local -a env
	fab=$(ns_fab)
	ns=$(ns_host "$n")
	dir=$(host_dir "$n")
	mip=$(mgmt_ip "$n")
	tip=$(tunnel_ip "$n")
	mapfile -t env < <(ovs_env "$dir")

	netns_new "$ns"

	# Management NIC, before ovsdb-server so that it can bind ptcp:6640:MGMT.
	ip link add "lm-m-h$n" netns "$fab" type veth peer name lm-mgmt netns "$ns"
	ip -n "$fab" link set "lm-m-h$n" master lm-mgmt up
	ip -n "$ns" addr add "$mip/24" dev lm-mgmt
	ip -n "$ns" link set lm-mgmt up

	# Underlay NIC: becomes a port of br-phy, so it carries no IP.
	ip link add "lm-u-h$n" netns "$fab" type veth peer name lm-ul netns "$ns"
	ip -n "$fab" link set "lm-u-h$n" master lm-ul up
	ip -n "$ns" link set lm-ul up

	# OVSDB.
	ovsdb-tool create "$dir/conf.db" "$SCHEMA"
	ip netns exec "$ns" env "${env[@]}" ovsdb-server "$dir/conf.db" \
		--remote="punix:$dir/db.sock" \
		--remote="ptcp:$OVSDB_PORT:$mip" \
		--remote=db:Open_vSwitch,Open_vSwitch,manager_options \
		--private-key=db:Open_vSwitch,SSL,private_key \
		--certificate=db:Open_vSwitch,SSL,certificate \
		--bootstrap-ca-cert=db:Open_vSwitch,SSL,ca_cert \
		--pidfile="$dir/ovsdb-server.pid" --log-file="$dir/ovsdb-server.log" \
		--detach 9>&- # the daemons must not inherit the lab lock
	env "${env[@]}" ovs-vsctl --db="unix:$dir/db.sock" --timeout=10 --no-wait init

	# ovs-vswitchd, in the host's namespace: its tap devices appear there.
	ip netns exec "$ns" env "${env[@]}" ovs-vswitchd "unix:$dir/db.sock" \
		--pidfile="$dir/ovs-vswitchd.pid" --log-file="$dir/ovs-vswitchd.log" \
		--detach 9>&-
	for ((i = 0; ; i++)); do
		env "${env[@]}" ovs-appctl --timeout=2 version >/dev/null 2>&1 && break
		((i < 100)) || die "h$n: ovs-vswitchd does not answer ovs-appctl (see $dir/ovs-vswitchd.log)"
		sleep 0.1
	done

	# The host's underlay plumbing: br-phy holds the NIC; its internal port
	# holds the tunnel IP (the userspace datapath routes tunnels from it).
	# ovs-vsctl waits until ovs-vswitchd has made the bridge.
	env "${env[@]}" ovs-vsctl --db="unix:$dir/db.sock" --timeout=20 \
		-- --may-exist add-br br-phy \
		-- set bridge br-phy datapath_type=netdev \
		-- --may-exist add-port br-phy lm-ul
	for ((i = 0; ; i++)); do
		ip -n "$ns" link show br-phy >/dev/null 2>&1 && break
		((i < 100)) || die "h$n: ovs-vswitchd made no br-phy device (see $dir/ovs-vswitchd.log)"
		sleep 0.1
	done
	ip -n "$ns" addr add "$tip/24" dev br-phy
	ip -n "$ns" link set br-phy up
}

# ping_check NS IP...: every IP answers a ping from NS (a few tries each: the
# first packets may be lost while ARP resolves). Prints the IPs that do not.
ping_check() {
	local ns=$1
	shift
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$ns" bash -c '
		rc=0
		for ip in "$@"; do
			ok=0
			for try in 1 2 3 4 5; do
				if ping -n -q -c 1 -W 1 "$ip" >/dev/null 2>&1; then ok=1; break; fi
			done
			if [ "$ok" = 0 ]; then echo "$ip"; rc=1; fi
		done
		exit $rc' ping_check "$@"
}

# ovsdb_check: every host's OVSDB answers over TCP from the ctl namespace.
ovsdb_check() {
	local n bad=()
	for n in "$@"; do
		ip netns exec "$(ns_ctl)" ovs-vsctl --db="$(ovsdb_addr "$n")" --timeout=5 \
			br-exists br-phy >/dev/null 2>&1 || bad+=("$(ovsdb_addr "$n")")
	done
	if ((${#bad[@]})); then
		echo "${bad[*]}"
		return 1
	fi
}

lab_up() {
	local count=$1 n i pid failed=0 bad
	local -a batch=() hosts=() ips=()

	mkdir -p "$LAB_DIR"
	touch "$LAB_DIR/$MARKER"
	echo "$count" >"$LAB_DIR/hosts"

	FAIL_MSG="up (fabric)"
	fabric_up

	FAIL_MSG="up (hosts)"
	for ((n = 1; n <= count; n++)); do hosts+=("$n"); done
	for ((i = 0; i < count; i += JOBS)); do
		batch=()
		for n in "${hosts[@]:i:JOBS}"; do
			mkdir -p "$(host_dir "$n")"
			host_up "$n" >"$(host_dir "$n")/up.log" 2>&1 &
			batch+=("$n:$!")
		done
		for pid in "${batch[@]}"; do
			n=${pid%%:*}
			if ! wait "${pid#*:}"; then
				msg "host h$n failed to come up:"
				sed 's/^/    /' "$(host_dir "$n")/up.log" >&2 || true
				failed=1
			fi
		done
		((failed == 0)) || die "up failed"
	done

	FAIL_MSG="up (checks)"
	ips=()
	for ((n = 2; n <= count; n++)); do ips+=("$(tunnel_ip "$n")"); done
	if ((${#ips[@]})); then
		if ! bad=$(ping_check "$(ns_host 1)" "${ips[@]}"); then
			die "underlay broken: h1 cannot ping tunnel IP(s) over br-phy: ${bad//$'\n'/ }"
		fi
	fi
	ips=()
	for n in "${hosts[@]}"; do ips+=("$(mgmt_ip "$n")"); done
	if ! bad=$(ping_check "$(ns_ctl)" "${ips[@]}"); then
		die "management network broken: ctl cannot ping: ${bad//$'\n'/ }"
	fi
	if ! bad=$(ovsdb_check "${hosts[@]}"); then
		die "OVSDB not reachable from ctl at: $bad"
	fi
	touch "$LAB_DIR/ready"
}

print_summary() {
	local count=$1 n
	printf 'lab %s is up: %d host(s), state in %s\n' "$PREFIX" "$count" "$LAB_DIR"
	printf '%-6s %-16s %-14s %-22s %s\n' HOST NETNS "MGMT IP" OVSDB "TUNNEL IP"
	printf '%-6s %-16s %-14s %-22s %s\n' ctl "$(ns_ctl)" "$MGMT_NET.1" - -
	for ((n = 1; n <= count; n++)); do
		printf '%-6s %-16s %-14s %-22s %s\n' "h$n" "$(ns_host "$n")" \
			"$(mgmt_ip "$n")" "$(ovsdb_addr "$n")" "$(tunnel_ip "$n")"
	done
}

cmd_up() {
	(($# == 1)) || usage_error "usage: $PROG up N"
	local count=$1
	if [[ ! $count =~ ^[1-9][0-9]*$ ]] || ((count > MAX_HOSTS)); then
		usage_error "N must be a number from 1 to $MAX_HOSTS (got '$count')"
	fi
	need_tools ip ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-appctl ping flock sysctl
	[[ -r $SCHEMA ]] || die "$SCHEMA not found; install it with: apt-get install -y openvswitch-switch"
	take_lock
	if [[ -d $LAB_DIR && ! -e $LAB_DIR/$MARKER && -n $(ls -A "$LAB_DIR") ]]; then
		die "$LAB_DIR is not empty and was not made by $PROG; refusing to use it (set LOOM_LAB_DIR)"
	fi
	if lab_exists; then
		msg "a lab with prefix $PREFIX exists; tearing it down first"
		lab_down || die "could not tear down the existing lab"
	fi
	arm_cleanup lab_down "up"
	lab_up "$count"
	disarm_cleanup
	print_summary "$count"
}

# ---------------------------------------------------------------------------
# workload

workload_del() {
	local host=$1 name=$2 ns hns pid
	local -a pids=()
	ns=${PREFIX}${host}-${name}
	hns=${PREFIX}${host}
	if ns_exists "$ns"; then
		while read -r pid; do
			[[ $pid =~ ^[0-9]+$ ]] && pids+=("$pid")
		done < <(ip netns pids "$ns" 2>/dev/null || true)
		stop_pids "${pids[@]}"
		ip netns del "$ns" 2>/dev/null || ! ns_exists "$ns" || die "could not delete namespace $ns"
	fi
	# Normally gone with the namespace (veth pairs die together); a half-made
	# workload may have left the host end.
	if ns_exists "$hns" && ip -n "$hns" link show "lm-$name" >/dev/null 2>&1; then
		ip -n "$hns" link del "lm-$name" 2>/dev/null || true
	fi
}

workload_add() {
	local host=$1 name=$2 mac=$3 addr=$4 mtu=$5 ns hns
	ns=${PREFIX}${host}-${name}
	hns=${PREFIX}${host}
	ip netns add "$ns"
	if [[ $addr == *:* ]]; then
		ip -n "$ns" link set lo up # an IPv6 workload keeps IPv6
	else
		netns_quiet "$ns" # IPv4 only: no RS/MLD/DAD noise in the switches
	fi
	ip link add "lm-$name" netns "$hns" type veth peer name eth0 netns "$ns"
	ip -n "$hns" link set "lm-$name" mtu "$mtu"
	ip netns exec "$hns" ethtool -K "lm-$name" tx off >/dev/null
	ip -n "$hns" link set "lm-$name" up
	ip -n "$ns" link set eth0 address "$mac" mtu "$mtu"
	ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
	if [[ $addr == *:* ]]; then
		ip -n "$ns" addr add "$addr" dev eth0 nodad
	else
		ip -n "$ns" addr add "$addr" dev eth0
	fi
	ip -n "$ns" link set eth0 up
}

# Undoes a half-made workload (run by the EXIT trap of a failed add).
WL_HOST="" WL_NAME=""
cleanup_workload() { workload_del "$WL_HOST" "$WL_NAME"; }

validate_workload_args() {
	local host=$1 name=$2
	[[ $host =~ ^h[1-9][0-9]*$ ]] || usage_error "HOST must be h<N> (got '$host')"
	[[ $name =~ ^${WORKLOAD_NAME_RE}$ ]] ||
		usage_error "bad workload NAME '$name': letters, digits, '_' and '-', starting with a letter or digit"
	((${#name} <= 12)) || usage_error "workload NAME '$name' is longer than 12 chars (the host side veth lm-NAME must fit in 15)"
	case $name in
	mgmt | ul | m-* | u-*) usage_error "workload NAME '$name' clashes with the lab's own interface names" ;;
	esac
}

cmd_workload() {
	(($# >= 1)) || usage_error "usage: $PROG workload add|del ..."
	local sub=$1
	shift
	case $sub in
	add)
		(($# == 4 || $# == 5)) || usage_error "usage: $PROG workload add HOST NAME MAC IP/PLEN [MTU]"
		local host=$1 name=$2 mac=$3 addr=$4 mtu=${5:-1400}
		validate_workload_args "$host" "$name"
		[[ $mac =~ ^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$ ]] || usage_error "bad MAC '$mac' (want xx:xx:xx:xx:xx:xx)"
		((0x${mac:0:2} % 2 == 0)) || usage_error "MAC '$mac' is multicast; a workload needs a unicast MAC"
		[[ $addr =~ ^[0-9A-Fa-f.:]+/[0-9]{1,3}$ ]] || usage_error "bad IP/PLEN '$addr' (e.g. 10.0.0.1/24)"
		if [[ ! $mtu =~ ^[0-9]+$ ]] || ((mtu < 68 || mtu > 9000)); then
			usage_error "bad MTU '$mtu' (68..9000)"
		fi
		need_tools ip ethtool flock sysctl
		take_lock
		ns_exists "${PREFIX}${host}" || die "host $host (namespace ${PREFIX}${host}) does not exist; run '$PROG up N' first"
		ns_exists "${PREFIX}${host}-${name}" && die "workload ${PREFIX}${host}-${name} exists; delete it first: $PROG workload del $host $name"
		if ip -n "${PREFIX}${host}" link show "lm-$name" >/dev/null 2>&1; then
			die "interface lm-$name already exists in ${PREFIX}${host}"
		fi
		WL_HOST=$host WL_NAME=$name # globals: the EXIT trap runs outside this scope
		arm_cleanup cleanup_workload "workload add $host $name"
		workload_add "$host" "$name" "$mac" "$addr" "$mtu"
		disarm_cleanup
		;;
	del)
		(($# == 2)) || usage_error "usage: $PROG workload del HOST NAME"
		validate_workload_args "$1" "$2"
		need_tools ip flock
		take_lock
		workload_del "$1" "$2"
		;;
	*) usage_error "unknown workload command '$sub' (add or del)" ;;
	esac
}

# ---------------------------------------------------------------------------
# exec, env, status

# env_lines HOST: NAME=VALUE lines for HOST.
env_lines() {
	local ns n
	ns=$(resolve_ns "$1")
	n=$(host_number "$ns")
	echo "LOOM_LAB_NETNS=$ns"
	if [[ -n $n ]]; then
		((n <= MAX_HOSTS)) || usage_error "host number $n is out of range (1..$MAX_HOSTS)"
		ovs_env "$(host_dir "$n")"
		echo "LOOM_LAB_MGMT_IP=$(mgmt_ip "$n")"
		echo "LOOM_LAB_OVSDB=$(ovsdb_addr "$n")"
		echo "LOOM_LAB_TUNNEL_IP=$(tunnel_ip "$n")"
	elif [[ $ns == "$(ns_ctl)" ]]; then
		echo "LOOM_LAB_MGMT_IP=$MGMT_NET.1"
	fi
}

cmd_env() {
	(($# == 1)) || usage_error "usage: $PROG env HOST"
	local line lines
	lines=$(env_lines "$1")
	while IFS= read -r line; do
		printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"
	done <<<"$lines"
}

cmd_exec() {
	(($# >= 2)) || usage_error "usage: $PROG exec HOST CMD [ARGS...]"
	local ns lines
	local -a env
	ns=$(resolve_ns "$1")
	shift
	need_tools ip
	ns_exists "$ns" || die "namespace $ns does not exist (is the lab up? try: $PROG status)"
	lines=$(env_lines "$ns")
	mapfile -t env <<<"$lines"
	exec ip netns exec "$ns" env "${env[@]}" "$@"
}

cmd_status() {
	(($# == 0)) || usage_error "status takes no arguments"
	need_tools ip
	local -a namespaces=()
	local ns n dir up=1 state pid name want=0
	mapfile -t namespaces < <(lab_namespaces)
	if ((${#namespaces[@]} == 0)) && [[ ! -e $LAB_DIR ]]; then
		echo "lab $PREFIX: not up (no namespaces, no state dir $LAB_DIR)"
		return 1
	fi
	if [[ -r $LAB_DIR/hosts ]]; then read -r want <"$LAB_DIR/hosts" || true; fi
	[[ $want =~ ^[0-9]+$ ]] || want=0
	echo "lab $PREFIX: state dir $LAB_DIR$([[ -e $LAB_DIR ]] || echo ' (missing)'), $want host(s) planned"
	if [[ ! -e $LAB_DIR/ready ]]; then
		echo "  up did not finish (no $LAB_DIR/ready)"
		up=0
	fi
	for ns in "$(ns_fab)" "$(ns_ctl)"; do
		if ns_exists "$ns"; then echo "  $ns: present"; else
			echo "  $ns: MISSING"
			up=0
		fi
	done
	local -a hosts
	mapfile -t hosts < <({ state_hosts; ns_hosts; seq 1 "$want"; } | sort -nu)
	((${#hosts[@]})) || up=0
	for n in "${hosts[@]}"; do
		ns=$(ns_host "$n")
		dir=$(host_dir "$n")
		state="  $ns: mgmt $(mgmt_ip "$n") tunnel $(tunnel_ip "$n")"
		ns_exists "$ns" || {
			state+=" namespace MISSING"
			up=0
		}
		for name in ovsdb-server ovs-vswitchd; do
			if pid=$(daemon_pid "$dir" "$name"); then state+=" $name=$pid"; else
				state+=" $name=NOT-RUNNING"
				up=0
			fi
		done
		echo "$state"
	done
	for ns in "${namespaces[@]}"; do
		[[ $ns =~ ^${PREFIX}h[0-9]+-(.+)$ ]] && echo "  $ns: workload (veth lm-${BASH_REMATCH[1]} in ${ns%-"${BASH_REMATCH[1]}"})"
	done
	if ((up)); then
		echo "lab $PREFIX: up"
		return 0
	fi
	echo "lab $PREFIX: not up (incomplete or degraded; '$PROG down' cleans it up)"
	return 1
}

# ---------------------------------------------------------------------------

main() {
	(($#)) || {
		usage >&2
		exit 2
	}
	local cmd=$1
	shift
	case $cmd in
	-h | --help | help)
		usage
		return 0
		;;
	esac
	check_config
	case $cmd in
	env) cmd_env "$@" ;; # pure: no root needed
	up | down | status | workload | exec)
		need_root "$cmd" "$@"
		"cmd_$cmd" "$@"
		;;
	*) usage_error "unknown command '$cmd'" ;;
	esac
}

main "$@"
