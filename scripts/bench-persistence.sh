#!/usr/bin/env bash
# Persistence, Shoal vs redis-server, side by side in one run, alternating.
#
# 1. SET throughput (redis-benchmark -c 50) with `appendonly yes` under
#    `appendfsync always` and `everysec`: median ops/s of ROUNDS runs and the
#    ratio shoal/redis.
# 2. A snapshot of 1,000,000 keys (100-byte values) under a GET/SET load:
#    p99 latency of the load with and without a BGSAVE running, and the peak
#    memory during the snapshot relative to before it. Memory is PSS (shared
#    pages counted once), summed over the server and, for Redis, its fork
#    child, sampled every 20 ms.
#
# Usage: scripts/bench-persistence.sh [N=100000] [ROUNDS=3]
# Needs: redis-server, redis-benchmark, redis-cli (Debian: redis-server redis-tools), python3.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-100000}
ROUNDS=${2:-3}
SHOAL_PORT=${SHOAL_PORT:-26385}
REDIS_PORT=${REDIS_PORT:-26386}
work=$(mktemp -d)
shoal_pid=; redis_pid=
trap 'kill $shoal_pid $redis_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -p shoal >/dev/null 2>&1 || cargo build --release -p shoal

start() { # extra directives for both
  rm -rf "$work/s" "$work/r"; mkdir -p "$work/s" "$work/r"
  ./target/release/shoal server --port "$SHOAL_PORT" --save "" --dir "$work/s" "$@" >"$work/shoal.log" 2>&1 &
  shoal_pid=$!
  redis-server --port "$REDIS_PORT" --save "" --dir "$work/r" "$@" >"$work/redis.log" 2>&1 &
  redis_pid=$!
  for port in "$SHOAL_PORT" "$REDIS_PORT"; do
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
}
stop() { kill "$shoal_pid" "$redis_pid" 2>/dev/null || true; wait "$shoal_pid" "$redis_pid" 2>/dev/null || true; }
port_of() { [ "$1" = shoal ] && echo "$SHOAL_PORT" || echo "$REDIS_PORT"; }

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)  N=$N rounds=$ROUNDS"
: >"$work/aof.csv"
for fsync in always everysec; do
  start --appendonly yes --appendfsync "$fsync"
  for round in $(seq "$ROUNDS"); do
    for target in shoal redis; do
      redis-benchmark -h 127.0.0.1 -p "$(port_of $target)" -c 50 -n "$N" -r 100000 -t set -q --csv \
        | grep -v '^"test"' | sed "s/^/$target,$fsync,$round,/" >>"$work/aof.csv"
    done
  done
  stop
done

# Snapshot under load.
python3 - "$work/load.resp" <<'PY'
import sys
value = b"v" * 100
with open(sys.argv[1], "wb") as f:
    for i in range(1_000_000):
        key = b"key:%012d" % i
        f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
PY
pss() { # total PSS in bytes of a pid and its children
  local total=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    total=$(( total + $(awk '/^Pss:/ {print $2 * 1024}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0) ))
  done
  echo "$total"
}
: >"$work/snap.csv"
start --appendonly no
for target in shoal redis; do
  redis-cli -p "$(port_of $target)" --pipe <"$work/load.resp" >/dev/null
done
for round in $(seq "$ROUNDS"); do
  for target in shoal redis; do
    port=$(port_of $target); pid=$shoal_pid; [ $target = redis ] && pid=$redis_pid
    # Baseline p99 without a snapshot.
    base=$(redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n "$N" -r 1000000 -t get,set -q --csv \
      | grep -v '^"test"' | python3 -c 'import csv,sys; print(max(float(r[6]) for r in csv.reader(sys.stdin)))')
    before=$(pss "$pid")
    redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n $((N * 3)) -r 1000000 -t get,set -q --csv \
      | grep -v '^"test"' >"$work/during.csv" &
    bench=$!
    sleep 0.3
    redis-cli -p "$port" bgsave >/dev/null
    peak=$before
    while :; do
      now=$(pss "$pid"); [ "$now" -gt "$peak" ] && peak=$now
      [ "$(redis-cli -p "$port" info persistence | tr -d '\r' | awk -F: '/rdb_bgsave_in_progress/ {print $2}')" = 0 ] && break
      sleep 0.02
    done
    wait $bench
    during=$(python3 -c 'import csv,sys; print(max(float(r[6]) for r in csv.reader(open(sys.argv[1]))))' "$work/during.csv")
    echo "$target,$round,$base,$during,$before,$peak" >>"$work/snap.csv"
  done
done
stop

python3 - "$work/aof.csv" "$work/snap.csv" <<'PY'
import csv, statistics, sys
rows = {}
for target, fsync, _r, test, rps, *_ in csv.reader(open(sys.argv[1])):
    rows.setdefault(fsync, {}).setdefault(target, []).append(float(rps))
print(f"{'SET with the AOF':<24}{'shoal ops/s':>14}{'redis ops/s':>14}{'ratio':>8}")
for fsync, by in rows.items():
    s, r = statistics.median(by["shoal"]), statistics.median(by["redis"])
    print(f"{'appendfsync ' + fsync:<24}{s:>14.0f}{r:>14.0f}{s / r:>8.2f}")
snap = {}
for target, _r, base, during, before, peak in csv.reader(open(sys.argv[2])):
    snap.setdefault(target, []).append((float(base), float(during), int(before), int(peak)))
print(f"\n{'BGSAVE of 1M keys':<20}{'p99 ms no snapshot':>20}{'p99 ms during':>16}{'peak/before memory':>20}")
for target, v in snap.items():
    med = lambda i: statistics.median(x[i] for x in v)
    ratio = statistics.median(x[3] / x[2] for x in v)
    print(f"{target:<20}{med(0):>20.2f}{med(1):>16.2f}{ratio:>20.2f}")
PY
