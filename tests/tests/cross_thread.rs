//! Other threads reaching a loop, short: posts from 4 threads, `Sender`s on 4 threads (one channel each, and clones of one), and posts and a blocked `Sender` racing with the loop's drop. `cargo xtask racecheck` runs this file under valgrind's race detector: keep it short.

use tests::cross_thread::{posts_from_threads, posts_racing_with_drop, senders_from_threads};
use tests::real::under_valgrind;

/// The sizes: a few thousand messages, smaller under valgrind, which runs
/// one thread at a time and many times slower.
fn scale(plain: usize, valgrind: usize) -> usize {
    if under_valgrind() { valgrind } else { plain }
}

#[test]
fn posts_from_four_threads() {
    posts_from_threads(4, scale(2_000, 500));
}

#[test]
fn senders_on_four_threads_one_channel_each() {
    senders_from_threads(4, scale(2_500, 500) as u64, 16, false);
}

#[test]
fn clones_of_one_sender_on_four_threads() {
    senders_from_threads(4, scale(2_500, 500) as u64, 16, true);
}

#[test]
fn posts_and_a_blocked_sender_racing_with_the_loops_drop() {
    posts_racing_with_drop(scale(50, 5), 4);
}
