//! The `package` step of `cargo xtask test`: checks that the library crates can be published, by packaging them together and building each package as crates.io would.

use crate::cmd::{self, Result};

/// The published crates, in dependency order.
pub const CRATES: [&str; 4] = ["uzmq-core", "uzmq-zmq", "uzmq-uv", "uzmq"];

/// `cargo package` of every crate in [`CRATES`] in one call, so that each
/// package's dependencies on its siblings resolve to the packages just made
/// (cargo puts them in a local registry under `target/package`) rather than
/// to crates.io, where they may not exist yet. The packages are verified:
/// each is unpacked and built on its own, which catches a file left out of
/// the package or a dependency declared only in the workspace; the
/// dependencies are already built by the earlier steps, so this takes
/// seconds. `--offline`: the earlier steps fetched every dependency, and
/// the only thing the network would add is the check whether this version
/// is already on crates.io. `--allow-dirty`: this checks the packages, it
/// publishes nothing, so uncommitted work is fine.
pub fn check() -> Result {
    forget_unpacked_siblings();
    forget_built_siblings();
    let mut command = cmd::cargo();
    command.args(["package", "--offline", "--allow-dirty"]);
    for name in CRATES {
        command.args(["--package", name]);
    }
    cmd::run(&mut command)
}

/// Removes the copies of our packages that earlier runs unpacked from
/// their local registry (`$CARGO_HOME/registry/src/-<hash>/uzmq-core-0.1.0`
/// and so on). Cargo reuses such a copy when the version is unchanged, so
/// without this the verification of one package builds against an older
/// copy of a sibling. Only local registries' directories (named with a
/// leading `-`) are touched; crates.io's are left alone.
fn forget_unpacked_siblings() {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return;
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return;
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(unpacked) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for dir in unpacked.flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            let ours = CRATES.iter().any(|c| {
                name.strip_prefix(c)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|v| v.starts_with(|ch: char| ch.is_ascii_digit()))
            });
            if ours {
                // A failure leaves the old copy: the verification says so.
                let _ = std::fs::remove_dir_all(dir.path());
            }
        }
    }
}

/// Removes the build fingerprints of our packages as built from their
/// local registry by earlier verifications (found by their dep-info files,
/// which name the unpacked sources). Cargo takes a registry package of an
/// unchanged version as unchanged, so it would link the verification of
/// one package against an older build of a sibling.
fn forget_built_siblings() {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| cmd::workspace_root().join("target"));
    let debug = target.join("debug");
    let Ok(deps) = std::fs::read_dir(debug.join("deps")) else {
        return;
    };
    for dep in deps.flatten() {
        let name = dep.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".d") else {
            continue;
        };
        let Some((krate, hash)) = stem.rsplit_once('-') else {
            continue;
        };
        let package = krate.replace('_', "-");
        if !CRATES.contains(&package.as_str()) {
            continue;
        }
        let from_local_registry =
            std::fs::read_to_string(dep.path()).is_ok_and(|text| text.contains("/registry/src/-"));
        if from_local_registry {
            let fingerprint = debug.join(".fingerprint").join(format!("{package}-{hash}"));
            // A failure leaves the old build: the verification says so.
            let _ = std::fs::remove_dir_all(fingerprint);
            let _ = std::fs::remove_file(dep.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CRATES;
    use crate::cmd;

    /// The workspace members named in the root manifest's `members = [...]`.
    fn members() -> Vec<String> {
        let root = std::fs::read_to_string(cmd::workspace_root().join("Cargo.toml"))
            .expect("read the root Cargo.toml");
        let list = root
            .lines()
            .find_map(|line| line.trim().strip_prefix("members = ["))
            .expect("a one-line `members = [...]` in the root Cargo.toml");
        let list = list.split(']').next().unwrap_or_default();
        list.split(',')
            .map(|m| m.trim().trim_matches('"').to_string())
            .filter(|m| !m.is_empty())
            .collect()
    }

    fn unpublished(member: &str) -> bool {
        let manifest = cmd::workspace_root().join(member).join("Cargo.toml");
        std::fs::read_to_string(&manifest)
            .unwrap_or_else(|err| panic!("read {}: {err}", manifest.display()))
            .lines()
            .any(|line| line.trim() == "publish = false")
    }

    /// Every member is either checked by the package step or marked
    /// `publish = false`, so a new library crate is not left out unnoticed.
    #[test]
    fn every_member_is_packaged_or_unpublished() {
        let members = members();
        assert!(members.len() > CRATES.len(), "members: {members:?}");
        for member in &members {
            let name = member.rsplit('/').next().unwrap_or(member);
            let packaged = CRATES.contains(&name);
            assert_ne!(
                packaged,
                unpublished(member),
                "workspace member `{member}`: either in package::CRATES or `publish = false`"
            );
        }
    }
}
