//! The five decoder corpora of the codec issue, taken from the core's
//! (doc-hidden) corpus module so that this comparison and redwire's own
//! decode benchmark run on exactly the same bytes.

use redwire_core::resp::corpus as core_corpus;

pub struct Corpus {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub frames: usize,
    /// Bytes fed per read; `None` feeds the whole corpus at once.
    pub chunk: Option<usize>,
    /// RESP3 types in it (redis-protocol has separate RESP2 and RESP3 decoders).
    pub resp3: bool,
}

/// Number of corpora.
pub const COUNT: usize = 5;

/// Corpus `index` (1 to 5, numbered as in the codec issue).
pub fn one(index: usize) -> Corpus {
    let (name, corpus, chunk, resp3) = match index {
        1 => (
            "(1) 200k +OK/integers",
            core_corpus::small_replies(),
            None,
            false,
        ),
        2 => (
            "(2) 2k arrays of 100x16B bulks",
            core_corpus::bulk_arrays(),
            None,
            false,
        ),
        3 => (
            "(3) 64 x 1 MiB bulks",
            core_corpus::large_bulks(),
            None,
            false,
        ),
        4 => (
            "(4) 20k RESP3 maps of 10 fields",
            core_corpus::resp3_maps(),
            None,
            true,
        ),
        5 => (
            "(5) corpus 3 in 4 KiB chunks",
            core_corpus::large_bulks(),
            Some(core_corpus::CHUNK),
            false,
        ),
        _ => panic!("corpus {index} does not exist (1 to {COUNT})"),
    };
    Corpus {
        name,
        bytes: corpus.bytes,
        frames: corpus.frames,
        chunk,
        resp3,
    }
}
