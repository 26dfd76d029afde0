//! Prometheus text exposition at `/metrics` (`--metrics-port P`).
//!
//! The figures are the ones the server keeps anyway for INFO — per-command
//! calls, failures and a latency histogram (under the store lock, so
//! recording costs no atomics), connection counters, keys per database —
//! rendered when scraped. Nothing is recorded twice.

use std::convert::Infallible;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use tokio::net::TcpListener;

use crate::commands::table;
use crate::{info, CommandStats, Shared};

/// Upper bounds of the command latency buckets, in microseconds; a last
/// bucket counts everything slower. From "as fast as a hash lookup" to
/// "someone ran KEYS on a big database".
pub(crate) const LATENCY_BUCKETS_US: [u64; 16] = [
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000, 1_000_000,
];
pub(crate) const LATENCY_BUCKETS: usize = LATENCY_BUCKETS_US.len() + 1;

pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(respond(&req, &shared)) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

fn respond(req: &Request<hyper::body::Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        let mut not_found = Response::new(Full::new(Bytes::from_static(b"try /metrics\n")));
        *not_found.status_mut() = StatusCode::NOT_FOUND;
        return not_found;
    }
    let mut response = Response::new(Full::new(Bytes::from(render(shared))));
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Renders every metric in the Prometheus text format.
pub(crate) fn render(shared: &Shared) -> String {
    let mut out = String::with_capacity(16 * 1024);
    // Copy what is needed under the lock, render after releasing it.
    let (commands, errors, keyspace, expired, hits, misses, net_in, net_out) = {
        let engine = shared.engine.lock();
        let keyspace: Vec<(usize, usize, usize)> = engine
            .store
            .dbs
            .iter()
            .enumerate()
            .filter(|(_, db)| !db.is_empty())
            .map(|(i, db)| (i, db.len(), db.expires.len()))
            .collect();
        let s = &engine.store.stats;
        (
            engine.stats.commands.clone(),
            engine.stats.errors.clone(),
            keyspace,
            s.expired_keys,
            s.keyspace_hits,
            s.keyspace_misses,
            engine.stats.net_input_bytes,
            engine.stats.net_output_bytes,
        )
    };

    type Field = fn(&CommandStats) -> u64;
    let per_command: [(&str, &str, Field); 3] = [
        (
            "shoal_commands_total",
            "Commands executed, by command.",
            |s| s.calls,
        ),
        (
            "shoal_commands_failed_total",
            "Commands that replied with an error while executing.",
            |s| s.failed,
        ),
        (
            "shoal_commands_rejected_total",
            "Commands refused before executing (arity, authentication, memory).",
            |s| s.rejected,
        ),
    ];
    for (name, help, field) in per_command {
        family(&mut out, name, "counter", help);
        for (cmd, s) in table().iter().zip(&commands).filter(|(_, s)| field(s) > 0) {
            let _ = writeln!(out, "{name}{{cmd=\"{}\"}} {}", cmd.spec.name, field(s));
        }
    }
    family(
        &mut out,
        "shoal_command_duration_seconds",
        "histogram",
        "Time to execute a command, by command.",
    );
    for (cmd, s) in table().iter().zip(&commands).filter(|(_, s)| s.calls > 0) {
        let mut cumulative = 0;
        for (i, count) in s.latency.iter().enumerate() {
            cumulative += count;
            let le = match LATENCY_BUCKETS_US.get(i) {
                Some(us) => format!("{}", *us as f64 / 1e6),
                None => "+Inf".to_string(),
            };
            let _ = writeln!(
                out,
                "shoal_command_duration_seconds_bucket{{cmd=\"{}\",le=\"{le}\"}} {cumulative}",
                cmd.spec.name
            );
        }
        let _ = writeln!(
            out,
            "shoal_command_duration_seconds_sum{{cmd=\"{}\"}} {}",
            cmd.spec.name,
            s.usec as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "shoal_command_duration_seconds_count{{cmd=\"{}\"}} {}",
            cmd.spec.name, s.calls
        );
    }
    family(
        &mut out,
        "shoal_errors_total",
        "counter",
        "Error replies, by error code.",
    );
    let mut codes: Vec<_> = errors.into_iter().collect();
    codes.sort();
    for (code, n) in codes {
        let code: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let _ = writeln!(out, "shoal_errors_total{{code=\"{code}\"}} {n}");
    }
    family(&mut out, "shoal_keys", "gauge", "Keys per database.");
    for (db, keys, _) in &keyspace {
        let _ = writeln!(out, "shoal_keys{{db=\"{db}\"}} {keys}");
    }
    family(
        &mut out,
        "shoal_keys_with_expiry",
        "gauge",
        "Keys with a TTL per database.",
    );
    for (db, _, expires) in &keyspace {
        let _ = writeln!(out, "shoal_keys_with_expiry{{db=\"{db}\"}} {expires}");
    }
    let stats = &shared.stats;
    let simple: [(&str, &str, &str, u64); 9] = [
        (
            "shoal_expired_keys_total",
            "counter",
            "Keys deleted because their TTL passed.",
            expired,
        ),
        (
            "shoal_keyspace_hits_total",
            "counter",
            "Reads that found their key.",
            hits,
        ),
        (
            "shoal_keyspace_misses_total",
            "counter",
            "Reads that did not find their key.",
            misses,
        ),
        (
            "shoal_connected_clients",
            "gauge",
            "Open client connections.",
            shared.clients.lock().len() as u64,
        ),
        (
            "shoal_connections_received_total",
            "counter",
            "Connections accepted.",
            stats.connections_received.load(Ordering::Relaxed),
        ),
        (
            "shoal_connections_rejected_total",
            "counter",
            "Connections refused (maxclients, protected mode).",
            stats.rejected_connections.load(Ordering::Relaxed),
        ),
        (
            "shoal_net_input_bytes_total",
            "counter",
            "Bytes read from clients.",
            net_in,
        ),
        (
            "shoal_net_output_bytes_total",
            "counter",
            "Bytes written to clients.",
            net_out,
        ),
        (
            "shoal_memory_rss_bytes",
            "gauge",
            "Resident set size of the server process.",
            info::rss_bytes(),
        ),
    ];
    for (name, kind, help, value) in simple {
        family(&mut out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    family(
        &mut out,
        "shoal_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    let _ = writeln!(
        out,
        "shoal_uptime_seconds {}",
        shared.started.elapsed().as_secs_f64()
    );
    out
}
