//! Pub/Sub: a [`Subscriber`] subscribes to channels, patterns and shard channels and streams
//! what arrives, typed, through a bounded buffer.
//!
//! Where it runs: with RESP3 (the default) a subscriber shares its [`Client`]'s multiplexed
//! connection, since push frames interleave with replies. With RESP2 a subscribed connection
//! accepts only subscription commands, so [`Client::subscriber`] opens a dedicated connection
//! with the same configuration, owned by the subscriber and closed when it is dropped.
//!
//! Client-side caching: with `CLIENT TRACKING ON` in the handshake commands, invalidations
//! arrive as [`PubSubEvent::Invalidate`]. Invalidations sent while the connection was down are
//! lost with it, so a cache must also be flushed whenever the connection is re-established
//! (a [`Transition`](crate::Transition) into `Connected` on [`Client::events`]).
//!
//! One stream per subscriber: it sees every Pub/Sub event of its connection (messages of
//! every subscription on it, confirmations, `CLIENT TRACKING` invalidations, and after a
//! reconnect a [`PubSubEvent::Gap`] followed by [`PubSubEvent::Resubscribed`]). Subscriptions
//! belong to the connection, not to a subscriber: dropping a subscriber that shares the
//! client's connection does not unsubscribe.
//!
//! Subscribe-family commands sent as plain commands ([`Client::send`]) are recognised and
//! answered by their confirmations too; inside a pipeline or transaction they are refused
//! before anything is written (`RequestError::SubscribeInBatch`), since a batch cannot count
//! push-frame replies.
//!
//! Reconnects need nothing from the user: the core subscribes to everything again before any
//! queued request is written, then reports the gap (Pub/Sub is at-most-once: what was
//! published while the connection was down is lost).
//!
//! Slow consumers: each subscriber buffers at most [`SubscriberConfig::capacity`] events.
//! When a new event finds the buffer full, the oldest is dropped and counted, and the next
//! read yields [`Received::Lagged`] with the count before the newer events. Backpressure is not
//! offered on purpose: pausing the socket for one slow reader would also stall every reply on
//! a shared connection, and Redis itself disconnects subscribers whose output buffer grows
//! past `client-output-buffer-limit pubsub`.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use parking_lot::{Mutex, MutexGuard};
use redwire_core::conn::{ProtocolVersion, PubSubEvent, Request, SubscriptionKind};
use redwire_core::resp::{ToArg, Value};

use crate::{Client, Error};

/// How a [`Subscriber`] buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriberConfig {
    /// Most events held for the reader (at least 1). Default 1024: with the default decoder
    /// limits that bounds the memory a slow reader can pin to 1024 messages.
    pub capacity: usize,
}

impl Default for SubscriberConfig {
    fn default() -> Self {
        SubscriberConfig { capacity: 1024 }
    }
}

/// What a [`Subscriber`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A Pub/Sub event, in the order the connection produced it.
    Event(PubSubEvent),
    /// This many events were dropped, oldest first, because the buffer was full; the events
    /// that follow are newer than every dropped one.
    Lagged(u64),
}

struct SinkState {
    buf: VecDeque<PubSubEvent>,
    capacity: usize,
    lagged: u64,
    lagged_total: u64,
    peak: usize,
    waker: Option<Waker>,
    /// The connection ended: no more events.
    ended: bool,
    /// The subscriber is gone: stop delivering.
    dropped: bool,
}

/// One subscriber's buffer, filled by the driver.
pub(crate) struct Sink {
    state: Mutex<SinkState>,
}

impl Sink {
    fn new(capacity: usize) -> Sink {
        Sink {
            state: Mutex::new(SinkState {
                buf: VecDeque::new(),
                capacity: capacity.max(1),
                lagged: 0,
                lagged_total: 0,
                peak: 0,
                waker: None,
                ended: false,
                dropped: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SinkState> {
        self.state.lock()
    }

    /// Buffers an event, dropping the oldest when full; `false` once the subscriber is gone.
    pub(crate) fn push(&self, event: PubSubEvent) -> bool {
        let waker = {
            let mut s = self.lock();
            if s.dropped {
                return false;
            }
            if s.buf.len() >= s.capacity {
                s.buf.pop_front();
                s.lagged += 1;
                s.lagged_total += 1;
            }
            s.buf.push_back(event);
            s.peak = s.peak.max(s.buf.len());
            s.waker.take()
        };
        // Woken once per batch: the reader registers again only after emptying the buffer.
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// No more events will come.
    pub(crate) fn end(&self) {
        let waker = {
            let mut s = self.lock();
            s.ended = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// A Pub/Sub handle: subscribes, unsubscribes, and streams what arrives (see the
/// [module docs](self)). Made by [`Client::subscriber`].
pub struct Subscriber {
    /// The connection it uses: the client's own (RESP3) or a dedicated one (RESP2).
    client: Client,
    sink: Arc<Sink>,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriber")
            .field("client", &self.client)
            .field("buffered", &self.buffered())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A Pub/Sub subscriber with the default buffer ([`SubscriberConfig::default`]).
    pub fn subscriber(&self) -> Subscriber {
        self.subscriber_with(SubscriberConfig::default())
    }

    /// A Pub/Sub subscriber: on this connection with RESP3, on a dedicated connection (same
    /// configuration) with RESP2 (configured, or fallen back to because the server has no
    /// `HELLO`; before the first connection the configured protocol decides). It sees only
    /// events from the moment it is made.
    pub fn subscriber_with(&self, config: SubscriberConfig) -> Subscriber {
        // What the server speaks decides, once known: a RESP3 client whose server has no
        // HELLO fell back to RESP2, and must not subscribe its shared connection.
        let protocol = self
            .handle
            .shared
            .protocol()
            .unwrap_or(self.handle.config.core().protocol);
        let client = match protocol {
            ProtocolVersion::Resp3 => self.clone(),
            ProtocolVersion::Resp2 => {
                Client::start(self.handle.runtime.clone(), self.handle.config.clone())
            }
        };
        let sink = Arc::new(Sink::new(config.capacity));
        client.handle.shared.add_sink(sink.clone());
        Subscriber { client, sink }
    }
}

impl Subscriber {
    /// `SUBSCRIBE`: returns once the server confirmed every channel.
    pub async fn subscribe<N: ToArg>(&self, channels: &[N]) -> Result<(), Error> {
        self.request(Request::subscribe(SubscriptionKind::Channel, channels))
            .await
    }

    /// `PSUBSCRIBE` glob patterns.
    pub async fn psubscribe<N: ToArg>(&self, patterns: &[N]) -> Result<(), Error> {
        self.request(Request::subscribe(SubscriptionKind::Pattern, patterns))
            .await
    }

    /// `SSUBSCRIBE` shard channels (Redis 7).
    pub async fn ssubscribe<N: ToArg>(&self, channels: &[N]) -> Result<(), Error> {
        self.request(Request::subscribe(SubscriptionKind::Shard, channels))
            .await
    }

    /// `UNSUBSCRIBE` these channels; an empty list leaves every channel the connection is
    /// subscribed to (as confirmed when the request is submitted).
    pub async fn unsubscribe<N: ToArg>(&self, channels: &[N]) -> Result<(), Error> {
        self.request(Request::unsubscribe(SubscriptionKind::Channel, channels))
            .await
    }

    /// `PUNSUBSCRIBE` these patterns (an empty list: all of them).
    pub async fn punsubscribe<N: ToArg>(&self, patterns: &[N]) -> Result<(), Error> {
        self.request(Request::unsubscribe(SubscriptionKind::Pattern, patterns))
            .await
    }

    /// `SUNSUBSCRIBE` these shard channels (an empty list: all of them).
    pub async fn sunsubscribe<N: ToArg>(&self, channels: &[N]) -> Result<(), Error> {
        self.request(Request::unsubscribe(SubscriptionKind::Shard, channels))
            .await
    }

    async fn request(&self, request: Request) -> Result<(), Error> {
        // Answered once every name is confirmed, or with the error that refused them all.
        self.client.submit(request, check_confirmed).await
    }

    /// The next event, or `None` once the connection has ended (closed or failed).
    pub async fn next(&mut self) -> Option<Received> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Events buffered and not yet read (never more than the capacity).
    pub fn buffered(&self) -> usize {
        self.sink.lock().buf.len()
    }

    /// The most events that were ever buffered at once.
    pub fn peak_buffered(&self) -> usize {
        self.sink.lock().peak
    }

    /// Events dropped so far because the buffer was full.
    pub fn lagged_total(&self) -> u64 {
        self.sink.lock().lagged_total
    }

    /// The client whose connection this subscriber uses (a dedicated one with RESP2), for
    /// its state and [`Client::events`].
    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn check_confirmed(value: Value) -> Result<(), Error> {
    match value {
        Value::Error(e) => Err(Error::Server(e)),
        _ => Ok(()),
    }
}

impl Stream for Subscriber {
    type Item = Received;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Received>> {
        let mut s = self.sink.lock();
        if s.lagged > 0 {
            let n = std::mem::take(&mut s.lagged);
            return Poll::Ready(Some(Received::Lagged(n)));
        }
        if let Some(event) = s.buf.pop_front() {
            return Poll::Ready(Some(Received::Event(event)));
        }
        if s.ended {
            return Poll::Ready(None);
        }
        match &s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let mut s = self.sink.lock();
        s.dropped = true;
        s.buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redwire_core::resp::Payload;

    fn msg(i: u32) -> PubSubEvent {
        PubSubEvent::Message {
            channel: Payload::from_static(b"c"),
            payload: Payload::from(i.to_string()),
        }
    }

    /// The buffer never holds more than its capacity; what was dropped is the oldest, and is
    /// counted once, before the newer events.
    #[test]
    fn drop_oldest_counts_lag() {
        let sink = Arc::new(Sink::new(3));
        for i in 0..10 {
            assert!(sink.push(msg(i)));
            assert!(sink.lock().buf.len() <= 3);
        }
        let mut s = sink.lock();
        assert_eq!(s.lagged, 7);
        assert_eq!(s.peak, 3);
        let kept: Vec<_> = s.buf.drain(..).collect();
        assert_eq!(kept, vec![msg(7), msg(8), msg(9)]);
        s.dropped = true;
        drop(s);
        assert!(!sink.push(msg(10)), "a dropped subscriber is forgotten");
    }
}
