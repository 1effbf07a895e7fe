//! Compiles the control-plane protocol with protox (pure Rust): no protoc
//! is downloaded or needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(
        ["weft/mesh/v1/discovery.proto", "weft/mesh/v1/ca.proto"],
        ["proto"],
    )?;
    tonic_prost_build::configure()
        .build_transport(false)
        // Resource bodies as `Bytes`: a resource shared by many proxies'
        // views is sent to each without copying its body.
        .bytes(".weft.mesh.v1.Resource.body")
        .compile_fds(fds)?;
    Ok(())
}
