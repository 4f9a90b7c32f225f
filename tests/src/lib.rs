//! Shared helpers of the integration and property tests.
#![forbid(unsafe_code)]

pub mod cross_thread;
pub mod mock_chaos;
pub mod mock_harness;
pub mod mock_poll;
pub mod mock_stream;
pub mod netns;
pub mod peer_line;
pub mod peer_proc;
pub mod real;
pub mod real_async;
pub mod scenario;
pub mod scenario_mock;
pub mod scenario_real;
