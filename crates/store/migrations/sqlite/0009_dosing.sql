-- The dosing desk: products, stock lots and movements, orders for opioid
-- use disorder medications, and doses — typed tables, so the safety
-- invariants are constraints.

-- Products the program dispenses (its formulary for opioid use disorder).
CREATE TABLE med_product (
    id            TEXT PRIMARY KEY,
    program_id    TEXT NOT NULL REFERENCES program(id),
    medication    TEXT NOT NULL CHECK (medication IN ('methadone', 'buprenorphine', 'buprenorphine_naloxone', 'naltrexone')),
    form          TEXT NOT NULL CHECK (form IN ('oral_liquid', 'tablet', 'sublingual_tablet', 'sublingual_film', 'injection_xr')),
    name          TEXT NOT NULL,
    -- Micrograms per millilitre (liquids) or per unit (tablets, films, injections).
    strength_ug   BIGINT NOT NULL CHECK (strength_ug > 0),
    created_at    BIGINT NOT NULL
);
CREATE INDEX med_product_program ON med_product(program_id);

-- A lot on the shelf. Its balance is kept by the unit of work that moves
-- stock and can never go below zero.
CREATE TABLE stock_lot (
    id            TEXT PRIMARY KEY,
    program_id    TEXT NOT NULL REFERENCES program(id),
    product_id    TEXT NOT NULL REFERENCES med_product(id),
    lot           TEXT NOT NULL,
    expires_on    TEXT,
    balance_ug    BIGINT NOT NULL CHECK (balance_ug >= 0),
    received_at   BIGINT NOT NULL,
    UNIQUE (product_id, lot)
);
CREATE INDEX stock_lot_program ON stock_lot(program_id);

-- Every change of a lot's balance, signed (+ receipt, − dose), append-only.
CREATE TABLE stock_movement (
    id            TEXT PRIMARY KEY,
    lot_id        TEXT NOT NULL REFERENCES stock_lot(id),
    kind          TEXT NOT NULL CHECK (kind IN ('receipt', 'dose', 'take_home', 'waste', 'return', 'count_adjustment')),
    amount_ug     BIGINT NOT NULL CHECK (amount_ug <> 0),
    dose_id       TEXT,
    reason        TEXT,
    witness_id    TEXT REFERENCES staff_user(id),
    at_us         BIGINT NOT NULL,
    by_user       TEXT NOT NULL REFERENCES staff_user(id)
);
CREATE INDEX stock_movement_lot ON stock_movement(lot_id, at_us);

-- A medication order for opioid use disorder. Immutable: a change is a new
-- order that supersedes it (at most one successor each).
CREATE TABLE med_order (
    id               TEXT PRIMARY KEY,
    patient_id       TEXT NOT NULL REFERENCES patient(id),
    program_id       TEXT NOT NULL REFERENCES program(id),
    medication       TEXT NOT NULL CHECK (medication IN ('methadone', 'buprenorphine', 'buprenorphine_naloxone', 'naltrexone')),
    form             TEXT NOT NULL CHECK (form IN ('oral_liquid', 'tablet', 'sublingual_tablet', 'sublingual_film', 'injection_xr')),
    phase            TEXT NOT NULL CHECK (phase IN ('induction', 'titration', 'maintenance', 'taper')),
    dose_ug          BIGINT NOT NULL CHECK (dose_ug > 0),
    doses_per_day    BIGINT NOT NULL CHECK (doses_per_day IN (1, 2)),
    -- For a split order: the first visit's amount (the rest at the second).
    first_dose_ug    BIGINT CHECK (first_dose_ug IS NULL OR first_dose_ug > 0),
    starts_on        TEXT NOT NULL,
    ends_on          TEXT,
    supersedes       TEXT REFERENCES med_order(id),
    engine_check     TEXT NOT NULL,
    override_reason  TEXT,
    verbal           BOOLEAN NOT NULL,
    ordered_by       TEXT NOT NULL REFERENCES staff_user(id),
    ordered_by_name  TEXT NOT NULL,
    prescriber_id    TEXT NOT NULL REFERENCES staff_user(id),
    ordered_at       BIGINT NOT NULL,
    CHECK (doses_per_day = 2 OR first_dose_ug IS NULL),
    CHECK (first_dose_ug IS NULL OR first_dose_ug < dose_ug)
);
CREATE INDEX med_order_patient ON med_order(patient_id, ordered_at);
CREATE UNIQUE INDEX med_order_one_successor ON med_order(supersedes);

-- The prescriber's signature on an order (a verbal order waits for it).
CREATE TABLE med_order_signature (
    order_id     TEXT PRIMARY KEY REFERENCES med_order(id),
    signer_id    TEXT NOT NULL REFERENCES staff_user(id),
    signer_name  TEXT NOT NULL,
    signed_at    BIGINT NOT NULL
);

-- One dose given or handed out. The unique index is the safety invariant:
-- one dose per patient per clinic day per slot (slots 1 and 2 for a split
-- order; exception slots x1, x2… for a documented replacement).
CREATE TABLE dose (
    id            TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL REFERENCES patient(id),
    program_id    TEXT NOT NULL REFERENCES program(id),
    order_id      TEXT NOT NULL REFERENCES med_order(id),
    clinic_day    TEXT NOT NULL,
    slot          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('observed', 'take_home', 'exception', 'back_entry')),
    amount_ug     BIGINT NOT NULL CHECK (amount_ug > 0),
    product_id    TEXT NOT NULL REFERENCES med_product(id),
    lot_id        TEXT NOT NULL REFERENCES stock_lot(id),
    observed      BOOLEAN NOT NULL,
    given_at      BIGINT NOT NULL,
    recorded_at   BIGINT NOT NULL,
    nurse_id      TEXT NOT NULL REFERENCES staff_user(id),
    nurse_name    TEXT NOT NULL,
    late_entry    BOOLEAN NOT NULL,
    reason        TEXT,
    CHECK (kind NOT IN ('exception', 'back_entry') OR reason IS NOT NULL)
);
CREATE UNIQUE INDEX dose_one_per_slot ON dose(patient_id, clinic_day, slot);
CREATE INDEX dose_program_day ON dose(program_id, clinic_day);
CREATE INDEX dose_order ON dose(order_id);

CREATE TRIGGER stock_movement_no_update BEFORE UPDATE ON stock_movement
BEGIN SELECT RAISE(ABORT, 'stock movements are append-only'); END;
CREATE TRIGGER stock_movement_no_delete BEFORE DELETE ON stock_movement
BEGIN SELECT RAISE(ABORT, 'stock movements are never deleted'); END;
CREATE TRIGGER stock_lot_no_delete BEFORE DELETE ON stock_lot
BEGIN SELECT RAISE(ABORT, 'stock lots are never deleted'); END;
CREATE TRIGGER med_order_no_update BEFORE UPDATE ON med_order
BEGIN SELECT RAISE(ABORT, 'orders are immutable: write a new order that supersedes'); END;
CREATE TRIGGER med_order_no_delete BEFORE DELETE ON med_order
BEGIN SELECT RAISE(ABORT, 'orders are never deleted'); END;
CREATE TRIGGER med_order_signature_no_update BEFORE UPDATE ON med_order_signature
BEGIN SELECT RAISE(ABORT, 'signatures are append-only'); END;
CREATE TRIGGER med_order_signature_no_delete BEFORE DELETE ON med_order_signature
BEGIN SELECT RAISE(ABORT, 'signatures are never deleted'); END;
CREATE TRIGGER dose_no_update BEFORE UPDATE ON dose
BEGIN SELECT RAISE(ABORT, 'doses are append-only'); END;
CREATE TRIGGER dose_no_delete BEFORE DELETE ON dose
BEGIN SELECT RAISE(ABORT, 'doses are never deleted'); END;
