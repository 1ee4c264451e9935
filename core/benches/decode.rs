//! Decode throughput on the corpora of `redwire_core::resp::corpus`.
//!
//! Each corpus is decoded from one buffer holding all of it (the decoder's
//! cost alone). Corpus (3) is also fed in 4 KiB pieces appended without
//! copying (the decoder's cost of resuming: constant per piece), and, to
//! compare like with like, copied into the read buffer as a socket read
//! would, both in one piece and in 4 KiB pieces.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use redwire_core::resp::{corpus, Decoder, Limits};

// Each routine returns its read buffer so that freeing the buffer's memory
// (64 MiB for corpus 3) happens outside the timed part, as criterion drops
// routine outputs after measuring: that cost is the allocator's, not the
// decoder's, and a connection reuses its buffer anyway.

fn one_shot(mut buf: BytesMut, frames: usize) -> BytesMut {
    let mut d = Decoder::new(Limits::default());
    let mut n = 0;
    while let Some(v) = d.decode(&mut buf).expect("valid corpus") {
        black_box(v);
        n += 1;
    }
    assert_eq!(n, frames);
    buf
}

/// Appends each piece with `unsplit`, which is O(1) for adjacent pieces: no copy.
fn chunked_no_copy(mut rest: BytesMut, frames: usize) -> BytesMut {
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
    buf
}

/// Copies each piece into the read buffer, like a socket read.
fn chunked_copy(bytes: &[u8], frames: usize) -> BytesMut {
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
    buf
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
                g.bench_function("large_bulks_copied", |b| {
                    b.iter_batched(
                        || {
                            // Memory already touched, like a connection's reused buffer.
                            let mut buf = BytesMut::with_capacity(cp.bytes.len());
                            buf.resize(cp.bytes.len(), 0);
                            buf.clear();
                            buf
                        },
                        |mut buf| {
                            buf.extend_from_slice(&cp.bytes);
                            one_shot(buf, cp.frames)
                        },
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
