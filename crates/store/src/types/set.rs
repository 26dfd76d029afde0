//! Sets, encoded as Redis 7.0 encodes them:
//!
//! - `intset` while every member is a canonical integer (Redis's
//!   `string2ll`) and there are at most `set-max-intset-entries` of them:
//!   a sorted array of integers. Up to 14 of them live inline in the value
//!   itself, with no allocation, packed as fields of one bit width (8, 11,
//!   16, 22, 32, 56 or 64 bits: 14 integers in -128..=127, 10 in
//!   -1024..=1023, 7 in i16, …). Beyond that, one allocation of exactly the
//!   bytes needed, all integers of the smallest byte width (1, 2, 4 or 8)
//!   that holds the widest, like Redis's intset, behind a thin pointer
//!   (width and count stay in the value): 10 integers under 32768 cost one
//!   20-byte allocation where Redis allocates 28. The widths never show.
//! - `hashtable` otherwise: a [`Dict`] of members, whose hash order gives
//!   SSCAN a cursor that survives resizes.
//!
//! A set never converts back from `hashtable` to `intset` (Redis 7.0 does
//! not either); only sets built afresh (the *STORE commands, SPOP's
//! rebuilt remainder) pick their encoding from their contents.
//!
//! **Invariant:** `size_of::<Set>() == 16`: with its 4-byte clock,
//! `Coll<Set>` is 24 bytes, which is what fits beside `Value`'s tag in 32
//! bytes (a 24-byte payload would make `Value` 40 bytes).

use std::ptr::NonNull;

use crate::dict::{Dict, DictItem};

/// Bytes of integers held inline.
const INLINE_BYTES: usize = 14;

/// Most integers held inline (8-bit ones).
const INLINE_MAX: usize = 14;

/// A member of a hashtable-encoded set.
#[derive(Debug, Clone)]
pub struct Member(pub Box<[u8]>);

impl DictItem for Member {
    fn key(&self) -> &[u8] {
        &self.0
    }
}

/// Bit widths of the inline form, smallest first, and how many integers
/// of each fit in its 112 bits: 14 of 8 bits, 10 of 11 bits, 7 of 16, …
const INLINE_BITS: [u32; 7] = [8, 11, 16, 22, 32, 56, 64];

/// Up to 14 integers packed inline, sorted, each a two's-complement field
/// of the same bit width: `meta` holds the count (low 4 bits) and the
/// width's index in [`INLINE_BITS`] (high 4 bits).
#[derive(Clone, Copy)]
pub struct Inline {
    meta: u8,
    data: [u8; INLINE_BYTES],
}

impl Inline {
    const EMPTY: Inline = Inline {
        meta: 0,
        data: [0; INLINE_BYTES],
    };

    fn len(&self) -> usize {
        usize::from(self.meta & 15)
    }

    fn view(&self) -> View<'static> {
        let mut word = [0u8; 16];
        word[..INLINE_BYTES].copy_from_slice(&self.data);
        View::Packed {
            bits: INLINE_BITS[usize::from(self.meta >> 4)],
            len: self.len(),
            word: u128::from_le_bytes(word),
        }
    }

    /// Packs sorted `values` with the narrowest width that holds them all,
    /// if they fit.
    fn pack(values: &[i64]) -> Option<Inline> {
        let (lo, hi) = match (values.first(), values.last()) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            _ => return Some(Inline::EMPTY),
        };
        let code = INLINE_BITS.iter().position(|&bits| {
            let fits = |v: i64| bits == 64 || (v >> (bits - 1) == 0 || v >> (bits - 1) == -1);
            values.len() * bits as usize <= INLINE_BYTES * 8 && fits(lo) && fits(hi)
        })?;
        let bits = INLINE_BITS[code];
        let mask = if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        };
        let mut word = 0u128;
        for (i, &v) in values.iter().enumerate() {
            word |= u128::from(v as u64 & mask) << (i as u32 * bits);
        }
        let mut data = [0u8; INLINE_BYTES];
        data.copy_from_slice(&word.to_le_bytes()[..INLINE_BYTES]);
        Some(Inline {
            meta: ((code as u8) << 4) | values.len() as u8,
            data,
        })
    }
}

/// A read-only view of an intset: packed inline, or `len` integers of one
/// byte width on the heap.
#[derive(Clone, Copy)]
enum View<'a> {
    Packed { bits: u32, len: usize, word: u128 },
    Bytes { width: usize, bytes: &'a [u8] },
}

impl View<'_> {
    fn len(&self) -> usize {
        match self {
            View::Packed { len, .. } => *len,
            View::Bytes { width, bytes } => bytes.len() / width,
        }
    }

    fn get(&self, i: usize) -> i64 {
        match *self {
            View::Packed { bits, word, .. } => {
                let raw = (word >> (i as u32 * bits)) as u64;
                // Sign-extend the field.
                ((raw << (64 - bits)) as i64) >> (64 - bits)
            }
            View::Bytes { width, bytes } => get(width, bytes, i),
        }
    }

    /// Binary search: the index of `v`, or where it would go.
    fn search(&self, v: i64) -> Result<usize, usize> {
        if let View::Bytes { width, bytes } = *self {
            return search(width, bytes, v);
        }
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Every integer, decoded, when there are at most `N` of them.
    fn to_array<const N: usize>(self) -> Option<([i64; N], usize)> {
        let n = self.len();
        if n > N {
            return None;
        }
        let mut out = [0i64; N];
        for (i, slot) in out.iter_mut().enumerate().take(n) {
            *slot = self.get(i);
        }
        Some((out, n))
    }

    /// The integers as bytes of the smallest common byte width.
    fn to_bytes(self) -> (usize, Vec<u8>) {
        let n = self.len();
        let w = if n == 0 {
            1
        } else {
            width_for(self.get(0)).max(width_for(self.get(n - 1)))
        };
        let mut out = Vec::with_capacity(n * w);
        for i in 0..n {
            put(w, &mut out, self.get(i));
        }
        (w, out)
    }
}

enum Repr {
    Inline(Inline),
    /// A heap intset: `len` integers of `width` bytes at `ptr`, allocated
    /// as a `Box<[u8]>` of exactly `len * width` bytes (never empty).
    Heap {
        width: u8,
        len: u32,
        ptr: NonNull<u8>,
    },
    Hash(Box<Dict<Member>>),
}

/// A set value. See the module docs for its encodings.
pub struct Set(Repr);

// SAFETY: the heap pointer is owned exclusively by its `Set`, exactly like
// the `Box<[u8]>` it came from, so moving or sharing a `Set` across threads
// is as safe as for a box.
unsafe impl Send for Set {}
// SAFETY: as above; `&Set` only ever reads through the pointer.
unsafe impl Sync for Set {}

/// Turns an intset's bytes (sorted integers of `width` bytes) into its
/// representation: packed inline when they fit, else on the heap.
fn ints_repr(width: usize, bytes: Vec<u8>) -> Repr {
    let view = View::Bytes {
        width,
        bytes: &bytes,
    };
    if let Some((values, n)) = view.to_array::<INLINE_MAX>() {
        if let Some(inline) = Inline::pack(&values[..n]) {
            return Repr::Inline(inline);
        }
    }
    let len = (bytes.len() / width) as u32;
    let raw = Box::into_raw(bytes.into_boxed_slice());
    Repr::Heap {
        width: width as u8,
        len,
        // A `Box`'s pointer is never null.
        ptr: NonNull::new(raw.cast::<u8>()).unwrap_or(NonNull::dangling()),
    }
}

/// The box behind a heap intset; the caller must then forget the `Repr`
/// (overwrite it) so the box is freed once.
fn heap_box(width: u8, len: u32, ptr: NonNull<u8>) -> Box<[u8]> {
    let n = len as usize * usize::from(width);
    // SAFETY: `ptr` came from `Box::into_raw` of a `Box<[u8]>` of exactly
    // `n` bytes (`ints_repr`), and each caller takes it back only once.
    unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr.as_ptr(), n)) }
}

impl Drop for Set {
    fn drop(&mut self) {
        self.take_ints();
    }
}

impl Clone for Set {
    fn clone(&self) -> Set {
        match &self.0 {
            Repr::Inline(i) => Set(Repr::Inline(*i)),
            Repr::Heap { width, .. } => match self.view() {
                Some(View::Bytes { bytes, .. }) => {
                    Set(ints_repr(usize::from(*width), bytes.to_vec()))
                }
                _ => Set::new(),
            },
            Repr::Hash(d) => Set(Repr::Hash(d.clone())),
        }
    }
}

impl Default for Set {
    fn default() -> Set {
        Set::new()
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// A member as a set holds it: an integer of an intset, or bytes. (One set
/// yields only one kind, so comparing `Elem`s of one set is comparing
/// members.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Elem<'_> {
    /// Calls `f` with the member's bytes (an integer is formatted on the
    /// stack).
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Elem::Int(n) => f(itoa::Buffer::new().format(n).as_bytes()),
            Elem::Str(s) => f(s),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }
}

/// A member taken out of a set (SPOP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owned {
    Int(i64),
    Str(Box<[u8]>),
}

impl Owned {
    pub fn as_elem(&self) -> Elem<'_> {
        match self {
            Owned::Int(n) => Elem::Int(*n),
            Owned::Str(s) => Elem::Str(s),
        }
    }
}

fn width_for(v: i64) -> usize {
    if i64::from(v as i8) == v {
        1
    } else if i64::from(v as i16) == v {
        2
    } else if i64::from(v as i32) == v {
        4
    } else {
        8
    }
}

fn get(width: usize, bytes: &[u8], i: usize) -> i64 {
    let b = &bytes[i * width..];
    match width {
        1 => i64::from(b[0] as i8),
        2 => i64::from(i16::from_ne_bytes([b[0], b[1]])),
        4 => i64::from(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        _ => i64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

/// `v` in `width` native-endian bytes (the first `width` of the result).
fn encode(width: usize, v: i64) -> [u8; 8] {
    let mut buf = [0u8; 8];
    match width {
        1 => buf[0] = v as i8 as u8,
        2 => buf[..2].copy_from_slice(&(v as i16).to_ne_bytes()),
        4 => buf[..4].copy_from_slice(&(v as i32).to_ne_bytes()),
        _ => buf = v.to_ne_bytes(),
    }
    buf
}

fn put(width: usize, out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&encode(width, v)[..width]);
}

/// Binary search of a sorted intset.
fn search(width: usize, bytes: &[u8], v: i64) -> Result<usize, usize> {
    if width < 8 && width_for(v) > width {
        // Out of this width's range: not present, and it sorts at an end.
        return Err(if v < 0 { 0 } else { bytes.len() / width });
    }
    let (mut lo, mut hi) = (0, bytes.len() / width);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match get(width, bytes, mid).cmp(&v) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// The integer a member stands for, if it is a canonical one.
fn as_int(member: &[u8]) -> Option<i64> {
    if member.len() > 20 {
        return None;
    }
    crate::parse_i64_exact(member)
}

impl Set {
    /// An empty set, `intset`-encoded (as a STORE command's result starts).
    pub fn new() -> Set {
        Set(Repr::Inline(Inline::EMPTY))
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        match self.0 {
            Repr::Hash(_) => "hashtable",
            _ => "intset",
        }
    }

    /// Slots of the `hashtable` encoding's table; `None` for an intset.
    pub fn table_slots(&self) -> Option<usize> {
        match &self.0 {
            Repr::Hash(d) => Some(d.slot_count()),
            _ => None,
        }
    }

    pub fn is_intset(&self) -> bool {
        !matches!(self.0, Repr::Hash(_))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Inline(i) => i.len(),
            Repr::Heap { len, .. } => *len as usize,
            Repr::Hash(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The intset's integers; `None` for a hashtable.
    fn view(&self) -> Option<View<'_>> {
        match &self.0 {
            Repr::Inline(i) => Some(i.view()),
            Repr::Heap { width, len, ptr } => {
                let n = *len as usize * usize::from(*width);
                // SAFETY: `ptr` points to `n` initialized bytes owned by
                // this set (see `ints_repr`), borrowed for `&self`.
                let bytes = unsafe { std::slice::from_raw_parts(ptr.as_ptr(), n) };
                Some(View::Bytes {
                    width: usize::from(*width),
                    bytes,
                })
            }
            Repr::Hash(_) => None,
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.0 {
            Repr::Hash(d) => d.contains_key(member),
            _ => as_int(member).is_some_and(|v| self.contains_int(v)),
        }
    }

    fn contains_int(&self, v: i64) -> bool {
        match self.view() {
            Some(view) => view.search(v).is_ok(),
            None => Elem::Int(v).with_bytes(|s| self.contains(s)),
        }
    }

    pub fn contains_elem(&self, e: Elem<'_>) -> bool {
        match e {
            Elem::Int(v) => self.contains_int(v),
            Elem::Str(s) => self.contains(s),
        }
    }

    /// Adds `member`; false if it was there. Converts to a hashtable when
    /// the member is not an integer or the intset would exceed
    /// `max_intset` entries (Redis's `setTypeAdd`).
    pub fn add(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Repr::Hash(d) = &mut self.0 {
            return add_to_dict(d, member);
        }
        match as_int(member) {
            Some(v) => self.add_int(v, max_intset),
            None => {
                self.convert(1);
                self.add(member, max_intset)
            }
        }
    }

    pub fn add_elem(&mut self, e: Elem<'_>, max_intset: usize) -> bool {
        match e {
            Elem::Int(v) => self.add_int(v, max_intset),
            Elem::Str(s) => self.add(s, max_intset),
        }
    }

    fn add_int(&mut self, v: i64, max_intset: usize) -> bool {
        let Some(view) = self.view() else {
            return Elem::Int(v).with_bytes(|s| self.add(s, max_intset));
        };
        let pos = match view.search(v) {
            Ok(_) => return false,
            Err(pos) => pos,
        };
        let n = view.len();
        if n < INLINE_MAX {
            if let Some((mut values, _)) = view.to_array::<INLINE_MAX>() {
                values.copy_within(pos..n, pos + 1);
                values[pos] = v;
                if let Some(inline) = Inline::pack(&values[..=n]) {
                    self.take_ints();
                    self.0 = Repr::Inline(inline);
                    if n + 1 > max_intset {
                        self.convert(0);
                    }
                    return true;
                }
            }
        }
        let (w, mut vec) = self.take_ints().unwrap_or((1, Vec::new()));
        let new_w = w.max(width_for(v));
        let vec = if new_w == w {
            // One realloc, then a memmove, as Redis's intsetAdd.
            vec.reserve_exact(w);
            let old_len = vec.len();
            vec.resize(old_len + w, 0);
            vec.copy_within(pos * w..old_len, (pos + 1) * w);
            vec[pos * w..(pos + 1) * w].copy_from_slice(&encode(w, v)[..w]);
            vec
        } else {
            let mut out = Vec::with_capacity((n + 1) * new_w);
            for i in 0..pos {
                put(new_w, &mut out, get(w, &vec, i));
            }
            put(new_w, &mut out, v);
            for i in pos..n {
                put(new_w, &mut out, get(w, &vec, i));
            }
            out
        };
        self.0 = ints_repr(new_w, vec);
        if n + 1 > max_intset || n + 1 >= u32::MAX as usize {
            self.convert(0);
        }
        true
    }

    /// Takes an intset's integers out as bytes (leaving an empty intset);
    /// `None` for a hashtable.
    fn take_ints(&mut self) -> Option<(usize, Vec<u8>)> {
        match std::mem::replace(&mut self.0, Repr::Inline(Inline::EMPTY)) {
            Repr::Inline(i) => Some(i.view().to_bytes()),
            Repr::Heap { width, len, ptr } => {
                Some((usize::from(width), heap_box(width, len, ptr).into_vec()))
            }
            hash @ Repr::Hash(_) => {
                self.0 = hash;
                None
            }
        }
    }

    /// Turns an intset into a hashtable with room for `extra` more members.
    fn convert(&mut self, extra: usize) {
        let Some((w, bytes)) = self.take_ints() else {
            return;
        };
        let n = bytes.len() / w;
        let mut d = Dict::with_capacity(n + extra);
        for i in 0..n {
            Elem::Int(get(w, &bytes, i)).with_bytes(|s| d.insert(Member(s.into())));
        }
        self.0 = Repr::Hash(Box::new(d));
    }

    /// Removes `member`; false if it was not there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Hash(d) => d.remove(member).is_some(),
            _ => as_int(member).is_some_and(|v| self.remove_int(v)),
        }
    }

    pub fn remove_elem(&mut self, e: Elem<'_>) -> bool {
        match e {
            Elem::Int(v) => match self.0 {
                Repr::Hash(_) => Elem::Int(v).with_bytes(|s| self.remove(s)),
                _ => self.remove_int(v),
            },
            Elem::Str(s) => self.remove(s),
        }
    }

    fn remove_int(&mut self, v: i64) -> bool {
        let Some(Ok(pos)) = self.view().map(|view| view.search(v)) else {
            return false;
        };
        self.remove_at(pos);
        true
    }

    /// Removes the `pos`th integer of an intset.
    fn remove_at(&mut self, pos: usize) {
        match &mut self.0 {
            Repr::Inline(i) => {
                if let Some((mut values, n)) = i.view().to_array::<INLINE_MAX>() {
                    values.copy_within(pos + 1..n, pos);
                    // Fewer integers with no wider range: always fits.
                    if let Some(inline) = Inline::pack(&values[..n - 1]) {
                        *i = inline;
                    }
                }
            }
            Repr::Heap { .. } => {
                if let Some((w, mut vec)) = self.take_ints() {
                    vec.drain(pos * w..(pos + 1) * w);
                    self.0 = ints_repr(w, vec);
                }
            }
            Repr::Hash(_) => {}
        }
    }

    /// A random member, from `r` (the store's RNG); `None` when empty.
    pub fn random(&self, r: u64) -> Option<Elem<'_>> {
        match &self.0 {
            Repr::Hash(d) => d.random(r).map(|m| Elem::Str(&m.0)),
            _ => {
                let view = self.view()?;
                let n = view.len();
                (n > 0).then(|| Elem::Int(view.get(pick(r, n))))
            }
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self, r: u64) -> Option<Owned> {
        match &mut self.0 {
            Repr::Hash(d) => {
                let key = d.random(r)?.0.clone();
                d.remove(&key);
                Some(Owned::Str(key))
            }
            _ => {
                let view = self.view()?;
                let n = view.len();
                if n == 0 {
                    return None;
                }
                let pos = pick(r, n);
                let v = view.get(pos);
                self.remove_at(pos);
                Some(Owned::Int(v))
            }
        }
    }

    /// Members in the set's order: ascending for an intset, hash order for a
    /// hashtable.
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Hash(d) => Iter(IterRepr::Hash(d.iter())),
            _ => Iter(IterRepr::Ints {
                view: self.view().unwrap_or(View::Packed {
                    bits: 8,
                    len: 0,
                    word: 0,
                }),
                next: 0,
            }),
        }
    }

    /// One SSCAN step: an intset returns everything and cursor 0 (as Redis
    /// does); a hashtable resumes from `cursor` (see [`Dict::scan`]).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Elem<'_>)) -> u64 {
        match &self.0 {
            Repr::Hash(d) => d.scan(cursor, count, |m| f(Elem::Str(&m.0))),
            _ => {
                self.iter().for_each(f);
                0
            }
        }
    }
}

/// `r` mapped uniformly onto `0..n` without a division.
fn pick(r: u64, n: usize) -> usize {
    ((u128::from(r) * n as u128) >> 64) as usize
}

fn add_to_dict(d: &mut Dict<Member>, member: &[u8]) -> bool {
    match d.entry(member) {
        crate::dict::Entry::Occupied(_) => false,
        crate::dict::Entry::Vacant(v) => {
            v.insert(Member(member.into()));
            true
        }
    }
}

/// Iterator over a set's members; see [`Set::iter`].
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Ints { view: View<'a>, next: usize },
    Hash(crate::dict::Iter<'a, Member>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        match &mut self.0 {
            IterRepr::Ints { view, next } => {
                if *next >= view.len() {
                    return None;
                }
                let v = view.get(*next);
                *next += 1;
                Some(Elem::Int(v))
            }
            IterRepr::Hash(it) => it.next().map(|m| Elem::Str(&m.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn payload_fits_beside_the_clock() {
        assert_eq!(std::mem::size_of::<Set>(), 16);
        assert_eq!(std::mem::size_of::<crate::Coll<Set>>(), 24);
        assert_eq!(std::mem::size_of::<crate::Value>(), 32);
    }

    #[test]
    fn small_integer_sets_are_inline_and_sorted() {
        let mut s = Set::new();
        for v in [5, -3, 10, 0, 7, 1, 2, 3, 4, 6] {
            assert!(s.add(v.to_string().as_bytes(), 512));
            assert!(!s.add(v.to_string().as_bytes(), 512));
            // Ten 1-byte integers: inline, no allocation.
            assert!(matches!(s.0, Repr::Inline(_)));
        }
        // Ten integers within 11 bits (-1024..=1023) also stay inline.
        let mut wide = Set::new();
        for v in [500, -3, 10, 0, 7, 1, 2, 3, 4, -1024] {
            assert!(wide.add(v.to_string().as_bytes(), 512));
            assert!(matches!(wide.0, Repr::Inline(_)));
        }
        assert_eq!(wide.iter().next(), Some(Elem::Int(-1024)));
        assert_eq!(wide.iter().last(), Some(Elem::Int(500)));
        // Ten 2-byte integers: one 20-byte allocation.
        assert!(wide.add(b"1024", 512));
        assert!(wide.remove(b"-1024"));
        assert!(matches!(
            wide.0,
            Repr::Heap {
                width: 2,
                len: 10,
                ..
            }
        ));
        // Back under the inline limits, it moves back inline.
        assert!(wide.remove(b"1024"));
        assert!(matches!(wide.0, Repr::Inline(_)));
        assert_eq!(wide.len(), 9);
        // Fourteen 8-bit integers fit; the fifteenth moves to the heap.
        let mut many = Set::new();
        for v in 0..14 {
            many.add(v.to_string().as_bytes(), 512);
        }
        assert!(matches!(many.0, Repr::Inline(_)));
        many.add(b"-128", 512);
        assert!(matches!(
            many.0,
            Repr::Heap {
                width: 1,
                len: 15,
                ..
            }
        ));
        let copy = s.clone();
        assert_eq!(s.encoding_name(), "intset");
        let got: Vec<Elem<'_>> = s.iter().collect();
        let want: Vec<Elem<'_>> = [-3, 0, 1, 2, 3, 4, 5, 6, 7, 10]
            .into_iter()
            .map(Elem::Int)
            .collect();
        assert_eq!(got, want);
        // A wider value widens every element and leaves the inline space.
        assert!(s.add(b"100000", 512));
        assert!(matches!(
            s.0,
            Repr::Heap {
                width: 4,
                len: 11,
                ..
            }
        ));
        assert_eq!(copy.encoding_name(), "intset");
        assert!(s.contains(b"100000") && s.contains(b"-3"));
        assert!(!s.contains(b"-03") && !s.contains(b"x"));
        assert!(s.add(i64::MIN.to_string().as_bytes(), 512));
        assert!(matches!(s.0, Repr::Heap { width: 8, .. }));
        assert_eq!(s.iter().next(), Some(Elem::Int(i64::MIN)));
        assert_eq!(copy.len(), 10);
        assert!(copy.contains(b"10") && !copy.contains(b"100000"));
        for v in [5, -3, 10, 0, 7, 1, 2, 3, 4, 6] {
            assert!(s.remove(v.to_string().as_bytes()));
        }
        assert_eq!(s.len(), 2);
        assert!(matches!(
            s.0,
            Repr::Heap {
                width: 8,
                len: 2,
                ..
            }
        ));
    }

    #[test]
    fn converts_on_strings_and_size_never_back() {
        let mut s = Set::new();
        assert!(s.add(b"1", 2));
        assert!(s.add(b"2", 2));
        assert_eq!(s.encoding_name(), "intset");
        assert!(s.add(b"3", 2));
        assert_eq!(s.encoding_name(), "hashtable");
        assert!(s.remove(b"3"));
        assert_eq!(s.encoding_name(), "hashtable");
        let mut t = Set::new();
        assert!(t.add(b"-0", 512));
        assert_eq!(t.encoding_name(), "hashtable");
        // max 0: even one integer is a hashtable, as in Redis.
        let mut u = Set::new();
        assert!(u.add(b"1", 0));
        assert_eq!(u.encoding_name(), "hashtable");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(Vec<u8>),
        Remove(Vec<u8>),
        Pop(u64),
        Contains(Vec<u8>),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => (-40i64..40).prop_map(|v| v.to_string().into_bytes()),
            2 => any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            3 => prop::sample::select(vec![
                40_000i64, -40_000, 3_000_000_000, -3_000_000_000, i64::MAX, i64::MIN, 32767,
                -32768, 32768, -32769, 127, -128, 128, -129, 1023, -1024, 1024, -1025,
                (1 << 21) - 1, -(1 << 21), 1 << 21, (1 << 55) - 1, -(1 << 55), 1 << 55,
                i64::from(i32::MAX), i64::from(i32::MIN),
            ])
            .prop_map(|v| v.to_string().into_bytes()),
            1 => prop::sample::select(vec!["a", "", "-0", "01", "+1", " 1", "x"]).prop_map(|s| s.as_bytes().to_vec()),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => member().prop_map(Op::Add),
            3 => member().prop_map(Op::Remove),
            1 => any::<u64>().prop_map(Op::Pop),
            2 => member().prop_map(Op::Contains),
        ]
    }

    fn model_key(m: &[u8]) -> (bool, i64, Vec<u8>) {
        // Integers first, in numeric order, as an intset iterates.
        match as_int(m) {
            Some(v) => (false, v, Vec::new()),
            None => (true, 0, m.to_vec()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        #[test]
        fn matches_a_model(ops in prop::collection::vec(op(), 0..200), max in 0usize..24) {
            let mut set = Set::new();
            let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
            // Redis's rule: intset while all members are integers and the
            // count never exceeded `max`; a hashtable never converts back.
            let mut hashtable = false;
            for op in ops {
                match op {
                    Op::Add(m) => {
                        let added = model.insert(m.clone());
                        prop_assert_eq!(set.add(&m, max), added);
                        if added && (as_int(&m).is_none() || model.len() > max) {
                            hashtable = true;
                        }
                    }
                    Op::Remove(m) => prop_assert_eq!(set.remove(&m), model.remove(&m)),
                    Op::Pop(r) => {
                        let popped = set.pop_random(r);
                        prop_assert_eq!(popped.is_some(), !model.is_empty());
                        if let Some(p) = popped {
                            prop_assert!(model.remove(&p.as_elem().to_vec()));
                        }
                    }
                    Op::Contains(m) => prop_assert_eq!(set.contains(&m), model.contains(&m)),
                }
                prop_assert_eq!(set.len(), model.len());
                prop_assert_eq!(set.encoding_name(), if hashtable { "hashtable" } else { "intset" });
                let mut got: Vec<Vec<u8>> = set.iter().map(Elem::to_vec).collect();
                if hashtable {
                    got.sort_by_key(|m| model_key(m));
                } else {
                    // An intset iterates in ascending order as it is.
                    let mut sorted = got.clone();
                    sorted.sort_by_key(|m| model_key(m));
                    prop_assert_eq!(&got, &sorted);
                }
                let mut want: Vec<Vec<u8>> = model.iter().cloned().collect();
                want.sort_by_key(|m| model_key(m));
                prop_assert_eq!(got, want);
                if let Some(e) = set.random(12345) {
                    prop_assert!(model.contains(&e.to_vec()));
                }
            }
        }
    }
}
