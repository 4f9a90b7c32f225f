//! The mock side of [`crate::scenario`]: the deterministic loop and the
//! adversarial socket model, with small high-water marks, throttled
//! command processing and spurious signals drawn from the seed.

use uzmq_core::mock::{MockConfig, MockKind, MockPeer, MockReactor, MockSocket, mock_pair};
use uzmq_core::{EventLoop, RunMode};

use crate::scenario::{Backend, Msg, Pattern, Peer};

/// How many loop iterations a mock settle allows.
pub const MOCK_SETTLE_BOUND: usize = 100_000;

/// The mock backend for one seed.
#[derive(Debug)]
pub struct MockBackend {
    seed: u64,
    sockets: u64,
}

impl MockBackend {
    /// Everything random in the scenario is drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        MockBackend { seed, sockets: 0 }
    }
}

impl Peer for MockPeer {
    fn send(&self, msg: &[Vec<u8>]) -> bool {
        let parts: Vec<&[u8]> = msg.iter().map(Vec::as_slice).collect();
        MockPeer::send(self, &parts)
    }

    fn recv(&self) -> Option<Msg> {
        MockPeer::recv(self)
    }
}

impl Backend for MockBackend {
    type R = MockReactor;
    type S = MockSocket;
    type P = MockPeer;

    fn name(&self) -> String {
        format!(
            "mock backend (seed {}, replay with UZMQ_SEED={})",
            self.seed, self.seed
        )
    }

    fn new_loop(&mut self) -> EventLoop<MockReactor> {
        EventLoop::new(MockReactor::new(self.seed))
    }

    fn connect(&mut self, pattern: Pattern) -> (MockSocket, MockPeer) {
        let kind = match pattern {
            Pattern::Pair => MockKind::Pair,
            Pattern::Pull => MockKind::Pull,
            Pattern::Push => MockKind::Push,
            Pattern::Req => MockKind::Req,
            Pattern::Rep => MockKind::Rep,
        };
        self.sockets += 1;
        let s = self.seed.wrapping_add(self.sockets);
        let config = MockConfig {
            sndhwm: 2,
            rcvhwm: 2,
            send_throttle: (s % 5) as u32,
            send_process_per_mille: (s % 7 * 100) as u32,
            spurious_signal_per_mille: (s % 3 * 100) as u32,
            ..MockConfig::default()
        };
        mock_pair(kind, config, s)
    }

    fn settle(
        &mut self,
        lp: &EventLoop<MockReactor>,
        what: &str,
        done: &mut dyn FnMut() -> bool,
    ) -> Result<(), String> {
        for _ in 0..MOCK_SETTLE_BOUND {
            if done() {
                return Ok(());
            }
            lp.run(RunMode::NoWait)
                .map_err(|e| format!("{}: run: {e:?}", self.name()))?;
        }
        Err(format!(
            "{}: still waiting for {what} after {MOCK_SETTLE_BOUND} iterations",
            self.name()
        ))
    }
}
