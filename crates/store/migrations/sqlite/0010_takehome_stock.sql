-- Take-homes, stock reconciliation and overdose response: typed tables, so
-- the invariants (a take-home fills its day's slot; two different people
-- sign a reconciliation; nothing is rewritten) are constraints.

-- Per-program dosing settings: the jurisdiction policy pack for take-homes
-- (federal-2024 when absent), the hours a verbal order may wait for the
-- prescriber's signature, and the phone number printed on bottle labels.
CREATE TABLE program_dosing (
    program_id           TEXT PRIMARY KEY REFERENCES program(id),
    takehome_policy      TEXT NOT NULL,
    verbal_cosign_hours  BIGINT NOT NULL CHECK (verbal_cosign_hours BETWEEN 1 AND 168),
    phone                TEXT NOT NULL,
    updated_at           BIGINT NOT NULL,
    updated_by           TEXT NOT NULL
);

-- Days the clinic is closed (Sundays, holidays): each generates a
-- closure take-home (42 CFR § 8.12(i)(1)).
CREATE TABLE clinic_closure (
    program_id   TEXT NOT NULL REFERENCES program(id),
    day          TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (program_id, day)
);

-- A take-home decision: the criteria the prescriber weighed, the engine's
-- result under the program's policy, the number of doses granted. The
-- newest decision for a patient is in force; a suspension (by the
-- missed-dose rule or a prescriber) is a decision granting none.
CREATE TABLE takehome_grant (
    id                 TEXT PRIMARY KEY,
    patient_id         TEXT NOT NULL REFERENCES patient(id),
    program_id         TEXT NOT NULL REFERENCES program(id),
    decided_on         TEXT NOT NULL,
    days_in_treatment  BIGINT NOT NULL CHECK (days_in_treatment >= 1),
    criteria           TEXT NOT NULL,
    policy             TEXT NOT NULL,
    doses_granted      BIGINT NOT NULL CHECK (doses_granted BETWEEN 0 AND 31),
    max_doses          BIGINT NOT NULL,
    engine_result      TEXT NOT NULL,
    override_reason    TEXT,
    suspended_reason   TEXT,
    decided_by         TEXT NOT NULL,
    decided_by_name    TEXT NOT NULL,
    decided_at         BIGINT NOT NULL,
    CHECK (suspended_reason IS NULL OR doses_granted = 0)
);
CREATE INDEX takehome_grant_patient ON takehome_grant(patient_id, decided_at);

-- A take-home bottle. Its dose row (kind take_home) holds the day it is to
-- be taken in that day's slot, so an observed dose that day is refused by
-- the dose table's unique index.
CREATE TABLE takehome_bottle (
    dose_id         TEXT PRIMARY KEY REFERENCES dose(id),
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    program_id      TEXT NOT NULL REFERENCES program(id),
    grant_id        TEXT REFERENCES takehome_grant(id),
    bottle_no       BIGINT NOT NULL CHECK (bottle_no >= 1),
    take_on         TEXT NOT NULL,
    handed_out_on   TEXT NOT NULL,
    closure         BOOLEAN NOT NULL,
    CHECK (take_on > handed_out_on)
);
CREATE INDEX takehome_bottle_patient ON takehome_bottle(patient_id, take_on);

-- What became of a bottle: returned (empty, checked), a random call-back
-- count, lost, stolen.
CREATE TABLE bottle_event (
    id          TEXT PRIMARY KEY,
    dose_id     TEXT NOT NULL REFERENCES dose(id),
    patient_id  TEXT NOT NULL REFERENCES patient(id),
    program_id  TEXT NOT NULL REFERENCES program(id),
    kind        TEXT NOT NULL CHECK (kind IN ('returned', 'callback', 'lost', 'stolen')),
    outcome     TEXT NOT NULL CHECK (outcome IN ('as_expected', 'discrepancy', 'not_reached', 'reported')),
    note        TEXT,
    at_us       BIGINT NOT NULL,
    by_user     TEXT NOT NULL,
    by_name     TEXT NOT NULL
);
CREATE INDEX bottle_event_patient ON bottle_event(patient_id, at_us);

-- The end-of-day reconciliation of one lot: opening + received −
-- administered − dispensed − waste = expected; the physical count and the
-- variance. The counter signs on creation; a second, different person
-- co-signs (reconciliation_signature's key makes two signers distinct).
CREATE TABLE reconciliation (
    id               TEXT PRIMARY KEY,
    program_id       TEXT NOT NULL REFERENCES program(id),
    lot_id           TEXT NOT NULL REFERENCES stock_lot(id),
    clinic_day       TEXT NOT NULL,
    opening_ug       BIGINT NOT NULL,
    received_ug      BIGINT NOT NULL,
    administered_ug  BIGINT NOT NULL,
    dispensed_ug     BIGINT NOT NULL,
    waste_ug         BIGINT NOT NULL,
    adjusted_ug      BIGINT NOT NULL,
    expected_ug      BIGINT NOT NULL,
    counted_ug       BIGINT NOT NULL CHECK (counted_ug >= 0),
    variance_ug      BIGINT NOT NULL,
    note             TEXT,
    counted_by       TEXT NOT NULL REFERENCES staff_user(id),
    counted_at       BIGINT NOT NULL,
    UNIQUE (lot_id, clinic_day),
    CHECK (expected_ug = opening_ug + received_ug - administered_ug - dispensed_ug - waste_ug + adjusted_ug),
    CHECK (variance_ug = counted_ug - expected_ug),
    CHECK (variance_ug = 0 OR note IS NOT NULL)
);
CREATE INDEX reconciliation_program ON reconciliation(program_id, clinic_day);

CREATE TABLE reconciliation_signature (
    reconciliation_id  TEXT NOT NULL REFERENCES reconciliation(id),
    signer_id          TEXT NOT NULL REFERENCES staff_user(id),
    signer_name        TEXT NOT NULL,
    signed_at          BIGINT NOT NULL,
    PRIMARY KEY (reconciliation_id, signer_id)
);

-- An overdose and the response to it.
CREATE TABLE overdose_event (
    id                 TEXT PRIMARY KEY,
    patient_id         TEXT NOT NULL REFERENCES patient(id),
    program_id         TEXT NOT NULL REFERENCES program(id),
    occurred_at        BIGINT NOT NULL,
    -- JSON list of naloxone doses: product, dose, route, time.
    naloxone           TEXT NOT NULL,
    breathing_support  TEXT NOT NULL,
    vitals             TEXT NOT NULL,
    ems_called         BOOLEAN NOT NULL,
    transported        BOOLEAN NOT NULL,
    outcome            TEXT NOT NULL CHECK (outcome IN ('recovered_on_site', 'transported', 'refused_transport', 'died', 'unknown')),
    note               TEXT,
    recorded_by        TEXT NOT NULL REFERENCES staff_user(id),
    recorded_by_name   TEXT NOT NULL,
    recorded_at        BIGINT NOT NULL
);
CREATE INDEX overdose_event_patient ON overdose_event(patient_id, occurred_at);
CREATE INDEX overdose_event_program ON overdose_event(program_id, occurred_at);

-- A naloxone kit handed out, to a patient or to someone close to them.
CREATE TABLE naloxone_kit (
    id            TEXT PRIMARY KEY,
    program_id    TEXT NOT NULL REFERENCES program(id),
    patient_id    TEXT REFERENCES patient(id),
    recipient     TEXT NOT NULL CHECK (recipient IN ('patient', 'family_or_friend', 'community')),
    product       TEXT NOT NULL,
    quantity      BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 20),
    lot           TEXT,
    education     BOOLEAN NOT NULL,
    handed_at     BIGINT NOT NULL,
    by_user       TEXT NOT NULL REFERENCES staff_user(id),
    by_name       TEXT NOT NULL
);
CREATE INDEX naloxone_kit_program ON naloxone_kit(program_id, handed_at);

CREATE TRIGGER takehome_grant_no_update BEFORE UPDATE ON takehome_grant
BEGIN SELECT RAISE(ABORT, 'take-home decisions are append-only'); END;
CREATE TRIGGER takehome_grant_no_delete BEFORE DELETE ON takehome_grant
BEGIN SELECT RAISE(ABORT, 'take-home decisions are never deleted'); END;
CREATE TRIGGER takehome_bottle_no_update BEFORE UPDATE ON takehome_bottle
BEGIN SELECT RAISE(ABORT, 'take-home bottles are append-only'); END;
CREATE TRIGGER takehome_bottle_no_delete BEFORE DELETE ON takehome_bottle
BEGIN SELECT RAISE(ABORT, 'take-home bottles are never deleted'); END;
CREATE TRIGGER bottle_event_no_update BEFORE UPDATE ON bottle_event
BEGIN SELECT RAISE(ABORT, 'bottle events are append-only'); END;
CREATE TRIGGER bottle_event_no_delete BEFORE DELETE ON bottle_event
BEGIN SELECT RAISE(ABORT, 'bottle events are never deleted'); END;
CREATE TRIGGER reconciliation_no_update BEFORE UPDATE ON reconciliation
BEGIN SELECT RAISE(ABORT, 'reconciliations are append-only'); END;
CREATE TRIGGER reconciliation_no_delete BEFORE DELETE ON reconciliation
BEGIN SELECT RAISE(ABORT, 'reconciliations are never deleted'); END;
CREATE TRIGGER reconciliation_signature_no_update BEFORE UPDATE ON reconciliation_signature
BEGIN SELECT RAISE(ABORT, 'reconciliation signatures are append-only'); END;
CREATE TRIGGER reconciliation_signature_no_delete BEFORE DELETE ON reconciliation_signature
BEGIN SELECT RAISE(ABORT, 'reconciliation signatures are never deleted'); END;
CREATE TRIGGER overdose_event_no_update BEFORE UPDATE ON overdose_event
BEGIN SELECT RAISE(ABORT, 'overdose records are append-only'); END;
CREATE TRIGGER overdose_event_no_delete BEFORE DELETE ON overdose_event
BEGIN SELECT RAISE(ABORT, 'overdose records are never deleted'); END;
CREATE TRIGGER naloxone_kit_no_update BEFORE UPDATE ON naloxone_kit
BEGIN SELECT RAISE(ABORT, 'naloxone kit records are append-only'); END;
CREATE TRIGGER naloxone_kit_no_delete BEFORE DELETE ON naloxone_kit
BEGIN SELECT RAISE(ABORT, 'naloxone kit records are never deleted'); END;
