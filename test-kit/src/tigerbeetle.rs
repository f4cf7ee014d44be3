//! A real TigerBeetle cluster for tests: replicas formatted in a temporary directory and
//! started on free loopback ports, each a [`Service`] that can be killed and restarted on its
//! data file. The server binary is `$TIGERBEETLE_BIN`, else `tigerbeetle` on PATH
//! (`deploy/tigerbeetle/toolchain.sh server` builds it and prints its path).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::process::{Spec, find_binary};
use crate::{Service, free_port, try_run};

/// How long a replica may take to listen: 4 s quiet, up to 15 s on a loaded machine (it reads
/// its journal), and more when several replicas form a cluster.
const LISTENING_WITHIN: Duration = Duration::from_secs(90);

pub struct Cluster {
    pub replicas: Vec<Service>,
    pub addresses: String,
    pub cluster_id: u128,
    /// Holds the data files; removed when the cluster is dropped.
    _dir: TempDir,
}

impl Cluster {
    /// Formats and starts `count` replicas (1 or 3 in the tests) with `--development` (no
    /// Direct I/O or memory locking demands on the test machine), and waits until each listens.
    pub fn start(count: usize) -> Cluster {
        let binary = find_binary("tigerbeetle", "TIGERBEETLE_BIN").unwrap_or_else(|e| {
            panic!("{e}: deploy/tigerbeetle/toolchain.sh server builds it and prints its path")
        });
        let dir = TempDir::new();
        let addresses = (0..count)
            .map(|_| format!("127.0.0.1:{}", free_port()))
            .collect::<Vec<_>>()
            .join(",");
        let cluster_id = 0;
        let mut replicas = Vec::with_capacity(count);
        for replica in 0..count {
            let file = dir.0.join(format!("{cluster_id}_{replica}.tigerbeetle"));
            let mut format = Command::new(&binary);
            format.args([
                "format".to_string(),
                format!("--cluster={cluster_id}"),
                format!("--replica={replica}"),
                format!("--replica-count={count}"),
                "--development".to_string(),
                file.display().to_string(),
            ]);
            let formatted =
                try_run(format, Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(formatted.code, Some(0), "format: {}", formatted.stderr);
            let spec = Spec::new(&format!("tigerbeetle-{replica}"), &binary)
                .arg("start")
                .arg(format!("--addresses={addresses}"))
                .arg("--development")
                .arg(file.display().to_string())
                .env("PATH", "/usr/bin:/bin");
            replicas.push(Service::start_line(spec, "listening on", LISTENING_WITHIN));
        }
        Cluster {
            replicas,
            addresses,
            cluster_id,
            _dir: dir,
        }
    }

    /// SIGKILL replica `index` at once.
    pub fn kill(&mut self, index: usize) {
        self.replicas[index].kill();
    }

    /// Starts replica `index` again on its data file and waits until it listens.
    pub fn restart(&mut self, index: usize) {
        self.replicas[index].restart();
    }
}

/// A directory removed on drop (test-kit keeps no dependency for this).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("tigerbeetle-test-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
