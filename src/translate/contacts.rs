//! Contact cards: a name with `formatted_name` and one more part, real birthdays, no empty objects.

use crate::proto;
use crate::validate::{Path, Rule, Validator, limits};
use crate::wire::contacts::{
    Address, AddressType, Contact, Email, EmailType, Name, Org, Phone, PhoneType, Url, UrlType,
};

use super::non_empty;

pub(super) fn contacts<'a>(
    v: &mut Validator,
    path: Path<'_>,
    contacts: &'a proto::Contacts,
) -> Option<Vec<Contact<'a>>> {
    let list = path.field("contacts");
    let cards: Vec<Option<Contact<'a>>> = v
        .bounded(list, &contacts.contacts, 1, limits::CONTACTS_MAX)
        .iter()
        .enumerate()
        .map(|(i, contact)| self::contact(v, list.index(i), contact))
        .collect();
    cards.into_iter().collect()
}

fn contact<'a>(
    v: &mut Validator,
    path: Path<'_>,
    contact: &'a proto::Contact,
) -> Option<Contact<'a>> {
    let addresses = each(v, path.field("addresses"), &contact.addresses, address);
    let birthday = non_empty(&contact.birthday).inspect(|birthday| {
        v.date(path.field("birthday"), birthday);
    });
    let emails = each(v, path.field("emails"), &contact.emails, email);
    let name = v
        .present(path.field("name"), contact.name.as_ref())
        .map(|name| self::name(v, path.field("name"), name));
    let org = contact.org.as_ref().map(|org| {
        let org = Org {
            company: part(v, path.field("org").field("company"), &org.company),
            department: part(v, path.field("org").field("department"), &org.department),
            title: part(v, path.field("org").field("title"), &org.title),
        };
        if org.company.is_none() && org.department.is_none() && org.title.is_none() {
            v.violation(path.field("org"), Rule::Empty);
        }
        org
    });
    let phones = each(v, path.field("phones"), &contact.phones, phone);
    let urls = each(v, path.field("urls"), &contact.urls, url);
    Some(Contact {
        addresses,
        birthday,
        emails,
        name: name?,
        org,
        phones,
        urls,
    })
}

fn name<'a>(v: &mut Validator, path: Path<'_>, name: &'a proto::ContactName) -> Name<'a> {
    v.required_text(path.field("formatted_name"), &name.formatted_name);
    let name = Name {
        formatted_name: &name.formatted_name,
        first_name: part(v, path.field("first_name"), &name.first_name),
        last_name: part(v, path.field("last_name"), &name.last_name),
        middle_name: part(v, path.field("middle_name"), &name.middle_name),
        suffix: part(v, path.field("suffix"), &name.suffix),
        prefix: part(v, path.field("prefix"), &name.prefix),
    };
    let parts = [
        name.first_name,
        name.last_name,
        name.middle_name,
        name.suffix,
        name.prefix,
    ];
    if parts.iter().all(Option::is_none) {
        v.violation(
            path,
            Rule::OneOfRequired(
                "first_name, last_name, middle_name, suffix, prefix (besides formatted_name)",
            ),
        );
    }
    name
}

/// Translates each element of a repeated field of a card with `one`: at most
/// [`limits::CONTACT_ITEMS_MAX`] of them.
fn each<'a, P, W>(
    v: &mut Validator,
    path: Path<'_>,
    items: &'a [P],
    one: fn(&mut Validator, Path<'_>, &'a P) -> W,
) -> Vec<W> {
    v.bounded(path, items, 0, limits::CONTACT_ITEMS_MAX)
        .iter()
        .enumerate()
        .map(|(i, item)| one(v, path.index(i), item))
        .collect()
}

/// An optional part of a card: `None` when empty, limited to [`limits::OTHER_TEXT_MAX`] characters.
fn part<'a>(v: &mut Validator, path: Path<'_>, value: &'a str) -> Option<&'a str> {
    v.text(path, value);
    non_empty(value)
}

/// Decodes an optional enum: unspecified sends no type.
fn kind<E, W>(v: &mut Validator, path: Path<'_>, value: i32, map: fn(E) -> Option<W>) -> Option<W>
where
    E: TryFrom<i32>,
{
    v.known_enum::<E>(path, value).and_then(map)
}

/// Records [`Rule::Empty`] when every field of an object is unset (its `type` alone says nothing).
fn not_empty(v: &mut Validator, path: Path<'_>, fields: &[bool]) {
    if fields.iter().all(|set| !set) {
        v.violation(path, Rule::Empty);
    }
}

fn address<'a>(v: &mut Validator, path: Path<'_>, a: &'a proto::ContactAddress) -> Address<'a> {
    let address = Address {
        street: part(v, path.field("street"), &a.street),
        city: part(v, path.field("city"), &a.city),
        state: part(v, path.field("state"), &a.state),
        zip: part(v, path.field("zip"), &a.zip),
        country: part(v, path.field("country"), &a.country),
        country_code: part(v, path.field("country_code"), &a.country_code),
        kind: kind(v, path.field("type"), a.r#type, |t| match t {
            proto::ContactAddressType::Unspecified => None,
            proto::ContactAddressType::Home => Some(AddressType::Home),
            proto::ContactAddressType::Work => Some(AddressType::Work),
        }),
    };
    not_empty(
        v,
        path,
        &[
            address.street.is_some(),
            address.city.is_some(),
            address.state.is_some(),
            address.zip.is_some(),
            address.country.is_some(),
            address.country_code.is_some(),
        ],
    );
    address
}

fn email<'a>(v: &mut Validator, path: Path<'_>, e: &'a proto::ContactEmail) -> Email<'a> {
    let email = Email {
        email: part(v, path.field("email"), &e.email),
        kind: kind(v, path.field("type"), e.r#type, |t| match t {
            proto::ContactEmailType::Unspecified => None,
            proto::ContactEmailType::Home => Some(EmailType::Home),
            proto::ContactEmailType::Work => Some(EmailType::Work),
        }),
    };
    if email.email.is_none() {
        v.violation(path.field("email"), Rule::Required);
    }
    email
}

fn phone<'a>(v: &mut Validator, path: Path<'_>, p: &'a proto::ContactPhone) -> Phone<'a> {
    let phone = Phone {
        phone: part(v, path.field("phone"), &p.phone),
        kind: kind(v, path.field("type"), p.r#type, |t| match t {
            proto::ContactPhoneType::Unspecified => None,
            proto::ContactPhoneType::Cell => Some(PhoneType::Cell),
            proto::ContactPhoneType::Main => Some(PhoneType::Main),
            proto::ContactPhoneType::Iphone => Some(PhoneType::Iphone),
            proto::ContactPhoneType::Home => Some(PhoneType::Home),
            proto::ContactPhoneType::Work => Some(PhoneType::Work),
        }),
        wa_id: part(v, path.field("wa_id"), &p.wa_id),
    };
    if phone.phone.is_none() && phone.wa_id.is_none() {
        v.violation(path, Rule::OneOfRequired("phone, wa_id"));
    }
    phone
}

fn url<'a>(v: &mut Validator, path: Path<'_>, u: &'a proto::ContactUrl) -> Url<'a> {
    let url = Url {
        url: non_empty(&u.url).inspect(|url| {
            v.max_chars(path.field("url"), url, limits::URL_MAX);
        }),
        kind: kind(v, path.field("type"), u.r#type, |t| match t {
            proto::ContactUrlType::Unspecified => None,
            proto::ContactUrlType::Home => Some(UrlType::Home),
            proto::ContactUrlType::Work => Some(UrlType::Work),
        }),
    };
    if url.url.is_none() {
        v.violation(path.field("url"), Rule::Required);
    }
    url
}
