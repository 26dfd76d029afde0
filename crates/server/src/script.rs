//! Lua scripting, as Redis 7.0's EVAL: EVAL / EVALSHA / EVAL_RO /
//! EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH / KILL, on one embedded
//! Lua 5.1 interpreter (the version Redis embeds) with Redis's `redis` API
//! and its `bit` and `cjson` libraries.
//!
//! A script runs under the store lock like any command, so it is atomic.
//! Its `redis.call`s go through the normal command path as a client of
//! their own (Redis's "lua client"): same checks, same replies, which are
//! decoded back into Lua values by Redis's conversion rules. The client
//! runs as if inside EXEC, so the script's writes reach the AOF and the
//! replicas as one transaction (Redis 7's effects replication), and a
//! blocking command never blocks.
//!
//! **Invariant:** scripts never see or change each other's globals: the
//! global table refuses new names, and KEYS / ARGV are set per call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use mlua::{Function, Lua, LuaOptions, MultiValue, RegistryKey, StdLib, Table, Value};
use shoal_resp::{Frame, Protocol, Reply};
use shoal_store::Error;

use crate::commands::{is, Call};
use crate::conn::{run_command, ClientState};

type Result<T = (), E = Error> = std::result::Result<T, E>;

/// The running script as other connections see it, outside the store
/// lock: whether it has run past `busy-reply-threshold` (they then get
/// BUSY) and whether SCRIPT KILL asked it to stop.
#[derive(Default)]
pub(crate) struct ScriptRun {
    running: AtomicBool,
    timed_out: AtomicBool,
    kill: AtomicBool,
    /// It ran a write command: killing it would leave half its effects.
    wrote: AtomicBool,
    /// EVAL (true) or FCALL: which KILL may stop it.
    eval: AtomicBool,
}

impl ScriptRun {
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Acquire)
    }

    fn busy_error(&self) -> &'static str {
        if self.eval.load(Ordering::Relaxed) {
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
        } else {
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
        }
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: the reply.
    fn kill(&self, eval: bool) -> std::result::Result<(), String> {
        if !self.running.load(Ordering::Acquire) {
            return Err("NOTBUSY No scripts in execution right now.".into());
        }
        if self.wrote.load(Ordering::Acquire) {
            return Err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into());
        }
        let running_eval = self.eval.load(Ordering::Relaxed);
        if eval != running_eval {
            return Err(self.busy_error().into());
        }
        self.kill.store(true, Ordering::Release);
        Ok(())
    }
}

/// Answers, without the store lock, a batch sent while a script is busy:
/// SCRIPT / FUNCTION KILL act, MULTI and QUIT do their part, other
/// commands get BUSY (a queued transaction is then refused). Redis would
/// also serve AUTH, HELLO, WATCH and a few more here; they need the lock
/// the script holds, so they get BUSY too. Returns how many commands it
/// answered.
pub(crate) fn busy_replies(
    client: &mut ClientState,
    shared: &crate::Shared,
    batch: &[shoal_resp::Command],
    out: &mut Vec<u8>,
) -> usize {
    let run = &shared.script_run;
    let mut answered = 0;
    for args in batch {
        let mut reply = Reply::new(out, client.protocol);
        let kill = |sub: &Bytes| args.len() == 2 && is(sub, "kill");
        let name = crate::commands::lookup(&args[0]).map(|(_, c)| c.spec.name);
        match name {
            Some("script") if kill(&args[1]) => match run.kill(true) {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(&e),
            },
            Some("function") if kill(&args[1]) => match run.kill(false) {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(&e),
            },
            Some("multi") if args.len() == 1 => {
                if client.multi.is_some() {
                    reply.error("ERR MULTI calls can not be nested");
                } else {
                    client.multi = Some(Vec::new());
                    reply.ok();
                }
            }
            Some("quit") => {
                reply.ok();
                client.close_after_reply = true;
                return answered + 1;
            }
            Some("exec") if client.multi.is_some() => {
                client.multi = None;
                client.multi_failed = false;
                reply.error(&format!(
                    "EXECABORT Transaction discarded because of: {}",
                    run.busy_error()
                ));
            }
            _ => {
                if client.multi.is_some() {
                    client.multi_failed = true;
                }
                reply.error(run.busy_error());
            }
        }
        answered += 1;
    }
    answered
}

/// Shebang flags (`#!lua flags=...`).
#[derive(Clone, Copy, Default)]
struct ScriptFlags {
    /// No shebang: Redis's pre-7 compatibility mode.
    compat: bool,
    no_writes: bool,
    allow_oom: bool,
    allow_stale: bool,
}

struct Script {
    function: RegistryKey,
    flags: ScriptFlags,
}

/// A library FUNCTION LOAD made: its code and its functions' names.
struct Library {
    code: Bytes,
    functions: Vec<String>,
}

struct LibFunction {
    /// As registered (the map's key is lowercased: names are
    /// case-insensitive, as in Redis).
    name: String,
    library: String,
    callback: RegistryKey,
    flags: ScriptFlags,
    flag_names: Vec<String>,
    description: Option<String>,
}

/// The interpreter and the scripts it has compiled (in the `Engine`).
pub(crate) struct Scripting {
    lua: Lua,
    scripts: HashMap<String, Script>,
    libraries: std::collections::BTreeMap<String, Library>,
    functions: HashMap<String, LibFunction>,
    /// The client `redis.call` runs commands as.
    client: Option<ClientState>,
}

/// Lua code run once at start: the error handler that records where a
/// script failed, and `redis.call` / `redis.pcall` over the raw command
/// function (which returns an error table and `true` when the command
/// failed, so `call` raises the very table `pcall` returns).
const PRELUDE: &str = r#"
local dbg = debug
function __redis__err__handler(err)
  local level = 2
  local i = dbg.getinfo(level, 'nSl')
  while i and i.source ~= '@user_script' and i.source ~= '@user_function' do
    level = level + 1
    i = dbg.getinfo(level, 'nSl')
  end
  if type(err) == 'userdata' then
    -- An error raised by a Rust callback: keep its message only.
    local s = tostring(err)
    s = s:gsub('^runtime error: ', '')
    err = {err = 'ERR ' .. (s:match('^(.-)\nstack traceback') or s)}
  elseif type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
function __redis__run(f)
  return xpcall(f, __redis__err__handler)
end
function __redis__bind_args(f, k, a)
  return function() return f(k, a) end
end
-- FUNCTION LOAD: runs a library's code where redis.register_function
-- records its functions; the code sees the globals but cannot add any.
function __redis__load_library(chunk)
  local registered = {}
  local loading = true
  local lredis = setmetatable({}, {__index = redis})
  lredis.register_function = function(...)
    if not loading then
      error({err = 'ERR redis.register_function can only be called on FUNCTION LOAD command'})
    end
    local n = select('#', ...)
    local a = {...}
    local name, cb, flags, desc
    if n == 1 then
      if type(a[1]) ~= 'table' then
        error({err = 'ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).'})
      end
      for k, v in pairs(a[1]) do
        if type(k) ~= 'string' then
          error({err = 'ERR named argument key given to redis.register_function is not a string'})
        end
        local key = k:lower()
        if key == 'function_name' then
          if type(v) ~= 'string' then error({err = 'ERR function_name argument given to redis.register_function must be a string'}) end
          name = v
        elseif key == 'description' then
          if type(v) ~= 'string' then error({err = 'ERR description argument given to redis.register_function must be a string'}) end
          desc = v
        elseif key == 'callback' then
          if type(v) ~= 'function' then error({err = 'ERR callback argument given to redis.register_function must be a function'}) end
          cb = v
        elseif key == 'flags' then
          if type(v) ~= 'table' then error({err = 'ERR flags argument to redis.register_function must be a table representing function flags'}) end
          for _, f in ipairs(v) do
            if f ~= 'no-writes' and f ~= 'allow-oom' and f ~= 'allow-stale' and f ~= 'no-cluster' and f ~= 'allow-cross-slot-keys' then
              error({err = 'ERR unknown flag given'})
            end
          end
          flags = v
        else
          error({err = 'ERR unknown argument given to redis.register_function'})
        end
      end
      if name == nil then error({err = 'ERR redis.register_function must get a function name argument'}) end
      if cb == nil then error({err = 'ERR redis.register_function must get a callback argument'}) end
    elseif n == 2 then
      name, cb = a[1], a[2]
      if type(name) ~= 'string' then error({err = 'ERR first argument to redis.register_function must be a string'}) end
      if type(cb) ~= 'function' then error({err = 'ERR second argument to redis.register_function must be a function'}) end
    else
      error({err = 'ERR wrong number of arguments to redis.register_function'})
    end
    if not name:match('^[%w_]+$') then
      error({err = 'ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long'})
    end
    for _, r in ipairs(registered) do
      if r.name == name then error({err = 'ERR Function already exists in the library'}) end
    end
    registered[#registered + 1] = {name = name, callback = cb, flags = flags or {}, description = desc}
  end
  local env = setmetatable({redis = lredis}, {
    __index = _G,
    __newindex = function(t, k, v) error('Attempt to modify a readonly table', 2) end,
  })
  setfenv(chunk, env)
  local ok, err = xpcall(chunk, __redis__err__handler)
  loading = false
  if not ok then return false, err end
  return true, registered
end
debug = nil
loadfile = nil
dofile = nil
"#;

/// Where `redis.call` finds the running script's command function.
const RAW_KEY: &str = "shoal.redis.raw";

/// `redis.call` and `redis.pcall` are C functions, as Redis's are: a
/// `return redis.call(...)` then keeps the script's frame (Lua 5.1 does
/// not eliminate tail calls into C), so an error still names its line.
/// Each calls the raw function (reply, failed) and `call` raises the
/// error table `pcall` would return.
unsafe extern "C-unwind" fn redis_call(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    // SAFETY: Lua calls this with its own state.
    unsafe { call_raw(state, true) }
}

unsafe extern "C-unwind" fn redis_pcall(state: *mut mlua::ffi::lua_State) -> std::ffi::c_int {
    // SAFETY: Lua calls this with its own state.
    unsafe { call_raw(state, false) }
}

/// # Safety
/// Called by Lua as a C function; nothing here owns memory to release,
/// so `lua_error`'s longjmp over this frame skips no destructor.
unsafe fn call_raw(state: *mut mlua::ffi::lua_State, raise: bool) -> std::ffi::c_int {
    use mlua::ffi;
    // SAFETY: the stack holds the call's arguments; one slot is pushed
    // (C functions get LUA_MINSTACK), the raw function leaves two results,
    // one is popped.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, c"shoal.redis.raw".as_ptr());
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, nargs, 2);
        let failed = ffi::lua_toboolean(state, -1) != 0;
        ffi::lua_pop(state, 1);
        if failed && raise {
            ffi::lua_error(state);
        }
    }
    1
}

impl Scripting {
    fn new() -> mlua::Result<Scripting> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        // SAFETY: the debug library can break Lua's memory safety if a
        // script reaches it; the prelude captures it for the error handler
        // only and removes it from the globals before any script runs.
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let redis = lua.create_table()?;
        install_api(&lua, &redis)?;
        // SAFETY: `redis_call` / `redis_pcall` keep Lua's stack discipline
        // (see `call_raw`).
        unsafe {
            redis.set("call", lua.create_c_function(redis_call)?)?;
            redis.set("pcall", lua.create_c_function(redis_pcall)?)?;
        }
        lua.globals().set("redis", redis)?;
        lua.globals().set("bit", bit_library(&lua)?)?;
        lua.globals().set("cjson", cjson_library(&lua)?)?;
        lua.load(PRELUDE).set_name("@redis_prelude").exec()?;
        lua.set_named_registry_value(
            RAW_KEY,
            lua.create_function(|_, _: MultiValue| -> mlua::Result<()> {
                Err(mlua::Error::runtime(
                    "redis.call/pcall can only be called inside a script invocation",
                ))
            })?,
        )?;
        protect_globals(&lua)?;
        Ok(Scripting {
            lua,
            scripts: HashMap::new(),
            libraries: Default::default(),
            functions: HashMap::new(),
            client: None,
        })
    }
}

/// The parts of `redis` that need no running script.
fn install_api(lua: &Lua, redis: &Table) -> mlua::Result<()> {
    redis.set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| {
            let text = match args.iter().collect::<Vec<_>>().as_slice() {
                [Value::String(s)] => s.to_str()?.to_string(),
                _ => return error_table(lua, "ERR wrong number or type of arguments"),
            };
            let text = if text.starts_with('-') {
                text
            } else {
                format!("-{text}")
            };
            error_table(lua, &with_code(&text))
        })?,
    )?;
    redis.set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| {
            let table = lua.create_table()?;
            match args.iter().collect::<Vec<_>>().as_slice() {
                [Value::String(s)] => table.set("ok", s.clone())?,
                _ => return error_table(lua, "ERR wrong number or type of arguments"),
            }
            Ok(table)
        })?,
    )?;
    redis.set(
        "sha1hex",
        lua.create_function(|_, args: MultiValue| {
            if args.len() != 1 {
                return Err(mlua::Error::runtime("wrong number of arguments"));
            }
            let data = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(n) => n.to_string().into_bytes(),
                _ => Vec::new(),
            };
            Ok(sha1_hex(&data))
        })?,
    )?;
    redis.set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            if args.len() < 2 {
                return Err(mlua::Error::runtime(
                    "redis.log() requires two arguments or more.",
                ));
            }
            let level = match &args[0] {
                Value::Integer(n) => *n,
                Value::Number(n) => *n as i64,
                _ => {
                    return Err(mlua::Error::runtime(
                        "First argument must be a number (log level).",
                    ))
                }
            };
            if !(0..=3).contains(&level) {
                return Err(mlua::Error::runtime("Invalid debug level."));
            }
            let text: Vec<String> = args
                .iter()
                .skip(1)
                .map(|v| match v {
                    Value::String(s) => s.to_string_lossy(),
                    other => format!("{other:?}"),
                })
                .collect();
            tracing::info!(level, "{}", text.join(" "));
            Ok(())
        })?,
    )?;
    for (name, value) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.set(name, value)?;
    }
    redis.set("REDIS_VERSION", crate::info::REDIS_VERSION)?;
    let num = crate::info::REDIS_VERSION
        .split('.')
        .filter_map(|p| p.parse::<i64>().ok())
        .fold(0, |acc, p| acc * 256 + p);
    redis.set("REDIS_VERSION_NUM", num)?;
    // Effects replication is the only mode in Redis 7: these remain for
    // old scripts.
    redis.set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    redis.set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.set("debug", lua.create_function(|_, _: MultiValue| Ok(()))?)?;
    Ok(())
}

/// Redis's error table: `{err = "CODE message"}`.
fn error_table(lua: &Lua, message: &str) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.set("err", message)?;
    Ok(table)
}

/// Redis's `luaPushErrorBuff`: `-CODE message` keeps its code (a single
/// word gets `ERR`); text without the dash is an `ERR` message.
fn with_code(message: &str) -> String {
    let message = message.trim_end_matches(['\r', '\n']);
    match message.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some(_) => rest.to_string(),
            None => format!("ERR {rest}"),
        },
        None => format!("ERR {message}"),
    }
}

/// Makes the global table refuse new names and report unknown ones, as
/// Redis's protected globals do.
fn protect_globals(lua: &Lua) -> mlua::Result<()> {
    let meta = lua.create_table()?;
    meta.set(
        "__index",
        lua.load(
            "return function(t, k) \
             error(\"Script attempted to access nonexistent global variable '\" .. tostring(k) .. \"'\", 2) end",
        )
        .set_name("@redis_prelude")
        .eval::<Function>()?,
    )?;
    meta.set(
        "__newindex",
        lua.load("return function(t, k, v) error('Attempt to modify a readonly table', 2) end")
            .set_name("@redis_prelude")
            .eval::<Function>()?,
    )?;
    lua.globals().set_metatable(Some(meta))?;
    Ok(())
}

fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// Redis's `bit` library (LuaBitOp): 32-bit two's-complement operations.
fn bit_library(lua: &Lua) -> mlua::Result<Table> {
    fn tobit(v: f64) -> i32 {
        // LuaBitOp normalizes through the 2^52 + 2^51 trick: modulo 2^32.
        let v = v.trunc();
        (v.rem_euclid(4_294_967_296.0) as u64 as u32) as i32
    }
    let bit = lua.create_table()?;
    bit.set("tobit", lua.create_function(|_, v: f64| Ok(tobit(v)))?)?;
    bit.set("bnot", lua.create_function(|_, v: f64| Ok(!tobit(v)))?)?;
    bit.set(
        "band",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(-1, |a, &x| a & tobit(x)))
        })?,
    )?;
    bit.set(
        "bor",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(0, |a, &x| a | tobit(x)))
        })?,
    )?;
    bit.set(
        "bxor",
        lua.create_function(|_, v: mlua::Variadic<f64>| {
            Ok(v.iter().fold(0, |a, &x| a ^ tobit(x)))
        })?,
    )?;
    bit.set(
        "lshift",
        lua.create_function(|_, (v, n): (f64, f64)| {
            Ok(((tobit(v) as u32) << (tobit(n) & 31)) as i32)
        })?,
    )?;
    bit.set(
        "rshift",
        lua.create_function(|_, (v, n): (f64, f64)| {
            Ok(((tobit(v) as u32) >> (tobit(n) & 31)) as i32)
        })?,
    )?;
    bit.set(
        "arshift",
        lua.create_function(|_, (v, n): (f64, f64)| Ok(tobit(v) >> (tobit(n) & 31)))?,
    )?;
    bit.set(
        "rol",
        lua.create_function(|_, (v, n): (f64, f64)| {
            Ok((tobit(v) as u32).rotate_left((tobit(n) & 31) as u32) as i32)
        })?,
    )?;
    bit.set(
        "ror",
        lua.create_function(|_, (v, n): (f64, f64)| {
            Ok((tobit(v) as u32).rotate_right((tobit(n) & 31) as u32) as i32)
        })?,
    )?;
    bit.set(
        "bswap",
        lua.create_function(|_, v: f64| Ok((tobit(v) as u32).swap_bytes() as i32))?,
    )?;
    bit.set(
        "tohex",
        lua.create_function(|_, (v, n): (f64, Option<f64>)| {
            let n = n.map_or(8, tobit);
            let (upper, width) = if n < 0 {
                (true, (-n).min(8))
            } else {
                (false, n.min(8))
            };
            let value = tobit(v) as u32;
            let masked = if width >= 8 {
                value
            } else {
                value & ((1u32 << (4 * width)) - 1)
            };
            let s = format!("{masked:0width$x}", width = width as usize);
            Ok(if upper { s.to_uppercase() } else { s })
        })?,
    )?;
    Ok(bit)
}

/// `cjson.encode` (and `encode_keep_buffer`) / `cjson.decode`, with
/// `cjson.null`.
fn cjson_library(lua: &Lua) -> mlua::Result<Table> {
    let cjson = lua.create_table()?;
    let null = Value::LightUserData(mlua::LightUserData(std::ptr::null_mut()));
    cjson.set("null", null.clone())?;
    let encode = lua.create_function(|_, v: Value| {
        let mut out = String::new();
        json_encode(&v, &mut out, 0)?;
        Ok(out)
    })?;
    // Redis's lua-cjson also offers the variant that keeps its buffer
    // between calls; the output is the same.
    cjson.set("encode_keep_buffer", encode.clone())?;
    cjson.set("encode", encode)?;
    cjson.set(
        "decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let parsed: serde_json::Value = serde_json::from_slice(&s.as_bytes()).map_err(|e| {
                mlua::Error::runtime(format!("Expected value but found invalid token: {e}"))
            })?;
            json_to_lua(lua, &parsed)
        })?,
    )?;
    Ok(cjson)
}

fn json_encode(v: &Value, out: &mut String, depth: usize) -> mlua::Result<()> {
    use std::fmt::Write;
    if depth > 1000 {
        return Err(mlua::Error::runtime(
            "Cannot serialise, excessive nesting (1001)",
        ));
    }
    match v {
        Value::Nil | Value::LightUserData(_) => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Number(n) => out.push_str(&format_lua_number(*n)),
        Value::String(s) => {
            let text = s.to_string_lossy();
            out.push_str(&serde_json::to_string(&text).unwrap_or_default());
        }
        Value::Table(t) => {
            let len = t.raw_len();
            let mut pairs = 0;
            for pair in t.pairs::<Value, Value>() {
                pair?;
                pairs += 1;
            }
            if pairs == len && (len > 0 || pairs == 0) {
                if len == 0 {
                    out.push_str("{}");
                    return Ok(());
                }
                out.push('[');
                for i in 1..=len {
                    if i > 1 {
                        out.push(',');
                    }
                    json_encode(&t.raw_get::<Value>(i)?, out, depth + 1)?;
                }
                out.push(']');
            } else {
                out.push('{');
                let mut first = true;
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    let key = match &k {
                        Value::String(s) => s.to_string_lossy(),
                        Value::Integer(n) => n.to_string(),
                        Value::Number(n) => format_lua_number(*n),
                        _ => {
                            return Err(mlua::Error::runtime(
                                "Cannot serialise table: table key must be a number or string",
                            ))
                        }
                    };
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&serde_json::to_string(&key).unwrap_or_default());
                    out.push(':');
                    json_encode(&v, out, depth + 1)?;
                }
                out.push('}');
            }
        }
        other => {
            return Err(mlua::Error::runtime(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn json_to_lua(lua: &Lua, v: &serde_json::Value) -> mlua::Result<Value> {
    Ok(match v {
        serde_json::Value::Null => Value::LightUserData(mlua::LightUserData(std::ptr::null_mut())),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table()?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(map) => {
            let t = lua.create_table()?;
            for (k, item) in map {
                t.raw_set(k.as_str(), json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

/// Lua 5.1's `%.14g` number formatting.
fn format_lua_number(n: f64) -> String {
    if n.is_finite() && n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    shoal_resp::format_double(n)
}

/// What `redis.call` needs while a script runs.
struct RunCtx<'a> {
    shared: &'a crate::Shared,
    engine: &'a mut crate::Engine,
    client: &'a mut ClientState,
    clock: &'a mut crate::conn::Clock,
    read_only: bool,
    flags: ScriptFlags,
    out: Vec<u8>,
}

impl RunCtx<'_> {
    /// One `redis.call`: the reply as a Lua value, and whether it failed.
    fn call(&mut self, lua: &Lua, args: MultiValue) -> mlua::Result<(Value, bool)> {
        if args.is_empty() {
            return fail(
                lua,
                "Please specify at least one argument for this redis lib call",
            );
        }
        let mut argv: Vec<Bytes> = Vec::with_capacity(args.len());
        for a in &args {
            match a {
                Value::String(s) => argv.push(Bytes::copy_from_slice(&s.as_bytes())),
                Value::Integer(n) => argv.push(Bytes::from(n.to_string())),
                Value::Number(n) => argv.push(Bytes::from(format_g17(*n))),
                _ => {
                    return fail(
                        lua,
                        "Lua redis lib command arguments must be strings or integers",
                    )
                }
            }
        }
        let Some((_, cmd)) = crate::commands::lookup(&argv[0]) else {
            return fail(lua, "Unknown Redis command called from script");
        };
        let spec = cmd.spec;
        if !spec.arity_ok(argv.len()) {
            return fail(
                lua,
                "Wrong number of args calling Redis command from script",
            );
        }
        if spec.has_flag("noscript") {
            return fail(lua, "This Redis command is not allowed from script");
        }
        let role = &self.shared.role;
        if role.following.load(std::sync::atomic::Ordering::Relaxed)
            && !role.link_up.load(std::sync::atomic::Ordering::Relaxed)
            && !self.flags.allow_stale
            && !spec.has_flag("stale")
            && self.shared.config.read().get("replica-serve-stale-data") == "no"
        {
            return fail(lua, "Can not execute the command on a stale replica");
        }
        if spec.write && self.read_only {
            return fail(
                lua,
                "Write commands are not allowed from read-only scripts.",
            );
        }
        if spec.write
            && role.following.load(std::sync::atomic::Ordering::Relaxed)
            && self.shared.config.read().get("replica-read-only") == "yes"
        {
            return fail(
                lua,
                "-READONLY You can't write against a read only replica.",
            );
        }
        // Redis's scriptVerifyOOM: until the script has written, a
        // command that may grow memory is refused over maxmemory.
        let hot = &self.shared.hot;
        let max = hot.maxmemory_bytes.load(Ordering::Relaxed);
        if max > 0
            && !self.flags.allow_oom
            && spec.has_flag("denyoom")
            && !self.shared.script_run.wrote.load(Ordering::Relaxed)
            && hot.used_memory_bytes.load(Ordering::Relaxed) > max
        {
            return fail(
                lua,
                "-OOM command not allowed when used memory > 'maxmemory'.",
            );
        }
        if spec.write {
            self.shared.script_run.wrote.store(true, Ordering::Release);
        }
        self.out.clear();
        run_command(
            self.client,
            self.shared,
            self.engine,
            &argv,
            &mut self.out,
            self.clock,
        );
        let frame = match shoal_resp::parse_frame(&self.out) {
            Ok(Some((frame, _))) => frame,
            _ => Frame::Null,
        };
        let failed = matches!(frame, Frame::Error(_));
        Ok((frame_to_lua(lua, frame, self.client.protocol)?, failed))
    }
}

fn fail(lua: &Lua, message: &str) -> mlua::Result<(Value, bool)> {
    Ok((Value::Table(error_table(lua, &with_code(message))?), true))
}

/// C's `%.17g`, as Redis turns a Lua number argument into a string.
fn format_g17(n: f64) -> String {
    if n.is_finite() && n == n.trunc() && n.abs() < 1e17 {
        return format!("{}", n as i64);
    }
    shoal_resp::format_double(n)
}

/// Redis's `redisProtocolToLuaType`.
fn frame_to_lua(lua: &Lua, frame: Frame, protocol: Protocol) -> mlua::Result<Value> {
    let single = |key: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.set(key, v)?;
        Ok(Value::Table(t))
    };
    Ok(match frame {
        Frame::Integer(n) => Value::Number(n as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(&b)?),
        Frame::Simple(s) => single("ok", Value::String(lua.create_string(&s)?))?,
        Frame::Error(e) => single(
            "err",
            Value::String(lua.create_string(with_code(&format!("-{e}")))?),
        )?,
        Frame::Null if protocol == Protocol::Resp3 => Value::Nil,
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table()?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, frame_to_lua(lua, item, protocol)?)?;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                t.raw_set(
                    frame_to_lua(lua, k, protocol)?,
                    frame_to_lua(lua, v, protocol)?,
                )?;
            }
            single("map", Value::Table(t))?
        }
        Frame::Set(items) => {
            let t = lua.create_table()?;
            for item in items {
                t.raw_set(frame_to_lua(lua, item, protocol)?, true)?;
            }
            single("set", Value::Table(t))?
        }
        Frame::Double(d) => single("double", Value::Number(parse_double(&d)))?,
        Frame::Boolean(b) => Value::Boolean(b),
        Frame::BigNumber(n) => single("big_number", Value::String(lua.create_string(&n)?))?,
        Frame::Verbatim { format, text } => {
            let v = lua.create_table()?;
            v.set("format", format)?;
            v.set("string", lua.create_string(&text)?)?;
            single("verbatim_string", Value::Table(v))?
        }
    })
}

fn parse_double(s: &str) -> f64 {
    match s {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or(f64::NAN),
    }
}

/// Redis's `luaReplyToRedisReply`.
fn lua_to_reply(
    v: &Value,
    reply: &mut Reply<'_>,
    resp3_script: bool,
    depth: usize,
) -> mlua::Result<()> {
    if depth > 1000 {
        reply.error("ERR reached lua stack limit");
        return Ok(());
    }
    match v {
        Value::String(s) => reply.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if resp3_script {
                reply.boolean(*b);
            } else if *b {
                reply.integer(1);
            } else {
                reply.null();
            }
        }
        Value::Integer(n) => reply.integer(*n),
        Value::Number(n) => reply.integer(*n as i64),
        Value::Table(t) => {
            if let Value::String(e) = t.raw_get::<Value>("err")? {
                let msg = String::from_utf8_lossy(&e.as_bytes()).into_owned();
                reply.error(msg.strip_prefix('-').unwrap_or(&msg));
                return Ok(());
            }
            if let Value::String(ok) = t.raw_get::<Value>("ok")? {
                let text = String::from_utf8_lossy(&ok.as_bytes()).replace(['\r', '\n'], " ");
                reply.simple(&text);
                return Ok(());
            }
            if let Value::Number(d) = t.raw_get::<Value>("double")? {
                reply.double(d);
                return Ok(());
            }
            if let Value::Integer(d) = t.raw_get::<Value>("double")? {
                reply.double(d as f64);
                return Ok(());
            }
            if let Value::String(n) = t.raw_get::<Value>("big_number")? {
                let text = String::from_utf8_lossy(&n.as_bytes()).replace(['\r', '\n'], " ");
                reply.big_number(&text);
                return Ok(());
            }
            if let Value::Table(m) = t.raw_get::<Value>("map")? {
                let pairs: Vec<(Value, Value)> =
                    m.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
                reply.map(pairs.len());
                for (k, v) in &pairs {
                    lua_to_reply(k, reply, resp3_script, depth + 1)?;
                    lua_to_reply(v, reply, resp3_script, depth + 1)?;
                }
                return Ok(());
            }
            if let Value::Table(s) = t.raw_get::<Value>("set")? {
                let keys: Vec<Value> = s
                    .pairs::<Value, Value>()
                    .map(|p| p.map(|(k, _)| k))
                    .collect::<mlua::Result<_>>()?;
                reply.set(keys.len());
                for k in &keys {
                    lua_to_reply(k, reply, resp3_script, depth + 1)?;
                }
                return Ok(());
            }
            // An array: up to the first nil.
            let mut items = Vec::new();
            let mut i = 1;
            loop {
                let item: Value = t.raw_get(i)?;
                if item.is_nil() {
                    break;
                }
                items.push(item);
                i += 1;
            }
            reply.array(items.len());
            for item in &items {
                lua_to_reply(item, reply, resp3_script, depth + 1)?;
            }
        }
        _ => reply.null(),
    }
    Ok(())
}

/// Parses `#!lua flags=...` off the front of a script.
fn shebang(body: &[u8]) -> Result<(ScriptFlags, usize)> {
    if !body.starts_with(b"#!") {
        return Ok((
            ScriptFlags {
                compat: true,
                ..ScriptFlags::default()
            },
            0,
        ));
    }
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(Error::Other(format!(
            "Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut flags = ScriptFlags::default();
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(Error::Other(format!("Unknown lua shebang option: {part}")));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" | "allow-cross-slot-keys" => {}
                other => {
                    return Err(Error::Other(format!(
                        "Unexpected flag in script shebang: {other}"
                    )))
                }
            }
        }
    }
    // The line feed stays, so line numbers are the user's.
    Ok((flags, end))
}

impl Scripting {
    /// Compiles Lua source as chunk `name`; a syntax error is reported
    /// after `what`, as Redis words it.
    fn compile(&self, source: &[u8], name: &str, what: &str) -> Result<Function> {
        self.lua
            .load(source)
            .set_name(name)
            .into_function()
            .map_err(|e| {
                let message = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                Error::Other(format!("{what}: {message}"))
            })
    }

    /// Compiles `body` if it is new; its SHA1.
    fn load(&mut self, body: &Bytes) -> Result<String> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, skip) = shebang(body)?;
        let function = self.compile(
            &body[skip..],
            "@user_script",
            "Error compiling script (new function)",
        )?;
        let function = self
            .lua
            .create_registry_value(function)
            .map_err(|e| Error::Other(e.to_string()))?;
        self.scripts.insert(sha.clone(), Script { function, flags });
        Ok(sha)
    }
}

/// The `numkeys` argument of EVAL and FCALL (`not_a_number` if it is not
/// an integer), checked against the arguments that follow it.
fn key_count(args: &[Bytes], not_a_number: Error) -> Result<usize> {
    let numkeys = shoal_store::parse_i64_exact(&args[2]).ok_or(not_a_number)?;
    if numkeys > (args.len() - 3) as i64 {
        return Err(Error::Other(
            "Number of keys can't be greater than number of args".into(),
        ));
    }
    if numkeys < 0 {
        return Err(Error::Other("Number of keys can't be negative".into()));
    }
    Ok(numkeys as usize)
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO.
pub(crate) fn eval(c: &mut Call<'_>, by_sha: bool, read_only: bool) -> Result {
    let numkeys = key_count(c.args, Error::NotInteger)?;
    let mut scripting = take_scripting(c.engine)?;
    let result = run(c, &mut scripting, by_sha, read_only, numkeys);
    c.engine.scripting = Some(scripting);
    result
}

fn run(
    c: &mut Call<'_>,
    scripting: &mut Scripting,
    by_sha: bool,
    read_only: bool,
    numkeys: usize,
) -> Result {
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(&c.args[1]).to_ascii_lowercase();
        if !scripting.scripts.contains_key(&sha) {
            return Err(Error::Raw(
                "NOSCRIPT No matching script. Please use EVAL.".into(),
            ));
        }
        sha
    } else {
        scripting.load(&c.args[1])?
    };
    let script = &scripting.scripts[&sha];
    let flags = script.flags;
    let function: Function = scripting
        .lua
        .registry_value(&script.function)
        .map_err(|e| Error::Other(e.to_string()))?;
    invoke(
        c, scripting, function, false, flags, &sha, read_only, numkeys,
    )
}

/// Runs a compiled script (`with_args` false: KEYS and ARGV are globals)
/// or a function (called with KEYS and ARGV), as `name` in errors.
#[allow(clippy::too_many_arguments)]
fn invoke(
    c: &mut Call<'_>,
    scripting: &mut Scripting,
    function: Function,
    with_args: bool,
    flags: ScriptFlags,
    name: &str,
    read_only: bool,
    numkeys: usize,
) -> Result {
    let sha = name;
    if c.shared
        .monitor_count
        .load(std::sync::atomic::Ordering::Relaxed)
        > 0
    {
        // Shown before the commands it runs, as Redis does.
        crate::conn::feed_monitors(c.shared, c.client, c.args);
    }
    if read_only && !flags.compat && !flags.no_writes {
        return Err(Error::Other(
            "Can not execute a script with write flag using *_ro command.".into(),
        ));
    }
    let lua = &scripting.lua;
    let lua_err = |e: mlua::Error| Error::Other(format!("Lua: {e}"));
    let keys = lua.create_table().map_err(lua_err)?;
    for (i, k) in c.args[3..3 + numkeys].iter().enumerate() {
        keys.raw_set(i + 1, lua.create_string(k).map_err(lua_err)?)
            .map_err(lua_err)?;
    }
    let argv = lua.create_table().map_err(lua_err)?;
    for (i, a) in c.args[3 + numkeys..].iter().enumerate() {
        argv.raw_set(i + 1, lua.create_string(a).map_err(lua_err)?)
            .map_err(lua_err)?;
    }
    let function = if with_args {
        // The function gets them as arguments; KEYS / ARGV stay unset.
        let bind: Function = lua
            .globals()
            .raw_get("__redis__bind_args")
            .map_err(lua_err)?;
        bind.call::<Function>((function, keys.clone(), argv.clone()))
            .map_err(lua_err)?
    } else {
        function
    };
    let globals = lua.globals();
    if !with_args {
        globals.raw_set("KEYS", keys).map_err(lua_err)?;
        globals.raw_set("ARGV", argv).map_err(lua_err)?;
    }

    let mut client = scripting.client.take().unwrap_or_else(|| {
        let addr = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        let handle = crate::conn::new_handle(u64::MAX, addr, addr);
        let mut client = ClientState::new(u64::MAX, handle, true);
        client.monitor_label = Some("lua");
        client
    });
    client.db = c.client.db;
    client.protocol = Protocol::Resp2;
    client.in_exec = true;
    // Scripts run with the caller's ACL permissions.
    client.user.clone_from(&c.client.user);
    let mut ctx = RunCtx {
        shared: c.shared,
        engine: c.engine,
        client: &mut client,
        clock: c.clock,
        read_only: read_only || flags.no_writes,
        flags,
        out: Vec::new(),
    };
    let redis: Table = globals.raw_get("redis").map_err(lua_err)?;
    let runner: Function = globals.raw_get("__redis__run").map_err(lua_err)?;
    // Past busy-reply-threshold other clients get BUSY and may kill it.
    let run = c.shared.script_run.clone();
    run.kill.store(false, Ordering::Relaxed);
    run.wrote.store(false, Ordering::Relaxed);
    run.timed_out.store(false, Ordering::Relaxed);
    run.eval.store(!with_args, Ordering::Relaxed);
    run.running.store(true, Ordering::Release);
    let threshold = std::time::Duration::from_millis(
        c.shared
            .config
            .read()
            .get_int("busy-reply-threshold")
            .max(0) as u64,
    );
    let started = std::time::Instant::now();
    let hook_run = run.clone();
    let runtime = tokio::runtime::Handle::try_current().ok();
    lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(100_000),
        move |_, _| {
            if !hook_run.timed_out.load(Ordering::Relaxed) && started.elapsed() >= threshold {
                tracing::warn!("Slow script detected: still in execution after {} milliseconds. You can try killing the script using the SCRIPT KILL command.", started.elapsed().as_millis());
                hook_run.timed_out.store(true, Ordering::Release);
                // This worker is held by the script, and tokio leaves the
                // IO driver to workers that park: a task spawned from
                // outside the runtime wakes an idle worker, which then
                // takes the driver, so other connections are served (BUSY,
                // SCRIPT KILL) while the script runs.
                if let Some(runtime) = runtime.clone() {
                    let _ = std::thread::Builder::new()
                        .name("shoal-script-wake".into())
                        .spawn(move || drop(runtime.spawn(async {})));
                }
            }
            if hook_run.kill.load(Ordering::Acquire) {
                return Err(mlua::Error::runtime("Script killed by user with SCRIPT KILL..."));
            }
            Ok(mlua::VmState::Continue)
        },
    )
    .map_err(lua_err)?;
    let cell = std::cell::RefCell::new(&mut ctx);
    let outcome = lua.scope(|scope| {
        let ctx = &cell;
        let call = scope.create_function(|lua, args: MultiValue| {
            let mut ctx = ctx
                .try_borrow_mut()
                .map_err(|_| mlua::Error::runtime("redis.call is not reentrant"))?;
            ctx.call(lua, args)
        })?;
        lua.set_named_registry_value(RAW_KEY, call)?;
        let setresp = scope.create_function(|_, args: MultiValue| {
            let mut ctx = ctx
                .try_borrow_mut()
                .map_err(|_| mlua::Error::runtime("busy"))?;
            let version = match args.iter().collect::<Vec<_>>().as_slice() {
                [Value::Integer(n)] => *n,
                [Value::Number(n)] => *n as i64,
                _ => {
                    return Err(mlua::Error::runtime(
                        "redis.setresp() requires one argument.",
                    ))
                }
            };
            ctx.client.protocol = match version {
                2 => Protocol::Resp2,
                3 => Protocol::Resp3,
                _ => return Err(mlua::Error::runtime("RESP version must be 2 or 3.")),
            };
            Ok(())
        })?;
        redis.raw_set("setresp", setresp)?;
        let set_repl = scope.create_function(|_, args: MultiValue| {
            let flags = match args.iter().collect::<Vec<_>>().as_slice() {
                [Value::Integer(n)] => *n,
                [Value::Number(n)] => *n as i64,
                _ => {
                    return Err(mlua::Error::runtime(
                        "redis.set_repl() requires two arguments.",
                    ))
                }
            };
            if flags & !3 != 0 {
                return Err(mlua::Error::runtime(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ));
            }
            Ok(())
        })?;
        redis.raw_set("set_repl", set_repl)?;
        runner.call::<MultiValue>(function)
    });
    lua.remove_hook();
    run.running.store(false, Ordering::Release);
    run.timed_out.store(false, Ordering::Release);
    run.kill.store(false, Ordering::Release);
    let resp3_script = ctx.client.protocol == Protocol::Resp3;
    // The script's writes end their transaction in the AOF and the stream.
    ctx.engine.end_exec();
    client.in_exec = false;
    scripting.client = Some(client);
    let _ = globals.raw_set("KEYS", Value::Nil);
    let _ = globals.raw_set("ARGV", Value::Nil);
    let values = outcome.map_err(lua_err)?;
    let mut values = values.into_iter();
    let ok = matches!(values.next(), Some(Value::Boolean(true)));
    let value = values.next().unwrap_or(Value::Nil);
    if !ok {
        return Err(Error::Raw(script_error(&value, sha)));
    }
    let mut reply = Reply::new(c.out, c.client.protocol);
    lua_to_reply(&value, &mut reply, resp3_script, 0).map_err(lua_err)?;
    Ok(())
}

/// The error reply of a script that raised: Redis's `-CODE msg script:
/// f_<sha>, on @user_script:<line>.`
fn script_error(err: &Value, sha: &str) -> String {
    let Value::Table(t) = err else {
        return format!("ERR Error running script {sha}, execution failure");
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR execution failure".to_string(),
    };
    let msg = msg.strip_prefix('-').unwrap_or(&msg).to_string();
    let source = t.raw_get::<Option<String>>("source").ok().flatten();
    let line = t.raw_get::<Option<i64>>("line").ok().flatten();
    match (source, line) {
        (Some(source), Some(line)) => format!("{msg} script: {sha}, on {source}:{line}."),
        _ => msg,
    }
}

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP.
pub(crate) fn script(c: &mut Call<'_>) -> Result {
    let sub = c.args[1].clone();
    let argc = c.args.len();
    if is(&sub, "load") && argc == 3 {
        let mut scripting = take_scripting(c.engine)?;
        let result = scripting.load(&c.args[2]);
        c.engine.scripting = Some(scripting);
        let sha = result?;
        c.reply().bulk(sha.as_bytes());
    } else if is(&sub, "exists") && argc >= 3 {
        let known = |sha: &Bytes| {
            c.engine.scripting.as_ref().is_some_and(|s| {
                s.scripts
                    .contains_key(&String::from_utf8_lossy(sha).to_ascii_lowercase())
            })
        };
        let found: Vec<bool> = c.args[2..].iter().map(known).collect();
        let mut reply = c.reply();
        reply.array(found.len());
        for f in found {
            reply.integer(i64::from(f));
        }
    } else if is(&sub, "flush") && (2..=3).contains(&argc) {
        if argc == 3 && !is(&c.args[2], "sync") && !is(&c.args[2], "async") {
            return Err(Error::Other(
                "SCRIPT FLUSH only support SYNC|ASYNC option".into(),
            ));
        }
        // A fresh interpreter, as Redis's scriptingReset.
        c.engine.scripting = None;
        c.reply().ok();
    } else if is(&sub, "kill") && argc == 2 {
        return Err(Error::Raw(
            "NOTBUSY No scripts in execution right now.".into(),
        ));
    } else if is(&sub, "help") && argc == 2 {
        let lines = [
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "HELP",
            "    Prints this help.",
        ];
        c.reply().help(&lines);
    } else {
        return Err(Error::Other(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try SCRIPT HELP.",
            String::from_utf8_lossy(&sub)
        )));
    }
    Ok(())
}

/// The interpreter, made on first use.
fn take_scripting(engine: &mut crate::Engine) -> Result<Box<Scripting>> {
    match engine.scripting.take() {
        Some(s) => Ok(s),
        None => Ok(Box::new(
            Scripting::new().map_err(|e| Error::Other(format!("Lua: {e}")))?,
        )),
    }
}

/// Redis's `functionExtractLibMetaData`: `#!lua name=<lib>`.
fn library_metadata(code: &[u8]) -> Result<(String, usize)> {
    if !code.starts_with(b"#!") {
        return Err(Error::Other("Missing library metadata".into()));
    }
    let end = code
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| Error::Other("Invalid library metadata".into()))?;
    let line = String::from_utf8_lossy(&code[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts
        .next()
        .ok_or_else(|| Error::Other("Invalid library metadata".into()))?
        .to_string();
    let mut name: Option<String> = None;
    for part in parts {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(Error::Other(
                    "Invalid metadata value, name argument was given multiple times".into(),
                ));
            }
            name = Some(part[5..].to_string());
            continue;
        }
        return Err(Error::Other(format!(
            "Invalid metadata value given: {part}"
        )));
    }
    let name = name.ok_or_else(|| Error::Other("Library name was not given".into()))?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::Other("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into()));
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(Error::Other(format!("Engine '{engine}' not found")));
    }
    Ok((name, end))
}

impl Scripting {
    /// FUNCTION LOAD: compiles and runs the library, then links its
    /// functions; nothing changes if any step fails.
    fn load_library(&mut self, code: &Bytes, replace: bool) -> Result<String> {
        let (name, skip) = library_metadata(code)?;
        if self.libraries.contains_key(&name) && !replace {
            return Err(Error::Other(format!("Library '{name}' already exists")));
        }
        let lua_err = |e: mlua::Error| Error::Other(format!("Lua: {e}"));
        let chunk = self.compile(&code[skip..], "@user_function", "Error compiling function")?;
        let loader: Function = self
            .lua
            .globals()
            .raw_get("__redis__load_library")
            .map_err(lua_err)?;
        let (ok, result): (bool, Value) = loader.call(chunk).map_err(lua_err)?;
        let Value::Table(result) = result else {
            return Err(Error::Other("Error registering functions".into()));
        };
        if !ok {
            let msg = match result.raw_get::<Value>("err") {
                Ok(Value::String(s)) => s.to_string_lossy(),
                _ => "unknown error".into(),
            };
            return Err(Error::Other(format!("Error registering functions: {msg}")));
        }
        let mut registered = Vec::new();
        for entry in result.sequence_values::<Table>() {
            let entry = entry.map_err(lua_err)?;
            let fname: String = entry.get("name").map_err(lua_err)?;
            let callback: Function = entry.get("callback").map_err(lua_err)?;
            let flag_table: Table = entry.get("flags").map_err(lua_err)?;
            let description: Option<String> = entry.get("description").map_err(lua_err)?;
            let mut flags = ScriptFlags::default();
            let mut flag_names = Vec::new();
            for f in flag_table.sequence_values::<String>() {
                let f = f.map_err(lua_err)?;
                match f.as_str() {
                    "no-writes" => flags.no_writes = true,
                    "allow-oom" => flags.allow_oom = true,
                    "allow-stale" => flags.allow_stale = true,
                    _ => {}
                }
                flag_names.push(f);
            }
            registered.push((fname, callback, flags, flag_names, description));
        }
        if registered.is_empty() {
            return Err(Error::Other("No functions registered".into()));
        }
        for (fname, ..) in &registered {
            if let Some(existing) = self.functions.get(&fname.to_ascii_lowercase()) {
                if existing.library != name {
                    return Err(Error::Other(format!("Function {fname} already exists")));
                }
            }
        }
        if let Some(old) = self.libraries.remove(&name) {
            for f in old.functions {
                self.functions.remove(&f.to_ascii_lowercase());
            }
        }
        let mut names = Vec::new();
        for (fname, callback, flags, flag_names, description) in registered {
            let callback = self.lua.create_registry_value(callback).map_err(lua_err)?;
            names.push(fname.clone());
            self.functions.insert(
                fname.to_ascii_lowercase(),
                LibFunction {
                    name: fname,
                    library: name.clone(),
                    callback,
                    flags,
                    flag_names,
                    description,
                },
            );
        }
        self.libraries.insert(
            name.clone(),
            Library {
                code: code.clone(),
                functions: names,
            },
        );
        Ok(name)
    }
}

/// Sends a FUNCTION change to the replicas. Libraries are not yet part of
/// Shoal's RDB or AOF (Redis keeps them in both), so the AOF, which could
/// not replay it, does not get it.
fn replicate(c: &mut Call<'_>) {
    if c.engine.repl.upstream.is_none() {
        c.engine
            .repl
            .feed
            .append_args(c.client.db, c.args, c.client.in_exec);
    }
}

/// FCALL / FCALL_RO.
pub(crate) fn fcall(c: &mut Call<'_>, read_only: bool) -> Result {
    let numkeys = key_count(c.args, Error::Other("Bad number of keys provided".into()))?;
    let name = String::from_utf8_lossy(&c.args[1]).into_owned();
    let mut scripting = take_scripting(c.engine)?;
    let result = (|| {
        let Some(f) = scripting.functions.get(&name.to_ascii_lowercase()) else {
            return Err(Error::Other("Function not found".into()));
        };
        let flags = f.flags;
        let callback: Function = scripting
            .lua
            .registry_value(&f.callback)
            .map_err(|e| Error::Other(e.to_string()))?;
        invoke(
            c,
            &mut scripting,
            callback,
            true,
            flags,
            &name,
            read_only,
            numkeys,
        )
    })();
    c.engine.scripting = Some(scripting);
    result
}

/// FUNCTION LOAD | LIST | DELETE | FLUSH | STATS | KILL | HELP.
pub(crate) fn function(c: &mut Call<'_>) -> Result {
    let sub = c.args[1].clone();
    let argc = c.args.len();
    if is(&sub, "load") {
        let mut replace = false;
        let mut at = 2;
        while at < argc - 1 {
            if is(&c.args[at], "replace") {
                replace = true;
                at += 1;
                continue;
            }
            return Err(Error::Other(format!(
                "Unknown option given: {}",
                String::from_utf8_lossy(&c.args[at])
            )));
        }
        if at >= argc {
            return Err(Error::Other("Function code is missing".into()));
        }
        let mut scripting = take_scripting(c.engine)?;
        let result = scripting.load_library(&c.args[at], replace);
        c.engine.scripting = Some(scripting);
        let name = result?;
        replicate(c);
        c.reply().bulk(name.as_bytes());
    } else if is(&sub, "list") {
        let (mut with_code, mut pattern): (bool, Option<Bytes>) = (false, None);
        let mut i = 2;
        while i < argc {
            let arg = &c.args[i];
            if is(arg, "withcode") && !with_code {
                with_code = true;
            } else if is(arg, "libraryname") && pattern.is_none() {
                if i + 1 >= argc {
                    return Err(Error::Other("library name argument was not given".into()));
                }
                pattern = Some(c.args[i + 1].clone());
                i += 1;
            } else {
                return Err(Error::Other(format!(
                    "Unknown argument {}",
                    String::from_utf8_lossy(arg)
                )));
            }
            i += 1;
        }
        let Some(scripting) = c.engine.scripting.take() else {
            c.reply().array(0);
            return Ok(());
        };
        let libs: Vec<(&String, &Library)> = scripting
            .libraries
            .iter()
            .filter(|(name, _)| {
                pattern.as_ref().map_or(true, |p| {
                    shoal_store::glob::glob_match(p, name.as_bytes(), false)
                })
            })
            .collect();
        let mut reply = Reply::new(c.out, c.client.protocol);
        reply.array(libs.len());
        for (name, lib) in libs {
            reply.map(if with_code { 4 } else { 3 });
            reply.bulk(b"library_name");
            reply.bulk(name.as_bytes());
            reply.bulk(b"engine");
            reply.bulk(b"LUA");
            reply.bulk(b"functions");
            reply.array(lib.functions.len());
            for fname in &lib.functions {
                let f = &scripting.functions[&fname.to_ascii_lowercase()];
                reply.map(3);
                reply.bulk(b"name");
                reply.bulk(f.name.as_bytes());
                reply.bulk(b"description");
                match &f.description {
                    Some(d) => reply.bulk(d.as_bytes()),
                    None => reply.null(),
                }
                reply.bulk(b"flags");
                reply.set(f.flag_names.len());
                for flag in &f.flag_names {
                    reply.simple(flag);
                }
            }
            if with_code {
                reply.bulk(b"library_code");
                reply.bulk(&lib.code);
            }
        }
        c.engine.scripting = Some(scripting);
    } else if is(&sub, "delete") {
        let name = String::from_utf8_lossy(&c.args[2]).into_owned();
        let removed = c
            .engine
            .scripting
            .as_mut()
            .and_then(|s| {
                let lib = s.libraries.remove(&name)?;
                for f in &lib.functions {
                    s.functions.remove(&f.to_ascii_lowercase());
                }
                Some(())
            })
            .is_some();
        if !removed {
            return Err(Error::Other("Library not found".into()));
        }
        replicate(c);
        c.reply().ok();
    } else if is(&sub, "flush") {
        if argc > 3 {
            return Err(crate::commands::unknown_subcommand(c.args, "FUNCTION"));
        }
        if argc == 3 && !is(&c.args[2], "async") && !is(&c.args[2], "sync") {
            return Err(Error::Other(
                "FUNCTION FLUSH only supports SYNC|ASYNC option".into(),
            ));
        }
        if let Some(s) = c.engine.scripting.as_mut() {
            s.libraries.clear();
            s.functions.clear();
        }
        replicate(c);
        c.reply().ok();
    } else if is(&sub, "kill") {
        return Err(Error::Raw(
            "NOTBUSY No scripts in execution right now.".into(),
        ));
    } else if is(&sub, "stats") {
        let (libraries, functions) = c
            .engine
            .scripting
            .as_ref()
            .map_or((0, 0), |s| (s.libraries.len(), s.functions.len()));
        let mut r = c.reply();
        r.map(2);
        r.bulk(b"running_script");
        r.null();
        r.bulk(b"engines");
        r.map(1);
        r.bulk(b"LUA");
        r.map(2);
        r.bulk(b"libraries_count");
        r.integer(libraries as i64);
        r.bulk(b"functions_count");
        r.integer(functions as i64);
    } else if is(&sub, "help") {
        let lines = [
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "HELP",
            "    Prints this help.",
        ];
        c.reply().help(&lines);
    } else {
        return Err(Error::Other(format!(
            "unknown subcommand '{}'. Try FUNCTION HELP.",
            String::from_utf8_lossy(&sub)
        )));
    }
    Ok(())
}
