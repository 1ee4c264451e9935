//! Decoder micro-benchmarks: plain timed loops (warm-up, then the best of several
//! repetitions), so the whole table comes out of one run.
//!
//! Each decoder gets the same input the same way: a `BytesMut` holding the
//! corpus (or filled 4 KiB at a time for the chunked corpus), decoded until it
//! is empty. Each peer runs with its fastest zero-copy entry point:
//! redis-protocol's `decode_bytes_mut` (RESP2 or RESP3 as the corpus needs) and
//! redis-rs's `ValueCodec`, the streaming decoder its async connections use.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio_util::codec::Decoder as _;

use crate::corpus::Corpus;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parser {
    Redwire,
    RedisProtocol,
    RedisRs,
}

impl Parser {
    pub const ALL: [Parser; 3] = [Parser::Redwire, Parser::RedisProtocol, Parser::RedisRs];
}

/// The buffer a run starts from: the whole corpus for one-shot decoding (copied
/// before the clock starts, as a socket read would have filled it), or an empty
/// buffer that the run itself fills chunk by chunk.
fn initial_buffer(corpus: &Corpus) -> BytesMut {
    match corpus.chunk {
        None => BytesMut::from(&corpus.bytes[..]),
        Some(chunk) => BytesMut::with_capacity(chunk),
    }
}

/// Decodes every frame of `corpus`, returning the (empty) buffer.
///
/// The buffer is handed back rather than dropped so that freeing the storage it
/// shares with the decoded payloads (a 64 MiB `munmap` for corpus 3) happens
/// after the clock stops: that is the allocator's cost, not the decoder's.
fn run(parser: Parser, corpus: &Corpus, mut buf: BytesMut) -> Result<BytesMut, String> {
    let data = &corpus.bytes;
    let (chunk, mut fed) = match corpus.chunk {
        None => (data.len(), data.len()),
        Some(chunk) => (chunk, 0),
    };
    let mut frames = 0usize;
    let mut rw = redwire_core::resp::Decoder::new(redwire_core::resp::Limits::default());
    let mut rs = redis::ValueCodec::default();
    loop {
        loop {
            let got = match parser {
                Parser::Redwire => rw.decode(&mut buf).map_err(|e| e.to_string())?.map(|v| {
                    black_box(v);
                }),
                Parser::RedisProtocol if corpus.resp3 => {
                    redis_protocol::resp3::decode::complete::decode_bytes_mut(&mut buf)
                        .map_err(|e| e.to_string())?
                        .map(|v| {
                            black_box(v);
                        })
                }
                Parser::RedisProtocol => redis_protocol::resp2::decode::decode_bytes_mut(&mut buf)
                    .map_err(|e| e.to_string())?
                    .map(|v| {
                        black_box(v);
                    }),
                Parser::RedisRs => rs.decode(&mut buf).map_err(|e| e.to_string())?.map(|v| {
                    black_box(v);
                }),
            };
            match got {
                Some(()) => frames += 1,
                None => break,
            }
        }
        if fed == data.len() {
            break;
        }
        let end = (fed + chunk).min(data.len());
        buf.extend_from_slice(&data[fed..end]);
        fed = end;
    }
    if frames != corpus.frames || !buf.is_empty() {
        return Err(format!(
            "decoded {frames} frames (expected {}), {} bytes left over",
            corpus.frames,
            buf.len()
        ));
    }
    Ok(buf)
}

/// One untimed run that also checks the decoder works on this corpus. The
/// redwire decoder may be unfinished in a given checkout: a panic is reported
/// as "not available" instead of aborting the whole benchmark.
pub fn check(parser: Parser, corpus: &Corpus) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(parser, corpus, initial_buffer(corpus))
    }))
    .map_err(|_| "panicked (not implemented?)".to_string())??;
    Ok(())
}

/// One timed run.
pub fn time_once(parser: Parser, corpus: &Corpus) -> Result<Duration, String> {
    let buf = initial_buffer(corpus);
    let start = Instant::now();
    let leftover = run(parser, corpus, buf)?;
    let elapsed = start.elapsed();
    drop(leftover);
    Ok(elapsed)
}

/// MB/s of a run of `corpus` that took `elapsed`.
pub fn mb_per_s(corpus: &Corpus, elapsed: Duration) -> f64 {
    corpus.bytes.len() as f64 / elapsed.as_secs_f64() / 1e6
}
