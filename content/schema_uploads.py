"""Schema for editors' uploads: image dimensions and the original file name on `media`, and
whether a box model decodes WebP (its page images are then sent as WebP renditions)."""

from storage import Migration

MIGRATIONS = [
    Migration(
        "uploads_0001_media_details",
        """
        ALTER TABLE media ADD COLUMN width INTEGER;
        ALTER TABLE media ADD COLUMN height INTEGER;
        ALTER TABLE media ADD COLUMN original_name TEXT NOT NULL DEFAULT ''
        """,
    ),
    Migration(
        "uploads_0002_device_models_webp",
        "ALTER TABLE device_models ADD COLUMN webp INTEGER NOT NULL DEFAULT 0"
        " CHECK (webp IN (0, 1))",
    ),
]
