//! Run configuration: targets, load shape, workload. Parsing of the
//! option strings (`host:port`, `10,50,100@30s`, `30s`) lives here so the
//! CLI stays a thin mapping of flags to fields.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::workload::{CommandSpec, DataSize, KeySpace};

/// A configuration that cannot run; the message names the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        ConfigError(msg.into())
    }
}

/// Most connections one run opens; each holds two buffers and a socket,
/// and past a few thousand the generator measures itself, not the server.
pub const MAX_CONNECTIONS: usize = 10_000;

/// Deepest pipeline accepted per connection; the pending-request queue and
/// write buffer grow with it.
pub const MAX_PIPELINE: usize = 10_000;

/// Longest `--test-time` (and ramp-up) accepted: 30 days. Far beyond any
/// load test, and small enough that instants computed from it never
/// overflow.
pub const MAX_TEST_TIME: Duration = Duration::from_secs(30 * 86_400);

/// Slowest open-loop rate accepted: one request per 1000 s. Below it a
/// connection's send interval would run past `MAX_TEST_TIME`.
pub const MIN_RATE_PER_SEC: f64 = 0.001;

/// A server to send to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl FromStr for Target {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| ConfigError::new(format!("server {s:?}: expected HOST:PORT")))?;
        let port = port
            .parse()
            .map_err(|_| ConfigError::new(format!("server {s:?}: bad port")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(ConfigError::new(format!("server {s:?}: empty host")));
        }
        Ok(Target {
            host: host.to_string(),
            port,
        })
    }
}

/// When a run stops sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this many requests in total, split evenly over connections.
    Requests(u64),
    /// After this long from the start (ramp-up included); replies to
    /// requests already sent are still awaited.
    Duration(Duration),
}

/// nGrinder-style virtual-user steps: `10,50,100@30s` runs 10 clients,
/// 30 s later 50, 30 s later 100, and holds 100 until the run ends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RampUp {
    /// Total active clients at each step, non-decreasing.
    pub steps: Vec<usize>,
    /// Time each step lasts before the next starts.
    pub step: Duration,
}

impl RampUp {
    /// When connection number `global` (0-based) starts sending.
    pub(crate) fn start_offset(&self, global: usize) -> Option<Duration> {
        let i = self.steps.iter().position(|&n| n > global)?;
        Some(self.step * i as u32)
    }
}

impl FromStr for RampUp {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let bad =
            |why: &str| ConfigError::new(format!("ramp-up {s:?}: {why} (e.g. 10,50,100@30s)"));
        let (list, step) = s.split_once('@').ok_or_else(|| bad("missing @STEP"))?;
        let step = parse_duration(step).map_err(|_| bad("bad step duration"))?;
        let steps: Vec<usize> = list
            .split(',')
            .map(|n| n.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad("bad client count"))?;
        if steps.is_empty() || steps[0] == 0 || steps.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad("counts must be positive and non-decreasing"));
        }
        Ok(RampUp { steps, step })
    }
}

/// Parses `30s`, `500ms`, `2m`, `1h` or a bare number of seconds.
///
/// # Errors
///
/// Anything else, or a negative or non-finite number.
pub fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let s = s.trim();
    let bad = || ConfigError::new(format!("duration {s:?}: expected e.g. 30s, 500ms, 2m"));
    let (num, unit_secs) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(bad());
    }
    Duration::try_from_secs_f64(n * unit_secs).map_err(|_| bad())
}

/// Everything one run needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Servers; connections are spread over them round-robin.
    pub targets: Vec<Target>,
    /// Worker threads, each with its own poll loop.
    pub threads: usize,
    /// Connections per thread.
    pub clients_per_thread: usize,
    /// When to stop sending.
    pub stop: Stop,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// Command templates with weights.
    pub commands: Vec<CommandSpec>,
    /// Key space and pattern.
    pub keys: KeySpace,
    /// Value sizes.
    pub data_size: DataSize,
    /// Open loop at this many requests per second in total; closed loop
    /// when `None`.
    pub rate_per_sec: Option<f64>,
    /// Client steps over time.
    pub ramp_up: Option<RampUp>,
    /// Seed of every RNG in the run.
    pub seed: u64,
    /// Values derived from keys, and GET replies checked against them.
    pub verify: bool,
    /// `AUTH` password sent on connect.
    pub password: Option<String>,
    /// Send `HELLO 3` on connect.
    pub resp3: bool,
    /// Give up connecting after this long.
    pub connect_timeout: Duration,
    /// After sending stops, wait at most this long for outstanding replies.
    pub drain_timeout: Duration,
}

impl Config {
    /// A closed-loop SET:GET 1:10 run against `target`, sized like
    /// redis-benchmark's defaults (50 connections, 100 000 requests).
    pub fn new(target: Target) -> Self {
        Config {
            targets: vec![target],
            threads: 1,
            clients_per_thread: 50,
            stop: Stop::Requests(100_000),
            pipeline: 1,
            commands: CommandSpec::set_get(1, 10),
            keys: KeySpace {
                pattern: crate::KeyPattern::Random,
                prefix: "key:".into(),
                minimum: 0,
                maximum: 99_999,
                zipf_exponent: 0.99,
            },
            data_size: DataSize::fixed(32),
            rate_per_sec: None,
            ramp_up: None,
            seed: 1,
            verify: false,
            password: None,
            resp3: false,
            connect_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(10),
        }
    }

    /// Total connections.
    pub fn connections(&self) -> usize {
        self.threads * self.clients_per_thread
    }

    /// Checks the combination of settings.
    ///
    /// # Errors
    ///
    /// The first setting that cannot run, named by its flag.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.targets.is_empty() {
            return Err(ConfigError::new("no server to benchmark"));
        }
        if self.threads == 0 || self.clients_per_thread == 0 {
            return Err(ConfigError::new(
                "--threads and --clients must be at least 1",
            ));
        }
        if self.connections() > MAX_CONNECTIONS {
            return Err(ConfigError::new(format!(
                "{} connections: at most {MAX_CONNECTIONS}",
                self.connections()
            )));
        }
        if self.pipeline == 0 || self.pipeline > MAX_PIPELINE {
            return Err(ConfigError::new(format!(
                "--pipeline must be 1..={MAX_PIPELINE}"
            )));
        }
        if self.commands.is_empty() || self.commands.iter().all(|c| c.weight == 0) {
            return Err(ConfigError::new("no command with a positive weight"));
        }
        if self.commands.len() > usize::from(u16::MAX) {
            return Err(ConfigError::new("too many --command templates"));
        }
        self.keys.validate()?;
        if let Some(rate) = self.rate_per_sec {
            if !(rate.is_finite() && rate >= MIN_RATE_PER_SEC) {
                return Err(ConfigError::new(format!(
                    "--rate must be at least {MIN_RATE_PER_SEC}"
                )));
            }
        }
        if let Some(ramp) = &self.ramp_up {
            if ramp.step.saturating_mul(ramp.steps.len() as u32) > MAX_TEST_TIME {
                return Err(ConfigError::new("--ramp-up lasts longer than 30 days"));
            }
            let top = *ramp.steps.last().expect("parsed non-empty");
            if top > self.connections() {
                return Err(ConfigError::new(format!(
                    "--ramp-up reaches {top} clients but --threads x --clients opens {}",
                    self.connections()
                )));
            }
        }
        match self.stop {
            Stop::Requests(0) => Err(ConfigError::new("--requests must be at least 1")),
            Stop::Duration(d) if d.is_zero() || d > MAX_TEST_TIME => Err(ConfigError::new(
                "--test-time must be positive and at most 30 days",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t: Target = "127.0.0.1:6379".parse().unwrap();
        assert_eq!(t.to_string(), "127.0.0.1:6379");
        let t: Target = "[::1]:7000".parse().unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 7000));
        assert!("nohost".parse::<Target>().is_err());
        assert!("h:99999".parse::<Target>().is_err());
    }

    #[test]
    fn parses_durations() {
        let cases = [
            ("30s", 30_000),
            ("500ms", 500),
            ("2m", 120_000),
            ("1.5", 1_500),
            ("1h", 3_600_000),
        ];
        for (input, ms) in cases {
            assert_eq!(
                parse_duration(input).unwrap(),
                Duration::from_millis(ms),
                "{input}"
            );
        }
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn ramp_up_steps() {
        let r: RampUp = "10,50,100@30s".parse().unwrap();
        assert_eq!(r.steps, [10, 50, 100]);
        assert_eq!(r.start_offset(0), Some(Duration::ZERO));
        assert_eq!(r.start_offset(9), Some(Duration::ZERO));
        assert_eq!(r.start_offset(10), Some(Duration::from_secs(30)));
        assert_eq!(r.start_offset(99), Some(Duration::from_secs(60)));
        assert_eq!(r.start_offset(100), None);
        assert!("50,10@1s".parse::<RampUp>().is_err());
        assert!("10,50".parse::<RampUp>().is_err());
        assert!("0@1s".parse::<RampUp>().is_err());
    }

    #[test]
    fn validation_names_the_flag() {
        let mut c = Config::new("127.0.0.1:1".parse().unwrap());
        assert!(c.validate().is_ok());
        c.pipeline = 0;
        assert!(c.validate().unwrap_err().to_string().contains("--pipeline"));
        c.pipeline = 1;
        c.ramp_up = Some("10,60@1s".parse().unwrap());
        assert!(c.validate().unwrap_err().to_string().contains("--ramp-up"));
        c.ramp_up = None;
        c.rate_per_sec = Some(1e-9);
        assert!(c.validate().unwrap_err().to_string().contains("--rate"));
        c.rate_per_sec = None;
        c.stop = Stop::Duration(Duration::from_secs(u64::MAX));
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("--test-time"));
    }
}
