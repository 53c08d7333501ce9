-- Contingency management and the rewards store (issue 13).

-- Who pays for incentives, with the annual cap per patient (SAMHSA,
-- January 2025: up to $750 a patient a year, non-cash — the default) and
-- the program's annual budget for the report.
CREATE TABLE cm_funding (
    id                   TEXT PRIMARY KEY,
    program_id           TEXT NOT NULL REFERENCES program(id),
    name                 TEXT NOT NULL CHECK (length(name) >= 2),
    annual_cap_cents     BIGINT NOT NULL CHECK (annual_cap_cents BETWEEN 0 AND 1000000),
    annual_budget_cents  BIGINT NOT NULL CHECK (annual_budget_cents >= 0),
    created_at           BIGINT NOT NULL,
    created_by           TEXT NOT NULL,
    CONSTRAINT cm_funding_name UNIQUE (program_id, name)
);

-- A patient's enrolment in a schedule: escalating vouchers or prize draws
-- (clinical::cm presets), the targets (negative for chosen analytes,
-- attendance), the funding source, and the secret seed of the draws.
CREATE TABLE cm_enrollment (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL REFERENCES patient(id),
    program_id   TEXT NOT NULL REFERENCES program(id),
    funding_id   TEXT NOT NULL REFERENCES cm_funding(id),
    kind         TEXT NOT NULL CHECK (kind IN ('voucher', 'prize')),
    preset       TEXT NOT NULL,
    schedule     TEXT NOT NULL,
    analytes     TEXT NOT NULL,
    attendance   BOOLEAN NOT NULL,
    seed         BIGINT NOT NULL,
    starts_at    BIGINT NOT NULL,
    by_user      TEXT NOT NULL REFERENCES staff_user(id),
    by_name      TEXT NOT NULL,
    enrolled_at  BIGINT NOT NULL
);
CREATE INDEX cm_enrollment_patient ON cm_enrollment(patient_id);

CREATE TABLE cm_enrollment_end (
    enrollment_id  TEXT PRIMARY KEY REFERENCES cm_enrollment(id),
    reason         TEXT NOT NULL CHECK (length(reason) >= 3),
    by_user        TEXT NOT NULL REFERENCES staff_user(id),
    by_name        TEXT NOT NULL,
    ended_at       BIGINT NOT NULL
);

-- One sample of an enrolment: a drug test or a session attended, read as
-- negative / positive / missed / refused / invalid. Once per piece of
-- evidence per enrolment, whatever posts it and however often.
CREATE TABLE cm_sample (
    id             TEXT PRIMARY KEY,
    enrollment_id  TEXT NOT NULL REFERENCES cm_enrollment(id),
    patient_id     TEXT NOT NULL REFERENCES patient(id),
    source         TEXT NOT NULL CHECK (source IN ('drug_test', 'attendance')),
    evidence_id    TEXT NOT NULL,
    sample         TEXT NOT NULL CHECK (sample IN ('negative', 'positive', 'missed', 'refused', 'invalid')),
    evidence_at    BIGINT NOT NULL,
    recorded_at    BIGINT NOT NULL,
    CONSTRAINT cm_sample_once UNIQUE (enrollment_id, source, evidence_id)
);
CREATE INDEX cm_sample_enrollment ON cm_sample(enrollment_id, recorded_at);

-- What a sample earned: a voucher at once, prize draws when drawn at the
-- desk (seed, stream and slips kept: replayable). One per sample. The
-- annual cap per patient and funding source is enforced by a trigger.
CREATE TABLE cm_earning (
    sample_id      TEXT PRIMARY KEY REFERENCES cm_sample(id),
    enrollment_id  TEXT NOT NULL REFERENCES cm_enrollment(id),
    patient_id     TEXT NOT NULL REFERENCES patient(id),
    funding_id     TEXT NOT NULL REFERENCES cm_funding(id),
    earned_year    TEXT NOT NULL,
    amount_cents   BIGINT NOT NULL CHECK (amount_cents >= 0),
    wanted_cents   BIGINT NOT NULL CHECK (wanted_cents >= amount_cents),
    draw           TEXT,
    detail         TEXT NOT NULL,
    by_name        TEXT NOT NULL,
    earned_at      BIGINT NOT NULL
);
CREATE INDEX cm_earning_patient ON cm_earning(patient_id, funding_id, earned_year);

-- The rewards catalog: non-cash items that support healthy living.
CREATE TABLE reward_item (
    id          TEXT PRIMARY KEY,
    program_id  TEXT NOT NULL REFERENCES program(id),
    name        TEXT NOT NULL CHECK (length(name) >= 3),
    category    TEXT NOT NULL CHECK (category IN ('transport', 'grocery', 'pharmacy', 'hygiene', 'clothing', 'fitness', 'phone', 'household', 'education', 'recreation')),
    cost_cents  BIGINT NOT NULL CHECK (cost_cents BETWEEN 1 AND 10000),
    created_at  BIGINT NOT NULL,
    by_user     TEXT NOT NULL,
    CONSTRAINT reward_item_name UNIQUE (program_id, name)
);

-- Stock in and out; never below zero (trigger).
CREATE TABLE reward_stock (
    id             TEXT PRIMARY KEY,
    item_id        TEXT NOT NULL REFERENCES reward_item(id),
    delta          BIGINT NOT NULL CHECK (delta <> 0),
    reason         TEXT NOT NULL,
    redemption_id  TEXT,
    by_user        TEXT NOT NULL,
    at_us          BIGINT NOT NULL
);
CREATE INDEX reward_stock_item ON reward_stock(item_id);

-- A redemption asked for (by staff at the desk, or by the patient in the
-- portal) holds its cost against the balance, which never goes below zero
-- (trigger); it is then fulfilled (the item handed over, stock out) or
-- declined (the cost released), once.
CREATE TABLE cm_redemption (
    id            TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patient(id),
    program_id    TEXT NOT NULL REFERENCES program(id),
    item_id       TEXT NOT NULL REFERENCES reward_item(id),
    cost_cents    BIGINT NOT NULL CHECK (cost_cents > 0),
    requested_by  TEXT NOT NULL CHECK (requested_by IN ('staff', 'patient')),
    by_name       TEXT NOT NULL,
    requested_at  BIGINT NOT NULL
);
CREATE INDEX cm_redemption_patient ON cm_redemption(patient_id);

CREATE TABLE cm_redemption_outcome (
    redemption_id  TEXT PRIMARY KEY REFERENCES cm_redemption(id),
    outcome        TEXT NOT NULL CHECK (outcome IN ('fulfilled', 'declined')),
    note           TEXT,
    by_user        TEXT NOT NULL,
    by_name        TEXT NOT NULL,
    at_us          BIGINT NOT NULL
);

-- The annual cap per patient and funding source.
CREATE FUNCTION cm_earning_cap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COALESCE(SUM(amount_cents), 0) FROM cm_earning
        WHERE patient_id = NEW.patient_id AND funding_id = NEW.funding_id AND earned_year = NEW.earned_year)
       + NEW.amount_cents > (SELECT annual_cap_cents FROM cm_funding WHERE id = NEW.funding_id) THEN
        RAISE EXCEPTION 'the annual incentive cap of this funding source is reached' USING ERRCODE = 'ZR001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER cm_earning_cap BEFORE INSERT ON cm_earning
    FOR EACH ROW EXECUTE FUNCTION cm_earning_cap();

-- The balance never goes below zero: earnings less every redemption not declined.
CREATE FUNCTION cm_redemption_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT COALESCE(SUM(amount_cents), 0) FROM cm_earning WHERE patient_id = NEW.patient_id)
       - (SELECT COALESCE(SUM(r.cost_cents), 0) FROM cm_redemption r WHERE r.patient_id = NEW.patient_id
          AND NOT EXISTS (SELECT 1 FROM cm_redemption_outcome o WHERE o.redemption_id = r.id AND o.outcome = 'declined'))
       - NEW.cost_cents < 0 THEN
        RAISE EXCEPTION 'the balance may not go below zero' USING ERRCODE = 'ZR001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER cm_redemption_balance BEFORE INSERT ON cm_redemption
    FOR EACH ROW EXECUTE FUNCTION cm_redemption_balance();

-- Stock never goes below zero.
CREATE FUNCTION reward_stock_nonnegative() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.delta < 0 AND (SELECT COALESCE(SUM(delta), 0) FROM reward_stock WHERE item_id = NEW.item_id) + NEW.delta < 0 THEN
        RAISE EXCEPTION 'not enough of this item in stock' USING ERRCODE = 'ZR001';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER reward_stock_nonnegative BEFORE INSERT ON reward_stock
    FOR EACH ROW EXECUTE FUNCTION reward_stock_nonnegative();

CREATE TRIGGER cm_enrollment_no_update BEFORE UPDATE ON cm_enrollment
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('enrolments are append-only');
CREATE TRIGGER cm_enrollment_no_delete BEFORE DELETE ON cm_enrollment
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('enrolments are never deleted');
CREATE TRIGGER cm_enrollment_end_no_update BEFORE UPDATE ON cm_enrollment_end
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('enrolment ends are append-only');
CREATE TRIGGER cm_enrollment_end_no_delete BEFORE DELETE ON cm_enrollment_end
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('enrolment ends are never deleted');
CREATE TRIGGER cm_sample_no_update BEFORE UPDATE ON cm_sample
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('samples are append-only');
CREATE TRIGGER cm_sample_no_delete BEFORE DELETE ON cm_sample
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('samples are never deleted');
CREATE TRIGGER cm_earning_no_update BEFORE UPDATE ON cm_earning
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('earnings are append-only');
CREATE TRIGGER cm_earning_no_delete BEFORE DELETE ON cm_earning
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('earnings are never deleted');
CREATE TRIGGER reward_item_no_update BEFORE UPDATE ON reward_item
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('reward items are append-only');
CREATE TRIGGER reward_item_no_delete BEFORE DELETE ON reward_item
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('reward items are never deleted');
CREATE TRIGGER reward_stock_no_update BEFORE UPDATE ON reward_stock
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('stock movements are append-only');
CREATE TRIGGER reward_stock_no_delete BEFORE DELETE ON reward_stock
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('stock movements are never deleted');
CREATE TRIGGER cm_redemption_no_update BEFORE UPDATE ON cm_redemption
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('redemptions are append-only');
CREATE TRIGGER cm_redemption_no_delete BEFORE DELETE ON cm_redemption
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('redemptions are never deleted');
CREATE TRIGGER cm_redemption_outcome_no_update BEFORE UPDATE ON cm_redemption_outcome
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('redemption outcomes are append-only');
CREATE TRIGGER cm_redemption_outcome_no_delete BEFORE DELETE ON cm_redemption_outcome
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('redemption outcomes are never deleted');
