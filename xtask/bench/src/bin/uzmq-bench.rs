//! `uzmq-bench`: the driver behind `cargo xtask bench [--quick]`; see
//! `uzmq_bench::driver`.

fn main() -> std::process::ExitCode {
    uzmq_bench::driver::main()
}
