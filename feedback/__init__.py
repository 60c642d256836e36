"""Households rating a service they got (满意度): one rating per request, whatever its kind
('callback' now, 'appointment' next), and the staff's figures and follow-up list. No aiohttp."""
