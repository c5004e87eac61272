//! Links the QEMU binaries (feature `qemu`: `firmware-qemu`, `firmware-wycheproof`,
//! `firmware-sha256`) with
//! cortex-m-rt's `link.x` and the mps2-an386 memory map. The size build (`firmware-verify`) is
//! linked as before.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=mps2-an386/memory.x");
    if std::env::var_os("CARGO_FEATURE_QEMU").is_some() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("mps2-an386");
        println!("cargo:rustc-link-search={}", dir.display());
        for bin in ["firmware-qemu", "firmware-wycheproof", "firmware-sha256"] {
            println!("cargo:rustc-link-arg-bin={bin}=-Tlink.x");
        }
    }
}
