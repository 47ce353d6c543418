//! Files named on the command line (`--ca-file`, `--profile`, `recheck FILE`): regular files
//! only, and never more than a stated size, so `/dev/zero` or a FIFO is an error, not a hang.

use std::io::Read;
use std::path::Path;

/// Largest profile accepted (the embedded one is about 60 KiB).
pub const PROFILE_LIMIT: u64 = 4 << 20;
/// Largest PEM bundle accepted for `--ca-file` (a full OS store is under 1 MiB).
pub const PEM_LIMIT: u64 = 16 << 20;
/// Largest report or evidence file accepted by `recheck`.
pub const EVIDENCE_LIMIT: u64 = 512 << 20;

/// Reads `path` whole if it is a regular file of at most `limit` bytes.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{} is larger than {} MiB", path.display(), limit >> 20));
    }
    Ok(bytes)
}

/// [`read_limited`], as UTF-8 text.
pub fn read_text_limited(path: &Path, limit: u64) -> Result<String, String> {
    String::from_utf8(read_limited(path, limit)?).map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

/// The 1-based line of byte `offset` in `text`, for errors that name a file and line.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_directories_and_oversized_files() {
        assert!(read_limited(Path::new("/dev/zero"), 10).unwrap_err().contains("not a regular file"));
        assert!(read_limited(Path::new("/"), 10).unwrap_err().contains("not a regular file"));
        let dir = crate::testkit::TempDir::new("input").expect("temp dir");
        let path = dir.write("big", vec![b'x'; 100]).expect("write");
        assert!(read_limited(&path, 99).unwrap_err().contains("larger than"));
        assert_eq!(read_limited(&path, 100).expect("fits").len(), 100);
        let binary = dir.write("bin", [0xff, 0xfe]).expect("write");
        assert!(read_text_limited(&binary, 10).unwrap_err().contains("not UTF-8"));
    }
}
