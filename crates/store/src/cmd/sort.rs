//! SORT and SORT_RO, as Redis 7.0's sort.c: elements of a list, set or
//! sorted set, weighted by themselves or by other keys (`BY pattern`,
//! `nosort` when the pattern has no `*`), numerically or `ALPHA`, sliced by
//! `LIMIT`, projected through `GET` patterns (`#`, `key*`, `hash*->field`),
//! optionally stored as a list.

use std::cmp::Ordering;

use bytes::Bytes;
use shoal_resp::Reply;

use super::is;
use crate::error::{Error, Result};
use crate::types::List;
use crate::{notify, Coll, Ctx, Value};

/// The parsed options.
struct Options {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    by: Option<Bytes>,
    dontsort: bool,
    gets: Vec<Bytes>,
    store: Option<Bytes>,
}

fn parse(args: &[Bytes], readonly: bool) -> Result<Options> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = &args[j];
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            let start = super::int_arg(&args[j + 1])?;
            let count = super::int_arg(&args[j + 2])?;
            o.limit = Some((start, count));
            j += 2;
        } else if !readonly && is(a, "store") && left >= 1 {
            o.store = Some(args[j + 1].clone());
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let pattern = args[j + 1].clone();
            // Redis looks for '*' with strchr: up to the first NUL. Once a
            // BY without one is seen, no later BY turns sorting back on.
            o.dontsort |= !c_str(&pattern).contains(&b'*');
            o.by = Some(pattern);
            j += 1;
        } else if is(a, "get") && left >= 1 {
            o.gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return Err(Error::Syntax);
        }
        j += 1;
    }
    Ok(o)
}

/// The bytes of a C string: up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element, and a `->field` after it reads a
/// hash field. `None` when there is no `*`, no such key, or the wrong type.
fn lookup_by_pattern(
    ctx: &mut Ctx<'_>,
    pattern: &[u8],
    elem: &[u8],
    write: bool,
) -> Option<Vec<u8>> {
    let pat = c_str(pattern);
    if pat == b"#" {
        return Some(elem.to_vec());
    }
    let star = pat.iter().position(|&c| c == b'*')?;
    let after = &pat[star + 1..];
    let (suffix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(i) if i + 2 < after.len() => (&after[..i], Some(&after[i + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + suffix.len());
    key.extend_from_slice(&pat[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(suffix);
    let value = if write {
        ctx.store.expire_if_needed(ctx.db, &key, ctx.now_ms);
        ctx.store.dbs[ctx.db].keys.get(&key[..]).map(|e| &e.value)
    } else {
        ctx.read(&key)
    }?;
    match (value, field) {
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| v.to_vec()),
        (Value::Str(s), None) => Some(s.data.clone()),
        _ => None,
    }
}

/// C's `strtod` over a whole value, as SORT weighs: leading white space is
/// allowed, trailing bytes are not (the value ends at a NUL), an empty
/// value is 0, NaN and out-of-range values are errors.
fn strtod_whole(b: &[u8]) -> Option<f64> {
    let s = c_str(b);
    if s.is_empty() {
        return Some(0.0);
    }
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    crate::parse_f64(&s[start..])
}

/// One element to sort and what it is weighed by.
struct Item {
    elem: Vec<u8>,
    score: f64,
    cmp: Option<Vec<u8>>,
}

/// The elements of the value to sort, in its natural order; for a list or
/// sorted set under `nosort`, only the requested range, in ASC/DESC order.
fn load(value: Option<&Value>, o: &Options, range: Option<(usize, usize)>) -> Vec<Vec<u8>> {
    match value {
        None => Vec::new(),
        Some(Value::List(l)) => match (o.dontsort, range) {
            (true, Some((start, end))) => {
                let n = end - start + 1;
                if o.desc {
                    l.iter()
                        .rev()
                        .skip(start)
                        .take(n)
                        .map(<[u8]>::to_vec)
                        .collect()
                } else {
                    l.iter_from(start).take(n).map(<[u8]>::to_vec).collect()
                }
            }
            (true, None) => Vec::new(),
            _ => l.iter().map(<[u8]>::to_vec).collect(),
        },
        Some(Value::Set(s)) => s.iter().map(|e| e.to_vec()).collect(),
        Some(Value::ZSet(z)) => {
            let len = z.len();
            let (start, n) = match (o.dontsort, range) {
                (true, Some((start, end))) => (start, end - start + 1),
                (true, None) => return Vec::new(),
                _ => (0, len),
            };
            let mut out = Vec::with_capacity(n.min(len));
            if n == 0 || start >= len {
                return out;
            }
            let desc = o.dontsort && o.desc;
            let mut cur = z.seek(if desc { len - 1 - start } else { start });
            for i in 0..n.min(len - start) {
                out.push(z.get(cur).0.to_vec());
                if i + 1 < n.min(len - start) {
                    if desc {
                        z.prev(&mut cur);
                    } else {
                        z.next(&mut cur);
                    }
                }
            }
            out
        }
        Some(_) => Vec::new(),
    }
}

fn sort_generic(
    ctx: &mut Ctx<'_>,
    reply: &mut Reply<'_>,
    args: &[Bytes],
    readonly: bool,
) -> Result {
    let mut o = parse(args, readonly)?;
    let key = &args[1];
    let write = o.store.is_some();
    let exists = if write {
        ctx.store.expire_if_needed(ctx.db, key, ctx.now_ms);
        ctx.store.dbs[ctx.db].keys.contains_key(key)
    } else {
        ctx.read(key).is_some()
    };
    let value = if exists {
        ctx.store.dbs[ctx.db].keys.get(&key[..]).map(|e| &e.value)
    } else {
        None
    };
    if let Some(v) = value {
        if !matches!(v, Value::List(_) | Value::Set(_) | Value::ZSet(_)) {
            return Err(Error::WrongType);
        }
    }
    // A set has no order of its own: under STORE (replicated), sort it.
    if o.dontsort && matches!(value, Some(Value::Set(_))) && o.store.is_some() {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    // Redis converts a small sorted set to its skiplist form to sort it.
    if exists {
        if let Some(entry) = ctx.store.dbs[ctx.db].keys.get_mut(&key[..]) {
            if let Value::ZSet(z) = &mut entry.value {
                if z.is_listpack() {
                    z.convert_to_skiplist();
                }
            }
        }
    }
    let value = if exists {
        ctx.store.dbs[ctx.db].keys.get(&key[..]).map(|e| &e.value)
    } else {
        None
    };
    let len = match value {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;
    // Redis's LIMIT sanity checks.
    let (limit_start, limit_count) = o.limit.unwrap_or((0, -1));
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        len - 1
    } else {
        start.saturating_add(limit_count) - 1
    };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }
    let direct = o.dontsort && matches!(value, Some(Value::List(_) | Value::ZSet(_)));
    let range = (end >= start && start >= 0).then_some((start as usize, end as usize));
    let elems = if direct {
        load(value, &o, range)
    } else {
        load(value, &o, None)
    };
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();
    if !o.dontsort {
        let mut bad = false;
        for item in &mut items {
            let by = match &o.by {
                Some(p) => lookup_by_pattern(ctx, p, &item.elem, write),
                None => Some(item.elem.clone()),
            };
            if o.alpha {
                if o.by.is_some() {
                    item.cmp = by;
                }
            } else if let Some(b) = by {
                match strtod_whole(&b) {
                    Some(s) => item.score = s,
                    None => bad = true,
                }
            }
        }
        if bad {
            return Err(Error::Other(
                "One or more scores can't be converted into double".into(),
            ));
        }
        let binary = o.store.is_some();
        let text_cmp = |a: &[u8], b: &[u8]| {
            if binary {
                a.cmp(b)
            } else {
                c_str(a).cmp(c_str(b))
            }
        };
        let has_by = o.by.is_some();
        let alpha = o.alpha;
        items.sort_by(|x, y| {
            let ord = if !alpha {
                x.score
                    .partial_cmp(&y.score)
                    .unwrap_or(Ordering::Equal)
                    .then_with(|| x.elem.cmp(&y.elem))
            } else if has_by {
                match (&x.cmp, &y.cmp) {
                    (Some(a), Some(b)) => text_cmp(a, b),
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                }
            } else {
                text_cmp(&x.elem, &y.elem)
            };
            if o.desc {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    // The direct load already applied the range.
    let (from, to) = if direct {
        (0i64, items.len() as i64 - 1)
    } else {
        (start, end)
    };
    let selected: &[Item] = if to >= from && from >= 0 {
        &items[from as usize..=(to as usize).min(items.len().saturating_sub(1))]
    } else {
        &[]
    };
    let per = o.gets.len().max(1);
    let mut outputs: Vec<Option<Vec<u8>>> = Vec::with_capacity(selected.len() * per);
    for item in selected {
        if o.gets.is_empty() {
            outputs.push(Some(item.elem.clone()));
        }
        for g in &o.gets {
            outputs.push(lookup_by_pattern(ctx, g, &item.elem, write));
        }
    }
    match &o.store {
        None => {
            reply.array(outputs.len());
            for out in &outputs {
                match out {
                    Some(v) => reply.bulk(v),
                    None => reply.null(),
                }
            }
        }
        Some(dest) => {
            let n = outputs.len();
            if n > 0 {
                let mut list = List::new(ctx.store.config.list_max_listpack_size);
                for out in &outputs {
                    list.push_back(out.as_deref().unwrap_or(b""));
                }
                ctx.set(dest, Value::List(Coll::new(list)), false);
                ctx.notify(notify::LIST, "sortstore", dest);
                ctx.store.dirty += n as u64 - 1;
            } else if ctx.delete(dest) {
                ctx.notify(notify::GENERIC, "del", dest);
            }
            reply.integer(n as i64);
        }
    }
    Ok(())
}

pub(crate) fn sort(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    sort_generic(ctx, reply, args, false)
}

pub(crate) fn sort_ro(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    sort_generic(ctx, reply, args, true)
}
