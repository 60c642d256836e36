"""Appointments at service points: weekly slot patterns with capacity, closed days, bookings made
from the box (drafts, idempotent submission, no overbooking), staff actions and day-before
reminders through the webhook outbox. Imports no aiohttp."""
