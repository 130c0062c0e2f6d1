//! Every limit the API reference documents for the messages endpoint, in one place. Each constant
//! quotes the rule it comes from.

/// `text.body`: "A text message can be a max of 4096 characters long."
pub const TEXT_BODY_MAX: usize = 4096;
/// Media `caption`: "this field is limited to 1024 characters."
pub const CAPTION_MAX: usize = 1024;
/// `biz_opaque_callback_data`: "512 caractères maximum."
pub const BIZ_OPAQUE_CALLBACK_DATA_MAX: usize = 512;

/// Template button `index`: "You can have up to 10 buttons using index values of 0 to 9."
pub const TEMPLATE_BUTTON_INDEX_MAX: u32 = 9;
/// Template header: a header has a single variable, text or media.
pub const TEMPLATE_HEADER_PARAMETERS: usize = 1;
/// Carousel template `cards`: "up to 10 cards" (the Cloud API's carousel template guide); the
/// number sent must match the approved template, which the API checks.
pub const TEMPLATE_CARDS_MAX: usize = 10;
/// Carousel card `card_index`: zero-based, so 0 to 9 for ten cards.
pub const TEMPLATE_CARD_INDEX_MAX: u32 = 9;
/// Carousel card buttons: "up to 2 buttons" (quick reply or URL), at indexes 0 and 1.
pub const TEMPLATE_CARD_BUTTONS_MAX: usize = 2;
/// Carousel card body parameters: the card body's text is at most 160 characters, so 10 variables
/// is this service's bound, far above what a real card holds.
pub const TEMPLATE_CARD_BODY_PARAMETERS_MAX: usize = 10;
/// Carousel card body text parameters, each and all together: this service's bound, the per
/// parameter limit of a body beside other components ([`TEMPLATE_BODY_TEXT_PARAMETER_MAX`]).
pub const TEMPLATE_CARD_BODY_TEXT_MAX: usize = 1024;
/// Limited-time offer `expiration_time_ms`: a Unix time in milliseconds. The docs give no bound;
/// the end of year 9999 (253402300799999) is this service's.
pub const TEMPLATE_EXPIRATION_TIME_MS_MAX: i64 = 253_402_300_799_999;
/// Named template parameters (`parameter_name`): the docs give no length; 256 characters is this
/// service's bound ([`OTHER_TEXT_MAX`]).
pub const TEMPLATE_PARAMETER_NAME_MAX: usize = 256;
/// `date_time.year`: the docs give no range; 1 to 9999 is this service's bound.
pub const DATE_TIME_YEAR_MAX: u32 = 9999;

/// Interactive `header.text`: "Maximum length: 60 characters."
pub const INTERACTIVE_HEADER_TEXT_MAX: usize = 60;
/// Interactive `body.text`: "Maximum length: 1024 characters."
pub const INTERACTIVE_BODY_TEXT_MAX: usize = 1024;
/// Interactive `footer.text`: "Maximum length: 60 characters."
pub const INTERACTIVE_FOOTER_TEXT_MAX: usize = 60;

/// List `action.button`: "It cannot be an empty string ... Maximum length: 20 characters."
pub const LIST_BUTTON_MAX: usize = 20;
/// `action.sections`: "There is a minimum of 1 and maximum of 10."
pub const SECTIONS_MAX: usize = 10;
/// Section `title`: "Maximum length: 24 characters."
pub const SECTION_TITLE_MAX: usize = 24;
/// List rows: "Limited to 10 rows across all sections."
pub const LIST_ROWS_MAX: usize = 10;
/// Row `title`: "Maximum length: 24 characters."
pub const ROW_TITLE_MAX: usize = 24;
/// Row `id`: "Maximum length: 200 characters."
pub const ROW_ID_MAX: usize = 200;
/// Row `description`: "Maximum length: 72 characters."
pub const ROW_DESCRIPTION_MAX: usize = 72;

/// Reply buttons: up to three buttons.
pub const REPLY_BUTTONS_MAX: usize = 3;
/// Reply button `title`: "Maximum length: 20 characters."
pub const REPLY_TITLE_MAX: usize = 20;
/// Reply button `id`: "Maximum length: 256 characters."
pub const REPLY_ID_MAX: usize = 256;

/// Multi-product messages: "a maximum of 30 products across all sections."
pub const PRODUCTS_MAX: usize = 30;
/// `product_retailer_id`: "Maximum 100 characters for both Single-Product and Multi-Product messages."
pub const PRODUCT_RETAILER_ID_MAX: usize = 100;

/// Flow `flow_message_version`: "Must be 3."
pub const FLOW_MESSAGE_VERSION: &str = "3";
/// Flow `flow_cta`: "Maximum length: 20 characters (no emoji)."
pub const FLOW_CTA_MAX: usize = 20;

/// Cloud `cta_url` `display_text`: at most 20 characters.
pub const CTA_URL_DISPLAY_TEXT_MAX: usize = 20;

/// Media carousel `cards`: "Messages must include between 2 and 10 cards."
pub const CAROUSEL_CARDS_MIN: usize = 2;
/// See [`CAROUSEL_CARDS_MIN`].
pub const CAROUSEL_CARDS_MAX: usize = 10;
/// Media carousel `card_index`: "Zero-index card index", 0 to 9 for ten cards.
pub const CAROUSEL_CARD_INDEX_MAX: u32 = 9;
/// Media carousel card `body.text`: "Max 160 characters".
pub const CAROUSEL_CARD_BODY_MAX: usize = 160;
/// Media carousel card quick-reply buttons: "one or more quick-reply buttons"; the docs give no
/// maximum. 3, the most reply buttons an interactive message takes ([`REPLY_BUTTONS_MAX`]), is this
/// service's bound. Every card has as many as the first: "Button types and numbers must match
/// across all cards".
pub const CAROUSEL_QUICK_REPLIES_MAX: usize = 3;
/// Media carousel quick-reply button `id`: "Maximum 256 characters."
pub const CAROUSEL_QUICK_REPLY_ID_MAX: usize = 256;
/// Media carousel quick-reply button label (`title`): "Maximum 20 characters."
pub const CAROUSEL_QUICK_REPLY_TITLE_MAX: usize = 20;

/// Template `tap_target_configuration` `title`: the docs give no limit; 256 characters
/// ([`OTHER_TEXT_MAX`]) is this service's bound. Its `url` takes [`URL_MAX`].
pub const TAP_TARGET_TITLE_MAX: usize = 256;

/// `voice_call` `display_text`: "Max length: 20 characters".
pub const VOICE_CALL_DISPLAY_TEXT_MAX: usize = 20;
/// `voice_call` `ttl_minutes`: "Must be between 1 and 43200 (30 days)".
pub const VOICE_CALL_TTL_MINUTES_MAX: u32 = 43_200;
/// Group `pin.expiration_days`: 1 to 30 days (Meta's Groups API messaging docs), when pinning.
pub const PIN_EXPIRATION_DAYS_MAX: u32 = 30;
/// `voice_call` `payload`: "Maximum 512 characters."
pub const VOICE_CALL_PAYLOAD_MAX: usize = 512;

// Repeated fields the reference gives no maximum for. Each still needs one, so that a request cannot
// make the service walk (and answer about) an unbounded number of elements; these are generous
// choices of this service, far above what a real message holds, and each proto field says its bound.

/// `contacts`: the reference sets no maximum number of contact cards in one message. 10 is this
/// service's bound, above the contacts a business shares in one message (and the largest kind of
/// request: see [`MAX_REQUEST_BYTES`]).
pub const CONTACTS_MAX: usize = 10;
/// A contact's `addresses`, `emails`, `phones` and `urls`: the reference sets no maximum. 5 of each
/// is this service's bound, more than an address-book card usually holds.
pub const CONTACT_ITEMS_MAX: usize = 5;
/// Template `components`: at most one header, one body, one limited-time offer, one carousel and one
/// tap-target configuration, and one button component for each of the ten indexes 0–9
/// ([`TEMPLATE_BUTTON_INDEX_MAX`]) that must be distinct: 15 is the most a valid request can hold.
pub const TEMPLATE_COMPONENTS_MAX: usize = 15;
/// Template body `parameters`: the reference sets no maximum number of body variables. 100 is this
/// service's bound, far above the variables of a real template body (its text is at most 1024
/// characters).
pub const TEMPLATE_BODY_PARAMETERS_MAX: usize = 100;

/// `MarkMessageRead.message_id`: the reference gives no length. Real ids (`wamid.` and a base64
/// string, or an On-Premises id) are about 60 characters; 256 leaves ample room. The On-Premises API
/// puts the id in the URL path (`PUT /v1/messages/{message_id}`, percent-encoded as one segment), so
/// the id is also refused when it is `.` or `..` or holds whitespace or a control character.
pub const MESSAGE_ID_MAX: usize = 256;

// Text fields the reference gives no limit for. Without a bound the largest valid request would be
// unbounded; these are generous choices of this service, and each proto field says its bound.

/// Every text field the reference gives no limit for and that holds an id, a name, a code or a part
/// of a contact card (`to`, media `id` and `filename`, `catalog_id`, `flow_id`, template `name`,
/// the fields of a contact card, ...): 256 characters, this service's bound, several times what
/// such a value holds.
pub const OTHER_TEXT_MAX: usize = 256;
/// Developer-defined opaque values the API hands back or appends (`flow_token`, a template
/// quick-reply `payload`, a URL button's suffix): the reference gives no limit; 2048 characters,
/// this service's bound (room for a signed token).
pub const OPAQUE_TEXT_MAX: usize = 2048;
/// URLs (media `link`, `cta_url.url`, a contact's `urls[].url`): the reference gives no limit; 2048
/// characters, the longest URL that is safe across browsers and proxies.
pub const URL_MAX: usize = 2048;
/// Template text parameters: "For the header component: 60 characters."
pub const TEMPLATE_HEADER_TEXT_PARAMETER_MAX: usize = 60;
/// Template text parameters: "For the body component: 1024 characters if other component types are
/// included, 32768 characters if body is the only component type included."
pub const TEMPLATE_BODY_TEXT_PARAMETER_MAX: usize = 1024;
/// See [`TEMPLATE_BODY_TEXT_PARAMETER_MAX`]: a body that is the only component.
pub const TEMPLATE_BODY_ONLY_TEXT_PARAMETER_MAX: usize = 32768;
/// All the text of a body's parameters together: this service's bound, the most one body parameter
/// may hold ([`TEMPLATE_BODY_ONLY_TEXT_PARAMETER_MAX`]); the body the customer sees cannot show more.
pub const TEMPLATE_BODY_TEXT_IN_ALL_MAX: usize = 32768;
/// A Flow's `flow_action_payload.data`: the reference gives no limit; 64 KiB of encoded Protobuf,
/// this service's bound, generous for the data of a Flow's first screen.
pub const FLOW_DATA_MAX_BYTES: usize = 64 * 1024;

/// The largest encoded request the service needs to decode, for the server's
/// `max_decoding_message_size`: above the largest valid request of any kind, so that limit never
/// refuses a valid request. `tests/largest_requests.rs` builds the largest valid request of each kind
/// on each flavor (every text at its limit in 4-byte characters, every repeated field at its
/// maximum, every optional part set) and measures it encoded: contacts 968,569 bytes (Cloud; ten
/// full cards), a template of the Cloud-only shapes 855,435 (named variables, ten full carousel
/// cards, a limited-time offer, a tap target, a Flow button with the 64 KiB all Flow buttons may
/// hold together and nine multi-product buttons), a template of the shapes both flavors take
/// 299,129 (header document, 100 body parameters, ten URL buttons), a media carousel 179,143 (ten
/// cards with URL buttons; 129,963 with quick-reply buttons), a Flow 84,698 (64 KiB of data), every
/// other kind under 26,100. 1.25 MiB leaves a margin of a quarter.
/// (Unknown fields are skipped by the decoder and carry nothing: a request padded with them is not
/// a larger valid request.)
pub const MAX_REQUEST_BYTES: usize = 1_310_720;
