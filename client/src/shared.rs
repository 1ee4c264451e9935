//! State shared between the [`Client`](crate::Client) handles and the driver task.
//!
//! Requests travel through one mutex-guarded `Vec` that the driver swaps out whole: every request
//! queued since the driver last looked becomes one batch (auto-pipelining) for the cost of one
//! lock, and the driver is woken only by the first request after it went idle, so 64 tasks
//! queuing at once cost one wake-up, not 64. A channel crate would pop messages one by one and
//! wake on every send.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

use futures_channel::{mpsc, oneshot};
use redwire_core::conn::{
    CloseReason, ProtocolVersion, PubSubEvent, Request, RequestError, StateKind, Transition,
};
use redwire_core::resp::Value;

use crate::pubsub::Sink;

/// Where the answer to one request goes.
pub(crate) type ReplySender = oneshot::Sender<Result<Value, RequestError>>;

/// A message from a handle to the driver.
pub(crate) enum Msg {
    /// Submit this request and answer it through the sender.
    Request(Request, ReplySender),
    /// Close gracefully.
    Close,
}

/// How the driver ended; requests arriving afterwards are answered with this.
#[derive(Debug, Clone)]
pub(crate) enum Ended {
    Closed,
    Failed(CloseReason),
    /// The driver task was dropped unfinished (its runtime shut down).
    Stopped,
}

impl Ended {
    /// What a request that arrives after the end is answered with.
    pub(crate) fn error(&self) -> crate::Error {
        match self {
            Ended::Closed => crate::Error::Closed,
            Ended::Failed(reason) => crate::Error::Failed(reason.clone()),
            Ended::Stopped => crate::Error::DriverStopped,
        }
    }
}

struct Queue {
    msgs: Vec<Msg>,
    /// The driver's waker, present only while it is idle waiting for messages.
    waker: Option<Waker>,
    /// Set when the driver stopped: nothing is queued any more.
    ended: Option<Ended>,
}

pub(crate) struct Shared {
    queue: Mutex<Queue>,
    state: AtomicU8,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<Transition>>>,
    /// Pub/Sub subscribers' buffers.
    sinks: Mutex<Vec<Arc<Sink>>>,
    /// The protocol the last handshake settled on: 0 none yet, else 2 or 3.
    protocol: AtomicU8,
}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            queue: Mutex::new(Queue {
                msgs: Vec::new(),
                waker: None,
                ended: None,
            }),
            state: AtomicU8::new(encode_state(StateKind::Connecting)),
            subscribers: Mutex::new(Vec::new()),
            sinks: Mutex::new(Vec::new()),
            protocol: AtomicU8::new(0),
        }
    }

    /// Records the protocol a handshake settled on.
    pub(crate) fn set_protocol(&self, protocol: Option<ProtocolVersion>) {
        let v = match protocol {
            None => 0,
            Some(ProtocolVersion::Resp2) => 2,
            Some(ProtocolVersion::Resp3) => 3,
        };
        self.protocol.store(v, Ordering::Release);
    }

    /// The protocol the last handshake settled on, if any connection was made yet.
    pub(crate) fn protocol(&self) -> Option<ProtocolVersion> {
        match self.protocol.load(Ordering::Acquire) {
            2 => Some(ProtocolVersion::Resp2),
            3 => Some(ProtocolVersion::Resp3),
            _ => None,
        }
    }

    /// Adds a Pub/Sub subscriber's buffer (ended at once if the driver already ended).
    pub(crate) fn add_sink(&self, sink: Arc<Sink>) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        // As for event streams: the driver marks the end before ending the sinks.
        let ended = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ended
            .is_some();
        if ended {
            sink.end();
        } else {
            sinks.push(sink);
        }
    }

    /// Hands a Pub/Sub event to every live subscriber (none: dropped).
    pub(crate) fn deliver(&self, event: PubSubEvent) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        match sinks.len() {
            0 => {}
            // The common case moves the event instead of cloning it.
            1 => {
                if !sinks[0].push(event) {
                    sinks.clear();
                }
            }
            _ => sinks.retain(|s| s.push(event.clone())),
        }
    }

    /// Queues a message for the driver, or drops it and gives the reason if the driver ended.
    pub(crate) fn push(&self, msg: Msg) -> Result<(), Ended> {
        let waker = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(ended) = &q.ended {
                return Err(ended.clone());
            }
            q.msgs.push(msg);
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Moves every queued message into `out` (which must be empty); registers the driver's
    /// waker when there were none.
    pub(crate) fn take(&self, out: &mut Vec<Msg>, cx: &mut Context<'_>) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.msgs.is_empty() {
            match &q.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => q.waker = Some(cx.waker().clone()),
            }
        } else {
            std::mem::swap(&mut q.msgs, out);
            // Woken or not, the driver is busy now; the next push need not wake it.
            q.waker = None;
        }
    }

    /// Marks the driver as ended and returns what was still queued.
    pub(crate) fn end(&self, ended: Ended) -> Vec<Msg> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.ended = Some(ended);
        q.waker = None;
        std::mem::take(&mut q.msgs)
    }

    pub(crate) fn state(&self) -> StateKind {
        decode_state(self.state.load(Ordering::Acquire))
    }

    /// Adds an event subscriber; returns the state at the moment it was added, so the caller
    /// knows every later transition reaches it.
    pub(crate) fn subscribe(&self) -> (mpsc::UnboundedReceiver<Transition>, StateKind) {
        let (tx, rx) = mpsc::unbounded();
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        // The driver marks the end before clearing the subscribers, so a stream opened after
        // the end is seen here and ends at once instead of waiting for ever.
        let ended = self
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ended
            .is_some();
        if !ended {
            subs.push(tx);
        }
        (rx, self.state())
    }

    /// Records a transition and sends it to every live subscriber.
    pub(crate) fn publish(&self, transition: &Transition) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        // Stored under the subscribers' lock: a subscriber sees either the new state or the event.
        self.state
            .store(encode_state(transition.to), Ordering::Release);
        subs.retain(|tx| tx.unbounded_send(transition.clone()).is_ok());
    }

    /// Ends every event stream and Pub/Sub subscriber.
    pub(crate) fn close_subscribers(&self) {
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let sinks = std::mem::take(&mut *self.sinks.lock().unwrap_or_else(|e| e.into_inner()));
        for sink in sinks {
            sink.end();
        }
    }
}

fn encode_state(s: StateKind) -> u8 {
    match s {
        StateKind::Connecting => 0,
        StateKind::Connected => 1,
        StateKind::Draining => 2,
        StateKind::Reconnecting => 3,
        StateKind::Failed => 4,
        StateKind::Closed => 5,
    }
}

fn decode_state(v: u8) -> StateKind {
    match v {
        0 => StateKind::Connecting,
        1 => StateKind::Connected,
        2 => StateKind::Draining,
        3 => StateKind::Reconnecting,
        4 => StateKind::Failed,
        _ => StateKind::Closed,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::Wake;

    use std::pin::Pin;

    use futures_core::Stream;
    use redwire_core::resp::cmd;

    use super::*;

    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn request() -> Msg {
        let (tx, _rx) = oneshot::channel();
        Msg::Request(Request::single(&cmd("PING")), tx)
    }

    /// Many requests queued while the driver is idle cost one wake-up, and come out as one batch.
    #[test]
    fn one_wake_per_batch() {
        let shared = Shared::new();
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut batch = Vec::new();

        shared.take(&mut batch, &mut cx);
        assert!(batch.is_empty());
        for _ in 0..64 {
            assert!(shared.push(request()).is_ok());
        }
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        shared.take(&mut batch, &mut cx);
        assert_eq!(batch.len(), 64);

        // Busy driver (took a batch, has not come back empty-handed): pushes do not wake it.
        batch.clear();
        assert!(shared.push(request()).is_ok());
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        shared.take(&mut batch, &mut cx);
        assert_eq!(batch.len(), 1);
        batch.clear();
        // Idle again: the next push wakes it.
        shared.take(&mut batch, &mut cx);
        assert!(shared.push(Msg::Close).is_ok());
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
    }

    /// After the end, what was queued is handed back, new requests are refused with the
    /// reason, and a new event stream ends at once.
    #[test]
    fn end_refuses_and_returns_leftovers() {
        let shared = Shared::new();
        assert!(shared.push(request()).is_ok());
        assert!(shared.push(request()).is_ok());
        let reason = CloseReason::PeerClosed;
        assert_eq!(shared.end(Ended::Failed(reason.clone())).len(), 2);
        match shared.push(request()) {
            Err(ended) => assert_eq!(ended.error(), crate::Error::Failed(reason)),
            Ok(()) => panic!("accepted after the end"),
        }
        let (mut rx, _) = shared.subscribe();
        let waker = Waker::from(Arc::new(CountingWaker::default()));
        let mut cx = Context::from_waker(&waker);
        assert_eq!(
            Pin::new(&mut rx).poll_next(&mut cx),
            std::task::Poll::Ready(None)
        );
    }

    #[test]
    fn states_round_trip() {
        for s in [
            StateKind::Connecting,
            StateKind::Connected,
            StateKind::Draining,
            StateKind::Reconnecting,
            StateKind::Failed,
            StateKind::Closed,
        ] {
            assert_eq!(decode_state(encode_state(s)), s);
        }
    }
}
