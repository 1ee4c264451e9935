//! Arbitrary bytes as a scenario for the connection state machine: submissions, socket
//! events, bytes split anywhere, server faults, timer firings and closes, run through
//! the same simulation and checker as the model-based property tests
//! (`core/tests/conn_sim`), then closed and run to a terminal state.
//!
//! Asserts the state machine's invariants, not just the absence of panics: every
//! request answered exactly once and with its own reply; "not written" answers only for
//! requests that never ran; nothing transmitted without a socket or before the
//! handshake; only legal transitions, none out of Failed/Closed; reconnects and failures
//! matching the close reason's class; no deadline in the past.
//!
//! Inputs of odd length are fed with `handle_input_with` (replies handed over as they are
//! decoded), the others with `handle_input` (every reply an `Output::Reply`): both ways
//! must keep the same invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/conn_sim/mod.rs"]
mod conn_sim;

fuzz_target!(|data: &[u8]| {
    let (config, steps) = conn_sim::scenario_from_bytes(data);
    let mut sim = conn_sim::Sim::new(config);
    sim.direct = data.len() % 2 == 1;
    for step in &steps {
        sim.step(step);
    }
    sim.finish();
});
