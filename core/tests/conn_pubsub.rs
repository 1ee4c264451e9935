//! Pub/Sub in the state machine, driven by hand: subscribe requests answered by their
//! confirmations (push frames in RESP3, arrays in RESP2), messages typed, and every
//! subscription restored after a reconnect with a gap event, before any queued request.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use redwire_core::conn::{
    Config, Connection, Endpoint, Input, Output, ProtocolVersion, PubSubEvent, Request,
    RequestError, RequestId, StateKind, SubscriptionKind,
};
use redwire_core::resp::{cmd, encode_value, Payload, ServerErrorCode, Value};

fn bulk(s: &str) -> Value {
    Value::BulkString(Payload::copy_from_slice(s.as_bytes()))
}

/// A connection and everything it said, with a hand-driven clock.
struct Harness {
    conn: Connection,
    now: Instant,
    written: Vec<u8>,
    replies: Vec<(RequestId, Result<Value, RequestError>)>,
    events: Vec<PubSubEvent>,
    raw_pushes: usize,
    protocol: ProtocolVersion,
}

impl Harness {
    fn new(protocol: ProtocolVersion) -> Harness {
        let mut config = Config::new(Endpoint::tcp("127.0.0.1", 1));
        config.protocol = protocol;
        config.seed = 7;
        config.health_check_interval = None;
        let now = Instant::now();
        Harness {
            conn: Connection::new(config, now),
            now,
            written: Vec::new(),
            replies: Vec::new(),
            events: Vec::new(),
            raw_pushes: 0,
            protocol,
        }
    }

    fn pump(&mut self) {
        while let Some(out) = self.conn.poll_output() {
            match out {
                Output::Transmit(b) => {
                    self.written.extend_from_slice(&b);
                    self.conn.handle_input(Input::Written(b.len()), self.now);
                }
                Output::Reply { id, result } => self.replies.push((id, result)),
                Output::Push(_) => self.raw_pushes += 1,
                Output::Open(_) | Output::CloseSocket(_) | Output::Transition(_) => {}
            }
        }
        while let Some(e) = self.conn.poll_pubsub() {
            self.events.push(e);
        }
    }

    /// Opens the socket and completes the handshake.
    fn connect(&mut self) {
        self.connect_keep_written();
        self.written.clear();
    }

    /// Answers the handshake the connection wrote on a fresh socket (RESP3: `HELLO 3`
    /// with the `PING` probe pipelined behind it; RESP2: the `PING` alone), checking its
    /// exact bytes. Only the handshake is cleared from `written`: what follows it
    /// (restored subscriptions, queued requests) is kept.
    fn handshake(&mut self) {
        if self.protocol == ProtocolVersion::Resp3 {
            assert_eq!(
                self.take_written(),
                "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*1\r\n$4\r\nPING\r\n"
            );
            self.feed(&[Value::Map(vec![(bulk("proto"), Value::Integer(3))])]);
            assert_eq!(self.conn.state(), StateKind::Connecting);
        } else {
            assert_eq!(self.take_written(), "*1\r\n$4\r\nPING\r\n");
        }
        assert_eq!(
            self.conn.state(),
            StateKind::Connecting,
            "PING not answered yet"
        );
        self.feed(&[Value::SimpleString(Payload::from_static(b"PONG"))]);
        assert_eq!(self.conn.state(), StateKind::Connected);
    }

    fn feed(&mut self, values: &[Value]) {
        let mut out = BytesMut::new();
        for v in values {
            encode_value(v, &mut out);
        }
        self.conn.handle_input(Input::Received(&out), self.now);
        self.pump();
    }

    fn submit(&mut self, r: Request) -> RequestId {
        let id = self.conn.submit(r, self.now);
        self.pump();
        id
    }

    fn take_written(&mut self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut self.written)).into_owned()
    }

    fn lose_and_reconnect(&mut self) {
        self.conn.handle_input(Input::Eof, self.now);
        self.pump();
        assert_eq!(self.conn.state(), StateKind::Reconnecting);
        // What the lost socket was given is not what the new one is.
        self.written.clear();
        self.now += Duration::from_secs(1);
        self.conn.handle_input(Input::Timeout, self.now);
        self.connect_keep_written();
    }

    fn connect_keep_written(&mut self) {
        self.pump();
        self.conn.handle_input(Input::SocketOpened, self.now);
        self.pump();
        self.handshake();
    }
}

fn frame(resp3: bool, items: Vec<Value>) -> Value {
    if resp3 {
        Value::Push(items)
    } else {
        Value::Array(items)
    }
}

fn confirm(resp3: bool, word: &str, name: &str, count: i64) -> Value {
    frame(resp3, vec![bulk(word), bulk(name), Value::Integer(count)])
}

fn message(resp3: bool, channel: &str, payload: &str) -> Value {
    frame(resp3, vec![bulk("message"), bulk(channel), bulk(payload)])
}

fn msg_event(channel: &str, payload: &str) -> PubSubEvent {
    PubSubEvent::Message {
        channel: Payload::copy_from_slice(channel.as_bytes()),
        payload: Payload::copy_from_slice(payload.as_bytes()),
    }
}

fn subscribe_restore_cycle(protocol: ProtocolVersion) {
    let resp3 = protocol == ProtocolVersion::Resp3;
    let mut h = Harness::new(protocol);
    h.connect();

    let sub = h.submit(Request::subscribe(SubscriptionKind::Channel, &["a", "b"]));
    assert!(h.take_written().contains("SUBSCRIBE"));
    let get = h.submit(Request::single(&cmd("GET").arg("k")));
    h.take_written();
    // A message can arrive between the two confirmations.
    h.feed(&[
        confirm(resp3, "subscribe", "a", 1),
        message(resp3, "a", "early"),
        confirm(resp3, "subscribe", "b", 2),
    ]);
    assert_eq!(h.replies.len(), 1, "{:?}", h.replies);
    let (id, result) = h.replies.remove(0);
    assert_eq!(id, sub);
    assert!(
        matches!(result, Ok(Value::Array(ref c)) if c.len() == 2),
        "{result:?}"
    );
    assert_eq!(h.events.len(), 3, "{:?}", h.events);
    assert_eq!(h.events[1], msg_event("a", "early"));
    assert!(h
        .conn
        .subscriptions()
        .contains(SubscriptionKind::Channel, b"a"));
    assert!(h
        .conn
        .subscriptions()
        .contains(SubscriptionKind::Channel, b"b"));
    // The normal reply after the confirmations goes to the normal request.
    if resp3 {
        h.feed(&[Value::Null]);
        assert_eq!(h.replies.remove(0), (get, Ok(Value::Null)));
    } else {
        // A subscribed RESP2 connection refuses other commands with an error reply.
        h.feed(&[Value::Error(redwire_core::resp::ServerError {
            code: ServerErrorCode::Err,
            message: "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed"
                .into(),
        })]);
        assert!(matches!(h.replies.remove(0), (id, Ok(Value::Error(_))) if id == get));
    }
    h.events.clear();

    // Lost: on the next socket everything is subscribed again before queued requests.
    let lost_at = h.now;
    h.conn.handle_input(Input::Eof, h.now);
    h.pump();
    let queued = h.conn.submit(Request::single(&cmd("PING")), h.now);
    h.now += Duration::from_secs(1);
    h.conn.handle_input(Input::Timeout, h.now);
    h.connect_keep_written();
    let written = h.take_written();
    let sub_at = written.find("SUBSCRIBE").expect("restored");
    let ping_at = written.find("PING").expect("queued request written");
    assert!(sub_at < ping_at, "{written}");
    assert!(
        h.events.is_empty(),
        "nothing before the confirmations: {:?}",
        h.events
    );
    h.feed(&[
        confirm(resp3, "subscribe", "a", 1),
        message(resp3, "a", "x"),
    ]);
    assert_eq!(h.events, vec![msg_event("a", "x")]);
    h.feed(&[
        confirm(resp3, "subscribe", "b", 2),
        Value::SimpleString("PONG".into()),
    ]);
    assert_eq!(
        h.replies,
        vec![(queued, Ok(Value::SimpleString("PONG".into())))]
    );
    match &h.events[1..] {
        [PubSubEvent::Gap { from, to }, PubSubEvent::Resubscribed(set)] => {
            assert_eq!(*from, lost_at);
            assert_eq!(*to, h.now);
            assert_eq!(set, h.conn.subscriptions());
            assert_eq!(set.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    h.events.clear();
    h.replies.clear();

    // Unsubscribing one name leaves the other restored next time.
    let unsub = h.submit(Request::unsubscribe(SubscriptionKind::Channel, &["a"]));
    h.feed(&[confirm(resp3, "unsubscribe", "a", 1)]);
    assert_eq!(h.replies.len(), 1);
    assert_eq!(h.replies[0].0, unsub);
    assert!(!h
        .conn
        .subscriptions()
        .contains(SubscriptionKind::Channel, b"a"));
    h.written.clear();
    h.lose_and_reconnect();
    let written = h.take_written();
    assert!(
        written.contains("\r\nb\r\n") && !written.contains("\r\na\r\n"),
        "{written}"
    );
}

#[test]
fn resp3_subscribe_and_restore() {
    subscribe_restore_cycle(ProtocolVersion::Resp3);
}

#[test]
fn resp2_subscribe_and_restore() {
    subscribe_restore_cycle(ProtocolVersion::Resp2);
}

#[test]
fn refused_subscribe_is_answered_once_with_the_error() {
    let mut h = Harness::new(ProtocolVersion::Resp3);
    h.connect();
    let id = h.submit(Request::subscribe(
        SubscriptionKind::Shard,
        &["a", "b", "c"],
    ));
    let after = h.submit(Request::single(&cmd("GET").arg("k")));
    h.feed(&[
        Value::Error(redwire_core::resp::ServerError {
            code: ServerErrorCode::NoPerm,
            message: "no".into(),
        }),
        Value::Null,
    ]);
    assert_eq!(h.replies.len(), 2, "{:?}", h.replies);
    assert!(matches!(&h.replies[0], (i, Ok(Value::Error(_))) if *i == id));
    assert_eq!(h.replies[1], (after, Ok(Value::Null)));
    assert!(h.conn.subscriptions().is_empty());
}

#[test]
fn unsubscribe_without_names_means_every_current_one() {
    let mut h = Harness::new(ProtocolVersion::Resp3);
    h.connect();
    // Nothing subscribed: written bare, answered by Redis's one null confirmation.
    let id = h.submit(Request::unsubscribe::<&str>(SubscriptionKind::Channel, &[]));
    assert_eq!(h.take_written(), "*1\r\n$11\r\nUNSUBSCRIBE\r\n");
    h.feed(&[frame(
        true,
        vec![bulk("unsubscribe"), Value::Null, Value::Integer(0)],
    )]);
    assert!(matches!(&h.replies[..], [(i, Ok(Value::Array(c)))] if *i == id && c.len() == 1));
    h.replies.clear();

    h.submit(Request::subscribe(SubscriptionKind::Channel, &["b", "a"]));
    h.feed(&[
        confirm(true, "subscribe", "b", 1),
        confirm(true, "subscribe", "a", 2),
    ]);
    h.replies.clear();
    h.written.clear();
    // A raw command, as a user would send it, is recognised too.
    let id = h.submit(Request::single(&cmd("unsubscribe")));
    let written = h.take_written();
    assert!(written.ends_with("$1\r\na\r\n$1\r\nb\r\n"), "{written}");
    let get = h.submit(Request::single(&cmd("GET").arg("k")));
    h.feed(&[
        confirm(true, "unsubscribe", "a", 1),
        confirm(true, "unsubscribe", "b", 0),
        Value::Null,
    ]);
    assert!(matches!(&h.replies[0], (i, Ok(Value::Array(c))) if *i == id && c.len() == 2));
    assert_eq!(h.replies[1], (get, Ok(Value::Null)));
    assert!(h.conn.subscriptions().is_empty());
}

#[test]
fn raw_subscribe_commands_keep_replies_in_step() {
    let mut h = Harness::new(ProtocolVersion::Resp3);
    h.connect();
    let sub = h.submit(Request::single(&cmd("pSubscribe").arg("p*").arg("q*")));
    let bad = h.submit(Request::single(&cmd("SUBSCRIBE")));
    let get = h.submit(Request::single(&cmd("GET").arg("k")));
    h.feed(&[
        confirm(true, "psubscribe", "p*", 1),
        confirm(true, "psubscribe", "q*", 2),
        Value::Error(redwire_core::resp::ServerError {
            code: ServerErrorCode::Err,
            message: "wrong number of arguments for 'subscribe' command".into(),
        }),
        bulk("v"),
    ]);
    assert_eq!(h.replies.len(), 3, "{:?}", h.replies);
    assert!(matches!(&h.replies[0], (i, Ok(Value::Array(c))) if *i == sub && c.len() == 2));
    assert!(matches!(&h.replies[1], (i, Ok(Value::Error(_))) if *i == bad));
    assert_eq!(h.replies[2], (get, Ok(bulk("v"))));
    assert!(h
        .conn
        .subscriptions()
        .contains(SubscriptionKind::Pattern, b"q*"));
}

#[test]
fn restore_refused_is_reported_and_dropped_from_the_set() {
    let mut h = Harness::new(ProtocolVersion::Resp3);
    h.connect();
    h.submit(Request::subscribe(SubscriptionKind::Pattern, &["p*"]));
    h.submit(Request::subscribe(SubscriptionKind::Channel, &["c"]));
    h.feed(&[
        confirm(true, "psubscribe", "p*", 1),
        confirm(true, "subscribe", "c", 2),
    ]);
    assert_eq!(h.conn.subscriptions().len(), 2);
    h.events.clear();
    h.lose_and_reconnect();
    // Channels are restored first, then patterns.
    h.feed(&[
        confirm(true, "subscribe", "c", 1),
        Value::Error(redwire_core::resp::ServerError {
            code: ServerErrorCode::NoPerm,
            message: "no".into(),
        }),
    ]);
    assert!(
        matches!(&h.events[..], [PubSubEvent::RestoreFailed { kind: SubscriptionKind::Pattern, channels, .. }, PubSubEvent::Gap { .. }, PubSubEvent::Resubscribed(set)]
            if channels.len() == 1 && set.len() == 1),
        "{:?}",
        h.events
    );
    assert!(h
        .conn
        .subscriptions()
        .contains(SubscriptionKind::Channel, b"c"));
}

#[test]
fn invalidations_and_unknown_pushes() {
    let mut h = Harness::new(ProtocolVersion::Resp3);
    h.connect();
    h.feed(&[
        Value::Push(vec![bulk("invalidate"), Value::Array(vec![bulk("k")])]),
        Value::Push(vec![bulk("invalidate"), Value::Null]),
        Value::Push(vec![bulk("server-cpu-usage"), Value::Integer(42)]),
    ]);
    assert_eq!(h.raw_pushes, 1);
    assert_eq!(h.events.len(), 2);
    assert_eq!(h.conn.state(), StateKind::Connected);
}

#[test]
fn undrained_events_are_bounded() {
    let mut h = Harness::new(ProtocolVersion::Resp3);
    h.connect();
    let mut out = BytesMut::new();
    for _ in 0..70_000 {
        encode_value(&message(true, "a", "x"), &mut out);
    }
    h.conn.handle_input(Input::Received(&out), h.now);
    while let Some(o) = h.conn.poll_output() {
        drop(o);
    }
    let mut held = 0;
    while h.conn.poll_pubsub().is_some() {
        held += 1;
    }
    assert_eq!(held, 64 * 1024);
    assert_eq!(h.conn.pubsub_dropped(), 70_000 - 64 * 1024);
}

// ---- model: random subscribe/unsubscribe traffic, publishes and disconnects ----

mod model {
    use std::collections::{BTreeSet, HashMap};

    use proptest::prelude::*;
    use redwire_core::resp::{Decoder, Limits};

    use super::*;

    const KINDS: [SubscriptionKind; 3] = [
        SubscriptionKind::Channel,
        SubscriptionKind::Pattern,
        SubscriptionKind::Shard,
    ];

    fn words(kind: SubscriptionKind) -> (&'static str, &'static str, &'static str) {
        match kind {
            SubscriptionKind::Channel => ("subscribe", "unsubscribe", "message"),
            SubscriptionKind::Pattern => ("psubscribe", "punsubscribe", "pmessage"),
            SubscriptionKind::Shard => ("ssubscribe", "sunsubscribe", "smessage"),
        }
    }

    /// A Redis that knows Pub/Sub: its subscriptions belong to the current socket.
    #[derive(Default)]
    struct FakeServer {
        subs: BTreeSet<(SubscriptionKind, String)>,
        /// Commands received and not yet answered.
        pending: Vec<Vec<String>>,
        decoder: Option<Decoder>,
        inbox: BytesMut,
    }

    impl FakeServer {
        fn new_socket(&mut self) {
            *self = FakeServer::default();
            self.decoder = Some(Decoder::new(Limits::default()));
        }

        fn receive(&mut self, bytes: &[u8]) {
            self.inbox.extend_from_slice(bytes);
            let decoder = self.decoder.as_mut().unwrap();
            while let Some(v) = decoder.decode(&mut self.inbox).unwrap() {
                let Value::Array(items) = v else {
                    panic!("{v:?}")
                };
                let args = items
                    .into_iter()
                    .map(|i| match i {
                        Value::BulkString(b) => String::from_utf8(b.to_vec()).unwrap(),
                        other => panic!("{other:?}"),
                    })
                    .collect();
                self.pending.push(args);
            }
        }

        /// Answers up to `n` commands.
        fn answer(&mut self, n: usize, resp3: bool) -> Vec<Value> {
            let take = n.min(self.pending.len());
            let mut out = Vec::new();
            for args in self.pending.drain(..take).collect::<Vec<_>>() {
                let word = args[0].to_ascii_lowercase();
                let found = KINDS.iter().find_map(|k| {
                    let (s, u, _) = words(*k);
                    (word == s)
                        .then_some((*k, true))
                        .or((word == u).then_some((*k, false)))
                });
                match found {
                    Some((kind, on)) => {
                        for name in &args[1..] {
                            if on {
                                self.subs.insert((kind, name.clone()));
                            } else {
                                self.subs.remove(&(kind, name.clone()));
                            }
                            let w = if on { words(kind).0 } else { words(kind).1 };
                            out.push(confirm(resp3, w, name, self.subs.len() as i64));
                        }
                    }
                    None if word == "hello" => {
                        out.push(Value::Map(vec![(bulk("proto"), Value::Integer(3))]))
                    }
                    None => out.push(Value::SimpleString("OK".into())),
                }
            }
            out
        }

        fn publish(&self, name: &str, resp3: bool) -> Vec<Value> {
            let mut out = Vec::new();
            for (kind, sub) in &self.subs {
                if sub != name {
                    continue;
                }
                let (_, _, word) = words(*kind);
                let mut items = vec![bulk(word)];
                if *kind == SubscriptionKind::Pattern {
                    items.push(bulk(name));
                }
                items.extend([bulk(name), bulk("m")]);
                out.push(frame(resp3, items));
            }
            out
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Subscribe(usize, Vec<u8>),
        Unsubscribe(usize, Vec<u8>),
        Get,
        Answer(usize),
        Publish(u8),
        Disconnect,
    }

    fn op() -> impl Strategy<Value = Op> {
        let names = proptest::collection::vec(0u8..5, 1..4);
        prop_oneof![
            3 => (0usize..3, names.clone()).prop_map(|(k, n)| Op::Subscribe(k, n)),
            2 => (0usize..3, names).prop_map(|(k, n)| Op::Unsubscribe(k, n)),
            1 => Just(Op::Get),
            4 => (1usize..6).prop_map(Op::Answer),
            2 => (0u8..5).prop_map(Op::Publish),
            1 => Just(Op::Disconnect),
        ]
    }

    fn run(ops: Vec<Op>, protocol: ProtocolVersion) -> Result<(), TestCaseError> {
        let resp3 = protocol == ProtocolVersion::Resp3;
        let mut h = Harness::new(protocol);
        h.conn.handle_input(Input::SocketOpened, h.now);
        let mut server = FakeServer::default();
        server.new_socket();
        let mut submitted = Vec::new();
        let mut gaps = 0;
        let mut disconnects = 0;
        let step = |h: &mut Harness, server: &mut FakeServer, n: usize| {
            h.pump();
            let written = std::mem::take(&mut h.written);
            server.receive(&written);
            let answers = server.answer(n, resp3);
            h.feed(&answers);
        };
        for op in ops {
            match op.clone() {
                Op::Subscribe(k, names) | Op::Unsubscribe(k, names) => {
                    let names: Vec<String> = names.iter().map(|n| format!("n{n}")).collect();
                    let r = if matches!(op, Op::Subscribe(..)) {
                        Request::subscribe(KINDS[k], &names)
                    } else {
                        Request::unsubscribe(KINDS[k], &names)
                    };
                    submitted.push(h.conn.submit(r, h.now));
                }
                // A subscribed RESP2 connection refuses ordinary commands; only RESP3 mixes.
                Op::Get if resp3 => {
                    submitted.push(h.conn.submit(Request::single(&cmd("GET").arg("k")), h.now))
                }
                Op::Get => {}
                Op::Answer(n) => step(&mut h, &mut server, n),
                Op::Publish(c) => {
                    if h.conn.state() == StateKind::Connected {
                        let msgs = server.publish(&format!("n{c}"), resp3);
                        h.feed(&msgs);
                    }
                }
                Op::Disconnect => {
                    if h.conn.state() == StateKind::Connected {
                        disconnects += 1;
                        h.conn.handle_input(Input::Eof, h.now);
                        h.pump();
                        h.now += Duration::from_secs(30);
                        h.conn.handle_input(Input::Timeout, h.now);
                        h.pump();
                        h.conn.handle_input(Input::SocketOpened, h.now);
                        h.written.clear();
                        server.new_socket();
                        h.pump();
                    }
                }
            }
            for e in &h.events {
                if let PubSubEvent::Gap { from, to } = e {
                    prop_assert!(from <= to);
                    gaps += 1;
                }
            }
            h.events.clear();
        }
        // Settle: answer everything.
        for _ in 0..50 {
            step(&mut h, &mut server, usize::MAX);
        }
        prop_assert_eq!(h.conn.state(), StateKind::Connected);
        // Every request was answered exactly once.
        let mut answered: HashMap<RequestId, usize> = HashMap::new();
        for (id, r) in &h.replies {
            // Written on a lost connection twice (or once, not marked retry-safe): may have run.
            prop_assert!(
                matches!(r, Ok(_) | Err(RequestError::ConnectionLost(_))),
                "{:?}",
                r
            );
            *answered.entry(*id).or_default() += 1;
        }
        for id in &submitted {
            prop_assert_eq!(answered.get(id).copied(), Some(1), "{:?}", id);
        }
        prop_assert_eq!(answered.len(), submitted.len());
        // What the connection believes is what the server has on the current socket.
        let mut believed = BTreeSet::new();
        for kind in KINDS {
            for name in h.conn.subscriptions().of(kind) {
                believed.insert((kind, String::from_utf8(name.to_vec()).unwrap()));
            }
        }
        prop_assert_eq!(&believed, &server.subs);
        // And a message on each of them gets through.
        h.events.clear();
        let names: BTreeSet<&String> = believed.iter().map(|(_, n)| n).collect();
        for name in names {
            let msgs = server.publish(name, resp3);
            h.feed(&msgs);
        }
        let got = h
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    PubSubEvent::Message { .. }
                        | PubSubEvent::PMessage { .. }
                        | PubSubEvent::SMessage { .. }
                )
            })
            .count();
        prop_assert_eq!(got, believed.len());
        prop_assert!(gaps <= disconnects);
        Ok(())
    }

    // Whatever the interleaving of subscribe/unsubscribe requests, replies, publishes and
    // lost connections: every request is answered exactly once (its reply, or
    // ConnectionLost when it was written on lost connections); once the traffic settles,
    // the set the connection keeps equals the subscriptions the server holds on the current
    // socket (so the restore after each reconnect brought back everything confirmed, and
    // nothing unsubscribed stays), messages on each of them are delivered typed, and a gap
    // is reported at most once per lost connection.
    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn restoration_keeps_server_and_set_in_step(
            ops in proptest::collection::vec(op(), 1..60),
            resp3 in any::<bool>(),
        ) {
            let protocol = if resp3 { ProtocolVersion::Resp3 } else { ProtocolVersion::Resp2 };
            run(ops, protocol)?;
        }
    }
}

#[test]
fn subscribe_in_a_batch_is_refused_unwritten() {
    let mut h = Harness::new(ProtocolVersion::Resp3);
    h.connect();
    let id = h.submit(Request::batch(&[
        cmd("GET").arg("k"),
        cmd("SUBSCRIBE").arg("c"),
    ]));
    assert_eq!(h.replies, vec![(id, Err(RequestError::SubscribeInBatch))]);
    assert!(!RequestError::SubscribeInBatch.was_written());
    assert!(h.written.is_empty());
    // Ordinary batches are untouched.
    let id = h.submit(Request::batch(&[
        cmd("GET").arg("a"),
        cmd("PUBLISH").arg("c").arg("m"),
    ]));
    h.feed(&[Value::Null, Value::Integer(0)]);
    assert!(matches!(&h.replies[1], (i, Ok(Value::Array(r))) if *i == id && r.len() == 2));
}
