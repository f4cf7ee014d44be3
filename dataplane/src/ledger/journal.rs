//! The embedded ledger's files: an append-only journal of balance batches and a compacted
//! snapshot, both in `DATA_DIR/ledger/`.
//!
//! A batch holds the *absolute* balance of every account that changed since the previous
//! batch, so replaying is "last value wins" and never adds twice. On disk a batch is text an
//! operator can read:
//!
//! ```text
//! batch 17 2
//! alice 1500
//! bob -1500
//! end 17 3f2a9c0d1e5b7a44
//! ```
//!
//! The `end` line repeats the sequence number and carries the first 8 bytes (hex) of the
//! SHA-256 of the lines before it. A batch without a valid `end` is a write the process did
//! not finish (a crash mid-append); recovery stops there and truncates it away, so that batch's
//! changes are the only ones lost. Every append is followed by `fdatasync`; batches are written
//! by one flusher every few milliseconds, never once per packet.
//!
//! The snapshot is one batch with every account, written to a temporary file, synced and
//! renamed. Its sequence number says which journal batches it already covers: those are
//! skipped on replay, so a crash between writing the snapshot and emptying the journal cannot
//! roll a balance back.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

const JOURNAL: &str = "balances.journal";
const SNAPSHOT: &str = "balances.snapshot";

/// The journal is folded into a new snapshot once it grows past this. At ~30 bytes per
/// changed account, 4 MiB is about 140 000 account updates: replaying it takes milliseconds,
/// and a compaction of 1 000 accounts writes 30 KiB, so it stays rare and cheap.
pub const COMPACT_AFTER_BYTES: u64 = 4 * 1024 * 1024;

/// Balances by account id.
pub type Balances = BTreeMap<String, i128>;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The snapshot is written atomically, so a bad one is damage, not a crash: starting with
    /// zero balances would forget money, so the node refuses to start.
    #[error(
        "{path}: damaged ledger snapshot ({problem}); restore it from a backup or move it away to start from the journal alone"
    )]
    DamagedSnapshot { path: PathBuf, problem: String },
}

/// What opening the files found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub balances: Balances,
    /// Journal batches applied on top of the snapshot.
    pub batches_replayed: usize,
    /// Bytes of an unfinished last batch that were cut off.
    pub torn_bytes: u64,
}

/// The open journal, appended to by the flusher.
pub struct Journal {
    dir: PathBuf,
    file: File,
    /// Sequence number of the last batch written (or of the snapshot, if none since).
    sequence: u64,
    len: u64,
}

impl Journal {
    /// Opens (creating) the ledger directory, loads the snapshot, replays the journal on top,
    /// and cuts off an unfinished last batch so new batches follow a clean one.
    pub fn open(dir: &Path) -> Result<(Journal, Recovered), JournalError> {
        std::fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        let snapshot_path = dir.join(SNAPSHOT);
        let (mut balances, snapshot_sequence) = match std::fs::read(&snapshot_path) {
            Ok(bytes) => {
                let (batches, good) = parse_batches(&bytes);
                match batches.as_slice() {
                    [(sequence, balances)] if good == bytes.len() => (balances.clone(), *sequence),
                    _ => {
                        return Err(JournalError::DamagedSnapshot {
                            path: snapshot_path,
                            problem: format!(
                                "{} complete batches in {} bytes, expected exactly one",
                                batches.len(),
                                bytes.len()
                            ),
                        });
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (Balances::new(), 0),
            Err(source) => return Err(io_error(&snapshot_path, source)),
        };

        let journal_path = dir.join(JOURNAL);
        let bytes = match std::fs::read(&journal_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(source) => return Err(io_error(&journal_path, source)),
        };
        let (batches, good) = parse_batches(&bytes);
        let mut sequence = snapshot_sequence;
        let mut batches_replayed = 0;
        for (batch_sequence, changes) in batches {
            if batch_sequence <= snapshot_sequence {
                continue; // already in the snapshot
            }
            balances.extend(changes);
            sequence = batch_sequence;
            batches_replayed += 1;
        }

        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(|source| io_error(&journal_path, source))?;
        let good = good as u64;
        let torn_bytes = bytes.len() as u64 - good;
        if torn_bytes > 0 {
            file.set_len(good)
                .and_then(|()| file.sync_data())
                .map_err(|source| io_error(&journal_path, source))?;
        }
        sync_dir(dir)?;
        let journal = Journal {
            dir: dir.to_path_buf(),
            file,
            sequence,
            len: good,
        };
        Ok((
            journal,
            Recovered {
                balances,
                batches_replayed,
                torn_bytes,
            },
        ))
    }

    /// Appends one batch of changed balances and syncs it. Returns the bytes written.
    pub fn append(&mut self, changes: &Balances) -> Result<usize, JournalError> {
        let sequence = self.sequence + 1;
        let bytes = encode_batch(sequence, changes);
        let path = self.dir.join(JOURNAL);
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| io_error(&path, source))?;
        self.sequence = sequence;
        self.len += bytes.len() as u64;
        Ok(bytes.len())
    }

    pub fn needs_compaction(&self) -> bool {
        self.len >= COMPACT_AFTER_BYTES
    }

    /// Writes every balance as the new snapshot (covering every batch so far), then empties the
    /// journal.
    pub fn compact(&mut self, all: &Balances) -> Result<(), JournalError> {
        let path = self.dir.join(SNAPSHOT);
        let temporary = self.dir.join(format!("{SNAPSHOT}.tmp"));
        let bytes = encode_batch(self.sequence, all);
        File::create(&temporary)
            .and_then(|mut file| {
                file.write_all(&bytes)?;
                file.sync_all()
            })
            .map_err(|source| io_error(&temporary, source))?;
        std::fs::rename(&temporary, &path).map_err(|source| io_error(&path, source))?;
        sync_dir(&self.dir)?;
        let journal = self.dir.join(JOURNAL);
        self.file
            .set_len(0)
            .and_then(|()| self.file.sync_data())
            .map_err(|source| io_error(&journal, source))?;
        self.len = 0;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
impl Journal {
    /// Makes every later append fail, as a full or failed disk would.
    pub(crate) fn break_writes(&mut self) {
        self.file = File::open("/dev/null").expect("/dev/null opens read-only");
    }

    /// Undoes [`Journal::break_writes`].
    pub(crate) fn mend_writes(&mut self) {
        self.file = OpenOptions::new()
            .append(true)
            .open(self.dir.join(JOURNAL))
            .expect("the journal reopens");
    }
}

fn io_error(path: &Path, source: io::Error) -> JournalError {
    JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A rename or a new file is durable only once its directory is synced.
fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| io_error(dir, source))
}

fn encode_batch(sequence: u64, changes: &Balances) -> Vec<u8> {
    let mut text = format!("batch {sequence} {}\n", changes.len());
    for (account, balance) in changes {
        text.push_str(&format!("{account} {balance}\n"));
    }
    let check = checksum(text.as_bytes());
    text.push_str(&format!("end {sequence} {check}\n"));
    text.into_bytes()
}

fn checksum(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Every complete, intact batch from the start, and how many bytes they span. Parsing stops at
/// the first batch that is unfinished or does not check out.
fn parse_batches(bytes: &[u8]) -> (Vec<(u64, Balances)>, usize) {
    let mut batches = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        match parse_batch(&bytes[offset..]) {
            Some((sequence, balances, used)) => {
                batches.push((sequence, balances));
                offset += used;
            }
            None => break,
        }
    }
    (batches, offset)
}

/// One batch at the start of `bytes`: its sequence, balances and length, or `None` if it is
/// unfinished or damaged.
fn parse_batch(bytes: &[u8]) -> Option<(u64, Balances, usize)> {
    let mut lines = Lines { bytes, offset: 0 };
    let header = lines.next()?;
    let mut words = header.split(' ');
    if words.next()? != "batch" {
        return None;
    }
    let sequence: u64 = words.next()?.parse().ok()?;
    let count: usize = words.next()?.parse().ok()?;
    if words.next().is_some() {
        return None;
    }
    let mut balances = Balances::new();
    for _ in 0..count {
        let (account, balance) = lines.next()?.split_once(' ')?;
        balances.insert(account.to_string(), balance.parse().ok()?);
    }
    let body_end = lines.offset;
    let end = lines.next()?;
    let expected = format!("end {sequence} {}", checksum(&bytes[..body_end]));
    (end == expected).then_some((sequence, balances, lines.offset))
}

/// Complete (newline-terminated) UTF-8 lines; a last line without its newline is unfinished.
struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let rest = &self.bytes[self.offset..];
        let newline = rest.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(&rest[..newline]).ok()?;
        self.offset += newline + 1;
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn balances(pairs: &[(&str, i128)]) -> Balances {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn batches_replay_last_value_wins_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, recovered) = Journal::open(dir.path()).unwrap();
        assert_eq!(recovered, Recovered::default());
        journal
            .append(&balances(&[("alice", 10), ("bob", -10)]))
            .unwrap();
        journal.append(&balances(&[("alice", i128::MAX)])).unwrap();
        journal.append(&balances(&[("bob", i128::MIN)])).unwrap();
        drop(journal);
        let (_, recovered) = Journal::open(dir.path()).unwrap();
        assert_eq!(
            recovered.balances,
            balances(&[("alice", i128::MAX), ("bob", i128::MIN)])
        );
        assert_eq!(recovered.batches_replayed, 3);
        assert_eq!(recovered.torn_bytes, 0);
    }

    #[test]
    fn a_torn_last_batch_is_cut_off_at_every_length_and_appending_continues() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path()).unwrap();
        journal.append(&balances(&[("alice", 5)])).unwrap();
        drop(journal);
        let path = dir.path().join(JOURNAL);
        let good = std::fs::read(&path).unwrap();
        let last = encode_batch(2, &balances(&[("alice", 7), ("bob", 3)]));
        // Every prefix of the second batch short of its whole is a crash mid-append.
        for cut in 0..last.len() {
            let mut bytes = good.clone();
            bytes.extend_from_slice(&last[..cut]);
            std::fs::write(&path, &bytes).unwrap();
            let (mut journal, recovered) = Journal::open(dir.path()).unwrap();
            assert_eq!(recovered.balances, balances(&[("alice", 5)]), "cut {cut}");
            assert_eq!(recovered.torn_bytes, cut as u64);
            journal.append(&balances(&[("carol", 1)])).unwrap();
            drop(journal);
            let (_, recovered) = Journal::open(dir.path()).unwrap();
            assert_eq!(
                recovered.balances,
                balances(&[("alice", 5), ("carol", 1)]),
                "a batch after the cut is read: cut {cut}"
            );
            std::fs::write(&path, &good).unwrap();
        }
    }

    #[test]
    fn a_flipped_byte_stops_replay_at_that_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path()).unwrap();
        journal.append(&balances(&[("alice", 5)])).unwrap();
        let first_len = journal.len() as usize;
        journal.append(&balances(&[("alice", 6)])).unwrap();
        drop(journal);
        let path = dir.path().join(JOURNAL);
        let mut bytes = std::fs::read(&path).unwrap();
        // "alice 6" → "alice 8": the checksum no longer matches.
        let position = first_len + "batch 2 1\nalice ".len();
        bytes[position] = b'8';
        std::fs::write(&path, &bytes).unwrap();
        let (_, recovered) = Journal::open(dir.path()).unwrap();
        assert_eq!(recovered.balances, balances(&[("alice", 5)]));
        assert_eq!(recovered.torn_bytes, (bytes.len() - first_len) as u64);
    }

    #[test]
    fn compaction_keeps_every_balance_and_old_batches_never_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(dir.path()).unwrap();
        journal.append(&balances(&[("alice", 1)])).unwrap();
        let old_journal = std::fs::read(dir.path().join(JOURNAL)).unwrap();
        journal
            .append(&balances(&[("alice", 2), ("bob", 9)]))
            .unwrap();
        journal
            .compact(&balances(&[("alice", 2), ("bob", 9)]))
            .unwrap();
        assert!(journal.is_empty());
        journal.append(&balances(&[("bob", 10)])).unwrap();
        drop(journal);
        let (_, recovered) = Journal::open(dir.path()).unwrap();
        assert_eq!(recovered.balances, balances(&[("alice", 2), ("bob", 10)]));

        // A crash after the snapshot's rename but before the journal was emptied leaves old
        // batches beside a snapshot that covers them: they must not roll alice back to 1.
        std::fs::write(dir.path().join(JOURNAL), &old_journal).unwrap();
        let (_, recovered) = Journal::open(dir.path()).unwrap();
        assert_eq!(recovered.balances, balances(&[("alice", 2), ("bob", 9)]));
        assert_eq!(recovered.batches_replayed, 0);
    }

    #[test]
    fn a_damaged_snapshot_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SNAPSHOT), b"batch 3 1\nalice 5\nend 3 00\n").unwrap();
        let error = Journal::open(dir.path()).err().unwrap();
        assert!(
            matches!(error, JournalError::DamagedSnapshot { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("damaged ledger snapshot"));
    }
}
