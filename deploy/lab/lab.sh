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
readonly OVSDB_SSL_PORT=6641 # pssl remote, once the lab has a PKI (pki, LOOM_LAB_TLS=1)
readonly MARKER=.loom-lab # marks a state dir as ours (down removes only those)

PREFIX=${LOOM_LAB_PREFIX:-lm-}
LAB_DIR=${LOOM_LAB_DIR:-/run/loom-lab/${PREFIX}}
LAB_DIR=${LAB_DIR%/}
JOBS=${LOOM_LAB_JOBS:-8}
PEERS=${LOOM_LAB_PEERS:-auto}
TLS=${LOOM_LAB_TLS:-0}

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
  pki                              TLS for the lab (ovs-pki): CAs, a certificate per host
                                   and one for the controller, in the state dir; each host's
                                   OVSDB also listens on pssl:$OVSDB_SSL_PORT:MGMT_IP and its ovs-vswitchd
                                   gets the host's key (bridges can listen on pssl:);
                                   prints the controller's files (idempotent)
  workload add HOST NAME MAC IP/PLEN [MTU]
                                   add a workload namespace PREFIX+HOST-NAME joined to
                                   HOST by a veth: lm-NAME (host side, no IP, not
                                   added to any OVS bridge) <-> eth0 (workload side);
                                   MTU defaults to 1400; NAME is at most 12 chars
  workload del HOST NAME           remove that workload (idempotent)
  physnet add NAME [HOST...]       add a physical network: a VLAN switch (namespace
                                   PREFIX+pn-NAME, bridge lm-br) with a trunk (VLANs
                                   1-4094 tagged, untagged dropped) to each HOST (default:
                                   all), whose host end lm-pn-NAME (no IP, MTU 1500, not
                                   in any OVS bridge) is the host's NIC on it; NAME is
                                   a-z then a-z0-9, at most 9 chars
  physnet del NAME                 remove the physnet and its servers (idempotent)
  server add PHYSNET NAME VLAN MAC IP/PLEN
                                   add a server namespace PREFIX+pn-PHYSNET-NAME whose eth0
                                   (MTU 1500) is an access port in VLAN (1..4094) of the
                                   physnet; NAME is at most 10 chars
  server del PHYSNET NAME          remove that server (idempotent)
  vtep add NAME vxlan|gretap IP KEY MAC ADDR/PLEN [PEER_IP...]
                                   add an external VTEP, namespace PREFIX+vt-NAME, with
                                   underlay IP (in $UL_NET.0/24, not a host's) and tunnel
                                   key KEY; the station behind it is bridge lm-br (MAC,
                                   ADDR/PLEN, MTU 1400); vxlan floods to every PEER_IP
                                   (default: every host's tunnel IP); gretap needs
                                   exactly one PEER_IP; NAME is at most 10 chars
  vtep del NAME                    remove that VTEP (idempotent)
  daemon HOST stop|kill|start|restart ovsdb|vswitchd
                                   break or mend an OVS daemon of host HOST (h<N>):
                                   stop (ovs-appctl exit), kill (SIGKILL), start (as up
                                   does; waits until the host works again), restart
                                   (stop, then start); stop and kill of a daemon that
                                   does not run do nothing; start of one that runs fails
  link HOST mgmt down|up           take host HOST's management link lm-mgmt down (the
                                   controller loses it; the data plane keeps running)
                                   or up (waits until ctl answers a ping)
  exec HOST CMD [ARGS...]          run CMD in HOST's namespace (h1, ctl, fab, h1-web1,
                                   pn-NET, pn-NET-SERVER, vt-NAME) with the host's OVS
                                   environment exported
  env HOST                         print export lines (OVS_RUNDIR, ...) for HOST

Environment:
  LOOM_LAB_PREFIX  name prefix of everything the lab makes (default lm-);
                   letters/digits and a dash, optionally then tN- (lmx-, lm-t1-)
  LOOM_LAB_DIR     state dir (default /run/loom-lab/PREFIX)
  LOOM_LAB_JOBS    hosts started in parallel by up (default 8)
  LOOM_LAB_TLS     1: up also runs pki (default 0)
  LOOM_LAB_PEERS   auto (default), kernel or ovs: what makes physnet switches and
                   gretap VTEPs (kernel: Linux bridge with vlan_filtering, gretap;
                   ovs: a standalone OVS; auto: the kernel's if it can)

Address plan (all labs use the same addresses: they live in separate namespaces):
  management 198.18.0.0/24: ctl 198.18.0.1, host i 198.18.0.(10+i),
             OVSDB of host i at tcp:198.18.0.(10+i):6640 (after pki, also at
             ssl:198.18.0.(10+i):$OVSDB_SSL_PORT)
  underlay   198.19.0.0/24: host i tunnel IP 198.19.0.(10+i) on br-phy;
             VTEPs take free addresses (e.g. 198.19.0.250)
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
	ip | bridge) echo iproute2 ;;
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
	# since the names after a prefix start with fab, ctl, h<digits>, pn- or
	# vt- (never with t<digits>-).
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
	case $PEERS in
	auto | kernel | ovs) ;;
	*) usage_error "LOOM_LAB_PEERS must be auto, kernel or ovs (got '$PEERS')" ;;
	esac
	case $TLS in
	0 | 1) ;;
	*) usage_error "LOOM_LAB_TLS must be 0 or 1 (got '$TLS')" ;;
	esac
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
ovsdb_ssl_addr() { echo "ssl:$(mgmt_ip "$1"):$OVSDB_SSL_PORT"; }

# The lab's PKI (made by pki, or by up with LOOM_LAB_TLS=1): ovs-pki's CAs
# in PKI/ca, keys and certificates NAME-privkey.pem, NAME-cert.pem in PKI.
pki_dir() { echo "$LAB_DIR/pki"; }
pki_ready() { [[ -s $(pki_dir)/ctl-cert.pem ]]; }
# The controller's files: its key and certificate (signed by the controller
# CA, which the switches trust) and the switch CA (which signed the hosts').
ctl_key() { echo "$(pki_dir)/ctl-privkey.pem"; }
ctl_cert() { echo "$(pki_dir)/ctl-cert.pem"; }
ctl_cacert() { echo "$(pki_dir)/ca/switchca/cacert.pem"; }

# Physnets, servers and VTEPs (peers that Loom does not manage). A physnet
# name has no dash, so PREFIX pn-NET-SERVER is unambiguous.
readonly PHYSNET_NAME_RE='[a-z][a-z0-9]*'
ns_physnet() { echo "${PREFIX}pn-$1"; }
ns_server() { echo "${PREFIX}pn-$1-$2"; }
ns_vtep() { echo "${PREFIX}vt-$1"; }
physnet_dir() { echo "$LAB_DIR/pn-$1"; }
vtep_dir() { echo "$LAB_DIR/vt-$1"; }

# Regular expression matching every namespace this lab may have made.
readonly WORKLOAD_NAME_RE='[A-Za-z0-9][A-Za-z0-9_-]*'
lab_ns_re() {
	echo "^${PREFIX}(fab|ctl|h[0-9]+(-${WORKLOAD_NAME_RE})?|pn-${PHYSNET_NAME_RE}(-${WORKLOAD_NAME_RE})?|vt-${WORKLOAD_NAME_RE})\$"
}

ns_exists() { [[ -e /run/netns/$1 ]]; }

# The lab's namespaces that exist now, one a line.
lab_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "$(lab_ns_re)" || true
}

# Host numbers that have a state dir, one a line.
state_hosts() {
	local d
	for d in "$LAB_DIR"/h*; do
		# (if, not &&: the loop's status must not fail the pipeline when the
		# last name, e.g. the file "hosts", is no host)
		if [[ -d $d && ${d##*/} =~ ^h([1-9][0-9]*)$ ]]; then echo "${BASH_REMATCH[1]}"; fi
	done | sort -n
	return 0
}

# Host numbers whose namespace exists, one a line.
ns_hosts() {
	lab_namespaces | sed -nE "s/^${PREFIX}h([0-9]+)\$/\\1/p" | sort -n
}

# resolve_ns HOST: print the namespace for h1 / ctl / fab / h1-web1 /
# pn-phys1 / pn-phys1-srv1 / vt-vtep1 (a full namespace name with the prefix
# is accepted too).
resolve_ns() {
	local host=${1#"$PREFIX"}
	if [[ $host == fab || $host == ctl || $host =~ ^h[1-9][0-9]*(-${WORKLOAD_NAME_RE})?$ ||
		$host =~ ^pn-${PHYSNET_NAME_RE}(-${WORKLOAD_NAME_RE})?$ || $host =~ ^vt-${WORKLOAD_NAME_RE}$ ]]; then
		echo "$PREFIX$host"
	else
		usage_error "unknown host '$1' (expected h<N>, ctl, fab, h<N>-<workload>, pn-<physnet>, pn-<physnet>-<server> or vt-<vtep>)"
	fi
}

# peer_dir NS: the state dir of the physnet or VTEP whose namespace is NS
# (empty for other namespaces, servers included).
peer_dir() {
	local ns=${1#"$PREFIX"}
	if [[ $ns =~ ^pn-(${PHYSNET_NAME_RE})$ ]]; then
		physnet_dir "${BASH_REMATCH[1]}"
	elif [[ $ns =~ ^vt-(${WORKLOAD_NAME_RE})$ ]]; then
		vtep_dir "${BASH_REMATCH[1]}"
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
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
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
	read -r pid 2>/dev/null <"$dir/$name.pid" || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	pid_alive "$pid" || return 1
	local -a args=()
	mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
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

	# 1. The OVS daemons started for this lab (hosts, and physnets or VTEPs
	# made of OVS), found by their pidfiles.
	local -a dirs=()
	for n in $(state_hosts); do dirs+=("$(host_dir "$n")"); done
	for dir in "${dirs[@]}" "$LAB_DIR"/pn-* "$LAB_DIR"/vt-*; do
		[[ -d $dir ]] || continue
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

# ovs_start NS DIR [OVSDB-SERVER-ARGS...]: a private ovsdb-server (listening
# on DIR/db.sock and whatever the extra arguments add) and ovs-vswitchd, both
# in namespace NS (the tap devices of the userspace datapath appear there),
# with their state in DIR. Returns when ovs-vswitchd answers.
ovs_start() {
	local ns=$1 dir=$2
	shift 2
	ovsdb-tool create "$dir/conf.db" "$SCHEMA"
	ovsdb_start "$ns" "$dir" "$@"
	vswitchd_start "$ns" "$dir"
}

# ovsdb_start NS DIR [OVSDB-SERVER-ARGS...]: ovsdb-server on the existing
# DIR/conf.db, in namespace NS. Returns when it answers on DIR/db.sock.
ovsdb_start() {
	local ns=$1 dir=$2
	shift 2
	local -a env
	mapfile -t env < <(ovs_env "$dir")
	ip netns exec "$ns" env "${env[@]}" ovsdb-server "$dir/conf.db" \
		--remote="punix:$dir/db.sock" "$@" -vconsole:off \
		--pidfile="$dir/ovsdb-server.pid" --log-file="$dir/ovsdb-server.log" \
		--detach 9>&- # the daemons must not inherit the lab lock
	env "${env[@]}" ovs-vsctl --db="unix:$dir/db.sock" --timeout=10 --no-wait init
}

# vswitchd_start NS DIR: ovs-vswitchd on DIR/db.sock, in namespace NS.
# Returns when it answers ovs-appctl (its bridges may not be made yet).
vswitchd_start() {
	local ns=$1 dir=$2 i
	local -a env
	mapfile -t env < <(ovs_env "$dir")
	ip netns exec "$ns" env "${env[@]}" ovs-vswitchd "unix:$dir/db.sock" -vconsole:off \
		--pidfile="$dir/ovs-vswitchd.pid" --log-file="$dir/ovs-vswitchd.log" \
		--detach 9>&-
	for ((i = 0; ; i++)); do
		env "${env[@]}" ovs-appctl --timeout=2 version >/dev/null 2>&1 && break
		((i < 200)) || die "$ns: ovs-vswitchd does not answer ovs-appctl (see $dir/ovs-vswitchd.log)"
		sleep 0.05
	done
}

# host_ovsdb_args N: the extra arguments of host hN's ovsdb-server, one a
# line: OVSDB on the management IP, and remotes and SSL from the database.
host_ovsdb_args() {
	printf '%s\n' "--remote=ptcp:$OVSDB_PORT:$(mgmt_ip "$1")" \
		--remote=db:Open_vSwitch,Open_vSwitch,manager_options \
		--private-key=db:Open_vSwitch,SSL,private_key \
		--certificate=db:Open_vSwitch,SSL,certificate \
		--bootstrap-ca-cert=db:Open_vSwitch,SSL,ca_cert
}

# host_tunnel_ip N: waits for the br-phy device of host hN, gives it the
# tunnel IP (unless it has it) and sets it up.
host_tunnel_ip() {
	local n=$1 ns i
	ns=$(ns_host "$n")
	for ((i = 0; ; i++)); do
		ip -n "$ns" link show br-phy >/dev/null 2>&1 && break
		((i < 100)) || die "h$n: ovs-vswitchd made no br-phy device (see $(host_dir "$n")/ovs-vswitchd.log)"
		sleep 0.1
	done
	ip -n "$ns" addr replace "$(tunnel_ip "$n")/24" dev br-phy
	ip -n "$ns" link set br-phy up
}

# host_up N: one simulated host (run in the background by lab_up; output goes
# to the host's up.log).
host_up() {
	local n=$1 fab ns dir mip
	local -a env args
	fab=$(ns_fab)
	ns=$(ns_host "$n")
	dir=$(host_dir "$n")
	mip=$(mgmt_ip "$n")
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

	mapfile -t args < <(host_ovsdb_args "$n")
	ovs_start "$ns" "$dir" "${args[@]}"

	# The host's underlay plumbing: br-phy holds the NIC; its internal port
	# holds the tunnel IP (the userspace datapath routes tunnels from it).
	# ovs-vsctl waits until ovs-vswitchd has made the bridge.
	env "${env[@]}" ovs-vsctl --db="unix:$dir/db.sock" --timeout=20 \
		-- --may-exist add-br br-phy \
		-- set bridge br-phy datapath_type=netdev \
		-- --may-exist add-port br-phy lm-ul
	host_tunnel_ip "$n"
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

# ovsdb_check [--ssl] N...: every host's OVSDB answers from the ctl
# namespace, over TCP or, with --ssl, over SSL with the controller's files
# (OVS's own client checks both chains). Prints the addresses that do not.
ovsdb_check() {
	local n addr bad=() ssl=()
	local addr_of=ovsdb_addr timeout=5
	if [[ ${1-} == --ssl ]]; then
		shift
		addr_of=ovsdb_ssl_addr timeout=10
		ssl=(--private-key="$(ctl_key)" --certificate="$(ctl_cert)" --ca-cert="$(ctl_cacert)")
	fi
	for n in "$@"; do
		addr=$("$addr_of" "$n")
		ip netns exec "$(ns_ctl)" ovs-vsctl --db="$addr" --timeout="$timeout" "${ssl[@]}" \
			br-exists br-phy >/dev/null 2>&1 || bad+=("$addr")
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
	if ((TLS)); then
		FAIL_MSG="up (pki)"
		lab_pki
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
	if pki_ready; then print_pki; fi
}

cmd_up() {
	(($# == 1)) || usage_error "usage: $PROG up N"
	local count=$1
	if [[ ! $count =~ ^[1-9][0-9]*$ ]] || ((count > MAX_HOSTS)); then
		usage_error "N must be a number from 1 to $MAX_HOSTS (got '$count')"
	fi
	need_tools ip ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-appctl ping flock sysctl
	if ((TLS)); then need_tools ovs-pki openssl; fi
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
# pki: TLS between the controller and the hosts
#
# ovs-pki makes two CAs in PKI/ca: switchca signs each host's certificate
# (hN-cert.pem), controllerca the controller's (ctl-cert.pem). A host
# trusts the controller CA, the controller the switch CA: each side checks
# the other's chain (OVS checks no name; the certificates carry no IP).
# Each host gets, in its OVSDB, its key and certificate with the controller
# CA (the SSL table, ovs-vsctl set-ssl: ovsdb-server reads it through its
# db: options, ovs-vswitchd for bridges that listen on pssl:) and a pssl
# remote on the management IP (a Manager row, ovs-vsctl set-manager), so the
# settings outlive a restart of either daemon, as on a stock OVS host.

# pki_run ARGS...: ovs-pki on the lab's CAs; the files it makes land in the
# PKI dir. Its openssl chatter goes to PKI/ovs-pki.log.
pki_run() {
	local dir
	dir=$(pki_dir)
	(cd "$dir" && ovs-pki --dir="$dir/ca" --log="$dir/ovs-pki.log" "$@" >/dev/null 2>>"$dir/ovs-pki.log")
}

# pki_certs TYPE NAME...: a key and a certificate of TYPE (switch or
# controller) for each NAME that has none; the keys (the slow part) are made
# LOOM_LAB_JOBS at a time, then signed one by one (ovs-pki's CA is not safe
# for concurrent signing).
pki_certs() {
	local type=$1 dir name i failed=0
	local -a todo=() batch=()
	shift
	dir=$(pki_dir)
	for name; do
		[[ -s $dir/$name-cert.pem && -s $dir/$name-privkey.pem ]] && continue
		rm -f -- "$dir/$name-privkey.pem" "$dir/$name-req.pem" "$dir/$name-cert.pem"
		todo+=("$name")
	done
	for ((i = 0; i < ${#todo[@]}; i += JOBS)); do
		batch=()
		for name in "${todo[@]:i:JOBS}"; do
			pki_run --unique req "$name" &
			batch+=("$!")
		done
		for name in "${batch[@]}"; do wait "$name" || failed=1; done
	done
	((failed == 0)) || die "ovs-pki req failed (see $dir/ovs-pki.log)"
	for name in "${todo[@]}"; do
		pki_run --batch sign "$name" "$type" || die "ovs-pki sign $name failed (see $dir/ovs-pki.log)"
		rm -f -- "$dir/$name-req.pem"
	done
}

# host_ssl N: host hN's key, certificate and CA in its OVSDB, and its pssl
# OVSDB remote. ovs-vsctl waits until ovs-vswitchd has taken the settings.
host_ssl() {
	local n=$1 dir pki
	local -a env
	dir=$(host_dir "$n")
	pki=$(pki_dir)
	mapfile -t env < <(ovs_env "$dir")
	env "${env[@]}" ovs-vsctl --db="unix:$dir/db.sock" --timeout=20 \
		-- set-ssl "$pki/h$n-privkey.pem" "$pki/h$n-cert.pem" "$pki/ca/controllerca/cacert.pem" \
		-- set-manager "pssl:$OVSDB_SSL_PORT:$(mgmt_ip "$n")"
}

# lab_pki: the CAs (unless made), a certificate per host and one for the
# controller (unless made), each host's SSL settings, then a check from ctl.
# Idempotent.
lab_pki() {
	local dir n bad
	local -a hosts=()
	dir=$(pki_dir)
	mkdir -p "$dir"
	chmod 700 "$dir"
	if [[ ! -s $dir/ca/switchca/cacert.pem || ! -s $dir/ca/controllerca/cacert.pem ]]; then
		# No CA, or half of one: start over (certificates of an old CA are void).
		find "$dir" -mindepth 1 -delete
		pki_run init || die "ovs-pki init failed (see $dir/ovs-pki.log)"
	fi
	mapfile -t hosts < <(state_hosts)
	pki_certs controller ctl
	pki_certs switch "${hosts[@]/#/h}"
	for n in "${hosts[@]}"; do host_ssl "$n"; done
	if ! bad=$(ovsdb_check --ssl "${hosts[@]}"); then
		die "OVSDB not reachable over SSL from ctl at: $bad (see the hosts' ovsdb-server.log)"
	fi
}

print_pki() {
	printf 'TLS: each host'"'"'s OVSDB also at ssl:MGMT_IP:%d; its ovs-vswitchd has its key, so bridges can listen on pssl:\n' "$OVSDB_SSL_PORT"
	printf "controller files (loomctl/loomd --private-key, --certificate, --ca-cert; '%s env ctl' exports them):\n" "$PROG"
	printf '  private key  %s\n  certificate  %s\n  CA cert      %s\n' "$(ctl_key)" "$(ctl_cert)" "$(ctl_cacert)"
}

cmd_pki() {
	(($# == 0)) || usage_error "pki takes no arguments"
	need_tools ip flock ovs-pki openssl ovs-vsctl
	take_lock
	need_lab
	lab_pki
	print_pki
}

# ---------------------------------------------------------------------------
# workload

# netns_del NS: stops every process inside NS and deletes NS (if it exists).
netns_del() {
	local ns=$1 pid
	local -a pids=()
	ns_exists "$ns" || return 0
	while read -r pid; do
		[[ $pid =~ ^[0-9]+$ && $pid != "$$" && $pid != "$BASHPID" ]] && pids+=("$pid")
	done < <(ip netns pids "$ns" 2>/dev/null || true)
	stop_pids "${pids[@]}"
	ip netns del "$ns" 2>/dev/null || ! ns_exists "$ns" || die "could not delete namespace $ns"
}

workload_del() {
	local host=$1 name=$2 ns hns
	ns=${PREFIX}${host}-${name}
	hns=${PREFIX}${host}
	netns_del "$ns"
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
	mgmt | ul | m-* | u-* | pn-*) usage_error "workload NAME '$name' clashes with the lab's own interface names" ;;
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
# Peers that Loom does not manage: physnets, servers on them, external VTEPs
#
# A physnet NET is a "physical switch" in namespace PREFIX+pn-NET: a bridge
# lm-br with a trunk port lm-hN per attached host (VLANs 1-4094 tagged,
# untagged frames dropped), whose other end, lm-pn-NET in the host, is the
# host's NIC on that physnet, and an access port lm-s-SERVER per server
# (namespace PREFIX+pn-NET-SERVER, eth0). A VTEP NAME is a tunnel endpoint in
# namespace PREFIX+vt-NAME on the underlay: tunnel device lm-tun in bridge
# lm-br, which holds the address of the station behind the VTEP.
#
# They are the kernel's own (a Linux bridge with vlan_filtering, vxlan and
# gretap devices) when the kernel has them. When it does not (no
# CONFIG_BRIDGE_VLAN_FILTERING, no CONFIG_NET_IPGRE), a stock standalone OVS
# (its own ovsdb-server and ovs-vswitchd, NORMAL switching, no controller,
# state in LAB_DIR/pn-NET or LAB_DIR/vt-NAME) stands in. LOOM_LAB_PEERS=kernel
# or ovs forces one or the other; vxlan VTEPs are always the kernel's.

# peer_ovs DIR CMD ARGS...: runs ovs-vsctl (on DIR/db.sock) or ovs-ofctl /
# ovs-appctl on the OVS of the peer whose state dir is DIR.
peer_ovs() {
	local dir=$1 cmd=$2
	shift 2
	local -a env
	mapfile -t env < <(ovs_env "$dir")
	if [[ $cmd == ovs-vsctl ]]; then
		env "${env[@]}" ovs-vsctl --db="unix:$dir/db.sock" --timeout=20 "$@"
	else
		env "${env[@]}" "$cmd" "$@"
	fi
}

# peer_ovs_stop DIR: stops the OVS daemons whose state is in DIR, if any.
peer_ovs_stop() {
	local name pid
	local -a pids=()
	for name in ovs-vswitchd ovsdb-server; do
		if pid=$(daemon_pid "$1" "$name"); then pids+=("$pid"); fi
	done
	stop_pids "${pids[@]}"
}

# peer_impl DIR: how the peer in DIR was made: linux (bridge), kernel
# (tunnel device) or ovs; unknown if DIR has no record.
peer_impl() {
	local impl=""
	if [[ -r $1/impl ]]; then read -r impl <"$1/impl" || true; fi
	echo "${impl:-unknown}"
}

# peer_daemons DIR: " ovsdb-server=PID ovs-vswitchd=PID" for an OVS peer
# (NOT-RUNNING for a missing daemon; returns 1 then), nothing for others.
peer_daemons() {
	local dir=$1 name pid rc=0
	[[ $(peer_impl "$dir") == ovs ]] || return 0
	for name in ovsdb-server ovs-vswitchd; do
		if pid=$(daemon_pid "$dir" "$name"); then printf ' %s=%s' "$name" "$pid"; else
			printf ' %s=NOT-RUNNING' "$name"
			rc=1
		fi
	done
	return "$rc"
}

# kernel_fallback WHAT: the kernel cannot make WHAT. Fails under
# LOOM_LAB_PEERS=kernel; otherwise says that OVS stands in.
kernel_fallback() {
	[[ $PEERS != kernel ]] || die "this kernel cannot make $1, and LOOM_LAB_PEERS=kernel; unset it to let a standalone OVS stand in"
	msg "this kernel cannot make $1; a standalone OVS stands in (LOOM_LAB_PEERS=ovs silences this)"
}

# wait_link NS DEV: waits up to 10 s for ovs-vswitchd to make device DEV.
wait_link() {
	local i
	for ((i = 0; ; i++)); do
		ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
		((i < 100)) || die "$1: ovs-vswitchd made no $2 device"
		sleep 0.1
	done
}

need_lab() {
	if [[ ! -e $LAB_DIR/$MARKER ]] || ! ns_exists "$(ns_fab)"; then
		die "lab $PREFIX is not up; run '$PROG up N' first"
	fi
}

# need_peer_dir DIR: DIR is free, and short enough for the unix sockets of an
# OVS peer (DIR/ovs-vswitchd.PID.ctl must fit in 107 bytes).
need_peer_dir() {
	[[ ! -e $1 ]] || die "$1 exists (a half-removed peer?); delete the peer first"
	((${#1} + 25 <= 107)) || die "state dir $1 is too long for unix socket paths; shorten LOOM_LAB_DIR or the name"
}

valid_ipv4() {
	local -a o
	[[ $1 =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || return 1
	IFS=. read -r -a o <<<"$1"
	((10#${o[0]} <= 255 && 10#${o[1]} <= 255 && 10#${o[2]} <= 255 && 10#${o[3]} <= 255))
}

# physnet -------------------------------------------------------------------

physnet_add() {
	local name=$1 ns dir n
	shift
	ns=$(ns_physnet "$name")
	dir=$(physnet_dir "$name")
	mkdir -p "$dir/servers"
	netns_new "$ns"
	if [[ $PEERS != ovs ]] && ip -n "$ns" link add lm-br type bridge stp_state 0 \
		vlan_filtering 1 vlan_default_pvid 0 2>/dev/null; then
		echo linux >"$dir/impl"
		ip -n "$ns" link set lm-br up
	else
		[[ $PEERS == ovs ]] || kernel_fallback "a Linux bridge with VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)"
		echo ovs >"$dir/impl"
		ovs_start "$ns" "$dir"
		peer_ovs "$dir" ovs-vsctl -- add-br lm-br \
			-- set bridge lm-br datapath_type=netdev fail_mode=standalone
	fi
	for n; do physnet_attach "$name" "$n"; done
}

# physnet_attach NET N: a trunk from physnet NET to host hN.
physnet_attach() {
	local name=$1 n=$2 ns hns dir port=lm-h$2 nic=lm-pn-$1
	ns=$(ns_physnet "$name")
	hns=$(ns_host "$n")
	dir=$(physnet_dir "$name")
	ip link add "$nic" netns "$hns" type veth peer name "$port" netns "$ns"
	ip -n "$hns" link set "$nic" mtu 1500
	ip -n "$ns" link set "$port" mtu 1500
	ip netns exec "$hns" ethtool -K "$nic" tx off >/dev/null
	ip netns exec "$ns" ethtool -K "$port" tx off >/dev/null
	ip -n "$ns" link set "$port" up
	if [[ $(peer_impl "$dir") == linux ]]; then
		# vlan_default_pvid 0: the port starts with no VLAN, so untagged
		# frames from the host are dropped; then every VLAN, tagged.
		ip -n "$ns" link set "$port" master lm-br
		bridge -n "$ns" vlan add vid 1-4094 dev "$port"
	else
		# An OVS trunk port takes untagged (and VID 0) frames as VLAN 0:
		# drop them, as the Linux bridge does.
		peer_ovs "$dir" ovs-vsctl -- add-port lm-br "$port" -- set port "$port" vlan_mode=trunk
		peer_ovs "$dir" ovs-ofctl add-flow lm-br \
			"priority=100,in_port=$port,vlan_tci=0x0000/0x0fff,actions=drop"
	fi
	ip -n "$hns" link set "$nic" up
}

physnet_del() {
	local name=$1 ns dir sns n hns
	ns=$(ns_physnet "$name")
	dir=$(physnet_dir "$name")
	# Its servers, whose eth0 would die with the physnet but not their namespace.
	for sns in $(lab_namespaces | grep -E "^${ns}-" || true); do netns_del "$sns"; done
	peer_ovs_stop "$dir"
	netns_del "$ns"
	# Normally gone with the namespace (veth pairs die together); a half-made
	# physnet may have left a host end.
	for n in $(ns_hosts); do
		hns=$(ns_host "$n")
		if ip -n "$hns" link show "lm-pn-$name" >/dev/null 2>&1; then
			ip -n "$hns" link del "lm-pn-$name" 2>/dev/null || true
		fi
	done
	rm -rf -- "$dir"
}

PN_NAME=""
cleanup_physnet() { physnet_del "$PN_NAME"; }

validate_physnet_name() {
	[[ $1 =~ ^${PHYSNET_NAME_RE}$ ]] ||
		usage_error "bad physnet NAME '$1': a lowercase letter, then lowercase letters and digits (no dash)"
	((${#1} <= 9)) || usage_error "physnet NAME '$1' is longer than 9 chars (the host NIC lm-pn-NAME must fit in 15)"
}

# validate_peer_name KIND NAME: a server or VTEP name (its veth lm-s-NAME or
# lm-v-NAME must fit in 15 chars).
validate_peer_name() {
	[[ $2 =~ ^${WORKLOAD_NAME_RE}$ ]] ||
		usage_error "bad $1 NAME '$2': letters, digits, '_' and '-', starting with a letter or digit"
	((${#2} <= 10)) || usage_error "$1 NAME '$2' is longer than 10 chars"
}

cmd_physnet() {
	(($# >= 1)) || usage_error "usage: $PROG physnet add|del ..."
	local sub=$1 name h n
	local -a hosts=()
	shift
	case $sub in
	add)
		(($# >= 1)) || usage_error "usage: $PROG physnet add NAME [HOST...]"
		name=$1
		shift
		validate_physnet_name "$name"
		for h; do
			[[ $h =~ ^h([1-9][0-9]*)$ ]] || usage_error "HOST must be h<N> (got '$h')"
			hosts+=("${BASH_REMATCH[1]}")
		done
		need_tools ip ethtool bridge flock sysctl ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl ovs-appctl
		take_lock
		need_lab
		((${#hosts[@]})) || mapfile -t hosts < <(ns_hosts)
		((${#hosts[@]})) || die "the lab has no hosts"
		mapfile -t hosts < <(printf '%s\n' "${hosts[@]}" | sort -nu)
		ns_exists "$(ns_physnet "$name")" && die "physnet $name exists; delete it first: $PROG physnet del $name"
		need_peer_dir "$(physnet_dir "$name")"
		for n in "${hosts[@]}"; do
			ns_exists "$(ns_host "$n")" || die "host h$n (namespace $(ns_host "$n")) does not exist"
			if ip -n "$(ns_host "$n")" link show "lm-pn-$name" >/dev/null 2>&1; then
				die "interface lm-pn-$name already exists in $(ns_host "$n")"
			fi
		done
		PN_NAME=$name # global: the EXIT trap runs outside this scope
		arm_cleanup cleanup_physnet "physnet add $name"
		physnet_add "$name" "${hosts[@]}"
		disarm_cleanup
		;;
	del)
		(($# == 1)) || usage_error "usage: $PROG physnet del NAME"
		validate_physnet_name "$1"
		need_tools ip flock
		take_lock
		physnet_del "$1"
		;;
	*) usage_error "unknown physnet command '$sub' (add or del)" ;;
	esac
}

# server --------------------------------------------------------------------

server_add() {
	local net=$1 name=$2 vlan=$3 mac=$4 addr=$5 ns pns dir port=lm-s-$2
	ns=$(ns_server "$net" "$name")
	pns=$(ns_physnet "$net")
	dir=$(physnet_dir "$net")
	ip netns add "$ns"
	if [[ $addr == *:* ]]; then
		ip -n "$ns" link set lo up # an IPv6 server keeps IPv6
	else
		netns_quiet "$ns"
	fi
	ip link add "$port" netns "$pns" type veth peer name eth0 netns "$ns"
	ip -n "$pns" link set "$port" mtu 1500
	ip netns exec "$pns" ethtool -K "$port" tx off >/dev/null
	ip -n "$pns" link set "$port" up
	if [[ $(peer_impl "$dir") == linux ]]; then
		ip -n "$pns" link set "$port" master lm-br
		bridge -n "$pns" vlan add vid "$vlan" dev "$port" pvid untagged
	else
		peer_ovs "$dir" ovs-vsctl -- add-port lm-br "$port" tag="$vlan"
	fi
	ip -n "$ns" link set eth0 address "$mac" mtu 1500
	ip netns exec "$ns" ethtool -K eth0 tx off >/dev/null
	if [[ $addr == *:* ]]; then
		ip -n "$ns" addr add "$addr" dev eth0 nodad
	else
		ip -n "$ns" addr add "$addr" dev eth0
	fi
	ip -n "$ns" link set eth0 up
	echo "VLAN $vlan (access port $port), eth0 $mac $addr" >"$dir/servers/$name"
}

server_del() {
	local net=$1 name=$2 ns pns dir port=lm-s-$2
	ns=$(ns_server "$net" "$name")
	pns=$(ns_physnet "$net")
	dir=$(physnet_dir "$net")
	if [[ $(peer_impl "$dir") == ovs ]] && daemon_pid "$dir" ovs-vswitchd >/dev/null; then
		peer_ovs "$dir" ovs-vsctl --if-exists del-port lm-br "$port" || true
	fi
	netns_del "$ns"
	if ns_exists "$pns" && ip -n "$pns" link show "$port" >/dev/null 2>&1; then
		ip -n "$pns" link del "$port" 2>/dev/null || true
	fi
	rm -f -- "$dir/servers/$name"
}

SRV_NET="" SRV_NAME=""
cleanup_server() { server_del "$SRV_NET" "$SRV_NAME"; }

validate_mac() {
	[[ $1 =~ ^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$ ]] || usage_error "bad MAC '$1' (want xx:xx:xx:xx:xx:xx)"
	((0x${1:0:2} % 2 == 0)) || usage_error "MAC '$1' is multicast; want a unicast MAC"
}

validate_addr() {
	[[ $1 =~ ^[0-9A-Fa-f.:]+/[0-9]{1,3}$ ]] || usage_error "bad IP/PLEN '$1' (e.g. 10.0.0.1/24)"
}

cmd_server() {
	(($# >= 1)) || usage_error "usage: $PROG server add|del ..."
	local sub=$1
	shift
	case $sub in
	add)
		(($# == 5)) || usage_error "usage: $PROG server add PHYSNET NAME VLAN MAC IP/PLEN"
		local net=$1 name=$2 vlan=$3 mac=$4 addr=$5
		validate_physnet_name "$net"
		validate_peer_name server "$name"
		if [[ ! $vlan =~ ^[0-9]{1,4}$ ]] || ((10#$vlan < 1 || 10#$vlan > 4094)); then
			usage_error "bad VLAN '$vlan' (1..4094)"
		fi
		vlan=$((10#$vlan))
		validate_mac "$mac"
		validate_addr "$addr"
		need_tools ip ethtool bridge flock sysctl ovs-vsctl
		take_lock
		ns_exists "$(ns_physnet "$net")" || die "physnet $net does not exist; run '$PROG physnet add $net' first"
		ns_exists "$(ns_server "$net" "$name")" && die "server $(ns_server "$net" "$name") exists; delete it first: $PROG server del $net $name"
		if ip -n "$(ns_physnet "$net")" link show "lm-s-$name" >/dev/null 2>&1; then
			die "interface lm-s-$name already exists in $(ns_physnet "$net")"
		fi
		SRV_NET=$net SRV_NAME=$name
		arm_cleanup cleanup_server "server add $net $name"
		server_add "$net" "$name" "$vlan" "$mac" "$addr"
		disarm_cleanup
		;;
	del)
		(($# == 2)) || usage_error "usage: $PROG server del PHYSNET NAME"
		validate_physnet_name "$1"
		validate_peer_name server "$2"
		need_tools ip flock
		take_lock
		server_del "$1" "$2"
		;;
	*) usage_error "unknown server command '$sub' (add or del)" ;;
	esac
}

# vtep ----------------------------------------------------------------------

# vtep_add NAME TYPE IP KEY MAC ADDR PEER...
vtep_add() {
	local name=$1 type=$2 ip=$3 key=$4 mac=$5 addr=$6 ns dir fab fport=lm-v-$1 impl=kernel peer
	shift 6
	ns=$(ns_vtep "$name")
	dir=$(vtep_dir "$name")
	fab=$(ns_fab)
	mkdir -p "$dir"
	netns_new "$ns"
	# The underlay NIC, a port of the fabric's underlay bridge.
	ip link add "$fport" netns "$fab" type veth peer name lm-ul netns "$ns"
	ip netns exec "$fab" ethtool -K "$fport" tx off >/dev/null
	ip netns exec "$ns" ethtool -K lm-ul tx off >/dev/null
	ip -n "$fab" link set "$fport" master lm-ul up
	ip -n "$ns" link set lm-ul up
	case $type in
	vxlan)
		ip -n "$ns" link add lm-tun type vxlan id "$key" local "$ip" dstport 4789 nolearning
		;;
	gretap)
		if [[ $PEERS == ovs ]] || ! ip -n "$ns" link add lm-tun type gretap \
			key "$key" local "$ip" remote "$1" 2>/dev/null; then
			[[ $PEERS == ovs ]] || kernel_fallback "gretap devices (CONFIG_NET_IPGRE)"
			impl=ovs
		fi
		;;
	esac
	echo "$impl" >"$dir/impl"
	if [[ $impl == kernel ]]; then
		ip -n "$ns" addr add "$ip/24" dev lm-ul
		ip -n "$ns" link set lm-tun mtu 1400
		ip netns exec "$ns" ethtool -K lm-tun tx off >/dev/null 2>&1 || true
		if [[ $type == vxlan ]]; then
			# nolearning: frames to unknown MACs (and broadcasts) go to every peer.
			for peer; do
				bridge -n "$ns" fdb append 00:00:00:00:00:00 dev lm-tun dst "$peer"
			done
		fi
		ip -n "$ns" link add lm-br type bridge stp_state 0
		ip -n "$ns" link set lm-br address "$mac"
		ip -n "$ns" link set lm-tun master lm-br up
		ip -n "$ns" link set lm-br mtu 1400
	else
		# As on a Loom host: the underlay IP on the internal port of the
		# bridge that holds the NIC (lm-phy), the tunnel port on another.
		ovs_start "$ns" "$dir"
		peer_ovs "$dir" ovs-vsctl \
			-- add-br lm-phy -- set bridge lm-phy datapath_type=netdev fail_mode=standalone \
			-- add-port lm-phy lm-ul \
			-- add-br lm-br -- set bridge lm-br datapath_type=netdev fail_mode=standalone \
			other_config:hwaddr="\"$mac\"" \
			-- set interface lm-br mtu_request=1400 \
			-- add-port lm-br lm-tun \
			-- set interface lm-tun type=gre options:remote_ip="$1" options:key="$key"
		wait_link "$ns" lm-phy
		wait_link "$ns" lm-br
		ip -n "$ns" addr add "$ip/24" dev lm-phy
		ip -n "$ns" link set lm-phy up
		ip netns exec "$ns" ethtool -K lm-br tx off >/dev/null 2>&1 || true
	fi
	if [[ $addr == *:* ]]; then
		ip netns exec "$ns" sysctl -q -w net.ipv6.conf.lm-br.disable_ipv6=0 >/dev/null
		ip -n "$ns" addr add "$addr" dev lm-br nodad
	else
		ip -n "$ns" addr add "$addr" dev lm-br
	fi
	ip -n "$ns" link set lm-br up
	echo "$type key $key, underlay IP $ip, station lm-br $mac $addr, peers ${*:-none}" >"$dir/desc"
}

vtep_del() {
	local name=$1 ns dir fab fport=lm-v-$1
	ns=$(ns_vtep "$name")
	dir=$(vtep_dir "$name")
	fab=$(ns_fab)
	peer_ovs_stop "$dir"
	netns_del "$ns"
	if ns_exists "$fab" && ip -n "$fab" link show "$fport" >/dev/null 2>&1; then
		ip -n "$fab" link del "$fport" 2>/dev/null || true
	fi
	rm -rf -- "$dir"
}

VT_NAME=""
cleanup_vtep() { vtep_del "$VT_NAME"; }

cmd_vtep() {
	(($# >= 1)) || usage_error "usage: $PROG vtep add|del ..."
	local sub=$1
	shift
	case $sub in
	add)
		(($# >= 6)) || usage_error "usage: $PROG vtep add NAME vxlan|gretap IP KEY MAC ADDR/PLEN [PEER_IP...]"
		local name=$1 type=$2 given_ip=$3 ip=${3%/24} key=$4 mac=$5 addr=$6 peer ns want=0 last n
		shift 6
		local -a peers=("$@")
		validate_peer_name vtep "$name"
		case $type in
		vxlan)
			if [[ ! $key =~ ^[0-9]{1,8}$ ]] || ((10#$key > 16777215)); then
				usage_error "bad vxlan KEY '$key' (VNI 0..16777215)"
			fi
			;;
		gretap)
			if [[ ! $key =~ ^[0-9]{1,10}$ ]] || ((10#$key > 4294967295)); then
				usage_error "bad gretap KEY '$key' (0..4294967295)"
			fi
			((${#peers[@]} == 1)) || usage_error "a gretap VTEP needs exactly one PEER_IP (a gretap device has one remote)"
			;;
		*) usage_error "bad TYPE '$type' (vxlan or gretap)" ;;
		esac
		key=$((10#$key))
		if ! valid_ipv4 "$ip" || [[ ! $ip =~ ^${UL_NET//./\\.}\.([0-9]+)$ ]] ||
			((10#${BASH_REMATCH[1]} < 1 || 10#${BASH_REMATCH[1]} > 254)); then
			usage_error "bad IP '$given_ip': want an address in the underlay $UL_NET.0/24 (e.g. $UL_NET.50)"
		fi
		last=$((10#${BASH_REMATCH[1]}))
		validate_mac "$mac"
		validate_addr "$addr"
		for peer in "${peers[@]}"; do
			valid_ipv4 "$peer" || usage_error "bad PEER_IP '$peer' (an IPv4 address)"
		done
		need_tools ip ethtool bridge flock sysctl ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-appctl
		take_lock
		need_lab
		ns=$(ns_vtep "$name")
		ns_exists "$ns" && die "vtep $ns exists; delete it first: $PROG vtep del $name"
		need_peer_dir "$(vtep_dir "$name")"
		if [[ -r $LAB_DIR/hosts ]]; then read -r want <"$LAB_DIR/hosts" || true; fi
		[[ $want =~ ^[0-9]+$ ]] || want=0
		if ((last > 10 && last <= 10 + want)); then
			die "IP $ip is the tunnel IP of host h$((last - 10)); pick another (e.g. $UL_NET.$((want < 239 ? 250 : 1)))"
		fi
		for n in $(lab_namespaces | grep -E "^${PREFIX}vt-" || true); do
			if ip -n "$n" -4 -o addr show 2>/dev/null | grep -q " inet $ip/"; then die "IP $ip is taken by vtep $n"; fi
		done
		if [[ $type == vxlan ]] && ((${#peers[@]} == 0)); then
			for n in $(ns_hosts); do peers+=("$(tunnel_ip "$n")"); done
		fi
		VT_NAME=$name
		arm_cleanup cleanup_vtep "vtep add $name"
		vtep_add "$name" "$type" "$ip" "$key" "$mac" "$addr" "${peers[@]}"
		disarm_cleanup
		;;
	del)
		(($# == 1)) || usage_error "usage: $PROG vtep del NAME"
		validate_peer_name vtep "$1"
		need_tools ip flock
		take_lock
		vtep_del "$1"
		;;
	*) usage_error "unknown vtep command '$sub' (add or del)" ;;
	esac
}

# ---------------------------------------------------------------------------
# Fault injection: daemon, link
#
# daemon HOST stop|kill|start|restart ovsdb|vswitchd breaks or mends one OVS
# daemon of a host; link HOST mgmt down|up cuts a host off the management
# network (the controller loses it, its data plane keeps running).

# daemon_name ovsdb|vswitchd: the program's name (and its pidfile's).
daemon_name() {
	case $1 in
	ovsdb) echo ovsdb-server ;;
	vswitchd) echo ovs-vswitchd ;;
	esac
}

# wait_gone PID: waits up to 5 s for PID to end. A zombie has ended: the
# daemons are detached, and whoever inherits them may reap them late.
wait_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		pid_alive "$1" || return 0
		sleep 0.05
	done
	return 1
}

# daemon_tidy DIR NAME: removes what a dead daemon NAME left in DIR (its
# pidfile and unixctl socket; ovsdb-server's db.sock too). Only for a NAME
# that daemon_pid does not find.
daemon_tidy() {
	local dir=$1 name=$2
	rm -f -- "$dir/$name.pid" "$dir/$name".*.ctl
	if [[ $name == ovsdb-server ]]; then rm -f -- "$dir/db.sock"; fi
}

# daemon_stop N NAME: stops daemon NAME of host hN with ovs-appctl exit (with
# SIGTERM if that fails). Quiet if it does not run.
daemon_stop() {
	local n=$1 name=$2 dir pid
	dir=$(host_dir "$n")
	if pid=$(daemon_pid "$dir" "$name"); then
		ovs-appctl --timeout=5 -t "$dir/$name.$pid.ctl" exit >/dev/null 2>&1 || true
		if ! wait_gone "$pid"; then
			msg "h$n: $name (pid $pid) did not exit on ovs-appctl exit; sending SIGTERM"
			stop_pids "$pid"
			! pid_alive "$pid" || die "h$n: $name (pid $pid) does not stop"
		fi
	fi
	daemon_tidy "$dir" "$name"
}

# daemon_kill N NAME: kills daemon NAME of host hN with SIGKILL, as a crash
# would, and removes what it leaves behind. Quiet if it does not run.
daemon_kill() {
	local n=$1 name=$2 dir pid
	dir=$(host_dir "$n")
	if pid=$(daemon_pid "$dir" "$name"); then
		kill -KILL "$pid" 2>/dev/null || true
		wait_gone "$pid" || die "h$n: $name (pid $pid) survives SIGKILL"
	fi
	daemon_tidy "$dir" "$name"
}

# daemon_start N NAME: starts daemon NAME of host hN as up does and waits
# until the host works again: for ovsdb-server, until it answers on db.sock
# and on the management IP, and a running ovs-vswitchd has reconnected; for
# ovs-vswitchd, until br-phy and its NIC are back in the datapath, br-phy has
# the tunnel IP and is up, and another host's tunnel IP answers a ping.
daemon_start() {
	local n=$1 name=$2 ns dir pid log chunk off=-1 peer checked=0 i dp bad word
	local re_phy=$'\n +br-phy 65534/' re_ul=$'\n +lm-ul [0-9]+/'
	local -a env args
	ns=$(ns_host "$n")
	dir=$(host_dir "$n")
	mapfile -t env < <(ovs_env "$dir")
	if pid=$(daemon_pid "$dir" "$name"); then
		word=${name#ovs-}
		die "h$n: $name is already running (pid $pid); to start it anew: $PROG daemon h$n restart ${word%-server}"
	fi
	daemon_tidy "$dir" "$name"
	case $name in
	ovsdb-server)
		[[ -e $dir/conf.db ]] || die "h$n: no database $dir/conf.db"
		log=$dir/ovs-vswitchd.log
		if daemon_pid "$dir" ovs-vswitchd >/dev/null; then
			off=$(stat -c %s "$log" 2>/dev/null || echo 0) # its log from here on
		fi
		mapfile -t args < <(host_ovsdb_args "$n")
		ovsdb_start "$ns" "$dir" "${args[@]}"
		# The controller's way in, tried from inside the host, so that it
		# works while the management link is down too.
		ip netns exec "$ns" ovs-vsctl --db="$(ovsdb_addr "$n")" --timeout=5 list-br >/dev/null ||
			die "h$n: ovsdb-server does not answer on $(ovsdb_addr "$n") (see $dir/ovsdb-server.log)"
		# ovs-vswitchd retries with a backoff of 1, 2, 4, then 8 s.
		if ((off >= 0)); then
			for ((i = 0; ; i++)); do
				chunk=$(tail -c "+$((off + 1))" "$log" 2>/dev/null || true)
				[[ $chunk == *"$dir/db.sock: connected"* ]] && break
				((i < 200)) || die "h$n: ovs-vswitchd did not reconnect to ovsdb-server within 20 s (see $log)"
				sleep 0.1
			done
		fi
		;;
	ovs-vswitchd)
		vswitchd_start "$ns" "$dir"
		# Its bridges are back when br-phy and its NIC are in the datapath.
		for ((i = 0; ; i++)); do
			dp=$(env "${env[@]}" ovs-appctl --timeout=2 dpif/show 2>/dev/null || true)
			[[ $dp =~ $re_phy && $dp =~ $re_ul ]] && break
			((i < 200)) || die "h$n: ovs-vswitchd did not bring back br-phy with lm-ul in 10 s (see $dir/ovs-vswitchd.log)"
			sleep 0.05
		done
		# br-phy's tap device outlives ovs-vswitchd (it is persistent), so it
		# usually keeps its address; if it was made anew, it gets it again.
		host_tunnel_ip "$n"
		for ((i = 0; ; i++)); do
			[[ $(ip -n "$ns" -o link show br-phy 2>/dev/null) == *LOWER_UP* ]] && break
			((i < 100)) || die "h$n: br-phy has no carrier (see $dir/ovs-vswitchd.log)"
			sleep 0.05
		done
		# The underlay: another host whose ovs-vswitchd runs answers a ping.
		for peer in $(ns_hosts); do
			((peer != n)) || continue
			daemon_pid "$(host_dir "$peer")" ovs-vswitchd >/dev/null || continue
			if ! bad=$(ping_check "$ns" "$(tunnel_ip "$peer")"); then
				die "h$n: underlay broken after starting ovs-vswitchd: cannot ping $bad (h$peer) over br-phy"
			fi
			checked=1
			break
		done
		if ((!checked)) && [[ -n $(ns_hosts | grep -vx "$n" || true) ]]; then
			msg "h$n: no other host runs ovs-vswitchd; underlay not checked"
		fi
		;;
	esac
}

cmd_daemon() {
	(($# == 3)) || usage_error "usage: $PROG daemon HOST stop|kill|start|restart ovsdb|vswitchd"
	local host=$1 action=$2 which=$3 n name
	[[ $host =~ ^h([1-9][0-9]*)$ ]] || usage_error "HOST must be h<N> (got '$host')"
	n=${BASH_REMATCH[1]}
	case $action in
	stop | kill | start | restart) ;;
	*) usage_error "unknown daemon action '$action' (stop, kill, start or restart)" ;;
	esac
	case $which in
	ovsdb | vswitchd) ;;
	*) usage_error "unknown daemon '$which' (ovsdb or vswitchd)" ;;
	esac
	name=$(daemon_name "$which")
	need_tools ip flock ping ovsdb-server ovs-vswitchd ovs-vsctl ovs-appctl
	take_lock
	need_lab
	if ! ns_exists "$(ns_host "$n")" || [[ ! -d $(host_dir "$n") ]]; then
		die "host $host (namespace $(ns_host "$n")) does not exist"
	fi
	# Checked before restart stops anything: ovs-vswitchd would wait for
	# its database forever and never make br-phy.
	if [[ $name == ovs-vswitchd && ($action == start || $action == restart) ]] &&
		! daemon_pid "$(host_dir "$n")" ovsdb-server >/dev/null; then
		die "h$n: ovsdb-server is not running; start it first: $PROG daemon h$n start ovsdb"
	fi
	case $action in
	stop) daemon_stop "$n" "$name" ;;
	kill) daemon_kill "$n" "$name" ;;
	start) daemon_start "$n" "$name" ;;
	restart)
		daemon_stop "$n" "$name"
		daemon_start "$n" "$name"
		;;
	esac
}

cmd_link() {
	(($# == 3)) || usage_error "usage: $PROG link HOST mgmt down|up"
	local host=$1 which=$2 state=$3 n ns i
	[[ $host =~ ^h([1-9][0-9]*)$ ]] || usage_error "HOST must be h<N> (got '$host')"
	n=${BASH_REMATCH[1]}
	[[ $which == mgmt ]] || usage_error "unknown link '$which' (mgmt)"
	[[ $state == down || $state == up ]] || usage_error "bad link state '$state' (down or up)"
	need_tools ip flock ping
	take_lock
	need_lab
	ns=$(ns_host "$n")
	ns_exists "$ns" || die "host $host (namespace $ns) does not exist"
	ip -n "$ns" link set lm-mgmt "$state"
	[[ $state == up ]] || return 0
	for ((i = 0; ; i++)); do
		[[ $(ip -n "$ns" -o link show lm-mgmt 2>/dev/null) == *LOWER_UP* ]] && break
		((i < 100)) || die "h$n: lm-mgmt is up but has no carrier"
		sleep 0.05
	done
	ping_check "$ns" "$MGMT_NET.1" >/dev/null ||
		die "h$n: lm-mgmt is up but ctl ($MGMT_NET.1) does not answer a ping"
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
		if pki_ready; then echo "LOOM_LAB_OVSDB_SSL=$(ovsdb_ssl_addr "$n")"; fi
		echo "LOOM_LAB_TUNNEL_IP=$(tunnel_ip "$n")"
	elif [[ $ns == "$(ns_ctl)" ]]; then
		echo "LOOM_LAB_MGMT_IP=$MGMT_NET.1"
		if pki_ready; then
			# What loomctl and loomd read for ssl: hosts.
			echo "LOOM_PRIVATE_KEY=$(ctl_key)"
			echo "LOOM_CERTIFICATE=$(ctl_cert)"
			echo "LOOM_CA_CERT=$(ctl_cacert)"
		fi
	else
		# A physnet or VTEP made of OVS: its ovs-vsctl/ovs-ofctl work too.
		local dir
		dir=$(peer_dir "$ns")
		if [[ -n $dir && -S $dir/db.sock ]]; then ovs_env "$dir"; fi
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
	mapfile -t namespaces < <(lab_namespaces | sort -V)
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
	if pki_ready; then
		echo "  tls: OVSDB also at ssl:MGMT_IP:$OVSDB_SSL_PORT; controller files: $(ctl_key) $(ctl_cert) $(ctl_cacert)"
	fi
	local net trunks desc daemons
	for ns in "${namespaces[@]}"; do
		if [[ $ns =~ ^${PREFIX}h[0-9]+-(.+)$ ]]; then
			echo "  $ns: workload (veth lm-${BASH_REMATCH[1]} in ${ns%-"${BASH_REMATCH[1]}"})"
		elif [[ $ns =~ ^${PREFIX}pn-(${PHYSNET_NAME_RE})$ ]]; then
			net=${BASH_REMATCH[1]}
			dir=$(physnet_dir "$net")
			trunks=$(ip -n "$ns" -o link show 2>/dev/null | sed -nE 's/^[0-9]+: lm-(h[0-9]+)@.*/\1/p' | sort -V | paste -sd ' ')
			daemons=$(peer_daemons "$dir") || up=0
			echo "  $ns: physnet $net, $(peer_impl "$dir") bridge lm-br,$daemons trunks (host NIC lm-pn-$net) to: ${trunks:-none}"
		elif [[ $ns =~ ^${PREFIX}pn-(${PHYSNET_NAME_RE})-(.+)$ ]]; then
			desc="(no record)"
			dir=$(physnet_dir "${BASH_REMATCH[1]}")
			if [[ -r $dir/servers/${BASH_REMATCH[2]} ]]; then read -r desc <"$dir/servers/${BASH_REMATCH[2]}" || true; fi
			echo "  $ns: server on physnet ${BASH_REMATCH[1]}, $desc"
		elif [[ $ns =~ ^${PREFIX}vt-(.+)$ ]]; then
			desc="(no record)"
			dir=$(vtep_dir "${BASH_REMATCH[1]}")
			if [[ -r $dir/desc ]]; then read -r desc <"$dir/desc" || true; fi
			daemons=$(peer_daemons "$dir") || up=0
			echo "  $ns: vtep ($(peer_impl "$dir"))$daemons $desc"
		fi
	done
	for dir in "$LAB_DIR"/pn-* "$LAB_DIR"/vt-*; do
		[[ -d $dir ]] || continue
		ns=$PREFIX${dir##*/}
		if ! ns_exists "$ns"; then
			echo "  $ns: namespace MISSING (state dir $dir is left)"
			up=0
		fi
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
	up | down | status | pki | workload | physnet | server | vtep | daemon | link | exec)
		need_root "$cmd" "$@"
		"cmd_$cmd" "$@"
		;;
	*) usage_error "unknown command '$cmd'" ;;
	esac
}

main "$@"
