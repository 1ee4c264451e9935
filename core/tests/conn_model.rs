//! Model-based property tests: random scenarios against the simulation in `conn_sim`,
//! whose checker is the reference model (its own table of legal edges, its own
//! classification of close reasons, and the fake server's record of what really ran).

mod conn_sim;

use conn_sim::*;
use proptest::prelude::*;

fn code() -> impl Strategy<Value = Code> {
    proptest::sample::select(Code::ALL.to_vec())
}

fn script() -> impl Strategy<Value = Script> {
    (
        prop_oneof![
            12 => Just(Hello::Accept),
            1 => Just(Hello::Unknown),
            1 => code().prop_map(Hello::Reject),
        ],
        proptest::option::weighted(0.04, code()),
        proptest::option::weighted(0.04, code()),
        proptest::option::weighted(0.04, code()),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(hello, auth, select, ping, pushes)| Script {
            hello,
            auth,
            select,
            ping,
            pushes,
        })
}

fn step() -> impl Strategy<Value = Step> {
    // Weights: mostly traffic and time, with faults and a close now and then, so that
    // scenarios spend time connected as well as reconnecting.
    prop_oneof![
        32 => (0u8..4, proptest::bool::weighted(0.3), proptest::option::weighted(0.2, 0u16..3000))
            .prop_map(|(n, retry_safe, timeout_ms)| Step::Submit { n, retry_safe, timeout_ms }),
        16 => Just(Step::OpenOk),
        3 => Just(Step::OpenFail),
        32 => (1u16..80).prop_map(Step::Write),
        32 => (1u16..80).prop_map(Step::Read),
        16 => Just(Step::Pump),
        2 => Just(Step::Eof),
        2 => Just(Step::IoError),
        1 => Just(Step::Garbage),
        1 => Just(Step::Unsolicited),
        1 => Just(Step::Mute),
        12 => (0u16..700).prop_map(Step::Advance),
        2 => (0u16..5000).prop_map(Step::Advance),
        8 => Just(Step::FireTimer),
        1 => Just(Step::Close),
        2 => script().prop_map(Step::NextScript),
    ]
}

fn config() -> impl Strategy<Value = redwire_core::conn::Config> {
    (
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(0u32), Just(1), Just(9)],
        proptest::bool::weighted(0.2),
        proptest::option::weighted(0.4, 1u32..5),
        any::<u64>(),
    )
        .prop_map(|(resp2, password, db, fail_fast, max_attempts, seed)| {
            let mut c = config_variant(resp2, password, db, fail_fast, max_attempts);
            c.seed = seed;
            c
        })
}

// Case counts: proptest's default (256); set PROPTEST_CASES (e.g. 20000, in release) for a deeper search.
proptest! {

    // Whatever the network, the server, the clock and the application do, in any order and
    // with bytes split anywhere: every request is answered exactly once, an `Ok` answer is
    // the request's own reply, "not written" answers belong to requests that never ran,
    // nothing is written while no socket is open or before the handshake, only legal
    // transitions happen and Failed/Closed are never left, reconnects and failures follow
    // the class of the close reason, deadlines are never in the past, and nothing panics.
    #[test]
    fn any_scenario_keeps_the_invariants(
        config in config(),
        scripts in proptest::collection::vec(script(), 0..3),
        steps in proptest::collection::vec(step(), 0..120),
        direct in any::<bool>(),
    ) {
        let mut sim = Sim::new(config);
        sim.scripts = scripts;
        sim.direct = direct;
        for s in &steps {
            sim.step(s);
        }
        if std::env::var_os("CONN_MODEL_STATS").is_some() {
            let ok = sim.expects.values().filter(|e| matches!(e.answer, Some(Ok(_)))).count();
            let kinds: std::collections::BTreeSet<_> = sim.transitions.iter().map(|t| format!("{:?}>{:?}", t.0, t.1)).collect();
            eprintln!("STATS ok={ok} total={} transitions={kinds:?}", sim.expects.len());
        }
        sim.finish();
    }
}

proptest! {

    // With a cooperative server and bytes split anywhere, every accepted request gets its
    // own reply, in order, whatever the request sizes and split points.
    #[test]
    fn replies_match_requests_across_any_split(
        sizes in proptest::collection::vec(1u8..4, 1..40),
        chunks in proptest::collection::vec(1u16..50, 1..200),
        direct in any::<bool>(),
    ) {
        let mut config = sim_config();
        config.queue_limit = 100;
        let mut sim = Sim::new(config);
        sim.direct = direct;
        sim.open(true);
        let ids: Vec<_> = sizes.iter().map(|&n| sim.submit(usize::from(n), Default::default())).collect();
        for (i, c) in chunks.iter().enumerate() {
            if i % 2 == 0 { sim.write(usize::from(*c)) } else { sim.read(usize::from(*c)) }
        }
        sim.pump();
        for id in ids {
            prop_assert!(matches!(sim.expects[&id].answer, Some(Ok(_))), "{:?}", sim.expects[&id]);
        }
        sim.finish();
    }
}
