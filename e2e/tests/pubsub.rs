//! Pub/Sub, keyspace notifications and `CLIENT TRACKING` invalidations against a real
//! redis-server started by each test, on every runtime (`runtime_tests!`). Every wait is
//! bounded and waits for the event itself.

use std::time::{Duration, Instant};

use redwire_client::{
    cmd, Client, ClientConfig, Invalidation, Pipeline, ProtocolVersion, PubSubEvent, Received,
    Subscriber, SubscriberConfig, SubscriptionKind, Value,
};
use redwire_e2e::testkit::RedisServer;
use redwire_e2e::Rt;

/// Bound on any single wait for something that should happen promptly.
const PROMPT: Duration = Duration::from_secs(10);

redwire_e2e::runtime_tests!(
    publish_receive_resp3_shares_the_connection,
    publish_receive_resp2_on_a_dedicated_connection,
    patterns_and_shard_channels,
    restart_resumes_every_subscription_resp3,
    restart_resumes_every_subscription_resp2,
    slow_consumer_stays_within_its_bound,
    large_buffer_loses_nothing_of_a_flood,
    keyspace_notifications_arrive_typed,
    tracking_invalidations_arrive_typed,
    resp2_redirected_invalidations_arrive_typed,
    subscribe_while_the_server_is_down_waits_for_it,
);

fn config(server: &RedisServer, protocol: ProtocolVersion) -> ClientConfig {
    ClientConfig::from_url(&server.url())
        .expect("testkit URL parses")
        .protocol(protocol)
        // A short backoff cap keeps restarts quick; everything else is the default.
        .backoff(redwire_client::Backoff {
            cap: Duration::from_millis(200),
            ..Default::default()
        })
}

/// A client of `server` on `rt`, connected.
async fn connect(rt: &Rt, server: &RedisServer, protocol: ProtocolVersion) -> Client {
    rt.connect(config(server, protocol)).await.unwrap()
}

/// Reads until an event matches `pred`; panics with what was seen if none does in time or
/// the stream ends.
async fn expect_event(
    rt: &Rt,
    sub: &mut Subscriber,
    what: &str,
    mut pred: impl FnMut(&PubSubEvent) -> bool,
) -> PubSubEvent {
    let mut seen = Vec::new();
    let found = {
        let seen = &mut seen;
        rt.within(what, PROMPT, async move {
            while let Some(r) = sub.next().await {
                match r {
                    Received::Event(e) if pred(&e) => return Some(e),
                    other => seen.push(other),
                }
            }
            None
        })
        .await
    };
    found.unwrap_or_else(|| panic!("stream ended before {what}; saw {seen:#?}"))
}

fn is_message(e: &PubSubEvent, ch: &str, body: &str) -> bool {
    matches!(e, PubSubEvent::Message { channel, payload } if channel == ch && payload == body)
}

fn is_pmessage(e: &PubSubEvent, pat: &str, ch: &str, body: &str) -> bool {
    matches!(e, PubSubEvent::PMessage { pattern, channel, payload }
        if pattern == pat && channel == ch && payload == body)
}

fn is_smessage(e: &PubSubEvent, ch: &str, body: &str) -> bool {
    matches!(e, PubSubEvent::SMessage { channel, payload } if channel == ch && payload == body)
}

/// Waits for `body` published on channel `ch`.
async fn expect_message(rt: &Rt, sub: &mut Subscriber, ch: &str, body: &str) {
    let what = format!("message {body:?} on {ch}");
    expect_event(rt, sub, &what, |e| is_message(e, ch, body)).await;
}

/// Waits for `body` published on channel `ch`, received through pattern `pat`.
async fn expect_pmessage(rt: &Rt, sub: &mut Subscriber, pat: &str, ch: &str, body: &str) {
    let what = format!("message {body:?} on {ch} through {pat}");
    expect_event(rt, sub, &what, |e| is_pmessage(e, pat, ch, body)).await;
}

/// Waits for `body` published on shard channel `ch`.
async fn expect_smessage(rt: &Rt, sub: &mut Subscriber, ch: &str, body: &str) {
    let what = format!("shard message {body:?} on {ch}");
    expect_event(rt, sub, &what, |e| is_smessage(e, ch, body)).await;
}

async fn publish(client: &Client, channel: &str, body: &str) -> i64 {
    client
        .query::<i64>(&cmd("PUBLISH").arg(channel).arg(body))
        .await
        .expect("PUBLISH")
}

async fn spublish(client: &Client, channel: &str, body: &str) -> i64 {
    client
        .query::<i64>(&cmd("SPUBLISH").arg(channel).arg(body))
        .await
        .expect("SPUBLISH")
}

async fn set(client: &Client, key: &str, value: &str) {
    client.send(&cmd("SET").arg(key).arg(value)).await.unwrap();
}

/// `PUBLISH flood i` for every `i` in `0..n`, in one pipeline (sent by the caller).
fn flood(publisher: &Client, n: usize) -> Pipeline {
    let mut pipeline = publisher.pipeline();
    for i in 0..n {
        pipeline.push(cmd("PUBLISH").arg("flood").arg(i));
    }
    pipeline
}

/// The index a [`flood`] message carries.
fn flood_index(payload: &[u8]) -> usize {
    std::str::from_utf8(payload).unwrap().parse().unwrap()
}

/// Makes `reader` track `cached` (it reads the key) between two writes of it by `writer`,
/// so the second write invalidates it.
async fn read_between_two_writes(reader: &Client, writer: &Client) {
    set(writer, "cached", "1").await;
    let _: String = reader.query(&cmd("GET").arg("cached")).await.unwrap();
    set(writer, "cached", "2").await;
}

/// Waits for the next invalidation and returns what it invalidates.
async fn expect_invalidation(rt: &Rt, sub: &mut Subscriber, what: &str) -> Invalidation {
    match expect_event(rt, sub, what, |e| matches!(e, PubSubEvent::Invalidate(_))).await {
        PubSubEvent::Invalidate(invalidation) => invalidation,
        _ => unreachable!(),
    }
}

/// The invalidation of the single key `cached`.
fn cached_key() -> Invalidation {
    Invalidation::Keys(vec!["cached".into()])
}

async fn publish_receive_resp3_shares_the_connection(rt: Rt) {
    let server = RedisServer::start();
    let client = connect(&rt, &server, ProtocolVersion::Resp3).await;
    let mut sub = client.subscriber();
    sub.subscribe(&["news", "sport"]).await.unwrap();
    // The same multiplexed connection keeps answering ordinary commands.
    set(&client, "k", "v").await;
    assert_eq!(publish(&client, "news", "hello").await, 1);
    let got: String = client.query(&cmd("GET").arg("k")).await.unwrap();
    assert_eq!(got, "v");
    assert_eq!(publish(&client, "sport", "goal").await, 1);
    expect_message(&rt, &mut sub, "news", "hello").await;
    expect_message(&rt, &mut sub, "sport", "goal").await;
    // One server-side client: the subscriber did not open a connection of its own.
    let clients: String = client.query(&cmd("CLIENT").arg("LIST")).await.unwrap();
    assert_eq!(clients.lines().count(), 1, "{clients}");

    sub.unsubscribe(&["news"]).await.unwrap();
    assert_eq!(publish(&client, "news", "unheard").await, 0);
    assert_eq!(publish(&client, "sport", "again").await, 1);
    let e = expect_event(&rt, &mut sub, "second sport message", |e| {
        matches!(e, PubSubEvent::Message { .. })
    })
    .await;
    assert!(is_message(&e, "sport", "again"), "{e:?}");
    // A subscribe sent as a plain command is answered by its confirmations and leaves the
    // replies of later commands in step; the subscriber sees its messages.
    let raw = client
        .send(&cmd("subscribe").arg("raw-1").arg("raw-2"))
        .await
        .unwrap();
    assert!(matches!(&raw, Value::Array(c) if c.len() == 2), "{raw:?}");
    let got: String = client.query(&cmd("GET").arg("k")).await.unwrap();
    assert_eq!(got, "v");
    assert_eq!(publish(&client, "raw-2", "r").await, 1);
    expect_message(&rt, &mut sub, "raw-2", "r").await;
    // No names: every channel the connection has.
    sub.unsubscribe::<&str>(&[]).await.unwrap();
    for channel in ["sport", "raw-1", "raw-2"] {
        assert_eq!(publish(&client, channel, "gone").await, 0, "{channel}");
    }
    client.close().await;
    // What is left are the three unsubscribe confirmations; then the stream ends with the
    // connection.
    let rest = rt
        .within("end of stream", PROMPT, async {
            let mut rest = Vec::new();
            while let Some(r) = sub.next().await {
                rest.push(r);
            }
            rest
        })
        .await;
    assert_eq!(rest.len(), 3, "{rest:?}");
    assert!(rest.iter().all(|r| matches!(
        r,
        Received::Event(PubSubEvent::Unsubscribed {
            kind: SubscriptionKind::Channel,
            ..
        })
    )));
}

async fn publish_receive_resp2_on_a_dedicated_connection(rt: Rt) {
    let server = RedisServer::start();
    let client = connect(&rt, &server, ProtocolVersion::Resp2).await;
    let mut sub = client.subscriber();
    sub.subscribe(&["news"]).await.unwrap();
    // The client's own connection is not subscribed, so any command still works on it.
    set(&client, "k", "v").await;
    assert_eq!(publish(&client, "news", "hello").await, 1);
    expect_message(&rt, &mut sub, "news", "hello").await;
    let clients: String = client.query(&cmd("CLIENT").arg("LIST")).await.unwrap();
    assert_eq!(clients.lines().count(), 2, "{clients}");
    assert!(clients.contains("sub=1"), "{clients}");
    // The dedicated connection answers subscription commands and PING while subscribed.
    let pong = sub.client().send(&cmd("PING")).await.unwrap();
    assert!(matches!(pong, Value::Array(_)), "{pong:?}");
    sub.unsubscribe(&["news"]).await.unwrap();
    assert_eq!(publish(&client, "news", "unheard").await, 0);
    drop(sub);
    client.close().await;
}

async fn patterns_and_shard_channels(rt: Rt) {
    let server = RedisServer::start();
    for protocol in [ProtocolVersion::Resp3, ProtocolVersion::Resp2] {
        let client = connect(&rt, &server, protocol).await;
        let mut sub = client.subscriber();
        sub.psubscribe(&["news.*"]).await.unwrap();
        sub.ssubscribe(&["shard-1"]).await.unwrap();
        assert_eq!(publish(&client, "news.tech", "rust").await, 1);
        assert_eq!(spublish(&client, "shard-1", "s-body").await, 1);
        expect_pmessage(&rt, &mut sub, "news.*", "news.tech", "rust").await;
        expect_smessage(&rt, &mut sub, "shard-1", "s-body").await;
        sub.punsubscribe(&["news.*"]).await.unwrap();
        sub.sunsubscribe(&["shard-1"]).await.unwrap();
        assert_eq!(publish(&client, "news.tech", "x").await, 0, "{protocol:?}");
        drop(sub);
        client.close().await;
    }
}

/// Kill -9 the server and start it again on the same port: with no user action every kind
/// of subscription works again, and the stream was told of the gap.
async fn restart_resumes(rt: Rt, protocol: ProtocolVersion) {
    let mut server = RedisServer::start();
    let client = connect(&rt, &server, protocol).await;
    let mut sub = client.subscriber();
    sub.subscribe(&["c1", "c2"]).await.unwrap();
    sub.psubscribe(&["p.*"]).await.unwrap();
    sub.ssubscribe(&["s1"]).await.unwrap();
    assert_eq!(publish(&client, "c1", "before").await, 1);
    expect_message(&rt, &mut sub, "c1", "before").await;

    let killed_at = Instant::now();
    server.kill();
    server.start_again();
    let gap = expect_event(&rt, &mut sub, "gap", |e| {
        matches!(e, PubSubEvent::Gap { .. })
    })
    .await;
    let PubSubEvent::Gap { from, to } = gap else {
        unreachable!()
    };
    assert!(from <= to);
    assert!(to >= killed_at, "the gap ends after the outage began");
    let restored = expect_event(&rt, &mut sub, "resubscribed", |e| {
        matches!(e, PubSubEvent::Resubscribed(_))
    })
    .await;
    let PubSubEvent::Resubscribed(set) = restored else {
        unreachable!()
    };
    assert_eq!(set.len(), 4, "{set:?}");
    assert!(set.contains(SubscriptionKind::Channel, b"c1"));
    assert!(set.contains(SubscriptionKind::Channel, b"c2"));
    assert!(set.contains(SubscriptionKind::Pattern, b"p.*"));
    assert!(set.contains(SubscriptionKind::Shard, b"s1"));

    // Delivery resumed on every subscription.
    assert_eq!(publish(&client, "c1", "after-1").await, 1);
    assert_eq!(publish(&client, "c2", "after-2").await, 1);
    assert_eq!(publish(&client, "p.x", "after-p").await, 1);
    assert_eq!(spublish(&client, "s1", "after-s").await, 1);
    expect_message(&rt, &mut sub, "c1", "after-1").await;
    expect_message(&rt, &mut sub, "c2", "after-2").await;
    expect_pmessage(&rt, &mut sub, "p.*", "p.x", "after-p").await;
    expect_smessage(&rt, &mut sub, "s1", "after-s").await;
    drop(sub);
    client.close().await;
}

async fn restart_resumes_every_subscription_resp3(rt: Rt) {
    restart_resumes(rt, ProtocolVersion::Resp3).await;
}

async fn restart_resumes_every_subscription_resp2(rt: Rt) {
    restart_resumes(rt, ProtocolVersion::Resp2).await;
}

/// A reader that does not read while 20 000 messages are published holds at most its
/// capacity; every message is either received or counted as lagged, and what is received is
/// the newest, in order.
async fn slow_consumer_stays_within_its_bound(rt: Rt) {
    const CAPACITY: usize = 64;
    const N: usize = 20_000;
    let server = RedisServer::start();
    let client = connect(&rt, &server, ProtocolVersion::Resp3).await;
    let publisher = connect(&rt, &server, ProtocolVersion::Resp3).await;
    let mut sub = client.subscriber_with(SubscriberConfig { capacity: CAPACITY });
    sub.subscribe(&["flood"]).await.unwrap();
    // Read the confirmation, so every event from here on is one of the flood's messages.
    expect_event(&rt, &mut sub, "confirmation", |e| {
        matches!(e, PubSubEvent::Subscribed { .. })
    })
    .await;

    let started = Instant::now();
    let replies = flood(&publisher, N).send().await.unwrap();
    assert!(replies.iter().all(|r| *r == Value::Integer(1)));
    // Not reading yet: the buffer must overflow (N is far beyond the capacity).
    rt.wait_until("the first dropped message", PROMPT, || {
        sub.lagged_total() > 0
    })
    .await;

    let mut received = 0usize;
    let mut lagged = 0u64;
    let mut last: Option<usize> = None;
    rt.within("every message received or counted", PROMPT, async {
        while received + lagged as usize != N {
            assert!(sub.buffered() <= CAPACITY);
            match sub.next().await.expect("stream open") {
                Received::Lagged(n) => lagged += n,
                Received::Event(PubSubEvent::Message { payload, .. }) => {
                    let i = flood_index(&payload);
                    assert!(
                        last.map_or(true, |l| i > l),
                        "out of order: {i} after {last:?}"
                    );
                    last = Some(i);
                    received += 1;
                }
                Received::Event(_) => {}
            }
        }
    })
    .await;
    let elapsed = started.elapsed();
    assert!(sub.peak_buffered() <= CAPACITY, "{}", sub.peak_buffered());
    assert_eq!(sub.lagged_total(), lagged);
    assert!(lagged > 0, "a reader that did not read lagged");
    assert_eq!(last, Some(N - 1), "the newest message is kept");
    println!(
        "flood: {N} messages in {elapsed:?} ({:.0} msg/s), capacity {CAPACITY}, peak {}, received {received}, lagged {lagged}",
        N as f64 / elapsed.as_secs_f64(),
        sub.peak_buffered()
    );
    client.close().await;
    publisher.close().await;
}

/// With a buffer as large as the flood, every message arrives, in publish order, and none is
/// counted as lagged. Prints the end-to-end rate (publish pipeline to reader).
async fn large_buffer_loses_nothing_of_a_flood(rt: Rt) {
    const N: usize = 50_000;
    let server = RedisServer::start();
    let client = connect(&rt, &server, ProtocolVersion::Resp3).await;
    let mut sub = client.subscriber_with(SubscriberConfig { capacity: N + 16 });
    sub.subscribe(&["flood"]).await.unwrap();
    let publisher = connect(&rt, &server, ProtocolVersion::Resp3).await;
    let started = Instant::now();
    let published = flood(&publisher, N).send();
    let mut next = 0usize;
    rt.within("every message", PROMPT, async {
        while next < N {
            match sub.next().await.expect("stream open") {
                Received::Event(PubSubEvent::Message { payload, .. }) => {
                    let i = flood_index(&payload);
                    assert_eq!(i, next, "lost or reordered");
                    next += 1;
                }
                Received::Event(_) => {}
                Received::Lagged(n) => panic!("lagged {n} with room for the whole flood"),
            }
        }
    })
    .await;
    let elapsed = started.elapsed();
    rt.within("PUBLISH replies", PROMPT, published)
        .await
        .unwrap();
    assert_eq!(sub.lagged_total(), 0);
    println!(
        "flood, nothing dropped: {N} messages in {elapsed:?} ({:.0} msg/s), peak buffered {}",
        N as f64 / elapsed.as_secs_f64(),
        sub.peak_buffered()
    );
    client.close().await;
    publisher.close().await;
}

async fn keyspace_notifications_arrive_typed(rt: Rt) {
    let server = RedisServer::start();
    server.command(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    for protocol in [ProtocolVersion::Resp3, ProtocolVersion::Resp2] {
        let client = connect(&rt, &server, protocol).await;
        let mut sub = client.subscriber();
        sub.psubscribe(&["__keyspace@0__:*"]).await.unwrap();
        sub.subscribe(&["__keyevent@0__:del"]).await.unwrap();
        set(&client, "watched", "1").await;
        client.send(&cmd("DEL").arg("watched")).await.unwrap();
        expect_pmessage(
            &rt,
            &mut sub,
            "__keyspace@0__:*",
            "__keyspace@0__:watched",
            "set",
        )
        .await;
        expect_pmessage(
            &rt,
            &mut sub,
            "__keyspace@0__:*",
            "__keyspace@0__:watched",
            "del",
        )
        .await;
        expect_message(&rt, &mut sub, "__keyevent@0__:del", "watched").await;
        drop(sub);
        client.close().await;
    }
}

/// RESP2 tracking sends invalidations to another connection subscribed to
/// `__redis__:invalidate`: the subscriber's dedicated connection gets them typed.
async fn resp2_redirected_invalidations_arrive_typed(rt: Rt) {
    let server = RedisServer::start();
    let client = connect(&rt, &server, ProtocolVersion::Resp2).await;
    let mut sub = client.subscriber();
    // Asked before subscribing: a subscribed RESP2 connection accepts nothing else.
    let id: i64 = sub.client().query(&cmd("CLIENT").arg("ID")).await.unwrap();
    sub.subscribe(&["__redis__:invalidate"]).await.unwrap();
    client
        .send(
            &cmd("CLIENT")
                .arg("TRACKING")
                .arg("ON")
                .arg("REDIRECT")
                .arg(id),
        )
        .await
        .unwrap();
    read_between_two_writes(&client, &client).await;
    assert_eq!(
        expect_invalidation(&rt, &mut sub, "redirected invalidation").await,
        cached_key()
    );
    // The subscriber's connection stayed up (an unrecognised frame would have reset it).
    assert_eq!(sub.client().state(), redwire_client::StateKind::Connected);
    drop(sub);
    client.close().await;
}

/// A subscription asked for while the server is down waits in the queue like any request
/// and is confirmed once the server is back, on either protocol.
async fn subscribe_while_the_server_is_down_waits_for_it(rt: Rt) {
    let mut server = RedisServer::start();
    for protocol in [ProtocolVersion::Resp3, ProtocolVersion::Resp2] {
        server.kill();
        let client = rt.client(config(&server, protocol));
        let mut sub = client.subscriber();
        let subscribing = sub.subscribe(&["later"]);
        server.start_again();
        rt.within("the subscription", PROMPT, subscribing)
            .await
            .unwrap();
        assert_eq!(publish(&client, "later", "hi").await, 1);
        expect_message(&rt, &mut sub, "later", "hi").await;
        drop(sub);
        client.close().await;
    }
}

async fn tracking_invalidations_arrive_typed(rt: Rt) {
    let server = RedisServer::start();
    // In the handshake, so every new connection tracks again.
    let client = rt
        .connect(
            config(&server, ProtocolVersion::Resp3)
                .handshake_command(cmd("CLIENT").arg("TRACKING").arg("ON")),
        )
        .await
        .unwrap();
    let writer = connect(&rt, &server, ProtocolVersion::Resp3).await;
    let mut sub = client.subscriber();
    read_between_two_writes(&client, &writer).await;
    assert_eq!(
        expect_invalidation(&rt, &mut sub, "key invalidation").await,
        cached_key()
    );
    writer.send(&cmd("FLUSHALL")).await.unwrap();
    assert_eq!(
        expect_invalidation(&rt, &mut sub, "flush invalidation").await,
        Invalidation::All
    );
    client.close().await;
    writer.close().await;
}
