//! What the sampler reads about the process itself: its resident set size
//! (`VmRSS` of `/proc/self/status`) and its open file descriptors (the
//! entries of `/proc/self/fd`).

use std::fs;
use std::io;

/// The resident set size in KiB.
pub fn rss_kib() -> io::Result<u64> {
    parse_vm_rss(&fs::read_to_string("/proc/self/status")?).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "no VmRSS line in /proc/self/status",
        )
    })
}

/// The number of open file descriptors, not counting the one this count
/// opens to list them.
pub fn fd_count() -> io::Result<u64> {
    let entries = fs::read_dir("/proc/self/fd")?.count() as u64;
    Ok(entries.saturating_sub(1))
}

/// The value of the `VmRSS:  1234 kB` line.
fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|number| number.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_lines() {
        let status = "Name:\tx\nVmPeak:\t  9 kB\nVmRSS:\t    4242 kB\nThreads: 3\n";
        assert_eq!(parse_vm_rss(status), Some(4242));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn reads_this_process() {
        // Other tests open and close fds meanwhile: only the order of
        // magnitude can be asserted here.
        assert!(rss_kib().unwrap() > 0);
        assert!(fd_count().unwrap() > 0);
    }
}
