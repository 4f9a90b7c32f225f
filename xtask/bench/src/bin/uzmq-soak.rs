//! `uzmq-soak`: the workload behind `cargo xtask soak`; see
//! `uzmq_bench::soak`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    uzmq_bench::soak::main()
}
