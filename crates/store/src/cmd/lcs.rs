//! LCS: the longest common subsequence of two strings, Redis 7.0's
//! dynamic-programming algorithm and reply shapes.

use bytes::Bytes;
use shoal_resp::Reply;

use super::{int_arg, is};
use crate::error::{Error, Result};
use crate::{Ctx, Value};

/// The string at `key` (empty if missing), or `None` for other types.
#[allow(unreachable_patterns)] // Until more value types exist.
fn read_owned(ctx: &mut Ctx<'_>, key: &[u8]) -> Option<Vec<u8>> {
    match ctx.read(key) {
        None => Some(Vec::new()),
        Some(Value::Str(s)) => Some(s.data.clone()),
        Some(_) => None,
    }
}

pub(crate) fn lcs(ctx: &mut Ctx<'_>, reply: &mut Reply<'_>, args: &[Bytes]) -> Result {
    let a = read_owned(ctx, &args[1]);
    let b = read_owned(ctx, &args[2]);
    let (Some(a), Some(b)) = (a, b) else {
        return Err(Error::Other(
            "The specified keys must contain string values".into(),
        ));
    };
    let mut get_len = false;
    let mut get_idx = false;
    let mut with_match_len = false;
    let mut min_match_len: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let opt = &args[i][..];
        if is(opt, "idx") {
            get_idx = true;
        } else if is(opt, "len") {
            get_len = true;
        } else if is(opt, "withmatchlen") {
            with_match_len = true;
        } else if is(opt, "minmatchlen") && i + 1 < args.len() {
            min_match_len = int_arg(&args[i + 1])?.max(0);
            i += 1;
        } else {
            return Err(Error::Syntax);
        }
        i += 1;
    }
    if get_idx && get_len {
        return Err(Error::Other(
            "If you want both the length and indexes, please just use IDX.".into(),
        ));
    }
    // Lengths are held in u32 cells, as in Redis.
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(Error::Other("String too long for LCS".into()));
    }
    let table = Table::new(&a, &b, ctx.store.config.proto_max_bulk_len)?;
    let total = table.get(a.len(), b.len());
    if get_len {
        reply.integer(i64::from(total));
        return Ok(());
    }

    // Walk back from the end, collecting the LCS (backwards) and the
    // matching ranges, longest suffix first, exactly as Redis emits them.
    let mut result = vec![0u8; total as usize];
    let mut ranges: Vec<[u32; 5]> = Vec::new();
    let (mut i, mut j) = (a.len(), b.len());
    let mut idx = total as usize;
    // `None` while no range is open.
    let mut open: Option<[usize; 4]> = None; // a_start, a_end, b_start, b_end
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            let r = match open {
                // Consecutive matches are always contiguous: a mismatch
                // step closes the open range first.
                Some([_, a_end, _, b_end]) => [i - 1, a_end, j - 1, b_end],
                None => [i - 1, i - 1, j - 1, j - 1],
            };
            open = Some(r);
            if r[0] == 0 || r[2] == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table.get(i - 1, j) > table.get(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            emit = open.is_some();
        }
        if emit {
            let [a_start, a_end, b_start, b_end] = open.take().expect("a range is open");
            let match_len = a_end - a_start + 1;
            if min_match_len == 0 || match_len as i64 >= min_match_len {
                ranges.push([
                    a_start as u32,
                    a_end as u32,
                    b_start as u32,
                    b_end as u32,
                    match_len as u32,
                ]);
            }
        }
    }

    if !get_idx {
        reply.bulk(&result);
        return Ok(());
    }
    reply.map(2);
    reply.bulk(b"matches");
    reply.array(ranges.len());
    for [a_start, a_end, b_start, b_end, match_len] in ranges {
        reply.array(if with_match_len { 3 } else { 2 });
        reply.array(2);
        reply.integer(i64::from(a_start));
        reply.integer(i64::from(a_end));
        reply.array(2);
        reply.integer(i64::from(b_start));
        reply.integer(i64::from(b_end));
        if with_match_len {
            reply.integer(i64::from(match_len));
        }
    }
    reply.bulk(b"len");
    reply.integer(i64::from(total));
    Ok(())
}

/// `LCS(i, j)`: the LCS length of `a[..i]` and `b[..j]`, row-major.
struct Table {
    cells: Vec<u32>,
    width: usize,
}

impl Table {
    /// Fills the table. Its size is bounded by proto-max-bulk-len, as in
    /// Redis: the table is transient memory a client can make the server
    /// allocate with two keys, so it gets the same ceiling as one value.
    fn new(a: &[u8], b: &[u8], limit_bytes: usize) -> Result<Table> {
        let width = b.len() + 1;
        let cells_len = (a.len() as u64 + 1) * width as u64;
        let table_bytes = cells_len.checked_mul(4);
        if table_bytes.map_or(true, |t| t > limit_bytes as u64) {
            return Err(Error::Other(
                "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into(),
            ));
        }
        let mut cells = Vec::new();
        if cells.try_reserve_exact(cells_len as usize).is_err() {
            return Err(Error::Other(
                "Insufficient memory, failed allocating transient memory for LCS".into(),
            ));
        }
        cells.resize(cells_len as usize, 0u32);
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        Ok(Table { cells, width })
    }

    fn get(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use shoal_resp::{Protocol, Reply};

    use crate::{execute, lookup_command, Ctx, Store};

    fn run_with(store: &mut Store, protocol: Protocol, commands: &[&[&str]]) -> String {
        let mut out = Vec::new();
        for cmd in commands {
            let args: Vec<Bytes> = cmd
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect();
            let spec = lookup_command(&args[0]).expect("known command");
            let mut ctx = Ctx::new(store, 0, 1_700_000_000_000, 1);
            let mut reply = Reply::new(&mut out, protocol);
            if let Err(e) = execute(spec, &mut ctx, &mut reply, &args) {
                reply.error(&e.to_string());
            }
        }
        String::from_utf8(out).expect("utf-8 replies")
    }

    /// Sets a=ohmytext b=mynewtext (Redis's documentation example), then
    /// checks the reply to `cmd`.
    fn check(cmd: &[&str], expected: &str) {
        let mut store = Store::new(1);
        let got = run_with(
            &mut store,
            Protocol::Resp2,
            &[&["MSET", "a", "ohmytext", "b", "mynewtext"], cmd],
        );
        assert_eq!(got, format!("+OK\r\n{expected}"), "{cmd:?}");
    }

    #[test]
    fn string_and_len() {
        check(&["LCS", "a", "b"], "$6\r\nmytext\r\n");
        check(&["LCS", "a", "b", "LEN"], ":6\r\n");
        check(&["LCS", "a", "nokey"], "$0\r\n\r\n");
        check(&["LCS", "nokey", "nokey2", "len"], ":0\r\n");
    }

    #[test]
    fn idx() {
        check(
            &["LCS", "a", "b", "IDX"],
            "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n",
        );
        check(
            &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
            "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n",
        );
        // A negative MINMATCHLEN means no minimum.
        check(
            &["LCS", "a", "b", "idx", "minmatchlen", "-3", "withmatchlen"],
            "*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n",
        );
        check(
            &["LCS", "nokey", "b", "IDX"],
            "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
        );
    }

    #[test]
    fn idx_is_a_map_in_resp3() {
        let mut store = Store::new(1);
        let got = run_with(
            &mut store,
            Protocol::Resp3,
            &[&["MSET", "a", "ab", "b", "ab"], &["LCS", "a", "b", "IDX"]],
        );
        assert_eq!(
            got,
            "+OK\r\n%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:1\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:2\r\n"
        );
    }

    #[test]
    fn errors() {
        check(
            &["LCS", "a", "b", "IDX", "LEN"],
            "-ERR If you want both the length and indexes, please just use IDX.\r\n",
        );
        check(&["LCS", "a", "b", "foo"], "-ERR syntax error\r\n");
        check(&["LCS", "a", "b", "MINMATCHLEN"], "-ERR syntax error\r\n");
        check(
            &["LCS", "a", "b", "MINMATCHLEN", "x"],
            "-ERR value is not an integer or out of range\r\n",
        );
        check(
            &["LCS", "a"],
            "-ERR wrong number of arguments for 'lcs' command\r\n",
        );
    }

    #[test]
    fn table_is_bounded_by_proto_max_bulk_len() {
        let mut store = Store::new(1);
        store.config.proto_max_bulk_len = 1024 * 1024;
        // 601 * 601 cells of 4 bytes: 1.44 MB, over the 1 MB limit.
        let long = "a".repeat(600);
        let got = run_with(
            &mut store,
            Protocol::Resp2,
            &[&["MSET", "x", &long, "y", &long], &["LCS", "x", "y", "LEN"]],
        );
        assert_eq!(
            got,
            "+OK\r\n-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n"
        );
        // 500 * 500 * 4 bytes fits.
        let short = "a".repeat(499);
        let got = run_with(
            &mut store,
            Protocol::Resp2,
            &[
                &["MSET", "x", &short, "y", &short],
                &["LCS", "x", "y", "LEN"],
            ],
        );
        assert_eq!(got, "+OK\r\n:499\r\n");
    }
}
