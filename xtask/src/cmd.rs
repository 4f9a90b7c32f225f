//! Running programs for the jobs: the workspace root, the cargo to use, `PATH` look-ups, and helpers that stream or capture a command's output.

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// What every job returns: the `Err` message is printed before xtask exits non-zero.
pub type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// A `cargo` command run from the workspace root, using the cargo that runs
/// xtask (`$CARGO`), else `cargo` from `PATH`.
pub fn cargo() -> Command {
    let program = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(workspace_root());
    command
}

/// Finds `program` like a shell does: a path when it contains a `/`, else
/// the first executable file of that name in `PATH`.
pub fn which(program: impl AsRef<OsStr>) -> Option<PathBuf> {
    let program = Path::new(program.as_ref());
    if program.components().count() > 1 {
        return is_executable(program).then(|| program.to_path_buf());
    }
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Prints `command`, runs it with the terminal's output (streamed), and
/// fails when it cannot start or exits unsuccessfully.
pub fn run(command: &mut Command) -> Result {
    let shown = display(command);
    eprintln!("$ {shown}");
    let status = command
        .status()
        .map_err(|err| format!("cannot run `{shown}`: {err}"))?;
    check_status(&shown, status)
}

/// Fails with a message naming `shown` unless `status` is a success.
pub fn check_status(shown: &str, status: ExitStatus) -> Result {
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` {}", describe(status)))
    }
}

/// Runs `command` silently (no stdin, output captured) and returns its
/// standard output when it succeeds; `None` when it cannot start or fails.
pub fn output(command: &mut Command) -> Option<String> {
    let out = command.stdin(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `command` silently and tells whether it succeeded.
pub fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `command` as a shell line: the environment it sets, the program, the arguments.
pub fn display(command: &Command) -> String {
    let env = command.get_envs().filter_map(|(key, value)| {
        value.map(|value| format!("{}={}", key.to_string_lossy(), quote(value)))
    });
    let program = Path::new(command.get_program());
    // Show `cargo` rather than the full path of `$CARGO`.
    let program = match program.file_name() {
        Some(name) if name == "cargo" => name.to_string_lossy().into_owned(),
        _ => program.to_string_lossy().into_owned(),
    };
    let args = command.get_args().map(quote);
    env.chain([program])
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("was killed ({status})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        let mut command = Command::new("cargo");
        command
            .env("RUSTDOCFLAGS", "-D warnings")
            .args(["doc", "--workspace"]);
        assert_eq!(
            display(&command),
            "RUSTDOCFLAGS='-D warnings' cargo doc --workspace"
        );
    }

    #[test]
    fn which_finds_sh_and_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("/bin/sh").is_some());
        assert!(which("surely-no-such-program-xtask").is_none());
    }
}
