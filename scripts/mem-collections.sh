#!/usr/bin/env bash
# Memory for collections, Shoal vs redis-server 7.0: RSS growth for
#   1. 1,000,000 hashes of 5 small fields,
#   2. 1,000,000 sets of 10 integers,
#   3. one sorted set of 1,000,000 members,
# each loaded through `redis-cli --pipe` into a freshly started server of each kind
# (so allocator state from one dataset does not leak into the next). Prints RSS after
# loading minus RSS before, per server, and the ratio shoal/redis (the goal is <= 1.00).
#
# Usage: scripts/mem-collections.sh
# Needs: redis-server, redis-cli (Debian: redis-server redis-tools), python3.
set -euo pipefail
cd "$(dirname "$0")/.."

SHOAL_PORT=${SHOAL_PORT:-26383}
REDIS_PORT=${REDIS_PORT:-26384}
work=$(mktemp -d)
shoal_pid=; redis_pid=
trap 'kill $shoal_pid $redis_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -p shoal >/dev/null 2>&1 || cargo build --release -p shoal

python3 - "$work" <<'PY'
import random, sys
random.seed(11)
def cmd(*args):
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
with open(sys.argv[1] + "/hashes.resp", "wb") as f:
    for i in range(1_000_000):
        f.write(cmd("HSET", f"hash:{i}", "name", f"user{i}", "age", str(i % 90), "city", "Seoul",
                    "score", str(i % 1000), "active", "1"))
with open(sys.argv[1] + "/sets.resp", "wb") as f:
    for i in range(1_000_000):
        f.write(cmd("SADD", f"set:{i}", *[str(random.randrange(1000)) for _ in range(10)]))
with open(sys.argv[1] + "/zset.resp", "wb") as f:
    for start in range(0, 1_000_000, 1000):
        pairs = []
        for i in range(start, start + 1000):
            pairs += [repr(random.random() * 1e6), f"member:{i}"]
        f.write(cmd("ZADD", "leaderboard", *pairs))
PY

rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
start() {
  ./target/release/shoal server --port "$SHOAL_PORT" --save "" --appendonly no --dir "$work" >"$work/shoal.log" 2>&1 &
  shoal_pid=$!
  redis-server --port "$REDIS_PORT" --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
  redis_pid=$!
  for port in "$SHOAL_PORT" "$REDIS_PORT"; do
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
}
stop() { kill "$shoal_pid" "$redis_pid"; wait "$shoal_pid" "$redis_pid" 2>/dev/null || true; }

echo "dataset,shoal_bytes,redis_bytes,ratio"
for dataset in hashes sets zset; do
  start
  base_shoal=$(rss "$shoal_pid"); base_redis=$(rss "$redis_pid")
  redis-cli -p "$SHOAL_PORT" --pipe <"$work/$dataset.resp" >/dev/null
  redis-cli -p "$REDIS_PORT" --pipe <"$work/$dataset.resp" >/dev/null
  s=$(( $(rss "$shoal_pid") - base_shoal )); r=$(( $(rss "$redis_pid") - base_redis ))
  ks=$(redis-cli -p "$SHOAL_PORT" dbsize); kr=$(redis-cli -p "$REDIS_PORT" dbsize)
  [ "$ks" = "$kr" ] || echo "warning: dbsize differs: shoal $ks redis $kr"
  python3 -c "print('$dataset,$s,$r,%.2f' % ($s / $r))"
  stop
done
