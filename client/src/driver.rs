//! The driver: one task per [`Client`](crate::Client) that runs the core's state machine.
//!
//! Written once for every runtime. Each poll feeds the [`Connection`] everything that happened
//! (queued requests, connect results, bytes written and read, the timer) and carries out every
//! output it produces, until no source makes progress; then it sleeps until one of them wakes it.
//! It decides nothing about Redis: reconnecting, retrying and timing out are the core's job.
//!
//! Cost per request: its encoded bytes and its reply slot arrive through the shared queue, which
//! the driver drains whole before producing output, so requests queued by concurrent tasks while
//! the driver was busy leave in one write.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Buf, Bytes};
use redwire_core::conn::{
    CloseReason, Connection, Input, Output, RequestError, RequestId, StateKind, Transition,
};

use crate::runtime::{AsyncStream, AsyncTimer, BoxFuture, Runtime};
use crate::shared::{self, Answer, Ended, Msg, Shared, SlotId};

/// Size of the read buffer.
const READ_BUF: usize = 64 * 1024;

thread_local! {
    /// One read buffer per thread, shared by every connection driven on it. Bytes read are
    /// handed to the core (which keeps what it needs) before the buffer is put back, so no
    /// connection needs its own: an idle connection costs no read buffer at all.
    static SCRATCH: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
}
/// Reads per loop turn before other sources get a look (a fast server cannot starve writes).
const READS_PER_TURN: usize = 16;
/// Loop turns per poll before yielding to the runtime, so one busy connection cannot starve
/// the other tasks of a single-threaded executor.
const TURNS_PER_POLL: usize = 64;
/// Most buffers handed to one vectored write.
const MAX_IOSLICES: usize = 64;

/// The socket of the current physical connection.
struct Socket {
    stream: Box<dyn AsyncStream>,
    /// Bytes from [`Output::Transmit`] not yet accepted by the socket, in order.
    outgoing: VecDeque<Bytes>,
    /// Written since the last flush.
    unflushed: bool,
    /// EOF was read; do not read again.
    read_closed: bool,
    /// A read or write failed and was reported; wait for the core to close it.
    broken: bool,
}

/// Everything an output can touch (all of the driver but the connection and the read buffer,
/// so outputs can be carried out while the read buffer is borrowed for an input).
struct Io {
    runtime: Arc<dyn Runtime>,
    shared: Arc<Shared>,
    connecting: Option<BoxFuture<io::Result<Box<dyn AsyncStream>>>>,
    socket: Option<Socket>,
    /// Reply slots of submitted requests, in submission (= id) order.
    pending: VecDeque<(RequestId, SlotId)>,
    /// Answers not yet put in their slots: all those of one batch go under one lock.
    answers: Vec<(SlotId, Answer)>,
    /// Scratch space for waking the tasks awaiting them.
    wakers: Vec<std::task::Waker>,
    /// The reason given with the latest transition (the reason of a Failed state).
    last_reason: Option<CloseReason>,
}

pub(crate) struct Driver {
    conn: Connection,
    io: Io,
    inbox: Vec<Msg>,
    /// Set at the first poll.
    started: bool,
    /// Set once the connection ended and everything was answered.
    finished: bool,
    timer: Option<Pin<Box<dyn AsyncTimer>>>,
    /// The deadline the timer is armed for; `None` once it fired.
    timer_at: Option<Instant>,
    /// The waker the timer was last polled with (`Pending`).
    timer_waker: Option<std::task::Waker>,
}

impl Driver {
    pub(crate) fn new(conn: Connection, runtime: Arc<dyn Runtime>, shared: Arc<Shared>) -> Driver {
        Driver {
            conn,
            io: Io {
                runtime,
                shared,
                connecting: None,
                socket: None,
                pending: VecDeque::new(),
                answers: Vec::new(),
                wakers: Vec::new(),
                last_reason: None,
            },
            inbox: Vec::new(),
            started: false,
            finished: false,
            timer: None,
            timer_at: None,
            timer_waker: None,
        }
    }

    /// One turn over every source not known to be pending in this poll; returns whether
    /// anything happened.
    fn turn(&mut self, cx: &mut Context<'_>, idle: &mut Idle, clock: &mut Clock) -> bool {
        clock.new_turn();
        // Outputs are carried out as each input causes them (`Io::handle`), so none wait here.
        let mut progress = false;

        if !idle.inbox {
            self.io.shared.take(&mut self.inbox, cx);
            if self.inbox.is_empty() {
                // The waker is registered: a push wakes this task for a new poll.
                idle.inbox = true;
            } else {
                progress = true;
                let now = clock.now(&*self.io.runtime);
                // All requests queued so far are submitted before any output is taken, so
                // they leave in one Transmit.
                for msg in self.inbox.drain(..) {
                    match msg {
                        Msg::Request(request, reply) => {
                            let id = self.conn.submit(request, now);
                            self.io.pending.push_back((id, reply));
                        }
                        Msg::Close => self.conn.handle_input(Input::Close, now),
                    }
                }
                self.io.drain(&mut self.conn);
            }
        }

        if let Some(connecting) = &mut self.io.connecting {
            if let Poll::Ready(result) = connecting.as_mut().poll(cx) {
                self.io.connecting = None;
                progress = true;
                let input = match result {
                    Ok(stream) => {
                        self.io.socket = Some(Socket {
                            stream,
                            outgoing: VecDeque::new(),
                            unflushed: false,
                            read_closed: false,
                            broken: false,
                        });
                        // A new stream has not been polled in this poll.
                        idle.read = false;
                        idle.write = false;
                        Input::SocketOpened
                    }
                    Err(e) => Input::OpenFailed(e.kind()),
                };
                self.io.handle(&mut self.conn, input, clock);
            }
        }

        if !idle.write {
            progress |= self.poll_write(cx, clock, &mut idle.write);
        }
        if !idle.read {
            progress |= self.poll_read(cx, clock, &mut idle.read);
        }
        progress
    }

    /// Writes what is queued; sets `pending` once the socket refuses more (its waker is then
    /// registered).
    fn poll_write(&mut self, cx: &mut Context<'_>, clock: &mut Clock, pending: &mut bool) -> bool {
        let mut progress = false;
        loop {
            let Some(socket) = self.io.socket.as_mut().filter(|s| !s.broken) else {
                return progress;
            };
            if socket.outgoing.is_empty() {
                if socket.unflushed {
                    match socket.stream.poll_flush(cx) {
                        Poll::Ready(Ok(())) => socket.unflushed = false,
                        Poll::Ready(Err(e)) => {
                            socket.broken = true;
                            self.io
                                .handle(&mut self.conn, Input::IoError(e.kind()), clock);
                        }
                        Poll::Pending => *pending = true,
                    }
                }
                return progress;
            }
            let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
            let mut count = 0;
            for (slot, buf) in slices.iter_mut().zip(socket.outgoing.iter()) {
                *slot = IoSlice::new(buf);
                count += 1;
            }
            let result = socket.stream.poll_write_vectored(cx, &slices[..count]);
            match result {
                Poll::Pending => {
                    *pending = true;
                    return progress;
                }
                Poll::Ready(Ok(0)) => {
                    socket.broken = true;
                    let input = Input::IoError(io::ErrorKind::WriteZero);
                    self.io.handle(&mut self.conn, input, clock);
                }
                Poll::Ready(Ok(mut n)) => {
                    let written = n;
                    while n > 0 {
                        let front = socket.outgoing.front_mut().expect("wrote more than queued");
                        if front.len() <= n {
                            n -= front.len();
                            socket.outgoing.pop_front();
                        } else {
                            front.advance(n);
                            n = 0;
                        }
                    }
                    socket.unflushed = true;
                    self.io
                        .handle(&mut self.conn, Input::Written(written), clock);
                }
                Poll::Ready(Err(e)) => {
                    socket.broken = true;
                    self.io
                        .handle(&mut self.conn, Input::IoError(e.kind()), clock);
                }
            }
            progress = true;
        }
    }

    /// Reads until the socket has nothing more; sets `pending` then (its waker is registered).
    fn poll_read(&mut self, cx: &mut Context<'_>, clock: &mut Clock, pending: &mut bool) -> bool {
        if !self
            .io
            .socket
            .as_ref()
            .is_some_and(|s| !s.broken && !s.read_closed)
        {
            return false;
        }
        // Taken out of the thread-local for the duration (a nested use, which nothing here
        // does, would simply allocate its own).
        let mut buf = SCRATCH
            .with(Cell::take)
            .unwrap_or_else(|| vec![0; READ_BUF].into_boxed_slice());
        let progress = self.read_into(cx, clock, pending, &mut buf);
        SCRATCH.with(|s| s.set(Some(buf)));
        progress
    }

    fn read_into(
        &mut self,
        cx: &mut Context<'_>,
        clock: &mut Clock,
        pending: &mut bool,
        buf: &mut [u8],
    ) -> bool {
        for turn in 0..READS_PER_TURN {
            let Some(socket) = self
                .io
                .socket
                .as_mut()
                .filter(|s| !s.broken && !s.read_closed)
            else {
                return turn > 0;
            };
            match socket.stream.poll_read(cx, buf) {
                Poll::Pending => {
                    *pending = true;
                    return turn > 0;
                }
                Poll::Ready(Ok(0)) => {
                    socket.read_closed = true;
                    self.io.handle(&mut self.conn, Input::Eof, clock);
                }
                Poll::Ready(Ok(n)) => self.io.receive(&mut self.conn, &buf[..n], clock),
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => {
                    socket.broken = true;
                    self.io
                        .handle(&mut self.conn, Input::IoError(e.kind()), clock);
                }
            }
        }
        true
    }

    fn poll_timer(&mut self, cx: &mut Context<'_>, clock: &mut Clock) -> bool {
        let Some(at) = self.conn.poll_timeout() else {
            return false;
        };
        // Armed no later than the deadline, polled since it was armed (so it holds this task's
        // waker) and not due yet: the runtime wakes the task when it fires, and polling it
        // again until then would only register the same waker again.
        if let (Some(armed), Some(waker)) = (self.timer_at, &self.timer_waker) {
            if armed <= at && waker.will_wake(cx.waker()) && clock.last(&*self.io.runtime) < armed {
                return false;
            }
        }
        loop {
            let timer = match &mut self.timer {
                Some(timer) => timer,
                None => {
                    self.timer_at = Some(at);
                    self.timer.insert(self.io.runtime.new_timer(at))
                }
            };
            // Deadlines such as the health check move later with every byte of traffic.
            // Moving a runtime timer costs a trip to its wheel or heap, so the timer is only
            // moved earlier here; when it fires too early it is moved once, below.
            if self.timer_at.map_or(true, |armed| armed > at) {
                timer.as_mut().reset(at);
                self.timer_at = Some(at);
            }
            if timer.as_mut().poll(cx).is_pending() {
                match &self.timer_waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => self.timer_waker = Some(cx.waker().clone()),
                }
                return false;
            }
            if self.timer_at.is_some_and(|armed| armed < at) {
                timer.as_mut().reset(at);
                self.timer_at = Some(at);
                continue;
            }
            // Fired for the current deadline. A timer may fire a hair before the clock reads
            // the deadline; the core must not see an early `now`, or it would re-arm the same
            // deadline and spin.
            self.timer_at = None;
            let now = self.io.runtime.now().max(at);
            self.conn.handle_input(Input::Timeout, now);
            self.io.drain(&mut self.conn);
            return true;
        }
    }

    /// The connection is Closed or Failed: answer whatever is left and end every stream.
    fn finish(&mut self) {
        self.io.connecting = None;
        self.io.socket = None;
        let ended = match self.conn.state() {
            StateKind::Failed => Ended::Failed(
                self.io
                    .last_reason
                    .clone()
                    .unwrap_or(CloseReason::ClientRequested),
            ),
            _ => Ended::Closed,
        };
        let error = match &ended {
            Ended::Failed(reason) => RequestError::Failed(reason.clone()),
            _ => RequestError::Closed,
        };
        let mut leftover = std::mem::take(&mut self.inbox);
        leftover.extend(self.io.shared.end(ended));
        for msg in leftover {
            if let Msg::Request(_, slot) = msg {
                self.io.answers.push((slot, Err(error.clone())));
            }
        }
        // The core answers every request before it ends; should one slip through, say it may
        // have been written rather than dropping it.
        for (_, slot) in self.io.pending.drain(..) {
            if slot == SlotId::TAKEN {
                continue;
            }
            let reason = self
                .io
                .last_reason
                .clone()
                .unwrap_or(CloseReason::ClientRequested);
            self.io
                .answers
                .push((slot, Err(RequestError::ConnectionLost(reason))));
        }
        self.io.flush_answers();
        self.io.shared.close_subscribers();
        self.finished = true;
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.finished {
            // The runtime dropped the task unfinished (shut down). Requests still queued, and
            // later ones, must not wait for ever: answers already known are delivered, every
            // other request is answered `Error::DriverStopped`, and the event streams end.
            drop(self.io.shared.end(Ended::Stopped));
            self.io.flush_answers();
            self.io.shared.stop_slots();
            self.io.shared.close_subscribers();
        }
    }
}

impl Io {
    /// Hands `input` to the connection at the current time and carries out what it causes.
    fn handle(&mut self, conn: &mut Connection, input: Input<'_>, clock: &mut Clock) {
        conn.handle_input(input, clock.now(&*self.runtime));
        self.drain(conn);
    }

    /// Hands bytes read to the connection and carries out what they cause. Replies go
    /// straight from the decoder into their reply slots (one lock for all those of the read),
    /// without a trip through the connection's output queue.
    ///
    /// The lock is held from the first reply of the read until the read is decoded, so on a
    /// multi-threaded runtime a task sending meanwhile waits up to one read's decoding (a
    /// read is at most `READ_BUF` bytes). Gathering the replies first and filling the slots
    /// afterwards holds it for less but cost 2 % more instructions per request.
    fn receive(&mut self, conn: &mut Connection, data: &[u8], clock: &mut Clock) {
        let mut answering = None;
        let (pending, shared, wakers) = (&mut self.pending, &self.shared, &mut self.wakers);
        conn.handle_input_with(
            Input::Received(data),
            clock.now(&*self.runtime),
            |id, value| {
                if let Some(slot) = take_pending(pending, id) {
                    answering
                        .get_or_insert_with(|| shared.answering())
                        .put_reply(slot, value, wakers);
                }
            },
        );
        drop(answering);
        // Wakes the tasks gathered above, with those of any reply still queued.
        self.drain(conn);
    }

    /// Carries out every pending output; returns whether there was any.
    fn drain(&mut self, conn: &mut Connection) -> bool {
        let mut any = false;
        loop {
            // A run of replies goes straight into the reply slots, under one lock.
            let mut answering = None;
            let output = loop {
                match conn.poll_output() {
                    Some(Output::Reply { id, result }) => {
                        any = true;
                        if let Some(slot) = take_pending(&mut self.pending, id) {
                            answering
                                .get_or_insert_with(|| self.shared.answering())
                                .put(slot, result, &mut self.wakers);
                        }
                    }
                    other => break other,
                }
            };
            drop(answering);
            shared::wake_all(&mut self.wakers);
            let Some(output) = output else { break };
            any = true;
            match output {
                // Not reached (the loop above takes every reply), but answered all the same.
                Output::Reply { id, result } => {
                    if let Some(slot) = take_pending(&mut self.pending, id) {
                        self.answers.push((slot, result));
                        self.flush_answers();
                    }
                }
                Output::Transmit(bytes) => match &mut self.socket {
                    Some(socket) if !bytes.is_empty() => socket.outgoing.push_back(bytes),
                    _ => {}
                },
                Output::Open(endpoint) => {
                    self.socket = None;
                    self.connecting = Some(self.runtime.connect(&endpoint));
                }
                Output::CloseSocket(_reason) => {
                    // Dropping the stream closes it; unwritten bytes belong to it and go too
                    // (the core knows which requests they were).
                    self.connecting = None;
                    self.socket = None;
                }
                Output::Transition(t) => {
                    if t.to == StateKind::Connected {
                        self.shared.set_protocol(conn.protocol());
                    }
                    self.transition(t)
                }
                Output::Push(_value) => {
                    // Pub/Sub data and invalidations come typed from `poll_pubsub`; this is
                    // anything else a server pushes.
                    #[cfg(feature = "tracing")]
                    tracing::debug!(push = ?_value, "redwire: unrecognised push frame ignored");
                }
            }
        }
        // Pub/Sub events are queued apart from outputs; an empty queue costs one check.
        while let Some(event) = conn.poll_pubsub() {
            any = true;
            self.shared.deliver(event);
        }
        any
    }

    /// Puts the answers gathered so far in their slots.
    fn flush_answers(&mut self) {
        if !self.answers.is_empty() {
            self.shared.answer(&mut self.answers, &mut self.wakers);
        }
    }

    fn transition(&mut self, t: Transition) {
        #[cfg(feature = "tracing")]
        log_transition(&t);
        if t.reason.is_some() {
            self.last_reason = t.reason.clone();
        }
        self.shared.publish(&t);
    }
}

/// The reply slot of request `id`, taken from the driver's list of pending requests.
///
/// Replies come in submission order except for requests answered early (timeouts, queue
/// full), so the front is checked first and the rest searched (ids only grow).
#[inline]
fn take_pending(pending: &mut VecDeque<(RequestId, SlotId)>, id: RequestId) -> Option<SlotId> {
    match pending.pop_front() {
        Some((front, slot)) if front == id => Some(slot),
        Some(front) => {
            pending.push_front(front);
            take_pending_late(pending, id)
        }
        None => None,
    }
}

/// [`take_pending`] for a request that is not the oldest pending one (answered early), or
/// behind such a one. An entry taken out of order is marked [`SlotId::TAKEN`] where it is,
/// not removed (removing from the middle moves half the list, and many requests timing out
/// out of submission order would make that quadratic); marked entries are dropped here once
/// they reach the front.
#[cold]
#[inline(never)]
fn take_pending_late(pending: &mut VecDeque<(RequestId, SlotId)>, id: RequestId) -> Option<SlotId> {
    while pending
        .front()
        .is_some_and(|&(_, slot)| slot == SlotId::TAKEN)
    {
        pending.pop_front();
    }
    if let Some(&(front, slot)) = pending.front() {
        if front == id {
            pending.pop_front();
            return Some(slot);
        }
    }
    let i = pending.binary_search_by_key(&id, |(id, _)| *id).ok()?;
    let slot = std::mem::replace(&mut pending[i].1, SlotId::TAKEN);
    (slot != SlotId::TAKEN).then_some(slot)
}

#[cfg(feature = "tracing")]
fn log_transition(t: &Transition) {
    let reason = t.reason.as_ref().map(|r| r.to_string());
    let reason = reason.as_deref().unwrap_or("-");
    match t.to {
        StateKind::Reconnecting => tracing::warn!(
            from = ?t.from, attempt = t.attempt, reason, "redwire: connection lost, reconnecting"
        ),
        StateKind::Failed => {
            tracing::error!(from = ?t.from, attempt = t.attempt, reason, "redwire: connection failed")
        }
        to => tracing::debug!(from = ?t.from, ?to, attempt = t.attempt, reason, "redwire: state"),
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        // Sources that returned `Pending` in this poll have registered the waker and wake the
        // task when they change; polling them again before the next poll would find nothing.
        let mut idle = Idle::default();
        let mut clock = Clock::default();
        if !this.started {
            // The outputs of a connection not driven yet (its first `Open`); later outputs are
            // carried out as the input that caused them is handled.
            this.started = true;
            this.io.drain(&mut this.conn);
        }
        for _ in 0..TURNS_PER_POLL {
            let mut progress = this.turn(cx, &mut idle, &mut clock);
            if !progress {
                // Quiet: the timer last, once, as its deadline depends on everything above.
                progress = this.poll_timer(cx, &mut clock);
            }
            if matches!(this.conn.state(), StateKind::Closed | StateKind::Failed)
                && !this.io.drain(&mut this.conn)
            {
                this.finish();
                return Poll::Ready(());
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Still busy: let other tasks run, and come back. The timer is polled first, so
        // deadlines are kept even while traffic never lets the connection go quiet.
        this.poll_timer(cx, &mut clock);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Sources found pending in the current poll of the driver.
#[derive(Default)]
struct Idle {
    inbox: bool,
    read: bool,
    write: bool,
}

/// The time, read from the runtime at most once per turn, and only if something needs it.
#[derive(Default)]
struct Clock {
    now: Option<Instant>,
    /// `now` was read in the current turn.
    fresh: bool,
}

impl Clock {
    fn new_turn(&mut self) {
        self.fresh = false;
    }

    /// The current time (read at most once per turn).
    fn now(&mut self, runtime: &dyn Runtime) -> Instant {
        match self.now {
            Some(now) if self.fresh => now,
            _ => {
                self.fresh = true;
                *self.now.insert(runtime.now())
            }
        }
    }

    /// The time last read in this poll of the driver (read now if it was not). It may lag the
    /// clock by the length of the poll: only for the check that the armed timer is not due
    /// yet, which a timer registered with the runtime corrects by waking the task.
    fn last(&mut self, runtime: &dyn Runtime) -> Instant {
        match self.now {
            Some(now) => now,
            None => self.now(runtime),
        }
    }
}

#[cfg(test)]
mod tests {
    use redwire_core::conn::Request;
    use redwire_core::resp::cmd;

    use super::*;

    /// Whatever order requests are answered in (the usual front first, refused newest,
    /// timed-out middle), each answer finds its own slot, once, and nothing is left behind.
    #[test]
    fn pending_slots_are_taken_in_any_order() {
        let shared = Shared::new();
        let slots: Vec<SlotId> = (0..5)
            .map(|_| shared.push_request(Request::single(&cmd("PING"))).unwrap())
            .collect();
        let mut pending: VecDeque<(RequestId, SlotId)> = slots
            .iter()
            .enumerate()
            .map(|(i, &slot)| (RequestId(i as u64 * 2), slot))
            .collect();
        for i in [4, 0, 2, 1, 3] {
            let id = RequestId(i * 2);
            assert_eq!(take_pending(&mut pending, id), Some(slots[i as usize]));
            assert_eq!(take_pending(&mut pending, id), None, "answered twice");
        }
        assert_eq!(take_pending(&mut pending, RequestId(1)), None);
        assert!(pending.is_empty());
    }

    /// Requests answered out of order are marked, not removed, and the marks go once they
    /// reach the front: answering the newer half newest first, then the older half in order,
    /// every answer still finds its own slot once, and the list ends empty.
    #[test]
    fn out_of_order_answers_leave_no_marks_behind() {
        let shared = Shared::new();
        let n = 200;
        let slots: Vec<SlotId> = (0..n)
            .map(|_| shared.push_request(Request::single(&cmd("PING"))).unwrap())
            .collect();
        let mut pending: VecDeque<(RequestId, SlotId)> = slots
            .iter()
            .enumerate()
            .map(|(i, &slot)| (RequestId(i as u64), slot))
            .collect();
        // The newer half, newest first (each one out of order), then the older half in order.
        let order = (n / 2..n).rev().chain(0..n / 2);
        for i in order {
            let id = RequestId(i as u64);
            assert_eq!(
                take_pending(&mut pending, id),
                Some(slots[i]),
                "request {i}"
            );
            if i >= n / 2 {
                assert_eq!(pending.len(), n, "marked in place, not removed");
            }
        }
        assert_eq!(take_pending(&mut pending, RequestId(n as u64)), None);
        assert!(pending.is_empty(), "{} entries left", pending.len());
    }
}
