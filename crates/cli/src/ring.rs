//! `shoal ring`: where keys go, and what each sharding strategy costs.
//!
//! - `locate` maps keys to servers given as twemproxy server lines; for
//!   `ketama`, `modula` and `random` it is exactly nutcracker's pool.
//! - `analyze` measures one strategy: balance, movement when a node joins or
//!   leaves, lookup time; `--json` for scripts, `--plot` for people.
//! - `compare` prints the same figures for every strategy in one table.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context};
use shoal_hashring::twemproxy::{Distribution, Pool, Server};
use shoal_hashring::{
    analyze, build, sample_keys, scenario, Algorithm, Config, HashFn, HashTag, Report,
};

/// Most keys `analyze` and `compare` generate: about 40 bytes of memory
/// each, so the bound keeps a run under ~200 MiB.
const ANALYZE_KEYS_MAX: usize = 5_000_000;

/// Per-node lines printed by `analyze` before it switches to a summary.
const NODE_LINES_MAX: usize = 32;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: RingCommand,
}

#[derive(clap::Subcommand)]
enum RingCommand {
    /// Print `KEY<TAB>server` for each key.
    Locate(LocateArgs),
    /// Balance, movement on add/remove, and lookup cost of one strategy.
    Analyze(AnalyzeArgs),
    /// One table of those figures over every strategy.
    Compare(CompareArgs),
}

#[derive(clap::Args)]
struct LocateArgs {
    /// Strategy: ketama, modula (modular), random, jump, maglev, rendezvous,
    /// bounded, range, directory, slots, codis, composite.
    #[arg(long, default_value = "ketama")]
    algo: String,
    /// Key hash, as twemproxy spells it (fnv1a_64, murmur, md5, …) or
    /// murmur3_32, murmur3_128, xxh3. Default: fnv1a_64 for ketama and
    /// modula (twemproxy's default), xxh3 otherwise.
    #[arg(long)]
    hash: Option<String>,
    /// Servers as twemproxy lines: "host:port:weight[ name],…".
    #[arg(long)]
    servers: String,
    /// twemproxy's two-character hash_tag, e.g. "{}".
    #[arg(long)]
    hash_tag: Option<String>,
    /// Range split points (one fewer than servers) or composite tenant
    /// bounds, comma-separated.
    #[arg(long)]
    splits: Option<String>,
    /// Seed for `random`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Keys to locate.
    #[arg(required = true)]
    keys: Vec<String>,
}

#[derive(clap::Args, Clone)]
struct Shape {
    /// Number of nodes before one joins or leaves.
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// Number of generated keys (`t042:000123456789`-shaped).
    #[arg(long, default_value_t = 1_000_000)]
    keys: usize,
    /// Seed for the generated keys.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Ketama / bounded points per node (160 is twemproxy's).
    #[arg(long, default_value_t = shoal_hashring::KETAMA_POINTS_DEFAULT)]
    vnodes: u32,
    /// Maglev table size (a prime).
    #[arg(long, default_value_t = shoal_hashring::MAGLEV_TABLE_SIZE_DEFAULT)]
    table_size: u64,
    /// Bounded-load ε: no node above (1 + ε) × the mean.
    #[arg(long, default_value_t = shoal_hashring::BOUNDED_EPSILON_DEFAULT)]
    epsilon: f64,
    /// Emit JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Strategy (see `locate --help`).
    #[arg(long, default_value = "ketama")]
    algo: String,
    /// Key hash (see `locate --help`).
    #[arg(long)]
    hash: Option<String>,
    #[command(flatten)]
    shape: Shape,
    /// Also draw load per node and movement as an SVG file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

#[derive(clap::Args)]
struct CompareArgs {
    #[command(flatten)]
    shape: Shape,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        RingCommand::Locate(a) => locate(a),
        RingCommand::Analyze(a) => analyze_cmd(a),
        RingCommand::Compare(a) => compare(a),
    }
}

fn parse_hash(hash: Option<&str>) -> anyhow::Result<Option<HashFn>> {
    hash.map(|h| h.parse::<HashFn>().context("--hash"))
        .transpose()
}

fn locate(a: LocateArgs) -> anyhow::Result<()> {
    let algo: Algorithm = a.algo.parse().context("--algo")?;
    let hash = parse_hash(a.hash.as_deref())?;
    let servers = Server::parse_list(&a.servers).context("--servers")?;
    if servers.is_empty() {
        bail!("--servers lists no server");
    }
    let show = |s: &Server| match &s.name {
        Some(n) => format!("{} {n}", s.address()),
        None => s.address(),
    };
    let distribution = match algo {
        Algorithm::Ketama => Some(Distribution::Ketama),
        Algorithm::Modula => Some(Distribution::Modula),
        Algorithm::Random => Some(Distribution::Random),
        _ => None,
    };
    let mut out = String::new();
    if let Some(distribution) = distribution {
        // Exactly nutcracker's pool, server order included.
        let pool = Pool::new(
            servers,
            distribution,
            hash.unwrap_or(algo.default_hash()),
            a.hash_tag.as_deref(),
            a.seed,
        )
        .context("building the pool")?;
        for key in &a.keys {
            let _ = writeln!(out, "{key}\t{}", show(pool.server_for(key.as_bytes())));
        }
    } else {
        let mut config = Config::new(algo);
        config.hash = hash;
        config.seed = a.seed;
        if let Some(tag) = &a.hash_tag {
            config.tag = HashTag::twemproxy(tag).context("--hash-tag")?;
        }
        if let Some(splits) = &a.splits {
            config.splits = splits.split(',').map(|s| s.as_bytes().to_vec()).collect();
        }
        let nodes = servers.iter().map(Server::node).collect();
        let placement = build(&config, nodes).context("building the placement")?;
        for key in &a.keys {
            let _ = writeln!(
                out,
                "{key}\t{}",
                show(&servers[placement.locate(key.as_bytes())])
            );
        }
    }
    print!("{out}");
    Ok(())
}

fn config_for(algo: Algorithm, hash: Option<HashFn>, shape: &Shape) -> Config {
    let mut config = Config::new(algo);
    config.hash = hash;
    config.points_per_weight = shape.vnodes;
    config.maglev_table_size = shape.table_size;
    config.epsilon = shape.epsilon;
    config.seed = shape.seed;
    config
}

fn check_shape(shape: &Shape) -> anyhow::Result<()> {
    if shape.keys == 0 || shape.keys > ANALYZE_KEYS_MAX {
        bail!("--keys must be in 1..={ANALYZE_KEYS_MAX}");
    }
    Ok(())
}

fn measure(config: &Config, shape: &Shape, keys: &[Vec<u8>]) -> anyhow::Result<Report> {
    let s = scenario(config, shape.nodes, keys)
        .with_context(|| format!("building {} over {} nodes", config.algorithm, shape.nodes))?;
    Ok(analyze(&s, keys))
}

fn analyze_cmd(a: AnalyzeArgs) -> anyhow::Result<()> {
    check_shape(&a.shape)?;
    let algo: Algorithm = a.algo.parse().context("--algo")?;
    let config = config_for(algo, parse_hash(a.hash.as_deref())?, &a.shape);
    let keys = sample_keys(a.shape.keys, a.shape.seed);
    let report = measure(&config, &a.shape, &keys)?;
    if a.shape.json {
        println!("{}", json(&config, &a.shape, &report, true));
    } else {
        print!("{}", text(&config, &a.shape, &report));
    }
    if let Some(path) = a.plot {
        std::fs::write(&path, svg(&config, &report))
            .with_context(|| format!("writing {}", path.display()))?;
        if !a.shape.json {
            println!("plot written to {}", path.display());
        }
    }
    Ok(())
}

fn compare(a: CompareArgs) -> anyhow::Result<()> {
    check_shape(&a.shape)?;
    let keys = sample_keys(a.shape.keys, a.shape.seed);
    let mut rows = Vec::new();
    for algo in Algorithm::ALL {
        let config = config_for(algo, None, &a.shape);
        rows.push((config.clone(), measure(&config, &a.shape, &keys)?));
    }
    if a.shape.json {
        let items: Vec<String> = rows
            .iter()
            .map(|(c, r)| json(c, &a.shape, r, false))
            .collect();
        println!("[{}]", items.join(","));
        return Ok(());
    }
    println!(
        "{} nodes, {} keys (seed {}); movement when node {} joins / node {} leaves",
        a.shape.nodes,
        a.shape.keys,
        a.shape.seed,
        a.shape.nodes,
        a.shape.nodes.saturating_sub(1)
    );
    println!(
        "{:<11} {:<9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "algorithm", "hash", "max/mean", "stddev%", "add", "add*", "remove", "remove*", "lookup_ns"
    );
    for (c, r) in &rows {
        let hash = match c.algorithm {
            Algorithm::Slots => "crc16".to_owned(),
            Algorithm::Codis => "crc32a".to_owned(),
            Algorithm::Range => "-".to_owned(),
            Algorithm::Random => "-".to_owned(),
            _ => c.hash_fn().to_string(),
        };
        println!(
            "{:<11} {:<9} {:>8.3} {:>8.2} {:>7.2}% {:>7.2}% {:>7.2}% {:>7.2}% {:>9.1}",
            c.algorithm.name(),
            hash,
            r.max_over_mean,
            r.stddev_pct,
            100.0 * r.moved_on_add,
            100.0 * r.ideal_on_add,
            100.0 * r.moved_on_remove,
            100.0 * r.ideal_on_remove,
            r.lookup_ns
        );
    }
    println!("add*/remove*: the least possible movement, 1/(N+1) and 1/N");
    Ok(())
}

fn text(config: &Config, shape: &Shape, r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", r.describe);
    let _ = writeln!(s, "nodes {}, keys {}, seed {}", r.nodes, r.keys, shape.seed);
    let mean = r.keys as f64 / r.nodes as f64;
    if r.counts.len() <= NODE_LINES_MAX {
        let _ = writeln!(s, "{:<12} {:>10} {:>8}", "node", "keys", "share");
        for (name, count) in &r.counts {
            let _ = writeln!(
                s,
                "{:<12} {:>10} {:>7.2}%",
                name,
                count,
                100.0 * *count as f64 / r.keys as f64
            );
        }
    } else {
        let min = r.counts.iter().map(|c| c.1).min().unwrap_or(0);
        let max = r.counts.iter().map(|c| c.1).max().unwrap_or(0);
        let _ = writeln!(s, "keys per node: min {min}, mean {mean:.1}, max {max}");
    }
    let _ = writeln!(s, "max/mean          {:.4}", r.max_over_mean);
    let _ = writeln!(s, "stddev            {:.2}% of mean", r.stddev_pct);
    let _ = writeln!(
        s,
        "moved on add      {:.3}%  (ideal {:.3}%; between old nodes {:.3}%)",
        100.0 * r.moved_on_add,
        100.0 * r.ideal_on_add,
        100.0 * r.moved_elsewhere_on_add
    );
    let _ = writeln!(
        s,
        "moved on remove   {:.3}%  (ideal {:.3}%; of keys on nodes that stayed {:.3}%)",
        100.0 * r.moved_on_remove,
        100.0 * r.ideal_on_remove,
        100.0 * r.moved_elsewhere_on_remove
    );
    let _ = writeln!(s, "lookup            {:.1} ns/key", r.lookup_ns);
    if config.algorithm == Algorithm::Bounded {
        let _ = writeln!(
            s,
            "bound             {:.4} (1 + epsilon)",
            1.0 + config.epsilon
        );
    }
    s
}

fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A finite number as JSON (NaN and infinities have no JSON spelling).
fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".to_owned()
    }
}

fn json(config: &Config, shape: &Shape, r: &Report, with_counts: bool) -> String {
    let mut s = String::from("{");
    let _ = write!(
        s,
        "\"algorithm\":{},\"hash\":{},\"describe\":{},\"nodes\":{},\"keys\":{},\"seed\":{},\"vnodes\":{}",
        json_str(config.algorithm.name()),
        json_str(config.hash_fn().name()),
        json_str(&r.describe),
        r.nodes,
        r.keys,
        shape.seed,
        shape.vnodes
    );
    for (name, value) in [
        ("max_over_mean", r.max_over_mean),
        ("stddev_pct", r.stddev_pct),
        ("moved_on_add", r.moved_on_add),
        ("moved_on_remove", r.moved_on_remove),
        ("ideal_on_add", r.ideal_on_add),
        ("ideal_on_remove", r.ideal_on_remove),
        ("moved_elsewhere_on_add", r.moved_elsewhere_on_add),
        ("moved_elsewhere_on_remove", r.moved_elsewhere_on_remove),
        ("lookup_ns", r.lookup_ns),
    ] {
        let _ = write!(s, ",\"{name}\":{}", json_num(value));
    }
    if with_counts {
        s.push_str(",\"counts\":{");
        for (i, (name, count)) in r.counts.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{}:{count}", json_str(name));
        }
        s.push('}');
    }
    s.push('}');
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Two panels: keys per node against the mean, and movement on add/remove
/// against the ideal, split into necessary and avoidable moves.
fn svg(config: &Config, r: &Report) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 420.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="20" y="24" font-size="15" font-weight="bold">{}</text>"#,
        xml(&format!(
            "{} — {} nodes, {} keys",
            r.describe, r.nodes, r.keys
        ))
    );

    // Panel 1: load per node.
    let (x0, y0, pw, ph) = (50.0, 60.0, 560.0, 300.0);
    let mean = r.keys as f64 / r.nodes as f64;
    let max = r.counts.iter().map(|c| c.1).max().unwrap_or(1).max(1) as f64;
    let top = max.max(mean * 1.3);
    let bar = pw / r.counts.len() as f64;
    let _ = writeln!(
        s,
        r#"<text x="{x0}" y="{}" font-weight="bold">keys per node (max/mean {:.3}, stddev {:.2}%)</text>"#,
        y0 - 10.0,
        r.max_over_mean,
        r.stddev_pct
    );
    for (i, (name, count)) in r.counts.iter().enumerate() {
        let h = ph * *count as f64 / top;
        let x = x0 + i as f64 * bar;
        let _ = writeln!(
            s,
            r##"<rect x="{x:.2}" y="{:.2}" width="{:.2}" height="{h:.2}" fill="#4a78b5"><title>{}: {count}</title></rect>"##,
            y0 + ph - h,
            (bar * 0.85).max(0.5),
            xml(name)
        );
    }
    let mean_y = y0 + ph - ph * mean / top;
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" y1="{mean_y:.2}" x2="{}" y2="{mean_y:.2}" stroke="#d04030" stroke-dasharray="6 3"/>"##,
        x0 + pw
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{:.2}" fill="#d04030">mean {mean:.0}</text>"##,
        x0 + pw + 4.0,
        mean_y + 4.0
    );
    if config.algorithm == Algorithm::Bounded {
        let cap_y = y0 + ph - ph * mean * (1.0 + config.epsilon) / top;
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{cap_y:.2}" x2="{}" y2="{cap_y:.2}" stroke="#888" stroke-dasharray="2 2"/><text x="{x0}" y="{:.2}" fill="#666">bound (1+ε) × mean</text>"##,
            x0 + pw,
            cap_y - 4.0
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
        y0 + ph,
        x0 + pw,
        y0 + ph
    );
    let _ = writeln!(
        s,
        r#"<text x="{x0}" y="{}">node 0 … node {}</text>"#,
        y0 + ph + 18.0,
        r.nodes - 1
    );

    // Panel 2: movement.
    let (mx, mw) = (730.0, 240.0);
    let _ = writeln!(
        s,
        r#"<text x="{mx}" y="{}" font-weight="bold">keys moved (% of all)</text>"#,
        y0 - 10.0
    );
    let scale = [
        r.moved_on_add,
        r.moved_on_remove,
        r.ideal_on_add,
        r.ideal_on_remove,
    ]
    .into_iter()
    .fold(0.0f64, f64::max)
    .max(0.01)
        * 1.15;
    let bars = [
        (
            "add",
            r.moved_on_add,
            r.moved_elsewhere_on_add,
            r.ideal_on_add,
        ),
        (
            "remove",
            r.moved_on_remove,
            r.moved_elsewhere_on_remove,
            r.ideal_on_remove,
        ),
    ];
    for (i, (label, moved, stray, ideal)) in bars.into_iter().enumerate() {
        let x = mx + 20.0 + i as f64 * 110.0;
        let h = ph * moved / scale;
        let hs = ph * stray / scale;
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="{:.2}" width="60" height="{h:.2}" fill="#4a78b5"/>"##,
            y0 + ph - h
        );
        if hs > 0.0 {
            let _ = writeln!(
                s,
                r##"<rect x="{x}" y="{:.2}" width="60" height="{hs:.2}" fill="#e0a030"/>"##,
                y0 + ph - h
            );
        }
        let iy = y0 + ph - ph * ideal / scale;
        let _ = writeln!(
            s,
            r##"<line x1="{}" y1="{iy:.2}" x2="{}" y2="{iy:.2}" stroke="#d04030" stroke-width="2"/>"##,
            x - 6.0,
            x + 66.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{}">{label}</text><text x="{x}" y="{:.2}">{:.2}%</text>"#,
            y0 + ph + 18.0,
            y0 + ph - h - 6.0,
            100.0 * moved
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{mx}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
        y0 + ph,
        mx + mw,
        y0 + ph
    );
    let _ = writeln!(
        s,
        r##"<text x="{x0}" y="{}"><tspan fill="#d04030">red line: least possible movement, 1/(N+1) on add, 1/N on remove</tspan>; <tspan fill="#b07010">orange: keys moved between nodes that stayed</tspan></text>"##,
        y0 + ph + 44.0
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_and_nulls() {
        assert_eq!(json_str("a\"b\\c\n"), r#""a\"b\\c\u000a""#);
        assert_eq!(json_num(f64::NAN), "null");
        assert_eq!(json_num(0.5), "0.5");
    }

    #[test]
    fn report_outputs_name_the_issue_fields() {
        let shape = Shape {
            nodes: 4,
            keys: 2_000,
            seed: 9,
            vnodes: 160,
            table_size: 65_537,
            epsilon: 0.25,
            json: true,
        };
        let config = config_for(Algorithm::Bounded, None, &shape);
        let keys = sample_keys(shape.keys, shape.seed);
        let r = measure(&config, &shape, &keys).unwrap();
        let j = json(&config, &shape, &r, true);
        for field in [
            "max_over_mean",
            "stddev_pct",
            "moved_on_add",
            "moved_on_remove",
            "ideal_on_add",
            "ideal_on_remove",
            "lookup_ns",
        ] {
            assert!(
                j.contains(&format!("\"{field}\":")),
                "{field} missing from {j}"
            );
        }
        let plot = svg(&config, &r);
        assert!(plot.starts_with("<svg") && plot.trim_end().ends_with("</svg>"));
        assert_eq!(plot.matches("<title>").count(), 4);
        assert!(text(&config, &shape, &r).contains("max/mean"));
    }
}
