//! `Remote` on the real backends: functions posted from other threads run
//! once each, on the loop's thread, in each thread's order; pending posts
//! are work for `run(Default)`; a `Remote` alone keeps nothing alive; a
//! panic in a posted function resumes from `run`; and posts racing with the
//! loop's drop are refused or dropped uncalled, never run after it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use tests::real::{LIMIT, Watchdog, limit, spawn_peer};
use uzmq::{Error, Loop, Remote, RunMode};

/// Moved into a posted function: counts it when dropped without running.
struct Uncalled {
    dropped: Arc<AtomicUsize>,
    ran: bool,
}

impl Uncalled {
    fn new(dropped: &Arc<AtomicUsize>) -> Uncalled {
        Uncalled {
            dropped: dropped.clone(),
            ran: false,
        }
    }
}

impl Drop for Uncalled {
    fn drop(&mut self) {
        if !self.ran {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn remote_is_send_sync_clone_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Remote>();
    let lp = Loop::new().unwrap();
    let text = format!("{:?}", lp.remote());
    assert!(text.contains("closed: false"), "{text}");
}

#[test]
fn posts_from_four_threads_run_once_each_in_per_thread_order() {
    const THREADS: usize = 4;
    const POSTS: u32 = 10_000;
    let lp = Loop::new().unwrap();
    let loop_thread = thread::current().id();
    let log: Arc<Mutex<Vec<(usize, u32)>>> = Arc::default();
    let wrong_thread = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let remote = lp.remote();
            let log = log.clone();
            let wrong_thread = wrong_thread.clone();
            spawn_peer(&format!("poster {t}"), move || {
                for seq in 0..POSTS {
                    let log = log.clone();
                    let wrong_thread = wrong_thread.clone();
                    remote
                        .post(move |_| {
                            if thread::current().id() != loop_thread {
                                wrong_thread.store(true, Ordering::SeqCst);
                            }
                            log.lock().unwrap().push((t, seq));
                        })
                        .expect("the loop is alive");
                }
            })
        })
        .collect();
    // The loop has no handle of its own: while producers post, it runs what
    // arrived; once they are done, what is left is still pending work.
    let expected = THREADS * POSTS as usize;
    let dog = Watchdog::start(&lp, limit(), "every post to run");
    while log.lock().unwrap().len() < expected && !dog.fired() {
        lp.run(RunMode::Once).unwrap();
    }
    dog.check();
    drop(dog);
    for p in producers {
        p.join(LIMIT);
    }
    lp.run(RunMode::Default).unwrap();
    assert!(
        !wrong_thread.load(Ordering::SeqCst),
        "a post ran off the loop thread"
    );
    let log = log.lock().unwrap();
    assert_eq!(log.len(), expected, "each post runs exactly once");
    for t in 0..THREADS {
        let seqs: Vec<u32> = log.iter().filter(|e| e.0 == t).map(|e| e.1).collect();
        assert_eq!(seqs, (0..POSTS).collect::<Vec<_>>(), "thread {t}'s order");
    }
}

#[test]
fn pending_posts_are_work_for_run_default_and_never_run_inside_post() {
    let lp = Loop::new().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    lp.remote()
        .post(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "post ran its function inside the call"
    );
    assert!(lp.alive(), "a pending post is work");
    assert!(!lp.run(RunMode::Default).unwrap());
    assert_eq!(ran.load(Ordering::SeqCst), 1);
    assert!(!lp.alive());
}

#[test]
fn a_remote_alone_keeps_nothing_alive_and_wakes_a_sleeping_loop() {
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    // Nothing pending: `run` returns at once, although the Remote exists.
    assert!(!lp.alive());
    assert!(!lp.run(RunMode::Default).unwrap());

    // A loop blocked in the kernel (a long timer keeps it alive) wakes
    // for a post from another thread, which then stops it.
    let timer = uzmq::Timer::new(&lp).unwrap();
    timer
        .start(LIMIT, std::time::Duration::ZERO, |_| {
            panic!("the post did not wake the loop")
        })
        .unwrap();
    let ready = Arc::new(Barrier::new(2));
    let r = ready.clone();
    let poster = spawn_peer("poster", move || {
        r.wait();
        remote.post(|lp| lp.stop()).expect("loop alive");
    });
    ready.wait();
    lp.run(RunMode::Default).unwrap();
    poster.join(LIMIT);
    timer.close();
    lp.run(RunMode::Default).unwrap();
}

#[test]
fn a_panic_in_a_posted_function_resumes_from_run_and_the_rest_runs_later() {
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    let ran = Arc::new(AtomicUsize::new(0));
    remote.post(|_| panic!("posted panic")).unwrap();
    let r = ran.clone();
    remote
        .post(move |_| {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.run(RunMode::Default)));
    let payload = caught.expect_err("the panic resumes from run");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"posted panic"));
    // The loop stays usable, and the post behind the panicking one runs.
    lp.run(RunMode::Default).unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[test]
fn posts_after_the_loop_is_gone_are_refused_and_dropped_uncalled() {
    let lp = Loop::new().unwrap();
    let remote = lp.remote();
    let dropped = Arc::new(AtomicUsize::new(0));
    let token = Uncalled::new(&dropped);
    remote
        .post(move |_| {
            let _token = token;
            panic!("ran after the loop was gone");
        })
        .unwrap();
    drop(lp);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "a pending post is dropped with its loop"
    );
    assert!(remote.is_closed());
    let token = Uncalled::new(&dropped);
    let refused = remote.post(move |_| {
        let _token = token;
        panic!("ran after the loop was gone");
    });
    assert!(matches!(refused, Err(Error::Closed)), "{refused:?}");
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        2,
        "a refused function is dropped"
    );
}

/// Threads post as fast as they can while the loop runs a little and is
/// dropped: each post is refused, or runs once before the drop, or is
/// dropped uncalled with the loop. Repeated, so that the drop lands at
/// every point of a post (valgrind's leakcheck runs it too).
#[test]
fn posts_racing_with_the_loops_drop() {
    const THREADS: usize = 4;
    let rounds = if tests::real::under_valgrind() {
        5
    } else {
        100
    };
    for round in 0..rounds {
        let lp = Loop::new().unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let gone = Arc::new(AtomicBool::new(false));
        let start = Arc::new(Barrier::new(THREADS + 1));
        let producers: Vec<_> = (0..THREADS)
            .map(|t| {
                let remote = lp.remote();
                let (ran, dropped, gone, start) =
                    (ran.clone(), dropped.clone(), gone.clone(), start.clone());
                spawn_peer(&format!("racer {t}"), move || {
                    start.wait();
                    let (mut ok, mut refused) = (0usize, 0usize);
                    // Until refused, and a bounded number of times.
                    for _ in 0..1_000_000 {
                        let token = Uncalled::new(&dropped);
                        let (ran, gone) = (ran.clone(), gone.clone());
                        let result = remote.post(move |_| {
                            let mut token = token;
                            token.ran = true;
                            assert!(!gone.load(Ordering::SeqCst), "ran after the drop");
                            ran.fetch_add(1, Ordering::SeqCst);
                        });
                        match result {
                            Ok(()) => ok += 1,
                            Err(Error::Closed) => {
                                refused += 1;
                                break;
                            }
                            Err(e) => panic!("unexpected post error {e:?}"),
                        }
                    }
                    (ok, refused)
                })
            })
            .collect();
        start.wait();
        // Let some posts run, then go.
        for _ in 0..round % 5 {
            lp.run(RunMode::NoWait).unwrap();
        }
        gone.store(true, Ordering::SeqCst);
        drop(lp);
        let (mut ok, mut refused) = (0, 0);
        for p in producers {
            let (o, r) = p.join(LIMIT);
            ok += o;
            refused += r;
        }
        assert_eq!(refused, THREADS, "round {round}: every thread ends refused");
        let ran = ran.load(Ordering::SeqCst);
        let dropped = dropped.load(Ordering::SeqCst);
        // Each refused post's function was dropped too.
        assert_eq!(
            ran + dropped,
            ok + refused,
            "round {round}: {ok} posted, {refused} refused: {ran} ran, {dropped} dropped"
        );
    }
}
