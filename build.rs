//! Compiles `proto/` in pure Rust (protox), so a fresh machine needs no
//! system `protoc`. Also writes the encoded descriptor set that server
//! reflection serves, so `grpcurl` works without the .proto files.

use std::path::PathBuf;

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
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
