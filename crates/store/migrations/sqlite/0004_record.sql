-- The clinical record proper: every assessment, flowsheet entry, order,
-- administration, plan, note, consent, discharge summary and follow-up is one
-- append-only row. A correction is a new row that `amends` the version it
-- replaces, with a reason; a version can be amended once (the chain is linear).
CREATE TABLE clinical_record (
    id            TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patient(id),
    program_id    TEXT NOT NULL REFERENCES program(id),
    episode_id    TEXT REFERENCES episode(id),
    kind          TEXT NOT NULL,
    body          TEXT NOT NULL,
    summary       TEXT NOT NULL,
    occurred_at   BIGINT NOT NULL,
    recorded_at   BIGINT NOT NULL,
    author_id     TEXT NOT NULL REFERENCES staff_user(id),
    author_name   TEXT NOT NULL,
    author_role   TEXT NOT NULL,
    amends        TEXT REFERENCES clinical_record(id),
    amend_reason  TEXT,
    root_id       TEXT NOT NULL,
    ref_id        TEXT,
    due_at        BIGINT,
    sign_role     TEXT,
    cosigner_id   TEXT REFERENCES staff_user(id),
    late_entry    BOOLEAN NOT NULL DEFAULT FALSE,
    CHECK ((amends IS NULL) = (amend_reason IS NULL)),
    CHECK (amend_reason IS NULL OR length(amend_reason) >= 5)
);
CREATE UNIQUE INDEX clinical_record_one_amendment ON clinical_record(amends);
CREATE INDEX clinical_record_patient ON clinical_record(patient_id, kind, occurred_at);
CREATE INDEX clinical_record_program ON clinical_record(program_id, kind, due_at);
CREATE INDEX clinical_record_ref ON clinical_record(ref_id);
CREATE INDEX clinical_record_root ON clinical_record(root_id);
-- A follow-up call has one outcome; a consent is revoked once (race-proof).
CREATE UNIQUE INDEX clinical_record_one_answer ON clinical_record(ref_id)
    WHERE kind IN ('followup_outcome', 'consent_revocation');
-- One attendance mark per patient and session; changes are amendments.
CREATE UNIQUE INDEX clinical_record_one_mark ON clinical_record(ref_id, patient_id)
    WHERE kind = 'attendance' AND amends IS NULL;
CREATE TRIGGER clinical_record_no_update BEFORE UPDATE ON clinical_record
BEGIN SELECT RAISE(ABORT, 'clinical records are append-only: amend instead'); END;
CREATE TRIGGER clinical_record_no_delete BEFORE DELETE ON clinical_record
BEGIN SELECT RAISE(ABORT, 'clinical records are never deleted'); END;

-- Signatures: the author's, a supervisor's co-signature, the patient's.
CREATE TABLE record_signature (
    record_id    TEXT NOT NULL REFERENCES clinical_record(id),
    kind         TEXT NOT NULL CHECK (kind IN ('author', 'cosign', 'patient')),
    signer_id    TEXT REFERENCES staff_user(id),
    signer_name  TEXT NOT NULL,
    signer_role  TEXT NOT NULL,
    method       TEXT NOT NULL CHECK (method IN ('credential', 'typed', 'drawn')),
    drawing      TEXT,
    signed_at    BIGINT NOT NULL,
    PRIMARY KEY (record_id, kind)
);
CREATE TRIGGER record_signature_no_update BEFORE UPDATE ON record_signature
BEGIN SELECT RAISE(ABORT, 'signatures are append-only'); END;
CREATE TRIGGER record_signature_no_delete BEFORE DELETE ON record_signature
BEGIN SELECT RAISE(ABORT, 'signatures are never deleted'); END;

-- The program calendar: groups, individual and family sessions, activities.
CREATE TABLE group_session (
    id           TEXT PRIMARY KEY,
    program_id   TEXT NOT NULL REFERENCES program(id),
    kind         TEXT NOT NULL CHECK (kind IN ('group', 'individual', 'family', 'activity')),
    title        TEXT NOT NULL,
    modality     TEXT NOT NULL,
    starts_at    BIGINT NOT NULL,
    minutes      BIGINT NOT NULL CHECK (minutes BETWEEN 5 AND 600),
    leader_id    TEXT REFERENCES staff_user(id),
    location     TEXT NOT NULL,
    series_id    TEXT,
    created_at   BIGINT NOT NULL,
    created_by   TEXT
);
CREATE INDEX group_session_program ON group_session(program_id, starts_at);
CREATE TRIGGER group_session_no_delete BEFORE DELETE ON group_session
BEGIN SELECT RAISE(ABORT, 'sessions are never deleted'); END;

-- Accounting of disclosures (42 CFR § 2.25): one row per disclosure out of Carepath.
CREATE TABLE disclosure (
    id            TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patient(id),
    program_id    TEXT NOT NULL REFERENCES program(id),
    consent_id    TEXT NOT NULL REFERENCES clinical_record(id),
    recipient     TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    information   TEXT NOT NULL,
    channel       TEXT NOT NULL,
    notice        TEXT NOT NULL,
    disclosed_at  BIGINT NOT NULL,
    disclosed_by  TEXT NOT NULL REFERENCES staff_user(id)
);
CREATE INDEX disclosure_patient ON disclosure(patient_id, disclosed_at);
CREATE TRIGGER disclosure_no_update BEFORE UPDATE ON disclosure
BEGIN SELECT RAISE(ABORT, 'the accounting of disclosures is append-only'); END;
CREATE TRIGGER disclosure_no_delete BEFORE DELETE ON disclosure
BEGIN SELECT RAISE(ABORT, 'the accounting of disclosures is append-only'); END;

-- Registration details beyond the core identity, versioned: the newest row is current.
CREATE TABLE patient_profile (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patient(id),
    body         TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    recorded_by  TEXT REFERENCES staff_user(id)
);
CREATE INDEX patient_profile_patient ON patient_profile(patient_id, recorded_at);
CREATE TRIGGER patient_profile_no_update BEFORE UPDATE ON patient_profile
BEGIN SELECT RAISE(ABORT, 'profile versions are append-only'); END;
CREATE TRIGGER patient_profile_no_delete BEFORE DELETE ON patient_profile
BEGIN SELECT RAISE(ABORT, 'clinical records are never deleted'); END;

CREATE TABLE patient_photo (
    id            TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patient(id),
    content_type  TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png')),
    bytes         BLOB NOT NULL,
    recorded_at   BIGINT NOT NULL,
    recorded_by   TEXT REFERENCES staff_user(id)
);
CREATE INDEX patient_photo_patient ON patient_photo(patient_id, recorded_at);
CREATE TRIGGER patient_photo_no_update BEFORE UPDATE ON patient_photo
BEGIN SELECT RAISE(ABORT, 'photos are append-only'); END;
CREATE TRIGGER patient_photo_no_delete BEFORE DELETE ON patient_photo
BEGIN SELECT RAISE(ABORT, 'clinical records are never deleted'); END;

-- A program's own protocol settings (COWS check intervals, follow-up calls
-- after discharge); absent = the server's defaults. Settings, not records:
-- every change is audited.
CREATE TABLE program_protocol (
    program_id           TEXT PRIMARY KEY REFERENCES program(id),
    cows_every_h         BIGINT NOT NULL CHECK (cows_every_h BETWEEN 1 AND 24),
    cows_severe_every_h  BIGINT NOT NULL CHECK (cows_severe_every_h BETWEEN 1 AND 24),
    cows_severe_from     BIGINT NOT NULL CHECK (cows_severe_from BETWEEN 5 AND 48),
    followup_every_days  BIGINT NOT NULL CHECK (followup_every_days BETWEEN 1 AND 90),
    followup_count       BIGINT NOT NULL CHECK (followup_count BETWEEN 0 AND 52),
    updated_at           BIGINT NOT NULL,
    updated_by           TEXT REFERENCES staff_user(id)
);
