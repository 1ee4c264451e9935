//! State shared between the [`Client`](crate::Client) handles and the driver task.
//!
//! Requests travel through one mutex-guarded `Vec` that the driver swaps out whole: every request
//! queued since the driver last looked becomes one batch (auto-pipelining) for the cost of one
//! lock, and the driver is woken only by the first request after it went idle, so 64 tasks
//! queuing at once cost one wake-up, not 64. A channel crate would pop messages one by one and
//! wake on every send.
//!
//! Answers travel back through reply slots kept under the same mutex: a slab of slots reused
//! from request to request, so answering a request allocates nothing (a one-shot channel per
//! request would allocate one, and cost more than the rest of the client's work). The driver
//! fills every answer of a batch under one lock. Each slot carries a generation, bumped when
//! it is freed, so a slot reused for a new request is never given an older request's answer.
//!
//! The locks are `parking_lot`'s: taking and releasing an uncontended one is one inlined atomic
//! operation each, without the poisoning bookkeeping of `std`'s. This module took the guard of a
//! poisoned `std` lock all the same, so nothing changes but the cost, which three locks per
//! request make measurable (about 46 instructions per request, 2.7 % of the client's).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_channel::mpsc;
use parking_lot::{Mutex, MutexGuard};
use redwire_core::conn::{
    CloseReason, ProtocolVersion, PubSubEvent, Request, RequestError, StateKind, Transition,
};
use redwire_core::resp::Value;

use crate::pubsub::Sink;

/// The answer to one request, as the core gives it.
pub(crate) type Answer = Result<Value, RequestError>;

/// Names the reply slot of one request: its index, and its generation when it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SlotId {
    index: u32,
    generation: u32,
}

impl SlotId {
    /// Names no slot (no slot is given this index): marks an entry of the driver's pending
    /// list whose request was answered out of order.
    pub(crate) const TAKEN: SlotId = SlotId {
        index: u32::MAX,
        generation: 0,
    };
}

enum SlotState {
    /// On the free list.
    Free,
    /// Taken by a request not answered yet; the waker of the task awaiting it, once polled.
    Waiting(Option<Waker>),
    /// Answered with a reply, not read yet.
    Replied(Value),
    /// Answered with an error, not read yet. Boxed (errors are rare) so that a slot is no
    /// larger than a reply, and a reply moves in and out of it as it is.
    Failed(Box<RequestError>),
    /// The driver stopped without answering (its runtime shut down).
    Stopped,
    /// Its reply future was dropped unanswered: the slot is freed when the answer comes.
    Abandoned,
}

struct Slot {
    generation: u32,
    state: SlotState,
}

/// A message from a handle to the driver.
pub(crate) enum Msg {
    /// Submit this request and answer it in this slot.
    Request(Request, SlotId),
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
    /// Reply slots, reused; a slot is taken by a request and freed once its answer is read
    /// (or, if its reply future was dropped, once it is answered).
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Queue {
    #[inline]
    fn take_slot(&mut self) -> SlotId {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                // `u32::MAX` is never given out: it is `SlotId::TAKEN`'s.
                let index = u32::try_from(self.slots.len())
                    .ok()
                    .filter(|&i| i != u32::MAX)
                    .expect("more than u32::MAX - 1 requests waiting");
                self.slots.push(Slot {
                    generation: 0,
                    state: SlotState::Free,
                });
                index
            }
        };
        let slot = &mut self.slots[index as usize];
        // A free slot holds nothing to drop: forgetting it saves a call to its drop glue.
        debug_assert!(matches!(slot.state, SlotState::Free));
        std::mem::forget(std::mem::replace(&mut slot.state, SlotState::Waiting(None)));
        SlotId {
            index,
            generation: slot.generation,
        }
    }

    /// The slot `id` names, unless it was freed since.
    #[inline]
    fn slot(&mut self, id: SlotId) -> Option<&mut Slot> {
        self.slots
            .get_mut(id.index as usize)
            .filter(|s| s.generation == id.generation)
    }

    fn free_slot(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.state = SlotState::Free;
        self.free.push(index);
    }
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
                slots: Vec::new(),
                free: Vec::new(),
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
        let mut sinks = self.sinks.lock();
        // As for event streams: the driver marks the end before ending the sinks.
        let ended = self.queue.lock().ended.is_some();
        if ended {
            sink.end();
        } else {
            sinks.push(sink);
        }
    }

    /// Hands a Pub/Sub event to every live subscriber (none: dropped).
    pub(crate) fn deliver(&self, event: PubSubEvent) {
        let mut sinks = self.sinks.lock();
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
            let mut q = self.queue.lock();
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

    /// Queues a request with a reply slot taken for it (under the same lock), or gives `None`
    /// if the driver ended (the reason stays in [`Shared::ended_error`]).
    #[inline]
    pub(crate) fn push_request(&self, request: Request) -> Option<SlotId> {
        let (id, waker) = {
            let mut q = self.queue.lock();
            if q.ended.is_some() {
                return None;
            }
            let id = q.take_slot();
            q.msgs.push(Msg::Request(request, id));
            (id, q.waker.take())
        };
        if let Some(w) = waker {
            w.wake();
        }
        Some(id)
    }

    /// Puts every answer in its slot under one lock, then wakes the tasks awaiting them.
    /// `wakers` is scratch space, left empty.
    pub(crate) fn answer(&self, answers: &mut Vec<(SlotId, Answer)>, wakers: &mut Vec<Waker>) {
        let mut answering = self.answering();
        for (id, answer) in answers.drain(..) {
            answering.put(id, answer, wakers);
        }
        drop(answering);
        wake_all(wakers);
    }

    /// Locks the reply slots for a run of answers (see [`Answering`]).
    pub(crate) fn answering(&self) -> Answering<'_> {
        Answering {
            queue: self.queue.lock(),
        }
    }

    /// What slot `id` holds for the reply future that owns it, converted by `convert`: its
    /// answer (the slot is then freed, and the conversion done after unlocking), or `Pending`
    /// after registering the future's waker. A driver that stopped without answering gives
    /// [`Error::DriverStopped`](crate::Error::DriverStopped).
    #[inline(always)]
    pub(crate) fn poll_reply<T>(
        &self,
        id: SlotId,
        cx: &mut Context<'_>,
        convert: fn(Value) -> Result<T, crate::Error>,
    ) -> Poll<Result<T, crate::Error>> {
        let state = {
            let mut q = self.queue.lock();
            let Some(slot) = q.slot(id) else {
                // Freed while a future still owns it: cannot happen, but must not hang.
                return Poll::Ready(Err(crate::Error::DriverStopped));
            };
            if let SlotState::Waiting(waker) = &mut slot.state {
                // Checked in place: moving the state out and back costs more than the check.
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
            let state = std::mem::replace(&mut slot.state, SlotState::Free);
            // Freed in place (the state is already `Free`): writing it again would drop it again.
            slot.generation = slot.generation.wrapping_add(1);
            q.free.push(id.index);
            state
        };
        match state {
            // The reply goes from the slot to `convert` as it is: no other enum to repack into.
            SlotState::Replied(value) => Poll::Ready(convert(value)),
            other => Poll::Ready(Err(unanswered(other))),
        }
    }

    /// Why requests are refused: the driver ended (for a reply future made after the end).
    pub(crate) fn ended_error(&self) -> crate::Error {
        let q = self.queue.lock();
        q.ended
            .as_ref()
            .map_or(crate::Error::DriverStopped, Ended::error)
    }

    /// The reply future owning slot `id` was dropped: free it, or let the driver free it when
    /// the answer comes.
    pub(crate) fn abandon(&self, id: SlotId) {
        let answer = {
            let mut q = self.queue.lock();
            let Some(slot) = q.slot(id) else { return };
            match std::mem::replace(&mut slot.state, SlotState::Abandoned) {
                SlotState::Waiting(_) => return,
                state => {
                    q.free_slot(id.index);
                    state
                }
            }
        };
        // A large value is freed outside the lock.
        drop(answer);
    }

    /// The driver stopped unfinished: every request still waiting is told so.
    pub(crate) fn stop_slots(&self) {
        let mut wakers = Vec::new();
        {
            let mut q = self.queue.lock();
            for index in 0..q.slots.len() {
                match std::mem::replace(&mut q.slots[index].state, SlotState::Stopped) {
                    SlotState::Waiting(waker) => wakers.extend(waker),
                    SlotState::Abandoned => q.free_slot(index as u32),
                    other => q.slots[index].state = other,
                }
            }
        }
        for w in wakers {
            w.wake();
        }
    }

    /// Moves every queued message into `out` (which must be empty); registers the driver's
    /// waker when there were none.
    pub(crate) fn take(&self, out: &mut Vec<Msg>, cx: &mut Context<'_>) {
        let mut q = self.queue.lock();
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
        let mut q = self.queue.lock();
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
        let mut subs = self.subscribers.lock();
        // The driver marks the end before clearing the subscribers, so a stream opened after
        // the end is seen here and ends at once instead of waiting for ever.
        let ended = self.queue.lock().ended.is_some();
        if !ended {
            subs.push(tx);
        }
        (rx, self.state())
    }

    /// Records a transition and sends it to every live subscriber.
    pub(crate) fn publish(&self, transition: &Transition) {
        let mut subs = self.subscribers.lock();
        // Stored under the subscribers' lock: a subscriber sees either the new state or the event.
        self.state
            .store(encode_state(transition.to), Ordering::Release);
        subs.retain(|tx| tx.unbounded_send(transition.clone()).is_ok());
    }

    /// Ends every event stream and Pub/Sub subscriber.
    pub(crate) fn close_subscribers(&self) {
        self.subscribers.lock().clear();
        let sinks = std::mem::take(&mut *self.sinks.lock());
        for sink in sinks {
            sink.end();
        }
    }
}

/// The reply slots, locked while the driver puts a run of answers in them: each answer goes
/// straight from the connection's output into its slot, one lock for the whole run. The tasks
/// to wake are gathered, to be woken (with [`wake_all`]) once this is dropped: a task woken
/// under the lock could find it held.
pub(crate) struct Answering<'a> {
    queue: MutexGuard<'a, Queue>,
}

impl Answering<'_> {
    /// Puts `answer` in slot `id` (unless the slot was freed since) and gathers the waker of
    /// the task awaiting it.
    #[inline]
    pub(crate) fn put(&mut self, id: SlotId, answer: Answer, wakers: &mut Vec<Waker>) {
        let state = match answer {
            Ok(value) => SlotState::Replied(value),
            Err(e) => SlotState::Failed(Box::new(e)),
        };
        self.put_state(id, state, wakers);
    }

    /// [`put`](Self::put) for a reply (the usual answer), built in its slot's state as it is.
    #[inline]
    pub(crate) fn put_reply(&mut self, id: SlotId, value: Value, wakers: &mut Vec<Waker>) {
        self.put_state(id, SlotState::Replied(value), wakers);
    }

    #[inline]
    fn put_state(&mut self, id: SlotId, state: SlotState, wakers: &mut Vec<Waker>) {
        let q = &mut *self.queue;
        let Some(slot) = q.slot(id) else { return };
        match std::mem::replace(&mut slot.state, state) {
            SlotState::Waiting(Some(waker)) => wakers.push(waker),
            SlotState::Waiting(None) => {}
            SlotState::Abandoned => q.free_slot(id.index),
            // Answered twice: the core answers each request once; keep the first.
            other => slot.state = other,
        }
    }
}

/// The error a reply future gets from a slot read without a reply in it (kept out of line:
/// errors are rare, and their conversion would crowd the reply's path).
#[cold]
#[inline(never)]
fn unanswered(state: SlotState) -> crate::Error {
    match state {
        SlotState::Failed(e) => (*e).into(),
        // Free or abandoned: not owned by a live future; cannot happen, but must not hang.
        SlotState::Stopped
        | SlotState::Free
        | SlotState::Abandoned
        | SlotState::Waiting(_)
        | SlotState::Replied(_) => crate::Error::DriverStopped,
    }
}

/// Wakes (and removes) every waker gathered by [`Answering::put`].
pub(crate) fn wake_all(wakers: &mut Vec<Waker>) {
    for w in wakers.drain(..) {
        w.wake();
    }
}

fn encode_state(s: StateKind) -> u8 {
    s as u8
}

fn decode_state(v: u8) -> StateKind {
    StateKind::ALL
        .get(usize::from(v))
        .copied()
        .unwrap_or(StateKind::Closed)
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

    fn request() -> Request {
        Request::single(&cmd("PING"))
    }

    fn counting() -> (Arc<CountingWaker>, Waker) {
        let counter = Arc::new(CountingWaker::default());
        let waker = Waker::from(counter.clone());
        (counter, waker)
    }

    fn slot_of(msg: &Msg) -> SlotId {
        match msg {
            Msg::Request(_, slot) => *slot,
            Msg::Close => panic!("not a request"),
        }
    }

    /// Answers each slot with its integer, as the driver does after a read; the answers
    /// are taken and the wakers woken and drained.
    fn answer_ints(shared: &Shared, answers: &[(SlotId, i64)]) {
        let mut answers: Vec<(SlotId, Answer)> = answers
            .iter()
            .map(|&(slot, n)| (slot, Ok(Value::Integer(n))))
            .collect();
        let mut wakers = Vec::new();
        shared.answer(&mut answers, &mut wakers);
        assert!(answers.is_empty() && wakers.is_empty());
    }

    /// Polls slot `id` for its reply as it is (no conversion).
    fn poll(
        shared: &Shared,
        id: SlotId,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Value, crate::Error>> {
        shared.poll_reply(id, cx, Ok)
    }

    fn answered(polled: Poll<Result<Value, crate::Error>>) -> Result<Value, crate::Error> {
        match polled {
            Poll::Ready(Err(crate::Error::DriverStopped)) => panic!("stopped"),
            Poll::Ready(answer) => answer,
            Poll::Pending => panic!("pending"),
        }
    }

    /// Each answer reaches the future that owns its slot, once, and wakes it; the slot is then
    /// reused, and an answer for the request that had it before is not delivered to the new one.
    #[test]
    fn answers_reach_their_own_slot_once() {
        let shared = Shared::new();
        let (counter, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let a = shared.push_request(request()).unwrap();
        let b = shared.push_request(request()).unwrap();
        assert_ne!(a, b);
        assert!(poll(&shared, a, &mut cx).is_pending());
        assert!(poll(&shared, b, &mut cx).is_pending());

        answer_ints(&shared, &[(b, 2), (a, 1)]);
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert_eq!(answered(poll(&shared, a, &mut cx)), Ok(Value::Integer(1)));

        // `a`'s slot is reused with a new generation: a late answer for `a` is not delivered.
        let c = shared.push_request(request()).unwrap();
        answer_ints(&shared, &[(a, 99)]);
        assert!(poll(&shared, c, &mut cx).is_pending());
        answer_ints(&shared, &[(c, 3)]);
        assert_eq!(answered(poll(&shared, c, &mut cx)), Ok(Value::Integer(3)));
        assert_eq!(answered(poll(&shared, b, &mut cx)), Ok(Value::Integer(2)));
    }

    /// A reply future dropped before or after its answer frees its slot (no leak); nobody else
    /// gets that answer.
    #[test]
    fn abandoned_slots_are_freed() {
        let shared = Shared::new();
        let (_, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        // Dropped before the answer: freed when the answer comes.
        let a = shared.push_request(request()).unwrap();
        shared.abandon(a);
        // Dropped after the answer: freed at once.
        let b = shared.push_request(request()).unwrap();
        answer_ints(&shared, &[(b, 2)]);
        shared.abandon(b);
        answer_ints(&shared, &[(a, 1)]);
        {
            let q = shared.queue.lock();
            assert_eq!(q.free.len(), q.slots.len(), "every slot is free again");
        }
        let c = shared.push_request(request()).unwrap();
        assert!(poll(&shared, c, &mut cx).is_pending(), "no stale answer");
    }

    /// When the driver stops unfinished, every request still waiting learns it (and is woken),
    /// while an answer already delivered is still read.
    #[test]
    fn stopped_driver_answers_waiting_slots() {
        let shared = Shared::new();
        let (counter, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        let mut batch = Vec::new();
        let a = shared.push_request(request()).unwrap();
        let b = shared.push_request(request()).unwrap();
        shared.take(&mut batch, &mut cx);
        assert_eq!(batch.iter().map(slot_of).collect::<Vec<_>>(), vec![a, b]);
        answer_ints(&shared, &[(a, 1)]);
        assert!(poll(&shared, b, &mut cx).is_pending());
        let woken = counter.0.load(Ordering::SeqCst);
        drop(shared.end(Ended::Stopped));
        shared.stop_slots();
        assert_eq!(counter.0.load(Ordering::SeqCst), woken + 1);
        assert!(matches!(
            poll(&shared, b, &mut cx),
            Poll::Ready(Err(crate::Error::DriverStopped))
        ));
        assert_eq!(answered(poll(&shared, a, &mut cx)), Ok(Value::Integer(1)));
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
            assert!(shared.push_request(request()).is_some());
        }
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        shared.take(&mut batch, &mut cx);
        assert_eq!(batch.len(), 64);

        // Busy driver (took a batch, has not come back empty-handed): pushes do not wake it.
        batch.clear();
        assert!(shared.push_request(request()).is_some());
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
        assert!(shared.push_request(request()).is_some());
        assert!(shared.push_request(request()).is_some());
        let reason = CloseReason::PeerClosed;
        assert_eq!(shared.end(Ended::Failed(reason.clone())).len(), 2);
        assert!(
            shared.push_request(request()).is_none(),
            "accepted after the end"
        );
        assert_eq!(shared.ended_error(), crate::Error::Failed(reason));
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
        for s in StateKind::ALL {
            assert_eq!(decode_state(encode_state(s)), s);
        }
    }
}
