//! INFO: Redis's sections and field names, so tools that parse INFO work.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::commands::table;
use crate::{Engine, Shared};

/// The Redis version Shoal answers as: clients pick features by it.
pub(crate) const REDIS_VERSION: &str = "7.0.15";

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Resident set size from /proc, or 0 where that is not available.
pub(crate) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn cpu_seconds() -> (f64, f64) {
    // utime and stime are fields 14 and 15 of /proc/self/stat, in ticks.
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    (ticks(11), ticks(12))
}

pub(crate) fn render(shared: &Shared, engine: &Engine, requested: &[String]) -> String {
    let wanted: Vec<&str> = if requested.is_empty() || requested.iter().any(|s| s == "default") {
        DEFAULT_SECTIONS.to_vec()
    } else if requested.iter().any(|s| s == "all" || s == "everything") {
        ALL_SECTIONS.to_vec()
    } else {
        ALL_SECTIONS
            .iter()
            .copied()
            .filter(|s| requested.iter().any(|r| r == s))
            .collect()
    };
    let mut out = String::new();
    for section in wanted {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        render_section(&mut out, section, shared, engine);
    }
    out
}

fn render_section(out: &mut String, section: &str, shared: &Shared, engine: &Engine) {
    let store = &engine.store;
    let uptime = shared.started.elapsed().as_secs();
    let config = shared.config.read();
    match section {
        "server" => {
            let _ = write!(
                out,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nshoal_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nexecutable:shoal\r\nconfig_file:\r\nio_threads_active:1\r\n",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                shared.run_id,
                shared.port,
                crate::now_ms() * 1000,
                uptime / 86400,
                config.get("hz"),
                config.get("hz"),
            );
        }
        "clients" => {
            let _ = write!(
                out,
                "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:{}\r\n",
                shared.clients.lock().len(),
                config.get("maxclients"),
                engine.blocked.len() + shared.paused_clients.load(Ordering::Relaxed),
                engine.tracking.clients(),
                engine.blocked.with_deadline(),
            );
        }
        "memory" => {
            let rss = rss_bytes();
            let used = crate::used_memory_bytes();
            let _ = write!(
                out,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{:.2}M\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{:.2}M\r\nmaxmemory:{}\r\nmaxmemory_human:{:.2}M\r\nmaxmemory_policy:{}\r\nmem_allocator:{}\r\nmem_not_counted_for_evict:0\r\nlazyfree_pending_objects:{}\r\n",
                used as f64 / 1048576.0,
                rss as f64 / 1048576.0,
                config.get("maxmemory"),
                config.get_int("maxmemory") as f64 / 1048576.0,
                config.get("maxmemory-policy"),
                crate::allocator_name(),
                store.lazyfree.pending(),
            );
        }
        "persistence" => {
            let aof = &shared.aof;
            let rdb = &shared.rdb;
            let aof_on = engine.aof.enabled;
            let loading = shared.loading.active();
            let _ = write!(
                out,
                "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
                u8::from(loading),
                store.dirty,
                u8::from(rdb.in_progress.load(Ordering::Relaxed)),
                rdb.last_save_secs.load(Ordering::Relaxed),
                if rdb.last_ok.load(Ordering::Relaxed) { "ok" } else { "err" },
                rdb.last_duration_secs.load(Ordering::Relaxed),
                rdb.current_secs(),
                rdb.saves.load(Ordering::Relaxed),
                rdb.loaded_expired.load(Ordering::Relaxed),
                rdb.loaded_keys.load(Ordering::Relaxed),
                u8::from(aof_on),
                u8::from(aof.rewrite_in_progress.load(Ordering::Relaxed)),
                u8::from(aof.rewrite_scheduled.load(Ordering::Relaxed)),
                aof.last_rewrite_secs.load(Ordering::Relaxed),
                if aof.last_rewrite_ok.load(Ordering::Relaxed) { "ok" } else { "err" },
                aof.rewrites.load(Ordering::Relaxed),
                if aof.last_write_ok.load(Ordering::Relaxed) { "ok" } else { "err" },
            );
            if aof_on {
                let _ = write!(
                    out,
                    "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:{}\r\n",
                    aof.current_size.load(Ordering::Relaxed) + aof.base_size.load(Ordering::Relaxed),
                    aof.base_size.load(Ordering::Relaxed),
                    engine.aof.buffered(),
                    aof.delayed.load(Ordering::Relaxed),
                );
            }
            if loading {
                out.push_str(&shared.loading.info_fields());
            }
        }
        "stats" => {
            let s = &shared.stats;
            let _ = write!(
                out,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\ntotal_error_replies:{}\r\nlazyfreed_objects:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\n",
                s.connections_received.load(Ordering::Relaxed),
                engine.stats.processed,
                shared.ops_meter.lock().ops_per_sec(),
                engine.stats.net_input_bytes,
                engine.stats.net_output_bytes,
                s.rejected_connections.load(Ordering::Relaxed),
                engine.repl.sync_full,
                engine.repl.sync_partial_ok,
                engine.repl.sync_partial_err,
                store.stats.expired_keys,
                store.stats.evicted_keys,
                store.stats.keyspace_hits,
                store.stats.keyspace_misses,
                engine.pubsub.channel_count(),
                engine.pubsub.pattern_count(),
                engine.pubsub.shard_channel_count(),
                engine.stats.errors.values().sum::<u64>(),
                store.lazyfree.freed(),
                engine.tracking.totals().0,
                engine.tracking.totals().1,
                engine.tracking.totals().2,
            );
        }
        "replication" => {
            engine.repl.info(out, &shared.config.read());
        }
        "cpu" => {
            let (user, sys) = cpu_seconds();
            let _ = write!(
                out,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n"
            );
        }
        "modules" => out.push_str("# Modules\r\n"),
        "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            for (cmd, s) in table().iter().zip(&engine.stats.commands) {
                let (calls, rejected) = (s.calls, s.rejected);
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let usec = s.usec;
                let per_call = if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    out,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={}\r\n",
                    cmd.spec.name,
                    s.failed,
                );
            }
        }
        "errorstats" => {
            out.push_str("# Errorstats\r\n");
            let mut codes: Vec<_> = engine.stats.errors.iter().collect();
            codes.sort();
            for (code, count) in codes {
                let _ = write!(out, "errorstat_{code}:count={count}\r\n");
            }
        }
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            for (i, db) in store.dbs.iter().enumerate() {
                if db.is_empty() {
                    continue;
                }
                let _ = write!(
                    out,
                    "db{i}:keys={},expires={},avg_ttl=0\r\n",
                    db.len(),
                    db.expires.len()
                );
            }
        }
        _ => {}
    }
}
