//! Criterion: the per-message cost of the stream state machine
//! (`uzmq_core::StreamHandle`) on the deterministic mock backend, with no
//! libzmq and no libuv: a `MockPeer` delivers K messages, the loop runs
//! until it would block, the read callback counts them. `mock_socket_only`
//! is the same delivery drained straight from the mock socket, so the
//! difference is what the handle itself costs per message.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use uzmq_core::mock::{MockConfig, MockKind, MockReactor, mock_pair};
use uzmq_core::{EventLoop, Io, RunMode, Socket, StreamHandle};

const PAYLOAD: [u8; 64] = [0x5a; 64];

fn config() -> MockConfig {
    MockConfig {
        rcvhwm: 0,
        ..MockConfig::default()
    }
}

fn stream_read(c: &mut Criterion) {
    let mut group = c.benchmark_group("stream_mock");
    for k in [1u64, 100, 1000, 10_000] {
        group.throughput(Throughput::Elements(k));
        group.bench_with_input(BenchmarkId::new("stream_read", k), &k, |b, &k| {
            let lp = EventLoop::new(MockReactor::new(1));
            let (socket, peer) = mock_pair(MockKind::Pull, config(), 1);
            let h = StreamHandle::new(&lp, socket).expect("handle");
            let count = Rc::new(Cell::new(0u64));
            let counter = count.clone();
            h.start_read(move |_, msg| {
                black_box(msg.expect("message"));
                counter.set(counter.get() + 1);
            })
            .expect("start_read");
            b.iter(|| {
                let before = count.get();
                for _ in 0..k {
                    assert!(peer.send(&[&PAYLOAD]));
                }
                lp.run(RunMode::Default).expect("run");
                assert_eq!(count.get() - before, k);
            });
        });
        group.bench_with_input(BenchmarkId::new("mock_socket_only", k), &k, |b, &k| {
            let (socket, peer) = mock_pair(MockKind::Pull, config(), 1);
            let mut frame = zmq::Message::new();
            b.iter(|| {
                for _ in 0..k {
                    assert!(peer.send(&[&PAYLOAD]));
                }
                let mut got = 0;
                while got < k {
                    black_box(socket.events().expect("events"));
                    while let Io::Done(_more) = socket.recv_frame(&mut frame).expect("recv") {
                        got += 1;
                    }
                }
            });
        });
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    stream_read(&mut c);
    c.final_summary();
}
