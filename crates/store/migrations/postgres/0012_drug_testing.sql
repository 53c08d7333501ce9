-- Drug testing and the HL7 v2 lab interface (issue 13).

-- A program's random-testing policy (clinical::drugtest::RandomPolicy;
-- the federal floor is 8 random tests a year, 42 CFR § 8.12(f)(6)).
CREATE TABLE program_testing (
    program_id       TEXT PRIMARY KEY REFERENCES program(id),
    early_days       BIGINT NOT NULL CHECK (early_days BETWEEN 0 AND 365),
    early_per_block  BIGINT NOT NULL CHECK (early_per_block BETWEEN 1 AND 30),
    per_block        BIGINT NOT NULL CHECK (per_block BETWEEN 1 AND 30),
    min_per_year     BIGINT NOT NULL CHECK (min_per_year BETWEEN 8 AND 365),
    updated_at       BIGINT NOT NULL,
    updated_by       TEXT NOT NULL
);

-- The random test days drawn for a patient's episode, one 30-day block at a
-- time (block 0 starts on the admission day), with the seed that replays
-- the draw. Staff see only the current day's list; patients never see it.
CREATE TABLE random_test_day (
    patient_id   TEXT NOT NULL REFERENCES patient(id),
    program_id   TEXT NOT NULL REFERENCES program(id),
    admitted_on  TEXT NOT NULL,
    block        BIGINT NOT NULL CHECK (block >= 0),
    test_day     TEXT NOT NULL,
    seed         BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (patient_id, program_id, test_day)
);
CREATE INDEX random_test_day_program ON random_test_day(program_id, test_day);

-- Every HL7 v2 message received, exactly as received, with the answer
-- given. A message accepted once (filed or waiting for a match) holds its
-- sender's control id: a repeat is answered again and changes nothing.
CREATE TABLE lab_message (
    id            TEXT PRIMARY KEY,
    program_id    TEXT NOT NULL REFERENCES program(id),
    received_at   BIGINT NOT NULL,
    channel       TEXT NOT NULL CHECK (channel IN ('file', 'http', 'mllp')),
    sender        TEXT NOT NULL,
    control_id    TEXT NOT NULL,
    message_type  TEXT NOT NULL,
    raw           TEXT NOT NULL,
    ack_code      TEXT NOT NULL CHECK (ack_code IN ('AA', 'AE', 'AR')),
    status        TEXT NOT NULL CHECK (status IN ('filed', 'unmatched', 'rejected')),
    error         TEXT,
    patient_id    TEXT REFERENCES patient(id),
    received_by   TEXT NOT NULL
);
CREATE UNIQUE INDEX lab_message_once ON lab_message(program_id, sender, control_id) WHERE status <> 'rejected';
CREATE INDEX lab_message_queue ON lab_message(program_id, status, received_at);

-- Staff match an unmatched message to a patient (the reconciliation queue),
-- once, with a reason.
CREATE TABLE lab_message_match (
    message_id  TEXT PRIMARY KEY REFERENCES lab_message(id),
    patient_id  TEXT NOT NULL REFERENCES patient(id),
    reason      TEXT NOT NULL CHECK (length(reason) >= 3),
    by_user     TEXT NOT NULL REFERENCES staff_user(id),
    by_name     TEXT NOT NULL,
    matched_at  BIGINT NOT NULL
);

-- A specimen collected (or a collection refused) at the desk, or one the
-- laboratory reported. The specimen id is the chain-of-custody / accession
-- number on the label: the lab's results attach to it.
CREATE TABLE drug_test (
    id                    TEXT PRIMARY KEY,
    patient_id            TEXT NOT NULL REFERENCES patient(id),
    program_id            TEXT NOT NULL REFERENCES program(id),
    collected_at          BIGINT NOT NULL,
    specimen              TEXT NOT NULL CHECK (specimen IN ('urine', 'oral_fluid')),
    observed              BOOLEAN NOT NULL,
    temperature_in_range  BOOLEAN,
    refused               BOOLEAN NOT NULL,
    random                BOOLEAN NOT NULL,
    specimen_id           TEXT,
    note                  TEXT,
    lab_message_id        TEXT REFERENCES lab_message(id),
    by_user               TEXT REFERENCES staff_user(id),
    by_name               TEXT NOT NULL,
    recorded_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX drug_test_specimen ON drug_test(program_id, specimen_id) WHERE specimen_id IS NOT NULL;
CREATE INDEX drug_test_patient ON drug_test(patient_id, collected_at);
CREATE INDEX drug_test_program ON drug_test(program_id, collected_at);

-- One analyte's result. A confirmation supersedes the presumptive screen
-- of the same analyte, a corrected result the one before it (read side).
CREATE TABLE drug_test_result (
    id              TEXT PRIMARY KEY,
    test_id         TEXT NOT NULL REFERENCES drug_test(id),
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    analyte         TEXT NOT NULL,
    loinc           TEXT NOT NULL,
    method          TEXT NOT NULL CHECK (method IN ('screen', 'confirmation')),
    source          TEXT NOT NULL CHECK (source IN ('point_of_care', 'laboratory')),
    outcome         TEXT NOT NULL CHECK (outcome IN ('positive', 'negative', 'inconclusive')),
    value           TEXT,
    unit            TEXT,
    cutoff          TEXT,
    status          TEXT NOT NULL CHECK (status IN ('preliminary', 'final', 'corrected')),
    lab_message_id  TEXT REFERENCES lab_message(id),
    resulted_at     BIGINT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    by_name         TEXT NOT NULL
);
CREATE INDEX drug_test_result_test ON drug_test_result(test_id);
CREATE INDEX drug_test_result_analyte ON drug_test_result(patient_id, analyte, resulted_at);

-- A prescriber's review of a test that needs one; a result arriving after
-- the review (more results than it saw) opens the test again.
CREATE TABLE drug_test_review (
    id            TEXT PRIMARY KEY,
    test_id       TEXT NOT NULL REFERENCES drug_test(id),
    results_seen  BIGINT NOT NULL,
    note          TEXT NOT NULL CHECK (length(note) >= 3),
    by_user       TEXT NOT NULL REFERENCES staff_user(id),
    by_name       TEXT NOT NULL,
    reviewed_at   BIGINT NOT NULL
);
CREATE INDEX drug_test_review_test ON drug_test_review(test_id);

CREATE TRIGGER random_test_day_no_update BEFORE UPDATE ON random_test_day
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('random test days are append-only');
CREATE TRIGGER random_test_day_no_delete BEFORE DELETE ON random_test_day
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('random test days are never deleted');
CREATE TRIGGER lab_message_no_update BEFORE UPDATE ON lab_message
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('lab messages are append-only');
CREATE TRIGGER lab_message_no_delete BEFORE DELETE ON lab_message
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('lab messages are never deleted');
CREATE TRIGGER lab_message_match_no_update BEFORE UPDATE ON lab_message_match
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('lab matches are append-only');
CREATE TRIGGER lab_message_match_no_delete BEFORE DELETE ON lab_message_match
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('lab matches are never deleted');
CREATE TRIGGER drug_test_no_update BEFORE UPDATE ON drug_test
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('drug tests are append-only');
CREATE TRIGGER drug_test_no_delete BEFORE DELETE ON drug_test
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('drug tests are never deleted');
CREATE TRIGGER drug_test_result_no_update BEFORE UPDATE ON drug_test_result
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('drug test results are append-only');
CREATE TRIGGER drug_test_result_no_delete BEFORE DELETE ON drug_test_result
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('drug test results are never deleted');
CREATE TRIGGER drug_test_review_no_update BEFORE UPDATE ON drug_test_review
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('drug test reviews are append-only');
CREATE TRIGGER drug_test_review_no_delete BEFORE DELETE ON drug_test_review
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('drug test reviews are never deleted');
