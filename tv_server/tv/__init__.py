"""The household's TV screens under /tv (every URL, and `setup_tv`: `routes.py`)."""
