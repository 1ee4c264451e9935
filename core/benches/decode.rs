//! Decode throughput on the corpora of `redwire_core::resp::corpus`.
//!
//! Each corpus is decoded from one buffer holding all of it (the decoder's
//! cost alone), and corpus (3) also arriving in 4 KiB pieces, twice: once
//! appended without copying (the decoder's cost of resuming) and once
//! copied into the read buffer as a socket read would.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use redwire_core::resp::{corpus, Decoder, Limits};

fn one_shot(mut buf: BytesMut, frames: usize) {
    let mut d = Decoder::new(Limits::default());
    let mut n = 0;
    while let Some(v) = d.decode(&mut buf).expect("valid corpus") {
        black_box(v);
        n += 1;
    }
    assert_eq!(n, frames);
}

/// Appends each piece with `unsplit`, which is O(1) for adjacent pieces: no copy.
fn chunked_no_copy(mut rest: BytesMut, frames: usize) {
    let mut d = Decoder::new(Limits::default());
    let mut buf = rest.split_to(0);
    let mut n = 0;
    while !rest.is_empty() {
        let take = corpus::CHUNK.min(rest.len());
        buf.unsplit(rest.split_to(take));
        while let Some(v) = d.decode(&mut buf).expect("valid corpus") {
            black_box(v);
            n += 1;
        }
    }
    assert_eq!(n, frames);
}

/// Copies each piece into the read buffer, like a socket read.
fn chunked_copy(bytes: &[u8], frames: usize) {
    let mut d = Decoder::new(Limits::default());
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut n = 0;
    for piece in bytes.chunks(corpus::CHUNK) {
        buf.extend_from_slice(piece);
        while let Some(v) = d.decode(&mut buf).expect("valid corpus") {
            black_box(v);
            n += 1;
        }
    }
    assert_eq!(n, frames);
}

fn bench(c: &mut Criterion) {
    let corpora = [
        corpus::small_replies(),
        corpus::bulk_arrays(),
        corpus::large_bulks(),
        corpus::resp3_maps(),
    ];
    for unit in ["bytes", "frames"] {
        let mut g = c.benchmark_group(format!("decode_{unit}"));
        for cp in &corpora {
            g.throughput(if unit == "bytes" {
                Throughput::Bytes(cp.bytes.len() as u64)
            } else {
                Throughput::Elements(cp.frames as u64)
            });
            g.bench_function(cp.name, |b| {
                b.iter_batched(
                    || BytesMut::from(&cp.bytes[..]),
                    |buf| one_shot(buf, cp.frames),
                    BatchSize::LargeInput,
                )
            });
            if cp.name == "large_bulks" {
                g.bench_function("large_bulks_chunked_4k", |b| {
                    b.iter_batched(
                        || BytesMut::from(&cp.bytes[..]),
                        |buf| chunked_no_copy(buf, cp.frames),
                        BatchSize::LargeInput,
                    )
                });
                g.bench_function("large_bulks_chunked_4k_copied", |b| {
                    b.iter(|| chunked_copy(&cp.bytes, cp.frames))
                });
            }
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
