//! Static checks of `deploy/` against the workspace: the image build's dependency layer copies
//! every member's manifest (cargo refuses to load a workspace with a member missing, and the
//! Compose test builds from host binaries, so only this check would notice before a real image
//! build). No process is started.

use std::path::Path;

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ is inside the workspace")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `members = [...]` of the root manifest.
fn workspace_members() -> Vec<String> {
    let manifest = repo_file("Cargo.toml");
    let start = manifest.find("members = [").expect("a members list");
    let list = &manifest[start..];
    let end = list.find(']').expect("the members list closes");
    list[..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

#[test]
fn the_image_build_copies_every_members_manifest() {
    let dockerfile = repo_file("deploy/docker/Dockerfile");
    let members = workspace_members();
    assert!(members.len() > 10, "members read: {members:?}");
    let missing: Vec<&String> = members
        .iter()
        .filter(|m| !dockerfile.contains(&format!("COPY {m}/Cargo.toml {m}/")))
        .collect();
    assert!(
        missing.is_empty(),
        "deploy/docker/Dockerfile does not copy these members' Cargo.toml: {missing:?}"
    );
}
