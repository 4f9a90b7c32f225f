//! `uzmq-bench`: the driver behind `cargo xtask bench [--quick]`; see
//! `uzmq_bench::driver`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    uzmq_bench::driver::main()
}
