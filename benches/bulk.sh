#!/usr/bin/env bash
# The bulk-audit benchmark (BENCHMARKS.md). Never a test: it measures, it does not judge (but for
# `hostile`, which checks a memory bound, never a speed).
#
#   benches/bulk.sh                      the runs reported in BENCHMARKS.md (about 8 minutes)
#   benches/bulk.sh run N DELAY_MS [CONCURRENCY]    one mailaudit run (CONCURRENCY: default = the binary's)
#   benches/bulk.sh sweep N DELAY_MS C1 C2 ...      one run per --concurrency value
#   benches/bulk.sh checkdmarc N DELAY_MS           checkdmarc on the first N domains
#   benches/bulk.sh profile N [CONCURRENCY]         perf profile of a run without delay
#   benches/bulk.sh hostile N [CONCURRENCY]         N domains that all publish bloat.test's hostile
#                                                   records: peak RSS, checked under 100 MiB
#   benches/bulk.sh medians                         the table of BENCHMARKS.md from results.jsonl
#
# Each run starts examples/bench_dns.rs (a synthetic DNS server for N domains d00001.bench.test
# ..., each answer delayed by DELAY_MS) on $BENCH_ADDR:$BENCH_PORT, runs
#   mailaudit audit --file domains.txt --format jsonl --resolver $BENCH_ADDR \
#       --dnsbl benches/dnsbl.toml --fail-on never [--concurrency C]
# under /usr/bin/time -v, checks the output has one valid JSON line per domain, and prints
# domains/s, queries/s (counted by the server), peak RSS and CPU time (mailaudit's and the
# server's: they share this machine's cores), the CPU time anything else used meanwhile, and the
# UDP datagrams the kernel dropped. Each run appends a row to $BENCH_DIR/results.jsonl.
#
# Only loopback is used. As root, the runs happen in a network namespace of their own
# (`unshare -n`) that has nothing but a loopback interface, so that no packet can leave the
# machine whatever a tool does; building and `pip install checkdmarc` happen before, outside it.
#
# Environment: BENCH_ADDR (127.0.0.53), BENCH_PORT (53; checkdmarc can only use 53),
# BENCH_DIR (target/bench), BENCH_TIMEOUT (mailaudit --timeout, default the binary's),
# BENCH_SERVER_THREADS (2), BENCH_SERVER_NICE (-10), BENCH_NO_BUILD=1 (reuse the binaries),
# BENCH_TUNED (concurrency of the tuned runs, 512), BENCH_MAILAUDIT (the binary to measure,
# default target/release/mailaudit).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
ADDR=${BENCH_ADDR:-127.0.0.53}
PORT=${BENCH_PORT:-53}
DIR=${BENCH_DIR:-$ROOT/target/bench}
TUNED=${BENCH_TUNED:-512}
MAILAUDIT=${BENCH_MAILAUDIT:-$ROOT/target/release/mailaudit}
SERVER=$ROOT/target/release/examples/bench_dns
VENV=$DIR/venv
mkdir -p "$DIR"

case "$ADDR" in
127.*) ;;
*) echo "BENCH_ADDR must be a loopback address (127.0.0.0/8), not $ADDR" >&2; exit 2 ;;
esac

needs_checkdmarc() { [ "${1:-suite}" = suite ] || [ "${1:-}" = checkdmarc ]; }

# --- outside the namespace: build and install --------------------------------------------------
if [ -z "${BENCH_IN_NETNS:-}" ]; then
    if [ -z "${BENCH_NO_BUILD:-}" ]; then
        cargo build --release --bin mailaudit --example bench_dns
    fi
    if ! [ -x /usr/bin/time ]; then
        echo "installing GNU time (/usr/bin/time -v gives the peak RSS)" >&2
        apt-get install -y time >/dev/null
    fi
    if needs_checkdmarc "$@" && ! [ -x "$VENV/bin/checkdmarc" ]; then
        python3 -m venv "$VENV" && "$VENV/bin/pip" install -q checkdmarc ||
            echo "cannot install checkdmarc: its comparison is skipped" >&2
    fi
    if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
        exec unshare -n env BENCH_IN_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
    fi
    echo "note: not root or no unshare: running on the host's loopback" >&2
fi

# --- the server --------------------------------------------------------------------------------
SERVER_PID=
# More arguments for the server (--hostile).
SERVER_EXTRA=()
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

# start_server N DELAY_MS: serves N domains on $ADDR:$PORT, writes $DIR/domains.txt. At a higher
# priority than mailaudit, so that its socket is drained while mailaudit keeps the cores busy.
start_server() {
    rm -f "$DIR/stats"
    nice -n "${BENCH_SERVER_NICE:--10}" "$SERVER" --listen "$ADDR:$PORT" --domains "$1" --delay-ms "$2" \
        --threads "${BENCH_SERVER_THREADS:-2}" --stats "$DIR/stats" --list "$DIR/domains.txt" \
        ${SERVER_EXTRA[@]+"${SERVER_EXTRA[@]}"} 2>"$DIR/server.log" &
    SERVER_PID=$!
    for _ in $(seq 100); do
        [ -s "$DIR/stats" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "the benchmark DNS server did not start:" >&2
    cat "$DIR/server.log" >&2
    exit 1
}

stat_of() { sed -n "s/^$1=//p" "$DIR/stats"; }

# CPU seconds (user + system) the server has used so far.
server_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"
}

now() { date +%s.%N; }

# UDP datagrams dropped so far for want of socket buffer (RcvbufErrors) in this namespace: a
# dropped query costs the client a whole --timeout before its retry.
udp_drops() { awk '/^Udp: [0-9]/ { print $6 }' /proc/net/snmp; }

# CPU seconds the whole machine has been busy (every process), to see what else ran meanwhile:
# other engineers' builds share these cores and make a run slower.
machine_busy() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}

# --- runs --------------------------------------------------------------------------------------
# run N DELAY_MS [CONCURRENCY] [LABEL]
run() {
    local n=$1 delay=$2 concurrency=${3:-} label=${4:-}
    local args=(audit --file "$DIR/domains.txt" --format jsonl --resolver "$ADDR:$PORT"
        --dnsbl "$ROOT/benches/dnsbl.toml" --fail-on never)
    [ -n "$concurrency" ] && args+=(--concurrency "$concurrency")
    [ -n "${BENCH_TIMEOUT:-}" ] && args+=(--timeout "$BENCH_TIMEOUT")
    start_server "$n" "$delay"
    local q0 s0 t0 t1 b0 b1 u0 rc=0
    q0=$(stat_of queries) s0=$(server_cpu) b0=$(machine_busy) u0=$(udp_drops) t0=$(now)
    /usr/bin/time -v -o "$DIR/time.txt" "$MAILAUDIT" "${args[@]}" >"$DIR/out.jsonl" 2>"$DIR/mailaudit.err" || rc=$?
    t1=$(now) b1=$(machine_busy)
    sleep 0.3 # the server rewrites its counters every 100 ms
    local q1 s1 tcp
    q1=$(stat_of queries) s1=$(server_cpu) tcp=$(stat_of tcp)
    stop_server
    if [ "$rc" != 0 ]; then
        echo "mailaudit exited with $rc:" >&2
        head -20 "$DIR/mailaudit.err" >&2
        exit 1
    fi
    summarize mailaudit "$n" "$delay" "${concurrency:-default}" "$t0" "$t1" "$((q1 - q0))" "$s0" "$s1" "$tcp" "$label" "$b0" "$b1" "$(($(udp_drops) - u0))"
}

# summarize TOOL N DELAY CONCURRENCY T0 T1 QUERIES SERVER_CPU0 SERVER_CPU1 TCP LABEL BUSY0 BUSY1 DROPS
summarize() {
    python3 - "$@" "$DIR" <<'PY'
import json, re, sys
tool, n, delay, conc, t0, t1, queries, s0, s1, tcp, label, b0, b1, drops, d = sys.argv[1:]
n, queries = int(n), int(queries)
wall = float(t1) - float(t0)
server_cpu = float(s1) - float(s0)
time_text = open(f"{d}/time.txt").read()
grab = lambda key: float(re.search(re.escape(key) + r":\s*([\d.]+)", time_text).group(1))
rss_mib = grab("Maximum resident set size (kbytes)") / 1024
cpu = grab("User time (seconds)") + grab("System time (seconds)")
# What else kept the cores busy meanwhile (other engineers' builds): not this run's doing.
other = max(float(b1) - float(b0) - server_cpu - cpu, 0.0)
if tool == "mailaudit":
    lines = open(f"{d}/out.jsonl").read().splitlines()
    targets, codes = set(), {}
    for line in lines:
        report = json.loads(line)  # raises on a line that is not JSON
        targets.add(report["target"])
        # Facts (info) are no error of the run: the synthetic zones are not DNSSEC-signed.
        for finding in report["findings"]:
            if finding["severity"] != "info":
                codes[finding["code"]] = codes.get(finding["code"], 0) + 1
    expected = {l.strip() for l in open(f"{d}/domains.txt") if l.strip()}
    if len(lines) != n or targets != expected:
        sys.exit(f"output: {len(lines)} lines, {len(targets)} distinct targets; expected {n}")
    verdict = "ok" if not codes else "findings " + ", ".join(f"{c} x{k}" for c, k in sorted(codes.items()))
else:
    data = json.load(open(f"{d}/checkdmarc.json"))
    data = data if isinstance(data, list) else [data]
    if len(data) != n:
        sys.exit(f"checkdmarc: {len(data)} results, expected {n}")
    verdict = "ok"
row = {
    "tool": tool, "domains": n, "delay_ms": int(delay), "concurrency": conc,
    "wall_s": round(wall, 2), "domains_per_s": round(n / wall, 3),
    "queries": queries, "queries_per_s": round(queries / wall),
    "queries_per_domain": round(queries / n, 1), "tcp": int(tcp),
    "peak_rss_mib": round(rss_mib, 1), "cpu_s": round(cpu, 2),
    "cpu_ms_per_domain": round(cpu * 1000 / n, 2), "server_cpu_s": round(server_cpu, 2),
    "other_cpu_s": round(other, 2), "udp_drops": int(drops), "label": label, "output": verdict,
}
with open(f"{d}/results.jsonl", "a") as out:
    out.write(json.dumps(row) + "\n")
print(f"{tool:10} {n:6} domains, {delay:>2} ms/answer, concurrency {conc:>7}: {wall:6.2f} s "
      f"{n / wall:7.1f} domains/s {row['queries_per_s']:6} queries/s ({row['queries_per_domain']}/domain, "
      f"{tcp} TCP)  cpu {cpu:.2f} s ({row['cpu_ms_per_domain']} ms/domain)  peak RSS {rss_mib:.1f} MiB  "
      f"server cpu {server_cpu:.2f} s  other load {other:.2f} cpu-s  {drops} UDP drops  [{verdict}]",
      flush=True)
PY
}

# checkdmarc N DELAY_MS: checkdmarc on N domains of the same server (port 53 is the only port
# its -n accepts).
checkdmarc_run() {
    local n=$1 delay=$2
    if ! [ -x "$VENV/bin/checkdmarc" ]; then
        echo "checkdmarc is not installed: skipped" >&2
        return 0
    fi
    if [ "$PORT" != 53 ]; then
        echo "checkdmarc asks port 53 only: skipped (BENCH_PORT=$PORT)" >&2
        return 0
    fi
    start_server "$n" "$delay"
    local q0 s0 t0 t1 b0 b1 u0 q1 s1 tcp
    rm -f "$DIR/checkdmarc.json"
    q0=$(stat_of queries) s0=$(server_cpu) b0=$(machine_busy) u0=$(udp_drops) t0=$(now)
    # -n and -o take several values: the domain file comes first, -n last.
    /usr/bin/time -v -o "$DIR/time.txt" "$VENV/bin/checkdmarc" "$DIR/domains.txt" -t 2 \
        -o "$DIR/checkdmarc.json" -n "$ADDR" 2>"$DIR/checkdmarc.err" || true
    t1=$(now) b1=$(machine_busy)
    sleep 0.3
    q1=$(stat_of queries) s1=$(server_cpu) tcp=$(stat_of tcp)
    stop_server
    summarize checkdmarc "$n" "$delay" "-" "$t0" "$t1" "$((q1 - q0))" "$s0" "$s1" "$tcp" "" "$b0" "$b1" "$(($(udp_drops) - u0))"
}

# profile N [CONCURRENCY]: where mailaudit's CPU goes, without delay (a flat profile: the
# release build keeps line tables but no frame pointers; see BENCHMARKS.md for call graphs).
profile() {
    local n=$1 concurrency=${2:-$TUNED}
    if ! perf stat -e instructions true >/dev/null 2>&1; then
        echo "perf cannot count here: use valgrind --tool=callgrind on a small N instead" >&2
        return 0
    fi
    start_server "$n" 0
    perf record -q -F 2000 -o "$DIR/perf.data" -- "$MAILAUDIT" audit --file "$DIR/domains.txt" \
        --format jsonl --resolver "$ADDR:$PORT" --dnsbl "$ROOT/benches/dnsbl.toml" --fail-on never \
        --concurrency "$concurrency" >"$DIR/out.jsonl" 2>"$DIR/perf.log"
    stop_server
    local report=(perf report -i "$DIR/perf.data" --no-children --stdio -g none)
    "${report[@]}" --sort comm >"$DIR/perf-threads.txt" 2>/dev/null
    "${report[@]}" --sort dso >"$DIR/perf-dso.txt" 2>/dev/null
    "${report[@]}" --sort symbol >"$DIR/perf-symbols.txt" 2>/dev/null
    echo "--- mailaudit's CPU by thread (mailaudit = the main thread, in block_on) ---"
    grep -v '^#' "$DIR/perf-threads.txt" | grep -v '^$' | sed -n 1,4p
    echo "--- by shared object ---"
    grep -v '^#' "$DIR/perf-dso.txt" | grep -v '^$' | sed -n 1,5p
    echo "--- top functions, self time ---"
    grep -v '^#' "$DIR/perf-symbols.txt" | grep -v '^$' | sed -n 1,30p | cut -c1-150
    echo "(full report: perf report -i $DIR/perf.data)"
}

# repeat TIMES N DELAY_MS [CONCURRENCY] [LABEL]
repeat() {
    local times=$1
    shift
    for _ in $(seq "$times"); do run "$@"; done
}

# The medians of results.jsonl, one row per (tool, domains, delay, concurrency).
medians() {
    python3 - "$DIR/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for r in rows:
    groups.setdefault((r["tool"], r["domains"], r["delay_ms"], r["concurrency"]), []).append(r)
print("| tool | domains | ms/answer | concurrency | runs | wall s | domains/s | queries/s "
      "| CPU ms/domain | peak RSS MiB | server CPU s | other load CPU s |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
med = lambda rs, k: statistics.median(r.get(k) or 0 for r in rs)
for (tool, n, delay, conc), rs in groups.items():
    print(f"| {tool} | {n} | {delay} | {conc} | {len(rs)} | {med(rs, 'wall_s'):.2f} "
          f"| {med(rs, 'domains_per_s'):.1f} | {med(rs, 'queries_per_s'):.0f} "
          f"| {med(rs, 'cpu_ms_per_domain'):.2f} | {max(r.get('peak_rss_mib') or 0 for r in rs):.1f} "
          f"| {med(rs, 'server_cpu_s'):.1f} | {med(rs, 'other_cpu_s'):.1f} |")
theirs = [r for r in rows if r["tool"] == "checkdmarc"]
for conc in ("default", None):
    ours = [rs for (t, n, d, c), rs in groups.items()
            if t == "mailaudit" and n == 2000 and d == 20 and (conc is None or c == conc)]
    if ours and theirs:
        best = max(ours, key=lambda rs: med(rs, "domains_per_s"))
        rate = statistics.median(r["domains_per_s"] for r in theirs)
        print(f"ratio at 20 ms/answer, mailaudit concurrency {best[0]['concurrency']}: "
              f"{med(best, 'domains_per_s'):.1f} / checkdmarc {rate:.3f} domains/s = "
              f"{med(best, 'domains_per_s') / rate:.0f}x")
PY
}

suite() {
    rm -f "$DIR/results.jsonl"
    echo "# $(date -u +%FT%TZ)  $(nproc) cores  $("$MAILAUDIT" --version)  load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "## 1. 2,000 domains, 20 ms per answer: default --concurrency, then a sweep"
    repeat 3 2000 20 "" default
    repeat 3 2000 20 "$TUNED" tuned
    for c in 64 128 1024; do run 2000 20 "$c" sweep; done
    echo "## 2. 2,000 domains, no delay (CPU cost per domain)"
    repeat 3 2000 0 "" default
    echo "## 3. 10,000 domains through --format jsonl: peak memory"
    run 10000 20 "$TUNED" stream
    echo "## 4. checkdmarc on the same server, 20 ms per answer (50 domains: over a second each)"
    checkdmarc_run 50 20
    echo "## medians"
    medians
    echo "## 5. profile, 2,000 domains, no delay"
    profile 2000 "$TUNED"
    echo "## 6. 100 hostile domains (bloat.test's records), 20 ms per answer: peak memory"
    hostile 100
}

# The bound on peak memory of a bulk run whatever the records hold (issue 9).
HOSTILE_RSS_MIB=100

# hostile N [CONCURRENCY]: N domains that each publish the hostile records of
# fixtures/zones/bloat.test.zone (a 55 KB DMARC record of 3,500 report URIs, none authorised;
# 1,500 TXT records at selector1._domainkey), 20 ms per answer. The audit must stay bounded:
# peak RSS under HOSTILE_RSS_MIB (a memory bound, not a speed: the one check this script makes).
hostile() {
    local n=$1 concurrency=${2:-}
    SERVER_EXTRA=(--hostile)
    run "$n" 20 "$concurrency" hostile
    SERVER_EXTRA=()
    python3 - "$DIR/results.jsonl" "$HOSTILE_RSS_MIB" <<'PY'
import json, sys
row = [json.loads(l) for l in open(sys.argv[1])][-1]
bound = float(sys.argv[2])
size = sum(len(l) for l in open(sys.argv[1].replace("results.jsonl", "out.jsonl")))
print(f"hostile: {row['domains']} domains, peak RSS {row['peak_rss_mib']} MiB (bound {bound:.0f} MiB), "
      f"{row['queries_per_domain']} queries/domain, {size / row['domains'] / 1024:.1f} KiB of JSON/domain")
if row["peak_rss_mib"] >= bound:
    sys.exit(f"hostile: peak RSS {row['peak_rss_mib']} MiB is over the {bound:.0f} MiB bound")
PY
}

usage() { sed -n '2,13p' "$0" >&2; exit 2; }

command=${1:-suite}
[ $# -gt 0 ] && shift
case "$command" in run | sweep | checkdmarc) [ $# -ge 2 ] || usage ;; profile | hostile) [ $# -ge 1 ] || usage ;; esac
case "$command" in
suite) suite ;;
run) run "$1" "$2" "${3:-}" "${4:-manual}" ;;
sweep)
    n=$1 delay=$2
    shift 2
    for c in "$@"; do run "$n" "$delay" "$c" sweep; done
    ;;
checkdmarc) checkdmarc_run "$1" "$2" ;;
profile) profile "$1" "${2:-}" ;;
hostile) hostile "$1" "${2:-}" ;;
medians) medians ;;
*) usage ;;
esac
