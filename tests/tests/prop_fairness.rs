//! Property tests of fairness on the mock backend:
//! with read batch n and a flooded socket, no loop iteration hands more than
//! n messages to one handle's read callback; two flooded handles both make
//! progress in every iteration while they have messages; a repeating timer
//! on the same loop fires in every iteration it is due. The same batch
//! caps writes: no iteration sends more than n queued messages, and every
//! iteration sends some while libzmq has room. A handle its fd wakes steps
//! right then, and the turn its cap asks for waits for the next iteration.

mod prop_support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use prop_support::config;
use proptest::prelude::*;
use tests::mock_harness::{
    Lp, Msg, Stream, Timer, frame_refs, message, mock_seed, new_loop, settle, to_bytes,
};
use uzmq_core::RunMode;
use uzmq_core::mock::{MockConfig, MockKind, MockPeer, MockReactor, mock_pair};

/// The peer of one flooded socket: keeps its inbound pipe full until
/// `total` messages went in.
struct Feeder {
    tag: char,
    peer: MockPeer,
    total: usize,
    frames: usize,
    delivered: Vec<Msg>,
}

impl Feeder {
    fn fill(&mut self) {
        while self.delivered.len() < self.total {
            let msg = message(
                self.tag,
                self.delivered.len(),
                1 + self.delivered.len() % self.frames,
            );
            if !self.peer.send(&frame_refs(&msg)) {
                break;
            }
            self.delivered.push(msg);
        }
    }
}

/// Per handle: (loop iteration, message) of every read callback.
type Reads = Rc<RefCell<Vec<(u64, Msg)>>>;

/// How many messages each loop iteration read.
fn reads_per_iteration(reads: &Reads) -> BTreeMap<u64, usize> {
    let mut per_iteration = BTreeMap::new();
    for (i, _) in reads.borrow().iter() {
        *per_iteration.entry(*i).or_default() += 1;
    }
    per_iteration
}

/// A loop with one stream handle of batch `batch` on a mock socket of
/// `kind`, and that socket's peer.
fn one_handle(seed: u64, kind: MockKind, batch: usize) -> (Lp, MockReactor, Stream, MockPeer) {
    let lp = new_loop(seed);
    let r = lp.reactor().clone();
    let (socket, peer) = mock_pair(kind, MockConfig::default(), seed);
    let h = Stream::new(&lp, socket).expect("stream handle");
    h.set_read_batch(batch);
    (lp, r, h, peer)
}

#[derive(Debug, Clone, Copy)]
struct Flood {
    batch: usize,
    total: usize,
}

/// One generated case.
#[derive(Debug, Clone, Copy)]
struct FloodCase {
    seed: u64,
    a: Flood,
    b: Flood,
    frames: usize,
    rcvhwm: usize,
    spurious_signal_per_mille: u32,
    refill_in_callback: bool,
    timeout: u64,
    repeat: u64,
    step_ms: u64,
}

fn flood_case() -> impl Strategy<Value = FloodCase> {
    (
        any::<u64>(),
        (1usize..=20, 1usize..=50).prop_map(|(batch, total)| Flood { batch, total }),
        (1usize..=20, 0usize..=50).prop_map(|(batch, total)| Flood { batch, total }),
        1usize..=3,
        prop_oneof![Just(0usize), 1usize..=5, Just(50usize)],
        prop_oneof![Just(0u32), 1u32..=300],
        any::<bool>(),
        (0u64..=10, 1u64..=10, 0u64..=2),
    )
        .prop_map(
            |(
                seed,
                a,
                b,
                frames,
                rcvhwm,
                spurious_signal_per_mille,
                refill_in_callback,
                (timeout, repeat, step_ms),
            )| {
                FloodCase {
                    seed,
                    a,
                    b,
                    frames,
                    rcvhwm,
                    spurious_signal_per_mille,
                    refill_in_callback,
                    timeout,
                    repeat,
                    step_ms,
                }
            },
        )
}

/// Two PULL handles flooded by their peers (kept full before every
/// iteration, and from the read callback with `refill_in_callback`), a
/// repeating timer, one `NoWait` iteration at a time with virtual time
/// moving `step_ms` between them.
fn flood(c: FloodCase) -> Result<(), TestCaseError> {
    let FloodCase {
        seed,
        a,
        b,
        frames,
        rcvhwm,
        spurious_signal_per_mille,
        refill_in_callback,
        timeout,
        repeat,
        step_ms,
    } = c;
    let seed = mock_seed(seed);
    let lp = new_loop(seed);
    let r = lp.reactor().clone();
    let config = MockConfig {
        rcvhwm,
        spurious_signal_per_mille,
        ..MockConfig::default()
    };
    let mut handles = Vec::new();
    for (i, flood) in [a, b].into_iter().enumerate() {
        let (socket, peer) = mock_pair(MockKind::Pull, config.clone(), seed ^ (i as u64 + 1));
        let feeder = Rc::new(RefCell::new(Feeder {
            tag: ['a', 'b'][i],
            peer,
            total: flood.total,
            frames,
            delivered: Vec::new(),
        }));
        let h = Stream::new(&lp, socket).expect("stream handle");
        h.set_read_batch(flood.batch);
        let reads: Reads = Rc::default();
        let (log, feed, r) = (reads.clone(), feeder.clone(), r.clone());
        h.start_read(move |_h: &Stream, m| {
            log.borrow_mut()
                .push((r.iterations(), to_bytes(&m.expect("a message"))));
            if refill_in_callback {
                feed.borrow_mut().fill();
            }
        })
        .expect("start_read");
        handles.push((h, feeder, reads, flood));
    }
    let fires: Rc<RefCell<Vec<u64>>> = Rc::default();
    let timer = Timer::new(&lp).expect("timer");
    {
        let (fires, r) = (fires.clone(), r.clone());
        timer
            .start(
                Duration::from_millis(timeout),
                Duration::from_millis(repeat),
                move |_t: &Timer| {
                    fires.borrow_mut().push(r.iterations());
                },
            )
            .expect("timer start");
    }
    let mut deadline = lp.now() + timeout;

    let mut done = false;
    for _ in 0..1_000 {
        for (_, feeder, _, _) in &handles {
            feeder.borrow_mut().fill();
        }
        done = handles.iter().all(|(_, f, reads, _)| {
            let f = f.borrow();
            f.delivered.len() == f.total && reads.borrow().len() == f.total
        });
        if done {
            break;
        }
        let pending: Vec<bool> = handles
            .iter()
            .map(|(_, f, _, _)| f.borrow().peer.pending_inbound() > 0)
            .collect();
        let due = deadline <= lp.now();
        lp.run(RunMode::NoWait)
            .map_err(|e| TestCaseError::fail(format!("run: {e}")))?;
        let it = r.iterations();
        for (k, (_, _, reads, flood)) in handles.iter().enumerate() {
            let n = reads.borrow().iter().filter(|(i, _)| *i == it).count();
            prop_assert!(
                n <= flood.batch,
                "seed {}: handle {} got {} messages in iteration {} with read batch {}",
                seed,
                k,
                n,
                it,
                flood.batch
            );
            if pending[k] {
                prop_assert!(
                    n >= 1,
                    "seed {}: handle {} had messages waiting, yet got none in iteration {} (pending: {:?})",
                    seed,
                    k,
                    it,
                    pending
                );
            }
        }
        let fired = fires.borrow().iter().filter(|i| **i == it).count();
        prop_assert_eq!(
            fired,
            usize::from(due),
            "seed {}: the timer (deadline {}, now {}) fired {} times in iteration {}",
            seed,
            deadline,
            lp.now(),
            fired,
            it
        );
        if due {
            deadline = lp.now() + repeat;
        }
        r.advance(step_ms);
    }
    prop_assert!(
        done,
        "seed {}: the floods did not end within 1000 iterations",
        seed
    );
    for (k, (_, feeder, reads, flood)) in handles.iter().enumerate() {
        let read: Vec<Msg> = reads.borrow().iter().map(|(_, m)| m.clone()).collect();
        prop_assert_eq!(
            &read,
            &feeder.borrow().delivered,
            "seed {}: handle {}",
            seed,
            k
        );
        let per_iteration = reads_per_iteration(reads);
        prop_assert!(
            per_iteration.values().all(|n| *n <= flood.batch),
            "seed {}: handle {}: {:?}",
            seed,
            k,
            per_iteration
        );
    }
    timer.stop().expect("timer stop");
    settle(&lp).map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
    prop_assert!(!r.turn_armed());
    Ok(())
}

/// A PUSH handle with `writes` queued (every `with_cb`-th with a
/// completion) and room for all of them in libzmq: each `NoWait` iteration
/// takes at most `batch` and at least one, in order; completions run once,
/// in order, in the iteration their message went.
fn write_flood(
    seed: u64,
    batch: usize,
    writes: usize,
    frames: usize,
    with_cb: usize,
) -> Result<(), TestCaseError> {
    let seed = mock_seed(seed);
    let (lp, r, h, peer) = one_handle(seed, MockKind::Push, batch);
    let completed: Rc<RefCell<Vec<(u64, usize)>>> = Rc::default();
    let mut sent = Vec::new();
    for seq in 0..writes {
        let msg = message('w', seq, 1 + seq % frames);
        if seq % with_cb == 0 {
            let (log, r) = (completed.clone(), r.clone());
            h.write_with(msg.clone(), move |_h: &Stream, result| {
                assert_eq!(result, Ok(()));
                log.borrow_mut().push((r.iterations(), seq));
            })
        } else {
            h.write_multipart(msg.clone())
        }
        .expect("write");
        sent.push(msg);
    }
    let mut taken_in = BTreeMap::new();
    for _ in 0..writes + 2 {
        let before = h.write_queue_size();
        if before == 0 {
            break;
        }
        lp.run(RunMode::NoWait)
            .map_err(|e| TestCaseError::fail(format!("run: {e}")))?;
        let taken = before - h.write_queue_size();
        taken_in.insert(r.iterations(), taken);
        prop_assert!(
            (1..=batch).contains(&taken),
            "seed {}: {} of {} queued writes went out in iteration {} with batch {}",
            seed,
            taken,
            before,
            r.iterations(),
            batch
        );
    }
    prop_assert_eq!(h.write_queue_size(), 0, "seed {}: writes left", seed);
    let got: Vec<Msg> = std::iter::from_fn(|| peer.recv()).collect();
    prop_assert_eq!(&got, &sent, "seed {}", seed);
    let seqs: Vec<usize> = completed.borrow().iter().map(|(_, seq)| *seq).collect();
    let want: Vec<usize> = (0..writes).filter(|seq| seq % with_cb == 0).collect();
    prop_assert_eq!(seqs, want, "seed {}: completions", seed);
    // A completion runs in the iteration its message went out.
    let mut went_out = Vec::new();
    for (it, n) in &taken_in {
        went_out.extend(std::iter::repeat_n(*it, *n));
    }
    for (it, seq) in completed.borrow().iter() {
        prop_assert_eq!(
            Some(it),
            went_out.get(*seq),
            "seed {}: write {} completed in another iteration than it went",
            seed,
            seq
        );
    }
    Ok(())
}

/// A PULL handle with nothing to do, woken by its fd with `total`
/// messages waiting: the fd's callback steps it, and the turn that its
/// cap asks for waits for the next iteration, so no iteration reads more
/// than `batch`; everything arrives, in order.
fn woken(seed: u64, batch: usize, total: usize, frames: usize) -> Result<(), TestCaseError> {
    let seed = mock_seed(seed);
    let (lp, r, h, peer) = one_handle(seed, MockKind::Pull, batch);
    let reads: Reads = Rc::default();
    {
        let (log, r) = (reads.clone(), r.clone());
        h.start_read(move |_h: &Stream, m| {
            log.borrow_mut()
                .push((r.iterations(), to_bytes(&m.expect("a message"))));
        })
        .expect("start_read");
    }
    settle(&lp).map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
    prop_assert!(!r.turn_armed(), "seed {}: not idle before the burst", seed);
    let sent: Vec<Msg> = (0..total)
        .map(|seq| message('w', seq, 1 + seq % frames))
        .collect();
    for msg in &sent {
        prop_assert!(
            peer.send(&frame_refs(msg)),
            "seed {}: the peer's pipe is full",
            seed
        );
    }
    settle(&lp).map_err(|e| TestCaseError::fail(format!("seed {seed}: {e}")))?;
    let read: Vec<Msg> = reads.borrow().iter().map(|(_, m)| m.clone()).collect();
    prop_assert_eq!(&read, &sent, "seed {}", seed);
    let per_iteration = reads_per_iteration(&reads);
    prop_assert!(
        per_iteration.values().all(|n| *n <= batch),
        "seed {}: more than batch {} in one iteration: {:?}",
        seed,
        batch,
        per_iteration
    );
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_handle_woken_by_its_fd_reads_one_batch_per_iteration(
        seed in any::<u64>(),
        batch in 1usize..=10,
        total in 1usize..=60,
        frames in 1usize..=3,
    ) {
        woken(seed, batch, total, frames)?;
    }

    #[test]
    fn a_flood_is_capped_per_iteration_and_starves_nobody(c in flood_case()) {
        flood(c)?;
    }

    #[test]
    fn queued_writes_are_capped_per_iteration_and_keep_going(
        seed in any::<u64>(),
        batch in 1usize..=20,
        writes in 0usize..=80,
        frames in 1usize..=3,
        with_cb in 1usize..=5,
    ) {
        write_flood(seed, batch, writes, frames, with_cb)?;
    }
}
