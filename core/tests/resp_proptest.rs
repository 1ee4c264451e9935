//! Property tests of the codec: round trips, chunking independence, and
//! robustness against arbitrary bytes.

use bytes::BytesMut;
use proptest::prelude::*;
use redwire_core::resp::{
    encode_value, Decoder, Limits, Payload, ProtocolError, ProtocolErrorKind, ServerError,
    ServerErrorCode, Value,
};

fn arb_code() -> impl Strategy<Value = ServerErrorCode> {
    prop_oneof![
        Just(ServerErrorCode::Err),
        Just(ServerErrorCode::WrongType),
        Just(ServerErrorCode::Moved),
        Just(ServerErrorCode::Ask),
        Just(ServerErrorCode::Loading),
        Just(ServerErrorCode::NoAuth),
        Just(ServerErrorCode::Busy),
        Just(ServerErrorCode::TryAgain),
        // Any word that is not a known code stays as sent.
        "[A-Z][A-Z_]{0,12}".prop_map(|s| ServerErrorCode::from_code(&s)),
    ]
}

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        // Simple strings, errors and big numbers cannot contain CR or LF.
        "[^\r\n]{0,20}".prop_map(|s| Value::SimpleString(Payload::from(s))),
        (arb_code(), "[ -~]{0,20}|[ -~]{0,5}\r\n[ -~]{0,5}").prop_map(|(code, message)| {
            Value::Error(ServerError {
                code,
                message: message.into(),
            })
        }),
        any::<i64>().prop_map(Value::Integer),
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| Value::BulkString(Payload::from(b))),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        // NaN is excluded only because NaN != NaN; the decoder's nan is tested by hand.
        prop_oneof![
            any::<f64>().prop_filter("not NaN", |d| !d.is_nan()),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0)
        ]
        .prop_map(Value::Double),
        "-?[0-9]{1,50}".prop_map(|s| Value::BigNumber(Payload::from(s))),
        ("[a-z]{3}", proptest::collection::vec(any::<u8>(), 0..30)).prop_map(|(f, t)| {
            Value::Verbatim {
                format: f.as_bytes().try_into().unwrap(),
                text: Payload::from(t),
            }
        }),
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(5, 64, 6, |inner| {
        let pairs = proptest::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Push),
            pairs.clone().prop_map(Value::Map),
            (pairs, inner).prop_map(|(attributes, value)| Value::Attribute {
                attributes,
                value: Box::new(value)
            }),
        ]
    })
}

/// A small deterministic choice source, so one proptest-generated seed picks
/// among the equivalent wire forms of each value.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Encodes `v` choosing, where RESP allows, among equivalent forms: RESP2
/// nulls, streamed strings split into random chunks, streamed aggregates.
/// All of them must decode to `v`.
fn encode_varied(v: &Value, c: &mut Choices, out: &mut Vec<u8>) {
    match v {
        Value::Null => {
            out.extend_from_slice([&b"_\r\n"[..], b"$-1\r\n", b"*-1\r\n"][c.pick(3) as usize])
        }
        Value::BulkString(b) if c.pick(3) == 0 => {
            out.extend_from_slice(b"$?\r\n");
            let mut rest = &b[..];
            while !rest.is_empty() {
                let n = 1 + c.pick(rest.len() as u64) as usize;
                out.extend_from_slice(format!(";{n}\r\n").as_bytes());
                out.extend_from_slice(&rest[..n]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            out.extend_from_slice(b";0\r\n");
        }
        Value::Array(items) | Value::Set(items) if c.pick(3) == 0 => {
            out.extend_from_slice(if matches!(v, Value::Array(_)) {
                b"*?\r\n"
            } else {
                b"~?\r\n"
            });
            for i in items {
                encode_varied(i, c, out);
            }
            out.extend_from_slice(b".\r\n");
        }
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            let ty = match v {
                Value::Array(_) => '*',
                Value::Set(_) => '~',
                _ => '>',
            };
            out.extend_from_slice(format!("{ty}{}\r\n", items.len()).as_bytes());
            for i in items {
                encode_varied(i, c, out);
            }
        }
        Value::Map(pairs) => {
            let streamed = c.pick(3) == 0;
            if streamed {
                out.extend_from_slice(b"%?\r\n");
            } else {
                out.extend_from_slice(format!("%{}\r\n", pairs.len()).as_bytes());
            }
            for (k, v) in pairs {
                encode_varied(k, c, out);
                encode_varied(v, c, out);
            }
            if streamed {
                out.extend_from_slice(b".\r\n");
            }
        }
        Value::Attribute { attributes, value } => {
            out.extend_from_slice(format!("|{}\r\n", attributes.len()).as_bytes());
            for (k, v) in attributes {
                encode_varied(k, c, out);
                encode_varied(v, c, out);
            }
            encode_varied(value, c, out);
        }
        other => {
            let mut b = BytesMut::new();
            encode_value(other, &mut b);
            out.extend_from_slice(&b);
        }
    }
}

/// Decodes `input` fed in pieces ending at `cuts` (sorted offsets): all
/// frames, then the error if one came.
fn decode_chunked(
    limits: Limits,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Value>, Option<ProtocolError>) {
    let mut d = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut start = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    ends.push(input.len());
    for end in ends {
        if end < start {
            continue;
        }
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match d.decode(&mut buf) {
                Ok(Some(v)) => frames.push(v),
                Ok(None) => break,
                Err(e) => {
                    assert!(d.is_failed());
                    return (frames, Some(e));
                }
            }
        }
    }
    (frames, None)
}

fn decode_one_shot(limits: Limits, input: &[u8]) -> (Vec<Value>, Option<ProtocolError>) {
    decode_chunked(limits, input, &[])
}

/// Depth, largest aggregate and largest string of a decoded value, computed
/// without recursion.
fn shape(v: &Value) -> (usize, usize, usize) {
    let (mut depth, mut agg, mut bulk) = (0, 0, 0);
    let mut todo = vec![(v, 0usize)];
    while let Some((v, d)) = todo.pop() {
        match v {
            Value::Array(items) | Value::Set(items) | Value::Push(items) => {
                depth = depth.max(d + 1);
                agg = agg.max(items.len());
                todo.extend(items.iter().map(|i| (i, d + 1)));
            }
            Value::Map(pairs)
            | Value::Attribute {
                attributes: pairs, ..
            } => {
                depth = depth.max(d + 1);
                agg = agg.max(pairs.len());
                for (k, x) in pairs {
                    todo.push((k, d + 1));
                    todo.push((x, d + 1));
                }
                if let Value::Attribute { value, .. } = v {
                    todo.push((value, d + 1));
                }
            }
            Value::BulkString(b) | Value::SimpleString(b) | Value::BigNumber(b) => {
                bulk = bulk.max(b.len())
            }
            Value::Verbatim { text, .. } => bulk = bulk.max(text.len() + 4),
            _ => {}
        }
    }
    (depth, agg, bulk)
}

/// Values held by the aggregates of a decoded frame.
fn elements(v: &Value) -> usize {
    let mut n = 0;
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        match v {
            Value::Array(items) | Value::Set(items) | Value::Push(items) => {
                n += items.len();
                todo.extend(items);
            }
            Value::Map(pairs) => {
                n += 2 * pairs.len();
                todo.extend(pairs.iter().flat_map(|(k, x)| [k, x]));
            }
            Value::Attribute { attributes, value } => {
                n += 2 * attributes.len() + 1;
                todo.extend(attributes.iter().flat_map(|(k, x)| [k, x]));
                todo.push(value);
            }
            _ => {}
        }
    }
    n
}

/// Two errors agree if they are the same, or if both report the same line
/// as over a limit (a partial line can show that it is too long for one
/// limit before the whole of it shows that it breaks the other).
fn same_error(a: &Option<ProtocolError>, b: &Option<ProtocolError>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) if x.offset == y.offset => {
            let limit = |k| {
                matches!(
                    k,
                    ProtocolErrorKind::LineTooLong | ProtocolErrorKind::FrameTooLarge
                )
            };
            x.kind == y.kind || (limit(x.kind) && limit(y.kind))
        }
        (None, None) => true,
        _ => false,
    }
}

fn small_limits() -> Limits {
    Limits {
        max_bulk_len: 64,
        max_aggregate_len: 8,
        max_depth: 4,
        max_frame_bytes: 512,
        max_line_len: 32,
        max_frame_elements: 24,
    }
}

// Invariant: encoding any value (however nested, with every RESP3 type)
// and decoding the bytes gives back exactly that value, as one frame that
// consumes every byte; the same holds for every equivalent wire form
// (RESP2 nulls, streamed strings, streamed aggregates).
proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn encode_then_decode_round_trips(v in arb_value(), seed in any::<u64>()) {
        let mut buf = BytesMut::new();
        encode_value(&v, &mut buf);
        let mut d = Decoder::new(Limits::default());
        prop_assert_eq!(d.decode(&mut buf).unwrap(), Some(v.clone()));
        prop_assert!(buf.is_empty());

        let mut varied = Vec::new();
        encode_varied(&v, &mut Choices(seed | 1), &mut varied);
        let (frames, err) = decode_one_shot(Limits::default(), &varied);
        prop_assert_eq!(err, None);
        prop_assert_eq!(frames, vec![v]);
    }
}

// Invariant: splitting a valid stream of several frames into chunks at any
// points yields exactly the frames of decoding it in one piece, in order,
// and every frame's payloads are the same bytes.
proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn any_chunking_gives_the_same_frames(
        values in proptest::collection::vec(arb_value(), 1..5),
        seed in any::<u64>(),
        mut cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut wire = Vec::new();
        let mut c = Choices(seed | 1);
        for v in &values {
            encode_varied(v, &mut c, &mut wire);
        }
        let mut offsets: Vec<usize> = cuts.drain(..).map(|i| i.index(wire.len() + 1)).collect();
        offsets.sort_unstable();
        let (frames, err) = decode_chunked(Limits::default(), &wire, &offsets);
        prop_assert_eq!(err, None);
        prop_assert_eq!(&frames, &values);
        // Byte by byte as well, the worst case for resumption.
        let every: Vec<usize> = (1..wire.len()).collect();
        let (frames, err) = decode_chunked(Limits::default(), &wire, &every);
        prop_assert_eq!(err, None);
        prop_assert_eq!(frames, values);
    }
}

// Invariant: arbitrary bytes, however chunked, never panic; decoding ends in
// frames and possibly one typed error, the same whatever the chunking
// (frames, error offset and kind); every returned frame respects the limits
// (depth, aggregate length, string length); a decoder that returned an
// error stays failed.
proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_bytes_never_panic_and_respect_limits(
        input in proptest::collection::vec(
            prop_oneof![
                // Bias towards bytes that make up RESP, so the decoder gets deep.
                4 => prop::sample::select(b"+-:$*_#,(!=%~|>;.\r\n0123456789?tf-abcinf".to_vec()),
                1 => any::<u8>(),
            ],
            0..300,
        ),
        mut cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let limits = small_limits();
        let mut offsets: Vec<usize> = cuts.drain(..).map(|i| i.index(input.len() + 1)).collect();
        offsets.sort_unstable();
        let one = decode_one_shot(limits, &input);
        let chunked = decode_chunked(limits, &input, &offsets);
        prop_assert_eq!(&one.0, &chunked.0);
        prop_assert!(same_error(&one.1, &chunked.1), "{:?} vs {:?}", one.1, chunked.1);
        for f in &one.0 {
            let (depth, agg, bulk) = shape(f);
            prop_assert!(depth <= limits.max_depth);
            prop_assert!(agg <= limits.max_aggregate_len);
            prop_assert!(bulk <= limits.max_bulk_len);
            prop_assert!(elements(f) <= limits.max_frame_elements);
        }
        // Frame size: re-encoding canonically is not the wire size, so check
        // the limit by decoding frame by frame and watching the position.
        let mut d = Decoder::new(limits);
        let mut buf = BytesMut::from(&input[..]);
        loop {
            let before = d.position();
            match d.decode(&mut buf) {
                Ok(Some(_)) => prop_assert!((d.position() - before) as usize <= limits.max_frame_bytes),
                Ok(None) => break,
                Err(_) => {
                    prop_assert!(d.is_failed());
                    let again = d.decode(&mut BytesMut::from(&b"+OK\r\n"[..])).unwrap_err();
                    prop_assert_eq!(again.kind, ProtocolErrorKind::Poisoned);
                    break;
                }
            }
        }
    }
}

// Invariant: a RESP double decodes to exactly the f64 that Rust's own
// correctly rounded parser gives for the same text (the decoder has a fast
// path for short decimals; this pins it to the reference).
proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]
    #[test]
    fn doubles_decode_to_the_correctly_rounded_value(
        text in "-?[0-9]{1,17}(\\.[0-9]{0,17})?|-?\\.[0-9]{1,17}|-?[0-9]{1,5}(\\.[0-9]{1,5})?[eE][-+]?[0-9]{1,3}",
    ) {
        let expected: f64 = text.parse().unwrap();
        let mut buf = BytesMut::from(format!(",{text}\r\n").as_bytes());
        match Decoder::new(Limits::default()).decode(&mut buf).unwrap() {
            Some(Value::Double(d)) => prop_assert_eq!(d.to_bits(), expected.to_bits(), "{}", text),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

// Invariant: an array of bulk strings (the commonest large reply, which
// the decoder takes in runs) decodes to exactly those strings, however the
// stream is chunked, and the frame after it is untouched.
proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn arrays_of_bulks_decode_exactly(
        items in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 0..200),
        mut cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let expected = Value::Array(items.iter().map(|b| Value::BulkString(Payload::from(b.clone()))).collect());
        let mut wire = BytesMut::new();
        encode_value(&expected, &mut wire);
        wire.extend_from_slice(b":7\r\n");
        let mut offsets: Vec<usize> = cuts.drain(..).map(|i| i.index(wire.len() + 1)).collect();
        offsets.sort_unstable();
        let (frames, err) = decode_chunked(Limits::default(), &wire, &offsets);
        prop_assert_eq!(err, None);
        prop_assert_eq!(frames, vec![expected, Value::Integer(7)]);
    }
}

proptest! {
    /// A command of arbitrary arguments encodes as a RESP array of their bulk strings, moved
    /// or copied.
    #[test]
    fn commands_encode_as_arrays_of_bulk_strings(
        name in "[A-Za-z]{0,40}",
        args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..70), 0..12),
    ) {
        let mut expected = format!("*{}\r\n${}\r\n{}\r\n", args.len() + 1, name.len(), name).into_bytes();
        let mut c = redwire_core::resp::cmd(&name);
        for a in &args {
            expected.extend(format!("${}\r\n", a.len()).into_bytes());
            expected.extend_from_slice(a);
            expected.extend_from_slice(b"\r\n");
            c.push_arg(&a[..]);
        }
        prop_assert_eq!(&c.to_bytes()[..], &expected[..]);
        prop_assert_eq!(&c.into_bytes()[..], &expected[..]);
    }
}
