//! RDB files and DUMP payloads from anywhere must load or fail with an
//! error: never a panic, never an allocation out of proportion to the
//! input, and whatever loads must convert into a value or be refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_store::{convert, rdb, StoreConfig};

fuzz_target!(|data: &[u8]| {
    let config = StoreConfig::default();
    let _ = rdb::read_file(data, |key| {
        let _ = convert::from_decoded(key.value, &config);
        Ok(())
    });
    if let Some(value) = rdb::decode_payload(data) {
        if let Some(v) = convert::from_decoded(value, &config) {
            // A value that loads dumps again and reads back the same.
            for compress in [true, false] {
                let again = rdb::dump_payload(&convert::to_decoded(&v), compress);
                assert!(rdb::restore_payload(&again).is_some());
            }
        }
    }
    // LZF, as `rdbcompression` writes it, reads back exactly.
    if let Some(packed) = rdb::lzf_compress(data, data.len() + data.len() / 16 + 16) {
        assert_eq!(rdb::lzf_decompress(&packed, data.len()).as_deref(), Some(data));
    }
    // A file that starts like a real one, so the fuzzer reaches the opcodes.
    let mut file = b"REDIS0010".to_vec();
    file.extend_from_slice(data);
    let _ = rdb::read_file(&file, |_| Ok(()));
});
