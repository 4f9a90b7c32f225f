//! Real network faults between two hosts: two network namespaces joined by a veth pair (192.0.2.1 and 192.0.2.2), a `netfault_peer` PUSH process in one sending a numbered stream to a `netfault_peer` PULL process in the other, and in the middle of the stream the link goes down, or netem delays and drops packets, or the receiver is killed and restarted.
//!
//! Each case checks that nothing hangs (every wait is bounded and says what
//! it waited for), that the stream flows again after the fault without
//! anyone restarting a handle, that every receiver process sees the numbers
//! in order without duplicates, and that only what ZeroMQ's semantics allow
//! is lost:
//!
//! - **Link down, netem delay and loss, a token-bucket rate limit:
//!   nothing.** The TCP connection survives them all: the kernel keeps
//!   unacknowledged data and retransmits it once packets get through
//!   again, the heartbeat timeout (10 s, see the peer) is longer than the
//!   outage, so libzmq never drops the connection, and what the PUSH cannot
//!   send meanwhile waits in its pipe and then in the uzmq handle's queue.
//!   Every number arrives, exactly once, in order.
//! - **Receiver killed: one contiguous run of numbers, at the kill.** What
//!   is lost is what was on its way to, or inside, the dead process: the
//!   messages in the PUSH's pipe to it (libzmq drops the pipe of a bound
//!   socket's connection when the connection ends), in the sender's kernel
//!   send buffer and the receiver's receive buffer, in the dead libzmq's
//!   pipe, and the ones it received after its last progress report (the
//!   test cannot know of them, so they count as lost). PUSH never sends a
//!   message twice and, with no receiver connected, holds back what it is
//!   given (the uzmq handle queues it), so the restarted receiver starts
//!   above the dead one's last number and from there on misses nothing.
//!
//! The peers are separate processes (`ip netns exec NS netfault_peer`)
//! because a network namespace belongs to a thread, and libzmq's own I/O
//! threads open the connections.
//!
//! The rate-limit case (`tbf`) is not one of the three faults asked for:
//! it stands in for netem on kernels without it (this one's too), and
//! drops packets for real. The namespaces use a loss-based TCP congestion
//! control (see `TwoHosts`), so recovery does not depend on the machine's.
//!
//! Runs only as root with iproute2 installed; otherwise each case prints why
//! it was skipped and passes, except with `CI=true` as root, where failing
//! to create the namespaces fails the test (CI is meant to run it). A
//! kernel without netem (`CONFIG_NET_SCH_NETEM`) skips the netem case, on
//! CI too: that is the kernel build's choice, not a fault of uzmq, and the
//! other cases still run.

use std::fmt;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use tests::netns::{Host, SetupError, TwoHosts};
use tests::peer_line::{Line, RecvReport};
use tests::peer_proc::PeerProc;

/// The peer binary, built by cargo before the integration tests.
const PEER: &str = env!("CARGO_BIN_EXE_netfault_peer");

/// Messages the sender queues per millisecond (from a 1 ms timer).
const PER_MS: u64 = 2;

/// The longest the test waits for any one thing (an endpoint, a first
/// message, the stream flowing again, a process exiting).
const WAIT: Duration = Duration::from_secs(15);

/// A peer's own deadline: it exits by itself then, even if the test died.
const PEER_DEADLINE: Duration = Duration::from_secs(40);

/// How many messages must have arrived before a fault is applied, so that
/// the fault hits a stream that flows.
const WARM_UP: u64 = 1_000;

/// A line on the test's stderr, written directly rather than through
/// `eprintln!`, which libtest captures: skips and per-fault outcomes show
/// in every run's log, not only when a test fails.
fn say(case: &str, msg: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "network_faults: {case}: {msg}");
}

/// The two hosts, or `None` after saying why the case is skipped.
/// Not root: skipped. Root but no namespaces: skipped, or a failure when
/// `CI=true` (a CI runner is root in order to run this test).
fn two_hosts(case: &str) -> Option<TwoHosts> {
    match TwoHosts::create(case) {
        Ok(hosts) => Some(hosts),
        Err(SetupError::Failed(why)) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "CI=true and running as root, yet the network namespaces could not be made: {why}"
            )
        }
        Err(err) => {
            say(case, format_args!("SKIPPED: {err}"));
            None
        }
    }
}

/// The sender, PUSH bound on host A, to queue `count` messages; returns it
/// with the endpoint it bound.
fn start_sender(hosts: &TwoHosts, count: u64) -> (PeerProc, String) {
    let mut command = hosts.command(Host::A, PEER);
    command.args([
        "send",
        "--bind",
        &format!("tcp://{}:*", Host::A.addr()),
        "--count",
        &count.to_string(),
        "--per-ms",
        &PER_MS.to_string(),
        "--deadline-ms",
        &PEER_DEADLINE.as_millis().to_string(),
    ]);
    let mut sender = PeerProc::spawn("sender", command);
    let endpoint = sender.wait_for(WAIT, "the sender's endpoint", |line| match line {
        Line::Endpoint(endpoint) => Some(endpoint.clone()),
        _ => None,
    });
    (sender, endpoint)
}

/// A receiver, PULL connected from host B, that waits for number `last`.
fn start_receiver(hosts: &TwoHosts, name: &str, endpoint: &str, last: u64) -> PeerProc {
    let mut command = hosts.command(Host::B, PEER);
    command.args([
        "recv",
        "--connect",
        endpoint,
        "--until",
        &last.to_string(),
        "--deadline-ms",
        &PEER_DEADLINE.as_millis().to_string(),
    ]);
    PeerProc::spawn(name, command)
}

/// Waits until `receiver` got [`WARM_UP`] messages, and fails if the
/// sender had by then queued all `count` (the fault would hit nothing).
fn warm_up(receiver: &mut PeerProc, sender: &mut PeerProc, count: u64) {
    receiver.wait_recv(WAIT, "the stream to flow before the fault", |r| {
        r.count >= WARM_UP
    });
    let queued = sender_progress(sender);
    assert!(
        queued < count,
        "the sender had queued all {count} messages before the fault: raise the count"
    );
}

/// How many messages the sender has queued by now, from its latest report
/// (it reports every 100 ms): waits for a first report if there is none.
fn sender_progress(sender: &mut PeerProc) -> u64 {
    match sender.latest_sent() {
        Some(sent) => sent.queued,
        None => sender.wait_for(WAIT, "a progress report of the sender", |line| match line {
            Line::Sent(s) => Some(s.queued),
            _ => None,
        }),
    }
}

/// After a fault: waits until the receiver got number `mark` (a number the
/// sender queued while the fault lasted), i.e. the stream flows again.
fn recovers(receiver: &mut PeerProc, mark: u64, fault: &str) -> RecvReport {
    receiver.wait_recv(
        WAIT,
        &format!("message {mark} (queued during the fault) after {fault} ended"),
        |r| r.last.is_some_and(|last| last >= mark),
    )
}

/// Waits for `receiver` to exit by itself and returns its last report,
/// which must say it saw the last number.
fn finish_receiver(receiver: &mut PeerProc) -> RecvReport {
    let status = receiver.wait_exit(WAIT);
    let last = receiver
        .last_recv()
        .unwrap_or_else(|| panic!("{} never reported", receiver.name()));
    assert!(
        status.success() && last.done && last.complete,
        "{} ended ({status}) without the last number: {last:?}",
        receiver.name()
    );
    last
}

/// Waits for the sender to exit by itself and checks that it queued and
/// handed libzmq all `count` messages.
fn finish_sender(sender: &mut PeerProc, count: u64) {
    let status = sender.wait_exit(WAIT);
    let last = sender.last_sent();
    assert!(
        status.success() && last.is_some_and(|s| s.done && s.queued == count && s.taken == count),
        "the sender ended ({status}) without sending all {count}: {last:?}"
    );
}

/// The checks of the faults after which nothing may be lost: one receiver
/// saw 0, 1, ..., count - 1, each once, in order.
fn assert_all_arrived(case: &str, got: &RecvReport, count: u64, started: Instant) {
    assert!(
        got.is_clean() && got.first == Some(0) && got.count == count,
        "{case}: expected all {count} numbers in order, once each; got {got:?}"
    );
    say(
        case,
        format_args!(
            "ok: sent {count}, received {}, lost 0, in order, no duplicates ({:.1}s)",
            got.count,
            started.elapsed().as_secs_f64()
        ),
    );
}

/// Fault 1: the receiver's end of the link goes down for 2 s, then up.
#[test]
fn link_down_and_up() {
    const CASE: &str = "link-down";
    let Some(hosts) = two_hosts(CASE) else { return };
    let started = Instant::now();
    let count = 16_000;
    let (mut sender, endpoint) = start_sender(&hosts, count);
    let mut receiver = start_receiver(&hosts, "receiver", &endpoint, count - 1);
    warm_up(&mut receiver, &mut sender, count);

    hosts
        .set_link(Host::B, false)
        .expect("set the receiver's link down");
    // The fault's duration, not a synchronisation: the link stays down
    // this long whatever the peers do.
    std::thread::sleep(Duration::from_secs(2));
    hosts
        .set_link(Host::B, true)
        .expect("set the receiver's link up again");
    let mark = sender_progress(&mut sender);
    let stalled = receiver.latest_recv().and_then(|r| r.last);
    recovers(&mut receiver, mark, "the link outage");

    let got = finish_receiver(&mut receiver);
    finish_sender(&mut sender, count);
    say(
        CASE,
        format_args!(
            "when the link came back the receiver was at {} and the sender at {mark}",
            stalled.map_or_else(|| "-".to_owned(), |n| n.to_string())
        ),
    );
    assert_all_arrived(CASE, &got, count, started);
}

/// Whether `tc`'s complaint means the kernel lacks the queueing
/// discipline, rather than a mistake of ours.
fn qdisc_unavailable(err: &str) -> bool {
    [
        // iproute2 with extended acks: "Error: Specified qdisc kind is unknown."
        "qdisc kind is unknown",
        // Older kernels: "RTNETLINK answers: No such file or directory".
        "No such file or directory",
        // A tc built without support for it.
        "Unknown qdisc",
    ]
    .iter()
    .any(|sign| err.contains(sign))
}

/// Adds the queueing discipline `qdisc` (the words after `root`) on the
/// sender's end of the link; `Ok(false)`, after saying the case is skipped,
/// when the kernel does not have it even after `modprobe module`.
fn add_qdisc(case: &str, hosts: &TwoHosts, qdisc: &[&str], module: &str) -> bool {
    let mut args = vec!["qdisc", "add", "dev", Host::A.dev(), "root"];
    args.extend_from_slice(qdisc);
    let mut added = hosts.tc(Host::A, &args);
    if added.as_ref().is_err_and(|err| qdisc_unavailable(err)) {
        // The module may just not be loaded yet. Modules are global: this
        // is the one command of the test that acts outside the namespaces.
        let loaded = Command::new("modprobe").arg(module).output();
        if loaded.is_ok_and(|out| out.status.success()) {
            added = hosts.tc(Host::A, &args);
        }
    }
    match added {
        Ok(()) => true,
        Err(err) if qdisc_unavailable(&err) => {
            say(
                case,
                format_args!(
                    "SKIPPED: the kernel has no {} qdisc (CONFIG_NET_SCH_{}; modprobe {module} did not help): {err}",
                    qdisc[0],
                    qdisc[0].to_uppercase()
                ),
            );
            false
        }
        Err(err) => panic!("{case}: tc could not add {}: {err}", qdisc.join(" ")),
    }
}

/// A queueing discipline on the sender's end of the link for `hold`, in
/// the middle of a stream of `count` messages: nothing may be lost.
fn degraded_link(case: &str, qdisc: &[&str], module: &str, hold: Duration, count: u64) {
    let Some(hosts) = two_hosts(case) else { return };
    let started = Instant::now();
    let (mut sender, endpoint) = start_sender(&hosts, count);
    let mut receiver = start_receiver(&hosts, "receiver", &endpoint, count - 1);
    warm_up(&mut receiver, &mut sender, count);

    // On a skip, dropping the peers and then the hosts cleans up.
    if !add_qdisc(case, &hosts, qdisc, module) {
        return;
    }
    std::thread::sleep(hold); // the fault's duration
    let stats = hosts
        .tc_output(Host::A, &["-s", "qdisc", "show", "dev", Host::A.dev()])
        .unwrap_or_else(|err| panic!("{case}: read the {} qdisc's counters: {err}", qdisc[0]));
    hosts
        .tc(Host::A, &["qdisc", "del", "dev", Host::A.dev(), "root"])
        .unwrap_or_else(|err| panic!("{case}: remove the {} qdisc: {err}", qdisc[0]));
    let mark = sender_progress(&mut sender);
    recovers(&mut receiver, mark, qdisc[0]);

    let got = finish_receiver(&mut receiver);
    finish_sender(&mut sender, count);
    say(
        case,
        format_args!(
            "the {} qdisc passed {} and dropped {} packets (TCP congestion control {})",
            qdisc[0],
            stat(&stats, "pkt").unwrap_or_else(|| "?".into()),
            stat(&stats, "dropped").unwrap_or_else(|| "?".into()),
            hosts
                .congestion_control(Host::A)
                .unwrap_or_else(|| "?".into())
        ),
    );
    assert_all_arrived(case, &got, count, started);
}

/// The number next to `word` in `tc -s qdisc show`'s counters line
/// (` Sent 12345 bytes 678 pkt (dropped 9, overlimits 10 requeues 0)`):
/// the one before `pkt`, the one after `dropped`.
fn stat(stats: &str, word: &str) -> Option<String> {
    let words: Vec<&str> = stats
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    let at = words.iter().position(|w| *w == word)?;
    let near = if word == "pkt" {
        at.checked_sub(1)?
    } else {
        at + 1
    };
    words.get(near).map(|w| (*w).to_owned())
}

/// Fault 2: netem on the sender's end, 100 ms delay and 5% loss, for 5 s.
#[test]
fn netem_delay_and_loss() {
    let netem = ["netem", "delay", "100ms", "loss", "5%"];
    degraded_link("netem", &netem, "sch_netem", Duration::from_secs(5), 20_000);
}

/// Fault 2b, for kernels without netem too: a token bucket on the sender's
/// end for 5 s, at 64 kbit/s, well below the stream's rate (2 messages of
/// 10 bytes per millisecond, about 160 kbit/s) with a 50 ms queue: packets
/// over it are dropped, so TCP retransmits and backs off, the PUSH's pipe
/// reaches its high-water mark and the handle queues the rest.
#[test]
fn rate_limited_link() {
    let tbf = ["tbf", "rate", "64kbit", "burst", "4kb", "latency", "50ms"];
    degraded_link("tbf", &tbf, "sch_tbf", Duration::from_secs(5), 20_000);
}

/// Fault 3: the receiving process is killed (SIGKILL) and started again.
#[test]
fn receiver_killed_and_restarted() {
    const CASE: &str = "receiver-killed";
    let Some(hosts) = two_hosts(CASE) else { return };
    let started = Instant::now();
    let count = 10_000;
    let (mut sender, endpoint) = start_sender(&hosts, count);
    let mut first = start_receiver(&hosts, "receiver 1", &endpoint, count - 1);
    warm_up(&mut first, &mut sender, count);

    let killed = first.kill(WAIT);
    assert!(!killed.success(), "receiver 1 was killed: {killed}");
    let before = first
        .last_recv()
        .expect("receiver 1 reported before it was killed");
    let upto = before.last.expect("receiver 1 got messages");
    assert!(
        before.is_clean() && before.first == Some(0) && before.count == upto + 1,
        "receiver 1 saw 0..={upto} in order, once each: {before:?}"
    );

    let mut second = start_receiver(&hosts, "receiver 2", &endpoint, count - 1);
    let mark = sender_progress(&mut sender);
    recovers(&mut second, mark, "the restart");
    let after = finish_receiver(&mut second);
    finish_sender(&mut sender, count);

    let from = after.first.expect("receiver 2 got messages");
    assert!(
        from > upto,
        "no number arrives twice: receiver 2 began at {from}, receiver 1 had {upto}"
    );
    assert!(
        after.is_clean() && after.count == count - from,
        "receiver 2 saw {from}..{count} in order, once each: {after:?}"
    );
    let lost = from - upto - 1;
    let which = match lost {
        0 => String::new(),
        1 => format!(
            " (number {from_dead}, in flight at the kill)",
            from_dead = upto + 1
        ),
        _ => format!(
            " (numbers {} to {}, in flight at the kill)",
            upto + 1,
            from - 1
        ),
    };
    say(
        CASE,
        format_args!(
            "ok: sent {count}, received {} + {} = {}, lost {lost}{which}, in order, no duplicates ({:.1}s)",
            before.count,
            after.count,
            before.count + after.count,
            started.elapsed().as_secs_f64()
        ),
    );
}
