"""The law register and legal re-review (`register`), and what programs cite (`citations`)."""
