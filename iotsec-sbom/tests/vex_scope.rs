#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! A VEX statement's purl designates a component only when its qualifiers are a subset of the
//! component's (go-vex): a statement for one distribution release or architecture does not
//! suppress findings of another build; a statement without qualifiers covers every build.

use iotsec_sbom::parse_sbom;
use iotsec_sbom::vex::ProductRef;

/// Whether `statement_purl` designates the one component of an SBOM whose purl is `component_purl`.
fn designates(statement_purl: &str, component_purl: &str) -> bool {
    let sbom = format!(
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,
        "components":[{{"type":"library","name":"openssl","purl":"{component_purl}"}}]}}"#
    );
    let sbom = parse_sbom(sbom.as_bytes()).unwrap();
    ProductRef::from_reference(statement_purl).designates(&sbom.components[0], &sbom)
}

const BOOKWORM_AMD64: &str = "pkg:deb/debian/openssl@3.0.11?arch=amd64&distro=debian-12";

#[test]
fn statement_qualifiers_must_be_on_the_component() {
    assert!(designates(
        "pkg:deb/debian/openssl@3.0.11?distro=debian-12",
        BOOKWORM_AMD64
    ));
    assert!(designates(
        "pkg:deb/debian/openssl@3.0.11?distro=debian-12&arch=amd64",
        BOOKWORM_AMD64
    ));
    assert!(designates(
        "pkg:deb/debian/openssl?arch=amd64",
        BOOKWORM_AMD64
    ));
}

#[test]
fn a_different_release_or_architecture_is_not_designated() {
    assert!(!designates(
        "pkg:deb/debian/openssl@3.0.11?distro=debian-11",
        BOOKWORM_AMD64
    ));
    assert!(!designates(
        "pkg:deb/debian/openssl@3.0.11?arch=arm64",
        BOOKWORM_AMD64
    ));
    assert!(!designates(
        "pkg:deb/debian/openssl@3.0.11?arch=amd64&distro=debian-11",
        BOOKWORM_AMD64
    ));
    // A qualifier the component does not carry at all is not implied.
    assert!(!designates(
        "pkg:deb/debian/openssl@3.0.11?distro=debian-12",
        "pkg:deb/debian/openssl@3.0.11"
    ));
}

#[test]
fn a_statement_without_qualifiers_covers_every_build() {
    assert!(designates("pkg:deb/debian/openssl@3.0.11", BOOKWORM_AMD64));
    assert!(designates("pkg:deb/debian/openssl", BOOKWORM_AMD64));
    assert!(!designates("pkg:deb/debian/openssl@3.0.10", BOOKWORM_AMD64));
}
