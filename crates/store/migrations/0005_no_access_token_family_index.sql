-- Families of every age are refreshed at any moment, so each index keyed by family takes a
-- refresh's write on a random leaf page: one more 4 KiB page in the WAL and in the checkpoint.
-- Access tokens need no such index: a family is revoked through its grant's index (a grant has
-- few families, and its access tokens are short-lived and purged), which the family shares.
DROP INDEX access_tokens_by_family;
