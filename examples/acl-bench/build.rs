//! Links Debian's libmosquitto (package `libmosquitto-dev`) for the side-by-side benchmark.
fn main() {
    println!("cargo:rustc-link-lib=mosquitto");
}
