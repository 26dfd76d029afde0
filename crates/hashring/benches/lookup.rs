//! Lookup cost per strategy: `cargo bench -p shoal-hashring --bench lookup`.
//!
//! Keys are pre-generated (`sample_keys`, seed 1) and the hash is included
//! in each lookup, as a proxy pays it. Targets from issue 5: jump and slots
//! under 20 ns; ketama and maglev under 60 ns at 1,000 nodes.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use shoal_hashring::{
    numbered, sample_keys, Algorithm, Config, HashFn, HashTag, Ketama, Placement,
};

const KEYS: usize = 4_096;

fn bench(c: &mut Criterion, name: &str, p: &dyn Placement, keys: &[Vec<u8>]) {
    let mut i = 0usize;
    c.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(p.locate(black_box(&keys[i])))
        })
    });
}

fn lookups(c: &mut Criterion) {
    let keys = sample_keys(KEYS, 1);
    for nodes in [10usize, 1_000] {
        for algo in [
            Algorithm::Jump,
            Algorithm::Slots,
            Algorithm::Codis,
            Algorithm::Ketama,
            Algorithm::Maglev,
            Algorithm::Modula,
            Algorithm::Rendezvous,
        ] {
            if algo == Algorithm::Maglev && nodes == 1_000 {
                // 65537 entries would give 65 per node; use a larger prime
                // so the table keeps ~100 entries per node as Maglev advises.
                let mut config = Config::new(algo);
                config.maglev_table_size = 100_003;
                let p = shoal_hashring::build(&config, numbered("node", nodes)).expect("maglev");
                bench(c, &format!("{algo}/{nodes}"), p.as_ref(), &keys);
                continue;
            }
            let p =
                shoal_hashring::build(&Config::new(algo), numbered("node", nodes)).expect("build");
            bench(c, &format!("{algo}/{nodes}"), p.as_ref(), &keys);
        }
    }
    // Ketama with the twemproxy default hash vs XXH3: the hash dominates.
    let k = Ketama::new(numbered("node", 1_000), HashFn::Xxh3, HashTag::None).expect("ketama");
    bench(c, "ketama-xxh3/1000", &k, &keys);
}

fn hashes(c: &mut Criterion) {
    let key = b"t042:000123456789";
    for h in HashFn::ALL {
        c.bench_function(&format!("hash/{h}"), |b| {
            b.iter(|| black_box(h.hash32(black_box(key))))
        });
    }
}

criterion_group!(benches, lookups, hashes);
criterion_main!(benches);
