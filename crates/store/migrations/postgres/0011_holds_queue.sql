-- Holds on dosing and the window's queue (issue 11).

-- A hold a nurse places at the window after assessing sedation or
-- intoxication (that clinic day), or an administrative hold (until released).
CREATE TABLE dosing_hold (
    id              TEXT PRIMARY KEY,
    patient_id      TEXT NOT NULL REFERENCES patient(id),
    program_id      TEXT NOT NULL REFERENCES program(id),
    kind            TEXT NOT NULL CHECK (kind IN ('sedation', 'intoxication', 'administrative')),
    reason          TEXT NOT NULL CHECK (length(reason) >= 5),
    clinic_day      TEXT NOT NULL,
    placed_by       TEXT NOT NULL REFERENCES staff_user(id),
    placed_by_name  TEXT NOT NULL,
    placed_at       BIGINT NOT NULL
);
CREATE INDEX dosing_hold_patient ON dosing_hold(patient_id, clinic_day);

-- Lifting a hold: once, with a reason.
CREATE TABLE dosing_hold_release (
    hold_id           TEXT PRIMARY KEY REFERENCES dosing_hold(id),
    reason            TEXT NOT NULL CHECK (length(reason) >= 5),
    released_by       TEXT NOT NULL REFERENCES staff_user(id),
    released_by_name  TEXT NOT NULL,
    released_at       BIGINT NOT NULL
);

-- The window's queue: a patient's arrival for a visit of the clinic day …
CREATE TABLE window_queue (
    id          TEXT PRIMARY KEY,
    program_id  TEXT NOT NULL REFERENCES program(id),
    patient_id  TEXT NOT NULL REFERENCES patient(id),
    clinic_day  TEXT NOT NULL,
    visit       BIGINT NOT NULL CHECK (visit >= 1),
    arrived_at  BIGINT NOT NULL,
    by_user     TEXT NOT NULL REFERENCES staff_user(id),
    CONSTRAINT window_queue_one_per_visit UNIQUE (patient_id, clinic_day, visit)
);
CREATE INDEX window_queue_day ON window_queue(program_id, clinic_day, arrived_at);

-- … and the call to a window (once per arrival: two windows never call the
-- same person).
CREATE TABLE window_call (
    queue_id     TEXT PRIMARY KEY REFERENCES window_queue(id),
    window_name  TEXT NOT NULL,
    called_at    BIGINT NOT NULL,
    by_user      TEXT NOT NULL REFERENCES staff_user(id),
    by_name      TEXT NOT NULL
);

CREATE TRIGGER dosing_hold_no_update BEFORE UPDATE ON dosing_hold
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('dosing holds are append-only');
CREATE TRIGGER dosing_hold_no_delete BEFORE DELETE ON dosing_hold
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('dosing holds are never deleted');
CREATE TRIGGER dosing_hold_release_no_update BEFORE UPDATE ON dosing_hold_release
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('hold releases are append-only');
CREATE TRIGGER dosing_hold_release_no_delete BEFORE DELETE ON dosing_hold_release
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('hold releases are never deleted');
CREATE TRIGGER window_queue_no_update BEFORE UPDATE ON window_queue
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('the queue is append-only');
CREATE TRIGGER window_queue_no_delete BEFORE DELETE ON window_queue
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('the queue is never deleted');
CREATE TRIGGER window_call_no_update BEFORE UPDATE ON window_call
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('window calls are append-only');
CREATE TRIGGER window_call_no_delete BEFORE DELETE ON window_call
    FOR EACH ROW EXECUTE FUNCTION carepath_refuse('window calls are never deleted');
