//! One scenario, two backends: the scenarios of
//! `tests::scenario` run on the mock backend (several seeds, or the one in
//! `UZMQ_SEED`) and on libuv + libzmq over `inproc://`, so the mock and the
//! real thing are held to the same observable behaviour.

use tests::scenario::{self, Backend, Pattern};
use tests::scenario_mock::MockBackend;
use tests::scenario_real::RealBackend;
use uzmq_core::mock::seed_from_env;

/// The mock seeds: the one in `UZMQ_SEED`, else 0..32.
fn seeds() -> Vec<u64> {
    match std::env::var_os(uzmq_core::mock::SEED_ENV) {
        Some(_) => vec![seed_from_env(0)],
        None => (0..32).collect(),
    }
}

fn on_mock(scenario: impl Fn(&mut MockBackend) -> Result<(), String>) {
    for seed in seeds() {
        if let Err(e) = scenario(&mut MockBackend::new(seed)) {
            panic!("{e}");
        }
    }
}

fn on_real(scenario: impl Fn(&mut RealBackend) -> Result<(), String>) {
    if let Err(e) = scenario(&mut RealBackend::default()) {
        panic!("{e}");
    }
}

/// A test per backend for one scenario.
macro_rules! both {
    ($name:ident, |$b:ident| $body:expr) => {
        mod $name {
            use super::*;

            fn run<B: Backend>($b: &mut B) -> Result<(), String> {
                $body
            }

            #[test]
            fn mock() {
                on_mock(|b| run(b));
            }

            #[test]
            fn real() {
                on_real(|b| run(b));
            }
        }
    };
}

both!(pair_in_order_delivery, |b| scenario::in_order_delivery(
    b,
    Pattern::Pair,
    200
));
both!(pull_in_order_delivery, |b| scenario::in_order_delivery(
    b,
    Pattern::Pull,
    200
));
both!(pair_queued_writes_complete_in_order, |b| {
    scenario::queued_writes_complete_in_order(b, Pattern::Pair, 200)
});
both!(push_queued_writes_complete_in_order, |b| {
    scenario::queued_writes_complete_in_order(b, Pattern::Push, 200)
});
both!(pair_stop_read_start_read_keeps_everything, |b| {
    scenario::stop_read_start_read_keeps_everything(b, Pattern::Pair, 100, 7)
});
both!(pull_stop_read_start_read_keeps_everything, |b| {
    scenario::stop_read_start_read_keeps_everything(b, Pattern::Pull, 100, 1)
});
both!(push_close_before_any_run_cancels_every_write, |b| {
    scenario::close_cancels_queued_writes(b, Pattern::Push, 20, false)
});
both!(pair_close_cancels_the_writes_still_queued, |b| {
    scenario::close_cancels_queued_writes(b, Pattern::Pair, 50, true)
});
both!(push_close_cancels_the_writes_still_queued, |b| {
    scenario::close_cancels_queued_writes(b, Pattern::Push, 50, true)
});
both!(req_second_write_waits_for_the_reply, |b| {
    scenario::req_second_write_waits_for_the_reply(b)
});
both!(rep_echo, |b| scenario::rep_echo(b, 50));
both!(sub_millisecond_repeat_keeps_firing, |b| {
    scenario::sub_millisecond_repeat_keeps_firing(b, 5)
});
