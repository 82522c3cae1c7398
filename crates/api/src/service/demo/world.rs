//! Where the demo's people and companies come from: ten countries with their locales,
//! VAT rates, mobile numbers, legal forms and common names, and the businesses that buy
//! coffee by the kilo.

use std::collections::HashSet;

use fastrand::Rng;

use super::weighted;

/// A country the shop sells to.
pub(super) struct Country {
    pub code: &'static str,
    pub locale: &'static str,
    /// VAT on goods, in percent.
    pub vat: i64,
    /// Its share of the shop's contacts, relative to the others.
    weight: u32,
    /// A mobile number in E.164: `#` is any digit, `N` a digit from 2 to 9.
    phone: &'static str,
    /// The legal form closing a company's name.
    legal: &'static str,
    /// Common first and last names, comma-separated.
    first: &'static str,
    last: &'static str,
}

#[allow(clippy::too_many_arguments)] // a table row
const fn country(
    code: &'static str,
    locale: &'static str,
    vat: i64,
    weight: u32,
    phone: &'static str,
    legal: &'static str,
    first: &'static str,
    last: &'static str,
) -> Country {
    Country {
        code,
        locale,
        vat,
        weight,
        phone,
        legal,
        first,
        last,
    }
}

static COUNTRIES: [Country; 10] = [
    country(
        "DE",
        "de-DE",
        19,
        34,
        "+4915#########",
        "GmbH",
        "Anna,Lena,Julia,Laura,Sarah,Katharina,Sophie,Lukas,Jonas,Felix,Maximilian,Leon,Paul,Tobias,Jan,Niklas",
        "Müller,Schmidt,Schneider,Fischer,Weber,Meyer,Wagner,Becker,Schulz,Hoffmann,Koch,Richter,Wolf,Schröder,Krüger",
    ),
    country(
        "AT",
        "de-AT",
        20,
        7,
        "+43664#######",
        "GmbH",
        "Hannah,Lea,Marie,Valentina,Magdalena,Theresa,Elias,David,Jakob,Florian,Stefan,Matthias",
        "Gruber,Huber,Bauer,Pichler,Steiner,Moser,Mayer,Hofer,Leitner,Berger,Fuchs,Eder",
    ),
    country(
        "CH",
        "de-CH",
        8,
        4,
        "+417N#######",
        "AG",
        "Mia,Lara,Noemi,Elena,Nina,Seraina,Noah,Luca,Levin,Nico,Reto,Urs",
        "Meier,Schmid,Keller,Brunner,Baumann,Frei,Graf,Gerber,Widmer,Zürcher,Bühler,Suter",
    ),
    country(
        "FR",
        "fr-FR",
        20,
        12,
        "+336########",
        "SARL",
        "Camille,Léa,Manon,Chloé,Inès,Louise,Élodie,Lucas,Hugo,Louis,Gabriel,Arthur,Jules,Théo",
        "Martin,Bernard,Dubois,Thomas,Robert,Richard,Petit,Durand,Leroy,Moreau,Laurent,Lefèvre,Fournier,Girard",
    ),
    country(
        "NL",
        "nl-NL",
        21,
        8,
        "+316########",
        "B.V.",
        "Emma,Tess,Sanne,Fleur,Anouk,Lotte,Daan,Sem,Bram,Thijs,Jesse,Ruben",
        "de Jong,Jansen,de Vries,van den Berg,van Dijk,Bakker,Visser,Smit,Meijer,de Boer,Mulder,Bos",
    ),
    country(
        "GB",
        "en-GB",
        20,
        8,
        "+447#########",
        "Ltd",
        "Olivia,Amelia,Isla,Ava,Emily,Grace,Oliver,George,Harry,Jack,Charlie,James",
        "Smith,Jones,Taylor,Brown,Williams,Wilson,Davies,Robinson,Wright,Thompson,Evans,Hughes",
    ),
    country(
        "US",
        "en-US",
        0,
        8,
        "+1N##N######",
        "LLC",
        "Emma,Olivia,Harper,Abigail,Madison,Ella,Liam,Noah,Ethan,Mason,Logan,Benjamin",
        "Johnson,Miller,Davis,Garcia,Rodriguez,Martinez,Anderson,Moore,Jackson,White,Harris,Clark",
    ),
    country(
        "ES",
        "es-ES",
        21,
        6,
        "+346########",
        "S.L.",
        "Lucía,María,Paula,Martina,Carmen,Alba,Hugo,Pablo,Daniel,Alejandro,Javier,Álvaro",
        "García,Fernández,González,Rodríguez,López,Sánchez,Pérez,Gómez,Jiménez,Ruiz,Hernández,Díaz",
    ),
    country(
        "IT",
        "it-IT",
        22,
        7,
        "+393#########",
        "S.r.l.",
        "Giulia,Sofia,Aurora,Alice,Chiara,Francesca,Leonardo,Francesco,Alessandro,Lorenzo,Matteo,Marco",
        "Rossi,Russo,Ferrari,Esposito,Bianchi,Romano,Colombo,Ricci,Marino,Greco,Conti,De Luca",
    ),
    country(
        "SE",
        "sv-SE",
        25,
        6,
        "+467########",
        "AB",
        "Maja,Elsa,Astrid,Wilma,Ebba,Saga,William,Oscar,Hugo,Elias,Björn,Axel",
        "Andersson,Johansson,Karlsson,Nilsson,Eriksson,Larsson,Olsson,Persson,Svensson,Lindberg,Lindqvist,Berg",
    ),
];

/// What businesses are called, before what they are; comma-separated.
const BUSINESS_NAMES: &str = "Nordlicht,Morgenrot,Alpenblick,Sonnenhof,Lindenbaum,Hafenblick,Bergquell,Silberstern,\
Blue Harbour,Golden Fern,Red Maple,Old Mill,Riverside,Hilltop,Petit Four,La Terrazza,Bella Vista,Casa Luna,\
Gouden Leeuw,Het Anker,Sjöbris,Fjällstuga,Zur Post,Kastanie";

/// What the businesses are, with their industry.
const BUSINESS_KINDS: [(&str, &str); 12] = [
    ("Café", "Food & Beverage"),
    ("Bistro", "Food & Beverage"),
    ("Bakery", "Food & Beverage"),
    ("Catering", "Food & Beverage"),
    ("Hotel", "Hospitality"),
    ("Guesthouse", "Hospitality"),
    ("Coworking", "Real Estate"),
    ("Design Studio", "Professional Services"),
    ("Consulting", "Professional Services"),
    ("Law Office", "Professional Services"),
    ("Concept Store", "Retail"),
    ("Deli", "Retail"),
];

/// A company to create.
pub(super) struct CompanyPlan {
    pub name: String,
    pub domain: String,
    pub industry: &'static str,
    pub size: i64,
    pub country: &'static Country,
}

/// A country, by the shop's share of customers there.
pub(super) fn any_country(rng: &mut Rng) -> &'static Country {
    let weights: Vec<(usize, u32)> = COUNTRIES.iter().enumerate().map(|(i, c)| (i, c.weight)).collect();
    &COUNTRIES[weighted(rng, &weights)]
}

/// One of a comma-separated list.
fn one_of(rng: &mut Rng, list: &'static str) -> &'static str {
    let n = list.split(',').count();
    list.split(',').nth(rng.usize(..n)).unwrap_or(list)
}

impl Country {
    pub fn first_name(&self, rng: &mut Rng) -> &'static str {
        one_of(rng, self.first)
    }

    pub fn last_name(&self, rng: &mut Rng) -> &'static str {
        one_of(rng, self.last)
    }

    /// A mobile number, E.164.
    pub fn phone(&self, rng: &mut Rng) -> String {
        self.phone
            .chars()
            .map(|c| match c {
                '#' => rng.digit(10),
                'N' => char::from(b'2' + rng.u8(..8)),
                c => c,
            })
            .collect()
    }
}

/// A name as ASCII for an address: lowercase, umlauts spelled out, accents, spaces and
/// apostrophes dropped.
pub(super) fn ascii(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' | '-' => out.push(c),
            'ä' | 'æ' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'à' | 'á' | 'â' | 'å' => out.push('a'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ò' | 'ó' | 'ô' | 'ø' => out.push('o'),
            'ù' | 'ú' | 'û' => out.push('u'),
            'ñ' => out.push('n'),
            'ç' => out.push('c'),
            _ => {}
        }
    }
    out
}

/// `count` companies with distinct names and domains.
pub(super) fn companies(rng: &mut Rng, count: usize) -> Vec<CompanyPlan> {
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let country = any_country(rng);
        let (kind, industry) = BUSINESS_KINDS[rng.usize(..BUSINESS_KINDS.len())];
        let base = format!("{} {kind}", one_of(rng, BUSINESS_NAMES));
        // A name already taken is a second branch.
        let mut name = base.clone();
        let mut branch = 1;
        while !names.insert(name.clone()) {
            branch += 1;
            name = format!("{base} {branch}");
        }
        let slug: Vec<String> = name.split(' ').map(ascii).collect();
        let (low, high) = weighted(rng, &[((2, 16), 60), ((16, 81), 30), ((81, 401), 10)]);
        out.push(CompanyPlan {
            name: format!("{name} {}", country.legal),
            domain: format!("{}.example", slug.join("-")),
            industry,
            size: rng.i64(low..high),
            country,
        });
    }
    out
}
