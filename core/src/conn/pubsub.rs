//! Pub/Sub and other push data: the set of active subscriptions, and the typed events the
//! connection hands out through [`Connection::poll_pubsub`](super::Connection::poll_pubsub).
//!
//! The set changes only when the server confirms a change (a `subscribe`, `unsubscribe`...
//! frame), so it is what the server had on the last socket; after every reconnect it is
//! subscribed again before any queued request is written, and the connection reports
//! [`PubSubEvent::Gap`] (messages published during the outage are lost: Pub/Sub is
//! at-most-once) and [`PubSubEvent::Resubscribed`].
//!
//! Frames are recognised by their kind word (`message`, `pmessage`, `subscribe`, ...) compared
//! as bytes, with the arity the protocol gives each kind: RESP3 push frames, and in RESP2 the
//! arrays a subscribed connection receives. A frame that does not fit stays a raw
//! [`Output::Push`](super::Output::Push).

use std::collections::BTreeSet;
use std::time::Instant;

use bytes::Bytes;

use super::{Connection, Request, PUBSUB_EVENTS_LIMIT};
use crate::resp::{Cmd, Payload, ServerError, Value};

/// Most names written in one restoring `SUBSCRIBE`, so a large set is not one huge command.
pub(crate) const RESTORE_CHUNK: usize = 512;

/// Which family of subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubscriptionKind {
    /// `SUBSCRIBE` channels.
    Channel,
    /// `PSUBSCRIBE` glob patterns.
    Pattern,
    /// `SSUBSCRIBE` shard channels (Redis 7).
    Shard,
}

impl SubscriptionKind {
    /// Every kind, in restore order.
    pub const ALL: [SubscriptionKind; 3] = [
        SubscriptionKind::Channel,
        SubscriptionKind::Pattern,
        SubscriptionKind::Shard,
    ];

    /// The command that subscribes.
    pub fn subscribe_command(self) -> &'static str {
        match self {
            SubscriptionKind::Channel => "SUBSCRIBE",
            SubscriptionKind::Pattern => "PSUBSCRIBE",
            SubscriptionKind::Shard => "SSUBSCRIBE",
        }
    }

    /// The command that unsubscribes.
    pub fn unsubscribe_command(self) -> &'static str {
        match self {
            SubscriptionKind::Channel => "UNSUBSCRIBE",
            SubscriptionKind::Pattern => "PUNSUBSCRIBE",
            SubscriptionKind::Shard => "SUNSUBSCRIBE",
        }
    }
}

/// What `CLIENT TRACKING` says is no longer valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// These keys changed.
    Keys(Vec<Bytes>),
    /// Everything (the server flushed its keys, or its tracking table overflowed).
    All,
}

/// A typed Pub/Sub or push event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PubSubEvent {
    /// A message on a subscribed channel.
    Message {
        /// The channel.
        channel: Payload,
        /// What was published.
        payload: Payload,
    },
    /// A message on a channel matching a subscribed pattern.
    PMessage {
        /// The pattern it matched.
        pattern: Payload,
        /// The channel it was published on.
        channel: Payload,
        /// What was published.
        payload: Payload,
    },
    /// A message on a subscribed shard channel.
    SMessage {
        /// The shard channel.
        channel: Payload,
        /// What was published.
        payload: Payload,
    },
    /// The server confirmed a subscription (asked for by a request, or announced by itself).
    Subscribed {
        /// Which family.
        kind: SubscriptionKind,
        /// The channel or pattern.
        channel: Bytes,
        /// Subscriptions the connection has now, as the server counts them.
        count: i64,
    },
    /// The server confirmed an unsubscription (asked for, or imposed: a shard channel whose
    /// slot moved away). `channel` is `None` when there was nothing to unsubscribe from.
    Unsubscribed {
        /// Which family.
        kind: SubscriptionKind,
        /// The channel or pattern.
        channel: Option<Bytes>,
        /// Subscriptions the connection has now, as the server counts them.
        count: i64,
    },
    /// A `CLIENT TRACKING` invalidation: a RESP3 push, or in RESP2 a message on
    /// `__redis__:invalidate` (tracking with `REDIRECT` to a connection subscribed to it).
    Invalidate(Invalidation),
    /// The connection was lost while subscribed: messages published between `from` (the last
    /// time bytes arrived on the lost connection) and `to` (when every subscription was
    /// confirmed again) may not have been received. Reported just before
    /// [`PubSubEvent::Resubscribed`].
    Gap {
        /// When bytes last arrived on the lost connection.
        from: Instant,
        /// When the subscriptions were active again.
        to: Instant,
    },
    /// After a reconnect, every subscription in the set is active again on the new socket.
    Resubscribed(Subscriptions),
    /// After a reconnect, the server refused to restore these subscriptions (say the ACL
    /// changed); they were removed from the set.
    RestoreFailed {
        /// Which family.
        kind: SubscriptionKind,
        /// What could not be restored.
        channels: Vec<Bytes>,
        /// The server's typed error.
        error: ServerError,
    },
}

/// A subscribe-family command, recognised by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PubSubCommand {
    pub kind: SubscriptionKind,
    pub subscribe: bool,
    /// An unsubscribe without names ("all of this kind"): how many confirmations it gets
    /// depends on the subscriptions when it is submitted.
    pub all: bool,
}

/// Recognises `SUBSCRIBE`, `PUNSUBSCRIBE`... (any case): in RESP3 their replies are push
/// frames, one per name, so the request must be told apart from an ordinary one.
///
/// This runs for every request, so the encoded length of the name rules out almost every
/// other command before anything else is looked at.
#[inline]
pub(crate) fn command_of(cmd: &Cmd) -> Option<PubSubCommand> {
    let args = cmd.encoded_args();
    // Names of 9 to 12 bytes are encoded as `$9\r\n<name>` ... `$12\r\n<name>`.
    let (len, start) = match args.get(..4)? {
        [b'$', b'9', b'\r', b'\n'] => (9, 4),
        [b'$', b'1', d @ b'0'..=b'2', b'\r'] => (10 + usize::from(d - b'0'), 5),
        _ => return None,
    };
    command_named(cmd, args.get(start..start + len)?)
}

#[cold]
#[inline(never)]
fn command_named(cmd: &Cmd, name: &[u8]) -> Option<PubSubCommand> {
    let mut lower = [0u8; 12];
    for (l, b) in lower.iter_mut().zip(name) {
        *l = b.to_ascii_lowercase();
    }
    use SubscriptionKind::*;
    let (kind, subscribe) = match &lower[..name.len()] {
        b"subscribe" => (Channel, true),
        b"psubscribe" => (Pattern, true),
        b"ssubscribe" => (Shard, true),
        b"unsubscribe" => (Channel, false),
        b"punsubscribe" => (Pattern, false),
        b"sunsubscribe" => (Shard, false),
        _ => return None,
    };
    Some(PubSubCommand {
        kind,
        subscribe,
        all: !subscribe && cmd.argc() == 1,
    })
}

/// A subscribe or unsubscribe confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Confirmation {
    pub kind: SubscriptionKind,
    pub subscribed: bool,
    pub channel: Option<Bytes>,
    pub count: i64,
}

impl Confirmation {
    pub(crate) fn into_event(self) -> PubSubEvent {
        if self.subscribed {
            PubSubEvent::Subscribed {
                kind: self.kind,
                channel: self.channel.unwrap_or_default(),
                count: self.count,
            }
        } else {
            PubSubEvent::Unsubscribed {
                kind: self.kind,
                channel: self.channel,
                count: self.count,
            }
        }
    }
}

/// What a push-like frame is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Classified {
    /// Data for the subscriber (a message or an invalidation).
    Event(PubSubEvent),
    /// A confirmation: it changes the set, and may answer a request.
    Confirm(Confirmation),
}

fn bytes_of(v: &Value) -> Option<&Payload> {
    match v {
        Value::BulkString(b) | Value::SimpleString(b) => Some(b),
        _ => None,
    }
}

/// The bytes of a string element, as the `Bytes` the events carry.
fn owned_bytes(v: &Value) -> Option<Bytes> {
    bytes_of(v).map(|b| b.clone().into_bytes())
}

/// Recognises a RESP3 push frame, or (`array_too`) a RESP2 array, as Pub/Sub data.
pub(crate) fn classify(value: &Value, array_too: bool) -> Option<Classified> {
    let items = match value {
        Value::Push(items) => items,
        Value::Array(items) if array_too => items,
        Value::Attribute { value, .. } => return classify(value, array_too),
        _ => return None,
    };
    let (word, rest) = items.split_first()?;
    let word = bytes_of(word)?;
    let confirm = |kind, subscribed: bool| -> Option<Classified> {
        let [channel, Value::Integer(count)] = rest else {
            return None;
        };
        let channel = match channel {
            Value::Null if !subscribed => None,
            c => Some(owned_bytes(c)?),
        };
        Some(Classified::Confirm(Confirmation {
            kind,
            subscribed,
            channel,
            count: *count,
        }))
    };
    use SubscriptionKind::*;
    match &word[..] {
        // RESP2 tracking (`CLIENT TRACKING ON REDIRECT <id>`) sends invalidations as messages
        // on this channel, with the keys as an array (null: everything).
        b"message"
            if matches!(rest, [c, Value::Array(_) | Value::Null]
                if bytes_of(c).is_some_and(|c| &c[..] == INVALIDATE_CHANNEL)) =>
        {
            invalidation(&rest[1])
        }
        b"message" | b"smessage" => {
            let [channel, payload] = rest else {
                return None;
            };
            let (channel, payload) = (bytes_of(channel)?.clone(), bytes_of(payload)?.clone());
            Some(Classified::Event(if word[0] == b's' {
                PubSubEvent::SMessage { channel, payload }
            } else {
                PubSubEvent::Message { channel, payload }
            }))
        }
        b"pmessage" => {
            let [pattern, channel, payload] = rest else {
                return None;
            };
            Some(Classified::Event(PubSubEvent::PMessage {
                pattern: bytes_of(pattern)?.clone(),
                channel: bytes_of(channel)?.clone(),
                payload: bytes_of(payload)?.clone(),
            }))
        }
        b"subscribe" => confirm(Channel, true),
        b"psubscribe" => confirm(Pattern, true),
        b"ssubscribe" => confirm(Shard, true),
        b"unsubscribe" => confirm(Channel, false),
        b"punsubscribe" => confirm(Pattern, false),
        b"sunsubscribe" => confirm(Shard, false),
        // Invalidations are RESP3 pushes only: a RESP2 array starting with this word is a reply.
        b"invalidate" if matches!(value, Value::Push(_)) => {
            let [keys] = rest else {
                return None;
            };
            invalidation(keys)
        }
        _ => None,
    }
}

/// The channel RESP2 tracking redirects invalidations to.
const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

fn invalidation(keys: &Value) -> Option<Classified> {
    let inv = match keys {
        Value::Null => Invalidation::All,
        Value::Array(keys) | Value::Set(keys) => {
            Invalidation::Keys(keys.iter().map(owned_bytes).collect::<Option<Vec<_>>>()?)
        }
        _ => return None,
    };
    Some(Classified::Event(PubSubEvent::Invalidate(inv)))
}

/// The subscriptions a connection has: what the server confirmed, restored after every
/// reconnect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscriptions {
    channels: BTreeSet<Bytes>,
    patterns: BTreeSet<Bytes>,
    shards: BTreeSet<Bytes>,
}

impl Subscriptions {
    /// Whether there is no subscription at all.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shards.is_empty()
    }

    /// Number of subscriptions of every kind.
    pub fn len(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shards.len()
    }

    /// The names of one kind, in byte order.
    pub fn of(&self, kind: SubscriptionKind) -> &BTreeSet<Bytes> {
        match kind {
            SubscriptionKind::Channel => &self.channels,
            SubscriptionKind::Pattern => &self.patterns,
            SubscriptionKind::Shard => &self.shards,
        }
    }

    /// Whether `name` is subscribed as `kind`.
    pub fn contains(&self, kind: SubscriptionKind, name: &[u8]) -> bool {
        self.of(kind).contains(name)
    }

    fn of_mut(&mut self, kind: SubscriptionKind) -> &mut BTreeSet<Bytes> {
        match kind {
            SubscriptionKind::Channel => &mut self.channels,
            SubscriptionKind::Pattern => &mut self.patterns,
            SubscriptionKind::Shard => &mut self.shards,
        }
    }

    /// Records what the server confirmed.
    pub(crate) fn apply(&mut self, c: &Confirmation) {
        let Some(name) = &c.channel else {
            return;
        };
        if c.subscribed {
            self.of_mut(c.kind).insert(name.clone());
        } else {
            self.of_mut(c.kind).remove(name);
        }
    }

    pub(crate) fn remove(&mut self, kind: SubscriptionKind, names: &[Bytes]) {
        let set = self.of_mut(kind);
        for n in names {
            set.remove(n);
        }
    }

    /// The commands that subscribe to everything again, each with its kind and names.
    pub(crate) fn restore_commands(&self) -> Vec<(SubscriptionKind, Vec<Bytes>, Cmd)> {
        let mut out = Vec::new();
        for kind in SubscriptionKind::ALL {
            let names: Vec<Bytes> = self.of(kind).iter().cloned().collect();
            for chunk in names.chunks(RESTORE_CHUNK) {
                let c = crate::resp::cmd(kind.subscribe_command()).args(chunk.iter());
                out.push((kind, chunk.to_vec(), c));
            }
        }
        out
    }
}

/// Where a frame that may be Pub/Sub data goes.
pub(crate) enum Route {
    /// Handled here (an event was queued).
    Done,
    /// A confirmation that also answers the request (or restore) at the front.
    Slot,
    /// Not Pub/Sub data.
    Raw,
}

impl Connection {
    /// Turns an unsubscribe without names into one naming every subscription of its kind,
    /// so the number of confirmations it gets is known.
    // Off the hot path of ordinary replies: kept out of line.
    #[cold]
    #[inline(never)]
    pub(crate) fn expand_unsubscribe_all(&self, request: &mut Request) {
        let Some(command) = request.pubsub else {
            return;
        };
        let names = self.subscriptions.of(command.kind);
        if names.is_empty() {
            // Written bare: Redis confirms once, with a null name.
            return;
        }
        request.bytes = crate::resp::cmd(command.kind.unsubscribe_command())
            .args(names.iter())
            .into();
        request.replies = u32::try_from(names.len()).unwrap_or(u32::MAX);
    }

    fn pubsub_event(&mut self, event: PubSubEvent) {
        if self.pubsub_events.len() >= PUBSUB_EVENTS_LIMIT {
            self.pubsub_events.pop_front();
            self.pubsub_dropped += 1;
        }
        self.pubsub_events.push_back(event);
    }

    /// Whether the next reply expected is a subscription confirmation.
    pub(crate) fn awaits_confirmation(&self) -> bool {
        (self.protocol.is_some() && !self.restoring.is_empty())
            || self.in_flight.front().is_some_and(|s| s.pubsub())
    }

    /// Queues what a frame carries, and updates the set from a confirmation.
    // Off the hot path of ordinary replies: kept out of line.
    #[cold]
    #[inline(never)]
    pub(crate) fn route_pubsub(&mut self, value: &Value, array_too: bool) -> Route {
        match classify(value, array_too) {
            None => Route::Raw,
            Some(Classified::Event(event)) => {
                self.pubsub_event(event);
                Route::Done
            }
            Some(Classified::Confirm(c)) => {
                self.subscriptions.apply(&c);
                let answers = self.awaits_confirmation();
                // Restoring confirmations are summed up by `Resubscribed`.
                if !(answers && self.protocol.is_some() && !self.restoring.is_empty()) {
                    self.pubsub_event(c.into_event());
                }
                if answers {
                    Route::Slot
                } else {
                    Route::Done
                }
            }
        }
    }

    /// Right after a handshake: subscribes to everything in the set again, ahead of any
    /// request, so the first replies on the socket are these confirmations.
    // Off the hot path of ordinary replies: kept out of line.
    #[cold]
    #[inline(never)]
    pub(crate) fn restore_subscriptions(&mut self, now: Instant) {
        self.restoring.clear();
        if self.subscriptions.is_empty() {
            self.gap_since = None;
            return;
        }
        for (kind, names, cmd) in self.subscriptions.restore_commands() {
            cmd.write_to(&mut self.wbuf);
            let n = names.len();
            self.restoring.push_back((kind, names, n));
        }
        if self.awaiting_since.is_none() {
            self.awaiting_since = Some(now);
        }
    }

    /// A reply to a restoring command: a confirmation, or an error refusing all of it.
    // Off the hot path of ordinary replies: kept out of line.
    #[cold]
    #[inline(never)]
    pub(crate) fn on_restore_reply(&mut self, value: Value, now: Instant) {
        let Some(front) = self.restoring.front_mut() else {
            return;
        };
        let refused = matches!(value, Value::Error(_));
        front.2 = if refused {
            0
        } else {
            front.2.saturating_sub(1)
        };
        if front.2 > 0 {
            return;
        }
        let Some((kind, names, _)) = self.restoring.pop_front() else {
            return;
        };
        if let Value::Error(error) = value {
            self.subscriptions.remove(kind, &names);
            self.pubsub_event(PubSubEvent::RestoreFailed {
                kind,
                channels: names,
                error,
            });
        }
        if self.restoring.is_empty() {
            if self.in_flight.is_empty() {
                self.awaiting_since = None;
            }
            if let Some(from) = self.gap_since.take() {
                self.pubsub_event(PubSubEvent::Gap { from, to: now });
            }
            self.pubsub_event(PubSubEvent::Resubscribed(self.subscriptions.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(Payload::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn classifies_messages_in_both_protocols() {
        for array_too in [false, true] {
            let wrap = |items: Vec<Value>| {
                if array_too {
                    Value::Array(items)
                } else {
                    Value::Push(items)
                }
            };
            assert_eq!(
                classify(
                    &wrap(vec![bulk("message"), bulk("ch"), bulk("hi")]),
                    array_too
                ),
                Some(Classified::Event(PubSubEvent::Message {
                    channel: "ch".into(),
                    payload: "hi".into()
                }))
            );
            assert_eq!(
                classify(
                    &wrap(vec![bulk("pmessage"), bulk("c*"), bulk("ch"), bulk("hi")]),
                    array_too
                ),
                Some(Classified::Event(PubSubEvent::PMessage {
                    pattern: "c*".into(),
                    channel: "ch".into(),
                    payload: "hi".into()
                }))
            );
            assert_eq!(
                classify(
                    &wrap(vec![bulk("smessage"), bulk("s"), bulk("x")]),
                    array_too
                ),
                Some(Classified::Event(PubSubEvent::SMessage {
                    channel: "s".into(),
                    payload: "x".into()
                }))
            );
            assert_eq!(
                classify(
                    &wrap(vec![bulk("unsubscribe"), Value::Null, Value::Integer(0)]),
                    array_too
                ),
                Some(Classified::Confirm(Confirmation {
                    kind: SubscriptionKind::Channel,
                    subscribed: false,
                    channel: None,
                    count: 0
                }))
            );
        }
        // Arrays are only read as Pub/Sub frames when asked to (a RESP2 subscribed connection).
        let arr = Value::Array(vec![bulk("message"), bulk("ch"), bulk("hi")]);
        assert_eq!(classify(&arr, false), None);
    }

    #[test]
    fn malformed_frames_stay_raw() {
        let cases = [
            Value::Push(vec![bulk("message"), bulk("chan")]),
            Value::Push(vec![bulk("message"), bulk("c"), Value::Integer(1)]),
            Value::Push(vec![bulk("subscribe"), bulk("c"), bulk("1")]),
            Value::Push(vec![bulk("subscribe"), Value::Null, Value::Integer(1)]),
            Value::Push(vec![bulk("invalidate"), Value::Integer(1)]),
            Value::Push(vec![bulk("server-cpu-usage"), Value::Integer(42)]),
            Value::Push(vec![]),
            Value::Push(vec![Value::Integer(1)]),
            Value::Array(vec![bulk("invalidate"), Value::Null]),
        ];
        for c in cases {
            assert_eq!(classify(&c, true), None, "{c:?}");
        }
    }

    #[test]
    fn recognises_subscribe_commands_by_name() {
        use crate::resp::cmd;
        let c = command_of(&cmd("sSubScribe").arg("x")).unwrap();
        assert_eq!(
            (c.kind, c.subscribe, c.all),
            (SubscriptionKind::Shard, true, false)
        );
        let c = command_of(&cmd("PUNSUBSCRIBE")).unwrap();
        assert_eq!(
            (c.kind, c.subscribe, c.all),
            (SubscriptionKind::Pattern, false, true)
        );
        for other in ["GET", "SUBSCRIBER", "PUBLISH", "SPUBLISH", "unsubscrib", ""] {
            assert_eq!(command_of(&cmd(other).arg("x")), None, "{other}");
        }
        assert_eq!(command_of(&crate::resp::Cmd::new()), None);
    }

    #[test]
    fn resp2_redirected_invalidations() {
        let keys = Value::Array(vec![
            bulk("message"),
            bulk("__redis__:invalidate"),
            Value::Array(vec![bulk("k")]),
        ]);
        assert_eq!(
            classify(&keys, true),
            Some(Classified::Event(PubSubEvent::Invalidate(
                Invalidation::Keys(vec!["k".into()])
            )))
        );
        let all = Value::Array(vec![
            bulk("message"),
            bulk("__redis__:invalidate"),
            Value::Null,
        ]);
        assert_eq!(
            classify(&all, true),
            Some(Classified::Event(PubSubEvent::Invalidate(
                Invalidation::All
            )))
        );
        // Another channel with an array payload is not a message.
        let other = Value::Array(vec![bulk("message"), bulk("c"), Value::Null]);
        assert_eq!(classify(&other, true), None);
    }

    #[test]
    fn invalidations() {
        let all = Value::Push(vec![bulk("invalidate"), Value::Null]);
        assert_eq!(
            classify(&all, false),
            Some(Classified::Event(PubSubEvent::Invalidate(
                Invalidation::All
            )))
        );
        let keys = Value::Push(vec![bulk("invalidate"), Value::Array(vec![bulk("k")])]);
        assert_eq!(
            classify(&keys, false),
            Some(Classified::Event(PubSubEvent::Invalidate(
                Invalidation::Keys(vec!["k".into()])
            )))
        );
    }

    fn kind() -> impl Strategy<Value = SubscriptionKind> {
        prop_oneof![
            Just(SubscriptionKind::Channel),
            Just(SubscriptionKind::Pattern),
            Just(SubscriptionKind::Shard)
        ]
    }

    // The set is exactly what the confirmations say, kind by kind, whatever their order:
    // a name is present iff its last confirmation (of that kind) was a subscribe. Restoring
    // subscribes every name once, under its own kind's command, in chunks no larger than
    // RESTORE_CHUNK, and confirming those commands on a fresh server rebuilds the same set.
    proptest! {
        #[test]
        fn set_follows_confirmations(
            ops in proptest::collection::vec((kind(), any::<bool>(), 0u8..12), 0..200)
        ) {
            let mut set = Subscriptions::default();
            let mut model = std::collections::HashMap::new();
            for (kind, subscribed, name) in &ops {
                let channel = Bytes::from(format!("n{name}"));
                set.apply(&Confirmation { kind: *kind, subscribed: *subscribed, channel: Some(channel.clone()), count: 0 });
                model.insert((*kind, channel), *subscribed);
            }
            for ((kind, name), on) in &model {
                prop_assert_eq!(set.contains(*kind, name), *on);
            }
            prop_assert_eq!(set.len(), model.values().filter(|v| **v).count());

            let mut restored = Subscriptions::default();
            for (kind, names, cmd) in set.restore_commands() {
                prop_assert!(!names.is_empty() && names.len() <= RESTORE_CHUNK);
                prop_assert_eq!(cmd.argc(), names.len() + 1);
                for n in names {
                    restored.apply(&Confirmation { kind, subscribed: true, channel: Some(n), count: 0 });
                }
            }
            prop_assert_eq!(restored, set);
        }
    }
}
