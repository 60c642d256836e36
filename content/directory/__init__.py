"""The service directory: organizations and their service points (`points`), the CSV
import/export (`csv_io`), the HSDS export (`hsds`) and the demo directory (`demo`)."""
