//! The LOADING state: while a dataset is read (at start-up, or a
//! replica's image from its master), connections are served, but only the
//! commands Redis flags `loading` run (INFO, CONFIG, CLIENT; PING is not
//! one of them); the rest get `-LOADING`. INFO persistence reports the
//! progress with Redis's field names.
//!
//! The loaders report how far they got through a thread-local sink, set
//! only on the thread that loads in this state: DEBUG RELOAD loads with no
//! sink and reports nothing.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use shoal_store::CommandSpec;

/// Redis's reply to a command refused while loading.
pub(crate) const LOADING: &str = "LOADING Redis is loading the dataset in memory";

/// How far the start-up load has got.
#[derive(Default)]
pub(crate) struct Progress {
    active: AtomicBool,
    /// Unix seconds when the load began.
    start_secs: AtomicU64,
    total_bytes: AtomicU64,
    /// Bytes of the files before the one being read.
    file_start: AtomicU64,
    loaded_bytes: AtomicU64,
    /// SHUTDOWN came while loading: the loaders stop at their next step.
    abort: AtomicBool,
}

impl Progress {
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    pub fn begin(&self) {
        self.start_secs
            .store(crate::now_ms() / 1000, Ordering::Relaxed);
        self.total_bytes.store(0, Ordering::Relaxed);
        self.file_start.store(0, Ordering::Relaxed);
        self.loaded_bytes.store(0, Ordering::Relaxed);
        self.abort.store(false, Ordering::Relaxed);
        self.active.store(true, Ordering::Release);
    }

    /// Stops the load in progress (SHUTDOWN while loading).
    pub fn abort(&self) {
        self.abort.store(true, Ordering::Relaxed);
    }

    pub fn end(&self) {
        self.active.store(false, Ordering::Release);
    }

    /// INFO persistence's `loading_*` lines, shown while loading, as
    /// Redis computes them (`loading_rdb_used_mem` is not known: 0).
    pub fn info_fields(&self) -> String {
        let start = self.start_secs.load(Ordering::Relaxed);
        let total = self.total_bytes.load(Ordering::Relaxed);
        let loaded = self.loaded_bytes.load(Ordering::Relaxed).min(total);
        let (perc, remaining) = if total > 0 {
            (loaded as f64 / (total + 1) as f64 * 100.0, total - loaded)
        } else {
            (0.0, 1)
        };
        let elapsed = (crate::now_ms() / 1000).saturating_sub(start);
        let eta = if elapsed == 0 {
            1
        } else {
            elapsed * remaining / (loaded + 1)
        };
        format!(
            "loading_start_time:{start}\r\nloading_total_bytes:{total}\r\nloading_rdb_used_mem:0\r\nloading_loaded_bytes:{loaded}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n"
        )
    }
}

thread_local! {
    static SINK: RefCell<Option<Arc<Progress>>> = const { RefCell::new(None) };
}

/// Runs `load` on this thread with its progress reported to `progress`.
pub(crate) fn track<R>(progress: &Arc<Progress>, load: impl FnOnce() -> R) -> R {
    SINK.with(|s| *s.borrow_mut() = Some(progress.clone()));
    let result = load();
    SINK.with(|s| *s.borrow_mut() = None);
    result
}

fn with_sink(f: impl FnOnce(&Progress)) {
    SINK.with(|s| {
        if let Some(p) = s.borrow().as_ref() {
            f(p);
        }
    });
}

/// The bytes of all files the load will read.
pub(crate) fn total(bytes: u64) {
    with_sink(|p| p.total_bytes.store(bytes, Ordering::Relaxed));
}

/// The file now read starts this far into the total.
pub(crate) fn file_at(bytes: u64) {
    with_sink(|p| {
        p.file_start.store(bytes, Ordering::Relaxed);
        p.loaded_bytes.store(bytes, Ordering::Relaxed);
    });
}

/// The current file has been read up to `offset`. False when the load
/// must stop (SHUTDOWN while loading): the loader then fails with
/// [`ABORTED`].
pub(crate) fn at(offset: usize) -> bool {
    let mut go_on = true;
    with_sink(|p| {
        let start = p.file_start.load(Ordering::Relaxed);
        p.loaded_bytes
            .store(start + offset as u64, Ordering::Relaxed);
        go_on = !p.abort.load(Ordering::Relaxed);
    });
    go_on
}

/// Why a load stopped before its end.
pub(crate) const ABORTED: &str = "loading aborted by SHUTDOWN";

/// Whether a command may run while the dataset loads: Redis's `loading`
/// flag (for a container, its subcommand's). DEBUG keeps only what cannot
/// replace or fill the dataset being loaded.
pub(crate) fn allowed(spec: &CommandSpec, args: &[Bytes]) -> bool {
    if spec.name == "debug" {
        let sub = args.get(1).map(|a| a.to_ascii_lowercase());
        return !sub.is_some_and(|s| {
            matches!(
                s.as_slice(),
                b"reload" | b"loadaof" | b"populate" | b"change-repl-id"
            )
        });
    }
    crate::commands::runs_while_loading(spec, args)
}
