-- A rotation updated the old token's row (its `rotated_at`) as well as inserting the successor, and
-- where rotations come in no order of issue that row's page is a random write. Now each token of a
-- family has a generation (0 for the family's first token), and a rotation only inserts the
-- successor as generation + 1:
-- * the unique (grant, family, generation) index makes a lost race a conflict, where the update of
--   the old row's `rotated_at` made it a no-op;
-- * "rotated" is read from the successor's existence: its `created_at` is the old token's
--   rotation time. `rotated_at` stays for the rows rotated before this migration.
-- The family's tokens are numbered in the order they were issued (creation time, then hash, whose
-- first digits are the issue time: migration 0004).
ALTER TABLE refresh_tokens ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
UPDATE refresh_tokens SET generation = (
    SELECT count(*) FROM refresh_tokens earlier
    WHERE earlier.grant_id = refresh_tokens.grant_id
      AND earlier.family_id = refresh_tokens.family_id
      AND (earlier.created_at < refresh_tokens.created_at
           OR (earlier.created_at = refresh_tokens.created_at AND earlier.hash < refresh_tokens.hash)));
DROP INDEX refresh_tokens_by_grant_family;
CREATE UNIQUE INDEX refresh_tokens_by_family_generation
    ON refresh_tokens (grant_id, family_id, generation);
