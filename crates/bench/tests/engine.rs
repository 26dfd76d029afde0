//! The generator against the in-test server: exact counts, open-loop
//! latency under a stall, ramp-up, failures, compare, and the outputs.

mod support;

use std::time::{Duration, Instant};

use shoal_bench::{compare, html, run, BenchError, CommandSpec, Comparison, Config, Side, Stop};
use support::{Behaviour, TestServer};

fn config(server: &TestServer, seed: u64) -> Config {
    println!("seed {seed}");
    let mut c = Config::new(server.target());
    c.seed = seed;
    c.clients_per_thread = 5;
    c.stop = Stop::Requests(1_000);
    c
}

#[test]
fn request_counts_are_exact() {
    let server = TestServer::start(Behaviour::default());
    let mut c = config(&server, 11);
    c.threads = 2;
    c.pipeline = 4;
    c.commands = CommandSpec::set_get(1, 3);
    // Not a multiple of the connection count, nor of the cycle length.
    c.stop = Stop::Requests(10_007);
    let report = run(&c, &mut |_| {}).expect("run");
    assert_eq!(report.requests, 10_007);
    assert_eq!(server.total(), 10_007);
    assert_eq!(report.commands[0].name, "SET");
    assert_eq!(report.commands[0].requests, server.count("SET"));
    assert_eq!(report.commands[1].requests, server.count("GET"));
    assert_eq!(report.errors, 0);
    assert_eq!(report.hits + report.misses, server.count("GET"));
    // Every connection carries its share: 10 connections, 10_007 requests.
    server.with_stats(|s| {
        let mut shares: Vec<u64> = s.per_connection.values().copied().collect();
        shares.sort_unstable();
        assert_eq!(
            shares,
            [1000, 1000, 1000, 1001, 1001, 1001, 1001, 1001, 1001, 1001]
        );
    });
}

#[test]
fn timed_runs_wait_for_every_reply() {
    let server = TestServer::start(Behaviour::default());
    let mut c = config(&server, 12);
    c.stop = Stop::Duration(Duration::from_millis(300));
    c.pipeline = 8;
    let report = run(&c, &mut |_| {}).expect("run");
    assert!(report.requests > 0);
    assert_eq!(report.requests, server.total());
    assert_eq!(report.unanswered, 0);
}

#[test]
fn verify_checks_values_and_custom_commands_count_errors() {
    let server = TestServer::start(Behaviour::default());
    let mut c = config(&server, 13);
    c.verify = true;
    c.data_size = "1-300".parse().unwrap();
    c.keys.maximum = 50;
    c.commands = vec![
        CommandSpec::parse("SET __key__ __data__", 1).unwrap(),
        CommandSpec::parse("GET __key__", 1).unwrap(),
        CommandSpec::parse("FAIL __key__", 1).unwrap(),
        CommandSpec::parse("LRANGE l:__key__ 0 -1", 1).unwrap(),
    ];
    c.stop = Stop::Requests(4_000);
    let report = run(&c, &mut |_| {}).expect("run");
    let by_name = |n: &str| report.commands.iter().find(|c| c.name == n).unwrap();
    assert_eq!(by_name("GET").errors, 0, "{:?}", by_name("GET").first_error);
    assert!(by_name("GET").hits > 0);
    assert_eq!(by_name("FAIL").errors, 1_000);
    assert_eq!(
        by_name("FAIL").first_error.as_deref(),
        Some("ERR failing on purpose")
    );
    assert_eq!(by_name("LRANGE").hits, 1_000);
    assert_eq!(report.errors, 1_000);
    assert!((report.error_rate() - 0.25).abs() < 1e-9);
}

#[test]
fn verify_catches_a_wrong_value() {
    let server = TestServer::start(Behaviour::default());
    // First write values that --verify did not produce, then read them
    // back under --verify: every hit must be flagged.
    let mut c = config(&server, 14);
    c.keys.maximum = 20;
    c.commands = CommandSpec::set_get(1, 0);
    c.stop = Stop::Requests(500);
    run(&c, &mut |_| {}).expect("writes");
    c.verify = true;
    c.commands = CommandSpec::set_get(0, 1);
    let report = run(&c, &mut |_| {}).expect("reads");
    assert_eq!(report.commands[0].hits, 500);
    assert_eq!(report.commands[0].verify_failures, 500);
}

#[test]
fn open_loop_charges_a_stall_to_every_request_it_delayed() {
    // The server holds every connection for 200 ms at its 100th command.
    // At 1000 requests/s for 1 s, the ~50 requests intended in the first
    // 50 ms of the stall each wait at least 150 ms: 5% of all requests,
    // so p99 must be at least 150 ms. (A closed-loop generator would
    // record only the 10 requests in flight: 1%.) Latency can only grow
    // on a slow machine, so this bound cannot flake that way.
    let stall = Duration::from_millis(200);
    let server = TestServer::start(Behaviour {
        stall_at: Some((100, stall)),
        ..Behaviour::default()
    });
    let mut c = config(&server, 15);
    c.clients_per_thread = 10;
    c.rate_per_sec = Some(1_000.0);
    c.stop = Stop::Duration(Duration::from_secs(1));
    let report = run(&c, &mut |_| {}).expect("run");
    assert_eq!(report.mode, "open");
    assert!(
        report.latency.max_ms >= 199.0,
        "max {} ms",
        report.latency.max_ms
    );
    assert!(
        report.latency.p99_ms >= 150.0,
        "p99 {} ms",
        report.latency.p99_ms
    );
    assert!(report.requests <= 1_000, "{} requests", report.requests);
}

#[test]
fn ramp_up_starts_clients_in_steps() {
    let server = TestServer::start(Behaviour::default());
    let mut c = config(&server, 16);
    c.threads = 2;
    c.clients_per_thread = 3;
    let step = Duration::from_millis(500);
    c.ramp_up = Some(shoal_bench::RampUp {
        steps: vec![2, 6],
        step,
    });
    c.stop = Stop::Duration(Duration::from_millis(800));
    let before = Instant::now();
    let report = run(&c, &mut |_| {}).expect("run");
    assert_eq!(report.requests, server.total());
    server.with_stats(|s| {
        assert_eq!(s.first_command.len(), 6, "every client sent");
        let late = s
            .first_command
            .values()
            .filter(|t| **t >= before + step)
            .count();
        assert_eq!(late, 4, "four clients start at the second step");
    });
}

#[test]
fn a_desync_stops_the_run_with_a_clear_error() {
    let server = TestServer::start(Behaviour {
        garbage_at: Some(50),
        ..Behaviour::default()
    });
    let err = run(&config(&server, 17), &mut |_| {}).unwrap_err();
    assert!(matches!(err, BenchError::Protocol { .. }), "{err}");
    assert!(err.to_string().contains("unknown type byte"), "{err}");
}

#[test]
fn a_closed_connection_stops_the_run() {
    let server = TestServer::start(Behaviour {
        close_at: Some(30),
        ..Behaviour::default()
    });
    let err = run(&config(&server, 18), &mut |_| {}).unwrap_err();
    assert!(matches!(err, BenchError::Disconnected { .. }), "{err}");
}

#[test]
fn handshakes_auth_and_resp3() {
    let server = TestServer::start(Behaviour::default());
    let mut c = config(&server, 19);
    c.password = Some("secret".into());
    c.resp3 = true;
    let report = run(&c, &mut |_| {}).expect("run");
    assert_eq!(report.requests, 1_000);
    assert_eq!(server.count("AUTH"), 5);
    assert_eq!(server.count("HELLO"), 5);
    c.password = Some("wrong".into());
    let err = run(&c, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("WRONGPASS"), "{err}");
}

#[test]
fn unreachable_servers_fail_fast() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = Config::new(shoal_bench::Target {
        host: "127.0.0.1".into(),
        port,
    });
    c.threads = 2;
    let err = run(&c, &mut |_| {}).unwrap_err();
    assert!(matches!(err, BenchError::Connect { .. }), "{err}");
}

#[test]
fn connections_spread_over_servers() {
    let a = TestServer::start(Behaviour::default());
    let b = TestServer::start(Behaviour::default());
    let mut c = config(&a, 20);
    c.targets.push(b.target());
    c.clients_per_thread = 4;
    c.stop = Stop::Requests(400);
    run(&c, &mut |_| {}).expect("run");
    assert_eq!(a.total(), 200);
    assert_eq!(b.total(), 200);
}

#[test]
fn compare_alternates_and_computes_ratios() {
    let a = TestServer::start(Behaviour::default());
    let b = TestServer::start(Behaviour::default());
    let c = config(&a, 21);
    let mut seen = Vec::new();
    let cmp = compare(&c, vec![b.target()], 3, &mut |side, round, _| {
        seen.push((side, round))
    })
    .expect("compare");
    assert_eq!(
        cmp.order,
        [Side::A, Side::B, Side::A, Side::B, Side::A, Side::B]
    );
    assert_eq!(a.total(), 3_000);
    assert_eq!(b.total(), 3_000);
    assert_eq!(cmp.a.len(), 3);
    assert!(cmp.a.iter().all(|r| r.target == a.target().to_string()));
    assert!(cmp.b.iter().all(|r| r.target == b.target().to_string()));

    // The arithmetic, on known values: medians 200 and 100, ratio 2.
    let mut ra = cmp.a.clone();
    let mut rb = cmp.b.clone();
    for (r, v) in ra.iter_mut().zip([100.0, 300.0, 200.0]) {
        r.ops_per_sec = v;
    }
    for (r, v) in rb.iter_mut().zip([50.0, 100.0, 400.0]) {
        r.ops_per_sec = v;
        r.latency.p99_ms = 0.0;
    }
    let fixed = Comparison::from_reports(cmp.order.clone(), ra, rb);
    let ops = fixed
        .figures
        .iter()
        .find(|f| f.name == "ops_per_sec")
        .unwrap();
    assert_eq!(
        (ops.a_median, ops.b_median, ops.ratio),
        (200.0, 100.0, Some(2.0))
    );
    assert!(ops.higher_is_better);
    let p99 = fixed.figures.iter().find(|f| f.name == "p99_ms").unwrap();
    assert_eq!(p99.ratio, None, "B's median is zero");
    assert!(fixed.table().contains("2.000"));
}

#[test]
fn json_has_the_documented_fields_and_series() {
    let server = TestServer::start(Behaviour::default());
    let mut c = config(&server, 22);
    c.stop = Stop::Duration(Duration::from_millis(1_300));
    c.rate_per_sec = Some(2_000.0);
    let mut seconds = Vec::new();
    let report = run(&c, &mut |s| seconds.push(s.second)).expect("run");
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    for field in [
        "ops_per_sec",
        "p50_ms",
        "p90_ms",
        "p99_ms",
        "p999_ms",
        "max_ms",
        "errors",
    ] {
        assert!(v[field].is_number(), "{field} missing in {v}");
    }
    let series = v["series"].as_array().expect("series");
    assert_eq!(series.len(), 2, "two seconds of replies");
    assert!(series
        .iter()
        .all(|s| s["ops"].is_u64() && s["p99_ms"].is_number()));
    let total: u64 = series.iter().map(|s| s["ops"].as_u64().unwrap()).sum();
    assert_eq!(total, report.requests);
    let commands = v["commands"].as_array().expect("commands");
    assert_eq!(commands.len(), 2);
    assert!(commands
        .iter()
        .all(|c| c["ops_per_sec"].is_number() && c["p99_ms"].is_number()));
    assert!(!v["distribution"].as_array().unwrap().is_empty());
    // The progress callback saw the first second while the run went on.
    assert_eq!(seconds.first(), Some(&0));
}

/// Checks that every opened tag is closed in order, ignoring `<!…>` and
/// self-closing tags: the HTML is written to be well-formed XML inside.
fn check_balanced(html: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("unterminated tag") + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
        } else {
            let name = tag.split_whitespace().next().expect("tag name");
            stack.push(name.to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed tags {stack:?}");
}

#[test]
fn html_is_self_contained_and_well_formed() {
    let server = TestServer::start(Behaviour::default());
    let mut c = config(&server, 23);
    c.stop = Stop::Duration(Duration::from_millis(1_200));
    c.rate_per_sec = Some(1_000.0);
    let report = run(&c, &mut |_| {}).expect("run");
    let page = html::render(&report);
    check_balanced(&page);
    assert_eq!(
        page.matches("<svg").count(),
        3,
        "throughput, latency over time, distribution"
    );
    assert!(page.contains("Throughput") && page.contains("percentile spectrum"));
    for external in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!page.contains(external), "found {external}");
    }
    // One polyline point per second for the total throughput.
    assert!(page.contains("<polyline"));

    let b = TestServer::start(Behaviour::default());
    c.stop = Stop::Requests(500);
    c.rate_per_sec = None;
    let cmp = compare(&c, vec![b.target()], 1, &mut |_, _, _| {}).expect("compare");
    let page = html::render_comparison(&cmp);
    check_balanced(&page);
    assert_eq!(page.matches("<svg").count(), 6);
}
