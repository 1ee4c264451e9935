//! Requests waiting to be written ([`Entry`] in the queue), requests written and waiting
//! for replies ([`Slot`]s, in the order the replies will come), and their deadlines.
//!
//! Ids grow with submission, and the queue and the in-flight slots together always hold
//! them in increasing order (requests leave the queue's front for the slots' back, and
//! return to the queue's front in order when a connection is lost), so a request is
//! found by binary search when its deadline passes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use super::RequestId;

/// An accepted request that has not been (completely) answered. Its deadline, if any,
/// is only in [`Deadlines`].
#[derive(Debug)]
pub(crate) struct Entry {
    pub id: RequestId,
    pub bytes: super::Encoded,
    pub replies: u32,
    pub retry_safe: bool,
    /// Already written once on a lost connection and queued again: its outcome is unknown.
    pub retried: bool,
    /// A subscribe/unsubscribe command: answered by its confirmations.
    pub pubsub: bool,
}

/// Who is waiting for the replies of one written unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiter {
    /// A request: its replies are collected and delivered.
    Request,
    /// The idle health check.
    Ping,
    /// A request already answered (it timed out): the replies keep the stream in step
    /// and are dropped.
    Abandoned,
}

/// One written unit waiting for replies.
///
/// Kept small and flat (one per request in flight, moved in and out of a ring buffer):
/// the unit's id and Pub/Sub flag are its entry's, a health check or an abandoned request
/// keeps an entry with no bytes, and the replies a batch has collected so far live in the
/// connection (only the front slot collects).
#[derive(Debug)]
pub(crate) struct Slot {
    /// The request (for a `Request` waiter; else only its id and `pubsub` flag matter).
    pub entry: Entry,
    /// Offset of its first byte in this socket's output stream.
    pub start: u64,
    pub remaining: u32,
    pub waiter: Waiter,
}

impl Slot {
    /// A slot to overwrite (see `Connection::push_slot`): no request, no bytes.
    pub const BLANK: Slot = Slot {
        entry: Entry {
            id: RequestId(0),
            bytes: super::Encoded::Shared(bytes::Bytes::new()),
            replies: 0,
            retry_safe: false,
            retried: false,
            pubsub: false,
        },
        start: 0,
        remaining: 0,
        waiter: Waiter::Abandoned,
    };

    pub fn id(&self) -> RequestId {
        self.entry.id
    }

    /// Answered by Pub/Sub confirmations (push frames in RESP3), or by one error reply.
    pub fn pubsub(&self) -> bool {
        self.entry.pubsub
    }

    /// The request still waiting for these replies, if any.
    pub fn into_request(self) -> Option<Entry> {
        (self.waiter == Waiter::Request).then_some(self.entry)
    }
}

/// Per-request deadlines, earliest first. Entries of answered requests are left in place
/// until they reach the top (then dropped, so the next deadline reported is a live one);
/// the heap is rebuilt when they outnumber the live ones, so it stays proportional to the
/// number of pending requests.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, RequestId)>>,
}

impl Deadlines {
    pub fn push(&mut self, at: Instant, id: RequestId) {
        self.heap.push(Reverse((at, id)));
    }

    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The request whose deadline comes first.
    pub fn first(&self) -> Option<RequestId> {
        self.heap.peek().map(|Reverse((_, id))| *id)
    }

    /// Drops the earliest entry.
    pub fn pop(&mut self) {
        self.heap.pop();
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<RequestId> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse((_, id))| id),
            _ => None,
        }
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }

    /// Drops stale entries when they are the majority.
    pub fn compact(&mut self, queue: &VecDeque<Entry>, in_flight: &VecDeque<Slot>) {
        let live = queue.len() + in_flight.len();
        if self.heap.len() <= 2 * live + 64 {
            return;
        }
        // Each request still waiting has exactly one entry here: keep those. (Deadlines
        // are not stored in the requests, which move through the queues on every
        // submission and reply.)
        self.heap
            .retain(|Reverse((_, id))| awaits_reply(queue, in_flight, *id));
    }
}

/// Whether request `id` is held (queued, or in flight and not abandoned) and not yet answered.
pub(crate) fn awaits_reply(
    queue: &VecDeque<Entry>,
    in_flight: &VecDeque<Slot>,
    id: RequestId,
) -> bool {
    match in_flight.binary_search_by_key(&id, |s| s.id()) {
        Ok(i) => in_flight[i].waiter == Waiter::Request,
        Err(_) => queue.binary_search_by_key(&id, |e| e.id).is_ok(),
    }
}
