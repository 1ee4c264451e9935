//! The skeleton every fault scenario shares, so that a scenario reads as only what is special
//! about it: [`FaultRun::start`] puts a client under load and waits for the first
//! acknowledgements; the scenario injects its fault and heals it; [`FaultRun::recover`] waits
//! for service to come back and collects every answer; [`Finished::conclude`] checks the
//! ledger against the server, emits the summary line, asserts nothing went wrong and closes
//! the client.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redwire_client::{Client, ClientConfig, CloseReason, Events, StateKind, Transition};
use redwire_e2e::testkit::RedisServer;
use redwire_e2e::Rt;

use super::{
    blocking, check, collect_events, failures_after_recovery, lock, reasons_of, time_to_recover,
    wait_async, Op, Server, Summary, Tally, Writers,
};

/// Bound on waits for things that should happen promptly.
pub const PROMPT: Duration = Duration::from_secs(15);
/// Writer pacing between rounds.
pub const PACE: Duration = Duration::from_millis(2);
/// Writers per scenario: two, so requests from different tasks interleave on the connection.
const WRITERS: usize = 2;
/// Acknowledgements that show the client is working before the fault.
const FIRST_ACKS: usize = 90;
/// Acknowledgements that show service is back after the fault.
pub const RECOVERY_ACKS: usize = 300;

/// Whether `r` is the connection closed by the peer or broken (as opposed to a timeout or a
/// protocol error).
pub fn is_transport(r: &CloseReason) -> bool {
    matches!(r, CloseReason::PeerClosed | CloseReason::Io(_))
}

/// Runs `f` on the shared server from a blocking helper thread (see [`blocking`]).
pub async fn with_server<T: Send + 'static>(
    server: &Server,
    f: impl FnOnce(&mut RedisServer) -> T + Send + 'static,
) -> T {
    let s = server.clone();
    blocking(move || f(&mut lock(&s))).await
}

/// Starts the (stopped) server again on its port; returns when it answers, which is when it
/// counts as reachable again.
pub async fn start_again(server: &Server) -> Instant {
    with_server(server, |s| {
        s.start_again();
        Instant::now()
    })
    .await
}

/// One scenario's client under load: writers issuing requests, a record of every transition
/// (for the summary) and an event stream the scenario waits on.
pub struct FaultRun {
    rt: Rt,
    /// The client under test.
    pub client: Client,
    /// The client's transitions, for the scenario to wait on.
    pub events: Events,
    transitions: Arc<Mutex<Vec<Transition>>>,
    /// The writers.
    pub writers: Writers,
    id: &'static str,
    title: &'static str,
}

impl FaultRun {
    /// Starts a client with `config` and the writers of scenario `id` (keys under `s<id>:`) on
    /// it, without waiting for anything.
    pub fn begin(rt: &Rt, config: ClientConfig, id: &'static str, title: &'static str) -> FaultRun {
        let client = rt.client(config);
        let transitions = collect_events(rt, &client);
        let events = client.events();
        let writers = Writers::start(rt, &client, &format!("s{id}"), WRITERS, PACE);
        FaultRun {
            rt: rt.clone(),
            client,
            events,
            transitions,
            writers,
            id,
            title,
        }
    }

    /// [`FaultRun::begin`], then waits until the client is seen working.
    pub async fn start(
        rt: &Rt,
        config: ClientConfig,
        id: &'static str,
        title: &'static str,
    ) -> FaultRun {
        let run = FaultRun::begin(rt, config, id, title);
        run.first_acks().await;
        run
    }

    /// Waits for the first acknowledgements of the writers.
    pub async fn first_acks(&self) {
        self.writers
            .wait_acks(&self.rt, FIRST_ACKS, PROMPT, "first acknowledgements")
            .await;
    }

    /// Pauses the writers and waits until none of their requests is in flight, for faults that
    /// must hit a quiet connection. [`FaultRun::recover`] resumes them.
    pub async fn quiesce(&self) {
        self.writers.pause();
        wait_async(&self.rt, "the writers to be idle", PROMPT, || {
            self.writers.idle()
        })
        .await;
    }

    /// Waits for the client to notice the fault (the transition into Reconnecting).
    pub async fn wait_reconnecting(&mut self, what: &str) -> Transition {
        let (t, _) = self
            .rt
            .wait_transition(&mut self.events, PROMPT, what, |t| {
                t.to == StateKind::Reconnecting
            })
            .await;
        t
    }

    /// Waits for the client to notice that the connection was closed by the peer (the
    /// transition into Reconnecting, with a peer-closed or I/O reason).
    pub async fn wait_transport_close(&mut self, what: &str) -> Transition {
        let t = self.wait_reconnecting(what).await;
        let reason = t.reason.as_ref().expect("a close reason");
        assert!(
            is_transport(reason),
            "{what}: expected a peer-closed or I/O close: {t:?}"
        );
        t
    }

    /// [`FaultRun::recover_by`] with the usual number of acknowledgements.
    pub async fn recover(self, back: Instant, what: &str) -> Finished {
        self.recover_by(back, RECOVERY_ACKS, what).await
    }

    /// Lets the writers run again until `acks` more requests have succeeded (`what` names that
    /// wait), then stops them. `back` is when the fault was healed: every request issued after
    /// the first success from then on must succeed, and the time to that first success is the
    /// summary's time to recover.
    pub async fn recover_by(self, back: Instant, acks: usize, what: &str) -> Finished {
        self.writers.resume();
        self.writers.wait_acks(&self.rt, acks, PROMPT, what).await;
        let mut done = self.finish().await;
        let after = failures_after_recovery(&done.ops, back);
        assert!(
            after.is_empty(),
            "requests failed after recovery: {after:?}"
        );
        done.ttr = time_to_recover(&done.ops, back);
        done
    }

    /// Stops the writers without waiting for service to come back (for scenarios whose
    /// expected outcome is a terminal failure). Panics if a request is left unanswered.
    pub async fn finish(self) -> Finished {
        let prefix = self.writers.prefix.clone();
        let ops = self.writers.finish(&self.rt, PROMPT).await;
        Finished {
            client: self.client,
            ops,
            transitions: self.transitions,
            prefix,
            id: self.id,
            title: self.title,
            ttr: None,
        }
    }
}

/// A scenario whose writers have stopped: every request with its answer.
pub struct Finished {
    /// The client under test.
    pub client: Client,
    /// Every writer request with its answer.
    pub ops: Vec<Op>,
    transitions: Arc<Mutex<Vec<Transition>>>,
    prefix: String,
    id: &'static str,
    title: &'static str,
    ttr: Option<Duration>,
}

impl Finished {
    /// Every transition of the client so far.
    pub fn transitions(&self) -> Vec<Transition> {
        self.transitions.lock().unwrap().clone()
    }

    /// The typed close reasons seen so far, as the summary shows them.
    pub fn reasons(&self) -> String {
        reasons_of(&self.transitions())
    }

    /// Checks the writers' ledger against `server`, emits the summary line (`recovered` and
    /// `reasons` are its columns of the same names), asserts the tally is clean, and closes the
    /// client.
    pub async fn conclude(self, server: &Server, recovered: &str, reasons: String) {
        let tally: Tally = check(&lock(server), &self.prefix, &self.ops);
        Summary {
            id: self.id,
            title: self.title,
            recovered,
            ttr: self.ttr,
            reasons,
            tally: &tally,
        }
        .emit();
        tally.assert_clean();
        self.client.close().await;
    }
}
