-- Dashboards (issue 15).

-- The patient a call-back request became, set when staff register the
-- caller from the request: the dashboard's time from first call to
-- admission and to first dose.
ALTER TABLE referral ADD COLUMN patient_id TEXT REFERENCES patient(id);
CREATE INDEX referral_patient ON referral(patient_id);

-- Doses by program and clinic day, covering what the dashboard counts
-- (patient-days dosed, take-homes, products) so the month's figures come
-- from the index alone. Replaces the narrower index of the same prefix.
DROP INDEX dose_program_day;
CREATE INDEX dose_program_day ON dose(program_id, clinic_day, patient_id, kind, product_id);

-- Incentives earned by funding source and time: spend by month.
CREATE INDEX cm_earning_funding ON cm_earning(funding_id, earned_at);

-- A test's results as the negative-test rate reads them (outcome, analyte,
-- method, time) from the index alone. Replaces the index on test_id.
DROP INDEX drug_test_result_test;
CREATE INDEX drug_test_result_test ON drug_test_result(test_id, outcome, analyte, method, recorded_at);

-- Month-by-month rollups the dashboards read instead of every row. Derived
-- data, kept by triggers in the same transaction as each dose and test
-- (both source tables are append-only, so counting on insert is exact);
-- `store::dashboard` keeps the queries over the rows themselves as the
-- reference, and tests hold the two equal.

-- Doses per program, month (of clinic day) and patient; `daily_days`: the
-- clinic days with a daily medication's dose (injections are not daily).
CREATE TABLE dose_month (
    program_id  TEXT NOT NULL,
    month       TEXT NOT NULL,
    patient_id  TEXT NOT NULL,
    doses       BIGINT NOT NULL,
    take_home   BIGINT NOT NULL,
    daily_days  BIGINT NOT NULL,
    PRIMARY KEY (program_id, month, patient_id)
);
INSERT INTO dose_month (program_id, month, patient_id, doses, take_home, daily_days)
SELECT d.program_id, substr(d.clinic_day, 1, 7), d.patient_id, COUNT(*),
       SUM(CASE WHEN d.kind = 'take_home' THEN 1 ELSE 0 END),
       COUNT(DISTINCT CASE WHEN p.form <> 'injection_xr' THEN d.clinic_day END)
FROM dose d JOIN med_product p ON p.id = d.product_id
GROUP BY d.program_id, substr(d.clinic_day, 1, 7), d.patient_id;
CREATE TRIGGER dose_month_count AFTER INSERT ON dose
BEGIN
    INSERT INTO dose_month (program_id, month, patient_id, doses, take_home, daily_days)
    VALUES (NEW.program_id, substr(NEW.clinic_day, 1, 7), NEW.patient_id, 1,
            CASE WHEN NEW.kind = 'take_home' THEN 1 ELSE 0 END,
            CASE WHEN (SELECT form FROM med_product WHERE id = NEW.product_id) <> 'injection_xr'
                  AND NOT EXISTS (SELECT 1 FROM dose d JOIN med_product p ON p.id = d.product_id
                                  WHERE d.patient_id = NEW.patient_id AND d.clinic_day = NEW.clinic_day
                                    AND d.program_id = NEW.program_id AND d.id <> NEW.id
                                    AND p.form <> 'injection_xr')
                 THEN 1 ELSE 0 END)
    ON CONFLICT (program_id, month, patient_id) DO UPDATE SET
        doses = doses + excluded.doses,
        take_home = take_home + excluded.take_home,
        daily_days = daily_days + excluded.daily_days;
END;

-- Each drug test as the negative-test rate reads it: refused, results in,
-- results standing positive for a substance other than the treatment
-- medications (a confirmation supersedes the screen of its analyte, a
-- later result of the same method the earlier one). The medication list is
-- `dashboard::MEDICATION_ANALYTES`.
CREATE TABLE drug_test_reading (
    test_id       TEXT PRIMARY KEY,
    program_id    TEXT NOT NULL,
    collected_at  BIGINT NOT NULL,
    refused       BOOLEAN NOT NULL,
    results       BIGINT NOT NULL,
    positives     BIGINT NOT NULL
);
CREATE INDEX drug_test_reading_program ON drug_test_reading(program_id, collected_at, refused, results, positives);
INSERT INTO drug_test_reading (test_id, program_id, collected_at, refused, results, positives)
SELECT t.id, t.program_id, t.collected_at, t.refused,
       (SELECT COUNT(*) FROM drug_test_result a WHERE a.test_id = t.id),
       (SELECT COUNT(*) FROM drug_test_result r WHERE r.test_id = t.id
          AND r.outcome = 'positive' AND r.analyte NOT IN ('methadone', 'eddp', 'buprenorphine', 'norbuprenorphine')
          AND NOT EXISTS (SELECT 1 FROM drug_test_result s WHERE s.test_id = r.test_id
            AND s.analyte = r.analyte AND s.id <> r.id
            AND ((s.method = 'confirmation' AND r.method = 'screen')
              OR (s.method = r.method AND s.recorded_at > r.recorded_at))))
FROM drug_test t;
CREATE TRIGGER drug_test_reading_new AFTER INSERT ON drug_test
BEGIN
    INSERT INTO drug_test_reading (test_id, program_id, collected_at, refused, results, positives)
    VALUES (NEW.id, NEW.program_id, NEW.collected_at, NEW.refused, 0, 0);
END;
CREATE TRIGGER drug_test_reading_result AFTER INSERT ON drug_test_result
BEGIN
    UPDATE drug_test_reading SET
        results = results + 1,
        positives = (SELECT COUNT(*) FROM drug_test_result r WHERE r.test_id = NEW.test_id
          AND r.outcome = 'positive' AND r.analyte NOT IN ('methadone', 'eddp', 'buprenorphine', 'norbuprenorphine')
          AND NOT EXISTS (SELECT 1 FROM drug_test_result s WHERE s.test_id = r.test_id
            AND s.analyte = r.analyte AND s.id <> r.id
            AND ((s.method = 'confirmation' AND r.method = 'screen')
              OR (s.method = r.method AND s.recorded_at > r.recorded_at))))
    WHERE test_id = NEW.test_id;
END;
