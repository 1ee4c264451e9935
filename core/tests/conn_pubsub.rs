//! Pub/Sub in the state machine, driven by hand: subscribe requests answered by their
//! confirmations (push frames in RESP3, arrays in RESP2), messages typed, and every
//! subscription restored after a reconnect with a gap event, before any queued request.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use redwire_core::conn::{
    Config, Connection, Endpoint, Input, Output, ProtocolVersion, PubSubEvent, Request,
    RequestError, RequestId, StateKind, SubscriptionKind,
};
use redwire_core::resp::{cmd, encode_value, ServerErrorCode, Value};

fn bulk(s: &str) -> Value {
    Value::BulkString(Bytes::copy_from_slice(s.as_bytes()))
}

/// A connection and everything it said, with a hand-driven clock.
struct Harness {
    conn: Connection,
    now: Instant,
    written: Vec<u8>,
    replies: Vec<(RequestId, Result<Value, RequestError>)>,
    events: Vec<PubSubEvent>,
    raw_pushes: usize,
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

    /// Opens the socket and completes the handshake (RESP3: answers HELLO).
    fn connect(&mut self) {
        self.pump();
        self.conn.handle_input(Input::SocketOpened, self.now);
        self.pump();
        if self.conn.state() != StateKind::Connected {
            self.feed(&[Value::Map(vec![(bulk("proto"), Value::Integer(3))])]);
        }
        assert_eq!(self.conn.state(), StateKind::Connected);
        self.written.clear();
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
        self.now += Duration::from_secs(1);
        self.conn.handle_input(Input::Timeout, self.now);
        self.connect_keep_written();
    }

    fn connect_keep_written(&mut self) {
        self.pump();
        self.conn.handle_input(Input::SocketOpened, self.now);
        self.pump();
        if self.conn.state() != StateKind::Connected {
            self.written.clear();
            self.feed(&[Value::Map(vec![(bulk("proto"), Value::Integer(3))])]);
        }
        assert_eq!(self.conn.state(), StateKind::Connected);
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
        channel: Bytes::copy_from_slice(channel.as_bytes()),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
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
fn empty_subscribe_writes_nothing() {
    let mut h = Harness::new(ProtocolVersion::Resp3);
    h.connect();
    let id = h.submit(Request::unsubscribe::<&str>(SubscriptionKind::Channel, &[]));
    assert_eq!(h.replies, vec![(id, Ok(Value::Array(vec![])))]);
    assert!(h.written.is_empty());
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
