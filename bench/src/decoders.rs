//! Decoder micro-benchmarks: plain timed loops (warm-up, then the best of several
//! repetitions), so the whole table comes out of one run.
//!
//! Each decoder gets the same input the same way: a `BytesMut` holding the
//! corpus (or filled 4 KiB at a time for the chunked corpus), decoded until it
//! is empty. Each peer runs with its fastest zero-copy entry point:
//! redis-protocol's `decode_bytes_mut` (RESP2 or RESP3 as the corpus needs) and
//! redis-rs's `ValueCodec`, the streaming decoder its async connections use.
//! Each parser's loop is compiled on its own (generic over [`Frames`]): a
//! single loop matching on the parser per frame made the fastest decoder pay
//! for the others' code (measured: redwire's corpus (1) ran at ~200 MB/s in
//! the shared loop and ~330 MB/s in its own; the peers gained 2-15 %).

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

/// One parser's entry point: decodes the next frame from the front of `buf`
/// (consuming its bytes) and hands the value to `black_box`, or says the
/// buffer holds no complete frame.
trait Frames {
    fn next_frame(&mut self, buf: &mut BytesMut) -> Result<bool, String>;
}

/// What every parser's entry point returns, as [`Frames::next_frame`] says it:
/// the value goes to `black_box` (and is dropped, as a caller would).
#[inline(always)]
fn consume<V, E: std::fmt::Display>(decoded: Result<Option<V>, E>) -> Result<bool, String> {
    match decoded {
        Ok(Some(v)) => {
            black_box(v);
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

struct Redwire(redwire_core::resp::Decoder);

impl Frames for Redwire {
    #[inline(always)]
    fn next_frame(&mut self, buf: &mut BytesMut) -> Result<bool, String> {
        consume(self.0.decode(buf))
    }
}

struct RedisProtocol {
    resp3: bool,
}

impl Frames for RedisProtocol {
    #[inline(always)]
    fn next_frame(&mut self, buf: &mut BytesMut) -> Result<bool, String> {
        if self.resp3 {
            consume(redis_protocol::resp3::decode::complete::decode_bytes_mut(
                buf,
            ))
        } else {
            consume(redis_protocol::resp2::decode::decode_bytes_mut(buf))
        }
    }
}

struct RedisRs(redis::ValueCodec);

impl Frames for RedisRs {
    #[inline(always)]
    fn next_frame(&mut self, buf: &mut BytesMut) -> Result<bool, String> {
        consume(self.0.decode(buf))
    }
}

/// Decodes every frame of `corpus`, returning the (empty) buffer.
///
/// The buffer is handed back rather than dropped so that freeing the storage it
/// shares with the decoded payloads (a 64 MiB `munmap` for corpus 3) happens
/// after the clock stops: that is the allocator's cost, not the decoder's.
fn run(parser: Parser, corpus: &Corpus, buf: BytesMut) -> Result<BytesMut, String> {
    // One loop compiled per parser, so that no parser's loop carries the
    // others' code (registers, stack frame) around.
    match parser {
        Parser::Redwire => run_with(
            Redwire(redwire_core::resp::Decoder::new(
                redwire_core::resp::Limits::default(),
            )),
            corpus,
            buf,
        ),
        Parser::RedisProtocol => run_with(
            RedisProtocol {
                resp3: corpus.resp3,
            },
            corpus,
            buf,
        ),
        Parser::RedisRs => run_with(RedisRs(redis::ValueCodec::default()), corpus, buf),
    }
}

#[inline(never)]
fn run_with<F: Frames>(
    mut parser: F,
    corpus: &Corpus,
    mut buf: BytesMut,
) -> Result<BytesMut, String> {
    let data = &corpus.bytes;
    let (chunk, mut fed) = match corpus.chunk {
        None => (data.len(), data.len()),
        Some(chunk) => (chunk, 0),
    };
    let mut frames = 0usize;
    loop {
        while parser.next_frame(&mut buf)? {
            frames += 1;
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
