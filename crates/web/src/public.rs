//! Public treatment-finder pages: no login, no cookies, no tracking, no
//! third-party requests; English and Spanish; usable without JavaScript.
//! The helpline and the crisis line are on every page.

use crate::AppState;
use crate::finder::{SearchParams, parse_query};
use crate::views::render;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Interface text in one language.
pub struct Text {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub title: &'static str,
    pub crisis: &'static str,
    pub helpline: &'static str,
    pub lead: &'static str,
    pub near_label: &'static str,
    pub near_hint: &'static str,
    pub radius_label: &'static str,
    pub any_distance: &'static str,
    pub miles: &'static str,
    pub filters: &'static str,
    pub search: &'static str,
    pub results: &'static str,
    pub none_found: &'static str,
    pub unlisted_h: &'static str,
    pub nearest_h: &'static str,
    pub unlisted_hint: &'static str,
    pub call: &'static str,
    pub details: &'static str,
    pub previous: &'static str,
    pub next: &'static str,
    pub page: &'static str,
    pub services: &'static str,
    pub address: &'static str,
    pub hours: &'static str,
    pub hours_unknown: &'static str,
    pub other_codes: &'static str,
    pub privacy: &'static str,
    pub back: &'static str,
    pub error_prefix: &'static str,
    pub miles_away: &'static str,
    pub live_title: &'static str,
    pub accepting: &'static str,
    pub not_accepting: &'static str,
    pub open_beds: &'static str,
    pub waitlist: &'static str,
    pub days: &'static str,
    pub same_day: &'static str,
    pub verified: &'static str,
    pub callback_title: &'static str,
    pub callback_lead: &'static str,
    pub your_name: &'static str,
    pub your_phone: &'static str,
    pub best_time: &'static str,
    pub callback_consent: &'static str,
    pub send: &'static str,
    pub callback_thanks: &'static str,
    pub callback_limited: &'static str,
    pub for_whom: &'static str,
    pub for_me: &'static str,
    pub for_other: &'static str,
    pub their_name: &'static str,
    pub relation: &'static str,
    pub err_name: &'static str,
    pub err_phone: &'static str,
    pub err_consent: &'static str,
    pub main_line: &'static str,
    pub intake_line: &'static str,
    pub source: &'static str,
    pub source_live: &'static str,
    pub copied_on: &'static str,
    pub call_first: &'static str,
    pub change_search: &'static str,
    pub jump_results: &'static str,
}

pub const EN: Text = Text {
    lang: "en",
    other_lang: "es",
    other_lang_name: "Español",
    title: "Find treatment for opioid use",
    crisis: "In crisis or thinking about suicide? Call or text 988.",
    helpline: "Free, confidential help finding treatment, 24/7: SAMHSA National Helpline",
    lead: "Search programs near you that treat opioid addiction: detox, residential, outpatient and methadone or buprenorphine clinics.",
    near_label: "ZIP code or city",
    near_hint: "For example 21201, or Baltimore, MD",
    radius_label: "Distance",
    any_distance: "Any distance",
    miles: "miles",
    filters: "Only show programs that offer",
    search: "Search",
    results: "programs found",
    none_found: "No programs match. Try a larger distance or fewer choices, or call the helpline.",
    unlisted_h: "Services not listed — call to ask",
    nearest_h: "Nothing within this distance. The nearest programs:",
    unlisted_hint: "These programs did not list their services in the national directory. They may offer what you need: call and ask.",
    call: "Call",
    main_line: "main line",
    intake_line: "intake",
    source: "Source",
    source_live: "the program itself, through Carepath; last checked",
    copied_on: "copied into Carepath on",
    call_first: "Details change: call before you go.",
    change_search: "Change search",
    jump_results: "Skip to the results",
    details: "Details",
    previous: "Previous",
    next: "Next",
    page: "Page",
    services: "Services",
    address: "Address",
    hours: "Hours",
    hours_unknown: "Call to confirm hours and whether they can see you.",
    other_codes: "Other listed services (SAMHSA codes)",
    privacy: "Carepath does not store your searches or set cookies on these pages.",
    back: "Back to results",
    error_prefix: "Please check",
    miles_away: "miles away",
    live_title: "Right now (updated by the program)",
    accepting: "Accepting new patients",
    not_accepting: "Not accepting new patients at the moment",
    open_beds: "Open beds",
    waitlist: "Wait for admission",
    days: "days",
    same_day: "Can start medication the same day",
    verified: "Last checked",
    callback_title: "Ask for a call back",
    callback_lead: "Leave a first name and phone number and the intake team will call you. Only this program's staff see it.",
    your_name: "First name (or a name to ask for)",
    your_phone: "Phone number",
    best_time: "Best time to call",
    callback_consent: "I agree that this program may call me at this number about treatment.",
    send: "Send",
    callback_thanks: "Thank you. The intake team will call you. If you need help sooner, call the number above or the helpline.",
    callback_limited: "This number or this device has sent several requests already; the intake team has them. If you need help now, call the program or the helpline.",
    for_whom: "Who needs help?",
    for_me: "I do",
    for_other: "Someone else (my child, partner, a friend …)",
    their_name: "Their first name (optional)",
    relation: "You are their … (for example mother, partner, friend; optional)",
    err_name: "please write a first name (up to 80 letters) for the team to ask for",
    err_phone: "please write a phone number with 10 digits, like 410-555-0123",
    err_consent: "please tick the box that lets the program call this number",
};

pub const ES: Text = Text {
    lang: "es",
    other_lang: "en",
    other_lang_name: "English",
    title: "Encuentre tratamiento para el uso de opioides",
    crisis: "¿En crisis o pensando en el suicidio? Llame o envíe un texto al 988.",
    helpline: "Ayuda gratuita y confidencial para encontrar tratamiento, 24/7: Línea Nacional de Ayuda de SAMHSA",
    lead: "Busque programas cerca de usted que tratan la adicción a los opioides: desintoxicación, residencial, ambulatorio y clínicas de metadona o buprenorfina.",
    near_label: "Código postal o ciudad",
    near_hint: "Por ejemplo 21201, o Baltimore, MD",
    radius_label: "Distancia",
    any_distance: "Cualquier distancia",
    miles: "millas",
    filters: "Mostrar solo programas que ofrecen",
    search: "Buscar",
    results: "programas encontrados",
    none_found: "Ningún programa coincide. Pruebe una distancia mayor o menos opciones, o llame a la línea de ayuda.",
    unlisted_h: "Servicios no indicados — llame para preguntar",
    nearest_h: "Nada dentro de esta distancia. Los programas más cercanos:",
    unlisted_hint: "Estos programas no indicaron sus servicios en el directorio nacional. Puede que ofrezcan lo que necesita: llame y pregunte.",
    call: "Llamar",
    main_line: "línea principal",
    intake_line: "admisiones",
    source: "Fuente",
    source_live: "el propio programa, por Carepath; revisado el",
    copied_on: "copiado a Carepath el",
    call_first: "Los datos cambian: llame antes de ir.",
    change_search: "Cambiar la búsqueda",
    jump_results: "Ir a los resultados",
    details: "Detalles",
    previous: "Anterior",
    next: "Siguiente",
    page: "Página",
    services: "Servicios",
    address: "Dirección",
    hours: "Horario",
    hours_unknown: "Llame para confirmar el horario y si pueden atenderle.",
    other_codes: "Otros servicios listados (códigos de SAMHSA)",
    privacy: "Carepath no guarda sus búsquedas ni usa cookies en estas páginas.",
    back: "Volver a los resultados",
    error_prefix: "Por favor revise",
    miles_away: "millas",
    live_title: "Ahora mismo (actualizado por el programa)",
    accepting: "Acepta pacientes nuevos",
    not_accepting: "No acepta pacientes nuevos por el momento",
    open_beds: "Camas disponibles",
    waitlist: "Espera para ingresar",
    days: "días",
    same_day: "Puede empezar el medicamento el mismo día",
    verified: "Revisado por última vez",
    callback_title: "Pida que le llamen",
    callback_lead: "Deje un nombre y un teléfono y el equipo de admisión le llamará. Solo el personal de este programa lo ve.",
    your_name: "Nombre (o un nombre por el que preguntar)",
    your_phone: "Número de teléfono",
    best_time: "Mejor hora para llamar",
    callback_consent: "Acepto que este programa me llame a este número sobre el tratamiento.",
    send: "Enviar",
    callback_thanks: "Gracias. El equipo de admisión le llamará. Si necesita ayuda antes, llame al número de arriba o a la línea de ayuda.",
    callback_limited: "Este número o este dispositivo ya envió varias solicitudes; el equipo de admisión las tiene. Si necesita ayuda ahora, llame al programa o a la línea de ayuda.",
    for_whom: "¿Quién necesita ayuda?",
    for_me: "Yo",
    for_other: "Otra persona (mi hijo o hija, mi pareja, una amistad …)",
    their_name: "Su nombre (opcional)",
    relation: "Usted es su … (por ejemplo madre, pareja, amistad; opcional)",
    err_name: "escriba un nombre (hasta 80 letras) por el que el equipo pueda preguntar",
    err_phone: "escriba un teléfono de 10 dígitos, por ejemplo 410-555-0123",
    err_consent: "marque la casilla que permite al programa llamar a este número",
};

/// A friendly filter: any of its codes qualifies.
pub struct Filter {
    pub key: &'static str,
    pub en: &'static str,
    pub es: &'static str,
    pub codes: &'static [&'static str],
}

pub const FILTERS: &[Filter] = &[
    Filter {
        key: "methadone",
        en: "Methadone",
        es: "Metadona",
        codes: &["METH", "MU", "OTP", "MM"],
    },
    Filter {
        key: "buprenorphine",
        en: "Buprenorphine",
        es: "Buprenorfina",
        codes: &["BU", "BUM", "BWN", "BWON", "BERI", "UB", "DB"],
    },
    Filter {
        key: "naltrexone",
        en: "Naltrexone",
        es: "Naltrexona",
        codes: &["NU", "NXN", "VTRL", "UN", "RPN"],
    },
    Filter {
        key: "detox",
        en: "Detox",
        es: "Desintoxicación",
        codes: &["DT", "OD", "RD", "HID"],
    },
    Filter {
        key: "residential",
        en: "Residential care",
        es: "Tratamiento residencial",
        codes: &["RES", "RS", "RL"],
    },
    Filter {
        key: "outpatient",
        en: "Outpatient care",
        es: "Tratamiento ambulatorio",
        codes: &["OP", "ORT", "OIT", "OMB"],
    },
    Filter {
        key: "medicaid",
        en: "Takes Medicaid",
        es: "Acepta Medicaid",
        codes: &["MD"],
    },
    Filter {
        key: "medicare",
        en: "Takes Medicare",
        es: "Acepta Medicare",
        codes: &["MC"],
    },
    Filter {
        key: "insurance",
        en: "Takes private insurance",
        es: "Acepta seguro privado",
        codes: &["PI"],
    },
    Filter {
        key: "free",
        en: "Free or sliding fee",
        es: "Gratis o tarifa reducida",
        codes: &["NP", "SS", "PA"],
    },
    Filter {
        key: "pregnant",
        en: "Pregnant or postpartum women",
        es: "Mujeres embarazadas o posparto",
        codes: &["PW"],
    },
    Filter {
        key: "veterans",
        en: "Veterans",
        es: "Veteranos",
        codes: &["VET"],
    },
    Filter {
        key: "cooccurring",
        en: "Mental health care too",
        es: "También salud mental",
        codes: &["CO", "SUMH", "MHS"],
    },
    Filter {
        key: "spanish",
        en: "Services in Spanish",
        es: "Servicios en español",
        codes: &["SP"],
    },
];

/// The interface language: `lang=` wins, else the browser's Accept-Language.
pub fn text_for(lang: Option<&str>, headers: &HeaderMap) -> &'static Text {
    match lang {
        Some("es") => &ES,
        Some(_) => &EN,
        None => {
            let accept = headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if accept.trim_start().to_ascii_lowercase().starts_with("es") {
                &ES
            } else {
                &EN
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct FindParams {
    pub lang: Option<String>,
    pub near: Option<String>,
    pub radius: Option<String>,
    pub page: Option<usize>,
    /// Filter keys (repeated `f=`), comma-joined by the form decoder.
    #[serde(default)]
    pub f: Vec<String>,
}

pub struct FilterView {
    pub key: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

pub struct ResultView {
    pub id: String,
    pub name: String,
    pub name2: Option<String>,
    pub address: String,
    pub phones: Vec<PhoneView>,
    pub source: String,
    pub distance: String,
    pub highlights: Vec<&'static str>,
}

/// A number to call, as a link that dials it (with its extension).
pub struct PhoneView {
    /// "main line", "intake"; empty when the listing has one number.
    pub label: &'static str,
    pub tel: String,
    pub display: String,
}

/// Every number of a listing, each dialable with its extension.
pub fn phone_views(f: &carepath_finder::Facility, t: &Text) -> Vec<PhoneView> {
    let phones = f.phones();
    let one = phones.len() == 1;
    phones
        .iter()
        .map(|p| PhoneView {
            label: match (one, p.usage) {
                (true, _) => "",
                (false, carepath_finder::model::PhoneUse::Main) => t.main_line,
                (false, carepath_finder::model::PhoneUse::Intake) => t.intake_line,
            },
            tel: p.tel(),
            display: p.display(),
        })
        .collect()
}

/// Where a listing comes from and how old it is: "Source: SAMHSA National
/// Directory, 2017; SAMHSA treatment locator listing — copied into Carepath
/// on 2026-12-01. Details change: call before you go."
pub fn source_line(f: &carepath_finder::Facility, t: &Text) -> String {
    let es = t.lang == "es";
    if let Some(l) = &f.live {
        return format!("{}: {} {}.", t.source, t.source_live, l.last_verified);
    }
    let names: Vec<&str> = f
        .sources
        .iter()
        .map(|s| match (s.as_str(), es) {
            ("samhsa-keys", false) => "SAMHSA National Directory, 2017",
            ("samhsa-keys", true) => "Directorio Nacional de SAMHSA, 2017",
            ("samhsa-csv", false) => "SAMHSA treatment locator listing",
            ("samhsa-csv", true) => "listado del localizador de tratamiento de SAMHSA",
            ("otp-directory", false) => "SAMHSA opioid treatment program directory",
            ("otp-directory", true) => {
                "directorio de programas de tratamiento de opioides de SAMHSA"
            }
            (_, false) => "a public directory",
            (_, true) => "un directorio público",
        })
        .collect();
    let mut line = format!("{}: {}", t.source, names.join("; "));
    if let Some(d) = &f.updated {
        line.push_str(&format!(" — {} {d}", t.copied_on));
    }
    format!("{line}. {}", t.call_first)
}

#[derive(Template)]
#[template(path = "find.html")]
struct FindPage {
    t: &'static Text,
    near: String,
    radius: String,
    /// (value, label, selected, in miles)
    radii: Vec<(&'static str, &'static str, bool, bool)>,
    filters: Vec<FilterView>,
    chosen: usize,
    error: Option<String>,
    searched: bool,
    /// "Near 21201 · 25 miles · 2 choices": the search, above its results.
    summary: String,
    total: usize,
    results: Vec<ResultView>,
    /// Nearby listings without services (a filtered search cannot rule
    /// them out), after the last page of matches.
    unlisted: Vec<ResultView>,
    /// When nothing matches within the distance: the nearest that match at
    /// any distance, with how far they are.
    nearest: Vec<ResultView>,
    page: usize,
    prev_link: Option<String>,
    next_link: Option<String>,
    self_query: String,
    /// The same search in the other language (place, filters, page kept).
    switch: String,
    from: String,
    map_view_box: String,
    map_r: f64,
    map_center: (f64, f64),
    pins: Vec<crate::map::Pin>,
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The query string as ordered pairs (repeated keys such as `f=` kept).
pub fn query_pairs(uri: &axum::http::Uri) -> Vec<(String, String)> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

/// `GET /find`: the search form, and results when a place is given.
pub async fn find(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    // Repeated `f=` keys need the ordered pair list.
    let pairs = query_pairs(&uri);
    let get = |k: &str| pairs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let p = FindParams {
        lang: get("lang"),
        near: get("near"),
        radius: get("radius"),
        page: get("page").and_then(|v| v.parse().ok()),
        f: pairs
            .iter()
            .filter(|(k, _)| k == "f")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let t = text_for(p.lang.as_deref(), &headers);
    let near = p.near.clone().unwrap_or_default();
    let radius = p.radius.clone().unwrap_or_else(|| "25".into());
    let chosen: Vec<&Filter> = FILTERS
        .iter()
        .filter(|f| p.f.iter().any(|k| k == f.key))
        .collect();
    let filters = FILTERS
        .iter()
        .map(|f| FilterView {
            key: f.key,
            label: if t.lang == "es" { f.es } else { f.en },
            checked: chosen.iter().any(|c| c.key == f.key),
        })
        .collect();
    let radii = [
        ("5", "5"),
        ("10", "10"),
        ("25", "25"),
        ("50", "50"),
        ("100", "100"),
        ("any", t.any_distance),
    ]
    .into_iter()
    .map(|(v, l)| (v, l, v == radius, v != "any"))
    .collect();
    let mut page = FindPage {
        t,
        near: near.clone(),
        radius: radius.clone(),
        radii,
        filters,
        chosen: chosen.len(),
        error: None,
        searched: false,
        summary: String::new(),
        total: 0,
        results: vec![],
        unlisted: vec![],
        nearest: vec![],
        page: p.page.unwrap_or(1).max(1),
        prev_link: None,
        next_link: None,
        self_query: String::new(),
        switch: String::new(),
        from: String::new(),
        map_view_box: String::new(),
        map_r: 1.0,
        map_center: (0.0, 0.0),
        pins: vec![],
    };
    let mut status = StatusCode::OK;
    if !near.trim().is_empty() {
        let idx = state.app.finder.get();
        let sp = SearchParams {
            near: Some(near.clone()),
            radius_mi: radius.parse().ok(),
            codes: None,
            page: Some(page.page),
            page_size: Some(10),
        };
        match parse_query(&idx, &sp) {
            Ok((mut q, _)) => {
                q.any_of = chosen
                    .iter()
                    .map(|f| f.codes.iter().map(|c| c.to_string()).collect())
                    .collect();
                let r = idx.search(&q);
                page.searched = true;
                let es = t.lang == "es";
                let mut summary =
                    format!("{} {}", if es { "Cerca de" } else { "Near" }, near.trim());
                summary.push_str(&match q.radius_mi {
                    Some(r) => format!(" · {r} {}", t.miles),
                    None => format!(" · {}", t.any_distance.to_lowercase()),
                });
                match (chosen.len(), es) {
                    (0, _) => {}
                    (1, _) => summary.push_str(&format!(
                        " · {}",
                        if es { chosen[0].es } else { chosen[0].en }
                    )),
                    (n, false) => summary.push_str(&format!(" · {n} choices")),
                    (n, true) => summary.push_str(&format!(" · {n} opciones")),
                }
                page.summary = summary;
                page.total = r.total;
                let view = |h: &carepath_finder::index::Hit<'_>| {
                    let f = h.facility;
                    ResultView {
                        id: f.id.clone(),
                        name: f.name.clone(),
                        name2: f.name2.clone(),
                        address: format!("{}, {}, {} {}", f.street, f.city, f.state, f.zip),
                        phones: phone_views(f, t),
                        source: source_line(f, t),
                        distance: format!("{:.1}", h.distance_mi),
                        highlights: FILTERS
                            .iter()
                            .filter(|x| x.codes.iter().any(|c| f.codes.iter().any(|fc| fc == c)))
                            .map(|x| if t.lang == "es" { x.es } else { x.en })
                            .take(6)
                            .collect(),
                    }
                };
                page.results = r.hits.iter().map(view).collect();
                // Unknown is not "no": after the last page of matches, the
                // nearest listings that name no services at all.
                if page.page * 10 >= r.total {
                    page.unlisted = idx.unlisted(&q, 10).iter().map(view).collect();
                }
                // Nothing within the distance: say how far the nearest are
                // rather than "0 found".
                if r.total == 0 && q.radius_mi.is_some() {
                    let anywhere = carepath_finder::Query {
                        radius_mi: None,
                        page: 1,
                        page_size: 3,
                        ..q.clone()
                    };
                    page.nearest = idx.search(&anywhere).hits.iter().map(view).collect();
                }
                let mut base = format!(
                    "/find?lang={}&near={}&radius={}",
                    t.lang,
                    enc(&near),
                    enc(&radius)
                );
                for f in &chosen {
                    base.push_str(&format!("&f={}", f.key));
                }
                page.self_query = base.clone();
                page.switch = base.replacen(
                    &format!("lang={}", t.lang),
                    &format!("lang={}", t.other_lang),
                    1,
                );
                if page.page > 1 {
                    page.switch.push_str(&format!("&page={}", page.page));
                }
                // The map: pins for this page's results around the search point.
                page.map_center = crate::map::project(q.lat, q.lon);
                page.from = format!("{:.5},{:.5}", q.lat, q.lon);
                page.pins = r
                    .hits
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        let (x, y) = crate::map::project(h.facility.latitude, h.facility.longitude);
                        crate::map::Pin {
                            x,
                            y,
                            label: h.facility.name.clone(),
                            number: (page.page - 1) * 10 + i + 1,
                        }
                    })
                    .collect();
                (page.map_view_box, page.map_r) = crate::map::view_box(page.map_center, &page.pins);
                if page.page > 1 {
                    page.prev_link = Some(format!("{base}&page={}", page.page - 1));
                }
                if page.page * 10 < r.total {
                    page.next_link = Some(format!("{base}&page={}", page.page + 1));
                }
            }
            Err(crate::error::AppError::Invalid(e)) => {
                page.error = e.first().map(|f| f.message.clone());
                status = StatusCode::UNPROCESSABLE_ENTITY;
            }
            Err(_) => status = StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    // This page may ask for the position ("Use my location"); every other
    // page keeps geolocation off.
    (
        status,
        [(
            axum::http::header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(self)",
        )],
        render(&page),
    )
        .into_response()
}

pub struct ServiceGroup {
    pub name: String,
    pub items: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "facility.html")]
struct FacilityPage {
    t: &'static Text,
    name: String,
    name2: Option<String>,
    street: String,
    city_line: String,
    phones: Vec<PhoneView>,
    source: String,
    groups: Vec<ServiceGroup>,
    unknown: Vec<String>,
    back: String,
    id: String,
    live: Option<carepath_finder::model::Live>,
    message: Option<&'static str>,
    form_error: Option<String>,
    /// What was typed into the call-back form (kept on an error).
    form: CallbackForm,
    directions: Option<String>,
    /// This facility in the other language, with the way back kept.
    switch: String,
}

fn category_name(cat: &str, es: bool) -> &'static str {
    match (cat, es) {
        ("type_of_care", false) => "Type of care",
        ("type_of_care", true) => "Tipo de atención",
        ("setting", false) => "Where care happens",
        ("setting", true) => "Dónde se atiende",
        ("medication", false) => "Medications",
        ("medication", true) => "Medicamentos",
        ("payment", false) => "Payment",
        ("payment", true) => "Pago",
        ("population", false) => "Programs for",
        ("population", true) => "Programas para",
        ("age", false) => "Ages",
        ("age", true) => "Edades",
        ("gender", false) => "Accepts",
        ("gender", true) => "Acepta",
        ("language", false) => "Languages",
        ("language", true) => "Idiomas",
        ("ancillary", false) => "Other help",
        ("ancillary", true) => "Otra ayuda",
        (_, false) => "Approaches",
        (_, true) => "Enfoques",
    }
}

impl FacilityPage {
    /// A facility page with its identity, address and live information; no service
    /// list, message or directions.
    fn new(t: &'static Text, f: &carepath_finder::Facility, back: String) -> Self {
        FacilityPage {
            t,
            name: f.name.clone(),
            name2: f.name2.clone(),
            street: f.street.clone(),
            city_line: format!("{}, {} {}", f.city, f.state, f.zip),
            phones: phone_views(f, t),
            source: source_line(f, t),
            groups: vec![],
            unknown: vec![],
            back,
            id: f.id.clone(),
            live: f.live.clone(),
            message: None,
            form_error: None,
            form: CallbackForm::default(),
            directions: None,
            switch: format!("/find/facility/{}?lang={}", enc(&f.id), t.other_lang),
        }
    }
}

#[derive(Deserialize)]
pub struct LangParam {
    lang: Option<String>,
    back: Option<String>,
    /// "lat,lon" of the search, for directions text.
    from: Option<String>,
}

/// "About 3.2 miles (5.1 km) northeast of where you searched."
pub fn directions(from: (f64, f64), to: (f64, f64), es: bool) -> String {
    let miles = carepath_finder::geo::haversine_mi(from.0, from.1, to.0, to.1);
    let (p1, p2) = (from.0.to_radians(), to.0.to_radians());
    let dl = (to.1 - from.1).to_radians();
    let bearing = (dl.sin() * p2.cos())
        .atan2(p1.cos() * p2.sin() - p1.sin() * p2.cos() * dl.cos())
        .to_degrees()
        .rem_euclid(360.0);
    let names_en = [
        "north",
        "northeast",
        "east",
        "southeast",
        "south",
        "southwest",
        "west",
        "northwest",
    ];
    let names_es = [
        "norte", "noreste", "este", "sureste", "sur", "suroeste", "oeste", "noroeste",
    ];
    let k = (((bearing + 22.5) / 45.0) as usize) % 8;
    if es {
        format!(
            "A unas {:.1} millas ({:.1} km) al {} de donde buscó.",
            miles,
            miles * 1.609344,
            names_es[k]
        )
    } else {
        format!(
            "About {:.1} miles ({:.1} km) {} of where you searched.",
            miles,
            miles * 1.609344,
            names_en[k]
        )
    }
}

#[derive(Template)]
#[template(path = "public_404.html")]
struct PublicNotFound {
    t: &'static Text,
}

/// The public's "not found": in the finder's frame (help lines, language,
/// the way to the finder), never the staff sign-in. 404.
pub fn not_found(headers: &HeaderMap, lang: Option<&str>) -> Response {
    let t = text_for(lang, headers);
    match (PublicNotFound { t }).render() {
        Ok(html) => (
            axum::http::StatusCode::NOT_FOUND,
            axum::response::Html(html),
        )
            .into_response(),
        Err(e) => crate::error::Respond::html(crate::error::AppError::Internal(e.to_string())),
    }
}

/// `GET /find/facility/{id}`.
pub async fn facility(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LangParam>,
) -> Response {
    let t = text_for(q.lang.as_deref(), &headers);
    let idx = state.app.finder.get();
    let Some(f) = idx.get(&id) else {
        return not_found(&headers, q.lang.as_deref());
    };
    let es = t.lang == "es";
    let mut groups: Vec<ServiceGroup> = vec![];
    let mut unknown = vec![];
    for c in &f.codes {
        match carepath_finder::codes::describe(c) {
            Some((cat, label_en)) => {
                let label = if es {
                    carepath_finder::codes::label_es(c).unwrap_or(label_en)
                } else {
                    label_en
                };
                let name = category_name(cat, es).to_string();
                match groups.iter_mut().find(|g| g.name == name) {
                    Some(g) => {
                        if !g.items.contains(&label) {
                            g.items.push(label)
                        }
                    }
                    None => groups.push(ServiceGroup {
                        name,
                        items: vec![label],
                    }),
                }
            }
            None => unknown.push(c.clone()),
        }
    }
    // Only return to a results page of this site.
    let back = q
        .back
        .filter(|b| b.starts_with("/find?"))
        .unwrap_or_else(|| format!("/find?lang={}", t.lang));
    let other_back = back.replacen(
        &format!("lang={}", t.lang),
        &format!("lang={}", t.other_lang),
        1,
    );
    let mut switch = format!(
        "/find/facility/{}?lang={}&back={}",
        enc(&f.id),
        t.other_lang,
        enc(&other_back)
    );
    if let Some(from) = q.from.as_deref() {
        switch.push_str(&format!("&from={}", enc(from)));
    }
    let page = FacilityPage {
        switch,
        groups,
        unknown,
        directions: q.from.as_deref().and_then(|s| {
            let (a, b) = s.split_once(',')?;
            let from = (a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?);
            carepath_finder::geo::valid(from.0, from.1)
                .then(|| directions(from, (f.latitude, f.longitude), es))
        }),
        ..FacilityPage::new(t, f, back)
    };
    render(&page).into_response()
}

#[derive(Deserialize, Default, Clone)]
pub struct CallbackForm {
    #[serde(default)]
    lang: String,
    /// The caller's name.
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    best_time: String,
    #[serde(default)]
    consent: Option<String>,
    /// `me` or `other`: the caller may be a parent, a partner, a friend.
    #[serde(default)]
    for_whom: String,
    /// The first name of the person who needs help, when not the caller.
    #[serde(default)]
    their_name: String,
    /// How the caller knows them (mother, partner …).
    #[serde(default)]
    relation: String,
    /// Honeypot: hidden from people; bots fill it.
    #[serde(default)]
    website: String,
}

/// `POST /find/facility/{id}/callback`: a call-back request into the program's intake queue.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    from: crate::client::ClientInfo,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<CallbackForm>,
) -> Response {
    let t = text_for(Some(form.lang.as_str()).filter(|l| !l.is_empty()), &headers);
    let idx = state.app.finder.get();
    let Some(f) = idx.get(&id) else {
        return not_found(&headers, Some(t.lang));
    };
    let Some(live) = f.live.clone() else {
        return crate::error::Respond::html(crate::error::AppError::NotFound);
    };
    let page = |message: Option<&'static str>, form_error: Option<String>| FacilityPage {
        message,
        form_error,
        form: form.clone(),
        ..FacilityPage::new(t, f, format!("/find?lang={}", t.lang))
    };
    // A filled honeypot gets the same thanks and stores nothing.
    if !form.website.trim().is_empty() {
        return render(&page(Some(t.callback_thanks), None)).into_response();
    }
    let name = form.name.trim();
    let digits: String = form.phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut errs: Vec<String> = vec![];
    if name.is_empty() || name.chars().count() > 80 {
        errs.push(format!("{}: {}", t.your_name, t.err_name));
    }
    if !(10..=15).contains(&digits.len()) {
        errs.push(format!("{}: {}", t.your_phone, t.err_phone));
    }
    if form.consent.is_none() {
        errs.push(t.err_consent.to_string());
    }
    if !errs.is_empty() {
        // Everything typed comes back; nothing counts against the limits.
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&page(None, Some(errs.join("; ")))),
        )
            .into_response();
    }
    // Only requests that would be stored count: a generous allowance per
    // client address (a family, a shared clinic computer) and a tight one
    // per phone number (the same number cannot flood the queue).
    if !state.callback_limiter.check(from.ip) || !state.callback_phone_limiter.check(&digits) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            render(&page(None, Some(t.callback_limited.to_string()))),
        )
            .into_response();
    }
    let for_other = form.for_whom == "other";
    let their: String = form.their_name.trim().chars().take(80).collect();
    let relation: String = form.relation.trim().chars().take(40).collect();
    // The request is for the person who needs help: their name when the
    // caller gave it; the caller is named in the note for the team.
    let (request_name, note) = if for_other {
        (
            if their.is_empty() {
                name.to_string()
            } else {
                their.clone()
            },
            Some(format!(
                "Call-back asked by someone else: {name}{} is calling for {}.",
                if relation.is_empty() {
                    String::new()
                } else {
                    format!(" ({relation})")
                },
                if their.is_empty() {
                    "a person they did not name".to_string()
                } else {
                    their.clone()
                }
            )),
        )
    } else {
        (name.to_string(), None)
    };
    let Ok(program) = live.program_id.parse::<carepath_domain::ids::ProgramId>() else {
        return crate::error::Respond::html(crate::error::AppError::NotFound);
    };
    let r = carepath_app::model::NewReferral {
        name: request_name,
        phone: form.phone.trim().chars().take(30).collect(),
        best_time: form.best_time.trim().chars().take(80).collect(),
        note,
        language: t.lang.to_string(),
    };
    match carepath_app::intake::request_callback(&state.app, program, &r, Some(from.ip.to_string()))
        .await
    {
        Ok(_) => render(&page(Some(t.callback_thanks), None)).into_response(),
        Err(e) => crate::error::Respond::html(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_links() {
        let mut f = carepath_finder::Facility {
            id: "x".into(),
            name: "X".into(),
            name2: None,
            street: "1 Main St".into(),
            city: "Baltimore".into(),
            state: "MD".into(),
            zip: "21201".into(),
            phone: Some("(410)225-8240x12 Intake: (410)225-8230".into()),
            latitude: 39.29,
            longitude: -76.61,
            codes: vec![],
            sources: vec!["samhsa-keys".into(), "samhsa-csv".into()],
            live: None,
            updated: Some("2026-12-01".into()),
        };
        let v = phone_views(&f, &EN);
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].label, v[0].tel.as_str()),
            ("main line", "tel:+14102258240,12")
        );
        assert_eq!(v[0].display, "(410) 225-8240 ext. 12");
        assert_eq!(
            (v[1].label, v[1].tel.as_str()),
            ("intake", "tel:+14102258230")
        );
        assert_eq!(
            source_line(&f, &EN),
            "Source: SAMHSA National Directory, 2017; SAMHSA treatment locator listing — copied into Carepath on 2026-12-01. Details change: call before you go."
        );
        f.phone = Some("555-1234".into());
        assert!(phone_views(&f, &EN).is_empty());
        assert_eq!(enc("Baltimore, MD"), "Baltimore%2C+MD");
        // Baltimore to Philadelphia: about 90 miles northeast.
        let d = directions((39.2904, -76.6122), (39.9526, -75.1652), false);
        assert!(d.starts_with("About 89.") && d.contains("northeast"), "{d}");
        assert!(directions((39.0, -76.0), (38.0, -76.0), true).contains("al sur"));
    }
}
