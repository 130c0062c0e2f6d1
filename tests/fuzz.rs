//! A fuzzer for decode + validate + translate: byte-level mutations of real requests (every
//! conformance case, encoded, those built from the Cloud API's current docs included) and arbitrary bytes, each decoded as a `SendMessageRequest` and a
//! `MarkMessageReadRequest` and, when it decodes, translated for both flavors. Nothing may panic; a
//! refusal keeps at most `MAX_REPORTED_VIOLATIONS` violations and its status fits 8 KiB; an accepted
//! body serializes. Inputs that decode join the corpus, so mutations build on them.
//!
//! Deterministic by default. `WHATSAPP_GRPC_FUZZ_CASES` sets the number of cases (default 2,000),
//! `WHATSAPP_GRPC_FUZZ_SEED` the seed (printed with the failing input when a case fails).

mod common;

use std::panic::{self, AssertUnwindSafe};

use common::cases::{Case, cloud_cases, on_premises_cases};
use common::doc_cases::doc_cases;
use common::{STATUS_HEADERS_MAX, status_wire_size};
use proptest::prelude::Rng as _;
use proptest::test_runner::{RngAlgorithm, TestRng};
use prost::Message as _;
use tonic_types::StatusExt;
use whatsapp_grpc::codec::malformed_request;
use whatsapp_grpc::proto;
use whatsapp_grpc::validate::{InvalidRequest, MAX_REPORTED_VIOLATIONS};
use whatsapp_grpc::{Error, Flavor, translate};

const DEFAULT_CASES: u64 = 2_000;
const DEFAULT_SEED: u64 = 0x5EED_F00D;
/// Inputs are kept under this size, so that repeated splices stay fast.
const INPUT_MAX: usize = 128 * 1024;
/// How many decoded inputs the corpus keeps besides the seeds.
const CORPUS_MAX: usize = 2_000;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")),
        Err(_) => default,
    }
}

struct Rng(TestRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut bytes = [0u8; 32];
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(
                &(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes(),
            );
        }
        Rng(TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.0.next_u32() as u8
    }

    /// A position in `0..=len`.
    fn position(&mut self, len: usize) -> usize {
        self.below(len + 1)
    }
}

/// Bytes that matter to Protobuf: varint continuations, the largest lengths, invalid UTF-8, and the
/// tags of the first fields in each wire type.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC0, 0xED, 0xF4, 0x08, 0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A,
    0x42, 0x4A, 0x52, 0x5A, 0x62, 0x6A, 0x72, 0x7A, 0x82, 0x0D, 0x09,
];

/// One random edit of `input`, taking material from `other` where it splices.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    match rng.below(8) {
        // Flip a bit.
        0 if !input.is_empty() => {
            let at = rng.below(input.len());
            input[at] ^= 1 << rng.below(8);
        }
        // Overwrite a byte with one that matters.
        1 if !input.is_empty() => {
            let at = rng.below(input.len());
            input[at] = INTERESTING[rng.below(INTERESTING.len())];
        }
        // Insert a few bytes.
        2 => {
            let at = rng.position(input.len());
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            input.splice(at..at, bytes);
        }
        // Delete a range.
        3 if !input.is_empty() => {
            let from = rng.below(input.len());
            let to = (from + 1 + rng.below(16)).min(input.len());
            input.drain(from..to);
        }
        // Splice in a range of another input.
        4 if !other.is_empty() => {
            let from = rng.below(other.len());
            let to = (from + 1 + rng.below(other.len() - from)).min(other.len());
            let at = rng.position(input.len());
            input.splice(at..at, other[from..to].iter().copied());
        }
        // Repeat a range (a field, when it falls on one) many times: repeated fields grow.
        5 if !input.is_empty() => {
            let from = rng.below(input.len());
            let to = (from + 1 + rng.below(64)).min(input.len());
            let times = 1 << rng.below(12);
            let chunk = input[from..to].to_vec();
            let at = to;
            input.splice(
                at..at,
                chunk.iter().copied().cycle().take(chunk.len() * times),
            );
        }
        // Cut the end off.
        6 if !input.is_empty() => {
            let len = rng.below(input.len());
            input.truncate(len);
        }
        // Append a whole other input (its fields merge into this one's).
        _ => input.extend_from_slice(other),
    }
    input.truncate(INPUT_MAX);
}

/// One field of an encoded message: its bytes, and for a length-delimited field where its key ends
/// and its payload lies.
#[derive(Clone, Copy)]
struct Field {
    start: usize,
    key_end: usize,
    payload: Option<(usize, usize)>,
    end: usize,
}

fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in 0..10 {
        let byte = *buf.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7F) << (7 * shift);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The fields of `buf` read as one message, if it reads as one.
fn fields(buf: &[u8]) -> Option<Vec<Field>> {
    let mut fields = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let start = at;
        let key = varint(buf, &mut at)?;
        let key_end = at;
        let payload = match key & 7 {
            0 => {
                varint(buf, &mut at)?;
                None
            }
            1 => {
                at += 8;
                None
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut at)?).ok()?;
                let from = at;
                at = at.checked_add(len)?;
                Some((from, at))
            }
            5 => {
                at += 4;
                None
            }
            _ => return None,
        };
        if at > buf.len() {
            return None;
        }
        fields.push(Field {
            start,
            key_end,
            payload,
            end: at,
        });
    }
    Some(fields)
}

/// One edit of `input` that respects the Protobuf framing: repeat a field many times (repeated
/// fields grow), drop one, bring one in from `other`, or edit inside a nested message and fix its
/// length. Falls back to a byte-level edit where `input` does not read as a message.
fn mutate_field(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8], depth: usize) {
    let Some(found) = fields(input).filter(|f| !f.is_empty()) else {
        return mutate(rng, input, other);
    };
    let field = found[rng.below(found.len())];
    match rng.below(5) {
        0 => {
            let times = 1 << rng.below(13);
            let copy = input[field.start..field.end].to_vec();
            let copies: Vec<u8> = copy
                .iter()
                .copied()
                .cycle()
                .take(copy.len() * times)
                .collect();
            input.splice(field.end..field.end, copies);
        }
        1 => {
            input.drain(field.start..field.end);
        }
        2 => {
            if let Some(theirs) = fields(other).filter(|f| !f.is_empty()) {
                let theirs = theirs[rng.below(theirs.len())];
                let at = found[rng.below(found.len())].start;
                input.splice(at..at, other[theirs.start..theirs.end].iter().copied());
            }
        }
        _ => match field.payload {
            Some((from, to)) if depth < 8 => {
                let mut inner = input[from..to].to_vec();
                if rng.below(3) == 0 {
                    mutate(rng, &mut inner, other);
                } else {
                    mutate_field(rng, &mut inner, other, depth + 1);
                }
                let mut rebuilt = input[field.start..field.key_end].to_vec();
                prost::encoding::encode_varint(inner.len() as u64, &mut rebuilt);
                rebuilt.extend_from_slice(&inner);
                input.splice(field.start..field.end, rebuilt);
            }
            _ => mutate(rng, input, other),
        },
    }
    input.truncate(INPUT_MAX);
}

/// The seeds: every conformance request (those of the Cloud API's current docs too), encoded.
fn seeds() -> Vec<Vec<u8>> {
    cloud_cases()
        .into_iter()
        .chain(on_premises_cases())
        .chain(doc_cases().into_iter().map(|(name, _, case)| (name, case)))
        .map(|(_, case)| match case {
            Case::Send(request) => request.encode_to_vec(),
            Case::MarkRead(request) => request.encode_to_vec(),
        })
        .collect()
}

/// A refusal: capped, and its status small and complete.
fn check_refusal(invalid: InvalidRequest) {
    assert!(!invalid.violations.is_empty());
    assert!(invalid.violations.len() <= MAX_REPORTED_VIOLATIONS);
    let total = invalid.total();
    let status = tonic::Status::from(Error::InvalidArgument(invalid));
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let size = status_wire_size(&status);
    assert!(size < STATUS_HEADERS_MAX, "the status takes {size} bytes");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["outcome"], "not_sent");
    assert_eq!(info.metadata["violations"], total.to_string());
}

/// One case: decode, translate for both flavors, check. Returns `None` when the input does not
/// decode as a send request, else whether a flavor accepted it.
fn run(input: &[u8]) -> Option<bool> {
    // The server counts the fields before it decodes; whatever that says, it must not panic, and
    // what decodes within the size limit never holds more fields than it counts.
    let counted = whatsapp_grpc::codec::check_fields("whatsapp.v1.SendMessageRequest", input);
    if let Err(refused) = &counted {
        let status = malformed_request("whatsapp.v1.SendMessageRequest", refused);
        assert!(status_wire_size(&status) < STATUS_HEADERS_MAX);
    }
    let send = match proto::SendMessageRequest::decode(input) {
        Ok(request) => {
            let mut accepted = false;
            for flavor in [Flavor::Cloud, Flavor::OnPremises] {
                match translate::send_message(flavor, &request) {
                    Ok(body) => {
                        serde_json::to_vec(&body).expect("an accepted body serializes");
                        accepted = true;
                    }
                    Err(invalid) => check_refusal(invalid),
                }
            }
            Some(accepted)
        }
        Err(error) => {
            let status = malformed_request("whatsapp.v1.SendMessageRequest", &error);
            assert!(status_wire_size(&status) < STATUS_HEADERS_MAX);
            None
        }
    };
    if let Ok(request) = proto::MarkMessageReadRequest::decode(input) {
        for flavor in [Flavor::Cloud, Flavor::OnPremises] {
            match translate::mark_message_read(flavor, &request) {
                Ok(body) => {
                    serde_json::to_vec(&body).expect("an accepted body serializes");
                }
                Err(invalid) => check_refusal(invalid),
            }
        }
    }
    send
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn decode_validate_translate_never_panics_and_answers_small_statuses() {
    let cases = env_u64("WHATSAPP_GRPC_FUZZ_CASES", DEFAULT_CASES);
    let seed = env_u64("WHATSAPP_GRPC_FUZZ_SEED", DEFAULT_SEED);
    let mut rng = Rng::new(seed);
    let seeds = seeds();
    let mut corpus: Vec<Vec<u8>> = seeds.clone();
    let mut decoded = 0u64;
    let mut accepted = 0u64;

    for seed_input in &seeds {
        assert!(
            run(seed_input).is_some()
                || proto::MarkMessageReadRequest::decode(&seed_input[..]).is_ok()
        );
    }
    for case in 0..cases {
        let input = if rng.below(16) == 0 {
            // Arbitrary bytes.
            let len = rng.below(512);
            (0..len).map(|_| rng.byte()).collect()
        } else {
            let mut input = corpus[rng.below(corpus.len())].clone();
            let other = corpus[rng.below(corpus.len())].clone();
            for _ in 0..1 + rng.below(4) {
                if rng.below(4) == 0 {
                    mutate(&mut rng, &mut input, &other);
                } else {
                    mutate_field(&mut rng, &mut input, &other, 0);
                }
            }
            input
        };
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(&input)));
        match outcome {
            Ok(Some(was_accepted)) => {
                decoded += 1;
                accepted += u64::from(was_accepted);
                if corpus.len() < seeds.len() + CORPUS_MAX {
                    corpus.push(input);
                } else {
                    let at = seeds.len() + rng.below(CORPUS_MAX);
                    corpus[at] = input;
                }
            }
            Ok(None) => {}
            Err(panic) => {
                eprintln!(
                    "fuzz case {case} failed; rerun with WHATSAPP_GRPC_FUZZ_SEED={seed} \
                     WHATSAPP_GRPC_FUZZ_CASES={}; input ({} bytes): {}",
                    case + 1,
                    input.len(),
                    hex(&input[..input.len().min(4096)])
                );
                panic::resume_unwind(panic);
            }
        }
    }
    eprintln!(
        "{cases} fuzz cases from seed {seed}: {decoded} decoded as send requests, \
         {accepted} accepted by a flavor"
    );
    // The mutations must mostly produce decodable requests, or the fuzzer tests only the decoder.
    assert!(
        decoded * 4 >= cases,
        "only {decoded} of {cases} cases decoded"
    );
}
