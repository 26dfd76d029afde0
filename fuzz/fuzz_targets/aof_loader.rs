//! AOF files (and manifests) from anywhere must load, stop at a cut or
//! corrupt record, or fail with an error: never a panic, never an
//! allocation out of proportion to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = shoal_server::fuzz_aof_load(data);
    // A file that starts like an RDB preamble, so the fuzzer reaches the
    // RDB-then-commands path too.
    let mut file = b"REDIS0010".to_vec();
    file.extend_from_slice(data);
    let _ = shoal_server::fuzz_aof_load(&file);
});
