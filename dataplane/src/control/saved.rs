//! The last applied snapshot on disk (protobuf bytes, written atomically), so a data plane
//! restarted while its control plane is down serves what it served before.

use std::path::{Path, PathBuf};

use prost::Message;
use proto::grpc::v1 as pb;

const FILE: &str = "dataplane-snapshot.pb";

pub struct SavedSnapshot {
    pub snapshot: pb::Snapshot,
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

impl SavedSnapshot {
    pub fn load(dir: &Path) -> Result<Option<SavedSnapshot>, String> {
        let path = path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let snapshot = pb::Snapshot::decode(bytes.as_slice())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Some(SavedSnapshot { snapshot }))
    }

    /// Writes to a temporary file and renames it over the old one: a crash mid-write leaves
    /// the previous snapshot intact.
    pub fn save(dir: &Path, snapshot: &pb::Snapshot) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = path(dir);
        let temporary = dir.join(format!("{FILE}.tmp"));
        std::fs::write(&temporary, snapshot.encode_to_vec())
            .map_err(|e| format!("{}: {e}", temporary.display()))?;
        std::fs::rename(&temporary, &path).map_err(|e| format!("{}: {e}", path.display()))
    }
}
