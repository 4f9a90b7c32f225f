//! Scale on the real backends: more handles on one loop than a default
//! libzmq context has sockets for (1,023), through a `LargeContext`; each
//! handle gets its own messages, exactly once and in order.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use tests::real::{LIMIT, inproc, run_to_end, seq, seq_of};
use uzmq::{LargeContext, Loop, Zmq, zmq};

/// Past libzmq's default socket limit with the handles' sockets alone.
const HANDLES: usize = 1_100;
const PER_HANDLE: u64 = 3;

/// Raises the open-file limit to what `files` need (every libzmq socket
/// holds an eventfd), or fails saying how.
fn allow_files(files: u64) {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit(NOFILE)");
    assert!(
        hard >= files,
        "{files} open files needed, the hard limit is {hard}: raise it (ulimit -Hn)"
    );
    if soft < files {
        setrlimit(Resource::RLIMIT_NOFILE, files, hard).expect("setrlimit(NOFILE)");
    }
}

#[test]
fn more_handles_than_a_default_context_holds_each_get_their_messages_once_in_order() {
    allow_files(2 * HANDLES as u64 + 256);
    // Declared first, dropped last: its drop waits for every socket.
    let ctx = LargeContext::new(2 * HANDLES + 16).expect("a context for every socket");
    let lp = Loop::new().expect("loop");
    let got: Rc<Vec<RefCell<Vec<u64>>>> =
        Rc::new((0..HANDLES).map(|_| RefCell::default()).collect());
    let left = Rc::new(Cell::new(HANDLES as u64 * PER_HANDLE));
    let handles: Rc<RefCell<Vec<Zmq>>> = Rc::default();
    let mut pushes = Vec::with_capacity(HANDLES);
    for i in 0..HANDLES {
        let endpoint = inproc("many-handles");
        let pull = ctx.socket(zmq::PULL).expect("PULL socket");
        pull.bind(&endpoint).expect("bind");
        let push = ctx.socket(zmq::PUSH).expect("PUSH socket");
        push.set_linger(0).expect("ZMQ_LINGER");
        push.connect(&endpoint).expect("connect");
        pushes.push(push);
        let h = Zmq::new(&lp, pull).expect("handle");
        let (got, left, all) = (got.clone(), left.clone(), handles.clone());
        h.start_read(move |_, msg| {
            let msg = msg.expect("message");
            got[i].borrow_mut().push(seq_of(&msg[0]));
            left.set(left.get() - 1);
            if left.get() == 0 {
                // Taken out first: no borrow is held while they close.
                let all = std::mem::take(&mut *all.borrow_mut());
                for h in all {
                    h.close();
                }
            }
        })
        .expect("start_read");
        handles.borrow_mut().push(h);
    }
    for n in 0..PER_HANDLE {
        for push in &pushes {
            push.send(seq(n), 0).expect("send");
        }
    }
    run_to_end(&lp, LIMIT, "every handle's messages, then every close");
    assert_eq!(left.get(), 0, "messages still to come");
    for (i, got) in got.iter().enumerate() {
        assert_eq!(
            *got.borrow(),
            (0..PER_HANDLE).collect::<Vec<_>>(),
            "handle {i}'s messages"
        );
    }
    drop(lp);
    drop(pushes);
}
