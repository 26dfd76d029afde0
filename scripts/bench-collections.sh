#!/usr/bin/env bash
# Collections throughput, Shoal vs redis-server, side by side in one run,
# alternating.
#
# Builds release, starts `shoal server` and `redis-server` (--save "" --appendonly no)
# on loopback, loads a 10-field hash and a 100,000-member sorted set into each, then runs
# redis-benchmark (-c 50, -n N) ROUNDS times, alternating targets test by test, at -P 1
# and -P 16:
# LPUSH, RPOP, LRANGE_100, SADD, SPOP, HSET, ZADD (built-in tests), HGETALL on the
# 10-field hash, ZRANGE 0 99 WITHSCORES and ZRANK of random members on the 100,000-member
# sorted set. Prints median ops/s per test, the ratio shoal/redis, and the lowest ratio.
#
# Usage: scripts/bench-collections.sh [N=200000] [ROUNDS=3]
# Needs: redis-server, redis-benchmark, redis-cli (Debian: redis-server redis-tools), python3.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-200000}
ROUNDS=${2:-3}
SHOAL_PORT=${SHOAL_PORT:-26381}
REDIS_PORT=${REDIS_PORT:-26382}
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

python3 - "$work/load.resp" <<'PY'
import random, sys
random.seed(7)
def cmd(*args):
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
with open(sys.argv[1], "wb") as f:
    f.write(cmd("HSET", "h10", *sum(([f"field:{i}", "v" * 10] for i in range(10)), [])))
    for start in range(0, 100_000, 1000):
        pairs = []
        for i in range(start, start + 1000):
            pairs += [repr(random.random() * 1000), f"member:{i:012d}"]  # redis-benchmark pads __rand_int__ to 12 digits
        f.write(cmd("ZADD", "z100k", *pairs))
PY
for port in "$SHOAL_PORT" "$REDIS_PORT"; do
  redis-cli -p "$port" --pipe <"$work/load.resp" >/dev/null
  [ "$(redis-cli -p "$port" zcard z100k)" = 100000 ] || { echo "load failed on $port"; exit 1; }
done

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)  N=$N rounds=$ROUNDS"
bench() { # target pipeline round args...
  local target=$1 pipeline=$2 round=$3; shift 3
  local port=$SHOAL_PORT; [ "$target" = redis ] && port=$REDIS_PORT
  redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n "$N" -P "$pipeline" -r 100000 -q --csv "$@" \
    | grep -v '^"test"' | sed "s/^/$target,$pipeline,$round,/" >>"$work/results.csv"
}
# Shoal and Redis alternate test by test, and take turns going first, so
# the two runs compared are seconds apart and drift on a shared machine
# falls on both alike.
tests=(
  "-t lpush" "-t rpop" "-t lrange_100" "-t sadd" "-t spop" "-t hset" "-t zadd"
  "hgetall h10" "zrange z100k 0 99 withscores" "zrank z100k member:__rand_int__"
)
for round in $(seq "$ROUNDS"); do
  for pipeline in 1 16; do
    for test in "${tests[@]}"; do
      order="shoal redis"; [ $((round % 2)) = 0 ] && order="redis shoal"
      for target in $order; do
        # shellcheck disable=SC2086 # the test is its words
        bench $target $pipeline $round $test
      done
    done
  done
done

python3 - "$work/results.csv" <<'PY'
import csv, statistics, sys
rows = {}
for target, pipeline, _round, test, rps, *_ in csv.reader(open(sys.argv[1])):
    if "needed to benchmark" in test:
        continue  # LRANGE's own fill, not the LPUSH test
    test = test.split(" (")[0][:34]
    rows.setdefault((test, pipeline), {}).setdefault(target, []).append(float(rps))
print(f"{'test':<36}{'-P':>4}{'shoal ops/s':>14}{'redis ops/s':>14}{'ratio':>8}")
worst = None
for (test, pipeline), by in sorted(rows.items(), key=lambda kv: (int(kv[0][1]), kv[0][0])):
    s, r = statistics.median(by["shoal"]), statistics.median(by["redis"])
    ratio = s / r
    worst = ratio if worst is None else min(worst, ratio)
    print(f"{test:<36}{pipeline:>4}{s:>14.0f}{r:>14.0f}{ratio:>8.2f}")
print(f"lowest throughput ratio shoal/redis: {worst:.2f}")
PY
