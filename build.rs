//! Compiles `proto/` in pure Rust (protox), so a fresh machine needs no
//! system `protoc`. Also writes the encoded descriptor set that server
//! reflection serves, so `grpcurl` works without the .proto files, and
//! fingerprints the code that folds the log (see [`fold_fingerprint`]).

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/coopledger/v1/entry.proto",
        "proto/coopledger/v1/ledger.proto",
    ];
    for p in &protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("coopledger_descriptor.bin"), fds.encode_to_vec())?;
    println!(
        "cargo:rustc-env=COOPLEDGER_FOLD_FINGERPRINT={:016x}",
        fold_fingerprint()?
    );
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}

/// A fingerprint of every source file the folded state depends on (the
/// protobuf messages, the ledger's rules and state, settling distributions,
/// the scoring core, envelopes). A state snapshot names the fingerprint of
/// the build that wrote it, and a build with another one replays the log
/// instead of trusting a state folded by different code.
fn fold_fingerprint() -> Result<u64, Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    for dir in [
        "proto",
        "src/ledger",
        "src/payout",
        "src/scoring",
        "src/verify",
    ] {
        println!("cargo:rerun-if-changed={dir}");
        collect(Path::new(dir), &mut files)?;
    }
    files.sort();
    let mut hasher = std::hash::DefaultHasher::new();
    for file in files {
        file.hash(&mut hasher);
        std::fs::read(&file)?.hash(&mut hasher);
    }
    Ok(hasher.finish())
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}
