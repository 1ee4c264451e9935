//! The reply corpora the decode benchmarks run on, public so that every
//! benchmark (redwire's own and the comparison with other parsers) decodes
//! exactly the same bytes. Not part of the supported API.

/// One benchmark corpus: a stream of complete RESP frames.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// Short identifier, used as the benchmark name.
    pub name: &'static str,
    /// The wire bytes.
    pub bytes: Vec<u8>,
    /// Number of top-level frames in `bytes`.
    pub frames: usize,
}

/// (1) 200,000 small replies, alternating `+OK` and integers.
pub fn small_replies() -> Corpus {
    let frames = 200_000;
    let mut bytes = Vec::with_capacity(frames * 8);
    for i in 0..frames {
        if i % 2 == 0 {
            bytes.extend_from_slice(b"+OK\r\n");
        } else {
            bytes.extend_from_slice(format!(":{}\r\n", i * 37).as_bytes());
        }
    }
    Corpus {
        name: "small_replies",
        bytes,
        frames,
    }
}

/// (2) 2,000 arrays of 100 bulk strings of 16 bytes each.
pub fn bulk_arrays() -> Corpus {
    let frames = 2_000;
    let mut bytes = Vec::new();
    for i in 0..frames {
        bytes.extend_from_slice(b"*100\r\n");
        for j in 0..100 {
            bytes.extend_from_slice(b"$16\r\n");
            bytes.extend_from_slice(format!("value:{:05}:{:04}", i, j).as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
    }
    Corpus {
        name: "bulk_arrays",
        bytes,
        frames,
    }
}

/// (3) 64 bulk strings of 1 MiB each.
pub fn large_bulks() -> Corpus {
    let frames = 64;
    let len = 1024 * 1024;
    let mut bytes = Vec::with_capacity(frames * (len + 16));
    for i in 0..frames {
        bytes.extend_from_slice(format!("${len}\r\n").as_bytes());
        bytes.extend((0..len).map(|k| b'a' + ((i + k) % 26) as u8));
        bytes.extend_from_slice(b"\r\n");
    }
    Corpus {
        name: "large_bulks",
        bytes,
        frames,
    }
}

/// (4) 20,000 RESP3 maps of 10 fields mixing integers, doubles and booleans.
pub fn resp3_maps() -> Corpus {
    let frames = 20_000;
    let mut bytes = Vec::new();
    for i in 0..frames {
        bytes.extend_from_slice(b"%10\r\n");
        for f in 0..10 {
            bytes.extend_from_slice(format!("$7\r\nfield_{f}\r\n").as_bytes());
            match f % 3 {
                0 => bytes.extend_from_slice(format!(":{}\r\n", i * 1000 + f).as_bytes()),
                1 => bytes.extend_from_slice(format!(",{}.{:03}\r\n", i, f * 7).as_bytes()),
                _ => bytes.extend_from_slice(if (i + f) % 2 == 0 {
                    b"#t\r\n"
                } else {
                    b"#f\r\n"
                }),
            }
        }
    }
    Corpus {
        name: "resp3_maps",
        bytes,
        frames,
    }
}

/// Chunk size of corpus (5): corpus (3) fed in pieces of this many bytes.
pub const CHUNK: usize = 4096;
