//! The request parser must never panic, never loop, and must produce the
//! same commands however the input is cut into reads.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use shoal_resp::{parse_frame, Limits, Parsed, RequestParser};

fn parse_in_chunks(data: &[u8], chunk: usize) -> (Vec<Vec<Vec<u8>>>, Option<String>) {
    let mut parser = RequestParser::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut error = None;
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match parser.parse(&mut buf, &mut out, 64) {
                Parsed::Full => continue,
                Parsed::Pending => break,
                Parsed::Error(e) => {
                    error = Some(e.message());
                    break;
                }
            }
        }
        if error.is_some() {
            break;
        }
    }
    let commands = out.into_iter().map(|c| c.into_iter().map(|a| a.to_vec()).collect()).collect();
    (commands, error)
}

fuzz_target!(|data: &[u8]| {
    let whole = parse_in_chunks(data, data.len());
    let split = parse_in_chunks(data, 7);
    assert_eq!(whole, split);
    let _ = parse_frame(data);
});
