//! Static analysis of SUIT command sequences (draft-ietf-suit-manifest §6.4 abstract machine,
//! §8.4.6 command sequences, §8.4.8 parameters, §8.4.9 conditions, §8.4.10 directives).
//!
//! The verifier does not fetch or install; it walks every sequence the way the abstract machine
//! would, with parameters per component, and records what a device is asked to check: the
//! vendor and class identifiers each identifier condition compares, and the digest, size and
//! slot each image-match condition demands. Which `try-each` alternative succeeds depends on the
//! device, so each alternative is followed as its own branch (at most [`MAX_BRANCHES`]).
//!
//! Implemented: conditions vendor (1), class (2), image-match (3), component-slot (5);
//! directives set-component-index (12), try-each (15), override-parameters (20), fetch (21),
//! copy (22), invoke (23), run-sequence (32); parameters vendor (1), class (2), image-digest
//! (3), component-slot (5), image-size (14), uri (21), source-component (22). Everything else,
//! custom commands and parameters included, is refused rather than skipped. Recursion
//! (`try-each`, `run-sequence`) is bounded by [`MAX_NESTING`].

use heapless::Vec;

use crate::canonical_cbor::{CanonicalDecoder, CborError};
use crate::suit::envelope::{MAX_ENVELOPE_SIZE, decode_digest};
use crate::suit::error::SuitError;

/// Most components one manifest may list.
pub const MAX_COMPONENTS: usize = 4;
/// Most distinct images one component may be matched against (over all branches).
pub const MAX_IMAGES: usize = 4;
/// Most branches `try-each` may open at once.
pub const MAX_BRANCHES: usize = 4;
/// Deepest nesting of `try-each` and `run-sequence`.
pub const MAX_NESTING: usize = 3;
/// Most items (command identifiers plus arguments) in one sequence.
pub const MAX_SEQUENCE_ITEMS: usize = 64;
/// Most parameters one override-parameters directive may set.
pub const MAX_PARAMETERS: usize = 16;
/// Longest URI parameter, in bytes.
pub const MAX_URI_LEN: usize = 256;
const MAX_DIGEST_LEN: usize = 48;
/// Reporting policies use four bits (§8.4.7).
const MAX_REPORTING_POLICY: u64 = 0b1111;

/// Command identifiers (§11.4).
mod command {
    pub(super) const VENDOR_IDENTIFIER: i64 = 1;
    pub(super) const CLASS_IDENTIFIER: i64 = 2;
    pub(super) const IMAGE_MATCH: i64 = 3;
    pub(super) const COMPONENT_SLOT: i64 = 5;
    pub(super) const SET_COMPONENT_INDEX: i64 = 12;
    pub(super) const TRY_EACH: i64 = 15;
    pub(super) const OVERRIDE_PARAMETERS: i64 = 20;
    pub(super) const FETCH: i64 = 21;
    pub(super) const COPY: i64 = 22;
    pub(super) const INVOKE: i64 = 23;
    pub(super) const RUN_SEQUENCE: i64 = 32;
}

/// Parameter identifiers (§11.5).
mod parameter {
    pub(super) const VENDOR_IDENTIFIER: i64 = 1;
    pub(super) const CLASS_IDENTIFIER: i64 = 2;
    pub(super) const IMAGE_DIGEST: i64 = 3;
    pub(super) const COMPONENT_SLOT: i64 = 5;
    pub(super) const IMAGE_SIZE: i64 = 14;
    pub(super) const URI: i64 = 21;
    pub(super) const SOURCE_COMPONENT: i64 = 22;
}

/// An image a component is required to match (a `condition-image-match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuitImage {
    /// SHA-256 of the image.
    pub digest: [u8; 32],
    /// Image size in bytes, when the manifest sets it.
    pub size: Option<u64>,
    /// The component slot the image is for, when the manifest names one (A/B images).
    pub slot: Option<u64>,
}

/// What the sequences ask a device to check for one component.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct ComponentChecks {
    /// The vendor identifier a vendor condition compares, if any.
    pub vendor_id: Option<[u8; 16]>,
    /// The class identifier a class condition compares, if any.
    pub class_id: Option<[u8; 16]>,
    /// The images an image-match condition demands, in first-seen order, without repeats.
    pub images: Vec<SuitImage, MAX_IMAGES>,
}

/// Which sequence is being walked: the shared sequence may only set parameters, select
/// components and check conditions (§8.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Shared,
    Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Parameters {
    vendor: Option<[u8; 16]>,
    class: Option<[u8; 16]>,
    digest: Option<[u8; 32]>,
    size: Option<u64>,
    slot: Option<u64>,
    uri: bool,
    source: Option<u64>,
}

/// One state of the abstract machine: the selected components and every component's
/// parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MachineState {
    selected: u8,
    params: [Parameters; MAX_COMPONENTS],
    /// The slot each component is in on the devices this branch describes, once a
    /// component-slot condition passed: later slot conditions must agree, or the branch is a
    /// device state that cannot occur.
    device_slot: [Option<u64>; MAX_COMPONENTS],
}

pub(crate) type Branches = Vec<MachineState, MAX_BRANCHES>;

/// The starting state: component 0 selected, no parameters.
pub(crate) fn initial_branches() -> Branches {
    let mut branches = Vec::new();
    let _ = branches.push(MachineState {
        selected: 1,
        params: [Parameters::default(); MAX_COMPONENTS],
        device_slot: [None; MAX_COMPONENTS],
    });
    branches
}

/// Walks sequences and accumulates what they check.
#[derive(Debug)]
pub(crate) struct Analysis {
    components: usize,
    pub(crate) checks: [ComponentChecks; MAX_COMPONENTS],
    pub(crate) vendor_checked_in_shared: bool,
    pub(crate) class_checked_in_shared: bool,
}

/// One parameter value from override-parameters.
#[derive(Debug, Clone, Copy)]
enum Parameter {
    Vendor([u8; 16]),
    Class([u8; 16]),
    Digest([u8; 32]),
    Size(u64),
    Slot(u64),
    Uri,
    Source(u64),
}

impl Analysis {
    pub(crate) fn new(components: usize) -> Self {
        Analysis {
            components,
            checks: Default::default(),
            vendor_checked_in_shared: false,
            class_checked_in_shared: false,
        }
    }

    /// Walks a top-level sequence from `start`; returns the branches it may end in.
    pub(crate) fn run_top(
        &mut self,
        sequence: &[u8],
        start: &Branches,
        mode: Mode,
    ) -> Result<Branches, SuitError> {
        // §6.2: with several components, every sequence selects one before anything else.
        if self.components > 1 {
            let mut d = CanonicalDecoder::new(sequence);
            d.array(MAX_SEQUENCE_ITEMS)?;
            if d.int()? != command::SET_COMPONENT_INDEX {
                return Err(SuitError::ComponentNotSelected);
            }
        }
        self.run(sequence, start.clone(), 0, mode)
    }

    fn run(
        &mut self,
        sequence: &[u8],
        mut branches: Branches,
        depth: usize,
        mode: Mode,
    ) -> Result<Branches, SuitError> {
        if depth > MAX_NESTING {
            return Err(SuitError::LimitExceeded {
                what: "command sequence nesting",
                cap: MAX_NESTING,
            });
        }
        let mut d = CanonicalDecoder::new(sequence);
        let offset = d.position();
        let items = d.array(MAX_SEQUENCE_ITEMS)?;
        if items == 0 || items % 2 != 0 {
            return Err(CborError::InvalidValue {
                offset,
                reason: "command sequence must hold command and argument pairs",
            }
            .into());
        }
        for _ in 0..items / 2 {
            let id = d.int()?;
            match id {
                command::VENDOR_IDENTIFIER | command::CLASS_IDENTIFIER => {
                    reporting_policy(&mut d)?;
                    self.identity_condition(id, &branches, mode)?;
                }
                command::IMAGE_MATCH => {
                    reporting_policy(&mut d)?;
                    self.image_match(&branches)?;
                }
                command::COMPONENT_SLOT => {
                    reporting_policy(&mut d)?;
                    require(&branches, id, parameter::COMPONENT_SLOT, |p| {
                        p.slot.is_some()
                    })?;
                    branches.retain_mut(|branch| self.slot_condition_holds(branch));
                    if branches.is_empty() {
                        return Err(SuitError::Unsatisfiable);
                    }
                }
                command::SET_COMPONENT_INDEX => {
                    let selected = self.component_index(&mut d)?;
                    for branch in branches.iter_mut() {
                        branch.selected = selected;
                    }
                }
                command::OVERRIDE_PARAMETERS => self.override_parameters(&mut d, &mut branches)?,
                command::TRY_EACH => {
                    branches = self.try_each(&mut d, &branches, depth, mode)?;
                }
                command::RUN_SEQUENCE => {
                    let inner = d.bytes(sequence.len())?;
                    branches = self.run(inner, branches, depth + 1, mode)?;
                }
                command::FETCH | command::COPY | command::INVOKE if mode == Mode::Command => {
                    reporting_policy(&mut d)?;
                    match id {
                        command::FETCH => {
                            require(&branches, id, parameter::URI, |p| p.uri)?;
                        }
                        command::COPY => {
                            require(&branches, id, parameter::SOURCE_COMPONENT, |p| {
                                p.source.is_some()
                            })?;
                        }
                        _ => {}
                    }
                }
                // Directives with side effects in the shared sequence, conditions and
                // directives not implemented here, custom commands: refused, never skipped.
                _ => return Err(SuitError::UnsupportedCommand { command: id }),
            }
        }
        d.finish()?;
        Ok(branches)
    }

    /// Whether the selected components can be in the slots the parameters name, given what
    /// the branch already assumes; records the assumption.
    fn slot_condition_holds(&self, branch: &mut MachineState) -> bool {
        for index in 0..self.components {
            if branch.selected & (1 << index) == 0 {
                continue;
            }
            let wanted = branch.params.get(index).and_then(|p| p.slot);
            let Some(assumed) = branch.device_slot.get_mut(index) else {
                return false;
            };
            match assumed {
                Some(slot) if Some(*slot) != wanted => return false,
                _ => *assumed = wanted,
            }
        }
        true
    }

    fn identity_condition(
        &mut self,
        id: i64,
        branches: &Branches,
        mode: Mode,
    ) -> Result<(), SuitError> {
        let vendor = id == command::VENDOR_IDENTIFIER;
        let (parameter, identifier) = if vendor {
            (parameter::VENDOR_IDENTIFIER, "vendor")
        } else {
            (parameter::CLASS_IDENTIFIER, "class")
        };
        for branch in branches {
            for (index, params) in selected(branch, self.components) {
                let value = if vendor { params.vendor } else { params.class };
                let value = value.ok_or(SuitError::MissingParameter {
                    command: id,
                    parameter,
                })?;
                let checks = self
                    .checks
                    .get_mut(index)
                    .ok_or(SuitError::ComponentIndex {
                        index: index as u64,
                    })?;
                let recorded = if vendor {
                    &mut checks.vendor_id
                } else {
                    &mut checks.class_id
                };
                match recorded {
                    Some(previous) if *previous != value => {
                        return Err(SuitError::ConflictingIdentity { index, identifier });
                    }
                    _ => *recorded = Some(value),
                }
            }
        }
        if mode == Mode::Shared {
            if vendor {
                self.vendor_checked_in_shared = true;
            } else {
                self.class_checked_in_shared = true;
            }
        }
        Ok(())
    }

    fn image_match(&mut self, branches: &Branches) -> Result<(), SuitError> {
        for branch in branches {
            for (index, params) in selected(branch, self.components) {
                let digest = params.digest.ok_or(SuitError::MissingParameter {
                    command: command::IMAGE_MATCH,
                    parameter: parameter::IMAGE_DIGEST,
                })?;
                let image = SuitImage {
                    digest,
                    size: params.size,
                    slot: params.slot,
                };
                let images = &mut self
                    .checks
                    .get_mut(index)
                    .ok_or(SuitError::ComponentIndex {
                        index: index as u64,
                    })?
                    .images;
                if !images.contains(&image) {
                    images.push(image).map_err(|_| SuitError::LimitExceeded {
                        what: "images per component",
                        cap: MAX_IMAGES,
                    })?;
                }
            }
        }
        Ok(())
    }

    /// `IndexArg /= uint / true / [+uint]` (§8.4.10.1), as a bit set of components.
    fn component_index(&self, d: &mut CanonicalDecoder<'_>) -> Result<u8, SuitError> {
        let bit = |index: u64| -> Result<u8, SuitError> {
            if index < self.components as u64 {
                Ok(1 << index)
            } else {
                Err(SuitError::ComponentIndex { index })
            }
        };
        let offset = d.position();
        match d.peek_major()? {
            0 => bit(d.uint()?),
            7 if d.bool()? => Ok(((1u16 << self.components) - 1) as u8),
            4 => {
                let count = d.array(self.components)?;
                let mut set = 0;
                for _ in 0..count {
                    set |= bit(d.uint()?)?;
                }
                if set == 0 {
                    return Err(CborError::InvalidValue {
                        offset,
                        reason: "empty component index list",
                    }
                    .into());
                }
                Ok(set)
            }
            _ => Err(CborError::InvalidValue {
                offset,
                reason: "component index must be uint, true or a list of uint",
            }
            .into()),
        }
    }

    fn override_parameters(
        &self,
        d: &mut CanonicalDecoder<'_>,
        branches: &mut Branches,
    ) -> Result<(), SuitError> {
        let offset = d.position();
        let mut keys = d.map(MAX_PARAMETERS)?;
        let mut any = false;
        while let Some((_, key)) = d.next_key(&mut keys)? {
            any = true;
            let value = match key {
                parameter::VENDOR_IDENTIFIER => Parameter::Vendor(d.byte_array()?),
                parameter::CLASS_IDENTIFIER => Parameter::Class(d.byte_array()?),
                parameter::IMAGE_DIGEST => {
                    Parameter::Digest(decode_digest(d.bytes(MAX_DIGEST_LEN)?)?)
                }
                parameter::COMPONENT_SLOT => Parameter::Slot(d.uint()?),
                parameter::IMAGE_SIZE => Parameter::Size(d.uint()?),
                parameter::URI => {
                    d.text(MAX_URI_LEN)?;
                    Parameter::Uri
                }
                parameter::SOURCE_COMPONENT => {
                    let index = d.uint()?;
                    if index >= self.components as u64 {
                        return Err(SuitError::ComponentIndex { index });
                    }
                    Parameter::Source(index)
                }
                _ => return Err(SuitError::UnsupportedParameter { parameter: key }),
            };
            for branch in branches.iter_mut() {
                let mask = branch.selected;
                for (index, params) in branch.params.iter_mut().enumerate() {
                    if mask & (1 << index) != 0 {
                        apply(params, value);
                    }
                }
            }
        }
        if !any {
            return Err(CborError::InvalidValue {
                offset,
                reason: "override-parameters sets no parameter",
            }
            .into());
        }
        Ok(())
    }

    /// `[2* bstr .cbor SUIT_Command_Sequence, ?nil]` (§8.4.10.2): every alternative is a
    /// branch; a trailing nil lets the device go on with none of them applied.
    fn try_each(
        &mut self,
        d: &mut CanonicalDecoder<'_>,
        branches: &Branches,
        depth: usize,
        mode: Mode,
    ) -> Result<Branches, SuitError> {
        let offset = d.position();
        let count = d.array(MAX_BRANCHES + 1)?;
        let mut out = Branches::new();
        let mut alternatives = 0;
        for position in 0..count {
            if position + 1 == count && d.next_is_null() {
                d.null()?;
                for branch in branches {
                    add_branch(&mut out, *branch)?;
                }
                continue;
            }
            let alternative = d.bytes(MAX_ENVELOPE_SIZE)?;
            alternatives += 1;
            for branch in self.run(alternative, branches.clone(), depth + 1, mode)? {
                add_branch(&mut out, branch)?;
            }
        }
        if alternatives < 2 {
            return Err(CborError::InvalidValue {
                offset,
                reason: "try-each needs at least two alternatives",
            }
            .into());
        }
        Ok(out)
    }
}

fn add_branch(out: &mut Branches, branch: MachineState) -> Result<(), SuitError> {
    if out.contains(&branch) {
        return Ok(());
    }
    out.push(branch).map_err(|_| SuitError::LimitExceeded {
        what: "try-each branches",
        cap: MAX_BRANCHES,
    })
}

fn apply(params: &mut Parameters, value: Parameter) {
    match value {
        Parameter::Vendor(v) => params.vendor = Some(v),
        Parameter::Class(v) => params.class = Some(v),
        Parameter::Digest(v) => params.digest = Some(v),
        Parameter::Size(v) => params.size = Some(v),
        Parameter::Slot(v) => params.slot = Some(v),
        Parameter::Uri => params.uri = true,
        Parameter::Source(v) => params.source = Some(v),
    }
}

/// The selected components of `branch`, with their parameters.
fn selected(
    branch: &MachineState,
    components: usize,
) -> impl Iterator<Item = (usize, &Parameters)> {
    branch
        .params
        .iter()
        .enumerate()
        .take(components)
        .filter(move |(index, _)| branch.selected & (1 << index) != 0)
}

/// Fails unless every selected component of every branch has the parameter `has` looks for.
fn require(
    branches: &Branches,
    command: i64,
    parameter: i64,
    has: impl Fn(&Parameters) -> bool,
) -> Result<(), SuitError> {
    let all = branches.iter().all(|branch| {
        branch
            .params
            .iter()
            .enumerate()
            .filter(|(index, _)| branch.selected & (1 << index) != 0)
            .all(|(_, p)| has(p))
    });
    if all {
        Ok(())
    } else {
        Err(SuitError::MissingParameter { command, parameter })
    }
}

/// `SUIT_Rep_Policy = uint .bits suit-reporting-bits` (§8.4.7). Reports are advisory: the
/// verifier sends none, but unknown bits are refused.
fn reporting_policy(d: &mut CanonicalDecoder<'_>) -> Result<(), SuitError> {
    d.uint_at_most(MAX_REPORTING_POLICY)?;
    Ok(())
}
