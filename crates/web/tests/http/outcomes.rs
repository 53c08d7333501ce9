//! The director's outcomes page and its CSV.

use super::*;

// Someone who asked for a call back is registered from the request and
// admitted: the outcomes page times the way from the call to the admission,
// draws its charts with words beside them, and gives the same figures as
// CSV — to the program's staff only.
carepath_testkit::both!(outcomes_time_the_call_and_show_charts_and_csv, |db| {
    let w = World::new(db).await;
    let base = &w.base;
    // The intake coordinator works in both programs.
    carepath_app::admin::change_role(
        &w.app,
        &carepath_testkit::system(),
        w.user(Role::Intake).0,
        &w.b.to_string(),
        "intake",
        true,
    )
    .await
    .unwrap();
    let intake = login(&w, "u.intake", false).await;
    register_from_callback(&w, &intake, "Casey's mother", "opioid_treatment_program").await;

    let page = get_text(&intake, format!("{base}/dashboard/outcomes")).await;
    assert!(page.contains("<h1>Outcomes: A</h1>"), "{page}");
    assert_eq!(page.matches("<svg").count(), 6, "six charts: {page}");
    assert!(
        page.contains("<desc") && page.contains("missed doses"),
        "{page}"
    );
    assert!(
        page.contains("From first call to admission and first dose"),
        "{page}"
    );
    // Every program the user sees, combined.
    assert!(page.contains("value=\"all\""), "{page}");
    let all = get_text(&intake, format!("{base}/dashboard/outcomes?program=all")).await;
    assert!(all.contains("<h1>Outcomes: All programs</h1>"), "{all}");
    let b = get_text(
        &intake,
        format!("{base}/dashboard/outcomes?program={}", w.b),
    )
    .await;
    assert!(b.contains("<h1>Outcomes: B</h1>"), "{b}");

    let timing = get_text(
        &intake,
        format!("{base}/dashboard/outcomes.csv?program={}&table=timing", w.a),
    )
    .await;
    let mut lines = timing.lines();
    assert_eq!(
        lines.next(),
        Some(
            "program,month,admissions,from_call,dosed,median_hours_call_to_admission,median_hours_call_to_first_dose,median_hours_admission_to_first_dose"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 12, "{timing}");
    let now = rows.last().unwrap();
    assert_eq!(&now[..5], ["A", now[1], "1", "1", "0"], "{timing}");
    let hours: f64 = now[5].parse().unwrap();
    assert!((0.0..1.0).contains(&hours), "{timing}");

    let months = get_text(
        &intake,
        format!("{base}/dashboard/outcomes.csv?table=months"),
    )
    .await;
    assert!(
        months.starts_with("program,month,days,doses,take_home_doses"),
        "{months}"
    );
    assert_eq!(
        months.lines().count(),
        13,
        "one program by default: {months}"
    );
    let months = get_text(
        &intake,
        format!("{base}/dashboard/outcomes.csv?program=all&table=months"),
    )
    .await;
    assert!(
        months
            .lines()
            .skip(1)
            .all(|l| l.starts_with("All programs,")),
        "{months}"
    );

    let r = intake
        .get(format!("{base}/dashboard/outcomes.csv?table=names"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("table"));
    // An auditor reads the audit trail, not the program's figures.
    let auditor = login(&w, "u.auditor", false).await;
    let r = auditor
        .get(format!("{base}/dashboard/outcomes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The view is in the audit trail.
    let n = w
        .store()
        .audit_events(&carepath_store::AuditFilter {
            action: Some("dashboard.outcomes".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap()
        .events
        .len();
    assert!(n >= 6, "{n}");
});
