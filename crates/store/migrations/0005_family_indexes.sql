-- Families of every age are refreshed at any moment, so each index keyed by family alone takes a
-- refresh's write on a random leaf page: one more 4 KiB page in the WAL and in the checkpoint.
-- A family belongs to one grant, and a grant has few families, so tokens are found by family
-- under their grant:
-- * refresh tokens: one index on (grant, family) instead of one on grant and one on family, so a
--   refresh writes one index entry where it wrote two (both random where there are many grants);
-- * access tokens: no family index at all. They live an hour and are purged, so the few that a
--   grant holds are read through its index (the family is a filter on those).
DROP INDEX refresh_tokens_by_family;
DROP INDEX refresh_tokens_by_grant;
CREATE INDEX refresh_tokens_by_grant_family ON refresh_tokens (grant_id, family_id);
DROP INDEX access_tokens_by_family;
