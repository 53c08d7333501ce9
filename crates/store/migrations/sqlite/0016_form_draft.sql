-- What a member of staff typed into a form and has not yet saved: kept when
-- their session ended for inactivity as they pressed Save, or when they
-- chose "Save draft". One per person per form; removed when the form is
-- submitted, discarded, or after seven days. Working copy, not the record:
-- nothing here is clinical until the form is saved.
CREATE TABLE form_draft (
    user_id   TEXT NOT NULL REFERENCES staff_user(id),
    path      TEXT NOT NULL,
    body      TEXT NOT NULL,
    reason    TEXT NOT NULL CHECK (reason IN ('signed_out', 'draft')),
    saved_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, path)
);
CREATE INDEX form_draft_saved ON form_draft(saved_at);
