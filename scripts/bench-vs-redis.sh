#!/usr/bin/env bash
# Shoal vs redis-server, side by side in one run, alternating.
#
# Builds release, starts `shoal server` and `redis-server` (--save "" --appendonly no)
# on loopback, runs `redis-benchmark -c 50 -n N -q --csv` against each, alternating
# test by test ROUNDS times, for SET, GET, INCR, MSET (10 keys) at -P 1 and -P 16, and prints the
# median ops/s of each, the ratio shoal/redis, and p50/p99 latency ratios
# (redis/shoal, so > 1.0 means Shoal is faster there too). Then loads 1,000,000 keys
# with 100-byte values into each and prints the RSS ratio.
#
# Usage: scripts/bench-vs-redis.sh [N=200000] [ROUNDS=3]
# Needs: redis-server, redis-benchmark, redis-cli (Debian: redis-server redis-tools), python3.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-200000}
ROUNDS=${2:-3}
SHOAL_PORT=${SHOAL_PORT:-26379}
REDIS_PORT=${REDIS_PORT:-26380}
work=$(mktemp -d)
trap 'kill $shoal_pid $redis_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -p shoal >/dev/null 2>&1 || cargo build --release -p shoal
./target/release/shoal server --port "$SHOAL_PORT" --save "" --appendonly no --dir "$work" >"$work/shoal.log" 2>&1 &
shoal_pid=$!
redis-server --port "$REDIS_PORT" --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
for port in "$SHOAL_PORT" "$REDIS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)  N=$N rounds=$ROUNDS"
# Shoal and Redis alternate test by test, and take turns going first, so
# the two runs compared are seconds apart and drift on a shared machine
# falls on both alike.
for round in $(seq "$ROUNDS"); do
  for pipeline in 1 16; do
    for test in set get incr mset; do
      order="shoal redis"; [ $((round % 2)) = 0 ] && order="redis shoal"
      for target in $order; do
        port=$SHOAL_PORT; [ "$target" = redis ] && port=$REDIS_PORT
        redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n "$N" -P "$pipeline" -q --csv -t "$test" \
          | sed "s/^/$target,$pipeline,$round,/" >>"$work/results.csv"
      done
    done
  done
done

# 1,000,000 distinct keys, 100-byte values, through redis-cli --pipe.
python3 - "$work/load.resp" <<'EOF'
import sys
value = b"v" * 100
with open(sys.argv[1], "wb") as f:
    for i in range(1_000_000):
        key = b"key:%012d" % i
        f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
EOF
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
for port in "$SHOAL_PORT" "$REDIS_PORT"; do
  redis-cli -p "$port" flushall >/dev/null
done
base_shoal=$(rss $shoal_pid); base_redis=$(rss $redis_pid)
redis-cli -p "$SHOAL_PORT" --pipe <"$work/load.resp" >/dev/null
redis-cli -p "$REDIS_PORT" --pipe <"$work/load.resp" >/dev/null
echo "rss,shoal,$(rss $shoal_pid),$(redis-cli -p "$SHOAL_PORT" dbsize)" >"$work/rss.csv"
echo "rss,redis,$(rss $redis_pid),$(redis-cli -p "$REDIS_PORT" dbsize)" >>"$work/rss.csv"

python3 - "$work/results.csv" "$work/rss.csv" <<'EOF'
import csv, statistics, sys
rows = {}
for target, pipeline, _round, test, rps, avg, mn, p50, p95, p99, mx in csv.reader(open(sys.argv[1])):
    if test == "test":
        continue
    rows.setdefault((test, pipeline), {}).setdefault(target, []).append((float(rps), float(p50), float(p99)))
print(f"{'test':<16}{'-P':>4}{'shoal ops/s':>14}{'redis ops/s':>14}{'ratio':>8}{'p50 r/s':>9}{'p99 r/s':>9}")
worst = None
for (test, pipeline), by in sorted(rows.items(), key=lambda kv: (int(kv[0][1]), kv[0][0])):
    med = {t: [statistics.median(x[i] for x in v) for i in range(3)] for t, v in by.items()}
    s, r = med["shoal"], med["redis"]
    ratio = s[0] / r[0]
    worst = ratio if worst is None else min(worst, ratio)
    p50 = r[1] / s[1] if s[1] else float("inf")
    p99 = r[2] / s[2] if s[2] else float("inf")
    print(f"{test:<16}{pipeline:>4}{s[0]:>14.0f}{r[0]:>14.0f}{ratio:>8.2f}{p50:>9.2f}{p99:>9.2f}")
print(f"lowest throughput ratio shoal/redis: {worst:.2f}")
rss = {row[1]: (int(row[2]), row[3]) for row in csv.reader(open(sys.argv[2]))}
print(f"RSS with 1,000,000 keys x 100 B: shoal {rss['shoal'][0]/2**20:.1f} MiB (dbsize {rss['shoal'][1]}), "
      f"redis {rss['redis'][0]/2**20:.1f} MiB (dbsize {rss['redis'][1]}), ratio shoal/redis {rss['shoal'][0]/rss['redis'][0]:.2f}")
EOF
