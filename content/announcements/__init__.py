"""Announcements: notices targeted at regions, rollout waves or single boxes (`notices`)."""
