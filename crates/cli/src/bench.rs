//! `shoal bench`: flags → [`shoal_bench::Config`], then run or compare,
//! print the table, write `--json` / `--html`, and fail when errors exceed
//! `--max-error-rate`. All the logic lives in `shoal-bench`.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use shoal_bench::{
    html, parse_duration, parse_ratio, CommandSpec, Config, DataSize, KeyPattern, KeySpace,
    ProgressLine, RampUp, Report, Stop, Target,
};

/// Boxed so the `shoal` subcommand enum stays small: bench has many flags
/// and the others few (clippy's `large_enum_variant`).
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  shoal bench --port 6379 --ratio 1:1 -n 1000000 -P 16
  shoal bench --rate 20000 --test-time 30s --json run.json --html run.html
  shoal bench --key-prefix \"\" --command \"ZADD lb __key__ m__key__\" --key-pattern Z
  shoal bench --port 6380 --compare 127.0.0.1:6379 --rounds 5 --test-time 10s")]
pub(crate) struct Args {
    #[command(flatten)]
    options: Box<Options>,
}

#[derive(clap::Args)]
struct Options {
    /// Server host; repeat to spread connections over several servers.
    #[arg(short = 's', long = "host", default_value = "127.0.0.1")]
    hosts: Vec<String>,
    /// Server port; one per --host, or one for all.
    #[arg(short = 'p', long = "port", default_value = "6379")]
    ports: Vec<u16>,
    /// Servers as HOST:PORT,HOST:PORT (instead of --host/--port).
    #[arg(long, value_delimiter = ',')]
    servers: Vec<Target>,
    /// Password sent with AUTH on each connection.
    #[arg(short = 'a', long)]
    password: Option<String>,
    /// Speak RESP3 (HELLO 3 on each connection).
    #[arg(long)]
    resp3: bool,
    /// Worker threads, each with its own event loop.
    #[arg(short = 't', long, default_value_t = 1)]
    threads: usize,
    /// Connections per thread.
    #[arg(short = 'c', long, default_value_t = 50)]
    clients: usize,
    /// Total requests over all connections (default 100000 unless --test-time).
    #[arg(short = 'n', long, conflicts_with = "test_time")]
    requests: Option<u64>,
    /// Run for this long instead (e.g. 30s, 2m).
    #[arg(long, value_parser = parse_duration)]
    test_time: Option<std::time::Duration>,
    /// Requests in flight per connection.
    #[arg(short = 'P', long, default_value_t = 1)]
    pipeline: usize,
    /// SET:GET ratio (ignored when --command is given).
    #[arg(long, default_value = "1:10", value_parser = parse_ratio)]
    ratio: (u32, u32),
    /// Any command, with __key__ and __data__ placeholders; repeatable.
    #[arg(long = "command")]
    commands: Vec<String>,
    /// Weight of each --command, in order (default 1 each).
    #[arg(long = "command-ratio")]
    command_ratios: Vec<u32>,
    /// Value size in bytes: N or MIN-MAX.
    #[arg(short = 'd', long, default_value = "32")]
    data_size: DataSize,
    /// Key pattern: R random, S sequential, G gaussian, Z zipf.
    #[arg(long, default_value = "R")]
    key_pattern: KeyPattern,
    /// Prefix of every key.
    #[arg(long, default_value = "key:")]
    key_prefix: String,
    /// Smallest key number.
    #[arg(long, default_value_t = 0)]
    key_minimum: u64,
    /// Largest key number.
    #[arg(long, default_value_t = 99_999)]
    key_maximum: u64,
    /// Zipf exponent for --key-pattern Z.
    #[arg(long, default_value_t = 0.99)]
    key_zipf_exp: f64,
    /// Seed of every random choice (default: from the clock, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Open loop: this many requests per second in total, latency measured
    /// from each request's intended send time.
    #[arg(long)]
    rate: Option<f64>,
    /// Client steps, e.g. 10,50,100@30s (needs threads x clients >= last).
    #[arg(long)]
    ramp_up: Option<RampUp>,
    /// Values derived from keys; GET replies checked against them.
    #[arg(long)]
    verify: bool,
    /// Exit non-zero when errors / requests exceeds this.
    #[arg(long, default_value_t = 0.0)]
    max_error_rate: f64,
    /// Write the report as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write a self-contained HTML report with charts.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Run the same workload against HOST:PORT too, alternating.
    #[arg(long)]
    compare: Option<Target>,
    /// Rounds per side with --compare.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// No live progress line.
    #[arg(long)]
    no_progress: bool,
}

fn targets(args: &Options) -> anyhow::Result<Vec<Target>> {
    if !args.servers.is_empty() {
        return Ok(args.servers.clone());
    }
    let ports = &args.ports;
    if ports.len() != 1 && ports.len() != args.hosts.len() {
        bail!("give one --port, or one per --host");
    }
    Ok(args
        .hosts
        .iter()
        .enumerate()
        .map(|(i, host)| Target {
            host: host.clone(),
            port: if ports.len() == 1 { ports[0] } else { ports[i] },
        })
        .collect())
}

fn config(args: &Options) -> anyhow::Result<Config> {
    let mut targets = targets(args)?;
    let mut c = Config::new(targets.remove(0));
    c.targets.extend(targets);
    c.password.clone_from(&args.password);
    c.resp3 = args.resp3;
    c.threads = args.threads;
    c.clients_per_thread = args.clients;
    c.stop = match (args.requests, args.test_time) {
        (_, Some(d)) => Stop::Duration(d),
        (Some(n), None) => Stop::Requests(n),
        (None, None) => Stop::Requests(100_000),
    };
    c.pipeline = args.pipeline;
    c.commands = if args.commands.is_empty() {
        CommandSpec::set_get(args.ratio.0, args.ratio.1)
    } else {
        if args.command_ratios.len() > args.commands.len() {
            bail!("more --command-ratio than --command");
        }
        args.commands
            .iter()
            .enumerate()
            .map(|(i, t)| CommandSpec::parse(t, args.command_ratios.get(i).copied().unwrap_or(1)))
            .collect::<Result<_, _>>()?
    };
    c.keys = KeySpace {
        pattern: args.key_pattern,
        prefix: args.key_prefix.clone(),
        minimum: args.key_minimum,
        maximum: args.key_maximum,
        zipf_exponent: args.key_zipf_exp,
    };
    c.data_size = args.data_size;
    c.rate_per_sec = args.rate;
    c.ramp_up.clone_from(&args.ramp_up);
    c.seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    c.verify = args.verify;
    c.validate()?;
    Ok(c)
}

fn write_file(path: &PathBuf, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

fn check_errors(report: &Report, max: f64) -> anyhow::Result<()> {
    let rate = report.error_rate();
    if rate > max {
        bail!(
            "{}: error rate {:.6} ({} errors, {} unanswered of {} requests) exceeds --max-error-rate {max}",
            report.target,
            rate,
            report.errors,
            report.unanswered,
            report.requests + report.unanswered
        );
    }
    Ok(())
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let args = *args.options;
    let config = config(&args)?;
    eprintln!("seed {}", config.seed);
    if let Some(b) = &args.compare {
        if args.rounds == 0 {
            bail!("--rounds must be at least 1");
        }
        let mut line: Option<(shoal_bench::Side, usize, ProgressLine)> = None;
        let cmp = shoal_bench::compare(
            &config,
            vec![b.clone()],
            args.rounds,
            &mut |side, round, s| {
                if args.no_progress {
                    return;
                }
                if line.as_ref().map(|l| (l.0, l.1)) != Some((side, round)) {
                    if let Some((_, _, old)) = line.take() {
                        old.finish();
                    }
                    line = Some((
                        side,
                        round,
                        ProgressLine::new(&format!("{side:?} round {}", round + 1)),
                    ));
                }
                if let Some((_, _, l)) = &line {
                    l.update(s);
                }
            },
        )
        .context("comparison run failed")?;
        if let Some((_, _, l)) = line {
            l.finish();
        }
        print!("{}", cmp.table());
        if let Some(p) = &args.json {
            write_file(p, &cmp.to_json())?;
        }
        if let Some(p) = &args.html {
            write_file(p, &html::render_comparison(&cmp))?;
        }
        for r in cmp.a.iter().chain(&cmp.b) {
            check_errors(r, args.max_error_rate)?;
        }
        return Ok(());
    }
    let progress = (!args.no_progress).then(|| ProgressLine::new(&config.targets[0].to_string()));
    let report = shoal_bench::run(&config, &mut |s| {
        if let Some(p) = &progress {
            p.update(s);
        }
    })
    .context("benchmark run failed")?;
    if let Some(p) = &progress {
        p.finish();
    }
    print!("{}", report.table());
    if let Some(p) = &args.json {
        write_file(p, &report.to_json())?;
    }
    if let Some(p) = &args.html {
        write_file(p, &html::render(&report))?;
    }
    check_errors(&report, args.max_error_rate)
}
