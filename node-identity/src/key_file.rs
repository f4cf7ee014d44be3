//! A node key on disk: 64 hex characters (the 32-byte seed), created with mode 0600. The
//! control plane and the data plane of one node read the same file, so either may create it.

use std::path::Path;

use crate::NodeKey;

/// Reads a key file (64 hex characters, surrounding whitespace ignored).
pub fn load(path: &Path) -> Result<NodeKey, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{}: a node key is 64 hex characters",
            path.display()
        ));
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(NodeKey::from_bytes(&seed))
}

/// Loads the key at `path`, or creates one there (mode 0600) if there is none yet.
pub fn load_or_create(path: &Path) -> Result<NodeKey, String> {
    if path.exists() {
        return load(path);
    }
    let key = NodeKey::generate();
    let hex: String = key.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    match write_private(path, &format!("{hex}\n")) {
        Ok(()) => Ok(key),
        // Another process (the node's control plane or data plane) created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load(path),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_created_private_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("node-key-{}", std::process::id()));
        let path = dir.join("node.key");
        let _ = std::fs::remove_file(&path);
        let created = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = load_or_create(&path).unwrap();
        assert_eq!(created.to_bytes(), loaded.to_bytes());
        std::fs::write(&path, "zz").unwrap();
        assert!(load(&path).unwrap_err().contains("64 hex"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
