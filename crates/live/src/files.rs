//! Reading the files a user names: a profile, its scenario files, a template.
//!
//! Every file is bounded before it is read: only regular files are opened (a FIFO with no
//! writer would block the open forever, `/dev/zero` never ends), and at most
//! [`MAX_FILE_BYTES`] + 1 bytes are read, so that a larger file is refused at the place
//! the limit is crossed instead of being held whole.

use std::io::Read;
use std::path::Path;

use iamc_core::load::{LoadError, Loaded, MAX_FILE_BYTES, ProfileSource, Refusal, decode_text};
use iamc_core::template::render::Target;

/// Reads a file the user named as text: a regular file of at most [`MAX_FILE_BYTES`]
/// bytes of UTF-8. Refused bytes come back as an error carrying a located [`Refusal`].
pub fn read_text(path: &Path) -> std::io::Result<String> {
    read_bounded(path, MAX_FILE_BYTES)
}

/// Reads a regular file of at most `limit` bytes of UTF-8 text, never more than
/// `limit + 1` bytes of it, and never opening what is not a regular file.
pub fn read_bounded(path: &Path, limit: usize) -> std::io::Result<String> {
    // Follows symbolic links, as opening does: a link to /dev/zero is a character device.
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let file = std::fs::File::open(path)?;
    // The path may have been replaced between the two calls: judge what was opened.
    let opened = file.metadata()?;
    if !opened.is_file() {
        return Err(not_regular(&opened));
    }
    let cap = usize::try_from(opened.len()).unwrap_or(limit).min(limit) + 1;
    let mut bytes = Vec::with_capacity(cap);
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    decode_text(bytes, limit).map_err(|r: Refusal| std::io::Error::new(std::io::ErrorKind::InvalidData, r))
}

fn not_regular(meta: &std::fs::Metadata) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("not a regular file ({}); expected a regular file of text", kind(meta)),
    )
}

/// What a non-regular file is, for the message.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

/// Loads a profile and its template from disk (or the embedded seed): the core's
/// [`iamc_core::load::load`] over [`read_text`].
pub fn load(source: &ProfileSource, template_override: Option<&Path>, target: &Target) -> Result<Loaded, LoadError> {
    iamc_core::load::load(source, template_override, target, &read_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(e: &std::io::Error) -> Option<&Refusal> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Refusal>())
    }

    #[test]
    fn reads_a_small_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, "a: 1\n").unwrap();
        assert_eq!(read_text(&path).unwrap(), "a: 1\n");
    }

    #[test]
    fn refuses_a_file_over_the_limit_where_it_is_crossed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, "ab\ncdefgh\n").unwrap();
        let e = read_bounded(&path, 5).unwrap_err();
        let r = refusal(&e).expect("a located refusal");
        assert_eq!((r.line, r.column), (2, 3), "{r}");
        assert!(read_bounded(&path, 10).is_ok(), "exactly the limit is allowed");
    }

    #[test]
    fn refuses_devices_directories_and_fifos_without_reading() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("not a regular file (a character device)"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let e = read_text(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a regular file (a directory)"), "{e}");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Would block forever if it were opened: there is no writer.
            let e = read_text(&fifo).unwrap_err();
            assert!(e.to_string().contains("not a regular file (a FIFO)"), "{e}");
        }
    }

    #[test]
    fn invalid_utf8_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, b"a: 1\nb: \xc3\xa9\xff\n").unwrap();
        let e = read_text(&path).unwrap_err();
        let r = refusal(&e).expect("a located refusal");
        assert_eq!((r.line, r.column), (2, 5), "{r}");
        assert!(r.message.contains("0xFF"), "{r}");
    }
}
