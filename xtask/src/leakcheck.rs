//! `cargo xtask leakcheck`: builds the `lifecycle` integration test of package `tests` and runs it under valgrind, failing on errors and definite leaks.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::cmd::{self, Result};
use crate::prereq;

/// The package that holds the integration test run under valgrind.
pub const TEST_PACKAGE: &str = "tests";

/// The integration test target (`tests/tests/lifecycle.rs`) run under valgrind:
/// it creates, closes and drops handles and loops, so leaks show there.
pub const TEST_TARGET: &str = "lifecycle";

/// valgrind's options: a definite leak or any memory error fails the run.
const VALGRIND_ARGS: [&str; 3] = [
    "--leak-check=full",
    "--error-exitcode=1",
    "--errors-for-leak-kinds=definite",
];

/// Suppressions for known reports of third-party code, used when the file exists.
const SUPPRESSIONS: &str = "xtask/valgrind.supp";

/// The `leakcheck` command: prerequisites (valgrind included), then [`check`].
/// Arguments after `--` go to the test binary (a filter, for instance).
pub fn run(args: &[String]) -> Result {
    let test_args = match args {
        [] => &[][..],
        [dashes, rest @ ..] if dashes == "--" => rest,
        [other, ..] => {
            return Err(format!(
                "leakcheck: unexpected argument `{other}` (usage: cargo xtask leakcheck [-- <test binary args>])"
            ));
        }
    };
    prereq::ensure()?;
    prereq::ensure_valgrind()?;
    check(test_args)
}

/// Builds the leak-check test binary and runs it under valgrind with
/// `--test-threads=1` and `test_args`; fails on any valgrind error.
pub fn check(test_args: &[String]) -> Result {
    let executable = build()?;
    let root = cmd::workspace_root();
    let mut valgrind = Command::new("valgrind");
    valgrind.args(VALGRIND_ARGS);
    let suppressions = root.join(SUPPRESSIONS);
    if suppressions.is_file() {
        valgrind.arg(format!("--suppressions={}", suppressions.display()));
    }
    valgrind
        .arg(&executable)
        .arg("--test-threads=1")
        .args(test_args)
        // As `cargo test` runs it: from the package directory, with its manifest dir set.
        .current_dir(root.join(TEST_PACKAGE))
        .env("CARGO_MANIFEST_DIR", root.join(TEST_PACKAGE))
        .stdin(Stdio::null());
    cmd::run(&mut valgrind).map_err(|err| format!("leak check failed: {err}"))
}

/// Builds the test target and returns its executable.
fn build() -> Result<PathBuf> {
    let mut command = cmd::cargo();
    command.arg("test");
    build_test(command, TEST_PACKAGE, TEST_TARGET)
}

/// Builds the integration test `target` of `package` with `command`, a
/// `cargo test` command whose toolchain, flags and environment the caller
/// set, and returns the test's executable, read from cargo's JSON messages
/// (compiler diagnostics in them are printed as usual).
pub fn build_test(mut command: Command, package: &str, target: &str) -> Result<PathBuf> {
    command
        .args(["--package", package, "--test", target])
        .args(["--no-run", "--message-format=json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let shown = cmd::display(&command);
    eprintln!("$ {shown}");
    let mut child = command
        .spawn()
        .map_err(|err| format!("cannot run `{shown}`: {err}"))?;
    let mut executable = None;
    // Read as cargo goes, so that diagnostics show in order with its progress on stderr.
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|err| format!("reading the output of `{shown}`: {err}"))?;
            if let Some(rendered) = rendered_message(&line) {
                eprint!("{rendered}");
            }
            if let Some(path) = artifact_executable(&line, target) {
                executable = Some(PathBuf::from(path));
            }
        }
    }
    let status = child
        .wait()
        .map_err(|err| format!("waiting for `{shown}`: {err}"))?;
    if let Err(err) = cmd::check_status(&shown, status) {
        return Err(format!(
            "building the `{target}` test of package `{package}` failed: {err}{}",
            missing_target_hint(package, target)
        ));
    }
    executable.ok_or_else(|| {
        format!(
            "cargo built no executable for the `{target}` test of package `{package}`{}",
            missing_target_hint(package, target)
        )
    })
}

/// A hint when the test target's usual source file does not exist.
fn missing_target_hint(package: &str, target: &str) -> String {
    let source = format!("{package}/tests/{target}.rs");
    let dir = format!("{package}/tests/{target}/main.rs");
    let root = cmd::workspace_root();
    if root.join(&source).is_file() || root.join(&dir).is_file() {
        String::new()
    } else {
        format!(" (the test target `{target}` does not exist yet: there is no {source})")
    }
}

/// The human-readable text of a `compiler-message` line of cargo's JSON output.
fn rendered_message(line: &str) -> Option<String> {
    if !line.contains(r#""reason":"compiler-message""#) {
        return None;
    }
    string_field(line, "rendered")
}

/// The executable of a `compiler-artifact` line for the test target `target`.
fn artifact_executable(line: &str, target: &str) -> Option<String> {
    if !line.contains(r#""reason":"compiler-artifact""#) {
        return None;
    }
    let target_object = &line[line.find(r#""target":{"#)?..];
    let kinds = &target_object[target_object.find(r#""kind":["#)?..];
    let kinds = &kinds[..kinds.find(']')?];
    if !kinds.contains(r#""test""#) || string_field(target_object, "name")? != target {
        return None;
    }
    string_field(line, "executable")
}

/// The first string value of `"key":` in compact JSON text (`None` when the
/// key is absent or its value is not a string, such as `null`).
fn string_field(json: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":");
    let value = json[json.find(&pattern)? + pattern.len()..].trim_start();
    decode_string(value.strip_prefix('"')?)
}

/// Decodes a JSON string whose opening quote is already consumed, up to its closing quote.
fn decode_string(text: &str) -> Option<String> {
    let mut decoded = String::new();
    let mut chars = text.chars();
    loop {
        match chars.next()? {
            '"' => return Some(decoded),
            '\\' => match chars.next()? {
                'n' => decoded.push('\n'),
                't' => decoded.push('\t'),
                'r' => decoded.push('\r'),
                'b' => decoded.push('\u{8}'),
                'f' => decoded.push('\u{c}'),
                'u' => {
                    let unit = hex4(&mut chars)?;
                    let code = if (0xD800..0xDC00).contains(&unit) {
                        // A surrogate pair: `\uD83D\uDE00`.
                        if chars.next()? != '\\' || chars.next()? != 'u' {
                            return None;
                        }
                        let low = hex4(&mut chars)?;
                        0x10000 + ((unit - 0xD800) << 10) + (low.checked_sub(0xDC00)? & 0x3FF)
                    } else {
                        unit
                    };
                    decoded.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                other => decoded.push(other), // `\"`, `\\`, `\/`
            },
            c => decoded.push(c),
        }
    }
}

/// The next four hex digits of a `\u` escape.
fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    let digits: String = chars.take(4).collect();
    if digits.len() == 4 {
        u32::from_str_radix(&digits, 16).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARTIFACT: &str = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/tests#0.1.0","manifest_path":"/w/tests/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"lifecycle","src_path":"/w/tests/tests/lifecycle.rs","edition":"2024","doc":false,"doctest":false,"test":true},"profile":{"opt_level":"0","debuginfo":2,"debug_assertions":true,"overflow_checks":true,"test":true},"features":[],"filenames":["/w/target/debug/deps/lifecycle-0123abcd"],"executable":"/w/target/debug/deps/lifecycle-0123abcd","fresh":false}"#;

    #[test]
    fn finds_the_test_executable() {
        assert_eq!(
            artifact_executable(ARTIFACT, "lifecycle").as_deref(),
            Some("/w/target/debug/deps/lifecycle-0123abcd")
        );
        assert_eq!(artifact_executable(ARTIFACT, "other"), None);
    }

    #[test]
    fn ignores_libraries_and_other_kinds() {
        let lib = r#"{"reason":"compiler-artifact","package_id":"x","target":{"kind":["lib"],"crate_types":["lib"],"name":"lifecycle","src_path":"/w/src/lib.rs"},"filenames":["/w/libx.rlib"],"executable":null,"fresh":true}"#;
        assert_eq!(artifact_executable(lib, "lifecycle"), None);
        let bin = ARTIFACT.replace(r#""kind":["test"]"#, r#""kind":["bin"]"#);
        assert_eq!(artifact_executable(&bin, "lifecycle"), None);
        assert_eq!(
            artifact_executable(r#"{"reason":"build-finished","success":true}"#, "lifecycle"),
            None
        );
    }

    #[test]
    fn decodes_rendered_messages() {
        let line = r#"{"reason":"compiler-message","message":{"rendered":"warning: \"x\" unused\n  --> a\\b.rs \u00e9 \ud83d\ude00\n","level":"warning"}}"#;
        assert_eq!(
            rendered_message(line).as_deref(),
            Some("warning: \"x\" unused\n  --> a\\b.rs \u{e9} \u{1F600}\n")
        );
    }

    #[test]
    fn null_and_missing_fields_are_none() {
        assert_eq!(string_field(r#"{"executable":null}"#, "executable"), None);
        assert_eq!(string_field(r#"{"a":"b"}"#, "executable"), None);
        assert_eq!(string_field(r#"{"a":"unterminated"#, "a"), None);
    }
}
