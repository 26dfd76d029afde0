//! Connection and server commands, and the table that joins them with the
//! store's data commands.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use shoal_resp::{Protocol, Reply};
use shoal_store::cmd::spec;
use shoal_store::{CommandSpec, Error, Value};

use crate::acl::SubcommandInfo;
use crate::conn::{run_command, ClientState, Clock, ReplyMode};
use crate::{info, Engine, Shared};

type Result<T = (), E = Error> = std::result::Result<T, E>;

/// What a server command runs with.
pub(crate) struct Call<'a> {
    pub client: &'a mut ClientState,
    pub shared: &'a Shared,
    pub engine: &'a mut Engine,
    pub out: &'a mut Vec<u8>,
    pub args: &'a [Bytes],
    pub now_ms: u64,
    pub clock: &'a mut Clock,
}

impl Call<'_> {
    pub(crate) fn reply(&mut self) -> Reply<'_> {
        Reply::new(self.out, self.client.protocol)
    }
}

pub(crate) type ServerHandler = fn(&mut Call<'_>) -> Result;

/// A command of either kind.
pub(crate) struct Command {
    pub spec: &'static CommandSpec,
    /// `None` for the store's data commands.
    pub server: Option<ServerHandler>,
}

static SERVER_COMMANDS: &[(CommandSpec, ServerHandler)] = &[
    (
        spec(
            "ping",
            -1,
            "fast sentinel",
            (0, 0, 0),
            "connection",
            "Ping the server",
            None,
        ),
        ping,
    ),
    (
        spec(
            "echo",
            2,
            "loading stale fast",
            (0, 0, 0),
            "connection",
            "Echo the given string",
            None,
        ),
        echo,
    ),
    (
        spec(
            "quit",
            -1,
            "allow_busy no-auth fast noscript loading stale",
            (0, 0, 0),
            "connection",
            "Close the connection",
            None,
        ),
        quit,
    ),
    (
        spec(
            "hello",
            -1,
            "noscript loading stale fast no-auth sentinel allow_busy",
            (0, 0, 0),
            "connection",
            "Handshake with Redis",
            None,
        ),
        hello,
    ),
    (
        spec(
            "auth",
            -2,
            "noscript loading stale fast no-auth sentinel allow_busy",
            (0, 0, 0),
            "connection",
            "Authenticate to the server",
            None,
        ),
        auth,
    ),
    (
        spec(
            "select",
            2,
            "loading stale fast",
            (0, 0, 0),
            "connection",
            "Change the selected database for the current connection",
            None,
        ),
        select,
    ),
    (
        spec(
            "reset",
            1,
            "noscript loading stale fast no-auth allow_busy",
            (0, 0, 0),
            "connection",
            "Reset the connection",
            None,
        ),
        reset,
    ),
    (
        spec(
            "acl",
            -2,
            "sentinel",
            (0, 0, 0),
            "server",
            "A container for Access List Control commands",
            None,
        ),
        crate::acl::command::acl,
    ),
    (
        spec(
            "client",
            -2,
            "sentinel",
            (0, 0, 0),
            "connection",
            "A container for client connection commands",
            None,
        ),
        client,
    ),
    (
        spec(
            "multi",
            1,
            "noscript loading stale fast allow_busy",
            (0, 0, 0),
            "transactions",
            "Mark the start of a transaction block",
            None,
        ),
        multi,
    ),
    (
        spec(
            "exec",
            1,
            "noscript loading stale skip_slowlog",
            (0, 0, 0),
            "transactions",
            "Execute all commands issued after MULTI",
            None,
        ),
        exec,
    ),
    (
        spec(
            "discard",
            1,
            "noscript loading stale fast allow_busy",
            (0, 0, 0),
            "transactions",
            "Discard all commands issued after MULTI",
            None,
        ),
        discard,
    ),
    (
        spec(
            "watch",
            -2,
            "noscript loading stale fast allow_busy",
            (1, -1, 1),
            "transactions",
            "Watch the given keys to determine execution of the MULTI/EXEC block",
            None,
        ),
        watch,
    ),
    (
        spec(
            "unwatch",
            1,
            "noscript loading stale fast allow_busy",
            (0, 0, 0),
            "transactions",
            "Forget about all watched keys",
            None,
        ),
        unwatch,
    ),
    (
        spec(
            "info",
            -1,
            "loading stale sentinel",
            (0, 0, 0),
            "server",
            "Get information and statistics about the server",
            None,
        ),
        info_cmd,
    ),
    (
        spec(
            "config",
            -2,
            "admin noscript loading stale",
            (0, 0, 0),
            "server",
            "A container for server configuration commands",
            None,
        ),
        config,
    ),
    (
        spec(
            "command",
            -1,
            "loading stale sentinel",
            (0, 0, 0),
            "server",
            "Get array of Redis command details",
            None,
        ),
        command,
    ),
    (
        spec(
            "time",
            1,
            "loading stale fast",
            (0, 0, 0),
            "server",
            "Return the current server time",
            None,
        ),
        time,
    ),
    (
        spec(
            "lastsave",
            1,
            "loading stale fast",
            (0, 0, 0),
            "server",
            "Get the UNIX time stamp of the last successful save to disk",
            None,
        ),
        lastsave,
    ),
    (
        spec(
            "save",
            1,
            "admin noscript no_async_loading no_multi",
            (0, 0, 0),
            "server",
            "Synchronously save the dataset to disk",
            None,
        ),
        save,
    ),
    (
        spec(
            "bgsave",
            -1,
            "admin noscript no_async_loading",
            (0, 0, 0),
            "server",
            "Asynchronously save the dataset to disk",
            None,
        ),
        bgsave,
    ),
    (
        spec(
            "bgrewriteaof",
            1,
            "admin noscript no_async_loading",
            (0, 0, 0),
            "server",
            "Asynchronously rewrite the append-only file",
            None,
        ),
        bgrewriteaof,
    ),
    (
        spec(
            "debug",
            -2,
            "admin noscript loading stale",
            (0, 0, 0),
            "server",
            "A container for debugging commands",
            None,
        ),
        debug,
    ),
    (
        spec(
            "slowlog",
            -2,
            "admin loading stale",
            (0, 0, 0),
            "server",
            "A container for slow log commands",
            None,
        ),
        slowlog,
    ),
    (
        spec(
            "eval",
            -3,
            "noscript skip_monitor may_replicate no_mandatory_keys stale",
            (0, 0, 0),
            "scripting",
            "Execute a Lua script server side",
            None,
        ),
        |c| crate::script::eval(c, false, false),
    ),
    (
        spec(
            "evalsha",
            -3,
            "noscript skip_monitor may_replicate no_mandatory_keys stale",
            (0, 0, 0),
            "scripting",
            "Execute a Lua script server side",
            None,
        ),
        |c| crate::script::eval(c, true, false),
    ),
    (
        spec(
            "eval_ro",
            -3,
            "readonly noscript skip_monitor no_mandatory_keys stale",
            (0, 0, 0),
            "scripting",
            "Execute a read-only Lua script server side",
            None,
        ),
        |c| crate::script::eval(c, false, true),
    ),
    (
        spec(
            "evalsha_ro",
            -3,
            "readonly noscript skip_monitor no_mandatory_keys stale",
            (0, 0, 0),
            "scripting",
            "Execute a read-only Lua script server side",
            None,
        ),
        |c| crate::script::eval(c, true, true),
    ),
    (
        spec(
            "script",
            -2,
            "noscript",
            (0, 0, 0),
            "scripting",
            "A container for Lua scripts management commands",
            None,
        ),
        crate::script::script,
    ),
    (
        spec(
            "fcall",
            -3,
            "noscript skip_monitor may_replicate no_mandatory_keys stale",
            (0, 0, 0),
            "scripting",
            "Invoke a function",
            None,
        ),
        |c| crate::script::fcall(c, false),
    ),
    (
        spec(
            "fcall_ro",
            -3,
            "readonly noscript skip_monitor no_mandatory_keys stale",
            (0, 0, 0),
            "scripting",
            "Invoke a read-only function",
            None,
        ),
        |c| crate::script::fcall(c, true),
    ),
    (
        spec(
            "sync",
            1,
            "admin noscript no_async_loading no_multi",
            (0, 0, 0),
            "server",
            "Internal command used for replication",
            None,
        ),
        sync,
    ),
    (
        spec(
            "psync",
            -3,
            "admin noscript no_async_loading no_multi",
            (0, 0, 0),
            "server",
            "Internal command used for replication",
            None,
        ),
        sync,
    ),
    (
        spec(
            "replconf",
            -1,
            "admin noscript loading stale allow_busy",
            (0, 0, 0),
            "server",
            "An internal command for configuring the replication stream",
            None,
        ),
        replconf,
    ),
    (
        spec(
            "role",
            1,
            "noscript loading stale fast",
            (0, 0, 0),
            "server",
            "Return the role of the instance in the context of replication",
            None,
        ),
        role,
    ),
    (
        spec(
            "wait",
            3,
            "noscript",
            (0, 0, 0),
            "generic",
            "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
            None,
        ),
        wait,
    ),
    (
        spec(
            "replicaof",
            3,
            "admin noscript stale no_async_loading",
            (0, 0, 0),
            "server",
            "Make the server a replica of another instance, or promote it as master.",
            None,
        ),
        replicaof,
    ),
    (
        spec(
            "slaveof",
            3,
            "admin noscript stale no_async_loading",
            (0, 0, 0),
            "server",
            "Make the server a replica of another instance, or promote it as master. Deprecated starting with Redis 5. Use REPLICAOF instead.",
            None,
        ),
        replicaof,
    ),
    (
        spec(
            "monitor",
            1,
            "admin noscript loading stale",
            (0, 0, 0),
            "server",
            "Listen for all requests received by the server in real time",
            None,
        ),
        monitor,
    ),
    (
        spec(
            "memory",
            -2,
            "",
            (2, 2, 1),
            "server",
            "A container for memory diagnostics commands",
            None,
        ),
        memory,
    ),
    (
        spec(
            "function",
            -2,
            "",
            (0, 0, 0),
            "scripting",
            "A container for function commands",
            None,
        ),
        crate::script::function,
    ),
    (
        spec(
            "shutdown",
            -1,
            "admin noscript loading stale no_multi sentinel allow_busy",
            (0, 0, 0),
            "server",
            "Synchronously save the dataset to disk and then shut down the server",
            None,
        ),
        shutdown,
    ),
    (
        spec(
            "subscribe",
            -2,
            "pubsub noscript loading stale",
            (0, 0, 0),
            "pubsub",
            "Listen for messages published to the given channels",
            None,
        ),
        crate::pubsub::subscribe,
    ),
    (
        spec(
            "unsubscribe",
            -1,
            "pubsub noscript loading stale",
            (0, 0, 0),
            "pubsub",
            "Stop listening for messages posted to the given channels",
            None,
        ),
        crate::pubsub::unsubscribe,
    ),
    (
        spec(
            "psubscribe",
            -2,
            "pubsub noscript loading stale",
            (0, 0, 0),
            "pubsub",
            "Listen for messages published to channels matching the given patterns",
            None,
        ),
        crate::pubsub::psubscribe,
    ),
    (
        spec(
            "punsubscribe",
            -1,
            "pubsub noscript loading stale",
            (0, 0, 0),
            "pubsub",
            "Stop listening for messages posted to channels matching the given patterns",
            None,
        ),
        crate::pubsub::punsubscribe,
    ),
    (
        spec(
            "ssubscribe",
            -2,
            "pubsub noscript loading stale",
            (1, -1, 1),
            "pubsub",
            "Listen for messages published to the given shard channels",
            None,
        ),
        crate::pubsub::ssubscribe,
    ),
    (
        spec(
            "sunsubscribe",
            -1,
            "pubsub noscript loading stale",
            (1, -1, 1),
            "pubsub",
            "Stop listening for messages posted to the given shard channels",
            None,
        ),
        crate::pubsub::sunsubscribe,
    ),
    (
        spec(
            "publish",
            3,
            "pubsub loading stale fast may_replicate",
            (0, 0, 0),
            "pubsub",
            "Post a message to a channel",
            None,
        ),
        crate::pubsub::publish,
    ),
    (
        spec(
            "spublish",
            3,
            "pubsub loading stale fast",
            (1, 1, 1),
            "pubsub",
            "Post a message to a shard channel",
            None,
        ),
        crate::pubsub::spublish,
    ),
    (
        spec(
            "pubsub",
            -2,
            "",
            (0, 0, 0),
            "pubsub",
            "A container for Pub/Sub commands",
            None,
        ),
        crate::pubsub::pubsub,
    ),
];

/// Every command: the store's, then the server's. Indexes are stable for
/// the process's life (INFO commandstats counters are kept by index).
pub(crate) fn table() -> &'static [Command] {
    static TABLE: OnceLock<Vec<Command>> = OnceLock::new();
    TABLE.get_or_init(|| {
        shoal_store::commands()
            .map(|spec| Command { spec, server: None })
            .chain(SERVER_COMMANDS.iter().map(|(spec, h)| Command {
                spec,
                server: Some(*h),
            }))
            .collect()
    })
}

pub(crate) fn lookup(name: &[u8]) -> Option<(usize, &'static Command)> {
    // Looked up for every command: a fast fixed hasher, not SipHash (the
    // names are ours, so there is nothing to defend against).
    type Names = HashMap<&'static [u8], usize, foldhash::fast::FixedState>;
    static BY_NAME: OnceLock<Names> = OnceLock::new();
    let map = BY_NAME.get_or_init(|| {
        table()
            .iter()
            .enumerate()
            .map(|(i, c)| (c.spec.name.as_bytes(), i))
            .collect()
    });
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let index = *map.get(&*lower)?;
    Some((index, &table()[index]))
}

pub(crate) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

/// Redis's syntax error for a command with subcommands it doesn't
/// resolve as commands of their own (DEBUG).
pub(crate) fn unknown_subcommand(args: &[Bytes], container: &str) -> Error {
    Error::Other(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        text(&args[1]),
        container
    ))
}

/// Container commands' subcommands with their arity. Redis 7.0 resolves
/// `client|setname` as a command of its own, so an unknown subcommand and a
/// known one with the wrong arity get different errors — at MULTI queueing
/// time too. Subcommands Shoal does not offer are absent, and get Redis's
/// unknown-subcommand error.
static SUBCOMMANDS: &[(&str, &[(&str, i32)])] = &[
    (
        "acl",
        &[
            ("cat", -2),
            ("deluser", -3),
            ("dryrun", -4),
            ("genpass", -2),
            ("getuser", 3),
            ("help", 2),
            ("list", 2),
            ("load", 2),
            ("log", -2),
            ("save", 2),
            ("setuser", -3),
            ("users", 2),
            ("whoami", 2),
        ],
    ),
    (
        "client",
        &[
            ("getname", 2),
            ("caching", 3),
            ("getredir", 2),
            ("help", 2),
            ("id", 2),
            ("info", 2),
            ("kill", -3),
            ("list", -2),
            ("no-evict", 3),
            ("pause", -3),
            ("reply", 3),
            ("setname", 3),
            ("tracking", -3),
            ("trackinginfo", 2),
            ("unblock", -3),
            ("unpause", 2),
        ],
    ),
    (
        "config",
        &[
            ("get", -3),
            ("help", 2),
            ("resetstat", 2),
            ("rewrite", 2),
            ("set", -4),
        ],
    ),
    (
        "command",
        &[
            ("count", 2),
            ("docs", -2),
            ("getkeys", -4),
            ("getkeysandflags", -4),
            ("help", 2),
            ("info", -2),
            ("list", -2),
        ],
    ),
    (
        "object",
        &[
            ("encoding", 3),
            ("freq", 3),
            ("help", 2),
            ("idletime", 3),
            ("refcount", 3),
        ],
    ),
    (
        "memory",
        &[
            ("doctor", 2),
            ("help", 2),
            ("malloc-stats", 2),
            ("purge", 2),
            ("stats", 2),
            ("usage", -3),
        ],
    ),
    (
        "function",
        &[
            ("delete", 3),
            ("flush", -2),
            ("help", 2),
            ("kill", 2),
            ("list", -2),
            ("load", -3),
            ("stats", 2),
        ],
    ),
    (
        "script",
        &[
            ("exists", -3),
            ("flush", -2),
            ("help", 2),
            ("kill", 2),
            ("load", 3),
        ],
    ),
    (
        "xinfo",
        &[("consumers", 4), ("groups", 3), ("help", 2), ("stream", -3)],
    ),
    (
        "xgroup",
        &[
            ("create", -5),
            ("createconsumer", 5),
            ("delconsumer", 5),
            ("destroy", 4),
            ("help", 2),
            ("setid", -5),
        ],
    ),
    (
        "slowlog",
        &[("get", -2), ("help", 2), ("len", 2), ("reset", 2)],
    ),
    (
        "pubsub",
        &[
            ("channels", -2),
            ("help", 2),
            ("numpat", 2),
            ("numsub", -2),
            ("shardchannels", -2),
            ("shardnumsub", -2),
        ],
    ),
];

/// C's `%.128s` of an argument: at most 128 bytes, ending at a NUL.
pub(crate) fn c_string(arg: &[u8]) -> String {
    let end = arg
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(arg.len())
        .min(128);
    String::from_utf8_lossy(&arg[..end]).into_owned()
}

/// Checks the subcommand of a container command (see [`SUBCOMMANDS`]).
/// Whether Redis runs this command while the dataset loads: its `loading`
/// flag, which for a container belongs to the subcommand.
pub(crate) fn runs_while_loading(spec: &CommandSpec, args: &[Bytes]) -> bool {
    if !is_container(spec.name) {
        return spec.has_flag("loading");
    }
    args.get(1)
        .and_then(|sub| crate::acl::subcommand_info(&subcommand_name(spec.name, sub)))
        .is_some_and(|s| s.2.split(' ').any(|f| f == "loading"))
}

/// Whether `name` is a container command of [`SUBCOMMANDS`].
fn is_container(name: &str) -> bool {
    SUBCOMMANDS.iter().any(|(n, _)| *n == name)
}

/// `parent|sub` for a container's subcommand argument, as Redis's command
/// table names it (lowercase).
fn subcommand_name(parent: &str, sub: &[u8]) -> String {
    let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
    format!("{parent}|{sub}")
}

pub(crate) fn check_subcommand(name: &str, args: &[Bytes]) -> Result {
    let Some((_, subs)) = SUBCOMMANDS.iter().find(|(n, _)| *n == name) else {
        return Ok(());
    };
    let Some(sub) = args.get(1) else {
        return Ok(());
    };
    let Some((sub_name, arity)) = subs.iter().find(|(s, _)| is(sub, s)) else {
        return Err(Error::Other(format!(
            "unknown subcommand '{}'. Try {} HELP.",
            c_string(sub),
            name.to_ascii_uppercase()
        )));
    };
    let argc = args.len() as i32;
    let fits = if *arity >= 0 {
        argc == *arity
    } else {
        argc >= -arity
    };
    if !fits {
        return Err(Error::WrongArity(format!("{name}|{sub_name}")));
    }
    Ok(())
}

fn ping(c: &mut Call<'_>) -> Result {
    if c.client.protocol == Protocol::Resp2 && c.client.subs.active() {
        // In subscribed mode a RESP2 reply must look like a message.
        let msg = c.args.get(1).cloned().unwrap_or_default();
        if c.args.len() > 2 {
            return Err(Error::WrongArity("ping".into()));
        }
        let mut r = c.reply();
        r.array(2);
        r.bulk(b"pong");
        r.bulk(&msg);
        return Ok(());
    }
    match c.args.len() {
        1 => c.reply().simple("PONG"),
        2 => {
            let msg = c.args[1].clone();
            c.reply().bulk(&msg)
        }
        _ => return Err(Error::WrongArity("ping".into())),
    }
    Ok(())
}

fn echo(c: &mut Call<'_>) -> Result {
    let msg = c.args[1].clone();
    c.reply().bulk(&msg);
    Ok(())
}

fn quit(c: &mut Call<'_>) -> Result {
    c.reply().ok();
    c.client.close_after_reply = true;
    Ok(())
}

fn auth(c: &mut Call<'_>) -> Result {
    let (user, pass): (Bytes, Bytes) = match c.args.len() {
        2 => (Bytes::from_static(b"default"), c.args[1].clone()),
        3 => (c.args[1].clone(), c.args[2].clone()),
        _ => return Err(Error::Syntax),
    };
    if c.args.len() == 2 && c.engine.acl.default_nopass() {
        return Err(Error::Other("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into()));
    }
    crate::acl::command::authenticate(c, &user, &pass)?;
    c.reply().ok();
    Ok(())
}

fn hello(c: &mut Call<'_>) -> Result {
    let mut protocol = c.client.protocol;
    let mut i = 1;
    if c.args.len() >= 2 {
        let version = shoal_store::parse_i64_exact(&c.args[1]).ok_or_else(|| {
            Error::Other("Protocol version is not an integer or out of range".into())
        })?;
        protocol = match version {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(Error::Raw("NOPROTO unsupported protocol version".into())),
        };
        i = 2;
    }
    let mut name = None;
    let mut authed = false;
    while i < c.args.len() {
        let more = c.args.len() - i - 1;
        if is(&c.args[i], "auth") && more >= 2 {
            let (user, pass) = (c.args[i + 1].clone(), c.args[i + 2].clone());
            crate::acl::command::authenticate(c, &user, &pass)?;
            authed = true;
            i += 3;
        } else if is(&c.args[i], "setname") && more >= 1 {
            name = Some(c.args[i + 1].clone());
            i += 2;
        } else {
            return Err(Error::Other(format!(
                "Syntax error in HELLO option '{}'",
                text(&c.args[i])
            )));
        }
    }
    if !c.client.authenticated && !authed {
        return Err(Error::Raw("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into()));
    }
    if let Some(name) = name {
        c.client.name = Some(valid_client_name(&name)?);
    }
    c.client.authenticated = true;
    c.client.protocol = protocol;
    c.client
        .handle
        .resp3
        .store(protocol == Protocol::Resp3, Ordering::Relaxed);
    let id = c.client.id;
    let mut r = c.reply();
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(info::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.integer(if protocol == Protocol::Resp3 { 3 } else { 2 });
    r.bulk(b"id");
    r.integer(id as i64);
    r.bulk(b"mode");
    r.bulk(b"standalone");
    r.bulk(b"role");
    r.bulk(b"master");
    r.bulk(b"modules");
    r.array(0);
    Ok(())
}

fn select(c: &mut Call<'_>) -> Result {
    let index = shoal_store::parse_i64_exact(&c.args[1]).ok_or(Error::NotInteger)?;
    if i32::try_from(index).is_err() {
        return Err(Error::Other(
            "value is out of range, value must between -2147483648 and 2147483647".into(),
        ));
    }
    if index < 0 || index as usize >= c.engine.store.dbs.len() || index > i64::from(i32::MAX) {
        return Err(Error::DbIndexOutOfRange);
    }
    c.client.db = index as usize;
    c.reply().ok();
    Ok(())
}

fn reset(c: &mut Call<'_>) -> Result {
    if c.client.monitor.take().is_some() {
        crate::conn::stop_monitoring(c.shared, c.client.id);
    }
    c.client.multi = None;
    c.client.multi_failed = false;
    c.client.unwatch_all(&mut c.engine.store);
    c.engine.pubsub.forget(&mut c.client.subs, c.client.id);
    c.engine.tracking.forget(c.client.id);
    c.client.handle.info.lock().subs = [0; 3];
    c.client.db = 0;
    c.client.protocol = Protocol::Resp2;
    c.client.handle.resp3.store(false, Ordering::Relaxed);
    c.client.reply_mode = ReplyMode::On;
    c.client.name = None;
    c.client.authenticated = c.engine.acl.default_needs_no_auth();
    c.client.user = "default".into();
    c.client.handle.info.lock().user = "default".into();
    c.reply().simple("RESET");
    Ok(())
}

fn valid_client_name(name: &[u8]) -> Result<String> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Error::Other(
            "Client names cannot contain spaces, newlines or special characters.".into(),
        ));
    }
    Ok(text(name))
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients of specified IDs only.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "HELP",
    "    Print this help.",
];

/// The caller as CLIENT LIST / INFO show it while the command runs: its
/// live state, the running command, and that command still in the query
/// buffer (as Redis's `qbuf` counts it).
struct Caller {
    id: u64,
    db: usize,
    name: Option<String>,
    multi: i64,
    cmd: String,
    qbuf: usize,
}

impl Caller {
    fn of(c: &Call<'_>) -> Caller {
        let qbuf = 1
            + c.args.len().to_string().len()
            + 2
            + c.args
                .iter()
                .map(|a| 1 + a.len().to_string().len() + 2 + a.len() + 2)
                .sum::<usize>();
        Caller {
            id: c.client.id,
            db: c.client.db,
            name: c.client.name.clone(),
            multi: c.client.multi.as_ref().map_or(-1, |m| m.len() as i64),
            cmd: format!(
                "{}|{}",
                String::from_utf8_lossy(&c.args[0]).to_ascii_lowercase(),
                String::from_utf8_lossy(&c.args[1]).to_ascii_lowercase()
            ),
            qbuf,
        }
    }
}

/// The CLIENT LIST line of `client` as it runs `cmd` (ACL LOG's
/// `client-info`).
pub(crate) fn client_info_line(client: &ClientState, engine: &Engine, cmd: &str) -> String {
    let caller = Caller {
        id: client.id,
        db: client.db,
        name: client.name.clone(),
        multi: client.multi.as_ref().map_or(-1, |m| m.len() as i64),
        cmd: cmd.to_owned(),
        qbuf: 0,
    };
    client_line(&client.handle, engine, &caller)
}

/// One CLIENT LIST line; `blocked` comes from the blocking registry.
fn client_line(h: &crate::ClientHandle, engine: &crate::Engine, caller: &Caller) -> String {
    let blocked = engine.blocked.contains(h.id);
    let mut info = h.info.lock().clone();
    let mut qbuf = 0;
    let mut cmd = info.last_command.to_string();
    if h.id == caller.id {
        info.db = caller.db;
        info.name.clone_from(&caller.name);
        info.multi = caller.multi;
        cmd.clone_from(&caller.cmd);
        qbuf = caller.qbuf;
    }
    let mut flags = String::new();
    if info.subs.iter().any(|&n| n > 0) {
        flags.push('P');
    }
    if info.multi >= 0 {
        flags.push('x');
    }
    if blocked {
        flags.push('b');
    }
    flags.push_str(engine.tracking.flags(h.id));
    if flags.is_empty() {
        flags.push('N');
    }
    format!(
        "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={qbuf} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir={} resp={}\n",
        h.id,
        h.addr,
        h.laddr,
        info.name.unwrap_or_default(),
        h.created.elapsed().as_secs(),
        info.last_interaction.elapsed().as_secs(),
        flags,
        info.db,
        info.subs[0],
        info.subs[1],
        info.subs[2],
        info.multi,
        cmd,
        info.user,
        crate::tracking::redirect_of(engine, h.id),
        info.resp,
    )
}

fn client(c: &mut Call<'_>) -> Result {
    let sub = c.args[1].clone();
    let argc = c.args.len();
    if is(&sub, "help") && argc == 2 {
        c.reply().help(CLIENT_HELP);
    } else if is(&sub, "id") && argc == 2 {
        let id = c.client.id as i64;
        c.reply().integer(id);
    } else if is(&sub, "getname") && argc == 2 {
        match c.client.name.clone() {
            Some(name) => c.reply().bulk(name.as_bytes()),
            None => c.reply().null(),
        }
    } else if is(&sub, "setname") && argc == 3 {
        let name = c.args[2].clone();
        c.client.name = if name.is_empty() {
            None
        } else {
            Some(valid_client_name(&name)?)
        };
        c.reply().ok();
    } else if is(&sub, "info") && argc == 2 {
        let line = client_line(&c.client.handle, c.engine, &Caller::of(c));
        c.reply().verbatim("txt", line.as_bytes());
    } else if is(&sub, "list") {
        let mut ids: Option<Vec<u64>> = None;
        // None: any type; Some(true): only subscribers; Some(false): only
        // normal clients.
        let mut pubsub_type: Option<bool> = None;
        let mut i = 2;
        while i < argc {
            if is(&c.args[i], "type") && i + 1 < argc {
                let t = &c.args[i + 1];
                if !["normal", "master", "replica", "slave", "pubsub"]
                    .iter()
                    .any(|w| is(t, w))
                {
                    return Err(Error::Other(format!("Unknown client type '{}'", text(t))));
                }
                if is(t, "normal") {
                    pubsub_type = Some(false);
                } else if is(t, "pubsub") {
                    pubsub_type = Some(true);
                } else {
                    ids = Some(Vec::new());
                }
                i += 2;
            } else if is(&c.args[i], "id") && i + 1 < argc {
                let mut wanted = Vec::new();
                for a in &c.args[i + 1..] {
                    let id = shoal_store::parse_i64_exact(a)
                        .filter(|&n| n > 0)
                        .ok_or_else(|| Error::Other("Invalid client ID".into()))?;
                    wanted.push(id as u64);
                }
                ids = Some(wanted);
                i = argc;
            } else {
                return Err(Error::Syntax);
            }
        }
        let caller = Caller::of(c);
        let mut handles: Vec<_> = c.shared.clients.lock().values().cloned().collect();
        handles.sort_by_key(|h| h.id);
        let text: String = handles
            .iter()
            .filter(|h| ids.as_ref().map_or(true, |ids| ids.contains(&h.id)))
            .filter(|h| {
                pubsub_type.map_or(true, |want| {
                    h.info.lock().subs.iter().any(|&n| n > 0) == want
                })
            })
            .map(|h| client_line(h, c.engine, &caller))
            .collect();
        c.reply().verbatim("txt", text.as_bytes());
    } else if is(&sub, "kill") {
        return client_kill(c);
    } else if is(&sub, "reply") && argc == 3 {
        let mode = &c.args[2];
        if is(mode, "on") {
            c.client.reply_mode = ReplyMode::On;
            c.reply().ok();
        } else if is(mode, "off") {
            c.client.reply_mode = ReplyMode::Off;
        } else if is(mode, "skip") {
            if c.client.reply_mode == ReplyMode::On {
                c.client.reply_mode = ReplyMode::Skip;
            }
        } else {
            return Err(Error::Syntax);
        }
    } else if is(&sub, "pause") && (argc == 3 || argc == 4) {
        let ms = shoal_store::parse_i64_exact(&c.args[2])
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::Other("timeout is not an integer or out of range".into()))?;
        let all = match c.args.get(3) {
            None => true,
            Some(mode) if is(mode, "all") => true,
            Some(mode) if is(mode, "write") => false,
            Some(_) => return Err(Error::Syntax),
        };
        let until = std::time::Instant::now() + Duration::from_millis(ms as u64);
        let mut pause = c.shared.pause.lock();
        // A second pause can only extend or widen the one in force.
        let merged = match *pause {
            Some(p) if p.until > std::time::Instant::now() => crate::Pause {
                until: p.until.max(until),
                all: p.all || all,
            },
            _ => crate::Pause { until, all },
        };
        *pause = Some(merged);
        drop(pause);
        c.reply().ok();
    } else if is(&sub, "unpause") && argc == 2 {
        *c.shared.pause.lock() = None;
        c.shared.unpause.notify_waiters();
        c.reply().ok();
    } else if is(&sub, "unblock") && (argc == 3 || argc == 4) {
        shoal_store::parse_i64_exact(&c.args[2]).ok_or(Error::NotInteger)?;
        if let Some(reason) = c.args.get(3) {
            if !is(reason, "timeout") && !is(reason, "error") {
                return Err(Error::Other(
                    "CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into(),
                ));
            }
        }
        let id = shoal_store::parse_i64_exact(&c.args[2]).unwrap_or(0) as u64;
        let as_error = c.args.get(3).is_some_and(|r| is(r, "error"));
        let engine = &mut *c.engine;
        let unblocked = match engine.blocked.remove(&mut engine.store, id) {
            Some(waiter) => {
                let reply = if as_error {
                    let mut out = Vec::new();
                    Reply::new(&mut out, waiter.protocol)
                        .error("UNBLOCKED client unblocked via CLIENT UNBLOCK");
                    *engine.stats.errors.entry("UNBLOCKED".into()).or_default() += 1;
                    out
                } else {
                    waiter.timeout_reply()
                };
                waiter.handle.mailbox.unblock(&reply);
                1
            }
            None => 0,
        };
        c.reply().integer(unblocked);
    } else if is(&sub, "getredir") && argc == 2 {
        let redirect = crate::tracking::redirect_of(c.engine, c.client.id);
        c.reply().integer(redirect);
    } else if is(&sub, "tracking") && argc >= 3 {
        crate::tracking::client_tracking(c.engine, c.shared, c.client, c.args)?;
        c.reply().ok();
    } else if is(&sub, "caching") && argc >= 3 {
        crate::tracking::client_caching(c.engine, c.client, &c.args[2])?;
        c.reply().ok();
    } else if is(&sub, "trackinginfo") && argc == 2 {
        let mut out = Vec::new();
        crate::tracking::reply_info(
            c.engine,
            c.client.id,
            &mut Reply::new(&mut out, c.client.protocol),
        );
        c.reply().raw(&out);
    } else if is(&sub, "no-evict") && argc == 3 {
        if !is(&c.args[2], "on") && !is(&c.args[2], "off") {
            return Err(Error::Syntax);
        }
        c.reply().ok();
    } else {
        return Err(unknown_subcommand(c.args, "CLIENT"));
    }
    Ok(())
}

fn client_kill(c: &mut Call<'_>) -> Result {
    let argc = c.args.len();
    let clients: Vec<_> = c.shared.clients.lock().values().cloned().collect();
    let me = c.client.id;
    if argc == 3 {
        // Old form: CLIENT KILL addr, an error if no such client.
        let addr = text(&c.args[2]);
        let Some(target) = clients.iter().find(|h| h.addr.to_string() == addr) else {
            return Err(Error::Other("No such client".into()));
        };
        kill(c, target);
        c.reply().ok();
        return Ok(());
    }
    if argc < 4 || argc % 2 != 0 {
        return Err(Error::Syntax);
    }
    let mut skipme = true;
    let mut filters: Vec<(String, String)> = Vec::new();
    for pair in c.args[2..].chunks(2) {
        let (k, v) = (text(&pair[0]).to_ascii_lowercase(), text(&pair[1]));
        match k.as_str() {
            "id" => {
                shoal_store::parse_i64_exact(v.as_bytes())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| Error::Other("client-id should be greater than 0".into()))?;
            }
            "type" => {
                if !["normal", "master", "replica", "slave", "pubsub"]
                    .contains(&v.to_ascii_lowercase().as_str())
                {
                    return Err(Error::Other(format!("Unknown client type '{v}'")));
                }
            }
            "skipme" => {
                skipme = match v.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(Error::Syntax),
                };
                continue;
            }
            "user" if c.engine.acl.user(&v).is_none() => {
                return Err(Error::Other(format!("No such user '{v}'")));
            }
            "addr" | "laddr" | "user" => {}
            _ => return Err(Error::Syntax),
        }
        filters.push((k, v));
    }
    let mut killed = 0;
    for h in &clients {
        if skipme && h.id == me {
            continue;
        }
        let matches = filters.iter().all(|(k, v)| match k.as_str() {
            "id" => h.id.to_string() == *v,
            "addr" => h.addr.to_string() == *v,
            "laddr" => h.laddr.to_string() == *v,
            "user" => h.info.lock().user == *v,
            "type" => v.eq_ignore_ascii_case("normal"),
            _ => false,
        });
        if matches {
            kill(c, h);
            killed += 1;
        }
    }
    c.reply().integer(killed);
    Ok(())
}

pub(crate) fn kill(c: &mut Call<'_>, target: &crate::ClientHandle) {
    if target.id == c.client.id {
        // As Redis: the caller still gets its reply, then the connection
        // closes.
        c.client.close_after_reply = true;
        return;
    }
    target.kill();
}

fn multi(c: &mut Call<'_>) -> Result {
    if c.client.multi.is_some() {
        return Err(Error::Other("MULTI calls can not be nested".into()));
    }
    c.client.multi = Some(Vec::new());
    c.client.multi_failed = false;
    c.reply().ok();
    Ok(())
}

fn discard(c: &mut Call<'_>) -> Result {
    if c.client.multi.take().is_none() {
        return Err(Error::Other("DISCARD without MULTI".into()));
    }
    c.client.multi_failed = false;
    c.client.unwatch_all(&mut c.engine.store);
    c.reply().ok();
    Ok(())
}

fn exec(c: &mut Call<'_>) -> Result {
    let Some(queue) = c.client.multi.take() else {
        return Err(Error::Other("EXEC without MULTI".into()));
    };
    if std::mem::take(&mut c.client.multi_failed) {
        c.client.unwatch_all(&mut c.engine.store);
        return Err(Error::Raw(
            "EXECABORT Transaction discarded because of previous errors.".into(),
        ));
    }
    // A watched key that changed, or that expired since WATCH, aborts
    // (Redis's isWatchedKeyExpired: keys already expired at WATCH, and not
    // changed since, do not count).
    let now = c.now_ms;
    let store = &c.engine.store;
    let expired_since_watch = c.client.watched.iter().any(|(db, key)| {
        !store.watches.watched_expired(*db, key, c.client.id) && store.dbs[*db].is_expired(key, now)
    });
    if store.watches.is_dirty(c.client.id) || expired_since_watch {
        c.client.unwatch_all(&mut c.engine.store);
        c.reply().null_array();
        return Ok(());
    }
    c.client.unwatch_all(&mut c.engine.store);
    let len = queue.len();
    c.reply().array(len);
    c.client.in_exec = true;
    for args in &queue {
        run_command(c.client, c.shared, c.engine, args, c.out, c.clock);
    }
    c.client.in_exec = false;
    c.engine.end_exec();
    Ok(())
}

fn watch(c: &mut Call<'_>) -> Result {
    if c.client.multi.is_some() {
        return Err(Error::Other("WATCH inside MULTI is not allowed".into()));
    }
    let db = c.client.db;
    for key in &c.args[1..] {
        if c.client
            .watched
            .iter()
            .any(|(d, k)| *d == db && **k == key[..])
        {
            continue;
        }
        let expired = c.engine.store.dbs[db].is_expired(key, c.now_ms);
        c.engine.store.watches.watch(db, key, c.client.id, expired);
        c.client.watched.push((db, key.to_vec().into()));
    }
    c.reply().ok();
    Ok(())
}

fn unwatch(c: &mut Call<'_>) -> Result {
    c.client.unwatch_all(&mut c.engine.store);
    c.reply().ok();
    Ok(())
}

fn info_cmd(c: &mut Call<'_>) -> Result {
    let sections: Vec<String> = c.args[1..]
        .iter()
        .map(|a| text(a).to_ascii_lowercase())
        .collect();
    let body = info::render(c.shared, c.engine, &sections);
    c.reply().verbatim("txt", body.as_bytes());
    Ok(())
}

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Print this help.",
];

fn config(c: &mut Call<'_>) -> Result {
    let sub = c.args[1].clone();
    let argc = c.args.len();
    if is(&sub, "help") && argc == 2 {
        c.reply().help(CONFIG_HELP);
    } else if is(&sub, "get") && argc >= 3 {
        let config = c.shared.config.read().clone();
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for pattern in &c.args[2..] {
            for (name, value) in config.matching(pattern) {
                if !pairs.iter().any(|(n, _)| *n == name) {
                    pairs.push((name, value));
                }
            }
        }
        let mut r = c.reply();
        r.map(pairs.len());
        for (name, value) in pairs {
            r.bulk(name.as_bytes());
            r.bulk(value.as_bytes());
        }
    } else if is(&sub, "set") && argc >= 4 && argc % 2 == 0 {
        // All or nothing, as Redis 7 applies several directives.
        let mut config = c.shared.config.read().clone();
        for pair in c.args[2..].chunks(2) {
            let (name, value) = (text(&pair[0]), text(&pair[1]));
            if !crate::Config::is_known(&name) {
                return Err(Error::Other(format!(
                    "Unknown option or number of arguments for CONFIG SET - '{name}'"
                )));
            }
            config.set_at_runtime(&name, &value).map_err(|e| {
                Error::Other(format!(
                    "CONFIG SET failed (possibly related to argument '{name}') - {e}"
                ))
            })?;
        }
        let aof_was = c.shared.config.read().get("appendonly") == "yes";
        let aof_now = config.get("appendonly") == "yes";
        if aof_now != aof_was && c.shared.loading.active() {
            // The AOF is set up from the dataset once it is loaded.
            return Err(Error::Other(
                "CONFIG SET failed (possibly related to argument 'appendonly') - can't switch the AOF while loading the dataset".into(),
            ));
        }
        if aof_now && !aof_was {
            let shared = c.shared.self_arc();
            if let Err(e) = crate::aof::enable(&shared, c.engine, &config) {
                tracing::warn!(error = %e, "Unable to turn on AOF");
                return Err(Error::Other(
                    "CONFIG SET failed (possibly related to argument 'appendonly') - Unable to turn on AOF. Check server logs.".into(),
                ));
            }
        } else if aof_was && !aof_now {
            crate::aof::disable(c.shared, c.engine);
        }
        if config.get("requirepass") != c.shared.config.read().get("requirepass") {
            c.engine
                .acl
                .set_default_password(config.get("requirepass").as_bytes());
        }
        c.engine.acl.all_channels_default = config.get("acl-pubsub-default") == "allchannels";
        config.apply_to_store(&mut c.engine.store);
        c.shared
            .aof
            .set_policy(crate::aof::Fsync::parse(config.get("appendfsync")));
        c.engine.stats.slowlog_threshold_us = config.get_int("slowlog-log-slower-than");
        c.engine.stats.slowlog_max_len = config.get_int("slowlog-max-len") as usize;
        c.engine
            .stats
            .slowlog
            .truncate(c.engine.stats.slowlog_max_len);
        c.shared.hot.refresh(&config);
        *c.shared.config.write() = config;
        c.reply().ok();
    } else if is(&sub, "resetstat") && argc == 2 {
        c.engine.stats.reset();
        c.shared
            .stats
            .connections_received
            .store(0, Ordering::Relaxed);
        c.shared
            .stats
            .rejected_connections
            .store(0, Ordering::Relaxed);
        c.engine.store.stats = Default::default();
        c.engine.store.lazyfree.reset_stats();
        c.reply().ok();
    } else if is(&sub, "rewrite") && argc == 2 {
        return Err(Error::Other(
            "The server is running without a config file".into(),
        ));
    } else {
        return Err(unknown_subcommand(c.args, "CONFIG"));
    }
    Ok(())
}

/// The flags COMMAND INFO shows, in the order Redis 7.0 lists them
/// (`addReplyCommandFlags`), with Redis's spelling; `may_replicate`,
/// `sentinel` and the like are internal and not shown.
const SHOWN_FLAGS: &[(&str, &str)] = &[
    ("write", "write"),
    ("readonly", "readonly"),
    ("denyoom", "denyoom"),
    ("module", "module"),
    ("admin", "admin"),
    ("pubsub", "pubsub"),
    ("noscript", "noscript"),
    ("blocking", "blocking"),
    ("loading", "loading"),
    ("stale", "stale"),
    ("skip_monitor", "skip_monitor"),
    ("skip_slowlog", "skip_slowlog"),
    ("asking", "asking"),
    ("fast", "fast"),
    ("no-auth", "no_auth"),
    ("no_mandatory_keys", "no_mandatory_keys"),
    ("no_async_loading", "no_async_loading"),
    ("no_multi", "no_multi"),
    ("movablekeys", "movablekeys"),
    ("allow_busy", "allow_busy"),
];

/// Commands whose keys are not a fixed range (Redis's `movablekeys`).
const MOVABLE_KEYS: &[&str] = &[
    "blmpop",
    "bzmpop",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "fcall",
    "fcall_ro",
    "georadius",
    "georadiusbymember",
    "lmpop",
    "migrate",
    "sintercard",
    "sort",
    "sort_ro",
    "xread",
    "xreadgroup",
    "zdiff",
    "zdiffstore",
    "zinter",
    "zintercard",
    "zinterstore",
    "zmpop",
    "zunion",
    "zunionstore",
];

fn command_info(r: &mut Reply<'_>, spec: &CommandSpec) {
    // A container's flags and keys are its subcommands'; Redis shows none,
    // except for COMMAND, which also runs with no subcommand.
    let container = spec.name != "command" && is_container(spec.name);
    let movable = MOVABLE_KEYS.contains(&spec.name);
    let flags: Vec<&str> = SHOWN_FLAGS
        .iter()
        .filter(|(ours, _)| {
            !container && (spec.has_flag(ours) || (*ours == "movablekeys" && movable))
        })
        .map(|(_, shown)| *shown)
        .collect();
    let keys = if container {
        (0, 0, 0)
    } else {
        (spec.first_key, spec.last_key, spec.step)
    };
    let subs = supported_subcommands(spec.name);
    info_entry(r, spec.name, spec.arity, &flags, keys, &subs);
}

/// One COMMAND INFO entry, as Redis 7.0 gives it: name, arity, flags, key
/// positions, ACL categories, tips, key specs, subcommands.
fn info_entry(
    r: &mut Reply<'_>,
    name: &str,
    arity: i32,
    flags: &[&str],
    (first, last, step): (i32, i32, i32),
    subs: &[&SubcommandInfo],
) {
    r.array(10);
    r.bulk(name.as_bytes());
    r.integer(i64::from(arity));
    r.set(flags.len());
    for f in flags {
        r.simple(f);
    }
    r.integer(i64::from(first));
    r.integer(i64::from(last));
    r.integer(i64::from(step));
    let categories = crate::acl::categories_of(name);
    r.set(categories.len());
    for cat in categories {
        r.simple(&format!("@{cat}"));
    }
    tips_and_key_specs(r, name);
    r.array(subs.len());
    for sub in subs {
        subcommand_info(r, sub);
    }
}

/// The `parent|sub` entries of Redis's command table that Shoal serves
/// for the container `parent`, in [`SUBCOMMANDS`] order.
fn supported_subcommands(parent: &str) -> Vec<&'static SubcommandInfo> {
    SUBCOMMANDS
        .iter()
        .find(|(n, _)| *n == parent)
        .map(|(_, subs)| {
            subs.iter()
                .filter_map(|(sub, _)| crate::acl::subcommand_info(&format!("{parent}|{sub}")))
                .collect()
        })
        .unwrap_or_default()
}

/// The subcommand `parent|sub` (any case) if Shoal serves it.
fn lookup_subcommand(full: &[u8]) -> Option<&'static SubcommandInfo> {
    let full = String::from_utf8_lossy(full).to_ascii_lowercase();
    let (parent, _) = full.split_once('|')?;
    supported_subcommands(parent)
        .into_iter()
        .find(|s| s.0 == full)
}

/// COMMAND INFO's entry for a subcommand, as Redis 7.0 gives it.
fn subcommand_info(r: &mut Reply<'_>, sub: &SubcommandInfo) {
    let (name, arity, flags, first, last, step) = *sub;
    let flags: Vec<&str> = flags.split(' ').filter(|f| !f.is_empty()).collect();
    info_entry(r, name, arity, &flags, (first, last, step), &[]);
}

/// Flags of a key, as Redis's key specs name them (`RW`, `access`, …).
type KeyFlags = &'static [&'static str];

/// The keys of a command line (`args[0]` is the command) with their key
/// flags, as COMMAND GETKEYSANDFLAGS reports them. Like Redis, the key
/// specs find them when they can; otherwise (SET and BITFIELD, whose flags
/// depend on their arguments, SORT's STORE, a malformed key count) the
/// positions come from Shoal's own key finder and the flags are those
/// Redis's key callbacks give, none for most.
fn keys_and_flags(spec: &CommandSpec, args: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
    // A container's keys are its subcommand's (OBJECT ENCODING key).
    let name = match args.get(1) {
        Some(sub) if is_container(spec.name) => subcommand_name(spec.name, sub),
        _ => spec.name.to_string(),
    };
    let (_, specs) = crate::acl::key_specs(&name);
    let variable = specs.iter().any(|s| s.flags.contains(&"variable_flags"));
    if !specs.is_empty() && !variable {
        if let Some(keys) = keys_from_specs(specs, args, spec.arity) {
            return keys;
        }
    }
    let is_any = |from: usize, words: &[&str]| {
        args.iter()
            .skip(from)
            .any(|a| words.iter().any(|w| a.eq_ignore_ascii_case(w.as_bytes())))
    };
    let positions = spec.keys_in(args).unwrap_or_default();
    positions
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let flags: KeyFlags = match spec.name {
                "set" if is_any(3, &["get"]) => &["RW", "access", "update"],
                "set" => &["OW", "update"],
                "bitfield" if bitfield_is_read_only(args) => &["RO", "access"],
                "bitfield" => &["RW", "access", "update"],
                // The sorted key first, the STORE destination last.
                "sort" | "sort_ro" if i == 0 => &["RO", "access"],
                "sort" | "sort_ro" => &["OW", "update"],
                // Redis's other key callbacks give no flags.
                _ => &[],
            };
            (p, flags)
        })
        .collect()
}

/// Redis's reading of BITFIELD for its key flags: read-only while every
/// operation is a whole GET or OVERFLOW.
fn bitfield_is_read_only(args: &[&[u8]]) -> bool {
    let mut i = 2;
    while i < args.len() {
        let rest = args.len() - i - 1;
        let op = args[i];
        if op.eq_ignore_ascii_case(b"get") && rest >= 2 {
            i += 3;
        } else if op.eq_ignore_ascii_case(b"overflow") && rest >= 1 {
            i += 2;
        } else {
            return false;
        }
    }
    true
}

/// Redis's `getKeysUsingKeySpecs`: each spec's begin search, then its
/// range or key count. None when a spec cannot locate its keys here.
fn keys_from_specs(
    specs: &'static [crate::acl::categories::KeySpec],
    args: &[&[u8]],
    arity: i32,
) -> Option<Vec<(usize, KeyFlags)>> {
    use crate::acl::categories::{Begin, Find};
    let argc = args.len() as i64;
    let mut keys = Vec::new();
    for spec in specs {
        if spec.flags.contains(&"not_key") {
            continue;
        }
        let mut first = match spec.begin {
            Begin::Index(index) => index,
            Begin::Keyword(keyword, startfrom) => {
                let start = if startfrom > 0 {
                    startfrom
                } else {
                    argc + startfrom
                };
                let end = if startfrom > 0 { argc - 1 } else { 1 };
                let mut found = None;
                let mut i = start;
                while i != end && (1..argc).contains(&i) {
                    if args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                        found = Some(i + 1);
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                match found {
                    Some(first) => first,
                    None => continue,
                }
            }
            Begin::Unknown => return None,
        };
        let (last, step) = match spec.find {
            Find::Range(lastkey, keystep, limit) => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (last, keystep)
            }
            Find::Keynum(keynumidx, firstkey, keystep) => {
                let count = args.get(usize::try_from(first + keynumidx).ok()?)?;
                let count: i64 = std::str::from_utf8(count).ok()?.parse().ok()?;
                if count < 0 {
                    return None;
                }
                first += firstkey;
                (first + count - 1, keystep)
            }
            Find::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let mut i = first;
        while i <= last {
            if i < argc {
                keys.push((i as usize, spec.flags));
            } else if arity >= 0 {
                return None;
            }
            i += step;
        }
    }
    Some(keys)
}

/// COMMAND INFO's tips and key specs, from Redis's command table, in the
/// shape Redis 7.0 replies them (maps in RESP3, flat arrays in RESP2).
fn tips_and_key_specs(r: &mut Reply<'_>, name: &str) {
    use crate::acl::categories::{Begin, Find};
    let (tips, specs) = crate::acl::key_specs(name);
    r.set(tips.len());
    for tip in tips {
        r.bulk(tip.as_bytes());
    }
    r.array(specs.len());
    for spec in specs {
        r.map(3 + usize::from(spec.notes.is_some()));
        if let Some(notes) = spec.notes {
            r.bulk(b"notes");
            r.bulk(notes.as_bytes());
        }
        r.bulk(b"flags");
        r.set(spec.flags.len());
        for flag in spec.flags {
            r.simple(flag);
        }
        r.bulk(b"begin_search");
        r.map(2);
        r.bulk(b"type");
        match spec.begin {
            Begin::Index(index) => {
                r.bulk(b"index");
                r.bulk(b"spec");
                r.map(1);
                r.bulk(b"index");
                r.integer(index);
            }
            Begin::Keyword(keyword, startfrom) => {
                r.bulk(b"keyword");
                r.bulk(b"spec");
                r.map(2);
                r.bulk(b"keyword");
                r.bulk(keyword.as_bytes());
                r.bulk(b"startfrom");
                r.integer(startfrom);
            }
            Begin::Unknown => {
                r.bulk(b"unknown");
                r.bulk(b"spec");
                r.map(0);
            }
        }
        r.bulk(b"find_keys");
        r.map(2);
        r.bulk(b"type");
        let fields: &[(&[u8], i64)] = match spec.find {
            Find::Range(lastkey, keystep, limit) => {
                r.bulk(b"range");
                &[
                    (b"lastkey", lastkey),
                    (b"keystep", keystep),
                    (b"limit", limit),
                ]
            }
            Find::Keynum(keynumidx, firstkey, keystep) => {
                r.bulk(b"keynum");
                &[
                    (b"keynumidx", keynumidx),
                    (b"firstkey", firstkey),
                    (b"keystep", keystep),
                ]
            }
            Find::Unknown => {
                r.bulk(b"unknown");
                &[]
            }
        };
        r.bulk(b"spec");
        r.map(fields.len());
        for (field, value) in fields {
            r.bulk(field);
            r.integer(*value);
        }
    }
}

fn command_docs(r: &mut Reply<'_>, spec: &CommandSpec) {
    r.bulk(spec.name.as_bytes());
    r.map(3);
    r.bulk(b"summary");
    r.bulk(spec.summary.as_bytes());
    r.bulk(b"since");
    r.bulk(b"1.0.0");
    r.bulk(b"group");
    r.bulk(spec.group.as_bytes());
}

fn command(c: &mut Call<'_>) -> Result {
    let all = table();
    if c.args.len() == 1 {
        let mut r = c.reply();
        r.array(all.len());
        for cmd in all {
            command_info(&mut r, cmd.spec);
        }
        return Ok(());
    }
    let sub = c.args[1].clone();
    let args = c.args;
    if is(&sub, "count") && args.len() == 2 {
        c.reply().integer(all.len() as i64);
    } else if is(&sub, "info") {
        let mut r = Reply::new(c.out, c.client.protocol);
        if args.len() == 2 {
            r.array(all.len());
            for cmd in all {
                command_info(&mut r, cmd.spec);
            }
        } else {
            r.array(args.len() - 2);
            for name in &args[2..] {
                if let Some((_, cmd)) = lookup(name) {
                    command_info(&mut r, cmd.spec);
                } else if let Some(sub) = lookup_subcommand(name) {
                    subcommand_info(&mut r, sub);
                } else {
                    r.null();
                }
            }
        }
    } else if is(&sub, "docs") {
        let specs: Vec<&CommandSpec> = if args.len() == 2 {
            all.iter().map(|c| c.spec).collect()
        } else {
            args[2..]
                .iter()
                .filter_map(|n| lookup(n))
                .map(|(_, c)| c.spec)
                .collect()
        };
        let mut r = Reply::new(c.out, c.client.protocol);
        r.map(specs.len());
        for spec in specs {
            command_docs(&mut r, spec);
        }
    } else if is(&sub, "list") {
        // Subcommands too, as `parent|sub`, as Redis lists them.
        let mut names: Vec<&str> = all
            .iter()
            .flat_map(|c| {
                std::iter::once(c.spec.name)
                    .chain(supported_subcommands(c.spec.name).into_iter().map(|s| s.0))
            })
            .collect();
        if args.len() == 5 && is(&args[2], "filterby") {
            let (kind, value) = (&args[3], text(&args[4]));
            if is(kind, "pattern") {
                names.retain(|n| {
                    shoal_store::glob::glob_match(value.as_bytes(), n.as_bytes(), true)
                });
            } else if is(kind, "aclcat") {
                let cat = value.trim_start_matches('@').to_ascii_lowercase();
                names.retain(|n| crate::acl::categories_of(n).contains(&cat.as_str()));
            } else if is(kind, "module") {
                names.clear();
            } else {
                return Err(Error::Syntax);
            }
        } else if args.len() != 2 {
            return Err(Error::Syntax);
        }
        let mut r = c.reply();
        r.array(names.len());
        for n in names {
            r.bulk(n.as_bytes());
        }
    } else if (is(&sub, "getkeys") || is(&sub, "getkeysandflags")) && args.len() >= 4 {
        let with_flags = is(&sub, "getkeysandflags");
        let Some((_, cmd)) = lookup(&args[2]) else {
            return Err(Error::Other("Invalid command specified".into()));
        };
        let name = String::from_utf8_lossy(&args[2]).to_ascii_lowercase();
        if !cmd.spec.takes_keys() && crate::acl::key_specs(&name).1.is_empty() {
            return Err(Error::Other("The command has no key arguments".into()));
        }
        if !cmd.spec.arity_ok(args.len() - 2) {
            return Err(Error::Other(
                "Invalid number of arguments specified for command".into(),
            ));
        }
        let full: Vec<&[u8]> = args[2..].iter().map(|a| &a[..]).collect();
        // Both as Redis: through the key specs first, then the key finder.
        let keys = keys_and_flags(cmd.spec, &full);
        if keys.is_empty() && !cmd.spec.has_flag("no_mandatory_keys") {
            return Err(Error::Other(
                "Invalid arguments specified for command".into(),
            ));
        }
        let mut r = c.reply();
        r.array(keys.len());
        for (p, flags) in keys {
            if with_flags {
                r.array(2);
                r.bulk(&args[2 + p]);
                r.set(flags.len());
                for flag in flags {
                    r.simple(flag);
                }
            } else {
                r.bulk(&args[2 + p]);
            }
        }
    } else if is(&sub, "help") && args.len() == 2 {
        let lines = [
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
            "HELP",
            "    Prints this help.",
        ];
        c.reply().help(&lines);
    } else {
        return Err(unknown_subcommand(args, "COMMAND"));
    }
    Ok(())
}

fn time(c: &mut Call<'_>) -> Result {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut r = c.reply();
    r.array(2);
    r.bulk(now.as_secs().to_string().as_bytes());
    r.bulk(now.subsec_micros().to_string().as_bytes());
    Ok(())
}

fn lastsave(c: &mut Call<'_>) -> Result {
    let at = c.shared.rdb.last_save_secs.load(Ordering::Relaxed);
    c.reply().integer(at as i64);
    Ok(())
}

fn save(c: &mut Call<'_>) -> Result {
    if c.shared.rdb.in_progress.load(Ordering::Relaxed) || c.engine.store.snapshot_in_progress() {
        return Err(Error::Other("Background save already in progress".into()));
    }
    match crate::rdbfile::save_now(c.shared, &mut c.engine.store) {
        Ok(()) => c.reply().ok(),
        Err(_) => return Err(Error::Raw("ERR".into())),
    }
    Ok(())
}

fn bgrewriteaof(c: &mut Call<'_>) -> Result {
    let shared = c.shared.self_arc();
    match crate::aof::start_rewrite(&shared, c.engine) {
        crate::aof::RewriteStart::Started => c
            .reply()
            .simple("Background append only file rewriting started"),
        crate::aof::RewriteStart::Scheduled => c
            .reply()
            .simple("Background append only file rewriting scheduled"),
        crate::aof::RewriteStart::AlreadyRunning => {
            return Err(Error::Other(
                "Background append only file rewriting already in progress".into(),
            ))
        }
        crate::aof::RewriteStart::Failed(why) => {
            tracing::warn!(%why, "can't rewrite the append only file");
            return Err(Error::Other(
                "Can't execute an AOF background rewriting. Please check the server logs for more information.".into(),
            ));
        }
    }
    Ok(())
}

fn bgsave(c: &mut Call<'_>) -> Result {
    let schedule = match c.args.len() {
        1 => false,
        2 if is(&c.args[1], "schedule") => true,
        _ => return Err(Error::Syntax),
    };
    if c.shared.rdb.in_progress.load(Ordering::Relaxed) {
        if schedule {
            // The rules will run one again once this one ends.
            c.reply().simple("Background saving scheduled");
            return Ok(());
        }
        return Err(Error::Other("Background save already in progress".into()));
    }
    if c.shared.aof.rewrite_in_progress.load(Ordering::Relaxed) {
        if schedule {
            c.reply().simple("Background saving scheduled");
            return Ok(());
        }
        return Err(Error::Other("An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into()));
    }
    let shared = c.shared.self_arc();
    if !crate::rdbfile::start_background(&shared, &mut c.engine.store) {
        return Err(Error::Other("Background save already in progress".into()));
    }
    c.reply().simple("Background saving started");
    Ok(())
}

/// Redis's `getPositiveLongFromObjectOrReply` with its default message.
fn positive_long(arg: &[u8]) -> Result<u64> {
    shoal_store::parse_i64_exact(arg)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| Error::Other("value is out of range, must be positive".into()))
}

/// DEBUG POPULATE count [prefix] [size]: keys `prefix:N` (default `key`)
/// holding `value:N`, cut or zero-padded to `size` bytes when it is given;
/// existing keys are skipped. As in Redis it counts no change and is not
/// logged: a test fixture, not a write.
fn debug_populate(c: &mut Call<'_>) -> Result {
    let count = positive_long(&c.args[2])?;
    let size = match c.args.get(4) {
        Some(arg) => Some(positive_long(arg)?).filter(|&n| n > 0),
        None => None,
    };
    let prefix = c.args.get(3).cloned();
    let prefix: &[u8] = prefix.as_deref().unwrap_or(b"key");
    let (db, now, id) = (c.client.db, c.now_ms, c.client.id);
    let store = &mut c.engine.store;
    let dirty = store.dirty;
    let mut ctx = shoal_store::Ctx::new(store, db, now, id);
    for j in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{j}").as_bytes());
        if ctx.write(&key).is_some() {
            continue;
        }
        let mut value = format!("value:{j}").into_bytes();
        if let Some(size) = size {
            value.resize(size as usize, 0);
        }
        ctx.set(
            &key,
            shoal_store::Value::Str(shoal_store::StrValue::new(value)),
            false,
        );
    }
    store.dirty = dirty;
    c.reply().ok();
    Ok(())
}

fn debug(c: &mut Call<'_>) -> Result {
    let sub = c.args[1].clone();
    let argc = c.args.len();
    if is(&sub, "sleep") && argc == 3 {
        let secs = shoal_store::parse_f64(&c.args[2])
            .filter(|s| *s >= 0.0)
            .ok_or(Error::NotFloat)?;
        // Like Redis, DEBUG SLEEP blocks the whole server: the store lock is
        // held while sleeping.
        std::thread::sleep(Duration::from_secs_f64(secs));
        c.reply().ok();
    } else if is(&sub, "set-active-expire") && argc == 3 {
        let on = shoal_store::parse_i64_exact(&c.args[2]).ok_or(Error::NotInteger)?;
        c.shared.active_expire.store(on != 0, Ordering::Relaxed);
        c.reply().ok();
    } else if is(&sub, "reload") && argc == 2 {
        // Save, empty every database, load the file back: all under the
        // lock, so no command sees the empty state.
        crate::rdbfile::save_now(c.shared, &mut c.engine.store)
            .map_err(|e| Error::Other(format!("Error trying to save the DB: {e}")))?;
        for db in 0..c.engine.store.dbs.len() {
            c.engine.store.dbs[db] = Default::default();
        }
        let path = crate::rdbfile::path(&c.shared.config.read());
        crate::rdbfile::load(&path, &mut c.engine.store)
            .map_err(|e| Error::Other(format!("Error trying to load the RDB dump: {e:#}")))?;
        c.reply().ok();
    } else if is(&sub, "loadaof") && argc == 2 {
        // Finished by the connection: the AOF writer must flush first, and
        // it takes the store lock this command holds.
        c.client.deferred = Some(crate::conn::Deferred::LoadAof);
    } else if is(&sub, "populate") && (3..=5).contains(&argc) {
        debug_populate(c)?;
    } else if is(&sub, "object") && argc == 3 {
        let key = c.args[2].clone();
        let db = c.client.db;
        c.engine.store.expire_if_needed(db, &key, c.now_ms);
        let Some(entry) = c.engine.store.dbs[db].keys.get(&key) else {
            return Err(Error::Other("no such key".into()));
        };
        // serializedlength is the size of the value's RDB encoding, as
        // Redis's rdbSavedObjectLen: a DUMP payload less its type byte and
        // 10-byte footer.
        let encoding = entry.value.encoding_name();
        let decoded = shoal_store::convert::to_decoded(&entry.value);
        let compress = c.engine.store.config.rdb_compression;
        let len = shoal_store::rdb::dump_payload(&decoded, compress).len() - 11;
        let lru = entry.value.lru();
        let idle = shoal_store::idle_seconds(lru, c.now_ms);
        // `at` is an address in Redis; Shoal has none to show.
        let line = format!(
            "Value at:0x0 refcount:1 encoding:{encoding} serializedlength:{len} lru:{lru} lru_seconds_idle:{idle}"
        );
        c.reply().simple(&line);
    } else if is(&sub, "digest") && argc == 2 {
        let digest = shoal_store::digest::dataset_digest(&c.engine.store);
        c.reply().simple(&shoal_store::digest::to_hex(&digest));
    } else if is(&sub, "digest-value") {
        let db = &c.engine.store.dbs[c.client.db];
        let digests: Vec<String> = c.args[2..]
            .iter()
            .map(|key| shoal_store::digest::to_hex(&shoal_store::digest::value_digest(db, key)))
            .collect();
        let mut r = c.reply();
        r.array(digests.len());
        for d in &digests {
            r.simple(d);
        }
    } else if is(&sub, "protocol") && argc == 3 {
        debug_protocol(c)?;
    } else if is(&sub, "htstats-key") && argc == 3 {
        let key = c.args[2].clone();
        let db = c.client.db;
        c.engine.store.expire_if_needed(db, &key, c.now_ms);
        let Some(entry) = c.engine.store.dbs[db].keys.get(&key) else {
            return Err(Error::Other("no such key".into()));
        };
        let Some(slots) = entry.value.table_slots() else {
            return Err(Error::Other(
                "The value stored at the specified key is not represented using an hash table"
                    .into(),
            ));
        };
        // Shoal's tables use open addressing and resize at once, so there
        // are no chains to count and never a "rehashing target".
        let len = match &entry.value {
            Value::Hash(h) => h.len(),
            Value::Set(s) => s.len(),
            Value::ZSet(z) => z.len(),
            Value::Str(_) | Value::List(_) | Value::Stream(_) => 0,
        };
        let text = format!(
            "Hash table 0 stats (main hash table):\n table size: {slots}\n number of elements: {len}\n"
        );
        c.reply().verbatim("txt", text.as_bytes());
    } else if is(&sub, "quicklist-packed-threshold") && argc == 3 {
        // Redis stores list elements at or above this size in a node of
        // their own ("plain" nodes). Shoal's list already gives any element
        // larger than a node's bound a node of its own, and no reply depends
        // on the layout, so only the argument is checked, as Redis does.
        let valid = std::str::from_utf8(&c.args[2])
            .ok()
            .and_then(crate::config::parse_memory)
            .is_some_and(|n| (0..(1i64 << 32) - (1 << 20)).contains(&n));
        if !valid {
            return Err(Error::Other(
                "argument must be a memory value bigger than 1 and smaller than 4gb".into(),
            ));
        }
        c.reply().ok();
    } else if is(&sub, "help") && argc == 2 {
        let lines = [
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "OBJECT <key>",
            "    Show low level info about the `key` and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not respected so keys not belonging to the",
            "    current node can be created in cluster mode.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "RELOAD",
            "    Save the RDB on disk and reload it back to memory.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not accessed (otherwise the Redis behavior). Setting it to 1 reenables back the default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ];
        c.reply().help(&lines);
    } else {
        return Err(unknown_subcommand(c.args, "DEBUG"));
    }
    Ok(())
}

/// `DEBUG PROTOCOL <type>`: one sample reply of each RESP type, for
/// client libraries to test their parsers (Redis's values exactly).
fn debug_protocol(c: &mut Call<'_>) -> Result {
    let name = c.args[2].clone();
    let resp3 = c.client.protocol == Protocol::Resp3;
    let mut r = Reply::new(c.out, c.client.protocol);
    if is(&name, "string") {
        r.bulk(b"Hello World");
    } else if is(&name, "integer") {
        r.integer(12345);
    } else if is(&name, "double") {
        // Redis's sample value, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        r.double(3.141);
    } else if is(&name, "bignum") {
        let digits = "1234567999999999999999999999999999999";
        if resp3 {
            r.raw(format!("({digits}\r\n").as_bytes());
        } else {
            r.bulk(digits.as_bytes());
        }
    } else if is(&name, "null") {
        r.null();
    } else if is(&name, "array") || is(&name, "set") {
        if is(&name, "set") {
            r.set(3);
        } else {
            r.array(3);
        }
        for j in 0..3 {
            r.integer(j);
        }
    } else if is(&name, "map") {
        r.map(3);
        for j in 0..3 {
            r.integer(j);
            r.boolean(j == 1);
        }
    } else if is(&name, "attrib") {
        if resp3 {
            r.raw(b"|1\r\n");
            r.bulk(b"key-popularity");
            r.array(2);
            r.bulk(b"key:123");
            r.integer(90);
        }
        r.bulk(b"Some real reply following the attribute");
    } else if is(&name, "push") {
        if !resp3 {
            return Err(Error::Other(
                "RESP2 is not supported by this command".into(),
            ));
        }
        r.push(2);
        r.bulk(b"server-cpu-usage");
        r.integer(42);
        r.bulk(b"Some real reply following the push reply");
    } else if is(&name, "true") || is(&name, "false") {
        r.boolean(is(&name, "true"));
    } else if is(&name, "verbatim") {
        r.verbatim("txt", b"This is a verbatim\nstring");
    } else {
        return Err(Error::Other(
            "Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false".into(),
        ));
    }
    Ok(())
}

fn slowlog(c: &mut Call<'_>) -> Result {
    let sub = c.args[1].clone();
    let argc = c.args.len();
    if is(&sub, "len") && argc == 2 {
        let n = c.engine.stats.slowlog.len();
        c.reply().integer(n as i64);
    } else if is(&sub, "reset") && argc == 2 {
        c.engine.stats.slowlog.clear();
        c.reply().ok();
    } else if is(&sub, "get") && (argc == 2 || argc == 3) {
        let count = if argc == 3 {
            let n = shoal_store::parse_i64_exact(&c.args[2])
                .filter(|n| *n >= -1)
                .ok_or_else(|| {
                    Error::Other("count should be greater than or equal to -1".into())
                })?;
            if n == -1 {
                usize::MAX
            } else {
                n as usize
            }
        } else {
            10
        };
        let entries: Vec<_> = c.engine.stats.slowlog.iter().take(count).collect();
        let mut r = Reply::new(c.out, c.client.protocol);
        r.array(entries.len());
        for e in entries {
            r.array(6);
            r.integer(e.id as i64);
            r.integer(e.unix_secs as i64);
            r.integer(e.micros as i64);
            r.array(e.args.len());
            for a in &e.args {
                r.bulk(a);
            }
            r.bulk(e.addr.as_bytes());
            r.bulk(e.name.as_bytes());
        }
    } else if is(&sub, "help") && argc == 2 {
        let lines = [
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help.",
        ];
        c.reply().help(&lines);
    } else {
        return Err(unknown_subcommand(c.args, "SLOWLOG"));
    }
    Ok(())
}

fn memory(c: &mut Call<'_>) -> Result {
    let sub = c.args[1].clone();
    if is(&sub, "usage") {
        let mut samples = shoal_store::memory::DEFAULT_SAMPLES;
        match c.args.len() {
            3 => {}
            5 if is(&c.args[3], "samples") => {
                let n = shoal_store::parse_i64_exact(&c.args[4]).ok_or(Error::NotInteger)?;
                samples = usize::try_from(n).map_err(|_| Error::Syntax)?;
            }
            _ => return Err(Error::Syntax),
        }
        let key = c.args[2].clone();
        let db = c.client.db;
        c.engine.store.expire_if_needed(db, &key, c.now_ms);
        match shoal_store::memory::key_usage(&c.engine.store.dbs[db], &key, samples) {
            Some(bytes) => c.reply().integer(bytes as i64),
            None => c.reply().null(),
        }
    } else if is(&sub, "stats") {
        memory_stats(c);
    } else if is(&sub, "doctor") {
        let used = crate::used_memory_bytes();
        let text = if used < 5 * 1024 * 1024 {
            "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting."
        } else {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
        };
        c.reply().verbatim("txt", text.as_bytes());
    } else if is(&sub, "malloc-stats") {
        c.reply()
            .verbatim("txt", b"Stats not supported for the current allocator");
    } else if is(&sub, "purge") {
        c.reply().ok();
    } else if is(&sub, "help") {
        let lines = [
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        ];
        c.reply().help(&lines);
    } else {
        return Err(unknown_subcommand(c.args, "MEMORY"));
    }
    Ok(())
}

/// MEMORY STATS with Redis's field names, for the figures Shoal has: the
/// allocator's total, the keyspace tables' own overhead per database, and
/// the dataset as the rest.
fn memory_stats(c: &mut Call<'_>) {
    let total = crate::used_memory_bytes();
    let rss = crate::info::rss_bytes();
    let store = &c.engine.store;
    let dbs: Vec<(usize, usize, usize)> = store
        .dbs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.is_empty())
        .map(|(i, d)| (i, d.keys.memory_bytes(), d.expires.memory_bytes()))
        .collect();
    let keys: usize = store.dbs.iter().map(|d| d.len()).sum();
    let overhead: u64 = dbs.iter().map(|(_, m, e)| (m + e) as u64).sum();
    let dataset = total.saturating_sub(overhead);
    let percent = |part: u64| {
        if total == 0 {
            0.0
        } else {
            part as f64 * 100.0 / total as f64
        }
    };
    let mut r = Reply::new(c.out, c.client.protocol);
    r.map(13 + dbs.len());
    let int = |r: &mut Reply<'_>, name: &str, value: u64| {
        r.bulk(name.as_bytes());
        r.integer(value as i64);
    };
    int(&mut r, "peak.allocated", total);
    int(&mut r, "total.allocated", total);
    int(&mut r, "replication.backlog", 0);
    int(&mut r, "clients.slaves", 0);
    int(&mut r, "aof.buffer", 0);
    int(&mut r, "lua.caches", 0);
    int(&mut r, "functions.caches", 0);
    for (i, main, expires) in &dbs {
        r.bulk(format!("db.{i}").as_bytes());
        r.map(3);
        int(&mut r, "overhead.hashtable.main", *main as u64);
        int(&mut r, "overhead.hashtable.expires", *expires as u64);
        int(&mut r, "overhead.hashtable.slot-to-keys", 0);
    }
    int(&mut r, "overhead.total", overhead);
    int(&mut r, "keys.count", keys as u64);
    int(
        &mut r,
        "keys.bytes-per-key",
        if keys == 0 { 0 } else { total / keys as u64 },
    );
    int(&mut r, "dataset.bytes", dataset);
    r.bulk(b"dataset.percentage");
    r.double(percent(dataset));
    r.bulk(b"fragmentation");
    r.double(if total == 0 {
        0.0
    } else {
        rss as f64 / total as f64
    });
}

/// FUNCTION without a scripting engine: Shoal holds no libraries, so each
/// subcommand answers as Redis 7.0 does when none is loaded (FLUSH is OK,
/// LIST is empty, DELETE finds nothing). LOAD, DUMP and RESTORE are not
/// offered and get the unknown-subcommand error. Redis's test suite runs
/// `FUNCTION FLUSH` before every file against an external server.
fn monitor(c: &mut Call<'_>) -> Result {
    if c.client.monitor.is_none() {
        let (tx, rx) = tokio::sync::mpsc::channel(crate::conn::MONITOR_BACKLOG_LINES_MAX);
        let mut monitors = c.shared.monitors.lock();
        monitors.push((c.client.id, tx));
        c.shared
            .monitor_count
            .store(monitors.len(), Ordering::Relaxed);
        c.client.monitor = Some(rx);
    }
    c.reply().ok();
    Ok(())
}

fn shutdown(c: &mut Call<'_>) -> Result {
    for a in &c.args[1..] {
        if !["nosave", "save", "now", "force", "abort"]
            .iter()
            .any(|w| is(a, w))
        {
            return Err(Error::Syntax);
        }
    }
    if c.args[1..].iter().any(|a| is(a, "abort")) {
        return Err(Error::Other("No shutdown in progress.".into()));
    }
    // While loading, the dataset in memory is partial: never save it.
    let nosave = c.args[1..].iter().any(|a| is(a, "nosave")) || c.shared.loading.active();
    let force_save = c.args[1..].iter().any(|a| is(a, "save"));
    let has_rules = !c.shared.config.read().get("save").is_empty();
    if !nosave && (force_save || has_rules) {
        if let Err(e) = crate::rdbfile::save_now(c.shared, &mut c.engine.store) {
            tracing::warn!(error = %e, "Error trying to save the DB, can't exit.");
            let force = c.args[1..].iter().any(|a| is(a, "force"));
            if !force {
                return Err(Error::Other(
                    "Errors trying to SHUTDOWN. Check logs.".into(),
                ));
            }
        }
    }
    tracing::warn!("SHUTDOWN requested by client {}", c.client.id);
    c.shared.shutting_down.store(true, Ordering::Relaxed);
    // A start-up load stops at its next key; the server then ends.
    c.shared.loading.abort();
    c.shared.shutdown.notify_one();
    c.client.close_after_reply = true;
    Ok(())
}

/// SYNC and PSYNC: the connection becomes a replica once this returns (see
/// `repl::serve`); the reply is the resynchronization itself.
fn sync(c: &mut Call<'_>) -> Result {
    if c.shared.role.following.load(Ordering::Acquire)
        && !c.shared.role.link_up.load(Ordering::Acquire)
    {
        return Err(Error::Raw(
            "NOMASTERLINK Can't SYNC while not connected with my master".into(),
        ));
    }
    let request = if c.args.len() == 1 {
        crate::repl::SyncRequest::Sync
    } else {
        // As Redis: a PSYNC offset that is not a number gets the integer
        // error and no synchronization.
        let offset = shoal_store::parse_i64_exact(&c.args[2]).ok_or(Error::NotInteger)?;
        crate::repl::SyncRequest::Psync {
            replid: c.args[1].clone(),
            offset,
        }
    };
    c.client.deferred = Some(crate::conn::Deferred::Sync(request));
    Ok(())
}

/// REPLCONF: what a replica tells its master before PSYNC, and the ACKs
/// it sends once streaming (those arrive on the replica's link).
fn replconf(c: &mut Call<'_>) -> Result {
    if c.args.len() % 2 == 0 {
        return Err(Error::Syntax);
    }
    for pair in c.args[1..].chunks(2) {
        let (option, value) = (&pair[0], &pair[1]);
        if is(option, "listening-port") {
            let port = shoal_store::parse_i64_exact(value).ok_or(Error::NotInteger)?;
            c.client.replconf.listening_port = u16::try_from(port).unwrap_or(0);
        } else if is(option, "capa") {
            if is(value, "psync2") {
                c.client.replconf.psync2 = true;
            }
        } else if is(option, "ip-address")
            || is(option, "rdb-only")
            || is(option, "rdb-filter-only")
        {
            // Accepted; Shoal's replicas always get the whole dataset.
        } else if is(option, "ack") || is(option, "getack") {
            // Meaningful only on a replication link; a normal client gets
            // no reply at all, as in Redis.
            return Ok(());
        } else {
            return Err(Error::Other(format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(option)
            )));
        }
    }
    c.reply().ok();
    Ok(())
}

fn role(c: &mut Call<'_>) -> Result {
    let mut reply = Reply::new(c.out, c.client.protocol);
    c.engine.repl.role(&mut reply);
    Ok(())
}

/// WAIT numreplicas timeout: replies at once if enough replicas have
/// acknowledged this client's last write, else the connection waits
/// (`repl::wait`) and replies with the count then.
fn wait(c: &mut Call<'_>) -> Result {
    if c.engine.repl.upstream.is_some() {
        return Err(Error::Other("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into()));
    }
    let wanted = shoal_store::parse_i64_exact(&c.args[1]).ok_or(Error::NotInteger)?;
    let timeout = shoal_store::parse_i64_exact(&c.args[2])
        .ok_or_else(|| Error::Other("timeout is not an integer or out of range".into()))?;
    if timeout < 0 {
        return Err(Error::Other("timeout is negative".into()));
    }
    let offset = c.client.last_write_offset;
    let acked = c.engine.repl.acked_at_least(offset);
    if acked as i64 >= wanted || c.client.multi.is_some() || c.client.in_exec {
        c.reply().integer(acked as i64);
        return Ok(());
    }
    c.engine.repl.request_acks();
    c.client.deferred = Some(crate::conn::Deferred::Wait(crate::repl::WaitRequest {
        wanted: wanted as usize,
        offset,
        deadline: (timeout > 0)
            .then(|| std::time::Instant::now() + Duration::from_millis(timeout as u64)),
    }));
    Ok(())
}

/// REPLICAOF / SLAVEOF host port | NO ONE (see `replica`).
fn replicaof(c: &mut Call<'_>) -> Result {
    if is(&c.args[1], "no") && is(&c.args[2], "one") {
        crate::replica::unfollow(c.shared, c.engine);
        c.reply().ok();
        return Ok(());
    }
    let port = shoal_store::parse_i64_exact(&c.args[2]).ok_or(Error::NotInteger)?;
    let port = u16::try_from(port).map_err(|_| Error::Other("Invalid master port".into()))?;
    let host = String::from_utf8_lossy(&c.args[1]).into_owned();
    if crate::replica::follow(c.shared, c.engine, &host, port) {
        c.reply().ok();
    } else {
        c.reply().simple("OK Already connected to specified master");
    }
    Ok(())
}
