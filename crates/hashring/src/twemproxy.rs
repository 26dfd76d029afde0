//! twemproxy (nutcracker) compatibility: its server lines and its pools.
//!
//! A [`Pool`] configured like a nutcracker pool (`distribution`, `hash`,
//! `hash_tag`, `servers`) sends every key to the same server nutcracker 0.5
//! does, which the `needs nutcracker` test checks against the real binary.
//! That lets a deployment move from twemproxy without reshuffling data.

use std::fmt;

use crate::ketama::Ketama;
use crate::modula::{Modula, Random};
use crate::node::{Node, Placement};
use crate::{Error, HashFn, HashTag};

/// The port libmemcached leaves out of ketama point names: twemproxy does
/// the same for compatibility, so `host:11211` hashes as `host`.
pub const KETAMA_DEFAULT_PORT: u16 = 11211;

/// One `servers:` line: `host:port:weight [name]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Host name or IP, as written.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Relative weight (≥ 1).
    pub weight: u32,
    /// Optional stable name; ketama hashes it instead of the address.
    pub name: Option<String>,
}

impl Server {
    /// Parses `host:port:weight [name]`, as twemproxy does (the host may
    /// itself contain colons, e.g. IPv6: the last two fields are split off).
    ///
    /// # Errors
    /// [`Error::InvalidServer`] for a missing field, a bad port or a weight
    /// of 0.
    pub fn parse(spec: &str) -> Result<Server, Error> {
        let bad = |reason: &str| Error::InvalidServer {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let spec_trim = spec.trim();
        let (addr, name) = match spec_trim.split_once(' ') {
            Some((a, n)) => (a, Some(n.trim().to_owned()).filter(|n| !n.is_empty())),
            None => (spec_trim, None),
        };
        let mut parts = addr.rsplitn(3, ':');
        let weight = parts.next().ok_or_else(|| bad("missing weight"))?;
        let port = parts
            .next()
            .ok_or_else(|| bad("expected host:port:weight"))?;
        let host = parts
            .next()
            .ok_or_else(|| bad("expected host:port:weight"))?;
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let port: u16 = port.parse().map_err(|_| bad("invalid port"))?;
        let weight: u32 = weight.parse().map_err(|_| bad("invalid weight"))?;
        if weight == 0 {
            return Err(bad("zero weight"));
        }
        Ok(Server {
            host: host.to_owned(),
            port,
            weight,
            name,
        })
    }

    /// Parses a comma-separated list of server lines.
    ///
    /// # Errors
    /// The first line that fails [`Server::parse`].
    pub fn parse_list(list: &str) -> Result<Vec<Server>, Error> {
        list.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Server::parse)
            .collect()
    }

    /// `host:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The name ketama hashes: the configured name, else `host:port`, else
    /// just `host` when the port is 11211.
    pub fn ketama_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None if self.port == KETAMA_DEFAULT_PORT => self.host.clone(),
            None => self.address(),
        }
    }

    /// The node this server becomes.
    pub fn node(&self) -> Node {
        Node::weighted(self.ketama_name(), self.weight)
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.host, self.port, self.weight)?;
        if let Some(n) = &self.name {
            write!(f, " {n}")?;
        }
        Ok(())
    }
}

/// twemproxy's `distribution:` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// `ketama`
    Ketama,
    /// `modula`
    Modula,
    /// `random`
    Random,
}

/// A nutcracker pool: its servers and how keys map to them.
pub struct Pool {
    servers: Vec<Server>,
    placement: Box<dyn Placement>,
}

impl Pool {
    /// `hash_tag` is the two-character setting, if any. `seed` only matters
    /// for [`Distribution::Random`].
    ///
    /// nutcracker sorts a pool's servers by name (shorter names first, then
    /// bytewise: its `string_compare`) while checking for duplicates, and
    /// builds the pool in that order; `modula` indexes that order, so the
    /// pool does the same. Config order does not matter.
    ///
    /// # Errors
    /// No servers, duplicate ketama names, or an invalid hash tag.
    pub fn new(
        servers: Vec<Server>,
        distribution: Distribution,
        hash: HashFn,
        hash_tag: Option<&str>,
        seed: u64,
    ) -> Result<Pool, Error> {
        let tag = match hash_tag {
            Some(t) => HashTag::twemproxy(t)?,
            None => HashTag::None,
        };
        let mut servers = servers;
        servers.sort_by_cached_key(|s| {
            let name = s.ketama_name();
            (name.len(), name.into_bytes())
        });
        let nodes: Vec<Node> = servers.iter().map(Server::node).collect();
        let placement: Box<dyn Placement> = match distribution {
            Distribution::Ketama => Box::new(Ketama::new(nodes, hash, tag)?),
            Distribution::Modula => Box::new(Modula::new(nodes, hash, tag)?),
            Distribution::Random => Box::new(Random::new(nodes, seed)?),
        };
        Ok(Pool { servers, placement })
    }

    /// The server nutcracker forwards `key` to.
    pub fn server_for(&self, key: &[u8]) -> &Server {
        &self.servers[self.placement.locate(key)]
    }

    /// The servers, in nutcracker's order (sorted by name).
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// The placement underneath.
    pub fn placement(&self) -> &dyn Placement {
        self.placement.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_lines() {
        let s = Server::parse("127.0.0.1:6379:2 alpha").unwrap();
        assert_eq!(s.host, "127.0.0.1");
        assert_eq!(s.port, 6379);
        assert_eq!(s.weight, 2);
        assert_eq!(s.ketama_name(), "alpha");
        assert_eq!(s.to_string(), "127.0.0.1:6379:2 alpha");
        let s = Server::parse("cache-1:11211:1").unwrap();
        assert_eq!(s.ketama_name(), "cache-1");
        let s = Server::parse("::1:6380:1").unwrap();
        assert_eq!(s.host, "::1");
        assert_eq!(s.ketama_name(), "::1:6380");
        for bad in [
            "",
            "host",
            "host:1",
            "host:x:1",
            "host:1:0",
            ":1:1",
            "h:70000:1",
        ] {
            assert!(Server::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Server::parse_list("a:1:1, b:2:1").unwrap().len(), 2);
    }
}
