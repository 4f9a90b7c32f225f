//! Criterion: the per-message cost of uzmq on a real libuv loop and real
//! libzmq sockets, over `inproc://` (no TCP, no other process): K messages
//! of 64 B per iteration through a PUSH/PULL pair, in one thread.
//!
//! - `raw`: blocking `send` K times, then `recv` K times (the floor);
//! - `zmq_read`: raw `send`, then the loop runs until the `Zmq` handle's
//!   read callback has had all K;
//! - `zmqpoll_read`: the same through `ZmqPoll` (recv with `DONTWAIT` in
//!   the callback);
//! - `zmq_write`: K `Zmq::write`s, the loop runs until the last completes,
//!   then raw `recv` K times.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use uzmq::{Events, Loop, RunMode, Zmq, ZmqPoll, zmq};

const PAYLOAD: [u8; 64] = [0x5a; 64];

/// A connected inproc PUSH/PULL pair with room for `k` messages.
fn pair(ctx: &zmq::Context, name: &str, k: u64) -> (zmq::Socket, zmq::Socket) {
    let hwm = i32::try_from(k).unwrap_or(i32::MAX).max(1000);
    let pull = ctx.socket(zmq::PULL).expect("pull");
    pull.set_rcvhwm(hwm).expect("rcvhwm");
    pull.bind(&format!("inproc://{name}")).expect("bind");
    let push = ctx.socket(zmq::PUSH).expect("push");
    push.set_sndhwm(hwm).expect("sndhwm");
    push.connect(&format!("inproc://{name}")).expect("connect");
    (push, pull)
}

fn send_k(push: &zmq::Socket, k: u64) {
    for _ in 0..k {
        push.send(&PAYLOAD[..], 0).expect("send");
    }
}

fn recv_k(pull: &zmq::Socket, frame: &mut zmq::Message, k: u64) {
    for _ in 0..k {
        pull.recv(frame, 0).expect("recv");
        black_box(frame.len());
    }
}

fn inproc(c: &mut Criterion) {
    let ctx = zmq::Context::new();
    let mut group = c.benchmark_group("inproc_push_pull");
    for k in [100u64, 1000] {
        group.throughput(Throughput::Elements(k));
        // Criterion calls each routine several times (warm-up, samples):
        // the sockets and loops are made once, outside.
        let mut frame = zmq::Message::new();

        let (push, pull) = pair(&ctx, &format!("raw-{k}"), k);
        group.bench_function(BenchmarkId::new("raw", k), |b| {
            b.iter(|| {
                send_k(&push, k);
                recv_k(&pull, &mut frame, k);
            });
        });

        let (push, pull) = pair(&ctx, &format!("zmq-read-{k}"), k);
        let lp = Loop::new().expect("loop");
        let h = Zmq::new(&lp, pull).expect("handle");
        let count = Rc::new(Cell::new(0u64));
        let (counter, stopper) = (count.clone(), lp.clone());
        h.start_read(move |_, msg| {
            black_box(msg.expect("message"));
            counter.set(counter.get() + 1);
            if counter.get() % k == 0 {
                stopper.stop();
            }
        })
        .expect("start_read");
        group.bench_function(BenchmarkId::new("zmq_read", k), |b| {
            b.iter(|| {
                send_k(&push, k);
                lp.run(RunMode::Default).expect("run");
            });
        });
        assert!(count.get() > 0 && count.get() % k == 0);
        h.close();
        lp.run(RunMode::NoWait).expect("close");

        let (push, pull) = pair(&ctx, &format!("poll-read-{k}"), k);
        let lp = Loop::new().expect("loop");
        let h = ZmqPoll::new(&lp, pull).expect("handle");
        let count = Rc::new(Cell::new(0u64));
        let (counter, stopper) = (count.clone(), lp.clone());
        let mut poll_frame = zmq::Message::new();
        h.start(Events::READABLE, move |h, _events, err| {
            assert!(err.is_none());
            let socket = h.socket();
            for _ in 0..uzmq::DEFAULT_READ_BATCH {
                if socket.recv(&mut poll_frame, zmq::DONTWAIT).is_err() {
                    break;
                }
                counter.set(counter.get() + 1);
                if counter.get() % k == 0 {
                    stopper.stop();
                    break;
                }
            }
        })
        .expect("start");
        group.bench_function(BenchmarkId::new("zmqpoll_read", k), |b| {
            b.iter(|| {
                send_k(&push, k);
                lp.run(RunMode::Default).expect("run");
            });
        });
        assert!(count.get() > 0 && count.get() % k == 0);
        h.close();
        lp.run(RunMode::NoWait).expect("close");

        let (push, pull) = pair(&ctx, &format!("zmq-write-{k}"), k);
        let lp = Loop::new().expect("loop");
        let h = Zmq::new(&lp, push).expect("handle");
        group.bench_function(BenchmarkId::new("zmq_write", k), |b| {
            b.iter(|| {
                for _ in 1..k {
                    h.write(&PAYLOAD[..]).expect("write");
                }
                h.write_with([&PAYLOAD[..]], |h, result| {
                    result.expect("sent");
                    h.event_loop().expect("loop").stop();
                })
                .expect("write_with");
                lp.run(RunMode::Default).expect("run");
                recv_k(&pull, &mut frame, k);
            });
        });
        h.close();
        lp.run(RunMode::NoWait).expect("close");
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    inproc(&mut c);
    c.final_summary();
}
