//! The ACL command and the hooks the connection layer calls: the
//! permission check before a command runs, and authentication.

use bytes::Bytes;
type Result<T = (), E = Error> = std::result::Result<T, E>;
use shoal_store::Error;

use super::{Denied, Request};
use crate::commands::{client_info_line, is, kill, Call};
use crate::conn::ClientState;
use crate::{Engine, Shared};

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

const NO_ACLFILE: &str = "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// Redis's processCommand ACL step: `Some(error)` when the client's user
/// may not run this command, after logging the refusal in ACL LOG.
pub(crate) fn refusal(
    client: &ClientState,
    shared: &Shared,
    engine: &mut Engine,
    spec: &shoal_store::CommandSpec,
    args: &[Bytes],
    now_ms: u64,
) -> Option<String> {
    if client.is_master || engine.acl.unrestricted(&client.user) {
        return None;
    }
    let request = Request::new(spec, args)?;
    let (denied, at) = match engine.acl.user(&client.user) {
        Some(user) => user.check(&request).err()?,
        // Deleted while this connection was still running commands.
        None => (Denied::Command, 0),
    };
    let object = match denied {
        Denied::Command => request.full_name().as_bytes().to_vec(),
        Denied::Key | Denied::Channel => request.arg(at).to_vec(),
    };
    let context = if client.monitor_label == Some("lua") {
        "lua"
    } else if client.multi.is_some() || client.in_exec {
        "multi"
    } else {
        "toplevel"
    };
    let full_name = request.full_name();
    let info = client_info_line(client, engine, full_name);
    let max_len = acllog_max_len(shared);
    engine.acl.log(
        denied.log_reason(),
        context,
        &object,
        &client.user,
        now_ms,
        info,
        max_len,
    );
    if context == "lua" {
        // Redis's scriptCall words it from the script's point of view.
        let what = match denied {
            Denied::Command => "run this command or subcommand",
            Denied::Key => "access at least one of the keys mentioned in the command arguments",
            Denied::Channel => "publish to the channel mentioned in the command",
        };
        return Some(format!("ERR The user executing the script can't {what}"));
    }
    if client.in_exec && client.monitor_label.is_none() {
        // Queued under rules that have changed since (Redis's execCommand).
        let reason = match denied {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key => "no permission to touch the specified keys",
            Denied::Channel => "no permission to access one of the channels used as arguments",
        };
        return Some(format!("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {reason}"));
    }
    Some(match denied {
        Denied::Command => {
            format!("NOPERM this user has no permissions to run the '{full_name}' command")
        }
        Denied::Key => {
            "NOPERM this user has no permissions to access one of the keys used as arguments".into()
        }
        Denied::Channel => {
            "NOPERM this user has no permissions to access one of the channels used as arguments"
                .into()
        }
    })
}

fn acllog_max_len(shared: &Shared) -> usize {
    shared.config.read().get_int("acllog-max-len").max(0) as usize
}

/// AUTH and HELLO AUTH: on success the client is that user; a failure is
/// logged (reason `auth`) and answered with WRONGPASS.
pub(crate) fn authenticate(c: &mut Call<'_>, user: &[u8], pass: &[u8]) -> Result {
    match c.engine.acl.authenticate(user, pass) {
        Ok(name) => {
            c.client.user.clone_from(&name);
            c.client.authenticated = true;
            c.client.handle.info.lock().user = name;
            Ok(())
        }
        Err(()) => {
            let context = if c.client.multi.is_some() {
                "multi"
            } else {
                "toplevel"
            };
            let info = client_info_line(c.client, c.engine, "auth");
            let max_len = acllog_max_len(c.shared);
            let object = c.args[0].to_vec();
            let name = String::from_utf8_lossy(user).into_owned();
            c.engine
                .acl
                .log("auth", context, &object, &name, c.now_ms, info, max_len);
            Err(Error::Raw(
                "WRONGPASS invalid username-password pair or user is disabled.".into(),
            ))
        }
    }
}

/// Disconnects the clients authenticated as one of `users` (ACL DELUSER,
/// ACL LOAD); the caller itself is put back to `default`, unauthenticated,
/// and closed after its reply.
fn kill_clients_of(c: &mut Call<'_>, users: &[String]) {
    let targets: Vec<_> = c
        .shared
        .clients
        .lock()
        .values()
        .filter(|h| users.iter().any(|u| *u == h.info.lock().user))
        .cloned()
        .collect();
    for h in targets {
        if h.id == c.client.id {
            c.client.user = "default".into();
            c.client.authenticated = false;
        }
        kill(c, &h);
    }
}

/// Closes pub/sub clients of `user` that may no longer use one of their
/// subscriptions (Redis's ACLKillPubsubClientsIfNeeded).
fn kill_revoked_subscribers(c: &mut Call<'_>, user: &str) {
    let acl = &c.engine.acl;
    let revoked: Vec<_> = c
        .engine
        .pubsub
        .subscriptions_of_clients()
        .into_iter()
        .filter(|(h, channels, patterns)| {
            h.info.lock().user == user
                && (channels
                    .iter()
                    .any(|ch| !acl.may_use_channel(user, ch, false))
                    || patterns.iter().any(|p| !acl.may_use_channel(user, p, true)))
        })
        .map(|(h, _, _)| h)
        .collect();
    for h in revoked {
        kill(c, &h);
    }
}

fn aclfile(c: &Call<'_>) -> String {
    c.shared.config.read().get("aclfile").to_string()
}

pub(crate) fn acl(c: &mut Call<'_>) -> Result {
    let sub = c.args[1].clone();
    let argc = c.args.len();
    if is(&sub, "setuser") {
        let name = c.args[2].clone();
        let rules = c.args[3..].to_vec();
        c.engine.acl.set_user(&name, &rules).map_err(Error::Raw)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        kill_revoked_subscribers(c, &name);
        c.reply().ok();
    } else if is(&sub, "deluser") {
        let names = c.args[2..].to_vec();
        let removed = c.engine.acl.delete(&names).map_err(Error::Raw)?;
        kill_clients_of(c, &removed);
        c.reply().integer(removed.len() as i64);
    } else if is(&sub, "getuser") {
        let name = String::from_utf8_lossy(&c.args[2]).into_owned();
        let Some(user) = c.engine.acl.user(&name).cloned() else {
            c.reply().null();
            return Ok(());
        };
        let mut r = c.reply();
        r.map(6);
        r.bulk(b"flags");
        let flags: Vec<&str> = user
            .flags()
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| n)
            .collect();
        r.set(flags.len());
        for f in flags {
            r.bulk(f.as_bytes());
        }
        r.bulk(b"passwords");
        r.array(user.passwords.len());
        for p in &user.passwords {
            r.bulk(p.as_bytes());
        }
        describe_selector(&mut r, &user.root);
        r.bulk(b"selectors");
        r.array(user.selectors.len());
        for s in &user.selectors {
            r.map(3);
            describe_selector(&mut r, s);
        }
    } else if (is(&sub, "list") || is(&sub, "users")) && argc == 2 {
        let lines: Vec<String> = if is(&sub, "list") {
            c.engine.acl.list()
        } else {
            c.engine.acl.names().map(str::to_owned).collect()
        };
        let mut r = c.reply();
        r.array(lines.len());
        for l in lines {
            r.bulk(l.as_bytes());
        }
    } else if is(&sub, "whoami") {
        let name = c.client.user.clone();
        c.reply().bulk(name.as_bytes());
    } else if (is(&sub, "load") || is(&sub, "save")) && aclfile(c).is_empty() {
        return Err(Error::Other(NO_ACLFILE.into()));
    } else if is(&sub, "load") {
        let path = aclfile(c);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::Other(format!("Error loading ACLs, opening file '{path}': {e}")))?;
        let before = c.engine.acl.users().clone();
        c.engine.acl.load(&text).map_err(Error::Raw)?;
        // Clients of users that changed or vanished are disconnected.
        let changed = c.engine.acl.changed_since(&before);
        kill_clients_of(c, &changed);
        c.reply().ok();
    } else if is(&sub, "save") {
        let path = aclfile(c);
        let mut text = c.engine.acl.list().join("\n");
        text.push('\n');
        crate::aof::write_atomically(std::path::Path::new(&path), text.as_bytes()).map_err(
            |_| {
                Error::Other(
                    "There was an error trying to save the ACLs. Please check the server logs for more information".into(),
                )
            },
        )?;
        c.reply().ok();
    } else if is(&sub, "cat") && argc == 2 {
        let mut r = c.reply();
        r.array(super::CATEGORIES.len());
        for cat in super::CATEGORIES {
            r.bulk(cat.as_bytes());
        }
    } else if is(&sub, "cat") && argc == 3 {
        let name = String::from_utf8_lossy(&c.args[2]).into_owned();
        let Some(names) = super::commands_in(&name) else {
            return Err(Error::Other(format!(
                "Unknown category '{}'",
                crate::commands::c_string(&c.args[2])
            )));
        };
        let mut r = c.reply();
        r.array(names.len());
        for n in names {
            r.bulk(n.as_bytes());
        }
    } else if is(&sub, "genpass") && argc <= 3 {
        let bits = match c.args.get(2) {
            Some(a) => shoal_store::parse_i64_exact(a).ok_or(Error::NotInteger)?,
            None => 256,
        };
        if bits <= 0 || bits > 4096 {
            return Err(Error::Other("ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096".into()));
        }
        let pass = super::random_hex(((bits + 3) / 4) as usize);
        c.reply().bulk(pass.as_bytes());
    } else if is(&sub, "log") && argc <= 3 {
        let mut count = 10i64;
        if let Some(a) = c.args.get(2) {
            if is(a, "reset") {
                c.engine.acl.reset_log();
                c.reply().ok();
                return Ok(());
            }
            count = shoal_store::parse_i64_exact(a)
                .ok_or(Error::NotInteger)?
                .max(0);
        }
        let now = c.now_ms;
        let entries: Vec<_> = c
            .engine
            .acl
            .log_entries()
            .iter()
            .take(count as usize)
            .map(|e| {
                (
                    e.count,
                    e.reason,
                    e.context,
                    e.object.clone(),
                    e.username.clone(),
                    now.saturating_sub(e.created_ms) as f64 / 1000.0,
                    e.client_info.clone(),
                )
            })
            .collect();
        let mut r = c.reply();
        r.array(entries.len());
        for (count, reason, context, object, username, age, info) in entries {
            r.map(7);
            r.bulk(b"count");
            r.integer(count as i64);
            r.bulk(b"reason");
            r.bulk(reason.as_bytes());
            r.bulk(b"context");
            r.bulk(context.as_bytes());
            r.bulk(b"object");
            r.bulk(&object);
            r.bulk(b"username");
            r.bulk(username.as_bytes());
            r.bulk(b"age-seconds");
            r.double(age);
            r.bulk(b"client-info");
            r.bulk(info.trim_end().as_bytes());
        }
    } else if is(&sub, "dryrun") {
        dryrun(c)?;
    } else if is(&sub, "help") && argc == 2 {
        c.reply().help(HELP);
    } else {
        return Err(Error::Other(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            crate::commands::c_string(&sub)
        )));
    }
    Ok(())
}

fn describe_selector(r: &mut shoal_resp::Reply<'_>, s: &super::Selector) {
    r.bulk(b"commands");
    r.bulk(s.describe_commands().as_bytes());
    r.bulk(b"keys");
    r.bulk(s.describe_keys().as_bytes());
    r.bulk(b"channels");
    r.bulk(s.describe_channels().as_bytes());
}

fn dryrun(c: &mut Call<'_>) -> Result {
    let name = String::from_utf8_lossy(&c.args[2]).into_owned();
    let Some(user) = c.engine.acl.user(&name).cloned() else {
        return Err(Error::Other(format!("User '{name}' not found")));
    };
    let args = &c.args[3..];
    let Some((_, cmd)) = crate::commands::lookup(&args[0]) else {
        return Err(Error::Other(format!(
            "Command '{}' not found",
            String::from_utf8_lossy(&args[0])
        )));
    };
    let spec = cmd.spec;
    if !spec.arity_ok(args.len()) {
        return Err(Error::Other(format!(
            "wrong number of arguments for '{}' command",
            spec.name
        )));
    }
    let Some(request) = Request::new(spec, args) else {
        c.reply().ok();
        return Ok(());
    };
    match user.check(&request) {
        Ok(()) => c.reply().ok(),
        Err((Denied::Command, _)) => {
            let msg = format!(
                "This user has no permissions to run the '{}' command",
                request.full_name()
            );
            c.reply().bulk(msg.as_bytes());
        }
        Err((Denied::Key, at)) => {
            let msg = format!(
                "This user has no permissions to access the '{}' key",
                String::from_utf8_lossy(request.arg(at))
            );
            c.reply().bulk(msg.as_bytes());
        }
        Err((Denied::Channel, at)) => {
            let msg = format!(
                "This user has no permissions to access the '{}' channel",
                String::from_utf8_lossy(request.arg(at))
            );
            c.reply().bulk(msg.as_bytes());
        }
    }
    Ok(())
}
