//! The state report (issue 15, item 2): an episode whose intake asked the
//! TEDS items gives a complete admission and discharge record; an episode
//! whose intake did not is named, element by element, with its patient, in
//! the preview; the files download; the report is clinical staff's only.

use super::*;

carepath_testkit::both!(
    teds_names_an_incomplete_episode_and_exports_the_rest,
    |db| {
        let w = World::new(db).await;
        let base = &w.base;
        let (a, b) = (w.patient_a, w.patient_b);
        for (pid, level) in [(a, "withdrawal_management"), (b, "residential")] {
            carepath_app::chart::admit(
                &w.app,
                &system(),
                pid,
                &carepath_app::chart::AdmitInput {
                    program_id: w.a.to_string(),
                    level_of_care: level.into(),
                },
            )
            .await
            .unwrap();
        }
        let nurse = w.login(Role::Nurse).await;
        let today = jiff::Timestamp::now()
            .in_tz("America/Chicago")
            .unwrap()
            .date();
        let rec = |pid, k: &str| format!("{base}/api/v1/patients/{pid}/records/{k}");
        let mut complete = assessment_body();
        complete["teds"] = serde_json::json!({
            "requested_on": today.checked_sub(jiff::Span::new().days(3)).unwrap().to_string(),
            "referral_source": 1, "education": 3, "employment": 3, "living": 1, "marital": 1,
            "race": 5, "ethnicity": 4, "income": 5, "insurance": 2, "payment": 4,
            "arrests_30d": 0, "self_help_30d": 1
        });
        // A code not in its list is refused, naming the field.
        let mut bad = complete.clone();
        bad["teds"]["education"] = serde_json::json!(9);
        let (st, v) = post_json(&nurse, rec(a, "assessment"), bad).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert!(v.to_string().contains("teds.education"), "{v}");
        let (st, v) = post_json(&nurse, rec(a, "assessment"), complete).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        // Patient B's intake never asked the state-report items.
        let (st, v) = post_json(&nurse, rec(b, "assessment"), assessment_body()).await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let (st, v) = post_json(
            &nurse,
            format!("{base}/api/v1/patients/{a}/discharge"),
            serde_json::json!({
                "reason": 1,
                "summary": "Completed withdrawal management; stepping down to outpatient care.",
                "naloxone": {"education_given": true, "kit_given": true},
                "teds": {"frequencies": [1, 1], "employment": 3, "living": 3,
                         "arrests_30d": 0, "self_help_30d": 2}
            }),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");

        let q = format!("program={}&from={today}&to={today}", w.a);
        let page = get_text(&nurse, format!("{base}/reports/teds?{q}")).await;
        assert!(
            page.contains("2 admission records, 1 discharge records"),
            "{page}"
        );
        assert!(page.contains("1 records need attention"), "{page}");
        // Patient B's record is named, each missing element with it.
        let b_name =
            carepath_app::access::open(&w.app, &system(), b, Permission::ReadDemographics, "test")
                .await
                .unwrap()
                .patient
                .mrn;
        assert!(page.contains(&b_name), "patient B named");
        for e in [
            "<code>EDUC</code>",
            "<code>RACE</code>",
            "<code>DAYWAIT</code>",
            "<code>PRIMPAY</code>",
        ] {
            assert!(page.contains(e), "{e} named");
        }
        assert!(
            !page.contains(&format!("/patients/{a}\"")),
            "patient A's records are complete"
        );

        let csv = |t: &str| {
            let nurse = nurse.clone();
            let url = format!("{base}/reports/teds.csv?{q}&type={t}");
            async move {
                let r = nurse.get(&url).send().await.unwrap();
                assert_eq!(r.status(), 200);
                assert!(
                    r.headers()["content-disposition"]
                        .to_str()
                        .unwrap()
                        .contains("teds-")
                );
                r.text().await.unwrap()
            }
        };
        let adm = csv("admissions").await;
        assert_eq!(adm.lines().count(), 3, "{adm}");
        assert!(adm.starts_with("RECORD_TYPE,PROVIDER,CASEID,CLIENTID,ADMDATE,SERVICES,AGE,"));
        let dis = csv("discharges").await;
        assert_eq!(dis.lines().count(), 2, "{dis}");
        let cols: Vec<&str> = dis.lines().nth(1).unwrap().split(',').collect();
        assert_eq!((cols[0], cols[6], cols[7]), ("D", "2", "1"), "{dis}");
        assert_eq!(csv("admissions").await, adm, "a re-run gives the same file");

        // Bad input is named; the report is not for the front desk.
        let r = nurse
            .get(format!("{base}/reports/teds.csv?{q}&type=everything"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error());
        assert!(r.text().await.unwrap().contains("type"));
        let r = nurse
            .get(format!(
                "{base}/reports/teds?program={}&from=2026-13-01&to={today}",
                w.a
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("from: must be a date"));
        let desk = w.login(Role::FrontDesk).await;
        let r = desk
            .get(format!("{base}/reports/teds?{q}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
);
