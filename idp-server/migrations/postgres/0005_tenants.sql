-- Tenants as records: the look of the sign-in and consent pages and the scopes a tenant's
-- users and clients may be granted. Users and clients keep naming their tenant by id; an id
-- without a row is a tenant with no look and no restriction.
CREATE TABLE tenants (
    id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    display_name   TEXT,
    logo_url       TEXT,
    allowed_scopes TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
