-- Organization-wide roles, held apart from the per-program grants in
-- user_role: an organization administrator creates programs and grants or
-- revokes the administrator role in any of them; an organization auditor
-- reads the whole audit trail. A program's administrator or auditor acts
-- only in that program.
CREATE TABLE org_role (
    user_id     TEXT NOT NULL REFERENCES staff_user(id),
    org_id      TEXT NOT NULL REFERENCES organization(id),
    role        TEXT NOT NULL CHECK (role IN ('admin','auditor')),
    granted_at  BIGINT NOT NULL,
    granted_by  TEXT,
    PRIMARY KEY (user_id, org_id, role)
);

-- An installation that had administrators or auditors in every program of
-- its organization keeps them organization-wide (so someone can still
-- create programs and grant the administrator role after the upgrade).
INSERT INTO org_role (user_id, org_id, role, granted_at, granted_by)
SELECT r.user_id, p.org_id, r.role, MAX(r.granted_at), NULL
FROM user_role r JOIN program p ON p.id = r.program_id
WHERE r.role IN ('admin', 'auditor')
GROUP BY r.user_id, p.org_id, r.role
HAVING COUNT(DISTINCT r.program_id) = (SELECT COUNT(*) FROM program q WHERE q.org_id = p.org_id);
