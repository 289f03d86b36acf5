//! A minimal ZIP writer for the Lambda package: stored entries (no compression), a central
//! directory and the end record (PKWARE APPNOTE 6.3), no ZIP64. Entries carry a fixed timestamp
//! (1980-01-01 00:00, the earliest DOS date), Unix permissions `rw-r--r--` and UTF-8 names, so the
//! same sources always give the same bytes, and so the same code hash.

use std::fmt;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// 2.0: the version that introduced folders and the one every reader accepts.
const VERSION: u16 = 20;
/// "Made by" a Unix host (high byte 3), so readers take the permissions from the external
/// attributes.
const VERSION_MADE_BY: u16 = (3 << 8) | VERSION;
/// Bit 11: names are UTF-8.
const FLAG_UTF8: u16 = 1 << 11;
const METHOD_STORED: u16 = 0;
const DOS_TIME: u16 = 0;
/// 1980-01-01: (year - 1980) << 9 | month << 5 | day.
const DOS_DATE: u16 = (1 << 5) | 1;
/// A regular file, `rw-r--r--`, in the high 16 bits.
const UNIX_FILE_ATTRIBUTES: u32 = 0o100_644 << 16;

/// What this writer cannot express without ZIP64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZipError {
    TooLarge(String),
    TooManyEntries(usize),
    NameTooLong(String),
}

impl fmt::Display for ZipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZipError::TooLarge(name) => write!(f, "{name}: the archive would exceed 4 GiB"),
            ZipError::TooManyEntries(n) => write!(f, "{n} entries: at most 65535 without ZIP64"),
            ZipError::NameTooLong(name) => write!(f, "{name}: name longer than 65535 bytes"),
        }
    }
}

impl std::error::Error for ZipError {}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as ZIP uses it.
pub fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut bit = 0;
            while bit < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                bit += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &byte in data {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

fn u16_le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32_le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The fields the local and the central header share, from "version needed" to the extra
/// field's length.
fn common_fields(out: &mut Vec<u8>, crc: u32, size: u32, name_len: u16) {
    u16_le(out, VERSION);
    u16_le(out, FLAG_UTF8);
    u16_le(out, METHOD_STORED);
    u16_le(out, DOS_TIME);
    u16_le(out, DOS_DATE);
    u32_le(out, crc);
    u32_le(out, size); // compressed size: stored, so the same
    u32_le(out, size);
    u16_le(out, name_len);
    u16_le(out, 0); // no extra field
}

/// An archive of `entries` (path inside the archive, contents), in the given order.
pub fn write_stored(entries: &[(&str, &[u8])]) -> Result<Vec<u8>, ZipError> {
    let count =
        u16::try_from(entries.len()).map_err(|_| ZipError::TooManyEntries(entries.len()))?;
    let offset_of = |len: usize, name: &str| {
        u32::try_from(len).map_err(|_| ZipError::TooLarge(name.to_owned()))
    };
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let name_len =
            u16::try_from(name.len()).map_err(|_| ZipError::NameTooLong((*name).to_owned()))?;
        let size = offset_of(data.len(), name)?;
        let offset = offset_of(out.len(), name)?;
        let crc = crc32(data);

        u32_le(&mut out, LOCAL_HEADER);
        common_fields(&mut out, crc, size, name_len);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        u32_le(&mut central, CENTRAL_HEADER);
        u16_le(&mut central, VERSION_MADE_BY);
        common_fields(&mut central, crc, size, name_len);
        u16_le(&mut central, 0); // no comment
        u16_le(&mut central, 0); // disk 0
        u16_le(&mut central, 0); // internal attributes: binary
        u32_le(&mut central, UNIX_FILE_ATTRIBUTES);
        u32_le(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = offset_of(out.len(), "central directory")?;
    let central_size = offset_of(central.len(), "central directory")?;
    out.extend_from_slice(&central);
    offset_of(out.len() + 22, "end record")?;
    u32_le(&mut out, END_OF_CENTRAL_DIRECTORY);
    u16_le(&mut out, 0); // this disk
    u16_le(&mut out, 0); // the disk the central directory starts on
    u16_le(&mut out, count);
    u16_le(&mut out, count);
    u32_le(&mut out, central_size);
    u32_le(&mut out, central_offset);
    u16_le(&mut out, 0); // no comment
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::process::Command;

    #[test]
    fn crc32_check_values() {
        for (data, crc) in [
            (&b""[..], 0x0000_0000),
            (b"a", 0xE8B7_BE43),
            (b"123456789", 0xCBF4_3926),
            (b"The quick brown fox jumps over the lazy dog", 0x414F_A339),
        ] {
            assert_eq!(crc32(data), crc, "{:?}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn layout_of_one_entry() {
        let zip = write_stored(&[("a.py", b"x = 1\n")]).unwrap();
        // local header (30) + name (4) + data (6) + central header (46) + name (4) + end (22)
        assert_eq!(zip.len(), 30 + 4 + 6 + 46 + 4 + 22);
        assert_eq!(&zip[..4], b"PK\x03\x04");
        assert_eq!(&zip[30..34], b"a.py");
        assert_eq!(&zip[34..40], b"x = 1\n");
        assert_eq!(&zip[40..44], b"PK\x01\x02");
        let end = &zip[zip.len() - 22..];
        assert_eq!(&end[..4], b"PK\x05\x06");
        assert_eq!(u16::from_le_bytes([end[10], end[11]]), 1);
        assert_eq!(
            u32::from_le_bytes([end[16], end[17], end[18], end[19]]),
            40,
            "central directory offset"
        );
    }

    #[test]
    fn the_same_entries_give_the_same_bytes() {
        let entries: [(&str, &[u8]); 2] = [("p/__init__.py", b""), ("p/m.py", b"def f(): pass\n")];
        assert_eq!(write_stored(&entries), write_stored(&entries));
        assert_ne!(
            write_stored(&entries).unwrap(),
            write_stored(&[entries[1], entries[0]]).unwrap()
        );
    }

    #[test]
    fn refuses_what_it_cannot_express() {
        let long = "n".repeat(70_000);
        assert_eq!(
            write_stored(&[(long.as_str(), b"")]),
            Err(ZipError::NameTooLong(long.clone()))
        );
        let many: Vec<(&str, &[u8])> = vec![("x", b""); 70_000];
        assert_eq!(write_stored(&many), Err(ZipError::TooManyEntries(70_000)));
    }

    fn python() -> PathBuf {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        if venv.exists() {
            venv
        } else {
            PathBuf::from("python3")
        }
    }

    /// Python's zipfile (what the Lambda tooling and the emulator use) reads the archive back:
    /// names, contents, CRCs, permissions, the stored method.
    #[test]
    fn python_zipfile_reads_it() {
        let entries: [(&str, &[u8]); 3] = [
            ("pkg/__init__.py", b""),
            ("pkg/mod.py", b"VALUE = 'd\xc3\xa9j\xc3\xa0 vu'\n"),
            ("pkg/sub/data.txt", &[0u8, 1, 2, 255, 254]),
        ];
        let zip = write_stored(&entries).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("package.zip");
        std::fs::write(&path, &zip).unwrap();
        let script = r#"
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None, "bad CRC"
    out = [{"name": i.filename, "data": list(z.read(i)), "method": i.compress_type,
            "mode": oct(i.external_attr >> 16), "system": i.create_system, "date": list(i.date_time)}
           for i in z.infolist()]
print(json.dumps(out))
"#;
        let run = Command::new(python())
            .args(["-c", script])
            .arg(&path)
            .output()
            .expect("running python");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let read: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        let read = read.as_array().unwrap();
        assert_eq!(read.len(), 3);
        for (entry, (name, data)) in read.iter().zip(entries) {
            assert_eq!(entry["name"], name);
            assert_eq!(entry["data"], serde_json::json!(data));
            assert_eq!(entry["method"], 0, "stored");
            assert_eq!(entry["mode"], "0o100644");
            assert_eq!(entry["system"], 3, "Unix");
            assert_eq!(entry["date"], serde_json::json!([1980, 1, 1, 0, 0, 0]));
        }
    }
}
