//! The five decoder corpora defined by the codec issue, generated deterministically.
//!
//! They are generated here (rather than imported from the core) so the benchmark
//! does not depend on test-only items of the core's API.

/// (1) 200k small replies, alternating `+OK` and integers.
pub fn small_replies() -> Vec<u8> {
    let mut out = Vec::with_capacity(200_000 * 8);
    for i in 0..200_000u64 {
        if i % 2 == 0 {
            out.extend_from_slice(b"+OK\r\n");
        } else {
            out.extend_from_slice(format!(":{}\r\n", i * 7919 % 1_000_003).as_bytes());
        }
    }
    out
}

/// (2) 2,000 arrays of 100 bulk strings of 16 bytes.
pub fn arrays_of_bulks() -> Vec<u8> {
    let mut out = Vec::with_capacity(2_000 * (6 + 100 * 23));
    for a in 0..2_000u32 {
        out.extend_from_slice(b"*100\r\n");
        for b in 0..100u32 {
            out.extend_from_slice(b"$16\r\n");
            let payload = format!("value{a:05}{b:04}xx");
            debug_assert_eq!(payload.len(), 16);
            out.extend_from_slice(payload.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// (3) 64 bulk strings of 1 MiB.
pub fn big_bulks() -> Vec<u8> {
    const MIB: usize = 1 << 20;
    let mut out = Vec::with_capacity(64 * (MIB + 16));
    for i in 0..64u8 {
        out.extend_from_slice(format!("${MIB}\r\n").as_bytes());
        out.extend(std::iter::repeat_n(b'a' + (i % 26), MIB));
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// (4) 20,000 RESP3 maps of 10 fields mixing integers, doubles and booleans.
pub fn resp3_maps() -> Vec<u8> {
    let mut out = Vec::with_capacity(20_000 * 160);
    for m in 0..20_000u64 {
        out.extend_from_slice(b"%10\r\n");
        for f in 0..10u64 {
            out.extend_from_slice(format!("$7\r\nfield_{f}\r\n").as_bytes());
            match f % 3 {
                0 => out.extend_from_slice(format!(":{}\r\n", m * 31 + f).as_bytes()),
                1 => out.extend_from_slice(format!(",{}.{:03}\r\n", m, f * 7).as_bytes()),
                _ => out.extend_from_slice(if (m + f) % 2 == 0 {
                    b"#t\r\n"
                } else {
                    b"#f\r\n"
                }),
            }
        }
    }
    out
}

pub struct Corpus {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    pub frames: usize,
    /// Bytes fed per read; `None` feeds the whole corpus at once.
    pub chunk: Option<usize>,
    pub resp3: bool,
}

pub fn all() -> Vec<Corpus> {
    vec![
        Corpus {
            name: "(1) 200k +OK/integers",
            bytes: small_replies(),
            frames: 200_000,
            chunk: None,
            resp3: false,
        },
        Corpus {
            name: "(2) 2k arrays of 100x16B bulks",
            bytes: arrays_of_bulks(),
            frames: 2_000,
            chunk: None,
            resp3: false,
        },
        Corpus {
            name: "(3) 64 x 1 MiB bulks",
            bytes: big_bulks(),
            frames: 64,
            chunk: None,
            resp3: false,
        },
        Corpus {
            name: "(4) 20k RESP3 maps of 10 fields",
            bytes: resp3_maps(),
            frames: 20_000,
            chunk: None,
            resp3: true,
        },
        Corpus {
            name: "(5) corpus 3 in 4 KiB chunks",
            bytes: big_bulks(),
            frames: 64,
            chunk: Some(4096),
            resp3: false,
        },
    ]
}
