//! Access control lists: users, their passwords and what they may run,
//! with Redis 7.0's rules, replies and errors (`ACL SETUSER` and friends).
//!
//! Rules name Redis's own command table ([`categories::COMMANDS`]: every
//! command and `parent|sub` subcommand with its categories), so a rule
//! such as `+@all -@dangerous` means exactly what it means in Redis, and
//! users are described back (ACL LIST, GETUSER) the way Redis describes
//! them.
//!
//! **Invariant:** a client's permissions are its user's *current* ones:
//! clients hold the user's name and every check looks the user up, so
//! ACL SETUSER takes effect on the next command of every connection, and
//! ACL DELUSER disconnects the user's clients.

pub mod categories;
pub(crate) mod command;

use std::collections::{BTreeMap, VecDeque};
use std::sync::OnceLock;

use categories::{CATEGORIES, COMMANDS};
use sha2::{Digest, Sha256};

const READ: u8 = 1;
const WRITE: u8 = 2;
const WORDS: usize = COMMANDS.len().div_ceil(64);

/// Why a command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Denied {
    Command,
    Key,
    Channel,
}

impl Denied {
    /// ACL LOG's `reason` for this refusal.
    pub(crate) fn log_reason(self) -> &'static str {
        match self {
            Denied::Command => "command",
            Denied::Key => "key",
            Denied::Channel => "channel",
        }
    }
}

/// The position of a command in [`COMMANDS`].
pub(crate) fn command_index(full_name: &str) -> Option<usize> {
    COMMANDS
        .binary_search_by(|(n, _, _)| n.cmp(&full_name))
        .ok()
}

/// A subcommand as [`categories::SUBCOMMANDS`] holds it: (full name,
/// arity, flags, first key, last key, step).
pub(crate) type SubcommandInfo = (&'static str, i32, &'static str, i32, i32, i32);

/// How COMMAND INFO describes a subcommand (`parent|sub`, lowercase):
/// (full name, arity, flags, first key, last key, step).
pub(crate) fn subcommand_info(full_name: &str) -> Option<&'static SubcommandInfo> {
    categories::SUBCOMMANDS
        .binary_search_by(|s| s.0.cmp(full_name))
        .ok()
        .map(|i| &categories::SUBCOMMANDS[i])
}

/// COMMAND INFO's tips and key specs of a command or subcommand
/// (`parent|sub`, lowercase).
pub(crate) fn key_specs(
    full_name: &str,
) -> (&'static [&'static str], &'static [categories::KeySpec]) {
    categories::KEY_SPECS
        .binary_search_by(|s| s.0.cmp(full_name))
        .map_or((&[], &[]), |i| {
            (categories::KEY_SPECS[i].1, categories::KEY_SPECS[i].2)
        })
}

/// The subcommands of each container command, by index.
fn children(index: usize) -> &'static [usize] {
    static CHILDREN: OnceLock<Vec<Vec<usize>>> = OnceLock::new();
    let all = CHILDREN.get_or_init(|| {
        let mut all = vec![Vec::new(); COMMANDS.len()];
        for (i, (name, _, _)) in COMMANDS.iter().enumerate() {
            if let Some((parent, _)) = name.split_once('|') {
                if let Some(p) = command_index(parent) {
                    all[p].push(i);
                }
            }
        }
        all
    });
    &all[index]
}

fn category_bit(name: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// Commands, in table order, that belong to `category` (ACL CAT).
pub(crate) fn commands_in(category: &str) -> Option<Vec<&'static str>> {
    let bit = category_bit(category)?;
    Some(
        COMMANDS
            .iter()
            .filter(|(_, cats, _)| cats & bit != 0)
            .map(|(n, _, _)| *n)
            .collect(),
    )
}

/// A command's categories as `@name`s, in Redis's order (COMMAND INFO).
pub(crate) fn categories_of(full_name: &str) -> Vec<&'static str> {
    let Some(i) = command_index(full_name) else {
        return Vec::new();
    };
    let bits = COMMANDS[i].1;
    CATEGORIES
        .iter()
        .enumerate()
        .filter(|(j, _)| bits & (1 << j) != 0)
        .map(|(_, c)| *c)
        .collect()
}

/// A key pattern with the access it grants (`~` both, `%R~` / `%W~`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct KeyPattern {
    pattern: Vec<u8>,
    flags: u8,
}

impl KeyPattern {
    fn describe(&self, out: &mut String) {
        out.push_str(match self.flags {
            READ => "%R~",
            WRITE => "%W~",
            _ => "~",
        });
        out.push_str(&String::from_utf8_lossy(&self.pattern));
    }
}

/// What one selector allows: the root selector of a user, or one of its
/// `(…)` selectors. A command is allowed if any selector allows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Selector {
    /// Redis's SELECTOR_FLAG_ALLCOMMANDS: no command bit is consulted.
    all_commands: bool,
    /// The reserved bit `+@all` sets: "future commands" are allowed, and
    /// descriptions start from `+@all` instead of `-@all`.
    future: bool,
    bits: [u64; WORDS],
    /// Allowed first arguments of otherwise blocked commands (`+select|0`).
    first_args: BTreeMap<usize, Vec<String>>,
    all_keys: bool,
    keys: Vec<KeyPattern>,
    all_channels: bool,
    channels: Vec<Vec<u8>>,
}

/// Errors of [`Selector::apply`] and [`User::apply`], worded as Redis's
/// `ACLSetUserStringError`.
#[derive(Debug)]
enum RuleError {
    UnknownName,
    Syntax,
    KeysAfterAll,
    ChannelsAfterAll,
    NoSuchPassword,
    BadHash,
    SubcommandFirstArg,
}

impl RuleError {
    fn message(&self) -> &'static str {
        match self {
            RuleError::UnknownName => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeysAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
            RuleError::ChannelsAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter().any(|&b| b.is_ascii_whitespace() || b == 0)
}

impl Selector {
    fn new(all_channels_default: bool) -> Selector {
        Selector {
            all_channels: all_channels_default,
            ..Selector::default()
        }
    }

    fn bit(&self, i: usize) -> bool {
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    fn set_bit(&mut self, i: usize, on: bool) {
        if on {
            self.bits[i / 64] |= 1 << (i % 64);
        } else {
            self.bits[i / 64] &= !(1 << (i % 64));
            self.all_commands = false;
        }
    }

    /// Redis's ACLChangeSelectorPerm: a container's subcommands follow it.
    fn change(&mut self, i: usize, on: bool) {
        self.set_bit(i, on);
        self.first_args.remove(&i);
        for &sub in children(i) {
            self.set_bit(sub, on);
        }
    }

    fn change_category(&mut self, bit: u32, on: bool) {
        for (i, (_, cats, _)) in COMMANDS.iter().enumerate() {
            if cats & bit != 0 {
                self.change(i, on);
            }
        }
    }

    fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let lower = String::from_utf8_lossy(op).to_ascii_lowercase();
        match lower.as_str() {
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
                return Ok(());
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
                return Ok(());
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
                return Ok(());
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
                return Ok(());
            }
            "allcommands" | "+@all" => {
                self.bits = [u64::MAX; WORDS];
                self.all_commands = true;
                self.future = true;
                self.first_args.clear();
                return Ok(());
            }
            "nocommands" | "-@all" => {
                self.bits = [0; WORDS];
                self.all_commands = false;
                self.future = false;
                self.first_args.clear();
                return Ok(());
            }
            _ => {}
        }
        match op.first() {
            Some(b'~') | Some(b'%') => self.add_key_pattern(op),
            Some(b'&') => {
                if self.all_channels {
                    return Err(RuleError::ChannelsAfterAll);
                }
                let pattern = &op[1..];
                if has_spaces(pattern) {
                    return Err(RuleError::Syntax);
                }
                if !self.channels.iter().any(|c| c == pattern) {
                    self.channels.push(pattern.to_vec());
                }
                self.all_channels = false;
                Ok(())
            }
            Some(b'+') | Some(b'-') if op.get(1) == Some(&b'@') => {
                let bit = category_bit(&lower[2..]).ok_or(RuleError::UnknownName)?;
                self.change_category(bit, op[0] == b'+');
                Ok(())
            }
            Some(b'+') => {
                let name = &lower[1..];
                let Some((parent, sub)) = name.rsplit_once('|') else {
                    let i = command_index(name).ok_or(RuleError::UnknownName)?;
                    self.change(i, true);
                    return Ok(());
                };
                let p = command_index(parent).ok_or(RuleError::UnknownName)?;
                if parent.contains('|') {
                    return Err(RuleError::SubcommandFirstArg);
                }
                if sub.is_empty() {
                    return Err(RuleError::Syntax);
                }
                if COMMANDS[p].2 {
                    let i = command_index(name).ok_or(RuleError::UnknownName)?;
                    self.change(i, true);
                } else {
                    let args = self.first_args.entry(p).or_default();
                    if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                        // Kept as given; matched without case.
                        let given = String::from_utf8_lossy(&op[1 + parent.len() + 1..]);
                        args.push(given.into_owned());
                    }
                }
                Ok(())
            }
            Some(b'-') => {
                let i = command_index(&lower[1..]).ok_or(RuleError::UnknownName)?;
                self.change(i, false);
                Ok(())
            }
            _ => Err(RuleError::Syntax),
        }
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeysAfterAll);
        }
        let (flags, offset) = if op[0] == b'%' {
            let mut flags = 0;
            let mut at = 1;
            loop {
                match op.get(at).map(u8::to_ascii_uppercase) {
                    Some(b'R') if flags & READ == 0 => flags |= READ,
                    Some(b'W') if flags & WRITE == 0 => flags |= WRITE,
                    Some(b'~') => {
                        at += 1;
                        break;
                    }
                    _ => return Err(RuleError::Syntax),
                }
                at += 1;
            }
            (flags, at)
        } else {
            (READ | WRITE, 1)
        };
        let pattern = &op[offset..];
        if has_spaces(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|k| k.pattern == pattern) {
            Some(existing) => existing.flags |= flags,
            None => self.keys.push(KeyPattern {
                pattern: pattern.to_vec(),
                flags,
            }),
        }
        self.all_keys = false;
        Ok(())
    }

    /// Redis's ACLSelectorCheckCmd.
    fn check(&self, request: &Request<'_>) -> Result<(), (Denied, usize)> {
        if !self.all_commands && !request.no_auth && !self.bit(request.id) {
            let allowed = request.args.get(request.first_arg_at).is_some_and(|arg| {
                self.first_args
                    .get(&request.id)
                    .is_some_and(|list| list.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(arg)))
            });
            if !allowed {
                return Err((Denied::Command, 0));
            }
        }
        if !self.all_keys {
            for &(at, flags) in &request.keys {
                let key = request.args[at];
                let ok = self.keys.iter().any(|p| {
                    p.flags & flags == flags
                        && shoal_store::glob::glob_match(&p.pattern, key, false)
                });
                if !ok {
                    return Err((Denied::Key, at));
                }
            }
        }
        if !self.all_channels {
            for &(at, is_pattern) in &request.channels {
                let channel = request.args[at];
                if !self.channel_allowed(channel, is_pattern) {
                    return Err((Denied::Channel, at));
                }
            }
        }
        Ok(())
    }

    fn channel_allowed(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if is_pattern {
                    p == channel
                } else {
                    shoal_store::glob::glob_match(p, channel, false)
                }
            })
    }

    fn count_category(&self, bit: u32) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for (i, (_, cats, _)) in COMMANDS.iter().enumerate() {
            if cats & bit != 0 {
                if self.bit(i) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }

    /// Redis's ACLDescribeSelectorCommandRules: `+@all` or `-@all`, the
    /// categories that fit best, then single commands to match exactly.
    fn describe_commands(&self) -> String {
        let additive = !self.future;
        let mut rules = String::from(if additive { "-@all" } else { "+@all" });
        let mut fake = Selector::default();
        let _ = fake.apply(if additive { b"-@all" } else { b"+@all" });
        let mut temp = Selector {
            bits: self.bits,
            ..Selector::default()
        };
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut min_diff, mut max_same) = (usize::MAX, 0);
            for (j, _) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(1 << j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < min_diff || (diff == min_diff && same > max_same)) {
                    best = Some(j);
                    min_diff = diff;
                    max_same = same;
                }
            }
            let Some(j) = best else { break };
            fake.change_category(1 << j, additive);
            temp.change_category(1 << j, !additive);
            rules.push_str(if additive { " +@" } else { " -@" });
            rules.push_str(CATEGORIES[j]);
            applied[j] = true;
        }
        for (i, (name, _, _)) in COMMANDS.iter().enumerate() {
            let mine = self.bit(i);
            if mine != fake.bit(i) {
                rules.push_str(if mine { " +" } else { " -" });
                rules.push_str(name);
                fake.change(i, mine);
            }
            if !mine {
                for arg in self.first_args.get(&i).into_iter().flatten() {
                    rules.push_str(&format!(" +{name}|{arg}"));
                }
            }
        }
        rules
    }

    fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let mut out = String::new();
        for (n, k) in self.keys.iter().enumerate() {
            if n > 0 {
                out.push(' ');
            }
            k.describe(&mut out);
        }
        out
    }

    fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let parts: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        parts.join(" ")
    }

    /// Redis's ACLDescribeSelector (ACL LIST's form): keys, channels
    /// (`resetchannels` first unless all are allowed), then commands.
    fn describe(&self) -> String {
        let channels = if self.all_channels {
            self.describe_channels()
        } else {
            format!("resetchannels {}", self.describe_channels())
        };
        [self.describe_keys(), channels, self.describe_commands()]
            .iter()
            .map(|part| part.trim_end())
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }
}

/// A command as the checks see it.
pub(crate) struct Request<'a> {
    /// Index in [`COMMANDS`] (the subcommand's, for containers).
    id: usize,
    no_auth: bool,
    args: Vec<&'a [u8]>,
    /// Where a first-arg rule (`+select|0`) looks.
    first_arg_at: usize,
    /// Key positions with the access they need.
    keys: Vec<(usize, u8)>,
    /// Channel positions, and whether each is a pattern (PSUBSCRIBE).
    channels: Vec<(usize, bool)>,
}

impl<'a> Request<'a> {
    /// `None` for a command outside Redis's table (nothing to check).
    pub(crate) fn new(
        spec: &shoal_store::CommandSpec,
        args: &'a [bytes::Bytes],
    ) -> Option<Request<'a>> {
        let parent = command_index(spec.name)?;
        let mut id = parent;
        let mut first_arg_at = 1;
        if COMMANDS[parent].2 && args.len() >= 2 {
            let full = format!(
                "{}|{}",
                spec.name,
                String::from_utf8_lossy(&args[1]).to_ascii_lowercase()
            );
            if let Some(sub) = command_index(&full) {
                id = sub;
                first_arg_at = 2;
            }
        }
        let args: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        let access = if spec.write { WRITE } else { READ };
        let keys = if spec.takes_keys() {
            spec.keys_in(&args)
                .unwrap_or_default()
                .into_iter()
                .map(|at| (at, access))
                .collect()
        } else {
            Vec::new()
        };
        let channels = match spec.name {
            "subscribe" | "ssubscribe" => (1..args.len()).map(|at| (at, false)).collect(),
            "psubscribe" => (1..args.len()).map(|at| (at, true)).collect(),
            "publish" | "spublish" => vec![(1, false)],
            _ => Vec::new(),
        };
        Some(Request {
            id,
            no_auth: spec.has_flag("no-auth"),
            args,
            first_arg_at,
            keys,
            channels,
        })
    }

    /// The name ACL LOG records for a refused command (`config|set`).
    pub(crate) fn full_name(&self) -> &'static str {
        COMMANDS[self.id].0
    }

    pub(crate) fn arg(&self, at: usize) -> &[u8] {
        self.args[at]
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    pub name: String,
    enabled: bool,
    nopass: bool,
    /// `Some(true)`: sanitize-payload; `Some(false)`: skip-sanitize-payload.
    sanitize: Option<bool>,
    /// SHA-256 digests in lowercase hex, in the order they were added.
    passwords: Vec<String>,
    root: Selector,
    selectors: Vec<Selector>,
}

fn hash_password(password: &[u8]) -> String {
    let digest = Sha256::digest(password);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn valid_hash(hash: &[u8]) -> bool {
    hash.len() == 64 && hash.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl User {
    fn new(name: &str, all_channels_default: bool) -> User {
        User {
            name: name.to_owned(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            root: Selector::new(all_channels_default),
            selectors: Vec::new(),
        }
    }

    fn apply(&mut self, op: &[u8], all_channels_default: bool) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let lower = String::from_utf8_lossy(op).to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "skip-sanitize-payload" => self.sanitize = Some(false),
            "sanitize-payload" => self.sanitize = Some(true),
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "clearselectors" => self.selectors.clear(),
            "reset" => {
                self.nopass = false;
                self.passwords.clear();
                self.root.all_keys = false;
                self.root.keys.clear();
                self.root.all_channels = all_channels_default;
                self.root.channels.clear();
                self.enabled = false;
                self.sanitize = Some(true);
                self.selectors.clear();
                let _ = self.root.apply(b"-@all");
            }
            _ => match op[0] {
                b'>' | b'#' => {
                    let hash = if op[0] == b'>' {
                        hash_password(&op[1..])
                    } else if valid_hash(&op[1..]) {
                        String::from_utf8_lossy(&op[1..]).into_owned()
                    } else {
                        return Err(RuleError::BadHash);
                    };
                    if !self.passwords.contains(&hash) {
                        self.passwords.push(hash);
                    }
                    self.nopass = false;
                }
                b'<' | b'!' => {
                    let hash = if op[0] == b'<' {
                        hash_password(&op[1..])
                    } else if valid_hash(&op[1..]) {
                        String::from_utf8_lossy(&op[1..]).into_owned()
                    } else {
                        return Err(RuleError::BadHash);
                    };
                    let at = self
                        .passwords
                        .iter()
                        .position(|p| *p == hash)
                        .ok_or(RuleError::NoSuchPassword)?;
                    self.passwords.remove(at);
                }
                b'(' if op.ends_with(b")") => {
                    let mut selector = Selector::new(all_channels_default);
                    for rule in op[1..op.len() - 1]
                        .split(|b| b.is_ascii_whitespace())
                        .filter(|r| !r.is_empty())
                    {
                        selector.apply(rule)?;
                    }
                    self.selectors.push(selector);
                }
                _ => self.root.apply(op)?,
            },
        }
        Ok(())
    }

    /// Whether every check passes without looking (the default user's
    /// usual state): the common case costs one flag test.
    fn unrestricted(&self) -> bool {
        self.root.unrestricted()
    }

    fn selectors(&self) -> impl Iterator<Item = &Selector> {
        std::iter::once(&self.root).chain(&self.selectors)
    }

    /// Redis's ACLCheckAllUserCommandPerm: allowed if any selector allows
    /// it; otherwise the most specific refusal (command < key < channel),
    /// at the latest argument.
    pub(crate) fn check(&self, request: &Request<'_>) -> Result<(), (Denied, usize)> {
        let mut worst = (Denied::Command, 0);
        for selector in self.selectors() {
            match selector.check(request) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if e.0 > worst.0 || (e.0 == worst.0 && e.1 > worst.1) {
                        worst = e;
                    }
                }
            }
        }
        Err(worst)
    }

    /// Whether this user may still use `channel` (a subscription).
    fn may_use_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.selectors()
            .any(|s| s.channel_allowed(channel, is_pattern))
    }

    /// Redis's ACLDescribeUser: the rules after `user <name>` in ACL LIST.
    pub(crate) fn describe(&self) -> String {
        let mut out = String::new();
        for (flag, name) in self.flags() {
            if flag {
                out.push_str(name);
                out.push(' ');
            }
        }
        for p in &self.passwords {
            out.push('#');
            out.push_str(p);
            out.push(' ');
        }
        out.push_str(&self.root.describe());
        for s in &self.selectors {
            out.push_str(" (");
            out.push_str(&s.describe());
            out.push(')');
        }
        out
    }

    fn flags(&self) -> [(bool, &'static str); 5] {
        [
            (self.enabled, "on"),
            (!self.enabled, "off"),
            (self.nopass, "nopass"),
            (self.sanitize == Some(false), "skip-sanitize-payload"),
            (self.sanitize == Some(true), "sanitize-payload"),
        ]
    }
}

/// One ACL LOG entry.
pub(crate) struct LogEntry {
    count: u64,
    reason: &'static str,
    context: &'static str,
    object: Vec<u8>,
    username: String,
    created_ms: u64,
    client_info: String,
}

/// The user registry and the security log.
pub(crate) struct Acl {
    users: BTreeMap<String, User>,
    log: VecDeque<LogEntry>,
    /// Every user is unrestricted and needs no password: checks are off.
    open: bool,
    /// `acl-pubsub-default`: do new users start with `allchannels`?
    pub all_channels_default: bool,
}

impl Default for Acl {
    fn default() -> Acl {
        let mut default = User::new("default", true);
        for op in [&b"+@all"[..], b"~*", b"&*", b"on", b"nopass"] {
            let _ = default.apply(op, true);
        }
        let mut users = BTreeMap::new();
        users.insert("default".to_owned(), default);
        let mut acl = Acl {
            users,
            log: VecDeque::new(),
            open: true,
            all_channels_default: false,
        };
        acl.refresh();
        acl
    }
}

/// What a client gets when it authenticates: the user's name, or why not.
pub(crate) type AuthResult = Result<String, ()>;

impl Acl {
    fn refresh(&mut self) {
        self.open = self.users.values().all(User::unrestricted);
    }

    pub(crate) fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    /// Whether new connections start authenticated (as `default`): its
    /// user needs no password and is enabled (Redis's authRequired).
    pub(crate) fn default_needs_no_auth(&self) -> bool {
        self.users
            .get("default")
            .is_some_and(|u| u.nopass && u.enabled)
    }

    pub(crate) fn default_nopass(&self) -> bool {
        self.users.get("default").is_some_and(|u| u.nopass)
    }

    /// `requirepass`: the default user's only password, or none.
    pub(crate) fn set_default_password(&mut self, password: &[u8]) {
        let default = self.users.get_mut("default").expect("default user");
        let _ = default.apply(b"resetpass", true);
        if password.is_empty() {
            let _ = default.apply(b"nopass", true);
        } else {
            let mut op = b">".to_vec();
            op.extend_from_slice(password);
            let _ = default.apply(&op, true);
        }
        self.refresh();
    }

    /// Redis's ACLCheckUserCredentials.
    pub(crate) fn authenticate(&self, name: &[u8], password: &[u8]) -> AuthResult {
        let name = std::str::from_utf8(name).map_err(|_| ())?;
        let user = self.users.get(name).ok_or(())?;
        if !user.enabled {
            return Err(());
        }
        if user.nopass {
            return Ok(user.name.clone());
        }
        let hash = hash_password(password);
        // Compare every stored digest fully: no early exit on a byte.
        let mut ok = false;
        for p in &user.passwords {
            let same = p
                .bytes()
                .zip(hash.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
            ok |= same;
        }
        if ok {
            Ok(user.name.clone())
        } else {
            Err(())
        }
    }

    /// Whether checks can be skipped for `name` without building a request.
    pub(crate) fn unrestricted(&self, name: &str) -> bool {
        // `default` cannot be deleted; any other name is looked up, so a
        // client of a user deleted a moment ago is refused, not let in.
        (self.open && name == "default") || self.users.get(name).is_some_and(User::unrestricted)
    }

    /// ACL SETUSER: all rules apply, or none (Redis stages a copy).
    pub(crate) fn set_user(&mut self, name: &[u8], rules: &[bytes::Bytes]) -> Result<(), String> {
        if has_spaces(name) {
            return Err("ERR Usernames can't contain spaces or null characters".into());
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let merged = merge_selectors(rules)?;
        let mut user = self
            .users
            .get(&name)
            .cloned()
            .unwrap_or_else(|| User::new(&name, self.all_channels_default));
        for op in &merged {
            user.apply(op, self.all_channels_default).map_err(|e| {
                format!(
                    "ERR Error in ACL SETUSER modifier '{}': {}",
                    String::from_utf8_lossy(op),
                    e.message()
                )
            })?;
        }
        self.users.insert(name, user);
        self.refresh();
        Ok(())
    }

    /// ACL DELUSER: the names removed.
    pub(crate) fn delete(&mut self, names: &[bytes::Bytes]) -> Result<Vec<String>, String> {
        if names.iter().any(|n| &n[..] == b"default") {
            return Err("ERR The 'default' user cannot be removed".into());
        }
        let mut removed = Vec::new();
        for n in names {
            let n = String::from_utf8_lossy(n);
            if self.users.remove(n.as_ref()).is_some() {
                removed.push(n.into_owned());
            }
        }
        self.refresh();
        Ok(removed)
    }

    /// The users whose definition differs in `before` (changed or gone):
    /// ACL LOAD disconnects their clients.
    pub(crate) fn changed_since(&self, before: &BTreeMap<String, User>) -> Vec<String> {
        before
            .iter()
            .filter(|(name, user)| self.users.get(*name) != Some(*user))
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub(crate) fn users(&self) -> &BTreeMap<String, User> {
        &self.users
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// ACL LIST's lines.
    pub(crate) fn list(&self) -> Vec<String> {
        self.users
            .values()
            .map(|u| format!("user {} {}", u.name, u.describe()))
            .collect()
    }

    /// Whether `name` may keep a subscription to `channel`.
    pub(crate) fn may_use_channel(&self, name: &str, channel: &[u8], is_pattern: bool) -> bool {
        self.users
            .get(name)
            .is_some_and(|u| u.may_use_channel(channel, is_pattern))
    }

    /// Redis's addACLLogEntry: a repeat of one of the last ten entries is
    /// counted on it (and moved to the front) instead of added. `reason`
    /// is [`Denied::log_reason`], or `auth` for a failed login.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn log(
        &mut self,
        reason: &'static str,
        context: &'static str,
        object: &[u8],
        username: &str,
        now_ms: u64,
        client_info: String,
        max_len: usize,
    ) {
        let same = self.log.iter().take(10).position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
        });
        if let Some(at) = same {
            let mut entry = self.log.remove(at).expect("found");
            entry.count += 1;
            entry.created_ms = now_ms;
            entry.client_info = client_info;
            self.log.push_front(entry);
            return;
        }
        self.log.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_owned(),
            created_ms: now_ms,
            client_info,
        });
        self.log.truncate(max_len);
    }

    pub(crate) fn log_entries(&self) -> &VecDeque<LogEntry> {
        &self.log
    }

    pub(crate) fn reset_log(&mut self) {
        self.log.clear();
    }

    /// ACL LOAD: replaces every user with the file's, or changes nothing.
    pub(crate) fn load(&mut self, text: &str) -> Result<(), String> {
        let mut fresh = Acl {
            users: BTreeMap::new(),
            log: VecDeque::new(),
            open: false,
            all_channels_default: self.all_channels_default,
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<bytes::Bytes> = line
                .split_whitespace()
                .map(|w| bytes::Bytes::copy_from_slice(w.as_bytes()))
                .collect();
            if words.len() < 2 || &words[0][..] != b"user" {
                return Err(format!(
                    "ERR /{}:{}: should start with user keyword",
                    "aclfile",
                    n + 1
                ));
            }
            if fresh
                .users
                .contains_key(&*String::from_utf8_lossy(&words[1]))
            {
                return Err(format!(
                    "ERR {}:{}: Duplicate user '{}' found",
                    "aclfile",
                    n + 1,
                    String::from_utf8_lossy(&words[1])
                ));
            }
            let mut rules = vec![bytes::Bytes::from_static(b"reset")];
            rules.extend_from_slice(&words[2..]);
            fresh
                .set_user(&words[1], &rules)
                .map_err(|e| format!("{e}. Line {}", n + 1))?;
        }
        if !fresh.users.contains_key("default") {
            let default = Acl::default().users.remove("default").expect("default");
            fresh.users.insert("default".into(), default);
        }
        self.users = fresh.users;
        self.refresh();
        Ok(())
    }
}

/// Redis's ACLMergeSelectorArguments: `(` … `)` spread over several
/// arguments become one rule.
fn merge_selectors(rules: &[bytes::Bytes]) -> Result<Vec<Vec<u8>>, String> {
    let mut merged = Vec::new();
    let mut open: Option<Vec<u8>> = None;
    let mut opened_at = &rules[..0];
    for (i, op) in rules.iter().enumerate() {
        if let Some(sel) = &mut open {
            sel.push(b' ');
            sel.extend_from_slice(op);
            if op.ends_with(b")") {
                merged.push(open.take().expect("open"));
            }
            continue;
        }
        if op.first() == Some(&b'(') && !op.ends_with(b")") {
            open = Some(op.to_vec());
            opened_at = &rules[i..=i];
            continue;
        }
        merged.push(op.to_vec());
    }
    if open.is_some() {
        return Err(format!(
            "ERR Unmatched parenthesis in acl selector starting at '{}'.",
            String::from_utf8_lossy(&opened_at[0])
        ));
    }
    Ok(merged)
}

/// Random lowercase hex for ACL GENPASS, from the OS.
pub(crate) fn random_hex(chars: usize) -> String {
    use std::io::Read;
    let mut bytes = vec![0u8; chars.div_ceil(2)];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    let mut out: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.truncate(chars);
    out
}
