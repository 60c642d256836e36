"""Legal-education programs: the live tables the TV reads (`live`), what editors write
(`revisions`) and its review and publication (`workflow`), uploads, renditions, title cards and
video, content packages (`package`, `package_import`, `export`) and the editors' preview."""
