//! Cross-thread workloads on the real backends, shared by the tests that
//! run them at different sizes: `cross_thread.rs` (short, also run under
//! valgrind's race detector by `cargo xtask racecheck`) and `lifecycle.rs`
//! (under valgrind's memory checker by `cargo xtask leakcheck`).
//!
//! Each one asserts what it guards and ends within [`limit`]: the loop runs
//! under a watchdog, the threads are joined with a bounded wait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::thread;

use uzmq::{Error, Loop, Zmq, zmq};

use crate::real::{inproc, limit, run_to_end, run_until, seq, seq_of, settle, socket, spawn_peer};

/// `threads` threads each post `per_thread` functions through clones of
/// one `Remote` while the loop runs: every function runs exactly once, on
/// the loop's thread, and each thread's in the order it posted them.
pub fn posts_from_threads(threads: usize, per_thread: usize) {
    let lp = Loop::new().expect("loop");
    let loop_thread = thread::current().id();
    let ran = Arc::new(Mutex::new(vec![Vec::new(); threads]));
    let peers: Vec<_> = (0..threads)
        .map(|t| {
            let (remote, ran) = (lp.remote(), ran.clone());
            spawn_peer(&format!("poster {t}"), move || {
                for i in 0..per_thread {
                    let ran = ran.clone();
                    remote
                        .post(move |_| {
                            assert_eq!(thread::current().id(), loop_thread);
                            lock(&ran)[t].push(i);
                        })
                        .expect("post to a live loop");
                }
            })
        })
        .collect();
    run_until(&lp, limit(), "every posted function to run", || {
        lock(&ran).iter().map(Vec::len).sum::<usize>() == threads * per_thread
    });
    for peer in peers {
        peer.join(limit());
    }
    for (t, got) in lock(&ran).iter().enumerate() {
        assert_eq!(
            *got,
            (0..per_thread).collect::<Vec<_>>(),
            "thread {t}'s functions, each once, in its order"
        );
    }
    // The watchdog's close completes in an iteration; nothing else waits.
    assert!(!settle(&lp, 10), "nothing is left pending");
}

/// `threads` threads each send `per_thread` one-frame messages to one PUSH
/// handle, through a `Sender` of their own of `capacity` (or clones of one
/// shared `Sender` with `shared`), to a PULL on the same loop: each
/// thread's messages arrive exactly once and in its order. Senders dropped,
/// the writer no longer keeps the loop alive.
pub fn senders_from_threads(threads: usize, per_thread: u64, capacity: usize, shared: bool) {
    let ctx = zmq::Context::new();
    let lp = Loop::new().expect("loop");
    let endpoint = inproc("cross-thread-senders");
    let reader = Zmq::new(&lp, socket(&ctx, zmq::PULL)).expect("PULL");
    reader.socket().bind(&endpoint).expect("bind");
    let writer = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
    writer.socket().connect(&endpoint).expect("connect");
    let one = writer.sender(capacity).expect("sender");
    let senders: Vec<_> = (0..threads)
        .map(|_| {
            if shared {
                one.clone()
            } else {
                writer.sender(capacity).expect("sender")
            }
        })
        .collect();
    drop((one, writer));

    let got = crate::real::log::<(usize, u64)>();
    let g = got.clone();
    reader
        .start_read(move |_, msg| {
            let msg = msg.expect("message");
            let thread = usize::from(msg[0][0]);
            g.borrow_mut().push((thread, seq_of(&msg[1])));
        })
        .expect("start_read");
    let total = threads * usize::try_from(per_thread).expect("usize");
    let peers: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(t, sender)| {
            spawn_peer(&format!("sender {t}"), move || {
                let id = [u8::try_from(t).expect("few threads")];
                for i in 0..per_thread {
                    sender
                        .send_multipart([&id[..], &seq(i)])
                        .expect("send to a live handle");
                }
            })
        })
        .collect();
    run_until(&lp, limit(), "every thread's messages", || {
        got.borrow().len() == total
    });
    for peer in peers {
        peer.join(limit());
    }
    reader.close();
    run_to_end(&lp, limit(), "the writer to go idle once its senders went");
    let mut per = vec![Vec::new(); threads];
    for &(t, i) in got.borrow().iter() {
        per[t].push(i);
    }
    for (t, seen) in per.iter().enumerate() {
        assert_eq!(
            *seen,
            (0..per_thread).collect::<Vec<_>>(),
            "thread {t}'s messages, each once, in its order"
        );
    }
}

/// Counts what became of the functions posted in [`posts_racing_with_drop`].
#[derive(Default)]
struct Fate {
    /// Functions made (one per `post` call).
    made: AtomicUsize,
    /// Functions that ran.
    ran: AtomicUsize,
    /// Functions dropped (after running or not).
    dropped: AtomicUsize,
    /// `post` calls that returned `Ok`.
    accepted: AtomicUsize,
}

impl Fate {
    /// Functions made and not dropped yet: posted and waiting, or running.
    fn outstanding(&self) -> usize {
        let dropped = self.dropped.load(Ordering::SeqCst);
        self.made.load(Ordering::SeqCst).saturating_sub(dropped)
    }
}

/// Posted functions in flight at most (all threads together) in
/// [`posts_racing_with_drop`]: a few loop iterations' worth.
const MAX_OUTSTANDING: usize = 4 * uzmq::DEFAULT_READ_BATCH;

/// Moved into each posted function: counts its drop.
struct Probe(Arc<Fate>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// `rounds` times: `threads` threads post as fast as they can (with at
/// most `MAX_OUTSTANDING` functions in flight), and one
/// more hands messages over through a `Sender` to a PUSH without a peer
/// (so it soon blocks on capacity), while the loop runs a little and is
/// then dropped under them. Every post returns `Ok` or `Err(Closed)`, and
/// only `Err(Closed)` once it did; nothing runs after the drop; every
/// function is dropped (run or not, none leaks); the blocked sender
/// returns `Err(Closed)`.
pub fn posts_racing_with_drop(rounds: usize, threads: usize) {
    let ctx = zmq::Context::new();
    for round in 0..rounds {
        let lp = Loop::new().expect("loop");
        let fate = Arc::new(Fate::default());
        let start = Arc::new(Barrier::new(threads + 2));
        let posters: Vec<_> = (0..threads)
            .map(|t| {
                let (remote, fate, start) = (lp.remote(), fate.clone(), start.clone());
                spawn_peer(&format!("poster {t}"), move || {
                    start.wait();
                    loop {
                        // A bounded backlog: under valgrind, whose threads
                        // take turns, the posters could otherwise queue
                        // millions of functions before the loop's thread
                        // runs once. Dropping the loop drops the backlog
                        // (or closes the door), so this wait ends.
                        while fate.outstanding() >= MAX_OUTSTANDING && !remote.is_closed() {
                            thread::yield_now();
                        }
                        fate.made.fetch_add(1, Ordering::SeqCst);
                        let probe = Probe(fate.clone());
                        let r = remote.post(move |_| {
                            probe.0.ran.fetch_add(1, Ordering::SeqCst);
                        });
                        match r {
                            Ok(()) => fate.accepted.fetch_add(1, Ordering::SeqCst),
                            Err(Error::Closed) => break,
                            Err(e) => panic!("post: {e}"),
                        };
                    }
                    assert!(remote.is_closed());
                    assert_eq!(remote.post(|_| {}), Err(Error::Closed), "closed for good");
                })
            })
            .collect();
        let writer = Zmq::new(&lp, socket(&ctx, zmq::PUSH)).expect("PUSH");
        let sender = writer.sender(4).expect("sender");
        let sending = {
            let start = start.clone();
            spawn_peer("sender", move || {
                start.wait();
                loop {
                    if let Err(e) = sender.send("x") {
                        return e;
                    }
                }
            })
        };
        start.wait();
        // Let the loop run some of the posts (a different number each
        // round, as the threads go), then drop it under the threads.
        run_until(&lp, limit(), "a few posted functions to run", || {
            fate.ran.load(Ordering::SeqCst) >= threads
        });
        drop(lp);
        let ran_at_drop = fate.ran.load(Ordering::SeqCst);
        for poster in posters {
            poster.join(limit());
        }
        assert_eq!(
            sending.join(limit()),
            Error::Closed,
            "round {round}: the blocked sender was released with Err(Closed)"
        );
        assert!(writer.is_closed());
        let made = fate.made.load(Ordering::SeqCst);
        let ran = fate.ran.load(Ordering::SeqCst);
        assert_eq!(
            ran, ran_at_drop,
            "round {round}: something ran after the loop went"
        );
        assert!(ran <= fate.accepted.load(Ordering::SeqCst));
        assert_eq!(
            fate.dropped.load(Ordering::SeqCst),
            made,
            "round {round}: every posted function was dropped, run or not"
        );
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
