//! Compiles the control-plane protocol, and the official OTLP trace schema
//! the proxies export spans with, with protox (pure Rust): no protoc is
//! downloaded or needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(
        [
            "weft/mesh/v1/discovery.proto",
            "weft/mesh/v1/ca.proto",
            "weft/mesh/v1/tap.proto",
            "opentelemetry/proto/collector/trace/v1/trace_service.proto",
        ],
        ["proto"],
    )?;
    // OTLP's comments indent examples, which rustdoc would run as
    // doctests; the .proto files are the documentation. (The builder's own
    // `disable_comments` does not reach `compile_fds`: it goes on the
    // prost config.)
    let mut prost = tonic_prost_build::Config::new();
    prost.disable_comments([".opentelemetry"]);
    tonic_prost_build::configure()
        .build_transport(false)
        // Resource bodies as `Bytes`: a resource shared by many proxies'
        // views is sent to each without copying its body.
        .bytes(".weft.mesh.v1.Resource.body")
        // `GET /api/v1/tap` writes tap events as JSON lines as they are.
        .type_attribute(
            ".weft.mesh.v1.TapEvent",
            "#[derive(serde::Serialize, serde::Deserialize)] #[serde(default)]",
        )
        .compile_fds_with_config(fds, prost)?;
    Ok(())
}
