#!/usr/bin/env bash
# make bench: Loom's benchmarks, then one table of every figure.
#
#   1. Go benchmarks of topology loading and flow compilation (no root):
#      the 10-, 100- and 1,000-host compiles from scratch, the 1,000-host
#      load, a one-port change (Compiled.Update) at 100 and 1,000 hosts
#      and on the 50x40 lab topology, and what follows it for a host (its
#      delta, its flows); BENCH_FULL=1 runs every benchmark of both
#      packages.
#   2. Lab benchmarks (root, Open vSwitch; e2e/bench_test.go,
#      e2e/hostile_bench_test.go and e2e/bench_edit_test.go, build tag
#      bench): Loom's flow push against ovs-ofctl's own bundle, loomd's
#      convergence and resources on a 3-host lab, its repair times, issue
#      12's hostile inputs (each sent to a fresh loomd: answer, time, memory,
#      loomd still up), how long loomctl's edits take to return (no lab),
#      and loom-cni's ADD, DEL, first ping and a burst of 100 ADDs, on a
#      small lab and beside 2,000 ports on 3 hosts (e2e/bench_cni_test.go,
#      LOOM_BENCH_CNI_SIZES); a change's bundle through ovs-ofctl against
#      Loom's own OpenFlow connection (ofctl/wire_bench_test.go).
#
# The log and the table go to BENCH_OUT (default bin/bench). Knobs of the lab
# benchmarks: LOOM_BENCH_RUNS (push runs, 5), LOOM_BENCH_CONVERGE_RUNS (3),
# LOOM_BENCH_SIZES (switches x ports, 1x4,10x20,50x40), LOOM_BENCH_IDLE
# (60s), LOOM_BENCH_HOSTILE_RUNS (3). Exits non-zero if a benchmark failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
GO=${GO:-go}
OUT=${BENCH_OUT:-bin/bench}
mkdir -p "$OUT"
log=$OUT/bench.log
table=$OUT/table.txt
start=$(date +%s)
# cpu_stat: the machine's stolen and total CPU time so far (clock ticks).
cpu_stat() { awk '/^cpu /{t = 0; for (i = 2; i <= NF; i++) t += $i; print $9, t}' /proc/stat; }
read -r steal0 total0 < <(cpu_stat)

compile='Load1000Hosts|Compile/hosts=(10|100|1000)$'
# Compiled.Update takes milliseconds: more runs of it.
update='OnePortChange/(hosts=(100|1000)|lab=50x40)$|OnePortFollow|HostFlows'
if [[ ${BENCH_FULL:-0} == 1 ]]; then compile=.; fi

rc=0
{
	echo "== machine"
	echo "nproc: $(nproc)"
	grep -m1 'model name' /proc/cpuinfo
	grep MemTotal /proc/meminfo
	uname -r
	$GO version
	ovs-vswitchd --version 2>/dev/null | head -1
	echo "== compile benchmarks (-bench '$compile')"
	$GO test -run '^$' -bench "$compile" -benchmem -benchtime 1x -timeout 60m ./topology ./flows || rc=1
	echo "== compile update benchmarks (-bench '$update')"
	$GO test -run '^$' -bench "$update" -benchmem -benchtime 20x -timeout 60m ./flows || rc=1
	echo "== a change's bundle: ovs-ofctl against Loom's own OpenFlow connection (ofctl TestBenchWire)"
	LOOM_BENCH_STRICT=1 $GO test -tags bench -run '^TestBenchWire$' -count=1 -v -timeout 20m ./ofctl/ || rc=1
	echo "== lab benchmarks"
	LOOM_BENCH_STRICT=1 $GO test -tags bench -run '^TestBench' -count=1 -v -timeout 70m ./e2e/ || rc=1
	exit $rc
} 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# The machine, as rows of the table. On a shared VM the hypervisor may take
# CPU time away (steal): every figure is slower by about as much.
read -r steal1 total1 < <(cpu_stat)
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal/{printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
{
	printf 'BENCH {"section":"machine","figure":"cores (nproc)","value":%d,"unit":"","note":"%s, %s, %s"}\n' \
		"$(nproc)" "$model" "$mem" "$(uname -r)"
	printf 'BENCH {"section":"machine","figure":"CPU stolen by the hypervisor during make bench","value":%s,"unit":"%%"}\n' \
		"$(awk -v s="$((steal1 - steal0))" -v t="$((total1 - total0))" 'BEGIN{printf "%.1f", t ? 100 * s / t : 0}')"
	printf 'BENCH {"section":"machine","figure":"make bench wall time","value":%d,"unit":"s","note":"BENCH_FULL=%s"}\n' \
		"$(($(date +%s) - start))" "${BENCH_FULL:-0}"
} >>"$log"

echo
echo "== make bench: every figure (log: $log)"
$GO run ./e2e/benchtable "$log" | tee "$table" || rc=1
echo "make bench took $(($(date +%s) - start)) s"
exit "$rc"
