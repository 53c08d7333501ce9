//! `GET /find/options`: the anonymous "Know your options" self-screen. The
//! answers travel only in this request; nothing is stored or logged.

use crate::AppState;
use crate::public::Text;
use crate::views::render;
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use carepath_finder::selfscreen::{Answers, Kind, advise};

type Opt = (&'static str, &'static str, &'static str);

/// (field, question EN, question ES, options (value, EN, ES)).
const QUESTIONS: &[(&str, &str, &str, &[Opt])] = &[
    (
        "uses",
        "What do you use?",
        "¿Qué usa?",
        &[
            (
                "heroin_fentanyl",
                "Heroin or fentanyl",
                "Heroína o fentanilo",
            ),
            (
                "pills",
                "Pain pills or other opioids",
                "Pastillas para el dolor u otros opioides",
            ),
            ("other", "Something else", "Otra cosa"),
        ],
    ),
    (
        "last_use",
        "When did you last use?",
        "¿Cuándo usó por última vez?",
        &[
            ("today", "Today", "Hoy"),
            ("days", "1–3 days ago", "Hace 1 a 3 días"),
            ("week", "4–7 days ago", "Hace 4 a 7 días"),
            ("longer", "More than a week ago", "Hace más de una semana"),
        ],
    ),
    (
        "withdrawal",
        "When you stop, how bad is withdrawal?",
        "Cuando deja de usar, ¿qué tan fuerte es la abstinencia?",
        &[
            (
                "none",
                "I haven't had withdrawal",
                "No he tenido abstinencia",
            ),
            (
                "mild",
                "Uncomfortable but I get through it",
                "Incómoda pero la aguanto",
            ),
            (
                "severe",
                "Very bad: vomiting, can't function",
                "Muy fuerte: vómitos, no puedo funcionar",
            ),
        ],
    ),
    (
        "pregnant",
        "Are you pregnant?",
        "¿Está embarazada?",
        &[("no", "No", "No"), ("yes", "Yes or maybe", "Sí o tal vez")],
    ),
    (
        "mental_health",
        "How is your mood lately?",
        "¿Cómo ha estado su ánimo?",
        &[
            ("ok", "Mostly okay", "Casi siempre bien"),
            (
                "struggling",
                "Depressed or anxious a lot",
                "Deprimido/a o ansioso/a a menudo",
            ),
            (
                "suicidal",
                "I have thoughts of ending my life",
                "Pienso en quitarme la vida",
            ),
        ],
    ),
    (
        "living",
        "Where are you living?",
        "¿Dónde vive?",
        &[
            (
                "stable",
                "A safe place with support",
                "Un lugar seguro con apoyo",
            ),
            (
                "unstable",
                "With people who use, or not safe",
                "Con personas que usan, o no es seguro",
            ),
            ("homeless", "No stable place", "Sin un lugar estable"),
        ],
    ),
    (
        "insurance",
        "How would you pay?",
        "¿Cómo pagaría?",
        &[
            ("medicaid", "Medicaid", "Medicaid"),
            ("medicare", "Medicare", "Medicare"),
            ("private", "Private insurance", "Seguro privado"),
            ("none", "No insurance", "Sin seguro"),
        ],
    ),
    (
        "medication",
        "Would you take medication such as methadone or buprenorphine?",
        "¿Tomaría medicamentos como metadona o buprenorfina?",
        &[
            ("yes", "Yes", "Sí"),
            ("unsure", "Not sure", "No estoy seguro/a"),
            ("no", "No", "No"),
        ],
    ),
    (
        "residential",
        "Could you stay at a treatment center for a few weeks?",
        "¿Podría quedarse en un centro de tratamiento unas semanas?",
        &[
            ("can_go", "Yes, if needed", "Sí, si hace falta"),
            (
                "must_stay",
                "No, I need to keep working or caring for someone",
                "No, necesito seguir trabajando o cuidando a alguien",
            ),
        ],
    ),
];

fn kind_text(k: Kind, es: bool) -> (&'static str, &'static str) {
    match (k, es) {
        (Kind::Crisis, false) => (
            "Help right now",
            "You deserve support today. Call or text 988 any time, day or night. If you are in danger, call 911.",
        ),
        (Kind::Crisis, true) => (
            "Ayuda ahora mismo",
            "Usted merece apoyo hoy. Llame o envíe un texto al 988 a cualquier hora. Si está en peligro, llame al 911.",
        ),
        (Kind::Medication, false) => (
            "Medication: methadone or buprenorphine",
            "The most effective treatment for opioid addiction. It eases withdrawal and cravings and lowers the risk of dying from an overdose. Methadone comes from a clinic, usually daily at first; buprenorphine can also be prescribed by a doctor's office.",
        ),
        (Kind::Medication, true) => (
            "Medicamento: metadona o buprenorfina",
            "El tratamiento más eficaz para la adicción a los opioides. Alivia la abstinencia y los deseos de usar y reduce el riesgo de morir por sobredosis. La metadona se recibe en una clínica, al principio casi a diario; la buprenorfina también la puede recetar un consultorio médico.",
        ),
        (Kind::Detox, false) => (
            "Medically supervised detox",
            "Staff help you through withdrawal safely over several days, with medicine for the symptoms. Detox alone is not treatment: plan what comes next.",
        ),
        (Kind::Detox, true) => (
            "Desintoxicación con supervisión médica",
            "El personal le ayuda a pasar la abstinencia con seguridad durante varios días, con medicamentos para los síntomas. La desintoxicación sola no es tratamiento: planee lo que sigue.",
        ),
        (Kind::Residential, false) => (
            "Residential treatment",
            "You live at the program for 30, 60 or 90 days or more, away from the people and places tied to using, with counseling every day.",
        ),
        (Kind::Residential, true) => (
            "Tratamiento residencial",
            "Vive en el programa 30, 60 o 90 días o más, lejos de las personas y lugares relacionados con el uso, con consejería todos los días.",
        ),
        (Kind::IntensiveOutpatient, false) => (
            "Intensive outpatient",
            "Treatment 3 to 7 days a week for a few hours a day, while you live at home.",
        ),
        (Kind::IntensiveOutpatient, true) => (
            "Tratamiento ambulatorio intensivo",
            "Tratamiento de 3 a 7 días por semana, unas horas al día, mientras vive en casa.",
        ),
        (Kind::Outpatient, false) => (
            "Outpatient counseling",
            "Regular sessions that fit around work and family.",
        ),
        (Kind::Outpatient, true) => (
            "Consejería ambulatoria",
            "Sesiones regulares que se adaptan al trabajo y la familia.",
        ),
        (Kind::SoberLiving, false) => (
            "Sober living",
            "A drug-free home with others in recovery, often after residential care.",
        ),
        (Kind::SoberLiving, true) => (
            "Vivienda sobria",
            "Un hogar libre de drogas con otras personas en recuperación, a menudo después del tratamiento residencial.",
        ),
        (Kind::MentalHealth, false) => (
            "Care for mood as well",
            "Many programs treat depression and anxiety alongside addiction.",
        ),
        (Kind::MentalHealth, true) => (
            "Atención también para el ánimo",
            "Muchos programas tratan la depresión y la ansiedad junto con la adicción.",
        ),
    }
}

pub struct QuestionView {
    pub field: &'static str,
    pub question: &'static str,
    pub options: Vec<(&'static str, &'static str, bool)>,
}

pub struct KindView {
    pub title: &'static str,
    pub text: &'static str,
}

#[derive(Template)]
#[template(path = "options.html")]
struct OptionsPage {
    t: &'static Text,
    questions: Vec<QuestionView>,
    answered: bool,
    kinds: Vec<KindView>,
    expect_withdrawal: bool,
    search_link: String,
}

pub async fn options(
    State(_state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let pairs = crate::public::query_pairs(&uri);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let lang = get("lang");
    let t: &'static Text =
        crate::public::text_for(Some(lang.as_str()).filter(|l| !l.is_empty()), &headers);
    let es = t.lang == "es";
    let answers = Answers {
        uses: get("uses"),
        last_use: get("last_use"),
        withdrawal: get("withdrawal"),
        pregnant: get("pregnant"),
        mental_health: get("mental_health"),
        living: get("living"),
        insurance: get("insurance"),
        medication: get("medication"),
        residential: get("residential"),
    };
    let answered = get("go") == "1";
    let questions = QUESTIONS
        .iter()
        .map(|(field, en, esq, opts)| {
            let chosen = get(field);
            QuestionView {
                field,
                question: if es { esq } else { en },
                options: opts
                    .iter()
                    .map(|(v, oe, os)| (*v, if es { *os } else { *oe }, chosen == *v))
                    .collect(),
            }
        })
        .collect();
    let advice = advise(&answers);
    let mut filters: Vec<&str> = advice
        .kinds
        .iter()
        .filter_map(|k| k.filter())
        .take(1)
        .collect();
    filters.extend(advice.filters.iter().copied());
    let mut search_link = format!("/find?lang={}&radius=25", t.lang);
    for f in filters {
        search_link.push_str(&format!("&f={f}"));
    }
    let page = OptionsPage {
        t,
        questions,
        answered,
        kinds: if answered {
            advice
                .kinds
                .iter()
                .map(|k| {
                    let (title, text) = kind_text(*k, es);
                    KindView { title, text }
                })
                .collect()
        } else {
            vec![]
        },
        expect_withdrawal: answered && advice.expect_withdrawal,
        search_link,
    };
    render(&page).into_response()
}
