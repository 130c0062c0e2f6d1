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

// Repeated fields the reference gives no maximum for. Each still needs one, so that a request cannot
// make the service walk (and answer about) an unbounded number of elements; these are generous
// choices of this service, far above what a real message holds, and each proto field says its bound.

/// `contacts`: the reference sets no maximum number of contact cards in one message. 100 is this
/// service's bound, far above the address-book shares seen in practice.
pub const CONTACTS_MAX: usize = 100;
/// A contact's `addresses`, `emails`, `phones` and `urls`: the reference sets no maximum. 20 of each
/// is this service's bound, more than any address-book card holds.
pub const CONTACT_ITEMS_MAX: usize = 20;
/// Template `components`: at most one header and one body, and one button component for each of the
/// ten indexes 0–9 ([`TEMPLATE_BUTTON_INDEX_MAX`]) that must be distinct: 12 is the most a valid
/// request can hold.
pub const TEMPLATE_COMPONENTS_MAX: usize = 12;
/// Template body `parameters`: the reference sets no maximum number of body variables. 100 is this
/// service's bound, far above the variables of a real template body (its text is at most 1024
/// characters).
pub const TEMPLATE_BODY_PARAMETERS_MAX: usize = 100;

/// `MarkMessageRead.message_id`: the reference gives no length. Real ids (`wamid.` and a base64
/// string, or an On-Premises id) are about 60 characters; 256 leaves ample room. The On-Premises API
/// puts the id in the URL path (`PUT /v1/messages/{message_id}`), so the id is also refused when it is
/// `.` or `..` or holds whitespace, a control character or `/`.
pub const MESSAGE_ID_MAX: usize = 256;
