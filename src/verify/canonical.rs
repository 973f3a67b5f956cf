//! One meaning per signed byte: the payload an author signs must be exactly
//! the standard protobuf encoding of the `Entry` it decodes to.
//!
//! Protobuf decoders are lenient in ways that let one byte string carry more
//! than one reading: a decoder skips unknown fields (a hidden second entry
//! rides along), keeps the last of two `oneof` bodies (another decoder may
//! keep the first, or refuse), merges a field that appears twice, and accepts
//! fields in any order and varints padded with extra bytes. A log is
//! evidence, so each signed payload must have one reading: on arrival the
//! entry is re-encoded and must give back the signed bytes exactly.
//!
//! When it does not, [`describe`] walks the signed bytes against the
//! schema compiled into the crate (the descriptor set generated from
//! `proto/`) to name the first offending field, so the author learns what
//! their encoder did differently. The walk is linear in the payload, bounded
//! in depth, allocates only per nested message, and never panics; what it
//! cannot name it reports as the offset of the first differing byte.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto, FileDescriptorSet};

use crate::pb;

/// The fully qualified protobuf name of the signed message.
const ENTRY: &str = ".coopledger.v1.Entry";

/// How deep the walk follows nested messages. An `Entry` nests four deep
/// at most; the bound only keeps a hostile payload from recursing far (prost
/// itself stops at 100).
const MAX_DEPTH: usize = 16;

/// `Ok` when `payload` is exactly the standard encoding of `entry` (the
/// message it decoded to); otherwise what differs, as precisely as the walk
/// can name it.
pub(crate) fn check(entry: &pb::Entry, payload: &[u8]) -> Result<(), String> {
    let canonical = entry.encode_to_vec();
    if canonical == payload {
        Ok(())
    } else {
        Err(describe(payload, &canonical))
    }
}

/// Names the first way `payload` departs from canonical form: an unknown
/// field, a second `oneof` body, a field that appears twice, fields out of
/// number order, a non-minimal varint, a value outside its type, or a
/// default value written out. Falls back to the first differing byte.
fn describe(payload: &[u8], canonical: &[u8]) -> String {
    let named = schema().and_then(|schema| {
        let entry = schema.messages.get(ENTRY)?;
        Walk { schema }.message(payload, entry, "entry", 0)
    });
    named.unwrap_or_else(|| {
        let at = payload
            .iter()
            .zip(canonical)
            .position(|(a, b)| a != b)
            .unwrap_or(payload.len().min(canonical.len()));
        format!(
            "it differs from the standard encoding of the entry it decodes to from byte {at} \
             ({} signed bytes, {} in the standard encoding)",
            payload.len(),
            canonical.len()
        )
    })
}

/// The crate's protobuf messages by fully qualified name, from the
/// descriptor set `build.rs` compiled from `proto/` (the same one server
/// reflection serves), so the walk can never disagree with the generated
/// types.
struct Schema {
    messages: HashMap<String, MessageSchema>,
}

/// One message type and whether its file is proto3 (where a scalar without
/// `optional` is never written at its default value).
struct MessageSchema {
    descriptor: DescriptorProto,
    proto3: bool,
}

/// The schema, decoded once; `None` only if the embedded descriptor set does
/// not decode, which a build makes impossible (then the fallback message is
/// used).
fn schema() -> Option<&'static Schema> {
    static SCHEMA: OnceLock<Option<Schema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).ok()?;
            let mut messages = HashMap::new();
            for file in set.file {
                let proto3 = file.syntax() == "proto3";
                let prefix = format!(".{}", file.package());
                for message in file.message_type {
                    add_message(&mut messages, &prefix, message, proto3);
                }
            }
            Some(Schema { messages })
        })
        .as_ref()
}

/// Registers a message and its nested types under their qualified names.
fn add_message(
    messages: &mut HashMap<String, MessageSchema>,
    prefix: &str,
    mut message: DescriptorProto,
    proto3: bool,
) {
    let name = format!("{prefix}.{}", message.name());
    for nested in std::mem::take(&mut message.nested_type) {
        add_message(messages, &name, nested, proto3);
    }
    messages.insert(
        name,
        MessageSchema {
            descriptor: message,
            proto3,
        },
    );
}

/// Protobuf wire types.
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

/// The wire type the standard encoder writes for a field (repeated scalars
/// are packed in proto3, so written as one length-delimited record).
fn expected_wire(field: &FieldDescriptorProto, proto3: bool) -> u64 {
    let scalar = match field.r#type() {
        Type::Double | Type::Fixed64 | Type::Sfixed64 => FIXED64,
        Type::Float | Type::Fixed32 | Type::Sfixed32 => FIXED32,
        Type::String | Type::Bytes | Type::Message => return LEN,
        Type::Group => 3,
        Type::Int32
        | Type::Int64
        | Type::Uint32
        | Type::Uint64
        | Type::Sint32
        | Type::Sint64
        | Type::Bool
        | Type::Enum => VARINT,
    };
    let packed = field
        .options
        .as_ref()
        .and_then(|o| o.packed)
        .unwrap_or(proto3);
    if field.label() == Label::Repeated && packed {
        LEN
    } else {
        scalar
    }
}

/// Whether the standard encoder leaves the field out at its default value
/// (proto3 implicit presence: a singular scalar, not `optional`, not in a
/// `oneof`).
fn implicit_presence(field: &FieldDescriptorProto, proto3: bool) -> bool {
    proto3
        && field.label() != Label::Repeated
        && field.oneof_index.is_none()
        && !field.proto3_optional()
        && !matches!(field.r#type(), Type::Message | Type::Group)
}

/// Whether a varint value survives the decode and re-encode of its type
/// unchanged (an `int32` is sign-extended to 64 bits, a `uint32` or
/// `sint32` is truncated to 32, a `bool` becomes 0 or 1); `Some(type)` when
/// it does not.
fn varint_out_of_range(field: &FieldDescriptorProto, v: u64) -> Option<&'static str> {
    match field.r#type() {
        Type::Int32 | Type::Enum => ((v as i32) as i64 as u64 != v).then_some(
            "int32 or enum value (a negative one is written sign-extended to 64 bits, in 10 bytes)",
        ),
        Type::Uint32 => (v > u64::from(u32::MAX)).then_some("uint32"),
        Type::Sint32 => (v > u64::from(u32::MAX)).then_some("sint32"),
        Type::Bool => (v > 1).then_some("bool (0 or 1)"),
        _ => None,
    }
}

/// `field N (name)`, how a message names a field.
fn label(field: &FieldDescriptorProto) -> String {
    format!("field {} ({})", field.number(), field.name())
}

/// A cursor over protobuf wire bytes; every read is bounds-checked and
/// `None` at a malformed spot.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A varint and whether it is minimal (no trailing `0x00` group, the
    /// padding a lenient decoder accepts).
    fn varint(&mut self) -> Option<(u64, bool)> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = *self.bytes.get(self.pos)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Some((value, i == 0 || byte != 0));
            }
        }
        None
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

/// The walk of signed bytes against the schema.
struct Walk {
    schema: &'static Schema,
}

impl Walk {
    /// The first problem in `bytes` read as `message` at `path` (`entry`,
    /// `entry.log_contribution.contribution`), or `None` if this walk finds
    /// none.
    fn message(
        &self,
        bytes: &[u8],
        message: &MessageSchema,
        path: &str,
        depth: usize,
    ) -> Option<String> {
        let descriptor = &message.descriptor;
        let mut r = Reader { bytes, pos: 0 };
        let mut previous: Option<&FieldDescriptorProto> = None;
        let mut seen = BTreeSet::new();
        let mut oneofs: BTreeMap<i32, &FieldDescriptorProto> = BTreeMap::new();
        while !r.done() {
            let Some((key, key_minimal)) = r.varint() else {
                return Some(format!("{path}: a field key that is not a varint"));
            };
            let (number, wire) = (key >> 3, key & 7);
            let Some(field) = descriptor
                .field
                .iter()
                .find(|f| u64::try_from(f.number()).ok() == Some(number))
            else {
                return Some(format!("unknown field {number} in {path}"));
            };
            let name = label(field);
            if !key_minimal {
                return Some(format!("non-minimal varint in the key of {name} in {path}"));
            }
            if let Some(index) = field.oneof_index.filter(|_| !field.proto3_optional()) {
                if let Some(first) = oneofs.get(&index).filter(|f| f.number() != field.number()) {
                    let oneof = usize::try_from(index)
                        .ok()
                        .and_then(|i| descriptor.oneof_decl.get(i))
                        .map_or("oneof member", |o| o.name());
                    return Some(format!(
                        "more than one {oneof} in {path}: {}, then {name}",
                        label(first)
                    ));
                }
                oneofs.insert(index, field);
            }
            let repeated = field.label() == Label::Repeated;
            let same_as_previous = previous.is_some_and(|p| p.number() == field.number());
            if !seen.insert(number) && (!repeated || !same_as_previous) {
                if !repeated {
                    return Some(format!("{name} appears twice in {path}"));
                }
                return Some(format!(
                    "the elements of repeated {name} in {path} are not written together"
                ));
            }
            if let Some(p) = previous.filter(|p| p.number() > field.number()) {
                return Some(format!(
                    "fields out of order in {path}: {name} after {} (fields go in field-number order)",
                    label(p)
                ));
            }
            let expected = expected_wire(field, message.proto3);
            if wire != expected {
                return Some(format!(
                    "{name} in {path} has wire type {wire}; the standard encoding uses {expected}"
                ));
            }
            if let Some(problem) = self.value(&mut r, field, message.proto3, &name, path, depth) {
                return Some(problem);
            }
            let packed = repeated
                && wire == LEN
                && !matches!(field.r#type(), Type::String | Type::Bytes | Type::Message);
            if packed && same_as_previous {
                // The standard encoder writes all of a packed field's
                // elements in one record.
                return Some(format!(
                    "packed {name} in {path} is split over more than one record"
                ));
            }
            previous = Some(field);
        }
        None
    }

    /// Reads one field's value (its key already read) and names what is not
    /// canonical about it, recursing into a nested message.
    fn value(
        &self,
        r: &mut Reader<'_>,
        field: &FieldDescriptorProto,
        proto3: bool,
        name: &str,
        path: &str,
        depth: usize,
    ) -> Option<String> {
        let default = || {
            Some(format!(
                "{name} in {path} is written with its default value, which the standard encoding leaves out"
            ))
        };
        let truncated = || Some(format!("{name} in {path} is cut short"));
        match expected_wire(field, proto3) {
            VARINT => {
                let Some((v, minimal)) = r.varint() else {
                    return truncated();
                };
                if !minimal {
                    return Some(format!("non-minimal varint in {name} in {path}"));
                }
                if let Some(ty) = varint_out_of_range(field, v) {
                    return Some(format!(
                        "{name} in {path}: the varint {v} is not a valid {ty}"
                    ));
                }
                if v == 0 && implicit_presence(field, proto3) {
                    return default();
                }
            }
            FIXED64 | FIXED32 => {
                let width = if expected_wire(field, proto3) == FIXED64 {
                    8
                } else {
                    4
                };
                let Some(bytes) = r.take(width) else {
                    return truncated();
                };
                if bytes.iter().all(|&b| b == 0) && implicit_presence(field, proto3) {
                    return default();
                }
            }
            LEN => {
                let Some((len, minimal)) = r.varint() else {
                    return truncated();
                };
                if !minimal {
                    return Some(format!(
                        "non-minimal varint in the length of {name} in {path}"
                    ));
                }
                let Some(body) = usize::try_from(len).ok().and_then(|n| r.take(n)) else {
                    return truncated();
                };
                match field.r#type() {
                    Type::Message => {
                        let nested = self.schema.messages.get(field.type_name())?;
                        if depth < MAX_DEPTH {
                            let inner = format!("{path}.{}", field.name());
                            return self.message(body, nested, &inner, depth + 1);
                        }
                    }
                    Type::String | Type::Bytes => {
                        if body.is_empty() && implicit_presence(field, proto3) {
                            return default();
                        }
                    }
                    _ => return self.packed(body, field, name, path),
                }
            }
            _ => return Some(format!("{name} in {path} is a group")),
        }
        None
    }

    /// Packed scalars: present only when non-empty, varints minimal.
    fn packed(
        &self,
        body: &[u8],
        field: &FieldDescriptorProto,
        name: &str,
        path: &str,
    ) -> Option<String> {
        if body.is_empty() {
            return Some(format!(
                "packed {name} in {path} is written empty, which the standard encoding leaves out"
            ));
        }
        if expected_wire(&scalar_of(field), false) != VARINT {
            return None;
        }
        let mut r = Reader {
            bytes: body,
            pos: 0,
        };
        while !r.done() {
            match r.varint() {
                Some((_, true)) => {}
                Some((_, false)) => {
                    return Some(format!("non-minimal varint in packed {name} in {path}"));
                }
                None => return Some(format!("packed {name} in {path} is cut short")),
            }
        }
        None
    }
}

/// The same field as a singular one: its element's wire type.
fn scalar_of(field: &FieldDescriptorProto) -> FieldDescriptorProto {
    FieldDescriptorProto {
        label: Some(Label::Optional as i32),
        options: None,
        ..field.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A varint, as the standard encoder writes it.
    fn varint(mut n: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn key(number: u64, wire: u64) -> Vec<u8> {
        varint(number << 3 | wire)
    }

    fn entry() -> pb::Entry {
        pb::Entry {
            network_id: vec![1; 32],
            author: "bob".into(),
            created_at_ms: 1_700_000_000_000,
            nonce: vec![2; 16],
            body: Some(pb::entry::Body::LogContribution(pb::LogContribution {
                contribution: Some(pb::Contribution {
                    kind: 1,
                    quantity: 30,
                    at: 1_600_000_000,
                    tags: vec!["a".into(), "b".into()],
                    ..Default::default()
                }),
            })),
        }
    }

    /// What `check` says about bytes that must decode to some entry.
    fn problem(bytes: &[u8]) -> String {
        let decoded = pb::Entry::decode(bytes).unwrap();
        check(&decoded, bytes).unwrap_err()
    }

    #[test]
    fn the_standard_encoding_passes() {
        let e = entry();
        assert_eq!(check(&e, &e.encode_to_vec()), Ok(()));
        let empty = pb::Entry::default();
        assert_eq!(check(&empty, &[]), Ok(()));
    }

    #[test]
    fn each_kind_of_departure_is_named() {
        let e = entry();
        let good = e.encode_to_vec();

        let mut unknown = good.clone();
        unknown.extend(key(99, VARINT));
        unknown.push(1);
        assert_eq!(problem(&unknown), "unknown field 99 in entry");

        let mut two_bodies = good.clone();
        let evaluate = pb::Evaluate {
            contribution_id: vec![3; 32],
            verdict: 1,
            ..Default::default()
        }
        .encode_to_vec();
        two_bodies.extend(key(19, LEN));
        two_bodies.extend(varint(evaluate.len() as u64));
        two_bodies.extend(&evaluate);
        assert_eq!(
            problem(&two_bodies),
            "more than one body in entry: field 16 (log_contribution), then field 19 (evaluate)"
        );

        let mut twice = good.clone();
        twice.extend(key(2, LEN));
        twice.extend([3, b'e', b'v', b'e']);
        assert!(
            problem(&twice).starts_with("field 2 (author) appears twice in entry"),
            "{}",
            problem(&twice)
        );

        let header = pb::Entry {
            body: None,
            ..e.clone()
        }
        .encode_to_vec();
        let body = pb::Entry {
            body: e.body.clone(),
            ..Default::default()
        }
        .encode_to_vec();
        let swapped: Vec<u8> = body.iter().chain(&header).copied().collect();
        assert_eq!(
            problem(&swapped),
            "fields out of order in entry: field 1 (network_id) after field 16 (log_contribution) \
             (fields go in field-number order)"
        );

        // created_at_ms (field 3) with a padded varint: rebuild the header.
        let mut padded = Vec::new();
        padded.extend(key(1, LEN));
        padded.push(32);
        padded.extend([1; 32]);
        padded.extend(key(3, VARINT));
        padded.extend([0x85, 0x80, 0x00]);
        assert_eq!(
            problem(&padded),
            "non-minimal varint in field 3 (created_at_ms) in entry"
        );

        let mut default = key(2, LEN);
        default.push(0);
        assert_eq!(
            problem(&default),
            "field 2 (author) in entry is written with its default value, which the standard \
             encoding leaves out"
        );
    }

    #[test]
    fn departures_inside_a_body_name_their_path() {
        let contribution = pb::Contribution {
            kind: 1,
            quantity: 30,
            ..Default::default()
        };
        let mut inner = contribution.encode_to_vec();
        inner.extend(key(42, LEN));
        inner.push(0);
        let mut log = key(1, LEN);
        log.extend(varint(inner.len() as u64));
        log.extend(&inner);
        let mut bytes = key(16, LEN);
        bytes.extend(varint(log.len() as u64));
        bytes.extend(&log);
        assert_eq!(
            problem(&bytes),
            "unknown field 42 in entry.log_contribution.contribution"
        );

        // An enum written as a 5-byte negative int32 (the standard form
        // sign-extends to 10 bytes).
        let mut inner = key(1, VARINT);
        inner.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
        let mut log = key(1, LEN);
        log.extend(varint(inner.len() as u64));
        log.extend(&inner);
        let mut bytes = key(16, LEN);
        bytes.extend(varint(log.len() as u64));
        bytes.extend(&log);
        assert_eq!(
            problem(&bytes),
            "field 1 (kind) in entry.log_contribution.contribution: the varint 4294967295 is not \
             a valid int32 or enum value (a negative one is written sign-extended to 64 bits, in \
             10 bytes)"
        );
    }

    #[test]
    fn the_walk_never_panics_on_arbitrary_bytes() {
        // Every prefix and a spread of single-byte changes of a real
        // payload: whatever decodes is either canonical or described.
        let good = entry().encode_to_vec();
        for end in 0..=good.len() {
            let _ = describe(&good[..end], &good);
        }
        for i in 0..good.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = good.clone();
                bytes[i] ^= flip;
                let _ = describe(&bytes, &good);
                if let Ok(decoded) = pb::Entry::decode(bytes.as_slice()) {
                    let _ = check(&decoded, &bytes);
                }
            }
        }
    }
}
