"""Schema migrations of the service directory, in application order: the first flat table of
service points, then organizations, the point's organization, coordinates, the region it serves
and a version for optimistic locking (existing points are backfilled into an organization each).
"""

from storage import Migration

# The derived code of a point's own organization: "sp-150602" → "org-150602", "x" → "org-x".
# Kept in step with content.directory.points.own_organization_code.


def _own_org_code(column: str) -> str:
    return (
        f"CASE WHEN substr({column}, 1, 3) = 'sp-' THEN 'org-' || substr({column}, 4)"
        f" ELSE 'org-' || {column} END"
    )


MIGRATIONS = [
    Migration(
        "directory_0001_service_points",
        """
        CREATE TABLE service_points (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN
                ('hotline','city_centre','banner_centre','township_station','village_room')),
            region_code TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            hours TEXT NOT NULL DEFAULT '',
            phone TEXT NOT NULL DEFAULT '',
            phone_is_sample INTEGER NOT NULL DEFAULT 0,
            services TEXT NOT NULL DEFAULT '[]',
            languages TEXT NOT NULL DEFAULT '["zh"]',
            description TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        );
        CREATE INDEX service_points_region ON service_points(region_code)
        """,
        formerly=("content_0002_directory",),
    ),
    Migration(
        "directory_0002_organizations",
        f"""
        CREATE TABLE organizations (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN
                ('hotline','city_centre','banner_centre','township_station','village_room')),
            region_code TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            version INTEGER NOT NULL DEFAULT 1,
            updated_at REAL NOT NULL
        );
        CREATE INDEX organizations_region ON organizations(region_code);
        ALTER TABLE service_points ADD COLUMN organization_id INTEGER REFERENCES organizations(id);
        ALTER TABLE service_points ADD COLUMN latitude REAL;
        ALTER TABLE service_points ADD COLUMN longitude REAL;
        ALTER TABLE service_points ADD COLUMN region_served TEXT NOT NULL DEFAULT '';
        ALTER TABLE service_points ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
        INSERT OR IGNORE INTO organizations (code, name, kind, region_code, description, updated_at)
            SELECT {_own_org_code("code")}, name, kind, region_code, '', updated_at
            FROM service_points ORDER BY id;
        UPDATE service_points SET
            organization_id = (SELECT o.id FROM organizations o
                               WHERE o.code = {_own_org_code("service_points.code")}),
            region_served = region_code;
        CREATE INDEX service_points_organization ON service_points(organization_id)
        """,
        formerly=("directory_0001_organizations",),
    ),
    # Mongolian name and description of a service point, where given (shown on Mongolian boxes).
    Migration(
        "directory_0003_point_names_mn",
        """
        ALTER TABLE service_points ADD COLUMN name_mn TEXT NOT NULL DEFAULT ''
            CHECK (length(name_mn) <= 200);
        ALTER TABLE service_points ADD COLUMN description_mn TEXT NOT NULL DEFAULT ''
            CHECK (length(description_mn) <= 4000)
        """,
    ),
]
