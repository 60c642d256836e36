"""HSDS 3.0 JSON Schemas (Open Referral), shipped so an export can be validated anywhere.

See SOURCE.md for where the files come from and their licence.
"""
