#!/usr/bin/env bash
# The bulk-audit benchmark (BENCHMARKS.md). Never a test: it measures, it does not judge (but for
# `hostile`, which checks a memory bound, never a speed).
#
#   benches/bulk.sh                      the runs reported in BENCHMARKS.md (about 15 minutes)
#   benches/bulk.sh run N DELAY_MS [CONCURRENCY]    one mailaudit run (CONCURRENCY: default = the binary's)
#   benches/bulk.sh sweep N DELAY_MS C1 C2 ...      one run per --concurrency value ('default': none given)
#   benches/bulk.sh dead N DELAY_MS [TIMES]         all-live, then 10 % dead domains, default concurrency
#   benches/bulk.sh nodkim N                        N domains without DKIM (_domainkey NXDOMAIN): queries each
#   benches/bulk.sh checkdmarc N DELAY_MS           checkdmarc on the first N domains
#   benches/bulk.sh profile N [CONCURRENCY]         perf profile of a run without delay
#   benches/bulk.sh hostile N [CONCURRENCY]         N domains that all publish bloat.test's hostile
#                                                   records: peak RSS, checked under 100 MiB
#   benches/bulk.sh medians                         the tables of BENCHMARKS.md from results.jsonl
#
# BENCH_VIA=unbound (for run, sweep, dead, nodkim) puts a real recursive resolver between
# mailaudit and the synthetic server: Debian's unbound (installed here with apt-get if missing:
# the benchmark's only, never a test's), one thread, on $BENCH_UNBOUND_ADDR:53, started afresh
# (cold cache) for each run, with the synthetic server as its root (a stub zone for ".", so that
# the root's SOA, bench.test, the reverse zones and the report processor all come from it).
# BENCH_VIA=direct (the default) asks the synthetic server itself, DELAY_MS per answer (20 ms:
# a resolver across the internet).
#
# Each run starts examples/bench_dns.rs (a synthetic DNS server for N domains d00001.bench.test
# ..., each answer delayed by DELAY_MS) on $BENCH_ADDR:$BENCH_PORT, runs
#   mailaudit audit --file domains.txt --format jsonl --resolver <server or unbound> \
#       --dnsbl benches/dnsbl.toml --fail-on never [--concurrency C]
# under /usr/bin/time -v, checks the output has one valid JSON line per domain (live domains
# complete, dead ones incomplete and never "missing"), and prints domains/s, mailaudit's queries
# (from the reports' `stats`) per domain and per second, the queries the server answered, peak
# RSS and CPU time (mailaudit's, the server's and unbound's: they share this machine's cores),
# the CPU time anything else used meanwhile, and the UDP datagrams the kernel dropped. Each run
# appends a row to $BENCH_DIR/results.jsonl.
#
# Only loopback is used. As root, the runs happen in a network namespace of their own
# (`unshare -n`) that has nothing but a loopback interface, so that no packet can leave the
# machine whatever a tool does; building, `apt-get install unbound` and `pip install checkdmarc`
# happen before, outside it.
#
# Environment: BENCH_ADDR (127.0.0.53), BENCH_PORT (53; checkdmarc can only use 53),
# BENCH_UNBOUND_ADDR (127.0.0.54), BENCH_DEAD_SERVERS (127.1.0.0: dead domain N's name server is
# this address plus N; it never answers), BENCH_VIA (direct), BENCH_DEAD_EVERY (every Nth domain dead; 0),
# BENCH_DIR (target/bench), BENCH_TIMEOUT (mailaudit --timeout, default the binary's),
# BENCH_SERVER_THREADS (2), BENCH_SERVER_NICE (-10), BENCH_NO_BUILD=1 (reuse the binaries),
# BENCH_TUNED (concurrency of the memory runs, 512), BENCH_MAILAUDIT (the binary to measure,
# default target/release/mailaudit), BENCH_REPEAT (runs of each key setting in the suite, 3).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
ADDR=${BENCH_ADDR:-127.0.0.53}
PORT=${BENCH_PORT:-53}
UNBOUND_ADDR=${BENCH_UNBOUND_ADDR:-127.0.0.54}
DEAD_SERVERS=${BENCH_DEAD_SERVERS:-127.1.0.0}
VIA=${BENCH_VIA:-direct}
DEAD_EVERY=${BENCH_DEAD_EVERY:-0}
REPEAT=${BENCH_REPEAT:-3}
DIR=${BENCH_DIR:-$ROOT/target/bench}
TUNED=${BENCH_TUNED:-512}
MAILAUDIT=${BENCH_MAILAUDIT:-$ROOT/target/release/mailaudit}
SERVER=$ROOT/target/release/examples/bench_dns
VENV=$DIR/venv
mkdir -p "$DIR"

for address in "$ADDR" "$UNBOUND_ADDR" "$DEAD_SERVERS"; do
    case "$address" in
    127.*) ;;
    *) echo "benchmark addresses must be loopback addresses (127.0.0.0/8), not $address" >&2; exit 2 ;;
    esac
done

needs_checkdmarc() { [ "${1:-suite}" = suite ] || [ "${1:-}" = checkdmarc ]; }
needs_unbound() { [ "${1:-suite}" = suite ] || [ "$VIA" = unbound ]; }

# --- outside the namespace: build and install --------------------------------------------------
if [ -z "${BENCH_IN_NETNS:-}" ]; then
    if [ -z "${BENCH_NO_BUILD:-}" ]; then
        cargo build --release --bin mailaudit --example bench_dns
    fi
    if ! [ -x /usr/bin/time ]; then
        echo "installing GNU time (/usr/bin/time -v gives the peak RSS)" >&2
        apt-get install -y time >/dev/null
    fi
    if needs_unbound "$@" && ! command -v unbound >/dev/null; then
        echo "installing Debian's unbound (the benchmark's recursive resolver)" >&2
        apt-get install -y --no-install-recommends unbound >/dev/null
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

# --- the server and the resolver ---------------------------------------------------------------
SERVER_PID=
UNBOUND_PID=
# More arguments for the server (--hostile, --no-dkim).
SERVER_EXTRA=()
stop_server() {
    if [ -n "$UNBOUND_PID" ]; then
        # What unbound went through: its request list full (exceeded: dropped; overwritten: an
        # older request given up for a newer one), its peak, the questions it answered SERVFAIL.
        unbound-control -c "$DIR/unbound.conf" stats_noreset >"$DIR/unbound-stats.txt" 2>/dev/null || true
        kill "$UNBOUND_PID" 2>/dev/null || true
        wait "$UNBOUND_PID" 2>/dev/null || true
        UNBOUND_PID=
    fi
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
    local dead=()
    [ "$DEAD_EVERY" != 0 ] && dead=(--dead-every "$DEAD_EVERY" --dead-servers "$DEAD_SERVERS")
    nice -n "${BENCH_SERVER_NICE:--10}" "$SERVER" --listen "$ADDR:$PORT" --domains "$1" --delay-ms "$2" \
        --threads "${BENCH_SERVER_THREADS:-2}" --stats "$DIR/stats" --list "$DIR/domains.txt" \
        ${dead[@]+"${dead[@]}"} ${SERVER_EXTRA[@]+"${SERVER_EXTRA[@]}"} 2>"$DIR/server.log" &
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

# answers ADDR: whether a DNS server at ADDR:53 answers the root's SOA within a second.
answers() {
    python3 - "$1" <<'PY'
import socket, sys
query = bytes.fromhex("beef01000001000000000000" "00" "0006" "0001")  # . SOA IN, RD
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
try:
    s.sendto(query, (sys.argv[1], 53))
    data, _ = s.recvfrom(4096)
    sys.exit(0 if data[:2] == b"\xbe\xef" and data[3] & 0x0F == 0 else 1)
except OSError:
    sys.exit(1)
PY
}

# start_unbound: unbound, one thread, on $UNBOUND_ADDR:53, its root the synthetic server (a stub
# zone for "."); the zones it would answer itself (test., the documentation addresses' reverse
# zones) are passed to it too. Iterator only: the synthetic root is not signed.
start_unbound() {
    cat >"$DIR/unbound.conf" <<EOF
server:
    interface: $UNBOUND_ADDR
    port: 53
    num-threads: 1
    do-daemonize: no
    use-syslog: no
    logfile: ""
    verbosity: 0
    chroot: ""
    username: ""
    directory: "$DIR"
    pidfile: "$DIR/unbound.pid"
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    do-ip6: no
    module-config: "iterator"
    local-zone: "test." nodefault
    local-zone: "2.0.192.in-addr.arpa." nodefault
    local-zone: "100.51.198.in-addr.arpa." nodefault
    local-zone: "113.0.203.in-addr.arpa." nodefault
    local-zone: "8.b.d.0.1.0.0.2.ip6.arpa." nodefault
    statistics-cumulative: yes
    extended-statistics: yes
remote-control:
    control-enable: yes
    control-use-cert: no
    control-interface: $DIR/unbound.ctl
stub-zone:
    name: "."
    stub-addr: $ADDR@$PORT
EOF
    unbound -d -c "$DIR/unbound.conf" >"$DIR/unbound.log" 2>&1 &
    UNBOUND_PID=$!
    for _ in $(seq 50); do
        answers "$UNBOUND_ADDR" && return 0
        kill -0 "$UNBOUND_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "unbound did not start:" >&2
    cat "$DIR/unbound.log" >&2
    exit 1
}

stat_of() { sed -n "s/^$1=//p" "$DIR/stats"; }

# CPU seconds (user + system) process $1 has used so far (0 when none).
cpu_of() {
    if [ -z "$1" ]; then echo 0; return; fi
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

now() { date +%s.%N; }

# minus A B: A - B, for CPU seconds.
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# UDP datagrams dropped so far for want of socket buffer (RcvbufErrors) in this namespace: a
# dropped query costs the client a retransmission time-out.
udp_drops() { awk '/^Udp: [0-9]/ { print $6 }' /proc/net/snmp; }

# CPU seconds the whole machine has been busy (every process), to see what else ran meanwhile:
# other engineers' builds share these cores and make a run slower.
machine_busy() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}

# --- runs --------------------------------------------------------------------------------------
# run N DELAY_MS [CONCURRENCY] [LABEL]: one mailaudit run, through $VIA, $DEAD_EVERY dead.
run() {
    local n=$1 delay=$2 concurrency=${3:-} label=${4:-}
    [ "$concurrency" = default ] && concurrency=
    local resolver="$ADDR:$PORT"
    [ "$VIA" = unbound ] && resolver="$UNBOUND_ADDR:53"
    local args=(audit --file "$DIR/domains.txt" --format jsonl --resolver "$resolver"
        --dnsbl "$ROOT/benches/dnsbl.toml" --fail-on never)
    [ -n "$concurrency" ] && args+=(--concurrency "$concurrency")
    [ -n "${BENCH_TIMEOUT:-}" ] && args+=(--timeout "$BENCH_TIMEOUT")
    start_server "$n" "$delay"
    [ "$VIA" = unbound ] && start_unbound
    local q0 s0 r0 t0 t1 b0 b1 u0 rc=0
    q0=$(stat_of queries) s0=$(cpu_of "$SERVER_PID") r0=$(cpu_of "$UNBOUND_PID") b0=$(machine_busy) u0=$(udp_drops) t0=$(now)
    local tracer=
    if [ -n "${BENCH_TRACE:-}" ]; then
        # Every 0.5 s: reports written so far, and (beside unbound) its request list now.
        (
            while :; do
                local list=-
                [ "$VIA" = unbound ] && list=$(unbound-control -c "$DIR/unbound.conf" stats_noreset 2>/dev/null |
                    sed -n 's/^total.requestlist.current.all=//p')
                echo "$(now) $(wc -l <"$DIR/out.jsonl" 2>/dev/null || echo 0) $list"
                sleep 0.5
            done
        ) >"$DIR/trace.txt" &
        tracer=$!
    fi
    /usr/bin/time -v -o "$DIR/time.txt" "$MAILAUDIT" "${args[@]}" >"$DIR/out.jsonl" 2>"$DIR/mailaudit.err" || rc=$?
    [ -n "$tracer" ] && kill "$tracer" 2>/dev/null
    t1=$(now) b1=$(machine_busy)
    sleep 0.3 # the server rewrites its counters every 100 ms
    local q1 s1 r1
    q1=$(stat_of queries) s1=$(cpu_of "$SERVER_PID") r1=$(cpu_of "$UNBOUND_PID")
    TCP=$(stat_of tcp) DEAD_QUERIES=$(stat_of dead)
    rm -f "$DIR/unbound-stats.txt"
    stop_server
    if [ "$rc" != 0 ]; then
        echo "mailaudit exited with $rc:" >&2
        head -20 "$DIR/mailaudit.err" >&2
        exit 1
    fi
    TOOL=mailaudit N=$n DELAY=$delay CONC=${concurrency:-default} T0=$t0 T1=$t1 QUERIES=$((q1 - q0)) \
        SERVER_CPU=$(minus "$s1" "$s0") RESOLVER_CPU=$(minus "$r1" "$r0") LABEL=$label \
        BUSY=$(minus "$b1" "$b0") DROPS=$(($(udp_drops) - u0)) summarize
}

# summarize: one row from the environment (TOOL N DELAY CONC T0 T1 QUERIES SERVER_CPU
# RESOLVER_CPU TCP DEAD_QUERIES LABEL BUSY DROPS) and the run's files.
summarize() {
    TCP=${TCP:-0} DEAD_QUERIES=${DEAD_QUERIES:-0} VIA=$VIA DEAD_EVERY=$DEAD_EVERY \
        python3 - "$DIR" <<'PY'
import json, os, re, sys
d = sys.argv[1]
e = os.environ
tool, n, delay, conc, label = e["TOOL"], int(e["N"]), int(e["DELAY"]), e["CONC"], e.get("LABEL", "")
via, dead_every = e["VIA"], int(e["DEAD_EVERY"])
wall = float(e["T1"]) - float(e["T0"])
server_queries = int(e["QUERIES"])
server_cpu, resolver_cpu = float(e["SERVER_CPU"] or 0), float(e["RESOLVER_CPU"] or 0)
time_text = open(f"{d}/time.txt").read()
grab = lambda key: float(re.search(re.escape(key) + r":\s*([\d.]+)", time_text).group(1))
rss_mib = grab("Maximum resident set size (kbytes)") / 1024
cpu = grab("User time (seconds)") + grab("System time (seconds)")
# What else kept the cores busy meanwhile (other engineers' builds): not this run's doing.
other = max(float(e["BUSY"]) - server_cpu - resolver_cpu - cpu, 0.0)
stats = {"queries": 0, "retries": 0, "timeouts": 0, "skipped": 0}
max_queries = 0
per_domain = []
def number(target):
    m = re.match(r"d(\d+)\.bench\.test$", target)
    return int(m.group(1)) if m else 0
if tool == "mailaudit":
    lines = open(f"{d}/out.jsonl").read().splitlines()
    targets, codes, problems = set(), {}, []
    for line in lines:
        report = json.loads(line)  # raises on a line that is not JSON
        target = report["target"]
        targets.add(target)
        # (A build from before `stats` has none: its queries are the server's count, direct.)
        own = report.get("stats", {})
        for key in stats:
            stats[key] += own.get(key, 0)
        max_queries = max(max_queries, own.get("queries", 0))
        per_domain.append(own.get("queries", 0))
        found = [f["code"] for f in report["findings"]]
        # Facts (info) are no error of the run: the synthetic zones are not DNSSEC-signed.
        for finding in report["findings"]:
            if finding["severity"] != "info":
                codes[finding["code"]] = codes.get(finding["code"], 0) + 1
        dead = dead_every and number(target) % dead_every == 0
        if dead and (not report["incomplete"] or any(c.endswith((".missing", ".not-found")) for c in found)):
            problems.append(f"{target}: dead but {'complete' if not report['incomplete'] else found}")
        if not dead and report["incomplete"]:
            problems.append(f"{target}: live but incomplete ({[u['area'] for u in report['unknown']]})")
    expected = {l.strip() for l in open(f"{d}/domains.txt") if l.strip()}
    if len(lines) != n or targets != expected:
        sys.exit(f"output: {len(lines)} lines, {len(targets)} distinct targets; expected {n}")
    verdict = "ok" if not codes else "findings " + ", ".join(f"{c} x{k}" for c, k in sorted(codes.items()))
    if problems:
        verdict += f"; {len(problems)} WRONG: " + "; ".join(problems[:5])
    queries = stats["queries"] or server_queries
else:
    data = json.load(open(f"{d}/checkdmarc.json"))
    data = data if isinstance(data, list) else [data]
    if len(data) != n:
        sys.exit(f"checkdmarc: {len(data)} results, expected {n}")
    verdict = "ok"
    queries = server_queries
row = {
    "tool": tool, "via": via, "dead_every": dead_every, "domains": n, "delay_ms": delay,
    "concurrency": conc, "wall_s": round(wall, 2), "domains_per_s": round(n / wall, 3),
    "queries": queries, "queries_per_s": round(queries / wall),
    "queries_per_domain": round(queries / n, 1), "max_queries_per_domain": max_queries,
    "p50_queries_per_domain": sorted(per_domain)[len(per_domain) // 2] if per_domain else 0,
    "p99_queries_per_domain": sorted(per_domain)[len(per_domain) * 99 // 100] if per_domain else 0,
    "retries": stats["retries"], "timeouts": stats["timeouts"],
    "skipped": stats["skipped"],
    "server_queries": server_queries, "dead_queries": int(e["DEAD_QUERIES"] or 0), "tcp": int(e["TCP"] or 0),
    "peak_rss_mib": round(rss_mib, 1), "cpu_s": round(cpu, 2),
    "cpu_ms_per_domain": round(cpu * 1000 / n, 2), "server_cpu_s": round(server_cpu, 2),
    "resolver_cpu_s": round(resolver_cpu, 2), "other_cpu_s": round(other, 2),
    "udp_drops": int(e["DROPS"]), "label": label, "output": verdict,
}
if via == "unbound" and os.path.exists(f"{d}/unbound-stats.txt"):
    unbound = dict(l.strip().split("=", 1) for l in open(f"{d}/unbound-stats.txt") if "=" in l)
    for key in ("requestlist.max", "requestlist.exceeded", "requestlist.overwritten"):
        row["unbound_" + key.split(".")[1]] = round(float(unbound.get("total." + key, 0)))
    row["unbound_servfail"] = round(float(unbound.get("num.answer.rcode.SERVFAIL", 0)))
with open(f"{d}/results.jsonl", "a") as out:
    out.write(json.dumps(row) + "\n")
path = via + (f", 1 in {dead_every} dead" if dead_every else "")
print(f"{tool:10} {n:6} domains via {path}, {delay:>2} ms/answer, concurrency {conc:>7}: {wall:6.2f} s "
      f"{n / wall:7.1f} domains/s, {row['queries_per_domain']} queries/domain (max {max_queries}), "
      f"{row['queries_per_s']} queries/s, {stats['retries']} resent, {stats['timeouts']} timed out, "
      f"{stats['skipped']} skipped; server {server_queries} queries ({row['tcp']} TCP), "
      f"cpu {cpu:.2f} s ({row['cpu_ms_per_domain']} ms/domain), peak RSS {rss_mib:.1f} MiB, "
      f"server cpu {server_cpu:.2f} s, unbound cpu {resolver_cpu:.2f} s, other load {other:.2f} cpu-s, "
      f"{row['udp_drops']} UDP drops"
      + (f", unbound request list max {row['unbound_max']} (exceeded {row['unbound_exceeded']}, "
         f"overwritten {row['unbound_overwritten']}), {row['unbound_servfail']} SERVFAIL"
         if "unbound_max" in row else "")
      + f"  [{verdict[:300]}]", flush=True)
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
    local q0 s0 t0 t1 b0 b1 u0 q1 s1
    rm -f "$DIR/checkdmarc.json"
    q0=$(stat_of queries) s0=$(cpu_of "$SERVER_PID") b0=$(machine_busy) u0=$(udp_drops) t0=$(now)
    # -n and -o take several values: the domain file comes first, -n last.
    /usr/bin/time -v -o "$DIR/time.txt" "$VENV/bin/checkdmarc" "$DIR/domains.txt" -t 2 \
        -o "$DIR/checkdmarc.json" -n "$ADDR" 2>"$DIR/checkdmarc.err" || true
    t1=$(now) b1=$(machine_busy)
    sleep 0.3
    q1=$(stat_of queries) s1=$(cpu_of "$SERVER_PID") TCP=$(stat_of tcp) DEAD_QUERIES=0
    stop_server
    VIA=direct TOOL=checkdmarc N=$n DELAY=$delay CONC=- T0=$t0 T1=$t1 QUERIES=$((q1 - q0)) \
        SERVER_CPU=$(minus "$s1" "$s0") RESOLVER_CPU=0 LABEL= BUSY=$(minus "$b1" "$b0") \
        DROPS=$(($(udp_drops) - u0)) summarize
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

# dead N DELAY_MS [TIMES]: the same N domains all live, then with every 10th dead, alternated,
# at the default concurrency.
dead() {
    local n=$1 delay=$2 times=${3:-1} saved=$DEAD_EVERY
    for _ in $(seq "$times"); do
        DEAD_EVERY=0 run "$n" "$delay" "" live
        DEAD_EVERY=10 run "$n" "$delay" "" dead
    done
    DEAD_EVERY=$saved
}

# nodkim N: N domains without any DKIM key (_domainkey NXDOMAIN): the queries each one costs.
nodkim() {
    SERVER_EXTRA=(--no-dkim)
    run "$1" 20 "" nodkim
    SERVER_EXTRA=()
}

# The medians of results.jsonl, one row per (tool, path, dead, domains, delay, concurrency).
medians() {
    python3 - "$DIR/results.jsonl" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for r in rows:
    key = (r["tool"], r.get("via", "direct"), r.get("dead_every", 0), r["domains"], r["delay_ms"],
           r["concurrency"], r.get("label", ""))
    groups.setdefault(key, []).append(r)
print("| tool | run | via | dead | domains | ms/answer | concurrency | runs | wall s | domains/s "
      "| queries/domain | queries/s | resent | timed out | skipped | CPU ms/domain "
      "| peak RSS MiB | server CPU s | unbound CPU s | other load CPU s |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
med = lambda rs, k: statistics.median(r.get(k) or 0 for r in rs)
for (tool, via, dead, n, delay, conc, label), rs in groups.items():
    print(f"| {tool} | {label or '-'} | {via} | {f'1 in {dead}' if dead else '-'} | {n} | {delay} | {conc} | {len(rs)} "
          f"| {med(rs, 'wall_s'):.2f} | {med(rs, 'domains_per_s'):.1f} | {med(rs, 'queries_per_domain'):.1f} "
          f"| {med(rs, 'queries_per_s'):.0f} | {med(rs, 'retries'):.0f} | {med(rs, 'timeouts'):.0f} "
          f"| {med(rs, 'skipped'):.0f} | {med(rs, 'cpu_ms_per_domain'):.2f} "
          f"| {max(r.get('peak_rss_mib') or 0 for r in rs):.1f} | {med(rs, 'server_cpu_s'):.1f} "
          f"| {med(rs, 'resolver_cpu_s'):.1f} | {med(rs, 'other_cpu_s'):.1f} |")
# The targets: the default within 15 % of the best --concurrency; 10 % dead within 1.3 times.
for via, delay in (("unbound", 0), ("direct", 20)):
    sweep = {c: rs for (t, v, dd, n, d, c, l), rs in groups.items()
             if t == "mailaudit" and v == via and dd == 0 and d == delay and n == 2000
             and l in ("sweep", "default")}
    if "default" in sweep and len(sweep) > 1:
        best = min((c for c in sweep if c != "default"), key=lambda c: med(sweep[c], "wall_s"))
        ratio = med(sweep["default"], "wall_s") / med(sweep[best], "wall_s")
        print(f"{via}, {delay} ms: default {med(sweep['default'], 'wall_s'):.2f} s, best fixed "
              f"--concurrency {best} {med(sweep[best], 'wall_s'):.2f} s: {ratio:.2f} times "
              f"({'within' if ratio <= 1.15 else 'NOT within'} 15 %)")
    pair = {l: rs for (t, v, dd, n, d, c, l), rs in groups.items()
            if t == "mailaudit" and v == via and d == delay and l in ("live", "dead")}
    if len(pair) == 2:
        ratio = med(pair["dead"], "wall_s") / med(pair["live"], "wall_s")
        print(f"{via}, {delay} ms: 10 % dead {med(pair['dead'], 'wall_s'):.2f} s / all live "
              f"{med(pair['live'], 'wall_s'):.2f} s = {ratio:.2f} ({'within' if ratio <= 1.3 else 'NOT within'} 1.3)")
nodkim = [r for r in rows if r.get("label") == "nodkim"]
if nodkim:
    last = nodkim[-1]
    print(f"no DKIM (_domainkey NXDOMAIN): {last['queries_per_domain']} queries/domain on average, "
          f"median {last['p50_queries_per_domain']}, 99th percentile {last['p99_queries_per_domain']}, "
          f"at most {last['max_queries_per_domain']} (the first domains also ask the names every domain "
          f"shares; {'within' if last['p99_queries_per_domain'] <= 15 else 'NOT within'} 15 at the 99th percentile)")
theirs = [r for r in rows if r["tool"] == "checkdmarc"]
ours = groups.get(("mailaudit", "direct", 0, 2000, 20, "default", "default"))
if ours and theirs:
    rate = statistics.median(r["domains_per_s"] for r in theirs)
    print(f"ratio at 20 ms/answer, mailaudit default concurrency: {med(ours, 'domains_per_s'):.1f} / "
          f"checkdmarc {rate:.3f} domains/s = {med(ours, 'domains_per_s') / rate:.0f}x")
PY
}

suite() {
    rm -f "$DIR/results.jsonl"
    echo "# $(date -u +%FT%TZ)  $(nproc) cores  $("$MAILAUDIT" --version)  unbound $(unbound -V | sed -n 's/^Version //p')  load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "## 1. unbound (one thread) between mailaudit and the server, 2,000 domains: default, then fixed ceilings"
    for _ in $(seq "$REPEAT"); do
        VIA=unbound run 2000 0 "" default
        for c in 64 128 256 512; do VIA=unbound run 2000 0 "$c" sweep; done
    done
    echo "## 2. the 20 ms path (the server asked directly), 2,000 domains: default, then fixed ceilings"
    for _ in $(seq "$REPEAT"); do
        run 2000 20 "" default
        for c in 64 128 256 512; do run 2000 20 "$c" sweep; done
    done
    echo "## 3. every 10th domain dead, against all live, default concurrency"
    VIA=unbound dead 2000 0 "$REPEAT"
    dead 2000 20 "$REPEAT"
    echo "## 4. domains without DKIM (_domainkey NXDOMAIN): queries per domain"
    nodkim 200
    echo "## 5. checkdmarc on the same server, 20 ms per answer (50 domains: over a second each)"
    checkdmarc_run 50 20
    echo "## 6. 10,000 domains through --format jsonl: peak memory"
    run 10000 20 "" stream
    echo "## 7. 100 hostile domains (bloat.test's records), 20 ms per answer: peak memory"
    hostile 100
    echo "## medians"
    medians
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

usage() { sed -n '2,14p' "$0" >&2; exit 2; }

command=${1:-suite}
[ $# -gt 0 ] && shift
case "$command" in run | sweep | checkdmarc | dead) [ $# -ge 2 ] || usage ;; profile | hostile | nodkim) [ $# -ge 1 ] || usage ;; esac
case "$command" in
suite) suite ;;
run) run "$1" "$2" "${3:-}" "${4:-manual}" ;;
sweep)
    n=$1 delay=$2
    shift 2
    for c in "$@"; do run "$n" "$delay" "$c" sweep; done
    ;;
dead) dead "$1" "$2" "${3:-1}" ;;
nodkim) nodkim "$1" ;;
checkdmarc) checkdmarc_run "$1" "$2" ;;
profile) profile "$1" "${2:-}" ;;
hostile) hostile "$1" "${2:-}" ;;
medians) medians ;;
*) usage ;;
esac
